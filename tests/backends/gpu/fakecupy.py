"""A stand-in for CuPy built on numpy, so the GPU backend's logic runs and is checked on a CPU.

It behaves like CuPy where the backend's correctness depends on it:

* device arrays (:class:`FakeArray`) refuse implicit conversion to numpy, refuse numpy operands,
  and refuse work on another device than the current one;
* every host<->device copy is counted (``h2d``, ``d2h``): ``asarray`` of host data, ``set``,
  ``get``/``asnumpy``, and reading a value on the host (``int()``, ``bool()``, ``.item()``...);
* streams are per-thread context managers; a stream can capture: work launched on it is then
  recorded, not run (fresh float results are NaN until a replay computes them), and ``end_capture``
  returns a graph whose ``launch`` replays the recorded work on the arrays' current contents. While
  capturing, host reads and host-to-device copies raise RuntimeError and ``matmul`` (cuBLAS) raises
  NotImplementedError, with CuPy's messages;
* ``using_allocator`` marks the arrays made inside it with the pool they came from.
"""
from __future__ import annotations

import functools
import threading
import time
import types
from contextlib import contextmanager
from typing import Any

import numpy as np


class FakeArray:
    __slots__ = ("_a", "_m", "_dev", "pool")

    def __init__(self, a: np.ndarray, m: FakeCupy, dev: int, pool: Any = None):
        self._a, self._m, self._dev, self.pool = a, m, dev, pool

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    T = property(lambda self: self._m._op(lambda a: a.T, self))
    mT = property(lambda self: self._m._op(lambda a: np.swapaxes(a, -1, -2), self))

    @property
    def device(self) -> Any:
        return self._m.cuda.Device(self._dev)

    @property
    def data(self) -> Any:
        """The device pointer (``.data.ptr``), resolvable by :meth:`FakeCupy.at` (a library called
        with raw pointers, such as the fake cuDNN, finds the array so)."""
        return types.SimpleNamespace(ptr=self._m._pointer(self._a))

    def __array_namespace__(self, api_version: Any = None) -> Any:
        return self._m.array_api

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                        "construct a NumPy array explicitly.")

    def _read(self) -> np.ndarray:
        return self._m._host_read(self)

    def __bool__(self) -> bool:
        return bool(self._read())

    def __int__(self) -> int:
        return int(self._read())

    def __index__(self) -> int:
        return int(self._read())

    def __float__(self) -> float:
        return float(self._read())

    def item(self) -> Any:
        return self._read().item()

    def tolist(self) -> Any:
        return self._read().tolist()

    def get(self, stream: Any = None, blocking: bool = True) -> np.ndarray:
        return self._m.asnumpy(self, stream=stream)

    def set(self, arr: np.ndarray, stream: Any = None) -> None:
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype or arr.shape != self.shape:
            raise ValueError(f"cannot set {arr.dtype}{arr.shape} into {self.dtype}{self.shape}")
        self._m._h2d("H2D transfers", arr.nbytes)
        self._a[...] = arr

    def copy(self) -> FakeArray:
        return self._m._op(np.copy, self)

    def astype(self, dtype: Any, copy: bool = True) -> FakeArray:
        return self._m._op(lambda a: a.astype(dtype), self)

    def reshape(self, *shape: Any) -> FakeArray:
        return self._m._op(lambda a: a.reshape(*shape), self)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        raise BufferError("a CUDA array cannot be exported to the host through DLPack")

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, self._dev)

    def __len__(self) -> int:
        return len(self._a)

    def __getitem__(self, key: Any) -> Any:
        self._m._mask_sync(key)
        return self._m._op(lambda a, k: a[k], self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._m._mask_sync(key)

        def assign(a, k, v):
            a[k] = v
        self._m._op(assign, self, key, value)

    def __repr__(self) -> str:
        return f"FakeArray(shape={self.shape}, dtype={self.dtype}, device={self._dev})"


def _binary(name: str):
    def op(self, other):
        return self._m._op(lambda a, b: getattr(a, name)(b), self, other)
    return op


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
           "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne"):
    for _f in (f"__{_n}__", f"__r{_n}__", f"__i{_n}__"):
        if hasattr(np.ndarray, _f):
            setattr(FakeArray, _f, _binary(_f))
for _f in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(FakeArray, _f, (lambda name: lambda self: self._m._op(lambda a: getattr(a, name)(), self))(_f))


class ForeignDeviceTensor:
    """A device tensor of another library (as a torch CUDA tensor): DLPack only."""

    def __init__(self, data: np.ndarray, device: int = 0):
        self.data, self._dev = data, device
        self.shape, self.dtype = data.shape, data.dtype

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, self._dev)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        raise BufferError("a CUDA tensor cannot be exported to the host through DLPack")


class FakeEvent:
    def __init__(self, stream: FakeStream):
        self.stream = stream


class FakeGraph:
    def __init__(self, ops: list, m: FakeCupy):
        self._ops, self._m = ops, m

    def launch(self, stream: Any = None) -> None:
        self._m.launches += 1
        for op in self._ops:
            op()


class FakeStream:
    def __init__(self, m: FakeCupy, non_blocking: bool = False, null: bool = False):
        self._m = m
        self.non_blocking, self.null = non_blocking, null
        self.device_id = m._device()
        self.capturing: list | None = None
        self.ptr = 0 if null else id(self)
        self.waits: list[FakeStream] = []
        self.threads: set[int] = set()
        self.syncs = 0
        if not null:
            m.streams_created += 1

    def __enter__(self) -> FakeStream:
        self._m._tls_stack().append(self)
        self.threads.add(threading.get_ident())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._m._tls_stack().pop()

    def record(self, event: Any = None) -> FakeEvent:
        return FakeEvent(self)

    def wait_event(self, event: FakeEvent) -> None:
        self.waits.append(event.stream)

    def synchronize(self) -> None:
        self.syncs += 1

    def begin_capture(self, mode: Any = None) -> None:
        if self.null:
            raise RuntimeError("cannot capture on the default (legacy) stream")
        if self.capturing is not None:
            raise RuntimeError("the stream is already capturing")
        self.capturing = []

    def end_capture(self) -> FakeGraph:
        ops, self.capturing = self.capturing, None
        if self._m.fail_end_capture:
            raise RuntimeError("cudaErrorStreamCaptureInvalidated")
        self._m.graphs_made += 1
        return FakeGraph(ops, self._m)

    def is_capturing(self) -> bool:
        return self.capturing is not None


class FakePool:
    def __init__(self, m: FakeCupy, name: str):
        self._m, self.name = m, name
        self.limit: dict[str, Any] = {}

    def malloc(self, size: int) -> Any:
        return self

    def set_limit(self, size: Any = None, fraction: Any = None) -> None:
        self.limit = {"size": size, "fraction": fraction}

    def used_bytes(self) -> int:
        return 0


class FakeCupy:
    """The module: ``ndarray``, array functions, ``cuda``, ``lib``, ``fuse``, counters."""

    ndarray = FakeArray
    __version__ = "fake"

    def __init__(self, devices: int = 1):
        self.devices = devices
        self.h2d = 0
        self.h2d_bytes = 0
        self.d2h = 0
        self.host_reads = 0
        self.kernels = 0
        self.launches = 0
        self.graphs_made = 0
        self.streams_created = 0
        self.fused_calls = 0
        self.fuse_fails = False
        self.fail_end_capture = False
        self.tf32_calls: list[Any] = []
        self.events_recorded = 0
        self.event_syncs = 0
        self._tls = threading.local()
        self._pools = {d: FakePool(self, f"default{d}") for d in range(devices)}
        self._nulls: dict[int, FakeStream] = {}
        self._pointers: dict[int, np.ndarray] = {}
        self.cuda = _make_cuda(self)
        self.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
            as_strided=lambda x, shape=None, strides=None: self._op(
                lambda a: np.lib.stride_tricks.as_strided(a, shape=shape, strides=strides), x)))
        linalg = types.SimpleNamespace(COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7,
                                       set_compute_type=lambda dtype, t: self.tf32_calls.append(t))
        self._core = types.SimpleNamespace(_routines_linalg=linalg)
        self.array_api = _make_array_api(self)

    # --- thread-local state ----------------------------------------------------------------------
    def _tls_stack(self) -> list:
        stacks = self._tls.__dict__.setdefault("streams", {})
        return stacks.setdefault(self._device(), [])

    def _device(self) -> int:
        devs = self._tls.__dict__.get("devices")
        return devs[-1] if devs else 0

    def current_stream(self) -> FakeStream:
        stack = self._tls_stack()
        if stack:
            return stack[-1]
        dev = self._device()
        if dev not in self._nulls:
            self._nulls[dev] = FakeStream(self, null=True)
        return self._nulls[dev]

    def _pool(self) -> Any:
        return self._tls.__dict__.get("allocator")

    # --- arrays ----------------------------------------------------------------------------------
    def _new(self, a: np.ndarray) -> FakeArray:
        return FakeArray(a, self, self._device(), self._pool())

    def _unwrap(self, v: Any) -> Any:
        if isinstance(v, FakeArray):
            if v._dev != self._device():
                raise ValueError(f"an array on device {v._dev} was used on device {self._device()}")
            return v._a
        if isinstance(v, np.ndarray):
            raise TypeError(f"Unsupported type {type(v)}")
        if isinstance(v, list):
            return [self._unwrap(e) for e in v]
        if isinstance(v, tuple):
            return tuple(self._unwrap(e) for e in v)
        return v

    def _wrap(self, r: Any, fresh: list) -> Any:
        if isinstance(r, np.ndarray):
            w = self._new(r)
            fresh.append(w)
            return w
        if isinstance(r, np.generic):
            return self._wrap(np.asarray(r), fresh)
        if isinstance(r, tuple):
            items = [self._wrap(e, fresh) for e in r]
            return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
        if isinstance(r, list):
            return [self._wrap(e, fresh) for e in r]
        return r

    def _op(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run (or, on a capturing stream, record) one kernel."""
        ua = [self._unwrap(a) for a in args]
        ukw = {k: self._unwrap(v) for k, v in kwargs.items()}
        fresh: list[FakeArray] = []
        out = self._wrap(fn(*ua, **ukw), fresh)
        touches = fresh or any(isinstance(a, FakeArray) for a in args)
        if not touches:
            return out
        self.kernels += 1
        stream = self.current_stream()
        if stream.capturing is not None:
            inputs = [a._a for a in args if isinstance(a, FakeArray)]
            owned = [w for w in fresh if not any(np.shares_memory(w._a, i) for i in inputs)]

            def replay(args=args, kwargs=kwargs, fresh=fresh):
                r = fn(*[self._unwrap(a) for a in args], **{k: self._unwrap(v) for k, v in kwargs.items()})
                values = r if isinstance(r, (tuple, list)) else (r,)
                for w, v in zip(fresh, [v for v in values if isinstance(v, (np.ndarray, np.generic))]):
                    if w._a.flags.writeable and not np.shares_memory(w._a, np.asarray(v)):
                        w._a[...] = v
            stream.capturing.append(replay)
            for w in owned:  # captured work has not run: results hold garbage until a replay
                if w._a.dtype.kind == "f" and w._a.flags.writeable:
                    w._a[...] = np.nan
        return out

    def _pointer(self, a: np.ndarray) -> int:
        ptr = a.__array_interface__["data"][0] or id(a)
        self._pointers[ptr] = a
        return ptr

    def at(self, ptr: int) -> np.ndarray:
        """The array whose ``.data.ptr`` is ``ptr``."""
        return self._pointers[ptr]

    def _mask_sync(self, key: Any) -> None:
        """Indexing by a boolean device array: CuPy counts its True entries on the host first (a
        device-to-host copy and a synchronisation), for reads and for assignments alike."""
        keys = key if isinstance(key, tuple) else (key,)
        if any(isinstance(k, FakeArray) and k.dtype == np.bool_ for k in keys):
            if self._capturing():
                raise RuntimeError("the current stream is capturing, so D2H transfers are disallowed")
            self.d2h += 1
            self.host_reads += 1

    def _capturing(self) -> bool:
        return self.current_stream().capturing is not None

    def _h2d(self, what: str, nbytes: int) -> None:
        if self._capturing():
            raise RuntimeError(f"the current stream is capturing, so {what} are disallowed")
        self.h2d += 1
        self.h2d_bytes += nbytes

    def _host_read(self, a: FakeArray) -> np.ndarray:
        if self._capturing():
            raise RuntimeError("the current stream is capturing, so synchronous API calls are disallowed")
        self.d2h += 1
        self.host_reads += 1
        return np.array(a._a)

    # --- the module's functions ------------------------------------------------------------------
    def asarray(self, obj: Any, dtype: Any = None, **_: Any) -> FakeArray:
        if isinstance(obj, FakeArray):
            return obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
        host = np.array(obj, dtype=dtype)
        self._h2d("H2D transfers", host.nbytes)
        return self._new(host)

    def asnumpy(self, a: Any, stream: Any = None, **_: Any) -> np.ndarray:
        if not isinstance(a, FakeArray):
            return np.asarray(a)
        if self._capturing() or (stream is not None and stream.capturing is not None):
            raise RuntimeError("the current stream is capturing, so D2H transfers are disallowed")
        self.d2h += 1
        return np.array(a._a)

    def empty(self, shape: Any, dtype: Any = float) -> FakeArray:
        a = np.empty(shape, dtype)
        a[...] = np.nan if a.dtype.kind == "f" else 0  # uninitialised device memory
        return self._new(a)

    def matmul(self, a: Any, b: Any, out: Any = None) -> Any:
        if self._capturing():
            raise NotImplementedError("calling cuBLAS API during stream capture is currently unsupported")
        if out is None:
            return self._op(np.matmul, a, b)
        self._op(lambda x, y, o: np.matmul(x, y, out=o), a, b, out)
        return out

    def fuse(self, fn: Any) -> Any:
        def fused(*args: Any) -> Any:
            if self.fuse_fails:
                raise ValueError("cupy.fuse could not compile this function")
            self.fused_calls += 1
            return fn(*args)
        return fused

    def from_dlpack(self, x: Any) -> FakeArray:
        if isinstance(x, FakeArray):
            return x
        if isinstance(x, ForeignDeviceTensor):
            return FakeArray(x.data, self, x._dev)
        raise BufferError("CuPy imports device tensors only")

    def get_default_memory_pool(self) -> FakePool:
        return self._pools[self._device()]

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if callable(value) and not isinstance(value, type):
            return lambda *a, **k: self._op(value, *a, **k)
        return value


def _make_cuda(m: FakeCupy) -> types.SimpleNamespace:
    class Device:
        def __init__(self, i: int | None = None):
            self.id = m._device() if i is None else i

        def __enter__(self) -> Device:
            if not 0 <= self.id < m.devices:
                raise RuntimeError(f"invalid device {self.id}")
            m._tls.__dict__.setdefault("devices", []).append(self.id)
            return self

        def __exit__(self, *exc: Any) -> None:
            m._tls.__dict__["devices"].pop()

        def synchronize(self) -> None:
            pass

    @contextmanager
    def using_allocator(malloc: Any):
        prev = m._tls.__dict__.get("allocator")
        m._tls.allocator = malloc.__self__ if hasattr(malloc, "__self__") else malloc
        try:
            yield
        finally:
            m._tls.allocator = prev

    class Event:
        """A timing event: ``record`` stamps the host clock (work here runs as it is launched)."""

        def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False):
            self.time: float | None = None
            self.disable_timing = disable_timing

        def record(self, stream: Any = None) -> None:
            m.events_recorded += 1
            self.time = time.perf_counter()

        def synchronize(self) -> None:
            m.event_syncs += 1

    def get_elapsed_time(start: Event, end: Event) -> float:
        if start.time is None or end.time is None or start.disable_timing or end.disable_timing:
            raise RuntimeError("cudaErrorInvalidResourceHandle: an event was not recorded with timing")
        return (end.time - start.time) * 1e3

    runtime = types.SimpleNamespace(getDeviceCount=lambda: m.devices, runtimeGetVersion=lambda: 13000,
                                    getDeviceProperties=lambda i: {"name": b"Fake GPU"})
    return types.SimpleNamespace(
        Device=Device, Stream=lambda non_blocking=False: FakeStream(m, non_blocking=non_blocking),
        Graph=FakeGraph, MemoryPool=lambda: FakePool(m, "private"), using_allocator=using_allocator,
        get_current_stream=m.current_stream, runtime=runtime, Event=Event, get_elapsed_time=get_elapsed_time)


def _on_dtypes(fn: Any) -> Any:
    return lambda *a, **k: fn(*[x.dtype if isinstance(x, FakeArray) else x for x in a], **k)


def _make_array_api(m: FakeCupy) -> types.ModuleType:
    """numpy's array-API namespace behind fake device arrays (what array-api-compat gives for CuPy)."""
    ns = types.ModuleType("fake_cupy_array_api")
    for name in dir(np):
        if name.startswith("_"):
            continue
        value = getattr(np, name)
        if callable(value) and not isinstance(value, type):
            setattr(ns, name, (lambda f: lambda *a, **k: m._op(f, *a, **k))(value))
        else:
            setattr(ns, name, value)
    for name in ("finfo", "iinfo", "isdtype", "result_type", "can_cast"):
        setattr(ns, name, _on_dtypes(getattr(np, name)))
    for sub in ("linalg", "fft"):
        mod = getattr(np, sub)
        setattr(ns, sub, types.SimpleNamespace(**{
            k: (lambda f: lambda *a, **kw: m._op(f, *a, **kw))(v) for k, v in vars(mod).items()
            if callable(v) and not k.startswith("_") and not isinstance(v, type)}))
    ns.asarray = m.asarray
    ns.from_dlpack = m.from_dlpack
    ns.clip = functools.partial(_compat_clip, ns)
    ns.sign = functools.partial(_compat_sign, ns, ns.sign)
    return ns


def _compat_clip(xp: Any, x: Any, /, min: Any = None, max: Any = None) -> Any:
    """array-api-compat's clip for CuPy (1.16): the bounds written in by boolean masks."""
    shape = np.broadcast_shapes(x.shape, getattr(min, "shape", ()), getattr(max, "shape", ()))
    out = xp.empty(shape, dtype=x.dtype)
    out[()] = x
    for bound, beyond in ((min, xp.less), (max, xp.greater)):
        if bound is not None:
            b = xp.broadcast_to(xp.asarray(bound, dtype=x.dtype), shape)
            mask = beyond(out, b) | xp.isnan(b)
            out[mask] = b[mask]
    return out


def _compat_sign(xp: Any, sign: Any, x: Any, /) -> Any:
    """array-api-compat's sign for CuPy (1.16): NaN put back by a boolean mask for real floats."""
    out = sign(x)
    if x.dtype.kind == "f":
        out[xp.isnan(x)] = np.nan
    return out
