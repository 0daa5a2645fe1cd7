"""The output head applied a slice of the vocabulary at a time (the logit lens's top-1, the loss
matrix's logsumexp): no (positions x vocabulary) tensor beyond ``chunk_elems`` entries exists, and each
output-embedding row is read once per call — a product of a few positions with a 262,144-row matrix at a
time is bound by reading the matrix, not by the arithmetic."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def vocab_slices(head: torch.nn.Module, x: torch.Tensor, chunk_elems: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(first vocabulary index j, logits of ``x`` (n, d) for rows j, j+1, ... of ``head``), slice by slice."""
    weight, bias = head.weight, head.bias
    step = max(1, chunk_elems // max(1, len(x)))
    for j in range(0, weight.shape[0], step):
        yield j, torch.nn.functional.linear(x, weight[j:j + step], None if bias is None else bias[j:j + step])
