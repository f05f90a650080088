"""Unique (v10), ReverseSequence (v0), and the arrayrt extension ops the ONNX frontend needs where
OpenVINO has no equivalent: CumProd, Det and Resize (ONNX's Resize, for the modes and coordinate
transforms Interpolate lacks).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import as_int_tuple, dtype_of, to_numpy
from arrayrt.ir.ops.base import EXTENSION_OPSET, Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.ops.interpolate import run_steps, upload
from arrayrt.ir.ops.movement import norm_axes, shape_of
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where

INDEX_TYPES = (Type.i32, Type.i64)


def _check_int(node, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_integral_number:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have an integer type, got {t}")


def _scalar_axis(node, i: int, what: str = "axis") -> int | None:
    """Input ``i`` (a scalar or one-element 1-D axis) as an int when known before inference."""
    _check_int(node, i, what)
    s = node.input_shape(i)
    if s.rank_is_static and (len(s) > 1 or (len(s) == 1 and not s[0].compatible(1))):
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be a scalar or hold one "
                                  f"value, got shape {s}")
    v = node.input_const(i)
    return None if v is None else as_int_tuple(v)[0]


def _norm(node, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeInferenceError(f"{where(node)}: {what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


# --- Unique -------------------------------------------------------------------------------------


def _sort_rows(xp, rows):
    """The stable lexicographic order of the rows of a 2-D array (last column sorted first)."""
    order = xp.arange(rows.shape[0], dtype=xp.int64)
    for c in range(rows.shape[1] - 1, -1, -1):
        key = xp.take(rows[:, c], order)
        order = xp.take(order, xp.argsort(key, stable=True))
    return order


def unique_arrays(xp, data, axis: int | None, sort: bool, index_dtype, count_dtype):
    """(unique elements or slices, index of each one's first occurrence, for every input element or
    slice the index of its unique one, occurrence counts). Slices compare lexicographically; the
    unsorted order is the order of first occurrence."""
    if axis is None:
        src, ax = xp.reshape(data, (-1,)), 0
    else:
        src, ax = data, axis
    n = src.shape[ax]
    moved = xp.moveaxis(src, ax, 0) if ax else src
    rows = xp.reshape(moved, (n, math.prod(moved.shape[1:])))
    if rows.dtype == xp.bool:
        rows = xp.astype(rows, xp.uint8)
    if n == 0:
        empty = xp.zeros((0,), dtype=index_dtype)
        return src, empty, empty, xp.zeros((0,), dtype=count_dtype)
    if rows.shape[1] == 1:  # single values: one sort, and the inverse by binary search
        key = rows[:, 0]
        order = xp.argsort(key, stable=True)
        srt = xp.take(key, order)
        new = srt[1:] != srt[:-1]
    else:
        order = _sort_rows(xp, rows)
        srt = xp.take(rows, order, axis=0)
        new = xp.any(srt[1:, ...] != srt[:-1, ...], axis=1)
    starts = xp.concat([xp.ones((1,), dtype=xp.bool), new])
    first_pos = xp.nonzero(starts)[0]
    first = xp.take(order, first_pos)
    counts = xp.concat([first_pos[1:], xp.asarray([n], dtype=first_pos.dtype)]) - first_pos
    if rows.shape[1] == 1:
        inverse = xp.searchsorted(xp.take(srt, first_pos), key)
    else:
        group = xp.cumulative_sum(xp.astype(starts, xp.int64)) - 1
        inverse = xp.take(group, xp.argsort(order))
    if not sort:
        perm = xp.argsort(first)
        first, counts = xp.take(first, perm), xp.take(counts, perm)
        inverse = xp.take(xp.argsort(perm), inverse)
    values = xp.take(src, first, axis=ax)
    return (values, xp.astype(first, index_dtype), xp.astype(inverse, index_dtype),
            xp.astype(counts, count_dtype))


@register
class Unique(OpDef):
    """Unique elements of the flattened input, or unique slices along ``axis`` (input 1)."""

    type_name, version, opset = "Unique", 10, "opset10"
    attrs = (Attr("sorted", "bool", True), Attr("index_element_type", "type", Type.i64),
             Attr("count_element_type", "type", Type.i64))
    n_inputs = (1, 2)
    n_outputs = 4

    @classmethod
    def check_attrs(cls, attrs, node):
        for name in ("index_element_type", "count_element_type"):
            if attrs[name] not in INDEX_TYPES:
                raise OpAttributeError(f"{where(node)}: attribute '{name}' must be i32 or i64, "
                                       f"got {attrs[name]}")

    @classmethod
    def infer(cls, node):
        t, s = node.input_type(0), node.input_shape(0)
        it, ct = node.attrs["index_element_type"], node.attrs["count_element_type"]
        axis = _scalar_axis(node, 1) if node.get_input_size() == 2 else None
        values = cls.evaluate(node)
        if values is not None:
            return [(ty, PartialShape(v.shape)) for ty, v in zip((t, it, it, ct), values)]
        if node.get_input_size() == 2 and axis is None:
            return [(t, PartialShape.dynamic(len(s) if s.rank_is_static else None))] + \
                [(ty, PartialShape([Dimension()])) for ty in (it, it, ct)]
        if not s.rank_is_static:
            return [(t, PartialShape.dynamic())] + [(ty, PartialShape([Dimension()])) for ty in (it, it, ct)]
        if axis is None:
            total = Dimension(1)
            for d in s:
                total = total * d
            found = Dimension(min(total.min, 1), total.max)
            return [(t, PartialShape([found])), (it, PartialShape([found])), (it, PartialShape([total])),
                    (ct, PartialShape([found]))]
        a = _norm(node, axis, len(s))
        d = s[a]
        found = Dimension(min(d.min, 1), d.max)
        dims = list(s)
        dims[a] = found
        return [(t, PartialShape(dims)), (it, PartialShape([found])), (it, PartialShape([d])),
                (ct, PartialShape([found]))]

    @classmethod
    def compute_attrs(cls, node):
        return {"sorted": node.attrs["sorted"], "index_element_type": node.attrs["index_element_type"],
                "count_element_type": node.attrs["count_element_type"]}

    @staticmethod
    def compute(xp, data, axis=None, sorted=True, index_element_type=Type.i64, count_element_type=Type.i64):
        ax = None
        if axis is not None:
            ax = norm_axes(as_int_tuple(axis), max(data.ndim, 1))[0]
        return unique_arrays(xp, data, ax, sorted, dtype_of(xp, index_element_type),
                             dtype_of(xp, count_element_type))


# --- ReverseSequence ----------------------------------------------------------------------------


def reverse_sequence_array(xp, data, lengths, batch_axis: int, seq_axis: int):
    """Reverse the first ``lengths[b]`` elements along ``seq_axis`` of every batch ``b``: one row
    gather over the data viewed as (batch * seq, rest)."""
    r = data.ndim
    nb, ns = data.shape[batch_axis], data.shape[seq_axis]
    perm = (batch_axis, seq_axis, *(i for i in range(r) if i not in (batch_axis, seq_axis)))
    moved = data if perm == tuple(range(r)) else xp.permute_dims(data, perm)
    lens = xp.reshape(xp.astype(lengths, xp.int64), (nb, 1))
    t = xp.reshape(xp.arange(ns, dtype=xp.int64), (1, ns))
    src = xp.where(t < lens, lens - 1 - t, t) + xp.reshape(xp.arange(nb, dtype=xp.int64) * ns, (nb, 1))
    rows = xp.take(xp.reshape(moved, (nb * ns, -1)), xp.reshape(src, (-1,)), axis=0)
    out = xp.reshape(rows, moved.shape)
    if perm == tuple(range(r)):
        return out
    return xp.permute_dims(out, tuple(perm.index(i) for i in range(r)))


@register
class ReverseSequence(OpDef):
    type_name, version, opset = "ReverseSequence", 0, "opset1"
    attrs = (Attr("batch_axis", "int", 0), Attr("seq_axis", "int", 1))
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        t, s, ls = node.input_type(0), node.input_shape(0), node.input_shape(1)
        lt = node.input_type(1)
        if lt.is_static and not (lt.is_integral_number or lt.is_real):
            raise ShapeInferenceError(f"{where(node)}: input 1 (seq_lengths) must be numeric, got {lt}")
        if ls.rank_is_static and len(ls) != 1:
            raise ShapeInferenceError(f"{where(node)}: input 1 (seq_lengths) must be 1-D, got shape {ls}")
        if s.rank_is_static:
            if len(s) < 2:
                raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 2, got {s}")
            b = _norm(node, node.attrs["batch_axis"], len(s), "attribute 'batch_axis'")
            _norm(node, node.attrs["seq_axis"], len(s), "attribute 'seq_axis'")
            if ls.rank_is_static and not s[b].compatible(ls[0]):
                raise ShapeInferenceError(f"{where(node)}: input 1 (seq_lengths) has {ls[0]} values for a "
                                          f"batch of {s[b]}")
        return [(t, s)]

    @staticmethod
    def compute(xp, data, seq_lengths, batch_axis, seq_axis):
        r = data.ndim
        return reverse_sequence_array(xp, data, seq_lengths, batch_axis % r, seq_axis % r)


# --- CumProd (extension) ------------------------------------------------------------------------


def cum_prod_array(xp, x, axis: int, exclusive: bool, reverse: bool):
    axis = axis + x.ndim if axis < 0 else axis
    if reverse:
        x = xp.flip(x, axis=axis)
    out = xp.cumulative_prod(x, axis=axis, dtype=x.dtype, include_initial=exclusive)
    if exclusive:
        key = tuple(slice(0, x.shape[axis]) if i == axis else slice(None) for i in range(x.ndim))
        out = out[key]
    return xp.flip(out, axis=axis) if reverse else out


@register
class CumProd(OpDef):
    """ONNX CumProd: running products along ``axis`` (input 1); ``exclusive`` starts from 1,
    ``reverse`` runs from the end. (OpenVINO has only CumSum.)"""

    type_name, version, opset = "CumProd", 1, EXTENSION_OPSET
    attrs = (Attr("exclusive", "bool", False), Attr("reverse", "bool", False))
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        t, s = node.input_type(0), node.input_shape(0)
        if t is Type.boolean:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must be numeric, got boolean")
        if s.rank_is_static and len(s) == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 1")
        axis = _scalar_axis(node, 1)
        if axis is not None and s.rank_is_static:
            _norm(node, axis, len(s))
        return [(t, s)]

    @staticmethod
    def compute(xp, x, axis, exclusive, reverse):
        return cum_prod_array(xp, x, as_int_tuple(axis)[0], exclusive, reverse)

    @classmethod
    def kernel(cls, xp, node):
        v = node.input_const(1)
        if v is None:
            return super().kernel(xp, node)
        axis = as_int_tuple(v)[0]
        exclusive, reverse = node.attrs["exclusive"], node.attrs["reverse"]
        return lambda x, _axis: cum_prod_array(xp, x, axis, exclusive, reverse)


# --- Det (extension) ----------------------------------------------------------------------------


@register
class Det(OpDef):
    """Determinants of the square matrices in the last two dimensions (ONNX Det). Uses the
    standard's optional ``linalg`` extension; 16-bit floats are computed in f32."""

    type_name, version, opset = "Det", 1, EXTENSION_OPSET

    @classmethod
    def infer(cls, node):
        t, s = node.input_type(0), node.input_shape(0)
        if t.is_static and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: input 0 must be a floating type, got {t}")
        if not s.rank_is_static:
            return [(t, PartialShape.dynamic())]
        if len(s) < 2 or not s[-1].compatible(s[-2]):
            raise ShapeInferenceError(f"{where(node)}: input 0 must hold square matrices [..., M, M], "
                                      f"got {s}")
        return [(t, PartialShape(list(s)[:-2]))]

    @staticmethod
    def compute(xp, x):
        if x.dtype in (xp.float32, xp.float64):
            return xp.linalg.det(x)
        return xp.astype(xp.linalg.det(xp.astype(x, xp.float32)), x.dtype)


# --- Resize (extension) -------------------------------------------------------------------------

RESIZE_MODES = ("nearest", "linear", "cubic")
RESIZE_COORDINATES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                      "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize")
RESIZE_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
ASPECT_POLICIES = ("stretch", "not_larger", "not_smaller")


def _source_coords(mode: str, y: np.ndarray, scale: float, l_in: int, l_out: int,
                   roi: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """ONNX's input coordinates of the output positions ``y`` (float64), and for
    tf_crop_and_resize which of them fall outside the input. The resized length in the formulas is
    ``scale * l_in``, which is not an integer when scales give the output size."""
    width = scale * l_in
    if mode == "align_corners":
        return (np.zeros_like(y) if width == 1 else y * (l_in - 1) / (width - 1)), None
    if mode == "asymmetric":
        return y / scale, None
    if mode == "tf_crop_and_resize":
        lo, hi = roi if roi is not None else (0.0, 1.0)
        if width == 1:
            x = np.full_like(y, (hi - lo) * (l_in - 1) / 2)
        else:
            x = y * (hi - lo) * (l_in - 1) / (width - 1)
        x = x + lo * (l_in - 1)
        return x, (x < 0) | (x > l_in - 1)
    if mode == "pytorch_half_pixel":
        return (np.full_like(y, -0.5) if width == 1 else (y + 0.5) / scale - 0.5), None
    if mode == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale, None
    if mode == "half_pixel_symmetric":
        offset = l_in / 2 * (1 - l_out / width)
        return offset + (y + 0.5) / scale - 0.5, None
    return (y + 0.5) / scale - 0.5, None


def _cubic_kernel(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _coefficients(ratio: np.ndarray, scale: float, mode: str, nearest: str, a: float,
                  antialias: bool) -> np.ndarray:
    """Filter taps ``(len(ratio), n)`` for the fractional offsets ``ratio`` in (0, 1]."""
    r = ratio[:, None]
    if mode == "nearest":
        whole = r == 1
        if nearest == "round_prefer_floor":
            hi = r > 0.5
        elif nearest == "round_prefer_ceil":
            hi = r >= 0.5
        else:
            hi = np.full_like(r, nearest == "ceil", dtype=bool)
        hi = hi | whole
        return np.concatenate([~hi, hi], axis=1).astype(np.float64)
    if not antialias:
        if mode == "linear":
            return np.concatenate([1 - r, r], axis=1)
        return _cubic_kernel(np.concatenate([r + 1, r, 1 - r, 2 - r], axis=1), a)
    s = min(scale, 1.0)
    reach = 1 if mode == "linear" else 2
    start = int(np.floor(-reach / s) + 1)
    taps = np.arange(start, 2 - start, dtype=np.float64)[None, :]
    arg = (taps - r) * s
    c = np.clip(1 - np.abs(arg), 0, 1) if mode == "linear" else _cubic_kernel(arg, a)
    return c / c.sum(axis=1, keepdims=True)


def resize_axis(l_in: int, l_out: int, scale: float, roi: tuple[float, float] | None,
                attrs: dict) -> tuple[tuple, np.ndarray | None]:
    """One axis of ONNX Resize: ``("take", indices)`` or ``("matrix", M (l_out, l_in))``, and the
    mask of extrapolated output positions (tf_crop_and_resize) or None."""
    mode = attrs["mode"]
    if l_out == 0 or l_in == 0:
        return ("matrix", np.zeros((l_out, l_in))), None
    y = np.arange(l_out, dtype=np.float64)
    x, outside = _source_coords(attrs["coordinate_transformation_mode"], y, scale, l_in, l_out, roi)
    base = np.floor(x)
    ratio = np.where(x == base, 1.0, x - base)
    c = _coefficients(ratio, scale, mode, attrs["nearest_mode"], attrs["cubic_coeff_a"], attrs["antialias"])
    n = c.shape[1]
    pad = -(-n // 2)
    xp_ = x + pad
    p = np.floor(xp_)
    frac = xp_ - p
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        off = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (p + off).astype(np.int64)[:, None] + np.arange(n) - pad
    if attrs["exclude_outside"]:
        c = np.where((idx < 0) | (idx >= l_in), 0.0, c)
        total = c.sum(axis=1, keepdims=True)
        c = c / np.where(total == 0, 1.0, total)
    idx = np.clip(idx, 0, l_in - 1)
    m = np.zeros((l_out, l_in))
    np.add.at(m, (np.broadcast_to(np.arange(l_out)[:, None], idx.shape), idx), c)
    if mode == "nearest":
        return ("take", np.argmax(m, axis=1)), outside
    return ("matrix", m), outside


def resize_plan(in_shape: Sequence[int], values: Sequence[float], use_scales: bool, axes: Sequence[int],
                roi: Sequence[float] | None, attrs: dict):
    """(output shape, per-axis steps for :func:`run_steps`, extrapolation masks by axis)."""
    rank = len(in_shape)
    axes = norm_axes(axes, rank, "axes value") if axes else tuple(range(rank))
    if len(values) != len(axes):
        what = "scales" if use_scales else "sizes"
        raise ValueError(f"{what} has {len(values)} values for {len(axes)} resized axes")
    out = list(in_shape)
    if use_scales:
        scales = [float(v) for v in values]
        for ax, s in zip(axes, scales):
            out[ax] = int(s * in_shape[ax])
    else:
        scales = [v / in_shape[ax] if in_shape[ax] else 1.0 for ax, v in zip(axes, values)]
        policy = attrs["keep_aspect_ratio_policy"]
        if policy != "stretch":
            s = min(scales) if policy == "not_larger" else max(scales)
            scales = [s] * len(axes)
            for ax in axes:
                out[ax] = int(s * in_shape[ax] + 0.5)
        else:
            for ax, v in zip(axes, values):
                out[ax] = int(v)
    n = len(axes)
    steps, masks = [], []
    for k, (ax, s) in enumerate(zip(axes, scales)):
        r = None if roi is None else (float(roi[k]), float(roi[n + k]))
        trivial_roi = r is None or (math.isclose(r[0], 0.0) and math.isclose(r[1], 1.0))
        if math.isclose(s, 1.0) and out[ax] == in_shape[ax] and trivial_roi:
            continue
        step, outside = resize_axis(in_shape[ax], out[ax], s, r, attrs)
        steps.append((step[0], ax, step[1]))
        if outside is not None and outside.any():
            masks.append((ax, outside))
    return tuple(out), steps, masks


def resize_values(arr, use_scales: bool) -> tuple:
    """Scales (float32, as Python floats) or sizes (ints) from an input array."""
    a = np.asarray(to_numpy(arr)).reshape(-1)
    return tuple(float(v) for v in a.astype(np.float32)) if use_scales else tuple(int(v) for v in a)


def resize_roi(arr) -> tuple[float, ...] | None:
    if arr is None:
        return None
    return tuple(float(v) for v in np.asarray(to_numpy(arr), np.float64).reshape(-1))


def _masks(xp, masks, rank: int) -> list:
    return [xp.asarray(np.reshape(m, [-1 if i == ax else 1 for i in range(rank)])) for ax, m in masks]


def _resize_run(xp, x, steps, uploaded, masks, extrapolation: float):
    dtype = x.dtype
    is_int = xp.isdtype(dtype, "integral")
    if is_int:
        x = xp.astype(x, xp.float64)
    y = run_steps(xp, x, steps, uploaded, "linear_onnx")
    if masks:
        outside = None
        for m in masks:
            outside = m if outside is None else (outside | m)
        y = xp.where(outside, xp.asarray(extrapolation, dtype=y.dtype), y)
    if is_int:
        info = xp.iinfo(dtype)
        y = xp.astype(xp.clip(xp.round(y), float(info.min), float(info.max)), dtype)
    return y


@register
class Resize(OpDef):
    """ONNX Resize (opset 19) where Interpolate-11 differs: inputs ``data``, ``scales_or_sizes``
    (by ``shape_calculation_mode``; one value per resized axis) and, for ``tf_crop_and_resize``,
    ``roi`` (starts then ends, per resized axis). Coordinates and filter taps follow the ONNX
    reference in float64: edge-clamped neighbours, ``exclude_outside``, antialiased linear and
    cubic filters, ``keep_aspect_ratio_policy``, ``extrapolation_value``."""

    type_name, version, opset = "Resize", 1, EXTENSION_OPSET
    attrs = (Attr("mode", "str", "nearest", choices=RESIZE_MODES),
             Attr("shape_calculation_mode", "str", "scales", choices=("sizes", "scales")),
             Attr("coordinate_transformation_mode", "str", "half_pixel", choices=RESIZE_COORDINATES),
             Attr("nearest_mode", "str", "round_prefer_floor", choices=RESIZE_NEAREST),
             Attr("cubic_coeff_a", "float32", -0.75),
             Attr("exclude_outside", "bool", False),
             Attr("extrapolation_value", "float32", 0.0),
             Attr("antialias", "bool", False),
             Attr("keep_aspect_ratio_policy", "str", "stretch", choices=ASPECT_POLICIES),
             Attr("axes", "ints", list))
    n_inputs = (2, 3)

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["antialias"] and attrs["mode"] == "nearest":
            raise OpAttributeError(f"{where(node)}: attribute 'antialias' needs mode linear or cubic")

    @classmethod
    def use_scales(cls, node) -> bool:
        return node.attrs["shape_calculation_mode"] == "scales"

    @classmethod
    def infer(cls, node):
        t, s = node.input_type(0), node.input_shape(0)
        vt = node.input_type(1)
        if vt.is_static and (vt.is_real != cls.use_scales(node) or not (vt.is_real or vt.is_integral_number)):
            want = "floating scales" if cls.use_scales(node) else "integer sizes"
            raise ShapeInferenceError(f"{where(node)}: input 1 must hold {want}, got {vt}")
        if not s.rank_is_static:
            return [(t, PartialShape.dynamic())]
        axes = node.attrs["axes"]
        axes = norm_axes(axes, len(s), "axes value") if axes else tuple(range(len(s)))
        v = node.input_const(1)
        if v is not None and s.is_static:
            out, _, _ = cls._plan(node, s.to_shape(), resize_values(v, cls.use_scales(node)), None)
            return [(t, PartialShape(out))]
        dims = list(s)
        for ax in axes:
            dims[ax] = Dimension()
        return [(t, PartialShape(dims))]

    @classmethod
    def _plan(cls, node, in_shape, values, roi):
        try:
            return resize_plan(in_shape, values, cls.use_scales(node), node.attrs["axes"], roi, node.attrs)
        except ValueError as exc:
            raise ShapeInferenceError(f"{where(node)}: {exc}") from None

    @staticmethod
    def compute(xp, data, scales_or_sizes, roi=None, **attrs):
        use_scales = attrs["shape_calculation_mode"] == "scales"
        wide = data.dtype == xp.float64 or xp.isdtype(data.dtype, "integral")
        _, steps, masks = resize_plan(shape_of(data), resize_values(scales_or_sizes, use_scales), use_scales,
                                      attrs["axes"], resize_roi(roi), attrs)
        return _resize_run(xp, data, steps, upload(xp, steps, wide, data.ndim), _masks(xp, masks, data.ndim),
                           attrs["extrapolation_value"])

    @classmethod
    def kernel(cls, xp, node):
        """The plan made once when the shape, sizes or scales, and roi are known before inference;
        else cached per their values."""
        use_scales, attrs = cls.use_scales(node), dict(node.attrs)
        t = node.input_type(0)
        wide = t is Type.f64 or t.is_integral_number
        extrapolation = attrs["extrapolation_value"]

        @functools.lru_cache(maxsize=8)
        def prepared(in_shape, values, roi):
            _, steps, masks = resize_plan(in_shape, values, use_scales, attrs["axes"], roi, attrs)
            rank = len(in_shape)
            return steps, upload(xp, steps, wide, rank), _masks(xp, masks, rank)

        s, v = node.input_shape(0), node.input_const(1)
        roi = node.input_const(2) if node.get_input_size() == 3 else None
        if s.is_static and v is not None and (node.get_input_size() == 2 or roi is not None):
            plan = prepared(s.to_shape(), resize_values(v, use_scales), resize_roi(roi))
            return lambda x, *_: _resize_run(xp, x, *plan, extrapolation)

        def run(x, values, roi=None):
            plan = prepared(shape_of(x), resize_values(values, use_scales), resize_roi(roi))
            return _resize_run(xp, x, *plan, extrapolation)
        return run


# --- factories ----------------------------------------------------------------------------------


@factory
def unique(data, axis=None, sorted: bool | None = True, index_element_type: str | None = "i64",
           count_element_type: str | None = "i64", name: str | None = None) -> Node:
    inputs = [data] if axis is None else [data, axis]
    return make("Unique", inputs, {"sorted": sorted, "index_element_type": Type(index_element_type),
                                   "count_element_type": Type(count_element_type)}, name)


@factory
def reverse_sequence(input, seq_lengths, batch_axis: int, seq_axis: int,  # noqa: A002 - OpenVINO's name
                     name: str | None = None) -> Node:
    return make("ReverseSequence", [input, seq_lengths],
                {"batch_axis": int(batch_axis), "seq_axis": int(seq_axis)}, name)


@factory
def cum_prod(data, axis, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Node:
    return make("CumProd", [data, axis], {"exclusive": exclusive, "reverse": reverse}, name)


@factory
def det(data, name: str | None = None) -> Node:
    return make("Det", [data], name=name)


@factory
def resize(data, scales_or_sizes, roi=None, mode: str = "nearest", shape_calculation_mode: str = "scales",
           coordinate_transformation_mode: str = "half_pixel", nearest_mode: str = "round_prefer_floor",
           cubic_coeff_a: float = -0.75, exclude_outside: bool = False, extrapolation_value: float = 0.0,
           antialias: bool = False, keep_aspect_ratio_policy: str = "stretch", axes: Sequence[int] = (),
           name: str | None = None) -> Node:
    attrs = {"mode": mode, "shape_calculation_mode": shape_calculation_mode,
             "coordinate_transformation_mode": coordinate_transformation_mode, "nearest_mode": nearest_mode,
             "cubic_coeff_a": cubic_coeff_a, "exclude_outside": exclude_outside,
             "extrapolation_value": extrapolation_value, "antialias": antialias,
             "keep_aspect_ratio_policy": keep_aspect_ratio_policy, "axes": list(axes)}
    return make("Resize", [data, scales_or_sizes] + ([] if roi is None else [roi]), attrs, name)
