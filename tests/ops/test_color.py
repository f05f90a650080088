"""NV12/I420 to RGB/BGR against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest

from arrayrt.testing import check_op

N, H, W = 2, 6, 8


def planes(dtype, seed: int = 0, n: int = N, h: int = H, w: int = W):
    """Y [n, h, w, 1] and chroma U, V [n, h/2, w/2] over the whole [0, 255] range (floats: fractional)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 256, (n, h, w, 1))
    u = rng.integers(0, 256, (n, h // 2, w // 2))
    v = rng.integers(0, 256, (n, h // 2, w // 2))
    if np.dtype(dtype).kind == "f":
        y, u, v = (a + rng.random(a.shape) * 0.99 for a in (y, u, v))
    return y.astype(dtype), u.astype(dtype), v.astype(dtype)


def nv12_inputs(dtype, single: bool, **kw):
    y, u, v = planes(dtype, **kw)
    uv = np.stack([u, v], axis=-1)
    if single:
        n, h, w, _ = y.shape
        return [np.concatenate([y, uv.reshape(n, h // 2, w, 1)], axis=1)]
    return [y, uv]


def i420_inputs(dtype, single: bool, **kw):
    y, u, v = planes(dtype, **kw)
    n, h, w, _ = y.shape
    if single:
        chroma = np.concatenate([u.reshape(n, -1), v.reshape(n, -1)], axis=1).reshape(n, h // 2, w, 1)
        return [np.concatenate([y, chroma], axis=1)]
    return [y, u[..., None], v[..., None]]


DTYPES = [np.uint8, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("single", [True, False])
def test_nv12(backend, dtype, single):
    xs = nv12_inputs(dtype, single)
    check_op(lambda ops, *ps: [ops.nv12_to_rgb(*ps), ops.nv12_to_bgr(*ps)], xs, backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("single", [True, False])
def test_i420(backend, dtype, single):
    xs = i420_inputs(dtype, single)
    check_op(lambda ops, *ps: [ops.i420_to_rgb(*ps), ops.i420_to_bgr(*ps)], xs, backend)


def test_i420_single_plane_height_not_multiple_of_4(backend):
    # H = 2: each chroma plane is half a row of the single plane
    xs = i420_inputs(np.uint8, True, n=1, h=2, w=4)
    check_op(lambda ops, x: ops.i420_to_rgb(x), xs, backend)


def test_u8_rounding_all_values(backend):
    """A dense u8 grid (every third U and V, all 256 Y) matches OpenVINO exactly: round half to even
    at the many ties, and clamping."""
    uv = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1).astype(np.uint8)
    uv = np.ascontiguousarray(uv[::3, ::3])  # a third of each axis keeps the test fast
    n, hc, wc = 16, uv.shape[0], uv.shape[1]
    # batch k covers Y = 16k .. 16k+15: each 2x2 block of batch k takes 4 of them, by the block's row
    ys = np.arange(256, dtype=np.uint8).reshape(n, 4, 1, 2, 1, 2)
    y = np.broadcast_to(ys, (n, 4, -(-hc // 4), 2, wc, 2)).reshape(n, -1, 2, wc, 2)[:, :hc]
    y = y.reshape(n, 2 * hc, 2 * wc, 1).copy()
    check_op(lambda ops, a, b: ops.nv12_to_rgb(a, b), [y, np.broadcast_to(uv, (n, hc, wc, 2)).copy()],
             backend)


def test_float_out_of_range_clamps(backend):
    y = np.array([[[[-50.0], [300.0]], [[16.0], [235.0]]]], np.float32)
    uv = np.array([[[[-10.0, 400.0]]]], np.float32)
    check_op(lambda ops, a, b: ops.nv12_to_bgr(a, b), [y, uv], backend)


def test_shape_inference():
    import arrayrt.opset as ops

    out = ops.nv12_to_rgb(ops.parameter([2, 12, 8, 1], np.uint8))
    assert list(out.get_output_partial_shape(0)) == [2, 8, 8, 3]
    out = ops.i420_to_bgr(ops.parameter([-1, 4, 6, 1], np.float32), ops.parameter([3, -1, 3, 1], np.float32),
                          ops.parameter([-1, 2, -1, 1], np.float32))
    assert list(out.get_output_partial_shape(0)) == [3, 4, 6, 3]
    assert out.get_output_element_type(0).get_type_name() == "f32"


def test_nv12_bad_inputs():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    with pytest.raises(ShapeInferenceError, match="height must be even"):
        ops.nv12_to_rgb(ops.parameter([1, 5, 4, 1], np.uint8), ops.parameter([1, 2, 2, 2], np.uint8))
    with pytest.raises(ShapeInferenceError, match="multiple of 3"):
        ops.nv12_to_rgb(ops.parameter([1, 8, 4, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="width must be even"):
        ops.nv12_to_bgr(ops.parameter([1, 4, 5, 1], np.uint8), ops.parameter([1, 2, 2, 2], np.uint8))
    with pytest.raises(ShapeInferenceError, match="2 channel"):
        ops.nv12_to_rgb(ops.parameter([1, 4, 4, 1], np.uint8), ops.parameter([1, 2, 2, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="1 channel"):
        ops.nv12_to_rgb(ops.parameter([1, 6, 4, 3], np.uint8))
    with pytest.raises(ShapeInferenceError, match="height of the UV plane"):
        ops.nv12_to_bgr(ops.parameter([1, 4, 4, 1], np.uint8), ops.parameter([1, 3, 2, 2], np.uint8))
    with pytest.raises(ShapeInferenceError, match="same element type"):
        ops.nv12_to_rgb(ops.parameter([1, 4, 4, 1], np.uint8), ops.parameter([1, 2, 2, 2], np.float32))
    with pytest.raises(ShapeInferenceError, match="u8 or floating"):
        ops.nv12_to_rgb(ops.parameter([1, 6, 4, 1], np.int32))


def test_i420_bad_inputs():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    y = ops.parameter([1, 4, 4, 1], np.uint8)
    uv = ops.parameter([1, 2, 2, 1], np.uint8)
    with pytest.raises(ShapeInferenceError, match="height must be even"):
        ops.i420_to_rgb(ops.parameter([1, 5, 4, 1], np.uint8), uv, uv)
    with pytest.raises(ShapeInferenceError, match="width must be even"):
        ops.i420_to_bgr(ops.parameter([1, 3, 3, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="U plane must have 1 channel"):
        ops.i420_to_rgb(y, ops.parameter([1, 2, 2, 2], np.uint8), ops.parameter([1, 2, 2, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="width of the V plane"):
        ops.i420_to_bgr(y, ops.parameter([1, 2, 2, 1], np.uint8), ops.parameter([1, 2, 3, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="batch of the V plane"):
        ops.i420_to_rgb(y, ops.parameter([1, 2, 2, 1], np.uint8), ops.parameter([2, 2, 2, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="expected 1 or 3 inputs"):
        ops.i420_to_rgb(y, ops.parameter([1, 2, 2, 1], np.uint8))
    with pytest.raises(ShapeInferenceError, match="rank 4"):
        ops.i420_to_rgb(ops.parameter([6, 4, 1], np.uint8))
