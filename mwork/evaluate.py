"""The evaluator: batched greedy generation and scoring of one task in one language.

One function serves every experiment: the baselines (Table 11), every deactivation setting (the model
is evaluated inside ``mwork.masking.deactivate``) and the enhanced models.
"""

from __future__ import annotations

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from .tasks.prompts import format_prompt
from .tasks.registry import get_task, task_stops


def cut_tokens(tokenizer, text: str, n: int) -> tuple[str, bool]:
    """(the first ``n`` of the text's tokens as text, whether anything was cut)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= n:
        return text, False
    return tokenizer.decode(ids[:n], skip_special_tokens=True), True


def build_prompt(tokenizer, task: str, rec: dict, lang: str, chat_template: bool,
                 max_context_tokens: int | None = None) -> tuple[str, bool]:
    """(the prompt, whether the task's long text was cut to ``max_context_tokens`` tokens)."""
    field, cut = get_task(task).long_field, False
    if max_context_tokens and field:
        text, cut = cut_tokens(tokenizer, rec[field], max_context_tokens)
        rec = {**rec, field: text}
    prompt = format_prompt(task, rec, lang)
    if chat_template:
        if not getattr(tokenizer, "chat_template", None):
            from .errors import MworkError

            raise MworkError("models.<name>.chat_template: true, but the tokenizer has no chat template")
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                               add_generation_prompt=True)
    return prompt, cut


def check_context(model, tokenizer, task: str, lang: str, prompts: list[str], max_new_tokens: int,
                  add_special_tokens: bool) -> None:
    """Every prompt and its new tokens fit the model's context window, or an error says what to set."""
    from .errors import MworkError

    window = getattr(model.config, "max_position_embeddings", None)
    if not window or not prompts:
        return
    longest = max(len(ids) for ids in tokenizer(prompts, add_special_tokens=add_special_tokens)["input_ids"])
    if longest + max_new_tokens > window:
        hint = (f"set eval.generation.{task}.max_context_tokens to cut the {get_task(task).long_field} field"
                if get_task(task).long_field else f"lower eval.generation.{task}.max_new_tokens")
        raise MworkError(f"{task}/{lang}: a prompt of {longest} tokens plus max_new_tokens {max_new_tokens} exceeds "
                         f"the model's context window of {window} tokens (max_position_embeddings); {hint}")


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
    scopes = sorted({r["fact_scope"] for r in rows if r.get("fact_scope")})
    if scopes:  # the knowledge suite: accuracy on recalled facts and on transferred ones, apart
        out["by_fact_scope"] = {sc: {"accuracy": 100.0 * sum(float(r["correct"]) for r in rows if r.get("fact_scope") == sc)
                                     / sum(1 for r in rows if r.get("fact_scope") == sc),
                                     "n": sum(1 for r in rows if r.get("fact_scope") == sc)} for sc in scopes}
    # each item's id and values (percent), for the tables' paired bootstrap CIs (mwork.stats)
    value = "rougeL" if t.metric == "rougeL" else "correct"
    out["items"] = {"id": [r.get("id", i) for i, r in enumerate(rows)],
                    "score": [100.0 * float(r[value]) for r in rows],
                    **{key: [100.0 * float(r[key]) for r in rows] for key in t.means}}
    return out


def evaluate(model, tokenizer, task: str, lang: str, records: list[dict], max_new_tokens: int, stop=(),
             batch_size: int = 16, chat_template: bool = False, progress: bool = True,
             max_context_tokens: int | None = None) -> tuple[dict, list[dict]]:
    """(summary scores, per-item rows with prompt, prediction, gold, extracted, correct). ``stop``: the
    configured stop strings; the task's own (MGSM: the localized "Question:") are added."""
    stop = task_stops(task, lang, stop)
    built = [build_prompt(tokenizer, task, rec, lang, chat_template, max_context_tokens) for rec in records]
    prompts = [p for p, _ in built]
    check_context(model, tokenizer, task, lang, prompts, max_new_tokens, add_special_tokens=not chat_template)
    gens = generate(model, tokenizer, prompts, max_new_tokens, stop, batch_size, progress,
                    add_special_tokens=not chat_template)
    rows = []
    for rec, prompt, gen in zip(records, prompts, gens):
        rows.append({"id": rec.get("id"), "prompt": prompt, "prediction": gen, **score_item(task, rec, gen, lang)})
    summary = summarize(task, rows)
    if get_task(task).long_field:
        summary["n_context_cut"] = sum(cut for _, cut in built)
    return summary, rows


def run_task(model, tokenizer, *, model_name: str, task: str, lang: str, setting: str, source: str, records: list[dict],
             generation: dict, batch_size: int, n_items, chat_template: bool, seed: int,
             deactivation: dict | None = None) -> tuple[dict, list[dict]]:
    """One evaluation as the scores files hold it: (the scores with every setting that made them, the
    per-item rows). ``generation``: the task's eval.generation entry (max_new_tokens, stop,
    max_context_tokens). The evaluation rule and the tuned models' evaluation both write this."""
    from .tasks.data import TASK_DATA

    gen = {"max_new_tokens": 32, "stop": [], "max_context_tokens": None, **generation}
    scores, rows = evaluate(model, tokenizer, task, lang, records, gen["max_new_tokens"], gen["stop"],
                            batch_size=batch_size, chat_template=chat_template,
                            max_context_tokens=gen["max_context_tokens"])
    out = {"model": model_name, "task": task, "dataset": TASK_DATA[task].dataset if source in ("hub", "files") else
           f"suite:{task}", "language": lang, "setting": setting, **scores, "deactivation": deactivation or None,
           "settings": {"source": source, "max_new_tokens": gen["max_new_tokens"],
                        "stop": task_stops(task, lang, gen["stop"]), "max_context_tokens": gen["max_context_tokens"],
                        "batch_size": batch_size, "n_items": n_items, "chat_template": chat_template,
                        "seed": seed, "decoding": "greedy"}}
    return out, rows
