"""THROUGHPUT (async, several streams) against LATENCY (sync, one stream) on ResNet-18 f32, for
arrayrt and, beside it in the same run, OpenVINO.

    .venv/bin/python benchmarks/throughput.py [--seconds 4] [--rounds 5] [--device CPU]

Each measurement runs in a fresh process (BLAS thread pools are process-wide), and the four
(runtime, hint) measurements alternate over the rounds so that a machine whose speed drifts
affects all of them alike. Prints the median inferences per second of each mode and the ratio
THROUGHPUT / LATENCY per runtime.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from arrayrt.testing import models as M


def fps_sync(compiled, x, seconds: float) -> float:
    req = compiled.create_infer_request()
    req.infer([x])
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        req.infer([x])
        n += 1
    return n / (time.perf_counter() - start)


def fps_async(compiled, queue_cls, x, seconds: float) -> float:
    q = queue_cls(compiled, 0)
    for _ in range(len(q)):
        q.start_async([x])
    q.wait_all()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        q.start_async([x])
        n += 1
    q.wait_all()
    return n / (time.perf_counter() - start)


def measure(lib: str, device: str, hint: str, seconds: float) -> tuple[float, int]:
    """Inferences per second of ``hint`` (LATENCY: sync, one request; THROUGHPUT: an AsyncInferQueue
    of the optimal number of requests) and that number."""
    if lib == "arrayrt":
        import arrayrt as rt
        import arrayrt.opset as ops
    else:
        import openvino as rt
        import openvino.opset16 as ops
    model = M.make_model(ops, M.resnet18, "resnet18")
    x = M.sample_inputs(model)[0]
    dev = device if lib == "arrayrt" else "CPU"
    compiled = rt.Core().compile_model(model, dev, {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": hint})
    if hint == "LATENCY":
        return fps_sync(compiled, x, seconds), 1
    requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    return fps_async(compiled, rt.AsyncInferQueue, x, seconds), requests


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="length of one measurement")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians are reported")
    ap.add_argument("--device", default="CPU")
    ap.add_argument("--child", nargs=3, metavar=("LIB", "HINT", "DEVICE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        fps, requests = measure(args.child[0], args.child[2], args.child[1], args.seconds)
        print(json.dumps({"fps": fps, "requests": requests}))
        return 0
    libs, hints = ("arrayrt", "openvino"), ("LATENCY", "THROUGHPUT")
    runs: dict[tuple[str, str], list[float]] = {(lib, h): [] for lib in libs for h in hints}
    requests: dict[str, int] = {}
    for r in range(args.rounds):
        for lib in libs:
            for hint in hints:
                out = subprocess.run([sys.executable, __file__, "--child", lib, hint, args.device, "--seconds",
                                      str(args.seconds)], capture_output=True, text=True, check=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                runs[lib, hint].append(res["fps"])
                if hint == "THROUGHPUT":
                    requests[lib] = res["requests"]
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{lib} {h} {runs[lib, h][-1]:.1f}"
                                                          for lib in libs for h in hints), file=sys.stderr)
    print(f"{'runtime':10s} {'LATENCY sync FPS':>17s} {'THROUGHPUT async FPS':>21s} {'requests':>9s} {'ratio':>6s}")
    for lib in libs:
        lat, tput = (statistics.median(runs[lib, h]) for h in hints)
        print(f"{lib:10s} {lat:17.2f} {tput:21.2f} {requests[lib]:9d} {tput / lat:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
