"""Data-movement ops against real OpenVINO, on every test backend.

Each table of cases becomes one model (one Parameter per case) so OpenVINO compiles once per table;
on a mismatch the cases are re-checked one by one to name the failing one.
"""
from __future__ import annotations

import numpy as np
import openvino.opset1 as ov1
import pytest
from arrayrt.ir.ops.factory import make

from arrayrt.testing import _check_interop, build_arrayrt, check_op, check_table, rand

I64 = np.int64
DTYPES = [np.float32, np.int32, np.bool_, np.int64]  # f16 separately: array_api_strict lacks it


def i64(v) -> np.ndarray:
    return np.array(v, I64)


def is_ov(ops) -> bool:
    return ops.__name__.startswith("openvino")


def outs(node):
    """All outputs of a multi-output node, for either builder."""
    return list(node.outputs())


# --- Reshape ------------------------------------------------------------------------------------

RESHAPES = [
    ((2, 3, 4), [0, -1], True),
    ((2, 3, 4), [4, -1], False),
    ((2, 3, 4), [24], False),
    ((2, 3, 4), [-1], False),
    ((1, 2, 3), [0, 0, 0], True),
    ((2, 3, 4), [2, 0, -1, 2], True),
    ((0, 3), [3, 0], False),  # special_zero off: 0 is a zero-length dimension
    ((1,), [], False),
    ((0, 3), [-1, 3], False),
    ((3, 1, 4), [0, -1, 0], True),
]


def test_reshape(backend):
    check_table(lambda ops, c, x: ops.reshape(x, i64(c[1]), c[2]), RESHAPES, backend)


def test_reshape_dtypes(backend):
    check_table(lambda ops, c, x: ops.reshape(x, i64([3, -1]), False), DTYPES, backend,
                lambda d: [rand((2, 3, 2), d, low=-9, high=9)])


def test_reshape_runtime_shape(backend):
    """The target shape is a model input: planned per call."""
    check_table(lambda ops, c, x, s: ops.reshape(x, s, True), [[0, -1], [6, 4], [-1, 2, 0]], backend,
                lambda c: [rand((2, 3, 4)), i64(c)])


def test_reshape_computed_shape(backend):
    """Target shapes computed from ShapeOf (folded) and from a Parameter (at inference)."""
    def build(ops, x, s):
        folded = ops.reshape(x, ops.shape_of(x), False)
        return ops.reshape(folded, ops.concat([ops.gather(ops.shape_of(x), i64([0]), i64(0)), s], 0), False)
    check_op(build, [rand((2, 12)), i64([3, 4])], backend)


def test_reshape_errors():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    x = ops.parameter([2, 3], np.float32)
    for pattern in ([-1, -1], [5], [2, -2]):
        with pytest.raises(ShapeInferenceError, match="Reshape"):
            ops.reshape(x, i64(pattern), False)


def test_reshape_dynamic_input_shape():
    import arrayrt.opset as ops

    x = ops.parameter([-1, 3, 4], np.float32)
    assert str(ops.reshape(x, i64([0, -1]), True).output(0).get_partial_shape()) == "[?,12]"
    assert str(ops.reshape(x, i64([-1, 4]), True).output(0).get_partial_shape()) == "[?,4]"
    s = ops.parameter([3], np.int64)
    assert str(ops.reshape(x, s, True).output(0).get_partial_shape()) == "[?,?,?]"


def test_f16(backend):
    """f16 through the shape-only ops (array_api_strict holds no f16: skipped there)."""
    def build(ops, x):
        y = ops.transpose(ops.reshape(x, i64([3, -1]), False), i64([1, 0]))
        return [y, ops.strided_slice(x, i64([1]), i64([0]), i64([-1]), [0], [1]),
                ops.pad(x, i64([1, 0]), i64([0, 2]), "reflect"), ops.tile(x, i64([2, 1]))]
    check_op(build, [rand((3, 4), np.float16)], backend)


# --- Transpose ----------------------------------------------------------------------------------

TRANSPOSES = [((2, 3, 4), [2, 0, 1]), ((2, 3, 4), []), ((2, 3), [0, 1]), ((2, 3, 4, 5), [0, 3, 1, 2]),
              ((5,), [0]), ((), [])]


def test_transpose(backend):
    check_table(lambda ops, c, x: ops.transpose(x, i64(c[1])), TRANSPOSES, backend)


def test_transpose_dtypes(backend):
    check_table(lambda ops, c, x: ops.transpose(x, i64([1, 0, 2])), DTYPES, backend,
                lambda d: [rand((2, 3, 2), d, low=-9, high=9)])


def test_transpose_runtime_order(backend):
    check_table(lambda ops, c, x, o: ops.transpose(x, o), [[2, 0, 1], [0, 1, 2]], backend,
                lambda c: [rand((2, 3, 4)), i64(c)])


# --- Squeeze / Unsqueeze ------------------------------------------------------------------------

SQUEEZES = [((1, 3, 1, 2), [0]), ((1, 3, 1, 2), [0, 2]), ((1, 3, 1, 2), [-2]), ((1, 3, 1, 2), [1]),
            ((1, 3, 1, 2), [0, 1]), ((1, 3, 1, 2), None), ((1, 3, 1, 2), []), ((1, 1), 0), ((1,), [0]),
            ((1, 3, 1, 2), [0, 0, -4])]


@pytest.mark.parametrize("skip", [False, True])
def test_squeeze15(skip, backend):
    """Squeeze-15 (opset16's); a listed axis that is not 1 is left as it is (the spec says so)."""
    check_table(lambda ops, c, x: ops.squeeze(x, None if c[1] is None else i64(c[1]), skip), SQUEEZES, backend)


def test_squeeze1(backend):
    def build(ops, c, x):
        if is_ov(ops):
            return ov1.squeeze(x, i64(c[1]))
        return make("Squeeze", [x, i64(c[1])], version="opset1")
    check_table(build, [c for c in SQUEEZES if c[1] is not None], backend)


def test_squeeze_runtime_axes(backend):
    """Axes known only at inference give a dynamic output rank, which OpenVINO's CPU plugin
    refuses for Squeeze: checked by hand."""
    x = rand((1, 3, 1, 2))
    check_op(lambda ops, d, a: ops.squeeze(d, a), [x, i64([0, 2])], backend, expected=[x.reshape(3, 2)])


def test_squeeze_dynamic_shapes():
    import arrayrt.opset as ops

    x = ops.parameter([-1, 3, 1], np.float32)
    assert str(ops.squeeze(x, i64([0])).output(0).get_partial_shape()) == "[3,1]"
    assert not ops.squeeze(x, i64([0]), True).output(0).get_partial_shape().rank_is_static
    assert not ops.squeeze(x).output(0).get_partial_shape().rank_is_static
    assert str(ops.squeeze(x, i64([2]), True).output(0).get_partial_shape()) == "[?,3]"


UNSQUEEZES = [((2, 3), [0]), ((2, 3), [-1]), ((2, 3), [0, 3]), ((2, 3), 1), ((2, 3), [0, 0]), ((), [0]),
              ((2, 3), [-1, 0])]


def test_unsqueeze(backend):
    check_table(lambda ops, c, x: ops.unsqueeze(x, i64(c[1])), UNSQUEEZES, backend)


def test_unsqueeze_runtime_axes(backend):
    """Dynamic output rank, which OpenVINO's CPU plugin refuses: checked by hand."""
    x = rand((2, 3))
    check_op(lambda ops, d, a: ops.unsqueeze(d, a), [x, i64([1, -1])], backend, expected=[x.reshape(2, 1, 3, 1)])


# --- Concat / Split / VariadicSplit -------------------------------------------------------------

CONCATS = [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 5)], 1), ([(2, 3), (2, 1)], -1),
           ([(1, 2, 3)], 0), ([(2, 0, 3), (2, 2, 3)], 1), ([(1, 2, 2, 2), (1, 3, 2, 2)], -3)]


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
def test_concat(dtype, backend):
    check_table(lambda ops, c, *ps: ops.concat(list(ps), c[1]), CONCATS, backend,
                lambda c: [rand(s, dtype, seed=i, low=-9, high=9) for i, s in enumerate(c[0])])


SPLITS = [((6, 4), 0, 2), ((6, 4), 1, 4), ((2, 6, 3), -2, 3), ((4,), 0, 1), ((2, 0), 1, 2)]


def test_split(backend):
    check_table(lambda ops, c, x: outs(ops.split(x, i64(c[1]), c[2])), SPLITS, backend)


VSPLITS = [((6, 4), 0, [1, 2, 3]), ((6, 4), 1, [-1, 1]), ((2, 6, 3), -2, [0, 6, 0]), ((5,), 0, [5]),
           ((2, 7), 1, [2, -1, 2])]


def test_variadic_split(backend):
    check_table(lambda ops, c, x: outs(ops.variadic_split(x, i64(c[1]), i64(c[2]))), VSPLITS, backend)


def test_split_runtime_axis(backend):
    """The axis or the lengths only arrive at inference: split per call."""
    check_op(lambda ops, x, a, n: outs(ops.split(x, a, 2)) + outs(ops.variadic_split(x, i64(1), n)),
             [rand((4, 6)), i64(1), i64([2, -1])], backend)


def test_split_errors():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    x = ops.parameter([5, 4], np.float32)
    with pytest.raises(ShapeInferenceError, match="num_splits"):
        ops.split(x, i64(0), 2)
    with pytest.raises(ShapeInferenceError, match="split_lengths"):
        ops.variadic_split(x, i64(0), i64([2, 2]))


# --- StridedSlice -------------------------------------------------------------------------------

# (shape, begin, end, strides, begin_mask, end_mask, new_axis_mask, shrink_axis_mask, ellipsis_mask)
STRIDED = [
    ((4, 5), [1, 0], [3, 5], [1, 1], [0, 0], [0, 0], [], [], []),
    ((4, 5), [1, 0], [3, 5], [1, 2], [0, 1], [0, 1], [], [], []),
    ((4, 5), [0, 0], [0, 0], [1, 1], [1, 1], [1, 1], [], [], []),
    ((4, 5), [-1, -2], [-4, 0], [-1, -1], [0, 0], [0, 0], [], [], []),
    ((4, 5), [3], [0], [-2], [1], [1], [], [], []),
    ((4, 5), [3, 4], [0, 0], [-2, -3], [0, 0], [1, 1], [], [], []),
    ((4, 5), [-10, 2], [10, 100], [1, 1], [0, 0], [0, 0], [], [], []),
    ((5,), [-10], [0], [-1], [0], [1], [], [], []),      # begin below 0, backwards: element 0
    ((5,), [10], [-10], [-1], [0], [0], [], [], []),
    ((5,), [3], [0], [-2], [0], [1], [], [], []),
    ((4, 5), [1], [2], [1], [0], [0], [], [1], []),     # shrink axis 0
    ((4, 5), [-1, 2], [0, 3], [1, 1], [0, 0], [0, 0], [], [1, 1], []),
    ((4, 5), [2, 0], [0, 0], [1, 1], [1, 0], [0, 1], [], [1, 0], []),  # shrink with begin masked: 0
    ((4, 5), [0, 1], [0, 3], [1, 1], [0, 0], [0, 0], [1, 0], [], []),  # new axis first
    ((4, 5), [1, 0, 1], [3, 0, 4], [1, 1, 2], [0, 0, 0], [0, 0, 0], [0, 1, 0], [], []),
    ((2, 3, 4), [0, 1], [0, 3], [1, 1], [0, 0], [0, 0], [], [], [1, 0]),  # ... , 1:3
    ((2, 3, 4, 5), [1, 0, 1], [2, 0, 3], [1, 1, 1], [0, 0, 0], [0, 0, 0], [], [], [0, 1, 0]),
    ((2, 3, 4, 5), [1, 0, 2], [2, 0, 3], [1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 1], [0, 1, 0]),
    ((2, 3, 4), [0, 0, 0, 1], [0, 0, 0, 3], [1, 1, 1, -1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [],
     [0, 1, 0, 0]),
    ((2, 3, 4), [0, 0], [1, 0], [1, 1], [0, 0], [0, 0], [0, 1], [0, 0], [1, 0]),
    ((3, 4), [0], [2], [1], [0], [0], [], [], []),        # implicit ellipsis at the end
    ((3, 4), [5, 0], [1, 4], [1, 1], [0, 0], [0, 0], [], [], []),  # empty result
]


def _strided(ops, c, x):
    _, b, e, s, bm, em, nm, sm, elm = c
    return ops.strided_slice(x, i64(b), i64(e), i64(s), bm, em, nm, sm, elm)


def test_strided_slice(backend):
    check_table(_strided, STRIDED, backend)


def test_strided_slice_new_axis_after_shrink(backend):
    """x[1, :, None]: OpenVINO's CPU plugin returns the right shape filled with garbage here."""
    x = rand((2, 3, 4))
    check_op(lambda ops, d: ops.strided_slice(d, i64([1, 0, 0]), i64([2, 0, 0]), i64([1, 1, 1]), [0, 1, 1],
                                              [0, 1, 1], [0, 0, 1], [1, 0, 0], [0, 0, 0]),
             [x], backend, expected=[x[1, :, None, :]])


def test_strided_slice_no_strides(backend):
    """StridedSlice's strides input is optional (all 1); only arrayrt builds it without one."""
    x = rand((4, 5))
    check_op(lambda ops, d: make("StridedSlice", [d, i64([1, 1]), i64([3, -1])],
                                 {"begin_mask": [0, 0], "end_mask": [0, 0]}), [x], backend, expected=[x[1:3, 1:-1]])


def test_strided_slice_runtime_values(backend):
    """begin/end/strides arrive at inference."""
    check_op(lambda ops, d, b, e, s: ops.strided_slice(d, b, e, s, [0, 1], [0, 0], [], [0, 0]),
             [rand((4, 5)), i64([3, 0]), i64([0, 2]), i64([-1, 1])], backend)


def test_strided_slice_dtypes(backend):
    check_table(lambda ops, c, d: ops.strided_slice(d, i64([1, 0]), i64([3, 0]), i64([1, -1]), [0, 1], [0, 1]),
                DTYPES, backend, lambda d: [rand((4, 5), d, low=-9, high=9)])


def test_strided_slice_dynamic_shapes():
    import arrayrt.opset as ops

    x = ops.parameter([-1, 5, 6], np.float32)
    y = ops.strided_slice(x, i64([0, 1, 0]), i64([0, 3, 0]), i64([1, 1, 2]), [1, 0, 1], [1, 0, 1], [], [], [])
    assert str(y.output(0).get_partial_shape()) == "[?,2,3]"
    b = ops.parameter([2], np.int64)
    y = ops.strided_slice(x, b, b, b, [0, 0], [0, 0], [1, 0], [0, 1])
    assert str(y.output(0).get_partial_shape()) == "[?,?,?]"


# --- Slice --------------------------------------------------------------------------------------

IMAX, IMIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min
SLICES = [
    ((6,), [1], [5], [2], None),
    ((6,), [-1], [-7], [-1], None),
    ((6,), [5], [0], [-2], None),
    ((6,), [-10], [-100], [-1], None),   # start below 0, backwards: element 0 (as OpenVINO does)
    ((6,), [IMAX], [IMIN], [-1], None),
    ((6,), [IMIN], [IMAX], [3], None),
    ((6,), [2], [2], [1], None),
    ((4, 5), [1, 4], [3, 0], [1, -2], None),
    ((4, 5), [4, 1], [0, 3], [-2, 1], [1, 0]),
    ((2, 3, 4), [1], [IMAX], [1], [-1]),
    ((2, 3, 4), [0, -1], [1, -4], [1, -1], [0, -2]),
    ((2, 3, 4), [10], [20], [1], [2]),
]


def test_slice(backend):
    check_table(lambda ops, c, x: ops.slice(x, i64(c[1]), i64(c[2]), i64(c[3]), None if c[4] is None else i64(c[4])),
                SLICES, backend)


def test_slice_runtime_values(backend):
    check_op(lambda ops, x, b, e, s: ops.slice(x, b, e, s, i64([1, 0])),
             [rand((4, 5)), i64([4, 1]), i64([0, 3]), i64([-2, 1])], backend)


def test_slice_dtypes(backend):
    check_table(lambda ops, c, x: ops.slice(x, i64([3]), i64([0]), i64([-1]), i64([1])), DTYPES, backend,
                lambda d: [rand((2, 5), d, low=-9, high=9)])


# --- Broadcast / Tile ---------------------------------------------------------------------------

BROADCASTS = [
    ((3,), [2, 3], None, "NUMPY"),
    ((1, 3), [4, 3], None, "NUMPY"),
    ((2, 1, 3), [2, 4, 3], None, "numpy"),
    ((), [2, 2], None, "NUMPY"),
    ((3, 1), [2, 1, 4], None, "BIDIRECTIONAL"),
    ((2, 1, 4), [3, 1], None, "BIDIRECTIONAL"),
    ((3,), [1], None, "BIDIRECTIONAL"),
    ((3,), [3, 2], [0], "EXPLICIT"),
    ((3, 2), [2, 3, 4, 2], [1, 3], "EXPLICIT"),
    ((1, 2), [3, 2, 5], [0, 1], "EXPLICIT"),
    ((2, 1), [2, 3], None, "PDPD"),
    ((1, 3, 1), [2, 3, 4], None, "PDPD"),
]


def test_broadcast(backend):
    check_table(lambda ops, c, x: ops.broadcast(x, i64(c[1]), None if c[2] is None else i64(c[2]), c[3]),
                BROADCASTS, backend)


def test_broadcast1(backend):
    def build(ops, c, x):
        shape, target, axes, mode = c
        ax = None if axes is None else i64(axes)
        if is_ov(ops):
            return ov1.broadcast(x, i64(target), ax, mode)
        return make("Broadcast", [x, i64(target)] + ([] if ax is None else [ax]), {"mode": mode.lower()},
                    version="opset1")
    check_table(build, [c for c in BROADCASTS if c[3].lower() in ("numpy", "explicit")], backend)


def test_broadcast1_pdpd(backend):
    """Broadcast-1 PDPD aligns the input to the start of the target shape (OpenVINO's Python
    opset1 cannot build it, so the values are hand-checked)."""
    x = rand((2, 1))
    check_op(lambda ops, d: make("Broadcast", [d, i64([2, 3])], {"mode": "pdpd"}, version="opset1"), [x], backend,
             expected=[np.broadcast_to(x, (2, 3))])


def test_broadcast_runtime_target(backend):
    check_table(lambda ops, c, x, t: ops.broadcast(x, t, None, c), ["NUMPY", "BIDIRECTIONAL"], backend,
                lambda c: [rand((3, 1)), i64([2, 3, 4])])


def test_broadcast_dtypes(backend):
    check_table(lambda ops, c, x: ops.broadcast(x, i64([2, 3])), DTYPES, backend,
                lambda d: [rand((3,), d, low=-9, high=9)])


def test_broadcast_errors():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    x = ops.parameter([3], np.float32)
    with pytest.raises(ShapeInferenceError, match="broadcast"):
        ops.broadcast(x, i64([2, 4]))
    with pytest.raises(ShapeInferenceError, match="axes_mapping"):
        ops.broadcast(x, i64([2, 3]), None, "EXPLICIT")


TILES = [((2, 3), [2, 1]), ((2, 3), [3]), ((3,), [2, 2]), ((2, 3), [1, 1]), ((2, 3), [0, 2]),
         ((1, 2, 2), [2, 1, 3])]


def test_tile(backend):
    check_table(lambda ops, c, x: ops.tile(x, i64(c[1])), TILES, backend,
                lambda c: [rand(c[0], np.int32, low=-9, high=9)])


def test_tile_runtime_repeats(backend):
    check_op(lambda ops, x, r: ops.tile(x, r), [rand((2, 3)), i64([2, 2])], backend)


# --- Pad ----------------------------------------------------------------------------------------

PADS = [
    ((3, 4), [1, 2], [2, 1]),
    ((3, 4), [0, 0], [0, 0]),
    ((2, 3, 4), [0, 1, 3], [1, 0, 2]),
    ((3, 4), [-1, 2], [1, -1]),
    ((3, 4), [-1, -2], [0, -1]),
    ((3, 4), [2, 0], [-2, 3]),
]
PAD_MODES = ["constant", "edge", "reflect", "symmetric"]


@pytest.mark.parametrize("mode", PAD_MODES)
def test_pad12(mode, backend):
    """Pad-12; negative pads crop (reflect/symmetric read the uncropped input, as OpenVINO does)."""
    check_table(lambda ops, c, x: ops.pad(x, i64(c[1]), i64(c[2]), mode), PADS, backend)


def test_pad1(backend):
    def build(ops, mode, x):
        if is_ov(ops):
            return ov1.pad(x, i64([1, 0, 2]), i64([0, 3, 1]), mode)
        return make("Pad", [x, i64([1, 0, 2]), i64([0, 3, 1])], {"pad_mode": mode}, version="opset1")
    check_table(build, PAD_MODES, backend, lambda c: [rand((2, 4, 3))])


def test_pad_value(backend):
    check_table(lambda ops, d, x: ops.pad(x, i64([1, -1]), i64([2, 1]), "constant", np.array(7, d)),
                [np.float32, np.int32, np.int64], backend, lambda d: [rand((3, 4), d, low=-9, high=9)])


def test_pad_runtime_pads(backend):
    check_op(lambda ops, x, b, e, v: [ops.pad(x, b, e, "reflect"), ops.pad(x, b, e, "constant", v)],
             [rand((3, 4)), i64([1, 2]), i64([2, -1]), np.array(5, np.float32)], backend)


def test_pad_errors():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    x = ops.parameter([3, 4], np.float32)
    with pytest.raises(ShapeInferenceError, match="too large"):
        ops.pad(x, i64([3, 0]), i64([0, 0]), "reflect")
    with pytest.raises(ShapeInferenceError, match="non-negative"):
        make("Pad", [x, i64([-1, 0]), i64([0, 0])], {"pad_mode": "constant"}, version="opset1")


# --- DepthToSpace / SpaceToDepth / ShuffleChannels ----------------------------------------------

BLOCKS = [((1, 8, 2, 3), 2), ((2, 4, 3), 2), ((1, 16, 2, 1, 2), 2), ((1, 9, 2, 2), 3), ((2, 3, 2, 2), 1)]


@pytest.mark.parametrize("mode", ["blocks_first", "depth_first"])
def test_depth_to_space(mode, backend):
    check_table(lambda ops, c, x: ops.depth_to_space(x, mode, c[1]), BLOCKS, backend)


@pytest.mark.parametrize("mode", ["blocks_first", "depth_first"])
def test_space_to_depth(mode, backend):
    cases = [((1, 2, 4, 6), 2), ((2, 3, 6), 3), ((1, 2, 2, 4, 6), 2), ((1, 1, 3, 3), 1)]
    check_table(lambda ops, c, x: ops.space_to_depth(x, mode, c[1]), cases, backend)


def test_shuffle_channels(backend):
    cases = [((1, 6, 2, 2), 1, 3), ((2, 4, 3), -2, 2), ((12,), 0, 4), ((2, 3, 4), 2, 2)]
    check_table(lambda ops, c, x: ops.shuffle_channels(x, c[1], c[2]), cases, backend)


# --- Roll / Reverse -----------------------------------------------------------------------------

ROLLS = [((5,), [2], [0]), ((3, 4), [1, -1], [0, 1]), ((3, 4), [7], [-1]), ((2, 3, 4), [1, 2], [1, 1]),
         ((3, 4), [0], [0])]


def test_roll(backend):
    check_table(lambda ops, c, x: ops.roll(x, i64(c[1]), i64(c[2])), ROLLS, backend)


def test_roll_scalar_shift(backend):
    """A scalar shift applies to every axis (the spec); OpenVINO's CPU plugin rejects it."""
    x = rand((3, 4))
    check_op(lambda ops, d: ops.roll(d, i64(2), i64([0, 1])), [x], backend, expected=[np.roll(x, (2, 2), (0, 1))])


def test_roll_runtime_shift(backend):
    check_op(lambda ops, x, s: ops.roll(x, s, i64([0, 1])), [rand((3, 4)), i64([1, -5])], backend)


REVERSES = [((3, 4), [0], "index"), ((3, 4), [1, 0], "index"), ((2, 3, 4), [-1], "index"), ((3, 4), [], "index"),
            ((3, 4), [True, False], "mask"), ((2, 3, 4), [True, False, True], "mask")]


def test_reverse(backend):
    """OpenVINO's Python opsets cannot build Reverse-1: values against numpy, then the IR arrayrt
    writes is run by OpenVINO and must agree."""
    xs = [rand(c[0], seed=i) for i, c in enumerate(REVERSES)]
    expected = []
    for x, (_, axes, mode) in zip(xs, REVERSES):
        flip = tuple(np.nonzero(axes)[0]) if mode == "mask" else tuple(axes)
        expected.append(np.flip(x, flip) if flip else x)

    def build(ops, *ps):
        return [ops.reverse(p, np.array(axes, np.bool_) if mode == "mask" else i64(axes), mode)
                for p, (_, axes, mode) in zip(ps, REVERSES)]
    check_op(build, xs, backend, expected=expected)
    if backend == "numpy":
        _check_interop(build_arrayrt(build, xs), xs, expected, 0, 0)


# --- dynamic input shapes -----------------------------------------------------------------------


def check_dynamic(build, pshape, arrays, backend, **kw):
    """One model over a Parameter of partial shape ``pshape``, compiled once by arrayrt and by
    OpenVINO, run on inputs of several shapes; every output compared."""
    import openvino as ov
    import openvino.opset16 as oops

    import arrayrt
    import arrayrt.opset as aops
    from arrayrt.testing import assert_close

    models = []
    for ops, mod in ((aops, arrayrt), (oops, ov)):
        p = ops.parameter(pshape, np.float32, name="x")
        res = build(ops, p)
        models.append(mod.Model(res if isinstance(res, list) else [res], [p], "dyn"))
    ours = arrayrt.Core().compile_model(models[0], "CPU", {"ARRAY_BACKEND": backend})
    theirs = ov.Core().compile_model(models[1], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for x in arrays:
        got, want = ours([x]), theirs([x])
        for i in range(len(theirs.outputs)):
            assert_close(np.asarray(got[i]), np.asarray(want[i]), 1e-5, 1e-6, what=f"shape {x.shape}, output {i}: ")


def test_dynamic_input_shapes(backend):
    """Kernels built once for a dynamic input shape plan per call from the actual shape."""
    def build(ops, x):
        return [ops.reshape(x, i64([0, -1]), True),
                ops.transpose(x, i64([2, 0, 1])),
                ops.strided_slice(x, i64([0, -1, 1]), i64([0, 0, 0]), i64([1, -1, 2]), [1, 0, 0], [1, 1, 1]),
                ops.slice(x, i64([1, -2]), i64([IMAX, IMAX]), i64([1, 1]), i64([0, 2])),
                ops.pad(x, i64([1, 0, 2]), i64([0, 1, -1]), "reflect"),
                ops.pad(x, i64([1, 0, 2]), i64([0, 1, -1]), "constant"),
                ops.tile(x, i64([1, 2, 1])),
                ops.broadcast(x, i64([2, 1, 1, 1]), None, "BIDIRECTIONAL"),
                ops.concat([x, x], 1),
                ops.squeeze(ops.unsqueeze(x, i64([0])), i64([0])),
                ops.roll(x, i64([1, -2]), i64([0, 2])),
                ops.depth_to_space(ops.reshape(x, i64([1, -1, 1, 2]), False), "blocks_first", 2)]
    check_dynamic(build, [-1, 3, -1], [rand((2, 3, 4), seed=1), rand((4, 3, 8), seed=2)], backend)


def test_reads_openvino_ir(tmp_path, backend):
    """IR that OpenVINO writes for every op version here (Squeeze-1/15, Broadcast-1/3, Pad-1/12...)
    reads into arrayrt and computes the same."""
    import openvino as ov
    import openvino.opset3 as ov3
    import openvino.opset16 as ops
    from openvino.utils.node_factory import NodeFactory

    import arrayrt
    from arrayrt.testing import assert_close, run_openvino

    p = ops.parameter([1, 4, 4, 6], np.float32, name="x")
    nodes = [ops.reshape(p, i64([4, -1]), True), ops.transpose(p, i64([0, 1, 3, 2])), ov1.squeeze(p, i64([0])),
             ops.squeeze(p, i64([0]), True), ops.unsqueeze(p, i64([0])), ops.concat([p, p], 1),
             *ops.split(p, i64(1), 2).outputs(), *ops.variadic_split(p, i64(3), i64([1, -1])).outputs(),
             ops.strided_slice(p, i64([0, 1]), i64([1, -1]), i64([1, 2]), [1, 0], [0, 0], [], [0, 0], [1, 0]),
             ops.slice(p, i64([3]), i64([0]), i64([-1]), i64([2])), ov1.broadcast(p, i64([2, 1, 4, 4, 6])),
             ov3.broadcast(p, i64([4, 1, 1]), None, "BIDIRECTIONAL"), ops.tile(p, i64([1, 2, 1, 1])),
             ov1.pad(p, i64([0, 0, 1, 1]), i64([0, 0, 1, 1]), "reflect"),
             ops.pad(p, i64([0, 0, -1, 1]), i64([0, 0, 1, 1]), "symmetric"), ops.depth_to_space(p, "depth_first", 2),
             ops.space_to_depth(p, "blocks_first", 2), ops.shuffle_channels(p, 1, 2),
             ops.roll(p, i64([1]), i64([-1])),
             NodeFactory("opset1").create("Reverse", [p.output(0), ops.constant(i64([1, 3])).output(0)],
                                          {"mode": "index"})]
    ov.save_model(ov.Model([n.output(0) if hasattr(n, "output") else n for n in nodes], [p]), tmp_path / "m.xml",
                  compress_to_fp16=False)
    x = rand((1, 4, 4, 6))
    model = ov.Core().read_model(tmp_path / "m.xml")
    want = run_openvino(model, [x])
    compiled = arrayrt.Core().compile_model(str(tmp_path / "m.xml"), "CPU", {"ARRAY_BACKEND": backend})
    got = compiled([x])
    assert len(got) == len(want)
    for i, w in enumerate(want):
        assert_close(np.asarray(got[i]), w, 1e-6, 1e-6, what=f"output {i}: ")
