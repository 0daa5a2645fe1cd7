"""Task adapters on fixtures in each hub dataset's own schema, the evaluator, and Table 11."""
import pytest
from hubfixtures import hub_fixture
from tinymodels import make_model, tokenizer

from mwork.errors import MworkError
from mwork.evaluate import build_prompt, evaluate, generate, score_item, summarize
from mwork.tables import table11
from mwork.tasks.data import TASK_DATA, hub_load_args, load_items, task_languages


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    mgsm = hub_fixture(root / "mgsm", {lang: {"test": [
        {"question": q, "answer": None, "answer_number": n, "equation_solution": None}
        for q, n in (("Janet has 3 apples and buys 4 more. How many?", 7), ("Tom has 10 and gives 2.", 8))]}
        for lang in ("en", "de")})
    xquad = hub_fixture(root / "xquad", {"xquad.de": {"validation": [
        {"id": "x1", "context": "Anna wohnt in Berlin.", "question": "Wo wohnt Anna?",
         "answers": {"text": ["Berlin"], "answer_start": [14]}}]}})
    xcsr = hub_fixture(root / "xcsr", {"X-CSQA-zh": {"validation": [
        {"id": "c1", "lang": "zh", "question": {"stem": "首都是哪里？", "choices": {"label": list("ABCDE"),
                                                                           "text": ["北京", "上海", "广州", "深圳", "成都"]}},
         "answerKey": "A"}]}})
    xlsum = hub_fixture(root / "xlsum", {"russian": {"test": [
        {"id": f"r{i}", "url": "u", "title": f"Заголовок {i}", "summary": "Анна выиграла гонку.",
         "text": "В Москве прошла гонка. Анна выиграла гонку."} for i in range(12)]}})
    return {"reasoning": mgsm, "understanding": xquad, "knowledge": xcsr, "generation": xlsum}


def test_adapters_read_the_hub_schemas(hub):
    mg = load_items("reasoning", "de", "hub", overrides={"path": str(hub["reasoning"])})
    assert [r["answer_number"] for r in mg] == [7, 8] and mg[0]["id"] == "reasoning-de-00000"
    xq = load_items("understanding", "de", "hub", overrides={"path": str(hub["understanding"])})
    assert xq[0]["answers"]["text"] == ["Berlin"] and xq[0]["id"] == "x1"
    xc = load_items("knowledge", "zh", "hub", overrides={"path": str(hub["knowledge"])})
    assert xc[0]["question"]["choices"]["label"] == list("ABCDE")
    xl = load_items("generation", "ru", "hub", overrides={"path": str(hub["generation"])}, n_items=5, seed=3)
    assert len(xl) == 5 and xl == load_items("generation", "ru", "hub", overrides={"path": str(hub["generation"])},
                                             n_items=5, seed=3)


def test_language_coverage_and_errors(hub, monkeypatch):
    assert "fr" not in task_languages("understanding", "hub", ["en", "de", "fr"])  # XQuAD has no French
    assert task_languages("generation", "hub", ["en", "de", "zh"]) == ["en", "zh"]  # XL-Sum has no German
    assert task_languages("generation", "suites", ["en", "de"]) == ["en", "de"]
    with pytest.raises(MworkError, match=r"XQuAD \(google/xquad\) has no 'fr' data; it has: ar, de"):
        hub_load_args("understanding", "fr")
    with pytest.raises(MworkError, match="unknown task 'translation'"):
        load_items("translation", "en", "hub")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(MworkError, match="not in the local cache and offline mode is on; fetch it once online"):
        load_items("reasoning", "en", "hub")
    assert hub_load_args("knowledge", "de")["revision"] == "refs/convert/parquet"
    assert TASK_DATA["generation"].sample == 500


def test_score_items_every_task():
    assert score_item("reasoning", {"answer_number": 7}, "The answer is 7.", "en")["correct"]
    assert not score_item("reasoning", {"answer_number": 7}, "", "en")["correct"]  # empty: wrong, no crash
    r = score_item("understanding", {"answers": {"text": ["Berlin"]}}, "in Berlin", "de")
    assert r["correct"] and r["em"] == 0 and r["f1"] == pytest.approx(2 / 3)
    q = {"question": {"stem": "?", "choices": {"label": list("AB"), "text": ["x", "y"]}}, "answerKey": "B"}
    assert score_item("knowledge", q, "B. y", "en")["correct"] and not score_item("knowledge", q, "???", "en")["correct"]
    g = score_item("generation", {"summary": "王芳赢了。"}, "王芳赢了。", "zh")
    assert g["rougeL"] == 1.0 and g["rougeL_ascii"] == 0.0
    s = summarize("knowledge", [{"prediction": "", "correct": False, "extracted": None},
                                {"prediction": "B", "correct": True, "extracted": "B"}])
    assert s["score"] == 50.0 and s["n_empty"] == 1 and s["n_unparsed"] == 1 and "by_fact_scope" not in s
    s = summarize("knowledge", [{"prediction": "A", "correct": False, "extracted": "A", "fact_scope": "en_only"},
                                {"prediction": "B", "correct": True, "extracted": "B", "fact_scope": "all"},
                                {"prediction": "B", "correct": True, "extracted": "B", "fact_scope": "en_only"}])
    assert s["by_fact_scope"] == {"all": {"accuracy": 100.0, "n": 1}, "en_only": {"accuracy": 50.0, "n": 2}}


def test_batched_generation_equals_one_by_one():
    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    prompts = ["<3> <4> <5>", "<9>", "<7> <7> <7> <7> <7> <8>"]
    batched = generate(model, tok, prompts, max_new_tokens=5, batch_size=3, progress=False)
    single = [generate(model, tok, [p], max_new_tokens=5, batch_size=1, progress=False)[0] for p in prompts]
    assert batched == single and all(batched)
    stopped = generate(model, tok, prompts, max_new_tokens=5, stop=[batched[0].split()[1]], progress=False)
    assert stopped[0] == batched[0].split()[0]


def test_evaluate_on_suite_records(tmp_path):
    from mwork.tasks.suites import generate_suites

    suites = generate_suites(["en", "zh"], 0, {"default": 1}, 3, 6)
    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    for task in ("reasoning", "understanding", "knowledge", "generation"):
        scores, rows = evaluate(model, tok, task, "zh", suites[task]["zh"]["test"], 4, ["\n"], progress=False)
        assert scores["n_items"] == len(rows) > 0 and 0 <= scores["score"] <= 100
        assert {"prompt", "prediction", "gold", "extracted"} <= set(rows[0])


def test_long_text_is_cut_to_max_context_tokens_and_an_overlong_prompt_is_refused():
    model, tok = make_model("llama"), tokenizer()  # a context window of 64 positions
    tok.pad_token = "<0>"
    rec = {"id": "a", "title": "<2>", "text": " ".join(["<5>"] * 80), "summary": "<5> <6>"}
    prompt, cut = build_prompt(tok, "generation", rec, "en", False, max_context_tokens=20)
    assert cut and prompt.count("<5>") == 20
    prompt, cut = build_prompt(tok, "generation", rec, "en", False)
    assert not cut and prompt.count("<5>") == 80
    with pytest.raises(MworkError, match=r"prompt of \d+ tokens plus max_new_tokens 4 exceeds the model's context "
                                         r"window of 64 .*eval.generation.generation.max_context_tokens"):
        evaluate(model, tok, "generation", "en", [rec], 4, progress=False)
    scores, rows = evaluate(model, tok, "generation", "en", [rec], 4, progress=False, max_context_tokens=20)
    assert scores["n_context_cut"] == 1 and rows[0]["prompt"].count("<5>") == 20


def test_reasoning_stops_at_the_next_localized_question():
    from mwork.tasks.registry import task_stops

    assert task_stops("reasoning", "de", ["\n"]) == ["\n", "\nFrage:", "\nFrage :", "\nFrage："]
    assert task_stops("reasoning", "zh", []) == ["\n问题:", "\n问题 :", "\n问题："]
    from mwork.evaluate import _cut

    restated = "Question: Tom has 3 apples and buys 4. 3 + 4 = 7.\nQuestion: Anna has 12."
    assert _cut(restated, task_stops("reasoning", "en")) == "Question: Tom has 3 apples and buys 4. 3 + 4 = 7."
    assert score_item("reasoning", {"answer_number": 7}, restated, "en")["correct"]
    assert task_stops("generation", "de", ["\n"]) == ["\n"]


def test_table11_layout():
    def items(score):  # ten items, score% of them right
        return {"id": list(range(10)), "score": [100.0] * int(score // 10) + [0.0] * (10 - int(score // 10))}

    scores = [{"model": "m", "task": t, "dataset": "d", "language": lang, "setting": "original", "metric": "accuracy",
               "score": s, "n_items": 10, "n_empty": 0, "items": items(s)}
              for t, lang, s in (("reasoning", "en", 40.0), ("reasoning", "de", 20.0), ("reasoning", "zh", 30.0),
                                 ("understanding", "en", 50.0), ("understanding", "zh", 10.0))]
    long, wide, md = table11(scores, ["m"], ["reasoning", "understanding"], ["en", "de", "fr", "zh"])
    assert list(wide["Task"]) == ["XQuAD", "MGSM"]  # the paper's row order
    mgsm = wide.set_index("Task").loc["MGSM"]
    assert mgsm["Avg."] == 25.0 and mgsm["Fr"] != mgsm["Fr"]  # missing pair: NaN, shown as a dash
    assert mgsm["Avg._lo"] < 25.0 < mgsm["Avg._hi"] and mgsm["De_lo"] >= 0 and mgsm["De_hi"] <= 60
    assert "| m | MGSM | 40.0 ±" in md and "| — | 30.0 ±" in md
    # an extra language is shown but not averaged
    long, wide, md = table11(scores, ["m"], ["reasoning", "understanding"], ["en", "de", "fr", "zh"],
                             extra={"reasoning": ["zh"]})
    assert wide.set_index("Task").loc["MGSM", "Avg."] == 20.0 and wide.set_index("Task").loc["MGSM", "Zh"] == 30.0
    assert "Extra languages, not in Avg. (the paper does not report them): MGSM Zh." in md


def test_every_task_is_one_record_and_the_schema_names_exactly_those(root):
    import yaml

    from mwork.tasks.data import TASK_DATA
    from mwork.tasks.registry import TASK_ORDER, TASKS

    assert list(TASK_DATA) == list(TASKS) and TASK_ORDER == ["understanding", "reasoning", "knowledge", "generation"]
    schema = yaml.safe_load((root / "schemas" / "config.schema.yaml").read_text(encoding="utf-8"))
    props = schema["properties"]
    enums = [props["tasks"]["items"]["enum"], props["tasks"]["default"],
             props["deactivation"]["properties"]["tables"]["additionalProperties"]["properties"]["task"]["enum"],
             props["stage_tuning"]["properties"]["task"]["enum"],
             list(props["eval"]["properties"]["generation"]["properties"])]
    assert all(list(e) == list(TASKS) for e in enums), enums
