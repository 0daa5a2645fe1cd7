"""Writing outputs so that a killed job never leaves a file that looks finished."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import MworkError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(tmp: Path, mode: int) -> None:
    """Give a finished temporary file (0600) or folder (0700) the mode a plainly created one would have
    (``mode`` less the umask), so that colleagues on a shared cluster can read the results."""
    os.chmod(tmp, mode & ~_umask())


def _publish_tree(root: Path) -> None:
    """``_publish`` a finished temporary folder and everything under it: writers inside it (safetensors, under
    ``save_pretrained``) make their files 0600 as a temporary file is, which would leave model weights
    unreadable to colleagues. A file executable by its owner stays executable; links are left alone."""
    for folder, dirs, files in os.walk(root):
        for name in files:
            p = Path(folder) / name
            if not p.is_symlink():
                _publish(p, 0o777 if p.stat().st_mode & stat.S_IXUSR else 0o666)
        for name in dirs:
            if not (Path(folder) / name).is_symlink():
                _publish(Path(folder) / name, 0o777)
    _publish(root, 0o777)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds (with the
    permissions the umask gives a new file, not the temporary file's private ones)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _publish(tmp, 0o666)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def read_jsonl(path: str | os.PathLike, made_by: str | None = None) -> list[dict]:
    """The records of a JSON-lines file; a line that is not JSON is an error naming the file, the line and
    (``made_by``) the rule that writes the file."""
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise MworkError(f"{path}, line {i}: not JSON ({e.msg}){_rerun(path, made_by)}") from None
    return out


def read_json(path: str | os.PathLike, made_by: str | None = None):
    """A JSON file's content; a damaged file is an error naming it and (``made_by``) the rule that writes it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise MworkError(f"{path}: not JSON ({e.msg}, line {e.lineno}){_rerun(path, made_by)}") from None


def _rerun(path, made_by: str | None) -> str:
    return f"; delete it and rerun (rule {made_by} writes it)" if made_by else ""


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_table(df, csv_path: str | os.PathLike, md_path: str | os.PathLike | None = None, floatfmt=".3g"):
    """Write a pandas DataFrame as CSV (and as a Markdown table) atomically."""
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    if md_path is not None:
        with atomic_path(md_path) as tmp:
            Path(tmp).write_text(markdown_table(df, floatfmt) + "\n", encoding="utf-8")


def markdown_table(df, floatfmt=".3g") -> str:
    def fmt(v):
        if isinstance(v, float):
            return "—" if v != v else format(v, floatfmt)
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` only if the block succeeds, with
    the folder and everything under it given the modes the umask gives plainly created ones."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        _publish_tree(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


METADATA_KEY = "mwork"  # the one header metadata entry of the neuron and PLND statistics files


def unpack_metadata(raw: dict | None) -> dict[str, str]:
    """The metadata a neuron or PLND statistics file was saved with, from its safetensors header entries: one
    sorted JSON string under ``mwork`` (mwork.neurons.save_neurons); a file of an earlier version, with one
    header entry per key, reads the same."""
    raw = raw or {}
    return json.loads(raw[METADATA_KEY]) if set(raw) == {METADATA_KEY} else dict(raw)
