"""numpy kernels for the indexing family (see kernels.py)."""
from __future__ import annotations

from arrayrt.backends.base import KernelFactory

OVERRIDES: dict[str, KernelFactory] = {}
