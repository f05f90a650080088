"""FakeQuantize against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt.opset as aops
from arrayrt.errors import OpAttributeError, ShapeInferenceError
from arrayrt.testing import check_op, rand


def _f32(v):
    return np.array(v, np.float32)


CASES = [  # data shape, (il, ih, ol, oh) shapes, levels
    ((2, 3, 4, 4), [(), (), (), ()], 256),
    ((2, 3, 4, 4), [(1, 3, 1, 1), (1, 3, 1, 1), (), ()], 255),
    ((2, 3, 4, 4), [(), (), (1, 3, 1, 1), (1, 3, 1, 1)], 16),
    ((2, 3, 4, 4), [(1, 3, 1, 1)] * 4, 2),
    ((3, 5), [(5,), (1, 5), (3, 1), ()], 7),
    ((2, 3, 4), [(2, 3, 4)] * 4, 11),
    ((6,), [(1,)] * 4, 4),
]


def _ranges(shapes, seed):
    lows = [rand(s, seed=seed + i, low=-1.5, high=-0.5) for i, s in enumerate(shapes[0::2])]
    highs = [rand(s, seed=seed + 5 + i, low=0.5, high=1.5) for i, s in enumerate(shapes[1::2])]
    return lows[0], highs[0], lows[1], highs[1]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fake_quantize_constant_ranges(case, backend):
    shape, range_shapes, levels = case
    il, ih, ol, oh = _ranges(range_shapes, seed=10)
    check_op(lambda ops, x: ops.fake_quantize(x, il, ih, ol, oh, levels), [rand(shape, seed=1)], backend,
             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES[1:5], ids=str)
def test_fake_quantize_ranges_as_inputs(case, backend):
    shape, range_shapes, levels = case
    check_op(lambda ops, *a: ops.fake_quantize(*a, levels),
             [rand(shape, seed=2), *_ranges(range_shapes, seed=20)], backend, rtol=1e-5, atol=1e-5)


def test_fake_quantize_inverted_output_range(backend):
    x = rand((2, 8), seed=3)
    check_op(lambda ops, a: ops.fake_quantize(a, _f32(-1), _f32(1), _f32(2), _f32(-2), 9), [x], backend,
             rtol=1e-5, atol=1e-5)


def test_fake_quantize_auto_broadcast_none(backend):
    x = rand((2, 3), seed=4)
    il, ih, ol, oh = _ranges([(2, 3)] * 4, seed=30)
    check_op(lambda ops, a: ops.fake_quantize(a, il, ih, ol, oh, 5, "none"), [x], backend,
             rtol=1e-5, atol=1e-5)


def test_fake_quantize_f16(backend):
    x = rand((2, 3, 4), np.float16, seed=5)
    r = [np.array(v, np.float16) for v in (-1.0, 1.0, -2.0, 2.0)]
    check_op(lambda ops, a: ops.fake_quantize(a, *r, 256), [x], backend, rtol=2e-3, atol=2e-3)


def test_fake_quantize_rounds_half_to_even(backend):
    """Steps of 1 on [-10, 10]: ties go to the even neighbour (std::nearbyint), both ends clamp
    (x <= low gives output_low, x > high gives output_high)."""
    x = _f32([[0.5, 1.5, 2.5, -0.5, -1.5, 3.5, 0.25, -10.0, -11.0, 10.0, 12.0]])
    want = _f32([[0, 2, 2, 0, -2, 4, 0, -10, -10, 10, 10]])
    check_op(lambda ops, a: ops.fake_quantize(a, _f32(-10), _f32(10), _f32(-10), _f32(10), 21), [x], backend,
             expected=[want])
    check_op(lambda ops, a: ops.fake_quantize(a, _f32(-10), _f32(10), _f32(-10), _f32(10), 21), [x], backend)


def test_fake_quantize_validation():
    x = aops.parameter([2, 3, 4], np.float32)
    with pytest.raises(ShapeInferenceError, match="input_high"):
        aops.fake_quantize(x, _f32(0), np.ones((5,), np.float32), _f32(0), _f32(1), 256)
    with pytest.raises(ShapeInferenceError, match="auto_broadcast=none"):
        aops.fake_quantize(x, _f32(0), _f32(1), _f32(0), _f32(1), 256, "none")
    with pytest.raises(ShapeInferenceError, match="floating"):
        aops.fake_quantize(aops.parameter([2], np.int32), *[np.zeros(1, np.int32)] * 4, 4)
    with pytest.raises(OpAttributeError, match="levels"):
        aops.fake_quantize(x, _f32(0), _f32(1), _f32(0), _f32(1), 1)
    assert str(aops.fake_quantize(aops.parameter([-1, 3], np.float32), np.zeros((1, 3), np.float32), _f32(1),
                                  _f32(0), _f32(1), 4).output(0).get_partial_shape()) == "[?,3]"


def test_fake_quantize_inverted_input_range(backend):
    """input_low > input_high: the spec clamps at min/max of the two and scales with their order
    (hand-computed: OpenVINO's CPU plugin clamps at input_low and so outputs output_low everywhere)."""
    x = rand((3, 7), seed=6)
    q = np.round((x - 1) / -2 * 8) / 8 * 4 - 2
    want = np.where(x <= -1, -2, np.where(x > 1, 2, q)).astype(np.float32)
    check_op(lambda ops, a: ops.fake_quantize(a, _f32(1), _f32(-1), _f32(-2), _f32(2), 9), [x], backend,
             expected=[want], rtol=1e-6, atol=1e-6)


def test_read_openvino_ir(tmp_path, backend):
    """IR written by OpenVINO itself (levels, auto_broadcast="numpy") reads into arrayrt and computes
    the same."""
    import openvino as ov
    import openvino.opset16 as ov16
    from arrayrt.ir.io import read_model

    from arrayrt.testing import run_arrayrt, run_openvino

    x = rand((1, 3, 4, 4), seed=7)
    il, ih, ol, oh = _ranges([(1, 3, 1, 1)] * 4, seed=40)
    p = ov16.parameter(list(x.shape), np.float32, name="in0")
    ov.save_model(ov.Model([ov16.fake_quantize(p, il, ih, ol, oh, 255)], [p]), tmp_path / "m.xml",
                  compress_to_fp16=False)
    want = run_openvino(ov.Core().read_model(tmp_path / "m.xml"), [x])
    got = run_arrayrt(read_model(tmp_path / "m.xml"), [x], backend)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
