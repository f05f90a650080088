"""Shape-inference helpers over :class:`PartialShape`."""
from __future__ import annotations

from collections.abc import Sequence

from arrayrt.ir.shape import INF, Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError


def broadcast_dims(a: Dimension, b: Dimension) -> Dimension:
    """NUMPY broadcasting of two dimensions."""
    if a.is_static and a.min == 1:
        return b
    if b.is_static and b.min == 1:
        return a
    if a.is_static and b.is_static:
        if a.min != b.min:
            raise ShapeInferenceError(f"dimensions {a} and {b} do not broadcast")
        return a
    if a.is_static:
        if not b.contains(a.min) and not b.contains(1):
            raise ShapeInferenceError(f"dimensions {a} and {b} do not broadcast")
        return a
    if b.is_static:
        if not a.contains(b.min) and not a.contains(1):
            raise ShapeInferenceError(f"dimensions {a} and {b} do not broadcast")
        return b
    # both dynamic: the result is at least the larger minimum
    lo = max(a.min, b.min)
    hi = INF if INF in (a.max, b.max) else max(a.max, b.max)
    return Dimension(lo, hi) if lo != hi else Dimension(lo)


def broadcast_shapes(a: PartialShape, b: PartialShape, mode: str = "numpy") -> PartialShape:
    """Output shape of an elementwise op with ``auto_broadcast`` = ``numpy`` or ``none``."""
    mode = mode.lower()
    if mode == "none":
        if a.rank_is_static and b.rank_is_static and not a.compatible(b):
            raise ShapeInferenceError(f"shapes {a} and {b} differ and auto_broadcast is none")
        return a.merge(b) if a.rank_is_static and b.rank_is_static else (a if a.rank_is_static else b)
    if mode != "numpy":
        raise ShapeInferenceError(f"auto_broadcast '{mode}' is not supported")
    if not a.rank_is_static or not b.rank_is_static:
        return PartialShape.dynamic()
    da, db = list(a.dims), list(b.dims)
    n = max(len(da), len(db))
    da = [Dimension(1)] * (n - len(da)) + da
    db = [Dimension(1)] * (n - len(db)) + db
    try:
        return PartialShape([broadcast_dims(x, y) for x, y in zip(da, db)])
    except ShapeInferenceError:
        raise ShapeInferenceError(f"shapes {a} and {b} do not broadcast (numpy rules)") from None


def broadcast_many(shapes: Sequence[PartialShape]) -> PartialShape:
    out = shapes[0]
    for s in shapes[1:]:
        out = broadcast_shapes(out, s)
    return out


def same_types(node, indices: Sequence[int] | None = None) -> Type:
    """The common element type of the given inputs (all by default); raises if they differ."""
    idx = range(node.get_input_size()) if indices is None else indices
    t = Type.dynamic
    for i in idx:
        ti = node.input_type(i)
        if t.is_static and ti.is_static and ti is not t:
            raise ShapeInferenceError(f"inputs have different element types: {t} and {ti} (input {i})")
        t = t.merge(ti)
    return t


def pshape_of(values: Sequence[int] | None, rank: int | None = None) -> PartialShape:
    """A static shape from values, or a rank-only dynamic shape when the values are unknown."""
    if values is not None:
        return PartialShape([int(v) for v in values])
    return PartialShape.dynamic(rank)
