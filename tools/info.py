"""``arrayrt info MODEL [-d DEVICE --partition] [--dot FILE]``: inputs, outputs and op histogram;
with a HETERO device, the partition: subgraphs, their devices, node counts, ops and the transfers
between them; ``--dot`` writes the graph for Graphviz, coloured by device."""
from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from arrayrt import Core


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="IR .xml (with its .bin beside it) or .onnx")
    p.add_argument("-d", "--device", help="compile for this device (e.g. HETERO:NPU,CPU) to see where ops run")
    p.add_argument("--partition", action="store_true", help="print the subgraphs of a HETERO compilation")
    p.add_argument("--dot", metavar="FILE", help="write a Graphviz .dot of the graph, nodes coloured by device")


def run(args: argparse.Namespace) -> int:
    core = Core()
    model = core.read_model(args.model)
    print(f"model: {model.name}")
    print("inputs:")
    for p in model.inputs:
        print(f"  {_names(p):30s} {p.get_element_type()!s:8s} {p.get_partial_shape()}")
    print("outputs:")
    for p in model.outputs:
        print(f"  {_names(p):30s} {p.get_element_type()!s:8s} {p.get_partial_shape()}")
    ops = model.get_ordered_ops()
    hist = Counter(f"{n.type_name}-{n.version}" for n in ops)
    print(f"ops: {len(ops)}")
    for name, count in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:6d}  {name}")
    devices: dict[str, str] = {}
    if args.device:
        compiled = core.compile_model(model, args.device)
        runtime = compiled.get_runtime_model()
        devices = {n.friendly_name: n.rt_info.get("device", "") for n in runtime.get_ordered_ops()}
        print(f"execution devices: {compiled.get_property('EXECUTION_DEVICES')}")
        if args.partition:
            print_partition(compiled)
    if args.dot:
        write_dot(model, devices, args.dot)
        print(f"wrote {args.dot}")
    return 0


def print_partition(compiled) -> None:
    subgraphs = getattr(compiled._plan, "subgraphs", None)
    if subgraphs is None:
        print(f"partition: one subgraph on {compiled.get_property('EXECUTION_DEVICES')[0]}")
        return
    print(f"partition: {len(subgraphs)} subgraphs")
    for sg in subgraphs:
        ops = Counter(n.type_name for n in sg.model.get_ordered_ops()
                      if n.type_name not in ("Parameter", "Result", "Constant"))
        nbytes = sum(_nbytes(o) for o in sg.inputs)
        top = ", ".join(f"{k}x{v}" for k, v in ops.most_common(6))
        print(f"  [{sg.index}] {sg.device:8s} {len(sg.node_names):5d} nodes  in: {len(sg.inputs)} tensors "
              f"{_fmt_bytes(nbytes)}  out: {len(sg.outputs)}  ops: {top}")


def _nbytes(out) -> int:
    ps = out.get_partial_shape()
    if not ps.is_static:
        return 0
    return int(np.prod(ps.to_shape(), dtype=np.int64)) * max(out.get_element_type().bitwidth // 8, 1)


def _fmt_bytes(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


_COLORS = ["lightblue", "lightsalmon", "palegreen", "khaki", "plum", "lightgray"]


def write_dot(model, devices: dict[str, str], path: str) -> None:
    ids = {}
    colors: dict[str, str] = {}
    lines = ["digraph model {", "  node [shape=box, style=filled, fontsize=10];"]
    for i, n in enumerate(model.get_ordered_ops()):
        ids[n.uid] = f"n{i}"
        dev = devices.get(n.friendly_name, "")
        color = colors.setdefault(dev, _COLORS[len(colors) % len(_COLORS)]) if dev else "white"
        label = f"{n.friendly_name}\\n{n.type_name}" + (f"\\n[{dev}]" if dev else "")
        lines.append(f'  n{i} [label="{_esc(label)}", fillcolor="{color}"];')
    for n in model.get_ordered_ops():
        for src in n.input_values():
            lines.append(f"  {ids[src.node.uid]} -> {ids[n.uid]};")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _esc(s: str) -> str:
    return s.replace('"', '\\"')


def _names(port) -> str:
    names = sorted(port.get_names())
    return ",".join(names) if names else f"<{port.node.friendly_name}>"
