"""Neuron keys: ``layers.{i}.{kind}`` names one module kind of one decoder layer, in every neuron file,
importance dict and mask. The one place that builds and parses them (torch-free)."""

from __future__ import annotations

from .errors import MworkError

KINDS = ("attn.q", "attn.k", "attn.v", "ffn")  # q/k/v output features, FFN intermediate units


def key(layer: int, kind: str) -> str:
    return f"layers.{layer}.{kind}"


def parse_key(name: str) -> tuple[int, str]:
    """``layers.{i}.{kind}`` -> (i, kind); an error names the malformed key."""
    parts = name.split(".", 2)
    if len(parts) != 3 or parts[0] != "layers" or not parts[1].isdigit() or parts[2] not in KINDS:
        raise MworkError(f"neuron key {name!r} is not of the form layers.<i>.<{'|'.join(KINDS)}>")
    return int(parts[1]), parts[2]
