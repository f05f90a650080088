"""Embedding-bag ops against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt.opset as art
from arrayrt.errors import InferenceInputError, ShapeInferenceError
from arrayrt.testing import check_op, rand, run_arrayrt

TABLE_DTYPES = [np.float32, np.int32]


def table(dtype, shape=(6, 3, 2)) -> np.ndarray:
    return rand(shape, dtype, seed=1, low=-5, high=5) if dtype != np.float32 else rand(shape, dtype, seed=1)


def ints(v, t=np.int32) -> np.ndarray:
    return np.array(v, t)


# --- EmbeddingBagOffsetsSum / EmbeddingBagOffsets -----------------------------------------------

OFFSET_CASES = [
    # indices, offsets, default_index, weights?
    ([0, 2, 3, 1, 5], [0, 2, 2, 4], None, False),
    ([0, 2, 3, 1, 5], [0, 2, 2, 4], 1, False),
    ([0, 2, 3, 1, 5], [0, 0, 2, 3], -1, True),
    ([4, 4, 0], [0, 1], 3, True),
]


@pytest.mark.parametrize("itype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", TABLE_DTYPES)
@pytest.mark.parametrize("case", OFFSET_CASES)
def test_embedding_bag_offsets_sum(backend, case, dtype, itype):
    idx, off, default, weighted = case
    emb = table(dtype)
    inputs = [emb, ints(idx, itype), ints(off, itype)]
    if default is not None:
        inputs.append(ints(default, itype))
    if weighted:
        inputs.append(rand((len(idx),), dtype, seed=2, low=-3, high=3))

    def build(ops, *p):
        return ops.embedding_bag_offsets_sum(*p)

    check_op(build, inputs, backend)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("case", OFFSET_CASES)
def test_embedding_bag_offsets(backend, case, reduction):
    idx, off, default, weighted = case
    if reduction == "mean" and weighted:
        weighted = False
    inputs = [table(np.float32), ints(idx), ints(off)]
    if default is not None:
        inputs.append(ints(default))
    if weighted:
        inputs.append(rand((len(idx),), seed=2))

    def build(ops, emb, *rest):
        return ops.embedding_bag_offsets(emb, *rest, reduction=reduction)

    check_op(build, inputs, backend)


# --- EmbeddingBagPackedSum / EmbeddingBagPacked -------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", TABLE_DTYPES)
def test_embedding_bag_packed_sum(backend, dtype, weighted):
    idx = ints([[0, 2, 5], [1, 1, 4]], np.int64)
    inputs = [table(dtype), idx] + ([rand(idx.shape, dtype, seed=3, low=-3, high=3)] if weighted else [])

    def build(ops, *p):
        return ops.embedding_bag_packed_sum(*p)

    check_op(build, inputs, backend)


@pytest.mark.parametrize("reduction,weighted", [("sum", False), ("sum", True), ("mean", False)])
def test_embedding_bag_packed(backend, reduction, weighted):
    idx = ints([[0, 2, 5], [1, 1, 4]])
    inputs = [table(np.float32, (6, 4)), idx] + ([rand(idx.shape, seed=3)] if weighted else [])

    def build(ops, emb, *rest):
        return ops.embedding_bag_packed(emb, *rest, reduction=reduction)

    check_op(build, inputs, backend)


# --- EmbeddingSegmentsSum -----------------------------------------------------------------------

SEGMENT_CASES = [
    # indices, segment_ids, num_segments, default_index, weights?
    ([0, 2, 3, 1], [0, 0, 2, 2], 4, None, False),
    ([0, 2, 3, 1], [0, 0, 2, 2], 4, 1, False),
    ([0, 2, 3, 1, 5], [0, 0, 2, 3, 3], 5, 5, True),
]


@pytest.mark.parametrize("dtype", TABLE_DTYPES)
@pytest.mark.parametrize("case", SEGMENT_CASES)
def test_embedding_segments_sum(backend, case, dtype):
    idx, seg, k, default, weighted = case
    emb = table(dtype)
    consts = [ints(idx), ints(seg), ints(k)] + ([ints(default)] if default is not None else [])
    w = [rand((len(idx),), dtype, seed=4, low=-3, high=3)] if weighted else []

    def build(ops, e, *wp):
        return ops.embedding_segments_sum(e, *(ops.constant(c) for c in consts), *wp)

    check_op(build, [emb, *w], backend)


# --- bad inputs ---------------------------------------------------------------------------------


def test_offsets_bad_inputs():
    e = art.parameter([6, 3], np.float32)
    with pytest.raises(ShapeInferenceError, match="indices.*rank 1"):
        art.embedding_bag_offsets_sum(e, ints([[0, 1]]), ints([0]))
    with pytest.raises(ShapeInferenceError, match="offsets.*integer"):
        art.embedding_bag_offsets_sum(e, ints([0, 1]), np.array([0.0], np.float32))
    with pytest.raises(ShapeInferenceError, match="per_sample_weights.*only be used"):
        art.embedding_bag_offsets(e, ints([0, 1]), ints([0]), ints(0), np.ones(2, np.float32), reduction="mean")
    with pytest.raises(ShapeInferenceError, match="per_sample_weights.*shape"):
        art.embedding_bag_offsets(e, ints([0, 1]), ints([0]), ints(0), np.ones(3, np.float32))


def test_packed_bad_inputs():
    e = art.parameter([6, 3], np.float32)
    with pytest.raises(ShapeInferenceError, match="indices.*rank 2"):
        art.embedding_bag_packed_sum(e, ints([0, 1]))
    with pytest.raises(ShapeInferenceError, match="element type of emb_table"):
        art.embedding_bag_packed(e, ints([[0, 1]]), np.ones((1, 2), np.float16))


def test_segments_bad_inputs():
    e = art.parameter([6, 3], np.float32)
    with pytest.raises(ShapeInferenceError, match="segment_ids.*shape"):
        art.embedding_segments_sum(e, ints([0, 1]), ints([0]), ints(2))
    with pytest.raises(ShapeInferenceError, match="num_segments.*>= 0"):
        art.embedding_segments_sum(e, ints([0, 1]), ints([0, 0]), ints(-1))


def _run_param_indices(build, emb, idx):
    def b(ops, e, i):
        return build(ops, e, i)
    from arrayrt.testing import build_arrayrt

    return run_arrayrt(build_arrayrt(b, [emb, idx]), [emb, idx])


@pytest.mark.parametrize("bad", [6, -1])
def test_out_of_range_indices_name_the_node(bad):
    emb = rand((6, 3))
    with pytest.raises(InferenceInputError, match=r"EmbeddingBagOffsetsSum.*index is out of range"):
        _run_param_indices(lambda ops, e, i: ops.embedding_bag_offsets_sum(e, i, ints([0, 1])), emb,
                           ints([0, bad]))
    with pytest.raises(InferenceInputError, match=r"EmbeddingBagPacked.*index is out of range"):
        _run_param_indices(lambda ops, e, i: ops.embedding_bag_packed(e, i, reduction="mean"), emb,
                           ints([[0, bad]]))
    with pytest.raises(InferenceInputError, match=r"EmbeddingSegmentsSum.*index is out of range"):
        _run_param_indices(lambda ops, e, i: ops.embedding_segments_sum(e, i, ints([0, 1]), ints(2)), emb,
                           ints([bad, 0]))


def test_out_of_range_offsets_segments_default():
    emb = rand((6, 3))
    with pytest.raises(InferenceInputError, match=r"EmbeddingBagOffsets.*offset is out of range"):
        _run_param_indices(lambda ops, e, i: ops.embedding_bag_offsets(e, ints([0, 1]), i), emb, ints([0, 3]))
    with pytest.raises(InferenceInputError, match=r"EmbeddingBagOffsetsSum.*must not decrease"):
        _run_param_indices(lambda ops, e, i: ops.embedding_bag_offsets_sum(e, ints([0, 1]), i), emb, ints([1, 0]))
    with pytest.raises(InferenceInputError, match=r"EmbeddingBagOffsetsSum.*default_index 6"):
        _run_param_indices(lambda ops, e, i: ops.embedding_bag_offsets_sum(e, ints([0, 1]), ints([0, 2, 2]), i),
                           emb, ints(6))
    with pytest.raises(InferenceInputError, match=r"EmbeddingSegmentsSum.*segment_ids must be sorted"):
        _run_param_indices(lambda ops, e, i: ops.embedding_segments_sum(e, ints([0, 1]), i, ints(2)), emb,
                           ints([1, 0]))
    with pytest.raises(InferenceInputError, match=r"EmbeddingSegmentsSum.*segment id is out of range"):
        _run_param_indices(lambda ops, e, i: ops.embedding_segments_sum(e, ints([0, 1]), i, ints(2)), emb,
                           ints([0, 2]))


def test_segments_num_segments_at_inference():
    """num_segments known only at inference: the first output dimension is dynamic."""
    emb = rand((6, 3))

    def build(ops, e, k):
        return ops.embedding_segments_sum(e, ints([0, 2, 3]), ints([0, 0, 2]), k)

    from arrayrt.testing import build_arrayrt

    model = build_arrayrt(build, [emb, ints(4)])
    assert not model.output(0).get_partial_shape()[0].is_static
    (got,) = run_arrayrt(model, [emb, ints(4)])
    want = np.zeros((4, 3), np.float32)
    want[0], want[2] = emb[0] + emb[2], emb[3]
    np.testing.assert_allclose(got, want, rtol=1e-6)
