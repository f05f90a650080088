"""What GNA runs: the allow-list and the limits of each execution target.

The rules are those of OpenVINO's GNA plugin (2023.3, ``backend/gna_limitations.{hpp,cpp}``),
asked of the nodes of the model as the user wrote it:

* layers: MatMul with constant weights (fully connected; at most 8 rows = GNA's batch), Convolution
  (1-D; 2-D within the target's limits), MaxPool fused into a convolution, eltwise Add / Subtract /
  Multiply (broadcasting only from constants; Divide by a constant), PWL activations (Sigmoid, Tanh,
  Relu, PRelu with one slope, Clamp, Exp, Log, Sign, Abs, SoftSign, Power with a constant exponent,
  FakeQuantize with per-tensor ranges), data movement that GNA does as copies or that its compiler
  folds into neighbouring layers (Reshape, Squeeze, Unsqueeze, Identity, Concat along the first
  non-unit axis, Split, VariadicSplit, 2-D transposes with a side ≤ 8, the channel/width layout
  transposes around convolutions), and the recurrent cells and sequences (LSTM, GRU, RNN with their
  default activations), which are decomposed into fully connected layers, eltwise ops and
  activations as the plugin did;
* anything whose inputs are all constant is folded at compile time;
* shapes must be static; inputs f32, i16 or u8.

Limits: affine batch ≤ 8; convolution filters a multiple of 4 (at least 4; at most 65532 on GNA 2.0,
8192 on GNA 3.x), a 1-D filter of at most 768 coefficients, stride ≤ kernel, dilation 1, batch 1,
input ≤ 65528 bytes; max pooling window ≤ 6 after a 1-D convolution (2-D: GNA 3.0 square windows up
to 3x3, GNA 3.5 up to 255); 2-D convolution per target (GNA 2.0: none; GNA 3.0: input H 16..384,
W 16..240, channels 8..384 in steps of 8, kernels 8..1024 in steps of 8, kernel size by channel count;
GNA 3.5: input up to 65535, channels ≤ 1024, kernels ≤ 8192, kernel ≤ 255x256); at most 4096 (GNA 2.0)
or 8192 (GNA 3.x) layers in one compiled model.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from arrayrt.ir.types import Type

MAX_AFFINE_BATCH = 8
BUFFER_MAX_BYTES = 65528
CONV_MIN_FILTERS = 4
CONV_FILTERS_DIVIDER = 4
CONV_FILTER_MAX_SIZE = 768
MAX_POOL_WINDOW_1D = 6
TRANSPOSE_MAX_SIZE = 65528
MAX_LAYERS = {"GNA_2_0": 4096, "GNA_3_0": 8192, "GNA_3_5": 8192}
MAX_FILTERS = {"GNA_2_0": 65532, "GNA_3_0": 8192, "GNA_3_5": 8192}
#: GNA 3.0 2-D kernels, int16 inputs: (max input channels, (max kernel H, max kernel W))
_KERNEL_LIMITS_30 = ((48, (7, 7)), (64, (7, 5)), (80, (7, 4)), (120, (7, 3)), (384, (7, 1)))

ACTIVATIONS = ("Sigmoid", "Tanh", "Relu", "PRelu", "Clamp", "Exp", "Log", "Sign", "Abs", "SoftSign",
               "Power", "FakeQuantize")
ELTWISE = ("Add", "Subtract", "Multiply", "Divide")
RECURRENT = ("LSTMSequence", "LSTMCell", "GRUSequence", "GRUCell", "RNNSequence", "RNNCell")
PARAMETER_TYPES = (Type.f32, Type.i16, Type.u8)
_DEFAULT_ACTS = {"lstm": ["sigmoid", "tanh", "tanh"], "gru": ["sigmoid", "tanh"], "rnn": ["tanh"]}


def static_shape(out) -> tuple[int, ...] | None:
    ps = out.get_partial_shape()
    return ps.to_shape() if ps.is_static else None


def is_const(node, i: int) -> bool:
    return node.input_const(i) is not None


def why_not_type(type_name: str) -> str | None:
    """None if GNA runs some nodes of this op type (within its limits), else why not."""
    if type_name in ("Parameter", "Constant", "Result") or type_name in _RULES:
        return None
    return f"{type_name} is not in GNA's allow-list (runs on GNA only when its inputs are all constant)"


def why_not(node: Any, target: str) -> str | None:
    """None if GNA (``target``) runs ``node``, else why not (see the module docstring)."""
    t = node.type_name
    if t == "Parameter":
        et = node.output(0).get_element_type()
        if et not in PARAMETER_TYPES:
            return f"GNA inputs are f32, i16 or u8, not {et}"
        return None if static_shape(node.output(0)) is not None else "GNA needs static input shapes"
    if t in ("Constant", "Result"):
        return None
    if node.op.foldable and node.get_input_size() and all(is_const(node, i) for i in range(node.get_input_size())):
        return None  # folded at compile time
    for i in range(node.get_input_size()):
        if static_shape(node.input_value(i)) is None:
            return f"input {i} has a dynamic shape {node.input_shape(i)}; GNA compiles static shapes"
        et = node.input_type(i)
        if not is_const(node, i) and et not in PARAMETER_TYPES:
            return f"input {i} has element type {et}; GNA takes f32, i16 or u8 data"
    for o in node.outputs():
        if static_shape(o) is None:
            return f"output {o.index} has a dynamic shape; GNA compiles static shapes"
        if o.get_element_type() is not Type.f32 and not (t == "MaxPool" and o.index == 1):
            return f"output {o.index} has element type {o.get_element_type()}; GNA layers compute f32 models"
    check = _RULES.get(t)
    if check is None:
        return f"{t} is not in GNA's allow-list"
    return check(node, target)


# --- layers ------------------------------------------------------------------------------------


def _matmul(node, target):
    if is_const(node, 0):
        return "a constant first input (weights on the left) is not a GNA affine layer"
    if not is_const(node, 1):
        return "the weights (input 1) are not constant; GNA multiplies by constant weights only"
    if node.attrs["transpose_a"]:
        return "transpose_a is not supported by GNA's affine layer"
    w = node.input_shape(1).to_shape()
    if len(w) != 2:
        return f"weights of rank {len(w)}; GNA's affine layer takes 2-D weights"
    x = node.input_shape(0).to_shape()
    rows = math.prod(x[:-1]) if len(x) > 1 else 1
    if rows > MAX_AFFINE_BATCH:
        return f"affine batch {rows} (rows of the input) exceeds GNA's limit of {MAX_AFFINE_BATCH}"
    if rows * x[-1] * 2 > BUFFER_MAX_BYTES:
        return f"input of {rows * x[-1]} elements exceeds GNA's buffer of {BUFFER_MAX_BYTES} bytes"
    return None


def conv_dims(node) -> tuple[list[int], list[int], list[int]]:
    """Input shape, weight shape, output shape of a convolution node."""
    return (list(node.input_shape(0).to_shape()), list(node.input_shape(1).to_shape()),
            list(node.output(0).get_shape()))


def is_1d(x_shape, w_shape) -> bool:
    return len(x_shape) == 3 or (len(x_shape) == 4 and x_shape[2] == 1 and w_shape[2] == 1)


def _convolution(node, target):
    if not is_const(node, 1):
        return "the filters are not constant"
    x, w, _ = conv_dims(node)
    if x[0] != 1:
        return f"batch {x[0]}; GNA convolutions take batch 1"
    if any(d != 1 for d in node.attrs["dilations"]):
        return f"dilations {node.attrs['dilations']}; GNA supports dilation 1 only"
    f, c, kernel, strides = w[0], w[1], w[2:], node.attrs["strides"]
    if len(x) not in (3, 4):
        return f"a {len(x) - 2}-D convolution; GNA runs 1-D and 2-D convolutions"
    if math.prod(x[1:]) * 2 > BUFFER_MAX_BYTES:
        return f"input of {math.prod(x[1:])} elements exceeds GNA's buffer of {BUFFER_MAX_BYTES} bytes"
    if any(s > k for s, k in zip(strides, kernel)):
        return f"strides {strides} larger than the kernel {kernel}"
    if is_1d(x, w):
        if f % CONV_FILTERS_DIVIDER or f < CONV_MIN_FILTERS or f > MAX_FILTERS[target]:
            return (f"{f} filters; GNA needs a multiple of {CONV_FILTERS_DIVIDER} between {CONV_MIN_FILTERS} "
                    f"and {MAX_FILTERS[target]} on {target}")
        size = c * math.prod(kernel)
        if size > CONV_FILTER_MAX_SIZE:
            return f"filter of {size} coefficients exceeds GNA's 1-D limit of {CONV_FILTER_MAX_SIZE}"
        return None
    return _conv2d(x, w, strides, target)


def _conv2d(x, w, strides, target) -> str | None:
    f, c, (kh, kw) = w[0], w[1], w[2:]
    h, wd = x[2], x[3]
    if target == "GNA_2_0":
        return "GNA 2.0 has no 2-D convolution (set GNA_HW_EXECUTION_TARGET to GNA_3_0 or GNA_3_5)"
    if target == "GNA_3_0":
        errors = []
        if not (16 <= h <= 384 and 16 <= wd <= 240):
            errors.append(f"input {h}x{wd} outside 16..384 x 16..240")
        if not (8 <= c <= 384 and c % 8 == 0):
            errors.append(f"{c} input channels (8..384, multiple of 8)")
        if not (8 <= f <= 1024 and f % 8 == 0):
            errors.append(f"{f} kernels (8..1024, multiple of 8)")
        limit = next((lim for ch, lim in _KERNEL_LIMITS_30 if c <= ch), (0, 0))
        if kh > limit[0] or kw > limit[1] or strides[0] > limit[0] or strides[1] > limit[1]:
            errors.append(f"kernel {kh}x{kw} / stride {strides[0]}x{strides[1]} over {limit[0]}x{limit[1]} "
                          f"for {c} channels")
        return "GNA 3.0 2-D convolution limits: " + "; ".join(errors) if errors else None
    errors = []
    if not (h <= 65535 and wd <= 65535):
        errors.append(f"input {h}x{wd} over 65535")
    if c > 1024:
        errors.append(f"{c} input channels over 1024")
    if f > 8192:
        errors.append(f"{f} kernels over 8192")
    if kh > 255 or kw > 256:
        errors.append(f"kernel {kh}x{kw} over 255x256")
    return "GNA 3.5 2-D convolution limits: " + "; ".join(errors) if errors else None


def conv_source(node) -> Any:
    """The Convolution a pooling node reads through an optional constant bias Add and an optional
    activation, or None."""
    src = node.input_value(0).node
    if src.type_name in ACTIVATIONS and src.type_name not in ("FakeQuantize",):
        src = src.input_value(0).node
    if src.type_name == "Add" and (is_const(src, 1) or is_const(src, 0)):
        src = src.input_value(0 if is_const(src, 1) else 1).node
    return src if src.type_name == "Convolution" else None


def _max_pool(node, target):
    conv = conv_source(node)
    if conv is None or why_not(conv, target) is not None:
        return "GNA pools only the output of a convolution it runs (optionally through bias and activation)"
    a = node.attrs
    if any(d != 1 for d in a.get("dilations") or [1]):
        return "pooling dilations are not supported"
    kernel, strides = a["kernel"], a["strides"]
    if any(s > k for s, k in zip(strides, kernel)):
        return f"pooling strides {strides} larger than the window {kernel}"
    x, w, _ = conv_dims(conv)
    if is_1d(x, w):
        window = kernel[-1] if len(kernel) == 2 and kernel[0] == 1 else kernel[0] if len(kernel) == 1 else None
        if window is None or window > MAX_POOL_WINDOW_1D:
            return f"pooling window {kernel}; after a 1-D convolution GNA pools up to {MAX_POOL_WINDOW_1D}"
        return None
    kh, kw = kernel
    if target == "GNA_3_0" and not (kh == kw and kh <= 3):
        return f"pooling window {kh}x{kw}; GNA 3.0 pools square windows up to 3x3"
    if kh > 255 or kw > 255:
        return f"pooling window {kh}x{kw} over 255x255"
    return None


def _eltwise(node, target):
    consts = [is_const(node, i) for i in range(2)]
    if node.type_name == "Divide" and not consts[1]:
        return "GNA divides only by a constant"
    if node.attrs.get("auto_broadcast", "numpy") not in ("numpy", "none"):
        return f"auto_broadcast {node.attrs['auto_broadcast']}"
    out = node.output(0).get_shape()
    if any(consts):
        data = node.input_shape(1 if consts[0] else 0).to_shape()
        if tuple(data) != tuple(out):
            return "the constant operand broadcasts the data to a larger shape"
        return None
    if node.type_name == "Divide":
        return "GNA divides only by a constant"
    if node.input_shape(0).to_shape() != node.input_shape(1).to_shape():
        return "GNA broadcasts eltwise operands only from constants"
    return None


def scalar(value) -> float | None:
    arr = np.asarray(value)
    if arr.size == 0 or not np.all(arr == arr.reshape(-1)[0]):
        return None
    return float(arr.reshape(-1)[0])


def _activation(node, target):
    t = node.type_name
    if t == "PRelu":
        if not is_const(node, 1) or scalar(node.input_const(1)) is None:
            return "PRelu needs one constant slope (GNA applies one PWL per layer)"
    if t == "Power":
        if is_const(node, 0) or not is_const(node, 1):
            return "Power needs a constant exponent"
        if scalar(node.input_const(1)) is None:
            return "Power needs one exponent for the whole tensor"
        if tuple(node.input_shape(0).to_shape()) != tuple(node.output(0).get_shape()):
            return "the exponent broadcasts the data to a larger shape"
    if t == "FakeQuantize":
        for i in range(1, 5):
            if not is_const(node, i) or scalar(node.input_const(i)) is None:
                return "FakeQuantize needs constant per-tensor ranges"
        lo, hi = scalar(node.input_const(1)), scalar(node.input_const(2))
        if not hi > lo:
            return "FakeQuantize input range is empty"
    return None


def first_valuable_axis(shape) -> int:
    return next((i for i, d in enumerate(shape) if d > 1), 0)


def _concat(node, target):
    out = node.output(0).get_shape()
    axis = node.attrs["axis"] % len(out)
    srcs = [node.input_value(i).node.type_name for i in range(node.get_input_size())]
    if all(s in ("Parameter", "Constant") for s in srcs):
        return None
    if first_valuable_axis(out) != axis:
        return f"concatenation along axis {axis} of {list(out)}; GNA concatenates along the first non-unit axis"
    return None


def _shape_input(node, target):
    for i in range(1, node.get_input_size()):
        if not is_const(node, i):
            return f"input {i} is not constant"
    return None


def _transpose(node, target):
    if not is_const(node, 1):
        return "the permutation is not constant"
    shape = node.input_shape(0).to_shape()
    perm = [int(p) for p in np.asarray(node.input_const(1)).reshape(-1)]
    moved = [shape[p] for p in perm if shape[p] > 1]
    if moved == [d for d in shape if d > 1]:
        return None  # only unit axes move: a reshape
    squeezed = [d for d in shape if d > 1]
    if len(squeezed) == 2 and min(squeezed) <= 8 and max(squeezed) % 8 == 0 and max(squeezed) <= TRANSPOSE_MAX_SIZE:
        return None
    if shape[0] == 1 and (perm in ([0, 2, 1], [0, 2, 3, 1], [0, 3, 1, 2])):
        return None  # channel/width layout change that GNA's compiler folds into a convolution
    return (f"transpose {perm} of {list(shape)}; GNA transposes 2-D data with a side of at most 8, or "
            "changes convolution layouts")


def _recurrent(node, target):
    op = node.op
    attrs = node.attrs
    acts = [a.lower() for a in attrs["activations"]]
    if acts[:len(_DEFAULT_ACTS[op.kind])] != _DEFAULT_ACTS[op.kind] or attrs["activations_alpha"] \
            or attrs["activations_beta"]:
        return f"activations {attrs['activations']}; GNA's decomposition uses the defaults"
    if attrs["clip"] > 0:
        return "clip is not supported by GNA's decomposition"
    if attrs.get("input_forget"):
        return "input_forget is not supported"
    w = op.w_index()
    if not all(is_const(node, i) for i in range(w, node.get_input_size())):
        return "weights W, R, B must be constant"
    if op.type_name == "LSTMCell" and node.get_input_size() > 6:
        return "peepholes are not supported"
    batch = node.input_shape(0).to_shape()[0]
    if batch > MAX_AFFINE_BATCH:
        return f"batch {batch} exceeds GNA's affine batch limit of {MAX_AFFINE_BATCH}"
    if op.is_sequence:
        lengths = node.input_const(w - 1)
        steps = node.input_shape(0).to_shape()[1]
        if lengths is None or not bool(np.all(np.asarray(lengths) == steps)):
            return "sequence_lengths must be constant and equal to the sequence length"
    return None


_RULES = {
    "MatMul": _matmul, "Convolution": _convolution, "MaxPool": _max_pool,
    **{t: _eltwise for t in ELTWISE}, **{t: _activation for t in ACTIVATIONS},
    "Concat": _concat, "Reshape": _shape_input, "Squeeze": _shape_input, "Unsqueeze": _shape_input,
    "Identity": _shape_input, "Split": _shape_input, "VariadicSplit": _shape_input, "Transpose": _transpose,
    **{t: _recurrent for t in RECURRENT},
}
