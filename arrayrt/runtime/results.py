"""``InferResults``: inference results readable by index, tensor name or output port (OpenVINO's
``OVDict``)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from arrayrt.errors import ArrayrtError
from arrayrt.ir.graph import Output


class InferResults(Mapping):
    """Keys are the compiled model's output ports; ``r[0]``, ``r["logits"]`` and ``r[port]`` all work."""

    __slots__ = ("_ports", "_values", "_by_name")

    def __init__(self, ports: list[Output], values: list[Any], by_name: dict[str, int]):
        self._ports = ports
        self._values = values
        self._by_name = by_name

    def _index(self, key: Any) -> int:
        if isinstance(key, int) and not isinstance(key, bool):
            if not -len(self._values) <= key < len(self._values):
                raise KeyError(f"output index {key} out of range ({len(self._values)} outputs)")
            return key % len(self._values)
        if isinstance(key, str):
            if key in self._by_name:
                return self._by_name[key]
            raise KeyError(f"no output named '{key}'; names: {sorted(self._by_name)}")
        if isinstance(key, Output):
            for i, p in enumerate(self._ports):
                if p == key:
                    return i
            names = key.get_names()
            for n in names:
                if n in self._by_name:
                    return self._by_name[n]
            raise KeyError(f"{key!r} is not an output of this model")
        raise KeyError(f"results are keyed by int, str or Output, not {type(key).__name__}")

    def __getitem__(self, key: Any) -> Any:
        return self._values[self._index(key)]

    def __iter__(self) -> Iterator[Output]:
        return iter(self._ports)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        try:
            self._index(key)
            return True
        except KeyError:
            return False

    def names(self) -> tuple[set[str], ...]:
        return tuple(p.get_names() for p in self._ports)

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self._values)

    def to_dict(self) -> dict[Output, Any]:
        return dict(zip(self._ports, self._values))

    def by_name(self) -> dict[str, Any]:
        """``{any tensor name: value}``: handy for ``np.savez(**results.by_name())``."""
        out = {}
        for i, p in enumerate(self._ports):
            names = p.get_names()
            out[min(names) if names else f"output_{i}"] = self._values[i]
        return out

    def __repr__(self) -> str:
        return "<InferResults: " + ", ".join(
            f"{sorted(n) or i}: shape{tuple(getattr(v, 'shape', ()))}"
            for i, (n, v) in enumerate(zip(self.names(), self._values))) + ">"


def make_by_name(ports: list[Output]) -> dict[str, int]:
    by_name: dict[str, int] = {}
    for i, p in enumerate(ports):
        for n in p.get_names():
            if n in by_name and by_name[n] != i:
                raise ArrayrtError(f"tensor name '{n}' names two outputs ({by_name[n]} and {i})")
            by_name[n] = i
    return by_name
