"""Gelu fusion: the elementwise decompositions of GELU that exporters write become one ``Gelu`` (v7).

PyTorch's ``F.gelu`` exported to ONNX before opset 20 is ``Div -> Erf -> Add -> Mul -> Mul``, and the
tanh approximation (``gelu_new``, ``gelu_pytorch_tanh``) is ``Pow -> Mul -> Add -> Mul -> Tanh -> Add
-> Mul -> Mul``. OpenVINO's ``convert_model`` and its CPU plugin fold both into ``Gelu``; so does
arrayrt, in :func:`~arrayrt.ir.frontend.convert.convert_model` and when the numpy backend compiles.
One Gelu is one kernel (on numpy a fitted rational function in place, about 10x fewer passes over
memory than the generic ``Erf`` and the four elementwise ops around it).

Matching is algebraic rather than one pattern per association order: from the ``Erf`` (or ``Tanh``)
node the pass follows its single consumers through ``Add``/``Multiply`` with scalar constants and
with ``x`` itself, tracking the value as ``x**k * (a * erf(.) + b)``, and fuses where that reaches
``x * (0.5 * erf(.) + 0.5)``. The argument must be ``x / sqrt(2)`` (``Divide`` or ``Multiply`` by
the reciprocal), or for tanh ``sqrt(2/pi) * (x + 0.044715 * x**3)`` with ``x**3`` a ``Power`` or
``x * x * x``. Constants must match to 1e-4 relative (exporters round them to float32 or write
``0.7071``); anything else is left as it is.
"""
from __future__ import annotations

import math
from typing import Any

from arrayrt.ir.graph import Node, Output
from arrayrt.ir.passes import replace_uses

_RTOL = 1e-4
_SQRT2 = math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715


def _close(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) <= _RTOL * abs(target)


def _scalar(out: Output, like: Output) -> float | None:
    """``out`` as a Python float when it is a constant with one element that broadcasting against
    ``like`` leaves ``like``'s shape unchanged."""
    value = out.node.static_value(out.index)
    if value is None or value.size != 1 or value.dtype.kind != "f":
        return None
    shape = like.get_partial_shape()
    if not shape.rank_is_static or value.ndim > len(shape):
        return None
    return float(value.reshape(()))


def _split(node: Node, like: Output) -> list[tuple[Output, float | None]]:
    """The two inputs of a binary node, each with its scalar value (or None)."""
    return [(src, _scalar(src, like)) for src in node.input_values()]


def _erf_argument(arg: Output) -> Output | None:
    """``x`` when ``arg`` is ``x / sqrt 2`` or ``x * (1 / sqrt 2)``."""
    node = arg.node
    if node.type_name == "Divide" and node.get_input_size() == 2:
        x, d = node.input_value(0), node.input_value(1)
        return x if _close(_scalar(d, x), _SQRT2) else None
    if node.type_name == "Multiply":
        (a, va), (b, vb) = _split(node, node.input_value(0))
        if _close(vb, 1 / _SQRT2) and va is None:
            return a
        if _close(va, 1 / _SQRT2) and vb is None:
            return b
    return None


def _is_cube(out: Output, x: Output) -> bool:
    node = out.node
    if node.type_name == "Power":
        return node.input_value(0) == x and _close(_scalar(node.input_value(1), x), 3.0)
    if node.type_name == "Multiply":
        a, b = node.input_values()
        for sq, lin in ((a, b), (b, a)):
            if lin == x and sq.node.type_name == "Multiply" and sq.node.input_values() == [x, x]:
                return True
    return False


def _tanh_argument(arg: Output) -> Output | None:
    """``x`` when ``arg`` is ``sqrt(2/pi) * (x + 0.044715 * x**3)`` (either operand order)."""
    node = arg.node
    if node.type_name != "Multiply":
        return None
    for inner, c in _split(node, node.input_value(0)):
        if c is not None or not _close(_scalar(_other(node, inner), inner), _SQRT_2_PI):
            continue
        if inner.node.type_name != "Add":
            continue
        for x in inner.node.input_values():
            cubic = _other(inner.node, x)
            if cubic.node.type_name != "Multiply":
                continue
            for p, cp in _split(cubic.node, x):
                if cp is None and _close(_scalar(_other(cubic.node, p), x), _CUBIC) and _is_cube(p, x):
                    return x
    return None


def _other(node: Node, one: Output) -> Output:
    a, b = node.input_values()
    return b if a == one else a


def _tail(start: Node, x: Output, users: dict) -> list[Node] | None:
    """Follow ``start``'s single consumers while the value stays ``x**k * (a * f + b)``; the nodes
    from ``start`` to where it is ``x * (0.5 f + 0.5)``, or None."""
    k, a, b = 0, 1.0, 0.0
    node, chain = start, [start]
    while True:
        if k == 1 and _close(a, 0.5) and _close(b, 0.5):
            return chain
        us = users.get(node.output(0), [])
        if len(us) != 1 or node.get_output_size() != 1:
            return None
        nxt = us[0].node
        if nxt.type_name not in ("Add", "Multiply") or nxt.get_input_size() != 2:
            return None
        other = _other(nxt, node.output(0))
        if other == node.output(0):
            return None
        c = _scalar(other, x)
        if nxt.type_name == "Add":
            if c is None or k != 0:
                return None
            b += c
        elif c is not None:
            a, b = a * c, b * c
        elif other == x and k == 0:
            k = 1
        elif k == 0 and other.node.type_name == "Multiply" and x in other.node.input_values():
            c = _scalar(_other(other.node, x), x)  # (x * c) * (...)
            if c is None or len(users.get(other, [])) != 1:
                return None
            k, a, b = 1, a * c, b * c
        else:
            return None
        node = nxt
        chain.append(node)


def fuse_gelu(model: Any, record: bool = False) -> int:
    """Replace every erf or tanh decomposition of GELU in ``model`` by one ``Gelu``-7; returns how
    many were fused. The Gelu takes the last fused node's friendly name and tensor names; with
    ``record`` (a runtime model) it lists the nodes it replaces, from the Erf/Tanh on, in
    ``rt_info["originalLayersNames"]``."""
    from arrayrt.ir.ops import get_op

    gelu = get_op("Gelu", "opset7")
    users = model.consumers()
    fused = 0
    for node in model.get_ordered_ops():
        if node.type_name == "Erf":
            x, mode = _erf_argument(node.input_value(0)), "ERF"
        elif node.type_name == "Tanh":
            x, mode = _tanh_argument(node.input_value(0)), "TANH"
        else:
            continue
        if x is None or not x.get_element_type().is_real:
            continue
        chain = _tail(node, x, users)
        last = chain[-1] if chain else None
        if (last is None or last.output(0).get_partial_shape() != x.get_partial_shape()
                or last.output(0).get_element_type() != x.get_element_type()):
            continue
        new = Node(gelu, [x], {"approximation_mode": mode}, name=last.friendly_name)
        new._outputs[0].names = set(last.output(0)._info.names)
        new.rt_info = dict(last.rt_info)
        if record:
            new.rt_info["originalLayersNames"] = ",".join(n.friendly_name for n in chain)
        replace_uses(model, last.output(0), new.output(0))
        users = model.consumers()
        fused += 1
    return fused
