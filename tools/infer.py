"""``arrayrt infer -m MODEL -d DEVICE [-i in.npz] [-o out.npz]``: one inference."""
from __future__ import annotations

import argparse

import numpy as np

from arrayrt import Core
from arrayrt.errors import InferenceInputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", required=True, help="IR .xml or .onnx")
    p.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    p.add_argument("-i", "--input", help=".npz of inputs keyed by input name (default: random data)")
    p.add_argument("-o", "--output", help="write outputs to this .npz, keyed by output name")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--precision", help="INFERENCE_PRECISION_HINT (f32, f16, bf16)")


def random_inputs(compiled, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for p in compiled.inputs:
        ps = p.get_partial_shape()
        if not ps.rank_is_static:
            raise InferenceInputError(f"input '{p.get_any_name()}' has a dynamic rank: give it with -i")
        shape = [d.min if d.is_static else max(d.min, 1) for d in ps]
        dt = p.get_element_type().to_dtype()
        if dt.kind == "f":
            a = rng.standard_normal(shape).astype(dt)
        elif dt.kind == "b":
            a = rng.random(shape) > 0.5
        else:
            a = rng.integers(0, 10, size=shape).astype(dt)
        out[_name(p)] = a
    return out


def _name(port) -> str:
    names = port.get_names()
    return min(names) if names else port.node.friendly_name


def run(args: argparse.Namespace) -> int:
    core = Core()
    config = {"INFERENCE_PRECISION_HINT": args.precision} if args.precision else None
    compiled = core.compile_model(args.model, args.device, config)
    if args.input:
        with np.load(args.input, allow_pickle=False) as npz:
            inputs = {k: npz[k] for k in npz.files}
    else:
        inputs = random_inputs(compiled, args.seed)
    results = compiled(inputs)
    named = results.by_name()
    for name, value in named.items():
        v = np.asarray(value)
        summary = f"min {v.min():.6g} max {v.max():.6g}" if v.size and v.dtype.kind in "fiu" else ""
        print(f"{name}: {v.dtype} {list(v.shape)} {summary}")
    if args.output:
        np.savez(args.output, **named)
        print(f"wrote {args.output}")
    return 0
