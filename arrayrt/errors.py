"""The arrayrt error hierarchy.

Every error a user can provoke with bad input is an :class:`ArrayrtError`. Messages name where the
problem is (layer id and name, attribute, input name) and what was expected against what was found.
"""
from __future__ import annotations


class ArrayrtError(Exception):
    """Base of every error arrayrt raises on purpose."""


class ModelReadError(ArrayrtError):
    """A model file (IR .xml/.bin, ONNX) could not be read: malformed, truncated, unsafe."""


class UnsupportedOpError(ArrayrtError):
    """An op type or op version that arrayrt (or the chosen device) does not implement."""


class OpAttributeError(ArrayrtError):
    """An op attribute is missing or has a value outside what the op accepts."""


class ShapeInferenceError(ArrayrtError):
    """Shape or element-type inference failed: inputs do not fit the op."""


class InferenceInputError(ArrayrtError):
    """Inputs handed to an inference do not match the model: name, shape or element type."""


class DeviceError(ArrayrtError):
    """An unknown or absent device, or a property a device does not accept."""


class CompileError(ArrayrtError):
    """A model could not be compiled for a device (e.g. an op the device cannot run)."""


def where(node) -> str:
    """A short 'layer id=…, name=…, type=…' description of a node for error messages."""
    if node is None:
        return "<model>"
    lid = getattr(node, "ir_id", None)
    idpart = f"id={lid}, " if lid is not None else ""
    return f"layer {idpart}name='{node.friendly_name}', type={node.type_name}"

