"""cuDNN convolutions and max pooling for the GPU device, through cuDNN's C API with ctypes.

CuPy 14 dropped its cuDNN bindings (``cupyx.cudnn``). Without them a convolution is an im2col copy
and a cuBLAS GEMM, and at batch 64 the copy costs more than the product (docs/gpu.md). The cuDNN
library itself is on most GPU machines -- PyTorch's and jax's CUDA wheels depend on the
``nvidia-cudnn-cu13`` (or ``-cu12``) package, and arrayrt's ``gpu`` extra installs it too -- so this
module calls cuDNN's convolution API (the descriptor API of cuDNN 7 and 8, deprecated but present in
cuDNN 9) directly:

* The library: the path in ``ARRAYRT_CUDNN_LIBRARY``, else the ``nvidia.cudnn`` package's
  ``lib/libcudnn.so.9`` (or ``.so.8``), else the loader's search for those names.
  ``ARRAYRT_CUDNN=0`` leaves cuDNN alone (convolutions are then im2col + GEMM).
* One cuDNN handle per thread and device, pointed at CuPy's current stream before each call: a
  plan's lane, so requests on different lanes overlap as their other kernels do.
* Per convolution geometry (shapes, strides, dtype, pads, strides, dilations, groups, math): the
  tensor, filter and convolution descriptors and the algorithm cuDNN's heuristics rank first
  (``cudnnGetConvolutionForwardAlgorithm_v7``, the choice PyTorch makes with ``cudnn.benchmark``
  off) among those whose workspace fits :data:`WORKSPACE_LIMIT`. Made once, kept for the process.
  The workspace comes from CuPy's memory pool at each call (stream-ordered, as CuPy's own
  library calls do).
* Numerics: f16 tensors accumulate in f32 (cuDNN's "pseudo-half" configuration) and may use tensor
  cores; f32 computes with FMA math only (``CUDNN_FMA_MATH``: no TF32) unless tensor cores are
  asked for (``tensor_core="auto"``, which the backend passes for f32 only with ``GPU_ALLOW_TF32``);
  f64 computes in f64.

Max pooling (:meth:`Cudnn.pooling_forward`) uses the same handles and per-geometry descriptors; its
input may be a strided view (the descriptors carry the strides).

:func:`load` returns a :class:`Cudnn` (or None, with the reason in :data:`load_error`). Its
``convolution_forward`` and ``pooling_forward`` take the arguments of ``cupyx.cudnn``'s functions of
those names, so the backend's kernels use either the same way.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from arrayrt.errors import DeviceError

#: largest workspace (bytes) an algorithm may ask for; beyond it the heuristics' next choice is taken
WORKSPACE_LIMIT = 1 << 30
#: library names tried after ARRAYRT_CUDNN_LIBRARY and the nvidia.cudnn package, newest first
SONAMES = ("libcudnn.so.9", "libcudnn.so.8")
#: cuDNN 8.1 brought CUDNN_FMA_MATH, which keeps f32 convolutions off TF32
MIN_VERSION = (8, 1)

# cudnnDataType_t, cudnnTensorFormat_t, cudnnConvolutionMode_t, cudnnMathType_t (cudnn_graph.h)
DATA_TYPES = {"float32": 0, "float64": 1, "float16": 2}
TENSOR_NCHW = 0
CROSS_CORRELATION = 1
DEFAULT_MATH, TENSOR_OP_MATH, TENSOR_OP_MATH_ALLOW_CONVERSION, FMA_MATH = 0, 1, 2, 3
# cudnnPoolingMode_t, cudnnNanPropagation_t (cudnn_ops.h, cudnn_graph.h)
POOLING_MAX = 0
NOT_PROPAGATE_NAN = 0
#: CUDNN_CONVOLUTION_FWD_ALGO_COUNT: how many ranked algorithms to ask the heuristics for
ALGO_COUNT = 8

#: why :func:`load` returned None the last time it did (None when it loaded, or was not called)
load_error: str | None = None


class CudnnError(DeviceError):
    """A cuDNN call failed: names the function and cuDNN's status."""


class _AlgoPerf(ctypes.Structure):
    """cudnnConvolutionFwdAlgoPerf_t"""

    _fields_ = [("algo", ctypes.c_int), ("status", ctypes.c_int), ("time", ctypes.c_float),
                ("memory", ctypes.c_size_t), ("determinism", ctypes.c_int), ("math_type", ctypes.c_int),
                ("reserved", ctypes.c_int * 3)]


_P, _I, _Z = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
_IP = ctypes.POINTER(ctypes.c_int)
#: the functions used: name -> (restype, argtypes), as declared in cuDNN's headers
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "cudnnGetVersion": (_Z, []),
    "cudnnGetErrorString": (ctypes.c_char_p, [_I]),
    "cudnnCreate": (_I, [ctypes.POINTER(_P)]),
    "cudnnSetStream": (_I, [_P, _P]),
    "cudnnCreateTensorDescriptor": (_I, [ctypes.POINTER(_P)]),
    "cudnnSetTensorNdDescriptor": (_I, [_P, _I, _I, _IP, _IP]),
    "cudnnCreateFilterDescriptor": (_I, [ctypes.POINTER(_P)]),
    "cudnnSetFilterNdDescriptor": (_I, [_P, _I, _I, _I, _IP]),
    "cudnnCreateConvolutionDescriptor": (_I, [ctypes.POINTER(_P)]),
    "cudnnSetConvolutionNdDescriptor": (_I, [_P, _I, _IP, _IP, _IP, _I, _I]),
    "cudnnSetConvolutionGroupCount": (_I, [_P, _I]),
    "cudnnSetConvolutionMathType": (_I, [_P, _I]),
    "cudnnGetConvolutionForwardAlgorithm_v7": (_I, [_P, _P, _P, _P, _P, _I, _IP, ctypes.POINTER(_AlgoPerf)]),
    "cudnnGetConvolutionForwardWorkspaceSize": (_I, [_P, _P, _P, _P, _P, _I, ctypes.POINTER(_Z)]),
    "cudnnConvolutionForward": (_I, [_P, _P, _P, _P, _P, _P, _P, _I, _P, _Z, _P, _P, _P]),
    "cudnnCreatePoolingDescriptor": (_I, [ctypes.POINTER(_P)]),
    "cudnnSetPoolingNdDescriptor": (_I, [_P, _I, _I, _I, _IP, _IP, _IP]),
    "cudnnPoolingForward": (_I, [_P, _P, _P, _P, _P, _P, _P, _P]),
    "cudnnGetConvolutionNdForwardOutputDim": (_I, [_P, _P, _P, _I, _IP]),
    "cudnnGetPoolingNdForwardOutputDim": (_I, [_P, _P, _I, _IP]),
}


def version_tuple(code: int) -> tuple[int, int, int]:
    """cudnnGetVersion's number as (major, minor, patch): 8 counts 8xyz, 9 counts 9xxyy."""
    if code >= 90000:
        return code // 10000, code // 100 % 100, code % 100
    return code // 1000, code // 100 % 10, code % 100


def candidates() -> list[str]:
    """Where to look for the library, in order (see the module docstring)."""
    found = []
    explicit = os.environ.get("ARRAYRT_CUDNN_LIBRARY")
    if explicit:
        return [explicit]
    try:
        package = importlib.import_module("nvidia.cudnn")
        for folder in getattr(package, "__path__", []):
            found += [str(Path(folder) / "lib" / name) for name in SONAMES if (Path(folder) / "lib" / name).exists()]
    except ImportError:
        pass
    found += list(SONAMES)
    system = ctypes.util.find_library("cudnn")
    if system and system not in found:
        found.append(system)
    return found


#: the libraries the shim ``libcudnn.so.N`` forwards our calls to, per major version. They are loaded
#: (from the shim's folder) before any call: cuDNN 9's shim aborts the process when it cannot load one
SUBLIBRARIES = {9: ("libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"),
                8: ("libcudnn_ops_infer.so.8", "libcudnn_cnn_infer.so.8")}

_loaded: dict[int, Any] = {}


def major_version(name: str) -> int | None:
    """The major version a library file or soname names (``libcudnn.so.9`` or its target
    ``libcudnn.so.9.28.1``); None when it names none."""
    path = Path(name)
    for candidate in (path.name, path.resolve().name if path.is_absolute() else path.name):
        match = re.fullmatch(r"libcudnn\.so\.(\d+)(\..*)?", candidate)
        if match:
            return int(match.group(1))
    return None


def open_library(name: str, opener: Any = ctypes.CDLL) -> Any:
    """``name`` opened after the sub-libraries it forwards to (OSError when one does not load)."""
    major = major_version(name)
    if major not in SUBLIBRARIES:
        raise OSError("not a cuDNN 8 or 9 library name (libcudnn.so.8 / .so.9)")
    folder = Path(name).parent if os.sep in name else None
    for sub in SUBLIBRARIES[major]:
        opener(str(folder / sub) if folder is not None else sub)
    return opener(name)


def load(cp: Any, opener: Any = ctypes.CDLL) -> Cudnn | None:
    """The first library of :func:`candidates` that loads and is recent enough, bound to CuPy
    ``cp`` (once per process and CuPy module); None (and :data:`load_error` says why) when cuDNN is
    off or none does."""
    global load_error
    if os.environ.get("ARRAYRT_CUDNN", "1") == "0":
        load_error = "ARRAYRT_CUDNN=0"
        return None
    if opener is ctypes.CDLL and id(cp) in _loaded:
        return _loaded[id(cp)]
    problems, found = [], None
    for name in candidates():
        try:
            found = Cudnn(open_library(name, opener), cp, source=name)
            break
        except (OSError, AttributeError, CudnnError) as exc:
            problems.append(f"{name}: {exc}")
    load_error = None if found is not None else ("; ".join(problems) or "no candidate library")
    if opener is ctypes.CDLL:
        _loaded[id(cp)] = found
    return found


def _elements(a: Any) -> list[int]:
    """An array's strides in elements (cuDNN's unit), not bytes."""
    return [s // a.dtype.itemsize for s in a.strides]


def _ints(values: Sequence[int]) -> Any:
    return (ctypes.c_int * len(values))(*[int(v) for v in values])


class _Geometry:
    """The descriptors (and algorithm) of one convolution or pooling geometry (``conv``: the
    convolution or pooling descriptor)."""

    __slots__ = ("x", "w", "conv", "y", "algo", "workspace", "double")

    def __init__(self, **kw: Any):
        for k, v in kw.items():
            setattr(self, k, v)


class Cudnn:
    """cuDNN bound to one CuPy module: handles, descriptors, forward convolutions."""

    def __init__(self, lib: Any, cp: Any, source: str = ""):
        self._lib, self.cp, self.source = lib, cp, source
        for name, (restype, argtypes) in SIGNATURES.items():
            fn = getattr(lib, name)  # AttributeError: not a cuDNN of the expected API
            fn.restype, fn.argtypes = restype, argtypes
        self.version = version_tuple(int(lib.cudnnGetVersion()))
        if self.version[:2] < MIN_VERSION:
            raise CudnnError(f"cuDNN {'.'.join(map(str, self.version))} is older than "
                             f"{'.'.join(map(str, MIN_VERSION))}")
        self._tls = threading.local()
        self._geometries: dict[tuple, _Geometry] = {}
        self._lock = threading.Lock()
        self._tested: dict[int, str | None] = {}

    def __repr__(self) -> str:
        return f"cuDNN {'.'.join(map(str, self.version))} ({self.source})"

    # --- calls ---------------------------------------------------------------------------------
    def _call(self, name: str, *args: Any) -> None:
        status = getattr(self._lib, name)(*args)
        if status:
            text = self._lib.cudnnGetErrorString(status)
            text = text.decode() if isinstance(text, bytes) else str(text)
            raise CudnnError(f"cuDNN's {name} failed: {text} (status {status})")

    def _new(self, create: str) -> int:
        handle = ctypes.c_void_p()
        self._call(create, ctypes.byref(handle))
        return handle.value

    def handle(self, device: int | None = None) -> int:
        """This thread's cuDNN handle for ``device`` (default: the current one; made on first use)."""
        device = self.cp.cuda.Device().id if device is None else device
        handles = self._tls.__dict__.setdefault("handles", {})
        if device not in handles:
            handles[device] = self._new("cudnnCreate")
        return handles[device]

    def _on_stream(self, device: int) -> int:
        """The handle for ``device``, pointed at CuPy's current stream (the request's lane)."""
        handle = self.handle(device)
        self._call("cudnnSetStream", handle, self.cp.cuda.get_current_stream().ptr)
        return handle

    def _cached(self, key: tuple, make: Any) -> _Geometry:
        """The geometry for ``key``, made once (``make()``) even when threads race for it."""
        geo = self._geometries.get(key)
        if geo is None:
            with self._lock:
                geo = self._geometries.get(key)
                if geo is None:
                    geo = self._geometries[key] = make()
        return geo

    # --- descriptors ---------------------------------------------------------------------------
    def _tensor(self, dtype: int, shape: Sequence[int], strides: Sequence[int]) -> int:
        desc = self._new("cudnnCreateTensorDescriptor")
        self._call("cudnnSetTensorNdDescriptor", desc, dtype, len(shape), _ints(shape), _ints(strides))
        return desc

    def conv_descriptors(self, dtype: str, x_shape: Sequence[int], x_strides: Sequence[int], w_shape: Sequence[int],
                         y_shape: Sequence[int], y_strides: Sequence[int], pad: Sequence[int], stride: Sequence[int],
                         dilation: Sequence[int], groups: int, math_type: int) -> tuple[int, int, int, int]:
        """(x, filter, convolution, y) descriptors for element type ``dtype`` (a numpy name), strides
        in elements. No handle or device needed. Raises :class:`CudnnError` when the output shape
        cuDNN derives from them is not ``y_shape``."""
        if dtype not in DATA_TYPES:
            raise CudnnError(f"cuDNN convolutions take f16, f32 or f64 tensors, got {dtype}")
        code = DATA_TYPES[dtype]
        compute = DATA_TYPES["float64" if dtype == "float64" else "float32"]
        xd = self._tensor(code, x_shape, x_strides)
        yd = self._tensor(code, y_shape, y_strides)
        wd = self._new("cudnnCreateFilterDescriptor")
        self._call("cudnnSetFilterNdDescriptor", wd, code, TENSOR_NCHW, len(w_shape), _ints(w_shape))
        cd = self._new("cudnnCreateConvolutionDescriptor")
        self._call("cudnnSetConvolutionNdDescriptor", cd, len(pad), _ints(pad), _ints(stride), _ints(dilation),
                   CROSS_CORRELATION, compute)
        self._call("cudnnSetConvolutionGroupCount", cd, int(groups))
        self._call("cudnnSetConvolutionMathType", cd, math_type)
        dims = (ctypes.c_int * len(x_shape))()
        self._call("cudnnGetConvolutionNdForwardOutputDim", cd, xd, wd, len(x_shape), dims)
        if list(dims) != list(y_shape):
            raise CudnnError(f"cuDNN computes output {tuple(dims)} for input {tuple(x_shape)}, filters "
                             f"{tuple(w_shape)}, pads {tuple(pad)}, strides {tuple(stride)}, dilations "
                             f"{tuple(dilation)}, {groups} group(s); expected {tuple(y_shape)}")
        return xd, wd, cd, yd

    def pool_descriptors(self, dtype: str, x_shape: Sequence[int], x_strides: Sequence[int], y_shape: Sequence[int],
                         y_strides: Sequence[int], window: Sequence[int], pad: Sequence[int], stride: Sequence[int],
                         mode: int) -> tuple[int, int, int]:
        """(pooling, x, y) descriptors, checked as :meth:`conv_descriptors` are."""
        if dtype not in DATA_TYPES:
            raise CudnnError(f"cuDNN pooling takes f16, f32 or f64 tensors, got {dtype}")
        pd = self._new("cudnnCreatePoolingDescriptor")
        self._call("cudnnSetPoolingNdDescriptor", pd, int(mode), NOT_PROPAGATE_NAN, len(window), _ints(window),
                   _ints(pad), _ints(stride))
        xd = self._tensor(DATA_TYPES[dtype], x_shape, x_strides)
        yd = self._tensor(DATA_TYPES[dtype], y_shape, y_strides)
        dims = (ctypes.c_int * len(x_shape))()
        self._call("cudnnGetPoolingNdForwardOutputDim", pd, xd, len(x_shape), dims)
        if list(dims) != list(y_shape):
            raise CudnnError(f"cuDNN computes pooled output {tuple(dims)} for input {tuple(x_shape)}, window "
                             f"{tuple(window)}, pads {tuple(pad)}, strides {tuple(stride)}; expected {tuple(y_shape)}")
        return pd, xd, yd

    def _make_conv(self, device: int, x: Any, w: Any, y: Any, pad: Sequence[int], stride: Sequence[int],
                   dilation: Sequence[int], groups: int, math_type: int) -> _Geometry:
        """Descriptors, the heuristics' algorithm and its workspace size for one convolution."""
        name = str(x.dtype)
        if str(w.dtype) != name or str(y.dtype) != name:
            raise CudnnError(f"cuDNN convolutions take tensors of one type, got {x.dtype}, {w.dtype} -> {y.dtype}")
        xd, wd, cd, yd = self.conv_descriptors(name, x.shape, _elements(x), w.shape, y.shape, _elements(y), pad,
                                               stride, dilation, groups, math_type)
        handle = self.handle(device)
        ranked = (_AlgoPerf * ALGO_COUNT)()
        got = ctypes.c_int()
        self._call("cudnnGetConvolutionForwardAlgorithm_v7", handle, xd, wd, cd, yd, ALGO_COUNT, ctypes.byref(got),
                   ranked)
        usable = [p for p in ranked[:got.value] if p.status == 0]
        if not usable:
            raise CudnnError(f"cuDNN has no forward algorithm for input {tuple(x.shape)}, filters "
                             f"{tuple(w.shape)}, {groups} group(s), {name}")
        fits = [p for p in usable if p.memory <= WORKSPACE_LIMIT]
        algo = (fits[0] if fits else min(usable, key=lambda p: p.memory)).algo
        size = ctypes.c_size_t()
        self._call("cudnnGetConvolutionForwardWorkspaceSize", handle, xd, wd, cd, yd, algo, ctypes.byref(size))
        return _Geometry(x=xd, w=wd, conv=cd, y=yd, algo=int(algo), workspace=int(size.value),
                         double=name == "float64")

    # --- the convolution -----------------------------------------------------------------------
    def convolution_forward(self, x: Any, W: Any, b: Any, y: Any, pad: Sequence[int], stride: Sequence[int],
                            dilation: Sequence[int], groups: int, *, auto_tune: bool = False,
                            tensor_core: str = "auto", **_layouts: Any) -> Any:
        """``y = conv(x, W)`` (cross-correlation, NCHW / NCDHW, symmetric ``pad``) on the current
        stream; ``W`` C-contiguous ``[O, C/groups, *kernel]``. ``b`` must be None (the backend adds
        biases in its fused epilogue) and ``auto_tune`` False (heuristics choose)."""
        if b is not None:
            raise ValueError("this cuDNN binding adds no bias: pass b=None and add it afterwards")
        if auto_tune:
            raise ValueError("this cuDNN binding chooses algorithms by cuDNN's heuristics: auto_tune=False")
        if tensor_core == "never":
            math_type = FMA_MATH
        elif tensor_core == "always":
            math_type = TENSOR_OP_MATH_ALLOW_CONVERSION
        else:
            math_type = TENSOR_OP_MATH if str(x.dtype) == "float16" else DEFAULT_MATH
        cp = self.cp
        device = cp.cuda.Device().id
        key = ("conv", device, str(x.dtype), x.shape, x.strides, W.shape, y.shape, y.strides, tuple(pad),
               tuple(stride), tuple(dilation), int(groups), math_type)
        geo = self._cached(key, lambda: self._make_conv(device, x, W, y, pad, stride, dilation, groups, math_type))
        handle = self._on_stream(device)
        workspace = cp.empty((geo.workspace,), dtype=cp.uint8) if geo.workspace else None
        scalar = ctypes.c_double if geo.double else ctypes.c_float
        one, zero = scalar(1.0), scalar(0.0)
        self._call("cudnnConvolutionForward", handle, ctypes.byref(one), geo.x, x.data.ptr, geo.w, W.data.ptr,
                   geo.conv, geo.algo, workspace.data.ptr if workspace is not None else None, geo.workspace,
                   ctypes.byref(zero), geo.y, y.data.ptr)
        return y

    # --- pooling -------------------------------------------------------------------------------
    def pooling_forward(self, x: Any, y: Any, ksize: Sequence[int], stride: Sequence[int], pad: Sequence[int],
                        mode: int) -> Any:
        """``y = pool(x)`` (``mode``: cuDNN's cudnnPoolingMode_t, :data:`POOLING_MAX` for max) on the
        current stream: ``cupyx.cudnn.pooling_forward``'s arguments. ``x`` may be a strided view."""
        device = self.cp.cuda.Device().id
        name = str(x.dtype)
        if str(y.dtype) != name:
            raise CudnnError(f"cuDNN pooling takes tensors of one type, got {x.dtype} -> {y.dtype}")

        def make() -> _Geometry:
            pd, xd, yd = self.pool_descriptors(name, x.shape, _elements(x), y.shape, _elements(y), ksize, pad,
                                               stride, mode)
            return _Geometry(x=xd, y=yd, conv=pd, w=None, algo=None, workspace=0, double=name == "float64")

        key = ("pool", device, name, x.shape, x.strides, y.shape, y.strides, tuple(ksize), tuple(stride),
               tuple(pad), int(mode))
        geo = self._cached(key, make)
        handle = self._on_stream(device)
        scalar = ctypes.c_double if geo.double else ctypes.c_float
        one, zero = scalar(1.0), scalar(0.0)
        self._call("cudnnPoolingForward", handle, geo.conv, ctypes.byref(one), geo.x, x.data.ptr, ctypes.byref(zero),
                   geo.y, y.data.ptr)
        return y

    # --- the self-test -------------------------------------------------------------------------
    def tested(self, device: int) -> bool:
        """Whether :meth:`self_test` already ran on ``device``."""
        return device in self._tested

    def self_test(self) -> str | None:
        """One small convolution (pads, stride, two groups) and one max pooling on the current
        device, checked against numpy: None when right, else what went wrong. Once per device and
        process (the backend asks before its first cuDNN kernel, outside any CUDA graph capture), so
        a library that loads but cannot run here -- a sub-library or engine that fails to load, a
        driver it does not support -- costs im2col convolutions, not a failed model."""
        cp = self.cp
        device = cp.cuda.Device().id
        if device in self._tested:
            return self._tested[device]
        problem = None
        try:
            host = (np.arange(2 * 4 * 6 * 5, dtype=np.float32).reshape(2, 4, 6, 5) % 7 - 3) / 4
            filters = (np.arange(6 * 2 * 3 * 3, dtype=np.float32).reshape(6, 2, 3, 3) % 5 - 2) / 2
            x, w = cp.asarray(host), cp.asarray(filters)
            y = cp.empty((2, 6, 3, 5), dtype=cp.float32)
            self.convolution_forward(x, w, None, y, (1, 1), (2, 1), (1, 1), 2, tensor_core="never")
            p = cp.empty((2, 4, 2, 2), dtype=cp.float32)
            self.pooling_forward(x, p, (3, 3), (2, 2), (0, 0), POOLING_MAX)
            got_y, got_p = cp.asnumpy(y), cp.asnumpy(p)
            want_y, want_p = _reference_conv(host, filters, (1, 1), (2, 1), 2), _reference_max(host, (3, 3), (2, 2))
            if not np.allclose(got_y, want_y, rtol=1e-5, atol=1e-5):
                problem = f"a test convolution gave wrong values (max error {np.abs(got_y - want_y).max():.3g})"
            elif not np.array_equal(got_p, want_p):
                problem = f"a test max pooling gave wrong values (max error {np.abs(got_p - want_p).max():.3g})"
        except Exception as exc:  # noqa: BLE001 - any failure means: do not use cuDNN here
            problem = f"{type(exc).__name__}: {exc}"
        self._tested[device] = problem
        return problem


def _reference_conv(x: np.ndarray, w: np.ndarray, pads: tuple, strides: tuple, groups: int) -> np.ndarray:
    """The self-test's expected convolution (2-D, cross-correlation, symmetric pads), in float64."""
    x = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(p, p) for p in pads])
    kh, kw = w.shape[2:]
    og, cg = w.shape[0] // groups, w.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::strides[0], ::strides[1]]
    parts = [np.einsum("nchwij,ocij->nohw", windows[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
             for g in range(groups)]
    return np.concatenate(parts, axis=1)


def _reference_max(x: np.ndarray, window: tuple, strides: tuple) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(x, window, axis=(2, 3))[:, :, ::strides[0], ::strides[1]]
    return windows.max(axis=(4, 5))
