"""`python -m benchmarks.eval_engine`: the evaluation engines side by side on a real model and the real tasks.

On the converted real model (results/models/<model>, configs/real.yaml's generation settings and chat
template), German MGSM and XQuAD from eval.files, unmasked and with German's neuron set deactivated
(results/<model>/neurons/<corpus>/de.safetensors), every engine of ``--engines`` (``batching:dtype``) runs
the same items in one process. The first engine is the reference (default ``static:float32``, the path
every table used so far). Per engine and case it reports items per second, the speed-up over the
reference, the share of items whose extracted answer is identical to the reference's, the share scored
the same, the score and whether it lies inside the reference's 95% bootstrap interval; per engine the
deactivated over unmasked time. Writes results/bench/eval_engine_<model>.json (with the machine).
``--gemm``: GFLOP/s of one projection's matrix product per number of rows, float32 and bfloat16 (where
decoding's time goes on a CPU), results/bench/eval_engine_gemm.json.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
TASKS = {"reasoning": "MGSM", "understanding": "XQuAD"}


def parse_engine(text: str) -> dict:
    batching, _, dtype = text.partition(":")
    from mwork.evaluate import engine_of

    return engine_of({"batching": batching, "dtype": dtype or "model"})


def boot_ci(values: list[float], seed: int = 0) -> tuple[float, float]:
    """The 95% percentile interval of the mean over items (the tables' bootstrap, ``mwork.stats``)."""
    from mwork.stats import Bootstrap, ci

    return ci(Bootstrap(seed=seed).means(("reference",), dict(enumerate(values))))


def gemm_profile(rows=(1, 16, 32, 64, 128, 512), shape=(4864, 896), reps=50) -> dict:
    """GFLOP/s of one FFN projection of Qwen2.5-0.5B (896 -> 4,864) at each number of rows, float32 and
    bfloat16: what a decoding step's matrix products run at for a batch of that many sequences."""
    out = {}
    for dtype in (torch.float32, torch.bfloat16):
        w = torch.randn(*shape, dtype=dtype)
        for m in rows:
            x = torch.randn(m, shape[1], dtype=dtype)
            for _ in range(3):
                torch.nn.functional.linear(x, w)
            t = time.perf_counter()
            for _ in range(reps):
                torch.nn.functional.linear(x, w)
            sec = (time.perf_counter() - t) / reps
            out[f"{str(dtype).removeprefix('torch.')} rows={m} GFLOP/s"] = 2 * m * shape[0] * shape[1] / sec / 1e9
    return out


def real_setup(model: str, what: str) -> tuple[dict, Path, Path]:
    """(config.yaml with configs/real.yaml over it, the converted model's folder, German's neuron file), both
    files checked to exist (``what`` names the benchmark in the error)."""
    from mwork.config import layered

    cfg = layered(yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8")),
                  yaml.safe_load((ROOT / "configs" / "real.yaml").read_text(encoding="utf-8")))
    model_dir = ROOT / "results" / "models" / model
    neuron_file = ROOT / "results" / model / "neurons" / cfg["corpus"] / "de.safetensors"
    for need, rule in ((model_dir, "packaged_model"), (neuron_file, "neurons")):
        if not need.exists():
            raise SystemExit(f"{what}: {need} does not exist; build it first (rule {rule}, "
                             f"snakemake --configfile configs/real.yaml {need.relative_to(ROOT)})")
    return cfg, model_dir, neuron_file


def main(argv=None):
    import argparse

    from mwork.evaluate import engine_cast, evaluate
    from mwork.masking import deactivate
    from mwork.models import load_model
    from mwork.neurons import load_neurons
    from mwork.tasks.data import load_items

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen")
    ap.add_argument("--reasoning-items", type=int, default=32)
    ap.add_argument("--understanding-items", type=int, default=64)
    ap.add_argument("--engines", nargs="+", default=["static:float32", "continuous:bfloat16"])
    ap.add_argument("--batch-size", type=int, default=None, help="default: eval.batch_size")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--unmasked-only", action="store_true", help="skip the deactivated runs (a quick look)")
    ap.add_argument("--out", default=None, help="default: results/bench/eval_engine_<model>.json")
    ap.add_argument("--gemm", action="store_true", help="only the matrix-product profile "
                    "(results/bench/eval_engine_gemm.json)")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    if args.gemm:
        from benchmarks.machine import write_result

        write_result("eval_engine_gemm", {"threads": torch.get_num_threads(), **gemm_profile()})
        return
    cfg, model_dir, neuron_file = real_setup(args.model, "eval engine benchmark")
    engines = [parse_engine(e) for e in args.engines]
    chat = bool(cfg["models"][args.model].get("chat_template", False))
    bs = args.batch_size or cfg["eval"]["batch_size"]
    items = {"reasoning": args.reasoning_items, "understanding": args.understanding_items}
    print(f"model {args.model}; German; batch size {bs}; threads {torch.get_num_threads()}; engines "
          + ", ".join(f"{e['batching']}:{e['dtype']}" for e in engines), flush=True)

    cases = (False,) if args.unmasked_only else (False, True)
    runs = {}  # (engine label, task, masked) -> (seconds, summary, rows)
    for eng, label in zip(engines, args.engines):
        model, tok = load_model(str(model_dir))
        masks, _ = load_neurons(neuron_file, model=model, language="de")  # checked against the stored weights
        engine_cast(model, eng)
        for task in args.tasks:
            gen = cfg["eval"]["generation"].get(task, {})
            recs = load_items(task, "de", "files", n_items=items[task], seed=cfg["seed"],
                              folder=str((ROOT / cfg["eval"]["files"][task]).resolve()))
            for masked in cases:
                with deactivate(model, masks if masked else {}):
                    t = time.perf_counter()
                    summary, rows = evaluate(model, tok, task, "de", recs, gen.get("max_new_tokens", 32),
                                             gen.get("stop", []), batch_size=bs, chat_template=chat, progress=False,
                                             max_context_tokens=gen.get("max_context_tokens"),
                                             batching=eng["batching"])
                    sec = time.perf_counter() - t
                runs[label, task, masked] = (sec, summary, rows)
                print(f"{label} {task} {'deactivated' if masked else 'unmasked'}: {len(rows)} items in {sec:.1f} s "
                      f"({len(rows) / sec:.3f} items/s), score {summary['score']:.1f}", flush=True)
        del model

    ref = args.engines[0]
    res = {"model": args.model, "language": "de", "batch_size": bs, "reference": ref, "engines": args.engines,
           "items": {t: items[t] for t in args.tasks}, "cases": []}
    for label in args.engines:
        for task in args.tasks:
            for masked in cases:
                sec, summary, rows = runs[label, task, masked]
                rsec, rsum, rrows = runs[ref, task, masked]
                lo, hi = boot_ci(rsum["items"]["score"])
                same = np.mean([a["extracted"] == b["extracted"] for a, b in zip(rows, rrows)])
                same_score = np.mean([s == r for s, r in zip(summary["items"]["score"], rsum["items"]["score"])])
                case = {"engine": label, "task": task, "dataset": TASKS[task], "deactivated": masked,
                        "items": len(rows), "seconds": sec, "items_per_s": len(rows) / sec,
                        "speedup": rsec / sec, "same_answer": float(same), "same_score": float(same_score),
                        "score": summary["score"], "reference_score": rsum["score"], "reference_ci": [lo, hi],
                        "score_inside_reference_ci": bool(lo <= summary["score"] <= hi)}
                res["cases"].append(case)
        for task in args.tasks if not args.unmasked_only else ():
            res[f"{label} {task} deactivated_over_unmasked"] = (runs[label, task, True][0]
                                                                 / runs[label, task, False][0])
    print("\nengine                 task           case         items/s  speed-up  same answer  score [ref 95% CI]")
    for c in res["cases"]:
        print(f"{c['engine']:22s} {c['dataset']:14s} {'deactivated' if c['deactivated'] else 'unmasked':12s} "
              f"{c['items_per_s']:7.3f}  {c['speedup']:7.2f}x  {100 * c['same_answer']:9.1f}%  "
              f"{c['score']:.1f} [{c['reference_ci'][0]:.1f}, {c['reference_ci'][1]:.1f}]")
    from benchmarks.machine import write_result

    name = Path(args.out).stem if args.out else f"eval_engine_{args.model}"
    write_result(name, {k: v for k, v in res.items() if k != "cases"} | {"cases": res["cases"]})


if __name__ == "__main__":
    main()
