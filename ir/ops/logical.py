"""Comparisons (Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual), boolean logic (LogicalAnd,
LogicalOr, LogicalXor, LogicalNot) and Select."""
from __future__ import annotations

from typing import Any, ClassVar

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._shapes import broadcast_shapes, same_types
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.eltwise import BinaryOp
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where


def _check_boolean(node: Any, indices: range | tuple[int, ...]) -> None:
    for i in indices:
        t = node.input_type(i)
        if t.is_static and t is not Type.boolean:
            raise ShapeInferenceError(f"{where(node)}: input {i} must be boolean, got {t}")


class Comparison(BinaryOp):
    """Two same-typed inputs, a boolean output of their broadcast shape."""

    #: the standard defines the ordering comparisons on numbers only; booleans are compared as 0/1
    ordering: ClassVar[bool] = True

    @classmethod
    def infer(cls, node):
        (_, shape), = super().infer(node)
        return [(Type.boolean, shape)]

    @classmethod
    def compute(cls, xp, a, b):
        if cls.ordering and a.dtype == xp.bool:
            a, b = xp.astype(a, xp.uint8), xp.astype(b, xp.uint8)
        return getattr(xp, cls.xp_function)(a, b)

    @classmethod
    def kernel(cls, xp, node):
        if cls.ordering and node.input_type(0) in (Type.boolean, Type.dynamic):
            return lambda a, b: cls.compute(xp, a, b)
        return getattr(xp, cls.xp_function)


@register
class Equal(Comparison):
    type_name, version, opset = "Equal", 1, "opset1"
    xp_function = "equal"
    ordering = False


@register
class NotEqual(Comparison):
    type_name, version, opset = "NotEqual", 1, "opset1"
    xp_function = "not_equal"
    ordering = False


@register
class Less(Comparison):
    type_name, version, opset = "Less", 1, "opset1"
    xp_function = "less"


@register
class LessEqual(Comparison):
    type_name, version, opset = "LessEqual", 1, "opset1"
    xp_function = "less_equal"


@register
class Greater(Comparison):
    type_name, version, opset = "Greater", 1, "opset1"
    xp_function = "greater"


@register
class GreaterEqual(Comparison):
    type_name, version, opset = "GreaterEqual", 1, "opset1"
    xp_function = "greater_equal"


class _Logical(BinaryOp):
    """Two boolean inputs, a boolean output of their broadcast shape."""

    @classmethod
    def infer(cls, node):
        _check_boolean(node, range(2))
        return super().infer(node)

    @classmethod
    def compute(cls, xp, a, b):
        return getattr(xp, cls.xp_function)(a, b)


@register
class LogicalAnd(_Logical):
    type_name, version, opset = "LogicalAnd", 1, "opset1"
    xp_function = "logical_and"


@register
class LogicalOr(_Logical):
    type_name, version, opset = "LogicalOr", 1, "opset1"
    xp_function = "logical_or"


@register
class LogicalXor(_Logical):
    """In opset1 and later (OpenVINO's type info says opset2, but its opset1 holds it and its IR
    reader accepts ``version="opset1"``)."""

    type_name, version, opset = "LogicalXor", 1, "opset1"
    xp_function = "logical_xor"


@register
class LogicalNot(OpDef):
    type_name, version, opset = "LogicalNot", 1, "opset1"

    @classmethod
    def infer(cls, node):
        _check_boolean(node, (0,))
        return [(Type.boolean, node.input_shape(0))]

    @staticmethod
    def compute(xp, x):
        return xp.logical_not(x)

    @classmethod
    def kernel(cls, xp, node):
        return xp.logical_not


@register
class Select(OpDef):
    """``then`` where ``cond`` else ``else``; with ``numpy`` broadcasting all three broadcast together."""

    type_name, version, opset = "Select", 1, "opset1"
    attrs = (Attr("auto_broadcast", "str", "numpy", choices=("none", "numpy")),)
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        _check_boolean(node, (0,))
        t = same_types(node, (1, 2))
        mode = node.attrs["auto_broadcast"]
        try:
            values = broadcast_shapes(node.input_shape(1), node.input_shape(2), mode)
            shape = broadcast_shapes(node.input_shape(0), values, mode)
        except ShapeInferenceError as exc:
            raise ShapeInferenceError(f"{where(node)}: {exc}") from None
        return [(t, shape)]

    @staticmethod
    def compute(xp, cond, then, else_):
        return xp.where(cond, then, else_)

    @classmethod
    def kernel(cls, xp, node):
        return xp.where


# --- factories --------------------------------------------------------------------------------


def _binary(type_name: str, fname: str) -> None:
    def build(left_node: Any, right_node: Any, auto_broadcast: str = "NUMPY",
              name: str | None = None) -> Node:
        return make(type_name, [left_node, right_node], {"auto_broadcast": auto_broadcast}, name)

    build.__name__ = build.__qualname__ = fname
    build.__doc__ = f"A {type_name} node (``openvino.opset16.{fname}``)."
    factory(build)


for _t, _f in (("Equal", "equal"), ("NotEqual", "not_equal"), ("Less", "less"), ("LessEqual", "less_equal"),
               ("Greater", "greater"), ("GreaterEqual", "greater_equal"), ("LogicalAnd", "logical_and"),
               ("LogicalOr", "logical_or"), ("LogicalXor", "logical_xor")):
    _binary(_t, _f)


@factory
def logical_not(node: Any, name: str | None = None) -> Node:
    return make("LogicalNot", [node], name=name)


@factory
def select(cond: Any, then_node: Any, else_node: Any, auto_broadcast: str = "numpy",
           name: str | None = None) -> Node:
    return make("Select", [cond, then_node, else_node], {"auto_broadcast": auto_broadcast}, name)
