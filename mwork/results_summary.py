"""The README's real-model findings, written from ``results/``: every number is read from a file the run
wrote, and every bullet names its file(s). ``python -m mwork summary`` prints the block; with ``--readme``
it replaces the text between ``<!-- results:begin -->`` and ``<!-- results:end -->``.

What is read (the code that writes each file, for its columns):

- ``results/<model>/neurons/summary.csv``: ``mwork.neuron_sets.neuron_summary`` (rule neuron_summary)
- ``results/<model>/set_stability.csv``: ``mwork.set_stability.size_curve`` (rule set_stability)
- ``results/loss_matrix_summary.csv``: ``mwork.loss_matrix.summary``; ``results/<model>/loss_matrix.csv``:
  ``mwork.loss_matrix.cells`` (rules loss_matrix_figure, loss_matrix)
- ``results/<model>/lens_stages.json``: ``mwork.known_lens.known_stages`` / ``mwork.lens.lens_stages``
- ``results/figure1_known.csv``: ``mwork.known_lens.summarize_known`` (rule figure1_known)
- ``results/models_summary.md``: ``mwork.models_summary`` (rule models_summary), embedded as written
- ``results/table{11,1,3,2,8,9}.md``: ``mwork.tables`` (rules table11, table1, deactivation_table)
- the run's settings: ``results/provenance.json`` (rule provenance) and the neuron files' metadata
- ``results/table{1,2,3,4,5,8,9}.csv`` and ``results/loss_matrix_summary.csv`` once more, for the paper's
  claims, each decided by ``mwork.claims`` (a stated rule on the intervals)

A file that is not there is a bullet ``not built: <file> (target <file>, rule <rule>)``, never left out
silently; a file in an older format (columns missing) is a bullet saying so.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pandas as pd

from .claims import claim_lines
from .errors import MworkError
from .io import unpack_metadata, write_text
from .names import LossDomain
from .stats import not_a_number as _nan

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
EXCLUDED = ("organism",)  # the offline model organism: not a real LLM (name it with --models to include it)
NOT_MODELS = ("logs", "benchmarks")  # results/logs/plnd/, results/benchmarks/plnd/: per-rule folders, not models

# tables: required ones are implemented targets of `make run`; the others are reported only where built
TABLES = (("11", "table11", True), ("1", "table1", True), ("3", "deactivation_table", True),
          ("2", "deactivation_table", False), ("8", "deactivation_table", False), ("9", "deactivation_table", False))

NEURON_COLS = ("language", "total", "share", "shared_by_all", "shared_by_all_share", "method")
STABILITY_COLS = ("method", "language", "n_docs", "min_doc_fraction", "seeds", "size_mean", "share_mean",
                  "shared_by_all_share", "jaccard_seeds")
LOSS_SUMMARY_COLS = ("model", "neurons", "diagonal", "diagonal_lo", "diagonal_hi", "off_diagonal", "off_diagonal_lo",
                     "off_diagonal_hi", "n_neurons")
LOSS_CELL_COLS = ("deactivated", "neurons", "evaluated", "delta", "delta_lo", "delta_hi")
KNOWN_COLS = ("model", "language", "layer", "n_items", "p_lang", "p_en", "diff", "diff_lo", "diff_hi")


# --------------------------------------------------------------------------------------------------
# formatting: shares as % with 2 decimals, losses 2 decimals, scores 1 decimal


def pct(x) -> str:
    return "—" if _nan(x) else f"{100 * float(x):.2f}%"


def loss(x) -> str:
    return "—" if _nan(x) else f"{float(x):.2f}"


def interval(lo, hi, fmt=loss) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]"


def count(x) -> str:
    return "—" if _nan(x) else f"{round(float(x)):,}"


def prob(x) -> str:
    """A lens probability: 3 decimals, or 2 significant digits below 0.001."""
    if _nan(x):
        return "—"
    x = float(x)
    return f"{x:.3f}" if abs(x) >= 0.001 or x == 0 else f"{x:.2g}"


def span(values, fmt) -> str:
    """'a–b' over ``values`` (NaN left out), one value where min and max print alike."""
    vals = [float(v) for v in values if not _nan(v)]
    if not vals:
        return "—"
    lo, hi = fmt(min(vals)), fmt(max(vals))
    return lo if lo == hi else f"{lo}–{hi}"


def layers(ls) -> str:
    """[17, 18, 19, 21] -> '17–19, 21'."""
    ls = sorted(int(v) for v in ls)
    parts, i = [], 0
    while i < len(ls):
        j = i
        while j + 1 < len(ls) and ls[j + 1] == ls[j] + 1:
            j += 1
        parts.append(str(ls[i]) if i == j else f"{ls[i]}–{ls[j]}")
        i = j + 1
    return ", ".join(parts)


def _layer_word(rows) -> str:
    return "layer" if len(rows) == 1 else "layers"


def compare(a_lo, a_hi, b_lo, b_hi) -> str:
    """Where interval a lies against interval b, in words."""
    if any(_nan(v) for v in (a_lo, a_hi, b_lo, b_hi)):
        return "cannot be compared (an interval is missing)"
    if float(a_lo) > float(b_hi):
        return "lies above"
    if float(a_hi) < float(b_lo):
        return "lies below"
    return "overlaps"


# --------------------------------------------------------------------------------------------------
# files


class Results:
    """The results folder, how its files are named in the text, and the bullets for missing ones."""

    def __init__(self, root: str | Path, label: str | None = None):
        self.root = Path(root)
        self.label = (label if label is not None else str(root)).rstrip("/")

    def path(self, rel: str) -> Path:
        return self.root / rel

    def name(self, rel: str) -> str:
        return f"`{self.label}/{rel}`"

    def missing(self, rel: str, rule: str, target: str | None = None) -> str:
        return f"not built: {self.name(rel)} (target `results/{target or rel}`, rule {rule})"

    def table(self, rel: str, rule: str, cols, what: str = ""):
        """(DataFrame, None), or (None, the bullet saying why not: the file is not built, or lacks columns
        ``cols`` — written by an older version; ``what`` names the finding it was for)."""
        if not self.path(rel).exists():
            return None, f"* {self.missing(rel, rule)}"
        df = pd.read_csv(self.path(rel))
        lacking = [c for c in cols if c not in df.columns]
        if lacking:
            return None, (f"* {what + ': ' if what else ''}{self.name(rel)} lacks the columns {', '.join(lacking)}: "
                          f"written by an older version; rebuild target `results/{rel}`")
        return df, None


def discover_models(results: str | Path) -> list[str]:
    """The folders ``results/<model>/`` whose ``neurons/`` or ``plnd/`` holds a neuron or PLND file (PLND ran
    for that model), the model organism left out, sorted."""
    root = Path(results)
    if not root.is_dir():
        return []

    def ran(p: Path) -> bool:
        return ((p / "neurons" / "summary.csv").exists() or any(p.glob("neurons/*/*.safetensors"))
                or any(p.glob("plnd/*/*.safetensors")))

    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in EXCLUDED + NOT_MODELS and ran(p))


def safetensors_metadata(path: str | Path) -> dict:
    """The ``__metadata__`` of a safetensors file's header (read without loading a tensor)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return unpack_metadata(json.loads(f.read(n)).get("__metadata__"))


# --------------------------------------------------------------------------------------------------
# sections: each returns Markdown lines


def _value(v) -> str:
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def provenance_lines(res: Results, models: list[str]) -> list[str]:
    """Which run made the files: the commit (results/provenance.json) and, per model, the corpus, split,
    documents and selection that the neuron (or PLND statistics) files' metadata record."""
    parts, sources = [], []
    prov = res.path("provenance.json")
    if prov.exists():
        info = json.loads(prov.read_text(encoding="utf-8"))
        sources.append(res.name("provenance.json"))
        if info.get("commit"):
            parts.append(f"commit {info['commit'][:12]}{'+changes' if info['commit'].endswith('+changes') else ''}")
        corpus = [d for d in info.get("data", []) if str(d.get("what", "")).startswith("corpus ")
                  and not str(d.get("what", "")).startswith("corpus file")]
        for d in corpus:
            parts.append(f"{d['what']} ({d.get('source', '')}{': ' + d['detail'] if d.get('detail') else ''})")
    for model in models:
        files = sorted(res.path(model).glob("neurons/*/*.safetensors")) or sorted(
            res.path(model).glob("plnd/*/*.safetensors"))
        if not files:
            continue
        metas = [safetensors_metadata(f) for f in files]
        rel = files[0].relative_to(res.root).parent
        sources.append(f"`{res.label}/{rel.as_posix()}/*.safetensors`")
        m = metas[0]
        n_docs = sorted({int(x["n_docs"]) for x in metas if str(x.get("n_docs", "")).isdigit()})
        what = [f"corpus {m.get('corpus', '?')}"]
        if m.get("split"):
            what.append(f"split {m['split']}")
        if n_docs:
            what.append(f"{span(n_docs, lambda v: str(int(v)))} documents per language ({len(files)} "
                        f"language{'s' if len(files) != 1 else ''})")
        if m.get("max_length"):
            what.append(f"max_length {m['max_length']}")
        spec = json.loads(m.get("selection") or "{}")
        if spec:
            what.append("selection " + spec.get("method", "?") + "".join(
                f", {k} {_value(v)}" for k, v in spec.items() if k != "method" and v is not None))
        stats = {k: v for k, v in json.loads(m.get("statistics") or "{}").items() if spec.get(k) != v}
        if stats:  # PLND's own settings, where the selection does not already say them
            what.append("PLND statistics " + ", ".join(f"{k} {_value(v)}" for k, v in stats.items()))
        parts.append(f"{model}: " + ", ".join(what))
    if not parts:
        return [f"**Run**: {res.missing('provenance.md', 'provenance')}; no neuron file records its settings."]
    return [f"**Run** ({', '.join(sources)}): " + "; ".join(parts) + "."]


def neuron_lines(res: Results, model: str) -> list[str]:
    rel = f"{model}/neurons/summary.csv"
    df, why = res.table(rel, "neuron_summary", NEURON_COLS, "Neuron sets")
    if df is None:
        return [why]
    methods = ", ".join(str(m) for m in dict.fromkeys(df["method"].fillna("")) if m) or "not recorded"
    docs = f", {span(df['n_docs'], count)} documents per language" if "n_docs" in df else ""
    kinds = ""
    if {"attn", "ffn"} <= set(df.columns):
        kinds = f": {count(df['attn'].mean())} attention, {count(df['ffn'].mean())} FFN"
    return [f"* Neuron sets ({res.name(rel)}): selection {methods}{docs}; a language's set is "
            f"{span(df['share'], pct)} of the model's neurons over {len(df)} languages "
            f"({', '.join(map(str, df['language']))}); "
            f"mean set size {count(df['total'].mean())} neurons{kinds}; every language's set holds "
            f"{span(df['shared_by_all_share'], pct)} of a set ({span(df['shared_by_all'], count)} neurons)."]


def stability_lines(res: Results, model: str) -> list[str]:
    rel = f"{model}/set_stability.csv"
    df, why = res.table(rel, "set_stability", STABILITY_COLS, "Set size vs documents")
    if df is None:
        return [why]
    out = [f"* Set size vs PLND documents ({res.name(rel)}; per selection method and min_doc_fraction, over "
           f"{df['language'].nunique()} languages):"]
    for (method, frac), g in df.groupby(["method", "min_doc_fraction"], sort=False, dropna=False):
        n_max, n_min = int(g["n_docs"].max()), int(g["n_docs"].min())
        top, low = g[g["n_docs"] == n_max], g[g["n_docs"] == n_min].set_index("language")
        label = f"{method}" + ("" if _nan(frac) else f", min_doc_fraction {float(frac):g}")
        text = (f"{label}: at {n_max} documents {span(top['share_mean'], pct)} of the neurons per language, "
                f"{span(top['shared_by_all_share'], pct)} of a set held by every language's set")
        multi = g[(g["seeds"] > 1) & g["jaccard_seeds"].notna()]
        if len(multi):
            n_j = int(multi["n_docs"].max())
            j = multi[multi["n_docs"] == n_j]
            text += (f"; Jaccard between seeds {span(j['jaccard_seeds'], lambda v: f'{v:.2f}')} (at {n_j} documents, "
                     f"{span(j['seeds'], lambda v: str(int(v)))} seeds)")
        if n_min < n_max:
            ratio = [float(r.size_mean) / float(low.loc[r.language, "size_mean"])
                     if r.language in low.index and float(low.loc[r.language, "size_mean"]) > 0 else float("nan")
                     for r in top.itertuples()]
            text += (f"; mean set size {count(low['size_mean'].mean())} at {n_min} documents, "
                     f"{count(top['size_mean'].mean())} at {n_max} (×{span(ratio, lambda v: f'{v:.2f}')} per language)")
        out.append(f"  * {text}.")
    return out


def _variant_order(names) -> list[str]:
    return [n for n in dict.fromkeys(names) if not str(n).endswith("_random")]


XQUAD = LossDomain.suffix("xquad")  # the files of the loss matrix on XQuAD's paragraphs


def loss_lines(res: Results, model: str, suffix: str = "") -> list[str]:
    """The loss matrix's bullets for ``model``: on the corpus, or (``suffix`` ``_xquad``) on XQuAD's
    paragraphs, whose bullets are left out where that matrix was not built (it is optional)."""
    srel, crel = f"loss_matrix{suffix}_summary.csv", f"{model}/loss_matrix{suffix}.csv"
    xquad_only = not suffix and res.path(f"loss_matrix{XQUAD}_summary.csv").exists()  # loss_matrix.domains: [xquad]
    if (suffix or xquad_only) and not res.path(srel).exists() and not res.path(crel).exists():
        return []
    out, have = [], {}
    for rel, rule, cols in ((srel, "loss_matrix_figure", LOSS_SUMMARY_COLS), (crel, "loss_matrix", LOSS_CELL_COLS)):
        df, why = res.table(rel, rule, cols, "Loss matrix")
        if df is None:
            out.append(why)
        else:
            have[rel] = df
    s = have.get(srel)
    cells = have.get(crel)
    if s is not None:
        s = s[s["model"] == model]
        if s.empty:
            out.append(f"* Loss matrix: {res.name(srel)} has no rows for {model} (loss_matrix.models may leave it "
                       f"out)")
            s = None
    if cells is not None and "model" in cells.columns:
        cells = cells[cells["model"] == model]
    if s is None and cells is None:
        return out
    names = [res.name(r) for r in (srel, crel) if have.get(r) is not None]
    where = " on XQuAD's paragraphs (a second domain, which PLND never read)" if suffix == XQUAD else ""
    head = (f"* Deactivation loss matrix{where} ({', '.join(names)}; Δ = mean next-token loss with X's set off minus the "
            f"unmodified model's, nats; [95% interval"
            + (f" over {s['interval'].iloc[0]}" if s is not None and "interval" in s else "") + "]):")
    out.append(head)
    variants = _variant_order(s["neurons"] if s is not None else cells["neurons"])
    for v in variants:
        ctrl = f"{v}_random"
        parts = []
        if s is not None and (s["neurons"] == v).any():
            r = s[s["neurons"] == v].iloc[0]
            text = (f"{v} ({count(r['n_neurons'])} neurons): diagonal {loss(r['diagonal'])} "
                    f"{interval(r['diagonal_lo'], r['diagonal_hi'])}, off-diagonal {loss(r['off_diagonal'])} "
                    f"{interval(r['off_diagonal_lo'], r['off_diagonal_hi'])}: the diagonal's interval "
                    f"{compare(r['diagonal_lo'], r['diagonal_hi'], r['off_diagonal_lo'], r['off_diagonal_hi'])} "
                    f"the off-diagonal one")
            if (s["neurons"] == ctrl).any():
                c = s[s["neurons"] == ctrl].iloc[0]
                draws = f", {int(c['n_draws'])} draws" if "n_draws" in c and not _nan(c["n_draws"]) else ""
                text += (f"; its random control ({ctrl}, {count(c['n_neurons'])} neurons{draws}): diagonal "
                         f"{loss(c['diagonal'])} {interval(c['diagonal_lo'], c['diagonal_hi'])}, off-diagonal "
                         f"{loss(c['off_diagonal'])} {interval(c['off_diagonal_lo'], c['off_diagonal_hi'])}: "
                         f"{v}'s diagonal interval "
                         f"{compare(r['diagonal_lo'], r['diagonal_hi'], c['diagonal_lo'], c['diagonal_hi'])} the "
                         f"control's")
            else:
                text += f"; no random control ({ctrl}) in the file"
            parts.append(text)
        if cells is not None:
            diag = cells[cells["deactivated"] == cells["evaluated"]]
            own = diag[diag["neurons"] == v].set_index("deactivated")
            rnd = diag[diag["neurons"] == ctrl].set_index("deactivated")
            per, above = [], 0
            for x, r in own.iterrows():
                item = f"{x} {loss(r['delta'])} {interval(r['delta_lo'], r['delta_hi'])}"
                if x in rnd.index:
                    c = rnd.loc[x]
                    where = compare(r["delta_lo"], r["delta_hi"], c["delta_lo"], c["delta_hi"])
                    above += where == "lies above"
                    item += (f" vs {loss(c['delta'])} {interval(c['delta_lo'], c['delta_hi'])} "
                             f"({where.replace('lies ', '')})")
                per.append(item)
            if per:
                text = "Per language X, X's diagonal Δ" + (" vs its random control's" if len(rnd) else "") + ": "
                text += "; ".join(per)
                if len(rnd):
                    text += f"; above the control's interval in {above} of {len(own)} languages"
                parts.append(text)
        if parts:
            out.append(f"  * {'. '.join(parts)}.")
    return out


FIGURE3_COLS = ["set_language", "query_language", "layer", "structure", "set_size", "activated_share", "random"]


def figure3_lines(res: Results, model: str) -> list[str]:
    """Figure 3: per structure, the share of a layer's set that its own language's queries activate, against
    the other languages' queries and a random set of the layer's size (means over languages and the layers
    where the set is not empty)."""
    rel = f"figure3_{model}.csv"
    df, why = res.table(rel, "figure3", FIGURE3_COLS, "Figure 3")
    if df is None:
        return [why]
    df = df[df["set_size"] > 0]
    own = df[df["set_language"] == df["query_language"]]
    other = df[df["set_language"] != df["query_language"]]
    parts = []
    for structure in dict.fromkeys(df["structure"]):
        o, x = own[own["structure"] == structure], other[other["structure"] == structure]
        parts.append(f"{structure}: own queries {pct(o['activated_share'].mean())}, other languages' queries "
                     f"{pct(x['activated_share'].mean())}, a random set of the layer's size {pct(o['random'].mean())}")
    queries = str(df["queries"].iloc[0]) if "queries" in df and len(df) else "?"
    return [f"* Figure 3 ({res.name(rel)}, queries: {queries} per language): the share of a layer's set that a "
            f"query activates (in its per-layer top-k), mean over languages and the layers holding set neurons — "
            + "; ".join(parts) + "."]


def stages_lines(res: Results, model: str) -> list[str]:
    rel = f"{model}/lens_stages.json"
    if not res.path(rel).exists():
        return [f"* {res.missing(rel, 'lens_stages')}"]
    st = json.loads(res.path(rel).read_text(encoding="utf-8"))
    rule = str(st.get("rule", ""))
    known = rule.startswith("known-token lens")
    src = res.name(f"lens_known/{model}.csv" if known else f"lens/{model}.csv")
    how = rule.split(";")[0]
    if st.get("min_prob") is not None and known:
        how += f" (min_prob {st['min_prob']:g})"
    under, gen, n = st.get("under"), st.get("gen"), st.get("layers")
    if under is None or gen is None:
        return [f"* MWork stages ({res.name(rel)}, read off {src}): none: {st.get('note') or 'not recorded'}."]
    text = (f"* MWork stages ({res.name(rel)}, read off {src}): understanding = the first {under} layers, "
            f"generation = the last {gen} of {n}")
    if n is not None:
        text += (f" (understanding {layers(range(1, under + 1)) or 'none'}, task-solving "
                 f"{layers(range(under + 1, n - gen + 1)) or 'none'}, generation "
                 f"{layers(range(n - gen + 1, n + 1)) or 'none'})")
    text += f"; the rule: {how}"
    if st.get("note"):
        text += f"; note: {st['note']}"
    return [text + "."]


def known_lines(res: Results, models: list[str] | None) -> list[str]:
    rel = "figure1_known.csv"
    df, why = res.table(rel, "figure1_known", KNOWN_COLS)
    if df is None:
        return [why]
    df = df[df["model"].isin(models)] if models is not None else df[~df["model"].isin(EXCLUDED)]
    out = [f"**Figure 1 from known answer tokens** ({res.name(rel)}; per layer, the logit-lens probability of the "
           f"first token of the English answer, p_en, and of the query language's answer, p_lang; 95% bootstrap "
           f"interval of p_en − p_lang over questions):", ""]
    for (model, lang), g in df[df["language"] != "en"].groupby(["model", "language"], sort=False):
        g = g.sort_values("layer")
        en = g[(g["diff"] > 0) & (g["diff_lo"] > 0)]
        own = g[(g["diff"] < 0) & (g["diff_hi"] < 0)]
        text = f"* {model}, {lang} ({count(g['n_items'].max())} questions): "
        if len(en):
            peak = en.loc[en["p_en"].idxmax()]
            text += (f"English answer ahead with the interval above 0 in {_layer_word(en)} {layers(en['layer'])} "
                     f"(highest p_en {prob(peak['p_en'])} at layer {int(peak['layer'])}, p_lang there "
                     f"{prob(peak['p_lang'])})")
            if "english_dominant" in g:
                dom = g[g["english_dominant"].astype(str).str.lower() == "true"]
                text += (f", English-dominant (p_en also at least lens.known.min_prob) in {_layer_word(dom)} "
                         f"{layers(dom['layer'])}" if len(dom) else ", English-dominant (p_en also at least "
                         "lens.known.min_prob) in no layer")
        else:
            ahead = g[g["diff"] > 0]
            text += ("English answer never ahead with the interval above 0"
                     + (f" (ahead on the mean only in {_layer_word(ahead)} {layers(ahead['layer'])})" if len(ahead)
                        else ""))
        if len(own):
            peak = own.loc[own["p_lang"].idxmax()]
            text += (f"; own answer ahead with the interval below 0 in {_layer_word(own)} {layers(own['layer'])} "
                     f"(highest p_lang {prob(peak['p_lang'])} at layer {int(peak['layer'])}, p_en there "
                     f"{prob(peak['p_en'])})")
        else:
            text += "; own answer never ahead with the interval below 0"
        out.append(text + ".")
    if len(out) == 2:
        out.append(f"* {res.name(rel)} has no non-English rows for these models.")
    return out


def table_lines(res: Results) -> list[str]:
    out = ["**Tables** (the Markdown the table rules write, embedded as written; ± = half the 95% bootstrap "
           "interval over items):", ""]
    for number, rule, required in TABLES:
        md, csv = f"table{number}.md", f"table{number}.csv"
        if res.path(md).exists():
            out += [f"From {res.name(md)} (rows in {res.name(csv)}):", "",
                    res.path(md).read_text(encoding="utf-8").strip(), ""]
            lang_md = f"table{number}_answer_language.md"  # rule answer_language: the answers' language per row
            if res.path(lang_md).exists():
                out += [f"From {res.name(lang_md)} (rows in {res.name(lang_md.removesuffix('.md') + '.csv')}):", "",
                        res.path(lang_md).read_text(encoding="utf-8").strip(), ""]
        elif required:
            out += [f"* {res.missing(md, rule, csv)}", ""]
    return out


def models_lines(res: Results) -> list[str]:
    """The models side by side (rule models_summary, built where more than one model runs), as written."""
    md = "models_summary.md"
    if not res.path(md).exists():
        return []
    return [f"**Every model side by side** (from {res.name(md)}, rows in {res.name('models_summary.csv')}):", "",
            res.path(md).read_text(encoding="utf-8").strip(), ""]


# --------------------------------------------------------------------------------------------------


def summary_markdown(results: str | Path = "results", models: list[str] | None = None,
                     label: str | None = None) -> str:
    """The findings block: the run's settings, per model its neuron sets, set stability, loss matrix and
    stages, then Figure 1 (known tokens) and the tables. ``models``: which models (default: those PLND ran
    for, ``discover_models``); ``label``: how ``results`` is written in the text (default: as given)."""
    res = Results(results, label)
    if not res.root.is_dir():
        raise MworkError(f"{results}: no such folder; give the results folder of a run (--results)")
    chosen = list(models) if models is not None else discover_models(res.root)
    lines = [f"<!-- written by `python -m mwork summary` (mwork/results_summary.py) from {res.label}/: "
             f"edit the code, not this text -->", ""]
    lines += provenance_lines(res, chosen) + [""]
    lines += claim_lines(res)
    if not chosen:
        lines += [f"* no model in {res.name('')}: no `<model>/neurons/` or `<model>/plnd/` folder (give --models)",
                  ""]
    for model in chosen:
        lines += [f"**{model}**", ""]
        lines += neuron_lines(res, model) + stability_lines(res, model) + loss_lines(res, model) + loss_lines(res, model, XQUAD)
        lines += figure3_lines(res, model) + stages_lines(res, model) + [""]
    lines += known_lines(res, models) + [""]
    lines += models_lines(res)
    lines += table_lines(res)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def replace_block(text: str, block: str, where: str = "README.md") -> str:
    """``text`` with what lies between the markers ``BEGIN`` and ``END`` replaced by ``block`` (the markers
    kept, everything outside them unchanged); an error names the markers when either is missing."""
    starts, ends = text.count(BEGIN), text.count(END)
    if starts != 1 or ends != 1:
        problem = ", ".join(f"{m} {'missing' if n == 0 else f'{n} times'}" for m, n in ((BEGIN, starts), (END, ends))
                            if n != 1)
        raise MworkError(f"{where}: the results block needs the markers {BEGIN} and {END}, once each "
                         f"({problem}); put them where the generated findings belong")
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    if j < i:
        raise MworkError(f"{where}: {END} comes before {BEGIN}; put {BEGIN} first")
    return text[:i] + "\n" + block.strip("\n") + "\n" + text[j:]


def update_readme(readme: str | Path, block: str) -> bool:
    """Write ``block`` between the markers of ``readme``; whether the file changed."""
    p = Path(readme)
    if not p.exists():
        raise MworkError(f"{readme}: no such file (--readme names the README whose {BEGIN} ... {END} block to "
                         f"rewrite)")
    old = p.read_text(encoding="utf-8")
    new = replace_block(old, block, str(readme))
    if new != old:
        write_text(p, new)
    return new != old
