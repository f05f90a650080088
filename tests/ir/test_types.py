"""Element types: names and IR spellings, properties against ``openvino.Type``, and the IR storage
of constants of every type (values and ``.bin`` bytes) against what OpenVINO writes and reads."""
from __future__ import annotations

import pickle
import re

import ml_dtypes
import numpy as np
import pytest
from arrayrt.ir.io.writer import pack_constant, to_ir
from arrayrt.ir.types import Type, dtype_size_bytes

import arrayrt
import arrayrt.opset as aops
from arrayrt.errors import ArrayrtError

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset16")
pytestmark = pytest.mark.openvino

# name, port precision spelling, numpy storage dtype
TYPES = [
    ("f64", "FP64", np.float64), ("f32", "FP32", np.float32), ("f16", "FP16", np.float16),
    ("bf16", "BF16", ml_dtypes.bfloat16), ("f8e4m3", "F8E4M3", ml_dtypes.float8_e4m3fn),
    ("f8e5m2", "F8E5M2", ml_dtypes.float8_e5m2), ("f8e8m0", "F8E8M0", ml_dtypes.float8_e8m0fnu),
    ("f4e2m1", "F4E2M1", ml_dtypes.float4_e2m1fn),
    ("i64", "I64", np.int64), ("i32", "I32", np.int32), ("i16", "I16", np.int16), ("i8", "I8", np.int8),
    ("i4", "I4", ml_dtypes.int4), ("u64", "U64", np.uint64), ("u32", "U32", np.uint32),
    ("u16", "U16", np.uint16), ("u8", "U8", np.uint8), ("u4", "U4", ml_dtypes.uint4), ("u1", "BIN", np.uint8),
    ("boolean", "BOOL", np.bool_), ("string", "STRING", np.object_),
]
NAMES = [t[0] for t in TYPES]


@pytest.mark.parametrize("name,legacy,dtype", TYPES, ids=NAMES)
def test_both_spellings_name_one_type(name, legacy, dtype):
    t = Type(name)
    assert Type(legacy) is t and Type(legacy.lower()) is t and getattr(Type, name) is t
    assert t.name == name == t.get_type_name() == str(t) and t.legacy_name == legacy
    assert t.to_dtype() == np.dtype(dtype)


@pytest.mark.parametrize("name,legacy,dtype", TYPES, ids=NAMES)
def test_port_precision_spelling_is_what_openvino_writes(name, legacy, dtype, tmp_path):
    """A Parameter of each type, saved by OpenVINO: ``element_type=`` is the name, ``precision=``
    the legacy spelling."""
    p = ops.parameter([2], getattr(ov.Type, name), name="p")
    ov.save_model(ov.Model([ops.result(p)], [p], "m"), tmp_path / "m.xml", compress_to_fp16=False)
    xml = (tmp_path / "m.xml").read_text()
    assert f'element_type="{name}"' in xml and f'precision="{legacy}"' in xml


@pytest.mark.parametrize("name", NAMES + ["dynamic"])
def test_properties_match_openvino(name):
    """bitwidth and kind flags as ``openvino.Type`` reports them. arrayrt differs on purpose where
    OpenVINO's answers follow its C++ storage rather than the type: OpenVINO calls ``boolean``
    signed, and ``string`` and ``dynamic`` integral numbers."""
    t, o = Type(name), getattr(ov.Type, name)
    assert t.bitwidth == o.bitwidth and t.is_real == o.is_real() and t.is_static == o.is_static()
    assert t.is_dynamic == o.is_dynamic() and t.packed == (o.bitwidth < 8)
    if name not in ("boolean", "string", "dynamic"):
        assert (t.is_integral, t.is_integral_number, t.is_signed) == \
               (o.is_integral(), o.is_integral_number(), o.is_signed())
    if name == "boolean":
        assert (t.is_integral, t.is_integral_number, t.is_signed) == (True, False, False)
    if name in ("string", "dynamic"):
        assert not (t.is_integral or t.is_integral_number or t.is_signed)


@pytest.mark.parametrize("a", ["f32", "i32", "dynamic"])
@pytest.mark.parametrize("b", ["f32", "i64", "dynamic"])
def test_compatible_and_merge_match_openvino(a, b):
    o = getattr(ov.Type, a).merge(getattr(ov.Type, b))
    got = Type(a).merge(b)
    assert (got is None) == (o is None)
    if o is not None:
        assert got.name == o.get_type_name()
    assert Type(a).compatible(b) == getattr(ov.Type, a).compatible(getattr(ov.Type, b))


@pytest.mark.parametrize("spec,name", [
    ("FP32", "f32"), ("fp16", "f16"), ("BIN", "u1"), ("bool", "boolean"), ("BOOL", "boolean"),
    ("undefined", "dynamic"), ("UNSPECIFIED", "dynamic"), (" f32 ", "f32"), (np.float32, "f32"),
    (np.dtype("int8"), "i8"), (bool, "boolean"), (np.uint8, "u8"), (ml_dtypes.bfloat16, "bf16"),
    (ml_dtypes.int4, "i4"), (ml_dtypes.float8_e5m2, "f8e5m2"), (str, "string"), ("float64", "f64"),
])
def test_other_spellings(spec, name):
    assert Type(spec) is Type(name)


@pytest.mark.parametrize("spec", ["f31", "", "FP128", np.complex64, object()])
def test_unknown_types_are_refused(spec):
    with pytest.raises(ArrayrtError):
        Type(spec)


def test_types_are_singletons_through_pickle():
    for name in NAMES + ["dynamic"]:
        assert pickle.loads(pickle.dumps(Type(name))) is Type(name)


@pytest.mark.parametrize("name,count,size", [("u1", 9, 2), ("u1", 8, 1), ("i4", 3, 2), ("u4", 4, 2),
                                             ("f4e2m1", 1, 1), ("f32", 3, 12), ("bf16", 5, 10), ("u8", 0, 0)])
def test_bin_size(name, count, size):
    assert dtype_size_bytes(Type(name), count) == size


# --- constants of every type in IR ---------------------------------------------------------------
VALUES = {
    "f64": [0.5, -1.25, 1e300, -0.0, 3.141592653589793],
    "f32": [0.5, -1.25, 3.4e38, -0.0, 1e-40],
    "f16": [0.5, -1.25, 65504, -0.0, 6e-8],
    "bf16": [0.5, -1.25, 3.0e38, -0.0, 1.5e-10],
    "f8e4m3": [0.5, -1.25, 448, 0.0, 0.015625],
    "f8e5m2": [0.5, -1.25, 57344, 0.0, 1.5258789e-05],
    "f8e8m0": [0.5, 1.0, 2.0, 1024.0, 2.0**-100],
    "f4e2m1": [0.5, -1.0, 6.0, 0.0, -3.0, 1.5, 4.0],
    "i64": [1, -2, 2**62, -(2**63), 0], "i32": [1, -2, 2**31 - 1, -(2**31), 0],
    "i16": [1, -2, 32767, -32768, 0], "i8": [1, -2, 127, -128, 0],
    "i4": [-8, -1, 0, 1, 7, 3, -3],
    "u64": [1, 2, 2**64 - 1, 0, 5], "u32": [1, 2, 2**32 - 1, 0, 5], "u16": [1, 2, 65535, 0, 5],
    "u8": [1, 2, 255, 0, 5], "u4": [0, 1, 15, 8, 7, 9, 3],
    "u1": [1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1],
    "boolean": [True, False, True, True, False],
}


def _ov_constant(name):
    vals = VALUES[name]
    dtype = Type(name).to_dtype()
    arr = np.array(vals, dtype=dtype)
    if name in ("bf16", "f8e4m3", "f8e5m2", "f8e8m0", "f4e2m1"):  # OpenVINO converts from f32
        return ops.constant(arr.astype(np.float32), dtype=getattr(ov.Type, name), name="c"), arr
    if name in ("i4", "u4"):
        return ops.constant(np.array(vals, np.int8 if name == "i4" else np.uint8),
                            dtype=getattr(ov.Type, name), name="c"), arr
    return ops.constant(arr, dtype=getattr(ov.Type, name), name="c"), arr


def _bits(a):
    a = np.asarray(a)
    return a.view(np.uint8) if a.dtype.itemsize == 1 and a.dtype.kind not in "b" else a


@pytest.mark.parametrize("name", list(VALUES))
def test_constant_written_by_openvino_reads_exactly(name, tmp_path):
    """OpenVINO writes a constant of each type; arrayrt reads the same values (bit for bit), and
    writes back the same ``.bin`` bytes."""
    c, want = _ov_constant(name)
    ov.save_model(ov.Model([c.output(0)], [], "m"), tmp_path / "m.xml", compress_to_fp16=False)
    model = arrayrt.read_model(tmp_path / "m.xml")
    node = model.get_results()[0].input_value(0).node
    got = node.attrs["value"]
    assert node.attrs["element_type"] is Type(name) and got.dtype == want.dtype
    np.testing.assert_array_equal(_bits(got), _bits(want))
    assert pack_constant(got, Type(name)) == (tmp_path / "m.bin").read_bytes()


@pytest.mark.parametrize("name", list(VALUES))
def test_constant_written_by_arrayrt_reads_in_openvino(name):
    """arrayrt writes a constant of each type; OpenVINO reads the same bytes back. (OpenVINO's
    Python ``.data`` shows sub-byte and f8 types as raw uint8 storage: compare those bytes.)"""
    want = np.array(VALUES[name], dtype=Type(name).to_dtype())
    c = aops.constant(want, Type(name), name="c")
    xml, chunks = to_ir(arrayrt.Model([c.output(0)], [], "m"))
    data = b"".join(chunks)
    model = ov.Core().read_model(xml.encode(), ov.Tensor(np.frombuffer(data, np.uint8).copy()))
    const = next(n for n in model.get_ordered_ops() if n.get_type_name() == "Constant")
    assert const.get_element_type() == getattr(ov.Type, name)
    raw = np.ascontiguousarray(const.data).view(np.uint8).tobytes()
    assert raw == pack_constant(want, Type(name)) == data


def test_sub_byte_packing_matches_openvino_bit_for_bit(tmp_path):
    """u1: 8 per byte, first element in the most significant bit; u4/i4/f4e2m1: 2 per byte, first
    element in the low nibble; odd counts pad with zero bits."""
    expected = {"u1": "b1a0", "u4": "108f9703", "i4": "f810370d", "f4e2m1": "a1073d06"}
    for name, hexbytes in expected.items():
        c, _ = _ov_constant(name)
        ov.save_model(ov.Model([c.output(0)], [], "m"), tmp_path / f"{name}.xml", compress_to_fp16=False)
        blob = (tmp_path / f"{name}.bin").read_bytes()
        assert blob.hex() == hexbytes
        assert pack_constant(np.array(VALUES[name], Type(name).to_dtype()), Type(name)) == blob


def test_string_constants_round_trip_both_ways(tmp_path):
    """Packed string tensors: int32 count, count+1 int32 offsets, UTF-8 bytes."""
    strings = ["ab", "", "hello", "x,y"]
    c = ops.constant(ov.Tensor(np.array(strings)), name="c")
    ov.save_model(ov.Model([c.output(0)], [], "m"), tmp_path / "m.xml", compress_to_fp16=False)
    blob = (tmp_path / "m.bin").read_bytes()
    got = arrayrt.read_model(tmp_path / "m.xml").get_results()[0].input_value(0).node.attrs["value"]
    assert list(got) == strings and pack_constant(got, Type.string) == blob

    unicode = np.array([["héllo", "日本"], ["", "a\\,b"]], dtype=object)
    mine = aops.constant(unicode, Type.string, name="s")
    arrayrt.serialize(arrayrt.Model([mine.output(0)], [], "m"), tmp_path / "u.xml")
    back = ov.Core().read_model(tmp_path / "u.xml")
    const = next(n for n in back.get_ordered_ops() if n.get_type_name() == "Constant")
    assert const.get_value_strings() == list(unicode.reshape(-1))
    assert list(const.get_output_partial_shape(0)) == [2, 2]


def test_every_type_as_parameter_and_convert_target_round_trips(tmp_path):
    """Parameters and Convert destination types of each type: OpenVINO's file, read by arrayrt and
    written again, is byte-identical."""
    params = [ops.parameter([3], getattr(ov.Type, n), name=f"p_{n}") for n in NAMES]
    outs = [p.output(0) for p in params]
    outs += [ops.convert(params[1], n, name=f"to_{n}").output(0) for n in NAMES if n != "string"]
    ov.save_model(ov.Model(outs, params, "m"), tmp_path / "m.xml", compress_to_fp16=False)
    arrayrt.serialize(arrayrt.read_model(tmp_path / "m.xml"), tmp_path / "a.xml")
    theirs, mine = (tmp_path / "m.xml").read_text(), (tmp_path / "a.xml").read_text()
    assert re.findall(r'destination_type="(\w+)"', mine) == [n for n in NAMES if n != "string"][::-1]
    assert mine == theirs
