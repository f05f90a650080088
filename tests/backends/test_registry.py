"""Backend discovery and the generic array-API backend."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.base import Backend
from arrayrt.ir.types import Type

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt import backends


class _EP:
    def __init__(self, name, cls):
        self.name, self._cls = name, cls

    def load(self):
        return self._cls


class ToyBackend(Backend):
    """A third-party backend: numpy under another name, on a device of its own."""

    name = "toy"
    device = "TOY"
    dtypes = frozenset({Type.f32, Type.i64})

    @classmethod
    def load_namespace(cls):
        return np


def test_entry_point_backend_becomes_a_device(monkeypatch):
    monkeypatch.setattr(backends, "entry_points", lambda group: [_EP("toy", ToyBackend)])
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    core = ar.Core()
    assert "TOY" in core.available_devices
    x = ops.parameter([2], np.float32, name="x")
    m = ar.Model([ops.add(x, np.ones(2, np.float32))], [x])
    np.testing.assert_array_equal(core.compile_model(m, "TOY")([np.ones(2, np.float32)])[0], [2, 2])
    assert core.query_model(m, "TOY")


def test_backend_refuses_dtypes_it_does_not_hold(monkeypatch):
    monkeypatch.setattr(backends, "entry_points", lambda group: [_EP("toy", ToyBackend)])
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    x = ops.parameter([2], np.float64, name="x")
    m = ar.Model([ops.add(x, np.ones(2, np.float64))], [x])
    assert ar.Core().query_model(m, "TOY") == {}
    with pytest.raises(ar.UnsupportedOpError, match="cannot run on TOY.*element type f64"):
        ar.Core().compile_model(m, "TOY")


def test_any_array_api_module_by_name():
    pytest.importorskip("array_api_strict")
    x = ops.parameter([3], np.float32, name="x")
    m = ar.Model([ops.multiply(x, np.full(3, 2, np.float32))], [x])
    c = ar.Core().compile_model(m, "CPU", {"ARRAY_BACKEND": "array_api_strict"})
    np.testing.assert_array_equal(c([np.arange(3, dtype=np.float32)])[0], [0, 2, 4])


def test_unknown_array_backend_is_a_device_error():
    x = ops.parameter([3], np.float32, name="x")
    m = ar.Model([ops.add(x, x)], [x])
    with pytest.raises(ar.DeviceError, match="array backend 'nope_lib' is not available"):
        ar.Core().compile_model(m, "CPU", {"ARRAY_BACKEND": "nope_lib"})


class WrappingBackend(ToyBackend):
    """Takes the plan with its constants as an argument, as a jit-compiling backend does."""

    name = "wrapping"
    device = "WRAP"
    seen: list = []

    def wrap_plan(self, run, consts):
        self.seen.append(len(consts))

        def call(*args):
            return run(consts, *args)

        return call


def test_wrap_plan_receives_constants_as_an_argument(monkeypatch):
    monkeypatch.setattr(backends, "entry_points", lambda group: [_EP("wrapping", WrappingBackend)])
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    x = ops.parameter([2], np.float32, name="x")
    m = ar.Model([ops.multiply(ops.add(x, np.ones(2, np.float32)), np.full(2, 3, np.float32))], [x])
    c = ar.Core().compile_model(m, "WRAP")
    assert WrappingBackend.seen == [2]
    assert "def run(C, a0):" in c._plan.source
    np.testing.assert_array_equal(c([np.zeros(2, np.float32)])[0], [3, 3])


def test_builtin_devices_match_the_backend_classes():
    """``BUILTIN_DEVICES`` lets a compile import only its device's backends; it must say what the
    classes say."""
    assert set(backends.BUILTIN_DEVICES) == set(backends.BUILTIN)
    for name, device in backends.BUILTIN_DEVICES.items():
        cls = backends.backend_class(name)
        if cls is not None:
            assert cls.device == device, name


def test_compiling_for_cpu_imports_no_other_backend():
    import subprocess
    import sys

    code = ("import sys, numpy as np, arrayrt as ar, arrayrt.opset as ops\n"
            "x = ops.parameter([2], np.float32, name='x')\n"
            "ar.Core().compile_model(ar.Model([ops.relu(x)], [x]), 'CPU')\n"
            "print(sorted(m for m in ('jax', 'cupy', 'array_api_strict') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
