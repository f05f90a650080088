"""Factory functions that build nodes in Python, named and shaped like ``openvino.opsetN``'s.

Family modules define one factory per op with the :func:`factory` decorator; :mod:`arrayrt.opset`
exposes them all. Inputs may be nodes, outputs, numpy arrays or Python scalars (made Constants).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError

FACTORIES: dict[str, Callable[..., Any]] = {}


def alias(name: str, target: str) -> None:
    """Also offer factory ``target`` as ``name`` (OpenVINO has both: ``abs``/``absolute``)."""
    if name in FACTORIES:
        raise ArrayrtError(f"factory {name} is defined twice")
    FACTORIES[name] = FACTORIES[target]


def factory(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``fn`` as an ``arrayrt.opset`` factory under its own name."""
    if fn.__name__ in FACTORIES:
        raise ArrayrtError(f"factory {fn.__name__} is defined twice")
    FACTORIES[fn.__name__] = fn
    return fn


def as_output(x: Any, dtype: Any = None) -> Output:
    """A node output from a Node, an Output, an array or a scalar (a new Constant)."""
    if isinstance(x, Output):
        return x
    if isinstance(x, Node):
        if x.get_output_size() != 1:
            raise ArrayrtError(f"{x.friendly_name} has {x.get_output_size()} outputs; pass node.output(i)")
        return x.output(0)
    return constant(x, dtype).output(0)


def constant(value: Any, dtype: Any = None, name: str | None = None, **_: Any) -> Node:
    """A Constant node. Python floats become f32, ints i64, bools boolean, unless ``dtype``."""
    from arrayrt.ir.ops import get_op

    if dtype is not None:
        t = Type(dtype)
        arr = np.asarray(value).astype(t.to_dtype())
    else:
        arr = np.asarray(value)
        if isinstance(value, float) or (isinstance(value, (list, tuple)) and arr.dtype == np.float64):
            arr = arr.astype(np.float32)
        t = Type(arr.dtype)
    return Node(get_op("Constant"), [], {"element_type": t, "shape": arr.shape, "value": arr}, name=name)


def make(op_type: str, inputs: list[Any], attrs: dict[str, Any] | None = None, name: str | None = None,
         version: "int | str | None" = None) -> Node:
    """Build a node of ``op_type`` (newest version unless ``version``) over ``inputs``."""
    from arrayrt.ir.ops import get_op

    op = get_op(op_type, version)
    return Node(op, [as_output(i) for i in inputs], attrs or {}, name=name)
