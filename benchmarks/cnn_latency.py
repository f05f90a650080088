"""ResNet-18 and MobileNetV2 (1x3x224x224, f32) latency: arrayrt's numpy backend against OpenVINO CPU.

    .venv/bin/python benchmarks/cnn_latency.py [--runs N] [--models resnet18,mobilenet_v2] [--profile]

Both libraries build the same architecture with the same weights (``arrayrt.testing.models``), compile
for CPU with f32 precision and the LATENCY hint, and run single synchronous inferences, alternating
between the two so both see the same machine load. Medians (and minima), their ratio and the largest
output difference are printed; ``--profile`` adds arrayrt's time per op type.

Both runtimes run in this one process, so each also measures the other's spinning worker threads and
the ratio comes out flattering (ResNet-18 1.05x here against 1.5-2.0x in separate processes): for the
ratio use ``benchmarks/compare_openvino.py``, which times each runtime in a fresh process; this script
is for the profile.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np

from arrayrt.testing import silence_openvino_telemetry

silence_openvino_telemetry()  # before openvino's import sends its event from a forked child

import openvino as ov  # noqa: E402
import openvino.opset16 as ovops  # noqa: E402

import arrayrt  # noqa: E402
import arrayrt.opset as ops  # noqa: E402
from arrayrt.testing.models import make_model, mobilenet_v2, resnet18  # noqa: E402

CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
MODELS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2}


def timed(fn, inputs) -> float:
    t = time.perf_counter()
    fn(inputs)
    return (time.perf_counter() - t) * 1e3


def profile(model, inputs, runs: int) -> None:
    compiled = arrayrt.Core().compile_model(model, "CPU", {**CONFIG, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    request.infer(inputs)
    totals: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        request.infer(inputs)
        per_type: dict[str, float] = defaultdict(float)
        for rec in request.get_profiling_info():
            per_type[rec.node_type] += rec.real_seconds
        for name, t in per_type.items():
            totals[name].append(t * 1e3)
    for name, ts in sorted(totals.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"    {name:<20s} median {statistics.median(ts):8.3f} ms   min {min(ts):8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for name in args.models.split(","):
        builder = MODELS[name]
        ov_model = make_model(ovops, builder, name)
        inputs = [np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)]
        theirs = ov.Core().compile_model(ov_model, "CPU", CONFIG)
        ours = arrayrt.Core().compile_model(make_model(ops, builder, name), "CPU", CONFIG)
        expected = np.asarray(theirs(inputs)[0])
        err = float(np.max(np.abs(np.asarray(ours(inputs)[0]) - expected)) / np.max(np.abs(expected)))
        for _ in range(3):
            theirs(inputs)
            ours(inputs)
        t_ov, t_ours = [], []
        for _ in range(args.runs):
            t_ov.append(timed(theirs, inputs))
            t_ours.append(timed(ours, inputs))
        m_ov, m_ours = statistics.median(t_ov), statistics.median(t_ours)
        print(f"{name:<13s} openvino {m_ov:7.2f} ms (min {min(t_ov):6.2f})   arrayrt {m_ours:7.2f} ms "
              f"(min {min(t_ours):6.2f})   ratio {m_ours / m_ov:5.2f} "
              f"(of minima {min(t_ours) / min(t_ov):5.2f})   max rel err {err:.1e}")
        if args.profile:
            profile(make_model(ops, builder, name), inputs, args.runs)


if __name__ == "__main__":
    main()
