"""Compile = static quantisation: a model becomes GNA layers with scale factors, integer weights,
int32 (or compound) biases and PWL segments, then an executable plan.

Steps (:func:`compile_model`):

1. recurrent cells and sequences are decomposed (:mod:`arrayrt.backends.gna.decompose`);
2. :class:`Lowering` maps nodes to layers (:mod:`arrayrt.backends.gna.layers`): MatMul -> affine with
   the following constant Add fused as its bias, Convolution -> convolution (+ bias, + a following
   MaxPool, which GNA applies to the sums before the activation), eltwise ops with a constant ->
   diagonal (ScaleShift) layers, two-tensor eltwise ops -> eltwise layers, activations -> PWL layers,
   data movement -> the same op on integers. A layer that needs int16 input and gets an int32
   accumulator gets an identity PWL in between (as the plugin inserted identity layers); float
   inputs are quantised where the first GNA layer reads them, with the input's scale factor;
   outputs are dequantised;
3. the scale-factor pass (:func:`assign_scales`) runs forward through the layers, restarting when a
   layer requantises an upstream one (concatenation inputs brought to one scale, eltwise weights
   kept inside int16 and integral);
4. the layers emit a model of private ops whose kernels :meth:`GnaBackend.kernel` returns, and
   :func:`arrayrt.executor.build_plan` compiles it, so profiling and error mapping work as on CPU.

Input scale factors, by precedence: ``GNA_SCALE_FACTOR_PER_INPUT`` (by tensor name, friendly name,
or under HETERO the name of the node whose output the input is), ``GNA_SCALE_FACTOR_<i>``,
calibration data (``16384 / max|x|``), a FakeQuantize reading the input (``(levels - 1) / (high -
low)``, capped so the range fits int16), else 1.0, the plugin's default (with a warning).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from arrayrt.backends.gna import limits
from arrayrt.backends.gna.config import GnaConfig
from arrayrt.backends.gna.layers import (
    EXACT,
    AffineLayer,
    ConstLayer,
    ConvLayer,
    DequantizeLayer,
    DiagonalLayer,
    EltwiseLayer,
    InputLayer,
    Layer,
    MoveLayer,
    PwlLayer,
    QuantizeLayer,
    Scales,
    Tensor,
)
from arrayrt.backends.gna.pwl import Activation
from arrayrt.backends.gna.quantize import INT16_MAX, MAX_VAL_2B_FEAT, f32
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.model import Model

from arrayrt.errors import CompileError, where

MAX_RESTARTS = 200
_HETERO_INPUT = re.compile(r"^(.*)/(\d+)/to_[A-Za-z0-9_.]+$")

_SIMPLE_ACTS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu", "Exp": "exp", "Log": "log",
                "Sign": "sign", "Abs": "abs", "SoftSign": "softsign"}
_ELTWISE_OPS = {"Add": "add", "Subtract": "sub", "Multiply": "mul"}
_DATA_POSITIONS = {"Reshape": (0,), "Squeeze": (0,), "Unsqueeze": (0,), "Identity": (0,), "Split": (0,),
                   "VariadicSplit": (0,), "Transpose": (0,), "MaxPool": (0,)}


class GnaScaleWarning(UserWarning):
    """An input is quantised with the default scale factor 1.0."""


class Lowering:
    """Layers of one model (see the module docstring)."""

    def __init__(self, model: Model, cfg: GnaConfig):
        self.model, self.cfg = model, cfg
        self.layers: list[Layer] = []
        self.inputs: list[InputLayer] = []
        self.results: list[Tensor | Output] = []
        self.raw_results: list[Tensor | Output] = []
        self._val: dict[tuple[int, int], Tensor] = {}
        self._ir: dict[int, Output] = {}  # id(tensor) -> the model output it stands for
        self._uses = {o: len(ins) for o, ins in model.consumers().items()}
        self._f_source: dict[int, InputLayer] = {}
        self._identity: dict[int, Tensor] = {}
        self._quantized: dict[int, Tensor] = {}
        self.unscaled: list[str] = []

    # --- helpers ------------------------------------------------------------------------------
    def add(self, layer: Layer) -> Layer:
        self.layers.append(layer)
        return layer

    def set(self, node: Any, port: int, t: Tensor) -> None:
        self._val[(node.uid, port)] = t
        self._ir[id(t)] = node.output(port)

    def uses(self, t: Tensor) -> int:
        return self._uses.get(self._ir.get(id(t)), 0)

    def value(self, node: Any, i: int) -> Tensor | None:
        """The tensor feeding input ``i``, or None when it is a constant."""
        src = node.input_value(i)
        t = self._val.get((src.node.uid, src.index))
        if t is not None:
            return t
        if node.input_const(i) is not None:
            return None
        raise CompileError(f"{where(node)}: input {i} comes from {where(src.node)}, which GNA does not run")

    def need16(self, t: Tensor) -> Tensor:
        if t.kind == "i16":
            return t
        if t.kind == "f":
            return self.quantized(t)
        key = id(t)
        if key not in self._identity:
            layer = self.add(PwlLayer(f"{t.layer.name}/identity", Activation("identity"), t,
                                      self.cfg.pwl_max_error_percent, origin=[]))
            self._identity[key] = layer.out
        return self._identity[key]

    def needq(self, t: Tensor) -> Tensor:
        return self.quantized(t) if t.kind == "f" else t

    def quantized(self, t: Tensor, fq: tuple[float, float, int] | None = None, scale: float | None = None) -> Tensor:
        key = id(t)
        if key not in self._quantized or fq is not None:
            source = self._f_source[key]
            layer = self.add(QuantizeLayer(f"{t.layer.name}/quantize", t, source, fq, scale))
            if fq is not None:
                return layer.out
            self._quantized[key] = layer.out
        return self._quantized[key]

    # --- building -----------------------------------------------------------------------------
    def build(self) -> None:
        params = self.model.get_parameters()
        for i, p in enumerate(params):
            scale, source, explicit = self._input_scale(p, i)
            layer = self.add(InputLayer(p, i, scale, source, explicit))
            self.inputs.append(layer)
            self.set(p, 0, layer.out)
            self._f_source[id(layer.out)] = layer
        for node in self.model.get_ordered_ops():
            t = node.type_name
            if t in ("Parameter", "Constant", "Result"):
                continue
            if all(node.input_const(i) is not None for i in range(node.get_input_size())):
                continue  # folded
            handler = getattr(self, f"_on_{t}", None)
            if handler is None:
                if t in _SIMPLE_ACTS or t in ("Clamp", "PRelu", "Power"):
                    handler = self._on_activation
                elif t in _ELTWISE_OPS or t == "Divide":
                    handler = self._on_eltwise
                elif t in _DATA_POSITIONS or t == "Concat":
                    handler = self._on_move
                else:
                    raise CompileError(f"{where(node)}: GNA has no layer for {t}")
            handler(node)
        for r in self.model.get_results():
            src = r.input_value(0)
            t = self._val.get((src.node.uid, src.index))
            if t is None:
                self.results.append(src)
                self.raw_results.append(src)
            elif t.kind == "f":
                self.results.append(t)
                self.raw_results.append(t)
            else:
                self.results.append(self.add(DequantizeLayer(f"{r.friendly_name}/dequantize", t)).out)
                self.raw_results.append(t)
        self._mark_fused()

    def _input_scale(self, p: Any, index: int) -> tuple[float, str, bool]:
        cfg = self.cfg
        names = set(p.output(0).get_names()) | {p.friendly_name}
        m = _HETERO_INPUT.match(p.friendly_name)
        if m is not None:
            names.add(m.group(1))
        for n in sorted(names):
            if n in cfg.scale_by_name:
                return f32(cfg.scale_by_name[n]), f"GNA_SCALE_FACTOR_PER_INPUT[{n}]", True
        if index in cfg.scale_by_index:
            return f32(cfg.scale_by_index[index]), f"GNA_SCALE_FACTOR_{index}", True
        peak = cfg.calibration_max(index, names)
        if peak is not None:
            return (f32(MAX_VAL_2B_FEAT / peak) if peak > 0 else 1.0), "calibration", False
        if p.output(0).get_element_type().is_real:
            self.unscaled.append(p.friendly_name)
        return 1.0, "default", False

    def _on_MatMul(self, node):
        x = self.value(node, 0)
        W = np.asarray(node.input_const(1), np.float32)
        W = W if node.attrs["transpose_b"] else W.T
        layer = self.add(AffineLayer(node.friendly_name, self.need16(x), W, node.output(0).get_shape(),
                                     self.cfg.precision))
        self.set(node, 0, layer.out)

    def _on_Convolution(self, node):
        x = self.value(node, 0)
        precision = self.cfg.precision if self.cfg.target == "GNA_3_5" else "i16"
        layer = self.add(ConvLayer(node.friendly_name, self.need16(x), node.input_const(1), node, precision))
        self.set(node, 0, layer.out)

    def _on_eltwise(self, node):
        t = node.type_name
        c0, c1 = node.input_const(0), node.input_const(1)
        if c0 is None and c1 is None:
            self._eltwise2(node)
            return
        xi = 0 if c0 is None else 1
        c = np.asarray(c1 if xi == 0 else c0, np.float32)
        x = self.value(node, xi)
        if t == "Add" or (t == "Subtract" and xi == 0):
            if self._fuse_bias(node, x, c if t == "Add" else -c):
                return
        one, zero = np.float32(1), np.float32(0)
        if t == "Add":
            w, b = one, c
        elif t == "Subtract":
            w, b = (one, -c) if xi == 0 else (-one, c)
        elif t == "Multiply":
            w, b = c, zero
        else:
            with np.errstate(divide="ignore"):
                w, b = one / c, zero
        layer = self.add(DiagonalLayer(node.friendly_name, self.need16(x), w, b))
        self.set(node, 0, layer.out)

    def _fuse_bias(self, node, x: Tensor, c: np.ndarray) -> bool:
        layer = x.layer
        if not isinstance(layer, (AffineLayer, ConvLayer)) or layer.b is not None or self.uses(x) != 1:
            return False
        out = x.shape
        try:
            full = np.broadcast_to(c, out)
        except ValueError:
            return False
        axis = len(out) - 1 if isinstance(layer, AffineLayer) else 1
        per = np.moveaxis(full, axis, 0).reshape(out[axis], -1)
        if not np.all(per == per[:, :1]):
            return False
        layer.set_bias(per[:, 0], node.friendly_name)
        self.set(node, 0, x)
        return True

    def _eltwise2(self, node):
        op = _ELTWISE_OPS[node.type_name]
        a, b = self.value(node, 0), self.value(node, 1)
        if op == "mul":
            a, b = self.need16(a), self.need16(b)
        elif op == "sub":
            a, b = self.needq(a), self.need16(b)
        else:
            a, b = self.needq(a), self.needq(b)
            if a.kind == "i32" and b.kind == "i32":
                b = self.need16(b)
        layer = self.add(EltwiseLayer(node.friendly_name, op, a, b))
        self.set(node, 0, layer.out)

    def _activation(self, node) -> Activation:
        t = node.type_name
        if t in _SIMPLE_ACTS:
            return Activation(_SIMPLE_ACTS[t])
        if t == "Clamp":
            return Activation("clamp", (float(node.attrs["min"]), float(node.attrs["max"])))
        if t == "PRelu":
            return Activation("leaky_relu", (limits.scalar(node.input_const(1)),))
        p = limits.scalar(node.input_const(1))
        return Activation("identity") if p == 1.0 else Activation("power", (p,))

    def _on_activation(self, node):
        x = self.needq(self.value(node, 0))
        layer = self.add(PwlLayer(node.friendly_name, self._activation(node), x, self.cfg.pwl_max_error_percent))
        self.set(node, 0, layer.out)

    def _on_FakeQuantize(self, node):
        x = self.value(node, 0)
        in_lo, in_hi, out_lo, out_hi = (limits.scalar(node.input_const(i)) for i in range(1, 5))
        levels = node.attrs["levels"]
        if x.kind == "f" and (in_lo, in_hi) == (out_lo, out_hi):
            source = self._f_source[id(x)]
            scale = None
            if not source.explicit:
                span = out_hi - out_lo
                scale = f32(min((min(levels, 65536) - 1) / span, INT16_MAX / max(abs(out_lo), abs(out_hi))))
                source.scale_source = "FakeQuantize statistics"
                if source.name in self.unscaled:
                    self.unscaled.remove(source.name)
            q = self.quantized(x, fq=(out_lo, out_hi, levels), scale=scale)
            q.layer.origin.append(node.friendly_name)
            self.set(node, 0, q)
            return
        act = Activation("fake_quantize", (in_lo, in_hi, out_lo, out_hi, float(levels)))
        layer = self.add(PwlLayer(node.friendly_name, act, self.needq(x), self.cfg.pwl_max_error_percent))
        self.set(node, 0, layer.out)

    def _on_MaxPool(self, node):
        x = self.value(node, 0)
        if node.get_output_size() > 1 and self._uses.get(node.output(1)):
            self._on_move(node)  # pools the integers; the indices leave as they are
            self._val[(node.uid, 1)].kind = "f"
            return
        layer = x.layer
        conv = None
        if isinstance(layer, PwlLayer) and layer.act.monotonic and self.uses(x) == 1:
            src = layer.inputs[0]
            if isinstance(src.layer, ConvLayer) and src is src.layer.out and self.uses(src) == 1:
                conv = src.layer
        elif isinstance(layer, ConvLayer) and x is layer.out and self.uses(x) == 1:
            conv = layer
        if conv is None or conv.pool is not None:
            self._on_move(node)
            return
        conv.set_pool(node)
        if conv is not layer:
            layer.out.shape = conv.out.shape
            layer.origin.append(node.friendly_name)
        self.set(node, 0, x)

    def _on_move(self, node):
        t = node.type_name
        positions = range(node.get_input_size()) if t == "Concat" else _DATA_POSITIONS[t]
        data = {i: self.value(node, i) for i in positions}
        consts = {i: node.input_value(i) for i in range(node.get_input_size()) if data.get(i) is None}
        present = [v for v in data.values() if v is not None]
        sources = {id(self._f_source[id(v)]) for v in present if v.kind == "f"}
        if all(v.kind == "f" for v in present) and (t != "Concat" or len(sources) == 1):
            kind = "f"  # one input's floats: quantised later with its scale
        elif t == "Concat":
            kind = "i16"
            for i, v in data.items():
                data[i] = (self.add(ConstLayer(f"{node.friendly_name}/const{i}", node.input_const(i))).out
                           if v is None else self.need16(v))
                consts.pop(i, None)
        else:
            kind = present[0].kind
            if t == "Transpose" and kind == "i32":
                data[0] = self.need16(data[0])
                kind = "i16"
        data = {i: v for i, v in data.items() if v is not None}
        layer = self.add(MoveLayer(node, data, consts, kind))
        for k, out in enumerate(layer.outputs):
            self.set(node, k, out)
            if kind == "f":
                self._f_source[id(out)] = self._f_source[id(next(iter(data.values())))]

    def _mark_fused(self) -> None:
        readers: dict[int, int] = {}
        for layer in self.layers:
            for t in layer.inputs:
                readers[id(t)] = readers.get(id(t), 0) + 1
        weighted = (AffineLayer, ConvLayer, DiagonalLayer, EltwiseLayer)
        for layer in self.layers:
            if isinstance(layer, PwlLayer):
                src = layer.inputs[0]
                if isinstance(src.layer, weighted) and readers.get(id(src)) == 1:
                    layer.fused_into = src.layer.name

    # --- scale factors ------------------------------------------------------------------------
    def assign_scales(self) -> None:
        ctx = Scales()
        for _ in range(MAX_RESTARTS):
            ctx.restart = False
            for layer in self.layers:
                layer.assign(ctx)
                if ctx.restart:
                    break
            if not ctx.restart:
                return
        raise CompileError("GNA: the scale factors did not settle (layers keep requantizing each other): "
                           + ", ".join(sorted({layer.name for layer in ctx.forced})))

    def hardware_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.hardware and not layer.fused_into)

    # --- emission -----------------------------------------------------------------------------
    def emit(self, mode: str, raw: bool = False) -> Model:
        from arrayrt.ir.ops import get_op

        outs: dict[int, Output] = {}
        for layer in self.layers:
            if raw and isinstance(layer, DequantizeLayer):
                continue
            produced = layer.emit(mode, [outs[id(t)] for t in layer.inputs])
            for t, o in zip(layer.outputs, produced):
                outs[id(t)] = o
        result_op = get_op("Result")
        results = [Node(result_op, [outs[id(r)] if isinstance(r, Tensor) else r])
                   for r in (self.raw_results if raw else self.results)]
        return Model(results, self.model.get_parameters(), f"{self.model.name}/gna")


@dataclass
class GnaProgram:
    """What a compiled GNA model exposes: per layer its scale factors, weight precision and PWL
    segments (``layers``), the input and output scales, and an integer run for debugging."""

    mode: str
    target: str
    precision: str
    pwl_max_error_percent: float
    layers: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    hardware_layers: int
    _lowering: Lowering = field(repr=False)
    _backend: Any = field(repr=False)
    _raw_plan: Any = field(default=None, repr=False)

    def layer(self, name: str) -> dict[str, Any]:
        """The first layer named ``name`` or implementing the original node ``name``."""
        for d in self.layers:
            if d["name"] == name:
                return d
        for d in self.layers:
            if name in d["origin"]:
                return d
        raise KeyError(f"no GNA layer named '{name}'; layers: {[d['name'] for d in self.layers]}")

    def node_info(self) -> dict[str, dict[str, Any]]:
        """Extra ``rt_info`` for the runtime model: ``{original node name: {"gna": [layer info...]}}``
        (scale factors, weight precision, PWL segments of every layer implementing that node)."""
        out: dict[str, dict[str, Any]] = {}
        for d in self.layers:
            for name in d["origin"]:
                out.setdefault(name, {"gna": []})["gna"].append(d)
        return out

    def run_integers(self, *inputs: Any) -> tuple:
        """The outputs before dequantisation: int16/int32 in ``GNA_SW_EXACT`` (divide by the output
        scales of :attr:`outputs` to get the model's values)."""
        if self._raw_plan is None:
            from arrayrt.executor import build_plan

            self._raw_plan = build_plan(self._lowering.emit(self.mode, raw=True), self._backend)
        return self._raw_plan(*[np.asarray(a) for a in inputs])


def compile_model(model: Model, cfg: GnaConfig, backend: Any, profile: bool = False) -> Any:
    """The executable plan of ``model`` on GNA, with a :class:`GnaProgram` as ``plan.gna``."""
    from arrayrt.backends.gna.decompose import decompose_recurrent
    from arrayrt.ir.model import clone_model

    from arrayrt.executor import build_plan

    work = clone_model(model)
    for node in work.get_ordered_ops():
        backend.check(node)
    decompose_recurrent(work)
    low = Lowering(work, cfg)
    low.build()
    low.assign_scales()
    count, limit = low.hardware_layers(), limits.MAX_LAYERS[cfg.target]
    if count > limit:
        raise CompileError(f"GNA: the model needs {count} layers; {cfg.target} runs at most {limit}")
    if low.unscaled and cfg.mode == EXACT:
        warnings.warn(f"GNA: inputs {low.unscaled} have no scale factor (GNA_SCALE_FACTOR_PER_INPUT, "
                      "GNA_SCALE_FACTOR_<i> or GNA_CALIBRATION_DATA); quantising them with 1.0 as the GNA "
                      "plugin did", GnaScaleWarning, stacklevel=3)
    plan = build_plan(low.emit(cfg.mode), backend, profile=profile)
    infos = [layer.info(cfg.mode) for layer in low.layers if not isinstance(layer, InputLayer)]
    outputs = [{"name": (r.layer.name if isinstance(r, Tensor) else r.node.friendly_name),
                "scale": r.scale if isinstance(r, Tensor) and r.kind != "f" else None,
                "precision": r.kind if isinstance(r, Tensor) else "f"} for r in low.raw_results]
    plan.gna = GnaProgram(cfg.mode, cfg.target, cfg.precision, cfg.pwl_max_error_percent, infos,
                          [layer.info() for layer in low.inputs], outputs, count, low, backend)
    plan.node_info = plan.gna.node_info
    return plan
