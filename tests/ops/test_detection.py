"""NonMaxSuppression, ROIAlign, GridSample, DeformableConvolution and Col2Im against real OpenVINO,
on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.shape import PartialShape

import arrayrt.opset as aops
from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import check_op, rand


def _i64(v):
    return np.array(v, np.int64)


def _f32(v):
    return np.array(v, np.float32)


# --- NonMaxSuppression ---------------------------------------------------------------------------------
def _boxes(batch: int, n: int, seed: int, center: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 6, size=(batch, n, 2))
    size = rng.uniform(0.5, 4, size=(batch, n, 2))
    if center:
        return np.concatenate([lo + size / 2, size], axis=-1).astype(np.float32)
    corners = np.concatenate([lo, lo + size], axis=-1)
    flip = rng.random((batch, n)) > 0.7  # some boxes given by the other diagonal
    corners[flip] = corners[flip][:, [2, 3, 0, 1]]
    return corners.astype(np.float32)


NMS = [  # batch, classes, boxes, max_out, iou, score, sigma, encoding, sort, output_type
    (1, 1, 6, 3, 0.5, 0.0, 0.0, "corner", True, "i64"),
    (2, 3, 8, 4, 0.4, 0.2, 0.0, "corner", True, "i64"),
    (2, 3, 8, 4, 0.4, 0.2, 0.0, "corner", False, "i32"),
    (2, 2, 10, 10, 0.3, 0.0, 0.0, "center", False, "i64"),
    (1, 2, 12, 5, 0.5, 0.1, 0.5, "corner", True, "i64"),   # soft-NMS
    (1, 1, 5, 0, 0.5, 0.0, 0.0, "corner", True, "i64"),    # nothing selected
]


@pytest.mark.parametrize("case", NMS, ids=str)
def test_nms9(case, backend):
    b, c, n, max_out, iou, score, sigma, enc, desc, ot = case
    boxes = _boxes(b, n, seed=n, center=enc == "center")
    scores = rand((b, c, n), seed=c + n, low=0, high=1)
    expected = None
    if max_out == 0:  # hand-computed: with nothing selected OpenVINO's CPU plugin leaves valid_outputs unset
        expected = [np.zeros((0, 3), np.dtype(ot.replace("i", "int"))), np.zeros((0, 3), np.float32),
                    np.zeros(1, np.dtype(ot.replace("i", "int")))]
    limits = (_i64(max_out), _f32(iou), _f32(score), _f32(sigma))
    check_op(lambda ops, x, s: ops.non_max_suppression(x, s, *limits, enc, desc, ot).outputs(),
             [boxes, scores], backend, rtol=1e-5, atol=1e-6, expected=expected)


def test_nms9_iou_at_threshold_and_ties(backend):
    """Equal scores pick the lower index; an IoU equal to the threshold is kept, as the spec and the
    reference say (hand-computed: OpenVINO's CPU plugin suppresses box 2, IoU(0, 2) = 1/3)."""
    boxes = _f32([[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0.5, 1, 1.5], [0, 5, 1, 6]]])
    scores = _f32([[[0.9, 0.9, 0.8, 0.7]]])
    expected = [np.array([[0, 0, 0], [0, 0, 2], [0, 0, 3]], np.int64),
                _f32([[0, 0, 0.9], [0, 0, 0.8], [0, 0, 0.7]]), _i64([3])]
    check_op(lambda ops, x, s: ops.non_max_suppression(x, s, _i64(4), _f32(1 / 3), _f32(0)).outputs(),
             [boxes, scores], backend, expected=expected)


NMS5 = [  # batch, classes, boxes, max_out, iou, score, sigma, sort
    (2, 3, 8, 4, 0.4, 0.2, 0.0, True),
    (1, 2, 10, 6, 0.3, 0.0, 0.0, False),
    (1, 1, 9, 4, 0.5, 0.1, 0.6, True),   # soft-NMS: boxes above the IoU threshold still go
]


@pytest.mark.parametrize("case", NMS5, ids=str)
def test_nms5(case, backend):
    """NMS-5 against OpenVINO's opset5 factory (check_op builds with opset16's v9)."""
    import openvino as ov
    import openvino.opset5 as ov5
    from arrayrt.ir.ops.factory import make

    import arrayrt
    from arrayrt.testing import assert_close, run_arrayrt, run_openvino

    b, c, n, max_out, iou, score, sigma, desc = case
    inputs = [_boxes(b, n, seed=n + 1), rand((b, c, n), seed=c, low=0, high=1)]
    consts = [_i64(max_out), _f32(iou), _f32(score), _f32(sigma)]
    op = ov5.parameter(list(inputs[0].shape), np.float32), ov5.parameter(list(inputs[1].shape), np.float32)
    want = run_openvino(ov.Model(ov5.non_max_suppression(*op, *consts, sort_result_descending=desc).outputs(),
                                 list(op)), inputs)
    ap = aops.parameter(list(inputs[0].shape)), aops.parameter(list(inputs[1].shape))
    node = make("NonMaxSuppression", [*ap, *consts], {"sort_result_descending": desc}, version="opset5")
    got = run_arrayrt(arrayrt.Model(node.outputs(), list(ap)), inputs, backend)
    for g, w in zip(got, want):
        assert_close(g, w, 1e-5, 1e-6)


@pytest.mark.parametrize("opset", ["opset1", "opset3", "opset4"])
@pytest.mark.parametrize("desc", [True, False])
def test_nms_static_versions(opset, desc, backend):
    """NMS-1/3/4: the selected rows as OpenVINO's CPU plugin gives them, then -1 rows up to the
    static output size the spec defines (the plugin returns the selected rows only)."""
    import importlib

    import openvino as ov
    from arrayrt.ir.ops.factory import make

    import arrayrt
    from arrayrt.testing import run_arrayrt, run_openvino

    ovm = importlib.import_module(f"openvino.{opset}")
    boxes, scores = _boxes(2, 5, seed=3), rand((2, 2, 5), seed=4, low=0, high=1)
    limits = (_i64(3), _f32(0.5), _f32(0.3))
    op = ovm.parameter([2, 5, 4], np.float32), ovm.parameter([2, 2, 5], np.float32)
    node = ovm.non_max_suppression(*op, *limits, box_encoding="corner", sort_result_descending=desc)
    want = run_openvino(ov.Model([node.output(0)], list(op)), [boxes, scores])[0]
    ap = aops.parameter([2, 5, 4]), aops.parameter([2, 2, 5])
    ours = make("NonMaxSuppression", [*ap, *limits], {"sort_result_descending": desc}, version=opset)
    rows = {"opset4": 12}.get(opset, 5)  # 2 * 2 * min(5, 3); v1/v3: min(5, 3 * 2)
    assert ours.output(0).get_partial_shape() == PartialShape([rows, 3])
    got = run_arrayrt(arrayrt.Model([ours.output(0)], list(ap)), [boxes, scores], backend)[0]
    assert got.shape == (rows, 3)
    k = min(len(want), rows)
    np.testing.assert_array_equal(got[:k], want[:k])
    assert (got[k:] == -1).all()


def test_nms5_suppresses_at_threshold(backend):
    """NMS-5 suppresses an IoU equal to the threshold, NMS-9 keeps it (hand-computed)."""
    from arrayrt.ir.ops.factory import make

    import arrayrt
    from arrayrt.testing import run_arrayrt

    boxes = _f32([[[0, 0, 1, 1], [0, 5, 1, 6], [0, 0.5, 1, 1.5]]])
    scores = _f32([[[0.9, 0.8, 0.7]]])
    for opset, want in (("opset5", [[0, 0, 0], [0, 0, 1]]), ("opset9", [[0, 0, 0], [0, 0, 1], [0, 0, 2]])):
        ap = aops.parameter([1, 3, 4]), aops.parameter([1, 1, 3])
        node = make("NonMaxSuppression", [*ap, _i64(3), _f32(1 / 3), _f32(0)], {}, version=opset)
        got = run_arrayrt(arrayrt.Model([node.output(0)], list(ap)), [boxes, scores], backend)[0]
        assert got.tolist() == want, opset


def test_nms_shapes():
    n = aops.non_max_suppression(aops.parameter([2, 6, 4]), aops.parameter([2, 3, 6]), _i64(4), _f32(0.5))
    assert n.output(0).get_partial_shape() == PartialShape([(0, 24), 3])
    assert n.output(2).get_partial_shape() == PartialShape([1])
    with pytest.raises(ShapeInferenceError, match="boxes"):
        aops.non_max_suppression(aops.parameter([2, 6, 3]), aops.parameter([2, 3, 6]))


# --- ROIAlign -------------------------------------------------------------------------------------------
ROI = [  # data shape, pooled h, w, sampling_ratio, spatial_scale, mode, aligned_mode
    ((2, 3, 8, 8), 2, 3, 2, 1.0, "avg", "asymmetric"),
    ((2, 3, 8, 8), 3, 3, 0, 0.5, "avg", "asymmetric"),
    ((1, 2, 10, 7), 2, 2, 2, 1.0, "max", "asymmetric"),
    ((2, 3, 8, 8), 4, 2, 1, 0.25, "avg", "half_pixel"),
    ((2, 3, 8, 8), 2, 2, 0, 1.0, "avg", "half_pixel_for_nn"),
]


@pytest.mark.parametrize("case", ROI, ids=str)
def test_roi_align9(case, backend):
    shape, ph, pw, sr, scale, mode, aligned = case
    rois = _f32([[0, 0, 5, 5], [1.2, 0.7, 6.3, 4.1], [-2, -1, 3, 9], [2, 2, 2.5, 2.2]])
    rois = rois / scale * (shape[2] / 8)
    idx = np.array([0, 1 % shape[0], 0, 1 % shape[0]], np.int32)
    data = rand(shape, seed=3, low=0, high=1)
    check_op(lambda ops, d, r: ops.roi_align(d, r, idx, ph, pw, sr, scale, mode, aligned), [data, rois],
             backend, rtol=1e-4, atol=1e-5)


def test_roi_align3(backend):
    """ROIAlign-3 (no aligned_mode) against OpenVINO's opset3 factory."""
    import openvino as ov
    import openvino.opset3 as ov3
    from arrayrt.ir.ops.factory import make

    import arrayrt
    from arrayrt.testing import assert_close, run_arrayrt, run_openvino

    data = rand((1, 2, 6, 6), seed=4)
    rois, idx = _f32([[0.5, 0.5, 4.5, 3.5], [0, 0, 1, 1]]), np.array([0, 0], np.int64)
    p = ov3.parameter([1, 2, 6, 6], np.float32)
    want = run_openvino(ov.Model([ov3.roi_align(p, rois, idx, 2, 2, 2, 1.0, "avg")], [p]), [data])
    ap = aops.parameter([1, 2, 6, 6])
    node = make("ROIAlign", [ap, rois, idx], {"pooled_h": 2, "pooled_w": 2, "sampling_ratio": 2,
                                              "spatial_scale": 1.0, "mode": "avg"}, version="opset3")
    assert "aligned_mode" not in node.attrs
    assert_close(run_arrayrt(arrayrt.Model([node], [ap]), [data], backend)[0], want[0], 1e-4, 1e-5)


# --- GridSample --------------------------------------------------------------------------------------------
GRID = [(mode, pad, align) for mode in ("bilinear", "nearest", "bicubic")
        for pad in ("zeros", "border", "reflection") for align in (False, True)]


@pytest.mark.parametrize("case", GRID, ids=str)
def test_grid_sample(case, backend):
    mode, pad, align = case
    data = rand((2, 3, 5, 6), seed=5)
    grid = rand((2, 4, 7, 2), seed=6, low=-1.6, high=1.6)
    attrs = {"mode": mode, "padding_mode": pad, "align_corners": align}
    check_op(lambda ops, d, g: ops.grid_sample(d, g, attrs), [data, grid], backend, rtol=1e-4, atol=1e-4)


# --- DeformableConvolution ------------------------------------------------------------------------------
DEFORM = [  # data, filters, strides, pads, dilations, group, deformable_group, mask, bilinear pad
    ((1, 4, 6, 6), (2, 4, 3, 3), [1, 1], [1, 1], [1, 1], 1, 1, False, False),
    ((1, 4, 6, 6), (2, 4, 3, 3), [1, 1], [1, 1], [1, 1], 1, 1, True, True),
    ((2, 4, 7, 6), (4, 2, 2, 3), [2, 1], [0, 1], [1, 2], 2, 2, True, False),
    ((1, 6, 5, 5), (3, 6, 2, 2), [1, 1], [0, 0], [1, 1], 1, 3, False, True),
]


@pytest.mark.parametrize("case", DEFORM, ids=str)
def test_deformable_convolution8(case, backend):
    dshape, fshape, strides, pads, dil, g, dg, with_mask, bpad = case
    kh, kw = fshape[2:]
    ho = (dshape[2] + 2 * pads[0] - (kh - 1) * dil[0] - 1) // strides[0] + 1
    wo = (dshape[3] + 2 * pads[1] - (kw - 1) * dil[1] - 1) // strides[1] + 1
    data = rand(dshape, seed=7)
    offs = rand((dshape[0], 2 * dg * kh * kw, ho, wo), seed=8, low=-1.7, high=1.7)
    filt = rand(fshape, seed=9)
    inputs = [data, offs, filt]
    if with_mask:
        inputs.append(rand((dshape[0], dg * kh * kw, ho, wo), seed=10, low=0, high=1))

    def build(ops, d, o, f, m=None):
        return ops.deformable_convolution(d, o, f, strides, pads, pads, dil, m, "EXPLICIT", g, dg, bpad)

    check_op(build, inputs, backend, rtol=1e-4, atol=1e-4)


def test_deformable_convolution1(backend):
    """DeformableConvolution-1 (no mask, no bilinear padding) against OpenVINO's opset1 factory."""
    import openvino as ov
    import openvino.opset1 as ov1
    from arrayrt.ir.ops.factory import make

    import arrayrt
    from arrayrt.testing import assert_close, run_arrayrt, run_openvino

    data, offs, filt = rand((1, 4, 6, 6), seed=18), rand((1, 36, 4, 4), seed=19, low=-1.5, high=1.5), \
        rand((4, 2, 3, 3), seed=20)
    attrs = dict(strides=[1, 1], pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1], group=2, deformable_group=2)
    ps = [ov1.parameter(list(a.shape), np.float32) for a in (data, offs)]
    want = run_openvino(ov.Model([ov1.deformable_convolution(*ps, filt, **attrs)], ps), [data, offs])
    ap = [aops.parameter(list(a.shape)) for a in (data, offs)]
    node = make("DeformableConvolution", [*ap, filt], attrs, version="opset1")
    assert "bilinear_interpolation_pad" not in node.attrs
    got = run_arrayrt(arrayrt.Model([node], ap), [data, offs], backend)
    assert_close(got[0], want[0], 1e-4, 1e-4)


# --- Col2Im ------------------------------------------------------------------------------------------
COL2IM = [  # C, output size, kernel, strides, dilations, pads_begin, pads_end, batched
    (2, [4, 5], [2, 2], [1, 1], [1, 1], [0, 0], [0, 0], True),
    (3, [6, 6], [3, 2], [2, 1], [1, 1], [1, 0], [1, 1], True),
    (1, [7, 5], [2, 2], [1, 2], [2, 1], [0, 0], [0, 1], False),
]


@pytest.mark.parametrize("case", COL2IM, ids=str)
def test_col2im(case, backend):
    c, size, kernel, strides, dil, pb, pe, batched = case
    blocks = [(s + b + e - (k - 1) * d - 1) // st + 1
              for s, k, st, d, b, e in zip(size, kernel, strides, dil, pb, pe)]
    shape = (c * kernel[0] * kernel[1], blocks[0] * blocks[1])
    data = rand(((2,) + shape) if batched else shape, seed=11)
    check_op(lambda ops, x: ops.col2im(x, _i64(size), _i64(kernel), strides, dil, pb, pe), [data], backend,
             rtol=1e-5, atol=1e-5)


def test_col2im_shape_errors():
    with pytest.raises(ShapeInferenceError, match="blocks"):
        aops.col2im(aops.parameter([2, 8, 9]), _i64([4, 5]), _i64([2, 2]))
    node = aops.col2im(aops.parameter([2, 8, 12]), _i64([4, 5]), _i64([2, 2]))
    assert node.output(0).get_partial_shape() == PartialShape([2, 2, 4, 5])


# --- arrayrt extensions: GridSampleND, Col2ImND -------------------------------------------------------
def _run_node(node, inputs, backend):
    import arrayrt
    from arrayrt.testing import run_arrayrt

    params = [n for n in (i.get_source_output().node for i in node.inputs()) if n.type_name == "Parameter"]
    return run_arrayrt(arrayrt.Model([node.output(0)], params), inputs, backend)[0]


def _trilinear(data, grid, align):
    """Hand reference: zero-padded trilinear sampling, one point at a time."""
    n, c, *sizes = data.shape
    out = np.zeros((n, c) + grid.shape[1:-1], np.float64)
    for b in range(n):
        for pos in np.ndindex(*grid.shape[1:-1]):
            g = grid[(b,) + pos][::-1]  # (z, y, x)
            coord = [(v + 1) * (s - 1) / 2 if align else ((v + 1) * s - 1) / 2 for v, s in zip(g, sizes)]
            lo = [int(np.floor(v)) for v in coord]
            for corner in np.ndindex(2, 2, 2):
                idx = [lo_ + k for lo_, k in zip(lo, corner)]
                w = np.prod([(v - lo_) if k else (1 - (v - lo_)) for v, lo_, k in zip(coord, lo, corner)])
                if all(0 <= i < s for i, s in zip(idx, sizes)):
                    out[(b, slice(None)) + pos] += w * data[(b, slice(None)) + tuple(idx)]
    return out.astype(np.float32)


@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_nd_volumetric(align, backend):
    from arrayrt.ir.ops.factory import make

    data, grid = rand((2, 2, 3, 4, 5), seed=12), rand((2, 3, 2, 4, 3), seed=13, low=-1.3, high=1.3)
    node = make("GridSampleND", [aops.parameter(list(data.shape)), aops.parameter(list(grid.shape))],
                {"align_corners": align})
    assert node.output(0).get_partial_shape() == PartialShape([2, 2, 3, 2, 4])
    got = _run_node(node, [data, grid], backend)
    np.testing.assert_allclose(got, _trilinear(data, grid, align), rtol=1e-4, atol=1e-5)


def test_grid_sample_nd_matches_2d(backend):
    from arrayrt.ir.ops.factory import make

    data, grid = rand((1, 2, 5, 6), seed=14), rand((1, 3, 4, 2), seed=15, low=-1.2, high=1.2)
    outs = []
    for op in ("GridSample", "GridSampleND"):
        node = make(op, [aops.parameter([1, 2, 5, 6]), aops.parameter([1, 3, 4, 2])],
                    {"mode": "bicubic", "padding_mode": "reflection"})
        outs.append(_run_node(node, [data, grid], backend))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    with pytest.raises(ShapeInferenceError, match="bicubic"):
        make("GridSampleND", [aops.parameter([1, 2, 3, 4, 5]), aops.parameter([1, 2, 2, 2, 3])],
             {"mode": "bicubic"})


def test_col2im_nd_volumetric(backend):
    """Against a hand scatter-add of every column."""
    from arrayrt.ir.ops.factory import make

    size, kernel, strides, dil, pb, pe = [4, 5, 3], [2, 3, 1], [1, 2, 1], [2, 1, 1], [0, 1, 0], [1, 1, 0]
    blocks = [(s + b + e - (k - 1) * d - 1) // st + 1
              for s, k, st, d, b, e in zip(size, kernel, strides, dil, pb, pe)]
    data = rand((2, 2 * int(np.prod(kernel)), int(np.prod(blocks))), seed=16)
    want = np.zeros((2, 2) + tuple(size), np.float64)
    cols = data.reshape(2, 2, *kernel, *blocks)
    for k in np.ndindex(*kernel):
        for blk in np.ndindex(*blocks):
            pos = [b_ * st + k_ * d - p for b_, st, k_, d, p in zip(blk, strides, k, dil, pb)]
            if all(0 <= p < s for p, s in zip(pos, size)):
                want[(slice(None), slice(None)) + tuple(pos)] += cols[(slice(None), slice(None)) + k + blk]
    node = make("Col2ImND", [aops.parameter(list(data.shape)), _i64(size), _i64(kernel)],
                {"strides": strides, "dilations": dil, "pads_begin": pb, "pads_end": pe})
    assert node.output(0).get_partial_shape() == PartialShape([2, 2, 4, 5, 3])
    got = _run_node(node, [data], backend)
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_roi_align_corner_max(backend):
    """ROIAlignCornerMax against ONNX's reference RoiAlign in max mode."""
    onnx = pytest.importorskip("onnx")
    from arrayrt.ir.ops.factory import make
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    data = rand((2, 3, 7, 6), seed=17)
    rois = _f32([[0.5, 1, 4, 5], [-1, 0, 2.5, 3], [2, 2, 6.5, 7.5]])
    idx = np.array([0, 1, 1], np.int64)
    node = helper.make_node("RoiAlign", ["x", "r", "i"], ["y"], mode="max", output_height=2, output_width=3,
                            sampling_ratio=0, spatial_scale=0.8, coordinate_transformation_mode="half_pixel")
    ins = [helper.make_tensor_value_info(n, t, None) for n, t in (("x", 1), ("r", 1), ("i", 7))]
    graph = helper.make_graph([node], "g", ins, [helper.make_empty_tensor_value_info("y")])
    want = ReferenceEvaluator(helper.make_model(graph)).run(None, {"x": data, "r": rois, "i": idx})[0]
    ours = make("ROIAlignCornerMax", [aops.parameter([2, 3, 7, 6]), rois, idx],
                {"pooled_h": 2, "pooled_w": 3, "sampling_ratio": 0, "spatial_scale": 0.8,
                 "aligned_mode": "half_pixel_for_nn"})
    np.testing.assert_allclose(_run_node(ours, [data], backend), want, rtol=1e-5, atol=1e-6)
