"""numpy kernels for the indexing family (see kernels.py): scatters through fancy assignment and
``ufunc.at``, TopK through a partition, GatherND and GatherElements through one numpy gather.

Each kernel gives the generic compute's result to the bit (NaN payloads aside), errors included:

* Scatters write into a copy of the data (inputs may be read-only constants) after checking every
  index, with the generic compute's messages.
* numpy does not say which write wins among repeated targets of a fancy assignment, so reduction
  "none" keeps the last update of each target explicitly (:func:`_last_writes`).
* Reductions fold the updates of a repeated target one at a time, in index order: the order the
  generic compute folds them in, so floating-point sums round alike. Element updates go through
  ``ufunc.at``; row updates (slow there) go in rounds of one update per target (:func:`_reduce_rows`).
* TopK on a long enough axis selects the k best per row with ``np.partition`` and the k-th best
  value, takes equal values in index order (the lower index wins, as in the generic stable sort; NaN
  is the largest value), then sorts only those k stably.
* The gathers index without the generic compute's masks; indices numpy rejects (out of range, which
  OpenVINO turns into zeros) go to the generic compute.

Element types numpy does not know natively (ml_dtypes') use the generic compute.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from arrayrt.backends.base import KernelFactory
from arrayrt.ir.ops._xp import dtype_of

_NATIVE = frozenset("biuf")

_REDUCE = {"sum": np.add, "mean": np.add, "sub": np.subtract, "prod": np.multiply, "min": np.minimum,
           "max": np.maximum}
_REDUCE_BOOL = {"sum": np.logical_or, "sub": np.logical_xor, "prod": np.logical_and, "min": np.logical_and,
                "max": np.logical_or}


def _const(node: Any, i: int) -> int | None:
    """Input ``i`` as an int when it is known at compile time."""
    v = node.input_const(i)
    return None if v is None or v.size != 1 else int(v.reshape(-1)[0])


def _runtime_int(a: Any) -> int:
    return int(np.asarray(a).reshape(-1)[0])


def _generic(node: Any) -> Callable[..., Any]:
    return node.op.kernel(np, node)


# --- scatter ------------------------------------------------------------------------------------
def _seen(targets: np.ndarray, size: int) -> np.ndarray | None:
    """Mask of the rows ``targets`` (in [0, size)) hit, or None when no target repeats."""
    if targets.shape[0] < 2:
        return None
    seen = np.zeros(size, np.bool_)
    seen[targets] = True
    return None if int(np.count_nonzero(seen)) == targets.shape[0] else seen


def _positions(n: int) -> np.ndarray:
    """0..n-1, in int32 where it fits: ``minimum.at``/``maximum.at`` run several times faster on it."""
    return np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)


def _last_writes(targets: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows hit, and for each the position of its last update."""
    order = _positions(targets.shape[0])
    last = np.full(seen.shape[0], -1, order.dtype)
    np.maximum.at(last, targets, order)
    rows = np.flatnonzero(seen)
    return rows, last[rows]


def _first_writes(targets: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows hit, and for each the position of its first update."""
    n = targets.shape[0]
    order = _positions(n)
    first = np.full(size, n, order.dtype)
    np.minimum.at(first, targets, order)
    rows = np.flatnonzero(first < n)
    return rows, first[rows]


def _reduce_rows(out: np.ndarray, targets: np.ndarray, updates: np.ndarray, ufunc: np.ufunc) -> None:
    """``out[t] = ufunc(out[t], u)`` for each row update in index order. ``ufunc.at`` is slow on
    rows, so the updates go in rounds, each holding the next update of every target (one fancy
    read-modify-write per round); ``ufunc.at`` only where few targets share many updates."""
    n = targets.shape[0]
    order = np.argsort(targets, kind="stable")
    ts = targets[order]
    pos = np.arange(n)
    start = np.where(np.concatenate(([True], ts[1:] != ts[:-1])), pos, 0)
    np.maximum.accumulate(start, out=start)
    rank = np.empty(n, np.intp)
    rank[order] = pos - start
    rounds = int(rank.max()) + 1
    if rounds * 8 > n and rounds > 1:
        ufunc.at(out, targets, updates)
        return
    by_round = np.argsort(rank, kind="stable")
    lo = 0
    for hi in np.cumsum(np.bincount(rank)).tolist():
        sel = by_round[lo:hi]
        rows = targets[sel]
        out[rows] = ufunc(out[rows], updates[sel])
        lo = hi


def _scatter_into(out: np.ndarray, targets: np.ndarray, updates: np.ndarray, reduction: str = "none",
                 use_init_val: bool = True) -> None:
    """Apply ``updates`` [N] or [N, C] at the rows ``targets`` [N] (in range) of ``out`` [L] or
    [L, C], in place and in index order, as the generic compute's ``_scatter_rows`` does."""
    size = out.shape[0]
    if targets.shape[0] == 0:
        return
    if reduction == "none":
        seen = _seen(targets, size)
        if seen is not None:
            targets, picks = _last_writes(targets, seen)
            updates = updates[picks]
        out[targets] = updates
        return
    if out.dtype == np.bool_:
        if reduction not in _REDUCE_BOOL:
            raise ValueError(f"reduction '{reduction}' is not defined for boolean data")
        ufunc = _REDUCE_BOOL[reduction]
    else:
        ufunc = _REDUCE[reduction]
    counts = np.bincount(targets, minlength=size) if reduction == "mean" else None
    if not use_init_val:
        rows, picks = _first_writes(targets, size)
        out[rows] = updates[picks]
        rest = np.ones(targets.shape[0], np.bool_)
        rest[picks] = False
        rest = np.flatnonzero(rest)
        targets, updates = targets[rest], updates[rest]
    if out.ndim == 1:
        ufunc.at(out, targets, updates)
    else:
        _reduce_rows(out, targets, updates, ufunc)
    if counts is not None:
        hit = np.flatnonzero(counts)
        div = (counts[hit] + int(use_init_val)).astype(out.dtype).reshape((-1,) + (1,) * (out.ndim - 1))
        # integer means round toward negative infinity, as the generic compute (and the spec) does
        mean = np.floor_divide if out.dtype.kind in "iu" else np.divide
        out[hit] = mean(out[hit], div)


def _scatter_update(data, indices, updates, axis: int):
    axis = axis + data.ndim if axis < 0 else axis
    n = data.shape[axis]
    idx = indices.reshape(-1)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(f"ScatterUpdate: an index is negative or not below {n}")
    outer, inner = math.prod(data.shape[:axis]), math.prod(data.shape[axis + 1:])
    out = data.copy()
    rows = out.reshape(outer, n, inner)
    upd = updates.reshape(outer, idx.size, inner)
    seen = _seen(idx, n)
    if seen is not None:
        idx, picks = _last_writes(idx, seen)
        upd = upd[:, picks]
    rows[:, idx] = upd
    return out


def scatter_update(backend: Any, node: Any) -> Callable[..., Any]:
    generic, axis = _generic(node), _const(node, 3)

    def run(data, indices, updates, axis_in):
        if data.dtype.kind not in _NATIVE:
            return generic(data, indices, updates, axis_in)
        return _scatter_update(data, indices, updates, _runtime_int(axis_in) if axis is None else axis)

    return run


class _ElementOffsets:
    """Flat data offsets of each element of ``indices`` except along the axis, for the last shapes
    seen (a model scatters the same shapes on every inference)."""

    def __init__(self):
        self.key: tuple | None = None
        self.value: tuple[np.ndarray, int] | None = None

    def __call__(self, dshape: tuple, ishape: tuple, axis: int) -> tuple[np.ndarray, int] | None:
        key = (dshape, ishape, axis)
        if key != self.key:
            self.key, self.value = key, self._build(dshape, ishape, axis)
        return self.value

    @staticmethod
    def _build(dshape: tuple, ishape: tuple, axis: int) -> tuple[np.ndarray, int] | None:
        if any(i > d for a, (d, i) in enumerate(zip(dshape, ishape)) if a != axis):
            return None
        r = len(dshape)
        strides = [math.prod(dshape[d + 1:]) for d in range(r)]
        base = np.zeros(ishape, np.int64)
        for d in range(r):
            if d != axis:
                base += (np.arange(ishape[d], dtype=np.int64) * strides[d]).reshape(
                    (1,) * d + (-1,) + (1,) * (r - d - 1))
        return base.reshape(-1), strides[axis]


def scatter_elements_update(backend: Any, node: Any) -> Callable[..., Any]:
    generic, axis = _generic(node), _const(node, 3)
    reduction, use_init_val = node.attrs.get("reduction", "none"), node.attrs.get("use_init_val", True)
    offsets = _ElementOffsets()

    def run(data, indices, updates, axis_in):
        a = _runtime_int(axis_in) if axis is None else axis
        a = a + data.ndim if a < 0 else a
        plan = offsets(data.shape, indices.shape, a) if data.dtype.kind in _NATIVE else None
        if plan is None:
            return generic(data, indices, updates, axis_in)
        base, stride = plan
        n = data.shape[a]
        out = data.copy()
        if indices.size == 0:
            return out
        idx = indices.reshape(-1).astype(np.int64)
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"ScatterElementsUpdate: an index is out of range [{-n}, {n - 1}]")
        if lo < 0:
            np.add(idx, n, out=idx, where=idx < 0)
        idx *= stride
        idx += base
        _scatter_into(out.reshape(-1), idx, updates.reshape(-1), reduction, use_init_val)
        return out

    return run


def _linear(idx: np.ndarray, dims: tuple) -> np.ndarray | None:
    """Row numbers of the index tuples ``idx`` [N, k] into dimensions ``dims`` (negative indices
    count from the end), or None when a tuple points outside. Column by column: reductions across
    the short last axis are slow in numpy."""
    lin = np.zeros(idx.shape[0], np.int64)
    if idx.shape[0] == 0:
        return lin
    for j, s in enumerate(dims):
        c = idx[:, j].astype(np.int64)
        lo, hi = int(c.min()), int(c.max())
        if lo < -s or hi >= s:
            return None
        if lo < 0:
            np.add(c, s, out=c, where=c < 0)
        lin *= s
        lin += c
    return lin


def scatter_nd_update(backend: Any, node: Any) -> Callable[..., Any]:
    generic, reduction = _generic(node), node.attrs.get("reduction", "none")

    def run(data, indices, updates):
        if data.dtype.kind not in _NATIVE:
            return generic(data, indices, updates)
        k = indices.shape[-1]
        nl, nc = math.prod(data.shape[:k]), math.prod(data.shape[k:])
        nn = math.prod(indices.shape[:-1])
        lin = _linear(indices.reshape(nn, k), data.shape[:k])
        if lin is None:
            raise IndexError("ScatterNDUpdate: an index tuple points outside the data")
        out = data.copy()
        if nc == 1:
            _scatter_into(out.reshape(-1), lin, updates.reshape(-1), reduction)
        else:
            _scatter_into(out.reshape(nl, nc), lin, updates.reshape(nn, nc), reduction)
        return out

    return run


# --- gathers ------------------------------------------------------------------------------------
def gather_elements(backend: Any, node: Any) -> Callable[..., Any]:
    """numpy's ``take_along_axis`` counts negative indices from the end itself."""
    generic, axis = _generic(node), node.attrs["axis"]

    def run(data, indices):
        try:
            return np.take_along_axis(data, indices, axis=axis)
        except IndexError:
            return generic(data, indices)

    return run


def gather_nd(backend: Any, node: Any) -> Callable[..., Any]:
    generic, b, merge = _generic(node), node.attrs["batch_dims"], bool(node.op.merge_batch)

    def run(data, indices):
        k = indices.shape[-1]
        bshape, kshape, inner = data.shape[:b], data.shape[b:b + k], data.shape[b + k:]
        nb, nl = math.prod(bshape), math.prod(kshape)
        mid = indices.shape[b:-1]
        nm = math.prod(mid)
        lin = _linear(indices.reshape(nb * nm, k), kshape)
        if lin is None:
            return generic(data, indices)
        if b:
            lin = (lin.reshape(nb, nm) + (np.arange(nb, dtype=np.int64) * nl).reshape(nb, 1)).reshape(-1)
        out = np.take(data.reshape(nb * nl, math.prod(inner)), lin, axis=0)
        lead = (nb,) if merge and b else bshape
        return out.reshape(lead + mid + inner)

    return run


# --- TopK ---------------------------------------------------------------------------------------
#: TopK partitions from this many elements on, for k up to this fraction of the axis; below, or for
#: a larger k, its extra numpy calls cost more than the full sort they save (measured on numpy 2.4)
PARTITION_MIN_SIZE = 4096
PARTITION_MAX_FRACTION = 0.25


def _stable_descending(v: np.ndarray) -> np.ndarray:
    """argsort along the last axis, largest first, equal values in index order."""
    rev = np.argsort(v[..., ::-1], axis=-1, kind="stable")
    return (v.shape[-1] - 1) - rev[..., ::-1]


def _topk_last(x: np.ndarray, k: int, largest: bool, sort: str) -> tuple[np.ndarray, np.ndarray]:
    """TopK along the last axis of ``x`` for 0 < k < n."""
    n = x.shape[-1]
    kth = n - k if largest else k - 1
    part = np.partition(x, kth, axis=-1)
    v = part[..., kth:kth + 1]
    # NaN is the largest value (it sorts last); it matters where it can be among the k best
    nan = x.dtype.kind == "f" and bool(np.isnan(part[..., kth:] if largest else v).any())
    if largest:
        better, tie = x > v, x == v
    else:
        better, tie = x < v, x == v
    if nan:
        xnan, vnan = np.isnan(x), np.isnan(v)
        tie |= xnan & vnan
        if largest:
            better |= xnan & ~vnan
        else:
            better |= ~xnan & vnan
    need = k - np.count_nonzero(better, axis=-1, keepdims=True)
    if not np.array_equal(np.count_nonzero(tie, axis=-1, keepdims=True), need):
        tie &= np.cumsum(tie, axis=-1) <= need
    idx = np.nonzero(better | tie)[-1].reshape(x.shape[:-1] + (k,))
    vals = np.take_along_axis(x, idx, axis=-1)
    if sort != "index":
        order = _stable_descending(vals) if largest else np.argsort(vals, axis=-1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=-1)
        vals = np.take_along_axis(vals, order, axis=-1)
    return vals, idx


def topk(backend: Any, node: Any) -> Callable[..., Any]:
    generic, k_const = _generic(node), _const(node, 1)
    a = node.attrs
    axis, largest, sort = a["axis"], a["mode"] == "max", a["sort"]
    index_dtype = dtype_of(np, a["index_element_type"])

    def run(data, k_in):
        k = _runtime_int(k_in) if k_const is None else k_const
        ax = axis + data.ndim if axis < 0 else axis
        n = data.shape[ax]
        if (not 0 < k < n or k > n * PARTITION_MAX_FRACTION or data.size < PARTITION_MIN_SIZE
                or data.dtype.kind not in _NATIVE):
            return generic(data, k_in)
        last = ax == data.ndim - 1
        vals, idx = _topk_last(data if last else np.moveaxis(data, ax, -1), k, largest, sort)
        idx = idx.astype(index_dtype)
        if last:
            return vals, idx
        return np.ascontiguousarray(np.moveaxis(vals, -1, ax)), np.ascontiguousarray(np.moveaxis(idx, -1, ax))

    return run


OVERRIDES: dict[str, KernelFactory] = {
    "ScatterUpdate": scatter_update,
    "ScatterElementsUpdate": scatter_elements_update,
    "ScatterNDUpdate": scatter_nd_update,
    "GatherElements": gather_elements,
    "GatherND": gather_nd,
    "TopK": topk,
}
