"""Reading and writing models: OpenVINO IR v10/v11 (and ONNX through the frontend)."""
from __future__ import annotations

from arrayrt.ir.io.reader import read_model
from arrayrt.ir.io.writer import save_model, serialize

__all__ = ["read_model", "save_model", "serialize"]
