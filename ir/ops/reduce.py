"""Reductions over the axes given by input 1: ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd
(v1), ReduceL1, ReduceL2 (v4), ReduceLogicalAnd, ReduceLogicalOr (v1).

Semantics follow OpenVINO's reference kernels: the result keeps the input element type (integer
means truncate toward zero, integer L2 truncates the square root); duplicate axes count once; an
empty axes list reduces nothing. Reducing over a zero-sized dimension gives the reduction's identity
(0 for sums and means, 1 for products, the lowest/highest finite value for max/min).
"""
from __future__ import annotations

import math

from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import ShapeInferenceError, where


def reduction_axes(values, rank: int, node=None, what: str = "input 1 (axes)") -> tuple[int, ...]:
    """Sorted, de-duplicated, non-negative axes from an axes value (scalar or 1-D)."""
    out: set[int] = set()
    for a in as_int_tuple(values):
        if not -rank <= a < rank:
            raise ShapeInferenceError(f"{where(node)}: {what}: axis {a} is out of range for rank {rank}")
        out.add(a + rank if a < 0 else a)
    return tuple(sorted(out))


def check_axes_input(node, i: int = 1) -> None:
    """Axes inputs hold integers, as a scalar or a 1-D tensor."""
    t = node.input_type(i)
    if t.is_static and not t.is_integral_number:
        raise ShapeInferenceError(f"{where(node)}: input {i} (axes) must be an integer tensor, got {t}")
    s = node.input_shape(i)
    if s.rank_is_static and len(s) > 1:
        raise ShapeInferenceError(f"{where(node)}: input {i} (axes) must be a scalar or 1-D, got shape {s}")


def reduced_shape(shape: PartialShape, axes: tuple[int, ...], keep_dims: bool) -> PartialShape:
    if keep_dims:
        return PartialShape([Dimension(1) if i in axes else d for i, d in enumerate(shape.dims)])
    return PartialShape([d for i, d in enumerate(shape.dims) if i not in axes])


def _wide(xp, x):
    """f16 accumulates in f32, as OpenVINO's CPU plugin does."""
    return xp.astype(x, xp.float32) if x.dtype == getattr(xp, "float16", None) else x


def _is_int(xp, x) -> bool:
    return xp.isdtype(x.dtype, "integral")


def _count(x, axes) -> int:
    return math.prod(x.shape[a] for a in axes)


def _sum(xp, x, axes, keep):
    w = _wide(xp, x)
    return xp.astype(xp.sum(w, axis=axes, keepdims=keep, dtype=w.dtype), x.dtype)


def _mean(xp, x, axes, keep):
    n = max(_count(x, axes), 1)
    if _is_int(xp, x):
        s = xp.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)
        if xp.isdtype(x.dtype, "unsigned integer"):
            return s // n
        return xp.where(s < 0, -((-s) // n), s // n)
    w = _wide(xp, x)
    return xp.astype(xp.sum(w, axis=axes, keepdims=keep, dtype=w.dtype) / n, x.dtype)


def _extreme(xp, x, axes, keep, fn, lowest: bool):
    if _count(x, axes) == 0:
        info = xp.iinfo(x.dtype) if _is_int(xp, x) else xp.finfo(x.dtype)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
        return xp.full(shape, info.min if lowest else info.max, dtype=x.dtype)
    return fn(x, axis=axes, keepdims=keep)


def _max(xp, x, axes, keep):
    return _extreme(xp, x, axes, keep, xp.max, lowest=True)


def _min(xp, x, axes, keep):
    return _extreme(xp, x, axes, keep, xp.min, lowest=False)


def _prod(xp, x, axes, keep):
    w = _wide(xp, x)
    return xp.astype(xp.prod(w, axis=axes, keepdims=keep, dtype=w.dtype), x.dtype)


def _l1(xp, x, axes, keep):
    return _sum(xp, xp.abs(x), axes, keep)


def _l2(xp, x, axes, keep):
    if _is_int(xp, x):
        s = xp.sum(x * x, axis=axes, keepdims=keep, dtype=x.dtype)
        return xp.astype(xp.trunc(xp.sqrt(xp.astype(s, xp.float64))), x.dtype)
    w = _wide(xp, x)
    return xp.astype(xp.sqrt(xp.sum(w * w, axis=axes, keepdims=keep, dtype=w.dtype)), x.dtype)


def _all(xp, x, axes, keep):
    return xp.all(x, axis=axes, keepdims=keep)


def _any(xp, x, axes, keep):
    return xp.any(x, axis=axes, keepdims=keep)


class _Reduce(OpDef):
    """``data``, ``axes`` -> the reduction of ``data`` over ``axes``."""

    n_inputs = (2, 2)
    attrs = (Attr("keep_dims", "bool", False),)
    #: the reduction, ``f(xp, x, axes, keepdims)`` over normalised axes
    reducer = staticmethod(_sum)
    logical = False

    @classmethod
    def infer(cls, node):
        t = node.input_type(0)
        if t.is_static and cls.logical and t.name != "boolean":
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must be boolean, got {t}")
        if t.is_static and not cls.logical and not t.is_integral_number and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must be numeric, got {t}")
        check_axes_input(node)
        shape = node.input_shape(0)
        keep = node.attrs["keep_dims"]
        if not shape.rank_is_static:
            return [(t, PartialShape.dynamic())]
        values = node.input_const(1)
        if values is None:
            return [(t, PartialShape.dynamic(len(shape)) if keep else PartialShape.dynamic())]
        return [(t, reduced_shape(shape, reduction_axes(values, len(shape), node), keep))]

    @classmethod
    def compute(cls, xp, x, axes, keep_dims):
        return cls.reducer(xp, x, reduction_axes(axes, x.ndim), keep_dims)

    @classmethod
    def kernel(cls, xp, node):
        keep = node.attrs["keep_dims"]
        values, shape = node.input_const(1), node.input_shape(0)
        if values is None or not shape.rank_is_static:
            return lambda x, axes: cls.compute(xp, x, axes, keep)
        axes = reduction_axes(values, len(shape), node)
        fn = cls.reducer
        return lambda x, _axes: fn(xp, x, axes, keep)


@register
class ReduceSum(_Reduce):
    type_name, version, opset = "ReduceSum", 1, "opset1"
    reducer = staticmethod(_sum)


@register
class ReduceMean(_Reduce):
    type_name, version, opset = "ReduceMean", 1, "opset1"
    reducer = staticmethod(_mean)


@register
class ReduceMax(_Reduce):
    type_name, version, opset = "ReduceMax", 1, "opset1"
    reducer = staticmethod(_max)


@register
class ReduceMin(_Reduce):
    type_name, version, opset = "ReduceMin", 1, "opset1"
    reducer = staticmethod(_min)


@register
class ReduceProd(_Reduce):
    type_name, version, opset = "ReduceProd", 1, "opset1"
    reducer = staticmethod(_prod)


@register
class ReduceL1(_Reduce):
    type_name, version, opset = "ReduceL1", 4, "opset4"
    reducer = staticmethod(_l1)


@register
class ReduceL2(_Reduce):
    type_name, version, opset = "ReduceL2", 4, "opset4"
    reducer = staticmethod(_l2)


@register
class ReduceLogicalAnd(_Reduce):
    type_name, version, opset = "ReduceLogicalAnd", 1, "opset1"
    reducer = staticmethod(_all)
    logical = True


@register
class ReduceLogicalOr(_Reduce):
    type_name, version, opset = "ReduceLogicalOr", 1, "opset1"
    reducer = staticmethod(_any)
    logical = True


# --- factories --------------------------------------------------------------------------------


def _reduce_factory(type_name: str, fname: str):
    def build(node, reduction_axes, keep_dims: bool = False, name: str | None = None):
        return make(type_name, [node, reduction_axes], {"keep_dims": keep_dims}, name)

    build.__name__ = build.__qualname__ = fname
    build.__doc__ = f"A {type_name} node (``openvino.opset16.{fname}``)."
    return factory(build)


for _t, _f in (("ReduceSum", "reduce_sum"), ("ReduceMean", "reduce_mean"), ("ReduceMax", "reduce_max"),
               ("ReduceMin", "reduce_min"), ("ReduceProd", "reduce_prod"), ("ReduceL1", "reduce_l1"),
               ("ReduceL2", "reduce_l2"), ("ReduceLogicalAnd", "reduce_logical_and"),
               ("ReduceLogicalOr", "reduce_logical_or")):
    _reduce_factory(_t, _f)
