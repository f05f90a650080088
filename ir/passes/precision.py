"""Lower a model's floating-point computation to the inference precision (f16 or bf16).

Float Parameters get a Convert to the inference type, float Constants are stored in it, Converts to
f32 convert to it instead, and each float Result converts back, so the model's interface keeps its
types while every op computes in the device's precision.
"""
from __future__ import annotations

from arrayrt.ir.graph import Node
from arrayrt.ir.ops import get_op
from arrayrt.ir.passes import replace_uses
from arrayrt.ir.types import Type

_WIDE = (Type.f32, Type.f64)


def apply_inference_precision(model, precision: Type, backend=None) -> bool:
    """Rewrite ``model`` to compute float math in ``precision``; False if nothing was to do."""
    precision = Type(precision)
    if precision in _WIDE:
        return False
    convert = get_op("Convert")
    changed = False
    for p in model.get_parameters():
        out = p.output(0)
        if out.get_element_type() in _WIDE:
            cvt = Node(convert, [out], {"destination_type": precision}, name=f"{p.friendly_name}/to_{precision}")
            replace_uses(model, out, cvt.output(0), skip=cvt)
            changed = True
    for node in model.get_ordered_ops():
        if node.type_name == "Constant" and node.attrs["element_type"] in _WIDE:
            node.attrs["value"] = node.attrs["value"].astype(precision.to_dtype())
            node.attrs["element_type"] = precision
            changed = True
        elif node.type_name not in ("Parameter", "Constant"):
            for key, value in node.attrs.items():  # Convert's destination_type, Range's output_type...
                if isinstance(value, Type) and value in _WIDE:
                    node.attrs[key] = precision
                    changed = True
    for r in model.get_results():
        src = r.input_value(0)
        original = src.get_element_type()
        if original in _WIDE:
            back = Node(convert, [src], {"destination_type": original},
                        name=f"{r.friendly_name}/to_{original}")
            r._inputs[0] = back.output(0)
            back._outputs[0].names, src._info.names = set(src._info.names), set()
    if changed:
        model.validate_nodes_and_infer_types()
    return changed
