"""The crosscheck metrics against numpy computations on arrays whose answers are known."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from arrayrt.tools import metrics as M


def test_abs_rel_and_range_errors_on_known_values():
    ref = np.array([1.0, -2.0, 0.0, 4.0], np.float32)
    act = np.array([1.5, -2.0, 0.25, 3.0], np.float32)
    assert M.max_abs_error(act, ref) == 1.0
    assert M.mean_abs_error(act, ref) == pytest.approx((0.5 + 0 + 0.25 + 1.0) / 4)
    # |a-b| / max(|b|, eps): 0.5/1, 0/2, 0.25/eps, 1/4 -> the zero reference dominates
    assert M.max_rel_error(act, ref, eps=1e-6) == pytest.approx(0.25 / 1e-6)
    assert M.max_rel_error(act, ref, eps=1.0) == pytest.approx(0.5)
    assert M.norm_max_abs_error(act, ref) == pytest.approx(1.0 / 4.0)


def test_errors_match_numpy_on_random_arrays():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((3, 50)).astype(np.float32)
    act = (ref + rng.normal(0, 1e-3, ref.shape)).astype(np.float32)
    a, b = act.astype(np.float64), ref.astype(np.float64)
    assert M.max_abs_error(act, ref) == np.max(np.abs(a - b))
    assert M.mean_abs_error(act, ref) == pytest.approx(np.mean(np.abs(a - b)), rel=1e-12)
    assert M.max_rel_error(act, ref) == pytest.approx(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)), rel=1e-12)
    cos = np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b))
    assert M.cosine_similarity(act, ref) == pytest.approx(cos, abs=1e-12)
    snr = 10 * np.log10(np.sum(b * b) / np.sum((a - b) ** 2))
    assert M.snr_db(act, ref) == pytest.approx(snr, rel=1e-12)


@pytest.mark.parametrize("dtype, a, b, ulps", [
    (np.float32, 1.0, np.nextafter(np.float32(1), np.float32(2)), 1),
    (np.float32, 1.0, 2.0, 2 ** 23),                       # one binade of f32: 2^23 steps
    (np.float32, 1.0, 1.0 + 5 * 2.0 ** -23, 5),
    (np.float32, -0.0, 0.0, 0),                            # the two zeros are one value
    (np.float32, np.float32(-1e-45), np.float32(1e-45), 2),  # smallest subnormals across zero
    (np.float32, -1.0, 1.0, 2 * 0x3F800000),               # 1.0 is bit pattern 0x3F800000
    (np.float16, 1.0, 1.0 + 2.0 ** -10, 1),
    (np.float16, 1.0, 2.0, 2 ** 10),
    (np.float64, 1.0, np.nextafter(1.0, 2.0), 1),
    (np.float64, -np.finfo(np.float64).max, np.finfo(np.float64).max, 2 * 0x7FEFFFFFFFFFFFFF),
    (ml_dtypes.bfloat16, 1.0, 2.0, 2 ** 7),
    (ml_dtypes.float8_e4m3fn, 1.0, 2.0, 2 ** 3),
])
def test_ulp_distance_exact_counts(dtype, a, b, ulps):
    x, y = np.array([a], dtype), np.array([b], dtype)
    assert M.ulp_distance(x, y).tolist() == [ulps]
    assert M.ulp_distance(y, x).tolist() == [ulps]
    assert M.max_ulp(x, y) == ulps


def test_ulp_distance_is_counted_in_the_reference_type():
    ref = np.array([1.0], np.float32)
    assert M.max_ulp(np.array([1.0 + 1e-12]), ref) == 0           # f64 rounds to the f32 reference
    assert M.max_ulp(np.array([1.0 + 2.0 ** -23]), ref) == 1
    assert M.max_ulp(np.array([1.0 + 2.0 ** -10], np.float32), np.array([1.0], np.float16)) == 1
    assert M.max_ulp(np.array([1.0 + 2.0 ** -10], np.float16), ref) == 2 ** 13


def test_ulp_distance_of_integers_is_exact_at_the_extremes():
    i64 = np.iinfo(np.int64)
    assert M.ulp_distance(np.array([i64.min, 5]), np.array([i64.max, -3])).tolist() == [2 ** 64 - 1, 8]
    assert M.ulp_distance(np.array([0], np.uint64), np.array([2 ** 64 - 1], np.uint64)).tolist() == [2 ** 64 - 1]
    assert M.ulp_distance(np.array([True, False]), np.array([True, True])).tolist() == [0, 1]


def test_ulp_skips_non_finite_pairs():
    ref = np.array([1.0, np.inf, np.nan, 2.0], np.float32)
    act = np.array([1.0, 1.0, np.nan, np.nextafter(np.float32(2), np.float32(3))], np.float32)
    assert M.ulp_distance(act, ref).tolist() == [0, 1]
    assert M.nonfinite_mismatches(act, ref) == 1  # the inf against 1.0; NaN against NaN agrees


def test_snr_of_constructed_signals():
    """Over whole periods sin and cos are orthogonal with mean square 1/2, so a sine of amplitude
    A plus a cosine of amplitude c has an SNR of exactly 20 log10(A / c)."""
    t = np.arange(1000) * 2 * np.pi / 100  # ten periods
    signal = 3.0 * np.sin(t)
    for c, want in ((0.03, 40.0), (0.3, 20.0), (3.0, 0.0), (30.0, -20.0)):
        assert M.snr_db(signal + c * np.cos(t), signal) == pytest.approx(want, abs=1e-9)
    assert M.snr_db(signal, signal) == math.inf
    assert M.snr_db(np.ones(4), np.zeros(4)) == -math.inf


def test_cosine_similarity_of_known_directions():
    x = np.array([1.0, 2.0, 3.0], np.float32)
    assert M.cosine_similarity(5 * x, x) == 1.0
    assert M.cosine_similarity(-x, x) == -1.0
    assert M.cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    assert M.cosine_similarity(np.array([1.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(1 / math.sqrt(2))
    assert M.cosine_similarity(np.zeros(3), np.zeros(3)) == 1.0
    assert M.cosine_similarity(np.zeros(3), x) == 0.0
    big = np.array([3e38, 3e38], np.float32)  # squares overflow f32 and nearly f64: still exact
    assert M.cosine_similarity(big, big) == 1.0


def test_special_counts_and_compare():
    ref = np.array([0.0, 1.0, np.nan, -np.inf, 0.0], np.float32)
    act = np.array([0.0, 1.0, np.nan, -np.inf, 1.0], np.float32)
    assert M.special_counts(ref) == {"nan": 1, "inf": 1, "zero": 2}
    m = M.compare(act, ref)
    assert m["reference"] == {"nan": 1, "inf": 1, "zero": 2}
    assert m["actual"] == {"nan": 1, "inf": 1, "zero": 1}
    assert m["nonfinite_mismatch"] == 0
    assert m["max_abs"] == 1.0 and m["max_ulp"] == 0x3F800000
    assert set(m) == {"max_abs", "mean_abs", "max_rel", "norm_max_abs", "max_ulp", "cosine", "snr_db",
                      "nonfinite_mismatch", "actual", "reference"}


def test_exceeds_goes_by_each_metrics_direction():
    m = M.compare(np.array([1.0, 2.1]), np.array([1.0, 2.0]))
    assert M.exceeds(m, "max_abs", 0.05) and not M.exceeds(m, "max_abs", 0.2)
    assert M.exceeds(m, "snr_db", 40.0) and not M.exceeds(m, "snr_db", 20.0)  # lower SNR is worse
    assert not M.exceeds(m, "cosine", 0.99)
    nan = M.compare(np.array([np.nan, 2.0]), np.array([1.0, 2.0]))
    assert M.exceeds(nan, "max_abs", 1e9)  # a NaN where the reference has a number always diverges


def test_bad_pairs_are_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        M.compare(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="cannot compare"):
        M.compare(np.array(["a"]), np.array(["a"]))
    assert M.max_ulp(np.zeros(2, ml_dtypes.float8_e8m0fnu), np.zeros(2, ml_dtypes.float8_e8m0fnu)) is None
