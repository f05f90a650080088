"""The numpy backend's conv + bias + activation fusion."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (1, 4, 9, 9)).astype(np.float32)
W = RNG.uniform(-1, 1, (6, 4, 3, 3)).astype(np.float32)
B = RNG.uniform(-1, 1, (1, 6, 1, 1)).astype(np.float32)


def build(act, extra_output=False, grouped=False):
    x = ops.parameter([1, 4, 9, 9], np.float32, name="x")
    if grouped:
        conv = ops.group_convolution(x, RNG.uniform(-1, 1, (4, 1, 1, 3, 3)).astype(np.float32), [1, 1],
                                     [1, 1], [1, 1], [1, 1], name="conv")
        bias = B[:, :4]
    else:
        conv = ops.convolution(x, W, [2, 2], [1, 1], [1, 1], [1, 1], name="conv")
        bias = B
    y = ops.add(conv, bias, name="bias")
    if act == "relu":
        y = ops.relu(y, name="act")
    elif act == "clamp":
        y = ops.clamp(y, 0.0, 0.5, name="act")
    outs = [y, conv] if extra_output else [y]
    return ar.Model(outs, [x])


def exec_types(compiled):
    return collections.Counter(r.exec_type for r in compiled._plan.records)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("act", [None, "relu", "clamp"])
def test_fused_equals_unfused(act, grouped):
    model = build(act, grouped=grouped)
    fused = ar.compile_model(model, "CPU")
    reference = ar.compile_model(model, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_allclose(fused([X])[0], reference([X])[0], rtol=1e-5, atol=1e-6)
    kinds = exec_types(fused)
    assert sum(n for k, n in kinds.items() if k.startswith("numpy_fused_conv_bias")) == 1
    runtime = {n.friendly_name: n.rt_info for n in fused.get_runtime_model().get_ordered_ops()}
    last = "act" if act else "bias"
    assert runtime[last]["originalLayersNames"].split(",") == ["conv", "bias"] + (["act"] if act else [])


def test_no_fusion_when_the_conv_output_is_also_a_model_output():
    model = build("relu", extra_output=True)
    c = ar.compile_model(model, "CPU")
    assert not any(k.startswith("numpy_fused") for k in exec_types(c))
    y, conv = c([X])[0], c([X])[1]
    np.testing.assert_allclose(y, np.maximum(conv + B, 0), rtol=1e-6)


def test_the_users_model_is_not_changed():
    model = build("relu")
    before = [n.type_name for n in model.get_ordered_ops()]
    ar.compile_model(model, "CPU")
    assert [n.type_name for n in model.get_ordered_ops()] == before
