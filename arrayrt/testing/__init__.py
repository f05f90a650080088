"""Shared test helpers: build one op graph with arrayrt and with real OpenVINO, run both, compare.

``check_op(build, inputs)`` is the op-conformance workhorse::

    def build(ops, x):                      # ops: arrayrt.opset or openvino.opset16
        return ops.elu(x, 0.5)

    check_op(build, [rand((2, 3))], backend="numpy")

``build`` receives the factory module and one Parameter per input, and returns a node, an output or
a list of them. The same function builds the OpenVINO model (the oracle) and the arrayrt model, so
the factories' names and argument orders are checked too.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from arrayrt.errors import UnsupportedOpError


def silence_openvino_telemetry() -> None:
    """Make OpenVINO's telemetry send nothing. ``import openvino`` and ``openvino.convert_model``
    each send an event from a forked child process, started by a background thread. A fork while
    another thread runs OpenBLAS (or XLA) can leave the parent's BLAS thread pool broken: the test
    suite once spun forever in OpenBLAS's ``exec_blas`` after one. Tests and benchmarks that use
    OpenVINO as an oracle call this (importing this module does) before they import openvino."""
    try:
        from openvino_telemetry.backend import backend_ga4
    except ImportError:
        return
    backend_ga4.GA4Backend.send = lambda self, message: None


silence_openvino_telemetry()

#: array backends the op conformance suite runs on (when installed)
TEST_BACKENDS = ("numpy", "array_api_strict")
_DEFAULT_TEST_BACKENDS = TEST_BACKENDS

#: what the op conformance suite (tests/ops) adds to TEST_BACKENDS: jax, as device NPU with the f32
#: hint, when jax imports (NPU is optional). Only with the default TEST_BACKENDS: a tool that points
#: the suite at one backend (tools/gpu_check.py sets TEST_BACKENDS) gets that backend alone.
OP_TEST_EXTRA = ("jax",) if importlib.util.find_spec("jax") else ()


def op_test_backends() -> tuple[str, ...]:
    """The ``backend`` parameters of tests/ops: TEST_BACKENDS, plus OP_TEST_EXTRA by default."""
    return TEST_BACKENDS + (OP_TEST_EXTRA if TEST_BACKENDS == _DEFAULT_TEST_BACKENDS else ())


#: backend name -> the device its op tests compile for (others: ``CPU`` with ``ARRAY_BACKEND``
#: naming the backend); jax runs as the ``NPU`` device, one XLA program per graph
TEST_DEVICES = {"jax": "NPU"}


def rand(shape: Sequence[int], dtype: Any = np.float32, seed: int = 0, low: float = -2.0,
         high: float = 2.0) -> np.ndarray:
    """Deterministic random data: uniform floats, integers in [low, high), or booleans."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        return rng.integers(int(low), int(high), size=shape).astype(dt)
    return rng.uniform(low, high, size=shape).astype(dt)


def _outputs(built: Any) -> list[Any]:
    return list(built) if isinstance(built, (list, tuple)) else [built]


def build_arrayrt(build: Callable[..., Any], inputs: Sequence[np.ndarray], name: str = "test"):
    import arrayrt
    import arrayrt.opset as ops

    params = [ops.parameter(list(a.shape), a.dtype, name=f"in{i}") for i, a in enumerate(inputs)]
    for i, p in enumerate(params):
        p.output(0).set_names({f"in{i}"})
    return arrayrt.Model(_outputs(build(ops, *params)), params, name)


def build_openvino(build: Callable[..., Any], inputs: Sequence[np.ndarray], name: str = "test"):
    import openvino as ov
    import openvino.opset16 as ops

    params = [ops.parameter(list(a.shape), a.dtype, name=f"in{i}") for i, a in enumerate(inputs)]
    for i, p in enumerate(params):
        p.output(0).set_names({f"in{i}"})
    return ov.Model(_outputs(build(ops, *params)), params, name)


def run_openvino(model: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Real OpenVINO on CPU with f32 inference precision: the oracle."""
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    res = compiled(list(inputs))
    return [np.asarray(res[i]) for i in range(len(compiled.outputs))]


def run_arrayrt(model: Any, inputs: Sequence[np.ndarray], backend: str = "numpy",
                config: dict | None = None) -> list[np.ndarray]:
    import arrayrt

    cfg = {"ARRAY_BACKEND": backend, "INFERENCE_PRECISION_HINT": "f32"}
    cfg.update(config or {})
    compiled = arrayrt.Core().compile_model(model, TEST_DEVICES.get(backend, "CPU"), cfg)
    res = compiled(list(inputs))
    return [np.asarray(res[i]) for i in range(len(compiled.outputs))]


def unsupported_reason(model: Any, backend: str) -> str | None:
    """Why ``backend`` refuses some node of ``model`` (from its ``supports``), or None."""
    from arrayrt import backends

    cls = backends.backend_class(backend)
    if cls is None:
        return f"backend {backend} is not installed"
    b = cls()
    for n in model.get_ordered_ops():
        reason = b.why_not(n)
        if reason is not None:
            return f"{n.type_name}: {reason}"
    return None


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str = "") -> None:
    """Same shape and dtype; values within tolerance (exact for integers and booleans)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}dtype {actual.dtype} != expected {expected.dtype}"
    if expected.dtype.kind in "fc" or expected.dtype.name in ("bfloat16",):
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def check_op(build: Callable[..., Any], inputs: Sequence[np.ndarray], backend: str = "numpy", *,
             expected: Sequence[np.ndarray] | None = None, rtol: float = 1e-5, atol: float = 1e-6,
             interop: bool = True) -> list[np.ndarray]:
    """Build with arrayrt (and OpenVINO unless ``expected`` is given), run, compare every output.

    On a backend that refuses the graph, skips with the reason its ``supports`` gives. With
    ``interop``, also loads arrayrt's IR of the graph into OpenVINO and checks it gives the same."""
    import pytest

    inputs = [np.asarray(a) for a in inputs]
    model = build_arrayrt(build, inputs)
    reason = unsupported_reason(model, backend)
    if reason is not None:
        pytest.skip(f"{backend} does not support this graph: {reason}")
    if expected is None:
        expected = run_openvino(build_openvino(build, inputs), inputs)
        if interop and backend == "numpy":
            _check_interop(model, inputs, expected, rtol, atol)
    try:
        got = run_arrayrt(model, inputs, backend)
    except UnsupportedOpError as exc:
        pytest.skip(f"{backend}: {exc}")
    assert len(got) == len(expected), f"{len(got)} outputs, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, rtol, atol, what=f"output {i} on {backend}: ")
    return got


def _check_interop(model: Any, inputs: Sequence[np.ndarray], expected: Sequence[np.ndarray],
                   rtol: float, atol: float) -> None:
    """arrayrt's serialized IR of the graph, read by OpenVINO, computes the same as OpenVINO's own."""
    import openvino as ov

    from arrayrt.ir.io.writer import to_ir

    xml, chunks = to_ir(model)
    weights = b"".join(chunks)
    ov_model = ov.Core().read_model(xml.encode(), ov.Tensor(np.frombuffer(weights, np.uint8).copy())
                                    if weights else ov.Tensor(np.zeros(0, np.uint8)))
    got = run_openvino(ov_model, inputs)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, rtol, atol, what=f"output {i} of arrayrt's IR read by OpenVINO: ")


def fails_cleanly(run: Callable[[], object], what: str, seconds: int = 30) -> None:
    """Run ``run()`` (one fuzzing draw): it may succeed or raise an ``ArrayrtError``; any other
    exception, or running over ``seconds`` (SIGALRM: call from the main thread), raises an
    AssertionError naming ``what``."""
    import signal

    from arrayrt.errors import ArrayrtError

    class _HangError(Exception):
        pass

    def alarm(*_: object) -> None:
        raise _HangError()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        run()
    except ArrayrtError:
        pass
    except _HangError:
        raise AssertionError(f"ran over {seconds} s: {what}") from None
    except Exception as exc:  # noqa: BLE001 - what a fuzz test looks for
        raise AssertionError(f"{type(exc).__name__}: {exc}\n{what}") from exc
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_table(build_one, cases, backend, inputs_for=None, **kw):
    """Check every case in one model: ``build_one(ops, case, *params)`` builds a case over the
    Parameters made from ``inputs_for(case)`` (default: ``rand(case[0])``). One model holds every case;
    when it fails, the cases run one by one to name the failing case."""
    inputs_for = inputs_for or (lambda c: [rand(c[0])])
    arrays, spans = [], []
    for c in cases:
        xs = inputs_for(c)
        spans.append((len(arrays), len(xs)))
        arrays += xs

    def build(ops, *ps):
        res = []
        for c, (s, n) in zip(cases, spans):
            r = build_one(ops, c, *ps[s:s + n])
            res += r if isinstance(r, list) else [r]
        return res
    try:
        check_op(build, arrays, backend, **kw)
    except AssertionError:
        for c in cases:
            try:
                check_op(lambda ops, *ps: build_one(ops, c, *ps), inputs_for(c), backend, **kw)
            except AssertionError as exc:
                raise AssertionError(f"case {c}: {exc}") from exc
        raise

