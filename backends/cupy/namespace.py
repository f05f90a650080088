"""The array-API namespace the ops' computes see on ``GPU``: CuPy's (through array-api-compat), with
the few changes that keep host transfers out of inference.

* ``asarray`` of a Python or numpy scalar is a device fill (``full``), not a host-to-device copy, so
  ``xp.asarray(4.0, dtype=...)`` inside a compute costs a tiny kernel and stays capturable.
* ``asarray`` of small host data (lists of divisors, shape tuples...) uploads each distinct value
  once per device and hands out device copies of the cached array: after the first inference no
  compute uploads anything. Large host data is uploaded as usual (and breaks CUDA graph capture).
* ``from_dlpack`` leaves host arrays (numpy, CPU DLPack tensors) on the host: HETERO moves a CPU
  subgraph's result into a GPU subgraph through it, and the GPU plan uploads host inputs itself,
  once, on the request's stream.
* ``erf`` is CuPy's (``cupyx.scipy.special.erf``) when present, one kernel instead of the rational
  approximation the standard forces on the computes.
* ``clip`` and ``sign`` are device ufuncs only. array-api-compat's versions for CuPy write bounds
  (clip) and NaN (sign) in through boolean masks, which CuPy sizes on the host: a device-to-host
  copy and a synchronisation in every Clamp, Gelu, erf and Sign, and a CUDA graph recording that
  fails (the H100 run's f16 BERT-tiny plan ran eagerly so). Also usable inside ``cupy.fuse``.
"""
from __future__ import annotations

import threading
import types
from collections import OrderedDict
from typing import Any

import numpy as np

#: host arrays up to this many elements are uploaded once and cached (per device)
SMALL_HOST_ELEMENTS = 1024
#: distinct cached host values kept per namespace (least recently used out first)
HOST_CACHE_ENTRIES = 512

_CPU_DLPACK_DEVICES = (1, 3)  # kDLCPU, kDLCUDAHost


def make_namespace(base: Any, cp: Any, erf: Any = None) -> types.ModuleType:
    """``base`` (CuPy's array-API namespace) with the changes of the module docstring; ``cp`` is the
    CuPy module (``ndarray``, ``full``, ``cuda.Device``)."""
    ns = types.ModuleType("arrayrt_cupy", "CuPy's array-API namespace for arrayrt's computes")
    ns.__dict__.update({k: v for k, v in vars(base).items() if not k.startswith("__")})
    cache = HostConstants(base.asarray, cp)
    ns.asarray = cache.asarray
    ns.from_dlpack = _from_dlpack(base.from_dlpack)
    if erf is not None:
        ns.erf = erf
    ns.clip = _clip(cp)
    ns.sign = _sign(cp)
    ns.__arrayrt_dtypes__ = {}
    ns.__arrayrt_host_constants__ = cache
    return ns


def _clip(cp: Any) -> Any:
    def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:
        """The standard's clip: result of ``x``'s type and the broadcast shape; bounds cast to that
        type first; a NaN bound or element gives NaN; Python int bounds beyond an integer type's
        range are no bound."""
        out = x
        for bound, pick, edge in ((min, cp.maximum, "min"), (max, cp.minimum, "max")):
            if bound is None:
                continue
            if isinstance(bound, cp.ndarray):
                value = bound.astype(x.dtype, copy=False)
            else:
                if type(bound) is int and np.dtype(x.dtype).kind in "iu":
                    info = np.iinfo(x.dtype)
                    if (edge == "min" and bound <= info.min) or (edge == "max" and bound >= info.max):
                        continue
                    bound = int(np.clip(bound, info.min, info.max))
                value = np.asarray(bound).astype(x.dtype)[()]
            out = pick(out, value)
        return x.copy() if out is x else out
    return clip


def _sign(cp: Any) -> Any:
    def sign(x: Any, /) -> Any:
        """CuPy's sign, with NaN kept NaN for real floats (CuPy's gives 0) by a select, not a mask."""
        out = cp.sign(x)
        return cp.where(cp.isnan(x), x, out) if np.dtype(x.dtype).kind == "f" else out
    return sign


class HostConstants:
    """``asarray`` for device code: scalars as fills, small host data uploaded once per device."""

    def __init__(self, upload: Any, cp: Any):
        self._upload = upload
        self._cp = cp
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.uploads = 0

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        cp = self._cp
        if isinstance(obj, cp.ndarray):
            return self._upload(obj, dtype=dtype, copy=copy)
        if isinstance(obj, (bool, int, float, np.generic)):
            dt = np.dtype(dtype) if dtype is not None else np.asarray(obj).dtype
            return cp.full((), obj, dtype=dt)
        host = np.asarray(obj, dtype=dtype)
        if host.dtype.kind in "OUSV":
            raise TypeError(f"{host.dtype} data cannot live on a GPU")
        if host.size > SMALL_HOST_ELEMENTS:
            return self._upload(host)
        key = (cp.cuda.Device().id, host.dtype.str, host.shape, host.tobytes())
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            cached = self._upload(np.asarray(host, order="C"))
            self.uploads += 1
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > HOST_CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return cached.copy()  # a device copy: computes may write into what asarray returns


def _from_dlpack(device_import: Any) -> Any:
    def from_dlpack(x: Any, **kwargs: Any) -> Any:
        if isinstance(x, np.ndarray):
            return x
        where = getattr(x, "__dlpack_device__", None)
        if where is not None and where()[0] in _CPU_DLPACK_DEVICES:
            return np.from_dlpack(x)
        return device_import(x, **kwargs)
    return from_dlpack
