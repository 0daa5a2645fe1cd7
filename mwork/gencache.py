"""A store of greedy generations, so that an evaluation generates each prompt once.

An evaluation job is atomic to Snakemake: killed part-way (a session's or a SLURM allocation's end) it
leaves no scores file, and rerun with more items (``eval.n_items``) or after an edit of a metric it used
to generate everything again. On a CPU, where an XQuAD item costs seconds and an MGSM item ten, that
bounds how far the tables' sample sizes can grow. The store keeps every generation as soon as it is done
(a static batch, a continuous sequence), under ``results/cache/generations/``, keyed by everything the
greedy text depends on:

- the model as it ran (its config and every parameter and buffer, byte for byte, after the engine's cast;
  a tuned model is another model), the tokenizer and the generation config,
- the neurons deactivated (the hooks' indices per module),
- the generation settings (``max_new_tokens``, stop strings, special tokens, the engine's batching),
- the code that generates, casts and deactivates (``code_digest``), torch's, transformers' and tokenizers'
  versions and the device type,
- and the prompt itself (its SHA-256; the prompt is the whole text the model reads, chat template and
  context cut included).

What is not in the key: the batch a prompt was generated in. Greedy decoding of one prompt gives the same
text in any batch up to float rounding (the engine benchmark found the same answer on every item in
static and continuous batching), so a stored generation is the one this engine produced for that prompt.

Layout: one folder per key (``<model>/<task>/<lang>/<digest>/``) holding ``key.json`` (what the digest
was made of, for people) and one JSONL file per process that wrote to it, so parallel jobs (a cluster's
shared file system included) never append to the same file. A line cut by a kill is skipped when read.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import uuid
from pathlib import Path

import torch

from .io import write_text

ROOT = Path("results/cache/generations")


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def weights_digest(model) -> str:
    """A hash of the model as it computes: its config, and every parameter and buffer (persistent or not: the
    rotary frequencies are buffers a state dict leaves out) by name, dtype, shape and bytes (a tensor shared
    under two names is read once). About 1 GB/s: 3.5 s for Qwen-0.5B's 2.5 GB of float32."""
    cfg = model.config.to_dict()
    for key in ("_name_or_path", "transformers_version"):  # where it was loaded from, not what it computes
        cfg.pop(key, None)
    h, seen = hashlib.blake2b(json.dumps(cfg, sort_keys=True, default=str).encode(), digest_size=20), {}
    tensors = dict(model.named_parameters(remove_duplicate=False))
    tensors.update(model.named_buffers(remove_duplicate=False))
    for name, t in sorted(tensors.items()):
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        ptr = (t.data_ptr(), t.dtype, tuple(t.shape))
        if ptr in seen:
            h.update(f"={seen[ptr]}".encode())
            continue
        seen[ptr] = name
        h.update(t.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def tokenizer_digest(tokenizer, model) -> str:
    """What turns text into ids and back, and when generation stops: the tokenizer (its serialized
    vocabulary and rules, the special tokens and their ids, the chat template) and the model's generation
    config (e.g. a repetition penalty applies in both engines)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    parts = {"class": type(tokenizer).__name__,
             "backend": _sha(backend.to_str()) if backend is not None else _sha(repr(sorted(tokenizer.get_vocab().items()))),
             "special": {k: str(v) for k, v in sorted(tokenizer.special_tokens_map.items())},
             "ids": [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id],
             "chat_template": getattr(tokenizer, "chat_template", None),
             "generation_config": model.generation_config.to_json_string(use_diff=False)
             if getattr(model, "generation_config", None) is not None else None}
    return _sha(json.dumps(parts, sort_keys=True, default=str))


def masks_digest(masks: dict) -> str:
    """The neurons a ``mwork.masking.deactivate`` call zeroes: sorted indices per module (``none``: none)."""
    from .masking import as_index

    parts = [f"{name}:{','.join(map(str, as_index(sel).tolist()))}" for name, sel in sorted((masks or {}).items())]
    parts = [p for p in parts if not p.endswith(":")]
    return _sha(";".join(parts)) if parts else "none"


def code_digest() -> str:
    """The source of what turns a prompt into text: the generation functions, the engine's cast, the
    deactivation hooks and where they attach (architectures, neuron keys)."""
    from . import arch, evaluate, hooks, keys, masking

    parts = [inspect.getsource(obj) for obj in (evaluate.generate, evaluate.generate_continuous,
                                                evaluate._continuous_loop, evaluate.varlen_attention,
                                                evaluate._VarlenSDPA, evaluate._cut, evaluate._StopStrings,
                                                evaluate.engine_cast, arch, hooks, keys, masking)]
    return _sha("\n".join(parts))[:16]


class GenerationStore:
    """The stored generations of one model as it runs (weights after the engine's cast, neurons deactivated,
    code, versions, device). ``for_settings`` gives the cache of one set of generation settings."""

    def __init__(self, where: Path, base: dict):
        self.where, self.base = Path(where), base

    @classmethod
    def open(cls, model, tokenizer, masks: dict, *, model_name: str, task: str, lang: str,
             root: str | Path = ROOT) -> GenerationStore | None:
        """The store for ``model`` (cast already) and ``tokenizer`` with ``masks`` deactivated, under
        ``root/model/task/lang``; None (with a warning) for a model with weights offloaded to the meta
        device, whose bytes cannot be read to key it."""
        import tokenizers
        import transformers

        devices = {t.device.type for t in model.parameters()}
        if "meta" in devices:
            print(f"generation store off for {model_name}: weights offloaded (meta device) cannot be hashed",
                  file=sys.stderr)
            return None
        base = {"weights": weights_digest(model), "tokenizer": tokenizer_digest(tokenizer, model),
                "masks": masks_digest(masks), "code": code_digest(), "torch": torch.__version__,
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "device": ",".join(sorted(devices))}
        return cls(Path(root) / model_name / task / lang, base)

    def for_settings(self, **settings) -> GenerationCache:
        key = {**self.base, **settings}
        return GenerationCache(self.where / _sha(json.dumps(key, sort_keys=True, default=str))[:24], key)


class GenerationCache:
    """The generations stored under one key: ``get`` what is there, ``add`` as generations are done."""

    def __init__(self, folder: Path, key: dict):
        self.folder, self.key = Path(folder), key
        self._mine: Path | None = None

    def get(self, prompts: list[str]) -> dict[str, str]:
        """``{prompt: generation}`` for the prompts stored under this key."""
        want = {_sha(p): p for p in prompts}
        found: dict[str, str] = {}
        for path in sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []:
            with open(path, "rb") as fh:  # bytes: a line cut inside a multi-byte character is skipped too
                for line in fh:
                    try:
                        row = json.loads(line)
                        h, text = row["prompt_sha256"], row["generation"]
                    except (ValueError, KeyError, TypeError):  # a line cut by a kill (UnicodeDecodeError too)
                        continue
                    if h in want and isinstance(text, str):
                        found[want[h]] = text
        return found

    def add(self, prompts: list[str], generations: list[str]) -> None:
        """Append these generations, on disk before returning (a kill after this keeps them)."""
        if not prompts:
            return
        if self._mine is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not (self.folder / "key.json").exists():
                write_text(self.folder / "key.json", json.dumps(self.key, indent=1, sort_keys=True) + "\n")
            self._mine = self.folder / f"{uuid.uuid4().hex}.jsonl"
        text = "".join(json.dumps({"prompt_sha256": _sha(p), "generation": g}, ensure_ascii=False) + "\n"
                       for p, g in zip(prompts, generations, strict=True))
        with open(self._mine, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
