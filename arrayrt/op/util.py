"""``Variable`` and ``VariableInfo``, as in ``openvino.op.util``: a state variable's id, element
type and shape, given to ``opset.read_value`` and ``opset.assign`` in place of a variable id."""
from __future__ import annotations

from typing import Any

from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type


class VariableInfo:
    """A variable's ``variable_id``, ``data_type`` (dynamic: taken from the initial value) and
    ``data_shape`` (dynamic rank: taken from the initial value)."""

    def __init__(self) -> None:
        self.variable_id = ""
        self.data_type: Any = Type.dynamic
        self.data_shape: Any = PartialShape.dynamic()

    def __repr__(self) -> str:
        return f"<VariableInfo: {self.variable_id!r} {Type(self.data_type).name} {PartialShape(self.data_shape)}>"


class Variable:
    """One state variable; ``get_info()`` / ``update(info)`` as in OpenVINO."""

    def __init__(self, info: VariableInfo):
        self._info = info

    def get_info(self) -> VariableInfo:
        return self._info

    def update(self, info: VariableInfo) -> None:
        self._info = info

    @property
    def info(self) -> VariableInfo:
        return self._info

    def __repr__(self) -> str:
        return f"<Variable: {self._info!r}>"
