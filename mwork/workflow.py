"""Helpers for the thin rule scripts under workflow_scripts/."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from contextlib import contextmanager

from .errors import MworkError


def check_writable(paths) -> None:
    """Every output's folder can take a new file: checked before a computation (minutes of PLND or
    training), not after it. A probe file is created and removed, so a read-only mount counts too."""
    import tempfile
    from pathlib import Path

    for folder in dict.fromkeys(Path(p).parent for p in paths):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise MworkError(f"{folder}: cannot write this rule's outputs there ({e.strerror or e}); fix the "
                             f"folder (permissions, free space, a file in its place) and rerun") from None


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
