"""Reductions against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.shape import PartialShape

import arrayrt.opset as aops
from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import check_op, rand

ARITH = ["reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_l1", "reduce_l2"]

CASES = [  # shape, axes, keep_dims
    ((2, 3, 4), [1], False),
    ((2, 3, 4), [0, 2], True),
    ((2, 3, 4), [-1], False),
    ((2, 3, 4), [-3, 1], True),
    ((5,), [0], False),
    ((5,), [0], True),
    ((2, 3, 4, 5), [1, 2, 3], False),
    ((2, 3, 4, 5), [3, 0], True),
    ((3, 4), 1, False),  # scalar axes
]


def _axes(axes, dtype=np.int64):
    return np.array(axes, dtype)


def _all_ops(axes, keep, ops_list=ARITH):
    """One graph computing every reduction in ``ops_list`` of its input (one compile per case)."""
    return lambda ops, a: [getattr(ops, op)(a, axes, keep) for op in ops_list]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_reduce_f32(case, backend):
    shape, axes, keep = case
    x = rand(shape, np.float32, seed=1, low=0.5, high=1.5)
    x[..., ::2] *= -1
    check_op(_all_ops(_axes(axes), keep), [x], backend, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("keep", [False, True])
def test_reduce_int(dtype, keep, backend):
    """Integer means truncate toward zero; integer L2 truncates the square root."""
    x = rand((3, 4, 5), dtype, seed=2, low=-9, high=9)
    check_op(_all_ops(_axes([0, 2], np.int32), keep, [op for op in ARITH if op != "reduce_prod"]), [x],
             backend)
    x = rand((3, 4, 5), dtype, seed=2, low=-3, high=4)
    check_op(_all_ops(_axes([0, 2], np.int32), keep, ["reduce_prod"]), [x], backend)


def test_reduce_f16(backend):
    x = rand((4, 6), np.float16, seed=3, low=0.5, high=1.5)
    check_op(_all_ops(_axes([1]), False), [x], backend, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("op", ["reduce_logical_and", "reduce_logical_or"])
@pytest.mark.parametrize("case", CASES[:6], ids=str)
def test_reduce_logical(op, case, backend):
    shape, axes, keep = case
    x = rand(shape, np.bool_, seed=4)
    x.flat[0] = True
    check_op(lambda ops, a: getattr(ops, op)(a, _axes(axes), keep), [x], backend)


def test_reduce_axes_as_input(backend):
    """Axes that are only known at inference time (a Parameter)."""
    x = rand((2, 3, 4), np.float32, seed=5, low=0.5, high=1.5)
    check_op(lambda ops, a, ax: [getattr(ops, op)(a, ax, True) for op in ARITH], [x, _axes([-1, 0])], backend,
             rtol=1e-5, atol=1e-6)


def test_reduce_logical_axes_as_input(backend):
    """OpenVINO's CPU plugin cannot run logical reductions over non-constant axes: hand-computed."""
    x = rand((2, 3, 4), np.bool_, seed=5)
    check_op(lambda ops, a, ax: ops.reduce_logical_or(a, ax, False), [x, _axes([-1, 0])], backend,
             expected=[np.any(x, axis=(0, 2))])
    check_op(lambda ops, a, ax: ops.reduce_logical_and(a, ax, True), [x, _axes([1])], backend,
             expected=[np.all(x, axis=1, keepdims=True)])


EMPTY_AXES = {"reduce_sum": lambda x: x, "reduce_mean": lambda x: x, "reduce_max": lambda x: x,
              "reduce_min": lambda x: x, "reduce_l1": np.abs, "reduce_l2": np.abs, "reduce_prod": lambda x: x}


@pytest.mark.parametrize("keep", [False, True])
def test_reduce_empty_axes(keep, backend):
    """An empty axes list reduces nothing (spec: the output is the input, elementwise-transformed for
    L1/L2). OpenVINO's CPU plugin refuses to compile this graph, so the values are hand-computed."""
    x = rand((2, 3), np.float32, seed=6)
    check_op(_all_ops(np.array([], np.int64), keep, list(EMPTY_AXES)), [x], backend,
             expected=[f(x).astype(np.float32) for f in EMPTY_AXES.values()])


def test_reduce_zero_sized(backend):
    """Reducing a zero-sized dimension gives the identity (mean of nothing is 0, as on the CPU plugin)."""
    x = np.zeros((2, 0, 3), np.float32)
    check_op(_all_ops(_axes([1]), False), [x], backend)


def test_reduce_dynamic_shapes():
    x = aops.parameter([-1, 3, -1], np.float32)
    assert str(aops.reduce_sum(x, _axes([1]), True).output(0).get_partial_shape()) == "[?,1,?]"
    assert str(aops.reduce_sum(x, _axes([0, 2]), False).output(0).get_partial_shape()) == "[3]"
    ax = aops.parameter([1], np.int64)
    assert str(aops.reduce_max(x, ax, True).output(0).get_partial_shape()) == "[?,?,?]"
    assert aops.reduce_max(x, ax, False).output(0).get_partial_shape().rank_is_static is False
    d = aops.parameter(PartialShape.dynamic(), np.float32)
    assert aops.reduce_mean(d, _axes([0]), True).output(0).get_partial_shape().rank_is_static is False


@pytest.mark.parametrize("build,message", [
    (lambda x, b: aops.reduce_sum(x, _axes([3])), "out of range"),
    (lambda x, b: aops.reduce_sum(x, np.array([0.0], np.float32)), "integer"),
    (lambda x, b: aops.reduce_sum(x, np.zeros((1, 1), np.int64)), "1-D"),
    (lambda x, b: aops.reduce_logical_and(x, _axes([0])), "boolean"),
    (lambda x, b: aops.reduce_sum(b, _axes([0])), "numeric"),
])
def test_reduce_validation(build, message):
    x = aops.parameter([2, 3, 4], np.float32)
    b = aops.parameter([2, 3], np.bool_)
    with pytest.raises(ShapeInferenceError, match=message):
        build(x, b)
