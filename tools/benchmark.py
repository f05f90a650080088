"""``arrayrt benchmark``: latency and throughput with OpenVINO benchmark_app's flags and output.

    arrayrt benchmark -m model.xml -d CPU -hint latency -t 10 -pc
    arrayrt benchmark -m model.xml -d NPU -shape "image[8,1,8,8]" -report_type average_counters

The 11 steps and the summary lines (Count, Duration, Latency Median/Average/Min/Max, Throughput)
are benchmark_app's, so scripts that parse its output parse this one. Where they differ:

* latencies are always printed in ms (benchmark_app switches to us below 1 ms);
* ``-json_stats`` alone makes the reports JSON, as in benchmark_app; ``-json_stats FILE`` also
  writes the summary to FILE;
* ``-pc`` averages each node's time over every measured inference and sorts the rows by time
  (``-pcsort no_sort`` keeps execution order); the rows add up to the plan's compute, the
  latency adds input checks and the copy of the outputs to the host;
* the iteration count is not rounded up to a multiple of ``-nireq``; with both ``-niter`` and
  ``-t`` the run ends when both are reached, as benchmark_app's does; the default is 10 s;
* ``-exec_graph_path`` writes the plan's own graph (fused ops, each with its ``execType``, device
  and precision in ``rt_info``) as IR, without the arrays the plan folded into a fused op;
  ``-dump_config`` writes the config given to ``compile_model``, in ``-load_config``'s form.

Latency is the wall time of one ``infer()`` (sync) or from ``start_async`` to its callback
(async). Outputs come back to the host (numpy) before a clock stops, which waits for the device;
with ``KEEP_ON_DEVICE`` the device arrays are waited for and the backend synchronised.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import threading
import time
from typing import Any

import numpy as np
from arrayrt.ir.shape import Dimension, PartialShape

from arrayrt import AsyncInferQueue, Core
from arrayrt.errors import ArrayrtError, InferenceInputError
from arrayrt.runtime.tensor import Tensor

REPORT_TYPES = ("no_counters", "average_counters", "detailed_counters")
DEFAULT_SECONDS = 10.0


def _str2bool(v: str) -> bool:
    if v.lower() in ("true", "yes", "1"):
        return True
    if v.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{v}'")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", required=True,
                   help="IR .xml, .onnx, or a compiled model from CompiledModel.export_model (imported: no reshape)")
    p.add_argument("-d", "--device", default="CPU", help="device (default CPU; HETERO:a,b, AUTO, MULTI:a,b)")
    p.add_argument("-hint", "--hint", default=None,
                   choices=["latency", "throughput", "tput", "cumulative_throughput", "ctput", "none"],
                   help="performance hint (default: throughput, as benchmark_app)")
    p.add_argument("-niter", "--niter", type=int, default=None,
                   help="number of iterations (0: compile only)")
    p.add_argument("-t", "--time", type=float, default=None,
                   help=f"seconds to run (default {DEFAULT_SECONDS:g} unless -niter)")
    p.add_argument("-nireq", "--nireq", type=int, default=0, help="infer requests (async API)")
    p.add_argument("-nstreams", "--nstreams", help="NUM_STREAMS: 'n' or per device 'CPU:2,NPU:1'")
    p.add_argument("-api", "--api", choices=["sync", "async"], default=None,
                   help="sync or async (default: sync for latency, async otherwise)")
    p.add_argument("-b", "--batch_size", type=int, default=None,
                   help="batch: the first dimension of every input")
    p.add_argument("-shape", "--shape", default="",
                   help="model input shapes: 'in[1,3,224,224],in2[1,4]' or '[1,3,224,224]' "
                        "(dims may be ?, -1 or lo..hi)")
    p.add_argument("-data_shape", "--data_shape", default="",
                   help="shapes of the data for dynamic inputs, cycled over iterations: "
                        "'in[1,3,224,224][1,3,448,448]'")
    p.add_argument("-i", "--input", help=".npz of inputs keyed by input name, or .npy for a one-input model "
                                         "(default: random data)")
    p.add_argument("-infer_precision", "--infer_precision",
                   help="INFERENCE_PRECISION_HINT: 'f16' or per device 'CPU:f32,NPU:f16'")
    p.add_argument("-pc", "--perf_counts", type=_str2bool, nargs="?", const=True, default=False,
                   help="per-op performance counters (PERF_COUNT; on NPU the plan then runs op by op)")
    p.add_argument("-pcsort", "--perf_counts_sort", choices=["sort", "no_sort", "simple_sort"], default="sort",
                   help="counter order: by time (sort, default), execution order (no_sort), "
                        "executed nodes in execution order (simple_sort)")
    p.add_argument("-report_type", "--report_type", choices=REPORT_TYPES,
                   help="write benchmark_report.csv (+ counters for average/detailed_counters)")
    p.add_argument("-report_folder", "--report_folder", default="", help="folder of the reports (created)")
    p.add_argument("-json_stats", "--json_stats", nargs="?", const=True, default=None, metavar="FILE",
                   help="reports as JSON instead of CSV; with FILE, also write the summary there")
    p.add_argument("-latency_percentile", "--latency_percentile", type=int, default=50,
                   help="percentile reported as the latency (1..100, default 50: the median)")
    p.add_argument("-no_warmup", "--no_warmup", action="store_true", help="skip the first (warm-up) inference")
    p.add_argument("-progress", "--progress", type=_str2bool, nargs="?", const=True, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("-nthreads", "--nthreads", type=int, default=None,
                   help="INFERENCE_NUM_THREADS: threads for inference (default: the device's choice)")
    p.add_argument("-cache_dir", "--cache_dir", default=None, help="CACHE_DIR (NPU: XLA's persistent cache)")
    p.add_argument("-load_config", "--load_config", default=None,
                   help="JSON {device: {property: value}} set on the devices before compiling")
    p.add_argument("-dump_config", "--dump_config", default=None,
                   help="write the compile config as JSON {device: {property: value}} (a -load_config file)")
    p.add_argument("-exec_graph_path", "--exec_graph_path", default=None,
                   help="write the executed graph (get_runtime_model: device, exec type, precision per node) as IR")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")


def _info(msg: str) -> None:
    print(f"[ INFO ] {msg}")


def _warn(msg: str) -> None:
    print(f"[ WARNING ] {msg}")


def _step(i: int, msg: str) -> None:
    print(f"[Step {i}/11] {msg}", flush=True)


def _ms(v: float) -> str:
    return f"{v:.2f}" if v >= 1.0 else f"{v:.4f}"


# --- arguments ---------------------------------------------------------------------------------
_SHAPES = re.compile(r"([^\[\],]*)((?:\[[^\]]*\])+)")


def parse_shapes(spec: str, option: str) -> dict[str, list[str]]:
    """``'a[1,3][2,3],b[4]'`` -> ``{'a': ['1,3', '2,3'], 'b': ['4']}``; a nameless group is keyed ''."""
    out: dict[str, list[str]] = {}
    rest = spec.strip()
    while rest:
        m = _SHAPES.match(rest)
        if m is None:
            raise ArrayrtError(f"{option}: cannot parse '{rest}': expected name[d0,d1,...] groups")
        out[m.group(1).strip()] = re.findall(r"\[([^\]]*)\]", m.group(2))
        rest = rest[m.end():].lstrip(", ")
    return out


def per_device(spec: str | None, device: str, option: str) -> str | None:
    """A value for ``device`` from ``'v'`` or ``'DEV:v,DEV:v'``."""
    if not spec:
        return None
    if ":" not in spec:
        return spec.strip()
    table = {}
    for part in spec.split(","):
        dev, sep, v = part.partition(":")
        if not sep:
            raise ArrayrtError(f"{option}: expected DEVICE:value, got '{part}'")
        table[dev.strip().upper()] = v.strip()
    return table.get(device.split(":", 1)[0].split(".", 1)[0].upper())


def percentile(sorted_values: list[float], percent: int) -> float:
    """benchmark_app's nearest-rank percentile."""
    return sorted_values[max(math.ceil(len(sorted_values) * percent / 100) - 1, 0)]


def _port_name(port: Any) -> str:
    names = port.get_names()
    return min(names) if names else port.node.friendly_name


def _find_input(model: Any, name: str) -> int:
    for i, port in enumerate(model.inputs):
        if name in port.get_names() or name == port.node.friendly_name:
            return i
    raise InferenceInputError(f"the model has no input named '{name}'; inputs: {[_port_name(p) for p in model.inputs]}")


def _keyed(model: Any, table: dict[str, list[str]]) -> dict[int, list[str]]:
    """Shapes by input index; a nameless entry goes to every input."""
    out: dict[int, list[str]] = {}
    for name, shapes in table.items():
        targets = range(len(model.inputs)) if name == "" else [_find_input(model, name)]
        for i in targets:
            out[i] = shapes
    return out


# --- inputs ------------------------------------------------------------------------------------
def _random(port: Any, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    dt = port.get_element_type().to_dtype()
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    return rng.integers(0, 10, size=shape).astype(dt)


def _load_inputs(path: str, model: Any) -> dict[str, np.ndarray]:
    try:
        if path.endswith(".npy"):
            if len(model.inputs) != 1:
                raise InferenceInputError(f"-i {path}: a .npy holds one input, the model has {len(model.inputs)}")
            return {_port_name(model.inputs[0]): np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise InferenceInputError(f"-i {path}: cannot read it: {exc}") from None
    out = {}
    for key, value in data.items():
        out[_port_name(model.inputs[_find_input(model, key)])] = value
    missing = [_port_name(p) for p in model.inputs if _port_name(p) not in out]
    if missing:
        raise InferenceInputError(f"-i {path} lacks input(s) {missing}")
    return out


def data_groups(model: Any, data_shapes: dict[int, list[str]], given: dict[str, np.ndarray] | None,
                seed: int) -> list[dict[str, np.ndarray]]:
    """The input sets cycled over the iterations: one per ``-data_shape`` entry, else one."""
    if given is not None:
        return [given]
    rng = np.random.default_rng(seed)
    n = max((len(v) for v in data_shapes.values()), default=1)
    groups = []
    for g in range(n):
        group = {}
        for i, port in enumerate(model.inputs):
            ps = port.get_partial_shape()
            if i in data_shapes:
                shape_ps = PartialShape(data_shapes[i][g % len(data_shapes[i])])
                if not shape_ps.is_static:
                    raise ArrayrtError(f"-data_shape: '{shape_ps}' for input '{_port_name(port)}' is not static")
                shape = shape_ps.to_shape()
                if not ps.accepts(shape):
                    raise InferenceInputError(f"-data_shape: input '{_port_name(port)}' takes {ps}, "
                                              f"got {list(shape)}")
            elif ps.is_static:
                shape = ps.to_shape()
            elif ps.rank_is_static:
                shape = tuple(d.get_length() if d.is_static else max(d.min, 1) for d in ps)
                if g == 0:
                    _warn(f"input '{_port_name(port)}' has a dynamic shape {ps}: filled as "
                          f"[{','.join(map(str, shape))}]; "
                          "give -shape or -data_shape to choose")
            else:
                raise InferenceInputError(f"input '{_port_name(port)}' has a dynamic rank: give -data_shape or -i")
            group[_port_name(port)] = _random(port, shape, rng)
        groups.append(group)
    return groups


def _batch_of(group: dict[str, np.ndarray], model: Any, batch: int | None) -> int:
    """Frames per inference: ``-b``, else the first dimension of the first input of rank >= 2."""
    if batch:
        return batch
    first = group.get(_port_name(model.inputs[0])) if model.inputs else None
    return int(first.shape[0]) if first is not None and first.ndim >= 2 else 1


# --- synchronisation and progress --------------------------------------------------------------
def synchronizer(compiled: Any):
    """What to call on an inference's results before stopping a clock. Outputs normally come back
    as host arrays, which already waited for the device; with ``KEEP_ON_DEVICE`` the device
    arrays are waited for and the backend synchronised."""
    try:
        keep = bool(compiled.get_property("KEEP_ON_DEVICE"))
    except ArrayrtError:
        keep = False
    if not keep:
        return lambda results: None
    backend_sync = getattr(getattr(compiled, "_backend", None), "synchronize", lambda: None)

    def wait(results: Any) -> None:
        for value in results.to_tuple():
            data = value.data if isinstance(value, Tensor) else value
            ready = getattr(data, "block_until_ready", None)
            if ready is not None:
                ready()
        backend_sync()

    return wait


class Progress:
    """``Progress: [#####.....] 50% done`` on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool, niter: int | None, seconds: float | None, width: int = 40):
        self.enabled, self.niter, self.seconds, self.width = enabled, niter, seconds, width
        self._last = -1.0

    def update(self, done: int, elapsed: float, force: bool = False) -> None:
        if not self.enabled or (not force and elapsed - self._last < 0.1):
            return
        self._last = elapsed
        parts = []
        if self.niter:
            parts.append(done / self.niter)
        if self.seconds:
            parts.append(elapsed / self.seconds)
        frac = min(1.0, min(parts) if parts else 1.0)
        filled = int(frac * self.width)
        sys.stderr.write(f"\rProgress: [{'#' * filled}{'.' * (self.width - filled)}] {frac * 100:3.0f}% done")
        sys.stderr.flush()

    def finish(self, done: int, elapsed: float) -> None:
        if self.enabled:
            self.update(done, elapsed, force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


# --- counters ----------------------------------------------------------------------------------
class Counters:
    """Per-node times summed over inferences (``get_profiling_info()``), and the last per request."""

    def __init__(self, devices: "_DeviceMap"):
        self.devices = devices
        self.order: list[str] = []
        self.rows: dict[str, dict[str, Any]] = {}
        self.samples = 0
        self.last: dict[int, list[Any]] = {}
        self._lock = threading.Lock()

    def add(self, infos: list[Any], request_id: int = 0) -> None:
        with self._lock:
            self.samples += 1
            self.last[request_id] = infos
            for pi in infos:
                row = self.rows.get(pi.node_name)
                if row is None:
                    row = self.rows[pi.node_name] = {
                        "name": pi.node_name, "status": pi.status.name, "node_type": pi.node_type,
                        "exec_type": pi.exec_type, "device": self.devices.of(pi.node_name, pi.exec_type),
                        "real_time": 0.0, "cpu_time": 0.0}
                    self.order.append(pi.node_name)
                row["real_time"] += pi.real_seconds  # timedelta stops at microseconds
                row["cpu_time"] += pi.real_seconds  # the same on every arrayrt backend

    def average(self, sort: str) -> list[dict[str, Any]]:
        """Rows with times in ms per inference, in ``-pcsort`` order."""
        n = max(self.samples, 1)
        rows = [dict(self.rows[k], real_time=self.rows[k]["real_time"] / n * 1e3,
                     cpu_time=self.rows[k]["cpu_time"] / n * 1e3) for k in self.order]
        if sort == "simple_sort":
            rows = [r for r in rows if r["status"].endswith("EXECUTED")]
        elif sort == "sort":
            rows.sort(key=lambda r: -r["real_time"])
        total = sum(r["real_time"] for r in rows) or 1.0
        for r in rows:
            r["percent"] = 100.0 * r["real_time"] / total
        return rows


def print_counters(rows: list[dict[str, Any]], samples: int) -> None:
    _info(f"Performance counts (average over {samples} inferences)")
    for r in rows:
        name = r["name"] if len(r["name"]) <= 20 else r["name"][:17] + "..."
        status = "Status." + r["status"].split(".")[-1]
        print(f"{name:<20} {status:<20} layerType: {r['node_type']:<20} execType: {r['exec_type']:<22} "
              f"device: {r['device']:<6} realTime (ms): {r['real_time']:<10.3f} cpuTime (ms): {r['cpu_time']:<10.3f} "
              f"{r['percent']:6.2f}%")
    total = sum(r["real_time"] for r in rows)
    total_cpu = sum(r["cpu_time"] for r in rows)
    print(f"Total time:     {total:.3f} milliseconds")
    print(f"Total CPU time: {total_cpu:.3f} milliseconds")
    print()


# --- reports -----------------------------------------------------------------------------------
def _command_line(argv: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, "" if v is True else str(v)) for k, v in argv.items() if v not in (None, False, "", 0) or k == "-m"]


def write_reports(args: argparse.Namespace, sections: dict[str, list[tuple[str, str]]],
                  counters: Counters | None) -> list[str]:
    """benchmark_report.csv/json and, for the counter report types, the counters; returns the paths."""
    folder = args.report_folder or "."
    os.makedirs(folder, exist_ok=True)
    as_json = args.json_stats is not None
    written = []
    path = os.path.join(folder, "benchmark_report." + ("json" if as_json else "csv"))
    with open(path, "w", newline="") as f:
        if as_json:
            json.dump({key: dict(items) for key, items in sections.items()}, f, indent=2)
        else:
            titles = {"cmd_options": "Command line parameters", "configuration_setup": "Configuration setup",
                      "execution_results": "Execution results"}
            for key, items in sections.items():
                f.write(titles[key] + "\n")
                for k, v in items:
                    f.write(f"{k};{v}\n")
                f.write("\n")
    written.append(path)
    if counters is not None and args.report_type in ("average_counters", "detailed_counters"):
        path = os.path.join(folder, f"benchmark_{args.report_type}_report." + ("json" if as_json else "csv"))
        if args.report_type == "average_counters":
            blocks = [counters.average("no_sort")]
        else:
            blocks = [[{"name": pi.node_name, "status": pi.status.name, "node_type": pi.node_type,
                        "exec_type": pi.exec_type, "device": counters.devices.of(pi.node_name, pi.exec_type),
                        "real_time": pi.real_seconds * 1e3, "cpu_time": pi.real_seconds * 1e3} for pi in infos]
                      for _, infos in sorted(counters.last.items())]
        with open(path, "w", newline="") as f:
            if as_json:
                key = "avg_performance" if args.report_type == "average_counters" else "detailed_performance"
                payload = [{"nodes": b, "total_real_time": sum(r["real_time"] for r in b),
                            "total_cpu_time": sum(r["cpu_time"] for r in b)} for b in blocks]
                json.dump({"report_type": args.report_type.split("_")[0],
                           key: payload[0] if args.report_type == "average_counters" else payload}, f, indent=2)
            else:
                w = csv.writer(f, delimiter=";", lineterminator="\n")
                for b in blocks:
                    w.writerow(["layerName", "execStatus", "layerType", "execType", "device", "realTime (ms)",
                                "cpuTime (ms)"])
                    for r in b:
                        w.writerow([r["name"], r["status"], r["node_type"], r["exec_type"], r["device"],
                                    f"{r['real_time']:.3f}", f"{r['cpu_time']:.3f}"])
                    w.writerow(["Total", "", "", "", "", f"{sum(r['real_time'] for r in b):.3f}",
                                f"{sum(r['cpu_time'] for r in b):.3f}"])
                    w.writerow([])
        written.append(path)
    return written


# --- the verb ----------------------------------------------------------------------------------
def _hint(args: argparse.Namespace) -> str:
    hint = (args.hint or "throughput").upper()
    return {"TPUT": "THROUGHPUT", "CTPUT": "CUMULATIVE_THROUGHPUT"}.get(hint, hint)


def run(args: argparse.Namespace) -> int:
    _step(1, "Parsing and validating input arguments")
    if not 1 <= args.latency_percentile <= 100:
        raise ArrayrtError(f"-latency_percentile must be in [1, 100], got {args.latency_percentile}")
    if args.niter is not None and args.niter < 0:
        raise ArrayrtError(f"-niter must be >= 0, got {args.niter}")
    if args.time is not None and args.time <= 0:
        raise ArrayrtError(f"-t must be > 0, got {args.time}")
    if args.report_folder and not args.report_type:
        _warn("-report_folder has no effect without -report_type")
    hint = _hint(args)
    api = args.api or ("sync" if hint == "LATENCY" else "async")
    counters_wanted = bool(args.perf_counts) or args.report_type in ("average_counters", "detailed_counters")

    _step(2, "Loading arrayrt Runtime")
    from arrayrt import __version__

    core = Core()
    _info(f"arrayrt: {__version__}")
    _info(f"Device info: {args.device}")

    _step(3, "Setting device configuration")
    if args.hint is None:
        _warn(f"Performance hint was not explicitly specified in command line. Device({args.device}) "
              "performance hint will be set to THROUGHPUT.")
    config: dict[str, Any] = {}
    if hint != "NONE":
        config["PERFORMANCE_HINT"] = hint
    precision = per_device(args.infer_precision, args.device, "-infer_precision")
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    streams = per_device(args.nstreams, args.device, "-nstreams")
    if streams:
        config["NUM_STREAMS"] = streams
    if args.nireq:
        config["PERFORMANCE_HINT_NUM_REQUESTS"] = args.nireq
    if args.nthreads is not None:
        config["INFERENCE_NUM_THREADS"] = args.nthreads
    if args.cache_dir:
        config["CACHE_DIR"] = args.cache_dir
    if args.load_config:
        _load_config(core, args.load_config)
    if counters_wanted:
        config["PERF_COUNT"] = True
        if "NPU" in args.device.upper():
            _warn("with -pc the NPU runs the plan op by op (no XLA program): latencies are not the compiled "
                  "program's")

    blob = _exported(args.model)
    if blob is not None:  # a compiled model: imported, as benchmark_app does with a .blob
        if args.shape or args.batch_size:
            raise ArrayrtError(f"{args.model} is a compiled model (export_model): -shape and -b cannot reshape it")
        _step(4, "Skipping the step for compiled network")
        _step(5, "Skipping the step for compiled network")
        _step(6, "Skipping the step for compiled network")
        _step(7, "Loading the model to the device")
        t0 = time.perf_counter()
        compiled = core.import_model(blob, args.device, config)
        compile_ms = read_ms = (time.perf_counter() - t0) * 1e3
        reshape_ms = 0.0
        _info(f"Import model took {compile_ms:.2f} ms")
        model = compiled._source[0]
        given = _load_inputs(args.input, model) if args.input else None
        groups = data_groups(model, _keyed(model, parse_shapes(args.data_shape, "-data_shape")), given, args.seed)
        batches = [_batch_of(g, model, args.batch_size) for g in groups]
        batch = batches[0]
    else:
        model, compiled, given, groups, batches, batch, read_ms, reshape_ms, compile_ms = _read_and_compile(
            args, core, config)
    _after_compile(args, compiled, config)
    return _measure(args, compiled, model, given, groups, batches, batch, read_ms, reshape_ms, compile_ms, hint,
                    api, counters_wanted, precision)


def _exported(path: str) -> bytes | None:
    """The file's bytes when it is an exported compiled model, else None."""
    from arrayrt.runtime.blob import MAGIC

    try:
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                return None
            return MAGIC + f.read()
    except OSError:
        return None  # read_model reports a missing or unreadable file


def _load_config(core: Core, path: str) -> None:
    try:
        with open(path) as f:
            table = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ArrayrtError(f"-load_config {path}: {exc}") from None
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ArrayrtError(f"-load_config {path}: expected {{device: {{property: value}}}}")
    for device, props in table.items():
        core.set_property(device, props)
        _info(f"Loaded {len(props)} properties of {device} from {path}")


def _after_compile(args: argparse.Namespace, compiled: Any, config: dict[str, Any]) -> None:
    if args.dump_config:
        table = {args.device: {k: str(getattr(v, "name", v)) if not isinstance(v, (bool, int, float)) else v
                               for k, v in config.items()}}
        with open(args.dump_config, "w") as f:
            json.dump(table, f, indent=2)
        _info(f"The compile config is stored to {args.dump_config}")
    if args.exec_graph_path:
        from arrayrt.ir.io import serialize
        from arrayrt.ir.model import clone_model

        executed = clone_model(compiled.get_runtime_model())
        for node in executed.get_ordered_ops():  # a fused op's folded arrays (bias...) are the plan's, not the graph's
            if node.type_name != "Constant":
                node.attrs = {k: v for k, v in node.attrs.items() if not isinstance(v, np.ndarray)}
        serialize(executed, args.exec_graph_path)
        _info(f"The executed graph is stored to {args.exec_graph_path}")


def _read_and_compile(args: argparse.Namespace, core: Core, config: dict[str, Any]) -> tuple:
    _step(4, "Reading model files")
    t0 = time.perf_counter()
    model = core.read_model(args.model)
    read_ms = (time.perf_counter() - t0) * 1e3
    _info(f"Read model took {read_ms:.2f} ms")
    _info("Original model I/O parameters:")
    _print_io(model)

    _step(5, "Resizing model to match image sizes and given batch")
    shapes = _keyed(model, parse_shapes(args.shape, "-shape"))
    reshape_ms = 0.0
    if shapes or args.batch_size:
        new = {}
        for i, port in enumerate(model.inputs):
            dims = list(PartialShape(shapes[i][0]).dims if i in shapes else port.get_partial_shape().dims)
            if args.batch_size and dims:
                dims[0] = Dimension(args.batch_size)
            new[i] = PartialShape(dims)
        _info("Reshaping model: " + ", ".join(f"'{_port_name(model.inputs[i])}': {s}" for i, s in new.items()))
        t0 = time.perf_counter()
        model.reshape(new)
        reshape_ms = (time.perf_counter() - t0) * 1e3
        _info(f"Reshape model took {reshape_ms:.2f} ms")

    _step(6, "Configuring input of the model")
    given = _load_inputs(args.input, model) if args.input else None
    groups = data_groups(model, _keyed(model, parse_shapes(args.data_shape, "-data_shape")),
                         given, args.seed)
    batches = [_batch_of(g, model, args.batch_size) for g in groups]
    batch = batches[0]
    _info(f"Model batch size: {batch}")
    _print_io(model)

    _step(7, "Loading the model to the device")
    t0 = time.perf_counter()
    compiled = core.compile_model(model, args.device, config)
    compile_ms = (time.perf_counter() - t0) * 1e3
    _info(f"Compile model took {compile_ms:.2f} ms")
    return model, compiled, given, groups, batches, batch, read_ms, reshape_ms, compile_ms


def _measure(args: argparse.Namespace, compiled: Any, model: Any, given: Any, groups: list, batches: list[int],
             batch: int, read_ms: float, reshape_ms: float, compile_ms: float, hint: str, api: str,
             counters_wanted: bool, precision: Any) -> int:
    _step(8, "Querying optimal runtime parameters")
    _info("Model:")
    for key in sorted(compiled.get_property("SUPPORTED_PROPERTIES")):
        if key in ("SUPPORTED_PROPERTIES", "GNA_CALIBRATION_DATA"):
            continue
        try:
            value = compiled.get_property(key)
        except ArrayrtError:
            continue
        text = str(getattr(value, "name", value))
        _info(f"  {key}: {text if len(text) <= 80 else text[:77] + '...'}")
    nireq = 1 if api == "sync" else (args.nireq or int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    if args.niter == 0:
        _info("-niter 0: the model was compiled; no inference runs")
        return 0

    _step(9, "Creating infer requests and preparing input tensors")
    if given is None:
        for name in groups[0]:
            _warn(f"No input files were given for input '{name}'!. This input will be filled with random values!")
    sync = synchronizer(compiled)
    devices = _node_devices(compiled)
    counters = Counters(devices) if counters_wanted else None

    limit_iter = args.niter
    limit_time = args.time if args.time is not None else (None if args.niter else DEFAULT_SECONDS)
    limits = ", ".join(x for x in (f"{limit_iter} iterations" if limit_iter else "",
                                   f"{limit_time:g} s" if limit_time else "") if x)
    _step(10, f"Measuring performance (Start inference {'synchronously' if api == 'sync' else 'asynchronously'}, "
              f"{nireq} inference requests, limits: {limits})")
    progress = Progress(args.progress if args.progress is not None else sys.stderr.isatty(), limit_iter, limit_time)
    first_ms = None
    if api == "sync":
        request = compiled.create_infer_request()
        if not args.no_warmup:
            t0 = time.perf_counter()
            sync(request.infer(groups[0]))
            first_ms = (time.perf_counter() - t0) * 1e3
            _info(f"First inference took {first_ms:.2f} ms")
        latencies, duration = _sync_loop(request, groups, sync, counters, progress, limit_iter, limit_time)
    else:
        queue = AsyncInferQueue(compiled, nireq)
        if not args.no_warmup:
            t0 = time.perf_counter()
            sync(queue[0].infer(groups[0]))
            first_ms = (time.perf_counter() - t0) * 1e3
            _info(f"First inference took {first_ms:.2f} ms")
        latencies, duration = _async_loop(queue, groups, sync, counters, progress, limit_iter, limit_time)

    _step(11, "Dumping statistics report")
    if not latencies:
        raise ArrayrtError("no inference completed")
    if counters is not None and args.perf_counts:
        print_counters(counters.average(args.perf_counts_sort), counters.samples)
    frames = sum(batches[i % len(batches)] for i in range(len(latencies)))
    stats = summary(latencies, duration, batch, frames, args.latency_percentile)
    stats["first_inference_ms"] = first_ms
    if args.report_type:
        sections = {
            "cmd_options": _command_line({"-m": args.model, "-d": args.device, "-hint": args.hint,
                                          "-niter": args.niter, "-t": args.time, "-nireq": args.nireq,
                                          "-nstreams": args.nstreams, "-api": args.api, "-b": args.batch_size,
                                          "-shape": args.shape, "-data_shape": args.data_shape, "-i": args.input,
                                          "-infer_precision": args.infer_precision, "-pc": args.perf_counts,
                                          "-report_type": args.report_type, "-report_folder": args.report_folder,
                                          "-json_stats": args.json_stats,
                                          "-latency_percentile": args.latency_percentile,
                                          "-nthreads": args.nthreads, "-cache_dir": args.cache_dir,
                                          "-load_config": args.load_config, "-dump_config": args.dump_config,
                                          "-exec_graph_path": args.exec_graph_path}),
            "configuration_setup": [("topology", model.name), ("target device", args.device), ("API", api),
                                    ("precision", str(precision or "UNSPECIFIED")), ("batch size", str(batch)),
                                    ("number of iterations", str(args.niter or 0)),
                                    ("number of parallel infer requests", str(nireq)),
                                    ("duration (ms)", str(int((args.time or 0) * 1e3)))],
            "execution_results": _execution_results(stats, read_ms, reshape_ms, compile_ms, args.latency_percentile)}
        for path in write_reports(args, sections, counters):
            _info(f"Statistics report is stored to {path}")
    report(stats, compiled.get_property("EXECUTION_DEVICES"), args.latency_percentile)
    if isinstance(args.json_stats, str):
        payload = dict(stats)
        if counters is not None:
            payload["performance_counters"] = counters.average(args.perf_counts_sort)
        with open(args.json_stats, "w") as f:
            json.dump(payload, f, indent=2)
    return 0


def _print_io(model: Any) -> None:
    _info("Model inputs:")
    for p in model.inputs:
        _info(f"    {_port_name(p)} (node: {p.node.friendly_name}) : {p.get_element_type()} / {p.get_partial_shape()}")
    _info("Model outputs:")
    for p in model.outputs:
        _info(f"    {_port_name(p)} (node: {p.node.input_value(0).node.friendly_name}) : "
              f"{p.get_element_type()} / {p.get_partial_shape()}")


def _node_devices(compiled: Any) -> "_DeviceMap":
    """Node name -> device, from the runtime model; nodes a backend adds (GNA's quantisation)
    are known by their exec type's backend prefix."""
    from arrayrt.backends import available_backends

    by_prefix = {f"{name}_": cls.device for name, cls in available_backends().items()}
    try:
        rm = compiled.get_runtime_model()
        known = {n.friendly_name: str(n.rt_info.get("device", "")) for n in rm.get_ordered_ops()}
    except (ArrayrtError, AttributeError):
        known = {}
    return _DeviceMap(known, by_prefix)


class _DeviceMap(dict):
    def __init__(self, known: dict[str, str], by_prefix: dict[str, str]):
        super().__init__(known)
        self.by_prefix = by_prefix

    def of(self, name: str, exec_type: str) -> str:
        if self.get(name):
            return self[name]
        return next((d for p, d in self.by_prefix.items() if exec_type.startswith(p)), "-")


def _enough(n: int, elapsed: float, niter: int | None, seconds: float | None) -> bool:
    """benchmark_app's rule: run until every given limit is reached."""
    return (not niter or n >= niter) and (not seconds or elapsed >= seconds)


def _sync_loop(request, groups, sync, counters, progress, niter, seconds) -> tuple[list[float], float]:
    latencies: list[float] = []
    clock = time.perf_counter
    start = clock()
    n = 0
    while not _enough(n, clock() - start, niter, seconds):
        inputs = groups[n % len(groups)]
        t = clock()
        sync(request.infer(inputs))
        latencies.append(clock() - t)
        n += 1
        if counters is not None:
            counters.add(request.get_profiling_info())
        progress.update(n, clock() - start)
    duration = clock() - start
    progress.finish(n, duration)
    return latencies, duration


def _async_loop(queue, groups, sync, counters, progress, niter, seconds) -> tuple[list[float], float]:
    latencies: list[float] = []
    stamps: dict[int, float] = {}
    lock = threading.Lock()
    clock = time.perf_counter

    def done(request, rid):
        sync(request.results)
        end = clock()
        with lock:
            latencies.append(end - stamps[rid])
        if counters is not None:
            counters.add(request.get_profiling_info(), rid)

    queue.set_callback(done)
    start = clock()
    n = 0
    while not _enough(n, clock() - start, niter, seconds):
        rid = queue.get_idle_request_id()
        queue[rid].set_tensors({k: Tensor(v, shared_memory=True) for k, v in groups[n % len(groups)].items()})
        stamps[rid] = clock()
        queue.start_async(userdata=rid)
        n += 1
        progress.update(n, clock() - start)
    queue.wait_all()
    duration = clock() - start
    progress.finish(n, duration)
    return latencies, duration


def summary(latencies: list[float], duration: float, batch: int, frames: int, pct: int) -> dict[str, Any]:
    """The statistics: latencies in ms, throughput in frames (batch items) per second."""
    lat = sorted(v * 1e3 for v in latencies)
    return {"count": len(lat), "duration_ms": duration * 1e3, "latency_percentile": pct,
            "latency_median_ms": percentile(lat, pct), "latency_average_ms": sum(lat) / len(lat),
            "latency_min_ms": lat[0], "latency_max_ms": lat[-1], "batch": batch,
            "throughput_fps": frames / duration}


def _execution_results(stats, read_ms, reshape_ms, compile_ms, pct) -> list[tuple[str, str]]:
    label = "latency (ms)" if pct == 50 else f"latency ({pct} percentile) (ms)"
    first = stats["first_inference_ms"]
    return [("read model time (ms)", f"{read_ms:.2f}"), ("reshape model time (ms)", f"{reshape_ms:.2f}"),
            ("compile model time (ms)", f"{compile_ms:.2f}"),
            ("first inference time (ms)", "" if first is None else f"{first:.2f}"),
            ("total execution time (ms)", f"{stats['duration_ms']:.2f}"),
            ("total number of iterations", str(stats["count"])),
            (label, _ms(stats["latency_median_ms"])), ("avg latency", _ms(stats["latency_average_ms"])),
            ("min latency", _ms(stats["latency_min_ms"])), ("max latency", _ms(stats["latency_max_ms"])),
            ("throughput", f"{stats['throughput_fps']:.2f}")]


def report(stats: dict[str, Any], devices: list[str], pct: int = 50) -> None:
    """benchmark_app's summary lines."""
    _info(f"Execution Devices:{devices}")
    _info(f"Count:            {stats['count']} iterations")
    _info(f"Duration:         {stats['duration_ms']:.2f} ms")
    _info("Latency:")
    label = "Median:        " if pct == 50 else f"{pct} percentile:     "
    _info(f"   {label}{_ms(stats['latency_median_ms'])} ms")
    _info(f"   Average:       {_ms(stats['latency_average_ms'])} ms")
    _info(f"   Min:           {_ms(stats['latency_min_ms'])} ms")
    _info(f"   Max:           {_ms(stats['latency_max_ms'])} ms")
    _info(f"Throughput:   {stats['throughput_fps']:.2f} FPS")
