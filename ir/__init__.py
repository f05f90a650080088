"""The model as data: element types, shapes, nodes, models, ops, and IR/ONNX I/O."""
from __future__ import annotations

from arrayrt.ir.graph import Input, Node, Output
from arrayrt.ir.model import Model
from arrayrt.ir.shape import Dimension, PartialShape, Shape
from arrayrt.ir.types import Type

__all__ = ["Dimension", "Input", "Model", "Node", "Output", "PartialShape", "Shape", "Type"]
