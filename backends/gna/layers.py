"""GNA layers: the compiled form of a model, with scale factors, quantised parameters and kernels.

A model lowers to a graph of :class:`Layer` objects joined by :class:`Tensor` values. A tensor is
``f`` (float, not yet quantised: model inputs and the data movement before the first GNA layer),
``i16`` (activations) or ``i32`` (accumulators of affine, convolution and eltwise layers without an
activation). The scale-factor pass (:meth:`Layer.assign`, run by
:meth:`arrayrt.backends.gna.compiler.Lowering.assign_scales`) gives every quantised tensor its scale; a layer
may ask an upstream layer to produce another scale (:meth:`Layer.requantize`), as the plugin's
``requantizeInput`` did. :meth:`Layer.emit` then builds the executable nodes: private op types run
by :meth:`arrayrt.backends.gna.GnaBackend.kernel`, whose kernels are integer (``GNA_SW_EXACT``) or
float (``GNA_SW_FP32``, the same layers with the original float parameters and exact activations).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
from arrayrt.backends.gna import kernels as K
from arrayrt.backends.gna.pwl import Activation, PwlDesignError, Segments
from arrayrt.backends.gna.quantize import (
    INT16_MAX,
    conv_reducer,
    f32,
    quantize,
    quantize_weights,
    scale_for,
    weight_scale,
)
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.ops.base import OpDef
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import CompileError

EXACT, FP32 = "GNA_SW_EXACT", "GNA_SW_FP32"
_TYPES = {"f": Type.f32, "i16": Type.i16, "i32": Type.i32}
REL_TOL = 1e-5


def same_scale(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


@dataclass(eq=False)
class Tensor:
    """A value between layers: shape, kind (``f``, ``i16``, ``i32``) and, once assigned, scale."""

    shape: tuple[int, ...]
    kind: str
    layer: "Layer"
    index: int = 0
    scale: float = 1.0


class Scales:
    """State of the scale-factor pass: forced output scales and whether the pass must restart."""

    def __init__(self):
        self.forced: dict[Layer, tuple[float, bool]] = {}
        self.restart = False

    def get(self, layer: "Layer") -> float | None:
        f = self.forced.get(layer)
        return None if f is None else f[0]

    def request(self, t: Tensor, target: float, hard: bool = True) -> bool:
        """Ask the producer of ``t`` for output scale ``target``; a soft request does not override an
        earlier hard one. True (and the pass restarts) when it was granted."""
        target = f32(target)
        if same_scale(t.scale, target):
            return True
        ok = t.layer.requantize(self, t, target, hard)
        if ok:
            self.restart = True
        return ok

    def force(self, layer: "Layer", target: float, hard: bool) -> bool:
        old = self.forced.get(layer)
        if old is not None and old[1] and not hard and not same_scale(old[0], target):
            return False
        self.forced[layer] = (f32(target), hard or bool(old and old[1]))
        return True


# --- executable nodes ----------------------------------------------------------------------------


class GnaOp(OpDef):
    """Private (unregistered) op type of a lowered GNA layer; ``attrs``: the layer and the mode."""

    type_name = "GnaLayer"
    n_inputs = (0, None)
    foldable = False

    @classmethod
    def complete_attrs(cls, attrs, node):
        return dict(attrs)

    @classmethod
    def num_outputs(cls, node):
        return len(node.attrs["layer"].outputs)

    @classmethod
    def infer(cls, node):
        layer, mode = node.attrs["layer"], node.attrs["mode"]
        return [(_TYPES[t.kind] if mode == EXACT else Type.f32, PartialShape(t.shape)) for t in layer.outputs]


_OP_TYPES: dict[str, type[GnaOp]] = {}


def op_type(name: str) -> type[GnaOp]:
    """The private op class named ``name`` (``GnaAffine``...), for readable profiling records."""
    if name not in _OP_TYPES:
        _OP_TYPES[name] = type(name, (GnaOp,), {"type_name": name})
    return _OP_TYPES[name]


def is_gna_node(node: Any) -> bool:
    return isinstance(node.op, type) and issubclass(node.op, GnaOp)


# --- layers --------------------------------------------------------------------------------------


class Layer:
    """Base layer: inputs, outputs, the original node names it implements (``origin``)."""

    op_name: ClassVar[str] = "GnaLayer"
    #: GNA hardware layers count against the target's layer limit
    hardware: ClassVar[bool] = True

    def __init__(self, name: str, inputs: list[Tensor], origin: list[str] | None = None):
        self.name = name
        self.inputs = list(inputs)
        self.outputs: list[Tensor] = []
        self.origin = list(origin or [name])
        self.fused_into: str | None = None

    def add_output(self, shape: tuple[int, ...], kind: str) -> Tensor:
        t = Tensor(tuple(int(d) for d in shape), kind, self, len(self.outputs))
        self.outputs.append(t)
        return t

    @property
    def out(self) -> Tensor:
        return self.outputs[0]

    # scale-factor pass ----------------------------------------------------------------------
    def assign(self, ctx: Scales) -> None:
        """Set the output scales from the input scales (and forced values)."""

    def requantize(self, ctx: Scales, t: Tensor, target: float, hard: bool) -> bool:
        return False

    # lowering --------------------------------------------------------------------------------
    def kernel(self, mode: str) -> Callable[..., Any]:
        raise NotImplementedError

    def exec_type(self, mode: str) -> str:
        return f"gna_{self.op_name[3:].lower()}_{'sw_exact' if mode == EXACT else 'sw_fp32'}"

    def emit(self, mode: str, args: list[Output]) -> list[Output]:
        node = Node(op_type(self.op_name), args, {"layer": self, "mode": mode}, name=self.name)
        return node.outputs()

    def info(self, mode: str = EXACT) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.op_name, "origin": list(self.origin),
                             "input_scales": [t.scale if t.kind != "f" else None for t in self.inputs],
                             "output_scale": self.out.scale if self.outputs and self.out.kind != "f" else None,
                             "output_precision": self.out.kind if self.outputs else None}
        if self.fused_into:
            d["fused_into"] = self.fused_into
        return d


class InputLayer(Layer):
    """A model input: float (or integer) values and the scale they are quantised with."""

    op_name = "Parameter"
    hardware = False

    def __init__(self, node: Any, index: int, scale: float, source: str, explicit: bool):
        super().__init__(node.friendly_name, [])
        self.node, self.index = node, index
        self.scale, self.scale_source, self.explicit = scale, source, explicit
        self.integer = node.output(0).get_element_type() is not Type.f32
        self.add_output(node.output(0).get_shape(), "f")

    def emit(self, mode, args):
        return [self.node.output(0)]

    def info(self, mode=EXACT):
        return {"name": self.name, "type": "Input", "origin": [self.name], "input_scales": [],
                "output_scale": self.scale, "scale_source": self.scale_source, "output_precision": "f"}


class QuantizeLayer(Layer):
    """Float input -> int16 at the input's scale. A FakeQuantize that gave the statistics (``fq``:
    its low, high and levels) clips to its range; ``GNA_SW_FP32`` applies it exactly. Integer inputs
    pass as they are."""

    op_name = "GnaQuantize"
    hardware = False

    def __init__(self, name, src: Tensor, source: InputLayer, fq: tuple[float, float, int] | None = None,
                 scale: float | None = None):
        super().__init__(name, [src], [source.name])
        self.source = source
        self.base_scale = source.scale if scale is None else scale
        self.explicit = source.explicit or source.integer
        self.fq = fq
        self.add_output(src.shape, "i16")

    def assign(self, ctx):
        self.out.scale = ctx.get(self) or self.base_scale

    def requantize(self, ctx, t, target, hard):
        return not self.explicit and ctx.force(self, target, hard)

    def kernel(self, mode):
        s = self.out.scale
        if self.source.integer:
            if mode == EXACT:
                return lambda x: np.clip(x, -32768, INT16_MAX).astype(np.int16)
            return lambda x: (np.asarray(x, np.float32) / np.float32(s)).astype(np.float32)
        if mode == FP32:
            if self.fq is None:
                return lambda x: np.asarray(x, np.float32)
            act = Activation("fake_quantize", (self.fq[0], self.fq[1], self.fq[0], self.fq[1], float(self.fq[2])))
            return lambda x: act(np.asarray(x, np.float32)).astype(np.float32)
        if self.fq is None:
            return lambda x: quantize(x, s, np.int16)
        qlo, qhi = (int(quantize(np.array([v]), s, np.int16)[0]) for v in self.fq[:2])
        return lambda x: np.clip(quantize(x, s, np.int16), qlo, qhi).astype(np.int16)


class DequantizeLayer(Layer):
    """int16/int32 -> float32 ``q / s`` for a model output."""

    op_name = "GnaDequantize"
    hardware = False

    def __init__(self, name, src: Tensor):
        super().__init__(name, [src], [])
        self.add_output(src.shape, "f")

    def kernel(self, mode):
        if mode == FP32:
            return lambda x: np.asarray(x, np.float32)
        s = self.inputs[0].scale
        return lambda x: (x.astype(np.float64) / s).astype(np.float32)

    def info(self, mode=EXACT):
        d = super().info(mode)
        d["output_scale"] = None
        return d


class ConstLayer(Layer):
    """A constant operand of a concatenation, as int16 at a scale of its own (``32767 / max|v|``)."""

    op_name = "Constant"
    hardware = False

    def __init__(self, name, value: np.ndarray):
        super().__init__(name, [])
        self.value = np.asarray(value, np.float32)
        self.add_output(self.value.shape, "i16")

    def assign(self, ctx):
        self.out.scale = ctx.get(self) or scale_for(self.value, INT16_MAX)

    def requantize(self, ctx, t, target, hard):
        peak = float(np.max(np.abs(self.value))) if self.value.size else 0.0
        return peak * target <= INT16_MAX + 0.5 and ctx.force(self, target, hard)

    def emit(self, mode, args):
        from arrayrt.ir.ops.factory import constant

        v = quantize(self.value, self.out.scale, np.int16) if mode == EXACT else self.value
        return constant(v, name=self.name).outputs()


class _Weightable(Layer):
    """Affine, convolution and diagonal layers: integer weights and int32 biases."""

    precision = "i16"
    compound = False

    def natural_weight_scale(self, s_in: float) -> float:
        raise NotImplementedError

    def assign(self, ctx):
        s_in = self.inputs[0].scale
        forced = ctx.get(self)
        self.s_w = f32(forced / s_in) if forced is not None else self.natural_weight_scale(s_in)
        self.out.scale = f32(self.s_w * s_in)

    def requantize(self, ctx, t, target, hard):
        # lowering the output scale lowers the weight scale; raising it would saturate the weights
        natural = f32(self.natural_weight_scale(self.inputs[0].scale) * self.inputs[0].scale)
        return target <= natural * (1 + REL_TOL) and ctx.force(self, target, hard)

    def info(self, mode=EXACT):
        d = super().info(mode)
        d.update(weight_scale=self.s_w, weight_precision=self.precision,
                 bias_precision="compound" if self.precision == "i8" and self.compound else "i32")
        return d


class AffineLayer(_Weightable):
    """Fully connected: ``y = x · Wᵀ + b`` over the last axis, rows as GNA's batch."""

    op_name = "GnaAffine"
    compound = True

    def __init__(self, name, x: Tensor, W: np.ndarray, out_shape, precision: str):
        super().__init__(name, [x])
        self.W = np.asarray(W, np.float32)
        self.b: np.ndarray | None = None
        self.precision = precision
        self.add_output(out_shape, "i32")

    def set_bias(self, b: np.ndarray, origin: str) -> None:
        self.b = np.asarray(b, np.float32).reshape(-1)
        self.origin.append(origin)

    def natural_weight_scale(self, s_in):
        return weight_scale(self.W, self.b, s_in, self.precision, compound=True)

    def quantized(self):
        return quantize_weights(self.W, self.b, self.s_w, self.inputs[0].scale, self.precision, compound=True)

    def kernel(self, mode):
        k = self.W.shape[1]
        shape = self.out.shape
        if mode == FP32:
            wt = self.W.T.copy()
            b = np.zeros(self.W.shape[0], np.float32) if self.b is None else self.b
            return lambda x: (np.asarray(x, np.float32).reshape(-1, k) @ wt + b).reshape(shape)
        q = self.quantized()
        run = K.affine_int16(q.w, q.b) if q.mult is None else K.affine_int8(q.w, q.mult, q.b)
        return lambda x: run(x.reshape(-1, k)).reshape(shape)


class ConvLayer(_Weightable):
    """Convolution (1-D or 2-D, batch 1) with optional fused bias and max pooling."""

    op_name = "GnaConvolution"

    def __init__(self, name, x: Tensor, W: np.ndarray, node: Any, precision: str):
        super().__init__(name, [x])
        self.W = np.asarray(W, np.float32)
        self.b: np.ndarray | None = None
        self.attrs = dict(node.attrs)
        self.precision = precision
        self.pool: dict[str, Any] | None = None
        self.conv_out = tuple(node.output(0).get_shape())
        x_shape = x.shape
        self.is_2d = len(x_shape) == 4 and not (x_shape[2] == 1 and self.W.shape[2] == 1)
        self.add_output(self.conv_out, "i32")

    def set_bias(self, b: np.ndarray, origin: str) -> None:
        self.b = np.asarray(b, np.float32).reshape(-1)
        self.origin.append(origin)

    def set_pool(self, node: Any) -> None:
        self.pool = {"window": node.op.window_attrs(node), "conv_out": self.conv_out[2:]}
        self.origin.append(node.friendly_name)
        self.out.shape = tuple(node.output(0).get_shape())

    def natural_weight_scale(self, s_in):
        reducer = conv_reducer(self.W.shape[1], self.W.shape[2:], self.precision, self.is_2d)
        return weight_scale(self.W, self.b, s_in, self.precision, compound=False, reducer=reducer)

    def kernel(self, mode):
        geo = K.ConvGeometry(self.inputs[0].shape, self.W.shape, self.out.shape, self.attrs, self.pool)
        b = np.zeros(self.W.shape[0], np.float32) if self.b is None else self.b
        if mode == FP32:
            return K.conv_float(geo, self.W, b)
        q = quantize_weights(self.W, self.b, self.s_w, self.inputs[0].scale, self.precision, compound=False)
        return K.conv_int(geo, q.w, q.b)

    def info(self, mode=EXACT):
        d = super().info(mode)
        if self.pool is not None:
            d["pool"] = {"kernel": list(self.pool["window"][0]), "strides": list(self.pool["window"][1])}
        return d


class DiagonalLayer(_Weightable):
    """ScaleShift: ``y = w ⊙ x + b`` with constant ``w`` and ``b`` (eltwise ops with a constant)."""

    op_name = "GnaDiagonal"

    def __init__(self, name, x: Tensor, w: np.ndarray, b: np.ndarray):
        super().__init__(name, [x])
        self.w = np.broadcast_to(np.asarray(w, np.float32), x.shape).copy()
        self.b = np.broadcast_to(np.asarray(b, np.float32), x.shape).copy()
        self.add_output(x.shape, "i32")

    def natural_weight_scale(self, s_in):
        return weight_scale(self.w, self.b, s_in, "i16", compound=False)

    def kernel(self, mode):
        if mode == FP32:
            return lambda x: (np.asarray(x, np.float32) * self.w + self.b).astype(np.float32)
        return K.diagonal_int(quantize(self.w, self.s_w, np.int16), quantize(self.b, self.out.scale, np.int32))


class EltwiseLayer(Layer):
    """Two-tensor Add / Subtract (``in1 + w · in0``: ``in1`` enters as the bias, int16 or int32;
    ``in0`` is int16 with the integer weight ``w = ±round(s1 / s0)``) and Multiply (``x₀ · x₁``,
    output scale ``s₀ · s₁``)."""

    op_name = "GnaEltwise"

    def __init__(self, name, op: str, a: Tensor, b: Tensor):
        super().__init__(name, [a, b])
        self.op = op
        self.roles = (1, 0)
        self.weight = 1
        self.add_output(a.shape, "i32")

    def _roles(self) -> tuple[int, int]:
        a, b = self.inputs
        if self.op == "sub" or a.kind == "i32":
            return 1, 0
        if b.kind == "i32":
            return 0, 1
        return (1, 0) if a.scale >= b.scale else (0, 1)

    def assign(self, ctx):
        a, b = self.inputs
        if self.op == "mul":
            self.out.scale = f32(a.scale * b.scale)
            return
        i0, i1 = self._roles()
        in0, in1 = self.inputs[i0], self.inputs[i1]
        r = in1.scale / in0.scale
        if r > INT16_MAX + 0.5:
            if not ctx.request(in1, in0.scale * INT16_MAX):
                raise CompileError(f"GNA layer '{self.name}': the eltwise weight {r:.6g} (scale ratio of its "
                                   f"inputs) exceeds int16 and '{in1.layer.name}' cannot be requantized")
            return
        n = max(1, round(r))
        if not same_scale(r, n) and ctx.request(in0, in1.scale / n, hard=False):
            return
        if r < 0.5:
            raise CompileError(f"GNA layer '{self.name}': input '{in0.layer.name}' has a scale {in0.scale:.6g} "
                               f"above the other input's {in1.scale:.6g} and cannot be requantized")
        self.roles = (i0, i1)
        self.weight = -n if self.op == "sub" else n
        self.out.scale = in1.scale

    def requantize(self, ctx, t, target, hard):
        if self.op == "mul":
            a, b = self.inputs
            return ctx.request(a, target / b.scale, hard)
        return ctx.request(self.inputs[self._roles()[1]], target, hard)

    def kernel(self, mode):
        op = self.op
        if mode == FP32:
            f = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[op]
            return lambda a, b: f(np.asarray(a, np.float32), np.asarray(b, np.float32))
        if op == "mul":
            return K.eltwise_mul_int
        run = K.eltwise_add_int(self.weight)
        if self.roles == (0, 1):
            return run
        return lambda a, b: run(b, a)

    def info(self, mode=EXACT):
        d = super().info(mode)
        d["operation"] = self.op
        if self.op != "mul":
            d["weight"] = self.weight
            d["bias_input"] = self.inputs[self.roles[1]].layer.name
        return d


class PwlLayer(Layer):
    """An activation: the PWL segments for its input and output scales."""

    op_name = "GnaPwl"

    def __init__(self, name, act: Activation, x: Tensor, max_err_pct: float, origin=None):
        super().__init__(name, [x], origin)
        self.act = act
        self.max_err_pct = max_err_pct
        self.segments: Segments | None = None
        self.error_pct: float | None = None
        self.add_output(x.shape, "i16")

    def input_range(self) -> tuple[int, int]:
        return (-(2**31), 2**31 - 1) if self.inputs[0].kind == "i32" else (-32768, INT16_MAX)

    def assign(self, ctx):
        s_in = self.inputs[0].scale
        forced = ctx.get(self)
        if forced is None:
            x = self.inputs[0]
            if not s_in > 0:
                from arrayrt.errors import CompileError

                raise CompileError(f"GNA: layer '{self.name}': its input has scale factor {s_in}; nothing to "
                                   "quantise against (an all-zero or underflowing tensor)")
            forced = f32(self.act.output_scale(s_in, self.input_range()[1] / s_in, x.kind == "i16"))
        self.out.scale = forced

    def requantize(self, ctx, t, target, hard):
        return ctx.force(self, target, hard)

    def design(self) -> Segments:
        if self.segments is None:
            lo, hi = self.input_range()
            try:
                self.segments, self.error_pct = self.act.segments(self.inputs[0].scale, self.out.scale, lo, hi,
                                                                  self.max_err_pct)
            except PwlDesignError as exc:
                raise CompileError(f"GNA layer '{self.name}': {exc}") from None
        return self.segments

    def kernel(self, mode):
        if mode == FP32:
            act = self.act
            return lambda x: act(np.asarray(x, np.float32)).astype(np.float32)
        return self.design().evaluator()

    def info(self, mode=EXACT):
        d = super().info(mode)
        d["activation"] = self.act.kind
        if mode == EXACT:
            segs = self.design()
            d.update(pwl_segments=len(segs), pwl_error_pct=self.error_pct, pwl=segs.table())
        if self.act.params:
            d["activation_params"] = list(self.act.params)
        return d


class MoveLayer(Layer):
    """Data movement (reshape, split, concat, transpose, standalone max pooling) on any kind: the
    original op's node, with the layer's inputs at its data positions."""

    op_name = "Move"

    def __init__(self, node: Any, data: dict[int, Tensor], consts: dict[int, Output], kind: str):
        super().__init__(node.friendly_name, list(data.values()))
        self.node = node
        self.data_positions = list(data)
        self.consts = consts
        self.hardware = node.type_name in ("Concat", "Transpose", "MaxPool")
        for o in node.outputs():
            self.add_output(o.get_shape(), kind)

    def assign(self, ctx):
        if self.outputs[0].kind == "f":
            return
        if self.node.type_name == "Concat":
            self._assign_concat(ctx)
            return
        for o in self.outputs:
            o.scale = self.inputs[0].scale

    def _assign_concat(self, ctx):
        scales = [t.scale for t in self.inputs]
        fixed = [t for t in self.inputs if fixed_scale(t)]
        if fixed and any(not same_scale(t.scale, fixed[0].scale) for t in fixed):
            raise CompileError(f"GNA layer '{self.name}': inputs with fixed scale factors "
                               f"{[t.scale for t in fixed]} enter one concatenation")
        free = [t.scale for t in self.inputs if not isinstance(t.layer, ConstLayer)] or scales
        target = fixed[0].scale if fixed else min(free)
        for t in self.inputs:
            if not same_scale(t.scale, target) and not ctx.request(t, target):
                raise CompileError(f"GNA layer '{self.name}': inputs enter the concatenation with scale factors "
                                   f"{scales}, and '{t.layer.name}' cannot be requantized to {target:.6g}")
        self.outputs[0].scale = target

    def requantize(self, ctx, t, target, hard):
        if self.node.type_name == "Concat":
            return all(ctx.request(i, target, hard) for i in self.inputs)
        return ctx.request(self.inputs[0], target, hard)

    def emit(self, mode, args):
        n = self.node.get_input_size()
        inputs: list[Any] = [None] * n
        for pos, a in zip(self.data_positions, args):
            inputs[pos] = a
        for pos, c in self.consts.items():
            inputs[pos] = c
        node = Node(self.node.op, inputs, dict(self.node.attrs), self.node.friendly_name,
                    num_outputs=self.node.get_output_size())
        node.rt_info["gna_lowered"] = True
        return node.outputs()

    def info(self, mode=EXACT):
        d = super().info(mode)
        d["type"] = self.node.type_name
        return d


def fixed_scale(t: Tensor) -> bool:
    """Whether ``t``'s scale cannot change: it comes from an input with an explicit scale factor."""
    layer = t.layer
    while isinstance(layer, MoveLayer) and layer.inputs:
        layer = layer.inputs[0].layer
    return isinstance(layer, QuantizeLayer) and layer.explicit
