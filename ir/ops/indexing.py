"""Indexing and generation ops: Gather (v1, v7, v8), GatherElements, GatherND (v5, v8), ScatterUpdate,
ScatterElementsUpdate (v3, v12), ScatterNDUpdate (v3, v15), OneHot (v1, v16), NonZero, TopK (v1, v3, v11),
CumSum, Range (v1, v4), Bucketize, SearchSorted.

The array-API standard has no scatter. Every scatter op here reduces to :func:`_scatter_rows`, which
applies row updates with a stable sort of the target rows and ``searchsorted`` over the sorted
targets: each round applies, for every target row, its next update in the original order, so
reductions accumulate in the order OpenVINO's reference does and "none" keeps the last write.
"""
from __future__ import annotations

import math

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import dtype_of, is_numpy
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import alias, factory, make
from arrayrt.ir.shape import INF, Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError, OpAttributeError, ShapeInferenceError, where

INDEX_TYPES = (Type.i32, Type.i64)


# --- shared helpers ---------------------------------------------------------------------------
def _as_int(xp, a) -> int:
    """A scalar or one-element array as a Python int (a host read on device libraries)."""
    return int(xp.reshape(a, (-1,))[0])


def _const_int(node, i: int) -> int | None:
    """Input ``i`` as an int when it is known before inference and holds one element."""
    v = node.input_const(i)
    if v is None or v.size != 1:
        return None
    return int(v.reshape(-1)[0])


def _check_integral(node, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_integral_number:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have an integer type, got {t}")


def _check_scalar(node, i: int, what: str, allow_1d: bool = True) -> None:
    """Input ``i`` must be a scalar (or, where OpenVINO accepts it, a 1-element 1-D tensor)."""
    s = node.input_shape(i)
    if not s.rank_is_static:
        return
    ok = len(s) == 0 or (allow_1d and len(s) == 1 and s[0].compatible(1))
    if not ok:
        want = "a scalar or a 1-element 1-D tensor" if allow_1d else "a scalar"
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be {want}, got shape {s}")


def _same_type(node, i: int, j: int, what: str) -> Type:
    a, b = node.input_type(i), node.input_type(j)
    if a.is_static and b.is_static and a is not b:
        raise ShapeInferenceError(f"{where(node)}: {what}: input {j} has element type {b}, "
                                  f"expected {a} (the type of input {i})")
    return a.merge(b)


def _norm_axis(node, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeInferenceError(f"{where(node)}: {what} {axis} is out of range [{-rank}, {rank - 1}] "
                                  f"for rank {rank}")
    return axis + rank if axis < 0 else axis


def _merge_dims(node, a: Dimension, b: Dimension, what: str) -> Dimension:
    try:
        return a.merge(b)
    except ArrayrtError:
        raise ShapeInferenceError(f"{where(node)}: {what}: dimensions {a} and {b} differ") from None


def _check_type_attr(attrs, name: str, node, allowed=INDEX_TYPES) -> None:
    if attrs[name] not in allowed:
        raise OpAttributeError(f"{where(node)}: attribute '{name}' must be one of "
                               f"{[t.name for t in allowed]}, got {attrs[name]}")


def _zero(xp, dtype):
    return xp.zeros((), dtype=dtype)


def _axis_slice(ndim: int, axis: int, sl: slice) -> tuple:
    key = [slice(None)] * ndim
    key[axis] = sl
    return tuple(key)


def _require(xp, ok, message: str) -> None:
    """Raise when any element of the boolean array ``ok`` is false (one host read)."""
    if not bool(xp.all(ok)):
        raise IndexError(message)


# --- Gather -----------------------------------------------------------------------------------
def _gather(xp, data, indices, axis: int, batch_dims: int):
    """Gather with batch dimensions; negative indices count from the end, indices still out of
    range give zeros (OpenVINO's reference; the Gather-8 spec)."""
    r, q = data.ndim, indices.ndim
    axis = axis + r if axis < 0 else axis
    b = batch_dims + q if batch_dims < 0 else batch_dims
    n = data.shape[axis]
    idx = xp.astype(indices, xp.int64)
    idx = xp.where(idx < 0, idx + n, idx)
    valid = (idx >= 0) & (idx < n)
    safe = xp.where(valid, idx, xp.zeros_like(idx))
    inner = tuple(data.shape[axis + 1:])
    if b == 0:
        out = xp.take(data, xp.reshape(safe, (-1,)), axis=axis)
    else:
        batch, outer = math.prod(data.shape[:b]), math.prod(data.shape[b:axis])
        count = math.prod(indices.shape[b:])
        rows = (xp.reshape(xp.arange(batch * outer, dtype=xp.int64), (batch, outer, 1)) * n
                + xp.reshape(safe, (batch, 1, count)))
        flat = xp.reshape(data, (batch * outer * n, math.prod(inner)))
        out = xp.take(flat, xp.reshape(rows, (-1,)), axis=0)
    out = xp.reshape(out, tuple(data.shape[:axis]) + tuple(indices.shape[b:]) + inner)
    mask = xp.reshape(valid, tuple(data.shape[:b]) + (1,) * (axis - b) + tuple(indices.shape[b:])
                      + (1,) * len(inner))
    return xp.where(mask, out, _zero(xp, out.dtype))


class _GatherBase(OpDef):
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        _check_integral(node, 1, "indices")
        _check_integral(node, 2, "axis")
        _check_scalar(node, 2, "axis")
        t = node.input_type(0)
        data, idx = node.input_shape(0), node.input_shape(1)
        if not (data.rank_is_static and idx.rank_is_static):
            return [(t, PartialShape.dynamic())]
        r, q = len(data), len(idx)
        if r == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 1")
        b = node.attrs.get("batch_dims", 0)
        bn = b + q if b < 0 else b
        if not 0 <= bn <= min(r, q):
            raise ShapeInferenceError(f"{where(node)}: attribute 'batch_dims' {b} is out of range "
                                      f"[{-min(r, q)}, {min(r, q)}] for data rank {r}, indices rank {q}")
        axis = _const_int(node, 2)
        if axis is None:
            return [(t, PartialShape.dynamic(r + q - 1 - bn))]
        a = _norm_axis(node, axis, r)
        if bn > a:
            raise ShapeInferenceError(f"{where(node)}: attribute 'batch_dims' {b} must not exceed axis {axis}")
        batch = [_merge_dims(node, d, i, "batch dimensions of data and indices")
                 for d, i in zip(data[:bn], idx[:bn])]
        return [(t, PartialShape(batch + list(data[bn:a]) + list(idx[bn:]) + list(data[a + 1:])))]

    @staticmethod
    def compute(xp, data, indices, axis, batch_dims=0):
        return _gather(xp, data, indices, _as_int(xp, axis), batch_dims)

    @classmethod
    def kernel(cls, xp, node):
        axis = _const_int(node, 2)
        if axis is None:
            return super().kernel(xp, node)
        b = node.attrs.get("batch_dims", 0)
        data, idx = node.input_shape(0), node.input_shape(1)
        if is_numpy(xp) and data.rank_is_static and idx.rank_is_static and b in (0, -len(idx)):
            return _numpy_take(xp, axis + len(data) if axis < 0 else axis)
        return lambda data, indices, _axis: _gather(xp, data, indices, axis, b)


def _numpy_take(np, axis: int):
    """numpy's N-D ``take`` (embedding lookups); the standard path handles indices out of range."""
    take = np.take

    def gather(data, indices, _axis):
        try:
            return take(data, indices, axis=axis)
        except IndexError:
            return _gather(np, data, indices, axis, 0)

    return gather


@register
class Gather_1(_GatherBase):
    type_name, version, opset = "Gather", 1, "opset1"


@register
class Gather_7(_GatherBase):
    type_name, version, opset = "Gather", 7, "opset7"
    attrs = (Attr("batch_dims", "int", 0),)


@register
class Gather(_GatherBase):
    type_name, version, opset = "Gather", 8, "opset8"
    attrs = (Attr("batch_dims", "int", 0),)


@register
class GatherElements(OpDef):
    type_name, version, opset = "GatherElements", 6, "opset6"
    attrs = (Attr("axis", "int"),)
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        _check_integral(node, 1, "indices")
        data, idx = node.input_shape(0), node.input_shape(1)
        t = node.input_type(0)
        axis = node.attrs["axis"]
        if not data.rank_is_static and not idx.rank_is_static:
            return [(t, PartialShape.dynamic())]
        r = len(data) if data.rank_is_static else len(idx)
        if data.rank_is_static and idx.rank_is_static and len(data) != len(idx):
            raise ShapeInferenceError(f"{where(node)}: indices rank {len(idx)} must equal data rank {len(data)}")
        if r == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 1")
        a = _norm_axis(node, axis, r)
        if not data.rank_is_static:
            return [(t, idx)]
        if not idx.rank_is_static:
            return [(t, PartialShape([Dimension() if i == a else d for i, d in enumerate(data)]))]
        dims = [i if k == a else _merge_dims(node, d, i, f"data and indices along dimension {k}")
                for k, (d, i) in enumerate(zip(data, idx))]
        return [(t, PartialShape(dims))]

    @staticmethod
    def compute(xp, data, indices, axis):
        axis = axis + data.ndim if axis < 0 else axis
        n = data.shape[axis]
        idx = xp.where(indices < 0, indices + n, indices)
        return xp.take_along_axis(data, idx, axis=axis)


# --- GatherND ---------------------------------------------------------------------------------
def _gather_nd(xp, data, indices, batch_dims: int, merge_batch: bool):
    """Slices of ``data`` at the index tuples in the last dimension of ``indices``; negative
    indices count from the end, tuples out of range give zeros. ``merge_batch`` (GatherND-5)
    flattens the batch dimensions of the output into one."""
    b = batch_dims
    k = indices.shape[-1]
    bshape, kshape, inner = data.shape[:b], data.shape[b:b + k], tuple(data.shape[b + k:])
    nb, nl, nc = math.prod(bshape), math.prod(kshape), math.prod(inner)
    mid = tuple(indices.shape[b:-1])
    nm = math.prod(mid)
    idx = xp.reshape(xp.astype(indices, xp.int64), (nb, nm, k))
    lin = xp.zeros((nb, nm), dtype=xp.int64)
    valid = xp.ones((nb, nm), dtype=xp.bool)
    for j, s in enumerate(kshape):
        c = idx[:, :, j]
        c = xp.where(c < 0, c + s, c)
        valid = valid & (c >= 0) & (c < s)
        lin = lin * s + c
    rows = xp.reshape(xp.arange(nb, dtype=xp.int64) * nl, (nb, 1)) + xp.where(valid, lin, xp.zeros_like(lin))
    out = xp.take(xp.reshape(data, (nb * nl, nc)), xp.reshape(rows, (-1,)), axis=0)
    out = xp.where(xp.reshape(valid, (nb * nm, 1)), out, _zero(xp, out.dtype))
    lead = (nb,) if merge_batch and b > 0 else tuple(bshape)
    return xp.reshape(out, lead + mid + inner)


class _GatherNDBase(OpDef):
    attrs = (Attr("batch_dims", "int", 0),)
    n_inputs = (2, 2)
    merge_batch = False

    @classmethod
    def check_attrs(cls, attrs, node):
        if attrs["batch_dims"] < 0:
            raise OpAttributeError(f"{where(node)}: attribute 'batch_dims' must be >= 0, got {attrs['batch_dims']}")

    @classmethod
    def infer(cls, node):
        _check_integral(node, 1, "indices")
        t = node.input_type(0)
        data, idx = node.input_shape(0), node.input_shape(1)
        b = node.attrs["batch_dims"]
        if not (data.rank_is_static and idx.rank_is_static):
            return [(t, PartialShape.dynamic())]
        r, q = len(data), len(idx)
        if r == 0 or q == 0:
            raise ShapeInferenceError(f"{where(node)}: data and indices must have rank >= 1, got {r} and {q}")
        if b >= min(r, q):
            raise ShapeInferenceError(f"{where(node)}: attribute 'batch_dims' {b} must be below "
                                      f"min(data rank, indices rank) = {min(r, q)}")
        if idx[-1].is_dynamic:
            return [(t, PartialShape.dynamic())]
        k = idx[-1].get_length()
        if b + k > r:
            raise ShapeInferenceError(f"{where(node)}: indices.shape[-1] + batch_dims = {b + k} exceeds "
                                      f"the data rank {r}")
        batch = [_merge_dims(node, d, i, "batch dimensions of data and indices")
                 for d, i in zip(data[:b], idx[:b])]
        if cls.merge_batch and b > 0:
            prod = Dimension(1)
            for d in batch:
                prod = prod * d
            batch = [prod]
        return [(t, PartialShape(batch + list(idx[b:-1]) + list(data[b + k:])))]

    @staticmethod
    def compute(xp, data, indices, batch_dims):
        return _gather_nd(xp, data, indices, batch_dims, False)


@register
class GatherND_5(_GatherNDBase):
    """GatherND-5: with batch_dims > 0 the output's batch dimensions are flattened into one."""

    type_name, version, opset = "GatherND", 5, "opset5"
    merge_batch = True

    @staticmethod
    def compute(xp, data, indices, batch_dims):
        return _gather_nd(xp, data, indices, batch_dims, True)


@register
class GatherND(_GatherNDBase):
    type_name, version, opset = "GatherND", 8, "opset8"


# --- scatter ----------------------------------------------------------------------------------
def _combine(xp, reduction: str, acc, upd):
    if acc.dtype == xp.bool:
        fn = {"sum": xp.logical_or, "sub": xp.logical_xor, "prod": xp.logical_and,
              "min": xp.logical_and, "max": xp.logical_or}.get(reduction)
        if fn is None:
            raise ValueError(f"reduction '{reduction}' is not defined for boolean data")
        return fn(acc, upd)
    fn = {"sum": xp.add, "mean": xp.add, "sub": xp.subtract, "prod": xp.multiply, "min": xp.minimum,
          "max": xp.maximum}[reduction]
    return fn(acc, upd)


def _scatter_rows(xp, data, targets, updates, reduction: str = "none", use_init_val: bool = True):
    """``data`` [L, C] with the rows of ``updates`` [N, C] applied at rows ``targets`` [N] (int64,
    in range), in the order of ``targets``: "none" keeps the last write; a reduction folds each
    target's updates in order into it (or, without ``use_init_val``, into its first update)."""
    if targets.shape[0] == 0:
        return data
    order = xp.argsort(targets, stable=True)
    ts = xp.take(targets, order)
    rows = xp.arange(data.shape[0], dtype=ts.dtype)
    stop = xp.searchsorted(ts, rows, side="right")
    ups = xp.take(updates, order, axis=0)
    if reduction == "none":
        last = xp.where(stop > 0, stop - 1, xp.zeros_like(stop))
        hit = xp.take(ts, last) == rows
        return xp.where(xp.reshape(hit, (-1, 1)), xp.take(ups, last, axis=0), data)
    start = xp.searchsorted(ts, rows, side="left")
    count = stop - start
    hit = count > 0
    acc = data
    for r in range(int(xp.max(count))):
        has = count > r
        upd = xp.take(ups, xp.where(has, start + r, xp.zeros_like(start)), axis=0)
        new = upd if r == 0 and not use_init_val else _combine(xp, reduction, acc, upd)
        acc = xp.where(xp.reshape(has, (-1, 1)), new, acc)
    if reduction == "mean":
        if acc.dtype == xp.bool:
            raise ValueError("reduction 'mean' is not defined for boolean data")
        div = xp.reshape(xp.where(hit, count + int(use_init_val), xp.ones_like(count)), (-1, 1))
        div = xp.astype(div, acc.dtype)
        # integer means round toward negative infinity (the spec; torch's scatter_reduce)
        acc = xp.floor_divide(acc, div) if xp.isdtype(acc.dtype, "integral") else acc / div
    return acc


def _scatter_update(xp, data, indices, updates, axis: int):
    axis = axis + data.ndim if axis < 0 else axis
    n = data.shape[axis]
    outer, inner = math.prod(data.shape[:axis]), math.prod(data.shape[axis + 1:])
    m = math.prod(indices.shape)
    idx = xp.reshape(xp.astype(indices, xp.int64), (1, m))
    _require(xp, (idx >= 0) & (idx < n), f"ScatterUpdate: an index is negative or not below {n}")
    targets = xp.reshape(xp.reshape(xp.arange(outer, dtype=xp.int64), (outer, 1)) * n + idx, (-1,))
    out = _scatter_rows(xp, xp.reshape(data, (outer * n, inner)), targets,
                        xp.reshape(updates, (outer * m, inner)))
    return xp.reshape(out, data.shape)


def _scatter_elements(xp, data, indices, updates, axis: int, reduction: str = "none",
                      use_init_val: bool = True):
    r = data.ndim
    axis = axis + r if axis < 0 else axis
    n = data.shape[axis]
    idx = xp.astype(indices, xp.int64)
    idx = xp.where(idx < 0, idx + n, idx)
    _require(xp, (idx >= 0) & (idx < n), f"ScatterElementsUpdate: an index is out of range [{-n}, {n - 1}]")
    strides = [math.prod(data.shape[d + 1:]) for d in range(r)]
    flat = idx * strides[axis]
    for d in range(r):
        if d != axis:
            coord = xp.arange(indices.shape[d], dtype=xp.int64) * strides[d]
            flat = flat + xp.reshape(coord, (1,) * d + (-1,) + (1,) * (r - d - 1))
    out = _scatter_rows(xp, xp.reshape(data, (-1, 1)), xp.reshape(flat, (-1,)),
                        xp.reshape(updates, (-1, 1)), reduction, use_init_val)
    return xp.reshape(out, data.shape)


def _scatter_nd(xp, data, indices, updates, reduction: str = "none"):
    k = indices.shape[-1]
    kshape = data.shape[:k]
    nl, nc = math.prod(kshape), math.prod(data.shape[k:])
    nn = math.prod(indices.shape[:-1])
    idx = xp.reshape(xp.astype(indices, xp.int64), (nn, k))
    lin = xp.zeros((nn,), dtype=xp.int64)
    valid = xp.ones((nn,), dtype=xp.bool)
    for j, s in enumerate(kshape):
        c = idx[:, j]
        c = xp.where(c < 0, c + s, c)
        valid = valid & (c >= 0) & (c < s)
        lin = lin * s + c
    _require(xp, valid, "ScatterNDUpdate: an index tuple points outside the data")
    out = _scatter_rows(xp, xp.reshape(data, (nl, nc)), lin, xp.reshape(updates, (nn, nc)), reduction)
    return xp.reshape(out, data.shape)


def _infer_data_like(node, updates_shape: PartialShape | None) -> list:
    """Scatter output = data; checks the updates' type and, when known, their expected shape."""
    t = _same_type(node, 0, 2, "updates must have the data type")
    got = node.input_shape(2)
    if updates_shape is not None and not got.compatible(updates_shape):
        raise ShapeInferenceError(f"{where(node)}: input 2 (updates) has shape {got}, expected {updates_shape}")
    return [(t, node.input_shape(0))]


def _bound_axis_kernel(cls, xp, node, fn, axis_input: int, **kw):
    """A kernel calling ``fn(xp, *arrays, axis, **kw)`` with the axis read once when constant."""
    axis = _const_int(node, axis_input)
    if axis is None:
        return super(cls, cls).kernel(xp, node)

    def run(*arrays):
        return fn(xp, *arrays[:axis_input], axis, **kw)

    return run


@register
class ScatterUpdate(OpDef):
    type_name, version, opset = "ScatterUpdate", 3, "opset3"
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        _check_integral(node, 1, "indices")
        _check_integral(node, 3, "axis")
        _check_scalar(node, 3, "axis")
        data, idx = node.input_shape(0), node.input_shape(1)
        axis = _const_int(node, 3)
        want = None
        if data.rank_is_static and idx.rank_is_static and axis is not None:
            a = _norm_axis(node, axis, len(data))
            want = PartialShape(list(data[:a]) + list(idx) + list(data[a + 1:]))
        return _infer_data_like(node, want)

    @staticmethod
    def compute(xp, data, indices, updates, axis):
        return _scatter_update(xp, data, indices, updates, _as_int(xp, axis))

    @classmethod
    def kernel(cls, xp, node):
        return _bound_axis_kernel(cls, xp, node, _scatter_update, 3)


def _infer_scatter_elements(node):
    _check_integral(node, 1, "indices")
    _check_integral(node, 3, "axis")
    _check_scalar(node, 3, "axis")
    data, idx, upd = node.input_shape(0), node.input_shape(1), node.input_shape(2)
    if idx.rank_is_static and upd.rank_is_static and not idx.compatible(upd):
        raise ShapeInferenceError(f"{where(node)}: input 2 (updates) has shape {upd}, expected the "
                                  f"indices shape {idx}")
    if data.rank_is_static and idx.rank_is_static:
        if len(data) != len(idx):
            raise ShapeInferenceError(f"{where(node)}: indices rank {len(idx)} must equal data rank {len(data)}")
        axis = _const_int(node, 3)
        a = None if axis is None else _norm_axis(node, axis, len(data))
        for d, (dd, di) in enumerate(zip(data, idx)):
            if d != a and dd.max != INF and di.min > dd.max:
                raise ShapeInferenceError(f"{where(node)}: indices dimension {d} ({di}) exceeds the data's ({dd})")
    return _infer_data_like(node, None)


@register
class ScatterElementsUpdate_3(OpDef):
    type_name, version, opset = "ScatterElementsUpdate", 3, "opset3"
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        return _infer_scatter_elements(node)

    @staticmethod
    def compute(xp, data, indices, updates, axis):
        return _scatter_elements(xp, data, indices, updates, _as_int(xp, axis))

    @classmethod
    def kernel(cls, xp, node):
        return _bound_axis_kernel(cls, xp, node, _scatter_elements, 3)


@register
class ScatterElementsUpdate(OpDef):
    type_name, version, opset = "ScatterElementsUpdate", 12, "opset12"
    attrs = (Attr("reduction", "str", "none", choices=("none", "sum", "prod", "min", "max", "mean")),
             Attr("use_init_val", "bool", True))
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        if node.attrs["reduction"] == "mean" and node.input_type(0) is Type.boolean:
            raise ShapeInferenceError(f"{where(node)}: attribute 'reduction' mean is not defined for boolean data")
        return _infer_scatter_elements(node)

    @staticmethod
    def compute(xp, data, indices, updates, axis, reduction, use_init_val):
        return _scatter_elements(xp, data, indices, updates, _as_int(xp, axis), reduction, use_init_val)

    @classmethod
    def kernel(cls, xp, node):
        return _bound_axis_kernel(cls, xp, node, _scatter_elements, 3, reduction=node.attrs["reduction"],
                                  use_init_val=node.attrs["use_init_val"])


class _ScatterNDBase(OpDef):
    n_inputs = (3, 3)

    @classmethod
    def infer(cls, node):
        _check_integral(node, 1, "indices")
        data, idx = node.input_shape(0), node.input_shape(1)
        want = None
        if data.rank_is_static and idx.rank_is_static:
            if len(idx) == 0:
                raise ShapeInferenceError(f"{where(node)}: input 1 (indices) must have rank >= 1")
            if idx[-1].is_static:
                k = idx[-1].get_length()
                if k > len(data):
                    raise ShapeInferenceError(f"{where(node)}: indices.shape[-1] = {k} exceeds the data "
                                              f"rank {len(data)}")
                want = PartialShape(list(idx[:-1]) + list(data[k:]))
        return _infer_data_like(node, want)

    @staticmethod
    def compute(xp, data, indices, updates, reduction="none"):
        return _scatter_nd(xp, data, indices, updates, reduction)


@register
class ScatterNDUpdate_3(_ScatterNDBase):
    type_name, version, opset = "ScatterNDUpdate", 3, "opset4"


@register
class ScatterNDUpdate(_ScatterNDBase):
    type_name, version, opset = "ScatterNDUpdate", 15, "opset15"
    attrs = (Attr("reduction", "str", "none", choices=("none", "sum", "sub", "prod", "min", "max")),)


# --- OneHot -----------------------------------------------------------------------------------
def _one_hot(xp, indices, depth: int, on_value, off_value, axis: int, normalize: bool):
    r = indices.ndim
    axis = axis + r + 1 if axis < 0 else axis
    idx = xp.astype(indices, xp.int64)
    if normalize:
        idx = xp.where(idx < 0, idx + depth, idx)
    positions = xp.reshape(xp.arange(depth, dtype=xp.int64), (depth,) + (1,) * (r - axis))
    hot = xp.expand_dims(idx, axis=axis) == positions
    return xp.where(hot, xp.reshape(on_value, ()), xp.reshape(off_value, ()))


class _OneHotBase(OpDef):
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        _check_integral(node, 0, "indices")
        _check_integral(node, 1, "depth")
        for i, what in ((1, "depth"), (2, "on_value"), (3, "off_value")):
            _check_scalar(node, i, what)
        t = _same_type(node, 2, 3, "off_value must have the on_value type")
        idx = node.input_shape(0)
        if not idx.rank_is_static:
            return [(t, PartialShape.dynamic())]
        axis = node.attrs["axis"]
        r = len(idx)
        if not -r - 1 <= axis <= r:
            raise ShapeInferenceError(f"{where(node)}: attribute 'axis' {axis} is out of range "
                                      f"[{-r - 1}, {r}] for indices rank {r}")
        a = axis + r + 1 if axis < 0 else axis
        depth = _const_int(node, 1)
        if depth is not None and depth < 0:
            raise ShapeInferenceError(f"{where(node)}: input 1 (depth) must be >= 0, got {depth}")
        dims = list(idx)
        dims.insert(a, Dimension() if depth is None else Dimension(depth))
        return [(t, PartialShape(dims))]

    @classmethod
    def normalize(cls, node) -> bool:
        return False

    @classmethod
    def compute_attrs(cls, node):
        return {"axis": node.attrs["axis"], "normalize": cls.normalize(node)}

    @staticmethod
    def compute(xp, indices, depth, on_value, off_value, axis, normalize):
        return _one_hot(xp, indices, _as_int(xp, depth), on_value, off_value, axis, normalize)

    @classmethod
    def kernel(cls, xp, node):
        depth = _const_int(node, 1)
        if depth is None:
            return super().kernel(xp, node)
        axis, norm = node.attrs["axis"], cls.normalize(node)
        return lambda indices, _depth, on, off: _one_hot(xp, indices, depth, on, off, axis, norm)


@register
class OneHot_1(_OneHotBase):
    """OneHot-1: negative indices (and any out of range) give a row of off_value."""

    type_name, version, opset = "OneHot", 1, "opset1"
    attrs = (Attr("axis", "int"),)


@register
class OneHot(_OneHotBase):
    type_name, version, opset = "OneHot", 16, "opset16"
    attrs = (Attr("axis", "int"),
             Attr("negative_indices_mode", "str", "ignore_negative", choices=("ignore_negative", "normalize")))

    @classmethod
    def normalize(cls, node) -> bool:
        return node.attrs["negative_indices_mode"] == "normalize"


# --- NonZero ----------------------------------------------------------------------------------
@register
class NonZero(OpDef):
    """Coordinates of the non-zero elements, one row per dimension (a scalar counts as shape [1]).
    The number of columns depends on the data: libraries that cannot return data-dependent shapes
    (array_api_strict with its ``data_dependent_shapes`` flag off, jit tracing) cannot run it."""

    type_name, version, opset = "NonZero", 3, "opset3"
    attrs = (Attr("output_type", "type", Type.i64),)

    @classmethod
    def check_attrs(cls, attrs, node):
        _check_type_attr(attrs, "output_type", node)

    @classmethod
    def infer(cls, node):
        s = node.input_shape(0)
        t = node.attrs["output_type"]
        if not s.rank_is_static:
            return [(t, PartialShape([Dimension(), Dimension()]))]
        count = Dimension(1)
        for d in s:
            count = count * d
        return [(t, PartialShape([max(len(s), 1), Dimension(0, count.max)]))]

    @staticmethod
    def compute(xp, data, output_type):
        dt = dtype_of(xp, output_type)
        x = xp.reshape(data, (1,)) if data.ndim == 0 else data
        return xp.stack([xp.astype(c, dt) for c in xp.nonzero(x)], axis=0)


# --- TopK -------------------------------------------------------------------------------------
def _topk(xp, x, k: int, axis: int, mode: str, sort: str, index_dtype):
    """The k largest (``max``) or smallest elements along ``axis``; equal values keep the lower index
    first, as OpenVINO's reference does in every mode. ``sort`` "none" orders by value, as
    OpenVINO's CPU plugin does."""
    axis = axis + x.ndim if axis < 0 else axis
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"TopK: k = {k} is outside [0, {n}], the size of axis {axis}")
    if mode == "max":
        # stable descending: sort the reversed axis ascending, then reverse back
        rev = xp.argsort(xp.flip(x, axis=axis), axis=axis, stable=True)
        order = (n - 1) - xp.flip(rev, axis=axis)
    else:
        order = xp.argsort(x, axis=axis, stable=True)
    idx = order[_axis_slice(x.ndim, axis, slice(0, k))]
    if sort == "index":
        idx = xp.sort(idx, axis=axis)
    return xp.take_along_axis(x, idx, axis=axis), xp.astype(idx, index_dtype)


class _TopKBase(OpDef):
    attrs = (Attr("axis", "int"), Attr("mode", "str", choices=("max", "min")),
             Attr("sort", "str", choices=("value", "index", "none")),
             Attr("index_element_type", "type", Type.i32))
    n_inputs = (2, 2)
    n_outputs = 2

    @classmethod
    def check_attrs(cls, attrs, node):
        _check_type_attr(attrs, "index_element_type", node)

    @classmethod
    def infer(cls, node):
        _check_integral(node, 1, "k")
        _check_scalar(node, 1, "k")
        s = node.input_shape(0)
        t, it = node.input_type(0), node.attrs["index_element_type"]
        if not s.rank_is_static:
            return [(t, s), (it, s)]
        if len(s) == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 1")
        a = _norm_axis(node, node.attrs["axis"], len(s))
        k = _const_int(node, 1)
        if k is not None and k < 0:
            raise ShapeInferenceError(f"{where(node)}: input 1 (k) must be >= 0, got {k}")
        dim = s[a]
        if k is not None:
            out = Dimension(k)
        else:
            out = Dimension(0, dim.max) if dim.max != INF else Dimension()
        dims = list(s)
        dims[a] = out
        return [(t, PartialShape(dims)), (it, PartialShape(dims))]

    @staticmethod
    def compute(xp, data, k, axis, mode, sort, index_element_type):
        return _topk(xp, data, _as_int(xp, k), axis, mode, sort, dtype_of(xp, index_element_type))

    @classmethod
    def kernel(cls, xp, node):
        k = _const_int(node, 1)
        if k is None:
            return super().kernel(xp, node)
        a = node.attrs
        axis, mode, sort, it = a["axis"], a["mode"], a["sort"], dtype_of(xp, a["index_element_type"])
        return lambda data, _k: _topk(xp, data, k, axis, mode, sort, it)


@register
class TopK_1(_TopKBase):
    type_name, version, opset = "TopK", 1, "opset1"


@register
class TopK_3(_TopKBase):
    type_name, version, opset = "TopK", 3, "opset3"


@register
class TopK(_TopKBase):
    """TopK-11: ``stable`` asks for the lower index first among equal values, which every version
    here gives."""

    type_name, version, opset = "TopK", 11, "opset11"
    attrs = _TopKBase.attrs + (Attr("stable", "bool", False),)

    @classmethod
    def check_attrs(cls, attrs, node):
        super().check_attrs(attrs, node)
        if attrs["stable"] and attrs["sort"] == "none":
            raise OpAttributeError(f"{where(node)}: attribute 'stable' needs 'sort' value or index, got none")


# --- CumSum -----------------------------------------------------------------------------------
def _cum_sum(xp, x, axis: int, exclusive: bool, reverse: bool):
    axis = axis + x.ndim if axis < 0 else axis
    if reverse:
        x = xp.flip(x, axis=axis)
    out = xp.cumulative_sum(x, axis=axis, dtype=x.dtype, include_initial=exclusive)
    if exclusive:
        out = out[_axis_slice(x.ndim, axis, slice(0, x.shape[axis]))]
    return xp.flip(out, axis=axis) if reverse else out


@register
class CumSum(OpDef):
    type_name, version, opset = "CumSum", 0, "opset3"
    attrs = (Attr("exclusive", "bool", False), Attr("reverse", "bool", False))
    n_inputs = (1, 2)

    @classmethod
    def infer(cls, node):
        t = node.input_type(0)
        if t is Type.boolean:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must be numeric, got boolean")
        s = node.input_shape(0)
        if s.rank_is_static and len(s) == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 (data) must have rank >= 1")
        if node.get_input_size() == 2:
            _check_integral(node, 1, "axis")
            _check_scalar(node, 1, "axis", allow_1d=False)
            axis = _const_int(node, 1)
            if axis is not None and s.rank_is_static:
                _norm_axis(node, axis, len(s))
        return [(t, s)]

    @staticmethod
    def compute(xp, x, axis=None, exclusive=False, reverse=False):
        return _cum_sum(xp, x, 0 if axis is None else _as_int(xp, axis), exclusive, reverse)

    @classmethod
    def kernel(cls, xp, node):
        axis = _const_int(node, 1) if node.get_input_size() == 2 else 0
        if axis is None:
            return super().kernel(xp, node)
        exclusive, reverse = node.attrs["exclusive"], node.attrs["reverse"]
        return lambda x, *_axis: _cum_sum(xp, x, axis, exclusive, reverse)


# --- Range ------------------------------------------------------------------------------------
def _range_length(start: float, stop: float, step: float) -> int:
    """max(ceil((stop - start) / step), 0), computed in double as OpenVINO does."""
    if step == 0:
        raise ValueError("Range: 'step' must not be zero")
    if (step > 0 and start >= stop) or (step < 0 and start <= stop):
        return 0
    return math.ceil(abs(stop - start) / abs(step))


def _scalar_value(xp, a):
    v = xp.reshape(a, (-1,))[0]
    try:
        integral = xp.isdtype(a.dtype, "integral")
    except TypeError:  # numpy's isdtype refuses ml_dtypes (bf16, f8): those are floats
        integral = False
    return int(v) if integral else float(v)


def _range(xp, start, stop, step, dtype, integral: bool):
    """Start, stop and step are truncated toward zero for an integral output (they are cast to it);
    element i is start + i * step computed in the output type."""
    s0, s1, st = (_scalar_value(xp, v) for v in (start, stop, step))
    if integral:
        s0, s1, st = math.trunc(s0), math.trunc(s1), math.trunc(st)
    for name, v in (("start", s0), ("stop", s1), ("step", st)):
        if not math.isfinite(v):
            raise ValueError(f"Range: '{name}' must be finite, got {v}")
    n = _range_length(float(s0), float(s1), float(st))
    if integral:
        return xp.astype(xp.arange(n, dtype=xp.int64) * st + s0, dtype)
    first = xp.asarray(s0, dtype=dtype)
    return first + xp.astype(xp.arange(n), dtype) * xp.asarray(st, dtype=dtype)


class _RangeBase(OpDef):
    n_inputs = (3, 3)

    @classmethod
    def out_type(cls, node) -> Type:
        raise NotImplementedError

    @classmethod
    def infer(cls, node):
        for i, what in enumerate(("start", "stop", "step")):
            _check_scalar(node, i, what, allow_1d=False)
            if node.input_type(i) is Type.boolean:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be numeric, got boolean")
        t = cls.out_type(node)
        values = [node.input_const(i) for i in range(3)]
        if any(v is None for v in values):
            return [(t, PartialShape([Dimension()]))]
        nums = [v.reshape(-1)[0].item() for v in values]
        if t.is_integral_number:
            nums = [math.trunc(v) if math.isfinite(v) else v for v in nums]
        for name, v in zip(("start", "stop", "step"), nums):
            if not math.isfinite(v):
                raise ShapeInferenceError(f"{where(node)}: '{name}' must be finite, got {v}")
        if nums[2] == 0:
            raise ShapeInferenceError(f"{where(node)}: 'step' must not be zero")
        return [(t, PartialShape([_range_length(*(float(v) for v in nums))]))]

    @classmethod
    def compute_attrs(cls, node):
        t = cls.out_type(node)
        return {"output_type": t}

    @staticmethod
    def compute(xp, start, stop, step, output_type):
        t = Type(output_type)
        return _range(xp, start, stop, step, dtype_of(xp, t), t.is_integral_number)


@register
class Range_1(_RangeBase):
    """Range-1: the output has the (common) type of the inputs."""

    type_name, version, opset = "Range", 0, "opset1"

    @classmethod
    def out_type(cls, node) -> Type:
        _same_type(node, 0, 1, "start and stop must have one type")
        return _same_type(node, 0, 2, "start and step must have one type")


@register
class Range(_RangeBase):
    type_name, version, opset = "Range", 4, "opset4"
    attrs = (Attr("output_type", "type"),)

    @classmethod
    def check_attrs(cls, attrs, node):
        t = attrs["output_type"]
        if not (t.is_real or t.is_integral_number):
            raise OpAttributeError(f"{where(node)}: attribute 'output_type' must be numeric, got {t}")

    @classmethod
    def out_type(cls, node) -> Type:
        return node.attrs["output_type"]


# --- Bucketize, SearchSorted ------------------------------------------------------------------
def _common(xp, a, b):
    """Both arrays in one type to compare them: the shared type, int64 for two integer types,
    else float64."""
    if a.dtype == b.dtype:
        return a, b
    ints = xp.isdtype(a.dtype, "integral") and xp.isdtype(b.dtype, "integral")
    dt = xp.int64 if ints else xp.float64
    return xp.astype(a, dt), xp.astype(b, dt)


@register
class Bucketize(OpDef):
    """The bucket index of each element: with_right_bound, bucket i holds (b[i-1], b[i]]; without,
    [b[i-1], b[i])."""

    type_name, version, opset = "Bucketize", 3, "opset3"
    attrs = (Attr("output_type", "type", Type.i64), Attr("with_right_bound", "bool", True))
    n_inputs = (2, 2)

    @classmethod
    def check_attrs(cls, attrs, node):
        _check_type_attr(attrs, "output_type", node)

    @classmethod
    def infer(cls, node):
        b = node.input_shape(1)
        if b.rank_is_static and len(b) != 1:
            raise ShapeInferenceError(f"{where(node)}: input 1 (buckets) must be 1-D, got shape {b}")
        return [(node.attrs["output_type"], node.input_shape(0))]

    @staticmethod
    def compute(xp, data, buckets, output_type, with_right_bound):
        x, b = _common(xp, data, buckets)
        out = xp.searchsorted(b, x, side="left" if with_right_bound else "right")
        return xp.astype(out, dtype_of(xp, output_type))


@register
class SearchSorted(OpDef):
    """Insertion positions of ``values`` in the last dimension of ``sorted_sequence`` (1-D, or with
    the leading dimensions of ``values``); right_mode places them after equal elements."""

    type_name, version, opset = "SearchSorted", 15, "opset15"
    attrs = (Attr("right_mode", "bool", False), Attr("output_type", "type", Type.i64))
    n_inputs = (2, 2)

    @classmethod
    def check_attrs(cls, attrs, node):
        _check_type_attr(attrs, "output_type", node)

    @classmethod
    def infer(cls, node):
        _same_type(node, 0, 1, "values must have the sorted_sequence type")
        seq, vals = node.input_shape(0), node.input_shape(1)
        if seq.rank_is_static and len(seq) == 0:
            raise ShapeInferenceError(f"{where(node)}: input 0 (sorted_sequence) must have rank >= 1")
        if seq.rank_is_static and vals.rank_is_static and len(seq) > 1:
            if len(seq) != len(vals):
                raise ShapeInferenceError(f"{where(node)}: sorted_sequence {seq} and values {vals} must have "
                                          "the same rank unless sorted_sequence is 1-D")
            dims = [_merge_dims(node, a, b, "leading dimensions of sorted_sequence and values")
                    for a, b in zip(seq[:-1], vals[:-1])]
            return [(node.attrs["output_type"], PartialShape(dims + [vals[-1]]))]
        return [(node.attrs["output_type"], vals)]

    @staticmethod
    def compute(xp, sorted_sequence, values, right_mode, output_type):
        seq, vals = _common(xp, sorted_sequence, values)
        if seq.ndim == 1:
            out = xp.searchsorted(seq, vals, side="right" if right_mode else "left")
        else:
            s, v = xp.expand_dims(seq, axis=-2), xp.expand_dims(vals, axis=-1)
            out = xp.count_nonzero((s <= v) if right_mode else (s < v), axis=-1)
        return xp.astype(out, dtype_of(xp, output_type))


# --- factories --------------------------------------------------------------------------------
@factory
def gather(data, indices, axis, batch_dims: int | None = 0, name: str | None = None) -> Node:
    return make("Gather", [data, indices, axis], {"batch_dims": batch_dims}, name)


@factory
def gather_elements(data, indices, axis: int | None = 0, name: str | None = None) -> Node:
    return make("GatherElements", [data, indices], {"axis": axis}, name)


@factory
def gather_nd(data, indices, batch_dims: int | None = 0, name: str | None = None) -> Node:
    return make("GatherND", [data, indices], {"batch_dims": batch_dims}, name)


@factory
def scatter_update(data, indices, updates, axis, name: str | None = None) -> Node:
    return make("ScatterUpdate", [data, indices, updates, axis], name=name)


@factory
def scatter_elements_update(data, indices, updates, axis, reduction: str | None = "None",
                            use_init_val: bool | None = True, name: str | None = None) -> Node:
    return make("ScatterElementsUpdate", [data, indices, updates, axis],
                {"reduction": reduction, "use_init_val": use_init_val}, name)


@factory
def scatter_nd_update(data, indices, updates, reduction: str | None = None, name: str | None = None) -> Node:
    return make("ScatterNDUpdate", [data, indices, updates], {"reduction": reduction}, name)


@factory
def one_hot(indices, depth, on_value, off_value, axis: int, negative_indices_mode: str | None = None,
            name: str | None = None) -> Node:
    return make("OneHot", [indices, depth, on_value, off_value],
                {"axis": axis, "negative_indices_mode": negative_indices_mode}, name)


@factory
def non_zero(data, output_type: str = "i64", name: str | None = None) -> Node:
    return make("NonZero", [data], {"output_type": Type(output_type)}, name)


@factory
def topk(data, k, axis: int, mode: str, sort: str, index_element_type: str = "i32", stable: bool = False,
         name: str | None = None) -> Node:
    return make("TopK", [data, k], {"axis": axis, "mode": mode, "sort": sort,
                                    "index_element_type": Type(index_element_type), "stable": stable}, name)


@factory
def cum_sum(arg, axis, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Node:
    return make("CumSum", [arg, axis], {"exclusive": exclusive, "reverse": reverse}, name)


def _range_factory(start, stop, step, output_type: str, name: str | None = None) -> Node:
    return make("Range", [start, stop, step], {"output_type": Type(output_type)}, name)


_range_factory.__name__ = _range_factory.__qualname__ = "range"
factory(_range_factory)


@factory
def bucketize(data, buckets, output_type: str = "i64", with_right_bound: bool = True,
              name: str | None = None) -> Node:
    return make("Bucketize", [data, buckets], {"output_type": Type(output_type),
                                               "with_right_bound": with_right_bound}, name)


@factory
def search_sorted(sorted_sequence, values, right_mode: bool = False, name: str | None = None) -> Node:
    return make("SearchSorted", [sorted_sequence, values], {"right_mode": right_mode}, name)


alias("cumsum", "cum_sum")  # openvino.opset16's spelling
