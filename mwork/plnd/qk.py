"""PLND's importance of attention query and key features (``attn.q`` / ``attn.k``, Eq. 7-10 made exact).

Zeroing q_j (feature j before the rotary embedding) moves the rotated query by ``-q_j(t) * M_t e_j`` (M_t =
the rotary map at position t, applied by the model's own function to unit vectors), so every changed score
is known in closed form; the probabilities are then recomputed with the model's scaling, soft-capping,
ALiBi bias, causal, padding and sliding-window masks, and a feature's importance is the Frobenius norm of
the change of the attention probabilities of every head that uses it, over all (query, key) pairs. With a
per-head q/k norm (Gemma-3) every changed score is rescaled (``LayerQK.heads``). The paper's Eq. 7-10
ignore RoPE; this is the quantity they approximate.

``LayerQK`` holds one layer's problem; two backends compute it, with the same numbers: ``qk_torch``
(PyTorch, any device) and ``qk_fused`` (the fused CPU kernel of ``kernel``/``qk_kernel.c``).
"""

from __future__ import annotations

import torch

from ..arch import Adapter
from .geometry import norm_eps, rms_rescale, rotary_support, visible_keys


class LayerQK:
    """One attention layer's Q/K importance problem: its q and k, rotation, scaling, soft-cap, bias and masks,
    as the backends (``qk_torch``, ``qk_fused``) read them.

    Work is organised to touch each (feature, query, key) entry as few times as possible: each counted query
    row reads only the keys it can see (the causal triangle, padding and windows left out; the mask is added
    only where a row's range has holes), ALiBi bias is added once per block of heads; rows of padding queries
    get no change; nothing layer-wide is copied (``heads`` derives q and k per block of heads).
    """

    n_row_blocks = 4

    def __init__(self, adapter: Adapter, attn, call: dict, q: torch.Tensor, k: torch.Tensor, valid: torch.Tensor,
                 chunk_elems: int, rows: torch.Tensor | None = None, shared: dict | None = None):
        self.a, self.attn, self.chunk_elems = adapter, attn, chunk_elems
        # what layers that rotate alike can share within one forward pass (the rotary support)
        self.shared, self.rot_key = ({} if shared is None else shared), adapter.rotary_key(attn, call)
        self.call = call
        b, l, _ = q.shape
        H, Hkv, hd = adapter.n_heads, adapter.n_kv_heads, adapter.head_dim
        self.b, self.l, self.H, self.Hkv, self.hd, self.G = b, l, H, Hkv, hd, H // Hkv
        # the projections' outputs (b, l, heads, hd); what derives from them (the q/k norm, its rescaling, the
        # rotation) is computed per block of heads when needed, so no layer-wide copy of it exists
        self.qh, self.kh, self.valid = q.view(b, l, H, hd), k.view(b, l, Hkv, hd), valid
        self.norms = adapter.qk_norms(attn)
        self._k_block: tuple = (None, None)
        self.rot = adapter.rotary(attn, call)
        self.scale = adapter.scaling(attn)
        self.softcap = adapter.softcap(attn)
        self.bias = adapter.score_bias(attn, call, b, l)  # (b, H, 1|l, l) or None
        allowed = visible_keys(adapter, attn, valid)  # (b, 1, l, l)
        # a padding query also attends to itself, so no row is empty; its score changes are zero (and with
        # q/k norms its rows are left out), so it contributes nothing
        eye = torch.eye(l, dtype=torch.bool, device=q.device)[None, None]
        self.allowed = allowed | (eye & ~valid[:, None, :, None])
        self.neg = torch.zeros(self.allowed.shape, device=q.device, dtype=torch.float32)
        self.neg.masked_fill_(~self.allowed, torch.finfo(torch.float32).min)
        # (b, l, 1): the query rows whose changes count (padding, and special tokens when left out, do not)
        self.qvalid = (valid if rows is None else rows)[:, :, None].float()
        self.c = max(1, min(hd, chunk_elems // max(1, b * l * l)))
        nb = max(1, min(self.n_row_blocks, l // 16))
        edges = [round(i * l / nb) for i in range(nb + 1)]
        self.blocks = [(t0, t1) for t0, t1 in zip(edges[:-1], edges[1:]) if t1 > t0]

    def final(self, scores: torch.Tensor, h: int, t0: int, t1: int) -> torch.Tensor:
        """Scores as the softmax sees them (soft-cap, bias, mask), for query rows t0:t1 and keys :t1."""
        if self.softcap:
            scores = torch.tanh(scores / self.softcap) * self.softcap
        if self.bias is not None:
            bias = self.bias[:, h:h + 1]
            scores = scores + (bias[..., t0:t1, :t1] if bias.shape[-2] > 1 else bias[..., :t1])
        return scores + self.neg[:, :, t0:t1, :t1]

    def heads(self, side: int, h0: int, h1: int):
        """Heads h0:h1 of q (side 0) or k (side 1): (x, xr, alpha), float32 (b, n, l, hd) — x before the rotary
        embedding (after the q/k norm, if any), xr after it, alpha the norm's rescaling (or None).

        With a per-head RMS norm after the projection (Gemma-3), zeroing feature j of the projection rescales
        the rest of the head, n(x - x_j e_j) = alpha_j * (n(x) - n(x)_j e_j), so every changed score is
        alpha_j * (the score with n(x)_j zeroed); alpha_j = rms(x) / rms(x - x_j e_j)."""
        if side == 1 and self._k_block[0] == (h0, h1):  # a key/value group is read by several query heads
            return self._k_block[1]
        x, alpha = (self.qh if side == 0 else self.kh)[:, :, h0:h1], None
        if self.norms is not None:
            alpha = rms_rescale(x, norm_eps(self.norms[side]), self.valid).transpose(1, 2)
            x = self.norms[side](x)
        x = x.transpose(1, 2).float()
        out = (x, self.rot(x).float() if self.rot else x, alpha)
        if side == 1:
            self._k_block = ((h0, h1), out)
        return out

    def support(self):
        """Every feature's rotary support at once: r_sup (nb, hd, l, m) (nb: the rotation's batch, 1 or b) and
        sup (hd, m), built in small blocks of features; computed once per rotation (``shared``)."""
        key = ("support", self.rot_key) if self.rot_key is not None else None
        if key is not None and key in self.shared:
            return self.shared[key][0]
        out = self._build_support()
        if key is not None:  # holding the call's tensors keeps their addresses (in the key) from being reused
            self.shared[key] = (out, self.call.get("position_embeddings"))
        return out

    def _build_support(self):
        l, hd, dev = self.l, self.hd, self.qh.device
        # the rotation's batch: 1 where its cos/sin are the same for every document (positions 0..l-1)
        rot, nb = self.rot, 1
        if rot is not None and self.call.get("position_embeddings") is not None:
            cos, sin = self.call["position_embeddings"]
            nb = cos.shape[0]
            if nb > 1 and all(bool((x == x[:1]).all()) for x in (cos, sin)):  # every document at the same positions
                rot, nb = self.a.rotary(self.attn, {**self.call, "position_embeddings": (cos[:1], sin[:1])}), 1
        # built once per rotation, so in small blocks: the rotation makes a few copies of its (nb, c, l, hd) basis
        step = max(1, min(hd, self.chunk_elems // max(1, 8 * nb * l * hd)))
        parts = [rotary_support(rot, nb, l, hd, torch.arange(s, min(hd, s + step), device=dev), dev)
                 for s in range(0, hd, step)]
        m = max(sup.shape[1] for _, sup in parts)
        r_all, sup_all = [], []
        for r_sup, sup in parts:  # pad to m columns: a column of the feature's own support, with weight 0
            pad = m - sup.shape[1]
            r_all.append(torch.nn.functional.pad(r_sup, (0, pad)))
            sup_all.append(torch.cat([sup, sup[:, :1].expand(-1, pad)], dim=1))
        return torch.cat(r_all, dim=1), torch.cat(sup_all, dim=0)

    def key_ranges(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(b, l) int32 lo, hi: each counted query row's visible keys lie in [lo, hi) (the kernel touches no
        other entry); rows not counted get lo = hi = 0. And whether every key in those ranges is visible (a
        causal, padding or sliding-window mask always is; a mask with holes is not): then the mask need not
        be added."""
        allowed = self.allowed[:, 0]  # (b, l, l)
        l = self.l
        lo = allowed.int().argmax(dim=-1)
        hi = l - allowed.flip(-1).int().argmax(dim=-1)
        counted = self.qvalid[..., 0] > 0
        lo, hi = torch.where(counted, lo, 0), torch.where(counted, hi, 0)
        whole = bool((allowed.sum(-1) == hi - lo)[counted].all())
        return lo.int().contiguous(), hi.int().contiguous(), whole
