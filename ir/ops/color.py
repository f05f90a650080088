"""NV12toRGB, NV12toBGR, I420toRGB, I420toBGR.

YUV (BT.601, video range) to RGB the way OpenVINO computes it: every sample is read as f32 (or as the
input's floating type), ``c = Y - 16``, ``d = U - 128``, ``e = V - 128``, then
``R = 1.164c + 1.596e``, ``G = 1.164c - 0.391d - 0.813e``, ``B = 1.164c + 2.018d`` evaluated left to
right, clamped to [0, 255]; u8 results are rounded half to even before the clamp. The chroma planes
are subsampled 2x2: each U/V sample covers a 2x2 block of luma.

Layouts (NHWC, one channel per plane unless noted):
* NV12 single plane ``[N, H*3/2, W, 1]``: Y rows, then interleaved UV rows; two planes: Y
  ``[N, H, W, 1]`` and UV ``[N, H/2, W/2, 2]``.
* I420 single plane ``[N, H*3/2, W, 1]``: Y rows, then the U plane, then the V plane (each
  ``H/2 * W/2`` samples); three planes: Y ``[N, H, W, 1]``, U and V ``[N, H/2, W/2, 1]``.
"""
from __future__ import annotations

import numpy as np
from arrayrt.ir.ops.base import OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where

# --- shape inference ----------------------------------------------------------------------------


def _dims4(node, i: int, what: str, channels: int):
    """The 4 dims of plane input ``i`` (None when its rank is dynamic), its channel count checked."""
    ps = node.input_shape(i)
    if not ps.rank_is_static:
        return None
    if len(ps) != 4:
        raise ShapeInferenceError(f"{where(node)}: the {what} plane must have rank 4 (NHWC), got shape {ps}")
    c = ps[3]
    if c.is_static and c.get_length() != channels:
        raise ShapeInferenceError(
            f"{where(node)}: the {what} plane must have {channels} channel(s), got shape {ps}")
    return list(ps)


def _merge(node, a: Dimension, b: Dimension, what: str) -> Dimension:
    if not a.compatible(b):
        raise ShapeInferenceError(f"{where(node)}: {what}: expected {a}, got {b}")
    return a.merge(b)


def _check_even(node, d: Dimension, what: str) -> None:
    if d.is_static and d.get_length() % 2:
        raise ShapeInferenceError(f"{where(node)}: the image {what} must be even, got {d.get_length()}")


def _check_types(node) -> Type:
    t = node.input_type(0)
    for i in range(1, node.get_input_size()):
        u = node.input_type(i)
        m = t.merge(u)
        if m is None:
            raise ShapeInferenceError(
                f"{where(node)}: all planes must have the same element type, input 0 is {t} and input {i} is {u}")
        t = m
    if t.is_static and not (t == Type.u8 or t.is_real):
        raise ShapeInferenceError(f"{where(node)}: the input element type must be u8 or floating, got {t}")
    return t


def _half(d: Dimension) -> Dimension:
    return Dimension(d.get_length() // 2) if d.is_static else Dimension()


def _twice(d: Dimension) -> Dimension:
    return Dimension(d.get_length() * 2) if d.is_static else Dimension()


def _infer_yuv(node, chroma: tuple[tuple[str, int], ...]):
    """Output ``[(type, [N, H, W, 3])]`` from one single plane or Y plus the ``chroma`` planes."""
    t = _check_types(node)
    n_in = node.get_input_size()
    if n_in == 1:
        dims = _dims4(node, 0, "single", 1)
        if dims is None:
            return [(t, PartialShape([Dimension(), Dimension(), Dimension(), 3]))]
        n, hh, w, _ = dims
        h = Dimension()
        if hh.is_static:
            if hh.get_length() % 3:
                raise ShapeInferenceError(
                    f"{where(node)}: the single plane height must be a multiple of 3 (H*3/2), got {hh.get_length()}")
            h = Dimension(hh.get_length() * 2 // 3)
        _check_even(node, h, "height")
        _check_even(node, w, "width")
        return [(t, PartialShape([n, h, w, 3]))]
    if n_in != 1 + len(chroma):
        raise ShapeInferenceError(f"{where(node)}: expected 1 or {1 + len(chroma)} inputs, got {n_in}")
    n, h, w = Dimension(), Dimension(), Dimension()
    y = _dims4(node, 0, "Y", 1)
    if y is not None:
        n, h, w = y[0], y[1], y[2]
        _check_even(node, h, "height")
        _check_even(node, w, "width")
    for i, (what, ch) in enumerate(chroma, start=1):
        p = _dims4(node, i, what, ch)
        if p is None:
            continue
        n = _merge(node, n, p[0], f"the batch of the {what} plane")
        hc = _merge(node, _half(h), p[1], f"the height of the {what} plane (Y height / 2)")
        wc = _merge(node, _half(w), p[2], f"the width of the {what} plane (Y width / 2)")
        h = _merge(node, h, _twice(hc), f"the Y height (twice the {what} plane's)")
        w = _merge(node, w, _twice(wc), f"the Y width (twice the {what} plane's)")
    return [(t, PartialShape([n, h, w, 3]))]


# --- compute ------------------------------------------------------------------------------------


def _upsample(xp, c, n: int, h: int, w: int):
    """A ``[N, H/2, W/2]`` chroma plane repeated over 2x2 blocks: ``[N, H, W]``."""
    b = xp.broadcast_to(xp.reshape(c, (n, h // 2, 1, w // 2, 1)), (n, h // 2, 2, w // 2, 2))
    return xp.reshape(b, (n, h, w))


#: OpenVINO's f32 coefficients: (luma, V->R, U->G, V->G, U->B)
_K_Y, _K_VR, _K_UG, _K_VG, _K_UB = 1.164, 1.596, 0.391, 0.813, 2.018


def _u8_tables() -> np.ndarray:
    """Every f32 product OpenVINO forms for a u8 sample: rows Y*1.164, V*1.596, U*0.391, V*0.813,
    U*2.018 (after removing the offsets), indexed by the byte."""
    b = np.arange(256, dtype=np.float32)
    c, d = b - np.float32(16), b - np.float32(128)
    return np.stack([np.float32(_K_Y) * c, np.float32(_K_VR) * d, np.float32(_K_UG) * d, np.float32(_K_VG) * d,
                     np.float32(_K_UB) * d])


_U8_TABLES = _u8_tables()


def _lookup(xp, table, idx):
    return xp.reshape(xp.take(table, xp.reshape(xp.astype(idx, xp.int32), (-1,)), axis=0), idx.shape)


def _to_rgb(xp, y, u, v, bgr: bool):
    """``y`` [N, H, W]; ``u``, ``v`` [N, H/2, W/2] of the input dtype -> [N, H, W, 3]."""
    dt = y.dtype
    n, h, w = (int(s) for s in y.shape)
    if dt == xp.uint8:
        # u8: the products come from exact f32 tables, so only additions are left to the backend (no
        # fused multiply-add can move a value across a rounding tie)
        t = [xp.asarray(row) for row in _U8_TABLES]
        yc = _lookup(xp, t[0], y)
        vr, ug, vg, ub = (_upsample(xp, _lookup(xp, t[k], p), n, h, w) for k, p in ((1, v), (2, u), (3, v), (4, u)))
        r, g, b = yc + vr, yc - ug - vg, yc + ub
    else:
        c = y - 16.0
        d = _upsample(xp, u - 128.0, n, h, w)
        e = _upsample(xp, v - 128.0, n, h, w)
        r = _K_Y * c + _K_VR * e
        g = _K_Y * c - _K_UG * d - _K_VG * e
        b = _K_Y * c + _K_UB * d
    out = xp.stack([b, g, r] if bgr else [r, g, b], axis=-1)
    if dt == xp.uint8:
        return xp.astype(xp.clip(xp.round(out), 0.0, 255.0), xp.uint8)
    return xp.clip(out, 0.0, 255.0)


def _split_single(xp, x):
    """A single plane ``[N, H*3/2, W, 1]`` -> (Y ``[N, H, W]``, the chroma samples ``[N, H*W/2]``)."""
    n, hh, w = int(x.shape[0]), int(x.shape[1]), int(x.shape[2])
    h = hh * 2 // 3
    return x[:, :h, :, 0], xp.reshape(x[:, h:, :, 0], (n, h * w // 2)), (n, h, w)


def nv12_compute(xp, x, uv=None, bgr: bool = False):
    if uv is None:
        y, rest, (n, h, w) = _split_single(xp, x)
        uv = xp.reshape(rest, (n, h // 2, w // 2, 2))
    else:
        y = x[..., 0]
    return _to_rgb(xp, y, uv[..., 0], uv[..., 1], bgr)


def i420_compute(xp, x, u=None, v=None, bgr: bool = False):
    if u is None:
        y, rest, (n, h, w) = _split_single(xp, x)
        k = (h // 2) * (w // 2)
        u = xp.reshape(rest[:, :k], (n, h // 2, w // 2))
        v = xp.reshape(rest[:, k:], (n, h // 2, w // 2))
        return _to_rgb(xp, y, u, v, bgr)
    return _to_rgb(xp, x[..., 0], u[..., 0], v[..., 0], bgr)


# --- ops ----------------------------------------------------------------------------------------


class _NV12Base(OpDef):
    n_inputs = (1, 2)

    @classmethod
    def infer(cls, node):
        return _infer_yuv(node, (("UV", 2),))


class _I420Base(OpDef):
    n_inputs = (1, 3)

    @classmethod
    def infer(cls, node):
        return _infer_yuv(node, (("U", 1), ("V", 1)))


@register
class NV12toRGB(_NV12Base):
    type_name, version, opset = "NV12toRGB", 8, "opset8"

    @staticmethod
    def compute(xp, x, uv=None):
        return nv12_compute(xp, x, uv, bgr=False)


@register
class NV12toBGR(_NV12Base):
    type_name, version, opset = "NV12toBGR", 8, "opset8"

    @staticmethod
    def compute(xp, x, uv=None):
        return nv12_compute(xp, x, uv, bgr=True)


@register
class I420toRGB(_I420Base):
    type_name, version, opset = "I420toRGB", 8, "opset8"

    @staticmethod
    def compute(xp, x, u=None, v=None):
        return i420_compute(xp, x, u, v, bgr=False)


@register
class I420toBGR(_I420Base):
    type_name, version, opset = "I420toBGR", 8, "opset8"

    @staticmethod
    def compute(xp, x, u=None, v=None):
        return i420_compute(xp, x, u, v, bgr=True)


# --- factories ----------------------------------------------------------------------------------


def _planes(*args):
    return [a for a in args if a is not None]


@factory
def nv12_to_rgb(arg, arg_uv=None, name: str | None = None):
    return make("NV12toRGB", _planes(arg, arg_uv), {}, name)


@factory
def nv12_to_bgr(arg, arg_uv=None, name: str | None = None):
    return make("NV12toBGR", _planes(arg, arg_uv), {}, name)


@factory
def i420_to_rgb(arg, arg_u=None, arg_v=None, name: str | None = None):
    return make("I420toRGB", _planes(arg, arg_u, arg_v), {}, name)


@factory
def i420_to_bgr(arg, arg_u=None, arg_v=None, name: str | None = None):
    return make("I420toBGR", _planes(arg, arg_u, arg_v), {}, name)
