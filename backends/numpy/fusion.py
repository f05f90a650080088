"""Graph fusions for the numpy backend: a convolution, its bias Add and its activation become one
kernel, so the bias and the activation are applied in place on the convolution's fresh result
instead of each allocating and sweeping a new array.

The pass runs when the numpy backend compiles (on the compiled copy of the model, never the user's);
the fused node keeps the last fused node's friendly name and tensor names, and lists every fused
node in ``rt_info["originalLayersNames"]`` (as OpenVINO's runtime model does).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops.base import Attr, OpDef
from arrayrt.ir.passes import replace_uses

_CONVS = ("Convolution", "GroupConvolution")


class FusedConvolution(OpDef):
    """Convolution or GroupConvolution (``conv``) + per-channel bias + Relu/Clamp. Internal to the
    numpy backend: never registered, read or written."""

    type_name, version, opset = "FusedConvolution", 0, "numpy_internal"
    n_inputs = (2, 2)
    attrs = (Attr("conv", "str"), Attr("conv_attrs", "any", write=False), Attr("bias", "any", None),
             Attr("activation", "str", None), Attr("low", "float", None), Attr("high", "float", None))

    @classmethod
    def infer(cls, node: Any) -> list:
        from arrayrt.ir.ops import get_op

        probe = Node(get_op(node.attrs["conv"]), node.input_values(), node.attrs["conv_attrs"])
        return [(probe.output(0).get_element_type(), probe.output(0).get_partial_shape())]


def fuse(model: Any) -> int:
    """Fuse GELU decompositions into Gelu (:mod:`arrayrt.ir.passes.gelu_fusion`), then
    conv -> Add(constant per-channel bias) [-> Relu | Clamp] chains in ``model``."""
    from arrayrt.ir.passes.gelu_fusion import fuse_gelu

    fused = fuse_gelu(model, record=True)
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
        if nxt is not None and nxt.type_name == "Relu":
            act = "relu"
            chain.append(nxt)
        elif nxt is not None and nxt.type_name == "Clamp":
            act, low, high = "clamp", nxt.attrs["min"], nxt.attrs["max"]
            chain.append(nxt)
        last = chain[-1]
        node = Node(FusedConvolution, conv.input_values(),
                    {"conv": conv.type_name, "conv_attrs": dict(conv.attrs), "bias": bias, "activation": act,
                     "low": low, "high": high}, name=last.friendly_name)
        node._outputs[0].names = set(last.output(0)._info.names)
        node.rt_info = dict(last.rt_info)
        node.rt_info["originalLayersNames"] = ",".join(n.friendly_name for n in chain)
        replace_uses(model, last.output(0), node.output(0))
        users = model.consumers()
        fused += 1
    return fused


def _single_user(users: dict, node: Node) -> Node | None:
    """The only consumer of ``node``'s output 0, unless it is also a model output."""
    us = users.get(node.output(0), [])
    if len(us) != 1 or us[0].node.type_name == "Result" or node.get_output_size() != 1:
        return None
    return us[0].node


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
            np.maximum(y, 0, out=y)
    elif act == "clamp":
        low, high = a["low"], a["high"]

        def activation(y: np.ndarray) -> None:
            np.clip(y, low, high, out=y)
    else:
        activation = None
    conv = Node(get_op(a["conv"]), node.input_values(), a["conv_attrs"], name=node.friendly_name)
    factory = conv_kernels.forward_group_convolution if a["conv"] == "GroupConvolution" \
        else conv_kernels.forward_convolution
    k = factory(backend, conv, a["bias"], activation)
    if k is None:  # a case the numpy kernel does not take: the ops one after the other
        base = backend.kernel(conv)
        bias = a["bias"]

        def k(x, w):
            y = np.add(base(x, w), bias)
            if activation is not None:
                activation(y)
            return y
    k.exec_type = "numpy_fused_conv_bias" + (f"_{act}" if act else "")
    return k
