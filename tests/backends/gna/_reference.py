"""An independent integer reference of GNA's datapath, written from the formulas (OpenVINO GNA plugin
2023.3 quantisation, GNA library reference kernels), in Python integers where sums are formed.

Nothing here imports arrayrt's GNA backend: the tests compare its integers with these exactly.
"""
from __future__ import annotations

import numpy as np

F32 = np.float32
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
HW_BUF = [12288, 12288, 12096, 12288, 12000, 12096, 12096, 12288]


def f32(v) -> float:
    return float(F32(v))


def q(x, scale, lo, hi) -> np.ndarray:
    """Plugin rounding: float32 ``x·s + (x > 0 ? 0.5 : -0.5)``, saturated, truncated."""
    x = np.asarray(x, F32)
    out = np.empty(x.shape, np.int64)
    for idx, v in np.ndenumerate(x):
        p = F32(v) * F32(scale)
        p = p + F32(0.5) if v > 0 else p - F32(0.5)
        p = min(max(float(p), lo), hi)
        out[idx] = int(p)  # truncation toward zero
    return out


def q16(x, s):
    return q(x, s, -32768, 32767)


def q32(x, s):
    return q(x, s, INT32_MIN, INT32_MAX)


def sat32(v: int) -> int:
    return min(max(v, INT32_MIN), INT32_MAX)


def wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def weight_scale_i16(W, b, s_in) -> float:
    s_w = f32(16384 / float(np.max(np.abs(W))))
    if b is not None and np.any(b != 0):
        s_b = f32(2**30 / float(np.max(np.abs(b))))
        s_b = min(f32(s_w * s_in), s_b)
        s_w = f32(s_b / s_in)
    return s_w


def affine16(xq, wq, bq) -> np.ndarray:
    """``[rows, K] x [N, K] + [N]`` with the accumulator saturated after each hardware-buffer chunk."""
    rows, k = xq.shape
    part = HW_BUF[rows - 1] // rows
    out = np.empty((rows, wq.shape[0]), np.int64)
    for r in range(rows):
        for n in range(wq.shape[0]):
            s = int(bq[n])
            for c in range(0, k, part):
                s = sat32(s + sum(int(a) * int(w) for a, w in zip(xq[r, c:c + part], wq[n, c:c + part])))
            out[r, n] = s
    return out


def int8_weights(W, b, s_in):
    """int8 weights, per-row multipliers and the weight scale (with x230 and the reduction)."""
    s_w = f32(127 / float(np.max(np.abs(W))))
    if b is not None and np.any(b != 0):
        s_b = min(f32(s_w * s_in), f32(2**30 / float(np.max(np.abs(b)))))
        s_w = f32(s_b / s_in)
    s_w = f32(s_w * 230)
    if s_w * s_in * s_in > (2**31 - 2) * 30:
        s_w = f32(s_w * 0.5)
    W = np.asarray(W, F32)
    mult = []
    w8 = np.empty(W.shape, np.int64)
    for r in range(W.shape[0]):
        row_max = max(abs(float(F32(v) * F32(s_w))) for v in W[r])
        m = int(F32(row_max) / F32(127) + F32(0.5))
        m = min(max(m, 1), 230)
        mult.append(m)
        w8[r] = q(W[r], F32(s_w) / F32(m), -128, 127)
    return w8, mult, s_w


def affine8(xq, w8, mult, bq) -> np.ndarray:
    rows, k = xq.shape
    part = HW_BUF[rows - 1] // rows
    out = np.empty((rows, w8.shape[0]), np.int64)
    for r in range(rows):
        for n in range(w8.shape[0]):
            s = int(bq[n])
            for c in range(0, k, part):
                end = min(c + part, k)
                for blk in range(c, end, 512):
                    acc = wrap32(sum(int(a) * int(w) for a, w in zip(xq[r, blk:min(blk + 512, end)],
                                                                      w8[n, blk:min(blk + 512, end)])))
                    s += wrap32(acc * mult[n])
                s = sat32(s)
            out[r, n] = s
    return out


def conv1d(xq, wq, bq, stride, pad, pool=None) -> np.ndarray:
    """``[1, C, W]`` int16 * ``[F, C, K]`` + bias: sums in Python ints, optional max pooling
    (window, stride) of the sums, then saturation to int32."""
    _, c, width = xq.shape
    f, _, k = wq.shape
    xp = np.zeros((c, width + 2 * pad), np.int64)
    xp[:, pad:pad + width] = xq[0]
    n_out = (width + 2 * pad - k) // stride + 1
    sums = np.empty((f, n_out), object)
    for p in range(n_out):
        win = xp[:, p * stride:p * stride + k]
        for i in range(f):
            sums[i, p] = int(bq[i]) + sum(int(a) * int(w) for a, w in zip(win.reshape(-1), wq[i].reshape(-1)))
    if pool is not None:
        window, step = pool
        n_pool = (n_out - window) // step + 1
        sums = np.array([[max(sums[i, j * step:j * step + window]) for j in range(n_pool)] for i in range(f)],
                        object)
    return np.vectorize(sat32, otypes=[np.int64])(sums)[None]


def slope_code(slope: float, s_in: float, s_out: float) -> tuple[int, int]:
    s = slope * s_out / s_in
    z = 0
    for k in (3, 2, 1):
        if -32768 <= s * 2 ** (8 * (k + 1)) <= 32767:
            z = k
            break
    v = s * 2 ** (8 * (z + 1))
    return int(v + 0.5) if v > 0 else int(v - 0.5), z


def pwl(x, table) -> np.ndarray:
    """Hardware PWL evaluation of integer ``x`` with ``[(xBase, yBase, slope)]``."""
    out = np.empty(np.shape(x), np.int64)
    for idx, v in np.ndenumerate(np.asarray(x)):
        v = int(v)
        base0 = table[0][0] & ~3
        if v <= base0:
            y = table[0][1]
        else:
            k = max(i for i, seg in enumerate(table) if (seg[0] & ~3) <= v)
            xb, yb, sl = table[k]
            y = (((v - (xb & ~3)) * sl) >> (8 * ((xb & 3) + 1))) + yb
        out[idx] = min(max(y, -32768), 32767)
    return out


def pwl_vec(x, table) -> np.ndarray:
    """:func:`pwl` for large integer grids (same formula, numpy)."""
    x = np.asarray(x, np.int64)
    xb = np.array([t[0] for t in table], np.int64)
    base, shift = xb & ~3, 8 * ((xb & 3) + 1)
    yb = np.array([t[1] for t in table], np.int64)
    sl = np.array([t[2] for t in table], np.int64)
    k = np.clip(np.searchsorted(base, x, side="right") - 1, 0, None)
    y = np.where(x <= base[0], yb[0], (((x - base[k]) * sl[k]) >> shift[k]) + yb[k])
    return np.clip(y, -32768, 32767)


def conv2d(xq, wq, bq, pad) -> np.ndarray:
    """``[1, C, H, W]`` int16 * ``[F, C, KH, KW]`` + bias, stride 1: sums in Python ints, saturated."""
    _, c, h, wd = xq.shape
    f, _, kh, kw = wq.shape
    xp = np.zeros((c, h + 2 * pad, wd + 2 * pad), np.int64)
    xp[:, pad:pad + h, pad:pad + wd] = xq[0]
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    out = np.empty((1, f, oh, ow), np.int64)
    for i in range(f):
        taps = [int(v) for v in wq[i].reshape(-1)]
        for y in range(oh):
            for x in range(ow):
                win = xp[:, y:y + kh, x:x + kw].reshape(-1)
                out[0, i, y, x] = sat32(int(bq[i]) + sum(int(a) * t for a, t in zip(win, taps)))
    return out
