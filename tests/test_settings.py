"""The grammar of evaluation settings (mwork.settings): one place, torch-free, used by the DAG and the tables."""
import pytest

from mwork.errors import MworkError
from mwork.settings import parse_setting, setting_spec, setting_stages, split_setting, stage_layers, tuning

SETTINGS = {"S_lang": {"s_attn": True, "s_ffn": True, "neurons": "lang"}}
LANGS = ["en", "de"]


def test_names_parse_into_setting_and_language():
    assert parse_setting("original", SETTINGS, LANGS) == (None, None)
    assert parse_setting("S_lang@de", SETTINGS, LANGS) == ("S_lang", "de")
    assert parse_setting("tuneU3@de", SETTINGS, LANGS) == ("tuneU3", "de")
    assert split_setting("anything@xx") == ("anything", "xx")


@pytest.mark.parametrize("bad", ["S_lang@fr", "nosuch@de", "S_lang", "tuneG0@de", "tuneU03@de", "tuneX2@de"])
def test_unknown_names_languages_and_empty_tuning_are_refused(bad):
    with pytest.raises(MworkError, match="evaluation setting"):
        parse_setting(bad, SETTINGS, LANGS)


def test_tuning_names_deactivate_their_first_or_last_layers():
    assert tuning("tuneU3") == ("under", 3) and tuning("tuneG12") == ("gen", 12) and tuning("S_lang") is None
    assert setting_spec("tuneG2", SETTINGS) == {"gen": True, "neurons": "lang"}
    assert setting_spec("S_lang", SETTINGS) is SETTINGS["S_lang"]
    assert setting_stages("tuneU2", 6, "ignored") == stage_layers(6, 2, 0)
    assert setting_stages("tuneG1", 6, None)["gen"] == [5]
    assert setting_stages("S_lang", 6, "lens") == "lens"
    with pytest.raises(MworkError, match="number of layers"):
        setting_stages("tuneU2", None, None)


def test_a_random_draw_outside_the_configured_draws_is_refused():
    """`S_random~7@de` with 3 draws configured built silently (issue 29, 12)."""
    settings = {**SETTINGS, "S_random": {"s_attn": True, "s_ffn": True, "neurons": "random"}}
    assert parse_setting("S_random~2@de", settings, LANGS, draws=3) == ("S_random", "de")
    with pytest.raises(MworkError, match=r"evaluation setting 'S_random~7@de': draw 7 is outside the config: "
                                         r"config\.deactivation\.random_draws is 3 \(S_random, S_random~1, "
                                         r"S_random~2\); raise random_draws or ask for one of those"):
        parse_setting("S_random~7@de", settings, LANGS, draws=3)
