"""Dimension and PartialShape: spelling and semantics against ``openvino.Dimension`` /
``openvino.PartialShape``, and the shape spellings of IR (Parameter ``shape``, Const ``shape``,
port ``<dim>``) read and written as OpenVINO does."""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from arrayrt.ir.io.writer import to_ir
from arrayrt.ir.shape import INF, UNBOUNDED, Dimension, PartialShape

import arrayrt
import arrayrt.opset as aops
from arrayrt.errors import ArrayrtError

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset16")
pytestmark = pytest.mark.openvino

DIM_ARGS = [(), (-1,), (0,), (3,), (1, 10), (0, 10), (2, -1), (0, -1), (5, 5), (-5, 10),
            ("?",), ("1..10",), ("..10",), ("2..",), ("-1",), ("3",), (" 7 ",)]
DIMS = [(), (3,), (1, 10), (0, 10), (2, -1), (1, 3), (3, 8), (4, -1), (0,), (11, 12)]
SHAPES = ["?,3,1..224,..10", "...", "[...]", "", "[]", "[1,2]", "1, 2", "[?]", "-1,2", "1,-1",
          "2..,..5,3..4,7", "0", "1,3,224,224"]


@pytest.mark.parametrize("args", DIM_ARGS, ids=str)
def test_dimension_spelling_and_bounds_match_openvino(args):
    d, o = Dimension(*args), ov.Dimension(*[a.strip() if isinstance(a, str) else a for a in args])
    assert str(d) == str(o) and repr(d) == repr(o)
    assert (d.min_length, d.max_length) == (o.min_length, o.max_length)
    assert (d.get_min_length(), d.get_max_length()) == (o.get_min_length(), o.get_max_length())
    assert (d.is_static, d.is_dynamic) == (o.is_static, o.is_dynamic)
    if o.is_static:
        assert d.get_length() == o.get_length() == int(d) and d == o.get_length()
    else:
        with pytest.raises(ArrayrtError):
            d.get_length()


@pytest.mark.parametrize("a,b", list(itertools.product(DIMS, repeat=2)), ids=str)
def test_dimension_relations_match_openvino(a, b):
    da, db, oa, ob = Dimension(*a), Dimension(*b), ov.Dimension(*a), ov.Dimension(*b)
    assert da.compatible(db) == oa.compatible(ob)
    assert da.refines(db) == oa.refines(ob)
    assert da.relaxes(db) == oa.relaxes(ob)
    if oa.compatible(ob):  # the intersection (OpenVINO's Python API has no merge to compare)
        m = da.merge(db)
        assert m.refines(da) and m.refines(db)
        assert all(m.contains(v) == (da.contains(v) and db.contains(v)) for v in range(14))
    else:
        with pytest.raises(ArrayrtError):
            da.merge(db)


@pytest.mark.parametrize("args", [(10, 2), (-2,), (3, 1)], ids=str)
def test_dimensions_openvino_makes_no_sense_of_are_refused(args):
    """OpenVINO turns an empty interval into a '?' of bounds -1..-1 and ``Dimension(-2)`` into 0;
    arrayrt refuses both."""
    with pytest.raises(ArrayrtError):
        Dimension(*args)


@pytest.mark.parametrize("text", ["x", "1..x", "?..3", "-2", "1.5", "3..2"])
def test_bad_dimension_text_is_refused(text):
    with pytest.raises(ArrayrtError, match="bad dimension"):
        Dimension(text)


def test_dimension_equality_and_hash_agree():
    assert Dimension(3) == 3 and hash(Dimension(3)) == hash(3) and Dimension(2, 5) == Dimension("2..5")
    assert len({Dimension(3), 3, Dimension("3")}) == 1 and Dimension() != Dimension(0, 5)


def test_dimension_arithmetic():
    assert Dimension(2, 5) + Dimension(1, 3) == Dimension(3, 8)
    assert Dimension(2, -1) + 1 == Dimension(3, -1)
    assert Dimension(2, 5) * Dimension(1, 3) == Dimension(2, 15)
    assert Dimension() * 0 == Dimension(0) and Dimension(4) * Dimension(3) == Dimension(12)


@pytest.mark.parametrize("text", SHAPES)
def test_partial_shape_spelling_matches_openvino(text):
    s, o = PartialShape(text), ov.PartialShape(text)
    assert str(s) == str(o) and repr(s) == repr(o)
    assert s.rank_is_static == o.rank.is_static and str(s.rank) == str(o.rank)
    assert (s.is_static, s.is_dynamic) == (o.is_static, o.is_dynamic)
    assert s.get_min_shape() == tuple(o.get_min_shape())
    assert s.get_max_shape() == tuple(o.get_max_shape())
    if o.is_static:
        assert s.to_shape() == tuple(o.to_shape()) == s.get_shape()
    else:
        with pytest.raises(ArrayrtError):
            s.to_shape()
    if o.rank.is_static:
        assert len(s) == len(o) and [str(d) for d in s] == [str(d) for d in o]
        assert s == PartialShape([Dimension(d.get_min_length(), d.get_max_length()) for d in o])
    else:
        with pytest.raises(ArrayrtError):
            len(s)


@pytest.mark.parametrize("a,b", list(itertools.product(["?,3", "...", "1..4,3", "2,3", "2,?", "5,3",
                                                        "2,3,4", "2..,1..3", "[]"], repeat=2)), ids=str)
def test_partial_shape_relations_match_openvino(a, b):
    sa, sb, oa, ob = PartialShape(a), PartialShape(b), ov.PartialShape(a), ov.PartialShape(b)
    assert sa.compatible(sb) == oa.compatible(ob)
    assert sa.refines(sb) == oa.refines(ob)
    assert sa.relaxes(sb) == oa.relaxes(ob)
    assert (sa == sb) == (oa == ob)
    if oa.compatible(ob):
        merged = sa.merge(sb)
        assert merged.refines(sa) and merged.refines(sb)
    else:
        with pytest.raises(ArrayrtError):
            sa.merge(sb)


def test_partial_shape_constructors_and_helpers():
    assert str(PartialShape.dynamic()) == str(ov.PartialShape.dynamic()) == "[...]"
    assert str(PartialShape.dynamic(2)) == str(ov.PartialShape.dynamic(2)) == "[?,?]"
    assert PartialShape([1, (2, 5), "?", Dimension(3, -1)]) == PartialShape("1,2..5,?,3..")
    assert PartialShape([1, 2]) == [1, 2] and PartialShape("1,2") != [1, 3] and PartialShape("...") != [1]
    assert PartialShape("2..4,3").accepts((3, 3)) and not PartialShape("2..4,3").accepts((5, 3))
    assert not PartialShape("2,3").accepts((2, 3, 1)) and PartialShape.dynamic().accepts((7,))
    assert PartialShape("1,?,3")[1:] == PartialShape("?,3")
    assert PartialShape("..10,?").get_max_shape() == (10, UNBOUNDED) and Dimension().max == INF
    assert PartialShape("?,1..10,4").to_ir() == "?,1..10,4" and PartialShape.dynamic().to_ir() == "..."
    assert PartialShape([]).to_ir() == "" and hash(PartialShape("1,2")) == hash(PartialShape([1, 2]))


# --- shapes in IR ---------------------------------------------------------------------------------
PARAM_SHAPES = ["?,1..10,4", "..10,2..,1..5,?", "...", "", "1,3,224,224", "0,2", "?"]


def test_parameter_shapes_round_trip_with_openvino(tmp_path):
    """OpenVINO writes ``?``, ``a..b``, ``..b``, ``a..``, ``...`` and scalars in Parameter
    ``shape``; arrayrt reads the same partial shapes, and writes the same text (and ``<dim>``: -1
    for every dynamic dimension, none for a dynamic rank)."""
    params = [ops.parameter(ov.PartialShape(s), np.float32, name=f"p{i}") for i, s in enumerate(PARAM_SHAPES)]
    for p in params:
        p.output(0).set_names({p.get_friendly_name()})
    ov.save_model(ov.Model([p.output(0) for p in params], params, "m"), tmp_path / "m.xml",
                  compress_to_fp16=False)
    theirs = (tmp_path / "m.xml").read_text()
    model = arrayrt.read_model(tmp_path / "m.xml")
    want = [str(ov.PartialShape(s)) for s in PARAM_SHAPES]
    assert [str(i.get_partial_shape()) for i in model.inputs] == want
    assert re.findall(r'<data shape="([^"]*)"', theirs) == [PartialShape(s).to_ir() for s in PARAM_SHAPES]
    arrayrt.serialize(model, tmp_path / "a.xml")
    assert (tmp_path / "a.xml").read_text() == theirs


def test_const_shape_uses_comma_space_and_scalars_are_empty(tmp_path):
    shapes = [(4, 3, 2), (), (1,)]
    consts = [ops.constant(np.zeros(s, np.float32), name=f"c{i}") for i, s in enumerate(shapes)]
    ov.save_model(ov.Model([c.output(0) for c in consts], [], "m"), tmp_path / "m.xml",
                  compress_to_fp16=False)
    theirs = re.findall(r'shape="([^"]*)"', (tmp_path / "m.xml").read_text())
    assert sorted(theirs) == ["", "1", "4, 3, 2"]
    model = arrayrt.read_model(tmp_path / "m.xml")
    assert [o.get_partial_shape().to_shape() for o in model.outputs] == [(4, 3, 2), (), (1,)]
    mine = [aops.constant(np.zeros(s, np.float32), name=f"c{i}") for i, s in enumerate(shapes)]
    xml, _ = to_ir(arrayrt.Model([c.output(0) for c in mine], [], "m"))
    assert re.findall(r'shape="([^"]*)"', xml) == theirs


def test_dynamic_shapes_propagate_through_a_read_model(tmp_path):
    """Shape inference on a read model gives the shapes OpenVINO infers."""
    x = ops.parameter(ov.PartialShape("?,1..10,4"), np.float32, name="x")
    y = ops.parameter(ov.PartialShape("2..,1,4"), np.float32, name="y")
    z = ops.add(x, y, name="z")
    m = ov.Model([z.output(0), ops.shape_of(z, name="s").output(0)], [x, y], "m")
    ov.save_model(m, tmp_path / "m.xml", compress_to_fp16=False)
    mine = arrayrt.read_model(tmp_path / "m.xml")
    want = [str(o.get_partial_shape()) for o in m.outputs]
    assert [str(o.get_partial_shape()) for o in mine.outputs] == want
