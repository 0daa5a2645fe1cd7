"""Deactivation hooks: exact equivalence with zeroed weights, bit-identity when empty, generation works."""
import pytest
import torch
from tinymodels import ARCHS, make_model

from mwork.errors import MworkError
from mwork.masking import deactivate, zeroed_copy


def _some_neurons(model, seed=0):
    from mwork.arch import get_adapter

    g = torch.Generator().manual_seed(seed)
    sizes = get_adapter(model).sizes()
    out = {}
    for layer in range(model.config.num_hidden_layers):
        for kind, n in sizes.items():
            out[f"layers.{layer}.{kind}"] = torch.rand(n, generator=g) < 0.2
    out["layers.0.attn.q"] = torch.tensor([0, 3, 5])  # index form too
    return out


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_hooks_equal_zeroed_weights_and_empty_is_identity(arch):
    model = make_model(arch)
    ids = torch.randint(2, 64, (2, 9), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    with torch.no_grad():
        base = model(input_ids=ids, attention_mask=mask).logits
        empty = {k: torch.zeros_like(v) if v.dtype == torch.bool else v[:0] for k, v in _some_neurons(model).items()}
        with deactivate(model, empty):
            empty = model(input_ids=ids, attention_mask=mask).logits
        assert torch.equal(base, empty)  # no hook registered: bit-identical
        neurons = _some_neurons(model)
        with deactivate(model, neurons):
            hooked = model(input_ids=ids, attention_mask=mask).logits
        ref = zeroed_copy(model, neurons)(input_ids=ids, attention_mask=mask).logits
        torch.testing.assert_close(hooked, ref, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(hooked, base)
        assert torch.equal(model(input_ids=ids, attention_mask=mask).logits, base)  # restored on exit


@pytest.mark.parametrize("arch", ["llama", "gemma3_text", "bloom"])
def test_generation_with_kv_cache_under_deactivation(arch):
    model = make_model(arch)
    neurons = _some_neurons(model, seed=1)
    ids = torch.randint(2, 64, (2, 6), generator=torch.Generator().manual_seed(4))
    with torch.no_grad(), deactivate(model, neurons):
        out = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=0)
    ref = zeroed_copy(model, neurons).generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert torch.equal(out, ref)


def test_hooks_removed_on_exception_and_bad_keys():
    model = make_model("llama")
    with pytest.raises(RuntimeError):
        with deactivate(model, {"layers.0.ffn": torch.tensor([1, 2])}):
            raise RuntimeError
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    with pytest.raises(MworkError, match="not of the form"):
        with deactivate(model, {"layer0.ffn": torch.tensor([1])}):
            pass
    with pytest.raises(MworkError, match="the model has 2 layers"):
        with deactivate(model, {"layers.5.ffn": torch.tensor([1])}):
            pass
    with pytest.raises(MworkError, match="64 neurons"):
        with deactivate(model, {"layers.0.ffn": torch.zeros(10, dtype=torch.bool)}):
            pass
