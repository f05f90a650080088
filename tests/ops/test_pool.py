"""MaxPool (v1, v8, v14), AvgPool (v1, v14, v16), AdaptiveAvgPool and AdaptiveMaxPool against real
OpenVINO on every test backend; dynamic-shape inference against OpenVINO's own."""
from __future__ import annotations

import importlib

import numpy as np
import openvino as ov
import openvino.opset16 as ovops
import pytest
from arrayrt.ir.ops.factory import make
from arrayrt.ir.shape import PartialShape

import arrayrt
import arrayrt.opset as ops
from arrayrt.errors import ArrayrtError
from arrayrt.testing import assert_close, check_op, rand, run_arrayrt, run_openvino


def _is_ov(o) -> bool:
    return o.__name__.startswith("openvino")


def max_pool_v(version: int, x, o, strides, dilations, pads_begin, pads_end, kernel, rounding="floor",
               auto_pad="explicit", index_type="i64", axis=0):
    """A MaxPool of the given op version in either library (version 1 has no dilations, one output)."""
    if _is_ov(o):
        mod = importlib.import_module(f"openvino.opset{version}")
        if version == 1:
            return mod.max_pool(x, strides, pads_begin, pads_end, kernel, rounding, auto_pad)
        return mod.max_pool(x, strides, dilations, pads_begin, pads_end, kernel, rounding, auto_pad,
                            index_type, axis).outputs()
    attrs = {"strides": strides, "pads_begin": pads_begin, "pads_end": pads_end, "kernel": kernel,
             "rounding_type": rounding, "auto_pad": auto_pad}
    if version != 1:
        attrs.update(dilations=dilations, index_element_type=index_type, axis=axis)
    node = make("MaxPool", [x], attrs, version=f"opset{version}")
    return node if version == 1 else node.outputs()


def avg_pool_v(version: int, x, o, strides, pads_begin, pads_end, kernel, exclude_pad, rounding="floor",
               auto_pad="explicit"):
    if _is_ov(o):
        mod = importlib.import_module(f"openvino.opset{version}")
        return mod.avg_pool(x, strides, pads_begin, pads_end, kernel, exclude_pad, rounding, auto_pad)
    return make("AvgPool", [x], {"strides": strides, "pads_begin": pads_begin, "pads_end": pads_end,
                                 "kernel": kernel, "exclude-pad": exclude_pad, "rounding_type": rounding,
                                 "auto_pad": auto_pad}, version=f"opset{version}")


# shape, kernel, strides, dilations, pads_begin, pads_end, rounding, auto_pad
WINDOWS = [
    ((1, 2, 9), [3], [2], [1], [1], [0], "floor", "explicit"),
    ((2, 1, 10), [3], [3], [2], [0], [2], "ceil", "explicit"),
    ((1, 3, 8, 8), [2, 2], [2, 2], [1, 1], [0, 0], [0, 0], "floor", "explicit"),
    ((1, 2, 9, 10), [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], "floor", "explicit"),
    ((1, 2, 9, 10), [3, 2], [2, 3], [1, 1], [1, 0], [0, 1], "ceil", "explicit"),
    ((1, 2, 10, 10), [3, 3], [3, 3], [1, 1], [1, 1], [1, 1], "ceil_torch", "explicit"),
    ((1, 2, 11, 10), [3, 3], [3, 2], [1, 1], [2, 1], [2, 2], "ceil_torch", "explicit"),
    ((1, 2, 9, 10), [3, 3], [2, 2], [2, 1], [1, 2], [2, 1], "floor", "explicit"),
    ((2, 2, 9, 7), [3, 2], [2, 2], [1, 1], [0, 0], [0, 0], "floor", "same_upper"),
    ((1, 2, 9, 7), [4, 3], [3, 2], [1, 2], [0, 0], [0, 0], "ceil", "same_lower"),
    ((1, 2, 9, 7), [3, 3], [2, 2], [1, 1], [5, 5], [5, 5], "ceil", "valid"),
    ((1, 2, 5, 6, 7), [2, 3, 2], [2, 1, 2], [1, 1, 2], [1, 0, 1], [0, 1, 0], "floor", "explicit"),
    ((1, 1, 5, 6, 7), [3, 3, 3], [2, 2, 2], [1, 1, 1], [1, 1, 1], [1, 1, 1], "ceil_torch", "explicit"),
]


def _ids(cases):
    return [f"{c[0]}-k{c[1]}-s{c[2]}-d{c[3]}-{c[6]}-{c[7]}" for c in cases]


@pytest.mark.parametrize("case", WINDOWS, ids=_ids(WINDOWS))
def test_max_pool(case, backend):
    shape, k, s, d, pb, pe, rounding, ap = case
    check_op(lambda o, x: o.max_pool(x, s, d, pb, pe, k, rounding, ap).outputs(), [rand(shape, seed=1)],
             backend)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("index_type", ["i32", "i64"])
def test_max_pool_indices(axis, index_type, backend):
    x = rand((2, 3, 7, 6), seed=2)
    check_op(lambda o, p: o.max_pool(p, [2, 2], [1, 1], [1, 0], [1, 1], [3, 2], "ceil", "explicit",
                                     index_type, axis).outputs(), [x], backend)


def test_max_pool_ties_and_padding_windows(backend):
    """Ties keep the first element; a window entirely in padding gives the lowest finite value and
    the channel's first index; NaN and -inf never win."""
    x = np.array([[[1, 3, 3, 2, 2, -np.inf, -np.inf, np.nan, 4, np.nan]]], np.float32)
    check_op(lambda o, p: o.max_pool(p, [1], [1], [2], [1], [2]).outputs(), [x], backend)


def test_pools_with_a_stride_beyond_the_input(backend):
    """A stride of 10^9 along an axis with one window (ceil rounding drops the window that would
    start outside): the numpy kernels split the input into one plane per stride step, and hung
    making a billion (found by fuzzing ONNX models)."""
    x = rand((1, 2, 5, 4), np.float32, seed=4)
    check_op(lambda o, p: o.max_pool(p, [2, 10 ** 9], [1, 1], [0, 0], [0, 0], [2, 2], "ceil").outputs(), [x],
             backend)
    # by hand (OpenVINO 2026.4.1's AvgPool crashed on this case, at stride 6 and at 10^9):
    # rows 0-2 in the first window, the second only padding; columns padded by one, divisor 3 * 2
    xp = np.pad(x, ((0, 0), (0, 0), (0, 0), (1, 1)))
    first = np.stack([xp[:, :, 0:3, w:w + 2].sum(axis=(2, 3)) for w in range(5)], -1) / 6
    want = np.stack([first, np.zeros_like(first)], 2)
    for stride in (6, 10 ** 9):
        check_op(lambda o, p: [o.avg_pool(p, [stride, 1], [0, 1], [0, 1], [3, 2], False, "ceil")], [x], backend,
                 expected=[want], interop=False)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.int8, np.uint8])
def test_max_pool_dtypes(dtype, backend):
    x = rand((1, 2, 6, 7), dtype, seed=3, low=-50 if np.dtype(dtype).kind != "u" else 0, high=50)
    check_op(lambda o, p: o.max_pool(p, [2, 2], [1, 1], [1, 1], [0, 1], [3, 3], "ceil").outputs(), [x],
             backend)


@pytest.mark.parametrize("case", [WINDOWS[1], WINDOWS[4], WINDOWS[8], WINDOWS[11]], ids=str)
@pytest.mark.parametrize("version", [1, 8])
def test_max_pool_older_versions(case, version, backend):
    shape, k, s, d, pb, pe, rounding, ap = case
    if version == 1:
        d = [1] * len(k)
    check_op(lambda o, x: max_pool_v(version, x, o, s, d, pb, pe, k, rounding, ap, "i32", 1),
             [rand(shape, seed=4)], backend)


@pytest.mark.parametrize("case", WINDOWS, ids=_ids(WINDOWS))
@pytest.mark.parametrize("exclude_pad", [True, False])
def test_avg_pool(case, exclude_pad, backend):
    shape, k, s, d, pb, pe, rounding, ap = case
    check_op(lambda o, x: o.avg_pool(x, s, pb, pe, k, exclude_pad, rounding, ap, d), [rand(shape, seed=5)],
             backend, rtol=1e-5, atol=1e-6)


def test_avg_pool_default_dilations(backend):
    """Without dilations AvgPool-16 keeps them empty, as OpenVINO writes them. (OpenVINO's CPU plugin
    crashes compiling such an AvgPool-16, so the oracle is the same pooling as AvgPool-14.)"""
    node = ops.avg_pool(ops.parameter([1, 1, 4, 4]), [1, 1], [0, 0], [0, 0], [2, 2], True)
    assert node.attrs["dilations"] == []
    x = rand((1, 2, 5, 6), seed=6)
    ov14 = importlib.import_module("openvino.opset14")
    p = ov14.parameter(list(x.shape), np.float32)
    oracle = ov.Model([ov14.avg_pool(p, [2, 1], [1, 0], [0, 1], [2, 2], False, "ceil")], [p])
    check_op(lambda o, p: o.avg_pool(p, [2, 1], [1, 0], [0, 1], [2, 2], False, "ceil"), [x], backend,
             expected=run_openvino(oracle, [x]))


@pytest.mark.parametrize("case", [WINDOWS[1], WINDOWS[4], WINDOWS[6], WINDOWS[9]], ids=str)
@pytest.mark.parametrize("version", [1, 14])
@pytest.mark.parametrize("exclude_pad", [True, False])
def test_avg_pool_older_versions(case, version, exclude_pad, backend):
    shape, k, s, _, pb, pe, rounding, ap = case
    if version == 1 and rounding == "ceil_torch":
        rounding = "ceil"
    check_op(lambda o, x: avg_pool_v(version, x, o, s, pb, pe, k, exclude_pad, rounding, ap),
             [rand(shape, seed=7)], backend)


def test_avg_pool_f16(backend):
    check_op(lambda o, x: o.avg_pool(x, [2, 2], [1, 1], [1, 1], [3, 3], False, dilations=[1, 1]),
             [rand((1, 2, 6, 6), np.float16, seed=8)], backend, rtol=2e-3, atol=2e-3)


def test_avg_pool_integer(backend):
    """Integer averages truncate toward zero (i32) and round to nearest even (8-bit), as OpenVINO's
    reference kernel does; the CPU plugin has no integer AvgPool, so values are hand-computed."""
    x = np.array([[[7, -7, 2, 3, -1, -2, 5]]], np.int32)
    # windows (k=2, s=2, pads 1/0, exclude-pad): [7]/1, [-7,2]/2, [3,-1]/2, [-2,5]/2
    want32 = np.array([[[7, -2, 1, 1]]], np.int32)
    check_op(lambda o, p: o.avg_pool(p, [2], [1], [0], [2], True), [x], backend, expected=[want32])
    x8 = np.array([[[5, 6, 1, 2, 3, 4]]], np.uint8)
    # windows (k=2, s=2): 11/2=5.5 -> 6, 3/2=1.5 -> 2, 7/2=3.5 -> 4
    check_op(lambda o, p: o.avg_pool(p, [2], [0], [0], [2], True), [x8], backend,
             expected=[np.array([[[6, 2, 4]]], np.uint8)])


# --- adaptive pooling --------------------------------------------------------------------------
ADAPTIVE = [((2, 3, 10), [4]), ((1, 2, 9, 7), [3, 3]), ((1, 2, 7, 9), [4, 5]), ((1, 2, 5, 6), [7, 6]),
            ((1, 2, 8, 8), [1, 1]), ((1, 2, 5, 6, 7), [2, 3, 4])]


@pytest.mark.parametrize("case", ADAPTIVE, ids=str)
def test_adaptive_avg_pool(case, backend):
    shape, out = case
    check_op(lambda o, x: o.adaptive_avg_pool(x, np.array(out, np.int64)), [rand(shape, seed=9)], backend)


def _adaptive_max_oracle(x, out):
    """OpenVINO's CPU plugin computes AdaptiveMaxPool only with i32 indices: the i64 oracle is the
    i32 result widened."""
    p = ovops.parameter(list(x.shape), x.dtype)
    model = ov.Model(ovops.adaptive_max_pool(p, np.array(out, np.int64), "i32").outputs(), [p])
    values, idx = run_openvino(model, [x])
    return [values, idx.astype(np.int64)]


@pytest.mark.parametrize("case", ADAPTIVE, ids=str)
@pytest.mark.parametrize("index_type", ["i32", "i64"])
def test_adaptive_max_pool(case, index_type, backend):
    shape, out = case
    x = rand(shape, seed=10)
    expected = _adaptive_max_oracle(x, out) if index_type == "i64" else None
    check_op(lambda o, p: o.adaptive_max_pool(p, np.array(out, np.int32), index_type).outputs(), [x], backend,
             expected=expected)


def test_adaptive_max_pool_ties(backend):
    """Equal maxima keep the first element in row-major order of the bin."""
    x = np.array([[[[1, 5, 5], [5, 2, 5], [0, 5, 1]]]], np.float32)
    check_op(lambda o, p: o.adaptive_max_pool(p, np.array([2, 2], np.int64), "i32").outputs(), [x], backend)


# --- shape inference ---------------------------------------------------------------------------
def _pshapes(shape):
    if shape is None:
        return PartialShape.dynamic(), ov.PartialShape.dynamic()
    ours = PartialShape([d if isinstance(d, tuple) else (d if d != -1 else (0, -1)) for d in shape])
    theirs = ov.PartialShape([ov.Dimension(*d) if isinstance(d, tuple) else ov.Dimension(d) for d in shape])
    return ours, theirs


DYNAMIC = [[1, 3, -1, -1], [-1, 3, (5, 20), (1, -1)], [1, 3, (0, 3), (2, 10)], [2, -1, 9, (4, 6)], None]

POOL_BUILDERS = {
    "max": lambda o, p, ap, r: o.max_pool(p, [2, 3], [1, 1], [1, 0], [1, 2], [3, 3], r, ap),
    "max_dilated": lambda o, p, ap, r: o.max_pool(p, [1, 2], [2, 1], [0, 1], [2, 0], [2, 3], r, ap),
    "avg": lambda o, p, ap, r: o.avg_pool(p, [2, 2], [1, 0], [1, 2], [3, 3], False, r, ap),
    "avg_exclude": lambda o, p, ap, r: o.avg_pool(p, [3, 1], [1, 1], [0, 1], [2, 2], True, r, ap, [1, 2]),
}


@pytest.mark.parametrize("op", sorted(POOL_BUILDERS))
@pytest.mark.parametrize("rounding", ["floor", "ceil", "ceil_torch"])
@pytest.mark.parametrize("auto_pad", ["explicit", "same_lower", "valid"])
@pytest.mark.parametrize("shape", DYNAMIC, ids=str)
def test_dynamic_shape_inference(op, rounding, auto_pad, shape):
    ours, theirs = _pshapes(shape)
    got = POOL_BUILDERS[op](ops, ops.parameter(ours, np.float32), auto_pad, rounding)
    want = POOL_BUILDERS[op](ovops, ovops.parameter(theirs, np.float32), auto_pad, rounding)
    for i in range(want.get_output_size()):
        assert str(got.output(i).get_partial_shape()) == str(want.get_output_partial_shape(i))
        assert got.output(i).get_element_type().name == want.get_output_element_type(i).get_type_name()


@pytest.mark.parametrize("shape", DYNAMIC, ids=str)
@pytest.mark.parametrize("const", [True, False])
def test_adaptive_shape_inference(shape, const):
    ours, theirs = _pshapes(shape)

    def build(o, p):
        out = np.array([3, 2], np.int64) if const else o.parameter([2], np.int64)
        return [o.adaptive_avg_pool(p, out), o.adaptive_max_pool(p, out, "i32")]

    got = build(ops, ops.parameter(ours, np.float32))
    want = build(ovops, ovops.parameter(theirs, np.float32))
    for g, w in zip(got, want):
        for i in range(w.get_output_size()):
            assert str(g.output(i).get_partial_shape()) == str(w.get_output_partial_shape(i))
            assert g.output(i).get_element_type().name == w.get_output_element_type(i).get_type_name()


@pytest.mark.parametrize("build", [
    lambda p: ops.max_pool(p, [1], [1], [0], [0], [2, 2]),
    lambda p: ops.max_pool(p, [1, 1], [1, 1], [0, 0], [0, 0], [9, 2]),
    lambda p: ops.max_pool(p, [1, 0], [1, 1], [0, 0], [0, 0], [2, 2]),
    lambda p: ops.max_pool(p, [1, 1], [1, 1], [0, 0], [0, 0], [2, 2], axis=4),
    lambda p: ops.max_pool(p, [1, 1], [1, 1], [0, 0], [0, 0], [2, 2], index_element_type="i8"),
    lambda p: ops.avg_pool(p, [1, 1], [2, 0], [0, 0], [2, 2], True),
    lambda p: ops.adaptive_avg_pool(p, np.array([2, 2, 2], np.int64)),
], ids=["strides-length", "kernel-too-big", "zero-stride", "axis", "index-type", "exclude-pad-padding",
        "adaptive-rank"])
def test_shape_errors(build):
    with pytest.raises(ArrayrtError):
        build(ops.parameter([1, 3, 8, 8], np.float32))


def test_max_pool_many_taps(backend):
    """More than 255 kernel taps (the numpy kernel's wider tap counter)."""
    check_op(lambda o, x: o.max_pool(x, [1, 2, 1], [1, 1, 1], [0, 1, 0], [0, 0, 1], [3, 9, 10]).outputs(),
             [rand((1, 2, 4, 10, 11), seed=11)], backend)


def test_reads_openvino_ir(tmp_path, backend):
    """IR written by OpenVINO itself (its attribute spellings: ``exclude-pad``, empty dilations,
    lower-case enums) reads back and computes the same, for every pooling op version."""
    ov1, ov8, ov14 = (importlib.import_module(f"openvino.opset{v}") for v in (1, 8, 14))
    x = rand((1, 2, 9, 8), seed=12)
    p = ovops.parameter(list(x.shape), np.float32, name="in0")
    outs = [ov1.max_pool(p, [2, 2], [1, 0], [0, 1], [3, 3], "ceil", "explicit").output(0),
            *ov8.max_pool(p, [2, 1], [1, 2], [0, 1], [1, 0], [2, 2], "floor", "same_upper", "i32",
                          1).outputs(),
            *ov14.max_pool(p, [3, 3], [1, 1], [1, 1], [1, 1], [3, 3], "ceil_torch").outputs(),
            ov1.avg_pool(p, [2, 2], [1, 1], [1, 1], [3, 3], True, "ceil").output(0),
            ov14.avg_pool(p, [2, 2], [0, 0], [0, 0], [2, 2], False, "ceil_torch", "valid").output(0),
            ovops.avg_pool(p, [1, 2], [1, 0], [1, 0], [2, 2], False, "floor", "explicit", [2, 1]).output(0),
            ovops.adaptive_avg_pool(p, np.array([4, 3], np.int64)).output(0),
            *ov8.adaptive_max_pool(p, np.array([3, 5], np.int64), "i32").outputs()]
    model = ov.Model(outs, [p])
    ov.save_model(model, tmp_path / "pool.xml", compress_to_fp16=False)
    expected = run_openvino(model, [x])
    ours = arrayrt.Core().read_model(tmp_path / "pool.xml")
    got = run_arrayrt(ours, [x], backend)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, 1e-5, 1e-6, what=f"output {i}: ")
