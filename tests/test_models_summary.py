"""results/models_summary: every model's row read from the files the rules write (written here in their
formats), missing steps left empty."""
import json

import pandas as pd

from mwork.models_summary import models_summary


def _files(tmp_path):
    for model, share in (("big", 0.0013), ("control", 0.002)):
        (tmp_path / model).mkdir()
        pd.DataFrame({"language": ["en", "de"], "total": [100, 120], "share": [share, share * 1.2],
                      "shared_by_all": [5, 5], "shared_by_all_share": [0.05, 5 / 120], "method": "selective",
                      "n_docs": 64}).to_csv(tmp_path / model / "summary.csv", index=False)
    (tmp_path / "big" / "lens_stages.json").write_text(json.dumps({"under": 3, "gen": 4, "layers": 24}))
    known = pd.DataFrame([{"model": "big", "language": lang, "layer": layer, "n_items": 40, "p_lang": 0.1,
                           "p_en": 0.3, "diff": 0.2, "diff_lo": 0.1 if layer in (5, 6, 9) and lang == "de" else -0.1,
                           "diff_hi": 0.3, "english_dominant": layer in (5, 6) and lang == "de"}
                          for lang in ("en", "de") for layer in range(1, 11)])
    known.to_csv(tmp_path / "known.csv", index=False)
    loss = pd.DataFrame([{"model": "big", "neurons": n, "diagonal": d, "diagonal_lo": d - 0.1, "diagonal_hi": d + 0.1,
                          "off_diagonal": 0.2, "off_diagonal_lo": 0.1, "off_diagonal_hi": 0.3, "n_neurons": 150}
                         for n, d in (("threshold_share", 2.0), ("lang", 1.5), ("lang_random", 0.05))])
    loss.to_csv(tmp_path / "loss.csv", index=False)


def test_each_models_row_comes_from_its_files(tmp_path):
    _files(tmp_path)
    df, md = models_summary(["big", "control"], {m: tmp_path / m / "summary.csv" for m in ("big", "control")},
                            {"big": tmp_path / "big" / "lens_stages.json"}, known=tmp_path / "known.csv",
                            loss=tmp_path / "loss.csv", notes={"control": "English only"}, method="selective")
    big, control = df.set_index("model").loc["big"], df.set_index("model").loc["control"]
    assert abs(big["set_share_mean"] - 0.0013 * 1.1) < 1e-12 and big["under"] == 3 and big["gen"] == 4
    assert big["english_ahead_layers"] == 3 and big["english_dominant_layers"] == 2
    assert big["english_dominant_by_language"] == "de 5-6"
    assert big["loss_sets"] == "lang" and big["diagonal"] == 1.5 and big["random_diagonal"] == 0.05
    assert pd.isna(control["diagonal"]) and pd.isna(control["under"]) and control["note"] == "English only"
    assert "| control | English only |" in md and "1.50 ±0.10" in md and "0.05 ±0.10" in md
    assert "(lang, selection selective)" in md
    # without the chosen variant, the model's first non-random one
    df, _ = models_summary(["big"], {"big": tmp_path / "big" / "summary.csv"}, {}, loss=tmp_path / "loss.csv",
                           loss_variant="absent")
    assert df.loc[0, "loss_sets"] == "threshold_share" and df.loc[0, "diagonal"] == 2.0


def test_the_loss_matrix_on_xquad_is_a_column_of_its_own(tmp_path):
    _files(tmp_path)
    loss = pd.read_csv(tmp_path / "loss.csv")
    loss["diagonal"] = loss["diagonal"] / 2  # the second domain's numbers
    loss.to_csv(tmp_path / "loss_xquad.csv", index=False)
    summaries = {m: tmp_path / m / "summary.csv" for m in ("big", "control")}
    df, md = models_summary(["big", "control"], summaries, {}, loss=tmp_path / "loss.csv",
                            loss_xquad=tmp_path / "loss_xquad.csv")
    big = df.set_index("model").loc["big"]
    assert big["diagonal"] == 1.5 and big["xquad_diagonal"] == 0.75 and big["xquad_random_diagonal"] == 0.025
    assert "Loss Δ on XQuAD, diagonal / off-diagonal / random" in md and "0.75 ±0.10 / 0.20 ±0.10 / 0.03" in md
    assert "Loss Δ on XQuAD" not in models_summary(["big"], {"big": summaries["big"]}, {}, loss=tmp_path / "loss.csv")[1]
