"""Array-API helpers shared by op ``compute`` functions.

Everything here takes the namespace ``xp`` and uses only the array-API standard, except where a
function says it has a numpy-only path for types the standard lacks (bf16, f8, i4 via ml_dtypes).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from arrayrt.ir.types import Type

from arrayrt.errors import UnsupportedOpError

_STANDARD_NAMES = {
    "f64": "float64", "f32": "float32", "i64": "int64", "i32": "int32", "i16": "int16",
    "i8": "int8", "u64": "uint64", "u32": "uint32", "u16": "uint16", "u8": "uint8",
    "boolean": "bool", "u1": "uint8",
}


def numpy_namespace() -> Any:
    """The namespace the numpy backend computes with (numpy 2's main namespace is array-API)."""
    return np


def is_numpy(xp: Any) -> bool:
    return xp is np


def to_numpy(a: Any) -> np.ndarray:
    """A numpy array from any array (numpy scalar, array-API array) without copying when possible."""
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, np.generic):
        return np.asarray(a)
    dev = getattr(a, "__dlpack_device__", None)
    if dev is not None and hasattr(a, "get"):
        try:
            if dev()[0] == 2:  # a CUDA array (CuPy): copied to the host
                return a.get()
        except (TypeError, RuntimeError, BufferError):
            pass
    try:
        return np.from_dlpack(a)
    except (TypeError, RuntimeError, BufferError, AttributeError):
        return np.asarray(a)


def dtype_of(xp: Any, t: Type) -> Any:
    """The ``xp`` dtype holding element type ``t``."""
    t = Type(t)
    name = _STANDARD_NAMES.get(t.name)
    if t.name == "f16":
        dt = getattr(xp, "float16", None)
        if dt is not None:
            return dt
    elif name is not None:
        return getattr(xp, name)
    if is_numpy(xp) and t.is_static and t.name != "string":
        return t.to_dtype()
    extra = getattr(xp, "__arrayrt_dtypes__", {})
    if t.name in extra:
        return extra[t.name]
    raise UnsupportedOpError(f"element type {t} has no dtype in {getattr(xp, '__name__', xp)}")


def type_of(xp: Any, dtype: Any) -> Type:
    """The element type of an ``xp`` dtype."""
    for tname, sname in _STANDARD_NAMES.items():
        if tname != "u1" and getattr(xp, sname, None) == dtype:
            return Type(tname)
    if getattr(xp, "float16", None) is not None and dtype == xp.float16:
        return Type.f16
    return Type(np.dtype(dtype))


def is_float_dtype(xp: Any, dtype: Any) -> bool:
    return xp.isdtype(dtype, "real floating") if hasattr(xp, "isdtype") else np.dtype(dtype).kind == "f"


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def erf(xp: Any, x: Any) -> Any:
    """Error function to about 1 ulp in float64 (array-API has none).

    Rational approximations of W. J. Cody (1969) on |x| < 0.46875, up to 4, and beyond 4,
    evaluated in the input precision (float64 for float64, else float32 accuracy).
    """
    native = getattr(xp, "erf", None) or getattr(getattr(xp, "special", None), "erf", None)
    if native is not None:
        return native(x)
    dt = x.dtype
    x = xp.clip(x, -6.0, 6.0)  # erf is +-1 to float64 precision beyond 6; keeps inf out of the math
    ax = xp.abs(x)
    # |x| < 0.5 : erf(x) = x * P1(x^2) / Q1(x^2)
    a = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
         3.20937758913846947e03, 1.85777706184603153e-1)
    b = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
         2.84423683343917062e03)
    z = ax * ax
    num = a[4] * z
    den = z
    for i in range(3):
        num = (num + a[i]) * z
        den = (den + b[i]) * z
    small = x * (num + a[3]) / (den + b[3])
    # 0.5 <= |x| < 4 : erfc(x) = exp(-x^2) * P2(x) / Q2(x)
    c = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
         2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
         2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
    d = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
         1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
         3.43936767414372164e03, 1.23033935480374942e03)
    num = c[8] * ax
    den = ax
    for i in range(7):
        num = (num + c[i]) * ax
        den = (den + d[i]) * ax
    mid_erfc = (num + c[7]) / (den + d[7])
    # |x| >= 4 : erfc(x) = exp(-x^2)/x * (1/sqrt(pi) + 1/x^2 * P3(1/x^2)/Q3(1/x^2))
    p = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
         1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
    q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
         6.05183413124413191e-2, 2.33520497626869185e-3)
    safe = xp.where(ax < 4.0, xp.asarray(4.0, dtype=dt), ax)
    zi = 1.0 / (safe * safe)
    num = p[5] * zi
    den = zi
    for i in range(4):
        num = (num + p[i]) * zi
        den = (den + q[i]) * zi
    big = zi * (num + p[4]) / (den + q[4])
    big_erfc = (1.0 / math.sqrt(math.pi) - big) / safe
    tail = xp.where(ax < 4.0, mid_erfc, big_erfc)
    # exp(-x^2) split as exp(-y^2) exp(-(x-y)(x+y)) with y = x rounded to 1/16 keeps precision
    y = xp.floor(ax * 16.0) / 16.0
    erfc = xp.exp(-y * y) * xp.exp(-(ax - y) * (ax + y)) * tail
    large = xp.where(x < 0, erfc - 1.0, 1.0 - erfc)
    return xp.astype(xp.where(ax < 0.46875, small, large), dt)


def broadcast_to(xp: Any, x: Any, shape: tuple[int, ...]) -> Any:
    return xp.broadcast_to(x, tuple(int(s) for s in shape))


def as_int_tuple(v: Any) -> tuple[int, ...]:
    """A small index array (shape values, axes) as Python ints."""
    return tuple(int(i) for i in np.asarray(to_numpy(v)).reshape(-1))
