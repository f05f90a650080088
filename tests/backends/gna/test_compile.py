"""Static quantisation decisions: input scale factors, requantisation, what the compiled model
exposes, and the accuracy of the emulation on a keyword-spotting model."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from arrayrt.backends.gna import GnaBackend
from arrayrt.backends.gna.compiler import GnaScaleWarning

import arrayrt
import arrayrt.opset as ops
from arrayrt.errors import CompileError
from arrayrt.testing.models import lstm_kws, make_model

from . import _reference as R

RNG = np.random.default_rng(7)


def fc_model(name="x", shape=(2, 16)):
    x = ops.parameter(list(shape), np.float32, name=name)
    W = RNG.normal(0, 0.3, (4, shape[-1])).astype(np.float32)
    return arrayrt.Model([ops.matmul(x, W, False, True, name="fc")], [x], "m")


def input_scale(config, model=None):
    plan = GnaBackend(config).compile(model or fc_model())
    return plan.gna.inputs[0]["output_scale"], plan.gna.inputs[0]["scale_source"]


def test_input_scale_precedence():
    data = {"x": np.full((3, 2, 16), 0.5, np.float32)}
    assert input_scale({"GNA_SCALE_FACTOR_PER_INPUT": {"x": 100.0}, "GNA_SCALE_FACTOR_0": 200.0,
                        "GNA_CALIBRATION_DATA": data}) == (100.0, "GNA_SCALE_FACTOR_PER_INPUT[x]")
    assert input_scale({"GNA_SCALE_FACTOR_0": 200.0, "GNA_CALIBRATION_DATA": data}) == (200.0, "GNA_SCALE_FACTOR_0")
    assert input_scale({"GNA_SCALE_FACTOR": 300.0}) == (300.0, "GNA_SCALE_FACTOR_0")
    assert input_scale({"GNA_CALIBRATION_DATA": data}) == (32768.0, "calibration")


@pytest.mark.parametrize("data", [
    {0: [np.array([[0.25, -2.0]]), np.array([[1.0, 0.0]])]},
    [[np.array([[0.25, -2.0]])], [np.array([[1.0, 0.0]])]],
    [{"x": np.array([[0.25, -2.0]])}, {"x": np.array([[1.0, 0.0]])}],
], ids=["by_index", "sample_lists", "sample_dicts"])
def test_calibration_formats(data):
    assert input_scale({"GNA_CALIBRATION_DATA": data}, fc_model(shape=(1, 2))) == (8192.0, "calibration")


def test_default_scale_warns():
    with pytest.warns(GnaScaleWarning, match=r"inputs \['x'\] have no scale factor"):
        assert input_scale({}) == (1.0, "default")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GnaBackend({"GNA_DEVICE_MODE": "GNA_SW_FP32"}).compile(fc_model())


def test_fake_quantize_statistics_give_the_input_scale():
    x = ops.parameter([1, 16], np.float32, name="x")
    lo, hi = np.array(-2.0, np.float32), np.array(2.0, np.float32)
    fq = ops.fake_quantize(x, lo, hi, lo, hi, 65536)
    W = RNG.normal(0, 0.3, (4, 16)).astype(np.float32)
    plan = GnaBackend().compile(arrayrt.Model([ops.matmul(fq, W, False, True, name="fc")], [x], "m"))
    s = plan.gna.layers[0]["output_scale"]
    assert s == R.f32(32767 / 2.0) and plan.gna.inputs[0]["scale_source"] == "FakeQuantize statistics"
    xv = np.linspace(-3, 3, 16, dtype=np.float32).reshape(1, 16)  # beyond [-2, 2] is clamped
    want = R.affine16(np.clip(R.q16(xv, s), R.q16([-2.0], s)[0], R.q16([2.0], s)[0]),
                      R.q16(W, R.f32(16384 / np.abs(W).max())), [0] * 4)
    np.testing.assert_array_equal(plan.gna.run_integers(xv)[0], want)


def test_concat_inputs_are_brought_to_one_scale():
    x = ops.parameter([1, 16], np.float32, name="x")
    W1, W2 = (RNG.normal(0, 0.3, (8, 16)).astype(np.float32) for _ in range(2))
    a = ops.sigmoid(ops.matmul(x, W1, False, True), name="a")  # 2048
    b = ops.relu(ops.matmul(x, W2, False, True), name="b")  # another scale
    cat = ops.concat([a, b], 1, name="cat")
    out = ops.matmul(cat, RNG.normal(0, 0.3, (4, 16)).astype(np.float32), False, True, name="fc")
    model = arrayrt.Model([out], [x], "m")
    plan = GnaBackend({"GNA_SCALE_FACTOR_0": 8192.0}).compile(model)
    sa, sb, sc = (plan.gna.layer(n)["output_scale"] for n in ("a", "b", "cat"))
    assert sa == sb == sc and sc < 2048
    xv = RNG.uniform(-1, 1, (1, 16)).astype(np.float32)
    want = arrayrt.Core().compile_model(model, "CPU")(xv)[0]
    np.testing.assert_allclose(plan(xv)[0], want, atol=5e-3)


def test_eltwise_weight_made_integral_by_requantising_an_activation():
    x = ops.parameter([1, 16], np.float32, name="x")
    a = ops.sigmoid(ops.matmul(x, RNG.normal(0, 0.3, (8, 16)).astype(np.float32), False, True), name="a")
    b = ops.relu(ops.matmul(x, RNG.normal(0, 0.3, (8, 16)).astype(np.float32), False, True), name="b")
    plan = GnaBackend({"GNA_SCALE_FACTOR_0": 8192.0}).compile(
        arrayrt.Model([ops.add(a, b, name="sum")], [x], "m"))
    sa, sb = plan.gna.layer("a")["output_scale"], plan.gna.layer("b")["output_scale"]
    info = plan.gna.layer("sum")
    assert info["bias_input"] == "a" and sa / sb == info["weight"] and info["weight"] == 2


def test_layer_info_and_profiling():
    x = ops.parameter([1, 8, 16], np.float32, name="x")
    W = RNG.normal(0, 0.3, (8, 8, 3)).astype(np.float32)
    y = ops.relu(ops.add(ops.convolution(x, W, [1], [1], [1], [1], name="conv"), np.zeros((1, 8, 1), np.float32),
                         name="bias"), name="relu")
    plan = GnaBackend({"GNA_SCALE_FACTOR_0": 4096.0, "PERF_COUNT": True}).compile(arrayrt.Model([y], [x], "m"))
    conv = plan.gna.layer("conv")
    assert conv["type"] == "GnaConvolution" and conv["origin"] == ["conv", "bias"]
    assert conv["weight_precision"] == "i16" and conv["input_scales"] == [4096.0]
    relu = plan.gna.layer("relu")
    assert relu["pwl_segments"] == 2 and relu["fused_into"] == "conv" and relu["output_precision"] == "i16"
    assert plan.gna.hardware_layers == 1 and plan.gna.outputs[0]["scale"] == relu["output_scale"]
    plan(RNG.uniform(-1, 1, (1, 8, 16)).astype(np.float32))
    rec = {r.node_name: r for r in plan.records}
    assert rec["conv"].exec_type == "gna_convolution_sw_exact" and rec["relu"].node_type == "GnaPwl"
    assert all(r.real_time > 0 for r in plan.records if r.status == "EXECUTED")


def kws_snr(precision: str) -> float:
    model = make_model(ops, lstm_kws, "kws", frames=12, features=16, hidden=16)
    logits = arrayrt.Model([model.get_results()[0].input_value(0).node.input_value(0)], model.get_parameters(),
                           "logits")
    rng = np.random.default_rng(0)
    calibration = {"mfcc": rng.uniform(-1, 1, (4, 1, 12, 16)).astype(np.float32)}
    plan = GnaBackend({"GNA_CALIBRATION_DATA": calibration, "INFERENCE_PRECISION_HINT": precision}).compile(logits)
    cpu = arrayrt.Core().compile_model(logits, "CPU")
    signal = noise = 0.0
    for _ in range(4):
        xv = rng.uniform(-1, 1, (1, 12, 16)).astype(np.float32)
        want = cpu(xv)[0].astype(np.float64)
        signal += float(np.sum(want ** 2))
        noise += float(np.sum((plan(xv)[0] - want) ** 2))
    return 10 * np.log10(signal / noise)


@pytest.mark.parametrize("precision,floor", [("i16", 40.0), ("i8", 25.0)])
def test_keyword_spotting_snr(precision, floor):
    assert kws_snr(precision) >= floor


def test_concat_of_inputs_with_different_explicit_scales_names_the_layer():
    a, b = (ops.parameter([1, 8], np.float32, name=n) for n in "ab")
    cat = ops.concat([a, b], 1, name="cat")
    model = arrayrt.Model([ops.matmul(cat, np.ones((2, 16), np.float32), False, True)], [a, b], "m")
    with pytest.raises(CompileError, match="'cat': inputs with fixed scale factors \\[100.0, 200.0\\]"):
        GnaBackend({"GNA_SCALE_FACTOR_0": 100.0, "GNA_SCALE_FACTOR_1": 200.0}).compile(model)
