"""The queries of Figures 1, 3 and 7: the organism's task-suite test prompts, or held-out corpus documents."""

from __future__ import annotations

from .corpus import read_corpus
from .io import read_jsonl
from .tasks.registry import format_prompt


def figure_queries(paths: list[str], lang: str, source: str, per_task: int, corpus_limit: int | None = None) -> list[str]:
    """``source`` "suites": the first ``per_task`` test prompts of every task among ``paths``
    (``results/suites/{task}/{lang}.test.jsonl``); "corpus": the held-out documents of ``{lang}.jsonl``
    among ``paths`` (the first ``corpus_limit``, or all)."""
    if source == "suites":
        texts = []
        for path in [q for q in paths if str(q).endswith(f"/{lang}.test.jsonl")]:
            task = str(path).split("/")[-2]
            texts += [format_prompt(task, rec, lang) for rec in read_jsonl(path, made_by="suites")[:per_task]]
        return texts
    path = next(q for q in paths if str(q).endswith(f"/{lang}.jsonl"))
    return [d["text"] for d in read_corpus(path) if d["split"] == "heldout"][:corpus_limit]
