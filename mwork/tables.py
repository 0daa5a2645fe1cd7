"""The paper's tables from the scores the evaluation rule writes."""

from __future__ import annotations

TASK_NAMES = {"understanding": "XQuAD", "reasoning": "MGSM", "knowledge": "X-CSQA", "generation": "XLSum"}
TASK_ORDER = ["understanding", "reasoning", "knowledge", "generation"]  # the paper's row order


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
