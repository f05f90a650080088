"""Elementwise unary ops (arithmetic, rounding, trigonometric, classification, bitwise) against real
OpenVINO, on every test backend."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops._xp import erf
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

import arrayrt.opset as aops
from arrayrt.errors import ShapeInferenceError, UnsupportedOpError
from arrayrt.testing import check_op, rand

#: factory name -> (low, high) of inputs inside the function's domain
FLOAT_UNARY = {
    "negative": (-3, 3), "absolute": (-3, 3), "sign": (-3, 3), "floor": (-3, 3), "ceiling": (-3, 3),
    "sqrt": (0, 9), "exp": (-5, 5), "log": (0.01, 9), "erf": (-4, 4), "sin": (-6, 6), "cos": (-6, 6),
    "tan": (-1.4, 1.4), "tanh": (-5, 5), "asin": (-1, 1), "acos": (-1, 1), "atan": (-9, 9),
    "sinh": (-4, 4), "cosh": (-4, 4), "asinh": (-9, 9), "acosh": (1, 9), "atanh": (-0.99, 0.99),
}
SHAPES = [(2, 3), (1, 3, 4, 4), ()]
SPECIAL = np.array([-np.inf, -2.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.5, np.inf, np.nan], np.float32)


def _operands(table):
    """Random inputs from rows of (dtype, shape, low, high)."""
    return [rand(shape, dtype, seed=i, low=lo, high=hi) for i, (dtype, shape, lo, hi) in enumerate(table)]


def _pairwise(op):
    return lambda ops, *x: [getattr(ops, op)(a, b) for a, b in zip(x[::2], x[1::2], strict=True)]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("op", FLOAT_UNARY)
def test_float(op, backend):
    """Several shapes in float32, float64, and special values: inf, NaN, signed zeros and
    out-of-domain inputs (NaN results)."""
    low, high = FLOAT_UNARY[op]
    inputs = [rand(s, np.float32, seed=i, low=low, high=high) for i, s in enumerate(SHAPES)]
    inputs.append(rand((3, 5), np.float64, seed=9, low=low, high=high))
    if op != "exp":  # see test_exp_of_nan
        inputs.append(SPECIAL)
    check_op(lambda ops, *xs: [getattr(ops, op)(x) for x in xs], inputs, backend)


def test_exp_of_nan(backend):
    """exp(NaN) is NaN (IEEE 754); OpenVINO's CPU plugin gives inf."""
    want = np.array([0.0] + [math.exp(v) for v in SPECIAL[1:-2]] + [np.inf, np.nan], np.float32)
    check_op(lambda ops, x: ops.exp(x), [SPECIAL], backend, expected=[want])


def _each_op(table):
    """build(ops, *xs) applying the table's ops, in order, one to each input."""
    return lambda ops, *xs: [getattr(ops, op)(x) for op, x in zip(table, xs, strict=True)]


def test_float16(backend):
    """Outputs in FLOAT_UNARY order."""
    inputs = _operands([(np.float16, (3, 5), lo, hi) for lo, hi in FLOAT_UNARY.values()])
    check_op(_each_op(FLOAT_UNARY), inputs, backend, rtol=1e-3, atol=1e-3)


#: integer-valued inputs with no result near a rounding tie (so float32 and float64 agree)
INTEGER_UNARY = {
    "negative": (-9, 9), "absolute": (-9, 9), "sign": (-9, 9), "floor": (-9, 9), "ceiling": (-9, 9),
    "sqrt": (0, 99), "exp": (-3, 9), "log": (1, 99), "erf": (-3, 3), "sin": (-9, 9), "cos": (-9, 9),
    "tanh": (-3, 3), "atan": (-9, 9), "sinh": (-6, 6), "cosh": (-6, 6), "asinh": (-9, 9), "acosh": (1, 9),
    "asin": (-1, 2), "acos": (-1, 2),
}


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer(dtype, backend):
    """Float functions on integers compute in floating point and round to nearest, as OpenVINO's CPU
    plugin does (its reference kernels truncate for some ops: the spec is silent). Outputs in
    INTEGER_UNARY order."""
    inputs = _operands([(dtype, (4, 5), lo, hi) for lo, hi in INTEGER_UNARY.values()])
    check_op(_each_op(INTEGER_UNARY), inputs, backend)


def test_integer_rounding_is_to_nearest(backend):
    x = np.array([2, 3, 8, 15], np.int32)
    check_op(lambda ops, a: [ops.sqrt(a), ops.log(a), ops.exp(ops.negative(a))], [x], backend,
             expected=[np.array([1, 2, 3, 4], np.int32), np.array([1, 1, 2, 3], np.int32),
                       np.array([0, 0, 0, 0], np.int32)])


def test_unsigned_and_small_integers(backend):
    u8 = np.array([0, 1, 4, 9, 200], np.uint8)
    i8 = np.array([-7, -1, 0, 3, 9], np.int8)
    check_op(lambda ops, a, b: [ops.absolute(a), ops.sqrt(a), ops.sign(a), ops.absolute(b), ops.sign(b),
                                ops.negative(b), ops.floor(b)], [u8, i8], backend)


def test_sign_of_zero_and_nan(backend):
    """Sign maps -0 to +0 and NaN to NaN, as the spec says."""
    x = np.array([-0.0, 0.0, np.nan, -3.0, 7.0], np.float32)
    got = check_op(lambda ops, a: ops.sign(a), [x], backend)[0]
    assert not np.signbit(got[0])
    check_op(lambda ops, a: ops.sign(a), [x], backend,
             expected=[np.array([0, 0, np.nan, -1, 1], np.float32)])


TIES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -0.49999997, 1e7 + 1, -3.7, np.inf, np.nan],
                np.float32)


@pytest.mark.parametrize("mode, want", [
    ("half_to_even", [-2, -2, -0.0, 0, 2, 2, 0, -0.0, 1e7 + 1, -4, np.inf, np.nan]),
    ("half_away_from_zero", [-3, -2, -1, 1, 2, 3, 0, -0.0, 1e7 + 1, -4, np.inf, np.nan]),
])
def test_round_ties(mode, want, backend):
    """Ties, signed zeros, large odd values, inf and NaN. OpenVINO's CPU plugin rounds 0.49999997 away
    from zero to 1 (as floor(x + 0.5) would); the spec (std::round) and arrayrt give 0."""
    check_op(lambda ops, x: ops.round(x, mode), [np.delete(TIES, [6, 7])], backend)
    got = check_op(lambda ops, x: ops.round(x, mode), [TIES], backend,
                   expected=[np.array(want, np.float32)])[0]
    assert np.signbit(got[7]), "rounding -0.49999997 keeps the sign of zero"
    big = np.array([2.0**23 + 1, 2.0**23 + 2, 2.0**24 + 2, -(2.0**23) - 1, 2.0**52 + 1], np.float64)
    check_op(lambda ops, x: ops.round(x, mode), [big], backend, expected=[big])
    check_op(lambda ops, x: ops.round(x, mode), [big[:4].astype(np.float32)], backend,
             expected=[big[:4].astype(np.float32)])


@pytest.mark.parametrize("mode", ["half_to_even", "half_away_from_zero"])
def test_round_shapes_and_types(mode, backend):
    inputs = _operands([(np.float32, (2, 3, 4), -9, 9), (np.float16, (5,), -9, 9), (np.int32, (3, 2), -9, 9)])
    check_op(lambda ops, a, b, c: [ops.round(x, mode) for x in (a, b, c)], inputs, backend)


@pytest.mark.parametrize("neg, pos", [(True, True), (True, False), (False, True), (False, False)])
def test_is_inf(neg, pos, backend):
    x16 = SPECIAL.astype(np.float16)
    check_op(lambda ops, a, b: [ops.is_inf(a, {"detect_negative": neg, "detect_positive": pos}),
                                ops.is_inf(b, {"detect_negative": neg, "detect_positive": pos})],
             [SPECIAL.reshape(1, 11), x16], backend)


def test_is_finite_is_nan(backend):
    check_op(lambda ops, a, b: [ops.is_finite(a), ops.is_nan(a), ops.is_finite(b), ops.is_nan(b)],
             [SPECIAL, SPECIAL.astype(np.float16).reshape(11, 1)], backend)
    got = check_op(lambda ops, a: ops.is_nan(a), [SPECIAL], backend)[0]
    assert got.dtype == np.bool_ and got.tolist() == [False] * 10 + [True]


def test_erf_accuracy():
    """``_xp.erf``: float64 within a few ulp of ``math.erf``, float32 within 2e-7, on every backend's
    namespace (including 0, tiny, huge and the branch points 0.46875 and 4)."""
    import array_api_strict as xs

    grid = np.concatenate([np.linspace(-7, 7, 70001), [0.0, 1e-300, -1e-30, 0.46875, -0.46875, 4.0, -4.0,
                                                       0.4687499999, 3.9999999, 30.0, -30.0]])
    for xp, wrap in ((np, np.asarray), (xs, xs.asarray)):
        got64 = np.asarray(erf(xp, wrap(grid)))
        want = np.array([math.erf(v) for v in grid])
        ulp = np.abs(got64 - want) / np.spacing(np.maximum(np.abs(want), np.finfo(np.float64).tiny))
        assert ulp.max() <= 4, f"float64 erf is {ulp.max()} ulp off at {grid[ulp.argmax()]}"
        g32 = grid.astype(np.float32)
        got32 = np.asarray(erf(xp, wrap(g32)))
        assert got32.dtype == np.float32
        want32 = np.array([math.erf(float(v)) for v in g32])
        err = np.abs(got32.astype(np.float64) - want32)
        assert err.max() <= 2e-7, f"float32 erf is {err.max()} off at {g32[err.argmax()]}"


#: operand pairs; int64 stays in the int32 range, see test_wide_int64
BITWISE_OPERANDS = [(np.int32, (3, 4), -100, 100), (np.int32, (4,), -100, 100),
                    (np.uint8, (2, 3), 0, 255), (np.uint8, (2, 3), 0, 255),
                    (np.int64, (2, 1), -(2**30), 2**30), (np.int64, (5,), -9, 9),
                    (bool, (3, 3), 0, 2), (bool, (3, 1), 0, 2)]
#: value and count pairs, counts within [0, bit width): other counts are undefined in OpenVINO too
SHIFT_OPERANDS = [(np.int32, (3, 4), -1000, 1000), (np.int32, (4,), 0, 20),
                  (np.uint8, (5,), 0, 255), (np.uint8, (5,), 0, 8),
                  (np.int64, (2, 3), -1024, 1024), (np.int64, (1, 3), 0, 20)]


@pytest.mark.parametrize("op", ["bitwise_and", "bitwise_or", "bitwise_xor"])
def test_bitwise_binary(op, backend):
    check_op(_pairwise(op), _operands(BITWISE_OPERANDS), backend)


def test_bitwise_not(backend):
    check_op(lambda ops, *x: [ops.bitwise_not(a) for a in x], _operands(BITWISE_OPERANDS[::2]), backend)


@pytest.mark.parametrize("op", ["bitwise_left_shift", "bitwise_right_shift"])
def test_shifts(op, backend):
    check_op(_pairwise(op), _operands(SHIFT_OPERANDS), backend)


def test_wide_int64(backend):
    """int64 beyond the int32 range (OpenVINO's CPU plugin computes int64 bitwise ops in int32)."""
    a = np.array([2**40 + 5, -(2**50), 2**62, -1], np.int64)
    b = np.array([2**33 + 4, 2**45 - 1, 3, 2**35], np.int64)
    s = np.array([20, 10, 0, 28], np.int64)
    check_op(lambda ops, x, y, n: [ops.bitwise_and(x, y), ops.bitwise_or(x, y), ops.bitwise_xor(x, y),
                                   ops.bitwise_not(x), ops.bitwise_left_shift(y, n),
                                   ops.bitwise_right_shift(x, n)],
             [a, b, s], backend, expected=[a & b, a | b, a ^ b, ~a, b << s, a >> s])


def test_right_shift_is_arithmetic(backend):
    check_op(lambda ops, a, b: ops.bitwise_right_shift(a, b),
             [np.array([-8, -1, 8, 7], np.int32), np.array([1, 3, 2, 0], np.int32)], backend,
             expected=[np.array([-4, -1, 2, 7], np.int32)])


# --- kernels, inference, registry -----------------------------------------------------------------

def _node(factory, dtype, shape=(2, 3), **kw):
    return factory(aops.parameter(list(shape), dtype), **kw)


def test_float32_kernels_are_bare_array_api_functions():
    """No per-call dispatch for the common case: the kernel is the namespace's own function."""
    from arrayrt.backends.numpy import NumpyBackend

    b = NumpyBackend()
    assert b.kernel(_node(aops.sin, np.float32)) is np.sin
    assert b.kernel(_node(aops.negative, np.int32)) is np.negative
    assert b.kernel(_node(aops.round, np.float32)) is np.round
    assert b.kernel(_node(aops.is_nan, np.float16)) is np.isnan
    assert b.kernel(_node(aops.floor, np.int64))(np.arange(3)).tolist() == [0, 1, 2]


def test_dynamic_shapes_propagate():
    for dims in ([-1, 3], "?", [2, "1..5"]):
        x = aops.parameter(PartialShape(dims), np.float32)
        i = aops.parameter(PartialShape(dims), np.int8)
        for node in (aops.exp(x), aops.round(x), aops.bitwise_not(i)):
            assert node.output(0).get_partial_shape() == PartialShape(dims)
        assert aops.is_inf(x).output(0).get_element_type() is Type.boolean


@pytest.mark.parametrize("build, dtype, message", [
    (aops.negative, bool, "numeric"), (aops.sin, bool, "numeric"), (aops.is_nan, np.int32, "floating"),
    (aops.bitwise_not, np.float32, "integer or boolean"),
])
def test_bad_input_types(build, dtype, message):
    with pytest.raises(ShapeInferenceError, match=message):
        _node(build, dtype)


def test_bad_binary_types():
    f, b = aops.parameter([2], np.float32), aops.parameter([2], bool)
    with pytest.raises(ShapeInferenceError, match="integer or boolean"):
        aops.bitwise_and(f, f)
    with pytest.raises(ShapeInferenceError, match="must be an integer"):
        aops.bitwise_left_shift(b, b)
    with pytest.raises(ShapeInferenceError, match="different element types"):
        aops.bitwise_or(aops.parameter([2], np.int32), aops.parameter([2], np.int64))


def test_versions():
    assert get_op("Round", "opset16").version == 5
    assert get_op("Asinh", "opset4").opset == "opset4"
    assert get_op("BitwiseLeftShift", "opset15").version == 15
    for name, opset in (("Round", "opset4"), ("Asinh", "opset3"), ("IsNaN", "opset9"),
                        ("BitwiseAnd", "opset12"), ("BitwiseRightShift", "opset14")):
        with pytest.raises(UnsupportedOpError):
            get_op(name, opset)
