"""`make bench`: speed and memory of PLND, measured in one run on the same batch.

Prints one `name: value` line per measurement. On the organism (the trained one if
results/organism/model exists, else a random-weight model of config.yaml's shape), CPU, batch 8 x 256:

  forward_s, plnd_ffn_v_s, plnd_full_s, plnd_ffn_v_over_forward, plnd_full_over_forward,
  plnd_peak_mem_over_forward, sequential_one_layer_s, parallel_speedup_vs_sequential,
  qk_proxy_spearman_q / _k (how well the change of attention probabilities ranks q/k features like the
  change of the attention block's output, Eq. 1 literally).

With a GPU: the same on a random-weight Mistral-7B-shaped model in bf16 at length 512 (`--mistral7b`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def build_model(kind: str, device: str):
    import yaml
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig

    if kind == "mistral7b":
        cfg = MistralConfig()  # Mistral-7B's shape: 32 layers, d=4096, FFN 14336, 32 heads, 8 KV heads
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        return model.eval(), "random-weight Mistral-7B shape (bf16)", cfg.vocab_size
    trained = ROOT / "results" / "organism" / "model"
    if trained.is_dir():
        model = AutoModelForCausalLM.from_pretrained(trained).eval()
        return model, f"trained organism ({trained})", model.config.vocab_size
    arch = yaml.safe_load((ROOT / "config.yaml").read_text())["organism"]["arch"]
    cfg = LlamaConfig(vocab_size=8192, hidden_size=arch["hidden_size"], intermediate_size=arch["intermediate_size"],
                      num_hidden_layers=arch["num_layers"], num_attention_heads=arch["num_heads"],
                      num_key_value_heads=arch.get("num_kv_heads", arch["num_heads"]))
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg).eval(), "random-weight organism shape", 8192


def timed(fn, reps: int, sync) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class _Mallinfo:
    """Bytes currently allocated by malloc (glibc's mallinfo2: arena + mmapped chunks)."""

    def __init__(self):
        import ctypes

        class MI2(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in
                        ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                         "fordblks", "keepcost")]

        self.libc = ctypes.CDLL("libc.so.6")
        self.libc.mallinfo2.restype = MI2

    def __call__(self) -> int:
        mi = self.libc.mallinfo2()
        return mi.uordblks + mi.hblkhd


def peak_alloc_mb(fn) -> float:
    """Peak malloc'd bytes above the level before ``fn`` while it runs (sampled every 0.2 ms), in MB."""
    import threading

    now = _Mallinfo()
    base, peak, done = now(), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], now())
            time.sleep(0.0002)

    t = threading.Thread(target=watch)
    t.start()
    try:
        fn()
    finally:
        done.set()
        t.join()
    return max(peak[0], now()) / 1e6 - base / 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mistral7b", action="store_true", help="the GPU benchmark (random Mistral-7B shape, bf16)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--length", type=int, default=None)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    from scipy.stats import spearmanr

    from mwork.plnd import neuron_importance, neuron_importance_sequential

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    kind = "mistral7b" if args.mistral7b else "organism"
    device = "cuda" if args.mistral7b else "cpu"
    batch = args.batch or (1 if args.mistral7b else 8)
    length = args.length or (512 if args.mistral7b else 256)
    model, desc, vocab = build_model(kind, device)
    ids = torch.randint(3, vocab, (batch, length), generator=torch.Generator().manual_seed(0)).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    print(f"model: {desc}; batch {batch} x {length}; device {device}; threads {torch.get_num_threads()}")
    with torch.no_grad():
        fwd = timed(lambda: model(input_ids=ids, use_cache=False), args.reps, sync)
    ffn_v = timed(lambda: neuron_importance(model, ids, kinds=("ffn", "attn.v")), args.reps, sync)
    full = timed(lambda: neuron_importance(model, ids), args.reps, sync)
    res = {"forward_s": fwd, "plnd_ffn_v_s": ffn_v, "plnd_full_s": full, "plnd_ffn_v_over_forward": ffn_v / fwd,
           "plnd_full_over_forward": full / fwd}
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.no_grad():
            model(input_ids=ids, use_cache=False)
        fwd_mem = torch.cuda.max_memory_allocated() - base
        torch.cuda.reset_peak_memory_stats()
        neuron_importance(model, ids)
        res["plnd_peak_mem_over_forward"] = (torch.cuda.max_memory_allocated() - base) / fwd_mem
    else:
        with torch.no_grad():
            fwd_mb = peak_alloc_mb(lambda: model(input_ids=ids, use_cache=False))
        plnd_mb = peak_alloc_mb(lambda: neuron_importance(model, ids))
        res["forward_peak_mb"], res["plnd_peak_mb"] = fwd_mb, plnd_mb
        res["plnd_peak_mem_over_forward"] = plnd_mb / fwd_mb
    # the definition taken literally, one layer (all its neurons), and the Spearman diagnostic
    n_layers = model.config.num_hidden_layers
    seq_ids = ids[:1] if device == "cuda" else ids
    t = time.perf_counter()
    seq = neuron_importance_sequential(model, seq_ids, layers=[n_layers // 2], kinds=("attn.q", "attn.k"))
    sync()
    t_qk = time.perf_counter() - t
    t = time.perf_counter()
    seq.update(neuron_importance_sequential(model, seq_ids, layers=[n_layers // 2], kinds=("attn.v", "ffn")))
    sync()
    t_fv = time.perf_counter() - t
    scale = batch / len(seq_ids)  # on GPU the sequential pass runs on one document: scale to the batch
    res["sequential_one_layer_s"] = (t_qk + t_fv) * scale
    res["parallel_speedup_vs_sequential"] = res["sequential_one_layer_s"] * n_layers / full
    res["parallel_speedup_ffn_v_vs_sequential"] = t_fv * scale * n_layers / ffn_v
    res["parallel_speedup_qk_vs_sequential"] = t_qk * scale * n_layers / max(full - ffn_v, 1e-9)
    out_change = neuron_importance_sequential(model, seq_ids[:2], layers=[n_layers // 2],
                                              kinds=("attn.q", "attn.k"), qk_measure="output")
    for kind_ in ("attn.q", "attn.k"):
        key = f"layers.{n_layers // 2}.{kind_}"
        rho = spearmanr(seq[key][:2].flatten().float().cpu(), out_change[key].flatten().float().cpu()).statistic
        res[f"qk_proxy_spearman_{kind_.split('.')[1]}"] = rho
    for k, v in res.items():
        print(f"{k}: {v:.4g}")
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "out" / f"plnd_{kind}.json").write_text(json.dumps({"model": desc, **res}, indent=2))


if __name__ == "__main__":
    main()
