"""Issue 3's done-when points that ``test_convert_options.py`` covers through the Python API only,
here end to end through ``arrayrt convert`` (the CLI), with the written IR read back by arrayrt and
by real OpenVINO and compared with numpy:

* shapes: static, ``?``, ``-1``, ranges, element types in braces;
* cuts at internal tensors both ways;
* mean/scale/reverse-channels with ``--layout`` and with ``--source_layout``/``--target_layout``;
* fp16 compression (on by default): f16 weights in the file, results within fp16 tolerance;
* bad input, each through the Python API and the CLI: a clear error naming the file, node, tensor or
  opset (also for a node reading a tensor nothing produces, or with a malformed attribute), and
  nothing written.
"""
from __future__ import annotations

import os
import re

import numpy as np
import onnx
import pytest
from arrayrt.tools import cli
from onnx import TensorProto, helper, numpy_helper

import arrayrt as ar

ov = pytest.importorskip("openvino")

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
W = np.array([1, -2, 3], np.float32).reshape(1, 3, 1, 1)
X = np.random.default_rng(0).uniform(-2, 2, (2, 3, 4, 4)).astype(np.float32)


def chain_model(path, opset: int = 17) -> None:
    """x -> Mul(2) -> pre -> Add(w) -> mid -> Relu -> y ; mid -> Neg -> z"""
    inits = [numpy_helper.from_array(W.reshape(3, 1, 1), "w"), numpy_helper.from_array(np.float32(2), "two")]
    nodes = [helper.make_node("Mul", ["x", "two"], ["pre"], name="scale"),
             helper.make_node("Add", ["pre", "w"], ["mid"], name="add"),
             helper.make_node("Relu", ["mid"], ["y"], name="relu"),
             helper.make_node("Neg", ["mid"], ["z"], name="neg")]
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)


def convert(tmp_path, src, *args: str, name: str = "m") -> tuple:
    """Run ``arrayrt convert``; the IR path, and the model as arrayrt and as OpenVINO read it."""
    out = tmp_path / "out" / name
    assert cli.main(["convert", str(src), "--output_model", str(out), "--quiet", *args]) == 0
    xml = out.with_suffix(".xml")
    return xml, ar.read_model(xml), ov.Core().read_model(str(xml))


def run_both(xml, *inputs: np.ndarray) -> tuple[list, list]:
    """Outputs of the IR compiled by arrayrt and by OpenVINO (f32)."""
    a = ar.compile_model(str(xml), "CPU")
    o = ov.Core().compile_model(str(xml), "CPU", F32)
    ra, ro = a(list(inputs)), o(list(inputs))
    return [np.asarray(ra[i]) for i in range(len(a.outputs))], [np.asarray(ro[i]) for i in range(len(o.outputs))]


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "chain.onnx"
    chain_model(path)
    return path


# --- shapes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "shape"), [
    ("x[2,3,4,4]", "[2,3,4,4]"), ("x[?,3,4,4]", "[?,3,4,4]"), ("x[-1,3,4,4]", "[?,3,4,4]"),
    ("x[1..8,3,4,4]", "[1..8,3,4,4]"), ("x[1..8,3,4,4]{f32}", "[1..8,3,4,4]"), ("x[..8,3,?,4]", "[..8,3,?,4]"),
])
def test_cli_input_shapes(tmp_path, chain, spec, shape):
    xml, mine, theirs = convert(tmp_path, chain, "--input", spec, "--compress_to_fp16", "False")
    assert str(mine.input(0).get_partial_shape()) == shape
    assert str(theirs.input(0).get_partial_shape()) == shape
    assert mine.input(0).get_element_type() == ar.Type.f32
    ours, ovs = run_both(xml, X)
    for got in (ours, ovs):
        np.testing.assert_allclose(got[0], np.maximum(2 * X + W, 0), rtol=1e-6)
        np.testing.assert_allclose(got[1], -(2 * X + W), rtol=1e-6)


def test_cli_range_rejects_out_of_range_batch(tmp_path, chain):
    _, mine, _ = convert(tmp_path, chain, "--input", "x[1..2,3,4,4]")
    with pytest.raises(ar.InferenceInputError, match=r"expected shape \[1..2,3,4,4\]"):
        ar.compile_model(mine, "CPU")([np.zeros((3, 3, 4, 4), np.float32)])


def test_cli_input_type_in_braces_is_applied(tmp_path, chain):
    """``{i64}`` is read as the element type (not a dimension); the f32 Mul then fails, naming the node."""
    out = tmp_path / "bad" / "m"
    assert cli.main(["convert", str(chain), "--output_model", str(out), "--input", "x[2,3,4,4]{i64}"]) == 1
    assert not out.parent.exists()
    with pytest.raises(ar.ArrayrtError, match=r"ONNX node 'scale' \(Mul.*i64 and f32"):
        ar.convert_model(chain, input="x[2,3,4,4]{i64}")
    m = ar.convert_model(chain, input=[("x", "2,3,4,4", "f32")])
    assert m.input(0).get_partial_shape() == ar.PartialShape([2, 3, 4, 4])


# --- cuts -----------------------------------------------------------------------------------------
def test_cli_cut_internal_tensor_as_input(tmp_path, chain):
    xml, mine, theirs = convert(tmp_path, chain, "--input", "pre[2,3,4,4]", "--output", "y")
    assert [p.get_any_name() for p in mine.inputs] == ["pre"]
    assert [o.get_any_name() for o in theirs.outputs] == ["y"]
    assert 'type="Multiply"' not in xml.read_text()
    for got in run_both(xml, X):
        np.testing.assert_allclose(got[0], np.maximum(X + W, 0), rtol=1e-6)


def test_cli_cut_internal_tensor_as_output(tmp_path, chain):
    xml, mine, _ = convert(tmp_path, chain, "--output", "pre,mid")
    assert [o.get_any_name() for o in mine.outputs] == ["pre", "mid"]
    assert 'type="ReLU"' not in xml.read_text() and 'type="Negative"' not in xml.read_text()
    for pre, mid in run_both(xml, X):
        np.testing.assert_allclose(pre, 2 * X, rtol=1e-6)
        np.testing.assert_allclose(mid, 2 * X + W, rtol=1e-6)


def test_cli_cut_both_ways_at_once(tmp_path, chain):
    """New input 'pre' and new output 'mid': only the Add is left."""
    xml, mine, _ = convert(tmp_path, chain, "--input", "pre", "--output", "mid", "--compress_to_fp16", "False")
    assert sorted(n.type_name for n in mine.get_ordered_ops()) == ["Add", "Constant", "Parameter", "Result"]
    for (mid,) in run_both(xml, X):
        np.testing.assert_allclose(mid, X + W, rtol=1e-6)


# --- preprocessing ---------------------------------------------------------------------------------
MEAN, SCALE = np.array([10, 20, 30], np.float32), np.array([2, 4, 8], np.float32)


def test_cli_preprocessing_with_source_and_target_layout(tmp_path, chain):
    xml, mine, _ = convert(tmp_path, chain, "--mean_values", "x[10,20,30]", "--scale_values", "[2,4,8]",
                           "--reverse_input_channels", "--source_layout", "nhwc", "--target_layout", "nchw")
    assert str(mine.input(0).get_partial_shape()) == "[?,4,4,3]"
    x = np.random.default_rng(1).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    pre = (np.transpose(x, (0, 3, 1, 2))[:, ::-1] - MEAN.reshape(1, 3, 1, 1)) / SCALE.reshape(1, 3, 1, 1)
    for got in run_both(xml, x):
        np.testing.assert_allclose(got[0], np.maximum(2 * pre + W, 0), rtol=1e-5, atol=1e-4)


def nhwc_model(path) -> None:
    """x [N,4,4,3] (channels last) -> Add(b) -> y"""
    b = numpy_helper.from_array(np.array([0.5, -1, 2], np.float32), "b")
    g = helper.make_graph([helper.make_node("Add", ["x", "b"], ["y"], name="add")], "nhwc",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 4, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [b])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.mark.parametrize("layout", ["nhwc", "x(nhwc)"])
def test_cli_layout_places_channels(tmp_path, layout):
    """--layout says where the channels are: mean/scale/reverse act on the last axis here."""
    src = tmp_path / "nhwc.onnx"
    nhwc_model(src)
    xml, _, _ = convert(tmp_path, src, "--layout", layout, "--mean_values", "[10,20,30]", "--scale_values",
                        "[2,4,8]", "--reverse_input_channels")
    x = np.random.default_rng(2).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    want = (x[..., ::-1] - MEAN) / SCALE + np.array([0.5, -1, 2], np.float32)
    for got in run_both(xml, x):
        np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-4)


def test_api_layout_mean_scale_each_alone(tmp_path):
    src = tmp_path / "nhwc.onnx"
    nhwc_model(src)
    x = np.random.default_rng(3).uniform(0, 255, (1, 4, 4, 3)).astype(np.float32)
    b = np.array([0.5, -1, 2], np.float32)
    for kwargs, want in [({"mean_values": list(MEAN)}, x - MEAN + b),
                         ({"scale_values": list(SCALE)}, x / SCALE + b),
                         ({"reverse_input_channels": True}, x[..., ::-1] + b)]:
        m = ar.convert_model(src, layout="nhwc", **kwargs)
        np.testing.assert_allclose(ar.compile_model(m, "CPU")([x])[0], want, rtol=1e-6, err_msg=str(kwargs))


# --- fp16 compression ------------------------------------------------------------------------------
def dense_model(path) -> tuple[np.ndarray, np.ndarray]:
    """x [?,64] -> MatMul(w [64,32]) -> Add(b) -> y, weights not representable in f16"""
    rng = np.random.default_rng(4)
    w = rng.standard_normal((64, 32)).astype(np.float32) / 8
    b = rng.standard_normal(32).astype(np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"], name="mm"),
                           helper.make_node("Add", ["t", "b"], ["y"], name="bias")], "dense",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return w, b


def test_cli_fp16_compression_default_on(tmp_path):
    src = tmp_path / "dense.onnx"
    w, b = dense_model(src)
    xml, _, theirs = convert(tmp_path, src)
    xml_f32, _, _ = convert(tmp_path, src, "--compress_to_fp16", "False", name="f32")
    assert 'element_type="f16"' in xml.read_text() and 'element_type="f16"' not in xml_f32.read_text()
    # the f16 .bin holds half the bytes of the f32 one
    assert xml.with_suffix(".bin").stat().st_size * 2 == xml_f32.with_suffix(".bin").stat().st_size
    consts = [n for n in theirs.get_ordered_ops() if n.get_type_name() == "Constant"]
    assert {c.get_element_type().get_type_name() for c in consts} == {"f16"}
    x = np.random.default_rng(5).standard_normal((3, 64)).astype(np.float32)
    exact = x @ w + b
    ours, ovs = run_both(xml, x)
    want16 = x @ w.astype(np.float16).astype(np.float32) + b.astype(np.float16).astype(np.float32)
    for got in (ours[0], ovs[0]):
        np.testing.assert_allclose(got, want16, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got, exact, rtol=1e-2, atol=1e-2)
    assert not np.allclose(ours[0], exact, rtol=1e-6, atol=1e-6), "weights were not compressed"
    (exact32,), _ = run_both(xml_f32, x)
    np.testing.assert_allclose(exact32, exact, rtol=1e-5, atol=1e-5)


# --- bad input: the Python API and the CLI ------------------------------------------------------------
def _truncated(tmp_path):
    chain_model(tmp_path / "full.onnx")
    data = (tmp_path / "full.onnx").read_bytes()
    (tmp_path / "m.onnx").write_bytes(data[: len(data) // 2])


def _foreign(tmp_path):
    (tmp_path / "m.onnx").write_text("<?xml version='1.0'?><net name='not onnx'/>")


def _empty(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"")


def _unknown_op(tmp_path):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["a"], name="ok"),
                           helper.make_node("NoSuchOp", ["a"], ["y"], name="mystery")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")


def _missing_external(tmp_path):
    chain_model(tmp_path / "plain.onnx")
    onnx.save(onnx.load(tmp_path / "plain.onnx"), tmp_path / "m.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()


def _short_external(tmp_path):
    _missing_external(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 5)


def _one_node(node: onnx.NodeProto, *inits: onnx.TensorProto):
    def make(tmp_path):
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    return make


def _opset(version: int, domain: str = ""):
    def make(tmp_path):
        chain_model(tmp_path / "m.onnx")
        m = onnx.load(tmp_path / "m.onnx")
        if domain:
            m.opset_import.append(helper.make_opsetid(domain, version))
        else:
            m.opset_import[0].version = version
        onnx.save(m, tmp_path / "m.onnx")
    return make


BAD = {
    "truncated": (_truncated, {}, r"'.*m\.onnx': not an ONNX model \(truncated or another format\)"),
    "foreign": (_foreign, {}, r"'.*m\.onnx': not an ONNX model"),
    "empty": (_empty, {}, r"'.*m\.onnx': not an ONNX model"),
    "unknown_op": (_unknown_op, {},
                   r"1 unsupported ONNX node\(s\): NoSuchOp \(domain '', opset 17\) at node 'mystery'"),
    "missing_external_data": (_missing_external, {},
                              r"initializer '(w|two)': external data file '.*weights\.bin' is missing"),
    "short_external_data": (_short_external, {}, r"initializer '(w|two)': external data file '.*weights\.bin' "
                                                 r"is shorter"),
    "opset_too_new": (_opset(onnx.defs.onnx_opset_version() + 1), {},
                      f"ONNX opset {onnx.defs.onnx_opset_version() + 1}, newer than the newest supported"),
    "ml_opset_too_new": (_opset(99, "ai.onnx.ml"), {}, r"opset 99 of domain 'ai.onnx.ml', newer than the newest"),
    "input_never_produced": (_one_node(helper.make_node("Relu", ["q"], ["y"], name="r")), {},
                             r"ONNX node 'r' \(Relu, opset 17\): value 'q' is used before any node produces it"),
    "malformed_attribute": (_one_node(helper.make_node("Gather", ["x", "i"], ["y"], name="g", axis="oops"),
                                      numpy_helper.from_array(np.array([0], np.int64), "i")), {},
                            r"ONNX node 'g' \(Gather, opset 17\): cannot convert it: ValueError: .*'oops'"),
    "input_not_a_tensor": (_opset(17), {"input": "nope"},
                           r"--input names 'nope', which is neither a graph input nor a tensor"),
    "output_not_a_tensor": (_opset(17), {"output": "nope"}, r"--output names 'nope', which is not a tensor"),
    "cut_leaves_output_unreachable": (
        _opset(17), {"input": "mid", "output": "y,pre"},
        r"output\(s\) \['y', 'pre'\] cannot be computed .* need graph input 'x', which the cut at \['mid'\] "
        r"leaves unreachable"),
    "output_above_the_cut": (_opset(17), {"input": "pre", "output": "x"},
                             r"need graph input 'x', which the cut at \['pre'\] leaves unreachable"),
}


def _listing(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_api(tmp_path, case):
    make, kwargs, message = BAD[case]
    make(tmp_path)
    before = _listing(tmp_path)
    with pytest.raises(ar.ArrayrtError, match=message):
        ar.convert_model(tmp_path / "m.onnx", **kwargs)
    if not kwargs:
        with pytest.raises(ar.ArrayrtError, match=message):
            ar.Core().read_model(tmp_path / "m.onnx")
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_cli(tmp_path, capsys, case):
    make, kwargs, message = BAD[case]
    make(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.xml").write_text("an earlier conversion")
    before = _listing(tmp_path)
    args = [f"--{k}={v}" for k, v in kwargs.items()]
    for dest in ("out/m", "new/m"):
        assert cli.main(["convert", str(tmp_path / "m.onnx"), "--output_model", str(tmp_path / dest), *args]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        err = captured.err.strip()
        assert err.startswith("arrayrt convert: error: ") and "\n" not in err, err
        assert re.search(message, err), err
    assert _listing(tmp_path) == before
    assert not (tmp_path / "new").exists()
