"""THROUGHPUT (async, several streams) against LATENCY (sync, one stream) on ResNet-18 f32, for
arrayrt and, beside it in the same run, OpenVINO.

    .venv/bin/python benchmarks/throughput.py [--seconds 10] [--device CPU]

Prints inferences per second of each mode and the ratio THROUGHPUT / LATENCY per runtime.
"""
from __future__ import annotations

import argparse
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


def measure(lib: str, device: str, seconds: float) -> dict:
    if lib == "arrayrt":
        import arrayrt as rt
        import arrayrt.opset as ops
    else:
        import openvino as rt
        import openvino.opset16 as ops
    model = M.make_model(ops, M.resnet18, "resnet18")
    x = M.sample_inputs(model)[0]
    core = rt.Core()
    dev = device if lib == "arrayrt" else "CPU"
    lat = core.compile_model(model, dev, {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    sync = fps_sync(lat, x, seconds)
    del lat
    tput = core.compile_model(model, dev, {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "THROUGHPUT"})
    streams = tput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    asyn = fps_async(tput, rt.AsyncInferQueue, x, seconds)
    return {"lib": lib, "latency_fps": sync, "throughput_fps": asyn, "requests": int(streams),
            "ratio": asyn / sync}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--device", default="CPU")
    args = ap.parse_args(argv)
    print(f"{'runtime':10s} {'LATENCY sync FPS':>17s} {'THROUGHPUT async FPS':>21s} {'requests':>9s} {'ratio':>6s}")
    for lib in ("arrayrt", "openvino"):
        r = measure(lib, args.device, args.seconds)
        print(f"{r['lib']:10s} {r['latency_fps']:17.2f} {r['throughput_fps']:21.2f} {r['requests']:9d} "
              f"{r['ratio']:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
