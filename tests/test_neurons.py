import pytest
import torch
from tinymodels import make_model, tokenizer

from mwork.errors import MworkError
from mwork.models import model_fingerprint
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
        if k.endswith(".mean"):
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
    with pytest.raises(MworkError, match=r"no epsilon for ffn"):
        Selector(method="threshold", epsilon={"attn.q": 0.01}).update(imp)


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


@pytest.mark.parametrize("score", ["paper", "released_code"])
def test_figure3_counts_with_the_configured_scoring(score):
    """Figure 3 ranks a query's neurons by the scoring PLND selected with (plnd.score, special tokens):
    with every neuron in the set each layer activates exactly its top k, and with a set of one layer's
    top-scored FFN neurons under this scoring, all of them count."""
    from mwork.arch import get_adapter
    from mwork.neuron_sets import activated_per_layer

    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    scoring = Scoring(score=score)
    sizes = get_adapter(model).sizes()
    masks = {f"layers.{i}.{k}": torch.ones(n, dtype=torch.bool) for i in range(2) for k, n in sizes.items()}
    df = activated_per_layer(model, tok, ["<3> <4> <5> <6>"], masks, {"attn": 3, "ffn": 5}, scoring=scoring)
    assert (df[df["structure"] == "ffn"]["activated"] == 5).all()
    ids = torch.tensor([[3, 4, 5, 6]])
    top = scoring(model, tok, ids, torch.ones_like(ids))["layers.0.ffn"][0].topk(5).indices
    masks["layers.0.ffn"] = torch.zeros(64, dtype=torch.bool).index_fill_(0, top, True)
    df = activated_per_layer(model, tok, ["<3> <4> <5> <6>"], masks, {"attn": 3, "ffn": 5}, scoring=scoring)
    assert df[(df["structure"] == "ffn") & (df["layer"] == 0)]["activated"].item() == 5


def test_set_stability_scores_once_and_subsamples():
    """The diagnostic's per-document hits add up to PLND's counts, and its curve is exact on a known matrix."""
    from mwork.set_stability import document_hits, size_curve

    model, tok = make_model("llama"), tokenizer()
    texts = [" ".join(f"<{(i * 5 + j) % 60 + 2}>" for j in range(n)) for i, n in enumerate([4, 9, 6, 3, 7])]
    sel, scoring = Selector(top_k={"attn": 2, "ffn": 4}), Scoring()
    hits = document_hits(model, tok, texts, sel, scoring, batch_size=2)
    detect(model, tok, texts, sel, scoring=scoring, progress=False)
    assert hits.shape == (5, sum(c.numel() for c in sel.counts.values()))
    assert torch.equal(hits.sum(0, dtype=torch.int32), torch.cat([sel.counts[k] for k in sorted(sel.counts)]))

    known = torch.zeros(10, 4, dtype=torch.bool)
    known[:, 0] = True      # in every document
    known[:9, 1] = True     # in 9 of 10
    known[::2, 2] = True    # in half
    rows = {(r["n_docs"], r["min_doc_fraction"]): r for r in size_curve(known, [4, 20], [0.5, 1.0], seeds=3)}
    assert set(rows) == {(4, 0.5), (4, 1.0), (10, 0.5), (10, 1.0)}  # 20 > 10 documents is left out
    assert rows[(10, 1.0)]["size_mean"] == 1 and rows[(10, 0.5)]["size_mean"] == 3
    assert rows[(10, 1.0)]["seeds"] == 1 and rows[(10, 1.0)]["jaccard_all"] == 1.0
    assert rows[(4, 1.0)]["size_mean"] >= 1 and rows[(4, 1.0)]["seeds"] == 3
    assert 0 < rows[(4, 1.0)]["jaccard_seeds"] <= 1


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
    neuron_language: de (issue 29, 6): the file's metadata must name the language (and corpus) asked for."""
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
