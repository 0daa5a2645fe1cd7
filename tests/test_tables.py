"""The deactivation tables' arithmetic, their paired bootstrap CIs, random draws and Table 1's controls."""
import numpy as np
import pytest

from mwork.errors import MworkError
from mwork.stats import Bootstrap, ci
from mwork.tables import deactivation_table, per_language, table1

SETTINGS = {"S_random": {"s_attn": True, "s_ffn": True, "neurons": "random"},
            "S_lang": {"s_attn": True, "s_ffn": True, "neurons": "lang"}}


def record(task, lang, setting, values, **extra):
    n = len(values)
    items = {"id": [f"q{i}" for i in range(n)], "score": list(map(float, values)), **extra}
    return {"model": "m", "task": task, "language": lang, "setting": setting, "score": float(np.mean(values)),
            "deactivation": None if setting == "original" else {"n_deactivated": {"total": 40}}, "items": items}


def right(n, k, seed):  # n items, k of them right (100), in a seeded order
    v = np.array([100.0] * k + [0.0] * (n - k))
    np.random.default_rng(seed).shuffle(v)
    return v


@pytest.fixture
def scores():
    n = 40
    en0, de0, zh0 = right(n, 30, 1), right(n, 20, 2), right(n, 24, 3)
    out = [record("reasoning", "en", "original", en0), record("reasoning", "de", "original", de0),
           record("reasoning", "zh", "original", zh0)]
    # S_lang: English untouched (identical items), X loses everything
    for x in ("de", "zh"):
        out += [record("reasoning", "en", f"S_lang@{x}", en0), record("reasoning", x, f"S_lang@{x}", np.zeros(n))]
    # S_random, three draws: X loses 1, 2, 3 right answers
    for r, name in enumerate(["S_random", "S_random~1", "S_random~2"]):
        for x, x0 in (("de", de0), ("zh", zh0)):
            xd = x0.copy()
            xd[np.flatnonzero(x0)[: r + 1]] = 0
            out += [record("reasoning", "en", f"{name}@{x}", en0), record("reasoning", x, f"{name}@{x}", xd)]
    return out


def test_deltas_paired_cis_and_draws(scores):
    table = {"task": "reasoning", "rows": ["S_random", "S_lang"]}
    df, md = deactivation_table(scores, table, SETTINGS, "3")
    rnd, lang = df.set_index("setting").loc["S_random"], df.set_index("setting").loc["S_lang"]
    assert lang["delta_n_eng"] == pytest.approx(-(50 + 60) / 2) and lang["delta_eng"] == 0
    # paired: English scored the same items identically, so every resample's change is exactly 0
    assert lang["delta_eng_lo"] == lang["delta_eng_hi"] == 0
    assert lang["delta_n_eng_lo"] < lang["delta_n_eng"] < lang["delta_n_eng_hi"] < 0
    assert lang["delta"] == pytest.approx(lang["delta_eng"] - lang["delta_n_eng"])
    # the random row is the mean over its three draws (2.5, 5, 7.5 points lost), their spread reported
    assert rnd["n_draws"] == 3 and rnd["delta_n_eng"] == pytest.approx(-5.0)
    assert rnd["delta_draw_sd"] == pytest.approx(2.5)
    assert rnd["n_deactivated"] == lang["n_deactivated"] == 40
    assert "Δ sd (draws)" in md and "2.5 (3)" in md and "±" in md
    per = per_language(scores, table)
    assert set(per["language"]) == {"de", "zh"} and (per["delta_en_lo"] <= per["delta_en"]).all()


def test_row_contrasts_are_paired_differences(scores):
    """Every ordered pair of rows, per column: the difference of the rows' values, with the interval of the
    paired difference (the same resamples): English scored identically under both rows differs by exactly 0
    in every resample, and the difference lies inside the interval."""
    from mwork.tables import row_contrasts

    table = {"task": "reasoning", "rows": ["S_random", "S_lang"]}
    df, _ = deactivation_table(scores, table, SETTINGS, "3")
    c = row_contrasts(scores, table, SETTINGS)
    assert len(c) == 2 * 5 and set(c["column"]) == {"eng", "n_eng", "delta_eng", "delta_n_eng", "delta"}
    rows = df.set_index("setting")
    for _, r in c.iterrows():
        assert r["diff"] == pytest.approx(rows.loc[r["setting"], r["column"]] - rows.loc[r["vs"], r["column"]])
        assert r["diff_lo"] <= r["diff"] <= r["diff_hi"]
    eng = c[(c["setting"] == "S_lang") & (c["column"] == "delta_eng")].iloc[0]
    assert eng["diff_lo"] == eng["diff_hi"] == 0
    n_eng = c[(c["setting"] == "S_lang") & (c["column"] == "delta_n_eng")].iloc[0]
    # narrower than what the two rows' own intervals would allow by overlap
    lang, rnd = rows.loc["S_lang"], rows.loc["S_random"]
    assert n_eng["diff_hi"] - n_eng["diff_lo"] < (lang["delta_n_eng_hi"] - lang["delta_n_eng_lo"]) + \
        (rnd["delta_n_eng_hi"] - rnd["delta_n_eng_lo"])


def test_unpaired_items_are_refused(scores):
    bad = [dict(s) for s in scores]
    for s in bad:
        if s["setting"] == "S_lang@de" and s["language"] == "de":
            s["items"] = {"id": [f"other{i}" for i in range(40)], "score": [0.0] * 40}
    with pytest.raises(MworkError, match="paired comparisons need the same items"):
        deactivation_table(bad, {"task": "reasoning", "rows": ["S_lang"]}, SETTINGS, "3")


def test_scores_without_items_say_what_to_do(scores):
    old = [{k: v for k, v in s.items() if k != "items"} for s in scores]
    with pytest.raises(MworkError, match="no per-item 'score' values .* rerun rule evaluate"):
        deactivation_table(old, {"task": "reasoning", "rows": ["S_lang"]}, SETTINGS, "3")


def test_table1_english_control_and_rouge_both_ways():
    n = 20
    rng = np.random.default_rng(0)
    scores = []
    for lang in ("en", "de", "zh"):
        base = rng.uniform(20, 60, n)
        scores.append(record("generation", lang, "original", base, rougeL_ascii=list(base / 2)))
        for name in ("S_random", "S_lang"):
            for x in ("de", "zh"):
                if lang not in ("en", x):
                    continue
                hurt = base * (0.1 if name == "S_lang" and lang == x else 0.95)
                scores.append(record("generation", lang, f"{name}@{x}", hurt, rougeL_ascii=list(hurt / 2)))
    table = {"task": "generation", "rows": ["S_random", "S_lang"]}
    df, md = table1(scores, table, SETTINGS, ["m"])
    assert list(df["Method"])[:6] == ["Original", "Deactivate Random", "Deactivate Lang-Spec", "En: Original",
                                      "En: Deactivate Random", "En: Deactivate Lang-Spec"]
    assert set(df["Metric"]) == {"rougeL", "rougeL_ascii", "count"}
    rl = df[df["Metric"] == "rougeL"].set_index("Method")
    asc = df[df["Metric"] == "rougeL_ascii"].set_index("Method")
    assert asc.loc["Original", "De"] == pytest.approx(rl.loc["Original", "De"] / 2)
    assert rl.loc["Deactivate Lang-Spec", "Avg."] < 0.2 * rl.loc["Original", "Avg."]
    assert rl.loc["En: Deactivate Lang-Spec", "De"] == pytest.approx(0.95 * rl.loc["En: Original", "De"])
    assert rl.loc["Original", "De_lo"] < rl.loc["Original", "De"] < rl.loc["Original", "De_hi"]
    d = rl.loc["Δ Lang-Spec − Random"]
    assert d["De"] == pytest.approx(rl.loc["Deactivate Lang-Spec", "De"] - rl.loc["Deactivate Random", "De"])
    assert d["De_hi"] < 0 and d["De_lo"] <= d["De"] <= d["De_hi"]  # paired: the same items resampled together
    assert rl.loc["Δ Lang-Spec − Original", "Avg."] == pytest.approx(
        rl.loc["Deactivate Lang-Spec", "Avg."] - rl.loc["Original", "Avg."])
    assert "rouge-score's default (ASCII-only) tokenizer" in md and "En: Deactivate Lang-Spec" in md
    assert df.set_index("Method").loc["# neurons deactivated", "De"] == 40 and "Neurons deactivated (m, " in md
    t5, md5 = deactivation_table(scores, table, SETTINGS, "5")
    assert list(t5["metric"]) == ["rougeL", "rougeL", "rougeL_ascii", "rougeL_ascii"]
    assert md5.count("Table 5 (reproduced)") == 2


def test_bootstrap_percentile_interval_covers_the_mean():
    boot = Bootstrap(2000, seed=1)
    values = {i: float(v) for i, v in enumerate(right(100, 50, 4))}
    lo, hi = ci(boot.means(("m", "t", "en"), values))
    assert 38 < lo < 50 < hi < 62  # binomial: about ±10 points for 100 items at 50%
    again = Bootstrap(2000, seed=1).means(("m", "t", "en"), values)
    assert np.array_equal(again, boot.means(("m", "t", "en"), values))  # seeded, and the same draw per group
