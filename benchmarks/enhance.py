"""`make bench`: memory and time of enhancement -- tuning a language's neuron slices, the LoRA baseline of as
many parameters, and a plain full fine-tune of the same model -- measured in one run on the same batches.

Prints one `name: value` line per measurement and writes results/bench/enhance_<shape>.json (with the machine):

  trainable_<mode>, optimizer_state_mb_<mode>  (AdamW's moments: proportional to what is trained)
  peak_mb_<mode>      (peak malloc'd memory above the loaded model while training, CPU)
  step_s_<mode>       (median seconds per training step)
  peak_neurons_over_full, peak_lora_over_full, optimizer_state_neurons_over_full

Shapes: the organism (trained, with its German neuron set, when results/ has them; else its shape with random
neurons) and, with --qwen, a random-weight Qwen2.5-0.5B shape (no download) with 1% of each layer's neurons.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

from benchmarks.machine import ROOT, write_result
from benchmarks.run import build_model, peak_alloc_mb


def neuron_set(model, share: float, seed: int = 0) -> dict:
    from mwork.arch import get_adapter

    adapter = get_adapter(model)
    g = torch.Generator().manual_seed(seed)
    return {f"layers.{i}.{k}": torch.randperm(n, generator=g)[:max(1, int(share * n))]
            for i in range(adapter.n_layers) for k, n in adapter.sizes().items()}


def optimizer_mb(opt) -> float:
    return sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
               if torch.is_tensor(t)) / 1e6


def run_mode(mode: str, base, neurons: dict, batches, lr: float = 1e-4):
    """(trainable parameters, optimizer state MB, peak MB, median step seconds) of one way of tuning."""
    from mwork.arch import get_adapter
    from mwork.deltas import build_slices, lora_model, n_trainable, with_deltas
    from mwork.enhance import lora_rank

    model = copy.deepcopy(base)
    adapter = get_adapter(model)
    for p in model.parameters():
        p.requires_grad_(mode == "full")
    hooks = None
    if mode == "neurons":
        slices = build_slices(model, neurons)
        params = [p for s in slices for p in s.params()]
        hooks = with_deltas(model, slices)
        hooks.__enter__()
    elif mode == "lora":
        n = n_trainable(build_slices(model, neurons))
        model = lora_model(model, lora_rank(model, n))
        params = [p for p in model.parameters() if p.requires_grad]
    else:
        params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=lr)
    model.train()
    times = []

    def steps():
        for ids, att in batches:
            t = time.perf_counter()
            loss = model(**adapter.forward_kwargs(ids, att), labels=ids.masked_fill(att == 0, -100)).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            times.append(time.perf_counter() - t)

    peak = peak_alloc_mb(steps)
    if hooks is not None:
        hooks.__exit__(None, None, None)
    trainable = sum(p.numel() for p in params)
    return trainable, optimizer_mb(opt), peak, statistics.median(times[1:] or times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qwen", action="store_true", help="a random-weight Qwen2.5-0.5B shape instead of the organism")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    shape = "qwen" if args.qwen else "organism"
    if args.qwen:
        model, desc, vocab = build_model("qwen", "cpu")
        neurons, where = neuron_set(model, 0.01), "1% of each layer's neurons, random"
    else:
        model, desc, vocab = build_model("organism", "cpu")
        path = ROOT / "results" / "organism" / "neurons" / "catalogs" / "de.safetensors"
        if path.exists() and "trained" in desc:
            from mwork.neurons import load_neurons, mask_keys

            masks, _ = load_neurons(str(path), model=model)
            neurons, where = {k: masks[k] for k in mask_keys(masks)}, f"German's set ({path.name})"
        else:
            neurons, where = neuron_set(model, 0.05), "5% of each layer's neurons, random"
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randint(3, vocab, (args.batch, args.length), generator=g),
                torch.ones(args.batch, args.length, dtype=torch.long)) for _ in range(args.steps)]
    total = sum(p.numel() for p in model.parameters())
    print(f"model: {desc} ({total / 1e6:.1f}M parameters); neurons: {where}; batch {args.batch} x {args.length}; "
          f"{args.steps} AdamW steps; threads {torch.get_num_threads()}")
    res = {"model_params": total}
    for mode in ("neurons", "lora", "full"):
        trainable, state, peak, step = run_mode(mode, model, neurons, batches)
        res.update({f"trainable_{mode}": trainable, f"trainable_share_{mode}": trainable / total,
                    f"optimizer_state_mb_{mode}": state, f"peak_mb_{mode}": peak, f"step_s_{mode}": step})
    for mode in ("neurons", "lora"):
        res[f"peak_{mode}_over_full"] = res[f"peak_mb_{mode}"] / res["peak_mb_full"]
        res[f"step_{mode}_over_full"] = res[f"step_s_{mode}"] / res["step_s_full"]
    res["optimizer_state_neurons_over_full"] = res["optimizer_state_mb_neurons"] / res["optimizer_state_mb_full"]
    write_result(f"enhance_{shape}", {"model": desc, "neurons": where, "batch": args.batch, "length": args.length,
                                      **res})


if __name__ == "__main__":
    main()
