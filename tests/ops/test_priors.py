"""RegionYolo against real OpenVINO, on every test backend."""
from __future__ import annotations

import numpy as np
import pytest

from arrayrt.errors import ShapeInferenceError
from arrayrt.testing import build_arrayrt, check_op, rand

CASES = [  # (shape, coords, classes, num, do_softmax, mask, axis, end_axis)
    ((1, 125, 3, 4), 4, 20, 5, True, [0, 1, 2], 1, 3),
    ((2, 18, 2, 3), 4, 1, 3, True, [0], 1, -1),
    ((1, 24, 2, 2), 4, 3, 3, True, [0], 2, 3),
    ((1, 18, 3, 2), 4, 1, 9, False, [0, 1, 2], 1, 3),
    ((2, 16, 2, 2), 2, 5, 4, False, [1, 3], 1, 3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("case", CASES)
def test_region_yolo(case, dtype, backend):
    shape, coords, classes, num, soft, mask, axis, end = case
    x = (rand(shape) * 4 - 2).astype(dtype)
    tol = {"rtol": 2e-3, "atol": 2e-3} if dtype == np.float16 else {}
    check_op(lambda ops, p: ops.region_yolo(p, coords, classes, num, soft, mask, axis, end), [x], backend, **tol)


def test_region_yolo_bad_inputs():
    with pytest.raises(ShapeInferenceError, match="rank 4"):
        build_arrayrt(lambda ops, p: ops.region_yolo(p, 4, 1, 3, True, [0], 1, 3), [rand((2, 18, 3))])
    with pytest.raises(ShapeInferenceError, match="input channels, got 17"):
        build_arrayrt(lambda ops, p: ops.region_yolo(p, 4, 1, 3, True, [0], 1, 3), [rand((2, 17, 3, 3))])
