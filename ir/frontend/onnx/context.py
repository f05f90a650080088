"""Conversion state: :class:`GraphContext` (one ONNX graph or function body being converted) and
:class:`NodeContext` (what a translator sees of one ONNX node)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from arrayrt.ir.frontend.onnx import registry
from arrayrt.ir.frontend.onnx.types import onnx_type, tensor_to_numpy, to_onnx_type
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.factory import constant as make_constant
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type
from onnx import AttributeProto, helper

from arrayrt.errors import ArrayrtError, ModelReadError, UnsupportedOpError

_REQUIRED = object()


@dataclass
class ConversionReport:
    """What a conversion did: ONNX op histogram in, IR op histogram out, unsupported ops, time."""

    ops_in: Counter = field(default_factory=Counter)
    ops_out: Counter = field(default_factory=Counter)
    unsupported: list[tuple[str, str, str, int]] = field(default_factory=list)  # op, node, domain, opset
    seconds: float = 0.0
    opsets: dict[str, int] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"conversion took {self.seconds:.3f} s; opsets {self.opsets}"]
        lines.append(f"ONNX ops in ({sum(self.ops_in.values())}):")
        lines += [f"  {n:6d}  {op}" for op, n in self.ops_in.most_common()]
        lines.append(f"IR ops out ({sum(self.ops_out.values())}):")
        lines += [f"  {n:6d}  {op}" for op, n in self.ops_out.most_common()]
        if self.unsupported:
            lines.append("unsupported:")
            lines += [f"  {op} (domain '{d}', opset {v}) at node '{name}'" for op, name, d, v in self.unsupported]
        return "\n".join(lines)


def shape_of_value_info(vi: onnx.ValueInfoProto) -> tuple[Type, PartialShape]:
    """Element type and partial shape declared by a graph input/output."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type"):
        raise UnsupportedOpError(f"graph value '{vi.name}' is not a tensor ({vi.type.WhichOneof('value')})")
    t = onnx_type(tt.elem_type, f"graph value '{vi.name}': ") if tt.elem_type else Type.dynamic
    if not tt.HasField("shape"):
        return t, PartialShape.dynamic()
    dims = [Dimension(d.dim_value) if d.HasField("dim_value") else Dimension() for d in tt.shape.dim]
    return t, PartialShape(dims)


class Converter:
    """Model-wide state: local functions, external-data folder, report, schema lookups."""

    def __init__(self, proto: onnx.ModelProto, base_dir: str = "", report: ConversionReport | None = None):
        self.proto = proto
        self.base_dir = base_dir
        self.report = report if report is not None else ConversionReport()
        self.functions = {(f.domain, f.name): f for f in proto.functions}

    def function_for(self, node: onnx.NodeProto, version: int, inputs: Sequence[Output | None]) \
            -> onnx.FunctionProto | None:
        """The body of ``node``'s op when it is a model-local function or an ONNX function op."""
        local = self.functions.get((node.domain, node.op_type))
        if local is not None:
            return local
        try:
            schema = onnx.defs.get_schema(node.op_type, version, node.domain)
        except onnx.defs.SchemaError:
            return None
        if schema.has_function and schema.function_body is not None and schema.function_body.node:
            return schema.function_body
        if schema.has_context_dependent_function:
            types = [_type_proto(o).SerializeToString() if o is not None else b"" for o in inputs]
            try:
                raw = schema.get_context_dependent_function(node.SerializeToString(), types)
            except Exception:  # noqa: BLE001 - the schema could not build a body for these inputs
                return None
            fn = onnx.FunctionProto()
            fn.ParseFromString(raw)
            return fn if fn.node else None
        return None

    def has_function(self, node: onnx.NodeProto, version: int) -> bool:
        if (node.domain, node.op_type) in self.functions:
            return True
        try:
            schema = onnx.defs.get_schema(node.op_type, version, node.domain)
        except onnx.defs.SchemaError:
            return False
        return bool(schema.has_function or schema.has_context_dependent_function)


def _type_proto(out: Output) -> onnx.TypeProto:
    ps = out.get_partial_shape()
    shape = None if not ps.rank_is_static else [d.min if d.is_static else None for d in ps]
    return helper.make_tensor_type_proto(to_onnx_type(out.get_element_type()), shape)


class GraphContext:
    """Converts the nodes of one ONNX graph, function body or subgraph body.

    ``values`` maps ONNX value names to IR outputs. A subgraph body (``parent`` set, ``capture``
    true) turns every outer-scope name it reads into a Parameter of its own and records the pair in
    ``captures``; an inlined function body (``capture`` false) sees only its own names.
    """

    def __init__(self, converter: Converter, opsets: dict[str, int], parent: "GraphContext | None" = None,
                 capture: bool = True, name_tensors: bool = True):
        self.converter = converter
        self.opsets = opsets
        self.parent = parent
        self.capture = capture
        self.name_tensors = name_tensors
        self.values: dict[str, Output | None] = {}
        self.captures: list[tuple[Output, Node]] = []

    def opset(self, domain: str) -> int:
        key = "" if domain in registry.ONNX_DOMAINS else domain
        if key in self.opsets:
            return self.opsets[key]
        if key == "" and "ai.onnx" in self.opsets:
            return self.opsets["ai.onnx"]
        raise ModelReadError(f"the model uses domain '{domain}' without importing an opset for it")

    def lookup(self, name: str) -> Output | None:
        if name == "":
            return None
        if name in self.values:
            return self.values[name]
        if self.parent is not None and self.capture:
            outer = self.parent.lookup(name)
            if outer is None:
                return None
            p = Node(get_op("Parameter"), [], {"shape": outer.get_partial_shape(),
                                               "element_type": outer.get_element_type()}, name=name)
            from arrayrt.ir.ops.sequence import set_value_kind, value_kind

            set_value_kind(p.output(0), value_kind(outer))
            self.values[name] = p.output(0)
            self.captures.append((outer, p))
            return p.output(0)
        raise ModelReadError(f"value '{name}' is used before any node produces it")

    def bind(self, name: str, out: Output | None) -> None:
        if not name:
            return
        self.values[name] = out
        if out is not None and self.name_tensors:
            out.add_names({name})

    def convert_nodes(self, nodes: Sequence[onnx.NodeProto]) -> None:
        for node in nodes:
            self.convert_node(node)

    def convert_node(self, proto: onnx.NodeProto) -> None:
        version = self.opset(proto.domain)
        report = self.converter.report
        report.ops_in[proto.op_type if not proto.domain else f"{proto.domain}.{proto.op_type}"] += 1
        fn = registry.find(proto.op_type, proto.domain, version)
        try:
            inputs = [self.lookup(n) for n in proto.input]
            nc = NodeContext(self, proto, version, inputs)
            if fn is not None:
                outs = fn(nc)
            else:
                body = self.converter.function_for(proto, version, inputs)
                if body is None:
                    raise UnsupportedOpError(
                        f"ONNX node '{proto.name}': op {proto.op_type} (domain '{proto.domain}', opset "
                        f"{version}) is not supported")
                outs = expand_function(self, nc, body)
        except ArrayrtError as exc:
            if proto.name and f"'{proto.name}'" in str(exc):
                raise
            raise type(exc)(f"ONNX node '{proto.name}' ({proto.op_type}, opset {version}): {exc}") from exc
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError, AttributeError) as exc:
            # malformed attributes or inputs (a zero size, a required input left empty...)
            raise ModelReadError(f"ONNX node '{proto.name}' ({proto.op_type}, opset {version}): cannot convert "
                                 f"it: {type(exc).__name__}: {exc}") from exc
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        outs = [o.output(0) if isinstance(o, Node) else o for o in outs]
        nc.finish(outs)
        for name, out in zip(proto.output, outs):
            self.bind(name, out)
        for name in proto.output[len(outs):]:
            if name:
                raise UnsupportedOpError(f"ONNX node '{proto.name}' ({proto.op_type}): output '{name}' "
                                         "is not produced by arrayrt's translator")


def expand_function(ctx: GraphContext, nc: "NodeContext", body: onnx.FunctionProto) -> list[Output | None]:
    """Inline a function body (model-local function or an ONNX function op) at node ``nc``."""
    opsets = dict(ctx.opsets)
    for imp in body.opset_import:
        opsets["" if imp.domain in registry.ONNX_DOMAINS else imp.domain] = imp.version
    child = GraphContext(ctx.converter, opsets, parent=None, capture=False, name_tensors=False)
    for formal, actual in zip(body.input, nc.inputs):
        child.values[formal] = actual
    for formal in body.input[len(nc.inputs):]:
        child.values[formal] = None
    attrs = {a.name: a for a in nc.proto.attribute}
    defaults = _schema_defaults(nc.proto, nc.version)
    defaults.update({a.name: a for a in body.attribute_proto})
    for node in body.node:
        child.convert_node(_substitute_attrs(node, attrs, defaults))
    return [child.values.get(o) for o in body.output]


def _schema_defaults(node: onnx.NodeProto, version: int) -> dict[str, AttributeProto]:
    """The default values the op's ONNX schema declares (a function body may refer to them)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, version, node.domain)
    except onnx.defs.SchemaError:
        return {}
    out = {}
    for name, a in schema.attributes.items():
        if a.default_value is not None and a.default_value.type != AttributeProto.UNDEFINED:
            out[name] = a.default_value
    return out


def _substitute_attrs(node: onnx.NodeProto, attrs: dict, defaults: dict) -> onnx.NodeProto:
    if not any(a.ref_attr_name for a in node.attribute):
        return node
    new = onnx.NodeProto()
    new.CopyFrom(node)
    del new.attribute[:]
    for a in node.attribute:
        if not a.ref_attr_name:
            new.attribute.append(a)
            continue
        src = attrs.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
        if src is None:
            continue
        b = AttributeProto()
        b.CopyFrom(src)
        b.name = a.name
        new.attribute.append(b)
    return new


class NodeContext:
    """One ONNX node as a translator sees it."""

    def __init__(self, graph: GraphContext, proto: onnx.NodeProto, version: int, inputs: list[Output | None]):
        self.graph = graph
        self.proto = proto
        self.version = version
        self.inputs = inputs
        self._attrs = {a.name: a for a in proto.attribute}
        self._made: list[Node] = []

    # --- identity ---------------------------------------------------------------------------
    @property
    def op_type(self) -> str:
        return self.proto.op_type

    @property
    def name(self) -> str:
        return self.proto.name or (self.proto.output[0] if self.proto.output else self.proto.op_type)

    @property
    def num_outputs(self) -> int:
        return len(self.proto.output)

    def output_used(self, i: int) -> bool:
        return i < len(self.proto.output) and bool(self.proto.output[i])

    # --- inputs -------------------------------------------------------------------------------
    def input(self, i: int) -> Output | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def has_input(self, i: int) -> bool:
        return self.input(i) is not None

    def require(self, i: int) -> Output:
        out = self.input(i)
        if out is None:
            raise ModelReadError(f"input {i} is required")
        return out

    def const_value(self, i: int) -> np.ndarray | None:
        """The value of input ``i`` if it is known at conversion time (a constant sub-graph)."""
        out = self.input(i)
        return None if out is None else out.node.static_value(out.index)

    # --- attributes ---------------------------------------------------------------------------
    def has_attr(self, name: str) -> bool:
        return name in self._attrs

    def attr(self, name: str, default: Any = _REQUIRED) -> Any:
        a = self._attrs.get(name)
        if a is None:
            if default is _REQUIRED:
                raise ModelReadError(f"required attribute '{name}' is missing")
            return default
        t = a.type
        if t == AttributeProto.INT:
            return int(a.i)
        if t == AttributeProto.FLOAT:
            return float(a.f)
        if t == AttributeProto.STRING:
            return a.s.decode("utf-8")
        if t == AttributeProto.INTS:
            return [int(v) for v in a.ints]
        if t == AttributeProto.FLOATS:
            return [float(v) for v in a.floats]
        if t == AttributeProto.STRINGS:
            return [s.decode("utf-8") for s in a.strings]
        if t == AttributeProto.TENSOR:
            return tensor_to_numpy(a.t, self.graph.converter.base_dir)
        if t == AttributeProto.GRAPH:
            return a.g
        if t == AttributeProto.GRAPHS:
            return list(a.graphs)
        if t == AttributeProto.TYPE_PROTO:
            return a.tp
        if t == AttributeProto.SPARSE_TENSOR:
            from onnx import numpy_helper

            return numpy_helper.to_array(a.sparse_tensor)
        return helper.get_attribute_value(a)

    # --- building -----------------------------------------------------------------------------
    def make(self, op_type: str, inputs: Sequence[Any], attrs: dict[str, Any] | None = None,
             version: "int | str | None" = None, name: str | None = None, bodies: Sequence[Any] = ()) -> Node:
        """An IR node over ``inputs`` (Outputs, Nodes, arrays or scalars), with sub-graph ``bodies``."""
        from arrayrt.ir.ops.factory import as_output

        op = get_op(op_type, version)
        node = Node(op, [as_output(i) for i in inputs], attrs or {}, name=name, bodies=bodies)
        self._made.append(node)
        return node

    def const(self, value: Any, dtype: Any = None) -> Output:
        node = make_constant(value, dtype)
        self._made.append(node)
        return node.output(0)

    def finish(self, outs: Sequence[Output | None]) -> None:
        """Name the nodes this translation made: the ONNX node's name on the node producing its
        (first) output, ``name/Type_k`` on the others; and count them in the report."""
        report = self.graph.converter.report
        producers = {id(o.node) for o in outs if o is not None}
        base = self.name
        for k, node in enumerate(self._made):
            report.ops_out[node.type_name] += 1
            if node._friendly_name is None:
                node.set_friendly_name(base if id(node) in producers and len(producers) == 1
                                       else f"{base}/{node.type_name}_{k}")
