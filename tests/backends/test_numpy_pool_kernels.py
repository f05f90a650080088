"""MaxPool-8/14's indices are computed only when something reads them."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.numpy import pool_kernels

import arrayrt as ar
import arrayrt.opset as ops


def _pool():
    p = ops.parameter([1, 3, 9, 9], np.float32, name="x")
    return p, ops.max_pool(p, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3])


def test_unread_indices_are_not_computed(monkeypatch):
    x = np.random.default_rng(0).standard_normal((1, 3, 9, 9)).astype(np.float32)
    p, pool = _pool()
    both = ar.Core().compile_model(ar.Model([pool.output(0), pool.output(1)], [p]), "CPU")
    want_values, want_indices = (np.asarray(v) for v in both([x]).values())
    assert want_indices.dtype == np.int64 and want_indices.max() < 3 * 81

    def refuse(*args, **kwargs):
        raise AssertionError("indices computed although nothing reads them")

    monkeypatch.setattr(pool_kernels.MaxPoolPlan, "_indices", refuse)
    p, pool = _pool()
    values_only = ar.Core().compile_model(ar.Model([ops.relu(pool.output(0))], [p]), "CPU")
    np.testing.assert_array_equal(values_only([x])[0], np.maximum(want_values, 0))
    p, pool = _pool()
    with pytest.raises(ar.ArrayrtError, match="nothing reads"):
        ar.Core().compile_model(ar.Model([pool.output(0), pool.output(1)], [p]), "CPU")([x])
