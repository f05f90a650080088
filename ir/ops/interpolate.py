"""Interpolate v0 (opset1), v4 (opset4) and v11 (opset11), after OpenVINO's reference kernel.

Every mode is separable: the output is the input resized along one axis after another. Per axis a
plan holds either source indices (``nearest``: one ``take``) or an interpolation matrix
``(out_len, in_len)`` (``linear``, ``linear_onnx``, ``cubic``, the Pillow modes), applied as one
matrix product. Plans are pure functions of the shapes and the scale values, built with numpy in
float32 (the reference computes coordinates in float32), cached per input shape, and uploaded
once; the data path is array-API only.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import to_numpy
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.ops.movement import apply_pad, const_ints, norm_axes, pad_plan, shape_of
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import OpAttributeError, ShapeInferenceError, UnsupportedOpError, where

F32 = np.float32
EPS = F32(1e-6)
MODES = ("nearest", "linear", "linear_onnx", "cubic")
PILLOW = ("bilinear_pillow", "bicubic_pillow")
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn", "align_corners")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")


class Resize:
    """The attributes that decide the arithmetic (an Interpolate-4 attribute set)."""

    __slots__ = ("mode", "coordinate", "nearest", "antialias", "cube_coeff")

    def __init__(self, mode: str, coordinate: str, nearest: str, antialias: bool, cube_coeff: float):
        self.mode, self.coordinate, self.nearest = mode, coordinate, nearest
        self.antialias, self.cube_coeff = antialias, cube_coeff


# --- per-axis arithmetic (float32, as the reference) ---------------------------------------------


def source_coord(mode: str, x: np.ndarray, scale: F32, l_out: int, l_in: int) -> np.ndarray:
    """Input coordinates of output positions ``x`` (float32) along one axis."""
    if scale == 1 or l_out == l_in:
        return x
    half = F32(0.5)
    if mode == "half_pixel":
        return (x + half) / scale - half
    if mode == "pytorch_half_pixel":
        return (x + half) / scale - half if l_out > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + half) / scale
    if l_out == 1:
        return np.zeros_like(x)
    return x * F32(l_in - 1) / F32(l_out - 1)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """C's ``round``: halves away from zero (numpy's ``round`` goes to even)."""
    t = np.trunc(x)
    frac = x - t
    return t + np.where(np.abs(frac) >= 0.5, np.sign(x), 0).astype(x.dtype)


def nearest_index(mode: str, c: np.ndarray, downsample: bool) -> np.ndarray:
    if mode == "round_prefer_floor":
        r = np.where(c == np.trunc(c) + F32(0.5), np.floor(c), round_half_away(c))
    elif mode == "round_prefer_ceil":
        r = round_half_away(c)
    elif mode == "floor":
        r = np.floor(c)
    elif mode == "ceil":
        r = np.ceil(c)
    else:  # simple
        r = np.ceil(c) if downsample else np.trunc(c)
    return r.astype(np.int64)


def cubic_coeffs(s: np.ndarray, a: F32) -> np.ndarray:
    """The four Keys cubic weights for fractional offsets ``s`` (float32), shape ``(len(s), 4)``."""
    s = np.abs(s)
    one, two = F32(1), F32(2)
    p, q = s + one, one - s
    r = two - s
    return np.stack([((a * p - F32(5) * a) * p + F32(8) * a) * p - F32(4) * a,
                     ((a + two) * s - (a + F32(3))) * s * s + one,
                     ((a + two) * q - (a + F32(3))) * q * q + one,
                     ((a * r - F32(5) * a) * r + F32(8) * a) * r - F32(4) * a], axis=1)


def _matrix(l_out: int, l_in: int, idx: np.ndarray, w: np.ndarray, dtype=F32) -> np.ndarray:
    m = np.zeros((l_out, l_in), dtype)
    rows = np.broadcast_to(np.arange(l_out)[:, None], idx.shape)
    np.add.at(m, (rows, idx), w.astype(dtype))
    return m


def linear_onnx_matrix(c: np.ndarray, l_in: int) -> np.ndarray:
    c = np.clip(c, F32(0), F32(l_in - 1))
    i1 = np.minimum(c.astype(np.int64), l_in - 1)
    i2 = np.minimum(i1 + 1, l_in - 1)
    w1, w2 = np.abs(c - i2.astype(F32)), np.abs(c - i1.astype(F32))
    same = i1 == i2
    w1, w2 = np.where(same, F32(0.5), w1), np.where(same, F32(0.5), w2)
    return _matrix(len(c), l_in, np.stack([i1, i2], 1), np.stack([w1, w2], 1))


def cubic_matrix(c: np.ndarray, l_in: int, a: float) -> np.ndarray:
    base = np.floor(c)
    w = cubic_coeffs(c - base, F32(a))
    idx = np.clip(base.astype(np.int64)[:, None] + np.arange(-1, 3), 0, l_in - 1)
    return _matrix(len(c), l_in, idx, w)


def triangle_matrix(c: np.ndarray, l_in: int, scale: F32, antialias: bool) -> np.ndarray:
    """``linear`` mode: a triangle filter, widened by 1/scale when antialiasing a downscale; weights
    of taps inside the input are normalised to sum to 1 (a row with none gives 0)."""
    a = scale if antialias else F32(1)
    r = 2 if scale > 1 else int(math.ceil(F32(2) / a))
    centre = round_half_away(c).astype(np.int64)
    idx = centre[:, None] + np.arange(-r, r + 1)
    inside = (idx >= 0) & (idx < l_in)
    dz = c[:, None] - idx.astype(F32)
    w = np.where(inside, a * np.maximum(F32(0), F32(1) - np.abs(a * dz)), F32(0))
    total = w.sum(axis=1, keepdims=True, dtype=F32)
    w = np.where(total == 0, F32(0), w / np.where(total == 0, F32(1), total))
    return _matrix(len(c), l_in, np.clip(idx, 0, l_in - 1), w)


def _bilinear(x: np.ndarray, _: float) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(x))


def _bicubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def pillow_matrix(l_in: int, l_out: int, mode: str, a: float) -> np.ndarray:
    """Pillow's resampling weights (float64), with its support widening and rounding of bounds."""
    filt, support = (_bilinear, 1.0) if mode == "bilinear_pillow" else (_bicubic, 2.0)
    scale = l_in / l_out
    fscale = max(scale, 1.0)
    support *= fscale
    m = np.zeros((l_out, l_in), np.float64)
    for xx in range(l_out):
        centre = (xx + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), l_in)
        w = filt((np.arange(lo, hi) - centre + 0.5) / fscale, a)
        total = w.sum()
        m[xx, lo:hi] = w / total if total != 0 else w
    return m


# --- planning -----------------------------------------------------------------------------------


def resize_steps(in_shape: Sequence[int], out_shape: Sequence[int], axes: Sequence[int],
                 scales: Sequence[float], r: Resize) -> list[tuple]:
    """Per-axis steps ``("take", axis, indices)`` or ``("matrix", axis, M)`` from the padded
    input shape to the output shape; ``scales`` are the float32 scales of ``axes``."""
    steps: list[tuple] = []
    if r.mode in PILLOW:
        if len(axes) != 2:
            raise ValueError(f"the Pillow modes resize exactly two axes, got axes {list(axes)}")
        for ax in (axes[1], axes[0]):  # horizontal (W) pass first, as Pillow
            if out_shape[ax] != in_shape[ax]:
                steps.append(("matrix", ax, pillow_matrix(in_shape[ax], out_shape[ax], r.mode, r.cube_coeff)))
        return steps
    antialias = r.antialias and any(s < 1 for s in scales)
    for ax, s in zip(axes, scales):
        l_in, l_out = in_shape[ax], out_shape[ax]
        if l_in == 0 or l_out == 0:
            steps.append(("matrix", ax, np.zeros((l_out, l_in), F32)))
            continue
        c = source_coord(r.coordinate, np.arange(l_out, dtype=F32), F32(s), l_out, l_in)
        if r.mode == "nearest":
            idx = np.clip(nearest_index(r.nearest, c, s < 1), 0, l_in - 1)
            if not np.array_equal(idx, np.arange(l_in)):
                steps.append(("take", ax, idx))
        elif r.mode == "linear_onnx":
            steps.append(("matrix", ax, linear_onnx_matrix(c, l_in)))
        elif r.mode == "cubic":
            steps.append(("matrix", ax, cubic_matrix(c, l_in, r.cube_coeff)))
        else:
            steps.append(("matrix", ax, triangle_matrix(c, l_in, F32(s), antialias)))
    return steps


#: an axis this long or shorter is resized by one dense matrix product; longer, by a few
#: gathers and multiply-adds (one per filter tap): dense costs in_len per output, taps a handful
DENSE_MAX = 128


def _apply_dense(xp, x, ax: int, m):
    shape = shape_of(x)
    pre, post = math.prod(shape[:ax]), math.prod(shape[ax + 1:])
    if post == 1:
        y = xp.matmul(xp.reshape(x, (pre, shape[ax])), xp.matrix_transpose(m))
    else:
        y = xp.matmul(m, xp.reshape(x, (pre, shape[ax], post)))
    return xp.reshape(y, shape[:ax] + (m.shape[0],) + shape[ax + 1:])


def _apply_taps(xp, x, ax: int, taps):
    y = None
    for idx, w in taps:
        t = xp.take(x, idx, axis=ax) * w
        y = t if y is None else y + t
    return y


def _round_to(xp, y, dtype, half_away: bool):
    """A float result back to an integer dtype: rounded half away from zero (Pillow, ``linear``)
    or truncated as a C cast (the others); saturated either way."""
    info = xp.iinfo(dtype)
    if half_away:
        y = xp.where(y >= 0, xp.floor(y + 0.5), xp.ceil(y - 0.5))
    y = xp.clip(xp.trunc(y), float(info.min), float(info.max))
    return xp.astype(y, dtype)


def run_steps(xp, x, steps, uploaded, mode: str):
    """Apply planned steps to ``x``; ``uploaded[k]`` is step k as :func:`upload` made it."""
    dtype = x.dtype
    is_int = xp.isdtype(dtype, "integral")
    work = None
    for (_, ax, _), (kind, arr, ftype) in zip(steps, uploaded):
        if kind == "take":
            x = xp.take(x, arr, axis=ax)
            continue
        if work is None:
            work = ftype
            x = xp.astype(x, work)
        x = _apply_dense(xp, x, ax, arr) if kind == "dense" else _apply_taps(xp, x, ax, arr)
        if mode in PILLOW:  # Pillow stores each pass in the element type
            x = _round_to(xp, x, dtype, True) if is_int else xp.astype(xp.astype(x, dtype), work)
    if work is None or x.dtype == dtype:
        return x
    if is_int:
        return _round_to(xp, x, dtype, mode == "linear")
    return xp.astype(x, dtype)


def upload(xp, steps, wide: bool, rank: int) -> list[tuple]:
    """The steps on ``xp``: ``("take", indices, None)``, ``("dense", matrix, float type)`` or
    ``("taps", [(indices, weights)...], float type)``; float64 weights when ``wide``."""
    ftype = xp.float64 if wide else xp.float32
    out = []
    for kind, ax, arr in steps:
        if kind == "take":
            out.append(("take", xp.asarray(arr, dtype=xp.int64), None))
        elif arr.shape[1] <= DENSE_MAX:
            out.append(("dense", xp.asarray(arr, dtype=ftype), ftype))
        else:
            nz = arr != 0
            k = max(int(nz.sum(axis=1).max(initial=0)), 1)
            cols = np.argsort(~nz, axis=1, kind="stable")[:, :k]
            weights = np.take_along_axis(arr, cols, axis=1)
            bshape = (arr.shape[0],) + (1,) * (rank - ax - 1)
            out.append(("taps", [(xp.asarray(cols[:, j], dtype=xp.int64),
                                  xp.asarray(np.reshape(weights[:, j], bshape), dtype=ftype)) for j in range(k)],
                        ftype))
    return out


def fit_pads(pads: Sequence[int], rank: int) -> list[int]:
    """Pads resized to the rank: cut, or extended with zeros (as OpenVINO does)."""
    return list(pads[:rank]) + [0] * max(0, rank - len(pads))


def scaled_dim(length: int, scale: float) -> int:
    """An output length from a scale: ``floor(length * (scale + 1e-6))`` in float32."""
    s = F32(scale)
    if s == 1:
        return length
    return int(F32(length) * (s + EPS))


class Plan:
    """Shape arithmetic of one Interpolate call: padding, axes, float32 scales, output shape."""

    __slots__ = ("pads", "axes", "scales", "padded", "out_shape")

    def __init__(self, in_shape: Sequence[int], pads_begin: Sequence[int], pads_end: Sequence[int],
                 axes: Sequence[int], values: Sequence[float], use_scales: bool):
        rank = len(in_shape)
        pb, pe = fit_pads(pads_begin, rank), fit_pads(pads_end, rank)
        padded = [d + b + e for d, b, e in zip(in_shape, pb, pe)]
        if len(values) < len(axes):
            raise ValueError(f"{'scales' if use_scales else 'sizes'} has {len(values)} values for {len(axes)} axes")
        out = list(padded)
        scales = []
        for ax, v in zip(axes, values):
            if use_scales:
                out[ax] = scaled_dim(padded[ax], v)
                scales.append(F32(v))
            else:
                out[ax] = int(v)
                scales.append(F32(v) / F32(padded[ax]) if padded[ax] else F32(1))
        self.pads = (pb, pe) if any(pb) or any(pe) else None
        self.axes, self.scales = tuple(axes), tuple(scales)
        self.padded, self.out_shape = tuple(padded), tuple(out)


def _resize(xp, x, plan: Plan, steps, arrays, mode: str):
    if plan.pads is not None:
        pad_steps = pad_plan(shape_of(x), plan.pads[0], plan.pads[1], "constant")
        x = apply_pad(xp, x, pad_steps, xp.zeros((), dtype=x.dtype))
    return run_steps(xp, x, steps, arrays, mode)


# --- op definitions -----------------------------------------------------------------------------


def _check_real(node, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_real:
        raise ShapeInferenceError(f"input {i} ({what}) must have a floating element type, got {t}")


def _check_int(node, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_integral_number:
        raise ShapeInferenceError(f"input {i} ({what}) must have an integer element type, got {t}")


def _values(arr, use_scales: bool) -> tuple:
    """Scales (float32, as Python floats) or sizes (ints) from an input array."""
    a = np.asarray(to_numpy(arr)).reshape(-1)
    return tuple(float(v) for v in a.astype(np.float32)) if use_scales else tuple(int(v) for v in a)


class _InterpolateBase(OpDef):
    """What the three versions share; they differ in where sizes, scales and axes come from."""

    @classmethod
    def check_attrs(cls, attrs, node):
        if any(p < 0 for p in attrs["pads_begin"] + attrs["pads_end"]):
            raise OpAttributeError(f"{where(node)}: pads_begin {attrs['pads_begin']} and pads_end "
                                   f"{attrs['pads_end']} must be non-negative")

    @classmethod
    def use_scales(cls, node) -> bool:
        return node.attrs["shape_calculation_mode"] == "scales"

    @classmethod
    def value_port(cls, node) -> int:
        """The input holding the sizes (or the scales when :meth:`use_scales`)."""
        return 1

    @classmethod
    def axes_port(cls, node) -> int | None:
        return None

    @classmethod
    def check_inputs(cls, node) -> None:
        raise NotImplementedError

    @classmethod
    def resize(cls, node, rank: int) -> Resize:
        a = node.attrs
        return Resize(a["mode"], a["coordinate_transformation_mode"], a["nearest_mode"], a["antialias"],
                      a["cube_coeff"])

    @classmethod
    def axes_of(cls, node, rank: int, axes: Sequence[int] | None) -> tuple[int, ...]:
        if axes is None:
            return tuple(range(rank))
        out = norm_axes(axes, rank, "axes value")
        if len(set(out)) != len(out):
            raise ValueError(f"axes {list(axes)} has repeated values")
        return out

    @classmethod
    def const_values(cls, node) -> tuple | None:
        v = node.input_const(cls.value_port(node))
        return None if v is None else _values(v, cls.use_scales(node))

    # inference ---------------------------------------------------------------------------------
    @classmethod
    def infer(cls, node):
        cls.check_inputs(node)
        t, ps = node.input_type(0), node.input_shape(0)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        rank = len(ps)
        ap = cls.axes_port(node)
        axes = None if ap is None else const_ints(node, ap)
        if ap is not None and axes is None:
            return [(t, PartialShape.dynamic(rank))]
        axes = cls.axes_of(node, rank, axes)
        if node.attrs["mode"] in PILLOW and len(axes) != 2:
            raise ShapeInferenceError(f"the Pillow modes resize exactly two axes, got axes {list(axes)}")
        pb, pe = fit_pads(node.attrs["pads_begin"], rank), fit_pads(node.attrs["pads_end"], rank)
        dims = [Dimension(d.get_length() + b + e) if d.is_static else d for d, b, e in zip(ps, pb, pe)]
        values, use_scales = cls.const_values(node), cls.use_scales(node)
        if values is not None and len(values) < len(axes):
            raise ShapeInferenceError(f"input {cls.value_port(node)} has {len(values)} values for "
                                      f"{len(axes)} axes")
        for k, ax in enumerate(axes):
            if values is None:
                dims[ax] = Dimension()
            elif not use_scales:
                dims[ax] = Dimension(int(values[k]))
            elif dims[ax].is_static:
                dims[ax] = Dimension(scaled_dim(dims[ax].get_length(), values[k]))
            elif F32(values[k]) != 1:
                dims[ax] = Dimension()
        return [(t, PartialShape(dims))]

    # compute -----------------------------------------------------------------------------------
    @classmethod
    def kernel(cls, xp, node):
        if node.attrs["mode"] == "area":
            raise UnsupportedOpError(f"{where(node)}: Interpolate mode 'area' has no implementation "
                                     "(OpenVINO has none either)")
        use_scales, vp, ap = cls.use_scales(node), cls.value_port(node), cls.axes_port(node)
        pads = (node.attrs["pads_begin"], node.attrs["pads_end"])
        const_values = cls.const_values(node)
        const_axes = None if ap is None else const_ints(node, ap)
        t = node.input_type(0)  # Pillow sums in double: kept for integer images, whose rounding it decides
        wide = t.name == "f64" or (node.attrs["mode"] in PILLOW and t.is_integral)

        @functools.lru_cache(maxsize=8)
        def prepared(in_shape, values, axes):
            rank = len(in_shape)
            plan = Plan(in_shape, *pads, cls.axes_of(node, rank, axes), values, use_scales)
            r = cls.resize(node, rank)
            steps = resize_steps(plan.padded, plan.out_shape, plan.axes, plan.scales, r)
            return plan, steps, upload(xp, steps, wide, rank), r.mode

        ps = node.input_shape(0)
        if ps.is_static and const_values is not None and (ap is None or const_axes is not None):
            prep = prepared(ps.to_shape(), const_values, const_axes)
            return lambda x, *_: _resize(xp, x, *prep)

        def run(x, *args):
            values = const_values if const_values is not None else _values(args[vp - 1], use_scales)
            axes = const_axes
            if ap is not None and axes is None:
                axes = tuple(int(a) for a in np.asarray(to_numpy(args[ap - 1])).reshape(-1))
            return _resize(xp, x, *prepared(shape_of(x), values, axes))
        return run


def _v4_attrs(modes: Sequence[str]) -> tuple[Attr, ...]:
    return (Attr("mode", "str", choices=tuple(modes)),
            Attr("shape_calculation_mode", "str", choices=("sizes", "scales")),
            Attr("coordinate_transformation_mode", "str", "half_pixel", choices=COORDINATE_MODES),
            Attr("nearest_mode", "str", "round_prefer_floor", choices=NEAREST_MODES),
            Attr("antialias", "bool", False),
            Attr("pads_begin", "ints", list),
            Attr("pads_end", "ints", list),
            Attr("cube_coeff", "float", -0.75))


@register
class Interpolate4(_InterpolateBase):
    """Interpolate-4: image, sizes, scales and optional axes (default: every axis)."""

    type_name, version, opset = "Interpolate", 4, "opset4"
    attrs = _v4_attrs(MODES)
    n_inputs = (3, 4)

    @classmethod
    def value_port(cls, node) -> int:
        return 2 if cls.use_scales(node) else 1

    @classmethod
    def axes_port(cls, node) -> int | None:
        return 3 if node.get_input_size() == 4 else None

    @classmethod
    def check_inputs(cls, node) -> None:
        _check_int(node, 1, "sizes")
        _check_real(node, 2, "scales")
        if node.get_input_size() == 4:
            _check_int(node, 3, "axes")


@register
class Interpolate(_InterpolateBase):
    """Interpolate-11: image, scales_or_sizes (by ``shape_calculation_mode``) and optional axes;
    adds the Pillow modes (which resize exactly two axes, H then W)."""

    type_name, version, opset = "Interpolate", 11, "opset11"
    attrs = _v4_attrs(MODES + PILLOW)
    n_inputs = (2, 3)

    @classmethod
    def axes_port(cls, node) -> int | None:
        return 2 if node.get_input_size() == 3 else None

    @classmethod
    def check_inputs(cls, node) -> None:
        if cls.use_scales(node):
            _check_real(node, 1, "scales")
        else:
            _check_int(node, 1, "sizes")
        if node.get_input_size() == 3:
            _check_int(node, 2, "axes")


@register
class Interpolate1(_InterpolateBase):
    """Interpolate-1: ``axes`` an attribute, the output sizes an input. Computed as OpenVINO does,
    as Interpolate-4 with ``nearest_mode=simple`` and ``asymmetric`` coordinates unless
    ``align_corners`` (or, for ``linear`` without pads, ``half_pixel`` except for a 4-D input
    resized over axes 2 and 3); ``linear`` runs as ``linear_onnx`` below rank 5. ``axes`` map to the
    sizes in the order given (the spec; OpenVINO sorts them). Pads may only widen resized axes."""

    type_name, version, opset = "Interpolate", 0, "opset1"
    attrs = (Attr("axes", "ints"), Attr("mode", "str", choices=("nearest", "linear", "cubic", "area", "linear_onnx")),
             Attr("align_corners", "bool", True), Attr("antialias", "bool", False),
             Attr("pads_begin", "ints", list), Attr("pads_end", "ints", list))
    n_inputs = (2, 2)

    @classmethod
    def use_scales(cls, node) -> bool:
        return False

    @classmethod
    def check_inputs(cls, node) -> None:
        _check_int(node, 1, "output_shape")
        ps = node.input_shape(0)
        if ps.rank_is_static:
            rank = len(ps)
            axes = cls.axes_of(node, rank, None)
            begin, end = fit_pads(node.attrs["pads_begin"], rank), fit_pads(node.attrs["pads_end"], rank)
            pads = [b + e for b, e in zip(begin, end)]
            if any(p for ax, p in enumerate(pads) if ax not in axes):
                raise ShapeInferenceError(f"pads {node.attrs['pads_begin']}, {node.attrs['pads_end']} touch axes "
                                          f"that are not resized (axes {node.attrs['axes']})")

    @classmethod
    def axes_of(cls, node, rank: int, axes: Sequence[int] | None) -> tuple[int, ...]:
        return super().axes_of(node, rank, node.attrs["axes"])

    @classmethod
    def resize(cls, node, rank: int) -> Resize:
        a = node.attrs
        mode = a["mode"]
        if mode == "linear":
            mode = "linear_onnx" if rank < 5 else "linear"
        coord = "asymmetric"
        no_pads = not any(a["pads_begin"]) and not any(a["pads_end"])
        if a["align_corners"]:
            coord = "align_corners"
        elif mode in ("linear", "linear_onnx") and no_pads and not (rank == 4 and sorted(a["axes"]) == [2, 3]):
            coord = "half_pixel"
        return Resize(mode, coord, "simple", a["antialias"], -0.75)


# --- factories ----------------------------------------------------------------------------------


@factory
def interpolate(image, scales_or_sizes, mode: str, shape_calculation_mode: str, pads_begin: list[int] | None = None,
                pads_end: list[int] | None = None, coordinate_transformation_mode: str = "half_pixel",
                nearest_mode: str = "round_prefer_floor", antialias: bool = False, cube_coeff: float = -0.75,
                axes=None, name: str | None = None) -> Node:
    attrs = {"mode": mode, "shape_calculation_mode": shape_calculation_mode,
             "pads_begin": pads_begin or [], "pads_end": pads_end or [],
             "coordinate_transformation_mode": coordinate_transformation_mode, "nearest_mode": nearest_mode,
             "antialias": antialias, "cube_coeff": cube_coeff}
    inputs = [image, scales_or_sizes] + ([] if axes is None else [axes])
    return make("Interpolate", inputs, attrs, name)
