"""GPU fusion: convolution/MatMul + bias + residual + activation become one node whose tail is one
``cupy.fuse`` kernel; what must not fuse stays apart; numerics are CPU's."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arrayrt.backends.cupy import fusion
from arrayrt.ir.model import clone_model

import arrayrt as ar
import arrayrt.opset as ops

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
RNG = np.random.default_rng(7)


def _w(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _conv(x, c_in=3, c_out=4):
    return ops.convolution(x, _w(c_out, c_in, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], name="conv")


def _types(model):
    return [n.type_name for n in model.get_ordered_ops()
            if n.type_name not in ("Parameter", "Constant", "Result")]


def _fused(model):
    work = clone_model(model)
    return work, fusion.fuse(work)


def _check(model, inputs, gpu, rtol=1e-5, atol=1e-6):
    want = ar.Core().compile_model(model, "CPU", F32)(inputs)
    c = ar.Core().compile_model(model, "GPU", F32)
    for _ in range(2):
        got = c(inputs)
        for i in range(len(c.outputs)):
            np.testing.assert_allclose(got[i], want[i], rtol=rtol, atol=atol)
    return c


def _x(*shape):
    return RNG.uniform(-1, 1, shape).astype(np.float32)


CHAINS = {
    "conv_bias": (lambda x, r: ops.add(_conv(x), _w(1, 4, 1, 1), name="out"), ["Add"], "_bias"),
    "conv_bias_relu": (lambda x, r: ops.relu(ops.add(_conv(x), _w(1, 4, 1, 1)), name="out"),
                       ["Add", "Relu"], "_bias_relu"),
    "conv_bias_residual_relu": (
        lambda x, r: ops.relu(ops.add(ops.add(_conv(x), _w(1, 4, 1, 1)), r), name="out"),
        ["Add", "Add", "Relu"], "_bias_residual_relu"),
    "conv_clamp": (lambda x, r: ops.clamp(_conv(x), -0.2, 0.3, name="out"), ["Clamp"], "_clamp"),
    "conv_residual_sigmoid": (lambda x, r: ops.sigmoid(ops.add(r, _conv(x)), name="out"), ["Add", "Sigmoid"],
                              "_residual_sigmoid"),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_conv_chains_fuse_and_match_cpu(gpu, name):
    build, fused_types, suffix = CHAINS[name]
    x = ops.parameter([1, 3, 6, 6], np.float32, name="x")
    r = ops.parameter([1, 4, 6, 6], np.float32, name="r")
    out = build(x, r)
    model = ar.Model([out], [x, r])
    work, n = _fused(model)
    assert n == 1 and _types(work) == ["GpuFusedProduct"]
    node = work.get_results()[0].input_value(0).node
    assert node.friendly_name == "out"
    names = node.rt_info["originalLayersNames"].split(",")
    assert len(names) == 1 + len(fused_types) and names[0] == "conv" and names[-1] == "out"
    _check(model, [_x(1, 3, 6, 6), _x(1, 4, 6, 6)], gpu)
    c = ar.Core().compile_model(model, "GPU", {**F32, "PERF_COUNT": True})
    executed = [r.exec_type for r in c._plan.records if r.status == "EXECUTED"]
    assert executed == ["cupy_fused_convolution" + suffix]


@pytest.mark.parametrize("mode", ["ERF", "TANH"])
def test_matmul_bias_gelu_fuses_with_the_gemm_as_an_eager_step(gpu, mode):
    x = ops.parameter([2, 5, 8], np.float32, name="x")
    y = ops.gelu(ops.add(ops.matmul(x, _w(16, 8), False, True), _w(16)), mode.lower())
    model = ar.Model([y], [x])
    work, n = _fused(model)
    assert n == 1 and _types(work) == ["GpuFusedProduct"]
    c = _check(model, [_x(2, 5, 8)], gpu, rtol=1e-5, atol=2e-6)
    recording = c._plan.fn._free[0].recording
    assert (recording.graphs, recording.eager_steps) == (2, 1)  # the GEMM between two graphs
    assert gpu.fused_calls > 0


def test_an_exported_gelu_is_fused_into_the_dense_tail(gpu):
    """PyTorch's ONNX export of GELU before opset 20 (x * 0.5 * (1 + erf(x / sqrt 2))) after a dense
    layer: on GPU as on CPU it becomes one Gelu, which then joins the MatMul's fused tail."""
    x = ops.parameter([2, 5, 8], np.float32, name="x")
    h = ops.add(ops.matmul(x, _w(16, 8), False, True), _w(16), name="bias")
    erf = ops.erf(ops.divide(h, np.float32(math.sqrt(2.0))))
    y = ops.multiply(ops.multiply(h, ops.add(erf, np.float32(1.0))), np.float32(0.5), name="gelu")
    model = ar.Model([y], [x])
    work, n = _fused(model)
    assert n == 2 and _types(work) == ["GpuFusedProduct"]
    assert work.get_results()[0].input_value(0).node.friendly_name == "gelu"
    _check(model, [_x(2, 5, 8)], gpu, rtol=1e-5, atol=2e-6)


def test_group_convolution_bias_clamp(gpu):
    x = ops.parameter([1, 4, 5, 5], np.float32, name="x")
    w = _w(2, 3, 2, 3, 3)
    conv = ops.group_convolution(x, w, [2, 2], [1, 0], [0, 1], [1, 1])
    y = ops.clamp(ops.add(conv, _w(1, 6, 1, 1)), 0.0, 6.0)
    model = ar.Model([y], [x])
    assert _fused(model)[1] == 1
    _check(model, [_x(1, 4, 5, 5)], gpu)


def test_what_does_not_fuse(gpu):
    x = ops.parameter([1, 3, 6, 6], np.float32, name="x")
    conv = _conv(x)
    shared = ops.add(conv, _w(1, 4, 1, 1))
    branch = ops.relu(shared)  # the biased conv is also a model output: the Relu cannot join
    m1 = ar.Model([shared, branch], [x])
    work, n = _fused(m1)
    assert n == 1 and _types(work) == ["GpuFusedProduct", "Relu"]

    x2 = ops.parameter([1, 3, 6, 6], np.float32, name="x")
    grows = ops.add(_conv(x2), _w(2, 4, 6, 6))  # a "bias" that broadcasts the batch: not a bias
    work, n = _fused(ar.Model([grows], [x2]))
    assert n == 0

    x3 = ops.parameter([2, 8], np.int32, name="x")
    ints = ops.relu(ops.add(ops.matmul(x3, np.ones((8, 4), np.int32), False, False), np.ones(4, np.int32)))
    assert _fused(ar.Model([ints], [x3]))[1] == 0  # integer products keep their ops

    x4 = ops.parameter([2, 8], np.float32, name="x")
    lone = ops.matmul(x4, _w(8, 4), False, False)
    assert _fused(ar.Model([lone], [x4]))[1] == 0  # nothing to fuse


def test_a_tail_cupy_fuse_cannot_compile_runs_as_separate_kernels(gpu):
    gpu.fuse_fails = True
    x = ops.parameter([1, 3, 6, 6], np.float32, name="x")
    model = ar.Model([ops.sigmoid(ops.add(_conv(x), _w(1, 4, 1, 1)))], [x])
    _check(model, [_x(1, 3, 6, 6)], gpu)
    assert gpu.fused_calls == 0


def test_f16_tail_keeps_the_product_type(gpu):
    x = ops.parameter([2, 8], np.float32, name="x")
    y = ops.relu(ops.add(ops.matmul(x, _w(8, 4), False, False), _w(4)))
    model = ar.Model([y], [x])
    data = _x(2, 8)
    want = ar.Core().compile_model(model, "CPU", F32)([data])[0]
    got = ar.Core().compile_model(model, "GPU")([data])[0]  # f16 inside
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("act", ["gelu_erf", "gelu_tanh", "sigmoid", "tanh"])
def test_f16_transcendental_activations_join_the_tail_in_f32(gpu, act):
    """An f16 product's Gelu/Sigmoid/Tanh joins the fused tail and computes there in f32, rounding
    once: the same values as the unfused f16 graph (whose activation kernel computes in f32)."""
    x = ops.parameter([3, 8], np.float32, name="x")
    pre = ops.add(ops.matmul(x, _w(8, 4), False, False), _w(4))
    post = {"gelu_erf": lambda t: ops.gelu(t, "erf"), "gelu_tanh": lambda t: ops.gelu(t, "tanh"),
            "sigmoid": ops.sigmoid, "tanh": ops.tanh}[act](pre)
    model = ar.Model([post], [x])
    c = ar.Core().compile_model(model, "GPU", {"PERF_COUNT": True})  # f16
    executed = [(r.node_type, r.exec_type) for r in c._plan.records if r.status == "EXECUTED"]
    name = act.split("_")[0]
    assert ("GpuFusedProduct", f"cupy_fused_matmul_bias_{name}") in executed, executed
    data = _x(3, 8) * 3
    # CPU at f16 runs the activation as its own kernel (f32 inside, rounded to f16): the same rounding
    unfused = ar.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f16"})([data])[0]
    np.testing.assert_allclose(c([data])[0], unfused, rtol=1e-3, atol=1e-3)
    assert gpu.fused_calls > 0


def test_the_fused_tail_reports_whether_cupy_fuse_took_it(gpu):
    x = ops.parameter([2, 8], np.float32, name="x")
    model = ar.Model([ops.relu(ops.add(ops.matmul(x, _w(8, 4), False, False), _w(4)))], [x])
    c = ar.Core().compile_model(model, "GPU", F32)
    cells = [cell.cell_contents for cell in c._plan.fn._run.__closure__]  # the generated plan's kernels
    fused = [k for k in cells if hasattr(getattr(k, "kernel", None), "tail_is_fused")]
    assert len(fused) == 1 and fused[0].kernel.tail_is_fused()
