"""Normalizations: MVN (v0 in opset2, v6), BatchNormInference (v0, v5), NormalizeL2 (v0),
GroupNormalization (v12), LRN (v0), GRN (v0).

Statistics of f16 inputs are computed in f32 and the result rounded back, as OpenVINO's CPU plugin
does.
"""
from __future__ import annotations

import math

from arrayrt.ir.ops._shapes import same_types
from arrayrt.ir.ops.base import Attr, OpDef, check_float, register, same_as_input
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.ops.reduce import check_axes_input, reduction_axes
from arrayrt.ir.shape import PartialShape

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where


def _wide(xp, x):
    return xp.astype(x, xp.float32) if x.dtype == getattr(xp, "float16", None) else x


def mvn_array(xp, x, axes: tuple[int, ...], normalize_variance: bool, eps: float, inside_sqrt: bool):
    """(x - mean) / sqrt(var + eps) (inside) or / (sqrt(var) + eps) (outside), statistics over ``axes``."""
    dt = x.dtype
    x = _wide(xp, x)
    if not axes:
        d = xp.zeros_like(x)
    else:
        d = x - xp.mean(x, axis=axes, keepdims=True)
    if normalize_variance:
        var = xp.mean(d * d, axis=axes, keepdims=True) if axes else d
        d = d / (xp.sqrt(var + eps) if inside_sqrt else xp.sqrt(var) + eps)
    return xp.astype(d, dt)


def mvn_v0_axes(attrs, rank: int) -> tuple[int, ...]:
    if attrs["reduction_axes"]:
        return tuple(sorted({a + rank if a < 0 else a for a in attrs["reduction_axes"]}))
    return tuple(range(1 if attrs["across_channels"] else 2, rank))


@register
class MVN_1(OpDef):
    """MVN-1 (class v0, first in opset2): statistics over ``reduction_axes``, or when that is empty
    over all axes from 1 (``across_channels``) or 2 on; eps inside the square root."""

    type_name, version, opset = "MVN", 0, "opset2"
    attrs = (Attr("eps", "float"), Attr("across_channels", "bool", False), Attr("normalize_variance", "bool"),
             Attr("reduction_axes", "ints", list))

    @classmethod
    def infer(cls, node):
        check_float(node)
        s = node.input_shape(0)
        if s.rank_is_static:
            for a in node.attrs["reduction_axes"]:
                if not -len(s) <= a < len(s):
                    raise ShapeInferenceError(f"{where(node)}: attribute 'reduction_axes' has axis {a}, "
                                              f"out of range for rank {len(s)}")
        return same_as_input(node)

    @staticmethod
    def compute(xp, x, eps, across_channels, normalize_variance, reduction_axes):
        attrs = {"across_channels": across_channels, "reduction_axes": reduction_axes}
        return mvn_array(xp, x, mvn_v0_axes(attrs, x.ndim), normalize_variance, eps, True)

    @classmethod
    def kernel(cls, xp, node):
        s = node.input_shape(0)
        if not s.rank_is_static:
            return super().kernel(xp, node)
        axes = mvn_v0_axes(node.attrs, len(s))
        nv, eps = node.attrs["normalize_variance"], node.attrs["eps"]
        return lambda x: mvn_array(xp, x, axes, nv, eps, True)


@register
class MVN(OpDef):
    """MVN-6: statistics over the axes of input 1."""

    type_name, version, opset = "MVN", 6, "opset6"
    attrs = (Attr("eps", "float32"), Attr("normalize_variance", "bool"),
             Attr("eps_mode", "str", choices=("INSIDE_SQRT", "OUTSIDE_SQRT")))
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_float(node)
        check_axes_input(node)
        s, a = node.input_shape(0), node.input_shape(1)
        if s.rank_is_static and a.is_static and len(a) == 1 and a[0].get_length() > len(s):
            raise ShapeInferenceError(f"{where(node)}: input 1 (axes) has {a[0]} axes, more than the rank "
                                      f"{len(s)} of input 0")
        values = node.input_const(1)
        if values is not None and s.rank_is_static:
            reduction_axes(values, len(s), node)
        return same_as_input(node)

    @staticmethod
    def compute(xp, x, axes, eps, normalize_variance, eps_mode):
        inside = eps_mode == "INSIDE_SQRT"
        return mvn_array(xp, x, reduction_axes(axes, x.ndim), normalize_variance, eps, inside)

    @classmethod
    def kernel(cls, xp, node):
        values, s = node.input_const(1), node.input_shape(0)
        if values is None or not s.rank_is_static:
            return super().kernel(xp, node)
        axes = reduction_axes(values, len(s), node)
        nv, eps = node.attrs["normalize_variance"], node.attrs["eps"]
        inside = node.attrs["eps_mode"] == "INSIDE_SQRT"
        return lambda x, _axes: mvn_array(xp, x, axes, nv, eps, inside)


# --- BatchNormInference ---------------------------------------------------------------------------


def batch_norm(xp, x, gamma, beta, mean, variance, epsilon: float):
    """gamma * (x - mean) / sqrt(variance + epsilon) + beta over channel axis 1, as one scale and shift."""
    dt = x.dtype
    x, gamma, beta, mean, variance = (_wide(xp, a) for a in (x, gamma, beta, mean, variance))
    scale = gamma / xp.sqrt(variance + epsilon)
    shift = beta - mean * scale
    tail = (1,) * (x.ndim - 2)
    scale = xp.reshape(scale, (-1,) + tail)
    shift = xp.reshape(shift, (-1,) + tail)
    return xp.astype(x * scale + shift, dt)


class _BatchNorm(OpDef):
    attrs = (Attr("epsilon", "float"),)
    n_inputs = (5, 5)
    #: input index of data; the others keep the order gamma, beta, mean, variance
    data_index = 0

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["epsilon"] < 0:
            raise OpAttributeError(f"{where(node)}: attribute 'epsilon' must be >= 0, got {attrs['epsilon']}")

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        if t.is_static and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: inputs must be floating, got {t}")
        d = cls.data_index
        s = node.input_shape(d)
        if s.rank_is_static and len(s) < 2:
            raise ShapeInferenceError(f"{where(node)}: input {d} (data) must have rank >= 2, got {s}")
        channels = s[1] if s.rank_is_static else None
        names = ("gamma", "beta", "mean", "variance")
        others = [i for i in range(5) if i != d]
        for i, name in zip(others, names):
            p = node.input_shape(i)
            if not p.rank_is_static:
                continue
            if len(p) != 1 or (channels is not None and not p[0].compatible(channels)):
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must have shape [C] with C = "
                                          f"{channels if channels is not None else '?'}, got {p}")
            channels = p[0] if channels is None else channels.merge(p[0])
        if s.rank_is_static:
            s = PartialShape([s[0], channels] + list(s.dims[2:]))
        return [(t, s)]


@register
class BatchNormInference_1(_BatchNorm):
    """Inputs gamma, beta, data, mean, variance."""

    type_name, version, opset = "BatchNormInference", 0, "opset1"
    data_index = 2

    @staticmethod
    def compute(xp, gamma, beta, data, mean, variance, epsilon):
        return batch_norm(xp, data, gamma, beta, mean, variance, epsilon)


@register
class BatchNormInference(_BatchNorm):
    """Inputs data, gamma, beta, mean, variance."""

    type_name, version, opset = "BatchNormInference", 5, "opset5"
    data_index = 0

    @staticmethod
    def compute(xp, data, gamma, beta, mean, variance, epsilon):
        return batch_norm(xp, data, gamma, beta, mean, variance, epsilon)


# --- NormalizeL2 ----------------------------------------------------------------------------------


def normalize_l2_array(xp, x, axes: tuple[int, ...], eps: float, add: bool):
    dt = x.dtype
    if not axes:
        return xp.astype(x != 0, dt)
    x = _wide(xp, x)
    sq = xp.sum(x * x, axis=axes, keepdims=True)
    sq = sq + eps if add else xp.maximum(sq, xp.asarray(eps, dtype=sq.dtype))
    return xp.astype(x / xp.sqrt(sq), dt)


@register
class NormalizeL2(OpDef):
    """x / sqrt(sum(x^2 over axes) + eps) (``add``) or / sqrt(max(sum, eps)) (``max``); with no axes,
    each element is divided by itself: 1, or 0 where it is 0 (spec and reference kernel)."""

    type_name, version, opset = "NormalizeL2", 0, "opset1"
    attrs = (Attr("eps", "float32"), Attr("eps_mode", "str", choices=("add", "max")))
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        check_float(node)
        check_axes_input(node)
        values, s = node.input_const(1), node.input_shape(0)
        if values is not None and s.rank_is_static:
            reduction_axes(values, len(s), node)
        return same_as_input(node)

    @staticmethod
    def compute(xp, x, axes, eps, eps_mode):
        return normalize_l2_array(xp, x, reduction_axes(axes, x.ndim), eps, eps_mode == "add")

    @classmethod
    def kernel(cls, xp, node):
        values, s = node.input_const(1), node.input_shape(0)
        if values is None or not s.rank_is_static:
            return super().kernel(xp, node)
        axes = reduction_axes(values, len(s), node)
        eps, add = node.attrs["eps"], node.attrs["eps_mode"] == "add"
        return lambda x, _axes: normalize_l2_array(xp, x, axes, eps, add)


# --- GRN ------------------------------------------------------------------------------------------


@register
class GRN(OpDef):
    """Global response normalization: x / sqrt(sum over channels (axis 1) of x^2 + bias), rank 2 to 4."""

    type_name, version, opset = "GRN", 0, "opset1"
    attrs = (Attr("bias", "float32"),)

    @classmethod
    def infer(cls, node):
        check_float(node)
        s = node.input_shape(0)
        if s.rank_is_static and not 2 <= len(s) <= 4:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank 2 to 4, got {s}")
        return same_as_input(node)

    @staticmethod
    def compute(xp, x, bias):
        dt = x.dtype
        x = _wide(xp, x)
        return xp.astype(x / xp.sqrt(xp.sum(x * x, axis=1, keepdims=True) + bias), dt)


# --- GroupNormalization ---------------------------------------------------------------------------


@register
class GroupNormalization(OpDef):
    """Data [N, C, ...] normalised per sample over each of ``num_groups`` channel groups, then scaled
    and shifted per channel."""

    type_name, version, opset = "GroupNormalization", 12, "opset12"
    attrs = (Attr("num_groups", "int"), Attr("epsilon", "float"))
    n_inputs = (3, 3)

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["num_groups"] < 1:
            raise OpAttributeError(f"{where(node)}: attribute 'num_groups' must be >= 1, "
                                   f"got {attrs['num_groups']}")
        if attrs["epsilon"] < 0:
            raise OpAttributeError(f"{where(node)}: attribute 'epsilon' must be >= 0, got {attrs['epsilon']}")

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        if t.is_static and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: inputs must be floating, got {t}")
        s = node.input_shape(0)
        g = node.attrs["num_groups"]
        if s.rank_is_static:
            if len(s) < 2:
                raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 2, got {s}")
            c = s[1]
            if c.is_static and c.get_length() % g != 0:
                raise ShapeInferenceError(f"{where(node)}: the channel dimension {c} of input 0 is not a "
                                          f"multiple of num_groups {g}")
        for i, name in ((1, "scale"), (2, "bias")):
            p = node.input_shape(i)
            if p.rank_is_static and (len(p) != 1 or (s.rank_is_static and not p[0].compatible(s[1]))):
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must have shape [C] with C = "
                                          f"{s[1] if s.rank_is_static else '?'}, got {p}")
        return [(t, s)]

    @staticmethod
    def compute(xp, data, scale, bias, num_groups, epsilon):
        dt = data.dtype
        x, scale, bias = _wide(xp, data), _wide(xp, scale), _wide(xp, bias)
        shape = tuple(x.shape)
        g = xp.reshape(x, (shape[0], num_groups, math.prod(shape[1:]) // num_groups))
        y = xp.reshape(mvn_array(xp, g, (2,), True, epsilon, True), shape)
        tail = (1,) * (len(shape) - 2)
        y = y * xp.reshape(scale, (-1,) + tail) + xp.reshape(bias, (-1,) + tail)
        return xp.astype(y, dt)


# --- LRN ------------------------------------------------------------------------------------------


def _window_sum(xp, x, axis: int, size: int):
    """Sum over a window of ``size`` centred on each position (reference: (size-1)//2 either side),
    zero-padded at the edges."""
    half = (size - 1) // 2
    n = x.shape[axis]
    if half == 0 or n == 0:
        return x
    pad_shape = tuple(half if i == axis else d for i, d in enumerate(x.shape))
    zeros = xp.zeros(pad_shape, dtype=x.dtype)
    padded = xp.concat([zeros, x, zeros], axis=axis)
    total = None
    for start in range(2 * half + 1):
        part = xp.take(padded, xp.arange(start, start + n), axis=axis)
        total = part if total is None else total + part
    return total


@register
class LRN(OpDef):
    """x / (bias + alpha / size^len(axes) * window_sum(x^2))^beta, the window spanning the axes of
    input 1."""

    type_name, version, opset = "LRN", 0, "opset1"
    attrs = (Attr("alpha", "float"), Attr("beta", "float"), Attr("bias", "float"), Attr("size", "int"))
    n_inputs = (2, 2)

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["size"] < 1:
            raise OpAttributeError(f"{where(node)}: attribute 'size' must be >= 1, got {attrs['size']}")

    @classmethod
    def infer(cls, node):
        check_float(node)
        check_axes_input(node)
        values, s = node.input_const(1), node.input_shape(0)
        if values is not None and s.rank_is_static:
            reduction_axes(values, len(s), node)
        return same_as_input(node)

    @staticmethod
    def compute(xp, x, axes, alpha, beta, bias, size):
        dt = x.dtype
        x = _wide(xp, x)
        axes = reduction_axes(axes, x.ndim)
        sq = x * x
        for a in axes:
            sq = _window_sum(xp, sq, a, size)
        scale = alpha / size ** len(axes)
        return xp.astype(x / xp.pow(bias + scale * sq, beta), dt)


# --- factories --------------------------------------------------------------------------------


@factory
def mvn(data, axes, normalize_variance: bool, eps: float, eps_mode: str, name: str | None = None):
    return make("MVN", [data, axes], {"normalize_variance": normalize_variance, "eps": eps,
                                      "eps_mode": eps_mode}, name)


@factory
def batch_norm_inference(data, gamma, beta, mean, variance, epsilon: float, name: str | None = None):
    return make("BatchNormInference", [data, gamma, beta, mean, variance], {"epsilon": epsilon}, name)


@factory
def normalize_l2(data, axes, eps: float, eps_mode: str, name: str | None = None):
    return make("NormalizeL2", [data, axes], {"eps": eps, "eps_mode": eps_mode}, name)


@factory
def grn(data, bias: float, name: str | None = None):
    return make("GRN", [data], {"bias": bias}, name)


@factory
def group_normalization(data, scale, bias, num_groups: int, epsilon: float, name: str | None = None):
    attrs = {"num_groups": num_groups, "epsilon": epsilon}
    return make("GroupNormalization", [data, scale, bias], attrs, name)


@factory
def lrn(data, axes, alpha: float = 1, beta: float = 0.5, bias: float = 1, size: int = 5,
        name: str | None = None):
    return make("LRN", [data, axes], {"alpha": alpha, "beta": beta, "bias": bias, "size": size}, name)
