"""Detection and sampling ops: NonMaxSuppression (v1, v3, v4, v5, v9), ROIAlign (v3, v9), GridSample (v9),
DeformableConvolution (v1, v8) and Col2Im (v15); and arrayrt extensions for ONNX's forms OpenVINO
lacks: ROIAlignCornerMax (RoiAlign's max mode), GridSampleND and Col2ImND (volumetric).

Samplers gather the bilinear taps (or the nearest / sixteen bicubic ones) of every sampling point
from the flattened spatial axes with ``take``/``take_along_axis`` and weight them; ROIAlign's
separable grid is two interpolation matrices around a matmul. One compute serves every array
library. Non-maximum suppression is greedy and sequential by nature: one
small vectorised step per selected box.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import as_int_tuple, dtype_of, to_numpy
from arrayrt.ir.ops.base import EXTENSION_OPSET, Attr, OpDef, register
from arrayrt.ir.ops.conv import (
    PAD_TYPES,
    dilated,
    grouped_conv_backprop,
    interval,
    iv_add,
    iv_floordiv,
    iv_sub,
    resolve_pads,
    to_dim,
)
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where


def _check_real(node, i: int, name: str) -> Type:
    t = node.input_type(i)
    if t.is_static and not t.is_real:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be floating, got {t}")
    return t


def _check_rank(node, i: int, name: str, rank: int) -> PartialShape:
    s = node.input_shape(i)
    if s.rank_is_static and len(s) != rank:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must have rank {rank}, got {s}")
    return s if s.rank_is_static else PartialShape.dynamic(rank)


def _scalar_value(v, cast=float):
    return cast(to_numpy(v).reshape(-1)[0])


# --- NonMaxSuppression --------------------------------------------------------------------------------
def _corners(xp, boxes, center: bool):
    """``[..., 4]`` boxes as (y1, x1, y2, x2) with y1 <= y2 and x1 <= x2."""
    if center:
        xc, yc, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
        return yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    y1, x1, y2, x2 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return xp.minimum(y1, y2), xp.minimum(x1, x2), xp.maximum(y1, y2), xp.maximum(x1, x2)


def _iou(xp, c, i: int):
    """IoU of box ``i`` with every box (0 where either box is empty)."""
    y1, x1, y2, x2 = c
    area = (y2 - y1) * (x2 - x1)
    iy = xp.clip(xp.minimum(y2, y2[i]) - xp.maximum(y1, y1[i]), 0, None)
    ix = xp.clip(xp.minimum(x2, x2[i]) - xp.maximum(x1, x1[i]), 0, None)
    inter = iy * ix
    union = area + area[i] - inter
    ok = (area > 0) & (area[i] > 0)
    return xp.where(ok, inter / xp.where(ok, union, xp.ones_like(union)), xp.zeros_like(inter))


def nms_select(xp, corners, scores, max_out: int, iou_thr: float, score_thr: float, sigma: float,
               hard_at_equal: bool) -> list[tuple[int, float]]:
    """Greedy selection for one batch and class: the (box, score) pairs in selection order.

    The highest (decayed) score wins, the lower index on ties. Without soft-NMS (``sigma`` 0) boxes
    whose IoU with a selected one exceeds ``iou_thr`` (or equals it, ``hard_at_equal``) are dropped;
    with it (NMS-9) every remaining score decays by ``exp(-0.5 iou^2 / sigma)`` instead, and (NMS-5)
    only boxes at or under the IoU threshold decay, the others are dropped."""
    neg = -math.inf
    cur = xp.where(scores > score_thr, scores, xp.full(scores.shape, neg, dtype=scores.dtype))
    out: list[tuple[int, float]] = []
    scale = -0.5 / sigma if sigma > 0 else 0.0
    while len(out) < max_out:
        i = int(xp.argmax(cur))
        best = float(cur[i])
        if best == neg:
            break
        out.append((i, best))
        iou = _iou(xp, corners, i)
        if sigma > 0:
            decayed = cur * xp.exp(scale * iou * iou)
            if hard_at_equal:
                decayed = xp.where(iou >= iou_thr, xp.full(cur.shape, neg, dtype=cur.dtype), decayed)
            cur = xp.where(decayed > score_thr, decayed, xp.full(cur.shape, neg, dtype=cur.dtype))
        else:
            drop = (iou >= iou_thr) if hard_at_equal else (iou > iou_thr)
            cur = xp.where(drop, xp.full(cur.shape, neg, dtype=cur.dtype), cur)
        cur = xp.where(xp.arange(cur.shape[0]) == i, xp.full(cur.shape, neg, dtype=cur.dtype), cur)
    return out


def nms_array(xp, boxes, scores, max_out: int, iou_thr: float, score_thr: float, sigma: float,
                        center: bool, sort_desc: bool, hard_at_equal: bool, index_dtype):
    """(selected_indices [k, 3], selected_scores [k, 3], valid_outputs [1])."""
    n_batch, n_class = scores.shape[0], scores.shape[1]
    rows: list[tuple[int, int, int, float]] = []
    for b in range(n_batch):
        corners = _corners(xp, boxes[b, ...], center)
        for c in range(n_class):
            for i, s in nms_select(xp, corners, scores[b, c, ...], max_out, iou_thr, score_thr, sigma,
                                   hard_at_equal):
                rows.append((b, c, i, s))
    if sort_desc:
        rows.sort(key=lambda r: (-r[3], r[0], r[1], r[2]))
    k = len(rows)
    idx = xp.reshape(xp.asarray([v for r in rows for v in r[:3]], dtype=index_dtype), (k, 3))
    sc_rows = [v for r in rows for v in (float(r[0]), float(r[1]), r[3])]
    sc = xp.reshape(xp.asarray(sc_rows, dtype=scores.dtype), (k, 3))
    return idx, sc, xp.asarray([k], dtype=index_dtype)


class _NMSBase(OpDef):
    """Boxes ``[B, N, 4]``, scores ``[B, C, N]``, optional scalars max_output_boxes_per_class (0),
    iou_threshold (0), score_threshold (0), soft_nms_sigma (0). Outputs the selected (batch, class,
    box) triples, their (batch, class, score) and the count; ``sort_result_descending`` orders them
    by score across batches and classes, else by batch, class and selection order."""

    attrs = (Attr("box_encoding", "str", "corner", choices=("corner", "center")),
             Attr("sort_result_descending", "bool", True), Attr("output_type", "type", Type.i64))
    n_inputs = (2, 6)
    n_outputs = 3
    foldable = False
    hard_at_equal = False

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["output_type"] not in (Type.i32, Type.i64):
            raise OpAttributeError(f"{where(node)}: attribute 'output_type' must be i32 or i64, "
                                   f"got {attrs['output_type']}")

    @classmethod
    def infer(cls, node):
        t = _check_real(node, 0, "boxes")
        _check_real(node, 1, "scores")
        boxes = _check_rank(node, 0, "boxes", 3)
        scores = _check_rank(node, 1, "scores", 3)
        if not boxes[2].compatible(4):
            raise ShapeInferenceError(f"{where(node)}: input 0 (boxes) must have 4 values per box, "
                                      f"got {boxes}")
        if not boxes[0].compatible(scores[0]) or not boxes[1].compatible(scores[2]):
            raise ShapeInferenceError(f"{where(node)}: boxes {boxes} and scores {scores} disagree on the "
                                      f"batch or box count")
        for i in range(2, node.get_input_size()):
            s = node.input_shape(i)
            if s.rank_is_static and not (len(s) == 0 or (len(s) == 1 and s[0].compatible(1))):
                raise ShapeInferenceError(f"{where(node)}: input {i} must be a scalar, got {s}")
        it = node.attrs["output_type"]
        hi = None
        limit = node.input_const(2) if node.get_input_size() > 2 else 0
        dims = [boxes[0].merge(scores[0]), scores[1], boxes[1].merge(scores[2])]
        if limit is not None and all(d.is_static for d in dims):
            b, c, n = (d.get_length() for d in dims)
            hi = b * c * min(n, max(_scalar_value(limit, int), 0))
        count = Dimension(0, hi) if hi is not None else Dimension()
        st = t if t.is_static else Type.f32
        return [(it, PartialShape([count, 3])), (st, PartialShape([count, 3])), (it, PartialShape([1]))]

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        center, desc = a["box_encoding"] == "center", a["sort_result_descending"]
        it = dtype_of(xp, a["output_type"])
        defaults = (0, 0.0, 0.0, 0.0)

        def run(boxes, scores, *extra):
            vals = [_scalar_value(v, int if k == 0 else float) for k, v in enumerate(extra)]
            vals += list(defaults[len(vals):])
            return nms_array(xp, boxes, scores, max(vals[0], 0), vals[1], vals[2], vals[3], center,
                                       desc, cls.hard_at_equal, it)

        return run


class _NMSStaticBase(_NMSBase):
    """NMS-1/3/4: one output of static shape, the selection truncated to it or padded with -1 rows
    (as the spec says; OpenVINO's CPU plugin returns only the selected rows). Suppression at an IoU
    equal to the threshold, as NMS-5."""

    n_inputs = (2, 5)
    n_outputs = 1
    hard_at_equal = True

    @classmethod
    def rows(cls, batch: int, classes: int, boxes: int, limit: int) -> int:
        """Rows of the output (v1 and v3: ``min(boxes, limit * classes)``)."""
        return min(boxes, limit * classes)

    @classmethod
    def infer(cls, node):
        it = super().infer(node)[0][0]
        boxes, scores = node.input_shape(0), node.input_shape(1)
        limit = node.input_const(2) if node.get_input_size() > 2 else 0
        dims = [boxes[0].merge(scores[0]), scores[1], boxes[1].merge(scores[2])]
        if limit is None or not all(d.is_static for d in dims):
            return [(it, PartialShape([Dimension(), 3]))]
        rows = cls.rows(*(d.get_length() for d in dims), max(_scalar_value(limit, int), 0))
        return [(it, PartialShape([rows, 3]))]

    @classmethod
    def kernel(cls, xp, node):
        run = super().kernel(xp, node)
        rows = node.output(0).get_partial_shape()[0]

        def static(boxes, scores, *extra):
            idx = run(boxes, scores, *extra)[0]
            total = rows.get_length() if rows.is_static else cls.rows(
                scores.shape[0], scores.shape[1], boxes.shape[1],
                max(_scalar_value(extra[0], int), 0) if extra else 0)
            idx = idx[:total, ...]
            fill = xp.full((total - idx.shape[0], 3), -1, dtype=idx.dtype)
            return xp.concat([idx, fill], axis=0)

        return static


@register
class NonMaxSuppression_1(_NMSStaticBase):
    type_name, version, opset = "NonMaxSuppression", 1, "opset1"
    attrs = _NMSBase.attrs[:2]

    @classmethod
    def check_attrs(cls, attrs, node):
        attrs["output_type"] = Type.i64


@register
class NonMaxSuppression_3(_NMSStaticBase):
    type_name, version, opset = "NonMaxSuppression", 3, "opset3"


@register
class NonMaxSuppression_4(_NMSStaticBase):
    """NMS-4: ``batch * classes * min(boxes, limit)`` output rows."""

    type_name, version, opset = "NonMaxSuppression", 4, "opset4"

    @classmethod
    def rows(cls, batch: int, classes: int, boxes: int, limit: int) -> int:
        return batch * classes * min(boxes, limit)


@register
class NonMaxSuppression_5(_NMSBase):
    """NMS-5: a box whose IoU with a selected one reaches the threshold is suppressed (IoU >=)."""

    type_name, version, opset = "NonMaxSuppression", 5, "opset5"
    hard_at_equal = True


@register
class NonMaxSuppression(_NMSBase):
    """NMS-9: suppression above the threshold (IoU >); soft-NMS decays scores without dropping boxes."""

    type_name, version, opset = "NonMaxSuppression", 9, "opset9"


# --- ROIAlign -----------------------------------------------------------------------------------------------
def _roi_axis_weights(xp, start: float, size: float, bins: int, ratio: int, length: int, dt):
    """Interpolation matrices ``[bins * ratio, length]`` of the sampling points along one axis, one
    for the lower and one for the upper neighbour (bilinear weights); points beyond
    ``(-1, length)`` weigh nothing."""
    bin_size = size / bins
    k = xp.arange(bins * ratio, dtype=dt)
    bin_index = xp.floor(k / ratio)
    pos = start + bin_index * bin_size + (k - bin_index * ratio + 0.5) * (bin_size / ratio)
    outside = (pos < -1.0) | (pos > float(length))
    pos = xp.clip(pos, 0.0, None)
    low = xp.astype(xp.floor(pos), xp.int64)
    at_end = low >= length - 1
    low = xp.where(at_end, xp.full(low.shape, length - 1, dtype=xp.int64), low)
    high = xp.where(at_end, low, low + 1)
    pos = xp.where(at_end, xp.astype(low, dt), pos)
    frac = pos - xp.astype(low, dt)
    keep = xp.where(outside, xp.zeros_like(frac), xp.ones_like(frac))
    grid = xp.reshape(xp.arange(length, dtype=xp.int64), (1, length))
    lw = xp.reshape((1.0 - frac) * keep, (-1, 1))
    hw = xp.reshape(frac * keep, (-1, 1))
    return (xp.where(xp.reshape(low, (-1, 1)) == grid, lw, xp.zeros_like(lw)),
            xp.where(xp.reshape(high, (-1, 1)) == grid, hw, xp.zeros_like(hw)))


def roi_align_array(xp, data, rois, batch_indices, pooled_h: int, pooled_w: int, sampling_ratio: int,
                    spatial_scale: float, mode: str, aligned_mode: str):
    """ROIAlign per OpenVINO's reference: each bin averages (or takes the max, from 0, of) its
    ``ratio x ratio`` bilinearly interpolated samples; the sampling grid is separable, so the samples
    of a ROI are ``Wy @ feature @ Wx^T``. Mode ``corner_max`` (ONNX's max mode) takes the max over
    the samples of the largest of each sample's four weighted neighbours instead."""
    dt = data.dtype
    wide = xp.float32 if dt != xp.float64 else xp.float64
    feats = xp.astype(data, wide)
    n_rois = rois.shape[0]
    c, h, w = data.shape[1], data.shape[2], data.shape[3]
    shifts = {"asymmetric": (0.0, 0.0), "half_pixel_for_nn": (0.0, -0.5), "half_pixel": (0.5, -0.5)}
    src, dst = shifts[aligned_mode]
    aligned = aligned_mode != "asymmetric"
    boxes = to_numpy(rois).astype("float64").reshape(n_rois, 4)
    owners = as_int_tuple(batch_indices)
    outs = []
    for r in range(n_rois):
        x1, y1, x2, y2 = ((float(v) + src) * spatial_scale + dst for v in boxes[r])
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        ry = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / pooled_h))
        rx = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / pooled_w))
        if ry == 0 or rx == 0:
            outs.append(xp.zeros((c, pooled_h, pooled_w), dtype=wide))
            continue
        wys = _roi_axis_weights(xp, y1, rh, pooled_h, ry, h, wide)
        wxs = _roi_axis_weights(xp, x1, rw, pooled_w, rx, w, wide)
        feat = feats[owners[r], ...]
        if mode == "corner_max":
            corners = [xp.matmul(xp.matmul(wy, feat), xp.permute_dims(wx, (1, 0)))
                       for wy in wys for wx in wxs]
            samples = xp.reshape(xp.max(xp.stack(corners, axis=0), axis=0), (c, pooled_h, ry, pooled_w, rx))
            outs.append(xp.max(samples, axis=(2, 4)))
            continue
        wy, wx = wys[0] + wys[1], wxs[0] + wxs[1]
        samples = xp.matmul(xp.matmul(wy, feat), xp.permute_dims(wx, (1, 0)))
        samples = xp.reshape(samples, (c, pooled_h, ry, pooled_w, rx))
        if mode == "max":
            pooled = xp.clip(xp.max(samples, axis=(2, 4)), 0.0, None)
        else:
            pooled = xp.sum(samples, axis=(2, 4)) / (ry * rx)
        outs.append(pooled)
    if not outs:
        return xp.zeros((0, c, pooled_h, pooled_w), dtype=dt)
    return xp.astype(xp.stack(outs, axis=0), dt)


class _ROIAlignBase(OpDef):
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        t = _check_real(node, 0, "data")
        _check_real(node, 1, "rois")
        bt = node.input_type(2)
        if bt.is_static and not bt.is_integral_number:
            raise ShapeInferenceError(f"{where(node)}: input 2 (batch_indices) must be an integer, got {bt}")
        data = _check_rank(node, 0, "data", 4)
        rois = _check_rank(node, 1, "rois", 2)
        idx = _check_rank(node, 2, "batch_indices", 1)
        if not rois[1].compatible(4):
            raise ShapeInferenceError(f"{where(node)}: input 1 (rois) must be [num_rois, 4], got {rois}")
        if not rois[0].compatible(idx[0]):
            raise ShapeInferenceError(f"{where(node)}: rois {rois} and batch_indices {idx} disagree on "
                                      f"num_rois")
        a = node.attrs
        for name in ("pooled_h", "pooled_w"):
            if a[name] <= 0:
                raise OpAttributeError(f"{where(node)}: attribute '{name}' must be positive, got {a[name]}")
        if a["sampling_ratio"] < 0 or a["spatial_scale"] <= 0:
            raise OpAttributeError(f"{where(node)}: 'sampling_ratio' must be >= 0 and 'spatial_scale' > 0")
        return [(t, PartialShape([rois[0].merge(idx[0]), data[1], a["pooled_h"], a["pooled_w"]]))]

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        args = (a["pooled_h"], a["pooled_w"], a["sampling_ratio"], a["spatial_scale"], a["mode"],
                a.get("aligned_mode", "asymmetric"))
        return lambda data, rois, idx: roi_align_array(xp, data, rois, idx, *args)


_ROI_COMMON = (Attr("pooled_h", "int"), Attr("pooled_w", "int"), Attr("sampling_ratio", "int"),
               Attr("spatial_scale", "float32"), Attr("mode", "str", choices=("avg", "max")))


@register
class ROIAlign_3(_ROIAlignBase):
    type_name, version, opset = "ROIAlign", 3, "opset3"
    attrs = _ROI_COMMON


@register
class ROIAlign(_ROIAlignBase):
    """ROIAlign-9: adds ``aligned_mode`` (half_pixel shifts the ROI by half a pixel both ways and
    drops the minimum ROI size of 1)."""

    type_name, version, opset = "ROIAlign", 9, "opset9"
    attrs = _ROI_COMMON + (Attr("aligned_mode", "str", "asymmetric",
                                choices=("asymmetric", "half_pixel_for_nn", "half_pixel")),)


@register
class ROIAlignCornerMax(ROIAlign):
    """ROIAlign whose bins take, over their samples, the largest of each sample's four weighted
    neighbours (ONNX RoiAlign's max mode, as its reference and onnxruntime compute it). An arrayrt
    extension: OpenVINO's max mode takes the max of the interpolated samples."""

    type_name, version, opset = "ROIAlignCornerMax", 1, EXTENSION_OPSET
    attrs = _ROI_COMMON[:4] + (Attr("aligned_mode", "str", "asymmetric",
                                    choices=("asymmetric", "half_pixel_for_nn", "half_pixel")),)

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        args = (a["pooled_h"], a["pooled_w"], a["sampling_ratio"], a["spatial_scale"], "corner_max",
                a["aligned_mode"])
        return lambda data, rois, idx: roi_align_array(xp, data, rois, idx, *args)


# --- GridSample ------------------------------------------------------------------------------------------
def _unnormalize(xp, g, size: int, align: bool):
    return (g + 1.0) * ((size - 1) / 2.0) if align else ((g + 1.0) * size - 1.0) / 2.0


def _reflect(xp, x, lo: float, hi: float):
    """Reflect ``x`` into ``[lo, hi]`` (mirroring at both ends, as often as needed)."""
    span = hi - lo
    if span <= 0:
        return xp.zeros_like(x)
    d = xp.abs(x - lo)
    flips = xp.floor(d / span)
    extra = d - flips * span
    even = (flips % 2) == 0
    return xp.where(even, lo + extra, hi - extra)


def _pad_coord(xp, x, size: int, padding: str, align: bool):
    """Source coordinate after border clamping or reflection (zeros padding leaves it)."""
    if padding == "reflection":
        x = _reflect(xp, x, 0.0, size - 1.0) if align else _reflect(xp, x, -0.5, size - 0.5)
        return xp.clip(x, 0.0, size - 1.0)
    if padding == "border":
        return xp.clip(x, 0.0, size - 1.0)
    return x


def _cubic_weights(t, a: float = -0.75):
    """Weights of the taps at -1, 0, 1, 2 for fractional offset ``t`` (Keys' cubic convolution)."""
    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def grid_sample_array(xp, data, grid, align: bool, mode: str, padding: str):
    """``data [N, C, *S]`` sampled at ``grid [N, *O, k]`` (normalised coordinates in [-1, 1], x
    first, i.e. the last spatial axis first) -> ``[N, C, *O]``. Bicubic is 2-D only."""
    dt = data.dtype
    wide = xp.float64 if dt == xp.float64 else xp.float32
    n, c = data.shape[0], data.shape[1]
    sizes = tuple(data.shape[2:])
    k = len(sizes)
    strides = [math.prod(sizes[a + 1:]) for a in range(k)]
    out = []
    for b in range(n):
        flat = xp.reshape(xp.astype(data[b, ...], wide), (c, math.prod(sizes)))
        coords = [_unnormalize(xp, xp.astype(grid[b, ..., k - 1 - a], wide), sizes[a], align)
                  for a in range(k)]

        def tap(idx, weight, clamp=False):
            inside = None
            flat_idx = None
            for a, (i, size) in enumerate(zip(idx, sizes)):
                if clamp:  # bicubic with border/reflection pads each tap's coordinate
                    i = xp.astype(_pad_coord(xp, xp.astype(i, wide), size, padding, align), xp.int64)
                ok = (i >= 0) & (i < size)
                inside = ok if inside is None else inside & ok
                term = xp.clip(i, 0, size - 1) * strides[a]
                flat_idx = term if flat_idx is None else flat_idx + term
            shape = tuple(flat_idx.shape)
            v = xp.reshape(xp.take(flat, xp.reshape(flat_idx, (-1,)), axis=1), (c,) + shape)
            return v * xp.where(inside, weight, xp.zeros_like(weight))

        if mode == "nearest":
            coords = [_pad_coord(xp, g, size, padding, align) for g, size in zip(coords, sizes)]
            out.append(tap([xp.astype(xp.round(g), xp.int64) for g in coords], xp.ones_like(coords[0])))
            continue
        if mode == "bicubic":
            floors = [xp.floor(g) for g in coords]
            weights = [_cubic_weights(g - f) for g, f in zip(coords, floors)]
            first, clamp = -1, padding != "zeros"
        else:
            coords = [_pad_coord(xp, g, size, padding, align) for g, size in zip(coords, sizes)]
            floors = [xp.floor(g) for g in coords]
            weights = [(1 - (g - f), g - f) for g, f in zip(coords, floors)]
            first, clamp = 0, False
        base = [xp.astype(f, xp.int64) + first for f in floors]
        acc = None
        for combo in itertools.product(range(len(weights[0])), repeat=k):
            weight = None
            for a, j in enumerate(combo):
                weight = weights[a][j] if weight is None else weight * weights[a][j]
            t = tap([bi + j for bi, j in zip(base, combo)], weight, clamp)
            acc = t if acc is None else acc + t
        out.append(acc)
    return xp.astype(xp.stack(out, axis=0), dt)


def _infer_grid_sample(node, spatial: int | None):
    t = _check_real(node, 0, "data")
    _check_real(node, 1, "grid")
    data, grid = node.input_shape(0), node.input_shape(1)
    if spatial is not None:
        data = _check_rank(node, 0, "data", spatial + 2)
        grid = _check_rank(node, 1, "grid", spatial + 2)
    if not data.rank_is_static or not grid.rank_is_static:
        return [(t, PartialShape.dynamic())]
    k = len(data) - 2
    if len(grid) != k + 2 or not grid[-1].compatible(k):
        raise ShapeInferenceError(f"{where(node)}: input 1 (grid) must be [N, *out, {k}] for data {data}, "
                                  f"got {grid}")
    if not data[0].compatible(grid[0]):
        raise ShapeInferenceError(f"{where(node)}: data {data} and grid {grid} disagree on the batch")
    return [(t, PartialShape([data[0].merge(grid[0]), data[1], *list(grid)[1:-1]]))]


_GRID_ATTRS = (Attr("align_corners", "bool", False),
               Attr("mode", "str", "bilinear", choices=("bilinear", "bicubic", "nearest")),
               Attr("padding_mode", "str", "zeros", choices=("zeros", "border", "reflection")))


@register
class GridSample(OpDef):
    """Data ``[N, C, H, W]`` at the normalised points of ``grid [N, Ho, Wo, 2]`` (x, y)."""

    type_name, version, opset = "GridSample", 9, "opset9"
    attrs = _GRID_ATTRS
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        return _infer_grid_sample(node, 2)

    @staticmethod
    def compute(xp, data, grid, align_corners, mode, padding_mode):
        return grid_sample_array(xp, data, grid, align_corners, mode, padding_mode)


@register
class GridSampleND(GridSample):
    """GridSample over any number of spatial axes (ONNX's volumetric GridSample; bilinear means
    N-linear, bicubic needs 2 axes). An arrayrt extension: OpenVINO's GridSample is 2-D."""

    type_name, version, opset = "GridSampleND", 1, EXTENSION_OPSET

    @classmethod
    def infer(cls, node):
        out = _infer_grid_sample(node, None)
        s = node.input_shape(0)
        if node.attrs["mode"] == "bicubic" and s.rank_is_static and len(s) != 4:
            raise ShapeInferenceError(f"{where(node)}: bicubic sampling needs 2 spatial axes, got data {s}")
        return out


# --- DeformableConvolution -------------------------------------------------------------------------------
def _deformed_columns(xp, data, offsets, mask, kernel: Sequence[int], strides, dilations, pads_begin, out,
                      deformable_groups: int, pad_taps: bool):
    """Bilinearly sampled input ``[N, C, K, Ho, Wo]`` at the offset kernel taps of every output
    position, times the mask. ``pad_taps``: points within one pixel outside interpolate with zeros
    (else points outside ``[0, size)`` give 0 and taps clamp to the edge)."""
    n, c, h, w = data.shape
    kh, kw = kernel
    ho, wo = out
    k = kh * kw
    dg = deformable_groups
    wide = xp.float64 if data.dtype == xp.float64 else xp.float32
    off = xp.reshape(xp.astype(offsets, wide), (n, dg, k, 2, ho, wo))
    taps = xp.arange(k, dtype=xp.int64)
    tap_y = xp.reshape(xp.astype(taps // kw, wide), (1, 1, k, 1, 1))
    tap_x = xp.reshape(xp.astype(taps % kw, wide), (1, 1, k, 1, 1))
    base_y = (xp.reshape(xp.arange(ho, dtype=wide), (1, 1, 1, ho, 1)) * strides[0] - pads_begin[0]
              + tap_y * dilations[0])
    base_x = (xp.reshape(xp.arange(wo, dtype=wide), (1, 1, 1, 1, wo)) * strides[1] - pads_begin[1]
              + tap_x * dilations[1])
    y = base_y + off[:, :, :, 0, ...]  # [N, DG, K, Ho, Wo]
    x = base_x + off[:, :, :, 1, ...]
    zero = xp.zeros_like(y)
    if pad_taps:
        valid = (y > -1.0) & (y < float(h)) & (x > -1.0) & (x < float(w))
        y0, x0 = xp.floor(y), xp.floor(x)
        y1, x1 = y0 + 1, x0 + 1
    else:
        valid = (y >= 0.0) & (y < float(h)) & (x >= 0.0) & (x < float(w))
        y0, x0 = xp.floor(xp.clip(y, 0.0, None)), xp.floor(xp.clip(x, 0.0, None))
        y1, x1 = xp.clip(xp.ceil(y), None, h - 1.0), xp.clip(xp.ceil(x), None, w - 1.0)
    ty, tx = y - y0, x - x0
    scale = xp.where(valid, xp.ones_like(y), zero)
    if mask is not None:
        scale = scale * xp.reshape(xp.astype(mask, wide), (n, dg, k, ho, wo))
    per_group = c // dg
    flat = xp.reshape(xp.astype(data, wide), (n, dg, per_group, h * w))
    total = None
    for yy, xx, wgt in ((y0, x0, (1 - ty) * (1 - tx)), (y0, x1, (1 - ty) * tx), (y1, x0, ty * (1 - tx)),
                        (y1, x1, ty * tx)):
        inside = (yy >= 0) & (yy <= h - 1.0) & (xx >= 0) & (xx <= w - 1.0)
        weight = xp.where(inside, wgt * scale, zero)
        idx = xp.astype(xp.clip(yy, 0.0, h - 1.0) * w + xp.clip(xx, 0.0, w - 1.0), xp.int64)
        idx = xp.reshape(idx, (n, dg, 1, k * ho * wo))
        idx = xp.broadcast_to(idx, (n, dg, per_group, k * ho * wo))
        vals = xp.take_along_axis(flat, idx, axis=3)  # [N, DG, C/DG, K*Ho*Wo]
        term = xp.reshape(vals, (n, dg, per_group, k, ho, wo)) * xp.reshape(weight, (n, dg, 1, k, ho, wo))
        total = term if total is None else total + term
    return xp.reshape(total, (n, c, k, ho, wo))


def deformable_conv_array(xp, data, offsets, filters, mask, strides, dilations, pads_begin, pads_end,
                          auto_pad, group: int, deformable_group: int, pad_taps: bool):
    kernel = tuple(filters.shape[2:])
    pb, pe = resolve_pads(auto_pad, data.shape[2:], kernel, strides, dilations, pads_begin, pads_end)
    out = [(s + b + e - dilated(k, d)) // st + 1
           for s, b, e, k, d, st in zip(data.shape[2:], pb, pe, kernel, dilations, strides)]
    cols = _deformed_columns(xp, data, offsets, mask, kernel, strides, dilations, pb, out, deformable_group,
                             pad_taps)
    n, c = data.shape[0], data.shape[1]
    k = kernel[0] * kernel[1]
    o = filters.shape[0]
    cols = xp.reshape(cols, (n, group, (c // group) * k, out[0] * out[1]))
    wts = xp.reshape(xp.astype(filters, cols.dtype), (group, o // group, (c // group) * k))
    y = xp.matmul(wts, cols)  # [N, G, O/G, Ho*Wo]
    return xp.astype(xp.reshape(y, (n, o, out[0], out[1])), data.dtype)


def _infer_deformable(node, with_mask_input: bool):
    a = node.attrs
    t = _check_real(node, 0, "data")
    data = _check_rank(node, 0, "data", 4)
    offs = _check_rank(node, 1, "offsets", 4)
    filt = _check_rank(node, 2, "filters", 4)
    g, dg = a["group"], a["deformable_group"]
    if g < 1 or dg < 1:
        raise OpAttributeError(f"{where(node)}: 'group' and 'deformable_group' must be >= 1, got {g}, {dg}")
    for name in ("strides", "dilations", "pads_begin", "pads_end"):
        if len(a[name]) != 2:
            raise ShapeInferenceError(f"{where(node)}: attribute '{name}' must have 2 values, got {a[name]}")
    c = data[1]
    if c.is_static and (c.get_length() % g or c.get_length() % dg):
        raise ShapeInferenceError(f"{where(node)}: the {c} data channels are not divisible by group {g} and "
                                  f"deformable_group {dg}")
    if filt[0].is_static and filt[0].get_length() % g:
        raise ShapeInferenceError(f"{where(node)}: the {filt[0]} filters are not divisible by group {g}")
    if c.is_static and filt[1].is_static and filt[1].get_length() * g != c.get_length():
        raise ShapeInferenceError(f"{where(node)}: filters {filt} do not match {c} data channels in {g} "
                                  f"groups")
    if filt[2].is_static and filt[3].is_static and offs[1].is_static:
        want = 2 * dg * filt[2].get_length() * filt[3].get_length()
        if offs[1].get_length() != want:
            raise ShapeInferenceError(f"{where(node)}: input 1 (offsets) needs {want} channels, got {offs}")
    dims = []
    auto = a["auto_pad"]
    for i in range(2):
        d, k = data[2 + i], filt[2 + i]
        if auto in ("same_upper", "same_lower"):
            dims.append(Dimension(-(-d.get_length() // a["strides"][i])) if d.is_static else Dimension())
            continue
        if not k.is_static:
            dims.append(Dimension())
            continue
        pb, pe = (0, 0) if auto == "valid" else (a["pads_begin"][i], a["pads_end"][i])
        kd = dilated(k.get_length(), a["dilations"][i])
        span = iv_sub(iv_add(interval(d), pb + pe), (kd, kd))
        dims.append(to_dim(*iv_add(iv_floordiv(span, a["strides"][i]), 1)))
    out = PartialShape([data[0].merge(offs[0]), filt[0], dims[0].merge(offs[2]), dims[1].merge(offs[3])])
    if with_mask_input and node.get_input_size() > 3:
        m = _check_rank(node, 3, "mask", 4)
        if filt[2].is_static and filt[3].is_static and m[1].is_static and \
                m[1].get_length() != dg * filt[2].get_length() * filt[3].get_length():
            raise ShapeInferenceError(f"{where(node)}: input 3 (mask) needs "
                                      f"{dg * filt[2].get_length() * filt[3].get_length()} channels, got {m}")
    return [(t, out)]


def _deformable_attrs():
    return (Attr("strides", "ints"), Attr("dilations", "ints"), Attr("pads_begin", "ints"),
            Attr("pads_end", "ints"), Attr("auto_pad", "str", "explicit", choices=PAD_TYPES),
            Attr("group", "int", 1), Attr("deformable_group", "int", 1))


@register
class DeformableConvolution_1(OpDef):
    type_name, version, opset = "DeformableConvolution", 1, "opset1"
    attrs = _deformable_attrs()
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        return _infer_deformable(node, False)

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        args = (a["strides"], a["dilations"], a["pads_begin"], a["pads_end"], a["auto_pad"], a["group"],
                a["deformable_group"], False)
        return lambda data, offsets, filters: deformable_conv_array(xp, data, offsets, filters, None, *args)


@register
class DeformableConvolution(OpDef):
    """DeformableConvolution-8: adds the optional modulation ``mask`` input and
    ``bilinear_interpolation_pad``."""

    type_name, version, opset = "DeformableConvolution", 8, "opset8"
    attrs = (Attr("bilinear_interpolation_pad", "bool", False),) + _deformable_attrs()
    n_inputs = (3, 4)

    @classmethod
    def infer(cls, node):
        return _infer_deformable(node, True)

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        args = (a["strides"], a["dilations"], a["pads_begin"], a["pads_end"], a["auto_pad"], a["group"],
                a["deformable_group"], a["bilinear_interpolation_pad"])
        def run(data, offsets, filters, mask=None):
            return deformable_conv_array(xp, data, offsets, filters, mask, *args)

        return run


# --- Col2Im ------------------------------------------------------------------------------------------------
def _col2im_blocks(size: int, kernel: int, stride: int, dilation: int, pb: int, pe: int) -> int:
    return (size + pb + pe - dilated(kernel, dilation)) // stride + 1


def col2im_array(xp, data, output_size, kernel_size, strides, dilations, pads_begin, pads_end):
    """Sum the columns of ``data [N, C * prod(kernel), L]`` back into ``[N, C, *output_size]``: a
    transposed convolution whose one-hot filters put column ``(c, k)`` at kernel tap ``k`` of
    channel ``c``."""
    unbatched = data.ndim == 2
    if unbatched:
        data = xp.reshape(data, (1,) + tuple(data.shape))
    out_size, kernel = as_int_tuple(output_size), as_int_tuple(kernel_size)
    n, ck, length = data.shape
    k = math.prod(kernel)
    c = ck // k
    blocks = [_col2im_blocks(s, kk, st, d, b, e)
              for s, kk, st, d, b, e in zip(out_size, kernel, strides, dilations, pads_begin, pads_end)]
    if math.prod(blocks) != length:
        raise ValueError(f"{length} columns do not match the {blocks} blocks of the output")
    x = xp.reshape(data, (n, c * k, *blocks))
    eye = xp.reshape(xp.eye(k, dtype=data.dtype), (1, k, 1, *kernel))
    wts = xp.broadcast_to(eye, (c, k, 1, *kernel))
    y = grouped_conv_backprop(xp, x, wts, strides, dilations, pads_begin, out_size)
    return y[0, ...] if unbatched else y


def _infer_col2im(node, spatial: int | None):
    a = node.attrs
    lengths = {len(a[name]) for name in ("strides", "dilations", "pads_begin", "pads_end")}
    if len(lengths) != 1 or (spatial is not None and lengths != {spatial}):
        raise ShapeInferenceError(f"{where(node)}: attributes 'strides', 'dilations', 'pads_begin' and "
                                  f"'pads_end' must have {spatial or 'the same number of'} values")
    ns = lengths.pop()
    t = node.input_type(0)
    data = node.input_shape(0)
    if data.rank_is_static and len(data) not in (2, 3):
        raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank 2 or 3, got {data}")
    for i, name in ((1, "output_size"), (2, "kernel_size")):
        ti, si = node.input_type(i), node.input_shape(i)
        if ti.is_static and ti.name not in ("i32", "i64"):
            raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be i32 or i64, got {ti}")
        if si.rank_is_static and (len(si) != 1 or not si[0].compatible(ns)):
            raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must have shape [{ns}], got {si}")
    if not data.rank_is_static:
        return [(t, PartialShape.dynamic())]
    size, kernel = node.input_const(1), node.input_const(2)
    spatial_dims = [Dimension()] * ns if size is None else [Dimension(v) for v in as_int_tuple(size)]
    lead = [data[0]] if len(data) == 3 else []
    ck, cols = data[-2], data[-1]
    ch = Dimension()
    if kernel is not None:
        kk = as_int_tuple(kernel)
        k = math.prod(kk)
        if ck.is_static:
            if ck.get_length() % k:
                raise ShapeInferenceError(f"{where(node)}: the {ck} column rows are not divisible by the "
                                          f"kernel size {k}")
            ch = Dimension(ck.get_length() // k)
        if size is not None and cols.is_static:
            geo = zip(as_int_tuple(size), kk, a["strides"], a["dilations"], a["pads_begin"], a["pads_end"])
            blocks = [_col2im_blocks(*g) for g in geo]
            if math.prod(blocks) != cols.get_length():
                raise ShapeInferenceError(f"{where(node)}: input 0 has {cols} blocks, the output size and "
                                          f"kernel give {math.prod(blocks)}")
    return [(t, PartialShape(lead + [ch] + spatial_dims))]


@register
class Col2Im(OpDef):
    type_name, version, opset = "Col2Im", 15, "opset15"
    attrs = (Attr("strides", "ints", lambda: [1, 1]), Attr("dilations", "ints", lambda: [1, 1]),
             Attr("pads_begin", "ints", lambda: [0, 0]), Attr("pads_end", "ints", lambda: [0, 0]))
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        return _infer_col2im(node, 2)

    @staticmethod
    def compute(xp, data, output_size, kernel_size, strides, dilations, pads_begin, pads_end):
        return col2im_array(xp, data, output_size, kernel_size, strides, dilations, pads_begin, pads_end)


@register
class Col2ImND(Col2Im):
    """Col2Im over any number of spatial axes (ONNX's Col2Im; the attributes give one value per
    axis). An arrayrt extension: OpenVINO's Col2Im is 2-D."""

    type_name, version, opset = "Col2ImND", 1, EXTENSION_OPSET
    attrs = (Attr("strides", "ints"), Attr("dilations", "ints"), Attr("pads_begin", "ints"),
             Attr("pads_end", "ints"))

    @classmethod
    def infer(cls, node):
        return _infer_col2im(node, None)


# --- factories --------------------------------------------------------------------------------
@factory
def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None,
                        score_threshold=None, soft_nms_sigma=None, box_encoding: str = "corner",
                        sort_result_descending: bool = True, output_type: str = "i64",
                        name: str | None = None) -> Node:
    import numpy as np

    inputs = [boxes, scores]
    defaults = (np.int64(0), np.float32(0), np.float32(0), np.float32(0))
    extra = [max_output_boxes_per_class, iou_threshold, score_threshold, soft_nms_sigma]
    last = max((i for i, v in enumerate(extra) if v is not None), default=-1)
    inputs += [v if v is not None else defaults[i] for i, v in enumerate(extra[:last + 1])]
    return make("NonMaxSuppression", inputs, {"box_encoding": box_encoding,
                                              "sort_result_descending": sort_result_descending,
                                              "output_type": Type(output_type)}, name)


@factory
def roi_align(data, rois, batch_indices, pooled_h: int, pooled_w: int, sampling_ratio: int,
              spatial_scale: float, mode: str, aligned_mode: str | None = "asymmetric",
              name: str | None = None) -> Node:
    return make("ROIAlign", [data, rois, batch_indices], {
        "pooled_h": pooled_h, "pooled_w": pooled_w, "sampling_ratio": sampling_ratio,
        "spatial_scale": spatial_scale, "mode": mode, "aligned_mode": aligned_mode or "asymmetric"}, name)


@factory
def grid_sample(data, grid, attributes: dict, name: str | None = None) -> Node:
    return make("GridSample", [data, grid], dict(attributes), name)


@factory
def deformable_convolution(data, offsets, filters, strides: list[int], pads_begin: list[int],
                           pads_end: list[int], dilations: list[int], mask=None, auto_pad: str = "EXPLICIT",
                           group: int = 1, deformable_group: int = 1,
                           bilinear_interpolation_pad: bool = False, name: str | None = None) -> Node:
    inputs = [data, offsets, filters] + ([] if mask is None else [mask])
    return make("DeformableConvolution", inputs, {
        "strides": strides, "pads_begin": pads_begin, "pads_end": pads_end, "dilations": dilations,
        "auto_pad": auto_pad, "group": group, "deformable_group": deformable_group,
        "bilinear_interpolation_pad": bilinear_interpolation_pad}, name)


@factory
def col2im(data, output_size, kernel_size, strides: list[int] | None = None,
           dilations: list[int] | None = None, pads_begin: list[int] | None = None,
           pads_end: list[int] | None = None, name: str | None = None) -> Node:
    attrs = {k: v for k, v in (("strides", strides), ("dilations", dilations), ("pads_begin", pads_begin),
                               ("pads_end", pads_end)) if v is not None}
    return make("Col2Im", [data, output_size, kernel_size], attrs, name)
