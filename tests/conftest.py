"""Shared fixtures (the array backends the op suite runs on) and the per-category summary of the
ONNX backend suite, printed at the end of the run and written as JSON to
``$ARRAYRT_ONNX_SUITE_REPORT`` when that is set. The summary lives here, in the root conftest,
because under xdist only the controller prints and it loads no sub-folder conftest."""
from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from arrayrt.testing import TEST_BACKENDS, silence_openvino_telemetry
from arrayrt.testing.onnx_suite import CATEGORIES

silence_openvino_telemetry()  # before any test module imports openvino (see its docstring)


@pytest.fixture(params=TEST_BACKENDS)
def backend(request) -> str:
    """Every array backend of the op conformance suite (skips inside check_op when absent)."""
    return request.param


#: suite module -> the device it runs on
DEVICES = {"test_backend_suite.py": "CPU", "test_backend_suite_strict.py": "STRICT",
           "test_backend_suite_npu.py": "NPU", "test_backend_suite_hetero_npu.py": "HETERO:NPU,CPU",
           "test_backend_suite_hetero_gna.py": "HETERO:GNA,CPU"}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts: dict[str, Counter] = {}
    for outcome, reports in terminalreporter.stats.items():
        for rep in reports:
            nodeid = getattr(rep, "nodeid", "")
            when = getattr(rep, "when", None)
            module = nodeid.split("::")[0].rsplit("/", 1)[-1]
            if not module.startswith("test_backend_suite") or when not in ("call", "setup"):
                continue
            if nodeid.endswith("_cuda"):  # the suite's CUDA variants: excluded, not counted
                continue
            if when == "setup" and outcome not in ("skipped", "error"):
                continue
            device = DEVICES.get(module, module)
            cls = nodeid.split("::")[1] if nodeid.count("::") >= 2 else "?"
            counts.setdefault((device, CATEGORIES.get(cls, cls)), Counter())[outcome] += 1
    if not counts:
        return
    tr = terminalreporter
    cols = ("passed", "failed", "xfailed", "xpassed", "skipped", "error")
    report = {}
    for device in sorted({d for d, _ in counts}, key=lambda d: (d != "CPU", d)):
        tr.write_sep("=", f"ONNX backend suite on {device}, by category")
        tr.write_line(f"{'category':20s}" + "".join(f"{c:>9s}" for c in cols) + f"{'total':>8s}")
        total = Counter()
        cats = [c for d, c in counts if d == device]
        for cat in [c for c in CATEGORIES.values() if c in cats] + sorted(set(cats) - set(CATEGORIES.values())):
            c = counts[(device, cat)]
            total.update(c)
            report[f"{device}/{cat}"] = dict(c)
            tr.write_line(f"{cat:20s}" + "".join(f"{c[k]:9d}" for k in cols) + f"{sum(c.values()):8d}")
        tr.write_line(f"{'all':20s}" + "".join(f"{total[k]:9d}" for k in cols) + f"{sum(total.values()):8d}")
    path = os.environ.get("ARRAYRT_ONNX_SUITE_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)
