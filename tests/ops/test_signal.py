"""DFT, IDFT, RDFT, IRDFT and STFT against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.shape import PartialShape

import arrayrt.opset as aops
from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import check_op, rand


def _i64(v):
    return np.array(v, np.int64)


COMPLEX = [  # shape (last dim 2), axes, signal_size or None
    ((2, 8, 2), [1], None),
    ((2, 8, 2), [-1], None),
    ((3, 4, 6, 2), [1, 2], None),
    ((3, 4, 6, 2), [2, 0], None),
    ((2, 5, 2), [1], [8]),       # zero-padded
    ((2, 9, 2), [1], [4]),       # trimmed
    ((2, 4, 6, 2), [1, 2], [-1, 3]),
    ((1, 7, 2), [0, 1], [2, 5]),
]


@pytest.mark.parametrize("op", ["dft", "idft"])
@pytest.mark.parametrize("case", COMPLEX, ids=str)
def test_dft_idft(op, case, backend):
    shape, axes, size = case
    args = [_i64(axes)] + ([] if size is None else [_i64(size)])
    check_op(lambda ops, x: getattr(ops, op)(x, *args), [rand(shape, seed=1)], backend, rtol=1e-4, atol=1e-4)


def _numpy_sizes(shape, axes, size, last_default=None):
    sizes = []
    for i, (a, s) in enumerate(zip(axes, size)):
        if s == -1:
            s = shape[a] if last_default is None or i < len(axes) - 1 else last_default(shape[a])
        sizes.append(s)
    return sizes


def _pairs(c):
    return np.stack([c.real, c.imag], axis=-1).astype(np.float32)


REAL = [  # real shape, axes, signal_size or None, hand-computed
    ((2, 8), [1], None, False),
    ((2, 9), [-1], None, False),
    ((3, 4, 6), [1, 2], None, False),
    ((3, 4, 6), [2, 1], None, False),
    ((2, 9), [1], [4], False),
    ((2, 5), [1], [8], True),
    ((2, 6, 4), [0, 2], [-1, 6], True),
]


@pytest.mark.parametrize("case", REAL, ids=str)
def test_rdft(case, backend):
    """Zero padding (signal size > input) and -1 signal sizes are checked against numpy's FFT:
    OpenVINO's CPU plugin rejects the first ("not supported yet") and crashes on the second."""
    shape, axes, size, by_hand = case
    x = rand(shape, seed=2)
    args = [_i64(axes)] + ([] if size is None else [_i64(size)])
    expected = None
    if by_hand:
        expected = [_pairs(np.fft.rfftn(x.astype(np.float64), s=_numpy_sizes(shape, axes, size), axes=axes))]
    check_op(lambda ops, a: ops.rdft(a, *args), [x], backend, rtol=1e-4, atol=1e-4, expected=expected)


HALF = [  # complex shape, axes, signal_size or None, hand-computed
    ((2, 5, 2), [1], None, False),        # -> 8
    ((3, 4, 5, 2), [1, 2], None, False),
    ((2, 5, 2), [1], [9], False),
    ((2, 5, 2), [1], [6], False),
    ((2, 4, 3, 2), [2, 0], [-1, 4], True),
]


@pytest.mark.parametrize("case", HALF, ids=str)
def test_irdft(case, backend):
    """A -1 signal size is checked against numpy's FFT (OpenVINO's CPU plugin crashes on it)."""
    shape, axes, size, by_hand = case
    x = rand(shape, seed=3)
    args = [_i64(axes)] + ([] if size is None else [_i64(size)])
    expected = None
    if by_hand:
        c = x[..., 0].astype(np.float64) + 1j * x[..., 1]
        sizes = _numpy_sizes(shape[:-1], axes, size, last_default=lambda n: 2 * (n - 1))
        expected = [np.fft.irfftn(c, s=sizes, axes=axes).astype(np.float32)]
    check_op(lambda ops, a: ops.irdft(a, *args), [x], backend, rtol=1e-4, atol=1e-4, expected=expected)


def test_dft_axes_as_input(backend):
    check_op(lambda ops, x, a: ops.dft(x, a), [rand((2, 6, 2), seed=4), _i64([1])], backend,
             rtol=1e-4, atol=1e-4)


def test_dft_f16(backend):
    check_op(lambda ops, x: ops.dft(x, _i64([1])), [rand((2, 8, 2), np.float16, seed=5)], backend,
             rtol=2e-2, atol=2e-2)


def test_rdft_i32_axes_roundtrip(backend):
    """IRDFT(RDFT(x)) gives x back (one graph, i32 axes)."""
    x = rand((3, 10), seed=6)
    ax = np.array([1], np.int32)
    check_op(lambda ops, a: ops.irdft(ops.rdft(a, ax), ax, np.array([10], np.int32)), [x], backend,
             rtol=1e-4, atol=1e-5, expected=[x])


STFT = [  # signal shape, window length, frame_size, frame_step, transpose_frames
    ((2, 48), 16, 16, 4, False),
    ((2, 48), 16, 16, 4, True),
    ((40,), 8, 8, 3, False),
    ((1, 33), 10, 16, 5, False),   # window shorter than the frame: centred
    ((3, 20), 7, 9, 11, True),
]


@pytest.mark.parametrize("case", STFT, ids=str)
def test_stft(case, backend):
    shape, wl, fs, step, tr = case
    check_op(lambda ops, x, w: ops.stft(x, w, _i64(fs), _i64(step), tr),
             [rand(shape, seed=7), rand((wl,), seed=8, low=0, high=1)], backend, rtol=1e-4, atol=1e-4)


def test_shapes_dynamic_and_errors():
    d = aops.dft(aops.parameter([-1, 6, 2]), _i64([1]), _i64([4]))
    assert d.output(0).get_partial_shape() == PartialShape([-1, 4, 2])
    r = aops.rdft(aops.parameter([2, 9, 5]), _i64([2, 1]))
    assert r.output(0).get_partial_shape() == PartialShape([2, 5, 5, 2])
    ir = aops.irdft(aops.parameter([2, 5, 2]), _i64([1]))
    assert ir.output(0).get_partial_shape() == PartialShape([2, 8])
    unknown = aops.dft(aops.parameter([2, 6, 2]), aops.parameter([1], np.int64))
    assert unknown.output(0).get_partial_shape() == PartialShape([2, 6, 2])
    s = aops.stft(aops.parameter([2, 48]), aops.parameter([16]), _i64(16), _i64(4), True)
    assert s.output(0).get_partial_shape() == PartialShape([2, 9, 9, 2])
    with pytest.raises(ShapeInferenceError, match="last dimension"):
        aops.dft(aops.parameter([2, 6, 3]), _i64([1]))
    with pytest.raises(ShapeInferenceError, match="out of range"):
        aops.dft(aops.parameter([2, 6, 2]), _i64([2]))
    with pytest.raises(ShapeInferenceError, match="signal_size"):
        aops.rdft(aops.parameter([2, 6]), _i64([1]), _i64([4, 4]))
    with pytest.raises(ShapeInferenceError, match="window"):
        aops.stft(aops.parameter([2, 48]), aops.parameter([20]), _i64(16), _i64(4), False)
    with pytest.raises(ShapeInferenceError, match="floating"):
        aops.rdft(aops.parameter([2, 6], np.int32), _i64([1]))
