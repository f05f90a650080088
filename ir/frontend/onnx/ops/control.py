"""ONNX control flow, sequences and optionals.

``If`` becomes IR ``If`` (v8), ``Loop`` IR ``Loop`` (v5), ``Scan`` a ``TensorIterator`` (opset 8's
batched Scan: a ``Loop`` over the batch around it). Sub-graphs become body models: their inputs
are body Parameters, every outer-scope value they read becomes a Parameter fed by an invariant
input, their outputs body Results. Sequences and optionals map to arrayrt's extension ops (op set
``arrayrt1``, see :mod:`arrayrt.ir.ops.sequence`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from arrayrt.ir.frontend.onnx.context import GraphContext, NodeContext
from arrayrt.ir.frontend.onnx.registry import translator
from arrayrt.ir.frontend.onnx.types import onnx_type
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.model import Model
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.control import BodyOutput, ConcatOutput, InvariantInput, MergedInput, SliceInput
from arrayrt.ir.ops.sequence import (
    SEQUENCE,
    TENSOR,
    element_of,
    optional_of,
    set_value_kind,
    value_kind,
)
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ModelReadError, UnsupportedOpError


# --- ONNX types -------------------------------------------------------------------------------
def value_type(tp: onnx.TypeProto, what: str = "") -> tuple[Type, PartialShape, str]:
    """Element type, (element) shape and value kind of an ONNX type: a tensor, a sequence of
    tensors, or an optional of either."""
    field = tp.WhichOneof("value")
    if field == "tensor_type":
        tt = tp.tensor_type
        t = onnx_type(tt.elem_type, what) if tt.elem_type else Type.dynamic
        if not tt.HasField("shape"):
            return t, PartialShape.dynamic(), TENSOR
        dims = [Dimension(d.dim_value) if d.HasField("dim_value") else Dimension() for d in tt.shape.dim]
        return t, PartialShape(dims), TENSOR
    if field == "sequence_type":
        t, ps, kind = value_type(tp.sequence_type.elem_type, what)
        if kind != TENSOR:
            raise UnsupportedOpError(f"{what}sequences of {kind} values are not supported")
        return t, ps, SEQUENCE
    if field == "optional_type":
        t, ps, kind = value_type(tp.optional_type.elem_type, what)
        return t, ps, optional_of(kind)
    if field is None:
        return Type.dynamic, PartialShape.dynamic(), TENSOR
    raise UnsupportedOpError(f"{what}ONNX {field} values are not supported")


def value_info_type(vi: onnx.ValueInfoProto) -> tuple[Type, PartialShape, str]:
    return value_type(vi.type, f"graph value '{vi.name}': ")


# --- bodies -----------------------------------------------------------------------------------
class BodyContext(GraphContext):
    """A sub-graph being converted: a Parameter made for an outer value it reads (a capture)
    carries that value's kind (sequence, optional)."""

    def __init__(self, parent: GraphContext):
        super().__init__(parent.converter, parent.opsets, parent=parent, capture=True)
        self.params: list[Node] = []

    def lookup(self, name: str) -> Output | None:
        known = name in self.values
        out = super().lookup(name)
        if not known and out is not None and self.captures and self.captures[-1][1].output(0) == out:
            set_value_kind(out, value_kind(self.captures[-1][0]))
        return out

    def param(self, t: Type, shape: PartialShape, kind: str = TENSOR, name: str | None = None) -> Node:
        """A body Parameter of its own (not a capture), optionally bound to an ONNX name."""
        p = Node(get_op("Parameter"), [], {"shape": shape, "element_type": t}, name=name)
        set_value_kind(p.output(0), kind)
        self.params.append(p)
        if name:
            self.bind(name, p.output(0))
        return p

    def like(self, outer: Output, name: str | None = None) -> Node:
        """A Parameter taking the type, shape and kind of ``outer``."""
        return self.param(outer.get_element_type(), outer.get_partial_shape(), value_kind(outer), name)

    def convert_graph(self, graph: onnx.GraphProto) -> list[Output]:
        """Convert ``graph``'s initializers and nodes; its outputs."""
        from arrayrt.ir.frontend.onnx import initializer_constant

        for t in graph.initializer:
            self.bind(t.name, initializer_constant(self.converter, t).output(0))
        self.convert_nodes(graph.node)
        outs = []
        for o in graph.output:
            out = self.lookup(o.name)
            if out is None:
                raise ModelReadError(f"sub-graph '{graph.name}': output '{o.name}' is not computed")
            outs.append(out)
        return outs

    def model(self, results: Sequence[Output], name: str) -> tuple[Model, list[Output]]:
        """The body model (own Parameters first, then the captures) and the outer values that feed
        the captures, in order."""
        result_op = get_op("Result")
        res = [Node(result_op, [o]) for o in results]
        params = self.params + [p for _, p in self.captures]
        return Model(res, params, name), [outer for outer, _ in self.captures]


def _make(node: NodeContext, op_type: str, inputs: Sequence[Output], attrs: dict[str, Any],
          bodies: Sequence[Model]) -> Node:
    """An IR node with bodies, counted and named with the node's other IR nodes."""
    n = Node(get_op(op_type), list(inputs), attrs, bodies=bodies)
    node._made.append(n)
    return n


def _outputs(n: Node) -> list[Output]:
    return [n.output(i) for i in range(n.get_output_size())]


# --- If ---------------------------------------------------------------------------------------
class InlineContext(GraphContext):
    """A branch converted in place (its condition known at conversion): outer names are read
    directly from the enclosing graph; its own names stay private."""

    def __init__(self, parent: GraphContext):
        super().__init__(parent.converter, parent.opsets, parent=parent, capture=False, name_tensors=False)

    def lookup(self, name: str) -> Output | None:
        if name in self.values or not name:
            return super().lookup(name)
        return self.parent.lookup(name)

    convert_graph = BodyContext.convert_graph


@translator("If")
def if_(node: NodeContext) -> list:
    cond = node.require(0)
    known = node.const_value(0)
    if known is not None and np.size(known) == 1:  # only the branch taken is converted (the other
        side = "then" if bool(np.asarray(known).reshape(-1)[0]) else "else"  # may not even apply)
        outs = InlineContext(node.graph).convert_graph(node.attr(f"{side}_branch"))
        if len(outs) != node.num_outputs:
            raise ModelReadError(f"the {side} branch has {len(outs)} outputs, the node {node.num_outputs}")
        return outs
    inputs: list[Output] = [cond]
    position: dict[tuple[int, int], int] = {}
    bodies, attrs = [], {}
    for side in ("then", "else"):
        graph = node.attr(f"{side}_branch")
        ctx = BodyContext(node.graph)
        outs = ctx.convert_graph(graph)
        if len(outs) != node.num_outputs:
            raise ModelReadError(f"the {side} branch has {len(outs)} outputs, the node {node.num_outputs}")
        body, outer = ctx.model(outs, f"{node.name}/{side}")
        descs = []
        for k, o in enumerate(outer):
            key = (o.node.uid, o.index)
            if key not in position:
                position[key] = len(inputs)
                inputs.append(o)
            descs.append(InvariantInput(position[key], len(ctx.params) + k))
        bodies.append(body)
        attrs[f"{side}_inputs"] = descs
        attrs[f"{side}_outputs"] = [BodyOutput(i, i) for i in range(len(outs))]
    return _outputs(_make(node, "If", inputs, attrs, bodies))


# --- Loop -------------------------------------------------------------------------------------
def _declared(vi: onnx.ValueInfoProto, t: Type, shape: PartialShape) -> tuple[Type, PartialShape]:
    """A body input's declared type and shape where it has them, else the given ones."""
    if not vi.type.HasField("tensor_type"):
        return t, shape
    dt, ds, _ = value_info_type(vi)
    return (t if dt.is_dynamic else dt), (shape if not ds.rank_is_static else ds)


@translator("Loop")
def loop(node: NodeContext) -> list:
    graph = node.attr("body")
    n_carried = len(graph.input) - 2
    if n_carried < 0:
        raise ModelReadError(f"the body has {len(graph.input)} inputs; a Loop body needs the iteration "
                             "number and the condition first")
    carried = [node.require(2 + j) for j in range(n_carried)]
    trip = node.input(0) if node.input(0) is not None else node.const(np.int64(-1))
    cond = node.input(1) if node.input(1) is not None else node.const(np.bool_(True))
    ctx = BodyContext(node.graph)
    ctx.param(*_declared(graph.input[0], Type.i64, PartialShape([])), name=graph.input[0].name)
    ctx.param(Type.boolean, PartialShape([]), name=graph.input[1].name)
    for vi, init in zip(graph.input[2:], carried):
        ctx.like(init, vi.name)
    outs = ctx.convert_graph(graph)
    if len(outs) < 1 + n_carried:
        raise ModelReadError(f"the body has {len(outs)} outputs; it needs the condition and {n_carried} "
                             "loop-carried values")
    scans = [node.make("Unsqueeze", [o, node.const(np.int64(0))]).output(0) for o in outs[1 + n_carried:]]
    body, outer = ctx.model(outs[:1 + n_carried] + scans, f"{node.name}/body")
    inputs = [trip, cond, cond, *carried, *outer]
    ins = [MergedInput(2, 1, 0)]
    ins += [MergedInput(3 + j, 2 + j, 1 + j) for j in range(n_carried)]
    ins += [InvariantInput(3 + n_carried + k, len(ctx.params) + k) for k in range(len(outer))]
    outs_d = [BodyOutput(1 + j, j) for j in range(n_carried)]
    outs_d += [ConcatOutput(1 + n_carried + k, n_carried + k, 0, 1, 1, -1, 0) for k in range(len(scans))]
    attrs = {"input_descriptions": ins, "output_descriptions": outs_d, "special_body_ports": (0, 0)}
    return _outputs(_make(node, "Loop", inputs, attrs, [body]))


# --- Scan -------------------------------------------------------------------------------------
def _axis(axis: int, ps: PartialShape) -> int:
    return axis + len(ps) if axis < 0 and ps.rank_is_static else axis


def _scan(node: NodeContext, parent: GraphContext, graph: onnx.GraphProto, states: Sequence[Output],
          scans: Sequence[Output], in_axes: Sequence[int], in_dirs: Sequence[int], out_axes: Sequence[int],
          out_dirs: Sequence[int]) -> list[Output]:
    """A TensorIterator running ``graph`` once per slice of ``scans`` (opset 9's Scan)."""
    n_state = len(states)
    if len(graph.input) != n_state + len(scans):
        raise ModelReadError(f"the body has {len(graph.input)} inputs, expected {n_state} states and "
                             f"{len(scans)} scan inputs")
    ctx = BodyContext(parent)
    for vi, s in zip(graph.input, states):
        ctx.like(s, vi.name)
    for vi, x, axis in zip(graph.input[n_state:], scans, in_axes):
        ps = x.get_partial_shape()
        axis = _axis(axis, ps)
        if ps.rank_is_static:
            ps = PartialShape([Dimension(1) if i == axis else d for i, d in enumerate(ps)])
        p = ctx.param(x.get_element_type(), ps)
        ctx.bind(vi.name, node.make("Squeeze", [p.output(0), node.const(np.int64([axis]))]).output(0))
    outs = ctx.convert_graph(graph)
    if len(outs) < n_state:
        raise ModelReadError(f"the body has {len(outs)} outputs, fewer than the {n_state} states")
    scanned, axes = [], []
    for o, axis in zip(outs[n_state:], out_axes):
        ps = o.get_partial_shape()
        axis = axis + len(ps) + 1 if axis < 0 and ps.rank_is_static else axis
        axes.append(axis)
        scanned.append(node.make("Unsqueeze", [o, node.const(np.int64(axis))]).output(0))
    body, outer = ctx.model(outs[:n_state] + scanned, f"{node.name}/body")
    n_in = n_state + len(scans)
    ins = [MergedInput(i, i, i) for i in range(n_state)]
    for j, (x, axis, rev) in enumerate(zip(scans, in_axes, in_dirs)):
        a = _axis(axis, x.get_partial_shape())
        ins.append(SliceInput(n_state + j, n_state + j, -1, -1, 1, 0, a) if rev
                   else SliceInput(n_state + j, n_state + j, 0, 1, 1, -1, a))
    ins += [InvariantInput(n_in + k, n_in + k) for k in range(len(outer))]
    outs_d = [BodyOutput(i, i) for i in range(n_state)]
    for k, (axis, rev) in enumerate(zip(axes, out_dirs)):
        outs_d.append(ConcatOutput(n_state + k, n_state + k, -1, -1, 1, 0, axis) if rev
                      else ConcatOutput(n_state + k, n_state + k, 0, 1, 1, -1, axis))
    attrs = {"input_descriptions": ins, "output_descriptions": outs_d}
    return _outputs(_make(node, "TensorIterator", [*states, *scans, *outer], attrs, [body]))


def _list_attr(node: NodeContext, name: str, n: int) -> list[int]:
    values = node.attr(name, [0] * n)
    if len(values) != n:
        raise ModelReadError(f"attribute '{name}' has {len(values)} values, expected {n}")
    return values


@translator("Scan", since=9)
def scan(node: NodeContext) -> list:
    graph = node.attr("body")
    m = node.attr("num_scan_inputs")
    inputs = [node.require(i) for i in range(len(node.inputs))]
    states, scans = inputs[:len(inputs) - m], inputs[len(inputs) - m:]
    k = len(graph.output) - len(states)
    return _scan(node, node.graph, graph, states, scans, _list_attr(node, "scan_input_axes", m),
                 _list_attr(node, "scan_input_directions", m), _list_attr(node, "scan_output_axes", k),
                 _list_attr(node, "scan_output_directions", k))


@translator("Scan", since=8)
def scan_8(node: NodeContext) -> list:
    """Opset 8: inputs and outputs have a batch axis 0 the body does not see, scan axis 1. A Loop
    over the batch runs the opset-9 Scan on each batch item."""
    graph = node.attr("body")
    m = node.attr("num_scan_inputs")
    lens = node.input(0)
    inputs = [node.require(i) for i in range(1, len(node.inputs))]
    states, scans = inputs[:len(inputs) - m], inputs[len(inputs) - m:]
    if lens is not None:
        v = node.const_value(0)
        ps = scans[0].get_partial_shape()
        full = ps[1].get_length() if ps.rank_is_static and len(ps) > 1 and ps[1].is_static else None
        if v is None or full is None or not np.all(v == full):
            raise UnsupportedOpError("Scan-8 with sequence_lens shorter than the sequences is not supported")
    k = len(graph.output) - len(states)
    ctx = BodyContext(node.graph)
    index = ctx.param(Type.i64, PartialShape([])).output(0)
    ctx.param(Type.boolean, PartialShape([]))
    items = []
    for x in inputs:
        p = ctx.like(x).output(0)
        items.append(node.make("Gather", [p, index, node.const(np.int64(0))], {"batch_dims": 0}).output(0))
    outs = _scan(node, ctx, graph, items[:len(states)], items[len(states):], [0] * m,
                 _list_attr(node, "directions", m), [0] * k, [0] * k)
    stacked = [node.make("Unsqueeze", [o, node.const(np.int64(0))]).output(0) for o in outs]
    true = node.const(np.bool_(True))
    body, outer = ctx.model([true, *stacked], f"{node.name}/batch")
    batch = node.make("Gather", [node.make("ShapeOf", [inputs[0]]).output(0), node.const(np.int64(0)),
                                 node.const(np.int64(0))], {"batch_dims": 0}).output(0)
    n = len(inputs)
    ins = [MergedInput(2, 1, 0)] + [InvariantInput(3 + i, 2 + i) for i in range(n)]
    ins += [InvariantInput(3 + n + j, 2 + n + j) for j in range(len(outer))]
    outs_d = [ConcatOutput(1 + i, i, 0, 1, 1, -1, 0) for i in range(len(stacked))]
    attrs = {"input_descriptions": ins, "output_descriptions": outs_d, "special_body_ports": (0, 0)}
    return _outputs(_make(node, "Loop", [batch, true, true, *inputs, *outer], attrs, [body]))


# --- sequences --------------------------------------------------------------------------------
@translator("SequenceEmpty")
def sequence_empty(node: NodeContext) -> list:
    t = onnx_type(node.attr("dtype", onnx.TensorProto.FLOAT), "attribute 'dtype': ")
    return [node.make("SequenceEmpty", [], {"element_type": t})]


@translator("SequenceConstruct")
def sequence_construct(node: NodeContext) -> list:
    return [node.make("SequenceConstruct", [node.require(i) for i in range(len(node.inputs))])]


def _present(node: NodeContext) -> list[Output]:
    """The inputs up to the first absent optional one."""
    out = []
    for i in range(len(node.inputs)):
        if node.input(i) is None:
            break
        out.append(node.input(i))
    return out


@translator("SequenceInsert")
def sequence_insert(node: NodeContext) -> list:
    return [node.make("SequenceInsert", _present(node))]


@translator("SequenceAt")
def sequence_at(node: NodeContext) -> list:
    return [node.make("SequenceAt", [node.require(0), node.require(1)])]


@translator("SequenceErase")
def sequence_erase(node: NodeContext) -> list:
    return [node.make("SequenceErase", _present(node))]


@translator("SequenceLength")
def sequence_length(node: NodeContext) -> list:
    return [node.make("SequenceLength", [node.require(0)])]


@translator("SplitToSequence")
def split_to_sequence(node: NodeContext) -> list:
    attrs = {"axis": node.attr("axis", 0), "keepdims": bool(node.attr("keepdims", 1))}
    return [node.make("SplitToSequence", _present(node), attrs)]


@translator("ConcatFromSequence")
def concat_from_sequence(node: NodeContext) -> list:
    attrs = {"axis": node.attr("axis"), "new_axis": bool(node.attr("new_axis", 0))}
    return [node.make("ConcatFromSequence", [node.require(0)], attrs)]


@translator("SequenceMap")
def sequence_map(node: NodeContext) -> list:
    """A Loop over the first sequence: the body reads element ``i`` of each sequence input (tensor
    inputs whole) and inserts its outputs into the output sequences."""
    graph = node.attr("body")
    inputs = [node.require(i) for i in range(len(node.inputs))]
    if value_kind(inputs[0]) != SEQUENCE:
        raise ModelReadError("input 0 of SequenceMap must be a sequence")
    ctx = BodyContext(node.graph)
    index = ctx.param(Type.i64, PartialShape([])).output(0)
    ctx.param(Type.boolean, PartialShape([]))
    for vi, x in zip(graph.input, inputs):
        p = ctx.like(x).output(0)
        item = node.make("SequenceAt", [p, index]).output(0) if value_kind(x) == SEQUENCE else p
        ctx.bind(vi.name, item)
    outs = ctx.convert_graph(graph)
    carried = [ctx.param(o.get_element_type(), PartialShape.dynamic(), SEQUENCE).output(0) for o in outs]
    grown = [node.make("SequenceInsert", [c, o]).output(0) for c, o in zip(carried, outs)]
    true = node.const(np.bool_(True))
    body, outer = ctx.model([true, *grown], f"{node.name}/body")
    n, k = len(inputs), len(outs)
    empties = [node.make("SequenceEmpty", [], {"element_type": o.get_element_type()}).output(0) for o in outs]
    trip = node.make("SequenceLength", [inputs[0]]).output(0)
    ins = [MergedInput(2, 1, 0)] + [InvariantInput(3 + i, 2 + i) for i in range(n)]
    ins += [MergedInput(3 + n + j, 2 + n + j, 1 + j) for j in range(k)]
    ins += [InvariantInput(3 + n + k + j, 2 + n + k + j) for j in range(len(outer))]
    attrs = {"input_descriptions": ins, "output_descriptions": [BodyOutput(1 + j, j) for j in range(k)],
             "special_body_ports": (0, 0)}
    return _outputs(_make(node, "Loop", [trip, true, true, *inputs, *empties, *outer], attrs, [body]))


# --- optionals --------------------------------------------------------------------------------
@translator("Optional")
def optional(node: NodeContext) -> list:
    if node.input(0) is not None:
        return [node.make("Optional", [node.input(0)])]
    tp = node.attr("type", None)
    if tp is None:
        raise ModelReadError("an Optional without input needs the 'type' attribute")
    t, ps, kind = value_type(tp, "attribute 'type': ")
    return [node.make("Optional", [], {"element_type": t, "element_shape": ps, "element_kind": element_of(kind)})]


@translator("OptionalHasElement")
def optional_has_element(node: NodeContext) -> list:
    return [node.make("OptionalHasElement", _present(node))]


@translator("OptionalGetElement")
def optional_get_element(node: NodeContext) -> list:
    return [node.make("OptionalGetElement", [node.require(0)])]


# --- strings ----------------------------------------------------------------------------------
@translator("StringNormalizer")
def string_normalizer(node: NodeContext) -> list:
    attrs = {"case_change_action": node.attr("case_change_action", "NONE"),
             "is_case_sensitive": bool(node.attr("is_case_sensitive", 0)),
             "stopwords": node.attr("stopwords", [])}
    return [node.make("StringNormalizer", [node.require(0)], attrs)]


@translator("RegexFullMatch")
def regex_full_match(node: NodeContext) -> list:
    return [node.make("RegexFullMatch", [node.require(0)], {"pattern": node.attr("pattern")})]


@translator("StringConcat")
def string_concat(node: NodeContext) -> list:
    return [node.make("StringConcat", [node.require(0), node.require(1)])]


@translator("StringSplit")
def string_split(node: NodeContext) -> list:
    attrs = {"delimiter": node.attr("delimiter", ""), "maxsplit": node.attr("maxsplit", -1)}
    return _outputs(node.make("StringSplit", [node.require(0)], attrs))


# --- ai.onnx.ml -------------------------------------------------------------------------------
def _ml_array(node: NodeContext, stem: str, like: Type | None = None) -> np.ndarray | None:
    """The ``<stem>_tensor`` / ``_strings`` / ``_int64s`` / ``_floats`` attribute as an array."""
    for suffix, dtype in (("_tensor", None), ("_strings", object), ("_int64s", np.int64), ("_floats", np.float32)):
        if node.has_attr(stem + suffix):
            v = node.attr(stem + suffix)
            arr = np.asarray(v) if dtype is None else np.asarray(v, dtype=dtype)
            if like is not None and like.is_static and arr.dtype != object and like is not Type.string:
                arr = arr.astype(like.to_dtype())
            return arr
    return None


@translator("LabelEncoder", domain="ai.onnx.ml")
def label_encoder_1(node: NodeContext) -> list:
    x = node.require(0)
    classes = np.asarray(node.attr("classes_strings", []), dtype=object)
    ids = np.arange(len(classes), dtype=np.int64)
    if x.get_element_type() is Type.string:
        keys, values, default = classes, ids, np.int64(node.attr("default_int64", -1))
    else:
        keys, values = ids, classes
        default = np.asarray(node.attr("default_string", "_Unused"), dtype=object)
    return [node.make("LabelEncoder", [x, node.const(keys), node.const(values), node.const(default)])]


@translator("LabelEncoder", since=2, domain="ai.onnx.ml")
def label_encoder(node: NodeContext) -> list:
    x = node.require(0)
    keys = _ml_array(node, "keys", x.get_element_type())
    values = _ml_array(node, "values")
    if keys is None or values is None or keys.size != values.size:
        raise ModelReadError("LabelEncoder needs keys and values of the same length")
    if node.has_attr("default_tensor"):
        default = node.attr("default_tensor").reshape(())
    elif values.dtype == object:
        default = np.asarray(node.attr("default_string", "_Unused"), dtype=object)
    elif values.dtype == np.int64:
        default = np.int64(node.attr("default_int64", -1))
    else:
        default = np.float32(node.attr("default_float", -0.0))
    default = np.asarray(default, dtype=values.dtype)
    return [node.make("LabelEncoder", [x, node.const(keys.reshape(-1)), node.const(values.reshape(-1)),
                                       node.const(default)])]


@translator("ArrayFeatureExtractor", domain="ai.onnx.ml")
def array_feature_extractor(node: NodeContext) -> list:
    """Elements of the last axis at the (flattened) indices; a 1-D input gives one row."""
    data, indices = node.require(0), node.require(1)
    flat = node.make("Reshape", [indices, node.const(np.int64([-1]))], {"special_zero": False})
    out = node.make("Gather", [data, flat, node.const(np.int64(-1))], {"batch_dims": 0})
    ps = data.get_partial_shape()
    if ps.rank_is_static and len(ps) == 1:
        out = node.make("Unsqueeze", [out, node.const(np.int64(0))])
    return [out]


@translator("TfIdfVectorizer")
def tfidf_vectorizer(node: NodeContext) -> list:
    pool = _ml_array(node, "pool")
    if pool is None:
        raise ModelReadError("TfIdfVectorizer needs pool_int64s or pool_strings")
    attrs = {k: node.attr(k) for k in ("mode", "min_gram_length", "max_gram_length", "max_skip_count",
                                        "ngram_counts", "ngram_indexes")}
    attrs["weights"] = node.attr("weights", [])
    return [node.make("TfIdfVectorizer", [node.require(0), node.const(pool)], attrs)]


_AGGREGATE = {0: "AVERAGE", 1: "SUM", 2: "MIN", 3: "MAX"}


@translator("TreeEnsemble", domain="ai.onnx.ml")
def tree_ensemble(node: NodeContext) -> list:
    """Flattens the ensemble into the node table of IR ``TreeEnsemble``: leaves are numbered after
    the nodes; set-membership nodes take their sets from ``membership_values`` in node order."""
    x = node.require(0)
    if node.attr("post_transform", 0) != 0:
        raise UnsupportedOpError("TreeEnsemble with a post_transform other than NONE is not supported")
    dt = x.get_element_type().to_dtype()
    modes = np.asarray(node.attr("nodes_modes")).astype(np.int64).reshape(-1)
    n = modes.size

    def succ(ids: str, leafs: str) -> np.ndarray:
        to, leaf = np.asarray(node.attr(ids), np.int64), np.asarray(node.attr(leafs), np.int64)
        return np.where(leaf != 0, to + n, to)

    on_true, on_false = succ("nodes_truenodeids", "nodes_trueleafs"), succ("nodes_falsenodeids", "nodes_falseleafs")
    sets: list[list[float]] = []
    members = np.asarray(node.attr("membership_values", np.zeros(0)), dtype=np.float64).reshape(-1)
    bounds = [-1, *np.flatnonzero(np.isnan(members)).tolist()]
    for a, b in zip(bounds[:-1], bounds[1:]):
        sets.append(members[a + 1:b].tolist())
    table = np.full((n, max([1] + [len(s) for s in sets])), np.nan, dtype=dt)
    for i, k in enumerate(np.flatnonzero(modes == 6)):
        if i >= len(sets):
            raise ModelReadError("membership_values has fewer sets than there are set-membership nodes")
        table[k, :len(sets[i])] = sets[i]
    roots = np.asarray(node.attr("tree_roots"), np.int64)
    trueleafs, falseleafs = np.asarray(node.attr("nodes_trueleafs")), np.asarray(node.attr("nodes_falseleafs"))
    t_ids, f_ids = np.asarray(node.attr("nodes_truenodeids")), np.asarray(node.attr("nodes_falsenodeids"))
    degenerate = (trueleafs[roots] != 0) & (falseleafs[roots] != 0) & (t_ids[roots] == f_ids[roots])
    roots = np.where(degenerate, t_ids[roots] + n, roots)
    nan_true = np.asarray(node.attr("nodes_missing_value_tracks_true", np.zeros(n, np.int64))) != 0
    inputs = [x, np.asarray(node.attr("nodes_featureids"), np.int64), np.asarray(node.attr("nodes_splits"), dt),
              modes, on_true, on_false, table, nan_true, np.asarray(node.attr("leaf_weights"), dt),
              np.asarray(node.attr("leaf_targetids"), np.int64), roots]
    attrs = {"aggregate_function": _AGGREGATE[node.attr("aggregate_function", 1)],
             "n_targets": node.attr("n_targets")}
    return [node.make("TreeEnsemble", [inputs[0]] + [node.const(v) for v in inputs[1:]], attrs)]


# --- ai.onnx.preview.training: optimizer steps as plain arithmetic ---------------------------------
class _Math:
    """Arithmetic on IR outputs of one float type, for the optimizer translators."""

    def __init__(self, node: NodeContext, t: Type):
        self.node, self.t = node, t

    def c(self, v: float) -> Output:
        return self.node.const(np.asarray(v, dtype=self.t.to_dtype()))

    def cast(self, x: Output) -> Output:
        if x.get_element_type() is self.t:
            return x
        return self.node.make("Convert", [x], {"destination_type": self.t}).output(0)

    def op(self, op_type: str, *args: Output) -> Output:
        return self.node.make(op_type, list(args)).output(0)

    def add(self, a, b):
        return self.op("Add", a, b)

    def sub(self, a, b):
        return self.op("Subtract", a, b)

    def mul(self, a, b):
        return self.op("Multiply", a, b)

    def div(self, a, b):
        return self.op("Divide", a, b)

    def sqrt(self, a):
        return self.op("Sqrt", a)

    def positive(self, t: Output) -> Output:
        return self.op("Greater", t, self.node.const(np.int64(0)))

    def select(self, cond, a, b):
        return self.op("Select", cond, a, b)


def _groups(node: NodeContext, k: int) -> list[list[Output]]:
    """R and T, then ``k`` groups of n tensors each (X..., G..., V... etc.)."""
    rest = [node.require(i) for i in range(2, len(node.inputs))]
    n = len(rest) // k
    if n * k != len(rest) or n == 0:
        raise ModelReadError(f"{node.op_type} takes R, T and {k} groups of equally many tensors, got "
                             f"{len(node.inputs)} inputs")
    return [rest[i * n:(i + 1) * n] for i in range(k)]


@translator("Adagrad", domain="ai.onnx.preview.training")
def adagrad(node: NodeContext) -> list:
    xs, gs, hs = _groups(node, 3)
    r, t = node.require(0), node.require(1)
    decay, eps, norm = node.attr("decay_factor", 0.0), node.attr("epsilon", 1e-6), node.attr("norm_coefficient", 0.0)
    new_x, new_h = [], []
    for x, g, h in zip(xs, gs, hs):
        m = _Math(node, x.get_element_type())
        rate = m.div(m.cast(r), m.add(m.c(1.0), m.mul(m.cast(t), m.c(decay))))
        g_reg = m.add(m.mul(m.c(norm), x), g)
        h2 = m.add(h, m.mul(g_reg, g_reg))
        new_x.append(m.sub(x, m.div(m.mul(rate, g_reg), m.add(m.sqrt(h2), m.c(eps)))))
        new_h.append(h2)
    return new_x + new_h


@translator("Momentum", domain="ai.onnx.preview.training")
def momentum(node: NodeContext) -> list:
    xs, gs, vs = _groups(node, 3)
    r, t = node.require(0), node.require(1)
    alpha, beta, norm = node.attr("alpha"), node.attr("beta"), node.attr("norm_coefficient")
    nesterov = node.attr("mode") == "nesterov"
    new_x, new_v = [], []
    for x, g, v in zip(xs, gs, vs):
        m = _Math(node, x.get_element_type())
        g_reg = m.add(m.mul(m.c(norm), x), g)
        b = m.select(m.positive(t), m.c(beta), m.c(1.0))
        v2 = m.add(m.mul(m.c(alpha), v), m.mul(b, g_reg))
        step = m.add(g_reg, m.mul(m.c(alpha), v2)) if nesterov else v2
        new_x.append(m.sub(x, m.mul(m.cast(r), step)))
        new_v.append(v2)
    return new_x + new_v


@translator("Adam", domain="ai.onnx.preview.training")
def adam(node: NodeContext) -> list:
    xs, gs, vs, hs = _groups(node, 4)
    r, t = node.require(0), node.require(1)
    alpha, beta = node.attr("alpha", 0.9), node.attr("beta", 0.999)
    eps, norm = node.attr("epsilon", 1e-6), node.attr("norm_coefficient", 0.0)
    post = node.attr("norm_coefficient_post", 0.0)
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in zip(xs, gs, vs, hs):
        m = _Math(node, x.get_element_type())
        g_reg = m.add(m.mul(m.c(norm), x), g)
        v2 = m.add(m.mul(m.c(alpha), v), m.mul(m.c(1 - alpha), g_reg))
        h2 = m.add(m.mul(m.c(beta), h), m.mul(m.c(1 - beta), m.mul(g_reg, g_reg)))
        tf = m.cast(t)
        corrected = m.div(m.mul(m.cast(r), m.sqrt(m.sub(m.c(1.0), m.op("Power", m.c(beta), tf)))),
                          m.sub(m.c(1.0), m.op("Power", m.c(alpha), tf)))
        rate = m.select(m.positive(t), corrected, m.cast(r))
        x2 = m.sub(x, m.mul(rate, m.div(v2, m.add(m.sqrt(h2), m.c(eps)))))
        new_x.append(m.mul(m.c(1 - post), x2))
        new_v.append(v2)
        new_h.append(h2)
    return new_x + new_v + new_h
