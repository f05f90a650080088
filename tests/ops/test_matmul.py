"""MatMul, Einsum and ScaledDotProductAttention against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.ops.factory import make
from arrayrt.ir.shape import PartialShape

import arrayrt.opset as aops
from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import check_op, rand

MATMUL = [  # a shape, b shape, transpose_a, transpose_b
    ((3, 4), (4, 5), False, False),
    ((4, 3), (4, 5), True, False),
    ((3, 4), (5, 4), False, True),
    ((4, 3), (5, 4), True, True),
    ((2, 3, 4), (4, 5), False, False),
    ((2, 3, 4), (2, 5, 4), False, True),
    ((2, 1, 3, 4), (5, 4, 6), False, False),  # batch broadcast both ways
    ((1, 4, 3), (3, 1, 4, 2), True, False),
    ((4,), (4, 5), False, False),  # 1-D a: a row, its transpose ignored
    ((4,), (5, 4), True, True),
    ((3, 4), (4,), False, False),  # 1-D b: a column
    ((2, 3, 4), (4,), False, True),
    ((4,), (4,), False, False),  # dot product -> scalar
    ((4,), (2, 4, 3), False, False),
    ((2, 3, 0), (0, 5), False, False),  # empty contraction -> zeros
]


@pytest.mark.parametrize("case", MATMUL, ids=str)
def test_matmul_f32(case, backend):
    sa, sb, ta, tb = case
    check_op(lambda ops, a, b: ops.matmul(a, b, ta, tb), [rand(sa, seed=1), rand(sb, seed=2)], backend,
             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", MATMUL[:8], ids=str)
def test_matmul_constant_weights(case, backend):
    """A constant right operand (dense layers) takes a precomputed path on numpy."""
    sa, sb, ta, tb = case
    w = rand(sb, seed=2)
    check_op(lambda ops, a: ops.matmul(a, w, ta, tb), [rand(sa, seed=1)], backend, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("case", [MATMUL[0], MATMUL[3], MATMUL[6], MATMUL[9], MATMUL[11]], ids=str)
def test_matmul_int(dtype, case, backend):
    sa, sb, ta, tb = case
    a, b = rand(sa, dtype, seed=1, low=-5, high=5), rand(sb, dtype, seed=2, low=-5, high=5)
    check_op(lambda ops, x, y: ops.matmul(x, y, ta, tb), [a, b], backend)


@pytest.mark.parametrize("case", [MATMUL[2], MATMUL[6], MATMUL[8]], ids=str)
def test_matmul_f16(case, backend):
    sa, sb, ta, tb = case
    a, b = rand(sa, np.float16, seed=1), rand(sb, np.float16, seed=2)
    check_op(lambda ops, x, y: ops.matmul(x, y, ta, tb), [a, b], backend, rtol=2e-3, atol=5e-3)


def test_matmul_shapes():
    a = aops.parameter([-1, 3, 4], np.float32)
    b = aops.parameter([4, -1], np.float32)
    assert str(aops.matmul(a, b, False, False).output(0).get_partial_shape()) == "[?,3,?]"
    c = aops.parameter(PartialShape.dynamic(), np.float32)
    assert not aops.matmul(a, c, False, False).output(0).get_partial_shape().rank_is_static
    with pytest.raises(ShapeInferenceError, match="contracted"):
        aops.matmul(a, aops.parameter([5, 2], np.float32), False, False)
    with pytest.raises(ShapeInferenceError, match="batch"):
        aops.matmul(aops.parameter([3, 3, 4], np.float32), aops.parameter([2, 4, 2], np.float32),
                    False, False)
    with pytest.raises(ShapeInferenceError, match="element types"):
        aops.matmul(a, aops.parameter([4, 2], np.int32), False, False)


EINSUM = [  # equation, shapes
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit
    ("i,i->", [(5,), (5,)]),
    ("i,i", [(5,), (5,)]),
    ("ij->ji", [(2, 3)]),
    ("ij", [(3, 2)]),
    ("ji", [(3, 2)]),  # implicit output sorts labels: transpose
    ("ii->i", [(4, 4)]),  # diagonal
    ("kii->k", [(2, 3, 3)]),
    ("ijkj->ij", [(2, 4, 5, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("ab,bcd,bc->ca", [(2, 5), (5, 3, 6), (5, 3)]),
    ("i,j->ij", [(3,), (4,)]),  # outer product
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("a...b,b...->a...", [(9, 1, 4, 3), (3, 11, 7, 1)]),
    ("a...->...", [(3, 3)]),
    ("a...,...->a...", [(3, 3), (1,)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("AbC", [(1, 2, 3)]),  # capitals precede lowercase in implicit mode
    ("ab...,ac...,ade->...bc", [(2, 3, 4), (2, 7, 1), (2, 4, 7)]),
    ("ij,ij->i", [(2, 64), (2, 64)]),
    ("bij,bjk->ik", [(2, 3, 4), (1, 4, 5)]),  # broadcast of a label then summed
]


@pytest.mark.parametrize("case", EINSUM, ids=lambda c: c[0])
def test_einsum(case, backend):
    eq, shapes = case
    inputs = [rand(s, seed=i + 1) for i, s in enumerate(shapes)]
    check_op(lambda ops, *xs: ops.einsum(list(xs), eq), inputs, backend, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("kii->ki", [(2, 3, 3)]),
                                       ("a...b,b...->a...", [(2, 1, 4, 3), (3, 5, 1)])], ids=str)
def test_einsum_int(dtype, eq, shapes, backend):
    inputs = [rand(s, dtype, seed=i + 1, low=-5, high=5) for i, s in enumerate(shapes)]
    check_op(lambda ops, *xs: ops.einsum(list(xs), eq), inputs, backend)


def test_einsum_f16(backend):
    inputs = [rand((2, 3, 4), np.float16, seed=1), rand((2, 4, 5), np.float16, seed=2)]
    check_op(lambda ops, *xs: ops.einsum(list(xs), "bij,bjk->bki"), inputs, backend, rtol=2e-3, atol=5e-3)


def test_einsum_hand_computed(backend):
    """Spec examples 3, 6 and 8 with their published outputs."""
    a = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[2, 4, 6], [8, 10, 12], [14, 16, 18]]], np.float32)
    check_op(lambda ops, x: ops.einsum([x], "kii->k"), [a], backend,
             expected=[np.array([15, 30], np.float32)])
    check_op(lambda ops, x: ops.einsum([x], "a...->..."), [a[0]], backend,
             expected=[np.array([12, 15, 18], np.float32)])
    b = np.array([[[1, 2, 3], [4, 5, 6]]], np.float32)
    check_op(lambda ops, x: ops.einsum([x], "AbC"), [b], backend,
             expected=[np.array([[[1, 4], [2, 5], [3, 6]]], np.float32)])


def test_einsum_spec_over_plugin(backend):
    """Where OpenVINO itself disagrees with the Einsum-7 spec, the spec is followed: implicit ``ii`` is
    the trace (the repeated label is not in the output; OpenVINO infers [4,4] and then fails to
    compile), and blanks in the equation are allowed (OpenVINO rejects them)."""
    a = rand((4, 4), seed=1)
    check_op(lambda ops, x: ops.einsum([x], "ii"), [a], backend, expected=[np.array(np.trace(a), np.float32)],
             rtol=1e-5, atol=1e-5)
    b = rand((3, 4), seed=2)
    check_op(lambda ops, x, y: ops.einsum([x, y], " ij , jk -> ik "), [a[:2, :3].copy(), b], backend,
             expected=[a[:2, :3] @ b], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("eq,shapes,message", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "broadcast"),
    ("ij->ik", [(2, 3)], "no input"),
    ("ijk->i", [(2, 3)], "rank"),
    ("ii->i", [(2, 3)], "repeated"),
    ("i1->i", [(2, 3)], "letters"),
    ("ij,jk->ik", [(2, 3)], "subscripts"),
])
def test_einsum_validation(eq, shapes, message):
    params = [aops.parameter(list(s), np.float32) for s in shapes]
    with pytest.raises(ShapeInferenceError, match=message):
        aops.einsum(params, eq)


def _sdpa_inputs(b=(2,), heads=(3,), L=4, S=5, E=8, Ev=6, seed=0):
    q = rand(b + heads + (L, E), seed=seed + 1, low=-1, high=1)
    k = rand(b + heads + (S, E), seed=seed + 2, low=-1, high=1)
    v = rand(b + heads + (S, Ev), seed=seed + 3, low=-1, high=1)
    return q, k, v


def test_sdpa_plain(backend):
    check_op(lambda ops, q, k, v: ops.scaled_dot_product_attention(q, k, v), list(_sdpa_inputs()), backend,
             rtol=1e-5, atol=1e-5)


def test_sdpa_causal(backend):
    q, k, v = _sdpa_inputs(L=5, S=5)
    check_op(lambda ops, q, k, v: ops.scaled_dot_product_attention(q, k, v, causal=True), [q, k, v], backend,
             rtol=1e-5, atol=1e-5)


def test_sdpa_causal_ignores_mask(backend):
    q, k, v = _sdpa_inputs(L=5, S=5)
    m = rand((5, 5), seed=9)
    check_op(lambda ops, q, k, v, m: ops.scaled_dot_product_attention(q, k, v, m, causal=True),
             [q, k, v, m], backend, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mask_shape", [(2, 3, 4, 5), (4, 5), (1, 5), (2, 1, 1, 5), (3, 4, 5)], ids=str)
def test_sdpa_float_mask(mask_shape, backend):
    q, k, v = _sdpa_inputs()
    m = rand(mask_shape, seed=7)
    check_op(lambda ops, q, k, v, m: ops.scaled_dot_product_attention(q, k, v, m), [q, k, v, m], backend,
             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mask_shape", [(2, 3, 4, 5), (4, 5), (2, 1, 1, 5)], ids=str)
def test_sdpa_bool_mask(mask_shape, backend):
    q, k, v = _sdpa_inputs()
    m = rand(mask_shape, np.bool_, seed=8)
    m[..., 0] = True  # every row keeps one key (an all-False row is 0/0)
    check_op(lambda ops, q, k, v, m: ops.scaled_dot_product_attention(q, k, v, m), [q, k, v, m], backend,
             rtol=1e-5, atol=1e-5)


def test_sdpa_scale(backend):
    q, k, v = _sdpa_inputs()
    m = rand((4, 5), seed=7)
    check_op(lambda ops, q, k, v, m: ops.scaled_dot_product_attention(q, k, v, m, np.float32(0.3)),
             [q, k, v, m], backend, rtol=1e-5, atol=1e-5)
    one_element = np.array([0.7], np.float32)
    check_op(lambda ops, q, k, v: ops.scaled_dot_product_attention(q, k, v, scale=one_element),
             [q, k, v], backend, rtol=1e-5, atol=1e-5)


def test_sdpa_batch_broadcast(backend):
    q = rand((2, 1, 4, 8), seed=1)
    k = rand((1, 3, 5, 8), seed=2)
    v = rand((2, 3, 5, 6), seed=3)
    check_op(lambda ops, q, k, v: ops.scaled_dot_product_attention(q, k, v), [q, k, v], backend,
             rtol=1e-5, atol=1e-5)


def test_sdpa_f16(backend):
    q, k, v = (a.astype(np.float16) for a in _sdpa_inputs())
    check_op(lambda ops, q, k, v: ops.scaled_dot_product_attention(q, k, v, causal=True), [q, k, v], backend,
             rtol=5e-3, atol=5e-3)


def test_sdpa_hand_computed(backend):
    """Spec pseudo-code in numpy, with a boolean mask and an explicit scale."""
    q, k, v = _sdpa_inputs(b=(1,), heads=(), L=3, S=4, E=2, Ev=3)
    m = np.array([[True, False, True, True]])
    s = q @ np.swapaxes(k, -1, -2) * np.float32(0.5)
    s = np.where(m, s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    check_op(lambda ops, q, k, v, m: ops.scaled_dot_product_attention(q, k, v, m, np.float32(0.5)),
             [q, k, v, m], backend, expected=[(p @ v).astype(np.float32)], rtol=1e-5, atol=1e-6)


def test_sdpa_shapes():
    q = aops.parameter([2, -1, 4, 8], np.float32)
    k = aops.parameter([1, 3, -1, 8], np.float32)
    v = aops.parameter([2, 3, 5, 6], np.float32)
    assert str(aops.scaled_dot_product_attention(q, k, v).output(0).get_partial_shape()) == "[2,3,4,6]"
    with pytest.raises(ShapeInferenceError, match="rank >= 3"):
        aops.scaled_dot_product_attention(aops.parameter([4, 8], np.float32), k, v)
    with pytest.raises(ShapeInferenceError, match="mask"):
        aops.scaled_dot_product_attention(q, k, v, aops.parameter([4, 5], np.int32))
    with pytest.raises(ShapeInferenceError, match="scale"):
        aops.scaled_dot_product_attention(q, k, v, None, np.ones(2, np.float32))
    with pytest.raises(ShapeInferenceError, match="floating"):
        ints = [aops.parameter([1, 2, 3], np.int32) for _ in range(3)]
        make("ScaledDotProductAttention", ints, {"causal": False})


def test_read_openvino_ir(tmp_path, backend):
    """IR written by OpenVINO itself reads into arrayrt and computes the same."""
    import openvino as ov
    import openvino.opset16 as ov16
    from arrayrt.ir.io import read_model

    from arrayrt.testing import run_arrayrt, run_openvino

    q, k, v = _sdpa_inputs()
    m = rand((4, 5), np.bool_, seed=3)
    m[:, 0] = True
    ps = [ov16.parameter(list(a.shape), a.dtype, name=f"in{i}") for i, a in enumerate((q, k, v, m))]
    nodes = [ov16.matmul(ps[0], ps[1], False, True), ov16.einsum([ps[0], ps[2]], "bhle,bhsv->bhls"),
             ov16.scaled_dot_product_attention(*ps), ov16.scaled_dot_product_attention(*ps[:3], causal=True)]
    ov.save_model(ov.Model(nodes, ps), tmp_path / "m.xml", compress_to_fp16=False)
    want = run_openvino(ov.Core().read_model(tmp_path / "m.xml"), [q, k, v, m])
    got = run_arrayrt(read_model(tmp_path / "m.xml"), [q, k, v, m], backend)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=f"output {i}")


def test_matmul_constant_weights_empty_contraction(backend):
    """An empty contraction gives zeros (hand-computed: with constant weights, OpenVINO's CPU plugin
    returns uninitialised memory)."""
    w = np.zeros((0, 5), np.float32)
    check_op(lambda ops, a: ops.matmul(a, w, False, False), [np.zeros((2, 3, 0), np.float32)], backend,
             expected=[np.zeros((2, 3, 5), np.float32)])
