"""ONNX tensor-family translators beyond the backend suite: older opsets (attributes that became
inputs), inputs known only at inference (dynamic dims, shape-like graph inputs), and errors.
The oracle is ONNX's reference evaluator."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from arrayrt.errors import ArrayrtError  # noqa: E402
from arrayrt.onnx_backend import ArrayrtBackend  # noqa: E402
from arrayrt.testing import assert_close, rand  # noqa: E402


def model(op: str, inputs: dict, outputs: int | list = 1, opset: int = 21, consts: tuple = (),
          dynamic: tuple = (), **attrs) -> tuple:
    """A one-node model: ``inputs`` maps names to arrays (None: an absent optional input); names
    in ``consts`` become initializers, in ``dynamic`` graph inputs with unknown dims."""
    names = [n for n in inputs]
    vis, inits, feed = [], [], {}
    for n, v in inputs.items():
        if v is None:
            continue
        if n in consts:
            inits.append(numpy_helper.from_array(np.asarray(v), n))
            continue
        v = np.asarray(v)
        shape = [f"{n}_{i}" for i in range(v.ndim)] if n in dynamic else list(v.shape)
        vis.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), shape))
        feed[n] = v
    outs = [f"y{i}" for i in range(outputs)] if isinstance(outputs, int) else outputs
    node = helper.make_node(op, ["" if inputs[n] is None else n for n in names], outs, **attrs)
    graph = helper.make_graph([node], "g", vis, [helper.make_empty_tensor_value_info(o) for o in outs
                                                 if o], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m, feed


def check(op: str, inputs: dict, outputs: int | list = 1, opset: int = 21, consts: tuple = (),
          dynamic: tuple = (), rtol: float = 1e-5, atol: float = 1e-6, **attrs) -> list:
    m, feed = model(op, inputs, outputs, opset, consts, dynamic, **attrs)
    expected = ReferenceEvaluator(m).run(None, feed)
    got = ArrayrtBackend.prepare(m).run(feed)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, np.asarray(e), rtol, atol, what=f"{op} output {i}: ")
    return got


X = rand((2, 3, 4), np.float32, seed=1)
X4 = rand((1, 2, 4, 6), np.float32, seed=2)


# --- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("start,end", [(0, None), (1, None), (-1, None), (0, -1), (5, 9), (2, 1)])
def test_shape_start_end(start, end):
    attrs = {"start": start} | ({} if end is None else {"end": end})
    check("Shape", {"x": X}, opset=15, dynamic=("x",), **attrs)


def test_shape_and_size_of_dynamic_input():
    check("Shape", {"x": X}, dynamic=("x",))
    check("Size", {"x": X}, dynamic=("x",))


@pytest.mark.parametrize("target,allowzero", [([0, -1], 0), ([4, 0, 6], 0), ([3, 0], 1), ([-1], 0)])
def test_reshape_shape_input(target, allowzero):
    x = np.zeros((4, 0, 6), np.float32) if target == [3, 0] else X4.reshape(4, 2, 6)
    check("Reshape", {"x": x, "s": np.array(target, np.int64)}, allowzero=allowzero)


def test_reshape_shape_known_at_inference():
    check("Reshape", {"x": X, "s": np.array([4, -1], np.int64)}, dynamic=("x",))


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
@pytest.mark.parametrize("dyn", [False, True])
def test_flatten(axis, dyn):
    check("Flatten", {"x": X4}, dynamic=("x",) if dyn else (), axis=axis)


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_unsqueeze_axes(opset):
    x = rand((1, 3, 1, 2), np.float32)
    if opset == 11:
        check("Squeeze", {"x": x}, opset=opset, axes=[0, -2])
        check("Unsqueeze", {"x": x}, opset=opset, axes=[0, 5])
        check("Squeeze", {"x": x}, opset=opset)
    else:
        check("Squeeze", {"x": x, "a": np.array([0, -2], np.int64)}, opset=opset, dynamic=("x",))
        check("Unsqueeze", {"x": x, "a": np.array([-1, 1], np.int64)}, opset=opset, dynamic=("x",))
        check("Squeeze", {"x": x, "a": None}, opset=opset)


def test_transpose_default_and_perm():
    check("Transpose", {"x": X})
    check("Transpose", {"x": X}, dynamic=("x",), perm=[1, 2, 0])


def test_expand_and_tile_with_shape_inputs():
    check("Expand", {"x": rand((3, 1), np.float32), "s": np.array([2, 1, 4], np.int64)})
    check("Tile", {"x": X, "r": np.array([1, 2, 3], np.int64)}, dynamic=("x",))


def test_tile_1():
    m, feed = model("Tile", {"x": X, "t": np.array(3, np.int64), "a": np.array(1, np.int64)}, opset=1,
                    consts=("a",))
    got = ArrayrtBackend.prepare(m).run(feed)[0]
    np.testing.assert_array_equal(got, np.tile(X, (1, 3, 1)))


# --- Split / Slice ------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [2, 11])
def test_split_attribute(opset):
    check("Split", {"x": X4}, outputs=2, opset=opset, axis=3, split=[2, 4])
    check("Split", {"x": X4}, outputs=3, opset=opset, axis=-1)


def test_split_input():
    check("Split", {"x": X4, "s": np.array([1, 5], np.int64)}, outputs=2, opset=13, axis=3)
    check("Split", {"x": X4, "s": np.array([1, 2, 3], np.int64)}, outputs=3, opset=13, axis=3,
          consts=("s",), dynamic=("x",))


@pytest.mark.parametrize("n", [2, 3, 4, 7])
@pytest.mark.parametrize("dyn", [False, True])
def test_split_num_outputs_uneven(n, dyn):
    x = rand((2, 7), np.float32)
    check("Split", {"x": x}, outputs=n, opset=18, axis=1, num_outputs=n, dynamic=("x",) if dyn else ())


def test_split_leaves_unused_outputs():
    check("Split", {"x": X4}, outputs=["a", "", "c"], opset=13, axis=3)


def test_slice_1_attributes():
    check("Slice", {"x": X4}, opset=1, starts=[1, -3], ends=[100, -1], axes=[2, 3])
    check("Slice", {"x": X}, opset=9, starts=[0, 1], ends=[1, 3])


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([3], [-100], [3], [-1]), ([-1, 0], [0, 9223372036854775807], [-1, 1], [-2, 2]),
    ([1], [3], None, None), ([0, 0, 5], [1, 9, 0], None, [1, 3, -2])])
def test_slice_inputs_at_inference(starts, ends, axes, steps):
    inputs = {"x": X4, "s": np.array(starts, np.int64), "e": np.array(ends, np.int64),
              "a": None if axes is None else np.array(axes, np.int64),
              "p": None if steps is None else np.array(steps, np.int64)}
    check("Slice", inputs, opset=13, dynamic=("x",))


# --- Gather / Scatter ---------------------------------------------------------------------------


def test_gather_family():
    idx = np.array([[0, -1], [1, 2]], np.int64)
    check("Gather", {"x": X, "i": idx}, axis=-1)
    check("GatherElements", {"x": X, "i": np.array([[[0, -1, 2, 1]] * 3] * 2, np.int64)}, axis=2)
    check("GatherND", {"x": X, "i": np.array([[[1], [0]], [[2], [1]]], np.int64)}, batch_dims=1)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatters(reduction):
    idx = np.array([[1, 0, 2, 0]] * 3, np.int64)[None].repeat(2, 0)
    upd = rand(idx.shape, np.float32, seed=3)
    check("ScatterElements", {"x": X, "i": idx, "u": upd}, opset=18, axis=1, reduction=reduction)
    check("ScatterND", {"x": X, "i": np.array([[1], [0]], np.int64), "u": rand((2, 3, 4), np.float32)},
          opset=18, reduction=reduction)


def test_scatter_9_is_scatter_elements():
    inputs = {"x": X, "i": np.array([[[1, 0, 2, 0]]] * 2, np.int64), "u": rand((2, 1, 4), np.float32)}
    m, feed = model("Scatter", inputs, opset=9, axis=1)
    expected = check("ScatterElements", inputs, opset=11, axis=1)
    assert_close(ArrayrtBackend.prepare(m).run(feed)[0], expected[0], 0, 0)


@pytest.mark.parametrize("mode", ["linear", "circular"])
def test_tensor_scatter(mode):
    past, upd = rand((2, 3, 5, 4), np.float32), rand((2, 3, 3, 4), np.float32, seed=4)
    w = np.array([1, 2 if mode == "linear" else 4], np.int64)
    check("TensorScatter", {"p": past, "u": upd, "w": w}, opset=24, mode=mode, dynamic=("u",))
    check("TensorScatter", {"p": past[:, 0], "u": upd[:, 0, :2], "w": None}, opset=24, axis=1)


# --- Pad / CenterCropPad ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_2(mode):
    check("Pad", {"x": X4}, opset=2, mode=mode, pads=[0, 0, 1, 2, 0, 0, 3, 0], value=1.5)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads_at_inference", [False, True])
def test_pad_inputs(mode, pads_at_inference):
    x = rand((1, 3, 4, 6), np.float32)
    consts = () if pads_at_inference else ("p",)
    check("Pad", {"x": x, "p": np.array([0, 1, 1, 2, 0, 2, 3, 3], np.int64), "v": np.array(-2.0, np.float32)},
          opset=19, mode=mode, consts=consts, dynamic=("x",) if pads_at_inference else ())


@pytest.mark.parametrize("pads_at_inference", [False, True])
def test_pad_negative_crops(pads_at_inference):
    m, feed = model("Pad", {"x": X4, "p": np.array([0, 1, -1, 2, 0, 0, 2, -3], np.int64)}, opset=13,
                    consts=() if pads_at_inference else ("p",))
    got = ArrayrtBackend.prepare(m).run(feed)[0]
    want = np.pad(X4[:, :, 1:, :3], [(0, 0), (1, 0), (0, 2), (2, 0)])
    assert_close(got, want, 0, 0)


@pytest.mark.parametrize("axes_known", [False, True])
def test_pad_axes(axes_known):
    inputs = {"x": X4, "p": np.array([1, 2, 3, 0], np.int64), "v": None, "a": np.array([-1, 1], np.int64)}
    check("Pad", inputs, opset=19, mode="wrap", consts=("a",) if axes_known else ())
    check("Pad", inputs, opset=18, consts=("a", "p") if axes_known else ())


@pytest.mark.parametrize("shape,axes", [([3, 5], [-2, -1]), ([1, 7, 2], None), ([5], [1])])
def test_center_crop_pad(shape, axes):
    attrs = {} if axes is None else {"axes": axes}
    x = rand((1, 4, 6) if axes != [1] else (2, 3, 2), np.float32)
    check("CenterCropPad", {"x": x, "s": np.array(shape, np.int64)}, opset=18, dynamic=("x",), **attrs)


# --- small ops ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_space(mode):
    x = rand((1, 8, 2, 3), np.float32)
    check("DepthToSpace", {"x": x}, blocksize=2, mode=mode)
    check("SpaceToDepth", {"x": rand((1, 2, 4, 6), np.float32)}, blocksize=2)


def test_compress_and_nonzero():
    cond = np.array([True, False, True], bool)
    check("Compress", {"x": X, "c": cond}, axis=1)
    check("Compress", {"x": X, "c": np.array([0, 1, 1, 0, 1], bool)})
    check("NonZero", {"x": (X > 0)})


def test_reverse_sequence():
    lens = np.array([2, 4], np.int64)
    check("ReverseSequence", {"x": rand((2, 4, 3), np.float32), "l": lens}, batch_axis=0, time_axis=1)
    check("ReverseSequence", {"x": rand((4, 2, 3), np.float32), "l": lens})


def test_range_types():
    for dt in (np.float32, np.int32, np.int64, np.float16):
        check("Range", {"a": np.array(1, dt), "b": np.array(9, dt), "d": np.array(3, dt)})


def test_one_hot_values_at_inference():
    check("OneHot", {"i": np.array([[1, -2], [3, 7]], np.int64), "d": np.array(4.0, np.float32),
                     "v": np.array([0.5, 2.0], np.float32)}, axis=1)


def test_one_hot_float_indices():
    m, feed = model("OneHot", {"i": np.array([1.0, -1.0, 5.0], np.float32), "d": np.array(3, np.int64),
                               "v": np.array([0, 1], np.int32)}, consts=("d", "v"))
    got = ArrayrtBackend.prepare(m).run(feed)[0]
    assert_close(got, np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], np.int32), 0, 0)


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
def test_cumulative(exclusive, reverse):
    x = rand((2, 3, 4), np.float32, low=0.5, high=1.5)
    check("CumSum", {"x": x, "a": np.array(-1, np.int32)}, exclusive=exclusive, reverse=reverse)
    check("CumProd", {"x": x, "a": np.array(1, np.int64)}, opset=26, exclusive=exclusive, reverse=reverse)


UNIQUE_X = np.array([[2, 1, 2], [3, 0, 3], [2, 1, 2], [0, 0, 0]], np.int64)


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_unique_sorted(axis):
    check("Unique", {"x": UNIQUE_X}, outputs=4, **({} if axis is None else {"axis": axis}))


@pytest.mark.parametrize("axis,want", [
    (None, ([2, 1, 3, 0], [0, 1, 3, 4], [0, 1, 0, 2, 3, 2, 0, 1, 0, 3, 3, 3], [4, 2, 2, 4])),
    (0, ([[2, 1, 2], [3, 0, 3], [0, 0, 0]], [0, 1, 3], [0, 1, 0, 2], [2, 1, 1])),
    (-1, ([[2, 1], [3, 0], [2, 1], [0, 0]], [0, 1], [0, 1, 0], [2, 1]))])
def test_unique_in_order_of_appearance(axis, want):
    """(ONNX's reference evaluator orders unsorted slices wrongly: hand-computed values.)"""
    attrs = {} if axis is None else {"axis": axis}
    m, feed = model("Unique", {"x": UNIQUE_X}, outputs=4, sorted=0, **attrs)
    for g, w in zip(ArrayrtBackend.prepare(m).run(feed), want):
        assert_close(g, np.array(w, np.int64), 0, 0)


def test_det():
    check("Det", {"x": rand((2, 3, 3), np.float32)}, rtol=1e-4)


# --- TopK / ArgMax / ArgMin ---------------------------------------------------------------------


def test_topk_versions():
    x = rand((3, 5), np.float32)
    check("TopK", {"x": x}, outputs=2, opset=1, k=2)
    check("TopK", {"x": x, "k": np.array([3], np.int64)}, outputs=2, opset=10, axis=0)
    check("TopK", {"x": x, "k": np.array([2], np.int64)}, outputs=2, opset=11, largest=0, axis=-1)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("last", [0, 1])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_arg_max_min(op, last, keepdims):
    x = np.array([[1, 3, 3, 0], [2, 2, 0, 0], [5, 1, 5, 1]], np.float32)
    check(op, {"x": x}, axis=1, keepdims=keepdims, select_last_index=last, dynamic=("x",))


# --- reductions ---------------------------------------------------------------------------------

REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]


@pytest.mark.parametrize("op", REDUCE)
def test_reduce_axes_attribute(op):
    x = rand((2, 3, 4), np.float32, low=0.5, high=2)
    check(op, {"x": x}, opset=11, axes=[0, -1], keepdims=0, rtol=1e-4)
    check(op, {"x": x}, opset=11, rtol=1e-4)


@pytest.mark.parametrize("op", REDUCE)
def test_reduce_axes_input(op):
    x = rand((2, 3, 4), np.float32, low=0.5, high=2)
    axes = np.array([1], np.int64)
    check(op, {"x": x, "a": axes}, opset=18, keepdims=0, rtol=1e-4)
    check(op, {"x": x, "a": np.zeros(0, np.int64)}, opset=18, rtol=1e-4)
    check(op, {"x": x, "a": np.zeros(0, np.int64)}, opset=18, noop_with_empty_axes=1, consts=("a",))
    check(op, {"x": x, "a": None}, opset=18, noop_with_empty_axes=1, keepdims=0)


def test_reduce_log_sum_exp_is_stable():
    x = np.array([[1000.0, 1001.0], [-1000.0, -999.0]], np.float32)
    m, feed = model("ReduceLogSumExp", {"x": x}, opset=13, axes=[1], keepdims=0)
    got = ArrayrtBackend.prepare(m).run(feed)[0]
    np.testing.assert_allclose(got, [1001.3132617, -998.6867383], rtol=1e-6)


def test_reduce_max_bool():
    check("ReduceMax", {"x": X > 0, "a": np.array([1], np.int64)}, opset=20)
    check("ReduceMin", {"x": X > 0, "a": np.array([1], np.int64)}, opset=20)


# --- Resize / Upsample --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("op,opset,scales", [
    ("Resize", 10, [1, 1, 0.6, 1.7]), ("Upsample", 9, [1, 1, 2, 1.5]), ("Upsample", 7, [1, 1, 3, 1.5])])
def test_resize_10_and_upsample(mode, op, opset, scales):
    """Against ONNX Runtime (the reference evaluator has neither)."""
    ort = pytest.importorskip("onnxruntime")
    x = rand((1, 2, 5, 7), np.float32)
    s = np.array(scales, np.float32)
    if opset == 7:
        m, feed = model(op, {"x": x}, opset=opset, mode=mode, scales=scales)
    else:
        m, feed = model(op, {"x": x, "s": s}, opset=opset, mode=mode, consts=("s",))
    expected = ort.InferenceSession(m.SerializeToString()).run(None, feed)[0]
    assert_close(ArrayrtBackend.prepare(m).run(feed)[0], expected, 1e-5, 1e-5)


RESIZE_CASES = [
    dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
    dict(mode="linear", coordinate_transformation_mode="align_corners"),
    dict(mode="linear", antialias=1),
    dict(mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5),
    dict(mode="cubic", coordinate_transformation_mode="half_pixel_symmetric"),
    dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=5.0),
]


@pytest.mark.parametrize("attrs", RESIZE_CASES, ids=lambda a: "-".join(str(v) for v in a.values()))
@pytest.mark.parametrize("by", ["scales", "scales-unknown-dims", "sizes", "sizes-at-inference"])
def test_resize(attrs, by):
    x = rand((1, 1, 5, 7), np.float32)
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    roi = np.array([0, 0, 0.2, -0.1, 1, 1, 0.9, 0.8], np.float32) if crop else None
    inputs = {"x": x, "r": roi, "s": np.array([1, 1, 0.6, 1.7], np.float32), "z": None}
    consts = ("r", "s")
    if by.startswith("sizes"):
        inputs["s"], inputs["z"] = None, np.array([1, 1, 3, 11], np.int64)
        consts = ("r", "z") if by == "sizes" else ("r",)
    dynamic = ("x",) if by == "scales-unknown-dims" else ()
    check("Resize", inputs, opset=19, consts=consts, dynamic=dynamic, rtol=1e-4, atol=1e-5, **attrs)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_resize_axes_and_aspect_ratio(policy):
    x = rand((1, 2, 4, 6), np.float32)
    check("Resize", {"x": x, "r": None, "s": None, "z": np.array([3, 8], np.int64)}, opset=19,
          axes=[3, 2], mode="linear", keep_aspect_ratio_policy=policy, consts=("z",), rtol=1e-4)


def test_resize_lengths_follow_onnx():
    """floor(10 * float32(0.7)) is 6 in ONNX; Interpolate would give 7: the extension op runs."""
    got = check("Resize", {"x": rand((1, 1, 10, 10), np.float32), "r": None,
                           "s": np.array([1, 1, 0.7, 0.7], np.float32)}, opset=19, consts=("s",))
    assert got[0].shape == (1, 1, 6, 6)


@pytest.mark.parametrize("attrs,ir_op", [
    ({"mode": "linear"}, "Interpolate"),
    ({"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, "Interpolate"),
    ({"mode": "cubic", "exclude_outside": 1}, "Resize"), ({"mode": "linear", "antialias": 1}, "Resize")])
def test_resize_uses_interpolate_where_it_matches(attrs, ir_op):
    from arrayrt.ir.frontend.onnx import convert_onnx

    m, _ = model("Resize", {"x": X4, "r": None, "s": np.array([1, 1, 2, 0.5], np.float32)}, opset=19,
                 consts=("s",), **attrs)
    ops = {n.type_name for n in convert_onnx(m).get_ordered_ops()}
    assert ir_op in ops and ({"Interpolate", "Resize"} - {ir_op}).isdisjoint(ops)


# --- quantization -------------------------------------------------------------------------------


def test_quantize_per_tensor_and_axis():
    x = rand((2, 3, 4), np.float32, low=-30, high=30)
    check("QuantizeLinear", {"x": x, "s": np.float32(0.25), "z": np.uint8(128)}, opset=10)
    check("QuantizeLinear", {"x": x, "s": np.array([0.2, 0.5, 1.0], np.float32),
                             "z": np.array([0, -3, 4], np.int8)}, opset=13)
    check("QuantizeLinear", {"x": x, "s": np.array([0.2, 0.5, 1.0, 2], np.float32), "z": None}, opset=13,
          axis=-1)


def test_quantize_blocked():
    x = rand((2, 5, 4), np.float32, low=-20, high=20)
    s = rand((2, 3, 4), np.float32, low=0.5, high=2)
    check("QuantizeLinear", {"x": x, "s": s, "z": np.ones((2, 3, 4), np.int8)}, opset=21, axis=1,
          block_size=2)
    check("DequantizeLinear", {"x": rand((2, 5, 4), np.int8, low=-100, high=100), "s": s,
                               "z": np.full((2, 3, 4), -3, np.int8)}, opset=21, axis=1, block_size=2)


def test_dequantize():
    x = rand((2, 3, 4), np.uint8, low=0, high=255)
    check("DequantizeLinear", {"x": x, "s": np.float32(0.1), "z": np.uint8(100)}, opset=19)
    check("DequantizeLinear", {"x": x, "s": np.array([0.2, 0.5, 1.0], np.float32),
                               "z": np.array([0, 3, 4], np.uint8)}, opset=19)
    check("DequantizeLinear", {"x": x.astype(np.int32), "s": np.float32(0.5)}, opset=19)


@pytest.mark.parametrize("name", ["UINT2", "INT2", "UINT4", "INT4", "INT16", "FLOAT8E4M3FN", "FLOAT8E5M2",
                                  "FLOAT8E4M3FNUZ", "FLOAT8E5M2FNUZ", "FLOAT4E2M1"])
@pytest.mark.parametrize("saturate", [0, 1])
def test_quantize_dequantize_types(name, saturate):
    """Quantize to ``name`` (saturating or not, for float8) and back, against the reference."""
    tt = getattr(onnx.TensorProto, name)
    zp = numpy_helper.from_array(np.zeros((), helper.tensor_dtype_to_np_dtype(tt)), "z")
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], saturate=saturate),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [8])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [8])],
                              [numpy_helper.from_array(np.float32(0.5), "s"), zp])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])
    x = np.array([-1e4, -500, -3.3, 0, 0.7, 1.25, 2.5, 1e4], np.float32)
    expected = ReferenceEvaluator(m).run(None, {"x": x})[0]
    np.testing.assert_array_equal(ArrayrtBackend.prepare(m).run([x])[0], expected)


def test_dynamic_quantize_linear():
    x = rand((3, 4), np.float32, low=-3, high=5)
    check("DynamicQuantizeLinear", {"x": x}, outputs=3, opset=11)


# --- errors -------------------------------------------------------------------------------------


def test_errors_name_the_problem():
    m, _ = model("Pad", {"x": X4, "p": np.zeros(8, np.int64)}, opset=19, mode="mirror", consts=("p",))
    with pytest.raises(ArrayrtError, match="mirror"):
        ArrayrtBackend.prepare(m)
    m, _ = model("Split", {"x": X4}, outputs=4, opset=13, axis=3)
    with pytest.raises(ArrayrtError, match="divide"):
        ArrayrtBackend.prepare(m)
    m, _ = model("Split", {"x": X4}, outputs=5, opset=18, axis=3, num_outputs=5)
    with pytest.raises(ArrayrtError, match="smaller last"):
        ArrayrtBackend.prepare(m)
    m, _ = model("ScatterND", {"x": X, "i": np.zeros((1, 1), np.int64), "u": X[0]}, opset=18,
                 reduction="avg")
    with pytest.raises(ArrayrtError, match="reduction"):
        ArrayrtBackend.prepare(m)

