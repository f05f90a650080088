"""The cupy backend, device ``GPU`` (``GPU.0``, ``GPU.1``...): the ops' array-API computes on CuPy,
with cuBLAS/cuDNN overrides, fused elementwise tails, one CUDA stream per request and CUDA graphs.

Device-resident execution
=========================
Constants (weights) are uploaded once, when the model compiles; every kernel reads and writes
device arrays, so nothing crosses the PCIe bus inside a plan. Inputs may be numpy (copied to the
device once), CuPy arrays or any DLPack device tensor (used without a copy); results come back as
numpy, or stay on the device with ``KEEP_ON_DEVICE``. How a call runs (lanes, streams, CUDA
graphs) is :mod:`arrayrt.backends.cupy.plan`.

Properties
==========
* ``GPU_ENABLE_CUDA_GRAPH`` (default YES): record static-shape plans as CUDA graphs and replay them.
* ``GPU_MEMORY_POOL_LIMIT`` (default 0, no cap): bytes (``8589934592``, ``"8GiB"``, ``"512MB"``) or a
  share of the device's memory (``"50%"``) for CuPy's default memory pool on this device, which holds
  weights, inputs and eagerly run work; each recorded lane's graph buffers come from its own pool.
  CuPy's pool is process-wide per device: the last compiled model's cap holds.
* ``GPU_ALLOW_TF32`` (default NO): let f32 GEMMs and cuDNN convolutions use TF32 tensor cores. CuPy
  keeps the GEMM setting process-wide; each plan call sets it for its own work.
* ``GPU_USE_CUDNN`` (default YES): convolutions and max pooling through cuDNN where it is present (``cupyx.cudnn`` on
  CuPy 13, else the cuDNN library itself: :mod:`arrayrt.backends.cupy.cudnn`); NO, or no cuDNN,
  gives one im2col copy and one cuBLAS GEMM per convolution.

Numerics are those of OpenVINO's GPU plugin: ``INFERENCE_PRECISION_HINT`` f16 by default (f16
activations and weights, GEMMs accumulating in f32), f32 on request or with
``EXECUTION_MODE_HINT=ACCURACY``; no TF32 unless asked.

What GPU refuses (:meth:`CupyBackend.why_not`)
===============================================
Element types CuPy does not hold (strings, bf16, f8, 4-bit and packed types). With CUDA graphs on,
in a part of the model where shapes are static (so it would be captured): ops whose output shape
depends on input values, If/Loop on a runtime condition or count, and any node whose kernel reads a
runtime input's values on the host (found by :mod:`arrayrt.backends.cupy.probe`). Under
``HETERO:GPU,CPU`` the refused nodes run on CPU. A kernel that reads a *constant* input on the host
gets that constant as a host array, so it never synchronises.
"""
from __future__ import annotations

import functools
import importlib
import re
import threading
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from arrayrt.backends.base import STRUCTURAL, Backend
from arrayrt.backends.cupy import fusion, probe
from arrayrt.backends.cupy.kernels import OVERRIDES
from arrayrt.backends.cupy.namespace import make_namespace
from arrayrt.backends.cupy.plan import CudaPlan, InlinePlan
from arrayrt.backends.generic import NOT_IN_STANDARD
from arrayrt.ir.types import Type

from arrayrt.errors import DeviceError

#: element types CuPy holds: the standard's and f16
HELD = frozenset({Type.f64, Type.f32, Type.f16, Type.i64, Type.i32, Type.i16, Type.i8, Type.u64, Type.u32,
                  Type.u16, Type.u8, Type.boolean})

#: op type -> why GPU refuses it: computes that are host algorithms over numpy arrays
HOST_ALGORITHMS = {
    "LabelEncoder": ("its compute looks keys up in host (numpy) tables, which CuPy refuses to mix with "
                     "device arrays"),
}

_GRAPH_HINT = "; compile for 'HETERO:GPU,CPU' to run it on CPU, or set GPU_ENABLE_CUDA_GRAPH to NO"

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _flag(v: Any) -> bool:
    if isinstance(v, str):
        s = v.strip().upper()
        if s in ("YES", "TRUE", "1", "ON"):
            return True
        if s in ("NO", "FALSE", "0", "OFF"):
            return False
        raise ValueError(f"expected YES/NO or true/false, got '{v}'")
    return bool(v)


def _pool_limit(v: Any) -> int | float:
    """Bytes (int) or a share of the device's memory (float in (0, 1]); 0 is no cap."""
    if isinstance(v, bool):
        raise ValueError(f"expected bytes or a percentage, got {v!r}")
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"expected a byte count >= 0, got {v}")
        return v
    if isinstance(v, float):
        if not 0 < v <= 1:
            raise ValueError(f"expected a share of the device's memory in (0, 1], got {v}")
        return v
    s = str(v).strip().lower().replace(" ", "")
    if s.endswith("%"):
        share = float(s[:-1]) / 100.0
        if not 0 < share <= 1:
            raise ValueError(f"expected a percentage in (0, 100], got '{v}'")
        return share
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", s)
    if m is None or m.group(2) not in _UNITS:
        raise ValueError(f"expected bytes ('8589934592', '8GiB', '512MB') or a percentage ('50%'), got '{v}'")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


class _RecordingState(threading.local):
    """Per thread: the CUDA graph recording in progress on this thread, if any."""

    recording: Any = None


class CupyBackend(Backend):
    """CuPy on ``GPU``; see the module docstring."""

    name = "cupy"
    device = "GPU"
    dtypes = HELD
    default_precision = Type.f16
    precisions = ("f32", "f16")
    overrides = {**OVERRIDES, fusion.FusedProduct.type_name: fusion.kernel}
    unsupported = {**NOT_IN_STANDARD, **HOST_ALGORITHMS}
    properties = {
        "GPU_ENABLE_CUDA_GRAPH": (_flag, True),
        "GPU_MEMORY_POOL_LIMIT": (_pool_limit, 0),
        "GPU_ALLOW_TF32": (_flag, False),
        "GPU_USE_CUDNN": (_flag, True),
    }
    #: the CuPy module; None imports ``cupy`` (tests give a stand-in)
    cupy_module: ClassVar[Any] = None

    # --- the library ---------------------------------------------------------------------------
    @classmethod
    def cupy(cls) -> Any:
        if cls.cupy_module is not None:
            return cls.cupy_module
        cp = importlib.import_module("cupy")
        if not hasattr(cp, "cuda"):  # e.g. a folder named cupy on sys.path, not the library
            raise ImportError("the CuPy library is not installed")
        return cp

    @classmethod
    def array_api(cls, cp: Any) -> Any:
        """CuPy's array-API namespace."""
        import array_api_compat.cupy

        return array_api_compat.cupy

    @classmethod
    def libraries(cls, cp: Any) -> dict[str, Any]:
        """Optional parts of CuPy: ``erf`` (cupyx.scipy.special) and ``cudnn``: cupyx.cudnn (CuPy 13
        with the cuDNN library), else, as on CuPy 14 which dropped it, the cuDNN library through
        :mod:`arrayrt.backends.cupy.cudnn` when one is installed."""
        out: dict[str, Any] = {"erf": None, "cudnn": None}
        try:
            out["erf"] = importlib.import_module("cupyx.scipy.special").erf
        except (ImportError, AttributeError):
            pass
        try:
            cudnn = importlib.import_module("cupyx.cudnn")
            importlib.import_module("cupy.cuda.cudnn").getVersion()
            out["cudnn"] = cudnn
        except Exception:  # noqa: BLE001 - no cupyx.cudnn (CuPy 14, or library missing)
            from arrayrt.backends.cupy import cudnn as binding

            out["cudnn"] = binding.load(cp)  # None without a usable library: GEMM convolutions
        return out

    @classmethod
    def load_namespace(cls) -> Any:
        return _namespace(cls)

    # --- construction --------------------------------------------------------------------------
    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__(config)
        cp = self.cp = self.cupy()
        libs = self.libraries(cp)
        self.cudnn = libs["cudnn"] if _flag(self.config.get("GPU_USE_CUDNN", True)) else None
        self.erf = libs["erf"] or functools.partial(_rational_erf, self.xp)
        self.device_id = int(self.config.get("DEVICE_ID", 0) or 0)
        count = cp.cuda.runtime.getDeviceCount()
        if not 0 <= self.device_id < count:
            raise DeviceError(f"GPU.{self.device_id} is not present: this machine has {count} CUDA "
                              f"device(s), GPU.0 to GPU.{count - 1}")
        self.cuda_device = cp.cuda.Device(self.device_id)
        self.graphs_enabled = _flag(self.config.get("GPU_ENABLE_CUDA_GRAPH", True))
        self.allow_tf32 = _flag(self.config.get("GPU_ALLOW_TF32", False))
        limit = _pool_limit(self.config.get("GPU_MEMORY_POOL_LIMIT", 0) or 0)
        if limit:
            with self.cuda_device:
                pool = cp.get_default_memory_pool()
                if isinstance(limit, float):
                    pool.set_limit(fraction=limit)
                else:
                    pool.set_limit(size=limit)
        self.recording_state = _RecordingState()
        self._kernel_depth = 0
        self._probed: dict[int, tuple[Any, probe.Reads]] = {}

    def cudnn_ready(self) -> bool:
        """Whether kernels may use ``self.cudnn``: arrayrt's binding must first pass its self-test on
        this device (once per process; see :meth:`.cudnn.Cudnn.self_test`). On failure cuDNN is
        dropped, with one warning per process saying why, and convolutions use im2col + cuBLAS.
        Never tested while a CUDA graph records (a body compiled then uses im2col)."""
        if self.cudnn is None:
            return False
        test = getattr(self.cudnn, "self_test", None)
        if test is None:  # cupyx.cudnn: CuPy's own
            return True
        if self.recording_state.recording is not None:
            return False
        first = not self.cudnn.tested(self.device_id)
        with self.cuda_device:
            problem = test()
        if problem is not None and first:
            warnings.warn(f"GPU.{self.device_id}: {self.cudnn!r} failed its self-test, so convolutions use "
                          f"im2col + cuBLAS: {problem}", RuntimeWarning, stacklevel=2)
            self.cudnn = None
        return problem is None

    def describe(self) -> str:
        props = self.cp.cuda.runtime.getDeviceProperties(self.device_id)
        name = props.get("name", b"CUDA device")
        name = name.decode() if isinstance(name, bytes) else name
        return f"{self.device}.{self.device_id} ({self.name} on {name})"

    # --- arrays --------------------------------------------------------------------------------
    def to_device(self, array: Any) -> Any:
        """Host arrays are copied to this device (on the caller's stream: a plan's lane waits for
        it); device tensors of other libraries are imported through DLPack without a copy. Types
        CuPy cannot hold stay on the host (the nodes reading them are refused)."""
        cp = self.cp
        if isinstance(array, cp.ndarray):
            return array
        if not isinstance(array, (np.ndarray, np.generic)) and hasattr(array, "__dlpack__"):
            array = self.xp.from_dlpack(array)
            if isinstance(array, cp.ndarray):
                return array
        host = np.asarray(array)
        if not _holds_dtype(host.dtype):
            return host
        with self.cuda_device:
            return cp.asarray(np.asarray(host, order="C"))

    def to_host(self, array: Any) -> np.ndarray:
        if isinstance(array, np.ndarray):
            return array
        if isinstance(array, self.cp.ndarray):
            with self.cuda_device:
                return self.cp.asnumpy(array)
        return super().to_host(array)

    def synchronize(self) -> None:
        with self.cuda_device:
            self.cp.cuda.get_current_stream().synchronize()

    def profile_clock(self) -> tuple[Callable[[], Any], Callable[[], None]]:
        """``PERF_COUNT`` on the device's clock: a CUDA event recorded on the current stream before
        the first node and after each one, nothing synchronised in between; a node's time is the
        elapsed time between its two events, read when the inference is over. It counts what the
        stream did in that span, including any time it waited for the host to launch the node's
        kernels (a small model at batch 1 is bound by that)."""
        cp = self.cp

        def mark() -> _EventMark:
            event = cp.cuda.Event()
            event.record()
            return _EventMark(event, cp)

        return mark, _no_sync

    def apply_math_mode(self) -> None:
        """CuPy's f32 GEMM compute type for this plan's work (a process-wide setting in CuPy)."""
        _set_tf32(self.cp, self.allow_tf32)

    # --- support -------------------------------------------------------------------------------
    def why_not(self, node: Any) -> str | None:
        reason = super().why_not(node)
        if reason is not None or node.type_name in STRUCTURAL:
            return reason
        reads = self._host_reads(node)
        if reads.problem is not None:
            return reads.problem
        if not self.graphs_enabled or not _static_inputs(node):
            return None
        read = sorted(i for i in reads.numpy | reads.sync if node.input_const(i) is None or i in reads.sync)
        if read or reads.anonymous:
            what = f"input {', '.join(map(str, read))}" if read else "values it computed"
            return (f"its kernel reads {what} on the host (a device-to-host copy and a stream "
                    "synchronisation), which a CUDA graph cannot capture" + _GRAPH_HINT)
        if any(not o.get_partial_shape().is_static and _kind(o) == "tensor" for o in node.outputs()):
            return "its output shape depends on input values, which a CUDA graph cannot capture" + _GRAPH_HINT
        flow = {"If": (0,), "Loop": (0, 1)}.get(node.type_name, ())
        if any(node.input_const(i) is None for i in flow if i < node.get_input_size()):
            return "it chooses its work from a runtime value, which a CUDA graph cannot capture" + _GRAPH_HINT
        return None

    def _host_reads(self, node: Any) -> probe.Reads:
        hit = self._probed.get(node.uid)
        if hit is not None and hit[0] is node:
            return hit[1]
        reads = probe.NONE if node.bodies or node.type_name in STRUCTURAL else probe.host_reads(node)
        self._probed[node.uid] = (node, reads)
        return reads

    # --- kernels -------------------------------------------------------------------------------
    def kernel(self, node: Any) -> Callable[..., Any]:
        """The override or generic kernel, given host copies of the inputs it reads on the host,
        and able to take part in a CUDA graph recording (see :mod:`.plan`)."""
        factory = self.overrides.get(node.type_name)
        self._kernel_depth += 1
        try:
            k = factory(self, node) if factory is not None else None
            overridden = k is not None
            if k is None:
                body_kernel = getattr(node.op, "backend_kernel", None)
                k = body_kernel(self, node) if body_kernel is not None else node.op.kernel(self.xp, node)
        finally:
            self._kernel_depth -= 1
        exec_type = getattr(k, "exec_type", None) or f"cupy_{'override' if overridden else 'ref'}"
        safe = getattr(k, "capture_safe", True)
        write_into = getattr(k, "write_into", None)
        if not overridden:
            k = self._host_inputs(node, k)
        state = self.recording_state

        def run(*args: Any) -> Any:
            recording = state.recording
            if recording is None:
                return k(*args)
            return recording.call(k, args, safe)

        run.exec_type = exec_type
        run.kernel = k
        if write_into is not None:
            run.write_into = write_into
        return run

    def _host_inputs(self, node: Any, k: Callable[..., Any]) -> Callable[..., Any]:
        """``k`` given host arrays for the inputs it reads as numpy: constants as their values (no
        transfer ever), runtime values copied over (outside CUDA graphs only: see why_not)."""
        numpy_reads = self._host_reads(node).numpy
        if not numpy_reads:
            return k
        constants = {i: np.asarray(node.input_const(i)) for i in numpy_reads
                     if node.input_const(i) is not None}
        runtime = [i for i in numpy_reads if i not in constants]
        cp = self.cp

        def hosted(*args: Any) -> Any:
            args = list(args)
            for i, value in constants.items():
                args[i] = value
            for i in runtime:
                if isinstance(args[i], cp.ndarray):
                    args[i] = cp.asnumpy(args[i])
            return k(*args)

        return hosted

    def uncaptured(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` for a call CuPy cannot capture (a cuBLAS GEMM): an eager step between CUDA
        graphs while a recording is in progress on this thread."""
        recording = self.recording_state.recording
        if recording is None:
            return fn(*args)
        return recording.call(fn, args, capture_safe=False)

    # --- compilation ---------------------------------------------------------------------------
    def wrap_plan(self, run: Callable[..., tuple], consts: tuple) -> CudaPlan | InlinePlan:
        if self._kernel_depth:  # the body of an If/Loop: runs inside its op's kernel
            return InlinePlan(run, consts)
        return CudaPlan(run, consts, self)

    def compile(self, model: Any, config: dict[str, Any] | None = None) -> Any:
        fusion.fuse(model)
        with self.cuda_device:
            plan = super().compile(model, config)
        if not isinstance(plan.fn, CudaPlan):
            return plan
        ports = [p.output(0) for p in model.get_parameters()]
        static = all(o.get_partial_shape().is_static and o.get_element_type().is_static
                     and _kind(o) == "tensor" for o in ports)
        if not self.graphs_enabled:
            status = "eager: GPU_ENABLE_CUDA_GRAPH is NO"
        elif not static:
            status = "eager: the model's inputs have dynamic shapes"
        elif plan.state_ids:
            status = "eager: the model holds state (ReadValue/Assign)"
        else:
            status = "not recorded yet"
        graphs = status == "not recorded yet"
        plan.fn.configure(graphs, status)
        if graphs:
            plan.fn.prepare([np.zeros(o.get_shape(), o.get_element_type().to_dtype()) for o in ports])
        return plan


@functools.cache
def _namespace(cls: type[CupyBackend]) -> Any:
    cp = cls.cupy()
    if cp.cuda.runtime.getDeviceCount() < 1:
        raise RuntimeError("no CUDA device is visible")
    return make_namespace(cls.array_api(cp), cp, cls.libraries(cp)["erf"])


def _rational_erf(xp: Any, x: Any) -> Any:
    from arrayrt.ir.ops._xp import erf

    return erf(xp, x)


def _holds_dtype(dtype: np.dtype) -> bool:
    try:
        return Type(np.dtype(dtype)) in HELD
    except Exception:  # noqa: BLE001 - a dtype with no IR type: stays on the host
        return False


def _kind(port: Any) -> str:
    from arrayrt.ir.ops.sequence import value_kind

    return value_kind(port)


def _static_inputs(node: Any) -> bool:
    """Whether every input is a tensor of static type and shape (the part of a model a CUDA graph
    captures)."""
    return all(_kind(v) == "tensor" and v.get_partial_shape().is_static and v.get_element_type().is_static
               for v in node.input_values())


#: id(CuPy module) -> whether its f32 GEMMs currently allow TF32
_tf32: dict[int, bool] = {}


def _no_sync() -> None:
    pass


class _EventMark:
    """A CUDA event of a profiled inference; ``later - earlier`` is the span between two."""

    __slots__ = ("event", "cp")

    def __init__(self, event: Any, cp: Any):
        self.event, self.cp = event, cp

    def __sub__(self, earlier: _EventMark) -> _EventSpan:
        return _EventSpan(earlier.event, self.event, self.cp)


class _EventSpan:
    """Seconds between two recorded events, read (waiting for the later one) by ``float()``."""

    __slots__ = ("start", "end", "cp")

    def __init__(self, start: Any, end: Any, cp: Any):
        self.start, self.end, self.cp = start, end, cp

    def __float__(self) -> float:
        self.end.synchronize()
        return self.cp.cuda.get_elapsed_time(self.start, self.end) / 1e3


def _set_tf32(cp: Any, on: bool) -> None:
    if _tf32.get(id(cp)) is on:
        return
    linalg = getattr(getattr(cp, "_core", None), "_routines_linalg", None)
    if linalg is None:
        return
    linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TF32 if on else linalg.COMPUTE_TYPE_DEFAULT)
    _tf32[id(cp)] = on


__all__ = ["CupyBackend", "HELD"]
