"""Elementwise ONNX ops: arithmetic, math, comparison, logical, activations."""
from __future__ import annotations

from arrayrt.ir.frontend.onnx.registry import translator


def _binary(onnx_op: str, ir_op: str) -> None:
    @translator(onnx_op)
    def convert(node):
        return [node.make(ir_op, [node.require(0), node.require(1)])]


def _unary(onnx_op: str, ir_op: str) -> None:
    @translator(onnx_op)
    def convert(node):
        return [node.make(ir_op, [node.require(0)])]


for _onnx, _ir in (("Add", "Add"), ("Sub", "Subtract"), ("Mul", "Multiply"), ("Max", "Maximum")):
    _binary(_onnx, _ir)

for _onnx, _ir in (("Relu", "Relu"), ("Neg", "Negative"), ("Abs", "Abs"), ("Exp", "Exp")):
    _unary(_onnx, _ir)


@translator("Identity")
def identity(node):
    return [node.require(0)]
