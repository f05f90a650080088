"""The compiled loops of the CPU backend (backends/numpy/compiled.py, numba) against the numpy kernels
they replace and against direct sums: depthwise convolution with its bias and activation, the erf
GELU of a dense layer, the conv epilogue; NaN propagation; ARRAYRT_NUMBA=0."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arrayrt.backends.numpy import compiled
from arrayrt.backends.numpy import conv_kernels as ck
from arrayrt.ir.ops.activation import _gelu_erf

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")


def direct_depthwise(x, w, strides, pads, out_hw):
    """sum over taps in float64 of the zero-padded input."""
    (sh, sw), (ph, pw) = strides, pads
    kh, kw = w.shape[1:]
    oh, ow = out_hw
    n, c, h, wd = x.shape
    xp = np.zeros((n, c, max(h + ph, (oh - 1) * sh + kh), max(wd + pw, (ow - 1) * sw + kw)))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    ref = np.zeros((n, c, oh, ow))
    for i in range(kh):
        for j in range(kw):
            ref += xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] * w[:, i, j][:, None, None]
    return ref


SAME, PLANES, LAST = "depthwise3x3_same", "depthwise3x3_planes", "depthwise_channels_last"
CASES = [  # shape, kernel, strides, pads_begin, pads_end, the loop that runs it
    ((1, 32, 56, 56), (3, 3), (1, 1), (1, 1), (1, 1), SAME),
    ((2, 16, 20, 37), (3, 3), (1, 1), (1, 1), (1, 1), SAME),     # batch 2, H != W, odd width
    ((1, 8, 12, 12), (3, 3), (1, 1), (1, 1), (1, 1), SAME),      # the narrowest flat image
    ((1, 4, 1, 16), (3, 3), (1, 1), (1, 1), (1, 1), SAME),       # one row: both neighbours are padding
    ((2, 24, 48, 50), (3, 3), (2, 2), (1, 1), (1, 1), PLANES),   # stride 2, batch 2
    ((1, 8, 64, 64), (3, 3), (2, 2), (0, 0), (1, 1), PLANES),    # asymmetric (SAME_UPPER-like) pads
    ((1, 6, 80, 80), (3, 3), (3, 3), (1, 1), (0, 0), PLANES),    # stride 3 (three phases per axis)
    ((1, 4, 33, 47), (3, 3), (2, 2), (2, 2), (0, 0), PLANES),    # stride 2, odd width, even left pad
    ((1, 4, 30, 51), (3, 3), (2, 2), (1, 0), (1, 1), PLANES),    # stride 2, odd width, no left pad
    ((1, 16, 50, 50), (3, 3), (1, 1), (0, 0), (0, 0), PLANES),   # stride 1, no padding
    ((1, 8, 30, 26), (3, 3), (1, 1), (0, 1), (2, 1), PLANES),    # stride 1, uneven padding
    ((1, 96, 7, 7), (3, 3), (1, 1), (1, 1), (1, 1), LAST),       # small image
    ((2, 40, 14, 13), (5, 5), (2, 2), (2, 2), (2, 2), LAST),     # 5x5 strided
    ((1, 16, 28, 28), (5, 5), (1, 1), (2, 2), (2, 2), LAST),     # 5x5 on a wider image
    ((1, 8, 9, 40), (3, 5), (1, 2), (0, 2), (0, 2), LAST),       # rectangular, mixed strides
]


@pytest.mark.parametrize("shape,kernel,strides,pb,pe,loop", CASES)
@pytest.mark.parametrize("act", [None, "relu", "clamp"])
def test_depthwise_matches_numpy_kernels_and_direct_sum(shape, kernel, strides, pb, pe, loop, act, monkeypatch):
    rng = np.random.default_rng(sum(shape) + sum(kernel))
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    w = rng.standard_normal((c, 1, math.prod(kernel))).astype(np.float32)
    bias = rng.standard_normal((1, c, 1, 1)).astype(np.float32)
    if act == "relu":
        def activation(y):
            np.maximum(y, 0, out=y)
        activation.bounds = (0.0, math.inf)
    elif act == "clamp":
        def activation(y):
            np.clip(y, -0.5, 1.5, out=y)
        activation.bounds = (-0.5, 1.5)
    else:
        activation = None
    args = (shape, c, 1, kernel, strides, (1, 1), pb, pe, np.dtype("f4"), np.dtype("f4"))
    plan = ck.ConvPlan(*args)
    assert plan.method == "compiled" and plan.compiled.loop == loop
    got = plan(x, w, bias, activation)
    monkeypatch.setenv(compiled.ENV, "0")
    numpy_plan = ck.ConvPlan(*args)
    assert numpy_plan.method != "compiled"
    want = numpy_plan(x, w, bias, activation)
    assert got.shape == want.shape and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)
    ref = direct_depthwise(x.astype(np.float64), w.reshape(c, *kernel), strides, pb, got.shape[2:]) + bias
    if act is not None:
        ref = np.clip(ref, *activation.bounds)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("shape,stride", [((2, 48, 56, 56), 1), ((1, 64, 20, 20), 2), ((1, 96, 7, 9), 1)])
def test_depthwise_threads_agree_bit_for_bit(shape, stride, monkeypatch):
    monkeypatch.setattr(ck, "COMPILED_PARALLEL_MIN_WORK", 1024)
    monkeypatch.setattr(ck, "PARALLEL_MIN_WORK", 1024)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((shape[1], 1, 9)).astype(np.float32)
    args = (shape, shape[1], 1, (3, 3), (stride, stride), (1, 1), (1, 1), (1, 1), np.dtype("f4"), np.dtype("f4"))
    one, two = ck.ConvPlan(*args, threads=1), ck.ConvPlan(*args, threads=2)
    assert (one.compiled_workers, two.compiled_workers) == (1, 2)
    np.testing.assert_array_equal(two(x, w), one(x, w))


@pytest.mark.parametrize("width,pe,loop", [(7, 1, LAST), (64, 1, SAME), (64, 0, PLANES)])
def test_depthwise_clamp_propagates_nan(width, pe, loop):
    x = np.ones((1, 8, width, width), np.float32)
    x[0, 3, 2, 2] = np.nan
    w = np.ones((8, 1, 9), np.float32)
    plan = ck.ConvPlan(x.shape, 8, 1, (3, 3), (1, 1), (1, 1), (1, 1), (pe, pe), np.dtype("f4"), np.dtype("f4"))
    assert plan.compiled.loop == loop

    def activation(y):
        np.clip(y, 0.0, 6.0, out=y)
    activation.bounds = (0.0, 6.0)
    y = plan(x, w, None, activation)
    assert np.isnan(y[0, 3, 1:4, 1:4]).all() and np.isnan(y).sum() == 9
    assert y[0, 0, 0, 0] == 4.0 and y[0, 0, 3, 3] == 6.0


def test_other_dtypes_and_dilations_stay_on_numpy():
    base = ((1, 8, 16, 16), 8, 1, (3, 3), (1, 1))
    assert ck.ConvPlan(*base, (1, 1), (1, 1), (1, 1), np.dtype("f8"), np.dtype("f8")).method != "compiled"
    assert ck.ConvPlan(*base, (2, 2), (2, 2), (2, 2), np.dtype("f4"), np.dtype("f4")).method != "compiled"
    assert ck.ConvPlan(*base, (1, 1), (1, 1), (1, 1), np.dtype("f4"), np.dtype("f4")).method == "compiled"


def test_bias_gelu_matches_the_numpy_fit():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 96)) * 3).astype(np.float32)
    x[0, :6] = [0.0, -0.0, 5.8, -5.8, 40.0, -40.0]
    bias = rng.standard_normal(96).astype(np.float32)
    want = _gelu_erf(np, x + bias)
    got = compiled.bias_gelu_erf(x.copy(), bias)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    # and the exact GELU, in float64
    from math import erf
    z = (x + bias).astype(np.float64)
    exact = 0.5 * z * (1 + np.vectorize(erf)(z / math.sqrt(2)))
    np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-6)
    assert got[0, 4] == np.float32(40.0) + bias[4] and got[0, 5] == 0.0


def test_bias_gelu_propagates_nan_and_inf():
    y = np.array([[np.nan, np.inf, -np.inf, 1.0]], np.float32)
    got = compiled.bias_gelu_erf(y.copy())
    assert np.isnan(got[0, 0]) and got[0, 1] == np.inf and got[0, 3] == pytest.approx(0.8413447, abs=1e-6)
    assert got[0, 2] == 0.0 or np.isnan(got[0, 2])  # -inf * 0: numpy's fit gives NaN as well
    np.testing.assert_array_equal(np.isnan(got), np.isnan(_gelu_erf(np, y.copy())))


def test_bias_clamp_is_numpy_add_then_clip_bit_for_bit():
    rng = np.random.default_rng(4)
    y = rng.standard_normal((2, 16, 9, 11)).astype(np.float32) * 4
    y[1, 2, 3, 4] = np.nan
    bias = rng.standard_normal((1, 16, 1, 1)).astype(np.float32)
    want = np.clip(y + bias, 0.0, 6.0)
    got = y.copy()
    compiled.bias_residual_clamp(got, bias, None, (0.0, 6.0))
    np.testing.assert_array_equal(got, want)


def test_env_switch_turns_the_loops_off(monkeypatch):
    monkeypatch.setenv(compiled.ENV, "0")
    assert not compiled.available() and not compiled.loaded()
    plan = ck.ConvPlan((1, 8, 16, 16), 8, 1, (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), np.dtype("f4"), np.dtype("f4"))
    assert plan.method != "compiled"


@pytest.mark.parametrize("width,stride", [(7, 1), (40, 1), (40, 2)])  # channels-last, same, planes
def test_input_transform_is_the_producers_epilogue(width, stride, monkeypatch):
    """clamp(x + in_bias) applied while copying = applied before the convolution, on the compiled
    loop and on the numpy fallback a plan takes when the loops are off; the padding stays zero."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 16, width, width)).astype(np.float32) * 3
    w = rng.standard_normal((16, 1, 9)).astype(np.float32)
    in_bias = rng.standard_normal(16).astype(np.float32)
    args = (x.shape, 16, 1, (3, 3), (stride, stride), (1, 1), (1, 1), (1, 1), np.dtype("f4"), np.dtype("f4"))
    transformed = np.clip(x + in_bias.reshape(1, 16, 1, 1), 0.0, 6.0)
    want = ck.ConvPlan(*args)(transformed, w)
    got = ck.ConvPlan(*args)(x, w, in_transform=(in_bias, (0.0, 6.0)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    monkeypatch.setenv(compiled.ENV, "0")
    plan = ck.ConvPlan(*args)
    assert plan.method != "compiled"
    np.testing.assert_allclose(plan(x, w, in_transform=(in_bias, (0.0, 6.0))), want, rtol=1e-5, atol=2e-6)
