"""Matrix products: MatMul (v0), Einsum (v7), ScaledDotProductAttention (v13).

f16 operands are multiplied in f32 and rounded back, as OpenVINO's CPU plugin does.
"""
from __future__ import annotations

import math

from arrayrt.ir.ops._shapes import broadcast_dims, broadcast_shapes, same_types
from arrayrt.ir.ops.base import Attr, OpDef, register
from arrayrt.ir.ops.factory import as_output, factory, make
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ShapeInferenceError, where


def _wide(xp, x):
    return xp.astype(x, xp.float32) if x.dtype == getattr(xp, "float16", None) else x


def _numeric(node, t: Type, what: str) -> None:
    if t.is_static and not (t.is_real or t.is_integral_number):
        raise ShapeInferenceError(f"{where(node)}: {what} must be numeric, got {t}")


def _batch(node, a: PartialShape, b: PartialShape, what: str) -> PartialShape:
    try:
        return broadcast_shapes(a, b)
    except ShapeInferenceError:
        raise ShapeInferenceError(f"{where(node)}: batch dimensions {a} and {b} of {what} do not "
                                  "broadcast") from None


# --- MatMul ---------------------------------------------------------------------------------------


@register
class MatMul(OpDef):
    """Matrix product over the last two axes with NUMPY broadcasting of the batch axes. A 1-D ``a``
    is a row and a 1-D ``b`` a column (their ``transpose_*`` is ignored); the added axis is removed
    from the result."""

    type_name, version, opset = "MatMul", 0, "opset1"
    attrs = (Attr("transpose_a", "bool", False), Attr("transpose_b", "bool", False))
    n_inputs = (2, 2)

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        _numeric(node, t, "inputs")
        a, b = node.input_shape(0), node.input_shape(1)
        if not a.rank_is_static or not b.rank_is_static:
            return [(t, PartialShape.dynamic())]
        if len(a) == 0 or len(b) == 0:
            raise ShapeInferenceError(f"{where(node)}: MatMul inputs must have rank >= 1, got {a} and {b}")
        ad, bd = list(a.dims), list(b.dims)
        a_vec, b_vec = len(ad) == 1, len(bd) == 1
        if a_vec:
            ad = [Dimension(1)] + ad
        elif node.attrs["transpose_a"]:
            ad[-2], ad[-1] = ad[-1], ad[-2]
        if b_vec:
            bd = bd + [Dimension(1)]
        elif node.attrs["transpose_b"]:
            bd[-2], bd[-1] = bd[-1], bd[-2]
        if not ad[-1].compatible(bd[-2]):
            ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
            raise ShapeInferenceError(f"{where(node)}: the contracted dimensions differ: {ad[-1]} of input 0 "
                                      f"{a} and {bd[-2]} of input 1 {b} (transpose_a={ta}, transpose_b={tb})")
        batch = _batch(node, PartialShape(ad[:-2]), PartialShape(bd[:-2]), "the inputs")
        out = list(batch.dims) + ([] if a_vec else [ad[-2]]) + ([] if b_vec else [bd[-1]])
        return [(t, PartialShape(out))]

    @staticmethod
    def compute(xp, a, b, transpose_a, transpose_b):
        if transpose_a and a.ndim > 1:
            a = xp.matrix_transpose(a)
        if transpose_b and b.ndim > 1:
            b = xp.matrix_transpose(b)
        dt = a.dtype
        return xp.astype(xp.matmul(_wide(xp, a), _wide(xp, b)), dt)


# --- Einsum ---------------------------------------------------------------------------------------


def _parse_equation(equation: str, ranks: list[int], node=None) -> tuple[list[list[str]], list[str]]:
    """Per-input label lists and the output label list. ``...`` becomes labels ``.0``, ``.1``, ...
    aligned to the right across operands (their dimensions broadcast); implicit mode orders the
    output as ``...`` then the once-seen labels in ASCII order (capitals first)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(ranks):
        raise ShapeInferenceError(f"{where(node)}: equation '{equation}' has {len(subs)} input subscripts "
                                  f"for {len(ranks)} inputs")

    def letters(sub: str, what: str) -> list[str]:
        parts = sub.split("...")
        if len(parts) > 2:
            raise ShapeInferenceError(f"{where(node)}: {what} of equation '{equation}' has more than one "
                                      "ellipsis")
        for ch in "".join(parts):
            if not ("a" <= ch <= "z" or "A" <= ch <= "Z"):
                raise ShapeInferenceError(f"{where(node)}: {what} of equation '{equation}' has label "
                                          f"'{ch}'; labels are letters")
        return parts

    parsed = [letters(s, f"subscript {i}") for i, s in enumerate(subs)]
    widths = []
    for i, (parts, rank) in enumerate(zip(parsed, ranks)):
        n = len("".join(parts))
        if (len(parts) == 1 and n != rank) or (len(parts) == 2 and n > rank):
            raise ShapeInferenceError(f"{where(node)}: subscript '{subs[i]}' of equation '{equation}' does "
                                      f"not fit input {i} of rank {rank}")
        widths.append(rank - n if len(parts) == 2 else 0)
    ell = max(widths, default=0)
    ell_labels = [f".{j}" for j in range(ell)]
    inputs = []
    for parts, w in zip(parsed, widths):
        labels = list(parts[0])
        if len(parts) == 2:
            labels += ell_labels[ell - w:] + list(parts[1])
        inputs.append(labels)
    if arrow:
        out_parts = letters(rhs, "the output subscript")
        out = list(out_parts[0]) + (ell_labels + list(out_parts[1]) if len(out_parts) == 2 else [])
        if len(set(out)) != len(out):
            raise ShapeInferenceError(f"{where(node)}: output subscript of '{equation}' repeats a label")
        known = {lab for labels in inputs for lab in labels}
        for lab in out:
            if lab not in known and not lab.startswith("."):
                raise ShapeInferenceError(f"{where(node)}: output label '{lab}' of '{equation}' is in no "
                                          "input")
        out = [lab for lab in out if lab in known]
    else:
        counts: dict[str, int] = {}
        for labels in inputs:
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        out = ell_labels + sorted(lab for lab, c in counts.items() if c == 1 and not lab.startswith("."))
    return inputs, out


def _diagonal(xp, x, labels: list[str]):
    """Replace repeated labels of one operand by their diagonal."""
    while len(set(labels)) != len(labels):
        seen: dict[str, int] = {}
        for j, lab in enumerate(labels):
            if lab in seen:
                i = seen[lab]
                break
            seen[lab] = j
        rest = [k for k in range(len(labels)) if k not in (i, j)]
        d = x.shape[i]
        x = xp.permute_dims(x, tuple(rest) + (i, j))
        x = xp.reshape(x, tuple(x.shape[:-2]) + (d * d,))
        x = xp.take(x, xp.arange(0, d * d, d + 1, dtype=xp.int64), axis=-1)
        labels = [labels[k] for k in rest] + [lab]
    return x, labels


def _sum_out(xp, x, labels: list[str], keep: set[str]):
    axes = tuple(k for k, lab in enumerate(labels) if lab not in keep)
    if not axes:
        return x, labels
    return xp.sum(x, axis=axes, dtype=x.dtype), [lab for lab in labels if lab in keep]


def _contract(xp, a, la: list[str], b, lb: list[str], keep: set[str]):
    """The product of two operands summed over their shared labels that are not kept, as one
    batched matmul."""
    shared = [lab for lab in la if lab in lb]
    contracted = [lab for lab in shared if lab not in keep]
    for lab in contracted:  # a size-1 dimension broadcast against a contracted one: pre-sum the other
        i, j = la.index(lab), lb.index(lab)
        if a.shape[i] == 1 and b.shape[j] != 1:
            b = xp.sum(b, axis=j, keepdims=True, dtype=b.dtype)
        elif b.shape[j] == 1 and a.shape[i] != 1:
            a = xp.sum(a, axis=i, keepdims=True, dtype=a.dtype)
    batch = [lab for lab in shared if lab in keep]
    a_only = [lab for lab in la if lab not in lb]
    b_only = [lab for lab in lb if lab not in la]
    a = xp.permute_dims(a, tuple(la.index(lab) for lab in batch + a_only + contracted))
    b = xp.permute_dims(b, tuple(lb.index(lab) for lab in batch + contracted + b_only))
    nb = len(batch)
    a_dims, b_dims = tuple(a.shape[nb:nb + len(a_only)]), tuple(b.shape[nb + len(contracted):])
    k = math.prod(a.shape[nb + len(a_only):])
    a = xp.reshape(a, tuple(a.shape[:nb]) + (math.prod(a_dims), k))
    b = xp.reshape(b, tuple(b.shape[:nb]) + (k, math.prod(b_dims)))
    r = xp.matmul(a, b)
    r = xp.reshape(r, tuple(r.shape[:nb]) + a_dims + b_dims)
    return r, batch + a_only + b_only


def evaluate_einsum(xp, operands, inputs: list[list[str]], out: list[str]):
    """Evaluate a parsed equation: diagonals, early sums of private labels, then left-to-right
    pairwise contractions, a final sum and transpose."""
    dt = operands[0].dtype
    ops = []
    for k, (x, labels) in enumerate(zip(operands, inputs)):
        x, labels = _diagonal(xp, _wide(xp, x), list(labels))
        elsewhere = set(out).union(*(set(inputs[j]) for j in range(len(inputs)) if j != k))
        ops.append(_sum_out(xp, x, labels, elsewhere))
    acc, la = ops[0]
    for k in range(1, len(ops)):
        keep = set(out).union(*(set(inputs[j]) for j in range(k + 1, len(inputs))))
        b, lb = ops[k]
        acc, la = _contract(xp, acc, la, b, lb, keep)
    acc, la = _sum_out(xp, acc, la, set(out))
    perm = tuple(la.index(lab) for lab in out)
    if perm != tuple(range(len(la))):
        acc = xp.permute_dims(acc, perm)
    return xp.astype(acc, dt)


@register
class Einsum(OpDef):
    type_name, version, opset = "Einsum", 7, "opset7"
    attrs = (Attr("equation", "str"),)
    n_inputs = (1, None)

    @classmethod
    def infer(cls, node):
        t = same_types(node)
        _numeric(node, t, "inputs")
        shapes = [node.input_shape(i) for i in range(node.get_input_size())]
        if not all(s.rank_is_static for s in shapes):
            return [(t, PartialShape.dynamic())]
        inputs, out = _parse_equation(node.attrs["equation"], [len(s) for s in shapes], node)
        dims: dict[str, Dimension] = {}
        for i, (labels, s) in enumerate(zip(inputs, shapes)):
            mine: dict[str, Dimension] = {}
            for lab, d in zip(labels, s.dims):
                if lab in mine:
                    if not mine[lab].compatible(d):
                        raise ShapeInferenceError(f"{where(node)}: label '{lab}' is repeated in input {i} "
                                                  f"over dimensions {mine[lab]} and {d}, which differ")
                    mine[lab] = mine[lab].merge(d)
                else:
                    mine[lab] = d
            for lab, d in mine.items():
                try:
                    dims[lab] = broadcast_dims(dims[lab], d) if lab in dims else d
                except ShapeInferenceError:
                    name = "the ellipsis" if lab.startswith(".") else f"label '{lab}'"
                    raise ShapeInferenceError(f"{where(node)}: dimensions of {name} do not broadcast: "
                                              f"{dims[lab]} and {d} (input {i})") from None
        return [(t, PartialShape([dims[lab] for lab in out]))]

    @staticmethod
    def compute(xp, *operands, equation):
        inputs, out = _parse_equation(equation, [x.ndim for x in operands])
        return evaluate_einsum(xp, operands, inputs, out)

    @classmethod
    def kernel(cls, xp, node):
        shapes = [node.input_shape(i) for i in range(node.get_input_size())]
        eq = node.attrs["equation"]
        if not all(s.rank_is_static for s in shapes):
            return lambda *ops: cls.compute(xp, *ops, equation=eq)
        inputs, out = _parse_equation(eq, [len(s) for s in shapes], node)
        return lambda *ops: evaluate_einsum(xp, ops, inputs, out)


# --- ScaledDotProductAttention --------------------------------------------------------------------


def _causal_bias(xp, n_rows: int, n_cols: int, dtype):
    rows = xp.reshape(xp.arange(n_rows), (n_rows, 1))
    cols = xp.reshape(xp.arange(n_cols), (1, n_cols))
    return xp.where(cols > rows, xp.asarray(-math.inf, dtype=dtype), xp.asarray(0.0, dtype=dtype))


def attention(xp, q, k, v, mask, scale, causal: bool):
    """softmax(q k^T * scale + bias) v, with the bias from ``causal`` or the mask (boolean: False
    excludes; float: added)."""
    dt = q.dtype
    q, k, v = _wide(xp, q), _wide(xp, k), _wide(xp, v)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    else:
        scale = xp.reshape(xp.astype(scale, q.dtype), ())
    s = xp.matmul(q, xp.matrix_transpose(k)) * scale
    if causal:
        s = s + _causal_bias(xp, q.shape[-2], k.shape[-2], s.dtype)
    elif mask is not None:
        if mask.dtype == xp.bool:
            s = xp.where(mask, s, xp.asarray(-math.inf, dtype=s.dtype))
        else:
            s = s + xp.astype(mask, s.dtype)
    s = xp.exp(s - xp.max(s, axis=-1, keepdims=True))
    s = s / xp.sum(s, axis=-1, keepdims=True)
    return xp.astype(xp.matmul(s, v), dt)


@register
class ScaledDotProductAttention(OpDef):
    """Inputs query [N..., L, E], key [N..., S, E], value [N..., S, Ev], optional attention_mask
    (boolean or of the query type, broadcast to [N..., L, S]; ignored when ``causal``) and optional
    scalar scale (default 1/sqrt(E))."""

    type_name, version, opset = "ScaledDotProductAttention", 13, "opset13"
    attrs = (Attr("causal", "bool"),)
    n_inputs = (3, 5)

    @classmethod
    def infer(cls, node):
        t = same_types(node, [0, 1, 2])
        if t.is_static and not t.is_real:
            raise ShapeInferenceError(f"{where(node)}: query, key and value must be floating, got {t}")
        n = node.get_input_size()
        if n > 3:
            mt = node.input_type(3)
            if mt.is_static and t.is_static and mt not in (t, Type.boolean):
                raise ShapeInferenceError(f"{where(node)}: input 3 (attention_mask) must be boolean or {t}, "
                                          f"got {mt}")
        if n > 4:
            st = node.input_type(4)
            if st.is_static and t.is_static and st is not t:
                raise ShapeInferenceError(f"{where(node)}: input 4 (scale) must be {t}, got {st}")
            ss = node.input_shape(4)
            if ss.rank_is_static and (len(ss) > 1 or (len(ss) == 1 and not ss[0].compatible(1))):
                raise ShapeInferenceError(f"{where(node)}: input 4 (scale) must be a scalar or have one "
                                          f"element, got shape {ss}")
        q, k, v = (node.input_shape(i) for i in range(3))
        names = ("query", "key", "value")
        for i, s in enumerate((q, k, v)):
            if s.rank_is_static and len(s) < 3:
                raise ShapeInferenceError(f"{where(node)}: input {i} ({names[i]}) must have rank >= 3, "
                                          f"got {s}")
        if not all(s.rank_is_static for s in (q, k, v)):
            return [(t, PartialShape.dynamic())]
        if not q[-1].compatible(k[-1]) and not (q[-1] == 1 or k[-1] == 1):
            raise ShapeInferenceError(f"{where(node)}: query {q} and key {k} differ in the last dimension")
        if not k[-2].compatible(v[-2]):
            raise ShapeInferenceError(f"{where(node)}: key {k} and value {v} differ in the sequence "
                                      "dimension")
        batch = _batch(node, _batch(node, q[:-2], k[:-2], "query and key"), v[:-2], "query, key and value")
        l_dim = q[-2]
        if n > 3 and not node.attrs["causal"]:
            m = node.input_shape(3)
            if m.rank_is_static and len(m) > 0:
                if len(m) < 2:
                    raise ShapeInferenceError(f"{where(node)}: input 3 (attention_mask) must be a scalar or "
                                              f"have rank >= 2, got {m}")
                try:
                    l_dim = broadcast_dims(l_dim, m[-2])
                    broadcast_dims(k[-2], m[-1])
                except ShapeInferenceError:
                    raise ShapeInferenceError(f"{where(node)}: attention_mask {m} does not broadcast to "
                                              f"[..., {q[-2]}, {k[-2]}]") from None
                batch = _batch(node, batch, m[:-2], "the attention mask")
        return [(t, PartialShape(list(batch.dims) + [l_dim, v[-1]]))]

    @staticmethod
    def compute(xp, query, key, value, *rest, causal):
        mask = rest[0] if rest else None
        scale = rest[1] if len(rest) > 1 else None
        return attention(xp, query, key, value, mask, scale, causal)


# --- factories --------------------------------------------------------------------------------


@factory
def matmul(data_a, data_b, transpose_a: bool, transpose_b: bool, name: str | None = None):
    return make("MatMul", [data_a, data_b], {"transpose_a": transpose_a, "transpose_b": transpose_b}, name)


@factory
def einsum(inputs, equation: str, name: str | None = None):
    return make("Einsum", list(inputs), {"equation": equation}, name)


@factory
def scaled_dot_product_attention(query, key, value, attention_mask=None, scale=None, causal: bool = False,
                                 name: str | None = None):
    inputs = [query, key, value]
    if attention_mask is not None or scale is not None:
        if attention_mask is None:
            attention_mask = as_output(0.0, as_output(query).get_element_type())
        inputs.append(attention_mask)
    if scale is not None:
        inputs.append(scale)
    return make("ScaledDotProductAttention", inputs, {"causal": causal}, name)
