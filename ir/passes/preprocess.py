"""Embed input preprocessing into the graph, as the model optimizer's options do.

For each input, in this order (OpenVINO's): a layout change (``source_layout`` -> ``target_layout``,
a Transpose: the new Parameter takes data in the source layout), reversed channels (a Gather over
the channel axis, RGB <-> BGR), ``mean_values`` (a Subtract) and ``scale_values`` (a Divide), the
last two given in the channel order of the original model. ``layout`` only records the input's
layout (``rt_info["layout"]``), which also tells where the channels are.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from arrayrt.ir.graph import Node
from arrayrt.ir.layout import Layout
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.factory import constant
from arrayrt.ir.passes import replace_uses
from arrayrt.ir.shape import PartialShape

from arrayrt.errors import ArrayrtError

PerInput = "Mapping[str, Any] | Any"


def _for(values: Any, name: str, names: Sequence[str]) -> Any:
    """The option value for input ``name``: a per-input mapping, or one value for a single input
    (or for every input when the value is not a mapping)."""
    if values is None:
        return None
    if isinstance(values, Mapping):
        for key in [name, *names]:
            if key in values:
                return values[key]
        return None
    return values


def embed_preprocessing(model, *, mean_values: PerInput = None, scale_values: PerInput = None,
                        reverse_input_channels: bool = False, layout: PerInput = None,
                        source_layout: PerInput = None, target_layout: PerInput = None) -> None:
    """Rewrite ``model`` in place (see the module docstring)."""
    for key, values in (("mean_values", mean_values), ("scale_values", scale_values), ("layout", layout),
                        ("source_layout", source_layout), ("target_layout", target_layout)):
        if isinstance(values, Mapping):
            known = {n for p in model.get_parameters() for n in p.output(0).get_names()} | \
                    {p.friendly_name for p in model.get_parameters()}
            for k in values:
                if k not in known:
                    raise ArrayrtError(f"--{key} names input '{k}', which the model does not have "
                                       f"(inputs: {sorted(known)})")
    for param in list(model.get_parameters()):
        names = sorted(param.output(0).get_names()) or [param.friendly_name]
        name = param.friendly_name
        src, dst = _for(source_layout, name, names), _for(target_layout, name, names)
        own = _for(layout, name, names)
        if own is not None:
            param.rt_info["layout"] = {"version": "0", "layout": str(Layout(own))}
        out = param.output(0)
        if src is not None or dst is not None:
            if src is None or dst is None:
                raise ArrayrtError(f"input '{name}': --source_layout and --target_layout go together")
            out = _change_layout(model, param, Layout(src), Layout(dst))
        mean = _for(mean_values, name, names)
        scale = _for(scale_values, name, names)
        reverse = bool(reverse_input_channels)
        if mean is None and scale is None and not reverse:
            continue
        if (mean is not None or scale is not None) and not out.get_element_type().is_real:
            raise ArrayrtError(f"input '{name}': mean/scale values need a floating-point input, "
                               f"it is {out.get_element_type()}")
        model_layout = Layout(dst) if dst is not None else (Layout(own) if own is not None else None)
        axis = _channel_axis(out.get_partial_shape(), model_layout, mean, scale, name)
        shape = out.get_partial_shape()
        channels = shape[axis].get_length() if axis is not None and shape[axis].is_static else None
        head = out
        users_of = head
        if reverse:
            if axis is None or channels != 3:
                if mean is None and scale is None:
                    continue  # OpenVINO applies it only to 3-channel inputs
            else:
                idx = constant(np.array([2, 1, 0], np.int64))
                head = Node(get_op("Gather"), [head, idx.output(0), constant(np.array(axis, np.int64)).output(0)],
                            {"batch_dims": 0}, name=f"{name}/reverse_channels").output(0)
        for values, op, what in ((mean, "Subtract", "mean"), (scale, "Divide", "scale")):
            if values is None:
                continue
            arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
            if arr.size > 1:
                if axis is None or (channels is not None and channels != arr.size):
                    raise ArrayrtError(f"input '{name}': {arr.size} {what} values do not match its "
                                       f"channels ({channels if channels is not None else 'unknown'}, "
                                       f"shape {shape})")
                bshape = [1] * len(shape)
                bshape[axis] = arr.size
                arr = arr.reshape(bshape)
            else:
                arr = arr.reshape(())
            c = constant(arr.astype(out.get_element_type().to_dtype())).output(0)
            head = Node(get_op(op), [head, c], name=f"{name}/{what}").output(0)
        if head is not users_of:
            _reroute(model, out, head)


def _reroute(model, old, new) -> None:
    """Point every consumer of ``old`` except the preprocessing chain itself at ``new``."""
    chain = set()
    n = new.node
    while n is not old.node:
        chain.add(n.uid)
        n = n.input_value(0).node
    for node in model.get_ordered_ops():
        if node.uid in chain:
            continue
        for i, src in enumerate(node._inputs):
            if src == old:
                node._inputs[i] = new


def _channel_axis(shape: PartialShape, layout: Layout | None, mean: Any, scale: Any, name: str) -> int | None:
    if layout is not None:
        c = layout.index("C")
        if c is not None:
            return c
    if not shape.rank_is_static or len(shape) < 2:
        return None
    n = max((np.asarray(v).size for v in (mean, scale) if v is not None), default=3)
    dims = list(shape)
    if len(dims) >= 3 and dims[1].is_static and dims[1].get_length() == n:
        return 1  # NCHW-like
    if dims[-1].is_static and dims[-1].get_length() == n:
        return len(dims) - 1  # NHWC-like
    return 1 if len(dims) >= 3 else None


def _change_layout(model, param: Node, src: Layout, dst: Layout):
    if sorted(src.dims) != sorted(dst.dims):
        raise ArrayrtError(f"input '{param.friendly_name}': layouts {src} and {dst} have different dimensions")
    shape = param.attrs["shape"]
    if shape.rank_is_static and len(shape) != len(src):
        raise ArrayrtError(f"input '{param.friendly_name}': layout {src} has {len(src)} dimensions, the "
                           f"input has {len(shape)}")
    # data arrives in src order; the model wants dst: out[i] = in[perm[i]]
    perm = [src.dims.index(c) for c in dst.dims]
    to_src = [dst.dims.index(c) for c in src.dims]
    out = param.output(0)
    if shape.rank_is_static:
        param.attrs["shape"] = PartialShape([shape[i] for i in to_src])
    param.rt_info["layout"] = {"version": "0", "layout": str(src)}
    param.validate_and_infer_types()
    t = Node(get_op("Transpose"), [out, constant(np.array(perm, np.int64)).output(0)],
             name=f"{param.friendly_name}/to_{''.join(dst.dims).lower()}")
    replace_uses(model, out, t.output(0), skip=t)
    model.validate_nodes_and_infer_types()
    return t.output(0)
