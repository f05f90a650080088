"""Convolutions: Convolution, GroupConvolution, ConvolutionBackpropData, GroupConvolutionBackpropData.

Also the window arithmetic that pooling shares: auto padding, output lengths over interval
dimensions (as OpenVINO's shape inference computes them) and spatial padding of arrays.

Every compute reduces to one grouped forward convolution (:func:`grouped_conv`): the strided,
dilated window slices of the padded input are stacked (im2col) and contracted with the weights in
one ``matmul``. A backprop convolution is the forward convolution of the zero-stuffed input with
the spatially flipped, transposed weights.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._shapes import same_types
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import INF, Dimension, PartialShape

from arrayrt.errors import ShapeInferenceError, where

PAD_TYPES = ("explicit", "same_lower", "same_upper", "valid")


# --- interval arithmetic on dimensions (lo, hi); hi None = unbounded --------------------------
def interval(d: Dimension) -> tuple[int, int | None]:
    return d.min, (None if d.max == INF else d.max)


def to_dim(lo: int, hi: int | None) -> Dimension:
    if hi is None:
        return Dimension(lo, INF)
    return Dimension(lo) if lo == hi else Dimension(lo, hi)


def iv_add(a, n: int):
    """``a + n``, clipped at 0."""
    return max(a[0] + n, 0), (None if a[1] is None else max(a[1] + n, 0))


def iv_sub(a, b):
    """``a - b`` of two intervals, clipped at 0 as OpenVINO's Interval subtraction."""
    lo = 0 if b[1] is None else max(a[0] - b[1], 0)
    return lo, (None if a[1] is None else max(a[1] - b[0], 0))


def iv_mul(a, n: int):
    return a[0] * n, (None if a[1] is None else a[1] * n)


def iv_floordiv(a, n: int):
    return a[0] // n, (None if a[1] is None else a[1] // n)


def iv_ceildiv(a, n: int):
    return -(-a[0] // n), (None if a[1] is None else -(-a[1] // n))


def iv_dilated(k, d: int):
    """Extent of a kernel of size ``k`` (an interval) with dilation ``d``."""
    return iv_add(iv_mul(iv_sub(k, (1, 1)), d), 1)


# --- window arithmetic on concrete sizes ------------------------------------------------------
def dilated(k: int, d: int) -> int:
    return (k - 1) * d + 1


def same_pads(size: int, kernel: int, stride: int, dilation: int, auto_pad: str) -> tuple[int, int]:
    """(begin, end) padding of ``same_upper``/``same_lower``: output ``ceil(size / stride)``,
    the odd element at the end (upper) or the beginning (lower)."""
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + dilated(kernel, dilation) - size)
    small = total // 2
    return (small, total - small) if auto_pad == "same_upper" else (total - small, small)


def resolve_pads(auto_pad: str, sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads_begin: Sequence[int], pads_end: Sequence[int]):
    """The (pads_begin, pads_end) a forward window op applies to inputs of spatial ``sizes``."""
    if auto_pad in ("same_upper", "same_lower"):
        pairs = [same_pads(n, k, s, d, auto_pad) for n, k, s, d in zip(sizes, kernel, strides, dilations)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if auto_pad == "valid":
        return [0] * len(sizes), [0] * len(sizes)
    return list(pads_begin), list(pads_end)


def pad_spatial(xp: Any, x: Any, pads_begin: Sequence[int], pads_end: Sequence[int], value: float = 0) -> Any:
    """Pad (or crop, for negative pads) the axes from 2 on with ``value``, in the array-API standard."""
    for i, (b, e) in enumerate(zip(pads_begin, pads_end)):
        axis = 2 + i
        if b < 0 or e < 0:
            n = x.shape[axis]
            idx = [slice(None)] * x.ndim
            idx[axis] = slice(max(-b, 0), n - max(-e, 0))
            x = x[tuple(idx)]
        parts = []
        for p in (b, e):
            if p > 0:
                shape = list(x.shape)
                shape[axis] = p
                parts.append(xp.full(tuple(shape), value, dtype=x.dtype))
            else:
                parts.append(None)
        if parts[0] is not None or parts[1] is not None:
            x = xp.concat([a for a in (parts[0], x, parts[1]) if a is not None], axis=axis)
    return x


def window_slices(x: Any, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                  out: Sequence[int]) -> list[Any]:
    """One strided view of ``x`` (axes from 2 on) per kernel offset, in row-major kernel order:
    view[..., o] = x[..., o * stride + k * dilation]."""
    views = []
    for offs in itertools.product(*(range(k) for k in kernel)):
        idx = (slice(None), slice(None)) + tuple(
            slice(k * d, k * d + (n - 1) * s + 1, s) for k, d, s, n in zip(offs, dilations, strides, out))
        views.append(x[idx])
    return views


def grouped_conv(xp: Any, x: Any, w: Any, strides: Sequence[int], dilations: Sequence[int],
                 pads_begin: Sequence[int], pads_end: Sequence[int]) -> Any:
    """Forward convolution of ``x`` [N, G*C, *S] with ``w`` [G, O, C, *K] -> [N, G*O, *out]."""
    x = pad_spatial(xp, x, pads_begin, pads_end)
    n = x.shape[0]
    g, o, c = w.shape[:3]
    kernel = tuple(w.shape[3:])
    out = [(size - dilated(k, d)) // s + 1 for size, k, d, s in zip(x.shape[2:], kernel, dilations, strides)]
    if any(v <= 0 for v in out):
        raise ValueError(f"the kernel does not fit the padded input: output spatial shape {out}")
    views = window_slices(x, kernel, strides, dilations, out)
    kprod = len(views)
    p = math.prod(out)
    cols = views[0] if kprod == 1 else xp.stack(views, axis=2)  # [N, G*C, K, *out]
    cols = xp.reshape(cols, (n, g, c * kprod, p))
    y = xp.matmul(xp.reshape(w, (g, o, c * kprod)), cols)  # [N, G, O, P]
    return xp.reshape(y, (n, g * o, *out))


def zero_stuff(xp: Any, x: Any, strides: Sequence[int]) -> Any:
    """Insert ``stride - 1`` zeros between neighbours along each axis from 2 on."""
    for i, s in enumerate(strides):
        axis = 2 + i
        n = x.shape[axis]
        if s == 1 or n == 0:
            continue
        z = xp.zeros_like(x)
        y = xp.stack([x] + [z] * (s - 1), axis=axis + 1)
        shape = list(x.shape)
        shape[axis] = n * s
        y = xp.reshape(y, tuple(shape))
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(0, (n - 1) * s + 1)
        x = y[tuple(idx)]
    return x


def backprop_pads(auto_pad: str, sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                  dilations: Sequence[int], pads_begin: Sequence[int], pads_end: Sequence[int],
                  output_padding: Sequence[int], output_shape: Sequence[int] | None):
    """(pads_begin, pads_end, output spatial shape) of a backprop convolution, as the spec defines
    them: with ``output_shape`` the total padding is implied and split by ``auto_pad`` (the larger
    half at the beginning for ``same_upper``), else explicit pads or none."""
    full = [s * (n - 1) + dilated(k, d) for n, k, s, d in zip(sizes, kernel, strides, dilations)]
    if output_shape is not None:
        pb, pe = [], []
        for f, y, op in zip(full, output_shape, output_padding):
            total = f - y + op
            if auto_pad == "same_upper":
                pe.append(total // 2)
                pb.append(total - total // 2)
            else:
                pb.append(total // 2)
                pe.append(total - total // 2)
        return pb, pe, list(output_shape)
    if auto_pad == "explicit":
        pb, pe = list(pads_begin), list(pads_end)
    else:
        pb = pe = [0] * len(sizes)
    return pb, pe, [f - b - e + op for f, b, e, op in zip(full, pb, pe, output_padding)]


def grouped_conv_backprop(xp: Any, x: Any, w: Any, strides: Sequence[int], dilations: Sequence[int],
                          pads_begin: Sequence[int], out: Sequence[int]) -> Any:
    """Transposed convolution of ``x`` [N, G*Ci, *X] with ``w`` [G, Ci, Co, *K] -> [N, G*Co, *out]:
    the full result cropped (or zero-extended) to ``out`` starting at ``pads_begin``."""
    kernel = tuple(w.shape[3:])
    x = zero_stuff(xp, x, strides)
    lead = [dilated(k, d) - 1 - b for k, d, b in zip(kernel, dilations, pads_begin)]
    tail = [y - n - ld + dilated(k, d) - 1
            for y, n, ld, k, d in zip(out, x.shape[2:], lead, kernel, dilations)]
    x = pad_spatial(xp, x, lead, tail)
    nsp = len(kernel)
    wf = xp.flip(w, axis=tuple(range(3, 3 + nsp))) if nsp else w
    wf = xp.permute_dims(wf, (0, 2, 1, *range(3, 3 + nsp)))
    return grouped_conv(xp, x, wf, [1] * nsp, dilations, [0] * nsp, [0] * nsp)


# --- shape inference ---------------------------------------------------------------------------
def _check_attr_lengths(node, ns: int, names: Sequence[str]) -> None:
    for name in names:
        v = node.attrs[name]
        if len(v) != ns:
            raise ShapeInferenceError(f"{where(node)}: attribute '{name}' has {len(v)} values, expected one "
                                      f"per spatial dimension ({ns})")
    for name in ("strides", "dilations"):
        if name in names and any(v <= 0 for v in node.attrs[name]):
            raise ShapeInferenceError(f"{where(node)}: attribute '{name}' must be positive, "
                                      f"got {node.attrs[name]}")


def _check_ranks(node, data: PartialShape, filt: PartialShape, filter_lead: int) -> int:
    """The number of spatial dimensions, from the data rank, else the filter rank, else strides."""
    if data.rank_is_static:
        if len(data) not in (3, 4, 5):
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank 3, 4 or 5, got {data}")
        ns = len(data) - 2
    elif filt.rank_is_static:
        ns = len(filt) - filter_lead
    else:
        ns = len(node.attrs["strides"])
    if filt.rank_is_static and len(filt) != ns + filter_lead:
        raise ShapeInferenceError(f"{where(node)}: input 1 (filters) must have rank {ns + filter_lead} for "
                                  f"data {data}, got {filt}")
    return ns


def _spatial(shape: PartialShape, lead: int, ns: int) -> list[tuple[int, int | None]]:
    if shape.rank_is_static:
        return [interval(d) for d in shape.dims[lead:]]
    return [(0, None)] * ns


def _check_channels(node, have: Dimension, want: Dimension, grouped: bool) -> None:
    if not have.compatible(want):
        what = "groups x filter input channels" if grouped else "filter input channels"
        raise ShapeInferenceError(f"{where(node)}: data channels ({have}) do not match {what} ({want})")


def _conv_types(node):
    t = same_types(node, [0, 1])
    if t.is_static and (t.kind in "bs"):
        raise ShapeInferenceError(f"{where(node)}: inputs must be numeric, got {t}")
    return t


def infer_forward(node, grouped: bool) -> list:
    t = _conv_types(node)
    data, filt = node.input_shape(0), node.input_shape(1)
    lead = 3 if grouped else 2
    ns = _check_ranks(node, data, filt, lead)
    _check_attr_lengths(node, ns, ("strides", "dilations", "pads_begin", "pads_end"))
    a = node.attrs
    if data.rank_is_static and filt.rank_is_static:
        want = filt[0] * filt[2] if grouped else filt[1]
        _check_channels(node, data[1], want, grouped)
    batch = data[0] if data.rank_is_static else Dimension()
    if filt.rank_is_static:
        channels = filt[0] * filt[1] if grouped else filt[0]
    else:
        channels = Dimension()
    sizes = _spatial(data, 2, ns)
    kernel = _spatial(filt, lead, ns)
    dims = []
    for i, (n, k) in enumerate(zip(sizes, kernel)):
        s, d = a["strides"][i], a["dilations"][i]
        if a["auto_pad"] in ("same_upper", "same_lower"):
            dims.append(to_dim(*iv_ceildiv(n, s)))
            continue
        pads = 0 if a["auto_pad"] == "valid" else a["pads_begin"][i] + a["pads_end"][i]
        padded = iv_add(n, pads)
        extent = iv_dilated(k, d)
        if n[0] == n[1] and extent[0] == extent[1] and extent[0] > padded[0]:
            raise ShapeInferenceError(
                f"{where(node)}: the dilated kernel ({extent[0]}) is larger than the padded data "
                f"({padded[0]}) on spatial axis {i}")
        dims.append(to_dim(*iv_add(iv_floordiv(iv_sub(padded, extent), s), 1)))
    return [(t, PartialShape([batch, channels, *dims]))]


def infer_backprop(node, grouped: bool) -> list:
    t = _conv_types(node)
    data, filt = node.input_shape(0), node.input_shape(1)
    lead = 3 if grouped else 2
    a = node.attrs
    out_shape = None
    if node.get_input_size() == 3:
        oshape = node.input_shape(2)
        if oshape.rank_is_static and len(oshape) != 1:
            raise ShapeInferenceError(f"{where(node)}: input 2 (output_shape) must have rank 1, got {oshape}")
        it = node.input_type(2)
        if it.is_static and not it.is_integral_number:
            raise ShapeInferenceError(f"{where(node)}: input 2 (output_shape) must be integer, got {it}")
        value = node.input_const(2)
        if value is not None:
            out_shape = [int(v) for v in as_int_tuple(value)]
    if data.rank_is_static or filt.rank_is_static:
        ns = _check_ranks(node, data, filt, lead)
    elif node.get_input_size() == 3 and node.input_shape(2).is_static:
        ns = node.input_shape(2)[0].get_length()
    else:
        ns = len(a["strides"])
    if node.get_input_size() == 3:
        oshape = node.input_shape(2)
        if out_shape is not None:
            n_given = len(out_shape)
        else:
            n_given = oshape[0].get_length() if oshape.is_static else ns
        if n_given != ns:
            raise ShapeInferenceError(f"{where(node)}: input 2 (output_shape) has {n_given} values, expected "
                                      f"one per spatial dimension ({ns})")
    _check_attr_lengths(node, ns, ("strides", "dilations", "pads_begin", "pads_end", "output_padding"))
    if data.rank_is_static and filt.rank_is_static:
        want = filt[0] * filt[1] if grouped else filt[0]
        _check_channels(node, data[1], want, grouped)
    batch = data[0] if data.rank_is_static else Dimension()
    if filt.rank_is_static:
        channels = filt[0] * filt[2] if grouped else filt[1]
    else:
        channels = Dimension()
    if node.get_input_size() == 3:
        dims = [Dimension(v) for v in out_shape] if out_shape is not None else [Dimension()] * ns
        return [(t, PartialShape([batch, channels, *dims]))]
    sizes = _spatial(data, 2, ns)
    kernel = _spatial(filt, lead, ns)
    explicit = a["auto_pad"] == "explicit"
    dims = []
    for i, (n, k) in enumerate(zip(sizes, kernel)):
        s, d = a["strides"][i], a["dilations"][i]
        full = iv_mul(iv_sub(n, (1, 1)), s)
        ext = iv_dilated(k, d)
        full = (full[0] + ext[0], None if full[1] is None or ext[1] is None else full[1] + ext[1])
        pads = a["pads_begin"][i] + a["pads_end"][i] if explicit else 0
        dims.append(to_dim(*iv_add(full, a["output_padding"][i] - pads)))
    return [(t, PartialShape([batch, channels, *dims]))]


# --- op definitions -----------------------------------------------------------------------------
def _fill_defaults(attrs: dict, node, names: Sequence[str], value: int) -> None:
    ns = len(attrs["strides"])
    for name in names:
        if not attrs[name]:
            attrs[name] = [value] * ns


def _weights_4g(w, grouped: bool, xp):
    """Weights as [G, ...]: a plain convolution is one group."""
    return w if grouped else xp.reshape(w, (1, *w.shape))


class _ConvBase(OpDef):
    n_inputs = (2, 2)
    grouped = False

    @classmethod
    def check_attrs(cls, attrs, node):
        _fill_defaults(attrs, node, ("dilations",), 1)
        _fill_defaults(attrs, node, ("pads_begin", "pads_end"), 0)

    @classmethod
    def infer(cls, node):
        return infer_forward(node, cls.grouped)

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        grouped = cls.grouped
        strides, dilations = a["strides"], a["dilations"]
        auto_pad, pads_begin, pads_end = a["auto_pad"], a["pads_begin"], a["pads_end"]

        def run(x, w):
            k = w.shape[3:] if grouped else w.shape[2:]
            pb, pe = resolve_pads(auto_pad, x.shape[2:], k, strides, dilations, pads_begin, pads_end)
            return grouped_conv(xp, x, _weights_4g(w, grouped, xp), strides, dilations, pb, pe)

        return run


def _conv_attrs():
    return (Attr("strides", "ints"), Attr("dilations", "ints", list), Attr("pads_begin", "ints", list),
            Attr("pads_end", "ints", list), Attr("auto_pad", "str", "explicit", choices=PAD_TYPES))


def _group_conv_attrs():
    return (Attr("strides", "ints"), Attr("pads_begin", "ints", list), Attr("pads_end", "ints", list),
            Attr("dilations", "ints", list), Attr("auto_pad", "str", "explicit", choices=PAD_TYPES))


@register
class Convolution(_ConvBase):
    """Data [N, C, *S], filters [O, C, *K] -> [N, O, *out]."""

    type_name, version, opset = "Convolution", 1, "opset1"
    attrs = _conv_attrs()


@register
class GroupConvolution(_ConvBase):
    """Data [N, G*C, *S], filters [G, O, C, *K] -> [N, G*O, *out]."""

    type_name, version, opset = "GroupConvolution", 1, "opset1"
    attrs = _group_conv_attrs()
    grouped = True


class _BackpropBase(OpDef):
    n_inputs = (2, 3)
    grouped = False

    @classmethod
    def check_attrs(cls, attrs, node):
        _fill_defaults(attrs, node, ("dilations",), 1)
        _fill_defaults(attrs, node, ("pads_begin", "pads_end", "output_padding"), 0)

    @classmethod
    def infer(cls, node):
        return infer_backprop(node, cls.grouped)

    @classmethod
    def kernel(cls, xp, node):
        a = node.attrs
        grouped = cls.grouped
        strides, dilations, auto_pad = a["strides"], a["dilations"], a["auto_pad"]
        pads_begin, pads_end, output_padding = a["pads_begin"], a["pads_end"], a["output_padding"]

        def run(x, w, output_shape=None):
            k = w.shape[3:] if grouped else w.shape[2:]
            shape = None if output_shape is None else as_int_tuple(output_shape)
            pb, _, out = backprop_pads(auto_pad, x.shape[2:], k, strides, dilations, pads_begin, pads_end,
                                       output_padding, shape)
            return grouped_conv_backprop(xp, x, _weights_4g(w, grouped, xp), strides, dilations, pb, out)

        return run


def _backprop_attrs(grouped: bool):
    base = _group_conv_attrs() if grouped else _conv_attrs()
    return base + (Attr("output_padding", "ints", list),)


@register
class ConvolutionBackpropData(_BackpropBase):
    """Data [N, Ci, *X], filters [Ci, Co, *K], optional output spatial shape -> [N, Co, *Y]."""

    type_name, version, opset = "ConvolutionBackpropData", 1, "opset1"
    attrs = _backprop_attrs(False)


@register
class GroupConvolutionBackpropData(_BackpropBase):
    """Data [N, G*Ci, *X], filters [G, Ci, Co, *K], optional output spatial shape -> [N, G*Co, *Y]."""

    type_name, version, opset = "GroupConvolutionBackpropData", 1, "opset1"
    attrs = _backprop_attrs(True)
    grouped = True


# --- factories --------------------------------------------------------------------------------
@factory
def convolution(data, filters, strides: list[int], pads_begin: list[int], pads_end: list[int],
                dilations: list[int], auto_pad: str = "EXPLICIT", name: str | None = None) -> Node:
    return make("Convolution", [data, filters], {"strides": strides, "pads_begin": pads_begin,
                "pads_end": pads_end, "dilations": dilations, "auto_pad": auto_pad}, name)


@factory
def group_convolution(data, filters, strides: list[int], pads_begin: list[int], pads_end: list[int],
                      dilations: list[int], auto_pad: str = "EXPLICIT", name: str | None = None) -> Node:
    return make("GroupConvolution", [data, filters], {"strides": strides, "pads_begin": pads_begin,
                "pads_end": pads_end, "dilations": dilations, "auto_pad": auto_pad}, name)


def _backprop(op_type: str, data, filters, strides, output_shape, pads_begin, pads_end, dilations, auto_pad,
              output_padding, name) -> Node:
    inputs = [data, filters] if output_shape is None else [data, filters, output_shape]
    return make(op_type, inputs, {"strides": strides, "pads_begin": pads_begin, "pads_end": pads_end,
                                  "dilations": dilations, "auto_pad": auto_pad,
                                  "output_padding": output_padding}, name)


@factory
def convolution_backprop_data(data, filters, strides: list[int], output_shape=None,
                              pads_begin: list[int] | None = None, pads_end: list[int] | None = None,
                              dilations: list[int] | None = None, auto_pad: str | None = None,
                              output_padding: list[int] | None = None, name: str | None = None) -> Node:
    return _backprop("ConvolutionBackpropData", data, filters, strides, output_shape, pads_begin, pads_end,
                     dilations, auto_pad, output_padding, name)


@factory
def group_convolution_backprop_data(data, filters, strides: list[int], output_shape=None,
                                    pads_begin: list[int] | None = None, pads_end: list[int] | None = None,
                                    dilations: list[int] | None = None, auto_pad: str = "EXPLICIT",
                                    output_padding: list[int] | None = None, name: str | None = None) -> Node:
    return _backprop("GroupConvolutionBackpropData", data, filters, strides, output_shape, pads_begin,
                     pads_end, dilations, auto_pad, output_padding, name)
