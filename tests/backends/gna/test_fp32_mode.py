"""GNA_SW_FP32: the same compiled layers in float32 match CPU f32 within 1e-5 relative."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.gna import GnaBackend

import arrayrt
import arrayrt.opset as ops
from arrayrt.testing.models import lstm_kws, make_model

RNG = np.random.default_rng(11)


def w(*shape, scale=0.3):
    return RNG.normal(0, scale, shape).astype(np.float32)


def fc_sigmoid():
    x = ops.parameter([2, 24], np.float32, name="x")
    return [ops.sigmoid(ops.add(ops.matmul(x, w(8, 24), False, True), w(8)))], [x], [(-2, 2)]


def conv_relu_pool():
    x = ops.parameter([1, 8, 16], np.float32, name="x")
    y = ops.add(ops.convolution(x, w(8, 8, 3), [1], [1], [1], [1]), w(1, 8, 1))
    return [ops.max_pool(ops.relu(y), [2], [1], [0], [0], [2]).output(0)], [x], [(-2, 2)]


def conv2d_relu_pool():
    x = ops.parameter([1, 8, 16, 16], np.float32, name="x")
    y = ops.add(ops.convolution(x, w(8, 8, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1]), w(1, 8, 1, 1))
    return [ops.max_pool(ops.relu(y), [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0)], [x], [(-2, 2)]


def eltwise():
    a = ops.parameter([2, 16], np.float32, name="a")
    b = ops.parameter([2, 16], np.float32, name="b")
    return [ops.add(a, b), ops.subtract(a, b), ops.multiply(a, b), ops.multiply(a, w(2, 16)),
            ops.subtract(w(16), b)], [a, b], [(-2, 2), (-2, 2)]


def activations():
    x = ops.parameter([4, 32], np.float32, name="x")
    outs = [ops.tanh(x), ops.clamp(x, -0.5, 1.5), ops.exp(x), ops.absolute(x), ops.softsign(x),
            ops.power(x, np.array(2.0, np.float32)), ops.prelu(x, np.array([0.2], np.float32)),
            ops.sign(x), ops.log(ops.absolute(ops.add(x, np.array(3.0, np.float32))))]
    return outs, [x], [(-2, 2)]


def lstm():
    m = make_model(ops, lstm_kws, "kws", frames=8, features=16, hidden=8)
    logits = m.get_results()[0].input_value(0).node.input_value(0)  # Softmax stays on CPU
    return [logits], m.get_parameters(), [(-1, 1)]


def recurrent(kind, direction="forward", lbr=False):
    def build():
        x = ops.parameter([2, 5, 6], np.float32, name="x")
        h0 = ops.parameter([2, 2 if direction == "bidirectional" else 1, 4], np.float32, name="h0")
        d = 2 if direction == "bidirectional" else 1
        lengths = np.array([5, 5], np.int32)
        if kind == "gru":
            node = ops.gru_sequence(x, h0, lengths, w(d, 12, 6), w(d, 12, 4), w(d, 16 if lbr else 12), 4,
                                    direction, linear_before_reset=lbr)
        elif kind == "rnn":
            node = ops.rnn_sequence(x, h0, lengths, w(d, 4, 6), w(d, 4, 4), w(d, 4), 4, direction)
        else:
            c0 = ops.parameter([2, d, 4], np.float32, name="c0")
            node = ops.lstm_sequence(x, h0, c0, lengths, w(d, 16, 6), w(d, 16, 4), w(d, 16), 4, direction)
            return node.outputs(), [x, h0, c0], [(-1, 1)] * 3
        return node.outputs(), [x, h0], [(-1, 1)] * 2
    return build


def cells():
    x = ops.parameter([3, 6], np.float32, name="x")
    h = ops.parameter([3, 4], np.float32, name="h")
    c = ops.parameter([3, 4], np.float32, name="c")
    lstm_cell = ops.lstm_cell(x, h, c, w(16, 6), w(16, 4), w(16), 4)
    gru_cell = ops.gru_cell(x, h, w(12, 6), w(12, 4), w(12), 4)
    rnn_cell = ops.rnn_cell(x, h, w(4, 6), w(4, 4), w(4), 4, ["tanh"], [], [])
    return [*lstm_cell.outputs(), gru_cell, rnn_cell], [x, h, c], [(-1, 1)] * 3


GRAPHS = {"fc_sigmoid": fc_sigmoid, "conv_relu_pool": conv_relu_pool, "conv2d_relu_pool": conv2d_relu_pool,
          "eltwise": eltwise,
          "activations": activations, "lstm_kws": lstm, "lstm_seq_bidirectional": recurrent("lstm", "bidirectional"),
          "gru_seq": recurrent("gru"), "gru_seq_lbr_reverse": recurrent("gru", "reverse", True),
          "rnn_seq": recurrent("rnn"), "cells": cells}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_sw_fp32_matches_cpu(name):
    outputs, params, ranges = GRAPHS[name]()
    model = arrayrt.Model(outputs, params, name)
    inputs = [RNG.uniform(lo, hi, p.output(0).get_shape()).astype(np.float32) for p, (lo, hi) in zip(params, ranges)]
    want = arrayrt.Core().compile_model(model, "CPU")(inputs)
    plan = GnaBackend({"GNA_DEVICE_MODE": "GNA_SW_FP32"}).compile(model)
    got = plan(*inputs)
    assert plan.gna.mode == "GNA_SW_FP32"
    for g, e in zip(got, want.values() if hasattr(want, "values") else want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
