"""Write a :class:`~arrayrt.ir.model.Model` as OpenVINO IR v11, laid out as OpenVINO writes it."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from arrayrt.errors import ArrayrtError
from arrayrt.ir.model import Model, clone_model
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

#: op type names that IR spells differently
IR_TYPE_NAMES = {"Constant": "Const", "Relu": "ReLU", "Softmax": "SoftMax", "PRelu": "PReLU"}
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def save_model(model: Model, output_model: "str | os.PathLike", compress_to_fp16: bool = True) -> None:
    """Save as IR v11 (``X.xml`` + ``X.bin``). With ``compress_to_fp16`` float constants are stored
    as f16 followed by a decompression Convert, clamped to the f16 range as OpenVINO does."""
    path = Path(os.fspath(output_model))
    if path.suffix.lower() != ".xml":
        path = path.with_suffix(".xml") if path.suffix else Path(str(path) + ".xml")
    if compress_to_fp16:
        from arrayrt.ir.passes.compress_fp16 import compress_float_constants

        model = clone_model(model)
        compress_float_constants(model)
    serialize(model, path)


def serialize(model: Model, xml_path: "str | os.PathLike", bin_path: "str | os.PathLike | None" = None,
              version: str = "UNSPECIFIED") -> None:
    """Write the model as it is (no compression) to ``xml_path`` and ``bin_path``."""
    if str(version).upper() not in ("UNSPECIFIED", "IR_V11"):
        raise ArrayrtError(f"cannot write IR version '{version}': arrayrt writes IR v11")
    xml_path = Path(os.fspath(xml_path))
    bin_path = Path(os.fspath(bin_path)) if bin_path else xml_path.with_suffix(".bin")
    xml, weights = to_ir(model)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_xml, tmp_bin = xml_path.with_name(xml_path.name + ".tmp"), bin_path.with_name(bin_path.name + ".tmp")
    with open(tmp_bin, "wb") as f:
        for chunk in weights:
            f.write(chunk)
    tmp_xml.write_text(xml, encoding="utf-8")
    os.replace(tmp_bin, bin_path)
    os.replace(tmp_xml, xml_path)


def to_ir(model: Model) -> tuple[str, list[bytes]]:
    """The IR XML text and the list of ``.bin`` chunks."""
    w = _Writer()
    return w.write(model), w.chunks


class _Writer:
    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0
        self.offsets: dict[tuple[str, int, bytes], int] = {}

    def blob(self, data: bytes) -> int:
        key = (hashlib.sha1(data).hexdigest(), len(data), data[:16])
        if key in self.offsets:
            return self.offsets[key]
        off = self.size
        self.chunks.append(data)
        self.size += len(data)
        self.offsets[key] = off
        return off

    def write(self, model: Model) -> str:
        order = model.get_ordered_ops()
        ids = {n.uid: i for i, n in enumerate(order)}
        out = ['<?xml version="1.0"?>', f"<net name={quoteattr(model.name)} version=\"11\">", "\t<layers>"]
        edges = []
        for node in order:
            out.extend(self.layer(node, ids[node.uid]))
            for i, src in enumerate(node.input_values()):
                if src.node.uid not in ids:
                    raise ArrayrtError(f"node '{node.friendly_name}' reads a node outside the model")
                edges.append((ids[src.node.uid], _out_port_id(src), ids[node.uid], i))
        out.append("\t</layers>")
        out.append("\t<edges>")
        for fl, fp, tl, tp in edges:
            out.append(f'\t\t<edge from-layer="{fl}" from-port="{fp}" to-layer="{tl}" to-port="{tp}" />')
        out.append("\t</edges>")
        rt = dict(model.rt_info)
        if rt:
            out.append("\t<rt_info>")
            out.extend(_model_rt(rt, 2))
            out.append("\t</rt_info>")
        out.append("</net>")
        return "\n".join(out) + "\n"

    def layer(self, node, lid: int) -> list[str]:
        t = node.type_name
        head = (f"\t\t<layer id=\"{lid}\" name={quoteattr(node.friendly_name)} "
                f"type=\"{IR_TYPE_NAMES.get(t, t)}\" version=\"{node.op.opset}\"")
        if t == "Result":
            names = node.input_value(0).get_names()
            if names:
                head += f" output_names={quoteattr(_join_names(names))}"
        lines = [head + ">"]
        data = self.data_attrs(node)
        if data:
            lines.append("\t\t\t<data " + " ".join(f"{k}={quoteattr(v)}" for k, v in data) + " />")
        lines.extend(_rt_block(node.rt_info, 3))
        if node.get_input_size():
            lines.append("\t\t\t<input>")
            for i, src in enumerate(node.input_values()):
                lines.extend(_port(i, src.get_element_type(), src.get_partial_shape(), None, None, 4))
            lines.append("\t\t\t</input>")
        if node.get_output_size() and t != "Result":
            lines.append("\t\t\t<output>")
            base = node.get_input_size()
            for k, o in enumerate(node.outputs()):
                lines.extend(_port(base + k, o.get_element_type(), o.get_partial_shape(),
                                   o._info.names, o._info.rt_info, 4))
            lines.append("\t\t\t</output>")
        lines.append("\t\t</layer>")
        return lines

    def data_attrs(self, node) -> list[tuple[str, str]]:
        t = node.type_name
        if t == "Constant":
            et: Type = node.attrs["element_type"]
            value = np.asarray(node.attrs["value"])
            data = _pack(value, et)
            off = self.blob(data)
            shape = ", ".join(str(d) for d in value.shape)
            return [("element_type", et.name), ("shape", shape), ("offset", str(off)), ("size", str(len(data)))]
        if t == "Parameter":
            return [("shape", node.attrs["shape"].to_ir()), ("element_type", node.attrs["element_type"].name)]
        return [(a.name, a.format(node.attrs[a.name])) for a in node.op.attrs
                if a.write and node.attrs.get(a.name) is not None]


def _out_port_id(out) -> int:
    return out.node.get_input_size() + out.index


def _join_names(names) -> str:
    return ",".join(n.replace(",", "\\,") for n in sorted(names))


def _port(pid: int, et: Type, shape: PartialShape, names, rt, indent: int) -> list[str]:
    pad = "\t" * indent
    attrs = f'id="{pid}" precision="{et.legacy_name}"'
    if names:
        attrs += f" names={quoteattr(_join_names(names))}"
    body = []
    if shape.rank_is_static:
        body = [f"{pad}\t<dim>{d.min if d.is_static else -1}</dim>" for d in shape]
    body += _rt_block(rt or {}, indent + 1)
    if not body:
        return [f"{pad}<port {attrs} />"]
    return [f"{pad}<port {attrs}>", *body, f"{pad}</port>"]


def _rt_block(rt: dict, indent: int) -> list[str]:
    items = [(k, v) for k, v in rt.items() if not k.startswith("__")]
    if not items:
        return []
    pad = "\t" * indent
    lines = [f"{pad}<rt_info>"]
    for name, v in items:
        attrs = dict(v) if isinstance(v, dict) else {"version": "0", "value": str(v)}
        attrs.setdefault("version", "0")
        rest = " ".join(f"{k}={quoteattr(str(x))}" for k, x in attrs.items())
        lines.append(f"{pad}\t<attribute name={quoteattr(name)} {rest} />")
    lines.append(f"{pad}</rt_info>")
    return lines


def _model_rt(rt: dict, indent: int) -> list[str]:
    pad = "\t" * indent
    lines = []
    for k, v in rt.items():
        if isinstance(v, dict):
            if _XML_NAME.match(k):
                lines.append(f"{pad}<{k}>")
                lines.extend(_model_rt(v, indent + 1))
                lines.append(f"{pad}</{k}>")
            continue
        if _XML_NAME.match(k) and k != "info":
            lines.append(f"{pad}<{k} value={quoteattr(str(v))} />")
        else:
            lines.append(f"{pad}<info name={quoteattr(k)} value={quoteattr(str(v))} />")
    return lines


def _pack(value: np.ndarray, t: Type) -> bytes:
    if t is Type.string:
        return _pack_strings(value)
    if t.bitwidth >= 8:
        return np.ascontiguousarray(value.astype(t.to_dtype(), copy=False)).tobytes()
    flat = value.reshape(-1).astype(np.int16)
    if t is Type.u1:
        return np.packbits((flat != 0).astype(np.uint8)).tobytes()
    nib = (flat & 0x0F).astype(np.uint8)
    if nib.size % 2:
        nib = np.concatenate([nib, np.zeros(1, np.uint8)])
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes()


def _pack_strings(value: np.ndarray) -> bytes:
    items = [(s if isinstance(s, bytes) else str(s).encode("utf-8")) for s in value.reshape(-1)]
    offsets = np.zeros(len(items) + 1, np.int32)
    np.cumsum([len(b) for b in items], out=offsets[1:])
    return np.int32(len(items)).tobytes() + offsets.tobytes() + b"".join(items)

