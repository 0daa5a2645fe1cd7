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

import math
import random

import torch
from tqdm import tqdm

from .arch import get_adapter
from .batching import encode_prefixes, left_padded, pad_id
from .corpus import read_corpus
from .deltas import Slice, lora_targets, with_deltas
from .errors import MworkError
from .keys import parse_key
from .loss_matrix import token_losses
from .masking import as_index


def random_like(neurons: dict[str, torch.Tensor], sizes: dict[str, int], seed: int) -> dict[str, torch.Tensor]:
    """A random control: as many neurons of each layer and kind as ``neurons`` has, drawn uniformly (seeded)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key in sorted(neurons):
        kind = parse_key(key)[1]
        n = int(as_index(neurons[key], sizes[kind]).numel())
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


def lora_rank(model, n_params: int) -> int:
    """The LoRA rank whose trainable parameters on ``lora_targets`` come closest to ``n_params`` (at least 1):
    rank r adds r (in + out) parameters per adapted projection."""
    per_rank = sum(m.in_features + m.out_features for n, m in model.named_modules() if n in set(lora_targets(model)))
    return max(1, round(n_params / per_rank))


def train_lora(peft_model, batches, *, lr: float, weight_decay: float = 0.0, warmup: float = 0.05,
               max_grad_norm: float = 1.0, seed: int = 0, progress: bool = True) -> dict[str, list[float]]:
    """The LoRA baseline through the same loop (AdamW's own decoupled decay on the adapter's matrices)."""
    params = [p for p in peft_model.parameters() if p.requires_grad]
    return _fit(peft_model, params, batches, lr=lr, warmup=warmup, max_grad_norm=max_grad_norm, seed=seed,
                progress=progress, weight_decay=weight_decay)


def token_batches(tokenizer, texts: list[str], batch_size: int, max_length: int, seed: int):
    """The training batches: documents cut to ``max_length`` tokens, shuffled with ``seed``, left-padded."""
    enc = [ids for ids, _ in encode_prefixes(tokenizer, texts, max_length) if len(ids) > 1]
    random.Random(seed).shuffle(enc)
    return [left_padded(enc[i:i + batch_size], pad_id(tokenizer)) for i in range(0, len(enc), batch_size)]


def heldout_perplexity(model, tokenizer, paths, languages, n_docs: int, max_length: int) -> dict[str, float]:
    """Per language: the perplexity of the first ``n_docs`` held-out documents of its corpus file."""
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
