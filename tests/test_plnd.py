"""PLND exactness: the parallel computation equals the definition taken literally, on every architecture."""
import pytest
import torch
from plnd_reference import neuron_importance_sequential
from tinymodels import ARCHS, make_model, random_batch

from mwork.errors import MworkError
from mwork.keys import KINDS
from mwork.plnd import kernel as qk_kernel
from mwork.plnd import neuron_importance, qk_fused

TOL = {"ffn": 1e-4, "attn.v": 1e-4, "attn.q": 1e-3, "attn.k": 1e-3}


def _batch(seed=1, lengths=(11, 7, 9)):
    return random_batch(seed, lengths)


# the fused CPU kernel (mwork.plnd.kernel) and the PyTorch path: both exact (the kernel needs a C compiler)
KERNELS = [pytest.param("fused", marks=pytest.mark.skipif(qk_kernel._build()[0] is None,
                                                         reason="no C compiler: the fused kernel cannot be built")),
           "torch"]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_parallel_equals_sequential_with_padding(arch, kernel):
    model = make_model(arch)
    ids, mask = _batch()
    par = neuron_importance(model, ids, mask, qk_kernel=kernel)
    assert len(par) == 4 * model.config.num_hidden_layers
    for b in range(ids.shape[0]):
        keep = mask[b].bool()
        seq = neuron_importance_sequential(model, ids[b:b + 1, keep])  # each document alone
        for key, ref in seq.items():
            kind = key.split(".", 2)[2]
            p, s = par[key][b], ref[0]
            assert p.dtype == torch.float32 and p.shape == s.shape
            sel = s > 1e-6 * s.max()
            assert sel.sum() > 0.5 * len(s), f"{key}: too few neurons matter to test"
            rel = ((p - s).abs()[sel] / s[sel]).max().item()
            assert rel <= TOL[kind], f"{arch} doc {b} {key}: relative error {rel:.2e}"


def test_sliding_window_and_softcap_matter():
    """The exactness test above would not notice a missing window or soft-cap if they changed nothing."""
    ids, mask = _batch(lengths=(11,))
    base = neuron_importance(make_model("gemma2"), ids, mask, kinds=("attn.q",))
    nocap = neuron_importance(make_model("gemma2", attn_logit_softcapping=None), ids, mask, kinds=("attn.q",))
    nowin = neuron_importance(make_model("mistral", sliding_window=None), ids, mask, kinds=("attn.q",))
    win = neuron_importance(make_model("mistral"), ids, mask, kinds=("attn.q",))
    assert not torch.allclose(base["layers.0.attn.q"], nocap["layers.0.attn.q"], rtol=1e-3)
    assert not torch.allclose(win["layers.0.attn.q"], nowin["layers.0.attn.q"], rtol=1e-3)


def test_chunking_and_kinds_do_not_change_results():
    model = make_model("llama")
    ids, mask = _batch()
    full = neuron_importance(model, ids, mask)
    tiny_chunks = neuron_importance(model, ids, mask, chunk_elems=1)
    ffn_only = neuron_importance(model, ids, mask, kinds=("ffn",))
    assert set(ffn_only) == {k for k in full if k.endswith(".ffn")}
    for k in full:
        torch.testing.assert_close(full[k], tiny_chunks[k], rtol=1e-5, atol=1e-7)
    for k in ffn_only:
        assert torch.equal(full[k], ffn_only[k])


def test_hooks_are_removed_and_logits_unchanged():
    model = make_model("qwen2")
    ids, mask = _batch()
    before = model(input_ids=ids, attention_mask=mask).logits
    neuron_importance(model, ids, mask)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert torch.equal(model(input_ids=ids, attention_mask=mask).logits, before)


def test_unsupported_architecture_is_named():
    import transformers

    cfg = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=32)
    model = transformers.GPT2LMHeadModel(cfg)
    with pytest.raises(MworkError, match=r"architecture 'gpt2' .* not supported.*llama, mistral"):
        neuron_importance(model, torch.tensor([[1, 2, 3]]))


def test_keys_and_shapes():
    model = make_model("mistral")
    out = neuron_importance(model, *_batch())
    assert list(out)[:4] == [f"layers.0.{k}" for k in KINDS]
    assert out["layers.1.ffn"].shape == (3, 64)
    assert out["layers.1.attn.q"].shape == (3, 32) and out["layers.1.attn.k"].shape == (3, 16)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("arch", ["llama", "gemma2", "gemma3_text", "bloom", "mistral"])
def test_long_documents_exercise_the_row_blocks(arch, kernel):
    """Lengths >= 32 split query rows into causal blocks (and exceed the sliding windows)."""
    model = make_model(arch, max_position_embeddings=64)
    ids, mask = _batch(seed=5, lengths=(40, 33))
    par = neuron_importance(model, ids, mask, kinds=("attn.q", "attn.k"), qk_kernel=kernel)
    for b in range(2):
        keep = mask[b].bool()
        seq = neuron_importance_sequential(model, ids[b:b + 1, keep], layers=[1], kinds=("attn.q", "attn.k"))
        for key, ref in seq.items():
            s, p = ref[0], par[key][b]
            sel = s > 1e-6 * s.max()
            assert ((p - s).abs()[sel] / s[sel]).max().item() <= 1e-3, key


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("arch", ["llama", "gemma3_text", "bloom", "qwen2"])
def test_positions_left_out_of_the_score_equal_the_reference(arch, kernel):
    """score_mask (PLND's special tokens left out): the model still sees every position and every neuron is
    still deactivated everywhere, but only the counted positions' changes enter the norm — the same in the
    one-pass computation as in the literal definition, and different from counting every position."""
    model = make_model(arch)
    ids, mask = _batch()
    counted = mask.clone()
    first = mask.argmax(dim=1)  # each document's first token, as a BOS would be
    counted[torch.arange(len(first)), first] = 0
    counted[0, -3] = 0  # and one position inside a document
    par = neuron_importance(model, ids, mask, score_mask=counted, qk_kernel=kernel)
    whole = neuron_importance(model, ids, mask, qk_kernel=kernel)
    seq = neuron_importance_sequential(model, ids, mask, score_mask=counted)
    for key, ref in seq.items():
        kind = key.split(".", 2)[2]
        sel = ref > 1e-6 * ref.max()
        rel = ((par[key] - ref).abs()[sel] / ref[sel]).max().item()
        assert rel <= TOL[kind], f"{arch} {key}: relative error {rel:.2e}"
        assert not torch.allclose(par[key], whole[key], rtol=1e-3), key


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("arch", ["llama", "gemma3_text", "bloom"])
def test_attention_mask_with_holes_equals_the_reference(arch, kernel):
    """Positions masked inside a document (not only padding at its start): masked keys then lie inside a
    query's visible range, so the mask must still be applied there (a causal/padding mask alone needs none)."""
    model = make_model(arch)
    ids, mask = _batch()
    holed = mask.clone()
    holed[0, -5] = holed[0, -4] = 0
    holed[2, -2] = 0
    par = neuron_importance(model, ids, holed, qk_kernel=kernel)
    seq = neuron_importance_sequential(model, ids, holed, kinds=("attn.q", "attn.k"))
    plain = neuron_importance(model, ids, mask, kinds=("attn.q", "attn.k"), qk_kernel=kernel)
    for key, ref in seq.items():
        sel = ref > 1e-6 * ref.max()
        rel = ((par[key] - ref).abs()[sel] / ref[sel]).max().item()
        assert rel <= 1e-3, f"{arch} {key}: relative error {rel:.2e}"
        assert not torch.allclose(par[key][0], plain[key][0], rtol=1e-3), key


@pytest.mark.parametrize("kernel", KERNELS)
def test_blocks_of_heads_across_key_value_groups(kernel):
    """6 query heads in 2 key/value groups, 2 heads per block: the middle block spans both groups."""
    model = make_model("llama", num_attention_heads=6, num_key_value_heads=2, hidden_size=48)
    ids, mask = _batch()
    b, l = ids.shape
    par = neuron_importance(model, ids, mask, kinds=("attn.q", "attn.k"), chunk_elems=2 * b * l * l, qk_kernel=kernel)
    seq = neuron_importance_sequential(model, ids, mask, kinds=("attn.q", "attn.k"))
    for key, ref in seq.items():
        sel = ref > 1e-6 * ref.max()
        assert ((par[key] - ref).abs()[sel] / ref[sel]).max().item() <= 1e-3, key


def test_the_mask_is_left_out_only_where_a_row_has_no_holes(monkeypatch):
    """Causal and padding masks: every key a row reads is visible, so the kernel gets no mask to add (Badd is
    None even with q/k norms); a mask with holes must reach it."""
    if qk_kernel._build()[0] is None:
        pytest.skip("no C compiler: the fused kernel cannot be built")
    seen = []
    real = qk_fused.rows_sq_diff
    monkeypatch.setattr(qk_fused, "rows_sq_diff", lambda *a, **k: seen.append(k.get("Badd")) or real(*a, **k))
    model = make_model("gemma3_text")
    ids, mask = _batch()
    neuron_importance(model, ids, mask, kinds=("attn.q",), qk_kernel="fused")
    assert seen and all(x is None for x in seen)
    seen.clear()
    holed = mask.clone()
    holed[0, -4] = 0
    neuron_importance(model, ids, holed, kinds=("attn.q",), qk_kernel="fused")
    assert seen and all(x is not None for x in seen)
