"""Graph plumbing ops: Parameter, Result, Constant, Convert, ConvertLike, ShapeOf, Identity."""
from __future__ import annotations

from typing import Any

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import dtype_of, to_numpy
from arrayrt.ir.ops.base import Attr, OpDef, register, same_as_input
from arrayrt.ir.ops.factory import as_output, constant, factory, make
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where


@register
class Parameter(OpDef):
    """A model input. The executor binds it; it has no compute."""

    type_name, version, opset = "Parameter", 0, "opset1"
    attrs = (Attr("shape", "shape"), Attr("element_type", "type"))
    n_inputs = (0, 0)
    foldable = False

    @classmethod
    def infer(cls, node):
        return [(node.attrs["element_type"], node.attrs["shape"])]


@register
class Result(OpDef):
    """A model output: passes its input through."""

    type_name, version, opset = "Result", 0, "opset1"
    foldable = False
    infer = same_as_input

    @staticmethod
    def compute(xp, x):
        return x


class _ArrayAttr(Attr):
    """The value of a Constant: a numpy array, never written as an XML attribute."""

    def __init__(self):
        super().__init__("value", "array", None, write=False)

    def coerce(self, value: Any) -> Any:
        return value if isinstance(value, np.ndarray) else np.asarray(value)


@register
class Constant(OpDef):
    """A constant tensor. ``value`` holds it as a numpy array in the storage dtype of its element
    type (``u1`` unpacked as uint8 0/1; ``i4``/``u4`` as ml_dtypes int4/uint4); arrays read from a
    ``.bin`` are read-only views of the memory-mapped file."""

    type_name, version, opset = "Constant", 0, "opset1"
    attrs = (Attr("element_type", "type", None), Attr("shape", "shape", None), _ArrayAttr())
    n_inputs = (0, 0)

    @classmethod
    def check_attrs(cls, attrs, node):
        value = attrs["value"]
        if value is None:
            from arrayrt.errors import OpAttributeError

            raise OpAttributeError(f"{where(node)}: a Constant needs a value")
        t = attrs["element_type"]
        if t is None:
            t = attrs["element_type"] = Type(value.dtype)
        shape = attrs["shape"]
        if shape is None:
            attrs["shape"] = PartialShape(value.shape)
        elif tuple(value.shape) != shape.to_shape():
            value = attrs["value"] = value.reshape(shape.to_shape())
        want = t.to_dtype()
        if value.dtype != want:
            attrs["value"] = value.astype(want)

    @classmethod
    def infer(cls, node):
        return [(node.attrs["element_type"], node.attrs["shape"])]

    @classmethod
    def evaluate(cls, node):
        return [node.attrs["value"]]


def convert_array(xp, x, t: Type):
    """OpenVINO's Convert: floats to integers truncate toward zero, then wrap to the target width;
    anything to boolean is ``x != 0``; ``u1`` keeps 0/1 values."""
    t = Type(t)
    if t is Type.boolean:
        return x != 0
    if t is Type.u1:
        return xp.astype(x != 0, xp.uint8)
    dst = dtype_of(xp, t)
    if t.is_integral_number and getattr(x.dtype, "kind", None) != "b" and _is_float(xp, x.dtype):
        wide = xp.int64 if t.name != "u64" else xp.uint64
        return xp.astype(xp.astype(xp.trunc(x), wide), dst)
    return xp.astype(x, dst)


def _is_float(xp, dtype) -> bool:
    try:
        return bool(xp.isdtype(dtype, "real floating"))
    except (TypeError, ValueError, AttributeError):
        return np.dtype(dtype).kind == "f" or "float" in str(dtype)


@register
class Convert(OpDef):
    type_name, version, opset = "Convert", 0, "opset1"
    attrs = (Attr("destination_type", "type"),)

    @classmethod
    def infer(cls, node):
        return [(node.attrs["destination_type"], node.input_shape(0))]

    @staticmethod
    def compute(xp, x, destination_type):
        return convert_array(xp, x, destination_type)


@register
class ConvertLike(OpDef):
    type_name, version, opset = "ConvertLike", 1, "opset1"
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        return [(node.input_type(1), node.input_shape(0))]

    @staticmethod
    def compute(xp, x, like):
        if x.dtype == like.dtype:
            return x
        from arrayrt.ir.ops._xp import type_of

        return convert_array(xp, x, type_of(xp, like.dtype))


class _ShapeOfBase(OpDef):
    foldable = True

    @classmethod
    def infer(cls, node):
        s = node.input_shape(0)
        out = cls.out_type(node)
        return [(out, PartialShape([len(s)] if s.rank_is_static else [-1]))]

    @classmethod
    def out_type(cls, node) -> Type:
        return Type.i64

    @classmethod
    def evaluate(cls, node):
        s = node.input_shape(0)
        if not s.is_static:
            return None
        return [np.asarray(s.to_shape(), dtype=cls.out_type(node).to_dtype())]

    @classmethod
    def kernel(cls, xp, node):
        t = dtype_of(xp, cls.out_type(node))
        return lambda x: xp.asarray(tuple(x.shape), dtype=t)


@register
class ShapeOf_1(_ShapeOfBase):
    type_name, version, opset = "ShapeOf", 0, "opset1"


@register
class ShapeOf(_ShapeOfBase):
    type_name, version, opset = "ShapeOf", 3, "opset3"
    attrs = (Attr("output_type", "type", Type.i64),)

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["output_type"] not in (Type.i64, Type.i32):
            from arrayrt.errors import OpAttributeError

            raise OpAttributeError(f"{where(node)}: attribute 'output_type' must be i32 or i64, "
                                   f"got {attrs['output_type']}")

    @classmethod
    def out_type(cls, node) -> Type:
        return node.attrs["output_type"]


@register
class Identity(OpDef):
    type_name, version, opset = "Identity", 16, "opset16"
    infer = same_as_input

    @staticmethod
    def compute(xp, x):
        return x


def constant_value(node) -> np.ndarray:
    """The numpy value of a Constant node."""
    if node.type_name != "Constant":
        raise ShapeInferenceError(f"{where(node)} is not a Constant")
    return to_numpy(node.attrs["value"])


# --- factories --------------------------------------------------------------------------------

factory(constant)


@factory
def parameter(shape, dtype=np.float32, name: str | None = None) -> Node:
    pshape = shape if isinstance(shape, PartialShape) else PartialShape(shape)
    return Node(Parameter, [], {"shape": pshape, "element_type": Type(dtype)}, name=name)


@factory
def result(data, name: str | None = None) -> Node:
    return Node(Result, [as_output(data)], name=name)


@factory
def convert(data, destination_type, name: str | None = None) -> Node:
    return make("Convert", [data], {"destination_type": Type(destination_type)}, name)


@factory
def convert_like(data, like, name: str | None = None) -> Node:
    return make("ConvertLike", [data, like], name=name)


@factory
def shape_of(data, output_type="i64", name: str | None = None) -> Node:
    return make("ShapeOf", [data], {"output_type": Type(output_type)}, name)


@factory
def identity(data, name: str | None = None) -> Node:
    return make("Identity", [data], name=name)


# --- state (stateful models) ------------------------------------------------------------------
class _ReadValueBase(OpDef):
    """Reads variable ``variable_id``: its stored value, or (after a reset / at first) the init input
    (zeros of the variable's type and shape when there is none). The executor passes the stored
    value as an extra plan input; this op only chooses."""

    foldable = False

    @staticmethod
    def compute(xp, *inputs):
        *init, state = inputs
        if state is not None:
            return state
        return init[0]


@register
class ReadValue_3(_ReadValueBase):
    type_name, version, opset = "ReadValue", 3, "opset3"
    attrs = (Attr("variable_id", "str"),)
    infer = same_as_input


@register
class ReadValue(_ReadValueBase):
    type_name, version, opset = "ReadValue", 6, "opset6"
    attrs = (Attr("variable_id", "str"), Attr("variable_type", "type", Type.dynamic),
             Attr("variable_shape", "shape", lambda: PartialShape.dynamic()))
    n_inputs = (0, 1)

    @classmethod
    def infer(cls, node):
        t, s = node.attrs["variable_type"], node.attrs["variable_shape"]
        if node.get_input_size():
            t = node.input_type(0) if t.is_dynamic else t
            if not s.rank_is_static:
                s = node.input_shape(0)
        return [(t, s)]


class _AssignBase(OpDef):
    """Stores its input into variable ``variable_id`` (a sink; the executor returns the value)."""

    foldable = False
    infer = same_as_input

    @staticmethod
    def compute(xp, x):
        return x


@register
class Assign_3(_AssignBase):
    type_name, version, opset = "Assign", 3, "opset3"
    attrs = (Attr("variable_id", "str"),)


@register
class Assign(_AssignBase):
    type_name, version, opset = "Assign", 6, "opset6"
    attrs = (Attr("variable_id", "str"),)


@factory
def read_value(init_value=None, variable_id: str = "", variable_type=None, variable_shape=None,
               name: str | None = None) -> Node:
    """``read_value(init, "acc")``, ``read_value(variable_id="acc", variable_type="f32",
    variable_shape=[1, 2])``, or as in OpenVINO ``read_value(init, variable)`` / ``read_value(variable)``
    with an ``arrayrt.op.util.Variable``, whose info gives the id, type and shape."""
    if _is_variable(init_value) and not variable_id:
        init_value, variable_id = None, init_value
    if isinstance(init_value, str) and not variable_id:
        init_value, variable_id = None, init_value
    if _is_variable(variable_id):
        info = variable_id.get_info()
        variable_id = info.variable_id
        if variable_type is None and not Type(info.data_type).is_dynamic():
            variable_type = info.data_type
        if variable_shape is None and PartialShape(info.data_shape).rank_is_static:
            variable_shape = info.data_shape
    attrs = {"variable_id": variable_id}
    if variable_type is not None:
        attrs["variable_type"] = Type(variable_type)
    if variable_shape is not None:
        attrs["variable_shape"] = PartialShape(variable_shape)
    inputs = [] if init_value is None else [init_value]
    return make("ReadValue", inputs, attrs, name)


@factory
def assign(new_value, variable_id: str, name: str | None = None) -> Node:
    """``assign(value, "acc")``, or ``assign(value, variable)`` with an ``arrayrt.op.util.Variable``."""
    if _is_variable(variable_id):
        variable_id = variable_id.get_info().variable_id
    return make("Assign", [new_value], {"variable_id": variable_id}, name)


def _is_variable(v: object) -> bool:
    return hasattr(v, "get_info") and hasattr(v.get_info(), "variable_id")
