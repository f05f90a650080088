"""Convolutions through cuDNN (backends/cupy/cudnn.py), over the fake CuPy and a fake cuDNN library
that checks every descriptor against the arrays it is handed and computes from the descriptors
alone; plus finding and loading the real library."""
from __future__ import annotations

import ctypes
import types

import numpy as np
import pytest
from arrayrt.backends.cupy import cudnn as binding
from conftest import fake_backend_class
from fakecudnn import BAD_PARAM, FakeCudnnLibrary, reference
from test_cupy_kernels import CONVS, POOLS, _rand

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt import backends
from arrayrt.errors import DeviceError

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture
def lib(fake, monkeypatch) -> FakeCudnnLibrary:
    """``GPU`` on the fake CuPy with the fake cuDNN bound; yields the library (its records)."""
    library = FakeCudnnLibrary(fake)
    bound = binding.Cudnn(library, fake, source="fake")
    _use(monkeypatch, fake, bound)
    with fake.cuda.Device(0):
        assert bound.self_test() is None  # what the backend asks first; then the records start empty
    library.calls.clear()
    library.forwards.clear()
    library.pools.clear()
    library.streams.clear()
    return library


def _use(monkeypatch, fake, bound):
    cls = type("FakeCudnnBackend", (fake_backend_class(fake),),
               {"libraries": classmethod(lambda cls, cp: {"erf": None, "cudnn": bound})})
    monkeypatch.setitem(backends._cache, "cupy", cls)


def _model(case):
    xs, ws, strides, pb, pe, dil, auto_pad, grouped = case
    x = ops.parameter(list(xs), np.float32, name="x")
    factory = ops.group_convolution if grouped else ops.convolution
    return ar.Model([factory(x, _rand(*ws), strides, pb, pe, dil, auto_pad)], [x]), xs


def _exec_types(model, config=F32):
    c = ar.Core().compile_model(model, "GPU", {**config, "PERF_COUNT": True})
    c([_rand(*model.inputs[0].get_partial_shape().to_shape())])
    return [r.exec_type for r in c._plan.records if r.status == "EXECUTED"]


@pytest.mark.parametrize("case", CONVS, ids=[f"conv{i}" for i in range(len(CONVS))])
def test_convolutions_run_on_cudnn_and_match_cpu(lib, case):
    model, xs = _model(case)
    data = [_rand(*xs), _rand(*xs)]
    cpu = ar.Core().compile_model(model, "CPU", F32)
    gpu = ar.Core().compile_model(model, "GPU", F32)
    for d in data:  # the second call replays the CUDA graphs: the conv is an eager step between them
        np.testing.assert_allclose(gpu([d])[0], cpu([d])[0], rtol=1e-5, atol=1e-5)
    assert lib.forwards, "cuDNN never ran"
    assert {f["math"] for f in lib.forwards} == {binding.FMA_MATH}  # f32: no TF32
    assert {(f["alpha"], f["beta"]) for f in lib.forwards} == {(1.0, 0.0)}
    assert _exec_types(model) == ["cupy_cudnn_convolution"]
    status = gpu._plan.fn.properties()["GPU_CUDA_GRAPH_STATUS"]
    assert status.startswith("captured") and "1 eager step" in status, status


def test_heuristics_choice_within_the_workspace_limit(lib, fake):
    """The fake ranks first an algorithm wanting 4 GiB of workspace: the next usable one is taken,
    with its workspace from CuPy's pool; descriptors and the choice are made once per geometry."""
    model, xs = _model(CONVS[0])
    c = ar.Core().compile_model(model, "GPU", {**F32, "GPU_ENABLE_CUDA_GRAPH": False})
    for _ in range(3):
        c([_rand(*xs)])
    assert {(f["algo"], f["workspace"]) for f in lib.forwards} == {(1, 4096)}
    assert lib.calls["cudnnGetConvolutionForwardAlgorithm_v7"] == 1
    assert lib.calls["cudnnCreateConvolutionDescriptor"] == 1
    assert lib.calls["cudnnCreate"] == 0  # the self-test's handle: one per thread and device
    assert lib.calls["cudnnConvolutionForward"] == lib.calls["cudnnSetStream"] >= 3
    assert 0 not in lib.streams, "cuDNN ran on the null stream, not the request's"


def test_f16_accumulates_in_f32_with_tensor_cores_and_tf32_only_on_request(lib):
    model, xs = _model(CONVS[0])
    data = _rand(*xs)
    want = ar.Core().compile_model(model, "CPU", F32)([data])[0]
    got = ar.Core().compile_model(model, "GPU")([data])[0]  # default hint: f16
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)
    f16 = lib.forwards[-1]
    assert (f16["dtype"], f16["compute"], f16["math"]) == (2, 0, binding.TENSOR_OP_MATH)
    ar.Core().compile_model(model, "GPU", {**F32, "GPU_ALLOW_TF32": True})([data])
    assert lib.forwards[-1]["math"] == binding.DEFAULT_MATH and lib.forwards[-1]["dtype"] == 0


def test_fused_tail_after_a_cudnn_convolution(lib):
    x = ops.parameter([2, 3, 8, 8], np.float32, name="x")
    conv = ops.convolution(x, _rand(4, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1])
    model = ar.Model([ops.relu(ops.add(conv, _rand(1, 4, 1, 1)))], [x])
    data = _rand(2, 3, 8, 8)
    want = ar.Core().compile_model(model, "CPU", F32)([data])[0]
    np.testing.assert_allclose(ar.Core().compile_model(model, "GPU", F32)([data])[0], want, rtol=1e-5, atol=1e-5)
    assert _exec_types(model) == ["cupy_fused_convolution_bias_relu"] and lib.forwards


def test_gpu_use_cudnn_no_keeps_im2col(lib):
    model, _ = _model(CONVS[0])
    assert _exec_types(model, {**F32, "GPU_USE_CUDNN": "NO"}) == ["cupy_im2col_gemm"]
    assert not lib.forwards


def test_a_failing_cudnn_call_names_the_layer_and_the_status(lib):
    lib.fail["cudnnSetConvolutionNdDescriptor"] = BAD_PARAM
    model, xs = _model(CONVS[0])
    with pytest.raises(DeviceError) as err:
        ar.Core().compile_model(model, "GPU", F32)([_rand(*xs)])
    text = str(err.value)
    assert "layer" in text and "type=Convolution" in text
    assert "cudnnSetConvolutionNdDescriptor" in text and "CUDNN_STATUS_BAD_PARAM" in text


@pytest.mark.parametrize("broken", ["a failing call", "wrong values"])
def test_a_library_failing_its_self_test_leaves_convolutions_on_im2col(fake, monkeypatch, broken):
    library = FakeCudnnLibrary(fake)
    if broken == "a failing call":
        library.fail["cudnnConvolutionForward"] = BAD_PARAM
    else:
        monkeypatch.setattr("fakecudnn.reference", lambda x, w, *a: np.zeros((x.shape[0], w.shape[0], 3, 5)))
    _use(monkeypatch, fake, binding.Cudnn(library, fake, source="fake"))
    model, xs = _model(CONVS[0])
    data = _rand(*xs)
    with pytest.warns(RuntimeWarning, match="failed its self-test, so convolutions use im2col") as record:
        got = ar.Core().compile_model(model, "GPU", F32)([data])[0]
        assert _exec_types(model) == ["cupy_im2col_gemm"]  # a second compile: the same answer
    assert len(record) == 1  # warned once per process
    text = str(record[0].message)
    assert ("CUDNN_STATUS_BAD_PARAM" in text) if broken == "a failing call" else ("wrong values" in text)
    np.testing.assert_allclose(got, ar.Core().compile_model(model, "CPU", F32)([data])[0], rtol=1e-5, atol=1e-5)


def test_binding_refuses_what_it_does_not_do(lib, fake):
    cud = binding.Cudnn(lib, fake, source="fake")
    x, w = fake.asarray(_rand(1, 2, 5, 5)), fake.asarray(_rand(3, 2, 3, 3))
    y = fake.empty((1, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="bias"):
        cud.convolution_forward(x, w, w, y, (0, 0), (1, 1), (1, 1), 1)
    with pytest.raises(ValueError, match="heuristics"):
        cud.convolution_forward(x, w, None, y, (0, 0), (1, 1), (1, 1), 1, auto_tune=True)
    with pytest.raises(binding.CudnnError, match="one type"):
        cud.convolution_forward(x, fake.asarray(_rand(3, 2, 3, 3).astype(np.float16)), None, y, (0, 0), (1, 1),
                                (1, 1), 1)
    cud.convolution_forward(x, w, None, y, (0, 0), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(fake.asnumpy(y), reference(fake.asnumpy(x), fake.asnumpy(w), (0, 0), (1, 1), (1, 1), 1),
                               rtol=1e-5, atol=1e-5)


# --- finding and loading the library ---------------------------------------------------------------
def test_versions_and_names():
    assert binding.version_tuple(92801) == (9, 28, 1)
    assert binding.version_tuple(8902) == (8, 9, 2)
    assert binding.major_version("/x/libcudnn.so.9") == 9
    assert binding.major_version("libcudnn.so.8.9.7") == 8
    assert binding.major_version("libcudnn.so") is None


class _Opener:
    """ctypes.CDLL's stand-in: records what was opened; ``missing`` names fail as the loader would."""

    def __init__(self, cp, missing=(), version=92801):
        self.opened, self.missing, self.cp, self.version = [], set(missing), cp, version

    def __call__(self, name):
        self.opened.append(name)
        if any(name.endswith(m) for m in self.missing):
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return FakeCudnnLibrary(self.cp, self.version)


def test_load_opens_the_sublibraries_before_the_shim(fake, monkeypatch, tmp_path):
    """cuDNN 9's shim aborts the process when a call finds a sub-library missing: the loader opens
    them first and gives up cleanly."""
    shim = tmp_path / "libcudnn.so.9"
    monkeypatch.setenv("ARRAYRT_CUDNN_LIBRARY", str(shim))
    opener = _Opener(fake, missing=["libcudnn_cnn.so.9"])
    assert binding.load(fake, opener) is None
    assert str(shim) not in opener.opened
    assert "libcudnn_cnn.so.9" in binding.load_error
    opener = _Opener(fake)
    loaded = binding.load(fake, opener)
    assert loaded is not None and loaded.version == (9, 28, 1) and binding.load_error is None
    assert opener.opened == [str(tmp_path / s) for s in binding.SUBLIBRARIES[9]] + [str(shim)]


def test_load_skips_an_old_library_and_obeys_the_off_switch(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("ARRAYRT_CUDNN_LIBRARY", str(tmp_path / "libcudnn.so.8"))
    assert binding.load(fake, _Opener(fake, version=8005)) is None
    assert "older than 8.1" in binding.load_error
    monkeypatch.setenv("ARRAYRT_CUDNN", "0")
    assert binding.load(fake, _Opener(fake)) is None and binding.load_error == "ARRAYRT_CUDNN=0"


def test_candidates_prefer_the_nvidia_wheel(monkeypatch, tmp_path):
    lib = tmp_path / "nvidia" / "cudnn" / "lib"
    lib.mkdir(parents=True)
    (lib / "libcudnn.so.9").write_bytes(b"")
    package = types.ModuleType("nvidia.cudnn")
    package.__path__ = [str(lib.parent)]
    monkeypatch.setitem(__import__("sys").modules, "nvidia.cudnn", package)
    monkeypatch.delenv("ARRAYRT_CUDNN_LIBRARY", raising=False)
    found = binding.candidates()
    assert found[0] == str(lib / "libcudnn.so.9") and "libcudnn.so.9" in found[1:]


def test_the_signatures_match_cudnns_struct_layout():
    # cudnnConvolutionFwdAlgoPerf_t: int, int, float, size_t, int, int, int[3] (cudnn_cnn.h)
    assert ctypes.sizeof(binding._AlgoPerf) == 48 and binding._AlgoPerf.memory.offset == 16


def test_a_real_cudnn_library_loads_when_installed():
    real = binding.load(types.SimpleNamespace())
    if real is None:
        pytest.skip(f"no cuDNN library here ({binding.load_error})")
    # the functions resolve in the library with the declared types (sub-libraries loaded first)
    assert real._lib.cudnnGetErrorString(0) == b"CUDNN_STATUS_SUCCESS"
    assert str(real).startswith(f"cuDNN {real.version[0]}.")


# --- max pooling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", POOLS, ids=[f"pool{i}" for i in range(len(POOLS))])
def test_max_pool_on_cudnn_matches_cpu(lib, case):
    xs, k, s, pb, pe, d, rounding, auto_pad = case
    x = ops.parameter(list(xs), np.float32, name="x")
    model = ar.Model([ops.max_pool(x, s, d, pb, pe, k, rounding, auto_pad).output(0)], [x])
    cpu, gpu = ar.Core().compile_model(model, "CPU", F32), ar.Core().compile_model(model, "GPU", F32)
    for _ in range(2):  # recorded, then replayed
        data = _rand(*xs)
        np.testing.assert_array_equal(gpu([data])[0], cpu([data])[0])
    dilated = d != [1] * len(d)
    assert _exec_types(model) == ["cupy_strided_max_pool" if dilated else "cupy_cudnn_max_pool"]
    assert bool(lib.pools) != dilated
    assert all(p["pads"] == [0] * len(p["pads"]) for p in lib.pools)  # padding is the kernel's own


def test_max_pool_on_cudnn_nan_and_minus_inf_never_win(lib):
    x = ops.parameter([1, 1, 2, 4], np.float32, name="x")
    model = ar.Model([ops.max_pool(x, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0)], [x])
    data = np.array([[[[np.nan, -np.inf, 1.0, np.nan], [-np.inf, np.nan, np.nan, 2.0]]]], np.float32)
    got = ar.Core().compile_model(model, "GPU", F32)([data])[0]
    np.testing.assert_array_equal(got, [[[[np.finfo(np.float32).min, 2.0]]]])
    assert lib.pools


def test_the_real_library_reads_every_descriptor_as_the_stand_in_does(lib):
    """Every convolution and pooling geometry the kernels hand the stand-in (the CONVS and POOLS
    cases, f32 and f16), built again in the real cuDNN: its own output-shape computation from our
    descriptors must give the shape we allocate. Needs the library only, no GPU."""
    real = binding.load(types.SimpleNamespace())
    if real is None:
        pytest.skip(f"no cuDNN library here ({binding.load_error})")
    names = {0: "float32", 1: "float64", 2: "float16"}
    for hint in ("f32", "f16"):
        for case in CONVS:
            model, xs = _model(case)
            ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint})([_rand(*xs)])
        for xs, k, s, pb, pe, d, rounding, auto_pad in POOLS:
            x = ops.parameter(list(xs), np.float32, name="x")
            model = ar.Model([ops.max_pool(x, s, d, pb, pe, k, rounding, auto_pad).output(0)], [x])
            ar.Core().compile_model(model, "GPU", {"INFERENCE_PRECISION_HINT": hint})([_rand(*xs)])
    convs = {repr(f["geometry"]): f["geometry"] for f in lib.forwards}.values()
    pools = {repr(p["geometry"]): p["geometry"] for p in lib.pools}.values()
    assert len(convs) >= len(CONVS) and len(pools) >= 4
    for g in convs:
        x, w, conv, y = g["x"], g["w"], g["conv"], g["y"]
        real.conv_descriptors(names[x["dtype"]], x["dims"], x["strides"], w["dims"], y["dims"], y["strides"],
                              conv["pads"], conv["strides"], conv["dilations"], conv["groups"], conv["math"])
    for g in pools:
        x, pool, y = g["x"], g["pool"], g["y"]
        real.pool_descriptors(names[x["dtype"]], x["dims"], x["strides"], y["dims"], y["strides"], pool["window"],
                              pool["pads"], pool["strides"], pool["mode"])


def test_gpu_check_reports_the_binding_and_its_self_test(lib, fake):
    from arrayrt.tools import gpu_check

    stage = gpu_check.environment()
    assert stage.ok and "convolutions on cuDNN 9.28.1 (fake), self-test passed" in stage.detail
