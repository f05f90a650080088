"""``arrayrt`` command line: ``arrayrt VERB [options]``; ``arrayrt VERB --help`` for each verb."""
from __future__ import annotations

import argparse
import importlib
import sys

from arrayrt.errors import ArrayrtError

#: verb -> (module, one-line help); each module has ``add_arguments(parser)`` and ``run(args) -> int``
VERBS = {
    "devices": ("arrayrt.tools.devices", "list available devices and their array backends"),
    "convert": ("arrayrt.tools.convert", "convert an ONNX model to IR (the model optimizer)"),
    "info": ("arrayrt.tools.info", "show a model's inputs, outputs and op histogram"),
    "infer": ("arrayrt.tools.infer", "run a model once on inputs from an .npz (or random)"),
    "benchmark": ("arrayrt.tools.benchmark", "measure latency and throughput (benchmark_app layout)"),
    "crosscheck": ("arrayrt.tools.crosscheck", "per-layer numerics: two devices, two models, or a saved run"),
    "demo": ("arrayrt.tools.demo", "run the bundled digits classifier on every available device"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arrayrt", description="arrayrt: OpenVINO IR on any array library")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module, help_text) in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from arrayrt import __version__

        print(f"arrayrt {__version__}")
        return 0
    if not args.verb:
        parser.print_help()
        return 2
    module = importlib.import_module(VERBS[args.verb][0])
    try:
        return int(module.run(args) or 0)
    except ArrayrtError as exc:
        print(f"arrayrt {args.verb}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
