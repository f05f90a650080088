"""Static quantisation: scale factors and the float -> integer conversions of GNA's compiler.

A scale factor ``s`` maps a real value ``x`` to the integer ``q ≈ x · s``. The rules are those of
OpenVINO's GNA plugin (2023.3, ``frontend/quantization.cpp`` and ``scale_factor_calc.cpp``):

* every conversion computes ``v = x · s`` in float32, adds ``±0.5`` by the sign of ``x`` (in float32
  too), saturates to the target type and truncates: round half away from zero, as the plugin does it;
* weights: ``s_w = 16384 / max|W|`` (int16) or ``127 / max|W|`` (int8); all-zero weights get 1.0;
* biases are int32 at the output scale ``s_w · s_in``; when ``max|b| · s_w · s_in`` would exceed
  ``2^30`` the output scale is lowered to ``2^30 / max|b|`` and ``s_w`` with it;
* int8 weights with int16 inputs: ``s_w`` is multiplied by 230 and each output row gets a multiplier
  ``round(max_row|w · s_w| / 127)`` in ``[1, 230]``, stored in the compound bias; the stored weight
  is ``round(w · s_w / multiplier)``;
* scale factors are float32 numbers (the plugin keeps them in ``float``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_VAL_2B_WEIGHT = 16384
MAX_VAL_1B_WEIGHT = 127
MAX_VAL_2B_FEAT = 16384
MAX_VAL_4B_BIAS = 1 << 30
MAX_OUT_MULTIPLIER = 230
INT32_MAX = 2**31 - 1
INT16_MAX = 2**15 - 1

#: int8 weights: when ``s_w · s_in · s_in`` exceeds ``(INT32_MAX - 1) · 30`` the plugin multiplies
#: ``s_w`` by the factor its threshold table then selects, which is 0.5 (the output scale it compares
#: with is not set yet at that point, so the table walk stops at its second entry)
INT8_REDUCTION_THRESHOLD = 30
INT8_REDUCTION_FACTOR = 0.5


def f32(x: float) -> float:
    """``x`` as the plugin stores it: a float32."""
    return float(np.float32(x))


def quantize(x: np.ndarray, scale: float, dtype: type) -> np.ndarray:
    """``x`` to integers of ``dtype`` at ``scale``: float32 ``x · s ± 0.5``, saturated, truncated."""
    x32 = np.asarray(x, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        v = x32 * np.float32(scale)
        v = np.where(x32 > 0, v + np.float32(0.5), v - np.float32(0.5))
    info = np.iinfo(dtype)
    v = np.nan_to_num(v.astype(np.float64), nan=0.0, posinf=info.max, neginf=info.min)
    return np.trunc(np.clip(v, info.min, info.max)).astype(dtype)


def scale_for(values: np.ndarray, target: float) -> float:
    """``target / max|values|``, or 1.0 for all-zero values (the plugin's special case)."""
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return f32(target / m) if m > 0 else 1.0


@dataclass
class Weights:
    """Quantised weights of one weightable layer.

    ``w`` is int16 or int8 ``[rows, cols]``; ``mult`` the per-row multiplier of int8 weights (None for
    int16); ``b`` the int32 bias (zeros when the layer has none); ``s_w`` the weight scale and ``s_out``
    the output (accumulator) scale ``s_w · s_in``."""

    w: np.ndarray
    mult: np.ndarray | None
    b: np.ndarray
    s_w: float
    s_out: float


def weight_scale(W: np.ndarray, b: np.ndarray | None, s_in: float, precision: str, *,
                 compound: bool, reducer: float = 1.0) -> float:
    """The weight scale ``s_w`` of a weightable layer before any requantisation (see the module
    docstring). ``compound``: int8 weights stored with a per-row multiplier (affine layers);
    ``reducer``: the convolution accumulator reducer (:func:`conv_reducer`)."""
    target = MAX_VAL_2B_WEIGHT if precision == "i16" else MAX_VAL_1B_WEIGHT
    s_w = scale_for(W, target)
    if b is not None and np.any(b != 0):
        s_b = scale_for(b, MAX_VAL_4B_BIAS)
        s_b = min(f32(s_w * s_in), s_b)
        s_w = f32(s_b / s_in)
    if precision == "i8" and compound:
        s_w = f32(s_w * MAX_OUT_MULTIPLIER)
    s_w = f32(s_w / reducer)
    if precision == "i8" and s_w * s_in * s_in > (INT32_MAX - 1) * INT8_REDUCTION_THRESHOLD:
        s_w = f32(s_w * INT8_REDUCTION_FACTOR)
    return s_w


#: 2-D convolution accumulator reducers by kernel size (plugin: ``getWeightsReducer``)
_CONV2D_REDUCERS = ((49, 3.0), (36, 2.6), (21, 2.3), (14, 1.7), (9, 1.3), (7, 1.2))


def conv_reducer(in_channels: int, kernel: tuple[int, ...], precision: str, is_2d: bool) -> float:
    """``max(1, r · 16384 · target · C_in / INT32_MAX)`` with ``r`` from the kernel size of a true 2-D
    convolution (1 otherwise): keeps the worst-case accumulator of a convolution inside int32."""
    r = 1.0
    if is_2d:
        size = int(np.prod(kernel))
        r = next((v for k, v in _CONV2D_REDUCERS if size >= k), 1.0)
    target = MAX_VAL_2B_WEIGHT if precision == "i16" else MAX_VAL_1B_WEIGHT
    return max(1.0, r * MAX_VAL_2B_FEAT * target * in_channels / INT32_MAX)


def quantize_weights(W: np.ndarray, b: np.ndarray | None, s_w: float, s_in: float, precision: str,
                     *, compound: bool) -> Weights:
    """Integer weights and bias at weight scale ``s_w`` and input scale ``s_in``."""
    W = np.asarray(W, np.float32)
    rows = W.shape[0]
    s_out = f32(s_w * s_in)
    bias = (np.zeros(rows, np.int32) if b is None
            else quantize(np.broadcast_to(np.asarray(b, np.float32).reshape(-1), (rows,)), s_out, np.int32))
    if precision == "i16":
        return Weights(quantize(W, s_w, np.int16), None, bias, s_w, s_out)
    if not compound:
        return Weights(quantize(W, s_w, np.int8), None, bias, s_w, s_out)
    scaled = np.abs(W.reshape(rows, -1) * np.float32(s_w)).max(axis=1)
    mult = np.trunc(scaled / np.float32(MAX_VAL_1B_WEIGHT) + np.float32(0.5)).astype(np.int64)
    mult = np.clip(mult, 1, MAX_OUT_MULTIPLIER)
    per_row = (np.float32(s_w) / mult.astype(np.float32)).reshape((rows,) + (1,) * (W.ndim - 1))
    return Weights(_quantize_rows(W, per_row), mult.astype(np.uint8), bias, s_w, s_out)


def _quantize_rows(W: np.ndarray, per_row: np.ndarray) -> np.ndarray:
    """int8 weights at a per-row scale ``s_w / multiplier`` (float32, as the plugin computes it)."""
    with np.errstate(over="ignore"):
        v = W * per_row
        v = np.where(W > 0, v + np.float32(0.5), v - np.float32(0.5))
    return np.trunc(np.clip(v.astype(np.float64), -128, 127)).astype(np.int8)


def slope_code(slope: float, s_in: float, s_out: float) -> tuple[int, int]:
    """GNA's slope encoding (plugin ``gna_slope``): the integer slope and the scale index ``z``.
    ``z`` is the largest of 3, 2, 1 whose scale ``2^(8(z+1))`` keeps ``slope · s_out / s_in`` scaled
    inside int16, else 0; the integer slope is that product rounded (half away from zero) and
    saturated to int16."""
    s = slope * s_out / s_in
    z = 0
    for k in (3, 2, 1):
        if -32768 <= s * float(1 << (8 * (k + 1))) <= INT16_MAX:
            z = k
            break
    v = s * float(1 << (8 * (z + 1)))
    v = v + 0.5 if v > 0 else v - 0.5
    return int(np.trunc(np.clip(v, -32768, INT16_MAX))), z


def exact_slope_scale(s_in: float, target: float, slope: float = 1.0) -> float:
    """The output scale in ``(target · (1 - 1/n), target]`` that makes ``slope`` exactly
    representable (``n`` the integer slope). The plugin searched ``[target - target/10, target]`` for
    that scale (``adjustScaleFactor``); this is the closed form of the search."""
    _, z = slope_code(slope, s_in, target)
    scale = float(1 << (8 * (z + 1)))
    n = np.floor(abs(slope) * target / s_in * scale)
    if n < 10:
        return target
    return f32(n * s_in / (abs(slope) * scale))
