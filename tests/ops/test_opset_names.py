"""Every factory of ``openvino.opset16`` exists in ``arrayrt.opset`` under the same name, except the
ops listed in NOT_YET with their reason; the list must stay exact, so it only shrinks."""
from __future__ import annotations

import pytest

ov_opset = pytest.importorskip("openvino.opset16")
import arrayrt.opset as ar_opset  # noqa: E402

#: openvino.opset16 factory -> why arrayrt has no op (and hence no factory) for it yet
NOT_YET = {
    "binary_convolution": "BinaryConvolution (opset1): 1-bit XNOR convolution over u1 data; not implemented yet",
    "convert_promote_types": "ConvertPromoteTypes (opset14): not implemented yet",
    "deformable_psroi_pooling": "DeformablePSROIPooling (opset1): not implemented yet (ROIAlign is)",
    "detection_output": "DetectionOutput (v0, v8): SSD post-processing, not implemented yet",
    "fake_convert": "FakeConvert (opset13): f8 emulation, not implemented yet",
    "generate_proposals": "GenerateProposals (opset9): not implemented yet",
    "istft": "ISTFT (opset16): not implemented yet (STFT is)",
    "matrix_nms": "MatrixNms (opset8): not implemented yet (NonMaxSuppression is)",
    "multiclass_nms": "MulticlassNms (opset8/9): not implemented yet (NonMaxSuppression is)",
    "nms_rotated": "NMSRotated (opset13): not implemented yet",
    "prior_box": "PriorBox (v0, v8): not implemented yet (the priors family has RegionYolo only)",
    "prior_box_clustered": "PriorBoxClustered (opset1): not implemented yet",
    "proposal": "Proposal (v0, v4): not implemented yet",
    "psroi_pooling": "PSROIPooling (opset1): not implemented yet",
    "roi_align_rotated": "ROIAlignRotated (opset15): not implemented yet (ROIAlign is)",
    "roi_pooling": "ROIPooling (opset2): not implemented yet",
    "segment_max": "SegmentMax (opset16): not implemented yet",
    "slice_scatter": "SliceScatter (opset15): not implemented yet",
    "sparse_fill_empty_rows": "SparseFillEmptyRows (opset16): not implemented yet",
    "string_tensor_pack": "StringTensorPack (opset15): not implemented yet",
    "string_tensor_unpack": "StringTensorUnpack (opset15): not implemented yet",
}


def _ov_factories() -> set[str]:
    return {n for n in dir(ov_opset) if not n.startswith("_") and callable(getattr(ov_opset, n))
            and getattr(getattr(ov_opset, n), "__module__", "").startswith("openvino")}


def test_every_openvino_factory_is_here_or_listed():
    missing = {n for n in _ov_factories() if not hasattr(ar_opset, n)}
    assert missing == set(NOT_YET), (f"newly missing: {sorted(missing - set(NOT_YET))}; "
                                     f"now present, drop from NOT_YET: {sorted(set(NOT_YET) - missing)}")
