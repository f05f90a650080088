"""Graph passes: functions that rewrite a :class:`~arrayrt.ir.model.Model` in place."""
from __future__ import annotations

from arrayrt.ir.graph import Output


def replace_uses(model, old: Output, new: Output, skip=None) -> int:
    """Point every consumer of ``old`` (except node ``skip``) at ``new``; returns the count."""
    count = 0
    for node in model.get_ordered_ops():
        if node is skip:
            continue
        for i, src in enumerate(node._inputs):
            if src == old:
                node._inputs[i] = new
                count += 1
    return count
