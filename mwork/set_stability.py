"""Set size vs corpus size: how each language's neuron set depends on how many documents PLND reads and on
the selection rule, how stable it is, and how much of it every language shares.

With ``min_doc_fraction: 1.0`` a neuron must be selected in *every* document, so a language with more
documents gets a smaller set for that reason alone (the paper's 180k English vs 20k Chinese documents).
This diagnostic scores up to ``max_docs`` documents of every language once and keeps every document's
importance; then, for each corpus size n and several seeds, it draws n document positions without
replacement (the same positions in every language: on a parallel corpus the same content), computes
PLND's statistics from them (``mwork.neurons.Selector``'s count, mean and floor) and forms each
language's set with each selection method compared (``mwork.selection``; the fraction-based ones at
each ``min_doc_fraction``). Reported per (method, language, n, fraction): the set's mean size and share of
the model's neurons, its spread over seeds, the share of the set that every language's set holds, the
mean Jaccard similarity between the seeds' sets (stability) and with the set of all scored documents.
"""

from __future__ import annotations

import itertools

import torch

from .batching import Documents
from .neurons import Scoring, topk_hits
from .selection import need, select_language, shared_by_all


def document_importance(model, tokenizer, texts: list[str], scoring: Scoring, batch_size: int = 8,
                        max_length: int = 256) -> dict[str, torch.Tensor]:
    """``{key: (documents, n) float32}``: every neuron's importance on every (non-empty) document, in the
    order of ``texts``."""
    docs = Documents(tokenizer, texts, max_length)
    parts: dict[str, list] = {}
    order: list[int] = []
    for idx, ids, mask in docs.batches(batch_size, next(model.parameters()).device):
        for key, imp in scoring(model, tokenizer, ids, mask).items():
            parts.setdefault(key, []).append(imp.float().cpu())
        order += idx
    back = torch.argsort(torch.tensor(order))
    return {key: torch.cat(v)[back] for key, v in parts.items()}


def subsample_stats(importance: dict, hits: dict, idx: torch.Tensor, fraction: float) -> dict[str, torch.Tensor]:
    """PLND's statistics (``key.count|mean|floor``) from the documents at ``idx``, as the plnd rule would
    compute them from those documents alone."""
    k = need(len(idx), fraction)
    out = {}
    for key, imp in importance.items():
        sub = imp[idx]
        out[f"{key}.count"] = hits[key][idx].sum(0, dtype=torch.int32)
        out[f"{key}.mean"] = sub.double().mean(0).float()
        out[f"{key}.floor"] = sub.topk(k, dim=0).values[-1]
    return out


def _flat(masks: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([masks[k] for k in sorted(masks)])


def _jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 1.0


def size_curve(importance: dict[str, dict[str, torch.Tensor]], methods: dict[str, dict], sizes: list[int],
               fractions: list[float], seeds: int, seed: int = 0) -> list[dict]:
    """Rows per (method, language, n_docs, min_doc_fraction) for every size the documents allow (all of them
    is always a point, one draw). ``importance``: language -> ``document_importance``; ``methods``: name ->
    ``plnd.selection`` spec (``selective`` ignores the fraction: its rows have none)."""
    langs = list(importance)
    total = min(next(iter(v.values())).shape[0] for v in importance.values())
    some = importance[langs[0]]
    n_neurons = sum(t.shape[1] for t in some.values())
    hits = {x: topk_hits(importance[x], next(iter(methods.values())).get("top_k", {"attn": 0.05, "ffn": 0.05}))
            for x in langs}
    sets: dict[tuple, list[dict]] = {}  # (method, fraction, n) -> per draw {lang: flat mask}
    for n in sorted({s for s in sizes if s <= total} | {total}):
        for s in range(seeds if n < total else 1):
            g = torch.Generator().manual_seed(seed * 1000 + s)
            idx = torch.randperm(total, generator=g)[:n].sort().values
            for f in fractions:
                stats = {x: subsample_stats(importance[x], hits[x], idx, f) for x in langs}
                for name, spec in methods.items():
                    if spec.get("method") == "selective" and f != fractions[0]:
                        continue
                    spec_f = {**spec, "min_doc_fraction": f}
                    chosen = {x: select_language(stats, x, spec_f, {y: n for y in langs},
                                                 against=spec.get("against") or langs)[0] for x in langs}
                    frac = None if spec.get("method") == "selective" else f
                    sets.setdefault((name, frac, n), []).append(chosen)
    out = []
    for (name, f, n), draws in sets.items():
        full = sets[(name, f, total)][0]
        for x in langs:
            flats = [_flat(d[x]) for d in draws]
            common = [_flat(shared_by_all(d)) for d in draws]
            sizes_x = torch.tensor([float(m.sum()) for m in flats])
            shared = [float((m & c).sum()) / float(m.sum()) if m.any() else float("nan") for m, c in zip(flats, common)]
            pairs = [_jaccard(a, b) for a, b in itertools.combinations(flats, 2)]
            out.append({"method": name, "language": x, "n_docs": n,
                        "min_doc_fraction": float("nan") if f is None else f, "seeds": len(draws),
                        "size_mean": float(sizes_x.mean()),
                        "size_sd": float(sizes_x.std()) if len(draws) > 1 else 0.0,
                        "share_mean": float(sizes_x.mean()) / n_neurons,
                        "shared_by_all_share": sum(shared) / len(shared),
                        "jaccard_seeds": sum(pairs) / len(pairs) if pairs else float("nan"),
                        "jaccard_all": sum(_jaccard(m, _flat(full[x])) for m in flats) / len(flats)})
    return out
