"""The numpy backend, device ``CPU``: runs every op; the fallback that ensures completeness."""
from __future__ import annotations

from typing import Any

import numpy as np

from arrayrt.backends.base import Backend
from arrayrt.backends.numpy.kernels import OVERRIDES
from arrayrt.ir.types import Type


class NumpyBackend(Backend):
    name = "numpy"
    device = "CPU"
    dtypes = frozenset(t for t in Type._by_name.values() if t.is_static and t is not Type.string)
    default_precision = Type.f32
    overrides = OVERRIDES

    @classmethod
    def load_namespace(cls) -> Any:
        return np

    def to_device(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)
