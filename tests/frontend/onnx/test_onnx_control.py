"""ONNX If / Loop / Scan / sequences / optionals / ai.onnx.ml / training translators: variants the
backend suite lacks, against onnxruntime (or ONNX's reference evaluator where onnxruntime has no
kernel). Models run through ``convert_onnx`` and a plan on each test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends import get_backend
from arrayrt.ir.frontend.onnx import convert_onnx
from arrayrt.ir.ops._xp import to_numpy
from onnx import TensorProto, helper

from arrayrt.errors import UnsupportedOpError
from arrayrt.executor import build_plan
from arrayrt.testing import rand

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, t=F, shape=None):
    return helper.make_tensor_value_info(name, t, shape)


def model(nodes, inputs, outputs, opset=17, domains=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domains]
    return helper.make_model(graph, opset_imports=imports)


def run_arrayrt(m, feed, backend):
    be = get_backend(backend)()
    ir = convert_onnx(m)
    plan = build_plan(ir, be)
    names = [p.friendly_name for p in ir.get_parameters()]
    return [to_numpy(v) for v in plan(*[be.to_device(np.asarray(feed[n])) for n in names])]


def expected(m, feed, reference=False):
    if reference:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(m).run(None, feed)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def check(m, feed, backend, reference=False, rtol=1e-5):
    want = expected(m, feed, reference)
    got = run_arrayrt(m, feed, backend)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)
    return got


def const(name, value):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, _t(value), value.shape,
                                                                               value.reshape(-1).tolist()))


def _t(value):
    return {np.dtype(np.float32): F, np.dtype(np.int64): I64, np.dtype(np.bool_): B}[value.dtype]


# --- If -------------------------------------------------------------------------------------
def test_if_branches_capture_and_differ_in_shape(backend):
    then = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["t"], axis=0)], "then", [], [vi("t")])
    inner_then = helper.make_graph([helper.make_node("Neg", ["x"], ["n"])], "it", [], [vi("n")])
    inner_else = helper.make_graph([helper.make_node("Mul", ["x", "y"], ["m"])], "ie", [], [vi("m")])
    else_ = helper.make_graph([helper.make_node("If", ["c2"], ["e"], then_branch=inner_then,
                                                else_branch=inner_else)], "else", [], [vi("e")])
    m = model([helper.make_node("If", ["c"], ["z"], then_branch=then, else_branch=else_)],
              [vi("c", B, []), vi("c2", B, []), vi("x", F, [2, 3]), vi("y", F, [2, 3])], [vi("z")])
    for c, c2 in ((True, False), (False, True), (False, False)):
        feed = {"c": np.array(c), "c2": np.array(c2), "x": rand((2, 3), seed=1), "y": rand((2, 3), seed=2)}
        check(m, feed, backend)


# --- Loop -----------------------------------------------------------------------------------
def loop_body(extra_nodes=(), scan=True):
    """y += x[i] (x captured from outside); the condition stays while y's sum < limit."""
    nodes = [
        helper.make_node("Unsqueeze", ["i", "zero"], ["i1"]),
        helper.make_node("Gather", ["x", "i"], ["row"], axis=0),
        helper.make_node("Add", ["y_in", "row"], ["y_out"]),
        helper.make_node("ReduceSum", ["y_out"], ["s"], keepdims=0),
        helper.make_node("Less", ["s", "limit"], ["cond_out"]),
        helper.make_node("Mul", ["y_out", "y_out"], ["sq"]),
        *extra_nodes,
    ]
    outs = [vi("cond_out", B, []), vi("y_out", F, [3])] + ([vi("sq", F, [3])] if scan else [])
    return helper.make_graph([const("zero", np.int64([0]))] + nodes, "body",
                             [vi("i", I64, []), vi("cond_in", B, []), vi("y_in", F, [3])], outs)


@pytest.mark.parametrize("trip, cond", [("M", "c"), ("", "c"), ("M", ""), ("zero_trip", "c")])
def test_loop_variants(trip, cond, backend):
    nodes = [const("limit", np.float32(6.0).reshape(())), const("zero_trip", np.int64(0).reshape(())),
             helper.make_node("Loop", [trip, cond, "y0"], ["y", "ys"], body=loop_body())]
    m = model(nodes, [vi("M", I64, []), vi("c", B, []), vi("y0", F, [3]), vi("x", F, [None, 3])],
              [vi("y"), vi("ys")])
    feed = {"M": np.array(4, np.int64), "c": np.array(True), "y0": np.zeros(3, np.float32),
            "x": np.abs(rand((5, 3), seed=3))}
    if trip == "":
        feed["x"] = np.ones((50, 3), np.float32)
    m.graph.node[2].input[:] = [trip, cond, "y0"]
    used = {n for node in m.graph.node for n in node.input} | {"x"}
    del_inputs = [g for g in m.graph.input if g.name not in used]
    for g in del_inputs:
        m.graph.input.remove(g)
        feed.pop(g.name)
    check(m, feed, backend)


def test_loop_carries_a_sequence(backend):
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Unsqueeze", ["i", "zero"], ["i1"]),
         helper.make_node("Cast", ["i1"], ["f"], to=F),
         helper.make_node("SequenceInsert", ["seq_in", "f"], ["seq_out"])],
        "body", [vi("i", I64, []), vi("cond_in", B, []),
                 helper.make_tensor_sequence_value_info("seq_in", F, None)],
        [vi("cond_out", B, []), helper.make_tensor_sequence_value_info("seq_out", F, None)])
    body.node.insert(0, const("zero", np.int64([0])))
    nodes = [helper.make_node("SequenceEmpty", [], ["empty"]),
             helper.make_node("Loop", ["M", "", "empty"], ["seq"], body=body),
             helper.make_node("ConcatFromSequence", ["seq"], ["y"], axis=0),
             helper.make_node("SequenceLength", ["seq"], ["n"])]
    m = model(nodes, [vi("M", I64, [])], [vi("y"), vi("n", I64, [])])
    check(m, {"M": np.array(4, np.int64)}, backend)


# --- Scan -----------------------------------------------------------------------------------
def scan_body():
    return helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Mul", ["x_t", "s_out"], ["o"])],
        "body", [vi("s_in", F, [2]), vi("x_t", F, [2])], [vi("s_out", F, [2]), vi("o", F, [2])])


@pytest.mark.parametrize("attrs", [{}, {"scan_input_directions": [1]}, {"scan_output_directions": [1]},
                                   {"scan_input_axes": [1], "scan_output_axes": [1]},
                                   {"scan_input_axes": [-1], "scan_output_axes": [-1]}], ids=str)
def test_scan_9(attrs, backend):
    shape = [2, 4] if attrs.get("scan_input_axes") else [4, 2]
    m = model([helper.make_node("Scan", ["s0", "x"], ["s", "o"], body=scan_body(), num_scan_inputs=1, **attrs)],
              [vi("s0", F, [2]), vi("x", F, shape)], [vi("s"), vi("o")], opset=16)
    check(m, {"s0": rand((2,), seed=4), "x": rand(shape, seed=5)}, backend)


@pytest.mark.parametrize("directions", [[0], [1]])
def test_scan_8_batches(directions, backend):
    """Opset 8: batch axis 0, each batch item scanned on its own (onnxruntime has Scan-8)."""
    m = model([helper.make_node("Scan", ["", "s0", "x"], ["s", "o"], body=scan_body(), num_scan_inputs=1,
                                directions=directions)],
              [vi("s0", F, [3, 2]), vi("x", F, [3, 4, 2])], [vi("s"), vi("o")], opset=8)
    check(m, {"s0": rand((3, 2), seed=6), "x": rand((3, 4, 2), seed=7)}, backend)


def test_scan_8_partial_sequence_lens_is_refused():
    m = model([const("lens", np.int64([1, 4, 4])),
               helper.make_node("Scan", ["lens", "s0", "x"], ["s", "o"], body=scan_body(), num_scan_inputs=1)],
              [vi("s0", F, [3, 2]), vi("x", F, [3, 4, 2])], [vi("s"), vi("o")], opset=8)
    with pytest.raises(UnsupportedOpError, match="sequence_lens"):
        convert_onnx(m)


# --- sequences and optionals -----------------------------------------------------------------
def test_sequence_map_split_and_concat(backend):
    body = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"]),
                              helper.make_node("Shape", ["a"], ["s"])], "body",
                             [vi("a", F, [None, 3]), vi("b", F, [3])], [vi("c", F, [None, 3]), vi("s", I64, [2])])
    nodes = [helper.make_node("SplitToSequence", ["x", "sizes"], ["seq"], axis=0),
             helper.make_node("SequenceMap", ["seq", "v"], ["mapped", "shapes"], body=body),
             helper.make_node("ConcatFromSequence", ["mapped"], ["y"], axis=0),
             helper.make_node("ConcatFromSequence", ["shapes"], ["z"], axis=0, new_axis=1)]
    m = model(nodes, [vi("x", F, [5, 3]), vi("sizes", I64, [2]), vi("v", F, [3])], [vi("y"), vi("z", I64)])
    feed = {"x": rand((5, 3), seed=8), "sizes": np.array([2, 3], np.int64), "v": rand((3,), seed=9)}
    check(m, feed, backend, reference=True)


def test_optional_in_if(backend):
    opt_type = helper.make_tensor_type_proto(F, [2])
    then = helper.make_graph([helper.make_node("Optional", [], ["o"], type=opt_type)], "then", [],
                             [helper.make_value_info("o", helper.make_optional_type_proto(opt_type))])
    else_ = helper.make_graph([helper.make_node("Optional", ["x"], ["o2"])], "else", [],
                              [helper.make_value_info("o2", helper.make_optional_type_proto(opt_type))])
    nodes = [helper.make_node("If", ["c"], ["opt"], then_branch=then, else_branch=else_),
             helper.make_node("OptionalHasElement", ["opt"], ["has"])]
    m = model(nodes, [vi("c", B, []), vi("x", F, [2])], [vi("has", B, [])], opset=18)
    for c in (True, False):
        check(m, {"c": np.array(c), "x": rand((2,), seed=10)}, backend)


# --- ai.onnx.ml and training ----------------------------------------------------------------
ML = (("ai.onnx.ml", 4),)


def test_array_feature_extractor_and_label_encoder(backend):
    nodes = [helper.make_node("ArrayFeatureExtractor", ["x", "idx"], ["a"], domain="ai.onnx.ml"),
             helper.make_node("ArrayFeatureExtractor", ["v", "idx"], ["b"], domain="ai.onnx.ml"),
             helper.make_node("LabelEncoder", ["k"], ["l"], domain="ai.onnx.ml", keys_int64s=[1, 5, 7],
                              values_floats=[0.5, 1.5, 2.5], default_float=-1.0)]
    m = model(nodes, [vi("x", F, [2, 4]), vi("v", F, [4]), vi("idx", I64, [1, 3]), vi("k", I64, [4])],
              [vi("a"), vi("b"), vi("l")], domains=ML)
    feed = {"x": rand((2, 4), seed=11), "v": rand((4,), seed=12), "idx": np.array([[3, 0, 3]], np.int64),
            "k": np.array([7, 1, 2, 5], np.int64)}
    check(m, feed, backend)


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
def test_tfidf_modes(mode, backend):
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], mode=mode, min_gram_length=1, max_gram_length=3,
                            max_skip_count=2, ngram_counts=[0, 3, 7], ngram_indexes=[5, 1, 2, 0, 4, 3],
                            pool_int64s=[1, 2, 3, 1, 2, 3, 1, 1, 2, 3], weights=[0.5, 1, 2, 3, 4, 5])
    m = model([node], [vi("x", I64, [2, 7])], [vi("y")])
    check(m, {"x": np.array([[1, 2, 3, 1, 2, 2, 3], [3, 1, 4, 2, 1, 1, 2]], np.int64)}, backend)


@pytest.mark.parametrize("op, n", [("Adagrad", 3), ("Momentum", 3), ("Adam", 4)])
def test_optimizers(op, n, backend):
    attrs = {"Adagrad": dict(decay_factor=0.1, epsilon=1e-5, norm_coefficient=0.01),
             "Momentum": dict(alpha=0.9, beta=0.5, norm_coefficient=0.01, mode="nesterov"),
             "Adam": dict(alpha=0.8, beta=0.9, epsilon=1e-5, norm_coefficient=0.01, norm_coefficient_post=0.02)}[op]
    names = [f"t{g}_{k}" for g in range(n) for k in range(2)]
    outs = [f"o{g}_{k}" for g in range(n - 1 if op != "Adam" else 3) for k in range(2)]
    node = helper.make_node(op, ["r", "t", *names], outs, domain="ai.onnx.preview.training", **attrs)
    m = model([node], [vi("r", F, []), vi("t", I64, [])] + [vi(x, F, [3]) for x in names], [vi(o) for o in outs],
              domains=(("ai.onnx.preview.training", 1),))
    for t in (0, 3):
        feed = {"r": np.array(0.1, np.float32), "t": np.array(t, np.int64)}
        feed.update({x: np.abs(rand((3,), seed=20 + i)) for i, x in enumerate(names)})
        check(m, feed, backend, reference=True, rtol=1e-4)
