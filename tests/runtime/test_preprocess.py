"""``arrayrt.preprocess.PrePostProcessor`` against OpenVINO's, step for step: the same description
builds the same ops and the same numbers."""
from __future__ import annotations

import numpy as np
import pytest

import arrayrt as ar
import arrayrt.opset as aops
from arrayrt.errors import ArrayrtError

ov = pytest.importorskip("openvino")
ovops = pytest.importorskip("openvino.opset16")

RNG = np.random.default_rng(0)
W = RNG.normal(0, 0.2, (4, 3, 3, 3)).astype(np.float32)


def conv_model(lib, ops, shape=(1, 3, 8, 8)):
    x = ops.parameter(list(shape), np.float32, name="image")
    x.output(0).set_names({"image"})
    y = ops.relu(ops.convolution(x, W, [1, 1], [1, 1], [1, 1], [1, 1]), name="act")
    y.output(0).set_names({"features"})
    return lib.Model([y], [x], "m")


def both(describe, shape=(1, 3, 8, 8)):
    """(arrayrt model, OpenVINO model), each built by ``describe(lib, pre, ppp)``."""
    import openvino.preprocess as ovpre

    import arrayrt.preprocess as arpre

    out = []
    for lib, ops, pre in ((ar, aops, arpre), (ov, ovops, ovpre)):
        model = conv_model(lib, ops, shape)
        ppp = pre.PrePostProcessor(model)
        describe(lib, pre, ppp)
        out.append(ppp.build())
    return out


def run_both(models, x):
    ours = ar.Core().compile_model(models[0], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([x])[0]
    theirs = ov.Core().compile_model(models[1], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([x])[0]
    return np.asarray(ours), np.asarray(theirs)


def op_types(model):
    return [n.get_type_name() for n in model.get_ordered_ops() if n.get_type_name() != "Constant"]


def full_description(lib, pre, ppp):
    ppp.input().tensor().set_element_type(lib.Type.u8).set_layout(lib.Layout("NHWC")) \
        .set_spatial_dynamic_shape().set_color_format(pre.ColorFormat.BGR)
    ppp.input().model().set_layout(lib.Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(lib.Type.f32).convert_color(pre.ColorFormat.RGB) \
        .resize(pre.ResizeAlgorithm.RESIZE_LINEAR).mean([100.0, 110.0, 120.0]).scale([50.0, 60.0, 70.0])
    ppp.output().tensor().set_element_type(lib.Type.f16).set_layout(lib.Layout("NHWC"))
    ppp.output().model().set_layout(lib.Layout("NCHW"))


def test_full_pipeline_matches_openvino():
    ours, theirs = both(full_description)
    assert op_types(ours) == op_types(theirs)
    assert str(ours.input(0).get_partial_shape()) == str(theirs.input(0).get_partial_shape()) == "[1,?,?,3]"
    assert ours.input(0).get_element_type() == ar.Type.u8
    assert ours.output(0).get_names() == {"features"} and ours.input(0).get_names() == {"image"}
    x = RNG.integers(0, 256, (1, 13, 17, 3), dtype=np.uint8)
    a, b = run_both((ours, theirs), x)
    assert a.dtype == b.dtype == np.float16 and a.shape == b.shape == (1, 8, 8, 4)
    np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("algorithm", ["RESIZE_LINEAR", "RESIZE_CUBIC", "RESIZE_NEAREST", "RESIZE_BILINEAR_PILLOW",
                                       "RESIZE_BICUBIC_PILLOW"])
def test_resize_algorithms_to_a_static_spatial_shape(algorithm):
    def describe(lib, pre, ppp):
        ppp.input().tensor().set_spatial_static_shape(11, 5)
        ppp.input().model().set_layout(lib.Layout("NCHW"))
        ppp.input().preprocess().resize(getattr(pre.ResizeAlgorithm, algorithm))

    ours, theirs = both(describe)
    assert str(ours.input(0).get_partial_shape()) == "[1,3,11,5]"
    a, b = run_both((ours, theirs), RNG.normal(size=(1, 3, 11, 5)).astype(np.float32))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("algorithm, pil_filter", [("RESIZE_BILINEAR_PILLOW", "BILINEAR"),
                                                   ("RESIZE_BICUBIC_PILLOW", "BICUBIC")])
def test_pillow_resize_matches_pillow_itself(algorithm, pil_filter):
    """Pillow itself as the oracle (its bicubic has a = -0.5, which OpenVINO's ppp does not write)."""
    image_mod = pytest.importorskip("PIL.Image")
    from arrayrt.preprocess import PrePostProcessor, ResizeAlgorithm

    img = RNG.uniform(0, 255, (13, 17)).astype(np.float32)
    x = aops.parameter([1, 1, 8, 6], np.float32, name="image")
    ppp = PrePostProcessor(ar.Model([aops.relu(x)], [x]))
    ppp.input().tensor().set_spatial_static_shape(13, 17)
    ppp.input().model().set_layout(ar.Layout("NCHW"))
    ppp.input().preprocess().resize(getattr(ResizeAlgorithm, algorithm))
    ours = ar.compile_model(ppp.build(), "CPU")(img[None, None])[0][0, 0]
    ref = np.asarray(image_mod.fromarray(img, mode="F").resize((6, 8), getattr(image_mod, pil_filter)))
    np.testing.assert_allclose(ours, np.maximum(ref, 0), atol=1e-3)


@pytest.mark.parametrize("mode, value", [("CONSTANT", 2.5), ("CONSTANT", [-1.0]), ("REFLECT", 0.0),
                                         ("SYMMETRIC", 0.0)])
def test_pad_matches_openvino(mode, value):
    def describe(lib, pre, ppp):
        ppp.input().tensor().set_shape([1, 3, 7, 5])
        ppp.input().preprocess().pad([0, 0, 1, 2], [0, 0, 0, 1], value, getattr(pre.PaddingMode, mode))

    ours, theirs = both(describe)
    assert op_types(ours) == op_types(theirs) and "Pad" in op_types(ours)
    assert str(ours.input(0).get_partial_shape()) == "[1,3,7,5]"
    a, b = run_both((ours, theirs), RNG.normal(size=(1, 3, 7, 5)).astype(np.float32))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_scalar_mean_scale_reverse_layout_list_crop_and_custom():
    def describe(lib, pre, ppp):
        ops = aops if lib is ar else ovops
        ppp.input().tensor().set_shape([1, 10, 10, 3])
        ppp.input().model().set_layout(lib.Layout("NCHW"))
        ppp.input().preprocess().convert_layout([0, 3, 1, 2]).crop([0, 0, 1, 2], [1, 3, 9, 10]).mean(0.5) \
            .scale(3.0).reverse_channels().custom(lambda out: ops.absolute(out).output(0))

    ours, theirs = both(describe)
    # OpenVINO folds the channel reversal into the convolution's weights; arrayrt keeps the Gather
    assert [t for t in op_types(ours) if t != "Gather"] == op_types(theirs)
    assert op_types(ours).count("Gather") == 1
    a, b = run_both((ours, theirs), RNG.normal(size=(1, 10, 10, 3)).astype(np.float32))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_implicit_type_and_layout_conversions_and_postprocess():
    def describe(lib, pre, ppp):
        ppp.input().tensor().set_element_type(lib.Type.u8).set_layout(lib.Layout("NHWC"))
        ppp.input().model().set_layout(lib.Layout("NCHW"))
        ppp.output().model().set_layout(lib.Layout("NCHW"))
        ppp.output().postprocess().convert_layout(lib.Layout("NHWC")).convert_element_type(lib.Type.f16)

    ours, theirs = both(describe)
    # OpenVINO builds the output's Convert before its Transpose (the same numbers either way)
    assert sorted(op_types(ours)) == sorted(op_types(theirs))
    a, b = run_both((ours, theirs), RNG.integers(0, 4, (1, 8, 8, 3), dtype=np.uint8))
    assert a.dtype == np.float16 and a.shape == (1, 8, 8, 4)
    np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-3, atol=1e-3)


def test_built_model_round_trips_through_ir_into_openvino(tmp_path):
    ours, theirs = both(full_description)
    ar.save_model(ours, tmp_path / "ppp.xml", compress_to_fp16=False)
    reread = ov.Core().read_model(tmp_path / "ppp.xml")
    x = RNG.integers(0, 256, (1, 9, 12, 3), dtype=np.uint8)
    a = np.asarray(ov.Core().compile_model(reread, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([x])[0])
    b = np.asarray(ov.Core().compile_model(theirs, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([x])[0])
    np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=2e-3, atol=2e-3)


def test_inputs_by_name_and_index():
    from arrayrt.preprocess import PrePostProcessor

    a = aops.parameter([2, 3], np.float32, name="a")
    a.output(0).set_names({"a"})
    b = aops.parameter([2, 3], np.float32, name="b")
    b.output(0).set_names({"b"})
    model = ar.Model([aops.add(a, b)], [a, b])
    ppp = PrePostProcessor(model)
    ppp.input("b").tensor().set_element_type(ar.Type.i32)
    ppp.input(0).preprocess().scale(2.0)
    model = ppp.build()
    out = ar.compile_model(model, "CPU")({"a": np.full((2, 3), 4, np.float32), "b": np.full((2, 3), 3, np.int32)})[0]
    np.testing.assert_array_equal(out, np.full((2, 3), 5, np.float32))
    with pytest.raises(ArrayrtError, match="has 2 inputs"):
        PrePostProcessor(model).input()
    with pytest.raises(ArrayrtError, match="no input 'c'"):
        PrePostProcessor(model).input("c")


@pytest.mark.parametrize("case, message", [
    ("mean_without_layout", "layout's 'C' dimension"),
    ("spatial_without_resize", "add a resize step"),
    ("yuv", "NV12_SINGLE_PLANE is not supported"),
    ("scale_zero", "must not be 0"),
    ("mean_wrong_count", "has 4 values, the tensor has 3 channels"),
    ("mean_on_integers", "needs a floating-point tensor"),
    ("pad_rank", "pad has 2 values per side for a tensor of rank 4"),
])
def test_bad_descriptions_are_clear_errors(case, message):
    from arrayrt.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm

    model = conv_model(ar, aops)
    ppp = PrePostProcessor(model)
    inp = ppp.input()
    if case == "mean_without_layout":
        inp.preprocess().mean([1.0, 2.0, 3.0])
    elif case == "spatial_without_resize":
        inp.tensor().set_spatial_static_shape(4, 4)
        inp.model().set_layout(ar.Layout("NCHW"))
    elif case == "yuv":
        inp.tensor().set_color_format(ColorFormat.NV12_SINGLE_PLANE)
        inp.preprocess().resize(ResizeAlgorithm.RESIZE_LINEAR)
    elif case == "scale_zero":
        inp.preprocess().scale([1.0, 0.0, 2.0])
    elif case == "pad_rank":
        inp.preprocess().pad([1, 1], [1, 1])
    elif case == "mean_wrong_count":
        inp.model().set_layout(ar.Layout("NCHW"))
        inp.preprocess().mean([1.0, 2.0, 3.0, 4.0])
    else:
        inp.tensor().set_element_type(ar.Type.u8)
        inp.model().set_layout(ar.Layout("NCHW"))
        inp.preprocess().mean([1.0, 2.0, 3.0])
    with pytest.raises(ArrayrtError, match=message):
        ppp.build()


def test_pad_values_are_checked_when_described():
    from arrayrt.preprocess import PrePostProcessor

    steps = PrePostProcessor(conv_model(ar, aops)).input().preprocess()
    with pytest.raises(ArrayrtError, match=r"the value must be one number, got 2: \[1.0, 2.0\]"):
        steps.pad([0, 0, 1, 1], [0, 0, 1, 1], [1.0, 2.0])
    with pytest.raises(ArrayrtError, match="differ in length"):
        steps.pad([0, 0, 1, 1], [0, 1])


def test_type_accessors_as_in_openvino():
    t = ar.Type.f16
    assert t.is_real() and t.is_real and not t.is_integral() and t.is_signed()
    assert (t.size, t.get_size(), t.get_bitwidth()) == (2, 2, 16)
    assert ar.Type.u1.size == 1 and ar.Type.i64.get_size() == 8


@pytest.mark.parametrize("text, message", [
    ("N,C", "',' is not a dimension name"),
    ("[N,C-1]", "'C-1' is not a dimension name"),
    ("NCHN", "appears twice"),
    ("[batch,N]", "appears twice"),  # batch is N
    ("N...C...", "more than one '...'"),
])
def test_bad_layouts_are_refused_by_name(text, message):
    with pytest.raises(ar.ArrayrtError, match=message):
        ar.Layout(text)


def test_set_batch_without_a_batch_layout_names_the_inputs():
    x = aops.parameter([1, 3, 4, 4], np.float32, name="img")
    m = ar.Model([aops.relu(x)], [x])
    with pytest.raises(ar.ArrayrtError, match=r"no input's layout names a batch dimension 'N' \(inputs: 'img' "
                                              r"\[1,3,4,4\] layout \(none\)\)"):
        ar.set_batch(m, 2)
    m.get_parameters()[0].set_layout("NCHW")
    ar.set_batch(m, 2)
    assert m.output(0).get_partial_shape().to_shape() == (2, 3, 4, 4) and ar.get_batch(m) == ar.Dimension(2)
    with pytest.raises(ar.ArrayrtError, match="Relu 'Relu_.*' has no layout"):
        m.get_ordered_ops()[1].set_layout("NCHW")
