"""The OpenVINO-shaped runtime API: Core, CompiledModel, InferRequest, results, Tensor, errors."""
from __future__ import annotations

import datetime
import threading

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops


def two_input_model(shape=(2, 3)):
    a = ops.parameter(list(shape), np.float32, name="a")
    b = ops.parameter(list(shape), np.float32, name="b")
    a.output(0).set_names({"a"})
    b.output(0).set_names({"b"})
    s = ops.add(a, b, name="sum")
    s.output(0).set_names({"sum"})
    p = ops.multiply(a, b, name="prod")
    p.output(0).set_names({"prod", "product"})
    return ar.Model([s, p], [a, b], "two")


@pytest.fixture
def compiled():
    return ar.Core().compile_model(two_input_model(), "CPU")


A = np.arange(6, dtype=np.float32).reshape(2, 3)
B = np.full((2, 3), 2.0, np.float32)


def test_core_lists_cpu_and_versions():
    core = ar.Core()
    assert "CPU" in core.available_devices
    v = core.get_versions("CPU")["CPU"]
    assert v.build_number == ar.__version__ and "numpy" in v.description


def test_inputs_by_index_name_port_and_single(compiled):
    expected_sum, expected_prod = A + B, A * B
    for inputs in ([A, B], {"a": A, "b": B}, {0: A, 1: B}, {compiled.input("a"): A, compiled.inputs[1]: B}):
        r = compiled(inputs)
        np.testing.assert_array_equal(r[0], expected_sum)
        np.testing.assert_array_equal(r["prod"], expected_prod)
        np.testing.assert_array_equal(r["product"], expected_prod)
        np.testing.assert_array_equal(r[compiled.output("sum")], expected_sum)


def test_results_mapping(compiled):
    r = compiled([A, B])
    assert len(r) == 2
    assert r.names() == ({"sum"}, {"prod", "product"})
    t = r.to_tuple()
    np.testing.assert_array_equal(t[1], A * B)
    assert set(r.to_dict()) == set(compiled.outputs)
    np.savez_compressed("/dev/null", **r.by_name())
    with pytest.raises(KeyError, match="no output named 'nope'"):
        r["nope"]
    with pytest.raises(KeyError, match="out of range"):
        r[5]


def test_wrong_shape_dtype_name_count_are_clear(compiled):
    with pytest.raises(ar.InferenceInputError, match=r"input 'a': expected shape \[2, 3\], got \[3, 2\]"):
        compiled([A.T.copy(), B])
    with pytest.raises(ar.InferenceInputError, match="input 'b'.*expected element type f32, got <U1"):
        compiled([A, np.array([["x"] * 3] * 2)])
    with pytest.raises(ar.InferenceInputError, match="no input named 'c'"):
        compiled({"a": A, "c": B})
    with pytest.raises(ar.InferenceInputError, match="input 'b' was not given"):
        compiled({"a": A})
    with pytest.raises(ar.InferenceInputError, match="single input value.*2 inputs"):
        compiled(A)
    with pytest.raises(ar.InferenceInputError, match="got 3 inputs, the model has 2"):
        compiled([A, B, B])


def test_compatible_dtypes_are_converted(compiled):
    r = compiled([A.astype(np.float64), B.astype(np.float16)])
    assert r[0].dtype == np.float32
    np.testing.assert_array_equal(r[0], A + B)
    r = compiled([A.astype(np.int64), B])  # integers into a float input: exact for small values
    np.testing.assert_array_equal(r[0], A + B)


def test_float_into_int_input_is_refused():
    x = ops.parameter([3], np.int64, name="ids")
    m = ar.Model([ops.add(x, np.array([1, 1, 1], np.int64))], [x])
    c = ar.compile_model(m, "CPU")
    np.testing.assert_array_equal(c([np.array([1, 2, 3], np.int32)])[0], [2, 3, 4])
    with pytest.raises(ar.InferenceInputError, match="expected element type i64, got float32"):
        c([np.array([1.5, 2, 3], np.float32)])


def test_infer_request_tensors_and_results(compiled):
    req = compiled.create_infer_request()
    req.set_tensor("a", ar.Tensor(A))
    req.set_input_tensor(1, ar.Tensor(B))
    res = req.infer()
    np.testing.assert_array_equal(res[0], A + B)
    np.testing.assert_array_equal(req.get_output_tensor(1).data, A * B)
    np.testing.assert_array_equal(req.get_tensor("sum").data, A + B)
    np.testing.assert_array_equal(req.results["prod"], A * B)
    assert req.latency >= 0
    assert req.get_compiled_model() is compiled
    out = np.zeros_like(A)
    req.set_tensor("sum", ar.Tensor(out, shared_memory=True))  # an output's tensor: results land in it
    req.infer({"a": A, "b": 2 * B})
    np.testing.assert_array_equal(out, A + 2 * B)
    assert req.get_tensor("sum").data is out
    with pytest.raises(ar.InferenceInputError, match="neither an input nor an output"):
        req.set_tensor("nope", ar.Tensor(A))
    with pytest.raises(ar.InferenceInputError, match="the tensor given for it is i32"):
        req.set_output_tensor(0, ar.Tensor(ar.Type.i32, [2]))


def test_tensor_copy_and_share():
    a = np.ones((2, 2), np.float32)
    t = ar.Tensor(a)
    assert not np.shares_memory(t.data, a)
    s = ar.Tensor(a, shared_memory=True)
    assert np.shares_memory(s.data, a)
    z = ar.Tensor(ar.Type.f16, [2, 5])
    assert z.shape == (2, 5) and z.element_type == ar.Type.f16 and z.get_byte_size() == 20
    assert ar.Tensor(ar.Type.u1, [9]).get_byte_size() == 2


def test_async_and_callbacks(compiled):
    req = compiled.create_infer_request()
    seen = []
    done = threading.Event()

    def cb(userdata):
        seen.append(userdata)
        done.set()

    req.set_callback(cb, "tag")
    req.start_async({"a": A, "b": B})
    req.wait()
    assert done.wait(5) and seen == ["tag"]
    np.testing.assert_array_equal(req.results[0], A + B)
    assert req.wait_for(100)


def test_async_infer_queue_runs_every_job():
    c = ar.Core().compile_model(two_input_model(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    q = ar.AsyncInferQueue(c, 3)
    assert len(q) == 3
    out = {}

    def cb(request, userdata):
        out[userdata] = request.results[0].copy()

    q.set_callback(cb)
    for i in range(10):
        q.start_async({"a": A + i, "b": B}, i)
    q.wait_all()
    assert q.is_ready()
    assert sorted(out) == list(range(10))
    for i, v in out.items():
        np.testing.assert_array_equal(v, A + i + B)


def test_async_queue_surfaces_callback_errors():
    q = ar.AsyncInferQueue(ar.compile_model(two_input_model(), "CPU"), 2)

    def cb(request, userdata):
        raise RuntimeError("boom")

    q.set_callback(cb)
    q.start_async([A, B])
    with pytest.raises(RuntimeError, match="boom"):
        q.wait_all()


def test_dynamic_shapes_resolve_at_inference():
    x = ops.parameter([-1, 3], np.float32, name="x")
    y = ops.parameter("1..4,3", np.float32, name="y")
    m = ar.Model([ops.add(x, y)], [x, y])
    assert m.is_dynamic()
    c = ar.compile_model(m, "CPU")
    for n in (1, 4):
        r = c([np.ones((n, 3), np.float32), np.ones((n, 3), np.float32)])[0]
        assert r.shape == (n, 3)
    with pytest.raises(ar.InferenceInputError, match=r"input 'y': expected shape \[1..4,3\], got \[5, 3\]"):
        c([np.ones((5, 3), np.float32), np.ones((5, 3), np.float32)])


def test_reshape_then_compile():
    m = two_input_model()
    m.reshape({"a": [4, 3], "b": [4, 3]})
    assert m.output(0).get_partial_shape() == ar.PartialShape([4, 3])
    r = ar.compile_model(m, "CPU")([np.ones((4, 3), np.float32)] * 2)
    assert r[0].shape == (4, 3)


def test_properties():
    core = ar.Core()
    assert core.get_property("CPU", "PERFORMANCE_HINT") == "LATENCY"
    assert core.get_property("CPU", "INFERENCE_PRECISION_HINT") == "f32"
    assert "NUM_STREAMS" in core.get_property("CPU", "SUPPORTED_PROPERTIES")
    c = core.compile_model(two_input_model(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    assert c.get_property("NUM_STREAMS") >= 1
    assert c.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS") == c.get_property("NUM_STREAMS")
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]
    with pytest.raises(ar.DeviceError, match="has no property 'NOPE'"):
        core.compile_model(two_input_model(), "CPU", {"NOPE": 1})
    with pytest.raises(ar.DeviceError, match="'PERFORMANCE_HINT' has a bad value 'FAST'"):
        core.set_property("CPU", {"PERFORMANCE_HINT": "FAST"})
    with pytest.raises(ar.DeviceError, match="'INFERENCE_PRECISION_HINT' has a bad value 'i8'"):
        core.compile_model(two_input_model(), "CPU", {"INFERENCE_PRECISION_HINT": "i8"})


def test_streams_and_blas_threads_follow_the_usable_cores(monkeypatch, tmp_path):
    """Cores come from the process's affinity and cgroup quota, not the machine's count: two BLAS
    threads pinned to one core spin against each other (ResNet-18 5x slower)."""
    from arrayrt.backends import base
    from arrayrt.backends.numpy import set_blas_threads

    monkeypatch.setattr(base, "CGROUP_CPU_MAX", str(tmp_path / "absent"))
    monkeypatch.setattr(base.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert base.usable_cores() == 4
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # docker --cpus=1.5
    monkeypatch.setattr(base, "CGROUP_CPU_MAX", str(quota))
    assert base.usable_cores() == 2
    quota.write_text("max 100000\n")
    assert base.usable_cores() == 4
    monkeypatch.setattr(base.os, "sched_getaffinity", lambda pid: {3}, raising=False)  # taskset -c 3
    assert base.usable_cores() == 1
    core = ar.Core()
    assert core.get_property("CPU", "RANGE_FOR_STREAMS") == (1, 1)
    c = core.compile_model(two_input_model(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    assert c.get_property("NUM_STREAMS") == 1
    assert set_blas_threads({"NUM_STREAMS": 1}) == 1  # threadpoolctl is a dependency


_PINNED_CHILD = """
import os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import arrayrt as ar
import arrayrt.opset as ops
from threadpoolctl import threadpool_info
x = ops.parameter([64, 64], "f32", name="x")
ar.Core().compile_model(ar.Model([ops.matmul(x, x, False, False)], [x]), "CPU")
print(sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}))
"""


def test_a_process_pinned_to_one_core_gets_one_blas_thread():
    import subprocess
    import sys

    if not hasattr(__import__("os"), "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    out = subprocess.run([sys.executable, "-c", _PINNED_CHILD], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[-2] == "[1]"


def test_unknown_device_is_clear():
    with pytest.raises(ar.DeviceError, match="device 'TPU' is not available; available devices"):
        ar.Core().compile_model(two_input_model(), "TPU")


def test_query_model_lists_every_node():
    m = two_input_model()
    q = ar.Core().query_model(m, "CPU")
    assert set(q) == {n.friendly_name for n in m.get_ordered_ops()}
    assert set(q.values()) == {"CPU"}


def test_auto_picks_a_device():
    c = ar.Core().compile_model(two_input_model())  # no device: AUTO
    (device,) = c.get_property("EXECUTION_DEVICES")
    assert device in ar.Core().available_devices
    np.testing.assert_array_equal(c([A, B])[0], A + B)


def test_f16_inference_precision_keeps_the_interface():
    c = ar.Core().compile_model(two_input_model(), "CPU", {"INFERENCE_PRECISION_HINT": "f16"})
    x = np.array([[1.0001, 2, 3], [4, 5, 6]], np.float32)
    r = c([x, B])
    assert r[0].dtype == np.float32
    np.testing.assert_array_equal(r[0], (x.astype(np.float16) + B.astype(np.float16)).astype(np.float32))
    accurate = ar.Core().compile_model(two_input_model(), "CPU", {"INFERENCE_PRECISION_HINT": "f16",
                                                                  "EXECUTION_MODE_HINT": "ACCURACY"})
    np.testing.assert_array_equal(accurate([x, B])[0], x + B)


def test_profiling_info():
    c = ar.Core().compile_model(two_input_model(), "CPU", {"PERF_COUNT": True})
    req = c.create_infer_request()
    req.infer([A, B])
    info = req.get_profiling_info()
    names = {i.node_name for i in info}
    assert {"sum", "prod"} <= names
    timed = [i for i in info if i.node_name in ("sum", "prod")]
    assert [i.status for i in timed] == [ar.ProfilingInfo.Status.EXECUTED] * 2
    # OpenVINO's types: a Status enum and datetime.timedelta times
    assert all(isinstance(i.real_time, datetime.timedelta) and i.real_time == i.cpu_time for i in timed)
    assert all(i.real_seconds > 0 and abs(i.real_time.total_seconds() - i.real_seconds) < 1e-6 for i in timed)
    plain = ar.compile_model(two_input_model(), "CPU").create_infer_request()
    plain.infer([A, B])
    with pytest.raises(ar.ArrayrtError, match="PERF_COUNT"):
        plain.get_profiling_info()


def test_runtime_model_annotates_nodes(compiled):
    rm = compiled.get_runtime_model()
    info = {n.friendly_name: n.rt_info for n in rm.get_ordered_ops()}
    assert info["sum"]["layerType"] == "Add" and info["sum"]["device"] == "CPU"
    assert info["sum"]["runtimePrecision"] == "f32"


def test_kernel_failure_names_the_node():
    x = ops.parameter([-1], np.float32, name="x")
    y = ops.parameter([-1], np.float32, name="y")
    m = ar.Model([ops.add(x, y, name="the_add")], [x, y])
    c = ar.compile_model(m, "CPU")
    with pytest.raises(ar.InferenceInputError, match="name='the_add', type=Add: inference failed"):
        c([np.ones(2, np.float32), np.ones(3, np.float32)])


def test_constants_are_folded_once():
    x = ops.parameter([3], np.float32, name="x")
    k = ops.multiply(np.array([1, 2, 3], np.float32), np.array([2, 2, 2], np.float32))
    m = ar.Model([ops.add(x, k)], [x])
    c = ar.compile_model(m, "CPU", {"PERF_COUNT": True})
    assert c._plan.kernel_count == 1 and c._plan.folded_count == 1
    np.testing.assert_array_equal(c([np.zeros(3, np.float32)])[0], [2, 4, 6])


def test_plan_frees_intermediates():
    x = ops.parameter([4], np.float32, name="x")
    h = x
    for _ in range(5):
        h = ops.add(h, np.ones(4, np.float32))
    c = ar.compile_model(ar.Model([h], [x]), "CPU")
    src = c._plan.source
    assert src.count("del ") >= 4  # every intermediate dropped right after its last use


def test_async_queue_reuses_a_request_whose_callback_has_run():
    # a request turns idle in its callback, just before its future completes; the queue must wait
    # for that instead of finding the request busy. Widen the window to make the race certain.
    import time

    q = ar.AsyncInferQueue(ar.compile_model(two_input_model(), "CPU"), 1)
    done = q[0]._callback

    def slow_done(index):
        done(index)
        time.sleep(0.05)

    q[0]._callback = slow_done
    seen = []
    q.set_callback(lambda request, userdata: seen.append(userdata))
    for i in range(3):
        q.start_async([A + i, B], i)
    q.wait_all()
    assert seen == [0, 1, 2]
    np.testing.assert_array_equal(q[0].results[0], A + 2 + B)


def test_core_level_properties_and_rt_info_values():
    core = ar.Core()
    assert core.get_property("CACHE_DIR") == ""
    core.set_property({"CACHE_DIR": "/tmp/x"})
    assert core.get_property("CACHE_DIR") == "/tmp/x"
    with pytest.raises(ar.DeviceError, match=r"no property 'NUM_STREAMZ'.*get_property\(device"):
        core.get_property("NUM_STREAMZ")
    m = two_input_model()
    m.set_rt_info("a, b", ["sec", "names"])
    v = m.get_rt_info(["sec", "names"])
    assert v == "a, b" and v.aslist() == ["a", "b"] and str(v) == "a, b"
    with pytest.raises(ar.ArrayrtError, match=r"'a, b' cannot be read as int"):
        v.astype(int)
    s = ar.Shape([2, 3])
    assert s == [2, 3] and s == (2, 3) and str(s) == "[2,3]" and str(s[1:]) == "[3]" and hash(s) == hash((2, 3))


def test_async_queue_reports_a_failed_job_instead_of_calling_back_with_stale_results():
    """A job that fails while it runs (here a Reshape to a size known only at inference) must not be
    lost when its request is reused: wait_all raises it once, and its callback is not called (it
    has no results; the request still holds the previous job's)."""
    x = ops.parameter([-1], np.float32, name="x")
    s = ops.parameter([1], np.int64, name="s")
    q = ar.AsyncInferQueue(ar.compile_model(ar.Model([ops.reshape(x, s, False)], [x, s]), "CPU"), 1)
    seen = {}
    q.set_callback(lambda request, userdata: seen.__setitem__(userdata, request.results[0].shape))
    for i, size in enumerate([6, 4, 6, 6]):  # job 1 asks for 4 elements out of 6
        q.start_async([np.ones(6, np.float32), np.array([size])], i)
    with pytest.raises(ar.InferenceInputError, match=r"cannot reshape \(6,\) \(6 elements\) to \[4\]"):
        q.wait_all()
    assert seen == {0: (6,), 2: (6,), 3: (6,)}
    q.wait_all()  # reported once
