"""Ops with sub-graph bodies: TensorIterator (v0), Loop (v5) and If (v8), with OpenVINO's semantics.

A body is an :class:`~arrayrt.ir.model.Model` in ``node.bodies`` (``[body]``, or ``[then, else]``
for If). The port maps are attributes with OpenVINO's names (``input_descriptions``,
``output_descriptions``, ``special_body_ports``, ``then_inputs``...): tuples of the description
records below, which name body Parameters and Results by their index in the body's parameter and
result lists. The IR writer writes them as ``<port_map>``/``<back_edges>``, not as ``<data>``.

Shape inference is OpenVINO's ``validate_and_infer_types``: the body Parameters take the type and
shape of the outer values feeding them (a sliced input: ``part_size`` along its axis), the body is
re-inferred, a Loop relaxes a back-edge Parameter to the shape its Result really has, and the outer
outputs take the Results' types and shapes (concatenated ones times the iteration count when it is
known). When the condition of an If is known, only the branch it takes is inferred.

At inference ``backend_kernel`` compiles each body once into a plan on the node's backend and the
returned callable runs the branch or the iterations in Python. The ops fold (``evaluate``) only
when every input is known and no body holds a stateful or random op.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.ops._xp import dtype_of
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import as_output, factory
from arrayrt.ir.ops.sequence import TENSOR, union_shape, value_kind
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import CompileError, OpAttributeError, ShapeInferenceError, where


# --- port map records (OpenVINO's InputDescription / OutputDescription) ---------------------------
@dataclass(frozen=True)
class SliceInput:
    """Input ``input_index`` is cut along ``axis`` into ``part_size`` slices, one per iteration."""

    input_index: int
    body_parameter_index: int
    start: int = 0
    stride: int = 1
    part_size: int = 1
    end: int = -1
    axis: int = 0


@dataclass(frozen=True)
class MergedInput:
    """Input ``input_index`` feeds the Parameter at the first iteration, Result
    ``body_value_index`` of the previous iteration feeds it afterwards (a back edge)."""

    input_index: int
    body_parameter_index: int
    body_value_index: int


@dataclass(frozen=True)
class InvariantInput:
    """Input ``input_index`` feeds the Parameter at every iteration (and in either If branch)."""

    input_index: int
    body_parameter_index: int


@dataclass(frozen=True)
class ConcatOutput:
    """Output ``output_index`` is Result ``body_value_index`` of every iteration concatenated along
    ``axis`` (in reverse iteration order when ``stride`` is negative)."""

    body_value_index: int
    output_index: int
    start: int = 0
    stride: int = 1
    part_size: int = 1
    end: int = -1
    axis: int = 0


@dataclass(frozen=True)
class BodyOutput:
    """Output ``output_index`` is Result ``body_value_index`` after iteration ``iteration`` (-1: the
    last one; IR does not store it, so read models always have -1)."""

    body_value_index: int
    output_index: int
    iteration: int = -1


class _PortMap(Attr):
    """A tuple of description records (or the special body ports): never a ``<data>`` attribute."""

    def __init__(self, name: str, default: Any = ()):
        super().__init__(name, "port_map", default, write=False)

    def coerce(self, value: Any) -> Any:
        return tuple(value)


# --- shared helpers ---------------------------------------------------------------------------
def result_index(body: Any, value: Any) -> int:
    """The index of the body Result that returns ``value`` (a Result node, its output, or the
    output it returns)."""
    for i, r in enumerate(body.get_results()):
        if value is r or (isinstance(value, Output) and (value == r.output(0) or value == r.input_value(0))):
            return i
    raise ShapeInferenceError(f"{value!r} is not returned by a Result of the body '{body.name}'")


def parameter_index(body: Any, param: Node) -> int:
    for i, p in enumerate(body.get_parameters()):
        if p is param:
            return i
    raise ShapeInferenceError(f"'{param.friendly_name}' is not a Parameter of the body '{body.name}'")


def _body_value(body: Any, i: int) -> Output:
    results = body.get_results()
    if not 0 <= i < len(results):
        raise ShapeInferenceError(f"body '{body.name}' has no Result {i} (it has {len(results)})")
    return results[i].input_value(0)


def _body_param(body: Any, i: int) -> Node:
    params = body.get_parameters()
    if not 0 <= i < len(params):
        raise ShapeInferenceError(f"body '{body.name}' has no Parameter {i} (it has {len(params)})")
    return params[i]


def _set_param(param: Node, t: Type | None, shape: PartialShape) -> None:
    if t is not None and t.is_static:
        param.attrs["element_type"] = t
    param.attrs["shape"] = shape


def _rank_0_or_1(node: Node, ps: PartialShape, what: str) -> None:
    if ps.rank_is_static and len(ps) > 1:
        raise ShapeInferenceError(f"{where(node)}: the {what} must have rank 0 or 1, got {ps}")


def _known_flag(node: Node, out: Output, what: str) -> bool | None:
    v = out.node.static_value(out.index)
    if v is None:
        return None
    if v.size != 1:
        raise ShapeInferenceError(f"{where(node)}: the {what} must hold one value, got {v.size}")
    return bool(v.reshape(-1)[0])


def _norm_axis(node: Node, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeInferenceError(f"{where(node)}: axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _output_count(*descs: Sequence[Any]) -> int:
    return max((d.output_index + 1 for ds in descs for d in ds), default=0)


def _pending(node: Node) -> list[tuple[Type, PartialShape]]:
    """Outputs as they are while a Python-built node is still missing its bodies."""
    return [(p.element_type, p.shape) for p in node._outputs]


class _SubGraphOp(OpDef):
    """What TensorIterator, Loop and If share: no compute, a backend kernel over compiled bodies."""

    foldable = False
    n_outputs = 0

    @classmethod
    def bodies_and_outputs(cls, node: Node) -> list[tuple[Any, Sequence[Any]]]:
        raise NotImplementedError

    @classmethod
    def output_kinds(cls, node: Node) -> list[str]:
        kinds = [TENSOR] * node.get_output_size()
        for body, outs in cls.bodies_and_outputs(node):
            for d in outs:
                if isinstance(d, BodyOutput) and d.output_index < len(kinds) and kinds[d.output_index] == TENSOR:
                    kinds[d.output_index] = value_kind(body.get_results()[d.body_value_index].output(0))
        return kinds

    @classmethod
    def evaluate(cls, node: Node) -> list[Any] | None:
        """Values when every input is known (a branch or loop over constants)."""
        if not node.bodies or any(k != TENSOR for k in cls.output_kinds(node)):
            return None
        if not all(_pure(b) for b in node.bodies):
            return None
        values = [node.input_const(i) for i in range(node.get_input_size())]
        if any(v is None for v in values):
            return None
        from arrayrt.backends import get_backend
        from arrayrt.ir.ops._xp import to_numpy

        backend = get_backend("numpy")()
        try:
            res = cls.backend_kernel(backend, node)(*values)
        except Exception as exc:  # noqa: BLE001 - an inference-time error of this node
            raise ShapeInferenceError(f"{where(node)}: evaluating on constant inputs failed: {exc}") from exc
        res = list(res) if node.get_output_size() != 1 else [res]
        return [to_numpy(r) for r in res]

    @classmethod
    def backend_kernel(cls, backend: Any, node: Node):
        raise NotImplementedError


def _pure(body: Any) -> bool:
    for n in body.get_ordered_ops():
        if n.bodies:
            if not all(_pure(b) for b in n.bodies):
                return False
        elif not n.op.foldable and n.type_name not in ("Parameter", "Result"):
            return False
    return True


def compile_body(body: Any, backend: Any, node: Node) -> Any:
    from arrayrt.executor import build_plan

    plan = build_plan(body, backend)
    if plan.state_ids:
        raise CompileError(f"{where(node)}: bodies with ReadValue/Assign state are not supported")
    return plan


def _scalar(xp: Any, v: Any) -> Any:
    return xp.reshape(v, (-1,))[0]


def _slice_starts(desc: SliceInput, dim: int) -> list[int]:
    """Where each iteration's slice of a ``dim``-long axis begins."""
    start = desc.start + dim if desc.start < 0 else desc.start
    end = desc.end + dim if desc.end < 0 else desc.end
    count = (abs(end - start) + 1) // desc.part_size
    if desc.stride > 0:
        return [start + k * desc.stride for k in range(count)]
    return [start + k * desc.stride - desc.part_size + 1 for k in range(count)]


def _take_slice(x: Any, axis: int, begin: int, size: int) -> Any:
    return x[(slice(None),) * axis + (slice(begin, begin + size), ...)]


def _concat(xp: Any, parts: list[Any], desc: ConcatOutput) -> Any:
    if desc.stride < 0:
        parts = parts[::-1]
    parts = [xp.reshape(p, (1,)) if p.ndim == 0 else p for p in parts]
    axis = desc.axis + parts[0].ndim if desc.axis < 0 else desc.axis
    return xp.concat(parts, axis=axis)


def _empty_concat(xp: Any, body: Any, desc: ConcatOutput) -> Any:
    """What a concatenated output is after zero iterations: empty along the axis."""
    out = _body_value(body, desc.body_value_index)
    ps = out.get_partial_shape()
    dims = [d.min if d.is_static else 0 for d in ps] if ps.rank_is_static else [0]
    if not dims:
        dims = [0]
    dims[desc.axis + len(dims) if desc.axis < 0 else desc.axis] = 0
    t = out.get_element_type()
    return xp.zeros(tuple(dims), dtype=dtype_of(xp, t if t.is_static else Type.f32))


def _iterate(xp: Any, plan: Any, body: Any, node: Node, args: Sequence[Any], *, trip: float,
             cond: bool, cur_iter: int, cond_out: int, to_device: Any = None) -> Any:
    """Run the iterations of a TensorIterator (``trip`` from the slices, no condition) or a Loop.

    The iteration number is made on the host and moved with the backend's ``to_device``: a tracing
    backend (jax) then holds it as a constant, so a body condition computed from it alone stays a
    Python value while tracing instead of a traced one that ``bool()`` cannot read."""
    ins = node.attrs["input_descriptions"]
    outs = node.attrs["output_descriptions"]
    feed: list[Any] = [None] * len(body.get_parameters())
    merged = []
    slices = []
    for d in ins:
        feed[d.body_parameter_index] = args[d.input_index]
        if isinstance(d, MergedInput):
            merged.append(d)
        elif isinstance(d, SliceInput):
            x = args[d.input_index]
            axis = d.axis + x.ndim if d.axis < 0 else d.axis
            slices.append((d, x, axis, _slice_starts(d, int(x.shape[axis]))))
    iter_type = None
    iter_shape: tuple[int, ...] = ()
    iter_has_initial = False
    if cur_iter >= 0:
        p = body.get_parameters()[cur_iter]
        iter_type = (p.attrs["element_type"] if p.attrs["element_type"].is_static else Type.i64).to_dtype()
        iter_shape = (1,) if p.attrs["shape"].rank_is_static and len(p.attrs["shape"]) == 1 else ()
        iter_has_initial = any(d.body_parameter_index == cur_iter for d in ins)
        if any(d.body_parameter_index == cur_iter for d in merged):
            cur_iter = -1
    concats = [d for d in outs if isinstance(d, ConcatOutput)]
    collected: list[list[Any]] = [[] for _ in concats]
    wanted = {d.iteration for d in outs if isinstance(d, BodyOutput) and d.iteration >= 0}
    at: dict[int, Any] = {}
    last = None
    k = 0
    while cond and k < trip:
        if cur_iter >= 0 and not (k == 0 and iter_has_initial):
            feed[cur_iter] = to_device(np.full(iter_shape, k, iter_type))
        for d, x, axis, starts in slices:
            if k < len(starts):
                feed[d.body_parameter_index] = _take_slice(x, axis, starts[k], d.part_size)
        res = plan(*feed)
        for c, d in zip(collected, concats):
            c.append(res[d.body_value_index])
        if cond_out >= 0:
            cond = bool(_scalar(xp, res[cond_out]))
        for d in merged:
            feed[d.body_parameter_index] = res[d.body_value_index]
        if k in wanted:
            at[k] = res
        last = res
        k += 1
    values: list[Any] = [None] * node.get_output_size()
    for d in outs:
        if isinstance(d, ConcatOutput):
            parts = collected[concats.index(d)]
            values[d.output_index] = _concat(xp, parts, d) if parts else _empty_concat(xp, body, d)
        elif d.iteration >= 0:
            if d.iteration not in at:
                raise ValueError(f"output {d.output_index} is the value of iteration {d.iteration}, "
                                 f"but only {k} iterations ran")
            values[d.output_index] = at[d.iteration][d.body_value_index]
        elif last is not None:
            values[d.output_index] = last[d.body_value_index]
        else:  # no iteration ran: a loop-carried value keeps its initial value
            init = next((m for m in merged if m.body_value_index == d.body_value_index), None)
            if init is None:
                raise ValueError(f"output {d.output_index} has no value: no iteration ran")
            values[d.output_index] = args[init.input_index]
    return values[0] if len(values) == 1 else tuple(values)


def _prepare_inputs(node: Node, body: Any, descs: Sequence[Any], set_types: bool) -> None:
    """Give the body Parameters the outer inputs' types and shapes, as OpenVINO does."""
    for d in descs:
        param = _body_param(body, d.body_parameter_index)
        ps = node.input_shape(d.input_index)
        t = node.input_type(d.input_index) if set_types else None
        if isinstance(d, SliceInput):
            if ps.rank_is_static:
                dims = list(ps)
                dims[_norm_axis(node, d.axis, len(dims))] = Dimension(d.part_size)
                ps = PartialShape(dims)
            else:
                ps = PartialShape.dynamic()
        _set_param(param, t, ps)


def _check_descs(node: Node, body: Any, ins: Sequence[Any], outs: Sequence[Any], what: str) -> None:
    n_in = node.get_input_size()
    for d in ins:
        if not 0 <= d.input_index < n_in:
            raise ShapeInferenceError(f"{where(node)}: {what} input description names input {d.input_index}, "
                                      f"the node has {n_in} inputs")
        _body_param(body, d.body_parameter_index)
        if isinstance(d, MergedInput):
            _body_value(body, d.body_value_index)
        if isinstance(d, SliceInput) and d.part_size <= 0:
            raise ShapeInferenceError(f"{where(node)}: a sliced input needs part_size > 0, got {d.part_size}")
    for d in outs:
        _body_value(body, d.body_value_index)


# --- TensorIterator ---------------------------------------------------------------------------
@register
class TensorIterator(_SubGraphOp):
    """Runs its body once per slice of its sliced inputs (all must give the same count)."""

    type_name, version, opset = "TensorIterator", 0, "opset1"
    attrs = (_PortMap("input_descriptions"), _PortMap("output_descriptions"))
    n_inputs = (0, None)

    @classmethod
    def num_outputs(cls, node):
        return _output_count(node.attrs["output_descriptions"])

    @classmethod
    def bodies_and_outputs(cls, node):
        return [(node.bodies[0], node.attrs["output_descriptions"])] if node.bodies else []

    @classmethod
    def num_iterations(cls, node: Node) -> int:
        """The iteration count from the sliced inputs' axis lengths (-1 when unknown)."""
        count = -1
        has_slices = False
        for d in node.attrs["input_descriptions"]:
            if isinstance(d, SliceInput):
                has_slices = True
                ps = node.input_shape(d.input_index)
                if ps.rank_is_static:
                    dim = ps[_norm_axis(node, d.axis, len(ps))]
                    if dim.is_static:
                        count = len(_slice_starts(d, dim.get_length()))
        if count == -1 and not has_slices:
            for d in node.attrs["output_descriptions"]:
                if isinstance(d, ConcatOutput):
                    return abs(d.end - d.start) // d.part_size
        return count

    @classmethod
    def infer(cls, node):
        if not node.bodies:
            return _pending(node)
        body = node.bodies[0]
        ins, outs = node.attrs["input_descriptions"], node.attrs["output_descriptions"]
        if len(ins) != node.get_input_size():
            raise ShapeInferenceError(f"{where(node)}: {node.get_input_size()} inputs but {len(ins)} input "
                                      "descriptions")
        _check_descs(node, body, ins, outs, "a")
        _prepare_inputs(node, body, ins, set_types=True)
        body.validate_nodes_and_infer_types()
        n_iter = cls.num_iterations(node)
        results: list[tuple[Type, PartialShape]] = [(Type.dynamic, PartialShape.dynamic())] * cls.num_outputs(node)
        for d in outs:
            out = _body_value(body, d.body_value_index)
            t, ps = out.get_element_type(), out.get_partial_shape()
            if isinstance(d, ConcatOutput):
                if ps.rank_is_static:
                    dims = list(ps) if len(ps) else [Dimension()]
                    if not len(ps) and d.axis != 0:
                        raise ShapeInferenceError(f"{where(node)}: output {d.output_index} concatenates scalars, "
                                                  f"so its axis must be 0, got {d.axis}")
                    dims[_norm_axis(node, d.axis, len(dims))] = (Dimension(n_iter * d.part_size) if n_iter != -1
                                                                 else Dimension())
                    ps = PartialShape(dims)
            results[d.output_index] = (t, ps)
        return results

    @classmethod
    def backend_kernel(cls, backend, node):
        body = node.bodies[0]
        plan = compile_body(body, backend, node)
        xp = backend.xp
        slices = [d for d in node.attrs["input_descriptions"] if isinstance(d, SliceInput)]
        fixed = None if slices else cls.num_iterations(node)
        if fixed is not None and fixed < 0:
            raise CompileError(f"{where(node)}: the iteration count is unknown (no sliced input)")

        def run(*args):
            if fixed is not None:
                trip = fixed
            else:
                counts = set()
                for d in slices:
                    x = args[d.input_index]
                    axis = d.axis + x.ndim if d.axis < 0 else d.axis
                    counts.add(len(_slice_starts(d, int(x.shape[axis]))))
                if len(counts) != 1:
                    raise ValueError(f"the sliced inputs give different iteration counts {sorted(counts)}")
                trip = counts.pop()
            return _iterate(xp, plan, body, node, args, trip=trip, cond=True, cur_iter=-1, cond_out=-1)

        return run


# --- Loop -------------------------------------------------------------------------------------
@register
class Loop(_SubGraphOp):
    """Runs its body while the execution condition holds and fewer than ``trip_count`` iterations
    ran (a negative trip count: no limit). Inputs 0 and 1 are the trip count and the initial
    condition; ``special_body_ports`` = (current-iteration Parameter, condition Result), -1 = none.

    Zero iterations (which OpenVINO's reference refuses) give each loop-carried output its initial
    value and each concatenated output an empty tensor, as ONNX's Loop defines."""

    type_name, version, opset = "Loop", 5, "opset5"
    attrs = (_PortMap("input_descriptions"), _PortMap("output_descriptions"),
             _PortMap("special_body_ports", (-1, -1)))
    n_inputs = (2, None)

    @classmethod
    def check_attrs(cls, attrs, node):
        if len(attrs["special_body_ports"]) != 2:
            raise OpAttributeError(f"{where(node)}: special_body_ports must be (current_iteration_input_idx, "
                                   f"body_condition_output_idx), got {attrs['special_body_ports']}")

    @classmethod
    def num_outputs(cls, node):
        return _output_count(node.attrs["output_descriptions"])

    @classmethod
    def bodies_and_outputs(cls, node):
        return [(node.bodies[0], node.attrs["output_descriptions"])] if node.bodies else []

    @classmethod
    def infer(cls, node):
        _rank_0_or_1(node, node.input_shape(1), "execution condition")
        if not node.bodies:
            return _pending(node)
        body = node.bodies[0]
        ins, outs = node.attrs["input_descriptions"], node.attrs["output_descriptions"]
        cur_iter, cond_idx = node.attrs["special_body_ports"]
        if cur_iter >= 0:
            _rank_0_or_1(node, _body_param(body, cur_iter).attrs["shape"], "current iteration Parameter")
        zero_iterations = _known_flag(node, node.input_value(1), "execution condition") is False
        if cond_idx < 0:  # still being built
            return _pending(node)
        cond_out = _body_value(body, cond_idx)
        _rank_0_or_1(node, cond_out.get_partial_shape(), "body condition")
        n_iter = -1
        always = _known_flag(node, cond_out, "body condition")
        if always is None and cond_out.node.type_name == "Parameter":
            for d in ins:
                if _body_param(body, d.body_parameter_index) is cond_out.node:
                    always = _known_flag(node, node.input_value(d.input_index), "body condition")
        if always is False:
            n_iter = 1
        _rank_0_or_1(node, node.input_shape(0), "trip count")
        trip = node.input_const(0)
        if trip is not None and always:
            n_iter = int(trip.reshape(-1)[0])
        offset = 2 - sum(1 for d in ins if d.input_index in (0, 1))
        if offset < 0:
            raise ShapeInferenceError(f"{where(node)}: external port id 0 or 1 is duplicated")
        if node.get_input_size() != len(ins) + offset:
            raise ShapeInferenceError(f"{where(node)}: {node.get_input_size()} inputs but {len(ins)} input "
                                      "descriptions")
        _check_descs(node, body, ins, outs, "an")
        _prepare_inputs(node, body, ins, set_types=True)
        body.validate_nodes_and_infer_types()
        cls._relax_back_edges(node, body, ins, outs, n_iter)
        results: list[tuple[Type, PartialShape]] = [(Type.dynamic, PartialShape.dynamic())] * cls.num_outputs(node)
        for d in outs:
            out = _body_value(body, d.body_value_index)
            t, ps = out.get_element_type(), out.get_partial_shape()
            if isinstance(d, ConcatOutput):
                if zero_iterations:
                    ps = PartialShape([0])
                elif ps.rank_is_static:
                    dims = list(ps) if len(ps) else [Dimension(1)]
                    axis = _norm_axis(node, d.axis, len(dims))
                    dims[axis] = (Dimension(dims[axis].get_length() * n_iter)
                                  if dims[axis].is_static and n_iter != -1 else Dimension())
                    ps = PartialShape(dims)
            results[d.output_index] = (t, ps)
        return results

    @classmethod
    def _relax_back_edges(cls, node, body, ins, outs, n_iter) -> None:
        """Make a back-edge Parameter as dynamic as the Result feeding it, until nothing changes."""
        back = {d.body_value_index: d.body_parameter_index for d in ins if isinstance(d, MergedInput)}
        if not back:
            return
        carried = [d.body_value_index for d in outs if isinstance(d, BodyOutput) and d.body_value_index in back]
        for _ in range(n_iter if n_iter != -1 else 1 << 30):
            changed = False
            for v in carried:
                ps = _body_value(body, v).get_partial_shape()
                param = _body_param(body, back[v])
                pps = param.attrs["shape"]
                if ps.rank_is_static:
                    if not pps.rank_is_static:
                        continue
                    if len(ps) == len(pps):
                        dims = [a if a.compatible(b) else Dimension() for a, b in zip(ps, pps)]
                        if any(not a.compatible(b) for a, b in zip(ps, pps)):
                            param.attrs["shape"] = PartialShape(dims)
                            changed = True
                    else:
                        param.attrs["shape"] = PartialShape.dynamic()
                        changed = True
                elif pps.rank_is_static:
                    param.attrs["shape"] = ps
                    changed = True
            if not changed:
                return
            body.validate_nodes_and_infer_types()

    @classmethod
    def backend_kernel(cls, backend, node):
        body = node.bodies[0]
        plan = compile_body(body, backend, node)
        xp = backend.xp
        cur_iter, cond_idx = node.attrs["special_body_ports"]

        def run(*args):
            trip = int(_scalar(xp, args[0]))
            cond = bool(_scalar(xp, args[1]))
            return _iterate(xp, plan, body, node, args, trip=trip if trip >= 0 else float("inf"), cond=cond,
                            cur_iter=cur_iter, cond_out=cond_idx, to_device=backend.to_device)

        return run


# --- If ---------------------------------------------------------------------------------------
@register
class If(_SubGraphOp):
    """Runs ``then_body`` when input 0 is true, else ``else_body``."""

    type_name, version, opset = "If", 8, "opset8"
    attrs = (_PortMap("then_inputs"), _PortMap("else_inputs"), _PortMap("then_outputs"),
             _PortMap("else_outputs"))
    n_inputs = (1, None)

    @classmethod
    def num_outputs(cls, node):
        return _output_count(node.attrs["then_outputs"], node.attrs["else_outputs"])

    @classmethod
    def bodies_and_outputs(cls, node):
        if len(node.bodies) != 2:
            return []
        return [(node.bodies[0], node.attrs["then_outputs"]), (node.bodies[1], node.attrs["else_outputs"])]

    @classmethod
    def infer(cls, node):
        _rank_0_or_1(node, node.input_shape(0), "condition")
        if len(node.bodies) != 2 or node.bodies[0] is None or node.bodies[1] is None:
            return _pending(node)
        sides = [(node.bodies[0], node.attrs["then_inputs"], node.attrs["then_outputs"]),
                 (node.bodies[1], node.attrs["else_inputs"], node.attrs["else_outputs"])]
        for body, ins, outs in sides:
            _check_descs(node, body, ins, outs, "a")
        cond = _known_flag(node, node.input_value(0), "condition")
        taken = sides if cond is None else [sides[0] if cond else sides[1]]
        for body, ins, _ in taken:
            _prepare_inputs(node, body, ins, set_types=False)
            body.validate_nodes_and_infer_types()
        n = cls.num_outputs(node)
        if cond is not None:
            body, _, outs = taken[0]
            results: list[tuple[Type, PartialShape]] = [(Type.dynamic, PartialShape.dynamic())] * n
            for d in outs:
                out = _body_value(body, d.body_value_index)
                results[d.output_index] = (out.get_element_type(), out.get_partial_shape())
            return results
        maps = [{d.output_index: d for d in outs} for _, _, outs in sides]
        results = []
        for i in range(n):
            for side, m in zip(("then", "else"), maps):
                if i not in m:
                    raise ShapeInferenceError(f"{where(node)}: output {i} is not associated with a Result "
                                              f"of the {side} body")
            a = _body_value(sides[0][0], maps[0][i].body_value_index)
            b = _body_value(sides[1][0], maps[1][i].body_value_index)
            t = a.get_element_type().merge(b.get_element_type())
            if t is None:
                raise ShapeInferenceError(f"{where(node)}: output {i} is {a.get_element_type()} in the then "
                                          f"body but {b.get_element_type()} in the else body")
            results.append((t, union_shape(a.get_partial_shape(), b.get_partial_shape())))
        return results

    @classmethod
    def backend_kernel(cls, backend, node):
        xp = backend.xp
        n_out = node.get_output_size()
        branches = []
        for body, ins, outs in ((node.bodies[0], node.attrs["then_inputs"], node.attrs["then_outputs"]),
                                (node.bodies[1], node.attrs["else_inputs"], node.attrs["else_outputs"])):
            feed = [(d.body_parameter_index, d.input_index) for d in ins]
            take = [(d.output_index, d.body_value_index) for d in outs]
            branches.append((compile_body(body, backend, node), len(body.get_parameters()), feed, take))

        def run(*args):
            plan, n_params, feed, take = branches[0 if bool(_scalar(xp, args[0])) else 1]
            body_in: list[Any] = [None] * n_params
            for p, i in feed:
                body_in[p] = args[i]
            res = plan(*body_in)
            values: list[Any] = [None] * n_out
            for o, r in take:
                values[o] = res[r]
            return values[0] if n_out == 1 else tuple(values)

        return run


# --- building in Python, with OpenVINO's methods --------------------------------------------------
class SubGraphNode(Node):
    """A TensorIterator, Loop or If under construction, with ``openvino.op`` methods: bodies are
    attached with ``set_function``/``set_body``/``set_then_body``, inputs wired with
    ``set_sliced_input``/``set_merged_input``/``set_invariant_input``/``set_input``, outputs made
    with ``get_iter_value``/``get_concatenated_slices``/``set_output``."""

    __slots__ = ()

    # bodies ----------------------------------------------------------------------------------
    def get_function(self, index: int = 0) -> Any:
        return self.bodies[index]

    def set_function(self, *args: Any) -> None:
        """``set_function(body)`` (TensorIterator, Loop) or ``set_function(index, body)``."""
        index, body = (0, args[0]) if len(args) == 1 else args
        while len(self.bodies) <= index:
            self.bodies.append(None)
        self.bodies[index] = body
        self._revalidate()

    def set_body(self, body: Any) -> None:
        self.set_function(0, body)

    def get_body(self) -> Any:
        return self.bodies[0]

    def set_then_body(self, body: Any) -> None:
        self.set_function(0, body)

    def set_else_body(self, body: Any) -> None:
        self.set_function(1, body)

    def get_then_body(self) -> Any:
        return self.bodies[0]

    def get_else_body(self) -> Any:
        return self.bodies[1]

    def set_special_body_ports(self, ports: Sequence[int]) -> None:
        self.attrs["special_body_ports"] = tuple(int(p) for p in ports)
        self._revalidate()

    def get_special_body_ports(self) -> tuple[int, int]:
        return self.attrs["special_body_ports"]

    def get_input_descriptions(self, index: int = 0) -> tuple:
        return self.attrs["then_inputs" if index == 0 else "else_inputs"] if self.type_name == "If" \
            else self.attrs["input_descriptions"]

    def get_output_descriptions(self, index: int = 0) -> tuple:
        return self.attrs["then_outputs" if index == 0 else "else_outputs"] if self.type_name == "If" \
            else self.attrs["output_descriptions"]

    def get_num_iterations(self) -> int:
        if self.type_name == "TensorIterator":
            return TensorIterator.num_iterations(self)
        return -1

    # inputs ------------------------------------------------------------------------------------
    def _new_input(self, value: Any) -> int:
        self._inputs.append(as_output(value))
        return len(self._inputs) - 1

    def _add(self, key: str, desc: Any) -> None:
        self.attrs[key] = tuple(self.attrs[key]) + (desc,)

    def set_sliced_input(self, parameter: Node, value: Any, start: int, stride: int, part_size: int, end: int,
                         axis: int) -> None:
        p = parameter_index(self.bodies[0], parameter)
        self._add("input_descriptions",
                  SliceInput(self._new_input(value), p, int(start), int(stride), int(part_size), int(end), int(axis)))

    def set_merged_input(self, body_parameter: Node, initial_value: Any, successive_value: Any) -> None:
        body = self.bodies[0]
        p, r = parameter_index(body, body_parameter), result_index(body, successive_value)
        self._add("input_descriptions", MergedInput(self._new_input(initial_value), p, r))

    def set_invariant_input(self, body_parameter: Node, value: Any) -> None:
        p = parameter_index(self.bodies[0], body_parameter)
        self._add("input_descriptions", InvariantInput(self._new_input(value), p))

    def set_input(self, value: Any, then_parameter: Node | None, else_parameter: Node | None) -> None:
        if then_parameter is None and else_parameter is None:
            raise ShapeInferenceError(f"{where(self)}: set_input needs a then or an else Parameter")
        i = self._new_input(value)
        if then_parameter is not None:
            self._add("then_inputs", InvariantInput(i, parameter_index(self.bodies[0], then_parameter)))
        if else_parameter is not None:
            self._add("else_inputs", InvariantInput(i, parameter_index(self.bodies[1], else_parameter)))

    # outputs -----------------------------------------------------------------------------------
    def _new_output(self) -> int:
        return self.op.num_outputs(self)

    def get_iter_value(self, body_value: Any, iteration: int = -1) -> Output:
        r = result_index(self.bodies[0], body_value)
        index = self._new_output()
        self._add("output_descriptions", BodyOutput(r, index, int(iteration)))
        return self._revalidate(index)

    def get_concatenated_slices(self, value: Any, start: int, stride: int, part_size: int, end: int,
                                axis: int) -> Output:
        if self.type_name == "Loop" and (start, stride, part_size, end) != (0, 1, 1, -1):
            raise ShapeInferenceError(f"{where(self)}: a Loop concatenates with start 0, stride 1, part_size 1 "
                                      f"and end -1, got {start}, {stride}, {part_size}, {end}")
        r = result_index(self.bodies[0], value)
        index = self._new_output()
        self._add("output_descriptions",
                  ConcatOutput(r, index, int(start), int(stride), int(part_size), int(end), int(axis)))
        return self._revalidate(index)

    def set_output(self, then_result: Any, else_result: Any) -> Output:
        index = self._new_output()
        self._add("then_outputs", BodyOutput(result_index(self.bodies[0], then_result), index))
        self._add("else_outputs", BodyOutput(result_index(self.bodies[1], else_result), index))
        return self._revalidate(index)

    def _revalidate(self, index: int | None = None) -> Output | None:
        from arrayrt.ir.graph import _PortInfo

        n = self.op.num_outputs(self)
        self._outputs += [_PortInfo() for _ in range(n - len(self._outputs))]
        self.validate_and_infer_types()
        return None if index is None else self.output(index)


@factory
def tensor_iterator(name: str | None = None) -> SubGraphNode:
    return SubGraphNode(TensorIterator, [], name=name)


@factory
def loop(trip_count: Any, execution_condition: Any, name: str | None = None) -> SubGraphNode:
    return SubGraphNode(Loop, [as_output(trip_count), as_output(execution_condition)], name=name)


@factory
def if_op(execution_condition: Any = None, name: str | None = None) -> SubGraphNode:
    """``if_op(cond)``; OpenVINO's ``if_op()`` without a condition is not supported."""
    return SubGraphNode(If, [as_output(execution_condition)], name=name)
