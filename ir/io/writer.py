"""Write a :class:`~arrayrt.ir.model.Model` as OpenVINO IR v11, laid out as OpenVINO's serializer
(2026.4) lays it out, so that a diff against OpenVINO's file shows only real differences:

* layers are written and numbered in OpenVINO's order: Parameters, then the other ops in the order
  of OpenVINO's stack-based topological sort from the Results, sinks and Parameters, then sinks,
  then Results; port ids number the inputs first, then the outputs; edges, listed by consumer in
  layer order, are sorted by source layer with libstdc++'s (unstable) ``std::sort`` as OpenVINO's;
* XML text is escaped as pugixml escapes it (``&amp; &lt; &quot;``, control characters as
  ``&#NN;``), with tab indentation and ``" />"`` empty elements;
* tensor names are written sorted, a comma inside a name as ``\\,``; a Result carries
  ``output_names`` whenever its tensor has names (as ``save_model`` writes them; ``ov.serialize``
  of a model built in Python writes them only for names set on the Result itself); model
  ``rt_info`` keys are written sorted, valid XML names as elements and others as
  ``<info name=...>``; the reader's ``version`` key is not written;
* the ``.bin`` is the constants' bytes in layer order, without padding, each distinct byte string
  written once (identical data of any type shares one offset); an empty constant takes one byte;
* a TensorIterator, Loop or If carries its port maps first and its bodies (laid out as a net, their
  constants in the same ``.bin``) last, see :meth:`_Writer.layer`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.model import Model, clone_model
from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError

#: op type names that IR spells differently
IR_TYPE_NAMES = {"Constant": "Const", "Relu": "ReLU", "Softmax": "SoftMax", "PRelu": "PReLU"}
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord('"'): "&quot;",
            **{c: f"&#{c:02d};" for c in range(32)}}
#: model rt_info keys the reader adds that are not part of the model's own metadata
_NOT_WRITTEN = ("version",)


def save_model(model: Model, output_model: "str | os.PathLike", compress_to_fp16: bool = True) -> None:
    """Save as IR v11 (``X.xml`` + ``X.bin``). With ``compress_to_fp16`` float constants are stored
    as f16 behind a decompression Convert, by OpenVINO's rules (see
    :mod:`arrayrt.ir.passes.compress_fp16`); the model itself is left unchanged."""
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
    """Write the model as it is (no compression) to ``xml_path`` and ``bin_path`` (default: the
    ``.xml`` path with ``.bin``). Both files are replaced atomically."""
    if str(version).upper() not in ("UNSPECIFIED", "IR_V11"):
        raise ArrayrtError(f"cannot write IR version '{version}': arrayrt writes IR v11 only")
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
    """The IR XML text and the list of ``.bin`` chunks (concatenated, they are the ``.bin``)."""
    w = _Writer()
    return w.write(model), w.chunks


def ir_order(model: Model) -> list[Node]:
    """Layers in the order they are written (and numbered, and their edges listed)."""
    params, results, sinks = model.get_parameters(), model.get_results(), model.get_sinks()
    topo = _stack_sort(results + sinks + params)
    middle = [n for n in topo if n.type_name not in ("Parameter", "Result") and n not in sinks]
    return params + middle + sinks + results


def _stack_sort(roots: list[Node]) -> list[Node]:
    """OpenVINO's ``topological_sort``: roots pushed on a stack in order; a node is emitted once
    every input (pushed last-first, so the first input is walked first) and every control
    dependency is emitted."""
    stack = list(roots)
    done: set[int] = set()
    visits: dict[int, int] = {}
    out: list[Node] = []
    while stack:
        node = stack[-1]
        if node.uid in done:
            stack.pop()
            continue
        visits[node.uid] = visits.get(node.uid, 0) + 1
        if visits[node.uid] > 2:
            raise ArrayrtError(f"the graph has a cycle through '{node.friendly_name}'")
        ready = True
        for src in reversed(node._inputs):
            if src.node.uid not in done:
                ready = False
                stack.append(src.node)
        for dep in node.op.extra_dependencies(node):
            if dep.uid not in done:
                ready = False
                stack.append(dep)
        if ready:
            out.append(node)
            done.add(node.uid)
            stack.pop()
    return out


class _Writer:
    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0
        self.written: dict[tuple[int, int], list[tuple[int, bytes]]] = {}

    def blob(self, data: bytes) -> int:
        """The offset of ``data`` in the .bin, appending it unless the same bytes are there."""
        key = (len(data), hash(data))
        for offset, seen in self.written.get(key, ()):
            if seen == data:
                return offset
        offset = self.size
        self.chunks.append(data)
        self.size += len(data)
        self.written.setdefault(key, []).append((offset, data))
        return offset

    def write(self, model: Model) -> str:
        out = ['<?xml version="1.0"?>', f'<net name="{_esc(model.name)}" version="11">']
        out.extend(self.graph(model, 1))
        out.append("</net>")
        return "\n".join(out) + "\n"

    def graph(self, model: Model, depth: int) -> list[str]:
        """``<layers>``, ``<edges>`` and ``<rt_info>`` of ``model`` (the net or a body), indented
        ``depth`` tabs."""
        pad = "\t" * depth
        layers = ir_order(model)
        ids = {n.uid: i for i, n in enumerate(layers)}
        out = [f"{pad}<layers>"]
        for node in layers:
            out.extend(self.layer(node, ids[node.uid], depth + 1))
        out.append(f"{pad}</layers>")
        edges = []
        for node in layers:
            if node.type_name == "Parameter":
                continue
            for i, src in enumerate(node._inputs):
                if src.node.uid not in ids:
                    raise ArrayrtError(f"'{node.friendly_name}' reads '{src.node.friendly_name}', which is "
                                       "not part of the model")
                edges.append((ids[src.node.uid], src.node.get_input_size() + src.index, ids[node.uid], i))
        std_sort(edges, lambda a, b: a[0] < b[0])
        out.append(f"{pad}<edges>")
        out.extend(f'{pad}\t<edge from-layer="{a}" from-port="{b}" to-layer="{c}" to-port="{d}" />'
                   for a, b, c, d in edges)
        out.append(f"{pad}</edges>")
        rt = {k: v for k, v in model.rt_info.items() if k not in _NOT_WRITTEN and not k.startswith("__")}
        if rt:
            out.append(f"{pad}<rt_info>")
            out.extend(_model_rt(rt, depth + 1))
            out.append(f"{pad}</rt_info>")
        else:
            out.append(f"{pad}<rt_info />")
        return out

    def layer(self, node: Node, lid: int, depth: int = 2) -> list[str]:
        """One ``<layer>``. As OpenVINO lays them out, a TensorIterator or Loop starts with its
        ``<port_map>`` and ``<back_edges>``, then its ports, and an If with its else and then port
        maps; the bodies come last."""
        pad = "\t" * depth
        t = node.type_name
        head = (f'{pad}<layer id="{lid}" name="{_esc(node.friendly_name)}" type="{IR_TYPE_NAMES.get(t, t)}" '
                f'version="{node.op.opset}"')
        if t == "Result":
            names = node.input_value(0).get_names()
            if names:
                head += f' output_names="{_esc(join_names(names))}"'
        data = self.data_attrs(node)
        data_lines = [f"{pad}\t<data " + " ".join(f'{k}="{_esc(v)}"' for k, v in data) + " />"] if data else []
        rt_lines = _rt_block(node.rt_info, depth + 1)
        ports: list[str] = []
        if node.get_input_size():
            ports.append(f"{pad}\t<input>")
            for i, src in enumerate(node._inputs):
                ports.extend(_port(i, src.get_element_type(), src.get_partial_shape(), (), {}, depth + 2))
            ports.append(f"{pad}\t</input>")
        if node.get_output_size() and t != "Result":
            ports.append(f"{pad}\t<output>")
            base = node.get_input_size()
            for k, info in enumerate(node._outputs):
                ports.extend(_port(base + k, info.element_type, info.shape, info.names, info.rt_info, depth + 2))
            ports.append(f"{pad}\t</output>")
        if not node.bodies:
            return [head + ">", *data_lines, *rt_lines, *ports, f"{pad}</layer>"]
        maps, bodies = self.sub_graphs(node, depth + 1)
        if t == "If":
            return [head + ">", *maps, *data_lines, *rt_lines, *ports, *bodies, f"{pad}</layer>"]
        return [head + ">", *maps, *ports, *data_lines, *rt_lines, *bodies, f"{pad}</layer>"]

    def sub_graphs(self, node: Node, depth: int) -> tuple[list[str], list[str]]:
        """The port maps and the bodies of a TensorIterator, Loop or If, as OpenVINO writes them.
        The bodies are written (their constants put in the ``.bin``) before the port maps, whose
        ``internal_layer_id`` values are the body layer ids of the Parameters and Results."""
        pad = "\t" * depth
        if node.type_name == "If":
            names = (("then_body", "then_port_map", "then_inputs", "then_outputs"),
                     ("else_body", "else_port_map", "else_inputs", "else_outputs"))
        else:
            names = (("body", "port_map", "input_descriptions", "output_descriptions"),)
        maps: list[str] = []
        bodies: list[str] = []
        for body, (tag, map_tag, ins_key, outs_key) in zip(node.bodies, names):
            bodies.append(f"{pad}<{tag}>")
            bodies.extend(self.graph(body, depth + 1))
            bodies.append(f"{pad}</{tag}>")
            order = ir_order(body)
            params = [i for i, n in enumerate(order) if n.type_name == "Parameter"]
            results = [i for i, n in enumerate(order) if n.type_name == "Result"]
            entries, back = _port_map_entries(node, node.attrs[ins_key], node.attrs[outs_key], params, results)
            if node.type_name == "Loop":
                cur_iter, cond = node.attrs["special_body_ports"]
                if cur_iter != -1:
                    entries.append(("input", [("external_port_id", "-1"), ("internal_layer_id", str(params[cur_iter])),
                                              ("purpose", "current_iteration")]))
                if cond != -1:
                    entries.append(("output", [("external_port_id", "-1"), ("internal_layer_id", str(results[cond])),
                                               ("purpose", "execution_condition")]))
            block = [f"{pad}<{map_tag}>" if entries else f"{pad}<{map_tag} />"]
            block += [f"{pad}\t<{kind} " + " ".join(f'{k}="{v}"' for k, v in at) + " />" for kind, at in entries]
            if entries:
                block.append(f"{pad}</{map_tag}>")
            if back:
                block.append(f"{pad}<back_edges>")
                block += [f'{pad}\t<edge from-layer="{a}" to-layer="{b}" />' for a, b in back]
                block.append(f"{pad}</back_edges>")
            maps = block + maps  # each port map goes before the ones written earlier, as in OpenVINO
        return maps, bodies

    def data_attrs(self, node: Node) -> list[tuple[str, str]]:
        t = node.type_name
        if t == "Constant":
            et: Type = node.attrs["element_type"]
            value = np.asarray(node.attrs["value"])
            data = pack_constant(value, et)
            shape = ", ".join(str(d) for d in value.shape)
            return [("element_type", et.name), ("shape", shape), ("offset", str(self.blob(data))),
                    ("size", str(len(data)))]
        if t == "Parameter":
            return [("shape", node.attrs["shape"].to_ir()), ("element_type", node.attrs["element_type"].name)]
        return [(a.name, a.format(node.attrs[a.name])) for a in node.op.attrs
                if a.write and node.attrs.get(a.name) is not None]


def _port_map_entries(node: Node, ins, outs, params: list[int], results: list[int]):
    """``<port_map>`` entries (in description order, inputs first) and back edges, with
    OpenVINO's attribute order: ``axis`` first on sliced/concatenated ports."""
    from arrayrt.ir.ops.control import ConcatOutput, MergedInput, SliceInput

    entries: list[tuple[str, list[tuple[str, str]]]] = []
    back: list[tuple[int, int]] = []
    for d in ins:
        at = [("external_port_id", str(d.input_index)), ("internal_layer_id", str(params[d.body_parameter_index]))]
        if isinstance(d, SliceInput):
            at = [("axis", str(d.axis))] + at + [("start", str(d.start)), ("end", str(d.end)),
                                                 ("stride", str(d.stride)), ("part_size", str(d.part_size))]
        elif isinstance(d, MergedInput):
            back.append((results[d.body_value_index], params[d.body_parameter_index]))
        entries.append(("input", at))
    n_in = node.get_input_size()
    for d in outs:
        at = [("external_port_id", str(n_in + d.output_index)),
              ("internal_layer_id", str(results[d.body_value_index]))]
        if isinstance(d, ConcatOutput):
            at = [("axis", str(d.axis))] + at + [("start", str(d.start)), ("end", str(d.end)),
                                                 ("stride", str(d.stride)), ("part_size", str(d.part_size))]
        entries.append(("output", at))
    return entries, back


def join_names(names: Iterable[str]) -> str:
    """A ``names`` attribute value: sorted, commas inside names escaped as ``\\,``."""
    return ",".join(n.replace(",", "\\,") for n in sorted(names))


def _esc(text: Any) -> str:
    return str(text).translate(_ESCAPES)


def _port(pid: int, et: Type, shape: PartialShape, names, rt: dict, indent: int) -> list[str]:
    pad = "\t" * indent
    head = f'{pad}<port id="{pid}" precision="{et.legacy_name}"'
    if names:
        head += f' names="{_esc(join_names(names))}"'
    dims = shape if shape.rank_is_static else ()
    body = [f"{pad}\t<dim>{d.min if d.is_static else -1}</dim>" for d in dims]
    body += _rt_block(rt, indent + 1)
    if not body:
        return [head + " />"]
    return [head + ">", *body, f"{pad}</port>"]


def _rt_block(rt: dict, indent: int) -> list[str]:
    """Node/port ``<rt_info>``: one ``<attribute name= version= .../>`` per entry, sorted by name."""
    items = sorted((k, v) for k, v in rt.items() if not k.startswith("__"))
    if not items:
        return []
    pad = "\t" * indent
    lines = [f"{pad}<rt_info>"]
    for name, value in items:
        attrs = dict(value) if isinstance(value, dict) else {"value": value}
        version = attrs.pop("version", "0")
        rest = "".join(f' {k}="{_esc(_rt_text(v))}"' for k, v in attrs.items())
        lines.append(f'{pad}\t<attribute name="{_esc(name)}" version="{_esc(version)}"{rest} />')
    lines.append(f"{pad}</rt_info>")
    return lines


def _model_rt(rt: dict, indent: int) -> list[str]:
    pad = "\t" * indent
    lines = []
    for key in sorted(rt):
        value = rt[key]
        valid = _XML_NAME.match(key) is not None and not key.lower().startswith("xml")
        tag, name_attr = (key, "") if valid else ("info", f' name="{_esc(key)}"')
        if isinstance(value, dict):
            if not value:
                lines.append(f"{pad}<{tag}{name_attr} />")
                continue
            lines.append(f"{pad}<{tag}{name_attr}>")
            lines.extend(_model_rt(value, indent + 1))
            lines.append(f"{pad}</{tag}>")
        else:
            lines.append(f'{pad}<{tag}{name_attr} value="{_esc(_rt_text(value))}" />')
    return lines


def _rt_text(value: Any) -> str:
    """A metadata value as OpenVINO's ``Any::as<std::string>`` writes it."""
    if isinstance(value, (bool, np.bool_)):
        return "YES" if value else "NO"
    if isinstance(value, (float, np.floating)):
        return "%g" % value
    if isinstance(value, (list, tuple)):
        return " ".join(_rt_text(v) for v in value)
    return str(value)


def pack_constant(value: np.ndarray, t: Type) -> bytes:
    """The ``.bin`` bytes of a constant: little-endian elements; ``u1`` 8 per byte with the first
    in the most significant bit; 4-bit types 2 per byte, the first in the low nibble; strings as
    OpenVINO's packed string tensor. An empty constant takes one zero byte, as in OpenVINO."""
    if t is Type.string:
        return _pack_strings(value)
    if value.size == 0:
        return b"\x00"
    if t.bitwidth >= 8:
        return np.ascontiguousarray(value.astype(t.to_dtype(), copy=False)).tobytes()
    flat = np.ascontiguousarray(value.astype(t.to_dtype(), copy=False)).reshape(-1)
    if t is Type.u1:
        return np.packbits(flat != 0).tobytes()
    nibbles = flat.view(np.uint8) & 0x0F  # int4/uint4/f4e2m1 hold one element per byte
    if nibbles.size % 2:
        nibbles = np.concatenate([nibbles, np.zeros(1, np.uint8)])
    return (nibbles[0::2] | (nibbles[1::2] << 4)).tobytes()


def _pack_strings(value: np.ndarray) -> bytes:
    items = [(s if isinstance(s, bytes) else str(s).encode("utf-8")) for s in value.reshape(-1)]
    offsets = np.zeros(len(items) + 1, np.int32)
    np.cumsum([len(b) for b in items], out=offsets[1:])
    return np.int32(len(items)).tobytes() + offsets.tobytes() + b"".join(items)


def std_sort(a: list, less: Callable[[Any, Any], bool]) -> None:
    """Sort ``a`` in place exactly as libstdc++'s ``std::sort`` does (introsort: median-of-three
    quicksort down to runs of 16, heapsort past the depth limit, then insertion sort). OpenVINO
    sorts edges by source layer only with it, so equal keys end up in this particular order."""
    n = len(a)
    if n > 1:
        _introsort(a, 0, n, 2 * (n.bit_length() - 1), less)
        _final_insertion_sort(a, 0, n, less)


def _introsort(a: list, first: int, last: int, depth: int, less) -> None:
    while last - first > 16:
        if depth == 0:
            _heap_sort(a, first, last, less)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1, less)
        lo, hi = first + 1, last
        while True:  # unguarded partition around a[first]
            while less(a[lo], a[first]):
                lo += 1
            hi -= 1
            while less(a[first], a[hi]):
                hi -= 1
            if lo >= hi:
                break
            a[lo], a[hi] = a[hi], a[lo]
            lo += 1
        _introsort(a, lo, last, depth, less)
        last = lo


def _move_median_to_first(a: list, result: int, i: int, j: int, k: int, less) -> None:
    if less(a[i], a[j]):
        pick = j if less(a[j], a[k]) else (k if less(a[i], a[k]) else i)
    elif less(a[i], a[k]):
        pick = i
    else:
        pick = k if less(a[j], a[k]) else j
    a[result], a[pick] = a[pick], a[result]


def _final_insertion_sort(a: list, first: int, last: int, less) -> None:
    if last - first > 16:
        _insertion_sort(a, first, first + 16, less)
        for i in range(first + 16, last):
            _linear_insert(a, i, less)
    else:
        _insertion_sort(a, first, last, less)


def _insertion_sort(a: list, first: int, last: int, less) -> None:
    for i in range(first + 1, last):
        if less(a[i], a[first]):
            a[first:i + 1] = [a[i]] + a[first:i]
        else:
            _linear_insert(a, i, less)


def _linear_insert(a: list, last: int, less) -> None:
    value = a[last]
    while less(value, a[last - 1]):
        a[last] = a[last - 1]
        last -= 1
    a[last] = value


def _heap_sort(a: list, first: int, last: int, less) -> None:
    n = last - first
    for parent in range((n - 2) // 2, -1, -1):
        _adjust_heap(a, first, parent, n, a[first + parent], less)
    while last - first > 1:
        last -= 1
        value, a[last] = a[last], a[first]
        _adjust_heap(a, first, 0, last - first, value, less)


def _adjust_heap(a: list, first: int, hole: int, n: int, value, less) -> None:
    top = child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if n % 2 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value
