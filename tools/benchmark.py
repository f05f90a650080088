"""``arrayrt benchmark``: latency and throughput in OpenVINO benchmark_app's layout.

    arrayrt benchmark -m model.xml -d CPU -hint latency -t 10

Prints benchmark_app's steps and its summary lines (Count, Duration, Latency Median/Average/Min/
Max, Throughput). Work queued on asynchronous devices is synchronised before each clock stops.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from arrayrt import AsyncInferQueue, Core
from arrayrt.tools.infer import random_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", required=True, help="IR .xml or .onnx")
    p.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    p.add_argument("-hint", "--hint", default=None,
                   choices=["latency", "throughput", "tput", "cumulative_throughput", "ctput", "none"],
                   help="performance hint (default: throughput, as benchmark_app)")
    p.add_argument("-t", "--time", type=float, default=None, help="seconds to run (default 10 unless -niter)")
    p.add_argument("-niter", "--niter", type=int, default=None, help="number of iterations")
    p.add_argument("-nireq", "--nireq", type=int, default=0, help="infer requests (async API)")
    p.add_argument("-api", "--api", choices=["sync", "async"], default=None,
                   help="sync or async (default: sync for latency, async otherwise)")
    p.add_argument("-i", "--input", help=".npz of inputs keyed by input name (default: random data)")
    p.add_argument("-infer_precision", "--infer_precision", help="INFERENCE_PRECISION_HINT: f32, f16, bf16")
    p.add_argument("-json_stats", "--json_stats", help="write the statistics as JSON to this file")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")


def _info(msg: str) -> None:
    print(f"[ INFO ] {msg}")


def _step(i: int, msg: str) -> None:
    print(f"[Step {i}/11] {msg}")


def run(args: argparse.Namespace) -> int:
    hint = (args.hint or "throughput").upper().replace("TPUT", "THROUGHPUT")
    hint = {"CTHROUGHPUT": "CUMULATIVE_THROUGHPUT"}.get(hint, hint)
    if args.hint is None:
        print("[ WARNING ] Performance hint was not explicitly specified in command line. "
              "Device(CPU) performance hint will be set to THROUGHPUT.")
    api = args.api or ("sync" if hint == "LATENCY" else "async")
    core = Core()
    _step(1, "Parsing and validating input arguments")
    _step(2, "Loading arrayrt Runtime")
    from arrayrt import __version__

    _info(f"arrayrt: {__version__}")
    _step(3, "Setting device configuration")
    config: dict = {}
    if hint != "NONE":
        config["PERFORMANCE_HINT"] = hint
    if args.infer_precision:
        config["INFERENCE_PRECISION_HINT"] = args.infer_precision
    _step(4, "Reading model files")
    t0 = time.perf_counter()
    model = core.read_model(args.model)
    _info(f"Read model took {(time.perf_counter() - t0) * 1e3:.2f} ms")
    _step(5, "Resizing model to match image sizes and given batch")
    _step(6, "Configuring input of the model")
    for p in model.inputs:
        _info(f"    {p.get_any_name() if p.get_names() else p.node.friendly_name} : "
              f"{p.get_element_type()} / {p.get_partial_shape()}")
    _step(7, "Loading the model to the device")
    t0 = time.perf_counter()
    compiled = core.compile_model(model, args.device, config)
    _info(f"Compile model took {(time.perf_counter() - t0) * 1e3:.2f} ms")
    _step(8, "Querying optimal runtime parameters")
    nireq = args.nireq or int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    _info(f"  PERFORMANCE_HINT: {compiled.get_property('PERFORMANCE_HINT')}")
    _info(f"  NUM_STREAMS: {compiled.get_property('NUM_STREAMS')}")
    _step(9, "Creating infer requests and preparing input tensors")
    if args.input:
        with np.load(args.input, allow_pickle=False) as npz:
            inputs = {k: npz[k] for k in npz.files}
    else:
        inputs = random_inputs(compiled, args.seed)
    limit_iter = args.niter
    limit_time = args.time if args.time is not None else (None if args.niter else 10.0)
    _step(10, f"Measuring performance ({'sync' if api == 'sync' else 'async'} inference, {nireq} "
              f"inference requests, limits: {limit_iter or '-'} iterations, "
              f"{'%g s' % limit_time if limit_time else '-'})")
    request = compiled.create_infer_request()
    t0 = time.perf_counter()
    request.infer(inputs)
    first = time.perf_counter() - t0
    _info(f"First inference took {first * 1e3:.2f} ms")
    latencies: list[float] = []
    start = time.perf_counter()
    if api == "sync":
        while not _done(len(latencies), time.perf_counter() - start, limit_iter, limit_time):
            s = time.perf_counter()
            request.infer(inputs)
            latencies.append(time.perf_counter() - s)
    else:
        queue = AsyncInferQueue(compiled, nireq)
        stamps: dict[int, float] = {}

        def done(req, userdata):
            latencies.append(time.perf_counter() - stamps.pop(userdata))

        queue.set_callback(done)
        n = 0
        while not _done(n, time.perf_counter() - start, limit_iter, limit_time):
            stamps[n] = time.perf_counter()
            queue.start_async(inputs, n)
            n += 1
        queue.wait_all()
    duration = time.perf_counter() - start
    _step(11, "Dumping statistics report")
    stats = report(latencies, duration, compiled.get_property("EXECUTION_DEVICES"))
    if args.json_stats:
        with open(args.json_stats, "w") as f:
            json.dump({"first_inference_ms": first * 1e3, **stats}, f, indent=2)
    return 0


def _done(n: int, elapsed: float, niter: int | None, seconds: float | None) -> bool:
    if niter is not None and n >= niter:
        return True
    return seconds is not None and elapsed >= seconds


def report(latencies: list[float], duration: float, devices: list[str]) -> dict:
    """Print benchmark_app's summary lines; return them as a dict (milliseconds)."""
    if not latencies:
        print("[ ERROR ] no iterations completed", file=sys.stderr)
        return {}
    lat = np.asarray(latencies) * 1e3
    stats = {"count": len(latencies), "duration_ms": duration * 1e3, "latency_median_ms": float(np.median(lat)),
             "latency_average_ms": float(lat.mean()), "latency_min_ms": float(lat.min()),
             "latency_max_ms": float(lat.max()), "throughput_fps": len(latencies) / duration}
    _info(f"Execution Devices:{devices}")
    _info(f"Count:            {stats['count']} iterations")
    _info(f"Duration:         {stats['duration_ms']:.2f} ms")
    _info("Latency:")
    _info(f"   Median:        {stats['latency_median_ms']:.2f} ms")
    _info(f"   Average:       {stats['latency_average_ms']:.2f} ms")
    _info(f"   Min:           {stats['latency_min_ms']:.2f} ms")
    _info(f"   Max:           {stats['latency_max_ms']:.2f} ms")
    _info(f"Throughput:   {stats['throughput_fps']:.2f} FPS")
    return stats
