"""Fallback completeness: the ONNX backend suite on ``HETERO:GNA,CPU`` with the f32 hint (GNA's
float twin) passes every case that passes on CPU alone: GNA takes what its allow-list supports,
the CPU the rest."""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")

from expected_failures import EXPECTED, RANDOM  # noqa: E402

from arrayrt.testing.onnx_suite import suite_cases  # noqa: E402

SUITE_DEVICE = "HETERO:GNA,CPU"
pytestmark = [pytest.mark.onnx_suite, pytest.mark.slow]

globals().update(suite_cases(__name__, SUITE_DEVICE, expected=EXPECTED, skipped=RANDOM))
