"""`python -m mwork summary`: the README's findings block is written from the result files (the project's
own writers make them here), names each file, reports missing ones, and replaces only the marked block."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from mwork.__main__ import main
from mwork.errors import MworkError
from mwork.io import write_json, write_table
from mwork.known_lens import known_stages, summarize_known
from mwork.loss_matrix import cells, summary
from mwork.neuron_sets import neuron_summary
from mwork.neurons import save_neurons
from mwork.results_summary import BEGIN, END, discover_models, replace_block, summary_markdown
from mwork.set_stability import size_curve

LANGS = ["en", "de", "zh"]
KINDS = {"attn.q": 8, "attn.k": 8, "attn.v": 8, "ffn": 16}


def _neuron_files(root, model, rng):
    """Neuron files as rule neurons writes them (masks + metadata), sharing some neurons across languages."""
    common = {f"layers.{i}.{k}": torch.from_numpy(rng.random(n) < 0.2) for i in range(2) for k, n in KINDS.items()}
    files = {}
    for lang in LANGS:
        masks = {key: c | torch.from_numpy(rng.random(len(c)) < 0.2) for key, c in common.items()}
        path = root / model / "neurons" / "bible" / f"{lang}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_neurons(path, masks, {"model": f"results/models/{model}", "model_fingerprint": "abc", "language": lang,
                                   "corpus": "bible", "n_docs": "32", "split": "train", "max_length": "64",
                                   "selection": {"method": "selective", "share": 0.0013}})
        files[lang] = str(path)
    return files


def _loss_docs(model, rng):
    """``document_losses`` rows: each language's set raises its own loss most; random controls barely."""
    rows = []
    for x in LANGS:
        for neurons, draws, own, other in (("lang", 1, 3.0, 1.0), ("lang_random", 2, 0.1, 0.1),
                                           ("specific", 1, 2.0, 0.2), ("specific_random", 2, 0.05, 0.05)):
            for draw in range(draws):
                for y in LANGS:
                    for doc in range(6):
                        base = 2.0 + rng.random()
                        tokens = 40
                        d = (own if x == y else other) + 0.1 * rng.standard_normal()
                        rows.append({"model": model, "deactivated": x, "neurons": neurons, "draw": draw,
                                     "evaluated": y, "doc": doc, "tokens": tokens, "nll": (base + d) * tokens,
                                     "base_nll": base * tokens, "n_neurons": 100 if "lang" in neurons else 40})
    return pd.DataFrame(rows)


def _known_items(model, rng):
    """Per-item lens probabilities (rule known_lens): English ahead in layers 3-4, the own answer in 5-6."""
    rows = []
    for lang in ["en", "de", "zh"]:
        for i in range(20):
            for layer in range(1, 7):
                p_en = 0.05 + 0.01 * rng.random() if layer in (3, 4) else 0.001 * rng.random()
                p_lang = 0.05 + 0.01 * rng.random() if layer in (5, 6) else 0.001 * rng.random()
                if lang == "en":
                    p_lang = p_en
                rows.append({"model": model, "language": lang, "id": f"q{i}", "layer": layer, "p_lang": p_lang,
                             "p_en": p_en})
    return pd.DataFrame(rows)


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    rng = np.random.default_rng(0)
    # m1: every file; m2: PLND statistics only (everything else not built); organism: left out by default
    files = _neuron_files(root, "m1", rng)
    counts, _ = neuron_summary(files)
    write_table(counts, root / "m1" / "neurons" / "summary.csv")
    _neuron_files(root, "organism", rng)
    plnd = root / "m2" / "plnd" / "bible" / "en.safetensors"
    plnd.parent.mkdir(parents=True)
    save_neurons(plnd, {"layers.0.ffn.count": torch.zeros(4, dtype=torch.int32)},
                 {"language": "en", "corpus": "bible", "n_docs": "16", "split": "train"})
    (root / "logs" / "plnd" / "bible").mkdir(parents=True)  # a per-rule folder, not a model

    g = torch.Generator().manual_seed(0)
    importance = {x: {f"layers.{i}.{k}": torch.rand(12, n, generator=g) for i in range(2) for k, n in KINDS.items()}
                  for x in LANGS}
    rows = size_curve(importance, {"topk_intersection": {"method": "topk_intersection",
                                                         "top_k": {"attn": 0.25, "ffn": 0.25}}},
                      sizes=[4, 8], fractions=[0.5], seeds=3)
    write_table(pd.DataFrame([{"model": "m1", **r} for r in rows]), root / "m1" / "set_stability.csv")

    docs = _loss_docs("m1", rng)
    df = cells(docs, n_boot=200, seed="0")
    write_table(df, root / "m1" / "loss_matrix.csv")
    write_table(summary(df, docs, n_boot=200, seed="0"), root / "loss_matrix_summary.csv")

    known = summarize_known(_known_items("m1", rng), n_boot=200, min_prob=0.01)
    write_table(known, root / "figure1_known.csv")
    write_json(root / "m1" / "lens_stages.json", {"model": "m1", **known_stages(known, 0.01)})

    write_json(root / "provenance.json", {"commit": "0123456789abcdef0123+changes", "data": [
        {"what": "corpus bible", "source": "bible", "detail": "https://example.org/bible"},
        {"what": "corpus file en", "source": "results/corpus/bible/en.jsonl", "detail": "sha256 00"}]})
    (root / "table11.csv").write_text("model,task,score\nm1,reasoning,12.5\n", encoding="utf-8")
    (root / "table11.md").write_text("Table 11 (reproduced): test.\n\n| Model | En |\n|---|---|\n| m1 | 12.5 ±3.1 |\n",
                                     encoding="utf-8")
    return root


def _block(root, **kw):
    return summary_markdown(root, label="results", **kw)


def test_models_are_the_folders_plnd_ran_for(results):
    assert discover_models(results) == ["m1", "m2"]  # organism and logs left out
    assert "**organism**" not in _block(results)
    assert "**organism**" in _block(results, models=["organism"])


def test_block_names_each_file(results):
    text = _block(results)
    for rel in ("m1/neurons/summary.csv", "m1/set_stability.csv", "loss_matrix_summary.csv", "m1/loss_matrix.csv",
                "m1/lens_stages.json", "lens_known/m1.csv", "figure1_known.csv", "table11.md", "table11.csv",
                "m1/neurons/bible/*.safetensors"):
        assert f"`results/{rel}`" in text, rel
    assert "Table 11 (reproduced): test." in text and "| m1 | 12.5 ±3.1 |" in text  # embedded as written
    (results / "table3.md").write_text("Table 3 (reproduced): test.\n", encoding="utf-8")
    (results / "table3_answer_language.md").write_text("Answer language (reasoning): test.\n", encoding="utf-8")
    text = _block(results)  # a table's answer-language companion follows it
    assert text.index("Table 3 (reproduced): test.") < text.index("Answer language (reasoning): test.")
    assert "(rows in `results/table3_answer_language.csv`)" in text
    assert "selection selective, share 0.0013" in text and "32 documents per language (3 languages)" in text


def test_run_settings_from_provenance_and_neuron_files(results):
    run = _block(results).split("\n")[2]
    assert run.startswith("**Run** (`results/provenance.json`, `results/m1/neurons/bible/*.safetensors`")
    assert "commit 0123456789ab+changes; corpus bible (bible: https://example.org/bible)" in run
    assert "corpus file" not in run


def test_older_format_is_reported(results):
    path = results / "loss_matrix_summary.csv"
    pd.read_csv(path).drop(columns=["diagonal_lo", "diagonal_hi"]).to_csv(path, index=False)
    text = _block(results)
    assert ("`results/loss_matrix_summary.csv` lacks the columns diagonal_lo, diagonal_hi: written by an older "
            "version; rebuild target `results/loss_matrix_summary.csv`") in text
    assert "Per language X" in text  # the cells file is still read


def test_missing_files_are_reported(results):
    text = _block(results)
    for rel, rule in (("m2/neurons/summary.csv", "neuron_summary"), ("m2/set_stability.csv", "set_stability"),
                      ("m2/loss_matrix.csv", "loss_matrix"), ("m2/lens_stages.json", "lens_stages")):
        assert f"not built: `results/{rel}` (target `results/{rel}`, rule {rule})" in text
    assert "not built: `results/table1.md` (target `results/table1.csv`, rule table1)" in text
    assert "not built: `results/table3.md` (target `results/table3.csv`, rule deactivation_table)" in text
    assert "table8.md" not in text  # optional tables: only where built (the claims name every claim's table)
    (results / "figure1_known.csv").unlink()
    assert "not built: `results/figure1_known.csv` (target `results/figure1_known.csv`, rule figure1_known)" in \
        _block(results)


def test_neuron_numbers_follow_the_file(results):
    path = results / "m1" / "neurons" / "summary.csv"
    df = pd.read_csv(path)
    text = _block(results)
    lo, hi = f"{100 * df['share'].min():.2f}%", f"{100 * df['share'].max():.2f}%"
    assert f"a language's set is {lo}–{hi} of the model's neurons" in text
    assert f"mean set size {round(df['total'].mean()):,} neurons" in text
    df.loc[df["language"] == "de", "share"] = 0.98765
    df.to_csv(path, index=False)
    assert "–98.77% of the model's neurons" in _block(results)


def test_stability_numbers_follow_the_file(results):
    path = results / "m1" / "set_stability.csv"
    df = pd.read_csv(path)
    top = df[df["n_docs"] == df["n_docs"].max()]
    assert int(df["n_docs"].max()) == 12 and (top["seeds"] == 1).all()
    text = _block(results)
    assert (f"topk_intersection, min_doc_fraction 0.5: at 12 documents {100 * top['share_mean'].min():.2f}%"
            in text)
    assert "(at 8 documents, 3 seeds)" in text  # Jaccard between seeds: where there are several
    df.loc[df["n_docs"] == 12, "share_mean"] = 0.5
    df.to_csv(path, index=False)
    assert "at 12 documents 50.00% of the neurons per language" in _block(results)


def test_loss_matrix_numbers_and_words_follow_the_file(results):
    path = results / "loss_matrix_summary.csv"
    s = pd.read_csv(path)
    text = _block(results)
    r = s[s["neurons"] == "specific"].iloc[0]
    assert f"diagonal {r['diagonal']:.2f} [{r['diagonal_lo']:.2f}, {r['diagonal_hi']:.2f}]" in text
    assert "the diagonal's interval lies above the off-diagonal one" in text
    assert "specific's diagonal interval lies above the control's" in text
    assert "above the control's interval in 3 of 3 languages" in text
    c = pd.read_csv(results / "m1" / "loss_matrix.csv")
    de = c[(c["deactivated"] == "de") & (c["evaluated"] == "de") & (c["neurons"] == "lang")].iloc[0]
    assert f"de {de['delta']:.2f} [{de['delta_lo']:.2f}, {de['delta_hi']:.2f}] vs " in text
    # a changed number changes the text, and the words are computed from the intervals
    s.loc[s["neurons"] == "specific", ["diagonal", "diagonal_lo", "diagonal_hi"]] = [0.111, 0.05, 0.3]
    s.to_csv(path, index=False)
    text = _block(results)
    assert "specific (" in text and "diagonal 0.11 [0.05, 0.30]" in text
    assert "the diagonal's interval overlaps the off-diagonal one" in text


def test_stages_and_known_lens_follow_the_files(results):
    text = _block(results)
    st = json.loads((results / "m1" / "lens_stages.json").read_text())
    assert (st["under"], st["gen"], st["layers"]) == (2, 2, 6)
    assert "understanding = the first 2 layers, generation = the last 2 of 6 (understanding 1–2, task-solving " \
           "3–4, generation 5–6)" in text
    assert "* m1, de (20 questions): English answer ahead with the interval above 0 in layers 3–4" in text
    assert "own answer ahead with the interval below 0 in layers 5–6" in text
    assert "m1, en" not in text  # English queries are the control
    st["under"] = 3
    write_json(results / "m1" / "lens_stages.json", st)
    assert "understanding = the first 3 layers" in _block(results)


def test_readme_block_replaced_and_text_outside_kept(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nintro text\n\n", "\n\n## Later\n\nmore text\n"
    readme.write_text(f"{before}{BEGIN}\nold findings, typed by hand\n{END}{after}", encoding="utf-8")
    assert main(["summary", "--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(before + BEGIN + "\n") and text.endswith(END + after)
    inside = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    assert "old findings" not in inside
    assert inside.strip() == summary_markdown(results).strip()
    assert main(["summary", "--results", str(results), "--readme", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == text  # a second run changes nothing
    capsys.readouterr()
    assert main(["summary", "--results", str(results)]) == 0  # without --readme: printed
    assert capsys.readouterr().out.strip() == summary_markdown(results).strip()


def test_readme_without_markers_is_an_error(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n{BEGIN}\nno end marker\n", encoding="utf-8")
    assert main(["summary", "--results", str(results), "--readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert BEGIN in err and END in err and "missing" in err
    assert readme.read_text(encoding="utf-8") == f"# Title\n{BEGIN}\nno end marker\n"  # untouched
    with pytest.raises(MworkError, match="comes before"):
        replace_block(f"{END}\n{BEGIN}\n", "x")
    assert main(["summary", "--results", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_figure3_shares_follow_the_file(results):
    rows = []
    for x in LANGS:
        for y in LANGS:
            for layer, size in ((0, 4), (1, 0)):  # layer 1 holds no set neuron: left out of the means
                rows.append({"model": "m1", "queries": "corpus (8)", "set_language": x, "query_language": y,
                             "layer": layer, "structure": "ffn", "set_size": size,
                             "activated_share": (0.9 if x == y else 0.1) if size else float("nan"),
                             "random": 0.05 if size else float("nan")})
    write_table(pd.DataFrame(rows), results / "figure3_m1.csv")
    text = summary_markdown(results, ["m1"], label="results")
    assert "`results/figure3_m1.csv`" in text
    assert "ffn: own queries 90.00%, other languages' queries 10.00%, a random set of the layer's size 5.00%" in text
    (results / "figure3_m1.csv").unlink()
    assert "not built: `results/figure3_m1.csv`" in summary_markdown(results, ["m1"], label="results")


def test_models_side_by_side_embedded_as_written(results):
    assert "side by side" not in _block(results)  # not built: nothing to embed
    (results / "models_summary.md").write_text("| Model | Set |\n|---|---|\n| qwen | 0.13% |\n", encoding="utf-8")
    text = _block(results)
    assert "**Every model side by side** (from `results/models_summary.md`" in text and "| qwen | 0.13% |" in text


def test_the_xquad_loss_matrix_has_its_bullets_where_it_was_built(results):
    assert "XQuAD's paragraphs" not in _block(results)  # optional: nothing said where it was not asked for
    for rel in ("loss_matrix_summary.csv", "m1/loss_matrix.csv"):
        df = pd.read_csv(results / rel)
        df.loc[:, [c for c in df.columns if c.startswith("diagonal") or c == "delta"]] /= 4
        df.to_csv(results / rel.replace("loss_matrix", "loss_matrix_xquad"), index=False)
    text = _block(results)
    assert "* Deactivation loss matrix on XQuAD's paragraphs (a second domain, which PLND never read) " \
           "(`results/loss_matrix_xquad_summary.csv`, `results/m1/loss_matrix_xquad.csv`" in text
    r = pd.read_csv(results / "loss_matrix_xquad_summary.csv").query("neurons == 'lang'").iloc[0]
    assert f"lang ({int(r['n_neurons'])} neurons): diagonal {r['diagonal']:.2f}" in text.split("XQuAD's paragraphs")[1]


def test_a_loss_matrix_on_xquad_only_leaves_the_corpus_one_unmentioned(results):
    for rel in ("loss_matrix_summary.csv", "m1/loss_matrix.csv"):
        (results / rel).rename(results / rel.replace("loss_matrix", "loss_matrix_xquad"))
    text = _block(results)
    assert "not built: `results/loss_matrix_summary.csv`" not in text and "on XQuAD's paragraphs" in text
