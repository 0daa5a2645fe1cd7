import re

import pytest

from mwork.tasks.prompts import PHRASES, format_prompt, format_target
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
            key = (lambda r: r.get("question", "") + r.get("context", "") + r.get("text", ""))
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
    assert all(r["fact_scope"] != "native" for r in suites["knowledge"]["en"]["test"])
    # facts stated only in English are not among the German statements
    assert len(suites["world"]["en"]) > len(suites["world"]["de"]) > 0


def test_prompts_are_localized_and_end_with_answer_cue(suites):
    for task in TASKS:
        for lang in LANGS:
            rec = suites[task][lang]["test"][0]
            p = format_prompt(task, rec, lang)
            assert p.endswith(PHRASES[lang]["answer"])
            assert format_target(task, rec, lang)
    assert format_prompt("reasoning", suites["reasoning"]["en"]["test"][0], "en").startswith(
        "Let's think step by step. Question: ")  # Table 10, verbatim
    with pytest.raises(KeyError, match="unknown task"):
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
        key = (lambda r: (r["question"]["stem"], tuple(r["question"]["choices"]["text"])))
        assert te and not {key(r) for r in te} & {key(r) for r in tr}
        # every fact asked in a language other than English-only ones was also a training question there
        trained = {r["question"]["stem"] for r in tr}
        assert all(r["question"]["stem"] in trained for r in te if r["fact_scope"] != "en_only" or lang == "en")


def test_tokenizer_isolates_cjk_characters_so_answers_can_be_copied():
    from mwork.organism import train_tokenizer

    tok = train_tokenizer(["莉娜住在北京。问题：莉娜住在哪个城市？答案： 北京。Emma lives in Boston."] * 20, 300)
    pieces = [tok.decode([i]) for i in tok("莉娜住在北京。答案： 北京")["input_ids"]]
    assert pieces.count("北") == 2 and pieces.count("京") == 2
    assert [tok.decode([i]) for i in tok("Emma 14")["input_ids"][-2:]] == ["1", "4"]
