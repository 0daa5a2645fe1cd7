"""mwork.claims: each claim of the paper decided on tables the project's own writers make from scores files
built here, with a known effect (or none) in each setting."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from mwork.claims import CLAIMS, Check, claim_lines, decide, paper_values, verdict
from mwork.io import write_table
from mwork.paper import read_paper_numbers
from mwork.results_summary import Results, summary_markdown
from mwork.tables import deactivation_table, table1

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
    df, md = deactivation_table(_scores(task, effects, rng, churn=churn), {"task": task, "rows": rows}, SETTINGS,
                                number, n_boot=300)
    write_table(df, root / f"table{number}.csv")
    (root / f"table{number}.md").write_text(md, encoding="utf-8")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    rng = np.random.default_rng(0)
    # Table 2 as the paper reports it: U_lang hurts X only, S_lang both, G_lang and the random ones nothing
    _stage_table(root, "2", "understanding", {"U_random": (0, 0), "All_random": (0, 0), "S_lang": (0.4, 0.4),
                                              "G_lang": (0, 0), "U_lang": (0, 0.4)}, rng)
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
    assert decide("zero", -1, 1) == "holds" and decide("zero", 0.5, 2) == "opposite"
    assert verdict(["holds", "holds"]) == "supported" and verdict(["holds", "unresolved"]) == "not resolved"
    assert verdict(["holds", "opposite", "unresolved"]) == "contradicted" and verdict([]) == "not built"
    with pytest.raises(ValueError):
        decide("up", 0, 1)


def test_claims_follow_the_tables(root):
    text = _claims(root)
    # Table 2 as the paper: every check holds, each with its interval and the paper's numbers
    u = _line(text, "Understanding layers")
    assert "m: **supported**" in u and u.count(": holds") == 4
    assert "paper Vicuna -7.9, Mistral -7.4" in u and "paper Vicuna +7.4, Mistral +6.5" in u
    # Table 3 against the paper: said plainly
    r = _line(text, "Reasoning outside the task-solving layers is X's")
    assert "m: **contradicted**" in r and "points the other way" in r
    # the task-solving claim holds in Tables 2 and 3 alike (both drop)
    assert "m: **supported**" in _line(text, "Task-solving layers work in English")
    # a claim on a table that was not built says so, naming the file
    assert "not built (`results/table4.csv`)" in _line(text, "Knowledge in the task-solving FFN")
    o = _line(text, "Overlapping neurons are not language-agnostic")
    assert "`results/table8.csv`" in o and "`results/table9.csv`" in o and "not built" in o
    # Generation: Table 2's rows built, Table 5's not: decided on what there is, and the rest named
    g = _line(text, "Generation layers")
    assert "m: **supported on the rows built (none in Table 5)**" in g
    # Table 1: X's set below its random control, English unchanged
    t1 = [ln for ln in text.splitlines() if ln.startswith("* **Language-specific neurons exist** (§2.3")]
    assert len(t1) == 1 and "m on accuracy: **supported**" in t1[0] and "Paper (Lang-Spec − Random, mean): Vicuna" in t1[0]
    assert "loss matrix" in text and "not built: `results/loss_matrix_summary.csv`" in text


def test_an_unresolved_interval_is_not_a_verdict(root, tmp_path):
    rng = np.random.default_rng(1)
    # X's neurons change many answers but not the score: an interval around 0, where a drop is claimed
    _stage_table(root, "2", "understanding", {"U_random": (0, 0), "U_lang": (0, 0)}, rng, churn=0.5)
    assert "m: **not resolved**" in _line(_claims(root), "Understanding layers")


def test_every_check_names_a_row_the_paper_reports():
    paper = read_paper_numbers(str(ROOT / "report" / "paper_numbers.csv"))
    for claim in CLAIMS:
        for check in claim.checks:
            assert paper_values(paper, check), (claim.name, check)
    assert paper_values(paper, Check("2", (True, False, False, False), "lang", "delta", "above")) == \
        {"Vicuna": 7.4, "Mistral": 6.5}


def test_the_summary_block_carries_the_claims(root):
    block = summary_markdown(root, models=[], label="results")
    assert "**The paper's claims, decided**" in block and "**Understanding layers**" in block
