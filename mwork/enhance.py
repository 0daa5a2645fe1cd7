"""Enhancement (Figure 4, Table 6): fine-tune only a language's neurons.

What a neuron's parameters are (``mwork.arch``): for FFN unit k, row k of every projection into the
intermediate layer (gate and up, or GELU's up; with their biases) and column k of the down projection;
for q/k/v feature j, row j (and bias) of that projection (in key/value space under grouped-query
attention; a fused projection's row from ``Adapter.fused_index``).

The base model is never modified and never receives a gradient. The trained quantities are small delta
tensors of exactly the selected slices, added by forward hooks: for a row slice,
``y[..., rows] += x @ dW.T + db``; for a column slice of the down projection, ``y += x[..., cols] @ dW.T``.
This is the same function as the base weights with ``W[rows] += dW`` (``merge_deltas`` writes that), so the
optimizer's state, the gradient clipping norm and the weight decay see only the trained slices -- the
released code masked full-size gradients after clipping, so frozen parameters counted in its clip norm.
Weight decay is decoupled (AdamW's) and applies to the slices' effective weights ``W_slice + dW``, as a
full fine-tune would decay them, not to the deltas alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .arch import get_adapter
from .config import Variant, enhance_grid  # noqa: F401  (the grid of tunings, torch-free for the DAG)
from .errors import MworkError
from .hooks import Hooks
from .keys import parse_key


@dataclass
class Slice:
    """One trained slice: ``rows`` (or ``cols`` of the down projection) of ``module``, and its delta."""

    name: str  # "layers.3.ffn.up_proj" / "layers.3.ffn.down" / "layers.3.attn.q"
    key: str  # the neuron key: "layers.3.ffn" / "layers.3.attn.q"
    neurons: torch.Tensor  # the neuron indices of that key
    module: torch.nn.Linear
    index: torch.Tensor  # rows of the weight (row slices) or columns (the down projection)
    axis: str  # "row" | "col"
    weight: torch.nn.Parameter  # (len(index), in) for rows, (out, len(index)) for columns
    bias: torch.nn.Parameter | None  # (len(index),) for rows with a bias

    def params(self) -> list[torch.nn.Parameter]:
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def base_weight(self) -> torch.Tensor:
        w = self.module.weight
        return w[self.index] if self.axis == "row" else w[:, self.index]


def _index(sel: torch.Tensor, n: int) -> torch.Tensor:
    if sel.dtype == torch.bool:
        if sel.numel() != n:
            raise MworkError(f"a neuron mask of {sel.numel()} entries for a module of {n}")
        return sel.nonzero().flatten()
    return sel.long().flatten()


def ffn_inputs(mlp: torch.nn.Module, down: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    """The projections into the intermediate layer (their rows are FFN units): every linear child of the
    MLP but the down projection whose output width is the intermediate size."""
    d_ff = down.in_features
    out = [(name, m) for name, m in mlp.named_children() if isinstance(m, torch.nn.Linear) and m is not down
           and m.out_features == d_ff]
    fused = [name for name, m in mlp.named_children() if isinstance(m, torch.nn.Linear) and m.out_features == 2 * d_ff]
    if fused or not out:
        raise MworkError(f"{type(mlp).__name__}: cannot tell the FFN's input projections apart (fused: {fused}); "
                         f"enhancement supports separate gate/up projections")
    return out


def build_slices(model, neurons: dict[str, torch.Tensor]) -> list[Slice]:
    """The delta slices of the selected neurons (all zeros): the FFN units' rows and columns, the q/k/v
    features' rows. ``neurons``: ``{"layers.{i}.ffn" | "layers.{i}.attn.q|k|v": bool mask or indices}``."""
    adapter = get_adapter(model)
    sizes = adapter.sizes()
    out: list[Slice] = []
    for key in sorted(neurons):
        layer, kind = parse_key(key)
        if layer >= adapter.n_layers:
            raise MworkError(f"neuron key {key!r}: the model has {adapter.n_layers} layers")
        idx = _index(torch.as_tensor(neurons[key]), sizes[kind])
        if idx.numel() == 0:
            continue
        lm = adapter.layer(layer)
        targets = []
        if kind == "ffn":
            targets = [(f"{key}.{name}", m, idx, "row") for name, m in ffn_inputs(lm.mlp, lm.down)]
            targets.append((f"{key}.down", lm.down, idx, "col"))
        elif lm.qkv is not None:
            targets = [(key, lm.qkv, adapter.fused_index(kind, idx), "row")]
        else:
            targets = [(key, {"attn.q": lm.q, "attn.k": lm.k, "attn.v": lm.v}[kind], idx, "row")]
        for name, mod, index, axis in targets:
            w = mod.weight
            shape = (len(index), w.shape[1]) if axis == "row" else (w.shape[0], len(index))
            weight = torch.nn.Parameter(torch.zeros(shape, dtype=w.dtype, device=w.device))
            bias = None
            if axis == "row" and mod.bias is not None:
                bias = torch.nn.Parameter(torch.zeros(len(index), dtype=w.dtype, device=w.device))
            out.append(Slice(name, key, idx, mod, index.to(w.device), axis, weight, bias))
    if not out:
        raise MworkError("the neuron set is empty: there is nothing to train")
    return out


def n_trainable(slices: list[Slice]) -> int:
    return sum(p.numel() for s in slices for p in s.params())


@contextmanager
def with_deltas(model, slices: list[Slice]) -> Iterator[list[Slice]]:
    """Add the slices' deltas to their modules' outputs while inside the block (hooks removed on exit)."""

    def row_hook(s: Slice):
        def hook(mod, args, out):
            add = torch.nn.functional.linear(args[0], s.weight, s.bias)
            return out.index_add(-1, s.index, add.to(out.dtype))
        return hook

    def col_hook(s: Slice):
        def hook(mod, args, out):
            x = args[0].index_select(-1, s.index)
            return out + torch.nn.functional.linear(x, s.weight).to(out.dtype)
        return hook

    with Hooks() as hooks:
        for s in slices:
            hooks.after(s.module, row_hook(s) if s.axis == "row" else col_hook(s))
        yield slices


@torch.no_grad()
def merge_deltas(slices: list[Slice]) -> None:
    """Write the deltas into their modules' weights (``W[rows] += dW``; ``W[:, cols] += dW``)."""
    for s in slices:
        w = s.module.weight
        if s.axis == "row":
            w.index_add_(0, s.index, s.weight.to(w.dtype))
            if s.bias is not None:
                s.module.bias.index_add_(0, s.index, s.bias.to(w.dtype))
        else:
            w.index_add_(1, s.index, s.weight.to(w.dtype))


def random_like(neurons: dict[str, torch.Tensor], sizes: dict[str, int], seed: int) -> dict[str, torch.Tensor]:
    """A random control: as many neurons of each layer and kind as ``neurons`` has, drawn uniformly (seeded)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key in sorted(neurons):
        kind = parse_key(key)[1]
        n = int(_index(torch.as_tensor(neurons[key]), sizes[kind]).numel())
        mask = torch.zeros(sizes[kind], dtype=torch.bool)
        mask[torch.randperm(sizes[kind], generator=g)[:n]] = True
        out[key] = mask
    return out


def train(model, slices: list[Slice], batches, *, lr: float, weight_decay: float = 0.0, warmup: float = 0.05,
          max_grad_norm: float = 1.0, seed: int = 0, progress: bool = True) -> dict[str, list[float]]:
    """Causal-LM training of the slices only: AdamW (decoupled decay of the slices' effective weights),
    cosine schedule with linear warmup (a fraction of the steps), gradients clipped by the slices' norm.
    ``batches``: a list of (input_ids, attention_mask). Returns every step's loss and gradient norm (the
    slices' only, before clipping)."""

    def decay(step_lr):  # decoupled: W_eff <- W_eff (1 - lr wd), i.e. dW -= lr wd (W_slice + dW)
        for s in slices:
            s.weight.sub_(step_lr * weight_decay * (s.base_weight() + s.weight))
            if s.bias is not None:
                s.bias.sub_(step_lr * weight_decay * (s.module.bias[s.index] + s.bias))

    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for s in slices for p in s.params()]
    with with_deltas(model, slices):
        return _fit(model, params, batches, lr=lr, warmup=warmup, max_grad_norm=max_grad_norm, seed=seed,
                    progress=progress, decay=decay if weight_decay else None)


def _fit(model, params: list[torch.nn.Parameter], batches, *, lr: float, warmup: float, max_grad_norm: float,
         seed: int, progress: bool, decay=None, weight_decay: float = 0.0) -> dict[str, list[float]]:
    """The training loop shared by the neuron slices and LoRA: AdamW on ``params`` only, cosine schedule with
    linear warmup, clipping by ``params``' norm; ``decay(lr)`` applies a custom decoupled weight decay."""
    from tqdm import tqdm
    from transformers import get_cosine_schedule_with_warmup

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps = len(batches)
    sched = get_cosine_schedule_with_warmup(opt, math.ceil(warmup * steps), steps)
    losses, norms = [], []
    adapter = get_adapter(model)
    was_training = model.training
    model.train()
    try:
        for ids, att in tqdm(batches, desc="enhance", disable=not progress, mininterval=5):
            labels = ids.masked_fill(att == 0, -100)
            out = model(**adapter.forward_kwargs(ids, att), labels=labels)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_grad_norm or math.inf)))
            if decay is not None:
                with torch.no_grad():
                    decay(sched.get_last_lr()[0])
            opt.step()
            sched.step()
            losses.append(float(out.loss.detach()))
    finally:
        model.train(was_training)
    return {"loss": losses, "grad_norm": norms}


def lora_targets(model) -> list[str]:
    """The module names LoRA adapts: the projections the neurons live in (q, k, v, the FFN's), every layer."""
    adapter = get_adapter(model)
    names = {id(m): n for n, m in model.named_modules()}
    out = []
    for i in range(adapter.n_layers):
        lm = adapter.layer(i)
        mods = [lm.qkv] if lm.qkv is not None else [lm.q, lm.k, lm.v]
        mods += [m for _, m in ffn_inputs(lm.mlp, lm.down)] + [lm.down]
        out += [names[id(m)] for m in mods]
    return out


def lora_rank(model, n_params: int) -> int:
    """The LoRA rank whose trainable parameters on ``lora_targets`` come closest to ``n_params`` (at least 1):
    rank r adds r (in + out) parameters per adapted projection."""
    per_rank = sum(m.in_features + m.out_features for n, m in model.named_modules() if n in set(lora_targets(model)))
    return max(1, round(n_params / per_rank))


def lora_model(model, rank: int, seed: int = 0):
    """``model`` wrapped by a peft LoRA adapter of ``rank`` on ``lora_targets`` (alpha = 2 rank, no dropout)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=lora_targets(model), bias="none")
    return get_peft_model(model, cfg)


def train_lora(peft_model, batches, *, lr: float, weight_decay: float = 0.0, warmup: float = 0.05,
               max_grad_norm: float = 1.0, seed: int = 0, progress: bool = True) -> dict[str, list[float]]:
    """The LoRA baseline through the same loop (AdamW's own decoupled decay on the adapter's matrices)."""
    params = [p for p in peft_model.parameters() if p.requires_grad]
    return _fit(peft_model, params, batches, lr=lr, warmup=warmup, max_grad_norm=max_grad_norm, seed=seed,
                progress=progress, weight_decay=weight_decay)


def save_deltas(path: str, slices: list[Slice], metadata: dict) -> None:
    """A safetensors file of the trained slices only (``delta.{name}.weight`` / ``.bias``, and the neuron
    indices ``neurons.{key}``) with ``metadata`` (base model and fingerprint, language, neuron file hash,
    data size and hash, seed, hyperparameters)."""
    from safetensors.torch import save_file

    from .io import atomic_path

    tensors = {}
    for s in slices:
        tensors[f"neurons.{s.key}"] = s.neurons.cpu().long().contiguous()
        tensors[f"delta.{s.name}.weight"] = s.weight.detach().cpu().contiguous()
        if s.bias is not None:
            tensors[f"delta.{s.name}.bias"] = s.bias.detach().cpu().contiguous()
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"mwork": json.dumps(metadata, sort_keys=True)})


def delta_metadata(path: str) -> dict:
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        return json.loads((f.metadata() or {}).get("mwork", "{}"))


def load_deltas(path: str, model, fingerprint: str | None = None) -> list[Slice]:
    """The slices of a delta file, attached to ``model``'s modules; a file made for another base model (its
    recorded ``base_fingerprint`` differs from ``fingerprint``) or architecture is refused."""
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        meta = json.loads((f.metadata() or {}).get("mwork", "{}"))
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if fingerprint is not None and meta.get("base_fingerprint") != fingerprint:
        raise MworkError(f"{path}: trained on base model {meta.get('base_model')!r} (fingerprint "
                         f"{str(meta.get('base_fingerprint'))[:12]}), not this one ({fingerprint[:12]}); apply it to "
                         f"its own base model")
    neurons = {k[len("neurons."):]: v for k, v in tensors.items() if k.startswith("neurons.")}
    slices = build_slices(model, neurons)
    for s in slices:
        stored = tensors.get(f"delta.{s.name}.weight")
        if stored is None or stored.shape != s.weight.shape:
            raise MworkError(f"{path}: no delta {s.name} of shape {tuple(s.weight.shape)} for this model; it was "
                             f"made for another architecture")
        with torch.no_grad():
            s.weight.copy_(stored)
            if s.bias is not None:
                s.bias.copy_(tensors[f"delta.{s.name}.bias"])
    return slices


def token_batches(tokenizer, texts: list[str], batch_size: int, max_length: int, seed: int):
    """The training batches: documents cut to ``max_length`` tokens, shuffled with ``seed``, left-padded."""
    import random

    from .batching import encode_prefixes, left_padded, pad_id

    enc = [ids for ids, _ in encode_prefixes(tokenizer, texts, max_length) if len(ids) > 1]
    random.Random(seed).shuffle(enc)
    return [left_padded(enc[i:i + batch_size], pad_id(tokenizer)) for i in range(0, len(enc), batch_size)]


def heldout_perplexity(model, tokenizer, paths, languages, n_docs: int, max_length: int) -> dict[str, float]:
    """Per language: the perplexity of the first ``n_docs`` held-out documents of its corpus file."""
    from .corpus import read_corpus
    from .loss_matrix import token_losses

    out = {}
    for lang, path in zip(languages, paths):
        texts = [d["text"] for d in read_corpus(path) if d["split"] == "heldout"][:n_docs]
        if not texts:
            raise MworkError(f"{path}: no held-out documents to measure {lang}'s perplexity on; raise the corpus's "
                             f"heldout_fraction")
        with torch.no_grad():
            total, n = token_losses(model, tokenizer, texts, max_length=max_length)
        out[lang] = math.exp(total / max(n, 1))
    return out
