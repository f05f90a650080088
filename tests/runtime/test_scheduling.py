"""AUTO (CPU acceleration), MULTI / CUMULATIVE_THROUGHPUT and BATCH."""
from __future__ import annotations

import time

import numpy as np
import pytest
from arrayrt.backends.base import Backend
from arrayrt.ir.types import Type

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt import backends
from arrayrt.runtime.virtual import AutoPlan, BatchPlan, MultiPlan


class _EP:
    def __init__(self, name, cls):
        self.name, self._cls = name, cls

    def load(self):
        return self._cls


class SlowCompile(Backend):
    """A device whose compilation takes a while (like an XLA compile)."""

    name = "slow"
    device = "SLOW"
    dtypes = frozenset({Type.f32, Type.i64})

    @classmethod
    def load_namespace(cls):
        return np

    def compile(self, model, config=None):
        time.sleep(0.6)
        return super().compile(model, config)


class _OutOfMemoryNumpy:
    """numpy, but ``maximum`` (Relu's kernel) fails as a device out of memory would."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def maximum(*args, **kwargs):
        raise MemoryError("out of device memory (simulated)")


class OutOfMemory(Backend):
    """A device that compiles everything and runs out of memory at Relu in every inference."""

    name = "oom"
    device = "OOM"
    dtypes = frozenset({Type.f32, Type.i64})

    @classmethod
    def load_namespace(cls):
        return _OutOfMemoryNumpy()


@pytest.fixture
def slow(monkeypatch):
    monkeypatch.setattr(backends, "entry_points", lambda group: [_EP("slow", SlowCompile), _EP("oom", OutOfMemory)])
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_spec_cache", [])


def model(batch=1):
    x = ops.parameter([batch, 4], np.float32, name="x")
    x.output(0).set_names({"x"})
    y = ops.relu(ops.add(ops.multiply(x, np.full((1, 4), 2, np.float32)), np.ones((1, 4), np.float32)), name="y")
    y.output(0).set_names({"y"})
    return ar.Model([y], [x], "m")


def expected(x):
    return np.maximum(2 * x + 1, 0)


def test_auto_runs_on_cpu_while_the_target_compiles(slow):
    c = ar.Core().compile_model(model(), "AUTO:SLOW,CPU")
    plan = c._plan
    assert isinstance(plan, AutoPlan)
    x = np.array([[1, -2, 3, -4]], np.float32)
    np.testing.assert_array_equal(c([x])["y"], expected(x))
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]
    assert plan.ready.wait(10) and plan.error is None
    np.testing.assert_array_equal(c([x])["y"], expected(x))
    assert c.get_property("EXECUTION_DEVICES") == ["SLOW"]
    assert plan.history[0] == "CPU" and plan.history[-1] == "SLOW"


def test_auto_without_startup_fallback_compiles_the_target(slow):
    c = ar.Core().compile_model(model(), "AUTO:SLOW,CPU", {"ENABLE_STARTUP_FALLBACK": False})
    assert c.get_property("EXECUTION_DEVICES") == ["SLOW"]


def test_a_device_out_of_memory_is_a_device_error_naming_the_node(slow):
    c = ar.Core().compile_model(model(), "OOM")
    with pytest.raises(ar.DeviceError, match=r"name='y', type=Relu: out of memory during inference: MemoryError"):
        c([np.ones((1, 4), np.float32)])


def test_auto_runs_a_failed_inference_again_on_the_next_device(slow):
    # (with the startup fallback on, the target's warm-up inference fails first: AUTO stays on CPU)
    c = ar.Core().compile_model(model(), "AUTO:OOM,STRICT,CPU")
    assert c._plan.ready.wait(10) and isinstance(c._plan.error, ar.DeviceError)
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]
    c = ar.Core().compile_model(model(), "AUTO:OOM,STRICT,CPU", {"ENABLE_STARTUP_FALLBACK": False})
    plan = c._plan
    assert isinstance(plan, AutoPlan) and plan.ready.wait(10) and plan.error is None
    assert c.get_property("EXECUTION_DEVICES") == ["OOM"] and c.get_property("ENABLE_RUNTIME_FALLBACK")
    plan.history.clear()
    x = np.array([[1, -2, 3, -4]], np.float32)
    for k in range(1, 3):  # each inference tries OOM first, then runs on STRICT (the next candidate)
        with pytest.warns(UserWarning, match="failed on OOM .*MemoryError.*; it ran again on STRICT"):
            np.testing.assert_array_equal(c([x])["y"], expected(x))
        assert plan.runtime_fallbacks == k
    assert plan.history == ["OOM", "STRICT"] * 2
    # an async queue gets the same: every job completes with the right values
    q = ar.AsyncInferQueue(c, 2)
    out = {}
    q.set_callback(lambda req, i: out.__setitem__(i, req.results["y"].copy()))
    with pytest.warns(UserWarning, match="ran again on STRICT"):
        for i in range(4):
            q.start_async({"x": x * i}, i)
        q.wait_all()
    for i in range(4):
        np.testing.assert_array_equal(out[i], expected(x * i))


def test_auto_runtime_fallback_off_or_nowhere_to_go_raises(slow):
    x = np.ones((1, 4), np.float32)
    off = ar.Core().compile_model(model(), "AUTO:OOM,CPU", {"ENABLE_RUNTIME_FALLBACK": False,
                                                           "ENABLE_STARTUP_FALLBACK": False})
    assert not isinstance(off._plan, AutoPlan)  # nothing to schedule: the device's own compiled model
    with pytest.raises(ar.DeviceError, match="out of memory"):
        off([x])
    alone = ar.Core().compile_model(model(), "AUTO:OOM")  # the last candidate has nothing after it
    with pytest.raises(ar.DeviceError, match="out of memory"):
        alone([x])
    # a later candidate that cannot run the whole model is no fallback: the device error stands
    p = ops.parameter([1, 4], np.float32, name="x")
    nz = ar.Model([ops.non_zero(ops.relu(p), "i64")], [p])  # NPU refuses NonZero (value-dependent shape)
    c = ar.Core().compile_model(nz, "AUTO:OOM,NPU")
    assert isinstance(c._plan, AutoPlan)
    with pytest.raises(ar.DeviceError, match="out of memory"):
        c([x])
    assert c._plan.runtime_fallbacks == 0


def test_auto_exclusion():
    c = ar.Core().compile_model(model(), "AUTO:-NPU,-GPU")
    assert c.get_property("EXECUTION_DEVICES") == ["CPU"]


def test_multi_spreads_requests():
    c = ar.Core().compile_model(model(), "MULTI:CPU,STRICT")
    plan = c._plan
    assert isinstance(plan, MultiPlan)
    assert c.get_property("EXECUTION_DEVICES") == ["CPU", "STRICT"]
    q = ar.AsyncInferQueue(c, 4)
    results = {}
    q.set_callback(lambda req, i: results.__setitem__(i, req.results["y"].copy()))
    xs = [np.full((1, 4), i - 5, np.float32) for i in range(40)]
    for i, x in enumerate(xs):
        q.start_async({"x": x}, i)
    q.wait_all()
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(results[i], expected(x))
    assert sum(plan.counts) == 40 and all(n > 0 for n in plan.counts)


def test_cumulative_throughput_auto_uses_every_candidate():
    c = ar.Core().compile_model(model(), "AUTO:CPU,STRICT", {"PERFORMANCE_HINT": "CUMULATIVE_THROUGHPUT"})
    assert isinstance(c._plan, MultiPlan)
    assert c.get_property("EXECUTION_DEVICES") == ["CPU", "STRICT"]


def test_batch_gathers_requests_into_one_inference():
    c = ar.Core().compile_model(model(), "BATCH:CPU(4)", {"AUTO_BATCH_TIMEOUT": 5000})
    plan = c._plan
    assert isinstance(plan, BatchPlan)
    q = ar.AsyncInferQueue(c, 4)
    out = {}
    q.set_callback(lambda req, i: out.__setitem__(i, req.results["y"].copy()))
    xs = [np.random.default_rng(i).uniform(-1, 1, (1, 4)).astype(np.float32) for i in range(4)]
    for i, x in enumerate(xs):
        q.start_async({"x": x}, i)
    q.wait_all()
    assert plan.batches_run == 1 and plan.singles_run == 0
    unbatched = ar.compile_model(model(), "CPU")
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(out[i], unbatched([x])["y"])


def test_batch_timeout_releases_a_lone_request():
    c = ar.Core().compile_model(model(), "BATCH:CPU(4)", {"AUTO_BATCH_TIMEOUT": 50})
    x = np.ones((1, 4), np.float32)
    req = c.create_infer_request()
    start = time.perf_counter()
    req.start_async({"x": x})
    req.wait()
    assert time.perf_counter() - start >= 0.04
    assert c._plan.singles_run == 1 and c._plan.batches_run == 0
    np.testing.assert_array_equal(req.results["y"], expected(x))
    assert c.get_property("AUTO_BATCH_TIMEOUT") == 50


@pytest.mark.parametrize("device, message", [
    ("AUTO:TPU", "AUTO: device TPU is not available"),
    ("MULTI:", "MULTI needs a device list"),
    ("MULTI:CPU,CPU", "device CPU is listed twice"),
    ("MULTI:CPU,,STRICT", "MULTI needs a device list"),
    ("BATCH:CPU(0)", "batch size must be at least 1"),
    ("BATCH:TPU(2)", "BATCH: device TPU is not available"),
    ("BATCH:", "BATCH needs a device"),
    ("HETERO:CPU,CPU", "listed twice"),
    ("NOPE", "device 'NOPE' is not available"),
])
def test_bad_device_strings(device, message):
    with pytest.raises(ar.DeviceError, match=message):
        ar.Core().compile_model(model(), device)


def test_batch_needs_a_batch_dimension():
    x = ops.parameter([-1, 4], np.float32, name="x")
    m = ar.Model([ops.relu(x)], [x])
    with pytest.raises(ar.CompileError, match="no static batch dimension"):
        ar.Core().compile_model(m, "BATCH:CPU(2)")


_EXIT_AT_ONCE = """
import sys
import numpy as np
import arrayrt as ar
import arrayrt.opset as ops
a = ops.parameter([2, 3], np.float32, name="a")
c = ar.compile_model(ar.Model([ops.relu(a)], [a]), "AUTO:NPU,CPU")
print(float(c([np.ones((2, 3), np.float32)])[0].sum()))
"""


def test_a_process_that_exits_while_auto_still_compiles_exits_cleanly():
    """AUTO compiles NPU in the background; a script that is done before that compile ends must
    exit with 0, not abort inside XLA (its compile thread killed at interpreter exit: rc 134)."""
    import subprocess
    import sys

    if "NPU" not in ar.Core().available_devices:
        pytest.skip("jax is not installed: no NPU to compile in the background")
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", _EXIT_AT_ONCE], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == "6.0", (r.returncode, r.stderr[-500:])
        assert "not rethrown" not in r.stderr
