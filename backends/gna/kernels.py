"""GNA's integer datapath on numpy, and its float twin (``GNA_SW_FP32``).

Integer kernels follow the GNA library's bit-exact ("saturating") reference kernels:

* **affine, int16 weights** (``igemm16``): per output, ``sum = bias``; the inputs are taken in chunks
  of ``hw_buf_size[batch - 1] / batch`` elements (the hardware input buffer), and after each chunk
  ``sum += Σ w·x`` is saturated to int32;
* **affine, int8 weights** (``igemm8``): as above, but inside a chunk the products are accumulated
  in int32 blocks of 512 elements, each block's sum multiplied by the row's multiplier in int32
  (wrapping, as the C code does) before it joins ``sum``;
* **convolution** (``convnet``): ``sum = bias + Σ w·x`` over the filter, in int64, then saturated to
  int32; max pooling, when fused, takes the maximum of those sums before the saturation and the
  activation, as the hardware does;
* **diagonal / eltwise** (``diagonal``): ``bias + w·x`` saturated to int32; multiply ``x₀·x₁``;
* **PWL**: :meth:`arrayrt.backends.gna.pwl.Segments.evaluate`.

Sums of int16 products are formed with float64 matrix products: every partial sum here stays far
below 2^53, so they are exact.
"""
from __future__ import annotations

import numpy as np
from arrayrt.ir.ops.conv import resolve_pads, window_slices

#: the hardware input buffer, in elements, by batch size (GNA library ``hw_buf_size``)
HW_BUF_SIZE = (12288, 12288, 12096, 12288, 12000, 12096, 12096, 12288)
INT8_BLOCK = 512
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def saturate32(a: np.ndarray) -> np.ndarray:
    return np.clip(a, I32_MIN, I32_MAX)


def wrap32(a: np.ndarray) -> np.ndarray:
    """int64 values to int32 with two's-complement wrap-around."""
    return ((a + 2**31) & 0xFFFFFFFF) - 2**31


def _dot(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    return (x @ wt).astype(np.int64)


def chunks(k: int, rows: int) -> list[tuple[int, int]]:
    """The input chunks after which an affine layer saturates its accumulator."""
    part = HW_BUF_SIZE[rows - 1] // rows
    return [(s, min(s + part, k)) for s in range(0, k, part)]


def affine_int16(w: np.ndarray, bias: np.ndarray):
    """``x int16 [rows, K] -> int32 [rows, N]`` for weights ``w int16 [N, K]`` and ``bias int32 [N]``."""
    k = w.shape[1]
    wt = w.T.astype(np.float64)
    b = bias.astype(np.int64)

    def run(x: np.ndarray) -> np.ndarray:
        rows = x.shape[0]
        xf = x.astype(np.float64)
        acc = np.broadcast_to(b, (rows, b.shape[0]))
        for s, e in chunks(k, rows):
            acc = saturate32(acc + _dot(xf[:, s:e], wt[s:e]))
        return acc.astype(np.int32)

    return run


def affine_int8(w: np.ndarray, mult: np.ndarray, bias: np.ndarray):
    """As :func:`affine_int16` for int8 weights with per-row multipliers (compound bias)."""
    k = w.shape[1]
    wt = w.T.astype(np.float64)
    m = mult.astype(np.int64)
    b = bias.astype(np.int64)

    def run(x: np.ndarray) -> np.ndarray:
        rows = x.shape[0]
        xf = x.astype(np.float64)
        acc = np.broadcast_to(b, (rows, b.shape[0]))
        for s, e in chunks(k, rows):
            part = np.zeros_like(acc)
            for bs in range(s, e, INT8_BLOCK):
                be = min(bs + INT8_BLOCK, e)
                part = part + wrap32(wrap32(_dot(xf[:, bs:be], wt[bs:be])) * m)
            acc = saturate32(acc + part)
        return acc.astype(np.int32)

    return run


def patches(x: np.ndarray, kernel, strides, pads_begin, pads_end, out) -> np.ndarray:
    """``x [1, C, *spatial]`` zero-padded -> ``[prod(out), C · prod(kernel)]`` filter windows, in the
    ``[C, *kernel]`` order of the filter coefficients."""
    xp = np.pad(x, [(0, 0), (0, 0)] + [(b, e) for b, e in zip(pads_begin, pads_end)])
    views = window_slices(xp, kernel, strides, [1] * len(kernel), out)
    stacked = np.stack(views, axis=-1)[0]  # [C, *out, taps]
    c, taps = stacked.shape[0], stacked.shape[-1]
    moved = np.moveaxis(stacked, 0, -2)  # [*out, C, taps]
    return moved.reshape(-1, c * taps)


class ConvGeometry:
    """Static geometry of one convolution (and its fused max pooling)."""

    def __init__(self, in_shape, w_shape, out_shape, attrs, pool_attrs=None):
        sizes = in_shape[2:]
        kernel = w_shape[2:]
        self.kernel = tuple(kernel)
        self.strides = tuple(attrs["strides"])
        self.pads_begin, self.pads_end = resolve_pads(attrs["auto_pad"], sizes, kernel, attrs["strides"],
                                                      [1] * len(kernel), attrs["pads_begin"], attrs["pads_end"])
        self.conv_out = tuple(out_shape[2:]) if pool_attrs is None else tuple(pool_attrs["conv_out"])
        self.filters = w_shape[0]
        self.pool = pool_attrs

    def windows(self, x: np.ndarray) -> np.ndarray:
        return patches(x, self.kernel, self.strides, self.pads_begin, self.pads_end, self.conv_out)

    def to_layout(self, flat: np.ndarray) -> np.ndarray:
        """``[prod(out), F]`` -> ``[1, F, *out]``."""
        return np.moveaxis(flat.reshape(self.conv_out + (self.filters,)), -1, 0)[None]


def _pool(a: np.ndarray, spec: dict) -> np.ndarray:
    from arrayrt.ir.ops.pool import pool_max

    return pool_max(np, a, *spec["window"])


def conv_int(geo: ConvGeometry, w: np.ndarray, bias: np.ndarray):
    """Integer convolution (+ fused max pooling): int16 input -> int32 sums."""
    wt = w.reshape(w.shape[0], -1).T.astype(np.float64)
    b = bias.astype(np.int64)

    def run(x: np.ndarray) -> np.ndarray:
        sums = geo.to_layout(_dot(geo.windows(x).astype(np.float64), wt) + b)
        if geo.pool is not None:
            sums = _pool(sums, geo.pool)
        return saturate32(sums).astype(np.int32)

    return run


def conv_float(geo: ConvGeometry, w: np.ndarray, bias: np.ndarray):
    wt = w.reshape(w.shape[0], -1).T.astype(np.float32)
    b = bias.astype(np.float32)

    def run(x: np.ndarray) -> np.ndarray:
        out = geo.to_layout(geo.windows(x.astype(np.float32)) @ wt + b)
        return _pool(out, geo.pool) if geo.pool is not None else out

    return run


def diagonal_int(w: np.ndarray, bias: np.ndarray):
    """ScaleShift: ``bias + w·x`` saturated to int32 (``w`` int16, ``bias`` int32, broadcast)."""
    w64, b64 = w.astype(np.int64), bias.astype(np.int64)
    return lambda x: saturate32(b64 + w64 * x.astype(np.int64)).astype(np.int32)


def eltwise_add_int(weight: int):
    """``in1 + weight · in0`` saturated to int32: GNA's eltwise sum (in1 is the bias input)."""
    return lambda x0, x1: saturate32(x1.astype(np.int64) + weight * x0.astype(np.int64)).astype(np.int32)


def eltwise_mul_int(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    return (x0.astype(np.int64) * x1.astype(np.int64)).astype(np.int32)
