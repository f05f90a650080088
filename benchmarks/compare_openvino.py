"""arrayrt against real OpenVINO on the same models, in the same run: latency ratios, per-op
dispatch overhead and peak memory.

    .venv/bin/python benchmarks/compare_openvino.py [--models resnet18,mobilenet_v2,bert_tiny]
                                                    [--device CPU] [--repeats 30] [--rounds 3] [--json out.json]

* Latency: each model is built per library from the same builder and weights
  (``arrayrt.testing.models``), compiled for CPU with ``INFERENCE_PRECISION_HINT=f32`` and the
  LATENCY hint. Every timing runs in a fresh process (``--repeats`` sync inferences, median), the two
  runtimes alternating over ``--rounds``; each runtime's median over the rounds, and the median of
  the rounds' ratios (arrayrt / OpenVINO, each round's pair measured back to back) are printed.
  One process per runtime because each keeps worker threads that spin on the 2 cores for a while
  after an inference: timed in one process, each runtime also measures the other's spinning
  threads (per-inference alternation in one process made ResNet-18 look 1.05x, against 1.6-1.7x
  in separate processes). The outputs are compared once, in this process.
* Dispatch overhead: a chain of 500 ``Add`` on a 1x16 tensor, per op, beside a bare Python loop of
  ``numpy.add`` and OpenVINO (and ONNX Runtime when installed).
* Peak RSS: ResNet-18 read from the same IR and run 20 times in a fresh process per runtime
  (``VmHWM`` of that process: unlike ``ru_maxrss`` it does not inherit the parent's peak across
  fork and exec), so neither runtime's libraries count against the other.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from arrayrt.testing import models as M

CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}


def _median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def _latency_child(lib: str, name: str, device: str, repeats: int) -> dict:
    """Median latency (ms) of ``repeats`` sync inferences of ``name`` in this (fresh) process, and
    the compile time."""
    if lib == "arrayrt":
        import arrayrt as rt
        import arrayrt.opset as ops
    else:
        import openvino as rt
        import openvino.opset16 as ops
    model = M.make_model(ops, M.BENCHMARK_MODELS[name], name)
    inputs = M.sample_inputs(model)
    t = time.perf_counter()
    compiled = rt.Core().compile_model(model, device if lib == "arrayrt" else "CPU", CONFIG)
    compile_s = time.perf_counter() - t
    request = compiled.create_infer_request()
    return {"ms": _median_ms(lambda: request.infer(inputs), repeats), "compile_s": compile_s}


def max_abs_diff(name: str, device: str) -> float:
    """Largest output difference of arrayrt against OpenVINO on ``name`` (one inference each)."""
    import openvino as ov
    import openvino.opset16 as ovops

    import arrayrt
    import arrayrt.opset as arops

    ov_model = M.make_model(ovops, M.BENCHMARK_MODELS[name], name)
    inputs = M.sample_inputs(ov_model)
    ours = arrayrt.Core().compile_model(M.make_model(arops, M.BENCHMARK_MODELS[name], name), device, CONFIG)
    theirs = ov.Core().compile_model(ov_model, "CPU", CONFIG)
    return float(np.max(np.abs(np.asarray(ours(inputs)[0]) - np.asarray(theirs(inputs)[0]))))


def latency(name: str, device: str, repeats: int, rounds: int) -> dict:
    runs: dict[str, list[dict]] = {"arrayrt": [], "openvino": []}
    for _ in range(rounds):
        for lib in runs:
            out = subprocess.run([sys.executable, __file__, "--child", lib, name, "--device", device,
                                  "--repeats", str(repeats)], capture_output=True, text=True, check=True)
            runs[lib].append(json.loads(out.stdout.strip().splitlines()[-1]))
    ar_ms, ov_ms = (statistics.median(r["ms"] for r in runs[lib]) for lib in ("arrayrt", "openvino"))
    round_ratios = [a["ms"] / o["ms"] for a, o in zip(runs["arrayrt"], runs["openvino"])]
    # the ratio is paired: each round's two measurements are minutes apart, the machine's drift between
    # rounds is not; the ratio of the two medians can pair a fast round of one with a slow one of the other
    return {"model": name, "arrayrt_ms": ar_ms, "openvino_ms": ov_ms, "ratio": statistics.median(round_ratios),
            "ratio_of_medians": ar_ms / ov_ms, "round_ratios": round_ratios,
            "max_abs_diff": max_abs_diff(name, device),
            "arrayrt_compile_s": statistics.median(r["compile_s"] for r in runs["arrayrt"])}


def add_chain(n: int = 500, repeats: int = 200) -> dict:
    import openvino as ov
    import openvino.opset16 as ovops

    import arrayrt
    import arrayrt.opset as arops

    x = np.ones((1, 16), np.float32)
    out = {}
    for lib, ops in (("arrayrt", arops), ("openvino", ovops)):
        p = ops.parameter([1, 16], np.float32, name="x")
        h = p
        c = np.full((1, 16), 1e-3, np.float32)
        for _ in range(n):
            h = ops.add(h, c)
        if lib == "arrayrt":
            compiled = arrayrt.Core().compile_model(arrayrt.Model([h], [p]), "CPU", CONFIG)
            req = compiled.create_infer_request()
        else:
            compiled = ov.Core().compile_model(ov.Model([h], [p]), "CPU", CONFIG)
            req = compiled.create_infer_request()
        out[lib] = _median_ms(lambda: req.infer([x]), repeats) * 1e3 / n
    c = np.full((1, 16), 1e-3, np.float32)

    def bare():
        h = x
        for _ in range(n):
            h = np.add(h, c)
        return h

    out["numpy_loop"] = _median_ms(bare, repeats) * 1e3 / n
    try:
        out["onnxruntime"] = _ort_chain(n, repeats)
    except ImportError:
        pass
    return {k + "_us_per_op": v for k, v in out.items()}


def _ort_chain(n: int, repeats: int) -> float:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    nodes, prev = [], "x"
    init = [helper.make_tensor("c", TensorProto.FLOAT, [1, 16], [1e-3] * 16)]
    for i in range(n):
        nodes.append(helper.make_node("Add", [prev, "c"], [f"t{i}"]))
        prev = f"t{i}"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 16])], init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(onnx._serialize(m) if hasattr(onnx, "_serialize") else m.SerializeToString(),
                             opts, providers=["CPUExecutionProvider"])
    x = np.ones((1, 16), np.float32)
    return _median_ms(lambda: s.run(None, {"x": x}), repeats) * 1e3 / n


_RSS_CHILD = """
import sys, numpy as np
lib, xml = sys.argv[1], sys.argv[2]
x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
if lib == "arrayrt":
    import arrayrt
    c = arrayrt.Core().compile_model(xml, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
else:
    import openvino as ov
    c = ov.Core().compile_model(xml, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
for _ in range(20):
    c([x])
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")))
"""


def peak_rss() -> dict:
    import openvino as ov
    import openvino.opset16 as ovops

    with tempfile.TemporaryDirectory() as d:
        xml = str(Path(d) / "resnet18.xml")
        ov.save_model(M.make_model(ovops, M.resnet18, "resnet18"), xml, compress_to_fp16=False)
        out = {}
        for lib in ("arrayrt", "openvino"):
            r = subprocess.run([sys.executable, "-c", _RSS_CHILD, lib, xml], capture_output=True, text=True,
                               check=True)
            out[f"{lib}_peak_rss_mb"] = int(r.stdout.strip().splitlines()[-1]) / 1024
    out["rss_ratio"] = out["arrayrt_peak_rss_mb"] / out["openvino_peak_rss_mb"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(M.BENCHMARK_MODELS))
    ap.add_argument("--device", default="CPU")
    ap.add_argument("--repeats", type=int, default=30, help="inferences per timed process")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per runtime and model, alternating")
    ap.add_argument("--child", nargs=2, metavar=("LIB", "MODEL"), help=argparse.SUPPRESS)
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_latency_child(*args.child, args.device, args.repeats)))
        return 0
    results: dict = {"latency": []}
    print(f"{'model':14s} {'arrayrt ms':>11s} {'OpenVINO ms':>12s} {'ratio':>6s} {'max|diff|':>10s} {'compile s':>9s}")
    for name in args.models.split(","):
        r = latency(name, args.device, args.repeats, args.rounds)
        results["latency"].append(r)
        print(f"{name:14s} {r['arrayrt_ms']:11.3f} {r['openvino_ms']:12.3f} {r['ratio']:6.2f} "
              f"{r['max_abs_diff']:10.2e} {r['arrayrt_compile_s']:9.2f}   rounds: "
              + " ".join(f"{q:.2f}" for q in r["round_ratios"]))
    chain = add_chain()
    results["add_chain"] = chain
    print("500 x Add on 1x16, us per op: " + ", ".join(f"{k[:-10]} {v:.3f}" for k, v in chain.items()))
    if not args.skip_rss:
        rss = peak_rss()
        results["rss"] = rss
        print(f"ResNet-18 peak RSS: arrayrt {rss['arrayrt_peak_rss_mb']:.0f} MB, OpenVINO "
              f"{rss['openvino_peak_rss_mb']:.0f} MB, ratio {rss['rss_ratio']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
