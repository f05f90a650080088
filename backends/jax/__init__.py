"""The jax backend, device ``NPU``: the graph it is given becomes ONE XLA program.

How a model runs
================
The executor writes the plan as one Python function ``run(consts, *inputs, *states)`` and hands it
to :meth:`JaxBackend.wrap_plan`, which returns a :class:`JitPlan`. That traces ``run`` under
``jax.jit`` once per concrete input signature (shapes, dtypes), compiles it with XLA and keeps at
most ``NPU_COMPILE_CACHE_SIZE`` programs (least recently used out first), counting compilations.
A model whose inputs are all static is compiled at ``compile_model`` time.

* Constants larger than :data:`BAKE_BYTES` (weights) are uploaded once and passed as the program's
  first argument, so XLA neither embeds nor re-transfers them. Smaller ones (scalars, biases, shape
  vectors, axes) are baked into the program, where kernels can read them as Python values and XLA
  folds them.
* A node whose inputs hold no traced value (``ShapeOf`` of a traced array returns the static shape
  as numpy; constants; what is computed from them) runs the numpy backend's kernel while tracing,
  so shape sub-graphs of a dynamic model are evaluated per signature and fold bit-identically to
  ``CPU``. That is also how the executor's constant folding runs here.
* Inputs may be numpy or jax arrays (a jax array in another layout, as a DLPack import of a strided
  view can be, is copied to row-major: programs require it); outputs come back as numpy unless
  ``KEEP_ON_DEVICE``.
* A Parameter that HETERO marks as a cut shape vector (``SHAPE_ONLY``) is compiled in by value: its
  value joins the signature, as the shape computation it was cut from would have been traced.

Numerics
========
Default ``INFERENCE_PRECISION_HINT`` is f16 (as the VPU's); bf16 and f32 on request, and
``EXECUTION_MODE_HINT=ACCURACY`` forces f32 (the core lowers the graph). Matrix products and
convolutions of f16/bf16 operands accumulate in f32 (``preferred_element_type``) and round once;
f32 products ask XLA for ``Precision.HIGHEST`` (no TF32/bf16 passes on GPUs). See docs/numerics.md.

What NPU refuses (:meth:`JaxBackend.why_not`)
=============================================
XLA compiles static shapes only. Ops whose output shape depends on input values are refused by type
(:data:`UNSUPPORTED`); any other node whose kernel reads the value of an input that is neither a
compile-time constant nor computed from shapes alone (a Reshape to a computed shape, TopK with a
runtime k, a data-dependent loop count, an If on a runtime condition, ROIAlign's sampling grid from
runtime boxes, a tree ensemble walked in Python) -- anything calling ``bool()``/``int()``/``float()``
or numpy on a traced value -- is found by tracing its kernel with those inputs abstract
(``jax.eval_shape``: no data, no XLA compilation), and refused. Nodes alike in op, attributes and
input signature share one trace, so a model pays it once per kind of node. On XLA's CPU platform,
which flushes f32 subnormals to zero, nodes whose meaning rests on one are refused too (a Convert to
f8e8m0, whose smallest value is subnormal; a Clamp with a subnormal bound). Under ``HETERO:NPU,CPU``
the refused nodes run on CPU.

Process-wide effects: the backend turns on ``jax_enable_x64`` (IR's i64 shapes and indices, and
f64, keep their types) and, with ``CACHE_DIR``, jax's persistent compilation cache in
``<CACHE_DIR>/xla``. On jaxlib 0.10 and later, before jax first starts its backends, it sets in
``XLA_FLAGS`` which operations XLA's CPU compiler hands to YNNPACK (:data:`YNN_FLAG`): dots only.
jaxlib 0.10's own default also hands it convolutions, which YNNPACK runs on one thread, where XLA's
Eigen convolution uses every core: ResNet-18 on NPU-on-CPU ran 1.4x faster with the flag on 2 cores
(docs/numerics.md). The flag only concerns the CPU platform. ``ARRAYRT_XLA_CPU_YNN=0``, or the
user's own setting of that flag in ``XLA_FLAGS``, leaves ``XLA_FLAGS`` alone; so does a jax whose
backends already started (XLA reads the flags once), so the backend sets it when this module is
imported, and a program that calls ``jax.devices()`` itself should import ``arrayrt.backends.jax``
first.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from arrayrt.backends.base import STRUCTURAL, Backend
from arrayrt.backends.jax.kernels import OVERRIDES
from arrayrt.ir.graph import SHAPE_ONLY, is_shape_only
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError, CompileError, DeviceError, UnsupportedOpError, where

#: constants up to this many bytes are compiled into the program instead of passed as arguments
BAKE_BYTES = 1024

#: XLA CPU: dots through YNNPACK, convolutions on XLA's own (Eigen) kernels (see the module docstring)
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"
#: the first jaxlib known to have the flag: XLA aborts the process on a flag it does not know
YNN_MIN_JAXLIB = (0, 10)


def _jaxlib_version() -> tuple[int, ...]:
    import jaxlib

    parts = []
    for piece in jaxlib.__version__.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _jax_started() -> bool:
    """Whether jax already started its backends (XLA has read ``XLA_FLAGS`` then, once for good)."""
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - a jax without the module: assume not started
        return False
    return bool(getattr(xla_bridge, "_backends", None))


def ynn_on_cpu() -> bool:
    """Add :data:`YNN_FLAG` to ``XLA_FLAGS`` unless opted out, already chosen, unknown to this
    jaxlib, or too late (jax's backends started); True when ``XLA_FLAGS`` holds it afterwards.
    Called once, when this module is imported."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" in flags:
        return YNN_FLAG in flags
    if (os.environ.get("ARRAYRT_XLA_CPU_YNN", "1") == "0" or _jaxlib_version() < YNN_MIN_JAXLIB
            or _jax_started()):
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}".strip()
    return True


ynn_on_cpu()  # as early as arrayrt can: before anything of arrayrt's starts jax's backends


#: default ``NPU_COMPILE_CACHE_SIZE``: XLA programs kept per compiled model
DEFAULT_CACHE_SIZE = 8

_DATA_DEPENDENT = "its output shape depends on input values; XLA compiles static shapes only"

#: op type -> why NPU does not run it (the data-dependent shapes; strings have no dtype)
UNSUPPORTED: dict[str, str] = {
    "NonZero": _DATA_DEPENDENT,
    "Unique": _DATA_DEPENDENT,
    "NonMaxSuppression": _DATA_DEPENDENT,
    "MatrixNms": _DATA_DEPENDENT,
    "MulticlassNms": _DATA_DEPENDENT,
    "StringTensorPack": "strings have no XLA type",
    "StringTensorUnpack": "strings have no XLA type",
}

#: IR element types outside the array-API standard -> jax.numpy dtype names
_EXTRA_DTYPES = {"f16": "float16", "bf16": "bfloat16", "f8e4m3": "float8_e4m3fn", "f8e5m2": "float8_e5m2",
                 "f8e8m0": "float8_e8m0fnu", "f4e2m1": "float4_e2m1fn", "f8e4m3fnuz": "float8_e4m3fnuz",
                 "f8e5m2fnuz": "float8_e5m2fnuz", "i4": "int4", "u4": "uint4", "i2": "int2", "u2": "uint2"}

# Every static type jax has a dtype for: not u1 (BIN, bit-packed in IR) nor string.
_HELD = frozenset(t for t in Type._by_name.values() if t.is_static and t not in (Type.string, Type.u1)
                  and (t.name not in _EXTRA_DTYPES or hasattr(jnp, _EXTRA_DTYPES[t.name])))

#: INFERENCE_PRECISION_HINT -> jax's default precision of the dots traced in the program
_PRECISION_OF_HINT = {"f32": "highest", "f16": "default", "bf16": "default"}

#: errors of a kernel that turns a traced value into a Python value
_CONCRETIZATION_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                          jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError,
                          jax.errors.NonConcreteBooleanIndexError)


def _platform(value: Any) -> str:
    name = str(value).strip().lower()
    if name not in ("", "cpu", "gpu", "cuda", "rocm", "tpu"):
        raise ValueError(f"expected cpu, gpu, cuda, rocm or tpu (or empty for jax's default), got '{value}'")
    return name


def _cache_size(value: Any) -> int:
    n = int(value)
    if n < 1:
        raise ValueError(f"expected at least 1 program, got {value}")
    return n


def _on_device(value: Any) -> bool:
    """A jax array (traced or not), or a sequence value (list) holding one."""
    if isinstance(value, (list, tuple)):
        return any(_on_device(v) for v in value)
    return isinstance(value, jax.Array)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an attribute value (arrays by their bytes: a repr elides them)."""
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return repr(value)


@functools.cache
def _namespace() -> types.ModuleType:
    """jax.numpy under a name of its own, with the IR element types the standard lacks."""
    ns = types.ModuleType("arrayrt_jax_numpy", "jax.numpy for arrayrt's computes")
    ns.__dict__.update({k: v for k, v in vars(jnp).items() if not k.startswith("__")})
    ns.__arrayrt_dtypes__ = {t: getattr(jnp, name) for t, name in _EXTRA_DTYPES.items() if hasattr(jnp, name)}
    return ns


class JaxBackend(Backend):
    """jax.numpy + XLA on ``NPU``; see the module docstring."""

    name = "jax"
    device = "NPU"
    dtypes = _HELD
    default_precision = Type.f16
    overrides = OVERRIDES
    unsupported = UNSUPPORTED
    properties = {
        "JAX_PLATFORM": (_platform, ""),  # "": jax's default platform
        "NPU_COMPILE_CACHE_SIZE": (_cache_size, DEFAULT_CACHE_SIZE),
    }

    @classmethod
    def load_namespace(cls) -> Any:
        return _namespace()

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__(config)
        jax.config.update("jax_enable_x64", True)
        platform = self.config.get("JAX_PLATFORM") or None
        try:
            self.jax_device = jax.devices(platform)[0] if platform else jax.devices()[0]
        except RuntimeError as exc:
            raise DeviceError(f"NPU: JAX_PLATFORM '{platform}' is not available to jax: {exc}") from None
        hint = self.config.get("INFERENCE_PRECISION_HINT", self.default_precision)
        self.matmul_precision = _PRECISION_OF_HINT.get(getattr(hint, "name", str(hint)), "default")
        self.cache_size = _cache_size(self.config.get("NPU_COMPILE_CACHE_SIZE") or DEFAULT_CACHE_SIZE)
        cache_dir = self.config.get("CACHE_DIR")
        if cache_dir:
            enable_persistent_cache(os.path.join(cache_dir, "xla"))
        #: PERF_COUNT: the executor runs the plan op by op (no jit) to time each node
        self.eager = bool(self.config.get("PERF_COUNT"))
        self._host: Backend | None = None
        self._probed: dict[int, tuple[Any, str | None]] = {}
        self._probe_memo: dict[tuple, str | None] = {}
        self._shape_only: dict[tuple[int, int], bool] = {}
        self._consumers: dict[Any, list[Any]] = {}
        self._requests: dict[Any, list[tuple[Any, tuple]]] = {}
        self._folded: dict[tuple[int, int], Any] = {}
        self._trace = threading.local()

    # --- arrays ------------------------------------------------------------------------------
    def to_device(self, array: Any) -> Any:
        """Numpy stays numpy: the jitted program takes it directly (faster than ``device_put``),
        and constants are uploaded once in :meth:`wrap_plan`. A profiled plan runs op by op, on
        device arrays. Sequence values (lists) keep their form."""
        if isinstance(array, (list, tuple)):
            return type(array)(self.to_device(a) for a in array)
        if array is None:
            return array
        if isinstance(array, jax.Array):
            return _default_layout(array)
        if self.eager:
            return jax.device_put(np.asarray(array), self.jax_device)
        return array if isinstance(array, np.ndarray) else np.asarray(array)

    def from_dlpack(self, array: Any) -> Any:
        return _default_layout(jnp.from_dlpack(array))

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def synchronize(self) -> None:
        jax.effects_barrier()

    # --- support -----------------------------------------------------------------------------
    def why_not(self, node: Any) -> str | None:
        reason = super().why_not(node)
        if reason is None and node.type_name not in STRUCTURAL:
            reason = self._needs_subnormals(node) or self._reads_runtime_values(node)
        return reason

    def _needs_subnormals(self, node: Any) -> str | None:
        """XLA on CPU flushes f32 subnormals to zero. Where a node's meaning rests on one (e8m0's
        smallest value, 2^-127, is one; e8m0 has no zero, so a flushed value becomes NaN), refuse it."""
        if self.jax_device.platform != "cpu":
            return None
        flushed = "which XLA on CPU flushes to zero"
        if node.type_name == "Convert" and node.attrs["destination_type"] is Type.f8e8m0 \
                and node.input_type(0).is_real:
            return (f"f8e8m0's smallest value, 2^-127, is an f32 subnormal, {flushed}; e8m0 has no zero, so "
                    "the converted value would be NaN")
        if node.type_name == "Clamp":
            tiny = float(np.finfo(np.float32).tiny)
            bounds = [b for b in ("min", "max") if 0 < abs(float(node.attrs[b])) < tiny]
            if bounds:
                return f"its {' and '.join(bounds)} bound is an f32 subnormal, {flushed}"
        return None

    def check(self, node: Any) -> None:
        reason = self.why_not(node)
        if reason is not None:
            raise UnsupportedOpError(f"{where(node)} cannot run on {self.device} ({self.name}): {reason}; "
                                     f"compile for 'HETERO:{self.device},CPU' to run it on CPU")

    def _reads_runtime_values(self, node: Any) -> str | None:
        """Trace the node's kernel with its runtime inputs abstract: a kernel that turns one of
        them into a Python value cannot be compiled for static shapes."""
        hit = self._probed.get(node.uid)
        if hit is not None and hit[0] is node:
            return hit[1]
        key = self._probe_key(node)
        if key is not None and key in self._probe_memo:
            reason = self._probe_memo[key]
        else:
            reason = self._probe(node)
            if key is not None:
                self._probe_memo[key] = reason
        self._probed[node.uid] = (node, reason)
        return reason

    def _probe_key(self, node: Any) -> tuple | None:
        """What the probe of ``node`` depends on: op, attributes, outputs and, per input, its type,
        shape and what :meth:`_probe` passes for it (a small constant's value, or whether it is
        shape-only). None (no sharing) for nodes with bodies, whose reasons name inner nodes."""
        if node.bodies:
            return None
        inputs = []
        for i in range(node.get_input_size()):
            value = node.input_const(i)
            if value is not None and np.asarray(value).nbytes <= BAKE_BYTES:
                given: Any = _frozen(np.asarray(value))
            else:
                given = value is None and self._is_shape_only(node.input_value(i))
            inputs.append((node.input_type(i).name, str(node.input_shape(i)), given))
        outputs = tuple((o.get_element_type().name, str(o.get_partial_shape())) for o in node.outputs())
        return (node.op, _frozen(dict(node.attrs)), tuple(inputs), outputs)

    def _probe(self, node: Any) -> str | None:
        from arrayrt.ir.ops.sequence import TENSOR, value_kind

        sequences = [i for i in range(node.get_input_size()) if value_kind(node.input_value(i)) != TENSOR]
        if sequences:  # no abstract value stands for a list: refuse runtime positions into it
            runtime = [i for i in range(node.get_input_size()) if i not in sequences
                       and node.input_const(i) is None and not self._is_shape_only(node.input_value(i))
                       and not node.input_type(i).is_real]
            if runtime:
                many = len(runtime) > 1
                return (f"it takes a sequence (a list, which has no XLA type) and input{'s' if many else ''} "
                        f"{', '.join(map(str, runtime))}, only known at inference, decide{'' if many else 's'} "
                        "which elements it uses (a position, a condition); XLA compiles static shapes")
            return None
        args: list[Any] = []
        abstract: list[int] = []
        for i in range(node.get_input_size()):
            value = node.input_const(i)
            et, shape = node.input_type(i), node.input_shape(i)
            if value is not None and np.asarray(value).nbytes <= BAKE_BYTES:
                args.append(np.asarray(value))
                continue
            if et.is_dynamic or not shape.rank_is_static:
                return None  # nothing to trace with; a failure would surface when compiling
            dims = tuple(d.get_length() if d.is_static else max(d.min, 1) for d in shape.dims)
            if value is None and self._is_shape_only(node.input_value(i)):
                args.append(np.ones(dims, et.to_dtype()))  # concrete while tracing, never the cause
                continue
            args.append(jax.ShapeDtypeStruct(dims, et.to_dtype()))
            abstract.append(i)
        if not abstract:
            return None
        try:
            k = Backend.kernel(self, node)
        except ArrayrtError as exc:
            return str(exc)
        except Exception:  # noqa: BLE001 - the executor reports kernel build failures, naming the node
            return None

        def reads_values(traced: Sequence[int]) -> bool:
            """Whether tracing with inputs ``traced`` abstract (the others zeros) needs their values."""
            fixed = [a if i not in traced or not isinstance(a, jax.ShapeDtypeStruct) else None
                     for i, a in enumerate(args)]
            fixed = [np.zeros(a.shape, a.dtype) if isinstance(a, jax.ShapeDtypeStruct) else a for a in fixed]

            def call(*values):
                it = iter(values)
                return k(*[next(it) if a is None else a for a in fixed])

            try:
                jax.eval_shape(call, *[args[i] for i in traced])
            except _CONCRETIZATION_ERRORS:
                return True
            except UnsupportedOpError:
                raise
            except Exception:  # noqa: BLE001 - not a support question: compiling reports it
                return False
            return False

        try:
            if not reads_values(abstract):
                return None
        except UnsupportedOpError as exc:
            return str(exc)
        culprits = [i for i in abstract if reads_values([i])] or abstract
        many = len(culprits) > 1
        return (f"its kernel needs the value{'s' if many else ''} of input {', '.join(map(str, culprits))} "
                f"while compiling, which {'are' if many else 'is'} only known at inference; XLA compiles "
                "static shapes, so shape-like inputs must be constants or computed from shapes")

    def _is_shape_only(self, port: Any) -> bool:
        """True when ``port``'s value follows from constants and static shapes alone (ShapeOf and
        what is computed from it, or a HETERO cut of such a value), so it is concrete while tracing."""
        return is_shape_only(port, self._shape_only)

    # --- kernels -----------------------------------------------------------------------------
    def kernel(self, node: Any) -> Callable[..., Any]:
        """The jax kernel, or the numpy backend's when no input is a jax array (traced or on the
        device; see the module docstring)."""
        traced_kernel = super().kernel(node)
        host_kernel: list[Callable[..., Any]] = []
        prepare = getattr(traced_kernel, "prepare", None)
        if prepare is not None:
            self._requests.setdefault(node.input_value(prepare[0]), []).append((node, prepare))
        eager = self.eager

        def run(*args: Any) -> Any:
            if any(_on_device(a) for a in args):
                res = traced_kernel(*args)
                return jax.block_until_ready(res) if eager else res
            if not host_kernel:
                host_kernel.append(self._host_backend().kernel(node))
            res = host_kernel[0](*args)
            for j, value in enumerate(res if isinstance(res, (tuple, list)) else (res,)):
                self._folded[(node.uid, j)] = value
            return res

        run.exec_type = getattr(traced_kernel, "exec_type", None) or (
            f"jax_{'override' if node.type_name in self.overrides else 'ref'}")
        return run

    def _host_backend(self) -> Backend:
        if self._host is None:
            from arrayrt.backends.numpy import NumpyBackend

            self._host = NumpyBackend(self.config)
        return self._host

    # --- constants prepared for their kernels ----------------------------------------------------
    # A kernel may ask (``kernel.prepare = (input index, name, fn(xp, array))``) for a constant input
    # in another layout, e.g. convolution filters as [*K, C, O]. When every reader of that constant
    # asks for the same preparation, it is applied once before upload; otherwise each kernel does
    # it inside the program (where XLA would copy the weights on every inference).
    def prepared_constants(self, consts: Sequence[Any]) -> dict[int, Callable[[Any, Any], Any]]:
        """Plan constant index -> preparation, for the constants all of whose readers agree."""
        index = {id(c): i for i, c in enumerate(consts)}
        out: dict[int, Callable[[Any, Any], Any]] = {}
        for port, requests in self._requests.items():
            readers = {(r.get_node().uid, r.get_index()) for r in self._consumers.get(port, ())}
            asked = {(n.uid, p[0]) for n, p in requests}
            if readers != asked or len({p[1] for _, p in requests}) != 1:
                continue
            node = port.get_node()
            for value in (node.attrs.get("value") if node.type_name == "Constant" else None,
                          self._folded.get((node.uid, port.get_index()))):
                if value is not None and id(value) in index:
                    out[index[id(value)]] = requests[0][1][2]
                    break
        return out

    def is_prepared(self, array: Any) -> bool:
        """While tracing: whether ``array`` is a constant that arrived prepared."""
        return id(array) in getattr(self._trace, "prepared", frozenset())

    # --- compilation -------------------------------------------------------------------------
    def wrap_plan(self, run: Callable[..., tuple], consts: tuple) -> "JitPlan":
        return JitPlan(run, consts, self)

    def compile(self, model: Any, config: dict[str, Any] | None = None) -> Any:
        self._requests, self._folded = {}, {}
        plan = super().compile(model, config)
        self._requests, self._folded = {}, {}
        params = model.get_parameters()
        ports = [p.output(0) for p in params]
        if isinstance(plan.fn, JitPlan):
            plan.fn.static = tuple(i for i, p in enumerate(params) if p.rt_info.get(SHAPE_ONLY))
        if isinstance(plan.fn, JitPlan) and not plan.fn.static \
                and all(o.get_partial_shape().is_static for o in ports):
            struct = jax.ShapeDtypeStruct
            try:
                signature = [struct(tuple(o.get_shape()), o.get_element_type().to_dtype()) for o in ports]
                plan.fn.precompile(signature + [None] * len(plan.state_ids))
            except ArrayrtError:
                raise
            except Exception as exc:  # noqa: BLE001 - name the node whose kernel failed to trace
                node = plan._failing_node(exc)
                if isinstance(exc, _CONCRETIZATION_ERRORS):
                    raise UnsupportedOpError(
                        f"{where(node)} cannot run on {self.device} ({self.name}): its kernel needs input "
                        f"values while compiling ({type(exc).__name__}); compile for "
                        f"'HETERO:{self.device},CPU' to run it on CPU") from exc
                raise CompileError(f"{where(node)}: compiling for {self.device} failed: "
                                   f"{type(exc).__name__}: {exc}") from exc
        return plan

    def describe(self) -> str:
        return f"{self.device} ({self.name} on {self.jax_device.platform})"


class JitPlan:
    """The plan as XLA programs, one per input signature, at most ``cache_size`` kept.

    ``compilations`` counts every XLA compilation (the first, new signatures, and evicted ones
    coming back); ``recompilations`` is that minus the first.

    Arguments at positions :attr:`static` (HETERO's cuts of shape vectors, see
    :data:`~arrayrt.ir.graph.SHAPE_ONLY`) are compiled in by value, as the shape computation they
    were cut from would have been: their values join the signature, the rest stay arguments."""

    def __init__(self, run: Callable[..., tuple], consts: Sequence[Any], backend: JaxBackend):
        self._run = run
        self._backend = backend
        self._template: list[Any] = []
        self._uploaded: list[int] = []
        prepare = backend.prepared_constants(consts)
        arrays = []
        for i, c in enumerate(consts):
            if isinstance(c, np.ndarray) and c.nbytes <= BAKE_BYTES and i not in prepare:
                self._template.append(c)
            elif isinstance(c, (np.ndarray, jax.Array)):
                self._template.append(None)
                self._uploaded.append(i)
                arrays.append(np.ascontiguousarray(prepare[i](np, np.asarray(c))) if i in prepare else c)
            else:
                self._template.append(c)
        self._prepared = [k for k, i in enumerate(self._uploaded) if i in prepare]
        self._weights = tuple(jax.device_put(arrays, backend.jax_device))
        self._programs: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.cache_size = backend.cache_size
        self.compilations = 0
        self.compile_seconds = 0.0
        self.static: tuple[int, ...] = ()

    @property
    def recompilations(self) -> int:
        return max(self.compilations - 1, 0)

    @property
    def cached_signatures(self) -> list[tuple]:
        return list(self._programs)

    def _program(self, weights: tuple, *args: Any) -> tuple:
        consts = list(self._template)
        for i, w in zip(self._uploaded, weights):
            consts[i] = w
        trace = self._backend._trace
        outer = getattr(trace, "prepared", frozenset())  # a body traced inside its op's program
        trace.prepared = outer | {id(weights[k]) for k in self._prepared}
        try:
            return self._run(tuple(consts), *args)
        finally:
            trace.prepared = outer

    def __call__(self, *args: Any) -> tuple:
        if any(_traced(a) for a in args):  # the body of a Loop/If being traced
            return self._program(self._weights, *args)
        static = self.static
        key = tuple(_signature(a) if i not in static else _value_key(a) for i, a in enumerate(args))
        program = self._programs.get(key)
        if program is None:
            program = self._compile(key, args)
        elif len(self._programs) > 1:
            with contextlib.suppress(KeyError):  # evicted meanwhile by another thread's compile
                self._programs.move_to_end(key)
        if static:
            args = tuple(a for i, a in enumerate(args) if i not in static)
        try:
            return program(self._weights, *args)
        except jax.errors.JaxRuntimeError as exc:  # out of memory and kin: the device, not the inputs
            raise DeviceError(f"NPU: the XLA program failed while running: {exc}") from exc

    def precompile(self, args: Sequence[Any]) -> None:
        key = tuple(_signature(a) for a in args)
        if key not in self._programs:
            self._compile(key, args)

    def _compile(self, key: tuple, args: Sequence[Any]) -> Any:
        with self._lock:
            program = self._programs.get(key)
            if program is not None:
                return program
            fn = self._program
            avals = [_abstract(a) for i, a in enumerate(args) if i not in self.static]
            if self.static:
                known = {i: np.asarray(args[i]) for i in self.static}

                def fn(weights: tuple, *dynamic: Any) -> tuple:
                    it = iter(dynamic)
                    return self._program(weights, *[known[i] if i in known else next(it)
                                                    for i in range(len(args))])
            start = time.perf_counter()
            with jax.default_matmul_precision(self._backend.matmul_precision):
                lowered = jax.jit(fn).lower(self._weights, *avals)
            program = lowered.compile()
            self.compile_seconds += time.perf_counter() - start
            self.compilations += 1
            self._programs[key] = program
            while len(self._programs) > self.cache_size:
                self._programs.popitem(last=False)
            return program

    def properties(self) -> dict[str, Any]:
        """Live values for the compiled model's properties."""
        return {"NPU_COMPILATIONS": self.compilations, "NPU_RECOMPILATIONS": self.recompilations,
                "NPU_COMPILE_CACHE_SIZE": self.cache_size, "NPU_COMPILE_SECONDS": self.compile_seconds}


def _signature(value: Any) -> Any:
    """What a program is compiled for: shapes and dtypes, recursively through sequence values."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    return (value.shape, value.dtype)


def _default_layout(array: Any) -> Any:
    """``array`` in XLA's default (row-major) layout, which compiled programs require of their
    arguments: an array imported through DLPack from a strided view (a transposed numpy array) keeps
    that view's layout, and is copied."""
    try:
        order = array.format.layout.major_to_minor
    except Exception:  # noqa: BLE001 - no layout to read (a tracer, a deleted array): leave it
        return array
    return array if tuple(order) == tuple(range(array.ndim)) else array.copy()


def _value_key(value: Any) -> Any:
    """A static argument's part of the signature: its type, shape and values."""
    a = np.asarray(value)
    return ("value", a.dtype.str, a.shape, a.tobytes())


def _abstract(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return type(value)(_abstract(v) for v in value)
    return jax.ShapeDtypeStruct(value.shape, value.dtype)


def _traced(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_traced(v) for v in value)
    return isinstance(value, jax.core.Tracer)


_cache_lock = threading.Lock()


def enable_persistent_cache(path: str) -> None:
    """Send every XLA compilation of this process through jax's persistent cache at ``path``."""
    from jax.experimental.compilation_cache import compilation_cache

    with _cache_lock:
        if jax.config.jax_compilation_cache_dir == path:
            return
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        compilation_cache.set_cache_dir(path)
        compilation_cache.reset_cache()
