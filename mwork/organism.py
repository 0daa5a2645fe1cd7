"""The model organism: a byte-level BPE tokenizer and a tiny Llama trained on the embedded corpus.

The organism is saved with ``save_pretrained`` together with its tokenizer, so every downstream rule
loads it exactly as it would load a hub model (``mwork.models.load_model(path)``).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .corpus import read_corpus
from .errors import MworkError
from .languages import per_key
from .tasks.registry import format_prompt, format_target
from .tasks.suites import TASKS, load_suites

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
# CJK unified ideographs (+ extension A), kana and hangul syllables: one pre-token per character
CJK_CHAR = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"


# --------------------------------------------------------------------------------------------------
# tokenizer


def train_tokenizer(texts, vocab_size: int, out_dir: str | Path | None = None):
    """A byte-level BPE (``tokenizers``) wrapped as a ``PreTrainedTokenizerFast``.

    Digits are split one by one before BPE, so numbers are spelled digit by digit (arithmetic is
    learnable at this size), and every CJK character is its own pre-token, as Llama-2's tokenizer
    mostly encodes Chinese one character at a time — otherwise BPE merges a verb with the city after it
    ("住在北京") and an answer can never be copied from the context. The tokenizer prepends ``<s>``; ``</s>`` ends every training text.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.Split(Regex(CJK_CHAR), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   padding_side="left", clean_up_tokenization_spaces=False)
    if out_dir is not None:
        fast.save_pretrained(out_dir)
    return fast


# --------------------------------------------------------------------------------------------------
# the training mix


def training_texts(corpus: dict[str, list[dict]], suites: dict, mix: dict, seed: int) -> list[tuple[str, str, str]]:
    """(language, kind, text) triples of the organism's training mix.

    ``corpus``: language -> documents (only the ``train`` split is used). ``suites``: the output of
    ``generate_suites`` (train splits are formatted with the evaluation prompts, then the target).
    ``mix``: ``corpus_repeats`` per language (``en`` / ``default``), ``world_repeats`` (a number, or per
    language with ``default``), ``reasoning_target`` (``direct`` / ``cot``, see ``format_target``) and
    ``world_facts_per_doc`` for the knowledge suite's statements.
    """
    rng = random.Random(f"{seed}-mix")
    out = []
    reps = mix.get("corpus_repeats", {})
    for lang, docs in corpus.items():
        r = per_key(reps, lang, 1)
        for d in docs:
            if d["split"] == "train":
                out.extend([(lang, "corpus", d["text"])] * r)
    for task, by_lang in suites.items():
        if task == "world":
            continue
        for lang, splits in by_lang.items():
            for rec in splits["train"]:
                target = format_target(task, rec, lang, mix.get("reasoning_target", "direct"))
                out.append((lang, task, format_prompt(task, rec, lang) + " " + target))
    per_doc = mix.get("world_facts_per_doc", 6)
    wr = mix.get("world_repeats", 1)
    for lang, statements in suites.get("world", {}).items():
        sep = "" if lang in ("zh", "ja") else " "
        for _ in range(per_key(wr, lang, 1)):
            st = list(statements)
            rng.shuffle(st)
            for i in range(0, len(st), per_doc):
                out.append((lang, "world", sep.join(st[i:i + per_doc])))
    rng.shuffle(out)
    return out


# --------------------------------------------------------------------------------------------------
# model


def organism_config(tokenizer, arch: dict):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch["hidden_size"],
        intermediate_size=arch["intermediate_size"],
        num_hidden_layers=arch["num_layers"],
        num_attention_heads=arch["num_heads"],
        num_key_value_heads=arch.get("num_kv_heads", arch["num_heads"]),
        max_position_embeddings=arch.get("max_position_embeddings", 1024),
        rope_theta=arch.get("rope_theta", 10000.0),
        tie_word_embeddings=arch.get("tie_embeddings", True),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _pack(token_lists: list[list[int]], seq_len: int) -> torch.Tensor:
    """Concatenate tokenized texts and cut them into rows of ``seq_len`` (the ragged tail is dropped)."""
    flat = [t for ids in token_lists for t in ids]
    n = len(flat) // seq_len
    return torch.tensor(flat[: n * seq_len], dtype=torch.long).view(n, seq_len)


def _encode(tokenizer, texts: list[str]) -> list[list[int]]:
    enc = tokenizer(texts, add_special_tokens=True)["input_ids"]
    return [ids + [tokenizer.eos_token_id] for ids in enc]


@torch.no_grad()
def heldout_loss(model, tokenizer, texts: list[str], seq_len: int, batch_size: int = 16) -> tuple[float, int]:
    """Mean next-token loss (nats) over held-out documents packed into ``seq_len`` rows; (loss, n_tokens)."""
    model.eval()
    rows = _pack(_encode(tokenizer, texts), seq_len)
    if len(rows) == 0:  # shorter than one row: use the whole thing as one row
        ids = [t for x in _encode(tokenizer, texts) for t in x]
        rows = torch.tensor([ids], dtype=torch.long)
    total, n = 0.0, 0
    for i in range(0, len(rows), batch_size):
        batch = rows[i:i + batch_size].to(next(model.parameters()).device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1),
                                                 reduction="sum")
        total += loss.item()
        n += batch[:, 1:].numel()
    model.train()
    return total / max(n, 1), n


def train_organism(texts: list[tuple[str, str, str]], tokenizer, arch: dict, train: dict, seed: int,
                   heldout: dict[str, list[str]] | None = None, log=print, progress: bool = True,
                   device: str = "cpu"):
    """Train a ``LlamaForCausalLM`` from scratch; returns (model, curve rows).

    ``train``: steps, batch_size, seq_len, lr, warmup_steps, weight_decay, eval_every.
    The curve holds the training loss every step window and held-out loss (English and the mean over
    languages) every ``eval_every`` steps.
    """
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    random.seed(seed)
    model = LlamaForCausalLM(organism_config(tokenizer, arch)).to(device)
    model.train()
    seq_len, bs, steps = train["seq_len"], train["batch_size"], train["steps"]
    rows = _pack(_encode(tokenizer, [t for _, _, t in texts]), seq_len)
    log(f"organism: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
        f"{rows.numel() / 1e6:.2f}M training tokens in {len(rows)} rows of {seq_len}; {steps} steps of {bs}")
    opt = torch.optim.AdamW(model.parameters(), lr=train["lr"], betas=(0.9, 0.95),
                            weight_decay=train.get("weight_decay", 0.1))
    warm = train.get("warmup_steps", max(1, steps // 20))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    g = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(len(rows), generator=g), 0
    curve, window, t0 = [], [], time.time()
    eval_every = train.get("eval_every", max(1, steps // 10))
    bar = tqdm(range(steps), desc="train organism", disable=not progress, mininterval=5)
    for step in bar:
        if pos + bs > len(perm):
            perm, pos = torch.randperm(len(rows), generator=g), 0
        batch = rows[perm[pos:pos + bs]].to(device)
        pos += bs
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train.get("grad_clip", 1.0))
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        window.append(loss.item())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            row = {"step": step + 1, "seconds": round(time.time() - t0, 1), "train_loss": sum(window) / len(window),
                   "lr": sched.get_last_lr()[0]}
            window = []
            if heldout:
                losses = {lang: heldout_loss(model, tokenizer, docs[:64], seq_len)[0] for lang, docs in heldout.items()}
                row["heldout_loss_en"] = losses.get("en", float("nan"))
                row["heldout_loss_mean"] = sum(losses.values()) / len(losses)
            curve.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}")
            log(json.dumps(row))
    model.eval()
    return model, curve


def load_corpus(paths) -> dict[str, list[dict]]:
    """language -> documents, from results/corpus/{corpus}/{lang}.jsonl paths."""
    return {Path(p).stem: read_corpus(p) for p in paths}


def suites_root(suite_files) -> str:
    """The folder of the suites rule's outputs (``<root>/world.json`` beside ``<root>/<task>/<lang>.<split>.jsonl``)."""
    world = [f for f in suite_files if Path(f).name == "world.json"]
    if not world:
        raise MworkError("the organism rules need the suites rule's outputs (world.json among them) as input")
    return str(Path(world[0]).parent)


def mix_for_rule(corpus_paths, suites_root: str, mix: dict, seed: int):
    """The training mix as the organism rules build it from their inputs."""
    corpus = load_corpus(corpus_paths)
    suites = load_suites(suites_root, TASKS, list(corpus))
    return corpus, training_texts(corpus, suites, mix, seed)
