"""Error metrics between a tensor and its reference, as ``arrayrt crosscheck`` reports them.

Every function takes ``actual`` and ``reference`` arrays of one shape. Errors are computed in
float64 over the elements that are finite in both; non-finite values are counted instead
(:func:`special_counts`), and an element that is NaN or infinite on one side only is a mismatch
(:func:`nonfinite_mismatches`), because a number cannot be "close" to a NaN.

* relative error is the conventional ``|a - b| / max(|b|, eps)``, not OpenVINO's old
  cross_check_tool ratio (``|a - b| / min |a - b|``), which measured spread, not error;
* ULP distance is counted in the reference's element type: both sides are rounded to it and the
  distance is the number of representable values between them (0 for -0 and +0);
* SNR is ``10 log10(Σ b² / Σ (a - b)²)`` in dB: +inf when equal, -inf for noise on a zero signal.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

#: default floor of ``|b|`` in the relative error, so that zeros in the reference do not explode it
DEFAULT_EPS = 1e-6

#: metric -> True when a larger value is worse (what ``--threshold`` and sorting go by)
HIGHER_IS_WORSE = {
    "norm_max_abs": True,
    "max_abs": True,
    "mean_abs": True,
    "max_rel": True,
    "max_ulp": True,
    "cosine": False,
    "snr_db": False,
}


def _pair(actual: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(actual), np.asarray(reference)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {list(a.shape)} against the reference's {list(b.shape)}")
    for x in (a, b):
        if x.dtype.kind not in "biuf" and not _is_numeric_void(x.dtype):
            raise TypeError(f"cannot compare values of type {x.dtype}")
    return a, b


def _is_numeric_void(dt: np.dtype) -> bool:
    """ml_dtypes' types (bfloat16, float8_*, int4...) have kind 'V' but convert to float64."""
    if dt.kind != "V" or dt.names is not None:
        return False
    try:
        np.zeros(1, dt).astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _f64(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64)


def _finite_pair(actual: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as float64, flattened, keeping the elements finite in both."""
    a, b = _pair(actual, reference)
    a, b = _f64(a).ravel(), _f64(b).ravel()
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def max_abs_error(actual: Any, reference: Any) -> float:
    a, b = _finite_pair(actual, reference)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def mean_abs_error(actual: Any, reference: Any) -> float:
    a, b = _finite_pair(actual, reference)
    return float(np.mean(np.abs(a - b))) if a.size else 0.0


def max_rel_error(actual: Any, reference: Any, eps: float = DEFAULT_EPS) -> float:
    """``max |a - b| / max(|b|, eps)``."""
    a, b = _finite_pair(actual, reference)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), eps))) if a.size else 0.0


def norm_max_abs_error(actual: Any, reference: Any) -> float:
    """``max |a - b| / max |b|``: the largest error relative to the reference's range, which, unlike
    the elementwise relative error, does not explode where the reference crosses zero."""
    a, b = _finite_pair(actual, reference)
    if not a.size:
        return 0.0
    err, scale = float(np.max(np.abs(a - b))), float(np.max(np.abs(b)))
    if scale == 0.0:
        return 0.0 if err == 0.0 else math.inf
    return err / scale


def cosine_similarity(actual: Any, reference: Any) -> float:
    """1.0 for equal directions; two all-zero tensors are equal (1.0), one all-zero is not (0.0)."""
    a, b = _finite_pair(actual, reference)
    sa = float(np.max(np.abs(a))) if a.size else 0.0
    sb = float(np.max(np.abs(b))) if b.size else 0.0
    if sa == 0.0 or sb == 0.0:
        return 1.0 if sa == sb else 0.0
    a, b = a / sa, b / sb  # scaled so that the squares neither overflow nor underflow
    cos = float(np.dot(a, b)) / math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return min(1.0, max(-1.0, cos))


def snr_db(actual: Any, reference: Any) -> float:
    a, b = _finite_pair(actual, reference)
    signal, noise = float(np.sum(b * b)), float(np.sum((a - b) ** 2))
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


# --- ULP ---------------------------------------------------------------------------------------
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _float_bits(dt: np.dtype) -> int | None:
    """Bit width of a sign-magnitude binary float type (IEEE, bfloat16, float8 e4m3/e5m2), else None."""
    dt = np.dtype(dt)
    if dt.kind == "f" and dt.itemsize in _UINT:
        return dt.itemsize * 8
    name = dt.name
    if dt.kind == "V" and dt.itemsize in (1, 2) and (name.startswith("bfloat16") or name.startswith("float8_e")):
        return None if "e8m0" in name else dt.itemsize * 8  # e8m0 has no sign bit
    return None


def _ordered(x: np.ndarray, bits: int) -> np.ndarray:
    """Float bit patterns -> int64 ranks in value order (-0 and +0 share rank 0)."""
    u = x.view(_UINT[bits // 8]).astype(np.uint64)
    sign = np.uint64(1) << np.uint64(bits - 1)
    magnitude = (u & ~sign).astype(np.int64)
    return np.where(u & sign, -magnitude, magnitude)


def _int64_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``|x - y|`` of int64 arrays as uint64, exact even where the difference overflows int64."""
    ux, uy = x.view(np.uint64), y.view(np.uint64)
    return np.where(x >= y, ux - uy, uy - ux)


def ulp_distance(actual: Any, reference: Any) -> np.ndarray:
    """Elementwise distance in units in the last place of the reference's element type (uint64).

    Both sides are rounded to that type first. Integer references count integer steps. Elements
    that are not finite on both sides are not counted (they are absent from the result)."""
    a, b = _pair(actual, reference)
    ref_dt = b.dtype
    if ref_dt.kind == "b":
        return (a.astype(bool) != b).ravel().astype(np.uint64)
    if ref_dt.kind in "iu" or (ref_dt.kind == "V" and ref_dt.name.startswith(("int", "uint"))):
        if ref_dt == np.uint64:
            au = a.astype(np.uint64).ravel()
            bu = b.ravel()
            return np.where(au >= bu, au - bu, bu - au)
        return _int64_distance(a.astype(np.int64).ravel(), b.astype(np.int64).ravel())
    bits = _float_bits(ref_dt)
    if bits is None:
        raise TypeError(f"ULP distance is not defined for {ref_dt}")
    with np.errstate(over="ignore", invalid="ignore"):
        a = a.astype(ref_dt).ravel()
    b = b.ravel()
    keep = np.isfinite(_f64(a)) & np.isfinite(_f64(b))
    a, b = np.ascontiguousarray(a[keep]), np.ascontiguousarray(b[keep])
    return _int64_distance(_ordered(a, bits), _ordered(b, bits))


def max_ulp(actual: Any, reference: Any) -> int | None:
    """The largest :func:`ulp_distance`, or None where the reference's type has no ULP."""
    try:
        d = ulp_distance(actual, reference)
    except TypeError:
        return None
    return int(d.max()) if d.size else 0


# --- counts ------------------------------------------------------------------------------------
def special_counts(x: Any) -> dict[str, int]:
    """``{"nan", "inf", "zero"}`` element counts."""
    v = _f64(np.asarray(x))
    return {"nan": int(np.isnan(v).sum()), "inf": int(np.isinf(v).sum()), "zero": int((v == 0).sum())}


def nonfinite_mismatches(actual: Any, reference: Any) -> int:
    """Elements that are NaN or infinite on one side and not the same non-finite value on the other."""
    a, b = _pair(actual, reference)
    a, b = _f64(a), _f64(b)
    fa, fb = np.isfinite(a), np.isfinite(b)
    same = (fa & fb) | (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & np.isinf(b) & (a == b))
    return int((~same).sum())


def compare(actual: Any, reference: Any, eps: float = DEFAULT_EPS) -> dict[str, Any]:
    """Every metric of this module for one tensor pair, as one dict (JSON-ready but for inf)."""
    a, b = _pair(actual, reference)
    return {
        "max_abs": max_abs_error(a, b),
        "mean_abs": mean_abs_error(a, b),
        "max_rel": max_rel_error(a, b, eps),
        "norm_max_abs": norm_max_abs_error(a, b),
        "max_ulp": max_ulp(a, b),
        "cosine": cosine_similarity(a, b),
        "snr_db": snr_db(a, b),
        "nonfinite_mismatch": nonfinite_mismatches(a, b),
        "actual": special_counts(a),
        "reference": special_counts(b),
    }


def exceeds(metrics: dict[str, Any], metric: str, threshold: float) -> bool:
    """Whether a tensor's ``metric`` is worse than ``threshold``, or its non-finite values differ."""
    if metrics.get("nonfinite_mismatch"):
        return True
    value = metrics[metric]
    if value is None:
        return False
    return value > threshold if HIGHER_IS_WORSE[metric] else value < threshold
