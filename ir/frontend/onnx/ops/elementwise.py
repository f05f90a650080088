"""Elementwise ONNX ops: arithmetic, math, comparison, logic, bitwise, casts, activations, softmax
family, constants and generators (EyeLike, Trilu, random numbers).

Translators build OpenVINO-semantics IR. Where ONNX semantics changed between opsets there is one
translator per range: legacy ``broadcast``/``axis`` attributes before opset 7, Clip attributes before
11, Softmax/LogSoftmax/Hardmax coercing the input to 2-D before 13, Dropout inputs from 12.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ml_dtypes
import numpy as np
import onnx
from arrayrt.ir.frontend.onnx.registry import translator
from arrayrt.ir.frontend.onnx.types import onnx_type, tensor_to_numpy
from arrayrt.ir.graph import Output
from arrayrt.ir.types import Type

from arrayrt.errors import ModelReadError, UnsupportedOpError

# --- helpers ----------------------------------------------------------------------------------


def _out(x) -> Output:
    return x if isinstance(x, Output) else x.output(0)


def _type(x: Output) -> Type:
    return x.get_element_type()


def _rank(x: Output) -> int | None:
    s = x.get_partial_shape()
    return len(s) if s.rank_is_static else None


def _like(node, value, x: Output) -> Output:
    """A scalar constant of ``x``'s element type (ConvertLike when that type is not known yet)."""
    t = _type(x)
    if t.is_static:
        return node.const(value, t)
    return _out(node.make("ConvertLike", [node.const(np.float64(value)), x]))


def _i64(node, value) -> Output:
    return node.const(np.asarray(value, dtype=np.int64))


def _inputs(node) -> list[Output]:
    return [node.require(i) for i in range(len(node.inputs))]


def _dim(node, x: Output, axis: int) -> Output:
    """Size of ``x`` along ``axis`` as an i64 scalar (a constant when static)."""
    s = x.get_partial_shape()
    if s.rank_is_static and s[axis].is_static:
        return _i64(node, s[axis].get_length())
    shape = node.make("ShapeOf", [x], {"output_type": Type.i64})
    return _out(node.make("Gather", [shape, _i64(node, axis), _i64(node, 0)]))


def _shape_of(node, x: Output) -> Output:
    s = x.get_partial_shape()
    if s.is_static:
        return _i64(node, s.to_shape())
    return _out(node.make("ShapeOf", [x], {"output_type": Type.i64}))


def _legacy_rhs(node, a: Output, b: Output) -> Output:
    """Opset < 7 binary ops broadcast B onto A only with ``broadcast=1``, aligned at ``axis``."""
    if node.version >= 7 or not node.attr("broadcast", 0) or not node.has_attr("axis"):
        return b
    ra, rb = _rank(a), _rank(b)
    if ra is None or rb is None:
        raise UnsupportedOpError("legacy broadcasting with 'axis' needs inputs of known rank")
    axis = node.attr("axis")
    axis = axis + ra if axis < 0 else axis
    trailing = ra - axis - rb
    if trailing <= 0:
        return b
    return _out(node.make("Unsqueeze", [b, _i64(node, list(range(rb, rb + trailing)))]))


# --- binary arithmetic, comparison, logic -----------------------------------------------------


def _binary(onnx_op: str, ir_op: str, attrs: dict | None = None) -> None:
    @translator(onnx_op)
    def convert(node):
        a = node.require(0)
        return [node.make(ir_op, [a, _legacy_rhs(node, a, node.require(1))], attrs)]

    convert.__name__ = f"convert_{onnx_op.lower()}"


for _onnx, _ir in (("Add", "Add"), ("Sub", "Subtract"), ("Mul", "Multiply"), ("Equal", "Equal"),
                   ("Less", "Less"), ("Greater", "Greater"), ("LessOrEqual", "LessEqual"),
                   ("GreaterOrEqual", "GreaterEqual"), ("And", "LogicalAnd"), ("Or", "LogicalOr"),
                   ("Xor", "LogicalXor"), ("BitwiseAnd", "BitwiseAnd"), ("BitwiseOr", "BitwiseOr"),
                   ("BitwiseXor", "BitwiseXor")):
    _binary(_onnx, _ir)

# ONNX integer division truncates toward zero
_binary("Div", "Divide", {"m_pythondiv": False})


@translator("Pow")
def pow_(node):
    """The exponent may have another type than the base (opset 12+); the result has the base's type.
    An integer base with a float exponent is computed in the exponent's type and truncated back."""
    x, y = node.require(0), node.require(1)
    y = _legacy_rhs(node, x, y)
    tx, ty = _type(x), _type(y)
    if tx.is_static and ty.is_static and tx is not ty:
        if tx.is_integral_number and ty.is_real:
            p = node.make("Power", [node.make("Convert", [x], {"destination_type": ty}), y])
            return [node.make("Convert", [p], {"destination_type": tx})]
        y = _out(node.make("Convert", [y], {"destination_type": tx}))
    return [node.make("Power", [x, y])]


@translator("Mod")
def mod(node):
    """fmod=0: the remainder takes the divisor's sign (FloorMod); fmod=1: the dividend's (Mod)."""
    ir = "Mod" if node.attr("fmod", 0) else "FloorMod"
    return [node.make(ir, [node.require(0), node.require(1)])]


@translator("BitShift")
def bit_shift(node):
    direction = node.attr("direction")
    ir = {"LEFT": "BitwiseLeftShift", "RIGHT": "BitwiseRightShift"}.get(direction)
    if ir is None:
        raise ModelReadError(f"attribute 'direction' must be LEFT or RIGHT, got '{direction}'")
    return [node.make(ir, [node.require(0), node.require(1)])]


def _variadic(onnx_op: str, ir_op: str) -> None:
    @translator(onnx_op)
    def convert(node):
        return [_fold(node, ir_op, _inputs(node))]

    convert.__name__ = f"convert_{onnx_op.lower()}"


def _fold(node, ir_op: str, xs: Sequence[Output]) -> Output:
    if not xs:
        raise ModelReadError("needs at least one input")
    acc = xs[0]
    for x in xs[1:]:
        acc = _out(node.make(ir_op, [acc, x]))
    return acc


# Maximum/Minimum propagate NaN, as ONNX Max/Min do
for _onnx, _ir in (("Max", "Maximum"), ("Min", "Minimum"), ("Sum", "Add")):
    _variadic(_onnx, _ir)


@translator("Mean")
def mean(node):
    xs = _inputs(node)
    total = _fold(node, "Add", xs)
    if len(xs) == 1:
        return [total]
    return [node.make("Divide", [total, _like(node, len(xs), total)])]


@translator("Where")
def where_(node):
    return [node.make("Select", [node.require(0), node.require(1), node.require(2)])]


# --- unary math -------------------------------------------------------------------------------


def _unary(onnx_op: str, ir_op: str, attrs: dict | None = None) -> None:
    @translator(onnx_op)
    def convert(node):
        return [node.make(ir_op, [node.require(0)], attrs)]

    convert.__name__ = f"convert_{onnx_op.lower()}"


for _onnx, _ir in (("Neg", "Negative"), ("Abs", "Abs"), ("Sqrt", "Sqrt"), ("Exp", "Exp"), ("Log", "Log"),
                   ("Floor", "Floor"), ("Ceil", "Ceiling"), ("Sign", "Sign"), ("Erf", "Erf"), ("Sin", "Sin"),
                   ("Cos", "Cos"), ("Tan", "Tan"), ("Asin", "Asin"), ("Acos", "Acos"), ("Atan", "Atan"),
                   ("Sinh", "Sinh"), ("Cosh", "Cosh"), ("Asinh", "Asinh"), ("Acosh", "Acosh"),
                   ("Atanh", "Atanh"), ("Tanh", "Tanh"), ("Sigmoid", "Sigmoid"), ("Relu", "Relu"),
                   ("Not", "LogicalNot"), ("BitwiseNot", "BitwiseNot"), ("IsNaN", "IsNaN"),
                   ("HardSwish", "HSwish"), ("Softplus", "SoftPlus"), ("Softsign", "SoftSign"),
                   ("Mish", "Mish")):
    _unary(_onnx, _ir)

_unary("Round", "Round", {"mode": "half_to_even"})


@translator("Reciprocal")
def reciprocal(node):
    x = node.require(0)
    return [node.make("Divide", [_like(node, 1, x), x])]


@translator("IsInf")
def is_inf(node):
    attrs = {"detect_negative": bool(node.attr("detect_negative", 1)),
             "detect_positive": bool(node.attr("detect_positive", 1))}
    return [node.make("IsInf", [node.require(0)], attrs)]


@translator("Identity")
def identity(node):
    return [node.require(0)]


# --- casts --------------------------------------------------------------------------------------

_FLOAT8 = {"f8e4m3", "f8e5m2", "f8e4m3fnuz", "f8e5m2fnuz"}
#: the smallest and largest float8e8m0 values (2^-127 and 2^127)
_E8M0_MIN, _E8M0_MAX = 2.0**-127, 2.0**127


def cast(node, x: Output, to: Type, saturate: bool = True, round_mode: str = "up") -> Output:
    """ONNX Cast of ``x`` to ``to``: OpenVINO's Convert (floats to integers truncate, integers wrap,
    float8 overflow gives NaN/inf) plus ONNX's ``saturate`` rule for float8 targets (clamp to the
    largest finite value first) and ``round_mode`` for float8e8m0."""
    src = _type(x)
    if src is to:
        return x
    if to.name == "f8e8m0" and src.is_real:
        return _cast_e8m0(node, x, saturate, round_mode)
    if to.name in _FLOAT8 and saturate and (src.is_real or src.is_integral_number):
        fmax = float(ml_dtypes.finfo(to.to_dtype()).max)
        src_max = float(ml_dtypes.finfo(src.to_dtype()).max) if src.is_real else 2.0**src.bitwidth
        if src_max > fmax:
            x = _out(node.make("Clamp", [x], {"min": -fmax, "max": fmax}))
    return _out(node.make("Convert", [x], {"destination_type": to}))


def _cast_e8m0(node, x: Output, saturate: bool, round_mode: str) -> Output:
    """float8e8m0 holds powers of two. Convert rounds to the nearest; ``up``/``down`` step the result
    by one power where it fell on the wrong side. Saturation clamps to [2^-127, 2^127] first (zero
    and infinity included)."""
    if round_mode not in ("up", "down", "nearest"):
        raise ModelReadError(f"attribute 'round_mode' must be up, down or nearest, got '{round_mode}'")
    if _type(x) is not Type.f32:
        x = _out(node.make("Convert", [x], {"destination_type": Type.f32}))
    if saturate:
        x = _out(node.make("Clamp", [x], {"min": _E8M0_MIN, "max": _E8M0_MAX}))
    v = _out(node.make("Convert", [x], {"destination_type": Type.f8e8m0}))
    if round_mode == "nearest":
        return v
    back = _out(node.make("Convert", [v], {"destination_type": Type.f32}))
    if round_mode == "up":  # (capped so that 2^127 does not overflow where it is not selected)
        capped = node.make("Minimum", [back, node.const(np.float32(_E8M0_MAX / 2))])
        wrong, step = node.make("Less", [back, x]), node.make("Multiply", [capped, node.const(np.float32(2))])
    else:
        wrong, step = node.make("Greater", [back, x]), node.make("Multiply", [back, node.const(np.float32(0.5))])
    fixed = node.make("Select", [wrong, step, back])
    return _out(node.make("Convert", [fixed], {"destination_type": Type.f8e8m0}))


def _to_type(node) -> Type:
    """Cast's ``to``: a TensorProto data type, or its name (a string attribute in Cast-1)."""
    to = node.attr("to")
    if isinstance(to, str):
        if to.upper() not in onnx.TensorProto.DataType.keys():
            raise ModelReadError(f"attribute 'to' names no ONNX element type: '{to}'")
        to = onnx.TensorProto.DataType.Value(to.upper())
    return onnx_type(to, "attribute 'to': ")


@translator("Cast")
def cast_(node):
    to = _to_type(node)
    return [cast(node, node.require(0), to, bool(node.attr("saturate", 1)), node.attr("round_mode", "up"))]


@translator("CastLike")
def cast_like(node):
    like = node.require(1)
    to = _type(like)
    if not to.is_static:
        return [node.make("ConvertLike", [node.require(0), like])]
    return [cast(node, node.require(0), to, bool(node.attr("saturate", 1)), node.attr("round_mode", "up"))]


@translator("BitCast")
def bit_cast(node):
    to = onnx_type(node.attr("to"), "attribute 'to': ")
    return [node.make("BitCast", [node.require(0)], {"destination_type": to})]


# --- Clip -----------------------------------------------------------------------------------------


def _clip(node, x: Output, lo: Output | float | None, hi: Output | float | None) -> Output:
    """min(max(x, lo), hi); a Clamp when both bounds are known numbers of a float tensor (and
    lo <= hi: ONNX then gives ``hi`` everywhere, which Maximum-then-Minimum reproduces)."""
    t = _type(x)
    los = lo if not isinstance(lo, Output) else _const_scalar(lo)
    his = hi if not isinstance(hi, Output) else _const_scalar(hi)
    if t.is_real and los is not None and his is not None and los <= his:
        return _out(node.make("Clamp", [x], {"min": float(los), "max": float(his)}))
    if lo is not None and not (isinstance(lo, float) and lo == -math.inf):
        x = _out(node.make("Maximum", [x, lo if isinstance(lo, Output) else _like(node, lo, x)]))
    if hi is not None and not (isinstance(hi, float) and hi == math.inf):
        x = _out(node.make("Minimum", [x, hi if isinstance(hi, Output) else _like(node, hi, x)]))
    return x


def _const_scalar(out: Output) -> float | None:
    v = out.node.static_value(out.index)
    if v is None or v.size != 1 or v.dtype.kind != "f":
        return None
    return float(v.reshape(()))


@translator("Clip")
def clip_attrs(node):
    """Opsets 1-10: bounds are attributes (default: no bound)."""
    return [_clip(node, node.require(0), node.attr("min", -math.inf), node.attr("max", math.inf))]


@translator("Clip", since=11)
def clip(node):
    return [_clip(node, node.require(0), node.input(1), node.input(2))]


# --- activations ------------------------------------------------------------------------------


@translator("LeakyRelu")
def leaky_relu(node):
    x = node.require(0)
    return [node.make("PRelu", [x, _like(node, node.attr("alpha", 0.01), x)])]


@translator("PRelu")
def prelu(node):
    """From opset 7 the slope broadcasts with numpy rules; IR PRelu reads a 1-D slope as per-channel
    (axis 1), the opset-6 meaning, so a 1-D slope of a rank >= 3 input is first given leading 1s."""
    x, slope = node.require(0), node.require(1)
    rx, rs = _rank(x), _rank(slope)
    if node.version >= 7 and rs == 1 and rx is not None and rx >= 3:
        slope = _out(node.make("Unsqueeze", [slope, _i64(node, list(range(rx - 1)))]))
    return [node.make("PRelu", [x, slope])]


@translator("Elu")
def elu(node):
    return [node.make("Elu", [node.require(0)], {"alpha": node.attr("alpha", 1.0)})]


@translator("Celu")
def celu(node):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)) = alpha * Elu(x / alpha, 1)."""
    x = node.require(0)
    alpha = _like(node, node.attr("alpha", 1.0), x)
    e = node.make("Elu", [node.make("Divide", [x, alpha])], {"alpha": 1.0})
    return [node.make("Multiply", [e, alpha])]


@translator("Selu")
def selu(node):
    x = node.require(0)
    alpha = _like(node, node.attr("alpha", 1.67326319217681884765625), x)
    gamma = _like(node, node.attr("gamma", 1.05070102214813232421875), x)
    return [node.make("Selu", [x, alpha, gamma])]


@translator("HardSigmoid")
def hard_sigmoid(node):
    x = node.require(0)
    return [node.make("HardSigmoid", [x, _like(node, node.attr("alpha", 0.2), x),
                                      _like(node, node.attr("beta", 0.5), x)])]


@translator("ThresholdedRelu")
def thresholded_relu(node):
    x = node.require(0)
    keep = node.make("Greater", [x, _like(node, node.attr("alpha", 1.0), x)])
    return [node.make("Select", [keep, x, _like(node, 0, x)])]


@translator("Shrink")
def shrink(node):
    """x - bias above lambd, x + bias below -lambd, 0 between."""
    x = node.require(0)
    lambd, bias = node.attr("lambd", 0.5), node.attr("bias", 0.0)
    zero = _like(node, 0, x)
    upper = node.make("Select", [node.make("Greater", [x, _like(node, lambd, x)]),
                                 node.make("Subtract", [x, _like(node, bias, x)]), zero])
    return [node.make("Select", [node.make("Less", [x, _like(node, -lambd, x)]),
                                 node.make("Add", [x, _like(node, bias, x)]), upper])]


@translator("Gelu")
def gelu(node):
    mode = node.attr("approximate", "none")
    if mode not in ("none", "tanh"):
        raise ModelReadError(f"attribute 'approximate' must be none or tanh, got '{mode}'")
    return [node.make("Gelu", [node.require(0)], {"approximation_mode": "ERF" if mode == "none" else "TANH"})]


def _swish(node, x: Output, alpha: float) -> Output:
    inputs = [x] if alpha == 1.0 else [x, _like(node, alpha, x)]
    return _out(node.make("Swish", inputs))


@translator("Swish")
def swish(node):
    return [_swish(node, node.require(0), node.attr("alpha", 1.0))]


@translator("SwiGLU")
def swiglu(node):
    """Swish_alpha(A) * B; A and B have one shape (no broadcasting)."""
    a, b = node.require(0), node.require(1)
    return [node.make("Multiply", [_swish(node, a, node.attr("alpha", 1.0)), b], {"auto_broadcast": "none"})]


@translator("Binarizer", domain="ai.onnx.ml")
def binarizer(node):
    x = node.require(0)
    above = node.make("Greater", [x, _like(node, node.attr("threshold", 0.0), x)])
    return [node.make("Select", [above, _like(node, 1, x), _like(node, 0, x)])]


# --- Softmax, LogSoftmax, Hardmax ---------------------------------------------------------------


def _softmax(node, x, axis):
    return node.make("Softmax", [x], {"axis": axis}, version="opset8")


def _log_softmax(node, x, axis):
    return node.make("LogSoftmax", [x], {"axis": axis})


def _hardmax(node, x, axis):
    """One-hot of the first maximum along ``axis``: TopK(k=1) indices, squeezed, then OneHot."""
    top = node.make("TopK", [x, _i64(node, 1)], {"axis": axis, "mode": "max", "sort": "none",
                                                 "index_element_type": Type.i64})
    idx = node.make("Squeeze", [top.output(1), _i64(node, [axis])])
    return node.make("OneHot", [idx, _dim(node, x, axis), _like(node, 1, x), _like(node, 0, x)], {"axis": axis})


def _coerced_2d(node, x: Output, axis: int, fn: Callable) -> Output:
    """Before opset 13 the op works on x reshaped to [prod(shape[:axis]), prod(shape[axis:])]: the
    same as working along the last axis only when ``axis`` is the last one."""
    r = _rank(x)
    if r is not None:
        if not -r <= axis < max(r, 1):
            raise ModelReadError(f"attribute 'axis' {axis} is out of range for rank {r}")
        axis = axis + r if axis < 0 else axis
        if axis == r - 1 or r == 0:
            return _out(fn(node, x, max(r - 1, 0)))
        head = x.get_partial_shape()[:axis] if axis else []
        if all(d.is_static for d in head):
            target = _i64(node, [math.prod(d.get_length() for d in head), -1])
        else:
            target = _flat_target(node, x, axis)
    else:
        target = _flat_target(node, x, axis)
    flat = node.make("Reshape", [x, target], {"special_zero": False})
    y = fn(node, flat.output(0), 1)
    return _out(node.make("Reshape", [y, node.make("ShapeOf", [x], {"output_type": Type.i64})],
                          {"special_zero": False}))


def _flat_target(node, x: Output, axis: int) -> Output:
    shape = node.make("ShapeOf", [x], {"output_type": Type.i64})
    head = node.make("Slice", [shape, _i64(node, [0]), _i64(node, [axis]), _i64(node, [1])])
    rows = node.make("ReduceProd", [head, _i64(node, [0])], {"keep_dims": True})
    return _out(node.make("Concat", [rows, _i64(node, [-1])], {"axis": 0}))


def _softmax_family(onnx_op: str, fn: Callable) -> None:
    @translator(onnx_op)
    def legacy(node):
        return [_coerced_2d(node, node.require(0), node.attr("axis", 1), fn)]

    @translator(onnx_op, since=13)
    def convert(node):
        return [fn(node, node.require(0), node.attr("axis", -1))]

    legacy.__name__ = f"convert_{onnx_op.lower()}_2d"
    convert.__name__ = f"convert_{onnx_op.lower()}"


_softmax_family("Softmax", _softmax)
_softmax_family("LogSoftmax", _log_softmax)
_softmax_family("Hardmax", _hardmax)


# --- Dropout ----------------------------------------------------------------------------------


@translator("Dropout")
def dropout(node):
    """Before opset 12 Dropout is converted for inference: output = input, mask all true."""
    return _dropout_off(node, node.require(0))


@translator("Dropout", since=12)
def dropout_12(node):
    """In training mode (input 2) elements are zeroed with probability ``ratio`` (input 1, default
    0.5) and the others scaled by 1 / (1 - ratio): a random result. Either input may be known only
    at run time."""
    x = node.require(0)
    training = node.input(2)
    if training is None or _known(training) is False:
        return _dropout_off(node, x)
    ratio = node.input(1)
    if ratio is None:
        ratio = _like(node, 0.5, x)
    elif _type(ratio) is not _type(x):
        ratio = _out(node.make("ConvertLike", [ratio, x]))
    if _known(training) and _known(ratio) == 0.0:
        return _dropout_off(node, x)
    u = _random_uniform(node, _shape_of(node, x), _type(x), 0.0, 1.0)
    keep = node.make("GreaterEqual", [u, ratio])
    one = _like(node, 1, x)
    scale = node.make("Divide", [one, node.make("Subtract", [one, ratio])])
    if not _known(training):
        off = node.make("LogicalNot", [training])
        keep = node.make("LogicalOr", [off, keep])
        scale = node.make("Select", [training, scale, one])
    out = node.make("Select", [keep, node.make("Multiply", [x, scale]), _like(node, 0, x)])
    return [out, keep if node.output_used(1) else None]


def _known(out: Output):
    """The scalar value of ``out`` when known at conversion time (a bool or float), else None."""
    v = out.node.static_value(out.index)
    if v is None:
        return None
    v = np.asarray(v).reshape(())
    return bool(v) if v.dtype == np.bool_ else float(v)


def _dropout_off(node, x: Output) -> list:
    mask = None
    if node.output_used(1):
        t = Type.boolean if node.version >= 10 else _type(x)
        mask = node.make("Broadcast", [node.const(np.ones((), t.to_dtype()), t), _shape_of(node, x)])
    return [x, mask]


# --- constants ------------------------------------------------------------------------------------


@translator("Constant")
def constant(node):
    attrs = {a.name: a for a in node.proto.attribute}
    if "value" in attrs:
        t = attrs["value"].t
        return [node.const(tensor_to_numpy(t, node.graph.converter.base_dir), onnx_type(t.data_type))]
    if "sparse_value" in attrs:
        return [_sparse_constant(node, attrs["sparse_value"].sparse_tensor)]
    simple = (("value_float", np.float32, Type.f32), ("value_floats", np.float32, Type.f32),
              ("value_int", np.int64, Type.i64), ("value_ints", np.int64, Type.i64))
    for name, dtype, t in simple:
        if name in attrs:
            return [node.const(np.asarray(node.attr(name), dtype=dtype), t)]
    for name in ("value_string", "value_strings"):
        if name in attrs:
            return [node.const(np.asarray(node.attr(name), dtype=object), Type.string)]
    raise ModelReadError("a Constant needs one of the value* attributes")


def _sparse_constant(node, sparse: onnx.SparseTensorProto) -> Output:
    values = tensor_to_numpy(sparse.values)
    indices = tensor_to_numpy(sparse.indices).astype(np.int64)
    dims = tuple(sparse.dims)
    dense = np.zeros(dims, dtype=values.dtype)
    flat = indices if indices.ndim == 1 else np.ravel_multi_index(tuple(indices.T), dims)
    dense.reshape(-1)[flat] = values
    return node.const(dense, onnx_type(sparse.values.data_type))


@translator("ConstantOfShape")
def constant_of_shape(node):
    value = node.attr("value", None)
    if value is None:
        value, t = np.zeros((), np.float32), Type.f32
    else:
        t = onnx_type(next(a.t.data_type for a in node.proto.attribute if a.name == "value"))
        value = np.asarray(value).reshape(())
    # a Broadcast of the scalar even when the shape is known: folding it at compile time gives a
    # broadcast view, and the IR stays small, where a materialised constant would copy it all
    return [node.make("Broadcast", [node.const(value, t), node.require(0)])]


@translator("EyeLike")
def eye_like(node):
    x = node.require(0)
    t = onnx_type(node.attr("dtype"), "attribute 'dtype': ") if node.has_attr("dtype") else _type(x)
    return [node.make("Eye", [_dim(node, x, 0), _dim(node, x, 1), _i64(node, node.attr("k", 0))],
                      {"output_type": t})]


@translator("Trilu")
def trilu(node):
    """Keeps the elements of the last two axes with column - row >= k (upper) or <= k (lower)."""
    x = node.require(0)
    k = node.input(1)
    k = _i64(node, 0) if k is None else _out(node.make("Convert", [k], {"destination_type": Type.i64}))
    zero, one = _i64(node, 0), _i64(node, 1)
    rows = node.make("Range", [zero, _dim(node, x, -2), one], {"output_type": Type.i64})
    cols = node.make("Range", [zero, _dim(node, x, -1), one], {"output_type": Type.i64})
    offset = node.make("Subtract", [cols, node.make("Unsqueeze", [rows, _i64(node, [1])])])
    op = "GreaterEqual" if node.attr("upper", 1) else "LessEqual"
    keep = node.make(op, [offset, k])
    return [node.make("Select", [keep, x, _like(node, 0, x)])]


# --- random numbers -----------------------------------------------------------------------------


def _seed(node) -> int:
    """ONNX seeds are floats; OpenVINO seeds are integers (0 with global seed 0: a fresh one each run)."""
    return int(node.attr("seed", 0.0)) & (2**63 - 1) if node.has_attr("seed") else 0


def _random_uniform(node, shape: Output, t: Type, low: float, high: float) -> Output:
    return _out(node.make("RandomUniform", [shape, node.const(low, t), node.const(high, t)],
                          {"output_type": t, "global_seed": 0, "op_seed": _seed(node)}))


def _random_normal(node, shape: Output, t: Type, mean: float, scale: float) -> Output:
    """Box-Muller: sqrt(-2 ln(1 - u1)) cos(2 pi u2) from two uniform draws (1 - u1 is in (0, 1])."""
    u = _random_uniform(node, node.make("Concat", [_i64(node, [2]), shape], {"axis": 0}).output(0), t, 0.0, 1.0)
    parts = node.make("Split", [u, _i64(node, 0)], {"num_splits": 2})
    u1 = node.make("Squeeze", [parts.output(0), _i64(node, [0])])
    u2 = node.make("Squeeze", [parts.output(1), _i64(node, [0])])
    c = lambda v: node.const(v, t)  # noqa: E731
    radius = node.make("Sqrt", [node.make("Multiply", [c(-2.0), node.make("Log", [
        node.make("Subtract", [c(1.0), u1])])])])
    angle = node.make("Cos", [node.make("Multiply", [c(2.0 * math.pi), u2])])
    z = node.make("Multiply", [radius, angle])
    return _out(node.make("Add", [node.make("Multiply", [z, c(scale)]), c(mean)]))


def _dtype(node, default: Type) -> Type:
    return onnx_type(node.attr("dtype"), "attribute 'dtype': ") if node.has_attr("dtype") else default


@translator("RandomUniform")
def random_uniform(node):
    return [_random_uniform(node, _i64(node, node.attr("shape")), _dtype(node, Type.f32),
                            node.attr("low", 0.0), node.attr("high", 1.0))]


@translator("RandomUniformLike")
def random_uniform_like(node):
    x = node.require(0)
    return [_random_uniform(node, _shape_of(node, x), _dtype(node, _type(x)),
                            node.attr("low", 0.0), node.attr("high", 1.0))]


@translator("RandomNormal")
def random_normal(node):
    return [_random_normal(node, _i64(node, node.attr("shape")), _dtype(node, Type.f32),
                           node.attr("mean", 0.0), node.attr("scale", 1.0))]


@translator("RandomNormalLike")
def random_normal_like(node):
    x = node.require(0)
    return [_random_normal(node, _shape_of(node, x), _dtype(node, _type(x)),
                           node.attr("mean", 0.0), node.attr("scale", 1.0))]


@translator("Bernoulli")
def bernoulli(node):
    """1 where a uniform draw in [0, 1) falls below the probability, else 0."""
    p = node.require(0)
    u = _random_uniform(node, _shape_of(node, p), _type(p), 0.0, 1.0)
    hit = node.make("Less", [u, p])
    return [cast(node, _out(hit), _dtype(node, _type(p)))]


@translator("Multinomial")
def multinomial(node):
    """Samples class indices from rows of unnormalised log-probabilities, with replacement."""
    t = _dtype(node, Type.i32)
    attrs = {"convert_type": t, "with_replacement": True, "log_probs": True, "global_seed": 0,
             "op_seed": _seed(node)}
    return [node.make("Multinomial", [node.require(0), _i64(node, node.attr("sample_size", 1))], attrs)]
