"""Greedy generation checked against a draft: the unmodified model's answer to the same prompt.

Deactivating a language's neurons leaves most answers of most rows as they were, and where an answer
changes it usually changes part-way. Greedy decoding pays one forward pass per new token; checking a draft
pays one pass for all of them. Over ``prompt + draft``, the argmax at draft position ``j`` is the greedy
token after the prompt and the draft's first ``j`` tokens. So the draft's tokens are accepted up to the
first one that differs from its argmax, and that argmax is the next greedy token: the verification step of
speculative decoding, with the stored answer of the model as it is (setting ``original``) as the draft.
Where the answer goes on from there, it is generated from there in batches, on the checks' KV caches cut
back to the accepted tokens and left-padded into one (without a draft, or with a sliding-window layer whose
cut window cannot be merged, from the prompt), each sequence stopping at EOS, at its token budget, or as
soon as its text holds a stop string, after which the cut text cannot change.

The text is the greedy text whatever the draft: a wrong draft costs time, never tokens. It is exact up to
float rounding, as batching is: one pass over the whole sequence rounds differently from a pass per token
(``python -m benchmarks.eval_draft`` compares it with the stored plain generations, item by item).
On a CPU it turns an MGSM answer of about 190 tokens from 190 passes into one (``eval.engine.draft``).
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import warnings

import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList

from .errors import MworkError

DRAFTS = ("none", "original")
# generation-config fields that make the next token something other than the argmax of the logits
_PROCESSED = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0,
              "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
              "sequence_bias": None, "forced_bos_token_id": None, "forced_eos_token_id": None,
              "min_new_tokens": None, "min_length": 0}


def check_drafting(model) -> None:
    """Refuse a model whose generation config changes the logits before the argmax (a repetition penalty,
    banned words, a minimum length): the draft check reads the plain argmax."""
    config = getattr(model, "generation_config", None)
    for field, neutral in _PROCESSED.items():
        value = getattr(config, field, neutral) if config is not None else neutral
        if value not in (neutral, None):
            raise MworkError(f"eval.engine.draft: the model's generation config sets {field}={value!r}, so a "
                             f"greedy token is not the argmax the draft check reads; use draft: none")


def code_digest() -> str:
    """The source of what the draft path adds to generation (it joins the generation store's key)."""
    parts = [inspect.getsource(obj) for obj in (generate_drafted, accepted, settled, _continue, _Ends)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@torch.no_grad()
def accepted(model, prompt: list[int], draft: list[int]):
    """(the greedy tokens that one pass over ``prompt + draft`` establishes: the draft's tokens up to the first
    that differs from the argmax before it, and that argmax; the pass's KV cache cut back to the prompt and
    the accepted draft tokens, or None where the cache cannot be cut, e.g. past a sliding window)."""
    device = next(model.parameters()).device
    x = torch.tensor([prompt + draft], device=device)
    out = model(input_ids=x, use_cache=True, logits_to_keep=len(draft) + 1)
    greedy = out.logits[0].argmax(-1).tolist()
    k = next((j for j, t in enumerate(draft) if greedy[j] != t), len(draft))
    cache = out.past_key_values
    try:
        cache.crop(k - len(draft))  # remove the rejected draft tokens (0: none)
        if cache.get_seq_length() != len(prompt) + k:
            cache = None
    except (AttributeError, RuntimeError, ValueError):
        cache = None
    return draft[:k] + [greedy[k]], cache


def settled(tokenizer, tokens: list[int], max_new_tokens: int, stop) -> list[int] | None:
    """``tokens`` as greedy decoding would end them (at EOS, included, or at ``max_new_tokens``), or as they
    are once their text holds a stop string (what follows cannot change the text before it); None while
    the answer could still go on."""
    tokens = tokens[:max_new_tokens]
    eos = tokenizer.eos_token_id
    if eos in tokens:
        return tokens[:tokens.index(eos) + 1]
    if len(tokens) == max_new_tokens:
        return tokens
    text = tokenizer.decode(tokens, skip_special_tokens=True).lstrip()
    return tokens if any(s in text for s in stop) else None


class _Ends(StoppingCriteria):
    """A batch row is done at its own token budget or once its text (the tokens it started with and those
    generated) holds a stop string; EOS is ``generate``'s own."""

    def __init__(self, tokenizer, stop, width: int, known: list[list[int]], budgets: list[int]):
        self.tokenizer, self.stop, self.width, self.known, self.budgets = tokenizer, stop, width, known, budgets

    def __call__(self, input_ids, scores, **kwargs):
        new = input_ids[:, self.width:].tolist()
        done = [len(row) >= budget or (bool(self.stop) and any(
            s in self.tokenizer.decode(known + row, skip_special_tokens=True).lstrip() for s in self.stop))
            for row, known, budget in zip(new, self.known, self.budgets)]
        return torch.tensor(done, device=input_ids.device)


def _merged(caches: list, lengths: list[int], width: int):
    """One batch's KV cache from single-sequence ones (the checks'): each layer's keys and values left-padded
    to ``width`` positions (the padding masked out, as left padding is), or None unless every layer of every
    cache is a plain one (a sliding-window layer keeps a cut window)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if any(type(layer) is not DynamicLayer for c in caches for layer in c.layers):
        return None
    merged = DynamicCache()
    for n in range(len(caches[0].layers)):
        pad = [(0, 0, width - length, 0) for length in lengths]
        keys = torch.cat([F.pad(c.layers[n].keys, p) for c, p in zip(caches, pad)])
        values = torch.cat([F.pad(c.layers[n].values, p) for c, p in zip(caches, pad)])
        merged.update(keys, values, n)
    return merged


@torch.no_grad()
def _continue(model, tokenizer, prompts: list[list[int]], known: list[list[int]], max_new_tokens: int,
              stop, caches: list | None = None) -> list[list[int]]:
    """Greedy tokens after ``prompt + known`` for one batch (left padding, KV cache), each row to EOS, its
    budget (``max_new_tokens - len(known)``) or a stop string; ``known + generated`` per row. ``caches``: each
    row's KV cache of ``prompt + known[:-1]`` (its check's), so only the last token is new to the model."""
    seqs = [p + k for p, k in zip(prompts, known)]
    width = max(map(len, seqs))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=device)
    budgets = [max_new_tokens - len(k) for k in known]
    cache = _merged(caches, [len(s) - 1 for s in seqs], width - 1) if caches else None
    with warnings.catch_warnings():  # recent transformers call it `cache` and warn; older ones know only this name
        warnings.filterwarnings("ignore", message=".*past_key_values.*deprecated", category=FutureWarning)
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max(budgets), do_sample=False,
                             use_cache=True, pad_token_id=pad, eos_token_id=tokenizer.eos_token_id,
                             stopping_criteria=StoppingCriteriaList([_Ends(tokenizer, stop, width, known, budgets)]),
                             **({} if cache is None else {"past_key_values": cache}))
    return [k + row for k, row in zip(known, out[:, width:].tolist())]


def generate_drafted(model, tokenizer, prompts: list[str], drafts: list[str | None], max_new_tokens: int,
                     stop=(), batch_size: int = 16, progress: bool = True, add_special_tokens: bool = True,
                     on_done=None, stats: dict | None = None) -> list[str]:
    """Greedy continuations of ``prompts`` cut at ``stop``, as ``mwork.evaluate.generate`` gives them,
    each checked against its draft (a text: the stored answer of the model as it is; None: no draft). The
    check's last token, the greedy one after the accepted draft, settles an answer that ended there: EOS, or
    a token holding the stop string (a newline merged into the punctuation before it included). ``on_done(indices, texts)`` as each is done; ``stats`` (a dict) gets the counts: items,
    settled by the check alone, draft tokens, tokens accepted."""
    from .evaluate import _cut

    stop = list(stop)
    ids = tokenizer(prompts, add_special_tokens=add_special_tokens)["input_ids"]
    out: list[str | None] = [None] * len(prompts)
    known: list[list[int]] = [[] for _ in prompts]
    counts = {"items": len(prompts), "settled_by_draft": 0, "draft_tokens": 0, "accepted_tokens": 0}
    bar = tqdm(total=len(prompts), desc="generate (drafted)", disable=not progress, mininterval=5)

    def finish(i, tokens):
        out[i] = _cut(tokenizer.decode(tokens, skip_special_tokens=True), stop)
        if on_done is not None:
            on_done([i], [out[i]])
        bar.update(1)

    cached: list[tuple[int, object]] = []  # answers that left their draft, each with its check's KV cache

    def go_on(batch):  # (index, cache or None) -> generated on, in one batch
        idx = [i for i, _ in batch]
        caches = [c for _, c in batch] if all(c is not None for _, c in batch) else None
        for i, tokens in zip(idx, _continue(model, tokenizer, [ids[i] for i in idx], [known[i] for i in idx],
                                            max_new_tokens, stop, caches)):
            finish(i, settled(tokenizer, tokens, max_new_tokens, stop) or tokens[:max_new_tokens])

    for i, draft in enumerate(drafts):
        if draft is None:
            continue
        tokens = tokenizer(draft, add_special_tokens=False)["input_ids"]
        tokens = tokens[:max_new_tokens]
        known[i], cache = accepted(model, ids[i], tokens)
        counts["draft_tokens"] += len(tokens)
        counts["accepted_tokens"] += len(known[i]) - 1
        done = settled(tokenizer, known[i], max_new_tokens, stop)
        if done is not None:
            counts["settled_by_draft"] += 1
            finish(i, done)
        elif cache is not None:  # on from where the check left it, on its cache, batch_size at a time
            cached.append((i, cache))
            if len(cached) == batch_size:
                go_on(cached)
                cached = []
    if cached:
        go_on(cached)
    rest = sorted((i for i in range(len(prompts)) if out[i] is None), key=lambda i: len(ids[i]) + len(known[i]))
    for start in range(0, len(rest), batch_size):
        go_on([(i, None) for i in rest[start:start + batch_size]])
    bar.close()
    if stats is not None:
        stats.update(counts)
    print(f"drafted generation: {counts['settled_by_draft']} of {counts['items']} answers settled by the draft "
          f"alone; {counts['accepted_tokens']} of {counts['draft_tokens']} draft tokens accepted", file=sys.stderr)
    return out
