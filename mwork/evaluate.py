"""The evaluator: batched greedy generation and scoring of one task in one language.

One function serves every experiment: the baselines (Table 11), every deactivation setting (the model
is evaluated inside ``mwork.masking.deactivate``) and the enhanced models.
"""

from __future__ import annotations

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from .tasks.prompts import format_prompt
from .tasks.registry import get_task


def build_prompt(tokenizer, task: str, rec: dict, lang: str, chat_template: bool) -> str:
    prompt = format_prompt(task, rec, lang)
    if chat_template:
        if not getattr(tokenizer, "chat_template", None):
            from .errors import MworkError

            raise MworkError("models.<name>.chat_template: true, but the tokenizer has no chat template")
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                               add_generation_prompt=True)
    return prompt


def _cut(text: str, stop) -> str:
    """The text up to the first stop string (stop strings in leading whitespace do not count)."""
    text = text.lstrip()
    for s in stop:
        cut = text.find(s)
        if cut >= 0:
            text = text[:cut]
    return text.strip()


class _StopStrings(StoppingCriteria):
    """Stop a sequence once its decoded continuation contains a stop string (works with any tokenizer)."""

    def __init__(self, tokenizer, stop: list[str], prompt_len: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, stop, prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        tails = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        return torch.tensor([any(s in t.lstrip() for s in self.stop) for t in tails], device=input_ids.device)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, stop: list[str] | tuple = (),
             batch_size: int = 16, progress: bool = True, add_special_tokens: bool = True) -> list[str]:
    """Greedy continuations of ``prompts`` (batched by length, left padding, KV cache), cut at ``stop``."""
    from tqdm import tqdm

    tokenizer.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    device = next(model.parameters()).device
    bar = tqdm(total=len(prompts), desc="generate", disable=not progress, mininterval=5)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                        add_special_tokens=add_special_tokens).to(device)
        kwargs = {"max_new_tokens": max_new_tokens, "do_sample": False, "use_cache": True,
                  "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
        if stop:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [_StopStrings(tokenizer, list(stop), enc["input_ids"].shape[1])])
        gen = model.generate(**enc, **kwargs)[:, enc["input_ids"].shape[1]:]
        for i, ids in zip(idx, gen):
            out[i] = _cut(tokenizer.decode(ids, skip_special_tokens=True), stop)
        bar.update(len(idx))
    bar.close()
    return out


def score_item(task: str, rec: dict, generation: str, lang: str) -> dict:
    """Per-item result: gold, extracted answer, correctness (or ROUGE-L): the task's own scoring."""
    return get_task(task).score(rec, generation, lang)


def summarize(task: str, rows: list[dict]) -> dict:
    """Scores in percent: accuracy (and EM/F1 for XQuAD), or ROUGE-L (and ROUGE-L ASCII) for XL-Sum."""
    t = get_task(task)
    n = len(rows)

    def mean(key):
        return 100.0 * sum(float(r[key]) for r in rows) / max(n, 1)

    out = {"n_items": n, "n_empty": sum(1 for r in rows if not r["prediction"].strip())}
    if t.metric == "rougeL":
        out.update(metric="rougeL", score=mean("rougeL"), rougeL=mean("rougeL"))
    else:
        out.update(metric="accuracy", score=mean("correct"), accuracy=mean("correct"))
    out.update({key: mean(key) for key in t.means})
    if t.parsed:
        out["n_unparsed"] = sum(1 for r in rows if r["extracted"] is None)
    return out


def evaluate(model, tokenizer, task: str, lang: str, records: list[dict], max_new_tokens: int, stop=(),
             batch_size: int = 16, chat_template: bool = False, progress: bool = True) -> tuple[dict, list[dict]]:
    """(summary scores, per-item rows with prompt, prediction, gold, extracted, correct)."""
    prompts = [build_prompt(tokenizer, task, rec, lang, chat_template) for rec in records]
    gens = generate(model, tokenizer, prompts, max_new_tokens, stop, batch_size, progress,
                    add_special_tokens=not chat_template)
    rows = []
    for rec, prompt, gen in zip(records, prompts, gens):
        rows.append({"id": rec.get("id"), "prompt": prompt, "prediction": gen, **score_item(task, rec, gen, lang)})
    return summarize(task, rows), rows
