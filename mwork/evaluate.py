"""The evaluator: batched greedy generation and scoring of one task in one language.

One function serves every experiment: the baselines (Table 11), every deactivation setting (the model
is evaluated inside ``mwork.masking.deactivate``) and the enhanced models.
"""

from __future__ import annotations

import copy
import sys

import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from .drafted import DRAFTS, check_drafting, generate_drafted
from .drafted import code_digest as draft_code
from .errors import MworkError
from .gencache import GenerationCache, GenerationStore
from .models import DTYPES
from .tasks.data import TASK_DATA
from .tasks.registry import format_prompt, get_task, task_stops


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
            raise MworkError("models.<name>.chat_template: true, but the tokenizer has no chat template")
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                               add_generation_prompt=True)
    return prompt, cut


def check_context(model, tokenizer, task: str, lang: str, prompts: list[str], max_new_tokens: int,
                  add_special_tokens: bool) -> None:
    """Every prompt and its new tokens fit the model's context window, or an error says what to set."""
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


# How generation runs (config ``eval.engine``). ``batching``: ``static`` is transformers' ``generate`` on
# batches of ``batch_size`` prompts, shortest first, each batch running until its longest answer stops (the
# reference); ``continuous`` is transformers' continuous batching (``generate_batch``: sequences packed
# without padding, a finished sequence's slot taken by the next prompt at once). ``dtype``: ``model`` (the
# model's own, models.<name>.dtype), ``float32`` or ``bfloat16``. Greedy decoding and the stop-string cut are
# the same in every engine; only the arithmetic differs (bfloat16 rounding; packed vs padded shapes).
# ``draft``: ``original`` checks each answer of a deactivated model against the model's own answer (the
# setting ``original``) before generating (``mwork.drafted``): the same greedy text, one pass per answer
# where the deactivation leaves it as it was.
ENGINE_DEFAULTS = {"batching": "static", "dtype": "model", "draft": "none"}
BATCHINGS = ("static", "continuous")
ENGINE_DTYPES = ("model", "float32", "bfloat16")


def engine_of(spec: dict | None) -> dict:
    """The engine with its defaults filled in; an unknown key or value is an error naming it."""
    spec = dict(spec or {})
    unknown = sorted(set(spec) - set(ENGINE_DEFAULTS))
    if unknown:
        raise MworkError(f"eval.engine: unknown key(s) {unknown}; the keys are {sorted(ENGINE_DEFAULTS)}")
    out = {**ENGINE_DEFAULTS, **spec}
    if out["batching"] not in BATCHINGS:
        raise MworkError(f"eval.engine.batching: {out['batching']!r} is not one of {', '.join(BATCHINGS)}")
    if out["dtype"] not in ENGINE_DTYPES:
        raise MworkError(f"eval.engine.dtype: {out['dtype']!r} is not one of {', '.join(ENGINE_DTYPES)}")
    if out["draft"] not in DRAFTS:
        raise MworkError(f"eval.engine.draft: {out['draft']!r} is not one of {', '.join(DRAFTS)}")
    return out


def engine_cast(model, engine: dict | None):
    """The model in the engine's dtype (in place; ``model`` keeps it as loaded). Cast after loading, and after
    the neuron files were checked against the model's fingerprint, which is that of the weights as stored."""
    dtype = engine_of(engine)["dtype"]
    if dtype != "model" and next(model.parameters()).dtype != DTYPES[dtype]:
        # rotary frequencies are buffers that a model loaded in bfloat16 keeps in float32: rounded, the
        # angles drift by tenths of a radian a few hundred positions in
        keep = {name: buf for name, buf in model.named_buffers() if name.endswith("inv_freq")}
        model.to(DTYPES[dtype])
        for name, buf in keep.items():
            owner, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(owner), leaf, buf)
    return model


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, stop: list[str] | tuple = (),
             batch_size: int = 16, progress: bool = True, add_special_tokens: bool = True,
             batching: str = "static", on_done=None) -> list[str]:
    """Greedy continuations of ``prompts``, cut at ``stop``. ``batching="static"``: batches of ``batch_size``
    by length, left padding, KV cache, a batch stops when every row has a stop string or EOS;
    ``"continuous"``: :func:`generate_continuous`. ``on_done(indices, texts)``: called with each batch's
    (static) or each sequence's (continuous) final text as soon as it is done."""
    if batching == "continuous":
        return generate_continuous(model, tokenizer, prompts, max_new_tokens, stop, batch_size, progress,
                                   add_special_tokens, on_done=on_done)

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
        if on_done is not None:
            on_done(idx, [out[i] for i in idx])
        bar.update(len(idx))
    bar.close()
    return out


def varlen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, cu_seq_lens_q=None,
                     cu_seq_lens_k=None, **kwargs):
    """Attention of packed sequences, each over its own keys only: SDPA per sequence (``cu_seq_lens_q`` /
    ``cu_seq_lens_k`` delimit them; a sequence's queries are the last of its keys, causal). transformers'
    SDPA path for continuous batching attends every query over every packed key under a mask, so on a CPU
    its cost grows with the square of the number of sequences; this costs what padded batches cost without
    the padding. query (1, heads, total_q, d), key/value (1, kv_heads, total_k, d) -> (1, total_q, heads, d)."""
    q_bounds, k_bounds = cu_seq_lens_q.tolist(), cu_seq_lens_k.tolist()
    out = torch.empty(query.shape[0], query.shape[2], query.shape[1], query.shape[3], dtype=query.dtype,
                      device=query.device)
    gqa = key.shape[1] != query.shape[1]
    for i in range(len(q_bounds) - 1):
        q0, q1, k0, k1 = q_bounds[i], q_bounds[i + 1], k_bounds[i], k_bounds[i + 1]
        if q1 == q0:
            continue
        q, k, v = query[:, :, q0:q1], key[:, :, k0:k1], value[:, :, k0:k1]
        n_q, n_k = q1 - q0, k1 - k0
        mask = None if n_q == 1 else torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(n_k - n_q)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling, enable_gqa=gqa)
        out[:, q0:q1] = o.transpose(1, 2)
    return out, None


class _VarlenSDPA:
    """While active, transformers' ``sdpa`` attention is :func:`varlen_attention` (registered through
    ``AttentionInterface``, the original put back on exit): continuous batching accepts only ``sdpa``,
    ``paged|eager`` or flash-attention implementations, and its ``sdpa`` path passes the sequence bounds
    that ``varlen_attention`` uses beside the mask it ignores."""

    # continuous batching's API (recent transformers) is imported where it is used: static batching and every
    # module importing this one work with the older transformers pyproject.toml allows
    def __enter__(self):
        from transformers import AttentionInterface
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        self.original = ALL_ATTENTION_FUNCTIONS["sdpa"]
        AttentionInterface.register("sdpa", varlen_attention)

    def __exit__(self, *exc):
        from transformers import AttentionInterface

        AttentionInterface.register("sdpa", self.original)


@torch.no_grad()
def generate_continuous(model, tokenizer, prompts: list[str], max_new_tokens: int, stop=(), batch_size: int = 16,
                        progress: bool = True, add_special_tokens: bool = True, on_done=None) -> list[str]:
    """Greedy continuations by transformers' continuous batching, at most ``batch_size`` sequences at a
    time: sequences are packed without padding into one paged KV cache and a finished one's place goes to
    the next prompt. A sequence runs to EOS or ``max_new_tokens`` (the stop strings cut the text
    afterwards, as in the static path: greedy decoding makes the kept prefix the same). Forward hooks on
    the projections (``mwork.masking.deactivate``) act as in ``generate``: they see the packed tokens.
    The manager's loop of ``generate_batch``, with each sequence handed to ``on_done`` as it finishes."""
    from transformers import ContinuousBatchingConfig

    if not prompts:
        return []
    ids = tokenizer(prompts, add_special_tokens=add_special_tokens)["input_ids"]
    # the model's own generation config with the static path's overrides, as generate() merges them
    config = copy.deepcopy(model.generation_config) if model.generation_config is not None else GenerationConfig()
    config.update(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id)
    # the paged cache sized for batch_size of the longest sequences (by default it takes most of the free
    # memory, and on a CPU allocating it and the attention mask over all of it costs more than the decoding)
    longest, page = max(len(x) for x in ids) + max_new_tokens, 256
    cb = ContinuousBatchingConfig(max_requests_per_batch=batch_size, allow_block_sharing=False, page_size=page,
                                  max_blocks_per_request=0, use_cuda_graph=False, auto_switch_to_flash=False,
                                  num_blocks=batch_size * -(-longest // page) + 1, max_batch_tokens=512,
                                  scheduler_type="fifo")
    attn = model.config._attn_implementation
    _check_continuous(model)
    try:
        model.set_attn_implementation("sdpa")
        with _VarlenSDPA():
            texts, failed = _continuous_loop(model, tokenizer, ids, config, cb, stop, progress, on_done)
    finally:
        if model.config._attn_implementation != attn:
            model.set_attn_implementation(attn)
    # the manager does not raise: an error in its thread (a hook, the attention, memory) marks the requests
    # failed or leaves them unanswered, which would be scored as (empty) answers
    missing = sum(t is None for t in texts) - len(failed)
    if failed or missing:
        first = failed[0] if failed else "requests missing"
        raise MworkError(f"continuous batching: {len(failed)} of {len(prompts)} generations failed and "
                         f"{missing} are missing (first error: {first}); "
                         f"see the log above, or run with eval.engine.batching: static")
    return texts


def _continuous_loop(model, tokenizer, ids, config, cb, stop, progress, on_done):
    """(texts in the prompts' order, None where none came back; the errors of failed requests), running the
    manager as ``generate_batch`` does and handing each finished sequence to ``on_done``. An exception
    (storing a result, a kill) stops the manager at once, failing what is queued instead of generating it."""
    from transformers.generation.continuous_batching.requests import RequestStatus

    texts: list[str | None] = [None] * len(ids)
    failed: list[str] = []
    bar = tqdm(total=len(ids), desc="generate", disable=not progress, mininterval=5)
    with model.continuous_batching_context_manager(generation_config=config, continuous_batching_config=cb,
                                                   block=True, timeout=5, warmup=False) as manager:
        try:
            index = {rid: i for i, rid in enumerate(manager.add_requests(inputs=ids,
                                                                         max_new_tokens=config.max_new_tokens))}
            done = 0
            while done < len(ids):
                result = manager.get_result(timeout=1)
                if result is None:
                    if not manager.is_running():
                        break
                    continue
                if not result.is_finished():
                    continue
                done += 1
                bar.update(1)
                if result.error is not None or result.status != RequestStatus.FINISHED:
                    failed.append(str(result.error))
                    continue
                i = index[result.request_id]
                texts[i] = _cut(tokenizer.decode(result.generated_tokens, skip_special_tokens=True), stop)
                if on_done is not None:
                    on_done([i], [texts[i]])
        except BaseException:
            manager.stop(block=True, timeout=5, hard_stop=True)
            raise
    bar.close()
    return texts, failed


def generate_stored(cache: GenerationCache, model, tokenizer, prompts: list[str], *, also: tuple = (),
                    drafts: dict[str, str] | None = None, **kwargs) -> list[str]:
    """``generate`` for the prompts ``cache`` lacks, each stored as soon as it is done (a static batch, a
    continuous sequence), so a killed job keeps everything it finished. The static path's batches are the
    ones it makes of these prompts. ``also``: caches read first (a drafted run's plain generations, which it
    stands in for); ``drafts``: ``{prompt: draft}``, generated by ``mwork.drafted.generate_drafted``."""
    have: dict[str, str] = {}
    for source in (*also, cache):
        have.update({p: g for p, g in source.get(prompts).items() if p not in have})
    todo = list(dict.fromkeys(p for p in prompts if p not in have))
    print(f"generation cache {cache.folder}: {len(prompts) - sum(p not in have for p in prompts)} of "
          f"{len(prompts)} prompts stored, generating {len(todo)}", file=sys.stderr)
    if todo:
        def store(idx, texts):
            cache.add([todo[i] for i in idx], texts)

        if drafts is None:
            gens = generate(model, tokenizer, todo, on_done=store, **kwargs)
        else:
            kwargs.pop("batching", None)
            gens = generate_drafted(model, tokenizer, todo, [drafts.get(p) for p in todo], on_done=store, **kwargs)
        have.update(zip(todo, gens))
    return [have[p] for p in prompts]


def _check_continuous(model) -> None:
    """Continuous batching here serves models whose every layer attends over all earlier positions with plain
    scaled dot products (Llama, Qwen2/3, Mistral without a window); the others are refused, naming why."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    windowed = "sliding_attention" in (getattr(cfg, "layer_types", None) or []) or (
        getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True)
        and not getattr(cfg, "layer_types", None))
    capped = getattr(cfg, "attn_logit_softcapping", None)
    if windowed or capped or not getattr(model, "_supports_attention_backend", False):
        why = ("sliding-window layers" if windowed else "attention logit soft-capping" if capped
               else "no pluggable attention")
        raise MworkError(f"eval.engine.batching: continuous is not supported for {cfg.model_type} ({why}); "
                         f"use batching: static")


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
             max_context_tokens: int | None = None, batching: str = "static",
             store: GenerationStore | None = None, drafts: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    """(summary scores, per-item rows with prompt, prediction, gold, extracted, correct). ``stop``: the
    configured stop strings; the task's own (MGSM: the localized "Question:") are added. ``batching``: the
    engine's (``generate``). ``store``: the model's stored generations (``mwork.gencache``): only the
    prompts not stored under these settings are generated, each stored as soon as it is done. ``drafts``:
    ``{prompt: the model's own answer}``, each checked before generating (``mwork.drafted``); stored under
    a key of their own, the plain generations of the same settings read first."""
    stop = task_stops(task, lang, stop)
    built = [build_prompt(tokenizer, task, rec, lang, chat_template, max_context_tokens) for rec in records]
    prompts = [p for p, _ in built]
    check_context(model, tokenizer, task, lang, prompts, max_new_tokens, add_special_tokens=not chat_template)
    args = dict(max_new_tokens=max_new_tokens, stop=list(stop), add_special_tokens=not chat_template,
                batching=batching)
    if drafts is not None:
        check_drafting(model)
    if store is None and drafts is None:
        gens = generate(model, tokenizer, prompts, batch_size=batch_size, progress=progress, **args)
    elif store is None:
        gens = generate_drafted(model, tokenizer, prompts, [drafts.get(p) for p in prompts], max_new_tokens, stop,
                                batch_size=batch_size, progress=progress, add_special_tokens=not chat_template)
    else:
        cache, also = store.for_settings(**args), ()
        if drafts is not None:
            cache, also = store.for_settings(**args, draft="original", draft_code=draft_code()), (cache,)
        gens = generate_stored(cache, model, tokenizer, prompts, also=also, drafts=drafts, batch_size=batch_size,
                               progress=progress, **args)
    rows = []
    for rec, prompt, gen in zip(records, prompts, gens):
        rows.append({"id": rec.get("id"), "prompt": prompt, "prediction": gen, **score_item(task, rec, gen, lang)})
    summary = summarize(task, rows)
    if get_task(task).long_field:
        summary["n_context_cut"] = sum(cut for _, cut in built)
    return summary, rows


def run_task(model, tokenizer, *, model_name: str, task: str, lang: str, setting: str, source: str, records: list[dict],
             generation: dict, batch_size: int, n_items, chat_template: bool, seed: int,
             deactivation: dict | None = None, engine: dict | None = None,
             store: GenerationStore | None = None, drafts: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    """One evaluation as the scores files hold it: (the scores with every setting that made them, the
    per-item rows). ``generation``: the task's eval.generation entry (max_new_tokens, stop,
    max_context_tokens); ``engine``: eval.engine, recorded with the model's dtype as it ran. The evaluation
    rule and the tuned models' evaluation both write this; the model is already cast (``engine_cast``).
    ``store``: its stored generations; ``drafts``: the answers checked first (``evaluate``), recorded as the
    engine's ``draft`` (``none`` without them)."""
    gen = {"max_new_tokens": 32, "stop": [], "max_context_tokens": None, **generation}
    engine = engine_of(engine)
    scores, rows = evaluate(model, tokenizer, task, lang, records, gen["max_new_tokens"], gen["stop"],
                            batch_size=batch_size, chat_template=chat_template,
                            max_context_tokens=gen["max_context_tokens"], batching=engine["batching"], store=store,
                            drafts=drafts)
    engine = {**engine, "draft": "original" if drafts is not None else "none",
              "ran_in": str(next(model.parameters()).dtype).removeprefix("torch.")}
    out = {"model": model_name, "task": task, "dataset": TASK_DATA[task].dataset if source in ("hub", "files") else
           f"suite:{task}", "language": lang, "setting": setting, **scores, "deactivation": deactivation or None,
           "settings": {"source": source, "max_new_tokens": gen["max_new_tokens"],
                        "stop": task_stops(task, lang, gen["stop"]), "max_context_tokens": gen["max_context_tokens"],
                        "batch_size": batch_size, "n_items": n_items, "chat_template": chat_template,
                        "seed": seed, "decoding": "greedy", "engine": engine}}
    return out, rows
