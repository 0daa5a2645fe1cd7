"""Where a benchmark's numbers go: results/bench/<name>.json with the machine (cores, torch threads, CPU
model, accelerator: ``mwork.provenance.machine``), so runs on different machines compare as ratios."""

from __future__ import annotations

import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "bench"


def machine() -> dict:
    """The machine as the provenance page records it, and the torch version."""
    from mwork.provenance import machine as run_machine

    return {**run_machine(), "torch": torch.__version__}


def write_result(name: str, result: dict) -> Path:
    """results/bench/<name>.json: the measurements and the machine; also printed as `name: value` lines."""
    for k, v in result.items():
        print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2, default=str), encoding="utf-8")
    print(f"written: {path.relative_to(ROOT)}")
    return path
