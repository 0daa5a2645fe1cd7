"""PLND's geometry: which keys a query sees, the rotary map of a unit feature, the rescaling a per-head q/k
norm applies when one feature is zeroed, and blocks of documents bounded by a number of entries."""

from __future__ import annotations

import torch

from ..arch import Adapter


def visible_keys(adapter: Adapter, attn, valid: torch.Tensor):
    """allowed (b, 1, l, l) bool: key s visible from query t (causal, padding, sliding window)."""
    b, l = valid.shape
    idx = torch.arange(l, device=valid.device)
    allowed = idx[None, :] <= idx[:, None]
    window = adapter.sliding_window(attn)
    if window:
        allowed = allowed & (idx[None, :] > idx[:, None] - window)
    return allowed[None, None] & valid[:, None, None, :]


def rotary_support(rot, nb: int, l: int, hd: int, feats: torch.Tensor, device):
    """For features ``feats`` (c,): R (nb, c, l, m) = the nonzero entries of M_t e_j, and their columns sup
    (c, m); nb is the rotation's batch (1 where every document has the same positions)."""
    c = len(feats)
    basis = torch.zeros(nb, c, l, hd, device=device)
    basis[:, torch.arange(c, device=device), :, feats] = 1.0
    r = rot(basis).float() if rot is not None else basis
    nz = r.abs().amax(dim=(0, 2)) > 0  # (c, hd)
    m = int(nz.sum(-1).max())
    # columns of the nonzero entries, padded with the feature itself (its weight is then 0 when unused)
    order = torch.argsort(nz.to(torch.int8), dim=-1, descending=True, stable=True)[:, :m]
    sup = torch.where(torch.gather(nz, 1, order), order, feats[:, None])
    r_sup = torch.gather(r, 3, sup[None, :, None, :].expand(r.shape[0], c, l, m))
    r_sup = r_sup * torch.gather(nz, 1, order)[None, :, None, :]
    return r_sup, sup


def norm_eps(norm: torch.nn.Module) -> float:
    eps = getattr(norm, "eps", getattr(norm, "variance_epsilon", None))
    if eps is None:
        raise TypeError(f"{type(norm).__name__}: an RMS norm with `eps` or `variance_epsilon` was expected")
    return float(eps)


def rms_rescale(x: torch.Tensor, eps: float, valid: torch.Tensor) -> torch.Tensor:
    """x (b, l, heads, hd) -> alpha (b, l, heads, hd): rms(x) / rms(x with feature j zeroed), per feature j
    (1 at padding positions). RMS over the head dimension, with the norm's epsilon."""
    hd = x.shape[-1]
    alpha = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    for h in range(x.shape[2]):  # one head at a time: the float64 buffer is a head's, reused in place
        sq = x[:, :, h].to(torch.float64, copy=True).square_()
        ss = sq.sum(-1, keepdim=True)
        rest = torch.sub(ss, sq, out=sq).clamp_(min=0).div_(hd).add_(eps)  # rms^2 with feature j zeroed
        alpha[:, :, h] = torch.div(ss / hd + eps, rest, out=rest).sqrt_()
    return alpha.masked_fill_(~valid[:, :, None, None], 1.0)


def doc_blocks(b: int, per_doc: int, chunk_elems: int):
    """Slices of documents holding at most ``chunk_elems`` entries of ``per_doc`` each (at least one document)."""
    step = max(1, chunk_elems // max(1, per_doc))
    return [slice(j, min(b, j + step)) for j in range(0, b, step)]
