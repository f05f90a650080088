"""PriorBox, PriorBoxClustered, RegionYolo.

Only RegionYolo is implemented so far; PriorBox and PriorBoxClustered are not yet here.
"""
from __future__ import annotations

from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops.base import Attr, OpDef, check_float, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import ShapeInferenceError, where


def _sigmoid(xp, x):
    return 1 / (1 + xp.exp(-x))


@register
class RegionYolo(OpDef):
    type_name, version, opset = "RegionYolo", 0, "opset1"
    attrs = (Attr("coords", "int"), Attr("classes", "int"), Attr("num", "int"),
             Attr("do_softmax", "bool", True), Attr("mask", "ints", []), Attr("axis", "int", 1),
             Attr("end_axis", "int", 3), Attr("anchors", "floats", []))

    @staticmethod
    def infer(node):
        check_float(node)
        t, ps = node.input_type(0), node.input_shape(0)
        a = node.attrs
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        rank = int(ps.rank)
        if rank != 4:
            raise ShapeInferenceError(f"{where(node)}: the input must have rank 4, got {ps}")
        regions = a["num"] if a["do_softmax"] else len(a["mask"])
        per = a["coords"] + a["classes"] + 1
        if ps[1].is_static and int(ps[1]) != regions * per:
            raise ShapeInferenceError(f"{where(node)}: expected {regions} * (coords + classes + 1) = {regions * per} "
                                      f"input channels, got {ps[1]}")
        if a["do_softmax"]:
            axis = a["axis"] + rank if a["axis"] < 0 else a["axis"]
            end = a["end_axis"] + rank if a["end_axis"] < 0 else a["end_axis"]
            if not 0 <= axis <= end < rank:
                raise ShapeInferenceError(f"{where(node)}: axis {a['axis']} .. end_axis {a['end_axis']} is not a "
                                          f"valid range for rank {rank}")
            flat = Dimension(1)
            for d in list(ps)[axis:end + 1]:
                flat = flat * d
            dims = [*list(ps)[:axis], flat, *list(ps)[end + 1:]]
        else:
            dims = [ps[0], Dimension(len(a["mask"]) * (a["coords"] + a["classes"] + 1)), ps[2], ps[3]]
        return [(t, PartialShape(dims))]

    @staticmethod
    def compute(xp, x, coords, classes, num, do_softmax, mask, axis, end_axis):
        n, c, h, w = (int(d) for d in x.shape)
        regions = num if do_softmax else len(mask)
        per = coords + classes + 1
        if c != regions * per:
            raise ValueError(f"input channels {c} != regions {regions} * (coords + classes + 1) = {regions * per}")
        y = xp.reshape(x, (n, regions, per, h, w))
        xy = _sigmoid(xp, y[:, :, 0:2, ...])
        rest = y[:, :, 2:coords, ...]
        conf = _sigmoid(xp, y[:, :, coords:coords + 1, ...])
        cls = y[:, :, coords + 1:, ...]
        if do_softmax:
            e = xp.exp(cls - xp.max(cls, axis=2, keepdims=True))
            cls = e / xp.sum(e, axis=2, keepdims=True)
        else:
            cls = _sigmoid(xp, cls)
        out = xp.reshape(xp.concat([xy, rest, conf, cls], axis=2), (n, c, h, w))
        if do_softmax:
            a = axis + 4 if axis < 0 else axis
            e = end_axis + 4 if end_axis < 0 else end_axis
            shape = out.shape
            flat = 1
            for d in shape[a:e + 1]:
                flat *= int(d)
            out = xp.reshape(out, (*shape[:a], flat, *shape[e + 1:]))
        return out


@factory
def region_yolo(input: Any, coords: int, classes: int, num: int, do_softmax: bool, mask: list[int], axis: int,
                end_axis: int, anchors: list[float] | None = None, name: str | None = None) -> Node:
    return make("RegionYolo", [input], {"coords": coords, "classes": classes, "num": num, "do_softmax": do_softmax,
                                        "mask": mask, "axis": axis, "end_axis": end_axis,
                                        "anchors": anchors or []}, name)
