"""Generation ops: Eye, RandomUniform, Multinomial, and arrayrt's BitCast extension.

RandomUniform follows OpenVINO's ``tensorflow`` alignment bit for bit: Philox-4x32-10 keyed by
``global_seed`` with counter (n = block index, op_seed), its uint32 words turned into floats by
filling the mantissa (f32: 23 bits, f16: 10, bf16: 7, f64: 52 bits from two words) and into
integers by a modulo. Each call starts from the seeds: OpenVINO's plugins advance the generator
state from one inference to the next, arrayrt gives the same numbers every time. With both seeds 0,
OpenVINO seeds from the clock; arrayrt draws fresh seeds on every call.
"""
from __future__ import annotations

import math
import random
from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import dtype_of, to_numpy
from arrayrt.ir.ops.base import EXTENSION_OPSET, Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import OpAttributeError, ShapeInferenceError, UnsupportedOpError, where

# --- shared input checks ----------------------------------------------------------------------


def _check_int(node: Any, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and t not in (Type.i32, Type.i64):
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be i32 or i64, got {t}")


def _check_one_element(node: Any, i: int, what: str) -> None:
    s = node.input_shape(i)
    if s.rank_is_static and (len(s) > 1 or (len(s) == 1 and s[0].is_static and s[0].get_length() != 1)):
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be a scalar or hold one "
                                  f"element, got shape {s}")


def _const_scalar(node: Any, i: int) -> int | None:
    v = node.input_const(i)
    return None if v is None else int(v.reshape(-1)[0])


def _scalar(x: Any) -> int:
    return int(to_numpy(x).reshape(-1)[0])


def _shape_values(x: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in to_numpy(x).reshape(-1))


# --- Eye --------------------------------------------------------------------------------------


def _eye(xp: Any, rows: int, cols: int, k: int, batch: tuple[int, ...], dt: Any) -> Any:
    offset = xp.arange(cols, dtype=xp.int64)[None, :] - xp.arange(rows, dtype=xp.int64)[:, None]
    eye = xp.astype(offset == k, dt)
    return xp.broadcast_to(eye, batch + (rows, cols)) if batch else eye


@register
class Eye(OpDef):
    """Ones on the diagonal ``diagonal_index`` (positive: above the main one) of a
    ``num_rows`` x ``num_columns`` matrix, repeated over ``batch_shape``."""

    type_name, version, opset = "Eye", 9, "opset9"
    attrs = (Attr("output_type", "type"),)
    n_inputs = (3, 4)

    @classmethod
    def check_attrs(cls, attrs, node):
        t = attrs["output_type"]
        if not t.is_static or t is Type.string or t is Type.u1:
            raise OpAttributeError(f"{where(node)}: attribute 'output_type' must be a numeric or boolean "
                                   f"type, got {t}")

    @classmethod
    def infer(cls, node):
        for i, what in enumerate(("num_rows", "num_columns", "diagonal_index")):
            _check_int(node, i, what)
            _check_one_element(node, i, what)
        dims = []
        for i, what in enumerate(("num_rows", "num_columns")):
            v = _const_scalar(node, i)
            if v is not None and v < 0:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be >= 0, got {v}")
            dims.append(Dimension() if v is None else Dimension(v))
        batch: list[Dimension] | None = []
        if node.get_input_size() == 4:
            _check_int(node, 3, "batch_shape")
            s = node.input_shape(3)
            if s.rank_is_static and len(s) != 1:
                raise ShapeInferenceError(f"{where(node)}: input 3 (batch_shape) must be 1-D, got shape {s}")
            v = node.input_const(3)
            if v is not None:
                batch = [Dimension(int(d)) for d in v.reshape(-1)]
            elif s.rank_is_static and s[0].is_static:
                batch = [Dimension()] * s[0].get_length()
            else:
                batch = None
        if batch is None:
            return [(node.attrs["output_type"], PartialShape.dynamic())]
        return [(node.attrs["output_type"], PartialShape(batch + dims))]

    @staticmethod
    def compute(xp, rows, cols, k, *batch, output_type):
        shape = _shape_values(batch[0]) if batch else ()
        return _eye(xp, _scalar(rows), _scalar(cols), _scalar(k), shape, dtype_of(xp, output_type))


# --- Philox (OpenVINO's tensorflow alignment) ------------------------------------------------------

_MASK32 = 0xFFFFFFFF
_MUL_N, _MUL_COUNTER = 0xD2511F53, 0xCD9E8D57
_KEY_STEP_LO, _KEY_STEP_HI = 0x9E3779B9, 0xBB67AE85


def philox_words(xp: Any, blocks: int, global_seed: int, op_seed: int) -> Any:
    """``4 * blocks`` uint32 values (as uint64) of Philox-4x32-10: block ``i`` encrypts the counter
    (n = i, op_seed) under key ``global_seed``."""
    u64 = xp.uint64
    n = xp.arange(blocks, dtype=u64)
    n_lo, n_hi = n & _MASK32, n >> 32
    c_lo = xp.full((blocks,), op_seed & _MASK32, dtype=u64)
    c_hi = xp.full((blocks,), (op_seed >> 32) & _MASK32, dtype=u64)
    k_lo, k_hi = global_seed & _MASK32, (global_seed >> 32) & _MASK32
    for r in range(10):
        if r:
            k_lo, k_hi = (k_lo + _KEY_STEP_LO) & _MASK32, (k_hi + _KEY_STEP_HI) & _MASK32
        p0, p1 = n_lo * _MUL_N, c_lo * _MUL_COUNTER
        n_lo, n_hi, c_lo, c_hi = (p1 >> 32) ^ n_hi ^ k_lo, p1 & _MASK32, (p0 >> 32) ^ c_hi ^ k_hi, p0 & _MASK32
    return xp.reshape(xp.stack([n_lo, n_hi, c_lo, c_hi], axis=1), (-1,))


def uniform_values(xp: Any, count: int, t: Type, low: Any, high: Any, global_seed: int, op_seed: int) -> Any:
    """``count`` values of type ``t`` uniform in [low, high), as OpenVINO's RandomUniform makes them."""
    wide = t in (Type.f64, Type.i64)
    per_block = 2 if wide else 4
    words = philox_words(xp, -(-count // per_block), global_seed, op_seed)
    if wide:
        pairs = xp.reshape(words, (-1, 2))
        first, second = pairs[:, 0], pairs[:, 1]
    dt = dtype_of(xp, t)
    if t is Type.f64:
        unit = xp.astype(((first & 0xFFFFF) << 32) | second, xp.float64) / 2.0**52
        out = unit * (float(high) - float(low)) + float(low)
    elif t.is_real:
        bits = {"f32": 23, "f16": 10, "bf16": 7}.get(t.name)
        if bits is None:
            raise UnsupportedOpError(f"RandomUniform does not generate {t}")
        unit = xp.astype(words & ((1 << bits) - 1), xp.float32) / float(2**bits)
        lo, hi = float(low), float(high)
        out = xp.astype(unit * xp.asarray(hi - lo, dtype=xp.float32) + xp.asarray(lo, dtype=xp.float32), dt)
    elif t is Type.i32:
        lo, span = int(low), int(high) - int(low)
        out = xp.astype(xp.astype(words % span, xp.int64) + lo, dt)
    elif t is Type.i64:
        lo, span = int(low), int(high) - int(low)
        out = xp.astype(((second << 32) | first) % span, xp.int64) + lo
    else:
        raise UnsupportedOpError(f"RandomUniform does not generate {t}")
    return out[:count]


def _seeds(global_seed: int, op_seed: int) -> tuple[int, int]:
    if global_seed == 0 and op_seed == 0:
        return random.getrandbits(63), random.getrandbits(63)
    return global_seed, op_seed


_RANDOM_TYPES = (Type.f32, Type.f16, Type.bf16, Type.f64, Type.i32, Type.i64)


@register
class RandomUniform(OpDef):
    """Uniform values in [min, max) of shape ``output_shape`` (see the module docstring)."""

    type_name, version, opset = "RandomUniform", 8, "opset8"
    attrs = (Attr("output_type", "type"), Attr("op_seed", "int", 0), Attr("global_seed", "int", 0),
             Attr("alignment", "str", "tensorflow", choices=("tensorflow", "pytorch")))
    n_inputs = (3, 3)
    foldable = False

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["output_type"] not in _RANDOM_TYPES:
            raise OpAttributeError(f"{where(node)}: attribute 'output_type' must be one of "
                                   f"{[t.name for t in _RANDOM_TYPES]}, got {attrs['output_type']}")
        for name in ("global_seed", "op_seed"):
            if attrs[name] < 0:
                raise OpAttributeError(f"{where(node)}: attribute '{name}' must be >= 0, got {attrs[name]}")

    @classmethod
    def infer(cls, node):
        _check_int(node, 0, "output_shape")
        t = node.attrs["output_type"]
        for i, what in ((1, "min_val"), (2, "max_val")):
            _check_one_element(node, i, what)
            ti = node.input_type(i)
            if ti.is_static and ti is not t:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have the output type "
                                          f"{t}, got {ti}")
        lo, hi = node.input_const(1), node.input_const(2)
        if lo is not None and hi is not None and not float(lo.reshape(-1)[0]) < float(hi.reshape(-1)[0]):
            raise ShapeInferenceError(f"{where(node)}: min_val ({lo.reshape(-1)[0]}) must be less than "
                                      f"max_val ({hi.reshape(-1)[0]})")
        shape = node.input_const(0)
        if shape is not None:
            return [(t, PartialShape([int(d) for d in shape.reshape(-1)]))]
        s = node.input_shape(0)
        rank = s[0].get_length() if s.rank_is_static and len(s) == 1 and s[0].is_static else None
        return [(t, PartialShape.dynamic(rank))]

    @staticmethod
    def compute(xp, shape, low, high, output_type, global_seed, op_seed, alignment):
        if alignment != "tensorflow":
            raise UnsupportedOpError("RandomUniform: only the 'tensorflow' alignment is implemented")
        dims = _shape_values(shape)
        g, o = _seeds(global_seed, op_seed)
        lo, hi = to_numpy(low).reshape(-1)[0], to_numpy(high).reshape(-1)[0]
        values = uniform_values(xp, math.prod(dims), output_type, lo, hi, g, o)
        return xp.reshape(values, dims)


# --- Multinomial ------------------------------------------------------------------------------


def _multinomial(xp: Any, probs: Any, n: int, log_probs: bool, replace: bool, g: int, o: int, dt: Any) -> Any:
    """Class indices drawn per row: the first class whose normalised cumulative probability reaches
    a uniform draw (f64 RandomUniform with the op's seeds)."""
    p = xp.astype(probs, xp.float64)
    if log_probs:
        p = xp.exp(p - xp.max(p, axis=1, keepdims=True))
    batch, classes = p.shape
    u = xp.reshape(uniform_values(xp, batch * n, Type.f64, 0.0, 1.0, g, o), (batch, n))
    if replace:
        out = _draw(xp, p, u)
    else:
        picks = []
        for j in range(n):
            pick = _draw(xp, p, u[:, j:j + 1])
            picks.append(pick)
            p = xp.where(xp.arange(classes)[None, :] == pick, 0.0, p)
        out = xp.concat(picks, axis=1)
    return xp.astype(out, dt)


def _draw(xp: Any, p: Any, u: Any) -> Any:
    cdf = xp.cumulative_sum(p, axis=1)
    cdf = cdf / cdf[:, -1:]
    below = xp.astype(cdf[:, None, :] < u[:, :, None], xp.int64)
    return xp.minimum(xp.sum(below, axis=2), p.shape[1] - 1)


@register
class Multinomial(OpDef):
    """``num_samples`` class indices per row of ``probs`` ([batch, classes]), drawn with the
    probabilities (or, with ``log_probs``, exp of the values), with or without replacement. The
    draws differ from OpenVINO's (which does not document how it consumes its random numbers)."""

    type_name, version, opset = "Multinomial", 13, "opset13"
    attrs = (Attr("convert_type", "type"), Attr("with_replacement", "bool"), Attr("log_probs", "bool"),
             Attr("global_seed", "int", 0), Attr("op_seed", "int", 0))
    n_inputs = (2, 2)
    foldable = False

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["convert_type"] not in (Type.i32, Type.i64):
            raise OpAttributeError(f"{where(node)}: attribute 'convert_type' must be i32 or i64, got "
                                   f"{attrs['convert_type']}")

    @classmethod
    def infer(cls, node):
        t = node.input_type(0)
        if t.is_static and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: input 0 (probs) must be a floating type, got {t}")
        _check_int(node, 1, "num_samples")
        _check_one_element(node, 1, "num_samples")
        s = node.input_shape(0)
        if s.rank_is_static and len(s) != 2:
            raise ShapeInferenceError(f"{where(node)}: input 0 (probs) must be 2-D, got shape {s}")
        n = _const_scalar(node, 1)
        samples = Dimension() if n is None else Dimension(n)
        if not node.attrs["with_replacement"] and n is not None and s.rank_is_static and s[-1].is_static \
                and n > s[-1].get_length():
            raise ShapeInferenceError(f"{where(node)}: {n} samples without replacement from "
                                      f"{s[-1].get_length()} classes")
        out_t = node.attrs["convert_type"]
        if not s.rank_is_static:
            return [(out_t, PartialShape.dynamic())]
        return [(out_t, PartialShape([s[0], samples]))]

    @staticmethod
    def compute(xp, probs, num_samples, convert_type, with_replacement, log_probs, global_seed, op_seed):
        g, o = _seeds(global_seed, op_seed)
        return _multinomial(xp, probs, _scalar(num_samples), log_probs, with_replacement, g, o,
                            dtype_of(xp, convert_type))


# --- BitCast (arrayrt extension) --------------------------------------------------------------------


@register
class BitCast(OpDef):
    """The input's bytes read as ``destination_type`` (same bit width, same shape; ONNX BitCast).
    The array-API standard cannot reinterpret memory, so this runs on numpy only."""

    type_name, version, opset = "BitCast", 1, EXTENSION_OPSET
    attrs = (Attr("destination_type", "type"),)

    @classmethod
    def check_attrs(cls, attrs, node):
        t = attrs["destination_type"]
        if not t.is_static or t in (Type.string, Type.u1):
            raise OpAttributeError(f"{where(node)}: attribute 'destination_type' cannot be {t}")

    @classmethod
    def infer(cls, node):
        src, dst = node.input_type(0), node.attrs["destination_type"]
        if src.is_static and (src is Type.string or src.bitwidth != dst.bitwidth):
            raise ShapeInferenceError(f"{where(node)}: input type {src} and destination_type {dst} differ "
                                      f"in bit width")
        return [(dst, node.input_shape(0))]

    @staticmethod
    def compute(xp, x, destination_type):
        return xp.asarray(to_numpy(x).view(destination_type.to_dtype()))


# --- factories --------------------------------------------------------------------------------


@factory
def eye(num_rows: Any, num_columns: Any, diagonal_index: Any, output_type: str, batch_shape: Any = None,
        name: str | None = None) -> Node:
    inputs = [num_rows, num_columns, diagonal_index] + ([] if batch_shape is None else [batch_shape])
    return make("Eye", inputs, {"output_type": Type(output_type)}, name)


@factory
def random_uniform(output_shape: Any, min_val: Any, max_val: Any, output_type: str, global_seed: int = 0,
                   op_seed: int = 0, alignment: str = "tensorflow", name: str | None = None) -> Node:
    attrs = {"output_type": Type(output_type), "global_seed": global_seed, "op_seed": op_seed,
             "alignment": alignment}
    return make("RandomUniform", [output_shape, min_val, max_val], attrs, name)


@factory
def multinomial(probs: Any, num_samples: Any, convert_type: str, with_replacement: bool, log_probs: bool,
                global_seed: int = 0, op_seed: int = 0, name: str | None = None) -> Node:
    attrs = {"convert_type": Type(convert_type), "with_replacement": with_replacement, "log_probs": log_probs,
             "global_seed": global_seed, "op_seed": op_seed}
    return make("Multinomial", [probs, num_samples], attrs, name)


@factory
def bit_cast(data: Any, destination_type: Any, name: str | None = None) -> Node:
    """arrayrt extension (ONNX BitCast): OpenVINO has no such op."""
    return make("BitCast", [data], {"destination_type": Type(destination_type)}, name)
