"""Models saved by real OpenVINO run on arrayrt with OpenVINO's results, and IR written by arrayrt
runs in OpenVINO with the same results (f32 and fp16-compressed weights)."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt as ar
from arrayrt.testing import models as M

ov = pytest.importorskip("openvino")
import openvino.opset16 as ovops  # noqa: E402

import arrayrt.opset as arops  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def ov_run(model_or_path, inputs):
    c = ov.Core().compile_model(model_or_path, "CPU", F32)
    r = c(inputs)
    return [np.asarray(r[i]) for i in range(len(c.outputs))]


def ar_run(model_or_path, inputs):
    c = ar.Core().compile_model(model_or_path, "CPU", F32)
    r = c(inputs)
    return [np.asarray(r[i]) for i in range(len(c.outputs))]


def assert_same(got, want, rtol=RTOL, atol=ATOL):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("compress", [False, True], ids=["f32", "fp16"])
@pytest.mark.parametrize("name", list(M.INTEROP_MODELS))
def test_openvino_ir_runs_on_arrayrt(name, compress, tmp_path):
    model = M.make_model(ovops, M.INTEROP_MODELS[name], name)
    path = tmp_path / f"{name}.xml"
    ov.save_model(model, path, compress_to_fp16=compress)
    inputs = M.sample_inputs(model)
    assert_same(ar_run(path, inputs), ov_run(path, inputs))
    # names and order of inputs/outputs are OpenVINO's
    ar_model = ar.read_model(path)
    ov_model = ov.Core().read_model(path)
    assert [p.get_names() for p in ar_model.inputs] == [set(p.get_names()) for p in ov_model.inputs]
    assert [p.get_names() for p in ar_model.outputs] == [set(p.get_names()) for p in ov_model.outputs]


@pytest.mark.parametrize("compress", [False, True], ids=["f32", "fp16"])
@pytest.mark.parametrize("name", list(M.INTEROP_MODELS))
def test_arrayrt_ir_runs_on_openvino(name, compress, tmp_path):
    model = M.make_model(arops, M.INTEROP_MODELS[name], name)
    path = tmp_path / f"{name}.xml"
    ar.save_model(model, path, compress_to_fp16=compress)
    inputs = M.sample_inputs(model)
    want = ov_run(M.make_model(ovops, M.INTEROP_MODELS[name], name), inputs) if not compress else ov_run(path, inputs)
    assert_same(ov_run(path, inputs), want)
    assert_same(ar_run(path, inputs), want)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(M.BENCHMARK_MODELS))
def test_benchmark_models_match_openvino(name, tmp_path):
    model = M.make_model(ovops, M.BENCHMARK_MODELS[name], name)
    path = tmp_path / f"{name}.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    inputs = M.sample_inputs(model)
    assert_same(ar_run(path, inputs), ov_run(path, inputs), rtol=1e-3, atol=1e-4)
