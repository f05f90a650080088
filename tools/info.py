"""``arrayrt info MODEL``: inputs, outputs and the op histogram of a model."""
from __future__ import annotations

import argparse
from collections import Counter

from arrayrt import Core


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="IR .xml (with its .bin beside it) or .onnx")


def run(args: argparse.Namespace) -> int:
    model = Core().read_model(args.model)
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
    return 0


def _names(port) -> str:
    names = sorted(port.get_names())
    return ",".join(names) if names else f"<{port.node.friendly_name}>"
