"""The ONNX backend suite on ``NPU`` (jax/XLA) with the f32 hint (the suite backend's default
config): one XLA program per model. Cases beyond CPU's expected failures are those NPU refuses
through its ``supports`` answer (data-dependent shapes, strings, values read while compiling) or
computes differently by design: see NPU_EXPECTED."""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("jax")

from expected_failures import EXPECTED, NPU_EXPECTED, RANDOM  # noqa: E402

from arrayrt.testing.onnx_suite import suite_cases  # noqa: E402

SUITE_DEVICE = "NPU"
pytestmark = [pytest.mark.onnx_suite, pytest.mark.slow]

globals().update(suite_cases(__name__, SUITE_DEVICE, expected={**EXPECTED, **NPU_EXPECTED}, skipped=RANDOM))
