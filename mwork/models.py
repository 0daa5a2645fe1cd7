"""Loading models by hub id or local path, the same way for the organism and for real LLMs."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .deltas import apply_delta
from .errors import MworkError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def resolve_dtype(dtype: str | None, device: str) -> torch.dtype:
    """``auto`` (or None): bf16 on GPU, fp32 on CPU."""
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        raise MworkError(f"models.<name>.dtype: {dtype!r} is not one of auto, {', '.join(DTYPES)}") from None


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(path_or_id: str, dtype: str | None = "auto", device_map: str | None = "auto",
               revision: str | None = None, with_tokenizer: bool = True):
    """(model, tokenizer) from a local directory or a hub id, in eval mode, ``trust_remote_code=False``.

    On GPU, ``device_map="auto"`` lets accelerate place the weights; on CPU the model stays in fp32.
    A local path that does not exist, or a hub id that is not cached while offline, is a clear error.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    looks_local = path_or_id.startswith((".", "/", "~")) or os.sep in path_or_id.rstrip(os.sep) and Path(
        path_or_id).parts[0] in ("results", "tests")
    if looks_local and not Path(path_or_id).expanduser().is_dir():
        raise MworkError(f"model directory {path_or_id!r} does not exist; build it first (e.g. the organism rule) "
                         f"or fix models.<name>.path")
    device = default_device()
    kwargs = {"dtype": resolve_dtype(dtype, device), "trust_remote_code": False}
    if revision:
        kwargs["revision"] = revision
    if device != "cpu" and device_map:
        kwargs["device_map"] = device_map
    try:
        model = AutoModelForCausalLM.from_pretrained(path_or_id, **kwargs)
        tok = AutoTokenizer.from_pretrained(path_or_id, revision=revision) if with_tokenizer else None
    except OSError as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = (f"HF_HUB_OFFLINE=1 and it is not in the local cache; download it once online with "
                f"`huggingface-cli download {path_or_id}`" if offline else "check the id, network and HF_TOKEN")
        raise MworkError(f"cannot load model {path_or_id!r}: {hint} ({e})") from e
    model.eval()
    if tok is not None and tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if tok is not None:
        tok.padding_side = "left"
    return model, tok


def check_window(model, max_length: int, field: str) -> None:
    """``max_length`` tokens per document (the setting ``field``, e.g. ``config.plnd.max_length``) fit the
    model's context window (``max_position_embeddings``; a model without one, e.g. ALiBi, has no limit here):
    positions past the window are ones the model was never trained on."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    window = getattr(config, "max_position_embeddings", None)
    if window and max_length > window:
        raise MworkError(f"{field}: {max_length} tokens per document, but the model's context window is {window} "
                         f"positions (max_position_embeddings); set {field.removeprefix('config.')} to at most "
                         f"{window}")


def load_model_params(spec: dict):
    """(model, tokenizer) from a rule's ``params.model`` (location, revision, dtype, device_map; ``delta``: a
    tuned model, the base with an enhancement delta file merged in, ``mwork.deltas.apply_delta``)."""
    model, tok = load_model(spec["location"], dtype=spec.get("dtype", "auto"),
                            device_map=spec.get("device_map", "auto"), revision=spec.get("revision"))
    if spec.get("delta"):
        model = apply_delta(model, spec["delta"])
    return model, tok
