"""`make bench` (evaluation part): generation throughput per task on the organism, batched vs one by one.

Prints `eval_<task>_items_per_s` at the configured batch size and `eval_<task>_batched_over_unbatched`
(throughput ratio), measured in one run on the same items; and `masked_generation_over_unmasked`: the
time of the same fixed-length generation (one batch, 40 new tokens) with German's language-specific
neurons deactivated in every layer, over the time without (median of 7 interleaved runs; the hooks'
overhead; goal <= 1.05).
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
    neuron_file = ROOT / "results" / "organism" / "neurons" / cfg["corpus"] / "de.safetensors"
    if neuron_file.exists():
        from mwork.masking import deactivate
        from mwork.neurons import load_neurons

        masks, _ = load_neurons(neuron_file, model=model)
        items = load_items("generation", "de", "suites", str(ROOT / "results" / "suites" / "generation" / "de.test.jsonl"))
        from mwork.evaluate import build_prompt

        prompts = [build_prompt(tok, "generation", r, "de", False) for r in items[:bs]]
        enc = tok(prompts, return_tensors="pt", padding=True)
        n_new = cfg["eval"]["generation"]["generation"]["max_new_tokens"]

        def run():  # fixed length, so deactivation cannot change the amount of work
            with torch.no_grad():
                model.generate(**enc, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False,
                               pad_token_id=tok.pad_token_id)

        times = {"plain": [], "masked": []}
        for _ in range(7):  # interleaved; medians
            t = time.perf_counter()
            run()
            times["plain"].append(time.perf_counter() - t)
            with deactivate(model, masks):
                t = time.perf_counter()
                run()
                times["masked"].append(time.perf_counter() - t)
        n = sum(int(m.sum()) for m in masks.values())
        print(f"masked_neurons: {n}")
        import statistics

        ratio = statistics.median(times["masked"]) / statistics.median(times["plain"])
        print(f"masked_generation_over_unmasked: {ratio:.4g}")


if __name__ == "__main__":
    main()
