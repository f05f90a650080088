"""Packaging: one distribution whose wheel holds only arrayrt/...; import safety."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_makes_no_top_level_folders_importable():
    code = ("import sys, arrayrt, arrayrt.ir, arrayrt.backends, arrayrt.tools.cli; "
            "bad = [m for m in ('ir', 'backends', 'tools') if m in sys.modules]; "
            "assert not bad, bad; print(arrayrt.ir.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("ir/__init__.py")


def test_a_broken_backend_is_absent_not_an_error(monkeypatch):
    from arrayrt import backends

    monkeypatch.setitem(backends.BUILTIN, "broken", "arrayrt_no_such_module:Backend")
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    assert backends.backend_class("broken") is None
    assert "broken" not in backends.available_backends()
    import arrayrt

    assert "CPU" in arrayrt.Core().available_devices


def test_an_absent_array_library_is_not_a_device(monkeypatch):
    from arrayrt import backends

    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    assert backends.backend_class("surely_not_an_array_library") is None


@pytest.mark.slow
def test_wheel_holds_only_the_arrayrt_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("arrayrt-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"arrayrt", next(t for t in top if t.endswith(".dist-info"))}, top
    for must in ("arrayrt/ir/ops/base.py", "arrayrt/ir/io/reader.py", "arrayrt/backends/numpy/__init__.py",
                 "arrayrt/tools/cli.py", "arrayrt/models/digits/digits_cnn.xml"):
        assert must in names, must


def test_absent_backends_say_why(monkeypatch):
    from arrayrt import backends

    monkeypatch.setitem(backends.BUILTIN, "broken", "arrayrt_no_such_module:Backend")
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    monkeypatch.setattr(backends, "errors", {})
    assert backends.backend_class("broken") is None
    assert "ModuleNotFoundError" in backends.errors["broken"]
