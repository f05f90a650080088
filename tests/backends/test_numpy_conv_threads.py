"""Depthwise convolutions split over threads give the single-thread answer, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.numpy import conv_kernels as ck


@pytest.mark.parametrize("shape,stride,method", [((2, 48, 56, 56), 1, "adds"), ((1, 48, 40, 40), 1, "matvec"),
                                                 ((1, 64, 20, 20), 2, "nhwc"), ((1, 96, 7, 9), 1, "nhwc")])
def test_threads_split_the_work_and_agree(shape, stride, method, monkeypatch):
    monkeypatch.setenv("ARRAYRT_NUMBA", "0")  # the numpy kernels (the compiled loop: test_numpy_compiled.py)
    monkeypatch.setattr(ck, "PARALLEL_MIN_WORK", 1024)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    w = rng.standard_normal((c, 1, 9)).astype(np.float32)
    args = (x.shape, c, 1, (3, 3), (stride, stride), (1, 1), (1, 1), (1, 1), np.dtype("f4"), np.dtype("f4"))
    one, two = ck.ConvPlan(*args, threads=1), ck.ConvPlan(*args, threads=2)
    assert (one.method, two.method) == (method, method) and (one.workers, two.workers) == (1, 2)
    got, want = two(x, w), one(x, w)
    np.testing.assert_array_equal(got, want)
    # and both equal a direct sum over the taps
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    oh, ow = want.shape[2:]
    ref = np.zeros_like(want)
    for k in range(9):
        i, j = divmod(k, 3)
        win = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
        ref += win * w[:, 0, k][:, None, None]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_parallel_covers_every_index_once():
    seen = []
    ck.parallel(lambda lo, hi: seen.extend(range(lo, hi)), 37, 3)
    assert sorted(seen) == list(range(37))
