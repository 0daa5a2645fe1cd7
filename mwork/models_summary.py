"""Every real model side by side (``results/models_summary.{csv,md}``, rule models_summary).

One row per model, each number read from the file a rule wrote: the size of its language sets and the share
every language holds (``<model>/neurons/summary.csv``), the layers where the English answer is ahead by the
known-token lens (``figure1_known.csv``), the MWork stages read off its lens (``<model>/lens_stages.json``),
and the deactivation loss matrix's diagonal against its off-diagonal and against the matched random
control (``loss_matrix_summary.csv``). A model the config leaves out of a step gets empty cells there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .errors import MworkError
from .io import markdown_table
from .stats import pm


def _mean(values) -> float:
    values = [float(v) for v in values if v == v]
    return sum(values) / len(values) if values else float("nan")


def _known(known: pd.DataFrame | None, model: str) -> dict:
    """Per non-English language, the layers where the English answer is ahead (interval of p_en - p_lang
    above 0) and English-dominant (also p_en >= lens.known.min_prob)."""
    if known is None or not (known["model"] == model).any():
        return {}
    if "english_dominant" not in known:
        raise MworkError("figure1_known.csv has no english_dominant column (an older format); rebuild target "
                         "results/figure1_known.csv")
    g = known[(known["model"] == model) & (known["language"] != "en")]
    ahead, dominant = {}, {}
    for lang, h in g.groupby("language", sort=False):
        ahead[lang] = sorted(int(x) for x in h.loc[h["diff_lo"] > 0, "layer"])
        dom = h["english_dominant"].astype(str).str.lower() == "true"
        dominant[lang] = sorted(int(x) for x in h.loc[dom, "layer"])
    n_items = int(g["n_items"].max()) if len(g) else 0
    return {"known_items": n_items,
            "english_ahead_layers": _mean(len(v) for v in ahead.values()),
            "english_dominant_layers": _mean(len(v) for v in dominant.values()),
            "english_dominant_by_language": "; ".join(f"{lang} {_span(v)}" for lang, v in dominant.items())}


def _span(layers: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9' (1-based layers as the lens files number them); 'none' for none."""
    if not layers:
        return "none"
    runs, start = [], layers[0]
    for a, b in zip(layers, layers[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(runs)


def _loss(loss: pd.DataFrame | None, model: str, variant: str | None, prefix: str = "") -> dict:
    """The loss matrix row of ``variant`` (default: the model's first non-random one) and its control's, each
    key with ``prefix`` (``xquad_``: the matrix on XQuAD's paragraphs)."""
    if loss is None or not (loss["model"] == model).any():
        return {}
    g = loss[loss["model"] == model]
    names = [n for n in g["neurons"] if not str(n).endswith("_random")]
    name = variant if variant in names else (names[0] if names else None)
    if name is None:
        return {}
    r = g[g["neurons"] == name].iloc[0]
    out = {"loss_sets": name, "loss_n_neurons": float(r["n_neurons"])}
    for part in ("diagonal", "off_diagonal"):
        out.update({f"{part}{s}": float(r[f"{part}{s}"]) for s in ("", "_lo", "_hi")})
    ctrl = g[g["neurons"] == f"{name}_random"]
    if len(ctrl):
        c = ctrl.iloc[0]
        out.update({f"random_diagonal{s}": float(c[f"diagonal{s}"]) for s in ("", "_lo", "_hi")})
    return {prefix + k: v for k, v in out.items()}


def models_summary(models: list[str], neuron_summaries: dict[str, str], stages: dict[str, str],
                   known: str | None = None, loss: str | None = None, notes: dict[str, str] | None = None,
                   loss_variant: str = "lang", method: str | None = None,
                   loss_xquad: str | None = None) -> tuple[pd.DataFrame, str]:
    """(one row per model, Markdown). ``neuron_summaries`` / ``stages``: per model, its neurons/summary.csv
    and lens_stages.json; ``known``: figure1_known.csv; ``loss``: loss_matrix_summary.csv (each None where
    the config builds none; ``loss_xquad``: loss_matrix_xquad_summary.csv, the second domain); ``notes``: a
    word per model (e.g. what languages it was trained on);
    ``loss_variant``: the loss matrix's sets shown (``lang``: X's sets, chosen by ``method``)."""
    known_df = pd.read_csv(known) if known else None
    loss_df = pd.read_csv(loss) if loss else None
    xquad_df = pd.read_csv(loss_xquad) if loss_xquad else None
    rows = []
    for model in models:
        n = pd.read_csv(neuron_summaries[model])
        row = {"model": model, "note": (notes or {}).get(model, ""),
               "method": ", ".join(dict.fromkeys(str(m) for m in n["method"])) if "method" in n else "",
               "n_docs": int(n["n_docs"].max()) if "n_docs" in n else None,
               "languages": len(n), "set_share_mean": float(n["share"].mean()),
               "set_share_min": float(n["share"].min()), "set_share_max": float(n["share"].max()),
               "set_size_mean": float(n["total"].mean()),
               "shared_by_all_share_mean": float(n["shared_by_all_share"].mean())}
        if model in stages and Path(stages[model]).exists():
            st = json.loads(Path(stages[model]).read_text(encoding="utf-8"))
            row.update({"layers": st.get("layers"), "under": st.get("under"), "gen": st.get("gen")})
        row.update(_known(known_df, model))
        row.update(_loss(loss_df, model, loss_variant))
        row.update(_loss(xquad_df, model, loss_variant, "xquad_"))
        rows.append(row)
    df = pd.DataFrame(rows)
    return df, _markdown(df, method)


def _given(x) -> bool:
    return x is not None and x == x


def _pct(x) -> str:
    return "—" if x is None or x != x else f"{100 * x:.2f}%"


def _num(x, digits=1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _markdown(df: pd.DataFrame, method: str | None = None) -> str:
    get = lambda r, k: r.get(k, float("nan"))  # noqa: E731
    view = pd.DataFrame([{
        "Model": r["model"], "Trained on": r.get("note") or "—",
        "Set (share of neurons)": f"{_pct(r['set_share_mean'])} ({_pct(r['set_share_min'])}–{_pct(r['set_share_max'])})",
        "Held by every language's set": _pct(r["shared_by_all_share_mean"]),
        "Stages U / G of L": (f"{int(r['under'])} / {int(r['gen'])} of {int(r['layers'])}"
                              if all(_given(r.get(k)) for k in ("under", "gen", "layers")) else "—"),
        "English ahead (layers, mean)": _num(get(r, "english_ahead_layers")),
        "English-dominant layers": r.get("english_dominant_by_language") or "—",
        "Loss Δ, diagonal": pm(get(r, "diagonal"), get(r, "diagonal_lo"), get(r, "diagonal_hi"), 2),
        "Loss Δ, off-diagonal": pm(get(r, "off_diagonal"), get(r, "off_diagonal_lo"), get(r, "off_diagonal_hi"), 2),
        "Loss Δ, random control's diagonal": pm(get(r, "random_diagonal"), get(r, "random_diagonal_lo"),
                                               get(r, "random_diagonal_hi"), 2),
        **({"Loss Δ on XQuAD, diagonal / off-diagonal / random":
            " / ".join(pm(get(r, f"xquad_{k}"), get(r, f"xquad_{k}_lo"), get(r, f"xquad_{k}_hi"), 2)
                       for k in ("diagonal", "off_diagonal", "random_diagonal"))}
           if "xquad_diagonal" in df.columns else {}),
    } for r in df.to_dict("records")])
    sets = ", ".join(dict.fromkeys(str(s) for s in df.get("loss_sets", pd.Series(dtype=str)).dropna()))
    sets += f", selection {method}" if method and sets == "lang" else ""
    note = ("Set: a language's neuron set as a share of the model's neurons (mean over languages, min–max). "
            "English ahead / English-dominant: layers (1-based) where the known-token lens puts the English "
            "answer's first token ahead of the query language's with the 95% interval above 0 (dominant: also "
            "p_en ≥ lens.known.min_prob), per non-English language. Loss Δ: mean next-token loss (nats) with "
            f"language X's set ({sets or 'none'}) deactivated minus the unmodified model's, on X's held-out text "
            "(diagonal) and the other languages' (off-diagonal), and with as many random neurons per layer and "
            "module kind (random control); ± = half the 95% bootstrap interval over documents."
            + (" On XQuAD: the same on XQuAD's paragraphs (Wikipedia, which PLND never read; the languages XQuAD "
               "publishes)."
               if "xquad_diagonal" in df.columns else ""))
    return markdown_table(view) + "\n\n" + note + "\n"
