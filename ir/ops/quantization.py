"""FakeQuantize (v0): clamp to the input range, quantize to ``levels`` steps, map to the output range.

As in OpenVINO's reference kernel: values at or below min(input_low, input_high) give output_low,
values above max(input_low, input_high) give output_high, the rest
``round((x - il) / (ih - il) * (levels - 1)) / (levels - 1) * (oh - ol) + ol``, rounding half to
even (``std::nearbyint``).
"""
from __future__ import annotations

from arrayrt.ir.ops._shapes import broadcast_shapes, same_types
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where


def fake_quantize_array(xp, x, input_low, input_high, output_low, output_high, levels: int):
    dt = x.dtype
    f16 = getattr(xp, "float16", None)
    if dt == f16:
        x, input_low, input_high, output_low, output_high = (
            xp.astype(a, xp.float32) for a in (x, input_low, input_high, output_low, output_high))
    steps = levels - 1
    span = input_high - input_low
    span = xp.where(span == 0, xp.ones_like(span), span)  # those elements take a clamped branch
    q = xp.round((x - input_low) / span * steps) / steps * (output_high - output_low) + output_low
    y = xp.where(x <= xp.minimum(input_low, input_high), output_low,
                 xp.where(x > xp.maximum(input_low, input_high), output_high, q))
    return xp.astype(y, dt)


@register
class FakeQuantize(OpDef):
    """Inputs data, input_low, input_high, output_low, output_high; the four ranges broadcast to
    data (NUMPY) or equal its shape (NONE). The output has the shape of data."""

    type_name, version, opset = "FakeQuantize", 0, "opset1"
    attrs = (Attr("levels", "int"), Attr("auto_broadcast", "str", "numpy", choices=("none", "numpy")))
    n_inputs = (5, 5)

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["levels"] < 2:
            raise OpAttributeError(f"{where(node)}: attribute 'levels' must be >= 2, got {attrs['levels']}")

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        if t.is_static and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: inputs must be floating, got {t}")
        data = node.input_shape(0)
        names = ("input_low", "input_high", "output_low", "output_high")
        for i, name in enumerate(names, 1):
            try:
                broadcast_shapes(data, node.input_shape(i), node.attrs["auto_broadcast"])
            except ShapeInferenceError:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) of shape {node.input_shape(i)} "
                                          f"does not broadcast to data {data} "
                                          f"(auto_broadcast={node.attrs['auto_broadcast']})") from None
        return [(t, data)]

    @staticmethod
    def compute(xp, x, input_low, input_high, output_low, output_high, levels):
        return fake_quantize_array(xp, x, input_low, input_high, output_low, output_high, levels)


@factory
def fake_quantize(data, input_low, input_high, output_low, output_high, levels: int,
                  auto_broadcast: str = "NUMPY", name: str | None = None):
    return make("FakeQuantize", [data, input_low, input_high, output_low, output_high],
                {"levels": levels, "auto_broadcast": auto_broadcast}, name)
