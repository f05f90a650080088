"""A backend over any array-API namespace, through array-api-compat (array-api-strict, torch, dask).

``GenericBackend.for_library("torch")`` makes a backend class for an installed library. The op
suite runs on ``array_api_strict`` through it to prove the computes are written against the standard.
"""
from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np
from arrayrt.backends.base import Backend
from arrayrt.ir.types import Type

_STANDARD_TYPES = frozenset({Type.f64, Type.f32, Type.i64, Type.i32, Type.i16, Type.i8, Type.u64,
                             Type.u32, Type.u16, Type.u8, Type.boolean})

#: ops whose compute cannot be written in the array-API standard: op type -> reason
NOT_IN_STANDARD: dict[str, str] = {
    "BitCast": "reinterpreting an array's bytes as another type has no array-API function",
}


class GenericBackend(Backend):
    """Runs the ops' array-API computes on a namespace given by ``library`` (module name)."""

    name = "generic"
    device = "CPU"
    library: ClassVar[str] = "array_api_strict"
    unsupported = NOT_IN_STANDARD

    @classmethod
    def load_namespace(cls) -> Any:
        import array_api_compat

        mod = importlib.import_module(cls.library)
        return array_api_compat.array_namespace(mod.asarray([0]))

    @classmethod
    def for_library(cls, library: str) -> type["GenericBackend"]:
        return type(f"GenericBackend_{library}", (cls,), {"name": library, "library": library})

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__(config)
        types = set(_STANDARD_TYPES)
        if getattr(self.xp, "float16", None) is not None:
            types.add(Type.f16)
        self.dtypes = frozenset(types)

    def to_device(self, array: Any) -> Any:
        a = np.asarray(array)
        if not a.flags.writeable or not a.flags.c_contiguous:
            a = np.array(a, copy=True, order="C")  # keeps 0-d arrays 0-d
        return self.xp.asarray(a)


class StrictBackend(GenericBackend):
    """``array_api_strict``, device ``STRICT``: the portability proof used by the op conformance
    tests, and a second array library for HETERO partitions on machines without accelerators."""

    name = "array_api_strict"
    device = "STRICT"
    library = "array_api_strict"
