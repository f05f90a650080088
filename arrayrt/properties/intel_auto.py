"""Options of the AUTO device (``openvino.properties.intel_auto``)."""
from __future__ import annotations

from arrayrt.properties._property import Property

#: run on CPU while the chosen device compiles (default on)
enable_startup_fallback = Property("ENABLE_STARTUP_FALLBACK")
#: rerun a failed inference on the next device (default on)
enable_runtime_fallback = Property("ENABLE_RUNTIME_FALLBACK")

__all__ = ["enable_runtime_fallback", "enable_startup_fallback"]
