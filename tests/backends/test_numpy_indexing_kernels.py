"""The numpy backend's indexing overrides (``backends/numpy/indexing_kernels.py``).

Each override must give the generic array-API compute's result to the bit on numpy (NaN payloads
aside: which of two NaNs an addition returns is up to the CPU), errors included. The tables compare
the two kernels of one node (``node.op.kernel(numpy, node)`` is the generic one) over shapes, dtypes,
reductions, repeated and negative indices and TopK ties. A few larger cases also go through a
compiled model against real OpenVINO (``check_op``), avoiding what the spec leaves open and where
OpenVINO's CPU plugin departs from its reference: repeated targets with reduction none (write
order), negative integer means (the plugin truncates, the spec rounds down), NaN in TopK, and TopK
sorted by index (or unsorted) with values equal to the k-th on a long axis (the plugin then keeps
other equal elements than the lower-indexed ones its reference keeps, stable or not).
"""
from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
import pytest
from arrayrt.backends.numpy import NumpyBackend
from arrayrt.backends.numpy import indexing_kernels as kernels
from arrayrt.ir.ops.factory import make

import arrayrt.opset as ops
from arrayrt.testing import check_op, rand

F16, F32, F64 = np.float16, np.float32, np.float64
I8, I32, I64, U8, BOOL = np.int8, np.int32, np.int64, np.uint8, np.bool_
DTYPES = [F32, F16, F64, I32, I64, I8, U8, BOOL]


def name(v) -> str:
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, (tuple, list)):
        return "(" + ",".join(name(x) for x in v) + ")"
    return str(v)


def values(shape, dtype, seed: int, special: bool = True) -> np.ndarray:
    """Random data with many equal values; floats also hold NaN, -0.0 and infinities when
    ``special``."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        return rng.integers(0 if dt.kind == "u" else -6, 6, shape).astype(dt)
    x = np.where(rng.random(shape) < 0.5, rng.integers(-4, 4, shape), rng.standard_normal(shape) * 3).astype(dt)
    if special and x.size:
        flat = x.reshape(-1)
        for v in (np.nan, -0.0, np.inf, -np.inf):
            flat[rng.integers(0, flat.size, max(1, flat.size // 16))] = v
    return x


def param(a: np.ndarray):
    return ops.parameter(list(a.shape), a.dtype)


def outcome(kernel, inputs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return kernel(*inputs)
    except Exception as exc:  # noqa: BLE001 - the generic compute's error is part of the contract
        return exc


def bits(a: np.ndarray) -> bytes:
    """The bytes of ``a`` with every NaN made the same NaN."""
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), np.array(np.nan, a.dtype), a)
    return a.tobytes()


def assert_identical(got, want) -> None:
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, f"{g.dtype}{g.shape} != {w.dtype}{w.shape}"
        assert bits(g) == bits(w), f"override:\n{g}\ngeneric:\n{w}"


def compare(node, inputs, error: type[Exception] | None = None):
    """Run the override and the generic kernel of ``node``; same result to the bit, or the same
    error (``error`` when given: the case must raise it)."""
    override = kernels.OVERRIDES[node.type_name](NumpyBackend(), node)
    assert override is not None
    snapshot = [np.array(a, copy=True) for a in inputs]
    got, want = outcome(override, inputs), outcome(node.op.kernel(np, node), inputs)
    for a, s in zip(inputs, snapshot):
        assert np.asarray(a).tobytes() == s.tobytes(), "an input was modified"
    if error is not None:
        assert isinstance(want, error), f"expected {error.__name__}, the generic compute gave {want!r}"
    if isinstance(want, Exception):
        assert type(got) is type(want) and str(got) == str(want), f"{got!r} != {want!r}"
    else:
        assert not isinstance(got, Exception), f"override raised {got!r}"
        assert_identical(got, want)
    return got


def read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@pytest.fixture
def partition_always(monkeypatch):
    """TopK takes the partition path on any size and k (small cases exercise its tie rules)."""
    monkeypatch.setattr(kernels, "PARTITION_MIN_SIZE", 0)
    monkeypatch.setattr(kernels, "PARTITION_MAX_FRACTION", 1.0)


def test_overrides_are_wired():
    for t in ("ScatterUpdate", "ScatterElementsUpdate", "ScatterNDUpdate", "TopK", "GatherND", "GatherElements"):
        assert NumpyBackend.overrides[t] is kernels.OVERRIDES[t]


# --- ScatterUpdate ------------------------------------------------------------------------------
# (data shape, indices, axis); repeated indices: the last write wins
SCATTER_UPDATE = [
    ((5,), [3, 0], 0),
    ((5,), [1, 3, 1, 1, 0], 0),
    ((3, 5), [[0, 4], [4, 2]], 1),
    ((4, 3), 2, 0),
    ((2, 3, 4), [2, 0, 2], -2),
    ((2, 3, 4), [[3, 3], [0, 3]], -1),
    ((2, 0, 3), [1, 1], 2),
    ((3, 2), np.zeros((0,), I64), 0),
]


@pytest.mark.parametrize("case", SCATTER_UPDATE, ids=name)
@pytest.mark.parametrize("dtype,index_type", [(F32, I32), (F16, I64), (I64, I32), (BOOL, I64), (U8, I32)], ids=name)
def test_scatter_update(case, dtype, index_type):
    shape, idx, axis = case
    idx = np.array(idx, index_type)
    a = axis % len(shape)
    data, upd = values(shape, dtype, 0), values(shape[:a] + idx.shape + shape[a + 1:], dtype, 1)
    node = ops.scatter_update(param(data), param(idx), param(upd), np.int64(axis))
    compare(node, [read_only(data), idx, upd, np.int64(axis)])


def test_scatter_update_last_write_wins():
    data, idx, upd = np.zeros(4, F32), np.array([2, 0, 2, 2], I32), np.array([1, 2, 3, 4], F32)
    got = compare(ops.scatter_update(param(data), param(idx), param(upd), np.int64(0)), [data, idx, upd, np.int64(0)])
    np.testing.assert_array_equal(got, [2, 0, 4, 0])


def test_scatter_update_runtime_axis():
    data, idx, upd = values((3, 4, 5), F32, 0), np.array([4, 1], I64), values((3, 4, 2), F32, 1)
    node = ops.scatter_update(param(data), param(idx), param(upd), ops.parameter([], I32))
    compare(node, [data, idx, upd, np.array(-1, I32)])


@pytest.mark.parametrize("bad", [-1, 3])
def test_scatter_update_rejects_index(bad):
    data, idx, upd = np.zeros((2, 3), F32), np.array([0, bad], I32), np.ones((2, 2), F32)
    node = ops.scatter_update(param(data), param(idx), param(upd), np.int64(1))
    compare(node, [data, idx, upd, np.int64(1)], error=IndexError)


def test_scatter_update_kv_cache():
    """The decoder pattern: one new position written into a [1, heads, length, dim] cache."""
    cache, pos, new = values((1, 4, 64, 8), F32, 0), np.array([17], I64), values((1, 4, 1, 8), F32, 1)
    node = ops.scatter_update(param(cache), param(pos), param(new), np.int64(2))
    got = compare(node, [read_only(cache), pos, new, np.int64(2)])
    assert np.shares_memory(got, cache) is False


# --- ScatterElementsUpdate ----------------------------------------------------------------------
# (data shape, indices shape, axis): indices drawn in [-n, n) along the axis, so targets repeat
SCATTER_ELEMENTS = [
    ((4,), (6,), 0),
    ((3, 4), (2, 2), 1),
    ((3, 4), (3, 4), 0),
    ((2, 3, 4), (2, 2, 5), 2),
    ((2, 3, 2), (1, 4, 2), -2),
    ((5, 6), (4, 6), -1),
    ((3,), (0,), 0),
]
REDUCTIONS = ["none", "sum", "prod", "min", "max", "mean"]


def elements_inputs(shape, ishape, axis, dtype, seed):
    n = shape[axis]
    idx = np.random.default_rng(seed).integers(-n, n, ishape).astype((I32, I64)[seed % 2])
    return [values(shape, dtype, seed), idx, values(ishape, dtype, seed + 1)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_init_val", [True, False])
@pytest.mark.parametrize("dtype", DTYPES, ids=name)
def test_scatter_elements_update(reduction, use_init_val, dtype):
    for seed, (shape, ishape, axis) in enumerate(SCATTER_ELEMENTS):
        inputs = elements_inputs(shape, ishape, axis, dtype, seed)
        p = [param(a) for a in inputs]
        if dtype is BOOL and reduction == "mean":
            p[0] = ops.parameter(list(shape), "dynamic")  # a dynamic element type gets past inference
        node = ops.scatter_elements_update(*p, np.int64(axis), reduction, use_init_val)
        compare(node, [read_only(inputs[0])] + inputs[1:] + [np.int64(axis)],
                error=ValueError if dtype is BOOL and reduction == "mean" and inputs[1].size else None)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_init_val", [True, False])
def test_scatter_elements_update_many_repeats(reduction, use_init_val):
    """Thousands of updates on a few hundred elements: float sums and means must round as the
    generic compute's (sequential, index order) accumulation does."""
    rng = np.random.default_rng(3)
    data = rng.standard_normal((20, 30)).astype(F32)
    idx = rng.integers(0, 20, (200, 30)).astype(I64)
    upd = rng.standard_normal((200, 30)).astype(F32)
    node = ops.scatter_elements_update(param(data), param(idx), param(upd), np.int64(0), reduction, use_init_val)
    compare(node, [data, idx, upd, np.int64(0)])


@pytest.mark.parametrize("dtype", [I32, I8, U8], ids=name)
def test_scatter_elements_update_integer_mean_rounds_down(dtype):
    data, idx, upd = np.array([5, 9], dtype), np.array([0, 0, 1], I32), np.array([2, 2, 4], dtype)
    node = ops.scatter_elements_update(param(data), param(idx), param(upd), np.int64(0), "mean", True)
    got = compare(node, [data, idx, upd, np.int64(0)])
    np.testing.assert_array_equal(got, [3, 6])
    neg = np.array([-2, 3], I32), np.array([0, 0, 1], I32), np.array([-2, 0, 2], I32)
    node = ops.scatter_elements_update(*map(param, neg), np.int64(0), "mean", True)
    np.testing.assert_array_equal(compare(node, [*neg, np.int64(0)]), [-2, 2])


def test_scatter_elements_update_runtime_axis_and_version_3():
    inputs = elements_inputs((3, 4, 5), (3, 2, 5), 1, F32, 4)
    node = ops.scatter_elements_update(*map(param, inputs), ops.parameter([1], I64), "sum", False)
    compare(node, inputs + [np.array([-2], I64)])
    node3 = make("ScatterElementsUpdate", [*map(param, inputs), np.int64(1)], version="opset3")
    compare(node3, inputs + [np.int64(1)])


@pytest.mark.parametrize("bad", [-5, 4])
def test_scatter_elements_update_rejects_index(bad):
    data, idx, upd = np.zeros((2, 4), F32), np.array([[0, bad]], I32), np.ones((1, 2), F32)
    node = ops.scatter_elements_update(param(data), param(idx), param(upd), np.int64(1), "sum")
    compare(node, [data, idx, upd, np.int64(1)], error=IndexError)


def test_scatter_elements_update_ml_dtypes_use_the_generic_compute():
    bf16 = np.dtype(ml_dtypes.bfloat16)
    data, idx, upd = np.arange(6).astype(bf16), np.array([1, 1, 4], I32), np.ones(3, bf16)
    compare(ops.scatter_elements_update(param(data), param(idx), param(upd), np.int64(0), "sum"),
            [data, idx, upd, np.int64(0)])


# --- ScatterNDUpdate ----------------------------------------------------------------------------
# (data shape, indices shape): indices drawn in [-dim, dim), so tuples repeat
SCATTER_ND = [
    ((8,), (6, 1)),
    ((4,), (5, 1)),
    ((4, 4, 4), (2, 1)),
    ((3, 4), (3, 2)),
    ((2, 3, 4), (2, 2, 2)),
    ((2, 3, 4), (2, 3)),
    ((3, 2), (2, 0)),
    ((40, 3), (100, 1)),
    ((6, 5), (60, 1)),
    ((5, 2), (0, 1)),
]
REDUCTIONS_ND = ["none", "sum", "sub", "prod", "min", "max"]


def nd_inputs(shape, ishape, dtype, seed):
    rng = np.random.default_rng(seed)
    k = ishape[-1]
    cols = [rng.integers(-shape[j], shape[j], ishape[:-1]) for j in range(k)]
    idx = (np.stack(cols, axis=-1) if cols else np.zeros(ishape)).astype((I32, I64)[seed % 2])
    return [values(shape, dtype, seed), idx, values(ishape[:-1] + shape[k:], dtype, seed + 1)]


@pytest.mark.parametrize("reduction", REDUCTIONS_ND)
@pytest.mark.parametrize("dtype", DTYPES, ids=name)
def test_scatter_nd_update(reduction, dtype):
    for seed, (shape, ishape) in enumerate(SCATTER_ND):
        inputs = nd_inputs(shape, ishape, dtype, seed)
        compare(ops.scatter_nd_update(*map(param, inputs), reduction), [read_only(inputs[0])] + inputs[1:])


@pytest.mark.parametrize("reduction", REDUCTIONS_ND)
@pytest.mark.parametrize("n_rows", [50, 400], ids=["few-targets", "many-targets"])
def test_scatter_nd_update_repeated_rows(reduction, n_rows):
    """Row updates with repeats: in rounds when each target has few updates, by ``ufunc.at``
    when few targets share many."""
    rng = np.random.default_rng(5)
    data = rng.standard_normal((n_rows, 16)).astype(F32)
    idx = rng.integers(-n_rows, n_rows, (300, 1)).astype(I64) if n_rows > 50 else rng.integers(0, 3, (300, 1))
    upd = rng.standard_normal((300, 16)).astype(F32)
    compare(ops.scatter_nd_update(param(data), param(idx), param(upd), reduction), [data, idx, upd])


def test_scatter_nd_update_version_3_last_write_wins():
    data, idx, upd = np.array([1, 2, 3, 4], F32), np.array([[0], [2], [-3], [-3], [0]], I32), \
        np.array([10, 20, 30, 40, 50], F32)
    node = make("ScatterNDUpdate", [param(data), param(idx), param(upd)], version="opset4")
    np.testing.assert_array_equal(compare(node, [data, idx, upd]), [50, 40, 20, 4])


@pytest.mark.parametrize("bad", [[1, 3], [-3, 0]])
def test_scatter_nd_update_rejects_index(bad):
    data, idx, upd = np.zeros((2, 3), F32), np.array([[0, 0], bad], I32), np.ones(2, F32)
    compare(ops.scatter_nd_update(param(data), param(idx), param(upd), "sum"), [data, idx, upd], error=IndexError)


# --- GatherElements, GatherND -------------------------------------------------------------------
GATHER_ELEMENTS = [((3,), (5,), 0), ((3, 4), (3, 6), 1), ((3, 4), (2, 4), 0), ((2, 3, 4), (2, 3, 2), -1)]


@pytest.mark.parametrize("case", GATHER_ELEMENTS, ids=name)
@pytest.mark.parametrize("dtype", [F32, I64, BOOL, F16], ids=name)
@pytest.mark.parametrize("spill", [0, 1], ids=["in-range", "out-of-range"])
def test_gather_elements(case, dtype, spill):
    shape, ishape, axis = case
    n = shape[axis]
    idx = np.random.default_rng(6).integers(-n - spill, n + spill, ishape).astype(I32)
    if spill:
        idx.reshape(-1)[0] = n
    data = values(shape, dtype, 0)
    compare(ops.gather_elements(param(data), param(idx), axis), [data, idx])


# (data shape, indices shape, batch_dims)
GATHER_ND = [
    ((2, 2), (2, 2), 0),
    ((2, 3, 4), (5, 1), 0),
    ((2, 3, 4), (2, 3, 3), 0),
    ((2, 3, 4), (2, 1), 1),
    ((2, 3, 4), (2, 3, 4, 1), 2),
    ((2, 3, 4, 2), (2, 2, 2), 1),
    ((3, 4), (3, 0), 0),
]


@pytest.mark.parametrize("case", GATHER_ND, ids=name)
@pytest.mark.parametrize("opset", ["opset5", "opset8"])
@pytest.mark.parametrize("spill", [0, 1], ids=["in-range", "out-of-range"])
def test_gather_nd(case, opset, spill):
    """Out of range tuples give zeros: the override hands them to the generic compute."""
    shape, ishape, b = case
    rng = np.random.default_rng(7)
    k = ishape[-1]
    cols = [rng.integers(-shape[b + j] - spill, shape[b + j] + spill, ishape[:-1]) for j in range(k)]
    idx = (np.stack(cols, axis=-1) if cols else np.zeros(ishape)).astype(I64)
    data = values(shape, F32, 0)
    node = make("GatherND", [param(data), param(idx)], {"batch_dims": b}, version=opset)
    compare(node, [data, idx])


# --- TopK ---------------------------------------------------------------------------------------
TOPK = [((6,), 0), ((3, 7), 1), ((4, 5), 0), ((2, 3, 9), -1), ((2, 8, 3), 1), ((12, 1), 0)]


@pytest.mark.usefixtures("partition_always")
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("sort", ["value", "index", "none"])
@pytest.mark.parametrize("dtype", [F32, F16, F64, I32, I8, U8, BOOL], ids=name)
def test_topk(mode, sort, dtype):
    """Every k of every case, ties everywhere (small integers), NaN, -0.0 and infinities."""
    for seed, (shape, axis) in enumerate(TOPK):
        x = values(shape, dtype, seed)
        for k in range(shape[axis] + 1):
            node = ops.topk(param(x), np.int64(k), axis, mode, sort, ("i32", "i64")[k % 2])
            compare(node, [x, np.int64(k)])


@pytest.mark.usefixtures("partition_always")
@pytest.mark.parametrize("mode", ["max", "min"])
def test_topk_nan_and_ties_across_the_kth_value(mode):
    """Rows where the k-th value is NaN, or a value held by more elements than there are places."""
    x = np.array([[np.nan, 1, np.nan, 2, np.nan, 1],
                  [3, 3, 3, 3, 3, 3],
                  [0.0, -0.0, 0.0, -1, -0.0, 1],
                  [np.nan, np.nan, np.nan, np.nan, np.nan, 5]], F32)
    for k in range(1, 6):
        compare(ops.topk(param(x), np.int64(k), 1, mode, "value", "i32", True), [x, np.int64(k)])
        compare(ops.topk(param(x), np.int64(k), 0, mode, "index", "i64"), [x.T.copy(), np.int64(k)])


@pytest.mark.parametrize("mode,sort", [("max", "value"), ("min", "index"), ("max", "none")])
@pytest.mark.parametrize("axis", [1, 0])
def test_topk_large_takes_the_partition_path(mode, sort, axis, monkeypatch):
    calls = []
    partition = kernels._topk_last
    monkeypatch.setattr(kernels, "_topk_last", lambda *a: calls.append(1) or partition(*a))
    x = values((8, 1024) if axis == 1 else (1024, 8), F32, 9)
    compare(ops.topk(param(x), np.int64(5), axis, mode, sort), [x, np.int64(5)])
    assert calls, "the partition path was not taken"
    xi = values((4, 2048), I32, 10)  # values in [-6, 6): ties across the k-th value on every row
    compare(ops.topk(param(xi), np.int64(100), 1, mode, sort, "i64"), [xi, np.int64(100)])


@pytest.mark.usefixtures("partition_always")
@pytest.mark.parametrize("opset", ["opset1", "opset3"])
def test_topk_old_versions_and_runtime_k(opset):
    x = values((5, 6), F32, 11)
    node = make("TopK", [param(x), np.int64(3)], {"axis": 1, "mode": "min", "sort": "value"}, version=opset)
    compare(node, [x, np.int64(3)])
    node = ops.topk(param(x), ops.parameter([], I32), 0, "max", "index")
    for k in (0, 2, 5):
        compare(node, [x, np.array(k, I32)])
    compare(node, [x, np.array(6, I32)], error=ValueError)


def test_topk_ml_dtypes_use_the_generic_compute(partition_always):
    x = values((3, 5), F32, 12, special=False).astype(ml_dtypes.bfloat16)
    compare(ops.topk(param(x), np.int64(2), 1, "max", "value"), [x, np.int64(2)])


# --- against OpenVINO ---------------------------------------------------------------------------
def test_openvino_scatter_update_kv_cache():
    cache, pos, new = rand((1, 4, 64, 8)), np.array([63], I64), rand((1, 4, 1, 8), seed=1)
    check_op(lambda o, c, p, n: o.scatter_update(c, p, n, np.int64(2)), [cache, pos, new])


@pytest.mark.parametrize("reduction,use_init_val", [("sum", True), ("sum", False), ("prod", True), ("min", False),
                                                    ("max", True), ("mean", True), ("mean", False)])
def test_openvino_scatter_elements_update(reduction, use_init_val):
    """Repeated targets; integer data non-negative (negative integer means: see the module doc)."""
    rng = np.random.default_rng(13)
    for dtype in (F32, I32):
        data = rand((30, 20), dtype, seed=1, low=0, high=9)
        idx = rng.integers(-30, 30, (60, 20)).astype(I32)
        upd = rand((60, 20), dtype, seed=2, low=0 if dtype is I32 else -2, high=3)
        check_op(lambda o, d, i, u: o.scatter_elements_update(d, i, u, np.int64(0), reduction, use_init_val),
                 [data, idx, upd], rtol=1e-4, atol=1e-5)


def test_openvino_scatter_elements_update_none():
    data = rand((30, 20))
    idx = np.stack([np.random.default_rng(c).permutation(30)[:12] for c in range(20)], axis=1).astype(I64)
    check_op(lambda o, d, i, u: o.scatter_elements_update(d, i, u, np.int64(0)), [data, idx - 30, rand((12, 20))])


@pytest.mark.parametrize("reduction", REDUCTIONS_ND)
def test_openvino_scatter_nd_update(reduction):
    rng = np.random.default_rng(14)
    data = rand((50, 16), seed=3)
    idx = (rng.permutation(50)[:20] if reduction == "none" else rng.integers(-50, 50, 120)).reshape(-1, 1)
    upd = rand((idx.shape[0], 16), seed=4, low=-1.5, high=1.5)
    check_op(lambda o, d, i, u: o.scatter_nd_update(d, i, u, reduction), [data, idx.astype(I32), upd],
             rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode,sort", [("max", "value"), ("min", "value"), ("max", "index"), ("min", "index"),
                                       ("max", "none")])
def test_openvino_topk(mode, sort):
    """Large enough for the partition path. Sorted by value (stable), integer-valued floats tie on
    every row; sorted by index or not at all, values are distinct (see the module doc)."""
    rng = np.random.default_rng(15)
    if sort == "value":
        x = rng.integers(-20, 20, (6, 1024)).astype(F32)
    else:
        x = rng.permutation(6 * 1024).reshape(6, 1024).astype(F32)
    stable = sort != "none"
    check_op(lambda o, d: o.topk(d, np.int64(37), 1, mode, sort, "i32", stable).outputs(), [x])
    check_op(lambda o, d: o.topk(d, np.int64(9), 0, mode, sort, "i64", stable).outputs(), [x.T.copy()])


def test_openvino_gathers():
    data = rand((6, 7, 5))
    idx = np.random.default_rng(16).integers(-6, 6, (40, 2)).astype(I32)
    check_op(lambda o, d, i: o.gather_nd(d, i), [data, idx % np.array([6, 7], I32) - np.array([0, 7], I32)])
    eidx = np.random.default_rng(17).integers(-7, 7, (6, 9, 5)).astype(I64)
    check_op(lambda o, d, i: o.gather_elements(d, i, 1), [data, eidx])
