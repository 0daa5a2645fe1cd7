"""The paper's numbers as data (report/paper_numbers.csv) and the cell-by-cell comparison with ours."""
import csv
from pathlib import Path

import pandas as pd
import pytest

from mwork.config import load_config
from mwork.paper import COLUMNS, compare, comparison_markdown, extract, match_setting, read_paper_numbers

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT.parent / "shared" / "paper" / "paper.md"


@pytest.mark.skipif(not PAPER.exists(), reason=f"the paper's text is not at {PAPER}")
def test_committed_numbers_are_the_papers():
    rows = extract(PAPER.read_text(encoding="utf-8"))
    with open(ROOT / "report" / "paper_numbers.csv", encoding="utf-8", newline="") as f:
        committed = list(csv.DictReader(f))
    assert [{k: str(r[k]) if r[k] is not None else "" for k in COLUMNS} for r in rows] == committed
    assert len(rows) == 305


def test_paper_rows_match_our_settings_by_what_they_deactivate():
    settings = load_config(str(ROOT / "config.yaml"))["deactivation"]["settings"]
    paper = read_paper_numbers(str(ROOT / "report" / "paper_numbers.csv"))
    t3 = {r["row"]: match_setting(r, settings) for r in paper if r["table"] == "3"}
    assert t3 == {"✓ ✗ ✓ ✓ Random": "SA_random", "✓ ✗ ✗ ✓ Random": "S_random", "✗ ✗ ✗ ✗ Random": "All_random",
                  "✓ ✗ ✗ ✓ Lang-Spec": "S_lang", "✗ ✓ ✓ ✗ Lang-Spec": "UG_lang", "✗ ✓ ✗ ✗ Lang-Spec": "notSA_lang"}
    mistral4 = [r for r in paper if r["table"] == "4" and r["row"] == "✓ ✓ ✗ ✓ Random" and r["column"] == "Eng"]
    assert [(r["model"], r["value"]) for r in mistral4] == [("Vicuna", 57.5), ("Mistral", 61.0)]  # the label fix
    t2 = {r["row"]: match_setting(r, settings) for r in paper if r["table"] == "2"}
    assert t2["✗ ✓ ✓ ✓ Lang-Spec"] == "U_lang" and t2["✓ ✓ ✓ ✗ Lang-Spec"] == "G_lang"
    # a value of the paper, then ours beside it, from a table as our rule writes it
    ours = pd.DataFrame([{"model": "organism", "setting": "S_lang", "metric": "accuracy", "eng": 10.0, "eng_lo": 8.0,
                          "eng_hi": 12.0, "n_eng": 5.0, "n_eng_lo": 4.0, "n_eng_hi": 6.0, "delta_eng": -3.0,
                          "delta_eng_lo": -4.0, "delta_eng_hi": -2.0, "delta_n_eng": -9.0, "delta_n_eng_lo": -10.0,
                          "delta_n_eng_hi": -8.0, "delta": 6.0, "delta_lo": 5.0, "delta_hi": 7.0}])
    rows = compare(paper, {"3": ours}, settings, {})
    hit = [r for r in rows if r["paper_model"] == "Mistral" and r["row"] == "✓ ✗ ✗ ✓ Lang-Spec" and r["column"] == "Δ"]
    assert hit and hit[0]["paper"] == 0.1 and hit[0]["ours"] == 6.0 and hit[0]["ours_row"] == "S_lang"
    assert not hit[0]["same_model"]
    md = comparison_markdown(rows)
    assert "ours = organism (a different model from the paper's)" in md and "6.0 ±1.0" in md


def test_xlsum_cells_are_compared_both_ways():
    paper = [r for r in read_paper_numbers(str(ROOT / "report" / "paper_numbers.csv")) if r["table"] == "1"]
    ours = pd.DataFrame([{"Model": "m", "Metric": "rougeL", "Method": "Original", "Zh": 30.0, "Zh_lo": 28.0, "Zh_hi": 32.0},
                         {"Model": "m", "Metric": "rougeL_ascii", "Method": "Original", "Zh": 0.5, "Zh_lo": 0.1,
                          "Zh_hi": 0.9}])
    rows = [r for r in compare(paper, {"1": ours}, {}, {}) if r["column"] == "Zh" and r["row"] == "Original"]
    assert rows and all(r["ours"] == 30.0 and r["ours_rougeL_ascii"] == 0.5 for r in rows)
    assert "Ours, ASCII ROUGE-L" in comparison_markdown(rows)
