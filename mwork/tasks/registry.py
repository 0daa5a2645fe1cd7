"""The four tasks, one record each (as lm-evaluation-harness declares a task): what the paper calls it,
its place in Table 11, its prompt, the reference completion the organism is trained on, how one
generation is scored and what the summary averages. Adding a task is adding a record here (and its hub
loader in ``tasks/data.py``); the config schema's task names are checked against ``TASKS`` by a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import MworkError
from . import metrics
from .prompts import phrases


@dataclass(frozen=True)
class Task:
    name: str                                   # the workflow's name (paths, config): reasoning
    paper: str                                  # the dataset as the paper's tables name it: MGSM
    row: int                                    # its row in the paper's Table 11
    metric: str                                 # the reported score: accuracy | rougeL
    prompt: Callable[[dict, dict, str], str]    # (record, localized phrases, separator) -> prompt body
    target: Callable[[dict, str, str], str]     # (record, language, reasoning style) -> reference completion
    score: Callable[[dict, str, str], dict]     # (record, generation, language) -> per-item result
    means: tuple[str, ...] = ()                 # further per-item values averaged in the summary (percent)
    parsed: bool = False                        # the answer is extracted (and may fail: n_unparsed)
    stops: Callable[[str], list[str]] = lambda lang: []  # stop strings of the task itself, per language
    long_field: str | None = None               # the record's long text, cut by max_context_tokens
    cue: bool = True                            # the prompt ends with the localized "Answer:" (not in Table 10's MGSM)
    fields: tuple[tuple[str, str], ...] = ()    # (dotted field, kind) a test record needs for its prompt and score


def task_stops(task: str, lang: str, configured=()) -> list[str]:
    """The configured stop strings (``eval.generation.<task>.stop``) and the task's own, in that order."""
    out = list(configured)
    return out + [s for s in get_task(task).stops(lang) if s not in out]


# --------------------------------------------------------------------------------------------------
# MGSM: Table 10's "Let's think step by step. Question: {question}"


def _reasoning_prompt(rec: dict, p: dict, sp: str) -> str:
    return f"{p['think']}{sp}{p['question']}{sp}{rec['question']}"


def _reasoning_target(rec: dict, lang: str, reasoning: str) -> str:
    """``direct`` ("The answer is N.") or ``cot`` (the record's step-by-step ``answer``, MGSM's field,
    which ends with the localized "The answer is N.")."""
    if reasoning == "cot":
        return rec["answer"]
    if reasoning != "direct":
        raise ValueError(f"reasoning target {reasoning!r}: use 'direct' or 'cot'")
    return phrases(lang)["the_answer_is"].format(n=rec["answer_number"])


def _reasoning_score(rec: dict, generation: str, lang: str) -> dict:
    gold = float(rec["answer_number"])
    pred = metrics.extract_number(generation, lang)
    return {"gold": gold, "extracted": pred, "correct": pred is not None and abs(pred - gold) < 1e-6}


# --------------------------------------------------------------------------------------------------
# XQuAD: "{context} Question: {question}"


def _understanding_prompt(rec: dict, p: dict, sp: str) -> str:
    return f"{rec['context']}{sp}{p['question']}{sp}{rec['question']}"


def _understanding_target(rec: dict, lang: str, reasoning: str) -> str:
    return rec.get("answer_sentence") or rec["answers"]["text"][0]  # the sentence stating it (our suites)


def _understanding_score(rec: dict, generation: str, lang: str) -> dict:
    golds = rec["answers"]["text"]
    return {"gold": golds[0], "extracted": generation,
            "correct": any(metrics.contains_answer(generation, g, lang) for g in golds),
            "em": max(metrics.exact_match(generation, g, lang) for g in golds),
            "f1": max(metrics.f1(generation, g, lang) for g in golds)}


# --------------------------------------------------------------------------------------------------
# X-CSQA: "Question: {question}" with its options as "A. ..." lines


def _knowledge_prompt(rec: dict, p: dict, sp: str) -> str:
    q = rec["question"]  # X-CSQA schema: {"stem": ..., "choices": {"label": [...], "text": [...]}}
    opts = "\n".join(f"{lab}. {txt}" for lab, txt in zip(q["choices"]["label"], q["choices"]["text"]))
    return f"{p['question']}{sp}{q['stem']}\n{opts}"


def _knowledge_target(rec: dict, lang: str, reasoning: str) -> str:
    choices = rec["question"]["choices"]  # the option's text; extraction maps a contained text to its label
    return choices["text"][choices["label"].index(rec["answerKey"])]


def _knowledge_score(rec: dict, generation: str, lang: str) -> dict:
    ch = rec["question"]["choices"]
    pred = metrics.extract_choice(generation, list(ch["label"]), list(ch["text"]), lang)
    out = {"gold": rec["answerKey"], "extracted": pred, "correct": pred == rec["answerKey"]}
    if "fact_scope" in rec:  # the organism's suite: recall of a fact stated in the language, or transfer
        out["fact_scope"] = rec["fact_scope"]
    return out


# --------------------------------------------------------------------------------------------------
# XL-Sum: "Summarize the context in one sentence. Title: {title} Context: {article}"


def _generation_prompt(rec: dict, p: dict, sp: str) -> str:
    return f"{p['summarize']}{sp}{p['title']}{sp}{rec['title']}{sp}{p['context']}{sp}{rec['text']}"


def _generation_target(rec: dict, lang: str, reasoning: str) -> str:
    return rec["summary"]


def _generation_score(rec: dict, generation: str, lang: str) -> dict:
    uni, asc = metrics.rouge_l(generation, rec["summary"], lang)
    return {"gold": rec["summary"], "extracted": generation, "rougeL": uni, "rougeL_ascii": asc}


# --------------------------------------------------------------------------------------------------
# what a test record must hold (checked when the items are read: tasks/data.py load_items)

_KINDS = {"text": (lambda v: isinstance(v, str), "a text"),
          "number": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
          "texts": (lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
                    "a non-empty list of texts")}


def record_problem(task: str, rec) -> str | None:
    """What a test record of ``task`` lacks for its prompt and its score (a field, or a field of the wrong
    kind), or None when it has everything."""
    if not isinstance(rec, dict):
        return f"a {type(rec).__name__}, not a record (a JSON object)"
    for name, kind in get_task(task).fields:
        value = rec
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                return f"no field {name!r}, which the {task} prompt or score needs"
            value = value[part]
        ok, what = _KINDS[kind]
        if not ok(value):
            return f"{name} is {value!r}, not {what}"
    if task == "knowledge":  # the options: one text per label, and the answer one of the labels
        ch = rec["question"]["choices"]
        if len(ch["text"]) != len(ch["label"]):
            return f"question.choices.text has {len(ch['text'])} options but question.choices.label {len(ch['label'])}"
        if rec["answerKey"] not in ch["label"]:
            return f"answerKey is {rec['answerKey']!r}, not one of question.choices.label ({', '.join(ch['label'])})"
    return None


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("reasoning", "MGSM", 2, "accuracy", _reasoning_prompt, _reasoning_target, _reasoning_score, parsed=True,
         stops=metrics.question_stops, cue=False,  # a rambling model's next "Question:" is where its answer ended
         fields=(("question", "text"), ("answer_number", "number"))),
    Task("understanding", "XQuAD", 1, "accuracy", _understanding_prompt, _understanding_target,
         _understanding_score, means=("em", "f1"), long_field="context",
         fields=(("context", "text"), ("question", "text"), ("answers.text", "texts"))),
    Task("knowledge", "X-CSQA", 3, "accuracy", _knowledge_prompt, _knowledge_target, _knowledge_score,
         parsed=True, fields=(("question.stem", "text"), ("question.choices.label", "texts"),
                              ("question.choices.text", "texts"), ("answerKey", "text"))),
    Task("generation", "XLSum", 4, "rougeL", _generation_prompt, _generation_target, _generation_score,
         means=("rougeL_ascii",), long_field="text", fields=(("title", "text"), ("text", "text"), ("summary", "text"))),
)}
TASK_NAMES = {name: t.paper for name, t in TASKS.items()}
TASK_ORDER = sorted(TASKS, key=lambda name: TASKS[name].row)  # the paper's row order


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise MworkError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return TASKS[name]


def format_prompt(task: str, rec: dict, lang: str) -> str:
    """The zero-shot prompt for one record (the task's own prompt, ``tasks.registry``), ending with the
    answer cue where the task has one (no trailing space)."""
    p = phrases(lang)
    sp = "" if lang in ("zh", "ja") else " "  # Chinese and Japanese run sentences together
    t = get_task(task)
    body = t.prompt(rec, p, sp)
    return f"{body}\n{p['answer']}" if t.cue else body


def format_target(task: str, rec: dict, lang: str, reasoning: str = "direct") -> str:
    """The reference completion the organism is trained on (after the prompt and one space).

    ``reasoning``: ``direct`` ("The answer is N.") or ``cot`` (the record's step-by-step ``answer``,
    MGSM's field, which ends with the localized "The answer is N.").
    """
    return get_task(task).target(rec, lang, reasoning)
