"""The deactivation loss matrix: held-out loss arithmetic, matched random controls, the table's shape."""
import pytest
import torch
from tinymodels import make_model, tokenizer

from mwork.arch import get_adapter
from mwork.loss_matrix import (
    VARIANTS,
    cells,
    doc_losses,
    document_losses,
    loss_matrix,
    matched_masks,
    summary,
    token_losses,
)


def _texts(seed, n=3):
    g = torch.Generator().manual_seed(seed)
    return [" ".join(f"<{int(i)}>" for i in torch.randint(2, 64, (int(k),), generator=g))
            for k in torch.randint(4, 12, (n,), generator=g)]


def _masks(model, seed):
    adapter = get_adapter(model)
    g = torch.Generator().manual_seed(seed)
    return {f"layers.{i}.{k}": torch.rand(n, generator=g) < 0.2 for i in range(adapter.n_layers)
            for k, n in adapter.sizes().items()}


@pytest.mark.parametrize("arch,softcap", [("qwen2", None), ("gemma3_text", None), ("gemma3_text", 5.0)])
def test_token_losses_equal_the_models_own_loss_with_or_without_padding(arch, softcap):
    model, tok = make_model(arch), tokenizer()
    if softcap:  # Gemma-2's final logit soft-cap (Gemma-3's forward applies it too when set)
        model.config.final_logit_softcapping = softcap
    texts = _texts(0)
    total, n = token_losses(model, tok, texts, batch_size=3)
    ref_total, ref_n = 0.0, 0
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor([tok(t)["input_ids"]])
            out = model(input_ids=ids, labels=ids)
            ref_total += float(out.loss) * (ids.shape[1] - 1)
            ref_n += ids.shape[1] - 1
    assert n == ref_n and total == pytest.approx(ref_total, rel=1e-5)
    assert token_losses(model, tok, texts, batch_size=1) == pytest.approx((total, n), rel=1e-5)
    # a chunk of one row at a time: the same sum, no (rows x vocabulary) tensor beyond one row
    assert token_losses(model, tok, texts, batch_size=3, chunk_elems=1) == pytest.approx((total, n), rel=1e-6)
    # the hook on the final norm is removed on exit
    assert not get_adapter(model).final_norm()._forward_hooks


def test_doc_losses_keep_each_documents_sum_in_order():
    """Per-document sums in the order of the texts (batches run sorted by length), each the document's own
    loss alone, and totalling token_losses; a one-token document predicts nothing."""
    model, tok = make_model("qwen2"), tokenizer()
    texts = _texts(5, n=7) + ["<3>"]
    sums, counts = doc_losses(model, tok, texts, batch_size=3)
    assert sums.shape == counts.shape == (8,) and counts[-1] == 0 and sums[-1] == 0
    for i, t in enumerate(texts[:-1]):
        alone = token_losses(model, tok, [t], batch_size=1)
        assert (float(sums[i]), int(counts[i])) == pytest.approx(alone, rel=1e-5)
    assert token_losses(model, tok, texts, batch_size=3) == pytest.approx((sums.sum(), counts.sum()), rel=1e-12)


def test_random_control_matches_each_layer_and_kind():
    """loss_matrix's control matches X's set in every (layer, module kind) (deactivation.random_match: layer);
    ``stage`` keeps only the count per kind over all layers."""
    model = make_model("llama")
    adapter = get_adapter(model)
    lang = _masks(model, 1)
    layer = matched_masks(lang, adapter.n_layers, adapter.sizes(), "random", "s")
    assert all(int(layer[k].sum()) == int(lang[k].sum()) for k in lang)
    other = matched_masks(lang, adapter.n_layers, adapter.sizes(), "random", "t")
    assert any(not torch.equal(layer[k], other[k]) for k in lang)
    stage = matched_masks(lang, adapter.n_layers, adapter.sizes(), "random", "s", random_match="stage")
    assert any(int(stage[k].sum()) != int(lang[k].sum()) for k in lang)
    for kind in adapter.sizes():
        assert sum(int(stage[k].sum()) for k in lang if k.endswith("." + kind)) == \
            sum(int(lang[k].sum()) for k in lang if k.endswith("." + kind))


def test_random_control_matches_the_size_of_each_module_kind():
    model = make_model("llama")
    adapter = get_adapter(model)
    lang = _masks(model, 1)
    rand = matched_masks(lang, adapter.n_layers, adapter.sizes(), "random", "s")
    same = matched_masks(lang, adapter.n_layers, adapter.sizes(), "lang", "s")
    assert all(torch.equal(same[k], lang[k]) for k in lang)
    for kind in adapter.sizes():
        ks = [k for k in lang if k.endswith("." + kind)]
        assert sum(int(rand[k].sum()) for k in ks) == sum(int(lang[k].sum()) for k in ks)
    assert any(not torch.equal(rand[k], lang[k]) for k in lang)
    assert all(torch.equal(rand[k], v) for k, v in
               matched_masks(lang, adapter.n_layers, adapter.sizes(), "random", "s").items())  # seeded


def test_specific_sets_drop_the_neurons_every_language_holds():
    model = make_model("llama")
    adapter = get_adapter(model)
    a, b = _masks(model, 1), _masks(model, 2)
    spec = matched_masks(a, adapter.n_layers, adapter.sizes(), "lang", "s", all_masks=[a, b])
    assert all(torch.equal(spec[k], a[k] & ~(a[k] & b[k])) for k in a)
    rand = matched_masks(a, adapter.n_layers, adapter.sizes(), "random", "s", all_masks=[a, b])
    assert sum(int(m.sum()) for m in rand.values()) == sum(int(m.sum()) for m in spec.values())


def test_loss_matrix_rows_and_summary():
    model, tok = make_model("gemma3_text"), tokenizer()
    texts = {"en": _texts(1), "de": _texts(2)}
    masks = {"en": _masks(model, 3), "de": {k: torch.zeros_like(v) for k, v in _masks(model, 4).items()}}
    df = loss_matrix(model, tok, texts, masks, seed="0", batch_size=2)
    # de holds nothing, so no neuron is in every language's set: "specific" would repeat "lang", and is left out
    assert len(df) == 2 * 2 * 2 and set(df["neurons"]) == {"lang", "lang_random"}
    rows = df.set_index(["deactivated", "neurons", "evaluated"]).sort_index()
    # an empty set deactivates nothing: the loss is exactly the unmodified model's
    assert (rows.loc[("de", "lang"), "delta"] == 0).all() and (rows.loc[("de", "lang_random"), "n_neurons"] == 0).all()
    assert (rows.loc[("en", "lang"), "delta"].abs() > 0).all()
    assert rows.loc[("en", "lang", "en"), "n_neurons"] == rows.loc[("en", "lang_random", "en"), "n_neurons"] > 0
    s = summary(df.assign(model="m")).set_index("neurons")
    d = df[(df["neurons"] == "lang") & (df["deactivated"] == df["evaluated"])]["delta"].mean()
    assert s.loc["lang", "diagonal"] == pytest.approx(d)


def test_cells_carry_paired_bootstrap_intervals_and_the_spread_over_random_draws():
    import numpy as np

    model, tok = make_model("gemma3_text"), tokenizer()
    texts = {"en": _texts(1, n=5), "de": _texts(2, n=4)}
    masks = {"en": _masks(model, 3), "de": {k: torch.zeros_like(v) for k, v in _masks(model, 4).items()}}
    docs = document_losses(model, tok, texts, masks, seed="0", batch_size=2, random_draws=3)
    # one row per document; set variants once, random ones per draw, and the same base for each
    assert set(docs.groupby("neurons")["draw"].nunique().items()) == {("lang", 1), ("lang_random", 3)}
    assert len(docs) == 2 * (1 + 3) * (5 + 4)
    assert docs.groupby(["evaluated", "doc"])["base_nll"].nunique().eq(1).all()
    df = cells(docs, n_boot=200, seed="0")
    assert len(df) == 2 * 2 * 2
    rows = df.set_index(["deactivated", "neurons", "evaluated"]).sort_index()
    # token-weighted, as before: Δ = sum(nll - base) / tokens, a random variant's the mean over its draws
    for (x, neurons, y), r in rows.iterrows():
        g = docs[(docs["deactivated"] == x) & (docs["neurons"] == neurons) & (docs["evaluated"] == y)]
        per_draw = [(d["nll"].sum() - d["base_nll"].sum()) / d["tokens"].sum() for _, d in g.groupby("draw")]
        assert r["delta"] == pytest.approx(np.mean(per_draw), rel=1e-9, abs=1e-12)
        assert r["n_draws"] == len(per_draw) and r["n_docs"] == len(texts[y])
        assert [float(v) for v in r["delta_draws"].split()] == pytest.approx(per_draw, rel=1e-5)
        assert r["delta_lo"] <= r["delta"] + 1e-12 and r["delta"] - 1e-12 <= r["delta_hi"]
    # the draws differ (three seeds), and the spread is their sd; a set is measured once
    r = rows.loc[("en", "lang_random", "en")]
    draws = [float(v) for v in r["delta_draws"].split()]
    assert len(set(draws)) == 3 and r["delta_draw_sd"] == pytest.approx(np.std(draws, ddof=1), rel=1e-4)
    assert np.isnan(rows.loc[("en", "lang", "en"), "delta_draw_sd"])
    # paired: de's empty set changes no document, so every resample gives Δ = 0 (unpaired it would not)
    assert (rows.loc[("de", "lang"), ["delta", "delta_lo", "delta_hi"]] == 0).all().all()
    assert (rows.loc[("en", "lang"), "delta_hi"] > rows.loc[("en", "lang"), "delta_lo"]).all()
    # seeded: the same intervals again, other ones with another seed
    assert cells(docs, n_boot=200, seed="0").equals(df)
    assert not cells(docs, n_boot=200, seed="1")["delta_lo"].equals(df["delta_lo"])
    # loss_matrix is the cells of these documents
    lm = loss_matrix(model, tok, texts, masks, seed="0", batch_size=2, random_draws=3, n_boot=200)
    assert lm.equals(df)


def test_summary_resamples_documents_within_each_language():
    import numpy as np

    model, tok = make_model("qwen2"), tokenizer()
    texts = {"en": _texts(1, n=6), "de": _texts(2, n=5)}
    masks = {"en": _masks(model, 3), "de": _masks(model, 4)}
    docs = document_losses(model, tok, texts, masks, seed="0", batch_size=3, random_draws=2).assign(model="m")
    df = cells(docs, n_boot=300, seed="0")
    s = summary(df, docs, n_boot=300, seed="0").set_index("neurons")
    assert (s["interval"] == "documents").all() and (s["n_draws"] == [1, 2, 1, 2]).all()
    for neurons, r in s.iterrows():
        g = df[df["neurons"] == neurons]
        diag = g[g["deactivated"] == g["evaluated"]]
        assert r["diagonal"] == pytest.approx(diag["delta"].mean())
        assert r["diagonal_lo"] <= r["diagonal"] <= r["diagonal_hi"]
        assert r["off_diagonal_lo"] <= r["off_diagonal"] <= r["off_diagonal_hi"]
    # the spread over draws: sd of each draw's mean over the diagonal cells
    g = df[(df["neurons"] == "lang_random") & (df["deactivated"] == df["evaluated"])]
    per = np.array([[float(v) for v in d.split()] for d in g["delta_draws"]]).mean(0)
    assert s.loc["lang_random", "diagonal_draw_sd"] == pytest.approx(np.std(per, ddof=1), rel=1e-4)
    assert np.isnan(s.loc["lang", "diagonal_draw_sd"])
    # one language: the diagonal mean is its one cell, resampled with the same documents as the cell's interval
    one = docs[(docs["deactivated"] == "en") & (docs["evaluated"] == "en")]
    c1 = cells(one, n_boot=300, seed="0").set_index("neurons")
    s1 = summary(c1.reset_index(), one, n_boot=300, seed="0").set_index("neurons")
    assert s1["diagonal_lo"].tolist() == pytest.approx(c1["delta_lo"].tolist())
    assert s1["diagonal_hi"].tolist() == pytest.approx(c1["delta_hi"].tolist())
    # without the documents: a bootstrap over the cells (the spread over languages), said so
    assert (summary(df, n_boot=300, seed="0")["interval"] == "languages").all()


def test_further_families_of_sets_are_measured_with_their_own_random_controls():
    from mwork.errors import MworkError

    model, tok = make_model("llama"), tokenizer()
    texts = {"en": _texts(1, n=3), "de": _texts(2, n=3)}
    masks = {"en": _masks(model, 3), "de": _masks(model, 4)}
    fewer = {x: {k: v & (torch.arange(len(v)) % 2 == 0) for k, v in m.items()} for x, m in masks.items()}
    df = loss_matrix(model, tok, texts, masks, seed="0", batch_size=3, n_boot=50,
                     families={"selective": fewer, "same": masks})
    assert set(df["neurons"]) == {*VARIANTS, "selective", "selective_random", "same", "same_random",
                                  "selective_specific", "selective_specific_random", "same_specific",
                                  "same_specific_random"}  # these sets share neurons: minus them too
    rows = df.set_index(["deactivated", "neurons", "evaluated"]).sort_index()
    n = {x: sum(int(v.sum()) for v in m.values()) for x, m in fewer.items()}
    assert (rows.loc[("en", "selective"), "n_neurons"] == n["en"]).all()
    assert (rows.loc[("en", "selective_random"), "n_neurons"] == n["en"]).all()
    assert (rows.loc[("de", "same"), "loss"] == rows.loc[("de", "lang"), "loss"]).all()  # as given, as X's set
    with pytest.raises(MworkError, match=r"loss_matrix families: \['lang'\] are built-in variants"):
        loss_matrix(model, tok, texts, masks, seed="0", families={"lang": masks})


def test_fewer_held_out_documents_than_n_docs_are_refused(tmp_path):
    """loss_matrix.n_docs: 16 measured 5 to 8 documents per language with a log line only."""
    from mwork.errors import MworkError
    from mwork.io import file_sha256, write_json, write_jsonl
    from mwork.loss_matrix import heldout_texts

    files = {}
    for lang, n in (("en", 24), ("de", 15), ("zh", 18)):
        files[lang] = tmp_path / f"{lang}.jsonl"
        write_jsonl(files[lang], [{"id": str(i), "text": f"Text {i}", "split": "heldout" if i % 3 == 0 else "train"}
                                  for i in range(n)])
        write_json(tmp_path / f"{lang}.stats.json", {"documents": n, "sha256": file_sha256(files[lang])})
    assert heldout_texts(files, 4)["de"] == ["Text 0", "Text 3", "Text 6", "Text 9"]
    assert {lang: len(t) for lang, t in heldout_texts(files, 5).items()} == {"en": 5, "de": 5, "zh": 5}
    with pytest.raises(MworkError, match=r"config\.loss_matrix\.n_docs: 7 held-out documents per language asked "
                                         r"for, but .*de\.jsonl has 5 in 'de', .*zh\.jsonl has 6 in 'zh'; set "
                                         r"loss_matrix\.n_docs to at most 5 \(or give the corpus more documents: "
                                         r"corpora\.<name>\.n_docs or heldout_fraction\)"):
        heldout_texts(files, 7)


def test_xquad_paragraphs_are_the_same_in_every_language(tmp_path):
    from hubfixtures import xquad_files

    from mwork.errors import MworkError
    from mwork.loss_matrix import xquad_texts

    folder = xquad_files(tmp_path / "xquad", ["en", "de", "zh"], n_paragraphs=7)
    files = {lang: folder / f"xquad.{lang}.json" for lang in ("en", "de", "zh")}
    texts = xquad_texts(files, 4, seed="0-qwen")
    assert {lang: len(t) for lang, t in texts.items()} == {"en": 4, "de": 4, "zh": 4}
    numbers = {lang: [t.split(" paragraph ")[1].split()[0] for t in ts] for lang, ts in texts.items()}
    assert numbers["en"] == numbers["de"] == numbers["zh"] and len(set(numbers["en"])) == 4  # aligned, distinct
    assert all(t.startswith("<de>") for t in texts["de"])  # each language's own text
    assert xquad_texts(files, 4, seed="0-qwen") == texts  # seeded
    assert len({tuple(xquad_texts(files, 4, seed=str(s))["en"]) for s in range(6)}) > 1  # and drawn
    with pytest.raises(MworkError, match=r"config\.loss_matrix\.n_docs: 8 XQuAD paragraphs per language asked "
                                         r"for, but the files .* share 7; ask for at most 7"):
        xquad_texts(files, 8, seed="0")
