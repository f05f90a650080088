"""numpy kernels for the conv family (see kernels.py): im2col + one GEMM per convolution.

* The input is copied once into a zero-bordered buffer (kept per thread and per input shape, so
  its borders are written once).
* im2col is one strided copy. With a unit stride along the last axis the window rows are taken
  over the whole padded width ("flat" columns): every copied run is then one long contiguous row,
  and the few columns that straddle the border are computed and cropped from the result.
* 1x1 convolutions without padding are a plain GEMM on the input; depthwise convolutions are a sum
  of shifted multiply-adds (large images) or a per-channel matrix-vector product over copied
  columns (small images).
* Backprop convolutions are one GEMM (weights^T @ data) and one strided add per kernel tap (col2im).

Weights are reshaped once when they are constant. f32 stays f32; f16 computes in f32.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from arrayrt.backends.base import KernelFactory
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.conv import backprop_pads, dilated, resolve_pads

#: im2col over the padded width when it adds at most this fraction of GEMM columns
FLAT_OVERHEAD = 0.15
#: depthwise taps as multiply-adds when a channel's output has at least this many elements
DEPTHWISE_ADD_MIN = 4096

_scratch = threading.local()


def scratch(size: int, dtype: np.dtype) -> np.ndarray:
    """A per-thread reusable 1-D buffer for data dead before the kernel returns (im2col columns)."""
    key = np.dtype(dtype).char
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = {}
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


class PaddedInput:
    """A bordered copy of the input per thread, with room after the end for flat columns. The border
    (``value``) is written when the thread first uses it; later calls only copy the interior."""

    def __init__(self, shape: Sequence[int], pads_begin: Sequence[int], padded: Sequence[int], tail: int,
                 dtype: np.dtype, value: float = 0):
        self.shape, self.pads_begin, self.padded, self.tail = tuple(shape), pads_begin, padded, tail
        self.dtype, self.value = dtype, value
        self.local = threading.local()

    def fill(self, x: np.ndarray) -> np.ndarray:
        """The flat buffer holding ``x`` inside its border."""
        buf = getattr(self.local, "buf", None)
        if buf is None:
            n = math.prod(self.shape[:2]) * math.prod(self.padded)
            buf = self.local.buf = np.full(n + self.tail, self.value, self.dtype)
            img = buf[:n].reshape(*self.shape[:2], *self.padded)
            inner = tuple(slice(b, b + s) for b, s in zip(self.pads_begin, self.shape[2:]))
            self.local.inner = img[(slice(None), slice(None)) + inner]
        np.copyto(self.local.inner, x, casting="unsafe")
        return buf


def window_view(buf: np.ndarray, lead: Sequence[int], lead_strides: Sequence[int], padded: Sequence[int],
                kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                out: Sequence[int]) -> np.ndarray:
    """View of a flat padded buffer: [*lead, *kernel, *out] with view[..., k, o] = img[..., o*s + k*d]."""
    item = buf.itemsize
    spatial = [math.prod(padded[i + 1:]) for i in range(len(padded))]
    shape = (*lead, *kernel, *out)
    st = (*lead_strides, *(d * s for d, s in zip(dilations, spatial)), *(s * t for s, t in zip(strides, spatial)))
    return as_strided(buf, shape, tuple(v * item for v in st), writeable=False)


class ConvPlan:
    """One forward (grouped) convolution for one input shape."""

    def __init__(self, xshape: Sequence[int], groups: int, out_per_group: int, kernel: Sequence[int],
                 strides: Sequence[int], dilations: Sequence[int], pads_begin: Sequence[int],
                 pads_end: Sequence[int], dtype: np.dtype, out_dtype: np.dtype):
        self.n, ct = xshape[0], xshape[1]
        self.groups, self.og, self.cg = groups, out_per_group, ct // groups
        self.kernel, self.dtype, self.out_dtype = tuple(kernel), dtype, out_dtype
        sizes = xshape[2:]
        self.out = [(n + b + e - dilated(k, d)) // s + 1
                    for n, b, e, k, d, s in zip(sizes, pads_begin, pads_end, kernel, dilations, strides)]
        padded = [max((o - 1) * s + dilated(k, d), b + n)
                  for o, s, k, d, b, n in zip(self.out, strides, kernel, dilations, pads_begin, sizes)]
        flat_width = padded[-1]
        self.flat = strides[-1] == 1 and (flat_width - self.out[-1]) <= FLAT_OVERHEAD * self.out[-1]
        cols_out = [*self.out[:-1], flat_width] if self.flat else list(self.out)
        tail = dilated(kernel[-1], dilations[-1]) - 1 if self.flat else 0
        self.plain = all(k == 1 for k in kernel) and not any(pads_begin) and not any(pads_end)
        self.depthwise = self.cg == 1 and self.og == 1 and groups > 1 and not self.plain
        self.strides = tuple(strides)
        self.ptotal = math.prod(cols_out)
        self.cols_out = cols_out
        if self.plain:
            return
        self.input = PaddedInput(xshape, pads_begin, padded, tail, dtype)
        length = math.prod(padded)
        if self.depthwise:
            self.taps = self._tap_views(padded, dilations, length)
            self.use_adds = self.ptotal >= DEPTHWISE_ADD_MIN
        self.view_args = ((self.n, groups, self.cg), (ct * length, self.cg * length, length), padded,
                          kernel, strides, dilations, cols_out)

    def _tap_views(self, padded, dilations, length):
        """Per kernel tap: (flat offset, strides) of its [N*C, *cols_out] view of the padded buffer."""
        spatial = [math.prod(padded[i + 1:]) for i in range(len(padded))]
        taps = []
        for offs in np.ndindex(*self.kernel):
            taps.append(sum(o * d * s for o, d, s in zip(offs, dilations, spatial)))
        self.tap_strides = (length, *(s * t for s, t in zip(self.strides, spatial)))
        return taps

    def __call__(self, x: np.ndarray, w3: np.ndarray) -> np.ndarray:
        if self.plain:
            y = self._plain(x, w3)
        elif self.depthwise:
            y = self._depthwise(x, w3)
        else:
            y = self._gemm(x, w3)
        if self.flat and not self.plain:
            y = y[..., : self.out[-1]]
        return y if y.dtype == self.out_dtype else y.astype(self.out_dtype)

    def _plain(self, x, w3):
        if any(s != 1 for s in self.strides):
            x = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in self.strides)]
        n, p = self.n, math.prod(self.out)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if self.groups == 1:
            cols = x.reshape(n, self.cg, p)
            y = np.matmul(w3[0], cols[0])[None] if n == 1 else np.matmul(w3[0], cols)
        else:
            y = np.matmul(w3, x.reshape(n, self.groups, self.cg, p))
        return y.reshape(n, self.groups * self.og, *self.out)

    def _columns(self, x):
        buf = self.input.fill(x)
        view = window_view(buf, *self.view_args)
        cols = scratch(view.size, self.dtype).reshape(view.shape)
        np.copyto(cols, view)
        return cols

    def _gemm(self, x, w3):
        cols = self._columns(x)
        n, g = self.n, self.groups
        ck = self.cg * math.prod(self.kernel)
        if n == 1 and g == 1:
            y = np.matmul(w3[0], cols.reshape(ck, self.ptotal))
        else:
            y = np.matmul(w3, cols.reshape(n, g, ck, self.ptotal))
        return y.reshape(n, g * self.og, *self.cols_out)

    def _depthwise(self, x, w3):
        n, c = self.n, self.groups
        kk = math.prod(self.kernel)
        wk = w3.reshape(c, kk)
        if not self.use_adds:
            cols = self._columns(x).reshape(n, c, kk, self.ptotal)
            y = np.matmul(wk[:, None, :], cols)
            return y.reshape(n, c, *self.cols_out)
        buf = self.input.fill(x)
        shape = (n * c, *self.cols_out)
        st = tuple(v * buf.itemsize for v in self.tap_strides)
        wcol = wk.reshape(1, c, kk).repeat(n, axis=0).reshape(n * c, kk, *([1] * len(self.kernel)))
        acc = np.empty(shape, self.dtype)
        tmp = scratch(acc.size, self.dtype).reshape(shape)
        for i, off in enumerate(self.taps):
            view = as_strided(buf[off:], shape, st, writeable=False)
            if i == 0:
                np.multiply(view, wcol[:, 0], out=acc)
            else:
                np.multiply(view, wcol[:, i], out=tmp)
                np.add(acc, tmp, out=acc)
        return acc.reshape(n, c, *self.cols_out)


def _forward_factory(grouped: bool) -> KernelFactory:
    def make(backend: Any, node: Any) -> Callable[..., Any] | None:
        dtype = compute_dtype(node.input_type(0).to_dtype()) if node.input_type(0).is_static else None
        if dtype is None:
            return None
        out_dtype = np.dtype(node.input_type(0).to_dtype())
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

        def run(x: np.ndarray, w: np.ndarray) -> np.ndarray:
            key = (x.shape, w.shape)
            plan = plans.get(key)
            if plan is None:
                kernel = w.shape[3:] if grouped else w.shape[2:]
                groups, og = (w.shape[0], w.shape[1]) if grouped else (1, w.shape[0])
                pb, pe = resolve_pads(auto_pad, x.shape[2:], kernel, strides, dilations, pads_begin, pads_end)
                plan = plans[key] = ConvPlan(x.shape, groups, og, kernel, strides, dilations, pb, pe, dtype,
                                             out_dtype)
            return plan(x, weights if weights is not None else prepare(w))

        run.exec_type = "numpy_im2col_gemm"
        return run

    return make


def _backprop_factory(grouped: bool) -> KernelFactory:
    def make(backend: Any, node: Any) -> Callable[..., Any] | None:
        dtype = compute_dtype(node.input_type(0).to_dtype()) if node.input_type(0).is_static else None
        if dtype is None:
            return None
        out_dtype = np.dtype(node.input_type(0).to_dtype())
        a = node.attrs
        strides, dilations, auto_pad = a["strides"], a["dilations"], a["auto_pad"]
        pads_begin, pads_end, output_padding = a["pads_begin"], a["pads_end"], a["output_padding"]

        def prepare(w: np.ndarray) -> np.ndarray:
            """[G, Ci, Co, *K] -> [G, Co*K, Ci]."""
            w = w if grouped else w[None]
            g, ci = w.shape[:2]
            wt = np.moveaxis(w, 1, -1)
            return np.ascontiguousarray(wt.reshape(g, -1, ci), dtype=dtype)

        const = node.input_const(1)
        weights = None if const is None else prepare(np.asarray(const))

        def run(x: np.ndarray, w: np.ndarray, output_shape: np.ndarray | None = None) -> np.ndarray:
            kernel = w.shape[3:] if grouped else w.shape[2:]
            groups, co = (w.shape[0], w.shape[2]) if grouped else (1, w.shape[1])
            shape = None if output_shape is None else as_int_tuple(output_shape)
            pb, _, out = backprop_pads(auto_pad, x.shape[2:], kernel, strides, dilations, pads_begin, pads_end,
                                       output_padding, shape)
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
    ci = ct // groups
    p = math.prod(sizes)
    cols = np.matmul(wt, x.reshape(n, groups, ci, p))  # [N, G, Co*K, P]
    cols = cols.reshape(n, groups * co, *kernel, *sizes)
    lo = [min(b, 0) for b in pads_begin]
    hi = [max(s * (m - 1) + dilated(k, d), b + o)
          for s, m, k, d, b, o in zip(strides, sizes, kernel, dilations, pads_begin, out)]
    full = np.zeros((n, groups * co, *(h - lw for h, lw in zip(hi, lo))), x.dtype)
    for offs in np.ndindex(*kernel):
        idx = tuple(slice(k * d - lw, k * d - lw + s * (m - 1) + 1, s)
                    for k, d, lw, s, m in zip(offs, dilations, lo, strides, sizes))
        full[(slice(None), slice(None)) + idx] += cols[(slice(None), slice(None)) + offs]
    crop = tuple(slice(b - lw, b - lw + o) for b, lw, o in zip(pads_begin, lo, out))
    return full[(slice(None), slice(None)) + crop]


OVERRIDES: dict[str, KernelFactory] = {
    "Convolution": _forward_factory(False),
    "GroupConvolution": _forward_factory(True),
    "ConvolutionBackpropData": _backprop_factory(False),
    "GroupConvolutionBackpropData": _backprop_factory(True),
}
