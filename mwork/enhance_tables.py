"""Figure 4 and Table 6: task scores of the tuned models against the original, with paired bootstrap CIs.

Rule enhance_eval writes one scores file per tuning (and one for the original model) holding an
evaluation-rule scores dict per (task, language). A tuning's change is paired with the original's on the
same items (``mwork.stats.Bootstrap``, one resample of a (model, task, language)'s items shared by every
evaluation of them); a mean over languages, tasks or random draws is the mean of the paired replicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import MworkError
from .io import read_json
from .names import FineTuning, Variant
from .stats import N_BOOT, Bootstrap, check_scores, ci, item_values, pm
from .tasks.registry import TASK_NAMES

CONTROLS = {"random": "Random", "lora": "LoRA"}


def read_tunings(paths) -> dict[tuple, dict]:
    """{(model, tuning, task, language): scores} of rule enhance_eval's files (``tuning``: ``original`` or
    ``<language>/<variant>``)."""
    out = {}
    for path in paths:
        s = read_json(path, made_by="enhance_eval")
        if not isinstance(s, dict) or not isinstance(s.get("scores"), list) or "tuning" not in s:
            raise MworkError(f"{path}: not a scores file of rule enhance_eval; delete it and rerun")
        for sc in s["scores"]:
            check_scores(sc, f"{path} ({sc.get('task')}/{sc.get('language')})", rule="enhance_eval")
            out[(s["base"], s["tuning"], sc["task"], sc["language"])] = sc
    return out


class _Paired:
    """Resampled means of one (model, task, language)'s items, shared by every tuning of them."""

    def __init__(self, scores: dict, n_boot: int, seed: int):
        self.scores, self.boot = scores, Bootstrap(n_boot, seed)

    def get(self, model: str, tuning: str, task: str, lang: str):
        """(mean, replicates) of one evaluation, or None when it was not run."""
        s = self.scores.get((model, tuning, task, lang))
        if s is None:
            return None
        where = f"{model}/enhance/{tuning}: {task}/{lang}"
        return float(s["score"]), self.boot.means((model, task, lang), item_values(s), where)

    def original(self, model: str, task: str, lang: str):
        got = self.get(model, "original", task, lang)
        if got is None:
            raise MworkError(f"results/{model}/enhance/original.scores.json has no {task}/{lang} score; rerun rule "
                             f"enhance_eval for it (the tasks or languages changed since)")
        return got


def _mean(parts: list[tuple[float, np.ndarray]]):
    return float(np.mean([v for v, _ in parts])), np.mean([b for _, b in parts], axis=0)


def _ci_row(row: dict, name: str, value: float, samples) -> None:
    row[name] = value
    row[f"{name}_lo"], row[f"{name}_hi"] = ci(samples)


def tuning_label(v: Variant) -> str:
    return str(v.n_docs) if v.kind == "lang" else CONTROLS[v.kind]


def figure4_table(scores: dict, models: list[str], languages: list[str], tasks: list[str], grids: dict,
                  n_boot: int = N_BOOT, seed: int = 0):
    """Figure 4's numbers (long DataFrame): per model, task and tuning (each size of the language's own
    neurons; Random and LoRA at the control size), the change of each language's score against the original
    and its mean over the languages that have that tuning (``language`` = ``avg``), with 95% CIs; and the
    change of English's score under the same tunings (``en_change``: English is not tuned, only scored) and
    of the other languages' where they were scored (``others_change``: the own-neuron tuning at the control
    size is scored in every evaluation language). Rows with ``task`` = ``all`` average the tasks (the
    paper's "average of all tasks"). ``grids``: {language: [Variant]}. Random draws are averaged per
    language before the mean."""
    paired = _Paired(scores, n_boot, seed)
    rows = []
    for model in models:
        overall: dict[str, dict[str, list]] = {}  # tuning -> {column: [(value, replicates) per task]}
        for task in tasks:
            labels: dict[str, list] = {}
            for lang in languages:
                for v in grids.get(lang, []):
                    labels.setdefault(tuning_label(v), []).append((lang, v))
            for label, members in labels.items():
                per_lang, en_parts, other_parts = {}, [], []
                for lang, v in members:
                    got = paired.get(model, str(FineTuning(lang, v)), task, lang)
                    if got is None:
                        continue
                    base = paired.original(model, task, lang)
                    per_lang.setdefault(lang, []).append((got[0] - base[0], got[1] - base[1], got[0], base[0]))
                    for y in sorted({k[3] for k in scores if k[:3] == (model, str(FineTuning(lang, v)), task)} - {lang}):
                        after, before = paired.get(model, str(FineTuning(lang, v)), task, y), paired.original(model, task, y)
                        (en_parts if y == "en" else other_parts).append((after[0] - before[0], after[1] - before[1]))
                if not per_lang:
                    continue
                kind = members[0][1].kind
                n_docs = members[0][1].n_docs
                lang_means = {}
                for lang, draws in per_lang.items():
                    delta, boot = _mean([(d, b) for d, b, _, _ in draws])
                    lang_means[lang] = (delta, boot)
                    row = {"model": model, "task": task, "dataset": TASK_NAMES[task], "tuning": label, "kind": kind,
                           "n_docs": n_docs, "language": lang, "n_languages": 1, "n_draws": len(draws),
                           "original": draws[0][3], "tuned": float(np.mean([t for _, _, t, _ in draws]))}
                    _ci_row(row, "change", delta, boot)
                    rows.append(row)
                delta, boot = _mean(list(lang_means.values()))
                row = {"model": model, "task": task, "dataset": TASK_NAMES[task], "tuning": label, "kind": kind,
                       "n_docs": n_docs, "language": "avg", "n_languages": len(lang_means),
                       "languages": " ".join(lang_means), "n_draws": max(len(d) for d in per_lang.values()),
                       "original": float(np.mean([d[0][3] for d in per_lang.values()])),
                       "tuned": float(np.mean([np.mean([t for _, _, t, _ in d]) for d in per_lang.values()]))}
                _ci_row(row, "change", delta, boot)
                acc = overall.setdefault(label, {"kind": kind, "n_docs": n_docs, "change": [], "en_change": [],
                                                 "others_change": []})
                acc["change"].append((delta, boot))
                for name, parts in (("en_change", en_parts), ("others_change", other_parts)):
                    if parts:
                        _ci_row(row, name, *_mean(parts))
                        acc[name].append(_mean(parts))
                rows.append(row)
        for label, acc in overall.items():
            row = {"model": model, "task": "all", "dataset": "all tasks", "tuning": label, "kind": acc["kind"],
                   "n_docs": acc["n_docs"], "language": "avg", "n_tasks": len(acc["change"])}
            for name in ("change", "en_change", "others_change"):
                if acc[name]:
                    _ci_row(row, name, *_mean(acc[name]))
            rows.append(row)
    return pd.DataFrame(rows)


def table6(scores: dict, models: list[str], languages: list[str], tuned: list[str], tasks: list[str],
           grids: dict, control_size: int, train_docs: dict, n_boot: int = N_BOOT, seed: int = 0):
    """(long DataFrame, Markdown) of Table 6: per model, Original, Random (mean of the draws), LoRA and
    Lang-Spec (the language's own neurons) at ``control_size`` documents, each language's score averaged over
    the tasks it has, with its change against the original; ``En`` = English averaged over the tuned
    languages' models (the paper's "averaging the results from four fine-tuned models"). A language not in
    ``tuned`` shows its original only and is marked with its training documents (``train_docs``)."""
    paired = _Paired(scores, n_boot, seed)
    methods = {"Original": None, "Random": "random", "LoRA": "lora", "Lang-Spec": "lang"}
    rows = []
    for model in models:
        for method, kind in methods.items():
            cells = {}
            for lang in languages:
                if kind is None:
                    parts = [paired.original(model, t, lang) for t in tasks if (model, "original", t, lang) in scores]
                    deltas = [(0.0, np.zeros_like(p[1])) for p in parts]
                    cells[lang] = (parts, deltas, 1)
                    continue
                variants = [v for v in grids.get(lang, []) if v.kind == kind and v.n_docs == control_size]
                if lang not in tuned or not variants:
                    continue
                parts, deltas = [], []
                for t in tasks:
                    draws = [paired.get(model, str(FineTuning(lang, v)), t, lang) for v in variants]
                    draws = [d for d in draws if d is not None]
                    if not draws:
                        continue
                    base = paired.original(model, t, lang)
                    value, boot = _mean(draws)
                    parts.append((value, boot))
                    deltas.append((value - base[0], boot - base[1]))
                cells[lang] = (parts, deltas, len(variants))
            # English: the original's, or the mean over the tuned languages' models of English's task mean
            en_parts, en_deltas = [], []
            for lang in tuned if kind is not None else [None]:
                variants = ([v for v in grids.get(lang, []) if v.kind == kind and v.n_docs == control_size]
                            if lang else [])
                for t in tasks:
                    base = paired.get(model, "original", t, "en")
                    if base is None:
                        continue
                    if lang is None:
                        en_parts.append(base)
                        en_deltas.append((0.0, np.zeros_like(base[1])))
                        continue
                    draws = [d for d in (paired.get(model, str(FineTuning(lang, v)), t, "en") for v in variants) if d]
                    if draws:
                        value, boot = _mean(draws)
                        en_parts.append((value, boot))
                        en_deltas.append((value - base[0], boot - base[1]))
            cells = {"en": (en_parts, en_deltas, None), **cells}
            for lang, (parts, deltas, n_draws) in cells.items():
                if not parts:
                    continue
                row = {"model": model, "method": method, "language": lang, "n_tasks": len(parts),
                       "n_draws": n_draws, "n_docs": 0 if kind is None else control_size}
                _ci_row(row, "score", *_mean(parts))
                _ci_row(row, "change", *_mean(deltas))
                rows.append(row)
    df = pd.DataFrame(rows)
    return df, _table6_md(df, models, languages, tuned, tasks, control_size, train_docs)


def _table6_md(df, models, languages, tuned, tasks, control_size, train_docs) -> str:
    cols = ["en"] + [x for x in languages if x != "en"]
    lines = [f"Table 6 (reproduced): tuning {control_size} documents of each language; the score of each language "
             f"averaged over the tasks ({', '.join(TASK_NAMES[t] for t in tasks)}), its change against the original "
             f"in parentheses; ± = half the width of the 95% paired bootstrap CI over items; En = English averaged "
             f"over the models tuned in {', '.join(x.capitalize() for x in tuned) or 'no language'}. Random = as many "
             f"random neurons per layer and kind (mean of the draws), LoRA = a LoRA adapter of as many parameters.", ""]
    for model in models:
        sub = df[df["model"] == model]
        lines += [f"**{model}**", "", "| Method | " + " | ".join(x.capitalize() for x in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for method in ("Original", "Random", "LoRA", "Lang-Spec"):
            cells = []
            for x in cols:
                r = sub[(sub["method"] == method) & (sub["language"] == x)]
                if not len(r):
                    cells.append("—")
                    continue
                r = r.iloc[0]
                cell = pm(r["score"], r["score_lo"], r["score_hi"])
                if method != "Original":
                    cell += f" ({pm(r['change'], r['change_lo'], r['change_hi'], sign=True)})"
                cells.append(cell)
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    untuned = [x for x in languages if x not in tuned]
    if untuned:
        def why(x):
            n = train_docs.get(x, 0)
            if n < control_size:
                return f"{x.capitalize()} ({n} training documents in the enhancement corpus, {control_size} needed)"
            return f"{x.capitalize()} (not in enhance.languages, or its sizes lack {control_size})"
        lines.append("Not tuned (original only): " + "; ".join(why(x) for x in untuned) + ".")
    return "\n".join(lines) + "\n"
