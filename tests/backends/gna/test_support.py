"""GNA's allow-list and limits per execution target, errors for bad input, HETERO fallback."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from arrayrt.backends.gna import GnaBackend, limits

import arrayrt
import arrayrt.opset as ops
from arrayrt.errors import CompileError, DeviceError, UnsupportedOpError

RNG = np.random.default_rng(3)


def w(*shape):
    return RNG.normal(0, 0.3, shape).astype(np.float32)


def p(*shape, name="x", dtype=np.float32):
    return ops.parameter(list(shape), dtype, name=name)


def conv(x_shape, filters, kernel, strides=None, dilations=None):
    x = p(*x_shape)
    nd = len(kernel)
    return ops.convolution(x, w(filters, x_shape[1], *kernel), strides or [1] * nd, [0] * nd, [0] * nd,
                           dilations or [1] * nd)


def lstm(batch=1, clip=0.0, acts=None, lengths=None):
    x, h, c = p(batch, 4, 8), p(batch, 1, 4, name="h"), p(batch, 1, 4, name="c")
    seq = lengths if lengths is not None else np.full(batch, 4, np.int32)
    return ops.lstm_sequence(x, h, c, seq, w(1, 16, 8), w(1, 16, 4), w(1, 16), 4, "forward", activations=acts,
                             clip=clip)


# (node builder, target, None if supported else a fragment of the reason)
CASES = {
    "matmul_batch8": (lambda: ops.matmul(p(8, 16), w(4, 16), False, True), "GNA_3_0", None),
    "matmul_batch9": (lambda: ops.matmul(p(9, 16), w(4, 16), False, True), "GNA_3_0", "affine batch 9"),
    "matmul_rank3_rows": (lambda: ops.matmul(p(1, 49, 16), w(4, 16), False, True), "GNA_3_0", "affine batch 49"),
    "matmul_variable_weights": (lambda: ops.matmul(p(2, 16), p(4, 16, name="w"), False, True), "GNA_3_0",
                                "not constant"),
    "matmul_transpose_a": (lambda: ops.matmul(p(16, 2), w(4, 16), True, True), "GNA_3_0", "transpose_a"),
    "conv1d": (lambda: conv((1, 8, 32), 32, [3]), "GNA_2_0", None),
    "conv1d_filters_30": (lambda: conv((1, 8, 32), 30, [3]), "GNA_3_0", "30 filters"),
    "conv1d_filter_size": (lambda: conv((1, 100, 32), 8, [8]), "GNA_3_0", "800 coefficients"),
    "conv1d_dilation": (lambda: conv((1, 8, 32), 8, [3], dilations=[2]), "GNA_3_0", "dilation"),
    "conv1d_stride_over_kernel": (lambda: conv((1, 8, 32), 8, [2], strides=[3]), "GNA_3_0", "larger than the kernel"),
    "conv1d_batch2": (lambda: conv((2, 8, 32), 8, [3]), "GNA_3_0", "batch 2"),
    "conv1d_buffer": (lambda: conv((1, 8, 5000), 8, [3]), "GNA_3_0", "buffer"),
    "conv2d_on_gna2": (lambda: conv((1, 8, 16, 16), 8, [3, 3]), "GNA_2_0", "GNA 2.0 has no 2-D"),
    "conv2d_on_gna3": (lambda: conv((1, 8, 16, 16), 8, [3, 3]), "GNA_3_0", None),
    "conv2d_channels_gna3": (lambda: conv((1, 3, 16, 16), 8, [3, 3]), "GNA_3_0", "3 input channels"),
    "conv2d_channels_gna35": (lambda: conv((1, 3, 16, 16), 8, [3, 3]), "GNA_3_5", None),
    "conv2d_kernel_gna3": (lambda: conv((1, 64, 16, 16), 8, [7, 7]), "GNA_3_0", "kernel 7x7"),
    "conv_as_1d_rank4": (lambda: conv((1, 8, 1, 32), 8, [1, 3]), "GNA_2_0", None),
    "pool_after_conv": (lambda: ops.max_pool(ops.relu(conv((1, 8, 32), 8, [3])), [2], [1], [0], [0], [2]),
                        "GNA_3_0", None),
    "pool_window_7": (lambda: ops.max_pool(conv((1, 8, 32), 8, [3]), [7], [1], [0], [0], [7]), "GNA_3_0",
                      "pools up to 6"),
    "pool_without_conv": (lambda: ops.max_pool(p(1, 8, 32), [2], [1], [0], [0], [2]), "GNA_3_0",
                          "output of a convolution"),
    "pool2d_gna3_4x4": (lambda: ops.max_pool(conv((1, 8, 16, 16), 8, [3, 3]), [4, 4], [1, 1], [0, 0], [0, 0],
                                             [4, 4]), "GNA_3_0", "square windows up to 3x3"),
    "softmax": (lambda: ops.softmax(p(1, 8), 1), "GNA_3_0", "not in GNA's allow-list"),
    "add_broadcast_tensors": (lambda: ops.add(p(2, 8), p(1, 8, name="y")), "GNA_3_0", "only from constants"),
    "add_const_broadcast_up": (lambda: ops.add(p(1, 8), w(4, 8)), "GNA_3_0", "larger shape"),
    "divide_by_tensor": (lambda: ops.divide(p(2, 8), p(2, 8, name="y")), "GNA_3_0", "only by a constant"),
    "divide_by_const": (lambda: ops.divide(p(2, 8), w(8) + 2), "GNA_3_0", None),
    "prelu_per_channel": (lambda: ops.prelu(p(1, 4, 8), w(4)), "GNA_3_0", "one constant slope"),
    "power_tensor": (lambda: ops.power(p(2, 8), p(2, 8, name="y")), "GNA_3_0", "constant exponent"),
    "fq_per_channel": (lambda: ops.fake_quantize(p(1, 4), *(w(1, 4) for _ in range(4)), 256), "GNA_3_0",
                       "per-tensor"),
    "concat_first_axis": (lambda: ops.concat([ops.relu(p(1, 8)), ops.relu(p(1, 4, name="y"))], 1), "GNA_3_0",
                          None),
    "concat_inner_axis": (lambda: ops.concat([ops.relu(p(2, 8)), ops.relu(p(2, 4, name="y"))], 1), "GNA_3_0",
                          "first non-unit axis"),
    "transpose_layout": (lambda: ops.transpose(p(1, 49, 40), np.array([0, 2, 1])), "GNA_3_0", None),
    "transpose_2d_small_side": (lambda: ops.transpose(p(8, 24), np.array([1, 0])), "GNA_3_0", None),
    "transpose_2d_large": (lambda: ops.transpose(p(16, 24), np.array([1, 0])), "GNA_3_0", "side of at most 8"),
    "lstm": (lambda: lstm(), "GNA_3_0", None),
    "lstm_clip": (lambda: lstm(clip=3.0), "GNA_3_0", "clip"),
    "lstm_relu": (lambda: lstm(acts=["sigmoid", "relu", "tanh"]), "GNA_3_0", "activations"),
    "lstm_batch9": (lambda: lstm(batch=9), "GNA_3_0", "batch 9"),
    "lstm_short_lengths": (lambda: lstm(lengths=np.array([3], np.int32)), "GNA_3_0", "sequence_lengths"),
    "dynamic_shape": (lambda: ops.relu(ops.parameter([-1, 8], np.float32)), "GNA_3_0", "dynamic"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_supports(case):
    build, target, reason = CASES[case]
    node = build()
    got = GnaBackend({"GNA_HW_EXECUTION_TARGET": target}).why_not(node)
    if reason is None:
        assert got is None
    else:
        assert got is not None and reason in got


@pytest.mark.parametrize("dtype,ok", [(np.float32, True), (np.int16, True), (np.uint8, True),
                                      (np.float16, False), (np.int32, False)])
def test_input_types(dtype, ok):
    assert GnaBackend().supports(p(1, 8, dtype=dtype)) is ok


def test_model_without_supported_layers_names_the_layer():
    x = p(1, 8)
    model = arrayrt.Model([ops.softmax(x, 1, name="probs")], [x], "m")
    with pytest.raises(UnsupportedOpError, match="name='probs', type=Softmax cannot run on GNA"):
        GnaBackend().compile(model)


def test_shape_over_the_limits_names_the_layer():
    x = p(16, 8)
    model = arrayrt.Model([ops.matmul(x, w(4, 8), False, True, name="fc")], [x], "m")
    with pytest.raises(UnsupportedOpError, match="name='fc', type=MatMul cannot run on GNA.*affine batch 16 .*exceeds GNA's limit of 8"):
        GnaBackend().compile(model)


def test_layer_count_limit(monkeypatch):
    monkeypatch.setitem(limits.MAX_LAYERS, "GNA_3_0", 1)
    x = p(1, 8)
    y = ops.sigmoid(ops.matmul(ops.tanh(ops.matmul(x, w(8, 8), False, True)), w(8, 8), False, True))
    with pytest.raises(CompileError, match="needs 2 layers; GNA_3_0 runs at most 1"):
        GnaBackend({"GNA_SCALE_FACTOR_0": 1000}).compile(arrayrt.Model([y], [x], "m"))


@pytest.mark.parametrize("key,value,fragment", [
    ("GNA_SCALE_FACTOR_0", 0, "positive"),
    ("GNA_SCALE_FACTOR_1", -2.0, "positive"),
    ("GNA_SCALE_FACTOR_0", math.nan, "positive and finite"),
    ("GNA_SCALE_FACTOR", "abc", "must be a number"),
    ("GNA_SCALE_FACTOR_PER_INPUT", {"x": 0.0}, "positive"),
    ("GNA_SCALE_FACTOR_PER_INPUT", 3.0, "mapping"),
    ("GNA_DEVICE_MODE", "GNA_HW", "needs GNA hardware"),
    ("GNA_DEVICE_MODE", "FAST", "GNA_SW_EXACT"),
    ("GNA_HW_EXECUTION_TARGET", "GNA_9_9", "GNA_3_0"),
    ("GNA_PWL_MAX_ERROR_PERCENT", 0, "positive"),
    ("INFERENCE_PRECISION_HINT", "f16", "i16 or i8"),
])
def test_bad_properties(key, value, fragment):
    with pytest.raises(DeviceError, match=f"property '{key}'.*{fragment}"):
        GnaBackend({key: value})


@pytest.fixture
def gna_core():
    return arrayrt.Core()


def test_hetero_runs_what_gna_refuses_on_cpu(gna_core):
    x = p(16, 8)
    h = ops.tanh(ops.matmul(x, w(8, 8), False, True, name="big_batch_fc"), name="t")  # batch 16: CPU
    y = ops.reshape(h, np.array([2, 64]), False, name="r")
    y = ops.sigmoid(ops.add(ops.matmul(y, w(4, 64), False, True, name="fc"), w(4), name="b"), name="s")
    out = ops.softmax(ops.concat([y, ops.relu(y, name="relu")], 1, name="cat"), 1, name="probs")
    model = arrayrt.Model([out], [x], "m")
    # the GNA part starts at the output of the CPU's MatMul: its scale factor goes by that node's name
    gna_core.set_property("GNA", {"GNA_SCALE_FACTOR_PER_INPUT": {"big_batch_fc": 8192.0}})
    cm = gna_core.compile_model(model, "HETERO:GNA,CPU")
    devices = cm._node_devices
    assert devices["big_batch_fc"] == "CPU" and devices["probs"] == "CPU" and devices["fc"] == "GNA"
    xv = RNG.uniform(-1, 1, (16, 8)).astype(np.float32)
    want = gna_core.compile_model(model, "CPU")(xv)[0]
    np.testing.assert_allclose(cm(xv)[0], want, atol=2e-3)


def test_query_model_and_hetero_of_an_unsupported_only_model(gna_core):
    x = p(1, 8)
    model = arrayrt.Model([ops.softmax(x, 1, name="probs")], [x], "m")
    assert "probs" not in gna_core.query_model(model, "GNA")
    cm = gna_core.compile_model(model, "HETERO:GNA,CPU")
    assert cm.get_property("EXECUTION_DEVICES") == ["CPU"]


def test_op_level_answer_for_the_support_matrix():
    from arrayrt.ir.ops import get_op

    b = GnaBackend()
    assert b.why_not_op(get_op("LSTMSequence")) is None and b.why_not_op(get_op("MaxPool")) is None
    assert "allow-list" in b.why_not_op(get_op("Softmax"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_hetero_never_errors_for_an_op_cpu_runs(case, gna_core):
    node = CASES[case][0]()
    outputs = [o for o in node.outputs() if o.get_element_type().is_real]
    model = arrayrt.Model(outputs, None, case)
    inputs = [RNG.uniform(0.1, 1, [d.min if d.is_static else 2 for d in p_.output(0).get_partial_shape()])
              .astype(p_.output(0).get_element_type().to_dtype()) for p_ in model.get_parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = gna_core.compile_model(model, "HETERO:GNA,CPU")(inputs)
    want = gna_core.compile_model(model, "CPU")(inputs)
    for g, e in zip(got.values(), want.values()):
        assert g.shape == e.shape and np.all(np.isfinite(g))


def test_runtime_model_carries_gna_layer_facts(gna_core):
    x = p(2, 8)
    y = ops.sigmoid(ops.add(ops.matmul(x, w(4, 8), False, True, name="fc"), w(4), name="b"), name="s")
    model = arrayrt.Model([y], [x], "m")
    gna_core.set_property("GNA", {"GNA_SCALE_FACTOR_0": 2048.0})
    cm = gna_core.compile_model(model, "HETERO:GNA,CPU")
    nodes = {n.friendly_name: n.rt_info for n in cm.get_runtime_model().get_ordered_ops()}
    assert nodes["fc"]["device"] == "GNA"
    layers = nodes["fc"]["gna"]
    assert layers and layers[0]["output_scale"] > 0 and "input_scales" in layers[0]
    assert any("pwl_segments" in d for name in ("s", "b", "fc") for d in nodes[name].get("gna", []))
