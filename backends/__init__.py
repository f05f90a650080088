"""Backends: array libraries bound to devices. See :mod:`arrayrt.backends.base` to add one.

Built-in backends are listed here by name; third-party ones register under the ``arrayrt.backends``
entry-point group. A backend whose library fails to import is simply absent.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from arrayrt.backends.base import Backend

from arrayrt.errors import DeviceError

#: backend name -> "module:Class"; the order is the order devices are listed in
BUILTIN: dict[str, str] = {
    "numpy": "arrayrt.backends.numpy:NumpyBackend",
    "cupy": "arrayrt.backends.cupy:CupyBackend",
    "jax": "arrayrt.backends.jax:JaxBackend",
    "gna": "arrayrt.backends.gna:GnaBackend",
    "array_api_strict": "arrayrt.backends.generic:StrictBackend",
}

#: the device each built-in backend serves, so that compiling for one device imports only its
#: candidates (importing jax costs a CPU-only process ~80 MB of memory and a second of start-up)
BUILTIN_DEVICES: dict[str, str] = {"numpy": "CPU", "cupy": "GPU", "jax": "NPU", "gna": "GNA",
                                   "array_api_strict": "STRICT"}

ENTRY_POINT_GROUP = "arrayrt.backends"

_cache: dict[str, type[Backend] | None] = {}
_spec_cache: list[dict[str, object]] = []
#: backend name -> why it is absent (import error, no device), for ``arrayrt devices -v``
errors: dict[str, str] = {}


def refresh() -> None:
    """Forget discovered backends (after installing one, or in tests)."""
    _cache.clear()
    _spec_cache.clear()
    errors.clear()


def _load(spec: str) -> type[Backend]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _specs() -> dict[str, object]:
    if not _spec_cache:
        specs: dict[str, object] = dict(BUILTIN)
        try:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                specs.setdefault(ep.name, ep)
        except Exception:  # noqa: BLE001 - broken metadata must not break arrayrt
            pass
        _spec_cache.append(specs)
    return _spec_cache[0]


def backend_class(name: str) -> type[Backend] | None:
    """The backend class registered as ``name``, or None when absent (not installed, no device)."""
    if name not in _cache:
        spec = _specs().get(name)
        cls = None
        if spec is not None:
            try:
                cls = _load(spec) if isinstance(spec, str) else spec.load()
                try:
                    cls.load_namespace()
                except Exception as exc:  # noqa: BLE001 - no library or no device: absent
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    cls = None
            except Exception as exc:  # noqa: BLE001 - a backend module that fails to import is absent
                errors[name] = f"{type(exc).__name__}: {exc}"
                cls = None
        if cls is None and name not in _specs():
            try:  # any array-API library by module name, through array-api-compat
                from arrayrt.backends.generic import GenericBackend

                cls = GenericBackend.for_library(name)
                if not cls.is_available():
                    cls = None
            except Exception:  # noqa: BLE001
                cls = None
        _cache[name] = cls
    return _cache[name]


def available_backends() -> dict[str, type[Backend]]:
    """Every registered backend whose library is present, by name."""
    return {n: c for n in _specs() if (c := backend_class(n)) is not None}


def device_backends() -> dict[str, type[Backend]]:
    """Device name -> the backend serving it by default (the first registered for that device)."""
    out: dict[str, type[Backend]] = {}
    for cls in available_backends().values():
        out.setdefault(cls.device, cls)
    return out


def device_backend(device: str) -> type[Backend] | None:
    """The backend serving ``device`` by default, as :func:`device_backends` would pick it, importing
    only the built-ins that serve that device (and third-party backends, whose device is known only
    once loaded)."""
    for name in _specs():
        if BUILTIN_DEVICES.get(name, device) != device:
            continue
        cls = backend_class(name)
        if cls is not None and cls.device == device:
            return cls
    return None


def get_backend(name: str) -> type[Backend]:
    cls = backend_class(name)
    if cls is None:
        known = sorted(available_backends())
        raise DeviceError(f"array backend '{name}' is not available (available: {known})")
    return cls
