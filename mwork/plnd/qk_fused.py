"""The Q/K importance with the fused CPU kernel (``kernel.rows_sq_diff``): the model's side (scores, the
rotary support, the q/k norm's rescaling, bias and mask) is prepared here in blocks bounded by
``chunk_elems``; the kernel does the score change, softmax, difference, square and sum row by row."""

from __future__ import annotations

import torch

from ..arch import Adapter
from .kernel import rows_sq_diff
from .qk import LayerQK


def fusable(adapter: Adapter, attn, device) -> bool:
    """Whether the fused kernel computes this attention layer (it has no soft-capping; all else it does)."""
    return not adapter.softcap(attn) and torch.device(device).type == "cpu"


def importance(qk: LayerQK) -> tuple[torch.Tensor, torch.Tensor]:
    """As ``qk_torch.importance``, with the fused kernel: a (document, query head) pair is one of the kernel's
    documents; one call per block of heads, side (q, k) and block of features, the blocks bounded
    by ``chunk_elems``; what depends only on the keys (R, the key-side rescaling) is built once per
    key/value group and read by its heads through ``ridx``."""
    b, l, H, hd, G, dev = qk.b, qk.l, qk.H, qk.hd, qk.G, qk.qh.device
    r_sup, sup = qk.support()  # (1 or b, hd, l, m), (hd, m)
    m = sup.shape[1]
    lo, hi, whole = qk.key_ranges()
    sq_q = torch.zeros(b, H, hd, dtype=torch.float64)
    sq_k = torch.zeros(b, qk.Hkv, hd, dtype=torch.float64)
    scaled = qk.norms is not None
    # what the softmax adds to the (rescaled) scores: the bias (per block of heads, below) and the mask, which
    # is left out where every key the kernel reads is visible
    mask = None if whole else qk.neg  # (b, 1, l, l)
    # heads per call: at most chunk_elems entries in the (b, n, l, l) scores; features per call: at most
    # chunk_elems entries in L (b, n, c, l, m)
    step = max(1, min(H, qk.chunk_elems // max(1, b * l * l)))
    f32 = dict(device=dev, dtype=torch.float32)
    for h0 in range(0, H, step):
        h1 = min(H, h0 + step)
        n, g0, g1 = h1 - h0, h0 // G, (h1 - 1) // G + 1
        ng = g1 - g0
        groups = torch.arange(h0, h1, device=dev) // G
        # the kernel's documents are (document, head) pairs; each reads its group's R and key rescaling
        ridx = (torch.arange(b)[:, None] * ng + (groups.cpu() - g0)[None]).int().reshape(b * n)
        rows = [x[:, None].expand(b, n, l).reshape(b * n, l).contiguous() for x in (lo, hi)]
        q, qr, alpha_q = qk.heads(0, h0, h1)
        k, kr, alpha_k = qk.heads(1, g0, g1)
        qr = qr * qk.scale  # (b, n, l, hd)
        A = torch.matmul(qr, kr[:, groups - g0].transpose(-1, -2))  # (b, n, l, l) scaled scores
        additive = [x for x in (None if qk.bias is None else qk.bias[:, h0:h1], mask) if x is not None]
        # with q/k norms the changed scores are rescaled before bias and mask: the kernel adds them (Badd);
        # else they are folded into the scores here
        into = torch.zeros(b, n, l, l, device=dev) if additive and scaled else A
        for x in additive:
            into.add_(x)
        badd = into.view(b * n, l, l) if into is not A else None
        A = A.view(b * n, l, l)
        c = max(1, min(hd, qk.chunk_elems // max(1, b * n * l * m)))
        for f0 in range(0, hd, c):
            f1 = min(hd, f0 + c)
            f, fs = f1 - f0, sup[f0:f1]
            # zeroing q_j(t): score(t, s) drops by scale * q_j(t) * sum_m r_sup[t, m] * kr(s)[sup_m]
            L = torch.empty(b, n, f, l, m, **f32)
            torch.mul(q[..., f0:f1].transpose(-1, -2)[..., None], r_sup[:, None, f0:f1], out=L)
            L.mul_(qk.scale)
            R = kr[..., fs].permute(0, 1, 3, 4, 2).contiguous()  # (b, ng, f, m, l)
            rs = alpha_q[..., f0:f1].transpose(-1, -2).reshape(b * n, f, l).contiguous() if scaled else None
            sq_q[:, h0:h1, f0:f1] = rows_sq_diff(A, L.view(b * n, f, l, m), R.view(b * ng, f, m, l), *rows,
                                                 Badd=badd, rs=rs, ridx=ridx).view(b, n, f)
            del L, R, rs
            # zeroing k_j(s): drops by scale * sum_m qr(t)[sup_m] * k_j(s) r_sup[s, m]
            L = qr[..., fs].permute(0, 1, 3, 2, 4).contiguous()  # (b, n, f, l, m)
            R = torch.empty(b, ng, f, m, l, **f32)
            torch.mul(k[..., f0:f1].transpose(-1, -2)[..., None], r_sup[:, None, f0:f1], out=R.transpose(-1, -2))
            cs = alpha_k[..., f0:f1].transpose(-1, -2).reshape(b * ng, f, l).contiguous() if scaled else None
            out = rows_sq_diff(A, L.view(b * n, f, l, m), R.view(b * ng, f, m, l), *rows, Badd=badd, cs=cs,
                               ridx=ridx)
            sq_k[:, :, f0:f1].index_add_(1, groups.cpu(), out.view(b, n, f))
            del L, R, cs
        del q, qr, alpha_q, A, additive, into, badd
    return sq_q.reshape(b, H * hd).sqrt().float(), sq_k.reshape(b, qk.Hkv * hd).sqrt().float()
