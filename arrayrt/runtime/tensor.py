"""``Tensor``: an array with an element type and shape, as OpenVINO's ``Tensor``."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from arrayrt.errors import ArrayrtError
from arrayrt.ir.shape import PartialShape, Shape
from arrayrt.ir.types import Type

_TYPE = type  # ``type`` is a parameter's name in Tensor.__init__, as in OpenVINO


class Tensor:
    """``Tensor(array, shared_memory=False)`` copies unless ``shared_memory``; ``Tensor(Type, shape)``
    allocates zeros. ``data`` is the array (a numpy array, or the device array of a backend when the
    tensor was left on a device)."""

    __slots__ = ("_data", "_type")

    def __init__(self, array: Any = None, shape: Sequence[int] | None = None, *,
                 shared_memory: bool = False, type: Type | None = None):  # noqa: A002 - OpenVINO's name
        if shape is not None and (isinstance(array, (Type, str, np.dtype))
                                  or (isinstance(array, _TYPE) and issubclass(array, np.generic))):
            t = Type(np.dtype(array)) if not isinstance(array, (Type, str)) else Type(array)
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
    def shape(self) -> Shape:
        return tuple.__new__(Shape, self._data.shape)  # numpy's shape: ints already

    @shape.setter
    def shape(self, shape: Sequence[int]) -> None:
        self.set_shape(shape)

    def get_shape(self) -> Shape:
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
        """Byte strides, as OpenVINO's ``get_strides()``."""
        return tuple(getattr(self._data, "strides", ()))

    def get_strides(self) -> tuple[int, ...]:
        return self.strides

    def is_continuous(self) -> bool:
        flags = getattr(self._data, "flags", None)
        return bool(flags.c_contiguous) if flags is not None else True

    def set_shape(self, shape: Sequence[int]) -> None:
        shape = tuple(int(s) for s in shape)
        if shape != self.shape:
            self._data = np.zeros(shape, dtype=self._type.to_dtype())

    def copy_to(self, other: "Tensor") -> None:
        """Copy into ``other``'s memory (arrays sharing it see the values); ``other`` takes this
        tensor's shape first when they differ. The element types must be equal, as in OpenVINO."""
        _copy(to_host(self._data), self._type, other)

    def copy_from(self, source: "Tensor | np.ndarray") -> None:
        """Copy ``source`` into this tensor's memory, as ``source.copy_to(self)``."""
        if isinstance(source, Tensor):
            _copy(to_host(source.data), source.element_type, self)
        else:
            src = to_host(source)
            _copy(src, _type_of(src), self)

    def __array__(self, dtype=None, copy=None):
        a = to_host(self._data)
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"<Tensor: shape{PartialShape(self.shape)} type: {self._type}>"


def _copy(src: np.ndarray, src_type: Type, dst: Tensor) -> None:
    if src_type != dst._type:
        raise ArrayrtError(f"cannot copy a {src_type} tensor into a {dst._type} one: the element types differ")
    if tuple(src.shape) != dst.shape:
        dst.set_shape(src.shape)
    if isinstance(dst._data, np.ndarray) and dst._data.flags.writeable:
        np.copyto(dst._data, src)
    else:  # a device array or a read-only view: the tensor takes a host copy instead
        dst._data = np.array(src, copy=True)


def _type_of(a: Any) -> Type:
    try:
        return Type(np.dtype(a.dtype))
    except (TypeError, ArrayrtError):  # e.g. torch.float32: go by the name
        return Type(str(a.dtype).rsplit(".", 1)[-1])


def to_host(a: Any) -> np.ndarray:
    from arrayrt.ir.ops._xp import to_numpy

    return to_numpy(a)
