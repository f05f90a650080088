"""The :class:`Backend` base class: an array library bound to a device.

Adding a backend
================
Subclass :class:`Backend`, set ``name``, ``device`` and ``xp`` (an array-API namespace), and list the
element types it holds in ``dtypes``. That is enough: every op's array-API ``compute`` then runs on
it. Then, as measurements justify:

* ``overrides`` maps an op type to a kernel factory ``f(backend, node) -> callable`` that beats the
  generic compute on this library (a GEMM-based convolution on numpy, ``lax.conv`` on JAX...).
* ``unsupported`` maps an op type to the reason this library cannot run it; ``why_not`` adds
  node-level refusals (dtypes, data-dependent shapes...). ``supports(node)`` is the ONE answer that
  ``Core.query_model``, HETERO, the tests and the docs' support matrix all ask.
* ``to_device`` / ``to_host`` / ``synchronize`` move arrays in and out and wait for queued work.

Register it under the ``arrayrt.backends`` entry-point group (``name = "pkg.module:Class"``) so
``Core`` discovers it; an import failure of the library makes its device absent, nothing more.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from arrayrt.ir.ops.base import OpDef
from arrayrt.ir.types import Type

from arrayrt.errors import UnsupportedOpError, where

KernelFactory = Callable[["Backend", Any], Callable[..., Any]]

#: op types the executor handles itself (bound inputs, folded constants, returned outputs)
STRUCTURAL = frozenset({"Parameter", "Constant", "Result"})


#: cgroup v2's CPU quota of this process's group: "<quota> <period>" or "max <period>"
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def usable_cores() -> int:
    """The cores this process may use: its CPU affinity (``taskset``, a container's cpuset), capped
    by a cgroup v2 CPU quota rounded up (``docker --cpus=1.5`` -> 2); at least 1. ``os.cpu_count()``
    counts the machine's cores instead, and BLAS threads beyond the usable cores spin against each
    other: ResNet-18 on CPU took 360 ms under ``taskset -c 0`` with two BLAS threads, 65-75 ms with one."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    try:
        with open(CGROUP_CPU_MAX) as f:
            quota, period = f.read().split()[:2]
        if quota != "max" and float(period) > 0:
            n = min(n, math.ceil(float(quota) / float(period)))
    except (OSError, ValueError):
        pass
    return max(1, n)


class Backend:
    """An array library bound to a device; see the module docstring."""

    #: backend name, used by ``ARRAY_BACKEND`` and in docs (``numpy``, ``jax``...)
    name: ClassVar[str] = "base"
    #: the device it serves by default (``CPU``, ``GPU``, ``NPU``, ``GNA``)
    device: ClassVar[str] = "CPU"
    #: element types this library holds
    dtypes: ClassVar[frozenset[Type]] = frozenset()
    #: default ``INFERENCE_PRECISION_HINT``
    default_precision: ClassVar[Type] = Type.f32
    #: op type -> kernel factory replacing the generic compute
    overrides: ClassVar[dict[str, KernelFactory]] = {}
    #: op type -> why this library cannot run it
    unsupported: ClassVar[dict[str, str]] = {}
    #: ``INFERENCE_PRECISION_HINT`` values this device accepts
    precisions: ClassVar[tuple[str, ...]] = ("f32", "f16", "bf16")
    #: device properties beyond Core's common ones: key -> (parser, default)
    properties: ClassVar[dict[str, tuple[Any, Any]]] = {}
    #: the property holding calibration samples, when compiling needs data statistics (GNA's
    #: static quantisation): HETERO then fills it, for a subgraph, with the values of the tensors
    #: entering it, computed on CPU from the model-level samples
    calibration_property: ClassVar[str | None] = None

    @classmethod
    def property_parser(cls, key: str) -> Callable[[Any], Any] | None:
        """The parser of a pattern property key (e.g. ``GNA_SCALE_FACTOR_<i>``), or None."""
        return None

    def __init__(self, config: dict[str, Any] | None = None):
        self.config = dict(config or {})
        self.xp = self.load_namespace()

    # --- what to override --------------------------------------------------------------------
    @classmethod
    def is_available(cls) -> bool:
        """True when the library imports and a device is present."""
        try:
            cls.load_namespace()
            return True
        except Exception:  # noqa: BLE001 - any import/driver failure means "absent"
            return False

    @classmethod
    def load_namespace(cls) -> Any:
        """Import the library and return its array-API namespace (raise if absent)."""
        raise NotImplementedError

    def to_device(self, array: np.ndarray) -> Any:
        """A numpy array -> this library's array (no copy when the library can share memory)."""
        return self.xp.asarray(array)

    def from_dlpack(self, array: Any) -> Any:
        """Another array library's array -> this library's, through DLPack (sharing memory where
        both allow); raises when the two cannot exchange it (HETERO then copies through numpy)."""
        return self.xp.from_dlpack(array)

    def to_host(self, array: Any) -> np.ndarray:
        """This library's array -> numpy."""
        from arrayrt.ir.ops._xp import to_numpy

        return to_numpy(array)

    def synchronize(self) -> None:
        """Wait for all queued work (asynchronous devices)."""

    # --- support -------------------------------------------------------------------------------
    def why_not_op(self, op: type[OpDef]) -> str | None:
        """None if this backend runs op type ``op`` at all (for some element types), else why not."""
        t = op.type_name
        if t in self.unsupported:
            return self.unsupported[t]
        if t not in STRUCTURAL and t not in self.overrides and not _has_compute(op):
            return f"{t} has no compute"
        return None

    def why_not(self, node: Any) -> str | None:
        """None if this backend runs ``node``, else the reason it does not."""
        reason = self.why_not_op(node.op)
        if reason is not None:
            return reason
        for i in range(node.get_input_size()):
            et = node.input_type(i)
            if et.is_static and et not in self.dtypes:
                return f"input {i} has element type {et}, which {self.name} does not hold"
        for o in node.outputs():
            et = o.get_element_type()
            if et.is_static and et not in self.dtypes:
                return f"output {o.index} has element type {et}, which {self.name} does not hold"
        for body in node.bodies:
            for inner in body.get_ordered_ops():
                reason = self.why_not(inner)
                if reason is not None:
                    return f"its body's {inner.type_name} '{inner.friendly_name}': {reason}"
        return None

    def supports(self, node: Any) -> bool:
        return self.why_not(node) is None

    def check(self, node: Any) -> None:
        """Raise :class:`UnsupportedOpError` if ``node`` cannot run here."""
        reason = self.why_not(node)
        if reason is not None:
            raise UnsupportedOpError(f"{where(node)} cannot run on {self.device} ({self.name}): {reason}")

    # --- kernels -------------------------------------------------------------------------------
    def kernel(self, node: Any) -> Callable[..., Any]:
        """The callable that computes ``node`` on this backend."""
        factory = self.overrides.get(node.type_name)
        if factory is not None:
            k = factory(self, node)
            if k is not None:
                return k
        backend_kernel = getattr(node.op, "backend_kernel", None)
        if backend_kernel is not None:  # ops with sub-graph bodies compile them on this backend
            return backend_kernel(self, node)
        return node.op.kernel(self.xp, node)

    #: optional ``wrap_plan(run, consts) -> callable``: given the generated plan function
    #: ``run(consts, *inputs, *states)`` and the device constants, return what inference calls
    #: (a JAX backend jits the whole plan here). Absent: the plan closes over its constants.
    wrap_plan: ClassVar[Callable[..., Any] | None] = None

    def compile(self, model: Any, config: dict[str, Any] | None = None) -> Any:
        """An executable plan for ``model`` (see :mod:`arrayrt.executor`). While it is built, kernels
        may ask :meth:`output_read` which outputs anything reads."""
        from arrayrt.executor import build_plan

        self._consumers, self._owners = model.consumers(), set(model.get_ordered_ops())
        try:
            return build_plan(model, self, profile=bool((config or {}).get("PERF_COUNT", False)))
        finally:
            self._consumers, self._owners = {}, set()

    def output_read(self, node: Any, index: int) -> bool:
        """Whether output ``index`` of ``node`` is read by anything in the model being compiled (True
        when that is not known: outside :meth:`compile`, or a node of another graph such as a body
        compiled inside its op's kernel). Kernels skip work for outputs nobody reads."""
        if node not in getattr(self, "_owners", ()):
            return True
        return bool(self._consumers.get(node.output(index)))

    def describe(self) -> str:
        return f"{self.device} ({self.name})"


def _has_compute(op: type[OpDef]) -> bool:
    return (op.compute is not OpDef.compute or op.kernel.__func__ is not OpDef.kernel.__func__
            or getattr(op, "backend_kernel", None) is not None)
