"""Graph fusions for the numpy backend: a convolution, its bias Add and its activation become one
kernel, so the bias and the activation are applied in place on the convolution's fresh result
instead of each allocating and sweeping a new array; a residual Add after the bias joins them. The
same for a MatMul by constant weights, its bias and Relu/Gelu (a dense layer), and for a layer-norm
MVN and its scale and shift. A convolution read only by a compiled depthwise convolution hands its
epilogue to that reader, which applies it while copying its input (an inverted residual's expand).

The pass runs when the numpy backend compiles (on the compiled copy of the model, never the user's);
the fused node keeps the last fused node's friendly name and tensor names, and lists every fused
node in ``rt_info["originalLayersNames"]`` (as OpenVINO's runtime model does).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from arrayrt.backends.numpy import compiled
from arrayrt.backends.numpy.bounds import clamp_
from arrayrt.ir.graph import Node
from arrayrt.ir.ops.base import Attr, OpDef
from arrayrt.ir.passes import replace_uses
from arrayrt.ir.shape import Dimension, PartialShape

_CONVS = ("Convolution", "GroupConvolution")


class FusedConvolution(OpDef):
    """Convolution or GroupConvolution (``conv``) + per-channel bias [+ a residual, the optional third
    input, of the result's shape] [+ Relu/Clamp]. Internal to the numpy backend: never registered,
    read or written."""

    type_name, version, opset = "FusedConvolution", 0, "numpy_internal"
    n_inputs = (2, 3)
    attrs = (Attr("conv", "str"), Attr("conv_attrs", "any", write=False), Attr("bias", "any", None),
             Attr("activation", "str", None), Attr("low", "float", None), Attr("high", "float", None),
             # the producer's epilogue, deferred into this (compiled depthwise) convolution's input copy
             Attr("input_bias", "any", None), Attr("input_low", "float", None), Attr("input_high", "float", None))

    @classmethod
    def infer(cls, node: Any) -> list:
        from arrayrt.ir.ops import get_op

        probe = Node(get_op(node.attrs["conv"]), node.input_values()[:2], node.attrs["conv_attrs"])
        return [(probe.output(0).get_element_type(), probe.output(0).get_partial_shape())]


def fuse(model: Any) -> int:
    """Fuse GELU decompositions into Gelu (:mod:`arrayrt.ir.passes.gelu_fusion`), dense layers
    and affine layer norms (:func:`fuse_dense_and_norm`), then conv -> Add(constant per-channel
    bias) [-> Add(residual of the same shape)] [-> Relu | Clamp] chains in ``model``, then move
    epilogues into the compiled depthwise convolutions that read them
    (:func:`defer_into_depthwise`)."""
    from arrayrt.ir.passes.gelu_fusion import fuse_gelu

    fused = fuse_gelu(model, record=True) + fuse_dense_and_norm(model)
    users = model.consumers()
    for conv in model.get_ordered_ops():
        if conv.type_name not in _CONVS or not conv.output(0).get_element_type().is_real:
            continue
        chain = [conv]
        add = _single_user(users, conv)
        if add is None or add.type_name != "Add":
            continue
        bias = _bias(add, conv)
        if bias is None:
            continue
        chain.append(add)
        act, low, high = None, None, None
        nxt = _single_user(users, add)
        residual = _residual(nxt, add)
        if residual is not None:  # a residual block's sum: added in place on the fresh result
            chain.append(nxt)
            nxt = _single_user(users, nxt)
        if nxt is not None and nxt.type_name == "Relu":
            act = "relu"
            chain.append(nxt)
        elif nxt is not None and nxt.type_name == "Clamp":
            act, low, high = "clamp", nxt.attrs["min"], nxt.attrs["max"]
            chain.append(nxt)
        last = chain[-1]
        node = Node(FusedConvolution, conv.input_values() + ([residual] if residual is not None else []),
                    {"conv": conv.type_name, "conv_attrs": dict(conv.attrs), "bias": bias, "activation": act,
                     "low": low, "high": high}, name=last.friendly_name)
        node._outputs[0].names = set(last.output(0)._info.names)
        node.rt_info = dict(last.rt_info)
        node.rt_info["originalLayersNames"] = ",".join(n.friendly_name for n in chain)
        replace_uses(model, last.output(0), node.output(0))
        users = model.consumers()
        fused += 1
    return fused + defer_into_depthwise(model)


def defer_into_depthwise(model: Any) -> int:
    """A fused convolution whose only reader is a depthwise convolution that runs compiled (an
    inverted residual's expand layer) hands its bias and Relu/Clamp to that reader, which applies
    them while it copies its input into its bordered buffer: one pass over the largest tensor of
    the block fewer. Returns how many epilogues moved."""
    from arrayrt.backends.numpy.conv_kernels import compiled_depthwise
    from arrayrt.ir.ops import get_op

    users = model.consumers()
    moved = 0
    for dw in model.get_ordered_ops():
        if dw.op is not FusedConvolution or dw.attrs["conv"] != "GroupConvolution" or dw.get_input_size() != 2:
            continue
        src = dw.input_value(0).node
        if (src.op is not FusedConvolution or src.get_input_size() != 2 or src.attrs["bias"] is None
                or _single_user(users, src) is not dw):
            continue
        probe = Node(get_op("GroupConvolution"), dw.input_values(), dw.attrs["conv_attrs"])
        if not compiled_depthwise(probe):
            continue
        a = src.attrs
        low, high = {"relu": (0.0, math.inf), "clamp": (a["low"], a["high"])}.get(a["activation"],
                                                                                (-math.inf, math.inf))
        dw.attrs.update(input_bias=a["bias"], input_low=low, input_high=high)
        a.update(bias=None, activation=None, low=None, high=None)
        dw.rt_info["originalLayersNames"] = ",".join(
            [f"{name} (input)" for name in src.rt_info.get("originalLayersNames", src.friendly_name).split(",")[1:]]
            + dw.rt_info.get("originalLayersNames", dw.friendly_name).split(","))
        moved += 1
    return moved


def _single_user(users: dict, node: Node) -> Node | None:
    """The only consumer of ``node``'s output 0, unless it is also a model output."""
    us = users.get(node.output(0), [])
    if len(us) != 1 or us[0].node.type_name == "Result" or node.get_output_size() != 1:
        return None
    return us[0].node


def _residual(add: Node | None, prev: Node) -> Any:
    """The other input of ``add`` when it is a computed tensor of exactly ``prev``'s type and static
    shape (no broadcasting), else None."""
    if add is None or add.type_name != "Add":
        return None
    a, b = add.input_value(0), add.input_value(1)
    other = b if a.node is prev else a
    if other.node is prev or other.node.static_value(other.index) is not None:
        return None
    mine = prev.output(0)
    shape = mine.get_partial_shape()
    if (not shape.is_static or other.get_partial_shape() != shape
            or other.get_element_type() != mine.get_element_type()):
        return None
    return other


def _bias(add: Node, conv: Node) -> np.ndarray | None:
    """The Add's other input as a per-channel constant that does not change the conv's shape."""
    other = add.input_value(1) if add.input_value(0).node is conv else add.input_value(0)
    value = other.node.static_value(other.index)
    out = conv.output(0).get_partial_shape()
    if value is None or not out.rank_is_static or value.ndim > len(out):
        return None
    shape = (1,) * (len(out) - value.ndim) + tuple(value.shape)
    channels = out[1] if len(out) > 1 else None
    for axis, d in enumerate(shape):
        if d == 1:
            continue
        if axis != 1 or channels is None or not channels.is_static or d != channels.get_length():
            return None
    if np.dtype(value.dtype) != conv.output(0).get_element_type().to_dtype():
        return None
    return np.ascontiguousarray(value.reshape(shape))


def kernel(backend: Any, node: Node) -> Any:
    """The fused kernel: the numpy convolution kernel with its bias/activation epilogue."""
    from arrayrt.backends.numpy import conv_kernels
    from arrayrt.ir.ops import get_op

    a = node.attrs
    act = a["activation"]
    if act == "relu":
        def activation(y: np.ndarray) -> None:
            clamp_(y, 0.0)
        activation.bounds = (0.0, math.inf)
    elif act == "clamp":
        low, high = a["low"], a["high"]

        def activation(y: np.ndarray) -> None:
            clamp_(y, low, high)
        activation.bounds = (low, high)
    else:
        activation = None
    conv = Node(get_op(a["conv"]), node.input_values()[:2], a["conv_attrs"], name=node.friendly_name)
    factory = conv_kernels.forward_group_convolution if a["conv"] == "GroupConvolution" \
        else conv_kernels.forward_convolution
    in_transform = None
    if a["input_bias"] is not None:
        in_transform = (np.asarray(a["input_bias"], np.float32).reshape(-1), (a["input_low"], a["input_high"]))
    k = factory(backend, conv, a["bias"], activation, in_transform)
    if k is None:  # a case the numpy kernel does not take: the ops one after the other
        base = backend.kernel(conv)
        bias = a["bias"]

        def k(x, w, residual=None):
            if in_transform is not None:
                x = conv_kernels.input_epilogue(x, in_transform)
            y = base(x, w) if bias is None else np.add(base(x, w), bias)
            if residual is not None:
                np.add(y, residual, out=y)
            if activation is not None:
                activation(y)
            return y
    residual = node.get_input_size() == 3
    library = "numba" if getattr(k, "exec_type", "").startswith("numba") else "numpy"
    if a["bias"] is None:  # its epilogue deferred to the depthwise convolution reading it
        k.exec_type = f"{library}_conv_epilogue_deferred"
        return k
    k.exec_type = f"{library}_fused_conv_bias" + ("_residual" if residual else "") + (f"_{act}" if act else "")
    if in_transform is not None:
        k.exec_type += "_with_input_epilogue"
    return k


# --- MatMul + bias [+ activation], MVN + scale [+ shift] -----------------------------------------


class FusedMatMul(OpDef):
    """MatMul by a constant 2-D matrix (``weights``, already transposed as the MatMul reads it), +
    a constant bias along the last axis, then Relu or Gelu: a transformer's dense layer. Internal
    to the numpy backend."""

    type_name, version, opset = "FusedMatMul", 0, "numpy_internal"
    n_inputs = (1, 1)
    attrs = (Attr("weights", "any", write=False), Attr("bias", "any", None), Attr("activation", "str", None))

    @classmethod
    def infer(cls, node: Any) -> list:
        x = node.input_value(0)
        shape = x.get_partial_shape()
        if shape.rank_is_static:
            shape = PartialShape([*list(shape)[:-1], Dimension(node.attrs["weights"].shape[1])])
        return [(x.get_element_type(), shape)]


class FusedMVN(OpDef):
    """MVN over the last axis (layer norm) then ``* scale`` and ``+ shift``, constants along the last
    axis. Internal to the numpy backend."""

    type_name, version, opset = "FusedMVN", 0, "numpy_internal"
    n_inputs = (1, 1)
    attrs = (Attr("layer_norm", "any", write=False), Attr("scale", "any", None), Attr("shift", "any", None))

    @classmethod
    def infer(cls, node: Any) -> list:
        x = node.input_value(0)
        return [(x.get_element_type(), x.get_partial_shape())]


_FLOATS = (np.float32, np.float64)


def _last_axis_constant(node: Node, prev: Node) -> np.ndarray | None:
    """``node``'s other input (not ``prev``) as a constant that broadcasts along the last axis only,
    of ``prev``'s dtype, as a 1-D array; None otherwise."""
    other = node.input_value(1) if node.input_value(0).node is prev else node.input_value(0)
    if other.node is prev:
        return None
    value = other.node.static_value(other.index)
    out = prev.output(0).get_partial_shape()
    if value is None or not out.rank_is_static or len(out) == 0 or value.ndim > len(out):
        return None
    last = out[-1]
    if any(d != 1 for d in value.shape[:-1]) or not last.is_static:
        return None
    if value.ndim and value.shape[-1] not in (1, last.get_length()):
        return None
    if np.dtype(value.dtype) != prev.output(0).get_element_type().to_dtype():
        return None
    return np.ascontiguousarray(value.reshape(-1))


def _replace(model: Any, chain: list[Node], node: Node) -> None:
    last = chain[-1]
    node._outputs[0].names = set(last.output(0)._info.names)
    node.rt_info = dict(last.rt_info)
    node.rt_info["originalLayersNames"] = ",".join(n.friendly_name for n in chain)
    replace_uses(model, last.output(0), node.output(0))


def fuse_dense_and_norm(model: Any) -> int:
    """MatMul(x, constant 2-D W) -> Add(bias along the last axis) [-> Relu | Gelu], and
    MVN(last axis) -> Multiply(scale) [-> Add(shift)], each into one node."""
    users = model.consumers()
    fused = 0
    for node in model.get_ordered_ops():
        if node.get_output_size() != 1 or node.output(0).get_element_type().to_dtype() not in _FLOATS:
            continue
        if node.type_name == "MatMul":
            new, chain = _dense(node, users)
        elif node.type_name == "MVN":
            new, chain = _norm(node, users)
        else:
            continue
        if new is not None:
            _replace(model, chain, new)
            users = model.consumers()
            fused += 1
    return fused


def _step(users: dict, prev: Node, type_name: str) -> tuple[Node | None, np.ndarray | None]:
    """``prev``'s only consumer when it is a ``type_name`` with a last-axis constant (see
    :func:`_last_axis_constant`) that keeps ``prev``'s shape, and that constant."""
    nxt = _single_user(users, prev)
    if nxt is None or nxt.type_name != type_name:
        return None, None
    value = _last_axis_constant(nxt, prev)
    if value is None or nxt.output(0).get_partial_shape() != prev.output(0).get_partial_shape():
        return None, None
    return nxt, value


def _dense(mm: Node, users: dict) -> tuple[Node | None, list[Node]]:
    w = mm.input_const(1)
    sa = mm.input_shape(0)
    if w is None or np.ndim(w) != 2 or mm.attrs["transpose_a"] or not sa.rank_is_static or len(sa) < 2:
        return None, []
    add, bias = _step(users, mm, "Add")
    if add is None:
        return None, []
    chain, act = [mm, add], None
    nxt = _single_user(users, add)
    if nxt is not None and nxt.type_name == "Relu":
        act = "relu"
    elif nxt is not None and nxt.type_name == "Gelu" and nxt.op.version == 7:
        act = "gelu_" + nxt.attrs["approximation_mode"].lower()
    if act is not None:
        chain.append(nxt)
    w = np.asarray(w)
    weights = w.T if mm.attrs["transpose_b"] else w  # a transposed view: BLAS reads it as such
    node = Node(FusedMatMul, [mm.input_value(0)], {"weights": weights, "bias": bias, "activation": act},
                name=chain[-1].friendly_name)
    return node, chain


def _norm(mvn: Node, users: dict) -> tuple[Node | None, list[Node]]:
    from arrayrt.backends.numpy.matmul_kernels import layer_norm_of

    layer_norm = layer_norm_of(mvn)
    if layer_norm is None:
        return None, []
    mul, scale = _step(users, mvn, "Multiply")
    if mul is None:
        return None, []
    add, shift = _step(users, mul, "Add")
    chain = [mvn, mul] + ([add] if add is not None else [])
    node = Node(FusedMVN, [mvn.input_value(0)], {"layer_norm": layer_norm, "scale": scale, "shift": shift},
                name=chain[-1].friendly_name)
    return node, chain


def dense_kernel(backend: Any, node: Node) -> Any:
    """x @ W, then ``+= bias`` and the activation in place on the GEMM's fresh result."""
    from arrayrt.ir.ops.activation import _gelu_erf, _gelu_tanh

    a = node.attrs
    w, bias, act = a["weights"], a["bias"], a["activation"]
    k, n = w.shape
    matmul, add = np.matmul, np.add
    gelu = {"gelu_erf": _gelu_erf, "gelu_tanh": _gelu_tanh}.get(act)
    if act == "gelu_erf" and w.dtype == np.float32 and bias.size == n and compiled.available():
        bias_gelu = compiled.bias_gelu_erf  # bias and GELU in one compiled pass
        compiled.warm_up()  # now, not at the first inference

        def run(x: np.ndarray) -> np.ndarray:
            return bias_gelu(matmul(x.reshape(-1, k), w), bias).reshape(x.shape[:-1] + (n,))

        run.exec_type = "numba_fused_gemm_bias_gelu_erf"
        return run

    def run(x: np.ndarray) -> np.ndarray:
        y = matmul(x.reshape(-1, k), w)
        add(y, bias, out=y)
        if act == "relu":
            clamp_(y, 0.0)
        elif gelu is not None:
            y = gelu(np, y)
        return y.reshape(x.shape[:-1] + (n,))

    run.exec_type = "numpy_fused_gemm_bias" + (f"_{act}" if act else "")
    return run


def norm_kernel(backend: Any, node: Node) -> Any:
    """The layer-norm kernel (its result is a fresh array), then ``*= scale`` and ``+= shift`` in
    place."""
    a = node.attrs
    layer_norm, scale, shift, multiply, add = a["layer_norm"], a["scale"], a["shift"], np.multiply, np.add

    def run(x: np.ndarray) -> np.ndarray:
        y = layer_norm(x)
        multiply(y, scale, out=y)
        if shift is not None:
            add(y, shift, out=y)
        return y

    run.exec_type = "numpy_fused_layer_norm"
    return run
