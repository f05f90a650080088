"""Constant folding: every node whose value is known before inference (its inputs are constants,
or it only reads static shapes, as ShapeOf) becomes a Constant holding it, computed once on numpy.

Plans fold on their own backend at compile time; this pass serves HETERO, whose partition must see
folded weights (a decompression Convert on one device must not turn another device's constant
operand into a cut, and devices that quantise, such as GNA, need constant weights).
"""
from __future__ import annotations

from arrayrt.ir.graph import Node
from arrayrt.ir.ops import get_op
from arrayrt.ir.passes import replace_uses

#: never folded: their value is the point of keeping them (shape-only inputs fold anyway)
_KEEP = frozenset({"Parameter", "Constant", "Result", "ReadValue", "Assign"})


def fold_constants(model, max_bytes: int = 1 << 30) -> int:
    """Fold in place; returns the number of nodes replaced. Outputs bigger than ``max_bytes`` are
    left to the plan (which folds them on its device without a host copy)."""
    constant = get_op("Constant")
    count = 0
    for node in model.get_ordered_ops():
        if node.type_name in _KEEP or not node.op.foldable or node.bodies:
            continue
        values = [node.static_value(i) for i in range(node.get_output_size())]  # None when unknown
        if any(v is None or isinstance(v, list) for v in values):
            continue
        if sum(getattr(v, "nbytes", 0) for v in values) > max_bytes:
            continue
        for i, v in enumerate(values):
            out = node.output(i)
            c = Node(constant, [], {"element_type": out.get_element_type(), "shape": v.shape, "value": v},
                     name=node.friendly_name if node.get_output_size() == 1 else f"{node.friendly_name}/{i}")
            c._outputs[0].names = set(out._info.names)
            c.rt_info = dict(node.rt_info)
            replace_uses(model, out, c.output(0))
        count += 1
    return count
