"""Bad IR is refused with an :class:`arrayrt.ArrayrtError` whose message says where (layer id and
name, attribute, port) and what was expected against what was found. OpenVINO refuses the same
files (checked where it does)."""
from __future__ import annotations

import time

import numpy as np
import pytest

import arrayrt
from arrayrt.errors import (
    ArrayrtError,
    ModelReadError,
    OpAttributeError,
    ShapeInferenceError,
    UnsupportedOpError,
)

ov = pytest.importorskip("openvino")
pytestmark = pytest.mark.openvino

WEIGHTS = np.arange(6, dtype=np.float32).tobytes()
GOOD = """<?xml version="1.0"?>
<net name="m" version="11">
	<layers>
		<layer id="0" name="x" type="Parameter" version="opset1">
			<data shape="2,3" element_type="f32" />
			<output><port id="0" precision="FP32" names="x"><dim>2</dim><dim>3</dim></port></output>
		</layer>
		<layer id="1" name="w" type="Const" version="opset1">
			<data element_type="f32" shape="2, 3" offset="0" size="24" />
			<output><port id="0" precision="FP32"><dim>2</dim><dim>3</dim></port></output>
		</layer>
		<layer id="2" name="sum" type="Add" version="opset1">
			<data auto_broadcast="numpy" />
			<input>
				<port id="0" precision="FP32"><dim>2</dim><dim>3</dim></port>
				<port id="1" precision="FP32"><dim>2</dim><dim>3</dim></port>
			</input>
			<output><port id="2" precision="FP32" names="y"><dim>2</dim><dim>3</dim></port></output>
		</layer>
		<layer id="3" name="out" type="Result" version="opset1">
			<input><port id="0" precision="FP32"><dim>2</dim><dim>3</dim></port></input>
		</layer>
	</layers>
	<edges>
		<edge from-layer="0" from-port="0" to-layer="2" to-port="0" />
		<edge from-layer="1" from-port="0" to-layer="2" to-port="1" />
		<edge from-layer="2" from-port="2" to-layer="3" to-port="0" />
	</edges>
</net>
"""


def refused(xml, weights=WEIGHTS, error=ModelReadError, *fragments, openvino_refuses=True):
    """arrayrt raises ``error`` (an ArrayrtError) with all ``fragments`` in its message."""
    data = xml.encode() if isinstance(xml, str) else xml
    with pytest.raises(error) as info:
        arrayrt.read_model(data, weights)
    assert isinstance(info.value, ArrayrtError)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if openvino_refuses:
        with pytest.raises(Exception):
            ov.Core().read_model(data, ov.Tensor(np.frombuffer(weights or b"\0", np.uint8).copy()))
    return message


def test_the_good_file_reads():
    model = arrayrt.read_model(GOOD.encode(), WEIGHTS)
    assert model.output(0).get_names() == {"y"}


@pytest.mark.parametrize("xml,fragments", [
    (GOOD[: len(GOOD) // 2], ["malformed XML", "line"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", ["malformed XML"]),
    ("", ["malformed XML"]),
    (GOOD.replace("<net ", "<network ").replace("</net>", "</network>"),
     ["root element is <network>", "<net>"]),
    (GOOD.replace("</layers>", "</layer>"), ["malformed XML", "mismatched tag"]),
    (GOOD.replace('version="11"', 'version="9"'), ["IR version 9", "expected 10 or 11"]),
    (GOOD.replace('version="11"', 'version="12"'), ["IR version 12", "expected 10 or 11"]),
    (GOOD.replace(' version="11"', ""), ["no 'version' attribute"]),
    (GOOD.replace('version="11"', 'version="eleven"'), ["version='eleven'", "expected 10 or 11"]),
], ids=["truncated", "not_xml", "empty", "wrong_root", "mismatched_tag", "v9", "v12", "no_version",
        "bad_version"])
def test_malformed_documents(xml, fragments):
    refused(xml, WEIGHTS, ModelReadError, *fragments)


def test_missing_and_short_weights(tmp_path):
    (tmp_path / "m.xml").write_text(GOOD)
    msg = refused(GOOD, None, ModelReadError, "layer id=1, name='w', type=Const", "no weights were given")
    (tmp_path / "m.xml").write_text(GOOD)
    with pytest.raises(ModelReadError, match=r"layer id=1, name='w'.*m\.bin' does not exist"):
        arrayrt.read_model(tmp_path / "m.xml")
    (tmp_path / "m.bin").write_bytes(WEIGHTS[:20])
    with pytest.raises(ModelReadError, match=r"\[offset 0, size 24\] runs past the end of the weights \(20 "):
        arrayrt.read_model(tmp_path / "m.xml")
    with pytest.raises(Exception):
        ov.Core().read_model(tmp_path / "m.xml")
    with pytest.raises(ModelReadError, match="weights file .* does not exist"):
        arrayrt.read_model(tmp_path / "m.xml", tmp_path / "nope.bin")
    assert "w" in msg


def test_constant_data_out_of_range_or_too_small():
    refused(GOOD.replace('offset="0" size="24"', 'offset="8" size="24"'), WEIGHTS, ModelReadError,
            "layer id=1, name='w', type=Const", "[offset 8, size 24]", "(24 bytes)")
    refused(GOOD.replace('offset="0" size="24"', 'offset="0" size="16"'), WEIGHTS, ModelReadError,
            "layer id=1, name='w'", "shape [2, 3] needs 24 bytes", "size=16")
    refused(GOOD.replace('element_type="f32" shape="2, 3"', 'element_type="f33" shape="2, 3"'), WEIGHTS,
            OpAttributeError, "layer id=1, name='w'", "attribute 'element_type'", "'f33'")
    refused(GOOD.replace(' offset="0" size="24"', ""), WEIGHTS, ModelReadError, "layer id=1", "'offset'")


@pytest.mark.parametrize("change,error,fragments", [
    (('type="Add"', 'type="Addd"'), UnsupportedOpError, ["layer id=2, name='sum', type=Addd", "Addd"]),
    (('type="Add" version="opset1"', 'type="Add" version="opset99"'), UnsupportedOpError,
     ["layer id=2, name='sum'", 'version="opset99"', "opset1 to opset17"]),
    (('type="Add" version="opset1"', 'type="Add" version="experimental"'), UnsupportedOpError,
     ["layer id=2", 'version="experimental"']),
    (('type="Add" version="opset1"', 'type="Add" version="opset17"'), UnsupportedOpError,
     ["layer id=2, name='sum'", "opset17 does not contain the op type Add"]),
    (('type="Add" version="opset1"', 'type="Add"'), ModelReadError, ["<layer>", "'version'"]),
], ids=["unknown_type", "opset99", "experimental", "not_in_opset17", "no_version"])
def test_unknown_op_types_and_versions(change, error, fragments):
    refused(GOOD.replace(*change), WEIGHTS, error, *fragments)


def test_type_not_in_the_named_opset():
    xml = GOOD.replace('type="Add" version="opset1">\n\t\t\t<data auto_broadcast="numpy" />',
                       'type="Identity" version="opset15">').replace(
        '\t\t\t\t<port id="1" precision="FP32"><dim>2</dim><dim>3</dim></port>\n', "").replace(
        '<port id="2" precision="FP32" names="y">', '<port id="1" precision="FP32" names="y">').replace(
        '<edge from-layer="1" from-port="0" to-layer="2" to-port="1" />\n', "").replace(
        'from-layer="2" from-port="2"', 'from-layer="2" from-port="1"')
    refused(xml, WEIGHTS, UnsupportedOpError, "layer id=2, name='sum'", "Identity", "opset15", "opset16")
    assert arrayrt.read_model(xml.replace("opset15", "opset16").encode(), WEIGHTS).name == "m"


@pytest.mark.parametrize("data,fragments", [
    ('auto_broadcast="sideways"', ["attribute 'auto_broadcast'", "'sideways'", "expected one of", "numpy"]),
    ('auto_broadcast=""', ["attribute 'auto_broadcast'", "expected one of"]),
])
def test_bad_attribute_values(data, fragments):
    refused(GOOD.replace('auto_broadcast="numpy"', data), WEIGHTS, OpAttributeError,
            "layer id=2, name='sum', type=Add", *fragments)


def test_bad_list_attribute():
    pytest.importorskip("arrayrt.ir.ops.conv")
    if "convolution" not in arrayrt.ir.ops.base._REGISTRY:
        pytest.skip("Convolution not implemented yet")
    xml = GOOD.replace('type="Add" version="opset1">\n\t\t\t<data auto_broadcast="numpy" />',
                       'type="Convolution" version="opset1">\n\t\t\t<data strides="a,b" dilations="1, 1" '
                       'pads_begin="0, 0" pads_end="0, 0" auto_pad="explicit" />')
    refused(xml, WEIGHTS, OpAttributeError, "layer id=2, name='sum', type=Convolution", "attribute 'strides'",
            "'a,b'")


@pytest.mark.parametrize("change,fragments", [
    (('to-layer="2" to-port="1"', 'to-layer="7" to-port="1"'), ["edge", "to-layer 7", "not a layer"]),
    (('from-layer="1" from-port="0"', 'from-layer="5" from-port="0"'), ["from-layer 5", "not a layer"]),
    (('from-layer="1" from-port="0"', 'from-layer="1" from-port="3"'),
     ["layer id=1, name='w', type=Const", "output port 3", "its output ports: [0]"]),
    (('to-layer="2" to-port="1"', 'to-layer="2" to-port="4"'),
     ["layer id=2, name='sum', type=Add", "input port 4", "its input ports: [0, 1]"]),
    (('to-layer="2" to-port="1"', 'to-layer="2" to-port="0"'),
     ["layer id=2, name='sum'", "input port 0 has two"]),
    (('<edge from-layer="1" from-port="0" to-layer="2" to-port="1" />', ""),
     ["layer id=2, name='sum', type=Add", "input port 1 (input 1) is not connected"]),
    (('from-port="0" to-layer="2" to-port="0"', 'from-port="0" to-layer="2" to-port="0" extra="1"'), []),
], ids=["to_missing_layer", "from_missing_layer", "missing_output_port", "missing_input_port", "two_edges",
        "disconnected", "extra_attribute_is_fine"])
def test_bad_edges(change, fragments):
    xml = GOOD.replace(*change)
    if not fragments:
        assert arrayrt.read_model(xml.encode(), WEIGHTS).name == "m"
        return
    refused(xml, WEIGHTS, ModelReadError, *fragments)


def test_a_cycle_is_named():
    xml = GOOD.replace('<edge from-layer="0" from-port="0" to-layer="2" to-port="0" />',
                       '<edge from-layer="4" from-port="2" to-layer="2" to-port="0" />').replace(
        '\t</layers>', '\t\t<layer id="4" name="loop" type="Add" version="opset1">\n'
        '\t\t\t<input><port id="0"/><port id="1"/></input>\n'
        '\t\t\t<output><port id="2" precision="FP32"><dim>2</dim><dim>3</dim></port></output>\n'
        '\t\t</layer>\n\t</layers>'
    ).replace('\t</edges>', '\t\t<edge from-layer="2" from-port="2" to-layer="4" to-port="0" />\n'
                            '\t\t<edge from-layer="1" from-port="0" to-layer="4" to-port="1" />\n\t</edges>')
    refused(xml, WEIGHTS, ModelReadError, "cycle", "2 -> 4 -> 2")


@pytest.mark.parametrize("change,fragments", [
    (('<dim>3</dim></port></output>\n\t\t</layer>\n\t\t<layer id="1"',
      '<dim>-2</dim></port></output>\n\t\t</layer>\n\t\t<layer id="1"'),
     ["layer id=0, name='x'", "<dim>-2</dim>", "integer >= -1"]),
    (('<port id="2" precision="FP32" names="y">', '<port id="2" precision="FP33" names="y">'),
     ["layer id=2, name='sum'", "output port 2", "'FP33'"]),
    (('<port id="2" precision="FP32" names="y">', '<port id="2" names="y">'),
     ["layer id=2, name='sum'", "output port 2 has no 'precision'"]),
    (('<layer id="3" name="out"', '<layer id="2" name="out"'), ["two layers have id 2"]),
    (('<layer id="3" name="out" type="Result" version="opset1">',
      '<layer id="3" type="Result" version="opset1">'),
     ["'name'"]),
    (('<data shape="2,3" element_type="f32" />', '<data shape="2,x" element_type="f32" />'),
     ["layer id=0, name='x', type=Parameter", "attribute 'shape'", "'2,x'"]),
    (('<layer id="2" name="sum" type="Add" version="opset1">',
      '<layer id="2" name="sum" type="Parameter" version="opset1">'),
     ["layer id=2, name='sum'", "a Parameter takes no input", "input ports 0, 1"]),
], ids=["dim", "precision", "no_precision", "duplicate_id", "no_name", "bad_shape", "parameter_with_inputs"])
def test_bad_layers_and_ports(change, fragments):
    error = OpAttributeError if "shape" in change[0] else ModelReadError
    refused(GOOD.replace(*change), WEIGHTS, error, *fragments)


def test_shape_errors_name_the_layer():
    xml = GOOD.replace('<data element_type="f32" shape="2, 3" offset="0" size="24" />',
                       '<data element_type="f32" shape="3, 2" offset="0" size="24" />')
    refused(xml, WEIGHTS, ShapeInferenceError, "layer id=2, name='sum', type=Add", "[2,3]", "[3,2]")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE net [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
""" + GOOD.split("\n", 1)[1].replace('name="m"', 'name="&f;"')


def test_entity_expansion_is_refused_before_anything_expands():
    start = time.perf_counter()
    refused(BILLION_LAUGHS, WEIGHTS, ModelReadError, "DOCTYPE", "refused", openvino_refuses=False)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_external_entities_are_never_fetched(encoding, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xml = (f'<?xml version="1.0" encoding="{encoding}"?>\n'
           f'<!DOCTYPE net [<!ENTITY x SYSTEM "file://{secret}">]>\n'
           + GOOD.split("\n", 1)[1].replace('name="m"', 'name="&x;"'))
    msg = refused(xml.encode(encoding), WEIGHTS, ModelReadError, "DOCTYPE", openvino_refuses=False)
    assert "TOP-SECRET" not in msg
    passwd = xml.replace(f"file://{secret}", "file:///etc/passwd").encode(encoding)
    assert "root:" not in refused(passwd, WEIGHTS, ModelReadError, "DOCTYPE", openvino_refuses=False)


def test_string_constant_of_the_wrong_size():
    blob = np.int32(2).tobytes() + np.array([0, 1, 3], np.int32).tobytes() + b"abc"
    xml = GOOD.replace('element_type="f32" shape="2, 3" offset="0" size="24"',
                       f'element_type="string" shape="3" offset="0" size="{len(blob)}"')
    refused(xml, blob, ModelReadError, "layer id=1, name='w'", "holds 2 strings", "needs 3",
            openvino_refuses=False)
    refused(xml.replace(f'size="{len(blob)}"', 'size="6"'), blob, ModelReadError, "layer id=1",
            "2 strings does not fit its size=6", openvino_refuses=False)


@pytest.mark.parametrize("data", [b"\x08\x07", b"\x89PNG\r\n\x1a\n\x00\x00binary", b""], ids=["proto_no_graph", "png",
                                                                                              "empty"])
def test_bytes_without_weights_are_ir_or_onnx(data):
    """Bytes with no weights that do not start with '<' are read as an ONNX model, as OpenVINO does."""
    with pytest.raises(ModelReadError, match=r"<bytes>: neither IR XML .* nor an ONNX model"):
        arrayrt.read_model(data)
