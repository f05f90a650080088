"""ONNX -> arrayrt IR: the model optimizer's frontend.

    model = convert_onnx("model.onnx", input={"data": [1, 3, 224, 224]}, output=["logits"])

Each ONNX op maps to one or more IR ops through a translator (``ops/<family>.py``, registered with
:func:`~arrayrt.ir.frontend.onnx.registry.translator`); an op without a translator whose ONNX schema
(or the model) defines it as a function is expanded from its function body. ``If``/``Loop``/``Scan``
bodies become IR sub-graphs.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from arrayrt.ir.frontend.onnx import ops as _ops  # noqa: F401 - registers every translator family
from arrayrt.ir.frontend.onnx import registry
from arrayrt.ir.frontend.onnx.context import (
    ConversionReport,
    Converter,
    GraphContext,
    NodeContext,
    shape_of_value_info,
)
from arrayrt.ir.frontend.onnx.ops.control import value_info_type
from arrayrt.ir.frontend.onnx.types import tensor_to_numpy
from arrayrt.ir.graph import Node
from arrayrt.ir.model import Model
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.sequence import set_value_kind
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError, ModelReadError, UnsupportedOpError

#: the newest default-domain opset this frontend accepts (the installed onnx's newest)
MAX_OPSET = onnx.defs.onnx_opset_version()
ML_DOMAIN = onnx.defs.ONNX_ML_DOMAIN
#: the newest ``ai.onnx.ml`` opset this frontend accepts
MAX_ML_OPSET = onnx.defs.onnx_ml_opset_version()

__all__ = ["ConversionReport", "MAX_ML_OPSET", "MAX_OPSET", "NodeContext", "convert_onnx", "load_onnx"]


def load_onnx(model: Any) -> tuple[onnx.ModelProto, str]:
    """A ``ModelProto`` and the folder its external data lives in, from a path, bytes or a proto."""
    if isinstance(model, onnx.ModelProto):
        return model, ""
    if isinstance(model, (bytes, bytearray)):
        try:
            proto = onnx.load_from_string(bytes(model))
        except Exception as exc:  # noqa: BLE001 - protobuf raises several types
            raise ModelReadError(f"<bytes>: not an ONNX model: {exc}") from None
        return proto, ""
    path = Path(os.fspath(model))
    if not path.exists():
        raise ModelReadError(f"model file '{path}' does not exist")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelReadError(f"'{path}': not an ONNX model (truncated or another format): {exc}") from None
    if not proto.graph.node and not proto.graph.output:
        raise ModelReadError(f"'{path}': not an ONNX model (no graph)")
    _check_external_data(proto, path.parent)
    return proto, str(path.parent)


def _check_external_data(proto: onnx.ModelProto, base: Path) -> None:
    for t in _all_tensors(proto.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in t.external_data}
            f = base / info.get("location", "")
            if not f.is_file():
                raise ModelReadError(f"initializer '{t.name}': external data file '{f}' is missing")
            need = int(info.get("offset", 0)) + int(info.get("length", 0))
            if need and f.stat().st_size < need:
                raise ModelReadError(f"initializer '{t.name}': external data file '{f}' is shorter "
                                     f"({f.stat().st_size} bytes) than offset+length ({need})")


def _all_tensors(graph: onnx.GraphProto):
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield a.t
            elif a.type == onnx.AttributeProto.GRAPH:
                yield from _all_tensors(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _all_tensors(g)


def _opsets(proto: onnx.ModelProto) -> dict[str, int]:
    out = {}
    for imp in proto.opset_import:
        out["" if imp.domain in registry.ONNX_DOMAINS else imp.domain] = imp.version
    if "" not in out:
        out[""] = 1
    return out


def convert_onnx(model: Any, input: Any = None, output: Any = None,  # noqa: A002 - OpenVINO's name
                 report: ConversionReport | None = None) -> Model:
    """Convert an ONNX model (path, bytes or ``ModelProto``) to an arrayrt :class:`Model`.

    ``input``: names to keep or make inputs, each optionally with a shape and/or type — a name, a
    list of names, ``{name: shape}``, ``{name: (shape, type)}`` or ``[(name, shape, type)]``. A name
    that is an internal tensor becomes a new input: everything computing it is cut off.
    ``output``: names of the tensors to return (graph outputs or internal tensors); default the
    graph's outputs.
    """
    start = time.perf_counter()
    proto, base_dir = load_onnx(model)
    opsets = _opsets(proto)
    if opsets[""] > MAX_OPSET:
        raise UnsupportedOpError(f"the model imports ONNX opset {opsets['']}, newer than the newest "
                                 f"supported ({MAX_OPSET})")
    if opsets.get(ML_DOMAIN, 0) > MAX_ML_OPSET:
        raise UnsupportedOpError(f"the model imports opset {opsets[ML_DOMAIN]} of domain '{ML_DOMAIN}', newer "
                                 f"than the newest supported ({MAX_ML_OPSET})")
    report = report if report is not None else ConversionReport()
    report.opsets = dict(opsets)
    conv = Converter(proto, base_dir, report)
    graph = proto.graph
    ctx = GraphContext(conv, opsets)

    initializers = {t.name for t in graph.initializer}
    specs = _input_specs(input, [vi.name for vi in graph.input if vi.name not in initializers])
    wanted = _output_names(output, graph)
    produced = {o for n in graph.node for o in n.output if o}
    graph_inputs = {vi.name: vi for vi in graph.input}
    for name in specs:
        if name not in produced and name not in graph_inputs:
            raise ModelReadError(f"--input names '{name}', which is neither a graph input nor a tensor "
                                 f"the graph computes")
    for name in wanted:
        if name not in produced and name not in graph_inputs and name not in initializers:
            raise ModelReadError(f"--output names '{name}', which is not a tensor of this graph")

    nodes = _needed_nodes(graph, wanted, set(specs))
    _check_supported(conv, ctx, nodes, report)

    params: list[Node] = []
    param_op = get_op("Parameter")
    cut_inputs = {n for n in specs if n in produced}
    for vi in graph.input:
        if vi.name in initializers and vi.name not in specs:
            continue
        if specs and vi.name not in specs:
            if not _used(vi.name, nodes, wanted):
                continue
            if cut_inputs:  # with a cut, --input lists every input (the model optimizer's rule)
                raise ModelReadError(
                    f"output(s) {wanted} cannot be computed from the inputs {list(specs)}: they need graph "
                    f"input '{vi.name}', which the cut at {sorted(cut_inputs)} leaves unreachable "
                    f"(list it in --input too, or cut below it)")
        t, shape, kind = value_info_type(vi)
        param = _parameter(param_op, vi.name, t, shape, specs.get(vi.name))
        set_value_kind(param.output(0), kind)
        params.append(param)
    for name in specs:
        if name in cut_inputs:
            t, s = _tensor_info(graph, name)
            params.append(_parameter(param_op, name, t, s, specs[name]))
    for p in params:
        ctx.bind(p.friendly_name, p.output(0))
    for t in graph.initializer:
        if t.name not in ctx.values:
            c = initializer_constant(conv, t)
            ctx.bind(t.name, c.output(0))

    ctx.convert_nodes(nodes)
    result_op = get_op("Result")
    results = []
    for name in wanted:
        out = ctx.values.get(name)
        if out is None:
            raise ModelReadError(f"output '{name}' cannot be computed: the cut at "
                                 f"{sorted(cut_inputs) or 'the inputs'} leaves it unreachable")
        r = Node(result_op, [out], name=f"{name}/sink_port_0")
        results.append(r)
    result = Model(results, params, graph.name or "onnx_model")
    report.seconds = time.perf_counter() - start
    return result


def initializer_constant(conv: Converter, tensor: onnx.TensorProto) -> Node:
    from arrayrt.ir.frontend.onnx.types import onnx_type
    from arrayrt.ir.ops.factory import constant

    try:
        value = tensor_to_numpy(tensor, conv.base_dir)
    except (OSError, ValueError) as exc:
        raise ModelReadError(f"initializer '{tensor.name}': cannot read its data: {exc}") from None
    return constant(value, onnx_type(tensor.data_type, f"initializer '{tensor.name}': "), name=tensor.name)


def _parameter(op, name: str, t: Type, shape: PartialShape, spec: tuple | None) -> Node:
    if spec is not None:
        s, ty = spec
        if s is not None:
            shape = s
        if ty is not None:
            t = ty
    if t.is_dynamic:
        raise ModelReadError(f"input '{name}' has no element type; give one with --input")
    p = Node(op, [], {"shape": shape, "element_type": t}, name=name)
    p.output(0).set_names({name})
    return p


def _tensor_info(graph: onnx.GraphProto, name: str) -> tuple[Type, PartialShape]:
    for vi in list(graph.value_info) + list(graph.output):
        if vi.name == name:
            return shape_of_value_info(vi)
    inferred = onnx.shape_inference.infer_shapes(onnx.helper.make_model(graph), strict_mode=False)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.name == name:
            return shape_of_value_info(vi)
    return Type.dynamic, PartialShape.dynamic()


def _is_shape(v: Any) -> bool:
    """A shape given as a value: a PartialShape, or a list/tuple of ints, Dimensions and None."""
    if isinstance(v, PartialShape):
        return True
    return isinstance(v, (list, tuple)) and all(
        d is None or (isinstance(d, (int, np.integer, Dimension)) and not isinstance(d, bool)) for d in v)


def _input_specs(spec: Any, order: Sequence[str] = ()) -> dict[str, tuple[PartialShape | None, Type | None]]:
    """Normalise the ``input`` option into ``{name: (shape or None, type or None)}``. As in
    OpenVINO's ``convert_model``, a shape alone (``[1, 3, 224, 224]``, a PartialShape) is the first
    input's, a list of shapes (or of ``(shape, type)``) gives the first inputs' in ``order``, and a
    tuple starting with a name is one ``(name, shape, type)`` item."""
    if spec is None:
        return {}
    out: dict[str, tuple[PartialShape | None, Type | None]] = {}
    items: list = []
    if isinstance(spec, str):
        items = [(s.strip(),) for s in spec.split(",") if s.strip()] if "[" not in spec else [(spec,)]
    elif isinstance(spec, Mapping):
        for k, v in spec.items():
            if isinstance(v, tuple) and len(v) == 2 and not isinstance(v[0], int):
                items.append((k, v[0], v[1]))
            else:
                items.append((k, v))
    elif _is_shape(spec) or (isinstance(spec, tuple) and spec and not isinstance(spec[0], str)):
        items = [(None, *spec) if isinstance(spec, tuple) and not _is_shape(spec) else (None, spec)]
    elif isinstance(spec, tuple) and spec and isinstance(spec[0], str) and len(spec) > 1:
        items = [spec]
    else:
        for item in spec:
            if _is_shape(item):
                items.append((None, item))
            elif isinstance(item, tuple) and item and not isinstance(item[0], str):
                items.append((None, *item))
            else:
                items.append(item if isinstance(item, tuple) else (item,))
    positional = [it for it in items if it[0] is None]
    if positional and (len(positional) != len(items) or len(positional) > len(order)):
        raise ModelReadError(f"input: {len(positional)} unnamed shape(s) for the model's {len(order)} input(s) "
                             f"{list(order)}; name them ({{name: shape}}), or give them in input order, at most "
                             "one per input and without named ones beside them")
    for k, item in enumerate(items):
        name, shape, t = item[0] if item[0] is not None else order[k], None, None
        for extra in item[1:]:
            if extra is None:
                continue
            if isinstance(extra, (Type, type, np.dtype)) or (isinstance(extra, str) and not _looks_like_shape(extra)):
                t = Type(extra)
            else:
                shape = extra if isinstance(extra, PartialShape) else PartialShape(
                    extra if isinstance(extra, str) else [(-1 if d in (None, "?") else d) for d in extra])
        out[str(name)] = (shape, t)
    return out


def _looks_like_shape(s: str) -> bool:
    """A string that is not an element type name ("i64", "f32"... have digits too) is a shape."""
    try:
        Type(s)
    except ArrayrtError:
        return True
    return False


def _output_names(spec: Any, graph: onnx.GraphProto) -> list[str]:
    if spec is None:
        return [o.name for o in graph.output]
    if isinstance(spec, str):
        return [s.strip() for s in spec.split(",") if s.strip()]
    return [str(s) for s in spec]


def _needed_nodes(graph: onnx.GraphProto, wanted: Sequence[str], cut: set[str]) -> list[onnx.NodeProto]:
    """The nodes the wanted outputs depend on, stopping at cut tensors (kept in graph order)."""
    producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    need: set[int] = set()
    stack = [w for w in wanted if w not in cut]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        i = producer.get(name)
        if i is None or i in need:
            continue
        need.add(i)
        node = graph.node[i]
        for inp in list(node.input) + _subgraph_free_names(node):
            if inp and inp not in cut:
                stack.append(inp)
    return [n for i, n in enumerate(graph.node) if i in need]


def _subgraph_free_names(node: onnx.NodeProto) -> list[str]:
    """Names a node's sub-graphs read from the enclosing scope."""
    names: list[str] = []
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for g in graphs:
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                local |= set(n.output)
            for n in g.node:
                names += [i for i in list(n.input) + _subgraph_free_names(n) if i and i not in local]
    return names


def _used(name: str, nodes: Sequence[onnx.NodeProto], wanted: Sequence[str]) -> bool:
    return name in wanted or any(name in n.input or name in _subgraph_free_names(n) for n in nodes)


def _check_supported(conv: Converter, ctx: GraphContext, nodes: Sequence[onnx.NodeProto],
                     report: ConversionReport) -> None:
    """List every op with neither a translator nor a function body, before converting anything."""
    missing = []
    for node in nodes:
        version = ctx.opset(node.domain)
        if registry.find(node.op_type, node.domain, version) is None and not conv.has_function(node, version):
            missing.append((node.op_type, node.name, node.domain, version))
    if missing:
        report.unsupported.extend(missing)
        listed = "; ".join(f"{op} (domain '{d}', opset {v}) at node '{n}'" for op, n, d, v in missing)
        raise UnsupportedOpError(f"{len(missing)} unsupported ONNX node(s): {listed}")

