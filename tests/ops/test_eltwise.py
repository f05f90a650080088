"""Elementwise binary ops against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.ops.factory import make

from arrayrt.testing import check_op, rand

BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "squared_difference",
          "power", "floor_mod", "mod"]

SHAPES = [((2, 3), (2, 3)), ((2, 1, 4), (3, 1)), ((5,), ()), ((1, 3, 4, 4), (1, 3, 1, 1))]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_binary_float(op, shapes, backend):
    a = rand(shapes[0], np.float32, seed=1, low=0.5, high=3)
    b = rand(shapes[1], np.float32, seed=2, low=0.5, high=3)
    if op in ("floor_mod", "mod"):
        a = rand(shapes[0], np.float32, seed=1, low=-5, high=5)
    check_op(lambda ops, x, y: getattr(ops, op)(x, y), [a, b], backend, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_binary_int(op, dtype, backend):
    a = rand((3, 4), dtype, seed=3, low=-9, high=9)
    b = rand((3, 4), dtype, seed=4, low=1, high=5)
    if op == "divide":  # mixed signs: see test_integer_division_modes
        a = np.abs(a)
    elif op in ("floor_mod", "mod"):
        b = np.where(np.arange(12).reshape(3, 4) % 2 == 0, b, -b).astype(dtype)
    if op == "power":
        a = rand((3, 4), dtype, seed=3, low=-3, high=4)
        b = rand((3, 4), dtype, seed=4, low=0, high=4)
    check_op(lambda ops, x, y: getattr(ops, op)(x, y), [a, b], backend)


def test_integer_division_modes(backend):
    """Divide floors when m_pythondiv (the default, as the opset spec says) and truncates otherwise.
    (OpenVINO's CPU plugin truncates in both modes; the spec and its reference kernels floor.)"""
    a = np.array([7, -7, 7, -7, -1, 1], np.int32)
    b = np.array([2, 2, -2, -2, 3, -3], np.int32)
    check_op(lambda ops, x, y: make("Divide", [x, y], {"m_pythondiv": False}), [a, b], backend,
             expected=[np.array([3, -3, -3, 3, 0, 0], np.int32)])
    check_op(lambda ops, x, y: ops.divide(x, y), [a, b], backend,
             expected=[np.array([3, -4, -4, 3, -1, -1], np.int32)])
    check_op(lambda ops, x, y: ops.floor_mod(x, y), [a, b], backend,
             expected=[np.array([1, 1, -1, -1, 2, -2], np.int32)])
    check_op(lambda ops, x, y: ops.mod(x, y), [a, b], backend,
             expected=[np.array([1, -1, 1, -1, -1, 1], np.int32)])
