"""The official ONNX backend test suite (node, simple, pytorch-converted, pytorch-operator and light
model cases: 2033 in all), run through ``arrayrt.onnx_backend`` on CPU (numpy).

The per-device summary table is printed at the end of the run (see ``conftest.py``).
"""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")

from expected_failures import EXPECTED, RANDOM  # noqa: E402

from arrayrt.testing.onnx_suite import suite_cases  # noqa: E402

SUITE_DEVICE = "CPU"
pytestmark = pytest.mark.onnx_suite

globals().update(suite_cases(__name__, SUITE_DEVICE, expected=EXPECTED, skipped=RANDOM))
