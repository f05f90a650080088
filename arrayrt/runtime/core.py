"""``Core``: devices, properties, reading and compiling models."""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arrayrt import backends
from arrayrt.backends.base import usable_cores
from arrayrt.errors import ArrayrtError, CompileError, DeviceError, UnsupportedOpError
from arrayrt.ir.model import Model, clone_model
from arrayrt.ir.types import Type
from arrayrt.runtime.compiled_model import CompiledModel

VERSION = "0.1.0"

#: AUTO's default candidate order
AUTO_PRIORITY = ("GPU", "NPU", "CPU")

_PRECISIONS = ("f32", "f16", "bf16", "i16", "i8")  # each device accepts its own subset


@dataclass(frozen=True)
class Version:
    description: str
    build_number: str


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        if v.upper() in ("YES", "TRUE", "1", "ON"):
            return True
        if v.upper() in ("NO", "FALSE", "0", "OFF"):
            return False
        raise ValueError(f"expected YES/NO or true/false, got '{v}'")
    return bool(v)


def _hint(v: Any) -> str:
    s = str(v).upper()
    aliases = {"TPUT": "THROUGHPUT", "CTPUT": "CUMULATIVE_THROUGHPUT"}
    s = aliases.get(s, s)
    if s not in ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT", "NONE", "UNDEFINED"):
        raise ValueError(f"expected LATENCY, THROUGHPUT or CUMULATIVE_THROUGHPUT, got '{v}'")
    return s


def _precision(v: Any) -> Type:
    t = Type(str(v).lower()) if not isinstance(v, Type) else v
    if t.name not in _PRECISIONS:
        raise ValueError(f"expected one of {list(_PRECISIONS)}, got '{v}'")
    return t


def _mode(v: Any) -> str:
    s = str(v).upper()
    if s not in ("PERFORMANCE", "ACCURACY"):
        raise ValueError(f"expected PERFORMANCE or ACCURACY, got '{v}'")
    return s


def _streams(v: Any) -> int:
    if isinstance(v, str) and v.upper() in ("AUTO", "NUMA"):
        return -1
    n = int(v)
    if n < -2:
        raise ValueError(f"expected a stream count >= 1 or AUTO, got {v}")
    return n


#: read-write device properties: key -> (parser, default)
RW_PROPERTIES: dict[str, tuple[Any, Any]] = {
    "PERFORMANCE_HINT": (_hint, "LATENCY"),
    "PERFORMANCE_HINT_NUM_REQUESTS": (int, 0),
    "INFERENCE_PRECISION_HINT": (_precision, None),  # None: the backend's default
    "EXECUTION_MODE_HINT": (_mode, "PERFORMANCE"),
    "NUM_STREAMS": (_streams, 1),
    "INFERENCE_NUM_THREADS": (int, 0),
    "PERF_COUNT": (_bool, False),
    "CACHE_DIR": (str, ""),
    "ENABLE_MMAP": (_bool, True),
    "ARRAY_BACKEND": (str, None),  # None: the device's default backend
    "KEEP_ON_DEVICE": (_bool, False),
    "DEVICE_ID": (int, 0),  # set from the device name: GPU.1 -> 1
    "MULTI_DEVICE_PRIORITIES": (str, ""),
    "AUTO_BATCH_TIMEOUT": (int, 1000),
    "ENABLE_STARTUP_FALLBACK": (_bool, True),
    "ENABLE_RUNTIME_FALLBACK": (_bool, True),
}
#: properties of the virtual devices themselves, not passed on to the devices they schedule
VIRTUAL_KEYS = ("MULTI_DEVICE_PRIORITIES", "AUTO_BATCH_TIMEOUT", "ENABLE_STARTUP_FALLBACK",
                "ENABLE_RUNTIME_FALLBACK")
RO_PROPERTIES = ("AVAILABLE_DEVICES", "FULL_DEVICE_NAME", "SUPPORTED_PROPERTIES", "DEVICE_TYPE",
                 "OPTIMIZATION_CAPABILITIES", "RANGE_FOR_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS")


class Core:
    """Entry point: ``Core().compile_model("model.xml", "CPU")``."""

    def __init__(self):
        self._props: dict[str, dict[str, Any]] = {}
        self._global: dict[str, Any] = {}

    # --- devices ------------------------------------------------------------------------------
    @property
    def available_devices(self) -> list[str]:
        return list(backends.device_backends())

    def get_available_devices(self) -> list[str]:
        return self.available_devices

    def _plugin(self, device: str) -> tuple[str, type]:
        name = device.strip()
        if not name:
            raise DeviceError("empty device name")
        base = name.split(".", 1)[0].upper()
        if base == "VPU":
            base = "NPU"
        cls = backends.device_backend(base)
        if cls is None:
            devs = list(backends.device_backends())
            raise DeviceError(f"device '{device}' is not available; available devices: {devs}")
        return base, cls

    def get_versions(self, device_name: str) -> dict[str, Version]:
        out = {}
        for d in device_name.split(","):
            base, cls = self._plugin(d)
            out[base] = Version(f"arrayrt_{cls.name}_plugin", VERSION)
        return out

    # --- properties ---------------------------------------------------------------------------
    def set_property(self, device_name: "str | Mapping[str, Any] | tuple", properties: "Mapping | tuple | None" = None
                     ) -> None:
        """``set_property(device, {key: value})``, or for every device ``set_property({key: value})``;
        a ``(key, value)`` pair (what ``arrayrt.properties.hint.performance_mode("THROUGHPUT")``
        gives) may stand for the mapping."""
        if isinstance(device_name, tuple):
            device_name = dict([device_name])
        if isinstance(properties, tuple):
            properties = dict([properties])
        if isinstance(device_name, Mapping):
            for k, v in device_name.items():
                self._global[k] = self._parse(k, v, "all devices")
            return
        base, cls = self._plugin(device_name)
        for k, v in (properties or {}).items():
            self._props.setdefault(base, {})[k] = self._parse(k, v, base, cls)

    @staticmethod
    def _parser(key: str, cls: type | None) -> Any:
        """The parser of ``key`` on a device whose backend class is ``cls`` (None: common keys)."""
        if key in RW_PROPERTIES:
            return RW_PROPERTIES[key][0]
        if cls is not None:
            if key in cls.properties:
                return cls.properties[key][0]
            return cls.property_parser(key)
        return None

    def _parse(self, key: str, value: Any, device: str, cls: type | None = None, strict: bool = True) -> Any:
        """``value`` parsed for ``key``; with ``strict`` false, a key that only another device knows
        returns ``_OTHER_DEVICE`` (a virtual device passes one config to all it schedules)."""
        parser = self._parser(key, cls)
        if parser is None:
            if key in RO_PROPERTIES:
                raise DeviceError(f"property '{key}' of {device} is read-only")
            if not strict and any(self._parser(key, c) is not None for c in backends.available_backends().values()):
                return _OTHER_DEVICE
            known = sorted(set(RW_PROPERTIES) | set(cls.properties if cls is not None else ()))
            raise DeviceError(f"{device} has no property '{key}'; known: {known}")
        try:
            return parser(value)
        except (ValueError, TypeError, ArrayrtError) as exc:
            raise DeviceError(f"{device}: property '{key}' has a bad value {value!r}: {exc}") from None

    def _device_config(self, base: str, backend_cls: type, config: Mapping | None,
                       strict: bool = True) -> dict[str, Any]:
        props = {k: d for k, (_, d) in RW_PROPERTIES.items()}
        props.update({k: d for k, (_, d) in backend_cls.properties.items()})
        props["INFERENCE_PRECISION_HINT"] = backend_cls.default_precision
        props["ARRAY_BACKEND"] = backend_cls.name
        props.update(self._global)
        props.update(self._props.get(base, {}))
        for k, v in (config or {}).items():
            value = self._parse(k, v, base, backend_cls, strict)
            if value is not _OTHER_DEVICE:
                props[k] = value
        precision = Type(props["INFERENCE_PRECISION_HINT"])
        if precision.name not in backend_cls.precisions:
            raise DeviceError(f"{base}: property 'INFERENCE_PRECISION_HINT' has a bad value '{precision.name}': "
                              f"expected one of {list(backend_cls.precisions)}")
        if props["EXECUTION_MODE_HINT"] == "ACCURACY" and "f32" in backend_cls.precisions:
            props["INFERENCE_PRECISION_HINT"] = Type.f32
        streams = props["NUM_STREAMS"]
        if streams <= 0 or ("NUM_STREAMS" not in (config or {}) and "NUM_STREAMS" not in self._props.get(base, {})):
            if props["PERFORMANCE_HINT"] in ("THROUGHPUT", "CUMULATIVE_THROUGHPUT") or streams < 0:
                streams = usable_cores()
                if props["PERFORMANCE_HINT_NUM_REQUESTS"] > 0:
                    streams = min(streams, props["PERFORMANCE_HINT_NUM_REQUESTS"])
            else:
                streams = max(streams, 1)
        props["NUM_STREAMS"] = streams
        props["OPTIMAL_NUMBER_OF_INFER_REQUESTS"] = streams
        return props

    def get_property(self, device_name: str, name: str | None = None) -> Any:
        """A device's property, or with one argument a property set for every device
        (``core.get_property("CACHE_DIR")``), as in OpenVINO."""
        if name is None:
            key = str(device_name)
            if key in self._global:
                v = self._global[key]
            elif key in RW_PROPERTIES:
                v = RW_PROPERTIES[key][1]
            elif key == "AVAILABLE_DEVICES":
                return self.available_devices
            else:
                raise DeviceError(f"the core has no property '{key}' (a device's property needs the device: "
                                  f"get_property(device, '{key}'))")
            return v.name if isinstance(v, Type) else v
        base, cls = self._plugin(device_name)
        props = self._device_config(base, cls, None)
        if name == "AVAILABLE_DEVICES":
            return ["0"]
        if name == "FULL_DEVICE_NAME":
            return f"arrayrt {base} on {cls.name}"
        if name == "DEVICE_TYPE":
            return "integrated"
        if name == "SUPPORTED_PROPERTIES":
            out = {k: "RW" for k in [*RW_PROPERTIES, *cls.properties]}
            out.update({k: "RO" for k in RO_PROPERTIES})
            return out
        if name == "OPTIMIZATION_CAPABILITIES":
            return sorted(t.name.upper() for t in cls.dtypes if t.is_real and t.bitwidth >= 16)
        if name == "RANGE_FOR_STREAMS":
            return (1, usable_cores())
        if name in props:
            v = props[name]
            return v.name if isinstance(v, Type) else v
        raise DeviceError(f"{base} has no property '{name}'")

    # --- models -------------------------------------------------------------------------------
    def read_model(self, model: "str | os.PathLike | bytes", weights: "str | os.PathLike | bytes | None" = None,
                   config: Mapping | None = None) -> Model:
        """Read IR (``.xml`` path, or XML text/bytes with ``weights`` bytes) or ONNX."""
        from arrayrt.ir.io import read_model

        return read_model(model, weights)

    def compile_model(self, model: "Model | str | os.PathLike", device_name: str | None = None,
                      config: Mapping | None = None, *, weights: Any = None) -> CompiledModel:
        if not isinstance(model, Model):
            model = self.read_model(model, weights)
        device = (device_name or "AUTO").strip()
        upper = device.upper()
        if upper.startswith("HETERO"):
            compiled = self._compile_hetero(model, device, config)
        elif upper.startswith(("AUTO", "MULTI", "BATCH")):
            from arrayrt.runtime import scheduling

            compiled = scheduling.compile_virtual(self, model, device, dict(config or {}))
        else:
            compiled = self._compile_device(model, device, config)
        compiled._source = (clone_model(model), device, dict(config or {}))
        return compiled

    def import_model(self, model_stream: Any, device_name: str, properties: Mapping | None = None) -> CompiledModel:
        """A compiled model from ``CompiledModel.export_model``'s bytes (or a stream to read them
        from), compiled again for ``device_name`` -- the device it was exported from -- with the
        exported config updated by ``properties``."""
        from arrayrt.runtime import blob

        data = model_stream.read() if hasattr(model_stream, "read") else model_stream
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ArrayrtError(f"import_model reads bytes or a binary stream, not {type(data).__name__}")
        model, device, config = blob.load(data)
        if device_name is None or device_name.strip().upper() != device.upper():
            raise DeviceError(f"the blob was exported from a model compiled for '{device}', not '{device_name}'; "
                              f"import it for '{device}', or read_model and compile it for '{device_name}'")
        config.update(properties or {})
        return self.compile_model(model, device, config)

    def _compile_device(self, model: Model, device: str, config: Mapping | None,
                        strict: bool = True) -> CompiledModel:
        """Compile for one real device (``CPU``, ``NPU``, ``GPU.1``...)."""
        base, cls = self._plugin(device)
        props = self._device_config(base, cls, config, strict)
        if "." in device:
            props["DEVICE_ID"] = _device_index(device)
        backend = backends.get_backend(props["ARRAY_BACKEND"])(props)
        compiled = clone_model(model)
        _lower_precision(compiled, props, backend)
        return CompiledModel(compiled, base, backend.compile(compiled, props), backend, props)

    def _compile_hetero(self, model: Model, device: str, config: Mapping | None) -> CompiledModel:
        from arrayrt.runtime import hetero

        cfg = dict(config or {})
        spec = device.split(":", 1)[1] if ":" in device else str(cfg.pop("MULTI_DEVICE_PRIORITIES", ""))
        cfg.pop("MULTI_DEVICE_PRIORITIES", None)
        priorities = hetero.parse_priorities(spec, self.available_devices)
        per_device: dict[str, tuple[dict, Any]] = {}
        for d in priorities:
            base, cls = self._plugin(d)
            props = self._device_config(base, cls, cfg, strict=False)
            per_device[base] = (props, backends.get_backend(props["ARRAY_BACKEND"])(props))
        work = clone_model(model)
        from arrayrt.ir.passes.constant_folding import fold_constants

        fold_constants(work)  # devices see folded weights, not decompression sub-graphs
        affinity = hetero.annotate(work, {d: b for d, (_, b) in per_device.items()})
        sub_of, devices = hetero.assign_subgraphs(work, affinity)
        subgraphs, cuts = hetero.extract(work, sub_of, devices)
        plans, used = [], []
        for sg in subgraphs:
            props, backend = per_device[sg.device]
            key = backend.calibration_property
            if key and props.get(key) is not None and sg.inputs:
                props = dict(props)
                props[key] = hetero.calibrate_cuts(work, sg, props[key])
                backend = type(backend)(props)
            try:
                _lower_precision(sg.model, props, backend)
                plans.append(backend.compile(sg.model, props))
            except (CompileError, UnsupportedOpError) as exc:
                fallback = priorities[-1].split(".", 1)[0]
                if sg.device == fallback:
                    raise
                # the device accepted every node but cannot compile them together (e.g. GNA cannot
                # quantise an all-zero tensor): the fallback device, which runs everything, takes them
                warnings.warn(f"HETERO: subgraph {sg.index} on {sg.device} failed to compile ({exc}); "
                              f"it runs on {fallback}", stacklevel=2)
                sg.device = fallback
                props, backend = per_device[fallback]
                plans.append(backend.compile(sg.model, props))
            used.append(backend)
        plan = hetero.HeteroPlan(work, subgraphs, plans, used, cuts)
        node_devices = {name: sg.device for sg in subgraphs for name in sg.node_names}
        props = {"MULTI_DEVICE_PRIORITIES": ",".join(priorities), "HETERO_NUMBER_OF_SUBMODELS": len(subgraphs),
                 "OPTIMAL_NUMBER_OF_INFER_REQUESTS": max(p["OPTIMAL_NUMBER_OF_INFER_REQUESTS"]
                                                         for p, _ in per_device.values()),
                 **{k: v for k, v in next(iter(per_device.values()))[0].items() if k not in
                    ("ARRAY_BACKEND", "OPTIMAL_NUMBER_OF_INFER_REQUESTS")}}
        execution = list(dict.fromkeys(sg.device for sg in subgraphs))
        return CompiledModel(work, "HETERO", plan, HostIO(), props, node_devices, execution)

    def query_model(self, model: Model, device_name: str, config: Mapping | None = None) -> dict[str, str]:
        """``{friendly_name: device}`` for every node the device supports."""
        base, cls = self._plugin(device_name)
        props = self._device_config(base, cls, config)
        backend = backends.get_backend(props["ARRAY_BACKEND"])(props)
        return {n.friendly_name: base for n in model.get_ordered_ops() if backend.supports(n)}


_OTHER_DEVICE = object()


def _device_index(device: str) -> int:
    """``GPU.1`` -> 1."""
    try:
        return int(device.split(".", 1)[1])
    except ValueError:
        raise DeviceError(f"bad device index in '{device}': expected e.g. GPU.1") from None


class HostIO:
    """Input/output side of plans that take and return host (numpy) arrays."""

    @staticmethod
    def to_device(array: Any) -> Any:
        return array

    @staticmethod
    def to_host(array: Any) -> Any:
        from arrayrt.ir.ops._xp import to_numpy

        return to_numpy(array)


def _lower_precision(model: Model, props: dict[str, Any], backend: Any) -> None:
    """Lower float math to a float inference precision (integer hints, such as GNA's weight width,
    are the backend's own business)."""
    from arrayrt.ir.passes.precision import apply_inference_precision

    precision = Type(props["INFERENCE_PRECISION_HINT"])
    if precision.is_real:
        apply_inference_precision(model, precision, backend)


def compile_model(model: "Model | str | os.PathLike", device_name: str = "AUTO",
                  config: Mapping | None = None) -> CompiledModel:
    """Module-level shortcut for ``Core().compile_model``."""
    return Core().compile_model(model, device_name, config)

