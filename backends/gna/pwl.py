"""Piecewise-linear (PWL) activations: design, the hardware segment format, and evaluation.

Hardware format (``gna_pwl_segment_t``): ``int32 xBase`` whose two low bits hold the slope-scale index
``z``, ``int16 yBase``, ``int16 slope``. Evaluation of an int32 (or int16) input ``x``, as GNA's
kernels do it (``kernels/pwl.cpp``): ``x ≤ xBase₀`` gives ``yBase₀``; otherwise the last segment
``k`` with ``(xBase_k & ~3) ≤ x`` gives ``((x - (xBase_k & ~3)) · slope_k) >> 8(z_k + 1)`` (an
arithmetic shift: floor) ``+ yBase_k``, saturated to int16.

Design: smooth functions (Sigmoid, Tanh, SoftSign, Exp, Log, Power) are approximated on a domain by
a greedy minimax fit: each segment is extended as far as its best line (the chord shifted by half its
largest deviation) stays within an error bound. As in the 2023 plugin, which designed these with 128
segments, the bound is then tightened until the design fills the hardware's budget of 128 segments
(``PWL_MAX_NUM_SEGMENTS``; the evaluation costs the same for any count), so the error ends far below
``GNA_PWL_MAX_ERROR_PERCENT`` (default 1.0), the bound every design must meet. The error is the
plugin's measure, the largest deviation as a percentage of the function's range on the domain, and
it is checked on the encoded integer segments. Outside the domain the function is held at its value
at the domain's edge. Piecewise-linear functions (ReLU, LeakyReLU/PRelu, Clamp, Abs, Sign, Identity,
FakeQuantize) are built exactly from their pieces.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from arrayrt.backends.gna.quantize import INT16_MAX, INT32_MAX, exact_slope_scale, f32, slope_code

PWL_MAX_NUM_SEGMENTS = 128
INT32_MIN = -(2**31)
XBASE_MASK = ~3

#: default activation output scale (int16 path) and the inserted identity's (plugin constants)
ACTIVATION_SCALE = 2048.0
IDENTITY_SCALE = 2049.0
MAX_ACTIVATION_SCALE = 4096.0
POW_DOMAIN = 16.0

#: the float design must stay this far inside the target, leaving room for the integer rounding
_DESIGN_MARGIN = 0.8


class PwlDesignError(ValueError):
    """The error target cannot be met within the segment budget."""


@dataclass(frozen=True)
class Segments:
    """Encoded segments, as int64 arrays holding the hardware's int32/int16 values."""

    xbase: np.ndarray
    ybase: np.ndarray
    slope: np.ndarray

    def __len__(self) -> int:
        return len(self.xbase)

    @property
    def base(self) -> np.ndarray:
        return self.xbase & XBASE_MASK

    @property
    def shift(self) -> np.ndarray:
        return 8 * ((self.xbase & 3) + 1)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The int16 outputs for integer inputs ``x`` (see the module docstring)."""
        return self.evaluator()(x)

    def evaluator(self):
        """:meth:`evaluate` with the segment arrays prepared once (the kernel of a PWL layer)."""
        base, shift, slope, ybase = self.base, self.shift, self.slope, self.ybase
        first = int(base[0])
        low = first > INT32_MIN  # inputs at or below the first start need the yBase0 rule

        def run(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, np.int64)
            k = np.searchsorted(base, x, side="right") - 1
            if low:
                np.maximum(k, 0, out=k)
            y = ((x - base[k]) * slope[k]) >> shift[k]
            y += ybase[k]
            if low:
                y = np.where(x <= first, ybase[0], y)
            np.minimum(y, INT16_MAX, out=y)
            np.maximum(y, -32768, out=y)
            return y.astype(np.int16)

        return run

    def table(self) -> list[tuple[int, int, int]]:
        """``(xBase, yBase, slope)`` per segment, in the hardware's integer format."""
        return [(int(x), int(y), int(s)) for x, y, s in zip(self.xbase, self.ybase, self.slope)]


# --- activation functions ----------------------------------------------------------------------


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


def _softsign(x):
    return x / (1.0 + np.abs(x))


def _log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def _power(p: float) -> Callable[[np.ndarray], np.ndarray]:
    def f(x):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.power(x, p)
    return f


@dataclass(frozen=True)
class Activation:
    """One activation kind with its parameters: ``sigmoid``, ``tanh``, ``softsign``, ``exp``,
    ``log``, ``power`` (exponent), ``relu``, ``leaky_relu`` (negative slope), ``clamp`` (lo, hi),
    ``abs``, ``sign``, ``identity``, ``fake_quantize`` (in_lo, in_hi, out_lo, out_hi, levels)."""

    kind: str
    params: tuple[float, ...] = ()

    # exact float function (GNA_SW_FP32 and the error measure) -------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        k, p = self.kind, self.params
        if k == "sigmoid":
            return _sigmoid(x)
        if k == "tanh":
            return np.tanh(x)
        if k == "softsign":
            return _softsign(x)
        if k == "exp":
            with np.errstate(over="ignore"):
                return np.exp(x)
        if k == "log":
            return _log(x)
        if k == "power":
            return _power(p[0])(x)
        if k == "relu":
            return np.maximum(x, 0)
        if k == "leaky_relu":
            return np.where(x >= 0, x, x * p[0])
        if k == "clamp":
            return np.clip(x, p[0], p[1])
        if k == "abs":
            return np.abs(x)
        if k == "sign":
            return np.sign(x)
        if k == "identity":
            return x
        if k == "fake_quantize":
            return _fake_quantize(x, *p)
        raise ValueError(f"unknown activation {k}")

    @property
    def monotonic(self) -> bool:
        """Non-decreasing: max-pooling commutes with it (GNA pools before activating)."""
        if self.kind in ("abs",):
            return False
        if self.kind == "leaky_relu":
            return self.params[0] >= 0
        if self.kind == "power":
            return self.params[0] > 0 and float(self.params[0]).is_integer() and int(self.params[0]) % 2 == 1
        return True

    # scale factors ---------------------------------------------------------------------------
    def output_scale(self, s_in: float, x_max: float, int16_input: bool = False) -> float:
        """The default output scale for input scale ``s_in`` (``x_max``: the largest input magnitude
        the input type can hold, ``2^31 / s_in`` for int32 inputs). Unit-slope functions on int16
        inputs keep at most the input's scale, so their output covers the input's range."""
        k, p = self.kind, self.params
        cap = s_in if int16_input else math.inf
        if k in ("relu", "leaky_relu"):
            s = ACTIVATION_SCALE
            if s * s_in > INT32_MAX - 1:
                s *= 0.5
            return exact_slope_scale(s_in, min(s, cap))
        if k == "identity":
            s = max((IDENTITY_SCALE, IDENTITY_SCALE / 2), key=lambda t: abs(_slope_value(s_in, t)))
            return exact_slope_scale(s_in, min(s, cap))
        if k == "abs":
            return exact_slope_scale(s_in, min(ACTIVATION_SCALE, cap))
        if k == "clamp":
            bound = max(abs(p[0]), abs(p[1]))
            s = min(ACTIVATION_SCALE, INT16_MAX / bound) if bound > 0 else ACTIVATION_SCALE
            return exact_slope_scale(s_in, f32(min(s, cap)))
        if k == "fake_quantize":
            in_lo, in_hi, out_lo, out_hi, levels = p
            levels = min(levels, 65536)
            span = out_hi - out_lo
            s = MAX_ACTIVATION_SCALE if span <= 0 else min(MAX_ACTIVATION_SCALE, (levels - 1) / span)
            slope = span / (in_hi - in_lo) if in_hi > in_lo else 0.0
            return exact_slope_scale(s_in, f32(s), slope) if slope else f32(s)
        if k == "power":
            lo, hi = self.power_domain(x_max)
            peak = float(np.max(np.abs(np.nan_to_num(self(np.array([lo, hi], np.float64))))))
            return f32(INT16_MAX / peak) if peak > 0 and math.isfinite(peak) else ACTIVATION_SCALE
        return ACTIVATION_SCALE

    def power_domain(self, x_max: float) -> tuple[float, float]:
        integral = float(self.params[0]).is_integer()
        return (max(-POW_DOMAIN, -x_max) if integral else 0.0), min(POW_DOMAIN, x_max)

    # segments --------------------------------------------------------------------------------
    def domain(self, s_out: float, max_err_pct: float) -> tuple[float, float]:
        """The nominal designed range of a smooth function; outside it the output is held constant."""
        k = self.kind
        if k == "sigmoid":
            lo, hi = -10.0, 10.0
        elif k == "tanh":
            lo, hi = -5.0, 5.0
        elif k == "softsign":
            hi = 100.0 / max_err_pct - 1.0  # 1 - softsign(hi) is half the error budget
            lo = -hi
        elif k == "exp":
            lo, hi = math.log(0.5 / s_out), math.log(INT16_MAX / s_out)
        elif k == "log":
            lo, hi = 1e-3, 2981.0
        elif k == "power":
            lo, hi = self.power_domain(math.inf)
        else:
            raise ValueError(f"{k} is not a designed activation")
        return lo, hi

    def span(self, s_out: float, max_err_pct: float) -> float:
        """The function's range over its nominal domain: the error percentages refer to it."""
        lo, hi = self.domain(s_out, max_err_pct)
        ys = self(np.linspace(lo, hi, 4097))
        return float(ys.max() - ys.min())

    def segments(self, s_in: float, s_out: float, x_min: int, x_max: int,
                 max_err_pct: float = 1.0) -> tuple[Segments, float]:
        """Encoded segments for input scale ``s_in``, output scale ``s_out`` and integer inputs in
        ``[x_min, x_max]``; with the achieved error (percent of the range) where it is designed. The
        float design always meets ``max_err_pct``; the encoded segments can miss it only when the input
        scale is so coarse that segment starts (multiples of 4 input units) lie that far apart."""
        k, p = self.kind, self.params
        if k == "sign":
            one = _round(s_out)
            return _pack([(INT32_MIN, -one, 0), (-4, 0, 0), (4, one, 0)]), 0.0
        pieces = _EXACT.get(k)
        if pieces is not None:
            return encode(pieces(p), s_in, s_out, x_min, x_max), 0.0
        lo, hi = self.domain(s_out, max_err_pct)
        lo, hi = max(lo, x_min / s_in), min(hi, x_max / s_in)  # the inputs the layer can receive
        span = self.span(s_out, max_err_pct)
        segs = encode(design(self, lo, hi, max_err_pct * _DESIGN_MARGIN, span), s_in, s_out, x_min, x_max)
        return segs, error_pct(self, segs, s_in, s_out, lo, hi, span)


def _fake_quantize(x, in_lo, in_hi, out_lo, out_hi, levels):
    q = np.round((np.clip(x, in_lo, in_hi) - in_lo) / (in_hi - in_lo) * (levels - 1))
    y = q / (levels - 1) * (out_hi - out_lo) + out_lo
    return np.where(x <= min(in_lo, in_hi), out_lo, np.where(x > max(in_lo, in_hi), out_hi, y))


def _slope_value(s_in: float, s_out: float) -> float:
    slope, _ = slope_code(1.0, s_in, s_out)
    return slope


# pieces (alpha, m, c): y = m·x + c from alpha on; alpha = -inf for the first
def _relu_pieces(p):
    return [(-math.inf, p[0] if p else 0.0, 0.0), (0.0, 1.0, 0.0)]


def _clamp_pieces(p):
    lo, hi = p
    out = [(-math.inf, 0.0, lo), (lo, 1.0, 0.0)]
    if lo < 0 < hi:
        out.append((0.0, 1.0, 0.0))
    return out + [(hi, 0.0, hi)]


def _fq_pieces(p):
    in_lo, in_hi, out_lo, out_hi, _ = p
    m = (out_hi - out_lo) / (in_hi - in_lo) if in_hi > in_lo else 0.0
    return [(-math.inf, 0.0, out_lo), (in_lo, m, out_lo - m * in_lo), (in_hi, 0.0, out_hi)]


_EXACT = {
    "relu": _relu_pieces,
    "leaky_relu": _relu_pieces,
    "identity": lambda p: [(-math.inf, 1.0, 0.0), (0.0, 1.0, 0.0)],
    "abs": lambda p: [(-math.inf, -1.0, 0.0), (0.0, 1.0, 0.0)],
    "clamp": _clamp_pieces,
    "fake_quantize": _fq_pieces,
}


# --- design ------------------------------------------------------------------------------------


def _fit(f, a: float, b: float) -> tuple[float, float, float]:
    """The minimax-style line on ``[a, b]``: the chord shifted by the mean of its extreme
    deviations. Returns slope, intercept and the largest deviation."""
    xs = np.linspace(a, b, 129)
    ys = f(xs)
    m = (ys[-1] - ys[0]) / (b - a)
    d = ys - (ys[0] + m * (xs - a))
    top, bottom = float(d.max()), float(d.min())
    return m, float(ys[0] + (top + bottom) / 2 - m * a), (top - bottom) / 2


def design(f: Activation, lo: float, hi: float, max_err_pct: float, span: float,
           budget: int = PWL_MAX_NUM_SEGMENTS - 2) -> list[tuple[float, float, float]]:
    """Pieces ``(alpha, m, c)`` approximating ``f`` on ``[lo, hi]``, held at ``f(lo)`` below and
    ``f(hi)`` above: the smallest error the greedy fit reaches within ``budget`` pieces (plus the two
    held ends), which must be at most ``max_err_pct`` of ``span``."""
    return list(_design(f, float(lo), float(hi), float(max_err_pct), float(span), int(budget)))


@functools.lru_cache(maxsize=256)
def _design(f: Activation, lo: float, hi: float, max_err_pct: float, span: float, budget: int) -> tuple:
    if not hi > lo:
        return ((-math.inf, 0.0, float(f(np.array([hi]))[0])),)
    xs = np.linspace(lo, hi, 4097)
    ys = f(xs)
    eps = max_err_pct / 100.0 * span
    best = _greedy(f, lo, hi, eps, budget)
    if best is None:
        raise PwlDesignError(f"{f.kind}: more than {budget + 2} segments needed for {max_err_pct:g}% error")
    # the count of a smooth function's pieces grows as 1/sqrt(error): aim at the budget, then
    # bisect between the smallest error that fitted and the largest that did not
    failed = 0.0
    for _ in range(10):
        trial = eps * (len(best) / budget) ** 2 * 0.97
        if failed and trial <= failed:
            trial = math.sqrt(failed * eps)
        pieces = _greedy(f, lo, hi, trial, budget)
        if pieces is None:
            failed = trial
        else:
            best, eps = pieces, trial
        if failed and eps / failed < 1.05:
            break
    return ((-math.inf, 0.0, float(ys[0])), *best, (hi, 0.0, float(ys[-1])))


def _greedy(f, lo: float, hi: float, eps: float, budget: int) -> list | None:
    """Each piece extended as far as its line stays within ``eps``; None beyond ``budget`` pieces.
    A piece's error grows about as its width squared, so each width is found by a few secant-like
    steps inside a bracket ``(ok, bad)`` rather than by plain bisection."""
    pieces = []
    a = lo
    width = (hi - lo) / budget
    while a < hi:
        if len(pieces) >= budget:
            return None
        if _fit(f, a, hi)[2] <= eps:
            b = hi
        else:
            ok, bad = 0.0, hi - a
            for _ in range(24):
                trial = width if ok < width < bad else (math.sqrt(ok * bad) if ok else bad / 2)
                e = _fit(f, a, a + trial)[2]
                if e <= eps:
                    ok = trial
                    if e >= 0.97 * eps or bad < 1.01 * ok:
                        break
                else:
                    bad = trial
                width = trial * (math.sqrt(eps / e) if e > 0 else 2.0)
            while ok == 0.0:  # never fitted: shrink until it does
                bad *= 0.5
                if _fit(f, a, a + bad)[2] <= eps:
                    ok = bad
            b = a + ok
            width = ok
        m, c, _ = _fit(f, a, b)
        pieces.append((a, m, c))
        a = b
    return pieces


def _round(v: float) -> int:
    return int(math.trunc(v + 0.5 if v > 0 else v - 0.5))


def _pack(rows: list[tuple[int, int, int]]) -> Segments:
    arr = np.array(rows, np.int64).reshape(-1, 3)
    return Segments(arr[:, 0], arr[:, 1], arr[:, 2])


def encode(pieces: list[tuple[float, float, float]], s_in: float, s_out: float,
           x_min: int, x_max: int) -> Segments:
    """Hardware segments for pieces ``(alpha, m, c)``: ``xBase`` is ``alpha · s_in`` truncated,
    masked and tagged with the slope's scale index, ``yBase`` the piece's value at that ``xBase``
    (rounded, saturated), the slope from :func:`slope_codes`. A first piece with a slope starts where
    it leaves the int16 output range. A piece that starts at the same ``xBase`` as the next one, or
    beyond ``x_max``, is dropped; so are the pieces covering only inputs below ``x_min``."""
    arr = np.array(pieces, np.float64).reshape(-1, 3)
    alpha, m, c = arr[:, 0].copy(), arr[:, 1], arr[:, 2]
    if alpha[0] == -math.inf and m[0] != 0:
        limit = (-32768 if m[0] > 0 else INT16_MAX) / s_out
        start = (limit - c[0]) / m[0]
        alpha[0] = min(start, alpha[1]) if len(alpha) > 1 else start
    with np.errstate(invalid="ignore", over="ignore"):
        raw = np.where(np.isneginf(alpha), INT32_MIN, np.trunc(alpha * s_in))
    xb = np.clip(raw, INT32_MIN, INT32_MAX).astype(np.int64) & XBASE_MASK
    slope, z = slope_codes(m, s_in, s_out)
    y = (m * (xb / s_in) + c) * s_out
    y = np.trunc(np.where(y > 0, y + 0.5, y - 0.5))
    ybase = np.clip(y, -32768, INT16_MAX).astype(np.int64)
    keep = np.ones(len(xb), bool)
    keep[:-1] = xb[:-1] < xb[1:]
    keep[1:] &= xb[1:] <= x_max
    idx = np.flatnonzero(keep)
    reach = np.flatnonzero(xb[idx] <= x_min)
    if len(reach) > 1:
        idx = idx[reach[-1]:]  # pieces that only cover inputs below the reachable range
    return Segments(xb[idx] | z[idx], ybase[idx], slope[idx])


def slope_codes(m: np.ndarray, s_in: float, s_out: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~arrayrt.backends.gna.quantize.slope_code` of each slope (zero slopes: 0, z = 0)."""
    s = np.asarray(m, np.float64) * (s_out / s_in)
    z = np.zeros(s.shape, np.int64)
    for k in (1, 2, 3):
        fits = (s * float(1 << (8 * (k + 1))) <= INT16_MAX) & (s * float(1 << (8 * (k + 1))) >= -32768)
        z = np.where(fits, k, z)
    z = np.where(s == 0, 0, z)
    v = s * np.exp2(8.0 * (z + 1))
    v = np.trunc(np.where(v > 0, v + 0.5, v - 0.5))
    return np.clip(v, -32768, INT16_MAX).astype(np.int64), z


def error_pct(f: Activation, segs: Segments, s_in: float, s_out: float, lo: float, hi: float,
              span: float) -> float:
    """Largest deviation of the integer PWL from ``f`` over ``[lo, hi]``, as a percentage of
    ``span``, sampled on the integer inputs (every segment start and a dense grid)."""
    x_lo, x_hi = math.ceil(lo * s_in), math.floor(hi * s_in)
    if x_hi <= x_lo:
        return 0.0
    grid = np.unique(np.concatenate([
        np.linspace(x_lo, x_hi, 8001).round(),
        np.clip(np.concatenate([segs.base, segs.base - 1, segs.base + 1]), x_lo, x_hi)])).astype(np.int64)
    ref = f(grid / s_in)
    if span <= 0:
        return 0.0
    got = segs.evaluate(grid).astype(np.float64) / s_out
    return float(np.max(np.abs(got - ref)) / span * 100.0)
