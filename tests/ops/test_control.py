"""TensorIterator, Loop and If against real OpenVINO (built with the same ``openvino.op`` methods),
on every test backend, plus the cases OpenVINO lacks (zero iterations) against hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.shape import PartialShape

import arrayrt
from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import check_op, rand


def model_class(ops):
    """The Model class that goes with a factory module (bodies are models)."""
    if ops.__name__.startswith("openvino"):
        import openvino as ov

        return ov.Model
    return arrayrt.Model


# --- TensorIterator -------------------------------------------------------------------------
def ti_rnn(ops, x, h, w, *, start=0, stride=1, end=-1, out_stride=1):
    """h' = h * w + x_t over the slices of x (4 of [1, 2, 3]): the last h and every h."""
    ti = ops.tensor_iterator()
    bx = ops.parameter([1, 2, 3], np.float32, name="bx")
    bh = ops.parameter([2, 3], np.float32, name="bh")
    bw = ops.parameter([2, 3], np.float32, name="bw")
    nh = ops.add(ops.multiply(bh, bw), ops.squeeze(bx, ops.constant(np.int64([0]))))
    out = ops.unsqueeze(nh, ops.constant(np.int64(0)))
    body = model_class(ops)([nh, out], [bx, bh, bw], "body")
    ti.set_body(body)
    ti.set_sliced_input(bx, x.output(0), start, stride, 1, end, 0)
    ti.set_merged_input(bh, h.output(0), nh.output(0))
    ti.set_invariant_input(bw, w.output(0))
    return [ti.get_iter_value(nh.output(0), -1),
            ti.get_concatenated_slices(out.output(0), 0 if out_stride > 0 else -1, out_stride, 1,
                                       -1 if out_stride > 0 else 0, 0)]


@pytest.mark.parametrize("case", [dict(), dict(start=-1, stride=-1, end=0), dict(out_stride=-1)], ids=str)
def test_tensor_iterator(case, backend):
    inputs = [rand((4, 2, 3), seed=1), rand((2, 3), seed=2), rand((2, 3), seed=3, low=0.5, high=1)]
    check_op(lambda ops, x, h, w: ti_rnn(ops, x, h, w, **case), inputs, backend)


def test_tensor_iterator_axis_1(backend):
    def build(ops, x, h):
        ti = ops.tensor_iterator()
        bx = ops.parameter([2, 1, 3], np.float32)
        bh = ops.parameter([2, 3], np.float32)
        nh = ops.add(bh, ops.squeeze(bx, ops.constant(np.int64([1]))))
        body = model_class(ops)([nh, ops.multiply(bx, ops.constant(np.float32(2)))], [bx, bh], "body")
        ti.set_body(body)
        ti.set_sliced_input(bx, x.output(0), 0, 1, 1, -1, 1)
        ti.set_merged_input(bh, h.output(0), nh.output(0))
        return [ti.get_iter_value(nh.output(0)), ti.get_concatenated_slices(body.outputs[1], 0, 1, 1, -1, 1)]
    check_op(build, [rand((2, 4, 3), seed=1), rand((2, 3), seed=2)], backend)


def test_tensor_iterator_part_size_and_scalars(backend):
    """Slices of 2 rows; scalar body results concatenate into a 1-D output."""
    def build(ops, x):
        ti = ops.tensor_iterator()
        bx = ops.parameter([2, 3], np.float32)
        s = ops.reduce_sum(bx, ops.constant(np.int64([0, 1])), False)
        body = model_class(ops)([s], [bx], "body")
        ti.set_body(body)
        ti.set_sliced_input(bx, x.output(0), 0, 2, 2, -1, 0)
        return [ti.get_concatenated_slices(s.output(0), 0, 1, 1, -1, 0)]
    check_op(build, [rand((6, 3), seed=4)], backend)


# --- Loop -----------------------------------------------------------------------------------
def loop_count(ops, x, *, trip=5, limit=3, i32=False):
    """x += iteration while iteration < limit (checked after the iteration), at most trip times."""
    itype = np.int32 if i32 else np.int64
    loop = ops.loop(ops.constant(itype(trip)), ops.constant(np.bool_(True)))
    bi = ops.parameter([], itype, name="bi")
    bx = ops.parameter([2, 3], np.float32, name="bx")
    add = ops.add(bx, ops.convert(bi, "f32"))
    cond = ops.less(bi, ops.constant(itype(limit)))
    body = model_class(ops)([cond, add, ops.unsqueeze(add, ops.constant(np.int64(0)))], [bi, bx], "body")
    loop.set_function(body)
    loop.set_special_body_ports([0, 0])
    loop.set_merged_input(bx, x.output(0), add.output(0))
    return [loop.get_iter_value(add.output(0), -1), loop.get_concatenated_slices(body.outputs[2], 0, 1, 1, -1, 0)]


@pytest.mark.parametrize("case", [dict(), dict(trip=2), dict(limit=100, trip=4), dict(i32=True)], ids=str)
def test_loop(case, backend):
    check_op(lambda ops, x: loop_count(ops, x, **case), [rand((2, 3), seed=5)], backend)


def test_loop_growing_carried_value(backend):
    """A back edge whose shape grows each iteration: the Parameter is relaxed to a dynamic dim."""
    def build(ops, x, y):
        loop = ops.loop(ops.constant(np.int64(3)), ops.constant(np.bool_(True)))
        bx = ops.parameter([1, 2], np.float32)
        by = ops.parameter([1, 2], np.float32)
        grown = ops.concat([bx, by], 0)
        body = model_class(ops)([ops.constant(np.bool_(True)), grown], [bx, by], "body")
        loop.set_function(body)
        loop.set_special_body_ports([-1, 0])
        loop.set_merged_input(bx, x.output(0), grown.output(0))
        loop.set_invariant_input(by, y.output(0))
        return [loop.get_iter_value(grown.output(0))]
    got = check_op(build, [rand((1, 2), seed=6), rand((1, 2), seed=7)], backend)
    assert got[0].shape == (4, 2)


def test_loop_sliced_input_and_trip_from_input(backend):
    """A Loop may slice its inputs too; the trip count comes from a model input."""
    def build(ops, trip, x):
        loop = ops.loop(trip, ops.constant(np.bool_(True)))
        bx = ops.parameter([1, 3], np.float32)
        acc = ops.parameter([1, 3], np.float32)
        s = ops.add(acc, bx)
        body = model_class(ops)([ops.constant(np.bool_(True)), s], [bx, acc], "body")
        loop.set_function(body)
        loop.set_special_body_ports([-1, 0])
        loop.set_sliced_input(bx, x.output(0), 0, 1, 1, -1, 0)
        loop.set_merged_input(acc, ops.constant(np.zeros((1, 3), np.float32)).output(0), s.output(0))
        return [loop.get_iter_value(s.output(0))]
    check_op(build, [np.array(3, np.int64), rand((5, 3), seed=8)], backend)


def test_loop_zero_iterations(backend):
    """OpenVINO's reference refuses zero iterations; arrayrt gives ONNX's answer: carried values
    keep their initial value, concatenated outputs are empty along the axis."""
    x = rand((2, 3), seed=9)

    def build(ops, x_, trip):
        loop = ops.loop(trip, ops.constant(np.bool_(True)))
        bx = ops.parameter([2, 3], np.float32)
        y = ops.multiply(bx, ops.constant(np.float32(2)))
        body = model_class(ops)([ops.constant(np.bool_(True)), y, ops.unsqueeze(y, ops.constant(np.int64(0)))],
                                [bx], "body")
        loop.set_function(body)
        loop.set_special_body_ports([-1, 0])
        loop.set_merged_input(bx, x_.output(0), y.output(0))
        return [loop.get_iter_value(y.output(0)), loop.get_concatenated_slices(body.outputs[2], 0, 1, 1, -1, 0)]
    check_op(build, [x, np.array(0, np.int64)], backend, expected=[x, np.zeros((0, 2, 3), np.float32)])
    check_op(build, [x, np.array(2, np.int64)], backend, expected=[x * 4, np.stack([x * 2, x * 4])])


def test_loop_shape_inference():
    """The concatenated axis is trip count x part when the body condition is constant true."""
    import arrayrt.opset as ops

    x = ops.parameter([2, 3], np.float32)
    outs = loop_count(ops, x, limit=100)
    assert outs[0].get_partial_shape() == PartialShape([2, 3])
    assert outs[1].get_partial_shape() == PartialShape([-1, 2, 3])
    loop = ops.loop(ops.constant(np.int64(4)), ops.constant(np.bool_(True)))
    bx = ops.parameter([2], np.float32)
    body = arrayrt.Model([ops.constant(np.bool_(True)), ops.unsqueeze(bx, ops.constant(np.int64(0)))], [bx], "b")
    loop.set_function(body)
    loop.set_special_body_ports([-1, 0])
    loop.set_invariant_input(bx, ops.parameter([2], np.float32).output(0))
    assert loop.get_concatenated_slices(body.outputs[1], 0, 1, 1, -1, 0).get_partial_shape() == PartialShape([4, 2])


# --- If -------------------------------------------------------------------------------------
def if_branches(ops, c, x, y):
    iff = ops.if_op(c)
    tx, ty = ops.parameter([2, 3], np.float32), ops.parameter([2, 3], np.float32)
    then = model_class(ops)([ops.add(tx, ty)], [tx, ty], "then")
    ex = ops.parameter([2, 3], np.float32)
    else_ = model_class(ops)([ops.multiply(ex, ops.constant(np.float32(2)))], [ex], "else")
    iff.set_then_body(then)
    iff.set_else_body(else_)
    iff.set_input(x.output(0), tx, ex)
    iff.set_input(y.output(0), ty, None)
    return [iff.set_output(then.get_results()[0], else_.get_results()[0])]


@pytest.mark.parametrize("cond", [True, False])
def test_if(cond, backend):
    check_op(if_branches, [np.array(cond), rand((2, 3), seed=10), rand((2, 3), seed=11)], backend)


def test_if_branches_of_different_shapes(backend):
    """Different output shapes per branch: the output dimension is an interval."""
    def build(ops, c, x):
        iff = ops.if_op(c)
        tx, ex = ops.parameter([4], np.float32), ops.parameter([4], np.float32)
        then = model_class(ops)([ops.concat([tx, tx], 0)], [tx], "then")
        else_ = model_class(ops)([ops.relu(ex)], [ex], "else")
        iff.set_then_body(then)
        iff.set_else_body(else_)
        iff.set_input(x.output(0), tx, ex)
        return [iff.set_output(then.get_results()[0], else_.get_results()[0])]
    for cond, n in ((True, 8), (False, 4)):
        got = check_op(build, [np.array(cond), rand((4,), seed=12)], backend)
        assert got[0].shape == (n,)
    import arrayrt.opset as ops

    out = build(ops, ops.parameter([], np.bool_), ops.parameter([4], np.float32))[0]
    assert str(out.get_partial_shape()) == "[4..8]"


def test_nested_loop_in_if(backend):
    def build(ops, c, x):
        iff = ops.if_op(c)
        tx, ex = ops.parameter([2, 3], np.float32), ops.parameter([2, 3], np.float32)
        then = model_class(ops)(loop_count(ops, tx)[:1], [tx], "then")
        else_ = model_class(ops)([ops.negative(ex)], [ex], "else")
        iff.set_then_body(then)
        iff.set_else_body(else_)
        iff.set_input(x.output(0), tx, ex)
        return [iff.set_output(then.get_results()[0], else_.get_results()[0])]
    for cond in (True, False):
        check_op(build, [np.array(cond), rand((2, 3), seed=13)], backend)


def test_if_on_a_constant_folds_and_infers_one_branch():
    import arrayrt.opset as ops

    x = ops.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    out = if_branches(ops, ops.constant(np.bool_(False)), x, x)[0]
    np.testing.assert_array_equal(out.node.static_value(0), np.arange(6, dtype=np.float32).reshape(2, 3) * 2)
    p = ops.parameter([2, 3], np.float32)
    out = if_branches(ops, ops.constant(np.bool_(True)), p, p)[0]
    assert out.node.static_value(0) is None
    model = arrayrt.Model([out], [p])
    from arrayrt.backends import get_backend

    from arrayrt.executor import build_plan

    plan = build_plan(model, get_backend("numpy")())
    np.testing.assert_array_equal(plan(np.ones((2, 3), np.float32))[0], np.full((2, 3), 2, np.float32))


def test_errors():
    import arrayrt.opset as ops

    c = ops.parameter([2, 2], np.bool_)
    with pytest.raises(ShapeInferenceError, match="condition must have rank 0 or 1"):
        ops.if_op(c)
    iff = ops.if_op(ops.parameter([], np.bool_))
    tx = ops.parameter([2], np.float32)
    then = arrayrt.Model([ops.relu(tx)], [tx], "then")
    ex = ops.parameter([2], np.float32)
    else_ = arrayrt.Model([ops.convert(ex, "i32")], [ex], "else")
    iff.set_then_body(then)
    iff.set_else_body(else_)
    iff.set_input(ops.parameter([2], np.float32).output(0), tx, ex)
    with pytest.raises(ShapeInferenceError, match="f32 in the then body but i32"):
        iff.set_output(then.get_results()[0], else_.get_results()[0])
    with pytest.raises(ShapeInferenceError, match="is not a Parameter of the body"):
        iff.set_input(tx.output(0), ops.parameter([2], np.float32), None)
