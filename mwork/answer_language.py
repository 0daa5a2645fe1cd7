"""The language a model answers in, under each row of a deactivation table.

MWork's claim about the task-solving and generation layers is a claim about *which language* comes out: with
X's neurons there switched off, a model that reasons in English should answer X's questions in English (or
in no clear language) while English's answers stay English. The tables score correctness; this reads the
same stored answers (the evaluations' ``*.predictions.jsonl``) and names each one's language with CLD3
(``cld3-py``, the identifier the paper's Figure 1 uses): a reliable detection gives the language's code,
anything else ``und``.

Per table row, model and non-English X, on the same items (paired):
- ``x_in_x``: the share of X's answers in X, original and with X's neurons off, and the change;
- ``x_in_en``: the share of X's answers in English, likewise;
- ``x_in_other``: in a third language (neither X nor English: a neighbour, say), likewise;
- ``en_in_en``: the share of English's answers in English under the same deactivation of X (the control).
The pooled row (``language: mean``) is the mean over X. Intervals: 95% percentile bootstrap over items,
the original and deactivated answers of a language resampled together (``mwork.stats.Bootstrap``). A
random control's draws are averaged per item.
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MworkError
from .languages import LANGUAGES
from .names import Setting
from .stats import N_BOOT, Bootstrap, ci, pm

UNDETERMINED = "und"
MEASURES = {"x_in_x": "X's answers in X", "x_in_en": "X's answers in English",
            "x_in_other": "X's answers in another language", "en_in_en": "English's answers in English"}


class AnswerLanguage:
    """CLD3 on a whole answer: our language code for a reliable detection, ``und`` otherwise."""

    def __init__(self, max_bytes: int = 1000):
        import gcld3  # the cld3-py distribution

        self.detector = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=max_bytes)
        self.codes = {lang.cld3: code for code, lang in LANGUAGES.items()}

    def __call__(self, text: str) -> str:
        if not any(unicodedata.category(c).startswith("L") for c in text or ""):
            return UNDETERMINED  # numbers, formulas, nothing
        r = self.detector.FindLanguage(text=text)
        if not r.is_reliable:
            return UNDETERMINED
        return self.codes.get(r.language, r.language)


def read_answers(path: str | Path) -> dict[str, str]:
    """``{item id: generated text}`` of one evaluation's predictions file."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                out[str(rec["id"])] = rec["prediction"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise MworkError(f"{path}, line {n}: not a predictions record with id and prediction ({e}); "
                                 f"rerun its evaluation (rule evaluate)") from None
    return out


def evaluation_of(path: str | Path) -> tuple[str, str, str, Setting]:
    """(model, task, language, setting) from results/eval/<model>/<task>/<lang>/<setting>.predictions.jsonl."""
    p = Path(path)
    name = p.name.removesuffix(".predictions.jsonl")
    return p.parts[-4], p.parts[-3], p.parts[-2], Setting.parse(name)


def answer_language_table(files: list[str], table: dict, models: list[str], n_boot: int = N_BOOT,
                          seed: int = 0, identify=None) -> tuple[pd.DataFrame, str]:
    """(rows as described in the module docstring, Markdown) from the predictions files of a deactivation
    table's evaluations (the originals, and English and X under each row's setting of X)."""
    identify = identify or AnswerLanguage()
    langs: dict[tuple, dict[str, str]] = {}  # (model, task, lang, setting) -> {id: language}
    for f in files:
        model, task, lang, setting = evaluation_of(f)
        langs[(model, task, lang, str(setting))] = {i: identify(t) for i, t in read_answers(f).items()}
    task = table["task"]
    boot = Bootstrap(n_boot, seed)
    rows = []
    for model in models:
        xs = sorted({k[2] for k in langs if k[0] == model and k[2] != "en"},
                    key=lambda x: list(LANGUAGES).index(x) if x in LANGUAGES else 99)
        for name in table["rows"]:
            per_x = []
            for x in xs:
                draws = sorted(s for (m, t, lang, s) in langs if (m, t, lang) == (model, task, x)
                               and s != "original" and Setting.parse(s).name == name and Setting.parse(s).lang == x)
                if not draws:
                    continue
                cells = {}
                for measure, items_lang, want in (("x_in_x", x, {x}), ("x_in_en", x, {"en"}),
                                                  ("x_in_other", x, None), ("en_in_en", "en", {"en"})):
                    before = langs.get((model, task, items_lang, "original"))
                    after = [langs.get((model, task, items_lang, s)) for s in draws]
                    if before is None or any(a is None for a in after):
                        raise MworkError(f"{model}/{task}/{items_lang}: the predictions of original or {name}@{x} "
                                         f"are missing; rerun the table's evaluations")
                    ids = sorted(before, key=str)
                    if any(set(a) != set(ids) for a in after):
                        raise MworkError(f"{model}/{task}/{items_lang}: {name}@{x} answered other items than "
                                         f"original; paired shares need the same items: rerun them")
                    def share(lang, want=want, x=x):  # None: a language, neither X nor English
                        return 100.0 * (lang in want if want else lang not in (x, "en", UNDETERMINED))

                    b = np.array([share(before[i]) for i in ids])
                    a = np.array([np.mean([share(d[i]) for d in after]) for i in ids])
                    idx = boot.resamples((model, task, items_lang), ids)
                    cells[measure] = (b.mean(), a.mean(), b[idx].mean(axis=1), a[idx].mean(axis=1))
                per_x.append((x, len(draws), cells))
                rows.append(_row(model, task, name, x, len(draws), cells))
            if per_x:
                pooled = {m: tuple(np.mean([c[m][k] for _, _, c in per_x], axis=0) for k in range(4))
                          for m in MEASURES}
                rows.append(_row(model, task, name, "mean", per_x[0][1], pooled))
    df = pd.DataFrame(rows)
    return df, _markdown(df, task)


def _row(model, task, setting, lang, n_draws, cells) -> dict:
    row = {"model": model, "task": task, "setting": setting, "language": lang, "n_draws": n_draws}
    for m, (before, after, b_boot, a_boot) in cells.items():
        row[f"{m}_original"], row[m] = float(before), float(after)
        row[f"{m}_change"] = float(after - before)
        row[f"{m}_change_lo"], row[f"{m}_change_hi"] = ci(a_boot - b_boot)
    return row


def _markdown(df: pd.DataFrame, task: str) -> str:
    head = (f"Answer language ({task}): the share of answers CLD3 reliably identifies as the language named, "
            f"original → with X's neurons of the row deactivated (change ± half its 95% paired bootstrap "
            f"interval over items); English's answers under the same deactivation of X as the control.\n\n")
    if df.empty:
        return head + "(no rows)\n"
    lines = ["| Model | Setting | X | " + " | ".join(MEASURES.values()) + " |", "|---" * (3 + len(MEASURES)) + "|"]
    for _, r in df.iterrows():
        cells = [f"{r[f'{m}_original']:.1f} → {r[m]:.1f} ({pm(r[f'{m}_change'], r[f'{m}_change_lo'], r[f'{m}_change_hi'], sign=True)})"
                 for m in MEASURES]
        lines.append(f"| {r['model']} | {r['setting']} | {'Avg.' if r['language'] == 'mean' else r['language']} | "
                     + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"
