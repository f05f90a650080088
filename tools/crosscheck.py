"""``arrayrt crosscheck``: where do two devices (or two models) stop agreeing?

    arrayrt crosscheck -m model.xml -d NPU -ref_d CPU --layers all
    arrayrt crosscheck -m model_fp16.xml -ref_m model.xml -d CPU --layers all
    arrayrt crosscheck -m model.xml -d NPU --layers all --dump npu.npz      # on one machine
    arrayrt crosscheck -m model.xml -d CPU --load npu.npz                   # on another

Every compared tensor is made a model output (``Model.add_outputs`` on a clone), so one inference
per side yields them all. Per tensor the metrics of :mod:`arrayrt.tools.metrics`; the first tensor
in topological order whose ``--metric`` is worse than ``--threshold`` is where the two sides
diverge. Both sides get the same inputs: ``-i``, the inputs stored in a ``--load`` dump, or random
ones from ``--seed``. A model with dynamic input shapes is reshaped to the inputs' shapes first
(GNA and NPU compile static shapes). A device whose backend compiles from calibration data (GNA)
is calibrated on the compared inputs unless scale factors or calibration data are given with ``-c``.
A single device that declines a layer (GNA's convolution limits) runs as ``HETERO:DEVICE,CPU``
unless ``--no_fallback``: the layers it can run are still compared, and the table says which
device ran each.

Making a tensor an output can change what a device compiles (a fusion it no longer does, a GNA
layer boundary); when it changes the model's own outputs, that is reported.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from arrayrt.backends import device_backends
from arrayrt.tools import metrics
from arrayrt.tools.infer import random_inputs

from arrayrt import Core
from arrayrt.errors import ArrayrtError, InferenceInputError, UnsupportedOpError

DUMP_FORMAT = "arrayrt-crosscheck-1"
#: default ``--threshold`` per ``--metric``
DEFAULT_THRESHOLDS = {"norm_max_abs": 1e-2, "max_abs": 1e-2, "mean_abs": 1e-3, "max_rel": 1e-2,
                      "max_ulp": 1024, "cosine": 0.999, "snr_db": 40.0}
_SKIPPED_TYPES = ("Parameter", "Constant", "Result", "Assign")
_CALIBRATION_KEYS = ("GNA_SCALE_FACTOR", "GNA_CALIBRATION_DATA")
#: devices that are not given a CPU fallback: CPU itself and the composite devices
_NO_FALLBACK = ("CPU", "HETERO", "AUTO", "MULTI", "BATCH")


class CrosscheckError(ArrayrtError):
    """Bad crosscheck input: a dump from another model, unknown layers, mismatched inputs."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", required=True, help="IR .xml or .onnx")
    p.add_argument("-d", "--device", action="append",
                   help="device under test (default CPU); repeat to compare several against one reference")
    p.add_argument("-ref_d", "--reference_device", help="reference device (default: the first -d)")
    p.add_argument("-ref_m", "--reference_model",
                   help="reference model: compare two models (e.g. f32 against f16-compressed), "
                        "tensors matched by tensor name, else by layer name")
    p.add_argument("--layers", default="outputs",
                   help="'outputs' (default), 'all' (every intermediate tensor) or a comma-separated "
                        "list of layer or tensor names ('name:1' for a second output port)")
    p.add_argument("-i", "--input", help=".npz of inputs keyed by input name (default: random data)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--dump", metavar="FILE.npz", help="save the -d run (inputs and tensors) to compare later")
    p.add_argument("--load", metavar="FILE.npz", help="use a --dump file as the reference (and its inputs)")
    p.add_argument("-infer_precision", "--infer_precision",
                   help="INFERENCE_PRECISION_HINT of -d: 'f16', or per device 'NPU:f32,CPU:f32'")
    p.add_argument("-ref_infer_precision", "--ref_infer_precision",
                   help="INFERENCE_PRECISION_HINT of the reference side (same forms)")
    p.add_argument("--no_fallback", action="store_true",
                   help="fail when a device cannot run every layer (default: run those on CPU, as "
                        "HETERO:DEVICE,CPU, and compare the rest)")
    p.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                   help="a property for -d (repeatable; VALUE is JSON or a string)")
    p.add_argument("--ref_config", action="append", default=[], metavar="KEY=VALUE",
                   help="a property for the reference device (repeatable)")
    p.add_argument("--metric", default="norm_max_abs", choices=sorted(metrics.HIGHER_IS_WORSE),
                   help="metric that decides divergence (default norm_max_abs = max|a-b| / max|ref|)")
    p.add_argument("--threshold", type=float,
                   help="divergence threshold of --metric (default: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_THRESHOLDS.items()) + ")")
    p.add_argument("--eps", type=float, default=metrics.DEFAULT_EPS,
                   help=f"floor of |ref| in the relative error (default {metrics.DEFAULT_EPS:g})")
    p.add_argument("--sort", default=None,
                   help="table order: 'topo' or a metric (default: --metric, worst first)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the results as JSON to FILE (or stdout, instead of the table)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="plot the error per layer in topological order (needs matplotlib)")


# --- layers ------------------------------------------------------------------------------------
@dataclass
class Layer:
    """One compared tensor: output ``port`` of the node at ``index`` in topological order."""

    key: str
    node_type: str
    index: int
    port: int
    names: frozenset[str]
    shape: str


def _key(node: Any, port: int) -> str:
    return node.friendly_name if port == 0 else f"{node.friendly_name}:{port}"


def _is_tensor(port: Any) -> bool:
    from arrayrt.ir.ops.sequence import value_kind

    return value_kind(port) == "tensor"


def candidate_layers(model: Any) -> list[Layer]:
    """Every tensor of ``model`` that can be compared, in topological order."""
    out: list[Layer] = []
    seen: set[str] = set()
    for i, node in enumerate(model.get_ordered_ops()):
        if node.type_name in _SKIPPED_TYPES:
            continue
        for port in node.outputs():
            if not _is_tensor(port):
                continue
            key = _key(node, port.index)
            if key in seen:  # friendly names need not be unique
                key = f"{key}@{i}"
            seen.add(key)
            out.append(Layer(key, node.type_name, i, port.index, frozenset(port.get_names()),
                             str(port.get_partial_shape())))
    return out


def output_layers(model: Any, candidates: list[Layer]) -> list[Layer]:
    ops = model.get_ordered_ops()
    position = {n.uid: i for i, n in enumerate(ops)}
    wanted = {(position[r.input_value(0).node.uid], r.input_value(0).index) for r in model.get_results()}
    return [c for c in candidates if (c.index, c.port) in wanted]


def select_layers(model: Any, spec: str) -> list[Layer]:
    """The layers ``--layers`` names, in topological order."""
    candidates = candidate_layers(model)
    spec = spec.strip()
    if spec == "all":
        return candidates
    if spec == "outputs":
        return output_layers(model, candidates)
    by_key = {c.key: c for c in candidates}
    by_tensor = {n: c for c in candidates for n in c.names}
    picked: dict[str, Layer] = {}
    for name in (s.strip() for s in spec.split(",")):
        if not name:
            continue
        layer = by_key.get(name) or by_tensor.get(name)
        if layer is None:
            close = difflib.get_close_matches(name, list(by_key) + list(by_tensor), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise CrosscheckError(f"--layers: the model has no layer or tensor named '{name}'{hint} "
                                  f"(--layers all lists {len(candidates)} tensors)")
        picked[layer.key] = layer
    if not picked:
        raise CrosscheckError("--layers: no layer names given")
    return sorted(picked.values(), key=lambda c: (c.index, c.port))


def match_layers(layers: list[Layer], ref_model: Any) -> tuple[list[tuple[Layer, Layer]], list[Layer]]:
    """Pairs ``(layer, reference layer)``: by a shared tensor name, else by layer name and port;
    and the layers the reference model lacks."""
    ref = candidate_layers(ref_model)
    by_name = {n: r for r in ref for n in r.names}
    by_key = {r.key: r for r in ref}
    pairs, missing = [], []
    for layer in layers:
        match = next((by_name[n] for n in sorted(layer.names) if n in by_name), None) or by_key.get(layer.key)
        if match is None:
            missing.append(layer)
        else:
            pairs.append((layer, match))
    return pairs, missing


def fingerprint(model: Any) -> str:
    """A hash of the model's topology: op types and versions, names, connections, output types."""
    ops = model.get_ordered_ops()
    position = {n.uid: i for i, n in enumerate(ops)}
    h = hashlib.sha256()
    for n in ops:
        srcs = [(position[s.node.uid], s.index) for s in n.input_values()]
        types = [str(o.get_element_type()) for o in n.outputs()]
        h.update(f"{n.type_name}-{n.op.version}|{n.friendly_name}|{srcs}|{types}\n".encode())
    return h.hexdigest()[:16]


# --- inputs ------------------------------------------------------------------------------------
def _input_names(model: Any) -> list[set[str]]:
    return [set(p.get_names()) | {p.node.friendly_name} for p in model.inputs]


def _canonical(port: Any) -> str:
    names = port.get_names()
    return min(names) if names else port.node.friendly_name


def check_inputs(model: Any, given: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """``given`` keyed by the model's input names; raise naming what is missing or unknown."""
    names = _input_names(model)
    canon = [_canonical(p) for p in model.inputs]
    out: dict[str, np.ndarray] = {}
    for key, value in given.items():
        i = next((j for j, ns in enumerate(names) if key in ns), None)
        if i is None:
            raise CrosscheckError(f"{source} has an input '{key}' that the model does not have; "
                                  f"its inputs: {canon}")
        out[canon[i]] = np.asarray(value)
    missing = [c for c in canon if c not in out]
    if missing:
        raise CrosscheckError(f"{source} lacks the model's input(s) {missing} (it has {sorted(given)})")
    return out


def _load_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise CrosscheckError(f"cannot read '{path}' as an .npz file: {exc}") from None


def fix_shapes(model: Any, inputs: dict[str, np.ndarray]) -> None:
    """Reshape a model with dynamic inputs to the shapes of ``inputs`` (static-shape devices)."""
    if not any(p.get_partial_shape().is_dynamic for p in model.inputs):
        return
    shapes = {}
    for i, port in enumerate(model.inputs):
        value = inputs[_canonical(port)]
        if not port.get_partial_shape().accepts(tuple(value.shape)):
            raise InferenceInputError(f"input '{_canonical(port)}': expected shape {port.get_partial_shape()}, "
                                      f"got {list(value.shape)}")
        shapes[i] = list(value.shape)
    model.reshape(shapes)


# --- devices -----------------------------------------------------------------------------------
def parse_config(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CrosscheckError(f"-c/--ref_config takes KEY=VALUE, got '{item}'")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def precision_for(spec: str | None, device: str) -> str | None:
    """A ``-infer_precision`` value for ``device``: a bare precision, or ``DEV:p,DEV:p``."""
    if not spec:
        return None
    if ":" not in spec:
        return spec
    table = {}
    for part in spec.split(","):
        dev, sep, p = part.partition(":")
        if not sep:
            raise CrosscheckError(f"-infer_precision: expected DEVICE:precision, got '{part}'")
        table[dev.strip().upper()] = p.strip()
    return table.get(device.split(":", 1)[0].split(".", 1)[0].upper())


def _device_classes(device: str) -> list[type]:
    """The backend classes a device string (``GNA``, ``HETERO:GNA,CPU``, ``AUTO``...) may use."""
    head, _, rest = device.partition(":")
    names = rest.split(",") if rest else [head]
    known = device_backends()
    if not rest and head.upper() in ("HETERO", "AUTO", "MULTI", "BATCH"):
        return []  # the devices come from MULTI_DEVICE_PRIORITIES or AUTO's choice: no calibration
    return [known[b] for n in names if (b := n.strip().split("(")[0].split(".")[0].upper()) in known]


def device_config(device: str, precision: str | None, extra: dict[str, Any],
                  inputs: dict[str, np.ndarray]) -> tuple[dict[str, Any], list[str]]:
    """The compile config of one side, and notes on what was chosen for the user."""
    config = dict(extra)
    notes = []
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    for cls in _device_classes(device):
        key = cls.calibration_property
        if key and not any(k.startswith(_CALIBRATION_KEYS) for k in config):
            config[key] = dict(inputs)
            notes.append(f"{cls.device}: calibrated on the compared inputs ({key}); "
                         f"give scale factors with -c to use others")
    return config, notes


@dataclass
class Run:
    """One side's tensors, by layer key."""

    label: str
    values: dict[str, np.ndarray]
    outputs: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: layer key -> the device that ran it, for runs split over several devices (HETERO)
    devices: dict[str, str] = field(default_factory=dict)


def _compile(core: Core, model: Any, device: str, config: dict[str, Any], fallback: bool = True):
    """The compiled model and the device it was compiled for: a single device that declines a
    layer (GNA's convolution limits, STRICT's missing dtypes) becomes ``HETERO:device,CPU`` with
    ``fallback``, so that the layers it runs are still compared."""
    try:
        return core.compile_model(model, device, config), device
    except UnsupportedOpError as exc:
        if ":" in device or device.split(".")[0].upper() in _NO_FALLBACK:
            raise UnsupportedOpError(f"{device}: {exc}") from None
        hetero = f"HETERO:{device},CPU"
        if not fallback:
            raise UnsupportedOpError(f"{device}: {exc}; to run the rest on CPU use -d {hetero} "
                                     "(or leave out --no_fallback)") from None
    return core.compile_model(model, hetero, config), hetero


def _precision_label(compiled: Any) -> str:
    try:
        p = compiled.get_property("INFERENCE_PRECISION_HINT")
    except ArrayrtError:
        return "?"
    return getattr(p, "name", str(p))


def _layer_devices(compiled: Any, ops: list[Any], layers: list[Layer]) -> dict[str, str]:
    """Layer key -> device, when the compiled model runs on more than one device."""
    if len(compiled.get_property("EXECUTION_DEVICES")) < 2:
        return {}
    placed = {n.friendly_name: str(n.rt_info.get("device", ""))
              for n in compiled.get_runtime_model().get_ordered_ops()}
    return {layer.key: placed.get(ops[layer.index].friendly_name, "") for layer in layers}


def execute(core: Core, model: Any, layers: list[Layer], device: str, config: dict[str, Any],
            inputs: dict[str, np.ndarray], check_observer: bool = True, fallback: bool = True) -> Run:
    """Run ``model`` with ``layers`` made outputs; when that added outputs, also run the model
    as it is and note whether its outputs changed."""
    import warnings

    work = model.clone()
    ops, work_ops = model.get_ordered_ops(), work.get_ordered_ops()
    assert [n.friendly_name for n in ops] == [n.friendly_name for n in work_ops]
    n_outputs = len(work.get_results())
    added = work.add_outputs([work_ops[layer.index].output(layer.port) for layer in layers])
    results = work.get_results()
    index = [results.index(r.node) for r in added]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled, used = _compile(core, work, device, config, fallback)
        values = compiled(inputs)
    run = Run(f"{used} ({_precision_label(compiled)})",
              {layer.key: np.asarray(values[i]) for layer, i in zip(layers, index)},
              [np.asarray(values[i]) for i in range(n_outputs)],
              devices=_layer_devices(compiled, work_ops, layers))
    if used != device:
        on_cpu = sorted(k for k, d in run.devices.items() if d == "CPU")
        run.notes.append(f"{device} cannot run every layer, so it ran as {used}: {len(on_cpu)} of the "
                         f"{len(layers)} compared tensors come from CPU ({', '.join(on_cpu[:8])}"
                         f"{' ...' if len(on_cpu) > 8 else ''}); --no_fallback fails instead")
    run.notes += [f"{used}: {w.message}" for w in caught]
    if check_observer and len(results) > n_outputs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = _compile(core, model, used, config, fallback)[0](inputs)
        worst = max((metrics.max_abs_error(run.outputs[i], np.asarray(plain[i])) for i in range(n_outputs)),
                    default=0.0)
        if worst > 0:
            run.notes.append(f"{used}: making the tensors outputs changed the model's own outputs by up "
                             f"to {worst:.3g} (the device compiled the graph differently); the per-layer "
                             "numbers describe the graph with the extra outputs")
    return run


# --- dumps -------------------------------------------------------------------------------------
def write_dump(path: str, model: Any, run: Run, layers: list[Layer], inputs: dict[str, np.ndarray]) -> None:
    meta = {"format": DUMP_FORMAT, "model": model.name, "fingerprint": fingerprint(model), "run": run.label,
            "inputs": list(inputs), "layers": [layer.key for layer in layers]}
    arrays = {f"in_{i}": v for i, v in enumerate(inputs.values())}
    arrays.update({f"out_{i}": run.values[layer.key] for i, layer in enumerate(layers)})
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def read_dump(path: str, model: Any, model_fingerprint: str) -> tuple[dict, dict[str, np.ndarray], Run]:
    data = _load_npz(path)
    try:
        meta = json.loads(str(data.pop("__meta__")))
        if meta.get("format") != DUMP_FORMAT:
            raise ValueError(meta.get("format"))
        inputs = {name: data[f"in_{i}"] for i, name in enumerate(meta["inputs"])}
        values = {key: data[f"out_{i}"] for i, key in enumerate(meta["layers"])}
    except (KeyError, ValueError, TypeError) as exc:
        raise CrosscheckError(f"'{path}' is not an arrayrt crosscheck dump ({type(exc).__name__}: {exc})") from None
    if meta["fingerprint"] != model_fingerprint:
        raise CrosscheckError(
            f"'{path}' was dumped from model '{meta['model']}' (topology {meta['fingerprint']}), not from "
            f"this model '{model.name}' (topology {model_fingerprint}): compare a dump with the model it "
            "was made from")
    return meta, inputs, Run(f"{meta['run']} [{path}]", values)


# --- comparison --------------------------------------------------------------------------------
def compare_runs(pairs: list[tuple[Layer, Layer]], run: Run, ref: Run, eps: float) -> list[dict[str, Any]]:
    rows = []
    for layer, ref_layer in pairs:
        a, b = run.values[layer.key], ref.values[ref_layer.key]
        row: dict[str, Any] = {"index": layer.index, "layer": layer.key, "type": layer.node_type,
                               "shape": list(a.shape), "dtype": str(a.dtype), "ref_dtype": str(b.dtype)}
        if ref_layer.key != layer.key:
            row["ref_layer"] = ref_layer.key
        if layer.key in run.devices:
            row["device"] = run.devices[layer.key]
        try:
            row.update(metrics.compare(a, b, eps))
        except (ValueError, TypeError) as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


def first_divergence(rows: list[dict[str, Any]], metric: str, threshold: float) -> dict[str, Any] | None:
    for row in rows:  # rows are in topological order
        if "error" in row or metrics.exceeds(row, metric, threshold):
            return row
    return None


def _sort_rows(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key == "topo":
        return rows
    if key not in metrics.HIGHER_IS_WORSE:
        raise CrosscheckError(f"--sort: expected 'topo' or one of {sorted(metrics.HIGHER_IS_WORSE)}, got '{key}'")
    sign = -1.0 if metrics.HIGHER_IS_WORSE[key] else 1.0

    def order(row):
        if "error" in row:
            return (0, 0.0)
        v = row[key]
        return (1, math.inf if v is None else sign * float(v))

    return sorted(rows, key=order)


def _fmt(v: Any, kind: str = "g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if kind == "cos":
        return f"{v:.8f}"
    if kind == "db":
        return f"{v:.1f}"
    if kind == "int":
        return str(v)
    return f"{v:.3g}"


def _type_cell(row: dict[str, Any]) -> str:
    """The op type, and the device that ran it in a run split over devices."""
    return f"{row['type']} on {row['device']}" if row.get("device") else row["type"]


def render_table(rows: list[dict[str, Any]]) -> str:
    head = ["#", "layer", "type", "shape", "max_abs", "mean_abs", "max_rel", "norm_max", "max_ulp",
            "cosine", "snr_dB", "nan/inf/0 dev | ref"]
    body = []
    for r in rows:
        name = r["layer"] if len(r["layer"]) <= 32 else "..." + r["layer"][-29:]
        cells = [str(r["index"]), name, _type_cell(r), "[" + ",".join(map(str, r["shape"])) + "]"]
        if "error" in r:
            body.append(cells + [f"not comparable: {r['error']}"])
            continue
        counts = " | ".join(f"{c['nan']}/{c['inf']}/{c['zero']}" for c in (r["actual"], r["reference"]))
        if r["nonfinite_mismatch"]:
            counts += f"  ({r['nonfinite_mismatch']} differ)"
        body.append(cells + [_fmt(r["max_abs"]), _fmt(r["mean_abs"]), _fmt(r["max_rel"]),
                             _fmt(r["norm_max_abs"]), _fmt(r["max_ulp"], "int"), _fmt(r["cosine"], "cos"),
                             _fmt(r["snr_db"], "db"), counts])
    widths = [max(len(h), *(len(b[i]) for b in body if i < len(b))) if body else len(h)
              for i, h in enumerate(head)]
    lines = []
    for cells in [head, *body]:
        if len(cells) < len(head):  # an error row: its message runs to the end
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths)) + "  " + cells[-1])
            continue
        lines.append("  ".join(c.rjust(w) if i == 0 or i >= 4 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def plot(path: str, report: dict[str, Any]) -> None:
    """``--metric`` per tensor in topological order, one line per device pair. On the log scale of
    the error metrics, exact agreement (0) is drawn as a triangle on the bottom edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric, threshold = report["metric"], report["threshold"]
    keys = list(dict.fromkeys(r["layer"] for p in report["pairs"] for r in p["layers"]))
    position = {k: i for i, k in enumerate(keys)}
    log = metric not in ("snr_db", "cosine")
    values = [float(r[metric]) for p in report["pairs"] for r in p["layers"]
              if "error" not in r and isinstance(r[metric], (int, float)) and r[metric] > 0]
    floor = min(values + [threshold]) / 10 if log else None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(keys)), 4.5))
    for pair in report["pairs"]:
        rows = [r for r in pair["layers"] if "error" not in r and isinstance(r[metric], (int, float))
                and math.isfinite(r[metric])]
        shown = [r for r in rows if not log or r[metric] > 0]
        line, = ax.plot([position[r["layer"]] for r in shown], [float(r[metric]) for r in shown], marker="o",
                        label=f"{pair['device']} vs {pair['reference']}")
        exact = [position[r["layer"]] for r in rows if log and r[metric] == 0]
        if exact:
            ax.scatter(exact, [floor] * len(exact), marker="v", color=line.get_color())
        first = pair["first_divergence"]
        if first is not None and "error" not in first and first[metric] not in (None, 0):
            ax.annotate("diverges", (position[first["layer"]], float(first[metric])), textcoords="offset points",
                        xytext=(0, 10), ha="center")
    ax.axhline(threshold, color="grey", linestyle="--", label=f"threshold {threshold:g}")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor / 2)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(keys, rotation=90, fontsize=7)
    ax.set_xlabel("tensor (topological order)" + ("; \u25bc: exactly equal" if log else ""))
    ax.set_ylabel(metric)
    ax.set_title(f"{report['model']}: {metric} per tensor")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _need_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CrosscheckError("--plot needs matplotlib, which is not installed: pip install matplotlib "
                              "(or leave out --plot; --json has the same numbers)") from None


# --- the verb ----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    if args.plot:
        _need_matplotlib()
    devices = args.device or ["CPU"]
    if args.load and (args.reference_device or args.reference_model):
        raise CrosscheckError("--load makes the dump the reference: leave out -ref_d and -ref_m")
    if args.load and args.input:
        raise CrosscheckError("--load compares on the inputs stored in the dump: leave out -i")
    if args.dump and len(devices) > 1:
        raise CrosscheckError("--dump saves one run: give one -d")
    threshold = args.threshold if args.threshold is not None else DEFAULT_THRESHOLDS[args.metric]
    core = Core()
    model = core.read_model(args.model)
    model_fp = fingerprint(model)
    ref_model = core.read_model(args.reference_model) if args.reference_model else None

    loaded = None
    if args.load:
        meta, given, loaded = read_dump(args.load, model, model_fp)
        inputs = check_inputs(model, given, f"dump '{args.load}'")
        source = f"from the dump {args.load}"
        layer_spec = args.layers if args.layers != "outputs" else ",".join(meta["layers"])
    elif args.input:
        inputs = check_inputs(model, _load_npz(args.input), f"-i '{args.input}'")
        source, layer_spec = f"from {args.input}", args.layers
    else:
        inputs = random_inputs(model, args.seed)
        source, layer_spec = f"random (seed {args.seed})", args.layers
    if ref_model is not None:
        ref_names, names = _input_names(ref_model), _input_names(model)
        if not all(any(ns & rs for rs in ref_names) for ns in names) or len(ref_names) != len(names):
            raise CrosscheckError(
                f"the models' inputs differ: {args.model} has {[_canonical(p) for p in model.inputs]}, "
                f"{args.reference_model} has {[_canonical(p) for p in ref_model.inputs]}")
    fix_shapes(model, inputs)
    layers = select_layers(model, layer_spec)
    if loaded is not None:
        absent = [layer.key for layer in layers if layer.key not in loaded.values]
        if absent:
            raise CrosscheckError(f"the dump '{args.load}' does not hold {absent}; it holds {meta['layers']}")

    notes: list[str] = []
    if loaded is not None:
        ref_run, pairs, missing = loaded, [(layer, layer) for layer in layers], []
    elif ref_model is not None or args.reference_device:
        ref_device = args.reference_device or devices[0]
        ref_side = ref_model if ref_model is not None else model
        if ref_model is not None:
            ref_inputs = check_inputs(ref_model, inputs, "the inputs")
            fix_shapes(ref_model, ref_inputs)
            pairs, missing = match_layers(layers, ref_model)
            if args.layers not in ("all", "outputs") and missing:
                raise CrosscheckError(f"the reference model has no tensor matching {[m.key for m in missing]}")
        else:
            ref_inputs, pairs, missing = inputs, [(layer, layer) for layer in layers], []
        ref_layers = [r for _, r in pairs]
        config, ref_notes = device_config(ref_device, precision_for(args.ref_infer_precision, ref_device),
                                          parse_config(args.ref_config), ref_inputs)
        ref_run = execute(core, ref_side, ref_layers, ref_device, config, ref_inputs,
                          fallback=not args.no_fallback)
        notes += ref_notes + ref_run.notes
        if ref_model is not None:
            ref_run.label = f"{args.reference_model} on {ref_run.label}"
    elif args.dump:
        ref_run, pairs, missing = None, [], []
    else:
        raise CrosscheckError("nothing to compare with: give -ref_d, -ref_m or --load (or --dump to save a run)")

    runs = []
    for device in devices:
        config, dev_notes = device_config(device, precision_for(args.infer_precision, device),
                                          parse_config(args.config), inputs)
        r = execute(core, model, [p[0] for p in pairs] if pairs else layers, device, config, inputs,
                    fallback=not args.no_fallback)
        if ref_model is not None:
            r.label = f"{args.model} on {r.label}"
        notes += dev_notes + r.notes
        runs.append(r)
    if args.dump:
        write_dump(args.dump, model, runs[0], layers, inputs)
        notes.append(f"wrote {len(layers)} tensors of {runs[0].label} and the inputs to {args.dump}")

    report: dict[str, Any] = {
        "model": model.name, "model_path": args.model, "inputs": {k: list(v.shape) for k, v in inputs.items()},
        "input_source": source, "metric": args.metric, "threshold": threshold, "eps": args.eps,
        "notes": notes, "pairs": []}
    if missing:
        notes.append(f"{len(missing)} tensor(s) have no match in the reference model: "
                     + ", ".join(m.key for m in missing[:10]) + (" ..." if len(missing) > 10 else ""))
    if ref_run is not None:
        for r in runs:
            rows = compare_runs(pairs, r, ref_run, args.eps)
            first = first_divergence(rows, args.metric, threshold)
            report["pairs"].append({"device": r.label, "reference": ref_run.label, "layers": rows,
                                    "first_divergence": first})
    if args.json == "-":
        print(json.dumps(_jsonable(report), indent=2))
    else:
        _print_report(report, args.sort or args.metric)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(_jsonable(report), f, indent=2)
            print(f"wrote {args.json}")
    if args.plot and report["pairs"]:
        plot(args.plot, report)
        print(f"wrote {args.plot}", file=sys.stderr if args.json == "-" else sys.stdout)
    return 0


def _print_report(report: dict[str, Any], sort: str) -> None:
    inputs = ", ".join(f"{k} {v}" for k, v in report["inputs"].items())
    print(f"model: {report['model']} ({report['model_path']})")
    print(f"inputs: {report['input_source']}: {inputs}")
    for note in report["notes"]:
        print(f"note: {note}")
    metric, threshold = report["metric"], report["threshold"]
    worse = ">" if metrics.HIGHER_IS_WORSE[metric] else "<"
    for pair in report["pairs"]:
        rows = pair["layers"]
        print()
        print(f"{pair['device']} against {pair['reference']}: {len(rows)} tensors, "
              f"sorted by {sort}{'' if sort == 'topo' else ' (worst first)'}")
        print(render_table(_sort_rows(rows, sort)))
        comparable = [r for r in rows if "error" not in r and r[metric] is not None]
        if comparable:
            worst = _sort_rows(comparable, metric)[0]
            print(f"largest {metric}: #{worst['index']} {worst['layer']} ({_type_cell(worst)}) {_fmt(worst[metric])}")
        first = pair["first_divergence"]
        if first is None:
            print(f"no divergence: every tensor has {metric} within {threshold:g}")
        elif "error" in first:
            print(f"diverges first at #{first['index']} {first['layer']} ({_type_cell(first)}): {first['error']}")
        else:
            extra = f", {first['nonfinite_mismatch']} NaN/Inf differ" if first["nonfinite_mismatch"] else ""
            print(f"diverges first (topological order) at #{first['index']} {first['layer']} ({_type_cell(first)}): "
                  f"{metric} {_fmt(first[metric])} {worse} {threshold:g}{extra}")
