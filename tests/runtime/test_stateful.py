"""Stateful models: ReadValue/Assign variables kept per infer request."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as ops


def accumulator(with_init: bool):
    x = ops.parameter([1, 2], np.float32, name="x")
    if with_init:
        rv = ops.read_value(np.zeros((1, 2), np.float32), "acc")
    else:
        rv = ops.read_value(variable_id="acc", variable_type="f32", variable_shape=[1, 2])
    s = ops.add(rv, x, name="sum")
    a = ops.assign(s, "acc")
    return ar.Model([s], [a], [x], "acc")  # OpenVINO's Model(results, sinks, parameters, name)


@pytest.mark.parametrize("with_init", [True, False])
def test_state_accumulates_per_request_and_resets(with_init):
    c = ar.compile_model(accumulator(with_init), "CPU")
    r1, r2 = c.create_infer_request(), c.create_infer_request()
    one = np.ones((1, 2), np.float32)
    for _ in range(3):
        out = r1.infer([one])[0]
    np.testing.assert_array_equal(out, [[3, 3]])
    np.testing.assert_array_equal(r2.infer([one])[0], [[1, 1]])  # requests do not share state
    (state,) = r1.query_state()
    assert state.name == "acc"
    np.testing.assert_array_equal(state.state.data, [[3, 3]])
    r1.reset_state()
    np.testing.assert_array_equal(r1.infer([one])[0], [[1, 1]])
    state.state = ar.Tensor(np.full((1, 2), 10, np.float32))
    np.testing.assert_array_equal(r1.infer([one])[0], [[11, 11]])


def test_stateful_ir_roundtrip_with_openvino(tmp_path):
    ov = pytest.importorskip("openvino")
    path = tmp_path / "acc.xml"
    ar.save_model(accumulator(True), path)
    ov_req = ov.Core().compile_model(path, "CPU").create_infer_request()
    ar_req = ar.compile_model(path, "CPU").create_infer_request()
    x = np.array([[1.5, -2]], np.float32)
    for _ in range(3):
        want = ov_req.infer([x])[0]
        got = ar_req.infer([x])[0]
    np.testing.assert_array_equal(got, want)
