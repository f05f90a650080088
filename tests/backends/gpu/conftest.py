"""The GPU device on a CPU: :class:`CupyBackend` bound to :mod:`fakecupy` (numpy behind CuPy's API)."""
from __future__ import annotations

import pytest
from arrayrt.backends.cupy import CupyBackend
from fakecupy import FakeCupy

from arrayrt import backends


def fake_backend_class(fake: FakeCupy) -> type[CupyBackend]:
    """A CupyBackend whose CuPy is ``fake``: no cupyx (no cuDNN, no native erf)."""
    return type("FakeCupyBackend", (CupyBackend,), {
        "cupy_module": fake,
        "array_api": classmethod(lambda cls, cp: cp.array_api),
        "libraries": classmethod(lambda cls, cp: {"erf": None, "cudnn": None}),
    })


@pytest.fixture
def fake() -> FakeCupy:
    return FakeCupy(devices=2)


@pytest.fixture
def gpu(fake, monkeypatch) -> FakeCupy:
    """``GPU`` is served by the fake CuPy for the test; yields the fake (its counters)."""
    monkeypatch.setitem(backends._cache, "cupy", fake_backend_class(fake))
    return fake
