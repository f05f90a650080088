"""Recurrent cells and sequences: LSTMCell (v0, v4), GRUCell, RNNCell, LSTMSequence, GRUSequence,
RNNSequence.

Layouts are OpenVINO's: weights ``W [dirs, gates*hidden, input]``, ``R [dirs, gates*hidden, hidden]``
and summed biases ``B [dirs, gates*hidden]`` (cells drop the ``dirs`` axis). Gate order is ``f, i, c,
o`` for LSTM, ``z, r, h`` for GRU; a GRU with ``linear_before_reset`` has a fourth bias block, the
recurrent bias of the ``h`` gate, kept apart because it is added before the reset gate multiplies.

Every op runs as a sequence: a cell is one forward step over a one-direction sequence. The input
projections of all time steps are one matmul up front, so each step costs one matmul (two for a GRU
without ``linear_before_reset``). A reverse direction runs forward over each batch element's first
``sequence_lengths[b]`` steps reversed, as OpenVINO's reference does; steps past a length give zero
outputs and leave the state as it was at the last valid step (zero for a length of zero).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from arrayrt.ir.graph import Node
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import OpAttributeError, ShapeInferenceError, where

#: activation names OpenVINO resolves (case-insensitively); alpha/beta defaults per function
ACTIVATIONS = {"relu": (None, None), "sigmoid": (None, None), "tanh": (None, None), "hardsigmoid": (0.2, 0.5)}
DIRECTIONS = ("forward", "reverse", "bidirectional")


def _activation(xp: Any, name: str, alpha: float | None, beta: float | None) -> Callable[[Any], Any]:
    if name == "sigmoid":
        # the tanh form cannot overflow, unlike 1 / (1 + exp(-x))
        return lambda x: 0.5 * xp.tanh(0.5 * x) + 0.5
    if name == "tanh":
        return xp.tanh
    if name == "relu":
        return lambda x: xp.clip(x, 0.0, None)
    return lambda x: xp.clip(alpha * x + beta, 0.0, 1.0)


def _activations(xp: Any, attrs: dict[str, Any], count: int, clip: float,
                 unclipped: int | None = None) -> list[Callable[[Any], Any]]:
    """The first ``count`` activations, each clipping its argument to ``[-clip, clip]`` first when
    ``clip > 0``, except the one at index ``unclipped`` (the LSTM's ``h``, on the cell state)."""
    funcs = []
    for i in range(count):
        name = attrs["activations"][i].lower()
        alpha, beta = ACTIVATIONS[name]
        if i < len(attrs["activations_alpha"]):
            alpha = attrs["activations_alpha"][i]
        if i < len(attrs["activations_beta"]):
            beta = attrs["activations_beta"][i]
        f = _activation(xp, name, alpha, beta)
        if clip > 0 and i != unclipped:
            f = functools.partial(_clipped, xp, f, clip)
        funcs.append(f)
    return funcs


def _clipped(xp, f, clip, x):
    return f(xp.clip(x, -clip, clip))


# --- the per-step cells ------------------------------------------------------------------------
# Arrays carry a leading direction axis: gates ``gx [D, B, G*H]``, state ``h [D, B, H]``.


def _lstm_step(xp, acts, peep, input_forget, gx, R, h, c):
    """Gates come in f, i, o, c order (see :func:`_prepare`), so without peepholes one call
    activates f, i and o."""
    f_act, g_act, h_act = acts
    hs = h.shape[-1]
    g = gx + xp.matmul(h, R)
    if peep is None:
        s = f_act(g[..., :3 * hs])
        f, i, o = s[..., :hs], s[..., hs:2 * hs], s[..., 2 * hs:]
        if input_forget:
            i = 1.0 - f
        c_new = f * c + i * g_act(g[..., 3 * hs:])
        return o * h_act(c_new), c_new
    f = f_act(g[..., :hs] + peep[0] * c)
    i = 1.0 - f if input_forget else f_act(g[..., hs:2 * hs] + peep[1] * c)
    c_new = f * c + i * g_act(g[..., 3 * hs:])
    o = f_act(g[..., 2 * hs:3 * hs] + peep[2] * c_new)
    return o * h_act(c_new), c_new


def _gru_step(xp, acts, rbh, gx, R, h):
    """``R`` is ``(R_zrh,)`` with ``linear_before_reset`` (``rbh`` the h gate's recurrent bias),
    else ``(R_zr, R_h)``."""
    f_act, g_act = acts
    hs = h.shape[-1]
    hr = xp.matmul(h, R[0])
    zr = f_act(gx[..., :2 * hs] + hr[..., :2 * hs])
    z, r = zr[..., :hs], zr[..., hs:]
    if rbh is not None:
        n = g_act(gx[..., 2 * hs:] + r * (hr[..., 2 * hs:] + rbh))
    else:
        n = g_act(gx[..., 2 * hs:] + xp.matmul(r * h, R[1]))
    return n + z * (h - n)


def _rnn_step(xp, acts, gx, R, h):
    return acts[0](gx + xp.matmul(h, R))


# --- weights prepared once per node when constant -----------------------------------------------


def _transposed(xp, a):
    return xp.permute_dims(a, (0, 2, 1))


def _prepare(xp, kind: str, lbr: bool, W, R, B, P=None) -> dict[str, Any]:
    """Transposed weights ``W^T [D, I, G]``, the bias added to the input projection ``[D, 1, G]`` and
    the recurrent operands of the step, from ``W [D, G, I]``, ``R [D, G, H]``, ``B [D, G(+H)]``.
    LSTM gates are reordered to f, i, o, c."""
    hs = R.shape[-1]
    d = W.shape[0]
    wt, rt, bias = _transposed(xp, W), _transposed(xp, R), B[:, :R.shape[1]]
    if kind == "lstm":
        wt, rt, bias = (_fioc(xp, a, hs) for a in (wt, rt, bias))
    out = {"Wt": wt, "bias": xp.reshape(bias, (d, 1, rt.shape[-1]))}
    if kind == "gru":
        if lbr:
            out["R"] = (rt,)
            out["rbh"] = xp.reshape(B[:, 3 * hs:], (d, 1, hs))
        else:
            out["R"] = (rt[..., :2 * hs], rt[..., 2 * hs:])
            out["rbh"] = None
    else:
        out["R"] = rt
    if P is not None:
        out["peep"] = tuple(xp.reshape(P[:, k * hs:(k + 1) * hs], (d, 1, hs)) for k in range(3))
    return out


def _fioc(xp, a, hs: int):
    """LSTM gate blocks on the last axis reordered from f, i, c, o to f, i, o, c."""
    return xp.concat([a[..., :2 * hs], a[..., 3 * hs:], a[..., 2 * hs:3 * hs]], axis=-1)


def _run(xp, step: Callable[..., Any], prep: dict[str, Any], X, L, states: list[Any],
         reverse: Sequence[bool], masked: bool):
    """Run ``step`` over ``X [B, T, I]`` for each direction (``reverse[d]``) from ``states``
    (``[B, D, H]`` each). Returns ``Y [B, D, T, H]`` and the final states ``[B, D, H]``."""
    n, t_len, i_len = X.shape
    d = len(reverse)
    g = prep["Wt"].shape[-1]
    gx = xp.matmul(xp.reshape(xp.permute_dims(X, (1, 0, 2)), (t_len * n, i_len)), prep["Wt"]) + prep["bias"]
    gx = xp.reshape(gx, (d, t_len, n, g))
    valid = order = None
    if masked:
        lengths = xp.clip(xp.astype(L, xp.int64), 0, t_len)
        steps = xp.reshape(xp.arange(t_len, dtype=xp.int64), (t_len, 1))
        valid = steps < lengths
        if any(reverse):
            # each sequence reversed within its own length: flat row index into [T * B]
            t_src = xp.where(valid, lengths - 1 - steps, steps)
            order = xp.reshape(t_src * n + xp.arange(n, dtype=xp.int64), (t_len * n,))
    gx = _reorder(xp, gx, reverse, order)
    hs = [xp.permute_dims(s, (1, 0, 2)) for s in states]
    zero = xp.zeros((d, n, hs[0].shape[-1]), dtype=X.dtype) if masked else None
    ys = []
    for t in range(t_len):
        new = step(gx[:, t, ...], prep["R"], *hs)
        new = list(new) if isinstance(new, tuple) else [new]
        if masked:
            m = xp.reshape(valid[t, :], (n, 1))
            ys.append(xp.where(m, new[0], zero))
            hs = [xp.where(m, a, b) for a, b in zip(new, hs)]
        else:
            ys.append(new[0])
            hs = new
    if masked:
        # an empty sequence ends in zero states, not the initial ones (as OpenVINO does)
        m = xp.reshape(lengths > 0, (n, 1))
        hs = [xp.where(m, s, zero) for s in hs]
    y = xp.stack(ys, axis=1) if ys else xp.zeros((d, 0, n, hs[0].shape[-1]), dtype=X.dtype)
    y = _reorder(xp, y, reverse, order)
    return xp.permute_dims(y, (2, 0, 1, 3)), [xp.permute_dims(s, (1, 0, 2)) for s in hs]


def _reorder(xp, a, reverse: Sequence[bool], order):
    """Reverse the time axis of ``a [D, T, B, ...]`` for the reverse directions: by ``order`` (flat
    ``[T * B]`` row indices) when lengths vary, else a plain flip. The permutation is its own inverse."""
    if not any(reverse):
        return a
    parts = []
    for k, rev in enumerate(reverse):
        part = a[k, ...]
        if rev:
            if order is None:
                part = xp.flip(part, axis=0)
            else:
                shape = part.shape
                flat = xp.reshape(part, (shape[0] * shape[1],) + tuple(shape[2:]))
                part = xp.reshape(xp.take(flat, order, axis=0), shape)
        parts.append(part)
    return xp.stack(parts, axis=0)


# --- op definitions ----------------------------------------------------------------------------


def _acts_default(*names: str) -> Attr:
    return Attr("activations", "strs", lambda: list(names))


COMMON = (Attr("activations_alpha", "floats", list), Attr("activations_beta", "floats", list),
          Attr("clip", "float32", 0.0))
HIDDEN = Attr("hidden_size", "int")
DIRECTION = Attr("direction", "str", choices=DIRECTIONS)
LBR = Attr("linear_before_reset", "bool", False)


class _Recurrent(OpDef):
    """Inputs ``X, H, [C,] [sequence_lengths,] W, R, [B,] [P]``; see the module docstring."""

    kind: ClassVar[str]  # lstm, gru or rnn
    gates: ClassVar[int]
    n_states: ClassVar[int] = 1
    is_sequence: ClassVar[bool] = False

    @classmethod
    def num_outputs(cls, node):
        return cls.n_states + cls.is_sequence

    @classmethod
    def check_attrs(cls, attrs, node):
        need = {"lstm": 3, "gru": 2, "rnn": 1}[cls.kind]
        acts = attrs["activations"]
        if len(acts) < need:
            raise OpAttributeError(f"{where(node)}: attribute 'activations' needs {need} functions, "
                                   f"got {acts}")
        for a in acts[:need]:
            if a.lower() not in ACTIVATIONS:
                raise OpAttributeError(f"{where(node)}: attribute 'activations' has '{a}'; expected one "
                                       f"of {sorted(ACTIVATIONS)}")
        if attrs["hidden_size"] <= 0:
            raise OpAttributeError(f"{where(node)}: attribute 'hidden_size' must be positive, "
                                   f"got {attrs['hidden_size']}")

    # --- input positions ----------------------------------------------------------------------
    @classmethod
    def w_index(cls) -> int:
        return 1 + cls.n_states + cls.is_sequence

    @classmethod
    def bias_gates(cls, attrs) -> int:
        return cls.gates + bool(attrs.get("linear_before_reset", False))

    @classmethod
    def directions(cls, attrs) -> tuple[bool, ...]:
        """Per direction, whether it runs reversed."""
        d = attrs.get("direction", "forward")
        return {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}[d]

    # --- inference ----------------------------------------------------------------------------
    @classmethod
    def infer(cls, node):
        seq = cls.is_sequence
        w = cls.w_index()
        names = (["X", "initial_hidden_state", "initial_cell_state"][:1 + cls.n_states]
                 + ["sequence_lengths"] * seq + ["W", "R", "B", "P"])
        n_in = node.get_input_size()
        shapes = [node.input_shape(i) for i in range(n_in)]
        ranks = [2 + seq] * (1 + cls.n_states) + [1] * seq + [2 + seq, 2 + seq, 1 + seq, 1 + seq]
        for i, s in enumerate(shapes):
            if s.rank_is_static and len(s) != ranks[i]:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({names[i]}) must have rank {ranks[i]}, "
                                          f"got shape {s}")
        et = Type.dynamic
        for i in range(n_in):
            if seq and i == w - 1:
                lt = node.input_type(i)
                if lt.is_static and not lt.is_integral_number:
                    raise ShapeInferenceError(f"{where(node)}: input {i} (sequence_lengths) must be an "
                                              f"integer type, got {lt}")
                continue
            ti = node.input_type(i)
            if et.is_static and ti.is_static and ti is not et:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({names[i]}) has element type {ti}, "
                                          f"expected {et} like the other inputs")
            et = et.merge(ti)
        if et.is_static and not et.is_real:
            raise ShapeInferenceError(f"{where(node)}: inputs must be a floating type, got {et}")

        def dim(i, axis):
            s = shapes[i]
            return s[axis] if s.rank_is_static else Dimension()

        def merged(pairs, what):
            out = Dimension()
            for i, axis in pairs:
                d = dim(i, axis)
                if not out.compatible(d):
                    raise ShapeInferenceError(f"{where(node)}: input {i} ({names[i]}) has {what} {d}, "
                                              f"expected {out}")
                out = out.merge(d)
            return out

        states = range(1, 1 + cls.n_states)
        batch = merged([(0, 0)] + [(i, 0) for i in states] + [(w - 1, 0)] * seq, "batch size")
        hidden = merged([(i, -1) for i in states] + [(w + 1, -1)], "hidden size")
        if not hidden.is_static:
            for i in (w, w + 1):
                d = dim(i, -2)
                if d.is_static and d.min % cls.gates == 0:
                    hidden = Dimension(d.min // cls.gates)
        merged([(0, -1), (w, -1)], "input size")
        sizes = [(w, cls.gates), (w + 1, cls.gates), (w + 2, cls.bias_gates(node.attrs)), (w + 3, 3)]
        if hidden.is_static:
            for i, k in sizes[:n_in - w]:
                d = dim(i, -1 if i >= w + 2 else -2)
                if not d.compatible(hidden.min * k):
                    raise ShapeInferenceError(f"{where(node)}: input {i} ({names[i]}) has dimension {d} "
                                              f"where {k} * hidden_size = {hidden.min * k} is expected")
        if not seq:
            return [(et, PartialShape([batch, hidden]))] * cls.n_states
        n_dirs = len(cls.directions(node.attrs))
        num_dirs = Dimension(n_dirs)
        for i in [*states, w, w + 1, w + 2]:
            d = dim(i, 1 if i < w else 0)
            if not d.compatible(n_dirs):
                raise ShapeInferenceError(f"{where(node)}: input {i} ({names[i]}) has {d} directions, "
                                          f"expected {n_dirs} for direction '{node.attrs['direction']}'")
        y = PartialShape([batch, num_dirs, dim(0, 1), hidden])
        return [(et, y)] + [(et, PartialShape([batch, num_dirs, hidden]))] * cls.n_states

    # --- compute ------------------------------------------------------------------------------
    @classmethod
    def _prepared(cls, xp, attrs, weights: Sequence[Any]) -> dict[str, Any]:
        """:func:`_prepare` of the weight inputs ``W, R[, B][, P]``: a cell's get a direction axis,
        and an absent B is zero."""
        weights = list(weights)
        if not cls.is_sequence:
            weights = [xp.reshape(a, (1,) + tuple(a.shape)) for a in weights]
        if len(weights) == 2:
            rows = cls.bias_gates(attrs) * weights[1].shape[-1]
            weights.append(xp.zeros((1, rows), dtype=weights[0].dtype))
        return _prepare(xp, cls.kind, attrs.get("linear_before_reset", False), *weights)

    @classmethod
    def _stepper(cls, xp, attrs, prep):
        if cls.kind == "lstm":
            acts = _activations(xp, attrs, 3, attrs["clip"], unclipped=2)
            return functools.partial(_lstm_step, xp, acts, prep.get("peep"), attrs.get("input_forget", False))
        if cls.kind == "gru":
            return functools.partial(_gru_step, xp, _activations(xp, attrs, 2, attrs["clip"]), prep["rbh"])
        return functools.partial(_rnn_step, xp, _activations(xp, attrs, 1, attrs["clip"]))

    @classmethod
    def _execute(cls, xp, attrs, prep, step, inputs, masked: bool):
        w = cls.w_index()
        X = inputs[0]
        states = list(inputs[1:1 + cls.n_states])
        if cls.is_sequence:
            y, final = _run(xp, step, prep, X, inputs[w - 1], states, cls.directions(attrs), masked)
            return (y, *final)
        X = xp.reshape(X, (X.shape[0], 1, X.shape[1]))
        states = [xp.reshape(s, (s.shape[0], 1, s.shape[1])) for s in states]
        _, final = _run(xp, step, prep, X, None, states, (False,), False)
        final = [xp.reshape(s, (s.shape[0], s.shape[2])) for s in final]
        return final[0] if cls.n_states == 1 else tuple(final)

    @classmethod
    def _call(cls, xp, attrs, masked: bool, inputs):
        prep = cls._prepared(xp, attrs, inputs[cls.w_index():])
        return cls._execute(xp, attrs, prep, cls._stepper(xp, attrs, prep), inputs, masked)

    @classmethod
    def compute(cls, xp, *inputs, **attrs):
        return cls._call(xp, attrs, cls.is_sequence, inputs)

    @classmethod
    def kernel(cls, xp, node):
        """Prepares the weights once when they are constant, and drops the length masking when
        every ``sequence_lengths`` value is the sequence length."""
        attrs = cls.compute_attrs(node)
        w = cls.w_index()
        consts = [node.input_const(i) for i in range(w, node.get_input_size())]
        masked = cls.is_sequence and not _full_lengths(node, w - 1)
        if any(c is None for c in consts):
            return lambda *inputs: cls._call(xp, attrs, masked, inputs)
        prep = cls._prepared(xp, attrs, [xp.asarray(c) for c in consts])
        step = cls._stepper(xp, attrs, prep)
        return lambda *inputs: cls._execute(xp, attrs, prep, step, inputs, masked)


def _full_lengths(node, i: int) -> bool:
    """True when ``sequence_lengths`` is known to equal the (static) sequence length everywhere."""
    lengths = node.input_const(i)
    t_len = node.input_shape(0)[1] if node.input_shape(0).rank_is_static else Dimension()
    return lengths is not None and t_len.is_static and bool((lengths == t_len.min).all())


@register
class LSTMCell_1(_Recurrent):
    """LSTMCell v0: v4's cell plus optional peepholes ``P [3 * hidden]`` (order f, i, o) and
    ``input_forget`` (i = 1 - f), as in OpenVINO's reference. Gates are always in fico order, as
    the spec states; ``weights_format`` is read and written but does not reorder them.
    (OpenVINO's CPU plugin converts this op to v4 and so ignores P and input_forget.)"""

    type_name, version, opset = "LSTMCell", 0, "opset1"
    kind, gates, n_states = "lstm", 4, 2
    attrs = (HIDDEN, _acts_default("sigmoid", "tanh", "tanh"), *COMMON, Attr("input_forget", "bool", False),
             Attr("weights_format", "str", "ifco", choices=("fico", "icof", "ifco", "ifoc", "iofc")))
    n_inputs = (5, 7)


@register
class LSTMCell(_Recurrent):
    type_name, version, opset = "LSTMCell", 4, "opset4"
    kind, gates, n_states = "lstm", 4, 2
    attrs = (HIDDEN, _acts_default("sigmoid", "tanh", "tanh"), *COMMON)
    n_inputs = (5, 6)


@register
class GRUCell(_Recurrent):
    type_name, version, opset = "GRUCell", 3, "opset3"
    kind, gates = "gru", 3
    attrs = (LBR, HIDDEN, _acts_default("sigmoid", "tanh"), *COMMON)
    n_inputs = (4, 5)


@register
class RNNCell(_Recurrent):
    type_name, version, opset = "RNNCell", 0, "opset1"
    kind, gates = "rnn", 1
    attrs = (HIDDEN, _acts_default("tanh"), *COMMON)
    n_inputs = (4, 5)


@register
class LSTMSequence(_Recurrent):
    type_name, version, opset = "LSTMSequence", 5, "opset5"
    kind, gates, n_states, is_sequence = "lstm", 4, 2, True
    attrs = (DIRECTION, HIDDEN, _acts_default("sigmoid", "tanh", "tanh"), *COMMON)
    n_inputs = (7, 7)


@register
class GRUSequence(_Recurrent):
    type_name, version, opset = "GRUSequence", 5, "opset5"
    kind, gates, is_sequence = "gru", 3, True
    attrs = (DIRECTION, LBR, HIDDEN, _acts_default("sigmoid", "tanh"), *COMMON)
    n_inputs = (6, 6)


@register
class RNNSequence(_Recurrent):
    type_name, version, opset = "RNNSequence", 5, "opset5"
    kind, gates, is_sequence = "rnn", 1, True
    attrs = (DIRECTION, HIDDEN, _acts_default("tanh"), *COMMON)
    n_inputs = (6, 6)


# --- factories --------------------------------------------------------------------------------


def _common(hidden_size, activations, activations_alpha, activations_beta, clip) -> dict[str, Any]:
    out: dict[str, Any] = {"hidden_size": hidden_size, "clip": clip, "activations_alpha": activations_alpha or [],
                           "activations_beta": activations_beta or []}
    if activations is not None:
        out["activations"] = activations
    return out


@factory
def lstm_cell(X, initial_hidden_state, initial_cell_state, W, R, B, hidden_size: int,
              activations: list[str] | None = None, activations_alpha: list[float] | None = None,
              activations_beta: list[float] | None = None, clip: float = 0.0,
              name: str | None = None) -> Node:
    return make("LSTMCell", [X, initial_hidden_state, initial_cell_state, W, R, B],
                _common(hidden_size, activations, activations_alpha, activations_beta, clip), name)


@factory
def gru_cell(X, initial_hidden_state, W, R, B, hidden_size: int, activations: list[str] | None = None,
             activations_alpha: list[float] | None = None, activations_beta: list[float] | None = None,
             clip: float = 0.0, linear_before_reset: bool = False, name: str | None = None) -> Node:
    attrs = _common(hidden_size, activations, activations_alpha, activations_beta, clip)
    attrs["linear_before_reset"] = linear_before_reset
    return make("GRUCell", [X, initial_hidden_state, W, R, B], attrs, name)


@factory
def rnn_cell(X, initial_hidden_state, W, R, B, hidden_size: int, activations: list[str],
             activations_alpha: list[float], activations_beta: list[float], clip: float = 0.0,
             name: str | None = None) -> Node:
    return make("RNNCell", [X, initial_hidden_state, W, R, B],
                _common(hidden_size, activations, activations_alpha, activations_beta, clip), name)


@factory
def lstm_sequence(X, initial_hidden_state, initial_cell_state, sequence_lengths, W, R, B, hidden_size: int,
                  direction: str, activations: list[str] | None = None,
                  activations_alpha: list[float] | None = None, activations_beta: list[float] | None = None,
                  clip: float = 0.0, name: str | None = None) -> Node:
    attrs = _common(hidden_size, activations, activations_alpha, activations_beta, clip)
    attrs["direction"] = direction
    return make("LSTMSequence", [X, initial_hidden_state, initial_cell_state, sequence_lengths, W, R, B],
                attrs, name)


@factory
def gru_sequence(X, initial_hidden_state, sequence_lengths, W, R, B, hidden_size: int, direction: str,
                 activations: list[str] | None = None, activations_alpha: list[float] | None = None,
                 activations_beta: list[float] | None = None, clip: float = 0.0,
                 linear_before_reset: bool = False, name: str | None = None) -> Node:
    attrs = _common(hidden_size, activations, activations_alpha, activations_beta, clip)
    attrs.update(direction=direction, linear_before_reset=linear_before_reset)
    return make("GRUSequence", [X, initial_hidden_state, sequence_lengths, W, R, B], attrs, name)


@factory
def rnn_sequence(X, initial_hidden_state, sequence_lengths, W, R, B, hidden_size: int, direction: str,
                 activations: list[str] | None = None, activations_alpha: list[float] | None = None,
                 activations_beta: list[float] | None = None, clip: float = 0.0,
                 name: str | None = None) -> Node:
    attrs = _common(hidden_size, activations, activations_alpha, activations_beta, clip)
    attrs["direction"] = direction
    return make("RNNSequence", [X, initial_hidden_state, sequence_lengths, W, R, B], attrs, name)
