"""CTCGreedyDecoder, CTCGreedyDecoderSeqLen, GatherTree, CTCLoss, Inverse.

The decoders pick the best class per time step (``argmax``), drop blanks and (optionally) repeats,
and pack what is left to the front of each sequence with a stable sort on "dropped", padding the
tail with -1. GatherTree walks the beam-search parents backwards, one time step per array call.
CTCLoss runs the CTC forward recursion in log space over the whole batch, one time step per call.
"""
from __future__ import annotations

import math
from typing import Any

from arrayrt.ir.graph import Node
from arrayrt.ir.ops._xp import dtype_of
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where

INDEX_TYPES = (Type.i32, Type.i64)

# --- helpers ------------------------------------------------------------------------------------


def _rank(node, i: int, want: int, what: str) -> PartialShape:
    """Input ``i``'s shape, checked to have rank ``want`` when its rank is known."""
    s = node.input_shape(i)
    if s.rank_is_static and len(s) != want:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have rank {want}, got shape {s}")
    return s


def _dims(s: PartialShape, n: int) -> list[Dimension]:
    return list(s) if s.rank_is_static else [Dimension() for _ in range(n)]


def _merge(node, a: Dimension, b: Dimension, what: str) -> Dimension:
    if not a.compatible(b):
        raise ShapeInferenceError(f"{where(node)}: {what} must match, got {a} and {b}")
    return a.merge(b)


def _check_real(node, i: int, what: str) -> Type:
    t = node.input_type(i)
    if t.is_static and not t.is_real:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must have a floating type, got {t}")
    return t


def _check_int(node, i: int, what: str) -> Type:
    t = node.input_type(i)
    if t.is_static and t not in INDEX_TYPES:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be i32 or i64, got {t}")
    return t


def _pack_front(xp, classes, keep, axis: int):
    """Kept entries of ``classes`` moved to the front along ``axis`` (order kept), the rest -1;
    and the number kept per sequence."""
    order = xp.argsort(xp.astype(xp.logical_not(keep), xp.int32), axis=axis, stable=True)
    vals = xp.take_along_axis(classes, order, axis=axis)
    count = xp.sum(xp.astype(keep, xp.int64), axis=axis, keepdims=True)
    n = classes.shape[axis]
    pos = xp.arange(n, dtype=xp.int64)
    pos = xp.reshape(pos, (n, 1) if axis == 0 else (1, n))
    out = xp.where(pos < count, vals, xp.asarray(-1, dtype=vals.dtype))
    return out, count


def _shift_prev(xp, classes, axis: int):
    """The class of the previous time step along ``axis`` (-1 before the first)."""
    first = xp.full((1, classes.shape[1]) if axis == 0 else (classes.shape[0], 1), -1, dtype=classes.dtype)
    if axis == 0:
        return xp.concat([first, classes[:-1, :]], axis=0)
    return xp.concat([first, classes[:, :-1]], axis=1)


# --- GatherTree ---------------------------------------------------------------------------------


def gather_tree_array(xp, step_ids, parent_idx, max_seq_len, end_token):
    t_max, batch, width = (int(d) for d in step_ids.shape)
    if t_max == 0 or batch == 0 or width == 0:
        return step_ids
    dt = step_ids.dtype
    end = xp.astype(xp.reshape(end_token, ()), dt)
    lens = xp.astype(max_seq_len, xp.int64)
    # OpenVINO's reference reads the length as size_t: a negative one is huge, so the whole time axis
    # (its CPU plugin leaves the output of a length below 1 undefined)
    lens = xp.where(lens < 0, xp.asarray(t_max, dtype=xp.int64), xp.clip(lens, 0, t_max))
    lens = xp.reshape(lens, (batch, 1))
    parent = xp.broadcast_to(xp.reshape(xp.arange(width, dtype=xp.int64), (1, width)), (batch, width))
    rows = []
    for level in range(t_max - 1, -1, -1):
        active = lens > level
        step = xp.take_along_axis(step_ids[level, ...], parent, axis=1)
        rows.append(xp.where(active, step, end))
        up = xp.astype(xp.take_along_axis(parent_idx[level, ...], parent, axis=1), xp.int64)
        parent = xp.where(active, up, parent)
    out = xp.stack(rows[::-1], axis=0)
    within = xp.reshape(xp.arange(t_max, dtype=xp.int64), (t_max, 1, 1)) < xp.reshape(lens, (1, batch, 1))
    hit = xp.astype((out == end) & within, xp.int32)
    seen = (xp.cumulative_sum(hit, axis=0) - hit) > 0
    return xp.where(seen & within, end, out)


@register
class GatherTree(OpDef):
    type_name, version, opset = "GatherTree", 1, "opset1"
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        t = Type.dynamic
        for i in range(4):
            ti = node.input_type(i)
            m = t.merge(ti)
            if m is None:
                raise ShapeInferenceError(f"{where(node)}: all inputs must have the same element type, "
                                          f"got {t} and {ti} (input {i})")
            t = m
        if t.is_static and not (t.is_real or t.is_integral_number):
            raise ShapeInferenceError(f"{where(node)}: the element type must be numeric, got {t}")
        steps = _dims(_rank(node, 0, 3, "step_ids"), 3)
        parents = _dims(_rank(node, 1, 3, "parent_idx"), 3)
        lens = _dims(_rank(node, 2, 1, "max_seq_len"), 1)
        _rank(node, 3, 0, "end_token")
        dims = [_merge(node, a, b, f"step_ids and parent_idx dimension {k}")
                for k, (a, b) in enumerate(zip(steps, parents))]
        dims[1] = _merge(node, dims[1], lens[0], "the batch dimension of step_ids and max_seq_len")
        return [(t, PartialShape(dims))]

    @staticmethod
    def compute(xp, step_ids, parent_idx, max_seq_len, end_token):
        return gather_tree_array(xp, step_ids, parent_idx, max_seq_len, end_token)


# --- CTCGreedyDecoder ---------------------------------------------------------------------------


def ctc_greedy_decoder_array(xp, data, sequence_mask, ctc_merge_repeated: bool):
    t_max, batch, n_classes = (int(d) for d in data.shape)
    if t_max == 0 or batch == 0:
        return xp.zeros((batch, t_max, 1, 1), dtype=data.dtype)
    classes = xp.argmax(data, axis=2)  # (T, N)
    # decoding stops at the first zero of the mask
    zeros = xp.astype(sequence_mask == 0, xp.int32)
    valid = xp.cumulative_sum(zeros, axis=0) == 0
    keep = valid & (classes < n_classes - 1)
    if ctc_merge_repeated:
        keep = keep & (classes != _shift_prev(xp, classes, 0))
    out, _ = _pack_front(xp, classes, keep, 0)
    return xp.reshape(xp.astype(xp.permute_dims(out, (1, 0)), data.dtype), (batch, t_max, 1, 1))


@register
class CTCGreedyDecoder(OpDef):
    type_name, version, opset = "CTCGreedyDecoder", 0, "opset1"
    attrs = (Attr("ctc_merge_repeated", "bool", True),)
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        t = _check_real(node, 0, "data")
        _check_real(node, 1, "sequence_mask")
        d = _dims(_rank(node, 0, 3, "data"), 3)
        m = _dims(_rank(node, 1, 2, "sequence_mask"), 2)
        time = _merge(node, d[0], m[0], "the time dimension of data and sequence_mask")
        batch = _merge(node, d[1], m[1], "the batch dimension of data and sequence_mask")
        return [(t, PartialShape([batch, time, 1, 1]))]

    @staticmethod
    def compute(xp, data, sequence_mask, ctc_merge_repeated):
        return ctc_greedy_decoder_array(xp, data, sequence_mask, ctc_merge_repeated)


# --- CTCGreedyDecoderSeqLen ---------------------------------------------------------------------


def ctc_greedy_decoder_seq_len_array(xp, data, sequence_length, blank_index, merge_repeated: bool,
                                     classes_dtype: Any, length_dtype: Any):
    batch, t_max, n_classes = (int(d) for d in data.shape)
    if t_max == 0 or batch == 0:
        return xp.zeros((batch, t_max), dtype=classes_dtype), xp.zeros((batch,), dtype=length_dtype)
    classes = xp.argmax(data, axis=2)  # (N, T)
    lens = xp.reshape(xp.astype(sequence_length, xp.int64), (batch, 1))
    valid = xp.reshape(xp.arange(t_max, dtype=xp.int64), (1, t_max)) < lens
    if blank_index is None:
        blank = xp.asarray(n_classes - 1, dtype=classes.dtype)
    else:
        blank = xp.astype(xp.reshape(blank_index, ()), classes.dtype)
    keep = valid & (classes != blank)
    if merge_repeated:
        keep = keep & (classes != _shift_prev(xp, classes, 1))
    out, count = _pack_front(xp, classes, keep, 1)
    return xp.astype(out, classes_dtype), xp.astype(xp.reshape(count, (batch,)), length_dtype)


@register
class CTCGreedyDecoderSeqLen(OpDef):
    type_name, version, opset = "CTCGreedyDecoderSeqLen", 6, "opset6"
    attrs = (Attr("merge_repeated", "bool", True), Attr("classes_index_type", "type", Type.i32),
             Attr("sequence_length_type", "type", Type.i32))
    n_inputs = (2, 3)
    n_outputs = 2

    @classmethod
    def check_attrs(cls, attrs, node):
        for name in ("classes_index_type", "sequence_length_type"):
            if attrs[name] not in INDEX_TYPES:
                raise OpAttributeError(f"{where(node)}: attribute '{name}' must be i32 or i64, got {attrs[name]}")

    @classmethod
    def infer(cls, node):
        _check_real(node, 0, "data")
        _check_int(node, 1, "sequence_length")
        d = _dims(_rank(node, 0, 3, "data"), 3)
        lens = _dims(_rank(node, 1, 1, "sequence_length"), 1)
        batch = _merge(node, d[0], lens[0], "the batch dimension of data and sequence_length")
        if node.get_input_size() == 3:
            _check_int(node, 2, "blank_index")
            s = node.input_shape(2)
            if s.rank_is_static and not (len(s) == 0 or (len(s) == 1 and s[0].compatible(Dimension(1)))):
                raise ShapeInferenceError(f"{where(node)}: input 2 (blank_index) must be a scalar or have "
                                          f"shape [1], got {s}")
        ct, lt = node.attrs["classes_index_type"], node.attrs["sequence_length_type"]
        return [(ct, PartialShape([batch, d[1]])), (lt, PartialShape([batch]))]

    @classmethod
    def compute_attrs(cls, node):
        return {"merge_repeated": node.attrs["merge_repeated"],
                "classes_index_type": node.attrs["classes_index_type"],
                "sequence_length_type": node.attrs["sequence_length_type"]}

    @staticmethod
    def compute(xp, data, sequence_length, blank_index=None, merge_repeated=True, classes_index_type=Type.i32,
                sequence_length_type=Type.i32):
        return ctc_greedy_decoder_seq_len_array(xp, data, sequence_length, blank_index, merge_repeated,
                                                dtype_of(xp, classes_index_type),
                                                dtype_of(xp, sequence_length_type))


# --- CTCLoss ------------------------------------------------------------------------------------


def _decode_targets(xp, labels, label_length, collapse: bool, unique: bool):
    """The targets as OpenVINO reads them: (labels packed to the front, their lengths)."""
    batch, t_max = (int(d) for d in labels.shape)
    pos = xp.reshape(xp.arange(t_max, dtype=xp.int64), (1, t_max))
    keep = pos < xp.reshape(label_length, (batch, 1))
    if unique:  # the first occurrence of each label
        same = xp.reshape(labels, (batch, t_max, 1)) == xp.reshape(labels, (batch, 1, t_max))
        earlier = xp.reshape(pos, (1, 1, t_max)) < xp.reshape(pos, (1, t_max, 1))
        keep = keep & xp.logical_not(xp.any(same & earlier, axis=2))
    elif collapse:  # runs of one label become one
        keep = keep & (labels != _shift_prev(xp, labels, 1))
    packed, count = _pack_front(xp, labels, keep, 1)
    return xp.where(packed < 0, xp.zeros_like(packed), packed), xp.reshape(count, (batch,))


def _lse(xp, *terms):
    """log(sum(exp(terms))), -inf when every term is -inf."""
    big = terms[0]
    for t in terms[1:]:
        big = xp.maximum(big, t)
    none = xp.isinf(big)
    safe = xp.where(none, xp.zeros_like(big), big)
    total = xp.exp(terms[0] - safe)
    for t in terms[1:]:
        total = total + xp.exp(t - safe)
    return xp.where(none, big, xp.log(xp.where(none, xp.ones_like(total), total)) + safe)


def ctc_loss_array(xp, logits, logit_length, labels, label_length, blank_index, preprocess_collapse_repeated: bool,
                   ctc_merge_repeated: bool, unique: bool):
    batch, t_max, n_classes = (int(d) for d in logits.shape)
    dt = logits.dtype
    if batch == 0 or t_max == 0:  # no time steps: every target is empty, its loss 0
        return xp.zeros((batch,), dtype=dt)
    wide = dt if dt in (xp.float32, xp.float64) else xp.float32
    x = xp.astype(logits, wide)
    big = xp.max(x, axis=2, keepdims=True)
    logp = x - (xp.log(xp.sum(xp.exp(x - big), axis=2, keepdims=True)) + big)
    labels = xp.astype(labels, xp.int64)
    lab_len = xp.clip(xp.astype(label_length, xp.int64), 0, t_max)
    logit_len = xp.clip(xp.astype(logit_length, xp.int64), 0, t_max)
    target, n_target = _decode_targets(xp, labels, lab_len, preprocess_collapse_repeated, unique)
    if blank_index is None:
        blank = xp.full((batch, 1), n_classes - 1, dtype=xp.int64)
    else:
        blank = xp.full((batch, 1), 0, dtype=xp.int64) + xp.astype(xp.reshape(blank_index, ()), xp.int64)
    ninf = xp.asarray(-math.inf, dtype=wide)
    running = xp.reshape(logit_len, (batch, 1)) > xp.reshape(xp.arange(t_max, dtype=xp.int64), (1, t_max))
    if ctc_merge_repeated:
        # states: blank, label 0, blank, label 1, ..., blank (2L + 1); a label may span several steps and
        # two equal labels in a row need a blank between them
        n_states = 2 * t_max + 1
        state = xp.reshape(xp.arange(n_states, dtype=xp.int64), (1, n_states))
        is_label = (state % 2) == 1
        which = xp.broadcast_to(xp.clip((state - 1) // 2, 0, t_max - 1), (batch, n_states))
        label = xp.take_along_axis(target, which, axis=1)
        lab_prev = xp.concat([xp.full((batch, 1), -1, dtype=xp.int64), target[:, :-1]], axis=1)
        may_skip = is_label & (state >= 3) & (label != xp.take_along_axis(lab_prev, which, axis=1))
        skip = xp.where(may_skip, xp.asarray(0.0, dtype=wide), ninf)
        ext = xp.where(is_label, label, blank)
        # log-probability of each state per step (N, T, S); states past the target's last one only feed
        # states further on, never read
        ext_lp = xp.take_along_axis(logp, xp.broadcast_to(xp.reshape(ext, (batch, 1, n_states)),
                                                          (batch, t_max, n_states)), axis=2)
        pad = xp.full((batch, 1), -math.inf, dtype=wide)
        init = xp.where(state == 0, xp.asarray(0.0, dtype=wide), ninf)
        alpha = xp.where(running[:, 0:1], xp.where(state <= 1, ext_lp[:, 0, :], ninf), init)
        for t in range(1, t_max):
            one = xp.concat([pad, alpha[:, :-1]], axis=1)
            two = xp.concat([pad, pad, alpha[:, :-2]], axis=1) + skip
            new = _lse(xp, alpha, one, two) + ext_lp[:, t, :]
            alpha = xp.where(running[:, t:t + 1], new, alpha)
        last = xp.reshape(2 * n_target, (batch, 1))
        end = xp.take_along_axis(alpha, last, axis=1)
        before = xp.take_along_axis(alpha, xp.clip(last - 1, 0, n_states - 1), axis=1)
        total = xp.reshape(xp.where(last > 0, xp.logaddexp(end, before), end), (batch,))
    else:
        # every label takes exactly one step, every other step is blank; state k: k labels emitted.
        # log-probabilities of each target label and of the blank per step: (N, T, L), (N, T)
        lab_lp = xp.take_along_axis(logp, xp.broadcast_to(xp.reshape(target, (batch, 1, t_max)),
                                                          (batch, t_max, t_max)), axis=2)
        blank_lp = xp.reshape(xp.take_along_axis(logp, xp.broadcast_to(xp.reshape(blank, (batch, 1, 1)),
                                                                       (batch, t_max, 1)), axis=2), (batch, t_max))
        n_states = t_max + 1
        state = xp.reshape(xp.arange(n_states, dtype=xp.int64), (1, n_states))
        pad = xp.full((batch, 1), -math.inf, dtype=wide)
        beta = xp.where(state == 0, xp.zeros((batch, n_states), dtype=wide), xp.full((batch, n_states), -math.inf,
                                                                                      dtype=wide))
        for t in range(t_max):
            stay = beta + xp.reshape(blank_lp[:, t], (batch, 1))
            move = xp.concat([pad, beta[:, :-1] + lab_lp[:, t, :]], axis=1)
            # states past the target's length are never read: no mask needed
            beta = xp.where(running[:, t:t + 1], xp.logaddexp(stay, move), beta)
        total = xp.reshape(xp.take_along_axis(beta, xp.reshape(n_target, (batch, 1)), axis=1), (batch,))
    # OpenVINO's loss of an empty target is 0
    loss = xp.where(n_target == 0, xp.zeros_like(total), -total)
    return xp.astype(loss, dt)


@register
class CTCLoss(OpDef):
    type_name, version, opset = "CTCLoss", 4, "opset4"
    attrs = (Attr("preprocess_collapse_repeated", "bool", False), Attr("ctc_merge_repeated", "bool", True),
             Attr("unique", "bool", False))
    n_inputs = (4, 5)

    @classmethod
    def infer(cls, node):
        t = _check_real(node, 0, "logits")
        names = ("logit_length", "labels", "label_length", "blank_index")
        for i in range(1, node.get_input_size()):
            _check_int(node, i, names[i - 1])
        lg = _dims(_rank(node, 0, 3, "logits"), 3)
        ll = _dims(_rank(node, 1, 1, "logit_length"), 1)
        lb = _dims(_rank(node, 2, 2, "labels"), 2)
        ln = _dims(_rank(node, 3, 1, "label_length"), 1)
        if node.get_input_size() == 5:
            _rank(node, 4, 0, "blank_index")
        batch = lg[0]
        for d, what in ((ll[0], "logit_length"), (lb[0], "labels"), (ln[0], "label_length")):
            batch = _merge(node, batch, d, f"the batch dimension of logits and {what}")
        _merge(node, lg[1], lb[1], "the time dimension of logits and labels")
        return [(t, PartialShape([batch]))]

    @staticmethod
    def compute(xp, logits, logit_length, labels, label_length, blank_index=None, preprocess_collapse_repeated=False,
                ctc_merge_repeated=True, unique=False):
        return ctc_loss_array(xp, logits, logit_length, labels, label_length, blank_index,
                              preprocess_collapse_repeated, ctc_merge_repeated, unique)


# --- Inverse ------------------------------------------------------------------------------------


def inverse_array(xp, data, adjoint: bool):
    dt = data.dtype
    wide = dt if dt in (xp.float32, xp.float64) else xp.float32
    x = xp.astype(data, wide) if wide != dt else data
    out = xp.linalg.inv(x)
    if adjoint:
        out = xp.matrix_transpose(out)
    return xp.astype(out, dt) if wide != dt else out


@register
class Inverse(OpDef):
    type_name, version, opset = "Inverse", 14, "opset14"
    attrs = (Attr("adjoint", "bool", False),)

    @classmethod
    def infer(cls, node):
        t = _check_real(node, 0, "data")
        s = node.input_shape(0)
        if not s.rank_is_static:
            return [(t, s)]
        if len(s) < 2:
            raise ShapeInferenceError(f"{where(node)}: the input must have rank 2 or more, got shape {s}")
        dims = list(s)
        sq = _merge(node, dims[-2], dims[-1], "the last two dimensions (square matrices)")
        dims[-2] = dims[-1] = sq
        return [(t, PartialShape(dims))]

    @staticmethod
    def compute(xp, data, adjoint):
        return inverse_array(xp, data, adjoint)


# --- factories ----------------------------------------------------------------------------------


@factory
def gather_tree(step_ids, parent_idx, max_seq_len, end_token, name: str | None = None) -> Node:
    return make("GatherTree", [step_ids, parent_idx, max_seq_len, end_token], {}, name)


@factory
def ctc_greedy_decoder(data, sequence_mask, merge_repeated: bool = True, name: str | None = None) -> Node:
    return make("CTCGreedyDecoder", [data, sequence_mask], {"ctc_merge_repeated": merge_repeated}, name)


@factory
def ctc_greedy_decoder_seq_len(data, sequence_length, blank_index=None, merge_repeated: bool = True,
                               classes_index_type: str = "i32", sequence_length_type: str = "i32",
                               name: str | None = None) -> Node:
    inputs = [data, sequence_length] + ([] if blank_index is None else [blank_index])
    return make("CTCGreedyDecoderSeqLen", inputs,
                {"merge_repeated": merge_repeated, "classes_index_type": classes_index_type,
                 "sequence_length_type": sequence_length_type}, name)


@factory
def inverse(data, adjoint: bool = False, name: str | None = None) -> Node:
    return make("Inverse", [data], {"adjoint": adjoint}, name)


@factory
def ctc_loss(logits, logit_length, labels, label_length, blank_index=None, preprocess_collapse_repeated: bool = False,
             ctc_merge_repeated: bool = True, unique: bool = False, name: str | None = None) -> Node:
    inputs = [logits, logit_length, labels, label_length] + ([] if blank_index is None else [blank_index])
    return make("CTCLoss", inputs, {"preprocess_collapse_repeated": preprocess_collapse_repeated,
                                    "ctc_merge_repeated": ctc_merge_repeated, "unique": unique}, name)
