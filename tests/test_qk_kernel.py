"""The fused Q/K kernel against the same quantity written out in PyTorch, and what happens without it."""
import warnings

import pytest
import torch
from tinymodels import make_model, random_batch

from mwork.errors import MworkError
from mwork.plnd import kernel as qk_kernel
from mwork.plnd import neuron_importance, qk_path


def _brute(A, L, R, lo, hi, Badd=None, rs=None, cs=None):
    """sum_{t, s in [lo, hi)} (softmax(x_c)[s] - softmax(x_0)[s])^2 per (b, c), in float64."""
    b, l, _ = A.shape
    c = L.shape[1]
    out = torch.zeros(b, c, dtype=torch.float64)
    A, L, R = A.double(), L.double(), R.double()
    for i in range(b):
        for t in range(l):
            a, z = int(lo[i, t]), int(hi[i, t])
            if z <= a:
                continue
            base = A[i, t, a:z] + (Badd[i, t, a:z].double() if Badd is not None else 0)
            p0 = torch.softmax(base, -1)
            x = A[i, t, a:z] - torch.einsum("cm,cms->cs", L[i, :, t], R[i, :, :, a:z])
            if rs is not None:
                x = x * rs[i, :, t, None].double()
            if cs is not None:
                x = x * cs[i, :, a:z].double()
            if Badd is not None:
                x = x + Badd[i, t, a:z].double()
            out[i] += (torch.softmax(x, -1) - p0).square().sum(-1)
    return out


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("extras", ["plain", "scaled", "bias", "shared"])
def test_kernel_equals_the_formula(m, extras):
    if not qk_kernel.resolve("auto", torch.device("cpu")):
        pytest.skip("no C compiler here: the fused kernel cannot be built")
    g = torch.Generator().manual_seed(m)
    b, c, l = 3, 5, 37  # l not a multiple of the kernel's vector padding
    A = 3 * torch.randn(b, l, l, generator=g)
    L, R = torch.randn(b, c, l, m, generator=g), torch.randn(b, c, m, l, generator=g)
    t = torch.arange(l)
    lo = torch.stack([torch.zeros(l), (t - 6).clamp(min=0), torch.full((l,), 4)]).int()  # full, window, padding
    hi = (t + 1).int().expand(b, l).clone()
    hi[2, :4] = 0  # rows not counted
    lo, hi = lo.contiguous(), hi.contiguous()
    kw = {}
    if extras == "scaled":
        kw = dict(rs=torch.rand(b, c, l, generator=g) + 0.5, cs=torch.rand(b, c, l, generator=g) + 0.5)
    elif extras == "bias":
        Badd = torch.randn(b, l, l, generator=g)
        Badd[0, :, 3] = torch.finfo(torch.float32).min  # a masked key inside a row's range
        kw = dict(Badd=Badd)
    elif extras == "shared":  # documents 0 and 2 read slab 1 of R and cs, document 1 slab 0 (heads of a group)
        R, cs = torch.randn(2, c, m, l, generator=g), torch.rand(2, c, l, generator=g) + 0.5
        kw = dict(cs=cs, ridx=torch.tensor([1, 0, 1], dtype=torch.int32))
    got = qk_kernel.rows_sq_diff(A, L, R, lo, hi, **kw)
    if extras == "shared":
        R, kw = R[kw["ridx"].long()], dict(cs=cs[kw["ridx"].long()])
    ref = _brute(A, L, R, lo, hi, **kw)
    assert got.dtype == torch.float64 and got.shape == (b, c)
    torch.testing.assert_close(got, ref, rtol=2e-5, atol=1e-9)


def test_kernel_refuses_bad_shapes():
    if not qk_kernel.resolve("auto", torch.device("cpu")):
        pytest.skip("no C compiler here")
    A = torch.zeros(1, 4, 4)
    lo = hi = torch.zeros(1, 4, dtype=torch.int32)
    with pytest.raises(ValueError, match="L must be a contiguous float32"):
        qk_kernel.rows_sq_diff(A, torch.zeros(1, 2, 4, 2, dtype=torch.float64), torch.zeros(1, 2, 2, 4), lo, hi)
    with pytest.raises(ValueError, match="outside"):
        qk_kernel.rows_sq_diff(A, torch.zeros(1, 2, 4, 2), torch.zeros(1, 2, 2, 4), lo, hi + 5)


def test_without_a_compiler(monkeypatch, tmp_path):
    """auto falls back to PyTorch (same numbers) and says why; fused is an error naming the setting."""
    monkeypatch.setenv("CC", "no-such-compiler-mwork")
    monkeypatch.setenv("MWORK_KERNEL_DIR", str(tmp_path))
    qk_kernel._build.cache_clear()
    qk_kernel._warn_once.cache_clear()
    try:
        model = make_model("llama")
        ids, mask = random_batch(1, (9, 6))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            auto = neuron_importance(model, ids, mask, kinds=("attn.q",))
        assert any("no-such-compiler-mwork" in str(w.message) for w in caught)
        assert qk_path(model) == "torch"  # what the neuron file records
        torch_path = neuron_importance(model, ids, mask, kinds=("attn.q",), qk_kernel="torch")
        assert all(torch.equal(auto[k], torch_path[k]) for k in auto)
        with pytest.raises(MworkError, match=r"plnd.qk_kernel: fused is not available: .*no-such-compiler"):
            neuron_importance(model, ids, mask, qk_kernel="fused")
        with pytest.raises(MworkError, match="plnd.qk_kernel: 'fast' is not one of auto, fused, torch"):
            neuron_importance(model, ids, mask, qk_kernel="fast")
    finally:
        qk_kernel._build.cache_clear()


def test_kernel_is_built_once_into_the_cache(monkeypatch, tmp_path):
    if qk_kernel._compiler() is None:
        pytest.skip("no C compiler here")
    monkeypatch.setenv("MWORK_KERNEL_DIR", str(tmp_path))
    qk_kernel._build.cache_clear()
    try:
        assert qk_kernel.resolve("fused", torch.device("cpu"))
        built = list(tmp_path.glob("qk_rows-*.so"))
        assert len(built) == 1 and not [p for p in tmp_path.iterdir() if p not in built]  # no leftovers
        mtime = built[0].stat().st_mtime_ns
        qk_kernel._build.cache_clear()
        assert qk_kernel.resolve("fused", torch.device("cpu")) and built[0].stat().st_mtime_ns == mtime
    finally:
        qk_kernel._build.cache_clear()


def test_without_openmp_the_kernel_uses_posix_threads(monkeypatch, tmp_path):
    """A compiler without OpenMP: the library is built with POSIX threads instead, same numbers."""
    if not qk_kernel.resolve("auto", torch.device("cpu")):
        pytest.skip("no C compiler here")
    g = torch.Generator().manual_seed(3)
    b, c, l, m = 4, 6, 50, 2
    A, L, R = torch.randn(b, l, l, generator=g), torch.randn(b, c, l, m, generator=g), torch.randn(b, c, m, l, generator=g)
    t = torch.arange(l)
    lo, hi = torch.zeros(b, l, dtype=torch.int32), (t + 1).int().expand(b, l).contiguous()
    default = qk_kernel.rows_sq_diff(A, L, R, lo, hi)
    monkeypatch.setenv("MWORK_KERNEL_DIR", str(tmp_path))
    monkeypatch.setattr(qk_kernel, "THREADING", (["-fno-such-option-mwork"], ["-lpthread"]))  # the first fails
    qk_kernel._build.cache_clear()
    try:
        assert qk_kernel.resolve("fused", torch.device("cpu"))
        assert len(list(tmp_path.glob("qk_rows-*.so"))) == 1
        torch.testing.assert_close(qk_kernel.rows_sq_diff(A, L, R, lo, hi), default, rtol=1e-6, atol=0)
        # the failed build is remembered: the next process does not run the compiler for it again
        [failed] = tmp_path.glob("qk_rows-*.failed")
        assert "-fno-such-option-mwork" in failed.read_text()
        qk_kernel._build.cache_clear()
        real_run = qk_kernel.subprocess.run

        def no_compiling(cmd, *a, **k):
            assert "--version" in cmd, f"the compiler ran again: {cmd}"
            return real_run(cmd, *a, **k)

        monkeypatch.setattr(qk_kernel.subprocess, "run", no_compiling)
        assert qk_kernel.resolve("fused", torch.device("cpu"))
    finally:
        qk_kernel._build.cache_clear()


def test_an_openmp_build_with_a_runtime_of_its_own_is_not_used(monkeypatch, tmp_path):
    """The OpenMP build must share PyTorch's runtime; one that maps a second runtime gives way to POSIX threads."""
    if not qk_kernel.resolve("auto", torch.device("cpu")):
        pytest.skip("no C compiler here")
    monkeypatch.setenv("MWORK_KERNEL_DIR", str(tmp_path))
    seen = iter(range(100))
    monkeypatch.setattr(qk_kernel, "_openmp_runtimes", lambda: {f"/lib/libgomp-{next(seen)}.so"} | {"/x/libgomp.so.1"})
    built = []
    real = qk_kernel._build_with
    monkeypatch.setattr(qk_kernel, "_build_with", lambda cc, v, flags: built.append(flags) or real(cc, v, flags))
    qk_kernel._build.cache_clear()
    try:
        assert qk_kernel.resolve("fused", torch.device("cpu"))
        assert [f[-1] for f in built] == ["-fopenmp", "-lpthread"]
    finally:
        qk_kernel._build.cache_clear()


def test_the_recorded_path_names_what_ran():
    if not qk_kernel.resolve("auto", torch.device("cpu")):
        pytest.skip("no C compiler here")
    assert qk_path(make_model("llama")) == "fused" and qk_path(make_model("llama"), "torch") == "torch"
    assert qk_path(make_model("gemma2")) == "torch"  # soft-capped attention: the kernel does not take it
