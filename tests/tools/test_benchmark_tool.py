"""``arrayrt benchmark``: benchmark_app's flags, steps and output lines, counters and reports."""
from __future__ import annotations

import argparse
import json
import re
from importlib import resources

import numpy as np
import pytest
from arrayrt.backends import device_backends
from arrayrt.tools import benchmark

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.errors import ArrayrtError, InferenceInputError
from arrayrt.testing.models import make_model, resnet_block

DIGITS = str(resources.files("arrayrt") / "models" / "digits" / "digits_cnn.xml")  # input image [?,1,8,8]


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    """A ResNet basic block (1x32x16x16): about a millisecond of convolutions per inference."""
    path = tmp_path_factory.mktemp("m") / "block.xml"
    ar.save_model(make_model(ops, resnet_block, "block"), path, compress_to_fp16=False)
    return str(path)


def run(capsys, *argv):
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    code = benchmark.run(parser.parse_args([str(a) for a in argv]))
    out = capsys.readouterr()
    return code, out.out, out.err


def parse(out: str) -> dict:
    """Read the output as scripts read benchmark_app's."""
    latency = dict(re.findall(r"\[ INFO \]\s+(Median|Average|Min|Max|\d+ percentile):\s+([\d.]+) ms", out))
    return {"count": int(re.search(r"\[ INFO \] Count:\s+(\d+) iterations", out).group(1)),
            "duration": float(re.search(r"\[ INFO \] Duration:\s+([\d.]+) ms", out).group(1)),
            "latency": {k: float(v) for k, v in latency.items()},
            "fps": float(re.search(r"\[ INFO \] Throughput:\s+([\d.]+) FPS", out).group(1)),
            "steps": [int(s) for s in re.findall(r"^\[Step (\d+)/11\] ", out, re.M)]}


def test_output_parses_like_benchmark_app(capsys):
    code, out, err = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "25")
    assert code == 0
    r = parse(out)
    assert r["steps"] == list(range(1, 12))
    assert r["count"] == 25 and r["duration"] > 0 and r["fps"] > 0
    assert set(r["latency"]) == {"Median", "Average", "Min", "Max"}
    assert r["latency"]["Min"] <= r["latency"]["Median"] <= r["latency"]["Max"]
    assert "[Step 10/11] Measuring performance (Start inference synchronously, 1 inference requests, " \
           "limits: 25 iterations)" in out
    assert "[ INFO ] Execution Devices:['CPU']" in out
    assert "input 'image' has a dynamic shape [?,1,8,8]: filled as [1,1,8,8]" in out
    assert err == ""  # no progress bar unless stderr is a terminal or -progress


def test_percentile_and_async(capsys):
    code, out, _ = run(capsys, "-m", DIGITS, "-hint", "throughput", "-nireq", "2", "-niter", "30",
                       "-latency_percentile", "90")
    r = parse(out)
    assert code == 0 and r["count"] == 30 and set(r["latency"]) == {"90 percentile", "Average", "Min", "Max"}
    assert "(Start inference asynchronously, 2 inference requests, limits: 30 iterations)" in out


def test_benchmark_app_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 11)]
    assert benchmark.percentile(values, 50) == 5.0
    assert benchmark.percentile(values, 90) == 9.0
    assert benchmark.percentile(values, 100) == 10.0
    assert benchmark.percentile(values, 1) == 1.0


@pytest.mark.parametrize("api", ["sync", "async"])
def test_counters_add_up_to_the_latency(capsys, block, api):
    """Per-node times are averaged over the same inferences as the latency; their sum is the
    plan's compute, the latency adds input checks and the outputs' copy: within 10%. The block
    runs at 48x48 (about 10 ms a call) so that a thread switch is small beside it; on a loaded
    machine a preempted hand-over can still push one run's average out, so up to three runs."""
    gaps = []
    for _ in range(3):
        code, out, _ = run(capsys, "-m", block, "-hint", "latency", "-api", api, "-nireq", "1", "-niter", "30",
                           "-shape", "x[1,32,48,48]", "-pc")
        assert code == 0 and "[ INFO ] Performance counts (average over 30 inferences)" in out
        total = float(re.search(r"^Total time:\s+([\d.]+) milliseconds", out, re.M).group(1))
        average = parse(out)["latency"]["Average"]
        gaps.append((total, average))
        if abs(total - average) <= 0.1 * average:
            break
    else:
        pytest.fail(f"(sum of counters, average latency) in ms, three runs: {gaps}")
    assert total <= average * 1.01  # the counters time a part of each inference


def test_counter_rows_are_sorted_and_name_exec_type_and_device(capsys, block):
    row = re.compile(r"^(\S+)\s+Status\.(\w+)\s+layerType: (\S+)\s+execType: (\S+)\s+device: (\S+)\s+"
                     r"realTime \(ms\): ([\d.]+)\s+cpuTime \(ms\): ([\d.]+)\s+([\d.]+)%$", re.M)
    _, out, _ = run(capsys, "-m", block, "-hint", "latency", "-niter", "5", "-pc")
    rows = row.findall(out)
    # the block's three convolutions, each fused with its bias, the residual sum and Relu (numpy backend)
    assert len(rows) >= 3 and "numpy_fused_conv_bias_residual_relu" in {r[3] for r in rows}
    times = [float(r[5]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert {r[4] for r in rows} == {"CPU"} and all(r[3].startswith("numpy_") for r in rows)
    assert sum(float(r[7]) for r in rows) == pytest.approx(100, abs=0.1)
    _, out, _ = run(capsys, "-m", block, "-hint", "latency", "-niter", "5", "-pc", "-pcsort", "no_sort")
    names = [r[0] for r in row.findall(out)]
    order = [n.friendly_name for n in ar.Core().read_model(block).get_ordered_ops()]
    assert [order.index(n) for n in names if n in order] == sorted(order.index(n) for n in names if n in order)


def test_reports_csv_and_json(capsys, tmp_path):
    folder = tmp_path / "new" / "reports"  # created: benchmark_app fails on a missing folder
    code, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "10", "-report_type", "average_counters",
                       "-report_folder", folder)
    assert code == 0
    text = (folder / "benchmark_report.csv").read_text()
    sections = [s.splitlines()[0] for s in text.strip().split("\n\n")]
    assert sections == ["Command line parameters", "Configuration setup", "Execution results"]
    assert "-report_type;average_counters" in text and "total number of iterations;10" in text
    counters = [line for line in (folder / "benchmark_average_counters_report.csv").read_text().splitlines() if line]
    assert counters[0] == "layerName;execStatus;layerType;execType;device;realTime (ms);cpuTime (ms)"
    assert counters[-1].startswith("Total;")
    code, _, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "10", "-report_type", "detailed_counters",
                     "-report_folder", folder, "-json_stats")
    rep = json.loads((folder / "benchmark_report.json").read_text())
    assert rep["execution_results"]["total number of iterations"] == "10"
    detailed = json.loads((folder / "benchmark_detailed_counters_report.json").read_text())
    assert detailed["report_type"] == "detailed" and detailed["detailed_performance"][0]["nodes"]


def test_json_stats_file_and_progress_bar(capsys, tmp_path):
    code, out, err = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "40", "-json_stats",
                         tmp_path / "s.json", "-progress")
    assert code == 0
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["count"] == 40 and stats["latency_min_ms"] <= stats["latency_median_ms"]
    assert "Progress: [" in err and err.rstrip().endswith("100% done")
    assert "Progress" not in out and "Progress" not in (tmp_path / "s.json").read_text()


def test_shapes_batch_and_data_shapes(capsys, tmp_path):
    _, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "4", "-shape", "image[2,1,8,8]")
    assert "Reshaping model: 'image': [2,1,8,8]" in out and "Model batch size: 2" in out
    _, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "4", "-b", "3")
    assert "image (node: image) : f32 / [3,1,8,8]" in out
    code, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "4", "-data_shape", "[1,1,8,8][3,1,8,8]",
                       "-json_stats", tmp_path / "s.json")
    stats = json.loads((tmp_path / "s.json").read_text())
    frames = stats["throughput_fps"] * stats["duration_ms"] / 1e3
    assert code == 0 and frames == pytest.approx(1 + 3 + 1 + 3)  # frames, not inferences, per second


def test_inputs_from_files(capsys, tmp_path):
    x = np.zeros((5, 1, 8, 8), np.float32)
    np.save(tmp_path / "x.npy", x)
    _, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "2", "-i", tmp_path / "x.npy")
    assert "Model batch size: 5" in out and "filled with random values" not in out
    np.savez(tmp_path / "bad.npz", img=x)
    with pytest.raises(InferenceInputError, match=r"no input named 'img'; inputs: \['image'\]"):
        run(capsys, "-m", DIGITS, "-niter", "2", "-i", tmp_path / "bad.npz")


def test_an_exported_model_is_imported_and_measured(capsys, tmp_path):
    model = ar.Core().read_model(DIGITS)
    model.reshape([2, 1, 8, 8])
    blob = tmp_path / "digits.blob"
    blob.write_bytes(ar.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}).export_model())
    code, out, _ = run(capsys, "-m", blob, "-hint", "latency", "-niter", "4")
    assert code == 0 and "[Step 4/11] Skipping the step for compiled network" in out
    assert "Import model took" in out and "PERFORMANCE_HINT: LATENCY" in out  # the command line's hint wins
    assert parse(out)["count"] == 4
    with pytest.raises(ArrayrtError, match="is a compiled model .*-shape and -b cannot reshape it"):
        run(capsys, "-m", blob, "-niter", "1", "-b", "4")


def test_threads_cache_configs_and_executed_graph(capsys, tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"CPU": {"PERF_COUNT": True}}))
    graph, dumped = tmp_path / "exec.xml", tmp_path / "dump.json"
    code, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "2", "-nthreads", "1", "-cache_dir",
                       tmp_path / "cache", "-load_config", config, "-dump_config", dumped, "-exec_graph_path", graph)
    assert code == 0 and "Loaded 1 properties of CPU" in out
    assert "INFERENCE_NUM_THREADS: 1" in out and "PERF_COUNT: True" in out  # loaded config reached the device
    assert json.loads(dumped.read_text()) == {"CPU": {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1,
                                                      "CACHE_DIR": str(tmp_path / "cache")}}
    text = graph.read_text()  # the plan's own ops (fused convolutions...) with OpenVINO's exec-graph rt_info
    assert 'type="FusedConvolution"' in text and "bias=" not in text  # the folded bias stays in the plan
    assert text.count('name="execType"') == text.count("<layer ") and 'name="device"' in text
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ArrayrtError, match=r"-load_config .*bad.json: expected \{device: \{property: value\}\}"):
        run(capsys, "-m", DIGITS, "-niter", "1", "-load_config", bad)


def test_niter_zero_compiles_only(capsys):
    code, out, _ = run(capsys, "-m", DIGITS, "-hint", "latency", "-niter", "0")
    assert code == 0 and "[Step 8/11]" in out and "[Step 9/11]" not in out


def test_bad_arguments(capsys):
    with pytest.raises(ArrayrtError, match=r"-latency_percentile must be in \[1, 100\]"):
        run(capsys, "-m", DIGITS, "-latency_percentile", "0")
    with pytest.raises(InferenceInputError, match="no input named 'data'"):
        run(capsys, "-m", DIGITS, "-niter", "1", "-shape", "data[1,1,8,8]")
    with pytest.raises(ArrayrtError, match="-shape: cannot parse"):
        run(capsys, "-m", DIGITS, "-niter", "1", "-shape", "image(1,1,8,8)")
    assert benchmark.parse_shapes("a[1,3][2,3],b[4]", "-x") == {"a": ["1,3", "2,3"], "b": ["4"]}
    assert benchmark.per_device("CPU:f32,NPU:f16", "NPU", "-x") == "f16"
    assert benchmark.per_device("bf16", "HETERO:NPU,CPU", "-x") == "bf16"


@pytest.mark.skipif("NPU" not in device_backends(), reason="no NPU backend (jax)")
def test_npu_results_reach_the_host_before_the_clock_stops(capsys):
    """The NPU returns host (numpy) arrays, so an inference has finished on the device when
    infer() returns; with KEEP_ON_DEVICE the benchmark waits on the device arrays itself."""
    core = ar.Core()
    model = core.read_model(DIGITS)
    model.reshape([1, 1, 8, 8])
    x = np.ones((1, 1, 8, 8), np.float32)
    assert type(core.compile_model(model, "NPU")(x)[0]) is np.ndarray
    kept = core.compile_model(model, "NPU", {"KEEP_ON_DEVICE": True})
    results = kept(x)
    data = results[0].data if hasattr(results[0], "data") else results[0]
    assert hasattr(data, "block_until_ready")
    benchmark.synchronizer(kept)(results)  # waits on them
    code, out, _ = run(capsys, "-m", DIGITS, "-d", "NPU", "-hint", "latency", "-niter", "20")
    assert code == 0 and parse(out)["count"] == 20 and "Execution Devices:['NPU']" in out


def test_device_work_is_waited_for_before_the_clock_stops():
    """With KEEP_ON_DEVICE the results stay device arrays: each is waited on (jax's
    ``block_until_ready``) and then the backend synchronised (CuPy's stream), in that order;
    without it the outputs are host copies and nothing is left to wait for."""
    calls = []

    class DeviceArray:
        def block_until_ready(self):
            calls.append("ready")

    class Backend:
        def synchronize(self):
            calls.append("sync")

    class Compiled:
        _backend = Backend()

        def __init__(self, keep):
            self.keep = keep

        def get_property(self, key):
            assert key == "KEEP_ON_DEVICE"
            return self.keep

    class Results:
        def to_tuple(self):
            return (DeviceArray(), DeviceArray())

    benchmark.synchronizer(Compiled(True))(Results())
    assert calls == ["ready", "ready", "sync"]
    calls.clear()
    benchmark.synchronizer(Compiled(False))(Results())
    assert calls == []
