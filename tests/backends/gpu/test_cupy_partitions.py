"""HETERO partitions drawn at random with the GPU device on the CuPy stand-in: each node case of the
ONNX backend suite, its nodes placed at random on ``GPU``, ``STRICT`` or ``CPU`` among the devices
that accept them, gives the suite's references and runs each node where it was placed (see
``tests/onnx_suite/test_random_partitions.py``): cuts into and out of device-resident plans and
CUDA-graph recordings, in every direction."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("array_api_strict")

from arrayrt.testing.onnx_suite import check_random_partition, node_case_dirs  # noqa: E402

# the expected-failure lists live beside the suite modules, which this folder cannot import by name
_spec = importlib.util.spec_from_file_location(
    "_expected", Path(__file__).parents[2] / "onnx_suite" / "expected_failures.py")
_expected = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_expected)

pytestmark = [pytest.mark.onnx_suite, pytest.mark.slow]
SEED = int(os.environ.get("ARRAYRT_PARTITION_SEED", "0"))  # other draws: ARRAYRT_PARTITION_SEED=N


@pytest.mark.parametrize("case", node_case_dirs({**_expected.EXPECTED, **_expected.RANDOM}), ids=lambda c: c.name)
def test_random_partition_with_the_gpu(gpu, case):
    why_not = check_random_partition(case, ("GPU", "STRICT", "CPU"), SEED)
    if why_not:
        pytest.skip(why_not)
