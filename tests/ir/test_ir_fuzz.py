"""Mutated IR never gives a bare traceback: the interop models' IR with one to three random mutations
(attributes deleted or set to odd values, dims, precisions, edges, layer types and ids) is read,
compiled and run on CPU; every failure must be an :class:`arrayrt.errors.ArrayrtError` (which names
the layer), never another exception or a hang. Seeded, so a failure reproduces; the same fuzzer
found a Parameter layer with input ports reading nodes not yet built (a bare KeyError)."""
from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

import arrayrt as ar
import arrayrt.opset as ops
import arrayrt.testing.models as tm
from arrayrt.testing import fails_cleanly

pytestmark = pytest.mark.slow

ODD = ["", "abc", "-1", "0", "1,2,3", "1.5", "nan", "?", "1,,2", "  ", "explicit", "f17", "99"]


def _mutate(xml: str, rng: random.Random) -> str:
    root = ET.fromstring(xml)
    layers, edges = root.find("layers"), root.find("edges")
    layer = rng.choice(layers.findall("layer"))
    data = layer.find("data")
    kind = rng.randrange(9)
    if kind == 0 and data is not None and data.attrib:
        del data.attrib[rng.choice(sorted(data.attrib))]
    elif kind == 1 and data is not None and data.attrib:
        data.attrib[rng.choice(sorted(data.attrib))] = rng.choice(ODD)
    elif kind == 2 and layer.findall(".//dim"):
        rng.choice(layer.findall(".//dim")).text = rng.choice(ODD)
    elif kind == 3:
        edge = rng.choice(edges.findall("edge"))
        edge.attrib[rng.choice(["from-layer", "to-layer", "from-port", "to-port"])] = rng.choice(
            ["9999", "-1", "x", "0", "1"])
    elif kind == 4:
        edges.remove(rng.choice(edges.findall("edge")))
    elif kind == 5:
        edges.append(ET.Element("edge", dict(rng.choice(edges.findall("edge")).attrib)))
    elif kind == 6:
        layer.attrib["type"] = rng.choice(["Unknown", "Add", "Relu", "Convolution", "Result", "Parameter", "Const"])
    elif kind == 7 and layer.findall(".//port"):
        rng.choice(layer.findall(".//port")).attrib["precision"] = rng.choice(["FP99", "", "I4", "BOOL", "U1"])
    elif kind == 8:
        layer.attrib[rng.choice(["version", "id"])] = rng.choice(["opset99", "", "x", "1", "0"])
    return ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize("name", sorted(tm.INTEROP_MODELS))
def test_mutated_ir_fails_with_arrayrt_errors(name, tmp_path):
    model = tm.make_model(ops, tm.INTEROP_MODELS[name], name)
    ar.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    xml, weights = (tmp_path / "m.xml").read_text(), (tmp_path / "m.bin").read_bytes()
    inputs = tm.sample_inputs(model)
    rng = random.Random(name)
    core = ar.Core()
    for draw in range(60):
        mutated = xml
        for _ in range(1 + rng.randrange(3)):
            mutated = _mutate(mutated, rng)
        fails_cleanly(lambda: core.compile_model(core.read_model(mutated.encode(), weights), "CPU")(inputs),
                      f"draw {draw} of {name}:\n{mutated}")
