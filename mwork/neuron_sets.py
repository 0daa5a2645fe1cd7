"""What is done with neuron sets: per-layer counts, overlap between languages (Eq. 11, Figures 5 and 6),
the per-language summary, and the neurons a query activates (Figure 3)."""

from __future__ import annotations

import torch

from .batching import Documents
from .keys import parse_key
from .neurons import STRUCTURE, Scoring, corpus_of, k_for, load_neurons, mask_keys


def per_layer_counts(masks: dict[str, torch.Tensor]):
    """DataFrame: layer x kind -> number of selected neurons (and the layer's size)."""
    import pandas as pd

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
    import pandas as pd

    from .keys import KINDS

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
    import pandas as pd

    langs = list(sets_by_lang)
    return pd.DataFrame([[overlap_ratio(sets_by_lang[x][structure], sets_by_lang[y][structure]) for y in langs]
                         for x in langs], index=langs, columns=langs)


def neuron_summary(files_by_lang: dict[str, str]):
    """(counts DataFrame, {"attn": overlap, "ffn": overlap}) for one model's neuron files.

    counts: per language, attention and FFN neurons selected, all neurons, and the share of all neurons
    that are language-specific (the paper reports about 0.13%).
    """
    import pandas as pd

    rows, sets = [], {}
    for lang, path in files_by_lang.items():
        masks, meta = load_neurons(path, language=lang, corpus=corpus_of(path))
        structure = {k: STRUCTURE[parse_key(k)[1]] for k in masks}
        n_attn = sum(int(m.sum()) for k, m in masks.items() if structure[k] == "attn")
        n_ffn = sum(int(m.sum()) for k, m in masks.items() if structure[k] == "ffn")
        tot_attn = sum(m.numel() for k, m in masks.items() if structure[k] == "attn")
        tot_ffn = sum(m.numel() for k, m in masks.items() if structure[k] == "ffn")
        rows.append({"language": lang, "n_docs": int(meta.get("n_docs", 0)), "attn": n_attn, "ffn": n_ffn,
                     "total": n_attn + n_ffn, "attn_share": n_attn / tot_attn, "ffn_share": n_ffn / tot_ffn,
                     "share": (n_attn + n_ffn) / (tot_attn + tot_ffn)})
        sets[lang] = structure_sets(masks)
    return pd.DataFrame(rows), {s: overlap_matrix(sets, s) for s in ("attn", "ffn")}


def activated_per_layer(model, tokenizer, texts: list[str], masks: dict[str, torch.Tensor], top_k: dict,
                        batch_size: int = 8, max_length: int = 256, scoring: Scoring | None = None):
    """Figure 3: per layer and structure, the mean number of language-specific neurons *activated* by a query.

    A neuron is activated by a query when it is among that query's top-k neurons of its layer and kind
    (the same k and the same ``scoring`` as the selection); it counts when it is also in the language's set
    ``masks``.
    Returns a DataFrame (layer, structure, activated) averaged over the queries.
    """
    import pandas as pd

    scoring = scoring or Scoring()
    sums: dict[tuple[int, str], float] = {}
    n = 0
    for idx, ids, att in Documents(tokenizer, texts, max_length).batches(batch_size, next(model.parameters()).device):
        imp = scoring(model, tokenizer, ids, att)
        n_q = next((v.shape[1] for k, v in imp.items() if k.endswith("attn.q")), None)
        for name, scores in imp.items():
            layer, kind = parse_key(name)
            idx = scores.topk(k_for(top_k, kind, scores.shape[1], n_q), dim=-1).indices
            hits = masks[name][idx].sum().item()
            sk = (layer, STRUCTURE[kind])
            sums[sk] = sums.get(sk, 0.0) + hits
        n += len(idx)
    return pd.DataFrame([{"layer": layer, "structure": s, "activated": v / max(n, 1)}
                         for (layer, s), v in sorted(sums.items())])
