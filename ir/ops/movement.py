"""Data movement: Reshape, Transpose, Squeeze, Unsqueeze, Concat, Split, VariadicSplit, StridedSlice,
Slice, Broadcast, Tile, Pad, DepthToSpace, SpaceToDepth, ShuffleChannels, Roll, Reverse.

Most of these ops take shape-like inputs (a target shape, axes, begin/end, pads). They are nearly
always constants: ``infer`` then gives exact shapes and ``kernel`` resolves them once, at compile
time, into Python tuples, slices and index arrays, so an inference is one or two array-API calls.
When such an input is only known at inference, ``compute`` reads its few values per call and plans
from the actual input shape.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._shapes import broadcast_shapes, same_types
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where

# --- helpers ------------------------------------------------------------------------------------


def const_ints(node, i: int) -> tuple[int, ...] | None:
    """The values of shape-like input ``i`` as ints when known before inference, else None."""
    if i >= node.get_input_size():
        return None
    v = node.input_const(i)
    return None if v is None else as_int_tuple(v)


def check_int_input(node, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_integral_number:
        raise ShapeInferenceError(f"input {i} ({what}) must have an integer element type, got {t}")


def input_len(node, i: int) -> int | None:
    """Element count of a 1-D (or scalar) input whose shape is static, else None."""
    s = node.input_shape(i)
    return math.prod(s.to_shape()) if s.is_static else None


def shape_of(x) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def norm_axes(axes: Sequence[int], rank: int, what: str = "axis") -> tuple[int, ...]:
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"{what} {a} is out of range for rank {rank}")
        out.append(a + rank if a < 0 else a)
    return tuple(out)


def _dims(ps: PartialShape) -> list[int | None]:
    """Static dims as ints, dynamic ones as None (rank must be static)."""
    return [d.get_length() if d.is_static else None for d in ps]


def _pshape(dims: Sequence[int | None]) -> PartialShape:
    return PartialShape([Dimension() if d is None else Dimension(d) for d in dims])


def _static_out(node, i: int = 0) -> tuple[int, ...] | None:
    s = node.output(i).get_partial_shape()
    return s.to_shape() if s.is_static else None


def _check_bool_mask(attrs, node, *names: str) -> None:
    for n in names:
        if any(v not in (0, 1) for v in attrs[n]):
            raise OpAttributeError(f"{where(node)}: attribute '{n}' must hold only 0 and 1, got {attrs[n]}")


# --- Reshape ------------------------------------------------------------------------------------


def reshape_target(in_shape: Sequence[int], pattern: Sequence[int], special_zero: bool) -> tuple[int, ...]:
    """The output shape of Reshape: ``0`` copies the input dimension when ``special_zero``, one
    ``-1`` takes what is left."""
    out = list(pattern)
    minus = [i for i, v in enumerate(pattern) if v == -1]
    if len(minus) > 1:
        raise ValueError(f"target shape {list(pattern)} has more than one -1")
    for i, v in enumerate(pattern):
        if v == 0 and special_zero:
            if i >= len(in_shape):
                raise ValueError(f"target shape {list(pattern)}: the 0 at index {i} copies an input "
                                 f"dimension, but the input has rank {len(in_shape)}")
            out[i] = in_shape[i]
        elif v < -1:
            raise ValueError(f"target shape {list(pattern)} has a negative dimension {v}")
    total = math.prod(in_shape)
    if minus:
        known = math.prod(v for i, v in enumerate(out) if i != minus[0])
        if known == 0 or total % known:
            if known == 0 and total == 0:
                out[minus[0]] = 0
                return tuple(out)
            raise ValueError(f"cannot reshape {tuple(in_shape)} ({total} elements) to {list(pattern)}")
        out[minus[0]] = total // known
    elif math.prod(out) != total:
        raise ValueError(f"cannot reshape {tuple(in_shape)} ({total} elements) to {out} ({math.prod(out)})")
    return tuple(out)


def _reshape_pshape(ps: PartialShape, pattern: Sequence[int], special_zero: bool) -> PartialShape:
    if ps.is_static:
        return PartialShape(reshape_target(ps.to_shape(), pattern, special_zero))
    if sum(v == -1 for v in pattern) > 1:
        raise ValueError(f"target shape {list(pattern)} has more than one -1")
    rest = list(ps.dims) if ps.rank_is_static else None  # input dims not copied by a 0
    dims: list[Dimension | None] = []
    for i, v in enumerate(pattern):
        if v == 0 and special_zero:
            if rest is None:
                dims.append(Dimension())
                continue
            if i >= len(rest):
                raise ValueError(f"target shape {list(pattern)}: the 0 at index {i} copies an input "
                                 f"dimension, but the input has rank {len(rest)}")
            dims.append(ps[i])
            rest[i] = None
        elif v == -1:
            dims.append(None)
        elif v < -1:
            raise ValueError(f"target shape {list(pattern)} has a negative dimension {v}")
        else:
            dims.append(Dimension(v))
    if None in dims:
        fill = Dimension()
        others = [v for v in pattern if v != -1 and not (v == 0 and special_zero)]
        if rest is not None and all(d is None or d.is_static for d in rest) and math.prod(others):
            total = math.prod(d.get_length() for d in rest if d is not None)
            fill = Dimension(total // math.prod(others))
        dims[dims.index(None)] = fill
    return PartialShape(dims)


@register
class Reshape(OpDef):
    type_name, version, opset = "Reshape", 1, "opset1"
    attrs = (Attr("special_zero", "bool"),)
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_int_input(node, 1, "shape")
        pattern = const_ints(node, 1)
        if pattern is not None:
            return [(node.input_type(0), _reshape_pshape(node.input_shape(0), pattern, node.attrs["special_zero"]))]
        n = input_len(node, 1)
        return [(node.input_type(0), PartialShape.dynamic(n))]

    @staticmethod
    def compute(xp, x, shape, special_zero):
        return xp.reshape(x, reshape_target(shape_of(x), as_int_tuple(shape), special_zero))

    @classmethod
    def kernel(cls, xp, node):
        out = _static_out(node)
        if out is not None:
            return lambda x, _: xp.reshape(x, out)
        pattern, sz = const_ints(node, 1), node.attrs["special_zero"]
        if pattern is not None:
            return lambda x, _: xp.reshape(x, reshape_target(shape_of(x), pattern, sz))
        return super().kernel(xp, node)


# --- Transpose ----------------------------------------------------------------------------------


def transpose_perm(order: Sequence[int], rank: int) -> tuple[int, ...]:
    """The permutation of Transpose: an empty order reverses the axes."""
    if not order:
        return tuple(range(rank - 1, -1, -1))
    perm = norm_axes(order, rank, "input_order value")
    if len(order) != rank or sorted(perm) != list(range(rank)):
        raise ValueError(f"input_order {list(order)} is not a permutation of the {rank} input axes")
    return perm


@register
class Transpose(OpDef):
    type_name, version, opset = "Transpose", 1, "opset1"
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_int_input(node, 1, "input_order")
        ps, t = node.input_shape(0), node.input_type(0)
        order = const_ints(node, 1)
        n = input_len(node, 1)
        if ps.rank_is_static:
            if n not in (None, 0, len(ps)):
                raise ShapeInferenceError(f"input_order has {n} elements, expected {len(ps)} (the input rank) or 0")
            if order is not None:
                return [(t, PartialShape([ps[p] for p in transpose_perm(order, len(ps))]))]
            return [(t, PartialShape.dynamic(len(ps)))]
        return [(t, PartialShape.dynamic(n or None))]

    @staticmethod
    def compute(xp, x, input_order):
        return xp.permute_dims(x, transpose_perm(as_int_tuple(input_order), x.ndim))

    @classmethod
    def kernel(cls, xp, node):
        order, ps = const_ints(node, 1), node.input_shape(0)
        if order is not None and ps.rank_is_static:
            perm = transpose_perm(order, len(ps))
            if perm == tuple(range(len(perm))):
                return lambda x, _: x
            return lambda x, _: xp.permute_dims(x, perm)
        return super().kernel(xp, node)


# --- Squeeze / Unsqueeze ------------------------------------------------------------------------


def squeeze_shape(shape: Sequence[int], axes: Sequence[int] | None) -> tuple[int, ...]:
    """Drop the listed size-1 axes (listed axes of another size stay, as OpenVINO specifies), or
    every size-1 axis when no axes are given."""
    if not axes:
        return tuple(d for d in shape if d != 1)
    drop = set(norm_axes(axes, len(shape)))
    return tuple(d for i, d in enumerate(shape) if not (i in drop and d == 1))


class _SqueezeBase(OpDef):
    n_inputs = (1, 2)

    @classmethod
    def skip_dynamic(cls, node) -> bool:
        """Whether a listed dynamic axis that may be 1 makes the output rank dynamic."""
        return False

    @classmethod
    def infer(cls, node):
        ps, t = node.input_shape(0), node.input_type(0)
        axes: tuple[int, ...] | None = ()
        if node.get_input_size() == 2:
            check_int_input(node, 1, "axes")
            axes = const_ints(node, 1)
        if axes is None or not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        if not axes:
            if any(d.is_dynamic and d.contains(1) for d in ps):
                return [(t, PartialShape.dynamic())]
            return [(t, PartialShape([d for d in ps if not d == 1]))]
        drop = set(norm_axes(axes, len(ps)))
        out = []
        for i, d in enumerate(ps):
            if i in drop and d.contains(1) and (d.is_static or not cls.skip_dynamic(node)):
                continue
            if i in drop and d.is_dynamic and d.contains(1):
                return [(t, PartialShape.dynamic())]
            out.append(d)
        return [(t, PartialShape(out))]

    @staticmethod
    def compute(xp, x, axes=None):
        return xp.reshape(x, squeeze_shape(shape_of(x), None if axes is None else as_int_tuple(axes)))

    @classmethod
    def kernel(cls, xp, node):
        out = _static_out(node)
        if out is not None:
            return lambda x, *_: xp.reshape(x, out)
        if node.get_input_size() == 1 or const_ints(node, 1) is not None:
            axes = const_ints(node, 1) if node.get_input_size() == 2 else None
            return lambda x, *_: xp.reshape(x, squeeze_shape(shape_of(x), axes))
        return super().kernel(xp, node)


@register
class Squeeze(_SqueezeBase):
    type_name, version, opset = "Squeeze", 0, "opset1"


@register
class Squeeze15(_SqueezeBase):
    type_name, version, opset = "Squeeze", 15, "opset15"
    attrs = (Attr("allow_axis_skip", "bool", False),)

    @classmethod
    def skip_dynamic(cls, node) -> bool:
        return node.attrs["allow_axis_skip"]


def unsqueeze_shape(dims: Sequence[Any], axes: Sequence[int], one: Any = 1) -> list[Any]:
    """Insert ``one`` at each axis (normalised against the output rank; repeats count once)."""
    ins = set(norm_axes(axes, len(dims) + len(axes)))
    out, it = [], iter(dims)
    for i in range(len(dims) + len(ins)):
        out.append(one if i in ins else next(it))
    return out


@register
class Unsqueeze(OpDef):
    type_name, version, opset = "Unsqueeze", 0, "opset1"
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_int_input(node, 1, "axes")
        ps, t = node.input_shape(0), node.input_type(0)
        axes = const_ints(node, 1)
        if axes is None or not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        return [(t, PartialShape(unsqueeze_shape(list(ps), axes, Dimension(1))))]

    @staticmethod
    def compute(xp, x, axes):
        return xp.reshape(x, tuple(unsqueeze_shape(shape_of(x), as_int_tuple(axes))))

    @classmethod
    def kernel(cls, xp, node):
        out = _static_out(node)
        if out is not None:
            return lambda x, _: xp.reshape(x, out)
        axes = const_ints(node, 1)
        if axes is not None:
            return lambda x, _: xp.reshape(x, tuple(unsqueeze_shape(shape_of(x), axes)))
        return super().kernel(xp, node)


# --- Concat / Split / VariadicSplit -------------------------------------------------------------


@register
class Concat(OpDef):
    type_name, version, opset = "Concat", 0, "opset1"
    attrs = (Attr("axis", "int"),)
    n_inputs = (1, None)

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        shapes = [node.input_shape(i) for i in range(node.get_input_size())]
        ranked = [s for s in shapes if s.rank_is_static]
        if not ranked:
            return [(t, PartialShape.dynamic())]
        rank = len(ranked[0])
        if any(len(s) != rank for s in ranked):
            raise ShapeInferenceError(f"inputs have different ranks: {[str(s) for s in shapes]}")
        if rank == 0:
            raise ShapeInferenceError("Concat inputs must have rank 1 or more, got scalars")
        axis = norm_axes([node.attrs["axis"]], rank, "attribute 'axis'")[0]
        out = list(ranked[0])
        out[axis] = Dimension(0)
        for s in shapes:
            if not s.rank_is_static:
                out[axis] = Dimension()
                continue
            for i, d in enumerate(s):
                if i == axis:
                    out[i] = out[i] + d
                elif not out[i].compatible(d):
                    raise ShapeInferenceError(f"input shapes {[str(s) for s in shapes]} differ outside axis {axis}")
                else:
                    out[i] = out[i].merge(d)
        return [(t, PartialShape(out))]

    @staticmethod
    def compute(xp, *inputs, axis):
        return xp.concat(inputs, axis=axis)

    @classmethod
    def kernel(cls, xp, node):
        axis = node.attrs["axis"]
        if node.get_input_size() == 1:
            return lambda x: x
        return lambda *xs: xp.concat(xs, axis=axis)


def _split_index(axis: int, bounds: Sequence[int]) -> list[tuple]:
    pre = (slice(None),) * axis
    return [pre + (slice(a, b), ...) for a, b in zip(bounds[:-1], bounds[1:])]


def _take_parts(x, idx: Sequence[tuple]):
    """The parts of a split: one array for one output (the executor's convention), else a tuple."""
    return x[idx[0]] if len(idx) == 1 else tuple(x[i] for i in idx)


def split_lengths(dim: int, num_splits: int) -> list[int]:
    if num_splits <= 0 or dim % num_splits:
        raise ValueError(f"the axis length {dim} does not divide into num_splits={num_splits} parts")
    return [dim // num_splits] * num_splits


def variadic_lengths(dim: int, lengths: Sequence[int]) -> list[int]:
    """Resolve the one allowed -1 of VariadicSplit's split_lengths."""
    lengths = list(lengths)
    minus = [i for i, v in enumerate(lengths) if v == -1]
    if len(minus) > 1 or any(v < -1 for v in lengths):
        raise ValueError(f"split_lengths {lengths} may hold one -1 and otherwise non-negative values")
    if minus:
        rest = dim - sum(v for v in lengths if v != -1)
        if rest < 0:
            raise ValueError(f"split_lengths {lengths} exceed the axis length {dim}")
        lengths[minus[0]] = rest
    return lengths


class _SplitBase(OpDef):
    @classmethod
    def lengths(cls, node, dim: int) -> list[int] | None:
        raise NotImplementedError

    @classmethod
    def infer(cls, node):
        check_int_input(node, 1, "axis")
        t, ps = node.input_type(0), node.input_shape(0)
        n = cls.num_outputs(node)
        axis = const_ints(node, 1)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())] * n
        if axis is None:
            return [(t, PartialShape.dynamic(len(ps)))] * n
        if len(axis) != 1:
            raise ShapeInferenceError(f"input 1 (axis) must be a scalar, got {len(axis)} values")
        ax = norm_axes(axis, len(ps))[0]
        d = ps[ax]
        lengths = cls.lengths(node, d.get_length() if d.is_static else None)
        outs = []
        for k in range(n):
            dims = list(ps)
            dims[ax] = Dimension() if lengths is None or lengths[k] is None else Dimension(lengths[k])
            outs.append((t, PartialShape(dims)))
        return outs

    @classmethod
    def kernel(cls, xp, node):
        ps, axis = node.input_shape(0), const_ints(node, 1)
        outs = [node.output(i).get_partial_shape() for i in range(node.get_output_size())]
        if axis is None or not ps.rank_is_static or not all(s.is_static for s in outs):
            return super().kernel(xp, node)
        ax = norm_axes(axis, len(ps))[0]
        idx = _split_index(ax, [0, *accumulate([s.to_shape()[ax] for s in outs])])
        return lambda x, *_: _take_parts(x, idx)


@register
class Split(_SplitBase):
    type_name, version, opset = "Split", 1, "opset1"
    attrs = (Attr("num_splits", "int"),)
    n_inputs = (2, 2)

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["num_splits"] <= 0:
            raise OpAttributeError(f"{where(node)}: attribute 'num_splits' must be positive, got {attrs['num_splits']}")

    @classmethod
    def num_outputs(cls, node):
        return node.attrs["num_splits"]

    @classmethod
    def lengths(cls, node, dim):
        n = node.attrs["num_splits"]
        return [None] * n if dim is None else split_lengths(dim, n)

    @staticmethod
    def compute(xp, x, axis, num_splits):
        ax = norm_axes(as_int_tuple(axis), x.ndim)[0]
        bounds = [0, *accumulate(split_lengths(shape_of(x)[ax], num_splits))]
        return _take_parts(x, _split_index(ax, bounds))


@register
class VariadicSplit(_SplitBase):
    type_name, version, opset = "VariadicSplit", 1, "opset1"
    n_inputs = (3, 3)

    @classmethod
    def num_outputs(cls, node):
        n = input_len(node, 2)
        if n is None:
            raise ShapeInferenceError(f"{where(node)}: input 2 (split_lengths) needs a static shape")
        return n

    @classmethod
    def lengths(cls, node, dim):
        check_int_input(node, 2, "split_lengths")
        lengths = const_ints(node, 2)
        if lengths is None:
            return None
        if dim is None:
            return [None if v == -1 else v for v in lengths]
        return _checked_lengths(dim, lengths)

    @staticmethod
    def compute(xp, x, axis, split_lengths):
        ax = norm_axes(as_int_tuple(axis), x.ndim)[0]
        lengths = _checked_lengths(shape_of(x)[ax], as_int_tuple(split_lengths))
        return _take_parts(x, _split_index(ax, [0, *accumulate(lengths)]))


def _checked_lengths(dim: int, lengths: Sequence[int]) -> list[int]:
    out = variadic_lengths(dim, lengths)
    if sum(out) != dim:
        raise ValueError(f"split_lengths {list(lengths)} do not sum to the axis length {dim}")
    return out


# --- StridedSlice / Slice -----------------------------------------------------------------------


def ov_slice(dim: int, begin: int, end: int, step: int, begin_masked: bool = False,
             end_masked: bool = False) -> slice:
    """A Python slice with non-negative bounds picking what OpenVINO picks. Unlike Python, a begin
    below the first element still starts at element 0 when stepping backwards."""
    if step == 0:
        raise ValueError("a slice step (stride) must not be 0")
    if step < 0:
        b = dim - 1 if begin_masked else (begin + dim if begin < 0 else begin)
        b = max(0, min(dim - 1, b))
        e = -1 if end_masked else (end + dim if end < 0 else end)
        e = max(-1, min(dim, e))
        return slice(b, None if e < 0 else e, step)
    b = 0 if begin_masked else (begin + dim if begin < 0 else begin)
    e = dim if end_masked else (end + dim if end < 0 else end)
    return slice(max(0, min(dim, b)), max(0, min(dim, e)), step)


def _slice_len(dim: int, s: slice) -> int:
    return len(range(dim)[s]) if dim > 0 else 0


def _mask_set(mask: Sequence[int], i: int) -> bool:
    return i < len(mask) and mask[i] != 0


def strided_slice_plan(dims: Sequence[int | None], begin: Sequence[int], end: Sequence[int],
                       strides: Sequence[int] | None, begin_mask: Sequence[int], end_mask: Sequence[int],
                       new_axis_mask: Sequence[int], shrink_axis_mask: Sequence[int],
                       ellipsis_mask: Sequence[int]) -> tuple[tuple, list[int | None]]:
    """(index tuple, output dims) of StridedSlice over input ``dims`` (None: unknown; the index
    tuple is only meaningful when every dim is known)."""
    n = len(begin)
    strides = strides if strides is not None else (1,) * n
    if len(end) != n or len(strides) != n:
        raise ValueError(f"begin, end and strides have different lengths: {len(begin)}, {len(end)}, {len(strides)}")
    kinds = []
    for i in range(n):
        if _mask_set(ellipsis_mask, i):
            kinds.append("ellipsis")
        elif _mask_set(new_axis_mask, i):
            kinds.append("new")
        elif _mask_set(shrink_axis_mask, i):
            kinds.append("shrink")
        else:
            kinds.append("slice")
    if kinds.count("ellipsis") > 1:
        raise ValueError(f"ellipsis_mask {list(ellipsis_mask)} sets more than one ellipsis")
    real = kinds.count("shrink") + kinds.count("slice")
    rank = len(dims)
    if real > rank:
        raise ValueError(f"{real} sliced axes for an input of rank {rank}")
    if "ellipsis" not in kinds:
        kinds.append("ellipsis")
    idx: list[Any] = []
    out: list[int | None] = []
    i_in = 0
    for i, kind in enumerate(kinds):
        if kind == "ellipsis":
            for _ in range(rank - real):
                idx.append(slice(None))
                out.append(dims[i_in])
                i_in += 1
        elif kind == "new":
            idx.append(None)
            out.append(1)
        elif kind == "shrink":
            d = dims[i_in]
            b = 0 if _mask_set(begin_mask, i) else begin[i]
            if d is not None:
                if not -d <= b < d:
                    raise ValueError(f"begin {b} of shrunk axis {i_in} is out of range for dimension {d}")
                b = b + d if b < 0 else b
            idx.append(b)
            i_in += 1
        else:
            d = dims[i_in]
            if d is None:
                full = _mask_set(begin_mask, i) and _mask_set(end_mask, i) and abs(strides[i]) == 1
                idx.append(slice(None))
                out.append(None)
                if strides[i] == 0:
                    raise ValueError("a stride must not be 0")
            else:
                s = ov_slice(d, begin[i], end[i], strides[i], _mask_set(begin_mask, i), _mask_set(end_mask, i))
                idx.append(s)
                out.append(_slice_len(d, s))
                full = False
            if full:
                out[-1] = d
            i_in += 1
    return tuple(idx), out


@register
class StridedSlice(OpDef):
    type_name, version, opset = "StridedSlice", 1, "opset1"
    attrs = (Attr("begin_mask", "ints"), Attr("end_mask", "ints"), Attr("new_axis_mask", "ints", list),
             Attr("shrink_axis_mask", "ints", list), Attr("ellipsis_mask", "ints", list))
    n_inputs = (3, 4)

    @classmethod
    def check_attrs(cls, attrs, node):
        _check_bool_mask(attrs, node, "begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask",
                         "ellipsis_mask")

    @classmethod
    def _masks(cls, node) -> dict[str, list[int]]:
        return {a.name: node.attrs[a.name] for a in cls.attrs}

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        for i, what in ((1, "begin"), (2, "end"), (3, "strides"))[: node.get_input_size() - 1]:
            check_int_input(node, i, what)
        begin, end = const_ints(node, 1), const_ints(node, 2)
        strides = const_ints(node, 3) if node.get_input_size() == 4 else None
        have_values = begin is not None and end is not None and (node.get_input_size() == 3 or strides is not None)
        m = cls._masks(node)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        if have_values:
            _, out = strided_slice_plan(_dims(ps), begin, end, strides, **m)
            return [(t, _pshape(out))]
        n = input_len(node, 1)
        if n is None:
            return [(t, PartialShape.dynamic())]
        new = sum(_mask_set(m["new_axis_mask"], i) and not _mask_set(m["ellipsis_mask"], i) for i in range(n))
        shrink = sum(_mask_set(m["shrink_axis_mask"], i) and not _mask_set(m["new_axis_mask"], i)
                     and not _mask_set(m["ellipsis_mask"], i) for i in range(n))
        return [(t, PartialShape.dynamic(len(ps) + new - shrink))]

    @staticmethod
    def compute(xp, x, begin, end, strides=None, **masks):
        strides = None if strides is None else as_int_tuple(strides)
        idx, _ = strided_slice_plan(shape_of(x), as_int_tuple(begin), as_int_tuple(end), strides, **masks)
        return x[idx]

    @classmethod
    def kernel(cls, xp, node):
        begin, end = const_ints(node, 1), const_ints(node, 2)
        strides = const_ints(node, 3) if node.get_input_size() == 4 else None
        if begin is None or end is None or (node.get_input_size() == 4 and strides is None):
            return super().kernel(xp, node)
        m = cls._masks(node)

        @functools.lru_cache(maxsize=16)
        def index(shape):
            return strided_slice_plan(shape, begin, end, strides, **m)[0]

        ps = node.input_shape(0)
        if ps.is_static:
            idx = index(ps.to_shape())
            return lambda x, *_: x[idx]
        return lambda x, *_: x[index(shape_of(x))]


def slice_index(shape: Sequence[int], start: Sequence[int], stop: Sequence[int], step: Sequence[int],
                axes: Sequence[int] | None) -> tuple[slice, ...]:
    """The index tuple of Slice-8 (start/stop clamped as OpenVINO does; see :func:`ov_slice`)."""
    rank = len(shape)
    if not len(start) == len(stop) == len(step) or (axes is not None and len(axes) != len(start)):
        raise ValueError(f"start, stop, step (and axes) must have the same length, got {len(start)}, "
                         f"{len(stop)}, {len(step)}" + ("" if axes is None else f", {len(axes)}"))
    axes = tuple(range(len(start))) if axes is None else norm_axes(axes, rank, "axes value")
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes {list(axes)} has repeated values")
    if len(axes) > rank:
        raise ValueError(f"{len(axes)} slices for an input of rank {rank}")
    idx = [slice(None)] * rank
    for a, b, e, s in zip(axes, start, stop, step):
        idx[a] = ov_slice(shape[a], b, e, s)
    return tuple(idx)


@register
class Slice(OpDef):
    type_name, version, opset = "Slice", 8, "opset8"
    n_inputs = (4, 5)

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        names = ("start", "stop", "step", "axes")
        for i in range(1, node.get_input_size()):
            check_int_input(node, i, names[i - 1])
        vals = [const_ints(node, i) for i in range(1, node.get_input_size())]
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        rank = len(ps)
        start, stop, step = vals[:3]
        axes = vals[3] if len(vals) == 4 else None
        if start is None or stop is None or step is None or (len(vals) == 4 and axes is None):
            if len(vals) == 4 and axes is not None and ps.rank_is_static:
                sliced = set(norm_axes(axes, rank, "axes value"))
                return [(t, PartialShape([Dimension() if i in sliced else d for i, d in enumerate(ps)]))]
            return [(t, PartialShape.dynamic(rank))]
        dims = _dims(ps)
        known = [d if d is not None else 0 for d in dims]
        idx = slice_index(known, start, stop, step, axes)
        out = []
        for i, (d, s) in enumerate(zip(dims, idx)):
            out.append(d if s == slice(None) else (None if d is None else _slice_len(d, s)))
        return [(t, _pshape(out))]

    @staticmethod
    def compute(xp, x, start, stop, step, axes=None):
        axes = None if axes is None else as_int_tuple(axes)
        return x[slice_index(shape_of(x), as_int_tuple(start), as_int_tuple(stop), as_int_tuple(step), axes)]

    @classmethod
    def kernel(cls, xp, node):
        vals = [const_ints(node, i) for i in range(1, node.get_input_size())]
        if any(v is None for v in vals):
            return super().kernel(xp, node)
        start, stop, step = vals[:3]
        axes = vals[3] if len(vals) == 4 else None

        @functools.lru_cache(maxsize=16)
        def index(shape):
            return slice_index(shape, start, stop, step, axes)

        ps = node.input_shape(0)
        if ps.is_static:
            idx = index(ps.to_shape())
            return lambda x, *_: x[idx]
        return lambda x, *_: x[index(shape_of(x))]


# --- Broadcast / Tile ---------------------------------------------------------------------------


def _broadcast_shape(arg: Sequence[int], target: Sequence[int], mode: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shape to reshape the input to, output shape) for a Broadcast whose axes mapping is implied."""
    arg, target = tuple(arg), tuple(target)
    if mode == "bidirectional":
        n = max(len(arg), len(target))
        a = (1,) * (n - len(arg)) + arg
        t = (1,) * (n - len(target)) + target
        out = []
        for x, y in zip(a, t):
            if x != y and 1 not in (x, y):
                raise ValueError(f"input shape {arg} and target shape {target} do not broadcast")
            out.append(y if x == 1 else x)
        return a, tuple(out)
    if len(arg) > len(target):
        raise ValueError(f"the input rank {len(arg)} is larger than the target rank {len(target)}")
    if mode == "pdpd":  # PDPD aligns the input to the start of the target (OpenVINO's axis 0)
        a = arg + (1,) * (len(target) - len(arg))
    else:
        a = (1,) * (len(target) - len(arg)) + arg
    for x, y in zip(a, target):
        if x not in (1, y):
            raise ValueError(f"input shape {arg} does not broadcast to target shape {target} ({mode})")
    return a, target


def _explicit_shape(arg: Sequence[int], target: Sequence[int], axes: Sequence[int]) -> tuple[int, ...]:
    if len(axes) != len(arg):
        raise ValueError(f"axes_mapping {list(axes)} must have one value per input axis ({len(arg)})")
    if list(axes) != sorted(axes) or len(set(axes)) != len(axes):
        raise ValueError(f"axes_mapping {list(axes)} must be increasing")
    shape = [1] * len(target)
    for d, a in zip(arg, axes):
        if not 0 <= a < len(target):
            raise ValueError(f"axes_mapping value {a} is out of range for target rank {len(target)}")
        if d not in (1, target[a]):
            raise ValueError(f"input dimension {d} does not broadcast to target dimension {target[a]} (axis {a})")
        shape[a] = d
    return tuple(shape)


def broadcast_plan(arg: Sequence[int], target: Sequence[int], mode: str,
                   axes: Sequence[int] | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if any(t < 0 for t in target):
        raise ValueError(f"target shape {list(target)} has negative values")
    if mode == "explicit":
        if axes is None:
            raise ValueError("explicit mode needs the axes_mapping input")
        return _explicit_shape(arg, target, axes), tuple(target)
    return _broadcast_shape(arg, target, mode)


class _BroadcastBase(OpDef):
    n_inputs = (2, 3)

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        check_int_input(node, 1, "target_shape")
        mode = node.attrs["mode"]
        if mode == "explicit" and node.get_input_size() != 3:
            raise ShapeInferenceError("mode 'explicit' needs input 2 (axes_mapping)")
        target = const_ints(node, 1)
        axes = const_ints(node, 2)
        if target is None:
            n = input_len(node, 1)
            if mode == "bidirectional":
                rank = None if n is None or not ps.rank_is_static else max(n, len(ps))
                return [(t, PartialShape.dynamic(rank))]
            return [(t, PartialShape.dynamic(n))]
        if not ps.rank_is_static or (mode == "explicit" and axes is None):
            if mode == "bidirectional":
                return [(t, PartialShape.dynamic())]
            return [(t, PartialShape(target))]
        if ps.is_static:
            return [(t, PartialShape(broadcast_plan(ps.to_shape(), target, mode, axes)[1]))]
        if mode == "bidirectional":
            return [(t, broadcast_shapes(ps, PartialShape(target)))]
        return [(t, PartialShape(target))]

    @staticmethod
    def compute(xp, x, target_shape, axes_mapping=None, mode="numpy"):
        axes = None if axes_mapping is None else as_int_tuple(axes_mapping)
        shape, out = broadcast_plan(shape_of(x), as_int_tuple(target_shape), mode, axes)
        return xp.broadcast_to(xp.reshape(x, shape), out)

    @classmethod
    def kernel(cls, xp, node):
        ps, target = node.input_shape(0), const_ints(node, 1)
        axes = const_ints(node, 2)
        if target is None or not ps.is_static or (node.get_input_size() == 3 and axes is None):
            return super().kernel(xp, node)
        shape, out = broadcast_plan(ps.to_shape(), target, node.attrs["mode"], axes)
        if ps.to_shape() == out:
            return lambda x, *_: x
        return lambda x, *_: xp.broadcast_to(xp.reshape(x, shape), out)


@register
class Broadcast1(_BroadcastBase):
    type_name, version, opset = "Broadcast", 1, "opset1"
    attrs = (Attr("mode", "str", "numpy", choices=("numpy", "explicit", "pdpd")),)


@register
class Broadcast(_BroadcastBase):
    type_name, version, opset = "Broadcast", 3, "opset3"
    attrs = (Attr("mode", "str", "numpy", choices=("numpy", "explicit", "bidirectional", "pdpd")),)


def tile_plan(shape: Sequence[int], repeats: Sequence[int]):
    """(interleaved shape, broadcast shape, output shape) tiling ``shape`` by ``repeats`` (the
    shorter of the two is padded with leading 1s)."""
    if any(r < 0 for r in repeats):
        raise ValueError(f"repeats {list(repeats)} has negative values")
    n = max(len(shape), len(repeats))
    shape = (1,) * (n - len(shape)) + tuple(shape)
    reps = (1,) * (n - len(repeats)) + tuple(repeats)
    inter = tuple(v for d in shape for v in (1, d))
    big = tuple(v for r, d in zip(reps, shape) for v in (r, d))
    return inter, big, tuple(r * d for r, d in zip(reps, shape))


def _tile(xp, x, plan):
    inter, big, out = plan
    return xp.reshape(xp.broadcast_to(xp.reshape(x, inter), big), out)


@register
class Tile(OpDef):
    type_name, version, opset = "Tile", 0, "opset1"
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_int_input(node, 1, "repeats")
        t, ps = node.input_type(0), node.input_shape(0)
        reps = const_ints(node, 1)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        if reps is None:
            n = input_len(node, 1)
            return [(t, PartialShape.dynamic(None if n is None else max(n, len(ps))))]
        if any(r < 0 for r in reps):
            raise ShapeInferenceError(f"repeats {list(reps)} has negative values")
        n = max(len(ps), len(reps))
        dims = [Dimension(1)] * (n - len(ps)) + list(ps)
        reps = (1,) * (n - len(reps)) + reps
        return [(t, PartialShape([d * r for d, r in zip(dims, reps)]))]

    @staticmethod
    def compute(xp, x, repeats):
        return _tile(xp, x, tile_plan(shape_of(x), as_int_tuple(repeats)))

    @classmethod
    def kernel(cls, xp, node):
        ps, reps = node.input_shape(0), const_ints(node, 1)
        if reps is None or not ps.is_static:
            return super().kernel(xp, node)
        plan = tile_plan(ps.to_shape(), reps)
        if plan[2] == ps.to_shape():
            return lambda x, _: x
        return lambda x, _: _tile(xp, x, plan)


# --- Pad ----------------------------------------------------------------------------------------

PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def pad_source_index(dim: int, begin: int, end: int, mode: str) -> list[int]:
    """For each output position along one axis, the input position it copies (edge, reflect and
    symmetric modes; negative pads crop)."""
    out = []
    for j in range(dim + begin + end):
        p = j - begin
        if mode == "edge":
            out.append(min(max(p, 0), dim - 1))
        elif mode == "reflect":
            q = p % (2 * dim - 2) if dim > 1 else 0
            out.append(q if q < dim else 2 * dim - 2 - q)
        else:
            q = p % (2 * dim)
            out.append(q if q < dim else 2 * dim - 1 - q)
    return out


def check_pads(shape: Sequence[int | None], begin: Sequence[int], end: Sequence[int], mode: str,
               allow_negative: bool) -> None:
    if len(begin) != len(shape) or len(end) != len(shape):
        raise ValueError(f"pads_begin {list(begin)} and pads_end {list(end)} must have one value per "
                         f"input axis ({len(shape)})")
    if not allow_negative and (min(begin, default=0) < 0 or min(end, default=0) < 0):
        raise ValueError(f"Pad-1 pads must be non-negative, got pads_begin {list(begin)}, pads_end {list(end)}")
    for ax, (d, b, e) in enumerate(zip(shape, begin, end)):
        if d is None:
            continue
        if d + b + e < 0:
            raise ValueError(f"pads {b}, {e} crop more than axis {ax} holds ({d})")
        limits = {"reflect": d - 1, "symmetric": d, "edge": math.inf if d else 0}
        if max(b, e) > limits.get(mode, math.inf):
            raise ValueError(f"{mode} padding of axis {ax} (length {d}) by {max(b, e)} is too large")


def pad_plan(shape: Sequence[int], begin: Sequence[int], end: Sequence[int], mode: str):
    """Steps to pad: ``("crop", index)``, ``("concat", axis, begin shape, end shape)`` (constant)
    or ``("take", axis, source positions)`` (other modes)."""
    steps: list[tuple] = []
    shape = list(shape)
    if mode == "constant":
        crop = tuple(slice(max(0, -b), d - max(0, -e)) for d, b, e in zip(shape, begin, end))
        if any(b < 0 or e < 0 for b, e in zip(begin, end)):
            steps.append(("crop", crop))
            shape = [len(range(d)[s]) for d, s in zip(shape, crop)]
        for ax, (b, e) in enumerate(zip(begin, end)):
            b, e = max(b, 0), max(e, 0)
            if b or e:
                head = tuple(b if i == ax else d for i, d in enumerate(shape))
                tail = tuple(e if i == ax else d for i, d in enumerate(shape))
                steps.append(("concat", ax, head, tail))
                shape[ax] += b + e
        return steps
    for ax, (d, b, e) in enumerate(zip(shape, begin, end)):
        if b or e:
            steps.append(("take", ax, pad_source_index(d, b, e, mode)))
    return steps


def apply_pad(xp, x, steps, value, indices: dict | None = None):
    for k, step in enumerate(steps):
        if step[0] == "crop":
            x = x[step[1]]
        elif step[0] == "concat":
            _, ax, head, tail = step
            parts = [x]
            if head[ax]:
                parts.insert(0, xp.broadcast_to(value, head))
            if tail[ax]:
                parts.append(xp.broadcast_to(value, tail))
            x = xp.concat(parts, axis=ax)
        else:
            idx = indices[k] if indices is not None else xp.asarray(step[2], dtype=xp.int64)
            x = xp.take(x, idx, axis=step[1])
    return x


def _pad_value(xp, x, pad_value):
    if pad_value is None:
        return xp.zeros((), dtype=x.dtype)
    return xp.astype(xp.reshape(pad_value, ()), x.dtype)


class _PadBase(OpDef):
    attrs = (Attr("pad_mode", "str", "constant", choices=PAD_MODES),)
    n_inputs = (3, 4)
    allow_negative = False

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        check_int_input(node, 1, "pads_begin")
        check_int_input(node, 2, "pads_end")
        if node.get_input_size() == 4:
            vt = node.input_type(3)
            if t.is_static and vt.is_static and vt is not t:
                raise ShapeInferenceError(f"input 3 (pad_value) has element type {vt}, expected {t} like input 0")
            vs = node.input_shape(3)
            if vs.rank_is_static and len(vs) != 0:
                raise ShapeInferenceError(f"input 3 (pad_value) must be a scalar, got shape {vs}")
        begin, end = const_ints(node, 1), const_ints(node, 2)
        if not ps.rank_is_static:
            n = input_len(node, 1)
            return [(t, PartialShape.dynamic(n))]
        if begin is None or end is None:
            return [(t, PartialShape.dynamic(len(ps)))]
        check_pads(_dims(ps), begin, end, node.attrs["pad_mode"], cls.allow_negative)
        return [(t, PartialShape([Dimension(d.get_length() + b + e) if d.is_static
                                  else (Dimension() if b + e < 0 else d + (b + e))
                                  for d, b, e in zip(ps, begin, end)]))]

    @classmethod
    def kernel(cls, xp, node):
        ps, begin, end = node.input_shape(0), const_ints(node, 1), const_ints(node, 2)
        mode = node.attrs["pad_mode"]
        if begin is None or end is None or not ps.is_static:
            return super().kernel(xp, node)
        steps = pad_plan_checked(ps.to_shape(), begin, end, mode, cls.allow_negative)
        if not steps:
            return lambda x, *_: x
        indices = {k: xp.asarray(s[2], dtype=xp.int64) for k, s in enumerate(steps) if s[0] == "take"}
        return lambda x, b, e, v=None: apply_pad(xp, x, steps, _pad_value(xp, x, v), indices)

    @classmethod
    def compute(cls, xp, x, pads_begin, pads_end, pad_value=None, pad_mode="constant"):
        steps = pad_plan_checked(shape_of(x), as_int_tuple(pads_begin), as_int_tuple(pads_end), pad_mode,
                                 cls.allow_negative)
        return apply_pad(xp, x, steps, _pad_value(xp, x, pad_value))


def pad_plan_checked(shape, begin, end, mode, allow_negative):
    check_pads(shape, begin, end, mode, allow_negative)
    return pad_plan(shape, begin, end, mode)


@register
class Pad1(_PadBase):
    type_name, version, opset = "Pad", 1, "opset1"


@register
class Pad(_PadBase):
    """Pad-12: like Pad-1, and negative pads crop."""

    type_name, version, opset = "Pad", 12, "opset12"
    allow_negative = True


# --- DepthToSpace / SpaceToDepth / ShuffleChannels ----------------------------------------------


def depth_to_space_plan(shape: Sequence[int], bs: int, mode: str):
    if len(shape) < 3:
        raise ValueError(f"the input must have rank 3 or more, got shape {tuple(shape)}")
    n, c, *sp = shape
    k = len(sp)
    if bs <= 0 or c % bs**k:
        raise ValueError(f"channels {c} are not divisible by block_size^{k} = {bs**k}")
    nc = c // bs**k
    if mode == "blocks_first":
        inner = (n, *(bs,) * k, nc, *sp)
        perm = (0, k + 1) + tuple(v for i in range(k) for v in (k + 2 + i, 1 + i))
    else:
        inner = (n, nc, *(bs,) * k, *sp)
        perm = (0, 1) + tuple(v for i in range(k) for v in (k + 2 + i, 2 + i))
    return inner, perm, (n, nc, *(d * bs for d in sp))


def space_to_depth_plan(shape: Sequence[int], bs: int, mode: str):
    if len(shape) < 3:
        raise ValueError(f"the input must have rank 3 or more, got shape {tuple(shape)}")
    n, c, *sp = shape
    k = len(sp)
    if bs <= 0 or any(d % bs for d in sp):
        raise ValueError(f"spatial dimensions {sp} are not divisible by block_size {bs}")
    inner = (n, c, *(v for d in sp for v in (d // bs, bs)))
    blocks = tuple(3 + 2 * i for i in range(k))
    spatial = tuple(2 + 2 * i for i in range(k))
    perm = (0, *blocks, 1, *spatial) if mode == "blocks_first" else (0, 1, *blocks, *spatial)
    return inner, perm, (n, c * bs**k, *(d // bs for d in sp))


def _reshape_permute(xp, x, plan):
    inner, perm, out = plan
    return xp.reshape(xp.permute_dims(xp.reshape(x, inner), perm), out)


class _BlockBase(OpDef):
    attrs = (Attr("block_size", "int", 1), Attr("mode", "str", choices=("blocks_first", "depth_first")))
    plan_fn: Any = None

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["block_size"] <= 0:
            raise OpAttributeError(f"{where(node)}: attribute 'block_size' must be positive, got {attrs['block_size']}")

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        bs, k = node.attrs["block_size"], len(ps) - 2
        if ps.is_static:
            return [(t, PartialShape(cls.plan(ps.to_shape(), bs, node.attrs["mode"])[2]))]
        if len(ps) < 3:
            raise ShapeInferenceError(f"the input must have rank 3 or more, got {ps}")
        return [(t, PartialShape(cls.partial(list(ps), bs, k)))]

    @classmethod
    def plan(cls, shape, bs, mode):
        raise NotImplementedError

    @classmethod
    def kernel(cls, xp, node):
        ps = node.input_shape(0)
        bs, mode = node.attrs["block_size"], node.attrs["mode"]
        if ps.is_static:
            plan = cls.plan(ps.to_shape(), bs, mode)
            return lambda x: _reshape_permute(xp, x, plan)
        return lambda x: _reshape_permute(xp, x, cls.plan(shape_of(x), bs, mode))


@register
class DepthToSpace(_BlockBase):
    type_name, version, opset = "DepthToSpace", 0, "opset1"

    @classmethod
    def plan(cls, shape, bs, mode):
        return depth_to_space_plan(shape, bs, mode)

    @classmethod
    def partial(cls, dims, bs, k):
        c = dims[1]
        nc = Dimension(c.get_length() // bs**k) if c.is_static else Dimension()
        return [dims[0], nc, *(d * bs for d in dims[2:])]

    @staticmethod
    def compute(xp, x, block_size, mode):
        return _reshape_permute(xp, x, depth_to_space_plan(shape_of(x), block_size, mode))


@register
class SpaceToDepth(_BlockBase):
    type_name, version, opset = "SpaceToDepth", 0, "opset1"

    @classmethod
    def plan(cls, shape, bs, mode):
        return space_to_depth_plan(shape, bs, mode)

    @classmethod
    def partial(cls, dims, bs, k):
        sp = [Dimension(d.get_length() // bs) if d.is_static else Dimension() for d in dims[2:]]
        return [dims[0], dims[1] * bs**k, *sp]

    @staticmethod
    def compute(xp, x, block_size, mode):
        return _reshape_permute(xp, x, space_to_depth_plan(shape_of(x), block_size, mode))


def shuffle_plan(shape: Sequence[int], axis: int, group: int):
    rank = len(shape)
    ax = norm_axes([axis], rank, "attribute 'axis'")[0]
    c = shape[ax]
    if group <= 0 or c % group:
        raise ValueError(f"the axis length {c} is not divisible by group {group}")
    pre, post = math.prod(shape[:ax]), math.prod(shape[ax + 1:])
    return (pre, group, c // group, post), (0, 2, 1, 3), tuple(shape)


@register
class ShuffleChannels(OpDef):
    type_name, version, opset = "ShuffleChannels", 0, "opset1"
    attrs = (Attr("axis", "int", 1), Attr("group", "int", 1))

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        if ps.rank_is_static:
            if len(ps) == 0:
                raise ShapeInferenceError("the input must not be a scalar")
            ax = norm_axes([node.attrs["axis"]], len(ps), "attribute 'axis'")[0]
            d, g = ps[ax], node.attrs["group"]
            if g <= 0 or (d.is_static and d.get_length() % g):
                raise ShapeInferenceError(f"the axis length {d} is not divisible by attribute 'group' = {g}")
        return [(t, ps)]

    @staticmethod
    def compute(xp, x, axis, group):
        return _reshape_permute(xp, x, shuffle_plan(shape_of(x), axis, group))

    @classmethod
    def kernel(cls, xp, node):
        ps = node.input_shape(0)
        if ps.is_static:
            plan = shuffle_plan(ps.to_shape(), node.attrs["axis"], node.attrs["group"])
            return lambda x: _reshape_permute(xp, x, plan)
        return super().kernel(xp, node)


# --- Roll / Reverse -----------------------------------------------------------------------------


def roll_plan(shape: Sequence[int], shift: Sequence[int], axes: Sequence[int]) -> tuple[tuple, tuple]:
    """(shifts, axes) with repeated axes summed and shifts reduced modulo the axis length."""
    if len(shift) == 1 and len(axes) > 1:
        shift = tuple(shift) * len(axes)
    if len(shift) != len(axes):
        raise ValueError(f"shift {list(shift)} and axes {list(axes)} have different lengths")
    total: dict[int, int] = {}
    for s, a in zip(shift, norm_axes(axes, len(shape), "axes value")):
        total[a] = total.get(a, 0) + s
    pairs = [(s % shape[a] if shape[a] else 0, a) for a, s in sorted(total.items())]
    pairs = [(s, a) for s, a in pairs if s]
    return tuple(s for s, _ in pairs), tuple(a for _, a in pairs)


def _roll(xp, x, plan):
    shifts, axes = plan
    return xp.roll(x, shift=shifts, axis=axes) if axes else x


@register
class Roll(OpDef):
    type_name, version, opset = "Roll", 7, "opset7"
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        check_int_input(node, 1, "shift")
        check_int_input(node, 2, "axes")
        ps = node.input_shape(0)
        shift, axes = const_ints(node, 1), const_ints(node, 2)
        if ps.rank_is_static and axes is not None:
            norm_axes(axes, len(ps), "axes value")
            if shift is not None and len(shift) not in (1, len(axes)):
                raise ShapeInferenceError(f"shift {list(shift)} must be a scalar or match axes {list(axes)}")
        return [(node.input_type(0), ps)]

    @staticmethod
    def compute(xp, x, shift, axes):
        return _roll(xp, x, roll_plan(shape_of(x), as_int_tuple(shift), as_int_tuple(axes)))

    @classmethod
    def kernel(cls, xp, node):
        ps, shift, axes = node.input_shape(0), const_ints(node, 1), const_ints(node, 2)
        if not ps.is_static or shift is None or axes is None:
            return super().kernel(xp, node)
        plan = roll_plan(ps.to_shape(), shift, axes)
        return lambda x, *_: _roll(xp, x, plan)


def reverse_axes(rank: int, axes: Sequence[int], mode: str) -> tuple[int, ...]:
    if mode == "mask":
        if len(axes) != rank:
            raise ValueError(f"a mask of {len(axes)} values for an input of rank {rank}")
        return tuple(i for i, m in enumerate(axes) if m)
    return tuple(sorted(set(norm_axes(axes, rank, "reversed_axes value"))))


@register
class Reverse(OpDef):
    type_name, version, opset = "Reverse", 1, "opset1"
    attrs = (Attr("mode", "str", choices=("index", "mask")),)
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        at = node.input_type(1)
        mode = node.attrs["mode"]
        if at.is_static and (mode == "mask") != (at.name == "boolean"):
            want = "boolean" if mode == "mask" else "an integer type"
            raise ShapeInferenceError(f"input 1 (reversed_axes) must be {want} in mode '{mode}', got {at}")
        axes = const_ints(node, 1)
        if ps.rank_is_static and axes is not None:
            reverse_axes(len(ps), axes, mode)
        return [(t, ps)]

    @staticmethod
    def compute(xp, x, reversed_axes, mode):
        axes = reverse_axes(x.ndim, as_int_tuple(reversed_axes), mode)
        return xp.flip(x, axis=axes) if axes else x

    @classmethod
    def kernel(cls, xp, node):
        ps, axes = node.input_shape(0), const_ints(node, 1)
        if axes is None or not ps.rank_is_static:
            return super().kernel(xp, node)
        ax = reverse_axes(len(ps), axes, node.attrs["mode"])
        if not ax:
            return lambda x, _: x
        return lambda x, _: xp.flip(x, axis=ax)


# --- factories ----------------------------------------------------------------------------------


@factory
def reshape(node, output_shape, special_zero: bool, name: str | None = None) -> Node:
    return make("Reshape", [node, output_shape], {"special_zero": special_zero}, name)


@factory
def transpose(data, input_order, name: str | None = None) -> Node:
    return make("Transpose", [data, input_order], name=name)


@factory
def squeeze(data, axes=None, allow_axis_skip: bool = False, name: str | None = None) -> Node:
    inputs = [data] if axes is None else [data, axes]
    return make("Squeeze", inputs, {"allow_axis_skip": allow_axis_skip}, name)


@factory
def unsqueeze(data, axes, name: str | None = None) -> Node:
    return make("Unsqueeze", [data, axes], name=name)


@factory
def concat(nodes: list, axis: int, name: str | None = None) -> Node:
    return make("Concat", list(nodes), {"axis": axis}, name)


@factory
def split(data, axis, num_splits: int, name: str | None = None) -> Node:
    return make("Split", [data, axis], {"num_splits": num_splits}, name)


@factory
def variadic_split(data, axis, split_lengths, name: str | None = None) -> Node:
    return make("VariadicSplit", [data, axis, split_lengths], name=name)


@factory
def strided_slice(data, begin, end, strides, begin_mask: list[int], end_mask: list[int],
                  new_axis_mask: list[int] | None = None, shrink_axis_mask: list[int] | None = None,
                  ellipsis_mask: list[int] | None = None, name: str | None = None) -> Node:
    attrs = {"begin_mask": begin_mask, "end_mask": end_mask, "new_axis_mask": new_axis_mask or [],
             "shrink_axis_mask": shrink_axis_mask or [], "ellipsis_mask": ellipsis_mask or []}
    return make("StridedSlice", [data, begin, end, strides], attrs, name)


def _slice(data, start, stop, step, axes=None, name: str | None = None) -> Node:
    inputs = [data, start, stop, step] + ([] if axes is None else [axes])
    return make("Slice", inputs, name=name)


_slice.__name__ = _slice.__qualname__ = "slice"  # OpenVINO's name, kept off this module's globals
factory(_slice)


@factory
def broadcast(data, target_shape, axes_mapping=None, broadcast_spec: str = "NUMPY",
              name: str | None = None) -> Node:
    inputs = [data, target_shape] + ([] if axes_mapping is None else [axes_mapping])
    return make("Broadcast", inputs, {"mode": broadcast_spec}, name)


@factory
def tile(data, repeats, name: str | None = None) -> Node:
    return make("Tile", [data, repeats], name=name)


@factory
def pad(arg, pads_begin, pads_end, pad_mode: str, arg_pad_value=None, name: str | None = None) -> Node:
    inputs = [arg, pads_begin, pads_end] + ([] if arg_pad_value is None else [arg_pad_value])
    return make("Pad", inputs, {"pad_mode": pad_mode}, name)


@factory
def depth_to_space(node, mode: str, block_size: int = 1, name: str | None = None) -> Node:
    return make("DepthToSpace", [node], {"mode": mode, "block_size": block_size}, name)


@factory
def space_to_depth(data, mode: str, block_size: int = 1, name: str | None = None) -> Node:
    return make("SpaceToDepth", [data], {"mode": mode, "block_size": block_size}, name)


@factory
def shuffle_channels(data, axis: int, group: int, name: str | None = None) -> Node:
    return make("ShuffleChannels", [data], {"axis": axis, "group": group}, name)


@factory
def roll(data, shift, axes, name: str | None = None) -> Node:
    return make("Roll", [data, shift, axes], name=name)


@factory
def reverse(data, reversed_axes, mode: str, name: str | None = None) -> Node:
    """A Reverse-1 node (OpenVINO's Python opsets have no factory for it)."""
    return make("Reverse", [data, reversed_axes], {"mode": mode}, name)
