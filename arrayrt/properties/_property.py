"""The property key type of :mod:`arrayrt.properties`."""
from __future__ import annotations

import enum
from typing import Any

from arrayrt.errors import ArrayrtError


class Property(str):
    """A property key, as in ``openvino.properties``: a ``str`` (so it is a dict key of
    ``compile_model``/``set_property`` configs and a ``get_property`` name) that can be called:
    ``prop()`` gives the key, ``prop(value)`` the pair ``(key, value)``."""

    read_only = False

    def __call__(self, *values: Any) -> "str | tuple[str, Any]":
        if not values:
            return str(self)
        if self.read_only:
            raise ArrayrtError(f"property '{self}' is read-only; it takes no value")
        if len(values) == 1:
            return str(self), values[0]
        if all(isinstance(v, str) for v in values):  # device.priorities("GPU", "CPU")
            return str(self), ",".join(values)
        raise ArrayrtError(f"property '{self}' takes one value, got {len(values)}")


class ReadOnlyProperty(Property):
    """A property that devices and compiled models report but that cannot be set."""

    read_only = True


class ValueEnum(str, enum.Enum):
    """An enum whose members are their value strings (``PerformanceMode.LATENCY == "LATENCY"``), so
    they can be passed wherever the string can and compare equal to what ``get_property`` returns."""

    def __str__(self) -> str:
        return str(self.value)
