"""Frontends: other model formats converted to :class:`arrayrt.ir.Model` (the ONNX model optimizer)."""
