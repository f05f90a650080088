"""BatchToSpace, SpaceToBatch, ExtractImagePatches and ReorgYolo against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest

from arrayrt.errors import OpAttributeError, ShapeInferenceError
from arrayrt.testing import check_op, rand

DTYPES = [np.float32, np.int32, np.int64, np.bool_]  # f16 is left out: array_api_strict lacks it


def i64(v) -> np.ndarray:
    return np.array(v, np.int64)


def check_cases(build_one, cases, backend, dtype=np.float32):
    """All cases in one model: case c builds over a Parameter of shape c[0]."""
    arrays = [rand(c[0], dtype, seed=k, low=-9, high=9) for k, c in enumerate(cases)]
    check_op(lambda ops, *ps: [build_one(ops, c, p) for c, p in zip(cases, ps)], arrays, backend)


# (data shape, block_shape, crops_begin, crops_end)
B2S = [((4, 2, 3), [1, 2, 2], [0, 0, 0], [0, 0, 0]),
       ((8, 1, 2, 3), [1, 2, 2, 2], [0, 0, 1, 0], [0, 1, 0, 2]),
       ((6, 3, 2), [1, 3, 2], [0, 2, 0], [0, 1, 1]),
       ((2, 5), [1, 1], [0, 0], [0, 0]),
       ((12, 2, 1, 2, 1), [1, 1, 3, 2, 2], [0, 1, 0, 1, 0], [0, 0, 1, 0, 1])]

# (data shape, block_shape, pads_begin, pads_end)
S2B = [((1, 2, 4), [1, 2, 2], [0, 0, 0], [0, 0, 0]),
       ((2, 1, 3, 4), [1, 1, 2, 3], [0, 0, 1, 1], [0, 0, 0, 1]),
       ((1, 3, 2), [1, 3, 2], [0, 1, 0], [0, 2, 2]),
       ((3, 5), [1, 1], [0, 0], [0, 0]),
       ((2, 2, 2, 3, 3), [1, 2, 2, 1, 2], [0, 0, 1, 0, 0], [0, 0, 1, 0, 1])]
# OpenVINO 2026.4's CPU plugin pads a last axis of length 1 wrongly (shape (1, 1, 2, 1), block_shape
# [1, 1, 1, 2], pads_end [0, 0, 0, 1] gives [1, 2, 2, 0] for [1, 2, 0, 0]), so no case pads one.


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_to_space(dtype, backend):
    check_cases(lambda ops, c, p: ops.batch_to_space(p, i64(c[1]), i64(c[2]), i64(c[3])), B2S, backend, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_space_to_batch(dtype, backend):
    check_cases(lambda ops, c, p: ops.space_to_batch(p, i64(c[1]), i64(c[2]), i64(c[3])), S2B, backend, dtype)


def test_block_inputs_i32_and_round_trip(backend):
    def build(ops, p):
        i32 = lambda v: np.array(v, np.int32)  # noqa: E731
        s2b = ops.space_to_batch(p, i32([1, 1, 2, 2]), i32([0, 0, 1, 0]), i32([0, 0, 1, 2]))
        return [s2b, ops.batch_to_space(s2b, i32([1, 1, 2, 2]), i32([0, 0, 1, 0]), i32([0, 0, 1, 2]))]
    check_op(build, [rand((2, 3, 4, 4))], backend)


def test_block_ops_runtime_block_shape(backend):
    """block_shape / crops / pads known only at inference: dynamic output dims, values read per call."""
    import arrayrt.opset as ops

    x = ops.parameter([4, 2, 3], np.float32)
    bs = ops.parameter([3], np.int64)
    b2s = ops.batch_to_space(x, bs, i64([0, 0, 0]), i64([0, 0, 0]))
    s2b = ops.space_to_batch(x, bs, i64([0, 0, 0]), i64([0, 0, 1]))
    assert str(b2s.output(0).get_partial_shape()) == "[?,?,?]"
    check_op(lambda o, p, b: [o.batch_to_space(p, b, i64([0, 0, 0]), i64([0, 1, 0])),
                              o.space_to_batch(p, b, i64([0, 0, 0]), i64([0, 0, 1]))],
             [rand((4, 2, 3)), i64([1, 2, 2])], backend)
    assert str(s2b.output(0).get_partial_shape()) == "[?,?,?]"


def test_block_ops_bad_inputs():
    import arrayrt.opset as ops

    x = ops.parameter([6, 2, 3], np.float32)
    with pytest.raises(ShapeInferenceError, match="not divisible by the product of block_shape"):
        ops.batch_to_space(x, i64([1, 4, 1]), i64([0, 0, 0]), i64([0, 0, 0]))
    with pytest.raises(ShapeInferenceError, match="remove more than"):
        ops.batch_to_space(x, i64([1, 2, 1]), i64([0, 3, 0]), i64([0, 2, 0]))
    with pytest.raises(ShapeInferenceError, match=r"block_shape\) must have 3 values"):
        ops.batch_to_space(x, i64([1, 2]), i64([0, 0]), i64([0, 0]))
    with pytest.raises(ShapeInferenceError, match="block_shape values must be positive"):
        ops.space_to_batch(x, i64([1, 0, 1]), i64([0, 0, 0]), i64([0, 0, 0]))
    with pytest.raises(ShapeInferenceError, match="is not divisible by block_shape"):
        ops.space_to_batch(x, i64([1, 2, 2]), i64([0, 0, 0]), i64([0, 0, 0]))
    with pytest.raises(ShapeInferenceError, match="pads_begin values must be non-negative"):
        ops.space_to_batch(x, i64([1, 1, 1]), i64([0, -1, 0]), i64([0, 1, 0]))
    with pytest.raises(ShapeInferenceError, match="integer element type"):
        ops.space_to_batch(x, np.array([1.0, 1.0, 1.0], np.float32), i64([0, 0, 0]), i64([0, 0, 0]))


# (image shape, sizes, strides, rates)
PATCHES = [((1, 1, 5, 5), [2, 2], [1, 1], [1, 1]),
           ((2, 3, 7, 6), [3, 2], [2, 3], [1, 1]),
           ((1, 2, 9, 8), [2, 3], [3, 2], [2, 1]),
           ((1, 2, 6, 7), [3, 3], [5, 5], [2, 2]),
           ((1, 1, 4, 4), [1, 1], [2, 2], [1, 1])]


@pytest.mark.parametrize("auto_pad", ["valid", "same_upper", "same_lower"])
def test_extract_image_patches(auto_pad, backend):
    check_cases(lambda ops, c, p: ops.extract_image_patches(p, c[1], c[2], c[3], auto_pad), PATCHES, backend)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_extract_image_patches_int(dtype, backend):
    check_cases(lambda ops, c, p: ops.extract_image_patches(p, c[1], c[2], c[3], "same_upper"), PATCHES[1:3],
                backend, dtype)


def test_extract_image_patches_bad_inputs():
    import arrayrt.opset as ops

    with pytest.raises(ShapeInferenceError, match="must be 4-D"):
        ops.extract_image_patches(ops.parameter([1, 5, 5], np.float32), [2, 2], [1, 1], [1, 1], "valid")
    x = ops.parameter([1, 1, 5, 5], np.float32)
    with pytest.raises(OpAttributeError, match="'sizes' must hold 2 positive values"):
        ops.extract_image_patches(x, [2, 2, 2], [1, 1], [1, 1], "valid")
    with pytest.raises(OpAttributeError, match="'strides' must hold 2 positive values"):
        ops.extract_image_patches(x, [2, 2], [0, 1], [1, 1], "valid")
    with pytest.raises(OpAttributeError, match="auto_pad"):
        ops.extract_image_patches(x, [2, 2], [1, 1], [1, 1], "explicit")


# the last three have channels that are not a multiple of stride^2 (OpenVINO's index loop, reproduced)
REORG = [((1, 4, 2, 2), 2), ((2, 8, 4, 6), 2), ((1, 18, 3, 6), 3), ((1, 3, 2, 2), 1), ((1, 64, 4, 4), 4),
         ((1, 5, 2, 2), 2), ((2, 7, 4, 2), 2), ((1, 10, 3, 3), 3)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_reorg_yolo(dtype, backend):
    check_cases(lambda ops, c, p: ops.reorg_yolo(p, [c[1]]), REORG, backend, dtype)


def test_reorg_yolo_bad_inputs():
    import arrayrt.opset as ops

    with pytest.raises(ShapeInferenceError, match="must be divisible by stride"):
        ops.reorg_yolo(ops.parameter([1, 4, 3, 2], np.float32), [2])
    with pytest.raises(ShapeInferenceError, match="at least stride"):
        ops.reorg_yolo(ops.parameter([1, 2, 2, 2], np.float32), [2])
    with pytest.raises(ShapeInferenceError, match="must be 4-D"):
        ops.reorg_yolo(ops.parameter([4, 2, 2], np.float32), [2])
    with pytest.raises(OpAttributeError, match="'stride' must be one positive value"):
        ops.reorg_yolo(ops.parameter([1, 4, 2, 2], np.float32), [0])


def test_dynamic_shapes():
    import arrayrt.opset as ops

    x = ops.parameter([-1, 4, -1, 6], np.float32)
    assert str(ops.reorg_yolo(x, [2]).output(0).get_partial_shape()) == "[?,16,?,3]"
    assert str(ops.extract_image_patches(x, [2, 2], [2, 2], [1, 1], "same_upper").output(0)
               .get_partial_shape()) == "[?,16,?,3]"
    assert str(ops.space_to_batch(x, i64([1, 1, 2, 2]), i64([0, 0, 0, 0]), i64([0, 0, 0, 0])).output(0)
               .get_partial_shape()) == "[?,4,?,3]"


def test_dynamic_input_shape_runs(backend):
    """Kernels built for a dynamic input shape plan per call from the actual shape."""
    import openvino as ov
    import openvino.opset16 as oops

    import arrayrt
    import arrayrt.opset as aops
    from arrayrt.testing import assert_close

    def build(ops, p):
        return [ops.reorg_yolo(p, [2]), ops.extract_image_patches(p, [2, 3], [2, 1], [1, 1], "same_lower"),
                ops.space_to_batch(p, i64([1, 1, 2, 2]), i64([0, 0, 1, 0]), i64([0, 0, 1, 0])),
                ops.batch_to_space(p, i64([1, 1, 2, 1]), i64([0, 0, 1, 0]), i64([0, 0, 0, 1]))]

    models = []
    for ops, mod in ((aops, arrayrt), (oops, ov)):
        p = ops.parameter([-1, 4, -1, 4], np.float32, name="x")
        models.append(mod.Model(build(ops, p), [p], "dyn"))
    ours = arrayrt.Core().compile_model(models[0], "CPU", {"ARRAY_BACKEND": backend})
    theirs = ov.Core().compile_model(models[1], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for x in (rand((2, 4, 2, 4), seed=1), rand((4, 4, 6, 4), seed=2)):
        got, want = ours([x]), theirs([x])
        for i in range(len(theirs.outputs)):
            assert_close(np.asarray(got[i]), np.asarray(want[i]), 1e-6, 1e-6, what=f"shape {x.shape}, output {i}: ")


def test_reads_openvino_ir(tmp_path, backend):
    """IR that OpenVINO writes for the four ops reads into arrayrt and computes the same."""
    import openvino as ov
    import openvino.opset16 as ops

    import arrayrt
    from arrayrt.testing import assert_close, run_openvino

    p = ops.parameter([4, 4, 4, 6], np.float32, name="x")
    nodes = [ops.batch_to_space(p, i64([1, 2, 1, 2]), i64([0, 0, 1, 0]), i64([0, 1, 0, 2])),
             ops.space_to_batch(p, i64([1, 2, 2, 3]), i64([0, 0, 1, 0]), i64([0, 0, 1, 0])),
             ops.extract_image_patches(p, [3, 2], [2, 2], [1, 2], "same_upper"), ops.reorg_yolo(p, [2])]
    ov.save_model(ov.Model(nodes, [p]), tmp_path / "m.xml", compress_to_fp16=False)
    x = rand((4, 4, 4, 6))
    want = run_openvino(ov.Core().read_model(tmp_path / "m.xml"), [x])
    got = arrayrt.Core().compile_model(str(tmp_path / "m.xml"), "CPU", {"ARRAY_BACKEND": backend})([x])
    assert len(got) == len(want)
    for i, w in enumerate(want):
        assert_close(np.asarray(got[i]), w, 1e-6, 1e-6, what=f"output {i}: ")
