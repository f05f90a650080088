"""ONNX tensor ops: shapes and reshaping, slicing, gather/scatter, padding, resizing, reductions,
sorting and searching, quantization.

Shape-like inputs (target shapes, axes, pads, starts/ends, sizes...) that are known at conversion
time (``node.const_value``) become constants and give static output shapes; otherwise the IR ops
read them at inference. Small index computations over known values are folded into constants.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from arrayrt.ir.frontend.onnx.registry import translator
from arrayrt.ir.frontend.onnx.types import onnx_type
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.interpolate import scaled_dim
from arrayrt.ir.types import Type

from arrayrt.errors import ModelReadError, UnsupportedOpError

I64 = Type.i64
INT64_MAX = np.iinfo(np.int64).max

# --- helpers ------------------------------------------------------------------------------------


def _o(x) -> Output:
    return x.output(0) if isinstance(x, Node) else x


def _ints(node, i: int) -> list[int] | None:
    """Input ``i`` as Python ints when it is known at conversion time."""
    v = node.const_value(i)
    return None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]


def _absent(node, i: int) -> bool:
    """An optional input that is missing, or empty (a tensor of no elements stands for a missing
    one), even when its values are known only at inference."""
    x = node.input(i)
    if x is None:
        return True
    ps = x.get_partial_shape()
    return ps.is_static and math.prod(ps.to_shape()) == 0


def _rank(x: Output) -> int | None:
    ps = x.get_partial_shape()
    return len(ps) if ps.rank_is_static else None


def _dims(x: Output) -> list[int | None] | None:
    ps = x.get_partial_shape()
    if not ps.rank_is_static:
        return None
    return [d.get_length() if d.is_static else None for d in ps]


def _need_rank(x: Output, what: str) -> int:
    r = _rank(x)
    if r is None:
        raise UnsupportedOpError(f"{what} needs an input of known rank")
    return r


def _i64(node, values) -> Output:
    return node.const(np.asarray(values, dtype=np.int64))


def _op(node, op_type: str, inputs: list, attrs: dict | None = None) -> Output:
    """A one-output op on small index values: a Constant when its value is known at conversion
    time (shapes, axes, pads), else the op."""
    probe = Node(get_op(op_type), [_o(i) for i in inputs], attrs or {})
    ps = probe.output(0).get_partial_shape()
    if ps.is_static and math.prod(ps.to_shape()) <= 1024:
        v = probe.static_value(0)
        if v is not None:
            return node.const(v, probe.output(0).get_element_type())
    return node.make(op_type, inputs, attrs).output(0)


def _shape(node, x: Output) -> Output:
    return _op(node, "ShapeOf", [x], {"output_type": I64})


def _dim(node, x: Output, axis: int) -> Output:
    """Dimension ``axis`` (may be negative) of ``x`` as an i64 scalar."""
    dims = _dims(x)
    if dims is not None and dims[axis] is not None:
        return _i64(node, dims[axis])
    return _op(node, "Gather", [_shape(node, x), _i64(node, axis), _i64(node, 0)])


def _convert(node, x: Output, t: Type) -> Output:
    if x.get_element_type() is t:
        return x
    return _op(node, "Convert", [x], {"destination_type": t})


def _as_i64(node, x: Output) -> Output:
    return _convert(node, x, I64)


def _scalar(node, x: Output) -> Output:
    """A one-element input (a scalar or shape [1]) as a scalar."""
    if _rank(x) == 0:
        return x
    return _op(node, "Reshape", [x, _i64(node, [])], {"special_zero": False})


def _bin(node, op: str, a, b) -> Output:
    return _op(node, op, [a, b])


def _norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ModelReadError(f"attribute '{what}' {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _all_axes(node, x: Output) -> Output:
    """``range(rank(x))`` as i64."""
    r = _rank(x)
    if r is not None:
        return _i64(node, list(range(r)))
    rank = _shape(node, _shape(node, x))
    return _op(node, "Range", [_i64(node, 0), _scalar(node, rank), _i64(node, 1)], {"output_type": I64})


def _unsqueeze(node, x: Output, axes) -> Output:
    return _op(node, "Unsqueeze", [x, _i64(node, axes)])


# --- shapes -------------------------------------------------------------------------------------


@translator("Shape")
def shape(node):
    x = node.require(0)
    out = _shape(node, x)
    start, end = node.attr("start", 0), node.attr("end", None)
    if start == 0 and end is None:
        return [out]
    r = _rank(x)
    if r is not None:
        s = range(r)[slice(start, end)]
        return [_op(node, "Slice", [out, _i64(node, [s.start]), _i64(node, [s.stop]), _i64(node, [1])])]
    stop = INT64_MAX if end is None else end
    return [node.make("Slice", [out, _i64(node, [start]), _i64(node, [stop]), _i64(node, [1])])]


@translator("Size")
def size(node):
    x = node.require(0)
    return [_op(node, "ReduceProd", [_shape(node, x), _i64(node, 0)], {"keep_dims": False})]


@translator("Reshape")
def reshape_1(node):
    shape_ = _i64(node, node.attr("shape"))
    return [node.make("Reshape", [node.require(0), shape_], {"special_zero": True})]


@translator("Reshape", since=5)
def reshape(node):
    allowzero = bool(node.attr("allowzero", 0))
    return [node.make("Reshape", [node.require(0), node.require(1)], {"special_zero": not allowzero})]


@translator("Flatten")
def flatten(node):
    x = node.require(0)
    dims = _dims(x)
    r = _need_rank(x, "Flatten") if dims is None else len(dims)
    axis = node.attr("axis", 1)
    axis = axis + r if axis < 0 else axis
    if not 0 <= axis <= r:
        raise ModelReadError(f"attribute 'axis' {node.attr('axis', 1)} is out of range for rank {r}")
    head, tail = dims[:axis], dims[axis:]
    if None not in head and None not in tail:
        target = _i64(node, [math.prod(head), math.prod(tail)])
    elif None not in head and math.prod(head) != 0:
        target = _i64(node, [math.prod(head), -1])
    elif None not in tail and math.prod(tail) != 0:
        target = _i64(node, [-1, math.prod(tail)])
    else:
        shp = _shape(node, x)
        parts = []
        for lo, hi in ((0, axis), (axis, r)):
            piece = node.make("Slice", [shp, _i64(node, [lo]), _i64(node, [hi]), _i64(node, [1])])
            parts.append(node.make("ReduceProd", [piece, _i64(node, [0])], {"keep_dims": True}))
        target = node.make("Concat", parts, {"axis": 0})
    return [node.make("Reshape", [x, target], {"special_zero": False})]


def _squeeze(node, x: Output, axes) -> Output:
    if axes is None:
        return node.make("Squeeze", [x]).output(0)
    return node.make("Squeeze", [x, axes]).output(0)


@translator("Squeeze")
def squeeze_1(node):
    axes = node.attr("axes", None)
    return [_squeeze(node, node.require(0), None if not axes else _i64(node, axes))]


@translator("Squeeze", since=13)
def squeeze(node):
    return [_squeeze(node, node.require(0), None if _absent(node, 1) else node.require(1))]


@translator("Unsqueeze")
def unsqueeze_1(node):
    return [node.make("Unsqueeze", [node.require(0), _i64(node, node.attr("axes"))])]


@translator("Unsqueeze", since=13)
def unsqueeze(node):
    return [node.make("Unsqueeze", [node.require(0), node.require(1)])]


@translator("Transpose")
def transpose(node):
    x = node.require(0)
    perm = node.attr("perm", None)
    if perm is None:
        r = _rank(x)
        perm = list(range(r - 1, -1, -1)) if r is not None else []
    return [node.make("Transpose", [x, _i64(node, perm)])]


@translator("Concat")
def concat(node):
    inputs = [i for i in node.inputs if i is not None]
    return [node.make("Concat", inputs, {"axis": node.attr("axis", 1)})]


@translator("Expand", since=8)
def expand(node):
    target = _as_i64(node, node.require(1))
    return [node.make("Broadcast", [node.require(0), target], {"mode": "bidirectional"})]


@translator("Tile")
def tile_1(node):
    """Tile-1: ``tiles`` copies along the single axis ``axis`` (both scalar inputs)."""
    x = node.require(0)
    r = _need_rank(x, "Tile-1")
    axis, tiles = _ints(node, 2), node.require(1)
    if axis is None:
        raise UnsupportedOpError("Tile-1 needs a constant axis input")
    ax = _norm_axis(axis[0], r)
    onehot = np.zeros(r, np.int64)
    onehot[ax] = 1
    reps = _bin(node, "Add", _i64(node, 1 - onehot),
                _bin(node, "Multiply", _i64(node, onehot), _as_i64(node, _scalar(node, tiles))))
    return [node.make("Tile", [x, reps])]


@translator("Tile", since=6)
def tile(node):
    return [node.make("Tile", [node.require(0), _as_i64(node, node.require(1))])]


# --- Split --------------------------------------------------------------------------------------


def _axis_dim(x: Output, axis: int) -> int | None:
    """The static length of axis ``axis`` of ``x``, or None."""
    dims = _dims(x)
    return None if dims is None else dims[_norm_axis(axis, len(dims))]


def _split(node, x: Output, axis: int, lengths) -> list:
    """Split into the outputs the node names: by ``lengths`` (ints, an Output, or None for equal
    parts)."""
    n = node.num_outputs
    d = _axis_dim(x, axis)
    if lengths is None:
        if n == 1:
            return [x]
        if d is None or d % n == 0:
            parts = node.make("Split", [x, _i64(node, axis)], {"num_splits": n})
            return [parts.output(i) for i in range(n)]
        raise ModelReadError(f"Split: axis length {d} does not divide into {n} outputs")
    if isinstance(lengths, list):
        if len(lengths) != n:
            raise ModelReadError(f"Split: 'split' has {len(lengths)} values for {n} outputs")
        lengths = _i64(node, lengths)
    parts = node.make("VariadicSplit", [x, _i64(node, axis), _as_i64(node, lengths)])
    return [parts.output(i) for i in range(parts.get_output_size())]


@translator("Split")
def split_1(node):
    split = node.attr("split", None)
    if split is None and not _absent(node, 1):
        split = node.require(1)
    return _split(node, node.require(0), node.attr("axis", 0), split)


@translator("Split", since=2)
def split_2(node):
    return _split(node, node.require(0), node.attr("axis", 0), node.attr("split", None))


@translator("Split", since=13)
def split_13(node):
    split = None
    if not _absent(node, 1):
        split = _ints(node, 1)
        if split is None:
            split = node.require(1)
    return _split(node, node.require(0), node.attr("axis", 0), split)


@translator("Split", since=18)
def split_18(node):
    """Split-18: ``num_outputs`` parts of ceil(length / num_outputs), the last one smaller."""
    if not _absent(node, 1) or not node.has_attr("num_outputs"):
        return split_13(node)
    x, n = node.require(0), node.attr("num_outputs")
    if n != node.num_outputs:
        raise ModelReadError(f"attribute 'num_outputs' {n} differs from the {node.num_outputs} outputs")
    axis = node.attr("axis", 0)
    d = _axis_dim(x, axis)
    if d is not None:
        chunk = -(-d // n)
        if d - chunk * (n - 1) < 0:
            raise ModelReadError(f"Split: axis length {d} does not split into {n} parts of {chunk} and a "
                                 "smaller last one")
        return _split(node, x, axis, [chunk] * (n - 1) + [d - chunk * (n - 1)])
    dim = _dim(node, x, axis)
    chunk = _bin(node, "Divide", _bin(node, "Add", dim, _i64(node, n - 1)), _i64(node, n))
    chunks = node.make("Broadcast", [chunk, _i64(node, [n - 1])], {"mode": "numpy"})
    last = _bin(node, "Subtract", dim, _bin(node, "Multiply", chunk, _i64(node, n - 1)))
    lengths = node.make("Concat", [chunks, _unsqueeze(node, last, [0])], {"axis": 0}).output(0)
    return _split(node, x, axis, lengths)


# --- Slice --------------------------------------------------------------------------------------


def _ones_like(node, x: Output) -> Output:
    v = x.node.static_value(x.index)
    if v is not None:
        return _i64(node, np.ones(np.asarray(v).size, np.int64))
    return node.make("Broadcast", [node.const(np.asarray(1, x.get_element_type().to_dtype())),
                                   _shape(node, x)], {"mode": "numpy"}).output(0)


@translator("Slice")
def slice_1(node):
    starts, ends = node.attr("starts"), node.attr("ends")
    inputs = [node.require(0), _i64(node, starts), _i64(node, ends), _i64(node, [1] * len(starts))]
    axes = node.attr("axes", None)
    if axes is not None:
        inputs.append(_i64(node, axes))
    return [node.make("Slice", inputs)]


@translator("Slice", since=10)
def slice_10(node):
    x, starts, ends = node.require(0), node.require(1), node.require(2)
    steps = None if _absent(node, 4) else node.require(4)
    if steps is None:
        steps = _ones_like(node, starts)
    inputs = [x, starts, ends, steps]
    if not _absent(node, 3):
        inputs.append(node.require(3))
    return [node.make("Slice", inputs)]


# --- Gather / Scatter ---------------------------------------------------------------------------


@translator("Gather")
def gather(node):
    return [node.make("Gather", [node.require(0), node.require(1), _i64(node, node.attr("axis", 0))],
                      {"batch_dims": 0})]


@translator("GatherElements", since=11)
def gather_elements(node):
    return [node.make("GatherElements", [node.require(0), node.require(1)], {"axis": node.attr("axis", 0)})]


@translator("GatherND", since=11)
def gather_nd(node):
    return [node.make("GatherND", [node.require(0), node.require(1)],
                      {"batch_dims": node.attr("batch_dims", 0)}, version=8)]


_REDUCTIONS = {"none": "none", "add": "sum", "mul": "prod", "max": "max", "min": "min"}


def _reduction(node) -> str:
    r = node.attr("reduction", "none")
    if r not in _REDUCTIONS:
        raise ModelReadError(f"attribute 'reduction' '{r}' is not one of {sorted(_REDUCTIONS)}")
    return _REDUCTIONS[r]


@translator("Scatter", since=9)
def scatter(node):
    return [node.make("ScatterElementsUpdate", [node.require(0), node.require(1), node.require(2),
                                                _i64(node, node.attr("axis", 0))], {"reduction": "none"})]


@translator("ScatterElements", since=11)
def scatter_elements(node):
    return [node.make("ScatterElementsUpdate", [node.require(0), node.require(1), node.require(2),
                                                _i64(node, node.attr("axis", 0))],
                      {"reduction": _reduction(node), "use_init_val": True})]


@translator("ScatterND", since=11)
def scatter_nd(node):
    return [node.make("ScatterNDUpdate", [node.require(0), node.require(1), node.require(2)],
                      {"reduction": _reduction(node)})]


@translator("TensorScatter", since=24)
def tensor_scatter(node):
    """Write ``update`` into the cache along ``axis`` from each batch's write index (wrapping
    modulo the cache length in circular mode): a ScatterElementsUpdate."""
    past, update = node.require(0), node.require(1)
    r = _need_rank(past, "TensorScatter")
    axis = _norm_axis(node.attr("axis", -2), r)
    mode = node.attr("mode", "linear")
    if mode not in ("linear", "circular"):
        raise ModelReadError(f"attribute 'mode' '{mode}' is not linear or circular")
    seq = _op(node, "Range", [_i64(node, 0), _dim(node, update, axis), _i64(node, 1)], {"output_type": I64})
    pos = _op(node, "Reshape", [seq, _i64(node, [-1 if i == axis else 1 for i in range(r)])],
              {"special_zero": False})
    if not _absent(node, 2):
        start = node.make("Reshape", [_as_i64(node, node.require(2)),
                                      _i64(node, [-1] + [1] * (r - 1))], {"special_zero": False})
        pos = _bin(node, "Add", pos, start)
    if mode == "circular":
        pos = _bin(node, "FloorMod", pos, _dim(node, past, axis))
    idx = node.make("Broadcast", [pos, _shape(node, update)], {"mode": "numpy"})
    return [node.make("ScatterElementsUpdate", [past, idx, update, _i64(node, axis)],
                      {"reduction": "none", "use_init_val": True})]


# --- Pad / CenterCropPad ------------------------------------------------------------------------


def _wrap_pad(node, x: Output, begin: Output, end: Output) -> Output:
    """Wrap padding: each padded axis gathers positions (j - begin) mod length."""
    r = _need_rank(x, "Pad (wrap)")
    b_vals, e_vals = begin.node.static_value(begin.index), end.node.static_value(end.index)
    for ax in range(r):
        if b_vals is not None and e_vals is not None and b_vals[ax] == 0 and e_vals[ax] == 0:
            continue
        d = _dim(node, x, ax)
        b = _op(node, "Gather", [begin, _i64(node, ax), _i64(node, 0)])
        e = _op(node, "Gather", [end, _i64(node, ax), _i64(node, 0)])
        n = _bin(node, "Add", _bin(node, "Add", d, b), e)
        j = _op(node, "Range", [_i64(node, 0), n, _i64(node, 1)], {"output_type": I64})
        idx = _bin(node, "FloorMod", _bin(node, "Subtract", j, b), d)
        x = node.make("Gather", [x, idx, _i64(node, ax)], {"batch_dims": 0}).output(0)
    return x


def _spread(node, values: Output, axes: Output, rank: int) -> Output:
    """Per-axis values for ``rank`` axes from values for ``axes`` (zero elsewhere)."""
    where = _bin(node, "FloorMod", _as_i64(node, axes), _i64(node, rank))
    return _op(node, "ScatterElementsUpdate", [_i64(node, [0] * rank), where, values, _i64(node, 0)],
               {"reduction": "none", "use_init_val": True})


def _pad(node, x: Output, pads, mode: str, value: Output | None, axes) -> Output:
    """Pad ``x`` by ``pads`` (ints or an Output: all begins then all ends, for ``axes`` (ints or
    an Output) or every axis); negative pads crop."""
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise ModelReadError(f"attribute 'mode' '{mode}' is not constant, reflect, edge or wrap")
    if isinstance(pads, list) and (axes is None or isinstance(axes, list)):
        if axes is not None:
            r = _need_rank(x, "Pad with axes")
            full = [0] * (2 * r)
            for k, a in enumerate(axes):
                a = _norm_axis(a, r, "axes")
                full[a], full[r + a] = pads[k], pads[len(axes) + k]
            pads = full
        half = len(pads) // 2
        begin, end = _i64(node, pads[:half]), _i64(node, pads[half:])
    else:
        pads = _i64(node, pads) if isinstance(pads, list) else _as_i64(node, pads)
        parts = node.make("Split", [pads, _i64(node, 0)], {"num_splits": 2})
        begin, end = parts.output(0), parts.output(1)
        if axes is not None:
            r = _need_rank(x, "Pad with axes")
            axes = _i64(node, axes) if isinstance(axes, list) else axes
            begin, end = _spread(node, begin, axes, r), _spread(node, end, axes, r)
    if mode == "wrap":
        return _wrap_pad(node, x, begin, end)
    inputs = [x, begin, end]
    if mode == "constant" and value is not None:
        inputs.append(_convert(node, _scalar(node, value), x.get_element_type()))
    return node.make("Pad", inputs, {"pad_mode": mode}).output(0)


@translator("Pad")
def pad_1(node):
    x = node.require(0)
    value = node.const(np.asarray(node.attr("value", 0.0), x.get_element_type().to_dtype()))
    return [_pad(node, x, node.attr("paddings"), node.attr("mode", "constant"), value, None)]


@translator("Pad", since=2)
def pad_2(node):
    x = node.require(0)
    value = node.const(np.asarray(node.attr("value", 0.0), x.get_element_type().to_dtype()))
    return [_pad(node, x, node.attr("pads"), node.attr("mode", "constant"), value, None)]


@translator("Pad", since=11)
def pad_11(node):
    x = node.require(0)
    pads = _ints(node, 1)
    axes = None
    if not _absent(node, 3):
        axes = _ints(node, 3)
        if axes is None:
            axes = node.require(3)
    value = None if _absent(node, 2) else node.require(2)
    return [_pad(node, x, pads if pads is not None else node.require(1), node.attr("mode", "constant"),
                 value, axes)]


@translator("CenterCropPad", since=18)
def center_crop_pad(node):
    """Crop or zero-pad each listed axis to the target length, centred: a Pad with begin =
    trunc(diff / 2) and end = diff - begin (negative pads crop)."""
    x, target = node.require(0), _as_i64(node, node.require(1))
    r = _need_rank(x, "CenterCropPad")
    axes = [_norm_axis(a, r, "axes") for a in node.attr("axes", list(range(r)))]
    current = node.make("Gather", [_shape(node, x), _i64(node, axes), _i64(node, 0)]).output(0)
    diff = _bin(node, "Subtract", target, current)
    half = _op(node, "Divide", [diff, _i64(node, 2)], {"m_pythondiv": False})
    begin = _spread(node, half, _i64(node, axes), r)
    end = _spread(node, _bin(node, "Subtract", diff, half), _i64(node, axes), r)
    return [node.make("Pad", [x, begin, end], {"pad_mode": "constant"})]


# --- DepthToSpace / SpaceToDepth / Compress / ReverseSequence ----------------------------------

_BLOCK_MODES = {"DCR": "blocks_first", "CRD": "depth_first"}


def _block_mode(node) -> str:
    mode = node.attr("mode", "DCR")
    if mode not in _BLOCK_MODES:
        raise ModelReadError(f"attribute 'mode' '{mode}' is not DCR or CRD")
    return _BLOCK_MODES[mode]


@translator("DepthToSpace")
def depth_to_space(node):
    return [node.make("DepthToSpace", [node.require(0)], {"block_size": node.attr("blocksize"),
                                                          "mode": _block_mode(node)})]


@translator("SpaceToDepth")
def space_to_depth(node):
    return [node.make("SpaceToDepth", [node.require(0)], {"block_size": node.attr("blocksize"),
                                                          "mode": _block_mode(node)})]


@translator("Compress", since=9)
def compress(node):
    x, cond = node.require(0), node.require(1)
    picked = node.make("NonZero", [cond], {"output_type": I64})
    idx = node.make("Reshape", [picked, _i64(node, [-1])], {"special_zero": False})
    axis = node.attr("axis", None)
    if axis is None:
        x = node.make("Reshape", [x, _i64(node, [-1])], {"special_zero": False}).output(0)
        axis = 0
    return [node.make("Gather", [x, idx, _i64(node, axis)], {"batch_dims": 0})]


@translator("ReverseSequence", since=10)
def reverse_sequence(node):
    return [node.make("ReverseSequence", [node.require(0), node.require(1)],
                      {"batch_axis": node.attr("batch_axis", 1), "seq_axis": node.attr("time_axis", 0)})]


# --- Range / OneHot / NonZero / CumSum / CumProd / Unique / Det ---------------------------------


_RANGE_TYPES = (Type.f64, Type.f32, Type.f16, Type.i64, Type.i32, Type.i16, Type.i8, Type.u64, Type.u32,
                Type.u16, Type.u8)


@translator("Range", since=11)
def range_(node):
    """bf16 (and other types the array libraries lack) count in f32 and are converted."""
    t = node.require(0).get_element_type()
    work = t if t in _RANGE_TYPES else Type.f32
    ends = [_convert(node, _scalar(node, node.require(i)), work) for i in range(3)]
    return [_convert(node, node.make("Range", ends, {"output_type": work}).output(0), t)]


@translator("OneHot", since=9)
def one_hot(node):
    """Negative indices count back from depth; OneHot-16's ``normalize`` mode."""
    indices, depth, values = node.require(0), node.require(1), node.require(2)
    if not indices.get_element_type().is_integral_number:
        indices = _as_i64(node, indices)
    depth = _as_i64(node, _scalar(node, depth))
    v = node.const_value(2)
    if v is not None:
        flat = np.asarray(v).reshape(-1)
        off, on = node.const(flat[0]), node.const(flat[1])
    else:
        off = node.make("Gather", [values, _i64(node, 0), _i64(node, 0)]).output(0)
        on = node.make("Gather", [values, _i64(node, 1), _i64(node, 0)]).output(0)
    return [node.make("OneHot", [indices, depth, on, off],
                      {"axis": node.attr("axis", -1), "negative_indices_mode": "normalize"})]


@translator("NonZero", since=9)
def non_zero(node):
    return [node.make("NonZero", [node.require(0)], {"output_type": I64})]


def _cumulative(node, op: str) -> list:
    attrs = {"exclusive": bool(node.attr("exclusive", 0)), "reverse": bool(node.attr("reverse", 0))}
    return [node.make(op, [node.require(0), _scalar(node, node.require(1))], attrs)]


@translator("CumSum", since=11)
def cum_sum(node):
    return _cumulative(node, "CumSum")


@translator("CumProd", since=26)
def cum_prod(node):
    return _cumulative(node, "CumProd")


@translator("Unique", since=11)
def unique(node):
    inputs = [node.require(0)]
    axis = node.attr("axis", None)
    if axis is not None:
        inputs.append(_i64(node, axis))
    n = node.make("Unique", inputs, {"sorted": bool(node.attr("sorted", 1)), "index_element_type": I64,
                                     "count_element_type": I64})
    return [n.output(i) for i in range(4)]


@translator("Det", since=11)
def det(node):
    return [node.make("Det", [node.require(0)])]


# --- TopK / ArgMax / ArgMin ---------------------------------------------------------------------


def _topk(node, x: Output, k: Output, axis: int, largest: bool, sort: bool) -> Node:
    """ONNX puts the lower index first among equal values: TopK-11's ``stable`` (OpenVINO's CPU
    plugin does not otherwise)."""
    return node.make("TopK", [x, k], {"axis": axis, "mode": "max" if largest else "min",
                                      "sort": "value" if sort else "none", "index_element_type": I64,
                                      "stable": sort})


@translator("TopK")
def topk_1(node):
    n = _topk(node, node.require(0), _i64(node, node.attr("k")), node.attr("axis", -1), True, True)
    return [n.output(0), n.output(1)]


@translator("TopK", since=10)
def topk(node):
    k = _as_i64(node, _scalar(node, node.require(1)))
    n = _topk(node, node.require(0), k, node.attr("axis", -1), bool(node.attr("largest", 1)),
              bool(node.attr("sorted", 1)))
    return [n.output(0), n.output(1)]


def _arg(node, largest: bool):
    x = node.require(0)
    r = _need_rank(x, node.op_type)
    axis = _norm_axis(node.attr("axis", 0), r)
    last = bool(node.attr("select_last_index", 0))
    src = x
    if last:
        src = node.make("Reverse", [x, _i64(node, [axis])], {"mode": "index"}).output(0)
    idx = _topk(node, src, _i64(node, 1), axis, largest, True).output(1)
    if last:
        top = _bin(node, "Subtract", _dim(node, x, axis), _i64(node, 1))
        idx = node.make("Subtract", [top, idx]).output(0)
    if not node.attr("keepdims", 1):
        idx = node.make("Squeeze", [idx, _i64(node, [axis])]).output(0)
    return [idx]


@translator("ArgMax")
def arg_max(node):
    return _arg(node, True)


@translator("ArgMin")
def arg_min(node):
    return _arg(node, False)


# --- reductions ---------------------------------------------------------------------------------


def _reduce_axes(node, x: Output, from_input: bool) -> Output | None:
    """The axes to reduce as an Output, or None for 'reduce nothing' (noop_with_empty_axes)."""
    noop = bool(node.attr("noop_with_empty_axes", 0))
    if from_input:
        if _absent(node, 1):
            return None if noop else _all_axes(node, x)
        axes = node.require(1)
        if noop or axes.node.static_value(axes.index) is not None:
            return axes
        # empty axes (known only at inference) mean every axis: append range(rank) when empty
        n = _dim(node, axes, 0)
        empty = _convert(node, node.make("Equal", [n, _i64(node, 0)]).output(0), I64)
        rank = _scalar(node, _shape(node, _shape(node, x)))
        extra = node.make("Range", [_i64(node, 0), _bin(node, "Multiply", rank, empty), _i64(node, 1)],
                          {"output_type": I64})
        return node.make("Concat", [_as_i64(node, axes), extra], {"axis": 0}).output(0)
    axes = node.attr("axes", None)
    if not axes:
        return None if noop else _all_axes(node, x)
    return _i64(node, axes)


def _empty_guard(node, x: Output, axes: Output, out: Output, value: float) -> Output:
    """``out``, or ``value`` where the reduction covers no element. ONNX gives -inf/inf for an
    empty ReduceMax/ReduceMin, the IR ops the lowest/highest finite value. Checked when some
    dimension of ``x`` is 0 at conversion time (by the axes, or at inference for unknown axes)."""
    dims, ax = _dims(x), axes.node.static_value(axes.index)
    if dims is None or 0 not in dims:
        return out
    if ax is not None:
        empty = 0 in [dims[int(a)] for a in np.asarray(ax).reshape(-1)]
        return _fill_like(node, out, value) if empty else out
    picked = node.make("Gather", [_shape(node, x), _as_i64(node, axes), _i64(node, 0)])
    count = node.make("ReduceProd", [picked, _i64(node, 0)], {"keep_dims": False})
    empty = node.make("Equal", [count, _i64(node, 0)])
    fill = node.const(np.asarray(value, out.get_element_type().to_dtype()))
    return node.make("Select", [empty, fill, out]).output(0)


def _reduce(node, op: str, x: Output, axes: Output | None) -> Output:
    if axes is None:
        return x
    keep = bool(node.attr("keepdims", 1))
    return node.make(op, [x, axes], {"keep_dims": keep}).output(0)


def _fill_like(node, reduced: Output, value: float) -> Output:
    """A tensor of ``value`` with the type and shape of ``reduced``."""
    c = node.const(np.asarray(value, reduced.get_element_type().to_dtype()))
    return node.make("Broadcast", [c, _shape(node, reduced)], {"mode": "numpy"}).output(0)


def _reducer(onnx_op: str, since: int, from_input: bool):
    @translator(onnx_op, since=since)
    def convert(node):
        x = node.require(0)
        axes = _reduce_axes(node, x, from_input)
        return [_reduction_value(node, onnx_op, x, axes)]
    return convert


def _reduction_value(node, onnx_op: str, x: Output, axes: Output | None) -> Output:
    t = x.get_element_type()
    if onnx_op in ("ReduceMax", "ReduceMin"):
        if t is Type.boolean:
            return _reduce(node, "ReduceLogicalOr" if onnx_op == "ReduceMax" else "ReduceLogicalAnd", x, axes)
        out = _reduce(node, onnx_op, x, axes)
        if axes is not None and t.is_real:
            return _empty_guard(node, x, axes, out, -np.inf if onnx_op == "ReduceMax" else np.inf)
        return out
    if onnx_op in ("ReduceSum", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2"):
        return _reduce(node, onnx_op, x, axes)
    if onnx_op == "ReduceSumSquare":
        return _reduce(node, "ReduceSum", node.make("Multiply", [x, x]).output(0), axes)
    if onnx_op == "ReduceLogSum":
        return node.make("Log", [_reduce(node, "ReduceSum", x, axes)]).output(0)
    # ReduceLogSumExp: log(sum(exp(x - m))) + m with m the (finite) maximum, for floats
    if axes is None:
        return x
    if not t.is_real:
        return node.make("Log", [_reduce(node, "ReduceSum", node.make("Exp", [x]).output(0), axes)]).output(0)
    keep = bool(node.attr("keepdims", 1))
    m = node.make("ReduceMax", [x, axes], {"keep_dims": True}).output(0)
    zero = node.const(np.zeros((), t.to_dtype()))
    m = node.make("Select", [node.make("IsFinite", [m]), m, zero]).output(0)
    e = node.make("Exp", [node.make("Subtract", [x, m])])
    s = node.make("ReduceSum", [e, axes], {"keep_dims": keep})
    if not keep:
        m = node.make("Squeeze", [m, axes]).output(0)
    return node.make("Add", [node.make("Log", [s]), m]).output(0)


for _name in ("ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
            "ReduceLogSumExp", "ReduceSumSquare"):
    _reducer(_name, 1, False)
    _reducer(_name, 18, True)
_reducer("ReduceSum", 1, False)
_reducer("ReduceSum", 13, True)


# --- Resize / Upsample --------------------------------------------------------------------------

_INTERPOLATE_COORDINATES = ("half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn",
                            "align_corners")


def _interpolate_agrees(x: Output, axes: list[int] | None, scales: list[float] | None, coord: str) -> bool:
    """Whether Interpolate, given scales, resizes to ONNX's lengths floor(length * scale) (float64;
    Interpolate adds 1e-6 in float32) on every axis of known length, and in align_corners maps
    coordinates alike (ONNX divides by length * scale - 1, Interpolate by the resized length - 1)."""
    dims = _dims(x)
    if scales is None or dims is None:
        return coord != "align_corners"
    for a, s in zip(axes if axes is not None else range(len(dims)), scales):
        d = dims[a]
        if d is None:
            if coord == "align_corners":
                return False
            continue
        exact = float(np.float32(s)) * d
        if scaled_dim(d, s) != int(exact) or (coord == "align_corners" and exact != int(exact)):
            return False
    return True


def _resize(node, x: Output, values: Output, use_scales: bool, roi: Output | None, mode: str, coord: str,
            nearest: str, cubic_a: float, exclude: bool, extrapolation: float, antialias: bool,
            axes: list[int] | None, policy: str, onnx_lengths: bool = True) -> Output:
    """Interpolate-11 when it computes what ONNX asks, else arrayrt's Resize extension op.
    ``onnx_lengths`` asks for ONNX's resized lengths from scales (Resize-10 and Upsample take
    Interpolate's, as ONNX Runtime computes them in float32 too)."""
    if mode not in ("nearest", "linear", "cubic"):
        raise ModelReadError(f"attribute 'mode' '{mode}' is not nearest, linear or cubic")
    scales = None
    if use_scales:
        v = values.node.static_value(values.index)
        scales = None if v is None else [float(s) for s in np.asarray(v).reshape(-1)]
    matches = (coord in _INTERPOLATE_COORDINATES and not antialias and not exclude and policy == "stretch"
               and (not use_scales or not onnx_lengths or _interpolate_agrees(x, axes, scales, coord)))
    if matches:
        attrs = {"mode": {"linear": "linear_onnx"}.get(mode, mode),
                 "shape_calculation_mode": "scales" if use_scales else "sizes",
                 "coordinate_transformation_mode": coord, "nearest_mode": nearest,
                 "cube_coeff": cubic_a, "antialias": False}
        inputs = [x, _convert(node, values, Type.f32) if use_scales else _as_i64(node, values)]
        if axes is not None:
            inputs.append(_i64(node, axes))
        return node.make("Interpolate", inputs, attrs, version=11).output(0)
    attrs = {"mode": mode, "shape_calculation_mode": "scales" if use_scales else "sizes",
             "coordinate_transformation_mode": coord, "nearest_mode": nearest, "cubic_coeff_a": cubic_a,
             "exclude_outside": exclude, "extrapolation_value": extrapolation, "antialias": antialias,
             "keep_aspect_ratio_policy": policy, "axes": list(axes or [])}
    inputs = [x, _convert(node, values, Type.f32) if use_scales else _as_i64(node, values)]
    if coord == "tf_crop_and_resize":
        if roi is None:
            raise ModelReadError("coordinate_transformation_mode tf_crop_and_resize needs the roi input")
        inputs.append(_convert(node, roi, Type.f32))
    return node.make("Resize", inputs, attrs).output(0)


@translator("Resize", since=10)
def resize_10(node):
    """Resize-10 (and Upsample) resize with asymmetric coordinates; nearest takes the ceiling when
    shrinking and the floor when growing, Interpolate's ``simple`` mode (as ONNX Runtime does)."""
    mode = node.attr("mode", "nearest")
    return [_resize(node, node.require(0), node.require(1), True, None, mode, "asymmetric", "simple", -0.75,
                    False, 0.0, False, None, "stretch", onnx_lengths=False)]


@translator("Resize", since=11)
def resize(node):
    x = node.require(0)
    use_scales = not _absent(node, 2)
    if not use_scales and _absent(node, 3):
        raise ModelReadError("Resize needs scales or sizes")
    values = node.require(2) if use_scales else node.require(3)
    axes = node.attr("axes", None)
    if axes is not None:
        axes = [_norm_axis(a, _need_rank(x, "Resize with axes"), "axes") for a in axes]
    roi = None if _absent(node, 1) else node.require(1)
    return [_resize(node, x, values, use_scales, roi, node.attr("mode", "nearest"),
                    node.attr("coordinate_transformation_mode", "half_pixel"),
                    node.attr("nearest_mode", "round_prefer_floor"), node.attr("cubic_coeff_a", -0.75),
                    bool(node.attr("exclude_outside", 0)), node.attr("extrapolation_value", 0.0),
                    bool(node.attr("antialias", 0)), axes, node.attr("keep_aspect_ratio_policy", "stretch"))]


@translator("Upsample", since=7)
def upsample_7(node):
    scales = node.const(np.asarray(node.attr("scales"), np.float32))
    return [_resize(node, node.require(0), scales, True, None, node.attr("mode", "nearest"), "asymmetric",
                    "simple", -0.75, False, 0.0, False, None, "stretch", onnx_lengths=False)]


@translator("Upsample", since=9)
def upsample_9(node):
    return [_resize(node, node.require(0), node.require(1), True, None, node.attr("mode", "nearest"),
                    "asymmetric", "simple", -0.75, False, 0.0, False, None, "stretch", onnx_lengths=False)]


# --- quantization -------------------------------------------------------------------------------

_INT_RANGES = {Type.u8: (0, 255), Type.i8: (-128, 127), Type.u16: (0, 65535), Type.i16: (-32768, 32767),
               Type.u4: (0, 15), Type.i4: (-8, 7), Type.u2: (0, 3), Type.i2: (-2, 1),
               Type.i32: (-2**31, 2**31 - 1)}
_F8 = (Type.f8e4m3, Type.f8e5m2, Type.f8e4m3fnuz, Type.f8e5m2fnuz)


def _broadcast_param(node, p: Output, x: Output, axis: int, block: int) -> Output:
    """A scale or zero point shaped to broadcast against ``x``: per-tensor as is, per-axis along
    ``axis``, blocked repeated ``block`` times along ``axis`` (and cut to its length)."""
    ps = p.get_partial_shape()
    one = ps.is_static and math.prod(ps.to_shape()) == 1
    if ps.rank_is_static and (len(ps) == 0 or (one and not block)):
        return _scalar(node, p) if len(ps) else p
    r = _need_rank(x, "per-axis or blocked quantization")
    axis = _norm_axis(axis, r)
    if not block:
        shape_ = _i64(node, [-1] + [1] * (r - axis - 1))
        return node.make("Reshape", [p, shape_], {"special_zero": False}).output(0)
    n = _dim(node, x, axis)
    idx = _op(node, "Range", [_i64(node, 0), n, _i64(node, 1)], {"output_type": I64})
    idx = _op(node, "Divide", [idx, _i64(node, block)])
    return node.make("Gather", [p, idx, _i64(node, axis)], {"batch_dims": 0}).output(0)


def _quant_type(node, zp: Output | None) -> Type:
    if zp is not None:
        return zp.get_element_type()
    dt = node.attr("output_dtype", 0)
    return onnx_type(dt) if dt else Type.u8


@translator("QuantizeLinear", since=10)
def quantize_linear(node):
    """y = saturate(round_half_even(x / scale) + zero_point), computed in f32 (f64 when x or the
    scale is f64); float8 and float4 outputs are clamped to their largest finite value when
    ``saturate`` (float4 always) and rounded by the conversion."""
    x, scale = node.require(0), node.require(1)
    zp = None if _absent(node, 2) else node.require(2)
    t = _quant_type(node, zp)
    axis, block = node.attr("axis", 1), node.attr("block_size", 0)
    wide = Type.f64 if Type.f64 in (x.get_element_type(), scale.get_element_type()) else Type.f32
    precision = node.attr("precision", 0)
    if precision:
        wide = onnx_type(precision)
    s = _convert(node, _broadcast_param(node, scale, x, axis, block), wide)
    y = node.make("Divide", [_convert(node, x, wide), s]).output(0)
    if t in _INT_RANGES:
        y = node.make("Round", [y], {"mode": "half_to_even"}).output(0)
    if zp is not None and t not in _F8:
        zp = _convert(node, _broadcast_param(node, zp, x, axis, block), wide)
        y = node.make("Add", [y, zp]).output(0)
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        y = node.make("Clamp", [y], {"min": float(lo), "max": float(hi)}).output(0)
    elif (t in _F8 and node.attr("saturate", 1)) or t is Type.f4e2m1:
        big = float(ml_dtypes.finfo(t.to_dtype()).max)
        y = node.make("Clamp", [y], {"min": -big, "max": big}).output(0)
    elif t not in _F8:
        raise UnsupportedOpError(f"QuantizeLinear to {t} is not supported")
    return [node.make("Convert", [y], {"destination_type": t})]


@translator("DequantizeLinear", since=10)
def dequantize_linear(node):
    """y = (x - zero_point) * scale, computed in f32 and converted to the scale's type (or
    ``output_dtype``)."""
    x, scale = node.require(0), node.require(1)
    zp = None if _absent(node, 2) else node.require(2)
    axis, block = node.attr("axis", 1), node.attr("block_size", 0)
    dt = node.attr("output_dtype", 0)
    out_t = onnx_type(dt) if dt else scale.get_element_type()
    wide = Type.f64 if out_t is Type.f64 else Type.f32
    y = _convert(node, x, wide)
    if zp is not None and x.get_element_type() not in _F8:
        zp = _convert(node, _broadcast_param(node, zp, x, axis, block), wide)
        y = node.make("Subtract", [y, zp]).output(0)
    scale = _convert(node, _broadcast_param(node, scale, x, axis, block), wide)
    y = node.make("Multiply", [y, scale]).output(0)
    return [_convert(node, y, out_t)]


@translator("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(node):
    """uint8 quantization over the range of x widened to include 0: scale = (max - min) / 255,
    zero point = saturate(round(-min / scale))."""
    x = node.require(0)
    axes = _all_axes(node, x)
    zero = node.const(np.zeros((), np.float32))
    hi = node.make("Maximum", [node.make("ReduceMax", [x, axes], {"keep_dims": False}), zero])
    lo = node.make("Minimum", [node.make("ReduceMin", [x, axes], {"keep_dims": False}), zero])
    scale = node.make("Divide", [node.make("Subtract", [hi, lo]), node.const(np.float32(255))]).output(0)
    zp = node.make("Divide", [node.make("Negative", [lo]), scale])
    zp = node.make("Round", [zp], {"mode": "half_to_even"})
    zp = node.make("Clamp", [zp], {"min": 0.0, "max": 255.0})
    y = node.make("Round", [node.make("Divide", [x, scale])], {"mode": "half_to_even"})
    y = node.make("Clamp", [node.make("Add", [y, zp])], {"min": 0.0, "max": 255.0})
    return [node.make("Convert", [y], {"destination_type": Type.u8}).output(0), scale,
            node.make("Convert", [zp], {"destination_type": Type.u8}).output(0)]

