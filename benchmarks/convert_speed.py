"""ONNX -> IR conversion speed: ``arrayrt.convert_model`` + ``arrayrt.save_model`` against
``openvino.convert_model`` + ``openvino.save_model`` on the same ResNet-18-sized ONNX file, side by
side in one run, with fp16 compression off and on.

    .venv/bin/python benchmarks/convert_speed.py [--repeats 7] [--light] [--profile] [--rss]

* The model is ResNet-18 (conv/batchnorm/relu/maxpool, 8 basic blocks, global average pool, gemm;
  ≈45 MB of f32 weights, random but fixed, opset 17), written with ``onnx.helper`` into a temp dir.
* Each repeat converts the file and saves it, arrayrt and OpenVINO alternately; the medians and their
  ratio (arrayrt / OpenVINO, target ≤ 2.0) are printed.
* ``--light`` also times the suite's light model files (``onnx/backend/test/data/light``).
* ``--profile`` prints arrayrt's cProfile for one conversion + save (fp16 on).
* ``--rss`` runs one conversion + save per converter in a fresh child process and prints its peak
  resident set size, and the peak minus the RSS after importing the converter (the conversion's own
  share); both fp16 off and on.
"""
from __future__ import annotations

import argparse
import cProfile
import glob
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TARGET = 2.0


class _Builder:
    """Accumulates ONNX nodes and initializers (random weights from one fixed seed)."""

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def weight(self, prefix: str, shape: tuple[int, ...], scale: float = 1.0) -> str:
        name = self.name(prefix)
        value = (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(np.float32)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out + "_node", **attrs))
        return out

    def conv_bn(self, x: str, cin: int, cout: int, k: int, stride: int, relu: bool = True) -> str:
        w = self.weight("conv_w", (cout, cin, k, k), (2.0 / (cin * k * k)) ** 0.5)
        y = self.node("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)
        bn = [self.weight("bn_scale", (cout,), 0.1), self.weight("bn_bias", (cout,), 0.1),
              self.weight("bn_mean", (cout,), 0.1)]
        var = self.name("bn_var")
        self.inits.append(numpy_helper.from_array(
            self.rng.uniform(0.5, 1.5, cout).astype(np.float32), var))
        y = self.node("BatchNormalization", [y, *bn, var], epsilon=1e-5)
        return self.node("Relu", [y]) if relu else y

    def basic_block(self, x: str, cin: int, cout: int, stride: int) -> str:
        y = self.conv_bn(x, cin, cout, 3, stride)
        y = self.conv_bn(y, cout, cout, 3, 1, relu=False)
        short = self.conv_bn(x, cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else x
        return self.node("Relu", [self.node("Add", [y, short])])


def resnet18(classes: int = 1000) -> onnx.ModelProto:
    b = _Builder()
    y = b.conv_bn("input", 3, 64, 7, 2)
    y = b.node("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        y = b.basic_block(y, cin, cout, stride)
        y = b.basic_block(y, cout, cout, 1)
        cin = cout
    y = b.node("GlobalAveragePool", [y])
    y = b.node("Flatten", [y], axis=1)
    w = b.weight("fc_w", (classes, 512), 512 ** -0.5)
    bias = b.weight("fc_b", (classes,), 0.01)
    b.nodes.append(helper.make_node("Gemm", [y, w, bias], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes, "resnet18", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="convert_speed")
    onnx.checker.check_model(model)
    return model


def _arrayrt(src: str, dst: str, compress: bool) -> None:
    import arrayrt

    arrayrt.save_model(arrayrt.convert_model(src), dst, compress_to_fp16=compress)


def _openvino(src: str, dst: str, compress: bool) -> None:
    from arrayrt.testing import silence_openvino_telemetry

    silence_openvino_telemetry()  # convert_model's telemetry forks would be timed too
    import openvino

    openvino.save_model(openvino.convert_model(src), dst, compress_to_fp16=compress)


_CONVERTERS = {"arrayrt": _arrayrt, "OpenVINO": _openvino}


def _hwm_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ``ru_maxrss`` it does not inherit the parent's peak
    through fork + exec)."""
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _rss_child(which: str, src: str, dst: str, compress: bool) -> None:
    """Prints {"base": MB after imports, "peak": MB peak} for one convert + save in this process."""
    # both converters imported in both children, so the two baselines compare
    import openvino  # noqa: F401

    import arrayrt  # noqa: F401

    base = _hwm_mb()
    _CONVERTERS[which](src, dst, compress)
    peak = _hwm_mb()
    print(json.dumps({"base": base, "peak": peak}))


def peak_rss(src: str, out: str) -> None:
    print(f"{'peak RSS (MB)':24s}{'fp16':>6s}{'converter':>10s}{'peak':>9s}{'peak-base':>11s}")
    for compress in (False, True):
        for which in _CONVERTERS:
            cmd = [sys.executable, __file__, "--rss-child", which, src, f"{out}/rss.xml", str(int(compress))]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            print(f"{'resnet18':24s}{'on' if compress else 'off':>6s}{which:>10s}"
                  f"{res['peak']:9.0f}{res['peak'] - res['base']:11.0f}")


def _seconds(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def side_by_side(src: str, out: str, repeats: int) -> dict[bool, tuple[float, float]]:
    """{compress: (arrayrt s, OpenVINO s)}: medians, the two converters timed alternately."""
    result = {}
    for compress in (False, True):
        _arrayrt(src, f"{out}/warm_ar.xml", compress)  # imports, registries, first-call caches
        _openvino(src, f"{out}/warm_ov.xml", compress)
        ar_t, ov_t = [], []
        for _ in range(repeats):
            ar_t.append(_seconds(_arrayrt, src, f"{out}/ar.xml", compress))
            ov_t.append(_seconds(_openvino, src, f"{out}/ov.xml", compress))
        result[compress] = (float(np.median(ar_t)), float(np.median(ov_t)))
    return result


def _table(rows: list[tuple[str, dict[bool, tuple[float, float]]]]) -> float:
    print(f"{'model':24s}{'fp16':>6s}{'arrayrt ms':>12s}{'OpenVINO ms':>13s}{'ratio':>8s}")
    worst = 0.0
    for name, res in rows:
        for compress, (a, o) in res.items():
            ratio = a / o
            worst = max(worst, ratio)
            print(f"{name:24s}{'on' if compress else 'off':>6s}{a * 1e3:12.1f}{o * 1e3:13.1f}{ratio:8.2f}")
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--light", action="store_true", help="also time the suite's light model files")
    ap.add_argument("--profile", action="store_true", help="print arrayrt's cProfile (fp16 on)")
    ap.add_argument("--rss", action="store_true", help="peak RSS of one conversion, each in a child process")
    ap.add_argument("--rss-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        which, src, dst, compress = args.rss_child
        _rss_child(which, src, dst, compress == "1")
        return 0

    with tempfile.TemporaryDirectory(prefix="convert_speed_") as tmp:
        src = f"{tmp}/resnet18.onnx"
        onnx.save(resnet18(), src)
        print(f"ResNet-18: {os.path.getsize(src) / 1e6:.1f} MB ONNX, {args.repeats} repeats, median")
        rows = [("resnet18", side_by_side(src, tmp, args.repeats))]
        if args.light:
            light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
            for path in sorted(glob.glob(str(light / "light_*.onnx"))):
                rows.append((Path(path).stem, side_by_side(path, tmp, args.repeats)))
        worst = _table(rows)
        resnet = max(a / o for a, o in rows[0][1].values())
        print(f"ResNet-18 ratio (worst of fp16 off/on): {resnet:.2f} (target <= {TARGET}); "
              f"worst over all models: {worst:.2f}")
        if args.rss:
            peak_rss(src, tmp)
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(_arrayrt, src, f"{tmp}/prof.xml", True)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    return 0 if resnet <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
