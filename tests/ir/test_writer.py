"""Writing IR: what arrayrt writes is byte for byte what OpenVINO writes for the same model (XML and
``.bin``, including ``compress_to_fp16``), and OpenVINO computes the same results from it."""
from __future__ import annotations

import re

import numpy as np
import pytest
from arrayrt.ir.io.writer import std_sort, to_ir
from arrayrt.ir.ops.base import _REGISTRY
from arrayrt.ir.passes.compress_fp16 import to_f16

import arrayrt
import arrayrt.opset as aops
from arrayrt.errors import ArrayrtError
from arrayrt.testing import run_arrayrt, run_openvino

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset16")
pytestmark = pytest.mark.openvino

_RUNTIME_LINE = re.compile(r'\t\t<info name="OpenVINO Runtime" value="[^"]*" />\n')


def needs(*types):
    missing = [t for t in types if t.lower() not in _REGISTRY]
    if missing:
        pytest.skip(f"ops not implemented yet: {missing}")


def rewrite(tmp_path, model, compress=False):
    """OpenVINO's IR of ``model`` and arrayrt's IR of the model it reads from it."""
    ov.save_model(model, tmp_path / "ov.xml", compress_to_fp16=False)
    if compress:  # through a read model: OpenVINO's Python-built ops lack their precision marks
        ov.save_model(ov.Core().read_model(tmp_path / "ov.xml"), tmp_path / "ovc.xml")
        arrayrt.save_model(arrayrt.read_model(tmp_path / "ov.xml"), tmp_path / "ar.xml")
        (tmp_path / "ov.xml").write_bytes((tmp_path / "ovc.xml").read_bytes())
        (tmp_path / "ov.bin").write_bytes((tmp_path / "ovc.bin").read_bytes())
    else:
        arrayrt.serialize(arrayrt.read_model(tmp_path / "ov.xml"), tmp_path / "ar.xml")
    texts = [_RUNTIME_LINE.sub("", (tmp_path / f"{w}.xml").read_text()) for w in ("ov", "ar")]
    blobs = [(tmp_path / f"{w}.bin").read_bytes() for w in ("ov", "ar")]
    return texts, blobs


def random_model(seed: int, sinks: bool):
    """Parameters, constants, multi-output Splits, shared inputs, tensor names with commas, several
    Results and (optionally) a ReadValue/Assign pair."""
    rng = np.random.default_rng(seed)
    params = [ops.parameter([2, 4], np.float32, name=f"p{i}") for i in range(3)]
    pool = [p.output(0) for p in params]
    for k in range(30):
        a, b = pool[rng.integers(len(pool))], pool[rng.integers(len(pool))]
        r = rng.integers(6)
        if r == 0:
            n = ops.add(a, b, name=f"add{k}")
        elif r == 1:
            n = ops.multiply(a, ops.constant(rng.standard_normal((2, 4)).astype(np.float32), name=f"c{k}"),
                             name=f"mul{k}")
        elif r == 2:
            n = ops.relu(a, name=f"relu{k}")
        elif r == 3:
            sp = ops.split(ops.concat([a, b], 1, name=f"cat{k}"), ops.constant(np.int64(1), name=f"ax{k}"), 2,
                           name=f"split{k}")
            pool += [sp.output(0), sp.output(1)]
            continue
        elif r == 4:
            n = ops.subtract(a, ops.constant(np.float32(rng.integers(3)), name=f"s{k}"), name=f"sub{k}")
        else:
            n = ops.maximum(a, b, name=f"max{k}")
        if rng.random() < 0.3:
            n.output(0).set_names({f"t{k}", f"u,{k}"})
        pool.append(n.output(0))
    outs = [pool[-1 - int(i)] for i in rng.choice(12, 4, replace=False)]
    results = [ops.result(x, name=f"res{i}") for i, x in enumerate(outs)]
    if not sinks:
        return ov.Model(results, params, "rnd")
    from openvino.op.util import Variable, VariableInfo

    info = VariableInfo()
    info.data_shape, info.data_type, info.variable_id = ov.PartialShape([2, 4]), ov.Type.f32, "v0"
    var = Variable(info)
    acc = ops.add(ops.read_value(params[0], var, name="rv"), pool[-1], name="acc")
    return ov.Model(results, [ops.assign(acc, var, name="asg")], params, "rnd")


@pytest.mark.parametrize("seed", range(12))
def test_openvino_files_are_rewritten_byte_for_byte(seed, tmp_path):
    """Layer order and ids, port ids, edge order, names, data attributes, constant offsets."""
    needs("Split", "Concat", "Relu", "ReadValue", "Assign")
    (theirs, mine), (their_bin, my_bin) = rewrite(tmp_path, random_model(seed, sinks=seed % 3 == 0))
    assert mine == theirs and my_bin == their_bin


def test_rt_info_and_escapes_are_written_as_openvino_writes_them(tmp_path):
    """Node/port rt attributes; model rt_info keys sorted, invalid XML names as ``<info name=>``,
    sections, empty maps, bool/float/list values; pugixml's escaping of names."""
    needs("Relu")
    x = ops.parameter([1, 3], np.float32, name='x<&>"\'\t\n\x01é')
    x.output(0).set_names({"a b", 'q"', "c,d"})
    x.set_layout(ov.Layout("NC"))
    y = ops.relu(x, name="y")
    m = ov.Model([y.output(0)], [x], "n&m")
    values = {"k ey": 'v<"&', ("sec", "Inner"): "1", ("sec", "bad name"): "2", "9start": "3", "flag": True,
              "off": False, "f": 0.1, "big": 1e6, "ints": [1, 2], "strs": ["a", "b c"], "empty": {},
              "xmlish": "x", "info": "i", "a.b-c": "d"}
    for path, value in values.items():
        m.set_rt_info(value, list(path) if isinstance(path, tuple) else path)
    (theirs, mine), _ = rewrite(tmp_path, m)
    assert mine == theirs
    ar = arrayrt.read_model(tmp_path / "ov.xml")
    ar.rt_info.update({k: values[k] for k in ("flag", "off", "f", "big", "ints", "strs")})
    xml, _ = to_ir(ar)
    assert _RUNTIME_LINE.sub("", xml) == theirs


def test_arrayrt_built_model_matches_openvino_built_one(tmp_path):
    """The same graph built with ``arrayrt.opset`` and ``openvino.opset16`` (all names given)
    gives identical IR; OpenVINO reading arrayrt's IR computes what arrayrt computes."""
    needs("Relu", "Split", "Concat", "Softmax")

    def build(o):
        x = o.parameter([2, 4], np.float32, name="x")
        z = o.parameter([2, 4], np.float32, name="z")
        x.output(0).set_names({"x"})
        z.output(0).set_names({"z"})
        w = o.constant(np.arange(8, dtype=np.float32).reshape(2, 4) / 8, name="w")
        h = o.relu(o.add(x, w, name="h_pre"), name="h")
        axis = o.constant(np.int64(1), name="axis")
        parts = o.split(o.concat([h, z], 1, name="cat"), axis, 4, name="parts")
        y = o.softmax(o.multiply(parts.output(1), parts.output(3), name="prod"), 1, name="y")
        outs = [y.output(0), parts.output(0), o.convert(h, "f16", name="h16").output(0)]
        for i, out in enumerate(outs):
            out.set_names({f"out{i}"})
        return [o.result(out, name=f"r{i}") for i, out in enumerate(outs)], [x, z]

    results, params = build(ops)
    ov.save_model(ov.Model(results, params, "same"), tmp_path / "ov.xml", compress_to_fp16=False)
    results, params = build(aops)
    mine = arrayrt.Model(results, params, "same")
    arrayrt.serialize(mine, tmp_path / "ar.xml")
    theirs = _RUNTIME_LINE.sub("", (tmp_path / "ov.xml").read_text())
    theirs = theirs.replace("<rt_info>\n\t</rt_info>", "<rt_info />")
    assert (tmp_path / "ar.xml").read_text() == theirs
    assert (tmp_path / "ar.bin").read_bytes() == (tmp_path / "ov.bin").read_bytes()
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((2, 4)).astype(np.float32) for _ in range(2)]
    from_ir = ov.Core().read_model(tmp_path / "ar.xml")
    for got, want in zip(run_arrayrt(mine, inputs), run_openvino(from_ir, inputs)):
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-6)


def test_constant_data_is_deduplicated_like_openvino(tmp_path):
    """Identical bytes share one offset whatever the element type; a prefix is not shared; an
    empty constant takes one byte."""
    needs("Concat")
    x = ops.parameter([3], np.float32, name="x")
    a = ops.constant(np.array([1, 2, 3], np.float32), name="a")
    b = ops.constant(np.array([1, 2, 3], np.float32), name="b")
    e = ops.constant(np.array([1065353216, 1073741824, 1077936128], np.int32), name="e")
    c = ops.constant(np.array([1, 2], np.float32), name="c")
    f = ops.constant(np.zeros((0,), np.float32), name="f")
    g = ops.constant(np.zeros((0, 2), np.int64), name="g")
    outs = [ops.add(ops.add(x, a), b).output(0), e.output(0), c.output(0), f.output(0), g.output(0)]
    (theirs, mine), (their_bin, my_bin) = rewrite(tmp_path, ov.Model(outs, [x], "d"))
    assert mine == theirs and my_bin == their_bin
    spots = {name: (int(offset), int(size)) for name, offset, size in re.findall(
        r'name="(\w)" type="Const" version="opset1">\s*<data [^>]*offset="(\d+)" size="(\d+)"', mine)}
    assert spots["a"] == spots["b"] == spots["e"] != spots["c"]
    assert spots["f"] == spots["g"] and spots["f"][1] == 1
    assert len(my_bin) == 1 + 12 + 8


def test_std_sort_is_a_sort_and_keeps_openvinos_order_of_ties():
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 16, 17, 40, 300):
        items = [(int(k), i) for i, k in enumerate(rng.integers(0, 6, n))]
        got = list(items)
        std_sort(got, lambda a, b: a[0] < b[0])
        assert [k for k, _ in got] == sorted(k for k, _ in items) and sorted(got) == sorted(items)
    small = [(1, "a"), (0, "b"), (1, "c"), (0, "d")]
    std_sort(small, lambda a, b: a[0] < b[0])
    assert small == [(0, "b"), (0, "d"), (1, "a"), (1, "c")]  # insertion sort below 17 items: stable


def test_write_options(tmp_path):
    x = aops.parameter([2], np.float32, name="x")
    m = arrayrt.Model([aops.add(x, x, name="y")], [x], "m")
    with pytest.raises(ArrayrtError, match="IR v11"):
        arrayrt.serialize(m, tmp_path / "a.xml", version="IR_V10")
    arrayrt.serialize(m, tmp_path / "b.xml", tmp_path / "weights.data", version="IR_V11")
    assert (tmp_path / "weights.data").exists() and not (tmp_path / "b.bin").exists()
    arrayrt.save_model(m, tmp_path / "noext")
    assert (tmp_path / "noext.xml").exists() and (tmp_path / "noext.bin").exists()
    assert ov.Core().read_model(tmp_path / "noext.xml").inputs[0].get_partial_shape() == ov.PartialShape([2])


# --- compress_to_fp16 ------------------------------------------------------------------------------
def _openvino_f16(arr, tmp_path):
    x = ops.parameter(list(arr.shape), arr.dtype, name="x")
    ov.save_model(ov.Model([ops.add(x, ops.constant(arr, name="w"))], [x], "m"), tmp_path / "c.xml")
    if "w_compressed" not in (tmp_path / "c.xml").read_text():
        return None
    return np.frombuffer((tmp_path / "c.bin").read_bytes(), np.float16)[: arr.size].reshape(arr.shape)


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 65504, 65519, 65520, 1e6, -1e6, 1e-9, 3e-8, 2**-24, 2**-25,
           1e-5, 4098, 4097, 2049, 0.1, 1 / 3, 1.0001, 1000.3, 5000.0, 7e-6, 1.52584386e-05]
CASES = [  # values, dtype, shape; OpenVINO's verdict is the oracle
    ([1e6, 1], "f32", None), ([1e6, 2e6, 3e6, 1], "f32", None), ([1e6, 2e6, 1, 1, 1], "f32", None),
    ([1e-9, 1, 1, 1], "f32", None), ([1e-9] * 3 + [1], "f32", None), ([4e-8] * 3 + [1], "f32", None),
    ([np.nan, 1], "f32", None), ([np.nan] * 3 + [1], "f32", None), ([np.nan] * 3 + [1], "f64", None),
    ([np.inf, -np.inf, 1, 1], "f32", None), ([4098] + [1] * 99, "f32", None), ([2049, 1, 1, 1], "f32", None),
    ([0.1] * 4, "f32", None), ([1e-5] * 3 + [1], "f32", None), ([6e-5] * 3 + [1], "f32", None),
    (0.1, "f32", ()), (1.0, "f32", ()), (1.0001, "f32", ()), (1.0001, "f64", ()), (np.nan, "f32", ()),
    (np.nan, "f64", ()), ([0.1], "f32", (1, 1)), ([], "f32", (0,)), ([3e-8, 1, 1, 1], "f64", None),
    ([1.52584386e-05, 1, 1, 1], "f64", None), ([1.52584386e-05, 1, 1, 1], "f32", None),
]


@pytest.mark.parametrize("values,dtype,shape", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_fp16_rules_match_openvino(values, dtype, shape, tmp_path):
    """Which constants stay as they are (the 3/4 rule over out-of-range, underflowing, NaN for f32,
    and imprecise values; the abs-error veto; empty ones) and the exact f16 bits of the others
    (clamping, NaN, OpenVINO's f64 rounding)."""
    arr = np.array(values, np.float32 if dtype == "f32" else np.float64)
    arr = arr.reshape(shape) if shape is not None else arr
    want, got = _openvino_f16(arr, tmp_path), to_f16(arr)
    assert (got is None) == (want is None)
    if want is not None:
        assert got.shape == want.shape and got.view(np.uint16).tobytes() == want.view(np.uint16).tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_fp16_rules_match_openvino_on_random_mixtures(seed, tmp_path):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n = int(rng.choice([1, 2, 3, 4, 7, 12]))
        kind = rng.integers(4)
        if kind == 0:
            v = rng.standard_normal(n) * 10 ** rng.uniform(-8, 6)
        elif kind == 1:
            v = rng.choice(SPECIAL, n)
        elif kind == 2:
            v = rng.random(n) * 2**-14
        else:
            v = np.where(rng.random(n) < 0.5, rng.choice(SPECIAL, n), rng.standard_normal(n))
        for dtype in (np.float32, np.float64):
            arr = v.astype(dtype)
            want, got = _openvino_f16(arr, tmp_path), to_f16(arr)
            assert (got is None) == (want is None), arr
            if want is not None:
                assert got.view(np.uint16).tobytes() == want.view(np.uint16).tobytes(), arr


def _compressed_model():
    x = ops.parameter([1, 2, 4, 4], np.float32, name="x")
    w = ops.constant(np.linspace(-2, 2, 2, dtype=np.float32).reshape(1, 2, 1, 1), name="w")
    w.output(0).set_names({"w,t", "wt"})
    y = ops.multiply(x, w, name="y")
    ones = np.ones(4, np.float32)
    shape = ops.convert(ops.shape_of(y, name="shape"), "f32", name="shape_f")
    scaled = ops.multiply(shape, ops.constant(ones, name="scale"), name="scaled")
    size = ops.convert(scaled, "i64", name="size")
    r = ops.reshape(y, size, False, name="same")
    t = ops.tile(r, ops.convert(ops.constant(ones, name="reps_f"), "i64"), name="t")
    big = ops.constant(np.array([1e6, 2e6, 3e6, 1], np.float32).reshape(1, 1, 1, 4), name="big")
    d = ops.add(ops.convert(t, "f64", name="t64"),
                ops.constant(np.full((1, 2, 1, 1), 0.25), name="bias64"), name="d")
    direct = ops.constant(np.array([3.5, 1.0], np.float32), name="direct")
    direct.output(0).set_names({"direct_out"})
    one = ops.constant(np.float32(0.1), name="one")
    outs = [ops.add(t, big, name="out").output(0), d.output(0), direct.output(0),
            ops.multiply(t, one, name="tenth").output(0)]
    return ov.Model(outs, [x], "c")


def test_compress_to_fp16_writes_what_openvino_writes(tmp_path):
    """``X_compressed`` f16 constants behind ``Convert X`` with the decompression mark; tensor names
    on the compressed constant (moved to the Convert for a constant a Result returns); constants
    of shape subgraphs and the too-lossy ones kept and marked as OpenVINO marks them. OpenVINO
    writes the port precision of a decompression Convert a Result returns as FP16 (its output is
    f32): arrayrt writes FP32 there, the only difference."""
    needs("ShapeOf", "Reshape", "Tile")
    (theirs, mine), (their_bin, my_bin) = rewrite(tmp_path, _compressed_model(), compress=True)
    assert my_bin == their_bin
    diff = [(a, b) for a, b in zip(theirs.splitlines(), mine.splitlines()) if a != b]
    assert len(theirs.splitlines()) == len(mine.splitlines())
    assert all(a.replace('precision="FP16"', 'precision="FP32"') == b for a, b in diff) and len(diff) <= 3
    for name in ("w", "bias64", "direct"):
        assert f'name="{name}_compressed" type="Const"' in mine and f'name="{name}" type="Convert"' in mine
    for name in ("scale", "reps_f", "big", "one"):
        assert f'name="{name}" type="Const"' in mine and f'name="{name}_compressed"' not in mine
    assert mine.count('name="DisablePrecisionConversion"') == 2
    assert mine.count('<attribute name="decompression" version="0" />') == 3
    rng = np.random.default_rng(6)
    x = [rng.standard_normal((1, 2, 4, 4)).astype(np.float32)]
    for got, want in zip(run_openvino(ov.Core().read_model(tmp_path / "ar.xml"), x),
                         run_openvino(ov.Core().read_model(tmp_path / "ov.xml"), x)):
        np.testing.assert_array_equal(got, want)
    back = arrayrt.read_model(tmp_path / "ar.xml")
    assert {n for o in back.outputs for n in o.get_names()} == \
           {n for o in ov.Core().read_model(tmp_path / "ov.xml").outputs for n in o.get_names()}


def test_compress_leaves_the_model_alone(tmp_path):
    x = aops.parameter([2], np.float32, name="x")
    w = aops.constant(np.array([0.5, 1e6], np.float32), name="w")
    m = arrayrt.Model([aops.add(x, w, name="y")], [x], "m")
    arrayrt.save_model(m, tmp_path / "m.xml")
    assert w.attrs["element_type"] is arrayrt.Type.f32 and w.friendly_name == "w"
    assert [n.type_name for n in m.get_ordered_ops()] == ["Parameter", "Constant", "Add", "Result"]
    assert "w_compressed" in (tmp_path / "m.xml").read_text()


def _fake_quantized():
    x = ops.parameter([2, 4], np.float32, name="x")
    fq = ops.fake_quantize(x, *(ops.constant(np.float32(v), name=n) for v, n in
                                ((0, "il"), (1, "ih"), (0, "ol"), (1, "oh"))), 256, name="fq")
    w = ops.constant(np.full((2, 4), 0.5, np.float32), name="w")
    return ov.Model([ops.multiply(fq, w).output(0)], [x], "q")


def _weight_compressed(zero_point: str):
    x = ops.parameter([2, 4], np.float32, name="x")
    q = ops.convert(ops.constant(np.arange(8, dtype=np.uint8).reshape(2, 4), name="qw"), "f32", name="deq")
    if zero_point == "const":
        q = ops.subtract(q, ops.constant(np.float32(3), name="zp"), name="shifted")
    elif zero_point == "convert":
        q = ops.subtract(q, ops.convert(ops.constant(np.uint8(3), name="zp"), "f32"), name="shifted")
    scaled = ops.multiply(ops.constant(np.full((2, 1), 0.5, np.float32), name="scale"), q, name="w")
    bias = ops.constant(np.ones(4, np.float32), name="bias")
    return ov.Model([ops.add(ops.multiply(x, scaled), bias).output(0)], [x], "wc")


@pytest.mark.parametrize("make", [_fake_quantized, lambda: _weight_compressed("none"),
                                  lambda: _weight_compressed("const"), lambda: _weight_compressed("convert")],
                         ids=["fake_quantize", "u8_weights", "u8_weights_zp", "u8_weights_zp_convert"])
def test_optimized_models_keep_every_constant(make, tmp_path):
    """A model with FakeQuantize or already compressed weights is not compressed at all."""
    needs("FakeQuantize")
    (theirs, mine), (their_bin, my_bin) = rewrite(tmp_path, make(), compress=True)
    assert mine == theirs and my_bin == their_bin and "_compressed" not in mine


def test_constants_marked_in_the_ir_are_not_compressed(tmp_path):
    x = ops.parameter([2], np.float32, name="x")
    m = ov.Model([ops.add(x, ops.constant(np.array([0.5, 2], np.float32), name="w")).output(0)], [x], "m")
    ov.save_model(m, tmp_path / "m.xml", compress_to_fp16=False)
    text = (tmp_path / "m.xml").read_text()
    for mark in ('<attribute name="DisablePrecisionConversion" version="0" value="dynamic:f16" />',
                 '<attribute name="disable_fp16_compression" version="0" />'):
        head = 'type="Const" version="opset1">'
        marked = text.replace(head, f"{head}<rt_info>{mark}</rt_info>")
        (tmp_path / "m.xml").write_text(marked)
        arrayrt.save_model(arrayrt.read_model(tmp_path / "m.xml"), tmp_path / "a.xml")
        assert "_compressed" not in (tmp_path / "a.xml").read_text()
