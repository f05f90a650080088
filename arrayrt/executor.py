"""Compile a model into a flat plan: one generated Python function per (model, backend).

At compile time the executor orders the nodes, uploads constants once, folds every node whose
inputs are all known (constants, static shapes), asks the backend for one kernel per remaining node,
and writes straight-line Python source: one line per node, with ``del`` after each intermediate's
last use so buffers are freed as soon as possible. At inference nothing is looked up, walked or
inferred: the generated function is called with the input arrays and returns the output arrays.

Only the backend's ``xp``, ``kernel`` and ``to_device`` are used here: no array library is named.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arrayrt.errors import ArrayrtError, CompileError, DeviceError, InferenceInputError, where
from arrayrt.ir.ops.base import OpDef

_FILENAME = "<arrayrt-plan>"


@dataclass
class ProfileRecord:
    """One executed (or folded) node of a plan, for ``get_profiling_info``."""

    node_name: str
    node_type: str
    exec_type: str
    status: str  # EXECUTED | OPTIMIZED_OUT
    real_time: float = 0.0  # seconds, last inference


@dataclass
class Plan:
    """An executable plan: ``plan(*inputs) -> tuple(outputs)``."""

    fn: Callable[..., tuple]
    backend: Any
    n_inputs: int
    n_outputs: int
    source: str
    line_nodes: dict[int, Any]
    records: list[ProfileRecord] = field(default_factory=list)
    profiled: bool = False
    kernel_count: int = 0
    folded_count: int = 0
    #: variable ids of a stateful model: the plan takes their values after the inputs and returns
    #: their new values after the outputs
    state_ids: list[str] = field(default_factory=list)

    def __call__(self, *inputs: Any) -> tuple:
        try:
            if self.profiled:
                outs, times = self.fn(*inputs)
                executed = [r for r in self.records if r.status == "EXECUTED"]
                for rec, t in zip(executed, times):
                    rec.real_time = float(t)  # a device clock's span (see build_plan) reads itself now
                return outs
            return self.fn(*inputs)
        except ArrayrtError:
            raise
        except Exception as exc:  # noqa: BLE001 - name the node whose kernel failed
            node = self._failing_node(exc)
            if isinstance(exc, MemoryError):  # the device ran out (cupy's OutOfMemoryError is one), not the inputs
                at = f"{where(node)}: " if node is not None else ""
                raise DeviceError(f"{at}out of memory during inference: {type(exc).__name__}: {exc}") from exc
            if node is None:
                raise
            raise InferenceInputError(f"{where(node)}: inference failed: {type(exc).__name__}: {exc}") from exc

    def _failing_node(self, exc: BaseException) -> Any:
        tb = exc.__traceback__
        node = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == _FILENAME:
                node = self.line_nodes.get(tb.tb_lineno, node)
            tb = tb.tb_next
        return node


def build_plan(model: Any, backend: Any, *, profile: bool = False, fold: bool = True) -> Plan:
    """Compile ``model`` for ``backend``; see the module docstring."""
    params = model.get_parameters()
    order = model.get_ordered_ops()
    var: dict[tuple[int, int], str] = {}
    for i, p in enumerate(params):
        var[(p.uid, 0)] = f"a{i}"
    param_uids = {p.uid for p in params}
    state_ids: list[str] = []
    for node in order:
        if node.type_name in ("ReadValue", "Assign") and node.attrs["variable_id"] not in state_ids:
            state_ids.append(node.attrs["variable_id"])

    consts: list[Any] = []
    kernels: list[Any] = []
    steps: list[tuple[Any, list[str], list[str]]] = []  # (node, input vars, output vars)
    records: list[ProfileRecord] = []
    folded = 0

    def add_const(value: Any) -> str:
        consts.append(value)
        return f"c{len(consts) - 1}"

    const_values: dict[str, Any] = {}
    for node in order:
        t = node.type_name
        if t == "Parameter":
            if node.uid not in param_uids:
                raise CompileError(f"{where(node)} is not among the model's parameters")
            backend.check(node)  # an input type the library cannot hold fails now, not at inference
            continue
        if t == "Result":
            continue
        if t == "Constant":
            name = add_const(backend.to_device(node.attrs["value"]))
            const_values[name] = consts[-1]
            var[(node.uid, 0)] = name
            continue
        backend.check(node)
        ins = [_source_var(var, node, i) for i in range(node.get_input_size())]
        if t == "ReadValue":
            if not ins:  # no init input: zeros of the variable's type and shape
                ins = [add_const(backend.to_device(_zeros(node)))]
            ins.append(f"s{state_ids.index(node.attrs['variable_id'])}")
        n_out = node.get_output_size()
        if fold and node.op.foldable and all(v in const_values for v in ins):
            outs = _fold(backend, node, [const_values[v] for v in ins])
            for j, value in enumerate(outs[:n_out]):
                name = add_const(value)
                const_values[name] = value
                var[(node.uid, j)] = name
            records.append(ProfileRecord(node.friendly_name, t, "constant_folded", "OPTIMIZED_OUT"))
            folded += 1
            continue
        if fold and "evaluate" in _own_methods(node.op):
            values = [node.static_value(j) for j in range(n_out)]
            if all(v is not None for v in values):
                for j, v in enumerate(values):
                    name = add_const(backend.to_device(v))
                    const_values[name] = consts[-1]
                    var[(node.uid, j)] = name
                records.append(ProfileRecord(node.friendly_name, t, "constant_folded", "OPTIMIZED_OUT"))
                folded += 1
                continue
        try:
            kernels.append(backend.kernel(node))
        except ArrayrtError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise CompileError(f"{where(node)}: building the {backend.name} kernel failed: {exc}") from exc
        outs_v = [f"t{node.uid}_{j}" for j in range(n_out)]
        for j, v in enumerate(outs_v):
            var[(node.uid, j)] = v
        steps.append((node, ins, outs_v))
        exec_type = getattr(kernels[-1], "exec_type", None) or f"{backend.name}_{'override' if node.type_name in backend.overrides else 'ref'}"
        records.append(ProfileRecord(node.friendly_name, t, exec_type, "EXECUTED"))

    results = [_source_var(var, r, 0) for r in model.get_results()]
    for i, vid in enumerate(state_ids):  # new state: the Assign's value, else unchanged
        assigned = [n for n in order if n.type_name == "Assign" and n.attrs["variable_id"] == vid]
        results.append(_source_var(var, assigned[-1], 0) if assigned else f"s{i}")
    wrap = None if profile else getattr(backend, "wrap_plan", None)
    source, line_nodes = _generate(len(params), len(state_ids), len(consts), steps, results, profile,
                                   consts_as_arg=wrap is not None)
    namespace: dict[str, Any] = {}
    code = compile(source, _FILENAME, "exec")
    exec(code, namespace)  # noqa: S102 - source generated above from integer-indexed names only
    # PERF_COUNT's clock: the backend's own (a GPU times nodes by events on its stream, read once the
    # inference is over), else the host's clock with a synchronisation after every node
    clock = getattr(backend, "profile_clock", None) if profile else None
    mark, sync = clock() if clock is not None else (time.perf_counter, backend.synchronize)
    fn = namespace["make"](tuple(kernels), tuple(consts), mark, sync)
    if wrap is not None:  # e.g. jax: jit the whole plan, constants passed as one argument
        fn = wrap(fn, tuple(consts))
    return Plan(fn=fn, backend=backend, n_inputs=len(params), n_outputs=len(results) - len(state_ids),
                source=source, line_nodes=line_nodes, records=records, profiled=profile,
                kernel_count=len(kernels), folded_count=folded, state_ids=state_ids)


def _own_methods(op: type[OpDef]) -> set[str]:
    names: set[str] = set()
    for klass in op.__mro__:
        if klass is OpDef:
            break
        names |= set(klass.__dict__)
    return names


def _source_var(var: dict, node: Any, i: int) -> str:
    src = node.input_value(i)
    try:
        return var[(src.node.uid, src.index)]
    except KeyError:
        raise CompileError(f"{where(node)}: input {i} comes from {where(src.node)}, "
                           "which is not part of the model") from None


def _fold(backend: Any, node: Any, values: Sequence[Any]) -> list[Any]:
    try:
        res = backend.kernel(node)(*values)
    except ArrayrtError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CompileError(f"{where(node)}: constant folding failed: {type(exc).__name__}: {exc}") from exc
    if node.get_output_size() == 1:  # a single output may itself be a list (a sequence)
        return [res[0] if isinstance(res, tuple) and len(res) == 1 else res]
    return list(res)


def _zeros(node: Any) -> Any:
    import numpy as np

    out = node.output(0)
    if not out.get_partial_shape().is_static or out.get_element_type().is_dynamic:
        raise CompileError(f"{where(node)}: variable '{node.attrs['variable_id']}' has no init input and "
                           f"no static type/shape ({out.get_element_type()}{out.get_partial_shape()})")
    return np.zeros(out.get_shape(), out.get_element_type().to_dtype())


def _generate(n_params: int, n_states: int, n_consts: int, steps: list, results: list[str],
              profile: bool, consts_as_arg: bool = False) -> tuple[str, dict[int, Any]]:
    """The plan's source. With ``consts_as_arg`` the function takes the constants as its first
    argument (``run(C, *inputs, *states)``) instead of closing over them, so a tracing compiler
    sees them as inputs rather than baking them into the program."""
    last_use: dict[str, int] = {}
    for i, (_, ins, _) in enumerate(steps):
        for v in ins:
            last_use[v] = i
    keep = set(results)
    lines = ["def make(K, C, _pc, _sync):"]
    if steps:
        lines.append("    " + ", ".join(f"k{i}" for i in range(len(steps))) + ", = K")
    unpack = ", ".join(f"c{i}" for i in range(n_consts)) + ", = C"
    if n_consts and not consts_as_arg:
        lines.append("    " + unpack)
    args = ", ".join(["C"] * consts_as_arg + [f"a{i}" for i in range(n_params)] +
                     [f"s{i}" for i in range(n_states)])
    lines.append(f"    def run({args}):")
    if n_consts and consts_as_arg:
        lines.append("        " + unpack)
    if profile:
        lines.append(f"        _T = [0.0] * {len(steps)}")
        lines.append("        _s = _pc()")
    line_nodes: dict[int, Any] = {}
    dead_after: dict[int, list[str]] = {}
    for v, i in last_use.items():
        if v not in keep and v[0] not in "cs":
            dead_after.setdefault(i, []).append(v)
    for i, (node, ins, outs) in enumerate(steps):
        target = outs[0] if len(outs) == 1 else ", ".join(outs) + ","
        lines.append(f"        {target} = k{i}({', '.join(ins)})")
        line_nodes[len(lines)] = node
        if profile:
            lines.append(f"        _sync(); _n = _pc(); _T[{i}] = _n - _s; _s = _n")
        dead = [v for v in dead_after.get(i, ()) if v not in outs]
        dead += [v for v in outs if v not in last_use and v not in keep]
        if dead:
            lines.append(f"        del {', '.join(dead)}")
    ret = "(" + "".join(f"{r}, " for r in results) + ")"
    lines.append(f"        return {ret}, _T" if profile else f"        return {ret}")
    lines.append("    return run")
    return "\n".join(lines) + "\n", line_nodes
