"""Reference models built with an opset module: ``arrayrt.opset`` or ``openvino.opset16``.

The same builder makes the model in both libraries (their factories share names and argument
order), so the interop tests and the benchmarks run one architecture with one set of weights on
arrayrt and on real OpenVINO. Weights are random but fixed by ``seed``; BatchNorm is folded into the
convolution weights and a bias ``Add``, as converters emit it.

Each builder returns ``(outputs, parameters)``; :func:`make_model` turns that into a model of the
module's library.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class _W:
    """Deterministic He-initialised weights."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def conv(self, out_c: int, in_c: int, k: int) -> np.ndarray:
        fan_in = in_c * k * k
        return (self.rng.standard_normal((out_c, in_c, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def dense(self, n_in: int, n_out: int) -> np.ndarray:
        return (self.rng.standard_normal((n_out, n_in)) * np.sqrt(1.0 / n_in)).astype(np.float32)

    def bias(self, n: int, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
        return (self.rng.standard_normal((1, n, *shape_tail)) * 0.05).astype(np.float32)

    def normal(self, shape, scale=0.05) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)


def make_model(ops: Any, builder: Callable[..., tuple[list, list]], name: str, **kw: Any) -> Any:
    """Build with ``ops`` and wrap in that library's Model class."""
    outputs, params = builder(ops, **kw)
    if ops.__name__.startswith("openvino"):
        import openvino as ov

        return ov.Model(outputs, params, name)
    import arrayrt

    return arrayrt.Model(outputs, params, name)


def _conv_bias(ops, x, w: _W, out_c: int, in_c: int, k: int, stride: int = 1, pad: int | None = None,
               relu: bool = True, name: str = "conv"):
    pad = k // 2 if pad is None else pad
    y = ops.convolution(x, w.conv(out_c, in_c, k), [stride, stride], [pad, pad], [pad, pad], [1, 1],
                        name=f"{name}/WithoutBiases")
    y = ops.add(y, w.bias(out_c, (1, 1)), name=name)
    return ops.relu(y, name=f"{name}/relu") if relu else y


def _basic_block(ops, x, w: _W, in_c: int, out_c: int, stride: int, name: str):
    y = _conv_bias(ops, x, w, out_c, in_c, 3, stride, name=f"{name}/conv1")
    y = _conv_bias(ops, y, w, out_c, out_c, 3, 1, relu=False, name=f"{name}/conv2")
    if stride != 1 or in_c != out_c:
        x = _conv_bias(ops, x, w, out_c, in_c, 1, stride, pad=0, relu=False, name=f"{name}/downsample")
    return ops.relu(ops.add(y, x, name=f"{name}/add"), name=f"{name}/out")


def resnet18(ops, batch: int = 1, size: int = 224, classes: int = 1000, seed: int = 0):
    """ResNet-18 (torchvision layout), input ``data`` [batch, 3, size, size], output ``logits``."""
    w = _W(seed)
    x = ops.parameter([batch, 3, size, size], np.float32, name="data")
    y = _conv_bias(ops, x, w, 64, 3, 7, 2, name="conv1")
    y = ops.max_pool(y, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3], name="pool1").output(0)
    c = 64
    for stage, out_c in enumerate((64, 128, 256, 512)):
        for b in range(2):
            stride = 2 if (b == 0 and stage > 0) else 1
            y = _basic_block(ops, y, w, c, out_c, stride, f"layer{stage + 1}.{b}")
            c = out_c
    y = ops.reduce_mean(y, np.array([2, 3], np.int64), False, name="gap")
    y = ops.matmul(y, w.dense(512, classes), False, True, name="fc/MatMul")
    y = ops.add(y, w.normal((1, classes)), name="logits")
    return [y], [x]


def _inverted_residual(ops, x, w: _W, in_c: int, out_c: int, stride: int, expand: int, name: str):
    hidden = in_c * expand
    y = x
    if expand != 1:
        y = ops.convolution(y, w.conv(hidden, in_c, 1), [1, 1], [0, 0], [0, 0], [1, 1])
        y = ops.clamp(ops.add(y, w.bias(hidden, (1, 1))), 0.0, 6.0, name=f"{name}/expand")
    dw = w.conv(hidden, 1, 3).reshape(hidden, 1, 1, 3, 3)
    y = ops.group_convolution(y, dw, [stride, stride], [1, 1], [1, 1], [1, 1])
    y = ops.clamp(ops.add(y, w.bias(hidden, (1, 1))), 0.0, 6.0, name=f"{name}/dw")
    y = ops.convolution(y, w.conv(out_c, hidden, 1), [1, 1], [0, 0], [0, 0], [1, 1])
    y = ops.add(y, w.bias(out_c, (1, 1)), name=f"{name}/project")
    if stride == 1 and in_c == out_c:
        y = ops.add(x, y, name=f"{name}/residual")
    return y


MOBILENET_V2_CONFIG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(ops, batch: int = 1, size: int = 224, classes: int = 1000, seed: int = 0):
    """MobileNetV2 1.0 (torchvision layout), input ``data``, output ``logits``."""
    w = _W(seed)
    x = ops.parameter([batch, 3, size, size], np.float32, name="data")
    y = ops.convolution(x, w.conv(32, 3, 3), [2, 2], [1, 1], [1, 1], [1, 1])
    y = ops.clamp(ops.add(y, w.bias(32, (1, 1))), 0.0, 6.0, name="stem")
    c = 32
    for i, (t, out_c, n, s) in enumerate(MOBILENET_V2_CONFIG):
        for j in range(n):
            y = _inverted_residual(ops, y, w, c, out_c, s if j == 0 else 1, t, f"block{i}.{j}")
            c = out_c
    y = ops.convolution(y, w.conv(1280, c, 1), [1, 1], [0, 0], [0, 0], [1, 1])
    y = ops.clamp(ops.add(y, w.bias(1280, (1, 1))), 0.0, 6.0, name="head")
    y = ops.reduce_mean(y, np.array([2, 3], np.int64), False, name="gap")
    y = ops.matmul(y, w.dense(1280, classes), False, True)
    y = ops.add(y, w.normal((1, classes)), name="logits")
    return [y], [x]


def _layer_norm(ops, x, w: _W, hidden: int, name: str):
    y = ops.mvn(x, np.array([-1], np.int64), True, 1e-12, "inside_sqrt", name=f"{name}/mvn")
    y = ops.multiply(y, (1.0 + w.normal((hidden,))).astype(np.float32))
    return ops.add(y, w.normal((hidden,)), name=name)


def _dense(ops, x, w: _W, n_in: int, n_out: int, name: str):
    y = ops.matmul(x, w.dense(n_in, n_out), False, True, name=f"{name}/MatMul")
    return ops.add(y, w.normal((n_out,)), name=name)


def encoder_layer(ops, x, mask_bias, w: _W, hidden: int, heads: int, ffn: int, seq: int, name: str):
    """One post-norm transformer encoder layer; ``mask_bias`` is added to the attention scores."""
    hd = hidden // heads

    def split_heads(t, tag):
        t = ops.reshape(t, np.array([0, seq, heads, hd], np.int64), True, name=f"{name}/{tag}/split")
        return ops.transpose(t, np.array([0, 2, 1, 3], np.int64))

    q = split_heads(_dense(ops, x, w, hidden, hidden, f"{name}/q"), "q")
    k = split_heads(_dense(ops, x, w, hidden, hidden, f"{name}/k"), "k")
    v = split_heads(_dense(ops, x, w, hidden, hidden, f"{name}/v"), "v")
    scores = ops.matmul(q, k, False, True, name=f"{name}/scores")
    scores = ops.multiply(scores, np.array(1.0 / np.sqrt(hd), np.float32))
    scores = ops.add(scores, mask_bias)
    probs = ops.softmax(scores, -1, name=f"{name}/probs")
    ctx = ops.matmul(probs, v, False, False)
    ctx = ops.transpose(ctx, np.array([0, 2, 1, 3], np.int64))
    ctx = ops.reshape(ctx, np.array([0, seq, hidden], np.int64), True)
    attn = _dense(ops, ctx, w, hidden, hidden, f"{name}/attn_out")
    x = _layer_norm(ops, ops.add(x, attn), w, hidden, f"{name}/ln1")
    h = ops.gelu(_dense(ops, x, w, hidden, ffn, f"{name}/ffn1"), "erf")
    h = _dense(ops, h, w, ffn, hidden, f"{name}/ffn2")
    return _layer_norm(ops, ops.add(x, h), w, hidden, f"{name}/ln2")


def bert_tiny(ops, batch: int = 1, seq: int = 128, hidden: int = 128, layers: int = 2, heads: int = 2,
              ffn: int = 512, vocab: int = 1000, seed: int = 0):
    """A BERT-tiny-like encoder: inputs ``input_ids`` (i64) and ``attention_mask`` (i64, 1 = keep),
    output ``last_hidden_state``."""
    w = _W(seed)
    ids = ops.parameter([batch, seq], np.int64, name="input_ids")
    mask = ops.parameter([batch, seq], np.int64, name="attention_mask")
    emb = ops.gather(w.normal((vocab, hidden), 0.5), ids, np.array(0, np.int64), 0)
    emb = ops.add(emb, w.normal((1, seq, hidden), 0.5))
    x = _layer_norm(ops, emb, w, hidden, "embeddings/ln")
    m = ops.convert(ops.unsqueeze(mask, np.array([1, 2], np.int64)), "f32")
    mask_bias = ops.multiply(ops.subtract(np.array(1.0, np.float32), m), np.array(-10000.0, np.float32))
    for i in range(layers):
        x = encoder_layer(ops, x, mask_bias, w, hidden, heads, ffn, seq, f"layer{i}")
    out = ops.result(x, name="last_hidden_state")
    return [out], [ids, mask]


# --- the foundation's interop blocks ------------------------------------------------------------
def resnet_block(ops, seed: int = 1):
    w = _W(seed)
    x = ops.parameter([1, 32, 16, 16], np.float32, name="x")
    y = _basic_block(ops, x, w, 32, 64, 2, "block")
    return [y], [x]


def mobilenet_block(ops, seed: int = 2):
    w = _W(seed)
    x = ops.parameter([1, 24, 14, 14], np.float32, name="x")
    y = _inverted_residual(ops, x, w, 24, 24, 1, 6, "ir")
    return [y], [x]


def transformer_block(ops, seed: int = 3, seq: int = 16, hidden: int = 64, heads: int = 4):
    w = _W(seed)
    x = ops.parameter([2, seq, hidden], np.float32, name="x")
    mask = ops.parameter([2, seq], np.float32, name="mask")
    bias = ops.multiply(ops.subtract(np.array(1.0, np.float32), ops.unsqueeze(mask, np.array([1, 2], np.int64))),
                        np.array(-1e4, np.float32))
    y = encoder_layer(ops, x, bias, w, hidden, heads, hidden * 4, seq, "enc")
    return [y], [x, mask]


def lstm_kws(ops, seed: int = 4, frames: int = 49, features: int = 40, hidden: int = 64, classes: int = 12):
    """Keyword spotting: conv1d over MFCC frames, an LSTM, a dense softmax classifier."""
    w = _W(seed)
    x = ops.parameter([1, frames, features], np.float32, name="mfcc")
    t = ops.transpose(x, np.array([0, 2, 1], np.int64))
    c = ops.convolution(t, w.normal((32, features, 3), 0.2), [1], [1], [1], [1])
    c = ops.relu(ops.add(c, w.normal((1, 32, 1))))
    seq = ops.transpose(c, np.array([0, 2, 1], np.int64))
    h0 = np.zeros((1, 1, hidden), np.float32)
    lstm = ops.lstm_sequence(seq, h0, h0.copy(), np.array([frames], np.int32), w.normal((1, 4 * hidden, 32), 0.2),
                             w.normal((1, 4 * hidden, hidden), 0.2), w.normal((1, 4 * hidden), 0.1), hidden,
                             "forward")
    last = ops.squeeze(lstm.output(1), np.array([1], np.int64))
    logits = ops.add(ops.matmul(last, w.dense(hidden, classes), False, True), w.normal((classes,)))
    return [ops.softmax(logits, 1, name="probs")], [x]


def unet_up_block(ops, seed: int = 5):
    w = _W(seed)
    low = ops.parameter([1, 64, 8, 8], np.float32, name="low")
    skip = ops.parameter([1, 32, 16, 16], np.float32, name="skip")
    up = ops.convolution_backprop_data(low, w.normal((64, 32, 2, 2), 0.2), [2, 2])
    y = ops.concat([up, skip], 1)
    y = _conv_bias(ops, y, w, 32, 64, 3, name="c1")
    y = _conv_bias(ops, y, w, 32, 32, 3, name="c2")
    return [y], [low, skip]


def mlp(ops, seed: int = 6):
    w = _W(seed)
    x = ops.parameter([4, 20], np.float32, name="x")
    h = ops.relu(_dense(ops, x, w, 20, 64, "fc1"))
    h = ops.sigmoid(_dense(ops, h, w, 64, 32, "fc2"))
    return [ops.softmax(_dense(ops, h, w, 32, 5, "fc3"), -1, name="probs")], [x]


BENCHMARK_MODELS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "bert_tiny": bert_tiny}
INTEROP_MODELS = {"resnet_block": resnet_block, "mobilenet_block": mobilenet_block,
                  "transformer_block": transformer_block, "lstm_kws": lstm_kws,
                  "unet_up_block": unet_up_block, "mlp": mlp}


def sample_inputs(model: Any, seed: int = 0) -> list[np.ndarray]:
    """Inputs for a model of either library: floats in [-1, 1), int ids in [0, 1000), masks of ones
    with a padded tail."""
    rng = np.random.default_rng(seed)
    out = []
    for p in model.inputs:
        shape = [int(d) for d in p.get_shape()]
        name = p.get_any_name()
        dt = p.get_element_type().to_dtype()
        if "mask" in name:
            a = np.ones(shape, dt)
            a[..., shape[-1] * 3 // 4:] = 0
        elif np.dtype(dt).kind in "iu":
            a = rng.integers(0, 1000, size=shape).astype(dt)
        else:
            a = rng.uniform(-1, 1, size=shape).astype(dt)
        out.append(a)
    return out
