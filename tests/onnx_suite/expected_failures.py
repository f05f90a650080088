"""Every ONNX backend suite case arrayrt is expected to fail, with the reason. This list only shrinks:
a case listed here that passes fails the run (strict xfail), so fixed cases must be removed."""
from __future__ import annotations

#: test name (without the _cpu suffix) -> reason
EXPECTED: dict[str, str] = {}
