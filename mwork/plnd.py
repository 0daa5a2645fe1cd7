"""PLND: parallel language-specific neuron detection (Zhao et al., 2024, Eq. 1-10), made exact.

For one document and one neuron, importance is the Frobenius norm, over the document's tokens, of
the change that deactivating (zeroing) the neuron causes:

* ``ffn`` (intermediate unit k): change of the MLP block's output, ``||h[:, k]|| * ||W_down[:, k]||``
  (Eq. 4-5; exact, since the output is linear in h).
* ``attn.v`` (value feature j of kv head g, dim i): change of the attention block's output after the
  output projection. Zeroing v_j changes the output of every query head r served by g (grouped-query
  attention) by ``a_r(t) * W_o[:, r*hd + i]``, where ``a_r`` is head r's output at dim i; the norm is
  taken exactly through the Gram matrices of the a_r and of the W_o columns.
* ``attn.q`` / ``attn.k`` (feature j before the rotary embedding): change of the attention
  probabilities of every head that uses the feature, over all (query, key) pairs. Zeroing q_j moves the
  rotated query by ``-q_j(t) * M_t e_j`` (M_t = the rotary map at position t, applied by the model's own
  function to unit vectors), so every changed score is known in closed form; the probabilities are then
  recomputed with the model's scaling, soft-capping, ALiBi bias, causal, padding and sliding-window
  masks. This is Eq. 7-10 without the paper's approximation (which ignores RoPE).

``neuron_importance`` computes all of this in one forward pass with hooks; the Q/K part is processed
in blocks of heads and features, the V and FFN parts in blocks of documents, so that no block larger than
``chunk_elems`` entries is ever built.
``neuron_importance_sequential`` is the definition taken literally — one neuron at a time, rerunning
the block — and serves as the reference in tests.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from .arch import Adapter, get_adapter
from .hooks import Hooks
from .keys import KINDS, parse_key
from .keys import key as _key
from .qk_kernel import resolve as resolve_kernel
from .qk_kernel import rows_sq_diff


def _masks(adapter: Adapter, attn, valid: torch.Tensor):
    """allowed (b, 1, l, l) bool: key s visible from query t (causal, padding, sliding window)."""
    b, l = valid.shape
    idx = torch.arange(l, device=valid.device)
    allowed = idx[None, :] <= idx[:, None]
    window = adapter.sliding_window(attn)
    if window:
        allowed = allowed & (idx[None, :] > idx[:, None] - window)
    return allowed[None, None] & valid[:, None, None, :]


def _rotary_support(rot, nb: int, l: int, hd: int, feats: torch.Tensor, device):
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


class _LayerQK:
    """Exact importance of every q and k feature of one attention layer (see module docstring).

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
        allowed = _masks(adapter, attn, valid)  # (b, 1, l, l)
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

    def _final(self, scores: torch.Tensor, h: int, t0: int, t1: int) -> torch.Tensor:
        """Scores as the softmax sees them (soft-cap, bias, mask), for query rows t0:t1 and keys :t1."""
        if self.softcap:
            scores = torch.tanh(scores / self.softcap) * self.softcap
        if self.bias is not None:
            bias = self.bias[:, h:h + 1]
            scores = scores + (bias[..., t0:t1, :t1] if bias.shape[-2] > 1 else bias[..., :t1])
        return scores + self.neg[:, :, t0:t1, :t1]

    def fusable(self) -> bool:
        return _fusable(self.a, self.attn, self.qh.device)

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
            alpha = _rms_rescale(x, _eps(self.norms[side]), self.valid).transpose(1, 2)
            x = self.norms[side](x)
        x = x.transpose(1, 2).float()
        out = (x, self.rot(x).float() if self.rot else x, alpha)
        if side == 1:
            self._k_block = ((h0, h1), out)
        return out

    def _support(self):
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
        parts = [_rotary_support(rot, nb, l, hd, torch.arange(s, min(hd, s + step), device=dev), dev)
                 for s in range(0, hd, step)]
        m = max(sup.shape[1] for _, sup in parts)
        r_all, sup_all = [], []
        for r_sup, sup in parts:  # pad to m columns: a column of the feature's own support, with weight 0
            pad = m - sup.shape[1]
            r_all.append(torch.nn.functional.pad(r_sup, (0, pad)))
            sup_all.append(torch.cat([sup, sup[:, :1].expand(-1, pad)], dim=1))
        return torch.cat(r_all, dim=1), torch.cat(sup_all, dim=0)

    def _key_ranges(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
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

    def run_fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """As ``run``, with the fused kernel (``mwork.qk_kernel``): a (document, query head) pair is one of the
        kernel's documents; one call per block of heads, side (q, k) and block of features, the blocks bounded
        by ``chunk_elems``; what depends only on the keys (R, the key-side rescaling) is built once per
        key/value group and read by its heads through ``ridx``."""
        b, l, H, hd, G, dev = self.b, self.l, self.H, self.hd, self.G, self.qh.device
        r_sup, sup = self._support()  # (1 or b, hd, l, m), (hd, m)
        m = sup.shape[1]
        lo, hi, whole = self._key_ranges()
        sq_q = torch.zeros(b, H, hd, dtype=torch.float64)
        sq_k = torch.zeros(b, self.Hkv, hd, dtype=torch.float64)
        scaled = self.norms is not None
        # what the softmax adds to the (rescaled) scores: the bias (per block of heads, below) and the mask, which
        # is left out where every key the kernel reads is visible
        mask = None if whole else self.neg  # (b, 1, l, l)
        # heads per call: at most chunk_elems entries in the (b, n, l, l) scores; features per call: at most
        # chunk_elems entries in L (b, n, c, l, m)
        step = max(1, min(H, self.chunk_elems // max(1, b * l * l)))
        f32 = dict(device=dev, dtype=torch.float32)
        for h0 in range(0, H, step):
            h1 = min(H, h0 + step)
            n, g0, g1 = h1 - h0, h0 // G, (h1 - 1) // G + 1
            ng = g1 - g0
            groups = torch.arange(h0, h1, device=dev) // G
            # the kernel's documents are (document, head) pairs; each reads its group's R and key rescaling
            ridx = (torch.arange(b)[:, None] * ng + (groups.cpu() - g0)[None]).int().reshape(b * n)
            rows = [x[:, None].expand(b, n, l).reshape(b * n, l).contiguous() for x in (lo, hi)]
            q, qr, alpha_q = self.heads(0, h0, h1)
            k, kr, alpha_k = self.heads(1, g0, g1)
            qr = qr * self.scale  # (b, n, l, hd)
            A = torch.matmul(qr, kr[:, groups - g0].transpose(-1, -2))  # (b, n, l, l) scaled scores
            additive = [x for x in (None if self.bias is None else self.bias[:, h0:h1], mask) if x is not None]
            # with q/k norms the changed scores are rescaled before bias and mask: the kernel adds them (Badd);
            # else they are folded into the scores here
            into = torch.zeros(b, n, l, l, device=dev) if additive and scaled else A
            for x in additive:
                into.add_(x)
            badd = into.view(b * n, l, l) if into is not A else None
            A = A.view(b * n, l, l)
            c = max(1, min(hd, self.chunk_elems // max(1, b * n * l * m)))
            for f0 in range(0, hd, c):
                f1 = min(hd, f0 + c)
                f, fs = f1 - f0, sup[f0:f1]
                # zeroing q_j(t): score(t, s) drops by scale * q_j(t) * sum_m r_sup[t, m] * kr(s)[sup_m]
                L = torch.empty(b, n, f, l, m, **f32)
                torch.mul(q[..., f0:f1].transpose(-1, -2)[..., None], r_sup[:, None, f0:f1], out=L)
                L.mul_(self.scale)
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
        return sq_q.reshape(b, H * hd).sqrt().float(), sq_k.reshape(b, self.Hkv * hd).sqrt().float()

    def run(self) -> tuple[torch.Tensor, torch.Tensor]:
        b, l, H, Hkv, hd, G = self.b, self.l, self.H, self.Hkv, self.hd, self.G
        dev = self.qh.device
        sq_q = torch.zeros(b, H, hd, device=dev)
        sq_k = torch.zeros(b, Hkv, hd, device=dev)
        r_all, sup_all = self._support()
        chunks = []
        for start in range(0, hd, self.c):
            stop = min(hd, start + self.c)
            chunks.append((start, torch.arange(start, stop, device=dev), r_all[:, start:stop], sup_all[start:stop]))
        scaled = self.norms is not None
        # without soft-capping or q/k norms, bias and mask can be folded into the base scores
        fold = not self.softcap and not scaled
        qvalid_rows = self.qvalid[:, None]  # (b, 1, l, 1)
        for g in range(Hkv):
            k, kr, alpha_k = (x[:, 0] if x is not None else None for x in self.heads(1, g, g + 1))  # (b, l, hd)
            for r in range(G):
                h = g * G + r
                q, qr, alpha_q = (x[:, 0] if x is not None else None for x in self.heads(0, h, h + 1))
                raw = self.scale * (qr @ kr.transpose(-1, -2))[:, None]  # (b, 1, t, s)
                base = self._final(raw, h, 0, l) if fold else raw
                p0 = torch.softmax(self._final(raw, h, 0, l), dim=-1)
                for start, feats, r_sup, sup in chunks:
                    n = len(feats)
                    kr_sup = kr[:, :, sup].permute(0, 2, 1, 3)  # (b, c, s, m)
                    qr_sup = (qr * self.qvalid)[:, :, sup].permute(0, 2, 1, 3)  # (b, c, t, m)
                    # zeroing q_j(t): score(t, s) drops by scale * q_j(t) * (M_t e_j) . kr(s)
                    q_side = ((q * self.qvalid)[:, :, feats].transpose(1, 2)[..., None] * r_sup)
                    # zeroing k_j(s) (shared by the group's heads): drops by scale * qr(t) . (M_s e_j) * k_j(s)
                    k_side = k[:, :, feats].transpose(1, 2)[..., None] * r_sup
                    if scaled:  # rescaling of query rows t / key columns s: (b, c, t, 1), (b, c, 1, s)
                        a_q = alpha_q[:, :, feats].transpose(1, 2)[..., None]
                        a_k = alpha_k[:, :, feats].transpose(1, 2)[:, :, None, :]
                    for t0, t1 in self.blocks:
                        p0_blk = p0[:, :, t0:t1, :t1]
                        for side, (lhs, rhs, acc) in enumerate(((q_side, kr_sup, sq_q[:, h]),
                                                                (qr_sup, k_side, sq_k[:, g]))):
                            delta = torch.einsum("bctm,bcsm->bcts", lhs[:, :, t0:t1], rhs[:, :, :t1])
                            if fold:
                                scores = torch.sub(base[:, :, t0:t1, :t1], delta, alpha=self.scale)
                            else:
                                scores = raw[:, :, t0:t1, :t1] - self.scale * delta
                                if scaled:
                                    scores = scores * (a_q[:, :, t0:t1] if side == 0 else a_k[..., :t1])
                                scores = self._final(scores, h, t0, t1)
                            diff = torch.softmax(scores, dim=-1).sub_(p0_blk)
                            if scaled:  # uncounted query rows (padding) change nothing
                                diff.mul_(qvalid_rows[:, :, t0:t1])
                            acc[:, start:start + n] += diff.square_().sum(dim=(-1, -2))
        return sq_q.reshape(b, H * hd).sqrt(), sq_k.reshape(b, Hkv * hd).sqrt()


def _fusable(adapter: Adapter, attn, device) -> bool:
    """Whether the fused kernel computes this attention layer (it has no soft-capping; all else it does)."""
    return not adapter.softcap(attn) and torch.device(device).type == "cpu"


def qk_path(model, qk_kernel: str = "auto") -> str:
    """``fused`` or ``torch``: what ``neuron_importance(model, ..., qk_kernel=qk_kernel)`` computes the Q/K part
    with (recorded in the neuron file)."""
    adapter, device = get_adapter(model), next(model.parameters()).device
    if not resolve_kernel(qk_kernel, device):
        return "torch"
    return "fused" if all(_fusable(adapter, adapter.layer(i).attn, device) for i in range(adapter.n_layers)) \
        else "torch"


def _eps(norm: torch.nn.Module) -> float:
    eps = getattr(norm, "eps", getattr(norm, "variance_epsilon", None))
    if eps is None:
        raise TypeError(f"{type(norm).__name__}: an RMS norm with `eps` or `variance_epsilon` was expected")
    return float(eps)


def _rms_rescale(x: torch.Tensor, eps: float, valid: torch.Tensor) -> torch.Tensor:
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


def _doc_blocks(b: int, per_doc: int, chunk_elems: int):
    """Slices of documents holding at most ``chunk_elems`` entries of ``per_doc`` each (at least one document)."""
    step = max(1, chunk_elems // max(1, per_doc))
    return [slice(j, min(b, j + step)) for j in range(0, b, step)]


def _v_importance(adapter: Adapter, head_out: torch.Tensor, w_o: torch.Tensor, rows: torch.Tensor,
                  chunk_elems: int) -> torch.Tensor:
    """head_out: input of the output projection (b, l, H*hd); w_o: its weight (d, H*hd); rows (b, l): the
    positions counted -> (b, Hkv*hd). In blocks of documents, so the float64 copy is a block's."""
    b, l, width = head_out.shape
    Hkv, G, hd = adapter.n_kv_heads, adapter.n_heads // adapter.n_kv_heads, adapter.head_dim
    w = w_o.double().view(-1, Hkv, G, hd)
    gram_w = torch.einsum("dgri,dgsi->girs", w, w)
    sq = torch.empty(b, Hkv, hd, dtype=torch.float64, device=head_out.device)
    for blk in _doc_blocks(b, l * width, chunk_elems):
        a = head_out[blk].to(torch.float64, copy=True).mul_(rows[blk, :, None]).view(-1, l, Hkv, G, hd)
        sq[blk] = (torch.einsum("blgri,blgsi->bgirs", a, a) * gram_w[None]).sum(dim=(-1, -2))
    return sq.clamp_(min=0).sqrt_().reshape(b, Hkv * hd).float()


def _ffn_importance(h: torch.Tensor, w_down: torch.Tensor, rows: torch.Tensor, chunk_elems: int) -> torch.Tensor:
    """h: input of the down projection (b, l, n); rows (b, l) -> ||h_k over the counted positions|| *
    ||W_down[:, k]||, (b, n). In blocks of documents (no masked copy of the whole batch's activations)."""
    b, l, n = h.shape
    h_norm = torch.empty(b, n, dtype=torch.float32, device=h.device)
    for blk in _doc_blocks(b, l * n, chunk_elems):
        h_norm[blk] = torch.linalg.vector_norm(h[blk].to(torch.float32, copy=True).mul_(rows[blk, :, None]), dim=1)
    return h_norm * w_down.float().norm(dim=0)


@torch.no_grad()
def neuron_importance(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      kinds=KINDS, chunk_elems: int = 1 << 20,
                      score_mask: torch.Tensor | None = None, qk_kernel: str = "auto") -> dict[str, torch.Tensor]:
    """Importance of every neuron for every document of a batch, in one forward pass.

    input_ids, attention_mask: (b, l); padding (left or right) is excluded, so a padded batch gives the
    same numbers as each document alone. ``score_mask`` (b, l), within the attention mask: the positions
    whose changes are counted (default all; PLND leaves out special tokens such as BOS) — the model still
    sees every position, and a neuron is still deactivated everywhere. Returns
    ``{"layers.{i}.{kind}": float32 (b, n_neurons)}`` for kind in ``kinds`` (``ffn``, ``attn.q``,
    ``attn.k``, ``attn.v``), on the CPU. ``qk_kernel``: ``auto`` (the fused CPU kernel of
    ``mwork.qk_kernel`` where it builds, else PyTorch), ``fused`` (required) or ``torch``; same numbers.
    """
    adapter = get_adapter(model)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    valid = attention_mask.bool()
    rows = valid if score_mask is None else valid & score_mask.bool().to(valid.device)
    out: dict[str, torch.Tensor] = {}
    want_qk = "attn.q" in kinds or "attn.k" in kinds
    fused = want_qk and resolve_kernel(qk_kernel, input_ids.device)
    with Hooks() as hooks:
        _register(adapter, kinds, want_qk, valid, rows, out, hooks, chunk_elems, fused)
        # no importance depends on the logits: the output head runs for one position only
        model(**adapter.forward_kwargs(input_ids, attention_mask), logits_to_keep=1)
    return {k: out[k] for k in sorted(out, key=lambda s: (parse_key(s)[0], KINDS.index(parse_key(s)[1])))}


def _register(adapter: Adapter, kinds, want_qk: bool, valid, rows, out: dict, hooks: Hooks, chunk_elems: int,
              fused: bool) -> None:
    """Attach neuron_importance's hooks to ``hooks`` (which removes them all, also after a failure here)."""
    shared: dict = {}  # shared by the layers' Q/K computations within this forward pass
    for i in range(adapter.n_layers):
        lm = adapter.layer(i)
        st: dict = {}

        def on_attn(mod, args, kwargs, st=st):
            if want_qk:
                st["call"] = adapter.attn_call_args(mod, args, kwargs)

        def on_proj(name):
            def hook(mod, args, output, st=st):
                st[name] = output

            return hook

        def on_qkv(mod, args, output, st=st):
            st["q"], st["k"], _ = adapter.split_qkv(output)

        def on_out_proj(mod, args, i=i, lm=lm, st=st):
            x = args[0]
            if "attn.v" in kinds:
                out[_key(i, "attn.v")] = _v_importance(adapter, x, mod.weight, rows.to(x.device), chunk_elems).cpu()
            if want_qk:
                # handed over, not kept: the projections' raw outputs go with the layer's Q/K computation
                qk = _LayerQK(adapter, lm.attn, st.pop("call"), st.pop("q"), st.pop("k"), valid.to(x.device),
                              chunk_elems, rows.to(x.device), shared)
                imp_q, imp_k = qk.run_fused() if fused and qk.fusable() else qk.run()
                if "attn.q" in kinds:
                    out[_key(i, "attn.q")] = imp_q.cpu()
                if "attn.k" in kinds:
                    out[_key(i, "attn.k")] = imp_k.cpu()
            st.clear()

        def on_down(mod, args, i=i):
            out[_key(i, "ffn")] = _ffn_importance(args[0], mod.weight, rows.to(args[0].device), chunk_elems).cpu()

        if want_qk:
            hooks.before(lm.attn, on_attn, with_kwargs=True)
            if lm.qkv is not None:
                hooks.after(lm.qkv, on_qkv)
            else:
                hooks.after(lm.q, on_proj("q"))
                hooks.after(lm.k, on_proj("k"))
        if want_qk or "attn.v" in kinds:
            hooks.before(lm.out_proj, on_out_proj)
        if "ffn" in kinds:
            hooks.before(lm.down, on_down)


# --------------------------------------------------------------------------------------------------
# the definition taken literally: one neuron at a time


@contextmanager
def _eager(model):
    """Run attention with the eager implementation (it returns the probabilities)."""
    old = model.config._attn_implementation
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:  # pragma: no cover - older transformers
        model.config._attn_implementation = "eager"
    try:
        yield
    finally:
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(old)
        else:  # pragma: no cover
            model.config._attn_implementation = old


@contextmanager
def _zero_feature(module: torch.nn.Module, col: int, on_input: bool = False):
    """Zero feature ``col`` of a module's output (or, with on_input, of its input) while inside."""
    if on_input:
        def pre(mod, args):
            x = args[0].clone()
            x[..., col] = 0
            return (x, *args[1:])

        with Hooks() as hooks:
            hooks.before(module, pre)
            yield
    else:
        def post(mod, args, output):
            output = output.clone()
            output[..., col] = 0
            return output

        with Hooks() as hooks:
            hooks.after(module, post)
            yield


@torch.no_grad()
def neuron_importance_sequential(model, input_ids, attention_mask=None, layers=None, kinds=KINDS,
                                 neurons: dict[str, list[int]] | None = None,
                                 qk_measure: str = "probs", score_mask=None) -> dict[str, torch.Tensor]:
    """The reference: deactivate one neuron, rerun its block on the captured inputs, measure the change.

    ``layers``: which layers (default all); ``neurons``: optional ``{kind: [indices]}`` to compute only
    some neurons (others are NaN). Same output layout as ``neuron_importance``. ``qk_measure="output"``
    measures q/k features by the change of the attention block's output instead of its probabilities
    (Eq. 1 literally; used to judge the paper's proxy).
    """
    adapter = get_adapter(model)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    valid = attention_mask.bool()
    if score_mask is not None:  # the positions whose changes are counted
        valid = valid & score_mask.bool()
    layers = range(adapter.n_layers) if layers is None else layers
    sizes = adapter.sizes()
    out = {}
    with _eager(model):
        captured: dict[int, dict] = {}
        with Hooks() as hooks:
            for i in layers:
                lm = adapter.layer(i)
                captured[i] = {}

                def cap(name, i=i):
                    def hook(mod, args, kwargs):
                        captured[i][name] = (args, kwargs)

                    return hook

                hooks.before(lm.attn, cap("attn"), with_kwargs=True)
                hooks.before(lm.mlp, cap("mlp"), with_kwargs=True)
            model(**adapter.forward_kwargs(input_ids, attention_mask))
        vq = valid[:, None, :, None].float()
        for i in layers:
            lm = adapter.layer(i)
            a_args, a_kwargs = captured[i]["attn"]
            m_args, m_kwargs = captured[i]["mlp"]
            base_attn = lm.attn(*a_args, **a_kwargs)
            base_mlp = lm.mlp(*m_args, **m_kwargs)
            base_mlp = base_mlp[0] if isinstance(base_mlp, tuple) else base_mlp
            for kind in kinds:
                n = sizes[kind]
                res = torch.full((input_ids.shape[0], n), float("nan"))
                for j in (neurons or {}).get(kind, range(n)):
                    if kind == "ffn":
                        with _zero_feature(lm.down, j, on_input=True):
                            y = lm.mlp(*m_args, **m_kwargs)
                        y = y[0] if isinstance(y, tuple) else y
                        res[:, j] = ((y - base_mlp).float().square().sum(-1) * valid).sum(-1).sqrt()
                        continue
                    if lm.qkv is not None:
                        ctx = _zero_feature(lm.qkv, int(adapter.fused_index(kind, torch.tensor(j))))
                    else:
                        ctx = _zero_feature({"attn.q": lm.q, "attn.k": lm.k, "attn.v": lm.v}[kind], j)
                    with ctx:
                        y = lm.attn(*a_args, **a_kwargs)
                    if kind == "attn.v" or qk_measure == "output":
                        res[:, j] = ((y[0] - base_attn[0]).float().square().sum(-1) * valid).sum(-1).sqrt()
                    else:  # attention probabilities (b, H, l, l), over valid query rows
                        res[:, j] = ((y[1] - base_attn[1]).float().square() * vq).sum(dim=(1, 2, 3)).sqrt()
                out[_key(i, kind)] = res
    return out
