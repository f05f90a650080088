"""Graph fusion for the GPU: a convolution or MatMul and its elementwise tail (bias Add, residual
Add, activation) become one node whose tail is ONE fused elementwise kernel (``cupy.fuse``) over the
product, instead of one kernel and one intermediate array per tail op.

Pattern, each step optional but at least one present, every intermediate read only by the next::

    Convolution | GroupConvolution | MatMul
      -> Add(constant bias that does not change the product's shape)
      -> Add(another tensor of the product's static shape)         (a residual)
      -> Relu | Clamp | Sigmoid | Tanh | Gelu

First an exported GELU (``Div -> Erf -> Add -> Mul -> Mul`` or the tanh form, from ONNX) becomes one
``Gelu`` (:mod:`arrayrt.ir.passes.gelu_fusion`, as on CPU), so it can join a tail.

The pass runs when the GPU compiles (on the compiled copy of the model); the fused node keeps the
last fused node's friendly name and tensor names and lists every fused node in
``rt_info["originalLayersNames"]``. The tail computes in the product's element type, except that a
transcendental activation (Sigmoid, Tanh, Gelu) of an f16 product computes in f32 inside the fused
kernel and rounds once, as the activation's own kernel would.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops.base import Attr, OpDef
from arrayrt.ir.passes import replace_uses

PRODUCERS = ("Convolution", "GroupConvolution", "MatMul")
ACTIVATIONS = ("Relu", "Clamp", "Sigmoid", "Tanh", "Gelu")
#: activations exact in any float type; the others join f32/f64 tails only (their own kernels
#: compute 16-bit floats in f32, as OpenVINO's CPU plugin does)
EXACT_ACTIVATIONS = ("Relu", "Clamp")

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_TANH_K = math.sqrt(2.0 / math.pi)


class FusedProduct(OpDef):
    """A product (``base``: the op class of the Convolution, GroupConvolution or MatMul) with its
    elementwise tail. Inputs: the product's two, then the residual when there is one. Internal to
    the GPU backend: never registered, read or written."""

    type_name, version, opset = "GpuFusedProduct", 0, "cupy_internal"
    n_inputs = (2, 3)
    attrs = (Attr("base", "any", write=False), Attr("base_attrs", "any", write=False),
             Attr("bias", "any", None), Attr("residual", "bool", False),
             Attr("activation", "str", None), Attr("approximation", "str", None),
             Attr("low", "float", None), Attr("high", "float", None))

    @classmethod
    def infer(cls, node: Any) -> list:
        probe = Node(node.attrs["base"], node.input_values()[:2], node.attrs["base_attrs"])
        return [(probe.output(0).get_element_type(), probe.output(0).get_partial_shape())]


def fuse(model: Any) -> int:
    """Fuse exported GELUs, then every chain of the module docstring in ``model``; returns how many
    fusions."""
    from arrayrt.ir.passes.gelu_fusion import fuse_gelu

    fused = fuse_gelu(model, record=True)
    users = model.consumers()
    for producer in model.get_ordered_ops():
        if producer.type_name not in PRODUCERS or producer.get_output_size() != 1:
            continue
        out = producer.output(0)
        if not out.get_element_type().is_real or not out.get_partial_shape().is_static:
            continue
        chain, bias, residual, act = [producer], None, None, None
        nxt = _single_user(users, producer)
        if nxt is not None and nxt.type_name == "Add":
            bias = _bias(nxt, chain[-1], out)
            if bias is not None:
                chain.append(nxt)
                nxt = _single_user(users, nxt)
        if nxt is not None and nxt.type_name == "Add":
            residual = _residual(nxt, chain[-1], out)
            if residual is not None:
                chain.append(nxt)
                nxt = _single_user(users, nxt)
        if nxt is not None and nxt.type_name in ACTIVATIONS:
            act = nxt
            chain.append(nxt)
        if len(chain) == 1:
            continue
        last = chain[-1]
        attrs = {"base": producer.op, "base_attrs": dict(producer.attrs), "bias": bias,
                 "residual": residual is not None, "activation": act.type_name.lower() if act else None,
                 "approximation": _approximation(act), "low": act.attrs.get("min") if act else None,
                 "high": act.attrs.get("max") if act else None}
        inputs = producer.input_values() + ([residual] if residual is not None else [])
        node = Node(FusedProduct, inputs, attrs, name=last.friendly_name)
        node._outputs[0].names = set(last.output(0)._info.names)
        node.rt_info = dict(last.rt_info)
        node.rt_info["originalLayersNames"] = ",".join(n.friendly_name for n in chain)
        replace_uses(model, last.output(0), node.output(0))
        users = model.consumers()
        fused += 1
    return fused


def _approximation(act: Node | None) -> str | None:
    if act is None or act.type_name != "Gelu":
        return None
    return act.attrs.get("approximation_mode", "ERF")


def _single_user(users: dict, node: Node) -> Node | None:
    """The only consumer of ``node``'s output 0, unless it is also a model output."""
    us = users.get(node.output(0), [])
    if len(us) != 1 or us[0].node.type_name == "Result" or node.get_output_size() != 1:
        return None
    return us[0].node


def _other(add: Node, prev: Node) -> Any:
    first = add.input_value(0)
    return add.input_value(1) if first.node is prev and first.index == 0 else first


def _bias(add: Node, prev: Node, out: Any) -> np.ndarray | None:
    """The Add's other input as a constant that broadcasts into the product without growing it."""
    other = _other(add, prev)
    value = other.node.static_value(other.index)
    shape = tuple(out.get_shape())
    if value is None or value.ndim > len(shape) or np.dtype(value.dtype) != out.get_element_type().to_dtype():
        return None
    full = (1,) * (len(shape) - value.ndim) + tuple(value.shape)
    if any(d not in (1, s) for d, s in zip(full, shape)):
        return None
    return np.asarray(value.reshape(full), order="C")


def _residual(add: Node, prev: Node, out: Any) -> Any:
    """The Add's other input when it is a tensor of exactly the product's static shape and type."""
    other = _other(add, prev)
    if other.node.static_value(other.index) is not None:
        return None
    ps = other.get_partial_shape()
    if (not ps.is_static or tuple(ps.to_shape()) != tuple(out.get_shape())
            or other.get_element_type() != out.get_element_type()):
        return None
    return other


# --- the tail ----------------------------------------------------------------------------------
def activation(cp: Any, erf: Any, name: str | None, approximation: str | None,
               low: float | None, high: float | None) -> Callable[[Any], Any]:
    """The activation as CuPy ufunc calls (what ``cupy.fuse`` compiles into one kernel)."""
    if name is None:
        return lambda t: t
    if name == "relu":
        return lambda t: cp.maximum(t, 0)
    if name == "clamp":
        return lambda t: cp.minimum(cp.maximum(t, low), high)
    if name == "sigmoid":
        return lambda t: 1 / (1 + cp.exp(-t))
    if name == "tanh":
        return cp.tanh
    if approximation == "TANH":
        return lambda t: 0.5 * t * (1 + cp.tanh(_TANH_K * (t + 0.044715 * t * t * t)))
    return lambda t: 0.5 * t * (1 + erf(t * _SQRT1_2))


def tail(cp: Any, erf: Any, attrs: dict, dtype: Any = None) -> Callable[..., Any]:
    """``tail(y[, bias][, residual])`` as one Python function of CuPy ufuncs. For a 16-bit product
    (``dtype``) a transcendental activation computes in f32 and rounds once, as its own kernel does;
    the adds before it stay in the product's type."""
    act = activation(cp, erf, attrs["activation"], attrs["approximation"], attrs["low"], attrs["high"])
    name = attrs["activation"]
    if (dtype is not None and np.dtype(dtype).itemsize <= 2 and name is not None
            and name not in {a.lower() for a in EXACT_ACTIVATIONS}):
        narrow, wide = act, np.dtype(dtype)

        def act(t: Any) -> Any:
            return narrow(t.astype(np.float32)).astype(wide)
    bias, residual = attrs["bias"] is not None, attrs["residual"]
    if bias and residual:
        return lambda y, b, r: act(y + b + r)
    if bias:
        return lambda y, b: act(y + b)
    if residual:
        return lambda y, r: act(y + r)
    return act


def kernel(backend: Any, node: Node) -> Callable[..., Any]:
    """The product's kernel (the backend's override, or the generic compute), then the tail as one
    fused kernel; should ``cupy.fuse`` fail on first use, the tail runs as separate ufunc calls."""
    cp = backend.cp
    a = node.attrs
    base = backend.kernel(Node(a["base"], node.input_values()[:2], a["base_attrs"], name=node.friendly_name))
    dtype = node.output(0).get_element_type().to_dtype()
    plain = tail(cp, backend.erf, a, dtype)
    fused: list[Callable[..., Any]] = [cp.fuse(plain)]
    extra = [backend.to_device(a["bias"])] if a["bias"] is not None else []

    def apply(*args: Any) -> Any:
        try:
            return fused[0](*args)
        except Exception:  # noqa: BLE001 - an expression cupy.fuse cannot compile: unfused ufuncs
            if fused[0] is plain:
                raise
            fused[0] = plain
            return plain(*args)

    uncaptured = not getattr(base, "capture_safe", True)  # a GEMM: an eager step, the tail captured

    def run(x: Any, w: Any, *residual: Any) -> Any:
        y = backend.uncaptured(base, x, w) if uncaptured else base(x, w)
        y = apply(y, *extra, *residual)
        return y if y.dtype == dtype else y.astype(dtype)

    run.tail_is_fused = lambda: fused[0] is not plain
    run.exec_type = f"cupy_fused_{node.attrs['base'].type_name.lower()}" + "".join(
        f"_{p}" for p, on in (("bias", a["bias"] is not None), ("residual", a["residual"]),
                              (a["activation"], a["activation"])) if on)
    return run
