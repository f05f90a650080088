"""Read OpenVINO IR v10/v11 (``.xml`` + ``.bin``) into a :class:`~arrayrt.ir.model.Model`, building
the same graph OpenVINO's IR frontend builds.

What this follows from OpenVINO (``ir_deserializer.cpp``, ``input_model.cpp``, ``model_reader.cpp``):

* The graph is a depth-first walk from the ``Result`` and ``Assign`` layers, with the ``Parameter``
  layers first in XML order; a layer no output depends on is never built. Results, sinks
  and parameters keep their XML order.
* ``type`` is looked up case-insensitively, after the four IR spellings ``Const``, ``ReLU``,
  ``SoftMax`` and ``PReLU`` (exact case) are translated. ``version="opsetN"`` picks the op version
  opset N holds; ``opset1`` MVN/ROIPooling/ReorgYolo mean opset2, and ``experimental``/``extension``
  mean opset6 for the eight ops that moved there.
* Output-port ``names`` (``\\,`` escapes a comma) are the tensor names; a Result's
  ``output_names`` replaces them on the tensor it returns. Node and output-port ``rt_info`` is read
  for v11 only; the model ``rt_info`` (or the legacy ``meta_data``/``quantization_parameters``
  blocks) becomes ``Model.rt_info``, with ``version`` set to the IR version.
* A legacy ``<pre-process>`` mean block becomes a ``Subtract`` after its input; IR v10 gets the
  "old API" fix-ups of :func:`_v10_fixups`.
* TensorIterator, Loop and If read their ``<body>`` (``<then_body>``/``<else_body>``) as models of
  their own and their ``<port_map>``/``<back_edges>`` as OpenVINO's ``XmlDeserializer`` does
  (:meth:`_Builder.read_bodies`).

The XML goes through expat with any DOCTYPE refused before its internal subset is read, so entity
expansion ("billion laughs") and external entities cannot happen. Constants are read-only numpy
views of the memory-mapped ``.bin``; only sub-byte and string constants (which must be unpacked)
and data at an offset misaligned for its dtype are copied.
"""
from __future__ import annotations

import mmap
import os
import re
from pathlib import Path
from typing import Any
from xml.parsers import expat

import numpy as np
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.model import Model
from arrayrt.ir.ops import OpDef, get_op
from arrayrt.ir.types import Type, dtype_size_bytes

from arrayrt.errors import ArrayrtError, ModelReadError, OpAttributeError, UnsupportedOpError

#: IR spellings of op types, matched with their exact case as OpenVINO does
TYPE_ALIASES = {"Const": "Constant", "ReLU": "Relu", "SoftMax": "Softmax", "PReLU": "PRelu"}
#: the newest opset the OpenVINO release arrayrt follows (2026.4) knows; opset17 is still partial
LAST_OPSET = 17
_OPSET17 = frozenset({"parameter", "convert", "shapeof", "erfinv", "groupedmatmul", "rgbtonv12", "bgrtonv12"})
#: opsets that dropped a type that older or newer opsets have
_ABSENT_FROM = {"reverse": range(2, LAST_OPSET + 1), "xor": range(2, LAST_OPSET + 1),
                "rnncell": (2,), "shufflechannels": (2,)}
_OPSET1_MEANS_2 = frozenset({"mvn", "roipooling", "reorgyolo"})
_MOVED_TO_OPSET6 = frozenset({
    "experimentaldetectrondetectionoutput", "experimentaldetectrongenerateproposalssingleimage",
    "experimentaldetectronpriorgridgenerator", "experimentaldetectronroifeatureextractor",
    "experimentaldetectrontopkrois", "grucell", "rnncell", "proposal"})
_OPSET_NAME = re.compile(r"opset(\d+)")
_SUB_GRAPH_OPS = frozenset({"TensorIterator", "Loop", "If"})


def read_model(model: Any, weights: Any = None) -> Model:
    """Read IR from a path (``.xml``; the ``.bin`` beside it unless ``weights``), XML text or bytes
    (``weights`` then bytes, an array/Tensor of bytes, or a path), or an ONNX file / ``ModelProto``."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        looks_xml = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or data[:2] in (b"\xff\xfe", b"\xfe\xff")
        if weights is None and not looks_xml:
            return _read_onnx(_onnx_from_bytes(data))  # OpenVINO's read_model takes ONNX bytes too
        return parse_ir(data, _weights_buffer(weights), source="<bytes>")
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
        found = bin_path.exists()
        return parse_ir(xml, _map_file(bin_path) if found else None, source=str(path),
                        missing_bin=None if found else bin_path)
    return parse_ir(xml, _weights_buffer(weights), source=str(path))


def _read_onnx(model: Any) -> Model:
    try:
        from arrayrt.ir.frontend.onnx import convert_onnx
    except ImportError as exc:
        raise UnsupportedOpError(f"the ONNX frontend is not available: {exc}") from exc
    return convert_onnx(model)


def _onnx_from_bytes(data: bytes) -> Any:
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:
        raise ModelReadError("<bytes>: not IR XML (no '<' at the start), and the onnx package that would "
                             "read them as an ONNX model is not installed") from None
    try:
        proto = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise ModelReadError(f"<bytes>: neither IR XML (no '<' at the start) nor an ONNX model ({exc})") from None
    if not proto.HasField("graph") or not proto.opset_import:
        raise ModelReadError("<bytes>: neither IR XML (no '<' at the start) nor an ONNX model (no graph or "
                             "opset_import in what protobuf read)")
    return proto


def _weights_buffer(weights: Any) -> Any:
    if weights is None:
        return None
    if isinstance(weights, (bytes, bytearray, memoryview)):
        return memoryview(weights).cast("B")
    if hasattr(weights, "shape"):  # an ndarray, or a Tensor (its .data) holding the bytes
        data = weights.data if hasattr(weights, "element_type") else weights
        return memoryview(np.ascontiguousarray(np.asarray(data)).reshape(-1).view(np.uint8))
    path = Path(os.fspath(weights))
    if not path.exists():
        raise ModelReadError(f"weights file '{path}' does not exist")
    return _map_file(path)


def _map_file(path: Path) -> Any:
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return memoryview(b"")
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


# --- XML -----------------------------------------------------------------------------------------
class _El:
    """One XML element: tag, attributes (document order), children, text."""

    __slots__ = ("tag", "at", "kids", "text", "line")

    def __init__(self, tag: str, at: dict[str, str], line: int):
        self.tag, self.at, self.kids, self.text, self.line = tag, at, [], "", line

    def child(self, tag: str) -> "_El | None":
        for k in self.kids:
            if k.tag == tag:
                return k
        return None

    def all(self, tag: str) -> list["_El"]:
        return [k for k in self.kids if k.tag == tag]


class _Refused(Exception):
    pass


def parse_xml(data: bytes, source: str = "<memory>") -> _El:
    """The document element of ``data``. A DOCTYPE (hence any entity declaration) is refused as
    soon as expat sees it, before a single entity is declared or expanded."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_El] = []
    roots: list[_El] = []

    def start(tag, attrs):
        el = _El(tag, attrs, parser.CurrentLineNumber)
        (stack[-1].kids if stack else roots).append(el)
        stack.append(el)

    def end(_tag):
        stack.pop()

    def text(chunk):
        if stack:
            stack[-1].text += chunk

    def refuse(*_args):
        raise _Refused(f"line {parser.CurrentLineNumber}")

    fixed = _hide_control_refs(data)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(fixed if fixed is not None else data, True)
    except _Refused as exc:
        raise ModelReadError(f"{source}: the XML has a DOCTYPE/ENTITY declaration ({exc}); IR never "
                             "needs one and entity expansion or external entities are refused") from None
    except expat.ExpatError as exc:
        raise ModelReadError(f"{source}: malformed XML: {exc}") from None
    if not roots:
        raise ModelReadError(f"{source}: the XML document is empty")
    if fixed is not None:
        _restore_control_chars(roots[0])
    return roots[0]


_CHAR_REF = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);")
_HIDDEN = 0xF0000  # control characters travel through expat as these private-use characters
_UNHIDE = {_HIDDEN + c: chr(c) for c in range(32)}


def _hide_control_refs(data: bytes) -> bytes | None:
    """pugixml (hence OpenVINO) writes control characters in names as ``&#01;``, which XML 1.0 and
    expat refuse; swap them for private-use characters while parsing. None if there are none."""
    if b"&#" not in data:
        return None
    found = False

    def swap(m: re.Match) -> bytes:
        nonlocal found
        ref = m.group(1)
        code = int(ref[1:], 16) if ref[:1] == b"x" else int(ref)
        if code < 32 and code not in (9, 10, 13):
            found = True
            return chr(_HIDDEN + code).encode("utf-8")
        return m.group(0)

    fixed = _CHAR_REF.sub(swap, data)
    return fixed if found else None


def _restore_control_chars(root: _El) -> None:
    stack = [root]
    while stack:
        el = stack.pop()
        el.at = {k: v.translate(_UNHIDE) for k, v in el.at.items()}
        el.text = el.text.translate(_UNHIDE)
        stack.extend(el.kids)


def parse_ir(xml: bytes, weights: Any, source: str = "<memory>", missing_bin: Path | None = None) -> Model:
    """Build a model from IR XML bytes and the weights buffer (None when there is none)."""
    net = parse_xml(xml, source)
    if net.tag != "net":
        raise ModelReadError(f"{source}: not an OpenVINO IR file: the root element is <{net.tag}>, "
                             "expected <net>")
    text = net.at.get("version")
    if text is None:
        raise ModelReadError(f"{source}: <net> has no 'version' attribute (expected 10 or 11)")
    try:
        version = int(text)
    except ValueError:
        raise ModelReadError(f"{source}: <net version='{text}'>: expected 10 or 11") from None
    if version not in (10, 11):
        raise ModelReadError(f"{source}: IR version {version} is not supported: expected 10 or 11")
    model = _Builder(net, weights, source, version, missing_bin).build()
    model.rt_info = read_model_rt_info(net)
    model.rt_info["version"] = version
    _pre_process(net, model, weights, source)
    if version == 10:
        _v10_fixups(model)
    return model


def split_names(text: str) -> set[str]:
    """Tensor names of a ``names``/``output_names`` attribute: comma separated, ``\\,`` a comma
    inside a name; spaces are part of names."""
    names: list[str] = []
    parts = text.split(",")
    i = 0
    while i < len(parts):
        name = parts[i]
        while name.endswith("\\") and i + 1 < len(parts):
            i += 1
            name = name[:-1] + "," + parts[i]
        names.append(name)
        i += 1
    return {n for n in names if n}


def read_rt_attributes(elem: "_El | None") -> dict[str, dict[str, str]]:
    """Node/port ``<rt_info>``: each ``<attribute name= version= .../>`` -> {name: its other
    attributes}. Entries without a name or version are skipped, as OpenVINO does."""
    out: dict[str, dict[str, str]] = {}
    if elem is None:
        return out
    for a in elem.all("attribute"):
        if "name" not in a.at or "version" not in a.at:
            continue
        out[a.at["name"]] = {k: v for k, v in a.at.items() if k != "name"}
    return out


def read_model_rt_info(net: _El) -> dict[str, Any]:
    """The model ``rt_info``: ``<info name= value=/>``, ``<key value=/>`` and nested sections; or,
    for files without ``<rt_info>``, the legacy ``meta_data`` and ``quantization_parameters``."""
    section = net.child("rt_info")
    if section is not None:
        out: dict[str, Any] = {}
        for item in section.kids:
            key = item.at.get("name", item.tag)
            out[key] = item.at["value"] if "value" in item.at else _meta_section(item)
        return out
    out = {}
    meta = net.child("meta_data")
    for item in meta.kids if meta is not None else ():
        if item.tag == "cli_parameters":
            out["conversion_parameters"] = _meta_section(item)
        elif "value" in item.at:
            out[item.tag] = item.at["value"]
        else:
            raise ModelReadError(f"<meta_data>: unsupported legacy entry <{item.tag}> (line {item.line})")
    quant = net.child("quantization_parameters")
    out["optimization"] = _meta_section(quant) if quant is not None else {}
    return out


def _meta_value(item: _El) -> Any:
    if "value" in item.at:
        return item.at["value"]
    if item.tag == "unset" and "unset_cli_parameters" in item.at:
        return item.at["unset_cli_parameters"]
    return _meta_section(item)


def _meta_section(node: _El) -> dict[str, Any]:
    out: dict[str, Any] = {}
    owner = node.at.get("name", node.tag)
    for item in node.kids:
        key = item.at.get("name", item.tag)
        if key == "config" and owner == "quantization_parameters":
            out[key] = _legacy_pot_config(item)
        else:
            out[key] = _meta_value(item)
    return out


def _legacy_pot_config(item: _El) -> str:
    """POT's ``<config>`` as the one-line text OpenVINO makes of it: the element printed with tab
    indentation, its own tags and the newlines removed, runs of spaces collapsed."""
    lines: list[str] = []

    def dump(el: _El, depth: int) -> None:
        attrs = "".join(f' {k}="{_escape(v)}"' for k, v in el.at.items())
        pad = "\t" * depth
        if el.kids:
            lines.append(f"{pad}<{el.tag}{attrs}>")
            for k in el.kids:
                dump(k, depth + 1)
            lines.append(f"{pad}</{el.tag}>")
        elif el.text:
            lines.append(f"{pad}<{el.tag}{attrs}>{_escape(el.text)}</{el.tag}>")
        else:
            lines.append(f"{pad}<{el.tag}{attrs} />")

    for k in item.kids:
        dump(k, 1)
    return re.sub(" +", " ", "".join(lines))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


# --- graph ---------------------------------------------------------------------------------------
class _Layer:
    __slots__ = ("el", "id", "type", "name", "version", "in_ports", "out_ports", "out_ids")

    def __init__(self, el: _El, lid: int):
        self.el, self.id = el, lid
        self.type, self.name, self.version = el.at["type"], el.at["name"], el.at["version"]
        self.in_ports: list[int] = []
        self.out_ports: list[_El] = []
        self.out_ids: list[int] = []

    def where(self) -> str:
        return f"layer id={self.id}, name='{self.name}', type={self.type}"


class _Builder:
    def __init__(self, net: _El, weights: Any, source: str, version: int, missing_bin: Path | None):
        self.net, self.weights, self.source, self.version = net, weights, source, version
        self.missing_bin = missing_bin

    def err(self, layer: "_Layer | None", msg: str) -> ModelReadError:
        where = f"{layer.where()}: " if layer is not None else ""
        return ModelReadError(f"{self.source}: {where}{msg}")

    # layers, ports and edges ----------------------------------------------------------------------
    def build(self) -> Model:
        block = self.net.child("layers")
        elements = block.all("layer") if block is not None else []
        if not elements:
            raise self.err(None, "the model has no layers")
        layers: dict[int, _Layer] = {}
        for el in elements:
            for key in ("id", "type", "name", "version"):
                if key not in el.at:
                    raise self.err(None, f"<layer> at line {el.line} has no '{key}' attribute")
            try:
                lid = int(el.at["id"])
            except ValueError:
                raise self.err(None, f"<layer> at line {el.line} has a bad id '{el.at['id']}'") from None
            if lid in layers:
                raise self.err(None, f"two layers have id {lid} (lines {layers[lid].el.line} and {el.line})")
            layer = layers[lid] = _Layer(el, lid)
            self.read_ports(layer)
        sources = self.read_edges(layers)
        order = self.walk(layers, sources)
        nodes: dict[int, Node] = {}
        params, results, sinks = [], [], []
        named_by_result: set[Output] = set()
        for lid in order:
            layer = layers[lid]
            connected = sources[lid]
            inputs = []
            for k, pid in enumerate(layer.in_ports):
                if pid not in connected:
                    raise self.err(layer, f"input port {pid} (input {k}) is not connected: "
                                          "no edge ends there")
                src_layer, src_index = connected[pid]
                inputs.append(Output(nodes[src_layer], src_index))
            node = nodes[lid] = self.make_node(layer, inputs)
            if node.type_name == "Parameter":
                params.append(node)
            elif node.type_name == "Result":
                results.append(node)
                names = split_names(layer.el.at.get("output_names", ""))
                if names and inputs:  # the Result's names are those of the tensor it returns
                    src = inputs[0]
                    src._info.names = (src._info.names | names) if src in named_by_result else set(names)
                    named_by_result.add(src)
            elif node.type_name == "Assign":
                sinks.append(node)
        if not results and not sinks:
            raise self.err(None, "the model has no Result layer")
        return Model(results, params, self.net.at.get("name", ""), sinks=sinks, name_tensors=False)

    def read_ports(self, layer: _Layer) -> None:
        for kind in ("input", "output"):
            block = layer.el.child(kind)
            for port in block.all("port") if block is not None else ():
                try:
                    pid = int(port.at["id"])
                except (KeyError, ValueError):
                    raise self.err(layer, f"<{kind}> port at line {port.line} has a missing or bad "
                                          f"id {port.at.get('id')!r}") from None
                for dim in port.all("dim"):
                    try:
                        ok = int(dim.text) >= -1
                    except ValueError:
                        ok = False
                    if not ok:
                        raise self.err(layer, f"{kind} port {pid}: <dim>{dim.text}</dim> at line {dim.line} "
                                              "must be an integer >= -1")
                if kind == "input":
                    layer.in_ports.append(pid)
                    continue
                if "precision" not in port.at:
                    raise self.err(layer, f"output port {pid} has no 'precision' attribute")
                try:
                    Type(port.at["precision"])
                except ArrayrtError:
                    raise self.err(layer, f"output port {pid}: unknown precision "
                                          f"'{port.at['precision']}'") from None
                layer.out_ports.append(port)
                layer.out_ids.append(pid)

    def read_edges(self, layers: dict[int, _Layer]) -> dict[int, dict[int, tuple[int, int]]]:
        """For each layer: its input port id -> (source layer id, source output index)."""
        sources: dict[int, dict[int, tuple[int, int]]] = {lid: {} for lid in layers}
        block = self.net.child("edges")
        for e in block.all("edge") if block is not None else ():
            try:
                fl, fp, tl, tp = (int(e.at[k]) for k in ("from-layer", "from-port", "to-layer", "to-port"))
            except (KeyError, ValueError):
                raise self.err(None, f"<edge> at line {e.line} needs integer from-layer, from-port, "
                                     f"to-layer and to-port, got {e.at}") from None
            for end, lid in (("from-layer", fl), ("to-layer", tl)):
                if lid not in layers:
                    raise self.err(None, f"<edge> at line {e.line} ({fl}:{fp} -> {tl}:{tp}): its {end} {lid} "
                                         "is not a layer of the model")
            src, dst = layers[fl], layers[tl]
            if fp not in src.out_ids:
                raise self.err(src, f"an edge to layer {tl} starts at output port {fp}, which this layer "
                                    f"does not have (its output ports: {src.out_ids})")
            if tp not in dst.in_ports:
                raise self.err(dst, f"an edge from layer {fl} ends at input port {tp}, which this layer "
                                    f"does not have (its input ports: {dst.in_ports})")
            if tp in sources[tl]:
                raise self.err(dst, f"input port {tp} has two incoming edges (from layers "
                                    f"{sources[tl][tp][0]} and {fl})")
            sources[tl][tp] = (fl, src.out_ids.index(fp))
        return sources

    def walk(self, layers: dict[int, _Layer], sources) -> list[int]:
        """Layer ids in build order: Parameters in XML order, then a depth-first walk from the
        Result and Assign layers (in XML order) through their inputs."""
        order = [lid for lid, layer in layers.items() if layer.type == "Parameter"]
        for lid in order:
            if layers[lid].in_ports:  # placed first, before anything it could read
                raise self.err(layers[lid], f"a Parameter takes no input, but it has input port"
                                            f"{'s' if len(layers[lid].in_ports) > 1 else ''} "
                                            f"{', '.join(map(str, layers[lid].in_ports))}")
        state = dict.fromkeys(order, 2)  # 1: on the walk's path, 2: placed
        for root in (lid for lid, layer in layers.items() if layer.type in ("Result", "Assign")):
            if root in state:
                continue
            path = [(root, iter(self.input_layers(layers[root], sources)))]
            state[root] = 1
            while path:
                lid, pending = path[-1]
                nxt = next(pending, None)
                if nxt is None:
                    path.pop()
                    state[lid] = 2
                    order.append(lid)
                elif state.get(nxt) == 1:
                    cycle = [p for p, _ in path][[p for p, _ in path].index(nxt):] + [nxt]
                    raise self.err(layers[nxt], "the graph has a cycle: layers "
                                                + " -> ".join(str(c) for c in reversed(cycle)))
                elif nxt not in state:
                    state[nxt] = 1
                    path.append((nxt, iter(self.input_layers(layers[nxt], sources))))
        return order

    @staticmethod
    def input_layers(layer: _Layer, sources) -> list[int]:
        connected = sources[layer.id]
        return [connected[pid][0] for pid in layer.in_ports if pid in connected]

    # nodes ----------------------------------------------------------------------------------------
    def resolve(self, layer: _Layer) -> type[OpDef]:
        type_name = TYPE_ALIASES.get(layer.type, layer.type)
        low = type_name.lower()
        version = layer.version
        if version in ("experimental", "extension") and low in _MOVED_TO_OPSET6:
            version = "opset6"
        if version.startswith("arrayrt"):  # arrayrt's own extension ops
            try:
                return get_op(type_name, version)
            except UnsupportedOpError as exc:
                raise UnsupportedOpError(f"{self.source}: {layer.where()}: {exc}") from None
        m = _OPSET_NAME.fullmatch(version)
        n = int(m.group(1)) if m else 0
        if not 1 <= n <= LAST_OPSET:
            raise UnsupportedOpError(f"{self.source}: {layer.where()}: unknown op set version=\"{version}\" "
                                     f"(OpenVINO has opset1 to opset{LAST_OPSET})")
        if n == 1 and low in _OPSET1_MEANS_2:
            n = 2
        if n in _ABSENT_FROM.get(low, ()) or (n == LAST_OPSET and low not in _OPSET17):
            raise UnsupportedOpError(f"{self.source}: {layer.where()}: opset{n} does not contain "
                                     f"the op type {type_name}")
        try:
            return get_op(type_name, f"opset{n}")
        except UnsupportedOpError as exc:
            raise UnsupportedOpError(f"{self.source}: {layer.where()}, version={layer.version}: "
                                     f"{exc}") from None

    def make_node(self, layer: _Layer, inputs: list[Output]) -> Node:
        op = self.resolve(layer)
        data_el = layer.el.child("data")
        data = data_el.at if data_el is not None else {}
        attrs: dict[str, Any] = {}
        for a in op.attrs:
            if a.name in data:
                try:
                    attrs[a.name] = a.parse(data[a.name])
                except (ValueError, ArrayrtError) as exc:
                    raise OpAttributeError(f"{self.source}: {layer.where()}: attribute '{a.name}' has a bad "
                                           f"value '{data[a.name]}': {exc}") from None
        if op.type_name == "Constant":
            attrs["value"] = self.read_constant(layer, data)
        bodies = self.read_bodies(layer, op, attrs) if op.type_name in _SUB_GRAPH_OPS else []
        n_out = len(layer.out_ports)
        try:
            node = Node(op, inputs, attrs, name=layer.name, num_outputs=n_out or None, ir_id=layer.id,
                        bodies=bodies)
        except ArrayrtError as exc:
            if f"id={layer.id}," in str(exc):
                raise
            raise type(exc)(f"{self.source}: {layer.where()}: {exc}") from None
        rt = self.version > 10
        for k, port in enumerate(layer.out_ports[: node.get_output_size()]):
            if "names" in port.at:
                node._outputs[k].names = split_names(port.at["names"])
            if rt:
                node._outputs[k].rt_info = read_rt_attributes(port.child("rt_info"))
        if rt:
            node.rt_info.update(read_rt_attributes(layer.el.child("rt_info")))
        return node

    # bodies of TensorIterator, Loop and If ------------------------------------------------------
    def read_bodies(self, layer: _Layer, op: type[OpDef], attrs: dict[str, Any]) -> list[Model]:
        """The bodies and port maps, read as OpenVINO's deserializer reads them: port map entries
        sorted by ``external_port_id``; an input with ``axis`` is sliced, one a back edge ends at
        is merged, any other (with an id >= 0) invariant; outputs with ``axis`` are concatenated,
        the others the last iteration's value, numbered in id order; ``purpose`` marks a Loop's
        current-iteration Parameter and condition Result."""
        from arrayrt.ir.ops.control import BodyOutput, ConcatOutput, InvariantInput, MergedInput, SliceInput

        if op.type_name == "If":
            parts = (("then_body", "then_port_map", "then_inputs", "then_outputs"),
                     ("else_body", "else_port_map", "else_inputs", "else_outputs"))
        else:
            parts = (("body", "port_map", "input_descriptions", "output_descriptions"),)
        bodies = []
        for tag, map_tag, ins_key, outs_key in parts:
            el = layer.el.child(tag)
            if el is None:
                raise self.err(layer, f"a {op.type_name} needs a <{tag}>")
            body = _Builder(el, self.weights, self.source, self.version, self.missing_bin).build()
            body.rt_info = read_model_rt_info(el)
            bodies.append(body)
            param_of = {p.ir_id: i for i, p in enumerate(body.get_parameters())}
            result_of = {r.ir_id: i for i, r in enumerate(body.get_results())}
            port_map = layer.el.child(map_tag)
            entries = port_map.kids if port_map is not None else []

            def ref(table: dict[int, int], entry: _El, key: str, what: str) -> int:
                lid = self.int_attr(layer, entry, key)
                if lid not in table:
                    raise self.err(layer, f"<{map_tag}> entry at line {entry.line}: {key}={lid} is not a "
                                          f"{what} layer of the <{tag}>")
                return table[lid]

            back = {}
            edges = layer.el.child("back_edges")
            for e in edges.all("edge") if edges is not None else ():
                back.setdefault(self.int_attr(layer, e, "to-layer"), e)
            ins = []
            inputs = {}
            for e in entries:
                if e.tag == "input":
                    inputs.setdefault(self.int_attr(layer, e, "external_port_id") % (1 << 64), e)
            for ext, e in sorted(inputs.items()):
                ext = ext - (1 << 64) if ext >= 1 << 63 else ext
                param = ref(param_of, e, "internal_layer_id", "Parameter")
                lid = self.int_attr(layer, e, "internal_layer_id")
                if "axis" in e.at:
                    ins.append(SliceInput(ext, param, *(self.int_attr(layer, e, k, d) for k, d in (
                        ("start", 0), ("stride", 1), ("part_size", 1), ("end", -1), ("axis", 0)))))
                elif lid in back:
                    ins.append(MergedInput(ext, param, ref(result_of, back[lid], "from-layer", "Result")))
                elif ext >= 0:
                    ins.append(InvariantInput(ext, param))
            outs = []
            outputs = {}
            for e in entries:
                if e.tag == "output":
                    outputs.setdefault(self.int_attr(layer, e, "external_port_id"), e)
            for ext, e in sorted(outputs.items()):
                if ext < 0:
                    continue
                res = ref(result_of, e, "internal_layer_id", "Result")
                if "axis" in e.at:
                    outs.append(ConcatOutput(res, len(outs), *(self.int_attr(layer, e, k, d) for k, d in (
                        ("start", 0), ("stride", 1), ("part_size", 1), ("end", -1), ("axis", 0)))))
                else:
                    outs.append(BodyOutput(res, len(outs)))
            attrs[ins_key], attrs[outs_key] = ins, outs
            if op.type_name == "Loop":
                ports = [-1, -1]
                for e in entries:
                    purpose = e.at.get("purpose")
                    if e.tag == "input" and purpose == "current_iteration":
                        ports[0] = ref(param_of, e, "internal_layer_id", "Parameter")
                    elif e.tag == "output" and purpose == "execution_condition":
                        ports[1] = ref(result_of, e, "internal_layer_id", "Result")
                attrs["special_body_ports"] = ports
        return bodies

    def int_attr(self, layer: _Layer, el: _El, key: str, default: int | None = None) -> int:
        text = el.at.get(key)
        if text is None:
            if default is None:
                raise self.err(layer, f"<{el.tag}> at line {el.line} has no '{key}' attribute")
            return default
        try:
            return int(text)
        except ValueError:
            raise self.err(layer, f"<{el.tag}> at line {el.line}: '{key}' must be an integer, got '{text}'") from None

    def read_constant(self, layer: _Layer, data: dict[str, str]) -> np.ndarray:
        try:
            t = Type(data["element_type"])
            shape = tuple(int(p) for p in data["shape"].split(",") if p.strip())
            offset, size = int(data["offset"]), int(data["size"])
        except KeyError as exc:
            raise self.err(layer, f"a Const needs the '{exc.args[0]}' attribute in <data>") from None
        except (ValueError, ArrayrtError) as exc:
            raise self.err(layer, f"bad Const attributes {dict(data)}: {exc}") from None
        if t.is_dynamic or min(shape, default=0) < 0 or offset < 0 or size < 0:
            raise self.err(layer, f"bad Const attributes {dict(data)}: expected a static type, "
                                  "dimensions >= 0 and a non-negative offset and size")
        if self.weights is None:
            where = f"'{self.missing_bin}' does not exist" if self.missing_bin else "no weights were given"
            raise self.err(layer, f"the constant's data is in the weights file, but {where}")
        total = len(self.weights)
        if offset + size > total:
            raise self.err(layer, f"constant data [offset {offset}, size {size}] runs past the end of the "
                                  f"weights ({total} bytes): the .bin is short or belongs to another .xml")
        count = int(np.prod(shape, dtype=np.int64))
        if t is Type.string:
            return _unpack_strings(self.weights, offset, size, shape, lambda m: self.err(layer, m))
        need = dtype_size_bytes(t, count)
        if size < need:
            raise self.err(layer, f"a {t} constant of shape {list(shape)} needs {need} bytes, "
                                  f"the layer declares size={size}")
        return _view(self.weights, t, shape, count, offset)


def _view(buf: Any, t: Type, shape: tuple[int, ...], count: int, offset: int) -> np.ndarray:
    dt = t.to_dtype()
    if t.bitwidth >= 8:
        if count == 0:
            return np.zeros(shape, dt)
        arr = np.frombuffer(buf, dtype=dt, count=count, offset=offset)
        if not arr.flags.aligned:  # numpy kernels and DLPack consumers want aligned data
            arr = arr.copy()
            arr.flags.writeable = False
        return arr.reshape(shape)
    raw = np.frombuffer(buf, dtype=np.uint8, count=dtype_size_bytes(t, count), offset=offset)
    if t is Type.u1:  # 8 per byte, the first element in the most significant bit
        return np.unpackbits(raw)[:count].reshape(shape)
    nibbles = np.stack([raw & 0x0F, raw >> 4], axis=-1).reshape(-1)[:count]  # low nibble first
    if t is Type.i4:
        return (nibbles.astype(np.int8) - ((nibbles & 0x08) << 1).astype(np.int8)).astype(dt).reshape(shape)
    if t.is_real:  # f4e2m1: the nibble is the value's bit pattern
        return nibbles.view(dt).reshape(shape)
    return nibbles.astype(dt).reshape(shape)


def _unpack_strings(buf: Any, offset: int, size: int, shape: tuple[int, ...], err) -> np.ndarray:
    """OpenVINO's packed string tensor: int32 count n, n+1 int32 offsets, then the UTF-8 bytes."""
    raw = bytes(memoryview(buf)[offset: offset + size])
    if len(raw) < 4:
        raise err(f"a string constant needs at least 4 bytes, the layer declares size={size}")
    n = int(np.frombuffer(raw, np.int32, 1)[0])
    if n < 0 or 4 + 4 * (n + 1) > len(raw):
        raise err(f"a string constant of {n} strings does not fit its size={size}")
    offs = np.frombuffer(raw, np.int32, n + 1, 4).astype(np.int64)
    base = 4 + 4 * (n + 1)
    if np.any(np.diff(offs) < 0) or base + offs[-1] > len(raw):
        raise err("a string constant has offsets outside its data")
    count = int(np.prod(shape, dtype=np.int64))
    if n != count:
        raise err(f"a string constant holds {n} strings, its shape {list(shape)} needs {count}")
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = raw[base + offs[i]: base + offs[i + 1]].decode("utf-8", errors="replace")
    return out.reshape(shape)


# --- whole-model fix-ups -------------------------------------------------------------------------
def _new_node(type_name: str, inputs: list[Output], attrs: dict[str, Any], name: str | None = None) -> Node:
    return Node(get_op(type_name), inputs, attrs, name=name)


def _rewire(model: Model, old: Output, new: Output, skip: Node) -> None:
    for node in model.get_ordered_ops():
        if node is not skip:
            node._inputs = [new if src == old else src for src in node._inputs]


def _pre_process(net: _El, model: Model, weights: Any, source: str) -> None:
    """The legacy ``<pre-process reference-layer-name=...>`` block: per-channel means subtracted
    from one input, as scalar ``<mean value=>`` or as ``<mean offset= size=>`` planes in the .bin."""
    block = net.child("pre-process")
    if block is None:
        return

    def fail(msg: str) -> ModelReadError:
        return ModelReadError(f"{source}: <pre-process> (line {block.line}): {msg}")

    ref = block.at.get("reference-layer-name", "").strip()
    params = model.get_parameters()
    if ref:
        param = next((p for p in params if p.friendly_name == ref), None)
    else:
        param = next((p for p in params if p.output(0).get_partial_shape().rank_is_static
                      and len(p.output(0).get_partial_shape()) == 4), params[0] if params else None)
    if param is None:
        raise fail(f"reference-layer-name '{ref}' is not an input of the model")
    pshape = param.output(0).get_partial_shape()
    if not pshape.is_static or len(pshape) < 2:
        raise fail(f"input '{param.friendly_name}' has shape {pshape}: a static shape of rank >= 2 is needed")
    dims = pshape.to_shape()
    channel_axis = 0 if len(dims) == 3 else 1  # rank 3 is the legacy CHW layout
    channels = dims[channel_axis]
    plane = dims[channel_axis + 1:] if len(dims) > 2 else ()
    t = param.output(0).get_element_type()
    scalars: dict[int, float] = {}
    planes: dict[int, np.ndarray] = {}
    for next_id, chan in enumerate(block.all("channel")):
        cid = int(chan.at.get("id", next_id))
        mean = chan.child("mean")
        if mean is None:
            continue
        if "value" not in mean.at and "size" not in mean.at:
            raise fail("<mean> needs a value or an offset and size")
        if "value" in mean.at:
            scalars[cid] = float(np.float32(mean.at["value"]))
        if "size" in mean.at and "offset" in mean.at:
            size, offset = int(mean.at["size"]), int(mean.at["offset"])
            want = int(np.prod(plane, dtype=np.int64)) * t.to_dtype().itemsize
            if size != want:
                raise fail(f"channel {cid}: mean blob of {size} bytes, expected {want} ({list(plane)} x {t})")
            if weights is None or offset + size > len(weights):
                raise fail(f"channel {cid}: mean blob [offset {offset}, size {size}] is outside the weights")
            planes[cid] = np.frombuffer(weights, t.to_dtype(), int(np.prod(plane, dtype=np.int64)),
                                        offset).reshape((1, *plane))
    if scalars and planes:
        raise fail("mean values have different types (some scalar, some planes)")
    chosen = scalars or planes
    if not chosen:
        return
    if len(chosen) != channels or max(chosen) >= channels:
        raise fail(f"{len(chosen)} mean values for {channels} channels (channel ids {sorted(chosen)})")
    if scalars:
        value = np.array([scalars[c] for c in range(channels)], t.to_dtype())
        value = value.reshape((channels,) + (1,) * len(plane))
    else:
        value = np.concatenate([planes[c] for c in range(channels)], axis=0)
    mean_const = _new_node("Constant", [], {"element_type": t, "shape": value.shape, "value": value})
    out = param.output(0)
    sub = _new_node("Subtract", [out, mean_const.output(0)], {})
    if any(r.input_value(0) == out for r in model.get_results()):  # a Result keeps its names
        sub._outputs[0].names = set(out._info.names)
    _rewire(model, out, sub.output(0), skip=sub)


def _legacy_type(t: Type, is_input: bool) -> Type:
    """The element type the pre-2022 API exposed: inputs f16 -> f32; outputs i32/i64/u32/u64 ->
    i32, anything else but f32 -> f32 (``to_legacy_type`` in OpenVINO's model_reader.cpp)."""
    if is_input:
        return Type.f32 if t is Type.f16 else t
    if t in (Type.i64, Type.u64, Type.i32, Type.u32):
        return Type.i32
    return t if t is Type.f32 else Type.f32


def _v10_fixups(model: Model) -> None:
    """What OpenVINO does to an IR v10 model after reading it (``update_v10_model``):

    1. tensor names for the old API: each Result's tensor is also named after its producer
       (``name``, or ``name.port`` when the producer has several outputs) and each Parameter's
       tensor after the Parameter, refusing names that collide with other tensors;
    2. legacy precisions, as a PrePostProcessor would insert them: an f16 Parameter becomes f32
       followed by a Convert to f16; each output of another type than its legacy type (see
       :func:`_legacy_type`) gets a Convert that takes over the producer's friendly name (the
       producer loses it, or, for a multi-output producer, the Convert is named ``name.port``) and
       the tensor names.
    """
    leaves: dict[str, Output | None] = {}

    def collision(what: str, name: str) -> ModelReadError:
        return ModelReadError(f"IR v10: {what} '{name}' collides with another tensor name; convert the "
                              "model again to IR v11")

    for p in model.get_parameters():
        for name in p.output(0).get_names():
            if name in leaves:
                raise collision("input tensor name", name)
            leaves[name] = p.output(0)
    for r in model.get_results():
        src = r.input_value(0)
        for name in src.get_names():
            if leaves.get(name, src) != src:
                raise collision("output tensor name", name)
            leaves[name] = src
    for r in model.get_results():
        src = r.input_value(0)
        prev = src.node
        name = prev.friendly_name if prev.get_output_size() == 1 else f"{prev.friendly_name}.{src.index}"
        if name in leaves and name not in src.get_names():
            raise collision("output operation name", name)
        leaves[name] = None
        src._info.names.add(name)
    for p in model.get_parameters():
        name = p.friendly_name
        if name in leaves and name not in p.output(0).get_names():
            raise collision("input operation name", name)
        leaves[name] = None
        p.output(0)._info.names.add(name)

    for p in model.get_parameters():
        t = p.output(0).get_element_type()
        want = _legacy_type(t, is_input=True)
        if want is t:
            continue
        out = p.output(0)
        p.attrs["element_type"] = want
        p.validate_and_infer_types()
        cvt = _new_node("Convert", [out], {"destination_type": t})
        _rewire(model, out, cvt.output(0), skip=cvt)
    for r in model.get_results():
        src = r.input_value(0)
        t = src.get_element_type()
        want = _legacy_type(t, is_input=False)
        if t.is_dynamic or want is t:
            continue
        cvt = _new_node("Convert", [src], {"destination_type": want})
        prev = src.node
        if prev.get_output_size() == 1:
            cvt.friendly_name = prev.friendly_name
            prev.friendly_name = None
        else:
            cvt.friendly_name = f"{prev.friendly_name}.{src.index}"
        cvt._outputs[0].names, src._info.names = src._info.names, set()
        r._inputs[0] = cvt.output(0)
        r.validate_and_infer_types()

