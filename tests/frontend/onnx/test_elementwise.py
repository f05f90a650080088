"""ONNX elementwise-family translators beyond the backend suite: older opsets (legacy broadcasting,
Clip attributes, Softmax's 2-D coercion, Dropout), attribute variants, inputs known only at
inference, float8 saturation and rounding, random-number ops (shapes, types, seeds) and errors.
The oracle is ONNX's reference evaluator, or hand-computed values where it lacks the case."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from arrayrt.errors import ArrayrtError  # noqa: E402
from arrayrt.onnx_backend import ArrayrtBackend  # noqa: E402
from arrayrt.testing import assert_close, rand  # noqa: E402


def model(op: str, inputs: dict, outputs: int | list = 1, opset: int = 21, consts: tuple = (),
          dynamic: tuple = (), domain: str = "", **attrs) -> tuple:
    """A one-node model: ``inputs`` maps names to arrays (None: an absent optional input); names in
    ``consts`` become initializers, in ``dynamic`` graph inputs with unknown dims."""
    vis, inits, feed = [], [], {}
    for n, v in inputs.items():
        if v is None:
            continue
        v = np.asarray(v)
        if n in consts:
            inits.append(numpy_helper.from_array(v, n))
            continue
        shape = [f"{n}_{i}" for i in range(v.ndim)] if n in dynamic else list(v.shape)
        vis.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), shape))
        feed[n] = v
    outs = [f"y{i}" for i in range(outputs)] if isinstance(outputs, int) else outputs
    node = helper.make_node(op, ["" if v is None else n for n, v in inputs.items()], outs, domain=domain,
                            **attrs)
    graph = helper.make_graph([node], "g", vis, [helper.make_empty_tensor_value_info(o) for o in outs if o],
                              inits)
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    m = helper.make_model(graph, opset_imports=imports)
    m.ir_version = 8
    return m, feed


def run(m, feed) -> list[np.ndarray]:
    return list(ArrayrtBackend.prepare(m).run(feed))


def check(op: str, inputs: dict, outputs: int | list = 1, opset: int = 21, consts: tuple = (),
          dynamic: tuple = (), expected: list | None = None, rtol: float = 1e-5, atol: float = 1e-6,
          domain: str = "", **attrs) -> list:
    m, feed = model(op, inputs, outputs, opset, consts, dynamic, domain, **attrs)
    if expected is None:
        expected = ReferenceEvaluator(m).run(None, feed)
    got = run(m, feed)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        e = np.asarray(e)
        if e.dtype.name.startswith(("float8", "float4")):  # compare as f32: NaN positions must match
            assert g.dtype == e.dtype, f"{op} output {i}: dtype {g.dtype} != {e.dtype}"
            g, e = g.astype(np.float32), e.astype(np.float32)
        assert_close(g, e, rtol, atol, what=f"{op} output {i}: ")
    return got


def ort(m, feed) -> list[np.ndarray]:
    ort_ = pytest.importorskip("onnxruntime")
    return ort_.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)


A = rand((2, 3, 4, 5), np.float32, seed=1)
X = rand((2, 3, 4), np.float32, seed=2)


# --- arithmetic -------------------------------------------------------------------------------


@pytest.mark.parametrize("op, fn", [("Add", np.add), ("Mul", np.multiply), ("Sub", np.subtract),
                                    ("Div", np.divide), ("Pow", np.power)])
@pytest.mark.parametrize("axis, b_shape", [(1, (3,)), (1, (3, 4)), (0, (2,)), (-2, (4,)), (None, (5,))])
def test_legacy_broadcast_axis(op, fn, axis, b_shape):
    """Opset 6: with broadcast=1, B's dimensions line up with A's from ``axis`` on."""
    b = rand(b_shape, np.float32, seed=3, low=0.5, high=2)
    a = np.abs(A) + 0.5
    start = (axis % 4) if axis is not None else 4 - len(b_shape)
    want = fn(a, b.reshape(b_shape + (1,) * (4 - start - len(b_shape))))
    attrs = {"broadcast": 1} | ({} if axis is None else {"axis": axis})
    check(op, {"a": a, "b": b}, opset=6, expected=[want], **attrs)


def test_integer_division_truncates():
    a = np.array([7, -7, 7, -7, 0], np.int32)
    b = np.array([2, 2, -2, -2, 5], np.int32)
    check("Div", {"a": a, "b": b}, expected=[np.array([3, -3, -3, 3, 0], np.int32)])


@pytest.mark.parametrize("x, y", [
    (np.array([1, 2, 3, 4], np.int32), np.array([0.5, 2.0, 1.5, -1.0], np.float32)),
    (np.array([1.5, 2.0, -3.0], np.float32), np.array([2, 3, 3], np.int64)),
    (np.array([2, -3, 4], np.int64), np.array([3, 2, 0], np.int32)),
    (np.array([1.5, 2.0], np.float64), np.array([0.5, 2.0], np.float32)),
])
def test_pow_mixed_types(x, y):
    """The result has the base's type; an integer base with a float exponent truncates."""
    want = (x.astype(np.float64) ** y.astype(np.float64)).astype(x.dtype)
    check("Pow", {"x": x, "y": y}, opset=15, expected=[want])


@pytest.mark.parametrize("fmod, dtype", [(0, np.int32), (1, np.int32), (0, np.int8), (1, np.int8),
                                         (1, np.float32)])
def test_mod(fmod, dtype):
    a = np.array([7, -7, 7, -7, 5, 0], dtype)
    b = np.array([3, 3, -3, -3, 5, 2], dtype)
    check("Mod", {"a": a, "b": b}, fmod=fmod)


def test_max_min_propagate_nan_and_broadcast():
    a = np.array([[1.0, np.nan, 3.0]], np.float32)
    b = np.array([[2.0], [np.nan]], np.float32)
    c = np.array(2.5, np.float32)
    for op in ("Max", "Min"):
        got = check(op, {"a": a, "b": b, "c": c})
        assert np.isnan(got[0][0, 1]) and np.isnan(got[0][1]).all()


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("n", [1, 3])
def test_variadic(op, n):
    ins = {f"x{i}": rand((2, 3)[i % 2:], np.float32, seed=i) for i in range(n)}
    check(op, ins, opset=13)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64])
def test_max_min_integers(dtype):
    a, b = rand((3, 4), dtype, seed=1, low=0, high=50), rand((4,), dtype, seed=2, low=0, high=50)
    check("Max", {"a": a, "b": b}, opset=13)
    check("Min", {"a": a, "b": b}, opset=13)


# --- Clip -----------------------------------------------------------------------------------------


def test_clip_attributes_opset6():
    check("Clip", {"x": X}, opset=6, expected=[np.clip(X, -0.5, 1.0)], min=-0.5, max=1.0)
    check("Clip", {"x": X}, opset=6, expected=[np.minimum(X, 0.25)], max=0.25)
    check("Clip", {"x": X}, opset=6, expected=[X])


@pytest.mark.parametrize("lo, hi", [(-0.5, 0.5), (None, 0.5), (-0.5, None), (None, None), (1.0, -1.0)])
@pytest.mark.parametrize("known", [True, False])
def test_clip_inputs(lo, hi, known):
    """Bounds as initializers or graph inputs; min > max gives max everywhere."""
    lo_v = None if lo is None else np.float32(lo)
    hi_v = None if hi is None else np.float32(hi)
    consts = ("lo", "hi") if known else ()
    check("Clip", {"x": X, "lo": lo_v, "hi": hi_v}, opset=13, consts=consts)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64])
def test_clip_integers(dtype):
    x = rand((3, 5), dtype, seed=4, low=0, high=100)
    check("Clip", {"x": x, "lo": np.array(10, dtype), "hi": np.array(60, dtype)}, opset=13, consts=("lo",))


# --- activations ------------------------------------------------------------------------------


@pytest.mark.parametrize("op, attrs", [
    ("LeakyRelu", {}), ("LeakyRelu", {"alpha": 0.3}), ("Elu", {"alpha": 0.7}), ("Celu", {"alpha": 2.0}),
    ("Selu", {}), ("Selu", {"alpha": 1.5, "gamma": 0.5}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("ThresholdedRelu", {"alpha": 0.5}), ("Shrink", {"lambd": 0.7, "bias": 0.2}), ("HardSwish", {}),
    ("Softplus", {}), ("Softsign", {}), ("Mish", {}), ("Gelu", {"approximate": "tanh"}), ("Gelu", {}),
])
def test_activations(op, attrs):
    check(op, {"x": X}, opset=20, rtol=1e-5, atol=1e-5, **attrs)


def test_shrink_integers():
    x = np.arange(-5, 6, dtype=np.int32)
    check("Shrink", {"x": x}, lambd=1.5, bias=1.0)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_swish_and_swiglu(alpha):
    b = rand(X.shape, np.float32, seed=7)
    swish = X / (1 + np.exp(-alpha * X))
    check("Swish", {"x": X}, opset=24, expected=[swish], alpha=alpha)
    check("SwiGLU", {"a": X, "b": b}, opset=28, expected=[swish * b], alpha=alpha)


@pytest.mark.parametrize("opset, slope_shape", [(9, (4,)), (9, (3, 1)), (9, ()), (6, (3,))])
def test_prelu_slope_broadcasting(opset, slope_shape):
    """From opset 7 numpy broadcasting (a 1-D slope runs along the last axis); opset 6 reads a
    1-D slope per channel (axis 1)."""
    x = rand((2, 3, 4), np.float32, seed=5)
    slope = rand(slope_shape, np.float32, seed=6, low=0.1, high=0.9)
    s = slope.reshape(3, 1) if opset < 7 else slope
    check("PRelu", {"x": x, "s": slope}, opset=opset, expected=[np.where(x > 0, x, x * s)])


def test_binarizer():
    x = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
    check("Binarizer", {"x": x}, domain="ai.onnx.ml", threshold=0.25,
          expected=[np.array([0, 0, 1, 1], np.float32)])


def test_is_inf_directions():
    x = np.array([-np.inf, 1.0, np.inf, np.nan], np.float32)
    check("IsInf", {"x": x}, detect_negative=0)
    check("IsInf", {"x": x}, detect_positive=0)


# --- Softmax family -----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset, axis", [(11, 1), (11, 0), (11, -2), (11, 2), (11, None), (13, 0), (13, None),
                                         (6, 1)])
@pytest.mark.parametrize("dynamic", [False, True])
def test_softmax_family(op, opset, axis, dynamic):
    """Before opset 13 the input is coerced to 2-D at ``axis`` (default 1); from 13 the op runs along
    ``axis`` (default -1). Inputs of unknown shape take the ShapeOf path."""
    attrs = {} if axis is None else {"axis": axis}
    x = X.copy()
    x[0, 1, :2] = 5.0  # a tie for Hardmax: the first one wins
    m, feed = model(op, {"x": x}, opset=opset, dynamic=("x",) if dynamic else (), **attrs)
    # ONNX's reference evaluator ignores the 2-D coercion; onnxruntime implements it
    check(op, {"x": x}, opset=opset, dynamic=("x",) if dynamic else (), expected=ort(m, feed), **attrs)


# --- casts --------------------------------------------------------------------------------------

F8_INPUT = np.array([0.3, -1000.0, 1000.0, np.inf, -np.inf, np.nan, 500.0, 448.0, 1e-9], np.float32)


@pytest.mark.parametrize("to", [TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2])
@pytest.mark.parametrize("src", [np.float32, np.float16])
@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_float8_saturate(to, src, saturate):
    """saturate=1 clamps to the largest finite value (infinities included); saturate=0 overflows to
    NaN (e4m3fn) or inf (e5m2)."""
    x = F8_INPUT.astype(src)
    dt = helper.tensor_dtype_to_np_dtype(to)
    fmax = float(ml_dtypes.finfo(dt).max)
    want = (np.clip(x.astype(np.float32), -fmax, fmax) if saturate else x.astype(np.float32)).astype(dt)
    check("Cast", {"x": x}, expected=[want], to=to, saturate=saturate)
    check("CastLike", {"x": x, "like": np.zeros(1, dt)}, consts=("like",), expected=[want], saturate=saturate)


def test_cast_integers_to_float8_saturate():
    x = np.array([1000, -1000, 3, 0], np.int32)
    want = np.array([448, -448, 3, 0], np.float32).astype(ml_dtypes.float8_e4m3fn)
    check("Cast", {"x": x}, expected=[want], to=TensorProto.FLOAT8E4M3FN)


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_e8m0_rounding(round_mode, saturate):
    x = np.array([0.124, 0.25, 0.3, 1.1, 1.6, 3.0, 4.0, 1e30, np.nan], np.float32)
    e = np.log2(x.astype(np.float64))
    ex = {"up": np.ceil, "down": np.floor, "nearest": lambda v: np.floor(v + 0.5)}[round_mode](e)
    want = np.exp2(ex).astype(np.float32)
    if round_mode == "nearest":  # ml_dtypes rounds the mantissa: 1.5 * 2^e and above go up
        want = x.astype(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    check("Cast", {"x": x}, opset=25 if round_mode == "up" and saturate else 28,
          expected=[want.astype(ml_dtypes.float8_e8m0fnu)], to=TensorProto.FLOAT8E8M0,
          saturate=saturate, **({} if round_mode == "up" else {"round_mode": round_mode}))


def test_cast_e8m0_saturation():
    """Saturating, zero and infinity land on the smallest and largest powers 2^-127 and 2^127."""
    x = np.array([0.0, np.inf, 1e-39, 2.0**127 * 1.5], np.float32)
    want = np.array([2.0**-127, 2.0**127, 2.0**-127, 2.0**127], np.float32).astype(ml_dtypes.float8_e8m0fnu)
    check("Cast", {"x": x}, opset=25, expected=[want], to=TensorProto.FLOAT8E8M0)


@pytest.mark.parametrize("src, to", [(np.float32, TensorProto.INT32), (np.float32, TensorProto.BOOL),
                                     (np.bool_, TensorProto.FLOAT), (np.int32, TensorProto.INT8),
                                     (np.float32, TensorProto.BFLOAT16), (np.float32, TensorProto.FLOAT16),
                                     (np.float32, TensorProto.UINT4), (np.int8, TensorProto.INT4),
                                     (np.float16, TensorProto.FLOAT4E2M1), (np.int64, TensorProto.DOUBLE)])
def test_cast_types(src, to):
    x = rand((3, 4), src, seed=8, low=-40, high=40)
    check("Cast", {"x": x}, to=to)


def test_cast_1_type_name():
    """Cast-1 names the target type with a string."""
    check("Cast", {"x": X}, opset=1, expected=[X.astype(np.float64)], to="DOUBLE")


# --- constants and generators -------------------------------------------------------------------


@pytest.mark.parametrize("attr, value, want", [
    ("value_float", 1.5, np.array(1.5, np.float32)),
    ("value_floats", [1.0, 2.5], np.array([1.0, 2.5], np.float32)),
    ("value_int", 7, np.array(7, np.int64)),
    ("value_ints", [1, -2, 3], np.array([1, -2, 3], np.int64)),
    ("value", numpy_helper.from_array(np.arange(6, dtype=np.int16).reshape(2, 3)),
     np.arange(6, dtype=np.int16).reshape(2, 3)),
    ("value", helper.make_tensor("t", TensorProto.BFLOAT16, [2], [1.5, -2.0]),
     np.array([1.5, -2.0], ml_dtypes.bfloat16)),
    ("sparse_value", helper.make_sparse_tensor(numpy_helper.from_array(np.array([5.0, 6.0], np.float32)),
                                               numpy_helper.from_array(np.array([1, 4], np.int64)), [2, 3]),
     np.array([[0, 5, 0], [0, 6, 0]], np.float32)),
    ("sparse_value", helper.make_sparse_tensor(numpy_helper.from_array(np.array([5.0], np.float32)),
                                               numpy_helper.from_array(np.array([[1, 2]], np.int64)), [2, 3]),
     np.array([[0, 0, 0], [0, 0, 5]], np.float32)),
])
def test_constant_forms(attr, value, want):
    check("Constant", {}, opset=13, expected=[want], **{attr: value})


@pytest.mark.parametrize("value", [None, np.array([2], np.int32), np.array([1.5], np.float16)])
@pytest.mark.parametrize("shape", [[2, 3], [], [0, 4]])
@pytest.mark.parametrize("known", [True, False])
def test_constant_of_shape(value, shape, known):
    attrs = {} if value is None else {"value": numpy_helper.from_array(value)}
    check("ConstantOfShape", {"s": np.array(shape, np.int64)}, consts=("s",) if known else (), **attrs)


@pytest.mark.parametrize("k", [0, 1, -2, 5])
@pytest.mark.parametrize("dtype", [None, TensorProto.INT32, TensorProto.DOUBLE])
@pytest.mark.parametrize("dynamic", [False, True])
def test_eye_like(k, dtype, dynamic):
    attrs = {"k": k} | ({} if dtype is None else {"dtype": dtype})
    check("EyeLike", {"x": np.zeros((3, 5), np.float32)}, dynamic=("x",) if dynamic else (), **attrs)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 2, -1, -7])
@pytest.mark.parametrize("shape, dtype", [((4, 5), np.float32), ((2, 3, 3), np.int64), ((3, 1, 4), np.bool_)])
def test_trilu(upper, k, shape, dtype):
    x = rand(shape, dtype, seed=9, low=1, high=9)
    kv = None if k is None else np.array(k, np.int64)
    check("Trilu", {"x": x, "k": kv}, dynamic=("x",), upper=upper)


def test_trilu_k_at_inference():
    check("Trilu", {"x": rand((4, 4), np.float32), "k": np.array(1, np.int64)}, upper=0)


# --- Dropout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [6, 7, 10, 12, 13])
def test_dropout_inference(opset):
    """Inference: output = input, mask all true (the input's type before opset 10, bool after)."""
    attrs = {"is_test": 1} if opset < 7 else {}
    mask_type = np.bool_ if opset >= 10 else np.float32
    check("Dropout", {"x": X}, outputs=2, opset=opset,
          expected=[X, np.ones(X.shape, mask_type)], **attrs)


@pytest.mark.parametrize("known", [True, False])
def test_dropout_training_mode(known):
    """training_mode false or ratio 0: the identity; training with a ratio: kept elements scaled by
    1 / (1 - ratio), the others 0, the mask telling which."""
    consts = ("r", "t") if known else ()
    ones = np.ones(X.shape, np.bool_)
    for train, ratio in ((False, 0.5), (True, 0.0)):
        check("Dropout", {"x": X, "r": np.float32(ratio), "t": np.bool_(train)}, outputs=2, consts=consts,
              expected=[X, ones])
    m, feed = model("Dropout", {"x": X, "r": np.float32(0.75), "t": np.bool_(True)}, 2, 13, consts, seed=3.0)
    y, mask = run(m, feed)
    assert mask.dtype == np.bool_ and 0 < mask.sum() < mask.size
    np.testing.assert_allclose(y, np.where(mask, X * 4, 0), rtol=1e-6)


# --- random numbers ---------------------------------------------------------------------------


def _sample(op: str, inputs: dict, seed: float | None = 5.0, **attrs) -> np.ndarray:
    m, feed = model(op, inputs, opset=22, **({} if seed is None else {"seed": seed}), **attrs)
    (a,) = run(m, feed)
    (b,) = run(m, feed)
    if seed is not None:
        np.testing.assert_array_equal(a, b)
    return a


@pytest.mark.parametrize("dtype, np_dtype", [(None, np.float32), (TensorProto.DOUBLE, np.float64),
                                             (TensorProto.FLOAT16, np.float16)])
def test_random_uniform(dtype, np_dtype):
    attrs = {} if dtype is None else {"dtype": dtype}
    a = _sample("RandomUniform", {}, shape=[30, 40], low=-2.0, high=3.0, **attrs)
    assert a.shape == (30, 40) and a.dtype == np_dtype
    assert a.min() >= -2 and a.max() < 3 and abs(a.astype(np.float64).mean() - 0.5) < 0.1


def test_random_normal_and_like():
    a = _sample("RandomNormal", {}, shape=[50, 60], mean=3.0, scale=2.0)
    assert a.shape == (50, 60) and a.dtype == np.float32
    assert abs(a.mean() - 3.0) < 0.1 and abs(a.std() - 2.0) < 0.1
    x = np.zeros((40, 50), np.float16)
    b = _sample("RandomNormalLike", {"x": x}, dtype=TensorProto.DOUBLE)
    assert b.shape == x.shape and b.dtype == np.float64 and abs(b.std() - 1.0) < 0.1
    c = _sample("RandomUniformLike", {"x": x}, seed=None)
    assert c.dtype == np.float16 and 0 <= c.min() and c.max() < 1


def test_bernoulli_and_multinomial():
    p = np.full((40, 50), 0.3, np.float64)
    b = _sample("Bernoulli", {"p": p}, dtype=TensorProto.INT32)
    assert b.dtype == np.int32 and set(np.unique(b)) <= {0, 1} and abs(b.mean() - 0.3) < 0.05
    assert _sample("Bernoulli", {"p": p.astype(np.float32)}).dtype == np.float32
    logits = np.log(np.array([[0.2, 0.8], [1.0, 1e-30]], np.float32))
    m = _sample("Multinomial", {"x": logits}, sample_size=500)
    assert m.shape == (2, 500) and m.dtype == np.int32 and (m[1] == 0).all()
    assert abs(m[0].mean() - 0.8) < 0.06
    assert _sample("Multinomial", {"x": logits}, dtype=TensorProto.INT64).dtype == np.int64


# --- bitwise and others -------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
def test_bit_shift(direction, dtype):
    check("BitShift", {"x": np.array([16, 4, 1], dtype), "y": np.array([1, 2, 3], dtype)}, direction=direction)


@pytest.mark.parametrize("src, to", [(np.float32, TensorProto.INT32), (np.uint16, TensorProto.INT16),
                                     (np.float64, TensorProto.UINT64)])
def test_bit_cast(src, to):
    x = np.array([1.5, -2.0, 0.0], np.float64).astype(src) if src != np.uint16 else np.array([1, 65535], src)
    want = x.view(helper.tensor_dtype_to_np_dtype(to))
    check("BitCast", {"x": x}, opset=26, expected=[want], to=to)


def test_where_and_logic():
    c = rand((3, 1), np.bool_, seed=1)
    check("Where", {"c": c, "a": X[0], "b": np.float32(7)})
    a, b = rand((2, 3), np.bool_, seed=2), rand((3,), np.bool_, seed=3)
    for op in ("And", "Or", "Xor"):
        check(op, {"a": a, "b": b})
    check("Not", {"a": a})


@pytest.mark.parametrize("op, inputs, attrs, message", [
    ("BitShift", {"x": np.array([1], np.uint8), "y": np.array([1], np.uint8)}, {"direction": "UP"}, "direction"),
    ("Cast", {"x": X}, {"to": 99}, "element type"),
    ("Cast", {"x": X}, {"to": "REAL"}, "element type"),
    ("Constant", {}, {}, "value"),
    ("Gelu", {"x": X}, {"approximate": "fast"}, "approximate"),
    ("Cast", {"x": X}, {"to": TensorProto.FLOAT8E8M0, "round_mode": "sideways"}, "round_mode"),
])
def test_errors(op, inputs, attrs, message):
    m, feed = model(op, inputs, opset=25, **attrs)
    with pytest.raises(ArrayrtError, match=message):
        run(m, feed)


def test_identity_passes_through():
    got = check("Identity", {"x": X})
    assert got[0].shape == X.shape and math.isclose(float(got[0].sum()), float(X.sum()), rel_tol=1e-6)
