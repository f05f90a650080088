"""arrayrt's asv benchmarks (``asv.conf.json`` at the repository root points here).

* :mod:`.models` — the benchmark models of :mod:`arrayrt.testing.models` on every backend: compile
  time, inference time, peak memory;
* :mod:`.ops` — one small graph per registered op type on every backend, with the coverage guard
  ``track_uncovered_ops`` (and ``tests/tools/test_asv_suite.py``) failing when an op type lacks one.

A backend that is absent here, or that refuses a model or op, is skipped (``setup`` raises
``NotImplementedError``, asv's skip).
"""
