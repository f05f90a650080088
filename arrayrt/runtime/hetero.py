"""HETERO: one model split over several devices by what each supports, last device as fallback.

The partitioner is three small steps, each testable on its own:

1. :func:`annotate` — each compute node gets the first device (in priority order) whose backend
   supports it; ``rt_info["affinity"]`` overrides. Parameters, Constants and Results get none:
   constants are copied into every subgraph that reads them, results follow their producer.
2. :func:`assign_subgraphs` — nodes are merged, in topological order, into numbered subgraphs of one
   device each: a node joins the earliest subgraph of its device numbered no lower than the latest
   subgraph it reads from, else opens a new one. Subgraph order is then an execution order, so no
   A→B→A cycle can arise, and merging is maximal within that order.
3. :func:`extract` — each subgraph becomes a model of its own: values coming from outside become
   Parameters, values used outside become Results; a :class:`Cut` records each crossing. A crossing
   value computed from shapes and constants alone (a dynamic model's shape vector) is marked
   :data:`~arrayrt.ir.graph.SHAPE_ONLY`, so a static-shape compiler (XLA) takes it by value, as it
   would have taken it uncut.

:class:`HeteroPlan` runs the compiled subgraphs in order, moving arrays between array libraries at
the cuts (DLPack when both libraries speak it, else through numpy) and counting the transfers. A
variable's ReadValue and Assign may land in different subgraphs, even on different devices: each
subgraph reads the value the inference started with, and the Assign's subgraph gives the next one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arrayrt.errors import CompileError, DeviceError, where
from arrayrt.executor import ProfileRecord
from arrayrt.ir.graph import SHAPE_ONLY, Node, Output, is_shape_only
from arrayrt.ir.model import Model

_PASSIVE = ("Parameter", "Constant", "Result")


def parse_priorities(spec: str, available: Sequence[str]) -> list[str]:
    """``"GPU,CPU"`` -> ``["GPU", "CPU"]``, refusing empty lists, repeats and absent devices."""
    devices = [d.strip().upper() for d in spec.split(",")]
    if not spec.strip() or any(not d for d in devices):
        raise DeviceError(f"HETERO needs a device priority list, e.g. HETERO:GPU,CPU (got '{spec}')")
    seen = set()
    for d in devices:
        base = d.split(".", 1)[0]
        if base in seen:
            raise DeviceError(f"HETERO: device {d} is listed twice in '{spec}'")
        seen.add(base)
        if base not in available:
            raise DeviceError(f"HETERO: device {d} is not available; available devices: {list(available)}")
    return devices


def annotate(model: Model, backends: dict[str, Any]) -> dict[int, str]:
    """Node uid -> device for every compute node (see the module docstring)."""
    order = list(backends)
    out: dict[int, str] = {}
    nodes = model.get_ordered_ops()
    for node in nodes:
        if node.type_name in _PASSIVE:
            continue
        forced = node.rt_info.get("affinity")
        if forced is not None:
            dev = str(forced.get("value") if isinstance(forced, dict) else forced).upper()
            if dev not in backends:
                raise DeviceError(f"{where(node)}: affinity '{dev}' names a device that is not in the "
                                  f"HETERO list {order}")
            backends[dev].check(node)
            out[node.uid] = dev
            continue
        for dev in order:
            if backends[dev].supports(node):
                out[node.uid] = dev
                break
        else:
            reasons = "; ".join(f"{d}: {backends[d].why_not(node)}" for d in order)
            raise CompileError(f"{where(node)}: no device in HETERO:{','.join(order)} runs it ({reasons})")
    return out


def assign_subgraphs(model: Model, affinity: dict[int, str]) -> tuple[dict[int, int], list[str]]:
    """Node uid -> subgraph index, and the device of each subgraph (see the module docstring)."""
    sub_of: dict[int, int] = {}
    devices: list[str] = []
    for node in model.get_ordered_ops():
        if node.uid not in affinity:
            continue
        dev = affinity[node.uid]
        floor = max((sub_of[src.node.uid] for src in node.input_values() if src.node.uid in sub_of),
                    default=0)
        for extra in node.op.extra_dependencies(node):
            floor = max(floor, sub_of.get(extra.uid, 0))
        target = next((i for i in range(floor, len(devices)) if devices[i] == dev), None)
        if target is None:
            devices.append(dev)
            target = len(devices) - 1
        sub_of[node.uid] = target
    return sub_of, devices


@dataclass
class Cut:
    """A value crossing from one subgraph (or the model inputs, ``src_sub`` -1) to another."""

    source: Output
    src_sub: int
    dst_sub: int  # len(subgraphs) for the model outputs


@dataclass
class Subgraph:
    index: int
    device: str
    model: Model
    inputs: list[Output]   # original outputs feeding this subgraph's Parameters, in order
    outputs: list[Output]  # original outputs this subgraph's Results return, in order
    node_names: list[str] = field(default_factory=list)


def extract(model: Model, sub_of: dict[int, int], devices: list[str]) -> tuple[list[Subgraph], list[Cut]]:
    """Build one model per subgraph (see the module docstring)."""
    from arrayrt.ir.ops import get_op

    param_op, result_op = get_op("Parameter"), get_op("Result")
    order = model.get_ordered_ops()
    consumers = model.consumers()
    n = len(devices)
    clones: list[dict[int, Node]] = [{} for _ in range(n)]
    inputs: list[dict[Output, Node]] = [{} for _ in range(n)]
    subs = [Subgraph(i, devices[i], None, [], []) for i in range(n)]  # type: ignore[arg-type]
    cuts: list[Cut] = []
    shape_only: dict[tuple[int, int], bool] = {}

    def home(out: Output) -> int:
        return sub_of.get(out.node.uid, -1)

    def value_in(i: int, out: Output) -> Output:
        src = out.node
        if src.type_name == "Constant":  # constants travel with their consumers
            c = clones[i].get(src.uid)
            if c is None:
                c = Node(src.op, [], dict(src.attrs), src._friendly_name)
                c.rt_info = dict(src.rt_info)
                clones[i][src.uid] = c
            return c.output(0)
        if home(out) == i:
            return clones[i][src.uid].output(out.index)
        p = inputs[i].get(out)
        if p is None:
            p = Node(param_op, [], {"shape": out.get_partial_shape(), "element_type": out.get_element_type()},
                     name=f"{src.friendly_name}/{out.index}/to_{devices[i]}")
            p._outputs[0].names = set(out.get_names())
            if is_shape_only(out, shape_only):  # a shape vector: known while compiling, as it was
                p.rt_info[SHAPE_ONLY] = True
            inputs[i][out] = p
            subs[i].inputs.append(out)
            cuts.append(Cut(out, home(out), i))
        return p.output(0)

    for node in order:
        i = sub_of.get(node.uid)
        if i is None:
            continue
        c = Node(node.op, [value_in(i, s) for s in node.input_values()], dict(node.attrs),
                 node._friendly_name, num_outputs=node.get_output_size(), validate=False, ir_id=node.ir_id)
        for p_new, p_old in zip(c._outputs, node._outputs):
            p_new.element_type, p_new.shape = p_old.element_type, p_old.shape
            p_new.names, p_new.rt_info = set(p_old.names), dict(p_old.rt_info)
        c.rt_info = dict(node.rt_info)
        c.bodies = list(node.bodies)
        clones[i][node.uid] = c
        subs[i].node_names.append(node.friendly_name)

    results: list[list[Node]] = [[] for _ in range(n)]
    model_outputs = {r.input_value(0) for r in model.get_results()}
    for node in order:
        i = sub_of.get(node.uid)
        if i is None:
            continue
        for k in range(node.get_output_size()):
            out = node.output(k)
            outside = any(sub_of.get(u.node.uid, -1) != i for u in consumers.get(out, ())
                          if u.node.type_name != "Result") or out in model_outputs
            if outside:
                results[i].append(Node(result_op, [clones[i][node.uid].output(k)]))
                subs[i].outputs.append(out)
    sinks = [[clones[sub_of[s.uid]][s.uid] for s in model.get_sinks() if sub_of.get(s.uid) == i] for i in range(n)]
    for i in range(n):
        if not results[i] and not sinks[i]:
            raise CompileError(f"HETERO: subgraph {i} on {devices[i]} produces nothing")
        subs[i].model = Model(results[i], list(inputs[i].values()), f"{model.name}/subgraph{i}_{devices[i]}",
                              sinks=sinks[i], name_tensors=False)
    for r in model.get_results():
        src = r.input_value(0)
        cuts.append(Cut(src, home(src), n))
    return subs, cuts


class HeteroPlan:
    """Runs compiled subgraphs in order; quacks like :class:`arrayrt.executor.Plan`."""

    def __init__(self, model: Model, subgraphs: list[Subgraph], plans: list[Any], backends: list[Any],
                 cuts: list[Cut]):
        self.subgraphs, self.plans, self.backends, self.cuts = subgraphs, plans, backends, cuts
        params = model.get_parameters()
        self.n_inputs = len(params)
        self.n_outputs = len(model.get_results())
        # a variable's ReadValue and Assign may sit in different subgraphs (of one device or two):
        # every subgraph reads the value the inference started with, the one holding the Assign
        # gives the new value (_assigner: variable -> subgraph index)
        self.state_ids = list(dict.fromkeys(vid for p in plans for vid in p.state_ids))
        self._assigner = {n.attrs["variable_id"]: i for i, s in enumerate(subgraphs)
                          for n in s.model.get_ordered_ops() if n.type_name == "Assign"}
        self.profiled = any(p.profiled for p in plans)
        self.transfers = 0
        self.transfer_bytes = 0
        # slot bookkeeping: every value lives in a dict keyed by (node uid, port)
        self._param_keys = [(p.uid, 0) for p in params]
        self._sub_inputs = [[(o.node.uid, o.index) for o in s.inputs] for s in subgraphs]
        self._sub_outputs = [[(o.node.uid, o.index) for o in s.outputs] for s in subgraphs]
        self._results = [(r.input_value(0).node.uid, r.input_value(0).index) for r in model.get_results()]
        self._constants = {(r.input_value(0).node.uid, 0): (r.input_value(0).node.attrs["value"], -1)
                           for r in model.get_results() if r.input_value(0).node.type_name == "Constant"}

    @property
    def records(self) -> list[ProfileRecord]:
        return [r for p in self.plans for r in p.records]

    @property
    def kernel_count(self) -> int:
        return sum(p.kernel_count for p in self.plans)

    def __call__(self, *args: Any) -> tuple:
        inputs, states = args[: self.n_inputs], args[self.n_inputs:]
        env: dict[tuple[int, int], tuple[Any, int]] = dict(self._constants)  # key -> (array, home)
        for key, a in zip(self._param_keys, inputs):
            env[key] = (a, -1)
        # a state value lives where its Assign ran (or on the host, set by the caller, or None)
        old = {vid: (v, self._assigner.get(vid, -1)) for vid, v in zip(self.state_ids, states)}
        new = dict(old)
        for i, (plan, backend) in enumerate(zip(self.plans, self.backends)):
            ins = [self._move(env[k], backend, i) for k in self._sub_inputs[i]]
            held = [self._move(old[vid], backend, i) for vid in plan.state_ids]
            outs = plan(*ins, *held)
            for k, v in zip(self._sub_outputs[i], outs[: plan.n_outputs]):
                env[k] = (v, i)
            for vid, v in zip(plan.state_ids, outs[plan.n_outputs:]):
                if self._assigner.get(vid) == i:
                    new[vid] = (v, i)
        results = tuple(self._to_numpy(env[k]) for k in self._results)
        return results + tuple(new[vid][0] for vid in self.state_ids)

    def _move(self, item: tuple[Any, int], backend: Any, dst: int) -> Any:
        value, src = item
        src_backend = self.backends[src] if src >= 0 else None
        if src_backend is backend or value is None:
            return value
        self.transfers += 1
        self.transfer_bytes += int(getattr(value, "nbytes", 0) or 0)
        return transfer(value, src_backend, backend)

    def _to_numpy(self, item: tuple[Any, int]) -> Any:
        value, src = item
        if src < 0 or value is None:
            return value
        if isinstance(value, list):
            return [self.backends[src].to_host(v) for v in value]
        return self.backends[src].to_host(value)


def transfer(value: Any, src: Any, dst: Any) -> Any:
    """Move an array from backend ``src`` (None: numpy host) to backend ``dst``: DLPack when the
    destination can import the source's array directly, else through a host numpy array.
    Sequences move element by element; an absent optional (None) stays None."""
    if value is None:
        return None
    if isinstance(value, list):
        return [transfer(v, src, dst) for v in value]
    if src is not None:
        try:
            return dst.from_dlpack(value)
        except (TypeError, ValueError, RuntimeError, BufferError, AttributeError, NotImplementedError):
            pass
        value = src.to_host(value)
    return dst.to_device(value)


def calibrate_cuts(model: Model, sg: Subgraph, samples: Any) -> dict[str, Any]:
    """The values that enter subgraph ``sg`` on the model-level calibration ``samples`` (a feed
    mapping, or a list of feeds), computed on the numpy backend: ``{Parameter name: stacked values}``
    for the subgraph's Parameters, so a quantising backend derives its input scales from them."""
    import numpy as np

    from arrayrt.backends import get_backend
    from arrayrt.executor import build_plan
    from arrayrt.ir.ops import get_op

    feeds = [samples] if isinstance(samples, dict) else list(samples)
    params = model.get_parameters()
    probe = Model([Node(get_op("Result"), [o]) for o in sg.inputs], params, "calibration_probe",
                  name_tensors=False)
    plan = build_plan(probe, get_backend("numpy")())
    values: list[list[Any]] = [[] for _ in sg.inputs]
    for feed in feeds:
        args = []
        for i, p in enumerate(params):
            if isinstance(feed, dict):
                names = [i, str(i), p.friendly_name, *p.output(0).get_names()]
                v = next((feed[k] for k in names if k in feed), None)
            elif isinstance(feed, (list, tuple)):
                v = feed[i] if i < len(feed) else None
            else:
                v = feed if i == 0 else None
            if v is None:
                raise CompileError(f"HETERO calibration: a sample has no value for input '{p.friendly_name}'")
            args.append(np.asarray(v, dtype=p.output(0).get_element_type().to_dtype()))
        for k, out in enumerate(plan(*args)):
            values[k].append(np.asarray(out))
    return {p.friendly_name: np.stack(v) for p, v in zip(sg.model.get_parameters(), values)}
