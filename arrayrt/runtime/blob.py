"""The file format of ``CompiledModel.export_model`` / ``Core.import_model``.

A blob holds what compiling needs again: the model as IR v11 (the XML and the weights, as
``serialize`` writes them), the device name and the config given to ``compile_model``. Importing
reads the IR with the same reader as ``read_model`` (entity-free XML, no pickle) and compiles it
for that device; arrayrt's plans are rebuilt from the graph in about the time of a first compile,
and with ``CACHE_DIR`` the NPU reuses XLA's persistent cache.

Layout::

    b"ARRAYRT-COMPILED-MODEL\\n"
    8 bytes, little-endian: the length of the JSON header
    the header: {"format": 1, "arrayrt": version, "device": ..., "config": {...},
                 "xml": [offset, size], "bin": [offset, size], "arrays": [[offset, size], ...]}
    the payload the offsets point into (after the header)

Config values are JSON; a :class:`~arrayrt.Type` is written as its name, an enum as its value, and
numpy arrays (GNA calibration samples) as ``.npy`` sections referenced by ``{"__array__": i}``.
"""
from __future__ import annotations

import enum
import io
import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from arrayrt.errors import ArrayrtError, ModelReadError
from arrayrt.ir.model import Model
from arrayrt.ir.types import Type

MAGIC = b"ARRAYRT-COMPILED-MODEL\n"
FORMAT = 1
_ARRAY = "__array__"


def dump(model: Model, device: str, config: Mapping[str, Any], version: str) -> bytes:
    """The blob of ``model`` compiled for ``device`` with ``config``."""
    from arrayrt.ir.io.writer import to_ir

    arrays: list[bytes] = []
    cfg = {str(k): _encode(v, str(k), arrays) for k, v in config.items()}
    xml, weights = to_ir(model)
    xml_bytes = xml.encode("utf-8")
    weights_bytes = b"".join(weights)
    sections, offset = [], 0
    for part in (xml_bytes, weights_bytes, *arrays):
        sections.append([offset, len(part)])
        offset += len(part)
    header = json.dumps({"format": FORMAT, "arrayrt": version, "device": device, "config": cfg,
                         "xml": sections[0], "bin": sections[1], "arrays": sections[2:]}).encode("utf-8")
    return b"".join([MAGIC, struct.pack("<Q", len(header)), header, xml_bytes, weights_bytes, *arrays])


def load(data: "bytes | bytearray | memoryview") -> tuple[Model, str, dict[str, Any]]:
    """``(model, device, config)`` from a blob; a :class:`ModelReadError` saying what is wrong
    for anything that is not a whole blob of this format."""
    from arrayrt.ir.io import read_model

    data = bytes(data)
    if not data.startswith(MAGIC):
        raise ModelReadError("not an arrayrt compiled-model blob (one written by CompiledModel.export_model): "
                             f"it starts with {data[:len(MAGIC)]!r}")
    start = len(MAGIC) + 8
    if len(data) < start:
        raise ModelReadError("the compiled-model blob is truncated: it ends inside its header")
    (size,) = struct.unpack("<Q", data[len(MAGIC):start])
    if size > len(data) - start:
        raise ModelReadError(f"the compiled-model blob is truncated: its header says {size} bytes, "
                             f"{len(data) - start} follow")
    try:
        header = json.loads(data[start:start + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelReadError(f"the compiled-model blob's header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise ModelReadError(f"compiled-model blob format {fmt!r}; this arrayrt reads format {FORMAT}")
    payload = memoryview(data)[start + size:]

    def section(where: Any, what: str) -> bytes:
        if (not isinstance(where, list) or len(where) != 2 or not all(isinstance(v, int) and v >= 0 for v in where)
                or where[0] + where[1] > len(payload)):
            raise ModelReadError(f"the compiled-model blob's {what} section {where!r} lies outside its "
                                 f"{len(payload)}-byte payload")
        return bytes(payload[where[0]:where[0] + where[1]])

    device, config = header.get("device"), header.get("config")
    if not isinstance(device, str) or not isinstance(config, dict) or not isinstance(header.get("arrays"), list):
        raise ModelReadError("the compiled-model blob's header lacks its device, config or array list")
    arrays = [_npy(section(a, f"array {i}"), i) for i, a in enumerate(header["arrays"])]
    config = {k: _decode(v, arrays) for k, v in config.items()}
    model = read_model(section(header.get("xml"), "XML"), section(header.get("bin"), "weights"))
    return model, device, config


def _encode(value: Any, key: str, arrays: list[bytes]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return str(value) if isinstance(value, enum.Enum) else value
    if isinstance(value, Type):
        return value.name
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise ArrayrtError(f"property '{key}': an object array cannot be exported")
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        arrays.append(buf.getvalue())
        return {_ARRAY: len(arrays) - 1}
    if isinstance(value, Mapping):
        return {str(k): _encode(v, key, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, key, arrays) for v in value]
    raise ArrayrtError(f"property '{key}': a {type(value).__name__} value cannot be exported "
                       "(numbers, strings, types, arrays and lists or dicts of them can)")


def _decode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            i = value[_ARRAY]
            if not isinstance(i, int) or not 0 <= i < len(arrays):
                raise ModelReadError(f"the compiled-model blob's config refers to array {i!r}; it has {len(arrays)}")
            return arrays[i]
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def _npy(raw: bytes, i: int) -> np.ndarray:
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelReadError(f"the compiled-model blob's array {i} is not a valid .npy: {exc}") from None
