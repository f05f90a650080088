"""Fourier transforms: DFT and IDFT (v7), RDFT and IRDFT (v9), STFT (v15); and MelWeightMatrix, an
arrayrt extension for ONNX.

Complex tensors are real tensors with a last dimension of 2 (real, imaginary). The transforms run
on the array-API ``fft`` extension in complex64 (complex128 for f64 data); f16 data is computed in
f32 and rounded back. A ``signal_size`` entry zero-pads or trims its axis at the end before the
transform (-1 keeps the input length); inverse transforms divide by the product of the sizes.
"""
from __future__ import annotations

import math
from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import as_int_tuple
from arrayrt.ir.ops.base import EXTENSION_OPSET, Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where


# --- array helpers -------------------------------------------------------------------------------
def _work_dtypes(xp, dt) -> tuple[Any, Any]:
    """(real, complex) dtypes a transform of ``dt`` data computes in."""
    if dt == xp.float64:
        return xp.float64, xp.complex128
    return xp.float32, xp.complex64


def to_complex(xp, x):
    """``[..., 2]`` real pairs -> complex array ``[...]``."""
    _, ct = _work_dtypes(xp, x.dtype)
    return xp.astype(x[..., 0], ct) + xp.astype(x[..., 1], ct) * 1j


def from_complex(xp, c, dt):
    """Complex array -> ``[..., 2]`` real pairs of dtype ``dt``."""
    return xp.astype(xp.stack([xp.real(c), xp.imag(c)], axis=-1), dt)


def _normalize_axes(axes, rank: int, what: str = "axes") -> tuple[int, ...]:
    out = []
    for a in as_int_tuple(axes):
        if not -rank <= a < rank:
            raise ValueError(f"{what} value {a} is out of range for {rank} signal dimensions")
        out.append(a + rank if a < 0 else a)
    if len(set(out)) != len(out):
        raise ValueError(f"{what} has repeated axes: {list(as_int_tuple(axes))}")
    return tuple(out)


def _sizes(signal_size, axes: tuple[int, ...], shape, default=None) -> list[int]:
    """Per transformed axis its signal size: the input's, -1 meaning the input's, or ``default``."""
    given = as_int_tuple(signal_size) if signal_size is not None else (-1,) * len(axes)
    if len(given) != len(axes):
        raise ValueError(f"signal_size has {len(given)} values for {len(axes)} axes")
    out = []
    for i, (a, s) in enumerate(zip(axes, given)):
        if s == -1:
            s = default(shape[a]) if default is not None and i == len(axes) - 1 else shape[a]
        out.append(int(s))
    return out


# --- shape inference ---------------------------------------------------------------------------------
def _check_types(node, first_float: bool = True) -> None:
    t = node.input_type(0)
    if first_float and t.is_static and not t.is_real:
        raise ShapeInferenceError(f"{where(node)}: input 0 (data) must be floating, got {t}")
    for i, name in ((1, "axes"), (2, "signal_size")):
        if i < node.get_input_size():
            ti = node.input_type(i)
            if ti.is_static and ti.name not in ("i32", "i64"):
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be i32 or i64, got {ti}")
            s = node.input_shape(i)
            if s.rank_is_static and len(s) != 1:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be 1-D, got {s}")


def _infer_fft(node, complex_in: bool, complex_out: bool, last=None) -> list:
    """Output shape of a transform: the input's (with the complex pair axis added or dropped) with
    each transformed axis resized to its signal size; ``last`` sizes the last transformed axis
    (RDFT halves, IRDFT doubles)."""
    _check_types(node)
    data = node.input_shape(0)
    t = node.input_type(0)
    if not data.rank_is_static:
        return [(t, PartialShape.dynamic())]
    dims = list(data)
    if complex_in:
        if len(dims) < 2:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 2, got {data}")
        if not dims[-1].compatible(2):
            raise ShapeInferenceError(f"{where(node)}: the last dimension of input 0 (data) must be 2, "
                                      f"got {data}")
        dims = dims[:-1]
    rank = len(dims)
    tail = [Dimension(2)] if complex_out else []
    axes_v = node.input_const(1)
    size_v = node.input_const(2) if node.get_input_size() > 2 else None
    if axes_v is None:
        if node.get_input_size() == 2 and last is None:
            return [(t, PartialShape(dims + tail))]
        return [(t, PartialShape.dynamic(rank + len(tail)))]
    try:
        axes = _normalize_axes(axes_v, rank)
    except ValueError as exc:
        raise ShapeInferenceError(f"{where(node)}: input 1 (axes): {exc}") from None
    if node.get_input_size() > 2 and size_v is None:
        out = list(dims)
        for a in axes:
            out[a] = Dimension()
        return [(t, PartialShape(out + tail))]
    given = as_int_tuple(size_v) if size_v is not None else (-1,) * len(axes)
    if len(given) != len(axes):
        raise ShapeInferenceError(f"{where(node)}: input 2 (signal_size) has {len(given)} values for "
                                  f"{len(axes)} axes")
    out = list(dims)
    for i, (a, s) in enumerate(zip(axes, given)):
        n = dims[a] if s == -1 else Dimension(s)
        if last is not None and i == len(axes) - 1:
            from_input, from_size = last
            if s != -1:
                n = Dimension(from_size(s))
            else:
                n = Dimension(from_input(n.get_length())) if n.is_static else Dimension()
        out[a] = n
    return [(t, PartialShape(out + tail))]


def _halved(n: int) -> int:
    return n // 2 + 1


def _doubled(n: int) -> int:
    return 2 * (n - 1)


#: how RDFT and IRDFT size the last transformed axis: (from the input length, from a signal size)
RDFT_LAST = (_halved, _halved)
IRDFT_LAST = (_doubled, lambda s: s)


# --- computes ------------------------------------------------------------------------------------
def _wide(xp, x):
    rt, _ = _work_dtypes(xp, x.dtype)
    return x if x.dtype == rt else xp.astype(x, rt)


def dft(xp, data, axes, signal_size, inverse: bool):
    c = to_complex(xp, _wide(xp, data))
    ax = _normalize_axes(axes, c.ndim)
    s = _sizes(signal_size, ax, c.shape)
    fn = xp.fft.ifftn if inverse else xp.fft.fftn
    return from_complex(xp, fn(c, s=tuple(s), axes=ax), data.dtype)


def rdft(xp, data, axes, signal_size):
    x = _wide(xp, data)
    ax = _normalize_axes(axes, x.ndim)
    s = _sizes(signal_size, ax, x.shape)
    return from_complex(xp, xp.fft.rfftn(x, s=tuple(s), axes=ax), data.dtype)


def irdft(xp, data, axes, signal_size):
    c = to_complex(xp, _wide(xp, data))
    ax = _normalize_axes(axes, c.ndim)
    s = _sizes(signal_size, ax, c.shape, default=_doubled)
    return xp.astype(xp.fft.irfftn(c, s=tuple(s), axes=ax), data.dtype)


class _FFTBase(OpDef):
    n_inputs = (2, 3)


@register
class DFT(_FFTBase):
    type_name, version, opset = "DFT", 7, "opset7"

    @classmethod
    def infer(cls, node):
        return _infer_fft(node, True, True)

    @staticmethod
    def compute(xp, data, axes, signal_size=None):
        return dft(xp, data, axes, signal_size, False)


@register
class IDFT(_FFTBase):
    type_name, version, opset = "IDFT", 7, "opset7"

    @classmethod
    def infer(cls, node):
        return _infer_fft(node, True, True)

    @staticmethod
    def compute(xp, data, axes, signal_size=None):
        return dft(xp, data, axes, signal_size, True)


@register
class RDFT(_FFTBase):
    """Real -> complex; the last transformed axis keeps its ``size // 2 + 1`` non-redundant bins."""

    type_name, version, opset = "RDFT", 9, "opset9"

    @classmethod
    def infer(cls, node):
        return _infer_fft(node, False, True, last=RDFT_LAST)

    @staticmethod
    def compute(xp, data, axes, signal_size=None):
        return rdft(xp, data, axes, signal_size)


@register
class IRDFT(_FFTBase):
    """Complex (the non-redundant half on the last axis) -> real of length ``2 * (n - 1)`` there,
    or its signal size."""

    type_name, version, opset = "IRDFT", 9, "opset9"

    @classmethod
    def infer(cls, node):
        return _infer_fft(node, True, False, last=IRDFT_LAST)

    @staticmethod
    def compute(xp, data, axes, signal_size=None):
        return irdft(xp, data, axes, signal_size)


# --- STFT ------------------------------------------------------------------------------------------
def stft_array(xp, signal, window, frame_size: int, frame_step: int, transpose_frames: bool):
    """Frames of ``frame_size`` every ``frame_step`` samples, times the window (zero-padded to the
    frame size, centred), each transformed with a real FFT."""
    x = _wide(xp, signal)
    one_d = x.ndim == 1
    if one_d:
        x = xp.reshape(x, (1, x.shape[0]))
    n = x.shape[1]
    if frame_size <= 0 or frame_step <= 0 or frame_size > n:
        raise ValueError(f"frame_size {frame_size} and frame_step {frame_step} do not fit a signal of "
                         f"length {n}")
    w = _wide(xp, window)
    wl = w.shape[0]
    if wl > frame_size:
        raise ValueError(f"the window ({wl}) is longer than frame_size ({frame_size})")
    lead = (frame_size - wl) // 2
    if wl < frame_size:
        tail = frame_size - wl - lead
        w = xp.concat([xp.zeros((lead,), dtype=w.dtype), w, xp.zeros((tail,), dtype=w.dtype)])
    frames = (n - frame_size) // frame_step + 1
    idx = (xp.reshape(xp.arange(frames, dtype=xp.int64) * frame_step, (frames, 1))
           + xp.reshape(xp.arange(frame_size, dtype=xp.int64), (1, frame_size)))
    cut = xp.reshape(xp.take(x, xp.reshape(idx, (-1,)), axis=1), (x.shape[0], frames, frame_size))
    y = from_complex(xp, xp.fft.rfft(cut * w, axis=-1), signal.dtype)  # [B, frames, bins, 2]
    if transpose_frames:
        y = xp.permute_dims(y, (0, 2, 1, 3))
    return y[0, ...] if one_d else y


@register
class STFT(OpDef):
    type_name, version, opset = "STFT", 15, "opset15"
    attrs = (Attr("transpose_frames", "bool"),)
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        t = node.input_type(0)
        for i, name in ((0, "signal"), (1, "window")):
            ti = node.input_type(i)
            if ti.is_static and not ti.is_real:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be floating, got {ti}")
        for i, name in ((2, "frame_size"), (3, "frame_step")):
            ti, si = node.input_type(i), node.input_shape(i)
            if ti.is_static and ti.name not in ("i32", "i64"):
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be i32 or i64, got {ti}")
            if si.rank_is_static and len(si) != 0:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({name}) must be a scalar, got {si}")
        data, win = node.input_shape(0), node.input_shape(1)
        if data.rank_is_static and len(data) not in (1, 2):
            raise ShapeInferenceError(f"{where(node)}: input 0 (signal) must be 1-D or 2-D, got {data}")
        if win.rank_is_static and len(win) != 1:
            raise ShapeInferenceError(f"{where(node)}: input 1 (window) must be 1-D, got {win}")
        fs, step = node.input_const(2), node.input_const(3)
        if not data.rank_is_static:
            return [(t, PartialShape.dynamic())]
        length = data[-1]
        frames = bins = Dimension()
        if fs is not None:
            fs = int(fs)
            if fs <= 0:
                raise ShapeInferenceError(f"{where(node)}: input 2 (frame_size) must be positive, got {fs}")
            bins = Dimension(fs // 2 + 1)
            if win[0].is_static and win[0].get_length() > fs:
                raise ShapeInferenceError(f"{where(node)}: input 1 (window) is longer ({win[0]}) than "
                                          f"frame_size {fs}")
            if step is not None:
                step = int(step)
                if step <= 0:
                    raise ShapeInferenceError(f"{where(node)}: input 3 (frame_step) must be positive, "
                                              f"got {step}")
                if length.is_static:
                    if length.get_length() < fs:
                        raise ShapeInferenceError(f"{where(node)}: the signal ({length}) is shorter than "
                                                  f"frame_size {fs}")
                    frames = Dimension((length.get_length() - fs) // step + 1)
        mid = [bins, frames] if node.attrs["transpose_frames"] else [frames, bins]
        lead = [data[0]] if len(data) == 2 else []
        return [(t, PartialShape(lead + mid + [Dimension(2)]))]

    @classmethod
    def kernel(cls, xp, node):
        tf = node.attrs["transpose_frames"]
        def run(x, w, fs, step):
            return stft_array(xp, x, w, int(as_int_tuple(fs)[0]), int(as_int_tuple(step)[0]), tf)

        return run


# --- factories --------------------------------------------------------------------------------
def _fft_factory(op_type: str, fname: str):
    def build(data, axes, signal_size=None, name: str | None = None) -> Node:
        inputs = [data, axes] if signal_size is None else [data, axes, signal_size]
        return make(op_type, inputs, name=name)

    build.__name__ = build.__qualname__ = fname
    build.__doc__ = f"A {op_type} node (``openvino.opset16.{fname}``)."
    return factory(build)


for _t, _f in (("DFT", "dft"), ("IDFT", "idft"), ("RDFT", "rdft"), ("IRDFT", "irdft")):
    _fft_factory(_t, _f)


@factory
def stft(data, window, frame_size, frame_step, transpose_frames: bool, name: str | None = None) -> Node:
    return make("STFT", [data, window, frame_size, frame_step], {"transpose_frames": transpose_frames}, name)


# --- MelWeightMatrix (arrayrt extension) ---------------------------------------------------------
def mel_weights(xp, num_mel_bins: int, dft_length: int, sample_rate: int, lower_hz: float, upper_hz: float,
                      dtype):
    """ONNX MelWeightMatrix: ``[dft_length // 2 + 1, num_mel_bins]`` triangular filters between
    mel-spaced frequency bins (computed in f64, bins truncated to integers as ONNX's reference)."""
    n_spec = dft_length // 2 + 1
    f64 = xp.float64
    ln10 = 2.302585092994046
    low_mel = 2595.0 * math.log1p(lower_hz / 700.0) / ln10
    high_mel = 2595.0 * math.log1p(upper_hz / 700.0) / ln10
    step = (high_mel - low_mel) / (num_mel_bins + 2)
    mels = xp.arange(num_mel_bins + 2, dtype=f64) * step + low_mel
    hz = 700.0 * xp.expm1(mels / 2595.0 * ln10)
    bins = xp.astype(xp.floor((dft_length + 1) * hz / sample_rate), xp.int64)
    low, center, high = (xp.reshape(bins[k:k + num_mel_bins], (1, num_mel_bins)) for k in range(3))
    j = xp.reshape(xp.arange(n_spec, dtype=xp.int64), (n_spec, 1))
    jf, lf, cf, hf = (xp.astype(a, f64) for a in (j, low, center, high))
    rising = (j >= low) & (j <= center)
    spans = center > low
    one, zero = xp.asarray(1.0, dtype=f64), xp.asarray(0.0, dtype=f64)
    up = xp.where(spans, (jf - lf) / xp.where(spans, cf - lf, 1.0), xp.where(j == center, one, zero))
    falling = (j >= center) & (j < high)
    down = (hf - jf) / xp.where(high > center, hf - cf, 1.0)
    out = xp.where(falling, down, xp.where(rising, up, 0.0))
    return xp.astype(out, dtype)


@register
class MelWeightMatrix(OpDef):
    """Inputs: num_mel_bins, dft_length, sample_rate (integer scalars), lower_edge_hertz,
    upper_edge_hertz (float scalars). Output ``[dft_length // 2 + 1, num_mel_bins]`` of
    ``output_type``. An arrayrt extension (ONNX MelWeightMatrix; OpenVINO has none)."""

    type_name, version, opset = "MelWeightMatrix", 1, EXTENSION_OPSET
    attrs = (Attr("output_type", "type", Type.f32),)
    n_inputs = (5, 5)

    @classmethod
    def infer(cls, node):
        for i in range(5):
            s = node.input_shape(i)
            if s.rank_is_static and s.is_static and math.prod(s.to_shape()) != 1:
                raise ShapeInferenceError(f"{where(node)}: input {i} must be a scalar, got {s}")
        for i in range(3):
            t = node.input_type(i)
            if t.is_static and not t.is_integral_number:
                raise ShapeInferenceError(f"{where(node)}: input {i} must be an integer, got {t}")
        mel, dft = node.input_const(0), node.input_const(1)
        rows = Dimension(int(as_int_tuple(dft)[0]) // 2 + 1) if dft is not None else Dimension()
        cols = Dimension(int(as_int_tuple(mel)[0])) if mel is not None else Dimension()
        return [(node.attrs["output_type"], PartialShape([rows, cols]))]

    @classmethod
    def kernel(cls, xp, node):
        from arrayrt.ir.ops._xp import dtype_of, to_numpy

        dt = dtype_of(xp, node.attrs["output_type"])

        def run(mel, dft, rate, low, high):
            ints = [int(as_int_tuple(v)[0]) for v in (mel, dft, rate)]
            edges = [float(to_numpy(v).reshape(-1)[0]) for v in (low, high)]
            return mel_weights(xp, *ints, *edges, dt)

        return run


@factory
def mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz,
                           output_type="f32", name: str | None = None) -> Node:
    """A MelWeightMatrix node (arrayrt extension)."""
    inputs = [num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz]
    return make("MelWeightMatrix", inputs, {"output_type": Type(output_type)}, name)
