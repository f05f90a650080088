"""The :class:`Model`: parameters, results, sinks and the nodes between them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from arrayrt.ir.graph import Input, Node, Output, as_output, topological_order
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import ArrayrtError


class RtAny:
    """One ``rt_info`` value, as OpenVINO's ``OVAny``: ``value``, ``astype(T)``, ``aslist()``; it equals
    the value it holds."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def get(self) -> Any:
        return self.value

    def set(self, value: Any) -> None:
        self.value = value

    def astype(self, kind: type) -> Any:
        v = self.value
        if kind is bool and isinstance(v, str):
            if v.strip().upper() not in ("YES", "NO", "TRUE", "FALSE", "1", "0"):
                raise ArrayrtError(f"rt_info value {v!r} is not a bool")
            return v.strip().upper() in ("YES", "TRUE", "1")
        if kind is list:
            return self.aslist()
        try:
            return kind(v)
        except (TypeError, ValueError) as exc:
            raise ArrayrtError(f"rt_info value {v!r} cannot be read as {kind.__name__}: {exc}") from None

    def aslist(self, kind: type | None = None) -> list:
        v = self.value
        items = list(v) if isinstance(v, (list, tuple)) else [p.strip() for p in v.split(",")] \
            if isinstance(v, str) else [v]
        return [RtAny(i).astype(kind) for i in items] if kind is not None else items

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, RtAny) else other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"<RtAny: {self.value!r}>"


class Model:
    """A graph of nodes from Parameters to Results (and sinks such as ``Assign``).

    ``Model(results, parameters, name)`` as in OpenVINO: ``results`` may hold Result nodes or any
    node/output, which is then wrapped in a Result.
    """

    def __init__(self, results: "Sequence[Node | Output] | Node | Output",
                 parameters: Sequence[Node] | None = None, name: str = "Model",
                 sinks: Sequence[Node] | None = None, *, name_tensors: bool = True):
        from arrayrt.ir.ops import get_op

        if isinstance(results, (Node, Output)):
            results = [results]
        if isinstance(name, (list, tuple)):  # OpenVINO's Model(results, sinks, parameters, name)
            sinks, parameters, name = parameters, name, (sinks if isinstance(sinks, str) else "Model")
        if isinstance(parameters, str):  # Model(results, "name") shorthand
            parameters, name = None, parameters
        result_op = get_op("Result")
        self._results: list[Node] = []
        for r in results:
            if isinstance(r, Node) and r.type_name == "Result":
                self._results.append(r)
            elif isinstance(r, Node):
                self._results.extend(Node(result_op, [o]) for o in r.outputs())
            else:
                self._results.append(Node(result_op, [as_output(r)]))
        self._sinks: list[Node] = list(sinks or [])
        if parameters is None:
            parameters = [n for n in topological_order(self._results + self._sinks)
                          if n.type_name == "Parameter"]
        self._parameters: list[Node] = list(parameters)
        self.name = name
        self.rt_info: dict[str, Any] = {}
        self._check_closed()
        if name_tensors:  # as OpenVINO's Model(): unnamed inputs take their Parameter's name,
            for p in self._parameters:  # unnamed outputs their Result's
                if not p._outputs[0].names:
                    p._outputs[0].names = {p.friendly_name}
            for r in self._results:
                src = r.input_value(0)
                if not src.get_names():
                    src._info.names = {r.friendly_name}

    def _check_closed(self) -> None:
        known = {p.uid for p in self._parameters}
        for n in self.get_ordered_ops():
            if n.type_name == "Parameter" and n.uid not in known:
                raise ArrayrtError(
                    f"Parameter '{n.friendly_name}' is used by the model but not in its parameter list")

    # --- names --------------------------------------------------------------------------------
    @property
    def friendly_name(self) -> str:
        return self.name

    def get_name(self) -> str:
        return self.name

    def get_friendly_name(self) -> str:
        return self.name

    def set_friendly_name(self, name: str) -> None:
        self.name = name

    # --- structure ----------------------------------------------------------------------------
    def get_parameters(self) -> list[Node]:
        return list(self._parameters)

    @property
    def parameters(self) -> list[Node]:
        return list(self._parameters)

    def get_results(self) -> list[Node]:
        return list(self._results)

    @property
    def results(self) -> list[Node]:
        return list(self._results)

    def get_sinks(self) -> list[Node]:
        return list(self._sinks)

    @property
    def sinks(self) -> list[Node]:
        return list(self._sinks)

    def add_sinks(self, sinks: Iterable[Node]) -> None:
        self._sinks.extend(sinks)

    def add_results(self, results: Iterable[Node]) -> None:
        self._results.extend(results)

    def add_parameters(self, params: Iterable[Node]) -> None:
        self._parameters.extend(params)

    def remove_result(self, result: Node) -> None:
        self._results = [r for r in self._results if r is not result]

    def remove_parameter(self, param: Node) -> None:
        self._parameters = [p for p in self._parameters if p is not param]

    def get_ordered_ops(self) -> list[Node]:
        """All nodes in topological order; Parameters first in their declared order."""
        return topological_order(self._results + self._sinks, self._parameters)

    def get_ops(self) -> list[Node]:
        return self.get_ordered_ops()

    def consumers(self) -> dict[Output, list[Input]]:
        """Map each output port to the input ports that read it."""
        users: dict[Output, list[Input]] = {}
        for n in self.get_ordered_ops():
            for i, src in enumerate(n._inputs):
                users.setdefault(src, []).append(Input(n, i))
        return users

    # --- inputs / outputs ---------------------------------------------------------------------
    @property
    def inputs(self) -> list[Output]:
        return [p.output(0) for p in self._parameters]

    @property
    def outputs(self) -> list[Output]:
        return [r.output(0) for r in self._results]

    def input(self, key: "int | str | None" = None) -> Output:
        return self._port(self.inputs, key, "input")

    def output(self, key: "int | str | None" = None) -> Output:
        return self._port(self.outputs, key, "output")

    def _port(self, ports: list[Output], key, kind: str) -> Output:
        if key is None:
            if len(ports) != 1:
                raise ArrayrtError(f"the model has {len(ports)} {kind}s; name one")
            return ports[0]
        if isinstance(key, int):
            if not 0 <= key < len(ports):
                raise ArrayrtError(f"{kind} index {key} out of range: the model has {len(ports)} {kind}s")
            return ports[key]
        for p in ports:
            if key in p.get_names():
                return p
        for p in ports:  # friendly name of the Parameter / Result as a fallback
            if p.node.friendly_name == key:
                return p
        known = sorted(n for p in ports for n in p.get_names())
        raise ArrayrtError(f"the model has no {kind} named '{key}'; known names: {known}")

    def get_output_size(self) -> int:
        return len(self._results)

    def get_output_element_type(self, i: int):
        return self._results[i].output(0).get_element_type()

    def get_output_partial_shape(self, i: int) -> PartialShape:
        return self._results[i].output(0).get_partial_shape()

    def get_output_shape(self, i: int) -> tuple[int, ...]:
        return self._results[i].output(0).get_shape()

    def get_output_op(self, i: int) -> Node:
        """The Result node of output ``i``."""
        return self._results[i]

    def get_result(self) -> Node:
        """The Result of a single-output model."""
        if len(self._results) != 1:
            raise ArrayrtError(f"the model has {len(self._results)} results; use get_results()")
        return self._results[0]

    def get_result_index(self, value: "Output | Node") -> int:
        """Index of the Result that ``value`` is (a Result node or its output), else -1."""
        node = value if isinstance(value, Node) else value.node
        return next((i for i, r in enumerate(self._results) if r is node), -1)

    def get_parameter_index(self, parameter: Node) -> int:
        """Index of ``parameter`` among the model's Parameters, else -1."""
        return next((i for i, p in enumerate(self._parameters) if p is parameter), -1)

    def is_dynamic(self) -> bool:
        return any(n.output(i).get_partial_shape().is_dynamic
                   for n in self.get_ordered_ops() for i in range(n.get_output_size()))

    # --- edits --------------------------------------------------------------------------------
    def validate_nodes_and_infer_types(self) -> None:
        for n in self.get_ordered_ops():
            n.validate_and_infer_types()

    def reshape(self, shapes: Any, variables_shapes: Mapping | None = None) -> None:
        """Give Parameters new shapes and re-run shape inference. ``shapes`` is one shape (single
        input), a list of shapes by index, or a mapping keyed by index, tensor name or Output."""
        updates: dict[int, PartialShape] = {}
        if isinstance(shapes, Mapping):
            for k, v in shapes.items():
                if isinstance(k, Output):
                    k = next((i for i, p in enumerate(self._parameters) if p is k.node), None)
                    if k is None:
                        raise ArrayrtError("reshape: that output is not a model input")
                elif isinstance(k, str):
                    k = self._parameters.index(self.input(k).node)
                updates[int(k)] = _to_pshape(v)
        elif len(self._parameters) == 1 and not _is_list_of_shapes(shapes):
            updates[0] = _to_pshape(shapes)
        else:
            for i, v in enumerate(shapes):
                updates[i] = _to_pshape(v)
        for i, ps in updates.items():
            p = self._parameters[i]
            p.attrs["shape"] = ps
        self.validate_nodes_and_infer_types()

    def add_outputs(self, outputs: Any) -> list[Output]:
        """Make more tensors model outputs: a tensor name, ``(op_name, port)``, an Output, or a list."""
        from arrayrt.ir.ops import get_op

        items = outputs if isinstance(outputs, list) else [outputs]
        ops = self.get_ordered_ops()
        added = []
        for item in items:
            if isinstance(item, Output):
                out = item
            elif isinstance(item, tuple):
                name, port = item
                node = next((n for n in ops if n.friendly_name == name), None)
                if node is None:
                    raise ArrayrtError(f"add_outputs: no op named '{name}'")
                out = node.output(int(port))
            elif isinstance(item, str):
                out = next((n.output(i) for n in ops if n.type_name != "Result"
                            for i in range(n.get_output_size()) if item in n.output(i).get_names()), None)
                if out is None:
                    raise ArrayrtError(f"add_outputs: tensor name '{item}' was not found")
            else:
                raise ArrayrtError(f"add_outputs: cannot use {item!r}")
            existing = next((r for r in self._results if r.input_value(0) == out), None)
            if existing is None:
                existing = Node(get_op("Result"), [out])
                self._results.append(existing)
            added.append(existing.output(0))
        return added

    def clone(self) -> "Model":
        """A copy with new nodes (constant data is shared, not copied)."""
        return clone_model(self)

    # --- rt_info ------------------------------------------------------------------------------
    def get_rt_info(self, path: "str | Sequence[str] | None" = None) -> Any:
        if path is None:
            return self.rt_info
        cur: Any = self.rt_info
        for key in ([path] if isinstance(path, str) else path):
            if not isinstance(cur, Mapping) or key not in cur:
                raise ArrayrtError(f"rt_info has no key {path!r}")
            cur = cur[key]
        return RtAny(cur)

    def has_rt_info(self, path: "str | Sequence[str]") -> bool:
        try:
            self.get_rt_info(path)
            return True
        except ArrayrtError:
            return False

    def set_rt_info(self, value: Any, path: "str | Sequence[str]") -> None:
        if isinstance(value, RtAny):
            value = value.value
        keys = [path] if isinstance(path, str) else list(path)
        cur = self.rt_info
        for key in keys[:-1]:
            cur = cur.setdefault(key, {})
        cur[keys[-1]] = value

    def __repr__(self) -> str:
        ins = ", ".join(repr(i) for i in self.inputs)
        outs = ", ".join(repr(o) for o in self.outputs)
        return f"<Model: '{self.name}'\ninputs[\n{ins}\n]\noutputs[\n{outs}\n]>"


def _is_list_of_shapes(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(
        isinstance(x, (list, tuple, PartialShape)) for x in v)


def _to_pshape(v: Any) -> PartialShape:
    if isinstance(v, PartialShape):
        return v
    if isinstance(v, str):
        return PartialShape(v)
    if isinstance(v, Dimension):
        return PartialShape([v])
    return PartialShape([d if isinstance(d, (Dimension, str, tuple, list)) else int(d) for d in v])


def clone_model(model: Model) -> Model:
    mapping: dict[int, Node] = {}
    for n in model.get_ordered_ops():
        new_inputs = [Output(mapping[src.node.uid], src.index) for src in n._inputs]
        c = Node(n.op, new_inputs, dict(n.attrs), n._friendly_name, num_outputs=len(n._outputs),
                 validate=False)
        for p_new, p_old in zip(c._outputs, n._outputs):
            p_new.element_type, p_new.shape = p_old.element_type, p_old.shape
            p_new.names = set(p_old.names)
            p_new.rt_info = dict(p_old.rt_info)
        c.rt_info = dict(n.rt_info)
        c.ir_id = n.ir_id
        c.bodies = [clone_model(b) for b in n.bodies]
        mapping[n.uid] = c
    for n in model.get_ordered_ops():
        mapping[n.uid].op.after_clone(mapping[n.uid], mapping)
    m = Model([mapping[r.uid] for r in model._results], [mapping[p.uid] for p in model._parameters],
              model.name, sinks=[mapping[s.uid] for s in model._sinks], name_tensors=False)
    m.rt_info = _deepcopy_rt(model.rt_info)
    return m


def _deepcopy_rt(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deepcopy_rt(v) for k, v in d.items()}
    return d
