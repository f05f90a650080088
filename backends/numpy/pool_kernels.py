"""numpy kernels for the pool family (see kernels.py): MaxPool and AvgPool as one ufunc pass per
kernel tap over strided views of the (bordered) input.

Max pooling pads with the lowest finite value and reduces with ``fmax`` from that value, which is
OpenVINO's rule (NaN and -inf never win). Its indices are found afterwards: the first tap equal to
the maximum, as the largest of per-tap codes (cheap small-integer passes). Average pooling sums in
f32 for f16 inputs and divides by per-position counts computed once per input shape.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from arrayrt.backends.base import KernelFactory
from arrayrt.backends.numpy.conv_kernels import PaddedInput
from arrayrt.ir.ops._xp import normalize_axis
from arrayrt.ir.ops.pool import kernel_offsets, avg_divisors, geometry


class PoolPlan:
    """Tap slices of the bordered input for one input shape."""

    def __init__(self, xshape, kernel, strides, dilations, pads_begin, pads_end, auto_pad, rounding,
                 dtype: np.dtype, border: float):
        sizes = xshape[2:]
        self.pb, self.pe, self.out, reach = geometry(sizes, kernel, strides, dilations, pads_begin, pads_end,
                                                     auto_pad, rounding)
        self.shape = (*xshape[:2], *self.out)
        self.padded = [b + n + r for b, n, r in zip(self.pb, sizes, reach)]
        bordered = any(self.pb) or any(reach)
        self.input = PaddedInput(xshape, self.pb, self.padded, 0, dtype, border) if bordered else None
        self.dtype = dtype
        self.slices = [(slice(None), slice(None)) + tuple(slice(k * d, k * d + (o - 1) * s + 1, s)
                                                          for k, d, o, s in zip(offs, dilations, self.out, strides))
                       for offs in np.ndindex(*kernel)]
        self.window = (kernel, strides, dilations)

    def taps(self, x: np.ndarray) -> list[np.ndarray]:
        if self.input is None:
            img = x if x.dtype == self.dtype else x.astype(self.dtype)
        else:
            img = self.input.fill(x).reshape(*self.shape[:2], *self.padded)
        return [img[s] for s in self.slices]


class MaxPoolPlan(PoolPlan):
    def __init__(self, xshape, window, dtype: np.dtype, index_dtype: np.dtype | None, axis: int):
        self.lowest = np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min
        super().__init__(xshape, *window, dtype, self.lowest)
        if index_dtype is None:
            return
        kernel, strides, dilations = self.window
        ndim = len(xshape)
        flat = [math.prod(xshape[i + 1:]) for i in range(ndim)]
        used = [f if i >= axis else 0 for i, f in enumerate(flat)]
        self.offsets = np.asarray(kernel_offsets(kernel, dilations, self.pb, used[2:]), index_dtype)
        base = np.zeros(self.shape[:2] + (1,) * len(self.out), index_dtype)
        base += (np.arange(xshape[0]) * used[0]).reshape(-1, 1, *(1,) * len(self.out)).astype(index_dtype)
        base += (np.arange(xshape[1]) * used[1]).reshape(1, -1, *(1,) * len(self.out)).astype(index_dtype)
        grid = base
        for i, (o, s) in enumerate(zip(self.out, strides)):
            shape = [1] * ndim
            shape[2 + i] = o
            grid = grid + (np.arange(o) * s * used[2 + i]).reshape(shape).astype(index_dtype)
        self.base, self.grid = base, grid
        # the first tap equal to the maximum has the largest code n - k; code 0 never occurs
        self.offsets_reversed = np.concatenate([self.offsets[:1], self.offsets[::-1]])
        self.tap_dtype = np.uint8 if len(self.offsets) < 256 else np.int32

    def __call__(self, x: np.ndarray, with_indices: bool):
        views = self.taps(x)
        acc = np.empty(self.shape, self.dtype)
        np.fmax(views[0], self.lowest, out=acc)
        for v in views[1:]:
            np.fmax(acc, v, out=acc)
        if not with_indices:
            return acc
        n = len(views)
        mask = np.empty(self.shape, np.bool_)
        code = np.zeros(self.shape, self.tap_dtype)
        term = np.empty(self.shape, self.tap_dtype)
        for k, v in enumerate(views):
            np.equal(v, acc, out=mask)
            np.multiply(mask, self.tap_dtype(n - k), out=term)
            np.maximum(code, term, out=code)
        idx = np.take(self.offsets_reversed, code)
        idx += self.grid
        np.equal(acc, self.lowest, out=mask)
        if mask.any():
            np.copyto(idx, self.base, where=mask)
        return acc, idx


def _max_pool(backend: Any, node: Any) -> Callable[..., Any] | None:
    t = node.input_type(0)
    if not t.is_static or np.dtype(t.to_dtype()).kind not in "fiu":
        return None
    dtype = np.dtype(t.to_dtype())
    window = node.op.window_attrs(node)
    with_indices = node.get_output_size() == 2
    index_dtype = np.dtype(node.attrs["index_element_type"].to_dtype()) if with_indices else None
    axis = node.attrs.get("axis", 0)
    plans: dict[tuple, MaxPoolPlan] = {}

    def run(x: np.ndarray):
        plan = plans.get(x.shape)
        if plan is None:
            plan = plans[x.shape] = MaxPoolPlan(x.shape, window, dtype, index_dtype, normalize_axis(axis, x.ndim))
        return plan(x, with_indices)

    run.exec_type = "numpy_strided_max"
    return run


class AvgPoolPlan(PoolPlan):
    def __init__(self, xshape, window, exclude_pad: bool, dtype: np.dtype):
        super().__init__(xshape, *window, dtype, 0)
        kernel, strides, dilations = self.window
        factors = avg_divisors(xshape[2:], kernel, strides, dilations, self.pb, self.pe, self.out, exclude_pad)
        divisor = np.ones((1, 1) + (1,) * len(self.out), dtype)
        for i, f in enumerate(factors):
            shape = [1] * len(xshape)
            shape[2 + i] = len(f)
            divisor = divisor * np.maximum(np.asarray(f, dtype), 1).reshape(shape)
        flat = divisor.reshape(-1)
        self.divisor = flat[0] if np.all(flat == flat[0]) else divisor

    def __call__(self, x: np.ndarray) -> np.ndarray:
        views = self.taps(x)
        if len(views) == 1:
            acc = views[0].copy()
        else:
            acc = np.add(views[0], views[1])
            for v in views[2:]:
                np.add(acc, v, out=acc)
        np.divide(acc, self.divisor, out=acc)
        return acc


def _avg_pool(backend: Any, node: Any) -> Callable[..., Any] | None:
    t = node.input_type(0)
    if not t.is_static or t.to_dtype() not in (np.float16, np.float32, np.float64):
        return None
    out_dtype = np.dtype(t.to_dtype())
    dtype = np.dtype(np.float32) if out_dtype == np.float16 else out_dtype
    window = node.op.window_attrs(node)
    exclude_pad = node.attrs["exclude-pad"]
    plans: dict[tuple, AvgPoolPlan] = {}

    def run(x: np.ndarray) -> np.ndarray:
        plan = plans.get(x.shape)
        if plan is None:
            plan = plans[x.shape] = AvgPoolPlan(x.shape, window, exclude_pad, dtype)
        y = plan(x)
        return y if y.dtype == out_dtype else y.astype(out_dtype)

    run.exec_type = "numpy_strided_avg"
    return run


OVERRIDES: dict[str, KernelFactory] = {"MaxPool": _max_pool, "AvgPool": _avg_pool}
