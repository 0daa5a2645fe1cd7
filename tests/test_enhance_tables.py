"""Figure 4 and Table 6 from tuned models' scores: changes paired on items, averaged over draws, tasks and
languages."""
import numpy as np
import pytest

from mwork.enhance_tables import figure4_table, table6
from mwork.names import Variant


def _score(model, tuning, task, lang, values):
    ids = [f"{task}-{lang}-{i}" for i in range(len(values))]
    return (model, tuning, task, lang), {"task": task, "language": lang, "score": float(np.mean(values)),
                                         "items": {"id": ids, "score": [float(v) for v in values]}}


def _items(n_right, n=10):
    return [100.0] * n_right + [0.0] * (n - n_right)


GRIDS = {"de": [Variant("lang", 100), Variant("lang", 400), Variant("random", 400, 0), Variant("random", 400, 1),
                Variant("lora", 400)],
         "fr": [Variant("lang", 100), Variant("random", 400, 0)]}


def _scores():
    right = {  # (tuning, task, language) -> items right of 10
        ("original", "reasoning", "de"): 4, ("original", "reasoning", "fr"): 5, ("original", "reasoning", "en"): 6,
        ("original", "knowledge", "de"): 2, ("original", "knowledge", "en"): 3,
        ("de/lang-100", "reasoning", "de"): 6, ("de/lang-100", "reasoning", "en"): 6,
        ("fr/lang-100", "reasoning", "fr"): 6, ("fr/lang-100", "reasoning", "en"): 7,
        ("de/lang-400", "reasoning", "de"): 4, ("de/lang-400", "knowledge", "de"): 5,
        ("de/lang-400", "reasoning", "en"): 6, ("de/lang-400", "knowledge", "en"): 3,
        ("de/random-400-s0", "reasoning", "de"): 4, ("de/random-400-s1", "reasoning", "de"): 6,
        ("de/random-400-s0", "knowledge", "de"): 2, ("de/random-400-s1", "knowledge", "de"): 2,
        ("de/lora-400", "reasoning", "de"): 5, ("de/lora-400", "knowledge", "de"): 2,
    }
    return dict(_score("m", t, task, lang, _items(n)) for (t, task, lang), n in right.items())


def test_figure4_averages_paired_changes_over_languages_and_draws():
    df = figure4_table(_scores(), ["m"], ["de", "fr"], ["reasoning"], GRIDS, n_boot=200)
    avg = df[(df["language"] == "avg") & (df["task"] == "reasoning")].set_index("tuning")
    # 100 documents: de 40 -> 60, fr 50 -> 60: mean +15; English +0 (de) and +10 (fr): +5
    assert avg.loc["100", "change"] == pytest.approx(15) and avg.loc["100", "n_languages"] == 2
    assert avg.loc["100", "en_change"] == pytest.approx(5)
    # 400: only de has it (fr's grid lacks it) -- the mean is over the languages that have the size
    assert avg.loc["400", "change"] == pytest.approx(0) and avg.loc["400", "languages"] == "de"
    # an unchanged score has a zero-width paired interval
    assert avg.loc["400", "change_lo"] == avg.loc["400", "change_hi"] == 0
    # Random: de's draws (+0, +20) averaged first, fr has no evaluation of its draw: +10 over one language
    assert avg.loc["Random", "change"] == pytest.approx(10) and avg.loc["Random", "n_draws"] == 2
    assert avg.loc["LoRA", "change"] == pytest.approx(10)
    row = avg.loc["100"]
    assert row["change_lo"] < row["change"] < row["change_hi"]


def test_figure4_all_tasks_and_the_other_languages():
    scores = _scores()
    scores.update(dict([_score("m", "de/lang-400", "reasoning", "fr", _items(3))]))  # fr under de's tuning: -20
    df = figure4_table(scores, ["m"], ["de"], ["reasoning", "knowledge"], GRIDS, n_boot=200)
    allrow = df[(df["task"] == "all") & (df["language"] == "avg")].set_index("tuning")
    # 400: de reasoning +0, knowledge +30: +15 over the tasks; English +0 and +0; the others -20 (reasoning only)
    assert allrow.loc["400", "change"] == pytest.approx(15) and allrow.loc["400", "n_tasks"] == 2
    assert allrow.loc["400", "en_change"] == pytest.approx(0)
    assert allrow.loc["400", "others_change"] == pytest.approx(-20)


def test_table6_averages_tasks_and_marks_untuned_languages():
    df, md = table6(_scores(), ["m"], ["de", "fr"], ["de"], ["reasoning", "knowledge"], GRIDS, 400,
                    {"fr": 3}, n_boot=200)
    cell = df.set_index(["method", "language"])
    # Original de: (40 + 20) / 2; Lang-Spec 400: (40 + 50) / 2 = 45, +15
    assert cell.loc[("Original", "de"), "score"] == pytest.approx(30)
    assert cell.loc[("Lang-Spec", "de"), "score"] == pytest.approx(45)
    assert cell.loc[("Lang-Spec", "de"), "change"] == pytest.approx(15)
    # Random: draws averaged per task (reasoning 50, knowledge 20) then over tasks: 35, +5
    assert cell.loc[("Random", "de"), "score"] == pytest.approx(35) and cell.loc[("Random", "de"), "n_draws"] == 2
    # English: the original's mean over tasks (45), and under de's Lang-Spec model (45): +0
    assert cell.loc[("Original", "en"), "score"] == pytest.approx(45)
    assert cell.loc[("Lang-Spec", "en"), "change"] == pytest.approx(0)
    # fr is not tuned: its original only, marked with its documents
    assert ("Original", "fr") in cell.index and ("Lang-Spec", "fr") not in cell.index
    assert "Fr (3 training documents in the enhancement corpus, 400 needed)" in md
    assert "| Lang-Spec | 45.0" in md and "(+0.0" in md
