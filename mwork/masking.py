"""Deactivating neurons with forward hooks on an unmodified model (baukit-style, restored on exit).

Deactivating a neuron makes its output zero: the FFN intermediate activation (the input of the down
projection), or the q/k/v projection's output feature — bias included, before the rotary embedding.
An empty set registers no hook at all, so the logits are bit-identical to the plain model's.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import torch

from .arch import get_adapter
from .errors import MworkError
from .hooks import Hooks
from .keys import parse_key


def as_index(sel: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """A bool mask or an index tensor -> sorted unique int64 indices."""
    sel = torch.as_tensor(sel)
    if sel.dtype == torch.bool:
        if n is not None and sel.numel() != n:
            raise MworkError(f"neuron mask has {sel.numel()} entries, the model has {n} neurons there")
        return sel.nonzero().flatten()
    idx = torch.unique(sel.long())
    if n is not None and idx.numel() and (idx.min() < 0 or idx.max() >= n):
        raise MworkError(f"neuron index out of range 0..{n - 1}")
    return idx


@contextmanager
def deactivate(model, neurons: dict[str, torch.Tensor]):
    """Zero the given neurons while inside the block.

    ``neurons``: ``{"layers.{i}.ffn" | "layers.{i}.attn.q|k|v": bool mask (n,) or indices}``.
    Hooks are removed on exit, also on an exception. Works with generation and the KV cache (keys and
    values are cached after their features were zeroed).
    """
    adapter = get_adapter(model)
    sizes = adapter.sizes()

    # Zeroing multiplies by a 0/1 vector over the last dimension: one elementwise kernel, cheaper per
    # call than an indexed fill (what the hooks cost is dispatch, on a small model). In inference in
    # place; with autograd on (fine-tuning) out of place, so no saved tensor is modified.
    def keep_vector(idx, n, weight):
        dtype = weight.dtype if weight.dtype.is_floating_point else torch.float32
        keep = torch.ones(n, dtype=dtype, device=weight.device)
        keep[idx.to(weight.device)] = 0
        return keep

    def zero_output(keep):
        def hook(mod, args, output):
            nonlocal keep
            if keep.dtype != output.dtype:  # e.g. a quantized weight: match the activation once
                keep = keep.to(output.dtype)
            return output * keep if torch.is_grad_enabled() else output.mul_(keep)

        return hook

    def zero_input(keep):
        def hook(mod, args):
            nonlocal keep
            x = args[0]
            if keep.dtype != x.dtype:
                keep = keep.to(x.dtype)
            x = x * keep if torch.is_grad_enabled() else x.mul_(keep)
            return (x, *args[1:])

        return hook

    with Hooks() as hooks:
        by_module: dict[int, list] = {}
        for key, sel in neurons.items():
            layer, kind = parse_key(key)
            if layer >= adapter.n_layers:
                raise MworkError(f"neuron key {key!r}: the model has {adapter.n_layers} layers")
            idx = as_index(sel, sizes[kind])
            if idx.numel() == 0:
                continue
            lm = adapter.layer(layer)
            if kind == "ffn":
                keep = keep_vector(idx, sizes[kind], lm.down.weight)
                hooks.before(lm.down, zero_input(keep))
            elif lm.qkv is not None:  # fused projection: collect q/k/v rows, one hook per module
                by_module.setdefault(id(lm.qkv), [lm.qkv, []])[1].append(adapter.fused_index(kind, idx))
            else:
                mod = lm.projection(kind)
                hooks.after(mod, zero_output(keep_vector(idx, mod.out_features, mod.weight)))
        for mod, parts in by_module.values():
            keep = keep_vector(torch.cat(parts), mod.out_features, mod.weight)
            hooks.after(mod, zero_output(keep))
        yield model


def zeroed_copy(model, neurons: dict[str, torch.Tensor]):
    """A deep copy of ``model`` with the weights (and biases) of ``neurons`` zeroed (the tests' reference)."""
    adapter = get_adapter(model)
    twin = copy.deepcopy(model)
    tw = get_adapter(twin)
    with torch.no_grad():
        for key, sel in neurons.items():
            layer, kind = parse_key(key)
            idx = as_index(sel, adapter.sizes()[kind])
            lm = tw.layer(layer)
            if kind == "ffn":
                lm.down.weight[:, idx] = 0
            else:
                mod = lm.qkv if lm.qkv is not None else lm.projection(kind)
                rows = tw.fused_index(kind, idx) if lm.qkv is not None else idx
                mod.weight[rows] = 0
                if mod.bias is not None:
                    mod.bias[rows] = 0
    return twin
