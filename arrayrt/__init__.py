"""arrayrt: run OpenVINO IR on any array-API library, behind an OpenVINO-shaped API.

    import arrayrt as ar
    core = ar.Core()
    compiled = core.compile_model("model.xml", "CPU")
    result = compiled({"input": x})[0]
"""
from __future__ import annotations

from arrayrt import layout_helpers
from arrayrt.errors import (
    ArrayrtError,
    CompileError,
    DeviceError,
    InferenceInputError,
    ModelReadError,
    OpAttributeError,
    ShapeInferenceError,
    UnsupportedOpError,
)
from arrayrt.ir import Dimension, Input, Model, Node, Output, PartialShape, Shape, Type
from arrayrt.ir.frontend.convert import convert_model
from arrayrt.ir.io import read_model, save_model, serialize
from arrayrt.ir.layout import Layout, get_batch, set_batch
from arrayrt.runtime.compiled_model import AsyncInferQueue, CompiledModel, InferRequest, ProfilingInfo
from arrayrt.runtime.core import VERSION, Core, compile_model
from arrayrt.runtime.results import InferResults
from arrayrt.runtime.tensor import Tensor

__version__ = VERSION


def get_version() -> str:
    return VERSION

__all__ = [
    "ArrayrtError", "AsyncInferQueue", "CompileError", "CompiledModel", "Core", "DeviceError", "Dimension",
    "InferRequest", "InferResults", "InferenceInputError", "Input", "Layout", "Model", "ModelReadError", "Node",
    "OpAttributeError", "Output", "PartialShape", "ProfilingInfo", "Shape", "ShapeInferenceError", "Tensor", "Type",
    "UnsupportedOpError", "compile_model", "convert_model", "get_version", "get_batch", "layout_helpers",
    "read_model", "save_model", "serialize", "set_batch",
]
