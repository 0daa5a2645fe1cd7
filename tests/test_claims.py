"""mwork.claims: each claim of the paper decided on tables the project's own writers make from scores files
built here, with a known effect (or none) in each setting."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from mwork.claims import CLAIMS, PAPER_NUMBERS, Row, claim_lines, decide, paper_values, verdict
from mwork.io import write_table
from mwork.paper import read_paper_numbers
from mwork.results_summary import Results, summary_markdown
from mwork.tables import deactivation_table, per_language, row_contrasts, table1

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["deactivation"]["settings"]
LANGS = ["de", "zh", "es"]
N = 200


def _score(model, task, lang, setting, correct):
    return {"model": model, "task": task, "language": lang, "setting": setting,
            "items": {"id": [f"q{i}" for i in range(N)], "score": [100.0 * c for c in correct]},
            "deactivation": {"n_deactivated": {"total": 50}}}


def _scores(task, effects, rng, model="m", churn=0.0):
    """Scores files for the originals and each setting: ``effects[setting] = (English's drop, X's drop)`` in
    the share of items turned wrong (negative: turned right), on top of the same original answers; ``churn``:
    the share of items answered afresh (right as often as before), a change with no direction."""
    base = {lang: rng.random(N) < 0.6 for lang in ["en", *LANGS]}
    out = [_score(model, task, lang, "original", base[lang]) for lang in base]
    for setting, (en_drop, x_drop) in effects.items():
        for x in LANGS:
            for lang, drop in (("en", en_drop), (x, x_drop)):
                flip = rng.random(N) < abs(drop)
                answers = base[lang] & ~flip if drop > 0 else base[lang] | flip
                redo = rng.random(N) < churn
                answers = np.where(redo, rng.random(N) < 0.6, answers)
                out.append(_score(model, task, lang, f"{setting}@{x}", answers))
    return out


def _stage_table(root, number, task, effects, rng, churn=0.0):
    rows = list(effects)
    scores = _scores(task, effects, rng, churn=churn)
    df, md = deactivation_table(scores, {"task": task, "rows": rows}, SETTINGS, number, n_boot=300)
    write_table(df, root / f"table{number}.csv")
    write_table(row_contrasts(scores, {"task": task, "rows": rows}, SETTINGS, n_boot=300),
                root / f"table{number}_contrasts.csv")
    if number == "2":  # and its per-language Table 14
        write_table(per_language(scores, {"task": task, "rows": rows}, n_boot=300), root / "table14.csv")
    (root / f"table{number}.md").write_text(md, encoding="utf-8")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    rng = np.random.default_rng(0)
    # Table 2 as the paper reports it: U_lang hurts X only, S_lang both, G_lang and the random ones a little
    _stage_table(root, "2", "understanding", {"U_random": (0, 0.01), "All_random": (0, 0), "S_lang": (0.4, 0.4),
                                              "G_lang": (0.01, 0.02), "U_lang": (0, 0.4)}, rng)
    # Table 3 against the paper: X's neurons outside the task-solving layers hurt English, not X
    _stage_table(root, "3", "reasoning", {"S_lang": (0.4, 0.4), "UG_lang": (0.4, 0), "notSA_lang": (0.4, 0)}, rng)
    # Table 1: X's whole set hurts X, the random control nothing, English unchanged under both
    scores = _scores("understanding", {"Full_random": (0, 0), "Full_lang": (0, 0.5)}, rng)
    df, _ = table1(scores, {"task": "understanding", "rows": ["Full_random", "Full_lang"]}, SETTINGS, ["m"], n_boot=300)
    write_table(df, root / "table1.csv")
    return root


def _claims(root):
    return "\n".join(claim_lines(Results(root, "results")))


def _line(text, name):
    [line] = [ln for ln in text.splitlines() if ln.startswith(f"* **{name}**")]
    return line


def test_decide_each_direction():
    assert decide("below", -3, -1) == "holds" and decide("below", 1, 3) == "opposite"
    assert decide("below", -1, 1) == "unresolved"
    assert decide("above", 1, 3) == "holds" and decide("above", -3, -1) == "opposite"
    # against another row's interval: they must not overlap
    assert decide("above", 5, 9, 1, 4) == "holds" and decide("above", 3, 9, 1, 4) == "unresolved"
    assert decide("below", -9, -5, -4, 0) == "holds" and decide("below", 1, 2, -4, 0) == "opposite"
    assert verdict(["holds", "holds"]) == "supported" and verdict(["holds", "unresolved"]) == "not resolved"
    assert verdict(["holds", "opposite", "unresolved"]) == "contradicted" and verdict([]) == "not built"
    assert verdict(["holds", "missing"]) == "not built"
    with pytest.raises(ValueError):
        decide("zero", 0, 1)


def test_claims_follow_the_tables(root):
    text = _claims(root)
    # Table 2 as the paper: every check holds, each with its interval and the paper's numbers
    u = _line(text, "Understanding layers")
    assert "m on accuracy: **supported**" in u and u.count(": holds") == 5
    assert "(paper Vicuna -7.9, Mistral -7.4)" in u and "(paper Vicuna +7.4, Mistral +6.5)" in u
    assert "against random neurons in the understanding layers +" in u or "against random neurons in the understanding layers -" in u
    assert "**supported**" in _line(text, "Task-solving layers work in English (understanding)")
    assert "**supported**" in _line(text, "Generation layers barely touch understanding")
    # Table 3 against the paper: said plainly
    r = _line(text, "Reasoning: X's neurons outside the task-solving attention are X's")
    assert "m on accuracy: **contradicted**" in r and "points the other way" in r
    assert "**supported**" in _line(text, "Task-solving layers work in English (reasoning)")
    # a row the table lacks (Table 3 without its random rows): not built, and which row
    rr = _line(text, "Reasoning: random neurons in the task-solving layers hurt more")
    assert "**not built**" in rr and "random neurons in the task-solving layers: Δ_Eng: no such row" in rr
    # a claim on a table that was not built says so, naming the file and the rule
    for name, number in (("Knowledge in the task-solving FFN", 4), ("Generation layers", 5),
                         ("Neurons shared with English are not language-agnostic", 8)):
        assert f"not built: `results/table{number}.csv`" in _line(text, name)
    # Table 1: X's set below its random control; English beside it, not part of the verdict
    t1 = [ln for ln in text.splitlines() if ln.startswith("* **Language-specific neurons exist** (§2.3")]
    assert len(t1) == 1 and "m on accuracy: **supported**" in t1[0]
    assert "Paper (Lang-Spec − Random, mean): Vicuna" in t1[0] and "(not in the paper)" in t1[0]
    assert "the interval contains 0" in t1[0]
    assert "not built: `results/loss_matrix_summary.csv`" in text


def test_an_unresolved_interval_is_not_a_verdict(root):
    rng = np.random.default_rng(1)
    # X's neurons change many answers but not the score: an interval around 0, where a drop is claimed
    _stage_table(root, "2", "understanding", {"U_random": (0, 0), "S_lang": (0.4, 0.4), "G_lang": (0, 0),
                                              "U_lang": (0, 0)}, rng, churn=0.5)
    u = _line(_claims(root), "Understanding layers")
    assert "m on accuracy: **not resolved**" in u and "not resolved" in u.split("**not resolved**")[1]


def test_a_small_effect_against_a_large_one(root):
    """The paper's "a little" is checked against the row it contrasts with, not as a zero: a generation-layer
    effect as small as the paper's holds, one as large as the understanding layers' does not."""
    rng = np.random.default_rng(2)
    _stage_table(root, "2", "understanding", {"U_random": (0, 0), "S_lang": (0.4, 0.4), "G_lang": (0, 0.4),
                                              "U_lang": (0, 0.4)}, rng)
    g = _line(_claims(root), "Generation layers barely touch understanding")
    assert "**not resolved**" in g


# the paper's numbers each check cites, read from report/paper_numbers.csv (Tables 2-5, 8, 9 of the paper)
CITED = {
    "Understanding layers": [{"Vicuna": -7.9, "Mistral": -7.4}, {"Vicuna": 7.4, "Mistral": 6.5},
                             {"Vicuna": 7.4, "Mistral": 6.5}, {"Vicuna": 7.4, "Mistral": 6.5},
                             {"Vicuna": 7.4, "Mistral": 6.5}],
    "Task-solving layers work in English (understanding)": [{"Vicuna": -15.9, "Mistral": -3.9},
                                                            {"Vicuna": -15.3, "Mistral": -8.7}],
    "Generation layers barely touch understanding": [{"Vicuna": -1.1, "Mistral": -1.0}],
    "Task-solving layers work in English (reasoning)": [{"Vicuna": -13.2, "Mistral": -7.8},
                                                        {"Vicuna": -9.8, "Mistral": -7.9}],
    "Reasoning: X's neurons outside the task-solving attention are X's": [
        {"Vicuna": 2.6, "Mistral": 6.2}, {"Vicuna": 4.0, "Mistral": 8.2}, {"Vicuna": -5.4, "Mistral": -8.0},
        {"Vicuna": 4.0, "Mistral": 8.2}],
    "Reasoning: random neurons in the task-solving layers hurt more": [{"Vicuna": -2.0, "Mistral": -6.8}],
    "Knowledge in the task-solving FFN": [{"Vicuna": 1.7, "Mistral": 2.3}, {"Vicuna": -2.0, "Mistral": -2.4},
                                          {"Vicuna": 1.7, "Mistral": 2.3}],
    "Generation layers": [{"Vicuna": 1.1, "Mistral": 1.8}, {"Vicuna": -1.1, "Mistral": -1.5},
                          {"Vicuna": 1.1, "Mistral": 1.8}],
    "Neurons shared with English are not language-agnostic": [{"Mistral": 5.9}, {"Mistral": -6.1}],
    "Neurons shared by every language are not language-agnostic": [{"Mistral": 7.2}, {"Mistral": -7.6}],
}
CITED_VS = {("Understanding layers", 2): {"Vicuna": 0.4, "Mistral": 1.2},
            ("Understanding layers", 3): {"Vicuna": -0.6, "Mistral": 4.8},
            ("Understanding layers", 4): {"Vicuna": 0.7, "Mistral": 0.3},
            ("Generation layers barely touch understanding", 0): {"Vicuna": -7.9, "Mistral": -7.4},
            ("Reasoning: X's neurons outside the task-solving attention are X's", 3): {"Vicuna": 2.6, "Mistral": 6.2},
            ("Reasoning: random neurons in the task-solving layers hurt more", 0): {"Vicuna": -0.8, "Mistral": -0.8},
            ("Knowledge in the task-solving FFN", 2): {"Vicuna": -14.9, "Mistral": -1.5},
            ("Generation layers", 2): {"Vicuna": 0.0, "Mistral": 0.0}}


def test_every_check_cites_the_paper_cell_it_stands_for():
    """Each check's row is found in the paper by its stage marks (or, Tables 8-9, its label); the paper's
    numbers agree with the claimed direction (a wrong stage tuple would cite another row's numbers)."""
    paper = read_paper_numbers(str(PAPER_NUMBERS))
    assert {c.name for c in CLAIMS} == set(CITED)
    for claim in CLAIMS:
        for i, check in enumerate(claim.checks):
            got = paper_values(paper, claim.table, check.row, check.column)
            assert got == CITED[claim.name][i], (claim.name, i)
            if check.vs is not None:
                vs = paper_values(paper, claim.table, check.vs, check.column)
                assert vs == CITED_VS[(claim.name, i)], (claim.name, i)
                assert all((got[m] > vs[m]) == (check.want == "above") for m in got), (claim.name, i)
            else:
                assert all((got[m] > 0) == (check.want == "above") for m in got), (claim.name, i)
    assert paper_values(paper, "2", Row((True, False, False, False), "random"), "delta") == \
        {"Vicuna": 0.4, "Mistral": 1.2}


def test_the_summary_block_carries_the_claims(root):
    block = summary_markdown(root, models=[], label="results")
    i = block.index("**The paper's claims, decided**")
    assert i < block.index("**Understanding layers**") and "not built: `results/table4.csv`" in block


def test_interval_widths_are_reported_per_language_and_pooled(root):
    import pandas as pd

    text = _claims(root)
    block = text[text.index("**How wide the intervals are**"):]
    t14 = pd.read_csv(root / "table14.csv")
    half = (t14["delta_lang_hi"] - t14["delta_lang_lo"]) / 2
    widest = t14.loc[half.idxmax()]
    assert f"* Table 14, m, per language: X's change ±{half.max():.1f} ({widest['setting']}, {widest['language']})" in block
    t2 = pd.read_csv(root / "table2.csv")
    assert f"Δ_n-Eng ±{((t2['delta_n_eng_hi'] - t2['delta_n_eng_lo']) / 2).max():.1f}" in block
    assert "* Table 1, m, per language: ±" in block and "* Table 3, m, pooled" in block


def test_row_comparisons_use_the_paired_difference_where_the_files_have_it(root):
    u = _line(_claims(root), "Understanding layers")
    assert u.count("(paired)") == 3 and "intervals compared" not in u
    (root / "table2_contrasts.csv").unlink()
    u = _line(_claims(root), "Understanding layers")
    assert "(paired)" not in u and u.count("intervals compared (no paired difference in the files)") == 3


def test_the_answers_language_follows_the_claims(root, tmp_path):
    """Where a free-text table has its answer-language companion, the claims block gives each row's pooled
    shift of X's answers out of X, beside English's answers in English."""
    import json

    from mwork.answer_language import answer_language_table

    de = "Zuerst berechnen wir, wie viele Stunden die Kerze brennt, und dann multiplizieren wir die Stunden mit zwei."
    en = "First we find how many hours the candle burns, then we multiply the hours by two centimetres each hour."
    files = []
    for lang, setting, texts in (("en", "original", [en] * 8), ("de", "original", [de] * 8),
                                 ("de", "S_lang@de", [en] * 6 + [de] * 2), ("en", "S_lang@de", [en] * 8)):
        path = tmp_path / "eval" / "m" / "reasoning" / lang / f"{setting}.predictions.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"id": i, "prediction": t}) + "\n" for i, t in enumerate(texts)),
                        encoding="utf-8")
        files.append(str(path))
    assert "language of the answers" not in _claims(root)  # only where built
    df, _ = answer_language_table(files, {"task": "reasoning", "rows": ["S_lang"]}, ["m"], n_boot=200)
    write_table(df, root / "table3_answer_language.csv")
    line = _line(_claims(root), "The language of the answers")
    assert "(`results/table3_answer_language.csv`): S_lang (m): X in X 100.0 → 25.0% [" in line
    assert "X in English 0.0 → 75.0%" in line and "English in English 100.0 → 100.0%" in line
