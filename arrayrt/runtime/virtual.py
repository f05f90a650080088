"""Virtual devices that schedule real ones: AUTO (with CPU acceleration), MULTI /
CUMULATIVE_THROUGHPUT, and BATCH (automatic batching).

Each is a plan — a callable taking host input arrays (then state values) and returning host output
arrays (then new state values) — over one or more compiled models, so
:class:`~arrayrt.runtime.compiled_model.CompiledModel` runs it like any other plan.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from arrayrt.errors import CompileError


class HostRunner:
    """A compiled model's plan on host arrays: inputs moved to its device, outputs brought back."""

    def __init__(self, compiled: Any, name: str):
        self.compiled = compiled
        self.name = name
        self.plan = compiled._plan
        self.backend = compiled._backend

    def __call__(self, *args: Any) -> tuple:
        n = self.plan.n_inputs
        to_device, to_host = self.backend.to_device, self.backend.to_host
        outs = self.plan(*[to_device(a) for a in args[:n]], *args[n:])
        k = self.plan.n_outputs
        return tuple(to_host(o) for o in outs[:k]) + tuple(outs[k:])


class _PlanFacade:
    """What CompiledModel/InferRequest read off a plan, delegated to a reference runner."""

    profiled = False

    def __init__(self, reference: HostRunner):
        self._reference = reference
        self.n_inputs = reference.plan.n_inputs
        self.n_outputs = reference.plan.n_outputs
        self.state_ids = list(reference.plan.state_ids)

    @property
    def records(self) -> list:
        return list(getattr(self._reference.plan, "records", []))

    @property
    def kernel_count(self) -> int:
        return getattr(self._reference.plan, "kernel_count", 0)


class AutoPlan(_PlanFacade):
    """AUTO: run on the fallback (CPU) while the target device compiles in the background, then on
    the target. ``execution_devices`` reports where requests run now; ``history`` where each ran.

    With ``backup`` (``ENABLE_RUNTIME_FALLBACK``), an inference that fails on the target runs again
    on the runner ``backup()`` gives (called at the first failure; None: no device to fall back to,
    the error stands); later ones still go to the target. Wrong inputs fail there too, and that
    error is raised."""

    def __init__(self, fallback: HostRunner | None, target_name: str, build_target: Callable[[], HostRunner],
                 warmup: list[np.ndarray] | None, backup: "Callable[[], HostRunner | None] | None" = None):
        self._fallback = fallback
        self._target: HostRunner | None = None
        self._target_name = target_name
        self._find_backup = backup
        self._backup: HostRunner | None = None
        self._backup_lock = threading.Lock()  # held while the backup compiles; requests go on
        self.runtime_fallbacks = 0
        self.error: BaseException | None = None
        self.history: list[str] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        if fallback is None:
            self._target = build_target()
            self.ready.set()
            super().__init__(self._target)
            return
        super().__init__(fallback)
        # not a daemon: killed at interpreter exit in the middle of an XLA compile, it aborts the
        # process (C++ "exception not rethrown", rc 134); exit waits for the compile instead
        self._thread = threading.Thread(target=self._build, args=(build_target, warmup), daemon=False,
                                        name=f"arrayrt-auto-{target_name}")
        self._thread.start()

    def _build(self, build_target: Callable[[], HostRunner], warmup: list[np.ndarray] | None) -> None:
        try:
            target = build_target()
            if warmup is not None:  # trigger lazy (e.g. XLA) compilation before switching
                target(*warmup, *[None] * len(target.plan.state_ids))
            self._target = target
        except BaseException as exc:  # noqa: BLE001 - keep serving on the fallback, report later
            self.error = exc
        finally:
            self.ready.set()

    @property
    def execution_devices(self) -> list[str]:
        return [self._target.name] if self._target is not None else [self._fallback.name]

    def __call__(self, *args: Any) -> tuple:
        runner = self._target or self._fallback
        with self._lock:
            self.history.append(runner.name)
        if self._find_backup is None or runner is not self._target:
            return runner(*args)
        try:
            return runner(*args)
        except Exception as exc:  # noqa: BLE001 - any failure: run the request again elsewhere (inputs
            # that are wrong fail there too, and that error is raised)
            backup = self._backup_runner()
            if backup is None:
                raise
            with self._lock:
                self.history.append(backup.name)
                self.runtime_fallbacks += 1
            warnings.warn(f"AUTO: an inference failed on {runner.name} ({type(exc).__name__}: {exc}); "
                          f"it ran again on {backup.name}", stacklevel=2)
            return backup(*args)

    def _backup_runner(self) -> HostRunner | None:
        with self._backup_lock:
            if self._find_backup is not None and self._backup is None:
                self._backup = self._find_backup()
                if self._backup is None:
                    self._find_backup = None  # nothing to fall back to: failures raise from now on
            return self._backup


class MultiPlan(_PlanFacade):
    """MULTI / CUMULATIVE_THROUGHPUT: each request runs on the device with the fewest requests in
    flight (ties: the one that has run the fewest)."""

    def __init__(self, runners: list[HostRunner]):
        super().__init__(runners[0])
        self.runners = runners
        self.busy = [0] * len(runners)
        self.counts = [0] * len(runners)
        self._lock = threading.Lock()

    @property
    def execution_devices(self) -> list[str]:
        return [r.name for r in self.runners]

    def __call__(self, *args: Any) -> tuple:
        with self._lock:
            i = min(range(len(self.runners)), key=lambda k: (self.busy[k], self.counts[k], k))
            self.busy[i] += 1
            self.counts[i] += 1
        try:
            return self.runners[i](*args)
        finally:
            with self._lock:
                self.busy[i] -= 1


class _Pending:
    __slots__ = ("args", "event", "result", "error")

    def __init__(self, args: tuple):
        self.args = args
        self.event = threading.Event()
        self.result: tuple | None = None
        self.error: BaseException | None = None

    def get(self) -> tuple:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class BatchPlan(_PlanFacade):
    """BATCH:DEV(N): concurrent requests are gathered into batches of N along dimension 0 and run
    as one inference of the N-times-batched model; a request still alone after ``timeout`` seconds
    runs by itself on the unbatched model."""

    def __init__(self, batched: HostRunner, single: HostRunner, n: int, timeout: float):
        super().__init__(single)
        if single.plan.state_ids:
            raise CompileError("BATCH: stateful models cannot be batched")
        self.batched, self.single, self.n, self.timeout = batched, single, n, timeout
        self.batches_run = 0
        self.singles_run = 0
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()

    @property
    def execution_devices(self) -> list[str]:
        return [self.single.name]

    def __call__(self, *args: Any) -> tuple:
        entry = _Pending(args)
        with self._lock:
            self._pending.append(entry)
            batch = None
            if len(self._pending) >= self.n:
                batch, self._pending = self._pending[: self.n], self._pending[self.n:]
        if batch is not None:
            self._run_batch(batch)
            return entry.get()
        if entry.event.wait(self.timeout):
            return entry.get()
        with self._lock:
            alone = entry in self._pending
            if alone:
                self._pending.remove(entry)
        if alone:
            self.singles_run += 1
            return self.single(*args)
        entry.event.wait()
        return entry.get()

    def _run_batch(self, batch: list[_Pending]) -> None:
        try:
            n_in = self.single.plan.n_inputs
            joined = [np.concatenate([np.asarray(e.args[i]) for e in batch], axis=0) for i in range(n_in)]
            outs = self.batched(*joined)
            self.batches_run += 1
            splits = [np.split(np.asarray(o), len(batch), axis=0) for o in outs]
            for k, e in enumerate(batch):
                e.result = tuple(s[k] for s in splits)
        except BaseException as exc:  # noqa: BLE001 - every waiter sees the failure
            for e in batch:
                e.error = exc
        finally:
            for e in batch:
                e.event.set()


def batched_copy(model: Any, n: int) -> Any:
    """A copy of ``model`` whose inputs have ``n`` times their batch (dimension 0)."""
    from arrayrt.ir.model import clone_model
    from arrayrt.ir.shape import PartialShape

    work = clone_model(model)
    shapes = {}
    for i, p in enumerate(work.get_parameters()):
        ps = p.attrs["shape"]
        if not ps.rank_is_static or len(ps) == 0 or not ps[0].is_static:
            raise CompileError(f"BATCH: input '{p.friendly_name}' has no static batch dimension at index 0 "
                               f"(shape {ps})")
        dims = list(ps)
        shapes[i] = PartialShape([dims[0].get_length() * n, *dims[1:]])
    work.reshape(shapes)
    for r, orig in zip(work.get_results(), model.get_results()):
        got, want = r.output(0).get_partial_shape(), orig.output(0).get_partial_shape()
        if not (got.rank_is_static and want.rank_is_static and len(got) and got[0].is_static and want[0].is_static
                and got[0].get_length() == want[0].get_length() * n):
            raise CompileError(f"BATCH: output '{orig.friendly_name}' does not scale with the batch "
                               f"({want} -> {got})")
    return work

