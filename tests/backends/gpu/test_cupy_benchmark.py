"""The GPU benchmark's PyTorch side builds the same architecture and weights as arrayrt: its
:class:`EagerOps` run over a plain numpy primitive set (standing in for PyTorch, same interface)
reproduces arrayrt's CPU results for ResNet-18 and the BERT-tiny-like encoder."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.testing import models as M

_PATH = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_vs_torch.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gpu_vs_torch", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NumpyLib:
    """TorchLib's primitives written with numpy loops and sums (independent of arrayrt's kernels)."""

    def const(self, a):
        return a

    def conv(self, x, w, strides, pb, pe, dil):
        x = np.pad(x, [(0, 0), (0, 0)] + list(zip(pb, pe)))
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        oh = (h - (kh - 1) * dil[0] - 1) // strides[0] + 1
        ow = (wd - (kw - 1) * dil[1] - 1) // strides[1] + 1
        y = np.zeros((n, o, oh, ow), np.float64)
        for i in range(kh):
            for j in range(kw):
                tap = x[:, :, i * dil[0]: i * dil[0] + strides[0] * (oh - 1) + 1: strides[0],
                        j * dil[1]: j * dil[1] + strides[1] * (ow - 1) + 1: strides[1]]
                y += np.einsum("nchw,oc->nohw", tap, w[:, :, i, j])
        return y.astype(x.dtype)

    def max_pool(self, x, kernel, strides, pb, pe, dil):
        x = np.pad(x, [(0, 0), (0, 0)] + list(zip(pb, pe)), constant_values=-np.inf)
        oh = (x.shape[2] - kernel[0]) // strides[0] + 1
        ow = (x.shape[3] - kernel[1]) // strides[1] + 1
        rows, cols = strides[0] * (oh - 1) + 1, strides[1] * (ow - 1) + 1
        taps = [x[:, :, i: i + rows: strides[0], j: j + cols: strides[1]]
                for i in range(kernel[0]) for j in range(kernel[1])]
        return np.max(np.stack(taps), axis=0)

    add = staticmethod(lambda a, b: a + b)
    sub = staticmethod(lambda a, b: a - b)
    mul = staticmethod(lambda a, b: a * b)
    relu = staticmethod(lambda x: np.maximum(x, 0))

    def gelu_erf(self, x):
        return (0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))).astype(x.dtype)

    def softmax(self, x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def mean(self, x, axes, keep):
        return x.mean(axis=axes, keepdims=keep)

    def matmul(self, a, b, ta, tb):
        return (np.swapaxes(a, -1, -2) if ta else a) @ (np.swapaxes(b, -1, -2) if tb else b)

    def gather(self, table, ids, axis):
        return np.take(table, ids, axis=axis)

    def reshape(self, x, pattern, special_zero):
        return x.reshape([x.shape[i] if special_zero and v == 0 else v for i, v in enumerate(pattern)])

    def transpose(self, x, perm):
        return np.transpose(x, perm)

    def unsqueeze(self, x, axes):
        return np.expand_dims(x, axes)

    def convert(self, x, dest):
        return x.astype({"f32": np.float32}[dest])

    def mvn(self, x, axes, normalize_variance, eps, eps_mode):
        y = x - x.mean(axis=axes, keepdims=True)
        return y / np.sqrt((y * y).mean(axis=axes, keepdims=True) + eps)


@pytest.mark.parametrize("name, kw", [("resnet18", {"size": 32, "classes": 10}),
                                      ("bert_tiny", {"seq": 8, "batch": 2, "layers": 1})])
def test_eager_program_is_the_same_model(bench, name, kw):
    model = M.make_model(ops, M.BENCHMARK_MODELS[name], name, **kw)
    inputs = M.sample_inputs(model)
    want = np.asarray(ar.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(inputs)[0])
    program = bench.eager_model(name, NumpyLib(), **kw)
    assert program.n_params == len(inputs)
    got = program.run(*inputs)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_table_reports_ratios_and_errors(bench):
    rows = [{"model": "resnet18", "batch": 1, "precision": "f16", "arrayrt_device_ms": 1.0,
             "torch_device_ms": 2.0, "latency_ratio": 0.5, "throughput_per_s": 1000.0,
             "torch_throughput_per_s": 500.0, "throughput_ratio": 2.0, "arrayrt_host_ms": 1.5,
             "torch_host_ms": 2.5, "max_abs_diff_vs_torch": 1e-3},
            {"model": "bert_tiny", "batch": 64, "precision": "f32", "error": "RuntimeError: boom"}]
    text = bench.table(rows)
    assert "0.50" in text and "2.00" in text and "error: RuntimeError: boom" in text
    assert "no cuDNN" not in text
    rows[0]["arrayrt_im2col_device_ms"] = 3.25
    assert "no cuDNN 3.250 ms" in bench.table(rows)
    rows[0]["cuda_graph"] = "captured: 3 CUDA graph(s), 2 eager step(s) between them"
    assert "captured" not in bench.table(rows)  # said only when a plan runs without graphs
    rows[0]["cuda_graph"] = "eager: a kernel synchronised while recording"
    assert "| eager: a kernel synchronised while recording" in bench.table(rows)


def test_without_cupy_and_torch_it_says_what_it_needs(bench, capsys):
    try:
        import cupy  # noqa: F401
        import torch  # noqa: F401
        pytest.skip("CuPy and PyTorch are installed here")
    except ImportError:
        pass
    assert bench.main(["--models", "resnet18"]) == 2
    assert "needs CuPy and PyTorch" in capsys.readouterr().err


def test_profile_nodes_ranks_node_kinds_by_device_time(bench, gpu):
    x = ops.parameter([2, 8], np.float32, name="x")
    y = ops.relu(ops.add(ops.matmul(x, np.ones((8, 8), np.float32), False, False), np.ones(8, np.float32)))
    model = ar.Model([ops.sigmoid(ops.sigmoid(y))], [x])
    data = [gpu.asarray(np.ones((2, 8), np.float32))]
    ranked = bench.profile_nodes(ar, model, {"INFERENCE_PRECISION_HINT": "f32"}, data)
    kinds = {(t, n) for t, _, n, _ in ranked}
    assert ("Sigmoid", 2) in kinds and ("GpuFusedProduct", 1) in kinds
    times = [ms for *_, ms in ranked]
    assert min(times) >= 0 and times == sorted(times, reverse=True)
