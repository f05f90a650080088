"""Scratch benchmark: BERT-tiny-like encoder latency, arrayrt (numpy) against OpenVINO CPU.

Builds :func:`arrayrt.testing.models.bert_tiny` with ``openvino.opset16`` and with ``arrayrt.opset``,
compiles both for CPU (f32, LATENCY), checks they agree, and prints the median latency of each and
their ratio. The two are timed in alternating blocks of ``--runs`` inferences, ``--repeat`` times, and
each keeps its best block median (robust to other work on the machine). ``--profile`` adds
arrayrt's time per op type.

Both runtimes run in this one process, so each also measures the other's spinning worker threads and
the ratio comes out flattering (ResNet-18 1.05x here against 1.5-2.0x in separate processes): for the
ratio use ``benchmarks/compare_openvino.py``, which times each runtime in a fresh process; this script
is for the profile.

    .venv/bin/python benchmarks/bert_latency.py [--runs 200] [--repeat 5] [--profile]
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}


def median_ms(fn, runs: int, warmup: int = 30) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


def profile(model, inputs, runs: int) -> None:
    import arrayrt

    compiled = arrayrt.Core().compile_model(model, "CPU", {**CONFIG, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    by_type: dict[str, list[float]] = defaultdict(list)
    for i in range(runs):
        request.infer(inputs)
        if i >= runs // 4:
            for rec in request.get_profiling_info():
                if rec.status.name == "EXECUTED":
                    by_type[f"{rec.node_type} ({rec.exec_type})"].append(rec.real_seconds)
    n = runs - runs // 4
    rows = sorted(((sum(v) / n * 1e3, len(v) // n, k) for k, v in by_type.items()), reverse=True)
    print("arrayrt per op type (ms per inference, nodes):")
    for ms, count, key in rows:
        print(f"  {ms:7.3f}  {count:3d}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from arrayrt.testing import silence_openvino_telemetry

    silence_openvino_telemetry()  # no telemetry forks beside BLAS threads
    import openvino as ov
    import openvino.opset16 as ov_ops

    import arrayrt
    import arrayrt.opset as ar_ops
    from arrayrt.testing.models import bert_tiny, make_model, sample_inputs

    ov_model = make_model(ov_ops, bert_tiny, "bert_tiny")
    ar_model = make_model(ar_ops, bert_tiny, "bert_tiny")
    inputs = sample_inputs(ov_model)

    ov_request = ov.Core().compile_model(ov_model, "CPU", CONFIG).create_infer_request()
    ar_request = arrayrt.Core().compile_model(ar_model, "CPU", CONFIG).create_infer_request()
    want = np.asarray(ov_request.infer(inputs)[0])
    got = np.asarray(ar_request.infer(inputs)[0])
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)

    ov_ms = ar_ms = float("inf")
    for _ in range(args.repeat):
        ov_ms = min(ov_ms, median_ms(lambda: ov_request.infer(inputs), args.runs))
        ar_ms = min(ar_ms, median_ms(lambda: ar_request.infer(inputs), args.runs))
    print(f"OpenVINO CPU f32 LATENCY  median {ov_ms:.3f} ms")
    print(f"arrayrt numpy             median {ar_ms:.3f} ms")
    print(f"ratio arrayrt / OpenVINO  {ar_ms / ov_ms:.2f}x  (max |diff| {np.abs(got - want).max():.2e})")
    if args.profile:
        profile(ar_model, inputs, args.runs)


if __name__ == "__main__":
    main()
