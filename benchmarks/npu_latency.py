"""NPU (jax/XLA) against OpenVINO CPU in one process: latency, first compile, per-op dispatch, cache.

    .venv/bin/python benchmarks/npu_latency.py [--models resnet18,mobilenet_v2,bert_tiny] [--rounds 5]
                                               [--runs 10] [--chain 500] [--cache] [--json out.json]

* Latency: each model is built once per library from the same builder and weights
  (``arrayrt.testing.models``); arrayrt compiles it for ``NPU`` and OpenVINO for ``CPU``, both with
  ``INFERENCE_PRECISION_HINT=f32`` and the LATENCY hint. ``--rounds`` times, ``--runs`` inferences of
  one then of the other, so both see the same machine load; medians over all runs and their ratio
  (NPU / OpenVINO) are printed, with the first compile time of NPU (all of ``compile_model``, and
  the XLA compilation inside it) and the largest output difference.
* Dispatch: a chain of ``--chain`` ``Add`` on a 1x16 tensor, per op, on NPU and OpenVINO; for NPU
  also with the input already on the device and the result left there (``KEEP_ON_DEVICE``), which
  on a GPU removes the two host transfers every numpy-in/numpy-out inference pays.
* ``--cache``: ResNet-18 compiled for NPU with a fresh ``CACHE_DIR`` in two processes one after the
  other: the second reads XLA's persistent compilation cache.

The error table of docs/numerics.md is ``benchmarks/npu_numerics.py``.

Device names the machine jax runs on (``jax.devices()[0]``); OpenVINO always runs on the CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from arrayrt.testing import models as M

CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}


def _times(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def alternate(a, b, rounds: int, runs: int, warmup: int = 3) -> tuple[float, float]:
    """Median milliseconds of ``a()`` and ``b()``, run in alternating blocks."""
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(rounds):
        ta += _times(a, runs)
        tb += _times(b, runs)
    return float(np.median(ta)), float(np.median(tb))


def latency(name: str, rounds: int, runs: int) -> dict:
    import openvino as ov
    import openvino.opset16 as ovops

    import arrayrt
    import arrayrt.opset as arops

    builder = M.BENCHMARK_MODELS[name]
    ov_model = M.make_model(ovops, builder, name)
    ar_model = M.make_model(arops, builder, name)
    inputs = M.sample_inputs(ov_model)
    t = time.perf_counter()
    npu = arrayrt.Core().compile_model(ar_model, "NPU", CONFIG)
    compile_s = time.perf_counter() - t
    xla_s = npu._plan.fn.compile_seconds
    ov_c = ov.Core().compile_model(ov_model, "CPU", CONFIG)
    npu_req, ov_req = npu.create_infer_request(), ov_c.create_infer_request()
    diff = float(np.max(np.abs(npu_req.infer(inputs)[0] - ov_req.infer(inputs)[0])))
    npu_ms, ov_ms = alternate(lambda: npu_req.infer(inputs), lambda: ov_req.infer(inputs), rounds, runs)
    return {"model": name, "npu_ms": npu_ms, "openvino_ms": ov_ms, "ratio": npu_ms / ov_ms,
            "max_abs_diff": diff, "first_compile_s": compile_s, "xla_compile_s": xla_s}


def add_chain(n: int, rounds: int, runs: int) -> dict:
    """Per-op time of ``n`` chained Adds: NPU from and to numpy (each inference moves the input to
    the device and the result back), NPU with the input on the device and ``KEEP_ON_DEVICE``
    (the program alone, waited for), and OpenVINO."""
    import jax
    import openvino as ov
    import openvino.opset16 as ovops

    import arrayrt
    import arrayrt.opset as arops

    x = np.ones((1, 16), np.float32)
    models = []
    for ops in (arops, ovops):
        p = ops.parameter([1, 16], np.float32, name="x")
        h = p
        c = np.full((1, 16), 1e-3, np.float32)
        for _ in range(n):
            h = ops.add(h, c)
        models.append((h, p))
    (h, p), (oh, op) = models
    npu = arrayrt.Core().compile_model(arrayrt.Model([h], [p]), "NPU", CONFIG).create_infer_request()
    kept = arrayrt.Core().compile_model(arrayrt.Model([h], [p]), "NPU", {**CONFIG, "KEEP_ON_DEVICE": True})
    kept_req = kept.create_infer_request()
    ov_req = ov.Core().compile_model(ov.Model([oh], [op]), "CPU", CONFIG).create_infer_request()
    xd = jax.device_put(x)
    npu_ms, ov_ms = alternate(lambda: npu.infer([x]), lambda: ov_req.infer([x]), rounds, runs * 20)
    kept_ms, _ = alternate(lambda: kept_req.infer([xd])[0].data.block_until_ready(), lambda: None, rounds,
                           runs * 20)
    return {"ops": n, "npu_us_per_op": npu_ms * 1e3 / n, "npu_on_device_us_per_op": kept_ms * 1e3 / n,
            "openvino_us_per_op": ov_ms * 1e3 / n}


_CACHE_CHILD = """
import json, sys, time
import arrayrt, arrayrt.opset as ops
from arrayrt.testing import models as M
model = M.make_model(ops, M.resnet18, "resnet18")
t = time.perf_counter()
c = arrayrt.Core().compile_model(model, "NPU", {"INFERENCE_PRECISION_HINT": "f32", "CACHE_DIR": sys.argv[1]})
print(json.dumps({"compile_s": time.perf_counter() - t, "xla_s": c._plan.fn.compile_seconds}))
"""


def persistent_cache() -> dict:
    """ResNet-18's NPU compile time in a first and a second process sharing a fresh CACHE_DIR."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}  # this process may hold a GPU's memory
    with tempfile.TemporaryDirectory() as d:
        runs = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", _CACHE_CHILD, d], capture_output=True, text=True,
                               env=env)
            if r.returncode:
                raise RuntimeError(f"the cache measurement's child failed:\n{r.stderr[-2000:]}")
            runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        files = sum(1 for p in Path(d).rglob("*") if p.is_file())
    return {"first_process": runs[0], "second_process": runs[1], "cache_files": files}


def main(argv: list[str] | None = None) -> int:
    import arrayrt.backends.jax  # noqa: F401 - sets its XLA_FLAGS before jax.devices() starts XLA
    import jax

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(M.BENCHMARK_MODELS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--chain", type=int, default=500)
    ap.add_argument("--cache", action="store_true", help="measure the persistent compilation cache")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    device = str(jax.devices()[0])
    results: dict = {"jax_device": device, "latency": []}
    print(f"NPU on {device}; OpenVINO on CPU; f32 hint, LATENCY")
    print(f"{'model':14s} {'NPU ms':>9s} {'OpenVINO ms':>12s} {'ratio':>6s} {'max|diff|':>10s} "
          f"{'compile s':>10s} {'(XLA s)':>8s}")
    for name in [m for m in args.models.split(",") if m]:
        r = latency(name, args.rounds, args.runs)
        results["latency"].append(r)
        print(f"{name:14s} {r['npu_ms']:9.3f} {r['openvino_ms']:12.3f} {r['ratio']:6.2f} "
              f"{r['max_abs_diff']:10.2e} {r['first_compile_s']:10.2f} {r['xla_compile_s']:8.2f}")
    if args.chain:
        chain = add_chain(args.chain, args.rounds, args.runs)
        results["add_chain"] = chain
        print(f"{chain['ops']} x Add on 1x16: NPU {chain['npu_us_per_op']:.3f} us/op (input and output on "
              f"the device: {chain['npu_on_device_us_per_op']:.3f}), "
              f"OpenVINO {chain['openvino_us_per_op']:.3f} us/op")
    if args.cache:
        cache = persistent_cache()
        results["persistent_cache"] = cache
        first, second = cache["first_process"], cache["second_process"]
        print(f"ResNet-18 NPU compile with a fresh CACHE_DIR: first process {first['compile_s']:.2f} s "
              f"(XLA {first['xla_s']:.2f} s), second process {second['compile_s']:.2f} s "
              f"(XLA {second['xla_s']:.2f} s), {cache['cache_files']} cache files")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
