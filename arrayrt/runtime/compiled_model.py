"""``CompiledModel``, ``InferRequest`` and ``AsyncInferQueue``, with OpenVINO's names and semantics."""
from __future__ import annotations

import datetime
import enum
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from arrayrt.errors import ArrayrtError, InferenceInputError
from arrayrt.ir.graph import Output
from arrayrt.ir.model import Model, clone_model
from arrayrt.ir.types import Type
from arrayrt.runtime.results import InferResults, make_by_name
from arrayrt.runtime.tensor import Tensor


class ProfilingStatus(enum.Enum):
    """``ProfilingInfo.Status``: OpenVINO's values."""

    NOT_RUN = 0
    OPTIMIZED_OUT = 1
    EXECUTED = 2


@dataclass
class ProfilingInfo:
    """One row of ``InferRequest.get_profiling_info()``, as OpenVINO's: ``status`` is a
    ``ProfilingInfo.Status``, ``real_time`` and ``cpu_time`` are ``datetime.timedelta`` (equal on
    synchronous backends). ``real_seconds`` keeps the time as a float, below the microsecond that
    ``timedelta`` resolves (a small elementwise op takes less)."""

    node_name: str
    node_type: str
    exec_type: str
    status: ProfilingStatus
    real_time: datetime.timedelta
    cpu_time: datetime.timedelta
    real_seconds: float = 0.0

    Status = ProfilingStatus

    @classmethod
    def of(cls, node_name: str, node_type: str, exec_type: str, status: str, seconds: float) -> "ProfilingInfo":
        t = datetime.timedelta(seconds=seconds)
        return cls(node_name, node_type, exec_type, ProfilingStatus[status], t, t, seconds)


_NOT_GIVEN = object()


class _InputSpec:
    __slots__ = ("name", "names", "element_type", "dtype", "pshape", "static", "index", "port", "kind")

    def __init__(self, index: int, port: Output):
        self.index = index
        self.port = port
        self.names = port.get_names()
        self.name = min(self.names) if self.names else port.node.friendly_name
        self.element_type = port.get_element_type()
        self.dtype = self.element_type.to_dtype() if self.element_type.is_static else None
        self.pshape = port.get_partial_shape()
        self.static = self.pshape.to_shape() if self.pshape.is_static else None
        from arrayrt.ir.ops.sequence import value_kind

        self.kind = value_kind(port)

    def check(self, value: Any) -> Any:
        """Return ``value`` as an array of the input's dtype, or raise naming what is wrong.
        Sequence inputs take a list of arrays; optional inputs also take None."""
        if self.kind != "tensor":
            from arrayrt.ir.ops.sequence import is_optional

            if value is None:
                if is_optional(self.kind):
                    return None
                raise InferenceInputError(f"input '{self.name}' takes a {self.kind}, got None")
            if self.kind in ("sequence", "optional_sequence"):
                if not isinstance(value, (list, tuple)):
                    raise InferenceInputError(f"input '{self.name}' takes a sequence (a list of arrays), "
                                              f"got {type(value).__name__}")
                return [self._element(v) for v in value]
        return self._element(value, check_shape=True)

    def _element(self, value: Any, check_shape: bool = False) -> Any:
        if isinstance(value, Tensor):
            value = value.data
        if not hasattr(value, "dtype") or not hasattr(value, "shape"):
            try:
                value = np.asarray(value)
            except (ValueError, TypeError) as exc:
                raise InferenceInputError(f"input '{self.name}': cannot make an array: {exc}") from None
        dt = value.dtype
        if self.dtype is not None and dt != self.dtype:
            value = self._convert(value)
        if not check_shape:
            return value
        shape = tuple(value.shape)
        if self.static is not None:
            if shape != self.static:
                raise InferenceInputError(
                    f"input '{self.name}': expected shape {list(self.static)}, got {list(shape)}")
        elif not self.pshape.accepts(shape):
            raise InferenceInputError(f"input '{self.name}': expected shape {self.pshape}, got {list(shape)}")
        return value

    def _convert(self, value: Any) -> Any:
        src = np.dtype(value.dtype) if isinstance(value, np.ndarray) else None
        if src is None:
            try:
                src = np.dtype(value.dtype)
            except TypeError:
                raise InferenceInputError(
                    f"input '{self.name}': expected element type {self.element_type}, "
                    f"got {value.dtype}") from None
        dst = self.dtype
        if dst.kind == "O":  # string inputs: Python/numpy strings or bytes
            if src.kind in "USO":
                return np.asarray(value).astype(object)
            raise InferenceInputError(f"input '{self.name}': expected strings, got {src}")
        ok = (src.kind == dst.kind or src.kind == "b" or (src.kind in "iu" and dst.kind in "iuf")
              or (src.kind == "f" and dst.kind == "V") or (dst.kind == "V" and src.kind in "fiu")
              or (src.kind == "V" and dst.kind == "f"))
        if not ok:
            raise InferenceInputError(
                f"input '{self.name}': expected element type {self.element_type}, got {src} "
                f"(converting {src.kind!r}-kind values to {self.element_type} would lose them)")
        if isinstance(value, np.ndarray):
            return value.astype(dst)
        return value.astype(dst)  # a device array converts where it lives


class CompiledModel:
    """A model compiled for one device; call it, or make infer requests from it."""

    def __init__(self, model: Model, device: str, plan: Any, io: Any, properties: dict[str, Any],
                 node_devices: dict[str, str] | None = None, execution_devices: list[str] | None = None):
        """``plan(*inputs, *states) -> (*outputs, *states)`` runs the model; ``io`` (a backend)
        moves inputs in (``to_device``) and outputs out (``to_host``)."""
        self._model = model
        self._device = device
        self._backend = io
        self._properties = dict(properties)
        self._plan = plan
        self._node_devices = node_devices or {}
        self._execution_devices = execution_devices or [device]
        self._inputs = model.inputs
        self._outputs = model.outputs
        self._specs = [_InputSpec(i, p) for i, p in enumerate(self._inputs)]
        self._spec_by_name: dict[str, _InputSpec] = {}
        for s in self._specs:
            for n in s.names:
                self._spec_by_name[n] = s
            self._spec_by_name.setdefault(s.port.node.friendly_name, s)
        self._by_name = make_by_name(self._outputs)
        self._default_request: InferRequest | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._runtime_model: Model | None = None
        self._source: tuple[Model, str, dict[str, Any]] | None = None  # for export_model

    # --- ports --------------------------------------------------------------------------------
    @property
    def inputs(self) -> list[Output]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[Output]:
        return list(self._outputs)

    def input(self, key: "int | str | None" = None) -> Output:
        return self._model.input(key)

    def output(self, key: "int | str | None" = None) -> Output:
        return self._model.output(key)

    # --- inference ----------------------------------------------------------------------------
    def create_infer_request(self) -> "InferRequest":
        return InferRequest(self)

    def __call__(self, inputs: Any = None, share_inputs: bool = True, share_outputs: bool = False,
                 **_: Any) -> InferResults:
        if self._default_request is None:
            self._default_request = self.create_infer_request()
        return self._default_request.infer(inputs, share_inputs=share_inputs, share_outputs=share_outputs)

    def query_state(self) -> list["VariableState"]:
        """The variables of the request behind ``__call__`` (a stateful model called directly)."""
        if self._default_request is None:
            self._default_request = self.create_infer_request()
        return self._default_request.query_state()

    def reset_state(self) -> None:
        """Reset the variables of the request behind ``__call__``."""
        if self._default_request is not None:
            self._default_request.reset_state()

    def infer_new_request(self, inputs: Any = None) -> InferResults:
        return self.create_infer_request().infer(inputs)

    def _arrays(self, inputs: Any, tensors: dict[int, Any]) -> list[Any]:
        """Input values in parameter order, checked and converted, on the backend's device. Values
        not in ``inputs`` come from ``tensors``; those given are put there once all pass the checks
        (by reference, not copied), so a later inference without inputs reuses them, as in OpenVINO."""
        specs = self._specs
        n = len(specs)
        values: list[Any] = [_NOT_GIVEN] * n
        if inputs is None:
            pass
        elif isinstance(inputs, Mapping):
            for key, v in inputs.items():
                values[self._spec_for(key).index] = v
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) > n:
                raise InferenceInputError(f"got {len(inputs)} inputs, the model has {n}")
            for i, v in enumerate(inputs):
                values[i] = v
        else:
            if n != 1:
                raise InferenceInputError(
                    f"a single input value was given but the model has {n} inputs "
                    f"({[s.name for s in specs]}); pass a list or a dict")
            values[0] = inputs
        out = []
        given: list[tuple[int, Any]] = []
        to_device = self._backend.to_device
        for s, v in zip(specs, values):
            if v is None and s.kind == "tensor":  # None for a tensor input: use its set tensor
                v = _NOT_GIVEN
            if v is _NOT_GIVEN:
                v = tensors.get(s.index, _NOT_GIVEN)
                if v is _NOT_GIVEN:
                    raise InferenceInputError(f"input '{s.name}' was not given")
            elif v is not None:
                given.append((s.index, v))
            if not isinstance(v, (np.ndarray, list, Tensor)) and v is not None and hasattr(v, "__dlpack__"):
                v = to_device(v)  # another library's device tensor (torch...): into this one's arrays
            v = s.check(v)
            if v is None:
                out.append(None)
            elif isinstance(v, list):
                out.append([to_device(e) for e in v])
            else:
                out.append(to_device(v))
        tensors.update(given)
        return out

    def _spec_for(self, key: Any) -> _InputSpec:
        if isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(self._specs):
                raise InferenceInputError(f"input index {key} out of range: the model has {len(self._specs)} inputs")
            return self._specs[key]
        if isinstance(key, str):
            spec = self._spec_by_name.get(key)
            if spec is None:
                raise InferenceInputError(
                    f"the model has no input named '{key}'; inputs: {[s.name for s in self._specs]}")
            return spec
        if isinstance(key, Output):
            for s in self._specs:
                if s.port == key or (key.get_names() & s.names):
                    return s
            raise InferenceInputError(f"{key!r} is not an input of this model")
        raise InferenceInputError(f"inputs are keyed by int, str or Output, not {type(key).__name__}")

    def _run(self, arrays: list[Any], states: list[Any]) -> list[Any]:
        """Run the plan; ``states`` (one per variable) is updated in place."""
        outs = self._plan(*arrays, *states)
        n = self._plan.n_outputs
        if states:
            states[:] = outs[n:]
            outs = outs[:n]
        if self._properties.get("KEEP_ON_DEVICE"):
            return [Tensor(o) if o is not None and not isinstance(o, list) else o for o in outs]
        return [_host(self._backend.to_host, o) for o in outs]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                workers = max(1, int(self.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="arrayrt")
            return self._pool

    # --- properties ---------------------------------------------------------------------------
    def get_property(self, name: str) -> Any:
        props = self._properties
        if name == "SUPPORTED_PROPERTIES":
            keys = set(props) | set(self._live_properties()) | {"EXECUTION_DEVICES", "NETWORK_NAME"}
            return {k: "RO" for k in sorted(keys)}
        if name == "EXECUTION_DEVICES":
            return list(getattr(self._plan, "execution_devices", None) or self._execution_devices)
        if name == "NETWORK_NAME":
            return self._model.name
        if name == "OPTIMAL_NUMBER_OF_INFER_REQUESTS":
            return props.get(name, 1)
        live = self._live_properties()
        if name in live:
            return live[name]
        if name in props:
            return props[name]
        raise ArrayrtError(f"the compiled model has no property '{name}'; known: {sorted(props)}")

    def _live_properties(self) -> dict[str, Any]:
        """Properties a backend's plan reports as it runs (recompilations, CUDA graph replays...)."""
        live: dict[str, Any] = {}
        for plan in getattr(self._plan, "plans", [self._plan]):
            for holder in (plan, getattr(plan, "fn", None)):
                props = getattr(holder, "properties", None)
                if callable(props):
                    live.update(props())
        return live

    def set_property(self, properties: dict[str, Any]) -> None:
        for k in properties:
            if k not in ("PERF_COUNT",):
                raise ArrayrtError(f"property '{k}' cannot be changed after compile")
        self._properties.update(properties)

    def get_runtime_model(self) -> Model:
        """The executed graph: each node's ``rt_info`` holds ``layerType``, ``execType``,
        ``runtimePrecision``, ``device`` and ``originalLayersNames``."""
        if self._runtime_model is not None:
            return self._runtime_model
        rm = clone_model(self._model)
        records = {r.node_name: r for r in self._plan.records}
        extra: dict[str, dict[str, Any]] = {}
        for plan in getattr(self._plan, "plans", [self._plan]):  # backend-specific per-node facts
            info = getattr(plan, "node_info", None)
            if callable(info):
                extra.update(info())
        for node in rm.get_ordered_ops():
            rec = records.get(node.friendly_name)
            prec = node.output(0).get_element_type() if node.get_output_size() else Type.dynamic
            node.rt_info.update({
                "layerType": node.type_name,
                "execType": rec.exec_type if rec else node.type_name.lower(),
                "runtimePrecision": str(prec),
                "device": self._node_devices.get(node.friendly_name, self._device),
                "originalLayersNames": node.rt_info.get("originalLayersNames", node.friendly_name),
            })
            node.rt_info.update(extra.get(node.friendly_name, {}))
        self._runtime_model = rm
        return rm

    def release_memory(self) -> None:
        pass

    def export_model(self, model_stream: Any = None) -> "bytes | None":
        """The compiled model as bytes for ``Core.import_model`` (see :mod:`arrayrt.runtime.blob`:
        the model's IR, its device and config); written into ``model_stream`` when one is given."""
        from arrayrt.runtime import blob
        from arrayrt.runtime.core import VERSION

        if self._source is None:
            raise ArrayrtError("only a model compiled by Core.compile_model can be exported")
        model, device, config = self._source
        data = blob.dump(model, device, config, VERSION)
        if model_stream is None:
            return data
        model_stream.write(data)
        return None

    def __repr__(self) -> str:
        return f"<CompiledModel: '{self._model.name}' on {self._device}>"


def _host(to_host: Callable[[Any], Any], value: Any) -> Any:
    """A device value on the host: arrays converted, sequences element by element, None kept."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_host(to_host, v) for v in value]
    return to_host(value)


class InferRequest:
    """One set of input/output tensors and a way to run them, sync or async."""

    def __init__(self, compiled: CompiledModel):
        self._compiled = compiled
        self._tensors: dict[int, Any] = {}
        self._out_tensors: dict[int, Tensor] = {}  # set_output_tensor: results are copied into these
        self._results: InferResults | None = None
        self._future: Future | None = None
        self._callback: Callable[[Any], None] | None = None
        self.userdata: Any = None  # what the callback receives (set_callback's, or start_async's)
        self._latency = 0.0
        self._profile: list[ProfilingInfo] = []
        self._states: list[Any] = [None] * len(compiled._plan.state_ids)
        self._error: BaseException | None = None  # the last asynchronous run's failure

    # --- sync ---------------------------------------------------------------------------------
    def infer(self, inputs: Any = None, share_inputs: bool = False, share_outputs: bool = False,
              **_: Any) -> InferResults:
        cm = self._compiled
        arrays = cm._arrays(inputs, self._tensors)
        start = time.perf_counter()
        values = cm._run(arrays, self._states)
        self._latency = time.perf_counter() - start
        if cm._plan.profiled:
            self._profile = [ProfilingInfo.of(r.node_name, r.node_type, r.exec_type, r.status, r.real_time)
                             for r in cm._plan.records]
        return self._finish(values)

    def _finish(self, values: list[Any]) -> InferResults:
        """Keep the results; copy those with a tensor set by ``set_output_tensor`` into it."""
        cm = self._compiled
        for i, t in self._out_tensors.items():
            v = values[i]
            t.copy_from(v if isinstance(v, Tensor) else Tensor(v, shared_memory=True))
        self._results = InferResults(cm._outputs, values, cm._by_name)
        return self._results

    # --- async --------------------------------------------------------------------------------
    def start_async(self, inputs: Any = None, userdata: Any = None, share_inputs: bool = False,
                    **_: Any) -> None:
        if self._future is not None and not self._future.done():
            raise ArrayrtError("this infer request is busy; wait() for it first")
        if userdata is not None:  # as OpenVINO: kept only for a callback, which receives it
            if self._callback is None:
                warnings.warn("start_async: userdata is given but the request has no callback to receive it "
                              "(set_callback first)", RuntimeWarning, stacklevel=2)
            else:
                self.userdata = userdata
        if inputs is not None:  # bind now, so the caller may reuse its buffers after wait()
            cm = self._compiled
            arrays = cm._arrays(inputs, self._tensors)
            self._future = cm._executor().submit(self._run_async, arrays)
        else:
            self._future = self._compiled._executor().submit(self._run_async, None)

    def _run_async(self, arrays: list[Any] | None) -> None:
        cm = self._compiled
        self._error = None
        try:
            if arrays is None:
                self.infer(None)
            else:
                start = time.perf_counter()
                values = cm._run(arrays, self._states)
                self._latency = time.perf_counter() - start
                self._finish(values)
        except BaseException as exc:
            self._error = exc  # for the queue: this job has no results; wait() raises it
            raise
        finally:
            if self._callback is not None:
                self._callback(self.userdata)

    def wait(self) -> None:
        if self._future is not None:
            self._future.result()

    def wait_for(self, timeout_ms: int) -> bool:
        if self._future is None:
            return True
        try:
            self._future.result(timeout=max(timeout_ms, 0) / 1000.0)
        except TimeoutError:
            return False
        return True

    def set_callback(self, callback: Callable[[Any], None], userdata: Any = None) -> None:
        """``callback(userdata)`` after each asynchronous inference; ``start_async(inputs, userdata)``
        replaces the userdata from then on, as in OpenVINO."""
        self._callback = callback
        self.userdata = userdata

    def cancel(self) -> None:
        if self._future is not None:
            self._future.cancel()

    # --- tensors ------------------------------------------------------------------------------
    def _input_index(self, key: Any) -> int | None:
        try:
            return self._compiled._spec_for(key).index
        except InferenceInputError:
            return None

    def _output_index(self, key: Any) -> int | None:
        outs = self._compiled._outputs
        if isinstance(key, int) and not isinstance(key, bool):
            return key if 0 <= key < len(outs) else None
        if isinstance(key, str):
            return next((i for i, o in enumerate(outs) if key in o.get_names()), None)
        if isinstance(key, Output):
            return next((i for i, o in enumerate(outs)
                         if o == key or o.node.input_value(0) == key or key.get_names() & o.get_names()), None)
        return None

    def set_tensor(self, key: Any, tensor: Tensor) -> None:
        """Bind an input's value, or (an output's port or name) the tensor its results are written to."""
        i = self._input_index(key)
        if i is not None and (not isinstance(key, Output) or key.node.type_name == "Parameter"):
            self._tensors[i] = tensor
            return
        j = None if isinstance(key, int) else self._output_index(key)  # an int names an input
        if j is None:
            raise InferenceInputError(f"{key!r} is neither an input nor an output of this model")
        self.set_output_tensor(j, tensor)

    def set_output_tensor(self, *args: Any) -> None:
        """``set_output_tensor(tensor)`` (one output) or ``set_output_tensor(index, tensor)``: each
        inference copies that output into ``tensor``'s memory, taking the output's shape."""
        index, tensor = (0, args[0]) if len(args) == 1 else (int(args[0]), args[1])
        outs = self._compiled._outputs
        if len(args) == 1 and len(outs) != 1:
            raise InferenceInputError(f"the model has {len(outs)} outputs; give the output's index")
        if not 0 <= index < len(outs):
            raise InferenceInputError(f"output index {index} out of range: the model has {len(outs)} outputs")
        if not isinstance(tensor, Tensor):
            raise InferenceInputError(f"output {index}: expected a Tensor, got {type(tensor).__name__}")
        want = outs[index].get_element_type()
        if want.is_static and tensor.element_type != want:
            raise InferenceInputError(f"output {index} ('{outs[index].get_any_name()}') is {want}; "
                                      f"the tensor given for it is {tensor.element_type}")
        self._out_tensors[index] = tensor

    def set_output_tensors(self, tensors: "Mapping[int, Tensor]") -> None:
        for i, t in tensors.items():
            self.set_output_tensor(int(i), t)

    def set_tensors(self, tensors: Mapping[Any, Tensor]) -> None:
        for k, t in tensors.items():
            self.set_tensor(k, t)

    def set_input_tensor(self, *args: Any) -> None:
        if len(args) == 1:
            self.set_tensor(0, args[0])
        else:
            self.set_tensor(int(args[0]), args[1])

    def set_input_tensors(self, tensors: "Mapping[int, Tensor] | Sequence[Tensor]") -> None:
        items = tensors.items() if isinstance(tensors, Mapping) else enumerate(tensors)
        for i, t in items:
            self.set_tensor(int(i), t)

    def get_tensor(self, key: Any) -> Tensor:
        i = self._input_index(key)
        if i is not None and (not isinstance(key, Output) or key.node.type_name == "Parameter"):
            t = self._tensors.get(i)
            if t is None:
                spec = self._compiled._specs[i]
                shape = spec.static if spec.static is not None else tuple(
                    d.min for d in spec.pshape.dims) if spec.pshape.rank_is_static else ()
                t = Tensor(spec.element_type, shape)
                self._tensors[i] = t
            return t if isinstance(t, Tensor) else Tensor(t, shared_memory=True)
        j = self._output_index(key) if not isinstance(key, int) else None
        if j is not None and j in self._out_tensors:
            return self._out_tensors[j]
        if self._results is None:
            raise ArrayrtError("no inference has run yet on this request")
        return Tensor(self._results[key], shared_memory=True)

    def get_input_tensor(self, index: int = 0) -> Tensor:
        return self.get_tensor(index)

    def get_output_tensor(self, index: int = 0) -> Tensor:
        if index in self._out_tensors:
            return self._out_tensors[index]
        if self._results is None:
            raise ArrayrtError("no inference has run yet on this request")
        return Tensor(self._results[index], shared_memory=True)

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.get_input_tensor(i) for i in range(len(self._compiled._specs))]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.get_output_tensor(i) for i in range(len(self._compiled._outputs))]

    # --- results and info ---------------------------------------------------------------------
    @property
    def results(self) -> InferResults:
        if self._results is None:
            raise ArrayrtError("no inference has run yet on this request")
        return self._results

    @property
    def latency(self) -> float:
        """Milliseconds the last inference took."""
        return self._latency * 1000.0

    def get_profiling_info(self) -> list[ProfilingInfo]:
        if not self._compiled._plan.profiled:
            raise ArrayrtError("profiling is off: compile with {'PERF_COUNT': True}")
        return list(self._profile)

    @property
    def profiling_info(self) -> list[ProfilingInfo]:
        return self.get_profiling_info()

    # --- state --------------------------------------------------------------------------------
    def query_state(self) -> list["VariableState"]:
        """One :class:`VariableState` per variable of a stateful model."""
        return [VariableState(self, i, vid) for i, vid in enumerate(self._compiled._plan.state_ids)]

    def reset_state(self) -> None:
        """Every variable back to its initial value (the ReadValue init) on the next inference."""
        self._states[:] = [None] * len(self._states)

    @property
    def model_inputs(self) -> list[Output]:
        return self._compiled.inputs

    @property
    def model_outputs(self) -> list[Output]:
        return self._compiled.outputs

    def get_compiled_model(self) -> CompiledModel:
        return self._compiled


class VariableState:
    """A variable of a stateful model, as seen by one infer request."""

    def __init__(self, request: InferRequest, index: int, name: str):
        self._request, self._index, self.name = request, index, name

    def get_name(self) -> str:
        return self.name

    @property
    def state(self) -> Tensor:
        value = self._request._states[self._index]
        if value is None:
            raise ArrayrtError(f"variable '{self.name}' holds its initial value until the next inference")
        return Tensor(self._request._compiled._backend.to_host(value), shared_memory=True)

    @state.setter
    def state(self, value: Any) -> None:
        data = value.data if isinstance(value, Tensor) else np.asarray(value)
        self._request._states[self._index] = self._request._compiled._backend.to_device(np.asarray(data))

    def reset(self) -> None:
        self._request._states[self._index] = None


class AsyncInferQueue:
    """A pool of infer requests: ``start_async`` runs on the first idle one, ``set_callback`` sees
    ``(request, userdata)`` for each completed job, ``wait_all`` waits for every job and raises the
    first error of a failed job (whose callback is not called) or of the callback."""

    def __init__(self, compiled: CompiledModel, jobs: int = 0):
        n = jobs if jobs > 0 else int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._requests = [compiled.create_infer_request() for _ in range(max(1, n))]
        self._idle: list[int] = list(range(len(self._requests)))
        self._cond = threading.Condition()
        self._callback: Callable[[InferRequest, Any], None] | None = None
        self._userdata: list[Any] = [None] * len(self._requests)
        self._errors: list[BaseException] = []
        for i, r in enumerate(self._requests):  # not set_callback: the request's userdata stays None
            r._callback = lambda _userdata, i=i: self._done(i)

    def _done(self, index: int) -> None:
        try:
            failed = self._requests[index]._error
            if failed is not None:  # no results to hand the callback: wait_all raises the error
                self._errors.append(failed)
            elif self._callback is not None:
                self._callback(self._requests[index], self._userdata[index])
        except BaseException as exc:  # noqa: BLE001 - surfaced by wait_all
            self._errors.append(exc)
        finally:
            with self._cond:
                self._idle.append(index)
                self._cond.notify_all()

    def set_callback(self, callback: Callable[[InferRequest, Any], None]) -> None:
        self._callback = callback

    def start_async(self, inputs: Any = None, userdata: Any = None, share_inputs: bool = False) -> None:
        with self._cond:
            while not self._idle:
                self._cond.wait()
            i = self._idle.pop(0)
        # the request turns idle in its callback, a moment before its future is done
        previous = self._requests[i]._future
        if previous is not None:
            futures_wait([previous])
        self._userdata[i] = userdata
        try:
            self._requests[i].start_async(inputs)  # the userdata is the queue's, as in OpenVINO
        except BaseException:
            with self._cond:
                self._idle.append(i)
                self._cond.notify_all()
            raise

    def is_ready(self) -> bool:
        with self._cond:
            return bool(self._idle)

    def get_idle_request_id(self) -> int:
        with self._cond:
            while not self._idle:
                self._cond.wait()
            return self._idle[0]

    def wait_all(self) -> None:
        """Wait for every job; then raise the first error of a job or of the callback since the
        last ``wait_all`` (a failed job's callback is not called: it has no results)."""
        with self._cond:
            while len(self._idle) < len(self._requests):
                self._cond.wait()
        futures_wait([r._future for r in self._requests if r._future is not None])
        if self._errors:
            err = self._errors[0]
            self._errors.clear()
            raise err

    def __len__(self) -> int:
        return len(self._requests)

    def __getitem__(self, i: int) -> InferRequest:
        return self._requests[i]

    def __iter__(self):
        return iter(self._requests)

    @property
    def userdata(self) -> list[Any]:
        return list(self._userdata)
