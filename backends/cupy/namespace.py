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
    ns.__arrayrt_dtypes__ = {}
    ns.__arrayrt_host_constants__ = cache
    return ns


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
