"""The paper's claims, each decided on a run's result files by one stated rule on 95% intervals.

A claim is a list of checks; a check is one number of one table row (found by what the row deactivates,
not by the setting's name) with the direction the paper reports:

- ``below``: the paper reports a drop; it holds where the interval lies below 0, points the other way
  where it lies above 0, and is not resolved where it contains 0;
- ``above``: the same for a rise (Δ = Δ_Eng − Δ_n-Eng: English kept, X hurt);
- ``zero``: the paper reports (almost) no effect (the random controls, English under X's neurons); it
  holds where the interval contains 0 and points the other way where it does not.

A claim is **supported** where every check holds, **contradicted** where one points the other way, **not
resolved** otherwise, and **not built** where its table (or the row) is missing. Each check is printed
with its interval and the paper's numbers for the same row and column (``report/paper_numbers.csv``),
so a reader can see how far apart they are, not only on which side of 0 they fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .paper import STAGE_MARKS, read_paper_numbers

PAPER_NUMBERS = Path(__file__).resolve().parents[1] / "report" / "paper_numbers.csv"
COLUMN_NAMES = {"eng": "Eng", "n_eng": "n-Eng", "delta_eng": "Δ_Eng", "delta_n_eng": "Δ_n-Eng", "delta": "Δ"}
LOSS_COLS = ("model", "neurons", "diagonal", "diagonal_lo", "diagonal_hi", "off_diagonal", "off_diagonal_lo",
             "off_diagonal_hi")
STAGE_COLS = ("model", "metric", "neurons", *(f"deactivate_{m}" for m in STAGE_MARKS),
              *(f"{c}{s}" for c in COLUMN_NAMES for s in ("", "_lo", "_hi")))
PAPER_ROWS_89 = {"": "All language-specific neurons", "en": "LSN without overlapped between English",
                 "all": "LSN without all languages overlapped"}


@dataclass(frozen=True)
class Check:
    """One number of a stage table (2-5, 8, 9): the row deactivating ``stages`` (under, s_attn, s_ffn, gen)
    with ``neurons`` (lang/random) minus ``exclude``, its ``column``, and the direction ``want``."""
    table: str
    stages: tuple[bool, bool, bool, bool]
    neurons: str
    column: str
    want: str
    exclude: str = ""

    def label(self) -> str:
        marks = "".join(name for name, on in zip(("U", "SA", "SF", "G"), self.stages) if on)
        marks = {"U": "the understanding layers", "SA": "the task-solving attention", "SF": "the task-solving FFN",
                 "G": "the generation layers", "SASF": "the task-solving layers",
                 "UG": "the understanding and generation layers", "USFG": "every layer but the task-solving attention",
                 "USASFG": "every layer"}.get(marks, marks)
        what = "X's neurons" if self.neurons == "lang" else "random neurons"
        minus = {"en": " minus English's", "all": " minus those of every language"}.get(self.exclude, "")
        return f"{what}{minus} in {marks}: {COLUMN_NAMES[self.column]}"


@dataclass(frozen=True)
class Claim:
    name: str
    source: str  # where the paper makes it
    text: str    # the claim, in the paper's sense
    checks: tuple[Check, ...]


U, SA, SF, G = (True, False, False, False), (False, True, False, False), (False, False, True, False), \
    (False, False, False, True)
S, UG, NOT_SA, ALL = (False, True, True, False), (True, False, False, True), (True, False, True, True), \
    (True, True, True, True)

CLAIMS = (
    Claim("Understanding layers", "§3.3, Table 2",
          "X's neurons in the understanding layers serve X: switched off, X's score drops and English's holds; "
          "as many random neurons there change neither",
          (Check("2", U, "lang", "delta_n_eng", "below"), Check("2", U, "lang", "delta_eng", "zero"),
           Check("2", U, "lang", "delta", "above"), Check("2", U, "random", "delta", "zero"))),
    Claim("Task-solving layers work in English", "§3.3, Table 2; §3.4, Table 3",
          "X's neurons in the task-solving layers are used by English too: switched off, both drop",
          (Check("2", S, "lang", "delta_eng", "below"), Check("2", S, "lang", "delta_n_eng", "below"),
           Check("3", S, "lang", "delta_eng", "below"), Check("3", S, "lang", "delta_n_eng", "below"))),
    Claim("Reasoning outside the task-solving layers is X's", "§3.4, Table 3",
          "X's neurons outside the task-solving layers (and in their FFN) serve X's reasoning: switched off, X "
          "drops more than English",
          (Check("3", UG, "lang", "delta", "above"), Check("3", NOT_SA, "lang", "delta", "above"),
           Check("3", NOT_SA, "lang", "delta_n_eng", "below"))),
    Claim("Knowledge in the task-solving FFN", "§3.5, Table 4",
          "X's neurons in the task-solving layers' FFN hold X's knowledge: switched off, X drops more than English",
          (Check("4", SF, "lang", "delta", "above"), Check("4", SF, "lang", "delta_n_eng", "below"))),
    Claim("Generation layers", "§3.3, Table 2; §3.6, Table 5",
          "X's neurons in the last layers serve X's generation (Table 5) and barely touch understanding (Table 2)",
          (Check("5", G, "lang", "delta", "above"), Check("5", G, "random", "delta", "zero"),
           Check("2", G, "lang", "delta_eng", "zero"), Check("2", G, "lang", "delta_n_eng", "zero"))),
    Claim("Overlapping neurons are not language-agnostic", "Appendix E, Tables 8-9",
          "without the neurons X shares with English (Table 8) or with every language (Table 9), X's set still "
          "hurts X more than English",
          (Check("8", NOT_SA, "lang", "delta", "above", exclude="en"),
           Check("9", NOT_SA, "lang", "delta", "above", exclude="all"))),
)


def _nan(x) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def decide(want: str, lo: float, hi: float) -> str:
    """``holds``, ``opposite`` or ``unresolved`` for an interval [lo, hi] against the claimed direction."""
    if want == "below":
        return "holds" if hi < 0 else "opposite" if lo > 0 else "unresolved"
    if want == "above":
        return "holds" if lo > 0 else "opposite" if hi < 0 else "unresolved"
    if want == "zero":
        return "holds" if lo <= 0 <= hi else "opposite"
    raise ValueError(f"want: {want!r} (below, above or zero)")


def verdict(outcomes: list[str]) -> str:
    if not outcomes or "missing" in outcomes:
        return "not built"
    if "opposite" in outcomes:
        return "contradicted"
    return "supported" if all(o == "holds" for o in outcomes) else "not resolved"


def _find_row(df: pd.DataFrame, check: Check) -> pd.Series | None:
    """The first metric's row of ``df`` (a stage table as ``mwork.tables.deactivation_table`` writes it) that
    deactivates exactly ``check``'s stages with its kind of neurons and exclusion."""
    if df is None or not len(df):
        return None
    df = df[df["metric"] == df["metric"].iloc[0]]
    for _, row in df.iterrows():
        exclude = row.get("exclude")
        exclude = "" if exclude is None or (isinstance(exclude, float) and math.isnan(exclude)) else str(exclude)
        if (row["neurons"] == check.neurons and exclude == check.exclude
                and all(bool(row[f"deactivate_{m}"]) == on for m, on in zip(STAGE_MARKS, check.stages))):
            return row
    return None


def paper_values(paper: list[dict], check: Check) -> dict[str, float]:
    """The paper's number for the same row and column, per paper model (Vicuna, Mistral, ...)."""
    col = COLUMN_NAMES[check.column]
    out = {}
    for p in paper:
        if p["table"] != check.table or p["column"] != col or p["value"] is None:
            continue
        if check.table in ("8", "9"):
            if p["row"] != PAPER_ROWS_89[check.exclude]:
                continue
        elif p["neurons"] != check.neurons or any(bool(p[m]) != on for m, on in zip(STAGE_MARKS, check.stages)):
            continue
        out.setdefault(p["model"], p["value"])
    return out


def _signed(x: float) -> str:
    return f"{x:+.1f}"


def check_line(df, check: Check, paper: list[dict]) -> tuple[str, str]:
    """(outcome, its text) of one check on one model's rows."""
    row = _find_row(df, check)
    want = {"below": "below 0", "above": "above 0", "zero": "contains 0"}[check.want]
    if row is None or any(_nan(row.get(k)) for k in (check.column, f"{check.column}_lo", f"{check.column}_hi")):
        return "missing", f"Table {check.table}, {check.label()}: no such row (claimed: {want})"
    v, lo, hi = (float(row[k]) for k in (check.column, f"{check.column}_lo", f"{check.column}_hi"))
    outcome = decide(check.want, lo, hi)
    cited = paper_values(paper, check)
    cite = "; paper " + ", ".join(f"{m} {_signed(x)}" for m, x in cited.items()) if cited else ""
    mark = {"holds": "holds", "opposite": "points the other way", "unresolved": "not resolved"}[outcome]
    return outcome, (f"Table {check.table}, {check.label()} {_signed(v)} [{_signed(lo)}, {_signed(hi)}] "
                     f"(claimed: {want}{cite}): {mark}")


def table1_lines(res, paper: list[dict]) -> list[str]:
    """Language-specific neurons exist (Table 1): X's set lowers X's score more than as many random neurons
    (interval of Lang-Spec − Random below 0), and English under X's set stays where it is under the random
    ones (interval contains 0: the set is X's, not the model's)."""
    rel = "table1.csv"
    head = "**Language-specific neurons exist** (§2.3, Table 1: X's set switched off lowers X, not English)"
    df, why = res.table(rel, "table1", ("Model", "Metric", "Method"), head)
    if df is None:
        return [why if why.startswith(f"* {head}") else f"* {head}: {why[2:]}"]
    metric = df["Metric"].iloc[0] if len(df) else None
    lines = []
    for model in dict.fromkeys(df["Model"]):
        sub = df[(df["Model"] == model) & (df["Metric"] == metric)].set_index("Method")
        outcomes, texts = [], []
        for method, want in (("Δ Lang-Spec − Random", "below"), ("En: Δ Lang-Spec − Random", "zero")):
            if method not in sub.index or _nan(sub.loc[method].get("Avg._lo")):
                outcomes.append("missing")
                texts.append(f"{method}: no such row")
                continue
            r = sub.loc[method]
            o = decide(want, float(r["Avg._lo"]), float(r["Avg._hi"]))
            outcomes.append(o)
            texts.append(f"{method}, mean over X {_signed(float(r['Avg.']))} [{_signed(float(r['Avg._lo']))}, "
                         f"{_signed(float(r['Avg._hi']))}] (claimed: {'below 0' if want == 'below' else 'contains 0'})"
                         f": {'holds' if o == 'holds' else 'points the other way' if o == 'opposite' else 'not resolved'}")
        ref = []
        for m in dict.fromkeys(p["model"] for p in paper if p["table"] == "1"):
            avg = {p["row"]: p["value"] for p in paper if p["table"] == "1" and p["model"] == m and p["column"] == "Avg."}
            if avg.get("Deactivate Random") is not None and avg.get("Deactivate Lang-Spec") is not None:
                ref.append(f"{m} {_signed(avg['Deactivate Lang-Spec'] - avg['Deactivate Random'])}")
        paper_ref = f" Paper (Lang-Spec − Random, mean): {', '.join(ref)}; it has no English control." if ref else ""
        lines.append(f"* {head}, {model} on {metric}: **{verdict(outcomes)}** ({res.name(rel)}). "
                     + "; ".join(texts) + "." + paper_ref)
    return lines


def _above(a_lo, a_hi, b_lo, b_hi) -> str:
    """Interval a against interval b, for a claimed "a above b"."""
    return "holds" if a_lo > b_hi else "opposite" if a_hi < b_lo else "unresolved"


def loss_lines(res) -> list[str]:
    """The same claim from the loss matrix, on each domain built (the corpus's held-out documents, XQuAD
    contexts): X's set raises X's loss above the other languages' and above a random set's (intervals
    over documents), per model. Not the paper's measurement: an English-only model passes it too (its sets
    are then sets for unfamiliar text), which is why every model is listed."""
    domains = (("loss_matrix_summary.csv", "held-out corpus documents"), ("loss_matrix_xquad_summary.csv",
                                                                          "XQuAD contexts"))
    built = [(rel, where) for rel, where in domains if res.path(rel).exists()] or domains[:1]
    out = []
    for rel, where in built:
        head = f"**Language-specific neurons exist**, loss matrix on {where} (not in the paper: X's set raises X's loss most)"
        df, why = res.table(rel, "loss_matrix_figure", LOSS_COLS, head)
        if df is None:
            out.append(why if why.startswith(f"* {head}") else f"* {head}: {why[2:]}")
            continue
        for model in dict.fromkeys(df["model"]):
            sub = df[df["model"] == model].set_index("neurons")
            if "lang" not in sub.index or "lang_random" not in sub.index:
                continue
            a, r = sub.loc["lang"], sub.loc["lang_random"]
            outcomes = [_above(a["diagonal_lo"], a["diagonal_hi"], a["off_diagonal_lo"], a["off_diagonal_hi"]),
                        _above(a["diagonal_lo"], a["diagonal_hi"], r["diagonal_lo"], r["diagonal_hi"])]
            out.append(f"* {head}, {model}: **{verdict(outcomes)}** ({res.name(rel)}): diagonal {a['diagonal']:.2f} "
                       f"[{a['diagonal_lo']:.2f}, {a['diagonal_hi']:.2f}] nats against the off-diagonal "
                       f"{a['off_diagonal']:.2f} [{a['off_diagonal_lo']:.2f}, {a['off_diagonal_hi']:.2f}] and the "
                       f"random control's diagonal {r['diagonal']:.2f} [{r['diagonal_lo']:.2f}, {r['diagonal_hi']:.2f}].")
    return out


def claim_lines(res, paper_numbers: str | Path = PAPER_NUMBERS) -> list[str]:
    """The claims block: Table 1 and the loss matrix, then each stage-table claim per evaluated model."""
    paper = read_paper_numbers(str(paper_numbers)) if Path(paper_numbers).exists() else []
    lines = ["**The paper's claims, decided** (mwork/claims.py: a claimed drop holds where its 95% interval lies "
             "below 0, a claimed rise where it lies above 0, no effect where it contains 0; a claim is supported "
             "when every check holds, contradicted when one points the other way, not resolved otherwise):", ""]
    lines += table1_lines(res, paper) + loss_lines(res)
    tables = {}
    for claim in CLAIMS:
        for c in claim.checks:
            rel = f"table{c.table}.csv"
            if c.table not in tables:
                tables[c.table], why = (res.table(rel, "deactivation_table", STAGE_COLS, f"Table {c.table}")
                                        if res.path(rel).exists() else (None, None))
                if why:
                    lines.append(why)
        models = list(dict.fromkeys(m for c in claim.checks if tables[c.table] is not None
                                    for m in tables[c.table]["model"]))
        if not models:
            files = ", ".join(sorted({res.name(f"table{c.table}.csv") for c in claim.checks}))
            lines.append(f"* **{claim.name}** ({claim.source}: {claim.text}): not built ({files})")
            continue
        for model in models:
            results = []
            for c in claim.checks:
                df = tables[c.table]
                results.append(check_line(None if df is None else df[df["model"] == model], c, paper))
            built = [r for r in results if r[0] != "missing"]
            missing = sorted({f"Table {c.table}" for c, r in zip(claim.checks, results) if r[0] == "missing"})
            word = verdict([o for o, _ in built]) + (f" on the rows built (none in {', '.join(missing)})"
                                                     if missing and built else "")
            shown = built or results  # nothing built: say which rows are missing
            lines.append(f"* **{claim.name}** ({claim.source}: {claim.text}), {model}: **{word}**. "
                         + "; ".join(t for _, t in shown) + ".")
    return lines + [""]
