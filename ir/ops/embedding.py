"""EmbeddingBagOffsetsSum, EmbeddingBagPackedSum, EmbeddingSegmentsSum and opset15's EmbeddingBagOffsets and
EmbeddingBagPacked.

Every op looks rows of ``emb_table`` up by ``indices``, optionally scales them by
``per_sample_weights`` and sums (or, for the opset15 ops with ``reduction="mean"``, averages) them
into bags. A bag is given by offsets into ``indices`` (Offsets), by a row of a 2-D ``indices``
(Packed) or by a segment id per index (Segments). An empty bag takes the row ``default_index``
when that input is given and not negative, else zeros.

One compute serves them all: the per-index bag ids become a one-hot [bags, indices] matrix and a
matmul sums the gathered rows. Indices, offsets (which must not decrease), segment ids (which must be
sorted) or a default index out of range raise an :class:`InferenceInputError` naming the node rather
than giving a wrong answer. A negative default index means zeros for empty bags. The checks read
values on the host, so the jax backend refuses these ops.
"""
from __future__ import annotations

import functools

from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt.errors import InferenceInputError, ShapeInferenceError, where

# --- helpers ------------------------------------------------------------------------------------


def _require(xp, ok, message: str) -> None:
    if not bool(xp.all(ok)):
        raise IndexError(message)


def _reduce_bags(xp, emb, idx, seg, nbags: int, weights=None, default=None, reduction: str = "sum"):
    """Rows ``emb[idx[i]]`` (times ``weights[i]``) summed into bag ``seg[i]`` of ``nbags``."""
    n = int(emb.shape[0])
    inner = tuple(int(d) for d in emb.shape[1:])
    idx = xp.reshape(xp.astype(idx, xp.int64), (-1,))
    seg = xp.reshape(xp.astype(seg, xp.int64), (-1,))
    count_i = int(idx.shape[0])
    _require(xp, (idx >= 0) & (idx < n), f"an index is out of range [0, {n - 1}]")
    width = 1
    for d in inner:
        width *= d
    rows = xp.reshape(xp.take(emb, idx, axis=0), (count_i, width))
    if weights is not None:
        rows = rows * xp.reshape(xp.astype(weights, emb.dtype), (count_i, 1))
    hit = xp.reshape(seg, (1, count_i)) == xp.reshape(xp.arange(nbags, dtype=xp.int64), (nbags, 1))
    out = xp.matmul(xp.astype(hit, emb.dtype), rows)
    counts = xp.sum(xp.astype(hit, xp.int64), axis=1)
    empty = xp.reshape(counts == 0, (nbags, 1))
    if reduction == "mean":
        denom = xp.reshape(xp.astype(xp.where(counts > 0, counts, xp.ones_like(counts)), emb.dtype), (nbags, 1))
        out = out / denom if xp.isdtype(emb.dtype, "real floating") else out // denom
    if default is not None:
        d = int(default)
        if d >= n:
            raise IndexError(f"default_index {d} is out of range [0, {n - 1}]")
        if d >= 0:
            row = xp.reshape(xp.take(emb, xp.asarray([d], dtype=xp.int64), axis=0), (1, width))
            out = xp.where(empty, row, out)
    return xp.reshape(out, (nbags, *inner))


def _offsets_to_segments(xp, offsets, count_i: int):
    off = xp.reshape(xp.astype(offsets, xp.int64), (-1,))
    b = int(off.shape[0])
    _require(xp, (off >= 0) & (off <= count_i), f"an offset is out of range [0, {count_i}]")
    if b > 1:
        _require(xp, off[1:] >= off[:-1], "offsets must not decrease")
    pos = xp.reshape(xp.arange(count_i, dtype=xp.int64), (count_i, 1))
    return xp.sum(xp.astype(xp.reshape(off, (1, b)) <= pos, xp.int64), axis=1) - 1


def _offsets(xp, emb, indices, offsets, default_index=None, per_sample_weights=None, reduction="sum"):
    seg = _offsets_to_segments(xp, offsets, int(indices.shape[0]))
    return _reduce_bags(xp, emb, indices, seg, int(offsets.shape[0]), per_sample_weights, default_index, reduction)


def _packed(xp, emb, indices, per_sample_weights=None, reduction="sum"):
    b, length = int(indices.shape[0]), int(indices.shape[1])
    seg = xp.reshape(xp.broadcast_to(xp.reshape(xp.arange(b, dtype=xp.int64), (b, 1)), (b, length)), (-1,))
    return _reduce_bags(xp, emb, indices, seg, b, per_sample_weights, None, reduction)


def _check_int(node, i: int, what: str) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_integral_number:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have an integer element type, got {t}")


def _check_rank(node, i: int, what: str, rank: int) -> None:
    s = node.input_shape(i)
    if s.rank_is_static and len(s) != rank:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have rank {rank}, got shape {s}")


def _check_weights(node, i: int, idx: int) -> None:
    t, te = node.input_type(i), node.input_type(0)
    if t.is_static and te.is_static and t != te:
        raise ShapeInferenceError(f"{where(node)}: input {i} (per_sample_weights) must have the element type of "
                                  f"emb_table ({te}), got {t}")
    s, si = node.input_shape(i), node.input_shape(idx)
    if s.is_static and si.is_static and s.to_shape() != si.to_shape():
        raise ShapeInferenceError(f"{where(node)}: input {i} (per_sample_weights) must have the shape of "
                                  f"indices {si}, got {s}")


def _check_mean(node, weights_input: int) -> None:
    if node.attrs.get("reduction") == "mean" and node.get_input_size() > weights_input:
        raise ShapeInferenceError(f"{where(node)}: per_sample_weights (input {weights_input}) can only be used "
                                  f"with reduction 'sum', got 'mean'")


def _output(node, bags: Dimension):
    t, ps = node.input_type(0), node.input_shape(0)
    if not ps.rank_is_static:
        return [(t, PartialShape.dynamic())]
    if len(ps) < 1:
        raise ShapeInferenceError(f"{where(node)}: input 0 (emb_table) must have rank >= 1, got a scalar")
    return [(t, PartialShape([bags, *list(ps)[1:]]))]


def _first_dim(node, i: int) -> Dimension:
    s = node.input_shape(i)
    return s[0] if s.rank_is_static and len(s) >= 1 else Dimension()


class _EmbeddingOp(OpDef):
    @classmethod
    def kernel(cls, xp, node):
        inner = super().kernel(xp, node)

        @functools.wraps(inner)
        def run(*arrays):
            try:
                return inner(*arrays)
            except IndexError as exc:
                raise InferenceInputError(f"{where(node)}: {exc}") from None

        return run


# --- Offsets ------------------------------------------------------------------------------------


class _OffsetsBase(_EmbeddingOp):
    n_inputs = (3, 5)

    @classmethod
    def infer(cls, node):
        _check_int(node, 1, "indices")
        _check_int(node, 2, "offsets")
        _check_rank(node, 1, "indices", 1)
        _check_rank(node, 2, "offsets", 1)
        if node.get_input_size() > 3:
            _check_int(node, 3, "default_index")
            _check_rank(node, 3, "default_index", 0)
        if node.get_input_size() > 4:
            _check_weights(node, 4, 1)
        _check_mean(node, 4)
        return _output(node, _first_dim(node, 2))


@register
class EmbeddingBagOffsetsSum(_OffsetsBase):
    type_name, version, opset = "EmbeddingBagOffsetsSum", 3, "opset3"

    @staticmethod
    def compute(xp, emb_table, indices, offsets, default_index=None, per_sample_weights=None):
        return _offsets(xp, emb_table, indices, offsets, default_index, per_sample_weights)


@register
class EmbeddingBagOffsets(_OffsetsBase):
    type_name, version, opset = "EmbeddingBagOffsets", 15, "opset15"
    attrs = (Attr("reduction", "str", "sum", choices=("sum", "mean")),)

    @staticmethod
    def compute(xp, emb_table, indices, offsets, default_index=None, per_sample_weights=None, reduction="sum"):
        return _offsets(xp, emb_table, indices, offsets, default_index, per_sample_weights, reduction)


# --- Packed -------------------------------------------------------------------------------------


class _PackedBase(_EmbeddingOp):
    n_inputs = (2, 3)

    @classmethod
    def infer(cls, node):
        _check_int(node, 1, "indices")
        _check_rank(node, 1, "indices", 2)
        if node.get_input_size() > 2:
            _check_weights(node, 2, 1)
        _check_mean(node, 2)
        return _output(node, _first_dim(node, 1))


@register
class EmbeddingBagPackedSum(_PackedBase):
    type_name, version, opset = "EmbeddingBagPackedSum", 3, "opset3"

    @staticmethod
    def compute(xp, emb_table, indices, per_sample_weights=None):
        return _packed(xp, emb_table, indices, per_sample_weights)


@register
class EmbeddingBagPacked(_PackedBase):
    type_name, version, opset = "EmbeddingBagPacked", 15, "opset15"
    attrs = (Attr("reduction", "str", "sum", choices=("sum", "mean")),)

    @staticmethod
    def compute(xp, emb_table, indices, per_sample_weights=None, reduction="sum"):
        return _packed(xp, emb_table, indices, per_sample_weights, reduction)


# --- Segments -----------------------------------------------------------------------------------


@register
class EmbeddingSegmentsSum(_EmbeddingOp):
    type_name, version, opset = "EmbeddingSegmentsSum", 3, "opset3"
    n_inputs = (4, 6)

    @classmethod
    def infer(cls, node):
        _check_int(node, 1, "indices")
        _check_int(node, 2, "segment_ids")
        _check_int(node, 3, "num_segments")
        _check_rank(node, 1, "indices", 1)
        _check_rank(node, 2, "segment_ids", 1)
        _check_rank(node, 3, "num_segments", 0)
        si, ss = node.input_shape(1), node.input_shape(2)
        if si.is_static and ss.is_static and si.to_shape() != ss.to_shape():
            raise ShapeInferenceError(f"{where(node)}: input 2 (segment_ids) must have the shape of indices {si}, "
                                      f"got {ss}")
        if node.get_input_size() > 4:
            _check_int(node, 4, "default_index")
            _check_rank(node, 4, "default_index", 0)
        if node.get_input_size() > 5:
            _check_weights(node, 5, 1)
        v = node.input_const(3)
        bags = Dimension()
        if v is not None:
            k = int(v.reshape(-1)[0])
            if k < 0:
                raise ShapeInferenceError(f"{where(node)}: input 3 (num_segments) must be >= 0, got {k}")
            bags = Dimension(k)
        return _output(node, bags)

    @staticmethod
    def compute(xp, emb_table, indices, segment_ids, num_segments, default_index=None, per_sample_weights=None):
        k = int(num_segments)
        if k < 0:
            raise IndexError(f"num_segments must be >= 0, got {k}")
        seg = xp.astype(segment_ids, xp.int64)
        _require(xp, (seg >= 0) & (seg < k), f"a segment id is out of range [0, {k - 1}]")
        if int(seg.shape[0]) > 1:
            _require(xp, seg[1:] >= seg[:-1], "segment_ids must be sorted (non-decreasing)")
        return _reduce_bags(xp, emb_table, indices, seg, k, per_sample_weights, default_index)


# --- factories ----------------------------------------------------------------------------------


def _present(*inputs):
    return [i for i in inputs if i is not None]


@factory
def embedding_bag_offsets_sum(emb_table, indices, offsets, default_index=None, per_sample_weights=None,
                              name: str | None = None):
    return make("EmbeddingBagOffsetsSum", _present(emb_table, indices, offsets, default_index, per_sample_weights),
                name=name)


@factory
def embedding_bag_packed_sum(emb_table, indices, per_sample_weights=None, name: str | None = None):
    return make("EmbeddingBagPackedSum", _present(emb_table, indices, per_sample_weights), name=name)


@factory
def embedding_segments_sum(emb_table, indices, segment_ids, num_segments=None, default_index=None,
                           per_sample_weights=None, name: str | None = None):
    return make("EmbeddingSegmentsSum",
                _present(emb_table, indices, segment_ids, num_segments, default_index, per_sample_weights), name=name)


@factory
def embedding_bag_offsets(emb_table, indices, offsets, default_index=None, per_sample_weights=None,
                          reduction: str = "sum", name: str | None = None):
    return make("EmbeddingBagOffsets", _present(emb_table, indices, offsets, default_index, per_sample_weights),
                {"reduction": reduction}, name)


@factory
def embedding_bag_packed(emb_table, indices, per_sample_weights=None, reduction: str = "sum",
                         name: str | None = None):
    return make("EmbeddingBagPacked", _present(emb_table, indices, per_sample_weights), {"reduction": reduction}, name)
