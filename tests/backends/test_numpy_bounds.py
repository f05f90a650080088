"""backends/numpy/bounds.py: in-place clamps against a constant block give numpy.clip's and
numpy.fmax's results on every size around the block, NaN and infinities included: bit for bit
except the sign of a zero (numpy's vector and scalar loops return different ones of two equal
operands, so clip(-0.0, 0, 6) may come out +0.0)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arrayrt.backends.numpy import bounds


def _same(got, want):
    """Equal bits, except that -0.0 and +0.0 count as the same."""
    assert got.shape == want.shape and got.dtype == want.dtype
    got, want = np.ascontiguousarray(got), np.ascontiguousarray(want)
    zeros = (got == 0) & (want == 0)
    np.testing.assert_array_equal(np.where(zeros, 0, got).view(np.uint8), np.where(zeros, 0, want).view(np.uint8))


def _data(n, dtype, seed=0):
    x = (np.random.default_rng(seed).standard_normal(n) * 8).astype(dtype)
    if n >= 6:
        x[:6] = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 6.0]
    return x


@pytest.mark.parametrize("n", [0, 1, 7, bounds.BLOCK - 1, bounds.BLOCK, bounds.BLOCK + 5, 3 * bounds.BLOCK + 11])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("low, high", [(0.0, math.inf), (0.0, 6.0), (-math.inf, 1.5), (-0.5, 0.25)])
def test_clamp_is_numpy_clip_bit_for_bit(n, dtype, low, high):
    x = _data(n, dtype)
    want = np.clip(x, low, high)
    _same(bounds.clamp_(x.reshape(1, -1), low, high).reshape(-1), want)


@pytest.mark.parametrize("n", [5, bounds.BLOCK + 3])
def test_fmax_is_numpy_fmax_bit_for_bit(n):
    lowest = np.finfo(np.float32).min
    x = _data(n, np.float32, seed=1)
    want = np.fmax(x, lowest)
    got = bounds.fmax_(x.copy(), lowest)
    _same(got, want)
    if n >= 6:
        assert got[0] == lowest and got[1] == lowest and got[3] == lowest  # NaN and -inf never win


def test_integers_and_strided_views_take_numpy_itself():
    ints = np.arange(-5, 5, dtype=np.int32)
    np.testing.assert_array_equal(bounds.clamp_(ints.copy(), 0, 3), np.clip(ints, 0, 3))
    base = _data(64, np.float32).reshape(8, 8)
    view = base.copy()[:, ::2]
    np.testing.assert_array_equal(bounds.clamp_(view, 0.0, 2.0), np.clip(base[:, ::2], 0.0, 2.0))
    np.testing.assert_array_equal(bounds.fmax_(base.copy()[:, ::2], 0.0), np.fmax(base[:, ::2], 0.0))


def test_the_constant_blocks_are_shared_and_read_only():
    bounds.clamp_(np.zeros(3, np.float32), 0.0, 6.0)
    block = bounds._block(6.0, np.dtype(np.float32).str)
    assert block is bounds._block(6.0, np.dtype(np.float32).str) and not block.flags.writeable


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_relu_and_clamp_nodes_run_on_the_blocks(dtype):
    """Standalone Relu and Clamp (not fused into a convolution) on CPU: the bounds kernel, with the
    ops' own results; a transposed (non-contiguous) input takes numpy's scalar path."""
    import arrayrt as ar
    import arrayrt.opset as ops

    p = ops.parameter([2, 3, 40, 50], dtype, name="x")
    relu = ops.relu(p)
    clamp = ops.clamp(ops.transpose(relu, [0, 1, 3, 2]), -0.5, 0.7)
    model = ar.Model([relu, ops.clamp(p, -0.25, 1.5), clamp], [p])
    compiled = ar.Core().compile_model(model, "CPU")
    kinds = [r.exec_type for r in compiled._plan.records if r.node_type in ("Relu", "Clamp")]
    assert kinds == ["numpy_bounds"] * 3
    x = _data(2 * 3 * 40 * 50, dtype, seed=3).reshape(2, 3, 40, 50)
    got = compiled([x])
    _same(np.asarray(got[0]), np.maximum(x, dtype(0)))
    _same(np.asarray(got[1]), np.minimum(np.maximum(x, dtype(-0.25)), dtype(1.5)))
    _same(np.asarray(got[2]), np.minimum(np.maximum(np.maximum(x, dtype(0)).transpose(0, 1, 3, 2), dtype(-0.5)),
                                         dtype(0.7)))
