"""The numpy backend, device ``CPU``: runs every op; the fallback that ensures completeness."""
from __future__ import annotations

from typing import Any

import numpy as np
from arrayrt.backends.base import Backend, usable_cores
from arrayrt.backends.numpy.kernels import OVERRIDES
from arrayrt.ir.types import Type


class NumpyBackend(Backend):
    name = "numpy"
    device = "CPU"
    dtypes = frozenset(t for t in Type._by_name.values() if t.is_static)
    default_precision = Type.f32
    overrides = OVERRIDES

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__(config)
        #: cores one stream may use: BLAS's thread count, and the split of the depthwise kernels
        self.threads = set_blas_threads(self.config) or 1

    @classmethod
    def load_namespace(cls) -> Any:
        return np

    def compile(self, model: Any, config: dict[str, Any] | None = None) -> Any:
        from arrayrt.backends.numpy.fusion import fuse

        fuse(model)
        return super().compile(model, config)

    def to_device(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)


def set_blas_threads(config: dict[str, Any]) -> int | None:
    """Divide the cores between streams: BLAS gets ``INFERENCE_NUM_THREADS`` threads, or
    usable cores / ``NUM_STREAMS`` when streams run concurrently (so two streams on two cores do not
    oversubscribe). BLAS thread pools are process-wide: the last compiled model's setting holds."""
    streams = int(config.get("NUM_STREAMS", 1) or 1)
    threads = int(config.get("INFERENCE_NUM_THREADS", 0) or 0)
    if threads <= 0:
        threads = max(1, usable_cores() // max(streams, 1))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    threadpool_limits(limits=threads, user_api="blas")
    return threads
