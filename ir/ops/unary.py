"""Elementwise unary math: Negative, Abs, Sqrt, Exp, Log, Floor, Ceiling, Round, Sign, Erf, the
trigonometric and hyperbolic functions, IsFinite, IsInf, IsNaN, and the Bitwise ops.

OpenVINO lets the float functions (Sqrt, Exp, Sin...) take integer tensors. Its CPU plugin computes
them in floating point and rounds to the nearest integer; its reference kernels truncate for some
ops (Exp, Log, Sin...) and round for others (Sqrt, Erf), and the spec says nothing. arrayrt follows
the CPU plugin for all of them: :func:`via_float` computes in float64 and rounds half to even.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import dtype_of, erf, is_numpy
from arrayrt.ir.ops.base import Attr, OpDef, check_float, register, same_as_input
from arrayrt.ir.ops.eltwise import BinaryOp
from arrayrt.ir.ops.factory import alias, factory, make
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where

# --- helpers shared with the activation family ------------------------------------------------


def check_numeric(node: Any, i: int = 0) -> None:
    """Input ``i`` must be an integer or floating type (not boolean)."""
    t = node.input_type(i)
    if t.is_static and not (t.is_real or t.is_integral_number):
        raise ShapeInferenceError(f"{where(node)}: input {i} must be a numeric type, got {t}")


def is_integral(xp: Any, dtype: Any) -> bool:
    """True for signed and unsigned integer dtypes."""
    try:
        return bool(xp.isdtype(dtype, "integral"))
    except TypeError:  # ml_dtypes types (bf16...) on numpy are not integral
        return False


def via_float(xp: Any, f: Callable[..., Any], *arrays: Any) -> Any:
    """``f(*arrays)`` for a float function ``f`` on arrays of any numeric type: integers are computed
    in float64 and rounded half to even (OpenVINO's CPU plugin), 16-bit floats in float32."""
    dt = arrays[0].dtype
    if dt == xp.float32 or dt == xp.float64:
        return f(*arrays)
    if is_integral(xp, dt):
        return xp.astype(xp.round(f(*[xp.astype(a, xp.float64) for a in arrays])), dt)
    return xp.astype(f(*[xp.astype(a, xp.float32) for a in arrays]), dt)


def float_kernel(xp: Any, node: Any, f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` itself when input 0 is f32 or f64 (no per-call dispatch), else :func:`via_float`."""
    if node.input_type(0) in (Type.f32, Type.f64):
        return f
    return functools.partial(via_float, xp, f)


def typed_scalar(xp: Any, value: float, t: Type) -> Any:
    """``value`` as a scalar of element type ``t`` (a numpy scalar on numpy: the cheapest operand of
    a ufunc), or the Python number when ``t`` is not known."""
    if not t.is_static:
        return value
    return xp.asarray(value, dtype=dtype_of(xp, t))[()]


# --- unary arithmetic ---------------------------------------------------------------------------


class UnaryOp(OpDef):
    """One numeric input; the output has its type and shape."""

    #: the array-API function computing the op
    xp_function: ClassVar[str]
    #: a float function: integer inputs go through :func:`via_float`
    float_function: ClassVar[bool] = True

    @classmethod
    def infer(cls, node):
        check_numeric(node)
        return same_as_input(node)

    @classmethod
    def function(cls, xp: Any) -> Callable[[Any], Any]:
        return getattr(xp, cls.xp_function)

    @classmethod
    def compute(cls, xp, x):
        f = cls.function(xp)
        return via_float(xp, f, x) if cls.float_function else f(x)

    @classmethod
    def kernel(cls, xp, node):
        f = cls.function(xp)
        return float_kernel(xp, node, f) if cls.float_function else f


def _unary(type_name: str, fn: str, *, version: int = 0, opset: str = "opset1",
           float_function: bool = True) -> type[UnaryOp]:
    cls = type(type_name, (UnaryOp,), {
        "type_name": type_name, "version": version, "opset": opset, "xp_function": fn,
        "float_function": float_function, "__module__": __name__,
        "__doc__": f"``{fn}`` of the array-API standard, elementwise."})
    return register(cls)


Negative = _unary("Negative", "negative", float_function=False)
Abs = _unary("Abs", "abs", float_function=False)
Sign = _unary("Sign", "sign", float_function=False)
Sqrt = _unary("Sqrt", "sqrt")
Exp = _unary("Exp", "exp")
Log = _unary("Log", "log")
Sin = _unary("Sin", "sin")
Cos = _unary("Cos", "cos")
Tan = _unary("Tan", "tan")
Tanh = _unary("Tanh", "tanh")
Asin = _unary("Asin", "asin")
Acos = _unary("Acos", "acos")
Atan = _unary("Atan", "atan")
Sinh = _unary("Sinh", "sinh")
Cosh = _unary("Cosh", "cosh")
Asinh = _unary("Asinh", "asinh", version=3, opset="opset4")
Acosh = _unary("Acosh", "acosh", version=3, opset="opset4")
Atanh = _unary("Atanh", "atanh", version=3, opset="opset4")


@register
class Erf(UnaryOp):
    """The error function (:func:`arrayrt.ir.ops._xp.erf`: the standard has none)."""

    type_name, version, opset = "Erf", 0, "opset1"

    @classmethod
    def function(cls, xp):
        return functools.partial(erf, xp)


class _IntegerValued(UnaryOp):
    """Rounding ops: integers are already whole, so they pass through."""

    float_function = False

    @classmethod
    def compute(cls, xp, x):
        return x if is_integral(xp, x.dtype) else cls.function(xp)(x)

    @classmethod
    def kernel(cls, xp, node):
        t = node.input_type(0)
        if t.is_real:
            return cls.function(xp)
        if t.is_integral:
            return _identity
        return functools.partial(cls.compute, xp)


def _identity(x):
    return x


@register
class Floor(_IntegerValued):
    type_name, version, opset = "Floor", 0, "opset1"
    xp_function = "floor"


@register
class Ceiling(_IntegerValued):
    type_name, version, opset = "Ceiling", 0, "opset1"
    xp_function = "ceil"


def _round_half_away(xp, x):
    """float32/float64 only. The fraction is taken of x clipped to +-1/eps (beyond, every value is
    whole), which keeps inf - inf (and its invalid-value warning) out."""
    whole = 2.0**23 if x.dtype == xp.float32 else 2.0**52
    xc = xp.clip(x, -whole, whole)
    r = xp.trunc(x)
    return xp.where(xp.abs(xc - xp.trunc(xc)) >= 0.5, r + xp.sign(x), r)


@register
class Round(_IntegerValued):
    """Ties go to the even neighbour or away from zero; integer and boolean inputs pass through."""

    type_name, version, opset = "Round", 5, "opset5"
    attrs = (Attr("mode", "str", "half_to_even", choices=("half_to_even", "half_away_from_zero")),)

    @classmethod
    def infer(cls, node):
        t = node.input_type(0)
        if t.is_static and not (t.is_real or t.is_integral):
            raise ShapeInferenceError(f"{where(node)}: input 0 must be a numeric or boolean type, got {t}")
        return same_as_input(node)

    @classmethod
    def compute(cls, xp, x, mode):
        if is_integral(xp, x.dtype) or x.dtype == xp.bool:
            return x
        if mode == "half_to_even":
            return xp.round(x)
        return via_float(xp, functools.partial(_round_half_away, xp), x)

    @classmethod
    def kernel(cls, xp, node):
        t = node.input_type(0)
        if t.is_integral:
            return _identity
        if node.attrs["mode"] == "half_to_even" and t.is_real:
            return xp.round
        if t in (Type.f32, Type.f64):
            return functools.partial(_round_half_away, xp)
        return functools.partial(cls.compute, xp, mode=node.attrs["mode"])


# --- floating-point classification --------------------------------------------------------------


class _Classify(OpDef):
    """A floating-point input, a boolean output of its shape."""

    @classmethod
    def infer(cls, node):
        check_float(node)
        return [(Type.boolean, node.input_shape(0))]


@register
class IsFinite(_Classify):
    type_name, version, opset = "IsFinite", 10, "opset10"

    @staticmethod
    def compute(xp, x):
        return xp.isfinite(x)

    @classmethod
    def kernel(cls, xp, node):
        return xp.isfinite


@register
class IsNaN(_Classify):
    type_name, version, opset = "IsNaN", 10, "opset10"

    @staticmethod
    def compute(xp, x):
        return xp.isnan(x)

    @classmethod
    def kernel(cls, xp, node):
        return xp.isnan


@register
class IsInf(_Classify):
    type_name, version, opset = "IsInf", 10, "opset10"
    attrs = (Attr("detect_negative", "bool", True), Attr("detect_positive", "bool", True))

    @staticmethod
    def compute(xp, x, detect_negative, detect_positive):
        if detect_negative and detect_positive:
            return xp.isinf(x)
        if detect_positive:
            return x == math.inf
        if detect_negative:
            return x == -math.inf
        return xp.zeros(x.shape, dtype=xp.bool)

    @classmethod
    def kernel(cls, xp, node):
        if node.attrs["detect_negative"] and node.attrs["detect_positive"]:
            return xp.isinf
        return super().kernel(xp, node)


# --- bitwise ------------------------------------------------------------------------------------


def _check_bitwise(node: Any, n: int, allow_bool: bool) -> None:
    for i in range(n):
        t = node.input_type(i)
        if t.is_static and not (t.is_integral_number or (allow_bool and t is Type.boolean)):
            want = "an integer or boolean" if allow_bool else "an integer"
            raise ShapeInferenceError(f"{where(node)}: input {i} must be {want} type, got {t}")


@register
class BitwiseNot(OpDef):
    type_name, version, opset = "BitwiseNot", 13, "opset13"

    @classmethod
    def infer(cls, node):
        _check_bitwise(node, 1, allow_bool=True)
        return same_as_input(node)

    @staticmethod
    def compute(xp, x):
        return xp.bitwise_invert(x)

    @classmethod
    def kernel(cls, xp, node):
        return xp.bitwise_invert


class _BitwiseBinary(BinaryOp):
    allow_bool: ClassVar[bool] = True

    @classmethod
    def infer(cls, node):
        _check_bitwise(node, 2, cls.allow_bool)
        return super().infer(node)

    @classmethod
    def compute(cls, xp, a, b):
        return getattr(xp, cls.xp_function)(a, b)


@register
class BitwiseAnd(_BitwiseBinary):
    type_name, version, opset = "BitwiseAnd", 13, "opset13"
    xp_function = "bitwise_and"


@register
class BitwiseOr(_BitwiseBinary):
    type_name, version, opset = "BitwiseOr", 13, "opset13"
    xp_function = "bitwise_or"


@register
class BitwiseXor(_BitwiseBinary):
    type_name, version, opset = "BitwiseXor", 13, "opset13"
    xp_function = "bitwise_xor"


class _Shift(_BitwiseBinary):
    """Counts outside [0, bit width) (undefined in OpenVINO's spec and the array-API standard) shift
    everything out, as numpy and ONNX do: a left shift gives 0, a right shift the sign fill."""

    allow_bool = False
    xp_function: ClassVar[str]

    @classmethod
    def kernel(cls, xp, node):
        if is_numpy(xp):  # numpy's shifts already behave so
            return getattr(xp, cls.xp_function)
        return functools.partial(cls.compute, xp)

    @classmethod
    def compute(cls, xp, a, b):
        bits = xp.iinfo(a.dtype).bits
        outside = (b >= bits) if not xp.isdtype(b.dtype, "signed integer") else ((b < 0) | (b >= bits))
        safe = xp.where(outside, xp.zeros_like(b), b)
        shifted = getattr(xp, cls.xp_function)(a, safe)
        if cls.xp_function == "bitwise_left_shift" or not xp.isdtype(a.dtype, "signed integer"):
            fill = xp.zeros_like(shifted)
        else:
            fill = xp.where(a < 0, xp.full_like(shifted, -1), xp.zeros_like(shifted))
        return xp.where(outside, fill, shifted)


@register
class BitwiseLeftShift(_Shift):
    type_name, version, opset = "BitwiseLeftShift", 15, "opset15"
    xp_function = "bitwise_left_shift"


@register
class BitwiseRightShift(_Shift):
    """Arithmetic shift for signed types."""

    type_name, version, opset = "BitwiseRightShift", 15, "opset15"
    xp_function = "bitwise_right_shift"


# --- factories --------------------------------------------------------------------------------


def _unary_factory(type_name: str, fname: str) -> None:
    def build(node: Any, name: str | None = None) -> Node:
        return make(type_name, [node], name=name)

    _publish(build, type_name, fname)


def _publish(build: Callable[..., Node], type_name: str, fname: str) -> None:
    build.__name__ = build.__qualname__ = fname
    build.__doc__ = f"A {type_name} node (``openvino.opset16.{fname}``)."
    factory(build)


for _t, _f in (("Negative", "negative"), ("Abs", "absolute"), ("Sqrt", "sqrt"), ("Exp", "exp"),
               ("Log", "log"), ("Floor", "floor"), ("Ceiling", "ceiling"), ("Sign", "sign"),
               ("Erf", "erf"), ("Sin", "sin"), ("Cos", "cos"), ("Tan", "tan"), ("Tanh", "tanh"),
               ("Asin", "asin"), ("Acos", "acos"), ("Atan", "atan"), ("Sinh", "sinh"), ("Cosh", "cosh"),
               ("Asinh", "asinh"), ("Acosh", "acosh"), ("Atanh", "atanh"), ("BitwiseNot", "bitwise_not")):
    _unary_factory(_t, _f)
alias("abs", "absolute")  # openvino.opset16 has both spellings
alias("ceil", "ceiling")


@factory
def is_finite(data: Any, name: str | None = None) -> Node:
    return make("IsFinite", [data], name=name)


@factory
def is_nan(data: Any, name: str | None = None) -> Node:
    return make("IsNaN", [data], name=name)


@factory
def is_inf(data: Any, attributes: dict | None = None, name: str | None = None) -> Node:
    return make("IsInf", [data], dict(attributes or {}), name)


def _round(data: Any, mode: str = "half_to_even", name: str | None = None) -> Node:
    return make("Round", [data], {"mode": mode}, name)


_publish(_round, "Round", "round")


def _bitwise_factory(type_name: str, fname: str) -> None:
    def build(left_node: Any, right_node: Any, auto_broadcast: str = "NUMPY",
              name: str | None = None) -> Node:
        return make(type_name, [left_node, right_node], {"auto_broadcast": auto_broadcast}, name)

    _publish(build, type_name, fname)


def _shift_factory(type_name: str, fname: str) -> None:
    def build(arg0: Any, arg1: Any, auto_broadcast: str = "NUMPY", name: str | None = None) -> Node:
        return make(type_name, [arg0, arg1], {"auto_broadcast": auto_broadcast}, name)

    _publish(build, type_name, fname)


for _t, _f in (("BitwiseAnd", "bitwise_and"), ("BitwiseOr", "bitwise_or"), ("BitwiseXor", "bitwise_xor")):
    _bitwise_factory(_t, _f)
for _t, _f in (("BitwiseLeftShift", "bitwise_left_shift"), ("BitwiseRightShift", "bitwise_right_shift")):
    _shift_factory(_t, _f)
