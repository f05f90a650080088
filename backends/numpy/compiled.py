"""Compiled loops for the CPU (numpy) backend, written with numba, for two kernels that numpy can only
write as many passes over memory: the depthwise convolution (a multiply-add pass per kernel tap, then
bias and activation) and the erf GELU of a dense layer (about twenty passes for its rational erf fit).
Each loop here is one pass, vectorised by LLVM: 1.8-7.4x faster on MobileNetV2's depthwise layers,
6-10x on BERT's GELU (``benchmarks/compiled_kernels.py``, docs/performance.md).

Everything here is optional. :func:`available` is false when numba does not import or when
``ARRAYRT_NUMBA=0`` is set, and then the numpy kernels run instead, with the same results to
float32 rounding (tests compare the two). numba is imported, and the loops compiled, when the first
model that needs one compiles (:func:`warm_up`: about 0.5 s from numba's disk cache, which
``cache=True`` fills the first time, in several seconds). numba's LLVM adds about 175 MB to the
process's resident memory, which a model without depthwise convolutions or GELU (ResNet-18) never
pays. Once loaded, convolutions' bias + Relu/Clamp [+ residual] epilogues run compiled too (one
pass instead of two or three; :func:`loaded`). The loops release the GIL, so
:func:`~arrayrt.backends.numpy.conv_kernels.parallel` can split them over a stream's threads.

Three rules keep the loops vectorised and exact:

* indices are unsigned (``U(i)``): numba otherwise wraps negative indices around, a branch per load
  that stops LLVM's vectoriser (a 10x difference on these loops);
* numpy's error model: a division by zero gives inf or NaN instead of raising, so the GELU's
  division has no branch and vectorises (10x);
* no ``fastmath`` beyond ``contract`` (fused multiply-add): the loops vectorise without reassociation,
  and NaN must still propagate through a clamp as it does through ``numpy.clip``.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Any

import numpy as np

#: set to 0 to run the numpy kernels even where numba is installed
ENV = "ARRAYRT_NUMBA"


def loaded() -> bool:
    """Whether a model in this process has already loaded the compiled loops (and so paid numba's
    memory): then loops that only save a pass (:func:`bias_residual_clamp`) are worth running too."""
    return _kernels.cache_info().currsize > 0 and available()


def available() -> bool:
    """Whether the compiled loops run: numba imports and ``ARRAYRT_NUMBA`` is not ``0``."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return _numba() is not None


@functools.cache
def _numba() -> Any:
    try:
        import numba
    except Exception:  # noqa: BLE001 - any import failure means: no compiled loops
        return None
    return numba


@functools.cache
def _kernels() -> dict[str, Any]:
    """Compile (or load from numba's cache) the loops; called the first time one is needed."""
    numba = _numba()
    U = numba.uint64  # noqa: N806 - the unsigned index, see the module docstring
    jit = functools.partial(numba.njit, nogil=True, cache=True, boundscheck=False, error_model="numpy",
                            fastmath={"contract"})

    @jit
    def depthwise3x3_same(x, w, b, out, lo, hi, low, high, ib, ilow, ihigh):
        """3x3 depthwise with stride 1 and one padding element on every side, channels ``lo:hi`` of
        x [C, H, W] -> out [C, H, W]. Each channel is copied (transformed: clamp(x + ib[c], ilow,
        ihigh), the epilogue of the layer that produced x; zero and +-inf for none) into a flat
        buffer with a zero row above and below it and no border columns, so every tap is the same
        flat shift and one loop over the whole image does all nine taps, bias and clamp, written
        straight into ``out``. The taps of the first and last column that read across a row's end
        (the left and right padding) are then recomputed without those taps. One long loop instead
        of one per row: LLVM's vector loop takes 32 elements a turn, so a 28-wide row ran all scalar."""
        c_in = w.shape[0]
        h, wd = x.shape[1], x.shape[2]
        hw = h * wd
        p = np.zeros(hw + 2 * wd + 2, np.float32)
        body = p[wd + 1:]
        a0, a1, a2 = p[0:], p[1:], p[2:]
        a3, a4, a5 = p[wd:], p[wd + 1:], p[wd + 2:]
        a6, a7, a8 = p[2 * wd:], p[2 * wd + 1:], p[2 * wd + 2:]
        for c in range(lo, hi):
            k = c % c_in
            ibk = ib[k]
            xc = x[c].reshape(hw)
            for t in range(hw):
                v = xc[U(t)] + ibk
                v = ihigh if v > ihigh else v
                body[U(t)] = ilow if v < ilow else v
            w0, w1, w2 = w[k, 0, 0], w[k, 0, 1], w[k, 0, 2]
            w3, w4, w5 = w[k, 1, 0], w[k, 1, 1], w[k, 1, 2]
            w6, w7, w8 = w[k, 2, 0], w[k, 2, 1], w[k, 2, 2]
            bk = b[k]
            oc = out[c].reshape(hw)
            for o in range(hw):
                j = U(o)
                v = (bk + w0 * a0[j] + w1 * a1[j] + w2 * a2[j] + w3 * a3[j] + w4 * a4[j]
                     + w5 * a5[j] + w6 * a6[j] + w7 * a7[j] + w8 * a8[j])
                v = high if v > high else v
                oc[j] = low if v < low else v
            for oh in range(h):
                o = oh * wd  # first column: no left taps
                v = bk + w1 * a1[o] + w2 * a2[o] + w4 * a4[o] + w5 * a5[o] + w7 * a7[o] + w8 * a8[o]
                v = high if v > high else v
                oc[o] = low if v < low else v
                o += wd - 1  # last column: no right taps
                v = bk + w0 * a0[o] + w1 * a1[o] + w3 * a3[o] + w4 * a4[o] + w6 * a6[o] + w7 * a7[o]
                v = high if v > high else v
                oc[o] = low if v < low else v
        return None

    @jit
    def depthwise3x3_planes(x, w, b, out, s, ph, pw, lo, hi, low, high, ib, ilow, ihigh):
        """3x3 depthwise, stride ``s`` on both axes, any padding: channels ``lo:hi`` of x [C, H, W] ->
        out [C, OH, OW]. Each channel is copied (transformed as in ``depthwise3x3_same``) into a bordered
        buffer split into s x s stride-phase planes (row phase, column phase), each flat with
        OW + 2 // s columns, so every tap is one plane at one flat shift; one loop over the flat
        planes does all nine taps, bias and clamp (computing the few columns past OW too), and the
        rows are then cropped into ``out``."""
        c_in = w.shape[0]
        h, wd = x.shape[1], x.shape[2]
        oh_n, ow_n = out.shape[1], out.shape[2]
        e = 2 // s
        hq, wq = oh_n + e, ow_n + e
        planes = np.zeros((s * s, hq * wq), np.float32)
        flat = np.empty(oh_n * wq, np.float32)
        n = min(wd, wq * s - pw)  # input columns and rows that land in the planes
        rows = min(h, hq * s - ph)
        # stride 2: input columns 2m, 2m+1 go to column phases first, second at m + ka, m + kb (a loop
        # LLVM vectorises as interleaved loads); the rest, and other strides, one column at a time
        first, second = (0, 1) if pw % 2 == 0 else (1, 0)
        ka, kb = pw // 2, pw // 2 + pw % 2
        pairs = max(0, min(n // 2, wq - kb)) if s == 2 else 0
        # tap (kh, kw) reads plane (kh % s) * s + kw % s from flat offset (kh // s) * wq + kw // s
        r1, r2 = (1 % s) * s, (2 % s) * s
        d1, d2 = (1 // s) * wq, (2 // s) * wq
        c1, c2 = 1 // s, 2 // s
        a0, a1, a2 = planes[0], planes[1 % s, c1:], planes[2 % s, c2:]
        a3, a4, a5 = planes[r1, d1:], planes[r1 + 1 % s, d1 + c1:], planes[r1 + 2 % s, d1 + c2:]
        a6, a7, a8 = planes[r2, d2:], planes[r2 + 1 % s, d2 + c1:], planes[r2 + 2 % s, d2 + c2:]
        for c in range(lo, hi):
            xc = x[c]
            k = c % c_in
            ibk = ib[k]
            for i in range(rows):
                xr = xc[i]
                ii = i + ph
                ps, base = (ii % s) * s, (ii // s) * wq
                if s == 1:
                    pl = planes[0, base + pw:]  # explicit loops: numba's slice assignment is 3x slower
                    for j in range(n):
                        v = xr[U(j)] + ibk
                        v = ihigh if v > ihigh else v
                        pl[U(j)] = ilow if v < ilow else v
                    continue
                if pairs > 0:
                    pa, pb = planes[ps + first, base + ka:], planes[ps + second, base + kb:]
                    for m in range(pairs):
                        v = xr[U(2 * m)] + ibk
                        v = ihigh if v > ihigh else v
                        pa[U(m)] = ilow if v < ilow else v
                        v = xr[U(2 * m + 1)] + ibk
                        v = ihigh if v > ihigh else v
                        pb[U(m)] = ilow if v < ilow else v
                for j in range(2 * pairs, n):
                    col = j + pw
                    v = xr[j] + ibk
                    v = ihigh if v > ihigh else v
                    planes[ps + col % s, base + col // s] = ilow if v < ilow else v
            w0, w1, w2 = w[k, 0, 0], w[k, 0, 1], w[k, 0, 2]
            w3, w4, w5 = w[k, 1, 0], w[k, 1, 1], w[k, 1, 2]
            w6, w7, w8 = w[k, 2, 0], w[k, 2, 1], w[k, 2, 2]
            bk = b[k]
            for o in range(oh_n * wq - e):  # the last row's columns past OW would read past the planes
                j = U(o)
                v = (bk + w0 * a0[j] + w1 * a1[j] + w2 * a2[j] + w3 * a3[j] + w4 * a4[j]
                     + w5 * a5[j] + w6 * a6[j] + w7 * a7[j] + w8 * a8[j])
                v = high if v > high else v
                flat[j] = low if v < low else v
            oc = out[c]
            for oh in range(oh_n):
                orow, frow = oc[oh], flat[oh * wq:]
                for ow in range(ow_n):
                    orow[U(ow)] = frow[U(ow)]
            # the next channel overwrites the same interior; the border stays zero
        return None

    @jit
    def depthwise_channels_last(x, wt, b, out, sh, sw, ph, pw, lo, hi, low, high, ib, ilow, ihigh):
        """Any kernel size: output rows ``lo:hi`` of x [C, H, W] -> out [C, OH, OW] with the channels
        as the inner (vectorised) loop: a bordered [rows, W, C] copy of the rows these outputs read,
        transformed as in ``depthwise3x3_same``; ``wt`` [KH, KW, C]. For small images, where a row
        is too short to vectorise. 3x3 does its nine taps in one pass per output pixel."""
        c_n, h, wd = x.shape
        kh_n, kw_n = wt.shape[0], wt.shape[1]
        ow_n = out.shape[2]
        r0 = lo * sh - ph
        r1 = (hi - 1) * sh - ph + kh_n
        wp = (ow_n - 1) * sw + kw_n
        buf = np.zeros((r1 - r0, wp, c_n), np.float32)
        n = min(wd, wp - pw)
        for i in range(max(r0, 0), min(r1, h)):  # the transposing copy: contiguous writes measured
            bi = buf[i - r0]                      # 1.5-5x faster than contiguous reads
            for j in range(n):
                d = bi[j + pw]
                for c in range(c_n):
                    v = x[U(c), U(i), U(j)] + ib[U(c)]
                    v = ihigh if v > ihigh else v
                    d[U(c)] = ilow if v < ilow else v
        acc = np.empty(c_n, np.float32)
        tmp = np.empty((ow_n, c_n), np.float32)
        if kh_n == 3 and kw_n == 3:
            w0, w1, w2 = wt[0, 0], wt[0, 1], wt[0, 2]
            w3, w4, w5 = wt[1, 0], wt[1, 1], wt[1, 2]
            w6, w7, w8 = wt[2, 0], wt[2, 1], wt[2, 2]
            for oh in range(lo, hi):
                r = oh * sh - ph - r0
                b0, b1, b2 = buf[r], buf[r + 1], buf[r + 2]
                for ow in range(ow_n):
                    q = ow * sw
                    a0, a1, a2 = b0[q], b0[q + 1], b0[q + 2]
                    a3, a4, a5 = b1[q], b1[q + 1], b1[q + 2]
                    a6, a7, a8 = b2[q], b2[q + 1], b2[q + 2]
                    t = tmp[ow]
                    for c in range(c_n):
                        e = U(c)
                        v = (b[e] + w0[e] * a0[e] + w1[e] * a1[e] + w2[e] * a2[e] + w3[e] * a3[e]
                             + w4[e] * a4[e] + w5[e] * a5[e] + w6[e] * a6[e] + w7[e] * a7[e] + w8[e] * a8[e])
                        v = high if v > high else v
                        t[e] = low if v < low else v
                for c in range(c_n):
                    orow = out[c, oh]
                    for ow in range(ow_n):
                        orow[U(ow)] = tmp[U(ow), U(c)]
            return None
        for oh in range(lo, hi):
            for ow in range(ow_n):
                for c in range(c_n):
                    acc[U(c)] = b[U(c)]
                for kh in range(kh_n):
                    brow = buf[oh * sh - ph + kh - r0]
                    for kw in range(kw_n):
                        src = brow[ow * sw + kw]
                        wv = wt[kh, kw]
                        for c in range(c_n):
                            acc[U(c)] += wv[U(c)] * src[U(c)]
                t = tmp[ow]
                for c in range(c_n):
                    v = acc[U(c)]
                    v = high if v > high else v
                    t[U(c)] = low if v < low else v
            for c in range(c_n):
                orow = out[c, oh]
                for ow in range(ow_n):
                    orow[U(ow)] = tmp[U(ow), U(c)]
        return None

    @jit
    def epilogue(y, b, r, lo, hi, low, high):
        """In place on rows ``lo:hi`` of float32 y [R, P]: y += b[row % len(b)], then += r (rows of
        y's shape, or a [0, 0] array for none), then clamp to [low, high]: a convolution's epilogue
        in one pass instead of numpy's two or three."""
        nb = b.shape[0]
        has_r = r.shape[0] > 0
        for i in range(lo, hi):
            yr = y[i]
            bi = b[i % nb]
            if has_r:
                rr = r[i]
                for j in range(yr.shape[0]):
                    v = (yr[U(j)] + bi) + rr[U(j)]
                    v = high if v > high else v
                    yr[U(j)] = low if v < low else v
            else:
                for j in range(yr.shape[0]):
                    v = yr[U(j)] + bi
                    v = high if v > high else v
                    yr[U(j)] = low if v < low else v
        return None

    @jit
    def bias_gelu_erf(y, b, p, q, clip):
        """In place on float32 y [M, N]: x = y + b (b [N]), then x * clamp(0.5 + x P(x^2) / Q(x^2), 0, 1),
        the rational fit of :func:`arrayrt.ir.ops.activation._gelu_erf` (degree 5 over 5), in one pass."""
        p0, p1, p2, p3, p4, p5 = p[0], p[1], p[2], p[3], p[4], p[5]
        q0, q1, q2, q3, q4, q5 = q[0], q[1], q[2], q[3], q[4], q[5]
        zero, half, one = np.float32(0.0), np.float32(0.5), np.float32(1.0)
        for i in range(y.shape[0]):
            yr = y[i]
            for j in range(yr.shape[0]):
                x = yr[U(j)] + b[U(j)]
                xc = clip if x > clip else x
                xc = -clip if xc < -clip else xc
                u = xc * xc
                num = xc * (p0 + u * (p1 + u * (p2 + u * (p3 + u * (p4 + u * p5)))))
                den = q0 + u * (q1 + u * (q2 + u * (q3 + u * (q4 + u * q5))))
                s = half + num / den
                s = one if s > one else s
                s = zero if s < zero else s
                yr[U(j)] = x * s
        return None

    return {"depthwise3x3_same": depthwise3x3_same, "depthwise3x3_planes": depthwise3x3_planes,
            "depthwise_channels_last": depthwise_channels_last,
            "epilogue": epilogue, "bias_gelu_erf": bias_gelu_erf}


@functools.cache
def warm_up() -> None:
    """Load numba and every loop, at the argument types the kernels pass, so that compiling a model
    that uses them does this work (about 0.5 s from numba's disk cache, seconds the first time ever)
    rather than its first inference."""
    from arrayrt.backends.numpy.conv_kernels import parallel

    w = np.ones((2, 3, 3), np.float32)
    for size, s in ((FLAT_MIN_WIDTH, 1), (2 * FLAT_MIN_WIDTH, 2), (4, 1)):  # same, planes, channels-last
        x = np.ones((1, 2, size, size), np.float32)
        depthwise_conv2d(x, w, None, (s, s), (1, 1), (size // s, size // s), (0.0, 6.0), parallel, 1)
    y = np.ones((1, 2, 3), np.float32)
    bias_residual_clamp(y, None, None, (0.0, 6.0))
    bias_residual_clamp(y, None, y.copy(), (0.0, 6.0))
    bias_gelu_erf(np.ones((2, 3), np.float32), np.ones(3, np.float32))


#: a 3x3 depthwise output this wide or wider runs as one flat loop per channel; narrower ones
#: channels-last (``benchmarks/compiled_kernels.py``: at 14 columns the flat loops were as fast or
#: faster, at 7 they were 1.2-1.4x slower)
FLAT_MIN_WIDTH = 12


class Depthwise:
    """A depthwise 2-D convolution of float32 [N, C, H, W] inputs of one shape by [C, KH, KW] weights
    (dilation 1), its loop chosen and its arguments prepared once (:meth:`bind`), so that a call
    costs the loop and little else (the per-call preparation was 2-3x a 7x7 layer's loop)."""

    def __init__(self, xshape: tuple[int, ...], kernel: tuple[int, int], strides: tuple[int, int],
                 pads_begin: tuple[int, int], out_hw: tuple[int, int], parallel: Any, workers: int):
        self.n, self.c, self.h, self.w = xshape
        self.out_shape = (self.n, self.c, *out_hw)
        (self.sh, self.sw), (self.ph, self.pw) = strides, pads_begin
        flat = tuple(kernel) == (3, 3) and self.sh == self.sw and out_hw[1] >= FLAT_MIN_WIDTH
        same = self.sh == 1 and (self.ph, self.pw) == (1, 1) and tuple(out_hw) == (self.h, self.w)
        self.loop = ("depthwise3x3_same" if same else "depthwise3x3_planes") if flat else "depthwise_channels_last"
        self.parallel, self.workers = parallel, workers

    def bind(self, w: np.ndarray, bias: np.ndarray | None, bounds: tuple[float, float],
             in_bias: np.ndarray | None = None,
             in_bounds: tuple[float, float] = (-math.inf, math.inf)) -> Any:
        """``run(x)`` for these weights [C, KH, KW], ``bias`` [C] and clamp ``bounds``; ``in_bias`` [C]
        and ``in_bounds`` transform the input first (clamp(x + in_bias)): the epilogue of the layer
        that produced ``x``, done as the loop copies it (the padding stays zero). ``run`` returns a
        fresh contiguous [N, C, OH, OW] array."""
        kernels, c = _kernels(), self.c
        b = np.zeros(c, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32).reshape(c)
        ib = np.zeros(c, np.float32) if in_bias is None else np.ascontiguousarray(in_bias, np.float32).reshape(c)
        scalars = (np.float32(bounds[0]), np.float32(bounds[1]), ib, np.float32(in_bounds[0]),
                   np.float32(in_bounds[1]))
        out_shape, parallel, workers = self.out_shape, self.parallel, self.workers
        sh, sw, ph, pw = self.sh, self.sw, self.ph, self.pw
        if self.loop != "depthwise_channels_last":
            loop, wk = kernels[self.loop], np.ascontiguousarray(w, np.float32)
            planes = self.n * c
            # the same-padding loop takes no stride or padding arguments
            geometry = () if self.loop == "depthwise3x3_same" else (sh, ph, pw)

            def run(x: np.ndarray) -> np.ndarray:
                out = np.empty(out_shape, np.float32)
                xs = np.ascontiguousarray(x, np.float32).reshape(planes, *x.shape[2:])
                outs = out.reshape(planes, *out_shape[2:])
                if workers == 1:
                    loop(xs, wk, b, outs, *geometry, 0, planes, *scalars)
                else:
                    parallel(lambda lo, hi: loop(xs, wk, b, outs, *geometry, lo, hi, *scalars), planes, workers)
                return out
            return run
        loop, wt = kernels["depthwise_channels_last"], np.ascontiguousarray(np.transpose(w, (1, 2, 0)), np.float32)
        oh = out_shape[2]

        def run(x: np.ndarray) -> np.ndarray:
            out = np.empty(out_shape, np.float32)
            x = np.ascontiguousarray(x, np.float32)
            for i in range(out_shape[0]):
                xi, oi = x[i], out[i]
                if workers == 1:
                    loop(xi, wt, b, oi, sh, sw, ph, pw, 0, oh, *scalars)
                else:
                    parallel(lambda lo, hi, xi=xi, oi=oi: loop(xi, wt, b, oi, sh, sw, ph, pw, lo, hi, *scalars),
                             oh, workers)
            return out
        return run


def depthwise_conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, strides: tuple[int, int],
                     pads_begin: tuple[int, int], out_hw: tuple[int, int], bounds: tuple[float, float],
                     parallel: Any, workers: int, in_bias: np.ndarray | None = None,
                     in_bounds: tuple[float, float] = (-math.inf, math.inf)) -> np.ndarray:
    """One call of :class:`Depthwise` (see there for the arguments)."""
    plan = Depthwise(x.shape, w.shape[1:], strides, pads_begin, out_hw, parallel, workers)
    return plan.bind(w, bias, bounds, in_bias, in_bounds)(x)


def epilogue(channels: int, bias: np.ndarray | None, bounds: tuple[float, float]) -> Any:
    """``run(y, residual)``: :func:`bias_residual_clamp` with the bias and bounds prepared once."""
    loop = _kernels()["epilogue"]
    b = np.zeros(channels, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32).reshape(channels)
    low, high = np.float32(bounds[0]), np.float32(bounds[1])

    def run(y: np.ndarray, residual: np.ndarray | None) -> None:
        rows = y.reshape(y.shape[0] * y.shape[1], -1 if y.size else 0)
        r = _NO_ROWS if residual is None else np.ascontiguousarray(residual, np.float32).reshape(rows.shape)
        loop(rows, b, r, 0, rows.shape[0], low, high)
    return run


def bias_residual_clamp(y: np.ndarray, bias: np.ndarray | None, residual: np.ndarray | None,
                        bounds: tuple[float, float]) -> None:
    """In place on contiguous float32 ``y`` [N, C, ...]: ``y += bias`` (per channel: [C] elements, or
    None), ``y += residual`` (y's shape, or None), then clamp to ``bounds``. Bit for bit what
    ``numpy.add``, ``numpy.add`` and ``numpy.clip`` give one after the other."""
    epilogue(y.shape[1], bias, bounds)(y, residual)


_NO_ROWS = np.zeros((0, 0), np.float32)


@functools.cache
def _gelu_coefficients() -> tuple[np.ndarray, np.ndarray, np.float32]:
    from arrayrt.ir.ops.activation import _GELU_CLIP, _GELU_P, _GELU_Q

    return np.asarray(_GELU_P, np.float32), np.asarray(_GELU_Q, np.float32), np.float32(_GELU_CLIP)


def bias_gelu_erf(y: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """GELU (erf form) of ``y + bias`` in place, for contiguous float32 ``y`` [..., N] and ``bias`` [N]
    (or None); returns ``y``."""
    p, q, clip = _gelu_coefficients()
    n = y.shape[-1] if y.ndim else 1
    b = np.zeros(n, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32).reshape(n)
    _kernels()["bias_gelu_erf"](y.reshape(-1, n), b, p, q, clip)
    return y
