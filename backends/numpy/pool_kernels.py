"""numpy kernels for the pool family (see kernels.py): MaxPool and AvgPool as one ufunc pass per
kernel tap over views of the input, bordered and split into stride phases (so every tap reads at
unit stride) by the conv kernels' :class:`WindowInput`.

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
from arrayrt.backends.numpy.bounds import fmax_
from arrayrt.backends.numpy.conv_kernels import WindowInput
from arrayrt.ir.ops._xp import normalize_axis
from arrayrt.ir.ops.pool import avg_divisors, kernel_offsets, window_geometry


class PoolPlan:
    """Tap views of the (bordered, phase-split) input for one input shape."""

    def __init__(self, xshape, kernel, strides, dilations, pads_begin, pads_end, auto_pad, rounding,
                 dtype: np.dtype, border: float):
        sizes = xshape[2:]
        self.pb, self.pe, self.out, reach, strides = window_geometry(sizes, kernel, strides, dilations,
                                                                     pads_begin, pads_end, auto_pad, rounding)
        self.shape = (*xshape[:2], *self.out)
        self.rows = xshape[0] * xshape[1]
        self.dtype = dtype
        self.window = (kernel, strides, dilations)
        direct = not any(self.pb) and not any(reach) and all(s == 1 for s in strides)
        self.input = None if direct else WindowInput(xshape, kernel, strides, dilations, self.pb, self.out,
                                                     dtype, border)
        self.slices = [(slice(None), slice(None)) + tuple(slice(k * d, k * d + o, 1)
                                                          for k, d, o in zip(offs, dilations, self.out))
                       for offs in np.ndindex(*kernel)]

    def taps(self, x: np.ndarray) -> list[np.ndarray]:
        """Per kernel tap, the [N*C, *out] elements it reads."""
        if self.input is None:
            img = x.astype(self.dtype, copy=False)
            return [img[s].reshape(self.rows, *self.out) for s in self.slices]
        return self.input.tap_views(self.input.fill(x), self.out)


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
        offsets = np.asarray(kernel_offsets(kernel, dilations, self.pb, used[2:]), index_dtype)
        # the first tap equal to the maximum has the largest code n - k (code 0: no tap did)
        self.offsets_by_code = np.concatenate([offsets[:1], offsets[::-1]])
        self.code_dtype = np.uint8 if len(offsets) < 256 else np.int32
        rows = np.arange(xshape[0])[:, None] * used[0] + np.arange(xshape[1])[None, :] * used[1]
        self.base = rows.reshape(self.rows, *(1,) * len(self.out)).astype(index_dtype)
        grid = self.base
        for i, (o, s) in enumerate(zip(self.out, strides)):
            shape = [1] * (1 + len(self.out))
            shape[1 + i] = o
            grid = grid + (np.arange(o) * s * used[2 + i]).reshape(shape).astype(index_dtype)
        self.grid = grid

    def __call__(self, x: np.ndarray, with_indices: bool):
        views = self.taps(x)
        acc = np.empty((self.rows, *self.out), self.dtype)
        np.copyto(acc, views[0])
        fmax_(acc, self.lowest)  # two fast passes: fmax against a scalar is an element-at-a-time loop
        for v in views[1:]:
            np.fmax(acc, v, out=acc)
        if not with_indices:
            return acc.reshape(self.shape)
        return acc.reshape(self.shape), self._indices(acc, views).reshape(self.shape)

    def _indices(self, acc: np.ndarray, views: list[np.ndarray]) -> np.ndarray:
        n = len(views)
        mask = np.empty(acc.shape, np.bool_)
        code = np.zeros(acc.shape, self.code_dtype)
        term = np.empty(acc.shape, self.code_dtype)
        for k, v in enumerate(views):
            np.equal(v, acc, out=mask)
            np.multiply(mask, self.code_dtype(n - k), out=term)
            np.maximum(code, term, out=code)
        idx = np.take(self.offsets_by_code, code)
        idx += self.grid
        np.equal(acc, self.lowest, out=mask)
        if mask.any():
            np.copyto(idx, self.base, where=mask)
        return idx


def _max_pool(backend: Any, node: Any) -> Callable[..., Any] | None:
    t = node.input_type(0)
    if not t.is_static or np.dtype(t.to_dtype()).kind not in "fiu":
        return None
    dtype = np.dtype(t.to_dtype())
    window = node.op.window_attrs(node)
    two = node.get_output_size() == 2
    # MaxPool-8/14 always has an indices output; most models never read it
    with_indices = two and backend.output_read(node, 1)
    index_dtype = np.dtype(node.attrs["index_element_type"].to_dtype()) if with_indices else None
    axis = node.attrs.get("axis", 0)
    plans: dict[tuple, MaxPoolPlan] = {}

    def run(x: np.ndarray):
        plan = plans.get(x.shape)
        if plan is None:
            plan = plans[x.shape] = MaxPoolPlan(x.shape, window, dtype, index_dtype,
                                                normalize_axis(axis, x.ndim))
        if two and not with_indices:
            return plan(x, False), None
        return plan(x, with_indices)

    run.exec_type = "numpy_strided_max"
    return run


class AvgPoolPlan(PoolPlan):
    def __init__(self, xshape, window, exclude_pad: bool, dtype: np.dtype):
        super().__init__(xshape, *window, dtype, 0)
        kernel, strides, dilations = self.window
        factors = avg_divisors(xshape[2:], kernel, strides, dilations, self.pb, self.pe, self.out,
                               exclude_pad)
        divisor = np.ones((1,) * (1 + len(self.out)), dtype)
        for i, f in enumerate(factors):
            shape = [1] * (1 + len(self.out))
            shape[1 + i] = len(f)
            divisor = divisor * np.maximum(np.asarray(f, dtype), 1).reshape(shape)
        flat = divisor.reshape(-1)
        self.divisor = flat[0] if np.all(flat == flat[0]) else divisor

    def __call__(self, x: np.ndarray) -> np.ndarray:
        views = self.taps(x)
        acc = np.empty((self.rows, *self.out), self.dtype)
        np.copyto(acc, views[0])
        for v in views[1:]:
            np.add(acc, v, out=acc)
        np.divide(acc, self.divisor, out=acc)
        return acc.reshape(self.shape)


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
