"""Comparisons, boolean logic and Select against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

import arrayrt.opset as aops
from arrayrt.errors import OpAttributeError, ShapeInferenceError
from arrayrt.testing import check_op, rand

COMPARISONS = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
SHAPES = [((2, 3), (2, 3)), ((2, 1, 4), (3, 1)), ((5,), ()), ((1, 3, 4, 4), (1, 3, 1, 1))]


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison(op, backend):
    """Broadcast shapes, then float32 with ties, NaN, infinities and signed zeros, then int32, int64,
    uint8 and boolean (outputs in that order)."""
    inputs = []
    for i, (sa, sb) in enumerate(SHAPES):  # small integers: plenty of ties
        inputs += [rand(sa, np.float32, seed=i, low=-3, high=3).round(),
                   rand(sb, np.float32, seed=9 + i, low=-3, high=3).round()]
    special = np.array([np.nan, 1.0, np.nan, -np.inf, np.inf, -0.0, 2.0], np.float32)
    inputs += [special, special[::-1].copy()]
    for dtype in (np.int32, np.int64, np.uint8, bool):
        inputs += [rand((3, 4), dtype, seed=1, low=0, high=4), rand((4,), dtype, seed=2, low=0, high=4)]
    check_op(lambda ops, *x: [getattr(ops, op)(x[i], x[i + 1]) for i in range(0, len(x), 2)], inputs, backend)


def test_comparison_output_type_and_none_broadcast(backend):
    a, b = rand((2, 3), np.float32, seed=1).round(), rand((2, 3), np.float32, seed=2).round()
    got = check_op(lambda ops, x, y: [ops.less(x, y, "none"), ops.equal(x, y, "none")], [a, b], backend)
    assert all(g.dtype == np.bool_ for g in got)
    with pytest.raises(ShapeInferenceError, match="auto_broadcast is none"):
        aops.greater(aops.parameter([2, 3], np.float32), aops.parameter([3], np.float32), "none")


@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary(op, backend):
    inputs = [rand((2, 3), bool, seed=1), rand((2, 3), bool, seed=2), rand((2, 1, 4), bool, seed=3),
              rand((3, 1), bool, seed=4), rand((4,), bool, seed=5), np.array(True)]
    check_op(lambda ops, *x: [getattr(ops, op)(x[i], x[i + 1]) for i in range(0, 6, 2)], inputs, backend)


def test_logical_truth_tables(backend):
    a, b = np.array([False, False, True, True]), np.array([False, True, False, True])
    check_op(lambda ops, x, y: [ops.logical_and(x, y), ops.logical_or(x, y), ops.logical_xor(x, y),
                                ops.logical_not(x)], [a, b], backend,
             expected=[np.array([False, False, False, True]), np.array([False, True, True, True]),
                       np.array([False, True, True, False]), np.array([True, True, False, False])])


def test_logical_not(backend):
    check_op(lambda ops, x, y: [ops.logical_not(x), ops.logical_not(y)],
             [rand((3, 4), bool, seed=1), np.array(False)], backend)


SELECT_SHAPES = [
    ((2, 3), (2, 3), (2, 3)),
    ((2, 3), (3,), ()),
    ((3, 1), (1, 4), (4,)),
    ((1,), (2, 3), (2, 1)),
    ((2, 1, 1), (1, 3, 1), (1, 1, 4)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, bool])
def test_select(dtype, backend):
    """NUMPY broadcasting of all three inputs (SELECT_SHAPES, in order)."""
    inputs = []
    for i, (sc, st, se) in enumerate(SELECT_SHAPES):
        inputs += [rand(sc, bool, seed=i), rand(st, dtype, seed=10 + i, low=-9, high=9),
                   rand(se, dtype, seed=20 + i, low=-9, high=9)]
    check_op(lambda ops, *x: [ops.select(x[i], x[i + 1], x[i + 2]) for i in range(0, len(x), 3)], inputs,
             backend)


def test_select_none_broadcast(backend):
    c, t, e = rand((2, 3), bool, seed=1), rand((2, 3), np.float32, seed=2), rand((2, 3), np.float32, seed=3)
    check_op(lambda ops, x, y, z: ops.select(x, y, z, "none"), [c, t, e], backend)
    check_op(lambda ops, x, y, z: ops.select(x, y, z, "none"), [c, t, e], backend,
             expected=[np.where(c, t, e)])


def test_select_special_values(backend):
    c = np.array([True, False, True, False])
    t = np.array([np.nan, 1.0, -0.0, np.inf], np.float32)
    e = np.array([2.0, np.nan, 3.0, -np.inf], np.float32)
    check_op(lambda ops, x, y, z: ops.select(x, y, z), [c, t, e], backend,
             expected=[np.array([np.nan, np.nan, -0.0, -np.inf], np.float32)])


def test_inference_with_dynamic_shapes():
    c = aops.parameter(PartialShape([-1, 1]), bool)
    t = aops.parameter(PartialShape([1, "2..5"]), np.float32)
    e = aops.parameter(PartialShape.dynamic(), np.float32)
    assert aops.select(c, t, t).output(0).get_partial_shape() == PartialShape([-1, "2..5"])
    assert aops.select(c, t, e).output(0).get_partial_shape() == PartialShape.dynamic()
    eq = aops.equal(t, aops.parameter(PartialShape([3, 1]), np.float32))
    assert eq.output(0).get_partial_shape() == PartialShape([3, "2..5"])
    assert eq.output(0).get_element_type() is Type.boolean


@pytest.mark.parametrize("build, error, message", [
    (lambda f, i, b: aops.logical_and(i, i), ShapeInferenceError, "boolean"),
    (lambda f, i, b: aops.logical_not(f), ShapeInferenceError, "boolean"),
    (lambda f, i, b: aops.equal(f, i), ShapeInferenceError, "different element types"),
    (lambda f, i, b: aops.select(i, f, f), ShapeInferenceError, "boolean"),
    (lambda f, i, b: aops.select(b, f, i), ShapeInferenceError, "different element types"),
    (lambda f, i, b: aops.select(b, f, aops.parameter([4], np.float32)), ShapeInferenceError, "broadcast"),
    (lambda f, i, b: aops.select(b, f, aops.parameter([3], np.float32), "none"), ShapeInferenceError, "none"),
    (lambda f, i, b: aops.select(b, f, f, "pdpd"), OpAttributeError, "auto_broadcast"),
])
def test_bad_inputs(build, error, message):
    f, i, b = (aops.parameter([2, 3], t) for t in (np.float32, np.int32, bool))
    with pytest.raises(error, match=message):
        build(f, i, b)
