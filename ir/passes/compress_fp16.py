"""FP16 compression of weights, as ``openvino.save_model(compress_to_fp16=True)`` does.

Each f32/f64 Constant ``X`` becomes an f16 Constant ``X_compressed`` feeding a Convert ``X`` back to
the original type, marked with the ``decompression`` rt attribute. Values are clamped to +-65504
(NaN and infinities included, as OpenVINO does); a constant is left alone when at least 3/4 of its
values would not survive (beyond the f16 range, or non-zero values that would flush to zero).
"""
from __future__ import annotations

import numpy as np

from arrayrt.ir.graph import Node
from arrayrt.ir.ops import get_op
from arrayrt.ir.passes import replace_uses
from arrayrt.ir.types import Type

F16_MAX = 65504.0
KEEP_RATIO = 0.75


def compress_float_constants(model) -> int:
    """Rewrite ``model`` in place; returns the number of constants compressed."""
    convert = get_op("Convert")
    constant = get_op("Constant")
    users = model.consumers()
    count = 0
    for node in model.get_ordered_ops():
        if node.type_name != "Constant":
            continue
        t = node.attrs["element_type"]
        if t not in (Type.f32, Type.f64):
            continue
        out = node.output(0)
        if all(u.node.type_name == "Convert" and u.node.attrs["destination_type"] is Type.f16
               for u in users.get(out, [])) and users.get(out):
            continue
        value = np.asarray(node.attrs["value"])
        compressed = to_f16(value)
        if compressed is None:
            continue
        c16 = Node(constant, [], {"element_type": Type.f16, "shape": value.shape, "value": compressed},
                   name=f"{node.friendly_name}_compressed")
        back = Node(convert, [c16.output(0)], {"destination_type": t}, name=node.friendly_name)
        back.rt_info["decompression"] = {"version": "0"}
        back._outputs[0].names = set(out._info.names)
        back._outputs[0].rt_info = dict(out._info.rt_info)
        replace_uses(model, out, back.output(0), skip=back)
        count += 1
    return count


def to_f16(value: np.ndarray) -> np.ndarray | None:
    """The clamped f16 copy of ``value``, or None when too few values would survive."""
    if value.size == 0:
        return value.astype(np.float16)
    a = value.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        f16 = a.astype(np.float16)
        lost = (~np.isfinite(a)) | (np.abs(a) > F16_MAX) | ((a != 0) & (f16 == 0))
    if np.count_nonzero(lost) >= KEEP_RATIO * value.size:
        return None
    clamped = np.where(np.isnan(a), F16_MAX, np.clip(a, -F16_MAX, F16_MAX))
    return clamped.astype(np.float16)
