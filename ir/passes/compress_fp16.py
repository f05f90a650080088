"""FP16 compression of weights, as ``openvino.save_model(compress_to_fp16=True)`` (2026.4) does it.

Each f32/f64 Constant ``X`` that qualifies is stored as f16 and renamed ``X_compressed``; a Convert
named ``X``, marked with the ``decompression`` rt attribute, turns it back into the original type for
its consumers. Which constants qualify:

* none at all when the model is already optimized: it holds a FakeQuantize or FakeConvert, or
  compressed weights (``Multiply(Convert(Constant i4/u4/i8/u8/nf4/f8)[ - zero point], Constant)``);
* not those marked ``DisablePrecisionConversion`` (``disable_fp16_compression``), nor those
  feeding a precision-sensitive input (a shape, a padding, an Interpolate's scales...) through a
  subgraph that does not pass a ShapeOf, which get that mark in the written IR;
* not empty ones, nor ones f16 would damage: a single value differing by more than 1.0 after the
  round trip keeps the constant, and so does a share of at least 3/4 of *rejected* values. Rejected
  are values beyond +-65504, infinities, non-zero values below 2**-24 and, for f32 only, NaN; and
  values whose relative round-trip error exceeds 1e-4 for a one-element constant, 1e-3 otherwise.

Values are then converted to the nearest f16, clamped to +-65504; for f32 NaN becomes 65504, for
f64 NaN stays NaN and non-zero values below 2**-24 become 0 (OpenVINO converts the two types on
different paths). Tensor names stay on ``X_compressed``, except that a constant returned by a
Result hands them to the Convert, as OpenVINO's Result keeps its names.
"""
from __future__ import annotations

from collections import deque

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops import get_op
from arrayrt.ir.types import Type

F16_MAX = 65504.0
F16_TINY = 2.0**-24  # the smallest f16 subnormal
KEEP_RATIO = np.float32(0.75)
MAX_ABS_ERROR = 1.0
MAX_REL_ERROR = 1e-3
MAX_REL_ERROR_ONE_VALUE = 1e-4

#: inputs OpenVINO marks precision-sensitive, by op type (and op version where it differs)
PRECISION_SENSITIVE = {
    "Reshape": (1,), "Broadcast": (1,), "Tile": (1,), "OneHot": (1,), "Pad": (1, 2), "TopK": (1,),
    "StridedSlice": (1, 2, 3), "SpaceToBatch": (1, 2, 3), "BatchToSpace": (1, 2, 3),
    "ConvolutionBackpropData": (2,), "GroupConvolutionBackpropData": (2,),
    ("Interpolate", 0): (1,), ("Interpolate", 4): (1, 2), ("Interpolate", 11): (1,),
}
#: the rt attribute OpenVINO puts on constants it keeps in their precision (the IR of older
#: releases spells it ``disable_fp16_compression``)
DISABLE_MARK = "DisablePrecisionConversion"
_QUANTIZED_WEIGHTS = frozenset({Type.i4, Type.u4, Type.i8, Type.u8, Type.f8e4m3, Type.f8e5m2})


def compress_float_constants(model) -> int:
    """Rewrite ``model`` in place; returns the number of constants compressed."""
    if is_optimized(model):
        return 0
    convert = get_op("Convert")
    keep = precision_sensitive_constants(model)
    consumers = model.consumers()
    count = 0
    for node in model.get_ordered_ops():
        if node.type_name != "Constant":
            continue
        if node.uid in keep:
            node.rt_info[DISABLE_MARK] = {"version": "0", "value": "dynamic:f16"}
        if DISABLE_MARK in node.rt_info or "disable_fp16_compression" in node.rt_info:
            continue
        t = node.attrs["element_type"]
        if t not in (Type.f32, Type.f64):
            continue
        compressed = to_f16(np.asarray(node.attrs["value"]))
        if compressed is None:
            continue
        out = node.output(0)
        users = consumers.get(out, [])
        name = node.friendly_name
        node.attrs["value"], node.attrs["element_type"] = compressed, Type.f16
        node.validate_and_infer_types()
        node.friendly_name = f"{name}_compressed"
        back = Node(convert, [out], {"destination_type": t}, name=name)
        back.rt_info = {**node.rt_info, "decompression": {"version": "0"}}
        if any(u.node.type_name == "Result" for u in users):
            back._outputs[0].names, out._info.names = out._info.names, set()
        for user in users:
            user.node._inputs[user.index] = back.output(0)
        count += 1
    return count


def to_f16(value: np.ndarray) -> np.ndarray | None:
    """The f16 copy of an f32/f64 array by OpenVINO's rules, or None when it must stay as it is."""
    n = value.size
    if n == 0:
        return None
    wide = value.dtype == np.float64
    a = value.astype(np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        mag = np.abs(a)
        rejected = (mag > F16_MAX) | ((a != 0) & (mag < F16_TINY))
        if not wide:
            rejected |= np.isnan(a)
        narrow = _ov_float16(a.astype(np.float32)) if wide else a.astype(np.float16)
        error = np.abs(a - narrow.astype(np.float64))
        kept = ~rejected
        if np.any(error[kept] > MAX_ABS_ERROR):
            return None
        limit = MAX_REL_ERROR_ONE_VALUE if n == 1 else MAX_REL_ERROR
        rejected |= kept & (a != 0) & (error / mag > limit)
        if np.float32(np.count_nonzero(rejected)) / np.float32(n) >= KEEP_RATIO:
            return None
        if wide:
            a = np.clip(np.where((a != 0) & (mag < F16_TINY), 0.0, a), -F16_MAX, F16_MAX)
            return _ov_float16(a.astype(np.float32)).reshape(value.shape)
        a = np.clip(np.where(np.isnan(a), F16_MAX, a), -F16_MAX, F16_MAX)
        return a.astype(np.float16).reshape(value.shape)


def _ov_float16(x: np.ndarray) -> np.ndarray:
    """f32 -> f16 as OpenVINO's software ``float16(float)`` rounds (its f64 path uses it; f32 goes
    through the CPU's correctly rounding instruction). It differs from IEEE rounding just below a
    power of two in the subnormal range, where the carry of rounding bumps the exponent before the
    subnormal shift, doubling the result."""
    iv = x.view(np.uint32).astype(np.int64)
    sign = iv & 0x80000000
    exp_field = iv & 0x7F800000
    mant = (iv & 0x007FFFFF) << 3

    def rounded(frac):
        up = ((frac & 0x1FFFF) == 0x18000) | ((frac & 0x7FFF) != 0)
        return frac + np.where(up, 0x8000, 0)

    frac = rounded(mant)
    e16 = (exp_field >> 23) - 127 + 15
    carry = (frac & 0x7C000000) != 0
    e16 = e16 + carry
    frac = np.where(carry, 0, frac) & 0x03FF0000
    normal = sign | (e16.clip(0, 31) << 26) | frac
    shift = 1 - e16
    hidden = 0x04000000 | mant
    sticky = np.where(e16 < -30, hidden != 0, (hidden & ((1 << shift.clip(0, 62)) - 1)) != 0)
    sub = np.where(shift > 31, 0, hidden >> shift.clip(0, 62)) | sticky
    subnormal = sign | rounded(sub)
    nan_frac = np.where((mant & 0x03FF0000) == 0, 0x00010000, mant & 0x03FF0000)
    special = sign | 0x7C000000 | np.where(mant != 0, nan_frac, 0)
    out = np.where(e16 > 30, sign | 0x7C000000, np.where(e16 > 0, normal, subnormal))
    out = np.where(exp_field == 0x7F800000, special, np.where(exp_field == 0, sign, out))
    return (out >> 16).astype(np.uint16).view(np.float16)


def is_optimized(model) -> bool:
    """True when OpenVINO would leave every weight alone: the model is quantized (FakeQuantize,
    FakeConvert) or already holds compressed weights."""
    for node in model.get_ordered_ops():
        if node.type_name in ("FakeQuantize", "FakeConvert"):
            return True
        if node.type_name == "Multiply":
            a, b = (src.node for src in node._inputs)
            if (_is_constant(b) and _is_dequantized(a)) or (_is_constant(a) and _is_dequantized(b)):
                return True
    return False


def _is_constant(node: Node) -> bool:
    return node.type_name == "Constant"


def _is_quantized_weight_convert(node: Node) -> bool:
    return (node.type_name == "Convert" and _is_constant(node._inputs[0].node)
            and node._inputs[0].node.attrs["element_type"] in _QUANTIZED_WEIGHTS)


def _is_dequantized(node: Node) -> bool:
    if _is_quantized_weight_convert(node):
        return True
    if node.type_name != "Subtract":
        return False
    weights, zero_point = (src.node for src in node._inputs)
    if zero_point.type_name == "Convert":
        zero_point = zero_point._inputs[0].node
    return _is_quantized_weight_convert(weights) and _is_constant(zero_point)


def _sensitive_inputs(node: Node) -> tuple[int, ...]:
    return (PRECISION_SENSITIVE.get(node.type_name)
            or PRECISION_SENSITIVE.get((node.type_name, node.op.version), ()))


def precision_sensitive_constants(model) -> set[int]:
    """Uids of the Constants OpenVINO keeps in their precision because a precision-sensitive input
    reads them (``MarkPrecisionSensitiveConstants``): from the Results and sinks, every such input
    is followed up through its producers, stopping at ShapeOf."""
    marked: set[int] = set()
    seeds = model.get_results() + model.get_sinks()
    queue = deque(seeds)
    visited = {n.uid for n in seeds}
    path_visited: set[int] = set()
    while queue:
        node = queue.popleft()
        for i in _sensitive_inputs(node):
            if i < len(node._inputs):
                src = node._inputs[i].node
                visited.add(src.uid)
                _mark_shape_path(src, path_visited, marked)
        for src in node._inputs:
            if src.node.uid not in visited:
                visited.add(src.node.uid)
                queue.appendleft(src.node)
    return marked


def _mark_shape_path(start: Node, visited: set[int], marked: set[int]) -> None:
    visited.add(start.uid)
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node.type_name == "ShapeOf":
            continue
        if node.type_name == "Constant":
            marked.add(node.uid)
        for src in node._inputs:
            if src.node.uid not in visited:
                visited.add(src.node.uid)
                queue.appendleft(src.node)
