"""Activation functions: Relu, Sigmoid, Clamp, Elu, PRelu, Gelu, Swish, HSwish, HSigmoid, Mish,
SoftPlus, SoftSign, HardSigmoid, Selu, Softmax, LogSoftmax.

Each formula is written for float32/float64 and kept free of overflow (no ``exp`` of a large positive
number), so it needs no error-state handling. Where OpenVINO also accepts integer tensors, they go
through :func:`~arrayrt.ir.ops.unary.via_float` (computed in float64, rounded to nearest), and
16-bit floats are computed in float32, as OpenVINO's CPU plugin does.
"""
from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._shapes import broadcast_shapes, same_types
from arrayrt.ir.ops._xp import dtype_of, erf
from arrayrt.ir.ops.base import Attr, OpDef, check_float, register, same_as_input
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.ops.unary import (
    check_numeric,
    float_kernel,
    is_integral,
    typed_scalar,
    via_float,
)

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where


class Activation(OpDef):
    """Input 0 is the data; further inputs are parameters of its type. Output: type and shape of
    input 0. ``formula(xp, x, *params, **attrs)`` computes it for float32/float64."""

    #: OpenVINO rejects integer data (Gelu, Swish, Mish, SoftPlus, SoftSign, Selu)
    real_only: ClassVar[bool] = False
    #: inputs after the data that must be scalars (rank 0)
    scalar_inputs: ClassVar[tuple[int, ...]] = ()

    @classmethod
    def infer(cls, node):
        (check_float if cls.real_only else check_numeric)(node)
        if node.get_input_size() > 1:
            same_types(node)
        for i in cls.scalar_inputs:
            if i < node.get_input_size():
                _check_scalar(node, i)
        return same_as_input(node)

    @staticmethod
    def formula(xp: Any, x: Any, *params: Any, **attrs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def compute(cls, xp, *inputs, **attrs):
        return via_float(xp, functools.partial(cls.formula, xp, **attrs), *inputs)

    @classmethod
    def kernel(cls, xp, node):
        return float_kernel(xp, node, functools.partial(cls.formula, xp, **cls.compute_attrs(node)))


def _check_scalar(node: Any, i: int) -> None:
    s = node.input_shape(i)
    if s.rank_is_static and len(s) != 0:
        raise ShapeInferenceError(f"{where(node)}: input {i} must be a scalar (rank 0), got shape {s}")


def _check_one_element(node: Any, i: int) -> None:
    s = node.input_shape(i)
    if s.rank_is_static and (len(s) > 1 or (s.is_static and math.prod(s.to_shape()) != 1)):
        raise ShapeInferenceError(f"{where(node)}: input {i} must hold one element, got shape {s}")


def _sigmoid(xp: Any, x: Any) -> Any:
    # exp(-x) overflows below about -88 (float32) / -709 (float64); clamped, the result there is
    # 1.8e-35 / 1e-304 instead of something smaller
    floor = -80.0 if x.dtype == xp.float32 else -700.0
    return 1.0 / (1.0 + xp.exp(-xp.maximum(x, floor)))


def _softplus(xp: Any, x: Any) -> Any:
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def _elu(xp: Any, x: Any, alpha: Any) -> Any:
    # max/min instead of ``where``, which numpy runs several times slower on mixed signs
    return xp.maximum(x, 0.0) + alpha * xp.expm1(xp.minimum(x, 0.0))


@register
class Relu(Activation):
    """max(x, 0). NaN stays NaN (array-API ``maximum``); OpenVINO's reference and CPU plugin give 0."""

    type_name, version, opset = "Relu", 0, "opset1"

    @staticmethod
    def compute(xp, x):
        return xp.maximum(x, 0)

    @classmethod
    def kernel(cls, xp, node):
        zero = typed_scalar(xp, 0, node.input_type(0))
        maximum = xp.maximum
        return lambda x: maximum(x, zero)


@register
class Sigmoid(Activation):
    type_name, version, opset = "Sigmoid", 0, "opset1"
    formula = staticmethod(_sigmoid)


def _int_bounds(xp: Any, dtype: Any, lo: float, hi: float) -> tuple[int, int]:
    """Clamp bounds for an integer type: ``ceil(min)``, ``floor(max)``, saturated to the type."""
    info = xp.iinfo(dtype)

    def sat(v: float, rnd) -> int:
        if math.isinf(v):
            return info.min if v < 0 else info.max
        return min(max(int(rnd(v)), info.min), info.max)

    return sat(lo, math.ceil), sat(hi, math.floor)


@register
class Clamp(Activation):
    """min(max(x, min), max). Integer tensors use ceil(min) and floor(max), as the spec says."""

    type_name, version, opset = "Clamp", 0, "opset1"
    attrs = (Attr("min", "float"), Attr("max", "float"))

    @classmethod
    def check_attrs(cls, attrs, node):
        if not attrs["min"] <= attrs["max"]:
            raise OpAttributeError(f"{where(node)}: attribute 'min' ({attrs['min']}) must not exceed "
                                   f"'max' ({attrs['max']})")

    @staticmethod
    def compute(xp, x, min, max):  # the attributes' names
        if is_integral(xp, x.dtype):
            min, max = _int_bounds(xp, x.dtype, min, max)
        return xp.minimum(xp.maximum(x, min), max)

    @classmethod
    def kernel(cls, xp, node):
        t = node.input_type(0)
        lo, hi = node.attrs["min"], node.attrs["max"]
        if not t.is_static:
            return functools.partial(cls.compute, xp, min=lo, max=hi)
        if t.is_integral_number:
            lo, hi = _int_bounds(xp, dtype_of(xp, t), lo, hi)
        lo, hi = typed_scalar(xp, lo, t), typed_scalar(xp, hi, t)
        minimum, maximum = xp.minimum, xp.maximum
        return lambda x: minimum(maximum(x, lo), hi)


@register
class Elu(Activation):
    type_name, version, opset = "Elu", 0, "opset1"
    attrs = (Attr("alpha", "float"),)

    formula = staticmethod(_elu)


@register
class PRelu(OpDef):
    """x where x >= 0, else slope * x. A 1-D slope as long as data's axis 1 applies per channel (axis
    1); any other slope broadcasts into the data with numpy rules."""

    type_name, version, opset = "PRelu", 0, "opset1"
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_numeric(node)
        same_types(node)
        data, slope = node.input_shape(0), node.input_shape(1)
        if not (data.rank_is_static and slope.rank_is_static):
            return same_as_input(node)
        if len(slope) == 1 and len(data) >= 2 and slope[0].compatible(data[1]):
            return same_as_input(node)
        try:
            ok = len(slope) <= len(data) and broadcast_shapes(data, slope).compatible(data)
        except ShapeInferenceError:
            ok = False
        if not ok:
            raise ShapeInferenceError(f"{where(node)}: slope of shape {slope} neither matches the channels "
                                      f"(axis 1) of data {data} nor broadcasts into it")
        return same_as_input(node)

    @staticmethod
    def compute(xp, x, slope):
        if slope.ndim == 1 and x.ndim >= 2 and slope.shape[0] == x.shape[1]:
            slope = xp.reshape(slope, (slope.shape[0],) + (1,) * (x.ndim - 2))
        return xp.maximum(x, 0) + slope * xp.minimum(x, 0)


# --- Gelu -------------------------------------------------------------------------------------

_SQRT1_2 = 1.0 / math.sqrt(2.0)
#: erf(z) ~ z * P(z^2) / Q(z^2) on |z| <= 3.92 (beyond, erf is within 5.3e-8 of +-1): a rational
#: least-squares/Lawson fit made for arrayrt, 1.6e-8 from erf in exact arithmetic; coefficients from
#: degree 0 up.
_ERF_P = (1.1283790226435402, 0.19274584260308955, 0.053058313612245514, 0.003867609855892272,
          0.0002874744193902233, 2.035023771163047e-06)
_ERF_Q = (1.0, 0.504148225046042, 0.11507730770549984, 0.015170853652102013, 0.0011879617252547377,
          3.80733672177766e-05)
#: the same in terms of x (z = x / sqrt 2) and including Gelu's factor 0.5: 0.5 erf(z) = x P'(x^2) / Q'(x^2)
_GELU_P = tuple(p * 0.5 * _SQRT1_2 / 2.0**k for k, p in enumerate(_ERF_P))
_GELU_Q = tuple(q / 2.0**k for k, q in enumerate(_ERF_Q))
#: beyond |x| = 5.34 the fit, rounded to float32, is at or above 0.5 (erf(x / sqrt 2) is within 1e-7 of 1
#: there); at 5.9 it exceeds 0.5 by 10 float32 ulps, so the clamp of 0.5 + 0.5 erf to [0, 1] makes Gelu
#: exactly 0 and x beyond, whatever the rounding
_GELU_CLIP = 5.9


def _gelu_erf(xp: Any, x: Any) -> Any:
    """0.5 x (1 + erf(x / sqrt 2)). float32 uses the rational fit above, in place and in three buffers
    (about 10x faster than :func:`~arrayrt.ir.ops._xp.erf` on numpy; within 2.6e-7 |x| of the exact
    value, about 2 float32 ulps); float64 uses the full-precision erf.

    Few live buffers matter on numpy: glibc hands large freed blocks back to the OS, and faulting
    fresh pages in again can cost more than this arithmetic (128x512: 0.6 ms with five buffers)."""
    if x.dtype != xp.float32:
        return 0.5 * x * (1.0 + erf(xp, x * _SQRT1_2))
    xc = xp.clip(x, -_GELU_CLIP, _GELU_CLIP)
    u = xc * xc
    num = u * _GELU_P[-1]
    for p in _GELU_P[-2:0:-1]:
        num += p
        num *= u
    num += _GELU_P[0]
    num *= xc
    den = xc  # xc is not needed any more: its buffer becomes Q'(u)
    den *= xc
    den *= _GELU_Q[-1]
    for q in _GELU_Q[-2:0:-1]:
        den += q
        den *= u
    den += _GELU_Q[0]
    num /= den
    num += 0.5
    del den, u  # before clip allocates: three live buffers at most
    s = xp.clip(num, 0.0, 1.0)
    s *= x
    return s


_TANH_K = math.sqrt(2.0 / math.pi)


def _gelu_tanh(xp: Any, x: Any) -> Any:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    y = x * x
    y *= 0.044715 * _TANH_K
    y += _TANH_K
    y *= x
    y = xp.tanh(y)
    y += 1.0
    y *= x
    y *= 0.5
    return y


@register
class Gelu_2(Activation):
    """Gelu-2: the erf form only."""

    type_name, version, opset = "Gelu", 0, "opset2"
    real_only = True
    formula = staticmethod(_gelu_erf)


@register
class Gelu(Activation):
    type_name, version, opset = "Gelu", 7, "opset7"
    attrs = (Attr("approximation_mode", "str", "ERF", choices=("ERF", "TANH")),)
    real_only = True

    @staticmethod
    def formula(xp, x, approximation_mode):
        return (_gelu_erf if approximation_mode == "ERF" else _gelu_tanh)(xp, x)

    @classmethod
    def kernel(cls, xp, node):
        f = _gelu_erf if node.attrs["approximation_mode"] == "ERF" else _gelu_tanh
        return float_kernel(xp, node, functools.partial(f, xp))


# --- other smooth activations -------------------------------------------------------------------


@register
class Swish(Activation):
    """x * sigmoid(beta * x); ``beta`` (a scalar input) defaults to 1."""

    type_name, version, opset = "Swish", 4, "opset4"
    n_inputs = (1, 2)
    real_only = True
    scalar_inputs = (1,)

    @staticmethod
    def formula(xp, x, beta=None):
        return x * _sigmoid(xp, x if beta is None else beta * x)


@register
class HSwish(Activation):
    type_name, version, opset = "HSwish", 4, "opset4"

    @staticmethod
    def formula(xp, x):
        return x * xp.minimum(xp.maximum(x + 3.0, 0.0), 6.0) / 6.0


@register
class HSigmoid(Activation):
    type_name, version, opset = "HSigmoid", 5, "opset5"

    @staticmethod
    def formula(xp, x):
        return xp.minimum(xp.maximum(x + 3.0, 0.0), 6.0) / 6.0


@register
class Mish(Activation):
    type_name, version, opset = "Mish", 4, "opset4"
    real_only = True

    @staticmethod
    def formula(xp, x):
        return x * xp.tanh(_softplus(xp, x))


@register
class SoftPlus(Activation):
    """log(1 + e^x), as max(x, 0) + log1p(e^-|x|): exact to rounding for every x, so the spec's
    switch to x above a threshold (20 for f32) comes out the same."""

    type_name, version, opset = "SoftPlus", 4, "opset4"
    real_only = True
    formula = staticmethod(_softplus)


@register
class SoftSign(Activation):
    type_name, version, opset = "SoftSign", 9, "opset9"
    real_only = True

    @staticmethod
    def formula(xp, x):
        return x / (1.0 + xp.abs(x))


@register
class HardSigmoid(Activation):
    """max(0, min(1, alpha x + beta)) with scalar inputs ``alpha`` and ``beta``."""

    type_name, version, opset = "HardSigmoid", 0, "opset1"
    n_inputs = (3, 3)
    scalar_inputs = (1, 2)

    @staticmethod
    def formula(xp, x, alpha, beta):
        return xp.maximum(xp.minimum(alpha * x + beta, 1.0), 0.0)


@register
class Selu(Activation):
    """lambda * (x if x > 0 else alpha (e^x - 1)); ``alpha`` and ``lambda`` hold one element each."""

    type_name, version, opset = "Selu", 0, "opset1"
    n_inputs = (3, 3)
    real_only = True

    @classmethod
    def infer(cls, node):
        _check_one_element(node, 1)
        _check_one_element(node, 2)
        return super().infer(node)

    @staticmethod
    def formula(xp, x, alpha, lambda_):
        alpha, lambda_ = xp.reshape(alpha, ()), xp.reshape(lambda_, ())
        return lambda_ * _elu(xp, x, alpha)


# --- Softmax, LogSoftmax ------------------------------------------------------------------------


def _check_axis(node: Any, allow_negative: bool) -> None:
    axis = node.attrs["axis"]
    s = node.input_shape(0)
    if not allow_negative and axis < 0:
        raise ShapeInferenceError(f"{where(node)}: attribute 'axis' must be non-negative in "
                                  f"{node.type_name}-{node.op.version}, got {axis}")
    if s.rank_is_static and not -len(s) <= axis < len(s):
        raise ShapeInferenceError(f"{where(node)}: attribute 'axis' {axis} is out of range for input of "
                                  f"rank {len(s)}")


def _softmax(xp: Any, x: Any, axis: int) -> Any:
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    e /= xp.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax(xp: Any, x: Any, axis: int) -> Any:
    s = x - xp.max(x, axis=axis, keepdims=True)
    s -= xp.log(xp.sum(xp.exp(s), axis=axis, keepdims=True))
    return s


class _SoftmaxBase(Activation):
    allow_negative_axis: ClassVar[bool] = True

    @classmethod
    def infer(cls, node):
        _check_axis(node, cls.allow_negative_axis)
        return super().infer(node)


@register
class Softmax_1(_SoftmaxBase):
    type_name, version, opset = "Softmax", 1, "opset1"
    attrs = (Attr("axis", "int", 1),)
    allow_negative_axis = False
    formula = staticmethod(_softmax)


@register
class Softmax(_SoftmaxBase):
    type_name, version, opset = "Softmax", 8, "opset8"
    attrs = (Attr("axis", "int", 1),)
    formula = staticmethod(_softmax)


@register
class LogSoftmax(_SoftmaxBase):
    type_name, version, opset = "LogSoftmax", 5, "opset5"
    attrs = (Attr("axis", "int", 1),)
    formula = staticmethod(_log_softmax)


# --- factories --------------------------------------------------------------------------------


def _simple(type_name: str, fname: str) -> None:
    def build(data: Any, name: str | None = None) -> Node:
        return make(type_name, [data], name=name)

    build.__name__ = build.__qualname__ = fname
    build.__doc__ = f"A {type_name} node (``openvino.opset16.{fname}``)."
    factory(build)


for _t, _f in (("Sigmoid", "sigmoid"), ("HSwish", "hswish"), ("HSigmoid", "hsigmoid"), ("Mish", "mish"),
               ("SoftPlus", "softplus")):
    _simple(_t, _f)


@factory
def relu(node: Any, name: str | None = None) -> Node:
    return make("Relu", [node], name=name)


@factory
def softsign(node: Any, name: str | None = None) -> Node:
    return make("SoftSign", [node], name=name)


@factory
def clamp(data: Any, min_value: float, max_value: float, name: str | None = None) -> Node:
    return make("Clamp", [data], {"min": min_value, "max": max_value}, name)


@factory
def elu(data: Any, alpha: float, name: str | None = None) -> Node:
    return make("Elu", [data], {"alpha": alpha}, name)


@factory
def prelu(data: Any, slope: Any, name: str | None = None) -> Node:
    return make("PRelu", [data, slope], name=name)


@factory
def gelu(data: Any, approximation_mode: str, name: str | None = None) -> Node:
    return make("Gelu", [data], {"approximation_mode": approximation_mode}, name)


@factory
def swish(data: Any, beta: Any = None, name: str | None = None) -> Node:
    return make("Swish", [data] if beta is None else [data, beta], name=name)


@factory
def hard_sigmoid(data: Any, alpha: Any, beta: Any, name: str | None = None) -> Node:
    return make("HardSigmoid", [data, alpha, beta], name=name)


@factory
def selu(data: Any, alpha: Any, lambda_value: Any, name: str | None = None) -> Node:
    return make("Selu", [data, alpha, lambda_value], name=name)


@factory
def softmax(data: Any, axis: int, name: str | None = None) -> Node:
    return make("Softmax", [data], {"axis": axis}, name)


@factory
def log_softmax(data: Any, axis: int, name: str | None = None) -> Node:
    return make("LogSoftmax", [data], {"axis": axis}, name)
