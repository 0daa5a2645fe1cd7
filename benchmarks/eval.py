"""`make bench` (evaluation part): generation throughput per task on the organism, batched vs one by one.

Prints `eval_<task>_items_per_s` at the configured batch size and `eval_<task>_batched_over_unbatched`
(throughput ratio), measured in one run on the same items.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent


def main():
    from mwork.evaluate import evaluate
    from mwork.models import load_model
    from mwork.tasks.data import load_items

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    model_dir = ROOT / "results" / "organism" / "model"
    if not model_dir.is_dir():
        raise SystemExit("eval benchmark: build the organism first (make run)")
    model, tok = load_model(str(model_dir))
    bs, n = cfg["eval"]["batch_size"], 64
    print(f"model: trained organism; {n} items per task (German); batch size {bs}; threads {torch.get_num_threads()}")
    for task, gen in cfg["eval"]["generation"].items():
        items = load_items(task, "de", "suites", str(ROOT / "results" / "suites" / task / "de.test.jsonl"))[:n]
        rates = {}
        for b in (bs, 1):
            t = time.perf_counter()
            evaluate(model, tok, task, "de", items, gen["max_new_tokens"], gen.get("stop", []), batch_size=b,
                     progress=False)
            rates[b] = len(items) / (time.perf_counter() - t)
        print(f"eval_{task}_items_per_s: {rates[bs]:.4g}")
        print(f"eval_{task}_batched_over_unbatched: {rates[bs] / rates[1]:.4g}")


if __name__ == "__main__":
    main()
