"""Interpolate v1, v4 and v11 against real OpenVINO, on every test backend.

Each table becomes one model (one output per case) so OpenVINO compiles once per table; on a
mismatch the cases are re-checked one by one to name the failing one. Where OpenVINO's CPU plugin
departs from the specification (antialias in ``linear`` mode, ``cube_coeff`` in ``bicubic_pillow``,
integer rounding) the expected values come from small loop implementations of the reference
kernel below.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import openvino.opset1 as ov1
import pytest
from arrayrt.ir.ops.factory import make
from openvino.utils.node_factory import NodeFactory

from arrayrt.testing import build_openvino, check_op, rand, run_openvino

F32 = np.float32
MODES = ["nearest", "linear", "linear_onnx", "cubic"]
COORDS = ["half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn", "align_corners"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"]
SIZES = [(8, 9), (3, 4), (2, 13), (5, 6)]  # up, down, mixed, same
TOL = {"rtol": 1e-4, "atol": 2e-5}


def i64(v) -> np.ndarray:
    return np.array(v, np.int64)


def f32(v) -> np.ndarray:
    return np.array(v, F32)


def is_ov(ops) -> bool:
    return ops.__name__.startswith("openvino")


def check_table(build_one, cases, backend, inputs, **kw):
    """Every case over the same inputs in one model; on a mismatch, case by case."""
    def build(ops, *ps):
        return [build_one(ops, c, *ps) for c in cases]
    try:
        check_op(build, inputs, backend, **kw)
    except AssertionError:
        for c in cases:
            try:
                check_op(lambda ops, *ps: build_one(ops, c, *ps), inputs, backend, **kw)
            except AssertionError as exc:
                raise AssertionError(f"case {c}: {exc}") from exc
        raise


def interp(ops, x, values, mode, calc="sizes", axes=(2, 3), **kw):
    vals = i64(values) if calc == "sizes" else f32(values)
    return ops.interpolate(x, vals, mode, calc, axes=None if axes is None else i64(axes), **kw)


# --- Interpolate-11 -----------------------------------------------------------------------------


@pytest.mark.parametrize("nearest_mode", NEAREST)
def test_nearest(nearest_mode, backend):
    cases = list(itertools.product(COORDS, SIZES))
    check_table(lambda ops, c, x: interp(ops, x, c[1], "nearest", coordinate_transformation_mode=c[0],
                                         nearest_mode=nearest_mode), cases, backend, [rand((1, 2, 5, 6))])


@pytest.mark.parametrize("mode", ["linear", "linear_onnx", "cubic"])
def test_linear_cubic(mode, backend):
    cases = list(itertools.product(COORDS, SIZES))
    check_table(lambda ops, c, x: interp(ops, x, c[1], mode, coordinate_transformation_mode=c[0]),
                cases, backend, [rand((2, 3, 5, 6))], **TOL)


def test_cube_coeff(backend):
    check_table(lambda ops, c, x: interp(ops, x, (7, 4), "cubic", cube_coeff=c), [-0.5, -0.75, -1.0], backend,
                [rand((1, 2, 5, 6))], **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_5d_scales(mode, backend):
    """5-D input, three resized axes, non-integer scales (output length floor(L * s))."""
    cases = list(itertools.product(COORDS, [(1.5, 0.6, 2.0), (0.5, 1.0, 0.75)]))
    check_table(lambda ops, c, x: interp(ops, x, c[1], mode, "scales", (2, 3, 4),
                                         coordinate_transformation_mode=c[0]),
                cases, backend, [rand((1, 2, 4, 5, 3))], **TOL)


@pytest.mark.parametrize("mode", MODES + ["bilinear_pillow", "bicubic_pillow"])
def test_layouts_and_calc_modes(mode, backend):
    """Scales and sizes, NHWC axes, reversed axes order, 3-D input, and (for the non-Pillow modes)
    no axes input (every axis)."""
    cases = [("scales", (1.7, 0.45), (2, 3)), ("sizes", (9, 4), (3, 2)), ("sizes", (2, 9), (1, 2)),
             ("scales", (0.5, 2.5), (1, 2))]
    if "pillow" not in mode:
        cases.append(("scales", (1.0, 1.0, 1.5, 0.5), None))
    cube = {"cube_coeff": -0.5} if mode == "bicubic_pillow" else {}
    check_table(lambda ops, c, x: interp(ops, x, c[1], mode, c[0], c[2], **cube), cases, backend,
                [rand((2, 4, 5, 7))], **TOL)
    check_op(lambda ops, x: interp(ops, x, (6, 3), mode, "sizes", (1, 2), **cube), [rand((2, 4, 5))], backend, **TOL)


@pytest.mark.parametrize("mode", MODES + ["bilinear_pillow", "bicubic_pillow"])
def test_pads(mode, backend):
    cube = {"cube_coeff": -0.5} if mode == "bicubic_pillow" else {}
    cases = [((9, 4), [0, 0, 1, 2], [0, 0, 2, 0]), ((4, 4), [0, 0, 1], [0, 0, 0, 3]), ((6, 7), [0, 1, 0, 0], [])]
    check_table(lambda ops, c, x: interp(ops, x, c[0], mode, pads_begin=c[1], pads_end=c[2], **cube), cases, backend,
                [rand((2, 3, 5, 7))], **TOL)


@pytest.mark.parametrize("mode", ["bilinear_pillow", "bicubic_pillow"])
def test_pillow(mode, backend):
    """Pillow modes against OpenVINO with cube_coeff -0.5 (Pillow's; OpenVINO's CPU plugin uses it
    whatever cube_coeff says)."""
    check_table(lambda ops, c, x: interp(ops, x, c, mode, cube_coeff=-0.5), SIZES + [(1, 1), (20, 3)], backend,
                [rand((1, 2, 5, 6))], **TOL)


def pillow_reference(x: np.ndarray, out_hw, mode: str, a: float) -> np.ndarray:
    """Pillow's two-pass resample as OpenVINO's reference kernel loops it (float input)."""
    def coeffs(in_size, out_size):
        support = 1.0 if mode == "bilinear_pillow" else 2.0
        scale = in_size / out_size
        fscale = max(scale, 1.0)
        support *= fscale
        rows = []
        for xx in range(out_size):
            centre = (xx + 0.5) * scale
            lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), in_size)
            ws = []
            for i in range(lo, hi):
                t = abs((i - centre + 0.5) / fscale)
                if mode == "bilinear_pillow":
                    ws.append(max(0.0, 1.0 - t))
                else:
                    ws.append(((a + 2) * t - (a + 3)) * t * t + 1 if t < 1 else
                              ((((t - 5) * t + 8) * t - 4) * a if t < 2 else 0.0))
            total = sum(ws)
            rows.append((lo, [w / total if total else w for w in ws]))
        return rows

    h, w = x.shape[-2:]
    oh, ow = out_hw
    out = x.astype(np.float64)
    if ow != w:
        tmp = np.zeros(out.shape[:-1] + (ow,))
        for j, (lo, ws) in enumerate(coeffs(w, ow)):
            for k, wt in enumerate(ws):
                tmp[..., j] += out[..., lo + k] * wt
        out = tmp.astype(x.dtype).astype(np.float64)
    if oh != h:
        tmp = np.zeros(out.shape[:-2] + (oh, out.shape[-1]))
        for j, (lo, ws) in enumerate(coeffs(h, oh)):
            for k, wt in enumerate(ws):
                tmp[..., j, :] += out[..., lo + k, :] * wt
        out = tmp
    return out.astype(x.dtype)


def test_bicubic_pillow_cube_coeff(backend):
    """cube_coeff is Pillow's ``a`` (the spec; the reference kernel uses it): checked against the
    loop reference, since OpenVINO's CPU plugin ignores it."""
    x = rand((1, 2, 5, 6))
    cases = [((8, 9), -0.75), ((3, 4), -0.75), ((2, 13), -1.0), ((7, 6), -0.5)]
    expected = [pillow_reference(x, hw, "bicubic_pillow", a) for hw, a in cases]
    check_op(lambda ops, p: [interp(ops, p, hw, "bicubic_pillow", cube_coeff=a) for hw, a in cases], [x], backend,
             expected=expected, **TOL)
    ov = run_openvino(build_openvino(lambda ops, p: interp(ops, p, (8, 9), "bicubic_pillow", cube_coeff=-0.5),
                                     [x]), [x])[0]
    np.testing.assert_allclose(pillow_reference(x, (8, 9), "bicubic_pillow", -0.5), ov, **TOL)


def antialias_reference(x: np.ndarray, out_shape, axes, coord: str) -> np.ndarray:
    """The reference kernel's ``linear`` mode, loop for loop: a triangle filter over a (2r+1)^n
    window, widened by 1/scale on every axis when some axis shrinks, weights normalised."""
    scales = [F32(out_shape[a]) / F32(x.shape[a]) for a in axes]
    aa = any(s < 1 for s in scales)
    a = [s if aa else F32(1) for s in scales]
    r = [2 if s > 1 else math.ceil(F32(2) / ai) for s, ai in zip(scales, a)]
    out = np.zeros(out_shape, F32)

    def src(o, s, lo, li):
        o = F32(o)
        if s == 1 or lo == li:
            return o
        return {"half_pixel": (o + F32(0.5)) / s - F32(0.5), "asymmetric": o / s,
                "align_corners": F32(0) if lo == 1 else o * F32(li - 1) / F32(lo - 1),
                "pytorch_half_pixel": (o + F32(0.5)) / s - F32(0.5) if lo > 1 else F32(0),
                "tf_half_pixel_for_nn": (o + F32(0.5)) / s}[coord]
    for oc in itertools.product(*map(range, out_shape)):
        ic = [src(oc[ax], s, out_shape[ax], x.shape[ax]) for ax, s in zip(axes, scales)]
        centre = [int(np.sign(c) * np.floor(abs(c) + 0.5)) for c in ic]
        total, wsum = F32(0), F32(0)
        for off in itertools.product(*[range(-ri, ri + 1) for ri in r]):
            idx = list(oc)
            for k, ax in enumerate(axes):
                idx[ax] = centre[k] + off[k]
            if any(not 0 <= idx[ax] < x.shape[ax] for ax in axes):
                continue
            w = F32(np.prod(a, dtype=F32))
            for k, ax in enumerate(axes):
                w *= max(F32(0), F32(1) - abs(a[k] * (ic[k] - F32(idx[ax]))))
            total += w * x[tuple(idx)]
            wsum += w
        out[oc] = total / wsum if wsum else 0
    return out


def test_antialias(backend):
    """``linear`` with antialias widens the filter on downscales (spec and reference kernel);
    OpenVINO's CPU plugin ignores the flag, so the loop reference above is the oracle. Without a
    downscale antialias changes nothing, which OpenVINO confirms."""
    x = rand((1, 2, 9, 8))
    cases = [((4, 3), "half_pixel"), ((3, 12), "asymmetric"), ((5, 8), "align_corners"), ((2, 2), "pytorch_half_pixel")]
    expected = [antialias_reference(x, (1, 2) + hw, (2, 3), coord) for hw, coord in cases]
    check_op(lambda ops, p: [interp(ops, p, hw, "linear", antialias=True, coordinate_transformation_mode=coord)
                             for hw, coord in cases], [x], backend, expected=expected, **TOL)
    x5 = rand((1, 1, 6, 5, 4))
    check_op(lambda ops, p: interp(ops, p, (3, 5, 2), "linear", axes=(2, 3, 4), antialias=True), [x5], backend,
             expected=[antialias_reference(x5, (1, 1, 3, 5, 2), (2, 3, 4), "half_pixel")], **TOL)
    check_op(lambda ops, p: interp(ops, p, (12, 10), "linear", antialias=True), [x], backend, **TOL)


def test_runtime_sizes_scales_axes(backend):
    """sizes, scales and axes arriving at inference (Parameters)."""
    x = rand((2, 3, 5, 7))
    check_op(lambda ops, p, s: ops.interpolate(p, s, "linear_onnx", "sizes", axes=i64([2, 3])), [x, i64([4, 9])],
             backend, **TOL)
    check_op(lambda ops, p, s: ops.interpolate(p, s, "cubic", "scales", axes=i64([3, 2])), [x, f32([1.5, 0.5])],
             backend, **TOL)
    check_op(lambda ops, p, a: ops.interpolate(p, i64([4, 9]), "nearest", "sizes", axes=a), [x, i64([3, 1])],
             backend)


def test_f16(backend):
    x = rand((1, 2, 5, 6), np.float16)
    check_table(lambda ops, m, p: interp(ops, p, (8, 3), m), MODES + ["bilinear_pillow"], backend, [x],
                rtol=2e-3, atol=2e-3)


INT_MODES = ["nearest", "linear", "linear_onnx", "cubic", "bilinear_pillow"]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_integer_types(dtype, backend):
    """Integer images: the reference kernel truncates ``linear_onnx`` and ``cubic`` results, rounds
    half away from zero in ``linear``, and rounds and saturates each Pillow pass. OpenVINO's CPU
    plugin rounds to nearest instead, so the expected values are OpenVINO's float results with
    the reference's rounding."""
    info = np.iinfo(dtype)
    x = rand((1, 2, 4, 8), dtype, low=info.min, high=info.max)
    hw = (8, 4)  # scales 2 and 1/2: every weight is dyadic, so float results are exact
    xf = x.astype(F32)
    expected = []
    for m in INT_MODES:
        if m == "bilinear_pillow":
            ref = np.clip(pillow_reference(xf[..., None, :], (1, hw[1]), m, -0.5)[..., 0, :], info.min, info.max)
            ref = np.where(ref >= 0, np.floor(ref + 0.5), np.ceil(ref - 0.5))
            ref = pillow_reference(ref.astype(F32).swapaxes(-1, -2)[..., None, :], (1, hw[0]), m, -0.5)[..., 0, :]
            expected.append(np.clip(np.where(ref >= 0, np.floor(ref + 0.5), np.ceil(ref - 0.5)).swapaxes(-1, -2),
                                    info.min, info.max).astype(dtype))
            continue
        y = run_openvino(build_openvino(lambda ops, p: interp(ops, p, hw, m), [xf]), [xf])[0]
        y = np.where(y >= 0, np.floor(y + 0.5), np.ceil(y - 0.5)) if m == "linear" else np.trunc(y)
        expected.append(np.clip(y, info.min, info.max).astype(dtype))
    check_op(lambda ops, p: [interp(ops, p, hw, m) for m in INT_MODES], [x], backend, expected=expected)


def test_shapes_and_errors():
    import arrayrt.opset as ops
    from arrayrt.errors import ShapeInferenceError

    x = ops.parameter([-1, 3, 10, -1], np.float32)
    y = ops.interpolate(x, f32([2.5, 1.0]), "linear", "scales", axes=i64([2, 3]))
    assert str(y.output(0).get_partial_shape()) == "[?,3,25,?]"
    y = ops.interpolate(x, i64([4, 5]), "nearest", "sizes", [0, 1], [0, 2], axes=i64([3, 2]))
    assert str(y.output(0).get_partial_shape()) == "[?,6,5,4]"
    s = ops.parameter([2], np.int64)
    y = ops.interpolate(x, s, "nearest", "sizes", axes=i64([2, 3]))
    assert str(y.output(0).get_partial_shape()) == "[?,3,?,?]"
    x = ops.parameter([1, 3, 10, 10], np.float32)
    assert ops.interpolate(x, f32([0.33]), "cubic", "scales", axes=i64([2])).output(0).get_shape() == (1, 3, 3, 10)
    with pytest.raises(ShapeInferenceError, match="integer"):
        ops.interpolate(x, f32([2, 2]), "nearest", "sizes", axes=i64([2, 3]))
    with pytest.raises(ShapeInferenceError, match="2 values for 3 axes"):
        ops.interpolate(x, i64([2, 2]), "nearest", "sizes", axes=i64([1, 2, 3]))


    with pytest.raises(ShapeInferenceError, match="two axes"):
        ops.interpolate(x, i64([4, 5, 6]), "bilinear_pillow", "sizes", axes=i64([1, 2, 3]))


# --- Interpolate-4 ------------------------------------------------------------------------------


def interp4(ops, x, mode, calc, sizes, scales, axes, **attrs):
    attrs = {"mode": mode, "shape_calculation_mode": calc, **attrs}
    ins = [i64(sizes), f32(scales)] + ([] if axes is None else [i64(axes)])
    if is_ov(ops):
        return NodeFactory("opset4").create("Interpolate", [x.output(0)] + [ops.constant(v).output(0) for v in ins],
                                            attrs)
    return make("Interpolate", [x] + ins, attrs, version="opset4")


@pytest.mark.parametrize("mode", MODES)
def test_interpolate4(mode, backend):
    """The unused one of sizes and scales disagrees on purpose: shape_calculation_mode decides."""
    cases = [("sizes", (8, 3), (1.0, 1.0), (2, 3), "half_pixel", "round_prefer_ceil"),
             ("scales", (1, 1), (1.6, 0.45), (2, 3), "asymmetric", "floor"),
             ("scales", (1, 1, 1, 1), (1.0, 1.0, 2.0, 0.5), None, "align_corners", "simple"),
             ("sizes", (4, 9), (1.0, 1.0), (3, 2), "pytorch_half_pixel", "ceil")]
    check_table(lambda ops, c, x: interp4(ops, x, mode, c[0], c[1], c[2], c[3], coordinate_transformation_mode=c[4],
                                          nearest_mode=c[5]), cases, backend, [rand((2, 3, 5, 7))], **TOL)


def test_interpolate4_pads_antialias(backend):
    check_op(lambda ops, x: interp4(ops, x, "cubic", "sizes", (9, 4), (1.0, 1.0), (2, 3), pads_begin=[0, 0, 1, 2],
                                    pads_end=[0, 0, 2, 0]), [rand((2, 3, 5, 7))], backend, **TOL)
    x = rand((1, 2, 9, 8))
    check_op(lambda ops, p: interp4(ops, p, "linear", "sizes", (4, 3), (1.0, 1.0), (2, 3), antialias=True), [x],
             backend, expected=[antialias_reference(x, (1, 2, 4, 3), (2, 3), "half_pixel")], **TOL)


# --- Interpolate-1 ------------------------------------------------------------------------------


def interp1(ops, x, sizes, **attrs):
    if is_ov(ops):
        return ov1.interpolate(x, i64(sizes), attrs)
    return make("Interpolate", [x, i64(sizes)], attrs, version="opset1")


V1_CASES = [((2, 3), (8, 4)), ((3,), (9,)), ((2,), (3,)), ((1, 2, 3), (5, 8, 4))]


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate1(mode, align_corners, backend):
    """Interpolate-1 as OpenVINO runs it (see Interpolate1's docstring). Cubic over the channel
    axis is left out: OpenVINO's CPU plugin returns garbage there."""
    cases = [c for c in V1_CASES if not (mode == "cubic" and 1 in c[0])]
    check_table(lambda ops, c, x: interp1(ops, x, c[1], axes=list(c[0]), mode=mode, align_corners=align_corners),
                cases, backend, [rand((2, 3, 5, 7))], **TOL)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_interpolate1_5d_and_pads(mode, backend):
    """5-D ``linear`` runs the triangle filter; pads switch ``linear`` to asymmetric coordinates."""
    check_op(lambda ops, x: interp1(ops, x, (6, 3, 8), axes=[2, 3, 4], mode=mode, align_corners=False),
             [rand((1, 2, 4, 5, 3))], backend, **TOL)
    check_op(lambda ops, x: interp1(ops, x, (9, 6), axes=[2, 3], mode=mode, align_corners=False, pads_begin=[0, 0, 1],
                                    pads_end=[0, 0, 1, 2]), [rand((1, 2, 4, 5))], backend, **TOL)


def test_dynamic_input_shape(backend):
    """Compiled once for a dynamic image shape, run on two shapes; compared with OpenVINO's model
    compiled the same way."""
    import openvino as ov
    import openvino.opset16 as oops

    import arrayrt
    import arrayrt.opset as aops
    from arrayrt.testing import assert_close

    def build(ops, x):
        return [interp(ops, x, (1.5, 0.5), "linear_onnx", "scales"),
                interp(ops, x, (7, 3), "cubic"),
                interp(ops, x, (2.0, 1.0), "nearest", "scales", nearest_mode="ceil"),
                interp(ops, x, (5, 5), "bilinear_pillow")]
    models = []
    for ops, mod in ((aops, arrayrt), (oops, ov)):
        p = ops.parameter([1, 2, -1, -1], np.float32, name="x")
        models.append(mod.Model(build(ops, p), [p], "dyn"))
    ours = arrayrt.Core().compile_model(models[0], "CPU", {"ARRAY_BACKEND": backend})
    theirs = ov.Core().compile_model(models[1], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for x in (rand((1, 2, 4, 6), seed=1), rand((1, 2, 7, 3), seed=2)):
        got, want = ours([x]), theirs([x])
        for i in range(len(theirs.outputs)):
            assert_close(np.asarray(got[i]), np.asarray(want[i]), 1e-4, 2e-5, what=f"{x.shape}, output {i}: ")


@pytest.mark.parametrize("mode", ["linear", "linear_onnx", "cubic", "bilinear_pillow", "bicubic_pillow"])
def test_long_axes(mode, backend, monkeypatch):
    """Long axes are resized tap by tap instead of by a dense matrix: both paths, on a long axis
    and (forced) on short ones."""
    from arrayrt.ir.ops import interpolate as mod

    cube = {"cube_coeff": -0.5} if mode == "bicubic_pillow" else {}
    check_op(lambda ops, x: [interp(ops, x, (4, 300), mode, **cube), interp(ops, x, (2, 57), mode, **cube)],
             [rand((1, 2, 3, 200))], backend, **TOL)
    monkeypatch.setattr(mod, "DENSE_MAX", 0)
    check_table(lambda ops, c, x: interp(ops, x, c, mode, **cube), SIZES, backend, [rand((1, 2, 5, 6))], **TOL)
    x = rand((1, 2, 9, 8))
    check_op(lambda ops, p: interp(ops, p, (4, 3), mode, antialias=True, **cube), [x], backend,
             expected=None if mode != "linear" else [antialias_reference(x, (1, 2, 4, 3), (2, 3), "half_pixel")],
             **TOL)


def test_reads_openvino_ir(tmp_path, backend):
    """IR that OpenVINO writes for Interpolate-1, -4 and -11 reads into arrayrt and computes the
    same."""
    import openvino as ov
    import openvino.opset16 as ops

    import arrayrt
    from arrayrt.testing import assert_close

    p = ops.parameter([1, 2, 5, 6], np.float32, name="x")
    nodes = [ov1.interpolate(p, i64([8, 3]), {"axes": [2, 3], "mode": "linear", "align_corners": False}),
             ov1.interpolate(p, i64([7]), {"axes": [3], "mode": "nearest"}),
             interp4(ops, p, "cubic", "scales", (1, 1), (1.5, 0.5), (2, 3),
                     coordinate_transformation_mode="asymmetric"),
             interp4(ops, p, "nearest", "sizes", (9, 4), (1.0, 1.0), (3, 2), nearest_mode="ceil"),
             interp(ops, p, (2.0, 0.7), "linear_onnx", "scales", pads_begin=[0, 0, 1, 0], pads_end=[0, 0, 0, 2]),
             interp(ops, p, (3, 9), "bilinear_pillow")]
    ov.save_model(ov.Model(nodes, [p]), tmp_path / "m.xml", compress_to_fp16=False)
    x = rand((1, 2, 5, 6))
    want = run_openvino(ov.Core().read_model(tmp_path / "m.xml"), [x])
    got = arrayrt.Core().compile_model(str(tmp_path / "m.xml"), "CPU", {"ARRAY_BACKEND": backend})([x])
    for i, w in enumerate(want):
        assert_close(np.asarray(got[i]), w, 1e-4, 2e-5, what=f"output {i}: ")
