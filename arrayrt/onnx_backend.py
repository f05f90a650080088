"""An ``onnx.backend.base.Backend`` over arrayrt, so the ONNX backend test suite (and any tool built on
that interface) runs models through arrayrt's converter and runtime.

    import arrayrt.onnx_backend as backend
    outputs = backend.run_model(onnx_model, [x], device="CPU")

The device is any arrayrt device string (``CPU``, ``NPU``, ``HETERO:NPU,CPU``...). The suite asks
for ``"CPU"`` (and ``"CUDA"``); ``ARRAYRT_ONNX_DEVICE`` / ``ARRAYRT_ONNX_CONFIG`` (JSON) redirect it
so the whole suite runs on another device or array backend. Inference precision is f32 unless the
config says otherwise (the suite's tolerances are f32 tolerances).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

import arrayrt
from arrayrt.ir.frontend.onnx import convert_onnx

DEFAULT_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


def _target(device: str, fixed: str | None = None, fixed_config: dict | None = None) -> tuple[str, dict[str, Any]]:
    config = dict(DEFAULT_CONFIG)
    config.update(fixed_config or {})
    config.update(json.loads(os.environ.get("ARRAYRT_ONNX_CONFIG", "{}")))
    override = fixed or os.environ.get("ARRAYRT_ONNX_DEVICE")
    if override and device.upper() == "CPU":
        device = override
    return device, config


class ArrayrtRep(BackendRep):
    """A converted and compiled model."""

    def __init__(self, compiled: arrayrt.CompiledModel, model: arrayrt.Model):
        self.compiled = compiled
        self.model = model
        self.request = compiled.create_infer_request()

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, dict):
            feed = inputs
        elif isinstance(inputs, (list, tuple)):
            feed = list(inputs)
        else:
            feed = [inputs]
        results = self.request.infer(feed)
        return tuple(_plain(results[i]) for i in range(len(self.compiled.outputs)))


def _plain(value: Any) -> Any:
    """Arrays as numpy; sequences (lists) and absent optionals (None) as they are."""
    if value is None or isinstance(value, list):
        return value
    return np.asarray(value)


class ArrayrtBackend(Backend):
    #: set by :meth:`for_device`: the arrayrt device the suite's "CPU" runs on, and its config
    target_device: str | None = None
    target_config: dict[str, Any] = {}

    @classmethod
    def for_device(cls, device: str, config: dict[str, Any] | None = None) -> type["ArrayrtBackend"]:
        """This backend with the suite's "CPU" mapped to arrayrt ``device`` (e.g. ``STRICT``)."""
        safe = "".join(c if c.isalnum() else "_" for c in device)
        return type(f"ArrayrtBackend_{safe}", (cls,), {"target_device": device, "target_config": dict(config or {})})

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> ArrayrtRep:
        device, config = _target(device, cls.target_device, cls.target_config)
        ir = convert_onnx(model)
        compiled = arrayrt.Core().compile_model(ir, device, config)
        return ArrayrtRep(compiled, ir)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Sequence[np.ndarray], device: str = "CPU",
                 outputs_info: Sequence[tuple] | None = None, **kwargs: Any):
        """Run one node: wraps it in a graph whose inputs take the given arrays' types and shapes."""
        from onnx import helper

        vis = []
        feed = []
        for name, value in zip(node.input, inputs):
            if not name:
                continue
            arr = np.asarray(value)
            vis.append(helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
            feed.append(arr)
        outs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
        graph = helper.make_graph([node], "run_node", vis, outs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(node.domain or "", opset)])
        return cls.prepare(model, device).run(feed)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        device, _ = _target(device, cls.target_device)
        name = device.upper()
        if name.startswith(("HETERO", "AUTO", "MULTI", "BATCH")):
            return True
        return name.split(".", 1)[0] in arrayrt.Core().available_devices


prepare = ArrayrtBackend.prepare
run_model = ArrayrtBackend.run_model
run_node = ArrayrtBackend.run_node
supports_device = ArrayrtBackend.supports_device
