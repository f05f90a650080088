"""IR with sub-graph bodies (TensorIterator, Loop, If): OpenVINO's files are read and written back
byte for byte, what arrayrt writes OpenVINO reads and runs the same, and malformed port maps are
refused with the layer named."""
from __future__ import annotations

import re

import numpy as np
import pytest
from arrayrt.ir.model import clone_model
from arrayrt.ir.ops.control import BodyOutput, ConcatOutput, InvariantInput, MergedInput, SliceInput

import arrayrt
from arrayrt.errors import ModelReadError
from arrayrt.testing import rand, run_arrayrt, run_openvino

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset16")
pytestmark = pytest.mark.openvino

_RUNTIME_LINE = re.compile(r'\t\t<info name="OpenVINO Runtime" value="[^"]*" />\n')


def ti_model():
    x = ops.parameter([4, 2, 3], np.float32, name="x")
    h = ops.parameter([2, 3], np.float32, name="h")
    w = ops.parameter([2, 3], np.float32, name="w")
    ti = ops.tensor_iterator()
    bx = ops.parameter([1, 2, 3], np.float32, name="bx")
    bh = ops.parameter([2, 3], np.float32, name="bh")
    bw = ops.parameter([2, 3], np.float32, name="bw")
    nh = ops.add(ops.multiply(bh, bw), ops.squeeze(bx, ops.constant(np.int64([0]))))
    out = ops.unsqueeze(nh, ops.constant(np.int64(0)))
    body = ov.Model([nh, out], [bx, bh, bw], "body")
    ti.set_body(body)
    ti.set_sliced_input(bx, x.output(0), -1, -1, 1, 0, 0)
    ti.set_merged_input(bh, h.output(0), nh.output(0))
    ti.set_invariant_input(bw, w.output(0))
    outs = [ti.get_iter_value(nh.output(0), -1), ti.get_concatenated_slices(out.output(0), -1, -1, 1, 0, 0)]
    return ov.Model(outs, [x, h, w], "ti"), [rand((4, 2, 3), seed=1), rand((2, 3), seed=2), rand((2, 3), seed=3)]


def loop_body(x):
    loop = ops.loop(ops.constant(np.int64(5)), ops.constant(np.bool_(True)))
    bi = ops.parameter([], np.int64, name="bi")
    bx = ops.parameter([2, 3], np.float32, name="bx")
    add = ops.add(bx, ops.multiply(ops.convert(bi, "f32"), ops.constant(np.float32(0.5))))
    cond = ops.less(bi, ops.constant(np.int64(3)))
    body = ov.Model([cond, add, ops.unsqueeze(add, ops.constant(np.int64(0)))], [bi, bx], "body")
    loop.set_function(body)
    loop.set_special_body_ports([0, 0])
    loop.set_merged_input(bx, x, add.output(0))
    return loop, body, add


def loop_model():
    x = ops.parameter([2, 3], np.float32, name="x")
    loop, body, add = loop_body(x.output(0))
    outs = [loop.get_iter_value(add.output(0), -1), loop.get_concatenated_slices(body.outputs[2], 0, 1, 1, -1, 0)]
    return ov.Model(outs, [x], "loop"), [rand((2, 3), seed=4)]


def if_model(nested: bool = False):
    c = ops.parameter([], np.bool_, name="c")
    x = ops.parameter([2, 3], np.float32, name="x")
    y = ops.parameter([2, 3], np.float32, name="y")
    iff = ops.if_op(c)
    tx, ty = ops.parameter([2, 3], np.float32, name="tx"), ops.parameter([2, 3], np.float32, name="ty")
    if nested:
        loop, _, add = loop_body(tx.output(0))
        then_out = ops.add(loop.get_iter_value(add.output(0), -1), ty)
    else:
        then_out = ops.add(tx, ty)
    then = ov.Model([then_out], [tx, ty], "then")
    ex = ops.parameter([2, 3], np.float32, name="ex")
    else_ = ov.Model([ops.multiply(ex, ops.constant(np.float32(2)))], [ex], "else")
    iff.set_then_body(then)
    iff.set_else_body(else_)
    iff.set_input(x.output(0), tx, ex)
    iff.set_input(y.output(0), ty, None)
    out = iff.set_output(then.get_results()[0], else_.get_results()[0])
    return ov.Model([out], [c, x, y], "if"), [np.array(True), rand((2, 3), seed=5), rand((2, 3), seed=6)]


MODELS = {"ti": ti_model, "loop": loop_model, "if": if_model, "nested": lambda: if_model(True)}


@pytest.mark.parametrize("name", MODELS)
def test_openvino_files_are_rewritten_byte_for_byte(name, tmp_path):
    model, inputs = MODELS[name]()
    ov.save_model(model, tmp_path / "ov.xml", compress_to_fp16=False)
    ar = arrayrt.read_model(tmp_path / "ov.xml")
    arrayrt.serialize(ar, tmp_path / "ar.xml")
    texts = [_RUNTIME_LINE.sub("", (tmp_path / f"{w}.xml").read_text()) for w in ("ov", "ar")]
    assert texts[0] == texts[1]
    assert (tmp_path / "ov.bin").read_bytes() == (tmp_path / "ar.bin").read_bytes()
    expected = run_openvino(model, inputs)
    for got, want in zip(run_arrayrt(ar, inputs), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(run_openvino(ov.Core().read_model(tmp_path / "ar.xml"), inputs), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_port_maps_are_read_into_descriptions(tmp_path):
    model, _ = ti_model()
    ov.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    ti = next(n for n in arrayrt.read_model(tmp_path / "m.xml").get_ordered_ops() if n.type_name == "TensorIterator")
    assert ti.attrs["input_descriptions"] == (SliceInput(0, 0, -1, -1, 1, 0, 0), MergedInput(1, 1, 0),
                                              InvariantInput(2, 2))
    assert ti.attrs["output_descriptions"] == (BodyOutput(0, 0), ConcatOutput(1, 1, -1, -1, 1, 0, 0))
    model, _ = loop_model()
    ov.save_model(model, tmp_path / "l.xml", compress_to_fp16=False)
    loop = next(n for n in arrayrt.read_model(tmp_path / "l.xml").get_ordered_ops() if n.type_name == "Loop")
    assert loop.attrs["special_body_ports"] == (0, 0)
    assert [p.friendly_name for p in loop.bodies[0].get_parameters()] == ["bi", "bx"]


def test_port_map_entries_are_taken_in_external_port_order(tmp_path):
    """OpenVINO's reader sorts port map entries by external_port_id; so does arrayrt's."""
    model, inputs = ti_model()
    ov.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    text = (tmp_path / "m.xml").read_text()
    entries = re.findall(r"\t\t\t\t<input [^\n]*/>\n", text)
    swapped = text.replace(entries[0] + entries[1], entries[1] + entries[0], 1)
    (tmp_path / "m.xml").write_text(swapped)
    for got, want in zip(run_arrayrt(arrayrt.read_model(tmp_path / "m.xml"), inputs),
                         run_openvino(ov.Core().read_model(tmp_path / "m.xml"), inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("<body>", "<bodyx>").replace("</body>", "</bodyx>"), "needs a <body>"),
    (lambda t: t.replace('internal_layer_id="1" />', 'internal_layer_id="77" />', 1), "is not a Parameter layer"),
    (lambda t: t.replace('external_port_id="1" internal', 'external_port_id="x" internal', 1), "must be an integer"),
])
def test_malformed_port_maps_are_refused(edit, message, tmp_path):
    model, _ = ti_model()
    ov.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    (tmp_path / "m.xml").write_text(edit((tmp_path / "m.xml").read_text()))
    with pytest.raises(ModelReadError, match=message):
        arrayrt.read_model(tmp_path / "m.xml")


def test_clone_keeps_bodies_and_port_maps(tmp_path):
    model, inputs = if_model(True)
    ov.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    ar = arrayrt.read_model(tmp_path / "m.xml")
    copy = clone_model(ar)
    iff = next(n for n in copy.get_ordered_ops() if n.type_name == "If")
    original = next(n for n in ar.get_ordered_ops() if n.type_name == "If")
    assert iff.bodies[0] is not original.bodies[0]
    assert iff.attrs["then_inputs"] == original.attrs["then_inputs"]
    for got, want in zip(run_arrayrt(copy, inputs), run_openvino(model, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-5)
