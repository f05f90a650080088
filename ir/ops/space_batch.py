"""BatchToSpace, SpaceToBatch, ExtractImagePatches, ReorgYolo.

All four are reshapes and transposes (plus zero padding and strided slices). The block shape, crops
and pads of BatchToSpace / SpaceToBatch are inputs, nearly always constants: ``infer`` then gives
exact shapes and ``kernel`` plans once; otherwise ``compute`` reads them per call.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.ops.movement import apply_pad, check_int_input, const_ints, pad_plan, shape_of
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where

# --- BatchToSpace / SpaceToBatch ----------------------------------------------------------------


def _check_block_args(rank: int, block: Sequence[int], begin: Sequence[int], end: Sequence[int],
                      names: tuple[str, str]) -> None:
    if rank < 2:
        raise ValueError(f"data must have rank 2 or more, got rank {rank}")
    for what, v in (("block_shape", block), (names[0], begin), (names[1], end)):
        if len(v) != rank:
            raise ValueError(f"{what} must have one value per data axis ({rank}), got {list(v)}")
    if any(b < 1 for b in block):
        raise ValueError(f"block_shape values must be positive, got {list(block)}")
    if block[0] != 1:
        raise ValueError(f"block_shape[0] must be 1, got {list(block)}")
    for what, v in ((names[0], begin), (names[1], end)):
        if any(p < 0 for p in v):
            raise ValueError(f"{what} values must be non-negative, got {list(v)}")


def batch_to_space_plan(shape: Sequence[int], block: Sequence[int], begin: Sequence[int], end: Sequence[int]):
    """(split shape, permutation, merged shape, crop index, output shape)."""
    shape = tuple(shape)
    _check_block_args(len(shape), block, begin, end, ("crops_begin", "crops_end"))
    prod = math.prod(block)
    if shape[0] % prod:
        raise ValueError(f"batch {shape[0]} is not divisible by the product of block_shape {list(block)} ({prod})")
    merged = (shape[0] // prod, *(d * b for d, b in zip(shape[1:], block[1:])))
    out = tuple(m - b - e for m, b, e in zip(merged, begin, end))
    if any(d < 0 for d in out):
        raise ValueError(f"crops_begin {list(begin)} and crops_end {list(end)} remove more than shape {merged} holds")
    k = len(shape) - 1
    split = (*block[1:], merged[0], *shape[1:])
    # split axes: blocks 0..k-1, batch k, spatial k+1..2k
    perm = (k, *(a for i in range(k) for a in (k + 1 + i, i)))
    crop = tuple(slice(b, m - e) for m, b, e in zip(merged, begin, end))
    return split, perm, merged, crop, out


def space_to_batch_plan(shape: Sequence[int], block: Sequence[int], begin: Sequence[int], end: Sequence[int]):
    """(pad steps, split shape, permutation, output shape)."""
    shape = tuple(shape)
    _check_block_args(len(shape), block, begin, end, ("pads_begin", "pads_end"))
    padded = tuple(d + b + e for d, b, e in zip(shape, begin, end))
    if any(p % b for p, b in zip(padded, block)):
        raise ValueError(f"padded shape {padded} is not divisible by block_shape {list(block)}")
    k = len(shape) - 1
    split = (padded[0], *(v for p, b in zip(padded[1:], block[1:]) for v in (p // b, b)))
    # split axes: batch 0, then (spatial 1 + 2i, block 2 + 2i)
    perm = (*(2 + 2 * i for i in range(k)), 0, *(1 + 2 * i for i in range(k)))
    out = (padded[0] * math.prod(block), *(p // b for p, b in zip(padded[1:], block[1:])))
    return pad_plan(shape, begin, end, "constant"), split, perm, out


def _batch_to_space(xp, x, plan):
    split, perm, merged, crop, _ = plan
    y = xp.reshape(xp.permute_dims(xp.reshape(x, split), perm), merged)
    return y[crop]


def _space_to_batch(xp, x, plan):
    steps, split, perm, out = plan
    y = apply_pad(xp, x, steps, xp.zeros((), dtype=x.dtype))
    return xp.reshape(xp.permute_dims(xp.reshape(y, split), perm), out)


class _BlockInputs(OpDef):
    n_inputs = (4, 4)
    input_names = ("block_shape", "crops_begin", "crops_end")
    plan_fn = staticmethod(batch_to_space_plan)
    apply_fn = staticmethod(_batch_to_space)

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        for i, what in enumerate(cls.input_names, 1):
            check_int_input(node, i, what)
            s = node.input_shape(i)
            if s.rank_is_static and len(s) != 1:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be 1-D, got shape {s}")
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        rank = len(ps)
        if rank < 2:
            raise ShapeInferenceError(f"{where(node)}: data must have rank 2 or more, got {ps}")
        for i, what in enumerate(cls.input_names, 1):
            s = node.input_shape(i)
            if s.is_static and s.to_shape()[0] != rank:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have {rank} values (the data "
                                          f"rank), got shape {s}")
        vals = [const_ints(node, i) for i in (1, 2, 3)]
        if any(v is None for v in vals):
            return [(t, PartialShape([Dimension()] * rank))]
        dims = [d.get_length() if d.is_static else None for d in ps]
        # a dynamic dim gets a placeholder length that passes the checks; its output dim stays dynamic
        probe = [cls.placeholder(a, *vals) if d is None else d for a, d in enumerate(dims)]
        try:
            out = cls.plan_fn(probe, *vals)[-1]
        except ValueError as exc:
            raise ShapeInferenceError(f"{where(node)}: {exc}") from None
        return [(t, PartialShape([Dimension() if d is None else Dimension(o) for d, o in zip(dims, out)]))]

    @staticmethod
    def placeholder(axis, block, begin, end):
        return math.prod(block) if axis == 0 else begin[axis] + end[axis] + 1

    @classmethod
    def kernel(cls, xp, node):
        ps = node.input_shape(0)
        vals = [const_ints(node, i) for i in (1, 2, 3)]
        apply = cls.apply_fn
        if ps.is_static and all(v is not None for v in vals):
            plan = cls.plan_fn(ps.to_shape(), *vals)
            return lambda x, *_: apply(xp, x, plan)
        return super().kernel(xp, node)


def _ints(*arrays):
    return [as_int_tuple(a) for a in arrays]


@register
class BatchToSpace(_BlockInputs):
    type_name, version, opset = "BatchToSpace", 1, "opset2"

    @staticmethod
    def compute(xp, data, block_shape, crops_begin, crops_end):
        plan = batch_to_space_plan(shape_of(data), *_ints(block_shape, crops_begin, crops_end))
        return _batch_to_space(xp, data, plan)


@register
class SpaceToBatch(_BlockInputs):
    type_name, version, opset = "SpaceToBatch", 1, "opset2"
    input_names = ("block_shape", "pads_begin", "pads_end")
    plan_fn = staticmethod(space_to_batch_plan)
    apply_fn = staticmethod(_space_to_batch)

    @staticmethod
    def placeholder(axis, block, begin, end):
        return -(begin[axis] + end[axis]) % block[axis] + block[axis]

    @staticmethod
    def compute(xp, data, block_shape, pads_begin, pads_end):
        plan = space_to_batch_plan(shape_of(data), *_ints(block_shape, pads_begin, pads_end))
        return _space_to_batch(xp, data, plan)


# --- ExtractImagePatches ------------------------------------------------------------------------


def _patch_axis(size: int, k: int, stride: int, rate: int, auto_pad: str) -> tuple[int, int, int]:
    """(output length, pad before, pad after) along one spatial axis."""
    span = (k - 1) * rate + 1
    if auto_pad == "valid":
        return (max(size - span, -1) // stride + 1 if size >= span else 0), 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    small, big = total // 2, total - total // 2
    return out, *((small, big) if auto_pad == "same_upper" else (big, small))


def patches_plan(shape: Sequence[int], sizes, strides, rates, auto_pad):
    """(pad steps, [(row slice, col slice)] per patch position, output shape)."""
    if len(shape) != 4:
        raise ValueError(f"the image must be 4-D [N, C, H, W], got shape {tuple(shape)}")
    n, c, h, w = shape
    (oh, pt, pb), (ow, pl, pr) = (_patch_axis(d, k, s, r, auto_pad)
                                  for d, k, s, r in zip((h, w), sizes, strides, rates))
    steps = pad_plan(shape, (0, 0, pt, pl), (0, 0, pb, pr), "constant")
    windows = [(slice(i * rates[0], i * rates[0] + (oh - 1) * strides[0] + 1, strides[0]),
                slice(j * rates[1], j * rates[1] + (ow - 1) * strides[1] + 1, strides[1]))
               for i in range(sizes[0]) for j in range(sizes[1])]
    return steps, windows, (n, c * sizes[0] * sizes[1], oh, ow)


def _extract_patches(xp, x, plan):
    steps, windows, out = plan
    if 0 in out:
        return xp.zeros(out, dtype=x.dtype)
    y = apply_pad(xp, x, steps, xp.zeros((), dtype=x.dtype))
    parts = [y[:, :, r, c] for r, c in windows]
    return xp.reshape(xp.stack(parts, axis=1), out)


@register
class ExtractImagePatches(OpDef):
    type_name, version, opset = "ExtractImagePatches", 3, "opset3"
    attrs = (Attr("sizes", "ints"), Attr("strides", "ints"), Attr("rates", "ints"),
             Attr("auto_pad", "str", choices=("valid", "same_upper", "same_lower")))

    @classmethod
    def check_attrs(cls, attrs, node):
        for name in ("sizes", "strides", "rates"):
            v = attrs[name]
            if len(v) != 2 or any(i < 1 for i in v):
                raise OpAttributeError(f"{where(node)}: attribute '{name}' must hold 2 positive values, got {v}")

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        a = node.attrs
        if not ps.rank_is_static:
            return [(t, PartialShape([Dimension()] * 4))]
        if len(ps) != 4:
            raise ShapeInferenceError(f"{where(node)}: the image must be 4-D [N, C, H, W], got {ps}")
        n, c, h, w = ps
        k = a["sizes"][0] * a["sizes"][1]
        sp = [Dimension(_patch_axis(d.get_length(), s, st, r, a["auto_pad"])[0]) if d.is_static else Dimension()
              for d, s, st, r in zip((h, w), a["sizes"], a["strides"], a["rates"])]
        return [(t, PartialShape([n, c * k if c.is_static else Dimension(), *sp]))]

    @staticmethod
    def compute(xp, image, sizes, strides, rates, auto_pad):
        return _extract_patches(xp, image, patches_plan(shape_of(image), sizes, strides, rates, auto_pad))

    @classmethod
    def kernel(cls, xp, node):
        ps, a = node.input_shape(0), node.attrs
        if ps.is_static:
            plan = patches_plan(ps.to_shape(), a["sizes"], a["strides"], a["rates"], a["auto_pad"])
            return lambda x: _extract_patches(xp, x, plan)
        return super().kernel(xp, node)


# --- ReorgYolo ----------------------------------------------------------------------------------


def reorg_plan(shape: Sequence[int], stride: int):
    """``("permute", split shape, permutation, output shape)`` or ``("take", flat source index, output
    shape)``: the darknet reorg that ReorgYolo computes."""
    if len(shape) != 4:
        raise ValueError(f"the input must be 4-D [N, C, H, W], got shape {tuple(shape)}")
    n, c, h, w = shape
    s2 = stride * stride
    if c < s2:
        raise ValueError(f"channels {c} must be at least stride^2 = {s2}")
    if h % stride or w % stride:
        raise ValueError(f"height {h} and width {w} must be divisible by stride {stride}")
    out = (n, c * s2, h // stride, w // stride)
    if c % s2 == 0:
        # the input read as [N, C / s^2, H, s, W, s] and written as [N, s, s, C / s^2, H, W]
        return "permute", (n, c // s2, h, stride, w, stride), (0, 3, 5, 1, 2, 4), out
    # OpenVINO's loop when C is not a multiple of s^2: output [n, c, h, w] (read as the input's
    # shape) copies the input [n, c % C', h*s + q // s, w*s + q % s] of shape [N, C', H*s, W*s],
    # where C' = C // s^2 and q = c // C'
    cp = c // s2
    ni, ci, hi, wi = np.indices((n, c, h, w), dtype=np.int64)
    q = ci // cp
    idx = (((ni * cp + ci % cp) * h * stride + hi * stride + q // stride) * w * stride + wi * stride + q % stride)
    idx = idx.reshape(-1)
    if idx.size and int(idx.max()) >= n * c * h * w:
        raise ValueError(f"shape {tuple(shape)} with stride {stride} reads past the input")
    return "take", idx, out


def _reorg(xp, x, plan, idx=None):
    if plan[0] == "permute":
        _, split, perm, out = plan
        return xp.reshape(xp.permute_dims(xp.reshape(x, split), perm), out)
    _, flat, out = plan
    idx = xp.asarray(flat) if idx is None else idx
    return xp.reshape(xp.take(xp.reshape(x, (-1,)), idx, axis=0), out)


@register
class ReorgYolo(OpDef):
    type_name, version, opset = "ReorgYolo", 0, "opset2"
    attrs = (Attr("stride", "ints"),)

    @classmethod
    def check_attrs(cls, attrs, node):
        v = attrs["stride"]
        if len(v) not in (1, 2) or any(s < 1 for s in v) or len(set(v)) != 1:
            raise OpAttributeError(f"{where(node)}: attribute 'stride' must be one positive value, got {v}")

    @classmethod
    def infer(cls, node):
        t, ps = node.input_type(0), node.input_shape(0)
        s = node.attrs["stride"][0]
        if not ps.rank_is_static:
            return [(t, PartialShape([Dimension()] * 4))]
        if len(ps) != 4:
            raise ShapeInferenceError(f"{where(node)}: the input must be 4-D [N, C, H, W], got {ps}")
        if ps.is_static:
            try:
                return [(t, PartialShape(reorg_plan(ps.to_shape(), s)[2]))]
            except ValueError as exc:
                raise ShapeInferenceError(f"{where(node)}: {exc}") from None
        n, c, h, w = ps
        sp = [Dimension(d.get_length() // s) if d.is_static else Dimension() for d in (h, w)]
        return [(t, PartialShape([n, c * (s * s) if c.is_static else Dimension(), *sp]))]

    @staticmethod
    def compute(xp, x, stride):
        return _reorg(xp, x, reorg_plan(shape_of(x), stride[0]))

    @classmethod
    def kernel(cls, xp, node):
        ps = node.input_shape(0)
        if ps.is_static:
            plan = reorg_plan(ps.to_shape(), node.attrs["stride"][0])
            idx = xp.asarray(plan[1]) if plan[0] == "take" else None
            return lambda x: _reorg(xp, x, plan, idx)
        return super().kernel(xp, node)


# --- factories ----------------------------------------------------------------------------------


@factory
def batch_to_space(data, block_shape, crops_begin, crops_end, name: str | None = None) -> Node:
    return make("BatchToSpace", [data, block_shape, crops_begin, crops_end], {}, name)


@factory
def space_to_batch(data, block_shape, pads_begin, pads_end, name: str | None = None) -> Node:
    return make("SpaceToBatch", [data, block_shape, pads_begin, pads_end], {}, name)


@factory
def extract_image_patches(image, sizes, strides, rates, auto_pad: str, name: str | None = None) -> Node:
    return make("ExtractImagePatches", [image],
                {"sizes": sizes, "strides": strides, "rates": rates, "auto_pad": auto_pad}, name)


@factory
def reorg_yolo(input, stride, name: str | None = None) -> Node:  # noqa: A002 - OpenVINO's argument name
    return make("ReorgYolo", [input], {"stride": stride}, name)
