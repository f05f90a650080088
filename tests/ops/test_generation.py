"""Generation ops (Eye, RandomUniform, Multinomial, BitCast) against real OpenVINO or hand-computed
values, on every test backend."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

import arrayrt
import arrayrt.opset as aops
from arrayrt.errors import ArrayrtError
from arrayrt.testing import check_op, rand, run_arrayrt

# --- Eye --------------------------------------------------------------------------------------

EYE_CASES = [(3, 3, 0, None), (3, 5, 1, None), (4, 2, -1, None), (2, 3, 7, None), (3, 4, -2, [2]),
             (2, 2, 0, [2, 3]), (0, 3, 0, None)]


@pytest.mark.parametrize("rows, cols, k, batch", EYE_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["f32", "i32", "boolean"])
def test_eye_constant_inputs(rows, cols, k, batch, dtype, backend):
    def build(ops):
        extra = [] if batch is None else [ops.constant(np.array(batch, np.int64))]
        return ops.eye(ops.constant(np.int64(rows)), ops.constant(np.int64(cols)), ops.constant(np.int64(k)),
                       dtype, *extra)

    check_op(build, [], backend)


def test_eye_runtime_inputs(backend):
    """Sizes known only at run time (i32 inputs): a dynamic output shape."""
    check_op(lambda ops, r, c, k, b: ops.eye(r, c, k, "f16", b),
             [np.array(3, np.int32), np.array(4, np.int32), np.array(1, np.int32), np.array([2], np.int32)],
             backend)


def test_eye_shape_inference():
    r = aops.parameter([], np.int64)
    e = aops.eye(r, aops.constant(np.int64(4)), aops.constant(np.int64(0)), "f32",
                 aops.constant(np.array([2, 5], np.int64)))
    assert e.output(0).get_partial_shape() == PartialShape("[2,5,?,4]")
    b = aops.parameter([3], np.int64)
    e = aops.eye(aops.constant(np.int64(2)), aops.constant(np.int64(2)), aops.constant(np.int64(0)), "f32", b)
    assert e.output(0).get_partial_shape() == PartialShape("[?,?,?,2,2]")


@pytest.mark.parametrize("make_bad, message", [
    (lambda: aops.eye(aops.constant(np.float32(2)), aops.constant(np.int64(2)),
                      aops.constant(np.int64(0)), "f32"), "num_rows"),
    (lambda: aops.eye(aops.constant(np.int64(-1)), aops.constant(np.int64(2)),
                      aops.constant(np.int64(0)), "f32"), ">= 0"),
    (lambda: aops.eye(aops.constant(np.int64(2)), aops.constant(np.array([2, 3], np.int64)),
                      aops.constant(np.int64(0)), "f32"), "num_columns"),
    (lambda: aops.eye(aops.constant(np.int64(2)), aops.constant(np.int64(2)),
                      aops.constant(np.int64(0)), "string"), "output_type"),
])
def test_eye_errors(make_bad, message):
    with pytest.raises(ArrayrtError, match=message):
        make_bad()


# --- RandomUniform ------------------------------------------------------------------------------


def _philox_block(key: int, n: int, counter: int) -> list[int]:
    """Philox-4x32-10 on one block, written out scalar by scalar (an independent reference)."""
    m32 = 0xFFFFFFFF
    x = [n & m32, n >> 32, counter & m32, counter >> 32]
    k = [key & m32, key >> 32]
    for r in range(10):
        p0, p1 = 0xD2511F53 * x[0], 0xCD9E8D57 * x[2]
        x = [(p1 >> 32) ^ x[1] ^ k[0], p1 & m32, (p0 >> 32) ^ x[3] ^ k[1], p0 & m32]
        k = [(k[0] + 0x9E3779B9) & m32, (k[1] + 0xBB67AE85) & m32]
    return x


def _expected_uniform(count: int, t: str, lo, hi, g: int, o: int) -> np.ndarray:
    """OpenVINO's reference RandomUniform (tensorflow alignment), value by value."""
    words = [w for b in range(count) for w in _philox_block(g, b, o)]
    if t == "f64":
        vals = [(((words[2 * i] & 0xFFFFF) << 32) | words[2 * i + 1]) / 2.0**52 * (hi - lo) + lo
                for i in range(count)]
        return np.array(vals, np.float64)
    if t == "i64":
        return np.array([(((words[2 * i + 1] << 32) | words[2 * i]) % (hi - lo)) + lo for i in range(count)],
                        np.int64)
    if t == "i32":
        return np.array([w % (hi - lo) + lo for w in words[:count]], np.int32)
    bits = {"f32": 23, "f16": 10, "bf16": 7}[t]
    unit = np.array([w & ((1 << bits) - 1) for w in words[:count]], np.float32) / np.float32(2**bits)
    return (unit * np.float32(hi - lo) + np.float32(lo)).astype(Type(t).to_dtype())


def _uniform(ops, shape, lo, hi, t, g, o):
    dt = Type(t).to_dtype()
    return ops.random_uniform(ops.constant(np.array(shape, np.int64)), ops.constant(np.array(lo, dt)),
                              ops.constant(np.array(hi, dt)), t, g, o)


@pytest.mark.parametrize("t, lo, hi", [("f32", 0.0, 1.0), ("i32", -5, 100), ("i32", 0, 7)])
@pytest.mark.parametrize("seeds", [(150, 10), (0, 3), (7, 0), (2**40 + 5, 2**33 + 9)], ids=str)
def test_random_uniform_bit_exact(t, lo, hi, seeds, backend):
    """f32 in [0, 1) and i32 match OpenVINO's CPU plugin exactly."""
    check_op(lambda ops: _uniform(ops, [3, 7], lo, hi, t, *seeds), [], backend, rtol=0, atol=0)


def test_random_uniform_range(backend):
    """A scaled f32 range: equal to OpenVINO up to its fused multiply-add."""
    check_op(lambda ops: _uniform(ops, [4, 5], -2.5, 7.0, "f32", 3, 4), [], backend, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("t, lo, hi", [("f32", -3.0, 5.0), ("f16", 0.0, 1.0), ("f16", -1.0, 3.0),
                                       ("bf16", 0.0, 2.0), ("f64", 0.0, 1.0), ("f64", -4.0, 4.0),
                                       ("i64", -50, 1000), ("i32", 10, 11)])
def test_random_uniform_reference(t, lo, hi, backend):
    """Against OpenVINO's reference algorithm written out. (Its CPU plugin computes f16, bf16 and f64
    as f32 values and i64 as i32 values, which the op spec does not describe.)"""
    want = _expected_uniform(13, t, lo, hi, 150, 10).reshape(13, 1)
    check_op(lambda ops: _uniform(ops, [13, 1], lo, hi, t, 150, 10), [], backend, expected=[want],
             rtol=1e-6 if t == "f32" else 0, atol=0)


def test_random_uniform_runtime_shape(backend):
    """The shape from a Parameter: dynamic shape inference, same numbers as a constant shape."""
    def build(ops, shape):
        return ops.random_uniform(shape, ops.constant(np.float32(0)), ops.constant(np.float32(1)), "f32", 4, 5)

    got = check_op(build, [np.array([2, 3], np.int32)], backend, rtol=0, atol=0)
    p = aops.parameter([2], np.int32)
    assert build(aops, p).output(0).get_partial_shape() == PartialShape("[?,?]")
    np.testing.assert_array_equal(got[0].ravel(), _expected_uniform(6, "f32", 0.0, 1.0, 4, 5))


def test_random_uniform_repeatable_and_unseeded():
    """Seeded: the same numbers on every call. Seeds 0 and 0: fresh numbers on every call."""
    def run(g, o):
        m = arrayrt.Model([_uniform(aops, [64], 0.0, 1.0, "f32", g, o)], [], "u")
        c = arrayrt.Core().compile_model(m, "CPU")
        return np.asarray(c({})[0]), np.asarray(c({})[0])

    a, b = run(1, 2)
    np.testing.assert_array_equal(a, b)
    a, b = run(0, 0)
    assert not np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < 1


@pytest.mark.parametrize("make_bad, message", [
    (lambda: _uniform(aops, [2], 1.0, 1.0, "f32", 1, 1), "less than"),
    (lambda: _uniform(aops, [2], 0, 1, "i8", 1, 1), "output_type"),
    (lambda: aops.random_uniform(aops.constant(np.array([2], np.int64)), aops.constant(np.float16(0)),
                                 aops.constant(np.float16(1)), "f32"), "output type"),
    (lambda: aops.random_uniform(aops.constant(np.array([2.0], np.float32)), aops.constant(np.float32(0)),
                                 aops.constant(np.float32(1)), "f32"), "output_shape"),
    (lambda: _uniform(aops, [2], 0.0, 1.0, "f32", -1, 1), "global_seed"),
])
def test_random_uniform_errors(make_bad, message):
    with pytest.raises(ArrayrtError, match=message):
        make_bad()


# --- Multinomial ------------------------------------------------------------------------------


def _multinomial(ops, probs, n, t="i64", replace=True, log=False, seeds=(1, 2)):
    return ops.multinomial(probs, ops.constant(np.int64(n)), t, replace, log, *seeds)


@pytest.mark.parametrize("t", ["i32", "i64"])
def test_multinomial_certain_outcomes(t, backend):
    """Rows with one possible class: the same values as OpenVINO whatever the draws."""
    probs = np.array([[0, 0, 1], [1, 0, 0], [0, 5, 0]], np.float32)
    check_op(lambda ops, p: _multinomial(ops, p, 4, t), [probs], backend)


def test_multinomial_log_probs(backend):
    """log_probs with -inf for impossible classes."""
    logp = np.array([[-np.inf, 0.0, -np.inf], [3.0, -np.inf, -np.inf]], np.float32)
    check_op(lambda ops, p: _multinomial(ops, p, 5, log=True), [logp], backend)


def test_multinomial_without_replacement(backend):
    """Drawing every class without replacement gives a permutation of them in each row."""
    probs = rand((4, 6), np.float32, seed=3, low=0.1, high=1.0)
    (got,) = run_arrayrt(arrayrt.Model([_multinomial(aops, aops.constant(probs), 6, replace=False)], [], "m"),
                         [], backend)
    assert got.shape == (4, 6) and got.dtype == np.int64
    for row in got:
        assert sorted(row.tolist()) == list(range(6))


def test_multinomial_frequencies():
    """Sample frequencies follow the probabilities."""
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], np.float64)
    logp = np.log(p, where=p > 0, out=np.full_like(p, -np.inf))
    model = arrayrt.Model([_multinomial(aops, aops.constant(logp), 4000, log=True)], [], "m")
    (got,) = run_arrayrt(model, [])
    for row, want in zip(got, p):
        freq = np.bincount(row, minlength=3) / row.size
        np.testing.assert_allclose(freq, want, atol=0.03)


def test_multinomial_shapes():
    p = aops.parameter([-1, 5], np.float32)
    m = _multinomial(aops, p, 3, "i32")
    assert m.output(0).get_partial_shape() == PartialShape("[?,3]")
    assert m.output(0).get_element_type() is Type.i32
    m = aops.multinomial(p, aops.parameter([], np.int64), "i64", True, False)
    assert m.output(0).get_partial_shape() == PartialShape("[?,?]")
    with pytest.raises(ArrayrtError, match="without replacement"):
        _multinomial(aops, aops.constant(np.ones((2, 3), np.float32)), 4, replace=False)
    with pytest.raises(ArrayrtError, match="convert_type"):
        _multinomial(aops, p, 3, "f32")
    with pytest.raises(ArrayrtError, match="2-D"):
        _multinomial(aops, aops.parameter([5], np.float32), 3)


# --- BitCast (arrayrt extension) ------------------------------------------------------------------

BITCASTS = [(np.float32, np.int32), (np.int32, np.float32), (np.float64, np.int64), (np.uint16, np.int16),
            (np.int8, np.uint8), (np.bool_, np.uint8), (np.float16, np.uint16),
            (ml_dtypes.bfloat16, np.int16)]


@pytest.mark.parametrize("src, dst", BITCASTS, ids=lambda t: np.dtype(t).name)
def test_bit_cast(src, dst, backend):
    x = np.array([[0, 1.5, -2], [np.inf, 3, -0.0]]).astype(src) if np.dtype(src).kind == "f" else \
        rand((2, 3), src, seed=1, low=-100, high=100)
    check_op(lambda ops, a: ops.bit_cast(a, Type(dst).name), [x], backend, expected=[x.view(dst)])


def test_bit_cast_errors():
    with pytest.raises(ArrayrtError, match="bit width"):
        aops.bit_cast(aops.parameter([2], np.float32), "i64")
    with pytest.raises(ArrayrtError, match="destination_type"):
        aops.bit_cast(aops.parameter([2], np.float32), "string")
