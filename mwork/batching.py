"""Token sequences into left-padded batches (positions then come from the mask: ``Adapter.forward_kwargs``)."""

from __future__ import annotations

import torch


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def left_padded(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (len(seqs), longest), each sequence right-aligned."""
    length = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), length), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for j, x in enumerate(seqs):
        ids[j, length - len(x):] = torch.tensor(x, dtype=torch.long)
        mask[j, length - len(x):] = 1
    return ids, mask
