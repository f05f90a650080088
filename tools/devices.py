"""``arrayrt devices``: the devices this machine offers and the array library behind each."""
from __future__ import annotations

import argparse

from arrayrt.backends import available_backends
from arrayrt.backends import errors as backend_errors

from arrayrt import Core


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="also list every array backend")


def run(args: argparse.Namespace) -> int:
    core = Core()
    for dev in core.available_devices:
        print(f"{dev:6s} {core.get_property(dev, 'FULL_DEVICE_NAME')}  "
              f"(precision {core.get_property(dev, 'INFERENCE_PRECISION_HINT')})")
    if args.verbose:
        print("array backends (ARRAY_BACKEND):")
        for name, cls in available_backends().items():
            print(f"  {name:18s} device {cls.device}")
        for name, why in sorted(backend_errors.items()):
            print(f"  {name:18s} absent: {why}")
    return 0
