"""PLND's importance of attention value features (``attn.v``): the exact change of the attention block's output.

Zeroing v_j (kv head g, dim i) changes the output of every query head r served by g (grouped-query
attention) by ``a_r(t) * W_o[:, r*hd + i]``, where ``a_r`` is head r's output at dim i; the Frobenius norm
over the document's tokens is taken exactly through the Gram matrices of the a_r and of the W_o columns.
"""

from __future__ import annotations

import torch

from ..arch import Adapter
from .geometry import doc_blocks


def v_importance(adapter: Adapter, head_out: torch.Tensor, w_o: torch.Tensor, rows: torch.Tensor,
                  chunk_elems: int) -> torch.Tensor:
    """head_out: input of the output projection (b, l, H*hd); w_o: its weight (d, H*hd); rows (b, l): the
    positions counted -> (b, Hkv*hd). In blocks of documents, so the float64 copy is a block's."""
    b, l, width = head_out.shape
    Hkv, G, hd = adapter.n_kv_heads, adapter.n_heads // adapter.n_kv_heads, adapter.head_dim
    w = w_o.double().view(-1, Hkv, G, hd)
    gram_w = torch.einsum("dgri,dgsi->girs", w, w)
    sq = torch.empty(b, Hkv, hd, dtype=torch.float64, device=head_out.device)
    for blk in doc_blocks(b, l * width, chunk_elems):
        a = head_out[blk].to(torch.float64, copy=True).mul_(rows[blk, :, None]).view(-1, l, Hkv, G, hd)
        sq[blk] = (torch.einsum("blgri,blgsi->bgirs", a, a) * gram_w[None]).sum(dim=(-1, -2))
    return sq.clamp_(min=0).sqrt_().reshape(b, Hkv * hd).float()
