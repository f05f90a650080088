"""The ``GNA`` device: OpenVINO's Gaussian & Neural Accelerator plugin, emulated on numpy.

OpenVINO removed its GNA plugin in 2024.0. This backend brings back its software-exact mode: a
model is compiled by static quantisation (scale factors, int16 or int8 weights, int32 or compound
biases, PWL activations; :mod:`.compiler`) and run on numpy with the accelerator's integer datapath
(:mod:`.kernels`, :mod:`.pwl`), so results match the hardware's to the bit for the same compiled
parameters. ``GNA_DEVICE_MODE=GNA_SW_FP32`` runs the same compiled layers in float32 instead.

``supports`` is GNA's allow-list and limits for ``GNA_HW_EXECUTION_TARGET`` (:mod:`.limits`), so
``HETERO:GNA,CPU`` keeps on GNA what it would have run and gives the rest to the CPU. Properties:
:mod:`.config`. The compiled plan carries a :class:`~.compiler.GnaProgram` as ``plan.gna``: per
layer its scale factors, weight precision and PWL segments.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from arrayrt.backends.base import Backend
from arrayrt.backends.gna import limits
from arrayrt.backends.gna.config import PROPERTIES, SCALE_KEY, GnaConfig, parse_scale_factor
from arrayrt.backends.gna.layers import is_gna_node
from arrayrt.ir.types import Type

from arrayrt.errors import DeviceError

__all__ = ["GnaBackend", "PROPERTIES"]


class GnaBackend(Backend):
    name = "gna"
    device = "GNA"
    dtypes = frozenset({Type.f32, Type.i16, Type.i32, Type.u8})
    #: weights are int16 by default, int8 on request (``INFERENCE_PRECISION_HINT``); f32 reads as
    #: the default (the float twin is ``GNA_DEVICE_MODE=GNA_SW_FP32``)
    default_precision = Type.i16
    precisions = ("i16", "i8", "f32")
    #: HETERO fills this with the values entering a GNA subgraph, computed on CPU from the samples
    calibration_property = "GNA_CALIBRATION_DATA"
    #: device properties beyond Core's own, ``key -> (parser, default)``; ``GNA_SCALE_FACTOR_<i>``
    #: keys through :meth:`property_parser`
    properties: ClassVar[dict[str, tuple[Any, Any]]] = PROPERTIES

    @classmethod
    def property_parser(cls, key: str):
        """The parser of a pattern key (``GNA_SCALE_FACTOR_<i>``), or None."""
        return parse_scale_factor if SCALE_KEY.match(key) else None

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__(config)
        self.settings = self._settings(self.config)

    @classmethod
    def load_namespace(cls) -> Any:
        return np

    def to_device(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    @staticmethod
    def _settings(config: dict[str, Any]) -> GnaConfig:
        try:
            return GnaConfig.parse(config)
        except ValueError as exc:
            raise DeviceError(f"GNA: {exc}") from None

    def why_not_op(self, op: Any) -> str | None:
        return limits.why_not_type(op.type_name)

    def why_not(self, node: Any) -> str | None:
        if is_gna_node(node) or node.rt_info.get("gna_lowered"):
            return None
        return limits.why_not(node, self.settings.target)

    def kernel(self, node: Any):
        if not is_gna_node(node):
            return super().kernel(node)
        layer, mode = node.attrs["layer"], node.attrs["mode"]
        fn = layer.kernel(mode)

        def run(*args):
            return fn(*args)

        run.exec_type = layer.exec_type(mode)
        return run

    def compile(self, model: Any, config: dict[str, Any] | None = None) -> Any:
        from arrayrt.backends.gna.compiler import compile_model

        merged = {**self.config, **(config or {})}
        self.settings = self._settings(merged)
        return compile_model(model, self.settings, self, profile=bool(merged.get("PERF_COUNT", False)))

    def describe(self) -> str:
        s = self.settings
        return f"GNA ({self.name}, {s.mode}, {s.target}, {s.precision})"
