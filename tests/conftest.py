"""Shared fixtures: the array backends the op suite runs on."""
from __future__ import annotations

import pytest

from arrayrt.testing import TEST_BACKENDS


@pytest.fixture(params=TEST_BACKENDS)
def backend(request) -> str:
    """Every array backend of the op conformance suite (skips inside check_op when absent)."""
    return request.param
