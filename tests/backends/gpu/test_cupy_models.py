"""Whole models on GPU (over the fake CuPy): the benchmark architectures, small, at the f32 hint
with CPU's tolerances and at the default f16; and under HETERO:GPU,CPU."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.testing import models as M

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
SMALL = {"resnet18": {"size": 32, "classes": 10}, "mobilenet_v2": {"size": 32, "classes": 10},
         "bert_tiny": {"seq": 16, "batch": 2}}


def _model(name):
    return M.make_model(ops, M.BENCHMARK_MODELS[name], name, **SMALL[name])


def _outputs(c, inputs):
    res = c(inputs)
    return [np.asarray(res[i]) for i in range(len(c.outputs))]


@pytest.mark.parametrize("name", list(SMALL))
def test_benchmark_models_on_gpu(gpu, name):
    model = _model(name)
    inputs = M.sample_inputs(model)
    want = _outputs(ar.Core().compile_model(model, "CPU", F32), inputs)
    f32 = ar.Core().compile_model(model, "GPU", F32)
    assert f32._plan.fn.graph_status.startswith("captured")
    for _ in range(2):
        for g, w in zip(_outputs(f32, inputs), want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    f16_model = ar.Core().compile_model(model, "GPU")
    # the H100 run's f16 BERT-tiny plan failed its recording (a boolean mask in a clip synchronised)
    assert f16_model._plan.fn.graph_status.startswith("captured"), f16_model._plan.fn.graph_status
    f16 = _outputs(f16_model, inputs)
    for g, w in zip(f16, want):
        assert g.dtype == w.dtype
        scale = float(np.abs(w).max())
        assert float(np.abs(g - w).max()) <= 2e-2 * scale + 1e-3
    hetero = ar.Core().compile_model(model, "HETERO:GPU,CPU", F32)
    assert hetero.get_property("EXECUTION_DEVICES") == ["GPU"]
    for g, w in zip(_outputs(hetero, inputs), want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
