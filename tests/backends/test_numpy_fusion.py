"""The numpy backend's fusions: conv + bias + activation, dense (MatMul + bias + activation), layer norm."""
from __future__ import annotations

import collections

import numpy as np
import pytest
from arrayrt.backends.numpy import compiled

import arrayrt as ar
import arrayrt.opset as ops

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (1, 4, 9, 9)).astype(np.float32)
W = RNG.uniform(-1, 1, (6, 4, 3, 3)).astype(np.float32)
B = RNG.uniform(-1, 1, (1, 6, 1, 1)).astype(np.float32)


def build(act, extra_output=False, grouped=False):
    x = ops.parameter([1, 4, 9, 9], np.float32, name="x")
    if grouped:
        conv = ops.group_convolution(x, RNG.uniform(-1, 1, (4, 1, 1, 3, 3)).astype(np.float32), [1, 1],
                                     [1, 1], [1, 1], [1, 1], name="conv")
        bias = B[:, :4]
    else:
        conv = ops.convolution(x, W, [2, 2], [1, 1], [1, 1], [1, 1], name="conv")
        bias = B
    y = ops.add(conv, bias, name="bias")
    if act == "relu":
        y = ops.relu(y, name="act")
    elif act == "clamp":
        y = ops.clamp(y, 0.0, 0.5, name="act")
    outs = [y, conv] if extra_output else [y]
    return ar.Model(outs, [x])


def exec_types(compiled):
    return collections.Counter(r.exec_type for r in compiled._plan.records)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("act", [None, "relu", "clamp"])
def test_fused_equals_unfused(act, grouped):
    model = build(act, grouped=grouped)
    fused = ar.compile_model(model, "CPU")
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_allclose(fused([X])[0], reference([X])[0], rtol=1e-5, atol=1e-6)
    kinds = exec_types(fused)
    library = "numba" if grouped and compiled.available() else "numpy"  # the depthwise loop is compiled
    assert sum(n for k, n in kinds.items() if k.startswith(f"{library}_fused_conv_bias")) == 1
    runtime = {n.friendly_name: n.rt_info for n in fused.get_runtime_model().get_ordered_ops()}
    last = "act" if act else "bias"
    assert runtime[last]["originalLayersNames"].split(",") == ["conv", "bias"] + (["act"] if act else [])


def test_no_fusion_when_the_conv_output_is_also_a_model_output():
    model = build("relu", extra_output=True)
    c = ar.compile_model(model, "CPU")
    assert not any(k.startswith("numpy_fused") for k in exec_types(c))
    y, conv = c([X])[0], c([X])[1]
    np.testing.assert_allclose(y, np.maximum(conv + B, 0), rtol=1e-6)


def test_the_users_model_is_not_changed():
    model = build("relu")
    before = [n.type_name for n in model.get_ordered_ops()]
    ar.compile_model(model, "CPU")
    assert [n.type_name for n in model.get_ordered_ops()] == before


def residual_block(act, residual="identity", grouped=False):
    """conv -> bias -> Add(residual) [-> act]: the tail of a ResNet basic block (Relu) or of a
    MobileNetV2 inverted residual (none, depthwise when ``grouped``)."""
    x = ops.parameter([1, 4, 9, 9], np.float32, name="x")
    if grouped:
        conv = ops.group_convolution(x, RNG.uniform(-1, 1, (4, 1, 1, 3, 3)).astype(np.float32), [1, 1],
                                     [1, 1], [1, 1], [1, 1], name="conv")
    else:
        conv = ops.convolution(x, W[:4], [1, 1], [1, 1], [1, 1], [1, 1], name="conv")
    y = ops.add(conv, B[:, :4], name="bias")
    r = ops.parameter([1, 4, 1, 9], np.float32, name="r")
    other = {"identity": x, "broadcast": ops.relu(r), "self": y}[residual]
    y = ops.add(other, y, name="sum")  # the residual first: either order is fused
    if act == "relu":
        y = ops.relu(y, name="act")
    elif act == "clamp":
        y = ops.clamp(y, -0.2, 0.7, name="act")
    return ar.Model([y], [x, r] if residual == "broadcast" else [x])


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("act", [None, "relu", "clamp"])
def test_residual_add_fused(act, grouped, numba, monkeypatch):
    if numba and not compiled.available():
        pytest.skip("numba is not installed")
    monkeypatch.setenv(compiled.ENV, "1" if numba else "0")
    if numba:
        compiled.warm_up()  # loaded: the plain convolutions' epilogues run compiled too
    model = residual_block(act, grouped=grouped)
    fused = ar.compile_model(model, "CPU")
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_allclose(fused([X])[0], reference([X])[0], rtol=1e-5, atol=1e-6)
    kinds = exec_types(fused)
    want = ("numba" if numba and grouped else "numpy") + "_fused_conv_bias_residual" + (f"_{act}" if act else "")
    assert kinds[want] == 1 and set(kinds) <= {want, "parameter", "result"}, kinds
    runtime = {n.friendly_name: n for n in fused.get_runtime_model().get_ordered_ops()}
    last = runtime["act" if act else "sum"]
    assert last.type_name == "FusedConvolution" and last.get_input_size() == 3
    assert last.rt_info["originalLayersNames"].split(",") == ["conv", "bias", "sum"] + (["act"] if act else [])


@pytest.mark.parametrize("residual", ["broadcast", "self"])
def test_residual_not_fused_when_it_broadcasts_or_is_the_conv_itself(residual):
    model = residual_block("relu", residual)
    c = ar.compile_model(model, "CPU")
    runtime = {n.friendly_name: n for n in c.get_runtime_model().get_ordered_ops()}
    assert runtime["bias"].type_name == "FusedConvolution" and runtime["sum"].type_name == "Add"
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    inputs = [X] + ([RNG.normal(size=(1, 4, 1, 9)).astype(np.float32)] if residual == "broadcast" else [])
    np.testing.assert_allclose(c(inputs)[0], reference(inputs)[0], rtol=1e-5, atol=1e-6)


def inverted_residual(act, size, stride, extra_reader=False):
    """expand (1x1 conv, bias, act) -> depthwise 3x3 (bias, Clamp): MobileNetV2's first two layers."""
    x = ops.parameter([1, 4, size, size], np.float32, name="x")
    e = ops.convolution(x, RNG.uniform(-1, 1, (12, 4, 1, 1)).astype(np.float32), [1, 1], [0, 0], [0, 0], [1, 1],
                        name="expand")
    e = ops.add(e, RNG.uniform(-1, 1, (1, 12, 1, 1)).astype(np.float32), name="expand/bias")
    if act == "relu":
        e = ops.relu(e, name="expand/act")
    elif act == "clamp":
        e = ops.clamp(e, 0.0, 0.6, name="expand/act")
    d = ops.group_convolution(e, RNG.uniform(-1, 1, (12, 1, 1, 3, 3)).astype(np.float32), [stride, stride],
                              [1, 1], [1, 1], [1, 1], name="dw")
    d = ops.add(d, RNG.uniform(-1, 1, (1, 12, 1, 1)).astype(np.float32), name="dw/bias")
    d = ops.clamp(d, 0.0, 6.0, name="dw/act")
    return ar.Model([d, ops.relu(e, name="other")] if extra_reader else [d], [x])


@pytest.mark.parametrize("size,stride", [(40, 1), (50, 2), (7, 1), (9, 2)])  # row by row, channels-last
@pytest.mark.parametrize("act", [None, "relu", "clamp"])
def test_expand_epilogue_deferred_into_the_depthwise_copy(act, size, stride):
    if not compiled.available():
        pytest.skip("numba is not installed")
    model = inverted_residual(act, size, stride)
    fused = ar.compile_model(model, "CPU")
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    x = RNG.uniform(-1, 1, (1, 4, size, size)).astype(np.float32)
    np.testing.assert_allclose(fused([x])[0], reference([x])[0], rtol=1e-5, atol=2e-6)
    assert exec_types(fused) == {"numpy_conv_epilogue_deferred": 1,
                                 "numba_fused_conv_bias_clamp_with_input_epilogue": 1}
    runtime = {n.friendly_name: n for n in fused.get_runtime_model().get_ordered_ops()}
    names = runtime["dw/act"].rt_info["originalLayersNames"].split(",")
    assert names == [f"{n} (input)" for n in ["expand/bias"] + (["expand/act"] if act else [])] + \
        ["dw", "dw/bias", "dw/act"]


@pytest.mark.parametrize("case", ["extra_reader", "numba_off"])
def test_expand_epilogue_kept_when_another_layer_reads_it_or_numba_is_off(case, monkeypatch):
    if case == "numba_off":
        monkeypatch.setenv(compiled.ENV, "0")
    model = inverted_residual("clamp", 40, 1, extra_reader=case == "extra_reader")
    fused = ar.compile_model(model, "CPU")
    kinds = exec_types(fused)
    assert "numpy_conv_epilogue_deferred" not in kinds and kinds["numpy_fused_conv_bias_clamp"] >= 1
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    x = RNG.uniform(-1, 1, (1, 4, 40, 40)).astype(np.float32)
    for got, want in zip(fused([x]).values(), reference([x]).values()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


# --- dense layers and layer norms ---------------------------------------------------------------
XS = RNG.normal(size=(2, 5, 8)).astype(np.float32)
WD = RNG.normal(size=(8, 6)).astype(np.float32)
BD = RNG.normal(size=(6,)).astype(np.float32)


def dense_model(act=None, transpose_b=False, bias=BD, extra_output=False):
    x = ops.parameter([2, 5, 8], np.float32, name="x")
    mm = ops.matmul(x, WD.T.copy() if transpose_b else WD, False, transpose_b, name="mm")
    y = ops.add(mm, bias, name="bias")
    if act == "relu":
        y = ops.relu(y, name="act")
    elif act:
        y = ops.gelu(y, act, name="act")
    return ar.Model([y, mm] if extra_output else [y], [x])


@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("act", [None, "relu", "erf", "tanh"])
@pytest.mark.parametrize("numba", [True, False])
def test_dense_layer_fused_equals_unfused(act, transpose_b, numba, monkeypatch):
    if numba and not compiled.available():
        pytest.skip("numba is not installed")
    monkeypatch.setenv(compiled.ENV, "1" if numba else "0")
    model = dense_model(act, transpose_b)
    fused = ar.compile_model(model, "CPU")
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_allclose(fused([XS])[0], reference([XS])[0], rtol=1e-5, atol=1e-6)
    kinds = [r.exec_type for r in fused._plan.records if r.status == "EXECUTED"]
    suffix = {None: "", "relu": "_relu", "erf": "_gelu_erf", "tanh": "_gelu_tanh"}[act]
    library = "numba" if numba and act == "erf" else "numpy"  # the erf GELU runs compiled (bias included)
    assert kinds == [library + "_fused_gemm_bias" + suffix]
    runtime = {n.friendly_name: n for n in fused.get_runtime_model().get_ordered_ops()}
    last = runtime["act" if act else "bias"]
    assert last.type_name == "FusedMatMul"
    assert last.rt_info["originalLayersNames"].split(",") == ["mm", "bias"] + (["act"] if act else [])


@pytest.mark.parametrize("case", ["bias_along_rows", "matmul_read_elsewhere"])
def test_dense_layer_not_fused(case):
    rows = RNG.normal(size=(5, 1)).astype(np.float32)
    model = dense_model(bias=rows) if case == "bias_along_rows" else dense_model(extra_output=True)
    c = ar.compile_model(model, "CPU")
    assert not any(r.exec_type.startswith("numpy_fused") for r in c._plan.records)
    out = c([XS])
    mm = XS @ WD
    np.testing.assert_allclose(out[0], mm + (rows if case == "bias_along_rows" else BD), rtol=1e-5, atol=1e-5)
    if case == "matmul_read_elsewhere":
        np.testing.assert_allclose(out[1], mm, rtol=1e-5, atol=1e-5)


def norm_model(shift=True, scale_shape=(8,)):
    x = ops.parameter([2, 5, 8], np.float32, name="x")
    y = ops.mvn(x, np.array([-1], np.int64), True, 1e-5, "inside_sqrt", name="mvn")
    y = ops.multiply(y, RNG.uniform(0.5, 2, scale_shape).astype(np.float32), name="scale")
    if shift:
        y = ops.add(y, RNG.normal(size=(8,)).astype(np.float32), name="shift")
    return ar.Model([y], [x])


@pytest.mark.parametrize("shift", [True, False])
def test_layer_norm_scale_shift_fused_equals_unfused(shift):
    model = norm_model(shift)
    fused = ar.compile_model(model, "CPU")
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_allclose(fused([XS])[0], reference([XS])[0], rtol=1e-5, atol=1e-5)
    assert [r.exec_type for r in fused._plan.records if r.status == "EXECUTED"] == ["numpy_fused_layer_norm"]
    names = {n.friendly_name: n for n in fused.get_runtime_model().get_ordered_ops()}
    assert names["shift" if shift else "scale"].rt_info["originalLayersNames"] == (
        "mvn,scale,shift" if shift else "mvn,scale")


def test_layer_norm_with_a_scale_along_another_axis_is_not_fused():
    model = norm_model(scale_shape=(5, 1))
    c = ar.compile_model(model, "CPU")
    assert "numpy_fused_layer_norm" not in [r.exec_type for r in c._plan.records]
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_allclose(c([XS])[0], reference([XS])[0], rtol=1e-5, atol=1e-5)
