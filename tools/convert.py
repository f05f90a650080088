"""``arrayrt convert MODEL.onnx --output_model DIR/NAME``: the model optimizer.

Converts ONNX to IR v11 with OpenVINO's options: input shapes/types (static, ``?``/``-1``, ranges
``1..8``), keeping or adding outputs, cutting at internal tensors (as a new input or output),
preprocessing embedded as graph ops (mean/scale values, reversed channels, layouts), fp16 weight
compression (on by default). Prints a conversion report; writes nothing when conversion fails.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def _bool(v: str) -> bool:
    low = v.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got '{v}'")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input_model", help="the model to convert (.onnx)")
    p.add_argument("--output_model", "-o", help="output path DIR/NAME (.xml added; default: NAME beside the input)")
    p.add_argument("--input", help='inputs, e.g. "data[1,3,224,224],mask[1,?]{i64}"; an internal tensor '
                                   "name cuts the graph there (it becomes an input)")
    p.add_argument("--output", help='outputs to keep, e.g. "logits,prob"; internal tensor names add outputs')
    p.add_argument("--mean_values", help='per-channel means, "[123,117,104]" or "data[123,117,104]"')
    p.add_argument("--scale_values", help='per-channel scales, "[58,57,57]" or "data[58,57,57]"')
    p.add_argument("--reverse_input_channels", action="store_true", help="RGB <-> BGR on 3-channel inputs")
    p.add_argument("--layout", help='input layouts, "nchw" or "data(nchw)"')
    p.add_argument("--source_layout", help='layout the data will arrive in, e.g. "nhwc"')
    p.add_argument("--target_layout", help='layout the model expects, e.g. "nchw" (a Transpose is inserted)')
    p.add_argument("--compress_to_fp16", type=_bool, default=True, metavar="True|False",
                   help="store float weights as f16 (default True)")
    p.add_argument("--quiet", action="store_true", help="do not print the conversion report")


def run(args: argparse.Namespace) -> int:
    from arrayrt.ir.frontend.convert import convert_model, parse_input_spec, parse_per_input
    from arrayrt.ir.frontend.onnx import ConversionReport

    from arrayrt import save_model

    report = ConversionReport()
    start = time.perf_counter()
    model = convert_model(
        args.input_model, input=parse_input_spec(args.input) if args.input else None,
        output=args.output, mean_values=parse_per_input(args.mean_values),
        scale_values=parse_per_input(args.scale_values), reverse_input_channels=args.reverse_input_channels,
        layout=parse_per_input(args.layout, numbers=False),
        source_layout=parse_per_input(args.source_layout, numbers=False),
        target_layout=parse_per_input(args.target_layout, numbers=False), report=report)
    out = Path(args.output_model) if args.output_model else Path(args.input_model).with_suffix(".xml")
    if out.suffix.lower() != ".xml":
        out = out.with_name(out.name + ".xml")
    save_model(model, out, compress_to_fp16=args.compress_to_fp16)
    took = time.perf_counter() - start
    if not args.quiet:
        print(report.format())
    print(f"[ SUCCESS ] XML file: {out}")
    print(f"[ SUCCESS ] BIN file: {out.with_suffix('.bin')}")
    print(f"[ INFO ] total time {took:.3f} s")
    return 0
