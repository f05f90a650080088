"""GPU kernels (im2col convolutions, strided max pooling, cuBLAS GEMMs), the namespace's host-data
rules and the host-read probe, each against the CPU or hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.cupy import probe
from arrayrt.backends.cupy.namespace import SMALL_HOST_ELEMENTS
from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.base import Attr, OpDef

import arrayrt as ar
import arrayrt.opset as ops

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
RNG = np.random.default_rng(3)


def _rand(*shape):
    return RNG.uniform(-1, 1, shape).astype(np.float32)


def _same_as_cpu(model, inputs, rtol=1e-5, atol=1e-5, config=F32):
    want = ar.Core().compile_model(model, "CPU", F32)(inputs)
    c = ar.Core().compile_model(model, "GPU", config)
    got = c(inputs)
    for i in range(len(c.outputs)):
        np.testing.assert_allclose(got[i], want[i], rtol=rtol, atol=atol)
    return c


def _exec_types(model):
    c = ar.Core().compile_model(model, "GPU", {**F32, "PERF_COUNT": True})
    return [r.exec_type for r in c._plan.records if r.status == "EXECUTED"]


CONVS = [  # x shape, w shape, strides, pads_begin, pads_end, dilations, auto_pad, grouped
    ((1, 3, 7, 7), (4, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], "explicit", False),
    ((2, 3, 9, 8), (5, 3, 3, 2), [2, 1], [0, 1], [1, 0], [1, 2], "explicit", False),
    ((2, 4, 6, 6), (6, 4, 1, 1), [1, 1], [0, 0], [0, 0], [1, 1], "explicit", False),
    ((1, 2, 7, 5), (3, 2, 3, 3), [2, 2], [0, 0], [0, 0], [1, 1], "same_upper", False),
    ((2, 6, 5, 5), (3, 2, 2, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], "explicit", True),
    ((1, 4, 6, 6), (4, 1, 1, 3, 3), [2, 2], [1, 1], [1, 1], [1, 1], "explicit", True),
    ((2, 3, 10), (4, 3, 3), [2], [1], [2], [2], "explicit", False),
    ((1, 2, 4, 5, 5), (3, 2, 2, 3, 3), [1, 2, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1], "explicit", False),
]


@pytest.mark.parametrize("case", CONVS, ids=[f"conv{i}" for i in range(len(CONVS))])
def test_im2col_convolutions_match_cpu(gpu, case):
    xs, ws, strides, pb, pe, dil, auto_pad, grouped = case
    x = ops.parameter(list(xs), np.float32, name="x")
    factory = ops.group_convolution if grouped else ops.convolution
    model = ar.Model([factory(x, _rand(*ws), strides, pb, pe, dil, auto_pad)], [x])
    _same_as_cpu(model, [_rand(*xs)])
    assert _exec_types(model) == ["cupy_im2col_gemm"]


def test_integer_convolution_keeps_the_generic_compute(gpu):
    x = ops.parameter([1, 2, 4, 4], np.int32, name="x")
    conv = ops.convolution(x, np.ones((1, 2, 2, 2), np.int32), [1, 1], [0, 0], [0, 0], [1, 1])
    model = ar.Model([conv], [x])
    _same_as_cpu(model, [np.arange(32, dtype=np.int32).reshape(1, 2, 4, 4)])
    assert _exec_types(model) == ["cupy_ref"]


POOLS = [  # x shape, kernel, strides, pads_begin, pads_end, dilations, rounding, auto_pad
    ((1, 2, 7, 7), [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], "floor", "explicit"),
    ((2, 3, 6, 5), [2, 3], [2, 2], [0, 0], [0, 0], [1, 1], "ceil", "explicit"),
    ((1, 1, 8, 8), [3, 3], [1, 1], [0, 0], [0, 0], [2, 2], "floor", "explicit"),
    ((1, 2, 5, 5), [3, 3], [2, 2], [0, 0], [0, 0], [1, 1], "floor", "same_upper"),
    ((1, 2, 9), [4], [3], [1], [2], [1], "ceil_torch", "explicit"),
]


@pytest.mark.parametrize("case", POOLS, ids=[f"pool{i}" for i in range(len(POOLS))])
def test_strided_max_pool_matches_cpu(gpu, case):
    xs, k, s, pb, pe, d, rounding, auto_pad = case
    x = ops.parameter(list(xs), np.float32, name="x")
    pool = ops.max_pool(x, s, d, pb, pe, k, rounding, auto_pad)
    model = ar.Model([pool.output(0)], [x])
    _same_as_cpu(model, [_rand(*xs)], rtol=0, atol=0)
    assert _exec_types(model) == ["cupy_strided_max_pool"]


def test_max_pool_nan_and_minus_inf_never_win(gpu):
    x = ops.parameter([1, 1, 2, 4], np.float32, name="x")
    model = ar.Model([ops.max_pool(x, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0)], [x])
    data = np.array([[[[np.nan, -np.inf, 1.0, np.nan], [-np.inf, np.nan, np.nan, 2.0]]]], np.float32)
    got = ar.Core().compile_model(model, "GPU", F32)([data])[0]
    lowest = np.finfo(np.float32).min
    np.testing.assert_array_equal(got, [[[[lowest, 2.0]]]])
    np.testing.assert_array_equal(got, ar.Core().compile_model(model, "CPU", F32)([data])[0])


def test_max_pool_whose_indices_are_read_keeps_the_generic_compute(gpu):
    x = ops.parameter([1, 2, 4, 4], np.float32, name="x")
    pool = ops.max_pool(x, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2])
    model = ar.Model([pool.output(0), pool.output(1)], [x])
    _same_as_cpu(model, [_rand(1, 2, 4, 4)], rtol=0, atol=0)
    assert _exec_types(model) == ["cupy_ref"]


@pytest.mark.parametrize("ta, tb, a, b", [
    (False, False, (3, 4), (4, 5)), (True, False, (4, 3), (4, 5)), (False, True, (2, 3, 4), (5, 4)),
    (True, True, (2, 1, 4, 3), (3, 5, 4)), (False, False, (2, 3, 4), (2, 4, 6))])
def test_gemms_match_cpu(gpu, ta, tb, a, b):
    x = ops.parameter(list(a), np.float32, name="x")
    model = ar.Model([ops.matmul(x, _rand(*b), ta, tb)], [x])
    _same_as_cpu(model, [_rand(*a)])
    assert _exec_types(model) == ["cupy_cublas_gemm"]


def test_vector_matmul_keeps_the_generic_compute(gpu):
    x = ops.parameter([4], np.float32, name="x")
    model = ar.Model([ops.matmul(x, _rand(4, 3), False, False)], [x])
    _same_as_cpu(model, [_rand(4)])
    assert _exec_types(model) == ["cupy_ref"]


# --- the namespace ---------------------------------------------------------------------------------
def test_scalars_are_device_fills_and_small_host_data_is_uploaded_once(gpu):
    xp = ar.backends.get_backend("cupy")().xp
    before = gpu.h2d
    s = xp.asarray(4.0, dtype=np.float16)
    assert s.dtype == np.float16 and s.shape == () and gpu.h2d == before
    assert xp.asarray(True).dtype == np.bool_ and xp.asarray(np.int32(3)).dtype == np.int32
    assert gpu.h2d == before
    first = xp.asarray([1, 2, 3], dtype=np.int64)
    again = xp.asarray(np.array([1, 2, 3], np.int64))
    assert gpu.h2d == before + 1  # one upload, then device copies of it
    again[0] = 7  # a copy: the cache is untouched
    np.testing.assert_array_equal(gpu.asnumpy(xp.asarray([1, 2, 3], dtype=np.int64)), [1, 2, 3])
    np.testing.assert_array_equal(gpu.asnumpy(first), [1, 2, 3])
    zero_d = xp.asarray(np.array(5, np.int64))
    assert zero_d.shape == ()
    big = np.zeros(SMALL_HOST_ELEMENTS + 1, np.float32)
    count = gpu.h2d
    xp.asarray(big)
    xp.asarray(big)
    assert gpu.h2d == count + 2  # large host data is not cached
    with pytest.raises(TypeError, match="cannot live on a GPU"):
        xp.asarray(np.array(["a"], dtype=object))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int32])
def test_clip_and_sign_are_sync_free_and_standard(gpu, dtype):
    """The namespace's clip/sign against numpy, without the boolean masks of array-api-compat's
    CuPy versions (the stand-in syncs on those, as CuPy does): no host read, even recording."""
    xp = ar.backends.get_backend("cupy")().xp
    host = np.array([[-120, -3, 0, 2, 100], [5, -1, 7, 1, -2]]).astype(dtype)
    if np.dtype(dtype).kind == "f":
        host[0, 2] = np.nan
    x = gpu.asarray(host)
    bound = gpu.asarray(np.array([-1, 0, -2, 1, 3], dtype))  # an array bound, broadcast
    reads = gpu.host_reads
    cases = [((-2, 4), np.clip(host, -2, 4)), ((None, 3), np.minimum(host, 3)), ((1, None), np.maximum(host, 1)),
             ((bound, None), np.maximum(host, bound.get()))]
    if np.dtype(dtype).kind == "i":  # Python int bounds beyond the type's range are no bound
        cases.append(((-1000, 1000), host))
    for (lo, hi), want in cases:
        got = xp.clip(x, lo, hi)
        assert got.dtype == dtype and got is not x
        np.testing.assert_array_equal(gpu.asnumpy(got), want.astype(dtype))
    want_sign = np.sign(host)
    np.testing.assert_array_equal(gpu.asnumpy(xp.sign(x)), want_sign)  # NaN stays NaN
    stream = gpu.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        xp.clip(x, -2, 4), xp.sign(x)
        stream.end_capture()
    assert gpu.host_reads == reads  # no synchronising read: no boolean mask
    with pytest.raises(RuntimeError, match="capturing"):  # what array-api-compat's clip would do
        with stream:
            stream.begin_capture()
            try:
                gpu.array_api.clip(x, -2, 4)
            finally:
                stream.end_capture()


def test_host_cache_is_per_device(gpu):
    xp = ar.backends.get_backend("cupy")().xp
    with gpu.cuda.Device(0):
        a = xp.asarray([1.0, 2.0])
    with gpu.cuda.Device(1):
        b = xp.asarray([1.0, 2.0])
    assert (a._dev, b._dev) == (0, 1)


# --- the probe -------------------------------------------------------------------------------------
def _node(out):
    return out.node if hasattr(out, "node") else out


@pytest.mark.parametrize("build, numpy_reads, sync_reads", [
    (lambda x, i: ops.reshape(x, ops.parameter([2], np.int64), False), {1}, set()),
    (lambda x, i: ops.topk(x, ops.parameter([], np.int64), 1, "max", "value"), set(), {1}),
    (lambda x, i: ops.topk(x, np.array(2, np.int64), 1, "max", "value"), set(), set()),
    (lambda x, i: ops.gather(x, i, np.array(0, np.int64)), set(), set()),
    (lambda x, i: ops.non_zero(i, "i64"), set(), {0}),
    (lambda x, i: ops.relu(x), set(), set()),
])
def test_probe_tells_numpy_reads_from_sync_reads(build, numpy_reads, sync_reads):
    x = ops.parameter([2, 6], np.float32)
    i = ops.parameter([2], np.int64)
    reads = probe.host_reads(_node(build(x, i)))
    assert (set(reads.numpy), set(reads.sync), reads.problem) == (numpy_reads, sync_reads, None)


class _Repeat(OpDef):
    """Test op: repeats input 0 along axis 0 the number of times input 1 holds, read on the host."""

    type_name, version, opset = "TestRepeat", 0, "test_internal"
    n_inputs = (2, 2)
    attrs = (Attr("count", "int"),)

    @classmethod
    def infer(cls, node):
        s = node.input_shape(0).to_shape()
        return [(node.input_type(0), ar.PartialShape([s[0] * node.attrs["count"], *s[1:]]))]

    @staticmethod
    def compute(xp, x, times, **_):
        return xp.concat([x] * as_int_tuple(times)[0], axis=0)


class _Mixer(_Repeat):
    """Test op: reads input 1 on the host, then also adds it on the device: no placement works."""

    type_name = "TestMixer"

    @staticmethod
    def compute(xp, x, times, **_):
        return xp.concat([x] * max(as_int_tuple(times)[0], 1), axis=0) + times


def test_a_constant_read_on_the_host_arrives_as_its_host_value(gpu):
    x = ops.parameter([2, 3], np.float32, name="x")
    node = Node(_Repeat, [x.output(0), ops.constant(np.array([3], np.int64)).output(0)], {"count": 3})
    model = ar.Model([node.output(0)], [x])
    assert probe.host_reads(node).numpy == {1}
    c = ar.Core().compile_model(model, "GPU", F32)
    data = _rand(2, 3)
    before = (gpu.d2h, gpu.host_reads)
    np.testing.assert_array_equal(c([data])[0], np.concatenate([data] * 3))
    assert (gpu.d2h - before[0], gpu.host_reads - before[1]) == (1, 0)  # the result only
    assert c._plan.fn.graph_status.startswith("captured")


def test_a_kernel_mixing_host_and_device_arrays_is_refused(gpu):
    x = ops.parameter([2, 3], np.float32, name="x")
    node = Node(_Mixer, [x.output(0), ops.parameter([1], np.int64).output(0)], {"count": 2})
    reason = ar.backends.get_backend("cupy")({"GPU_ENABLE_CUDA_GRAPH": False}).why_not(node)
    assert reason == "its kernel reads input 1 on the host and also computes with it on the device"
