"""``make gpu-check``: the GPU device checked end to end on this machine's NVIDIA GPU, in one command.

    python -m arrayrt.tools.gpu_check [--budget 290] [--quick] [--skip-bench] [--jobs N] [--json out.json]

Stages, each within its share of ``--budget`` seconds (default 290: the whole check stays under
5 minutes), none touching the network:

1. *environment*: CuPy, the CUDA device, cuDNN, PyTorch, jax's GPU platform.
2. *backend tests*: ``tests/backends/gpu`` (its real-GPU tests run here).
3. *conformance GPU*: the op suite ``tests/ops`` with ``cupy`` as its only array backend.
4. *conformance HETERO:GPU,CPU*: the op families where GPU refuses nodes (control flow, indexing,
   sequences, detection), ``check_op`` compiling for ``HETERO:GPU,CPU``.
5. *models*: every interop model and the benchmark models (small) on ``GPU`` at the f32 hint
   against CPU (CPU's tolerances), at the default f16 (error relative to the output's range), and
   on ``HETERO:GPU,CPU``.
6. *benchmark*: ``benchmarks/gpu_vs_torch.py`` (ResNet-18 and BERT-tiny-like, batch 1 and 64, f32
   and f16, against PyTorch eager), judged by the issue's bars: batch-1 latency <= 1.0x PyTorch,
   batch-64 throughput >= 0.8x.

Then one summary table; the exit status is 0 only when every stage passed. Stages 3 and 4 run pytest
with this module as a plugin (``-p arrayrt.tools.gpu_check``, ``ARRAYRT_GPU_CHECK`` naming the
device), which points ``arrayrt.testing`` at the GPU before the suite's conftest is read.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HETERO = "HETERO:GPU,CPU"
#: op families whose tests meet nodes GPU refuses: where HETERO has work to do
HETERO_FAMILIES = ("test_control.py", "test_indexing.py", "test_sequence.py", "test_detection.py")
#: share of the budget each stage may use (the rest carries over)
SHARES = {"backend tests": 0.15, "conformance GPU": 0.35, f"conformance {HETERO}": 0.12, "models": 0.1,
          "benchmark": 0.35}
LATENCY_BAR, THROUGHPUT_BAR = 1.0, 0.8


@dataclass
class Stage:
    name: str
    ok: bool
    seconds: float
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


# --- pytest plugin: the op suite on GPU or HETERO:GPU,CPU ---------------------------------------------
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> None:
    """Run ``arrayrt.testing``'s op conformance on the device ``ARRAYRT_GPU_CHECK`` names."""
    device = os.environ.get("ARRAYRT_GPU_CHECK")
    if not device:
        return
    import arrayrt.testing as testing

    testing.TEST_BACKENDS = ("cupy",)
    if device.upper().startswith("HETERO"):
        testing.run_arrayrt = _hetero_runner(device, testing.run_arrayrt)
        testing.unsupported_reason = lambda model, backend: None  # CPU takes what GPU refuses


def _hetero_runner(device: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def run_arrayrt(model: Any, inputs: Sequence[Any], backend: str = "numpy", config: dict | None = None):
        if backend != "cupy":
            return original(model, inputs, backend, config)
        import numpy as np

        import arrayrt

        config = {"INFERENCE_PRECISION_HINT": "f32", **(config or {})}
        compiled = arrayrt.Core().compile_model(model, device, config)
        res = compiled(list(inputs))
        return [np.asarray(res[i]) for i in range(len(compiled.outputs))]
    return run_arrayrt


# --- stages -----------------------------------------------------------------------------------------
def _cudnn_fact(cudnn: Any, cp: Any) -> str | None:
    """Which cuDNN the GPU backend's convolutions use: cupyx's, or the library through arrayrt's
    binding (version, file, and its self-test on GPU.0); None when neither."""
    if cudnn is None:
        return None
    if getattr(cudnn, "__name__", "") == "cupyx.cudnn":
        return "cupyx.cudnn"
    with cp.cuda.Device(0):
        problem = cudnn.self_test()
    return f"{cudnn!r}, " + ("self-test passed" if problem is None else f"self-test FAILED ({problem}): im2col")


def environment() -> Stage:
    start = time.perf_counter()
    facts: dict[str, Any] = {}
    try:
        from arrayrt import backends

        cls = backends.backend_class("cupy")
        if cls is None:
            return Stage("environment", False, time.perf_counter() - start,
                         f"no GPU device: {backends.errors.get('cupy', 'CuPy is not installed')}")
        cp = cls.cupy()
        props = cp.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        libs = cls.libraries(cp)
        facts = {"device": name, "devices": cp.cuda.runtime.getDeviceCount(), "cupy": cp.__version__,
                 "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
                 "cudnn": _cudnn_fact(libs["cudnn"], cp), "native_erf": libs["erf"] is not None}
    except Exception as exc:  # noqa: BLE001 - report, do not crash the check
        return Stage("environment", False, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    for module in ("torch", "jax"):
        try:
            mod = __import__(module)
            facts[module] = mod.__version__
        except ImportError:
            facts[module] = None
    detail = (f"{facts['device']} (x{facts['devices']}), CuPy {facts['cupy']}, CUDA runtime "
              f"{facts['cuda_runtime']}, convolutions on {facts['cudnn'] or 'im2col + cuBLAS (no cuDNN)'}, "
              f"erf {'cupyx' if facts['native_erf'] else 'rational (no cupyx.scipy.special)'}, torch {facts['torch']}, "
              f"jax {facts['jax']}")
    return Stage("environment", True, time.perf_counter() - start, detail, facts)


_SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|error|errors|xfailed|xpassed|deselected)")


def run_pytest_stage(name: str, targets: Sequence[str], timeout: float, jobs: int, device: str | None = None,
                 extra: Sequence[str] = ()) -> Stage:
    """Run pytest on ``targets`` in a subprocess. A test that fails because GPU refuses a node
    (``cannot run on GPU``: its ``supports`` answer, which HETERO honours) counts as *refused*; the
    stage passes when nothing else failed or errored."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
               *targets, *extra]
        if jobs > 1:
            cmd += ["-n", str(jobs)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if device:
            cmd[3:3] = ["-p", "arrayrt.tools.gpu_check"]
            env["ARRAYRT_GPU_CHECK"] = device
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=max(timeout, 5))
        except subprocess.TimeoutExpired:
            return Stage(name, False, time.perf_counter() - start, f"timed out after {timeout:.0f} s")
        failures = junit_failures(report) if report.exists() else {}
    counts = parse_summary(proc.stdout)
    refused = sorted(t for t, text in failures.items() if REFUSED in text)
    failing = sorted(t for t in failures if t not in refused)
    if refused:
        counts["refused"] = len(refused)
        counts["failed"] = max(counts.get("failed", 0) - len(refused), 0)
    ok = proc.returncode in (0, 1, 5) and not failing and (bool(counts) or proc.returncode == 5)
    detail = ", ".join(f"{v} {k}" for k, v in counts.items()) or f"pytest exited {proc.returncode}"
    if failing:
        detail += "; " + "; ".join(failing[:5]) + (" ..." if len(failing) > 5 else "")
    # the end of each failure's text (the assertion and where), so a report read later says why
    why = {t: failures[t][-1500:] for t in failing[:20]}
    return Stage(name, ok, time.perf_counter() - start, detail, {**counts, "refused_tests": refused,
                                                                  "failing_tests": failing, "failures": why})


#: the message of a node GPU's supports refuses
REFUSED = "cannot run on GPU (cupy)"


def junit_failures(path: Path) -> dict[str, str]:
    """test id -> failure or error text, from pytest's JUnit XML report."""
    import xml.etree.ElementTree as ET

    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            test = f"{case.get('classname', '')}::{case.get('name', '')}"
            out[test] = out.get(test, "") + (bad.get("message") or "") + (bad.text or "")
    return out


def parse_summary(text: str) -> dict[str, int]:
    """pytest's closing counts (``3 failed, 120 passed, 4 skipped in 9.1s``)."""
    for line in reversed(text.strip().splitlines()):
        found = _SUMMARY.findall(line)
        if found and (" in " in line or line.startswith("=")):
            return {kind: int(n) for n, kind in found}
    return {}


def models_stage(timeout: float) -> Stage:
    """Interop and (small) benchmark models: GPU f32 and f16, HETERO:GPU,CPU, against CPU f32."""
    import numpy as np

    import arrayrt as ar
    import arrayrt.opset as ops
    from arrayrt.testing import models as M

    start = time.perf_counter()
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    builds = [(n, b, {}) for n, b in M.INTEROP_MODELS.items()]
    builds += [("resnet18", M.resnet18, {"size": 64}), ("mobilenet_v2", M.mobilenet_v2, {"size": 64}),
               ("bert_tiny", M.bert_tiny, {"seq": 32})]
    rows, ok = [], True
    for name, build, kw in builds:
        if time.perf_counter() - start > timeout:
            rows.append({"model": name, "error": "out of time"})
            ok = False
            continue
        try:
            model = M.make_model(ops, build, name, **kw)
            inputs = M.sample_inputs(model)
            ref = np.asarray(ar.Core().compile_model(model, "CPU", f32)(inputs)[0], np.float64)
            row: dict[str, Any] = {"model": name}
            runs = (("gpu_f32", "GPU", f32), ("gpu_f16", "GPU", {}), ("hetero_f32", HETERO, f32))
            for label, device, cfg in runs:
                got = np.asarray(ar.Core().compile_model(model, device, cfg)(inputs)[0], np.float64)
                row[label] = float(np.abs(got - ref).max())
            scale = float(np.abs(ref).max()) or 1.0
            row["f16_relative"] = row["gpu_f16"] / scale
            row["ok"] = (np.isfinite(row["gpu_f16"]) and row["gpu_f32"] <= 1e-4 + 1e-4 * scale
                         and row["hetero_f32"] <= 1e-4 + 1e-4 * scale and row["f16_relative"] <= 2e-2)
        except Exception as exc:  # noqa: BLE001 - one model's failure is a row, not a crash
            row = {"model": name, "error": f"{type(exc).__name__}: {exc}"[:160], "ok": False}
        ok = ok and row["ok"]
        rows.append(row)
    bad = [r["model"] for r in rows if not r.get("ok")]
    detail = f"{len(rows) - len(bad)}/{len(rows)} models within tolerance"
    if bad:
        detail += f"; failing: {', '.join(bad)}"
    return Stage("models", ok, time.perf_counter() - start, detail, {"rows": rows})


def benchmark_stage(timeout: float, runs: int, npu: bool) -> Stage:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_vs_torch.py"), "--runs", str(runs),
               "--warmup", "3", "--json", str(out)] + (["--npu"] if npu else [])
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=max(timeout, 5))
        except subprocess.TimeoutExpired as exc:
            partial = json.loads(out.read_text()) if out.exists() else {"rows": []}
            detail = f"timed out after {timeout:.0f} s"
            if partial["rows"]:
                detail += f" after {len(partial['rows'])} row(s): {judge(partial['rows'])['detail']}"
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return Stage("benchmark", False, time.perf_counter() - start, detail, {**partial, "table": stdout})
        if not out.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            return Stage("benchmark", False, time.perf_counter() - start, " | ".join(tail))
        result = json.loads(out.read_text())
    verdict = judge(result["rows"])
    return Stage("benchmark", verdict["ok"], time.perf_counter() - start, verdict["detail"],
                 {**result, "table": proc.stdout})


def judge(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The issue's bars: batch 1 latency ratio <= 1.0, batch 64 throughput ratio >= 0.8."""
    misses, errors = [], []
    for r in rows:
        tag = f"{r['model']} b{r['batch']} {r['precision']}"
        if "error" in r:
            errors.append(tag)
        elif r["batch"] == 1 and r["latency_ratio"] > LATENCY_BAR:
            misses.append(f"{tag} latency {r['latency_ratio']:.2f}x")
        elif r["batch"] > 1 and r["throughput_ratio"] < THROUGHPUT_BAR:
            misses.append(f"{tag} throughput {r['throughput_ratio']:.2f}x")
    detail = f"{len(rows) - len(misses) - len(errors)}/{len(rows)} configurations meet the bars"
    if misses:
        detail += "; missed: " + ", ".join(misses)
    if errors:
        detail += "; errors: " + ", ".join(errors)
    return {"ok": not misses and not errors and bool(rows), "detail": detail}


def summary(stages: Sequence[Stage]) -> str:
    width = max(len(s.name) for s in stages)
    lines = [f"{'stage':<{width}}  result  seconds  detail", "-" * (width + 60)]
    for s in stages:
        lines.append(f"{s.name:<{width}}  {'PASS' if s.ok else 'FAIL':<6}  {s.seconds:>7.1f}  {s.detail}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    deadline = time.perf_counter() + args.budget
    stages = [environment()]
    print(f"environment: {stages[0].detail}", flush=True)
    if not stages[0].ok:
        print(summary(stages))
        return 1

    def share(name: str) -> float:
        left = deadline - time.perf_counter()
        active = [k for k in SHARES if k != "benchmark" or not args.skip_bench]
        later = sum(SHARES[k] for k in active[active.index(name):])
        return max(left * SHARES[name] / later, 10.0)

    quick = ["-m", "not slow"] if args.quick else []
    plan: list[tuple[str, Callable[[], Stage]]] = [
        ("backend tests", lambda: run_pytest_stage("backend tests", ["tests/backends/gpu"],
                                               share("backend tests"), min(4, args.jobs))),
        ("conformance GPU", lambda: run_pytest_stage("conformance GPU", ["tests/ops"], share("conformance GPU"),
                                                 args.jobs, "GPU", quick)),
        (f"conformance {HETERO}", lambda: run_pytest_stage(
            f"conformance {HETERO}", [f"tests/ops/{f}" for f in HETERO_FAMILIES],
            share(f"conformance {HETERO}"), args.jobs, HETERO, quick)),
        ("models", lambda: models_stage(share("models"))),
    ]
    if not args.skip_bench:
        runs = 10 if args.quick else 30
        plan.append(("benchmark", lambda: benchmark_stage(share("benchmark"), runs, args.npu)))
    for name, stage in plan:
        result = stage()
        stages.append(result)
        verdict = "PASS" if result.ok else "FAIL"
        print(f"{name}: {verdict} ({result.seconds:.0f} s) {result.detail}", flush=True)
    bench = next((s for s in stages if s.name == "benchmark"), None)
    if bench is not None and bench.data.get("table"):
        print(bench.data["table"].rstrip())
    print(summary(stages))
    if args.json:
        Path(args.json).write_text(json.dumps([s.__dict__ for s in stages], indent=1, default=str))
    return 0 if all(s.ok for s in stages) else 1


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=290.0, help="seconds for the whole check (default 290)")
    p.add_argument("--quick", action="store_true", help="skip slow tests, fewer benchmark runs")
    p.add_argument("--skip-bench", action="store_true", help="no benchmark stage")
    p.add_argument("--npu", action="store_true", help="benchmark NPU (jax) too when jax has a GPU platform")
    p.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1), help="pytest workers (xdist)")
    p.add_argument("--json", default=None, help="write the stages as JSON here")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
