"""The paper's tables from the scores the evaluation rule writes."""

from __future__ import annotations

from .settings import split_setting
from .settings import tuning as tuning_name
from .tasks.registry import TASK_NAMES, TASK_ORDER  # the paper's dataset names and Table 11's row order

REQUIRED = ("model", "task", "language", "score")


def read_scores(paths) -> list[dict]:
    """The evaluation rule's score files, each checked: a missing or non-numeric score would silently drop
    out of pandas' means (a language missing from n-Eng while the table still lists it)."""
    import math

    from .errors import MworkError
    from .io import read_json

    out = []
    for path in paths:
        s = read_json(path, made_by="evaluate")
        missing = [k for k in REQUIRED if not isinstance(s, dict) or k not in s]
        if missing:
            raise MworkError(f"{path}: no {', '.join(missing)}; delete it and rerun (rule evaluate writes it)")
        v = s["score"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MworkError(f"{path}: score is {v!r}, not a number; delete it and rerun (rule evaluate writes it)")
        out.append(s)
    return out




def table11(scores: list[dict], models: list[str], tasks: list[str], languages: list[str]):
    """(long DataFrame, wide DataFrame, Markdown) of baseline scores; Avg. over the non-English languages.

    A (task, language) pair the dataset lacks is a dash, as in the paper (XQuAD has no French, XL-Sum no
    German).
    """
    import pandas as pd

    from .io import markdown_table

    long = pd.DataFrame([{k: s[k] for k in ("model", "task", "dataset", "language", "metric", "score", "n_items",
                                             "n_empty")} | {k: s.get(k) for k in ("em", "f1", "rougeL_ascii")}
                         for s in scores])
    rows = []
    for model in models:
        for task in [t for t in TASK_ORDER if t in tasks]:
            sub = long[(long["model"] == model) & (long["task"] == task)].set_index("language")["score"]
            row = {"Model": model, "Task": TASK_NAMES[task]}
            for lang in languages:
                row[lang.capitalize()] = float(sub[lang]) if lang in sub.index else float("nan")
            others = [sub[lang] for lang in languages if lang != "en" and lang in sub.index]
            row["Avg."] = float(sum(others) / len(others)) if others else float("nan")
            rows.append(row)
    wide = pd.DataFrame(rows)
    md = ("Table 11 (reproduced): baseline performance (accuracy %, ROUGE-L F1 % for XLSum with a Unicode-aware "
          "tokenizer); Avg. over non-English languages.\n\n" + markdown_table(wide, ".1f") + "\n")
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


def per_language(scores: list[dict], table: dict, models: list[str] | None = None):
    """Tables 14-17: for each model, setting and language X, English and X before and under X's deactivation."""
    import pandas as pd

    idx = _index(scores)
    task = table["task"]
    rows_ = table["rows"]
    out = []
    for (model, t, lang, setting), s in idx.items():
        name, x = split_setting(setting)
        if t != task or name is None or lang == "en":
            continue
        if name not in rows_ or x != lang:
            continue
        en = idx[(model, task, "en", setting)]
        out.append({"model": model, "setting": name, "language": x,
                    "n_deactivated": (s.get("deactivation") or {}).get("n_deactivated", {}).get("total"),
                    "en_original": idx[(model, task, "en", "original")]["score"], "en_deactivated": en["score"],
                    "lang_original": idx[(model, task, x, "original")]["score"], "lang_deactivated": s["score"]})
    df = pd.DataFrame(out)
    if len(df):
        df["delta_en"] = df["en_deactivated"] - df["en_original"]
        df["delta_lang"] = df["lang_deactivated"] - df["lang_original"]
        order = {n: i for i, n in enumerate(rows_)}
        df = df.sort_values(["model", "setting", "language"], key=lambda c: c.map(order) if c.name == "setting"
                            else c).reset_index(drop=True)
    return df


def deactivation_table(scores: list[dict], table: dict, settings: dict, number: str):
    """(DataFrame with explicit columns, Markdown laid out like the paper's Tables 2-5, 8, 9).

    Eng = mean over the non-English X of English's score with X's neurons deactivated; n-Eng = mean of X's
    score; deltas against the original scores; Δ = Δ_Eng − Δ_n-Eng (high: English intact, X hurt).
    """
    import pandas as pd

    from .io import markdown_table

    per = per_language(scores, table)
    rows = []
    for (model, name), g in per.groupby(["model", "setting"], sort=False):
        spec = settings[name]
        eng, n_eng = g["en_deactivated"].mean(), g["lang_deactivated"].mean()
        d_eng = eng - g["en_original"].mean()
        d_n = n_eng - g["lang_original"].mean()
        rows.append({"model": model, "setting": name, **{col: bool(spec.get(st)) for st, col in STAGE_COLS.items()},
                     "neurons": spec["neurons"], "exclude": spec.get("exclude") or "",
                     "n_deactivated": float(g["n_deactivated"].mean()), "languages": " ".join(g["language"]),
                     "eng": eng, "n_eng": n_eng, "delta_eng": d_eng, "delta_n_eng": d_n, "delta": d_eng - d_n})
    df = pd.DataFrame(rows)
    mark = lambda b: "✗" if b else "✓"  # noqa: E731  the paper: ✗ = deactivated in that stage
    view = pd.DataFrame([{"Model": r["model"], "Setting": r["setting"], "Under": mark(r["deactivate_under"]),
                          "S-ATTN": mark(r["deactivate_s_attn"]), "S-FFN": mark(r["deactivate_s_ffn"]),
                          "Gen": mark(r["deactivate_gen"]),
                          "Neuron": ("Lang-Spec" if r["neurons"] == "lang" else "Random")
                          + (f" − {r['exclude']}" if r["exclude"] else ""),
                          "#": int(round(r["n_deactivated"])), "Eng": r["eng"], "n-Eng": r["n_eng"],
                          "Δ_Eng": r["delta_eng"], "Δ_n-Eng": r["delta_n_eng"], "Δ ↑": r["delta"]}
                         for r in rows])
    md = (f"Table {number} (reproduced): {TASK_NAMES[table['task']]}; ✗ = the chosen neurons of that stage are "
          f"deactivated (the paper's caption), # = neurons deactivated (mean over languages). Eng / n-Eng: "
          f"English / the language X when X's neurons are deactivated, averaged over X.\n\n"
          + markdown_table(view, ".1f") + "\n")
    return df, md


def table1_settings(table: dict, settings: dict) -> tuple[str, str]:
    """Table 1's two rows, (the random control, X's own neurons), told apart by their settings' ``neurons``."""
    by = {settings[name]["neurons"]: name for name in table["rows"]}
    return by["random"], by["lang"]


def table1(scores: list[dict], table: dict, settings: dict, models: list[str]):
    """Table 1: per language X, the task score of X: original, X's matched random neurons, X's neurons."""
    import pandas as pd

    from .io import markdown_table

    random_name, lang_name = table1_settings(table, settings)
    per = per_language(scores, table)
    rows = []
    for model in models:
        g = per[per["model"] == model]
        for label, key, name in (("Original", "lang_original", lang_name),
                                 ("Deactivate Random", "lang_deactivated", random_name),
                                 ("Deactivate Lang-Spec", "lang_deactivated", lang_name)):
            sub = g[g["setting"] == name].set_index("language")[key]
            row = {"Model": model, "Method": label, **{x.capitalize(): float(v) for x, v in sub.items()}}
            row["Avg."] = float(sub.mean()) if len(sub) else float("nan")
            rows.append(row)
    df = pd.DataFrame(rows)
    md = (f"Table 1 (reproduced): {TASK_NAMES[table['task']]} per language when deactivating that language's "
          f"neurons (Lang-Spec, setting {lang_name}) and as many random neurons (setting {random_name}).\n\n"
          + markdown_table(df, ".2f") + "\n")
    return df, md


def stage_tuning(scores: list[dict], tuning: dict, n_layers: int):
    """Tables 12-13: for each candidate N1 (D_U) and N2 (D_G), English and the tuning language's scores
    when the tuning language's neurons of those layers are deactivated; the chosen pair maximizes
    Δ = (English change) − (tuning-language change), separately for N1 and N2.

    Returns (DataFrame, Markdown, {"under": N1, "gen": N2}).
    """
    import pandas as pd

    from .io import markdown_table

    idx = _index(scores)
    lang, task = tuning["language"], tuning["task"]
    model = scores[0]["model"]
    base = {x: idx[(model, task, x, "original")]["score"] for x in ("en", lang)}
    rows = []
    for (m, t, x, setting), s in idx.items():
        name, _ = split_setting(setting)
        if name is None or not tuning_name(name) or x != "en":
            continue
        part, n = tuning_name(name)
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


def table7(stats: list[dict]):
    """(long, wide) DataFrames of Table 7 from the per-language stats written by the corpus rule (the
    documents' hash they record is for the corpus readers, not a column of the table)."""
    import pandas as pd

    long = pd.DataFrame(stats).drop(columns=["sha256"], errors="ignore")
    cols = ["language", "documents", "train_documents", "heldout_documents", "characters", "words",
            "corpus_vocab", "vocab_size", "pool_documents"]
    long = long[[c for c in cols if c in long.columns] + [c for c in long.columns if c not in cols]]
    rows = {"Corpus Size (documents)": "documents", "Words": "words", "Corpus Vocab": "corpus_vocab",
            "Vocab Size": "vocab_size"}
    wide = pd.DataFrame([{"": label, **{s["language"].capitalize(): s[key] for s in stats}}
                         for label, key in rows.items()])
    return long, wide
