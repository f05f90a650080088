"""A stand-in for the cuDNN library (the C functions :mod:`arrayrt.backends.cupy.cudnn` calls), over
:mod:`fakecupy`'s arrays, so the binding's marshalling runs and is checked on a CPU.

Each function takes the ctypes arguments the binding passes (``byref`` outputs, int arrays, raw
pointers), records the call, and returns a cuDNN status. ``cudnnConvolutionForward`` finds its
arrays by pointer, checks them against the descriptors it was given (shapes, strides, element
type) and computes the convolution in numpy from the descriptors alone. ``fail[name] = status``
makes a function fail.
"""
from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np

STATUS = {0: b"CUDNN_STATUS_SUCCESS", 2000: b"CUDNN_STATUS_BAD_PARAM", 3000: b"CUDNN_STATUS_NOT_SUPPORTED",
          1001: b"CUDNN_STATUS_NOT_INITIALIZED"}
BAD_PARAM, NOT_SUPPORTED = 2000, 3000
DTYPES = {0: np.float32, 1: np.float64, 2: np.float16}

#: what the fake heuristics rank, best first: (algo, status, workspace bytes)
RANKING = [(7, 0, 4 << 30), (1, 0, 4096), (6, NOT_SUPPORTED, 0), (0, 0, 0)]


def _out(ref: Any) -> Any:
    """The ctypes object a ``byref(...)`` argument points at."""
    return ref._obj


class FakeCudnnLibrary:
    def __init__(self, cp: Any, version: int = 92801):
        self.cp = cp
        self.version = version
        self.calls: Counter = Counter()
        self.fail: dict[str, int] = {}
        self.streams: list[int] = []
        self.forwards: list[dict] = []
        self.pools: list[dict] = []
        self.desc: dict[int, dict] = {}
        self._ids = itertools.count(1)
        for name in ("cudnnGetVersion", "cudnnGetErrorString", "cudnnCreate", "cudnnSetStream",
                     "cudnnCreateTensorDescriptor", "cudnnSetTensorNdDescriptor", "cudnnCreateFilterDescriptor",
                     "cudnnSetFilterNdDescriptor", "cudnnCreateConvolutionDescriptor",
                     "cudnnSetConvolutionNdDescriptor", "cudnnSetConvolutionGroupCount",
                     "cudnnSetConvolutionMathType", "cudnnGetConvolutionForwardAlgorithm_v7",
                     "cudnnGetConvolutionForwardWorkspaceSize", "cudnnConvolutionForward",
                     "cudnnCreatePoolingDescriptor", "cudnnSetPoolingNdDescriptor", "cudnnPoolingForward",
                     "cudnnGetConvolutionNdForwardOutputDim", "cudnnGetPoolingNdForwardOutputDim"):
            setattr(self, name, self._entry(name, getattr(self, "_" + name)))

    def _entry(self, name: str, impl: Any) -> Any:
        def fn(*args: Any) -> Any:  # a plain function: the binding sets restype/argtypes on it
            self.calls[name] += 1
            if name in self.fail:
                return self.fail[name]
            return impl(*args)
        return fn

    # --- library and handles -------------------------------------------------------------------
    def _cudnnGetVersion(self) -> int:
        return self.version

    def _cudnnGetErrorString(self, status: int) -> bytes:
        return STATUS.get(status, b"CUDNN_STATUS_UNKNOWN")

    def _new(self, ref: Any, kind: str) -> int:
        handle = next(self._ids)
        self.desc[handle] = {"kind": kind}
        _out(ref).value = handle
        return 0

    def _cudnnCreate(self, ref: Any) -> int:
        return self._new(ref, "handle")

    def _cudnnSetStream(self, handle: int, stream: Any) -> int:
        self.streams.append(stream or 0)
        return 0

    # --- descriptors ---------------------------------------------------------------------------
    def _cudnnCreateTensorDescriptor(self, ref: Any) -> int:
        return self._new(ref, "tensor")

    def _cudnnCreateFilterDescriptor(self, ref: Any) -> int:
        return self._new(ref, "filter")

    def _cudnnCreateConvolutionDescriptor(self, ref: Any) -> int:
        return self._new(ref, "conv")

    def _cudnnSetTensorNdDescriptor(self, d: int, dtype: int, nd: int, dims: Any, strides: Any) -> int:
        if nd < 4 or dtype not in DTYPES:
            return BAD_PARAM
        self.desc[d].update(dtype=dtype, dims=list(dims[:nd]), strides=list(strides[:nd]))
        return 0

    def _cudnnSetFilterNdDescriptor(self, d: int, dtype: int, fmt: int, nd: int, dims: Any) -> int:
        if nd < 4 or dtype not in DTYPES or fmt != 0:
            return BAD_PARAM
        self.desc[d].update(dtype=dtype, dims=list(dims[:nd]))
        return 0

    def _cudnnSetConvolutionNdDescriptor(self, d: int, n: int, pads: Any, strides: Any, dilations: Any, mode: int,
                                         compute: int) -> int:
        self.desc[d].update(pads=list(pads[:n]), strides=list(strides[:n]), dilations=list(dilations[:n]),
                            mode=mode, compute=compute, groups=1, math=0)
        return 0

    def _cudnnSetConvolutionGroupCount(self, d: int, groups: int) -> int:
        self.desc[d]["groups"] = groups
        return 0

    def _cudnnSetConvolutionMathType(self, d: int, math: int) -> int:
        self.desc[d]["math"] = math
        return 0

    def _cudnnGetConvolutionNdForwardOutputDim(self, cd: int, xd: int, wd: int, n: int, dims: Any) -> int:
        conv, x, w = self.desc[cd], self.desc[xd]["dims"], self.desc[wd]["dims"]
        if n != len(x) or x[1] != w[1] * conv["groups"] or w[0] % conv["groups"]:
            return BAD_PARAM
        dims[0], dims[1] = x[0], w[0]
        for i, (s, k, p, st, d) in enumerate(zip(x[2:], w[2:], conv["pads"], conv["strides"], conv["dilations"])):
            dims[2 + i] = (s + 2 * p - (k - 1) * d - 1) // st + 1
        return 0

    def _cudnnGetPoolingNdForwardOutputDim(self, pd: int, xd: int, n: int, dims: Any) -> int:
        pool, x = self.desc[pd], self.desc[xd]["dims"]
        if n != len(x):
            return BAD_PARAM
        dims[0], dims[1] = x[0], x[1]
        for i, (s, k, p, st) in enumerate(zip(x[2:], pool["window"], pool["pads"], pool["strides"])):
            dims[2 + i] = (s + 2 * p - k) // st + 1
        return 0

    def _cudnnGetConvolutionForwardAlgorithm_v7(self, handle, x, w, conv, y, n, got_ref, perf) -> int:
        for i, (algo, status, memory) in enumerate(RANKING[:n]):
            perf[i].algo, perf[i].status, perf[i].memory = algo, status, memory
        _out(got_ref).value = min(n, len(RANKING))
        return 0

    def _cudnnGetConvolutionForwardWorkspaceSize(self, handle, x, w, conv, y, algo, size_ref) -> int:
        sizes = {a: m for a, s, m in RANKING if s == 0}
        if algo not in sizes:
            return BAD_PARAM
        _out(size_ref).value = sizes[algo]
        return 0

    # --- the convolution -----------------------------------------------------------------------
    def _array(self, ptr: int, desc: dict, filters: bool = False) -> np.ndarray | None:
        """The array at ``ptr`` if it is what ``desc`` describes (filters: C-contiguous)."""
        a = self.cp.at(ptr)
        if list(a.shape) != desc["dims"] or a.dtype != DTYPES[desc["dtype"]]:
            return None
        if filters:
            return a if a.flags.c_contiguous else None
        return a if [s // a.itemsize for s in a.strides] == desc["strides"] else None

    def _cudnnConvolutionForward(self, handle, alpha_ref, xd, xptr, wd, wptr, cd, algo, ws, ws_size, beta_ref,
                                 yd, yptr) -> int:
        conv = self.desc[cd]
        x, w, y = self._array(xptr, self.desc[xd]), self._array(wptr, self.desc[wd], True), self._array(
            yptr, self.desc[yd])
        need = {a: m for a, s, m in RANKING if s == 0}.get(algo)
        if x is None or w is None or y is None or conv["mode"] != 1 or need is None or ws_size < need:
            return BAD_PARAM
        if need and (not ws or self.cp.at(ws).nbytes < need):
            return BAD_PARAM
        self.forwards.append({"algo": algo, "workspace": ws_size, "alpha": _out(alpha_ref).value,
                              "beta": _out(beta_ref).value, "math": conv["math"], "compute": conv["compute"],
                              "dtype": self.desc[xd]["dtype"], "handle": handle,
                              "geometry": {k: dict(self.desc[d]) for k, d in (("x", xd), ("w", wd), ("conv", cd),
                                                                             ("y", yd))}})
        y[...] = (_out(alpha_ref).value * reference(x, w, conv["pads"], conv["strides"], conv["dilations"],
                                                    conv["groups"])).astype(y.dtype)
        return 0

    # --- pooling -------------------------------------------------------------------------------
    def _cudnnCreatePoolingDescriptor(self, ref: Any) -> int:
        return self._new(ref, "pool")

    def _cudnnSetPoolingNdDescriptor(self, d: int, mode: int, nan: int, n: int, window: Any, pads: Any,
                                     strides: Any) -> int:
        self.desc[d].update(mode=mode, nan=nan, window=list(window[:n]), pads=list(pads[:n]),
                            strides=list(strides[:n]))
        return 0

    def _cudnnPoolingForward(self, handle, pd, alpha_ref, xd, xptr, beta_ref, yd, yptr) -> int:
        pool = self.desc[pd]
        x, y = self._array(xptr, self.desc[xd]), self._array(yptr, self.desc[yd])
        if x is None or y is None or pool["mode"] != 0 or len(pool["window"]) != x.ndim - 2:
            return BAD_PARAM
        padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pool["pads"]], constant_values=-np.inf)
        out = [(n - k) // s + 1 for n, k, s in zip(padded.shape[2:], pool["window"], pool["strides"])]
        if list(y.shape[2:]) != out:
            return BAD_PARAM
        windows = np.lib.stride_tricks.sliding_window_view(padded, pool["window"], axis=tuple(range(2, x.ndim)))
        picked = windows[(slice(None), slice(None), *[slice(None, None, s) for s in pool["strides"]])]
        self.pools.append({"window": pool["window"], "strides": pool["strides"], "pads": pool["pads"],
                           "x_strides": self.desc[xd]["strides"],
                           "geometry": {k: dict(self.desc[d]) for k, d in (("x", xd), ("pool", pd), ("y", yd))}})
        y[...] = picked.max(axis=tuple(range(x.ndim, 2 * x.ndim - 2)))
        return 0


def reference(x: np.ndarray, w: np.ndarray, pads, strides, dilations, groups: int) -> np.ndarray:
    """Cross-correlation of NC* ``x`` with ``[O, C/groups, *K]`` filters, symmetric pads, in f64."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pads])
    kernel = w.shape[2:]
    out = [(s - (k - 1) * d - 1) // st + 1 for s, k, d, st in zip(x.shape[2:], kernel, dilations, strides)]
    o, cg = w.shape[0], w.shape[1]
    og = o // groups
    y = np.zeros((x.shape[0], o, *out))
    for tap in np.ndindex(*kernel):
        window = tuple(slice(t * d, t * d + (n - 1) * st + 1, st) for t, d, n, st in zip(tap, dilations, out, strides))
        patch = x[(slice(None), slice(None), *window)]
        for g in range(groups):
            y[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...", patch[:, g * cg:(g + 1) * cg],
                                                   w[(slice(g * og, (g + 1) * og), slice(None), *tap)])
    return y
