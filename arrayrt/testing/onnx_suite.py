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


def suite_cases(module_name: str, device: str = "CPU", config: dict | None = None,
                expected: dict[str, str] | None = None, skipped: dict[str, str] | None = None) -> dict:
    """The suite's test classes for arrayrt ``device``, with ``expected`` (test name -> reason)
    marked as strict expected failures and ``skipped`` ones (random draws) not run;
    ``globals().update(...)`` them in a test module."""
    import re

    from arrayrt.onnx_backend import ArrayrtBackend

    backend = ArrayrtBackend if device == "CPU" and not config else ArrayrtBackend.for_device(device, config)
    suite = backend_test(backend, module_name)
    suite.exclude(r"_cuda$")
    for name in skipped or {}:
        suite.exclude("^" + re.escape(name) + "_cpu$")
    for name in expected or {}:
        suite.xfail("^" + re.escape(name) + "_cpu$")
    return suite.test_cases


def explain(device: str, names: list[str], config: dict | None = None) -> dict[str, str]:
    """Why each named case fails on ``device``: the first line of its error (for the expected
    failures list). Cases that pass map to "PASS"."""
    import glob

    import onnx.backend.test.runner as runner
    from onnx.backend.test import loader

    from arrayrt.onnx_backend import ArrayrtBackend

    backend = ArrayrtBackend.for_device(device, config)
    load = object.__new__(runner.Runner)._load_proto
    dirs = {p.name: p for p in (node_data_dir() / "node").iterdir()}
    for kind in ("simple", "pytorch-converted", "pytorch-operator"):
        for p in glob.glob(os.path.join(loader.DATA_DIR, kind, "*")):
            dirs.setdefault(os.path.basename(p), Path(p))
    out = {}
    for name in names:
        d = dirs.get(name)
        if d is None:
            out[name] = "unknown case"
            continue
        model = onnx.load(str(d / "model.onnx"))
        try:
            rep = backend.prepare(model, "CPU")
            for ds in sorted(d.glob("test_data_set*")):
                inputs: list = []
                refs: list = []
                for i in range(len(list(ds.glob("input_*.pb")))):
                    load(str(ds / f"input_{i}.pb"), inputs, model.graph.input[i].type)
                for i in range(len(list(ds.glob("output_*.pb")))):
                    load(str(ds / f"output_{i}.pb"), refs, model.graph.output[i].type)
                runner.Runner.assert_similar_outputs(refs, rep.run(inputs), 1e-3, 1e-7)
            out[name] = "PASS"
        except Exception as exc:  # noqa: BLE001 - the reason is what we are after
            out[name] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    return out


def node_case_dirs(exclude: "set[str] | dict[str, str]" = frozenset()) -> list[Path]:
    """The node cases' folders (with a first data set), but those named in ``exclude``."""
    root = node_data_dir() / "node"
    return [d for d in sorted(p for p in root.iterdir() if p.is_dir())
            if d.name not in exclude and (d / "test_data_set_0").is_dir()]


def read_tensors(folder: Path, kind: str) -> list | None:
    """A data set's tensor inputs or outputs in order; None if one is a sequence, map or optional."""
    from onnx import numpy_helper

    out = []
    for p in sorted(folder.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1])):
        proto = onnx.TensorProto()
        try:
            proto.ParseFromString(p.read_bytes())
            out.append(numpy_helper.to_array(proto))
        except Exception:  # noqa: BLE001 - not a TensorProto
            return None
    return out


def check_random_partition(case: Path, devices: "list[str] | tuple[str, ...]", seed: int = 0,
                           config: dict | None = None) -> str | None:
    """Place each node of node case ``case`` on a device drawn at random (seeded by the case name
    and ``seed``) among ``devices`` whose ``supports`` accepts it (the last device if none does),
    compile ``HETERO:<devices>``, and check that every node runs where it was placed and that the
    outputs are the suite's references at its tolerances (2 ulps for bf16, below whose resolution
    1e-3 lies: devices that round once and devices that round per step differ by one or two).
    Raises AssertionError on a difference; returns why nothing was checked (else None)."""
    import random
    import zlib

    import numpy as np

    import arrayrt as ar
    from arrayrt.ir.frontend.onnx import convert_onnx

    config = {"INFERENCE_PRECISION_HINT": "f32", **(config or {})}
    m = onnx.load(str(case / "model.onnx"))
    inputs, want = read_tensors(case / "test_data_set_0", "input"), read_tensors(case / "test_data_set_0", "output")
    if inputs is None or want is None or len(want) != len(m.graph.output):
        return "sequence, map or optional values: the priority-order HETERO suites compare those"
    core = ar.Core()
    model = convert_onnx(m)
    accepted = {d: set(core.query_model(model, d, config)) for d in devices}
    rng = random.Random(zlib.crc32(f"{case.name}/{seed}".encode()))
    placed = {}
    for n in model.get_ordered_ops():
        if n.type_name in ("Parameter", "Constant", "Result"):
            continue
        dev = rng.choice([d for d in devices if n.friendly_name in accepted[d]] or [devices[-1]])
        n.rt_info["affinity"] = placed[n.friendly_name] = dev
    if len(placed) < 2:
        return "one node after conversion: nothing to cut"
    compiled = core.compile_model(model, "HETERO:" + ",".join(devices), config)
    ran = {n.friendly_name: n.rt_info["device"] for n in compiled.get_runtime_model().get_ordered_ops()
           if n.friendly_name in placed and n.type_name not in ("ReadValue", "Assign", "Constant")}
    wrong = {k: (placed[k], v) for k, v in ran.items() if placed[k] != v}
    assert not wrong, f"nodes ran elsewhere than placed (placed, ran): {wrong}"
    got = compiled(inputs)
    for i, ref in enumerate(want):
        out = np.asarray(got[i])
        assert (out.dtype, out.shape) == (ref.dtype, ref.shape), \
            f"output {i}: {out.dtype}{out.shape}, expected {ref.dtype}{ref.shape}"
        if ref.dtype.kind in "fc" or ref.dtype.name.startswith(("float", "bfloat")):  # ml_dtypes' too
            wide = np.complex128 if ref.dtype.kind == "c" else np.float64
            rtol = 2.0 ** -6 if ref.dtype.name == "bfloat16" else 1e-3
            np.testing.assert_allclose(out.astype(wide), ref.astype(wide), rtol=rtol, atol=1e-7,
                                       err_msg=f"output {i}")
        else:
            np.testing.assert_array_equal(out, ref, err_msg=f"output {i}")
    return None


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="explain why ONNX suite cases fail on a device")
    ap.add_argument("--explain", metavar="DEVICE", required=True)
    ap.add_argument("names", nargs="+", help="case names (test_..., without _cpu), or @FILE")
    args = ap.parse_args(argv)
    names: list[str] = []
    for n in args.names:
        names += open(n[1:]).read().split() if n.startswith("@") else [n]
    for name, why in explain(args.explain, [n.removesuffix("_cpu") for n in names]).items():
        print(f"{name}\t{why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
