"""`python -m benchmarks.eval_draft`: greedy generation checked against the unmodified model's answers
(``eval.engine.draft: original``, ``mwork.drafted``) beside plain greedy generation, on a real model and the
real tasks.

On the converted real model (results/models/<model>, configs/real.yaml's generation settings, engine and
chat template), MGSM and XQuAD from eval.files in ``--lang`` (German; ``en``: the English control): the model as it is generates the answers (the
drafts); then, with German's neuron set deactivated (results/<model>/neurons/<corpus>/de.safetensors), plain
generation and drafted generation run the same items in one process, for each of ``--sets``: ``all`` (the
whole set in every layer: the row that changes most answers, the draft's worst case) or a layer range
``a-b`` (0-based, inclusive: e.g. Qwen's task-solving layers 19-21, where the S rows deactivate). Per task
and set it reports the seconds of each, the speed-up, the share of answers identical to plain generation's,
the share scored the same, how many answers the draft settled alone and the share of draft tokens
accepted. Writes results/bench/eval_draft_<model>.json (``--name``), with the machine.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TASKS = {"reasoning": "MGSM", "understanding": "XQuAD"}


def main(argv=None):
    import argparse

    from benchmarks.eval_engine import real_setup
    from mwork.drafted import generate_drafted
    from mwork.evaluate import build_prompt, engine_cast, engine_of, generate, score_item, task_stops
    from mwork.masking import as_index, deactivate
    from mwork.models import load_model
    from mwork.neurons import load_neurons
    from mwork.tasks.data import load_items

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen")
    ap.add_argument("--reasoning-items", type=int, default=16)
    ap.add_argument("--understanding-items", type=int, default=32)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--lang", default="de", help="the items' language (German's set is deactivated: en is "
                    "the English control)")
    ap.add_argument("--sets", nargs="+", default=["all", "19-21"], help="all, or a layer range a-b (0-based)")
    ap.add_argument("--name", default=None, help="results/bench/<name>.json; default eval_draft_<model>")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cfg, model_dir, neuron_file = real_setup(args.model, "draft benchmark")
    spec = cfg["models"][args.model]
    engine = engine_of({**cfg["eval"].get("engine", {}), **(spec.get("engine") or {})})
    chat, bs = bool(spec.get("chat_template", False)), cfg["eval"]["batch_size"]
    items = {"reasoning": args.reasoning_items, "understanding": args.understanding_items}
    model, tok = load_model(str(model_dir))
    masks, _ = load_neurons(neuron_file, model=model, language="de")  # checked against the stored weights
    engine_cast(model, engine)
    print(f"model {args.model}; {args.lang} items, German's set; engine {engine['batching']}:{engine['dtype']}; batch size {bs}; "
          f"threads {torch.get_num_threads()}", flush=True)
    res = {"model": args.model, "language": args.lang, "set_of": "de", "engine": engine, "batch_size": bs, "cases": []}
    sets = {}
    for name in args.sets:
        a, _, b = name.partition("-")
        keep = range(int(a), int(b or a) + 1) if name != "all" else None
        sets[name] = {k: v for k, v in masks.items() if keep is None or int(k.split(".")[1]) in keep}
    for task in args.tasks:
        gen = cfg["eval"]["generation"].get(task, {})
        recs = load_items(task, args.lang, "files", n_items=items[task], seed=cfg["seed"],
                          folder=str((ROOT / cfg["eval"]["files"][task]).resolve()))
        prompts = [build_prompt(tok, task, r, args.lang, chat, gen.get("max_context_tokens"))[0] for r in recs]
        mnt, stop = gen.get("max_new_tokens", 32), task_stops(task, args.lang, gen.get("stop", []))
        kw = dict(batch_size=bs, progress=False, add_special_tokens=not chat)
        t = time.perf_counter()
        drafts = generate(model, tok, prompts, mnt, stop, batching=engine["batching"], **kw)
        draft_sec = time.perf_counter() - t
        for name, chosen in sets.items():
            with deactivate(model, chosen):
                t = time.perf_counter()
                plain = generate(model, tok, prompts, mnt, stop, batching=engine["batching"], **kw)
                plain_sec = time.perf_counter() - t
                stats = {}
                t = time.perf_counter()
                drafted = generate_drafted(model, tok, prompts, drafts, mnt, stop, stats=stats, **kw)
                drafted_sec = time.perf_counter() - t
            scored = [(score_item(task, r, a, args.lang), score_item(task, r, b, args.lang))
                      for r, a, b in zip(recs, plain, drafted)]
            key = "rougeL" if "rougeL" in scored[0][0] else "correct"
            case = {"task": task, "dataset": TASKS[task], "set": name, "neurons": sum(len(as_index(v)) for v in chosen.values()),
                    "items": len(recs), "unmasked_seconds": draft_sec, "plain_seconds": plain_sec,
                    "drafted_seconds": drafted_sec, "speedup": plain_sec / drafted_sec,
                    "same_text": sum(a == b for a, b in zip(plain, drafted)) / len(recs),
                    "same_score": sum(a[key] == b[key] for a, b in scored) / len(recs),
                    "changed_by_deactivation": sum(a != b for a, b in zip(drafts, plain)) / len(recs),
                    **{k: v for k, v in stats.items() if k != "items"}}
            res["cases"].append(case)
            print(f"{TASKS[task]} {args.lang}, German's set ({name}, {case['neurons']} neurons): {len(recs)} items; plain "
                  f"{plain_sec:.1f} s, drafted {drafted_sec:.1f} s: {case['speedup']:.2f}x; same text "
                  f"{100 * case['same_text']:.1f}%, same score {100 * case['same_score']:.1f}%; answers the "
                  f"deactivation changed {100 * case['changed_by_deactivation']:.1f}%; settled by the draft alone "
                  f"{stats['settled_by_draft']}, draft tokens accepted {stats['accepted_tokens']} of "
                  f"{stats['draft_tokens']}", flush=True)
    from benchmarks.machine import write_result

    write_result(args.name or f"eval_draft_{args.model}", res)


if __name__ == "__main__":
    main()
