"""``arrayrt demo``: the bundled digits classifier on every available device.

For each device (and, on CPU, each installed array backend) it prints the first predictions, the
accuracy on the held-out images, the median latency of one image and of the whole batch, and the
largest difference of the outputs against CPU.

A device that cannot take the model as it is (GNA: static shapes, batch-1 convolutions, and
convolutions within its hardware limits, which this 8x8 model's are not) runs it as
``HETERO:<device>,CPU`` with batch 1, one image at a time, calibrated on the first held-out images
when the device quantises; its row says so. A device that fails anyway gets a row with the error,
and the other devices still run.
"""
from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np
from arrayrt.backends import available_backends, device_backend
from arrayrt.ir.model import clone_model

from arrayrt import ArrayrtError, Core

#: held-out images a quantising device calibrates its scale factors on
CALIBRATION_IMAGES = 64


def model_dir():
    return resources.files("arrayrt") / "models" / "digits"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--repeats", type=int, default=50, help="timed runs per measurement")
    p.add_argument("--show", type=int, default=12, help="predictions to print")


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def targets(core: Core) -> list[tuple[str, str, dict]]:
    """(label, device, config) for every device, plus every other array backend on its device."""
    out = [(d, d, {}) for d in core.available_devices]
    defaults = {core.get_property(d, "ARRAY_BACKEND") for d in core.available_devices}
    for name, cls in available_backends().items():
        if name not in defaults:
            out.append((f"{cls.device}[{name}]", cls.device, {"ARRAY_BACKEND": name}))
    return out


def run(args: argparse.Namespace) -> int:
    core = Core()
    folder = model_dir()
    with resources.as_file(folder / "digits_cnn.xml") as xml, resources.as_file(folder / "heldout.npz") as npz:
        model = core.read_model(xml)
        with np.load(npz, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
    print(f"model: {model.name}  held-out images: {len(labels)}  (scikit-learn digits, 8x8)")
    print(f"truth:      {' '.join(str(v) for v in labels[: args.show])}")
    reference = None
    header = f"{'device':32s} {'accuracy':>8s} {'1 image':>10s} {'batch':>10s} {'max |diff| vs CPU':>18s}"
    rows = []
    for label, device, config in targets(core):
        config = {"INFERENCE_PRECISION_HINT": core.get_property(device, "INFERENCE_PRECISION_HINT"), **config}
        try:
            label, predict = _compile(core, model, label, device, config, images)
            probs = predict(images)
        except ArrayrtError as exc:
            print(f"{label + ':':11s} failed: {exc}")
            rows.append(f"{label:32s} failed: {type(exc).__name__}")
            continue
        pred = np.argmax(probs, axis=1)
        if reference is None:
            reference = probs
        diff = float(np.max(np.abs(probs.astype(np.float64) - reference)))
        one = images[:1]
        lat1 = _median_ms(lambda: predict(one), args.repeats)
        latb = _median_ms(lambda: predict(images), max(3, args.repeats // 5))
        print(f"{label + ':':11s} {' '.join(str(v) for v in pred[: args.show])}")
        rows.append(f"{label:32s} {np.mean(pred == labels):8.4f} {lat1:8.3f}ms {latb:8.3f}ms {diff:18.3g}")
    print()
    print(header)
    print("\n".join(rows))
    return 0


def _compile(core: Core, model, label: str, device: str, config: dict, images: np.ndarray):
    """(label, predict(images) -> probabilities): the model as it is on ``device``, or, when the
    device refuses it, batch 1 on ``HETERO:device,CPU`` one image at a time (see the docstring)."""
    try:
        compiled = core.compile_model(model, device, config)
        return label, lambda x: compiled(x)[0]
    except ArrayrtError as exc:
        first = exc
    single = clone_model(model)
    name = single.inputs[0].get_any_name()
    single.reshape({name: [1, *images.shape[1:]]})
    # the device's own precision (GNA's i16) would be a bad value for the CPU part: both defaults
    config = {k: v for k, v in config.items() if k != "INFERENCE_PRECISION_HINT"}
    cls = device_backend(device)
    key = getattr(cls, "calibration_property", None)
    if key:
        config = {**config, key: {name: images[:CALIBRATION_IMAGES]}}
    hetero = f"HETERO:{device},CPU"
    try:
        compiled = core.compile_model(single, hetero, config)
    except ArrayrtError:
        raise first from None
    request = compiled.create_infer_request()

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(request.infer([x[i:i + 1]])[0]) for i in range(len(x))])

    return f"{label} ({hetero}, batch 1)", predict
