"""convert_model / ``arrayrt convert`` options end to end: shapes, cuts, preprocessing, fp16, errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from arrayrt.tools import cli
from onnx import TensorProto, helper, numpy_helper

import arrayrt as ar


def chain_model(path=None, opset=17, batch="N"):
    """x -> Mul(2) -> pre -> Add(w) -> mid -> Relu -> y ; also mid -> Neg -> z"""
    w = numpy_helper.from_array(np.array([1, -2, 3], np.float32).reshape(3, 1, 1), "w")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [helper.make_node("Mul", ["x", "two"], ["pre"], name="scale"),
             helper.make_node("Add", ["pre", "w"], ["mid"], name="add"),
             helper.make_node("Relu", ["mid"], ["y"], name="relu"),
             helper.make_node("Neg", ["mid"], ["z"], name="neg")]
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [w, two])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if path is not None:
        onnx.save(m, path)
    return m


W = np.array([1, -2, 3], np.float32).reshape(1, 3, 1, 1)
X = np.random.default_rng(0).uniform(-2, 2, (2, 3, 4, 4)).astype(np.float32)


def run(model, *inputs):
    c = ar.compile_model(model, "CPU")
    r = c(list(inputs))
    return [r[i] for i in range(len(c.outputs))]


def test_dynamic_batch_by_default_and_static_override():
    m = ar.convert_model(chain_model())
    assert str(m.input(0).get_partial_shape()) == "[?,3,4,4]"
    y, z = run(m, X)
    np.testing.assert_allclose(y, np.maximum(2 * X + W, 0))
    np.testing.assert_allclose(z, -(2 * X + W))
    fixed = ar.convert_model(chain_model(), input={"x": [2, 3, 4, 4]})
    assert fixed.input(0).get_partial_shape().is_static
    ranged = ar.convert_model(chain_model(), input="x[1..4,3,4,4]")
    assert str(ranged.input(0).get_partial_shape()) == "[1..4,3,4,4]"
    with pytest.raises(ar.InferenceInputError, match=r"expected shape \[1..4,3,4,4\]"):
        run(ranged, np.zeros((5, 3, 4, 4), np.float32))


def test_keep_only_named_outputs():
    m = ar.convert_model(chain_model(), output=["z"])
    assert [o.get_names() for o in m.outputs] == [{"z"}]
    assert not any(n.type_name == "Relu" for n in m.get_ordered_ops())


def test_cut_at_internal_tensor_as_new_input():
    """'pre' becomes the input: the Mul before it is cut off."""
    m = ar.convert_model(chain_model(), input=["pre"])
    assert [p.get_any_name() for p in m.inputs] == ["pre"]
    assert not any(n.type_name == "Multiply" for n in m.get_ordered_ops())
    y, z = run(m, X)
    np.testing.assert_allclose(y, np.maximum(X + W, 0))


def test_cut_at_internal_tensor_as_new_output():
    m = ar.convert_model(chain_model(), output=["mid", "y"])
    mid, y = run(m, X)
    np.testing.assert_allclose(mid, 2 * X + W)
    np.testing.assert_allclose(y, np.maximum(mid, 0))


def test_cut_errors():
    with pytest.raises(ar.ModelReadError, match="--input names 'nope'"):
        ar.convert_model(chain_model(), input=["nope"])
    with pytest.raises(ar.ModelReadError, match="--output names 'nope'"):
        ar.convert_model(chain_model(), output=["nope"])
    # with a cut, --input lists every input: 'pre' needs 'x', which is no longer one
    with pytest.raises(ar.ModelReadError, match=r"need graph input 'x', which the cut at \['mid'\] leaves"):
        ar.convert_model(chain_model(), input=["mid"], output=["y", "pre"])


def test_preprocessing_matches_numpy():
    mean, scale = [10.0, 20.0, 30.0], [2.0, 4.0, 8.0]
    m = ar.convert_model(chain_model(), mean_values=mean, scale_values=scale, reverse_input_channels=True,
                         source_layout="nhwc", target_layout="nchw")
    x_nhwc = np.random.default_rng(1).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    y, _ = run(m, x_nhwc)
    pre = np.transpose(x_nhwc, (0, 3, 1, 2))[:, ::-1]
    pre = (pre - np.array(mean, np.float32).reshape(1, 3, 1, 1)) / np.array(scale, np.float32).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y, np.maximum(2 * pre + W, 0), rtol=1e-6, atol=1e-5)


def test_preprocessing_errors():
    with pytest.raises(ar.ArrayrtError, match="2 mean values do not match its channels"):
        ar.convert_model(chain_model(), mean_values=[1, 2])
    with pytest.raises(ar.ArrayrtError, match="--mean_values names input 'nope'"):
        ar.convert_model(chain_model(), mean_values={"nope": [1, 2, 3]})


def test_fp16_compression_reads_back(tmp_path):
    m = ar.convert_model(chain_model())
    ar.save_model(m, tmp_path / "m.xml", compress_to_fp16=True)
    back = ar.read_model(tmp_path / "m.xml")
    assert any(n.type_name == "Convert" and "decompression" in n.rt_info for n in back.get_ordered_ops())
    y, _ = run(back, X)
    np.testing.assert_allclose(y, np.maximum(2 * X + W, 0), rtol=1e-3, atol=1e-3)


def test_example_input_fixes_shapes():
    m = ar.convert_model(chain_model(), example_input={"x": X})
    assert m.input(0).get_partial_shape() == ar.PartialShape([2, 3, 4, 4])
    m = ar.convert_model(chain_model(), example_input=X)  # one array: the inputs in graph order
    assert m.input(0).get_partial_shape() == ar.PartialShape([2, 3, 4, 4])


def two_input_model(path):
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add")]
    g = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 3]),
                                         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 3])],
                          [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


@pytest.mark.parametrize("form", ["shape", "tuple", "partial_shape", "name_tuple", "shape_type",
                                  "shapes_by_order", "fewer_shapes"])
def test_input_forms_without_names_as_openvino(form, tmp_path):
    """The shapes OpenVINO's convert_model takes without input names give the same model here."""
    ov = pytest.importorskip("openvino")
    single, double = str(tmp_path / "one.onnx"), two_input_model(tmp_path / "two.onnx")
    chain_model(single)
    path, spec = {
        "shape": (single, lambda lib: [2, 3, 4, 4]),
        "tuple": (single, lambda lib: (2, 3, -1, 4)),
        "partial_shape": (single, lambda lib: lib.PartialShape([-1, 3, 4, 4])),
        "name_tuple": (single, lambda lib: ("x", [2, 3, 4, 4])),
        "shape_type": (single, lambda lib: ([2, 3, 4, 4], np.float32)),
        "shapes_by_order": (double, lambda lib: [[5, 3], [1, 3]]),
        "fewer_shapes": (double, lambda lib: [[5, 3]]),
    }[form]

    def describe(lib):
        m = lib.convert_model(path, input=spec(lib))
        return ([(sorted(i.get_names()), str(i.get_partial_shape())) for i in m.inputs],
                [str(o.get_partial_shape()) for o in m.outputs])

    assert describe(ar) == describe(ov)


def test_unnamed_shapes_go_to_the_first_inputs_and_no_more(tmp_path):
    path = two_input_model(tmp_path / "two.onnx")
    m = ar.convert_model(path, input=[1, 3])  # as OpenVINO: the first input's, the other kept
    assert [str(i.get_partial_shape()) for i in m.inputs] == ["[1,3]", "[?,3]"]
    with pytest.raises(ar.ModelReadError, match=r"3 unnamed shape\(s\) for the model's 2 input\(s\) \['a', 'b'\]"):
        ar.convert_model(path, input=[[1, 3], [1, 3], [1, 3]])
    with pytest.raises(ar.ModelReadError, match="name them"):
        ar.convert_model(path, input=[[1, 3], ("b", [1, 3])])  # named and unnamed mixed


def test_read_and_compile_onnx_directly(tmp_path):
    path = tmp_path / "m.onnx"
    chain_model(path)
    assert ar.Core().read_model(path).outputs[0].get_names() == {"y"}
    y = ar.Core().compile_model(str(path), "CPU")([X])["y"]
    np.testing.assert_allclose(y, np.maximum(2 * X + W, 0))


# --- bad input -----------------------------------------------------------------------------------
def test_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "m.onnx"
    chain_model(path)
    data = path.read_bytes()
    (tmp_path / "t.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ar.ModelReadError, match="not an ONNX model"):
        ar.convert_model(tmp_path / "t.onnx")
    (tmp_path / "f.onnx").write_text("hello, I am a text file")
    with pytest.raises(ar.ModelReadError, match="not an ONNX model"):
        ar.convert_model(tmp_path / "f.onnx")


def test_unknown_op_lists_every_one():
    g = helper.make_graph([helper.make_node("FooOp", ["x"], ["a"], name="n1", domain="my.domain"),
                           helper.make_node("BarOp", ["a"], ["y"], name="n2", domain="my.domain")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.domain", 1)])
    with pytest.raises(ar.UnsupportedOpError, match=r"2 unsupported.*FooOp.*'n1'.*BarOp.*'n2'"):
        ar.convert_model(m)


def test_opset_newer_than_supported():
    from arrayrt.ir.frontend.onnx import MAX_OPSET

    m = chain_model()
    m.opset_import[0].version = MAX_OPSET + 1
    with pytest.raises(ar.UnsupportedOpError, match=f"opset {MAX_OPSET + 1}, newer than the newest"):
        ar.convert_model(m)


def test_missing_external_data(tmp_path):
    m = chain_model()
    onnx.save(m, tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    np.testing.assert_allclose(run(ar.convert_model(tmp_path / "ext.onnx"), X)[0], np.maximum(2 * X + W, 0))
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ar.ModelReadError, match="external data file .*weights.bin' is missing"):
        ar.convert_model(tmp_path / "ext.onnx")


def test_cli_convert_writes_ir_and_nothing_on_failure(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    chain_model(src)
    assert cli.main(["convert", str(src), "--output_model", str(tmp_path / "out" / "m"), "--input",
                     "x[1,3,4,4]", "--compress_to_fp16", "False"]) == 0
    out = capsys.readouterr().out
    assert "ONNX ops in (4)" in out and "[ SUCCESS ] XML file" in out
    m = ar.read_model(tmp_path / "out" / "m.xml")
    assert m.input(0).get_partial_shape() == ar.PartialShape([1, 3, 4, 4])
    assert cli.main(["convert", str(src), "--output_model", str(tmp_path / "bad" / "m"), "--input", "nope"]) == 1
    assert "--input names 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
