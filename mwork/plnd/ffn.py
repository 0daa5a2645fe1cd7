"""PLND's importance of FFN intermediate units (``ffn``, Eq. 4-5): zeroing unit k changes the MLP block's
output by ``h[:, k] W_down[:, k]^T``, whose norm over the document's tokens is ``||h[:, k]|| * ||W_down[:, k]||``
(exact: the output is linear in h)."""

from __future__ import annotations

import torch

from .geometry import doc_blocks


def ffn_importance(h: torch.Tensor, w_down: torch.Tensor, rows: torch.Tensor, chunk_elems: int) -> torch.Tensor:
    """h: input of the down projection (b, l, n); rows (b, l) -> ||h_k over the counted positions|| *
    ||W_down[:, k]||, (b, n). In blocks of documents (no masked copy of the whole batch's activations)."""
    b, l, n = h.shape
    h_norm = torch.empty(b, n, dtype=torch.float32, device=h.device)
    for blk in doc_blocks(b, l * n, chunk_elems):
        h_norm[blk] = torch.linalg.vector_norm(h[blk].to(torch.float32, copy=True).mul_(rows[blk, :, None]), dim=1)
    return h_norm * w_down.float().norm(dim=0)
