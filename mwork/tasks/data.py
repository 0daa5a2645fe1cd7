"""Where each task's test items come from: the real datasets (hub) or the organism's offline suites.

Both produce the same record schema (the real dataset's), so one evaluator serves both.

| task | dataset | hub id, config | split scored |
|---|---|---|---|
| reasoning | MGSM | juletxara/mgsm, ``<lang>`` | test (250 per language) |
| understanding | XQuAD | google/xquad, ``xquad.<lang>`` (no French) | validation (its only split) |
| knowledge | X-CSQA | INK-USC/xcsr, ``X-CSQA-<lang>`` | validation: the test split's labels are hidden |
| generation | XL-Sum | csebuetnlp/xlsum, language name (no German) | test, 500 items sampled with the seed |

MGSM, X-CSQA and XL-Sum are script datasets on the hub; ``datasets`` >= 4 runs no loading scripts, so
they are read from the hub's parquet export (``revision: refs/convert/parquet``), overridable in config.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from ..errors import MworkError


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


def load_items(task: str, lang: str, source: str, suite_file: str | None = None, n_items="all", seed: int = 0,
               overrides: dict | None = None) -> list[dict]:
    """Test records of one task in one language (``source``: ``suites`` or ``hub``), with an ``id`` each."""
    td = check_task(task)
    if source == "suites":
        from ..io import read_jsonl

        if not suite_file or not os.path.exists(suite_file):
            raise MworkError(f"suite file {suite_file} for {task}/{lang} does not exist; run the suites rule")
        items = read_jsonl(suite_file, made_by="suites")
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
    else:
        raise MworkError(f"task source {source!r} is not one of suites, hub")
    sample = td.sample if (source == "hub" and n_items == "all") else (None if n_items == "all" else int(n_items))
    if sample is not None and sample < len(items):
        idx = sorted(random.Random(f"{seed}-{task}-{lang}").sample(range(len(items)), sample))
        items = [items[i] for i in idx]
    if not items:
        raise MworkError(f"{td.dataset} {lang}: no test items")
    return items
