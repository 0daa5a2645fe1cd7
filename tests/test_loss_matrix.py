"""The deactivation loss matrix: held-out loss arithmetic, matched random controls, the table's shape."""
import pytest
import torch
from tinymodels import make_model, tokenizer

from mwork.arch import get_adapter
from mwork.loss_matrix import VARIANTS, loss_matrix, matched_masks, summary, token_losses


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
    assert len(df) == 2 * len(VARIANTS) * 2 and set(df["neurons"]) == set(VARIANTS)
    rows = df.set_index(["deactivated", "neurons", "evaluated"]).sort_index()
    # an empty set deactivates nothing: the loss is exactly the unmodified model's
    assert (rows.loc[("de", "lang"), "delta"] == 0).all() and (rows.loc[("de", "lang_random"), "n_neurons"] == 0).all()
    assert (rows.loc[("en", "lang"), "delta"].abs() > 0).all()
    assert rows.loc[("en", "lang", "en"), "n_neurons"] == rows.loc[("en", "lang_random", "en"), "n_neurons"] > 0
    # de holds nothing, so no neuron is in every language's set: en's specific set is its whole set
    assert rows.loc[("en", "specific", "en"), "loss"] == rows.loc[("en", "lang", "en"), "loss"]
    s = summary(df.assign(model="m")).set_index("neurons")
    d = df[(df["neurons"] == "lang") & (df["deactivated"] == df["evaluated"])]["delta"].mean()
    assert s.loc["lang", "diagonal"] == pytest.approx(d)


def test_fewer_held_out_documents_than_n_docs_are_refused(tmp_path):
    """loss_matrix.n_docs: 16 measured 5 to 8 documents per language with a log line only (issue 29, 10)."""
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
