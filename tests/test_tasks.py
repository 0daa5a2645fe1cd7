"""Task adapters on fixtures in each hub dataset's own schema, the evaluator, and Table 11."""
import json

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


# --------------------------------------------------------------------------------------------------
# task data from the upstream files (source: files): MGSM's TSV and XQuAD's SQuAD JSON, written here


MGSM = {"en": [("Janet has 3 apples and buys 4 more. How many?", "7"), ("A house costs 114,200 dollars.", "114,200"),
               ("Tom has 10 and gives 2.", "8"), ("Half of 5?", "2.5")],
        "de": [("Janet hat 3 Äpfel und kauft 4 dazu. Wie viele?", "7"), ("Ein Haus kostet 114.200 Dollar.", "114,200"),
               ("Tom hat 10 und gibt 2 ab.", "8"), ("Die Hälfte von 5?", "2.5")]}


def _squad(article_title, paragraphs):
    return {"version": "1.1", "data": [{"title": article_title, "paragraphs": [
        {"context": ctx, "qas": [{"id": qid, "question": q, "answers": [{"text": a, "answer_start": ctx.find(a)}]}
                                 for qid, q, a in qas]} for ctx, qas in paragraphs]}]}


@pytest.fixture
def upstream(tmp_path):
    mgsm, xquad = tmp_path / "mgsm", tmp_path / "xquad"
    mgsm.mkdir()
    xquad.mkdir()
    for lang, rows in MGSM.items():
        (mgsm / f"mgsm_{lang}.tsv").write_text("".join(f"{q}\t{a}\n" for q, a in rows), encoding="utf-8")
    (mgsm / "LICENSE").write_text("Creative Commons Attribution 4.0\n", encoding="utf-8")
    for lang, ctx, q in (("en", "Anna lives in Berlin.", "Where does Anna live?"),
                         ("de", "Anna wohnt in Berlin.", "Wo wohnt Anna?")):
        doc = _squad("Anna", [(ctx, [(f"q{i}", f"{q} ({i})", "Berlin") for i in range(5)])])
        (xquad / f"xquad.{lang}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return {"reasoning": str(mgsm), "understanding": str(xquad)}


def test_upstream_files_become_the_hub_records(upstream):
    mg = load_items("reasoning", "de", "files", folder=upstream["reasoning"])
    assert [r["answer_number"] for r in mg] == [7, 114200, 8, 2.5]  # US thousands separators read as such
    assert mg[0] == {"id": "mgsm-001", "question": MGSM["de"][0][0], "answer": None, "answer_number": 7,
                     "equation_solution": None}
    assert score_item("reasoning", mg[1], "Die Antwort lautet 114.200.", "de")["correct"]
    xq = load_items("understanding", "de", "files", folder=upstream["understanding"])
    assert len(xq) == 5 and xq[0]["answers"] == {"text": ["Berlin"], "answer_start": [14]}
    assert xq[0]["context"] == "Anna wohnt in Berlin." and xq[0]["id"] == "q0"
    assert score_item("understanding", xq[0], "Berlin", "de")["em"] == 1
    # a sample is the same items in every language (the data are parallel), and depends on the seed
    for task, n in (("reasoning", 2), ("understanding", 3)):
        ids = {lang: [r["id"] for r in load_items(task, lang, "files", n_items=n, seed=1, folder=upstream[task])]
               for lang in ("en", "de")}
        assert ids["en"] == ids["de"] and len(ids["en"]) == n
    seeds = {tuple(r["id"] for r in load_items("understanding", "en", "files", n_items=2, seed=s,
                                                folder=upstream["understanding"])) for s in range(8)}
    assert len(seeds) > 1


def test_the_stage_tuning_slice_is_held_out_of_the_evaluation_items(upstream, tmp_path):
    folder = upstream["understanding"]

    def ids(lang, part, n_items="all", n=2):
        return [r["id"] for r in load_items("understanding", lang, "files", n_items=n_items, seed=3, folder=folder,
                                            holdout={"n_items": n, "part": part})]
    tuning = {lang: ids(lang, "tuning", n_items=1) for lang in ("en", "de")}  # the slice is evaluated whole
    assert tuning["en"] == tuning["de"] and len(tuning["en"]) == 2  # the same questions in every language
    rest = ids("de", "rest")
    assert sorted(rest + tuning["de"]) == [f"q{i}" for i in range(5)] and not set(rest) & set(tuning["de"])
    sample = ids("de", "rest", n_items=2)
    assert len(sample) == 2 and set(sample) <= set(rest)  # eval.n_items samples the rest
    with pytest.raises(MworkError, match=r"config\.eval\.n_items: 4 XQuAD items asked for, the de file has 3 "
                                         r"outside the stage tuning's items"):
        ids("de", "rest", n_items=4)
    with pytest.raises(MworkError, match=r"config\.stage_tuning\.n_items: 5 understanding items held out .* has 5; "
                                         r"hold out fewer"):
        ids("de", "tuning", n=5)
    suite = tmp_path / "de.test.jsonl"  # the offline suites are split the same way
    suite.write_text("".join(json.dumps({"id": f"r{i}", "question": f"{i} + 1?", "answer": None,
                                         "answer_number": i + 1, "equation_solution": None}) + "\n"
                             for i in range(6)), encoding="utf-8")
    parts = [{r["id"] for r in load_items("reasoning", "de", "suites", str(suite), seed=0,
                                          holdout={"n_items": 2, "part": part})} for part in ("tuning", "rest")]
    assert len(parts[0]) == 2 and len(parts[1]) == 4 and not parts[0] & parts[1]


def test_files_record_their_hash_and_licence(upstream):
    from mwork.io import file_sha256
    from mwork.tasks.data import files_provenance

    rows = files_provenance("reasoning", upstream["reasoning"], ["en", "de"])
    assert [r["file"].rsplit("/", 1)[1] for r in rows] == ["mgsm_en.tsv", "mgsm_de.tsv"]
    assert rows[0]["sha256"] == file_sha256(rows[0]["file"]) and rows[0]["license"] == "CC BY 4.0 (LICENSE)"


def test_upstream_files_errors_name_the_setting_and_the_file(upstream, tmp_path):
    from pathlib import Path

    with pytest.raises(MworkError, match=r"config\.eval\.files\.reasoning: no folder '/nowhere'.*google-research/url-nlp"):
        load_items("reasoning", "de", "files", folder="/nowhere")
    with pytest.raises(MworkError, match=r"config\.eval\.files\.reasoning: task data `files` needs the folder"):
        load_items("reasoning", "de", "files", folder=None)
    with pytest.raises(MworkError, match=r"config\.eval\.files\.reasoning: .*mgsm_zh\.tsv does not exist"):
        load_items("reasoning", "zh", "files", folder=upstream["reasoning"])
    with pytest.raises(MworkError, match=r"XQuAD has no 'fr' data"):
        load_items("understanding", "fr", "files", folder=upstream["understanding"])
    with pytest.raises(MworkError, match=r"config\.eval\.files\.knowledge: X-CSQA has no upstream file layout"):
        load_items("knowledge", "en", "files", folder=upstream["reasoning"])
    with pytest.raises(MworkError, match=r"config\.eval\.n_items: 9 MGSM items asked for, the en file has 4"):
        load_items("reasoning", "en", "files", n_items=9, folder=upstream["reasoning"])
    tsv = Path(upstream["reasoning"], "mgsm_en.tsv")
    tsv.write_text("Q1\t7\nno answer column\n", encoding="utf-8")
    with pytest.raises(MworkError, match=r"mgsm_en\.tsv, line 2: expected question TAB answer .*1 column"):
        load_items("reasoning", "en", "files", folder=upstream["reasoning"])
    tsv.write_text("Q1\tseven\n", encoding="utf-8")
    with pytest.raises(MworkError, match=r"mgsm_en\.tsv, line 1: the answer 'seven' is not a number"):
        load_items("reasoning", "en", "files", folder=upstream["reasoning"])
    js = Path(upstream["understanding"], "xquad.en.json")
    js.write_text('{"data": [{"paragraphs": [{"qas": [{"id": "a", "question": "q", "answers": [{"text": "x"}]}]}]}]}',
                  encoding="utf-8")
    with pytest.raises(MworkError, match=r"xquad\.en\.json: not in SQuAD v1\.1 format .*'context'"):
        load_items("understanding", "en", "files", folder=upstream["understanding"])
    js.write_text("{not json", encoding="utf-8")
    with pytest.raises(MworkError, match=r"xquad\.en\.json: not JSON in SQuAD v1\.1 format"):
        load_items("understanding", "en", "files", folder=upstream["understanding"])


def test_evaluate_on_upstream_file_records(upstream):
    from mwork.evaluate import run_task

    model, tok = make_model("llama"), tokenizer()
    tok.pad_token = "<0>"
    for task in ("reasoning", "understanding"):
        records = load_items(task, "en", "files", folder=upstream[task])
        out, rows = run_task(model, tok, model_name="m", task=task, lang="en", setting="original", source="files",
                             records=records, generation={"max_new_tokens": 3}, batch_size=4, n_items="all",
                             chat_template=False, seed=0)
        assert out["n_items"] == len(records) == len(rows) and out["settings"]["source"] == "files"
        assert out["dataset"] == TASK_DATA[task].dataset and [r["id"] for r in rows] == [r["id"] for r in records]


def test_task_data_per_task_and_its_config_checks(tmp_path, root):
    import yaml

    from mwork.config import layered, load_config
    from mwork.languages import per_key
    from mwork.tasks.data import task_source

    spec = {"source": "gguf", "task_data": {"reasoning": "files", "default": "suites"}}
    assert task_source(spec, "reasoning") == "files" and task_source(spec, "generation") == "suites"
    assert task_source({"source": "hub"}, "knowledge") == "hub" and task_source({"source": "gguf"}, "x") == "suites"
    assert per_key({"default": 16, "reasoning": "all"}, "reasoning") == "all" and per_key(5, "reasoning") == 5
    assert per_key({"default": 16}, "understanding") == 16 and per_key({}, "understanding", "all") == "all"
    base = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    real = layered(base, yaml.safe_load((root / "configs" / "real.yaml").read_text(encoding="utf-8")))
    p = tmp_path / "c.yaml"
    real["tasks"] = ["reasoning", "knowledge"]
    real["models"]["qwen"]["task_data"] = "files"
    p.write_text(yaml.safe_dump(real), encoding="utf-8")
    with pytest.raises(MworkError, match=r"config\.models\.qwen\.task_data: knowledge has no upstream files"):
        load_config(p)
    real["models"]["qwen"]["task_data"] = {"reasoning": "files", "default": "suites"}
    del real["eval"]["files"]["reasoning"]
    p.write_text(yaml.safe_dump(real), encoding="utf-8")
    with pytest.raises(MworkError, match=r"config\.eval\.files\.reasoning: (qwen|gemma) reads reasoning from upstream files"):
        load_config(p)


def _suite_file(tmp_path, task="reasoning", lang="de", n=5):
    from mwork.io import write_jsonl
    from mwork.tasks.suites import generate_suites

    recs = generate_suites([lang], 0, {"default": 1}, n, 6)[task][lang]["test"]
    path = tmp_path / "suites" / task / f"{lang}.test.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, recs)
    return path, recs


def test_more_items_than_the_data_has_are_refused_naming_the_setting(tmp_path, hub):
    """eval.n_items: 100000 gave the suites' 5 items without a word; the files source
    already refused it."""
    path, recs = _suite_file(tmp_path)
    assert len(load_items("reasoning", "de", "suites", suite_file=str(path), n_items=5)) == 5
    assert len(load_items("reasoning", "de", "suites", suite_file=str(path))) == 5
    with pytest.raises(MworkError, match=r"config\.eval\.n_items: 100000 reasoning items asked for, but the de "
                                         r"test suite .*de\.test\.jsonl has 5; ask for at most 5 or 'all' \(or raise "
                                         r"suites\.n_test\)"):
        load_items("reasoning", "de", "suites", suite_file=str(path), n_items=100000)
    with pytest.raises(MworkError, match=r"config\.eval\.n_items: 3 MGSM items asked for, but .* has 2 in 'de'; ask "
                                         r"for at most 2 or 'all'"):
        load_items("reasoning", "de", "hub", overrides={"path": str(hub["reasoning"])}, n_items=3)


@pytest.mark.parametrize("task, damage, message", [
    ("reasoning", lambda r: r.pop("question"), r"no field 'question'"),
    ("reasoning", lambda r: r.update(answer_number="seven"), r"answer_number is 'seven', not a number"),
    ("understanding", lambda r: r.pop("context"), r"no field 'context'"),
    ("understanding", lambda r: r["answers"].update(text=[]), r"answers\.text is \[\], not a non-empty list of texts"),
    ("knowledge", lambda r: r["question"].pop("stem"), r"no field 'question\.stem'"),
    ("knowledge", lambda r: r.update(answerKey="Z"), r"answerKey is 'Z', not one of question\.choices\.label"),
    ("knowledge", lambda r: r["question"]["choices"]["text"].pop(), r"question\.choices\.text has \d+ options but "
                                                                    r"question\.choices\.label \d+"),
    ("generation", lambda r: r.pop("summary"), r"no field 'summary'"),
    ("generation", lambda r: r.update(title=None), r"title is None, not a text"),
])
def test_a_suite_record_missing_a_field_is_refused_naming_file_record_and_field(tmp_path, task, damage, message):
    """A record without `question` was a KeyError deep in the prompt."""
    from mwork.io import write_jsonl

    path, recs = _suite_file(tmp_path, task)
    assert len(load_items(task, "de", "suites", suite_file=str(path))) == len(recs)
    damage(recs[1])
    write_jsonl(path, recs)
    with pytest.raises(MworkError, match=rf"de\.test\.jsonl, record 2 \(id '{task}-de-test-00001'\): {message}"):
        load_items(task, "de", "suites", suite_file=str(path))


def test_a_hub_record_missing_a_field_is_refused_naming_the_dataset(tmp_path):
    bad = hub_fixture(tmp_path / "mgsm", {"de": {"test": [{"question": "Wie viele?", "answer": None}]}})
    with pytest.raises(MworkError, match=r"MGSM .*'name': 'de'.*, record 1 \(id 'reasoning-de-00000'\): no field "
                                         r"'answer_number'"):
        load_items("reasoning", "de", "hub", overrides={"path": str(bad)})
