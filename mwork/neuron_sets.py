"""What is done with neuron sets: per-layer counts, overlap between languages (Eq. 11, Figures 5 and 6),
the per-language summary, and the share of a set that a query activates (Figure 3)."""

from __future__ import annotations

import json

import pandas as pd
import torch
from tqdm import tqdm

from .batching import Documents
from .deactivation import random_per_layer
from .errors import MworkError
from .keys import KINDS, parse_key
from .neurons import STRUCTURE, Scoring, corpus_of, load_neurons, mask_keys, topk_hits
from .selection import shared_by_all


def per_layer_counts(masks: dict[str, torch.Tensor]):
    """DataFrame: layer x kind -> number of selected neurons (and the layer's size)."""
    rows = {}
    for name in mask_keys(masks):
        layer, kind = parse_key(name)
        rows.setdefault(layer, {})[kind] = int(masks[name].sum())
        rows[layer][f"{kind}_of"] = masks[name].numel()
    df = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    df.index.name = "layer"
    return df


def compare_sets(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]):
    """DataFrame per module kind (and in all): neurons in A, in B, in both, only in A, only in B, Jaccard."""
    keys = mask_keys(a)
    if set(keys) != set(mask_keys(b)):
        raise ValueError("the two neuron files have different layers or module kinds")
    rows = []
    for kind in [*KINDS, "all"]:
        ks = [k for k in keys if kind == "all" or parse_key(k)[1] == kind]
        if not ks:
            continue
        x, y = torch.cat([a[k] for k in ks]), torch.cat([b[k] for k in ks])
        both, union = int((x & y).sum()), int((x | y).sum())
        rows.append({"kind": kind, "a": int(x.sum()), "b": int(y.sum()), "both": both, "only_a": int((x & ~y).sum()),
                     "only_b": int((y & ~x).sum()), "jaccard": both / union if union else 1.0})
    return pd.DataFrame(rows)


def structure_sets(masks: dict[str, torch.Tensor]) -> dict[str, set]:
    """{"attn": {(layer, kind, idx)}, "ffn": {...}} — neuron identities for overlap computations."""
    out = {"attn": set(), "ffn": set()}
    for name in mask_keys(masks):
        layer, kind = parse_key(name)
        for idx in masks[name].nonzero().flatten().tolist():
            out[STRUCTURE[kind]].add((layer, kind, idx))
    return out


def overlap_ratio(n_x: set, n_y: set) -> float:
    """overlap(x, y) = |N_x ∩ N_y| / |N_y| (Eq. 11); NaN when N_y is empty."""
    return len(n_x & n_y) / len(n_y) if n_y else float("nan")


def overlap_matrix(sets_by_lang: dict[str, dict[str, set]], structure: str):
    """DataFrame rows x, columns y: overlap(x, y) for one structure."""
    langs = list(sets_by_lang)
    return pd.DataFrame([[overlap_ratio(sets_by_lang[x][structure], sets_by_lang[y][structure]) for y in langs]
                         for x in langs], index=langs, columns=langs)


def neuron_summary(files_by_lang: dict[str, str]):
    """(counts DataFrame, {"attn": overlap, "ffn": overlap}) for one model's neuron files.

    counts: per language, attention and FFN neurons selected, all neurons, the share of all neurons
    that are language-specific (the paper reports about 0.13%), how many of them every language's set
    holds (and their share of the set), and the selection method.
    """
    rows, sets, all_masks, metas = [], {}, {}, {}
    for lang, path in files_by_lang.items():
        masks, meta = load_neurons(path, language=lang, corpus=corpus_of(path))
        all_masks[lang], metas[lang] = masks, meta
        structure = {k: STRUCTURE[parse_key(k)[1]] for k in masks}
        n_attn = sum(int(m.sum()) for k, m in masks.items() if structure[k] == "attn")
        n_ffn = sum(int(m.sum()) for k, m in masks.items() if structure[k] == "ffn")
        tot_attn = sum(m.numel() for k, m in masks.items() if structure[k] == "attn")
        tot_ffn = sum(m.numel() for k, m in masks.items() if structure[k] == "ffn")
        rows.append({"language": lang, "n_docs": int(meta.get("n_docs", 0)), "attn": n_attn, "ffn": n_ffn,
                     "total": n_attn + n_ffn, "attn_share": n_attn / tot_attn, "ffn_share": n_ffn / tot_ffn,
                     "share": (n_attn + n_ffn) / (tot_attn + tot_ffn)})
        sets[lang] = structure_sets(masks)
    common = shared_by_all(all_masks)
    for row in rows:
        masks = all_masks[row["language"]]
        row["shared_by_all"] = sum(int((masks[k] & common[k]).sum()) for k in common)
        row["shared_by_all_share"] = row["shared_by_all"] / row["total"] if row["total"] else float("nan")
        row["method"] = json.loads(metas[row["language"]].get("selection", "{}")).get("method", "")
    return pd.DataFrame(rows), {s: overlap_matrix(sets, s) for s in ("attn", "ffn")}


def activated_per_layer(model, tokenizer, queries: dict[str, list[str]], sets: dict[str, dict[str, torch.Tensor]],
                        top_k: dict, batch_size: int = 8, max_length: int = 256, scoring: Scoring | None = None,
                        seed=0, progress: bool = True):
    """Figure 3: per layer and structure, the share of language X's set that a query activates, for the
    queries of every language Y (own: Y = X; cross: Y != X) and for a random set of X's sizes.

    A neuron is *activated* by a query when it is among the query's top-k neurons of its layer and kind,
    ranked by ``scoring`` with ``top_k`` (the selection's k, via ``k_for``) — so the definition holds
    whatever rule chose the sets. Every query is scored once (one PLND pass) and its top-k sets are
    checked against every language's set and every random set.

    ``queries``: {Y: texts}; ``sets``: {X: {key: (n,) bool}} (the same keys for every X).
    Share of a (query, X, layer, structure) = |top-k(query) ∩ N_X| / |N_X| over the structure's module
    kinds of that layer (attn: q, k, v; ffn), averaged over Y's queries; NaN where N_X has no neuron in
    that layer and structure (or Y has no query). ``random``: the same share for a random set of N_X's size
    in each layer and module kind (``mwork.deactivation.random_per_layer``, seed ``<seed>:<X>``).

    Returns a DataFrame with columns set_language, query_language, n_queries, layer, structure, set_size,
    activated_share, random.
    """
    scoring = scoring or Scoring()
    langs = list(sets)
    keys = mask_keys(sets[langs[0]])
    for x in langs[1:]:
        if set(mask_keys(sets[x])) != set(keys):
            raise MworkError(f"the neuron set of {x!r} has other layers or module kinds than that of {langs[0]!r}; "
                             f"Figure 3 needs the sets of one model")
    rand = {x: random_per_layer({k: sets[x][k] for k in keys}, f"{seed}:{x}") for x in langs}
    # (2S, n) per key: the S sets, then the S random sets; a query's hits are one gather
    stacked = {k: torch.stack([sets[x][k].bool().flatten() for x in langs] + [rand[x][k] for x in langs]).int()
               for k in keys}
    hits = {y: {k: torch.zeros(2 * len(langs), dtype=torch.float64) for k in keys} for y in queries}
    n_queries = {}
    docs = {y: Documents(tokenizer, texts, max_length) for y, texts in queries.items()}
    device = next(model.parameters()).device
    bar = tqdm(total=sum(len(d) for d in docs.values()), desc="Figure 3", disable=not progress, mininterval=5)
    for y, d in docs.items():
        n_queries[y] = len(d)
        for idx, ids, att in d.batches(batch_size, device):
            top = topk_hits(scoring(model, tokenizer, ids, att), top_k)
            for name in keys:  # (2S,) activated neurons of each set, summed over the batch
                hits[y][name] += (stacked[name].double() @ top[name].cpu().double().T).sum(1)
            bar.update(len(idx))
    bar.close()

    # a structure of a layer pools its module kinds (attention: q, k, v)
    size: dict[tuple[int, str], torch.Tensor] = {}  # (layer, structure) -> (S,) set sizes
    per = {y: {} for y in queries}  # y -> (layer, structure) -> (2S,) activated neurons summed over queries
    for name in keys:
        layer, kind = parse_key(name)
        sk = (layer, STRUCTURE[kind])
        size[sk] = size.get(sk, 0) + stacked[name][:len(langs)].sum(1)
        for y in queries:
            per[y][sk] = per[y].get(sk, 0) + hits[y][name]
    rows = []
    for i, x in enumerate(langs):
        for y in queries:
            for (layer, structure), h in sorted(per[y].items()):
                n_set, n = int(size[(layer, structure)][i]), n_queries[y]
                ok = n_set > 0 and n > 0
                rows.append({"set_language": x, "query_language": y, "n_queries": n, "layer": layer,
                             "structure": structure, "set_size": n_set,
                             "activated_share": float(h[i]) / (n * n_set) if ok else float("nan"),
                             "random": float(h[len(langs) + i]) / (n * n_set) if ok else float("nan")})
    return pd.DataFrame(rows)
