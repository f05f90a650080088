"""numpy kernels for the matmul and normalization families (see kernels.py).

* MatMul: ``numpy.matmul`` itself, with transposes folded in as ``.mT`` views (numpy hands
  transposed operands to BLAS as such, without copying); a constant right operand's view is taken
  once at compile time, and a 2-D one is multiplied as one GEMM over the flattened batch of the left.
* MVN over the last axis (layer norm): means as BLAS matrix-vector products, in-place updates.
* Softmax (v1, v8): in-place exp and normalisation; over the last axis, the row sums as a BLAS
  matrix-vector product.

Each factory returns None to fall back to the op's generic compute (other dtypes, dynamic ranks).
"""
from __future__ import annotations

import numpy as np
from arrayrt.backends.base import KernelFactory
from arrayrt.ir.ops.normalization import mvn_v0_axes
from arrayrt.ir.ops.reduce import reduction_axes
from arrayrt.ir.types import Type

_BLAS_TYPES = (Type.f32, Type.f64)
_MATMUL_TYPES = (Type.f32, Type.f64, Type.i32, Type.i64)


def _exec_type(fn, name: str):
    fn.exec_type = name
    return fn


def matmul_kernel(backend, node):
    t = node.input_type(0)
    sa, sb = node.input_shape(0), node.input_shape(1)
    if t not in _MATMUL_TYPES or not sa.rank_is_static or not sb.rank_is_static:
        return None
    ta = node.attrs["transpose_a"] and len(sa) > 1
    tb = node.attrs["transpose_b"] and len(sb) > 1
    matmul = np.matmul
    w = node.input_const(1)
    if w is not None:
        w = np.asarray(w)
        if tb:
            w = w.mT
        if w.ndim == 2 and len(sa) >= 3 and not ta and w.shape[0] > 0:
            k, n = w.shape

            def dense(a, _b):
                return matmul(a.reshape(-1, k), w).reshape(a.shape[:-1] + (n,))

            return _exec_type(dense, "numpy_gemm")
        if ta:
            return _exec_type(lambda a, _b: matmul(a.mT, w), "numpy_gemm")
        return _exec_type(lambda a, _b: matmul(a, w), "numpy_gemm")
    if ta and tb:
        return _exec_type(lambda a, b: matmul(a.mT, b.mT), "numpy_gemm")
    if ta:
        return _exec_type(lambda a, b: matmul(a.mT, b), "numpy_gemm")
    if tb:
        return _exec_type(lambda a, b: matmul(a, b.mT), "numpy_gemm")
    return matmul


def _layer_norm(n: int, normalize_variance: bool, eps: float, inside_sqrt: bool, dtype):
    """MVN over the last axis of length ``n``: two BLAS matrix-vector products for the means and
    three elementwise passes (subtract, square, divide in place)."""
    ones = np.full((n, 1), 1.0 / n, dtype)
    matmul, sqrt = np.matmul, np.sqrt

    def layer_norm(x, *_axes):
        d = x - matmul(x, ones)
        if not normalize_variance:
            return d
        sq = d * d
        var = matmul(sq, ones)
        if inside_sqrt:
            var += eps
            sqrt(var, out=var)
        else:
            sqrt(var, out=var)
            var += eps
        d /= var
        return d

    return layer_norm


def layer_norm_of(node):
    """The :func:`_layer_norm` for an MVN node over its last axis (f32/f64, static last
    dimension, constant axes), or None."""
    t, s = node.input_type(0), node.input_shape(0)
    if t not in _BLAS_TYPES or not s.rank_is_static or len(s) == 0 or not s[-1].is_static or s[-1] == 0:
        return None
    rank = len(s)
    if node.op.version == 0:
        axes, inside = mvn_v0_axes(node.attrs, rank), True
    else:
        values = node.input_const(1)
        if values is None:
            return None
        axes, inside = reduction_axes(values, rank, node), node.attrs["eps_mode"] == "INSIDE_SQRT"
    if axes != (rank - 1,):
        return None
    return _layer_norm(s[-1].get_length(), node.attrs["normalize_variance"], node.attrs["eps"], inside,
                       t.to_dtype())


def mvn_kernel(backend, node):
    fn = layer_norm_of(node)
    return None if fn is None else _exec_type(fn, "numpy_layer_norm")


def softmax_kernel(backend, node):
    t, s = node.input_type(0), node.input_shape(0)
    if t not in _BLAS_TYPES or not s.rank_is_static or len(s) == 0:
        return None
    rank = len(s)
    axis = node.attrs["axis"] + rank if node.attrs["axis"] < 0 else node.attrs["axis"]
    amax, exp, matmul = np.max, np.exp, np.matmul
    if axis == rank - 1 and s[-1].is_static and s[-1].get_length() > 0:
        ones = np.ones((s[-1].get_length(), 1), t.to_dtype())

        def softmax_last(x):
            e = x - amax(x, axis=-1, keepdims=True)
            exp(e, out=e)
            e /= matmul(e, ones)
            return e

        return _exec_type(softmax_last, "numpy_softmax")

    def softmax(x):
        e = x - amax(x, axis=axis, keepdims=True)
        exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        return e

    return _exec_type(softmax, "numpy_softmax")


OVERRIDES: dict[str, KernelFactory] = {
    "MatMul": matmul_kernel,
    "MVN": mvn_kernel,
    "Softmax": softmax_kernel,
}
