"""Decoding ops (GatherTree, CTCGreedyDecoder, CTCGreedyDecoderSeqLen, CTCLoss, Inverse) against real
OpenVINO. Variants of one op share a model (one Parameter set per variant) so each backend compiles
once per test; on a mismatch the variants are re-checked one by one to name the failing one."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt.opset as ar
from arrayrt.errors import OpAttributeError, ShapeInferenceError
from arrayrt.testing import check_op, check_table, rand

I32, I64, F32 = np.int32, np.int64, np.float32


def outs(node):
    """Every output of a node, for either builder."""
    return list(node.outputs())


def check_cases(build_one, cases, inputs_for, backend, **kw):
    """``check_table`` with the inputs of each case given."""
    check_table(build_one, cases, backend, inputs_for, **kw)


# --- GatherTree ---------------------------------------------------------------------------------


def beams(shape, dtype, seed=0, end=1):
    t, b, w = shape
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, 5, size=(t, b, w)).astype(dtype)
    parents = rng.integers(0, w, size=(t, b, w)).astype(dtype)
    # lengths past the time axis are clipped; OpenVINO's CPU leaves the output of a length 0 undefined
    lens = rng.integers(1, t + 2, size=(b,)).astype(dtype)
    return [steps, parents, lens, np.asarray(end, dtype)]


TREES = [(s, d) for d in (I32, F32) for s in [(5, 3, 4), (1, 1, 1), (4, 2, 3)]]


def test_gather_tree(backend):
    check_cases(lambda ops, c, s, p, m, e: ops.gather_tree(s, p, m, e), TREES, lambda c: beams(*c), backend)


def test_gather_tree_end_token_in_path(backend):
    # an early end token ends the sequence: everything after it becomes end_token
    steps = np.array([[[1, 2]], [[3, 3]], [[4, 5]], [[6, 7]]], I32)
    parents = np.zeros_like(steps)
    parents[..., 1] = 1
    check_op(lambda ops, s, p, m, e: ops.gather_tree(s, p, m, e),
             [steps, parents, np.array([4], I32), np.array(3, I32)], backend)


def test_gather_tree_rejects_bad_inputs():
    s = ar.parameter([3, 2, 2], I32)
    with pytest.raises(ShapeInferenceError, match="same element type"):
        ar.gather_tree(s, s, ar.parameter([2], I64), np.array(1, I32))
    with pytest.raises(ShapeInferenceError, match="end_token.*rank 0"):
        ar.gather_tree(s, s, ar.parameter([2], I32), np.array([1], I32))
    with pytest.raises(ShapeInferenceError, match="batch dimension"):
        ar.gather_tree(s, s, ar.parameter([3], I32), np.array(1, I32))


# --- CTCGreedyDecoder ---------------------------------------------------------------------------


def ctc_inputs(shape, seed=0):
    t, n, c = shape
    data = rand((t, n, c), seed=seed)
    data[1::3] = data[0::3][: data[1::3].shape[0]]  # repeated steps, so that merging matters
    mask = np.ones((t, n), F32)
    for b in range(n):
        mask[(b * 2 + 1) % (t + 1):, b] = 0
    mask[-1, 0] = 1  # a one after a zero: decoding stopped already
    return [data, mask]


GREEDY = [(m, s) for m in (True, False) for s in [(6, 3, 4), (1, 1, 2), (9, 2, 3)]]


def test_ctc_greedy_decoder(backend):
    check_cases(lambda ops, c, d, m: ops.ctc_greedy_decoder(d, m, c[0]), GREEDY, lambda c: ctc_inputs(c[1]),
                backend)


def test_ctc_greedy_decoder_repeats_and_blanks(backend):
    # classes per step: 0 0 2(blank) 0 1 1 -> merged 0 0 1, unmerged 0 0 0 0 1 1
    data = np.eye(3, dtype=F32)[[0, 0, 2, 0, 1, 1]].reshape(6, 1, 3)
    mask = np.ones((6, 1), F32)
    check_cases(lambda ops, c, d, m: ops.ctc_greedy_decoder(d, m, c), [True, False], lambda c: [data, mask],
                backend)


def test_ctc_greedy_decoder_rejects_bad_shapes():
    with pytest.raises(ShapeInferenceError, match="time dimension"):
        ar.ctc_greedy_decoder(ar.parameter([4, 2, 3], F32), ar.parameter([5, 2], F32))
    with pytest.raises(ShapeInferenceError, match="rank 3"):
        ar.ctc_greedy_decoder(ar.parameter([4, 2], F32), ar.parameter([4, 2], F32))


# --- CTCGreedyDecoderSeqLen ---------------------------------------------------------------------


def seq_inputs(n, t, c, len_dtype=I32, seed=0):
    data = rand((n, t, c), seed=seed)
    data[:, 1::2] = data[:, 0::2][:, : data[:, 1::2].shape[1]]
    lens = (np.arange(n) * 2 + 1) % (t + 1)
    return [data, lens.astype(len_dtype)]


SEQ_LEN = [(m, types) for m in (True, False) for types in [("i32", "i32"), ("i64", "i32"), ("i32", "i64")]]


def test_ctc_greedy_decoder_seq_len(backend):
    check_cases(lambda ops, c, d, s: outs(ops.ctc_greedy_decoder_seq_len(d, s, None, c[0], *c[1])), SEQ_LEN,
                lambda c: seq_inputs(3, 7, 4), backend)


BLANKS = [(b, m) for b in (np.array(0, I32), np.array([2], I64), np.array(5, I32)) for m in (True, False)]


def test_ctc_greedy_decoder_seq_len_blank(backend):
    check_cases(lambda ops, c, d, s: outs(ops.ctc_greedy_decoder_seq_len(d, s, c[0], c[1])), BLANKS,
                lambda c: seq_inputs(4, 6, 5, I64, seed=3), backend)


def test_ctc_greedy_decoder_seq_len_runtime_blank(backend):
    check_op(lambda ops, d, s, b: outs(ops.ctc_greedy_decoder_seq_len(d, s, b, True, "i64", "i64")),
             seq_inputs(2, 5, 3) + [np.array(1, I32)], backend)


def test_ctc_greedy_decoder_seq_len_rejects_bad_inputs():
    d = ar.parameter([2, 5, 3], F32)
    with pytest.raises(ShapeInferenceError, match="batch dimension"):
        ar.ctc_greedy_decoder_seq_len(d, ar.parameter([3], I32))
    with pytest.raises(ShapeInferenceError, match="must be i32 or i64"):
        ar.ctc_greedy_decoder_seq_len(d, ar.parameter([2], F32))
    with pytest.raises(ShapeInferenceError, match="blank_index"):
        ar.ctc_greedy_decoder_seq_len(d, ar.parameter([2], I32), np.array([1, 2], I32))
    with pytest.raises(OpAttributeError, match="classes_index_type"):
        ar.ctc_greedy_decoder_seq_len(d, ar.parameter([2], I32), None, True, "f32")


# --- CTCLoss ------------------------------------------------------------------------------------


def loss_inputs(n, t, c, idx=I32, seed=0):
    rng = np.random.default_rng(seed)
    logits = rand((n, t, c), seed=seed)
    logit_len = rng.integers(t // 2 + 1, t + 1, size=n)
    label_len = np.maximum(np.minimum(rng.integers(1, t + 1, size=n), logit_len // 2), 1)
    labels = rng.integers(0, c - 1, size=(n, t))
    labels[:, 1] = labels[:, 0]  # a repeated label
    labels[:, 3::4] = labels[:, 0:1]  # and one seen before
    return [logits, logit_len.astype(idx), labels.astype(idx), label_len.astype(idx)]


# (preprocess_collapse_repeated, ctc_merge_repeated, unique); unique alone in the next tests
CTC_ATTRS = [(False, True, False), (True, True, False), (False, False, False), (True, False, True)]


def test_ctc_loss(backend):  # i32 lengths and labels; test_ctc_loss_blank_index has i64
    check_cases(lambda ops, c, lg, ll, lb, ln: ops.ctc_loss(lg, ll, lb, ln, None, *c), CTC_ATTRS,
                lambda c: loss_inputs(3, 6, 4, I32), backend, rtol=1e-4, atol=1e-4)


def test_ctc_loss_blank_index(backend):
    inputs = loss_inputs(2, 5, 5, I64, seed=2)
    inputs[2][inputs[2] == 1] = 4  # class 4 is a label here, class 1 the blank
    check_cases(lambda ops, c, lg, ll, lb, ln: ops.ctc_loss(lg, ll, lb, ln, np.array(1, I64), False, c),
                [True, False], lambda c: inputs, backend, rtol=1e-4, atol=1e-4)


def test_ctc_loss_full_length_and_runtime_blank(backend):
    # labels as long as the logits allow (row 1 too long to fit unless collapsed: an infinite loss), a label
    # seen before (unique drops it), and the blank index as an input
    logits = rand((2, 5, 3), seed=4)
    labels = np.array([[0, 1, 0, 1, 0], [1, 1, 0, 0, 1]], I32)
    check_cases(lambda ops, c, lg, ll, lb, ln, b: ops.ctc_loss(lg, ll, lb, ln, b, *c),
                [(False, True, False), (True, True, False), (False, True, True), (False, False, True)],
                lambda c: [logits, np.array([5, 5], I32), labels, np.array([5, 4], I32), np.array(2, I32)],
                backend, rtol=1e-4, atol=1e-4)


def test_ctc_loss_rejects_bad_inputs():
    lg = ar.parameter([2, 5, 3], F32)
    n2 = ar.parameter([2], I32)
    with pytest.raises(ShapeInferenceError, match="time dimension"):
        ar.ctc_loss(lg, n2, ar.parameter([2, 4], I32), n2)
    with pytest.raises(ShapeInferenceError, match="batch dimension"):
        ar.ctc_loss(lg, ar.parameter([3], I32), ar.parameter([2, 5], I32), n2)
    with pytest.raises(ShapeInferenceError, match="must be i32 or i64"):
        ar.ctc_loss(lg, n2, ar.parameter([2, 5], F32), n2)
    with pytest.raises(ShapeInferenceError, match="floating"):
        ar.ctc_loss(ar.parameter([2, 5, 3], I32), n2, ar.parameter([2, 5], I32), n2)


# --- Inverse ------------------------------------------------------------------------------------


def matrices(shape, seed=0):
    return rand(shape, seed=seed) + 3 * np.eye(shape[-1], dtype=F32)  # well conditioned


INVERSES = [(a, s) for a in (False, True) for s in [(3, 3), (2, 4, 4), (2, 1, 2, 2), (1, 1)]]


def test_inverse(backend):
    check_cases(lambda ops, c, x: ops.inverse(x, c[0]), INVERSES, lambda c: [matrices(c[1])], backend,
                rtol=1e-4, atol=1e-5)


def test_inverse_rejects_bad_inputs():
    with pytest.raises(ShapeInferenceError, match="square"):
        ar.inverse(ar.parameter([2, 3, 4], F32))
    with pytest.raises(ShapeInferenceError, match="rank 2"):
        ar.inverse(ar.parameter([3], F32))
    with pytest.raises(ShapeInferenceError, match="floating"):
        ar.inverse(ar.parameter([3, 3], I32))
