"""The asv suite (``benchmarks/asv_suite``) in CI: every benchmark's setup and body run once, on
every backend present, with the models shrunk, so that a broken benchmark fails here without a
long asv run. Also the op coverage guard and asv's own discovery (``asv check``)."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from arrayrt.backends import BUILTIN, backend_class

ROOT = Path(__file__).resolve().parents[2]
CONF = json.loads((ROOT / "asv.conf.json").read_text())
SUITE = ROOT / CONF["benchmark_dir"]


def _suite():
    """Import the suite as asv does: its folder as a package of its own name."""
    if "asv_suite" not in sys.modules:
        spec = importlib.util.spec_from_file_location("asv_suite", SUITE / "__init__.py",
                                                      submodule_search_locations=[str(SUITE)])
        package = importlib.util.module_from_spec(spec)
        sys.modules["asv_suite"] = package
        spec.loader.exec_module(package)
    return importlib.import_module("asv_suite.ops"), importlib.import_module("asv_suite.models")


OPS, MODELS = _suite()
#: small enough to compile and run everywhere in seconds; the asv run uses the builders' defaults
SMALL = {"resnet18": {"size": 32, "classes": 10}, "mobilenet_v2": {"size": 32, "classes": 10},
         "bert_tiny": {"seq": 16, "layers": 1}}
PRESENT = [b for b in BUILTIN if backend_class(b) is not None]
BACKENDS = [pytest.param(b, marks=pytest.mark.slow) if b == "jax" else b for b in PRESENT]


#: what asv takes for a benchmark (its name prefixes)
PREFIXES = ("time_", "timeraw_", "mem_", "peakmem_", "track_")


def _benchmarks(cls: type) -> list[str]:
    return sorted(n for n in dir(cls) if n.startswith(PREFIXES) and callable(getattr(cls, n)))


def _legit_skip(exc: NotImplementedError) -> bool:
    text = str(exc)
    return "does not run this" in text or "is not available here" in text or text.startswith("known failure")


def test_asv_config():
    assert CONF["benchmark_dir"] == "benchmarks/asv_suite" and (SUITE / "__init__.py").exists()
    assert CONF["launch_method"] == "forkserver"  # one import of jax, not one per benchmark
    for key in ("env_dir", "results_dir", "html_dir"):
        assert CONF[key].startswith(".asv/")
    assert ".asv/" in (ROOT / ".gitignore").read_text().split()
    assert set(MODELS.Models.params[1]) == set(SMALL)  # every benchmark model is in the suite


def test_make_bench_runs_asv_and_publishes():
    bench_extra = re.search(r"^bench = \[(.*)\]", (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert '"asv>=' in bench_extra
    make = (ROOT / "Makefile").read_text()
    recipe = make.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert "asv machine --yes" in recipe  # no questions on a fresh machine
    assert "asv run --python=same --quick" in recipe and "asv publish" in recipe


def test_every_registered_op_type_has_a_benchmark(monkeypatch):
    assert OPS.uncovered_ops() == []
    assert OPS.track_uncovered_ops() == 0
    monkeypatch.delitem(OPS.CASES, "Add")
    assert OPS.uncovered_ops() == ["Add"]
    with pytest.raises(AssertionError, match=r"op types without a benchmark .*\['Add'\]"):
        OPS.track_uncovered_ops()


def test_these_tests_run_every_benchmark_asv_finds():
    """The run-once tests below call every benchmark of the classes they know; a module, class or
    function that asv would also find must be added to them (and here), or CI would not run it."""
    modules = {p.stem for p in SUITE.glob("*.py")}
    assert modules == {"__init__", "common", "models", "ops"}
    found = set()
    for module in (OPS, MODELS, importlib.import_module("asv_suite.common")):
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(obj):
                found |= {f"{name}.{b}" for b in _benchmarks(obj)}
            elif inspect.isfunction(obj) and name.startswith(PREFIXES):
                found.add(name)
    assert found == {"Models.time_infer", "Models.peakmem_infer", "Models.time_compile", "Ops.time_op",
                     "track_uncovered_ops"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_benchmarks_run_once(backend, monkeypatch):
    for name, kwargs in SMALL.items():
        monkeypatch.setitem(MODELS.MODEL_KWARGS, name, kwargs)
    ran = 0
    for model in MODELS.Models.params[1]:
        bench = MODELS.Models()
        try:
            bench.setup(backend, model)
        except NotImplementedError as exc:
            assert _legit_skip(exc), exc
            continue
        for name in _benchmarks(MODELS.Models):
            getattr(bench, name)(backend, model)
        ran += 1
    assert ran or backend == "gna"  # GNA runs none of the benchmark models whole


@pytest.mark.parametrize("backend", BACKENDS)
def test_op_benchmarks_run_once(backend):
    ran, skipped = 0, []
    for op in OPS.Ops.params[1]:
        bench = OPS.Ops()
        try:
            bench.setup(backend, op)
        except NotImplementedError as exc:
            assert _legit_skip(exc), (op, exc)
            skipped.append(op)
            continue
        for name in _benchmarks(OPS.Ops):
            getattr(bench, name)(backend, op)
        ran += 1
    assert ran >= (20 if backend == "gna" else 150), (ran, skipped)


@pytest.mark.parametrize("backend, op", sorted(k for k in OPS.KNOWN_FAILURES if k[0] in PRESENT))
def test_known_failures_still_fail(backend, op):
    """Each entry of KNOWN_FAILURES must still fail; when it passes, remove it."""
    from arrayrt.errors import UnsupportedOpError

    model, inputs = OPS.build(op)
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever the bug raises
        OPS.infer(OPS.compile_or_skip(model, backend, inputs), inputs)
    assert not isinstance(info.value, (NotImplementedError, UnsupportedOpError)), info.value


@pytest.mark.skipif(shutil.which("asv", path=str(Path(sys.executable).parent)) is None, reason="asv not installed")
def test_asv_discovers_the_suite():
    asv = shutil.which("asv", path=str(Path(sys.executable).parent))
    done = subprocess.run([asv, "check", "--python=same"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "No problems found" in done.stdout, done.stdout + done.stderr


def test_every_source_folder_goes_into_the_wheel():
    """``asv continuous`` installs each commit from a wheel, not editable: a folder of modules
    without ``__init__.py`` is left out of it by setup.py's ``find_packages`` (as
    ``arrayrt/runtime`` once was) and the suite then fails to import there."""
    tops = [ROOT / name for name in ("arrayrt", "ir", "backends", "tools")]  # setup.py's PACKAGE_DIR
    missing = sorted(str(d.relative_to(ROOT)) for top in tops for d in [top, *top.rglob("*")]
                     if d.is_dir() and "__pycache__" not in d.parts and any(d.glob("*.py"))
                     and not (d / "__init__.py").exists())
    assert missing == []
