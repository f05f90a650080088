"""``CompiledModel.export_model`` / ``Core.import_model``: what a blob carries, and bad blobs."""
from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops
import arrayrt.properties as props
import arrayrt.properties.hint as hints
from arrayrt.runtime import blob
from arrayrt.testing import models as M

X = np.random.default_rng(0).uniform(-1, 1, (2, 3)).astype(np.float32)


def small(name="m"):
    x = ops.parameter([2, 3], np.float32, name="x")
    h = ops.add(ops.multiply(x, np.full(3, 3, np.float32), name="mul"), np.ones(3, np.float32), name="add")
    return ar.Model([ops.relu(h, name="y")], [x], name)


def roundtrip(compiled, device, properties=None):
    data = compiled.export_model()
    assert isinstance(data, bytes) and data.startswith(blob.MAGIC)
    return ar.Core().import_model(data, device, properties)


def test_cpu_roundtrip_gives_the_same_results_and_properties():
    c = ar.Core().compile_model(small(), "CPU", {hints.performance_mode: hints.PerformanceMode.THROUGHPUT,
                                                 props.enable_profiling: True})
    back = roundtrip(c, "CPU")
    np.testing.assert_array_equal(back([X])[0], c([X])[0])
    assert back.get_property("PERFORMANCE_HINT") == "THROUGHPUT" and back.get_property("PERF_COUNT") is True
    assert back.get_property("NETWORK_NAME") == "m"
    assert [i.get_any_name() for i in back.inputs] == ["x"]
    assert back.outputs[0].get_names() == c.outputs[0].get_names()
    # import's properties update the exported ones
    assert roundtrip(c, "CPU", {"PERFORMANCE_HINT": "LATENCY"}).get_property("PERFORMANCE_HINT") == "LATENCY"


def test_a_stream_is_written_and_read():
    c = ar.compile_model(small(), "CPU")
    buf = io.BytesIO()
    assert c.export_model(buf) is None
    buf.seek(0)
    np.testing.assert_array_equal(ar.Core().import_model(buf, "CPU")([X])[0], c([X])[0])


def test_the_model_is_taken_at_compile_time():
    m = small()
    c = ar.compile_model(m, "CPU")
    m.reshape({"x": [4, 3]})  # later edits of the model do not reach the compiled one, nor its blob
    assert list(roundtrip(c, "CPU").input(0).get_partial_shape().to_shape()) == [2, 3]


def test_npu_precision_hint_and_a_type_value_survive():
    m = M.make_model(ops, M.transformer_block, "t")
    inputs = M.sample_inputs(m)
    c = ar.Core().compile_model(m, "NPU", {hints.inference_precision: ar.Type.bf16})
    back = roundtrip(c, "NPU")
    assert back.get_property("INFERENCE_PRECISION_HINT") == ar.Type.bf16
    np.testing.assert_array_equal(back(inputs)[0], c(inputs)[0])


def test_hetero_affinities_travel_in_the_ir():
    m = small()
    for n in m.get_ordered_ops():
        if n.friendly_name == "add":
            n.rt_info["affinity"] = "STRICT"
    c = ar.Core().compile_model(m, "HETERO:CPU,STRICT")
    back = roundtrip(c, "HETERO:CPU,STRICT")
    devices = {n.friendly_name: n.rt_info["device"] for n in back.get_runtime_model().get_ordered_ops()}
    assert devices["add"] == "STRICT" and devices["mul"] == "CPU" and devices["y"] == "CPU"
    np.testing.assert_array_equal(back([X])[0], np.maximum(3 * X + 1, 0))


def test_stateful_model_keeps_its_variables():
    x = ops.parameter([1, 2], np.float32, name="x")
    rv = ops.read_value(np.zeros((1, 2), np.float32), "acc")
    s = ops.add(rv, x, name="sum")
    c = ar.compile_model(ar.Model([s], [ops.assign(s, "acc")], [x], "acc"), "CPU")
    req = roundtrip(c, "CPU").create_infer_request()
    for _ in range(3):
        out = req.infer([np.ones((1, 2), np.float32)])[0]
    np.testing.assert_array_equal(out, [[3, 3]])
    assert [s.name for s in req.query_state()] == ["acc"]


def test_gna_calibration_arrays_travel_without_pickle():
    x = ops.parameter([2, 16], np.float32, name="x")
    w = np.random.default_rng(1).normal(0, 0.3, (4, 16)).astype(np.float32)
    m = ar.Model([ops.matmul(x, w, False, True, name="fc")], [x], "fc")
    data = {"x": np.random.default_rng(2).uniform(-0.5, 0.5, (3, 2, 16)).astype(np.float32)}
    c = ar.Core().compile_model(m, "GNA", {"GNA_CALIBRATION_DATA": data, "GNA_DEVICE_MODE": "GNA_SW_EXACT"})
    raw = c.export_model()
    assert b"\x93NUMPY" in raw  # the calibration samples as a .npy section
    back = ar.Core().import_model(raw, "GNA")
    sample = data["x"][0]
    np.testing.assert_array_equal(back([sample])[0], c([sample])[0])  # same scale factors: bit-exact


def _blob_with_header(header: dict, payload: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return blob.MAGIC + struct.pack("<Q", len(h)) + h + payload


@pytest.mark.parametrize("make, message", [
    (lambda good: b"<?xml version='1.0'?><net/>", "not an arrayrt compiled-model blob"),
    (lambda good: good[:len(blob.MAGIC) + 4], "truncated: it ends inside its header"),
    (lambda good: good[:len(blob.MAGIC) + 20], "truncated: its header says"),
    (lambda good: blob.MAGIC + struct.pack("<Q", 3) + b"{x:", "header is not valid JSON"),
    (lambda good: _blob_with_header({"format": 99}), "blob format 99; this arrayrt reads format 1"),
    (lambda good: _blob_with_header({"format": 1, "device": "CPU", "config": {}}), "lacks its device"),
    (lambda good: _blob_with_header({"format": 1, "device": "CPU", "config": {}, "arrays": [],
                                     "xml": [0, 10 ** 6], "bin": [0, 0]}), "XML section .* lies outside"),
    (lambda good: _blob_with_header({"format": 1, "device": "CPU", "config": {}, "arrays": [[0, 4]],
                                     "xml": [0, 0], "bin": [0, 0]}, b"abcd"), "array 0 is not a valid .npy"),
    (lambda good: _blob_with_header({"format": 1, "device": "CPU", "config": {"K": {"__array__": 3}}, "arrays": [],
                                     "xml": [0, 0], "bin": [0, 0]}), "refers to array 3"),
])
def test_bad_blobs_are_refused_by_name(make, message):
    good = ar.compile_model(small(), "CPU").export_model()
    with pytest.raises(ar.ModelReadError, match=message):
        ar.Core().import_model(make(good), "CPU")


def test_an_xml_entity_in_a_blob_is_refused():
    xml = (b'<?xml version="1.0"?><!DOCTYPE net [<!ENTITY big "xxxx">]><net name="&big;" version="11">'
           b"<layers/><edges/></net>")
    raw = _blob_with_header({"format": 1, "device": "CPU", "config": {}, "arrays": [],
                             "xml": [0, len(xml)], "bin": [len(xml), 0]}, xml)
    with pytest.raises(ar.ModelReadError):
        ar.Core().import_model(raw, "CPU")


def test_import_on_another_device_or_of_the_wrong_kind_is_clear():
    good = ar.compile_model(small(), "CPU").export_model()
    with pytest.raises(ar.DeviceError, match="exported from a model compiled for 'CPU', not 'NPU'"):
        ar.Core().import_model(good, "NPU")
    with pytest.raises(ar.ArrayrtError, match="reads bytes or a binary stream, not str"):
        ar.Core().import_model("model.blob", "CPU")


def test_a_config_value_that_cannot_be_written_is_named():
    c = ar.compile_model(small(), "CPU")
    c._source[2]["PERF_COUNT"] = object()  # (no parser accepts such a value; reached by hand here)
    with pytest.raises(ar.ArrayrtError, match="property 'PERF_COUNT': a object value cannot be exported"):
        c.export_model()
    c._source[2]["PERF_COUNT"] = np.array([object()])
    with pytest.raises(ar.ArrayrtError, match="an object array cannot be exported"):
        c.export_model()


def test_fuzzed_blobs_fail_cleanly():
    """Flipped bytes, truncations and mutated header or config values: each import either works
    or raises an ArrayrtError, never another exception or a hang."""
    from arrayrt.testing import fails_cleanly

    good = ar.Core().compile_model(small(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}).export_model()
    start = len(blob.MAGIC) + 8
    (size,) = struct.unpack("<Q", good[len(blob.MAGIC):start])
    header, payload = json.loads(good[start:start + size]), good[start + size:]
    values = [None, -1, "x", [1], {"a": 1}, [[0, 5]], {"__array__": 0}, 1e300]
    rng = np.random.default_rng(11)
    for draw in range(300):
        kind = int(rng.integers(4))
        if kind == 0:
            data = bytearray(good)
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(len(data)))] = int(rng.integers(256))
        elif kind == 1:
            data = good[:int(rng.integers(len(good)))]
        else:
            h = json.loads(json.dumps(header))
            value = values[int(rng.integers(len(values)))]
            if kind == 2:
                h[str(rng.choice(["format", "device", "config", "xml", "bin", "arrays"]))] = value
            else:
                h["config"][str(rng.choice(["PERFORMANCE_HINT", "NUM_STREAMS", "NOPE"]))] = value
            data = _blob_with_header(h, payload)

        def go(data=bytes(data)):
            ar.Core().import_model(data, "CPU")([X])

        fails_cleanly(go, f"draw {draw} (kind {kind})", 20)
