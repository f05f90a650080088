"""Pooling: MaxPool (v1, v8, v14), AvgPool (v1, v14, v16), AdaptiveAvgPool and AdaptiveMaxPool (v8).

Windows follow OpenVINO's reference kernels: a window of output ``o`` covers input positions
``o * stride - pads_begin + j * dilation``; positions outside the input are padding. Max pooling
starts every window at the lowest finite value of the type and takes an element only when it is
strictly greater (padding, NaN and -inf never win; the index then stays at the window's channel
start). Average pooling divides by the in-input count, or by the whole kernel size when
``exclude-pad`` is false and some padding is non-zero.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import as_int_tuple, dtype_of, normalize_axis, type_of
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.conv import (
    PAD_TYPES,
    dilated,
    interval,
    iv_add,
    iv_ceildiv,
    iv_floordiv,
    iv_sub,
    pad_spatial,
    resolve_pads,
    to_dim,
    window_slices,
)
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where

ROUNDING = ("floor", "ceil")
ROUNDING_14 = ("floor", "ceil", "ceil_torch")


# --- window geometry ---------------------------------------------------------------------------
def out_length(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int,
               rounding: str) -> int:
    """Output length along one axis. ``ceil_torch`` drops a last window that would start in the
    end padding."""
    diff = max(size + pad_begin + pad_end - dilated(kernel, dilation), 0)
    q = diff // stride if rounding == "floor" else -(-diff // stride)
    if rounding == "ceil_torch" and q * stride > size + pad_begin - 1:
        return q
    return q + 1


def geometry(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
             pads_begin: Sequence[int], pads_end: Sequence[int], auto_pad: str, rounding: str):
    """(pads_begin, pads_end, output lengths, end padding the windows reach) for concrete sizes."""
    pb, pe = resolve_pads(auto_pad, sizes, kernel, strides, dilations, pads_begin, pads_end)
    out = [out_length(*a, rounding) for a in zip(sizes, kernel, strides, dilations, pb, pe)]
    reach = [max((o - 1) * s + dilated(k, d) - (n + b), 0)
             for o, s, k, d, n, b in zip(out, strides, kernel, dilations, sizes, pb)]
    return pb, pe, out, reach


def window_geometry(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                    dilations: Sequence[int], pads_begin: Sequence[int], pads_end: Sequence[int], auto_pad: str,
                    rounding: str):
    """:func:`geometry` plus the strides to address the windows with, and the end padding those reach.

    They address the same windows as ``strides`` but keep the bordered input about the input's size:
    along an axis with one window any stride reads the same elements (1), and with a stride past the
    whole input (a ceil-rounded window or an end pad beyond it) every window after the first reads
    only end padding, which a stride of the bordered input's length reaches as well. A model's stride
    of 10^9 would otherwise pad the input to 10^9 elements."""
    pb, pe, out, _ = geometry(sizes, kernel, strides, dilations, pads_begin, pads_end, auto_pad, rounding)
    eff = [1 if o == 1 else s if s <= n + b else max(n + b, 1)
           for o, s, n, b in zip(out, strides, sizes, pb)]
    reach = [max((o - 1) * s + dilated(k, d) - (n + b), 0)
             for o, s, k, d, n, b in zip(out, eff, kernel, dilations, sizes, pb)]
    return pb, pe, out, reach, eff


def in_input_counts(size: int, kernel: int, stride: int, dilation: int, pad_begin: int,
                    out: int) -> list[int]:
    """Per output position, how many window taps fall inside the input."""
    counts = []
    for o in range(out):
        start = o * stride - pad_begin
        counts.append(sum(1 for j in range(kernel) if 0 <= start + j * dilation < size))
    return counts


def avg_divisors(sizes, kernel, strides, dilations, pb, pe, out, exclude_pad: bool) -> list[list[int]]:
    """Per-axis divisor factors: their outer product divides each window sum."""
    whole = not exclude_pad and any(v != 0 for v in list(pb) + list(pe))
    if whole:
        return [[k] * o for k, o in zip(kernel, out)]
    return [in_input_counts(n, k, s, d, b, o)
            for n, k, s, d, b, o in zip(sizes, kernel, strides, dilations, pb, out)]


def lowest(xp: Any, dtype: Any) -> float | int:
    """The lowest finite value of ``dtype``: OpenVINO's start value of a max window."""
    if xp.isdtype(dtype, "integral"):
        return xp.iinfo(dtype).min
    return xp.finfo(dtype).min


def axis_grid(xp: Any, lengths: Sequence[int], scales: Sequence[int], ndim: int, first: int) -> Any:
    """sum_i arange(lengths[i]) * scales[i], laid along axes ``first + i`` of an ``ndim`` array."""
    total = None
    for i, (n, sc) in enumerate(zip(lengths, scales)):
        shape = [1] * ndim
        shape[first + i] = n
        term = xp.reshape(xp.arange(n, dtype=xp.int64) * sc, tuple(shape))
        total = term if total is None else total + term
    return total


# --- computes ----------------------------------------------------------------------------------
def pool_max(xp: Any, x: Any, kernel, strides, dilations, pads_begin, pads_end, auto_pad: str, rounding: str,
             index_type: Type | None = None, axis: int = 0):
    """Values and (with ``index_type``) flat indices from dimension ``axis`` on, as OpenVINO defines them."""
    sizes = tuple(x.shape[2:])
    pb, _, out, reach, strides = window_geometry(sizes, kernel, strides, dilations, pads_begin, pads_end,
                                                 auto_pad, rounding)
    low = lowest(xp, x.dtype)
    xpad = pad_spatial(xp, x, pb, reach, low)
    views = window_slices(xpad, kernel, strides, dilations, out)
    best = xp.full((*x.shape[:2], *out), low, dtype=x.dtype)
    if index_type is None:
        for v in views:
            best = xp.where(v > best, v, best)
        return best
    ndim = x.ndim
    dims = tuple(x.shape)
    flat = [math.prod(dims[i + 1:]) for i in range(ndim)]
    used = [f if i >= axis else 0 for i, f in enumerate(flat)]
    start = axis_grid(xp, dims[:2], used[:2], ndim, 0)
    idx = xp.broadcast_to(start, best.shape)
    grid = start + axis_grid(xp, out, [s * f for s, f in zip(strides, used[2:])], ndim, 2)
    offsets = kernel_offsets(kernel, dilations, pb, used[2:])
    for v, off in zip(views, offsets):
        take = v > best
        best = xp.where(take, v, best)
        idx = xp.where(take, grid + off, idx)
    return best, xp.astype(idx, dtype_of(xp, index_type))


def kernel_offsets(kernel, dilations, pads_begin, scales) -> list[int]:
    """Flat index offset of each kernel tap (row-major) relative to its window's grid point."""
    offsets = [0]
    for k, d, b, sc in zip(kernel, dilations, pads_begin, scales):
        offsets = [o + (j * d - b) * sc for o in offsets for j in range(k)]
    return offsets


def pool_avg(xp: Any, x: Any, kernel, strides, dilations, pads_begin, pads_end, auto_pad: str, rounding: str,
             exclude_pad: bool):
    """Window sums over divisors; integers sum in f64, then truncate (8-bit types: round to nearest
    even), as OpenVINO's reference kernel divides them."""
    sizes = tuple(x.shape[2:])
    pb, pe, out, reach, strides = window_geometry(sizes, kernel, strides, dilations, pads_begin, pads_end,
                                                  auto_pad, rounding)
    integral = xp.isdtype(x.dtype, "integral")
    acc = xp.astype(x, xp.float64) if integral else x
    views = window_slices(pad_spatial(xp, acc, pb, reach, 0), kernel, strides, dilations, out)
    total = views[0]
    for v in views[1:]:
        total = total + v
    divisor = None
    for i, counts in enumerate(avg_divisors(sizes, kernel, strides, dilations, pb, pe, out, exclude_pad)):
        shape = [1] * x.ndim
        shape[2 + i] = len(counts)
        term = xp.reshape(xp.asarray([max(c, 1) for c in counts], dtype=acc.dtype), tuple(shape))
        divisor = term if divisor is None else divisor * term
    y = total / divisor
    if not integral:
        return y
    y = xp.round(y) if type_of(xp, x.dtype).bitwidth == 8 else xp.trunc(y)
    return xp.astype(y, x.dtype)


# --- shape inference ---------------------------------------------------------------------------
def _check_pool_attrs(node, ns_attr: int, rank_dims) -> None:
    a = node.attrs
    for name in ("strides", "pads_begin", "pads_end", "dilations"):
        if a.get(name) and len(a[name]) != ns_attr:
            raise ShapeInferenceError(f"{where(node)}: attribute '{name}' has {len(a[name])} values, "
                                      f"expected one per kernel axis ({ns_attr})")
    for name in ("strides", "dilations", "kernel"):
        if name in a and any(v <= 0 for v in a[name]):
            raise ShapeInferenceError(f"{where(node)}: attribute '{name}' must be positive, got {a[name]}")
    if rank_dims is not None and rank_dims - 2 != ns_attr:
        raise ShapeInferenceError(f"{where(node)}: attribute 'kernel' has {ns_attr} values for input of rank "
                                  f"{rank_dims} (expected {rank_dims - 2})")


def infer_pool(node, exclude_pad: bool = False) -> PartialShape:
    a = node.attrs
    data = node.input_shape(0)
    kernel = a["kernel"]
    ns = len(kernel)
    dil = a.get("dilations") or [1] * ns
    if data.rank_is_static and len(data) not in (3, 4, 5):
        raise ShapeInferenceError(f"{where(node)}: input 0 must have rank 3, 4 or 5, got {data}")
    _check_pool_attrs(node, ns, len(data) if data.rank_is_static else None)
    if not data.rank_is_static:
        return PartialShape.dynamic(ns + 2)
    for i, what in ((0, "batch"), (1, "channel")):
        if data[i].is_static and data[i].get_length() == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 has a zero {what} dimension: {data}")
    auto, rounding = a["auto_pad"], a["rounding_type"]
    dims = []
    for i in range(ns):
        d = data[2 + i]
        k, s, dl = kernel[i], a["strides"][i], dil[i]
        same = auto in ("same_upper", "same_lower")
        if same and not d.is_static:
            dims.append(Dimension())
            continue
        if same:
            pb, pe = resolve_pads(auto, [d.get_length()], [k], [s], [dl], [0], [0])
            pb, pe = pb[0], pe[0]
        elif auto == "valid":
            pb = pe = 0
        else:
            pb, pe = a["pads_begin"][i], a["pads_end"][i]
        kd = dilated(k, dl)
        if d.is_static:
            padded = d.get_length() + pb + pe
            if kd > padded:
                raise ShapeInferenceError(f"{where(node)}: the dilated kernel ({kd}) is larger than the "
                                          f"padded data ({padded}) on spatial axis {i}")
            if exclude_pad and (kd <= pb or kd <= pe):
                raise ShapeInferenceError(f"{where(node)}: with exclude-pad the dilated kernel ({kd}) must "
                                          f"be larger than pads_begin ({pb}) and pads_end ({pe}) on spatial "
                                          f"axis {i}")
        diff = iv_sub(iv_add(interval(d), pb + pe), (kd, kd))
        q = iv_floordiv(diff, s) if rounding == "floor" else iv_ceildiv(diff, s)
        if rounding == "ceil_torch":
            lo = _torch_align(q[0], s, d.min, pb)
            hi = None if q[1] is None else _torch_align(q[1], s, d.max, pb)
            dims.append(to_dim(lo, hi))
        else:
            dims.append(to_dim(*iv_add(q, 1)))
    return PartialShape([data[0], data[1], *dims])


def _torch_align(q: int, stride: int, size: int, pad_begin: int) -> int:
    """OpenVINO computes ``size + pad_begin - 1`` unsigned: at 0 every window counts."""
    return q if size + pad_begin > 0 and q * stride > size + pad_begin - 1 else q + 1


def _index_type(node) -> Type:
    t = node.attrs["index_element_type"]
    if t not in (Type.i32, Type.i64):
        raise OpAttributeError(f"{where(node)}: attribute 'index_element_type' must be i32 or i64, got {t}")
    return t


def _fill(attrs, names, value):
    ns = len(attrs["kernel"])
    for name in names:
        if name in attrs and not attrs[name]:
            attrs[name] = [value] * ns


# --- op definitions ----------------------------------------------------------------------------
class _PoolBase(OpDef):
    @classmethod
    def check_attrs(cls, attrs, node):
        _fill(attrs, ("pads_begin", "pads_end"), 0)

    @classmethod
    def window_attrs(cls, node) -> tuple:
        a = node.attrs
        ns = len(a["kernel"])
        return (a["kernel"], a["strides"], a.get("dilations") or [1] * ns, a["pads_begin"], a["pads_end"],
                a["auto_pad"], a["rounding_type"])


def _check_numeric(node):
    t = node.input_type(0)
    if t.is_static and t.kind in "bs":
        raise ShapeInferenceError(f"{where(node)}: input 0 must be numeric, got {t}")
    return t


@register
class MaxPool_1(_PoolBase):
    type_name, version, opset = "MaxPool", 1, "opset1"
    attrs = (Attr("strides", "ints"), Attr("pads_begin", "ints", list), Attr("pads_end", "ints", list),
             Attr("kernel", "ints"), Attr("rounding_type", "str", "floor", choices=ROUNDING),
             Attr("auto_pad", "str", "explicit", choices=PAD_TYPES))

    @classmethod
    def infer(cls, node):
        return [(_check_numeric(node), infer_pool(node))]

    @classmethod
    def kernel(cls, xp, node):
        w = cls.window_attrs(node)
        return lambda x: pool_max(xp, x, *w)


def _max_pool_attrs(rounding):
    return (Attr("strides", "ints"), Attr("dilations", "ints", list), Attr("pads_begin", "ints", list),
            Attr("pads_end", "ints", list), Attr("kernel", "ints"),
            Attr("rounding_type", "str", "floor", choices=rounding),
            Attr("auto_pad", "str", "explicit", choices=PAD_TYPES),
            Attr("index_element_type", "type", Type.i64), Attr("axis", "int", 0))


@register
class MaxPool_8(_PoolBase):
    """Two outputs: values and flat indices (from dimension ``axis`` on) of the selected elements."""

    type_name, version, opset = "MaxPool", 8, "opset8"
    attrs = _max_pool_attrs(ROUNDING)
    n_outputs = 2

    @classmethod
    def check_attrs(cls, attrs, node):
        super().check_attrs(attrs, node)
        _fill(attrs, ("dilations",), 1)

    @classmethod
    def infer(cls, node):
        t = _check_numeric(node)
        it = _index_type(node)
        shape = infer_pool(node)
        data = node.input_shape(0)
        if data.rank_is_static:
            try:
                normalize_axis(node.attrs["axis"], len(data))
            except ValueError as exc:
                raise ShapeInferenceError(f"{where(node)}: attribute 'axis': {exc}") from None
        return [(t, shape), (it, shape)]

    @classmethod
    def kernel(cls, xp, node):
        w = cls.window_attrs(node)
        it, axis = node.attrs["index_element_type"], node.attrs["axis"]
        return lambda x: pool_max(xp, x, *w, it, normalize_axis(axis, x.ndim))


@register
class MaxPool(MaxPool_8):
    """MaxPool-14: adds ``ceil_torch`` rounding."""

    type_name, version, opset = "MaxPool", 14, "opset14"
    attrs = _max_pool_attrs(ROUNDING_14)


def _avg_pool_attrs(rounding, with_dilations: bool):
    base = (Attr("kernel", "ints"), Attr("strides", "ints"), Attr("pads_begin", "ints", list),
            Attr("pads_end", "ints", list), Attr("exclude-pad", "bool"),
            Attr("auto_pad", "str", "explicit", choices=PAD_TYPES),
            Attr("rounding_type", "str", "floor", choices=rounding))
    return base + ((Attr("dilations", "ints", list),) if with_dilations else ())


class _AvgPoolBase(_PoolBase):
    @classmethod
    def infer(cls, node):
        return [(_check_numeric(node), infer_pool(node, node.attrs["exclude-pad"]))]

    @classmethod
    def kernel(cls, xp, node):
        w = cls.window_attrs(node)
        exclude = node.attrs["exclude-pad"]
        return lambda x: pool_avg(xp, x, *w, exclude)


@register
class AvgPool_1(_AvgPoolBase):
    type_name, version, opset = "AvgPool", 1, "opset1"
    attrs = _avg_pool_attrs(ROUNDING, False)


@register
class AvgPool_14(_AvgPoolBase):
    """AvgPool-14: adds ``ceil_torch`` rounding."""

    type_name, version, opset = "AvgPool", 14, "opset14"
    attrs = _avg_pool_attrs(ROUNDING_14, False)


@register
class AvgPool(_AvgPoolBase):
    """AvgPool-16: adds ``dilations`` (empty = all ones, written as OpenVINO writes it)."""

    type_name, version, opset = "AvgPool", 16, "opset16"
    attrs = _avg_pool_attrs(ROUNDING_14, True)


# --- adaptive pooling --------------------------------------------------------------------------
def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """[start, end) of each bin: floor(i * size / out) .. ceil((i + 1) * size / out)."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def pool_adaptive_avg(xp: Any, x: Any, out: Sequence[int]) -> Any:
    """Bins are boxes, so the mean is separable: one averaging matrix per spatial axis."""
    for size, n in zip(x.shape[2:], out):
        rows = []
        for b, e in adaptive_bins(size, n):
            rows.append([1.0 / (e - b) if b <= j < e else 0.0 for j in range(size)])
        mat = xp.asarray(rows, dtype=x.dtype)  # [n, size]
        x = xp.tensordot(x, xp.permute_dims(mat, (1, 0)), axes=([2], [0]))
    return x


def pool_adaptive_max(xp: Any, x: Any, out: Sequence[int], index_type: Type):
    """Separable max with first-occurrence (row-major) indices: axes are reduced last to first, each
    keeping the flat spatial index of its winner."""
    nd = x.ndim
    sizes = tuple(x.shape[2:])
    scales = [math.prod(sizes[i + 1:]) for i in range(len(sizes))]
    idx = xp.broadcast_to(axis_grid(xp, sizes, scales, nd, 2), tuple(x.shape))
    for axis in range(nd - 1, 1, -1):
        vals, inds = [], []
        for b, e in adaptive_bins(x.shape[axis], out[axis - 2]):
            sl = [slice(None)] * nd
            sl[axis] = slice(b, e)
            part = x[tuple(sl)]
            arg = xp.argmax(part, axis=axis, keepdims=True)
            vals.append(xp.max(part, axis=axis, keepdims=True))
            inds.append(xp.take_along_axis(idx[tuple(sl)], arg, axis=axis))
        x = xp.concat(vals, axis=axis)
        idx = xp.concat(inds, axis=axis)
    return x, xp.astype(idx, dtype_of(xp, index_type))


def infer_adaptive(node) -> PartialShape:
    data, oshape = node.input_shape(0), node.input_shape(1)
    it = node.input_type(1)
    if it.is_static and it not in (Type.i32, Type.i64):
        raise ShapeInferenceError(f"{where(node)}: input 1 (output_shape) must be i32 or i64, got {it}")
    if data.rank_is_static and len(data) not in (3, 4, 5):
        raise ShapeInferenceError(f"{where(node)}: input 0 must have rank 3, 4 or 5, got {data}")
    if oshape.rank_is_static and len(oshape) != 1:
        raise ShapeInferenceError(f"{where(node)}: input 1 (output_shape) must be 1-D, got {oshape}")
    if not data.rank_is_static:
        return PartialShape.dynamic()
    ns = len(data) - 2
    if oshape.rank_is_static and not oshape[0].compatible(ns):
        raise ShapeInferenceError(f"{where(node)}: input 1 (output_shape) has {oshape[0]} values for {ns} "
                                  "spatial dimensions")
    value = node.input_const(1)
    if value is None:
        return PartialShape([data[0], data[1], *[Dimension()] * ns])
    dims = as_int_tuple(value)
    if len(dims) != ns:
        raise ShapeInferenceError(f"{where(node)}: input 1 (output_shape) has {len(dims)} values for {ns} "
                                  "spatial dimensions")
    return PartialShape([data[0], data[1], *dims])


@register
class AdaptiveAvgPool(OpDef):
    type_name, version, opset = "AdaptiveAvgPool", 8, "opset8"
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        return [(node.input_type(0), infer_adaptive(node))]

    @staticmethod
    def compute(xp, x, output_shape):
        return pool_adaptive_avg(xp, x, as_int_tuple(output_shape))


@register
class AdaptiveMaxPool(OpDef):
    """Indices are flat over the spatial dimensions of each (batch, channel)."""

    type_name, version, opset = "AdaptiveMaxPool", 8, "opset8"
    attrs = (Attr("index_element_type", "type", Type.i64),)
    n_inputs = (2, 2)
    n_outputs = 2

    @classmethod
    def infer(cls, node):
        shape = infer_adaptive(node)
        return [(node.input_type(0), shape), (_index_type(node), shape)]

    @staticmethod
    def compute(xp, x, output_shape, index_element_type):
        return pool_adaptive_max(xp, x, as_int_tuple(output_shape), index_element_type)


# --- factories --------------------------------------------------------------------------------
@factory
def max_pool(data, strides: list[int], dilations: list[int], pads_begin: list[int], pads_end: list[int],
             kernel_shape: list[int], rounding_type: str = "floor", auto_pad: str | None = None,
             index_element_type: str | Type | None = "i64", axis: int | None = 0,
             name: str | None = None) -> Node:
    return make("MaxPool", [data], {"strides": strides, "dilations": dilations, "pads_begin": pads_begin,
                                    "pads_end": pads_end, "kernel": kernel_shape,
                                    "rounding_type": rounding_type, "auto_pad": auto_pad,
                                    "index_element_type": index_element_type, "axis": axis}, name)


@factory
def avg_pool(data_batch, strides: list[int], pads_begin: list[int], pads_end: list[int],
             kernel_shape: list[int], exclude_pad: bool, rounding_type: str = "floor",
             auto_pad: str | None = None, dilations: list[int] | None = None,
             name: str | None = None) -> Node:
    return make("AvgPool", [data_batch], {"strides": strides, "pads_begin": pads_begin, "pads_end": pads_end,
                                          "kernel": kernel_shape, "exclude-pad": exclude_pad,
                                          "rounding_type": rounding_type, "auto_pad": auto_pad,
                                          "dilations": dilations}, name)


@factory
def adaptive_avg_pool(data, output_shape, name: str | None = None) -> Node:
    return make("AdaptiveAvgPool", [data, output_shape], name=name)


@factory
def adaptive_max_pool(data, output_shape, index_element_type: str | Type = "i64",
                      name: str | None = None) -> Node:
    return make("AdaptiveMaxPool", [data, output_shape], {"index_element_type": index_element_type}, name)
