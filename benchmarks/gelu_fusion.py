"""An exported GELU (``x * (1 + erf(x / sqrt 2)) * 0.5``, PyTorch's ONNX export before opset 20) on
CPU: arrayrt with the Gelu fusion, without it, and OpenVINO (whose CPU plugin fuses it too).

    .venv/bin/python benchmarks/gelu_fusion.py [--shape 1,128,512] [--runs 300]

Each is timed in its own fresh process (median of ``--runs`` sync inferences), and the fused and
unfused arrayrt results are compared.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np


def build(ops, shape):
    f = np.float32
    x = ops.parameter(shape, f, name="x")
    e = ops.erf(ops.divide(x, np.array(math.sqrt(2), f)))
    return ops.multiply(ops.multiply(x, ops.add(e, np.array(1, f))), np.array(0.5, f)), x


def child(kind: str, shape: list[int], runs: int) -> dict:
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    if kind == "openvino":
        from arrayrt.testing import silence_openvino_telemetry

        silence_openvino_telemetry()  # no telemetry forks beside BLAS threads
        import openvino as ov
        import openvino.opset16 as ovops

        y, p = build(ovops, shape)
        compiled = ov.Core().compile_model(ov.Model([y], [p]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    else:
        import arrayrt as ar
        import arrayrt.ir.passes.gelu_fusion as gf
        import arrayrt.opset as ops

        if kind == "arrayrt-unfused":
            gf.fuse_gelu = lambda model, record=False: 0
        y, p = build(ops, shape)
        compiled = ar.compile_model(ar.Model([y], [p]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    for _ in range(20):
        request.infer([x])
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        request.infer([x])
        times.append(time.perf_counter() - t)
    out = np.asarray(request.infer([x])[0])
    return {"us": float(np.median(times)) * 1e6, "checksum": float(np.sum(out, dtype=np.float64))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="1,128,512")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    shape = [int(d) for d in args.shape.split(",")]
    if args.child:
        print(json.dumps(child(args.child, shape, args.runs)))
        return 0
    res = {}
    for kind in ("arrayrt-unfused", "arrayrt", "openvino"):
        out = subprocess.run([sys.executable, __file__, "--child", kind, "--shape", args.shape, "--runs",
                              str(args.runs)], capture_output=True, text=True, check=True)
        res[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    for kind, r in res.items():
        print(f"{kind:16s} {r['us']:9.1f} us")
    print(f"fusion speed-up {res['arrayrt-unfused']['us'] / res['arrayrt']['us']:.1f}x; arrayrt / OpenVINO "
          f"{res['arrayrt']['us'] / res['openvino']['us']:.2f}; checksums "
          + ", ".join(f"{r['checksum']:.4f}" for r in res.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
