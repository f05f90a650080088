"""Convolution, GroupConvolution and their BackpropData ops against real OpenVINO, on every test
backend; dynamic-shape inference against OpenVINO's own."""
from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset16 as ovops
import pytest
from arrayrt.ir.shape import PartialShape

import arrayrt
import arrayrt.opset as ops
from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import assert_close, check_op, rand, run_arrayrt, run_openvino

# data shape, filters shape, strides, pads_begin, pads_end, dilations, auto_pad
CONV = [
    ((1, 3, 9), (4, 3, 3), [1], [0], [0], [1], "explicit"),
    ((2, 2, 11), (3, 2, 4), [2], [1], [3], [2], "explicit"),
    ((1, 2, 10), (2, 2, 3), [3], [0], [0], [1], "same_lower"),
    ((1, 3, 7, 8), (4, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], "explicit"),
    ((2, 3, 9, 7), (5, 3, 3, 2), [2, 1], [0, 2], [1, 0], [1, 2], "explicit"),
    ((1, 4, 8, 8), (2, 4, 1, 1), [1, 1], [0, 0], [0, 0], [1, 1], "explicit"),
    ((1, 4, 9, 9), (3, 4, 1, 1), [2, 2], [0, 0], [0, 0], [1, 1], "explicit"),
    ((1, 2, 9, 10), (3, 2, 3, 3), [2, 2], [5, 5], [5, 5], [1, 1], "same_upper"),
    ((1, 2, 9, 10), (3, 2, 4, 3), [2, 3], [0, 0], [0, 0], [2, 1], "same_lower"),
    ((1, 2, 9, 10), (3, 2, 3, 3), [2, 2], [4, 4], [4, 4], [1, 1], "valid"),
    ((1, 3, 12, 12), (4, 3, 7, 7), [2, 2], [3, 3], [3, 3], [1, 1], "explicit"),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 2), [1, 2, 1], [1, 0, 1], [0, 1, 1], [2, 1, 1], "explicit"),
    ((1, 2, 5, 6, 7), (2, 2, 3, 3, 3), [2, 1, 2], [0, 0, 0], [0, 0, 0], [1, 1, 1], "same_upper"),
]


def _ids(cases):
    return [f"{c[0]}x{c[1]}-s{c[2]}-{c[6]}" for c in cases]


@pytest.mark.parametrize("case", CONV, ids=_ids(CONV))
def test_convolution(case, backend):
    xs, ws, s, pb, pe, d, ap = case
    w = rand(ws, seed=2)
    check_op(lambda o, x: o.convolution(x, w, s, pb, pe, d, ap), [rand(xs, seed=1)], backend,
             rtol=1e-4, atol=1e-4)


def test_convolution_with_a_stride_beyond_the_input(backend):
    """One window along the width at a stride of 10^9: the numpy kernels' phase split (one plane per
    stride step, see WindowInput) ran out of memory before it read the stride of a lone window as 1."""
    w = rand((3, 2, 2, 2), seed=2)
    check_op(lambda o, x: o.convolution(x, w, [2, 10 ** 9], [0, 0], [0, 0], [1, 1]), [rand((1, 2, 5, 4), seed=1)],
             backend, rtol=1e-4, atol=1e-4)


def test_convolution_weights_as_input(backend):
    """Weights that are not constant (a second model input) take the same path."""
    check_op(lambda o, x, w: o.convolution(x, w, [1, 2], [1, 0], [0, 1], [1, 1]),
             [rand((2, 3, 6, 7), seed=1), rand((4, 3, 3, 2), seed=2)], backend, rtol=1e-4, atol=1e-4)


# data shape, filters shape [G, O, C, *K], strides, pads_begin, pads_end, dilations, auto_pad
GROUP_CONV = [
    ((1, 4, 9), (2, 3, 2, 3), [1], [1], [1], [1], "explicit"),
    ((1, 6, 8, 8), (3, 2, 2, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], "explicit"),
    ((2, 4, 9, 9), (4, 1, 1, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], "explicit"),
    ((1, 6, 9, 8), (6, 1, 1, 3, 3), [2, 2], [1, 1], [1, 1], [1, 1], "explicit"),
    ((1, 4, 9, 8), (4, 2, 1, 3, 3), [1, 2], [2, 0], [1, 2], [2, 1], "explicit"),
    ((1, 4, 7, 8), (4, 1, 1, 5, 5), [2, 2], [0, 0], [0, 0], [1, 1], "same_upper"),
    ((1, 4, 7, 8), (2, 2, 2, 2, 3), [1, 1], [0, 0], [0, 0], [1, 1], "same_lower"),
    ((1, 4, 7, 8), (2, 2, 2, 1, 1), [2, 1], [0, 0], [0, 0], [1, 1], "valid"),
    ((1, 4, 4, 5, 6), (2, 3, 2, 2, 2, 2), [1, 2, 1], [0, 1, 0], [1, 0, 1], [1, 1, 2], "explicit"),
]


@pytest.mark.parametrize("case", GROUP_CONV, ids=_ids(GROUP_CONV))
def test_group_convolution(case, backend):
    xs, ws, s, pb, pe, d, ap = case
    w = rand(ws, seed=3)
    check_op(lambda o, x: o.group_convolution(x, w, s, pb, pe, d, ap), [rand(xs, seed=4)], backend,
             rtol=1e-4, atol=1e-4)


# data, filters [Ci, Co, *K], strides, output_shape, pads_begin, pads_end, dilations, auto_pad, output_padding
BACKPROP = [
    ((1, 3, 5), (3, 2, 3), [1], None, [0], [0], [1], "explicit", [0]),
    ((2, 2, 5), (2, 3, 4), [3], None, [1], [2], [2], "explicit", [1]),
    ((1, 3, 4, 5), (3, 2, 3, 3), [2, 2], None, [1, 1], [1, 1], [1, 1], "explicit", [1, 1]),
    ((1, 2, 4, 5), (2, 3, 2, 2), [2, 2], None, [0, 0], [0, 0], [1, 1], "explicit", [0, 0]),
    ((1, 2, 4, 5), (2, 3, 3, 2), [2, 3], None, [2, 0], [0, 1], [2, 1], "explicit", [0, 2]),
    ((1, 2, 4, 5), (2, 3, 3, 3), [2, 2], None, [1, 1], [1, 1], [1, 1], "valid", [1, 0]),
    ((1, 2, 4, 5), (2, 3, 3, 3), [2, 2], None, [0, 0], [0, 0], [1, 1], "same_upper", [0, 0]),
    ((1, 2, 4, 5), (2, 3, 3, 3), [2, 2], [8, 9], [0, 0], [0, 0], [1, 1], "same_upper", [0, 0]),
    ((1, 2, 4, 5), (2, 3, 3, 3), [2, 2], [8, 9], [0, 0], [0, 0], [1, 1], "same_lower", [0, 0]),
    ((1, 2, 4, 5), (2, 3, 3, 3), [2, 2], [7, 10], [0, 0], [0, 0], [1, 1], "same_upper", [1, 1]),
    ((1, 2, 4, 5), (2, 3, 4, 3), [1, 2], [6, 11], [0, 0], [0, 0], [1, 1], "explicit", [0, 0]),
    ((1, 2, 3, 4, 3), (2, 2, 2, 3, 2), [2, 1, 2], None, [0, 1, 0], [1, 0, 0], [1, 1, 2], "explicit",
     [1, 0, 0]),
    ((1, 2, 3, 4, 3), (2, 2, 3, 3, 3), [2, 2, 1], [6, 7, 3], [0, 0, 0], [0, 0, 0], [1, 1, 1], "same_lower",
     [0, 0, 0]),
]


def _bp_ids(cases):
    return [f"{c[0]}x{c[1]}-s{c[2]}-o{c[3]}-{c[7]}-op{c[8]}" for c in cases]


@pytest.mark.parametrize("case", BACKPROP, ids=_bp_ids(BACKPROP))
def test_convolution_backprop_data(case, backend):
    xs, ws, s, oshape, pb, pe, d, ap, op = case
    w = rand(ws, seed=5)
    shape = None if oshape is None else np.array(oshape, np.int64)
    check_op(lambda o, x: o.convolution_backprop_data(x, w, s, shape, pb, pe, d, ap, op), [rand(xs, seed=6)],
             backend, rtol=1e-4, atol=1e-4)


GROUP_BACKPROP = [
    ((1, 4, 5), (2, 2, 3, 3), [2], None, [1], [0], [1], "explicit", [1]),
    ((1, 4, 4, 5), (2, 2, 3, 3, 3), [2, 2], None, [1, 1], [1, 1], [1, 1], "explicit", [1, 1]),
    ((2, 6, 4, 4), (6, 1, 1, 4, 4), [2, 2], None, [1, 1], [1, 1], [1, 1], "explicit", [0, 0]),
    ((1, 4, 4, 5), (2, 2, 3, 2, 3), [1, 2], None, [0, 2], [1, 0], [2, 1], "explicit", [0, 0]),
    ((1, 4, 4, 5), (2, 2, 3, 3, 3), [2, 2], [9, 10], [0, 0], [0, 0], [1, 1], "same_upper", [0, 0]),
    ((1, 4, 4, 5), (2, 2, 1, 3, 3), [2, 2], [8, 8], [0, 0], [0, 0], [1, 1], "same_lower", [0, 0]),
    ((1, 4, 4, 5), (4, 1, 1, 3, 3), [1, 1], None, [0, 0], [0, 0], [1, 1], "valid", [0, 0]),
    ((1, 4, 2, 3, 3), (2, 2, 2, 2, 2, 2), [2, 2, 2], None, [0, 0, 1], [0, 1, 0], [1, 1, 1], "explicit",
     [1, 0, 0]),
]


@pytest.mark.parametrize("case", GROUP_BACKPROP, ids=_bp_ids(GROUP_BACKPROP))
def test_group_convolution_backprop_data(case, backend):
    xs, ws, s, oshape, pb, pe, d, ap, op = case
    w = rand(ws, seed=7)
    shape = None if oshape is None else np.array(oshape, np.int64)
    check_op(lambda o, x: o.group_convolution_backprop_data(x, w, s, shape, pb, pe, d, ap, op),
             [rand(xs, seed=8)], backend, rtol=1e-4, atol=1e-4)


def test_backprop_output_shape_as_input(backend):
    """The output spatial shape may come from a (constant-folded) subgraph: its value decides the shape."""
    w = rand((3, 2, 3, 3), seed=9)

    def build(o, x):
        shape = o.convert(o.add(np.array([6, 8], np.int32), np.array([1, 1], np.int32)), "i64")
        return o.convolution_backprop_data(x, w, [2, 2], shape, auto_pad="same_upper")

    check_op(build, [rand((1, 3, 4, 4), seed=10)], backend, rtol=1e-4, atol=1e-4)


def test_convolution_f16(backend):
    w = rand((4, 3, 3, 3), np.float16, seed=11, low=-1, high=1)
    check_op(lambda o, x: o.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1]),
             [rand((1, 3, 6, 6), np.float16, seed=12, low=-1, high=1)], backend, rtol=2e-2, atol=2e-2)


# --- shape inference ---------------------------------------------------------------------------
def _ov_dim(d):
    return ov.Dimension(*d) if isinstance(d, tuple) else ov.Dimension(d)


def _pshapes(shape):
    if shape is None:
        return PartialShape.dynamic(), ov.PartialShape.dynamic()
    return (PartialShape([d if isinstance(d, tuple) else (d if d != -1 else (0, -1)) for d in shape]),
            ov.PartialShape([_ov_dim(d) for d in shape]))


DYNAMIC = [[1, 3, -1, -1], [-1, 3, (5, 20), (1, -1)], [1, 3, (0, 3), (2, 10)], [2, -1, 9, (4, 6)], None]

BUILDERS = {
    "conv": lambda o, p, ap: o.convolution(p, np.ones((4, 3, 3, 3), np.float32), [2, 1], [1, 0], [1, 2],
                                           [1, 2], ap),
    "group_conv": lambda o, p, ap: o.group_convolution(p, np.ones((3, 2, 1, 3, 2), np.float32), [1, 2],
                                                       [0, 1], [2, 0], [2, 1], ap),
    "backprop": lambda o, p, ap: o.convolution_backprop_data(p, np.ones((3, 4, 3, 3), np.float32), [2, 1],
                                                             None, [1, 0], [1, 2], [1, 2], ap, [1, 0]),
    "group_backprop": lambda o, p, ap: o.group_convolution_backprop_data(
        p, np.ones((3, 1, 2, 2, 3), np.float32), [2, 3], None, [0, 1], [1, 1], [1, 1], ap, [1, 2]),
    "backprop_shape": lambda o, p, ap: o.convolution_backprop_data(
        p, np.ones((3, 4, 3, 3), np.float32), [2, 1], np.array([9, 7], np.int64), auto_pad=ap),
}


@pytest.mark.parametrize("op", sorted(BUILDERS))
@pytest.mark.parametrize("auto_pad", ["explicit", "same_upper", "valid"])
@pytest.mark.parametrize("shape", DYNAMIC, ids=str)
def test_dynamic_shape_inference(op, auto_pad, shape):
    """Output partial shapes equal OpenVINO's for interval, dynamic and dynamic-rank inputs."""
    ours, theirs = _pshapes(shape)
    got = BUILDERS[op](ops, ops.parameter(ours, np.float32), auto_pad)
    want = BUILDERS[op](ovops, ovops.parameter(theirs, np.float32), auto_pad)
    assert str(got.output(0).get_partial_shape()) == str(want.get_output_partial_shape(0))
    assert got.output(0).get_element_type().name == want.get_output_element_type(0).get_type_name()


@pytest.mark.parametrize("build", [
    lambda p: ops.convolution(p, np.ones((4, 2, 3, 3), np.float32), [1, 1], [0, 0], [0, 0], [1, 1]),
    lambda p: ops.convolution(p, np.ones((4, 3, 3), np.float32), [1], [0], [0], [1]),
    lambda p: ops.convolution(p, np.ones((4, 3, 3, 3), np.float32), [1], [0, 0], [0, 0], [1, 1]),
    lambda p: ops.convolution(p, np.ones((4, 3, 9, 3), np.float32), [1, 1], [0, 0], [0, 0], [1, 1]),
    lambda p: ops.convolution(p, np.ones((4, 3, 3, 3), np.float32), [0, 1], [0, 0], [0, 0], [1, 1]),
    lambda p: ops.convolution(p, np.ones((4, 3, 3, 3), np.int32), [1, 1], [0, 0], [0, 0], [1, 1]),
    lambda p: ops.group_convolution(p, np.ones((2, 2, 2, 3, 3), np.float32), [1, 1], [0, 0], [0, 0], [1, 1]),
    lambda p: ops.convolution_backprop_data(p, np.ones((2, 2, 3, 3), np.float32), [1, 1]),
    lambda p: ops.convolution_backprop_data(p, np.ones((3, 2, 3, 3), np.float32), [1, 1],
                                            np.array([4, 4, 4], np.int64)),
], ids=["channels", "rank", "strides-length", "kernel-too-big", "zero-stride", "types", "groups",
        "backprop-channels", "output-shape-length"])
def test_shape_errors(build):
    with pytest.raises(ShapeInferenceError):
        build(ops.parameter([1, 3, 8, 8], np.float32))


# --- numpy kernel strategies --------------------------------------------------------------------
STRATEGIES = {  # FLAT_OVERHEAD, DEPTHWISE_ADD_MIN, DEPTHWISE_NHWC_MAX
    "flat-columns-and-tap-adds": (float("inf"), 0, 0),
    "exact-columns-and-matvec": (-1.0, 1 << 60, 0),
    "flat-columns-and-channels-last": (float("inf"), 1 << 60, 1 << 60),
}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("case", CONV + GROUP_CONV, ids=_ids(CONV) + _ids(GROUP_CONV))
def test_numpy_kernel_strategies(case, strategy, monkeypatch):
    """Each im2col layout and each depthwise method of the numpy kernels, forced on every case."""
    from arrayrt.backends.numpy import conv_kernels

    names = ("FLAT_OVERHEAD", "DEPTHWISE_ADD_MIN", "DEPTHWISE_NHWC_MAX")
    for name, value in zip(names, STRATEGIES[strategy]):
        monkeypatch.setattr(conv_kernels, name, value)
    xs, ws, s, pb, pe, d, ap = case
    w = rand(ws, seed=12)
    grouped = len(ws) == len(xs) + 1
    check_op(lambda o, x: (o.group_convolution if grouped else o.convolution)(x, w, s, pb, pe, d, ap),
             [rand((2, *xs[1:]), seed=13)], "numpy", rtol=1e-4, atol=1e-4, interop=False)


@pytest.mark.parametrize("case", [
    ((1, 8, 70, 66), (8, 1, 1, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1]),
    ((2, 6, 66, 67), (6, 1, 1, 3, 3), [2, 2], [1, 0], [1, 1], [1, 1]),
    ((1, 4, 72, 60), (4, 1, 1, 5, 3), [1, 1], [2, 1], [2, 1], [2, 1]),
], ids=str)
def test_depthwise_large(case, backend):
    """Images large enough for the numpy kernel's multiply-add depthwise path."""
    xs, ws, s, pb, pe, d = case
    w = rand(ws, seed=14)
    check_op(lambda o, x: o.group_convolution(x, w, s, pb, pe, d), [rand(xs, seed=15)], backend, rtol=1e-4,
             atol=1e-4)


def _naive_backprop_2d(x, w, strides, dilations, pads_begin, out):
    """Transposed convolution by definition: each input element adds its weighted kernel to the
    full output, which is then read from ``pads_begin`` on (zero beyond its ends)."""
    n, ci, h, wd = x.shape
    co, kh, kw = w.shape[1:]
    full = np.zeros((n, co, strides[0] * (h - 1) + dilations[0] * (kh - 1) + 1,
                     strides[1] * (wd - 1) + dilations[1] * (kw - 1) + 1), np.float64)
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * strides[0] + a * dilations[0], j * strides[1] + b * dilations[1]
                    full[:, :, r, c] += x[:, :, i, j].astype(np.float64) @ w[:, :, a, b].astype(np.float64)
    y = np.zeros((n, co, *out), np.float64)
    for r in range(out[0]):
        for c in range(out[1]):
            fr, fc = r + pads_begin[0], c + pads_begin[1]
            if 0 <= fr < full.shape[2] and 0 <= fc < full.shape[3]:
                y[:, :, r, c] = full[:, :, fr, fc]
    return y.astype(x.dtype)


@pytest.mark.parametrize("oshape", [[8, 9], [7, 10], [11, 12]])
@pytest.mark.parametrize("pads", [([1, 1], [1, 1]), ([2, 0], [0, 1])])
def test_backprop_output_shape_ignores_explicit_pads(oshape, pads, backend):
    """With ``output_shape`` the spec ignores pads_begin/pads_end: the implied total padding is split
    with the smaller half first (auto_pad other than same_upper). OpenVINO's CPU plugin and reference
    kernel keep an explicit ``pads_begin`` instead; this follows the spec, checked by definition."""
    x, w = rand((1, 2, 4, 5), seed=16), rand((2, 3, 3, 3), seed=17)
    total = [2 * (4 - 1) + 3 - oshape[0], 2 * (5 - 1) + 3 - oshape[1]]
    want = _naive_backprop_2d(x, w, [2, 2], [1, 1], [t // 2 for t in total], oshape)
    check_op(lambda o, p: o.convolution_backprop_data(p, w, [2, 2], np.array(oshape, np.int64), *pads, [1, 1],
                                                      "explicit"), [x], backend, expected=[want], rtol=1e-4,
             atol=1e-4)


def test_reads_openvino_ir(tmp_path, backend):
    """IR written by OpenVINO itself reads back and computes the same, for every conv op."""
    x = rand((1, 4, 7, 8), seed=18)
    p = ovops.parameter(list(x.shape), np.float32, name="in0")
    outs = [ovops.convolution(p, rand((3, 4, 3, 2), seed=19), [2, 1], [1, 0], [0, 1], [1, 2], "explicit"),
            ovops.convolution(p, rand((2, 4, 3, 3), seed=20), [1, 2], [0, 0], [0, 0], [1, 1], "same_lower"),
            ovops.group_convolution(p, rand((2, 3, 2, 3, 3), seed=21), [1, 1], [1, 1], [1, 1], [1, 1]),
            ovops.convolution_backprop_data(p, rand((4, 2, 3, 3), seed=22), [2, 2], None, [1, 0], [0, 1],
                                            [1, 1], "explicit", [1, 0]),
            ovops.convolution_backprop_data(p, rand((4, 2, 3, 3), seed=23), [2, 2],
                                            np.array([13, 16], np.int64), auto_pad="same_upper"),
            ovops.group_convolution_backprop_data(p, rand((2, 2, 3, 2, 2), seed=24), [2, 1], None, [0, 0],
                                                  [0, 0], [1, 1], "valid", [1, 0])]
    model = ov.Model([o.output(0) for o in outs], [p])
    ov.save_model(model, tmp_path / "conv.xml", compress_to_fp16=False)
    expected = run_openvino(model, [x])
    got = run_arrayrt(arrayrt.Core().read_model(tmp_path / "conv.xml"), [x], backend)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, 1e-4, 1e-4, what=f"output {i}: ")
