"""The NPU device on jax/XLA: one program per graph, accelerator numerics, static-shape refusals,
per-signature compilation, prepared weights, HETERO fallback and the persistent cache."""
from __future__ import annotations

import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from arrayrt.backends.jax import JaxBackend, JitPlan  # noqa: E402

import arrayrt as ar  # noqa: E402
import arrayrt.opset as ops  # noqa: E402
from arrayrt import backends  # noqa: E402
from arrayrt.testing import models as M  # noqa: E402

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _model(build, *shapes, dtype=np.float32):
    params = [ops.parameter(list(s), dtype, name=f"in{i}") for i, s in enumerate(shapes)]
    for i, p in enumerate(params):
        p.output(0).set_names({f"in{i}"})
    out = build(*params)
    return ar.Model(list(out) if isinstance(out, (list, tuple)) else [out], params)


def _cpu(model, inputs):
    c = ar.Core().compile_model(model, "CPU", F32)
    return [np.asarray(c(inputs)[i]) for i in range(len(c.outputs))]


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def test_npu_is_a_device_with_f16_default():
    core = ar.Core()
    assert "NPU" in core.available_devices
    assert core.get_property("NPU", "INFERENCE_PRECISION_HINT") == "f16"
    assert core.get_property("VPU", "ARRAY_BACKEND") == "jax"


def test_one_program_weights_uploaded_once_small_constants_baked():
    w = _rand(8, 4, 3, 3)
    m = _model(lambda x: ops.relu(ops.add(ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1]),
                                          np.full((1, 8, 1, 1), 0.5, np.float32))), (1, 4, 6, 6))
    c = ar.Core().compile_model(m, "NPU", F32)
    plan = c._plan.fn
    assert isinstance(plan, JitPlan) and plan.compilations == 1  # compiled at compile_model
    assert len(plan._weights) == 1 and isinstance(plan._weights[0], jax.Array)  # the filters
    assert plan._weights[0].shape == (3, 3, 4, 8)  # prepared as [*K, C, O] before upload
    x = _rand(1, 4, 6, 6)
    for _ in range(3):
        got = c([x])[0]
    assert plan.compilations == 1
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, _cpu(m, [x])[0], rtol=1e-5, atol=1e-5)


def test_filters_shared_with_another_reader_are_not_prepared():
    w = ops.constant(_rand(4, 4, 1, 1))
    m = _model(lambda x: [ops.convolution(x, w, [1, 1], [0, 0], [0, 0], [1, 1]),
                          ops.multiply(w, ops.reduce_sum(x, np.array([0, 1, 2, 3]), True))], (1, 4, 3, 3))
    c = ar.Core().compile_model(m, "NPU", F32)
    assert c._plan.fn._prepared == []
    x = _rand(1, 4, 3, 3)
    for got, want in zip(c([x]).values(), _cpu(m, [x])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_inputs_numpy_or_jax_outputs_numpy_or_kept_on_device():
    m = _model(lambda x: ops.sigmoid(x), (2, 3))
    x = _rand(2, 3)
    c = ar.Core().compile_model(m, "NPU", F32)
    np.testing.assert_allclose(c([jax.numpy.asarray(x)])[0], c([x])[0])
    kept = ar.Core().compile_model(m, "NPU", {**F32, "KEEP_ON_DEVICE": True})
    req = kept.create_infer_request()
    req.infer([x])
    assert isinstance(req.get_output_tensor(0).data, jax.Array)


@pytest.mark.parametrize("hint, atol", [("f16", 3e-3), ("bf16", 3e-2)])
def test_reduced_precision_keeps_the_interface_and_stays_close(hint, atol):
    w = _rand(16, 32, seed=1)
    m = _model(lambda x: ops.softmax(ops.matmul(x, w, False, True), -1), (4, 32))
    x = _rand(4, 32)
    c = ar.Core().compile_model(m, "NPU", {"INFERENCE_PRECISION_HINT": hint})
    got = c([x])[0]
    assert got.dtype == np.float32
    want = _cpu(m, [x])[0]
    err = np.abs(got - want).max()
    assert 1e-6 < err < atol  # really computed in the lower precision, and accumulated in f32


def test_accuracy_mode_forces_f32():
    w = _rand(16, 32, seed=1)
    m = _model(lambda x: ops.matmul(x, w, False, True), (4, 32))
    x = _rand(4, 32)
    c = ar.Core().compile_model(m, "NPU", {"EXECUTION_MODE_HINT": "ACCURACY"})
    assert c.get_property("INFERENCE_PRECISION_HINT").name == "f32"
    np.testing.assert_allclose(c([x])[0], _cpu(m, [x])[0], rtol=1e-5, atol=1e-6)


def test_dynamic_shapes_compile_per_signature_in_a_bounded_cache():
    def build(x):  # the target shape comes from ShapeOf: evaluated per signature while tracing
        shape = ops.concat([ops.shape_of(x), np.array([1], np.int64)], 0)
        return ops.reshape(ops.relu(x), shape, False)

    params = [ops.parameter([-1, 3], np.float32, name="x")]
    m = ar.Model([build(params[0])], params)
    c = ar.Core().compile_model(m, "NPU", {**F32, "NPU_COMPILE_CACHE_SIZE": 2})
    plan = c._plan
    assert plan.fn.compilations == 0  # dynamic: nothing to compile before the first inference
    for n in (1, 2, 1, 3, 1):
        got = c([_rand(n, 3)])[0]
        assert got.shape == (n, 3, 1)
    # 1, 2 compiled; 1 cached; 3 evicts 2; 1 still cached
    assert plan.fn.compilations == 3 and plan.fn.recompilations == 2
    assert len(plan.fn.cached_signatures) == 2
    assert plan.fn.properties()["NPU_COMPILATIONS"] == 3


def _nonzero_model():
    return _model(lambda x: ops.non_zero(ops.relu(x), "i64"), (2, 3))


def test_refuses_data_dependent_shapes_and_runtime_shape_inputs():
    b = JaxBackend(F32)
    nz = _nonzero_model()
    nonzero = next(n for n in nz.get_ordered_ops() if n.type_name == "NonZero")
    assert "depends on input values" in b.why_not(nonzero)
    x = ops.parameter([2, 3], np.float32, name="x")
    s = ops.parameter([2], np.int64, name="s")
    assert "value of input 1 while compiling" in b.why_not(ops.reshape(x, s, False))
    assert b.why_not(ops.reshape(x, np.array([3, 2], np.int64), False)) is None


def test_refuses_strings_and_bit_packed_u1():
    b = JaxBackend(F32)
    from arrayrt.ir.types import Type

    assert Type.string not in b.dtypes and Type.u1 not in b.dtypes
    assert {Type.bf16, Type.f8e4m3, Type.i4, Type.u4, Type.f64, Type.i64} <= b.dtypes


def _loop(trip, body_out):
    """A Loop of ``trip`` iterations over ``x [4]`` whose body computes ``body_out(bx)``."""
    def build(x):
        loop = ops.loop(trip, ops.constant(np.bool_(True)))
        bx = ops.parameter([4], np.float32, name="bx")
        y = body_out(bx)
        body = ar.Model([ops.constant(np.bool_(True)), y], [bx], "body")
        loop.set_function(body)
        loop.set_special_body_ports([-1, 0])
        loop.set_invariant_input(bx, x.output(0))
        return [loop.get_iter_value(y.output(0))]

    return build


def _if_of_different_shapes(c, x):
    iff = ops.if_op(c)
    tx, ex = ops.parameter([4], np.float32), ops.parameter([4], np.float32)
    then, else_ = ar.Model([ops.concat([tx, tx], 0)], [tx], "then"), ar.Model([ops.relu(ex)], [ex], "else")
    iff.set_then_body(then)
    iff.set_else_body(else_)
    iff.set_input(x.output(0), tx, ex)
    return [iff.set_output(then.get_results()[0], else_.get_results()[0])]


_BOXES = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 5, 1, 6]]], np.float32)
#: case -> (build, input arrays, refused op type, what the reason says)
REFUSALS = {
    "NonZero": (lambda x: ops.non_zero(x, "i64"), [np.array([0, 1, 0, 2], np.float32)], "NonZero",
                "depends on input values"),
    "Unique": (lambda x: ops.unique(x).outputs(), [np.array([3, 1, 3, 2], np.float32)], "Unique",
               "depends on input values"),
    "NonMaxSuppression": (lambda b, s: ops.non_max_suppression(b, s, np.int64(2), np.float32(0.5)).outputs(),
                          [_BOXES, np.array([[[0.9, 0.8, 0.7]]], np.float32)], "NonMaxSuppression",
                          "depends on input values"),
    "Reshape to a runtime shape": (lambda x, s: ops.reshape(x, s, False),
                                   [np.arange(6, dtype=np.float32), np.array([3, 2], np.int64)], "Reshape",
                                   "value of input 1 while compiling"),
    "TopK with a runtime k": (lambda x, k: ops.topk(x, k, 0, "max", "value").outputs(),
                              [np.array([3, 1, 4, 2], np.float32), np.array(2, np.int64)], "TopK",
                              "value of input 1 while compiling"),
    "ROIAlign reads runtime boxes": (
        lambda d, r: ops.roi_align(d, r, np.zeros(3, np.int32), 2, 2, 0, 1.0, "avg"),
        [_rand(1, 2, 8, 8), np.array([[0, 0, 5, 5], [1, 1, 6, 4], [2, 0, 3, 7]], np.float32)], "ROIAlign",
        "value of input 1 while compiling"),
    "Loop with a runtime trip count": (lambda x, n: _loop(n, lambda bx: ops.relu(bx))(x),
                                       [_rand(4), np.array(3, np.int64)], "Loop", "value of input 0"),
    "Loop whose body holds NonZero": (_loop(ops.constant(np.int64(2)), lambda bx: ops.convert(
        ops.reduce_sum(ops.non_zero(bx, "i64"), np.array([0, 1]), False), "f32")),
        [np.array([0, 1, 0, 2], np.float32)], "Loop", "its body's NonZero"),
    "If on a runtime condition, branches of other shapes": (_if_of_different_shapes,
                                                            [np.array(True), _rand(4)], "If", "value of input 0"),
}


def _model_of(build, inputs):
    params = [ops.parameter(list(a.shape), a.dtype, name=f"in{i}") for i, a in enumerate(inputs)]
    out = build(*params)
    return ar.Model(list(out) if isinstance(out, (list, tuple)) else [out], params)


@pytest.mark.parametrize("case", list(REFUSALS))
def test_npu_refuses_values_read_while_compiling_and_hetero_runs_them_on_cpu(case):
    """supports() refuses what XLA cannot compile for static shapes, with the reason; NPU alone names
    the node and suggests HETERO:NPU,CPU; HETERO gives the refused node to CPU and computes as CPU."""
    build, inputs, op_type, reason = REFUSALS[case]
    m = _model_of(build, inputs)
    node = next(n for n in m.get_ordered_ops() if n.type_name == op_type)
    why = JaxBackend(F32).why_not(node)
    assert why is not None and reason in why
    assert node.friendly_name not in ar.Core().query_model(m, "NPU", F32)
    with pytest.raises(ar.UnsupportedOpError, match=rf"name='{op_type}_\d+', type={op_type} cannot run "
                                                    r"on NPU \(jax\): .*'HETERO:NPU,CPU'"):
        ar.Core().compile_model(m, "NPU", F32)
    hetero = ar.Core().compile_model(m, "HETERO:NPU,CPU", F32)
    for got, want in zip(hetero(inputs).values(), _cpu(m, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_alike_nodes_share_one_support_probe(monkeypatch):
    """Every node with a runtime input is traced once to find values read while compiling; nodes
    alike in op, attributes and input signature share that trace."""
    calls = []
    probe = JaxBackend._probe
    monkeypatch.setattr(JaxBackend, "_probe", lambda self, node: calls.append(node.type_name) or probe(self, node))
    c = np.full((1, 8), 0.5, np.float32)
    m = _model(lambda x: ops.relu(ops.add(ops.relu(ops.add(ops.relu(ops.add(x, c)), c)), c)), (1, 8))
    b = JaxBackend(F32)
    assert all(b.supports(n) for n in m.get_ordered_ops())
    assert sorted(calls) == ["Add", "Relu"]


def test_unsupported_element_type_on_npu_alone_names_the_node():
    p = ops.parameter([2], "string", name="text")
    m = ar.Model([ops.result(p)], [p])
    with pytest.raises(ar.UnsupportedOpError, match=r"name='text'.*element type string.*'HETERO:NPU,CPU'"):
        ar.Core().compile_model(m, "NPU", F32)


def test_unsupported_on_npu_alone_names_the_node_and_suggests_hetero():
    with pytest.raises(ar.UnsupportedOpError, match=r"type=NonZero cannot run on NPU.*HETERO:NPU,CPU"):
        ar.Core().compile_model(_nonzero_model(), "NPU", F32)


def test_running_out_of_device_memory_is_a_device_error_and_auto_falls_back():
    x = ops.parameter([1], np.float32, name="x")
    m = ar.Model([ops.add(ops.broadcast(x, np.array([2 ** 38], np.int64)), np.float32(1))], [x])  # 1 TiB
    with pytest.raises(ar.DeviceError, match="NPU: the XLA program failed while running: RESOURCE_EXHAUSTED"):
        ar.compile_model(m, "NPU")([np.ones(1, np.float32)])
    auto = ar.compile_model(m, "AUTO:NPU,CPU", {"ENABLE_STARTUP_FALLBACK": False})
    with pytest.warns(UserWarning, match="failed on NPU .*RESOURCE_EXHAUSTED.*ran again on CPU"), \
            pytest.raises(ar.DeviceError, match="out of memory during inference: MemoryError"):
        auto([np.ones(1, np.float32)])  # CPU has no TiB either: its own error is raised


def test_hetero_npu_cpu_runs_the_refused_nodes_on_cpu():
    m = _nonzero_model()
    c = ar.Core().compile_model(m, "HETERO:NPU,CPU", F32)
    x = np.array([[1, -1, 2], [0, 3, -4]], np.float32)
    np.testing.assert_array_equal(c([x])[0], _cpu(m, [x])[0])
    assert c.get_property("EXECUTION_DEVICES") == ["NPU", "CPU"]
    assert ar.Core().query_model(m, "NPU").keys() == {n.friendly_name for n in m.get_ordered_ops()
                                                         if n.type_name != "NonZero"}


@pytest.mark.parametrize("compress", [False, True], ids=["f32", "fp16"])
@pytest.mark.parametrize("name", list(M.INTEROP_MODELS))
def test_openvino_ir_of_interop_models_matches_openvino_at_cpu_tolerances(name, compress, tmp_path):
    """The foundation's interop check (tests/interop) on NPU with the f32 hint, same tolerances."""
    ov = pytest.importorskip("openvino")
    import openvino.opset16 as ovops

    model = M.make_model(ovops, M.INTEROP_MODELS[name], name)
    path = tmp_path / f"{name}.xml"
    ov.save_model(model, path, compress_to_fp16=compress)
    inputs = M.sample_inputs(model)
    oc = ov.Core().compile_model(path, "CPU", F32)
    c = ar.Core().compile_model(path, "NPU", F32)
    for i in range(len(oc.outputs)):
        got, want = np.asarray(c(inputs)[i]), np.asarray(oc(inputs)[i])
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(M.BENCHMARK_MODELS))
def test_benchmark_models_match_openvino_on_npu(name, tmp_path):
    """tests/interop's benchmark-model check on NPU with the f32 hint, same tolerances as CPU's."""
    ov = pytest.importorskip("openvino")
    import openvino.opset16 as ovops

    model = M.make_model(ovops, M.BENCHMARK_MODELS[name], name)
    path = tmp_path / f"{name}.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    inputs = M.sample_inputs(model)
    want = ov.Core().compile_model(path, "CPU", F32)(inputs)[0]
    got = ar.Core().compile_model(path, "NPU", F32)(inputs)[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_softmax_of_a_mean_of_huge_logits_stays_finite():
    """XLA may recompute the mean inside ``x - max(x)`` in other arithmetic than the max saw; at
    1e10 one ulp is 1024, enough to underflow every exp (this gave NaN before the backend's
    Softmax subtracted the max twice)."""
    def build(x):
        logits = ops.reshape(ops.reduce_mean(x, np.array([2, 3]), True), np.array([1, 1000]), False)
        return [ops.softmax(logits, 1), ops.log_softmax(logits, 1)]

    m = _model(build, (1, 1000, 13, 13))
    x = np.full((1, 1000, 13, 13), 9.475688e9, np.float32)
    probs, logs = ar.Core().compile_model(m, "NPU", F32)([x]).values()
    np.testing.assert_allclose(probs, np.full((1, 1000), 1e-3, np.float32), rtol=1e-6)
    np.testing.assert_allclose(logs, np.full((1, 1000), np.log(1e-3), np.float32), rtol=1e-6)


def test_forward_dft_computes_in_f64_and_leaves_exact_zeros():
    """XLA's complex64 FFT leaves ~2e-6 of rounding where the exact value is 0 next to values of
    hundreds (the ONNX suite's dft_opset19 fails at atol 1e-7); NPU computes f32 DFTs in f64."""
    x = np.stack([np.arange(100, dtype=np.float32).reshape(10, 10), np.zeros((10, 10), np.float32)], -1)[None]
    m = _model(lambda p: ops.dft(p, np.array([1], np.int64)), x.shape)
    got = ar.Core().compile_model(m, "NPU", F32)([x])[0]
    exact = np.fft.fft(x[..., 0].astype(np.float64), axis=1)
    want = np.stack([exact.real, exact.imag], -1)
    assert np.abs(got - want)[np.abs(want) < 1].max() < 1e-7
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_refuses_what_rests_on_f32_subnormals_xla_flushes():
    """f8e8m0's smallest value is an f32 subnormal; XLA on CPU flushes those to zero (NaN in e8m0)."""
    b = JaxBackend(F32)
    x = ops.parameter([3], np.float32, name="x")
    assert "subnormal" in b.why_not(ops.convert(x, "f8e8m0"))
    assert "min bound is an f32 subnormal" in b.why_not(ops.clamp(x, 2.0 ** -127, 1.0))
    assert b.why_not(ops.clamp(x, 2.0 ** -126, 1.0)) is None
    m = _model(lambda p: ops.convert(ops.clamp(p, 2.0 ** -127, 2.0 ** 127), "f8e8m0"), (3,))
    v = np.array([0, 0.3, 5], np.float32)
    got = ar.Core().compile_model(m, "HETERO:NPU,CPU", F32)([v])[0]
    np.testing.assert_array_equal(got.view(np.uint8), _cpu(m, [v])[0].view(np.uint8))


def test_depthwise_with_multiplier_stride_dilation_matches_cpu():
    w = _rand(6, 2, 1, 3, 3, seed=3)  # 6 groups, 2 outputs per group
    m = _model(lambda x: ops.group_convolution(x, w, [2, 1], [2, 0], [1, 2], [2, 1]), (1, 6, 9, 7))
    x = _rand(1, 6, 9, 7)
    c = ar.Core().compile_model(m, "NPU", F32)
    assert any(r.exec_type == "jax_depthwise" for r in c._plan.records)
    np.testing.assert_allclose(c([x])[0], _cpu(m, [x])[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strides", [[1, 1], [2, 2]])
@pytest.mark.parametrize("hint, tol", [("f32", 1e-5), ("f16", 3e-3), ("bf16", 3e-2)])
def test_pointwise_convolution_as_a_dot_matches_cpu(strides, hint, tol):
    """A 1x1 convolution without padding runs as a dot over the channels (strided: on every s-th
    position), at every precision hint; bf16 goes through f32 (XLA's CPU dot has no bf16 -> f32)."""
    w = _rand(24, 16, 1, 1, seed=4)
    m = _model(lambda x: ops.convolution(x, w, strides, [0, 0], [0, 0], [1, 1]), (2, 16, 9, 11))
    x = _rand(2, 16, 9, 11)
    got = ar.Core().compile_model(m, "NPU", {"INFERENCE_PRECISION_HINT": hint})([x])[0]
    want = _cpu(m, [x])[0]
    assert got.shape == want.shape == (2, 24, *(-(-n // s) for n, s in zip((9, 11), strides)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_pointwise_convolution_in_1d_and_3d_with_mixed_strides():
    for spatial, strides in (((13,), [3]), ((5, 6, 7), [1, 2, 3])):
        w = _rand(8, 4, *(1,) * len(spatial), seed=5)
        zeros = [0] * len(spatial)
        m = _model(lambda x: ops.convolution(x, w, strides, zeros, zeros, [1] * len(spatial)), (1, 4, *spatial))
        x = _rand(1, 4, *spatial)
        np.testing.assert_allclose(ar.Core().compile_model(m, "NPU", F32)([x])[0], _cpu(m, [x])[0],
                                   rtol=1e-5, atol=1e-5)


def test_stateful_model_keeps_its_state_on_npu():
    x = ops.parameter([2], np.float32, name="x")
    rv = ops.read_value(np.zeros(2, np.float32), "acc", "f32", [2])
    total = ops.add(rv, x)
    m = ar.Model([total], [x], sinks=[ops.assign(total, "acc")])
    req = ar.Core().compile_model(m, "NPU", F32).create_infer_request()
    got = [req.infer([np.ones(2, np.float32)])[0].copy() for _ in range(3)]
    np.testing.assert_array_equal(got, [[1, 1], [2, 2], [3, 3]])


def test_profiling_runs_op_by_op_on_the_device():
    m = _model(lambda x: ops.relu(ops.multiply(x, x)), (2, 2))
    c = ar.Core().compile_model(m, "NPU", {**F32, "PERF_COUNT": True})
    req = c.create_infer_request()
    np.testing.assert_allclose(req.infer([_rand(2, 2)])[0], np.maximum(_rand(2, 2) ** 2, 0), rtol=1e-6)
    executed = [r.exec_type for r in req.get_profiling_info() if r.status == ar.ProfilingInfo.Status.EXECUTED]
    assert executed == ["jax_ref", "jax_ref"]


def test_cache_dir_turns_on_the_persistent_compilation_cache(tmp_path):
    from jax.experimental.compilation_cache import compilation_cache

    before = jax.config.jax_compilation_cache_dir
    try:
        m = _model(lambda x: ops.tanh(ops.add(x, _rand(64, 64))), (64, 64))
        ar.Core().compile_model(m, "NPU", {**F32, "CACHE_DIR": str(tmp_path)})
        assert any((tmp_path / "xla").iterdir())
    finally:
        compilation_cache.set_cache_dir(before)
        compilation_cache.reset_cache()


_CACHE_CHILD = """
import json, sys, time
import numpy as np
import arrayrt as ar, arrayrt.opset as ops
from jax import monitoring
hits = []
monitoring.register_event_listener(lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None)
rng = np.random.default_rng(0)
x = ops.parameter([1, 64], np.float32, name="x")
h = x
for i in range(12):
    h = ops.tanh(ops.matmul(h, rng.uniform(-1, 1, (64, 64)).astype(np.float32), False, False))
t = time.perf_counter()
c = ar.Core().compile_model(ar.Model([h], [x]), "NPU", {"INFERENCE_PRECISION_HINT": "f32", "CACHE_DIR": sys.argv[1]})
print(json.dumps({"xla_s": c._plan.fn.compile_seconds, "hits": len(hits)}))
"""


def test_cache_dir_second_process_reads_the_xla_cache(tmp_path):
    """Two processes compile the same model with one CACHE_DIR: the second finds XLA's program in
    the persistent cache (jax's cache-hit event) and spends less time compiling."""
    import json
    import subprocess

    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", _CACHE_CHILD, str(tmp_path)], capture_output=True, text=True,
                           timeout=300, env={**__import__("os").environ, "JAX_PLATFORMS": "cpu"})
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["hits"] == 0 and second["hits"] >= 1
    assert second["xla_s"] < first["xla_s"]


def test_auto_npu_cpu_serves_on_cpu_while_npu_compiles_then_on_npu(monkeypatch):
    """AUTO:NPU,CPU: requests run on CPU until NPU's XLA program is built (held here until the CPU
    has served three), then on NPU, whose program was compiled before the switch."""
    import threading

    release = threading.Event()
    compile_npu = JaxBackend.compile

    def held(self, model, config=None):
        assert release.wait(60)
        return compile_npu(self, model, config)

    monkeypatch.setattr(JaxBackend, "compile", held)
    m = _model(lambda x: ops.tanh(ops.matmul(x, _rand(8, 8, seed=2), False, False)), (2, 8))
    x = _rand(2, 8)
    want = _cpu(m, [x])[0]
    c = ar.Core().compile_model(m, "AUTO:NPU,CPU", F32)
    for _ in range(3):
        np.testing.assert_allclose(c([x])[0], want, rtol=1e-6, atol=1e-6)
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]
    release.set()
    plan = c._plan
    assert plan.ready.wait(60) and plan.error is None
    for _ in range(2):
        np.testing.assert_allclose(c([x])[0], want, rtol=1e-5, atol=1e-6)
    assert c.get_property("EXECUTION_DEVICES") == ["NPU"]
    assert plan.history == ["CPU"] * 3 + ["NPU"] * 2
    assert plan._target.plan.fn.compilations == 1  # no XLA compilation on the request path


def test_auto_npu_cpu_keeps_a_model_npu_refuses_on_cpu():
    c = ar.Core().compile_model(_nonzero_model(), "AUTO:NPU,CPU", F32)
    x = np.array([[1, -1, 2], [0, 3, -4]], np.float32)
    np.testing.assert_array_equal(c([x])[0], _cpu(_nonzero_model(), [x])[0])
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]


def test_npu_properties_jax_platform_and_cache_size():
    core = ar.Core()
    assert core.get_property("NPU", "NPU_COMPILE_CACHE_SIZE") == 8
    c = core.compile_model(_model(lambda x: ops.relu(x), (2,)), "NPU", {"JAX_PLATFORM": "cpu",
                                                                       "NPU_COMPILE_CACHE_SIZE": 3})
    assert c._plan.fn.cache_size == 3 and c._plan.backend.jax_device.platform == "cpu"
    with pytest.raises(ar.DeviceError, match="JAX_PLATFORM"):
        core.compile_model(_model(lambda x: ops.relu(x), (2,)), "NPU", {"JAX_PLATFORM": "abacus"})
    with pytest.raises(ar.DeviceError, match="NPU_COMPILE_CACHE_SIZE"):
        core.set_property("NPU", {"NPU_COMPILE_CACHE_SIZE": 0})
    if "gpu" not in {d.platform for d in jax.devices()}:
        with pytest.raises(ar.DeviceError, match="JAX_PLATFORM 'gpu' is not available"):
            core.compile_model(_model(lambda x: ops.relu(x), (2,)), "NPU", {"JAX_PLATFORM": "gpu"})


def test_async_queue_runs_requests_concurrently_on_one_program():
    m = _model(lambda x: ops.tanh(x), (3,))
    c = ar.Core().compile_model(m, "NPU", {**F32, "NUM_STREAMS": 3})
    got = {}
    queue = ar.AsyncInferQueue(c, 3)
    queue.set_callback(lambda req, i: got.__setitem__(i, req.get_output_tensor(0).data.copy()))
    for i in range(8):
        queue.start_async([np.full(3, i / 8, np.float32)], i)
    queue.wait_all()
    for i in range(8):
        np.testing.assert_allclose(got[i], np.tanh(np.full(3, i / 8, np.float32)), rtol=1e-6)
    assert c._plan.fn.compilations == 1


def test_npu_absent_without_jax(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    monkeypatch.delitem(sys.modules, "arrayrt.backends.jax")
    monkeypatch.setattr(backends, "_cache", {})
    assert "NPU" not in ar.Core().available_devices


def test_ynn_flag_joins_xla_flags_unless_opted_out_or_unknown(monkeypatch):
    from arrayrt.backends import jax as jb

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    monkeypatch.delenv("ARRAYRT_XLA_CPU_YNN", raising=False)
    monkeypatch.setattr(jb, "_jaxlib_version", lambda: (0, 10, 2))
    monkeypatch.setattr(jb, "_jax_started", lambda: False)  # this test process may have started it
    assert jb.ynn_on_cpu()
    assert jb.os.environ["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false " + jb.YNN_FLAG
    assert jb.ynn_on_cpu() and jb.os.environ["XLA_FLAGS"].count("ynn") == 1  # added once
    # the user's own choice of the flag stands
    own = "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"
    monkeypatch.setenv("XLA_FLAGS", own)
    assert not jb.ynn_on_cpu() and jb.os.environ["XLA_FLAGS"] == own
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setenv("ARRAYRT_XLA_CPU_YNN", "0")
    assert not jb.ynn_on_cpu() and jb.os.environ["XLA_FLAGS"] == ""
    # an older jaxlib would abort on a flag it does not know
    monkeypatch.delenv("ARRAYRT_XLA_CPU_YNN")
    monkeypatch.setattr(jb, "_jaxlib_version", lambda: (0, 9, 9))
    assert not jb.ynn_on_cpu() and jb.os.environ["XLA_FLAGS"] == ""
    # too late once jax's backends started: XLA read the flags already
    monkeypatch.setattr(jb, "_jaxlib_version", lambda: (0, 10, 2))
    monkeypatch.setattr(jb, "_jax_started", lambda: True)
    assert not jb.ynn_on_cpu() and jb.os.environ["XLA_FLAGS"] == ""


_EARLY_CHILD = """
import os, jax, jax.numpy as jnp
import arrayrt.backends.jax as jb  # before anything starts jax's backends
print(jax.devices()[0].platform, jb.YNN_FLAG in os.environ.get("XLA_FLAGS", ""))
conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                         dimension_numbers=("NHWC", "HWIO", "NHWC")))
text = conv.lower(jnp.ones((1, 28, 28, 32)), jnp.ones((3, 3, 32, 32))).compile().as_text()
print("__ynn_fusion" in text)
"""


def test_importing_the_backend_sets_the_flag_before_a_program_starts_jax():
    """A program that imports the backend and then calls jax.devices() itself (as the NPU
    benchmark does) gets the flag: the convolution stays out of YNNPACK, where jaxlib 0.10 runs it
    on one thread."""
    import os
    import subprocess

    from arrayrt.backends import jax as jb

    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "ARRAYRT_XLA_CPU_YNN")}
    out = subprocess.run([sys.executable, "-c", _EARLY_CHILD], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    if out[0] != "cpu" or jb._jaxlib_version() < jb.YNN_MIN_JAXLIB:
        pytest.skip("the flag concerns XLA's CPU platform on jaxlib 0.10 and later")
    assert out[1:] == ["True", "False"]


_YNN_CHILD = """
import os, numpy as np
import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.testing import models as M
model = M.make_model(ops, M.resnet18, "resnet18")
data = M.sample_inputs(model)
npu = np.asarray(ar.Core().compile_model(model, "NPU", {"INFERENCE_PRECISION_HINT": "f32"})(data)[0])
cpu = ar.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(data)[0]
print("ynn" in os.environ.get("XLA_FLAGS", ""), float(np.max(np.abs(npu - cpu)) / np.max(np.abs(cpu))),
      repr(float(np.sum(npu, dtype=np.float64))))
"""


def test_ynn_flag_reaches_xla_and_both_ways_match_cpu():
    """The flag reaches XLA (the backend sets it before jax starts): ResNet-18's float32 rounding
    changes with it (jaxlib 0.10 runs its convolutions in YNNPACK by default, in XLA's own kernels
    with the flag), and both ways it matches CPU."""
    import os
    import subprocess

    from arrayrt.backends import jax as jb

    runs = {}
    for opt in ("0", "1"):
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        env["ARRAYRT_XLA_CPU_YNN"] = opt
        out = subprocess.run([sys.executable, "-c", _YNN_CHILD], capture_output=True, text=True, check=True,
                             env=env)
        flag, err, checksum = out.stdout.split()
        assert float(err) < 1e-5
        runs[opt] = (flag, checksum)
    assert runs["0"][0] == "False"
    if jb._jaxlib_version() >= jb.YNN_MIN_JAXLIB:
        assert runs["1"][0] == "True" and runs["1"][1] != runs["0"][1]
