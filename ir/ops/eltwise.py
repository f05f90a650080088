"""Elementwise binary arithmetic: Add, Subtract, Multiply, Divide, Power, Maximum, Minimum,
SquaredDifference, FloorMod, Mod."""
from __future__ import annotations

from arrayrt.ir.ops._shapes import broadcast_shapes, same_types
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make

BROADCAST = Attr("auto_broadcast", "str", "numpy", choices=("none", "numpy", "pdpd"))


class BinaryOp(OpDef):
    """Two same-typed inputs, NUMPY (or no) broadcasting, one output of the input type."""

    n_inputs = (2, 2)
    attrs = (BROADCAST,)
    #: name of the array-API function computing the op; the kernel binds it directly
    xp_function: str | None = None

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        return [(t, broadcast_shapes(node.input_shape(0), node.input_shape(1), node.attrs["auto_broadcast"]))]

    @classmethod
    def kernel(cls, xp, node):
        if cls.xp_function is not None:
            return getattr(xp, cls.xp_function)
        return super().kernel(xp, node)


@register
class Add(BinaryOp):
    type_name, version, opset = "Add", 1, "opset1"
    xp_function = "add"


@register
class Subtract(BinaryOp):
    type_name, version, opset = "Subtract", 1, "opset1"
    xp_function = "subtract"


@register
class Multiply(BinaryOp):
    type_name, version, opset = "Multiply", 1, "opset1"
    xp_function = "multiply"


@register
class Maximum(BinaryOp):
    type_name, version, opset = "Maximum", 1, "opset1"
    xp_function = "maximum"


@register
class Minimum(BinaryOp):
    type_name, version, opset = "Minimum", 1, "opset1"
    xp_function = "minimum"


@register
class SquaredDifference(BinaryOp):
    type_name, version, opset = "SquaredDifference", 0, "opset1"

    @staticmethod
    def compute(xp, a, b):
        d = a - b
        return d * d


def _is_int(xp, x) -> bool:
    try:
        return bool(xp.isdtype(x.dtype, "integral"))
    except TypeError:  # numpy's isdtype rejects the ml_dtypes floats (bf16, f8)
        return False


@register
class Divide(BinaryOp):
    """Integer division floors when ``m_pythondiv`` is true (the default), else truncates."""

    type_name, version, opset = "Divide", 1, "opset1"
    attrs = (BROADCAST, Attr("m_pythondiv", "bool", True))

    @staticmethod
    def compute(xp, a, b, m_pythondiv):
        if not _is_int(xp, a):
            return xp.divide(a, b)
        safe = xp.where(b == 0, xp.ones_like(b), b)
        if m_pythondiv:
            q = xp.floor_divide(a, safe)
        else:
            q = xp.floor_divide(xp.abs(a), xp.abs(safe))
            if xp.isdtype(a.dtype, "signed integer"):
                q = xp.where((a < 0) != (safe < 0), -q, q)
        return q


@register
class Power(BinaryOp):
    type_name, version, opset = "Power", 1, "opset1"

    @staticmethod
    def compute(xp, a, b):
        if _is_int(xp, a):
            # negative integer exponents give 0 (|a| > 1), 1 (a == 1) or +-1 (a == -1), like C
            safe_b = xp.where(b < 0, xp.zeros_like(b), b) if xp.isdtype(b.dtype, "signed integer") else b
            r = xp.pow(a, safe_b)
            if xp.isdtype(b.dtype, "signed integer"):
                neg = b < 0
                one = xp.ones_like(r)
                odd = (b % 2) != 0
                r = xp.where(neg, xp.where(a == 1, one, xp.where(a == -1, xp.where(odd, -one, one),
                                                                  xp.zeros_like(r))), r)
            return r
        return xp.pow(a, b)


@register
class FloorMod(BinaryOp):
    """Remainder with the sign of the divisor (Python's %)."""

    type_name, version, opset = "FloorMod", 1, "opset1"

    @staticmethod
    def compute(xp, a, b):
        if _is_int(xp, a):
            safe = xp.where(b == 0, xp.ones_like(b), b)
            return xp.remainder(a, safe)
        return xp.remainder(a, b)


@register
class Mod(BinaryOp):
    """Remainder with the sign of the dividend (C's fmod)."""

    type_name, version, opset = "Mod", 1, "opset1"

    @staticmethod
    def compute(xp, a, b):
        if _is_int(xp, a):
            safe = xp.where(b == 0, xp.ones_like(b), b)
            r = xp.remainder(xp.abs(a), xp.abs(safe))
            return xp.where(a < 0, -r, r) if xp.isdtype(a.dtype, "signed integer") else r
        r = xp.remainder(xp.abs(a), xp.abs(b))
        return xp.where(a < 0, -r, r)


# --- factories --------------------------------------------------------------------------------


def _binary(type_name: str, fname: str):
    def build(left_node, right_node, auto_broadcast: str = "NUMPY", name: str | None = None):
        return make(type_name, [left_node, right_node], {"auto_broadcast": auto_broadcast}, name)

    build.__name__ = build.__qualname__ = fname
    build.__doc__ = f"A {type_name} node (``openvino.opset16.{fname}``)."
    return factory(build)


for _t, _f in (("Add", "add"), ("Subtract", "subtract"), ("Multiply", "multiply"), ("Divide", "divide"),
               ("Power", "power"), ("Maximum", "maximum"), ("Minimum", "minimum"),
               ("SquaredDifference", "squared_difference"), ("FloorMod", "floor_mod"), ("Mod", "mod")):
    _binary(_t, _f)
