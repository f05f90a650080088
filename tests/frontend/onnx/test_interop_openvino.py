"""Interop with real OpenVINO on ONNX backend suite cases, against the suite's reference outputs:

* the IR arrayrt writes from the ONNX file (``arrayrt.convert_model`` + ``arrayrt.save_model``,
  fp16 compression off and on) loads and runs in OpenVINO;
* the IR OpenVINO's converter writes from the same file (``openvino.convert_model`` +
  ``openvino.save_model``) loads and runs in arrayrt.

Node cases: one or more per ONNX op type (150+ op types) whose ops all map to standard OpenVINO
ops, with types OpenVINO has; the 9 light model cases (ConstantOfShape weights) with inputs as the
suite makes them. Each conversion is done once per run, in a temporary folder.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ov = pytest.importorskip("openvino")

from onnx import numpy_helper  # noqa: E402
from onnx.backend.test.runner import Runner  # noqa: E402

import arrayrt as ar  # noqa: E402
from arrayrt.testing.onnx_suite import node_data_dir  # noqa: E402

#: every node case of onnx 1.23 uses the suite's default tolerances
NODE_RTOL, NODE_ATOL = 1e-3, 1e-7
#: with fp16-compressed weights (each off by up to 2**-11 relative)
FP16_RTOL, FP16_ATOL = 1e-2, 1e-3
F32 = {"INFERENCE_PRECISION_HINT": "f32"}

NODE_CASES = (
    'test_abs', 'test_add', 'test_affine_grid_2d', 'test_and2d', 'test_argmax_keepdims_random',
    'test_attention_3d', 'test_attention_4d_with_past_and_present_qk_matmul_bias', 'test_averagepool_2d_ceil',
    'test_batchnorm_epsilon', 'test_bitshift_left_int8', 'test_bitwise_and_i16_3d', 'test_bitwise_not_2d',
    'test_bitwise_xor_i16_3d', 'test_causal_conv_with_state_fp16_expanded', 'test_celu',
    'test_center_crop_pad_pad', 'test_clip_default_inbounds', 'test_compress_0', 'test_constant',
    'test_constantofshape_int_zeros', 'test_conv_with_autopad_same',
    'test_conv_with_strides_and_asymmetric_padding', 'test_convtranspose_autopad_same', 'test_cos',
    'test_depthtospace_example', 'test_dequantizelinear_axis', 'test_dropout_default',
    'test_dynamicquantizelinear_max_adjusted', 'test_edge_pad', 'test_einsum_sum', 'test_elu', 'test_equal',
    'test_erf', 'test_eyelike_with_dtype', 'test_flatten_axis0',
    'test_flexattention_causal_mask_expanded_ver26', 'test_floor', 'test_gather_elements_0',
    'test_gathernd_example_int32', 'test_gelu_tanh_1', 'test_gemm_all_attributes', 'test_globalaveragepool',
    'test_greater', 'test_gridsample', 'test_group_normalization_epsilon', 'test_gru_reverse',
    'test_hardmax_axis_0', 'test_hardsigmoid', 'test_hardswish', 'test_instancenorm_epsilon', 'test_isnan',
    'test_l1normalization_axis_0', 'test_layer_normalization_2d_axis0', 'test_leakyrelu', 'test_less',
    'test_log', 'test_logsoftmax_axis_0', 'test_lppool_2d_pads', 'test_lrn', 'test_lstm_reverse',
    'test_matmulinteger', 'test_max_int8', 'test_maxpool_2d_ceil', 'test_mean_example', 'test_mish',
    'test_mod_uint8', 'test_mvn', 'test_nllloss_NC', 'test_nonmaxsuppression_single_box',
    'test_nonzero_example', 'test_not_2d', 'test_pow', 'test_prelu_example',
    'test_qlinearmatmul_2D_int8_float16', 'test_quantizelinear_axis', 'test_reduce_l1_keep_dims_random',
    'test_reduce_log_sum_exp_keepdims_random', 'test_reduce_max_keepdims_random',
    'test_reduce_mean_keepdims_random', 'test_reduce_sum_empty_set', 'test_reduce_sum_keepdims_random',
    'test_relu', 'test_resize_upsample_sizes_cubic', 'test_reversesequence_time',
    'test_rms_normalization_2d_axis0', 'test_rnn_seq_length', 'test_roialign_aligned_true',
    'test_rotary_embedding', 'test_round', 'test_scan_sum', 'test_scatter_elements_with_axis',
    'test_scatter_with_axis', 'test_scatternd', 'test_sce_sum', 'test_shrink_hard', 'test_sigmoid',
    'test_sign', 'test_sin', 'test_size', 'test_slice', 'test_softplus', 'test_spacetodepth',
    'test_split_equal_parts_2d', 'test_squeeze', 'test_sum_example', 'test_swish', 'test_tanh',
    'test_tile_precomputed', 'test_top_k', 'test_tril', 'test_unique_length_1', 'test_upsample_nearest',
    'test_xor2d',
)

_OV_TOPK_TIES = "OpenVINO's own ONNX run orders equal TopK values by a different index than ONNX's reference"
_OV_REDUCE_MAX = ("fully masked rows: OpenVINO's CPU ReduceMax over all -inf gives -FLT_MAX (its reference and spec "
                  "give -inf), so the IR's 'row fully masked' test misses and the row's Softmax is NaN")
_OV_BOOL_REDUCE = "OpenVINO's CPU cannot compile ReduceLogicalOr/And whose axes are not constant (a graph input here)"
_OV_EMPTY_TRI = ("OpenVINO's CPU corrupts its heap and aborts the process running arrayrt's IR on the empty "
                 "[3,0,5] input")
_OV_COL2IM = "openvino.convert_model fails ('to_shape was called on a dynamic shape')"
#: cases of the op types above that OpenVINO itself gets wrong (not run)
EXCLUDED = {
    "test_top_k_same_values": _OV_TOPK_TIES,
    "test_top_k_same_values_2d": _OV_TOPK_TIES,
    "test_top_k_same_values_largest": _OV_TOPK_TIES,
    "test_bitshift_left_int8_overflow": "OpenVINO's own ONNX run saturates int8 left shifts (127, ONNX wraps to -128)",
    "test_bitshift_left_int8_shift_ge_width": "OpenVINO's own ONNX run gives non-zero results for shifts >= 8 bits",
    "test_bitshift_right_int32_negative_input": "OpenVINO's own ONNX run shifts negative int32 logically (0 for -1)",
    "test_bitshift_right_int8_negative_input": "OpenVINO's own ONNX run shifts negative int8 logically (0 for -1)",
    "test_bitshift_left_int32_negative_shift": ("OpenVINO's CPU BitwiseLeftShift wraps negative shift amounts "
                                                "(ONNX and arrayrt give 0)"),
    "test_tril_zero": _OV_EMPTY_TRI,
    "test_triu_zero": _OV_EMPTY_TRI,
    "test_col2im": _OV_COL2IM,
    "test_col2im_dilations": _OV_COL2IM,
    "test_col2im_pads": _OV_COL2IM,
    "test_col2im_strides": _OV_COL2IM,
    "test_div_int32_trunc": ("OpenVINO's converter writes Divide m_pythondiv=true (floor) for ONNX's truncating "
                             "integer Div and its CPU truncates anyway; arrayrt follows the spec (floor)"),
    "test_convtranspose_output_shape": (
        "OpenVINO's IR is ConvolutionBackpropData(explicit pads 0, output_shape): its CPU keeps pads_begin and "
        "pads at the end, the spec (which arrayrt follows) splits the total padding from output_shape"),
    "test_attention_23_fullymasked_qk_matmul_output_mode3_zero": _OV_REDUCE_MAX,
    "test_attention_24_fullymasked_qk_matmul_output_mode3_zero": _OV_REDUCE_MAX,
    "test_attention_23_boolmask_fullymasked_row_nan_robustness": _OV_REDUCE_MAX,
    "test_attention_causal_boolmask_nan_robustness": _OV_REDUCE_MAX,
    "test_attention_4d_causal_nonpad_negative_offset_structural_empty": _OV_REDUCE_MAX,
    "test_attention_24_qk_matmul_output_mode3_softmax_precision": _OV_REDUCE_MAX,
    "test_reduce_max_bool_inputs": _OV_BOOL_REDUCE,
    "test_reduce_min_bool_inputs": _OV_BOOL_REDUCE,
    "test_reduce_max_empty_set_bool": _OV_BOOL_REDUCE,
}

#: arrayrt-side interop gaps: (case, direction) -> reason; strict expected failures
KNOWN_GAPS = {
    ("test_reduce_min_empty_set", "openvino_ir"): (
        "ReduceMin over an empty axis: the spec leaves it undefined, OpenVINO's reference and CPU give +inf "
        "(what ONNX wants), arrayrt the type's largest finite value"),
}

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data"
LIGHT_CASES = tuple(sorted(p.stem[len("light_"):] for p in (LIGHT_DIR / "light").glob("light_*.onnx")))


@dataclass
class Case:
    onnx_path: Path
    data_sets: list[tuple[list[np.ndarray], list[np.ndarray]]]
    rtol: float
    atol: float


def _load(path: Path) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(str(path)))


@functools.cache
def load_case(name: str) -> Case:
    if name.startswith("light_"):
        path = LIGHT_DIR / "light" / f"{name}.onnx"
        model = onnx.load(str(path))
        inits = {t.name for t in model.graph.initializer}
        inputs = [Runner.generate_dummy_data(x, seed=0, random=False) for x in model.graph.input
                  if x.name not in inits]
        refs = [_load(LIGHT_DIR / "light" / f"{name}_output_{i}.pb") for i in range(len(model.graph.output))]
        tol = json.loads((LIGHT_DIR / "real" / f"test_{name[len('light_'):]}" / "data.json").read_text())
        return Case(path, [(inputs, refs)], tol["rtol"], tol["atol"])
    d = node_data_dir() / "node" / name
    sets = []
    for ds in sorted(d.glob("test_data_set_*")):
        def by_index(kind):
            return [_load(p) for p in sorted(ds.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        sets.append((by_index("input"), by_index("output")))
    return Case(d / "model.onnx", sets, NODE_RTOL, NODE_ATOL)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("interop")


@functools.cache
def _arrayrt_model(name: str) -> ar.Model:
    return ar.convert_model(str(load_case(name).onnx_path))


@functools.cache
def _openvino_model(name: str):
    return ov.convert_model(str(load_case(name).onnx_path))


def arrayrt_ir(name: str, compress: bool, workdir: Path) -> Path:
    path = workdir / f"{name}.arrayrt.{'f16' if compress else 'f32'}.xml"
    if not path.exists():
        ar.save_model(_arrayrt_model(name), path, compress_to_fp16=compress)
    return path


def openvino_ir(name: str, compress: bool, workdir: Path) -> Path:
    path = workdir / f"{name}.openvino.{'f16' if compress else 'f32'}.xml"
    if not path.exists():
        ov.save_model(_openvino_model(name), path, compress_to_fp16=compress)
    return path


@functools.cache
def _ov_core():
    return ov.Core()


@functools.cache
def _ar_core():
    return ar.Core()


def same_ir(xml: Path, other: Path) -> bool:
    return (xml.read_bytes() == other.read_bytes()
            and xml.with_suffix(".bin").read_bytes() == other.with_suffix(".bin").read_bytes())


def check(compiled, case: Case, compress: bool) -> None:
    rtol, atol = case.rtol, case.atol
    if compress:
        rtol, atol = max(rtol, FP16_RTOL), max(atol, FP16_ATOL)
    for inputs, refs in case.data_sets:
        result = compiled(inputs)
        outputs = [np.asarray(result[i]) for i in range(len(compiled.outputs))]
        Runner.assert_similar_outputs(refs, outputs, rtol, atol)


def _params(direction: str, names, compress_values):
    out = []
    for name in names:
        for compress in compress_values:
            marks = ()
            reason = KNOWN_GAPS.get((name, direction))
            if reason:
                marks = (pytest.mark.xfail(reason=reason, strict=True),)
            out.append(pytest.param(name, compress, marks=marks, id=f"{name}-{'fp16' if compress else 'f32'}"))
    return out


LIGHT_NAMES = tuple(f"light_{n}" for n in LIGHT_CASES)
GAP_NAMES = tuple(sorted({n for n, _ in KNOWN_GAPS}))


def test_case_lists():
    assert len(NODE_CASES) >= 50 and len(set(NODE_CASES)) == len(NODE_CASES)
    assert len(LIGHT_CASES) == 9
    assert not set(NODE_CASES) & set(EXCLUDED)
    available = {p.name for p in (node_data_dir() / "node").iterdir()}
    assert set(NODE_CASES) | set(EXCLUDED) | set(GAP_NAMES) <= available


@pytest.mark.parametrize(("name", "compress"), _params("arrayrt_ir", NODE_CASES + LIGHT_NAMES, (False, True))
                         + _params("arrayrt_ir", GAP_NAMES, (False,)))
def test_arrayrt_ir_runs_on_openvino(name, compress, workdir):
    """An fp16 IR without compressed constants is the f32 IR byte for byte, which the f32 run covers."""
    path = arrayrt_ir(name, compress, workdir)
    assert 'version="arrayrt1"' not in path.read_text(), "arrayrt extension ops: OpenVINO cannot read this IR"
    if compress and same_ir(path, arrayrt_ir(name, False, workdir)):
        return
    check(_ov_core().compile_model(path, "CPU", F32), load_case(name), compress)


# The light models' IR from OpenVINO holds their ConstantOfShape weights folded (up to 0.5 GB for
# VGG-19): one precision keeps the file quick.
@pytest.mark.parametrize(("name", "compress"), _params("openvino_ir", NODE_CASES, (False, True))
                         + _params("openvino_ir", LIGHT_NAMES + GAP_NAMES, (False,)))
def test_openvino_ir_runs_on_arrayrt(name, compress, workdir):
    path = openvino_ir(name, compress, workdir)
    if compress and same_ir(path, openvino_ir(name, False, workdir)):
        return
    check(_ar_core().compile_model(path, "CPU", F32), load_case(name), compress)


def _has_float_weights(name: str) -> bool:
    model = onnx.load(str(load_case(name).onnx_path))
    return any(t.data_type == onnx.TensorProto.FLOAT and np.prod(t.dims) > 1 for t in model.graph.initializer)


#: AlexNet's and ZFNet-512's weights are all ConstantOfShape fills: no float initializers
WEIGHTED_LIGHT = tuple(n for n in LIGHT_NAMES if n not in ("light_bvlc_alexnet", "light_zfnet512"))


@pytest.mark.parametrize("name", WEIGHTED_LIGHT)
def test_light_fp16_ir_holds_compressed_weights(name, workdir):
    """The fp16 runs above use f16 weights: the float initializers are stored as f16 behind a
    decompression Convert."""
    assert _has_float_weights(name)
    xml = arrayrt_ir(name, True, workdir).read_text()
    assert 'element_type="f16"' in xml and 'type="Convert"' in xml


_FORK_COUNT = """
import os, sys, time
forks = []
os.register_at_fork(before=lambda: forks.append(1))
import arrayrt.testing
import openvino
openvino.convert_model(sys.argv[1])
time.sleep(0.5)  # the telemetry is sent from a background thread
print(len(forks))
"""


def test_openvino_as_an_oracle_forks_nothing():
    """``import openvino`` and ``convert_model`` send telemetry from forked children; a fork beside
    running BLAS threads once hung this suite in OpenBLAS. arrayrt.testing turns the sends off."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _FORK_COUNT, str(load_case("test_relu").onnx_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.strip() == "0"
