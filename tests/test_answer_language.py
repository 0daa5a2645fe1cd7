"""The language of the stored answers under a deactivation table's rows (mwork/answer_language.py)."""
import json

import pytest

from mwork.answer_language import UNDETERMINED, AnswerLanguage, answer_language_table, evaluation_of
from mwork.errors import MworkError

TEXT = {
    "en": "First we find how many hours the candle burns, then we multiply the hours by two centimetres each hour.",
    "de": "Zuerst berechnen wir, wie viele Stunden die Kerze brennt, und dann multiplizieren wir die Stunden mit zwei.",
    "fr": "Nous calculons d'abord combien d'heures la bougie brûle, puis nous multiplions les heures par deux.",
}


def test_cld3_names_whole_answers_and_leaves_formulas_undetermined():
    identify = AnswerLanguage()
    assert {lang: identify(text) for lang, text in TEXT.items()} == {"en": "en", "de": "de", "fr": "fr"}
    assert identify("首先我们计算蜡烛燃烧了多少小时，然后把小时数乘以每小时两厘米，就得到答案。") == "zh"
    assert identify("17 - 13 = 4, 4 * 2 = 8") == UNDETERMINED and identify("") == UNDETERMINED


def _write(root, lang, setting, answers):
    path = root / "eval" / "m" / "reasoning" / lang / f"{setting}.predictions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": "p", "prediction": a}) + "\n"
                            for i, a in enumerate(answers)), encoding="utf-8")
    return str(path)


def test_shares_of_answers_per_language_paired_over_items(tmp_path):
    n = 20
    files = [_write(tmp_path, "en", "original", [TEXT["en"]] * n),
             _write(tmp_path, "de", "original", [TEXT["de"]] * n),
             _write(tmp_path, "fr", "original", [TEXT["fr"]] * n),
             # German's neurons off: half of German's answers come out in English, English's stay English
             _write(tmp_path, "de", "S_lang@de", [TEXT["en"]] * (n // 2) + [TEXT["de"]] * (n // 2)),
             _write(tmp_path, "en", "S_lang@de", [TEXT["en"]] * n),
             # French's: a quarter of French's answers come out in German (a third language)
             _write(tmp_path, "fr", "S_lang@fr", [TEXT["de"]] * (n // 4) + [TEXT["fr"]] * (n - n // 4)),
             _write(tmp_path, "en", "S_lang@fr", [TEXT["en"]] * n)]
    assert evaluation_of(files[3])[:3] == ("m", "reasoning", "de") and str(evaluation_of(files[3])[3]) == "S_lang@de"
    df, md = answer_language_table(files, {"task": "reasoning", "rows": ["S_lang"]}, ["m"])
    rows = df.set_index("language")
    assert list(rows.index) == ["de", "fr", "mean"]
    de, fr, mean = rows.loc["de"], rows.loc["fr"], rows.loc["mean"]
    assert (de["x_in_x_original"], de["x_in_x"], de["x_in_en"]) == (100.0, 50.0, 50.0)
    assert de["x_in_x_change_hi"] < 0 < de["x_in_en_change_lo"]  # the interval excludes no change
    assert (fr["x_in_x_change"], fr["x_in_other"], fr["x_in_en"], fr["en_in_en_change"]) == (-25.0, 25.0, 0.0, 0.0)
    assert de["en_in_en"] == 100.0 and de["x_in_other"] == 0.0
    assert mean["x_in_x_change"] == -37.5 and mean["x_in_en_change"] == 25.0 and mean["x_in_other_change"] == 12.5
    assert "| m | S_lang | de | 100.0 → 50.0 (-50.0 ±" in md and "| m | S_lang | Avg. |" in md


def test_missing_or_mismatched_answers_are_clear_errors(tmp_path):
    base = [_write(tmp_path, "en", "original", [TEXT["en"]] * 4), _write(tmp_path, "de", "original", [TEXT["de"]] * 4)]
    table = {"task": "reasoning", "rows": ["S_lang"]}
    with pytest.raises(MworkError, match=r"m/reasoning/en: the predictions of original or S_lang@de are missing"):
        answer_language_table(base + [_write(tmp_path, "de", "S_lang@de", [TEXT["de"]] * 4)], table, ["m"])
    short = _write(tmp_path, "en", "S_lang@de", [TEXT["en"]] * 3)
    with pytest.raises(MworkError, match="answered other items than original"):
        answer_language_table(base + [short, str(tmp_path / "eval/m/reasoning/de/S_lang@de.predictions.jsonl")],
                              table, ["m"])
    bad = tmp_path / "eval" / "m" / "reasoning" / "de" / "S_lang@de.predictions.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(MworkError, match=r"S_lang@de.predictions.jsonl, line 1: not a predictions record"):
        answer_language_table(base + [str(bad)], table, ["m"])
