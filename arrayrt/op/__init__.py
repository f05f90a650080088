"""``openvino.op``'s counterpart: ``arrayrt.op.util`` holds ``Variable`` and ``VariableInfo`` for
building stateful models as OpenVINO users do."""
from arrayrt.op import util

__all__ = ["util"]
