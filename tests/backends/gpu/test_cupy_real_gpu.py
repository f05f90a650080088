"""The GPU device on real CuPy and a real CUDA device: what the fake CuPy cannot show (cuBLAS,
``cupy.fuse``, stream capture and graph replay on the driver, DLPack from torch). Every test skips,
with the reason, where CuPy or a CUDA device is absent."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt import backends
from arrayrt.testing import models as M


def _real_cupy():
    try:
        cp = importlib.import_module("cupy")
    except ImportError as exc:
        pytest.skip(f"CuPy is not installed ({exc}); pip install arrayrt[gpu]")
    if not hasattr(cp, "cuda"):
        pytest.skip("CuPy is not installed (an unrelated folder named cupy is on sys.path)")
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no driver, no device
        pytest.skip(f"no CUDA device: {type(exc).__name__}: {exc}")
    if count < 1:
        pytest.skip("no CUDA device")
    return cp


@pytest.fixture
def cp():
    cupy = _real_cupy()
    backends.refresh()
    if backends.backend_class("cupy") is None:
        pytest.fail(f"CuPy sees a CUDA device but the GPU backend is absent: {backends.errors.get('cupy')}")
    yield cupy
    backends.refresh()


F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _outputs(c, inputs):
    res = c(inputs)
    return [np.asarray(res[i]) for i in range(len(c.outputs))]


@pytest.mark.parametrize("name", list(M.INTEROP_MODELS))
def test_interop_models_match_cpu(cp, name):
    model = M.make_model(ops, M.INTEROP_MODELS[name], name)
    inputs = M.sample_inputs(model)
    want = _outputs(ar.Core().compile_model(model, "CPU", F32), inputs)
    c = ar.Core().compile_model(model, "GPU", F32)
    status = c._plan.fn.graph_status
    assert status.startswith("captured"), status
    for _ in range(3):  # the first call was recorded at compile time: these are replays
        for g, w in zip(_outputs(c, inputs), want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    assert c._plan.fn.replays >= 3


def test_replays_follow_new_inputs(cp):
    model = M.make_model(ops, M.INTEROP_MODELS["resnet_block"], "resnet_block")
    c = ar.Core().compile_model(model, "GPU", F32)
    cpu = ar.Core().compile_model(model, "CPU", F32)
    for seed in range(3):
        inputs = M.sample_inputs(model, seed=seed)
        np.testing.assert_allclose(_outputs(c, inputs)[0], _outputs(cpu, inputs)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, kw", [("resnet18", {"size": 64}), ("bert_tiny", {"seq": 32})])
def test_benchmark_models_f32_and_f16(cp, name, kw):
    model = M.make_model(ops, M.BENCHMARK_MODELS[name], name, **kw)
    inputs = M.sample_inputs(model)
    want = _outputs(ar.Core().compile_model(model, "CPU", F32), inputs)
    for g, w in zip(_outputs(ar.Core().compile_model(model, "GPU", F32), inputs), want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    for g, w in zip(_outputs(ar.Core().compile_model(model, "GPU"), inputs), want):
        assert float(np.abs(g - w).max()) <= 2e-2 * float(np.abs(w).max()) + 1e-3


def test_device_inputs_and_outputs_stay_on_the_device(cp):
    x = ops.parameter([4, 16], np.float32, name="x")
    w = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    model = ar.Model([ops.relu(ops.add(ops.matmul(x, w, False, False), np.ones(8, np.float32)))], [x])
    c = ar.Core().compile_model(model, "GPU", {**F32, "KEEP_ON_DEVICE": True})
    data = cp.asarray(np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32))
    assert c._plan.backend.to_device(data) is data
    out = c([data])[0].data
    assert isinstance(out, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(out), np.maximum(cp.asnumpy(data) @ w + 1, 0), rtol=1e-5, atol=1e-5)


def test_torch_tensors_arrive_through_dlpack_without_a_copy(cp):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    backend = ar.backends.get_backend("cupy")()
    t = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4)
    imported = backend.to_device(t)
    assert isinstance(imported, cp.ndarray) and imported.data.ptr == t.data_ptr()


def test_concurrent_requests_use_several_streams(cp):
    model = M.make_model(ops, M.INTEROP_MODELS["transformer_block"], "transformer_block")
    c = ar.Core().compile_model(model, "GPU", {**F32, "PERFORMANCE_HINT": "THROUGHPUT"})
    inputs = M.sample_inputs(model)
    want = _outputs(ar.Core().compile_model(model, "CPU", F32), inputs)
    queue = ar.AsyncInferQueue(c, 4)
    results: dict[int, np.ndarray] = {}
    queue.set_callback(lambda req, i: results.__setitem__(i, np.asarray(req.results[0])))
    for i in range(16):
        queue.start_async(inputs, userdata=i)
    queue.wait_all()
    assert len(results) == 16 and c._plan.fn.streams >= 2
    for r in results.values():
        np.testing.assert_allclose(r, want[0], rtol=1e-4, atol=1e-4)


def test_memory_pool_limit_reaches_cupy(cp):
    pool = cp.get_default_memory_pool()
    before = pool.get_limit()
    try:
        x = ops.parameter([2], np.float32, name="x")
        ar.Core().compile_model(ar.Model([ops.relu(x)], [x]), "GPU", {"GPU_MEMORY_POOL_LIMIT": "1GiB"})
        assert pool.get_limit() == 2**30
    finally:
        pool.set_limit(size=before)


@pytest.mark.parametrize("hint", ["f32", "f16"])
def test_fused_tails_compile_with_cupy_fuse(cp, hint):
    """f16: the Gelu computes in f32 inside the fused kernel (astype under cupy.fuse)."""
    x = ops.parameter([8, 32], np.float32, name="x")
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((32, 16)).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    model = ar.Model([ops.gelu(ops.add(ops.matmul(x, w, False, False), b), "erf")], [x])
    c = ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint})
    data = rng.standard_normal((8, 32)).astype(np.float32)
    want = _outputs(ar.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint}), [data])[0]
    tol = 1e-5 if hint == "f32" else 2e-2
    np.testing.assert_allclose(_outputs(c, [data])[0], want, rtol=tol, atol=tol)
    cells = [cell.cell_contents for cell in c._plan.fn._run.__closure__]
    fused = [k for k in cells if hasattr(getattr(k, "kernel", None), "tail_is_fused")]
    assert len(fused) == 1 and fused[0].kernel.tail_is_fused(), "cupy.fuse refused the tail"


def _cudnn_backend():
    from arrayrt.backends.cupy import cudnn as binding

    backend = ar.backends.get_backend("cupy")()
    if backend.cudnn is None:
        from pathlib import Path

        files = [c for c in binding.candidates() if Path(c).is_file()]
        if files:  # a cuDNN wheel is installed (torch and jax bring one): it must load
            pytest.fail(f"cuDNN is installed ({files[0]}) but did not load: {binding.load_error}")
        pytest.skip(f"no cuDNN here ({binding.load_error}): convolutions use im2col + cuBLAS")
    test = getattr(backend.cudnn, "self_test", None)
    if test is not None:
        with backend.cuda_device:
            problem = test()
        if problem is not None:
            pytest.fail(f"{backend.cudnn!r} loads but failed its self-test: {problem}")
    return backend


CUDNN_CASES = {  # x shape, filters, strides, pads_begin, pads_end, dilations, grouped
    "asymmetric_pads_stride2": ((2, 3, 9, 9), (4, 3, 3, 3), [2, 2], [1, 0], [0, 1], [1, 1], False),
    "dilated": ((1, 8, 12, 12), (16, 8, 3, 3), [1, 1], [2, 2], [2, 2], [2, 2], False),
    "depthwise": ((2, 8, 10, 10), (8, 1, 1, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], True),
    "one_d": ((2, 4, 20), (6, 4, 5), [2], [2], [2], [1], False),
    "batch64": ((64, 16, 14, 14), (32, 16, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], False),
}


@pytest.mark.parametrize("hint", ["f32", "f16"])
@pytest.mark.parametrize("case", list(CUDNN_CASES))
def test_cudnn_convolutions_match_cpu(cp, case, hint):
    backend = _cudnn_backend()
    xs, ws, strides, pb, pe, dil, grouped = CUDNN_CASES[case]
    rng = np.random.default_rng(3)
    x = ops.parameter(list(xs), np.float32, name="x")
    w = rng.standard_normal(ws).astype(np.float32) * 0.2
    factory = ops.group_convolution if grouped else ops.convolution
    model = ar.Model([factory(x, w, strides, pb, pe, dil)], [x])
    c = ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint})
    tol = 1e-4 if hint == "f32" else 2e-2
    for seed in (4, 5):  # the second call replays the CUDA graphs around the convolution
        data = np.random.default_rng(seed).standard_normal(xs).astype(np.float32)
        want = _outputs(ar.Core().compile_model(model, "CPU", F32), [data])[0]
        np.testing.assert_allclose(_outputs(c, [data])[0], want, rtol=tol, atol=tol * float(np.abs(want).max()))
    assert c._plan.fn.graph_status.startswith("captured"), c._plan.fn.graph_status
    profiled = ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint, "PERF_COUNT": True})
    convs = [r.exec_type for r in profiled._plan.records if r.node_type.endswith("Convolution")]
    assert convs == ["cupy_cudnn_convolution"], f"not on {backend.cudnn!r}: {convs}"


CUDNN_POOLS = {  # x shape, kernel, strides, pads_begin, pads_end, rounding
    "resnet_stem_batch64": ((64, 64, 112, 112), [3, 3], [2, 2], [1, 1], [1, 1], "floor"),
    "ceil": ((2, 3, 6, 5), [2, 3], [2, 2], [0, 0], [0, 0], "ceil"),
    "one_d": ((1, 2, 9), [4], [3], [1], [2], "ceil_torch"),
}


@pytest.mark.parametrize("hint", ["f32", "f16"])
@pytest.mark.parametrize("case", list(CUDNN_POOLS))
def test_cudnn_max_pool_matches_cpu(cp, case, hint):
    backend = _cudnn_backend()
    xs, k, s, pb, pe, rounding = CUDNN_POOLS[case]
    x = ops.parameter(list(xs), np.float32, name="x")
    model = ar.Model([ops.max_pool(x, s, [1] * len(k), pb, pe, k, rounding).output(0)], [x])
    c = ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint})
    for seed in (4, 5):
        data = np.random.default_rng(seed).standard_normal(xs).astype(np.float32)
        want = _outputs(ar.Core().compile_model(model, "CPU", F32), [data])[0]
        got = _outputs(c, [data])[0]
        if hint == "f32":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    assert c._plan.fn.graph_status.startswith("captured"), c._plan.fn.graph_status
    profiled = ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint, "PERF_COUNT": True})
    pools = [r.exec_type for r in profiled._plan.records if r.node_type == "MaxPool"]
    assert pools == ["cupy_cudnn_max_pool"], f"not on {backend.cudnn!r}: {pools}"
