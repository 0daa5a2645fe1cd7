"""`make bench`: speed and memory of PLND, measured in one run on the same batch.

Prints one `name: value` line per measurement and writes results/bench/plnd_<shape>.json (with the machine).
Shapes (`--shape`): the organism (the trained one if results/organism/model exists, else a random-weight
model of config.yaml's shape), `qwen` (Qwen2.5-0.5B: the converted real weights if results/models/qwen
exists, else random weights of its shape -- no download), `gemma` (Gemma-3-270M, likewise), `mistral7b`
(random weights, bf16, on a GPU). CPU, float32, batch 8 x 256 with some left padding by default:

  forward_s (the decoder stack PLND needs: the output head for one position only), forward_with_head_s,
  plnd_ffn_v_s, plnd_full_s, plnd_ffn_v_over_forward, plnd_full_over_forward (with `plnd.qk_kernel`, default
  auto: the fused CPU kernel where it builds; then also plnd_full_torch_s / _over_forward, the PyTorch path,
  and fused_speedup_full), plnd_peak_mem_over_forward,
  sequential_one_layer_s (the definition taken literally for one layer; on the large shapes timed on a
  sample of each kind's neurons and scaled to all), parallel_speedup_vs_sequential (and for FFN+V and
  Q/K apart), qk_proxy_spearman_q / _k (how well the change of attention probabilities ranks q/k features
  like the change of the attention block's output, Eq. 1 literally), lens_over_forward (the logit lens,
  every layer's top-1 token at every position, per query token, in forwards of the same tokens) and
  lens_last8_over_forward (only the last 8 positions decoded, `lens.last`). Timings are medians of --reps
  interleaved rounds (forward, PLND, ... in turn), so the ratios share the machine's drift.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from benchmarks.machine import ROOT, write_result

# the real models' shapes (../shared/REAL-MODELS.md), for random weights when the converted model is absent
SHAPES = {
    "qwen": ("Qwen2Config", dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                 num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=False)),
    "gemma": ("Gemma3TextConfig", dict(vocab_size=262144, hidden_size=640, intermediate_size=2048,
                                       num_hidden_layers=18, num_attention_heads=4, num_key_value_heads=1,
                                       head_dim=256, sliding_window=512, query_pre_attn_scalar=256,
                                       tie_word_embeddings=True)),
}


def build_model(kind: str, device: str):
    import yaml
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig

    if kind in SHAPES:
        import transformers

        real = ROOT / "results" / "models" / kind
        if real.is_dir():
            model = AutoModelForCausalLM.from_pretrained(real, dtype=torch.float32).eval()
            return model, f"{kind} (real weights, {real.relative_to(ROOT)})", model.config.vocab_size
        cls, fields = SHAPES[kind]
        cfg = getattr(transformers, cls)(**fields)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
        return model, f"random-weight {kind} shape", cfg.vocab_size
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


def timed_together(fns: dict, reps: int, sync) -> dict:
    """Median seconds of each function, timed in interleaved rounds (one call of each per round, after one
    warm-up call each), so a drift of the machine's speed affects every ratio alike."""
    for fn in fns.values():
        fn()
        sync()
    times: dict = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


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


def profile(fn, what: str, top: int = 12) -> None:
    """Where the time of one call goes: the operators with the most self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch.no_grad(), torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    print(f"--- profile: {what}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=["organism", "qwen", "gemma", "mistral7b"], default="organism")
    ap.add_argument("--mistral7b", action="store_true", help="= --shape mistral7b (the GPU benchmark, bf16)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--length", type=int, default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true",
                    help="also profile one forward and one full PLND pass (torch.profiler, top operators by self time)")
    ap.add_argument("--chunk-elems", type=int, default=1 << 20, help="plnd.chunk_elems (the Q/K work per step)")
    ap.add_argument("--qk-kernel", choices=["auto", "fused", "torch"], default="auto",
                    help="plnd.qk_kernel; with the fused kernel the PyTorch path is timed beside it")
    ap.add_argument("--no-lens", action="store_true", help="skip the logit lens timings")
    ap.add_argument("--no-sequential", action="store_true", help="skip the sequential reference and the Spearman check")
    ap.add_argument("--sample", type=int, default=16,
                    help="neurons per kind the sequential reference is timed on, for the real shapes")
    args = ap.parse_args(argv)
    from scipy.stats import spearmanr

    from mwork.keys import KINDS
    from mwork.plnd import neuron_importance
    from tests.plnd_reference import neuron_importance_sequential

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    kind = "mistral7b" if args.mistral7b else args.shape
    device = "cuda" if kind == "mistral7b" else "cpu"
    batch = args.batch or 8
    length = args.length or (512 if kind == "mistral7b" else 256)
    model, desc, vocab = build_model(kind, device)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (batch, length), generator=g).to(device)
    # some left padding: document i is 16 i tokens shorter (up to a quarter of the length)
    att = torch.ones_like(ids)
    for i in range(batch):
        att[i, :min(16 * i, length // 4)] = 0
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    print(f"model: {desc}; batch {batch} x {length} ({int(att.sum())} tokens); device {device}; "
          f"threads {torch.get_num_threads()}")
    from mwork.arch import get_adapter

    fkw = get_adapter(model).forward_kwargs(ids, att)
    from mwork.plnd.kernel import resolve

    fused = resolve(args.qk_kernel, torch.device(device))

    def plnd(kernel, kinds=KINDS):
        return neuron_importance(model, ids, att, kinds=kinds, chunk_elems=args.chunk_elems, qk_kernel=kernel)

    def forward(**kw):
        with torch.no_grad():
            return model(**{**fkw, "use_cache": False}, **kw)

    fns = {"forward": lambda: forward(logits_to_keep=1), "forward_with_head": forward,
           "ffn_v": lambda: plnd(args.qk_kernel, ("ffn", "attn.v")), "full": lambda: plnd(args.qk_kernel)}
    if fused:  # the PyTorch path beside it, measured in the same run
        fns["full_torch"] = lambda: plnd("torch")
    t = timed_together(fns, args.reps, sync)
    fwd, fwd_head, ffn_v, full = t["forward"], t["forward_with_head"], t["ffn_v"], t["full"]
    # the logit lens: every layer's top-1 token at every position (or the last 8), chunked over the vocabulary
    from mwork.lens import lens_top_tokens

    if not args.no_lens:
        with torch.no_grad():
            lens = timed(lambda: lens_top_tokens(model, ids, att), args.reps, sync)
            lens_last = timed(lambda: lens_top_tokens(model, ids, att, last=8), args.reps, sync)
    if args.profile:
        profile(lambda: model(**{**fkw, "use_cache": False}, logits_to_keep=1), "forward")
        profile(lambda: plnd(args.qk_kernel), "full PLND")
    res = {"model": desc, "batch": batch, "length": length, "reps": args.reps, "chunk_elems": args.chunk_elems,
           "qk_kernel": "fused" if fused else "torch", "forward_s": fwd, "forward_with_head_s": fwd_head,
           "plnd_ffn_v_s": ffn_v, "plnd_full_s": full, "plnd_ffn_v_over_forward": ffn_v / fwd,
           "plnd_full_over_forward": full / fwd}
    if fused:
        res["plnd_full_torch_s"] = t["full_torch"]
        res["plnd_full_torch_over_forward"] = t["full_torch"] / fwd
        res["fused_speedup_full"] = t["full_torch"] / full
    if not args.no_lens:
        res.update({"lens_s": lens, "lens_over_forward": lens / fwd, "lens_last8_over_forward": lens_last / fwd})
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.no_grad():
            model(**{**fkw, "use_cache": False}, logits_to_keep=1)
        fwd_mem = torch.cuda.max_memory_allocated() - base
        torch.cuda.reset_peak_memory_stats()
        plnd(args.qk_kernel)
        res["plnd_peak_mem_over_forward"] = (torch.cuda.max_memory_allocated() - base) / fwd_mem
    else:
        with torch.no_grad():
            fwd_mb = peak_alloc_mb(lambda: model(**{**fkw, "use_cache": False}, logits_to_keep=1))
        plnd_mb = peak_alloc_mb(lambda: plnd(args.qk_kernel))
        res["forward_peak_mb"], res["plnd_peak_mb"] = fwd_mb, plnd_mb
        res["plnd_peak_mem_over_forward"] = plnd_mb / fwd_mb
    name = f"plnd_{kind}" + ("_partial" if args.no_lens or args.no_sequential else "")  # a full run's file stays
    if args.no_sequential:
        return write_result(name, res)
    # the definition taken literally, one layer, and the Spearman diagnostic; on the real shapes a sample of
    # each kind's neurons is timed and the time scaled to all of them
    n_layers = model.config.num_hidden_layers
    layer = n_layers // 2
    seq_ids, seq_att = (ids[:1], att[:1]) if device == "cuda" else (ids, att)
    sizes = get_adapter(model).sizes()
    sample = None if kind == "organism" else {k: list(range(min(args.sample, n))) for k, n in sizes.items()}

    def run_seq(kinds, neurons):
        t = time.perf_counter()
        out = neuron_importance_sequential(model, seq_ids, seq_att, layers=[layer], kinds=kinds, neurons=neurons)
        sync()
        return out, time.perf_counter() - t

    def seq_time(kinds):
        if sample is None:
            return run_seq(kinds, None)
        # the captured forward is paid once (timed with no neuron, after a warm-up); the reruns scale with the count
        run_seq(kinds, {k: [] for k in kinds})
        fixed = run_seq(kinds, {k: [] for k in kinds})[1]
        out, spent = run_seq(kinds, sample)
        per = max(spent - fixed, 0.0) / sum(len(sample[k]) for k in kinds)
        return out, fixed + per * sum(sizes[k] for k in kinds)

    seq, t_qk = seq_time(("attn.q", "attn.k"))
    more, t_fv = seq_time(("attn.v", "ffn"))
    seq.update(more)
    scale = batch / len(seq_ids)  # on GPU the sequential pass runs on one document: scale to the batch
    res["sequential_one_layer_s"] = (t_qk + t_fv) * scale
    res["sequential_sampled"] = sample is not None
    res["parallel_speedup_vs_sequential"] = res["sequential_one_layer_s"] * n_layers / full
    res["parallel_speedup_ffn_v_vs_sequential"] = t_fv * scale * n_layers / ffn_v
    res["parallel_speedup_qk_vs_sequential"] = t_qk * scale * n_layers / max(full - ffn_v, 1e-9)
    probe = None if sample is None else {k: sample[k] for k in ("attn.q", "attn.k")}
    out_change = neuron_importance_sequential(model, seq_ids[:2], seq_att[:2], layers=[layer],
                                              kinds=("attn.q", "attn.k"), qk_measure="output", neurons=probe)
    for kind_ in ("attn.q", "attn.k"):
        key = f"layers.{layer}.{kind_}"
        a, b = seq[key][:2].flatten().float().cpu(), out_change[key].flatten().float().cpu()
        keep = ~(a.isnan() | b.isnan())
        res[f"qk_proxy_spearman_{kind_.split('.')[1]}"] = float(spearmanr(a[keep], b[keep]).statistic)
    write_result(name, res)


if __name__ == "__main__":
    main()
