"""Unique and ReverseSequence against real OpenVINO; the extension ops CumProd, Det and Resize
against numpy and ONNX's reference Resize, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest

from arrayrt.testing import check_op, rand

# --- Unique -------------------------------------------------------------------------------------

UNIQUE_DATA = {
    "f32-2d": np.array([[1, 3, 1], [2, 3, 2], [1, 3, 1], [0, 5, 0]], np.float32),
    "i32-1d": np.array([5, 1, 5, 5, -2, 1, 0, 9, -2], np.int32),
    "i64-3d": rand((3, 2, 4), np.int64, seed=5, low=0, high=3),
}


def _unique(ops, x, axis, sort, index_type="i64", count_type="i64"):
    axis_node = None if axis is None else ops.constant(np.int64(axis))
    n = ops.unique(x, axis_node, sorted=sort, index_element_type=index_type, count_element_type=count_type)
    return [n.output(i) for i in range(4)]


@pytest.mark.parametrize("data", sorted(UNIQUE_DATA))
@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("sort", [True, False])
def test_unique(data, axis, sort, backend):
    x = UNIQUE_DATA[data]
    if data == "i32-1d" and axis == -1:
        axis = 0
    check_op(lambda ops, d: _unique(ops, d, axis, sort), [x], backend)


def test_unique_index_types(backend):
    check_op(lambda ops, d: _unique(ops, d, 1, True, "i32", "i32"), [UNIQUE_DATA["i64-3d"]], backend)


def test_unique_slices_compare_lexicographically(backend):
    x = np.array([[3, 1], [1, 9], [1, 2], [3, 0], [1, 2]], np.float32)
    check_op(lambda ops, d: _unique(ops, d, 0, True), [x], backend,
             expected=[np.array([[1, 2], [1, 9], [3, 0], [3, 1]], np.float32), np.array([2, 1, 3, 0]),
                       np.array([3, 1, 0, 2, 0]), np.array([2, 1, 1, 1])])


# --- ReverseSequence ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape,batch_axis,seq_axis,lengths", [
    ((3, 5, 2), 0, 1, [1, 5, 3]),
    ((5, 3, 2), 1, 0, [2, 4, 5]),
    ((2, 3, 4), -1, 1, [3, 1, 2, 3]),
    ((4, 2), 1, 0, [4, 1]),
])
@pytest.mark.parametrize("length_type", [np.int32, np.int64, np.float32])
def test_reverse_sequence(shape, batch_axis, seq_axis, lengths, length_type, backend):
    x = rand(shape, np.float32, seed=3)
    seq = np.array(lengths, length_type)
    check_op(lambda ops, d, s: ops.reverse_sequence(d, s, batch_axis, seq_axis), [x, seq], backend)


def test_reverse_sequence_int_data(backend):
    x = rand((2, 6), np.int64, seed=4, low=-50, high=50)
    check_op(lambda ops, d, s: ops.reverse_sequence(d, s, 0, 1), [x, np.array([6, 2], np.int64)], backend)


# --- CumProd / Det (extension ops: no OpenVINO oracle) ------------------------------------------


def _cumprod(x, axis, exclusive, reverse):
    y = np.flip(x, axis) if reverse else x
    c = np.cumprod(y, axis=axis, dtype=x.dtype)
    if exclusive:
        c = np.concatenate([np.ones_like(np.take(c, [0], axis)), np.delete(c, -1, axis)], axis)
    return np.flip(c, axis) if reverse else c


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cum_prod(dtype, axis, exclusive, reverse, backend):
    x = rand((3, 4), dtype, seed=6, low=-3, high=4)
    check_op(lambda ops, d: ops.cum_prod(d, np.int64(axis), exclusive, reverse), [x], backend,
             expected=[_cumprod(x, axis, exclusive, reverse)])


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_det(shape, dtype, backend):
    x = rand(shape, dtype, seed=7)
    check_op(lambda ops, d: ops.det(d), [x], backend, expected=[np.linalg.det(x).astype(dtype)], rtol=1e-4)


# --- Resize (extension op) ----------------------------------------------------------------------


def _onnx_resize(x, values, use_scales, roi, attrs):
    from onnx.reference.ops.op_resize import Resize

    kw = dict(attrs)
    axes = kw.pop("axes", None) or None
    run = Resize._run.__get__(object.__new__(Resize))
    scales, sizes = (values, None) if use_scales else (None, values)
    return run(x, roi, scales, sizes, axes=axes, **kw)[0]


RESIZE = [
    dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"),
    dict(mode="nearest", coordinate_transformation_mode="align_corners", nearest_mode="floor"),
    dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"),
    dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"),
    dict(mode="linear", coordinate_transformation_mode="align_corners"),
    dict(mode="linear", coordinate_transformation_mode="half_pixel", antialias=True),
    dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"),
    dict(mode="cubic", coordinate_transformation_mode="asymmetric", cubic_coeff_a=-0.5),
    dict(mode="cubic", coordinate_transformation_mode="half_pixel", exclude_outside=True),
    dict(mode="cubic", coordinate_transformation_mode="half_pixel", antialias=True),
    dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-1.0),
    dict(mode="nearest", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=7.0),
]
DEFAULTS = dict(coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_floor",
                cubic_coeff_a=-0.75, exclude_outside=False, extrapolation_value=0.0, antialias=False,
                keep_aspect_ratio_policy="stretch")


def _resize_case(attrs, values, use_scales, axes=(), dtype=np.float32):
    x = rand((1, 2, 5, 7), dtype, seed=8, low=-20, high=20)
    full = DEFAULTS | attrs
    crop = full["coordinate_transformation_mode"] == "tf_crop_and_resize"
    n = len(axes) or 4
    roi = np.array([0.0] * (n - 2) + [0.1, -0.2] + [1.0] * (n - 2) + [0.8, 1.1], np.float32) if crop else None
    expected = _onnx_resize(x, np.array(values, np.float32 if use_scales else np.int64), use_scales, roi,
                            full | {"axes": list(axes)})
    vals = np.array(values, np.float32 if use_scales else np.int64)

    def build(ops, d):
        return ops.resize(d, vals, roi, shape_calculation_mode="scales" if use_scales else "sizes", axes=axes,
                          **full)
    return build, x, expected


@pytest.mark.parametrize("attrs", RESIZE, ids=lambda a: "-".join(str(v) for v in a.values()))
@pytest.mark.parametrize("values,use_scales", [([1, 1, 0.6, 1.7], True), ([1, 1, 2.0, 0.5], True),
                                               ([1, 2, 8, 3], False)])
def test_resize(attrs, values, use_scales, backend):
    build, x, expected = _resize_case(attrs, values, use_scales)
    check_op(build, [x], backend, expected=[expected], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_resize_axes_and_aspect_ratio(policy, backend):
    build, x, expected = _resize_case({"mode": "linear", "keep_aspect_ratio_policy": policy}, [9, 4], False,
                                      axes=(2, 3))
    check_op(build, [x], backend, expected=[expected], rtol=1e-4, atol=1e-4)


def test_resize_integer_data_rounds_and_saturates(backend):
    build, x, expected = _resize_case({"mode": "cubic"}, [1, 1, 1.5, 0.7], True, dtype=np.int32)
    check_op(build, [x], backend, expected=[expected])



def test_extension_ops_round_trip_through_ir():
    """arrayrt writes and reads its own ops (``version="arrayrt1"``) with every attribute."""
    from arrayrt.ir.io.reader import parse_ir
    from arrayrt.ir.io.writer import to_ir

    import arrayrt
    import arrayrt.opset as ops

    x = rand((2, 2, 5, 5), np.float32, seed=9, low=0.5, high=1.5)
    p = ops.parameter(list(x.shape), np.float32, name="x")
    roi = np.array([0.1, -0.2, 0.8, 1.1], np.float32)
    resized = ops.resize(p, np.array([3, 9], np.int64), roi, mode="cubic", shape_calculation_mode="sizes",
                         coordinate_transformation_mode="tf_crop_and_resize", cubic_coeff_a=-0.5,
                         extrapolation_value=2.5, axes=(2, 3))
    model = arrayrt.Model([resized, ops.cum_prod(p, np.int64(3), True, True), ops.det(p)], [p], "ext")
    xml, chunks = to_ir(model)
    assert xml.count('version="arrayrt1"') == 3
    back = parse_ir(xml.encode(), b"".join(chunks))
    core = arrayrt.Core()
    want = core.compile_model(model, "CPU")([x])
    got = core.compile_model(back, "CPU")([x])
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(got[i]), np.asarray(want[i]))
