"""Evaluation engines (eval.engine): continuous batching and bfloat16 give the reference's generations on a
tiny model, deactivation in each engine equals the same engine's zeroed weights, and the config is checked."""
import pytest
import torch
from tinymodels import make_model, tokenizer

from mwork.errors import MworkError
from mwork.evaluate import engine_cast, engine_of, generate, run_task
from mwork.masking import deactivate, zeroed_copy

PROMPTS = ["<3> <4> <5>", "<9>", "<7> <7> <7> <7> <7> <8>", "<12> <40> <2> <33>", "<5> <6>", "<20> <21> <22>"]


def _setup(arch="qwen2"):
    model, tok = make_model(arch), tokenizer()
    tok.pad_token = "<0>"
    return model, tok


def _neurons(model, seed=2):
    from mwork.arch import get_adapter

    g = torch.Generator().manual_seed(seed)
    return {f"layers.{layer}.{kind}": torch.rand(n, generator=g) < 0.25
            for layer in range(model.config.num_hidden_layers) for kind, n in get_adapter(model).sizes().items()}


def test_engine_config_defaults_and_errors():
    assert engine_of(None) == {"batching": "static", "dtype": "model", "draft": "none"}
    assert engine_of({"batching": "continuous"}) == {"batching": "continuous", "dtype": "model", "draft": "none"}
    with pytest.raises(MworkError, match=r"eval.engine.batching: 'paged' is not one of static, continuous"):
        engine_of({"batching": "paged"})
    with pytest.raises(MworkError, match=r"eval.engine.dtype: 'int4'"):
        engine_of({"dtype": "int4"})
    with pytest.raises(MworkError, match=r"eval.engine: unknown key\(s\) \['threads'\]"):
        engine_of({"threads": 2})


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_continuous_batching_gives_the_static_generations(arch):
    model, tok = _setup(arch)
    static = generate(model, tok, PROMPTS, max_new_tokens=6, batch_size=4, progress=False)
    cont = generate(model, tok, PROMPTS, max_new_tokens=6, batch_size=4, progress=False, batching="continuous")
    assert cont == static and all(static)
    assert model.config._attn_implementation == "sdpa"  # switched back after continuous batching
    stop = static[0].split()[1]
    assert generate(model, tok, PROMPTS[:1], 6, stop=[stop], progress=False, batching="continuous") == \
        generate(model, tok, PROMPTS[:1], 6, stop=[stop], progress=False)


@pytest.mark.parametrize("batching,dtype", [("continuous", "float32"), ("static", "bfloat16"),
                                            ("continuous", "bfloat16")])
def test_deactivation_in_each_engine_equals_that_engines_zeroed_weights(batching, dtype):
    model, tok = _setup()
    neurons = _neurons(model)
    zeroed = engine_cast(zeroed_copy(model, neurons), {"dtype": dtype})
    engine_cast(model, {"batching": batching, "dtype": dtype})
    assert next(model.parameters()).dtype == getattr(torch, dtype)
    plain = generate(model, tok, PROMPTS, 6, batch_size=4, progress=False, batching=batching)
    with deactivate(model, neurons):
        masked = generate(model, tok, PROMPTS, 6, batch_size=4, progress=False, batching=batching)
    ref = generate(zeroed, tok, PROMPTS, 6, batch_size=4, progress=False, batching=batching)
    assert masked == ref and masked != plain
    assert generate(model, tok, PROMPTS, 6, batch_size=4, progress=False, batching=batching) == plain  # restored


def test_scores_record_the_engine():
    from mwork.tasks.suites import generate_suites

    model, tok = _setup("llama")
    recs = generate_suites(["en"], 0, {"default": 1}, 3, 6)["generation"]["en"]["test"]
    engine_cast(model, {"dtype": "bfloat16"})
    out, rows = run_task(model, tok, model_name="m", task="generation", lang="en", setting="original",
                         source="suites", records=recs, generation={"max_new_tokens": 4}, batch_size=2, n_items=3,
                         chat_template=False, seed=0, engine={"batching": "continuous", "dtype": "bfloat16"})
    assert out["settings"]["engine"] == {"batching": "continuous", "dtype": "bfloat16", "draft": "none", "ran_in": "bfloat16"}
    assert len(rows) == out["n_items"] == len(recs)


def test_varlen_attention_is_each_sequences_own_causal_attention():
    """Packed sequences (a prefill chunk after a cached past, a decode step, a fresh prompt), grouped-query
    heads: each query attends over its own sequence's keys up to its position, as written out per sequence."""
    from mwork.evaluate import varlen_attention

    g = torch.Generator().manual_seed(0)
    q_lens, k_lens, heads, kv_heads, d = [3, 1, 4], [7, 5, 4], 4, 2, 8
    query = torch.randn(1, heads, sum(q_lens), d, generator=g)
    key = torch.randn(1, kv_heads, sum(k_lens), d, generator=g)
    value = torch.randn(1, kv_heads, sum(k_lens), d, generator=g)
    cu_q = torch.tensor([0, *torch.tensor(q_lens).cumsum(0).tolist()], dtype=torch.int32)
    cu_k = torch.tensor([0, *torch.tensor(k_lens).cumsum(0).tolist()], dtype=torch.int32)
    out, _ = varlen_attention(None, query, key, value, None, scaling=0.3, cu_seq_lens_q=cu_q, cu_seq_lens_k=cu_k)
    assert out.shape == (1, sum(q_lens), heads, d)
    for i, (nq, nk) in enumerate(zip(q_lens, k_lens)):
        for j in range(nq):
            row = cu_q[i] + j
            visible = nk - nq + j + 1  # the query is the (nk - nq + j)-th key of its sequence
            for h in range(heads):
                k = key[0, h // (heads // kv_heads), cu_k[i]:cu_k[i] + visible]
                v = value[0, h // (heads // kv_heads), cu_k[i]:cu_k[i] + visible]
                w = torch.softmax(query[0, h, row] @ k.T * 0.3, dim=-1)
                torch.testing.assert_close(out[0, row, h], w @ v, rtol=1e-5, atol=1e-6)


def test_continuous_batching_refuses_windowed_attention():
    model, tok = _setup("gemma3_text")
    with pytest.raises(MworkError, match="continuous is not supported for gemma3_text .*sliding-window.*"
                                         "batching: static"):
        generate(model, tok, PROMPTS[:1], 2, progress=False, batching="continuous")


def test_bfloat16_cast_keeps_rotary_frequencies_in_float32():
    model, _ = _setup("qwen2")
    before = {n: b.clone() for n, b in model.named_buffers() if n.endswith("inv_freq")}
    assert before
    engine_cast(model, {"dtype": "bfloat16"})
    after = dict(model.named_buffers())
    assert all(after[n].dtype == torch.float32 and torch.equal(after[n], b) for n, b in before.items())
    assert all(p.dtype == torch.bfloat16 for p in model.parameters())


def test_a_failure_inside_continuous_batching_is_an_error_not_empty_answers():
    model, tok = _setup("qwen2")

    def broken(mod, args):
        raise RuntimeError("a broken hook")

    handle = model.model.layers[0].mlp.register_forward_pre_hook(broken)
    try:
        with pytest.raises(MworkError, match="continuous batching: 2 of 2 generations failed.*a broken hook"):
            generate(model, tok, PROMPTS[:2], 3, progress=False, batching="continuous")
    finally:
        handle.remove()
