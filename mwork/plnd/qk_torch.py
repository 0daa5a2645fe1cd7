"""The Q/K importance in PyTorch (any device): per query head, per block of features and of query rows, the
changed scores of every feature, their softmax and its squared difference to the unchanged probabilities."""

from __future__ import annotations

import torch

from .qk import LayerQK


def importance(qk: LayerQK) -> tuple[torch.Tensor, torch.Tensor]:
    """The importance of every q and k feature of the layer: (b, H * hd), (b, Hkv * hd) float32."""
    b, l, H, Hkv, hd, G = qk.b, qk.l, qk.H, qk.Hkv, qk.hd, qk.G
    dev = qk.qh.device
    sq_q = torch.zeros(b, H, hd, device=dev)
    sq_k = torch.zeros(b, Hkv, hd, device=dev)
    r_all, sup_all = qk.support()
    chunks = []
    for start in range(0, hd, qk.c):
        stop = min(hd, start + qk.c)
        chunks.append((start, torch.arange(start, stop, device=dev), r_all[:, start:stop], sup_all[start:stop]))
    scaled = qk.norms is not None
    # without soft-capping or q/k norms, bias and mask can be folded into the base scores
    fold = not qk.softcap and not scaled
    qvalid_rows = qk.qvalid[:, None]  # (b, 1, l, 1)
    for g in range(Hkv):
        k, kr, alpha_k = (x[:, 0] if x is not None else None for x in qk.heads(1, g, g + 1))  # (b, l, hd)
        for r in range(G):
            h = g * G + r
            q, qr, alpha_q = (x[:, 0] if x is not None else None for x in qk.heads(0, h, h + 1))
            raw = qk.scale * (qr @ kr.transpose(-1, -2))[:, None]  # (b, 1, t, s)
            base = qk.final(raw, h, 0, l) if fold else raw
            p0 = torch.softmax(qk.final(raw, h, 0, l), dim=-1)
            for start, feats, r_sup, sup in chunks:
                n = len(feats)
                kr_sup = kr[:, :, sup].permute(0, 2, 1, 3)  # (b, c, s, m)
                qr_sup = (qr * qk.qvalid)[:, :, sup].permute(0, 2, 1, 3)  # (b, c, t, m)
                # zeroing q_j(t): score(t, s) drops by scale * q_j(t) * (M_t e_j) . kr(s)
                q_side = ((q * qk.qvalid)[:, :, feats].transpose(1, 2)[..., None] * r_sup)
                # zeroing k_j(s) (shared by the group's heads): drops by scale * qr(t) . (M_s e_j) * k_j(s)
                k_side = k[:, :, feats].transpose(1, 2)[..., None] * r_sup
                if scaled:  # rescaling of query rows t / key columns s: (b, c, t, 1), (b, c, 1, s)
                    a_q = alpha_q[:, :, feats].transpose(1, 2)[..., None]
                    a_k = alpha_k[:, :, feats].transpose(1, 2)[:, :, None, :]
                for t0, t1 in qk.blocks:
                    p0_blk = p0[:, :, t0:t1, :t1]
                    for side, (lhs, rhs, acc) in enumerate(((q_side, kr_sup, sq_q[:, h]),
                                                            (qr_sup, k_side, sq_k[:, g]))):
                        delta = torch.einsum("bctm,bcsm->bcts", lhs[:, :, t0:t1], rhs[:, :, :t1])
                        if fold:
                            scores = torch.sub(base[:, :, t0:t1, :t1], delta, alpha=qk.scale)
                        else:
                            scores = raw[:, :, t0:t1, :t1] - qk.scale * delta
                            if scaled:
                                scores = scores * (a_q[:, :, t0:t1] if side == 0 else a_k[..., :t1])
                            scores = qk.final(scores, h, t0, t1)
                        diff = torch.softmax(scores, dim=-1).sub_(p0_blk)
                        if scaled:  # uncounted query rows (padding) change nothing
                            diff.mul_(qvalid_rows[:, :, t0:t1])
                        acc[:, start:start + n] += diff.square_().sum(dim=(-1, -2))
    return sq_q.reshape(b, H * hd).sqrt(), sq_k.reshape(b, Hkv * hd).sqrt()
