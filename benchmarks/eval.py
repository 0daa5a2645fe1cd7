"""`make bench` (evaluation part): generation throughput per task, batched vs one by one.

`--model organism` (default; results/organism/model, config.yaml) or `--model qwen` / `gemma` (the converted
real model in results/models/<name>, with configs/real.yaml's generation settings and chat template);
`--items` per task (German test prompts of the suites). Writes results/bench/eval_<model>.json.

Prints `eval_<task>_items_per_s` at the configured batch size and `eval_<task>_batched_over_unbatched`
(throughput ratio), measured in one run on the same items; and `masked_generation_over_unmasked`: the
time of the same fixed-length generation (one batch, 40 new tokens) with German's language-specific
neurons deactivated in every layer, over the time without (median of 12 runs each, interleaved in alternating order; the hooks'
overhead; goal <= 1.05), and the same ratio on a random-weight Llama of width 1024
(`masked_generation_over_unmasked_width1024`), where the hooks' fixed per-call cost is a smaller share.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    import argparse

    from mwork.config import layered
    from mwork.evaluate import evaluate
    from mwork.models import load_model
    from mwork.tasks.data import load_items

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="organism")
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--tasks", nargs="*", default=None, help="default: the config's tasks")
    ap.add_argument("--reps", type=int, default=12, help="runs of each (masked, unmasked) generation")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    if args.model != "organism":
        cfg = layered(cfg, yaml.safe_load((ROOT / "configs" / "real.yaml").read_text(encoding="utf-8")))
    model_dir = ROOT / "results" / ("organism/model" if args.model == "organism" else f"models/{args.model}")
    if not model_dir.is_dir():
        raise SystemExit(f"eval benchmark: {model_dir} does not exist; build it first (make run)")
    model, tok = load_model(str(model_dir))
    chat = bool(cfg["models"].get(args.model, {}).get("chat_template", False))
    bs, n = cfg["eval"]["batch_size"], args.items
    print(f"model: {args.model}; {n} items per task (German); batch size {bs}; threads {torch.get_num_threads()}")
    res = {"model": args.model, "items": n, "batch_size": bs}
    for task in args.tasks or cfg["tasks"]:
        gen = cfg["eval"]["generation"].get(task, {})
        items = load_items(task, "de", "suites", str(ROOT / "results" / "suites" / task / "de.test.jsonl"))[:n]
        rates = {}
        for b in (bs, 1):
            t = time.perf_counter()
            evaluate(model, tok, task, "de", items, gen["max_new_tokens"], gen.get("stop", []), batch_size=b,
                     progress=False, chat_template=chat, max_context_tokens=gen.get("max_context_tokens"))
            rates[b] = len(items) / (time.perf_counter() - t)
        res[f"eval_{task}_items_per_s"] = rates[bs]
        res[f"eval_{task}_batched_over_unbatched"] = rates[bs] / rates[1]
        print(f"eval_{task}_items_per_s: {rates[bs]:.4g}")
        print(f"eval_{task}_batched_over_unbatched: {rates[bs] / rates[1]:.4g}", flush=True)
    neuron_file = ROOT / "results" / args.model / "neurons" / cfg["corpus"] / "de.safetensors"
    if neuron_file.exists():
        from mwork.masking import deactivate
        from mwork.neurons import load_neurons

        masks, _ = load_neurons(neuron_file, model=model)
        items = load_items("generation", "de", "suites", str(ROOT / "results" / "suites" / "generation" / "de.test.jsonl"))
        from mwork.evaluate import build_prompt

        prompts = [build_prompt(tok, "generation", r, "de", chat)[0] for r in items[:bs]]
        enc = tok(prompts, return_tensors="pt", padding=True)
        n_new = cfg["eval"]["generation"]["generation"]["max_new_tokens"]

        def run():  # fixed length, so deactivation cannot change the amount of work
            with torch.no_grad():
                model.generate(**enc, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False,
                               pad_token_id=tok.pad_token_id)

        def timed(masked):
            if not masked:
                t = time.perf_counter()
                run()
                return time.perf_counter() - t
            with deactivate(model, masks):
                t = time.perf_counter()
                run()
                return time.perf_counter() - t

        run()
        times = {"plain": [], "masked": []}
        for i in range(args.reps):  # interleaved in alternating order (ABBA), so drift and order cancel; medians
            for masked in ((False, True) if i % 2 == 0 else (True, False)):
                times["masked" if masked else "plain"].append(timed(masked))
        n = sum(int(m.sum()) for m in masks.values())
        print(f"masked_neurons: {n}")
        import statistics

        ratio = statistics.median(times["masked"]) / statistics.median(times["plain"])
        print(f"masked_generation_over_unmasked: {ratio:.4g}")
        res["masked_neurons"], res["masked_generation_over_unmasked"] = n, ratio
    if args.model == "organism":
        res["masked_generation_over_unmasked_width1024"] = wide_model_hook_overhead()
    from benchmarks.machine import write_result

    write_result(f"eval_{args.model}", res)


def wide_model_hook_overhead():
    """The same ratio on a random-weight Llama of width 1024 (8 layers, ~3% of every structure masked).

    The hooks cost a fixed few microseconds per module call, so their share falls with the model's
    width: this line shows what is overhead of Python dispatch on the 3M-parameter organism.
    """
    import statistics

    from transformers import LlamaConfig, LlamaForCausalLM

    from mwork.masking import deactivate

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=8192, hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                      num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=512)
    model = LlamaForCausalLM(cfg).eval()
    g = torch.Generator().manual_seed(0)
    masks = {}
    for i in range(cfg.num_hidden_layers):
        masks[f"layers.{i}.ffn"] = torch.rand(cfg.intermediate_size, generator=g) < 0.03
        masks[f"layers.{i}.attn.q"] = torch.rand(cfg.hidden_size, generator=g) < 0.03
        for kind in ("k", "v"):
            masks[f"layers.{i}.attn.{kind}"] = torch.rand(512, generator=g) < 0.03
    ids = torch.randint(3, 8192, (8, 64), generator=g)

    def run():
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16,
                           min_new_tokens=16, do_sample=False, pad_token_id=0)

    run()
    times = {"plain": [], "masked": []}
    for i in range(8):  # alternating order (ABBA), medians
        for masked in ((False, True) if i % 2 == 0 else (True, False)):
            with deactivate(model, masks if masked else {}):
                t = time.perf_counter()
                run()
                times["masked" if masked else "plain"].append(time.perf_counter() - t)
    ratio = statistics.median(times["masked"]) / statistics.median(times["plain"])
    print(f"masked_generation_over_unmasked_width1024: {ratio:.4g}")
    return ratio


if __name__ == "__main__":
    main()
