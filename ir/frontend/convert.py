"""``convert_model``: the model optimizer's entry point (ONNX in, arrayrt IR model out)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from arrayrt.ir.model import Model

from arrayrt.errors import ModelReadError


def convert_model(input_model: Any, input: Any = None, output: Any = None,  # noqa: A002 - OpenVINO's names
                  example_input: Any = None, *, mean_values: Any = None, scale_values: Any = None,
                  reverse_input_channels: bool = False, layout: Any = None, source_layout: Any = None,
                  target_layout: Any = None, report: Any = None) -> Model:
    """Convert a model (ONNX path, bytes or ``ModelProto``; or an IR ``.xml`` / :class:`Model`, to
    apply the cuts and preprocessing) to an arrayrt :class:`Model`.

    * ``input``: names (graph inputs, or internal tensors to cut the graph at) with optional shapes
      and types: ``"x"``, ``["x", "y"]``, ``{"x": [1, 3, 224, 224]}``, ``{"x": ([1, -1], "i64")}``,
      ``[("x", [1, "1..8"], "f32")]``, ``("x", [1, 3, 224, 224])``, or the CLI's
      ``"x[1,3,224,224],y[1,?]{i64}"``; without names, as OpenVINO's: a shape (``[1, 3, 224, 224]``, a
      PartialShape) for a one-input model, or a list of shapes (or ``(shape, type)``) by input order.
    * ``output``: tensor names to return (graph outputs or internal tensors).
    * ``example_input``: arrays (one, a list by input order, or a dict by name) giving static shapes
      and types.
    * ``mean_values`` / ``scale_values`` (per channel, original channel order), ``reverse_input_channels``,
      ``layout``, ``source_layout`` -> ``target_layout``: preprocessing embedded as graph ops
      (each a single value for every input or a ``{name: value}`` mapping).
    """
    from arrayrt.ir.passes.preprocess import embed_preprocessing

    if isinstance(input, str):
        input = parse_input_spec(input)
    if example_input is not None:
        input = _from_examples(example_input, input)
    if isinstance(input_model, Model) or _is_ir(input_model):
        from arrayrt.ir.io import read_model

        model = read_model(input_model)
        if input is not None or output is not None:
            raise ModelReadError("cutting an IR model (input/output) is not supported; convert from ONNX")
    else:
        from arrayrt.ir.frontend.onnx import convert_onnx
        from arrayrt.ir.passes.gelu_fusion import fuse_gelu

        model = convert_onnx(input_model, input=input, output=output, report=report)
        fuse_gelu(model)  # as OpenVINO's convert_model does
    embed_preprocessing(model, mean_values=mean_values, scale_values=scale_values,
                        reverse_input_channels=reverse_input_channels, layout=layout,
                        source_layout=source_layout, target_layout=target_layout)
    return model


def _is_ir(m: Any) -> bool:
    return isinstance(m, (str, os.PathLike)) and Path(os.fspath(m)).suffix.lower() == ".xml"


def _from_examples(example: Any, spec: Any) -> Any:
    if isinstance(example, Mapping):
        items = {k: np.asarray(v) for k, v in example.items()}
        return {k: (list(v.shape), v.dtype) for k, v in items.items()}
    arrays = [np.asarray(v) for v in (example if isinstance(example, (list, tuple)) else [example])]
    if spec is None:  # the inputs in the graph's order, as OpenVINO's convert_model
        return [(list(a.shape), a.dtype) for a in arrays]
    names = list(spec) if not isinstance(spec, Mapping) else list(spec.keys())
    names = [n[0] if isinstance(n, tuple) else n for n in names]
    return {n: (list(a.shape), a.dtype) for n, a in zip(names, arrays)}


def parse_input_spec(text: str) -> list[tuple]:
    """``"x[1,3,224,224],y[1,?]{i64},z"`` -> ``[("x", "1,3,224,224"), ("y", "1,?", "i64"), ("z",)]``.
    Dimensions: N, ``?``, ``-1``, ``a..b``; an element type in braces."""
    out: list[tuple] = []
    depth = 0
    cur = ""
    parts = []
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in (p.strip() for p in parts):
        if not part:
            continue
        name, shape, t = part, None, None
        if "{" in name:
            name, rest = name.split("{", 1)
            t = rest.rstrip("}").strip()
        if "[" in name:
            name, rest = name.split("[", 1)
            shape = rest.rstrip("]").strip()
        entry: tuple = (name.strip(),)
        if shape is not None:
            entry += (shape.replace(" ", ""),)
        if t is not None:
            entry += (t,) if shape is not None else (None, t)
        out.append(entry)
    return out


def parse_per_input(text: str | None, numbers: bool = True) -> Any:
    """``"data[123,117,104],other[1]"`` -> ``{"data": [...], ...}``; ``"[1,2,3]"`` -> ``[1, 2, 3]``;
    for layouts (``numbers=False``): ``"data(nchw)"`` -> ``{"data": "nchw"}``, ``"nchw"`` -> ``"nchw"``."""
    if text is None:
        return None
    text = text.strip()
    open_c, close_c = ("[", "]") if numbers else ("(", ")")
    if text.startswith(open_c) or open_c not in text:
        body = text.strip("[]()")
        return [float(v) for v in body.split(",") if v.strip()] if numbers else body
    out: dict[str, Any] = {}
    for chunk in text.split(close_c):
        chunk = chunk.strip().lstrip(",").strip()
        if not chunk:
            continue
        name, _, body = chunk.partition(open_c)
        out[name.strip()] = [float(v) for v in body.split(",") if v.strip()] if numbers else body.strip()
    return out
