"""NPU numerics against CPU f32: the tables of docs/numerics.md.

    .venv/bin/python benchmarks/npu_numerics.py [--json out.json]

Each benchmark model of ``arrayrt.testing.models`` (ResNet-18, MobileNetV2, the BERT-tiny-like
encoder; the builders and inputs of ``benchmarks/npu_latency.py``) runs on ``NPU`` with the f32, f16
and bf16 hints and on ``CPU`` with f32, on the same inputs. Per model and hint: the max abs error,
that over the largest |reference| (relative to the output's range), and the max elementwise relative
error over the outputs whose |reference| is at least 10% of the largest (elsewhere a relative error
divides by values near zero and says nothing). Then the bundled digits demo
(``arrayrt/models/digits``, what ``arrayrt demo`` runs) on its held-out images: top-1 agreement with
CPU f32 and accuracy.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from arrayrt.testing import models as M

HINTS = ("f32", "f16", "bf16")


def _errors(got: np.ndarray, ref: np.ndarray) -> dict:
    got, ref = got.astype(np.float64), ref.astype(np.float64)
    diff = np.abs(got - ref)
    scale = np.abs(ref).max()
    big = np.abs(ref) >= 0.1 * scale
    return {"max_abs": float(diff.max()), "max_abs_over_range": float(diff.max() / scale),
            "max_rel_large": float((diff[big] / np.abs(ref[big])).max())}


def numerics() -> dict:
    import openvino.opset16 as ovops

    import arrayrt
    import arrayrt.opset as arops

    core = arrayrt.Core()
    out: dict = {"models": [], "demo": []}
    for name, builder in M.BENCHMARK_MODELS.items():
        model = M.make_model(arops, builder, name)
        inputs = M.sample_inputs(M.make_model(ovops, builder, name))
        ref = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(inputs)[0]
        for hint in HINTS:
            got = core.compile_model(model, "NPU", {"INFERENCE_PRECISION_HINT": hint})(inputs)[0]
            out["models"].append({"model": name, "hint": hint, **_errors(got, ref)})
    folder = Path(arrayrt.__file__).parent / "models" / "digits"
    if (folder / "digits_cnn.xml").exists():
        model = core.read_model(folder / "digits_cnn.xml")
        with np.load(folder / "heldout.npz") as data:
            images, labels = data["images"], data["labels"]
        ref = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(images)[0]
        for hint in HINTS:
            got = core.compile_model(model, "NPU", {"INFERENCE_PRECISION_HINT": hint})(images)[0]
            pred = got.argmax(1)
            out["demo"].append({"hint": hint, "images": len(labels),
                                "top1_agreement": float(np.mean(pred == ref.argmax(1))),
                                "accuracy": float(np.mean(pred == labels)), **_errors(got, ref)})
    return out


def print_numerics(res: dict) -> None:
    print("| model | hint | max abs | max abs / max abs ref | max rel (abs ref >= 10% of max) |")
    print("|---|---|---|---|---|")
    for r in res["models"]:
        print(f"| {r['model']} | {r['hint']} | {r['max_abs']:.2e} | {r['max_abs_over_range']:.2e} | "
              f"{r['max_rel_large']:.2e} |")
    if res["demo"]:
        print()
        print("| digits demo | top-1 agreement with CPU f32 | accuracy | max abs (probabilities) |")
        print("|---|---|---|---|")
        for r in res["demo"]:
            print(f"| NPU {r['hint']} | {r['top1_agreement']:.4f} ({r['images']} images) | "
                  f"{r['accuracy']:.4f} | {r['max_abs']:.2e} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    res = numerics()
    print_numerics(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
