"""The CPU backend's numba loops (backends/numpy/compiled.py) against the numpy kernels they replace.

    .venv/bin/python benchmarks/compiled_kernels.py [--runs 30] [--threads 1]

* Depthwise 3x3 convolution + bias + ReLU6 on each of MobileNetV2's 17 depthwise layer shapes
  (batch 1): ``ConvPlan`` with the compiled loop, and with ``ARRAYRT_NUMBA=0`` (the numpy kernels),
  both given ``--threads``; the sum over the layers is the figure quoted in docs/performance.md.
* Bias + GELU (erf) of BERT-tiny's FFN output (128x512): the compiled pass against numpy's fit.

Each time is the best of ``--runs`` calls (the least disturbed by other work); the outputs of the two
are compared (float32 rounding apart).
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from arrayrt.backends.numpy import compiled
from arrayrt.backends.numpy import conv_kernels as ck
from arrayrt.ir.ops.activation import _gelu_erf
from indexing_kernels import best_ms  # benchmarks/ is on the path when this script runs

#: MobileNetV2 (torchvision) depthwise layers: channels, input size, stride
MOBILENET_V2_DEPTHWISE = [(32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 1),
                          (192, 28, 2), (384, 14, 1), (384, 14, 1), (384, 14, 1), (576, 14, 1), (576, 14, 1),
                          (576, 14, 1), (576, 14, 2), (960, 7, 1), (960, 7, 1), (960, 7, 1)]


def relu6(y: np.ndarray) -> None:
    np.clip(y, 0.0, 6.0, out=y)


relu6.bounds = (0.0, 6.0)


def depthwise(runs: int, threads: int) -> None:
    print(f"depthwise 3x3 + bias + ReLU6, {threads} thread(s), best of {runs}:")
    print(f"{'C':>5} {'HxW':>8} {'s':>2} {'numba ms':>9} {'numpy ms':>9} {'speed-up':>9} {'max|diff|':>10}")
    totals = [0.0, 0.0]
    rng = np.random.default_rng(0)
    for c, size, s in MOBILENET_V2_DEPTHWISE:
        x = rng.standard_normal((1, c, size, size)).astype(np.float32)
        w = rng.standard_normal((c, 1, 9)).astype(np.float32)
        bias = rng.standard_normal((1, c, 1, 1)).astype(np.float32)
        args = (x.shape, c, 1, (3, 3), (s, s), (1, 1), (1, 1), (1, 1), np.dtype("f4"), np.dtype("f4"))
        plans = []
        for env in ("1", "0"):
            os.environ[compiled.ENV] = env
            plans.append(ck.ConvPlan(*args, threads=threads))
        os.environ.pop(compiled.ENV)
        assert plans[0].method == "compiled" and plans[1].method != "compiled"
        times = [best_ms(lambda p=p: p(x, w, bias, relu6), runs) for p in plans]
        diff = float(np.abs(plans[0](x, w, bias, relu6) - plans[1](x, w, bias, relu6)).max())
        totals = [a + b for a, b in zip(totals, times)]
        print(f"{c:>5} {size:>4}x{size:<3} {s:>2} {times[0]:>9.3f} {times[1]:>9.3f} {times[1] / times[0]:>8.1f}x"
              f" {diff:>10.1e}")
    print(f"{'all 17 layers':>17} {totals[0]:>9.2f} {totals[1]:>9.2f} {totals[1] / totals[0]:>8.1f}x")


def gelu(runs: int) -> None:
    rng = np.random.default_rng(1)
    y = rng.standard_normal((128, 512)).astype(np.float32)
    bias = rng.standard_normal(512).astype(np.float32)
    t_numba = best_ms(lambda: compiled.bias_gelu_erf(y.copy(), bias), runs)
    t_numpy = best_ms(lambda: _gelu_erf(np, np.add(y, bias)), runs)
    t_copy = best_ms(lambda: y.copy(), runs)
    diff = float(np.abs(compiled.bias_gelu_erf(y.copy(), bias) - _gelu_erf(np, y + bias)).max())
    print(f"bias + GELU(erf) 128x512, best of {runs}: numba {(t_numba - t_copy) * 1e3:.0f} us, "
          f"numpy {(t_numpy - t_copy) * 1e3:.0f} us (a copy, {t_copy * 1e3:.0f} us, taken off both), "
          f"max|diff| {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not compiled.available():
        raise SystemExit("numba is not installed (or ARRAYRT_NUMBA=0): nothing to compare")
    compiled.warm_up()
    depthwise(args.runs, args.threads)
    gelu(args.runs)


if __name__ == "__main__":
    main()
