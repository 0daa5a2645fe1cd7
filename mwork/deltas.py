"""Enhancement's trained quantities: small delta tensors of a language's neuron slices (or a LoRA
adapter), how they are added to an unmodified base model, saved, loaded and merged.

What a neuron's parameters are (``mwork.arch``): for FFN unit k, row k of every projection into the
intermediate layer (gate and up, or GELU's up; with their biases) and column k of the down projection;
for q/k/v feature j, row j (and bias) of that projection (in key/value space under grouped-query
attention; a fused projection's row from ``Adapter.fused_index``). The delta is added by forward hooks:
for a row slice ``y[..., rows] += x @ dW.T + db``; for a column slice of the down projection
``y += x[..., cols] @ dW.T`` -- the same function as the base weights with ``W[rows] += dW``
(``merge_deltas``). Training lives in ``mwork.enhance``; loading a model entry that names a delta
(``mwork.models``) needs only this module, so the evaluation, PLND and lens rules do not depend on the
training code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .arch import get_adapter
from .errors import MworkError
from .fingerprint import model_fingerprint
from .hooks import Hooks
from .io import atomic_path, file_sha256
from .keys import parse_key
from .masking import as_index


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
        idx = as_index(neurons[key], sizes[kind])
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
            targets = [(key, lm.projection(kind), idx, "row")]
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


def lora_model(model, rank: int, seed: int = 0):
    """``model`` wrapped by a peft LoRA adapter of ``rank`` on ``lora_targets`` (alpha = 2 rank, no dropout)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=lora_targets(model), bias="none")
    return get_peft_model(model, cfg)


def save_deltas(path: str, slices: list[Slice], metadata: dict) -> None:
    """A safetensors file of the trained slices only (``delta.{name}.weight`` / ``.bias``, and the neuron
    indices ``neurons.{key}``) with ``metadata`` (base model and fingerprint, language, neuron file hash,
    data size and hash, seed, hyperparameters)."""
    tensors = {}
    for s in slices:
        tensors[f"neurons.{s.key}"] = s.neurons.cpu().long().contiguous()
        tensors[f"delta.{s.name}.weight"] = s.weight.detach().cpu().contiguous()
        if s.bias is not None:
            tensors[f"delta.{s.name}.bias"] = s.bias.detach().cpu().contiguous()
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"mwork": json.dumps(metadata, sort_keys=True)})


def delta_metadata(path: str) -> dict:
    with safe_open(path, "pt") as f:
        return json.loads((f.metadata() or {}).get("mwork", "{}"))


def check_base(path: str, meta: dict, fingerprint: str | None) -> None:
    """A delta file applies only to the base model it was trained on (its recorded fingerprint)."""
    if fingerprint is not None and meta.get("base_fingerprint") != fingerprint:
        raise MworkError(f"{path}: trained on base model {meta.get('base_model')!r} (fingerprint "
                         f"{str(meta.get('base_fingerprint'))[:12]}), not this one ({fingerprint[:12]}); apply it to "
                         f"its own base model")


def load_deltas(path: str, model, fingerprint: str | None = None) -> list[Slice]:
    """The slices of a delta file, attached to ``model``'s modules; a file made for another base model (its
    recorded ``base_fingerprint`` differs from ``fingerprint``) or architecture is refused."""
    with safe_open(path, "pt") as f:
        meta = json.loads((f.metadata() or {}).get("mwork", "{}"))
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    check_base(path, meta, fingerprint)
    neurons = {k[len("neurons."):]: v for k, v in tensors.items() if k.startswith("neurons.")}
    for key, v in neurons.items():  # the deltas' rows follow the stored order, which the slices rebuild sorted
        if v.dtype != torch.bool and v.numel() > 1 and not bool((v.flatten()[1:] > v.flatten()[:-1]).all()):
            raise MworkError(f"{path}: neurons.{key} is not a strictly increasing index list, so its delta rows "
                             f"cannot be matched to neurons; rebuild the file with rule enhance")
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


@torch.no_grad()
def apply_delta(model, path: str):
    """``model`` with the delta file at ``path`` merged into its weights -- a neuron delta (``W[rows] += dW``)
    or a LoRA adapter (merged by peft) -- after checking it was trained on this base model. The model's
    config records the file's hash (``mwork_delta``), so the tuned model's fingerprint differs from its
    base's and neuron files of the one are refused for the other. Returns the model to use."""
    meta = delta_metadata(path)
    fingerprint = model_fingerprint(model)
    if meta.get("lora_rank"):
        from peft import set_peft_model_state_dict

        check_base(path, meta, fingerprint)
        peft = lora_model(model, int(meta["lora_rank"]))
        result = set_peft_model_state_dict(peft, load_file(path))
        if result.unexpected_keys:
            raise MworkError(f"{path}: LoRA tensors {result.unexpected_keys[:3]} fit no module of this model")
        model = peft.merge_and_unload()
    else:
        merge_deltas(load_deltas(path, model, fingerprint))
    model.config.mwork_delta = file_sha256(path)
    model.eval()
    return model
