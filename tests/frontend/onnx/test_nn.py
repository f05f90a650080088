"""ONNX neural-network translators beyond the backend suite: attribute and opset variants (auto
padding, ConvTranspose output sizes, pooling indices and ceil mode, training-mode BatchNorm,
normalization outputs, quantized products, recurrent layouts and states, attention modes, DFT and
STFT forms), the single-op mapping of Conv/MatMul/Gemm, and errors. The oracle is ONNX's reference
evaluator, or onnxruntime where the reference lacks the case."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from arrayrt.ir.frontend.onnx import convert_onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from arrayrt.errors import ArrayrtError  # noqa: E402
from arrayrt.onnx_backend import ArrayrtBackend  # noqa: E402
from arrayrt.testing import assert_close, rand  # noqa: E402


def model(op: str, inputs: dict, outputs: int | list = 1, opset: int = 22, consts: tuple = (),
          dynamic: tuple = (), **attrs):
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
    node = helper.make_node(op, ["" if v is None else n for n, v in inputs.items()], outs, **attrs)
    graph = helper.make_graph([node], "g", vis, [helper.make_empty_tensor_value_info(o) for o in outs if o],
                              inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m, feed


def ort(m, feed) -> list[np.ndarray]:
    ort_ = pytest.importorskip("onnxruntime")
    return ort_.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)


def check(op: str, inputs: dict, outputs: int | list = 1, opset: int = 22, consts: tuple = (),
          dynamic: tuple = (), expected: list | None = None, oracle: str = "reference", rtol: float = 1e-4,
          atol: float = 1e-5, **attrs) -> list:
    m, feed = model(op, inputs, outputs, opset, consts, dynamic, **attrs)
    if expected is None:
        expected = ReferenceEvaluator(m).run(None, feed) if oracle == "reference" else ort(m, feed)
    got = list(ArrayrtBackend.prepare(m).run(feed))
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, np.asarray(e), rtol, atol, what=f"{op} output {i}: ")
    return got


def ir_ops(op: str, inputs: dict, consts: tuple = (), opset: int = 22, **attrs) -> list[str]:
    m, _ = model(op, inputs, 1, opset, consts, **attrs)
    ir = convert_onnx(m)
    plumbing = ("Parameter", "Result", "Constant")
    return [n.type_name for n in ir.get_ordered_ops() if n.type_name not in plumbing]


X4 = rand((2, 4, 7, 6), seed=1)
W4 = rand((6, 4, 3, 3), seed=2)
B6 = rand((6,), seed=3)


# --- convolutions ----------------------------------------------------------------------------------
CONV = [  # x shape, w shape, attrs
    ((2, 4, 7, 6), (6, 4, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ((2, 4, 7, 6), (6, 4, 3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 1], "dilations": [1, 2]}),
    ((2, 4, 7, 6), (6, 4, 3, 2), {"auto_pad": "VALID"}),
    ((2, 4, 7, 6), (6, 2, 3, 3), {"group": 2, "pads": [1, 0, 2, 1]}),
    ((2, 4, 7, 6), (4, 1, 3, 3), {"group": 4, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((1, 3, 9), (2, 3, 4), {"strides": [2], "pads": [1, 2]}),
    ((1, 2, 5, 4, 6), (3, 2, 2, 3, 2), {"pads": [1, 0, 1, 0, 1, 1]}),
]


@pytest.mark.parametrize("case", CONV, ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_conv(case, bias):
    xs, ws, attrs = case
    b = rand((ws[0],), seed=4) if bias else None
    check("Conv", {"x": rand(xs, seed=5), "w": rand(ws, seed=6), "b": b}, **attrs)


def test_conv_dynamic_shapes_and_const_weights():
    check("Conv", {"x": X4, "w": W4[:, :2], "b": B6}, consts=("w", "b"), dynamic=("x",), group=2,
          pads=[1, 1, 1, 1])


def test_conv_matmul_gemm_are_single_ops():
    """Conv is one Convolution (plus an Add for the bias), MatMul one MatMul, Gemm a MatMul and Add:
    the backends' fast kernels see them whole."""
    assert ir_ops("Conv", {"x": X4, "w": W4, "b": B6}, consts=("w", "b")) == ["Convolution", "Reshape", "Add"]
    assert ir_ops("MatMul", {"a": rand((3, 4)), "b": rand((4, 5))}, consts=("b",)) == ["MatMul"]
    ops = ir_ops("Gemm", {"a": rand((3, 4)), "b": rand((5, 4)), "c": rand((5,))}, consts=("b", "c"),
                 transB=1, alpha=0.5, beta=2.0)
    assert ops == ["MatMul", "Add"]


CONV_T = [  # x shape, w shape, attrs
    ((1, 2, 3, 3), (2, 3, 3, 3), {"strides": [3, 2], "output_shape": [10, 8]}),
    ((1, 2, 3, 3), (2, 3, 3, 3), {"strides": [3, 2], "output_shape": [9, 7], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 3, 4), (2, 3, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 3, 4), (2, 3, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 2, 3, 3), (2, 3, 3, 3), {"strides": [3, 2], "output_padding": [1, 1], "pads": [1, 0, 0, 1]}),
    ((1, 4, 3, 3), (4, 2, 2, 3), {"group": 2, "dilations": [2, 1], "strides": [1, 2], "oracle": "ort"}),
    ((2, 3, 5), (3, 2, 3), {"strides": [2], "pads": [1, 1], "output_padding": [1]}),
    ((1, 2, 3, 3), (2, 1, 3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
]


@pytest.mark.parametrize("case", CONV_T, ids=str)
def test_conv_transpose(case):
    xs, ws, attrs = case
    b = rand((ws[1] * attrs.get("group", 1),))
    check("ConvTranspose", {"x": rand(xs, seed=7), "w": rand(ws, seed=8), "b": b}, **attrs)


def test_conv_transpose_output_shape_needs_static_sizes():
    with pytest.raises(ArrayrtError, match="static input spatial"):
        check("ConvTranspose", {"x": rand((1, 2, 3, 3)), "w": rand((2, 3, 3, 3))}, dynamic=("x",),
              output_shape=[6, 6], expected=[])


def test_conv_integer_and_qlinear_conv():
    x = rand((1, 3, 5, 5), np.uint8, low=0, high=255)
    w = rand((4, 3, 2, 2), np.uint8, low=0, high=255)
    check("ConvInteger", {"x": x, "w": w, "xz": np.uint8(120), "wz": np.array([3, 100, 7, 200], np.uint8)},
          pads=[0, 1, 1, 0])
    wq = rand((4, 3, 2, 2), np.int8, low=-100, high=100)
    check("QLinearConv", {"x": x, "xs": np.float32(0.02), "xz": np.uint8(128), "w": wq,
                          "ws": np.array([0.01, 0.02, 0.005, 0.03], np.float32), "wz": np.zeros(4, np.int8),
                          "ys": np.float32(0.05), "yz": np.uint8(100),
                          "b": np.array([5, -9, 0, 300], np.int32)},
          strides=[2, 1])  # onnxruntime saturates u8 x s8 products here


# --- pooling ---------------------------------------------------------------------------------------
def test_max_pool_indices_storage_orders():
    x = rand((2, 3, 7, 6), seed=9)
    for order in (0, 1):
        check("MaxPool", {"x": x}, outputs=2, kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
              storage_order=order, oracle="ort")


POOL = [  # op, x shape, attrs
    ("MaxPool", (1, 2, 9, 8), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1,
                               "dilations": [2, 1]}),
    ("MaxPool", (1, 2, 9), {"kernel_shape": [4], "strides": [3], "pads": [1, 2]}),
    ("MaxPool", (1, 2, 5, 6, 4), {"kernel_shape": [2, 2, 2], "auto_pad": "SAME_LOWER"}),
    ("AveragePool", (1, 2, 9, 8), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1,
                                   "count_include_pad": 1, "pads": [1, 1, 1, 1]}),
    ("AveragePool", (1, 2, 9, 8), {"kernel_shape": [2, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ("LpPool", (1, 3, 8, 7), {"kernel_shape": [3, 2], "p": 3, "strides": [2, 1], "pads": [1, 0, 1, 1]}),
    ("LpPool", (1, 3, 8, 7), {"kernel_shape": [3, 3], "p": 1, "strides": [2, 2], "ceil_mode": 1}),
    ("LpPool", (1, 3, 8), {"kernel_shape": [3], "auto_pad": "SAME_UPPER", "strides": [2]}),
    ("GlobalMaxPool", (2, 3, 4, 5, 2), {}),
]


@pytest.mark.parametrize("case", POOL, ids=str)
def test_pool(case):
    op, xs, attrs = case
    attrs = {"oracle": "ort", **attrs}
    check(op, {"x": rand(xs, seed=10)}, **attrs)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_global_lp_pool(p):
    """Hand-computed: neither the reference nor onnxruntime has GlobalLpPool-22."""
    x = rand((2, 3, 4, 5), seed=10)
    want = (np.abs(x.astype(np.float64)) ** p).sum(axis=(2, 3), keepdims=True) ** (1 / p)
    check("GlobalLpPool", {"x": x}, p=p, expected=[want.astype(np.float32)])


def test_max_unpool_dynamic_and_output_shape():
    x = rand((1, 1, 2, 2), seed=11)
    idx = np.array([[[[5, 7], [13, 15]]]], np.int64)
    check("MaxUnpool", {"x": x, "i": idx}, dynamic=("x",), kernel_shape=[2, 2], strides=[2, 2])
    check("MaxUnpool", {"x": x, "i": idx, "s": np.array([1, 1, 5, 5], np.int64)}, kernel_shape=[2, 2],
          strides=[2, 2])


# --- normalizations --------------------------------------------------------------------------------
def test_batch_norm_training_and_old_opsets():
    x, s, b = rand((3, 4, 5), seed=12), rand((4,), seed=13), rand((4,), seed=14)
    mean, var = rand((4,), seed=15), rand((4,), seed=16, low=0.5, high=2)
    check("BatchNormalization", {"x": x, "s": s, "b": b, "m": mean, "v": var}, outputs=3, opset=15,
          training_mode=1, momentum=0.8, epsilon=1e-3)
    # the reference runs opset 9 in training mode (momentum has a default there): onnxruntime
    check("BatchNormalization", {"x": x, "s": s, "b": b, "m": mean, "v": var}, opset=9, epsilon=1e-3,
          oracle="ort")


def test_layer_norm_statistics_outputs_and_stash():
    x = rand((2, 3, 8), seed=17)
    check("LayerNormalization", {"x": x, "s": rand((3, 8)), "b": rand((8,))}, outputs=3, opset=17, axis=-2)
    x16 = rand((2, 8), np.float16, seed=18)
    check("LayerNormalization", {"x": x16, "s": rand((8,), np.float16)}, opset=17, rtol=2e-3, atol=2e-3)


def test_group_norm_18_per_group_and_21_per_channel():
    x = rand((2, 6, 3, 2), seed=19)
    check("GroupNormalization", {"x": x, "s": rand((3,), seed=20), "b": rand((3,), seed=21)}, opset=18,
          num_groups=3, epsilon=1e-3)
    check("GroupNormalization", {"x": x, "s": rand((6,), seed=22), "b": rand((6,), seed=23)}, opset=21,
          num_groups=2)


def test_lrn_even_size_and_lp_normalization():
    # hand-computed: onnxruntime wants an odd size, the reference loops over the wrong axis
    x = rand((1, 6, 3, 3), seed=24)
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (1, 2), (0, 0), (0, 0)))
    window = sum(sq[:, j:j + 6] for j in range(4))
    check("LRN", {"x": x}, size=4, alpha=1e-2, beta=0.6, bias=2.0,
          expected=[(x / (2.0 + 1e-2 / 4 * window) ** 0.6).astype(np.float32)])
    check("LpNormalization", {"x": np.concatenate([rand((2, 3)), np.zeros((1, 3), np.float32)])}, axis=1, p=2)
    with pytest.raises(ArrayrtError, match="p=3"):
        check("LpNormalization", {"x": rand((2, 3))}, p=3, expected=[])


def test_instance_norm_and_rms_norm():
    check("InstanceNormalization", {"x": rand((2, 3, 5, 4)), "s": rand((3,)), "b": rand((3,))}, epsilon=1e-3)
    check("RMSNormalization", {"x": rand((2, 3, 5)), "s": rand((3, 5))}, opset=23, axis=1, epsilon=1e-3)


# --- matrix products ----------------------------------------------------------------------------------
GEMM = [  # a, b, c, attrs, constant inputs
    ((4, 3), (5, 4), (5,), {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, ()),
    ((3, 4), (4, 5), (3, 1), {"alpha": 2.0, "beta": 0.5}, ("b", "c")),
    ((3, 4), (4, 5), None, {"alpha": 1.5}, ()),
    ((3, 4), (4, 5), (1,), {"beta": 0.0}, ()),
]


@pytest.mark.parametrize("case", GEMM, ids=str)
def test_gemm(case):
    a, b, c, attrs, consts = case
    c = None if c is None else rand(c, seed=27)
    check("Gemm", {"a": rand(a, seed=25), "b": rand(b, seed=26), "c": c}, consts=consts, **attrs)


def test_integer_matmuls():
    a = rand((3, 4), np.uint8, low=0, high=255)
    b = rand((4, 2), np.int8, low=-128, high=127)
    az, bz = np.array([1, 200, 3], np.uint8), np.array([4, -5], np.int8)
    want = (a.astype(np.int32) - az[:, None]) @ (b.astype(np.int32) - bz)  # the reference cannot broadcast az
    check("MatMulInteger", {"a": a, "b": b, "az": az, "bz": bz}, expected=[want])
    check("QLinearMatMul", {"a": a, "as": np.float32(0.05), "az": np.uint8(120), "b": b,
                            "bs": np.float32(0.02), "bz": np.int8(0), "ys": np.float32(0.1),
                            "yz": np.uint8(128)}, opset=21)


def test_einsum_spaces_and_bf16():
    import ml_dtypes

    check("Einsum", {"a": rand((2, 3, 4)), "b": rand((2, 4, 5))}, equation="bij, bjk -> bik", opset=12)
    a, b = rand((3, 4), ml_dtypes.bfloat16), rand((4, 2), ml_dtypes.bfloat16)
    check("Einsum", {"a": a, "b": b}, equation="ij,jk->ik", rtol=2e-2, atol=2e-2)


# --- recurrent layers -----------------------------------------------------------------------------
def _rnn_inputs(gates: int, dirs: int, hidden: int, batch: int, steps: int, layout: int, seed: int,
                bias: bool, states: int, lengths=None):
    x = rand((batch, steps, 3) if layout else (steps, batch, 3), seed=seed)
    state = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
    out = {"x": x, "w": rand((dirs, gates * hidden, 3), seed=seed + 1),
           "r": rand((dirs, gates * hidden, hidden), seed=seed + 2),
           "b": rand((dirs, 2 * gates * hidden), seed=seed + 3) if bias else None,
           "l": lengths}
    for i in range(states):
        out[f"h{i}"] = rand(state, seed=seed + 4 + i)
    return out


RNNS = [  # op, gates, states, attrs, layout, lengths
    ("LSTM", 4, 2, {"direction": "bidirectional"}, 1, None),
    ("LSTM", 4, 2, {"direction": "bidirectional", "clip": 1.5}, 0, np.array([3, 1], np.int32)),
    ("LSTM", 4, 2, {"activations": ["HardSigmoid", "Tanh", "Relu"], "activation_alpha": [0.3],
                    "activation_beta": [0.4]}, 0, None),
    ("GRU", 3, 1, {"linear_before_reset": 1, "direction": "reverse"}, 0, np.array([3, 2], np.int32)),
    ("GRU", 3, 1, {"direction": "bidirectional"}, 1, None),
    ("RNN", 1, 1, {"activations": ["Relu"]}, 0, np.array([2, 3], np.int32)),
]


@pytest.mark.parametrize("case", RNNS, ids=str)
def test_recurrent(case):
    op, gates, states, attrs, layout, lengths = case
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    inputs = _rnn_inputs(gates, dirs, 4, 2, 3, layout, 30, True, states, lengths)
    outs = ["y", "yh"] + (["yc"] if states == 2 else [])
    # onnxruntime has no batch-first layout
    oracle = "reference" if layout else "ort"
    check(op, inputs, outputs=outs, hidden_size=4, layout=layout, oracle=oracle, **attrs)


def test_lstm_peepholes_and_input_forget():
    inputs = _rnn_inputs(4, 2, 3, 2, 4, 0, 40, True, 2)
    inputs["p"] = rand((2, 9), seed=49)
    check("LSTM", inputs, outputs=["y", "yh", "yc"], hidden_size=3, direction="bidirectional", input_forget=1,
          oracle="ort")


def test_recurrent_errors():
    inputs = _rnn_inputs(1, 2, 4, 2, 3, 0, 50, False, 1)
    with pytest.raises(ArrayrtError, match="different activations"):
        check("RNN", inputs, outputs=["y", "yh"], hidden_size=4, direction="bidirectional",
              activations=["Tanh", "Relu"], expected=[])
    with pytest.raises(ArrayrtError, match="softsign"):
        check("RNN", _rnn_inputs(1, 1, 4, 2, 3, 0, 50, False, 1), outputs=["y", "yh"], hidden_size=4,
              activations=["Softsign"], expected=[])


# --- attention ------------------------------------------------------------------------------------------
Q4, K4, V4 = (1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)
ATTENTION = [  # q, k, v, mask, past, attrs, outputs, opset
    ((2, 4, 12), (2, 6, 6), (2, 6, 6), (4, 6), None, {"q_num_heads": 4, "kv_num_heads": 2, "is_causal": 1},
     1, 23),
    (Q4, K4, V4, None, (1, 2, 2), {"qk_matmul_output_mode": 0}, 4, 23),
    (Q4, K4, V4, (3, 7), (1, 2, 2), {"qk_matmul_output_mode": 1, "softcap": 2.0}, 4, 23),
    (Q4, K4, V4, (1, 3, 7), (1, 2, 2), {"qk_matmul_output_mode": 2, "scale": 0.3}, 4, 23),
    (Q4, (1, 1, 5, 4), (1, 1, 5, 3), (3, 5), None, {"qk_matmul_output_mode": 3, "is_causal": 1}, 4, 23),
    (Q4, K4, V4, None, None, {"left_window_size": 1, "right_window_size": 2}, 1, 25),
]


@pytest.mark.parametrize("case", ATTENTION, ids=str)
def test_attention(case):
    qs, ks, vs, ms, past, attrs, n_out, opset = case
    inputs = {"q": rand(qs, seed=60), "k": rand(ks, seed=61), "v": rand(vs, seed=62),
              "m": None if ms is None else rand(ms, seed=63), "pk": None, "pv": None}
    if past is not None:
        heads = ks[1] if len(ks) == 4 else attrs["kv_num_heads"]
        inputs["pk"] = rand((past[0], heads, past[2], 4 if len(ks) == 4 else ks[2] // heads), seed=64)
        inputs["pv"] = rand((past[0], heads, past[2], 3 if len(vs) == 4 else vs[2] // heads), seed=65)
    outs = ["y", "pk_out" if past else "", "pv_out" if past else "", "qk"][:n_out]
    check("Attention", inputs, outputs=outs, opset=opset, **attrs)


def test_attention_bool_mask_fully_masked_row():
    mask = np.ones((3, 5), bool)
    mask[1] = False
    check("Attention", {"q": rand((1, 2, 3, 4)), "k": rand((1, 2, 5, 4)), "v": rand((1, 2, 5, 4)), "m": mask},
          outputs=["y", "", "", "qk"], opset=23, qk_matmul_output_mode=3)


# --- signal processing ----------------------------------------------------------------------------------
DFT = [  # x shape, dft_length, attrs, opset, axis input
    ((2, 6, 5, 2), None, {"axis": 2, "inverse": 1}, 17, None),
    ((2, 6, 5, 2), 8, {"axis": 1}, 17, None),
    ((2, 6, 5, 1), 4, {"onesided": 1}, 20, 1),
    ((2, 6, 5, 1), None, {}, 20, None),
    ((2, 6, 5, 1), None, {"inverse": 1}, 20, -3),
]


@pytest.mark.parametrize("case", DFT, ids=str)
def test_dft(case):
    """Against numpy's FFT (onnxruntime crashes on some of these; the reference rejects opset 17)."""
    xs, length, attrs, opset, axis = case
    x = rand(xs, seed=70)
    inputs = {"x": x, "n": None if length is None else np.array(length, np.int64)}
    if opset >= 20:
        inputs["a"] = None if axis is None else np.array(axis, np.int64)
    a = attrs.get("axis", 1) if opset < 20 else (-2 if axis is None else axis)
    a = a + len(xs) if a < 0 else a
    c = x[..., 0].astype(np.float64) + (1j * x[..., 1] if xs[-1] == 2 else 0)
    if attrs.get("onesided"):
        y = np.fft.rfft(c.real, n=length, axis=a)
    else:
        y = (np.fft.ifft if attrs.get("inverse") else np.fft.fft)(c, n=length, axis=a)
    want = np.stack([y.real, y.imag], axis=-1).astype(np.float32)
    check("DFT", inputs, opset=opset, consts=("n",), expected=[want], **attrs)


def test_stft_default_window_and_windows():
    check("STFT", {"x": rand((2, 40, 1), seed=71), "step": np.array(6, np.int64), "w": None,
                   "n": np.array(10, np.int64)}, opset=17)
    for op in ("HannWindow", "HammingWindow", "BlackmanWindow"):
        check(op, {"n": np.array(9, np.int32)}, opset=17, periodic=0, output_datatype=TensorProto.DOUBLE,
              rtol=1e-6, atol=1e-6)


def test_mel_weight_matrix_types():
    inputs = {"m": np.array(6, np.int64), "d": np.array(32, np.int64), "r": np.array(8000, np.int64),
              "lo": np.float32(50), "hi": np.float32(3000)}
    check("MelWeightMatrix", inputs, opset=17, output_datatype=TensorProto.DOUBLE)


# --- detection and sampling -----------------------------------------------------------------------------
def test_nms_without_score_threshold_keeps_negative_scores():
    boxes = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 3, 1, 4]]], np.float32)
    scores = np.array([[[-0.5, -0.2, -0.9]]], np.float32)
    check("NonMaxSuppression", {"b": boxes, "s": scores, "m": np.array([5], np.int64),
                                "i": np.array([0.5], np.float32)}, opset=11,
          expected=[np.array([[0, 0, 1], [0, 0, 2]], np.int64)])


def test_roi_align_opset10_and_grid_sample_opset16():
    x = rand((1, 2, 6, 6), seed=80)
    check("RoiAlign", {"x": x, "r": np.array([[0.5, 1, 4, 5]], np.float32), "i": np.array([0], np.int64)},
          opset=10, output_height=2, output_width=3, sampling_ratio=2, spatial_scale=0.9, oracle="ort")
    grid = rand((1, 3, 4, 2), seed=81, low=-1.2, high=1.2)
    check("GridSample", {"x": x, "g": grid}, opset=16, mode="bicubic", padding_mode="border", align_corners=1,
          oracle="ort")


@pytest.mark.parametrize("mode", ["half_pixel", "output_half_pixel"])
def test_roi_align_max_weighs_neighbours_first(mode):
    """ONNX's max mode (the ROIAlignCornerMax extension), against the reference."""
    x = rand((2, 3, 7, 6), seed=82)
    rois = np.array([[0.5, 1, 4, 5], [-1, 0, 2.5, 3], [2, 2, 6.5, 7.5]], np.float32)
    check("RoiAlign", {"x": x, "r": rois, "i": np.array([0, 1, 1], np.int64)}, mode="max",
          coordinate_transformation_mode=mode, output_height=2, output_width=3, sampling_ratio=0,
          spatial_scale=0.8)


def _refused(m, *fragments):
    from arrayrt.errors import ModelReadError

    with pytest.raises(ModelReadError) as info:
        convert_onnx(m)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_attention_with_bad_head_sizes_is_refused():
    """Found by fuzzing the suite's models: head size 0 divided by zero, and query heads that are no
    multiple of the key/value heads silently used no repetition."""
    q, kv = np.zeros((1, 4, 2, 0), np.float32), np.zeros((1, 2, 2, 0), np.float32)
    _refused(model("Attention", {"q": q, "k": kv, "v": kv}, opset=23)[0], "Attention", "must be positive")
    q, kv = np.zeros((1, 3, 2, 8), np.float32), np.zeros((1, 2, 2, 8), np.float32)
    _refused(model("Attention", {"q": q, "k": kv, "v": kv}, opset=23)[0], "3 query heads, 2 key/value heads",
             "multiple")


def test_linear_attention_missing_inputs_are_named():
    """A required input left empty is named, not an AttributeError on None (found by fuzzing)."""
    x = np.zeros((1, 2, 4), np.float32)
    m, _ = model("LinearAttention", {"q": x, "k": None, "v": x}, opset=27, q_num_heads=1, kv_num_heads=1,
                 update_rule="linear")
    _refused(m, "LinearAttention", "input 1 is required")
    m, _ = model("LinearAttention", {"q": x, "k": x, "v": x}, opset=27, q_num_heads=1, kv_num_heads=1,
                 update_rule="gated")
    _refused(m, "LinearAttention", "input 4 is required")
