"""The op conformance suite also runs on the ``jax`` backend (device ``NPU``, f32 hint) when jax
imports (``arrayrt.testing.op_test_backends``); this file lists its expected failures there.

Graphs a backend refuses through ``supports`` skip inside ``check_op`` with its reason, as on
array_api_strict. What is left fails for a reason listed here: tests that call ``run_arrayrt``
directly (no refusal check) on a graph NPU refuses, and errors NPU does not raise by design. Like the
ONNX suite's lists, each entry is a strict expected failure: a listed test that passes fails the run,
so a fixed case must be removed. Keys are ``file::test`` (every jax variant) or the full
``file::test[params]``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from arrayrt.testing import op_test_backends

_REFUSED_NMS = ("NonMaxSuppression is refused by NPU's supports (its output shape depends on input values); "
                "the test runs it directly, so the refusal is an error instead of a skip")
_NO_INDEX_CHECK = ("NPU does not check index values: a compiled XLA program cannot raise on data, so an "
                   "out-of-range index drops its update where CPU raises (backends/jax/kernels.py)")
_REFUSED_SEQUENCE = ("a sequence whose elements are chosen by a value known only at inference (a position, an If "
                     "condition) is refused by NPU's supports; the test builds the plan directly, so the refusal is "
                     "an error")

#: test id (``file::test`` or ``file::test[params]``, jax variants only) -> reason
JAX_EXPECTED: dict[str, str] = {
    "test_detection.py::test_nms5": _REFUSED_NMS,
    "test_detection.py::test_nms_static_versions": _REFUSED_NMS,
    "test_detection.py::test_nms5_suppresses_at_threshold": _REFUSED_NMS,
    "test_indexing.py::test_scatter_update_rejects_negative_index": _NO_INDEX_CHECK,
    "test_indexing.py::test_scatter_elements_update_rejects_out_of_range": _NO_INDEX_CHECK,
    "test_indexing.py::test_scatter_nd_update_rejects_out_of_range": _NO_INDEX_CHECK,
    "test_indexing.py::test_topk_k_too_large": (
        "TopK with a runtime k is refused by NPU's supports (XLA needs k while compiling): the error is the "
        "refusal, not CPU's 'k outside' check"),
    "test_sequence.py::test_empty_sequence_and_types": _REFUSED_SEQUENCE,
    "test_sequence.py::test_sequence_parameters_and_if_outputs": _REFUSED_SEQUENCE,
    "test_sequence.py::test_tree_ensemble": (
        "TreeEnsemble walks its trees in Python on the feature values, so NPU's supports refuses it; the test "
        "builds the plan directly, so the refusal is an error"),
}


@pytest.fixture(params=op_test_backends())
def backend(request) -> str:
    """Every array backend of the op conformance suite (skips inside check_op when absent)."""
    return request.param


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.path.parent != here or callspec is None or callspec.params.get("backend") != "jax":
            continue
        name = item.nodeid.rsplit("/", 1)[-1]
        reason = JAX_EXPECTED.get(name) or JAX_EXPECTED.get(name.split("[", 1)[0])
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=f"NPU: {reason}", strict=True))
