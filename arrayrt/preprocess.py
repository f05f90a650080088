"""``arrayrt.preprocess``: OpenVINO's ``PrePostProcessor`` (``openvino.preprocess``).

Describe what the application hands in and wants back, and the steps between, and :meth:`build`
writes them into the model as ordinary ops, so every device runs them with the rest::

    from arrayrt.preprocess import PrePostProcessor, ResizeAlgorithm
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC")).set_spatial_dynamic_shape()
    ppp.input().model().set_layout(Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(Type.f32).resize(ResizeAlgorithm.RESIZE_LINEAR).mean(
        [123.7, 116.3, 103.5]).scale([58.4, 57.1, 57.4])
    ppp.output().tensor().set_element_type(Type.f16)
    model = ppp.build()

The ops are OpenVINO's: ``Convert``, ``Transpose`` for layouts, ``Gather`` over the channels for
RGB <-> BGR and ``reverse_channels``, ``Interpolate``-11 (sizes, ``half_pixel``) for ``resize``,
``Subtract`` for ``mean`` and ``Multiply`` by the float32 reciprocal for ``scale``. As in OpenVINO,
after the explicit steps an input gets an implicit ``Convert`` to the model's element type and a
``Transpose`` to the model's layout when they differ, and an output gets them towards its tensor's
type and layout. Colour formats are RGB, BGR and GRAY; the planar YUV formats (NV12, I420) and the
RGBX forms are refused with an error naming the input.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import arrayrt.ir.ops  # noqa: F401 - registers the ops the steps use
from arrayrt.errors import ArrayrtError
from arrayrt.ir.graph import Node, Output
from arrayrt.ir.ops import get_op
from arrayrt.ir.ops.factory import constant
from arrayrt.ir.passes import replace_uses
from arrayrt.ir.passes.preprocess import Layout
from arrayrt.ir.shape import Dimension, PartialShape
from arrayrt.ir.types import Type

__all__ = ["ColorFormat", "InputInfo", "OutputInfo", "PaddingMode", "PrePostProcessor", "ResizeAlgorithm"]


class ResizeAlgorithm(enum.Enum):
    RESIZE_LINEAR = "linear"
    RESIZE_CUBIC = "cubic"
    RESIZE_NEAREST = "nearest"
    RESIZE_BILINEAR_PILLOW = "bilinear_pillow"
    RESIZE_BICUBIC_PILLOW = "bicubic_pillow"


class PaddingMode(enum.Enum):
    """``pad``'s modes: the Pad op's ``pad_mode`` values."""

    CONSTANT = "constant"
    REFLECT = "reflect"
    SYMMETRIC = "symmetric"


class ColorFormat(enum.Enum):
    UNDEFINED = 0
    NV12_SINGLE_PLANE = 1
    NV12_TWO_PLANES = 2
    I420_SINGLE_PLANE = 3
    I420_THREE_PLANES = 4
    RGB = 5
    BGR = 6
    GRAY = 7
    RGBX = 8
    BGRX = 9


_COLORS = (ColorFormat.UNDEFINED, ColorFormat.RGB, ColorFormat.BGR, ColorFormat.GRAY)


def _layout(value: Any) -> Layout:
    return value if isinstance(value, Layout) else Layout(str(value))


# --- the descriptions ------------------------------------------------------------------------------
class _TensorInfo:
    def __init__(self):
        self.element_type: Type | None = None
        self.layout: Layout | None = None

    def set_element_type(self, element_type: Any) -> "_TensorInfo":
        self.element_type = Type(element_type)
        return self

    def set_layout(self, layout: Any) -> "_TensorInfo":
        self.layout = _layout(layout)
        return self


class InputTensorInfo(_TensorInfo):
    """What the application hands in: element type, layout, shape, colour format."""

    def __init__(self):
        super().__init__()
        self.shape: PartialShape | None = None
        self.spatial: tuple[int, int] | None = None  # (-1, -1): dynamic
        self.color = ColorFormat.UNDEFINED

    def set_shape(self, shape: Any) -> "InputTensorInfo":
        self.shape = PartialShape(shape)
        return self

    def set_spatial_dynamic_shape(self) -> "InputTensorInfo":
        self.spatial = (-1, -1)
        return self

    def set_spatial_static_shape(self, height: int, width: int) -> "InputTensorInfo":
        self.spatial = (int(height), int(width))
        return self

    def set_color_format(self, color: ColorFormat, sub_names: Sequence[str] = ()) -> "InputTensorInfo":
        self.color = color
        return self

    def set_memory_type(self, memory_type: str) -> "InputTensorInfo":
        return self  # no remote memory here: every tensor is the device library's own array

    def set_from(self, tensor: Any) -> "InputTensorInfo":
        array = np.asarray(getattr(tensor, "data", tensor))
        self.element_type = Type(array.dtype)
        self.shape = PartialShape(list(array.shape))
        return self


class _ModelInfo:
    def __init__(self):
        self.layout: Layout | None = None

    def set_layout(self, layout: Any) -> "_ModelInfo":
        self.layout = _layout(layout)
        return self


class PreProcessSteps:
    """The explicit steps, applied in the order they are added."""

    def __init__(self):
        self.steps: list[tuple[str, tuple]] = []

    def _add(self, name: str, *args: Any) -> "PreProcessSteps":
        self.steps.append((name, args))
        return self

    def convert_element_type(self, element_type: Any = None) -> "PreProcessSteps":
        return self._add("convert_element_type", None if element_type is None else Type(element_type))

    def convert_layout(self, layout: Any = None) -> "PreProcessSteps":
        return self._add("convert_layout", layout)

    def convert_color(self, color: ColorFormat) -> "PreProcessSteps":
        return self._add("convert_color", color)

    def resize(self, algorithm: ResizeAlgorithm, height: int | None = None, width: int | None = None):
        return self._add("resize", algorithm, height, width)

    def mean(self, value: Any) -> "PreProcessSteps":
        return self._add("mean", value)

    def scale(self, value: Any) -> "PreProcessSteps":
        return self._add("scale", value)

    def reverse_channels(self) -> "PreProcessSteps":
        return self._add("reverse_channels")

    def crop(self, begin: Sequence[int], end: Sequence[int]) -> "PreProcessSteps":
        return self._add("crop", list(begin), list(end))

    def pad(self, pads_begin: Sequence[int], pads_end: Sequence[int], value: Any = 0.0,
            mode: PaddingMode = PaddingMode.CONSTANT) -> "PreProcessSteps":
        """Pad (negative values crop) each dimension; ``value`` (a number, or a list of one) fills
        CONSTANT padding. As in OpenVINO, the tensor's shape is then set with ``set_shape``."""
        values = np.atleast_1d(np.asarray(value, np.float64))
        if values.size != 1:
            raise ArrayrtError(f"pad: the value must be one number, got {values.size}: {values.tolist()}")
        if len(pads_begin) != len(pads_end):
            raise ArrayrtError(f"pad: pads_begin {list(pads_begin)} and pads_end {list(pads_end)} differ in length")
        return self._add("pad", [int(v) for v in pads_begin], [int(v) for v in pads_end], float(values[0]),
                         PaddingMode(mode))

    def custom(self, fn: Callable[[Output], Any]) -> "PreProcessSteps":
        return self._add("custom", fn)


class PostProcessSteps:
    def __init__(self):
        self.steps: list[tuple[str, tuple]] = []

    def convert_element_type(self, element_type: Any = None) -> "PostProcessSteps":
        self.steps.append(("convert_element_type", (None if element_type is None else Type(element_type),)))
        return self

    def convert_layout(self, layout: Any = None) -> "PostProcessSteps":
        self.steps.append(("convert_layout", (layout,)))
        return self

    def custom(self, fn: Callable[[Output], Any]) -> "PostProcessSteps":
        self.steps.append(("custom", (fn,)))
        return self


class _PortInfo:
    def __init__(self, tensor: Any):
        self._tensor, self._model = tensor, _ModelInfo()

    def model(self) -> _ModelInfo:
        return self._model


class InputInfo(_PortInfo):
    def __init__(self):
        super().__init__(InputTensorInfo())
        self._steps = PreProcessSteps()

    def tensor(self) -> InputTensorInfo:
        return self._tensor

    def preprocess(self) -> PreProcessSteps:
        return self._steps


class OutputInfo(_PortInfo):
    def __init__(self):
        super().__init__(_TensorInfo())
        self._steps = PostProcessSteps()

    def tensor(self) -> _TensorInfo:
        return self._tensor

    def postprocess(self) -> PostProcessSteps:
        return self._steps


# --- the builder ---------------------------------------------------------------------------------
class _State:
    """Where the chain of steps stands: its last output, and the layout and colour it carries."""

    def __init__(self, out: Output, layout: Layout | None, color: ColorFormat, where: str):
        self.out, self.layout, self.color, self.where = out, layout, color, where

    def node(self, op: str, inputs: list, attrs: dict | None = None, version: str | None = None) -> None:
        self.out = Node(get_op(op, version), [self.out, *inputs], attrs or {}).output(0)

    def axis(self, letter: str, step: str) -> int:
        index = None if self.layout is None else self.layout.index(letter)
        if index is None:
            raise ArrayrtError(f"{self.where}: {step} needs the layout's '{letter}' dimension; the layout is "
                               f"{self.layout or 'not set'} (set_layout on the tensor or the model)")
        return index

    def transpose_to(self, target: Layout) -> None:
        if self.layout is None or sorted(self.layout.dims) != sorted(target.dims):
            raise ArrayrtError(f"{self.where}: cannot convert layout {self.layout or '(not set)'} to {target}")
        perm = [self.layout.dims.index(c) for c in target.dims]
        if perm != list(range(len(perm))):
            self.node("Transpose", [constant(np.array(perm, np.int64)).output(0)])
        self.layout = target

    def convert(self, element_type: Type) -> None:
        if self.out.get_element_type() != element_type:
            self.node("Convert", [], {"destination_type": element_type})

    def per_channel(self, value: Any, step: str) -> Output:
        arr = np.atleast_1d(np.asarray(value, np.float64))
        dtype = self.out.get_element_type()
        if not dtype.is_real:
            raise ArrayrtError(f"{self.where}: {step} needs a floating-point tensor, it is {dtype} "
                               "(convert_element_type first)")
        if arr.size == 1:
            return constant(arr.reshape(1).astype(dtype.to_dtype())).output(0)
        axis = self.axis("C", step)
        shape = self.out.get_partial_shape()
        channels = shape[axis] if shape.rank_is_static else Dimension()
        if channels.is_static and channels.get_length() != arr.size:
            raise ArrayrtError(f"{self.where}: {step} has {arr.size} values, the tensor has {channels} channels")
        bshape = [1] * len(self.layout)
        bshape[axis] = arr.size
        return constant(arr.reshape(bshape).astype(dtype.to_dtype())).output(0)

    def reverse(self, step: str) -> None:
        axis = self.axis("C", step)
        dim = self.out.get_partial_shape()[axis]
        if not dim.is_static:
            raise ArrayrtError(f"{self.where}: {step} needs a static channel count")
        n = dim.get_length()
        self.node("Gather", [constant(np.arange(n - 1, -1, -1, dtype=np.int64)).output(0),
                             constant(np.array(axis, np.int64)).output(0)], {"batch_dims": 0})


class PrePostProcessor:
    """OpenVINO's ``PrePostProcessor`` for one model; :meth:`build` changes the model in place and
    returns it."""

    def __init__(self, model: Any):
        self._model = model
        self._inputs: dict[int, InputInfo] = {}
        self._outputs: dict[int, OutputInfo] = {}

    @staticmethod
    def _index(ports: list[Output], key: Any, what: str) -> int:
        if key is None:
            if len(ports) != 1:
                raise ArrayrtError(f"the model has {len(ports)} {what}s: name one (by tensor name or index)")
            return 0
        if isinstance(key, int):
            if not 0 <= key < len(ports):
                raise ArrayrtError(f"{what} index {key} is out of range: the model has {len(ports)}")
            return key
        if isinstance(key, Output):
            for i, p in enumerate(ports):
                if p == key or p.get_names() & key.get_names():
                    return i
        else:
            for i, p in enumerate(ports):
                if key in p.get_names() or p.node.friendly_name == key:
                    return i
        names = sorted(n for p in ports for n in p.get_names())
        raise ArrayrtError(f"the model has no {what} '{key}' ({what}s: {names})")

    def input(self, key: Any = None) -> InputInfo:
        return self._inputs.setdefault(self._index(self._model.inputs, key, "input"), InputInfo())

    def output(self, key: Any = None) -> OutputInfo:
        return self._outputs.setdefault(self._index(self._model.outputs, key, "output"), OutputInfo())

    def build(self) -> Any:
        params = self._model.get_parameters()
        for index, info in sorted(self._inputs.items()):
            self._build_input(params[index], info)
        results = self._model.get_results()
        for index, info in sorted(self._outputs.items()):
            self._build_output(results[index], info)
        self._model.validate_nodes_and_infer_types()
        return self._model

    # --- inputs --------------------------------------------------------------------------------
    def _build_input(self, param: Node, info: InputInfo) -> None:
        where = f"input '{param.output(0).get_any_name()}'"
        tensor, steps = info.tensor(), info.preprocess().steps
        model_layout = info.model().layout or _rt_layout(param)
        model_type = param.output(0).get_element_type()
        model_shape = param.output(0).get_partial_shape()
        layout = tensor.layout or _unpermuted(model_layout, steps)
        if tensor.color not in _COLORS:
            raise ArrayrtError(f"{where}: colour format {tensor.color.name} is not supported (RGB, BGR, GRAY)")
        shape = self._tensor_shape(tensor, model_shape, model_layout, layout, steps, where)
        new = Node(get_op("Parameter"), [], {"shape": shape, "element_type": tensor.element_type or model_type},
                   name=param.friendly_name)
        new.output(0).set_names(param.output(0).get_names())
        if layout is not None:
            new.rt_info["layout"] = {"version": "0", "layout": str(layout)}
        state = _State(new.output(0), layout, tensor.color, where)
        for name, args in steps:
            self._step(state, name, args, model_type, model_layout, model_shape)
        state.convert(model_type)
        if model_layout is not None and state.layout is not None and state.layout.dims != model_layout.dims:
            state.transpose_to(model_layout)
        param.output(0).set_names(set())
        replace_uses(self._model, param.output(0), state.out)
        self._model._parameters = [new if p is param else p for p in self._model._parameters]

    @staticmethod
    def _tensor_shape(tensor: InputTensorInfo, model_shape: PartialShape, model_layout: Layout | None,
                      layout: Layout | None, steps: list, where: str) -> PartialShape:
        if tensor.shape is not None:
            return tensor.shape
        dims = list(model_shape) if model_shape.rank_is_static else None
        if dims is None:
            return model_shape
        if layout is not None and model_layout is not None and layout.dims != model_layout.dims:
            if sorted(layout.dims) != sorted(model_layout.dims):
                raise ArrayrtError(f"{where}: layouts {layout} and {model_layout} have different dimensions")
            dims = [dims[model_layout.dims.index(c)] for c in layout.dims]
        if tensor.spatial is not None:
            if layout is None or layout.index("H") is None or layout.index("W") is None:
                raise ArrayrtError(f"{where}: a spatial shape needs a layout with H and W")
            if not any(name == "resize" for name, _ in steps):
                raise ArrayrtError(f"{where}: the tensor's spatial shape differs from the model's: add a resize step")
            h, w = tensor.spatial
            dims[layout.index("H")] = Dimension(h)
            dims[layout.index("W")] = Dimension(w)
        return PartialShape(dims)

    @staticmethod
    def _step(state: _State, name: str, args: tuple, model_type: Type, model_layout: Layout | None,
              model_shape: PartialShape) -> None:
        if name == "convert_element_type":
            state.convert(args[0] or model_type)
        elif name == "convert_layout":
            target = args[0]
            if target is None:
                target = model_layout
            if isinstance(target, (list, tuple)):
                perm = [int(v) for v in target]
                state.node("Transpose", [constant(np.array(perm, np.int64)).output(0)])
                state.layout = None if state.layout is None else Layout([state.layout.dims[i] for i in perm])
            elif target is not None:
                state.transpose_to(_layout(target))
        elif name == "convert_color":
            target = args[0]
            if target != state.color:
                if {state.color, target} != {ColorFormat.RGB, ColorFormat.BGR}:
                    raise ArrayrtError(f"{state.where}: converting colour {state.color.name} to {target.name} is "
                                       "not supported (RGB <-> BGR)")
                state.reverse("convert_color")
            state.color = target
        elif name == "resize":
            algorithm, height, width = args
            h_axis, w_axis = state.axis("H", "resize"), state.axis("W", "resize")
            if height is None or width is None:
                height, width = _model_spatial(state.where, model_shape, model_layout)
            sizes = constant(np.array([height, width], np.int64)).output(0)
            axes = constant(np.array([h_axis, w_axis], np.int64)).output(0)
            rank = len(state.layout)
            # Pillow's bicubic has a = -0.5: OpenVINO's ppp writes -0.75, which its CPU plugin ignores
            # for this mode (against the spec, which arrayrt's Interpolate follows), so -0.5 is written
            cube = -0.5 if algorithm is ResizeAlgorithm.RESIZE_BICUBIC_PILLOW else -0.75
            attrs = {"mode": algorithm.value, "shape_calculation_mode": "sizes",
                     "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor",
                     "antialias": False, "pads_begin": [0] * rank, "pads_end": [0] * rank, "cube_coeff": cube}
            state.node("Interpolate", [sizes, axes], attrs, version="opset11")
        elif name == "mean":
            state.node("Subtract", [state.per_channel(args[0], "mean")], {"auto_broadcast": "numpy"})
        elif name == "scale":
            values = np.atleast_1d(np.asarray(args[0], np.float64))
            if np.any(values == 0):
                raise ArrayrtError(f"{state.where}: scale values must not be 0, got {values.tolist()}")
            reciprocal = (np.float32(1.0) / values.astype(np.float32)).astype(np.float64)
            state.node("Multiply", [state.per_channel(reciprocal, "scale")], {"auto_broadcast": "numpy"})
        elif name == "reverse_channels":
            state.reverse("reverse_channels")
        elif name == "crop":
            begin, end = args
            starts, stops = (constant(np.array(v, np.int64)).output(0) for v in (begin, end))
            state.node("Slice", [starts, stops, constant(np.ones(len(begin), np.int64)).output(0)])
        elif name == "pad":
            begin, end, value, mode = args
            rank = state.out.get_partial_shape().rank
            if rank.is_static and rank.get_length() != len(begin):
                raise ArrayrtError(f"{state.where}: pad has {len(begin)} values per side for a tensor of rank "
                                   f"{rank.get_length()}")
            pads = [constant(np.array(v, np.int64)).output(0) for v in (begin, end)]
            fill = constant(np.array(value, state.out.get_element_type().to_dtype())).output(0)
            state.node("Pad", [*pads, fill], {"pad_mode": mode.value}, version="opset12")
        elif name == "custom":
            result = args[0](state.out)
            state.out = result.output(0) if isinstance(result, Node) else result

    # --- outputs -------------------------------------------------------------------------------
    def _build_output(self, result: Node, info: OutputInfo) -> None:
        source = result.input_value(0)
        where = f"output '{source.get_any_name()}'" if source.get_names() else f"output of '{result.friendly_name}'"
        names = source.get_names()
        model_layout = info.model().layout or _rt_layout(result)
        state = _State(source, model_layout, ColorFormat.UNDEFINED, where)
        for name, (arg,) in info.postprocess().steps:
            if name == "convert_element_type":
                state.convert(arg or info.tensor().element_type or source.get_element_type())
            elif name == "convert_layout":
                target = arg if arg is not None else info.tensor().layout
                if isinstance(target, (list, tuple)):
                    state.node("Transpose", [constant(np.array([int(v) for v in target], np.int64)).output(0)])
                    state.layout = None
                elif target is not None:
                    state.transpose_to(_layout(target))
            else:
                out = arg(state.out)
                state.out = out.output(0) if isinstance(out, Node) else out
        if info.tensor().element_type is not None:
            state.convert(info.tensor().element_type)
        target = info.tensor().layout
        if target is not None and state.layout is not None and state.layout.dims != target.dims:
            state.transpose_to(target)
        if state.out != source:
            source.set_names(set())
            state.out.set_names(names)
            result._inputs[0] = state.out
            result.validate_and_infer_types()

    def __str__(self) -> str:
        lines = []
        for i, info in sorted(self._inputs.items()):
            lines.append(f"Input {i}: {[n for n, _ in info.preprocess().steps]}")
        for i, info in sorted(self._outputs.items()):
            lines.append(f"Output {i}: {[n for n, _ in info.postprocess().steps]}")
        return "\n".join(lines)


def _unpermuted(model_layout: Layout | None, steps: list) -> Layout | None:
    """The tensor's layout when the user did not set it: the model's, taken back through every
    ``convert_layout([order])`` step (as OpenVINO deduces it)."""
    if model_layout is None:
        return None
    dims = model_layout.dims
    for name, args in reversed(steps):
        if name == "convert_layout" and isinstance(args[0], (list, tuple)):
            order = [int(v) for v in args[0]]
            if sorted(order) != list(range(len(dims))):
                return None
            before = [""] * len(dims)
            for i, source in enumerate(order):
                before[source] = dims[i]
            dims = tuple(before)
    return Layout(dims)


def _rt_layout(node: Node) -> Layout | None:
    value = node.rt_info.get("layout")
    if isinstance(value, dict):
        value = value.get("layout")
    return Layout(str(value)) if value else None


def _model_spatial(where: str, shape: PartialShape, layout: Layout | None) -> tuple[int, int]:
    """The model input's static (H, W): where ``resize`` without a size resizes to."""
    if layout is None or layout.index("H") is None or layout.index("W") is None:
        raise ArrayrtError(f"{where}: resize to the model's size needs the model's layout (model().set_layout)")
    dims = [shape[layout.index(c)] if shape.rank_is_static else Dimension() for c in "HW"]
    if not all(d.is_static for d in dims):
        raise ArrayrtError(f"{where}: resize to the model's size needs its height and width, which are {dims[0]} "
                           f"and {dims[1]}: give resize(algorithm, height, width)")
    return dims[0].get_length(), dims[1].get_length()
