import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file
from tinymodels import make_model, tokenizer

from mwork.errors import MworkError
from mwork.fingerprint import model_fingerprint
from mwork.neuron_sets import neuron_summary, overlap_matrix, overlap_ratio, per_layer_counts, structure_sets
from mwork.neurons import Scoring, Selector, detect, load_neurons, save_neurons


def test_topk_intersection_counts_documents():
    sel = Selector(top_k={"attn": 2, "ffn": 0.25}, min_doc_fraction=1.0)
    # 3 documents, 8 FFN neurons: neuron 7 is in every document's top 2, neuron 6 in two of three
    ffn = torch.tensor([[0, 0, 0, 0, 0, 0, 5.0, 9.0], [0, 0, 0, 0, 0, 3.0, 0, 9.0], [0, 0, 0, 0, 0, 0, 4.0, 9.0]])
    sel.update({"layers.0.ffn": ffn[:2]})
    sel.update({"layers.0.ffn": ffn[2:]})  # streaming in two batches
    out = sel.result()
    assert out["layers.0.ffn"].nonzero().flatten().tolist() == [7]
    assert out["layers.0.ffn.count"].tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    torch.testing.assert_close(out["layers.0.ffn.mean"][7], torch.tensor(9.0))
    loose = Selector(top_k={"attn": 2, "ffn": 0.25}, min_doc_fraction=0.6)
    loose.update({"layers.0.ffn": ffn})
    assert loose.result()["layers.0.ffn"].nonzero().flatten().tolist() == [6, 7]


def test_threshold_is_eq2():
    sel = Selector(method="threshold", epsilon=1.0)
    sel.update({"layers.0.attn.q": torch.tensor([[2.0, 0.5, 1.0], [1.5, 3.0, 1.0]])})
    assert sel.result()["layers.0.attn.q"].tolist() == [True, False, True]
    with pytest.raises(MworkError, match="epsilon"):
        Selector(method="threshold")
    with pytest.raises(MworkError, match="selection.method"):
        Selector(method="vote")


def test_detect_streams_and_counts_truncation():
    model, tok = make_model("llama"), tokenizer()
    texts = [" ".join(f"<{(i * 7 + j) % 60 + 2}>" for j in range(n)) for i, n in enumerate([3, 12, 7, 5, 9])]
    texts.append("   ")
    a, b = Selector(min_doc_fraction=0.5), Selector(min_doc_fraction=0.5)
    stats = detect(model, tok, texts, a, batch_size=2, max_length=10, progress=False)
    assert stats == {"documents": 5, "truncated": 1, "empty_skipped": 1, "tokens": 3 + 10 + 7 + 5 + 9,
                     "special_positions_left_out": 0}
    detect(model, tok, texts, b, batch_size=5, max_length=10, progress=False)
    ra, rb = a.result(), b.result()
    for k in ra:  # batching does not change the result
        if k.endswith((".mean", ".floor")):
            torch.testing.assert_close(ra[k], rb[k], rtol=1e-5, atol=1e-6)
        else:
            assert torch.equal(ra[k], rb[k]), k


def test_released_code_score_is_a_different_ffn_score():
    model, tok = make_model("llama"), tokenizer()
    texts = ["<3> <4> <5> <6>", "<9> <8> <7>"]
    paper, code = Selector(), Selector()
    detect(model, tok, texts, paper, progress=False)
    detect(model, tok, texts, code, scoring=Scoring(score="released_code"), progress=False)
    assert not torch.equal(paper.sums["layers.0.ffn"], code.sums["layers.0.ffn"])
    assert torch.equal(paper.sums["layers.0.attn.q"], code.sums["layers.0.attn.q"])


def test_threshold_takes_one_epsilon_per_module_kind():
    imp = {"layers.0.attn.q": torch.tensor([[0.02, 0.5]]), "layers.0.ffn": torch.tensor([[0.5, 3.0]])}
    sel = Selector(method="threshold", epsilon={"attn.q": 0.01, "attn.k": 0.01, "attn.v": 1.0, "ffn": 1.0})
    sel.update(imp)
    out = sel.result()
    assert out["layers.0.attn.q"].tolist() == [True, True] and out["layers.0.ffn"].tolist() == [False, True]
    with pytest.raises(MworkError, match=r"epsilon: attn\.o not a module kind"):
        Selector(method="threshold", epsilon={"attn.o": 1.0})
    with pytest.raises(MworkError, match=r"epsilon: no value for attn\.k, attn\.v, ffn"):  # before any document
        Selector(method="threshold", epsilon={"attn.q": 0.01})


def test_special_tokens_are_left_out_and_counted():
    """The tokenizer's special tokens (here its EOS, <1>) are not counted by default: a document's score
    equals the score with those positions' changes left out, and differs from counting them."""
    model, tok = make_model("llama"), tokenizer()
    ids = torch.tensor([[1, 5, 6, 7, 1, 8]])
    mask = torch.ones_like(ids)
    assert Scoring().counted(tok, ids, mask).tolist() == [[False, True, True, True, False, True]]
    assert Scoring(special_tokens="include").counted(tok, ids, mask).all()
    excluded, included = Scoring()(model, tok, ids, mask), Scoring(special_tokens="include")(model, tok, ids, mask)
    from mwork.plnd import neuron_importance
    ref = neuron_importance(model, ids, mask, score_mask=torch.tensor([[0, 1, 1, 1, 0, 1]]))
    for k in ref:
        assert torch.equal(excluded[k], ref[k]) and not torch.allclose(excluded[k], included[k]), k
    sel = Selector(min_doc_fraction=0.5)
    stats = detect(model, tok, ["<1> <5> <6>", "<7> <8> <1>"], sel, progress=False)
    assert stats["tokens"] == 6 and stats["special_positions_left_out"] == 2


@pytest.mark.parametrize("score", ["paper", "released_code"])
def test_per_token_normalization_divides_by_the_counted_tokens(score):
    model, tok = make_model("llama"), tokenizer()
    ids, mask = torch.tensor([[0, 0, 3, 4, 5, 6], [7, 8, 9, 1, 10, 11]]), torch.tensor([[0, 0, 1, 1, 1, 1], [1] * 6])
    raw = Scoring(score=score)(model, tok, ids, mask)
    norm = Scoring(score=score, normalize="per_token")(model, tok, ids, mask)
    n = torch.tensor([[4.0], [5.0]])  # counted tokens: padding and the special <1> are not
    for k in raw:
        div = n if (score == "released_code" and k.endswith("ffn")) else n.sqrt()
        torch.testing.assert_close(norm[k], raw[k] / div, rtol=1e-6, atol=1e-8)
    with pytest.raises(MworkError, match=r"plnd\.normalize: 'tokens' is not one of none, per_token"):
        Scoring(normalize="tokens")


def test_neuron_file_roundtrip_metadata_and_model_check(tmp_path):
    model = make_model("mistral")
    sel = Selector(top_k={"attn": 3, "ffn": 3})
    detect(model, tokenizer(), ["<3> <4> <5> <6>", "<3> <4> <9>"], sel, progress=False)
    path = tmp_path / "de.safetensors"
    save_neurons(path, sel.result(), {"model": "tiny", "model_fingerprint": model_fingerprint(model), "language": "de",
                                      "n_docs": 2, "selection": sel.settings()})
    masks, meta = load_neurons(path, model=model)
    assert meta["language"] == "de" and '"top_k"' in meta["selection"]
    assert set(masks) == {f"layers.{i}.{k}" for i in range(2) for k in ("attn.q", "attn.k", "attn.v", "ffn")}
    assert all(m.dtype == torch.bool for m in masks.values())
    counts = per_layer_counts(masks)
    assert counts.loc[0, "ffn_of"] == 64 and 0 <= counts.loc[0, "ffn"] <= 3
    with pytest.raises(MworkError, match="not for this model"):
        load_neurons(path, model=make_model("mistral", seed=1))
    with pytest.raises(MworkError, match="does not exist"):
        load_neurons(tmp_path / "nope.safetensors")
    assert load_neurons(path, model=model, masks_only=False)[0]["layers.1.ffn.count"].shape == (64,)


_SAVE_TWICE = """
import sys, torch
from mwork.neurons import save_neurons
meta = {k: str(i) for i, k in enumerate("abcdefghijklmnop")} | {"selection": {"method": "selective"}}
save_neurons(sys.argv[1], {"layers.0.ffn": torch.tensor([True, False])}, meta)
"""


def test_a_neuron_file_is_the_same_bytes_in_every_process(tmp_path):
    # safetensors writes its metadata map in an order that changes from process to process: one sorted entry
    paths = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for p in paths:
        subprocess.run([sys.executable, "-c", _SAVE_TWICE, str(p)], check=True)
    assert len({p.read_bytes() for p in paths}) == 1
    meta = load_neurons(paths[0])[1]
    assert meta["p"] == "15" and meta["selection"] == '{"method": "selective"}'


def test_a_neuron_file_of_one_header_entry_per_key_still_reads(tmp_path):
    save_file({"layers.0.ffn": torch.tensor([True, False])}, str(tmp_path / "old.safetensors"),
              metadata={"language": "de", "n_docs": "2"})
    assert load_neurons(tmp_path / "old.safetensors", language="de")[1] == {"language": "de", "n_docs": "2"}


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.update({"layers.0.ffn": torch.ones(307, dtype=torch.bool)}),
     r"layers\.0\.ffn is torch\.bool of shape \(307,\), expected torch\.bool of \(64,\)"),
    (lambda t: [t.pop(k) for k in list(t) if k.startswith("layers.1.")], r"missing layers\.1\.attn\.q"),
    (lambda t: t.update({"layers.0.ffn": t["layers.0.ffn"].float()}), r"layers\.0\.ffn is torch\.float32"),
    (lambda t: t.update({"layers.2.ffn": torch.zeros(64, dtype=torch.bool)}), r"unexpected layers\.2\.ffn"),
    (lambda t: t.update({"layers.1.attn.k.count": torch.zeros(3)}), r"layers\.1\.attn\.k\.count is .* of \(16,\)"),
])
def test_a_neuron_file_is_checked_key_by_key_against_the_model(tmp_path, damage, message):
    """A right fingerprint on a wrong file: a mask of the wrong length would deactivate other neurons than
    the file's, a missing layer would fail deep inside a rule; both are refused naming the file."""
    model = make_model("mistral")
    sel = Selector(top_k={"attn": 3, "ffn": 3})
    detect(model, tokenizer(), ["<3> <4> <5> <6>", "<3> <4> <9>"], sel, progress=False)
    tensors = sel.result()
    damage(tensors)
    path = tmp_path / "forged.safetensors"
    save_neurons(path, tensors, {"model": "tiny", "model_fingerprint": model_fingerprint(model)})
    with pytest.raises(MworkError, match=f"forged.safetensors: not a neuron file of this model.*{message}"):
        load_neurons(path, model=model, masks_only=False)


def test_overlap_is_eq11(tmp_path):
    assert overlap_ratio({1, 2, 3}, {2, 3}) == 1.0 and overlap_ratio({1}, {2, 3}) == 0.0
    files = {}
    for lang, idx in {"en": [0, 1, 2, 3], "fr": [2, 3], "zh": [5]}.items():
        m = torch.zeros(8, dtype=torch.bool)
        m[idx] = True
        files[lang] = tmp_path / f"{lang}.safetensors"
        save_neurons(files[lang], {"layers.0.ffn": m, "layers.0.attn.q": torch.zeros(4, dtype=torch.bool)},
                     {"language": lang})
    counts, ov = neuron_summary({k: str(v) for k, v in files.items()})
    assert counts.set_index("language").loc["en", "ffn"] == 4
    assert (counts["shared_by_all"] == 0).all()  # zh shares nothing
    two, _ = neuron_summary({k: str(files[k]) for k in ("en", "fr")})
    assert two.set_index("language")["shared_by_all_share"].to_dict() == {"en": 0.5, "fr": 1.0}
    assert ov["ffn"].loc["en", "fr"] == 1.0 and ov["ffn"].loc["fr", "en"] == 0.5 and ov["ffn"].loc["zh", "en"] == 0
    sets = {lang: structure_sets(load_neurons(p)[0]) for lang, p in files.items()}
    assert overlap_matrix(sets, "attn").isna().all().all()  # empty sets: undefined, not 0


def test_absolute_attention_k_scales_to_grouped_kv():
    from mwork.neurons import k_for

    # 1000 of 4096 query features; keys/values have 1024 features under GQA: the same share, 250
    assert k_for({"attn": 1000, "ffn": 2000}, "attn.q", 4096, 4096) == 1000
    assert k_for({"attn": 1000, "ffn": 2000}, "attn.k", 1024, 4096) == 250
    assert k_for({"attn": 1000, "ffn": 2000}, "ffn", 14336, 4096) == 2000
    assert k_for({"attn": 0.05, "ffn": 0.05}, "attn.v", 64, 128) == 3
    # a count of 1 query feature scales to a quarter of a key feature: still a count (1), not 25% of them
    assert k_for({"attn": 1, "ffn": 1}, "attn.k", 128, 512) == 1
    assert k_for({"attn": 8, "ffn": 1}, "attn.k", 128, 512) == 2


def test_a_count_larger_than_a_layer_is_refused_not_capped():
    from mwork.neurons import k_for

    with pytest.raises(MworkError, match=r"top_k\.ffn: 1000000000 neurons per layer, but this model's ffn has 64"):
        k_for({"attn": 0.05, "ffn": 1_000_000_000}, "ffn", 64)
    with pytest.raises(MworkError, match=r"top_k\.attn: 200 neurons per layer, but this model's attn\.q has 128"):
        k_for({"attn": 200, "ffn": 3}, "attn.k", 32, 128)
    assert k_for({"attn": 128, "ffn": 64}, "attn.k", 32, 128) == 32 and k_for({"attn": 1, "ffn": 64}, "ffn", 64) == 64


def _figure3_setup(score="paper"):
    from mwork.arch import get_adapter

    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    sizes = get_adapter(model).sizes()
    keys = [f"layers.{i}.{k}" for i in range(2) for k in sizes]
    return model, tok, Scoring(score=score), sizes, keys


def _own_topk(model, tok, scoring, text, top_k):
    """The query's own top-k neurons of every layer and kind, as a neuron set."""
    from mwork.neurons import k_for

    ids = torch.tensor([[int(t[1:-1]) for t in text.split()]])
    imp = scoring(model, tok, ids, torch.ones_like(ids))
    n_q = imp["layers.0.attn.q"].shape[1]
    out = {}
    for key, v in imp.items():
        top = v[0].topk(k_for(top_k, key.split(".", 2)[2], v.shape[1], n_q)).indices
        out[key] = torch.zeros(v.shape[1], dtype=torch.bool).index_fill_(0, top, True)
    return out


@pytest.mark.parametrize("score", ["paper", "released_code"])
def test_figure3_a_set_of_the_query_own_top_k_is_all_activated(score):
    """Figure 3's "activated" is the query's per-layer top-k under the selection's scoring and k: a set made
    of exactly a query's top-k neurons is activated in full (share 1) by that query, a set of every neuron
    in the share k/n; the other language's query activates the first set in part."""
    from mwork.neuron_sets import activated_per_layer

    model, tok, scoring, sizes, keys = _figure3_setup(score)
    top_k = {"attn": 3, "ffn": 5}
    q_en, q_de = "<3> <4> <5> <6>", "<40> <22> <9> <31> <17>"
    sets = {"en": _own_topk(model, tok, scoring, q_en, top_k),
            "de": {k: torch.ones(sizes[k.split(".", 2)[2]], dtype=torch.bool) for k in keys}}
    df = activated_per_layer(model, tok, {"en": [q_en], "de": [q_de]}, sets, top_k, scoring=scoring, progress=False)
    assert list(df.columns) == ["set_language", "query_language", "n_queries", "layer", "structure", "set_size",
                                "activated_share", "random"]
    assert len(df) == 2 * 2 * 2 * 2 and (df["n_queries"] == 1).all()  # X, Y, layers, structures
    assert df[["activated_share", "random"]].stack().between(0, 1).all()
    own = df[(df["set_language"] == "en") & (df["query_language"] == "en")]
    assert (own["activated_share"] == 1).all()
    # attention: q, k, v pooled; k = 3 of 32 query features, scaled to 2 (1.5 rounded) of 16 key/value features
    assert (sizes["attn.q"], sizes["attn.k"], sizes["attn.v"], sizes["ffn"]) == (32, 16, 16, 64)
    full = df[df["set_language"] == "de"].set_index(["query_language", "layer", "structure"])["activated_share"]
    assert (full.xs("ffn", level="structure") == 5 / 64).all()
    assert (full.xs("attn", level="structure") == (3 + 2 + 2) / (32 + 16 + 16)).all()
    # the random set of every neuron is every neuron
    assert (df[df["set_language"] == "de"]["random"] == df[df["set_language"] == "de"]["activated_share"]).all()
    cross = df[(df["set_language"] == "en") & (df["query_language"] == "de")]
    assert (cross["activated_share"] < 1).any()


def test_figure3_empty_layer_is_nan_and_random_sets_match_sizes():
    """A layer where X's set has no neuron is NaN (not 0); the random control has X's size in every layer
    and kind, is seeded, and differs between languages."""
    from mwork.deactivation import random_per_layer
    from mwork.neuron_sets import activated_per_layer

    model, tok, scoring, sizes, keys = _figure3_setup()
    g = torch.Generator().manual_seed(1)
    sets = {lang: {k: torch.rand(sizes[k.split(".", 2)[2]], generator=g) < 0.3 for k in keys} for lang in ("en", "de")}
    for k in keys:
        if k.startswith("layers.1.") and k.endswith("ffn"):
            sets["en"][k][:] = False
    queries = {"en": ["<3> <4> <5> <6>", "<7> <8>"], "de": ["<40> <22> <9> <31>"]}
    df = activated_per_layer(model, tok, queries, sets, {"attn": 0.25, "ffn": 0.25}, scoring=scoring, seed=7,
                             progress=False)
    empty = df[(df["set_language"] == "en") & (df["layer"] == 1) & (df["structure"] == "ffn")]
    assert len(empty) == 2 and (empty["set_size"] == 0).all()
    assert empty["activated_share"].isna().all() and empty["random"].isna().all()
    rest = df.drop(empty.index)
    assert rest[["activated_share", "random"]].notna().all().all()
    assert rest[["activated_share", "random"]].stack().between(0, 1).all()
    assert (df[df["query_language"] == "en"]["n_queries"] == 2).all()
    for lang, masks in sets.items():
        rnd = random_per_layer(masks, f"7:{lang}")
        assert all(int(rnd[k].sum()) == int(masks[k].sum()) and rnd[k].shape == masks[k].shape for k in keys)
        assert all(torch.equal(rnd[k], random_per_layer(masks, f"7:{lang}")[k]) for k in keys)  # seeded
        assert any(not torch.equal(rnd[k], masks[k]) for k in keys)
        sizes_df = df[(df["set_language"] == lang) & (df["query_language"] == "en")].set_index(["layer", "structure"])
        for (layer, structure), n in sizes_df["set_size"].items():
            assert n == sum(int(m.sum()) for k, m in masks.items()
                            if k.startswith(f"layers.{layer}.") and k.split(".", 2)[2].startswith(structure))
    assert any(not torch.equal(random_per_layer(sets["en"], "7:en")[k], random_per_layer(sets["en"], "7:de")[k]) for k in keys)


def test_figure3_scores_every_query_once():
    """One PLND pass per query: the queries of each language are scored once and checked against every
    language's set and every random set."""
    from mwork.neuron_sets import activated_per_layer

    model, tok, scoring, sizes, keys = _figure3_setup()
    seen = []

    def counting(model_, tok_, ids, att):
        seen.append(ids.shape[0])
        return scoring(model_, tok_, ids, att)

    g = torch.Generator().manual_seed(2)
    langs = ("en", "de", "zh")
    sets = {lang: {k: torch.rand(sizes[k.split(".", 2)[2]], generator=g) < 0.2 for k in keys} for lang in langs}
    queries = {"en": ["<3> <4> <5>", "<6> <7>"], "de": ["<8> <9> <10> <11>", "<12> <13>"], "zh": ["<14> <15>"]}
    df = activated_per_layer(model, tok, queries, sets, {"attn": 2, "ffn": 4}, batch_size=1, scoring=counting,
                             progress=False)
    assert seen == [1] * 5
    assert len(df) == 3 * 3 * 2 * 2
    seen.clear()
    batched = activated_per_layer(model, tok, queries, sets, {"attn": 2, "ffn": 4}, batch_size=2, scoring=counting,
                                  progress=False)
    assert sum(seen) == 5 and len(seen) == 3
    pd_cols = ["activated_share", "random"]
    torch.testing.assert_close(torch.tensor(df[pd_cols].values), torch.tensor(batched[pd_cols].values))


def test_set_stability_scores_once_and_subsamples():
    """The diagnostic's per-document importance gives PLND's own statistics, and its curve subsamples them."""
    from mwork.neurons import topk_hits
    from mwork.set_stability import document_importance, size_curve, subsample_stats

    model, tok = make_model("llama"), tokenizer()
    texts = [" ".join(f"<{(i * 5 + j) % 60 + 2}>" for j in range(n)) for i, n in enumerate([4, 9, 6, 3, 7])]
    sel, scoring = Selector(top_k={"attn": 2, "ffn": 4}, min_doc_fraction=0.6), Scoring()
    imp = document_importance(model, tok, texts, scoring, batch_size=2)
    detect(model, tok, texts, sel, scoring=scoring, progress=False)
    assert next(iter(imp.values())).shape[0] == 5
    mine = subsample_stats(imp, topk_hits(imp, sel.top_k), torch.arange(5), 0.6)
    plnd = sel.stats()
    assert mine.keys() == plnd.keys()
    for k in plnd:
        torch.testing.assert_close(mine[k], plnd[k], rtol=1e-5, atol=1e-6)

    # a known importance matrix: three languages, 10 documents, 2 layers of 4 FFN neurons
    g = torch.Generator().manual_seed(0)
    langs = {}
    for x, own in (("en", 0), ("de", 1), ("zh", 2)):
        t = torch.rand(10, 4, generator=g) + 1.0
        t[:, 3] += 5.0      # needed by every language alike
        t[:, own] += 3.0    # needed by this language more
        langs[x] = {"layers.0.ffn": t, "layers.1.ffn": torch.rand(10, 4, generator=g)}
    methods = {"paper": {"method": "topk_intersection", "top_k": {"attn": 1, "ffn": 2}},
               "selective": {"method": "selective", "top_k": {"attn": 1, "ffn": 2}, "share": 0.1, "candidates": 0.5}}
    rows = size_curve(langs, methods, [4, 20], [0.5, 1.0], seeds=3)
    by = {(r["method"], r["language"], r["n_docs"], r["min_doc_fraction"]): r for r in rows}
    assert ("paper", "de", 4, 0.5) in by and ("paper", "de", 20, 1.0) not in by  # 20 > 10 documents: left out
    full = by[("paper", "de", 10, 1.0)]
    assert full["seeds"] == 1 and full["jaccard_all"] == 1.0 and full["size_mean"] == 2  # neurons 1 and 3
    assert full["shared_by_all_share"] == 0.5  # neuron 3 is in every language's set
    sel_rows = [r for r in rows if r["method"] == "selective" and r["n_docs"] == 10]
    assert len(sel_rows) == 3  # one per language, no fraction
    assert all(r["size_mean"] == 1 and r["shared_by_all_share"] == 0 for r in sel_rows)
    assert by[("paper", "de", 4, 1.0)]["seeds"] == 3 and 0 < by[("paper", "de", 4, 1.0)]["jaccard_seeds"] <= 1


def test_selection_rules():
    """threshold_share picks the share's largest floors per kind; selective picks what one language needs more
    than the others and never a neuron all need alike; the paper's rules from the same statistics."""
    from mwork.selection import select_language, set_report

    def stats(mean, floor=None, count=None):
        mean = torch.tensor(mean)
        return {"layers.0.ffn.mean": mean, "layers.0.ffn.floor": torch.tensor(floor) if floor else mean,
                "layers.0.ffn.count": torch.tensor(count or [0] * len(mean), dtype=torch.int32)}

    n = {"en": 4, "de": 4, "zh": 4}
    s = {"en": stats([9.0, 1, 1, 1, 1, 1, 1, 1, 1, 5], count=[4, 3, 0, 0, 0, 0, 0, 0, 0, 4]),
         "de": stats([1.0, 9, 1, 1, 1, 1, 1, 1, 1, 5]), "zh": stats([1.0, 1, 9, 1, 1, 1, 1, 1, 1, 5])}
    masks, info = select_language(s, "en", {"method": "threshold_share", "share": 0.2}, n)
    assert masks["layers.0.ffn"].nonzero().flatten().tolist() == [0, 9] and info["epsilon"]["ffn"] == 5.0
    masks, _ = select_language(s, "en", {"method": "threshold", "epsilon": 6.0}, n)
    assert masks["layers.0.ffn"].nonzero().flatten().tolist() == [0]
    masks, _ = select_language(s, "en", {"method": "topk_intersection", "min_doc_fraction": 0.75}, n)
    assert masks["layers.0.ffn"].nonzero().flatten().tolist() == [0, 1, 9]
    sets = {x: select_language(s, x, {"method": "selective", "share": 0.2, "candidates": 0.2}, n)[0] for x in s}
    assert [sets[x]["layers.0.ffn"].nonzero().flatten().tolist() for x in s] == [[0], [1], [2]]  # 9: all alike
    report = {r["language"]: r for r in set_report(sets)}
    assert report["en"]["size"] == 1 and report["en"]["shared_by_all_share"] == 0
    with pytest.raises(MworkError, match="selective.*those of ru are missing"):
        select_language(s, "en", {"method": "selective"}, n, against=["de", "ru"])
    with pytest.raises(MworkError, match="plnd.selection.share"):
        select_language(s, "en", {"method": "threshold_share", "share": 1.5}, n)
    one = Selector(method="selective")
    one.update({"layers.0.ffn": torch.ones(2, 10)})
    with pytest.raises(MworkError, match="compares languages"):
        one.result()


def test_neurons_compare_counts_what_changed(tmp_path, capsys):
    from mwork.__main__ import main

    model = make_model("llama")
    paths = []
    for name, scoring in (("ex", Scoring()), ("in", Scoring(special_tokens="include"))):
        sel = Selector(top_k={"attn": 3, "ffn": 3}, min_doc_fraction=0.5)
        detect(model, tokenizer(), ["<1> <4> <5> <6>", "<1> <4> <9> <1>", "<7> <1> <8>"], sel, scoring=scoring,
               progress=False)
        paths.append(tmp_path / f"{name}.safetensors")
        save_neurons(paths[-1], sel.result(), {"model": "tiny", "model_fingerprint": model_fingerprint(model)})
    assert main(["neurons", "compare", str(paths[0]), str(paths[0])]) == 0
    same = capsys.readouterr().out
    assert "jaccard" in same and " 0 " in same.splitlines()[-1] and same.splitlines()[-1].rstrip().endswith("1.0")
    assert main(["neurons", "compare", str(paths[0]), str(paths[1])]) == 0
    last = capsys.readouterr().out.splitlines()[-1].split()
    assert last[0] == "all" and float(last[-1]) < 1.0 and int(last[4]) + int(last[5]) > 0


def test_a_neuron_file_of_another_language_is_refused_naming_what_it_holds(tmp_path):
    """zh.safetensors copied to de.safetensors ran S_lang@de with Chinese neurons and recorded
    neuron_language: de: the file's metadata must name the language (and corpus) asked for."""
    import shutil

    model = make_model("mistral")
    sel = Selector(top_k={"attn": 3, "ffn": 3})
    detect(model, tokenizer(), ["<3> <4> <5> <6>", "<3> <4> <9>"], sel, progress=False)
    folder = tmp_path / "catalogs"
    folder.mkdir()
    save_neurons(folder / "zh.safetensors", sel.result(), {"model_fingerprint": model_fingerprint(model),
                                                            "language": "zh", "corpus": "catalogs"})
    shutil.copy(folder / "zh.safetensors", folder / "de.safetensors")
    assert load_neurons(folder / "zh.safetensors", model=model, language="zh", corpus="catalogs")[1]["language"] == "zh"
    with pytest.raises(MworkError, match=r"de\.safetensors: holds the neurons of language 'zh' \(its metadata\), but "
                                         r"this job expected language 'de'; a file copied or renamed from another "
                                         r"one\? Delete it and rerun rule plnd \(it writes .*de\.safetensors\)"):
        load_neurons(folder / "de.safetensors", model=model, language="de", corpus="catalogs")
    with pytest.raises(MworkError, match=r"holds the neurons of corpus 'catalogs' .* expected corpus 'bible'"):
        load_neurons(folder / "zh.safetensors", language="zh", corpus="bible")
    # Figure 5's summary reads each language's file through the same check
    with pytest.raises(MworkError, match=r"de\.safetensors: holds the neurons of language 'zh'"):
        neuron_summary({"zh": str(folder / "zh.safetensors"), "de": str(folder / "de.safetensors")})


def test_sets_are_chosen_from_one_models_statistics_at_the_configured_fraction(tmp_path):
    """Rule neurons (and the loss matrix's further methods) read several languages' PLND files: they must come
    from one model and carry the floor of the selection's min_doc_fraction."""
    from mwork.neurons import load_languages_stats

    files = {}
    for lang, fp, frac in (("en", "a", 0.9), ("de", "a", 0.9), ("zh", "b", 0.9), ("fr", "a", 1.0)):
        files[lang] = tmp_path / "plnd" / "bible" / f"{lang}.safetensors"
        files[lang].parent.mkdir(parents=True, exist_ok=True)
        stats = {f"layers.0.ffn{s}": torch.ones(4) for s in (".mean", ".floor")}
        stats["layers.0.ffn.count"] = torch.ones(4, dtype=torch.int32)
        save_neurons(files[lang], stats, {"language": lang, "corpus": "bible", "model_fingerprint": fp, "n_docs": 8,
                                          "statistics": {"min_doc_fraction": frac}})
    stats, n_docs, _ = load_languages_stats({x: files[x] for x in ("en", "de")}, "bible", 0.9)
    assert set(stats) == {"en", "de"} and n_docs == {"en": 8, "de": 8}
    with pytest.raises(MworkError, match=r"zh\.safetensors: PLND statistics of another model"):
        load_languages_stats({x: files[x] for x in ("en", "zh")}, "bible", 0.9)
    with pytest.raises(MworkError, match=r"fr\.safetensors: statistics made for min_doc_fraction 1\.0, but "
                                         r"config\.plnd\.selection\.min_doc_fraction is 0\.9"):
        load_languages_stats({x: files[x] for x in ("en", "fr")}, "bible", 0.9)
