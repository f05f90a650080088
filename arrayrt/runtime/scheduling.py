"""Compiling for the scheduling devices: ``AUTO[:A,B]``, ``MULTI:A,B`` and ``BATCH:DEV(N)``.

* AUTO picks the first candidate (GPU > NPU > CPU by default, or the given list; ``-X`` excludes X)
  that supports every node. When that is not the CPU and the CPU is a candidate, requests start on
  the CPU at once while the target compiles in the background (OpenVINO's "CPU acceleration",
  ``ENABLE_STARTUP_FALLBACK``), then switch. An inference that fails on the target device runs again
  on the next candidate that runs the whole model (``ENABLE_RUNTIME_FALLBACK``; the error stands
  when there is none). With ``PERFORMANCE_HINT=CUMULATIVE_THROUGHPUT``, AUTO behaves as MULTI over
  its candidates.
* MULTI spreads requests over all its devices (the least busy takes the next one).
* BATCH gathers concurrent asynchronous requests into batches of N (``AUTO_BATCH_TIMEOUT``, default
  1000 ms, releases a partial batch's requests to run one by one).
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from arrayrt import backends
from arrayrt.errors import DeviceError
from arrayrt.runtime.compiled_model import CompiledModel
from arrayrt.runtime.virtual import AutoPlan, BatchPlan, HostRunner, MultiPlan, batched_copy

DEFAULT_BATCH = 4


def compile_virtual(core: Any, model: Any, device: str, config: dict[str, Any]) -> CompiledModel:
    from arrayrt.runtime.core import AUTO_PRIORITY, VIRTUAL_KEYS, HostIO

    kind, _, spec = device.partition(":")
    kind = kind.strip().upper()
    parsed = {k: core._parse(k, v, kind, strict=False) for k, v in config.items()}
    sub = {k: v for k, v in config.items() if k not in VIRTUAL_KEYS}
    spec = spec or str(parsed.get("MULTI_DEVICE_PRIORITIES", ""))
    available = core.available_devices
    if kind == "BATCH":
        return _batch(core, model, spec, parsed, sub, HostIO())
    if kind == "MULTI":
        devices = _device_list(spec, available, "MULTI", allow_empty=False)
        return _multi(core, model, devices, parsed, sub, HostIO(), "MULTI")
    # AUTO
    names = [d.strip().upper() for d in spec.split(",") if d.strip()]
    excluded = {d[1:] for d in names if d.startswith("-")}
    wanted = [d for d in names if not d.startswith("-")] or list(AUTO_PRIORITY)
    _device_list(",".join(wanted), available, "AUTO", allow_empty=False, require_available=bool(
        [d for d in names if not d.startswith("-")]))
    candidates = [d for d in wanted if d.split(".")[0] in available and d.split(".")[0] not in excluded]
    if not candidates:
        raise DeviceError(f"AUTO: none of {wanted} is available (available: {available})")
    if parsed.get("PERFORMANCE_HINT") == "CUMULATIVE_THROUGHPUT":
        return _multi(core, model, candidates, parsed, sub, HostIO(), "AUTO")
    target = next((d for d in candidates if _runs_whole_model(core, d, model, sub)), None)
    if target is None:
        raise DeviceError(f"AUTO: no device among {candidates} runs every node of the model; "
                          f"try HETERO:{','.join(candidates)}")

    def build(device: str) -> HostRunner:
        return HostRunner(core._compile_device(model, device, sub, strict=False), device)

    fallback_ok = parsed.get("ENABLE_STARTUP_FALLBACK", True) and "CPU" in candidates and target != "CPU"
    runtime_ok = parsed.get("ENABLE_RUNTIME_FALLBACK", True) and candidates[-1] != target
    if not fallback_ok and not runtime_ok:
        return core._compile_device(model, target, sub, strict=False)
    first = core._compile_device(model, "CPU", sub, strict=False) if fallback_ok else None
    cpu = HostRunner(first, "CPU") if first is not None else None

    def backup() -> HostRunner | None:
        """The next candidate after the target that runs the whole model, chosen at the first failure."""
        later = candidates[candidates.index(target) + 1:]
        name = next((d for d in later if _runs_whole_model(core, d, model, sub)), None)
        if name is None:
            return None
        return cpu if cpu is not None and name == "CPU" else build(name)

    plan = AutoPlan(cpu, target, lambda: build(target), _warmup(first) if first is not None else None,
                    backup if runtime_ok else None)
    if first is None:
        first = plan._target.compiled
    props = dict(first._properties)
    props.update({"MULTI_DEVICE_PRIORITIES": ",".join(candidates), "ENABLE_STARTUP_FALLBACK": fallback_ok,
                  "ENABLE_RUNTIME_FALLBACK": runtime_ok})
    return CompiledModel(first._model, "AUTO", plan, HostIO(), props, execution_devices=plan.execution_devices)


def _device_list(spec: str, available: list[str], kind: str, allow_empty: bool,
                 require_available: bool = True) -> list[str]:
    devices = [d.strip().upper() for d in spec.split(",")] if spec.strip() else []
    if not devices or any(not d for d in devices):
        if allow_empty:
            return []
        raise DeviceError(f"{kind} needs a device list, e.g. {kind}:GPU,CPU (got '{spec}')")
    seen = set()
    for d in devices:
        base = d.split(".")[0]
        if base in seen:
            raise DeviceError(f"{kind}: device {d} is listed twice in '{spec}'")
        seen.add(base)
        if require_available and base not in available:
            raise DeviceError(f"{kind}: device {d} is not available; available devices: {available}")
    return devices


def _runs_whole_model(core: Any, device: str, model: Any, config: dict) -> bool:
    base, cls = core._plugin(device)
    props = core._device_config(base, cls, config, strict=False)
    backend = backends.get_backend(props["ARRAY_BACKEND"])(props)
    return all(backend.supports(n) for n in model.get_ordered_ops())


def _warmup(compiled: CompiledModel) -> list[np.ndarray] | None:
    """Zero inputs of the model's static shapes (None when a shape is dynamic)."""
    arrays = []
    for p in compiled.inputs:
        ps = p.get_partial_shape()
        if not ps.is_static:
            return None
        arrays.append(np.zeros(ps.to_shape(), p.get_element_type().to_dtype()))
    return arrays


def _multi(core: Any, model: Any, devices: list[str], parsed: dict, sub: dict, io: Any, kind: str) -> CompiledModel:
    sub = dict(sub)
    sub.setdefault("PERFORMANCE_HINT", "THROUGHPUT")
    compiled = [core._compile_device(model, d, sub, strict=False) for d in devices]
    plan = MultiPlan([HostRunner(c, d) for c, d in zip(compiled, devices)])
    props = dict(compiled[0]._properties)
    props.update({"MULTI_DEVICE_PRIORITIES": ",".join(devices),
                  "PERFORMANCE_HINT": parsed.get("PERFORMANCE_HINT", "THROUGHPUT"),
                  "OPTIMAL_NUMBER_OF_INFER_REQUESTS": sum(
                      int(c.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) for c in compiled)})
    return CompiledModel(compiled[0]._model, kind, plan, io, props, execution_devices=devices)


_BATCH_SPEC = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(?:\(\s*(\d+)\s*\))?\s*$")


def _batch(core: Any, model: Any, spec: str, parsed: dict, sub: dict, io: Any) -> CompiledModel:
    m = _BATCH_SPEC.match(spec or "")
    if not m:
        raise DeviceError(f"BATCH needs a device and optionally a batch size, e.g. BATCH:CPU(4) (got '{spec}')")
    device, n = m.group(1).upper(), int(m.group(2) or DEFAULT_BATCH)
    if n < 1:
        raise DeviceError(f"BATCH: the batch size must be at least 1, got {n}")
    if device.split(".")[0] not in core.available_devices:
        raise DeviceError(f"BATCH: device {device} is not available; available devices: {core.available_devices}")
    single = core._compile_device(model, device, sub, strict=False)
    batched = core._compile_device(batched_copy(model, n), device, sub, strict=False)
    timeout = parsed.get("AUTO_BATCH_TIMEOUT", 1000) / 1000.0
    plan = BatchPlan(HostRunner(batched, device), HostRunner(single, device), n, timeout)
    props = dict(single._properties)
    props.update({"MULTI_DEVICE_PRIORITIES": f"{device}({n})", "AUTO_BATCH_TIMEOUT": int(timeout * 1000),
                  "OPTIMAL_NUMBER_OF_INFER_REQUESTS": n * int(single.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))})
    return CompiledModel(single._model, f"BATCH:{device}({n})", plan, io, props, execution_devices=[device])
