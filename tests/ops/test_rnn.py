"""Recurrent cells and sequences against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.ops.factory import make

from arrayrt.errors import OpAttributeError, ShapeInferenceError
from arrayrt.testing import assert_close, check_op, rand, run_arrayrt, run_openvino

BATCH, SEQ, INPUT, HIDDEN = 3, 4, 3, 5
DIRECTIONS = ["forward", "reverse", "bidirectional"]
LENGTHS = {"full": [4, 4, 4], "varying": [4, 2, 1], "with_empty": [3, 0, 4]}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _w(shape, seed, dtype=np.float32, scale=1.0):
    return rand(shape, dtype, seed=seed, low=-scale, high=scale)


def _weights(kind, dirs, lbr=False, dtype=np.float32, seed=10, scale=1.0):
    g = GATES[kind] * HIDDEN
    lead = (dirs,) if dirs else ()
    return (_w(lead + (g, INPUT), seed, dtype, scale), _w(lead + (g, HIDDEN), seed + 1, dtype, scale),
            _w(lead + (g + lbr * HIDDEN,), seed + 2, dtype, scale))


def _seq_build(kind, direction, lengths, lbr=False, dtype=np.float32, acts=None, alpha=None, beta=None,
               clip=0.0, lengths_input=False):
    """A build function for check_op and its inputs: X, H0[, C0][, sequence_lengths]."""
    dirs = 2 if direction == "bidirectional" else 1
    W, R, B = _weights(kind, dirs, lbr, dtype)
    inputs = [_w((BATCH, SEQ, INPUT), 1, dtype, 2.0), _w((BATCH, dirs, HIDDEN), 2, dtype)]
    if kind == "lstm":
        inputs.append(_w((BATCH, dirs, HIDDEN), 3, dtype))
    lens = np.array(lengths, np.int32)
    if lengths_input:
        inputs.append(lens.astype(np.int64))
    kw = {"activations": acts, "activations_alpha": alpha, "activations_beta": beta, "clip": clip}

    def build(ops, x, h, *rest):
        sl = rest[-1] if lengths_input else lens
        if kind == "lstm":
            return ops.lstm_sequence(x, h, rest[0], sl, W, R, B, HIDDEN, direction, **kw).outputs()
        if kind == "gru":
            return ops.gru_sequence(x, h, sl, W, R, B, HIDDEN, direction, linear_before_reset=lbr,
                                    **kw).outputs()
        return ops.rnn_sequence(x, h, sl, W, R, B, HIDDEN, direction, **kw).outputs()

    return build, inputs


def _cell_build(kind, lbr=False, dtype=np.float32, acts=None, alpha=None, beta=None, clip=0.0, batch=BATCH):
    W, R, B = _weights(kind, 0, lbr, dtype)
    inputs = [_w((batch, INPUT), 1, dtype, 2.0), _w((batch, HIDDEN), 2, dtype)]
    if kind == "lstm":
        inputs.append(_w((batch, HIDDEN), 3, dtype))
    kw = {"activations_alpha": alpha, "activations_beta": beta, "clip": clip}

    def build(ops, x, h, *c):
        if kind == "lstm":
            return ops.lstm_cell(x, h, c[0], W, R, B, HIDDEN, acts, **kw).outputs()
        if kind == "gru":
            return ops.gru_cell(x, h, W, R, B, HIDDEN, acts, linear_before_reset=lbr, **kw)
        return ops.rnn_cell(x, h, W, R, B, HIDDEN, acts or ["tanh"], alpha or [], beta or [], clip)

    return build, inputs


# --- sequences --------------------------------------------------------------------------------


@pytest.mark.parametrize("lengths", list(LENGTHS))
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_lstm_sequence(direction, lengths, backend):
    build, inputs = _seq_build("lstm", direction, LENGTHS[lengths])
    check_op(build, inputs, backend, atol=1e-5)


@pytest.mark.parametrize("lbr", [False, True], ids=["default", "linear_before_reset"])
@pytest.mark.parametrize("lengths", ["full", "varying"])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_gru_sequence(direction, lengths, lbr, backend):
    build, inputs = _seq_build("gru", direction, LENGTHS[lengths], lbr)
    check_op(build, inputs, backend, atol=1e-5)


@pytest.mark.parametrize("lengths", ["full", "with_empty"])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_rnn_sequence(direction, lengths, backend):
    build, inputs = _seq_build("rnn", direction, LENGTHS[lengths])
    check_op(build, inputs, backend, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_sequence_lengths_as_input(kind, backend):
    """Lengths unknown until inference (full ones too) take the masked path."""
    for lengths in (LENGTHS["with_empty"], LENGTHS["full"]):
        build, inputs = _seq_build(kind, "bidirectional", lengths, lengths_input=True)
        check_op(build, inputs, backend, atol=1e-5)


ACTIVATION_CASES = [
    (["relu", "tanh", "relu"], None, None, 0.0),
    (["tanh", "relu", "sigmoid"], None, None, 0.6),
    (["sigmoid", "tanh", "tanh"], None, None, 0.3),
    (["Sigmoid", "TANH", "Tanh"], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0], 0.0),  # alpha/beta unused here
]


@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=lambda c: f"{'-'.join(c[0])}-clip{c[3]}")
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_lbr", "rnn"])
def test_activations_and_clip(kind, case, backend):
    """Clip bounds each gate's pre-activation, but not the LSTM cell state under ``h``."""
    acts, alpha, beta, clip = case
    base = kind.split("_")[0]
    n = {"lstm": 3, "gru": 2, "rnn": 1}[base]
    kw = {"acts": acts[:n], "alpha": alpha and alpha[:n], "beta": beta and beta[:n], "clip": clip}
    build, inputs = _seq_build(base, "reverse", LENGTHS["varying"], kind.endswith("lbr"), **kw)
    check_op(build, inputs, backend, atol=1e-5)
    build, inputs = _cell_build(base, kind.endswith("lbr"), **kw)
    check_op(build, inputs, backend, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_sequence_f16(kind, backend):
    build, inputs = _seq_build(kind, "bidirectional", LENGTHS["varying"], dtype=np.float16)
    check_op(build, inputs, backend, rtol=1e-2, atol=5e-3)


# --- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_lbr", "rnn"])
def test_cell(kind, batch, backend):
    build, inputs = _cell_build(kind.split("_")[0], kind.endswith("lbr"), batch=batch)
    check_op(build, inputs, backend, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cell_f16(kind, backend):
    build, inputs = _cell_build(kind, dtype=np.float16)
    check_op(build, inputs, backend, rtol=1e-2, atol=5e-3)


def test_cell_weights_as_inputs(backend):
    """Weights that are not constants are prepared on every call."""
    W, R, B = _weights("gru", 0, True)
    inputs = [_w((BATCH, INPUT), 1), _w((BATCH, HIDDEN), 2), W, R, B]
    check_op(lambda ops, x, h, w, r, b: ops.gru_cell(x, h, w, r, b, HIDDEN, linear_before_reset=True),
             inputs, backend, atol=1e-5)
    W, R, B = _weights("lstm", 2)
    inputs = [_w((BATCH, SEQ, INPUT), 1), _w((BATCH, 2, HIDDEN), 2), _w((BATCH, 2, HIDDEN), 3), W, R, B]
    lens = np.array(LENGTHS["varying"], np.int32)
    check_op(lambda ops, x, h, c, w, r, b: ops.lstm_sequence(x, h, c, lens, w, r, b, HIDDEN,
                                                             "bidirectional").outputs(),
             inputs, backend, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru_lbr", "rnn"])
def test_cell_without_bias(kind, backend):
    """A cell's B input is optional (zero when absent), as OpenVINO's op classes allow; its IR reader
    does not, hence no interop check."""
    base, lbr = kind.split("_")[0], kind.endswith("lbr")
    W, R, B = _weights(base, 0, lbr)
    zeros = np.zeros_like(B)
    op = {"lstm": "LSTMCell", "gru": "GRUCell", "rnn": "RNNCell"}[base]
    attrs = {"hidden_size": HIDDEN, "linear_before_reset": lbr} if lbr else {"hidden_size": HIDDEN}
    inputs = [_w((BATCH, INPUT), 1), _w((BATCH, HIDDEN), 2)] + [_w((BATCH, HIDDEN), 3)] * (base == "lstm")

    def build(ops, *args):
        if not ops.__name__.startswith("openvino"):
            return make(op, [*args, W, R], attrs).outputs()
        if base == "lstm":
            return ops.lstm_cell(*args, W, R, zeros, HIDDEN).outputs()
        if base == "gru":
            return ops.gru_cell(*args, W, R, zeros, HIDDEN, linear_before_reset=True)
        return ops.rnn_cell(*args, W, R, zeros, HIDDEN, ["tanh"], [], [])

    check_op(build, inputs, backend, atol=1e-5, interop=False)


# --- LSTMCell v0 ----------------------------------------------------------------------------------


def _np_sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _np_lstm_v0(x, h, c, W, R, B, P, input_forget):
    """OpenVINO's reference LSTMCell v0: peepholes P in order f, i, o; input_forget couples i = 1 - f."""
    g = np.split(x @ W.T + h @ R.T + B, 4, axis=-1)
    pf, pi, po = np.split(P, 3)
    f = _np_sigmoid(g[0] + pf * c)
    i = 1.0 - f if input_forget else _np_sigmoid(g[1] + pi * c)
    c_new = f * c + i * np.tanh(g[2])
    o = _np_sigmoid(g[3] + po * c_new)
    return (o * np.tanh(c_new)).astype(np.float32), c_new.astype(np.float32)


def test_lstm_cell_v0(backend):
    """Without peepholes, v0 computes as v4 (fico gates)."""
    import openvino.opset1 as ov1

    W, R, B = _weights("lstm", 0)
    inputs = [_w((BATCH, INPUT), 1, scale=2.0), _w((BATCH, HIDDEN), 2), _w((BATCH, HIDDEN), 3)]

    def build(ops, x, h, c):
        if ops.__name__.startswith("openvino"):
            return ov1.lstm_cell(x, h, c, W, R, B, HIDDEN, clip=0.8).outputs()
        attrs = {"hidden_size": HIDDEN, "clip": 0.8}
        return make("LSTMCell", [x, h, c, W, R, B], attrs, version="opset1").outputs()

    check_op(build, inputs, backend, atol=1e-5)


@pytest.mark.parametrize("peepholes", [False, True])
@pytest.mark.parametrize("input_forget", [False, True])
def test_lstm_cell_v0_peepholes(input_forget, peepholes, backend):
    """Peepholes and input_forget as OpenVINO's reference computes them; its CPU plugin ignores both
    (it converts v0 to v4), so the expected values are computed here."""
    W, R, B = _weights("lstm", 0)
    P = _w((3 * HIDDEN,), 20) if peepholes else np.zeros(3 * HIDDEN, np.float32)
    inputs = [_w((BATCH, INPUT), 1, scale=2.0), _w((BATCH, HIDDEN), 2), _w((BATCH, HIDDEN), 3)]
    expected = _np_lstm_v0(*inputs, W, R, B, P, input_forget)
    attrs = {"hidden_size": HIDDEN, "input_forget": input_forget, "weights_format": "fico"}
    weights = [W, R, B, P] if peepholes else [W, R, B]
    check_op(lambda ops, x, h, c: make("LSTMCell", [x, h, c, *weights], attrs, version="opset1").outputs(),
             inputs, backend, expected=expected, atol=1e-5)


def test_hardsigmoid_activation(backend):
    """OpenVINO's core knows hardsigmoid (alpha 0.2, beta 0.5 unless given) but its CPU plugin
    refuses it in recurrent ops, so the expected values are computed here."""
    W, R, B = _weights("rnn", 1)
    x, h = _w((BATCH, SEQ, INPUT), 1, scale=2.0), _w((BATCH, 1, HIDDEN), 2)
    lens = np.array(LENGTHS["varying"], np.int32)

    def expected(alpha, beta):
        y = np.zeros((BATCH, 1, SEQ, HIDDEN), np.float32)
        hs = h[:, 0].copy()
        for t in range(SEQ):
            new = np.clip(alpha * (x[:, t] @ W[0].T + hs @ R[0].T + B[0]) + beta, 0, 1)
            valid = (t < lens)[:, None]
            y[:, 0, t] = np.where(valid, new, 0)
            hs = np.where(valid, new, hs)
        return [y, hs[:, None].astype(np.float32)]

    for alpha, beta in (([], []), ([0.3], [0.4])):
        check_op(lambda ops, x, h: ops.rnn_sequence(x, h, lens, W, R, B, HIDDEN, "forward", ["HardSigmoid"],
                                                    alpha, beta).outputs(),
                 [x, h], backend, expected=expected(*(alpha or [0.2]), *(beta or [0.5])), atol=1e-5)


# --- dynamic shapes, IR, inference errors ---------------------------------------------------------


def _build_reverse_sequence(ops, model_class, kind, shapes):
    n_states = 2 if kind == "lstm" else 1
    params = [ops.parameter(shape, np.int32 if i == n_states + 1 else np.float32, name=f"in{i}")
              for i, shape in enumerate(shapes)]
    W, R, B = _weights(kind, 1)
    if kind == "lstm":
        out = ops.lstm_sequence(*params, W, R, B, HIDDEN, "reverse")
    else:
        out = (ops.gru_sequence if kind == "gru" else ops.rnn_sequence)(*params, W, R, B, HIDDEN, "reverse")
    return model_class(out.outputs(), params, "dyn")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_dynamic_batch_and_sequence(kind, backend):
    """Dynamic batch and sequence length infer as in OpenVINO and run at any size. The expected
    values come from OpenVINO on static shapes: with a dynamic sequence length its CPU plugin
    ignores sequence_lengths (runs every sequence to the end), against the spec."""
    import openvino as ov
    import openvino.opset16 as ovops

    import arrayrt
    import arrayrt.opset as ops

    n_states = 2 if kind == "lstm" else 1
    dynamic = [[-1, -1, INPUT]] + [[-1, 1, HIDDEN]] * n_states + [[-1]]
    model = _build_reverse_sequence(ops, arrayrt.Model, kind, dynamic)
    oracle = _build_reverse_sequence(ovops, ov.Model, kind, dynamic)
    assert [str(o.get_partial_shape()) for o in model.outputs] == \
        [str(o.get_partial_shape()) for o in oracle.outputs]
    for batch, seq in ((2, 3), (4, 1)):
        inputs = [_w((batch, seq, INPUT), 1)] + [_w((batch, 1, HIDDEN), 2 + i) for i in range(n_states)]
        inputs.append(np.array([seq, seq - 1] * (batch // 2), np.int32))
        static = _build_reverse_sequence(ovops, ov.Model, kind, [list(a.shape) for a in inputs])
        for got, expected in zip(run_arrayrt(model, inputs, backend), run_openvino(static, inputs)):
            assert_close(got, expected, 1e-5, 1e-5)


def test_read_openvino_ir(tmp_path):
    """IR that OpenVINO writes for every op reads back into arrayrt and computes the same."""
    import openvino as ov
    import openvino.opset1 as ov1
    import openvino.opset16 as ovops

    import arrayrt

    cases = [_seq_build("lstm", "bidirectional", LENGTHS["varying"], clip=0.5),
             _seq_build("gru", "reverse", LENGTHS["varying"], lbr=True, acts=["relu", "tanh"]),
             _seq_build("rnn", "forward", LENGTHS["varying"], acts=["sigmoid"]),
             _cell_build("lstm"), _cell_build("gru", clip=0.4), _cell_build("rnn", acts=["relu"])]
    W, R, B = _weights("lstm", 0)
    v0_cell = (lambda ops, x, h, c: ov1.lstm_cell(x, h, c, W, R, B, HIDDEN).outputs())
    cases.append((v0_cell, _cell_build("lstm")[1]))
    for i, (build, inputs) in enumerate(cases):
        params = [ovops.parameter(list(a.shape), a.dtype) for a in inputs]
        model = ov.Model(build(ovops, *params), params, "m")
        path = tmp_path / f"m{i}.xml"
        ov.save_model(model, path, compress_to_fp16=False)
        expected = run_openvino(model, inputs)
        got = run_arrayrt(arrayrt.Core().read_model(path), inputs)
        for g, e in zip(got, expected):
            assert_close(g, e, 1e-5, 1e-5, what=f"case {i}: ")


def _bad(kind):
    import arrayrt.opset as ops

    x = ops.parameter([2, 4, 3], np.float32)
    h = ops.parameter([2, 1, 5], np.float32)
    c = ops.parameter([2, 1, 5], np.float32)
    lens = np.array([4, 4], np.int32)
    W, R, B = _weights("lstm", 1)
    if kind == "w_rows":
        return ops.lstm_sequence(x, h, c, lens, W[:, :-1], R, B, HIDDEN, "forward")
    if kind == "directions":
        return ops.lstm_sequence(x, h, c, lens, W, R, B, HIDDEN, "bidirectional")
    if kind == "batch":
        return ops.lstm_sequence(x, h, c, np.array([4, 4, 4], np.int32), W, R, B, HIDDEN, "forward")
    if kind == "rank":
        return ops.lstm_sequence(x, h, c, lens, W[0], R, B, HIDDEN, "forward")
    if kind == "float_lengths":
        return ops.lstm_sequence(x, h, c, lens.astype(np.float32), W, R, B, HIDDEN, "forward")
    if kind == "types":
        return ops.lstm_sequence(x, h, c, lens, W.astype(np.float16), R, B, HIDDEN, "forward")
    if kind == "gru_bias":
        Wg, Rg, Bg = _weights("gru", 1)
        return ops.gru_sequence(x, h, lens, Wg, Rg, Bg, HIDDEN, "forward", linear_before_reset=True)
    if kind == "activation":
        return ops.lstm_sequence(x, h, c, lens, W, R, B, HIDDEN, "forward", ["sigmoid", "elu", "tanh"])
    if kind == "activation_count":
        return ops.lstm_sequence(x, h, c, lens, W, R, B, HIDDEN, "forward", ["sigmoid", "tanh"])
    return ops.lstm_sequence(x, h, c, lens, W, R, B, HIDDEN, "sideways")


@pytest.mark.parametrize("kind, error", [
    ("w_rows", ShapeInferenceError), ("directions", ShapeInferenceError), ("batch", ShapeInferenceError),
    ("rank", ShapeInferenceError), ("float_lengths", ShapeInferenceError), ("types", ShapeInferenceError),
    ("gru_bias", ShapeInferenceError), ("activation", OpAttributeError),
    ("activation_count", OpAttributeError), ("direction", OpAttributeError)])
def test_invalid(kind, error):
    with pytest.raises(error):
        _bad(kind)


def test_output_shapes():
    import arrayrt.opset as ops

    x = ops.parameter([-1, 7, 3], np.float32)
    h = ops.parameter([2, 2, -1], np.float32)
    lens = ops.parameter([-1], np.int64)
    W, R, B = _weights("gru", 2, True)
    n = ops.gru_sequence(x, h, lens, W, R, B, HIDDEN, "bidirectional", linear_before_reset=True)
    assert [str(o.get_partial_shape()) for o in n.outputs()] == ["[2,2,7,5]", "[2,2,5]"]
    assert [o.get_element_type().name for o in n.outputs()] == ["f32", "f32"]
