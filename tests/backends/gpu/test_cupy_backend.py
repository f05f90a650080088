"""The GPU device on the CuPy backend (over the fake CuPy): registration, properties, precision,
device indices and what ``supports`` refuses."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.cupy import CupyBackend, _pool_limit
from arrayrt.ir.types import Type

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.errors import ArrayrtError, DeviceError, UnsupportedOpError

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _model(build, *specs):
    params = [ops.parameter(list(shape), dtype, name=f"in{i}") for i, (shape, dtype) in enumerate(specs)]
    out = build(*params)
    return ar.Model(list(out) if isinstance(out, (list, tuple)) else [out], params)


def _node(model, type_name):
    return next(n for n in model.get_ordered_ops() if n.type_name == type_name)


def test_gpu_is_a_device_with_f16_default_and_its_properties(gpu):
    core = ar.Core()
    assert "GPU" in core.available_devices
    assert core.get_property("GPU", "ARRAY_BACKEND") == "cupy"
    assert core.get_property("GPU", "INFERENCE_PRECISION_HINT") == "f16"
    assert core.get_property("GPU", "GPU_ENABLE_CUDA_GRAPH") is True
    assert core.get_property("GPU", "GPU_MEMORY_POOL_LIMIT") == 0
    assert core.get_property("GPU", "GPU_ALLOW_TF32") is False
    supported = core.get_property("GPU", "SUPPORTED_PROPERTIES")
    assert {"GPU_ENABLE_CUDA_GRAPH", "GPU_MEMORY_POOL_LIMIT", "GPU_ALLOW_TF32"} <= set(supported)
    with pytest.raises(DeviceError, match="bad value 'bf16'"):
        core.compile_model(_model(lambda a: ops.relu(a), ((2,), np.float32)), "GPU",
                           {"INFERENCE_PRECISION_HINT": "bf16"})
    with pytest.raises(DeviceError, match="GPU_ENABLE_CUDA_GRAPH"):
        core.set_property("GPU", {"GPU_ENABLE_CUDA_GRAPH": "maybe"})


def test_default_precision_is_f16_and_accuracy_mode_is_f32(gpu):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    m = _model(lambda a: ops.multiply(a, np.full((3, 4), 1.0 / 3.0, np.float32)), ((3, 4), np.float32))
    core = ar.Core()
    exact = x * np.float32(1.0 / 3.0)
    f16 = core.compile_model(m, "GPU")
    got = f16([x])[0]
    assert got.dtype == np.float32  # the interface keeps its types
    assert not np.array_equal(got, exact)  # computed in f16
    np.testing.assert_allclose(got, exact, rtol=2e-3, atol=2e-3)
    for cfg in (F32, {"EXECUTION_MODE_HINT": "ACCURACY"}):
        c = core.compile_model(m, "GPU", cfg)
        assert c.get_property("INFERENCE_PRECISION_HINT") == Type.f32
        np.testing.assert_array_equal(c([x])[0], exact)


@pytest.mark.parametrize("value, parsed", [
    (0, 0), (4096, 4096), ("4096", 4096), ("8GiB", 8 * 2**30), ("512MB", 512 * 10**6), ("1.5 kib", 1536),
    ("50%", 0.5), ("100%", 1.0), (0.25, 0.25)])
def test_memory_pool_limit_values(value, parsed):
    assert _pool_limit(value) == parsed
    assert type(_pool_limit(value)) is type(parsed)


@pytest.mark.parametrize("value", [-1, "0%", "150%", "8 parsecs", True, 1.5, "lots"])
def test_memory_pool_limit_refuses_bad_values(value):
    with pytest.raises(ValueError):
        _pool_limit(value)


@pytest.mark.parametrize("value, call", [("2GiB", {"size": 2 * 2**30, "fraction": None}),
                                         ("25%", {"size": None, "fraction": 0.25})])
def test_memory_pool_limit_caps_the_devices_pool(gpu, value, call):
    m = _model(lambda a: ops.relu(a), ((2, 2), np.float32))
    ar.Core().compile_model(m, "GPU.1", {"GPU_MEMORY_POOL_LIMIT": value})
    assert gpu._pools[1].limit == call
    assert gpu._pools[0].limit == {}


def test_device_index_selects_the_cuda_device(gpu):
    m = _model(lambda a: ops.add(a, np.ones((2, 2), np.float32)), ((2, 2), np.float32))
    c = ar.Core().compile_model(m, "GPU.1", F32)
    backend = c._plan.backend
    assert backend.device_id == 1 and c.get_property("DEVICE_ID") == 1
    assert all(k._dev == 1 for k in c._plan.fn._consts)  # weights live on GPU.1
    np.testing.assert_array_equal(c([np.zeros((2, 2), np.float32)])[0], np.ones((2, 2)))
    with pytest.raises(DeviceError, match=r"GPU\.2 is not present: this machine has 2 CUDA device"):
        ar.Core().compile_model(m, "GPU.2", F32)


def test_types_cupy_cannot_hold_are_refused(gpu):
    b = ar.backends.get_backend("cupy")()
    bf16 = _model(lambda a: ops.relu(a), ((2,), "bf16"))
    assert "element type bf16, which cupy does not hold" in b.why_not(_node(bf16, "Relu"))
    strings = _model(lambda a: a, ((2,), "string"))
    assert "element type string" in b.why_not(_node(strings, "Parameter"))
    f16 = _model(lambda a: ops.relu(a), ((2,), np.float16))
    assert b.why_not(_node(f16, "Relu")) is None


def _reshape_to_runtime_shape():
    return _model(lambda x, s: ops.reshape(x, s, False), ((2, 6), np.float32), ((2,), np.int64))


def test_host_reads_are_refused_where_a_graph_would_capture_them(gpu):
    m = _reshape_to_runtime_shape()
    node = _node(m, "Reshape")
    b = ar.backends.get_backend("cupy")()
    reason = b.why_not(node)
    assert "reads input 1 on the host" in reason and "HETERO:GPU,CPU" in reason
    with pytest.raises(UnsupportedOpError, match="reads input 1"):
        ar.Core().compile_model(m, "GPU", F32)
    eager = ar.backends.get_backend("cupy")({"GPU_ENABLE_CUDA_GRAPH": False})
    assert eager.why_not(node) is None


def test_without_graphs_a_host_read_input_arrives_as_a_host_array(gpu):
    m = _reshape_to_runtime_shape()
    c = ar.Core().compile_model(m, "GPU", {**F32, "GPU_ENABLE_CUDA_GRAPH": "NO"})
    assert c._plan.fn.graph_status == "eager: GPU_ENABLE_CUDA_GRAPH is NO"
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    before = gpu.d2h
    got = c([x, np.array([3, 4], np.int64)])[0]
    np.testing.assert_array_equal(got, x.reshape(3, 4))
    assert gpu.d2h - before == 2  # the shape read on the host, the result


def test_hetero_runs_what_gpu_refuses_on_cpu(gpu):
    m = _reshape_to_runtime_shape()
    c = ar.Core().compile_model(m, "HETERO:GPU,CPU", F32)
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]
    m2 = _model(lambda x, s: ops.relu(ops.reshape(ops.multiply(x, np.float32(2)), s, False)),
                ((2, 6), np.float32), ((2,), np.int64))
    c2 = ar.Core().compile_model(m2, "HETERO:GPU,CPU", F32)
    assert c2.get_property("EXECUTION_DEVICES") == ["GPU", "CPU"]
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 6)
    np.testing.assert_array_equal(c2([x, np.array([4, 3], np.int64)])[0], np.maximum(2 * x, 0).reshape(4, 3))


def test_data_dependent_shapes_and_runtime_control_flow_are_refused_under_graphs(gpu):
    b = ar.backends.get_backend("cupy")()
    nz = _model(lambda a: ops.non_zero(a, "i64"), ((4, 5), np.float32))  # float data: not probed
    assert "output shape depends on input values" in b.why_not(_node(nz, "NonZero"))
    eager = ar.backends.get_backend("cupy")({"GPU_ENABLE_CUDA_GRAPH": False})
    assert eager.why_not(_node(nz, "NonZero")) is None
    counted = _model(lambda a: ops.non_zero(a, "i64"), ((4, 5), np.int32))  # probed: counts on the host
    assert "reads input 0 on the host" in b.why_not(_node(counted, "NonZero"))
    dynamic = _model(lambda a: ops.non_zero(a, "i64"), ((-1,), np.float32))
    assert b.why_not(_node(dynamic, "NonZero")) is None  # not in a captured part


def test_host_algorithms_are_refused(gpu):
    from arrayrt.ir.ops import get_op

    b = ar.backends.get_backend("cupy")()
    assert "host (numpy) tables" in b.why_not_op(get_op("LabelEncoder"))


def test_a_folder_named_cupy_is_not_the_library(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))
    with pytest.raises(ImportError, match="not installed"):
        CupyBackend.cupy()


def test_errors_name_the_gpu(gpu):
    m = _model(lambda a: ops.relu(a), ((2,), "bf16"))
    with pytest.raises(ArrayrtError, match=r"cannot run on GPU \(cupy\)"):
        ar.Core().compile_model(m, "GPU")


def _if_model():
    c = ops.parameter([], np.bool_, name="c")
    x, y = ops.parameter([2, 3], np.float32, name="x"), ops.parameter([2, 3], np.float32, name="y")
    iff = ops.if_op(c)
    tx, ty = ops.parameter([2, 3], np.float32), ops.parameter([2, 3], np.float32)
    then = ar.Model([ops.add(tx, ty)], [tx, ty], "then")
    ex = ops.parameter([2, 3], np.float32)
    otherwise = ar.Model([ops.multiply(ex, ops.constant(np.float32(2)))], [ex], "else")
    iff.set_then_body(then)
    iff.set_else_body(otherwise)
    iff.set_input(x.output(0), tx, ex)
    iff.set_input(y.output(0), ty, None)
    return ar.Model([iff.set_output(then.get_results()[0], otherwise.get_results()[0])], [c, x, y])


def test_if_on_a_runtime_condition(gpu):
    m = _if_model()
    reason = ar.backends.get_backend("cupy")().why_not(_node(m, "If"))
    assert "chooses its work from a runtime value" in reason
    c = ar.Core().compile_model(m, "GPU", {**F32, "GPU_ENABLE_CUDA_GRAPH": False})
    x, y = np.ones((2, 3), np.float32), np.full((2, 3), 3, np.float32)
    np.testing.assert_array_equal(c([np.array(True), x, y])[0], x + y)  # the bodies run on the GPU too
    np.testing.assert_array_equal(c([np.array(False), x, y])[0], 2 * x)
    h = ar.Core().compile_model(m, "HETERO:GPU,CPU", F32)
    np.testing.assert_array_equal(h([np.array(True), x, y])[0], x + y)
