import re

import pytest

from mwork.errors import MworkError
from mwork.tasks.lexicon import LEX
from mwork.tasks.prompts import PHRASES
from mwork.tasks.registry import format_prompt, format_target
from mwork.tasks.suites import TASKS, generate_suites

LANGS = ["en", "de", "fr", "zh", "es", "ru", "vi", "th", "ar", "sw"]


@pytest.fixture(scope="module")
def suites():
    return generate_suites(LANGS, 0, {"en": 40, "default": 20}, 30, 30)


def test_deterministic_and_split_disjoint(suites):
    again = generate_suites(LANGS, 0, {"en": 40, "default": 20}, 30, 30)
    assert again == suites
    other = generate_suites(LANGS, 1, {"en": 40, "default": 20}, 30, 30)
    assert other["reasoning"]["de"] != suites["reasoning"]["de"]
    for task in ("reasoning", "understanding", "generation"):
        for lang in LANGS:
            tr, te = suites[task][lang]["train"], suites[task][lang]["test"]
            assert len(te) == 30 and len(tr) == (40 if lang == "en" else 20)
            def key(r):
                return r.get("question", "") + r.get("context", "") + r.get("text", "")
            assert not {key(r) for r in tr} & {key(r) for r in te}


def test_records_have_the_real_datasets_schema(suites):
    for lang in LANGS:
        r = suites["reasoning"][lang]["test"][0]
        assert isinstance(r["answer_number"], int) and str(r["answer_number"]) not in ("",)
        u = suites["understanding"][lang]["test"][0]
        s, a = u["answers"]["answer_start"][0], u["answers"]["text"][0]
        assert u["context"][s:s + len(a)] == a  # a span of the context, as in XQuAD
        k = suites["knowledge"][lang]["test"][0]
        assert k["question"]["choices"]["label"] == list("ABCD") and k["answerKey"] in "ABCD"
        g = suites["generation"][lang]["test"][0]
        assert {"title", "text", "summary"} <= set(g)


def test_reasoning_answers_are_correct(suites):
    for r in suites["reasoning"]["en"]["test"]:
        nums = [int(x) for x in re.findall(r"\d+", r["question"])]
        signs = [1] + [1 if "earns" in s else -1 for s in re.split(r"(?<=\.) ", r["question"])[1:-1]]
        assert sum(s * n for s, n in zip(signs, nums)) == r["answer_number"]


def test_knowledge_scopes(suites):
    scopes = {r["fact_scope"] for r in suites["knowledge"]["de"]["test"] + suites["knowledge"]["de"]["train"]}
    assert scopes <= {"all", "en_only", "native"} and "en_only" in scopes
    # English has a transfer part too: facts stated only in another language, never in English
    en_scopes = {r["fact_scope"] for r in suites["knowledge"]["en"]["test"]}
    assert en_scopes == {"all", "en_only", "native"}
    # facts stated only in English are not among the German statements
    assert len(suites["world"]["en"]) > len(suites["world"]["de"]) > 0


def test_prompts_are_localized_and_end_with_their_answer_cue(suites):
    for task in TASKS:
        for lang in LANGS:
            rec = suites[task][lang]["test"][0]
            p = format_prompt(task, rec, lang)
            assert p.endswith(PHRASES[lang]["answer"]) == (task != "reasoning")  # MGSM: Table 10, no cue
            assert format_target(task, rec, lang)
    rec = suites["reasoning"]["en"]["test"][0]
    assert format_prompt("reasoning", rec, "en") == f"Let's think step by step. Question: {rec['question']}"
    with pytest.raises(MworkError, match="unknown task 'translation'"):
        format_prompt("translation", {}, "en")


def test_reasoning_solutions_are_step_by_step_and_end_with_the_answer(suites):
    from mwork.tasks.metrics import extract_number

    for lang in LANGS:
        for r in suites["reasoning"][lang]["train"]:
            for eq in r["equation_solution"].split("; "):
                lhs, rhs = eq.split(" = ")
                assert eval(lhs) == int(rhs)  # noqa: S307 - digits and +/- only
            assert extract_number(format_target("reasoning", r, lang), lang) == r["answer_number"]


def test_knowledge_test_questions_ask_trained_facts_with_unseen_options(suites):
    for lang in LANGS:
        tr, te = suites["knowledge"][lang]["train"], suites["knowledge"][lang]["test"]
        def key(r):
            return r["question"]["stem"], tuple(r["question"]["choices"]["text"])
        assert te and not {key(r) for r in te} & {key(r) for r in tr}
        # recall: every fact asked in the language was a training question there, except the transfer part
        # (English-only facts elsewhere; facts stated only in another language, in English)
        trained = {r["question"]["stem"] for r in tr}
        transfer = "native" if lang == "en" else "en_only"
        assert all(r["question"]["stem"] in trained for r in te if r["fact_scope"] != transfer)
        assert not any(r["question"]["stem"] in trained for r in te if r["fact_scope"] == transfer)


def test_tokenizer_isolates_cjk_characters_so_answers_can_be_copied():
    from mwork.organism import train_tokenizer

    tok = train_tokenizer(["莉娜住在北京。问题：莉娜住在哪个城市？答案： 北京。Emma lives in Boston."] * 20, 300)
    pieces = [tok.decode([i]) for i in tok("莉娜住在北京。答案： 北京")["input_ids"]]
    assert pieces.count("北") == 2 and pieces.count("京") == 2
    assert [tok.decode([i]) for i in tok("Emma 14")["input_ids"][-2:]] == ["1", "4"]


def test_reasoning_target_cot_is_the_step_by_step_answer(suites):
    r = suites["reasoning"]["de"]["train"][0]
    cot = format_target("reasoning", r, "de", "cot")
    assert cot == r["answer"] and cot.startswith(r["equation_solution"].split("; ")[0])
    assert format_target("reasoning", r, "de") == f"Die Antwort ist {r['answer_number']}."
    with pytest.raises(ValueError, match="direct"):
        format_target("reasoning", r, "de", "chain")


def test_task_scale_per_task_and_language():
    s = generate_suites(["en", "de"], 0, {"en": 20, "default": 10}, 5, 12,
                        task_scale={"understanding": {"en": 1, "default": 2}, "generation": 0.5})
    assert len(s["understanding"]["en"]["train"]) == 20 and len(s["understanding"]["de"]["train"]) == 20
    assert len(s["generation"]["en"]["train"]) == 10 and len(s["generation"]["de"]["train"]) == 5
    assert len(s["reasoning"]["de"]["train"]) == 10


def test_understanding_pool_names_are_shared_across_items_and_scripts():
    s = generate_suites(["en", "de", "ru"], 0, {"default": 200}, 30, 12, understanding_pool=8,
                        understanding_relations=["lives", "works", "pet"])
    by_rel = {rel: {r["answers"]["text"][0] for r in s["understanding"]["en"]["train"] if r["relation"] == rel}
              for rel in ("works", "pet")}
    assert all(len(a) == 8 for a in by_rel.values())  # each from its pool of 8, not fresh per item
    assert not by_rel["works"] & by_rel["pet"]  # one pool per relation
    answers = by_rel["works"] | by_rel["pet"]
    de = {r["answers"]["text"][0] for r in s["understanding"]["de"]["train"] if r["relation"] != "lives"}
    assert de <= answers  # spelled alike in every Latin-script language
    # pooled names never collide with the knowledge suite's invented countries, capitals and currencies
    world_words = {w.strip(".") for st in s["world"]["en"] for w in st.split()}
    assert not answers & world_words
    ru = {r["answers"]["text"][0] for r in s["understanding"]["ru"]["train"] if r["relation"] != "lives"}
    assert ru and all(re.fullmatch(r"[А-Яа-яЁё]+", a) for a in ru)


@pytest.mark.parametrize("lang", ["en", "de", "fr", "zh", "es", "ru", "vi", "th", "ar", "sw"])
def test_understanding_relations_born_and_friend_in_every_language(lang):
    s = generate_suites([lang], 0, {"default": 120}, 30, 12, understanding_relations=["lives", "born", "friend"])
    recs = s["understanding"][lang]["train"] + s["understanding"][lang]["test"]
    assert {r["relation"] for r in recs} == {"lives", "born", "friend"}
    names = set(LEX[lang]["names"])
    for r in recs:
        answer, start = r["answers"]["text"][0], r["answers"]["answer_start"][0]
        assert r["context"][start:start + len(answer)] == answer and r["answer_sentence"] in r["context"]
        assert any(n in r["question"] for n in names)  # every question asks about a person
        if r["relation"] == "born":
            assert re.fullmatch(r"(19[4-9]\d|200\d)", answer)
        elif r["relation"] == "friend":
            asked = [n for n in names if n in r["question"]]
            assert answer in names and answer not in asked  # a friend is never the person asked about
        else:
            assert answer in LEX[lang]["cities"]
    two = [r for r in recs if r["n_people"] == 2]
    assert two and all(len({n for n in names if n in r["context"]}) >= 4 for r in two)  # two people, two friends


def test_understanding_relations_unknown_is_a_clear_error():
    with pytest.raises(MworkError, match="understanding_relations.*dog.*choose from lives"):
        generate_suites(["en"], 0, {"default": 2}, 2, 12, understanding_relations=["lives", "dog"])


def test_some_generation_references_also_report_the_prize():
    s = generate_suites(["en", "zh"], 0, {"default": 40}, 40, 12, summary_detail_share=0.5)
    recs = s["generation"]["en"]["train"] + s["generation"]["en"]["test"]
    with_prize = [r for r in recs if r["summary_has_prize"]]
    assert 0 < len(with_prize) < len(recs)
    for r in recs:
        prize = re.search(r"The prize was \d+ dollars\.", r["text"]).group(0)
        assert r["summary"].endswith(prize) == r["summary_has_prize"]
    assert all(not r["summary_has_prize"] for r in generate_suites(["en"], 0, {"default": 5}, 5, 12)["generation"]["en"]["test"])


def test_training_mix_world_repeats_per_language_and_cot_targets():
    from mwork.organism import training_texts

    s = generate_suites(["en", "ru"], 0, {"default": 3}, 2, 12, knowledge_train_draws={"default": 1, "ru": 2})
    # one training question per fact stated in English, two per fact stated in Russian
    assert len(s["knowledge"]["en"]["train"]) == len(s["world"]["en"])
    assert len(s["knowledge"]["ru"]["train"]) == 2 * len(s["world"]["ru"])
    mix = {"corpus_repeats": {}, "world_repeats": {"default": 1, "ru": 3}, "world_facts_per_doc": 1,
           "reasoning_target": "cot"}
    texts = training_texts({}, s, mix, 0)
    world = {lang: sum(1 for l, k, _ in texts if k == "world" and l == lang) for lang in ("en", "ru")}
    assert world == {"en": len(s["world"]["en"]), "ru": 3 * len(s["world"]["ru"])}
    reasoning = [t for l, k, t in texts if k == "reasoning" and l == "en"]
    assert reasoning and all(re.search(r"\d = \d+\. .*The answer is \d+\.$", t) for t in reasoning)


def test_suites_from_spec_is_generate_suites_with_the_config_section():
    from mwork.tasks.suites import suites_from_spec

    spec = {"n_train": {"default": 4}, "n_test": 3, "n_countries": 12, "understanding_pool": 6,
            "knowledge_train_draws": {"default": 1, "de": 2}, "summary_detail_share": 0.5}
    assert suites_from_spec(["en", "de"], spec) == generate_suites(
        ["en", "de"], 0, {"default": 4}, 3, 12, {"default": 1, "de": 2}, None, 6, 0.5)


def test_reasoning_test_arithmetic_is_never_a_training_target(suites):
    """Issue 14: 89% of English test solutions occurred as training targets; now test and train problems
    come from disjoint parts of the equation space (the same parts in every language)."""
    for lang in LANGS:
        train = {r["equation_solution"] for r in suites["reasoning"][lang]["train"]}
        test = {r["equation_solution"] for r in suites["reasoning"][lang]["test"]}
        assert train and test and not train & test
        assert not any(r["answer"] in {t["answer"] for t in suites["reasoning"][lang]["train"]}
                       for r in suites["reasoning"][lang]["test"])
