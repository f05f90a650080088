"""arrayrt's extension ops for ONNX (op set arrayrt1): sequences, optionals, strings, ai.onnx.ml.
OpenVINO has none of them, so the expected values are computed by hand / with numpy. Plans are
built and run directly (sequence values are lists, optionals None or a value)."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends import get_backend
from arrayrt.ir.ops._xp import to_numpy
from arrayrt.ir.ops.factory import make
from arrayrt.ir.ops.sequence import OPTIONAL_SEQUENCE, OPTIONAL_TENSOR, SEQUENCE, set_value_kind, value_kind
from arrayrt.ir.shape import PartialShape

import arrayrt
import arrayrt.opset as ops
from arrayrt.errors import ArrayrtError, ShapeInferenceError
from arrayrt.executor import build_plan
from arrayrt.testing import rand


def run(outputs, params, inputs, backend):
    be = get_backend(backend)()
    model = arrayrt.Model(outputs if isinstance(outputs, list) else [outputs], params)
    plan = build_plan(model, be)
    res = plan(*[v if isinstance(v, list) or v is None else be.to_device(np.asarray(v)) for v in inputs])

    def host(v):
        return v if v is None else [to_numpy(e) for e in v] if isinstance(v, list) else to_numpy(v)

    return [host(v) for v in res]


def p(shape, dtype=np.float32):
    return ops.parameter(shape, dtype)


def i64(v):
    return ops.constant(np.int64(v))


def test_construct_insert_at_erase_length(backend):
    a, b, c = p([2]), p([3]), p([2])
    seq = make("SequenceConstruct", [a, b])
    assert value_kind(seq.output(0)) == SEQUENCE
    assert str(seq.output(0).get_partial_shape()) == "[2..3]"
    front = make("SequenceInsert", [seq, c, i64(0)])
    back = make("SequenceInsert", [front, a])
    erased = make("SequenceErase", [back, i64(1)])
    outs = [back, make("SequenceAt", [back, i64(-1)]), make("SequenceLength", [back]),
            erased, make("SequenceErase", [erased])]
    x, y, z = rand((2,), seed=1), rand((3,), seed=2), rand((2,), seed=3)
    got = run(outs, [a, b, c], [x, y, z], backend)
    for g, e in zip(got[0], [z, x, y, x]):
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(got[1], x)
    assert got[2] == 4 and got[2].dtype == np.int64
    assert [g.shape for g in got[3]] == [(2,), (3,), (2,)]
    assert [g.shape for g in got[4]] == [(2,), (3,)]


def test_positions_out_of_range_fail(backend):
    a = p([2])
    seq = make("SequenceConstruct", [a])
    with pytest.raises(ArrayrtError, match="out of range"):
        run([make("SequenceAt", [seq, i64(1)])], [a], [rand((2,))], backend)
    with pytest.raises(ArrayrtError, match="out of range"):
        run([make("SequenceInsert", [seq, a, i64(3)])], [a], [rand((2,))], backend)


def test_empty_sequence_and_types(backend):
    empty = make("SequenceEmpty", [], {"element_type": "i32"})
    x = p([3], np.int32)
    grown = make("SequenceInsert", [empty, x])
    assert grown.output(0).get_element_type() == arrayrt.Type.i32
    assert grown.output(0).get_partial_shape() == PartialShape([3])
    got = run([grown, make("SequenceLength", [empty])], [x], [np.arange(3, dtype=np.int32)], backend)
    assert len(got[0]) == 1 and got[1] == 0
    with pytest.raises(ShapeInferenceError, match="share one element type"):
        make("SequenceInsert", [empty, p([3])])
    with pytest.raises(ShapeInferenceError, match="must be a sequence"):
        make("SequenceAt", [x, i64(0)])


@pytest.mark.parametrize("split, keepdims, sizes", [
    (None, True, [1, 1, 1, 1, 1, 1]), (None, False, None), (2, True, [2, 2, 2]), (4, True, [4, 2]),
    ([1, 2, 3], True, [1, 2, 3])])
def test_split_to_sequence(split, keepdims, sizes, backend):
    x = rand((3, 6), seed=4)
    data = p([3, 6])
    inputs = [data] + ([] if split is None else [ops.constant(np.asarray(split, np.int64))])
    seq = make("SplitToSequence", inputs, {"axis": 1, "keepdims": keepdims})
    got = run([seq], [data], [x], backend)[0]
    if sizes is None:
        assert [g.shape for g in got] == [(3,)] * 6
        np.testing.assert_array_equal(np.stack(got, 1), x)
        return
    assert [g.shape[1] for g in got] == sizes
    np.testing.assert_array_equal(np.concatenate(got, 1), x)


@pytest.mark.parametrize("axis, new_axis", [(0, False), (1, False), (-1, True), (0, True)])
def test_concat_from_sequence(axis, new_axis, backend):
    a, b = p([2, 3]), p([2, 3])
    out = make("ConcatFromSequence", [make("SequenceConstruct", [a, b])], {"axis": axis, "new_axis": new_axis})
    x, y = rand((2, 3), seed=5), rand((2, 3), seed=6)
    want = np.stack([x, y], axis) if new_axis else np.concatenate([x, y], axis)
    got = run([out], [a, b], [x, y], backend)[0]
    np.testing.assert_array_equal(got, want)
    assert out.output(0).get_partial_shape().rank.get_length() == want.ndim


def test_optionals(backend):
    x = p([2])
    some = make("Optional", [x])
    none = make("Optional", [], {"element_type": "f32", "element_shape": [2], "element_kind": "sequence"})
    assert value_kind(some.output(0)) == OPTIONAL_TENSOR
    assert value_kind(none.output(0)) == OPTIONAL_SEQUENCE
    outs = [some, none, make("OptionalHasElement", [some]), make("OptionalHasElement", [none]),
            make("OptionalHasElement", []), make("OptionalGetElement", [some])]
    got = run(outs, [x], [np.ones(2, np.float32)], backend)
    assert got[1] is None
    assert [bool(g) for g in got[2:5]] == [True, False, False]
    np.testing.assert_array_equal(got[5], np.ones(2))
    with pytest.raises(ArrayrtError, match="the optional is empty"):
        run([make("OptionalGetElement", [none])], [x], [np.ones(2, np.float32)], backend)


def test_sequence_parameters_and_if_outputs(backend):
    """A Parameter marked as a sequence feeds sequence ops; an If passes the kind through."""
    s = p([3])
    set_value_kind(s.output(0), SEQUENCE)
    assert value_kind(ops.result(s).output(0)) == SEQUENCE
    c = p([], np.bool_)
    iff = ops.if_op(c)
    ts = p([3])
    set_value_kind(ts.output(0), SEQUENCE)
    then = arrayrt.Model([make("SequenceErase", [ts])], [ts], "then")
    es = p([3])
    set_value_kind(es.output(0), SEQUENCE)
    else_ = arrayrt.Model([make("SequenceInsert", [es, make("SequenceAt", [es, i64(0)])])], [es], "else")
    iff.set_then_body(then)
    iff.set_else_body(else_)
    iff.set_input(s.output(0), ts, es)
    out = iff.set_output(then.get_results()[0], else_.get_results()[0])
    assert value_kind(out) == SEQUENCE
    seq = [rand((3,), seed=7), rand((3,), seed=8)]
    assert len(run([out], [c, s], [np.array(True), seq], backend)[0]) == 1
    got = run([out], [c, s], [np.array(False), seq], backend)[0]
    assert len(got) == 3
    np.testing.assert_array_equal(got[2], seq[0])


# --- strings: numpy object arrays, computed by the kernels directly -------------------------------
def strings(*v, shape=None):
    a = np.array(list(v), dtype=object)
    return a.reshape(shape) if shape else a


def kernel_run(node, *inputs):
    return node.op.kernel(np, node)(*inputs)


@pytest.mark.parametrize("attrs, x, want", [
    ({"case_change_action": "LOWER"}, strings("A", "bB"), strings("a", "bb")),
    ({"case_change_action": "UPPER", "stopwords": ["monday"]}, strings("Monday", "x", shape=(1, 2)),
     strings("X", shape=(1, 1))),
    ({"is_case_sensitive": True, "stopwords": ["monday"]}, strings("Monday", "monday"), strings("Monday")),
    ({"stopwords": ["a"]}, strings("A", "a"), strings("")),
])
def test_string_normalizer(attrs, x, want):
    node = make("StringNormalizer", [ops.parameter(list(x.shape), "string")], attrs)
    got = kernel_run(node, x)
    assert got.shape == want.shape and got.tolist() == want.tolist()


def test_regex_concat_split():
    x = strings("ab12", "ab", "", shape=(3,))
    node = make("RegexFullMatch", [ops.parameter([3], "string")], {"pattern": r"[a-z]+\d*"})
    assert kernel_run(node, x).tolist() == [True, True, False]
    node = make("StringConcat", [ops.parameter([3], "string"), ops.parameter([1], "string")])
    assert node.output(0).get_partial_shape() == PartialShape([3])
    assert kernel_run(node, x, strings("!")).tolist() == ["ab12!", "ab!", "!"]
    node = make("StringSplit", [ops.parameter([2], "string")], {"delimiter": "-", "maxsplit": 1})
    parts, counts = kernel_run(node, strings("a-b-c", "d"))
    assert parts.tolist() == [["a", "b-c"], ["d", ""]] and counts.tolist() == [2, 1]
    node = make("StringSplit", [ops.parameter([2], "string")])
    parts, counts = kernel_run(node, strings("  a  b ", ""))
    assert parts.tolist() == [["a", "b"], ["", ""]] and counts.tolist() == [2, 0]
    with pytest.raises(ArrayrtError, match="not a valid regex"):
        make("RegexFullMatch", [ops.parameter([3], "string")], {"pattern": "("})


# --- ai.onnx.ml ----------------------------------------------------------------------------------
def test_label_encoder(backend):
    x = p([5])
    keys, values = np.array([1.0, np.nan, 3.0], np.float32), np.array([10, 20, 30], np.int64)
    node = make("LabelEncoder", [x, keys, values, np.int64(-1)])
    got = run([node], [x], [np.array([3, np.nan, 2, 1, 1], np.float32)], backend)[0]
    np.testing.assert_array_equal(got, [30, 20, -1, 10, 10])
    s = ops.parameter([3], "string")
    node = make("LabelEncoder", [s, strings("a", "b"), np.array([1, 2], np.int64), np.int64(0)])
    assert kernel_run(node, strings("b", "z", "a"), strings("a", "b"), np.array([1, 2]), np.int64(0)).tolist() \
        == [2, 0, 1]


def test_tfidf_vectorizer(backend):
    """Pool: unigrams 2, 3; bigrams (5, 4) and (6, 7) at skips up to 1."""
    attrs = {"mode": "TF", "min_gram_length": 1, "max_gram_length": 2, "max_skip_count": 1,
             "ngram_counts": [0, 2], "ngram_indexes": [0, 1, 2, 3]}
    x = p([2, 6], np.int32)
    node = make("TfIdfVectorizer", [x, np.array([2, 3, 5, 4, 6, 7], np.int64)], attrs)
    data = np.array([[2, 5, 4, 5, 9, 4], [6, 7, 6, 1, 7, 3]], np.int32)
    got = run([node], [x], [data], backend)[0]
    np.testing.assert_array_equal(got, [[1, 0, 2, 0], [0, 1, 0, 2]])
    node = make("TfIdfVectorizer", [x, np.array([2, 3, 5, 4, 6, 7], np.int64)],
                {**attrs, "mode": "TFIDF", "weights": [1, 2, 3, 4]})
    np.testing.assert_array_equal(run([node], [x], [data], backend)[0], [[1, 0, 6, 0], [0, 2, 0, 8]])


def test_tree_ensemble(backend):
    """One tree: x0 <= 1 ? leaf 0 : (x1 in {2, 5} ? leaf 1 : leaf 2); a second tree is a leaf."""
    x = p([3, 2])
    tables = [np.array([0, 1], np.int64), np.array([1, 0], np.float32), np.array([0, 6], np.int64),
              np.array([2, 3], np.int64), np.array([1, 4], np.int64),
              np.array([[np.nan, np.nan], [2, 5]], np.float32), np.array([False, False]),
              np.array([1, 2, 4, 8], np.float32), np.array([0, 1, 0, 1], np.int64), np.array([0, 5], np.int64)]
    data = np.array([[0, 0], [3, 5], [3, 4]], np.float32)
    for agg, want in (("SUM", [[1, 8], [0, 10], [4, 8]]), ("AVERAGE", [[0.5, 4], [0, 5], [2, 4]]),
                      ("MAX", [[1, 8], [np.finfo(np.float32).min, 8], [4, 8]])):
        node = make("TreeEnsemble", [x, *tables], {"aggregate_function": agg, "n_targets": 2})
        np.testing.assert_allclose(run([node], [x], [data], backend)[0], want)
