"""The model as data: nodes, their input and output ports, and the model that owns them.

A :class:`Node` is an op (an :class:`~arrayrt.ir.ops.base.OpDef` subclass) applied to the outputs of
other nodes, with attribute values. Its outputs carry an element type, a partial shape, a set of tensor
names and ``rt_info``. Edges are held on the consumer side only (each node knows its sources); the
:class:`Model` derives consumers and topological order when asked.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError, ShapeInferenceError, where

if TYPE_CHECKING:
    import numpy as np
    from arrayrt.ir.ops.base import OpDef

_ids = itertools.count(1)
_UNSET = object()


class _PortInfo:
    """What a node's output port carries."""

    __slots__ = ("element_type", "shape", "names", "rt_info", "value")

    def __init__(self):
        self.element_type: Type = Type.dynamic
        self.shape: PartialShape = PartialShape.dynamic()
        self.names: set[str] = set()
        self.rt_info: dict[str, Any] = {}
        self.value: Any = _UNSET  # memo of the statically known value (numpy array or None)


class Output:
    """A handle on output port ``index`` of ``node`` (OpenVINO's ``Output``/``ConstOutput``)."""

    __slots__ = ("node", "index")

    def __init__(self, node: "Node", index: int):
        self.node = node
        self.index = index

    @property
    def _info(self) -> _PortInfo:
        return self.node._outputs[self.index]

    def get_node(self) -> "Node":
        return self.node

    def get_index(self) -> int:
        return self.index

    def get_element_type(self) -> Type:
        return self._info.element_type

    @property
    def element_type(self) -> Type:
        return self._info.element_type

    def get_partial_shape(self) -> PartialShape:
        return self._info.shape

    @property
    def partial_shape(self) -> PartialShape:
        return self._info.shape

    def get_shape(self) -> tuple[int, ...]:
        return self._info.shape.to_shape()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.get_shape()

    def get_names(self) -> set[str]:
        if self.node.type_name == "Result":
            return self.node.input_value(0).get_names()
        return set(self._info.names)

    @property
    def names(self) -> set[str]:
        return self.get_names()

    def get_any_name(self) -> str:
        names = self.get_names()
        if not names:
            raise ArrayrtError(f"output {self.index} of {where(self.node)} has no tensor name")
        return min(names)

    @property
    def any_name(self) -> str:
        return self.get_any_name()

    def set_names(self, names: Iterable[str]) -> None:
        target = self.node.input_value(0) if self.node.type_name == "Result" else self
        target._info.names = set(names)

    def add_names(self, names: Iterable[str]) -> None:
        target = self.node.input_value(0) if self.node.type_name == "Result" else self
        target._info.names |= set(names)

    @property
    def rt_info(self) -> dict[str, Any]:
        return self._info.rt_info

    def get_rt_info(self) -> dict[str, Any]:
        return self._info.rt_info

    def __eq__(self, other) -> bool:
        return isinstance(other, Output) and other.node is self.node and other.index == self.index

    def __hash__(self) -> int:
        return hash((id(self.node), self.index))

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.get_names()))
        return (f"<Output: names[{names}] shape{self.get_partial_shape()} "
                f"type: {self.get_element_type()}>")


class TypeInfo(NamedTuple):
    name: str
    version_id: str


class Input:
    """A handle on input port ``index`` of ``node``."""

    __slots__ = ("node", "index")

    def __init__(self, node: "Node", index: int):
        self.node = node
        self.index = index

    def get_node(self) -> "Node":
        return self.node

    def get_index(self) -> int:
        return self.index

    def get_source_output(self) -> Output:
        return self.node.input_value(self.index)

    def get_element_type(self) -> Type:
        return self.get_source_output().get_element_type()

    def get_partial_shape(self) -> PartialShape:
        return self.get_source_output().get_partial_shape()

    def get_shape(self) -> tuple[int, ...]:
        return self.get_source_output().get_shape()

    def replace_source_output(self, new: Output) -> None:
        self.node._inputs[self.index] = new

    def __eq__(self, other) -> bool:
        return isinstance(other, Input) and other.node is self.node and other.index == self.index

    def __hash__(self) -> int:
        return hash((id(self.node), self.index, "in"))

    def __repr__(self) -> str:
        return f"<Input: {self.index} of {self.node.friendly_name}>"


class Node:
    """One op instance. ``op`` is the op definition class; ``attrs`` maps attribute names to parsed
    Python values (ints, floats, lists, :class:`Type`, :class:`PartialShape`...)."""

    __slots__ = ("op", "attrs", "_inputs", "_outputs", "_friendly_name", "rt_info", "ir_id",
                 "uid", "bodies", "__weakref__")

    def __init__(self, op: type["OpDef"], inputs: Sequence[Output], attrs: dict[str, Any] | None = None,
                 name: str | None = None, num_outputs: int | None = None, validate: bool = True,
                 ir_id: int | None = None, bodies: Sequence[Any] = ()):
        self.op = op
        self.uid = next(_ids)
        self._friendly_name = name
        self.ir_id = ir_id
        self.rt_info: dict[str, Any] = {}
        self.bodies: list[Any] = list(bodies)  # sub-models of If/Loop/TensorIterator
        self._inputs: list[Output] = list(inputs)
        self._outputs: list[_PortInfo] = []
        self.attrs: dict[str, Any] = op.complete_attrs(dict(attrs or {}), self)
        n_out = op.num_outputs(self) if num_outputs is None else num_outputs
        self._outputs = [_PortInfo() for _ in range(n_out)]
        op.check_arity(self)
        if validate:
            self.validate_and_infer_types()

    # --- identity -----------------------------------------------------------------------------
    @property
    def type_name(self) -> str:
        return self.op.type_name

    def get_type_name(self) -> str:
        return self.op.type_name

    @property
    def version(self) -> str:
        return self.op.opset

    @property
    def friendly_name(self) -> str:
        return self._friendly_name or f"{self.op.type_name}_{self.uid}"

    @friendly_name.setter
    def friendly_name(self, value: str) -> None:
        self._friendly_name = value

    def get_friendly_name(self) -> str:
        return self.friendly_name

    def set_friendly_name(self, name: str) -> None:
        self._friendly_name = name

    def get_name(self) -> str:
        return f"{self.op.type_name}_{self.uid}"

    def get_type_info(self) -> "TypeInfo":
        """OpenVINO's DiscreteTypeInfo: the op's ``name`` and its ``version_id`` (the opset, "opset1")."""
        return TypeInfo(self.op.type_name, self.op.opset)

    def get_attributes(self) -> dict[str, Any]:
        return dict(self.attrs)

    def get_rt_info(self) -> dict[str, Any]:
        return self.rt_info

    # --- layout (Parameter and Result, as OpenVINO's) -----------------------------------------
    def set_layout(self, layout: Any) -> None:
        """Record what each dimension means (``rt_info["layout"]``, as IR stores it)."""
        from arrayrt.ir.layout import Layout

        if self.type_name not in ("Parameter", "Result"):
            raise ArrayrtError(f"{self.type_name} '{self.friendly_name}' has no layout: only Parameter and Result do")
        self.rt_info["layout"] = {"version": "0", "layout": str(Layout(layout))}

    def get_layout(self) -> Any:
        """The layout set on a Parameter or Result (an empty one when none is)."""
        from arrayrt.ir.layout import Layout

        value = self.rt_info.get("layout")
        if isinstance(value, dict):
            value = value.get("layout")
        return Layout(str(value) if value else "")

    @property
    def layout(self) -> Any:
        return self.get_layout()

    @layout.setter
    def layout(self, value: Any) -> None:
        self.set_layout(value)

    # --- ports --------------------------------------------------------------------------------
    def get_input_size(self) -> int:
        return len(self._inputs)

    def get_output_size(self) -> int:
        return len(self._outputs)

    def input(self, i: int) -> Input:
        return Input(self, i)

    def inputs(self) -> list[Input]:
        return [Input(self, i) for i in range(len(self._inputs))]

    def input_value(self, i: int) -> Output:
        return self._inputs[i]

    def input_values(self) -> list[Output]:
        return list(self._inputs)

    def output(self, i: int) -> Output:
        if not 0 <= i < len(self._outputs):
            raise ArrayrtError(f"{where(self)} has no output {i} (it has {len(self._outputs)})")
        return Output(self, i)

    def outputs(self) -> list[Output]:
        return [Output(self, i) for i in range(len(self._outputs))]

    def set_argument(self, i: int, value: Output) -> None:
        self._inputs[i] = value

    # OpenVINO's per-port accessors
    def get_input_partial_shape(self, i: int) -> PartialShape:
        return self.input(i).get_partial_shape()

    def get_input_shape(self, i: int) -> tuple[int, ...]:
        return self.input(i).get_shape()

    def get_input_element_type(self, i: int) -> Type:
        return self.input(i).get_element_type()

    def get_output_partial_shape(self, i: int) -> PartialShape:
        return self.output(i).get_partial_shape()

    def get_output_shape(self, i: int) -> tuple[int, ...]:
        return self.output(i).get_shape()

    def get_output_element_type(self, i: int) -> Type:
        return self.output(i).get_element_type()

    def _only_output(self, what: str) -> Output:
        if len(self._outputs) != 1:
            raise ArrayrtError(f"{where(self)} has {len(self._outputs)} outputs: use get_output_{what}(i)")
        return self.output(0)

    def get_element_type(self) -> Type:
        """The type of the only output (OpenVINO's single-output shortcut)."""
        return self._only_output("element_type").get_element_type()

    def get_partial_shape(self) -> PartialShape:
        return self._only_output("partial_shape").get_partial_shape()

    def get_shape(self) -> tuple[int, ...]:
        return self._only_output("shape").get_shape()

    def set_partial_shape(self, shape: Any) -> None:
        """A Parameter's new shape; as in OpenVINO, ``model.validate_nodes_and_infer_types()`` then
        carries it through the graph."""
        self._parameter_only("set_partial_shape")
        self.attrs["shape"] = PartialShape(shape)
        self.validate_and_infer_types()

    def set_element_type(self, element_type: Any) -> None:
        self._parameter_only("set_element_type")
        self.attrs["element_type"] = Type(element_type)
        self.validate_and_infer_types()

    def _parameter_only(self, what: str) -> None:
        if self.type_name != "Parameter":
            raise ArrayrtError(f"{where(self)}: {what} applies to a Parameter only")

    # input facts, for infer() ----------------------------------------------------------------
    def input_type(self, i: int) -> Type:
        return self._inputs[i].get_element_type()

    def input_shape(self, i: int) -> PartialShape:
        return self._inputs[i].get_partial_shape()

    def input_const(self, i: int) -> "np.ndarray | None":
        """The value of input ``i`` if it can be known before inference (a Constant, or ops over
        constants and static shapes), else None. Memoised on the producing port."""
        return self._inputs[i].node.static_value(self._inputs[i].index)

    def static_value(self, index: int) -> "np.ndarray | None":
        info = self._outputs[index]
        if info.value is _UNSET:
            info.value = None  # guards cycles
            values = self.op.evaluate(self)
            if values is not None:
                for port, v in zip(self._outputs, values):
                    port.value = v
            else:
                for port in self._outputs:
                    port.value = None
        return info.value

    def clear_static_values(self) -> None:
        for port in self._outputs:
            port.value = _UNSET

    def set_output_type(self, i: int, element_type: Type, shape: PartialShape) -> None:
        port = self._outputs[i]
        port.element_type = Type(element_type)
        port.shape = PartialShape(shape)

    def validate_and_infer_types(self) -> None:
        """Run the op's type and shape inference and store the result on the output ports."""
        self.clear_static_values()
        try:
            results = self.op.infer(self)
        except ArrayrtError as exc:
            if isinstance(exc, ShapeInferenceError) and where(self) in str(exc):
                raise
            raise ShapeInferenceError(f"{where(self)}: {exc}") from exc
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) as exc:
            raise ShapeInferenceError(f"{where(self)}: shape inference failed: {exc}") from exc
        if len(results) != len(self._outputs):
            self._outputs = self._outputs[: len(results)] + [
                _PortInfo() for _ in range(len(results) - len(self._outputs))]
        for port, (t, s) in zip(self._outputs, results):
            port.element_type = Type(t)
            port.shape = s if isinstance(s, PartialShape) else PartialShape(s)

    def __repr__(self) -> str:
        outs = ", ".join(f"{p.element_type}{p.shape}" for p in self._outputs)
        return f"<{self.op.type_name}: '{self.friendly_name}' ({outs})>"


def as_output(x: "Node | Output") -> Output:
    if isinstance(x, Output):
        return x
    if isinstance(x, Node):
        if len(x._outputs) != 1:
            raise ArrayrtError(f"{where(x)} has {len(x._outputs)} outputs; pass node.output(i)")
        return Output(x, 0)
    raise ArrayrtError(f"expected a Node or Output, got {type(x).__name__}")


def topological_order(roots: Iterable[Node], first: Sequence[Node] = ()) -> list[Node]:
    """Nodes reachable from ``roots`` (following inputs), producers before consumers. Nodes in
    ``first`` come first, in their order (Parameters)."""
    order: list[Node] = []
    seen: set[int] = set()
    for n in first:
        if n.uid not in seen:
            seen.add(n.uid)
            order.append(n)
    for root in roots:
        if root.uid in seen:
            continue
        stack = [(root, 0)]
        seen.add(root.uid)
        while stack:
            node, i = stack[-1]
            extra = node.op.extra_dependencies(node)
            deps = node._inputs
            total = len(deps) + len(extra)
            if i < total:
                stack[-1] = (node, i + 1)
                src = deps[i].node if i < len(deps) else extra[i - len(deps)]
                if src.uid not in seen:
                    seen.add(src.uid)
                    stack.append((src, 0))
            else:
                stack.pop()
                order.append(node)
    return order


#: ``rt_info`` key HETERO sets on a subgraph Parameter whose value is computed from shapes and
#: constants alone in the whole model (a shape vector cut from its ShapeOf): a backend that compiles
#: static shapes may take its value as known while compiling, as it would have been in one piece
SHAPE_ONLY = "arrayrt_shape_only"


def is_shape_only(port: Output, memo: dict[tuple[int, int], bool] | None = None) -> bool:
    """True when ``port``'s value follows from constants and shapes alone: ShapeOf, Constants and
    what foldable ops compute from them (and Parameters marked :data:`SHAPE_ONLY`), so it is
    concrete wherever the shapes are. ``memo`` caches answers across calls on one model."""
    memo = {} if memo is None else memo
    stack = [port]
    while stack:
        out = stack[-1]
        key = (out.node.uid, out.index)
        if key in memo:
            stack.pop()
            continue
        node = out.node
        t = node.type_name
        if t in ("ShapeOf", "Constant"):
            memo[key] = True
        elif t == "Parameter":
            memo[key] = bool(node.rt_info.get(SHAPE_ONLY))
        elif t in ("ReadValue", "Assign") or not node.op.foldable:
            memo[key] = False
        else:
            pending = [s for s in node.input_values() if (s.node.uid, s.index) not in memo]
            if pending:
                stack.extend(pending)
                continue
            memo[key] = all(memo[(s.node.uid, s.index)] for s in node.input_values())
        stack.pop()
    return memo[(port.node.uid, port.index)]
