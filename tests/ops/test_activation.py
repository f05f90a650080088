"""Activation functions against real OpenVINO, on every test backend."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.factory import make
from arrayrt.ir.shape import PartialShape

import arrayrt
import arrayrt.opset as aops
from arrayrt.errors import OpAttributeError, ShapeInferenceError, UnsupportedOpError
from arrayrt.testing import check_op, rand, run_arrayrt


def f32(v):
    return np.array(v, np.float32)


def _dtype(x):
    """numpy dtype of a node built by either opset module."""
    return x.output(0).get_element_type().to_dtype()


#: name -> build(ops, x) for float data
FLOAT_ACTIVATIONS = {
    "relu": lambda ops, x: ops.relu(x),
    "sigmoid": lambda ops, x: ops.sigmoid(x),
    "clamp": lambda ops, x: ops.clamp(x, -1.5, 2.25),
    "elu": lambda ops, x: ops.elu(x, 0.5),
    "gelu_erf": lambda ops, x: ops.gelu(x, "erf"),
    "gelu_tanh": lambda ops, x: ops.gelu(x, "tanh"),
    # openvino's swish(x) adds an f32 beta, which only fits f32 data
    "swish": lambda ops, x: (ops.swish(x) if _dtype(x) == np.float32
                             else ops.swish(x, ops.constant(np.array(1, _dtype(x))))),
    "swish_beta": lambda ops, x: ops.swish(x, ops.constant(np.array(1.7, _dtype(x)))),
    "hswish": lambda ops, x: ops.hswish(x),
    "hsigmoid": lambda ops, x: ops.hsigmoid(x),
    "mish": lambda ops, x: ops.mish(x),
    "softplus": lambda ops, x: ops.softplus(x),
    "softsign": lambda ops, x: ops.softsign(x),
    "hard_sigmoid": lambda ops, x: ops.hard_sigmoid(x, ops.constant(np.array(0.2, _dtype(x))),
                                                    ops.constant(np.array(0.5, _dtype(x)))),
    "selu": lambda ops, x: ops.selu(x, ops.constant(np.array([1.6733], _dtype(x))),
                                    ops.constant(np.array([1.0507], _dtype(x)))),
    "softmax": lambda ops, x: ops.softmax(x, -1),
    "log_softmax": lambda ops, x: ops.log_softmax(x, -1),
}
SHAPES = [(2, 3), (1, 3, 4, 5), (7,)]
#: large magnitudes (overflow-free formulas), zeros and values around the kinks of the piecewise ones
EDGES = np.array([-100, -30, -4, -3, -1.5, -1e-3, -0.0, 0.0, 1e-3, 2.25, 3, 4, 30, 100], np.float32)
#: for the ops where OpenVINO's CPU plugin agrees with the spec on them (see test_nan_propagates and
#: test_swish_of_minus_infinity for the others)
INFINITIES = np.array([-np.inf, np.inf, np.nan, -1.0], np.float32)
NO_INFINITIES = {"relu", "clamp", "hsigmoid", "hard_sigmoid", "swish", "swish_beta", "softmax", "log_softmax"}


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("name", FLOAT_ACTIVATIONS)
def test_float(name, backend):
    """Several shapes in float32, float64 (OpenVINO's CPU computes it in float32), large values, signed
    zeros, and infinities and NaN."""
    build = FLOAT_ACTIVATIONS[name]
    inputs = [rand(s, np.float32, seed=i, low=-5, high=5) for i, s in enumerate(SHAPES)]
    inputs += [rand((3, 6), np.float64, seed=3, low=-5, high=5), EDGES]
    if name not in NO_INFINITIES:
        inputs.append(INFINITIES)
    check_op(lambda ops, *xs: [build(ops, x) for x in xs], inputs, backend)


def test_float16(backend):
    """16-bit floats are computed in float32, as OpenVINO does. Outputs in FLOAT_ACTIVATIONS order."""
    x = rand((3, 6), np.float16, seed=4, low=-5, high=5)
    check_op(lambda ops, a: [build(ops, a) for build in FLOAT_ACTIVATIONS.values()], [x], backend,
             rtol=1e-3, atol=1e-3)


#: name -> build(ops, x) for the activations OpenVINO also defines on integers
INTEGER_ACTIVATIONS = {
    "relu": lambda ops, x: ops.relu(x),
    "clamp": lambda ops, x: ops.clamp(x, -1.5, 2.5),
    "clamp_narrow": lambda ops, x: ops.clamp(x, 0.2, 0.8),
    "clamp_wide": lambda ops, x: ops.clamp(x, -1e30, 1e30),
    "sigmoid": lambda ops, x: ops.sigmoid(x),
    "elu": lambda ops, x: ops.elu(x, 0.5),
    "hswish": lambda ops, x: ops.hswish(x),
    "hsigmoid": lambda ops, x: ops.hsigmoid(ops.multiply(x, np.array(2, _dtype(x)))),
    "prelu": lambda ops, x: ops.prelu(x, np.array([3], _dtype(x))),
}


def test_integer(backend):
    """Integer data: Clamp uses ceil(min) and floor(max); the float formulas round to nearest, as
    OpenVINO's CPU plugin does. Outputs in INTEGER_ACTIVATIONS order, int32 then int64."""
    inputs = [rand((3, 4), np.int32, seed=1, low=-6, high=6), rand((6,), np.int64, seed=2, low=-6, high=6)]
    check_op(lambda ops, a, b: [build(ops, x) for build in INTEGER_ACTIVATIONS.values() for x in (a, b)],
             inputs, backend)


def test_clamp_integer_bounds(backend):
    """ceil(min) and floor(max), saturated to the type's range, then min(max(x, min), max), as the
    spec says. OpenVINO's CPU plugin takes 1 (not ceil(1.2) = 2) as the lower bound in the second case."""
    x = np.array([0, 1, 2, 3, 250, 255], np.uint8)
    check_op(lambda ops, a: [ops.clamp(a, -5.5, 2.5), ops.clamp(a, 1.2, 1e10), ops.clamp(a, -math.inf, 2.0)],
             [x], backend, expected=[np.array([0, 1, 2, 2, 2, 2], np.uint8),
                                     np.array([2, 2, 2, 3, 250, 255], np.uint8),
                                     np.array([0, 1, 2, 2, 2, 2], np.uint8)])
    i = np.array([-9, 0, 9], np.int32)
    check_op(lambda ops, a: [ops.clamp(a, -2.5, -2.5), ops.clamp(a, -1e20, 3.5)], [i], backend)


def test_hard_sigmoid_integer(backend):
    """On integers max(0, min(1, alpha x + beta)) is exact integer arithmetic (OpenVINO's CPU plugin
    gives other values)."""
    x = np.array([-3, -1, 0, 1, 2], np.int32)
    one, two = np.array(1, np.int32), np.array(2, np.int32)
    check_op(lambda ops, a: [ops.hard_sigmoid(a, one, one), ops.hard_sigmoid(a, two, -two)], [x], backend,
             expected=[np.array([0, 0, 1, 1, 1], np.int32), np.array([0, 0, 0, 0, 1], np.int32)])


PRELU_CASES = [
    ((1, 3, 4, 4), [0.1, 0.2, 0.3]),                 # per channel (axis 1)
    ((2, 3, 3), [0.1, 0.2, 0.3]),                    # axis 1, not the last axis, though both are 3
    ((5, 3), [0.1, 0.2, 0.3]),
    ((2, 3, 4), [0.25]),
    ((2, 3, 4), np.linspace(0.1, 0.4, 4)),           # numpy broadcasting on the last axis
    ((2, 3, 4), np.linspace(0.1, 0.6, 12).reshape(3, 4)),
    ((2, 3, 4), np.linspace(0.1, 0.6, 6).reshape(2, 3, 1)),
    ((6,), np.linspace(0.1, 0.6, 6)),
    ((6,), [0.5]),
]


def test_prelu(backend):
    """Per-channel and numpy-broadcast slopes; outputs in PRELU_CASES order."""
    inputs = [rand(shape, np.float32, seed=i, low=-3, high=3) for i, (shape, _) in enumerate(PRELU_CASES)]
    slopes = [np.asarray(slope, np.float32) for _, slope in PRELU_CASES]
    check_op(lambda ops, *xs: [ops.prelu(x, s) for x, s in zip(xs, slopes, strict=True)], inputs, backend)


def test_prelu_slope_as_input(backend):
    x, s = rand((2, 3, 2, 2), np.float32, seed=2, low=-3, high=3), f32([-0.5, 0.0, 2.0])
    check_op(lambda ops, a, b: ops.prelu(a, b), [x, s], backend)


def test_gelu_versions(backend):
    """Gelu-2 (erf only) and Gelu-7 in both modes."""
    import openvino.opset2 as ov2

    def build(ops, x):
        if ops.__name__.startswith("openvino"):
            return [ov2.gelu(x), ops.gelu(x, "erf"), ops.gelu(x, "tanh")]
        return [make("Gelu", [x], version="opset2"), ops.gelu(x, "ERF"), ops.gelu(x, "TANH")]

    check_op(build, [rand((4, 64), np.float32, seed=5, low=-8, high=8)], backend)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_gelu_accuracy():
    """The float32 fast path against the exact formula: within 3e-7 |x| (2-3 float32 ulps), and
    exactly 0 and x far out."""
    x = np.concatenate([np.linspace(-12, 12, 120001), [0.0, -0.0, 1e-30, -1e30, 3e38, -np.inf, np.inf]])
    x = x.astype(np.float32)
    want = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x[:-2].astype(np.float64)])
    p = aops.parameter([x.size], np.float32)
    got = run_arrayrt(arrayrt.Model([aops.gelu(p, "erf")], [p]), [x])[0]
    assert got.dtype == np.float32
    err = np.abs(got[:-2].astype(np.float64) - want)
    bound = 3e-7 * np.abs(x[:-2]) + 1e-38
    assert (err <= bound).all(), f"{err.max()} off at {x[(err - bound).argmax()]}"
    far = np.abs(x) >= 5.9
    assert (got[far & (x < 0) & np.isfinite(x)] == 0).all() and (got[far & (x > 0)] == x[far & (x > 0)]).all()


def test_softmax_axes(backend):
    """Softmax-8 and LogSoftmax on every axis, negative ones included (outputs in AXES order)."""
    x = rand((2, 3, 4), np.float32, seed=7, low=-5, high=5)
    axes = (0, 1, 2, -1, -2, -3)
    check_op(lambda ops, a: [f(a, i) for i in axes for f in (ops.softmax, ops.log_softmax)], [x], backend)


def test_softmax_1(backend):
    """Softmax-1 (non-negative axis) from opset1."""
    import openvino.opset1 as ov1

    def build(ops, x):
        if ops.__name__.startswith("openvino"):
            return [ov1.softmax(x, axis) for axis in (0, 1, 3)]
        return [make("Softmax", [x], {"axis": axis}, version="opset1") for axis in (0, 1, 3)]

    check_op(build, [rand((2, 3, 1, 5), np.float32, seed=8, low=-5, high=5)], backend)


def test_softmax_is_stable(backend):
    """Huge logits and -inf entries: nothing overflows."""
    x = f32([[1e30, 1e30 - 1e24, -1e30], [3e4, 3e4, 1e4], [-np.inf, 0.0, 1.0], [88.0, 89.0, 90.0]])
    check_op(lambda ops, a: [ops.softmax(a, 1), ops.log_softmax(a, 1)], [x], backend)


def test_softmax_integer(backend):
    x = rand((3, 5), np.int32, seed=3, low=-3, high=9)
    check_op(lambda ops, a: ops.softmax(ops.multiply(a, np.array(10, np.int32)), -1), [x], backend)


def test_nan_propagates(backend):
    """NaN gives NaN, as the reference kernels and array-API min/max do. OpenVINO's CPU plugin (and its
    reference for Relu) map NaN to 0 in Relu and HSigmoid, to min in Clamp, to 1 in HardSigmoid."""
    x = f32([np.nan, 1.0])
    nan_one = [f32([np.nan, 1.0]), f32([np.nan, 1.0]), f32([np.nan, 4 / 6]), f32([np.nan, 0.7])]
    check_op(lambda ops, a: [ops.relu(a), ops.clamp(a, -1.0, 2.0), ops.hsigmoid(a),
                             ops.hard_sigmoid(a, f32(0.2), f32(0.5))], [x], backend, expected=nan_one)


def test_swish_of_minus_infinity(backend):
    """x * sigmoid(x) at -inf: arrayrt's overflow-free sigmoid is a tiny positive number there, so the
    product is -inf (OpenVINO: -inf * 0 = NaN; the limit is 0)."""
    check_op(lambda ops, a: ops.swish(a), [f32([-np.inf, -200.0])], backend, expected=[f32([-np.inf, -0.0])],
             atol=1e-30)


def test_dynamic_shapes():
    x = aops.parameter(PartialShape([-1, 4]), np.float32)
    outputs = [aops.softmax(x, -1), aops.gelu(x, "erf"), aops.prelu(x, f32([0.1, 0.2, 0.3, 0.4]))]
    model = arrayrt.Model(outputs, [x])
    assert all(o.get_partial_shape() == PartialShape([-1, 4]) for o in model.outputs)
    out = run_arrayrt(model, [rand((3, 4), np.float32)])
    assert [o.shape for o in out] == [(3, 4)] * 3
    y = aops.parameter(PartialShape.dynamic(), np.float32)
    assert aops.softmax(y, 5).output(0).get_partial_shape() == PartialShape.dynamic()


@pytest.mark.parametrize("build, error, message", [
    (lambda x, i: aops.gelu(i, "erf"), ShapeInferenceError, "floating"),
    (lambda x, i: aops.mish(i), ShapeInferenceError, "floating"),
    (lambda x, i: aops.relu(aops.parameter([2], bool)), ShapeInferenceError, "numeric"),
    (lambda x, i: aops.clamp(x, 2.0, 1.0), OpAttributeError, "'min'"),
    (lambda x, i: aops.gelu(x, "fast"), OpAttributeError, "approximation_mode"),
    (lambda x, i: aops.softmax(x, 2), ShapeInferenceError, "axis"),
    (lambda x, i: aops.softmax(x, -3), ShapeInferenceError, "axis"),
    (lambda x, i: make("Softmax", [x], {"axis": -1}, version="opset1"), ShapeInferenceError, "non-negative"),
    (lambda x, i: aops.log_softmax(x, 2), ShapeInferenceError, "axis"),
    (lambda x, i: aops.prelu(x, f32([1, 2, 3, 4])), ShapeInferenceError, "slope"),
    (lambda x, i: aops.prelu(x, np.zeros((5, 2, 3), np.float32)), ShapeInferenceError, "slope"),
    (lambda x, i: aops.prelu(x, np.int32([1])), ShapeInferenceError, "element types"),
    (lambda x, i: aops.swish(x, f32([1.0])), ShapeInferenceError, "scalar"),
    (lambda x, i: aops.hard_sigmoid(x, f32([0.2]), f32(0.5)), ShapeInferenceError, "scalar"),
    (lambda x, i: aops.selu(x, f32([1.0, 2.0]), f32([1.0])), ShapeInferenceError, "one element"),
    (lambda x, i: aops.selu(x, np.array(1.0, np.float64), f32([1.0])), ShapeInferenceError, "element types"),
])
def test_bad_inputs(build, error, message):
    x, i = aops.parameter([2, 3], np.float32), aops.parameter([2, 3], np.int32)
    with pytest.raises(error, match=message):
        build(x, i)


def test_versions():
    assert get_op("Softmax", "opset7").version == 1
    assert get_op("Softmax", "opset8").version == 8
    assert get_op("Gelu", "opset6").version == 0
    assert get_op("Gelu", "opset16").version == 7
    for name, opset in (("Gelu", "opset1"), ("SoftSign", "opset8"), ("HSigmoid", "opset4"),
                        ("Mish", "opset3"), ("LogSoftmax", "opset4")):
        with pytest.raises(UnsupportedOpError):
            get_op(name, opset)
