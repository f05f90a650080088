"""Fallback completeness: the ONNX backend suite on ``HETERO:NPU,CPU`` with the f32 hint (the suite
backend's default config) passes every case that passes on CPU alone: NPU compiles what its
``supports`` accepts into XLA programs, the CPU runs the rest."""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("jax")

from expected_failures import EXPECTED, RANDOM  # noqa: E402

from arrayrt.testing.onnx_suite import suite_cases  # noqa: E402

SUITE_DEVICE = "HETERO:NPU,CPU"
pytestmark = [pytest.mark.onnx_suite, pytest.mark.slow]

globals().update(suite_cases(__name__, SUITE_DEVICE, expected=EXPECTED, skipped=RANDOM))
