"""How a compiled plan runs on a GPU: one CUDA stream per concurrent request, nothing moved between
host and device inside the plan, and static-shape plans replayed as CUDA graphs.

Lanes
=====
A :class:`CudaPlan` keeps a pool of *lanes*; a call takes a free lane (or makes one) for its whole
duration, so concurrent infer requests (``AsyncInferQueue``, ``THROUGHPUT`` streams) run on
distinct CUDA streams and overlap, and a request alone reuses one lane. A lane is a non-blocking
``cupy.cuda.Stream`` plus, once recorded, its CUDA graphs and their buffers.

One call
========
1. *Stage the inputs* on the lane's stream. Inputs reach the plan as device arrays (``to_device``
   uploads host arrays and imports DLPack device tensors without a copy): the lane's stream first
   waits for the caller's, then uses them in place, or copies them device-to-device into the
   buffers a recorded graph reads. A host array handed to the plan directly (HETERO passes a CPU
   subgraph's result so) is copied to the device once, on the lane's stream.
2. *Run*: the generated plan function, op by op, on the lane's stream; or the lane's recording.
3. *Finish*: the results stay device arrays (copies of a graph's buffers, which the next replay
   overwrites), and the caller's stream is made to wait for the lane's, so what the caller does
   next with them (``to_host`` for numpy results, its own work with ``KEEP_ON_DEVICE``, the next
   GPU subgraph of a HETERO model) is ordered after this call's work.
Nothing moves between host and device in step 2.

CUDA graphs
===========
A plan whose inputs all have static shapes (and which holds no state) is recorded once per lane,
after one eager run has warmed it up (kernels compiled, library handles created). Recording runs
the plan on buffers from a memory pool private to the lane, with the stream capturing, so every
address the graph bakes in stays the graph's own. CuPy refuses cuBLAS calls (so GEMMs) while a
stream captures: a kernel that is not capture-safe, or that CuPy refuses during capture
(``NotImplementedError``, a refused host-to-device copy), ends the current graph and becomes an
*eager step* replayed between graphs, writing into the buffer the recording gave it. A replay is
then: graph, eager step, graph, ... Any other failure while recording (a synchronisation, a host
read) abandons graphs for this plan, which then runs eagerly; ``GPU_CUDA_GRAPH_STATUS`` says why.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class CaptureError(Exception):
    """A plan could not be recorded as CUDA graphs."""


def _splittable(exc: BaseException) -> bool:
    """Errors CuPy raises *before* touching a capturing stream (the capture stays valid): cuBLAS and
    other libraries refused during capture, a host-to-device copy refused."""
    msg = str(exc)
    return ((isinstance(exc, NotImplementedError) and "capture" in msg)
            or (isinstance(exc, RuntimeError) and "capturing" in msg and "H2D" in msg))


class EagerStep:
    """A kernel that runs between graphs, writing its results into the recording's buffers."""

    __slots__ = ("kernel", "args", "outs", "cp")

    def __init__(self, kernel: Callable[..., Any], args: tuple, result: Any, cp: Any):
        self.kernel, self.args, self.cp = kernel, args, cp
        self.outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)

    def run(self) -> None:
        write_into = getattr(self.kernel, "write_into", None)
        if write_into is not None and len(self.outs) == 1:
            write_into(self.outs[0], *self.args)
            return
        res = self.kernel(*self.args)
        for dst, src in zip(self.outs, res if isinstance(res, (tuple, list)) else (res,)):
            if dst is not None and dst is not src:
                self.cp.copyto(dst, src)


class Recording:
    """The plan as a sequence of CUDA graphs and eager steps, recorded on one stream."""

    def __init__(self, cp: Any, stream: Any):
        self.cp, self.stream = cp, stream
        self.steps: list[Any] = []
        self.graphs = 0
        self.eager_steps = 0
        self._capturing = False
        self._work = False

    def begin(self) -> None:
        self.stream.begin_capture()
        self._capturing, self._work = True, False

    def _end_segment(self) -> None:
        if self._capturing:
            self._capturing = False
            graph = self.stream.end_capture()
            if self._work:
                self.steps.append(graph)
                self.graphs += 1

    def call(self, kernel: Callable[..., Any], args: tuple, capture_safe: bool) -> Any:
        """Run ``kernel`` while recording: captured, or as an eager step."""
        if capture_safe:
            self._work = True
            try:
                res = kernel(*args)
            except (NotImplementedError, RuntimeError) as exc:
                if not _splittable(exc):
                    raise
            else:
                self._work = True  # work after an eager step inside the kernel (a GEMM's epilogue)
                return res
        return self._eager(kernel, args)

    def _eager(self, kernel: Callable[..., Any], args: tuple) -> Any:
        self._end_segment()
        res = kernel(*args)  # runs now, on not-yet-computed inputs: only its buffers matter
        outs = res if isinstance(res, (tuple, list)) else (res,)
        if any(o is not None and not isinstance(o, self.cp.ndarray) for o in outs):
            raise CaptureError("a kernel between graphs returned a value that is not a device array")
        self.steps.append(EagerStep(kernel, args, res, self.cp))
        self.eager_steps += 1
        self.begin()
        return res

    def finish(self) -> None:
        self._end_segment()

    def abort(self) -> None:
        """Leave capture mode after a failure (the capture may already be invalid)."""
        if self._capturing:
            self._capturing = False
            try:
                self.stream.end_capture()
            except Exception:  # noqa: BLE001 - an invalidated capture reports its error here
                pass

    def replay(self) -> None:
        stream = self.stream
        for step in self.steps:
            if isinstance(step, EagerStep):
                step.run()
            else:
                step.launch(stream)


class Lane:
    """One CUDA stream and, once recorded, its graphs and their input/output buffers."""

    __slots__ = ("stream", "recording", "static_in", "static_out", "pool")

    def __init__(self, stream: Any):
        self.stream = stream
        self.recording: Recording | None = None
        self.static_in: list[Any] = []
        self.static_out: tuple = ()
        self.pool: Any = None


class CudaPlan:
    """The plan function run as the module docstring says; quacks like the executor's plan ``fn``."""

    def __init__(self, run: Callable[..., tuple], consts: tuple, backend: Any):
        self._run = run
        self._consts = consts
        self._backend = backend
        self._cp = backend.cp
        self._lock = threading.Lock()
        self._free: list[Lane] = []
        self.graphs = False
        self.graph_status = "not configured"
        self.streams = 0
        self.recordings = 0
        self.replays = 0

    def configure(self, graphs: bool, status: str) -> None:
        """Called once the plan is built: whether it is recorded as CUDA graphs, and why not."""
        self.graphs, self.graph_status = graphs, status

    # --- lanes ---------------------------------------------------------------------------------
    def _acquire(self) -> Lane:
        with self._lock:
            if self._free:
                return self._free.pop()
            self.streams += 1
        return Lane(self._cp.cuda.Stream(non_blocking=True))

    def _release(self, lane: Lane) -> None:
        with self._lock:
            self._free.append(lane)

    # --- one call ----------------------------------------------------------------------------
    def __call__(self, *args: Any) -> tuple:
        cp = self._cp
        backend = self._backend
        with backend.cuda_device:
            caller = cp.cuda.get_current_stream()
            lane = self._acquire()
            try:
                with lane.stream:
                    backend.apply_math_mode()
                    replayed = lane.recording is not None
                    if replayed:
                        self._stage(args, lane, caller, lane.static_in)
                        lane.recording.replay()
                        self.replays += 1
                        outs = lane.static_out
                    else:
                        outs = self._run(self._consts, *self._stage(args, lane, caller, None))
                        if self.graphs:
                            self._record(lane, args)
                    return self._finish(outs, lane, caller, copy=replayed)
            finally:
                self._release(lane)

    def _stage(self, args: Sequence[Any], lane: Lane, caller: Any, static: list[Any] | None) -> list[Any]:
        """The arguments on the device, on the lane's stream (into ``static`` buffers if given)."""
        cp = self._cp
        if any(_holds(a, cp.ndarray) for a in args):
            lane.stream.wait_event(caller.record())
        out = []
        for i, a in enumerate(args):
            dst = static[i] if static is not None else None
            out.append(self._upload(a, dst))
        return out

    def _upload(self, a: Any, dst: Any) -> Any:
        cp = self._cp
        if a is None:
            return None
        if isinstance(a, list):
            return [self._upload(e, None) for e in a]
        if not isinstance(a, (cp.ndarray, np.ndarray, np.generic)) and hasattr(a, "__dlpack__"):
            a = self._backend.xp.from_dlpack(a)  # device tensors: no copy; host ones stay numpy
        if isinstance(a, cp.ndarray):
            if dst is None:
                return a
            cp.copyto(dst, a)
            return dst
        host = np.asarray(a, order="C")
        if dst is None:
            return cp.asarray(host)
        dst.set(host)
        return dst

    def _finish(self, outs: tuple, lane: Lane, caller: Any, copy: bool) -> tuple:
        """Results as device arrays (fresh copies of a graph's buffers), the caller's stream made
        to wait for the lane's: whatever the caller does next with them (``to_host``, its own work,
        another subgraph) is ordered after this call's work."""
        cp = self._cp
        res = tuple(_device_copy(o, cp) for o in outs) if copy else tuple(outs)
        caller.wait_event(lane.stream.record())
        return res

    # --- CUDA graphs ---------------------------------------------------------------------------
    def _record(self, lane: Lane, args: Sequence[Any]) -> None:
        """Record the plan on ``lane`` (see the module docstring); on failure, plan-wide eager."""
        cp = self._cp
        tls = self._backend.recording_state
        pool = cp.cuda.MemoryPool()
        recording = Recording(cp, lane.stream)
        try:
            with cp.cuda.using_allocator(pool.malloc):
                static_in = [self._buffer_like(a) for a in args]
                tls.recording = recording
                recording.begin()
                try:
                    outs = self._run(self._consts, *static_in)
                    recording.finish()
                finally:
                    tls.recording = None
                    recording.abort()
        except Exception as exc:  # noqa: BLE001 - any failure means: this plan runs eagerly
            self.graphs = False
            self.graph_status = f"eager: recording CUDA graphs failed: {type(exc).__name__}: {exc}"
            return
        lane.recording, lane.static_in, lane.static_out, lane.pool = recording, static_in, tuple(outs), pool
        self.recordings += 1
        self.graph_status = (f"captured: {recording.graphs} CUDA graph(s), "
                             f"{recording.eager_steps} eager step(s) between them")

    def _buffer_like(self, a: Any) -> Any:
        cp = self._cp
        if not isinstance(a, (cp.ndarray, np.ndarray, np.generic)) and hasattr(a, "__dlpack__"):
            a = self._backend.xp.from_dlpack(a)
        return cp.empty(tuple(a.shape), dtype=a.dtype)

    def prepare(self, args: Sequence[Any]) -> None:
        """Warm up and record one lane now (at compile time) with ``args``; a failure here leaves
        the work to the first inference."""
        try:
            self(*args)
        except Exception:  # noqa: BLE001 - sample inputs may upset a value check; inference reports
            pass

    def properties(self) -> dict[str, Any]:
        """Live values for the compiled model's properties."""
        return {"GPU_CUDA_GRAPH_STATUS": self.graph_status, "GPU_STREAMS": self.streams,
                "GPU_CUDA_GRAPH_RECORDINGS": self.recordings, "GPU_CUDA_GRAPH_REPLAYS": self.replays}


class InlinePlan:
    """The plan of a sub-graph body (If, Loop): runs on its caller's stream, inside its caller's
    recording, with no lanes of its own."""

    def __init__(self, run: Callable[..., tuple], consts: tuple):
        self._run, self._consts = run, consts

    def __call__(self, *args: Any) -> tuple:
        return self._run(self._consts, *args)


def _holds(a: Any, kind: type) -> bool:
    return isinstance(a, kind) or (isinstance(a, list) and any(isinstance(e, kind) for e in a))


def _device_copy(o: Any, cp: Any) -> Any:
    if isinstance(o, list):
        return [_device_copy(e, cp) for e in o]
    return o.copy() if isinstance(o, cp.ndarray) else o


