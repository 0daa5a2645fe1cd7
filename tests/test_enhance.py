"""Enhancement: training only a language's neurons, through delta slices added by hooks."""
import copy

import pytest
import torch
from tinymodels import make_model, random_batch

from mwork.arch import get_adapter
from mwork.deltas import build_slices, load_deltas, merge_deltas, n_trainable, save_deltas, with_deltas
from mwork.enhance import random_like, train
from mwork.errors import MworkError

ARCHS = ["llama", "qwen2", "gemma3_text", "gpt_neox", "bloom"]


def _neurons(model, seed=0, p=0.2):
    adapter = get_adapter(model)
    g = torch.Generator().manual_seed(seed)
    return {f"layers.{i}.{k}": torch.rand(n, generator=g) < p
            for i in range(adapter.n_layers) for k, n in adapter.sizes().items()}


def _logits(model, ids, att):
    with torch.no_grad():
        return model(**get_adapter(model).forward_kwargs(ids, att)).logits


@pytest.mark.parametrize("arch", ARCHS)
def test_deltas_are_the_merged_weights_and_zero_deltas_change_nothing(arch):
    model = make_model(arch)
    ids, att = random_batch(1)
    base = _logits(model, ids, att)
    slices = build_slices(model, _neurons(model))
    with with_deltas(model, slices):
        assert torch.equal(_logits(model, ids, att), base)  # zero deltas: bit-identical
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for s in slices:
            for p in s.params():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    with with_deltas(model, slices):
        hooked = _logits(model, ids, att)
    assert torch.equal(_logits(model, ids, att), base)  # hooks removed on exit
    merged = copy.deepcopy(model)
    merge_deltas(build_and_copy(merged, slices))
    assert not torch.allclose(hooked, base) and torch.allclose(_logits(merged, ids, att), hooked, atol=1e-4, rtol=1e-4)


def build_and_copy(model, slices):
    """The same slices attached to another copy of the model."""
    neurons = {s.key: s.neurons for s in slices}
    other = build_slices(model, neurons)
    with torch.no_grad():
        for a, b in zip(other, slices):
            assert a.name == b.name
            for pa, pb in zip(a.params(), b.params()):
                pa.copy_(pb)
    return other


def test_trainable_parameters_are_the_neurons_slices():
    model = make_model("qwen2")  # separate q/k/v with biases, gated MLP
    d = model.config.hidden_size
    neurons = {"layers.0.ffn": torch.tensor([1, 5, 7]), "layers.1.attn.k": torch.tensor([0, 3])}
    slices = build_slices(model, neurons)
    assert sorted(s.name for s in slices) == ["layers.0.ffn.down", "layers.0.ffn.gate_proj", "layers.0.ffn.up_proj",
                                              "layers.1.attn.k"]
    assert n_trainable(slices) == 3 * (d + d + d) + 2 * (d + 1)  # gate row, up row, down column; k row + bias
    with pytest.raises(MworkError, match="the neuron set is empty"):
        build_slices(model, {"layers.0.ffn": torch.zeros(64, dtype=torch.bool)})


@pytest.mark.parametrize("arch", ["llama", "gpt_neox"])
def test_training_changes_only_the_selected_slices_and_saved_deltas_reproduce_it(arch, tmp_path):
    model = make_model(arch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    neurons = _neurons(model, seed=1)
    slices = build_slices(model, neurons)
    batches = [random_batch(5, (12, 12, 9))] * 6  # one batch again and again: its loss must fall
    losses = train(model, slices, batches, lr=3e-2, weight_decay=0.1, seed=0, progress=False)["loss"]
    assert len(losses) == 6 and losses[-1] < losses[0]
    # the base model is untouched and got no gradient; only the deltas trained
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    ids, att = random_batch(7)
    with with_deltas(model, slices):
        trained = _logits(model, ids, att)
    # merged into the weights: exactly the selected slices change
    merged = copy.deepcopy(model)
    merge_deltas(build_and_copy(merged, slices))
    changed = {k for k, v in merged.state_dict().items() if not torch.equal(v, before[k])}
    touched = {}  # module -> mask of the elements some slice trains (q, k and v share a fused module)
    for sl in build_and_copy(merged, slices):
        m = touched.setdefault(id(sl.module), (sl.module, torch.zeros_like(sl.module.weight, dtype=torch.bool)))[1]
        if sl.axis == "row":
            m[sl.index] = True
        else:
            m[:, sl.index] = True
    assert changed == {_param_name(merged, mod) for mod, _ in touched.values()} | {
        _param_name(merged, mod).replace(".weight", ".bias") for mod, _ in touched.values()
        if mod.bias is not None and _param_name(merged, mod).replace(".weight", ".bias") in changed}
    for mod, inside in touched.values():
        w, w0 = mod.weight, before[_param_name(merged, mod)]
        assert torch.equal(w[~inside], w0[~inside]) and not torch.equal(w[inside], w0[inside])
    # saved and applied to a freshly loaded base model: the trained model's logits
    path = tmp_path / "de.delta.safetensors"
    save_deltas(str(path), slices, {"base_model": arch, "base_fingerprint": "abc", "language": "de"})
    fresh = make_model(arch)
    loaded = load_deltas(str(path), fresh, fingerprint="abc")
    with with_deltas(fresh, loaded):
        assert torch.equal(_logits(fresh, ids, att), trained)
    with pytest.raises(MworkError, match="trained on base model .* not this one"):
        load_deltas(str(path), fresh, fingerprint="other")


def _param_name(model, module):
    return next(f"{n}.weight" for n, m in model.named_modules() if m is module)


def test_clipping_sees_only_the_slices():
    """The clip norm is the slices' gradient norm, not the whole model's (the released code clipped the
    full gradient and masked it afterwards, so frozen parameters counted)."""
    model = make_model("llama")
    neurons = _neurons(model, seed=2)
    ids, att = random_batch(0)
    labels = ids.masked_fill(att == 0, -100)
    ref = build_slices(model, neurons)
    for p in model.parameters():
        p.requires_grad_(True)
    with with_deltas(model, ref):
        model(**get_adapter(model).forward_kwargs(ids, att), labels=labels).loss.backward()
    slices_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for s in ref for p in s.params()]))
    full_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    model.zero_grad(set_to_none=True)
    got = train(model, build_slices(model, neurons), [(ids, att)], lr=1e-3, max_grad_norm=1e-6, seed=0,
                progress=False)["grad_norm"][0]
    assert got == pytest.approx(float(slices_norm), rel=1e-5) and full_norm > 2 * slices_norm


def test_random_control_matches_counts_per_layer_and_kind():
    model = make_model("llama")
    sizes = get_adapter(model).sizes()
    neurons = _neurons(model, seed=4)
    rnd = random_like(neurons, sizes, seed=0)
    assert {k: int(v.sum()) for k, v in rnd.items()} == {k: int(v.sum()) for k, v in neurons.items()}
    assert any(not torch.equal(rnd[k], neurons[k]) for k in neurons)
    assert all(torch.equal(a, b) for a, b in zip(rnd.values(), random_like(neurons, sizes, seed=0).values()))


def test_lora_baseline_matches_the_parameter_count_and_trains():
    from mwork.deltas import lora_model
    from mwork.enhance import lora_rank, train_lora

    model = make_model("llama")
    slices = build_slices(model, _neurons(model, seed=5, p=0.5))
    n = n_trainable(slices)
    rank = lora_rank(model, n)
    peft_model = lora_model(copy.deepcopy(model), rank)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    per_rank = trainable // rank
    assert abs(trainable - n) <= per_rank / 2 + 1  # the closest rank
    ids, att = random_batch(5, (12, 12, 9))
    before = _logits(model, ids, att)
    losses = train_lora(peft_model, [(ids, att)] * 5, lr=3e-2, progress=False)["loss"]
    assert losses[-1] < losses[0]
    with torch.no_grad():
        tuned = peft_model(**get_adapter(model).forward_kwargs(ids, att)).logits
    merged = peft_model.merge_and_unload()
    assert torch.allclose(_logits(merged, ids, att), tuned, atol=1e-4) and not torch.allclose(tuned, before)


def test_the_grid_of_tunings_per_language():
    from mwork.config import enhance_grid
    from mwork.names import Variant

    spec = {"sizes": {"default": [100, 400, 800], "zh": [100], "sw": []}, "control_size": 400, "random_seeds": 2,
            "lora": True}
    assert [v.name for v in enhance_grid(spec, "de")] == ["lang-100", "lang-400", "lang-800", "random-400-s0",
                                                          "random-400-s1", "lora-400"]
    assert [v.name for v in enhance_grid(spec, "zh")] == ["lang-100"]  # no control size: no controls
    assert enhance_grid(spec, "sw") == []
    assert [v.name for v in enhance_grid({**spec, "sizes": [400], "lora": False, "random_seeds": 0}, "th")] == ["lang-400"]
    for name in ("lang-100", "random-400-s2", "lora-400"):
        assert Variant.parse(name).name == name
    with pytest.raises(MworkError, match="expected lang-<n>"):
        Variant.parse("lang-x")


@pytest.mark.parametrize("kind", ["neurons", "lora"])
def test_a_delta_file_applied_to_a_fresh_base_is_the_tuned_model(kind, tmp_path):
    """``apply_delta`` (what a model entry with a delta loads): the saved neuron slices or LoRA adapter merged
    into a freshly built base give the tuned model's logits, the tuned model's fingerprint is not its base's,
    and a delta trained on another base is refused."""
    import json

    from safetensors.torch import save_file

    from mwork.deltas import apply_delta, lora_model
    from mwork.enhance import lora_rank, train_lora
    from mwork.fingerprint import model_fingerprint

    model = make_model("llama")
    fingerprint = model_fingerprint(model)
    slices = build_slices(model, _neurons(model, seed=6))
    batches = [random_batch(5, (12, 12, 9))] * 4
    ids, att = random_batch(8)
    path = tmp_path / f"{kind}.safetensors"
    meta = {"base_model": "llama", "base_fingerprint": fingerprint, "language": "de"}
    if kind == "neurons":
        train(model, slices, batches, lr=3e-2, seed=0, progress=False)
        with with_deltas(model, slices):
            tuned = _logits(model, ids, att)
        save_deltas(str(path), slices, meta)
    else:
        from peft import get_peft_model_state_dict

        rank = lora_rank(model, n_trainable(slices))
        peft_model = lora_model(copy.deepcopy(model), rank)
        train_lora(peft_model, batches, lr=3e-2, progress=False)
        with torch.no_grad():
            tuned = peft_model(**get_adapter(model).forward_kwargs(ids, att)).logits
        state = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
        save_file(state, str(path), metadata={"mwork": json.dumps({**meta, "lora_rank": rank})})
    fresh = make_model("llama")
    assert model_fingerprint(fresh) == fingerprint
    base_logits = _logits(fresh, ids, att)
    applied = apply_delta(fresh, str(path))
    got = _logits(applied, ids, att)
    assert torch.allclose(got, tuned, atol=1e-4, rtol=1e-4) and not torch.allclose(got, base_logits, atol=1e-3)
    assert model_fingerprint(applied) != fingerprint
    with pytest.raises(MworkError, match="not this one"):
        apply_delta(make_model("qwen2"), str(path))
