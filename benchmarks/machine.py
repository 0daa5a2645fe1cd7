"""What a benchmark ran on, and where its numbers go: results/bench/<name>.json with the machine (cores,
torch threads, CPU model, accelerator), so runs on different machines compare as ratios."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "bench"


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cpu": cpu, "device": gpu or "cpu",
            "torch": torch.__version__, "python": platform.python_version()}


def write_result(name: str, result: dict) -> Path:
    """results/bench/<name>.json: the measurements and the machine; also printed as `name: value` lines."""
    for k, v in result.items():
        print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2, default=str), encoding="utf-8")
    print(f"written: {path.relative_to(ROOT)}")
    return path
