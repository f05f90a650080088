"""Read OpenVINO IR v10/v11 (``.xml`` + ``.bin``) into a :class:`~arrayrt.ir.model.Model`.

The XML is parsed with xmltodict with entity declarations refused (no DTD, no entity expansion, no
external entities). Constants are read-only numpy views of the memory-mapped ``.bin``: nothing is
copied until an op needs it (sub-byte types, which must be unpacked, are the exception).
"""
from __future__ import annotations

import mmap
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

import numpy as np
import xmltodict

from arrayrt.errors import ArrayrtError, ModelReadError, OpAttributeError, UnsupportedOpError
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.model import Model
from arrayrt.ir.ops import get_op
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type, dtype_size_bytes

#: IR type spellings that differ from the op type names
TYPE_ALIASES = {"const": "Constant", "relu": "Relu", "softmax": "Softmax", "prelu": "PRelu"}
#: ops whose opset1 spelling in old IRs means their opset2 version
_OPSET1_MEANS_2 = {"mvn", "roipooling", "reorgyolo"}

_LISTS = ("layer", "edge", "port", "dim", "attribute", "info", "input", "output")
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def read_model(model: Any, weights: Any = None) -> Model:
    """Read IR from a path (``.xml``; the ``.bin`` beside it unless ``weights``), XML text or bytes
    (``weights`` then bytes or a path), or an ONNX file / ``ModelProto``."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (bytes, bytearray, memoryview)):
        return parse_ir(bytes(model), _weights_buffer(weights), source="<bytes>")
    if isinstance(model, str) and model.lstrip().startswith("<"):
        return parse_ir(model.encode("utf-8"), _weights_buffer(weights), source="<string>")
    if hasattr(model, "graph") and hasattr(model, "opset_import"):
        return _read_onnx(model)
    path = Path(os.fspath(model))
    if not path.exists():
        raise ModelReadError(f"model file '{path}' does not exist")
    if path.suffix.lower() == ".onnx":
        return _read_onnx(path)
    if path.suffix.lower() != ".xml":
        raise ModelReadError(f"'{path}': expected an OpenVINO IR .xml or an .onnx file")
    xml = path.read_bytes()
    if weights is None:
        bin_path = path.with_suffix(".bin")
        buffer = _map_file(bin_path) if bin_path.exists() else None
        missing = None if bin_path.exists() else bin_path
    else:
        buffer, missing = _weights_buffer(weights), None
    return parse_ir(xml, buffer, source=str(path), missing_bin=missing)


def _read_onnx(model: Any) -> Model:
    try:
        from arrayrt.ir.frontend.onnx import convert_onnx
    except ImportError as exc:
        raise UnsupportedOpError(f"the ONNX frontend is not available: {exc}") from exc
    return convert_onnx(model)


def _weights_buffer(weights: Any) -> Any:
    if weights is None:
        return None
    if isinstance(weights, (bytes, bytearray, memoryview)):
        return memoryview(weights)
    if hasattr(weights, "data") and hasattr(weights, "shape"):  # a Tensor or ndarray of bytes
        return memoryview(np.ascontiguousarray(np.asarray(weights.data if hasattr(weights, "element_type")
                                                          else weights)).view(np.uint8))
    path = Path(os.fspath(weights))
    if not path.exists():
        raise ModelReadError(f"weights file '{path}' does not exist")
    return _map_file(path)


def _map_file(path: Path) -> Any:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return memoryview(b"")
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


# --- XML ------------------------------------------------------------------------------------------
def parse_ir(xml: bytes, weights: Any, source: str = "<memory>", missing_bin: Path | None = None) -> Model:
    if _FORBIDDEN.search(xml):
        raise ModelReadError(f"{source}: XML DOCTYPE/ENTITY declarations are refused (entity expansion "
                             "and external entities are a security risk; IR never needs them)")
    try:
        doc = xmltodict.parse(xml, disable_entities=True, force_list=_LISTS)
    except ExpatError as exc:
        raise ModelReadError(f"{source}: malformed XML: {exc}") from None
    except ValueError as exc:
        raise ModelReadError(f"{source}: refused XML: {exc}") from None
    net = doc.get("net")
    if not isinstance(net, Mapping):
        raise ModelReadError(f"{source}: not an OpenVINO IR file (no <net> root element)")
    try:
        version = int(net.get("@version", "0"))
    except ValueError:
        raise ModelReadError(f"{source}: bad IR version '{net.get('@version')}'") from None
    if version not in (10, 11):
        raise ModelReadError(f"{source}: IR version {version} is not supported (10 and 11 are)")
    builder = _Builder(net, weights, source, version, missing_bin)
    model = builder.build()
    if version == 10:
        _v10_fixups(model)
    return model


def _attrs(elem: Any) -> dict[str, str]:
    if not isinstance(elem, Mapping):
        return {}
    return {k[1:]: v for k, v in elem.items() if k.startswith("@")}


def _ports(layer: Mapping, kind: str) -> list[Mapping]:
    block = layer.get(kind)
    if not block:
        return []
    ports: list[Mapping] = []
    for b in block:
        if isinstance(b, Mapping):
            ports.extend(p for p in (b.get("port") or []) if isinstance(p, Mapping))
    return ports


def _split_names(text: str) -> set[str]:
    names, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] == ",":
            cur.append(",")
            i += 2
            continue
        if c == ",":
            names.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    names.append("".join(cur).strip())
    return {n for n in names if n}


def parse_rt_info(elem: Any) -> dict[str, Any]:
    """Node/port ``<rt_info>``: ``<attribute name=... version=... value=.../>`` -> {name: attrs}."""
    out: dict[str, Any] = {}
    if not isinstance(elem, Mapping):
        return out
    for a in elem.get("attribute") or []:
        at = _attrs(a)
        name = at.pop("name", None)
        if name:
            out[name] = at
    return out


def parse_model_rt_info(elem: Any) -> dict[str, Any]:
    """Model-level ``<rt_info>``: ``<info name= value=/>`` and nested ``<key value=/>`` sections."""
    out: dict[str, Any] = {}
    if not isinstance(elem, Mapping):
        return out
    for key, val in elem.items():
        if key.startswith("@") or key == "#text":
            continue
        items = val if isinstance(val, list) else [val]
        for item in items:
            at = _attrs(item)
            name = at.get("name") if key == "info" else key
            if name is None:
                continue
            children = {k: v for k, v in item.items() if not k.startswith("@")} if isinstance(item, Mapping) else {}
            if children:
                out[name] = parse_model_rt_info(item)
            else:
                out[name] = at.get("value", "")
    return out


class _Builder:
    def __init__(self, net: Mapping, weights: Any, source: str, version: int, missing_bin: Path | None):
        self.net, self.weights, self.source, self.version = net, weights, source, version
        self.missing_bin = missing_bin

    def err(self, layer: Mapping | None, msg: str) -> ModelReadError:
        if layer is None:
            return ModelReadError(f"{self.source}: {msg}")
        at = _attrs(layer)
        return ModelReadError(f"{self.source}: layer id={at.get('id')}, name='{at.get('name')}', "
                              f"type={at.get('type')}: {msg}")

    def build(self) -> Model:
        layers_block = self.net.get("layers")
        layers = (layers_block or {}).get("layer") if isinstance(layers_block, Mapping) else None
        if not layers:
            raise self.err(None, "the model has no layers")
        by_id: dict[int, Mapping] = {}
        order_in_xml: list[int] = []
        for layer in layers:
            at = _attrs(layer)
            try:
                lid = int(at["id"])
            except (KeyError, ValueError):
                raise self.err(layer, "missing or bad 'id'") from None
            if lid in by_id:
                raise self.err(layer, f"duplicate layer id {lid}")
            for key in ("type", "name"):
                if key not in at:
                    raise self.err(layer, f"missing '{key}' attribute")
            by_id[lid] = layer
            order_in_xml.append(lid)
        in_ports = {lid: [int(_attrs(p)["id"]) for p in _ports(layer, "input")] for lid, layer in by_id.items()}
        out_ports = {lid: [int(_attrs(p)["id"]) for p in _ports(layer, "output")] for lid, layer in by_id.items()}

        sources: dict[int, dict[int, tuple[int, int]]] = {lid: {} for lid in by_id}
        edges_block = self.net.get("edges")
        for e in ((edges_block or {}).get("edge") or []) if isinstance(edges_block, Mapping) else []:
            at = _attrs(e)
            try:
                fl, fp, tl, tp = (int(at[k]) for k in ("from-layer", "from-port", "to-layer", "to-port"))
            except (KeyError, ValueError):
                raise self.err(None, f"bad edge {at}") from None
            if fl not in by_id or tl not in by_id:
                missing = fl if fl not in by_id else tl
                raise self.err(None, f"edge {fl}:{fp} -> {tl}:{tp} names layer {missing}, which does not exist")
            if fp not in out_ports[fl]:
                raise self.err(by_id[fl], f"edge to layer {tl} starts at output port {fp}, which this layer "
                                          f"does not have (its output ports: {out_ports[fl]})")
            if tp not in in_ports[tl]:
                raise self.err(by_id[tl], f"edge from layer {fl} ends at input port {tp}, which this layer "
                                          f"does not have (its input ports: {in_ports[tl]})")
            if tp in sources[tl]:
                raise self.err(by_id[tl], f"input port {tp} has two incoming edges")
            sources[tl][tp] = (fl, out_ports[fl].index(fp))

        nodes: dict[int, Node] = {}
        for lid in self._topological(by_id, sources, order_in_xml):
            layer = by_id[lid]
            inputs = []
            for pid in in_ports[lid]:
                if pid not in sources[lid]:
                    raise self.err(layer, f"input port {pid} is not connected")
                sl, si = sources[lid][pid]
                inputs.append(Output(nodes[sl], si))
            nodes[lid] = self.make_node(layer, lid, inputs, len(out_ports[lid]))

        params = [nodes[i] for i in order_in_xml if nodes[i].type_name == "Parameter"]
        results = [nodes[i] for i in order_in_xml if nodes[i].type_name == "Result"]
        sinks = [nodes[i] for i in order_in_xml if nodes[i].type_name == "Assign"]
        if not results and not sinks:
            raise self.err(None, "the model has no Result layer")
        model = Model(results, params, _attrs(self.net).get("name", "Model"), sinks=sinks)
        model.rt_info = parse_model_rt_info(self.net.get("rt_info"))
        return model

    def _topological(self, by_id, sources, order_in_xml) -> list[int]:
        indeg = {lid: len(sources[lid]) for lid in by_id}
        users: dict[int, list[int]] = {lid: [] for lid in by_id}
        for tl, m in sources.items():
            for fl, _ in m.values():
                users[fl].append(tl)
        ready = [lid for lid in order_in_xml if indeg[lid] == 0]
        ready.reverse()
        out = []
        while ready:
            lid = ready.pop()
            out.append(lid)
            for u in users[lid]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    ready.append(u)
        if len(out) != len(by_id):
            stuck = sorted(set(by_id) - set(out))
            raise self.err(None, f"the graph has a cycle through layers {stuck[:10]}")
        return out

    def make_node(self, layer: Mapping, lid: int, inputs: list[Output], n_out: int) -> Node:
        at = _attrs(layer)
        type_name = TYPE_ALIASES.get(at["type"].lower(), at["type"])
        version = at.get("version", "opset1")
        if type_name.lower() in _OPSET1_MEANS_2 and version == "opset1":
            version = "opset2"
        try:
            op = get_op(type_name, version)
        except UnsupportedOpError as exc:
            raise self.err(layer, str(exc)) from None
        data = _attrs((layer.get("data") or None))
        attrs: dict[str, Any] = {}
        for a in op.attrs:
            if a.name in data:
                try:
                    attrs[a.name] = a.parse(data[a.name])
                except (ValueError, ArrayrtError) as exc:
                    raise OpAttributeError(
                        f"{self.source}: layer id={lid}, name='{at['name']}', type={at['type']}: "
                        f"attribute '{a.name}' has a bad value '{data[a.name]}': {exc}") from None
        if op.type_name == "Constant":
            attrs["value"] = self.read_constant(layer, data)
        elif op.type_name == "Parameter" and "element_type" not in attrs:
            out = _ports(layer, "output")
            if out and "precision" in _attrs(out[0]):
                attrs["element_type"] = Type(_attrs(out[0])["precision"])
        elif op.type_name == "Result" and "output_names" in at:
            pass  # names come from the producer's port; the attribute only repeats them
        try:
            node = Node(op, inputs, attrs, name=at["name"], num_outputs=n_out if n_out else None, ir_id=lid)
        except ArrayrtError as exc:
            msg = str(exc)
            if f"id={lid}" not in msg:
                raise type(exc)(f"{self.source}: layer id={lid}, name='{at['name']}': {msg}") from None
            raise
        for k, p in enumerate(_ports(layer, "output")[: node.get_output_size()]):
            pat = _attrs(p)
            if "names" in pat:
                node._outputs[k].names = _split_names(pat["names"])
            if self.version > 10:
                node._outputs[k].rt_info = parse_rt_info(p.get("rt_info"))
        if op.type_name == "Result" and "output_names" in at and inputs:
            inputs[0]._info.names |= _split_names(at["output_names"])
        if self.version > 10:
            node.rt_info.update(parse_rt_info(layer.get("rt_info")))
        return node

    def read_constant(self, layer: Mapping, data: dict[str, str]) -> np.ndarray:
        try:
            t = Type(data["element_type"])
            shape = PartialShape(data.get("shape", "")).to_shape()
            offset, size = int(data["offset"]), int(data["size"])
        except KeyError as exc:
            raise self.err(layer, f"Const is missing the '{exc.args[0]}' attribute") from None
        except (ValueError, ArrayrtError) as exc:
            raise self.err(layer, f"bad Const attributes: {exc}") from None
        if self.weights is None:
            where_bin = f"'{self.missing_bin}'" if self.missing_bin else "no weights were given"
            raise self.err(layer, f"needs the weights file, which is missing ({where_bin})")
        total = len(self.weights)
        count = int(np.prod(shape, dtype=np.int64))
        if offset < 0 or size < 0 or offset + size > total:
            raise self.err(layer, f"constant data [offset {offset}, size {size}] runs past the end of the "
                                  f"weights ({total} bytes): the .bin is short or does not belong to this .xml")
        if t is Type.string:
            return _unpack_strings(self.weights, offset, size, shape, lambda m: self.err(layer, m))
        need = dtype_size_bytes(t, count)
        if size < need:
            raise self.err(layer, f"constant of type {t} and shape {list(shape)} needs {need} bytes, "
                                  f"the layer declares {size}")
        return _view(self.weights, t, shape, count, offset)


def _view(buf: Any, t: Type, shape: tuple[int, ...], count: int, offset: int) -> np.ndarray:
    if t.bitwidth >= 8:
        dt = t.to_dtype()
        arr = np.frombuffer(buf, dtype=dt, count=count, offset=offset) if count else np.zeros(0, dt)
        if not arr.flags.aligned:
            arr = arr.copy()
            arr.flags.writeable = False
        return arr.reshape(shape)
    raw = np.frombuffer(buf, dtype=np.uint8, count=dtype_size_bytes(t, count), offset=offset)
    if t is Type.u1:  # 8 per byte, first element in the most significant bit
        vals = np.unpackbits(raw)[:count]
    else:  # 2 per byte, first element in the low nibble
        lo, hi = raw & 0x0F, raw >> 4
        vals = np.stack([lo, hi], axis=-1).reshape(-1)[:count]
        if t is Type.i4:
            vals = np.where(vals >= 8, vals.astype(np.int16) - 16, vals).astype(np.int8)
    return vals.astype(t.to_dtype()).reshape(shape)


def _unpack_strings(buf: Any, offset: int, size: int, shape: tuple[int, ...], err) -> np.ndarray:
    raw = bytes(memoryview(buf)[offset: offset + size])
    if len(raw) < 4:
        raise err("string constant is shorter than its header")
    n = int(np.frombuffer(raw, np.int32, 1)[0])
    if 4 + 4 * (n + 1) > len(raw):
        raise err("string constant header runs past its data")
    offs = np.frombuffer(raw, np.int32, n + 1, 4)
    base = 4 + 4 * (n + 1)
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = raw[base + offs[i]: base + offs[i + 1]].decode("utf-8", errors="replace")
    return out.reshape(shape)


def _v10_fixups(model: Model) -> None:
    """IR v10 carries no tensor names of the new API: OpenVINO names each input after its Parameter
    and each output after its producer (``name`` or ``name.port`` when the producer has several
    outputs)."""
    for p in model.get_parameters():
        out = p.output(0)
        out._info.names.add(p.friendly_name)
    for r in model.get_results():
        src = r.input_value(0)
        prev = src.node
        name = prev.friendly_name if prev.get_output_size() == 1 else f"{prev.friendly_name}.{src.index}"
        src._info.names.add(name)
