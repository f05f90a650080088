"""Reading IR: the model arrayrt builds from an IR file is the one OpenVINO builds from it (inputs,
outputs, names, types, shapes, rt_info, op versions, results), for files OpenVINO writes and for
hand-written ones (IR v10, legacy blocks, opset spellings). Constants are views of the mmapped .bin."""
from __future__ import annotations

import mmap
import re

import numpy as np
import pytest
from arrayrt.ir.ops.base import _REGISTRY

import arrayrt
from arrayrt.errors import ArrayrtError
from arrayrt.testing import run_arrayrt, run_openvino

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset16")
pytestmark = pytest.mark.openvino

_AUTO = re.compile(r"^([A-Za-z]+)_\d+$")


def needs(*types):
    missing = [t for t in types if t.lower() not in _REGISTRY]
    if missing:
        pytest.skip(f"ops not implemented yet: {missing}")


def _auto(name: str) -> str:
    """Friendly names OpenVINO and arrayrt generate (``Convert_38``) differ only by the counter."""
    return _AUTO.sub(r"\1_#", name)


def _io(model, is_ov: bool):
    def port(p):
        node = p.get_node()
        names = p.get_names()
        if is_ov:
            return (_auto(node.get_friendly_name()), p.get_element_type().get_type_name(),
                    str(p.get_partial_shape()), sorted(names))
        return _auto(node.friendly_name), p.get_element_type().name, str(p.get_partial_shape()), sorted(names)

    def producer(p):
        src = p.get_node().input_value(0)
        node = src.get_node() if is_ov else src.node
        return _auto(node.get_friendly_name() if is_ov else node.friendly_name)

    return [port(p) for p in model.inputs], [(*port(p), producer(p)) for p in model.outputs]


def assert_same_model(path_or_xml, weights=None, inputs=None, rtol=1e-6):
    """arrayrt and OpenVINO read the same inputs and outputs (friendly names, producer names,
    types, shapes, tensor names) and, given inputs, compute the same results."""
    if isinstance(path_or_xml, str):
        blob = ov.Tensor(np.frombuffer(weights or b"\0", np.uint8).copy())
        theirs = ov.Core().read_model(path_or_xml.encode(), blob)
        mine = arrayrt.read_model(path_or_xml.encode(), weights or b"\0")
    else:
        theirs, mine = ov.Core().read_model(path_or_xml), arrayrt.read_model(path_or_xml)
    assert _io(mine, False) == _io(theirs, True)
    if inputs is not None:
        want = run_openvino(theirs, inputs)
        got = run_arrayrt(mine, inputs)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=rtol)
    return mine, theirs


def _save(model, path):
    ov.save_model(model, path, compress_to_fp16=False)
    return path


# --- IR v11 written by OpenVINO -------------------------------------------------------------------
def test_structure_and_results_of_an_openvino_model(tmp_path):
    """Parameter/Result order, friendly names, tensor names (with a comma), shapes, values."""
    needs("Relu", "Softmax", "Split")
    a = ops.parameter([2, 6], np.float32, name="b_first")
    b = ops.parameter([2, 6], np.float32, name="a_second")
    a.output(0).set_names({"in,a", "alias"})
    s = ops.add(a, ops.constant(np.arange(12, dtype=np.float32).reshape(2, 6), name="w"), name="sum")
    parts = ops.split(ops.relu(s, name="act"), ops.constant(np.int64(1), name="axis"), 3, name="parts")
    prob = ops.softmax(ops.multiply(parts.output(2), parts.output(0), name="mul"), 1, name="prob")
    prob.output(0).set_names({"prob out"})
    m = ov.Model([ops.result(parts.output(1), name="r_mid"), ops.result(prob, name="r_prob"),
                  ops.result(b, name="r_b")], [a, b], "net")
    rng = np.random.default_rng(0)
    mine, _ = assert_same_model(_save(m, tmp_path / "m.xml"),
                                inputs=[rng.standard_normal((2, 6)).astype(np.float32) for _ in range(2)])
    assert mine.name == "net" and [p.friendly_name for p in mine.get_parameters()] == ["b_first", "a_second"]
    assert [r.friendly_name for r in mine.get_results()] == ["r_mid", "r_prob", "r_b"]
    assert mine.input(0).get_names() == {"in,a", "alias"} and mine.rt_info["version"] == 11


def test_result_output_names_name_the_returned_tensor(tmp_path):
    """A Result's ``output_names`` replaces the producer port's ``names`` as the model output's
    names; an empty or missing ``output_names`` leaves the port's names."""
    needs("Relu")
    x = ops.parameter([2], np.float32, name="x")
    y = ops.relu(x, name="y")
    y.output(0).set_names({"bar"})
    text = _save(ov.Model([y.output(0)], [x], "m"), tmp_path / "m.xml").read_text()
    assert 'output_names="bar"' in text
    for variant in (text.replace('output_names="bar"', 'output_names="foo"'),
                    text.replace('output_names="bar"', 'output_names="foo,a\\,b"'),
                    text.replace('output_names="bar"', 'output_names=""'),
                    text.replace(' output_names="bar"', ""),
                    text.replace(' names="bar"', ""),
                    text.replace(' names="bar"', "").replace(' output_names="bar"', ""),
                    text.replace('names="bar"', 'names=" sp , q "')):
        mine, theirs = assert_same_model(variant)
        assert mine.outputs[0].get_names() == theirs.outputs[0].get_names()


def test_rt_info_of_nodes_ports_and_model(tmp_path):
    """v11 node and output-port ``<rt_info>`` (entries lacking a name or version are skipped), and
    the model ``<rt_info>``: ``<info name=...>``, ``<key value=...>`` and nested sections."""
    needs("Relu")
    x = ops.parameter([1, 3], np.float32, name="x")
    x.set_layout(ov.Layout("NC"))
    y = ops.relu(x, name="y")
    m = ov.Model([y.output(0)], [x], "m")
    m.set_rt_info("hello", ["custom", "key"])
    m.set_rt_info("v", "k ey")
    m.set_rt_info("1", ["sec", "bad name"])
    text = _save(m, tmp_path / "m.xml").read_text()
    text = text.replace('<layer id="1" name="y" type="ReLU" version="opset1">',
                        '<layer id="1" name="y" type="ReLU" version="opset1">\n<rt_info>'
                        '<attribute name="fused_names" version="0" value="y,z" />'
                        '<attribute name="no_version" value="1" /></rt_info>')
    (tmp_path / "m.xml").write_text(text)
    mine, theirs = assert_same_model(tmp_path / "m.xml")
    node = next(n for n in mine.get_ordered_ops() if n.friendly_name == "y")
    assert node.rt_info == {"fused_names": {"version": "0", "value": "y,z"}}
    their_y = next(n for n in theirs.get_ordered_ops() if n.get_friendly_name() == "y")
    assert "fused_names_0" in their_y.get_rt_info()
    assert mine.input(0).get_rt_info() == {"layout": {"version": "0", "layout": "[N,C]"}}
    assert mine.get_rt_info(["custom", "key"]) == theirs.get_rt_info(["custom", "key"]).astype(str) == "hello"
    assert mine.get_rt_info("k ey") == "v" and mine.get_rt_info(["sec", "bad name"]) == "1"
    assert theirs.get_rt_info(["sec", "bad name"]).astype(str) == "1"
    assert mine.rt_info["OpenVINO Runtime"] == theirs.get_rt_info("OpenVINO Runtime").astype(str)
    arrayrt.serialize(mine, tmp_path / "a.xml")  # written back as read, and OpenVINO reads it the same
    written = (tmp_path / "a.xml").read_text()
    assert '<attribute name="fused_names" version="0" value="y,z" />' in written
    assert "no_version" not in written
    again, _ = assert_same_model(tmp_path / "a.xml")
    assert again.rt_info == mine.rt_info


LEGACY_META = """<?xml version="1.0"?>
<net name="old" version="10">
	<layers>
		<layer id="0" name="x" type="Parameter" version="opset1">
			<data shape="2" element_type="f32"/>
			<output><port id="0" precision="FP32"><dim>2</dim></port></output>
		</layer>
		<layer id="1" name="out" type="Result" version="opset1">
			<input><port id="0"><dim>2</dim></port></input>
		</layer>
	</layers>
	<edges><edge from-layer="0" from-port="0" to-layer="1" to-port="0"/></edges>
	<meta_data>
		<MO_version value="2021.4"/>
		<cli_parameters><input_shape value="[2]"/><unset unset_cli_parameters="a, b"/></cli_parameters>
	</meta_data>
	<quantization_parameters><config>{'a': 1}</config><version value="x"/></quantization_parameters>
</net>"""


def test_legacy_meta_data_blocks():
    """Without ``<rt_info>``, ``meta_data`` keys are read, ``cli_parameters`` as
    ``conversion_parameters`` and ``quantization_parameters`` as ``optimization``."""
    mine, theirs = assert_same_model(LEGACY_META)
    assert sorted(mine.rt_info) == sorted(theirs.get_rt_info()) == \
        ["MO_version", "conversion_parameters", "optimization", "version"]
    assert mine.rt_info["conversion_parameters"] == {"input_shape": "[2]", "unset": "a, b"}
    assert theirs.get_rt_info(["conversion_parameters", "unset"]).astype(str) == "a, b"
    assert mine.rt_info["optimization"]["version"] == "x" and mine.rt_info["version"] == 10
    bare = LEGACY_META[:LEGACY_META.index("\t<meta_data>")] + "</net>"
    assert arrayrt.read_model(bare.encode()).rt_info == {"optimization": {}, "version": 10}


# --- hand-written IR: op resolution -----------------------------------------------------------------
def one_op_ir(type_attr: str, version: str, data: str = "", net_version: int = 11) -> str:
    return f"""<?xml version="1.0"?>
<net name="m" version="{net_version}">
	<layers>
		<layer id="0" name="x" type="Parameter" version="opset1">
			<data shape="2,3" element_type="f32" />
			<output><port id="0" precision="FP32" names="x"><dim>2</dim><dim>3</dim></port></output>
		</layer>
		<layer id="1" name="op" type="{type_attr}" version="{version}">
			{f'<data {data} />' if data else ''}
			<input><port id="0" precision="FP32"><dim>2</dim><dim>3</dim></port></input>
			<output><port id="1" precision="FP32" names="y"><dim>2</dim><dim>3</dim></port></output>
		</layer>
		<layer id="2" name="out" type="Result" version="opset1">
			<input><port id="0" precision="FP32"><dim>2</dim><dim>3</dim></port></input>
		</layer>
	</layers>
	<edges>
		<edge from-layer="0" from-port="0" to-layer="1" to-port="0" />
		<edge from-layer="1" from-port="1" to-layer="2" to-port="0" />
	</edges>
</net>
"""


RESOLUTION = [  # type attribute, version attribute, <data>, (op type, op class version) or None
    ("ReLU", "opset1", "", ("Relu", 0)), ("Relu", "opset16", "", ("Relu", 0)),
    ("relu", "opset1", "", ("Relu", 0)), ("RELU", "opset5", "", ("Relu", 0)),
    ("SoftMax", "opset1", 'axis="1"', ("Softmax", 1)), ("Softmax", "opset7", 'axis="1"', ("Softmax", 1)),
    ("SoftMax", "opset8", 'axis="1"', ("Softmax", 8)), ("softmax", "opset16", 'axis="-1"', ("Softmax", 8)),
    ("ShapeOf", "opset1", "", ("ShapeOf", 0)), ("ShapeOf", "opset3", 'output_type="i32"', ("ShapeOf", 3)),
    ("ShapeOf", "opset17", 'output_type="i64"', ("ShapeOf", 3)),
    ("MVN", "opset1", 'eps="1e-5" normalize_variance="true" across_channels="false"', ("MVN", 0)),
    ("Identity", "opset16", "", ("Identity", 16)),
    ("Relu", "opset17", "", None), ("Identity", "opset15", "", None), ("Relu", "opset18", "", None),
    ("Relu", "opset99", "", None), ("Relu", "experimental", "", None), ("Relu", "opset0", "", None),
    ("Relu", "foo", "", None), ("NoSuchOp", "opset1", "", None),
]


@pytest.mark.parametrize("type_attr,version,data,want", RESOLUTION,
                         ids=[f"{r[0]}-{r[1]}" for r in RESOLUTION])
def test_op_type_and_version_resolution_matches_openvino(type_attr, version, data, want):
    """``version="opsetN"`` picks the op version opset N holds (the first opset with a version
    writes it); type names are case-insensitive; opset1 MVN means opset2's; opset17 holds only its
    few new ops; anything OpenVINO refuses, arrayrt refuses."""
    xml = one_op_ir(type_attr, version, data).encode()
    if want is None:
        with pytest.raises(ArrayrtError, match="layer id=1, name='op'"):
            arrayrt.read_model(xml, b"")
        with pytest.raises(Exception):
            ov.Core().read_model(xml, ov.Tensor(np.zeros(0, np.uint8)))
        return
    needs(want[0])
    node = arrayrt.read_model(xml, b"").get_results()[0].input_value(0).node
    theirs = ov.Core().read_model(xml, ov.Tensor(np.zeros(0, np.uint8)))
    other = next(n for n in theirs.get_ordered_ops() if n.get_friendly_name() == "op")
    assert (node.type_name, node.op.version) == want
    assert other.get_type_name() == node.type_name and other.get_type_info().version_id == node.op.opset


def test_only_the_exact_const_spelling_means_constant():
    """``Const`` is translated with its exact case (as OpenVINO does); ``const`` is no op type."""
    xml = one_op_ir("ReLU", "opset1").replace(
        '<layer id="0" name="x" type="Parameter" version="opset1">\n'
        '\t\t\t<data shape="2,3" element_type="f32" />',
        '<layer id="0" name="x" type="const" version="opset1">\n\t\t\t'
        '<data element_type="f32" shape="2, 3" offset="0" size="24" />').encode()
    with pytest.raises(ArrayrtError, match="const"):
        arrayrt.read_model(xml, bytes(24))
    with pytest.raises(Exception):
        ov.Core().read_model(xml, ov.Tensor(np.zeros(24, np.uint8)))
    mine = arrayrt.read_model(xml.replace(b'type="const"', b'type="Const"'), bytes(24))
    assert mine.get_ordered_ops()[0].type_name == "Constant" and not mine.get_parameters()


def test_prelu_spelling():
    """``PReLU`` (exact case) is the IR spelling of PRelu; ``prelu`` also resolves, case-insensitively."""
    needs("PRelu")
    x = ops.parameter([2, 3], np.float32, name="x")
    m = ov.Model([ops.prelu(x, ops.constant(np.array([0.5, 0.25, 2], np.float32), name="slope"), name="act")
                  .output(0)], [x], "m")
    xml, chunks = _ov_ir(m)
    assert 'type="PReLU"' in xml
    inputs = [np.random.default_rng(7).standard_normal((2, 3)).astype(np.float32)]
    for spelling in ('type="PReLU"', 'type="prelu"'):
        mine, _ = assert_same_model(xml.replace('type="PReLU"', spelling), chunks, inputs)
        assert mine.get_results()[0].input_value(0).node.type_name == "PRelu"


def _ov_ir(model):
    from tempfile import TemporaryDirectory

    with TemporaryDirectory() as d:
        ov.save_model(model, f"{d}/m.xml", compress_to_fp16=False)
        with open(f"{d}/m.xml") as f, open(f"{d}/m.bin", "rb") as b:
            return f.read(), b.read()


def test_misaligned_constants_are_copied_and_correct():
    """OpenVINO packs the .bin without padding; data at an offset misaligned for its dtype is
    copied (aligned data is shared)."""
    x = ops.parameter([3], np.float32, name="x")
    small = ops.constant(np.array([1, 2, 3], np.int8), name="small")
    w = ops.constant(np.array([0.5, 1.5, 2.5], np.float32), name="w")
    m = ov.Model([ops.add(ops.add(x, ops.convert(small, "f32")), w).output(0)], [x], "m")
    xml, blob = _ov_ir(m)
    assert re.search(r'name="w" type="Const" version="opset1">\s*<data element_type="f32" shape="3" '
                     r'offset="3"', xml)
    mine, _ = assert_same_model(xml, blob, [np.ones(3, np.float32)])
    value = next(n for n in mine.get_ordered_ops() if n.friendly_name == "w").attrs["value"]
    assert value.flags.aligned and not value.flags.writeable and list(value) == [0.5, 1.5, 2.5]


def test_experimental_versions_of_ops_moved_to_opset6():
    needs("GRUCell")
    xml = """<?xml version="1.0"?>
<net name="m" version="11"><layers>
<layer id="0" name="x" type="Parameter" version="opset1"><data shape="1,2" element_type="f32"/>
<output><port id="0" precision="FP32"><dim>1</dim><dim>2</dim></port></output></layer>
<layer id="1" name="h" type="Parameter" version="opset1"><data shape="1,3" element_type="f32"/>
<output><port id="0" precision="FP32"><dim>1</dim><dim>3</dim></port></output></layer>
<layer id="2" name="w" type="Const" version="opset1">
<data element_type="f32" shape="9, 2" offset="0" size="72"/>
<output><port id="0" precision="FP32"><dim>9</dim><dim>2</dim></port></output></layer>
<layer id="3" name="r" type="Const" version="opset1">
<data element_type="f32" shape="9, 3" offset="0" size="108"/>
<output><port id="0" precision="FP32"><dim>9</dim><dim>3</dim></port></output></layer>
<layer id="4" name="b" type="Const" version="opset1"><data element_type="f32" shape="9" offset="0" size="36"/>
<output><port id="0" precision="FP32"><dim>9</dim></port></output></layer>
<layer id="5" name="cell" type="GRUCell" version="experimental"><data hidden_size="3"/>
<input><port id="0"/><port id="1"/><port id="2"/><port id="3"/><port id="4"/></input>
<output><port id="5" precision="FP32"><dim>1</dim><dim>3</dim></port></output></layer>
<layer id="6" name="out" type="Result" version="opset1"><input><port id="0"/></input></layer>
</layers><edges>
<edge from-layer="0" from-port="0" to-layer="5" to-port="0"/>
<edge from-layer="1" from-port="0" to-layer="5" to-port="1"/>
<edge from-layer="2" from-port="0" to-layer="5" to-port="2"/>
<edge from-layer="3" from-port="0" to-layer="5" to-port="3"/>
<edge from-layer="4" from-port="0" to-layer="5" to-port="4"/>
<edge from-layer="5" from-port="5" to-layer="6" to-port="0"/>
</edges></net>"""
    weights = np.linspace(-1, 1, 27, dtype=np.float32).tobytes()
    rng = np.random.default_rng(1)
    mine, _ = assert_same_model(xml, weights, [rng.standard_normal((1, 2)).astype(np.float32),
                                               rng.standard_normal((1, 3)).astype(np.float32)])
    cell = mine.get_results()[0].input_value(0).node
    assert (cell.type_name, cell.op.opset) == ("GRUCell", "opset3")


def test_order_follows_the_xml_not_the_ids_and_dead_layers_are_ignored():
    """Parameters and Results keep their XML order whatever their ids; a layer no output depends
    on is never built (even of a type nobody knows), as in OpenVINO."""
    xml = """<?xml version="1.0"?>
<net name="m" version="11"><layers>
<layer id="7" name="second" type="Parameter" version="opset1"><data shape="2" element_type="f32"/>
<output><port id="0" precision="FP32" names="s"><dim>2</dim></port></output></layer>
<layer id="3" name="first" type="Parameter" version="opset1"><data shape="2" element_type="f32"/>
<output><port id="0" precision="FP32" names="f"><dim>2</dim></port></output></layer>
<layer id="9" name="r_late" type="Result" version="opset1"><input><port id="0"/></input></layer>
<layer id="1" name="sum" type="Add" version="opset1"><input><port id="0"/><port id="1"/></input>
<output><port id="2" precision="FP32"><dim>2</dim></port></output></layer>
<layer id="2" name="r_early" type="Result" version="opset1"><input><port id="0"/></input></layer>
<layer id="5" name="dead" type="NoSuchOp" version="opset1"><input><port id="0"/></input>
<output><port id="1" precision="FP32"><dim>2</dim></port></output></layer>
</layers><edges>
<edge from-layer="7" from-port="0" to-layer="1" to-port="0"/>
<edge from-layer="3" from-port="0" to-layer="1" to-port="1"/>
<edge from-layer="1" from-port="2" to-layer="9" to-port="0"/>
<edge from-layer="3" from-port="0" to-layer="2" to-port="0"/>
<edge from-layer="1" from-port="2" to-layer="5" to-port="0"/>
</edges></net>"""
    rng = np.random.default_rng(2)
    mine, _ = assert_same_model(xml, None, [rng.standard_normal(2).astype(np.float32) for _ in range(2)])
    assert [p.friendly_name for p in mine.get_parameters()] == ["second", "first"]
    assert [r.friendly_name for r in mine.get_results()] == ["r_late", "r_early"]
    assert all(n.type_name != "NoSuchOp" for n in mine.get_ordered_ops())


# --- IR v10 ----------------------------------------------------------------------------------------
V10 = """<?xml version="1.0"?>
<net name="legacy" version="10">
	<layers>
		<layer id="0" name="data" type="Parameter" version="opset1">
			<data shape="1,6" element_type="f16"/>
			<output><port id="0" precision="FP16"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="1" name="ids" type="Parameter" version="opset1">
			<data shape="1,6" element_type="i64"/>
			<output><port id="0" precision="I64"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="2" name="mask" type="Parameter" version="opset1">
			<data shape="1,6" element_type="u8"/>
			<output><port id="0" precision="U8"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="3" name="w" type="Const" version="opset1">
			<data element_type="f16" shape="1,6" offset="0" size="12"/>
			<output><port id="0" precision="FP16"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="4" name="sum" type="Add" version="opset1">
			<rt_info><attribute name="fused_names" version="0" value="sum"/></rt_info>
			<input><port id="0"><dim>1</dim><dim>6</dim></port><port id="1"><dim>1</dim><dim>6</dim></port></input>
			<output><port id="2" precision="FP16"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="5" name="sum/sink_port_0" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
		</layer>
		<layer id="6" name="scaled" type="Multiply" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port><port id="1"><dim>1</dim><dim>6</dim></port></input>
			<output><port id="2" precision="I64"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="7" name="scaled/sink_port_0" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
		</layer>
		<layer id="8" name="flag" type="Convert" version="opset1">
			<data destination_type="boolean"/>
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
			<output><port id="1" precision="BOOL"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="9" name="flag/sink_port_0" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
		</layer>
		<layer id="10" name="axis" type="Const" version="opset1">
			<data element_type="i64" shape="" offset="12" size="8"/>
			<output><port id="0" precision="I64"/></output>
		</layer>
		<layer id="11" name="parts" type="Split" version="opset1">
			<data num_splits="3"/>
			<input><port id="0"><dim>1</dim><dim>6</dim></port><port id="1"/></input>
			<output>
				<port id="2" precision="FP16"><dim>1</dim><dim>2</dim></port>
				<port id="3" precision="FP16"><dim>1</dim><dim>2</dim></port>
				<port id="4" precision="FP16"><dim>1</dim><dim>2</dim></port>
			</output>
		</layer>
		<layer id="12" name="parts.1/sink" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>2</dim></port></input>
		</layer>
		<layer id="13" name="parts.2/sink" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>2</dim></port></input>
		</layer>
		<layer id="14" name="as_f32" type="Convert" version="opset1">
			<data destination_type="f32"/>
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
			<output><port id="1" precision="FP32"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="15" name="prob" type="SoftMax" version="opset1">
			<data axis="1"/>
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
			<output><port id="1" precision="FP32"><dim>1</dim><dim>6</dim></port></output>
		</layer>
		<layer id="16" name="prob/sink_port_0" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
		</layer>
		<layer id="17" name="ids/sink_port_0" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
		</layer>
		<layer id="18" name="again" type="Result" version="opset1">
			<input><port id="0"><dim>1</dim><dim>6</dim></port></input>
		</layer>
	</layers>
	<edges>
		<edge from-layer="0" from-port="0" to-layer="4" to-port="0"/>
		<edge from-layer="3" from-port="0" to-layer="4" to-port="1"/>
		<edge from-layer="4" from-port="2" to-layer="5" to-port="0"/>
		<edge from-layer="1" from-port="0" to-layer="6" to-port="0"/>
		<edge from-layer="1" from-port="0" to-layer="6" to-port="1"/>
		<edge from-layer="6" from-port="2" to-layer="7" to-port="0"/>
		<edge from-layer="2" from-port="0" to-layer="8" to-port="0"/>
		<edge from-layer="8" from-port="1" to-layer="9" to-port="0"/>
		<edge from-layer="0" from-port="0" to-layer="11" to-port="0"/>
		<edge from-layer="10" from-port="0" to-layer="11" to-port="1"/>
		<edge from-layer="11" from-port="3" to-layer="12" to-port="0"/>
		<edge from-layer="11" from-port="4" to-layer="13" to-port="0"/>
		<edge from-layer="0" from-port="0" to-layer="14" to-port="0"/>
		<edge from-layer="14" from-port="1" to-layer="15" to-port="0"/>
		<edge from-layer="15" from-port="1" to-layer="16" to-port="0"/>
		<edge from-layer="1" from-port="0" to-layer="17" to-port="0"/>
		<edge from-layer="4" from-port="2" to-layer="18" to-port="0"/>
	</edges>
</net>
"""
V10_WEIGHTS = np.linspace(-1, 1, 6).astype(np.float16).tobytes() + np.int64(1).tobytes()


def test_v10_names_and_precisions_match_openvino():
    """The old-API fix-ups: outputs named after their producer (``parts.1`` for a multi-output
    one), inputs after their Parameter; an f16 input becomes f32; i64 outputs i32, f16/boolean/u8
    outputs f32, each through a Convert that takes the producer's name and tensor names (the
    second Result of ``sum`` and the Parameter returned directly lose theirs, as in OpenVINO).
    OpenVINO's CPU plugin computes the f16 ``sum`` in f32, so values agree to f16 precision."""
    needs("Split", "Softmax")
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((1, 6)).astype(np.float32), rng.integers(-5, 5, (1, 6)),
              rng.integers(0, 3, (1, 6)).astype(np.uint8)]
    mine, theirs = assert_same_model(V10, V10_WEIGHTS, inputs, rtol=2e-3)
    ins, outs = _io(mine, False)
    assert [i[:2] for i in ins] == [("data", "f32"), ("Parameter_#", "i64"), ("mask", "u8")]
    assert [(o[1], o[3], o[4]) for o in outs] == [
        ("f32", ["sum"], "sum"), ("i32", ["scaled"], "scaled"), ("f32", ["flag"], "flag"),
        ("f32", ["parts.1"], "parts.1"), ("f32", ["parts.2"], "parts.2"), ("f32", ["prob"], "prob"),
        ("i32", ["ids"], "ids"), ("f32", [], "Add_#")]
    assert all(not n.rt_info for n in mine.get_ordered_ops()), "v10 rt_info is ignored"


def test_v10_name_collisions_are_refused_like_openvino():
    text = V10.replace('<output><port id="2" precision="I64">',
                       '<output><port id="2" precision="I64" names="sum">')
    with pytest.raises(ArrayrtError, match="collides"):
        arrayrt.read_model(text.encode(), V10_WEIGHTS)
    with pytest.raises(Exception, match="collisions"):
        ov.Core().read_model(text.encode(), ov.Tensor(np.frombuffer(V10_WEIGHTS, np.uint8).copy()))


def pre_process_ir(version: int, means: str, through_relu: bool = True) -> str:
    if means == "scalars":
        block = "".join(f'<channel id="{c}"><mean value="{0.5 * c + 0.25}"/></channel>' for c in range(3))
    else:
        block = "".join(f'<channel id="{c}"><mean offset="{16 * c}" size="16"/></channel>' for c in range(3))
    relu = """<layer id="2" name="act" type="ReLU" version="opset1"><input><port id="0"/></input>
<output><port id="1" precision="FP32"><dim>1</dim><dim>3</dim><dim>2</dim><dim>2</dim></port>
</output></layer>"""
    edges = ('<edge from-layer="0" from-port="0" to-layer="2" to-port="0"/>'
             '<edge from-layer="2" from-port="1" to-layer="1" to-port="0"/>') if through_relu else \
        '<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>'
    return f"""<?xml version="1.0"?>
<net name="m" version="{version}"><layers>
<layer id="0" name="img" type="Parameter" version="opset1"><data shape="1,3,2,2" element_type="f32"/>
<output><port id="0" precision="FP32" names="img"><dim>1</dim><dim>3</dim><dim>2</dim><dim>2</dim></port>
</output></layer>
<layer id="1" name="out" type="Result" version="opset1"><input><port id="0"/></input></layer>
{relu if through_relu else ""}
</layers><edges>{edges}</edges>
<pre-process mean-precision="FP32" reference-layer-name="img">{block}</pre-process></net>"""


PLANES = (np.arange(3 * 4, dtype=np.float32).reshape(3, 1, 2, 2) / 7).tobytes()


@pytest.mark.parametrize("means", ["scalars", "planes"])
@pytest.mark.parametrize("version", [10, 11])
def test_legacy_pre_process_means(means, version):
    """``<pre-process>`` subtracts per-channel means (values, or planes in the .bin) from its input."""
    x = np.random.default_rng(4).standard_normal((1, 3, 2, 2)).astype(np.float32)
    mine, _ = assert_same_model(pre_process_ir(version, means), PLANES, [x])
    assert [n.type_name for n in mine.get_ordered_ops()].count("Subtract") == 1


def test_pre_process_before_a_result_keeps_the_result_names():
    """The Result the Subtract now feeds keeps its tensor names: in v11 the input and the output
    share the name; in v10 that is a name collision both refuse."""
    mine, _ = assert_same_model(pre_process_ir(11, "scalars", through_relu=False), PLANES)
    assert mine.outputs[0].get_names() == mine.inputs[0].get_names() == {"img"}
    xml = pre_process_ir(10, "scalars", through_relu=False).encode()
    with pytest.raises(ArrayrtError, match="collides"):
        arrayrt.read_model(xml, PLANES)
    with pytest.raises(Exception, match="collisions"):
        ov.Core().read_model(xml, ov.Tensor(np.frombuffer(PLANES, np.uint8).copy()))


# --- weights --------------------------------------------------------------------------------------
def _root_buffer(arr):
    while True:
        if isinstance(arr, np.ndarray) and arr.base is not None:
            arr = arr.base
        elif isinstance(arr, memoryview):
            arr = arr.obj
        else:
            return arr


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int64, np.bool_, "bf16", "u8"])
def test_constants_are_views_of_the_mapped_bin(dtype, tmp_path):
    """Byte-aligned constants share memory with the memory-mapped .bin: nothing is copied."""
    t = ov.Type.bf16 if dtype == "bf16" else (ov.Type.u8 if dtype == "u8" else ov.Type(np.dtype(dtype)))
    values = np.arange(24).reshape(2, 3, 4) % 2
    source = values.astype(np.float32 if dtype == "bf16" else t.to_dtype())
    c = ops.constant(source, dtype=t, name="c")
    _save(ov.Model([c.output(0)], [], "m"), tmp_path / "m.xml")
    value = arrayrt.read_model(tmp_path / "m.xml").get_results()[0].input_value(0).node.attrs["value"]
    mapped = _root_buffer(value)
    assert isinstance(mapped, mmap.mmap)
    assert np.shares_memory(value, np.frombuffer(mapped, np.uint8)) and not value.flags.writeable
    np.testing.assert_array_equal(value.astype(np.float64), values)


def test_weights_from_bytes_arrays_tensors_and_paths(tmp_path):
    x = ops.parameter([3], np.float32, name="x")
    m = ov.Model([ops.add(x, ops.constant(np.array([1, 2, 3], np.float32), name="w")).output(0)], [x], "m")
    _save(m, tmp_path / "m.xml")
    xml, blob = (tmp_path / "m.xml").read_bytes(), (tmp_path / "m.bin").read_bytes()
    (tmp_path / "other.bin").write_bytes(blob)
    as_array = np.frombuffer(blob, np.uint8)
    feeds = [blob, bytearray(blob), as_array, ov.Tensor(as_array.copy()), arrayrt.Tensor(as_array),
             tmp_path / "other.bin", str(tmp_path / "other.bin")]
    for weights in feeds:
        for model in (xml, xml.decode()):
            got = arrayrt.read_model(model, weights)
            w = next(n for n in got.get_ordered_ops() if n.type_name == "Constant").attrs["value"]
            np.testing.assert_array_equal(w, [1, 2, 3])
    assert arrayrt.read_model(tmp_path / "m.xml", tmp_path / "other.bin").name == "m"
    assert arrayrt.Core().read_model(str(tmp_path / "m.xml")).name == "m"
