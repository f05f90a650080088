"""GNA_SW_EXACT against an independent integer reference (``_reference``): scale factors from the
formulas, integers compared exactly."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.gna import GnaBackend

import arrayrt
import arrayrt.opset as ops

from . import _reference as R

RNG = np.random.default_rng(5)


def compile_gna(outputs, params, **config):
    model = arrayrt.Model(outputs, params, "t")
    return GnaBackend(config).compile(model)


def layer_of(plan, name):
    return plan.gna.layer(name)


@pytest.mark.parametrize("rows", [1, 3])
def test_affine_int16_with_bias(rows):
    x = ops.parameter([rows, 24], np.float32, name="x")
    W = RNG.normal(0, 0.3, (5, 24)).astype(np.float32)
    b = RNG.normal(0, 0.5, 5).astype(np.float32)
    y = ops.add(ops.matmul(x, W, False, True, name="fc"), b, name="bias")
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=2048.0)
    xv = RNG.uniform(-3, 3, (rows, 24)).astype(np.float32)
    s_w = R.weight_scale_i16(W, b, 2048.0)
    s_out = R.f32(s_w * 2048.0)
    info = layer_of(plan, "fc")
    assert info["weight_scale"] == s_w and info["output_scale"] == s_out
    assert info["weight_precision"] == "i16" and info["bias_precision"] == "i32" and "bias" in info["origin"]
    want = R.affine16(R.q16(xv, 2048.0), R.q16(W, s_w), R.q32(b, s_out))
    (got,) = plan.gna.run_integers(xv)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(plan(xv)[0], want / s_out, rtol=1e-6)


def test_affine_int8_compound_bias():
    x = ops.parameter([3, 1100], np.float32, name="x")
    W = RNG.normal(0, 0.05, (4, 1100)).astype(np.float32)
    W[1] *= 0.1  # rows of different magnitude get different multipliers
    b = RNG.normal(0, 0.5, 4).astype(np.float32)
    y = ops.add(ops.matmul(x, W, False, True, name="fc"), b)
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=8192.0, INFERENCE_PRECISION_HINT="i8")
    xv = RNG.uniform(-2, 2, (3, 1100)).astype(np.float32)
    w8, mult, s_w = R.int8_weights(W, b, 8192.0)
    s_out = R.f32(s_w * 8192.0)
    info = layer_of(plan, "fc")
    assert info["weight_precision"] == "i8" and info["bias_precision"] == "compound"
    assert info["weight_scale"] == s_w and len(set(mult)) > 1
    want = R.affine8(R.q16(xv, 8192.0), w8, mult, R.q32(b, s_out))
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], want)


def test_affine_saturates_per_input_chunk_and_at_both_ends():
    """After the first 12288 inputs (one hardware buffer) the sum saturates, then the last two
    inputs pull it back; a row of negative products saturates at INT32_MIN."""
    k = 12290
    x = ops.parameter([1, k], np.float32, name="x")
    W = np.ones((2, k), np.float32)
    W[0, -2:] = -1
    W[1] = -1
    y = ops.matmul(x, W, False, True, name="fc")
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=16384.0)
    xv = np.ones((1, k), np.float32)
    (got,) = plan.gna.run_integers(xv)
    want = R.affine16(R.q16(xv, 16384.0), R.q16(W, 16384.0), [0, 0])
    np.testing.assert_array_equal(got, want)
    assert got[0, 0] == R.INT32_MAX - 2 * 2**28 and got[0, 1] == R.INT32_MIN


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0)])
def test_conv1d(stride, pad):
    x = ops.parameter([1, 8, 20], np.float32, name="x")
    W = RNG.normal(0, 0.4, (8, 8, 3)).astype(np.float32)
    b = RNG.normal(0, 0.3, (1, 8, 1)).astype(np.float32)
    y = ops.add(ops.convolution(x, W, [stride], [pad], [pad], [1], name="conv"), b)
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=4096.0)
    xv = RNG.uniform(-2, 2, (1, 8, 20)).astype(np.float32)
    reducer = max(1.0, 16384 * 16384 * 8 / R.INT32_MAX)
    s_w = R.f32(R.weight_scale_i16(W, b, 4096.0) / reducer)
    s_out = R.f32(s_w * 4096.0)
    info = layer_of(plan, "conv")
    assert info["weight_scale"] == s_w and info["output_scale"] == s_out
    want = R.conv1d(R.q16(xv, 4096.0), R.q16(W, s_w), R.q32(b.reshape(-1), s_out), stride, pad)
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], want)


def relu_reference(s_in: float):
    """ReLU's output scale and segments from the formulas: 2048 (halved when 2048·s_in passes
    INT32_MAX - 1), lowered to the nearest scale that makes the unit slope exact."""
    t = 2048.0 if 2048.0 * s_in <= R.INT32_MAX - 1 else 1024.0
    _, z = R.slope_code(1.0, s_in, t)
    n = int(np.floor(t / s_in * 2 ** (8 * (z + 1))))
    s_out = R.f32(n * s_in / 2 ** (8 * (z + 1)))
    slope, z2 = R.slope_code(1.0, s_in, s_out)
    assert (slope, z2) == (n, z)
    return s_out, [(R.INT32_MIN, 0, 0), (0 | z, 0, slope)]


def test_conv1d_relu_maxpool_pools_sums_before_the_activation():
    x = ops.parameter([1, 8, 16], np.float32, name="x")
    W = RNG.normal(0, 0.4, (8, 8, 3)).astype(np.float32)
    y = ops.convolution(x, W, [1], [1], [1], [1], name="conv")
    y = ops.max_pool(ops.relu(y, name="relu"), [2], [1], [0], [0], [2], name="pool")
    plan = compile_gna([y.output(0)], [x], GNA_SCALE_FACTOR_0=4096.0)
    xv = RNG.uniform(-2, 2, (1, 8, 16)).astype(np.float32)
    reducer = max(1.0, 16384 * 16384 * 8 / R.INT32_MAX)
    s_w = R.f32(R.f32(16384 / float(np.abs(W).max())) / reducer)
    s_conv = R.f32(s_w * 4096.0)
    sums = R.conv1d(R.q16(xv, 4096.0), R.q16(W, s_w), [0] * 8, 1, 1, pool=(2, 2))
    s_relu, table = relu_reference(s_conv)
    info = layer_of(plan, "relu")
    assert info["output_scale"] == s_relu and info["pwl"] == table and info["pwl_segments"] == 2
    assert layer_of(plan, "conv")["pool"] == {"kernel": [2], "strides": [2]}
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], R.pwl(sums, table))


def test_eltwise_add_subtract_multiply():
    a = ops.parameter([2, 16], np.float32, name="a")
    b = ops.parameter([2, 16], np.float32, name="b")
    outs = [ops.add(a, b, name="add"), ops.subtract(a, b, name="sub"), ops.multiply(a, b, name="mul")]
    plan = compile_gna(outs, [a, b], GNA_SCALE_FACTOR_PER_INPUT={"a": 8192.0, "b": 2048.0})
    av = RNG.uniform(-3, 3, (2, 16)).astype(np.float32)
    bv = RNG.uniform(-3, 3, (2, 16)).astype(np.float32)
    av[0, 0], bv[0, 1] = 7.0, -20.0  # beyond int16 at their scales: input saturation at both ends
    aq, bq = R.q16(av, 8192.0), R.q16(bv, 2048.0)
    assert aq[0, 0] == 32767 and bq[0, 1] == -32768
    got_add, got_sub, got_mul = plan.gna.run_integers(av, bv)
    # a (the larger scale) enters as the bias, b is weighted by 8192 / 2048 = 4
    np.testing.assert_array_equal(got_add, aq + 4 * bq)
    np.testing.assert_array_equal(got_sub, aq - 4 * bq)
    np.testing.assert_array_equal(got_mul, aq * bq)
    assert layer_of(plan, "add")["weight"] == 4 and layer_of(plan, "sub")["weight"] == -4
    assert [o["scale"] for o in plan.gna.outputs] == [8192.0, 8192.0, R.f32(8192.0 * 2048.0)]


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_pwl_on_int16_input(act):
    x = ops.parameter([4, 64], np.float32, name="x")
    y = getattr(ops, act)(x, name="act")
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=1024.0)
    xv = np.linspace(-40, 40, 256, dtype=np.float32).reshape(4, 64)  # both ends saturate the input
    info = layer_of(plan, "act")
    assert info["output_scale"] == 2048.0 and 2 < info["pwl_segments"] <= 128
    want = R.pwl(R.q16(xv, 1024.0), info["pwl"])
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], want)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_pwl_fused_after_affine(act):
    x = ops.parameter([2, 32], np.float32, name="x")
    W = RNG.normal(0, 0.5, (16, 32)).astype(np.float32)
    y = getattr(ops, act)(ops.matmul(x, W, False, True, name="fc"), name="act")
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=4096.0)
    xv = RNG.uniform(-4, 4, (2, 32)).astype(np.float32)
    s_w = R.f32(16384 / float(np.abs(W).max()))
    acc = R.affine16(R.q16(xv, 4096.0), R.q16(W, s_w), [0] * 16)
    info = layer_of(plan, "act")
    assert info["input_scales"] == [R.f32(s_w * 4096.0)] and info["fused_into"] == "fc"
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], R.pwl(acc, info["pwl"]))


def test_relu_and_prelu_saturate_at_both_ends():
    x = ops.parameter([1, 16], np.float32, name="x")
    W = np.eye(16, dtype=np.float32) * 40  # outputs up to +-160: beyond int16 at the activation scale
    fc = ops.matmul(x, W, False, True, name="fc")
    relu = ops.relu(fc, name="relu")
    prelu = ops.prelu(fc, np.array([0.5], np.float32), name="prelu")
    plan = compile_gna([relu, prelu], [x], GNA_SCALE_FACTOR_0=8192.0)
    xv = np.linspace(-4, 4, 16, dtype=np.float32).reshape(1, 16)
    s_w = R.f32(16384 / 40.0)
    s_fc = R.f32(s_w * 8192.0)
    acc = R.affine16(R.q16(xv, 8192.0), R.q16(W, s_w), [0] * 16)
    s_relu, table = relu_reference(s_fc)
    assert layer_of(plan, "relu")["pwl"] == table
    got_relu, got_prelu = plan.gna.run_integers(xv)
    np.testing.assert_array_equal(got_relu, R.pwl(acc, table))
    assert got_relu.max() == 32767 and got_relu.min() == 0
    info = layer_of(plan, "prelu")
    np.testing.assert_array_equal(got_prelu, R.pwl(acc, info["pwl"]))
    assert got_prelu.min() == -32768 and got_prelu.max() == 32767
    # the negative piece: slope 0.5 encoded from the formula
    assert (info["pwl"][0][2], info["pwl"][0][0] & 3) == R.slope_code(0.5, s_fc, info["output_scale"])


def test_affine_int8_block_product_wraps_in_int32():
    """Each 512-input block's sum times the row multiplier is an int32 product in the library's
    reference kernel: with coherent inputs it wraps around before the chunk saturation."""
    x = ops.parameter([1, 1024], np.float32, name="x")
    W = np.ones((1, 1024), np.float32)
    plan = compile_gna([ops.matmul(x, W, False, True, name="fc")], [x], GNA_SCALE_FACTOR_0=16384.0,
                       INFERENCE_PRECISION_HINT="i8")
    xv = np.ones((1, 1024), np.float32)
    w8, mult, _ = R.int8_weights(W, None, 16384.0)
    want = R.affine8(R.q16(xv, 16384.0), w8, mult, [0])
    assert want[0, 0] != R.INT32_MAX  # wrapped, not saturated
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], want)


def test_conv2d_on_gna3():
    x = ops.parameter([1, 8, 16, 16], np.float32, name="x")
    W = RNG.normal(0, 0.4, (8, 8, 3, 3)).astype(np.float32)
    b = RNG.normal(0, 0.3, (1, 8, 1, 1)).astype(np.float32)
    y = ops.add(ops.convolution(x, W, [1, 1], [1, 1], [1, 1], [1, 1], name="conv"), b)
    plan = compile_gna([y], [x], GNA_SCALE_FACTOR_0=4096.0)
    xv = RNG.uniform(-2, 2, (1, 8, 16, 16)).astype(np.float32)
    reducer = max(1.0, 1.3 * 16384 * 16384 * 8 / R.INT32_MAX)  # 3x3 kernel: reducer 1.3
    s_w = R.f32(R.weight_scale_i16(W, b, 4096.0) / reducer)
    assert layer_of(plan, "conv")["weight_scale"] == s_w
    want = R.conv2d(R.q16(xv, 4096.0), R.q16(W, s_w), R.q32(b.reshape(-1), R.f32(s_w * 4096.0)), 1)
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], want)
