"""Per-category summary of the ONNX backend suite, printed at the end of the run and written as
JSON to ``$ARRAYRT_ONNX_SUITE_REPORT`` when that is set."""
from __future__ import annotations

import json
import os
from collections import Counter

from arrayrt.testing.onnx_suite import CATEGORIES


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts: dict[str, Counter] = {}
    for outcome, reports in terminalreporter.stats.items():
        for rep in reports:
            nodeid = getattr(rep, "nodeid", "")
            when = getattr(rep, "when", None)
            if "test_backend_suite.py" not in nodeid or when not in ("call", "setup"):
                continue
            if when == "setup" and outcome not in ("skipped", "error"):
                continue
            cls = nodeid.split("::")[1] if nodeid.count("::") >= 2 else "?"
            counts.setdefault(CATEGORIES.get(cls, cls), Counter())[outcome] += 1
    if not counts:
        return
    tr = terminalreporter
    tr.write_sep("=", "ONNX backend suite by category")
    cols = ("passed", "failed", "xfailed", "xpassed", "skipped", "error")
    tr.write_line(f"{'category':20s}" + "".join(f"{c:>9s}" for c in cols) + f"{'total':>8s}")
    total = Counter()
    for cat in list(CATEGORIES.values()) + sorted(set(counts) - set(CATEGORIES.values())):
        c = counts.get(cat)
        if not c:
            continue
        total.update(c)
        tr.write_line(f"{cat:20s}" + "".join(f"{c[k]:9d}" for k in cols) + f"{sum(c.values()):8d}")
    tr.write_line(f"{'all':20s}" + "".join(f"{total[k]:9d}" for k in cols) + f"{sum(total.values()):8d}")
    path = os.environ.get("ARRAYRT_ONNX_SUITE_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({cat: dict(c) for cat, c in counts.items()}, f, indent=2)
