"""Op definitions, one module per family. This list IS the registry: importing a family module
registers its ops (see :mod:`arrayrt.ir.ops.base` for how to add one)."""
from __future__ import annotations

import importlib

from arrayrt.ir.ops.base import Attr, OpDef, all_ops, get_op, register

FAMILIES = (
    "core",           # Parameter, Result, Constant, Convert, ConvertLike, ShapeOf, Identity
    "eltwise",        # Add, Subtract, Multiply, Divide, Power, Maximum, Minimum, ...
    "unary",          # Negative, Abs, Sqrt, Exp, Log, Floor, Ceiling, Round, Sign, Erf, Sin, ...
    "activation",     # Relu, Sigmoid, Clamp, Elu, PRelu, Gelu, Swish, ..., Softmax, LogSoftmax
    "logical",        # Equal, ..., LogicalAnd/Or/Not/Xor, Select
    "matmul",         # MatMul, Einsum, ScaledDotProductAttention
    "conv",           # Convolution, GroupConvolution, ...BackpropData
    "pool",           # MaxPool, AvgPool, AdaptiveAvgPool, AdaptiveMaxPool
    "reduce",         # ReduceMean/Sum/Max/Min/Prod/L1/L2, ReduceLogicalAnd/Or
    "normalization",  # MVN, BatchNormInference, NormalizeL2, GroupNormalization
    "movement",       # Reshape, Transpose, Squeeze, Unsqueeze, Concat, Split, ..., Pad, Tile
    "indexing",       # Gather*, Scatter*, OneHot, NonZero, TopK, CumSum, Range
    "interpolate",    # Interpolate v1, v4, v11
    "rnn",            # LSTMSequence, GRUSequence, RNNSequence, LSTMCell, GRUCell, RNNCell
    "quantization",   # FakeQuantize
    "signal",         # DFT, IDFT, RDFT, IRDFT, STFT
    "detection",      # NonMaxSuppression, ROIAlign, GridSample, DeformableConvolution, ...
    "generation",     # Eye, RandomUniform, Multinomial, ...
    "misc",           # Unique, ReverseSequence, Col2Im, ...
    "space_batch",    # BatchToSpace, SpaceToBatch, ExtractImagePatches, ReorgYolo
    "color",          # NV12toRGB, NV12toBGR, I420toRGB, I420toBGR
    "decoding",       # CTCGreedyDecoder, CTCGreedyDecoderSeqLen, GatherTree, CTCLoss, Inverse
    "embedding",      # EmbeddingBagOffsetsSum, EmbeddingBagPackedSum, EmbeddingSegmentsSum, v15 bags
    "priors",         # RegionYolo (PriorBox, PriorBoxClustered: not yet)
    "control",        # If, Loop, TensorIterator (ops with sub-graph bodies)
    "sequence",       # arrayrt extension ops for ONNX sequences and optionals
)

for _family in FAMILIES:
    importlib.import_module(f"arrayrt.ir.ops.{_family}")

__all__ = ["Attr", "OpDef", "FAMILIES", "all_ops", "get_op", "register"]
