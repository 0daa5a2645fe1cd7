"""Expected GPU-hours of the real reproduction (configs/paper.yaml), per stage, from the DAG's job counts
and token counts.

    .venv/bin/python -m benchmarks.compute [--config configs/paper.yaml] [--gpu h100]

No GPU was lent to any session that built this, so nothing here is a GPU measurement: GPU time comes from
a roofline — prompt tokens and PLND at a share of the card's bf16 peak (``--mfu``), every decoding step
at least one read of the weights at a share of its memory bandwidth (``--bw-eff``) — and PLND's cost is
the measured ratio of exact PLND to a forward pass (``--plnd-ratio``: 3.33 on the Qwen2.5-0.5B shape on
CPU; ``make bench`` prints it for the machine at hand). Counts of jobs come from Snakemake's dry
run of the configured targets; prompt lengths are the datasets' typical lengths, capped by the config.
Prints one line per stage and writes results/bench/compute_<config>.csv.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The 7B models' published shapes (the hub is out of reach offline): layers, hidden, FFN, vocabulary
SHAPES = {
    "lmsys/vicuna-7b-v1.5": (32, 4096, 11008, 32000),
    "mistralai/Mistral-7B-Instruct-v0.2": (32, 4096, 14336, 32000),
    "mistralai/Mistral-7B-v0.1": (32, 4096, 14336, 32000),
    "bigscience/bloomz-7b1": (30, 4096, 16384, 250880),
    "hfl/chinese-llama-2-7b": (32, 4096, 11008, 55296),
}
# items per language and typical prompt tokens of each task's test split (MGSM 250 questions; XQuAD
# 1190 questions on ~150-word contexts; X-CSQA 1000 validation questions; XL-Sum 500 sampled articles of
# ~500 words, cut to max_context_tokens)
TASK_ITEMS = {"reasoning": (250, 120), "understanding": (1190, 260), "knowledge": (1000, 90),
              "generation": (500, 900)}
GPUS = {"h100": (989e12, 3.35e12), "a100": (312e12, 2.0e12)}  # bf16 dense FLOP/s, memory bytes/s


def params(shape) -> float:
    layers, d, ffn, vocab = shape
    return layers * (4 * d * d + 3 * d * ffn) + 2 * vocab * d


def planned_jobs(config: str, target: str) -> dict[str, list[dict]]:
    """rule -> [wildcards] of a dry run of ``target``."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", target, "--configfile", config, "--cores", "1"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    jobs: dict[str, list[dict]] = {}
    rule = None
    for line in out.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
            jobs.setdefault(rule, []).append({})
        m = re.match(r"^\s+wildcards: (.*)$", line)
        if m and rule:
            jobs[rule][-1].update(dict(kv.split("=", 1) for kv in m.group(1).split(", ")))
    return jobs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/paper.yaml")
    ap.add_argument("--target", default="paper")
    ap.add_argument("--gpu", choices=sorted(GPUS), default="h100")
    ap.add_argument("--mfu", type=float, default=0.4, help="share of bf16 peak reached by prompts and PLND")
    ap.add_argument("--bw-eff", type=float, default=0.6, help="share of memory bandwidth reached while decoding")
    ap.add_argument("--plnd-ratio", type=float, default=3.33, help="exact PLND / forward (measured by `make bench` on the Qwen2.5-0.5B shape)")
    args = ap.parse_args(argv)

    from mwork.config import load_config, model_spec

    cfg = load_config(ROOT / "config.yaml", ROOT / args.config)
    peak, bw = GPUS[args.gpu]
    jobs = planned_jobs(args.config, args.target)

    def shape(model):
        return SHAPES[model_spec(cfg, model)["id"]]

    def prefill_s(model, tokens):
        return 2 * params(shape(model)) * tokens / (peak * args.mfu)

    rows = []
    # PLND: every document of the language (n_docs), up to max_length tokens (assume full length)
    plnd = cfg["plnd"]
    for w in jobs.get("plnd", []):
        n = cfg["corpora"][w["corpus"]]["n_docs"]
        n = n.get(w["lang"], n.get("default")) if isinstance(n, dict) else n
        tokens = n * plnd["max_length"]
        rows.append(("plnd", w["model"], tokens, args.plnd_ratio * prefill_s(w["model"], tokens)))
    # evaluation: prompt tokens once, then max_new_tokens decoding steps per batch (an upper bound: the
    # stops end most answers early)
    ev = cfg["eval"]
    tuning = cfg.get("stage_tuning") or {}
    for w in jobs.get("evaluate", []) + [{**w, "tuning": True} for w in jobs.get("evaluate_tuning", [])]:
        items, prompt = TASK_ITEMS[w["task"]]
        gen = ev["generation"][w["task"]]
        prompt = min(prompt, gen.get("max_context_tokens") or prompt)
        if w.get("tuning"):  # the stage tuning's held-out items
            items = min(items, int(tuning["n_items"]))
        elif ev["n_items"] != "all":
            items = min(items, int(ev["n_items"]))
        steps = -(-items // ev["batch_size"]) * gen["max_new_tokens"]
        p = params(shape(w["model"]))
        step_s = max(2 * p * ev["batch_size"] / (peak * args.mfu), 2 * p / (bw * args.bw_eff))
        rows.append(("evaluate", w["model"], items * (prompt + gen["max_new_tokens"]),
                     prefill_s(w["model"], items * prompt) + steps * step_s))
    # the lens, Figure 3 and the loss matrix: forward passes over a few documents (PLND passes for Figure 3)
    def lens_ratio(model):  # a forward, plus every layer's hidden states through the output matrix
        layers, d, _, vocab = shape(model)
        return 1 + layers * vocab * d / params(shape(model))

    def loss_docs(model):  # the unmodified model, then 6 X x (2 sets + 2 random controls x their draws)
        lm = {**cfg["loss_matrix"], **(cfg["models"].get(model, {}).get("loss_matrix") or {})}
        return lm["n_docs"] * 6 * (1 + 6 * (2 + 2 * lm["random_draws"]))

    for rule, per, ratio in (("language_ratio", lambda m: cfg["lens"]["n_docs"] * 6, None),
                             ("figure3", lambda m: cfg["figure3"]["n_docs"] * 6, args.plnd_ratio),
                             ("loss_matrix", loss_docs, 1.0),  # one job per model and domain
                             ("set_stability", lambda m: cfg["set_stability"]["max_docs"] * 6, args.plnd_ratio)):
        for w in jobs.get(rule, []):
            tokens = per(w.get("model")) * plnd["max_length"]
            r = lens_ratio(w["model"]) if ratio is None else ratio
            rows.append((rule, w.get("model", "?"), tokens, r * prefill_s(w["model"], tokens)))

    import pandas as pd

    df = pd.DataFrame(rows, columns=["stage", "model", "tokens", "gpu_s"])
    by = df.groupby("stage", sort=False).agg(jobs=("gpu_s", "size"), tokens=("tokens", "sum"), gpu_s=("gpu_s", "sum"))
    by["gpu_hours"] = by["gpu_s"] / 3600
    print(f"# {args.config}, target {args.target}, {args.gpu}: mfu {args.mfu}, bandwidth {args.bw_eff}, "
          f"PLND/forward {args.plnd_ratio}")
    for stage, r in by.iterrows():
        print(f"{stage}_jobs: {int(r['jobs'])}")
        print(f"{stage}_gpu_hours: {r['gpu_hours']:.1f}")
    print(f"total_gpu_hours: {by['gpu_hours'].sum():.1f}")
    out = ROOT / "results" / "bench" / f"compute_{Path(args.config).stem}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    by.reset_index().to_csv(out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
