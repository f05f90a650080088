"""GPU (CuPy) against PyTorch eager on the same GPU, in one process: latency and throughput.

    python benchmarks/gpu_vs_torch.py [--models resnet18,bert_tiny] [--batches 1,64]
                                      [--precisions f32,f16] [--runs 30] [--warmup 5] [--npu]
                                      [--no-im2col] [--no-profile] [--json out.json]

Each model is built once from ``arrayrt.testing.models`` (the builder and seeded weights the other
benchmarks use): with ``arrayrt.opset`` for arrayrt, and through :class:`EagerOps` for PyTorch,
which hands the very same builder factory functions that run each op as one PyTorch call (conv2d,
max_pool2d, matmul, layer_norm for MVN...), on weights copied from the same numpy arrays. So both
run one architecture with one set of weights; the largest output difference is printed.

Per model, batch and precision:

* arrayrt ``GPU`` with ``INFERENCE_PRECISION_HINT`` f32 or f16 (CUDA graphs on, the default) and
  PyTorch eager under ``torch.inference_mode()`` with the module in fp32 or ``.half()``; TF32 off on
  both sides (arrayrt's default; ``torch.backends.{cuda.matmul,cudnn}.allow_tf32 = False``).
* *device* latency: inputs already on the GPU, results left there, the stream synchronised after
  each call (arrayrt: CuPy inputs and ``KEEP_ON_DEVICE``); *host* latency: numpy in, numpy out.
  Medians over ``--runs`` calls after ``--warmup``; throughput = batch / median device latency.
* ratio = arrayrt / PyTorch (latency: below 1.0 is faster; throughput: above 1.0 is faster).
* ``--npu``: the same for ``NPU`` (jax) when jax has a GPU platform (``JAX_PLATFORM=gpu``).
* Models with convolutions, when arrayrt found cuDNN: their device latency once more with
  ``GPU_USE_CUDNN=NO`` (im2col + cuBLAS), the "no cuDNN" column; ``--no-im2col`` skips it.
* A configuration that misses its bar (batch 1 latency above 1.0x, batch 64 throughput below 0.8x)
  is profiled once more with ``PERF_COUNT`` (device events per node, no CUDA graphs): the node kinds
  taking the most device time are printed under the table and kept in the JSON; ``--no-profile``
  skips it.
* ``--json`` is rewritten after every row, so a run cut short keeps what it measured.

The header names the device (CuPy's name for it) and what arrayrt's convolutions run on: cuDNN
(CuPy's ``cupyx.cudnn``, or the library through ``arrayrt.backends.cupy.cudnn``, with its version
and file) or im2col + cuBLAS. Nothing here downloads anything.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from arrayrt import backends
from arrayrt.testing import models as M


# --- the same builder, run as PyTorch eager ops ------------------------------------------------------
class _Value:
    """A value of the eager program: an input, a constant, or the result of step ``index``."""

    __slots__ = ("kind", "index")

    def __init__(self, kind: str, index: int):
        self.kind, self.index = kind, index

    def output(self, i: int = 0) -> _Value:
        return self


class EagerOps:
    """The factory functions the reference builders call (``arrayrt.opset``'s names and argument
    order), each recorded as one call of ``lib`` (:class:`TorchLib`); :meth:`run` replays them."""

    __name__ = "eager_ops"

    def __init__(self, lib: Any):
        self.lib = lib
        self.consts: list[Any] = []
        self.steps: list[tuple[Callable[..., Any], tuple]] = []
        self.n_params = 0

    # plumbing
    def _arg(self, v: Any) -> Any:
        if isinstance(v, _Value):
            return v
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            self.consts.append(self.lib.const(np.asarray(v)))
            return _Value("c", len(self.consts) - 1)
        return v

    def _op(self, fn: Callable[..., Any], *args: Any) -> _Value:
        self.steps.append((fn, tuple(self._arg(a) for a in args)))
        return _Value("s", len(self.steps) - 1)

    def run(self, *inputs: Any) -> Any:
        env: list[Any] = []
        where = {"p": inputs, "c": self.consts, "s": env}
        for fn, args in self.steps:
            env.append(fn(*[where[a.kind][a.index] if isinstance(a, _Value) else a for a in args]))
        return env[-1]

    # the factories the builders use
    def parameter(self, shape, dtype, name=None):
        self.n_params += 1
        return _Value("p", self.n_params - 1)

    def constant(self, value, name=None):
        return self._arg(np.asarray(value))

    def convolution(self, x, w, strides, pads_begin, pads_end, dilations, auto_pad="explicit", name=None):
        return self._op(self.lib.conv, x, w, tuple(strides), tuple(pads_begin), tuple(pads_end),
                        tuple(dilations))

    def max_pool(self, x, strides, dilations, pads_begin, pads_end, kernel_shape, rounding_type="floor",
                 auto_pad="explicit", index_element_type="i64", axis=0, name=None):
        return self._op(self.lib.max_pool, x, tuple(kernel_shape), tuple(strides), tuple(pads_begin),
                        tuple(pads_end), tuple(dilations))

    def add(self, a, b, auto_broadcast="numpy", name=None):
        return self._op(self.lib.add, a, b)

    def subtract(self, a, b, auto_broadcast="numpy", name=None):
        return self._op(self.lib.sub, a, b)

    def multiply(self, a, b, auto_broadcast="numpy", name=None):
        return self._op(self.lib.mul, a, b)

    def relu(self, x, name=None):
        return self._op(self.lib.relu, x)

    def gelu(self, x, approximation_mode="erf", name=None):
        return self._op(self.lib.gelu_erf if approximation_mode.lower() == "erf" else self.lib.gelu_tanh, x)

    def softmax(self, x, axis, name=None):
        return self._op(self.lib.softmax, x, int(axis))

    def reduce_mean(self, x, axes, keep_dims=False, name=None):
        return self._op(self.lib.mean, x, _ints(axes), bool(keep_dims))

    def matmul(self, a, b, transpose_a, transpose_b, name=None):
        return self._op(self.lib.matmul, a, b, bool(transpose_a), bool(transpose_b))

    def gather(self, data, indices, axis, batch_dims=0, name=None):
        return self._op(self.lib.gather, data, indices, int(np.asarray(axis)))

    def reshape(self, x, pattern, special_zero, name=None):
        return self._op(self.lib.reshape, x, _ints(pattern), bool(special_zero))

    def transpose(self, x, order, name=None):
        return self._op(self.lib.transpose, x, _ints(order))

    def unsqueeze(self, x, axes, name=None):
        return self._op(self.lib.unsqueeze, x, _ints(axes))

    def convert(self, x, destination_type, name=None):
        return self._op(self.lib.convert, x, str(destination_type))

    def mvn(self, x, axes, normalize_variance, eps, eps_mode, name=None):
        return self._op(self.lib.mvn, x, _ints(axes), bool(normalize_variance), float(eps), str(eps_mode))

    def result(self, x, name=None):
        return x


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(values).reshape(-1))


class TorchLib:
    """The eager primitives on PyTorch; float constants and computation in ``dtype``."""

    def __init__(self, torch: Any, device: Any, dtype: Any):
        self.torch, self.device, self.dtype = torch, device, dtype
        self.F = torch.nn.functional

    def const(self, a: np.ndarray) -> Any:
        t = self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
        return t.to(self.dtype) if t.is_floating_point() else t

    def conv(self, x, w, strides, pb, pe, dil):
        if pb != pe:
            pad = [p for b, e in zip(reversed(pb), reversed(pe)) for p in (b, e)]
            return self.F.conv2d(self.F.pad(x, pad), w, None, strides, 0, dil)
        return self.F.conv2d(x, w, None, strides, pb, dil)

    def max_pool(self, x, kernel, strides, pb, pe, dil):
        return self.F.max_pool2d(x, kernel, strides, pb, dil)

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def relu(self, x):
        return self.torch.relu(x)

    def gelu_erf(self, x):
        return self.F.gelu(x)

    def gelu_tanh(self, x):
        return self.F.gelu(x, approximate="tanh")

    def softmax(self, x, axis):
        return self.torch.softmax(x, axis)

    def mean(self, x, axes, keep):
        return x.mean(dim=axes, keepdim=keep)

    def matmul(self, a, b, ta, tb):
        return self.torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)

    def gather(self, table, ids, axis):
        return self.F.embedding(ids, table) if axis == 0 else self.torch.index_select(table, axis, ids)

    def reshape(self, x, pattern, special_zero):
        shape = [x.shape[i] if special_zero and v == 0 else v for i, v in enumerate(pattern)]
        return x.reshape(shape)

    def transpose(self, x, perm):
        return x.permute(perm)

    def unsqueeze(self, x, axes):
        for a in sorted(axes):
            x = x.unsqueeze(a)
        return x

    def convert(self, x, dest):
        if dest.startswith("f"):
            return x.to(self.dtype)
        return x.to(getattr(self.torch, {"i64": "int64", "i32": "int32"}[dest]))

    def mvn(self, x, axes, normalize_variance, eps, eps_mode):
        if axes == (-1,) and normalize_variance and eps_mode == "inside_sqrt":
            return self.F.layer_norm(x, (x.shape[-1],), eps=eps)
        mean = x.mean(dim=axes, keepdim=True)
        y = x - mean
        if normalize_variance:
            var = (y * y).mean(dim=axes, keepdim=True)
            y = y / (self.torch.sqrt(var + eps) if eps_mode == "inside_sqrt" else self.torch.sqrt(var) + eps)
        return y


def eager_model(name: str, lib: Any, **kw: Any) -> EagerOps:
    """The builder ``name`` as an eager program over ``lib``."""
    ops = EagerOps(lib)
    M.BENCHMARK_MODELS[name](ops, **kw)
    return ops


# --- timing -------------------------------------------------------------------------------------------
def median_ms(fn: Callable[[], Any], sync: Callable[[], Any], warmup: int, runs: int) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def bench_one(name: str, batch: int, precision: str, args: argparse.Namespace, cp: Any, torch: Any,
              jax: Any) -> dict[str, Any]:
    import arrayrt as ar
    import arrayrt.opset as arops

    kw = {"batch": batch}
    model = M.make_model(arops, M.BENCHMARK_MODELS[name], name, **kw)
    inputs = M.sample_inputs(model)
    row: dict[str, Any] = {"model": name, "batch": batch, "precision": precision}
    sync_gpu = cp.cuda.get_current_stream().synchronize

    start = time.perf_counter()
    cfg = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    host = ar.Core().compile_model(model, "GPU", cfg)
    row["arrayrt_compile_s"] = time.perf_counter() - start
    row["cuda_graph"] = host._plan.fn.graph_status
    device = ar.Core().compile_model(model, "GPU", {**cfg, "KEEP_ON_DEVICE": True})
    dev_inputs = [cp.asarray(x) for x in inputs]
    host_req, dev_req = host.create_infer_request(), device.create_infer_request()
    row["arrayrt_device_ms"] = median_ms(lambda: dev_req.infer(dev_inputs), sync_gpu, args.warmup, args.runs)
    row["arrayrt_host_ms"] = median_ms(lambda: host_req.infer(inputs), sync_gpu, args.warmup, args.runs)
    ours = np.asarray(host_req.infer(inputs)[0])
    has_convs = any(n.type_name.endswith("Convolution") for n in model.get_ordered_ops())
    if has_convs and args.im2col and backends.backend_class("cupy").libraries(cp)["cudnn"] is not None:
        plain = ar.Core().compile_model(model, "GPU", {**cfg, "KEEP_ON_DEVICE": True, "GPU_USE_CUDNN": False})
        plain_req = plain.create_infer_request()
        row["arrayrt_im2col_device_ms"] = median_ms(lambda: plain_req.infer(dev_inputs), sync_gpu, args.warmup,
                                                    args.runs)

    dtype = torch.float16 if precision == "f16" else torch.float32
    program = eager_model(name, TorchLib(torch, "cuda", dtype), **kw)
    t_inputs = [torch.from_numpy(x).cuda() for x in inputs]
    t_inputs = [t.to(dtype) if t.is_floating_point() else t for t in t_inputs]
    sync_torch = torch.cuda.synchronize

    def torch_host():
        ins = [torch.from_numpy(x).cuda() for x in inputs]
        ins = [t.to(dtype) if t.is_floating_point() else t for t in ins]
        return program.run(*ins).float().cpu().numpy()

    with torch.inference_mode():
        row["torch_device_ms"] = median_ms(lambda: program.run(*t_inputs), sync_torch, args.warmup, args.runs)
        row["torch_host_ms"] = median_ms(torch_host, sync_torch, args.warmup, args.runs)
        theirs = torch_host()
    row["max_abs_diff_vs_torch"] = _max_diff(ours, theirs)
    row["ref_max_abs"] = float(np.abs(theirs).max())
    row["latency_ratio"] = row["arrayrt_device_ms"] / row["torch_device_ms"]
    row["throughput_per_s"] = batch / row["arrayrt_device_ms"] * 1e3
    row["torch_throughput_per_s"] = batch / row["torch_device_ms"] * 1e3
    row["throughput_ratio"] = row["throughput_per_s"] / row["torch_throughput_per_s"]
    if args.profile and (row["latency_ratio"] > 1.0 if batch == 1 else row["throughput_ratio"] < 0.8):
        row["profile"] = profile_nodes(ar, model, cfg, dev_inputs)
    if jax is not None:
        npu = ar.Core().compile_model(model, "NPU", {**cfg, "JAX_PLATFORM": "gpu", "KEEP_ON_DEVICE": True})
        j_inputs = [jax.device_put(x) for x in inputs]
        npu_req = npu.create_infer_request()

        def npu_call():
            res = npu_req.infer(j_inputs)
            jax.block_until_ready([res[i].data for i in range(len(npu.outputs))])

        row["npu_device_ms"] = median_ms(npu_call, lambda: None, args.warmup, args.runs)
        row["npu_latency_ratio"] = row["npu_device_ms"] / row["torch_device_ms"]
        row["npu_throughput_ratio"] = row["torch_device_ms"] / row["npu_device_ms"]
    return row


def profile_nodes(ar: Any, model: Any, cfg: dict, inputs: Sequence[Any], runs: int = 3, top: int = 8) -> list:
    """Where a plan's time goes: ``PERF_COUNT`` (device events per node, no graphs), median per
    node over ``runs`` inferences, summed per (node type, exec type), the ``top`` largest:
    ``[[node type, exec type, count, ms], ...]``."""
    c = ar.Core().compile_model(model, "GPU", {**cfg, "KEEP_ON_DEVICE": True, "PERF_COUNT": True})
    request = c.create_infer_request()
    request.infer(inputs)  # warm-up: kernels compiled, algorithms chosen
    per_node: dict[int, list[float]] = {}
    kinds: dict[int, tuple[str, str]] = {}
    for _ in range(runs):
        request.infer(inputs)
        for i, p in enumerate(request.get_profiling_info()):
            if p.status.name == "EXECUTED":
                per_node.setdefault(i, []).append(p.real_time.total_seconds() * 1e3)
                kinds[i] = (p.node_type, p.exec_type)
    totals: dict[tuple[str, str], list] = {}
    for i, times in per_node.items():
        entry = totals.setdefault(kinds[i], [0, 0.0])
        entry[0] += 1
        entry[1] += float(np.median(times))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][1])[:top]
    return [[t, e, n, round(ms, 4)] for (t, e), (n, ms) in ranked]


def _jax_gpu() -> Any:
    try:
        import jax

        return jax if jax.devices("gpu") else None
    except Exception:  # noqa: BLE001 - no jax, or no GPU platform in it
        return None


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = (f"{'model':<10} {'batch':>5} {'prec':>4} | {'arrayrt ms':>10} {'torch ms':>9} {'lat ratio':>9} | "
            f"{'arrayrt /s':>10} {'torch /s':>9} {'tput ratio':>10} | {'host ms a/t':>13} | {'max diff':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['model']:<10} {r['batch']:>5} {r['precision']:>4} | error: {r['error']}")
            continue
        lines.append(
            f"{r['model']:<10} {r['batch']:>5} {r['precision']:>4} | {r['arrayrt_device_ms']:>10.3f} "
            f"{r['torch_device_ms']:>9.3f} {r['latency_ratio']:>9.2f} | {r['throughput_per_s']:>10.0f} "
            f"{r['torch_throughput_per_s']:>9.0f} {r['throughput_ratio']:>10.2f} | "
            f"{r['arrayrt_host_ms']:>6.2f}/{r['torch_host_ms']:<6.2f} | {r['max_abs_diff_vs_torch']:>9.2e}"
            + (f" | NPU {r['npu_device_ms']:.3f} ms ({r['npu_latency_ratio']:.2f}x)"
               if "npu_device_ms" in r else "")
            + (f" | no cuDNN {r['arrayrt_im2col_device_ms']:.3f} ms" if "arrayrt_im2col_device_ms" in r else "")
            + ("" if str(r.get("cuda_graph", "captured")).startswith("captured") else f" | {r['cuda_graph']}"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="resnet18,bert_tiny")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--precisions", default="f32,f16")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--npu", action="store_true", help="also NPU (jax) when jax has a GPU platform")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the per-node device profile of configurations that miss their bar")
    p.add_argument("--no-im2col", dest="im2col", action="store_false",
                   help="skip timing convolution models a second time without cuDNN (GPU_USE_CUDNN=NO)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    try:
        import cupy as cp
        import torch
    except ImportError as exc:
        print(f"needs CuPy and PyTorch with CUDA: {exc}", file=sys.stderr)
        return 2
    if not torch.cuda.is_available() or cp.cuda.runtime.getDeviceCount() < 1:
        print("needs a CUDA device visible to CuPy and PyTorch", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    name = cp.cuda.runtime.getDeviceProperties(0)["name"]
    device = name.decode() if isinstance(name, bytes) else str(name)
    jax = _jax_gpu() if args.npu else None
    cls = backends.backend_class("cupy")
    cudnn = cls.libraries(cp)["cudnn"] if cls is not None else None
    convs = "im2col + cuBLAS (no cuDNN)" if cudnn is None else getattr(cudnn, "__name__", None) or repr(cudnn)
    print(f"device: {device}; CuPy {cp.__version__}, PyTorch {torch.__version__}"
          + (f", jax {jax.__version__}" if jax is not None else "") + f"; arrayrt convolutions on {convs}",
          flush=True)
    rows = []
    for model in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for precision in args.precisions.split(","):
                try:
                    rows.append(bench_one(model, batch, precision, args, cp, torch, jax))
                except Exception as exc:  # noqa: BLE001 - one failing configuration must not hide the rest
                    rows.append({"model": model, "batch": batch, "precision": precision,
                                 "error": f"{type(exc).__name__}: {exc}"[:200]})
                print(table(rows[-1:]).splitlines()[-1], flush=True)
                if args.json:  # after every row: a run cut short still leaves what it measured
                    with open(args.json, "w") as f:
                        json.dump({"device": device, "convolutions": convs, "rows": rows}, f, indent=1)
    print(table(rows))
    for r in rows:
        if r.get("profile"):
            print(f"{r['model']} b{r['batch']} {r['precision']} (missed its bar), device time by node kind: "
                  + ", ".join(f"{t} [{e}] x{n} {ms:.3f} ms" for t, e, n, ms in r["profile"]))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
