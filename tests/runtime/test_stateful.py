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


def two_variables():
    """x*2 + acc -> relu -> acc; b + that -> b; outputs b - 1 and the sum."""
    x = ops.parameter([1, 2], np.float32, name="x")
    pre = ops.multiply(x, np.full((1, 2), 2, np.float32), name="pre")
    rv = ops.read_value(np.zeros((1, 2), np.float32), "acc", name="rv")
    s = ops.add(rv, pre, name="sum")
    post = ops.relu(s, name="post")
    a = ops.assign(post, "acc", name="as")
    rv2 = ops.read_value(np.ones((1, 2), np.float32), "b", name="rv2")
    s2 = ops.add(rv2, post, name="sum2")
    a2 = ops.assign(s2, "b", name="as2")
    out = ops.subtract(s2, np.full((1, 2), 1, np.float32), name="out")
    return ar.Model([out, s], [a, a2], [x], "two_variables")


#: placements of two_variables' nodes (pre, rv, sum, post, as, rv2, sum2, as2, out): a variable's
#: ReadValue and Assign in two subgraphs of one device, on two devices, and the Assign's subgraph
#: before the ReadValue's
PLACEMENTS = ["CCCCCCCCC", "SSCSSSCSS", "SSCCSCSSC", "CSSCCSCCS", "SCSCSCSCS", "CCSSSCSCS"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_hetero_variables_cross_subgraphs(placement):
    """HETERO may put a variable's ReadValue and Assign in different subgraphs: every subgraph reads
    the value the inference started with and the Assign's subgraph gives the next one, per request;
    state queries, resets and sets work as on one device."""
    names = ["pre", "rv", "sum", "post", "as", "rv2", "sum2", "as2", "out"]
    m = two_variables()
    device = dict(zip(names, ({"C": "CPU", "S": "STRICT"}[c] for c in placement)))
    for n in m.get_ordered_ops():
        if n.friendly_name in device:
            n.rt_info["affinity"] = device[n.friendly_name]
    c = ar.compile_model(m, "HETERO:STRICT,CPU")
    assert {n.friendly_name: n.rt_info["device"] for n in c.get_runtime_model().get_ordered_ops()
            if n.friendly_name in device} == device
    one = np.ones((1, 2), np.float32)
    r1, r2 = c.create_infer_request(), c.create_infer_request()
    # by hand: acc_k = 2k, b_k = 1 + 2 + 4 + ... + 2k
    for k in range(1, 4):
        out, s = r1.infer([one]).values()
        np.testing.assert_array_equal(s, np.full((1, 2), 2 * k))
        np.testing.assert_array_equal(out, np.full((1, 2), k * (k + 1)))
    np.testing.assert_array_equal(r2.infer([one])[0], [[2, 2]])  # requests keep their own state
    states = {st.name: st for st in r1.query_state()}
    assert set(states) == {"acc", "b"}
    np.testing.assert_array_equal(states["acc"].state.data, [[6, 6]])
    np.testing.assert_array_equal(states["b"].state.data, [[13, 13]])
    states["acc"].state = ar.Tensor(np.full((1, 2), 10, np.float32))
    np.testing.assert_array_equal(r1.infer([one])[1], [[12, 12]])
    r1.reset_state()
    np.testing.assert_array_equal(r1.infer([one])[0], [[2, 2]])


def test_openvino_variable_objects_without_init_match_openvino():
    """``read_value(variable)`` with no initial value: OpenVINO's Variable gives the id, type and shape."""
    ov = pytest.importorskip("openvino")
    import openvino.opset13 as ovops
    from openvino.op.util import Variable as OvVariable
    from openvino.op.util import VariableInfo as OvVariableInfo

    from arrayrt.op.util import Variable, VariableInfo

    outs = []
    for lib, o, var_cls, info_cls in ((ov, ovops, OvVariable, OvVariableInfo), (ar, ops, Variable, VariableInfo)):
        info = info_cls()
        info.data_shape, info.data_type, info.variable_id = lib.PartialShape([2, 3]), lib.Type.f32, "v"
        var = var_cls(info)
        x = o.parameter([2, 3], np.float32, name="x")
        rv = o.read_value(var)
        s = o.add(rv, x)
        c = lib.Core().compile_model(lib.Model([o.result(s)], [o.assign(s, var)], [x], "m"), "CPU")
        r = c.create_infer_request()
        outs.append([r.infer([np.full((2, 3), k, np.float32)])[0].copy() for k in (1, 2)])
        assert str(rv.output(0).get_partial_shape()) == "[2,3]"
        assert [s.name for s in r.query_state()] == ["v"]
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(outs[1][1], np.full((2, 3), 3, np.float32))
