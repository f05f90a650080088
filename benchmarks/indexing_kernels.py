"""The numpy backend's indexing overrides against the generic array-API computes on numpy.

    .venv/bin/python benchmarks/indexing_kernels.py [--runs N]

Each case builds one node, takes the override kernel (``NumpyBackend().kernel``) and the generic one
(``node.op.kernel(numpy, node)``), checks they agree to the bit, and prints the time of each
(and of a plain-numpy baseline where there is one). Times are the best of N runs: the least disturbed
by other work on the machine.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from arrayrt.backends.numpy import NumpyBackend

import arrayrt.opset as ops


def best_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def param(a: np.ndarray):
    return ops.parameter(list(a.shape), a.dtype)


def kv_cache():
    rng = np.random.default_rng(0)
    cache = rng.standard_normal((1, 32, 2048, 128)).astype(np.float32)
    idx, upd = np.array([1000], np.int64), rng.standard_normal((1, 32, 1, 128)).astype(np.float32)
    node = ops.scatter_update(param(cache), param(idx), param(upd), np.int64(2))

    def baseline():
        out = cache.copy()
        out[:, :, idx] = upd

    return "ScatterUpdate [1,32,2048,128] axis 2, one index", node, [cache, idx, upd, np.int64(2)], baseline


def elements(reduction: str, use_init_val: bool = True):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((1000, 1000)).astype(np.float32)
    idx = rng.integers(0, 1000, (1000, 1000)).astype(np.int32)
    upd = rng.standard_normal((1000, 1000)).astype(np.float32)
    node = ops.scatter_elements_update(param(data), param(idx), param(upd), np.int64(0), reduction, use_init_val)
    baseline = None
    if reduction == "sum" and use_init_val:
        flat = (idx.astype(np.int64) * 1000 + np.arange(1000)).reshape(-1)

        def baseline():
            out = data.copy()
            np.add.at(out.reshape(-1), flat, upd.reshape(-1))

    name = f"ScatterElementsUpdate 1000x1000, 1e6 updates, {reduction}{'' if use_init_val else ', no init'}"
    return name, node, [data, idx, upd, np.int64(0)], baseline


def scatter_nd(reduction: str):
    rng = np.random.default_rng(2)
    data = rng.standard_normal((10000, 128)).astype(np.float32)
    idx = rng.integers(0, 10000, (5000, 1)).astype(np.int64)
    upd = rng.standard_normal((5000, 128)).astype(np.float32)
    node = ops.scatter_nd_update(param(data), param(idx), param(upd), reduction)
    return f"ScatterNDUpdate [10000,128], 5000 rows, {reduction}", node, [data, idx, upd], None


def topk(shape, k: int, mode: str, sort: str):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    node = ops.topk(param(x), np.int64(k), -1, mode, sort, "i32")

    def baseline():
        part = np.argpartition(-x if mode == "max" else x, k - 1, axis=-1)[:, :k]
        return np.take_along_axis(x, part, axis=-1)

    return f"TopK {list(shape)} k={k} {mode} {sort}", node, [x, np.int64(k)], baseline


def gather_nd():
    rng = np.random.default_rng(4)
    data = rng.standard_normal((1000, 1000, 8)).astype(np.float32)
    idx = rng.integers(-1000, 1000, (100000, 2)).astype(np.int32)
    node = ops.gather_nd(param(data), param(idx))
    return "GatherND [1000,1000,8], 1e5 index pairs", node, [data, idx], lambda: data[idx[:, 0], idx[:, 1]]


def gather_elements(axis: int):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((1000, 1000)).astype(np.float32)
    idx = rng.integers(-1000, 1000, (1000, 1000)).astype(np.int64)
    node = ops.gather_elements(param(data), param(idx), axis)
    return f"GatherElements 1000x1000 axis {axis}", node, [data, idx], None


CASES = [kv_cache, lambda: elements("sum"), lambda: elements("none"), lambda: elements("mean"),
         lambda: elements("max", False), lambda: scatter_nd("none"), lambda: scatter_nd("sum"),
         lambda: topk((32, 1000), 5, "max", "value"), lambda: topk((32, 1000), 5, "min", "index"),
         lambda: topk((8, 32000), 50, "max", "value"), gather_nd, lambda: gather_elements(0), lambda: gather_elements(1)]


def same(a, b) -> bool:
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    backend = NumpyBackend()
    print(f"numpy {np.__version__}; best of {args.runs} runs, ms")
    print(f"{'case':<62s} {'override':>9s} {'generic':>9s} {'speed-up':>9s} {'numpy':>9s}")
    for make_case in CASES:
        name, node, inputs, baseline = make_case()
        fast, generic = backend.kernel(node), node.op.kernel(np, node)
        if not same(fast(*inputs), generic(*inputs)):
            raise SystemExit(f"{name}: the override and the generic compute differ")
        t_fast = best_ms(lambda: fast(*inputs), args.runs)
        t_gen = best_ms(lambda: generic(*inputs), max(3, args.runs // 3))
        t_np = f"{best_ms(baseline, args.runs):9.2f}" if baseline is not None else f"{'-':>9s}"
        print(f"{name:<62s} {t_fast:9.2f} {t_gen:9.2f} {t_gen / t_fast:8.1f}x {t_np}")


if __name__ == "__main__":
    main()
