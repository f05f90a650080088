"""ONNX translator families. This list is the registry: importing a family registers its translators."""
from __future__ import annotations

import importlib

FAMILIES = (
    "elementwise",   # arithmetic, math, comparison, logical, bitwise, casts, activations, constants
    "nn",            # conv, pool, normalization, gemm/matmul, recurrent, attention, detection, signal
    "tensor",        # shape, reshape, slicing, gather/scatter, pad, resize, reductions, quantization
    "control",       # If, Loop, Scan, sequences, optionals, strings, random
)

for _family in FAMILIES:
    importlib.import_module(f"arrayrt.ir.frontend.onnx.ops.{_family}")
