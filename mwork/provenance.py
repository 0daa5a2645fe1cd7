"""What a run was made of, for the report: machine, packages, models, data, neuron files, run times.

Everything is read from files the run wrote (neuron-file metadata, corpus files, Snakemake's
``benchmark:`` files) and from the running interpreter; nothing is typed in by hand.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd
import torch

from .io import file_sha256
from .neurons import load_neurons

PACKAGES = ("mwork", "torch", "transformers", "tokenizers", "safetensors", "accelerate", "datasets", "gguf", "peft",
            "rouge-score", "cld3-py", "snakemake", "snakemake-executor-plugin-slurm", "numpy", "pandas", "matplotlib")


def machine() -> dict:
    """CPU model, cores, torch threads, accelerator, Python and platform of the machine writing the report."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "accelerator": ", ".join(gpus) or "none (CPU)", "python": platform.python_version(),
            "platform": platform.platform()}


def packages(names=PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root: Path) -> str:
    """The checkout's commit (with ``+changes`` when its tracked files differ), or ``unknown``."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def neuron_files(paths) -> list[dict]:
    """Per neuron file: its model, fingerprint, language, documents, neurons selected and sha256."""
    rows = []
    for path in paths:
        masks, meta = load_neurons(path)
        rows.append({"file": str(path), "model": meta.get("model", ""), "revision": meta.get("model_revision", ""),
                     "fingerprint": meta.get("model_fingerprint", ""), "language": meta.get("language", ""),
                     "corpus": meta.get("corpus", ""), "n_docs": meta.get("n_docs", ""),
                     "neurons": sum(int(m.sum()) for m in masks.values()), "sha256": file_sha256(path)})
    return rows


def runtimes(bench_dir: Path) -> list[dict]:
    """One row per Snakemake ``benchmark:`` file: stage (its folder under results/benchmarks, e.g. ``plnd``,
    ``eval``), job (the rest of its path), seconds, max RSS."""
    rows = []
    for tsv in sorted(Path(bench_dir).rglob("*.tsv")):
        rel = tsv.relative_to(bench_dir)
        try:
            df = pd.read_csv(tsv, sep="\t")
        except (OSError, ValueError):
            continue
        if df.empty or "s" not in df:
            continue
        rows.append({"stage": rel.parts[0], "job": str(rel.with_suffix(""))[len(rel.parts[0]) + 1:] or rel.stem,
                     "seconds": float(df["s"].iloc[-1]),
                     "max_rss_mb": float(df["max_rss"].iloc[-1]) if "max_rss" in df else float("nan")})
    return rows


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def provenance_markdown(info: dict) -> str:
    """The report's provenance page from ``info`` (keys: commit, machine, packages, models, engines, data,
    neurons, runtimes)."""
    out = ["# Provenance of this run\n", f"Checkout: `{info['commit']}`\n", "## Machine\n",
           _table([info["machine"]], list(info["machine"])), "## Packages\n",
           _table([{"package": k, "version": v} for k, v in info["packages"].items()], ["package", "version"]),
           "## Models\n", _table(info["models"], ["model", "source", "location", "revision", "license", "fingerprint"]),
           "## Evaluation engines (eval.engine, models.<name>.engine)\n",
           _table(info.get("engines") or [], ["model", "batching", "dtype"]),
           "## Data\n", _table(info["data"], ["what", "source", "detail"]),
           "## Neuron files\n",
           _table(info["neurons"], ["file", "language", "n_docs", "neurons", "fingerprint", "sha256"])]
    rt = info["runtimes"]
    per_rule: dict[str, list[float]] = {}
    for r in rt:
        per_rule.setdefault(r["stage"], []).append(r["seconds"])
    summary = [{"stage": k, "jobs": len(v), "total_s": round(sum(v), 1), "max_s": round(max(v), 1)}
               for k, v in sorted(per_rule.items(), key=lambda kv: -sum(kv[1]))]
    out += ["## Run times (Snakemake benchmark files; every job is in runtimes.csv)\n",
            _table(summary, ["stage", "jobs", "total_s", "max_s"]),
            f"\nTotal over the benchmarked jobs: {sum(r['seconds'] for r in rt) / 60:.1f} min of job time.\n"]
    return "\n".join(out)


def dumps(info: dict) -> str:
    return json.dumps(info, indent=1, sort_keys=True, default=str)
