"""numpy kernels for the matmul family (see kernels.py)."""
from __future__ import annotations

from arrayrt.backends.base import KernelFactory

OVERRIDES: dict[str, KernelFactory] = {}
