"""CuPy kernels that beat the generic array-API computes on a GPU: op type -> factory(backend, node).

* MatMul on floats is one ``cupy.matmul`` (cuBLAS GEMM, strided-batched for stacks; transposes are
  views that cuBLAS reads with its transpose flags). f16 accumulates in f32 (CuPy's
  ``CUBLAS_COMPUTE_32F``); f32 uses TF32 only with ``GPU_ALLOW_TF32``.
* Convolutions: cuDNN where it is present (``cupyx.cudnn`` on CuPy 13, else the cuDNN library
  through :mod:`.cudnn`) and ``GPU_USE_CUDNN`` is on: the library's forward convolution, its
  algorithm chosen by cuDNN's heuristics, 1-D convolutions as 2-D ones of height 1. Else one padded
  copy, one im2col copy and one GEMM per convolution: all groups at once, the batch folded into the
  GEMM's columns so the filters are read once.
* MaxPool (values only): NaN and -inf are first raised to the lowest finite value, OpenVINO's window
  start value, so neither wins; then cuDNN's max pooling over the input padded with that value
  (undilated windows, cuDNN present), else one ``max`` reduction over a padded strided window view.

CuPy refuses cuBLAS calls while a stream captures a CUDA graph, so every GEMM (and every cuDNN
convolution: whether cuDNN's kernels may be captured is not settled here) goes through
``backend.uncaptured``: recorded as an eager step between graphs (see :mod:`.plan`), the copies
and epilogues around it staying in the graphs. A factory returns None to fall back to the generic
compute for that node.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from arrayrt.backends.base import KernelFactory
from arrayrt.backends.cupy.cudnn import CudnnError
from arrayrt.ir.ops.conv import resolve_pads
from arrayrt.ir.ops.pool import window_geometry
from arrayrt.ir.types import Type

from arrayrt.errors import where

FLOATS = (Type.f16, Type.f32, Type.f64)


def named(fn: Callable[..., Any], exec_type: str, capture_safe: bool = True) -> Callable[..., Any]:
    fn.exec_type = exec_type
    fn.capture_safe = capture_safe
    return fn


class Gemm:
    """``a @ b`` with optional transposes, and the same product written into a given buffer (how an
    eager step between CUDA graphs refreshes its output)."""

    def __init__(self, cp: Any, transpose_a: bool = False, transpose_b: bool = False):
        self.cp, self.ta, self.tb = cp, transpose_a, transpose_b

    def _operands(self, a: Any, b: Any) -> tuple[Any, Any]:
        swap = self.cp.swapaxes
        return (swap(a, -1, -2) if self.ta else a), (swap(b, -1, -2) if self.tb else b)

    def __call__(self, a: Any, b: Any) -> Any:
        return self.cp.matmul(*self._operands(a, b))

    def write_into(self, out: Any, a: Any, b: Any) -> None:
        self.cp.matmul(*self._operands(a, b), out=out)


def matmul(backend: Any, node: Any) -> Callable[..., Any] | None:
    t = node.input_type(0)
    ra, rb = node.input_shape(0), node.input_shape(1)
    if t not in FLOATS or not ra.rank_is_static or not rb.rank_is_static or len(ra) < 2 or len(rb) < 2:
        return None
    return named(Gemm(backend.cp, node.attrs["transpose_a"], node.attrs["transpose_b"]), "cupy_cublas_gemm",
                 capture_safe=False)


# --- convolutions ------------------------------------------------------------------------------
def _conv_geometry(node: Any, grouped: bool) -> tuple | None:
    """(groups, out channels per group, in channels per group, kernel) from static filters."""
    w = node.input_shape(1)
    if not w.is_static or not node.input_shape(0).rank_is_static or node.input_type(0) not in FLOATS:
        return None
    dims = tuple(w.to_shape())
    if grouped:
        return dims[0], dims[1], dims[2], dims[3:]
    return 1, dims[0], dims[1], dims[2:]


def _pads(node: Any, sizes: tuple[int, ...], kernel: tuple[int, ...]) -> tuple[list[int], list[int]]:
    a = node.attrs
    return resolve_pads(a["auto_pad"], sizes, kernel, a["strides"], a["dilations"], a["pads_begin"],
                        a["pads_end"])


def convolution(backend: Any, node: Any) -> Callable[..., Any] | None:
    return _convolution(backend, node, grouped=False)


def group_convolution(backend: Any, node: Any) -> Callable[..., Any] | None:
    return _convolution(backend, node, grouped=True)


def _convolution(backend: Any, node: Any, grouped: bool) -> Callable[..., Any] | None:
    geo = _conv_geometry(node, grouped)
    if geo is None or any(p < 0 for p in list(node.attrs["pads_begin"]) + list(node.attrs["pads_end"])):
        return None
    if len(geo[3]) in (1, 2, 3) and node.input_type(0) in (Type.f16, Type.f32) and backend.cudnn_ready():
        return _cudnn_convolution(backend, node, geo)
    return _gemm_convolution(backend, node, geo)


def _gemm_convolution(backend: Any, node: Any, geo: tuple) -> Callable[..., Any]:
    """im2col: a strided view of the padded input laid out [G, C*K, N*P] (one copy), the filters
    [G, O, C*K] (a free reshape), one GEMM -> [G, O, N, *out] viewed as [N, G*O, *out]."""
    cp = backend.cp
    groups, o, c, kernel = geo
    strides, dilations = node.attrs["strides"], node.attrs["dilations"]
    ck = c * math.prod(kernel)
    gemm = Gemm(cp)
    as_strided = cp.lib.stride_tricks.as_strided

    def run(x: Any, w: Any) -> Any:
        n, sizes = x.shape[0], tuple(x.shape[2:])
        pb, pe = _pads(node, sizes, kernel)
        if any(pb) or any(pe):
            x = cp.pad(x, [(0, 0), (0, 0)] + list(zip(pb, pe)))
        x = cp.ascontiguousarray(x)
        padded = x.shape[2:]
        out = [(s - (k - 1) * d - 1) // st + 1 for s, k, d, st in zip(padded, kernel, dilations, strides)]
        if any(v <= 0 for v in out):
            raise ValueError(f"the kernel does not fit the padded input: output spatial shape {out}")
        item = x.dtype.itemsize
        sn, sc, *ss = (s // item for s in x.strides)
        taps = (d * s for d, s in zip(dilations, ss))
        steps = (st * s for st, s in zip(strides, ss))
        view = as_strided(x, shape=(groups, c, *kernel, n, *out),
                          strides=tuple(v * item for v in (c * sc, sc, *taps, sn, *steps)))
        lead = (groups,) if groups > 1 else ()
        cols = cp.reshape(view, (*lead, ck, n * math.prod(out)))
        y = backend.uncaptured(gemm, cp.reshape(w, (*lead, o, ck)), cols)  # [G, O, N*P]
        y = cp.reshape(y, (groups, o, n, *out))
        y = cp.moveaxis(y, 2, 0)  # [N, G, O, *out]: a view
        return cp.reshape(y, (n, groups * o, *out))

    return named(run, "cupy_im2col_gemm")


class CudnnConv:
    """One cuDNN forward convolution of given filters and symmetric pads, into a new or a given
    buffer (how an eager step between CUDA graphs refreshes its output)."""

    def __init__(self, backend: Any, node: Any, groups: int, strides: tuple, dilations: tuple):
        self.cp, self.cudnn, self.node = backend.cp, backend.cudnn, node
        self.groups, self.strides, self.dilations = groups, strides, dilations
        self.tf32 = backend.allow_tf32

    def __call__(self, x: Any, filters: Any, pads: tuple) -> Any:
        out = [(s + 2 * p - (k - 1) * d - 1) // st + 1
               for s, p, k, d, st in zip(x.shape[2:], pads, filters.shape[2:], self.dilations, self.strides)]
        y = self.cp.empty((x.shape[0], filters.shape[0], *out), dtype=x.dtype)
        self.write_into(y, x, filters, pads)
        return y

    def write_into(self, y: Any, x: Any, filters: Any, pads: tuple) -> None:
        core = "auto" if x.dtype == self.cp.float16 or self.tf32 else "never"
        try:
            self.cudnn.convolution_forward(x, filters, None, y, pads, self.strides, self.dilations, self.groups,
                                           auto_tune=False, tensor_core=core)
        except CudnnError as exc:
            raise CudnnError(f"{where(self.node)}: {exc}") from exc


def _cudnn_convolution(backend: Any, node: Any, geo: tuple) -> Callable[..., Any]:
    """cuDNN's forward convolution (an eager step between CUDA graphs); asymmetric pads are a
    padded copy first, a 1-D convolution is a 2-D one of height 1."""
    cp = backend.cp
    groups, o, c, kernel = geo
    flat = len(kernel) == 1
    lift = (lambda v: (1, *v)) if flat else tuple
    conv = CudnnConv(backend, node, groups, lift(node.attrs["strides"]), lift(node.attrs["dilations"]))

    def run(x: Any, w: Any) -> Any:
        sizes = tuple(x.shape[2:])
        pb, pe = _pads(node, sizes, kernel)
        if pb != pe:  # cuDNN pads symmetrically: pad the input itself
            x = cp.pad(x, [(0, 0), (0, 0)] + list(zip(pb, pe)))
            pb = [0] * len(pb)
        x = cp.ascontiguousarray(x)
        filters = cp.ascontiguousarray(cp.reshape(w, (groups * o, c, *lift(kernel))))
        if flat:
            x = cp.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))
        y = backend.uncaptured(conv, x, filters, (0, *pb) if flat else tuple(pb))
        return cp.reshape(y, (y.shape[0], y.shape[1], y.shape[3])) if flat else y

    return named(run, "cupy_cudnn_convolution")


# --- pooling -----------------------------------------------------------------------------------
def max_pool(backend: Any, node: Any) -> Callable[..., Any] | None:
    """Values by one reduction over a strided window view; nodes whose indices output is read keep
    the generic compute."""
    cp = backend.cp
    if node.get_output_size() > 1 and backend.output_read(node, 1):
        return None
    t = node.input_type(0)
    if not t.is_static or not t.is_real or not node.input_shape(0).rank_is_static:
        return None
    kernel, strides, dilations, pads_begin, pads_end, auto_pad, rounding = node.op.window_attrs(node)
    if any(p < 0 for p in list(pads_begin) + list(pads_end)):
        return None
    two = node.get_output_size() > 1
    ns = len(kernel)
    low = float(backend.xp.finfo(t.to_dtype()).min)

    def run(x: Any) -> Any:
        sizes = tuple(x.shape[2:])
        pb, _, out, reach, steps = window_geometry(sizes, kernel, strides, dilations, pads_begin, pads_end,
                                                   auto_pad, rounding)
        x = cp.fmax(x, low)  # NaN and -inf never win (the generic compute's rule)
        if any(pb) or any(reach):
            x = cp.pad(x, [(0, 0), (0, 0)] + list(zip(pb, reach)), constant_values=low)
        item = x.dtype.itemsize
        sn, sc, *ss = (s // item for s in x.strides)
        view = cp.lib.stride_tricks.as_strided(
            x, shape=(x.shape[0], x.shape[1], *out, *kernel),
            strides=tuple(v * item for v in (sn, sc, *(st * s for st, s in zip(steps, ss)),
                                             *(d * s for d, s in zip(dilations, ss)))))
        y = cp.max(view, axis=tuple(range(2 + ns, 2 + 2 * ns)))
        return (y, None) if two else y

    if (ns in (1, 2, 3) and all(d == 1 for d in dilations) and t in FLOATS and backend.cudnn_ready()
            and hasattr(backend.cudnn, "pooling_forward")):
        return _cudnn_max_pool(backend, node, kernel, strides, pads_begin, pads_end, auto_pad, rounding, low, two,
                               run)
    return named(run, "cupy_strided_max_pool")


class CudnnPool:
    """cuDNN's max pooling without padding (the kernel pads first), into a new or a given buffer."""

    def __init__(self, backend: Any, node: Any, kernel: tuple, strides: tuple):
        self.cp, self.cudnn, self.node = backend.cp, backend.cudnn, node
        self.kernel, self.strides = kernel, strides

    def __call__(self, x: Any) -> Any:
        out = [(n - k) // s + 1 for n, k, s in zip(x.shape[2:], self.kernel, self.strides)]
        y = self.cp.empty((*x.shape[:2], *out), dtype=x.dtype)
        self.write_into(y, x)
        return y

    def write_into(self, y: Any, x: Any) -> None:
        try:
            self.cudnn.pooling_forward(x, y, self.kernel, self.strides, (0,) * len(self.kernel), 0)  # max
        except CudnnError as exc:
            raise CudnnError(f"{where(self.node)}: {exc}") from exc


def _cudnn_max_pool(backend: Any, node: Any, kernel: Sequence[int], strides: Sequence[int], pads_begin: Any,
                    pads_end: Any, auto_pad: str, rounding: str, low: float, two: bool,
                    strided: Callable[..., Any]) -> Callable[..., Any]:
    """Max pooling values on cuDNN: NaN and -inf raised to the lowest finite value while copying
    into a buffer padded with it, then cuDNN's pooling (an eager step between CUDA graphs) over the
    part the windows reach; 1-D as 2-D of height 1. Shapes whose windows a stride beyond the input
    addresses (see :func:`~arrayrt.ir.ops.pool.window_geometry`) run ``strided`` instead."""
    cp = backend.cp
    ns = len(kernel)
    lift = (lambda v: (1, *v)) if ns == 1 else tuple
    pool = CudnnPool(backend, node, lift(kernel), lift(strides))
    dilations = [1] * ns

    def run(x: Any) -> Any:
        sizes = tuple(x.shape[2:])
        pb, _, out, reach, steps = window_geometry(sizes, kernel, strides, dilations, pads_begin, pads_end,
                                                   auto_pad, rounding)
        if any(o > 1 and e != s for o, e, s in zip(out, steps, strides)):  # (one window: any stride)
            return strided(x)
        if any(pb) or any(reach):
            buf = cp.full((*x.shape[:2], *[n + b + r for n, b, r in zip(sizes, pb, reach)]), low, dtype=x.dtype)
            cp.fmax(x, low, out=buf[(slice(None), slice(None), *[slice(b, b + n) for b, n in zip(pb, sizes)])])
        else:
            buf = cp.fmax(x, low)
        needed = [(o - 1) * s + k for o, s, k in zip(out, strides, kernel)]
        if list(buf.shape[2:]) != needed:  # the input's tail no window reaches (floor rounding)
            buf = buf[(slice(None), slice(None), *[slice(0, m) for m in needed])]
        if ns == 1:  # a unit height whose stride is a row's, not 0 (a descriptor may refuse 0)
            sn, sc, sl = buf.strides
            buf = cp.lib.stride_tricks.as_strided(buf, shape=(*buf.shape[:2], 1, buf.shape[2]),
                                                  strides=(sn, sc, buf.shape[2] * sl, sl))
        y = backend.uncaptured(pool, buf)
        if ns == 1:
            y = y[:, :, 0, :]
        return (y, None) if two else y

    return named(run, "cupy_cudnn_max_pool")


OVERRIDES: dict[str, KernelFactory] = {
    "MatMul": matmul,
    "Convolution": convolution,
    "GroupConvolution": group_convolution,
    "MaxPool": max_pool,
}
