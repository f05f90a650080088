"""Element types, with OpenVINO's names and IR spellings, and their numpy dtypes (via ml_dtypes)."""
from __future__ import annotations

import ml_dtypes
import numpy as np

from arrayrt.errors import ArrayrtError

# name, bits, kind ('f' real, 'i' signed int, 'u' unsigned int, 'b' boolean, 's' string, 'd' dynamic),
# legacy IR precision spelling, numpy dtype (None: no direct numpy storage)
_TABLE = [
    ("f64", 64, "f", "FP64", np.float64),
    ("f32", 32, "f", "FP32", np.float32),
    ("f16", 16, "f", "FP16", np.float16),
    ("bf16", 16, "f", "BF16", ml_dtypes.bfloat16),
    ("f8e4m3", 8, "f", "F8E4M3", ml_dtypes.float8_e4m3fn),
    ("f8e5m2", 8, "f", "F8E5M2", ml_dtypes.float8_e5m2),
    ("f8e8m0", 8, "f", "F8E8M0", ml_dtypes.float8_e8m0fnu),
    ("f4e2m1", 4, "f", "F4E2M1", ml_dtypes.float4_e2m1fn),
    ("f8e4m3fnuz", 8, "f", "F8E4M3FNUZ", ml_dtypes.float8_e4m3fnuz),  # arrayrt's (ONNX's), not OpenVINO's
    ("f8e5m2fnuz", 8, "f", "F8E5M2FNUZ", ml_dtypes.float8_e5m2fnuz),  # arrayrt's (ONNX's)
    ("i64", 64, "i", "I64", np.int64),
    ("i32", 32, "i", "I32", np.int32),
    ("i16", 16, "i", "I16", np.int16),
    ("i8", 8, "i", "I8", np.int8),
    ("i4", 4, "i", "I4", ml_dtypes.int4),
    ("i2", 2, "i", "I2", ml_dtypes.int2),  # arrayrt's (ONNX's), not OpenVINO's
    ("u64", 64, "u", "U64", np.uint64),
    ("u32", 32, "u", "U32", np.uint32),
    ("u16", 16, "u", "U16", np.uint16),
    ("u8", 8, "u", "U8", np.uint8),
    ("u4", 4, "u", "U4", ml_dtypes.uint4),
    ("u2", 2, "u", "U2", ml_dtypes.uint2),
    ("u1", 1, "u", "BIN", np.uint8),
    ("boolean", 8, "b", "BOOL", np.bool_),
    ("string", 256, "s", "STRING", np.object_),
    ("dynamic", 0, "d", "UNSPECIFIED", None),
]

# Other spellings accepted when reading (IR v10 files, older writers, numpy names).
_ALIASES = {
    "fp64": "f64", "fp32": "f32", "fp16": "f16", "bin": "u1", "bool": "boolean",
    "undefined": "dynamic", "unspecified": "dynamic",
    "float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16",
    "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8", "int4": "i4",
    "uint64": "u64", "uint32": "u32", "uint16": "u16", "uint8": "u8", "uint4": "u4", "uint1": "u1",
    "bool_": "boolean", "float8_e4m3fn": "f8e4m3", "float8_e5m2": "f8e5m2",
    "float8_e8m0fnu": "f8e8m0", "float4_e2m1fn": "f4e2m1", "float8_e4m3fnuz": "f8e4m3fnuz",
    "float8_e5m2fnuz": "f8e5m2fnuz", "int2": "i2", "uint2": "u2",
    "str": "string", "object": "string",
}


class _Flag(int):
    """A bool that can also be called: ``flag`` and ``flag()`` are both the truth value."""

    def __call__(self) -> bool:
        return bool(self)

    def __repr__(self) -> str:
        return repr(bool(self))

    __str__ = __repr__


class Type:
    """An element type (``Type.f32``, ``Type("FP32")``, ``Type(np.float32)`` are the same object).

    Names follow OpenVINO: ``f32``, ``bf16``, ``boolean``, ``u1``... ``legacy_name`` is the IR port
    ``precision`` spelling (``FP32``, ``BOOL``, ``BIN``).
    """

    __slots__ = ("name", "bitwidth", "kind", "legacy_name", "_dtype")
    _by_name: dict[str, "Type"] = {}

    f64: "Type"
    f32: "Type"
    f16: "Type"
    bf16: "Type"
    f8e4m3: "Type"
    f8e5m2: "Type"
    f8e8m0: "Type"
    f4e2m1: "Type"
    i64: "Type"
    i32: "Type"
    i16: "Type"
    i8: "Type"
    i4: "Type"
    u64: "Type"
    u32: "Type"
    u16: "Type"
    u8: "Type"
    u4: "Type"
    u1: "Type"
    boolean: "Type"
    string: "Type"
    dynamic: "Type"

    def __new__(cls, spec: "Type | str | type | np.dtype" = "dynamic") -> "Type":
        if isinstance(spec, Type):
            return spec
        if isinstance(spec, str):
            key = spec.strip()
            t = cls._by_name.get(key) or cls._by_name.get(_ALIASES.get(key.lower(), key.lower()))
            if t is None:
                raise ArrayrtError(f"unknown element type '{spec}'")
            return t
        try:
            dt = np.dtype(spec)
        except TypeError as exc:
            raise ArrayrtError(f"cannot make an element type from {spec!r}") from exc
        if dt.kind in "SUO":
            return cls._by_name["string"]
        for t in cls._by_name.values():
            if t._dtype is not None and t.name not in ("u1", "string") and np.dtype(t._dtype) == dt:
                return t
        raise ArrayrtError(f"numpy dtype {dt} has no arrayrt element type")

    @classmethod
    def _make(cls, name, bits, kind, legacy, dtype) -> "Type":
        self = object.__new__(cls)
        self.name, self.bitwidth, self.kind, self.legacy_name, self._dtype = name, bits, kind, legacy, dtype
        return self

    # --- OpenVINO-style accessors -------------------------------------------------------------
    def get_type_name(self) -> str:
        return self.name

    def to_dtype(self) -> np.dtype:
        """The numpy dtype arrays of this type are held in (u1 is unpacked to uint8 0/1)."""
        if self._dtype is None:
            raise ArrayrtError("the dynamic element type has no numpy dtype")
        return np.dtype(self._dtype)

    # OpenVINO's Python ``Type`` has these as methods (``t.is_real()``) and arrayrt's code reads them
    # as properties (``t.is_real``): a :class:`_Flag` is both.
    @property
    def is_real(self) -> "_Flag":
        return _Flag(self.kind == "f")

    @property
    def is_integral(self) -> "_Flag":
        return _Flag(self.kind in "iub")

    @property
    def is_integral_number(self) -> "_Flag":
        return _Flag(self.kind in "iu")

    @property
    def is_signed(self) -> "_Flag":
        return _Flag(self.kind in "if")

    @property
    def is_static(self) -> "_Flag":
        return _Flag(self.kind != "d")

    @property
    def is_dynamic(self) -> "_Flag":
        return _Flag(self.kind == "d")

    @property
    def size(self) -> int:
        """Bytes per element, rounded up (OpenVINO's ``Type.size``)."""
        return (self.bitwidth + 7) // 8

    def get_size(self) -> int:
        return self.size

    def get_bitwidth(self) -> int:
        return self.bitwidth

    @property
    def packed(self) -> bool:
        """True for sub-byte types stored several elements per byte in the .bin."""
        return self.bitwidth < 8

    def compatible(self, other: "Type") -> bool:
        other = Type(other)
        return self is other or self.is_dynamic or other.is_dynamic

    def merge(self, other: "Type") -> "Type | None":
        """The more specific of two compatible types (dynamic yields to the other); None when they
        conflict, as OpenVINO's ``Type.merge`` returns."""
        other = Type(other)
        if self.is_dynamic:
            return other
        if other.is_dynamic or other is self:
            return self
        return None

    def __repr__(self) -> str:
        return f"<Type: '{self.name}'>"

    def __str__(self) -> str:
        return self.name

    def __reduce__(self):
        return (Type, (self.name,))


for _row in _TABLE:
    _t = Type._make(*_row)
    Type._by_name[_row[0]] = _t
    setattr(Type, _row[0], _t)
Type._by_name["bool"] = Type.boolean

FLOAT_TYPES = frozenset(t for t in Type._by_name.values() if t.kind == "f")


def dtype_size_bytes(t: Type, count: int) -> int:
    """Bytes that ``count`` elements of ``t`` take in a .bin (sub-byte types packed)."""
    return (count * t.bitwidth + 7) // 8
