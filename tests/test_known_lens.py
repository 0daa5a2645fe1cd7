"""Figure 1 from known answer tokens: lens probabilities against a brute-force softmax of every layer,
the items that cannot tell two answers apart, and the paired intervals."""
import pandas as pd
import pytest
import torch
from tinymodels import make_model, random_batch, tokenizer

from mwork.arch import get_adapter
from mwork.known_lens import (
    aligned_items,
    exclusion,
    first_tokens,
    known_token_lens,
    lens_probabilities,
    summarize_known,
)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma2", "gemma3_text"])
def test_lens_probabilities_equal_a_brute_force_softmax_of_every_layer(arch):
    model = make_model(arch, final_logit_softcapping=3.0) if arch == "gemma2" else make_model(arch)
    ids, att = random_batch(0, (7, 4, 7))
    sets = [[[5], [6, 9]], [[2, 3], [40]], [[63], [5]]]
    probs = lens_probabilities(model, ids, att, sets, chunk_elems=50)  # several vocabulary slices
    adapter = get_adapter(model)
    norm, head = adapter.final_norm(), model.get_output_embeddings()
    with torch.no_grad():
        out = model(**adapter.forward_kwargs(ids, att), output_hidden_states=True)
        for layer in range(adapter.n_layers):
            z = head(norm(out.hidden_states[layer + 1][:, -1])).double()
            if layer == adapter.n_layers - 1:  # the last layer's lens is the model's own prediction
                z = out.logits[:, -1].double()
            elif getattr(model.config, "final_logit_softcapping", None):
                cap = model.config.final_logit_softcapping
                z = torch.tanh(z / cap) * cap
            p = z.softmax(-1)
            want = torch.tensor([[float(p[b, s].sum()) for s in sets[b]] for b in range(3)], dtype=torch.float64)
            torch.testing.assert_close(probs[layer], want, rtol=1e-5, atol=1e-7)
    assert probs.shape == (adapter.n_layers, 3, 2)


def _xquad(lang, qid, answer):
    return {"id": qid, "context": "<3> <4> <5>", "question": "<6>", "answers": {"text": [answer], "answer_start": [0]}}


def test_items_that_cannot_tell_the_answers_apart_are_left_out_and_counted():
    tok = tokenizer()
    assert first_tokens(tok, "<7> <8>") == [7]
    assert exclusion(tok, "1990", "1990") == "number" and exclusion(tok, "Berlin", "berlin") == "spelled alike"
    assert exclusion(tok, "<7> <8>", "<7> <9>") == "same first token" and exclusion(tok, "<7>", "<8>") is None
    items = {"en": [_xquad("en", f"q{i}", f"<{10 + i}>") for i in range(6)],
             "de": [_xquad("de", f"q{i}", f"<{30 + i}>") for i in range(5)] + [_xquad("de", "q5", "<15> <9>"),
                                                                                _xquad("de", "x", "<40>")]}
    kept, left_out = aligned_items(items, tok)
    assert [r["id"] for r in kept["de"]] == [f"q{i}" for i in range(5)]
    assert left_out["de"] == {"same first token": 1, "no English item": 1} and left_out["en"] == {}
    assert kept["de"][2]["english"] == "<12>" and kept["en"][2]["english"] == "<12>"
    sample, _ = aligned_items(items, tok, n_items=3, seed=1)
    assert [r["id"] for r in sample["en"]] == [r["id"] for r in sample["de"]] and len(sample["de"]) == 3


def test_known_token_lens_reads_the_prompt_end_and_english_is_its_own_control():
    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    items = {"en": [_xquad("en", f"q{i}", f"<{10 + i}>") for i in range(3)],
             "de": [_xquad("de", f"q{i}", f"<{30 + i}>") for i in range(3)]}
    kept, _ = aligned_items(items, tok)
    df = known_token_lens(model, tok, kept, batch_size=2)
    assert len(df) == 2 * 3 * 2 and set(df["layer"]) == {1, 2}
    en = df[df["language"] == "en"]
    assert (en["p_lang"] == en["p_en"]).all()  # English queries: both answers are the English one
    assert ((df["p_lang"] > 0) & (df["p_lang"] < 1)).all()
    df.insert(0, "model", "m")
    summary = summarize_known(df, n_boot=200)
    assert set(summary.columns) >= {"p_lang", "p_lang_lo", "p_en_hi", "diff", "english_dominant", "n_items"}
    row = summary[(summary["language"] == "de") & (summary["layer"] == 2)].iloc[0]
    assert row["p_lang_lo"] <= row["p_lang"] <= row["p_lang_hi"] and row["n_items"] == 3
    assert not summary[summary["language"] == "en"]["english_dominant"].any()


def test_english_dominance_needs_the_interval_above_zero():
    rows = [{"model": "m", "language": "de", "id": i, "layer": 1, "p_lang": 0.1, "p_en": 0.5 + 0.01 * i}
            for i in range(20)]
    rows += [{"model": "m", "language": "de", "id": i, "layer": 2, "p_lang": 0.3, "p_en": 0.3 + (0.2 if i % 2 else -0.2)}
             for i in range(20)]
    s = summarize_known(pd.DataFrame(rows), n_boot=300).set_index("layer")
    assert s.loc[1, "english_dominant"] and not s.loc[2, "english_dominant"]
    assert s.loc[2, "diff_lo"] < 0 < s.loc[2, "diff_hi"]
    # an interval above 0 where neither answer is decodable is not called English
    tiny = pd.DataFrame(rows).assign(p_lang=lambda d: d["p_lang"] * 1e-4, p_en=lambda d: d["p_en"] * 1e-4)
    assert summarize_known(tiny, n_boot=300).set_index("layer").loc[1, "english_dominant"]
    assert not summarize_known(tiny, n_boot=300, min_prob=0.01).set_index("layer").loc[1, "english_dominant"]


def _summary(per_layer):
    """summarize_known-like rows: per layer, (p_lang, p_en, diff_lo) of two non-English languages and en."""
    rows = []
    for layer, (p_lang, p_en, lo) in enumerate(per_layer, 1):
        for lang in ("de", "zh"):
            rows.append({"model": "m", "language": lang, "layer": layer, "p_lang": p_lang, "p_en": p_en,
                         "diff_lo": lo})
        rows.append({"model": "m", "language": "en", "layer": layer, "p_lang": p_en, "p_en": p_en, "diff_lo": 0.0})
    return pd.DataFrame(rows)


def test_known_stages_read_the_english_dominant_layers():
    from mwork.known_lens import known_stages

    # layers 1-2: nothing decodable (English ahead, but below min_prob); 3-4 English; 5 undecided; 6-7 own
    s = known_stages(_summary([(1e-5, 2e-5, 1e-6), (1e-4, 5e-3, 1e-3), (0.02, 0.2, 0.1), (0.05, 0.3, 0.2),
                               (0.2, 0.2, -0.1), (0.4, 0.1, -0.35), (0.6, 0.05, -0.6)]), min_prob=0.01)
    assert (s["under"], s["gen"], s["layers"]) == (2, 2, 7) and "min_prob" in s["rule"]
    assert s["per_layer"][2]["english_dominant_languages"] == 2
    none = known_stages(_summary([(0.1, 0.05, -0.1)] * 4))
    assert none["under"] is None and "no English-centred" in none["note"]


def test_stages_from_the_known_lens_need_xquad(tmp_path, root):
    import yaml

    from mwork.config import layered, load_config
    from mwork.errors import MworkError

    base = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    real = layered(base, yaml.safe_load((root / "configs" / "real.yaml").read_text(encoding="utf-8")))
    real["models"]["qwen"]["task_data"] = "suites"
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(real), encoding="utf-8")
    with pytest.raises(MworkError, match=r"config\.lens\.stages_from: known reads qwen's stages .*needs XQuAD"):
        load_config(p)
    real["models"]["qwen"]["task_data"] = {"understanding": "files", "default": "suites"}
    real["lens"]["known"]["models"] = ["gemma"]
    p.write_text(yaml.safe_dump(real), encoding="utf-8")
    with pytest.raises(MworkError, match=r"config\.lens\.known\.models: 'qwen' takes its stages"):
        load_config(p)
