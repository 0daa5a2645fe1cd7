"""Helpers for the thin rule scripts under workflow_scripts/."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

from .errors import MworkError


def check_writable(paths) -> None:
    """Every output's folder can take a new file: checked before a computation (minutes of PLND or
    training), not after it. A probe file is created and removed, so a read-only mount counts too."""
    for folder in dict.fromkeys(Path(p).parent for p in paths):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise MworkError(f"{folder}: cannot write this rule's outputs there ({e.strerror or e}); fix the "
                             f"folder (permissions, free space, a file in its place) and rerun") from None


def check_results_tree(root: str = "results", depth: int = 2) -> None:
    """At DAG build, before Snakemake touches an old output: ``root`` and its folders down to ``depth``
    levels are folders and can take a new file (a probe is created and removed; root is exempt from
    permission bits, not from an immutable folder or a read-only mount). A file where a folder should
    be, or an unwritable folder, is one sentence here instead of Snakemake's traceback later."""
    top = Path(root)
    if top.exists() and not top.is_dir():
        raise MworkError(f"{top}: a file where the results folder should be; move it away and rerun")
    folders = [top] if top.is_dir() else []
    level = list(folders)
    for _ in range(depth):
        children = [c for f in level for c in f.iterdir()]
        # every output file of the workflow has a suffix (.csv, .json, .safetensors): a plain file without
        # one stands where a folder (eval, logs, a model's) should be
        stray = [c for c in children if c.is_file() and not c.is_symlink() and not c.suffix]
        if stray:
            raise MworkError(f"{stray[0]}: a file where a folder of the workflow's outputs should be; move it "
                             f"away and rerun")
        level = [c for c in children if c.is_dir() and not c.is_symlink()]
        folders += level
    for folder in folders:
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise MworkError(f"{folder}: cannot write the workflow's outputs there ({e.strerror or e}); fix the "
                             f"folder (permissions, an immutable flag, a read-only mount, free space) and rerun") from None


@contextmanager
def rule_script(smk):
    """Send stderr to the job's log, set torch's thread count from ``threads:``, and turn library
    errors (``MworkError``) into one clear line instead of a traceback. Yields a logger."""
    log_path = smk.log[0] if len(smk.log) else None
    stream = open(log_path, "w", buffering=1) if log_path else sys.stderr
    old_stderr = sys.stderr
    sys.stderr = stream
    logger = logging.getLogger(f"mwork.{smk.rule}")
    logger.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    threads = max(1, int(getattr(smk, "threads", 1) or 1))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    try:
        check_writable(list(smk.output))
        yield logger
    except MworkError as e:
        print(f"error: {e}", file=stream)
        sys.stderr = old_stderr
        print(f"error in rule {smk.rule}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        traceback.print_exc(file=stream)
        raise
    finally:
        sys.stderr = old_stderr
        if stream is not sys.stderr and stream is not old_stderr:
            stream.close()
