"""HETERO partitioning: annotate, merge, cut, transfer, run."""
from __future__ import annotations

import numpy as np
import pytest
from arrayrt.backends.base import Backend
from arrayrt.ir.types import Type

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt import backends
from arrayrt.runtime import hetero


class _EP:
    def __init__(self, name, cls):
        self.name, self._cls = name, cls

    def load(self):
        return self._cls


class NoMultiply(Backend):
    """A device whose library 'cannot' multiply: numpy under another name."""

    name = "nomul"
    device = "NOMUL"
    dtypes = frozenset({Type.f32, Type.i64, Type.boolean})
    unsupported = {"Multiply": "this test device has no multiply"}

    @classmethod
    def load_namespace(cls):
        return np


@pytest.fixture
def nomul(monkeypatch):
    monkeypatch.setattr(backends, "entry_points", lambda group: [_EP("nomul", NoMultiply)])
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])
    return "NOMUL"


def chain(n=4):
    """x -> add -> mul -> add -> mul ... (alternating)."""
    x = ops.parameter([2, 3], np.float32, name="x")
    h = x
    for i in range(n):
        if i % 2 == 0:
            h = ops.add(h, np.full((2, 3), i + 1, np.float32), name=f"add{i}")
        else:
            h = ops.multiply(h, np.full((2, 3), 0.5, np.float32), name=f"mul{i}")
    h.output(0).set_names({"y"})
    return ar.Model([h], [x], "chain")


X = np.arange(6, dtype=np.float32).reshape(2, 3)


def cpu(model, x=X):
    return ar.compile_model(model, "CPU")([x])[0]


def test_priority_list_errors():
    avail = ["CPU", "STRICT"]
    with pytest.raises(ar.DeviceError, match="needs a device priority list"):
        hetero.parse_priorities("", avail)
    with pytest.raises(ar.DeviceError, match="listed twice"):
        hetero.parse_priorities("CPU,CPU", avail)
    with pytest.raises(ar.DeviceError, match="device TPU is not available"):
        hetero.parse_priorities("TPU,CPU", avail)
    with pytest.raises(ar.DeviceError, match="needs a device priority list"):
        ar.Core().compile_model(chain(), "HETERO:")


def test_every_other_op_falls_back(nomul):
    m = chain(6)
    c = ar.Core().compile_model(m, f"HETERO:{nomul},CPU")
    assert c.get_property("HETERO_NUMBER_OF_SUBMODELS") == 6
    np.testing.assert_allclose(c([X])["y"], cpu(m))
    plan = c._plan
    assert [sg.device for sg in plan.subgraphs] == ["NOMUL", "CPU"] * 3
    assert plan.transfers == 5 + 1  # five cuts between subgraphs, one from the input to NOMUL
    assert c.get_property("EXECUTION_DEVICES") == ["NOMUL", "CPU"]
    devices = {n.friendly_name: n.rt_info["device"] for n in c.get_runtime_model().get_ordered_ops()}
    assert devices["add0"] == "NOMUL" and devices["mul1"] == "CPU"


def test_forced_affinity_and_maximal_merge():
    m = chain(4)
    for n in m.get_ordered_ops():
        if n.friendly_name in ("add0", "mul1"):
            n.rt_info["affinity"] = "STRICT"
    c = ar.Core().compile_model(m, "HETERO:CPU,STRICT")
    subs = c._plan.subgraphs
    assert [(s.device, s.node_names) for s in subs] == [("STRICT", ["add0", "mul1"]), ("CPU", ["add2", "mul3"])]
    np.testing.assert_allclose(c([X])[0], cpu(m))


def test_a_b_a_cycle_is_broken():
    """n1(A) feeds n2(B) and n3(A); n2 feeds n3: merging n1 and n3 would make A -> B -> A."""
    x = ops.parameter([3], np.float32, name="x")
    n1 = ops.add(x, np.ones(3, np.float32), name="n1")
    n2 = ops.multiply(n1, np.full(3, 3, np.float32), name="n2")
    n3 = ops.add(n1, n2, name="n3")
    m = ar.Model([n3], [x])
    for n in m.get_ordered_ops():
        if n.friendly_name == "n2":
            n.rt_info["affinity"] = "STRICT"
    aff = hetero.annotate(m, {"CPU": backends.get_backend("numpy")(), "STRICT": backends.get_backend("array_api_strict")()})
    sub_of, devices = hetero.assign_subgraphs(m, aff)
    assert devices == ["CPU", "STRICT", "CPU"]
    byname = {n.friendly_name: sub_of[n.uid] for n in m.get_ordered_ops() if n.uid in sub_of}
    assert byname == {"n1": 0, "n2": 1, "n3": 2}
    c = ar.Core().compile_model(m, "HETERO:CPU,STRICT")
    np.testing.assert_allclose(c([np.arange(3, dtype=np.float32)])[0], cpu(m, np.arange(3, dtype=np.float32)))


def test_constants_travel_with_their_consumers(nomul):
    x = ops.parameter([3], np.float32, name="x")
    k = ops.constant(np.array([1, 2, 3], np.float32), name="k")
    a = ops.add(x, k, name="a")          # NOMUL
    b = ops.multiply(a, k, name="b")     # CPU
    m = ar.Model([b], [x])
    c = ar.Core().compile_model(m, f"HETERO:{nomul},CPU")
    for sg in c._plan.subgraphs:
        assert "k" in {n.friendly_name for n in sg.model.get_ordered_ops()}
        assert all(p.friendly_name != "k" for p in sg.model.get_parameters())
    np.testing.assert_allclose(c([np.ones(3, np.float32)])[0], [2, 6, 12])


def test_affinity_to_absent_device_is_an_error():
    m = chain(2)
    m.get_ordered_ops()[2].rt_info["affinity"] = "GPU"
    with pytest.raises(ar.DeviceError, match="affinity 'GPU' names a device that is not in the HETERO list"):
        ar.Core().compile_model(m, "HETERO:STRICT,CPU")


def test_query_model_is_per_device(nomul):
    m = chain(4)
    q = ar.Core().query_model(m, nomul)
    assert "add0" in q and "mul1" not in q
    assert set(ar.Core().query_model(m, "CPU")) >= {"add0", "mul1"}


def test_multiple_outputs_and_direct_input_results(nomul):
    x = ops.parameter([3], np.float32, name="x")
    a = ops.add(x, x, name="a")
    b = ops.multiply(a, a, name="b")
    m = ar.Model([a, b, x], [x])
    c = ar.Core().compile_model(m, f"HETERO:{nomul},CPU")
    r = c([np.array([1, 2, 3], np.float32)])
    np.testing.assert_allclose(r[0], [2, 4, 6])
    np.testing.assert_allclose(r[1], [4, 16, 36])
    np.testing.assert_allclose(r[2], [1, 2, 3])


def _affinities(model, devices):
    for n in model.get_ordered_ops():
        if n.friendly_name in devices:
            n.rt_info["affinity"] = devices[n.friendly_name]


def _strided_jax_view():
    """A jax array in a non-default layout, as jax's DLPack import of an aligned strided numpy view
    (a transposed value from CPU or STRICT) makes it; unaligned buffers are copied on import."""
    jnp = pytest.importorskip("jax.numpy")
    buf = np.empty(2 * 6 * 3 * 8 + 16, np.float32)
    start = (-buf.ctypes.data % 64) // 4
    base = buf[start: start + 2 * 6 * 3 * 8].reshape(2, 6, 3, 8)
    base[...] = np.random.default_rng(0).standard_normal(base.shape)
    view = base.transpose(0, 2, 1, 3)
    imported = jnp.from_dlpack(view)
    if tuple(imported.format.layout.major_to_minor) == (0, 1, 2, 3):
        pytest.skip("this jax copies strided DLPack imports into row-major order itself")
    return view, imported


def test_a_strided_view_enters_an_xla_program_in_its_default_layout():
    """A compiled XLA program refuses arguments in another layout ("input layouts that disagree"):
    NPU takes arrays crossing a HETERO cut, or handed in by the caller, in row-major order."""
    view, imported = _strided_jax_view()
    x = ops.parameter([2, 3, 6, 8], np.float32, name="x")
    y = ops.add(x, ops.multiply(x, x, name="q"), name="y")
    c = ar.Core().compile_model(ar.Model([y], [x]), "NPU", {"INFERENCE_PRECISION_HINT": "f32"})
    want = view + view * view
    np.testing.assert_allclose(c([imported])[0], want, rtol=1e-6, atol=1e-6)  # XLA fuses x + x*x
    moved = hetero.transfer(view, backends.get_backend("numpy")(), backends.get_backend("jax")())
    assert tuple(moved.format.layout.major_to_minor) == (0, 1, 2, 3)
    np.testing.assert_array_equal(np.asarray(moved), view)


def test_a_cut_shape_vector_is_compiled_in_by_value():
    """A dynamic model's shape vector computed on CPU and read by a Reshape on NPU: XLA needs it
    while compiling, as it had it uncut, so NPU compiles one program per value it sees."""
    pytest.importorskip("jax")
    from arrayrt.ir.graph import SHAPE_ONLY

    x = ops.parameter([-1, -1], np.float32, name="x")
    s = ops.shape_of(x, name="s")
    r = ops.reverse(s, np.array([0], np.int64), "index", name="r")
    y = ops.relu(ops.reshape(x, r, False, name="a"), name="y")
    m = ar.Model([y], [x])
    _affinities(m, {"s": "CPU", "r": "CPU", "a": "NPU", "y": "NPU"})
    c = ar.Core().compile_model(m, "HETERO:NPU,CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    npu = [sg for sg in c._plan.subgraphs if sg.device == "NPU"]
    assert len(npu) == 1
    marked = {p.friendly_name: bool(p.rt_info.get(SHAPE_ONLY)) for p in npu[0].model.get_parameters()}
    assert sorted(marked.values()) == [False, True]  # x by argument, the shape vector by value
    for shape in [(2, 3), (4, 5), (2, 3)]:
        v = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 3
        want = np.maximum(v, 0).reshape(shape[::-1])
        np.testing.assert_array_equal(c([v])[0], want)
    plan = next(p for p, sg in zip(c._plan.plans, c._plan.subgraphs) if sg.device == "NPU")
    assert plan.fn.compilations == 2  # one per shape vector seen; the third call reused the first
