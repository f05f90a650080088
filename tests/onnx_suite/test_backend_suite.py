"""The official ONNX backend test suite (node, simple, pytorch-converted, pytorch-operator and light
model cases: 2033 in all), run through ``arrayrt.onnx_backend`` on CPU.

``ARRAYRT_ONNX_DEVICE``/``ARRAYRT_ONNX_CONFIG`` run the same suite on another device or array
backend (expected failures then apply only where they name that device). The per-category table is
printed at the end of the run (see ``conftest.py``).
"""
from __future__ import annotations

import os
import re

import pytest

pytest.importorskip("onnx")

from arrayrt.onnx_backend import ArrayrtBackend  # noqa: E402
from arrayrt.testing.onnx_suite import backend_test  # noqa: E402
from expected_failures import EXPECTED  # noqa: E402

pytestmark = pytest.mark.onnx_suite

_suite = backend_test(ArrayrtBackend, __name__)
_suite.exclude(r"_cuda$")
_device = os.environ.get("ARRAYRT_ONNX_DEVICE", "CPU")
for _name in EXPECTED:
    _suite.xfail("^" + re.escape(_name) + "_cpu$")

globals().update(_suite.test_cases)
