"""The ONNX backend test suite, built from the installed onnx package (no download).

The onnx wheel ships the model cases (simple, pytorch-converted, pytorch-operator, light) but not
the node cases' data: :func:`node_data_dir` writes those from ``collect_testcases()`` once per onnx
version into a cache folder, in the layout ``onnx.backend.test`` reads. :func:`backend_test` then
returns an ``onnx.backend.test.BackendTest`` over arrayrt whose node cases come from there.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import onnx

CATEGORIES = {
    "OnnxBackendNodeModelTest": "node",
    "OnnxBackendSimpleModelTest": "simple",
    "OnnxBackendPyTorchConvertedModelTest": "pytorch-converted",
    "OnnxBackendPyTorchOperatorModelTest": "pytorch-operator",
    "OnnxBackendRealModelTest": "light",
}


def cache_root() -> Path:
    base = os.environ.get("ARRAYRT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "arrayrt")
    return Path(base)


def node_data_dir() -> Path:
    """A folder ``<dir>/node/<case>/{model.onnx, test_data_set_N/}`` for every node case."""
    target = cache_root() / f"onnx-{onnx.__version__}-data"
    if (target / "node" / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="onnx-data-", dir=target.parent))
    _write_node_cases(tmp / "node")
    (tmp / "node" / ".complete").write_text("ok")
    try:
        os.rename(tmp, target)
    except OSError:  # another worker finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_node_cases(root: Path) -> None:
    from onnx import numpy_helper
    from onnx.backend.test.case import node

    for case in node.collect_testcases():
        d = root / case.name
        d.mkdir(parents=True)
        (d / "model.onnx").write_bytes(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = d / f"test_data_set_{i}"
            ds.mkdir()
            for kind, values, infos in (("input", inputs, case.model.graph.input),
                                         ("output", outputs, case.model.graph.output)):
                for j, value in enumerate(values):
                    info = infos[j]
                    if info.type.HasField("sequence_type"):
                        proto = numpy_helper.from_list(value, info.name)
                    elif info.type.HasField("optional_type"):
                        proto = numpy_helper.from_optional(value, info.name)
                    elif info.type.HasField("map_type"):
                        proto = numpy_helper.from_dict(value, info.name)
                    elif isinstance(value, onnx.TensorProto):
                        proto = value
                    else:
                        proto = numpy_helper.from_array(value, info.name)
                    (ds / f"{kind}_{j}.pb").write_bytes(proto.SerializeToString())


def backend_test(backend, module_name: str):
    """``onnx.backend.test.BackendTest`` over ``backend`` with the node cases from the cache."""
    import onnx.backend.test.runner as runner
    from onnx.backend.test import loader

    data = node_data_dir()
    original = runner.load_model_tests

    def load(data_dir: str = loader.DATA_DIR, kind: str | None = None):
        if kind == "node":
            return loader.load_model_tests(data_dir=str(data), kind="node")
        return original(data_dir=data_dir, kind=kind)

    os.environ.setdefault("ONNX_HOME", str(cache_root() / "onnx-home"))
    runner.load_model_tests = load
    try:
        return onnx.backend.test.BackendTest(backend, module_name)
    finally:
        runner.load_model_tests = original
