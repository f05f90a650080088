"""One small graph per registered op type, on every backend.

:data:`CASES` maps each op type to a builder ``f(c) -> outputs`` that makes the op (and whatever
feeds it) from parameters ``c.p(...)``, whose random values :class:`Case` keeps as the inputs.
Tensors are small (about 16k elements) so that the suite measures each backend's per-op cost
without taking long. :func:`uncovered_ops` is the coverage guard: registered op types with neither
a case nor an entry in :data:`NOT_BENCHMARKED`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .common import BACKENDS, backend_or_skip, compile_or_skip, infer

#: op types that are not benchmarked on their own, and why
NOT_BENCHMARKED = {
    "Parameter": "a model input: every case has them",
    "Constant": "folded into the plan: every case has them",
    "Result": "a model output: every case has them",
}

#: (backend, op) -> the runtime bug that breaks the case; skipped, and tests/tools/test_asv_suite.py
#: checks that each still fails, so an entry goes once its bug is fixed
KNOWN_FAILURES = {
    ("array_api_strict", "ConvertLike"): "TypeError: array_api_strict has no float16, yet STRICT accepts a "
                                         "ConvertLike to f16 at compile time",
    ("jax", "BitCast"): "the f16 lowering retypes BitCast's f32 input to f16 (bit widths then differ)",
    ("jax", "Loop"): "the f16 lowering leaves f32 constants in Loop bodies (f16 and f32 operands)",
    ("jax", "SequenceConstruct"): "the f16 lowering puts a Convert on a sequence output",
    ("jax", "SequenceErase"): "the f16 lowering puts a Convert on a sequence output",
    ("jax", "SequenceInsert"): "the f16 lowering puts a Convert on a sequence output",
}

F32 = np.float32
X = [1, 16, 32, 32]  # the default activation shape


class Case:
    """Parameters and their values for one case."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.params: list[Any] = []
        self.inputs: dict[str, Any] = {}

    def p(self, shape, dtype: Any = F32, low: float = -1.0, high: float = 1.0, value: Any = None,
          dynamic: bool = False):
        """A parameter of ``shape`` (its first dimension dynamic with ``dynamic``) and its value."""
        import arrayrt.opset as ops

        name = f"in{len(self.params)}"
        if value is None:
            dt = np.dtype(dtype)
            if dt.kind == "f":
                value = self.rng.uniform(low, high, size=shape).astype(dt)
            elif dt.kind == "b":
                value = self.rng.random(shape) > 0.5
            else:
                value = self.rng.integers(int(low), int(high), size=shape).astype(dt)
        dims = list(np.shape(value))
        if dynamic:
            dims[0] = -1
        param = ops.parameter(dims, dtype, name=name)
        param.output(0).set_names({name})
        self.params.append(param)
        self.inputs[name] = value
        return param


def _i64(v):
    return np.array(v, np.int64)


def _i32(v):
    return np.array(v, np.int32)


def _f32(v):
    return np.array(v, F32)


def _ops():
    import arrayrt.opset as ops

    return ops


def _make(op_type: str, inputs: list, attrs: dict | None = None):
    from arrayrt.ir.ops.factory import make

    return make(op_type, inputs, attrs)


def _model(outputs: list, params: list):
    import arrayrt

    return arrayrt.Model(outputs, params, "case")


# --- families ------------------------------------------------------------------------------------
def _unary(factory: str, low=-1.0, high=1.0, *args):
    return lambda c: getattr(_ops(), factory)(c.p(X, low=low, high=high), *args)


def _binary(factory: str, low=-1.0, high=1.0, dtype=F32):
    return lambda c: getattr(_ops(), factory)(c.p(X, dtype, low, high), c.p(X, dtype, low, high))


def _reduce(factory: str, dtype=F32):
    return lambda c: getattr(_ops(), factory)(c.p(X, dtype), _i64([2, 3]), True)


def _string(*values: str, shape=None):
    return np.array(values, dtype=object).reshape(shape or (len(values),))


def _tensor_iterator(c):
    ops = _ops()
    x, h = c.p([16, 8, 32]), c.p([8, 32])
    ti = ops.tensor_iterator()
    bx, bh = ops.parameter([1, 8, 32], F32), ops.parameter([8, 32], F32)
    nh = ops.tanh(ops.add(bh, ops.squeeze(bx, _i64([0]))))
    body = _model([nh], [bx, bh])
    ti.set_body(body)
    ti.set_sliced_input(bx, x.output(0), 0, 1, 1, -1, 0)
    ti.set_merged_input(bh, h.output(0), nh.output(0))
    return ti.get_iter_value(nh.output(0), -1)


def _loop(c):
    ops = _ops()
    x = c.p([8, 32])
    loop = ops.loop(ops.constant(np.int64(16)), ops.constant(np.bool_(True)))
    bi, bx = ops.parameter([], np.int64), ops.parameter([8, 32], F32)
    nx = ops.tanh(ops.multiply(bx, _f32(1.5)))
    body = _model([ops.constant(np.bool_(True)), nx], [bi, bx])
    loop.set_function(body)
    loop.set_special_body_ports([0, 0])
    loop.set_merged_input(bx, x.output(0), nx.output(0))
    return loop.get_iter_value(nx.output(0), -1)


def _if(c):
    ops = _ops()
    cond, x = c.p([], np.bool_, value=np.array(True)), c.p(X)
    iff = ops.if_op(cond)
    tx, ex = ops.parameter(X, F32), ops.parameter(X, F32)
    then = _model([ops.relu(tx)], [tx])
    else_ = _model([ops.negative(ex)], [ex])
    iff.set_then_body(then)
    iff.set_else_body(else_)
    iff.set_input(x.output(0), tx, ex)
    return iff.set_output(then.get_results()[0], else_.get_results()[0])


def _state(c):
    """``acc += x``: a ReadValue and an Assign on one variable."""
    ops = _ops()
    x = c.p(X)
    read = ops.read_value(ops.constant(np.zeros(X, F32)), "acc", "f32", X)
    new = ops.add(read, x)
    assign = ops.assign(new, "acc")
    return [new], [assign]


def _sequence(c, n: int = 4):
    return _make("SequenceConstruct", [c.p([4, 32, 32]) for _ in range(n)])


def _tree_ensemble(c):
    """Two one-split trees over 8 features, two targets (the node/leaf table layout of the op)."""
    x = c.p([256, 8])
    tables = [_i64([0, 3]), _f32([0.0, 0.25]), _i64([0, 2]), _i64([1, 3]), _i64([2, 4]),
              np.full((2, 1), np.nan, F32), np.array([False, False]), _f32([1, 2, 3, 4, 5, 6]),
              _i64([0, 1, 0, 1, 0, 1]), _i64([0, 2])]
    return _make("TreeEnsemble", [x, *tables], {"aggregate_function": "SUM", "n_targets": 2})


CASES: dict[str, Callable[[Case], Any]] = {
    # unary math
    "Abs": _unary("absolute"), "Acos": _unary("acos", -0.9, 0.9), "Acosh": _unary("acosh", 1.1, 3.0),
    "Asin": _unary("asin", -0.9, 0.9), "Asinh": _unary("asinh"), "Atan": _unary("atan"),
    "Atanh": _unary("atanh", -0.9, 0.9), "Ceiling": _unary("ceiling", -5, 5), "Cos": _unary("cos"),
    "Cosh": _unary("cosh"), "Erf": _unary("erf"), "Exp": _unary("exp"), "Floor": _unary("floor", -5, 5),
    "Log": _unary("log", 0.1, 2.0), "Negative": _unary("negative"), "Sign": _unary("sign"),
    "Sin": _unary("sin"), "Sinh": _unary("sinh"), "Sqrt": _unary("sqrt", 0.0, 2.0), "Tan": _unary("tan"),
    "Tanh": _unary("tanh"), "Round": _unary("round", -5, 5), "Identity": _unary("identity"),
    "IsFinite": _unary("is_finite"), "IsInf": _unary("is_inf"), "IsNaN": _unary("is_nan"),
    # activations
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "HSigmoid": _unary("hsigmoid"),
    "HSwish": _unary("hswish"), "Mish": _unary("mish"), "SoftPlus": _unary("softplus"),
    "SoftSign": _unary("softsign"), "Swish": _unary("swish"),
    "Gelu": lambda c: _ops().gelu(c.p(X), "erf"),
    "Elu": lambda c: _ops().elu(c.p(X), 0.5),
    "Clamp": lambda c: _ops().clamp(c.p(X), -0.5, 0.5),
    "Selu": lambda c: _ops().selu(c.p(X), _f32([1.67]), _f32([1.05])),
    "HardSigmoid": lambda c: _ops().hard_sigmoid(c.p(X), _f32(0.2), _f32(0.5)),
    "PRelu": lambda c: _ops().prelu(c.p(X), _f32(np.full([16, 1, 1], 0.1))),
    "Softmax": lambda c: _ops().softmax(c.p(X), -1),
    "LogSoftmax": lambda c: _ops().log_softmax(c.p(X), -1),
    # element types
    "Convert": lambda c: _ops().convert(c.p(X), "f16"),
    "ConvertLike": lambda c: _ops().convert_like(c.p(X), np.zeros([1], np.float16)),
    "BitCast": lambda c: _ops().bit_cast(c.p(X), "i32"),
    "ShapeOf": lambda c: _ops().shape_of(c.p(X, dynamic=True)),  # a static shape would be folded
    # binary
    "Add": _binary("add"), "Subtract": _binary("subtract"), "Multiply": _binary("multiply"),
    "Divide": _binary("divide", 0.5, 2.0), "Power": _binary("power", 0.5, 2.0), "Maximum": _binary("maximum"),
    "Minimum": _binary("minimum"), "SquaredDifference": _binary("squared_difference"),
    "FloorMod": _binary("floor_mod", 0.5, 4.0), "Mod": _binary("mod", 0.5, 4.0),
    "Equal": _binary("equal", 0, 4, np.int32), "NotEqual": _binary("not_equal", 0, 4, np.int32),
    "Greater": _binary("greater"), "GreaterEqual": _binary("greater_equal"), "Less": _binary("less"),
    "LessEqual": _binary("less_equal"),
    "LogicalAnd": _binary("logical_and", dtype=np.bool_), "LogicalOr": _binary("logical_or", dtype=np.bool_),
    "LogicalXor": _binary("logical_xor", dtype=np.bool_),
    "LogicalNot": lambda c: _ops().logical_not(c.p(X, np.bool_)),
    "Select": lambda c: _ops().select(c.p(X, np.bool_), c.p(X), c.p(X)),
    "BitwiseAnd": _binary("bitwise_and", 0, 1000, np.int32), "BitwiseOr": _binary("bitwise_or", 0, 1000, np.int32),
    "BitwiseXor": _binary("bitwise_xor", 0, 1000, np.int32),
    "BitwiseNot": lambda c: _ops().bitwise_not(c.p(X, np.int32, 0, 1000)),
    "BitwiseLeftShift": lambda c: _ops().bitwise_left_shift(c.p(X, np.int32, 0, 1000), c.p(X, np.int32, 0, 8)),
    "BitwiseRightShift": lambda c: _ops().bitwise_right_shift(c.p(X, np.int32, 0, 1000), c.p(X, np.int32, 0, 8)),
    # matrix products
    "MatMul": lambda c: _ops().matmul(c.p([128, 128]), c.p([128, 128]), False, False),
    "Einsum": lambda c: _ops().einsum([c.p([8, 32, 64]), c.p([8, 64, 32])], "bij,bjk->bik"),
    "ScaledDotProductAttention": lambda c: _ops().scaled_dot_product_attention(
        c.p([1, 4, 64, 32]), c.p([1, 4, 64, 32]), c.p([1, 4, 64, 32]), causal=True),
    "Det": lambda c: _ops().det(c.p([64, 4, 4])),
    # convolutions
    "Convolution": lambda c: _ops().convolution(
        c.p(X), _f32(np.random.default_rng(1).standard_normal([16, 16, 3, 3])), [1, 1], [1, 1], [1, 1], [1, 1]),
    "GroupConvolution": lambda c: _ops().group_convolution(
        c.p(X), _f32(np.random.default_rng(1).standard_normal([16, 1, 1, 3, 3])), [1, 1], [1, 1], [1, 1], [1, 1]),
    "ConvolutionBackpropData": lambda c: _ops().convolution_backprop_data(
        c.p([1, 16, 16, 16]), _f32(np.random.default_rng(1).standard_normal([16, 8, 2, 2])), [2, 2]),
    "GroupConvolutionBackpropData": lambda c: _ops().group_convolution_backprop_data(
        c.p([1, 16, 16, 16]), _f32(np.random.default_rng(1).standard_normal([4, 4, 2, 2, 2])), [2, 2]),
    "DeformableConvolution": lambda c: _ops().deformable_convolution(
        c.p([1, 4, 16, 16]), c.p([1, 18, 16, 16], low=-0.5, high=0.5),
        _f32(np.random.default_rng(1).standard_normal([8, 4, 3, 3])), [1, 1], [1, 1], [1, 1], [1, 1]),
    # pooling
    "MaxPool": lambda c: _ops().max_pool(c.p(X), [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0),
    "AvgPool": lambda c: _ops().avg_pool(c.p(X), [2, 2], [0, 0], [0, 0], [2, 2], True),
    "AdaptiveAvgPool": lambda c: _ops().adaptive_avg_pool(c.p(X), _i64([7, 7])),
    "AdaptiveMaxPool": lambda c: _ops().adaptive_max_pool(c.p(X), _i64([7, 7])).output(0),
    # reductions
    "ReduceMean": _reduce("reduce_mean"), "ReduceSum": _reduce("reduce_sum"), "ReduceMax": _reduce("reduce_max"),
    "ReduceMin": _reduce("reduce_min"), "ReduceProd": _reduce("reduce_prod"), "ReduceL1": _reduce("reduce_l1"),
    "ReduceL2": _reduce("reduce_l2"), "ReduceLogicalAnd": _reduce("reduce_logical_and", np.bool_),
    "ReduceLogicalOr": _reduce("reduce_logical_or", np.bool_),
    # normalisation
    "MVN": lambda c: _ops().mvn(c.p(X), _i64([2, 3]), True, 1e-9, "inside_sqrt"),
    "BatchNormInference": lambda c: _ops().batch_norm_inference(
        c.p(X), _f32(np.ones(16)), _f32(np.zeros(16)), _f32(np.zeros(16)), _f32(np.ones(16)), 1e-5),
    "NormalizeL2": lambda c: _ops().normalize_l2(c.p(X), _i64([1]), 1e-9, "add"),
    "GroupNormalization": lambda c: _ops().group_normalization(c.p(X), _f32(np.ones(16)), _f32(np.zeros(16)),
                                                               4, 1e-5),
    "GRN": lambda c: _ops().grn(c.p(X), 1e-6),
    "LRN": lambda c: _ops().lrn(c.p(X), _i64([1]), 1e-4, 0.75, 1.0, 5),
    "FakeQuantize": lambda c: _ops().fake_quantize(c.p(X), _f32(-1), _f32(1), _f32(-1), _f32(1), 256),
    # data movement
    "Reshape": lambda c: _ops().reshape(c.p(X), _i64([16, -1]), False),
    "Transpose": lambda c: _ops().transpose(c.p(X), _i64([0, 2, 3, 1])),
    "Squeeze": lambda c: _ops().squeeze(c.p(X), _i64([0])),
    "Unsqueeze": lambda c: _ops().unsqueeze(c.p(X), _i64([0])),
    "Concat": lambda c: _ops().concat([c.p(X), c.p(X)], 1),
    "Split": lambda c: _ops().split(c.p(X), _i64(1), 4).output(0),
    "VariadicSplit": lambda c: _ops().variadic_split(c.p(X), _i64(1), _i64([4, 12])).output(1),
    "Pad": lambda c: _ops().pad(c.p(X), _i64([0, 0, 1, 1]), _i64([0, 0, 1, 1]), "reflect"),
    "Tile": lambda c: _ops().tile(c.p([1, 16, 16, 16]), _i64([1, 1, 2, 2])),
    "Broadcast": lambda c: _ops().broadcast(c.p([1, 16, 1, 32]), _i64(X)),
    "StridedSlice": lambda c: _ops().strided_slice(c.p(X), _i64([0, 0, 1, 0]), _i64([1, 16, 31, 32]),
                                                   _i64([1, 1, 2, 1]), [0, 0, 0, 0], [0, 0, 0, 0]),
    "Slice": lambda c: _ops().slice(c.p(X), _i64([1, 0]), _i64([31, 32]), _i64([2, 1]), _i64([2, 3])),
    "DepthToSpace": lambda c: _ops().depth_to_space(c.p(X), "blocks_first", 2),
    "SpaceToDepth": lambda c: _ops().space_to_depth(c.p(X), "blocks_first", 2),
    "ShuffleChannels": lambda c: _ops().shuffle_channels(c.p(X), 1, 4),
    "Reverse": lambda c: _ops().reverse(c.p(X), _i64([3]), "index"),
    "Roll": lambda c: _ops().roll(c.p(X), _i64([3, 5]), _i64([2, 3])),
    "ReverseSequence": lambda c: _ops().reverse_sequence(c.p([8, 64, 32]), _i64([64, 10, 20, 30, 40, 50, 60, 5]),
                                                         0, 1),
    # indexing
    "Gather": lambda c: _ops().gather(c.p([1024, 32]), c.p([512], np.int64, 0, 1024), _i64(0)),
    "GatherElements": lambda c: _ops().gather_elements(c.p(X), c.p(X, np.int64, 0, 32), 3),
    "GatherND": lambda c: _ops().gather_nd(c.p([64, 64, 8]), c.p([512, 2], np.int64, 0, 64)),
    "ScatterUpdate": lambda c: _ops().scatter_update(c.p([1024, 32]), _i64(np.arange(0, 1024, 4)),
                                                     c.p([256, 32]), _i64(0)),
    "ScatterElementsUpdate": lambda c: _ops().scatter_elements_update(
        c.p(X), c.p(X, np.int64, 0, 32), c.p(X), _i64(3), "sum"),
    "ScatterNDUpdate": lambda c: _ops().scatter_nd_update(c.p([64, 64, 8]), _i64(
        np.stack(np.meshgrid(np.arange(0, 64, 2), np.arange(0, 64, 2)), -1).reshape(-1, 2)), c.p([1024, 8])),
    "OneHot": lambda c: _ops().one_hot(c.p([4096], np.int64, 0, 16), _i64(16), _f32(1), _f32(0), -1),
    "NonZero": lambda c: _ops().non_zero(c.p(X, np.int32, 0, 2)),
    "TopK": lambda c: _ops().topk(c.p([64, 256]), _i64(8), -1, "max", "value").output(0),
    "CumSum": lambda c: _ops().cum_sum(c.p(X), _i64(3)),
    "CumProd": lambda c: _ops().cum_prod(c.p(X, low=0.9, high=1.1), _i64(3)),
    "Range": lambda c: _ops().range(_f32(0), c.p([], F32, value=_f32(16384)), _f32(1), "f32"),
    "Bucketize": lambda c: _ops().bucketize(c.p(X), _f32(np.linspace(-1, 1, 32))),
    "SearchSorted": lambda c: _ops().search_sorted(_f32(np.linspace(-1, 1, 256)), c.p([16384])),
    "Unique": lambda c: _ops().unique(c.p([16384], np.int32, 0, 100)).output(0),
    "Eye": lambda c: _ops().eye(c.p([], np.int64, value=_i64(128)), _i64(128), _i64(0), "f32"),
    # resampling
    "Interpolate": lambda c: _ops().interpolate(c.p([1, 16, 16, 16]), _f32([2.0, 2.0]), "linear", "scales",
                                                axes=_i64([2, 3])),
    "Resize": lambda c: _ops().resize(c.p([1, 16, 16, 16]), _f32([1, 1, 2, 2]), mode="linear"),
    "GridSample": lambda c: _ops().grid_sample(c.p([1, 16, 32, 32]), c.p([1, 32, 32, 2]), {}),
    "GridSampleND": lambda c: _make("GridSampleND", [c.p([1, 4, 8, 16, 16]), c.p([1, 8, 16, 16, 3])],
                                    {"align_corners": False}),
    "ROIAlign": lambda c: _ops().roi_align(c.p(X), _f32([[0, 0, 16, 16], [4, 4, 30, 30], [2, 8, 20, 12]] * 4),
                                           _i64([0] * 12), 7, 7, 2, 1.0, "avg"),
    "ROIAlignCornerMax": lambda c: _make("ROIAlignCornerMax", [
        c.p(X), _f32([[0, 0, 16, 16], [4, 4, 30, 30], [2, 8, 20, 12]] * 4), _i64([0] * 12)],
        {"pooled_h": 7, "pooled_w": 7, "sampling_ratio": 2, "spatial_scale": 1.0}),
    "Col2Im": lambda c: _ops().col2im(c.p([1, 16 * 9, 900]), _i64([32, 32]), _i64([3, 3])),
    "Col2ImND": lambda c: _make("Col2ImND", [c.p([1, 16 * 9, 900]), _i64([32, 32]), _i64([3, 3])],
                                {"strides": [1, 1], "dilations": [1, 1], "pads_begin": [0, 0], "pads_end": [0, 0]}),
    "NonMaxSuppression": lambda c: _ops().non_max_suppression(
        c.p([1, 256, 4], value=np.sort(np.random.default_rng(2).uniform(0, 64, (1, 256, 2, 2)), axis=2)
            .reshape(1, 256, 4).astype(F32)),
        c.p([1, 4, 256], low=0, high=1), _i64(32), _f32(0.5), _f32(0.05)).output(0),
    # recurrent
    "LSTMCell": lambda c: _ops().lstm_cell(c.p([8, 64]), c.p([8, 64]), c.p([8, 64]), _f32(np.full([256, 64], 0.05)),
                                           _f32(np.full([256, 64], 0.05)), _f32(np.zeros(256)), 64),
    "GRUCell": lambda c: _ops().gru_cell(c.p([8, 64]), c.p([8, 64]), _f32(np.full([192, 64], 0.05)),
                                         _f32(np.full([192, 64], 0.05)), _f32(np.zeros(192)), 64),
    "RNNCell": lambda c: _ops().rnn_cell(c.p([8, 64]), c.p([8, 64]), _f32(np.full([64, 64], 0.05)),
                                         _f32(np.full([64, 64], 0.05)), _f32(np.zeros(64)), 64, ["tanh"], [], []),
    "LSTMSequence": lambda c: _ops().lstm_sequence(
        c.p([4, 16, 32]), c.p([4, 1, 64]), c.p([4, 1, 64]), _i64([16] * 4), _f32(np.full([1, 256, 32], 0.05)),
        _f32(np.full([1, 256, 64], 0.05)), _f32(np.zeros([1, 256])), 64, "forward").output(0),
    "GRUSequence": lambda c: _ops().gru_sequence(
        c.p([4, 16, 32]), c.p([4, 1, 64]), _i64([16] * 4), _f32(np.full([1, 192, 32], 0.05)),
        _f32(np.full([1, 192, 64], 0.05)), _f32(np.zeros([1, 192])), 64, "forward").output(0),
    "RNNSequence": lambda c: _ops().rnn_sequence(
        c.p([4, 16, 32]), c.p([4, 1, 64]), _i64([16] * 4), _f32(np.full([1, 64, 32], 0.05)),
        _f32(np.full([1, 64, 64], 0.05)), _f32(np.zeros([1, 64])), 64, "forward").output(0),
    # signal
    "DFT": lambda c: _ops().dft(c.p([16, 64, 2]), _i64([1])),
    "IDFT": lambda c: _ops().idft(c.p([16, 64, 2]), _i64([1])),
    "RDFT": lambda c: _ops().rdft(c.p([16, 1024]), _i64([1])),
    "IRDFT": lambda c: _ops().irdft(c.p([16, 513, 2]), _i64([1])),
    "STFT": lambda c: _ops().stft(c.p([4, 4096]), _f32(np.hanning(256)), _i64(256), _i64(128), False),
    "MelWeightMatrix": lambda c: _ops().mel_weight_matrix(c.p([], np.int32, value=np.int32(64)), _i64(512),
                                                          _i64(16000), _f32(20), _f32(8000)),
    # generation
    "RandomUniform": lambda c: _ops().random_uniform(_i64(X), _f32(0), _f32(1), "f32", 1, 2),
    "Multinomial": lambda c: _ops().multinomial(c.p([16, 64], low=0.0, high=1.0), _i64(32), "i64", True, False,
                                                1, 2),
    # control flow and state
    "If": _if, "Loop": _loop, "TensorIterator": _tensor_iterator, "ReadValue": _state, "Assign": _state,
    # sequences and optionals (arrayrt extensions for ONNX)
    "SequenceConstruct": _sequence,
    "SequenceEmpty": lambda c: _make("SequenceLength", [_make("SequenceEmpty", [], {"element_type": "f32"})]),
    "SequenceInsert": lambda c: _make("SequenceInsert", [_sequence(c), c.p([4, 32, 32])]),
    "SequenceErase": lambda c: _make("SequenceErase", [_sequence(c), _i64(0)]),
    "SequenceAt": lambda c: _make("SequenceAt", [_sequence(c), _i64(2)]),
    "SequenceLength": lambda c: _make("SequenceLength", [_sequence(c)]),
    "ConcatFromSequence": lambda c: _make("ConcatFromSequence", [_sequence(c)], {"axis": 0}),
    "SplitToSequence": lambda c: _make("SequenceLength", [_make("SplitToSequence", [c.p(X), _i64(4)],
                                                                {"axis": 2})]),
    "Optional": lambda c: _make("OptionalGetElement", [_make("Optional", [c.p(X)])]),
    "OptionalHasElement": lambda c: _make("OptionalHasElement", [_make("Optional", [c.p(X)])]),
    "OptionalGetElement": lambda c: _make("OptionalGetElement", [_make("Optional", [c.p(X)])]),
    # strings and ai.onnx.ml (arrayrt extensions for ONNX)
    "StringConcat": lambda c: _make("StringConcat", [
        c.p([256], "string", value=_string(*[f"word{i}" for i in range(256)])),
        c.p([1], "string", value=_string("!"))]),
    "StringNormalizer": lambda c: _make("StringNormalizer", [
        c.p([256], "string", value=_string(*[f"Word{i}" for i in range(256)]))],
        {"case_change_action": "LOWER", "stopwords": ["word1"]}),
    "StringSplit": lambda c: _make("StringSplit", [
        c.p([256], "string", value=_string(*[f"a-{i}-b" for i in range(256)]))],
        {"delimiter": "-"}).output(0),
    "RegexFullMatch": lambda c: _make("RegexFullMatch", [
        c.p([256], "string", value=_string(*[f"ab{i}" for i in range(256)]))], {"pattern": r"[a-z]+\d*"}),
    "LabelEncoder": lambda c: _make("LabelEncoder", [c.p([4096], F32, value=np.random.default_rng(3).integers(
        0, 64, 4096).astype(F32)), _f32(np.arange(64)), _i64(np.arange(64) * 10), np.int64(-1)]),
    "TfIdfVectorizer": lambda c: _make("TfIdfVectorizer", [c.p([16, 256], np.int32, 0, 10), _i64([2, 3, 5, 4, 6, 7])],
                                       {"mode": "TF", "min_gram_length": 1, "max_gram_length": 2,
                                        "max_skip_count": 1, "ngram_counts": [0, 2], "ngram_indexes": [0, 1, 2, 3]}),
    "TreeEnsemble": _tree_ensemble,
    # space/batch, colour conversion, decoding, embedding bags, YOLO heads
    "BatchToSpace": lambda c: _ops().batch_to_space(c.p([4, 16, 16, 16]), _i64([1, 1, 2, 2]), _i64([0] * 4),
                                                    _i64([0] * 4)),
    "SpaceToBatch": lambda c: _ops().space_to_batch(c.p(X), _i64([1, 1, 2, 2]), _i64([0] * 4), _i64([0] * 4)),
    "ExtractImagePatches": lambda c: _ops().extract_image_patches(c.p(X), [3, 3], [2, 2], [1, 1], "valid"),
    "ReorgYolo": lambda c: _ops().reorg_yolo(c.p(X), [2]),
    "NV12toRGB": lambda c: _ops().nv12_to_rgb(c.p([1, 96, 64, 1], low=0, high=255)),
    "NV12toBGR": lambda c: _ops().nv12_to_bgr(c.p([1, 96, 64, 1], low=0, high=255)),
    "I420toRGB": lambda c: _ops().i420_to_rgb(c.p([1, 96, 64, 1], low=0, high=255)),
    "I420toBGR": lambda c: _ops().i420_to_bgr(c.p([1, 96, 64, 1], low=0, high=255)),
    "GatherTree": lambda c: _ops().gather_tree(c.p([16, 4, 8], np.int32, low=0, high=8),
                                               c.p([16, 4, 8], np.int32, low=0, high=8), _i32([16] * 4), _i32(0)),
    "CTCGreedyDecoder": lambda c: _ops().ctc_greedy_decoder(c.p([32, 4, 64]), _f32(np.ones([32, 4]))),
    "CTCGreedyDecoderSeqLen": lambda c: _ops().ctc_greedy_decoder_seq_len(c.p([4, 32, 64]),
                                                                          _i32([32, 30, 20, 10])).output(0),
    "CTCLoss": lambda c: _ops().ctc_loss(c.p([4, 32, 16]), _i32([32] * 4), _i32(np.ones([4, 32]) * 3),
                                         _i32([8, 6, 4, 2])),
    "Inverse": lambda c: _ops().inverse(_ops().add(c.p([64, 8, 8]), _f32(np.eye(8) * 4))),
    "EmbeddingBagOffsetsSum": lambda c: _ops().embedding_bag_offsets_sum(c.p([256, 32]), _i64(np.arange(512) % 256),
                                                                         _i64(np.arange(0, 512, 8))),
    "EmbeddingBagOffsets": lambda c: _ops().embedding_bag_offsets(c.p([256, 32]), _i64(np.arange(512) % 256),
                                                                  _i64(np.arange(0, 512, 8)), reduction="mean"),
    "EmbeddingBagPackedSum": lambda c: _ops().embedding_bag_packed_sum(c.p([256, 32]),
                                                                       _i64(np.arange(512).reshape(64, 8) % 256)),
    "EmbeddingBagPacked": lambda c: _ops().embedding_bag_packed(c.p([256, 32]),
                                                                _i64(np.arange(512).reshape(64, 8) % 256),
                                                                reduction="mean"),
    "EmbeddingSegmentsSum": lambda c: _ops().embedding_segments_sum(c.p([256, 32]), _i64(np.arange(512) % 256),
                                                                    _i64(np.arange(512) // 8), _i64(64)),
    "RegionYolo": lambda c: _ops().region_yolo(c.p([1, 125, 13, 13]), 4, 20, 5, True, [], 1, 3),
}


def build(op: str) -> tuple[Any, dict[str, Any]]:
    """The model of ``op``'s case and its inputs."""
    c = Case()
    out = CASES[op](c)
    sinks: list = []
    if isinstance(out, tuple):  # (outputs, sinks): a stateful case
        out, sinks = out
    outputs = out if isinstance(out, list) else [out]
    import arrayrt

    model = arrayrt.Model(outputs, c.params, f"op_{op}", sinks=sinks) if sinks else _model(outputs, c.params)
    return model, c.inputs


def uncovered_ops() -> list[str]:
    """Registered op types without a case (and not in :data:`NOT_BENCHMARKED`)."""
    from arrayrt.ir.ops import all_ops

    types = {op.type_name for op in all_ops()}
    return sorted(types - set(CASES) - set(NOT_BENCHMARKED))


def track_uncovered_ops() -> int:
    """The coverage guard as an asv number: must stay 0."""
    missing = uncovered_ops()
    if missing:
        raise AssertionError(f"op types without a benchmark in benchmarks/asv_suite/ops.py: {missing}")
    return 0


class Ops:
    """One inference of each op's small graph, per backend."""

    params = [BACKENDS, sorted(CASES)]
    param_names = ["backend", "op"]

    def setup(self, backend: str, op: str) -> None:
        backend_or_skip(backend)
        if (backend, op) in KNOWN_FAILURES:
            raise NotImplementedError(f"known failure: {KNOWN_FAILURES[backend, op]}")
        model, self.inputs = build(op)
        self.compiled = compile_or_skip(model, backend, self.inputs)
        infer(self.compiled, self.inputs)

    def time_op(self, backend: str, op: str) -> None:
        infer(self.compiled, self.inputs)
