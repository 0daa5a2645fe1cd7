"""The MWork stages and settings (mwork.stages) and the grammar of every name the DAG builds
(mwork.names): one place each, torch-free, used by the rules and the tables alike."""
import re

import pytest
import yaml

from mwork.errors import MworkError
from mwork.names import LANG, FineTuning, Setting, StageTuning, Table, TunedModel, Variant
from mwork.stages import parse_setting, setting_spec, setting_stages, stage_layers
from mwork.tasks.registry import TASK_ORDER

SETTINGS = {"S_lang": {"s_attn": True, "s_ffn": True, "neurons": "lang"}}
LANGS = ["en", "de"]
SCHEMA = yaml.safe_load(open("schemas/config.schema.yaml", encoding="utf-8"))


def test_names_parse_into_setting_and_language():
    assert parse_setting("original", SETTINGS, LANGS) == Setting()
    assert parse_setting("S_lang@de", SETTINGS, LANGS) == Setting("S_lang", "de")
    assert parse_setting("tuneU3@de", SETTINGS, LANGS) == Setting("tuneU3", "de")
    assert Setting.parse("anything@xx") == Setting("anything", "xx")


@pytest.mark.parametrize("bad", ["S_lang@fr", "nosuch@de", "S_lang", "tuneG0@de", "tuneU03@de", "tuneX2@de",
                                 "S_lang~0@de", "S_lang@DE", "orig", ""])
def test_unknown_names_languages_and_empty_tuning_are_refused(bad):
    with pytest.raises(MworkError, match="evaluation setting"):
        parse_setting(bad, SETTINGS, LANGS)


def test_tuning_names_deactivate_their_first_or_last_layers():
    assert StageTuning.of("tuneU3") == StageTuning("under", 3) and StageTuning.of("S_lang") is None
    assert Setting.parse("tuneG12@de").tuning == StageTuning("gen", 12)
    assert setting_spec("tuneG2", SETTINGS) == {"gen": True, "neurons": "lang"}
    assert setting_spec("S_lang", SETTINGS) is SETTINGS["S_lang"]
    assert setting_stages("tuneU2", 6, "ignored") == stage_layers(6, 2, 0)
    assert setting_stages("tuneG1", 6, None)["gen"] == [5]
    assert setting_stages("S_lang", 6, "lens") == "lens"
    with pytest.raises(MworkError, match="number of layers"):
        setting_stages("tuneU2", None, None)


def test_a_random_draw_outside_the_configured_draws_is_refused():
    """`S_random~7@de` with 3 draws configured built silently."""
    settings = {**SETTINGS, "S_random": {"s_attn": True, "s_ffn": True, "neurons": "random"}}
    assert parse_setting("S_random~2@de", settings, LANGS, draws=3) == Setting("S_random", "de", 2)
    with pytest.raises(MworkError, match=r"evaluation setting 'S_random~7@de': draw 7 is outside the config: "
                                         r"config\.deactivation\.random_draws is 3 \(S_random, S_random~1, "
                                         r"S_random~2\); raise random_draws or ask for one of those"):
        parse_setting("S_random~7@de", settings, LANGS, draws=3)
    with pytest.raises(MworkError, match="only a random control has further draws"):
        parse_setting("S_lang~1@de", settings, LANGS, draws=3)


NAMES = [(Setting, ["original", "S_lang@de", "S_random~2@zh", "tuneU3@fr"]),
         (StageTuning, ["tuneU1", "tuneG12"]),
         (Variant, ["lang-100", "lora-400", "random-400-s0", "random-400-s12"]),
         (TunedModel, ["organism+de-lang-400", "qwen+zh-random-100-s1", "a.b_c-d+vi-lora-800"]),
         (Table, ["1", "3", "17"])]


@pytest.mark.parametrize("record, texts", NAMES)
def test_every_name_is_written_back_as_parsed_and_matches_its_wildcard(record, texts):
    pattern = getattr(record, "PATTERN", None) or "[0-9]+"
    for text in texts:
        assert str(record.parse(text)) == text
        assert re.fullmatch(pattern, text), (record.__name__, text)


@pytest.mark.parametrize("record, bad", [(Setting, "S_lang@"), (StageTuning, "tuneU0"), (Variant, "random-4"),
                                         (Variant, "lora-4-s1"), (Variant, "lang-0400"), (Variant, "random-20-s00"),
                                         (TunedModel, "organism+de"), (TunedModel, "organism+de-lang-0400"),
                                         (FineTuning, "de/lang"), (Table, "x")])
def test_a_malformed_name_is_an_error_saying_what_is_expected(record, bad):
    with pytest.raises(MworkError, match="expected"):
        record.parse(bad)
    pattern = getattr(record, "PATTERN", None)
    assert pattern is None or not re.fullmatch(pattern, bad)


def test_fine_tunings_in_paths():
    assert FineTuning.parse("original") is None
    f = FineTuning.parse("de/random-400-s1")
    assert f == FineTuning("de", Variant("random", 400, 1)) and str(f) == "de/random-400-s1"
    assert re.fullmatch(FineTuning.PATTERN, "original") and re.fullmatch(FineTuning.PATTERN, str(f))


def test_tables_by_kind():
    assert Table.pattern("stage") == "2|3|4|5|8|9"
    assert [Table(n).per_language_of.number for n in (14, 15, 16, 17)] == [2, 3, 4, 5]
    with pytest.raises(MworkError, match="not a per-language table"):
        _ = Table(3).per_language_of


def test_the_schema_spells_the_names_as_the_grammar_does():
    """The config schema's copies of a grammar or a default (it cannot import them) agree with the library."""
    from mwork.plnd import CHUNK_ELEMS

    props = SCHEMA["properties"]
    assert SCHEMA["definitions"]["lang"]["pattern"] == f"^{LANG}$"
    deact = props["deactivation"]["properties"]
    assert deact["settings"]["propertyNames"]["pattern"] == f"^{Setting.NAME}$"
    assert [int(n) for n in deact["tables"]["propertyNames"]["enum"]] == list(Table.DEACTIVATION)
    assert set(deact["tables"]["additionalProperties"]["properties"]["task"]["enum"]) == set(TASK_ORDER)
    assert props["plnd"]["properties"]["chunk_elems"]["default"] == CHUNK_ELEMS
