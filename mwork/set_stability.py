"""Set size vs corpus size (#14 item 16): how a language's neuron set depends on how many documents PLND
reads, and how stable it is.

With ``min_doc_fraction: 1.0`` a neuron must be selected in *every* document, so a language with more
documents gets a smaller set for that reason alone (the paper's 180k English vs 20k Chinese documents).
This diagnostic scores up to ``max(n_docs)`` documents once, keeps which neurons each document selects,
and then, for each corpus size n, each ``min_doc_fraction`` f and several seeds, draws n documents
without replacement and forms the set (selected in at least ceil(f * n) of them). Reported per
(language, n, f): the set's mean size and spread over seeds, the mean Jaccard similarity between the
seeds' sets (stability) and the Jaccard similarity with the set of all scored documents.
"""

from __future__ import annotations

import itertools
import math

import torch

from .batching import Documents
from .neurons import Scoring, Selector


def document_hits(model, tokenizer, texts: list[str], selector: Selector, scoring: Scoring, batch_size: int = 8,
                  max_length: int = 256) -> torch.Tensor:
    """(documents, neurons) bool: which neurons each document selects, every layer and kind side by side."""
    docs = Documents(tokenizer, texts, max_length)
    rows: list[torch.Tensor] = [None] * len(docs)  # type: ignore[list-item]
    for idx, ids, mask in docs.batches(batch_size, next(model.parameters()).device):
        hits = selector.hits(scoring(model, tokenizer, ids, mask))
        flat = torch.cat([hits[k] for k in sorted(hits)], dim=1)
        for j, i in enumerate(idx):
            rows[i] = flat[j]
    return torch.stack(rows)


def _jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 1.0


def size_curve(hits: torch.Tensor, sizes: list[int], fractions: list[float], seeds: int, seed: int = 0) -> list[dict]:
    """Rows (n_docs, min_doc_fraction, size_mean, size_sd, jaccard_seeds, jaccard_all) for every size the
    documents allow; ``hits`` as from ``document_hits``."""
    total = hits.shape[0]
    counts_all = hits.sum(0, dtype=torch.int32)
    out = []
    for n in sorted({s for s in sizes if s <= total} | {total}):
        draws = []
        for s in range(seeds if n < total else 1):
            g = torch.Generator().manual_seed(seed * 1000 + s)
            draws.append(hits[torch.randperm(total, generator=g)[:n]].sum(0, dtype=torch.int32))
        for f in fractions:
            need = math.ceil(f * n - 1e-9)
            sets = [c >= need for c in draws]
            full = counts_all >= math.ceil(f * total - 1e-9)
            sizes_f = torch.tensor([float(x.sum()) for x in sets])
            pairs = [_jaccard(a, b) for a, b in itertools.combinations(sets, 2)]
            out.append({"n_docs": n, "min_doc_fraction": f, "seeds": len(sets), "size_mean": float(sizes_f.mean()),
                        "size_sd": float(sizes_f.std()) if len(sets) > 1 else 0.0,
                        "jaccard_seeds": sum(pairs) / len(pairs) if pairs else float("nan"),
                        "jaccard_all": sum(_jaccard(x, full) for x in sets) / len(sets)})
    return out
