"""Gelu fusion (ir/passes/gelu_fusion.py): the exporters' decompositions of GELU become one Gelu-7,
as OpenVINO's convert_model makes them; anything that is not exactly GELU is left alone."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arrayrt.ir.passes.gelu_fusion import fuse_gelu

import arrayrt as ar
import arrayrt.opset as ops

F = np.float32
X = np.random.default_rng(0).normal(0, 2, (3, 16)).astype(F)
GELU_ERF = 0.5 * X * (1 + np.vectorize(math.erf)(X.astype(np.float64) / math.sqrt(2)))


def c(v):
    return np.array(v, F)


def erf_forms(x):
    """The association orders exporters write (OpenVINO's GeluFusionWithErfOne..Four and more)."""
    e = ops.erf(ops.divide(x, c(math.sqrt(2))))
    return {
        "half_x_times": ops.multiply(ops.multiply(x, c(0.5)), ops.add(e, c(1.0))),
        "x_times_then_half": ops.multiply(ops.multiply(x, ops.add(c(1.0), e)), c(0.5)),
        "half_times_x": ops.multiply(x, ops.multiply(ops.add(e, c(1.0)), c(0.5))),
        "half_plus_half_erf": ops.multiply(x, ops.add(c(0.5), ops.multiply(
            ops.erf(ops.multiply(x, c(1 / math.sqrt(2)))), c(0.5)))),
        "rounded_constant": ops.multiply(ops.multiply(x, ops.add(ops.erf(ops.multiply(c(0.7071068), x)),
                                                                 c(1.0))), c(0.5)),
    }


def tanh_forms(x):
    inner = ops.multiply(c(math.sqrt(2 / math.pi)), ops.add(x, ops.multiply(ops.power(x, c(3.0)), c(0.044715))))
    cube = ops.multiply(ops.multiply(x, x), x)
    inner2 = ops.multiply(ops.add(x, ops.multiply(c(0.044715), cube)), c(math.sqrt(2 / math.pi)))
    return {
        "pow": ops.multiply(ops.multiply(x, c(0.5)), ops.add(c(1.0), ops.tanh(inner))),
        "x_x_x": ops.multiply(ops.multiply(ops.add(ops.tanh(inner2), c(1.0)), x), c(0.5)),
    }


def model_of(build, key):
    x = ops.parameter([3, 16], F, name="x")
    y = build(x)[key]
    return ar.Model([ops.result(y, name="y")], [x])


def types(model):
    return [n.type_name for n in model.get_ordered_ops()]


@pytest.mark.parametrize("key", list(erf_forms(ops.parameter([1], F))))
def test_erf_forms_become_gelu_erf(key):
    model = model_of(erf_forms, key)
    before = ar.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([X])[0]
    assert fuse_gelu(model) == 1
    assert types(model) == ["Parameter", "Gelu", "Result"]
    gelu = model.get_ordered_ops()[1]
    assert gelu.attrs["approximation_mode"] == "ERF" and gelu.version == "opset7"
    after = ar.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([X])[0]
    np.testing.assert_allclose(after, GELU_ERF, rtol=1e-6, atol=2e-6)
    np.testing.assert_allclose(before, GELU_ERF, rtol=1e-6, atol=2e-6)


@pytest.mark.parametrize("key", ["pow", "x_x_x"])
def test_tanh_forms_become_gelu_tanh(key):
    model = model_of(tanh_forms, key)
    assert fuse_gelu(model) == 1
    assert types(model) == ["Parameter", "Gelu", "Result"]
    assert model.get_ordered_ops()[1].attrs["approximation_mode"] == "TANH"
    x64 = X.astype(np.float64)
    want = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    np.testing.assert_allclose(ar.compile_model(model, "CPU")([X])[0], want, rtol=1e-5, atol=1e-6)


SQRT2 = math.sqrt(2)


def almost(x, half=0.5, scale=SQRT2):
    return ops.multiply(ops.multiply(x, c(half)), ops.add(ops.erf(ops.divide(x, c(scale))), c(1.0)))


@pytest.mark.parametrize("build", [
    lambda x, o: almost(x, half=0.6),                      # not 0.5
    lambda x, o: almost(x, scale=2.0),                     # erf(x / 2)
    lambda x, o: ops.multiply(ops.multiply(o, c(0.5)),
                              ops.add(ops.erf(ops.divide(x, c(math.sqrt(2)))), c(1.0))),  # another tensor
    lambda x, o: ops.multiply(x, ops.add(ops.erf(ops.divide(x, c(math.sqrt(2)))), c(1.0))),  # no 0.5
    lambda x, o: ops.multiply(ops.multiply(x, c(0.5)),
                              ops.add(ops.erf(ops.divide(x, c(math.sqrt(2)))), c(np.full((3, 1), 1.0, F)))),
], ids=["half", "scale", "other_tensor", "missing_half", "vector_constant"])
def test_near_misses_are_left_alone(build):
    x = ops.parameter([3, 16], F, name="x")
    other = ops.parameter([3, 16], F, name="other")
    model = ar.Model([ops.result(build(x, other), name="y")], [x, other])
    before = types(model)
    assert fuse_gelu(model) == 0
    assert types(model) == before


def test_an_intermediate_read_elsewhere_blocks_the_fusion():
    x = ops.parameter([3, 16], F, name="x")
    e = ops.add(ops.erf(ops.divide(x, c(math.sqrt(2)))), c(1.0))
    y = ops.multiply(ops.multiply(x, c(0.5)), e)
    model = ar.Model([ops.result(y, name="y"), ops.result(e, name="e")], [x])
    assert fuse_gelu(model) == 0


def test_names_move_to_the_gelu_and_cpu_fuses_at_compile_time():
    model = model_of(erf_forms, "x_times_then_half")
    last = model.get_results()[0].input_value(0).node
    last.friendly_name = "act"
    last.output(0).set_names({"hidden"})
    compiled = ar.compile_model(model, "CPU", {"PERF_COUNT": True})
    request = compiled.create_infer_request()
    np.testing.assert_allclose(request.infer([X])["hidden"], GELU_ERF, rtol=1e-6, atol=2e-6)
    runtime = {n.friendly_name: n for n in compiled.get_runtime_model().get_ordered_ops()}
    assert runtime["act"].type_name == "Gelu"
    fused = runtime["act"].rt_info["originalLayersNames"].split(",")
    assert [n.split("_")[0] for n in fused] == ["Erf", "Add", "Multiply", "act"]
    assert "Erf" in types(model)  # the user's model keeps its Erf


def test_convert_model_fuses_like_openvino(tmp_path):
    onnx = pytest.importorskip("onnx")
    ov = pytest.importorskip("openvino")
    from onnx import TensorProto, helper, numpy_helper

    def init(name, v):
        return numpy_helper.from_array(np.array(v, F), name)

    nodes = [helper.make_node("Div", ["x", "s2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["x", "a"], ["m"]),
             helper.make_node("Mul", ["m", "half"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 16])],
                              [init("s2", math.sqrt(2)), init("one", 1.0), init("half", 0.5)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    path = tmp_path / "gelu.onnx"
    onnx.save(proto, path)
    theirs = [n.get_type_name() for n in ov.convert_model(str(path)).get_ordered_ops()]
    ours = ar.convert_model(str(path))
    assert types(ours) == theirs == ["Parameter", "Gelu", "Result"]
    np.testing.assert_allclose(ar.compile_model(ours, "CPU")([X])[0], GELU_ERF, rtol=1e-6, atol=2e-6)
