"""Calibrate the model organism: train variants at equal steps and score each on the suites' test sets.

A variant is a partial config merged over the base config (e.g. ``{"organism": {"train": {"lr": 0.004}},
"suites": {"understanding_pool": 24}}``; a dict merges key by key, so give ``null`` to drop a key (its default applies),
e.g. ``{"suites": {"task_scale": null}}``); what matters for learning is the number of steps, not the
device, so on a GPU a dozen variants run side by side in minutes (``--parallel``) and the winner is then
checked on the CPU by the DAG itself. Needs the corpus (``snakemake results/corpus/catalogs/en.jsonl``).

    python benchmarks/calibrate.py --variants '{"base": {}, "lr4": {"organism": {"train": {"lr": 0.004}}}}' \\
        [--config config.yaml] [--device cuda] [--parallel] [--tasks understanding knowledge] [--n-eval 200]

Prints one line per variant (score per task and language, %) and writes ``--out`` (JSON, with the
understanding accuracy per relation and number of people under ``detail``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:  # null drops the key: the schema's default applies
            out.pop(k, None)
        else:
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def run_variant(name: str, cfg: dict, device: str, tasks: list[str], n_eval: int) -> dict:
    import torch

    from mwork.evaluate import evaluate
    from mwork.organism import train_organism, train_tokenizer, training_texts
    from mwork.tasks.suites import suites_from_spec

    torch.set_num_threads(1 if device != "cpu" else cfg["organism"].get("threads", 2))
    t0 = time.time()
    sp, org = cfg["suites"], cfg["organism"]
    langs = cfg["languages"]
    suites = suites_from_spec(langs, sp)
    corpus_dir = ROOT / "results" / "corpus" / org["corpus"]
    corpus = {}
    for lang in langs:
        path = corpus_dir / f"{lang}.jsonl"
        if not path.exists():
            raise SystemExit(f"{path} is missing: build the corpus first (snakemake {path.relative_to(ROOT)})")
        corpus[lang] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    texts = training_texts(corpus, suites, org["mix"], cfg["seed"])
    tok_texts = training_texts(corpus, suites, {**org["mix"], "corpus_repeats": {}, "world_repeats": 1}, cfg["seed"])
    tok = train_tokenizer([t for _, _, t in tok_texts], org["tokenizer"]["vocab_size"])
    t1 = time.time()
    model, _ = train_organism(texts, tok, org["arch"], org["train"], cfg["seed"], log=lambda *a: None,
                              progress=False, device=device)
    t2 = time.time()
    scores, detail = {}, {}
    for task in tasks:
        gen = cfg["eval"]["generation"][task]
        for lang in cfg["eval_languages"]:
            recs = suites[task][lang]["test"][:n_eval]
            summary, rows = evaluate(model, tok, task, lang, recs, gen["max_new_tokens"],
                                     gen.get("stop", ()), batch_size=cfg["eval"].get("batch_size", 32), progress=False)
            scores[f"{task}/{lang}"] = round(summary["score"], 1)
            if task == "understanding":  # accuracy per relation and number of people: what is read, what is not
                for key in ("relation", "n_people"):
                    for val in sorted({rec[key] for rec in recs}):
                        hits = [row["correct"] for rec, row in zip(recs, rows) if rec[key] == val]
                        detail[f"{task}/{lang}/{key}={val}"] = round(100.0 * sum(hits) / len(hits), 1)
    return {"variant": name, "prep_s": round(t1 - t0, 1), "train_s": round(t2 - t1, 1),
            "eval_s": round(time.time() - t2, 1), "steps": org["train"]["steps"], "scores": scores,
            "detail": detail}


def line(r: dict, tasks, langs) -> str:
    cells = " ".join(f"{t[:5]}:" + ",".join(f"{r['scores'][f'{t}/{lang}']:.0f}" for lang in langs) for t in tasks)
    return f"{r['variant']:<16} train {r['train_s']:>6.0f}s  {cells}"


def main(argv=None):
    import yaml

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", required=True, help="JSON: name -> partial config (or a path to such a file)")
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--parallel", action="store_true", help="one process per variant (for a GPU)")
    ap.add_argument("--tasks", nargs="+", default=["reasoning", "understanding", "knowledge", "generation"])
    ap.add_argument("--n-eval", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "calibrate.json"))
    ap.add_argument("--only", help=argparse.SUPPRESS)  # a child of --parallel runs one variant
    a = ap.parse_args(argv)
    spec = Path(a.variants).read_text() if os.path.exists(a.variants) else a.variants
    variants = json.loads(spec)
    base = yaml.safe_load(Path(a.config).read_text())
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.only:
        r = run_variant(a.only, merge(base, variants[a.only]), a.device, a.tasks, a.n_eval)
        Path(f"{out}.{a.only}").write_text(json.dumps(r))
        return
    results = []
    if a.parallel:
        procs = [subprocess.Popen([sys.executable, __file__, *(argv or sys.argv[1:]), "--only", name])
                 for name in variants]
        for p in procs:
            p.wait()
        for name in variants:
            part = Path(f"{out}.{name}")
            if part.exists():
                results.append(json.loads(part.read_text()))
                part.unlink()
    else:
        results = [run_variant(name, merge(base, over), a.device, a.tasks, a.n_eval) for name, over in variants.items()]
    out.write_text(json.dumps(results, indent=1))
    print(f"{'variant':<16} {'':>13}  per task: " + ",".join(base["eval_languages"]))
    for r in results:
        print(line(r, a.tasks, base["eval_languages"]))


if __name__ == "__main__":
    main()
