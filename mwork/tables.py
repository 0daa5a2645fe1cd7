"""The paper's tables from the scores the evaluation rule writes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import MworkError
from .io import markdown_table, read_json
from .names import Setting
from .stats import N_BOOT, Bootstrap, check_scores, ci, item_values, pm
from .tasks.registry import (  # the paper's dataset names and Table 11's row order
    TASK_NAMES,
    TASK_ORDER,
    TASKS,
    format_prompt,
    task_stops,
)

REQUIRED = ("model", "task", "language", "score")


def read_scores(paths) -> list[dict]:
    """The evaluation rule's score files, each checked: a missing or non-numeric score would silently drop
    out of pandas' means (a language missing from n-Eng while the table still lists it)."""
    out = []
    for path in paths:
        s = read_json(path, made_by="evaluate")
        missing = [k for k in REQUIRED if not isinstance(s, dict) or k not in s]
        if missing:
            raise MworkError(f"{path}: no {', '.join(missing)}; delete it and rerun (rule evaluate writes it)")
        v = s["score"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MworkError(f"{path}: score is {v!r}, not a number; delete it and rerun (rule evaluate writes it)")
        check_scores(s, str(path))  # its items are numbers, and the summary is their mean
        out.append(s)
    return out




def table11(scores: list[dict], models: list[str], tasks: list[str], languages: list[str],
            extra: dict | None = None, n_boot: int = N_BOOT, seed: int = 0):
    """(long DataFrame, wide DataFrame, Markdown) of baseline scores; Avg. over the non-English languages.

    A (task, language) pair the dataset lacks or the task does not use (``eval.task_languages``) is a dash,
    as in the paper (XQuAD: no French and no Russian; XL-Sum: no German). ``extra``: per task, languages
    shown in their columns but left out of Avg. (``eval.extra_languages``), listed under the table.
    """
    extra = extra or {}
    boot = Bootstrap(n_boot, seed)
    samples = {}
    for s in scores:
        samples[(s["model"], s["task"], s["language"])] = boot.means((s["model"], s["task"], s["language"]),
                                                                      item_values(s), s["setting"])
    long = pd.DataFrame([{k: s[k] for k in ("model", "task", "dataset", "language", "metric", "score", "n_items",
                                             "n_empty")}
                         | dict(zip(("score_lo", "score_hi"), ci(samples[(s["model"], s["task"], s["language"])])))
                         | {k: s.get(k) for k in ("em", "f1", "rougeL_ascii")}
                         for s in scores])
    rows = []
    for model in models:
        for task in [t for t in TASK_ORDER if t in tasks]:
            sub = long[(long["model"] == model) & (long["task"] == task)].set_index("language")["score"]
            row = {"Model": model, "Task": TASK_NAMES[task]}
            for lang in languages:
                if lang in sub.index:
                    _with_ci(row, lang.capitalize(), float(sub[lang]), samples[(model, task, lang)])
                else:
                    row[lang.capitalize()] = float("nan")
            others = [lang for lang in languages if lang != "en" and lang in sub.index
                      and lang not in extra.get(task, ())]
            if others:
                _with_ci(row, "Avg.", float(np.mean([sub[x] for x in others])),
                         np.mean([samples[(model, task, x)] for x in others], axis=0))
            else:
                row["Avg."] = float("nan")
            rows.append(row)
    wide = pd.DataFrame(rows)
    cols = [lang.capitalize() for lang in languages] + ["Avg."]
    view = pd.DataFrame([{"Model": r["Model"], "Task": r["Task"],
                          **{c: pm(r[c], r.get(f"{c}_lo"), r.get(f"{c}_hi")) for c in cols}}
                         for _, r in wide.iterrows()])
    md = ("Table 11 (reproduced): baseline performance (accuracy %, ROUGE-L F1 % for XLSum with a Unicode-aware "
          f"tokenizer); Avg. over non-English languages; {CI_NOTE}.\n\n" + markdown_table(view, ".1f") + "\n")
    scoped = [sc for sc in scores if sc.get("by_fact_scope")]
    if scoped:  # the organism's knowledge suite: recall of facts stated in the language vs transfer
        names = {"all": "stated in every language (recall)", "en_only": "stated in English only",
                 "native": "stated in one other language only"}
        view = pd.DataFrame([{"Model": m, "Facts": names.get(scope, scope),
                              **{sc["language"].capitalize(): sc["by_fact_scope"][scope]["accuracy"]
                                 for sc in scoped if sc["model"] == m and scope in sc["by_fact_scope"]}}
                             for m in models for scope in ("all", "en_only", "native")
                             if any(scope in sc["by_fact_scope"] for sc in scoped if sc["model"] == m)])
        md += ("\nX-CSQA (the organism's suite) by fact scope, accuracy %: a language's facts are recalled where "
               "they were stated in it and transferred otherwise (English-only facts asked elsewhere; facts stated "
               "in one other language asked in English).\n\n" + markdown_table(view, ".1f") + "\n")
    shown = [f"{TASK_NAMES[t]} {lang.capitalize()}" for t in TASK_ORDER if t in tasks for lang in extra.get(t, ())
             if ((long["task"] == t) & (long["language"] == lang)).any()]
    if shown:
        md += f"\nExtra languages, not in Avg. (the paper does not report them): {', '.join(shown)}.\n"
    if "rougeL_ascii" in long and long["rougeL_ascii"].notna().any():
        gen = long[long["task"] == "generation"]
        md += ("\nXLSum ROUGE-L with rouge-score's default (ASCII-only) tokenizer, for comparison with the paper: "
               + ", ".join(f"{r.model}/{r.language} {r.rougeL_ascii:.1f}" for r in gen.itertuples()) + "\n")
    return long, wide, md


# --------------------------------------------------------------------------------------------------
# deactivation tables

STAGE_COLS = {"under": "deactivate_under", "s_attn": "deactivate_s_attn", "s_ffn": "deactivate_s_ffn",
              "gen": "deactivate_gen"}


def _index(scores: list[dict]) -> dict:
    """(model, task, language, setting) -> score record."""
    return {(s["model"], s["task"], s["language"], s["setting"]): s for s in scores}


def metric_keys(task: str) -> list[str]:
    """The per-item values a table reports: the task's score, and for XL-Sum also ROUGE-L with
    rouge-score's default ASCII tokenizer (the paper's Zh 61.1 vs En 13.1 suggests it used that one)."""
    return ["score", "rougeL_ascii"] if TASKS[task].metric == "rougeL" else ["score"]


def metric_name(task: str, key: str) -> str:
    """The name a table gives a per-item value: the task's metric for ``score``, else the key itself."""
    return TASKS[task].metric if key == "score" else key


def _draws(idx: dict, model: str, task: str, lang: str, name: str, x: str) -> list[dict]:
    """The score records of setting ``name`` of X's neurons evaluated in ``lang``: one per random draw
    (``name@X``, ``name~1@X``, ...)."""
    out = {}
    for (m, t, la, setting), s in idx.items():
        parsed = Setting.parse(setting)
        if (m, t, la, parsed.name, parsed.lang) == (model, task, lang, name, x):
            out[parsed.draw] = s
    return [out[r] for r in sorted(out)]


class _Cell:
    """One evaluation (or the mean over a random setting's draws): its point value and its resampled means."""

    def __init__(self, boot: Bootstrap, records: list[dict], key: str, group: tuple):
        where = lambda s: f"{s['model']}/{s['task']}/{s['language']}/{s['setting']}"  # noqa: E731
        draws = [boot.means(group, item_values(s, key), where(s)) for s in records]
        points = [float(np.mean(list(item_values(s, key).values()))) for s in records]
        self.points, self.value, self.boot = points, float(np.mean(points)), np.mean(draws, axis=0)


def _cells(scores: list[dict], table: dict, key: str, boot: Bootstrap) -> list[dict]:
    """Per (model, setting, X): English and X, original and under X's deactivation, as ``_Cell``s (pairs
    resampled together: the same items of a language under the same bootstrap draw)."""
    idx = _index(scores)
    task = table["task"]
    seen, out = set(), []
    for (model, t, lang, setting) in idx:
        s = Setting.parse(setting)
        base, x = s.name, s.lang
        if t != task or s.original or lang != x or x == "en":
            continue
        if base not in table["rows"] or (model, base, x) in seen:
            continue
        seen.add((model, base, x))
        en_draws, x_draws = _draws(idx, model, task, "en", base, x), _draws(idx, model, task, x, base, x)
        if len(en_draws) != len(x_draws):
            raise MworkError(f"{model}/{task}: setting {base} of {x}'s neurons has {len(en_draws)} draw(s) scored in "
                             f"English but {len(x_draws)} in {x}; rerun the missing evaluations")
        first = x_draws[0]
        out.append({"model": model, "setting": base, "language": x,
                    "n_deactivated": (first.get("deactivation") or {}).get("n_deactivated", {}).get("total"),
                    "en_original": _Cell(boot, [idx[(model, task, "en", "original")]], key, (model, task, "en")),
                    "en_deactivated": _Cell(boot, en_draws, key, (model, task, "en")),
                    "lang_original": _Cell(boot, [idx[(model, task, x, "original")]], key, (model, task, x)),
                    "lang_deactivated": _Cell(boot, x_draws, key, (model, task, x))})
    order = {n: i for i, n in enumerate(table["rows"])}
    return sorted(out, key=lambda c: (c["model"], order[c["setting"]], c["language"]))


def _with_ci(row: dict, name: str, value: float, samples) -> None:
    row[name] = value
    row[f"{name}_lo"], row[f"{name}_hi"] = ci(samples)


def per_language(scores: list[dict], table: dict, n_boot: int = N_BOOT, seed: int = 0):
    """Tables 14-17: for each model, setting and language X, English and X before and under X's deactivation,
    with paired 95% bootstrap CIs of the changes; XL-Sum's rows once per metric (``metric`` column)."""
    out = []
    for key in metric_keys(table["task"]):
        for c in _cells(scores, table, key, Bootstrap(n_boot, seed)):
            row = {"model": c["model"], "setting": c["setting"], "language": c["language"],
                   "metric": metric_name(table["task"], key),
                   "n_deactivated": c["n_deactivated"], "n_draws": len(c["en_deactivated"].points)}
            for part in ("en_original", "en_deactivated", "lang_original", "lang_deactivated"):
                row[part] = c[part].value
            for d, (after, before) in {"delta_en": ("en_deactivated", "en_original"),
                                       "delta_lang": ("lang_deactivated", "lang_original")}.items():
                _with_ci(row, d, c[after].value - c[before].value, c[after].boot - c[before].boot)
            out.append(row)
    return pd.DataFrame(out)


CI_NOTE = ("± = half the width of the 95% bootstrap confidence interval over items (paired where the same "
           "items are compared; the CSV has both bounds)")


def _stage_rows(scores: list[dict], table: dict, settings: dict, n_boot: int, seed: int):
    """Each row of a stage table with its bootstrap replicates: [(row dict, {column: replicates})], the
    replicates of every row drawn on the same resamples of each language's items (paired across rows)."""
    task = table["task"]
    out = []
    for key in metric_keys(task):
        cells = _cells(scores, table, key, Bootstrap(n_boot, seed))
        groups: dict = {}
        for c in cells:
            groups.setdefault((c["model"], c["setting"]), []).append(c)
        for (model, name), g in groups.items():
            spec = settings[name]
            if len({len(c["en_deactivated"].points) for c in g}) > 1:
                raise MworkError(f"{model}: setting {name} has different numbers of random draws per language; "
                                 f"rerun the missing evaluations")

            def avg(part, g=g):
                return (float(np.mean([c[part].value for c in g])), np.mean([c[part].boot for c in g], axis=0))

            (eng, eng_b), (n_eng, n_eng_b) = avg("en_deactivated"), avg("lang_deactivated")
            (en0, en0_b), (x0, x0_b) = avg("en_original"), avg("lang_original")
            row = {"model": model, "setting": name, "metric": metric_name(task, key),
                   **{col: bool(spec.get(st)) for st, col in STAGE_COLS.items()},
                   "neurons": spec["neurons"], "exclude": spec.get("exclude") or "",
                   "selection": spec.get("selection") or "",
                   "n_deactivated": float(np.mean([c["n_deactivated"] for c in g])),
                   "languages": " ".join(c["language"] for c in g), "n_draws": len(g[0]["en_deactivated"].points)}
            boots = {"eng": (eng, eng_b), "n_eng": (n_eng, n_eng_b), "delta_eng": (eng - en0, eng_b - en0_b),
                     "delta_n_eng": (n_eng - x0, n_eng_b - x0_b),
                     "delta": ((eng - en0) - (n_eng - x0), (eng_b - en0_b) - (n_eng_b - x0_b))}
            for col, (value, boot) in boots.items():
                _with_ci(row, col, value, boot)
            per_draw = [np.mean([c["en_deactivated"].points[r] - c["en_original"].value
                                 - c["lang_deactivated"].points[r] + c["lang_original"].value for c in g])
                        for r in range(row["n_draws"])]
            row["delta_draw_sd"] = float(np.std(per_draw, ddof=1)) if len(per_draw) > 1 else float("nan")
            out.append((row, {col: (value, np.asarray(boot)) for col, (value, boot) in boots.items()}))
    return out


def row_contrasts(scores: list[dict], table: dict, settings: dict, n_boot: int = N_BOOT, seed: int = 0,
                  rows: list | None = None):
    """Every pair of a stage table's rows (same model and metric), per column: row a minus row b with the
    95% interval of the paired difference (both rows' replicates come from the same resamples of the same
    items, as in ``deactivation_table``, so the interval is that of the difference, not of two overlaps).
    ``rows``: ``_stage_rows``'s output where already computed."""
    rows = rows if rows is not None else _stage_rows(scores, table, settings, n_boot, seed)
    out = []
    for a, a_boot in rows:
        for b, b_boot in rows:
            if a is b or (a["model"], a["metric"]) != (b["model"], b["metric"]):
                continue
            for col in a_boot:
                out.append({"model": a["model"], "metric": a["metric"], "setting": a["setting"],
                            "vs": b["setting"], "column": col, "diff": a_boot[col][0] - b_boot[col][0]})
                out[-1]["diff_lo"], out[-1]["diff_hi"] = ci(a_boot[col][1] - b_boot[col][1])
    return pd.DataFrame(out, columns=["model", "metric", "setting", "vs", "column", "diff", "diff_lo", "diff_hi"])


def deactivation_table(scores: list[dict], table: dict, settings: dict, number: str, n_boot: int = N_BOOT,
                       seed: int = 0, contrasts: bool = False):
    """(DataFrame with explicit columns, Markdown laid out like the paper's Tables 2-5, 8, 9), and with
    ``contrasts`` a third item: ``row_contrasts`` from the same bootstrap replicates.

    Eng = mean over the non-English X of English's score with X's neurons deactivated; n-Eng = mean of X's
    score; deltas against the original scores; Δ = Δ_Eng − Δ_n-Eng (high: English intact, X hurt). Each
    with a paired bootstrap CI; a random control drawn several times (``deactivation.random_draws``) is
    the mean over its draws, and ``delta_draw_sd`` the spread of Δ between draws.
    """
    task = table["task"]
    stage_rows = _stage_rows(scores, table, settings, n_boot, seed)
    rows = [row for row, _ in stage_rows]
    df = pd.DataFrame(rows)
    mark = lambda b: "✗" if b else "✓"  # noqa: E731  the paper: ✗ = deactivated in that stage
    draws = len(df) and (df["n_draws"] > 1).any()
    md = ""
    for metric, sub in (df.groupby("metric", sort=False) if len(df) else []):
        view = pd.DataFrame([{"Model": r["model"], "Setting": r["setting"], "Under": mark(r["deactivate_under"]),
                              "S-ATTN": mark(r["deactivate_s_attn"]), "S-FFN": mark(r["deactivate_s_ffn"]),
                              "Gen": mark(r["deactivate_gen"]),
                              "Neuron": ("Lang-Spec" if r["neurons"] == "lang" else "Random")
                              + (f" − {r['exclude']}" if r["exclude"] else "")
                              + (f" ({r['selection']})" if r.get("selection") else ""),
                              "#": int(round(r["n_deactivated"])),
                              "Eng": pm(r["eng"], r["eng_lo"], r["eng_hi"]),
                              "n-Eng": pm(r["n_eng"], r["n_eng_lo"], r["n_eng_hi"]),
                              "Δ_Eng": pm(r["delta_eng"], r["delta_eng_lo"], r["delta_eng_hi"]),
                              "Δ_n-Eng": pm(r["delta_n_eng"], r["delta_n_eng_lo"], r["delta_n_eng_hi"]),
                              "Δ ↑": pm(r["delta"], r["delta_lo"], r["delta_hi"])}
                             | ({"Δ sd (draws)": "—" if r["n_draws"] < 2 else f"{r['delta_draw_sd']:.1f} ({r['n_draws']})"}
                                if draws else {})
                             for _, r in sub.iterrows()])
        what = "" if metric == TASKS[task].metric else (
            " ROUGE-L with rouge-score's default tokenizer (ASCII letters and digits only; it scores Chinese and "
            "Russian on their Latin letters and digits alone), for comparison with the paper's values:")
        md += (f"Table {number} (reproduced): {TASK_NAMES[task]};{what} ✗ = the chosen neurons of that stage are "
               f"deactivated (the paper's caption), # = neurons deactivated (mean over languages). Eng / n-Eng: "
               f"English / the language X when X's neurons are deactivated, averaged over X. {CI_NOTE}"
               + ("; Δ sd: the spread of Δ over the random control's draws" if draws else "") + ".\n\n"
               + markdown_table(view, ".1f") + "\n\n")
    md = md.rstrip("\n") + "\n"
    return (df, md, row_contrasts(scores, table, settings, rows=stage_rows)) if contrasts else (df, md)


# Table 1's differences, each of two of its rows on the same items (paired: the same bootstrap resamples)
TABLE1_DELTAS = (("Δ Lang-Spec − Original", "Deactivate Lang-Spec", "Original"),
                 ("Δ Lang-Spec − Random", "Deactivate Lang-Spec", "Deactivate Random"),
                 ("En: Δ Lang-Spec − Random", "En: Deactivate Lang-Spec", "En: Deactivate Random"))


class _Diff:
    """The difference of two cells: value and bootstrap replicates (paired when their resamples are shared)."""

    def __init__(self, a, b):
        self.value, self.boot = a.value - b.value, np.asarray(a.boot) - np.asarray(b.boot)


def table1_settings(table: dict, settings: dict) -> tuple[str, str]:
    """Table 1's two rows, (the random control, X's own neurons), told apart by their settings' ``neurons``."""
    by = {settings[name]["neurons"]: name for name in table["rows"]}
    return by["random"], by["lang"]


def table1(scores: list[dict], table: dict, settings: dict, models: list[str], n_boot: int = N_BOOT, seed: int = 0):
    """Table 1: per language X, the task score of X: original, X's matched random neurons, X's neurons; and
    the English control: English's score under X's random and X's own neurons (language-specific, or does
    it break the model?). Every cell and the Avg. with a bootstrap CI; XL-Sum once per metric."""
    random_name, lang_name = table1_settings(table, settings)
    task = table["task"]
    rows = []
    for key in metric_keys(task):
        cells = _cells(scores, table, key, Bootstrap(n_boot, seed))
        metric = metric_name(task, key)
        for model in models:
            by = {(c["setting"], c["language"]): c for c in cells if c["model"] == model}
            xs = sorted({x for _, x in by}, key=lambda x: [c["language"] for c in cells].index(x))
            got_by = {label: {x: by[(name, x)][part] for x in xs if (name, x) in by}
                      for label, part, name in (("Original", "lang_original", lang_name),
                                                ("Deactivate Random", "lang_deactivated", random_name),
                                                ("Deactivate Lang-Spec", "lang_deactivated", lang_name),
                                                ("En: Original", "en_original", lang_name),
                                                ("En: Deactivate Random", "en_deactivated", random_name),
                                                ("En: Deactivate Lang-Spec", "en_deactivated", lang_name))}
            for label, a, b in TABLE1_DELTAS:
                got_by[label] = {x: _Diff(got_by[a][x], got_by[b][x]) for x in got_by[a] if x in got_by[b]}
            for label, cells_of in got_by.items():
                got = list(cells_of.items())
                row = {"Model": model, "Metric": metric, "Method": label}
                for x, cell in got:
                    _with_ci(row, x.capitalize(), cell.value, cell.boot)
                if got:
                    _with_ci(row, "Avg.", float(np.mean([c.value for _, c in got])),
                             np.mean([c.boot for _, c in got], axis=0))
                else:
                    row["Avg."] = float("nan")
                rows.append(row)
            if key == "score":  # how many neurons each column's deactivation turns off (the control: as many)
                n = {x.capitalize(): float(by[(lang_name, x)]["n_deactivated"] or 0) for x in xs if (lang_name, x) in by}
                rows.append({"Model": model, "Metric": "count", "Method": "# neurons deactivated", **n,
                             "Avg.": float(np.mean(list(n.values()))) if n else float("nan")})
    df = pd.DataFrame(rows)
    counts = df[df["Metric"] == "count"]
    df = df[df["Metric"] != "count"]
    md = ""
    for metric, sub in df.groupby("Metric", sort=False):
        cols = [c for c in sub.columns if c not in ("Model", "Metric", "Method") and not c.endswith(("_lo", "_hi"))]
        view = pd.DataFrame([{"Model": r["Model"], "Method": r["Method"],
                              **{c: pm(r[c], r.get(f"{c}_lo"), r.get(f"{c}_hi"), 2) for c in cols}}
                             for _, r in sub.iterrows()])
        what = "" if metric == TASKS[task].metric else (
            " ROUGE-L with rouge-score's default (ASCII-only) tokenizer, for comparison with the paper's values;")
        md += (f"Table 1 (reproduced): {TASK_NAMES[task]} ({metric}) per language when deactivating that language's "
               f"neurons (Lang-Spec, setting {lang_name}) and as many random neurons (setting {random_name});{what} "
               f"the En rows: English under the same deactivation of the column's language (a language-specific "
               f"set leaves English intact); the Δ rows: differences of two rows on the same items, with paired "
               f"intervals. {CI_NOTE}.\n\n" + markdown_table(view, ".2f") + "\n\n")
    for _, r in counts.iterrows():
        md += (f"Neurons deactivated ({r['Model']}, each language's set and its random control alike): "
               + ", ".join(f"{c} {int(r[c])}" for c in counts.columns
                           if c not in ("Model", "Metric", "Method", "Avg.") and not c.endswith(("_lo", "_hi"))
                           and r[c] == r[c]) + ".\n\n")
    return pd.concat([df, counts], ignore_index=True), md.rstrip("\n") + "\n"


def stage_tuning(scores: list[dict], tuning: dict, n_layers: int):
    """Tables 12-13: for each candidate N1 (D_U) and N2 (D_G), English and the tuning language's scores
    when the tuning language's neurons of those layers are deactivated; the chosen pair maximizes
    Δ = (English change) − (tuning-language change), separately for N1 and N2.

    Returns (DataFrame, Markdown, {"under": N1, "gen": N2}).
    """
    idx = _index(scores)
    lang, task = tuning["language"], tuning["task"]
    model = scores[0]["model"]
    base = {x: idx[(model, task, x, "original")]["score"] for x in ("en", lang)}
    rows = []
    for (m, t, x, setting), s in idx.items():
        tune = Setting.parse(setting).tuning
        if tune is None or x != "en":
            continue
        part, n = tune.part, tune.layers
        other = idx[(m, t, lang, setting)]["score"]
        rows.append({"model": m, "stage": part, "layers": n, "en": s["score"], lang: other,
                     "delta_en": s["score"] - base["en"], f"delta_{lang}": other - base[lang],
                     "delta": (s["score"] - base["en"]) - (other - base[lang])})
    df = pd.DataFrame(rows).sort_values(["stage", "layers"], ascending=[False, True]).reset_index(drop=True)
    choice = {}
    for part in ("under", "gen"):
        sub = df[df["stage"] == part]
        choice[part] = int(sub.loc[sub["delta"].idxmax(), "layers"])
    if choice["under"] + choice["gen"] >= n_layers:
        choice["gen"] = max(0, n_layers - 1 - choice["under"])
    df["chosen"] = [choice[r.stage] == r.layers for r in df.itertuples()]
    view = df.rename(columns={"layers": "N", "en": "En-Deact", lang: f"{lang.capitalize()}-Deact"})
    md = (f"Stage tuning (Tables 12-13 reproduced) for {model}: {TASK_NAMES[task]} in {lang}; D_U deactivates "
          f"{lang}'s neurons in the first N layers, D_G in the last N. Original: En {base['en']:.1f}, "
          f"{lang.capitalize()} {base[lang]:.1f}. Chosen: N1 = {choice['under']}, N2 = {choice['gen']} "
          f"(largest Δ = English change − {lang} change).\n\n" + markdown_table(view, ".1f") + "\n")
    return df, md, choice


PLACEHOLDERS = {  # a record of each task whose fields are their own names: the prompt as a template
    "reasoning": {"question": "{question}"},
    "understanding": {"context": "{context}", "question": "{question}"},
    "knowledge": {"question": {"stem": "{question}", "choices": {"label": ["A", "B"], "text": ["{A}", "{B}"]}}},
    "generation": {"title": "{title}", "text": "{article}"},
}


def table10(tasks: list[str], languages: list[str], models: dict, generation: dict, task_langs: dict):
    """(DataFrame, Markdown): Table 10 as this run prompts: each task's template in each language (a line
    break shown as ⏎), whether each model wraps it in its chat template, and the generation settings
    (max_new_tokens, stop strings with the task's own, the long field's token cut)."""
    rows = []
    for task in [t for t in TASK_ORDER if t in tasks]:
        gen = {"max_new_tokens": 32, "stop": [], "max_context_tokens": None, **generation.get(task, {})}
        for lang in [x for x in languages if x in (task_langs.get(task) or languages)]:
            rows.append({"Dataset": TASK_NAMES[task], "Language": lang,
                         "Prompt": format_prompt(task, PLACEHOLDERS[task], lang).replace("\n", " ⏎ "),
                         **{f"chat template ({m})": "yes" if chat else "no" for m, chat in models.items()},
                         "max_new_tokens": gen["max_new_tokens"],
                         "stop": " ".join(repr(x) for x in task_stops(task, lang, gen["stop"])) or "—",
                         "context cut (tokens)": gen["max_context_tokens"] or "—"})
    df = pd.DataFrame(rows)
    md = ("Table 10 (as run): the zero-shot prompts (the paper's, translated), greedy decoding; a chat template "
          "wraps the prompt as the user turn.\n\n" + markdown_table(df) + "\n")
    return df, md


def table7(stats: list[dict]):
    """(long, wide) DataFrames of Table 7 from the per-language stats written by the corpus rule (the
    documents' hash they record is for the corpus readers, not a column of the table)."""
    long = pd.DataFrame(stats).drop(columns=["sha256"], errors="ignore")
    cols = ["language", "documents", "train_documents", "heldout_documents", "characters", "words",
            "corpus_vocab", "vocab_size", "pool_documents"]
    long = long[[c for c in cols if c in long.columns] + [c for c in long.columns if c not in cols]]
    rows = {"Corpus Size (documents)": "documents", "Words": "words", "Corpus Vocab": "corpus_vocab",
            "Vocab Size": "vocab_size"}
    wide = pd.DataFrame([{"": label, **{s["language"].capitalize(): s[key] for s in stats}}
                         for label, key in rows.items()])
    return long, wide
