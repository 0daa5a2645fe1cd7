"""A fused CPU kernel for the exact Q/K importance: score change, softmax, difference, square and sum in one
pass per attention row, so no (features x queries x keys) tensor is ever written to memory.

PLND's exact Q/K part (``mwork.plnd.qk_fused``) needs, for every q/k feature and every query row, a softmax over the
row's keys with that feature zeroed, and the squared difference to the unchanged probabilities. In eager
PyTorch each of those steps is its own pass over (features x rows x keys) blocks, and on the CPU the time is
the number of passes (~8), not the arithmetic. This kernel does the arithmetic once, row by row: for a row
(document b, query t) it computes the unchanged probabilities once, then for every feature c

    x[s] = (A[b,t,s] - sum_m L[b,c,t,m] * R[g,c,m,s]) * rs[b,c,t] * cs[g,c,s] + Badd[b,t,s],  g = ridx[b]
    out[b,c] += sum_s (softmax(x)[s] - softmax(A[b,t,:] + Badd[b,t,:])[s])^2

over the row's visible keys ``lo[b,t] <= s < hi[b,t]`` only (the causal triangle, no masked block work);
``rs``, ``cs`` and ``Badd`` are optional. ``R`` and ``cs`` are indexed through ``ridx`` so that the query
heads of one key/value group share theirs (they depend on the group's keys only). Its exp is Cephes' single-precision polynomial (relative error
~1e-7, like the library's), written so the compiler vectorizes it.

The C source, ``qk_kernel.c`` beside this file, is compiled on first use with the machine's C compiler (``$CC``, else ``cc``) into a
cache (``$MWORK_KERNEL_DIR``, else ``~/.cache/mwork/kernels``), keyed by the source, the flags, the
compiler's version and the CPU's feature flags (``-march=native``), and loaded with ``ctypes``. Its rows are
shared out with OpenMP (the runtime PyTorch already loaded) where the compiler has it, else POSIX threads. Nothing
here is needed for correctness: ``plnd.qk_kernel: torch`` (or no compiler, with ``auto``) uses the eager
PyTorch path, and the tests prove both equal to each other and to the one-neuron-at-a-time reference.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import warnings
from functools import cache
from pathlib import Path

import torch

from ..errors import MworkError

CHOICES = ("auto", "fused", "torch")

SOURCE = (Path(__file__).parent / "qk_kernel.c").read_text(encoding="utf-8")

# -O3 with the CPU's vector units; the reductions may be reassociated (the library's softmax does the same),
# no math errno/traps, values are finite. Not -ffast-math: on GCC < 13 a shared library built with it sets
# flush-to-zero for the whole process at load.
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fassociative-math",
         "-fno-signed-zeros", "-ffinite-math-only", "-fPIC", "-shared"]
# The rows are shared out with OpenMP where the compiler has it: the library then uses the OpenMP runtime
# PyTorch already loaded (libgomp, found by its soname), whose worker threads spin for a while after each
# PyTorch operation; threads of our own would compete with them for the cores (slower inside PLND: the
# README's measurement). Else POSIX threads.
THREADING = (["-fopenmp"], ["-lpthread"])


def _cache_dir() -> Path:
    if os.environ.get("MWORK_KERNEL_DIR"):
        return Path(os.environ["MWORK_KERNEL_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mwork" / "kernels"


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.machine() + platform.processor()


def _compiler() -> str | None:
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


@cache
def _build() -> tuple[ctypes.CDLL | None, str]:
    """(the loaded library, "") or (None, why not)."""
    cc = _compiler()
    if cc is None:
        return None, f"no C compiler ({os.environ.get('CC') or 'cc'} not found; set CC)"
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{cc} --version failed: {e}"
    for threading in THREADING:  # OpenMP where the compiler has it and it shares PyTorch's runtime, else POSIX threads
        before = _openmp_runtimes()
        lib, why = _build_with(cc, version, FLAGS + threading)
        after = _openmp_runtimes()
        if lib is not None and "-fopenmp" in threading and (before is None or after is None or after - before):
            lib, why = None, "the OpenMP build loads an OpenMP runtime besides PyTorch's (or that cannot be told)"
        if lib is not None:
            break
    else:
        return None, why
    fn = lib.mwork_qk_rows
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int64] * 5 + [ctypes.c_void_p] * 10 + [ctypes.c_int]
    return lib, ""


def _openmp_runtimes() -> set[str] | None:
    """The OpenMP runtime libraries mapped into this process (Linux), or None where that cannot be read."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    return {line.split()[-1] for line in maps.splitlines() if re.search(r"/lib(gomp|omp|iomp5)[^/]*\.so", line)}


def _build_with(cc: str, version: str, flags: list[str]) -> tuple[ctypes.CDLL | None, str]:
    """The library built with ``flags`` (from the cache when it is there), loaded; or (None, why not). A failed
    build is remembered in the cache too (``.failed``), so that each new process does not try it again."""
    key = hashlib.sha256("\0".join([SOURCE, *flags, version, _cpu_flags()]).encode()).hexdigest()[:20]
    try:
        target = _cache_dir() / f"qk_rows-{key}.so"
    except RuntimeError as e:  # no home directory to cache in
        return None, f"no cache directory ({e}); set MWORK_KERNEL_DIR"
    failed = target.with_suffix(".failed")
    if failed.is_file():
        return None, failed.read_text(errors="replace")
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                src = Path(tmp) / "qk_rows.c"
                src.write_text(SOURCE)
                lib = Path(tmp) / target.name
                res = subprocess.run([cc, *flags, "-o", str(lib), str(src)], capture_output=True, text=True,
                                     timeout=300)
                if res.returncode != 0:
                    why = f"{cc} failed: {res.stderr.strip()[-500:]}"
                    marker = Path(tmp) / failed.name
                    marker.write_text(why)
                    os.replace(marker, failed)
                    return None, why
                os.replace(lib, target)  # atomic: a concurrent job sees the whole library or none
        except (OSError, subprocess.SubprocessError) as e:
            return None, f"building {target} failed: {e}"
    try:
        return ctypes.CDLL(str(target)), ""
    except OSError as e:
        return None, f"loading {target} failed: {e}"


def resolve(choice: str, device: torch.device) -> bool:
    """Whether to use the fused kernel for ``plnd.qk_kernel = choice`` on ``device``.

    ``auto``: on the CPU when the kernel builds (a warning once, naming why, when it does not); ``fused``:
    required (an error naming why when it cannot be had); ``torch``: never."""
    if choice not in CHOICES:
        raise MworkError(f"plnd.qk_kernel: {choice!r} is not one of {', '.join(CHOICES)}")
    if choice == "torch":
        return False
    if torch.device(device).type != "cpu":
        if choice == "fused":
            raise MworkError(f"plnd.qk_kernel: fused is a CPU kernel; the model is on {device} (use auto or torch)")
        return False
    lib, why = _build()
    if lib is None:
        if choice == "fused":
            raise MworkError(f"plnd.qk_kernel: fused is not available: {why}. Use auto or torch.")
        _warn_once(why)
        return False
    return True


@cache
def _warn_once(why: str) -> None:
    warnings.warn(f"PLND's fused Q/K kernel is not available ({why}); using the PyTorch path (same numbers, "
                  "slower). Set plnd.qk_kernel: torch to silence this.", stacklevel=3)


def _ptr(t: torch.Tensor | None):
    return None if t is None else ctypes.c_void_p(t.data_ptr())


def rows_sq_diff(A: torch.Tensor, L: torch.Tensor, R: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                 Badd: torch.Tensor | None = None, rs: torch.Tensor | None = None,
                 cs: torch.Tensor | None = None, ridx: torch.Tensor | None = None) -> torch.Tensor:
    """sum over rows t and keys s of the squared change of softmax probabilities, per (document, feature).

    A, Badd: (b, l, l) scores; L: (b, c, l, m); R: (r, c, m, l); rs: (b, c, l); cs: (r, c, l); ridx: (b,) int32,
    the R/cs slab of each document (default: its own, r = b); lo, hi: (b, l) int32, the visible keys of each
    row (hi <= lo: the row is not counted). Float32, CPU. Returns (b, c) float64.
    """
    lib, why = _build()
    if lib is None:
        raise MworkError(f"PLND's fused Q/K kernel is not available: {why}")
    b, l, _ = A.shape
    c, m = L.shape[1], L.shape[3]
    if ridx is None:
        ridx = torch.arange(b, dtype=torch.int32)
    nr = R.shape[0]
    shapes = {"A": (A, (b, l, l)), "L": (L, (b, c, l, m)), "R": (R, (nr, c, m, l)), "Badd": (Badd, (b, l, l)),
              "rs": (rs, (b, c, l)), "cs": (cs, (nr, c, l))}
    for name, (t, shape) in shapes.items():
        if t is not None and (tuple(t.shape) != shape or t.dtype != torch.float32 or not t.is_contiguous()
                              or t.device.type != "cpu"):
            raise ValueError(f"rows_sq_diff: {name} must be a contiguous float32 CPU tensor of shape {shape}, "
                             f"got {tuple(t.shape)} {t.dtype} on {t.device}")
    for name, t, shape in (("lo", lo, (b, l)), ("hi", hi, (b, l)), ("ridx", ridx, (b,))):
        if tuple(t.shape) != shape or t.dtype != torch.int32 or not t.is_contiguous() or t.device.type != "cpu":
            raise ValueError(f"rows_sq_diff: {name} must be contiguous int32 of shape {shape}")
    if b and l and (int(lo.min()) < 0 or int(hi.max()) > l or int(ridx.min()) < 0 or int(ridx.max()) >= nr):
        raise ValueError("rows_sq_diff: key ranges outside [0, l] or slab indices outside R")
    threads = max(1, torch.get_num_threads())
    out = torch.zeros(threads, b, c, dtype=torch.float64)
    rc = lib.mwork_qk_rows(b, c, l, l, m, _ptr(A), _ptr(Badd), _ptr(L), _ptr(R), _ptr(ridx), _ptr(rs), _ptr(cs),
                           _ptr(lo), _ptr(hi), _ptr(out), threads)
    if rc != 0:
        raise MemoryError("PLND's fused Q/K kernel could not allocate its row buffers")
    return out.sum(0)
