"""ONNX element types <-> arrayrt :class:`Type`, and ONNX tensors -> numpy."""
from __future__ import annotations

import numpy as np
from arrayrt.ir.types import Type
from onnx import TensorProto, helper, numpy_helper

from arrayrt.errors import UnsupportedOpError

_ONNX_TO_TYPE = {
    TensorProto.FLOAT: Type.f32, TensorProto.DOUBLE: Type.f64, TensorProto.FLOAT16: Type.f16,
    TensorProto.BFLOAT16: Type.bf16, TensorProto.INT64: Type.i64, TensorProto.INT32: Type.i32,
    TensorProto.INT16: Type.i16, TensorProto.INT8: Type.i8, TensorProto.UINT64: Type.u64,
    TensorProto.UINT32: Type.u32, TensorProto.UINT16: Type.u16, TensorProto.UINT8: Type.u8,
    TensorProto.BOOL: Type.boolean, TensorProto.STRING: Type.string,
    TensorProto.FLOAT8E4M3FN: Type.f8e4m3, TensorProto.FLOAT8E5M2: Type.f8e5m2,
    TensorProto.INT4: Type.i4, TensorProto.UINT4: Type.u4,
}
for _name, _t in (("FLOAT8E8M0", Type.f8e8m0), ("FLOAT4E2M1", Type.f4e2m1), ("FLOAT8E4M3FNUZ", Type.f8e4m3fnuz),
                  ("FLOAT8E5M2FNUZ", Type.f8e5m2fnuz), ("INT2", Type.i2), ("UINT2", Type.u2)):
    if hasattr(TensorProto, _name):
        _ONNX_TO_TYPE[getattr(TensorProto, _name)] = _t
_TYPE_TO_ONNX = {t: k for k, t in _ONNX_TO_TYPE.items()}


def onnx_type(elem_type: int, where: str = "") -> Type:
    """The arrayrt type of an ONNX ``TensorProto.DataType``."""
    t = _ONNX_TO_TYPE.get(elem_type)
    if t is None:
        name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else elem_type
        raise UnsupportedOpError(f"{where}ONNX element type {name} has no arrayrt type")
    return t


def to_onnx_type(t: Type) -> int:
    return _TYPE_TO_ONNX[Type(t)]


def tensor_to_numpy(tensor: TensorProto, base_dir: str = "") -> np.ndarray:
    """A numpy array (ml_dtypes for bf16/f8/int4) from a TensorProto, external data included."""
    arr = numpy_helper.to_array(tensor, base_dir)
    if tensor.data_type == TensorProto.STRING:
        arr = np.vectorize(lambda b: b.decode("utf-8") if isinstance(b, bytes) else b, otypes=[object])(arr) \
            if arr.size else arr.astype(object)
    return arr


def np_dtype_of(elem_type: int) -> np.dtype:
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
