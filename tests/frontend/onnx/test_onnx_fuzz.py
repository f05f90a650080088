"""Mutated ONNX models never give a bare traceback: node cases of the ONNX backend suite with one
random mutation (an attribute deleted or set to an odd value, an input emptied, renamed, dropped or
added, a graph input's dim or type changed, the op type swapped) are converted, compiled and run on
CPU with the case's inputs; every failure must be an :class:`arrayrt.errors.ArrayrtError`, never
another exception or a hang. Seeded, so a failure reproduces. The same fuzzer, with larger values,
found pools hanging on a stride of 10^9, Attention dividing by a zero head size and LinearAttention
reading an empty required input (tests of their own now)."""
from __future__ import annotations

import random

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from arrayrt.ir.frontend.onnx import convert_onnx  # noqa: E402

import arrayrt as ar  # noqa: E402
from arrayrt.testing import fails_cleanly  # noqa: E402
from arrayrt.testing.onnx_suite import node_case_dirs, read_tensors  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.onnx_suite]

INTS = [-1, 0, 2, 5, -7]  # small: a mutated size must not ask for gigabytes


def _mutate(m, rng: random.Random) -> None:
    g = m.graph
    n = rng.choice(list(g.node))
    kind = rng.randrange(8)
    A = onnx.AttributeProto
    if kind == 0 and n.attribute:
        del n.attribute[rng.randrange(len(n.attribute))]
    elif kind == 1 and n.attribute:
        a = rng.choice(n.attribute)
        if a.type == A.INT:
            a.i = rng.choice(INTS)
        elif a.type == A.INTS and a.ints:
            v = list(a.ints)
            v[rng.randrange(len(v))] = rng.choice(INTS)
            del a.ints[:]
            a.ints.extend(v[:-1] if rng.random() < 0.3 else v)
        elif a.type == A.FLOAT:
            a.f = rng.choice([float("nan"), -1.0, 0.0, 1e30])
        elif a.type == A.STRING:
            a.s = rng.choice([b"", b"bogus", b"NOTSET"])
    elif kind == 2 and n.input:
        n.input[rng.randrange(len(n.input))] = rng.choice(["", "no_such_tensor"])
    elif kind == 3 and n.input:
        del n.input[-1]
    elif kind == 4:
        n.input.append(rng.choice([n.input[0] if n.input else "x", "no_such"]))
    elif kind == 5 and g.input:
        dims = rng.choice(g.input).type.tensor_type.shape.dim
        if dims:
            rng.choice(dims).dim_value = rng.choice([0, 1, 3])
    elif kind == 6 and g.input:
        rng.choice(g.input).type.tensor_type.elem_type = rng.choice([1, 6, 7, 9, 10, 11, 16, 8])
    elif kind == 7:
        n.op_type = rng.choice(["Add", "Relu", "Conv", "Reshape", "Bogus", "Gather", "Concat", "Split"])


@pytest.mark.parametrize("seed", range(4))
def test_mutated_onnx_fails_with_arrayrt_errors(seed):
    rng = random.Random(seed)
    cases = node_case_dirs()
    core = ar.Core()
    for draw in range(400):
        case = rng.choice(cases)
        m = onnx.load(str(case / "model.onnx"))
        inputs = read_tensors(case / "test_data_set_0", "input")
        if inputs is None or not m.graph.node:  # sequence or map inputs: not this test's business
            continue
        _mutate(m, rng)

        def run():
            with np.errstate(all="ignore"):
                core.compile_model(convert_onnx(m), "CPU")(inputs)

        fails_cleanly(run, f"seed {seed}, draw {draw} ({case.name})")
