"""Build models in Python, as with ``openvino.opset16``: ``parameter``, ``constant``, ``convolution``...

Every op has one factory function here, with OpenVINO's name and argument order::

    import arrayrt.opset as ops
    x = ops.parameter([1, 3, 8, 8], np.float32, name="x")
    y = ops.relu(ops.convolution(x, w, [1, 1], [0, 0], [0, 0], [1, 1]))
    model = arrayrt.Model([y], [x], "tiny")
"""
from __future__ import annotations

import arrayrt.ir.ops  # noqa: F401 - registers every op family and its factories
from arrayrt.ir.ops.factory import FACTORIES

globals().update(FACTORIES)
__all__ = sorted(FACTORIES)
