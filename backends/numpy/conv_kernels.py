"""numpy kernels for the conv family (see kernels.py): im2col + one GEMM per convolution.

* The input is copied once into a bordered buffer, kept per thread and per input shape (its border
  is written once). Along a strided axis the buffer holds one plane per stride phase, so every
  kernel tap then reads at unit stride.
* im2col is one copy per phase plane. With unit stride along the last axis (in phase coordinates)
  the window rows run over the whole padded width ("flat" columns): every copied run is one long
  contiguous row, and the few columns that straddle the border are computed, then cropped.
* 1x1 convolutions without padding are a plain GEMM on the input.
* Depthwise convolutions: large images as one multiply-add per tap over channel rows; small strided
  or tiny images channels-last (the channels as the inner loop); the rest as a per-channel
  matrix-vector product over the im2col columns.
* Backprop convolutions are one GEMM (weights^T @ data) and one strided add per kernel tap (col2im).

The GEMMs run on BLAS threads; the copies and elementwise passes stay on the calling thread (split
over two threads they measured slower on the 2-core target: one core already saturates its memory
bandwidth, and a second thread waits on the first under load). Results are contiguous. Weights are
reshaped once when constant. f32 stays f32; f16 computes in f32.
"""
from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from arrayrt.backends.base import KernelFactory, usable_cores
from arrayrt.backends.numpy import compiled
from arrayrt.backends.numpy.bounds import clamp_
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.conv import backprop_pads, dilated, resolve_pads
from numpy.lib.stride_tricks import as_strided

#: im2col over the padded width when it adds at most this fraction of GEMM columns
FLAT_OVERHEAD = 0.15
#: depthwise taps as multiply-adds over channel rows when a channel's output has this many columns
DEPTHWISE_ADD_MIN = 2048
#: smaller depthwise outputs than this, or strided ones, run channels-last (channels as the inner loop)
DEPTHWISE_NHWC_MAX = 64

#: split a depthwise convolution over threads when each thread gets at least this many multiply-adds
PARALLEL_MIN_WORK = 1 << 17

#: the compiled depthwise loop is split over threads only above this many multiply-adds: below it a
#: second thread measured no faster on the 2-core target (MobileNetV2's layers, 0.4-3.6 M each)
COMPILED_PARALLEL_MIN_WORK = 1 << 23

_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def parallel(part: Callable[[int, int], Any], total: int, workers: int) -> None:
    """``part(lo, hi)`` over ``range(total)`` cut into ``workers`` slices, the first on this thread and
    the others on a shared pool. numpy's ufuncs release the GIL, so elementwise work that BLAS does not
    thread (depthwise taps) uses the cores the stream was given."""
    global _pool
    if workers <= 1 or total < 2 * workers:
        part(0, total)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=usable_cores(), thread_name_prefix="arrayrt-conv")
    bounds = [total * i // workers for i in range(workers + 1)]
    futures = [_pool.submit(part, bounds[i], bounds[i + 1]) for i in range(1, workers)]
    try:
        part(bounds[0], bounds[1])
    finally:
        for f in futures:
            f.result()


def scratch(size: int, dtype: np.dtype, slot: int = 0) -> np.ndarray:
    """A per-thread reusable 1-D buffer (one per ``slot``) for data dead before the kernel returns:
    im2col columns, uncropped results."""
    pool = getattr(_local, "scratch", None)
    if pool is None:
        pool = _local.scratch = {}
    key = (np.dtype(dtype).char, slot)
    buf = pool.get(key)
    if buf is None or buf.size < size:
        buf = pool[key] = np.empty(max(size, 1 << 16), dtype)
    return buf[:size]


def compute_dtype(dtype: np.dtype) -> np.dtype | None:
    """The dtype the GEMM runs in, or None where the generic compute should run (integers)."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return dtype
    return None


def input_epilogue(x: np.ndarray, in_transform: tuple[np.ndarray, tuple[float, float]]) -> np.ndarray:
    """clamp(x + per-channel bias): a producer's epilogue deferred to its reader (see
    :func:`arrayrt.backends.numpy.fusion.defer_into_depthwise`), applied by numpy into a new array
    where the compiled loop that would apply it while copying does not run."""
    in_bias, (lo, hi) = in_transform
    return clamp_(np.add(x, in_bias.reshape(1, -1, *(1,) * (x.ndim - 2))), lo, hi)


class WindowInput:
    """The input of a window op, bordered and split into stride phases, in a flat buffer per thread.

    Along an axis with stride ``s`` the bordered input is stored as ``s`` phase planes (elements
    ``a, a + s, a + 2s, ...``), so a strided window op reads every tap at unit stride: tap ``k`` is
    plane ``(k * d) % s`` shifted by ``(k * d) // s``. The border (``value``) is written when a thread
    first uses the buffer; later calls only copy the interior, plane by plane. ``tail`` spare elements
    after the end let flat columns run past the last row.
    """

    def __init__(self, xshape: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads_begin: Sequence[int], out: Sequence[int], dtype: np.dtype,
                 value: float = 0, tail: int = 0):
        self.shape, self.dtype, self.value, self.tail = tuple(xshape), dtype, value, tail
        sizes = xshape[2:]
        # one window along an axis reads the same elements at any stride, and the phase planes are
        # one per stride step: a stride far beyond the input (a model's 10^9) would make billions
        strides = [1 if o == 1 else s for o, s in zip(out, strides)]
        extent = [max((o - 1) * s + dilated(k, d), b + n)
                  for o, s, k, d, b, n in zip(out, strides, kernel, dilations, pads_begin, sizes)]
        self.phase_dims = [-(-e // s) for e, s in zip(extent, strides)]
        self.strides = tuple(strides)
        plane = math.prod(self.phase_dims)
        self.plane_strides = [math.prod(self.phase_dims[i + 1:]) for i in range(len(extent))]
        self.row_stride = math.prod(strides) * plane
        self.rows = xshape[0] * xshape[1]
        phase_index = {a: i for i, a in enumerate(np.ndindex(*strides))}
        #: element offset (within a row) of each kernel tap, in row-major tap order
        self.tap_offsets = []
        for offs in np.ndindex(*kernel):
            a = tuple(k * d % s for k, d, s in zip(offs, dilations, strides))
            q = sum(k * d // s * t for k, d, s, t in zip(offs, dilations, strides, self.plane_strides))
            self.tap_offsets.append(phase_index[a] * plane + q)
        #: taps grouped by phase plane: (offset, taps per axis, element stride per axis, tap numbers)
        self.tap_groups = []
        for a, i in phase_index.items():
            per_axis = [[k for k in range(kn) if k * d % s == ai]
                        for kn, d, s, ai in zip(kernel, dilations, strides, a)]
            if not all(per_axis):
                continue
            offset = i * plane + sum(ks[0] * d // s * t
                                     for ks, d, s, t in zip(per_axis, dilations, strides, self.plane_strides))
            steps = [(ks[1] - ks[0]) * d // s * t if len(ks) > 1 else 0
                     for ks, d, s, t in zip(per_axis, dilations, strides, self.plane_strides)]
            numbers = [int(np.ravel_multi_index(ks, kernel)) for ks in itertools.product(*per_axis)]
            self.tap_groups.append((offset, [len(ks) for ks in per_axis], steps, numbers))
        self.copies = []
        for a, i in phase_index.items():
            dst, src = [], []
            for ai, s, b, n in zip(a, strides, pads_begin, sizes):
                lo = max(0, -(-(b - ai) // s))
                hi = max(lo, (b + n - 1 - ai) // s + 1)
                dst.append(slice(lo, hi))
                src.append(slice(lo * s + ai - b, (hi - 1) * s + ai - b + 1, s))
            if all(d.stop > d.start for d in dst):
                self.copies.append((i, tuple(dst), tuple(src)))
        self.local = threading.local()

    def fill(self, x: np.ndarray) -> np.ndarray:
        """The flat buffer holding ``x`` inside its border, plane by plane."""
        local = self.local
        buf = getattr(local, "buf", None)
        if buf is None:
            n = self.rows * self.row_stride
            buf = local.buf = np.full(n + self.tail, self.value, self.dtype)
            img = buf[:n].reshape(self.rows, math.prod(self.strides), *self.phase_dims)
            local.targets = [(img[(slice(None), i) + dst], src) for i, dst, src in self.copies]
        xr = x.reshape(self.rows, *x.shape[2:])
        for dst, src in local.targets:
            np.copyto(dst, xr[(slice(None),) + src], casting="unsafe")
        return buf

    def view(self, buf: np.ndarray, offset: int, shape: Sequence[int], strides: Sequence[int]) -> np.ndarray:
        """[rows, *shape] read-only view of ``buf`` from ``offset`` with per-axis element ``strides``."""
        item = buf.itemsize
        byte_strides = tuple(v * item for v in (self.row_stride, *strides))
        return as_strided(buf[offset:], (self.rows, *shape), byte_strides, writeable=False)

    def tap_views(self, buf: np.ndarray, out: Sequence[int]) -> list[np.ndarray]:
        """Per kernel tap, its [rows, *out] window positions (unit stride within the phase planes)."""
        return [self.view(buf, off, out, self.plane_strides) for off in self.tap_offsets]


class ChannelsLastInput:
    """Depthwise convolution channels-last: a bordered [N, *S, C] copy per thread, so every tap's
    multiply-add runs with the channels as its contiguous inner loop (small images, many channels)."""

    def __init__(self, xshape: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads_begin: Sequence[int], out: Sequence[int], dtype: np.dtype,
                 workers: int = 1):
        sizes = xshape[2:]
        self.workers = workers
        self.shape, self.dtype, self.out = tuple(xshape), dtype, list(out)
        self.extent = [max((o - 1) * s + dilated(k, d), b + n)
                       for o, s, k, d, b, n in zip(out, strides, kernel, dilations, pads_begin, sizes)]
        self.inner = (slice(None),) + tuple(slice(b, b + n) for b, n in zip(pads_begin, sizes))
        self.taps = [(slice(None),) + tuple(slice(k * d, k * d + (o - 1) * s + 1, s)
                                            for k, d, s, o in zip(offs, dilations, strides, out))
                     for offs in np.ndindex(*kernel)]
        self.perm = (0, *range(2, len(xshape)), 1)
        self.back = (0, len(xshape) - 1, *range(1, len(xshape) - 1))
        self.local = threading.local()
        self._weights: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, x: np.ndarray, w3: np.ndarray) -> np.ndarray:
        """``w3`` [C, 1, K] -> the [N, *out, C] result as an [N, C, *out] view."""
        buf = getattr(self.local, "buf", None)
        if buf is None:
            buf = self.local.buf = np.zeros((self.shape[0], *self.extent, self.shape[1]), self.dtype)
        np.copyto(buf[self.inner], x.transpose(self.perm), casting="unsafe")
        cached = self._weights
        if cached is None or cached[0] is not w3:
            wt = np.ascontiguousarray(w3.reshape(w3.shape[0], -1).T, dtype=self.dtype)
            cached = self._weights = (w3, wt)
        wt = cached[1]  # [K, C]
        taps = [buf[t] for t in self.taps]
        acc = np.empty((self.shape[0], *self.out, self.shape[1]), self.dtype)

        def part(lo: int, hi: int) -> None:  # output rows lo:hi of the first spatial axis, on one thread
            a = acc[:, lo:hi]
            tmp = scratch(a.size, self.dtype).reshape(a.shape)
            np.multiply(taps[0][:, lo:hi], wt[0], out=a)
            for k in range(1, len(taps)):
                np.multiply(taps[k][:, lo:hi], wt[k], out=tmp)
                np.add(a, tmp, out=a)

        parallel(part, self.out[0], self.workers)
        return acc.transpose(self.back)


class ConvPlan:
    """One forward (grouped) convolution for one input shape."""

    def __init__(self, xshape: Sequence[int], groups: int, out_per_group: int, kernel: Sequence[int],
                 strides: Sequence[int], dilations: Sequence[int], pads_begin: Sequence[int],
                 pads_end: Sequence[int], dtype: np.dtype, out_dtype: np.dtype, threads: int = 1):
        n, ct = xshape[0], xshape[1]
        self.n, self.groups, self.og, self.cg = n, groups, out_per_group, ct // groups
        self.kernel, self.strides = tuple(kernel), tuple(strides)
        self.dtype, self.out_dtype = dtype, out_dtype
        sizes = xshape[2:]
        self.out = [(m + b + e - dilated(k, d)) // s + 1
                    for m, b, e, k, d, s in zip(sizes, pads_begin, pads_end, kernel, dilations, strides)]
        self.plain = all(k == 1 for k in kernel) and not any(pads_begin) and not any(pads_end)
        work = n * ct * math.prod(self.out) * math.prod(kernel)
        self.workers = max(1, min(threads, work // PARALLEL_MIN_WORK))
        self.flat = False
        self.method = "plain" if self.plain else "gemm"
        #: epilogues in one compiled pass: decided here, once (reading the environment per call cost
        #: 0.5 ms per MobileNetV2 inference)
        self.fast_epilogue = out_dtype == np.float32 and compiled.loaded()
        self._epilogue: tuple[Any, ...] | None = None  # (bias, bounds, prepared compiled epilogue)
        if self.plain:
            return
        depthwise = self.cg == 1 and self.og == 1 and groups > 1
        if (depthwise and dtype == np.float32 and out_dtype == np.float32 and len(kernel) == 2
                and all(d == 1 for d in dilations) and compiled.available()):
            self.method = "compiled"
            workers = self.workers if work >= COMPILED_PARALLEL_MIN_WORK else 1
            self.compiled = compiled.Depthwise(tuple(xshape), tuple(kernel), tuple(strides), tuple(pads_begin),
                                               tuple(self.out), parallel, workers)
            self.compiled_workers = workers
            self._bound: tuple[Any, ...] | None = None  # (weights, bias, in_transform, bounds, bound call)
            return
        if depthwise:
            p = math.prod(self.out)
            if p < DEPTHWISE_ADD_MIN and (p <= DEPTHWISE_NHWC_MAX or any(st > 1 for st in strides)):
                self.method = "nhwc"
                self.nhwc = ChannelsLastInput(xshape, kernel, strides, dilations, pads_begin, self.out, dtype,
                                              self.workers)
                return
        inp = WindowInput(xshape, kernel, strides, dilations, pads_begin, self.out, dtype)
        width = inp.phase_dims[-1]
        self.flat = width - self.out[-1] <= FLAT_OVERHEAD * self.out[-1]
        if self.flat:
            inp.tail = (kernel[-1] - 1) * dilations[-1] // strides[-1]
        self.input = inp
        self.cols_out = [*self.out[:-1], width] if self.flat else list(self.out)
        self.ptotal = math.prod(self.cols_out)
        if depthwise:
            self.method = "adds" if self.ptotal >= DEPTHWISE_ADD_MIN else "matvec"
        self.ktotal = len(inp.tap_offsets)
        order = [k for group in inp.tap_groups for k in group[3]]
        self.order = None if order == list(range(self.ktotal)) else np.asarray(order)
        self._weights: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, x: np.ndarray, w3: np.ndarray, bias: np.ndarray | None = None,
                 activation: Callable[[np.ndarray], Any] | None = None,
                 residual: np.ndarray | None = None,
                 in_transform: tuple[np.ndarray, tuple[float, float]] | None = None) -> np.ndarray:
        """The convolution; with a fused epilogue, ``+ bias``, ``+ residual`` then ``activation`` (in
        place) on the result while it is still in cache (see :mod:`arrayrt.backends.numpy.fusion`).
        In the compiled depthwise loop, bias and an activation with ``bounds`` (Relu, Clamp) run
        inside the loop; once the compiled loops are loaded, the other epilogues are one pass.
        ``in_transform`` (a per-channel bias and clamp bounds) is the epilogue of the layer before,
        deferred to this one: the compiled loop applies it as it copies the input."""
        bounds = getattr(activation, "bounds", None)
        if in_transform is not None and self.method != "compiled":
            x = input_epilogue(x, in_transform)
            in_transform = None
        if self.method == "compiled":
            whole = (-math.inf, math.inf)
            bound = self._bound
            # with a residual, the clamp waits for the sum: after it, in one more compiled pass
            inner = whole if residual is not None or bounds is None else bounds
            if (bound is None or bound[0] is not w3 or bound[1] is not bias or bound[2] is not in_transform
                    or bound[3] != inner):
                call = self.compiled.bind(w3.reshape(w3.shape[0], *self.kernel), bias, inner, *(in_transform or ()))
                bound = self._bound = (w3, bias, in_transform, inner, call)
            y = bound[4](x)
            if residual is not None:
                self._compiled_epilogue(y.shape[1], None, bounds)(y, residual)
            if activation is not None and bounds is None:
                activation(y)
            return y
        if self.method == "plain":
            y = self._plain(x, w3)
        elif self.method == "adds":
            y = self._depthwise_adds(x, w3)
        elif self.method == "matvec":
            y = self._depthwise_matvec(x, w3)
        elif self.method == "nhwc":
            y = self.nhwc(x, w3)
        else:
            y = self._gemm(x, w3)
        if not self.flat and y.dtype == self.out_dtype and y.flags.c_contiguous:
            res = y  # a fresh array of this call: the epilogue may write into it
            if (self.fast_epilogue and res.dtype == np.float32 and (bounds is not None or residual is not None)
                    and (activation is None or bounds is not None)):
                self._compiled_epilogue(res.shape[1], bias, bounds)(res, residual)
                return res  # one pass instead of two or three
            if bias is not None:
                np.add(res, bias, out=res)
        else:
            # a contiguous result: downstream elementwise ops run several times faster on it
            src = y[..., : self.out[-1]] if self.flat else y
            res = np.empty(src.shape, self.out_dtype)
            if bias is not None:
                np.add(src, bias, out=res, casting="unsafe")
            else:
                np.copyto(res, src, casting="unsafe")
        if residual is not None:
            np.add(res, residual, out=res, casting="unsafe")
        if activation is not None:
            activation(res)
        return res

    def _compiled_epilogue(self, channels: int, bias: np.ndarray | None,
                           bounds: tuple[float, float] | None) -> Callable[..., None]:
        """:func:`compiled.epilogue` for this bias and these bounds, prepared once and kept."""
        epi = self._epilogue
        if epi is None or epi[0] is not bias or epi[1] != bounds:
            epi = self._epilogue = (bias, bounds, compiled.epilogue(channels, bias, bounds or (-math.inf, math.inf)))
        return epi[2]

    def _result(self, shape: Sequence[int]) -> np.ndarray:
        """Where a result goes: scratch when it is cropped into a fresh array afterwards."""
        if self.flat:
            return scratch(math.prod(shape), self.dtype, slot=1).reshape(shape)
        return np.empty(shape, self.dtype)

    def _plain(self, x, w3):
        if any(s != 1 for s in self.strides):
            x = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in self.strides)]
        n, p = self.n, math.prod(self.out)
        x = x.astype(self.dtype, copy=False)
        if self.groups == 1:
            cols = x.reshape(n, self.cg, p)
            y = np.matmul(w3[0], cols[0])[None] if n == 1 else np.matmul(w3[0], cols)
        else:
            y = np.matmul(w3, x.reshape(n, self.groups, self.cg, p))
        return y.reshape(n, self.groups * self.og, *self.out)

    def _columns(self, x: np.ndarray) -> np.ndarray:
        """im2col: [N*C, taps, *cols_out], taps in phase-group order (see :meth:`weights`), copied one
        phase group at a time."""
        inp = self.input
        buf = inp.fill(x)
        cols = scratch(inp.rows * self.ktotal * self.ptotal, self.dtype).reshape(inp.rows, self.ktotal,
                                                                                  self.ptotal)
        start = 0
        for offset, lens, steps, numbers in inp.tap_groups:
            view = inp.view(buf, offset, (*lens, *self.cols_out), (*steps, *inp.plane_strides))
            np.copyto(cols[:, start:start + len(numbers)].reshape(view.shape), view)
            start += len(numbers)
        return cols

    def weights(self, w3: np.ndarray) -> np.ndarray:
        """``w3`` [G, Og, Cg*K] with its taps in the column order of :meth:`_columns` (cached)."""
        if self.order is None:
            return w3
        cached = self._weights
        if cached is not None and cached[0] is w3:
            return cached[1]
        g, og = w3.shape[:2]
        permuted = w3.reshape(g, og, -1, self.ktotal)[..., self.order]
        permuted = np.ascontiguousarray(permuted).reshape(g, og, -1)
        self._weights = (w3, permuted)
        return permuted

    def _gemm(self, x, w3):
        w3 = self.weights(w3)
        cols = self._columns(x)
        n, g = self.n, self.groups
        ck = self.cg * self.ktotal
        if n == 1 and g == 1:
            y = self._result((self.og, self.ptotal))
            np.matmul(w3[0], cols.reshape(ck, self.ptotal), out=y)
        else:
            y = self._result((n, g, self.og, self.ptotal))
            np.matmul(w3, cols.reshape(n, g, ck, self.ptotal), out=y)
        return y.reshape(n, g * self.og, *self.cols_out)

    def _depthwise_matvec(self, x, w3):
        n, c = self.n, self.groups
        cols = self._columns(x).reshape(n, c, self.ktotal, self.ptotal)
        y = self._result((n, c, 1, self.ptotal))
        wts = self.weights(w3).reshape(c, 1, self.ktotal)
        parallel(lambda lo, hi: np.matmul(wts[lo:hi], cols[:, lo:hi], out=y[:, lo:hi]), c, self.workers)
        return y.reshape(n, c, *self.cols_out)

    def _depthwise_adds(self, x, w3):
        n, c = self.n, self.groups
        inp = self.input
        buf = inp.fill(x)
        rows, kk = inp.rows, self.ktotal
        wk = np.broadcast_to(w3.reshape(1, c, kk), (n, c, kk)).reshape(rows, kk, *([1] * len(self.kernel)))
        acc = self._result((rows, *self.cols_out))
        taps = inp.tap_views(buf, self.cols_out)

        def part(lo: int, hi: int) -> None:  # channel rows lo:hi, on one thread
            a, w = acc[lo:hi], wk[lo:hi]
            tmp = scratch(a.size, self.dtype).reshape(a.shape)
            np.multiply(taps[0][lo:hi], w[:, 0], out=a)
            for i in range(1, kk):
                np.multiply(taps[i][lo:hi], w[:, i], out=tmp)
                np.add(a, tmp, out=a)

        parallel(part, rows, self.workers)
        return acc.reshape(n, c, *self.cols_out)


def _forward_factory(grouped: bool) -> KernelFactory:
    def make(backend: Any, node: Any, bias: np.ndarray | None = None,
             activation: Callable[[np.ndarray], Any] | None = None,
             in_transform: tuple[np.ndarray, tuple[float, float]] | None = None) -> Callable[..., Any] | None:
        t = node.input_type(0)
        dtype = compute_dtype(t.to_dtype()) if t.is_static else None
        if dtype is None:
            return None
        out_dtype = np.dtype(t.to_dtype())
        a = node.attrs
        strides, dilations = a["strides"], a["dilations"]
        auto_pad, pads_begin, pads_end = a["auto_pad"], a["pads_begin"], a["pads_end"]
        if min(pads_begin + pads_end, default=0) < 0:
            return None

        def prepare(w: np.ndarray) -> np.ndarray:
            w = w if grouped else w[None]
            return np.ascontiguousarray(w.reshape(*w.shape[:2], -1), dtype=dtype)

        const = node.input_const(1)
        weights = None if const is None else prepare(np.asarray(const))
        plans: dict[tuple, ConvPlan] = {}

        def run(x: np.ndarray, w: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
            key = (x.shape, w.shape)
            plan = plans.get(key)
            if plan is None:
                kernel = w.shape[3:] if grouped else w.shape[2:]
                groups, og = (w.shape[0], w.shape[1]) if grouped else (1, w.shape[0])
                pb, pe = resolve_pads(auto_pad, x.shape[2:], kernel, strides, dilations, pads_begin, pads_end)
                plan = plans[key] = ConvPlan(x.shape, groups, og, kernel, strides, dilations, pb, pe, dtype,
                                             out_dtype, getattr(backend, "threads", 1))
            return plan(x, weights if weights is not None else prepare(w), bias, activation, residual,
                        in_transform)

        run.exec_type = "numpy_im2col_gemm"
        if _compiled_depthwise(node, grouped, dtype, out_dtype):
            compiled.warm_up()  # now, not at the first inference
            run.exec_type = "numba_depthwise"
        return run

    return make


def _compiled_depthwise(node: Any, grouped: bool, dtype: np.dtype, out_dtype: np.dtype) -> bool:
    """Whether :class:`ConvPlan` will run this node through the compiled depthwise loop (for the
    profile's exec type, to load the loops while compiling, and for the fusions; the plan decides
    the same from the input shape)."""
    w = node.input(1).get_partial_shape()
    return (grouped and w.rank_is_static and len(w) == 5 and all(w[i].is_static for i in range(3))
            and w[0].get_length() > 1 and w[1].get_length() == 1 and w[2].get_length() == 1
            and dtype == out_dtype == np.float32 and all(d == 1 for d in node.attrs["dilations"])
            and min(node.attrs["pads_begin"] + node.attrs["pads_end"], default=0) >= 0 and compiled.available())


def compiled_depthwise(node: Any) -> bool:
    """Whether the GroupConvolution ``node`` runs through the compiled depthwise loop."""
    t = node.input_type(0)
    if node.type_name != "GroupConvolution" or not t.is_static:
        return False
    dtype = np.dtype(t.to_dtype())
    return _compiled_depthwise(node, True, compute_dtype(dtype), dtype)


def _backprop_factory(grouped: bool) -> KernelFactory:
    def make(backend: Any, node: Any) -> Callable[..., Any] | None:
        t = node.input_type(0)
        dtype = compute_dtype(t.to_dtype()) if t.is_static else None
        if dtype is None:
            return None
        out_dtype = np.dtype(t.to_dtype())
        a = node.attrs
        strides, dilations, auto_pad = a["strides"], a["dilations"], a["auto_pad"]
        pads_begin, pads_end, output_padding = a["pads_begin"], a["pads_end"], a["output_padding"]

        def prepare(w: np.ndarray) -> np.ndarray:
            """[G, Ci, Co, *K] -> [G, Co*K, Ci]."""
            w = w if grouped else w[None]
            g, ci = w.shape[:2]
            return np.ascontiguousarray(np.moveaxis(w, 1, -1).reshape(g, -1, ci), dtype=dtype)

        const = node.input_const(1)
        weights = None if const is None else prepare(np.asarray(const))

        def run(x: np.ndarray, w: np.ndarray, output_shape: np.ndarray | None = None) -> np.ndarray:
            kernel = w.shape[3:] if grouped else w.shape[2:]
            groups, co = (w.shape[0], w.shape[2]) if grouped else (1, w.shape[1])
            shape = None if output_shape is None else as_int_tuple(output_shape)
            pb, _, out = backprop_pads(auto_pad, x.shape[2:], kernel, strides, dilations, pads_begin,
                                       pads_end, output_padding, shape)
            wt = weights if weights is not None else prepare(w)
            y = col2im(x.astype(dtype, copy=False), wt, groups, co, kernel, strides, dilations, pb, out)
            return y if y.dtype == out_dtype else y.astype(out_dtype)

        run.exec_type = "numpy_gemm_col2im"
        return run

    return make


def col2im(x: np.ndarray, wt: np.ndarray, groups: int, co: int, kernel: Sequence[int], strides: Sequence[int],
           dilations: Sequence[int], pads_begin: Sequence[int], out: Sequence[int]) -> np.ndarray:
    """Transposed convolution: every input element scatters weights^T @ x to its taps."""
    n, ct = x.shape[:2]
    sizes = x.shape[2:]
    cols = np.matmul(wt, x.reshape(n, groups, ct // groups, math.prod(sizes)))  # [N, G, Co*K, P]
    cols = cols.reshape(n, groups * co, *kernel, *sizes)
    lo = [min(b, 0) for b in pads_begin]
    hi = [max(s * (m - 1) + dilated(k, d), b + o)
          for s, m, k, d, b, o in zip(strides, sizes, kernel, dilations, pads_begin, out)]
    full = np.zeros((n, groups * co, *(h - low for h, low in zip(hi, lo))), x.dtype)
    for offs in np.ndindex(*kernel):
        idx = tuple(slice(k * d - low, k * d - low + s * (m - 1) + 1, s)
                    for k, d, low, s, m in zip(offs, dilations, lo, strides, sizes))
        full[(slice(None), slice(None)) + idx] += cols[(slice(None), slice(None)) + offs]
    crop = tuple(slice(b - low, b - low + o) for b, low, o in zip(pads_begin, lo, out))
    return full[(slice(None), slice(None)) + crop]


forward_convolution = _forward_factory(False)
forward_group_convolution = _forward_factory(True)

OVERRIDES: dict[str, KernelFactory] = {
    "Convolution": forward_convolution,
    "GroupConvolution": forward_group_convolution,
    "ConvolutionBackpropData": _backprop_factory(False),
    "GroupConvolutionBackpropData": _backprop_factory(True),
}
