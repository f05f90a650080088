"""``make gpu-check`` (tools/gpu_check.py): its pytest plugin, its verdicts and its table."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from arrayrt.tools import gpu_check

import arrayrt as ar
import arrayrt.opset as ops

ROOT = Path(__file__).resolve().parents[3]


def test_parse_summary():
    out = "....\nFAILED tests/x.py::t - boom\n== 3 failed, 120 passed, 4 skipped, 1 error in 9.10s ==\n"
    assert gpu_check.parse_summary(out) == {"failed": 3, "passed": 120, "skipped": 4, "error": 1}
    assert gpu_check.parse_summary("12 passed in 0.5s") == {"passed": 12}
    assert gpu_check.parse_summary("no summary here") == {}


def _row(model, batch, precision, lat=0.9, tput=1.0, **extra):
    return {"model": model, "batch": batch, "precision": precision, "latency_ratio": lat,
            "throughput_ratio": tput, **extra}


def test_judge_applies_the_issues_bars():
    good = [_row("resnet18", 1, "f16", lat=0.8), _row("resnet18", 64, "f16", tput=0.85)]
    assert gpu_check.judge(good)["ok"]
    slow = good + [_row("bert_tiny", 1, "f32", lat=1.2), _row("bert_tiny", 64, "f32", lat=3.0, tput=0.5)]
    verdict = gpu_check.judge(slow)
    assert not verdict["ok"]
    assert "bert_tiny b1 f32 latency 1.20x" in verdict["detail"]
    assert "bert_tiny b64 f32 throughput 0.50x" in verdict["detail"]
    assert not gpu_check.judge([{"model": "m", "batch": 1, "precision": "f32", "error": "x"}])["ok"]
    assert not gpu_check.judge([])["ok"]


def test_a_benchmark_cut_short_keeps_its_rows(monkeypatch):
    """The benchmark writes its JSON after every row: a timeout still reports what was measured."""
    import json

    def cut_short(cmd, **kw):
        out = Path(cmd[cmd.index("--json") + 1])
        out.write_text(json.dumps({"device": "Fake", "rows": [_row("resnet18", 1, "f32", lat=0.5)]}))
        raise subprocess.TimeoutExpired(cmd, kw["timeout"], output=b"resnet18 1 f32 | 0.500")

    monkeypatch.setattr(gpu_check.subprocess, "run", cut_short)
    stage = gpu_check.benchmark_stage(10, 3, False)
    assert not stage.ok
    assert stage.detail.startswith("timed out after 10 s after 1 row(s)")
    assert stage.data["rows"][0]["latency_ratio"] == 0.5 and "0.500" in stage.data["table"]


def test_summary_table():
    text = gpu_check.summary([gpu_check.Stage("environment", True, 0.5, "Fake GPU"),
                              gpu_check.Stage("models", False, 12.0, "8/9 models within tolerance")])
    lines = text.splitlines()
    assert lines[0].split() == ["stage", "result", "seconds", "detail"]
    assert "PASS" in lines[2] and "FAIL" in lines[3] and "12.0" in lines[3]


def test_environment_reports_the_device(gpu):
    stage = gpu_check.environment()
    assert stage.ok and "Fake GPU (x2), CuPy fake" in stage.detail


def test_the_plugin_points_the_op_suite_at_the_gpu():
    env = dict(os.environ, ARRAYRT_GPU_CHECK="GPU")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "arrayrt.tools.gpu_check",
           "--collect-only", "tests/ops/test_eltwise.py"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    ids = [ln for ln in proc.stdout.splitlines() if "::" in ln]
    assert ids and all("[cupy" in ln or "cupy-" in ln or "cupy]" in ln for ln in ids if "[" in ln)
    assert not any("numpy-" in ln or "[numpy" in ln for ln in ids)


def test_the_hetero_runner_compiles_for_hetero(gpu):
    calls = []
    runner = gpu_check._hetero_runner("HETERO:GPU,CPU", lambda *a: calls.append(a))
    x = ops.parameter([2, 3], np.float32, name="x")
    model = ar.Model([ops.relu(ops.multiply(x, np.float32(2)))], [x])
    data = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(runner(model, [data], "cupy")[0], np.maximum(2 * data, 0))
    runner(model, [data], "numpy")
    assert len(calls) == 1  # other backends go to the original runner


def test_junit_failures_tell_refusals_from_failures(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite><testcase classname="tests.ops.test_x" name="test_a[cupy]">'
        '<failure message="UnsupportedOpError: layer name=\'n\', type=NonZero cannot run on GPU (cupy): ...">'
        "</failure></testcase>"
        '<testcase classname="tests.ops.test_x" name="test_b[cupy]"><failure message="AssertionError">'
        "values differ</failure></testcase>"
        '<testcase classname="tests.ops.test_x" name="test_c[cupy]"/></testsuite></testsuites>')
    failures = gpu_check.junit_failures(report)
    assert set(failures) == {"tests.ops.test_x::test_a[cupy]", "tests.ops.test_x::test_b[cupy]"}
    assert gpu_check.REFUSED in failures["tests.ops.test_x::test_a[cupy]"]
    assert gpu_check.REFUSED not in failures["tests.ops.test_x::test_b[cupy]"]
