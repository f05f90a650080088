"""``Tensor``: an array with an element type and shape, as OpenVINO's ``Tensor``."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from arrayrt.errors import ArrayrtError
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type


class Tensor:
    """``Tensor(array, shared_memory=False)`` copies unless ``shared_memory``; ``Tensor(Type, shape)``
    allocates zeros. ``data`` is the array (a numpy array, or the device array of a backend when the
    tensor was left on a device)."""

    __slots__ = ("_data", "_type")

    def __init__(self, array: Any = None, shape: Sequence[int] | None = None, *,
                 shared_memory: bool = False, type: Type | None = None):  # noqa: A002 - OpenVINO's name
        if isinstance(array, (Type, str)) and shape is not None:
            t = Type(array)
            self._type = t
            self._data = np.zeros(tuple(int(s) for s in shape), dtype=t.to_dtype())
            return
        if isinstance(array, Tensor):
            array = array.data
        if isinstance(array, np.ndarray) or np.isscalar(array) or isinstance(array, (list, tuple)):
            arr = np.asarray(array)
            self._data = arr if shared_memory else arr.copy()
        elif hasattr(array, "shape") and hasattr(array, "dtype"):
            self._data = array  # a device array: kept where it is
        else:
            raise ArrayrtError(f"cannot make a Tensor from {array.__class__.__name__}")
        self._type = Type(type) if type is not None else _type_of(self._data)

    @property
    def data(self) -> Any:
        return self._data

    @property
    def element_type(self) -> Type:
        return self._type

    def get_element_type(self) -> Type:
        return self._type

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self._data.shape)

    def get_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def get_size(self) -> int:
        return self.size

    @property
    def byte_size(self) -> int:
        return (self.size * self._type.bitwidth + 7) // 8

    def get_byte_size(self) -> int:
        return self.byte_size

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(getattr(self._data, "strides", ()))

    def is_continuous(self) -> bool:
        flags = getattr(self._data, "flags", None)
        return bool(flags.c_contiguous) if flags is not None else True

    def set_shape(self, shape: Sequence[int]) -> None:
        shape = tuple(int(s) for s in shape)
        if shape != self.shape:
            self._data = np.zeros(shape, dtype=self._type.to_dtype())

    def copy_to(self, other: "Tensor") -> None:
        other._data = np.array(to_host(self._data), copy=True)
        other._type = self._type

    def copy_from(self, source: "Tensor | np.ndarray") -> None:
        src = source.data if isinstance(source, Tensor) else source
        self._data = np.array(to_host(src), copy=True)
        self._type = _type_of(self._data)

    def __array__(self, dtype=None, copy=None):
        a = to_host(self._data)
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"<Tensor: shape{PartialShape(self.shape)} type: {self._type}>"


def _type_of(a: Any) -> Type:
    try:
        return Type(np.dtype(a.dtype))
    except (TypeError, ArrayrtError):  # e.g. torch.float32: go by the name
        return Type(str(a.dtype).rsplit(".", 1)[-1])


def to_host(a: Any) -> np.ndarray:
    from arrayrt.ir.ops._xp import to_numpy

    return to_numpy(a)
