"""The ONNX backend suite on the array-api-strict device (``STRICT``): the same op computes through
the generic array-API backend. Cases beyond CPU's expected failures fail here only because the
strict namespace refuses a type or op (its ``supports`` says why: see STRICT_EXPECTED)."""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("array_api_strict")

from expected_failures import EXPECTED, RANDOM, STRICT_EXPECTED  # noqa: E402

from arrayrt.testing.onnx_suite import suite_cases  # noqa: E402

SUITE_DEVICE = "STRICT"
pytestmark = pytest.mark.onnx_suite

globals().update(suite_cases(__name__, SUITE_DEVICE, expected={**EXPECTED, **STRICT_EXPECTED}, skipped=RANDOM))
