"""Stream counts (``openvino.properties.streams``)."""
from __future__ import annotations

from arrayrt.properties._property import Property


class Num(int):
    """A stream count: ``Num(2)``, or ``Num.AUTO`` (as many as the usable cores) and ``Num.NUMA``
    (the same here: one NUMA node is assumed)."""

    AUTO: "Num"
    NUMA: "Num"

    def __repr__(self) -> str:
        return {-1: "Num.AUTO", -2: "Num.NUMA"}.get(int(self), f"Num({int(self)})")


Num.AUTO = Num(-1)
Num.NUMA = Num(-2)

num = Property("NUM_STREAMS")

__all__ = ["Num", "num"]
