"""Recurrent cells and sequences as GNA layers: unrolled in time, each step a fully connected layer
over ``concat(x_t, h)``, eltwise ops and activations, as the GNA plugin decomposed them (its
``TensorIterator`` unrolling with the LSTM/GRU/RNN cell decompositions).

LSTM step (gates f, i, c, o)::

    g = concat(x, h) · [W | R]ᵀ + B;  f, i, c, o = split(g)
    C' = σ(f)·C + σ(i)·tanh(c);       h' = σ(o)·tanh(C')

GRU step (gates z, r, h): ``z, r = σ(concat(x, h) · [W | R]_zrᵀ + B_zr)``; ``n = tanh(concat(x, r·h) ·
[W | R]_hᵀ + B_h)``, or with ``linear_before_reset`` ``n = tanh(x·W_hᵀ + Bw_h + r·(h·R_hᵀ + Br_h))``;
``h' = n + z·(h - n)``. RNN step: ``h' = tanh(concat(x, h) · [W | R]ᵀ + B)``.

A reverse direction runs the steps from the last to the first; a sequence's ``Y`` stacks the steps'
``h`` in time order (built only when used).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from arrayrt.backends.gna.limits import RECURRENT
from arrayrt.ir.passes import replace_uses

import arrayrt.opset as ops


def decompose_recurrent(model: Any) -> bool:
    """Replace every recurrent node of ``model`` by its decomposition; True if any was."""
    consumers = model.consumers()
    done = False
    for node in list(model.get_ordered_ops()):
        if node.type_name in RECURRENT:
            used = [bool(consumers.get(o)) for o in node.outputs()]
            for old, new in zip(node.outputs(), _decompose(node, used)):
                if new is not None:
                    replace_uses(model, old, new)
            done = True
    return done


def _i64(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


def _decompose(node: Any, used: list[bool]) -> list[Any]:
    op = node.op
    name = node.friendly_name
    w = op.w_index()
    W, R = (np.asarray(node.input_const(i), np.float32) for i in (w, w + 1))
    B = np.asarray(node.input_const(w + 2), np.float32) if node.get_input_size() > w + 2 else None
    if not op.is_sequence:
        W, R = W[None], R[None]
        B = None if B is None else B[None]
    dirs = op.directions(node.attrs)
    hidden = R.shape[-1]
    if B is None:
        B = np.zeros((len(dirs), op.bias_gates(node.attrs) * hidden), np.float32)
    x = node.input_value(0)
    batch = node.input_shape(0).to_shape()[0]
    if op.is_sequence:
        steps = node.input_shape(0).to_shape()[1]
        split = ops.split(x, _i64(1), steps, name=f"{name}/steps") if steps > 1 else x.node
        xs = [ops.reshape(split.output(t) if steps > 1 else x, _i64(batch, -1), False, name=f"{name}/x{t}")
              for t in range(steps)]
    else:
        steps, xs = 1, [x]
    init = [_per_direction(node.input_value(1 + k), len(dirs), batch, op.is_sequence, f"{name}/state{k}")
            for k in range(op.n_states)]
    finals: list[list[Any]] = [[] for _ in range(op.n_states)]
    ys = []
    for d, reverse in enumerate(dirs):
        states = [s[d] for s in init]
        hs: list[Any] = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            tag = f"{name}/d{d}/t{t}"
            states = _STEPS[op.kind](xs[t], states, W[d], R[d], B[d], hidden, node.attrs, tag)
            hs[t] = states[0]
        for k in range(op.n_states):
            finals[k].append(states[k])
        ys.append(hs)
    if not op.is_sequence:
        return [s[0] for s in finals]
    out = [None] * (1 + op.n_states)
    if used[0]:
        per_dir = [ops.concat([ops.reshape(h, _i64(batch, 1, 1, hidden), False) for h in hs], 2,
                              name=f"{name}/Y{d}") if steps > 1
                   else ops.reshape(hs[0], _i64(batch, 1, 1, hidden), False) for d, hs in enumerate(ys)]
        out[0] = _join(per_dir, 1, f"{name}/Y")
    for k in range(op.n_states):
        if used[1 + k]:
            out[1 + k] = _join([ops.reshape(s, _i64(batch, 1, hidden), False) for s in finals[k]], 1,
                               f"{name}/state{k}_out")
    return [o.output(0) if o is not None else None for o in out]


def _join(parts: list[Any], axis: int, name: str) -> Any:
    return parts[0] if len(parts) == 1 else ops.concat(parts, axis, name=name)


def _per_direction(state: Any, n_dirs: int, batch: int, sequence: bool, name: str) -> list[Any]:
    """An initial state ``[B, D, H]`` (sequences) or ``[B, H]`` (cells) as one ``[B, H]`` per direction."""
    if not sequence:
        return [state]
    if n_dirs == 1:
        return [ops.reshape(state, _i64(batch, -1), False, name=name).output(0)]
    parts = ops.split(state, _i64(1), n_dirs, name=name)
    return [ops.reshape(parts.output(d), _i64(batch, -1), False).output(0) for d in range(n_dirs)]


def _fc(inputs: list[Any], weights: np.ndarray, bias: np.ndarray, tag: str) -> Any:
    xh = ops.concat(inputs, 1, name=f"{tag}/concat") if len(inputs) > 1 else inputs[0]
    y = ops.matmul(xh, np.ascontiguousarray(weights), False, True, name=f"{tag}/fc")
    return ops.add(y, bias, name=f"{tag}/bias")


def _lstm(x, states, W, R, B, hs, attrs, tag):
    h, c = states
    g = _fc([x, h], np.concatenate([W, R], axis=1), B, tag)
    f, i, cc, o = _split(g, 4, tag)
    f, i, o = (ops.sigmoid(v, name=f"{tag}/{n}") for v, n in ((f, "f"), (i, "i"), (o, "o")))
    cc = ops.tanh(cc, name=f"{tag}/c")
    c_new = ops.add(ops.multiply(f, c, name=f"{tag}/fC"), ops.multiply(i, cc, name=f"{tag}/ic"), name=f"{tag}/C")
    h_new = ops.multiply(o, ops.tanh(c_new, name=f"{tag}/tanhC"), name=f"{tag}/h")
    return [h_new.output(0), c_new.output(0)]


def _split(g: Any, n: int, tag: str) -> list[Any]:
    parts = ops.split(g, _i64(1), n, name=f"{tag}/gates")
    return [parts.output(k) for k in range(n)]


def _gru(x, states, W, R, B, hs, attrs, tag):
    (h,) = states
    zr = ops.sigmoid(_fc([x, h], np.concatenate([W[:2 * hs], R[:2 * hs]], axis=1), B[:2 * hs], f"{tag}/zr"),
                     name=f"{tag}/zr/sigmoid")
    z, r = _split(zr, 2, tag)
    if attrs["linear_before_reset"]:
        gx = _fc([x], W[2 * hs:], B[2 * hs:3 * hs], f"{tag}/xh")
        gh = _fc([h], R[2 * hs:], B[3 * hs:], f"{tag}/hh")
        pre = ops.add(gx, ops.multiply(r, gh, name=f"{tag}/r_hh"), name=f"{tag}/n_pre")
    else:
        rh = ops.multiply(r, h, name=f"{tag}/rh")
        pre = _fc([x, rh], np.concatenate([W[2 * hs:], R[2 * hs:]], axis=1), B[2 * hs:3 * hs], f"{tag}/n")
    n = ops.tanh(pre, name=f"{tag}/n/tanh")
    h_new = ops.add(n, ops.multiply(z, ops.subtract(h, n, name=f"{tag}/h_n"), name=f"{tag}/z_h_n"),
                    name=f"{tag}/h")
    return [h_new.output(0)]


def _rnn(x, states, W, R, B, hs, attrs, tag):
    (h,) = states
    y = ops.tanh(_fc([x, h], np.concatenate([W, R], axis=1), B, tag), name=f"{tag}/h")
    return [y.output(0)]


_STEPS = {"lstm": _lstm, "gru": _gru, "rnn": _rnn}
