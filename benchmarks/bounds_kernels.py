"""The numpy backend's bounds (backends/numpy/bounds.py) against numpy's ufuncs with a scalar bound.

    .venv/bin/python benchmarks/bounds_kernels.py [--runs 30]

On ResNet-18's largest activation (1x64x112x112 float32): Relu in place (a fused convolution's
epilogue), and Relu and Clamp(0, 6) nodes' new results, each as numpy's ufuncs against scalar bounds
(what the ops' generic computes do) and as :func:`~arrayrt.backends.numpy.bounds.clamp` (a constant
block for one bound, ``numpy.clip`` for two); ``numpy.add`` of a scalar is printed beside them as
the speed of a vectorised pass. Times are the best of ``--runs`` (the least
disturbed by other work); the results are compared (zeros' signs aside).
"""
from __future__ import annotations

import argparse

import numpy as np
from arrayrt.backends.numpy import bounds
from indexing_kernels import best_ms  # benchmarks/ is on the path when this script runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal((1, 64, 112, 112)).astype(np.float32)
    y = x.copy()
    cases = [
        ("Relu in place", lambda: np.maximum(y, 0.0, out=y), lambda: bounds.clamp_(y, 0.0)),
        ("Relu, new array", lambda: np.maximum(x, 0.0), lambda: bounds.clamp(x, 0.0)),
        ("Clamp(0, 6), new array", lambda: np.minimum(np.maximum(x, 0.0), 6.0), lambda: bounds.clamp(x, 0.0, 6.0)),
    ]
    print(f"1x64x112x112 float32, best of {args.runs}; numpy.add of a scalar in place: "
          f"{best_ms(lambda: np.add(y, 1.0, out=y), args.runs):.3f} ms")
    print(f"{'case':<24} {'ufuncs ms':>10} {'bounds ms':>9} {'speed-up':>9}")
    for name, scalar, block in cases:
        t_scalar, t_block = best_ms(scalar, args.runs), best_ms(block, args.runs)
        print(f"{name:<24} {t_scalar:>10.3f} {t_block:>9.3f} {t_scalar / t_block:>8.1f}x")
    for name, scalar, block in cases[1:]:  # the new arrays (== counts -0.0 and +0.0 as equal)
        assert np.array_equal(scalar(), block()), name


if __name__ == "__main__":
    main()
