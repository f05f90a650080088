"""MVN, BatchNormInference, NormalizeL2, GroupNormalization and LRN against real OpenVINO, on every
test backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.ir.ops.factory import make

import arrayrt.opset as aops
from arrayrt.errors import OpAttributeError, ShapeInferenceError
from arrayrt.testing import check_op, rand


def _i64(v):
    return np.array(v, np.int64)


MVN6 = [  # shape, axes, normalize_variance, eps_mode
    ((2, 3, 4, 5), [2, 3], True, "inside_sqrt"),
    ((2, 3, 4, 5), [1, 2, 3], True, "outside_sqrt"),
    ((2, 3, 4, 5), [-1], False, "inside_sqrt"),
    ((1, 16, 32), [-1], True, "inside_sqrt"),  # layer norm
    ((2, 8), [0], True, "outside_sqrt"),
    ((3, 4, 5), [0, 2], True, "inside_sqrt"),
    ((2, 8), [1], True, "outside_sqrt"),  # the last axis alone: the numpy layer-norm kernel
    ((7,), [0], True, "inside_sqrt"),
]


@pytest.mark.parametrize("case", MVN6, ids=str)
def test_mvn6(case, backend):
    shape, axes, nv, mode = case
    check_op(lambda ops, x: ops.mvn(x, _i64(axes), nv, 1e-3, mode), [rand(shape, seed=1)], backend,
             rtol=1e-4, atol=1e-5)


def test_mvn6_i32_axes_and_tiny_eps(backend):
    x = rand((1, 4, 64), seed=2)
    check_op(lambda ops, a: ops.mvn(a, np.array([-1], np.int32), True, 1e-12, "inside_sqrt"), [x], backend,
             rtol=1e-4, atol=1e-5)


def test_mvn6_axes_as_input(backend):
    x = rand((2, 3, 4), seed=3)
    check_op(lambda ops, a, ax: ops.mvn(a, ax, True, 1e-5, "inside_sqrt"), [x, _i64([1, 2])], backend,
             rtol=1e-4, atol=1e-5)


def test_mvn6_f16(backend):
    x = rand((2, 3, 16), np.float16, seed=4)
    check_op(lambda ops, a: ops.mvn(a, _i64([-1]), True, 1e-5, "inside_sqrt"), [x], backend,
             rtol=5e-3, atol=5e-3)


def test_mvn6_empty_axes(backend):
    """No axes: each element is its own mean, so the result is 0 as in the reference kernel
    (hand-computed: OpenVINO's CPU plugin returns the input unchanged)."""
    x = rand((2, 3), seed=5)
    check_op(lambda ops, a: ops.mvn(a, np.array([], np.int64), True, 1e-5, "inside_sqrt"), [x], backend,
             expected=[np.zeros_like(x)])


MVN1 = [  # shape, attrs
    ((2, 3, 4, 5), {"across_channels": True, "normalize_variance": True, "eps": 1e-3}),
    ((2, 3, 4, 5), {"across_channels": False, "normalize_variance": True, "eps": 1e-3}),
    ((2, 3, 4, 5), {"across_channels": False, "normalize_variance": False, "eps": 1e-9}),
    ((2, 3, 6), {"across_channels": True, "normalize_variance": True, "eps": 1e-2}),
    ((2, 6), {"across_channels": True, "normalize_variance": True, "eps": 1e-2}),
    ((2, 6), {"across_channels": True, "normalize_variance": False, "eps": 1e-2}),
]


@pytest.mark.parametrize("case", MVN1, ids=str)
def test_mvn1(case, backend):
    """MVN v0 (opset2): eps inside the square root, per the MVN-1 spec and the CPU plugin."""
    import openvino.opset2 as ov2

    shape, attrs = case

    def build(ops, x):
        if ops.__name__.startswith("openvino"):
            return ov2.mvn(x, attrs["across_channels"], attrs["normalize_variance"], attrs["eps"])
        return make("MVN", [x], attrs, version="opset2")

    check_op(build, [rand(shape, seed=6)], backend, rtol=1e-4, atol=1e-5)


def test_mvn1_reduction_axes(backend):
    """reduction_axes, when given, win over across_channels (hand-computed)."""
    x = rand((2, 3, 4), seed=7)
    d = x - x.mean(axis=(0, 2), keepdims=True)
    want = d / np.sqrt((d * d).mean(axis=(0, 2), keepdims=True) + 1e-3)
    attrs = {"across_channels": False, "normalize_variance": True, "eps": 1e-3, "reduction_axes": [0, -1]}
    check_op(lambda ops, a: make("MVN", [a], attrs, version="opset2"), [x], backend,
             expected=[want.astype(np.float32)], rtol=1e-4, atol=1e-5)


BN = [(2, 3), (2, 3, 5), (1, 4, 3, 3), (2, 2, 2, 3, 2)]


@pytest.mark.parametrize("shape", BN, ids=str)
def test_batch_norm_v5(shape, backend):
    c = shape[1]
    gamma, beta, mean = rand((c,), seed=2), rand((c,), seed=3), rand((c,), seed=4)
    var = rand((c,), seed=5, low=0.1, high=2.0)
    check_op(lambda ops, x, g, b, m, v: ops.batch_norm_inference(x, g, b, m, v, 1e-3),
             [rand(shape, seed=1), gamma, beta, mean, var], backend, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", BN[1:3], ids=str)
def test_batch_norm_v0(shape, backend):
    """BatchNormInference v0 (opset1) takes gamma, beta, data, mean, variance."""
    import openvino.opset1 as ov1

    c = shape[1]
    gamma, beta, mean = rand((c,), seed=2), rand((c,), seed=3), rand((c,), seed=4)
    var = rand((c,), seed=5, low=0.1, high=2.0)

    def build(ops, x):
        if ops.__name__.startswith("openvino"):
            return ov1.batch_norm_inference(x, gamma, beta, mean, var, 1e-3)
        return make("BatchNormInference", [gamma, beta, x, mean, var], {"epsilon": 1e-3}, version="opset1")

    check_op(build, [rand(shape, seed=1)], backend, rtol=1e-5, atol=1e-5)


def test_batch_norm_f16(backend):
    c = 3
    args = [rand((c,), np.float16, seed=i) for i in (2, 3, 4)] + [rand((c,), np.float16, seed=5, low=0.1)]
    check_op(lambda ops, x: ops.batch_norm_inference(x, *args, 1e-3), [rand((2, c, 4), np.float16, seed=1)],
             backend, rtol=5e-3, atol=5e-3)


L2 = [  # shape, axes, eps, mode
    ((2, 3, 4), [1], 1e-6, "add"),
    ((2, 3, 4), [1, 2], 1e-6, "add"),
    ((2, 3, 4), [-1], 1e-6, "add"),
    ((2, 3, 4, 5), [1], 1e-10, "add"),
    ((2, 3, 4, 5), [0, 1, 2, 3], 0.5, "add"),
]


@pytest.mark.parametrize("case", L2, ids=str)
def test_normalize_l2(case, backend):
    shape, axes, eps, mode = case
    check_op(lambda ops, x: ops.normalize_l2(x, _i64(axes), eps, mode), [rand(shape, seed=1)], backend,
             rtol=1e-5, atol=1e-6)


def _openvino_on_ir(build, inputs):
    """OpenVINO's result on arrayrt's IR of the graph (for attributes OpenVINO's Python factories lose)."""
    import openvino as ov
    from arrayrt.ir.io.writer import to_ir

    from arrayrt.testing import build_arrayrt, run_openvino

    xml, chunks = to_ir(build_arrayrt(build, inputs))
    weights = np.frombuffer(b"".join(chunks), np.uint8).copy()
    return run_openvino(ov.Core().read_model(xml.encode(), ov.Tensor(weights)), inputs)


@pytest.mark.parametrize("shape,axes,eps", [((2, 3, 4), [1, 2], 1e-6), ((4, 6), [1], 100.0),
                                            ((2, 3, 4, 5), [1], 1e-10)], ids=str)
def test_normalize_l2_max(shape, axes, eps, backend):
    """eps_mode max. openvino.opset16.normalize_l2 drops eps_mode (it passes it as 'mode', so OpenVINO
    builds 'add'); the oracle is OpenVINO reading arrayrt's IR, checked against numpy."""
    x = rand(shape, seed=1)
    ssq = (x.astype(np.float64) ** 2).sum(axis=tuple(axes), keepdims=True)
    want = (x / np.sqrt(np.maximum(ssq, np.float32(eps)))).astype(np.float32)

    def build(ops, a):
        return ops.normalize_l2(a, _i64(axes), eps, "max")

    np.testing.assert_allclose(_openvino_on_ir(build, [x])[0], want, rtol=1e-5, atol=1e-6)
    check_op(build, [x], backend, expected=[want], rtol=1e-5, atol=1e-6)


def test_normalize_l2_empty_axes(backend):
    """No axes: each element is divided by itself, giving 1 for non-zero elements (spec) and 0 for
    zeros (reference kernel)."""
    x = rand((2, 3), seed=2)
    x[0, 1] = 0
    check_op(lambda ops, a: ops.normalize_l2(a, np.array([], np.int64), 1e-3, "max"), [x], backend,
             expected=[(x != 0).astype(np.float32)])
    check_op(lambda ops, a: ops.normalize_l2(a, np.array([], np.int64), 1e-3, "add"), [x], backend)


def test_normalize_l2_f16(backend):
    x = rand((2, 8, 3), np.float16, seed=3)
    check_op(lambda ops, a: ops.normalize_l2(a, _i64([1]), 1e-6, "add"), [x], backend, rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize("shape,groups", [((2, 4, 3, 3), 2), ((2, 6, 5), 3), ((1, 4), 4),
                                          ((2, 6, 2, 2, 2), 1)], ids=str)
def test_group_normalization(shape, groups, backend):
    c = shape[1]
    check_op(lambda ops, x, s, b: ops.group_normalization(x, s, b, groups, 1e-5),
             [rand(shape, seed=1), rand((c,), seed=2), rand((c,), seed=3)], backend, rtol=1e-4, atol=1e-5)


def test_group_normalization_f16(backend):
    args = [rand((2, 4, 6), np.float16, seed=1), rand((4,), np.float16, seed=2),
            rand((4,), np.float16, seed=3)]
    check_op(lambda ops, x, s, b: ops.group_normalization(x, s, b, 2, 1e-5), args, backend,
             rtol=5e-3, atol=5e-3)


LRN = [  # shape, axes, alpha, beta, bias, size
    ((2, 7, 3, 3), [1], 1e-4, 0.75, 1.0, 5),
    ((1, 5, 4, 4), [1], 0.5, 0.5, 2.0, 3),
    ((1, 3, 5, 5), [2, 3], 0.1, 0.75, 1.0, 3),
    ((1, 6, 4, 4), [1], 0.3, 0.6, 1.0, 1),
    ((1, 6, 4, 4), [1], 0.3, 0.6, 1.0, 4),  # even size: (size - 1) // 2 either side
    ((1, 2, 5, 6), [2, 3], 0.3, 0.6, 3.0, 2),
]


@pytest.mark.parametrize("case", LRN, ids=str)
def test_lrn(case, backend):
    shape, axes, alpha, beta, bias, size = case
    check_op(lambda ops, x: ops.lrn(x, _i64(axes), alpha, beta, bias, size), [rand(shape, seed=1)], backend,
             rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bias", [1.0, 1.5])
def test_lrn_hand_computed(bias, backend):
    """The reference window spans (size - 1) // 2 on each side, zero-padded. A fractional bias is
    used as given, per the spec (OpenVINO's CPU plugin truncates bias to an integer: 1.5 acts as 1)."""
    x = rand((1, 4, 2), seed=2)
    sq = np.pad(x * x, ((0, 0), (1, 1), (0, 0)))
    win = sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:]
    want = x / (bias + 0.2 / 3 * win) ** 0.75
    check_op(lambda ops, a: ops.lrn(a, _i64([1]), 0.2, 0.75, bias, 3), [x], backend,
             expected=[want.astype(np.float32)], rtol=1e-5, atol=1e-6)


def test_validation():
    x = aops.parameter([2, 6, 4], np.float32)
    with pytest.raises(ShapeInferenceError, match="multiple of num_groups"):
        aops.group_normalization(x, np.ones(6, np.float32), np.ones(6, np.float32), 4, 1e-5)
    with pytest.raises(ShapeInferenceError, match="scale"):
        aops.group_normalization(x, np.ones(5, np.float32), np.ones(6, np.float32), 2, 1e-5)
    with pytest.raises(ShapeInferenceError, match="gamma"):
        aops.batch_norm_inference(x, np.ones(5, np.float32), np.ones(6, np.float32), np.ones(6, np.float32),
                                  np.ones(6, np.float32), 1e-5)
    with pytest.raises(ShapeInferenceError, match="out of range"):
        aops.mvn(x, _i64([3]), True, 1e-5, "inside_sqrt")
    with pytest.raises(ShapeInferenceError, match="floating"):
        aops.normalize_l2(aops.parameter([2, 3], np.int32), _i64([1]), 1e-5, "add")
    with pytest.raises(OpAttributeError, match="eps_mode"):
        aops.mvn(x, _i64([1]), True, 1e-5, "middle")
    with pytest.raises(OpAttributeError, match="size"):
        aops.lrn(x, _i64([1]), size=0)


@pytest.mark.parametrize("shape,axis", [((2, 3, 8), -1), ((2, 3, 8), 1), ((4, 5), 0), ((1, 2, 6, 6), 3)],
                         ids=str)
def test_softmax_numpy_kernel(shape, axis, backend):
    """Softmax runs on numpy through the in-place kernel of backends/numpy/matmul_kernels.py."""
    x = rand(shape, seed=1, low=-30, high=30)
    check_op(lambda ops, a: ops.softmax(a, axis), [x], backend, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,bias", [((2, 5), 1e-4), ((2, 3, 4), 0.5), ((1, 4, 3, 3), 1e-6)], ids=str)
def test_grn(shape, bias, backend):
    check_op(lambda ops, x: ops.grn(x, bias), [rand(shape, seed=1)], backend, rtol=1e-5, atol=1e-6)


def test_grn_rank():
    with pytest.raises(ShapeInferenceError, match="rank 2 to 4"):
        aops.grn(aops.parameter([1, 2, 3, 4, 5], np.float32), 1e-4)


def test_read_openvino_ir(tmp_path, backend):
    """IR written by OpenVINO itself (attribute spellings such as eps_mode="INSIDE_SQRT", MVN v0's
    reduction_axes list, float32 eps) reads into arrayrt and computes the same."""
    import openvino as ov
    import openvino.opset1 as ov1
    import openvino.opset2 as ov2
    import openvino.opset16 as ov16
    from arrayrt.ir.io import read_model

    from arrayrt.testing import run_arrayrt, run_openvino

    x = rand((2, 4, 3, 3), seed=1)
    c = [rand((4,), seed=i, low=0.5, high=1.5) for i in range(4)]
    p = ov16.parameter(list(x.shape), np.float32, name="in0")
    nodes = [ov2.mvn(p, True, True, 1e-3), ov2.mvn(p, False, False, 1e-9),
             ov16.mvn(p, _i64([-1]), True, 1e-5, "outside_sqrt"),
             ov1.batch_norm_inference(p, *c, 1e-3), ov16.batch_norm_inference(p, *c, 1e-3),
             ov16.normalize_l2(p, _i64([1]), 1e-6, "add"), ov16.group_normalization(p, c[0], c[1], 2, 1e-5),
             ov16.lrn(p, _i64([1]), 1e-2, 0.75, 2.0, 3), ov16.grn(p, 1e-4)]
    ov.save_model(ov.Model(nodes, [p]), tmp_path / "m.xml", compress_to_fp16=False)
    model = read_model(tmp_path / "m.xml")
    want = run_openvino(ov.Core().read_model(tmp_path / "m.xml"), [x])
    for i, (g, w) in enumerate(zip(run_arrayrt(model, [x], backend), want)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=f"output {i}")
