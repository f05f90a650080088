"""How a plan runs on the GPU (over the fake CuPy, which counts every host<->device copy): weights
uploaded once, zero transfers inside a plan, one stream per concurrent request, CUDA graph capture
and replay with GEMMs as eager steps between graphs, and when capture is not used."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from arrayrt.backends.cupy.plan import CudaPlan, EagerStep
from fakecupy import FakeArray, ForeignDeviceTensor

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.runtime.tensor import Tensor
from arrayrt.testing import models as M

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
MODELS = ["mlp", "resnet_block", "mobilenet_block", "transformer_block", "unet_up_block", "lstm_kws"]


def _cpu(model, inputs):
    c = ar.Core().compile_model(model, "CPU", F32)
    return [np.asarray(c(inputs)[i]) for i in range(len(c.outputs))]


def _interop(name):
    m = M.make_model(ops, M.INTEROP_MODELS[name], name)
    return m, M.sample_inputs(m)


def _chain(n_in=(2, 8)):
    """Elementwise and movement ops only: every kernel is capture-safe."""
    x = ops.parameter(list(n_in), np.float32, name="x")
    y = ops.relu(ops.add(ops.multiply(x, np.float32(3)), np.full(n_in, 0.5, np.float32)))
    y = ops.transpose(ops.sigmoid(y), np.array([1, 0], np.int64))
    return ar.Model([y], [x])


def _counts(fake):
    return fake.h2d, fake.d2h


def _delta(fake, before):
    return tuple(a - b for a, b in zip(_counts(fake), before))


@pytest.mark.parametrize("name", MODELS)
def test_models_match_cpu_and_copy_each_input_and_output_once(gpu, name):
    model, inputs = _interop(name)
    c = ar.Core().compile_model(model, "GPU", F32)
    assert c._plan.fn.graph_status.startswith("captured")
    want = _cpu(model, inputs)
    for _ in range(3):
        before = _counts(gpu)
        got = c(inputs)
        assert _delta(gpu, before) == (len(inputs), len(want))
        for i, w in enumerate(want):
            np.testing.assert_allclose(got[i], w, rtol=1e-4, atol=1e-5)
            assert isinstance(got[i], np.ndarray)


@pytest.mark.parametrize("graphs", [True, False], ids=["graphs", "eager"])
@pytest.mark.parametrize("name", MODELS)
def test_zero_host_device_copies_inside_a_plan(gpu, name, graphs):
    """Device inputs in, device outputs out: an inference moves nothing between host and device."""
    model, inputs = _interop(name)
    config = {**F32, "KEEP_ON_DEVICE": True, "GPU_ENABLE_CUDA_GRAPH": graphs}
    c = ar.Core().compile_model(model, "GPU", config)
    device_inputs = [gpu.asarray(x) for x in inputs]
    want = _cpu(model, inputs)
    for _ in range(3):
        before = (*_counts(gpu), gpu.host_reads)
        got = c(device_inputs)
        assert (gpu.h2d - before[0], gpu.d2h - before[1], gpu.host_reads - before[2]) == (0, 0, 0)
        for i, w in enumerate(want):
            assert isinstance(got[i], Tensor) and isinstance(got[i].data, FakeArray)
            np.testing.assert_allclose(gpu.asnumpy(got[i].data), w, rtol=1e-4, atol=1e-5)


def test_weights_are_uploaded_once_at_compile(gpu):
    model, inputs = _interop("resnet_block")
    n_consts = sum(1 for n in model.get_ordered_ops() if n.type_name == "Constant")
    before = gpu.h2d
    c = ar.Core().compile_model(model, "GPU", F32)
    compile_uploads = gpu.h2d - before
    assert compile_uploads >= 4  # the filters at least (every uploaded array is counted)
    assert compile_uploads <= n_consts + len(inputs)  # constants, and the recording's sample input
    weights = [k for k in c._plan.fn._consts if isinstance(k, FakeArray) and k.ndim == 4]
    assert len(weights) >= 3
    before = gpu.h2d
    for _ in range(5):
        c(inputs)
    assert gpu.h2d - before == 5 * len(inputs)


def test_outputs_kept_on_device_are_copies_of_the_graphs_buffers(gpu):
    c = ar.Core().compile_model(_chain(), "GPU", {**F32, "KEEP_ON_DEVICE": True})
    lane_out = c._plan.fn._free[0].static_out[0]
    x1, x2 = np.full((2, 8), 1.0, np.float32), np.full((2, 8), -1.0, np.float32)
    first = c([x1])[0].data
    keep = gpu.asnumpy(first)
    second = c([x2])[0].data
    assert first is not lane_out and second is not lane_out
    np.testing.assert_array_equal(gpu.asnumpy(first), keep)  # the second replay left it alone
    assert not np.array_equal(gpu.asnumpy(second), keep)


def test_dlpack_device_tensors_are_used_without_a_copy(gpu):
    config = {**F32, "KEEP_ON_DEVICE": True, "GPU_ENABLE_CUDA_GRAPH": "NO"}
    c = ar.Core().compile_model(_chain(), "GPU", config)
    data = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
    foreign = ForeignDeviceTensor(data)
    backend = c._plan.backend
    imported = backend.to_device(foreign)
    assert isinstance(imported, FakeArray) and np.shares_memory(imported._a, data)
    before = _counts(gpu)
    got = c._plan(imported)[0]  # the plan, as CompiledModel calls it after to_device
    assert _delta(gpu, before) == (0, 0)
    np.testing.assert_allclose(gpu.asnumpy(got), _cpu(_chain(), [data])[0], rtol=1e-6)


def test_host_values_from_hetero_are_uploaded_by_the_plan_itself(gpu):
    """HETERO hands a CPU subgraph's numpy result to a GPU subgraph through ``xp.from_dlpack``,
    which leaves it on the host: the plan copies it once, on its stream."""
    c = ar.Core().compile_model(_chain(), "GPU", F32)
    backend = c._plan.backend
    host = np.ones((2, 8), np.float32)
    assert backend.xp.from_dlpack(host) is host
    before = _counts(gpu)
    out = c._plan(host)[0]
    assert _delta(gpu, before) == (1, 0)  # in once; the result stays on the device
    np.testing.assert_allclose(backend.to_host(out), _cpu(_chain(), [host])[0], rtol=1e-6)


def test_hetero_copies_only_at_the_cuts(gpu):
    x = ops.parameter([4, 6], np.float32, name="x")
    a = ops.relu(ops.multiply(x, np.float32(2)))
    b = ops.sigmoid(a)
    b.rt_info["affinity"] = "CPU"
    y = ops.add(ops.tanh(b), a)
    model = ar.Model([y], [x])
    c = ar.Core().compile_model(model, "HETERO:GPU,CPU", F32)
    plan = c._plan
    assert [sg.device for sg in plan.subgraphs] == ["GPU", "CPU", "GPU"]
    data = np.linspace(-2, 2, 24, dtype=np.float32).reshape(4, 6)
    c([data])  # first inference records the second GPU subgraph's lane
    before, moves = _counts(gpu), plan.transfers
    got = c([data])[0]
    crossings = plan.transfers - moves
    h2d, d2h = _delta(gpu, before)
    assert crossings == 3  # model input -> GPU, GPU -> CPU, CPU -> GPU; a stays on the GPU for the last
    assert h2d == 2 and d2h == 2  # x and the CPU result in; a (for the CPU) and y out
    np.testing.assert_allclose(got, _cpu(model, [data])[0], rtol=1e-6, atol=1e-6)


# --- CUDA graphs -----------------------------------------------------------------------------------
def test_a_capture_safe_plan_is_one_graph_replayed_without_eager_kernels(gpu):
    c = ar.Core().compile_model(_chain(), "GPU", F32)
    plan = c._plan.fn
    assert plan.graph_status == "captured: 1 CUDA graph(s), 0 eager step(s) between them"
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
    launches, kernels = gpu.launches, gpu.kernels
    for _ in range(4):
        np.testing.assert_allclose(c([x])[0], _cpu(_chain(), [x])[0], rtol=1e-6)
    assert gpu.launches - launches == 4
    assert gpu.kernels - kernels == 4 * 2  # outside the graph: the input into its buffer, the result out
    assert plan.replays >= 4 and plan.recordings == 1


def test_gemms_are_eager_steps_between_graphs_writing_into_the_recordings_buffers(gpu):
    model, inputs = _interop("mlp")
    c = ar.Core().compile_model(model, "GPU", F32)
    recording = c._plan.fn._free[0].recording
    steps = [s for s in recording.steps if isinstance(s, EagerStep)]
    assert len(steps) == 3 and recording.graphs == 4  # three dense layers; bias+activation tails captured
    assert all(hasattr(s.kernel, "write_into") for s in steps)
    buffers = [id(s.outs[0]) for s in steps]
    c(inputs)
    assert [id(s.outs[0]) for s in steps] == buffers


def test_recording_buffers_come_from_the_lanes_own_pool(gpu):
    c = ar.Core().compile_model(_chain(), "GPU", F32)
    lane = c._plan.fn._free[0]
    assert lane.pool is not None and lane.pool.name == "private"
    assert all(a.pool is lane.pool for a in lane.static_in)
    assert all(a.pool is lane.pool for a in lane.static_out)


@pytest.mark.parametrize("config, status", [
    ({"GPU_ENABLE_CUDA_GRAPH": False}, "eager: GPU_ENABLE_CUDA_GRAPH is NO"),
    ({"PERF_COUNT": True}, None),
])
def test_when_graphs_are_not_used(gpu, config, status):
    c = ar.Core().compile_model(_chain(), "GPU", {**F32, **config})
    x = np.ones((2, 8), np.float32)
    np.testing.assert_allclose(c([x])[0], _cpu(_chain(), [x])[0], rtol=1e-6)
    if status is None:  # profiling runs op by op, no plan wrapper
        assert not isinstance(c._plan.fn, CudaPlan)
        assert all(r.exec_type.startswith("cupy_") for r in c._plan.records if r.status == "EXECUTED")
    else:
        assert c._plan.fn.graph_status == status and gpu.launches == 0


def test_dynamic_input_shapes_run_eagerly(gpu):
    x = ops.parameter([-1, 4], np.float32, name="x")
    model = ar.Model([ops.relu(x)], [x])
    c = ar.Core().compile_model(model, "GPU", F32)
    assert c._plan.fn.graph_status == "eager: the model's inputs have dynamic shapes"
    for n in (1, 3):
        data = np.linspace(-1, 1, 4 * n, dtype=np.float32).reshape(n, 4)
        np.testing.assert_array_equal(c([data])[0], np.maximum(data, 0))


def test_a_failed_recording_falls_back_to_eager_and_says_why(gpu):
    gpu.fail_end_capture = True
    c = ar.Core().compile_model(_chain(), "GPU", F32)
    plan = c._plan.fn
    assert plan.graph_status.startswith("eager: recording CUDA graphs failed: RuntimeError")
    assert not plan.graphs and all(lane.recording is None for lane in plan._free)
    x = np.ones((2, 8), np.float32)
    np.testing.assert_allclose(c([x])[0], _cpu(_chain(), [x])[0], rtol=1e-6)


def test_a_host_read_inside_a_recording_abandons_graphs(gpu):
    """A kernel reading values on the host (which why_not would refuse) cannot be captured: the
    recording fails on the capturing stream and the plan runs eagerly."""
    x = ops.parameter([2, 3], np.float32, name="x")
    model = ar.Model([ops.relu(x)], [x])
    backend_cls = ar.backends.get_backend("cupy")
    c = ar.Core().compile_model(model, "GPU", {**F32, "GPU_ENABLE_CUDA_GRAPH": False})
    plan = c._plan.fn
    fn = plan._run

    def reading(consts, a):
        float(a[0, 0])  # a host read
        return fn(consts, a)

    plan._run, plan.graphs = reading, True
    data = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(c([data])[0], data)
    assert "synchronous API calls are disallowed" in plan.graph_status
    np.testing.assert_array_equal(c([data])[0], data)
    assert backend_cls is not None


def test_stateful_models_run_eagerly_with_device_state(gpu):
    x = ops.parameter([2], np.float32, name="x")
    init = ops.constant(np.zeros(2, np.float32))
    rv = ops.read_value(init, "acc")
    total = ops.add(rv, x)
    model = ar.Model([total], [x], sinks=[ops.assign(total, "acc")])
    c = ar.Core().compile_model(model, "GPU", F32)
    assert c._plan.fn.graph_status == "eager: the model holds state (ReadValue/Assign)"
    req = c.create_infer_request()
    for k in range(1, 4):
        np.testing.assert_array_equal(req.infer([np.ones(2, np.float32)])[0], [k, k])
    assert isinstance(req._states[0], FakeArray)


# --- streams ---------------------------------------------------------------------------------------
def test_one_request_reuses_one_stream(gpu):
    c = ar.Core().compile_model(_chain(), "GPU", F32)
    req = c.create_infer_request()
    for _ in range(5):
        req.infer([np.ones((2, 8), np.float32)])
    assert c._plan.fn.streams == 1


def test_concurrent_requests_run_on_distinct_streams(gpu):
    """Four requests held inside the plan at once: four lanes, four streams, none the null stream."""
    model = _chain()
    c = ar.Core().compile_model(model, "GPU", {**F32, "GPU_ENABLE_CUDA_GRAPH": False, "NUM_STREAMS": 4})
    plan = c._plan.fn
    barrier = threading.Barrier(4, timeout=10)
    seen: list = []
    run = plan._run

    def held(consts, *args):
        seen.append(gpu.current_stream())
        barrier.wait()
        return run(consts, *args)

    plan._run = held
    queue = ar.AsyncInferQueue(c, 4)
    x = np.ones((2, 8), np.float32)
    for i in range(4):
        queue.start_async([x], userdata=i)
    queue.wait_all()
    assert len(seen) == 4 and len({id(s) for s in seen}) == 4
    assert not any(s.null for s in seen) and all(s.non_blocking for s in seen)
    assert plan.streams == 4


def test_device_inputs_are_ordered_after_the_callers_stream(gpu):
    c = ar.Core().compile_model(_chain(), "GPU", {**F32, "KEEP_ON_DEVICE": True})
    caller = gpu.current_stream()
    lane = c._plan.fn._free[0]
    lane.stream.waits.clear()
    caller.waits.clear()
    c([gpu.asarray(np.ones((2, 8), np.float32))])
    assert caller in lane.stream.waits  # the lane waited for the input's producer
    assert lane.stream in caller.waits  # the caller's stream waits for the kept outputs


def test_tf32_follows_the_property(gpu):
    model, inputs = _interop("mlp")
    ar.Core().compile_model(model, "GPU", F32)(inputs)
    assert gpu.tf32_calls[-1] == 1  # COMPUTE_TYPE_DEFAULT
    ar.Core().compile_model(model, "GPU", {**F32, "GPU_ALLOW_TF32": "YES"})(inputs)
    assert gpu.tf32_calls[-1] == 7  # COMPUTE_TYPE_TF32


def test_plan_properties(gpu):
    c = ar.Core().compile_model(_chain(), "GPU", F32)
    c([np.ones((2, 8), np.float32)])
    props = c._plan.fn.properties()
    assert props["GPU_CUDA_GRAPH_STATUS"].startswith("captured")
    assert props["GPU_STREAMS"] == 1 and props["GPU_CUDA_GRAPH_RECORDINGS"] == 1
    assert props["GPU_CUDA_GRAPH_REPLAYS"] >= 1


def test_perf_count_times_nodes_by_device_events(gpu):
    """PERF_COUNT on GPU: one CUDA event before the first node and one after each, no stream
    synchronisation between nodes; the spans are read after the inference."""
    c = ar.Core().compile_model(_chain(), "GPU", {**F32, "PERF_COUNT": True})
    request = c.create_infer_request()
    syncs = gpu.current_stream().syncs
    recorded = gpu.events_recorded
    request.infer([np.ones((2, 8), np.float32)])
    executed = [r for r in c._plan.records if r.status == "EXECUTED"]
    assert gpu.events_recorded - recorded == len(executed) + 1
    assert gpu.current_stream().syncs == syncs  # no stream synchronisation per node
    info = [p for p in request.get_profiling_info() if p.status.name == "EXECUTED"]
    assert len(info) == len(executed) and all(p.real_time.total_seconds() >= 0 for p in info)
    assert gpu.event_syncs == len(executed)  # each span waits for its own end event, once
