"""``arrayrt crosscheck``: per-layer comparison of two devices, two models, or a run and a dump."""
from __future__ import annotations

import argparse
import json
import sys
from importlib import resources

import numpy as np
import pytest
from arrayrt.backends import device_backends
from arrayrt.tools import cli, crosscheck

import arrayrt as ar
import arrayrt.opset as ops
from arrayrt.errors import ArrayrtError, UnsupportedOpError

LAYERS = ["add", "mul", "relu", "mm", "probs"]  # topological order of the model below


def build(path, scale: float = 2.0):
    """x[2,8] -> add -> mul (by ``scale``) -> relu -> mm -> probs (softmax)."""
    rng = np.random.default_rng(0)
    x = ops.parameter([2, 8], np.float32, name="x")
    x.output(0).set_names({"x"})
    y = ops.add(x, rng.standard_normal((1, 8)).astype(np.float32), name="add")
    y = ops.multiply(y, np.full((1, 8), scale, np.float32), name="mul")
    y = ops.relu(y, name="relu")
    y = ops.matmul(y, rng.standard_normal((8, 4)).astype(np.float32), False, False, name="mm")
    y = ops.softmax(y, -1, name="probs")
    y.output(0).set_names({"probs"})
    ar.save_model(ar.Model([y], [x], "tiny"), path, compress_to_fp16=False)
    return str(path)


@pytest.fixture
def model(tmp_path):
    return build(tmp_path / "m.xml")


def run(capsys, *argv):
    parser = argparse.ArgumentParser()
    crosscheck.add_arguments(parser)
    code = crosscheck.run(parser.parse_args([str(a) for a in argv]))
    out = capsys.readouterr()
    return code, out.out, out.err


def report(capsys, *argv):
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0
    return json.loads(out)


def test_every_layer_compared_in_topological_order(capsys, model):
    rep = report(capsys, "-m", model, "-d", "STRICT", "-ref_d", "CPU", "--layers", "all")
    pair = rep["pairs"][0]
    assert pair["device"] == "STRICT (f32)" and pair["reference"] == "CPU (f32)"
    assert [r["layer"] for r in pair["layers"]] == LAYERS
    for r in pair["layers"]:
        assert r["max_abs"] <= 1e-6 and r["cosine"] > 0.999999
        assert {"mean_abs", "max_rel", "max_ulp", "snr_db", "nonfinite_mismatch", "actual", "reference"} <= set(r)
    assert pair["first_divergence"] is None
    assert rep["inputs"] == {"x": [2, 8]} and rep["input_source"] == "random (seed 0)"


def test_table_is_sorted_worst_first_and_names_the_divergence(capsys, tmp_path, model):
    """Two models that differ only in the Multiply's constant: everything before it agrees
    exactly, and the first divergent tensor in topological order is the Multiply's."""
    other = build(tmp_path / "other.xml", scale=2.5)
    code, out, _ = run(capsys, "-m", other, "-ref_m", model, "-d", "CPU", "--layers", "all")
    assert code == 0
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    order = [line.split()[1] for line in lines[head + 1: head + 1 + len(LAYERS)]]
    assert order[-1] == "add"  # add is exact: last when sorted worst first
    assert "diverges first (topological order) at #" in out and " mul (Multiply)" in out
    rep = report(capsys, "-m", other, "-ref_m", model, "--layers", "all", "--sort", "topo")
    rows = rep["pairs"][0]["layers"]
    assert rows[0]["layer"] == "add" and rows[0]["max_abs"] == 0.0 and rows[0]["snr_db"] == "inf"
    assert rep["pairs"][0]["first_divergence"]["layer"] == "mul"


def test_f16_compressed_model_against_its_f32_original(capsys, tmp_path, model):
    """``-ref_m``: the f16-compressed IR's tensors pair with the original's by name; its
    decompression Converts (weights) have no counterpart and are listed in a note."""
    ar.save_model(ar.Core().read_model(model), tmp_path / "f16.xml")  # compress_to_fp16 by default
    rep = report(capsys, "-m", tmp_path / "f16.xml", "-ref_m", model, "--layers", "all", "--sort", "topo")
    rows = rep["pairs"][0]["layers"]
    assert [r["layer"] for r in rows] == LAYERS
    assert all(0 < r["norm_max_abs"] < 1e-3 for r in rows)  # f16 weights: small, non-zero error
    assert rep["pairs"][0]["first_divergence"] is None
    assert any("have no match in the reference model" in n for n in rep["notes"])


def test_threshold_and_metric_choose_the_divergence(capsys, tmp_path, model):
    other = build(tmp_path / "other.xml", scale=2.0 * (1 + 1e-4))
    rep = report(capsys, "-m", other, "-ref_m", model, "--layers", "all")
    assert rep["pairs"][0]["first_divergence"] is None  # 1e-4 relative is within the default 1e-2
    rep = report(capsys, "-m", other, "-ref_m", model, "--layers", "all", "--metric", "snr_db",
                 "--threshold", "100")
    assert rep["pairs"][0]["first_divergence"]["layer"] == "mul"


def test_layer_lists_and_unknown_layers(capsys, model):
    rep = report(capsys, "-m", model, "-d", "STRICT", "-ref_d", "CPU", "--layers", "relu,probs")
    assert [r["layer"] for r in rep["pairs"][0]["layers"]] == ["relu", "probs"]
    rep = report(capsys, "-m", model, "-d", "STRICT", "-ref_d", "CPU")  # default: the outputs
    assert [r["layer"] for r in rep["pairs"][0]["layers"]] == ["probs"]
    with pytest.raises(crosscheck.CrosscheckError, match=r"no layer or tensor named 'rellu'; did you mean 'relu'"):
        run(capsys, "-m", model, "-d", "STRICT", "-ref_d", "CPU", "--layers", "rellu")


def test_inputs_from_a_file_and_mismatched_names(capsys, tmp_path, model):
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
    np.savez(tmp_path / "in.npz", x=x)
    rep = report(capsys, "-m", model, "-d", "STRICT", "-ref_d", "CPU", "-i", tmp_path / "in.npz")
    assert rep["input_source"] == f"from {tmp_path / 'in.npz'}"
    np.savez(tmp_path / "bad.npz", image=x)
    with pytest.raises(crosscheck.CrosscheckError,
                       match=r"input 'image' that the model does not have; its inputs: \['x'\]"):
        run(capsys, "-m", model, "-ref_d", "CPU", "-i", tmp_path / "bad.npz")
    np.savez(tmp_path / "none.npz")
    with pytest.raises(crosscheck.CrosscheckError, match=r"lacks the model's input\(s\) \['x'\]"):
        run(capsys, "-m", model, "-ref_d", "CPU", "-i", tmp_path / "none.npz")


def test_two_models_with_different_inputs_are_refused(capsys, tmp_path, model):
    y = ops.parameter([2, 8], np.float32, name="y")
    y.output(0).set_names({"y"})
    ar.save_model(ar.Model([ops.relu(y, name="relu")], [y], "other"), tmp_path / "o.xml", compress_to_fp16=False)
    with pytest.raises(crosscheck.CrosscheckError, match=r"the models' inputs differ: .* has \['x'\], .* has \['y'\]"):
        run(capsys, "-m", model, "-ref_m", tmp_path / "o.xml")


def test_dump_and_load(capsys, tmp_path, model):
    dump = tmp_path / "cpu.npz"
    code, out, _ = run(capsys, "-m", model, "-d", "CPU", "--layers", "all", "--dump", dump, "--seed", "3")
    assert code == 0 and f"wrote 5 tensors of CPU (f32) and the inputs to {dump}" in out
    rep = report(capsys, "-m", model, "-d", "STRICT", "--load", dump)
    pair = rep["pairs"][0]
    assert pair["reference"] == f"CPU (f32) [{dump}]" and [r["layer"] for r in pair["layers"]] == LAYERS
    assert all(r["max_abs"] <= 1e-6 for r in pair["layers"])  # the dump's inputs (seed 3) were used
    assert rep["input_source"] == f"from the dump {dump}"


def test_a_dump_from_another_model_or_no_dump_is_refused(capsys, tmp_path, model):
    dump = tmp_path / "cpu.npz"
    run(capsys, "-m", model, "--layers", "relu", "--dump", dump)
    y = ops.parameter([2, 8], np.float32, name="x")
    y.output(0).set_names({"x"})
    ar.save_model(ar.Model([ops.sigmoid(y, name="sig")], [y], "other"), tmp_path / "o.xml", compress_to_fp16=False)
    with pytest.raises(crosscheck.CrosscheckError, match=r"was dumped from model 'tiny' \(topology \w+\), not from "
                                                         r"this model 'other'"):
        run(capsys, "-m", tmp_path / "o.xml", "--load", dump)
    with pytest.raises(crosscheck.CrosscheckError, match=r"does not hold \['mm'\]; it holds \['relu'\]"):
        run(capsys, "-m", model, "--load", dump, "--layers", "mm")
    np.savez(tmp_path / "plain.npz", x=np.zeros((2, 8), np.float32))
    with pytest.raises(crosscheck.CrosscheckError, match="is not an arrayrt crosscheck dump"):
        run(capsys, "-m", model, "--load", tmp_path / "plain.npz")
    with pytest.raises(crosscheck.CrosscheckError, match="nothing to compare with"):
        run(capsys, "-m", model)


def test_plot(capsys, tmp_path, model, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(crosscheck.CrosscheckError, match="--plot needs matplotlib, which is not installed"):
        run(capsys, "-m", model, "-ref_d", "CPU", "--plot", tmp_path / "p.png")
    monkeypatch.delitem(sys.modules, "matplotlib")
    pytest.importorskip("matplotlib")
    code, out, _ = run(capsys, "-m", model, "-d", "STRICT", "-ref_d", "CPU", "--layers", "all",
                       "--plot", tmp_path / "p.png")
    assert code == 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_json_file_and_several_devices(capsys, tmp_path, model):
    code, out, _ = run(capsys, "-m", model, "-d", "CPU", "-d", "STRICT", "-ref_d", "CPU", "--json", tmp_path / "r.json")
    assert code == 0 and out.count(" against CPU (f32): 1 tensors") == 2
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [p["device"] for p in rep["pairs"]] == ["CPU (f32)", "STRICT (f32)"]
    assert rep["pairs"][0]["layers"][0]["max_abs"] == 0.0  # CPU against itself


DIGITS = str(resources.files("arrayrt") / "models" / "digits" / "digits_cnn.xml")


@pytest.mark.skipif("NPU" not in device_backends(), reason="no NPU backend (jax)")
def test_npu_agrees_with_f32_and_shows_f16_error_growth(capsys):
    rep = report(capsys, "-m", DIGITS, "-d", "NPU", "-ref_d", "CPU", "--layers", "all", "-infer_precision", "f32")
    pair = rep["pairs"][0]
    assert pair["device"] == "NPU (f32)" and pair["first_divergence"] is None
    assert max(r["norm_max_abs"] for r in pair["layers"]) < 1e-5
    rep = report(capsys, "-m", DIGITS, "-d", "NPU", "-ref_d", "CPU", "--layers", "all", "--sort", "topo")
    rows = rep["pairs"][0]["layers"]
    assert rep["pairs"][0]["device"] == "NPU (f16)"
    first, last = rows[0], rows[-1]
    assert (first["layer"], last["layer"]) == ("scale", "probs")
    assert 1e-5 < first["norm_max_abs"] < last["norm_max_abs"] < 1e-2  # f16 rounding grows through the net
    assert last["max_ulp"] > 2 ** 10  # f16 keeps 13 bits fewer than the f32 reference


def cli_run(capsys, *argv):
    """Through the ``arrayrt`` entry point, as a user runs it."""
    code = cli.main(["crosscheck", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_verb_is_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["crosscheck", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: arrayrt crosscheck") and "-ref_d" in out and "--layers" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "crosscheck" in capsys.readouterr().out


@pytest.mark.skipif("NPU" not in device_backends(), reason="no NPU backend (jax)")
def test_npu_against_cpu_on_the_command_line(capsys):
    """The issue's command: the table of every layer, and no divergence with the f32 hint."""
    code, out, err = cli_run(capsys, "-m", DIGITS, "-d", "NPU", "-ref_d", "CPU", "--layers", "all",
                             "-infer_precision", "f32")
    assert code == 0, err
    assert "NPU (f32) against CPU (f32): 18 tensors, sorted by norm_max_abs (worst first)" in out
    head = next(line for line in out.splitlines() if line.lstrip().startswith("#"))
    assert head.split()[:4] == ["#", "layer", "type", "shape"] and "snr_dB" in head
    assert out.rstrip().endswith("no divergence: every tensor has norm_max_abs within 0.01")


@pytest.mark.skipif("GNA" not in device_backends(), reason="no GNA backend")
def test_gna_names_its_quantisation_error(capsys):
    """``-d GNA``: GNA cannot run the digits model's 8x8 convolutions, so those (and the pooling
    and softmax) run on CPU, said in a note; the table names the device of every layer and the
    largest error is in the dense layers GNA runs in 16-bit integers."""
    code, out, err = cli_run(capsys, "-m", DIGITS, "-d", "GNA", "-ref_d", "CPU", "--layers", "all")
    assert code == 0, err
    assert "note: GNA: calibrated on the compared inputs (GNA_CALIBRATION_DATA)" in out
    assert "note: GNA cannot run every layer, so it ran as HETERO:GNA,CPU: 7 of the 18 compared tensors " \
           "come from CPU (conv1, conv2, pool1" in out
    assert "HETERO:GNA,CPU (i16) against CPU (f32): 18 tensors" in out
    worst = out.split("largest norm_max_abs: ")[1].split("\n")[0]
    assert worst.split()[1] in {"fc1", "fc1/bias", "fc1/relu", "fc2", "logits"}  # the GNA-run dense layers
    assert "on GNA)" in worst
    rep = report(capsys, "-m", DIGITS, "-d", "GNA", "-ref_d", "CPU", "--layers", "all", "--sort", "topo")
    rows = {r["layer"]: r for r in rep["pairs"][0]["layers"]}
    assert rows["conv1"]["device"] == "CPU" and rows["fc1"]["device"] == "GNA"
    assert rows["fc2"]["snr_db"] < rows["scale"]["snr_db"] - 20  # quantisation error grows through the net
    with pytest.raises(UnsupportedOpError, match=r"cannot run on GNA.*; to run the rest on CPU use -d HETERO:GNA,CPU"):
        run(capsys, "-m", DIGITS, "-d", "GNA", "-ref_d", "CPU", "--no_fallback")
    code, _, err = cli_run(capsys, "-m", DIGITS, "-d", "GNA", "-ref_d", "CPU", "--no_fallback")
    assert code == 1 and err.startswith("arrayrt crosscheck: error: GNA: ")


def test_bad_input_is_a_clear_error_on_the_command_line(capsys, tmp_path, model):
    """A dump from another model, a layer the model lacks, inputs under other names: one line on
    stderr naming the problem, exit code 1, no traceback."""
    dump = tmp_path / "d.npz"
    assert cli_run(capsys, "-m", model, "--layers", "relu", "--dump", dump)[0] == 0
    y = ops.parameter([2, 8], np.float32, name="x")
    y.output(0).set_names({"x"})
    other = tmp_path / "o.xml"
    ar.save_model(ar.Model([ops.tanh(y, name="t")], [y], "other"), other, compress_to_fp16=False)
    np.savez(tmp_path / "in.npz", data=np.zeros((2, 8), np.float32))
    cases = [(["-m", other, "--load", dump], "was dumped from model 'tiny'"),
             (["-m", model, "-ref_d", "CPU", "--layers", "relu,nope"], "the model has no layer or tensor named 'nope'"),
             (["-m", model, "-ref_d", "CPU", "-i", tmp_path / "in.npz"],
              "has an input 'data' that the model does not have; its inputs: ['x']")]
    for argv, message in cases:
        code, out, err = cli_run(capsys, *argv)
        assert code == 1 and err.startswith("arrayrt crosscheck: error: ") and message in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_option_combinations(capsys, tmp_path, model):
    with pytest.raises(ArrayrtError, match="--load makes the dump the reference"):
        run(capsys, "-m", model, "--load", tmp_path / "x.npz", "-ref_d", "CPU")
    with pytest.raises(ArrayrtError, match="--dump saves one run"):
        run(capsys, "-m", model, "-d", "CPU", "-d", "STRICT", "--dump", tmp_path / "x.npz")
    with pytest.raises(ArrayrtError, match="-c/--ref_config takes KEY=VALUE"):
        run(capsys, "-m", model, "-ref_d", "CPU", "-c", "PERF_COUNT")
