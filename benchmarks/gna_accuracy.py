"""Accuracy of the GNA emulation (GNA_SW_EXACT) against CPU f32, run as HETERO:GNA,CPU.

    .venv/bin/python benchmarks/gna_accuracy.py [--samples N] [--calibration N] [--pwl-error PCT]

Models:

* ``lstm_kws`` (``arrayrt.testing.models``): conv1d + ReLU over 49x40 MFCC-like frames, an LSTM
  (hidden 64, decomposed into GNA layers), a dense layer and a Softmax, random fixed weights (seed 4);
  inputs uniform in [-1, 1] (seeds distinct from the calibration samples);
* the demo digits CNN (``arrayrt/models/digits``) on its held-out images, batch fixed to 1 (GNA
  compiles static shapes). GNA 3.0 cannot run its 8x8, one-channel 2-D convolutions (they stay on the
  CPU), GNA 3.5 can: both targets are reported.

Each model is compiled with i16 and with i8 weights. Input scale factors come from calibration
samples (``16384 / max|x|``); a tensor that enters the GNA part from a CPU part gets its calibration
from the same samples run through the CPU model and matched by the producing node's name, which is
what ``Core`` could do itself for HETERO. Reported per configuration: the SNR
``10·log10(Σ ref² / Σ (out - ref)²)`` of the logits (the GNA part's output, before the CPU Softmax)
and of the probabilities, top-1 agreement with CPU (and accuracy on the labels for the digits), and
the layers that fell back to CPU.
"""
from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np

import arrayrt
import arrayrt.opset as ops
from arrayrt.testing.models import lstm_kws, make_model


def with_logits(model):
    """The model with the Softmax's input as a second output."""
    softmax = model.get_results()[0].input_value(0).node
    model.add_outputs(softmax.input_value(0))
    return model


def kws_case(args):
    model = with_logits(make_model(ops, lstm_kws, "lstm_kws"))
    rng = np.random.default_rng(100)
    cal = [rng.uniform(-1, 1, (1, 49, 40)).astype(np.float32) for _ in range(args.calibration)]
    rng = np.random.default_rng(200)
    samples = [rng.uniform(-1, 1, (1, 49, 40)).astype(np.float32) for _ in range(args.samples)]
    return model, cal, samples, None


def digits_case(args):
    folder = resources.files("arrayrt") / "models" / "digits"
    with resources.as_file(folder / "digits_cnn.xml") as xml, resources.as_file(folder / "heldout.npz") as npz:
        model = arrayrt.Core().read_model(xml)
        with np.load(npz, allow_pickle=False) as data:
            images, labels = data["images"].astype(np.float32), data["labels"]
    model.reshape([1, 1, 8, 8])
    model = with_logits(model)
    cal = [images[i:i + 1] for i in range(args.calibration)]
    return model, cal, [images[i:i + 1] for i in range(len(images))], labels


def snr(ref: np.ndarray, out: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum((out - ref) ** 2), 1e-300)))


def evaluate(name, model, cal, samples, labels, target, precision, pwl_error):
    core = arrayrt.Core()
    config = {"GNA_CALIBRATION_DATA": list(cal), "GNA_HW_EXECUTION_TARGET": target,
              "GNA_PRECISION": precision}
    if pwl_error is not None:
        config["GNA_PWL_MAX_ERROR_PERCENT"] = pwl_error
    core.set_property("GNA", config)
    t = time.perf_counter()
    hetero = core.compile_model(model, "HETERO:GNA,CPU")
    compile_s = time.perf_counter() - t
    cpu = core.compile_model(model, "CPU")
    ref_p, ref_l, out_p, out_l = [], [], [], []
    for x in samples:
        r, o = cpu(x), hetero(x)
        ref_p.append(r[0]), ref_l.append(r[1]), out_p.append(o[0]), out_l.append(o[1])
    ref_p, ref_l, out_p, out_l = map(np.concatenate, (ref_p, ref_l, out_p, out_l))
    cpu_nodes = sorted(n for n, d in hetero._node_devices.items() if d == "CPU")
    row = {"model": name, "target": target, "weights": precision, "snr_logits": snr(ref_l, out_l),
           "snr_probs": snr(ref_p, out_p),
           "top1_agree": float(np.mean(ref_p.argmax(1) == out_p.argmax(1))),
           "compile_s": compile_s, "cpu": cpu_nodes}
    if labels is not None:
        row["acc_gna"] = float(np.mean(out_p.argmax(1) == labels))
        row["acc_cpu"] = float(np.mean(ref_p.argmax(1) == labels))
    gna_layers = [layer for plan, sg in zip(hetero._plan.plans, hetero._plan.subgraphs) if sg.device == "GNA"
                  for layer in plan.gna.layers]
    pwl = [d["pwl_segments"] for d in gna_layers if "pwl_segments" in d]
    row["gna_layers"] = sum(plan.gna.hardware_layers for plan, sg in zip(hetero._plan.plans, hetero._plan.subgraphs)
                            if sg.device == "GNA")
    row["pwl_segments_max"] = max(pwl) if pwl else 0
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32, help="lstm_kws evaluation inputs")
    parser.add_argument("--calibration", type=int, default=16, help="calibration samples per model")
    parser.add_argument("--pwl-error", type=float, default=None, help="GNA_PWL_MAX_ERROR_PERCENT (default 1.0)")
    args = parser.parse_args()
    cases = [("lstm_kws", kws_case(args), ["GNA_3_0"])]
    try:
        cases.append(("digits_cnn", digits_case(args), ["GNA_3_0", "GNA_3_5"]))
    except FileNotFoundError:
        print("digits demo model not found; skipped")
    rows = []
    for name, (model, cal, samples, labels), targets in cases:
        for target in targets:
            for precision in ("I16", "I8"):
                rows.append(evaluate(name, model, cal, samples, labels, target, precision, args.pwl_error))
    print(f"{'model':11s} {'target':8s} {'wts':4s} {'SNR logits':>10s} {'SNR probs':>10s} {'top-1 agree':>11s} "
          f"{'acc GNA/CPU':>12s} {'GNA layers':>10s} {'compile':>8s}  fell back to CPU")
    for r in rows:
        acc = f"{r['acc_gna']:.3f}/{r['acc_cpu']:.3f}" if "acc_gna" in r else "-"
        print(f"{r['model']:11s} {r['target']:8s} {r['weights'].lower():4s} {r['snr_logits']:9.1f}dB "
              f"{r['snr_probs']:9.1f}dB {r['top1_agree']:11.3f} {acc:>12s} {r['gna_layers']:10d} "
              f"{r['compile_s']:7.1f}s  {', '.join(r['cpu'])}")


if __name__ == "__main__":
    main()
