"""What the suites share: the backends, compiling for one, and running with the device synchronised."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from arrayrt.backends import BUILTIN, available_backends, backend_class

from arrayrt import Core
from arrayrt.errors import UnsupportedOpError
from arrayrt.runtime.tensor import Tensor

#: every built-in backend, present or not: the asv parameter (absent ones are skipped in setup)
BACKENDS = list(BUILTIN)

# Import every backend's library now: asv imports this suite once and forks a process per
# benchmark, which then does not pay for importing jax (seconds) again.
available_backends()


def backend_or_skip(name: str) -> type:
    cls = backend_class(name)
    if cls is None:
        raise NotImplementedError(f"backend {name} is not available here")
    return cls


def compile_or_skip(model: Any, backend: str, inputs: dict[str, np.ndarray] | None = None,
                    config: dict[str, Any] | None = None) -> Any:
    """``model`` compiled for ``backend``'s device (its default precision, the LATENCY hint). A
    backend that declines a node (``UnsupportedOpError``: its ``supports`` answer) is a skip; any
    other error is a failure. Backends that compile from calibration data (GNA) are calibrated on
    ``inputs``."""
    cls = backend_or_skip(backend)
    cfg = {"ARRAY_BACKEND": backend, "PERFORMANCE_HINT": "LATENCY", **(config or {})}
    if cls.calibration_property and inputs is not None:
        cfg[cls.calibration_property] = inputs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Core().compile_model(model, cls.device, cfg)
    except UnsupportedOpError as exc:
        raise NotImplementedError(f"{backend} does not run this: {exc}") from None


def infer(compiled: Any, inputs: Any) -> Any:
    """One inference, returned only once the device is done: outputs come back as host arrays
    (which waits for the device) unless KEEP_ON_DEVICE, then they are waited for explicitly."""
    results = compiled(inputs)
    for value in results.to_tuple():
        data = value.data if isinstance(value, Tensor) else value
        ready = getattr(data, "block_until_ready", None)
        if ready is not None:
            ready()
    return results
