"""ONNX value kinds OpenVINO lacks: sequences and optionals (arrayrt extension ops, op set ``arrayrt1``).

At inference a sequence is a Python ``list`` of arrays and an optional is ``None`` or its value (an
array or a list). A port carrying such a value keeps the element type of the tensors it holds and,
as its "shape", the shape every element has in common (dynamic where they differ); what the port
holds is its *value kind*, found by :func:`value_kind`: the producing op says (``output_kinds``),
a Parameter carries it in its port ``rt_info`` (written to and read from IR), and ``Identity`` /
``Result`` pass it through.
"""
from __future__ import annotations

from typing import Any

from arrayrt.ir.graph import Output
from arrayrt.ir.ops.base import EXTENSION_OPSET, Attr, OpDef, register
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where

TENSOR = "tensor"
SEQUENCE = "sequence"
OPTIONAL_TENSOR = "optional_tensor"
OPTIONAL_SEQUENCE = "optional_sequence"
KINDS = (TENSOR, SEQUENCE, OPTIONAL_TENSOR, OPTIONAL_SEQUENCE)

#: port ``rt_info`` key marking a Parameter that takes a sequence or an optional
KIND_KEY = "arrayrt_value_kind"


def value_kind(out: Output) -> str:
    """What ``out`` carries at inference: one of :data:`KINDS`."""
    while True:
        node = out.node
        hook = getattr(node.op, "output_kinds", None)
        if hook is not None:
            return hook(node)[out.index]
        t = node.type_name
        if t == "Parameter":
            info = out.get_rt_info().get(KIND_KEY)
            return _kind_text(info) if info is not None else TENSOR
        if t in ("Result", "Identity"):
            out = node.input_value(0)
            continue
        return TENSOR


def _kind_text(info: Any) -> str:
    kind = info.get("value") if isinstance(info, dict) else info
    return kind if kind in KINDS else TENSOR


def set_value_kind(out: Output, kind: str) -> None:
    """Mark a Parameter's port as taking a ``kind`` value (a tensor needs no mark)."""
    if kind not in KINDS:
        raise ValueError(f"unknown value kind '{kind}', expected one of {KINDS}")
    rt = out.get_rt_info()
    if kind == TENSOR:
        rt.pop(KIND_KEY, None)
    else:
        rt[KIND_KEY] = {"version": "0", "value": kind}


def is_optional(kind: str) -> bool:
    return kind in (OPTIONAL_TENSOR, OPTIONAL_SEQUENCE)


def optional_of(kind: str) -> str:
    """The optional kind wrapping values of ``kind``."""
    if is_optional(kind):
        return kind
    return OPTIONAL_SEQUENCE if kind == SEQUENCE else OPTIONAL_TENSOR


def element_of(kind: str) -> str:
    """The kind an optional of ``kind`` holds when it holds something."""
    return {OPTIONAL_TENSOR: TENSOR, OPTIONAL_SEQUENCE: SEQUENCE}.get(kind, kind)


# --- shapes -----------------------------------------------------------------------------------
def union_shape(a: PartialShape, b: PartialShape) -> PartialShape:
    """A shape that both ``a`` and ``b`` fit (OpenVINO's If rule): equal dims stay, different
    static dims become an interval, different ranks a dynamic rank (rank 1 for scalar with 1-D)."""
    if not a.rank_is_static or not b.rank_is_static:
        return PartialShape.dynamic()
    if len(a) != len(b):
        return PartialShape.dynamic(1) if len(a) <= 1 and len(b) <= 1 else PartialShape.dynamic()
    dims = []
    for x, y in zip(a, b):
        if x.is_dynamic or y.is_dynamic:
            dims.append(Dimension())
        elif x == y:
            dims.append(x)
        else:
            dims.append(Dimension(min(x.min, y.min), max(x.min, y.min)))
    return PartialShape(dims)


def _merged_type(node: Any, types: list[Type]) -> Type:
    out = Type.dynamic
    for t in types:
        m = out.merge(t)
        if m is None:
            raise ShapeInferenceError(f"{where(node)}: the tensors of a sequence must share one element type, "
                                      f"got {[str(t) for t in types]}")
        out = m
    return out


def _check_kind(node: Any, i: int, kinds: tuple[str, ...], what: str) -> str:
    kind = value_kind(node.input_value(i))
    if kind not in kinds:
        raise ShapeInferenceError(f"{where(node)}: input {i} ({what}) must be a {' or '.join(kinds)}, got a {kind}")
    return kind


def _index(xp: Any, i: Any, n: int, what: str, inclusive: bool = False) -> int:
    """A position in a sequence of ``n`` (negative from the end); ``inclusive`` allows ``n``."""
    k = int(xp.reshape(i, (-1,))[0])
    hi = n if inclusive else n - 1
    if not -n <= k <= hi:
        raise IndexError(f"{what} {k} is out of range for a sequence of {n} tensors")
    return k + n if k < 0 else k


class _SequenceOp(OpDef):
    """Sequence values are Python lists: never folded into constants."""

    opset = EXTENSION_OPSET
    foldable = False

    @classmethod
    def output_kinds(cls, node: Any) -> list[str]:
        return [SEQUENCE]


@register
class SequenceEmpty(_SequenceOp):
    """An empty sequence of ``element_type`` tensors."""

    type_name, version = "SequenceEmpty", 1
    attrs = (Attr("element_type", "type", Type.f32),)
    n_inputs = (0, 0)

    @classmethod
    def infer(cls, node):
        return [(node.attrs["element_type"], PartialShape.dynamic())]

    @staticmethod
    def compute(xp):
        return []


@register
class SequenceConstruct(_SequenceOp):
    """The sequence of its inputs, in order."""

    type_name, version = "SequenceConstruct", 1
    n_inputs = (1, None)

    @classmethod
    def infer(cls, node):
        n = node.get_input_size()
        for i in range(n):
            _check_kind(node, i, (TENSOR,), "tensor")
        shape = node.input_shape(0)
        for i in range(1, n):
            shape = union_shape(shape, node.input_shape(i))
        return [(_merged_type(node, [node.input_type(i) for i in range(n)]), shape)]

    @staticmethod
    def compute(xp, *tensors):
        return list(tensors)


@register
class SequenceInsert(_SequenceOp):
    """The sequence with ``tensor`` inserted before ``position`` (default: at the end)."""

    type_name, version = "SequenceInsert", 1
    n_inputs = (2, 3)

    @classmethod
    def infer(cls, node):
        _check_kind(node, 0, (SEQUENCE,), "sequence")
        _check_kind(node, 1, (TENSOR,), "tensor")
        return [(_merged_type(node, [node.input_type(0), node.input_type(1)]),
                 _grown(node.input_value(0), node.input_shape(1)))]

    @staticmethod
    def compute(xp, seq, tensor, position=None):
        k = len(seq) if position is None else _index(xp, position, len(seq), "position", inclusive=True)
        return seq[:k] + [tensor] + seq[k:]


def _grown(seq: Output, shape: PartialShape) -> PartialShape:
    """The element shape of ``seq`` after adding a tensor of ``shape`` (an empty sequence's
    element shape says nothing)."""
    if seq.node.type_name == "SequenceEmpty":
        return shape
    return union_shape(seq.get_partial_shape(), shape)


@register
class SequenceAt(OpDef):
    """The tensor at ``position`` (negative counts from the end)."""

    type_name, version, opset = "SequenceAt", 1, EXTENSION_OPSET
    n_inputs = (2, 2)
    foldable = False

    @classmethod
    def infer(cls, node):
        _check_kind(node, 0, (SEQUENCE,), "sequence")
        return [(node.input_type(0), node.input_shape(0))]

    @staticmethod
    def compute(xp, seq, position):
        return seq[_index(xp, position, len(seq), "position")]


@register
class SequenceErase(_SequenceOp):
    """The sequence without the tensor at ``position`` (default: the last)."""

    type_name, version = "SequenceErase", 1
    n_inputs = (1, 2)

    @classmethod
    def infer(cls, node):
        _check_kind(node, 0, (SEQUENCE,), "sequence")
        return [(node.input_type(0), node.input_shape(0))]

    @staticmethod
    def compute(xp, seq, position=None):
        k = len(seq) - 1 if position is None else _index(xp, position, len(seq), "position")
        if k < 0:
            raise IndexError("cannot erase from an empty sequence")
        return seq[:k] + seq[k + 1:]


@register
class SequenceLength(OpDef):
    """The number of tensors in the sequence, as an i64 scalar."""

    type_name, version, opset = "SequenceLength", 1, EXTENSION_OPSET
    foldable = False

    @classmethod
    def infer(cls, node):
        _check_kind(node, 0, (SEQUENCE,), "sequence")
        return [(Type.i64, PartialShape([]))]

    @staticmethod
    def compute(xp, seq):
        return xp.asarray(len(seq), dtype=xp.int64)


def _split_sizes(xp: Any, dim: int, split: Any) -> list[int]:
    """Part lengths along a ``dim``-long axis: 1 each (no split), a scalar size (the last part
    takes what is left), or explicit lengths that must add up to ``dim``."""
    if split is None:
        return [1] * dim
    if split.ndim == 0:
        step = int(split)
        if step <= 0:
            raise ValueError(f"the split size must be positive, got {step}")
        return [min(step, dim - k) for k in range(0, dim, step)]
    sizes = [int(v) for v in xp.reshape(split, (-1,))]
    if any(v < 0 for v in sizes) or sum(sizes) != dim:
        raise ValueError(f"split lengths {sizes} must be non-negative and add up to the axis length {dim}")
    return sizes


@register
class SplitToSequence(_SequenceOp):
    """``input`` cut along ``axis`` into a sequence: by ``split`` (a size or lengths), or into
    length-1 parts, squeezed unless ``keepdims``."""

    type_name, version = "SplitToSequence", 1
    attrs = (Attr("axis", "int", 0), Attr("keepdims", "bool", True))
    n_inputs = (1, 2)

    @classmethod
    def infer(cls, node):
        ps, t = node.input_shape(0), node.input_type(0)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        axis = _norm(node, node.attrs["axis"], len(ps))
        dims = list(ps)
        split = node.input_const(1) if node.get_input_size() > 1 else None
        if node.get_input_size() == 1:
            if not node.attrs["keepdims"]:
                return [(t, PartialShape(dims[:axis] + dims[axis + 1:]))]
            dims[axis] = Dimension(1)
        elif split is not None and split.ndim == 0 and dims[axis].is_static \
                and dims[axis].get_length() % max(int(split), 1) == 0:
            dims[axis] = Dimension(int(split))
        elif split is not None and split.ndim == 1 and len(set(split.tolist())) == 1:
            dims[axis] = Dimension(int(split[0]))
        else:
            dims[axis] = Dimension()
        return [(t, PartialShape(dims))]

    @staticmethod
    def compute(xp, x, split=None, axis=0, keepdims=True):
        axis = axis + x.ndim if axis < 0 else axis
        parts, begin = [], 0
        for size in _split_sizes(xp, int(x.shape[axis]), split):
            part = x[(slice(None),) * axis + (slice(begin, begin + size), ...)]
            parts.append(xp.squeeze(part, axis=axis) if split is None and not keepdims else part)
            begin += size
        return parts


def _norm(node: Any, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeInferenceError(f"{where(node)}: axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


@register
class ConcatFromSequence(OpDef):
    """The tensors of a sequence concatenated along ``axis``, or stacked on a new ``axis`` when
    ``new_axis`` (then ``axis`` counts in the output's rank)."""

    type_name, version, opset = "ConcatFromSequence", 1, EXTENSION_OPSET
    attrs = (Attr("axis", "int"), Attr("new_axis", "bool", False))
    foldable = False

    @classmethod
    def infer(cls, node):
        _check_kind(node, 0, (SEQUENCE,), "sequence")
        ps, t = node.input_shape(0), node.input_type(0)
        if not ps.rank_is_static:
            return [(t, PartialShape.dynamic())]
        dims = list(ps)
        if node.attrs["new_axis"]:
            axis = _norm(node, node.attrs["axis"], len(dims) + 1)
            dims.insert(axis, Dimension())
        else:
            dims[_norm(node, node.attrs["axis"], len(dims))] = Dimension()
        return [(t, PartialShape(dims))]

    @staticmethod
    def compute(xp, seq, axis, new_axis):
        if not seq:
            raise ValueError("cannot concatenate an empty sequence")
        if new_axis:
            return xp.stack(seq, axis=axis)
        return xp.concat(seq, axis=axis)


# --- optionals ---------------------------------------------------------------------------------
@register
class Optional(OpDef):
    """An optional holding its input, or, without one, an empty optional of ``element_type`` /
    ``element_shape`` tensors (``element_kind`` says whether it would hold a tensor or a sequence)."""

    type_name, version, opset = "Optional", 1, EXTENSION_OPSET
    attrs = (Attr("element_type", "type", Type.dynamic),
             Attr("element_shape", "shape", lambda: PartialShape.dynamic()),
             Attr("element_kind", "str", TENSOR, choices=(TENSOR, SEQUENCE)))
    n_inputs = (0, 1)
    foldable = False

    @classmethod
    def output_kinds(cls, node):
        if node.get_input_size():
            return [optional_of(value_kind(node.input_value(0)))]
        return [optional_of(node.attrs["element_kind"])]

    @classmethod
    def infer(cls, node):
        if node.get_input_size():
            return [(node.input_type(0), node.input_shape(0))]
        return [(node.attrs["element_type"], node.attrs["element_shape"])]

    @staticmethod
    def compute(xp, value=None):
        return value


@register
class OptionalHasElement(OpDef):
    """Whether the optional holds a value (a tensor or sequence input always does; no input
    never does), as a boolean scalar."""

    type_name, version, opset = "OptionalHasElement", 1, EXTENSION_OPSET
    n_inputs = (0, 1)
    foldable = False

    @classmethod
    def infer(cls, node):
        return [(Type.boolean, PartialShape([]))]

    @staticmethod
    def compute(xp, value=None):
        return xp.asarray(value is not None)


@register
class OptionalGetElement(OpDef):
    """The value an optional holds (an error when it is empty); a tensor or sequence passes."""

    type_name, version, opset = "OptionalGetElement", 1, EXTENSION_OPSET
    foldable = False

    @classmethod
    def output_kinds(cls, node):
        return [element_of(value_kind(node.input_value(0)))]

    @classmethod
    def infer(cls, node):
        return [(node.input_type(0), node.input_shape(0))]

    @staticmethod
    def compute(xp, value):
        if value is None:
            raise ValueError("the optional is empty")
        return value


# --- strings (numpy object arrays: only backends that hold Type.string run these) ----------------
def _strings(xp: Any, values: list[str], shape: tuple[int, ...]) -> Any:
    return xp.reshape(xp.asarray(values, dtype=object), shape)


def _flat(xp: Any, x: Any) -> list[Any]:
    return list(xp.reshape(x, (-1,)))


def _check_string(node: Any, i: int) -> None:
    t = node.input_type(i)
    if t.is_static and t is not Type.string:
        raise ShapeInferenceError(f"{where(node)}: input {i} must be a string tensor, got {t}")


@register
class StringNormalizer(OpDef):
    """Drops the elements of a [C] or [1, C] string tensor that equal a stop word (ignoring case
    unless ``is_case_sensitive``), then lower- or upper-cases the rest; when nothing is left the
    output is one empty string ([1] or [1, 1]). ONNX's reference also strips accents and removes
    stop words inside elements; the spec (followed here) does neither."""

    type_name, version, opset = "StringNormalizer", 1, EXTENSION_OPSET
    attrs = (Attr("case_change_action", "str", "NONE", choices=("NONE", "LOWER", "UPPER")),
             Attr("is_case_sensitive", "bool", False), Attr("stopwords", "strs", list))

    @classmethod
    def infer(cls, node):
        _check_string(node, 0)
        ps = node.input_shape(0)
        if ps.rank_is_static and len(ps) not in (1, 2):
            raise ShapeInferenceError(f"{where(node)}: input 0 must be [C] or [1, C], got {ps}")
        if ps.rank_is_static and not node.attrs["stopwords"]:
            return [(Type.string, ps)]
        return [(Type.string, PartialShape.dynamic(len(ps)) if ps.rank_is_static else ps)]

    @classmethod
    def kernel(cls, xp, node):
        sensitive = node.attrs["is_case_sensitive"]
        stops = set(node.attrs["stopwords"]) if sensitive else {w.lower() for w in node.attrs["stopwords"]}
        change = {"LOWER": str.lower, "UPPER": str.upper}.get(node.attrs["case_change_action"])

        def run(x):
            kept = [s for s in _flat(xp, x) if (s if sensitive else s.lower()) not in stops]
            kept = [change(s) for s in kept] if change else kept
            if not kept:
                kept = [""]
            return _strings(xp, kept, (len(kept),) if x.ndim == 1 else (1, len(kept)))

        return run


@register
class RegexFullMatch(OpDef):
    """Whether each string matches ``pattern`` as a whole (Python ``re``, close to RE2 syntax)."""

    type_name, version, opset = "RegexFullMatch", 1, EXTENSION_OPSET
    attrs = (Attr("pattern", "str"),)

    @classmethod
    def check_attrs(cls, attrs, node):
        import re

        try:
            re.compile(attrs["pattern"])
        except re.error as exc:
            from arrayrt.errors import OpAttributeError

            raise OpAttributeError(f"{where(node)}: attribute 'pattern' is not a valid regex: {exc}") from None

    @classmethod
    def infer(cls, node):
        _check_string(node, 0)
        return [(Type.boolean, node.input_shape(0))]

    @classmethod
    def kernel(cls, xp, node):
        import re

        regex = re.compile(node.attrs["pattern"])

        def run(x):
            hits = [regex.fullmatch(s) is not None for s in _flat(xp, x)]
            return xp.reshape(xp.asarray(hits, dtype=xp.bool), tuple(x.shape))

        return run


@register
class StringConcat(OpDef):
    """Elementwise ``x + y`` of two string tensors, with numpy broadcasting."""

    type_name, version, opset = "StringConcat", 1, EXTENSION_OPSET
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        from arrayrt.ir.ops._shapes import broadcast_shapes

        _check_string(node, 0)
        _check_string(node, 1)
        return [(Type.string, broadcast_shapes(node.input_shape(0), node.input_shape(1)))]

    @staticmethod
    def compute(xp, x, y):
        return x + y


@register
class StringSplit(OpDef):
    """Splits each string at ``delimiter`` (empty: at runs of whitespace, ends trimmed), at most
    ``maxsplit`` times (-1: no limit). Output 0 has the parts along a new last axis, padded with
    empty strings to the longest; output 1 the part counts (i64)."""

    type_name, version, opset = "StringSplit", 1, EXTENSION_OPSET
    attrs = (Attr("delimiter", "str", ""), Attr("maxsplit", "int", -1))
    n_outputs = 2

    @classmethod
    def infer(cls, node):
        _check_string(node, 0)
        ps = node.input_shape(0)
        parts = PartialShape([*ps, Dimension()]) if ps.rank_is_static else ps
        return [(Type.string, parts), (Type.i64, ps)]

    @classmethod
    def kernel(cls, xp, node):
        sep = node.attrs["delimiter"] or None
        limit = node.attrs["maxsplit"]

        def run(x):
            pieces = [s.split(sep, limit) for s in _flat(xp, x)]
            width = max((len(p) for p in pieces), default=0)
            flat = [p[k] if k < len(p) else "" for p in pieces for k in range(width)]
            counts = xp.asarray([len(p) for p in pieces], dtype=xp.int64)
            return _strings(xp, flat, (*x.shape, width)), xp.reshape(counts, tuple(x.shape))

        return run


# --- ai.onnx.ml -------------------------------------------------------------------------------
@register
class LabelEncoder(OpDef):
    """Maps each element of ``x`` found in ``keys`` to the ``values`` entry at the same place, any
    other to ``default`` (a NaN key matches NaN). Inputs: x, keys, values, default (a scalar)."""

    type_name, version, opset = "LabelEncoder", 1, EXTENSION_OPSET
    n_inputs = (4, 4)

    @classmethod
    def infer(cls, node):
        if node.input_type(0).merge(node.input_type(1)) is None:
            raise ShapeInferenceError(f"{where(node)}: keys are {node.input_type(1)}, the input "
                                      f"{node.input_type(0)}")
        return [(node.input_type(2), node.input_shape(0))]

    @staticmethod
    def compute(xp, x, keys, values, default):
        hit = x[..., None] == keys
        if x.dtype != object and xp.isdtype(x.dtype, "real floating"):
            hit = hit | (xp.isnan(x)[..., None] & xp.isnan(keys))
        found = xp.any(hit, axis=-1)
        where_ = xp.argmax(xp.astype(hit, xp.int8), axis=-1)
        mapped = xp.reshape(xp.take(values, xp.reshape(where_, (-1,))), tuple(x.shape))
        return xp.where(found, mapped, default)


@register
class TfIdfVectorizer(OpDef):
    """Counts, per row of a [C] or [B, C] input, the n-grams of ``pool`` (``ngram_counts`` gives
    where each n-gram length starts in it) of lengths ``min_gram_length`` to
    ``max_gram_length``, their items up to ``max_skip_count`` apart (unigrams once); n-gram k
    counts into output column ``ngram_indexes[k]``. ``mode`` TF gives the counts, IDF the weight
    (1 without weights) where the count is positive, TFIDF count times weight. Input 1 is the
    pool (int64 or strings)."""

    type_name, version, opset = "TfIdfVectorizer", 1, EXTENSION_OPSET
    attrs = (Attr("mode", "str", choices=("TF", "IDF", "TFIDF")), Attr("min_gram_length", "int"),
             Attr("max_gram_length", "int"), Attr("max_skip_count", "int"), Attr("ngram_counts", "ints"),
             Attr("ngram_indexes", "ints"), Attr("weights", "floats", list))
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        ps = node.input_shape(0)
        width = max(node.attrs["ngram_indexes"], default=-1) + 1
        if ps.rank_is_static and len(ps) > 2:
            raise ShapeInferenceError(f"{where(node)}: input 0 must be [C] or [B, C], got {ps}")
        if ps.rank_is_static and len(ps) == 2:
            return [(Type.f32, PartialShape([ps[0], Dimension(width)]))]
        return [(Type.f32, PartialShape([width]) if ps.rank_is_static else PartialShape.dynamic())]

    @classmethod
    def grams(cls, node, pool: list[Any]) -> dict[int, tuple[list[tuple[Any, ...]], list[int]]]:
        """n -> (the pooled n-grams of length n, their output columns); a repeated n-gram keeps
        its last column, as ONNX's reference does."""
        a = node.attrs
        starts = list(a["ngram_counts"]) + [len(pool)]
        out: dict[int, dict[tuple[Any, ...], int]] = {}
        k = 0
        for n, (lo, hi) in enumerate(zip(starts[:-1], starts[1:]), start=1):
            for g in range(lo, hi - n + 1, n):
                if a["min_gram_length"] <= n <= a["max_gram_length"]:
                    out.setdefault(n, {})[tuple(pool[g:g + n])] = a["ngram_indexes"][k]
                k += 1
        return {n: (list(d), list(d.values())) for n, d in out.items()}

    @classmethod
    def kernel(cls, xp, node):
        pool = node.input_const(1)
        if pool is None:
            raise ShapeInferenceError(f"{where(node)}: the pool (input 1) must be a constant")
        a = node.attrs
        width = max(a["ngram_indexes"], default=-1) + 1
        plans = []
        for n, (grams, cols) in cls.grams(node, pool.reshape(-1).tolist()).items():
            table = xp.asarray(grams, dtype=object) if pool.dtype == object else xp.asarray(grams)
            onehot = xp.asarray([[1.0 if c == j else 0.0 for j in range(width)] for c in cols], dtype=xp.float32)
            skips = range(1, a["max_skip_count"] + 2) if n > 1 else range(1, 2)
            plans.append((n, table, onehot, list(skips)))
        weights = None
        if a["weights"]:  # the weight of n-gram k goes to its column ngram_indexes[k]
            by_column = [0.0] * width
            for col, w in zip(a["ngram_indexes"], a["weights"]):
                by_column[col] = w
            weights = xp.asarray(by_column, dtype=xp.float32)
        mode = a["mode"]

        def run(x, _pool):
            rows = x if x.ndim == 2 else xp.reshape(x, (1, -1))
            length = int(rows.shape[1])
            y = xp.zeros((int(rows.shape[0]), width), dtype=xp.float32)
            for n, table, onehot, skips in plans:
                for s in skips:
                    span = length - (n - 1) * s
                    if span <= 0:
                        continue
                    hit = None
                    for k in range(n):
                        eq = rows[:, None, k * s:k * s + span] == table[:, k][None, :, None]
                        hit = eq if hit is None else hit & eq
                    counts = xp.sum(xp.astype(hit, xp.float32), axis=-1)
                    y = y + xp.matmul(counts, onehot)
            if mode == "IDF":
                y = xp.where(y > 0, weights if weights is not None else xp.ones_like(y), xp.zeros_like(y))
            elif mode == "TFIDF" and weights is not None:
                y = y * weights
            return y if x.ndim == 2 else xp.reshape(y, (width,))

        return run


@register
class TreeEnsemble(OpDef):
    """ai.onnx.ml TreeEnsemble (opset 5) over a node table: inputs X [N, F], then per node its
    feature, split value, mode (0 <=, 1 <, 2 >=, 3 >, 4 ==, 5 !=, 6 member of its row of the
    ``members`` table), true and false successors (an index >= the node count is leaf
    index + node count), whether a NaN feature goes the true way; then the leaf weights, leaf
    targets and tree roots. Leaves of all trees are summed, averaged, or min/max-ed per target."""

    type_name, version, opset = "TreeEnsemble", 1, EXTENSION_OPSET
    attrs = (Attr("aggregate_function", "str", "SUM", choices=("AVERAGE", "SUM", "MIN", "MAX")),
             Attr("n_targets", "int"))
    n_inputs = (11, 11)

    @classmethod
    def infer(cls, node):
        ps = node.input_shape(0)
        rows = ps[0] if ps.rank_is_static and len(ps) else Dimension()
        return [(node.input_type(0), PartialShape([rows, Dimension(node.attrs["n_targets"])]))]

    @classmethod
    def kernel(cls, xp, node):
        agg, n_targets = node.attrs["aggregate_function"], node.attrs["n_targets"]

        def run(x, feature, split, mode, on_true, on_false, members, nan_true, leaf_w, leaf_t, roots):
            n_nodes = int(feature.shape[0])
            rows = int(x.shape[0])
            n_feat = int(x.shape[1]) if x.ndim == 2 else 1
            flat = xp.reshape(x, (-1,))
            base = xp.reshape(xp.arange(rows, dtype=xp.int64) * n_feat, (rows, 1))
            at = xp.broadcast_to(xp.reshape(roots, (1, -1)), (rows, int(roots.shape[0])))
            while True:
                inner = at < n_nodes
                if not bool(xp.any(inner)):
                    break
                k = xp.where(inner, at, xp.zeros_like(at))

                def per_node(table):
                    return xp.reshape(xp.take(table, xp.reshape(k, (-1,)), axis=0), (*k.shape, *table.shape[1:]))

                v = xp.reshape(xp.take(flat, xp.reshape(base + per_node(feature), (-1,))), k.shape)
                s, m = per_node(split), per_node(mode)
                member = xp.any(per_node(members) == v[..., None], axis=-1)
                go = xp.where(m == 0, v <= s, xp.where(m == 1, v < s, xp.where(m == 2, v >= s, xp.where(
                    m == 3, v > s, xp.where(m == 4, v == s, xp.where(m == 5, v != s, member))))))
                go = go | (per_node(nan_true) & xp.isnan(v))
                at = xp.where(inner, xp.where(go, per_node(on_true), per_node(on_false)), at)
            leaf = xp.reshape(at - n_nodes, (-1,))
            w = xp.reshape(xp.take(leaf_w, leaf), at.shape)
            t = xp.reshape(xp.take(leaf_t, leaf), at.shape)
            hit = t[..., None] == xp.arange(n_targets, dtype=t.dtype)
            if agg in ("SUM", "AVERAGE"):
                y = xp.sum(xp.where(hit, w[..., None], xp.zeros_like(w[..., None])), axis=1)
                return y / at.shape[1] if agg == "AVERAGE" else y
            info = xp.finfo(x.dtype)
            fill = xp.asarray(info.max if agg == "MIN" else info.min, dtype=x.dtype)
            pick = xp.where(hit, w[..., None], fill)
            return xp.min(pick, axis=1) if agg == "MIN" else xp.max(pick, axis=1)

        return run
