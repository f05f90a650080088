"""ONNX neural-network ops: convolutions, pooling, normalizations, Gemm/MatMul (plain and quantized),
Einsum, recurrent layers, attention, detection and signal ops.

Convolutions and matrix products map to one IR op each (plus an ``Add`` for a bias) so that the
backends' fast kernels apply. Window geometry ONNX defines in terms of the input size (ConvTranspose
output shapes, ceil-mode pooling) is resolved at conversion time when the spatial sizes are static.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from arrayrt.ir.frontend.onnx.registry import translator
from arrayrt.ir.graph import Output
from arrayrt.ir.types import Type

from arrayrt.errors import ModelReadError, UnsupportedOpError

AUTO_PAD = {"NOTSET": "explicit", "": "explicit", "SAME_UPPER": "same_upper", "SAME_LOWER": "same_lower",
            "VALID": "valid"}


# --- small graph-building helpers --------------------------------------------------------------------
def _i64(node, values) -> Output:
    return node.const(np.asarray(values, dtype=np.int64))


def _scalar(node, value, like: Output) -> Output:
    """A scalar constant of ``like``'s element type."""
    return node.const(np.asarray(value, dtype=like.get_element_type().to_dtype()))


def _rank(out: Output) -> int | None:
    s = out.get_partial_shape()
    return len(s) if s.rank_is_static else None


def _dims(out: Output) -> list[int | None] | None:
    """Per dimension its static length or None; None when the rank is unknown."""
    s = out.get_partial_shape()
    if not s.rank_is_static:
        return None
    return [d.get_length() if d.is_static else None for d in s]


def _etype(out: Output) -> Type:
    return out.get_element_type()


def _op(node, op_type: str, *inputs, **attrs) -> Output:
    return node.make(op_type, list(inputs), attrs).output(0)


def _reshape(node, x, shape: Sequence[int], special_zero: bool = False) -> Output:
    return _op(node, "Reshape", x, _i64(node, list(shape)), special_zero=special_zero)


def _transpose(node, x, perm: Sequence[int]) -> Output:
    return _op(node, "Transpose", x, _i64(node, list(perm)))


def _unsqueeze(node, x, axes: Sequence[int]) -> Output:
    return _op(node, "Unsqueeze", x, _i64(node, list(axes)))


def _convert(node, x: Output, t: Type) -> Output:
    return x if _etype(x) == t else _op(node, "Convert", x, destination_type=t)


def _convert_like(node, x: Output, like: Output) -> Output:
    return x if _etype(x) == _etype(like) else _convert(node, x, _etype(like))


def _reduce(node, op_type: str, x, axes: Sequence[int], keep: bool = True) -> Output:
    return _op(node, op_type, x, _i64(node, list(axes)), keep_dims=keep)


def _per_channel(node, v: Output, rank: int) -> Output:
    """A ``[C]`` vector shaped ``[C, 1, ...]`` to broadcast over axis 1 of a rank-``rank`` tensor."""
    return _reshape(node, v, [-1] + [1] * (rank - 2))


def _shape_of(node, x: Output) -> Output:
    return _op(node, "ShapeOf", x, output_type=Type.i64)


def _spatial_count(node, x: Output, what: str) -> int:
    r = _rank(x)
    if r is None:
        k = node.attr("kernel_shape", None)
        if k is None:
            raise ModelReadError(f"{what}: the input rank must be known (or kernel_shape given)")
        return len(k)
    return r - 2


def _window(node, ns: int) -> tuple[list[int], list[int], list[int], list[int], str]:
    """strides, dilations, pads_begin, pads_end and the IR auto_pad of a window op."""
    strides = node.attr("strides", None) or [1] * ns
    dilations = node.attr("dilations", None) or [1] * ns
    pads = node.attr("pads", None) or [0] * (2 * ns)
    auto = node.attr("auto_pad", "NOTSET")
    if auto not in AUTO_PAD:
        raise ModelReadError(f"attribute 'auto_pad' has an unknown value '{auto}'")
    return list(strides), list(dilations), list(pads[:ns]), list(pads[ns:]), AUTO_PAD[auto]


def _add_bias(node, y: Output, b: Output | None, rank: int) -> Output:
    if b is None:
        return y
    return _op(node, "Add", y, _per_channel(node, b, rank))


def _grouped_weights(node, w: Output, group: int) -> Output:
    """``[G*A, B, *K]`` -> ``[G, A, B, *K]`` (filters of a grouped convolution)."""
    r = _rank(w)
    if r is None:
        raise ModelReadError("a grouped convolution needs weights of known rank")
    return _reshape(node, _unsqueeze(node, w, [0]), [group, -1] + [0] * (r - 1), special_zero=True)


# --- convolutions ----------------------------------------------------------------------------------
def _conv(node, x: Output, w: Output, group: int) -> tuple[Output, int]:
    ns = _spatial_count(node, x, "Conv")
    strides, dilations, pb, pe, auto = _window(node, ns)
    attrs = {"strides": strides, "dilations": dilations, "pads_begin": pb, "pads_end": pe, "auto_pad": auto}
    if group == 1:
        return node.make("Convolution", [x, w], attrs).output(0), ns
    return node.make("GroupConvolution", [x, _grouped_weights(node, w, group)], attrs).output(0), ns


@translator("Conv")
def conv(node):
    y, ns = _conv(node, node.require(0), node.require(1), node.attr("group", 1))
    return [_add_bias(node, y, node.input(2), ns + 2)]


@translator("ConvInteger")
def conv_integer(node):
    """Exact integer convolution: zero-point-shifted operands in f64 (exact below 2^53)."""
    x, w = node.require(0), node.require(1)
    xf = _shifted(node, x, node.input(2), Type.f64, None)
    wf = _shifted(node, w, node.input(3), Type.f64, _rank(w))
    y, _ = _conv(node, xf, wf, node.attr("group", 1))
    return [_convert(node, y, Type.i32)]


def _shifted(node, q: Output, zp: Output | None, t: Type, per_channel_rank: int | None) -> Output:
    """``q - zero_point`` in type ``t``; a per-channel zero point (a vector) applies along axis 0 of
    a rank-``per_channel_rank`` weight (None: along the last axis or scalar)."""
    v = _convert(node, q, t)
    if zp is None:
        return v
    z = _convert(node, zp, t)
    zr = _rank(zp)
    if per_channel_rank is not None and zr == 1:
        z = _reshape(node, z, [-1] + [1] * (per_channel_rank - 1))
    return _op(node, "Subtract", v, z)


@translator("QLinearConv")
def qlinear_conv(node):
    x, w = node.require(0), node.require(3)
    acc, _ = _conv(node, _shifted(node, x, node.input(2), Type.f64, None),
                   _shifted(node, w, node.input(5), Type.f64, _rank(w)), node.attr("group", 1))
    rank = _rank(x)
    if node.input(8) is not None:
        acc = _op(node, "Add", acc, _per_channel(node, _convert(node, node.require(8), Type.f64), rank))
    w_scale = node.require(4)
    if _rank(w_scale) == 1:
        w_scale = _per_channel(node, w_scale, rank)
    return [_requantize(node, acc, node.require(1), w_scale, node.require(6), node.input(7), _etype(x))]


def _requantize(node, acc: Output, a_scale: Output, b_scale: Output, y_scale: Output, y_zp: Output | None,
                out_type: Type) -> Output:
    """round(acc * (a_scale * b_scale / y_scale)) + y_zero_point, saturated to the output type: the
    factor in the scales' precision, the rest in f64, as ONNX's reference computes it."""
    factor = _op(node, "Divide", _op(node, "Multiply", a_scale, b_scale), y_scale)
    y = _op(node, "Multiply", acc, _convert(node, factor, Type.f64))
    if y_zp is not None:
        out_type = _etype(y_zp)
        y = _op(node, "Add", y, _convert(node, y_zp, Type.f64))
    y = _op(node, "Round", y, mode="half_to_even")
    info = np.iinfo(out_type.to_dtype())
    y = _op(node, "Clamp", y, min=float(info.min), max=float(info.max))
    return _convert(node, y, out_type)


def _conv_transpose_geometry(node, x: Output, w: Output, ns: int):
    """pads_begin, pads_end, output_padding for ConvolutionBackpropData, by ONNX's output-size rules
    (``output_shape`` and SAME auto padding need static spatial sizes)."""
    strides, dilations, pb, pe, auto = _window(node, ns)
    op = list(node.attr("output_padding", None) or [0] * ns)
    out_shape = node.attr("output_shape", None)
    if out_shape is not None and len(out_shape) == ns + 2:
        out_shape = out_shape[2:]
    explicit_pads = node.has_attr("pads") and auto == "explicit"
    if out_shape is None and auto not in ("same_upper", "same_lower"):
        if auto == "valid":
            pb, pe = [0] * ns, [0] * ns
        return pb, pe, op
    dx, dw = _dims(x), _dims(w)
    sizes = None if dx is None else dx[2:]
    kernel = node.attr("kernel_shape", None) or (None if dw is None else dw[2:])
    if sizes is None or None in sizes or kernel is None or None in kernel:
        raise ModelReadError("ConvTranspose with output_shape or SAME auto_pad needs static input spatial "
                             "sizes and kernel shape")
    full = [s * (n - 1) + (k - 1) * d + 1 for n, k, s, d in zip(sizes, kernel, strides, dilations)]
    if out_shape is None:
        out_shape = [n * s for n, s in zip(sizes, strides)]
    if not explicit_pads:
        pb, pe = [], []
        for f, o, p in zip(full, out_shape, op):
            total = f + p - o
            small = total // 2
            pb.append(small if auto == "same_upper" else total - small)
            pe.append(total - pb[-1])
    # express the requested output size as non-negative end pads or extra output padding
    pads_end, out_pad = [], []
    for f, o, b in zip(full, out_shape, pb):
        need = f - b - o
        pads_end.append(max(need, 0))
        out_pad.append(max(-need, 0))
    return pb, pads_end, out_pad


@translator("ConvTranspose")
def conv_transpose(node):
    x, w, b = node.require(0), node.require(1), node.input(2)
    group = node.attr("group", 1)
    ns = _spatial_count(node, x, "ConvTranspose")
    strides, dilations, _, _, auto = _window(node, ns)
    pb, pe, op = _conv_transpose_geometry(node, x, w, ns)
    attrs = {"strides": strides, "dilations": dilations, "pads_begin": pb, "pads_end": pe,
             "output_padding": op, "auto_pad": "explicit" if auto != "valid" else "valid"}
    if auto == "valid" and any(op):
        attrs["auto_pad"] = "explicit"
    if group == 1:
        y = node.make("ConvolutionBackpropData", [x, w], attrs).output(0)
    else:
        y = node.make("GroupConvolutionBackpropData", [x, _grouped_weights(node, w, group)], attrs).output(0)
    return [_add_bias(node, y, b, ns + 2)]


# --- pooling -----------------------------------------------------------------------------------------
def _pool_attrs(node, ns: int) -> dict[str, Any]:
    kernel = node.attr("kernel_shape")
    strides, dilations, pb, pe, auto = _window(node, ns)
    rounding = "ceil_torch" if node.attr("ceil_mode", 0) else "floor"
    return {"kernel": list(kernel), "strides": strides, "dilations": dilations, "pads_begin": pb,
            "pads_end": pe, "auto_pad": auto, "rounding_type": rounding}


@translator("MaxPool")
def max_pool(node):
    x = node.require(0)
    ns = len(node.attr("kernel_shape"))
    attrs = _pool_attrs(node, ns)
    attrs.update(index_element_type=Type.i64, axis=0)
    pool = node.make("MaxPool", [x], attrs)
    values, indices = pool.output(0), pool.output(1)
    if not node.output_used(1):
        return [values]
    if node.attr("storage_order", 0) == 1:
        indices = _column_major_indices(node, x, indices, ns)
    return [values, indices]


def _column_major_indices(node, x: Output, idx: Output, ns: int) -> Output:
    """Row-major flat indices -> indices whose spatial part is column-major (ONNX storage_order 1)."""
    dims = _dims(x)
    spatial = None if dims is None else dims[2:]
    if spatial is None or None in spatial:
        raise ModelReadError("MaxPool with storage_order 1 needs static spatial sizes")
    plane = math.prod(spatial)
    base = _op(node, "Subtract", idx, _op(node, "FloorMod", idx, _i64(node, plane)))
    rest = _op(node, "FloorMod", idx, _i64(node, plane))
    col = None
    stride_col = 1
    for axis in range(ns):
        row_stride = math.prod(spatial[axis + 1:])
        coord = _op(node, "FloorMod", _op(node, "Divide", rest, _i64(node, row_stride)),
                    _i64(node, spatial[axis]))
        term = _op(node, "Multiply", coord, _i64(node, stride_col))
        col = term if col is None else _op(node, "Add", col, term)
        stride_col *= spatial[axis]
    return _op(node, "Add", base, col)


@translator("AveragePool")
def average_pool(node):
    x = node.require(0)
    ns = len(node.attr("kernel_shape"))
    attrs = _pool_attrs(node, ns)
    attrs["exclude-pad"] = not node.attr("count_include_pad", 0)
    y = node.make("AvgPool", [x], attrs).output(0)
    if attrs["exclude-pad"] or attrs["rounding_type"] == "floor" or attrs["auto_pad"] != "explicit" \
            or not any(attrs["pads_begin"] + attrs["pads_end"]):
        return [y]
    factor = _ceil_window_counts(node, x, attrs)
    return [y if factor is None else _op(node, "Multiply", y, factor)]


def _ceil_window_counts(node, x: Output, a: dict) -> Output | None:
    """ONNX counts padding in the divisor, but not the part of a ceil-mode window beyond the end
    padding (IR AvgPool divides by the whole kernel): the per-position correction, or None."""
    from arrayrt.ir.ops.pool import geometry

    dims = _dims(x)
    if dims is None or None in dims[2:]:
        return None
    sizes = dims[2:]
    kernel, strides, dilations = a["kernel"], a["strides"], a["dilations"]
    pb, pe, out, _ = geometry(sizes, kernel, strides, dilations, a["pads_begin"], a["pads_end"], "explicit",
                              a["rounding_type"])
    factor = np.ones([1, 1] + out, dtype=np.float64)
    for axis, (n, k, s, d, b, e, o) in enumerate(zip(sizes, kernel, strides, dilations, pb, pe, out)):
        counts = [sum(1 for j in range(k) if -b <= i * s - b + j * d < n + e) for i in range(o)]
        shape = [1] * (2 + len(sizes))
        shape[2 + axis] = o
        factor = factor * np.reshape([k / max(c, 1) for c in counts], shape)
    if np.all(factor == 1):
        return None
    return node.const(factor.astype(_etype(x).to_dtype()))


@translator("LpPool")
def lp_pool(node):
    """(sum over the window of |x|^p)^(1/p): a depthwise convolution with a ones kernel."""
    x = node.require(0)
    p = node.attr("p", 2)
    kernel = list(node.attr("kernel_shape"))
    ns = len(kernel)
    strides, dilations, pb, pe, auto = _window(node, ns)
    dims = _dims(x)
    if dims is None or dims[1] is None:
        raise ModelReadError("LpPool needs a static channel count")
    if node.attr("ceil_mode", 0):
        pe = _ceil_end_pads(node, dims, kernel, strides, dilations, pb, pe, auto)
        auto = "explicit"
    t = _etype(x)
    ones = node.const(np.ones([dims[1], 1, 1] + kernel, dtype=t.to_dtype()))
    if p == 2:
        powered = _op(node, "Multiply", x, x)
    else:
        powered = _op(node, "Power", _op(node, "Abs", x), _scalar(node, p, x))
    s = _op(node, "GroupConvolution", powered, ones, strides=strides, dilations=dilations, pads_begin=pb,
            pads_end=pe, auto_pad=auto)
    if p == 2:
        return [_op(node, "Sqrt", s)]
    return [_op(node, "Power", s, _scalar(node, 1.0 / p, x))]


def _ceil_end_pads(node, dims, kernel, strides, dilations, pb, pe, auto) -> list[int]:
    """End pads that make a floor-mode window op produce ceil-mode (torch rule) output sizes."""
    from arrayrt.ir.ops.pool import geometry

    sizes = dims[2:]
    if None in sizes:
        raise ModelReadError("ceil_mode needs static spatial sizes here")
    b, e, out, _ = geometry(sizes, kernel, strides, dilations, pb, pe, auto, "ceil_torch")
    pb[:] = b
    return [max(e_, (o - 1) * s + (k - 1) * d + 1 - n - b_)
            for e_, o, s, k, d, n, b_ in zip(e, out, strides, kernel, dilations, sizes, b)]


def _spatial_axes(node, x: Output) -> list[int]:
    r = _rank(x)
    if r is None:
        raise ModelReadError("global pooling needs an input of known rank")
    return list(range(2, r))


@translator("GlobalAveragePool")
def global_average_pool(node):
    x = node.require(0)
    return [_reduce(node, "ReduceMean", x, _spatial_axes(node, x))]


@translator("GlobalMaxPool")
def global_max_pool(node):
    x = node.require(0)
    return [_reduce(node, "ReduceMax", x, _spatial_axes(node, x))]


@translator("GlobalLpPool")
def global_lp_pool(node):
    x = node.require(0)
    p = node.attr("p", 2)
    axes = _spatial_axes(node, x)
    if p == 2:
        return [_reduce(node, "ReduceL2", x, axes)]
    if p == 1:
        return [_reduce(node, "ReduceL1", x, axes)]
    s = _reduce(node, "ReduceSum", _op(node, "Power", _op(node, "Abs", x), _scalar(node, p, x)), axes)
    return [_op(node, "Power", s, _scalar(node, 1.0 / p, x))]


@translator("MaxUnpool")
def max_unpool(node):
    """Scatter X into zeros of the unpooled shape at the flat indices I (MaxPool's index output);
    a given ``output_shape`` zero-extends that at the end of each axis."""
    x, idx = node.require(0), node.require(1)
    kernel = node.attr("kernel_shape")
    ns = len(kernel)
    strides = node.attr("strides", None) or [1] * ns
    pads = node.attr("pads", None) or [0] * (2 * ns)
    dims = _dims(x)
    if dims is None or None in dims:
        shape = _unpool_shape(node, x, kernel, strides, pads)
    else:
        spatial = [(n - 1) * s + k - pads[i] - pads[ns + i]
                   for i, (n, s, k) in enumerate(zip(dims[2:], strides, kernel))]
        shape = _i64(node, dims[:2] + spatial)
    total = _reduce(node, "ReduceProd", shape, [0])
    zeros = _op(node, "Broadcast", _scalar(node, 0, x), total, mode="numpy")
    flat = _op(node, "ScatterElementsUpdate", zeros, _reshape(node, _convert(node, idx, Type.i64), [-1]),
               _reshape(node, x, [-1]), _i64(node, 0), reduction="none", use_init_val=True)
    y = _op(node, "Reshape", flat, shape, special_zero=False)
    if node.input(2) is None:
        return [y]
    extra = _op(node, "Subtract", _convert(node, node.require(2), Type.i64), shape)
    begin = _op(node, "Multiply", extra, _i64(node, 0))
    return [_op(node, "Pad", y, begin, extra, _scalar(node, 0, x), pad_mode="constant")]


def _unpool_shape(node, x, kernel, strides, pads) -> Output:
    ns = len(kernel)
    s = _shape_of(node, x)
    spatial = _op(node, "Slice", s, _i64(node, [2]), _i64(node, [2 + ns]), _i64(node, [1]), _i64(node, [0]))
    stretched = _op(node, "Multiply", _op(node, "Subtract", spatial, _i64(node, 1)), _i64(node, strides))
    full = _op(node, "Add", stretched, _i64(node, [k - pads[i] - pads[ns + i] for i, k in enumerate(kernel)]))
    lead = _op(node, "Slice", s, _i64(node, [0]), _i64(node, [2]), _i64(node, [1]), _i64(node, [0]))
    return _op(node, "Concat", lead, full, axis=0)


# --- normalizations ---------------------------------------------------------------------------------
@translator("BatchNormalization")
def batch_normalization(node):
    x = node.require(0)
    scale, bias, mean, var = (_convert_like(node, node.require(i), x) for i in range(1, 5))
    eps = node.attr("epsilon", 1e-5)
    training = node.version >= 14 and node.attr("training_mode", 0)
    if not training:
        y = node.make("BatchNormInference", [x, scale, bias, mean, var], {"epsilon": eps}, version="opset5")
        return [y.output(0)] + [None] * (node.num_outputs - 1)
    rank = _rank(x)
    axes = [0] + list(range(2, rank))
    cur_mean = _reduce(node, "ReduceMean", x, axes, keep=False)
    centered = _op(node, "Subtract", x, _per_channel(node, cur_mean, rank))
    cur_var = _reduce(node, "ReduceMean", _op(node, "Multiply", centered, centered), axes, keep=False)
    y = node.make("BatchNormInference", [x, scale, bias, cur_mean, cur_var], {"epsilon": eps},
                  version="opset5").output(0)
    momentum = node.attr("momentum", 0.9)

    def running(old, cur):
        return _op(node, "Add", _op(node, "Multiply", old, _scalar(node, momentum, old)),
                   _op(node, "Multiply", cur, _scalar(node, 1 - momentum, cur)))

    out_types = [_etype(node.require(3)), _etype(node.require(4))]
    return [y, _convert(node, running(mean, cur_mean), out_types[0]),
            _convert(node, running(var, cur_var), out_types[1])]


def _mvn(node, x: Output, axes: Sequence[int], eps: float, inside: bool = True) -> Output:
    return _op(node, "MVN", x, _i64(node, list(axes)), eps=eps, normalize_variance=True,
               eps_mode="INSIDE_SQRT" if inside else "OUTSIDE_SQRT")


@translator("InstanceNormalization")
def instance_normalization(node):
    x = node.require(0)
    rank = _rank(x)
    if rank is None:
        raise ModelReadError("InstanceNormalization needs an input of known rank")
    y = _mvn(node, x, range(2, rank), node.attr("epsilon", 1e-5))
    y = _op(node, "Multiply", y, _per_channel(node, _convert_like(node, node.require(1), x), rank))
    return [_op(node, "Add", y, _per_channel(node, _convert_like(node, node.require(2), x), rank))]


def _stash(node, x: Output) -> Output:
    """``x`` in the stash type (f32 unless stash_type says otherwise; wider inputs stay as they are)."""
    st = node.attr("stash_type", 1)
    if st != 1 or _etype(x) in (Type.f32, Type.f64):
        return x
    return _convert(node, x, Type.f32)


@translator("LayerNormalization")
def layer_normalization(node):
    x = node.require(0)
    rank = _rank(x)
    if rank is None:
        raise ModelReadError("LayerNormalization needs an input of known rank")
    axis = node.attr("axis", -1)
    axis = axis + rank if axis < 0 else axis
    axes = list(range(axis, rank))
    eps = node.attr("epsilon", 1e-5)
    xs = _stash(node, x)
    if node.output_used(1) or node.output_used(2):
        mean = _reduce(node, "ReduceMean", xs, axes)
        d = _op(node, "Subtract", xs, mean)
        var = _reduce(node, "ReduceMean", _op(node, "Multiply", d, d), axes)
        inv = _op(node, "Divide", _scalar(node, 1, xs),
                  _op(node, "Sqrt", _op(node, "Add", var, _scalar(node, eps, xs))))
        normalized = _op(node, "Multiply", d, inv)
        extra = [mean, inv]
    else:
        normalized = _mvn(node, xs, axes, eps)
        extra = []
    y = _op(node, "Multiply", _convert_like(node, normalized, x), node.require(1))
    if node.input(2) is not None:
        y = _op(node, "Add", y, node.require(2))
    return [y] + extra


@translator("RMSNormalization")
def rms_normalization(node):
    x = node.require(0)
    rank = _rank(x)
    if rank is None:
        raise ModelReadError("RMSNormalization needs an input of known rank")
    axis = node.attr("axis", -1)
    axis = axis + rank if axis < 0 else axis
    xs = _stash(node, x)
    ms = _reduce(node, "ReduceMean", _op(node, "Multiply", xs, xs), list(range(axis, rank)))
    rms = _op(node, "Sqrt", _op(node, "Add", ms, _scalar(node, node.attr("epsilon", 1e-5), xs)))
    y = _convert_like(node, _op(node, "Divide", xs, rms), x)
    return [_op(node, "Multiply", y, node.require(1))]


@translator("GroupNormalization", since=18)
def group_normalization(node):
    """Opset 18 scales per group, 21 per channel; both become IR GroupNormalization (per channel)."""
    x = node.require(0)
    groups = node.attr("num_groups")
    scale, bias = node.require(1), node.require(2)
    if node.version < 21:
        dims = _dims(x)
        if dims is None or dims[1] is None:
            raise ModelReadError("GroupNormalization-18 needs a static channel count")
        per = dims[1] // groups
        scale, bias = (_reshape(node, _op(node, "Broadcast", _reshape(node, v, [groups, 1]),
                                          _i64(node, [groups, per]), mode="numpy"), [-1])
                       for v in (scale, bias))
    xs = _stash(node, x) if node.version >= 21 else x
    y = node.make("GroupNormalization", [xs, _convert_like(node, scale, xs), _convert_like(node, bias, xs)],
                  {"num_groups": groups, "epsilon": node.attr("epsilon", 1e-5)}).output(0)
    return [_convert_like(node, y, x)]


@translator("LpNormalization")
def lp_normalization(node):
    x = node.require(0)
    p = node.attr("p", 2)
    if p not in (1, 2):
        raise UnsupportedOpError(f"LpNormalization with p={p} (ONNX allows 1 or 2)")
    norm = _reduce(node, "ReduceL2" if p == 2 else "ReduceL1", x, [node.attr("axis", -1)])
    zero = _scalar(node, 0, x)
    # a zero norm gives zeros, not 0/0
    return [_op(node, "Select", _op(node, "Equal", norm, zero), zero, _op(node, "Divide", x, norm))]


@translator("MeanVarianceNormalization")
def mean_variance_normalization(node):
    """(x - mean) / (std + 1e-9), the ONNX function body's epsilon."""
    return [_mvn(node, node.require(0), node.attr("axes", [0, 2, 3]), 1e-9, inside=False)]


@translator("LRN")
def lrn(node):
    x = node.require(0)
    size = node.attr("size")
    alpha, beta, bias = node.attr("alpha", 1e-4), node.attr("beta", 0.75), node.attr("bias", 1.0)
    if size % 2:
        return [_op(node, "LRN", x, _i64(node, [1]), alpha=alpha, beta=beta, bias=bias, size=size)]
    # an even window is lopsided in ONNX ((size-1)//2 before, size//2 after): average pool it
    rank = _rank(x)
    sq = _op(node, "Multiply", x, x)
    plane = _unsqueeze(node, sq, [1])
    avg = _op(node, "AvgPool", plane, kernel=[size] + [1] * (rank - 2), strides=[1] * (rank - 1),
              pads_begin=[(size - 1) // 2] + [0] * (rank - 2), pads_end=[size // 2] + [0] * (rank - 2),
              **{"exclude-pad": False}, auto_pad="explicit", rounding_type="floor")
    avg = _op(node, "Squeeze", avg, _i64(node, [1]))
    base = _op(node, "Add", _scalar(node, bias, x), _op(node, "Multiply", avg, _scalar(node, alpha, x)))
    return [_op(node, "Divide", x, _op(node, "Power", base, _scalar(node, beta, x)))]


# --- matrix products ------------------------------------------------------------------------------
@translator("MatMul")
def matmul(node):
    return [_op(node, "MatMul", node.require(0), node.require(1), transpose_a=False, transpose_b=False)]


@translator("Gemm")
def gemm(node):
    """alpha * A' B' + beta * C; constant factors fold into constant operands."""
    a, b, c = node.require(0), node.require(1), node.input(2)
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    if alpha != 1.0:
        bv = node.const_value(1)
        if bv is not None:
            b = node.const((bv * alpha).astype(bv.dtype))
        else:
            a = _op(node, "Multiply", a, _scalar(node, alpha, a))
    y = _op(node, "MatMul", a, b, transpose_a=bool(node.attr("transA", 0)),
            transpose_b=bool(node.attr("transB", 0)))
    if c is None or beta == 0.0:
        return [y]
    if beta != 1.0:
        cv = node.const_value(2)
        if cv is not None:
            c = node.const((cv * beta).astype(cv.dtype))
        else:
            c = _op(node, "Multiply", c, _scalar(node, beta, c))
    return [_op(node, "Add", y, c)]


@translator("MatMulInteger")
def matmul_integer(node):
    a, b = node.require(0), node.require(1)
    za, zb = node.input(2), node.input(3)
    af = _convert(node, a, Type.f64)
    if za is not None:
        z = _convert(node, za, Type.f64)
        if _rank(za) == 1 and (_dims(za) or [1])[0] != 1:
            z = _unsqueeze(node, z, [-1])  # one zero point per row of A
        af = _op(node, "Subtract", af, z)
    bf = _shifted(node, b, zb, Type.f64, None)
    y = _op(node, "MatMul", af, bf, transpose_a=False, transpose_b=False)
    return [_convert(node, y, Type.i32)]


@translator("QLinearMatMul")
def qlinear_matmul(node):
    a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = (node.input(i) for i in range(8))
    acc = _op(node, "MatMul", _shifted(node, a, a_zp, Type.f64, None),
              _shifted(node, b, b_zp, Type.f64, None), transpose_a=False, transpose_b=False)
    return [_requantize(node, acc, a_scale, b_scale, y_scale, y_zp, _etype(a))]


@translator("Einsum")
def einsum(node):
    eq = node.attr("equation").replace(" ", "")
    inputs = [node.require(i) for i in range(len(node.inputs))]
    t = _etype(inputs[0])
    wide = t in (Type.bf16, Type.f16)
    if wide:
        inputs = [_convert(node, i, Type.f32) for i in inputs]
    y = node.make("Einsum", inputs, {"equation": eq}).output(0)
    return [_convert(node, y, t) if wide else y]


# --- recurrent layers --------------------------------------------------------------------------------
#: ONNX activation name -> (IR name, takes alpha, takes beta)
_RNN_ACTIVATIONS = {"sigmoid": ("sigmoid", False, False), "tanh": ("tanh", False, False),
                    "relu": ("relu", False, False), "hardsigmoid": ("hardsigmoid", True, True)}
_ALPHA_USERS = {"hardsigmoid", "leakyrelu", "thresholdedrelu", "scaledtanh", "affine", "elu"}
_BETA_USERS = {"hardsigmoid", "scaledtanh", "affine"}


def _rnn_activation_attrs(node, defaults: Sequence[str], n_dirs: int) -> dict[str, Any]:
    """IR activations/alpha/beta: ONNX lists them per direction; IR has one list for all directions.
    ONNX consumes alpha and beta values in order, only for functions that take them."""
    count = len(defaults)
    names = [a.lower() for a in node.attr("activations", None) or list(defaults) * n_dirs]
    alphas = list(node.attr("activation_alpha", None) or [])
    betas = list(node.attr("activation_beta", None) or [])
    per_dir = []
    for d in range(n_dirs):
        chunk = names[d * count:(d + 1) * count] if len(names) >= (d + 1) * count else names[:count]
        entry = []
        for name in chunk:
            alpha = alphas.pop(0) if name in _ALPHA_USERS and alphas else None
            beta = betas.pop(0) if name in _BETA_USERS and betas else None
            entry.append((name, alpha, beta))
        per_dir.append(entry)
    if any(e != per_dir[0] for e in per_dir[1:]):
        raise UnsupportedOpError("recurrent layer with different activations per direction")
    out_names, out_alpha, out_beta = [], [], []
    for name, alpha, beta in per_dir[0]:
        if name not in _RNN_ACTIVATIONS:
            raise UnsupportedOpError(f"recurrent activation '{name}' (supported: {sorted(_RNN_ACTIVATIONS)})")
        out_names.append(_RNN_ACTIVATIONS[name][0])
        out_alpha.append(0.2 if alpha is None else alpha)
        out_beta.append(0.5 if beta is None else beta)
    attrs: dict[str, Any] = {"activations": out_names}
    if any(n == "hardsigmoid" for n in out_names):
        attrs.update(activations_alpha=out_alpha, activations_beta=out_beta)
    return attrs


def _gate_gather(node, w: Output, order: Sequence[int], hidden: int, axis: int) -> Output:
    """Reorder the ``hidden``-sized gate blocks of ``w`` along ``axis`` (block k of the result is
    block ``order[k]`` of ``w``)."""
    if list(order) == list(range(len(order))):
        return w
    idx = np.concatenate([np.arange(g * hidden, (g + 1) * hidden) for g in order]).astype(np.int64)
    return _op(node, "Gather", w, node.const(idx), _i64(node, axis), batch_dims=0)


def _batch_dim(node, x: Output, axis: int) -> Output:
    """Dimension ``axis`` of ``x`` as a 1-element i64 tensor."""
    d = _dims(x)
    if d is not None and d[axis] is not None:
        return _i64(node, [d[axis]])
    return _op(node, "Gather", _shape_of(node, x), _i64(node, [axis]), _i64(node, 0), batch_dims=0)


def _filled(node, value: float, like: Output, lead: Output, tail: Sequence[int], dtype: Type) -> Output:
    shape = _op(node, "Concat", lead, _i64(node, list(tail)), axis=0)
    return _op(node, "Broadcast", node.const(np.asarray(value, dtype=dtype.to_dtype())), shape, mode="numpy")


class _Recurrent:
    """What LSTM, GRU and RNN share: layout handling, default inputs and output transposes."""

    def __init__(self, node, gates: int):
        self.node = node
        self.hidden = node.attr("hidden_size")
        self.direction = node.attr("direction", "forward")
        self.n_dirs = 2 if self.direction == "bidirectional" else 1
        self.layout = node.attr("layout", 0) if node.version >= 14 else 0
        x = node.require(0)
        self.t = _etype(x)
        self.x = _transpose(node, x, [1, 0, 2]) if self.layout == 0 else x  # [B, T, I]
        self.batch = _batch_dim(node, self.x, 0)
        self.gates = gates

    def state(self, i: int) -> Output:
        """Initial state input ``i`` as ``[B, D, H]`` (zeros when absent)."""
        s = self.node.input(i)
        if s is None:
            return _filled(self.node, 0, self.x, self.batch, [self.n_dirs, self.hidden], self.t)
        return _transpose(self.node, s, [1, 0, 2]) if self.layout == 0 else s

    def lengths(self, i: int) -> Output:
        s = self.node.input(i)
        if s is not None:
            return s
        seq = _batch_dim(self.node, self.x, 1)
        return _op(self.node, "Broadcast", _convert(self.node, seq, Type.i32), self.batch, mode="numpy")

    def bias(self) -> tuple[Output, Output] | None:
        """ONNX's ``[D, 2*G*H]`` bias (input 3) split into its W and R halves."""
        b = self.node.input(3)
        if b is None:
            return None
        split = self.node.make("Split", [b, _i64(self.node, 1)], {"num_splits": 2})
        return split.output(0), split.output(1)

    def attrs(self, acts: dict[str, Any]) -> dict[str, Any]:
        """The IR sequence op's attributes."""
        return {"direction": self.direction, "hidden_size": self.hidden, "clip": self.node.attr("clip", 0.0),
                **acts}

    def outputs(self, y: Output | None, finals: Sequence[Output]) -> list[Output | None]:
        node = self.node
        out: list[Output | None] = []
        if node.output_used(0) and y is not None:
            out.append(_transpose(node, y, [2, 1, 0, 3] if self.layout == 0 else [0, 2, 1, 3]))
        else:
            out.append(None)
        for k, f in enumerate(finals):
            out.append(_transpose(node, f, [1, 0, 2]) if self.layout == 0 and node.output_used(1 + k) else
                       (f if node.output_used(1 + k) else None))
        return out[:max(node.num_outputs, 1)]


def _sum_bias(node, rec: _Recurrent, gate_order: Sequence[int], zero_rows: int) -> Output:
    halves = rec.bias()
    if halves is None:
        return node.const(np.zeros((rec.n_dirs, zero_rows), dtype=rec.t.to_dtype()))
    return _gate_gather(node, _op(node, "Add", *halves), gate_order, rec.hidden, 1)


@translator("LSTM")
def lstm(node):
    rec = _Recurrent(node, 4)
    acts = _rnn_activation_attrs(node, ("sigmoid", "tanh", "tanh"), rec.n_dirs)
    h0, c0 = rec.state(5), rec.state(6)
    if node.input(7) is not None or node.attr("input_forget", 0):
        return _lstm_unrolled(node, rec, h0, c0, acts)
    order = [2, 0, 3, 1]  # ONNX i, o, f, c -> IR f, i, c, o
    w = _gate_gather(node, node.require(1), order, rec.hidden, 1)
    r = _gate_gather(node, node.require(2), order, rec.hidden, 1)
    b = _sum_bias(node, rec, order, 4 * rec.hidden)
    seq = node.make("LSTMSequence", [rec.x, h0, c0, rec.lengths(4), w, r, b], rec.attrs(acts))
    return rec.outputs(seq.output(0), [seq.output(1), seq.output(2)])


def _activation_fn(node, name: str, alpha: float, beta: float, clip: float):
    def apply(x):
        if clip > 0:
            x = _op(node, "Clamp", x, min=-clip, max=clip)
        if name == "hardsigmoid":
            return _op(node, "HardSigmoid", x, _scalar(node, alpha, x), _scalar(node, beta, x))
        return _op(node, {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}[name], x)

    return apply


def _lstm_unrolled(node, rec: _Recurrent, h0, c0, acts) -> list[Output | None]:
    """Peepholes or input_forget: the cell built from primitives, unrolled over a static sequence
    length. input_forget couples the gates as onnxruntime does (f = 1 - i). Sequence lengths mask
    forward directions; a reverse direction runs over the whole sequence."""
    dims = _dims(rec.x)
    if dims is None or dims[1] is None:
        raise ModelReadError("LSTM with peepholes or input_forget needs a static sequence length")
    steps, hs = dims[1], rec.hidden
    clip = node.attr("clip", 0.0)
    names, alphas = acts["activations"], acts.get("activations_alpha", [0.2] * 3)
    betas = acts.get("activations_beta", [0.5] * 3)
    f_act, g_act = (_activation_fn(node, names[k], alphas[k], betas[k], clip) for k in range(2))
    h_act = _activation_fn(node, names[2], alphas[2], betas[2], 0.0)
    halves = rec.bias()
    b = (node.const(np.zeros((rec.n_dirs, 4 * hs), dtype=rec.t.to_dtype())) if halves is None
         else _op(node, "Add", *halves))
    p = node.input(7)
    lengths = node.input(4)
    coupled = bool(node.attr("input_forget", 0))
    reverse = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[rec.direction]
    ys, hs_out, cs_out = [], [], []
    for d, rev in enumerate(reverse):
        def pick(v, axis=0):
            return _op(node, "Gather", v, _i64(node, d), _i64(node, axis), batch_dims=0)

        gx = _op(node, "MatMul", rec.x, pick(node.require(1)), transpose_a=False, transpose_b=True)
        gx = _op(node, "Add", gx, pick(b))  # [B, T, 4H] in ONNX order i, o, f, c
        r = pick(node.require(2))
        peep = [None] * 3 if p is None else [_slice_last(node, pick(p), k * hs, (k + 1) * hs)
                                             for k in range(3)]
        h, c = pick(h0, 1), pick(c0, 1)
        outs: list[Output | None] = [None] * steps
        for t in (reversed(range(steps)) if rev else range(steps)):
            hr = _op(node, "MatMul", h, r, transpose_a=False, transpose_b=True)
            g = _op(node, "Add", _step(node, gx, t, 1), hr)
            gi, go, gf, gc = (_slice_last(node, g, k * hs, (k + 1) * hs) for k in range(4))

            def peeped(gate, k, state):
                if peep[k] is None:
                    return gate
                return _op(node, "Add", gate, _op(node, "Multiply", peep[k], state))

            i = f_act(peeped(gi, 0, c))
            f = (_op(node, "Subtract", _scalar(node, 1, i), i) if coupled else f_act(peeped(gf, 2, c)))
            nc = _op(node, "Add", _op(node, "Multiply", f, c), _op(node, "Multiply", i, g_act(gc)))
            o = f_act(peeped(go, 1, nc))
            nh = _op(node, "Multiply", o, h_act(nc))
            if lengths is not None and not rev:
                valid = _op(node, "Less", _i64(node, t), _convert(node, lengths, Type.i64))
                valid = _unsqueeze(node, valid, [1])
                outs[t] = _op(node, "Select", valid, nh, _scalar(node, 0, nh))
                h, c = _op(node, "Select", valid, nh, h), _op(node, "Select", valid, nc, c)
            else:
                outs[t] = nh
                h, c = nh, nc
        ys.append(_op(node, "Concat", *[_unsqueeze(node, o, [1]) for o in outs], axis=1))  # [B, T, H]
        hs_out.append(h)
        cs_out.append(c)
    y = _op(node, "Concat", *[_unsqueeze(node, v, [1]) for v in ys], axis=1)  # [B, D, T, H]
    hf = _op(node, "Concat", *[_unsqueeze(node, v, [1]) for v in hs_out], axis=1)
    cf = _op(node, "Concat", *[_unsqueeze(node, v, [1]) for v in cs_out], axis=1)
    return rec.outputs(y, [hf, cf])


@translator("GRU")
def gru(node):
    rec = _Recurrent(node, 3)
    lbr = bool(node.attr("linear_before_reset", 0))
    halves = rec.bias()
    h = rec.hidden
    if halves is None:
        b = node.const(np.zeros((rec.n_dirs, (4 if lbr else 3) * h), dtype=rec.t.to_dtype()))
    elif lbr:
        wb, rb = halves
        zr = _op(node, "Add", _slice_last(node, wb, 0, 2 * h), _slice_last(node, rb, 0, 2 * h))
        b = _op(node, "Concat", zr, _slice_last(node, wb, 2 * h, 3 * h), _slice_last(node, rb, 2 * h, 3 * h),
                axis=1)
    else:
        b = _op(node, "Add", *halves)
    acts = _rnn_activation_attrs(node, ("sigmoid", "tanh"), rec.n_dirs)
    seq = node.make("GRUSequence", [rec.x, rec.state(5), rec.lengths(4), node.require(1), node.require(2), b],
                    {**rec.attrs(acts), "linear_before_reset": lbr})
    return rec.outputs(seq.output(0), [seq.output(1)])


def _slice_last(node, x: Output, start: int, stop: int) -> Output:
    return _op(node, "Slice", x, _i64(node, [start]), _i64(node, [stop]), _i64(node, [1]), _i64(node, [-1]))


@translator("RNN")
def rnn(node):
    rec = _Recurrent(node, 1)
    halves = rec.bias()
    b = (node.const(np.zeros((rec.n_dirs, rec.hidden), dtype=rec.t.to_dtype())) if halves is None
         else _op(node, "Add", *halves))
    acts = _rnn_activation_attrs(node, ("tanh",), rec.n_dirs)
    seq = node.make("RNNSequence", [rec.x, rec.state(5), rec.lengths(4), node.require(1), node.require(2), b],
                    rec.attrs(acts))
    return rec.outputs(seq.output(0), [seq.output(1)])


# --- attention ----------------------------------------------------------------------------------------
def _dim_scalar(node, x: Output, axis: int) -> Output:
    """Dimension ``axis`` of ``x`` as an i64 scalar."""
    d = _dims(x)
    if d is not None and d[axis] is not None:
        return _i64(node, d[axis])
    return _op(node, "Gather", _shape_of(node, x), _i64(node, axis), _i64(node, 0), batch_dims=0)


def _arange(node, n: Output) -> Output:
    return _op(node, "Range", _i64(node, 0), n, _i64(node, 1), output_type=Type.i64)


def _heads_first(node, x: Output, heads: int) -> Output:
    """``[B, S, heads * d]`` -> ``[B, heads, S, d]``."""
    return _transpose(node, _reshape(node, x, [0, 0, heads, -1], special_zero=True), [0, 2, 1, 3])


def _repeat_heads(node, x: Output, reps: int) -> Output:
    """``[B, H, L, d]`` -> ``[B, H * reps, L, d]``, each head repeated ``reps`` times in place."""
    if reps == 1:
        return x
    ones = _i64(node, [1, 1, reps, 1, 1])
    b = _op(node, "Broadcast", _unsqueeze(node, x, [2]), ones, mode="bidirectional")
    d = _dims(x)
    if d is None or d[1] is None or d[3] is None:
        raise ModelReadError("grouped-query attention needs static head counts and sizes")
    return _reshape(node, b, [0, d[1] * reps, -1, d[3]], special_zero=True)


def _neg_inf_where_not(node, allowed: Output, like: Output) -> Output:
    """0 where ``allowed``, -inf elsewhere, in ``like``'s type."""
    return _op(node, "Select", allowed, _scalar(node, 0, like), _scalar(node, -np.inf, like))


def _add(node, a: Output | None, b: Output) -> Output:
    return b if a is None else _op(node, "Add", a, b)


class _AttentionMasks:
    """The additive bias of ONNX Attention: mask, causal and sliding-window frontiers aligned at the
    end of the past (or per batch at ``nonpad_kv_seqlen - q_len``), and key padding."""

    def __init__(self, node, q: Output, k: Output, past: Output | None, nonpad: Output | None):
        self.node = node
        self.like = q
        self.q_len = _dim_scalar(node, q, 2)
        self.kv_len = _dim_scalar(node, k, 2)
        if past is not None:
            self.offset = _dim_scalar(node, past, 2)
        elif nonpad is not None:
            per_batch = _op(node, "Subtract", _convert(node, nonpad, Type.i64), self.q_len)
            self.offset = _reshape(node, per_batch, [-1, 1, 1, 1])
        else:
            self.offset = _i64(node, 0)

    def diff(self) -> Output:
        """(query position + offset) - key position, ``[q, kv]`` or ``[B, 1, q, kv]``."""
        node = self.node
        i = _unsqueeze(node, _arange(node, self.q_len), [1])
        j = _unsqueeze(node, _arange(node, self.kv_len), [0])
        return _op(node, "Subtract", _op(node, "Add", i, self.offset), j)

    def causal(self) -> Output:
        allowed = _op(self.node, "GreaterEqual", self.diff(), _i64(self.node, 0))
        return _neg_inf_where_not(self.node, allowed, self.like)

    def window(self, left: int, right: int) -> Output:
        node = self.node
        d = self.diff()
        allowed = None
        if left >= 0:
            allowed = _op(node, "LessEqual", d, _i64(node, left))
        if right >= 0:
            r = _op(node, "GreaterEqual", d, _i64(node, -right))
            allowed = r if allowed is None else _op(node, "LogicalAnd", allowed, r)
        return _neg_inf_where_not(node, allowed, self.like)

    def padding(self, nonpad: Output) -> Output:
        node = self.node
        j = _unsqueeze(node, _arange(node, self.kv_len), [0])
        valid = _op(node, "Less", j, _unsqueeze(node, _convert(node, nonpad, Type.i64), [1]))
        return _unsqueeze(node, _neg_inf_where_not(node, valid, self.like), [1, 2])

    def mask(self, m: Output) -> Output:
        """A boolean mask as 0/-inf, and either kind padded at the end to the key length."""
        node = self.node
        boolean = _etype(m) == Type.boolean
        md = _dims(m)
        kv_static = _const_int(self.kv_len)
        if md is not None and md[-1] is not None and kv_static is not None and md[-1] < kv_static:
            pad = kv_static - md[-1]
            rank = len(md)
            fill = node.const(np.asarray(False)) if boolean else _scalar(node, -np.inf, m)
            m = _op(node, "Pad", m, _i64(node, [0] * rank), _i64(node, [0] * (rank - 1) + [pad]), fill,
                    pad_mode="constant")
        return _neg_inf_where_not(node, m, self.like) if boolean else _convert_like(node, m, self.like)


def _const_int(x: Output) -> int | None:
    v = x.node.static_value(x.index)
    return None if v is None else int(np.asarray(v).reshape(-1)[0])


def _softmax_last(node, x: Output) -> Output:
    """Softmax over the last axis. Below f32 it is composed of elementwise ops, each rounding to the
    input type as ONNX's reference does (IR Softmax computes f16 in f32)."""
    if _etype(x) in (Type.f32, Type.f64):
        return node.make("Softmax", [x], {"axis": -1}, version="opset8").output(0)
    e = _op(node, "Exp", _op(node, "Subtract", x, _reduce(node, "ReduceMax", x, [-1])))
    return _op(node, "Divide", e, _reduce(node, "ReduceSum", e, [-1]))


@translator("Attention", since=23)
def attention(node):
    q, k, v = node.require(0), node.require(1), node.require(2)
    mask, past_k, past_v = node.input(3), node.input(4), node.input(5)
    nonpad = node.input(6) if node.version >= 24 else None
    rank = _rank(q)
    if rank == 3:
        q = _heads_first(node, q, node.attr("q_num_heads"))
        k = _heads_first(node, k, node.attr("kv_num_heads"))
        v = _heads_first(node, v, node.attr("kv_num_heads"))
    if past_k is not None:
        k = _op(node, "Concat", past_k, k, axis=2)
    if past_v is not None:
        v = _op(node, "Concat", past_v, v, axis=2)
    present_k, present_v = k, v
    qd, kd = _dims(q), _dims(k)
    if qd is None or kd is None or qd[1] is None or kd[1] is None or qd[3] is None:
        raise ModelReadError("Attention needs static head counts and head size")
    if min(qd[1], kd[1], qd[3]) <= 0 or qd[1] % kd[1]:
        raise ModelReadError(f"Attention: {qd[1]} query heads, {kd[1]} key/value heads of size {qd[3]}: "
                             "sizes must be positive and the query heads a multiple of the key/value heads")
    scale = node.attr("scale", None)
    if scale is None:
        scale = 1.0 / math.sqrt(qd[3])
    s = _scalar(node, math.sqrt(scale), q)
    reps = qd[1] // kd[1]
    k, v = _repeat_heads(node, k, reps), _repeat_heads(node, v, reps)
    scores = _op(node, "MatMul", _op(node, "Multiply", q, s), _op(node, "Multiply", k, s),
                 transpose_a=False, transpose_b=True)
    softcap = node.attr("softcap", 0.0)
    if softcap > 0:
        c = _scalar(node, softcap, scores)
        scores = _op(node, "Multiply", _op(node, "Tanh", _op(node, "Divide", scores, c)), c)

    masks = _AttentionMasks(node, q, k, past_k, nonpad)
    bias = None
    if mask is not None:
        bias = masks.mask(mask)
    if node.attr("is_causal", 0):
        bias = _add(node, bias, masks.causal())
    left, right = node.attr("left_window_size", -1), node.attr("right_window_size", -1)
    if node.version >= 25 and (left >= 0 or right >= 0):
        bias = _add(node, bias, masks.window(left, right))
    if nonpad is not None:
        bias = _add(node, bias, masks.padding(nonpad))

    mode = node.attr("qk_matmul_output_mode", 0)
    with_bias = scores if bias is None else _op(node, "Add", scores, bias)
    qk_out = with_bias if mode == 2 else scores
    logits = with_bias
    precision = node.attr("softmax_precision", 0)
    if precision:
        from arrayrt.ir.frontend.onnx.types import onnx_type

        logits = _convert(node, logits, onnx_type(precision))
    probs = _softmax_last(node, logits)
    if bias is not None:
        # a row whose bias masks every key attends to nothing: zero probabilities
        row_max = _reduce(node, "ReduceMax", bias, [-1])
        empty = _op(node, "Equal", row_max, _scalar(node, -np.inf, row_max))
        probs = _op(node, "Select", empty, _scalar(node, 0, probs), probs)
    probs = _convert_like(node, probs, q)
    if mode == 3:
        qk_out = probs
    y = _op(node, "MatMul", probs, v, transpose_a=False, transpose_b=False)
    if rank == 3:
        y = _reshape(node, _transpose(node, y, [0, 2, 1, 3]), [0, 0, -1], special_zero=True)
    outs = [y, present_k if node.output_used(1) else None, present_v if node.output_used(2) else None,
            qk_out if node.output_used(3) else None]
    return outs[:max(node.num_outputs, 1)]


# --- signal processing ----------------------------------------------------------------------------------
def _dft_axis(node, rank: int) -> Output:
    """The ONNX DFT axis (counted over the input rank, complex pair axis included) as a 1-element
    non-negative axes tensor."""
    if node.version < 20:
        a = node.attr("axis", 1)
        return _i64(node, [a + rank if a < 0 else a])
    if node.input(2) is None:
        return _i64(node, [rank - 2])
    v = node.const_value(2)
    if v is not None:
        a = int(np.asarray(v).reshape(-1)[0])
        return _i64(node, [a + rank if a < 0 else a])
    a = _reshape(node, _convert(node, node.require(2), Type.i64), [1])
    return _op(node, "Select", _op(node, "Less", a, _i64(node, 0)), _op(node, "Add", a, _i64(node, rank)), a)


@translator("DFT", since=17)
def dft(node):
    x = node.require(0)
    rank = _rank(x)
    dims = _dims(x)
    if rank is None or dims[-1] is None:
        raise ModelReadError("DFT needs an input of known rank and a static last dimension")
    axes = _dft_axis(node, rank)
    size = None if node.input(1) is None else _reshape(node, _convert(node, node.require(1), Type.i64), [1])
    sized = [] if size is None else [size]
    inverse, onesided = node.attr("inverse", 0), node.attr("onesided", 0)
    real = dims[-1] == 1
    if onesided and inverse:
        y = node.make("IRDFT", [x, axes, *sized]).output(0)
        return [_unsqueeze(node, y, [-1])]
    if onesided and real:
        return [node.make("RDFT", [_op(node, "Squeeze", x, _i64(node, [-1])), axes, *sized]).output(0)]
    if real:
        zeros = _op(node, "Broadcast", _scalar(node, 0, x), _shape_of(node, x), mode="numpy")
        x = _op(node, "Concat", x, zeros, axis=-1)
    y = node.make("IDFT" if inverse else "DFT", [x, axes, *sized]).output(0)
    if not onesided:
        return [y]
    n = _op(node, "Gather", _shape_of(node, y), axes, _i64(node, 0), batch_dims=0)
    half = _op(node, "Add", _op(node, "Divide", n, _i64(node, 2)), _i64(node, 1))
    return [_op(node, "Slice", y, _i64(node, [0]), half, _i64(node, [1]), axes)]


@translator("STFT", since=17)
def stft(node):
    """Real signals, one-sided: IR STFT (frames first). The default window is rectangular."""
    x = node.require(0)
    dims = _dims(x)
    if dims is None or dims[-1] != 1 or not node.attr("onesided", 1):
        raise UnsupportedOpError("STFT of complex signals or with onesided=0")
    step = _convert(node, node.require(1), Type.i64)
    window = node.input(2)
    if node.input(3) is not None:
        frame = _convert(node, node.require(3), Type.i64)
    elif window is not None:
        frame = _dim_scalar(node, window, 0)
    else:
        raise ModelReadError("STFT needs a window or a frame_length")
    if window is None:
        window = _op(node, "Broadcast", _scalar(node, 1, x), _reshape(node, frame, [1]), mode="numpy")
    signal = _op(node, "Squeeze", x, _i64(node, [-1]))
    return [node.make("STFT", [signal, _convert_like(node, window, x), _reshape(node, frame, []),
                               _reshape(node, step, [])], {"transpose_frames": False}).output(0)]


def _cosine_window(node, terms: Sequence[tuple[float, float]]) -> Output:
    """sum_k a_k cos(k * 2 pi n / N) over n < size, N = size (periodic) or size - 1, in the output
    type (as ONNX's reference evaluates the window formulas)."""
    from arrayrt.ir.frontend.onnx.types import onnx_type

    t = onnx_type(node.attr("output_datatype", 1))
    size = _reshape(node, _convert(node, node.require(0), Type.i64), [])
    n = _op(node, "Range", _i64(node, 0), size, _i64(node, 1), output_type=t)
    span = size if node.attr("periodic", 1) else _op(node, "Subtract", size, _i64(node, 1))
    denom = _convert(node, span, t)
    y = None
    for k, a in terms:
        if k == 0:
            term = node.const(np.asarray(a, dtype=t.to_dtype()))
        else:
            step = node.const(np.asarray(np.pi * k, t.to_dtype()))
            angle = _op(node, "Divide", _op(node, "Multiply", n, step), denom)
            term = _op(node, "Multiply", _op(node, "Cos", angle), node.const(np.asarray(a, t.to_dtype())))
        y = term if y is None else _op(node, "Add", y, term)
    return y


@translator("HannWindow", since=17)
def hann_window(node):
    return [_cosine_window(node, [(0, 0.5), (2, -0.5)])]


@translator("HammingWindow", since=17)
def hamming_window(node):
    alpha = 25.0 / 46.0
    return [_cosine_window(node, [(0, alpha), (2, -(1 - alpha))])]


@translator("BlackmanWindow", since=17)
def blackman_window(node):
    return [_cosine_window(node, [(0, 0.42), (2, -0.5), (4, 0.08)])]


@translator("MelWeightMatrix", since=17)
def mel_weight_matrix(node):
    from arrayrt.ir.frontend.onnx.types import onnx_type

    return [node.make("MelWeightMatrix", [node.require(i) for i in range(5)],
                      {"output_type": onnx_type(node.attr("output_datatype", 1))}).output(0)]


# --- detection and sampling -------------------------------------------------------------------------
@translator("NonMaxSuppression", since=10)
def non_max_suppression(node):
    """ONNX orders the selection by batch and class (no score sort); an absent score threshold
    keeps every box (IR's default 0 would drop non-positive scores)."""
    boxes, scores = node.require(0), node.require(1)
    extra = []
    for i, default, t in ((2, 0, Type.i64), (3, 0.0, Type.f32), (4, -np.inf, Type.f32)):
        v = node.input(i)
        extra.append(node.const(np.asarray(default, t.to_dtype())) if v is None
                     else _reshape(node, _convert(node, v, t), []))
    nms = node.make("NonMaxSuppression", [boxes, scores, *extra],
                    {"box_encoding": "center" if node.attr("center_point_box", 0) else "corner",
                     "sort_result_descending": False, "output_type": Type.i64})
    return [nms.output(0)]


@translator("RoiAlign", since=10)
def roi_align(node):
    default = "output_half_pixel" if node.version < 16 else "half_pixel"
    mode = node.attr("coordinate_transformation_mode", default)
    # ONNX half_pixel shifts the scaled ROI by -0.5 only: IR's half_pixel_for_nn
    aligned = {"half_pixel": "half_pixel_for_nn", "output_half_pixel": "asymmetric"}.get(mode)
    if aligned is None:
        raise UnsupportedOpError(f"RoiAlign coordinate_transformation_mode '{mode}'")
    attrs = {"pooled_h": node.attr("output_height", 1), "pooled_w": node.attr("output_width", 1),
             "sampling_ratio": node.attr("sampling_ratio", 0),
             "spatial_scale": node.attr("spatial_scale", 1.0), "mode": node.attr("mode", "avg"),
             "aligned_mode": aligned}
    x = node.require(0)
    rois = _convert_like(node, node.require(1), x)
    if attrs["mode"] == "max":  # ONNX's max weighs the neighbours before taking the max: an extension op
        del attrs["mode"]
        return [node.make("ROIAlignCornerMax", [x, rois, node.require(2)], attrs).output(0)]
    return [node.make("ROIAlign", [x, rois, node.require(2)], attrs).output(0)]


_GRID_MODES = {"linear": "bilinear", "bilinear": "bilinear", "cubic": "bicubic", "bicubic": "bicubic",
               "nearest": "nearest"}


@translator("GridSample", since=16)
def grid_sample(node):
    """2-D: IR GridSample; volumetric: the GridSampleND extension."""
    x = node.require(0)
    mode = node.attr("mode", "linear" if node.version >= 20 else "bilinear")
    attrs = {"align_corners": bool(node.attr("align_corners", 0)), "mode": _GRID_MODES[mode],
             "padding_mode": node.attr("padding_mode", "zeros")}
    op = "GridSample" if _rank(x) == 4 else "GridSampleND"
    return [node.make(op, [x, _convert_like(node, node.require(1), x)], attrs).output(0)]


@translator("DeformConv", since=19)
def deform_conv(node):
    """Torchvision's deformable convolution: taps within a pixel outside the input interpolate
    with zeros (IR ``bilinear_interpolation_pad``)."""
    x, w, offset, b, mask = (node.input(i) for i in range(5))
    ns = _spatial_count(node, x, "DeformConv")
    if ns != 2:
        raise UnsupportedOpError("DeformConv over other than 2 spatial dimensions")
    strides, dilations, pb, pe, _ = _window(node, ns)
    inputs = [x, offset, w] + ([] if mask is None else [mask])
    y = node.make("DeformableConvolution", inputs, {
        "strides": strides, "dilations": dilations, "pads_begin": pb, "pads_end": pe, "auto_pad": "explicit",
        "group": node.attr("group", 1), "deformable_group": node.attr("offset_group", 1),
        "bilinear_interpolation_pad": True}).output(0)
    return [_add_bias(node, y, b, 4)]


@translator("Col2Im", since=18)
def col2im(node):
    """2-D: IR Col2Im; other ranks: the Col2ImND extension."""
    x = node.require(0)
    size, block = node.require(1), node.require(2)
    ns = (_dims(size) or [None])[0]
    if ns is None:
        raise ModelReadError("Col2Im needs an image_shape input of static length")
    pads = node.attr("pads", None) or [0] * (2 * ns)
    attrs = {"strides": node.attr("strides", None) or [1] * ns,
             "dilations": node.attr("dilations", None) or [1] * ns,
             "pads_begin": pads[:ns], "pads_end": pads[ns:]}
    return [node.make("Col2Im" if ns == 2 else "Col2ImND",
                      [x, _convert(node, size, Type.i64), _convert(node, block, Type.i64)], attrs).output(0)]


@translator("AffineGrid", since=20)
def affine_grid(node):
    """Normalised base grid (x, y[, z], 1) of the output size times theta^T, per batch."""
    theta, size = node.require(0), _convert(node, node.require(1), Type.i64)
    td = _dims(theta)
    if td is None or td[1] is None:
        raise ModelReadError("AffineGrid needs theta of known shape [N, 2, 3] or [N, 3, 4]")
    nd = td[1]
    align = node.attr("align_corners", 0)
    t = _etype(theta)
    lengths = [_op(node, "Gather", size, _i64(node, 2 + i), _i64(node, 0), batch_dims=0) for i in range(nd)]
    one, two = (node.const(np.asarray(v, t.to_dtype())) for v in (1.0, 2.0))
    axes = []
    for i, n in enumerate(lengths):
        idx = _op(node, "Range", _i64(node, 0), n, _i64(node, 1), output_type=t)
        nf = _convert(node, n, t)
        if align:  # -1 + 2 i / (n - 1)
            v = _op(node, "Multiply", idx, _op(node, "Divide", two, _op(node, "Subtract", nf, one)))
        else:  # (2 i + 1) / n - 1
            v = _op(node, "Divide", _op(node, "Add", _op(node, "Multiply", idx, two), one), nf)
        v = _op(node, "Subtract", v, one)
        shape = [1] * nd
        shape[i] = -1
        axes.append(_reshape(node, v, shape))
    spatial = _op(node, "Concat", *[_reshape(node, n, [1]) for n in lengths], axis=0)
    coords = [_op(node, "Broadcast", a, spatial, mode="numpy") for a in reversed(axes)]  # x, y[, z]
    coords.append(_op(node, "Broadcast", one, spatial, mode="numpy"))
    base = _op(node, "Concat", *[_unsqueeze(node, c, [-1]) for c in coords], axis=-1)
    flat = _reshape(node, base, [-1, nd + 1])
    grid = _op(node, "MatMul", flat, theta, transpose_a=False, transpose_b=True)  # [N, P, nd]
    out_shape = _op(node, "Concat", _reshape(node, _dim_scalar(node, theta, 0), [1]), spatial,
                    _i64(node, [nd]), axis=0)
    return [_op(node, "Reshape", grid, out_shape, special_zero=False)]


@translator("RotaryEmbedding", since=23)
def rotary_embedding(node):
    x, cos, sin, pos = (node.input(i) for i in range(4))
    rank = _rank(x)
    if rank == 3:
        heads = node.attr("num_heads", 0)
        if not heads:
            raise ModelReadError("RotaryEmbedding of a 3-D input needs num_heads")
        xh = _reshape(node, x, [0, 0, heads, -1], special_zero=True)  # [B, S, H, D]
        head_axis = 2
    else:
        xh, head_axis = x, 1  # [B, H, S, D]
    d = (_dims(xh) or [None])[-1]
    if d is None:
        raise ModelReadError("RotaryEmbedding needs a static head size")
    rot = node.attr("rotary_embedding_dim", 0) or d
    if pos is not None:
        cos = _op(node, "Gather", cos, pos, _i64(node, 0), batch_dims=0)
        sin = _op(node, "Gather", sin, pos, _i64(node, 0), batch_dims=0)
    cos, sin = _unsqueeze(node, cos, [head_axis]), _unsqueeze(node, sin, [head_axis])
    part = xh if rot == d else _slice_last(node, xh, 0, rot)
    if node.attr("interleaved", 0):
        x1 = _op(node, "Slice", part, _i64(node, [0]), _i64(node, [rot]), _i64(node, [2]), _i64(node, [-1]))
        x2 = _op(node, "Slice", part, _i64(node, [1]), _i64(node, [rot]), _i64(node, [2]), _i64(node, [-1]))
    else:
        x1, x2 = _slice_last(node, part, 0, rot // 2), _slice_last(node, part, rot // 2, rot)
    real = _op(node, "Subtract", _op(node, "Multiply", cos, x1), _op(node, "Multiply", sin, x2))
    imag = _op(node, "Add", _op(node, "Multiply", sin, x1), _op(node, "Multiply", cos, x2))
    if node.attr("interleaved", 0):
        pairs = _op(node, "Concat", _unsqueeze(node, real, [-1]), _unsqueeze(node, imag, [-1]), axis=-1)
        rotated = _reshape(node, pairs, [0, 0, 0, rot], special_zero=True)
    else:
        rotated = _op(node, "Concat", real, imag, axis=-1)
    if rot != d:
        rotated = _op(node, "Concat", rotated, _slice_last(node, xh, rot, d), axis=-1)
    if rank == 3:
        rotated = _reshape(node, rotated, [0, 0, -1], special_zero=True)
    return [rotated]


@translator("CausalConvWithState", since=27)
def causal_conv_with_state(node):
    """Depthwise 1-D convolution over the past state followed by the input; the new state is the
    last ``k - 1`` positions of that sequence."""
    x, w, b, past = (node.input(i) for i in range(4))
    wd = _dims(w)
    if wd is None or wd[0] is None or wd[2] is None:
        raise ModelReadError("CausalConvWithState needs weights of static shape [C, 1, k]")
    c, k = wd[0], wd[2]
    if past is None:
        past = _filled(node, 0, x, _batch_dim(node, x, 0), [c, k - 1], _etype(x))
    padded = _op(node, "Concat", past, x, axis=2)
    y = _op(node, "GroupConvolution", padded, _reshape(node, w, [c, 1, 1, k]), strides=[1], dilations=[1],
            pads_begin=[0], pads_end=[0], auto_pad="explicit")
    y = _add_bias(node, y, b, 3)
    activation = node.attr("activation", "none")
    if activation in ("silu", "swish"):
        wide = _convert(node, y, Type.f32) if _etype(y) not in (Type.f32, Type.f64) else y
        y = _convert_like(node, _op(node, "Multiply", wide, _op(node, "Sigmoid", wide)), y)
    elif activation != "none":
        raise UnsupportedOpError(f"CausalConvWithState activation '{activation}'")
    start = -(k - 1) if k > 1 else 2 ** 62
    state = _op(node, "Slice", padded, _i64(node, [start]), _i64(node, [2 ** 62]), _i64(node, [1]),
                _i64(node, [2]))
    return [y, state]


def _step(node, x: Output, t: int, axis: int = 2) -> Output:
    return _op(node, "Gather", x, _i64(node, t), _i64(node, axis), batch_dims=0)


@translator("LinearAttention", since=27)
def linear_attention(node):
    """The recurrence unrolled over the (static) sequence, state and arithmetic in f32:
    S = exp(g) S (gated); v <- beta (v - S^T k) (delta); S += k v^T; o = scale q^T S."""
    q, k, v, past = node.require(0), node.require(1), node.require(2), node.input(3)
    qh, kvh = node.attr("q_num_heads"), node.attr("kv_num_heads")
    if qh <= 0 or kvh <= 0:
        raise ModelReadError(f"LinearAttention: head counts must be positive (q_num_heads={qh}, "
                             f"kv_num_heads={kvh})")
    rule = node.attr("update_rule", "gated_delta")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    decay = node.require(4) if gating else node.input(4)  # the gate's log-decay
    beta = node.require(5) if delta else node.input(5)    # the delta rule's step sizes
    qd, vd = _dims(q), _dims(v)
    if qd is None or vd is None or None in qd[1:] or vd[2] is None:
        raise ModelReadError("LinearAttention needs static sequence length and hidden sizes")
    steps, dk, dv = qd[1], qd[2] // qh, vd[2] // kvh
    f32 = Type.f32
    q4, k4, v4 = (_convert(node, _heads_first(node, a, h), f32) for a, h in ((q, qh), (k, kvh), (v, kvh)))
    if gating:
        last = _dims(decay)[-1]
        g4 = _heads_first(node, decay, kvh) if last != kvh else _transpose(
            node, _unsqueeze(node, decay, [-1]), [0, 2, 1, 3])
        g4 = _op(node, "Exp", _convert(node, g4, f32))  # [B, H, T, 1 or dk]
    if delta:
        b4 = _convert(node, _transpose(node, _unsqueeze(node, beta, [-1]), [0, 2, 1, 3]), f32)  # [B, H, T, 1]
    state = (_convert(node, past, f32) if past is not None
             else _filled(node, 0, q, _batch_dim(node, q, 0), [kvh, dk, dv], f32))
    scale = node.attr("scale", 0.0) or 1.0 / math.sqrt(dk)
    outs = []
    for t in range(steps):
        kt, vt = _step(node, k4, t), _step(node, v4, t)  # [B, H, dk], [B, H, dv]
        if gating:
            state = _op(node, "Multiply", state, _unsqueeze(node, _step(node, g4, t), [-1]))
        if delta:
            got = _op(node, "MatMul", _unsqueeze(node, kt, [-2]), state, transpose_a=False, transpose_b=False)
            got = _op(node, "Squeeze", got, _i64(node, [-2]))
            vt = _op(node, "Multiply", _step(node, b4, t), _op(node, "Subtract", vt, got))
        outer = _op(node, "Multiply", _unsqueeze(node, kt, [-1]), _unsqueeze(node, vt, [-2]))
        state = _op(node, "Add", state, outer)
        read = _repeat_heads(node, state, qh // kvh)
        ot = _op(node, "MatMul", _unsqueeze(node, _step(node, q4, t), [-2]), read, transpose_a=False,
                 transpose_b=False)  # [B, Hq, 1, dv]
        outs.append(ot)
    y = outs[0] if len(outs) == 1 else _op(node, "Concat", *outs, axis=2)
    y = _op(node, "Multiply", y, node.const(np.asarray(scale, np.float32)))
    y = _reshape(node, _transpose(node, y, [0, 2, 1, 3]), [0, 0, -1], special_zero=True)
    return [_convert_like(node, y, q), _convert_like(node, state, past if past is not None else q)]
