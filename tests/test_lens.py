"""Figures 1 and 7: the logit lens against a brute-force reference, CLD3 token classes, the ratios."""
import pandas as pd
import pytest
import torch
from tinymodels import ARCHS, make_model, random_batch

from mwork.arch import get_adapter
from mwork.lens import NON_WORD, TokenLanguage, language_ratios, lens_stages, lens_top_tokens


def _batch():
    return random_batch(0, (7, 4, 7))  # one left-padded row


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_lens_equals_a_brute_force_decoding_of_every_layer(arch):
    model = make_model(arch)
    ids, att = _batch()
    tops = lens_top_tokens(model, ids, att)
    adapter = get_adapter(model)
    norm, head = adapter.final_norm(), model.get_output_embeddings()
    with torch.no_grad():
        out = model(**adapter.forward_kwargs(ids, att), output_hidden_states=True)
        # the last layer's lens is the model's own next-token prediction
        assert torch.equal(tops[-1], out.logits.argmax(-1))
        # every other layer: its output (hidden_states[i + 1]) through the final norm and the output embedding
        for i in range(adapter.n_layers - 1):
            assert torch.equal(tops[i], head(norm(out.hidden_states[i + 1])).argmax(-1)), f"layer {i}"
    assert tops.shape == (adapter.n_layers, *ids.shape)


def test_lens_last_positions_and_chunking_give_the_same_tokens():
    model = make_model("gemma3_text")
    ids, att = _batch()
    full = lens_top_tokens(model, ids, att)
    assert torch.equal(lens_top_tokens(model, ids, att, chunk_elems=64), full)  # one position per chunk
    assert torch.equal(lens_top_tokens(model, ids, att, last=3), full[:, :, -3:])


@pytest.mark.parametrize("chunk", [64, 1 << 22])
def test_lens_top_k_equals_a_full_vocabulary_topk(chunk):
    model = make_model("llama")
    ids, att = _batch()
    adapter = get_adapter(model)
    norm, head = adapter.final_norm(), model.get_output_embeddings()
    top3 = lens_top_tokens(model, ids, att, top_k=3, chunk_elems=chunk)
    with torch.no_grad():
        out = model(**adapter.forward_kwargs(ids, att), output_hidden_states=True)
        for i in range(adapter.n_layers):
            logits = head(norm(out.hidden_states[i + 1])) if i < adapter.n_layers - 1 else out.logits
            ref = logits.topk(3, dim=-1)
            got = logits.gather(-1, top3[i])
            assert torch.allclose(got, ref.values)  # the same three best values, best first
    assert torch.equal(top3[..., 0], lens_top_tokens(model, ids, att))


def test_lens_removes_its_hooks():
    model = make_model("llama")
    ids, att = _batch()
    adapter = get_adapter(model)
    with torch.no_grad():
        before = model(**adapter.forward_kwargs(ids, att)).logits
        lens_top_tokens(model, ids, att)
        after = model(**adapter.forward_kwargs(ids, att)).logits
    assert torch.equal(before, after)
    assert all(not layer._forward_hooks for layer in adapter.decoder_layers())


def test_token_languages_follow_cld3_and_letterless_tokens_are_non_words():
    tl = TokenLanguage(tokenizer=None)
    assert tl.classify(" the") == "en"
    assert tl.classify("房子") == "zh"
    assert tl.classify("maison") == "fr"
    for text in ("3", " 42", ".", "", "\ufffd", "  "):
        assert tl.classify(text) == NON_WORD


def test_language_ratios_leave_non_words_out():
    df = pd.DataFrame([
        {"layer": 1, "detected": "de", "tokens": 6}, {"layer": 1, "detected": "en", "tokens": 2},
        {"layer": 1, "detected": "fr", "tokens": 2}, {"layer": 1, "detected": NON_WORD, "tokens": 90},
        {"layer": 2, "detected": "en", "tokens": 5}, {"layer": 2, "detected": NON_WORD, "tokens": 5},
    ])
    r = language_ratios(df, "de").set_index("layer")
    assert r.loc[1, "english"] == pytest.approx(0.2) and r.loc[1, "non_english"] == pytest.approx(0.8)
    assert r.loc[1, "query_language"] == pytest.approx(0.6) and r.loc[1, "other"] == pytest.approx(0.2)
    assert r.loc[1, "words"] == 10 and r.loc[1, "non_words"] == 90
    assert r.loc[2, "english"] == 1.0 and r.loc[2, "query_language"] == 0.0
    # among the evaluation languages' words only (fr is not one of them here)
    r = language_ratios(df, "de", among=["en", "de"]).set_index("layer")
    assert r.loc[1, "eval_words"] == 8 and r.loc[1, "english_eval"] == pytest.approx(0.25)
    assert r.loc[1, "query_language_eval"] == pytest.approx(0.75) and r.loc[2, "english_eval"] == 1.0


def _counts(shares):
    """Lens counts: per query language, per layer, (english, own language, other eval language) word counts."""
    rows = []
    for lang, layers in shares.items():
        for layer, (en, own, other) in enumerate(layers, start=1):
            rows += [{"language": lang, "layer": layer, "detected": "en", "tokens": en},
                     {"language": lang, "layer": layer, "detected": LANG_CLD3[lang], "tokens": own},
                     {"language": lang, "layer": layer, "detected": "fr", "tokens": other},
                     {"language": lang, "layer": layer, "detected": NON_WORD, "tokens": 50}]
    return pd.DataFrame(rows)


LANG_CLD3 = {"de": "de", "zh": "zh", "en": "en"}


def test_lens_stages_read_the_english_phase_off_the_lens():
    layers = [(1, 8, 1), (4, 5, 1), (7, 2, 1), (8, 1, 1), (6, 3, 1), (3, 6, 1), (1, 9, 0)]
    df = _counts({"de": layers, "zh": layers, "en": [(9, 9, 0)] * 7})
    out = lens_stages(df, ["en", "de", "zh"], among=["en", "de", "zh", "fr"])
    # English first holds the majority in layer 3 (7 of 10): two understanding layers; the query's language
    # outnumbers English again in the last two layers (6 > 3, 9 > 1) but not in layer 5 (3 < 6)
    assert (out["under"], out["gen"], out["layers"]) == (2, 2, 7) and out["note"] == ""
    assert [r["english"] for r in out["per_layer"]][:3] == pytest.approx([0.1, 0.4, 0.7])


def test_lens_stages_say_why_when_the_lens_shows_no_english_phase():
    df = _counts({"de": [(1, 8, 1)] * 4, "en": [(9, 0, 1)] * 4})
    out = lens_stages(df, ["en", "de"])
    assert out["under"] is None and out["gen"] is None and "never the majority" in out["note"]
    assert "no non-English" in lens_stages(df[df["language"] == "en"], ["en", "de"])["note"]


def test_layer_languages_counts_k_tokens_per_position():
    from tinymodels import tokenizer

    from mwork.lens import layer_languages

    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    texts = ["<3> <4> <5> <6>", "<9> <10>"]
    one = layer_languages(model, tok, texts, batch_size=2)
    two = layer_languages(model, tok, texts, batch_size=2, top_k=2)
    per_layer = lambda df: df.groupby("layer")["tokens"].sum()  # noqa: E731
    assert (per_layer(one) == 6).all() and (per_layer(two) == 12).all()


def test_every_layer_axis_of_the_figures_has_whole_layer_ticks(monkeypatch):
    """Gemma's 18 layers gave Figure 1 ticks at 2.5, 7.5, ...: a layer axis ticks whole layers only
    (Figures 1, 3 and 7)."""
    from mwork import figures

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, paths, **kw: drawn.append(fig))
    layers = list(range(18))
    ratios = pd.DataFrame([{"model": "gemma", "language": lang, "layer": i, "english": 0.5, "non_english": 0.3,
                            "query_language": 0.2} for lang in ("en", "de") for i in layers])
    figures.language_ratio_figure(ratios, [])
    counts = pd.DataFrame([{"model": "gemma", "language": lang, "layer": i, "detected": det, "tokens": 3}
                           for lang in ("en", "de") for i in layers for det in ("en", "de", "non-word")])
    figures.languages_per_layer_figure(counts, [])
    activated = pd.DataFrame([{"structure": s, "set_language": "de", "query_language": q, "layer": i,
                               "activated_share": 0.5, "random": 0.1}
                              for s in ("attn", "ffn") for q in ("de", "en") for i in layers])
    figures.activated_figure(activated, [], "gemma")
    axes = [ax for fig in drawn for ax in fig.axes if ax.get_xlabel() == "layer"]
    assert len(axes) == 1 + 2 + 2
    for fig in drawn:
        fig.canvas.draw()
    for ax in axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks), ticks
