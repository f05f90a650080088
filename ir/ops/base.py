"""The op definition framework: :class:`OpDef`, :class:`Attr` and the registry.

Adding an op
============
One class per op version, in the module of its family (``arrayrt/ir/ops/<family>.py``)::

    @register
    class Elu(OpDef):
        type_name, version, opset = "Elu", 0, "opset1"
        attrs = (Attr("alpha", "float"),)

        infer = same_as_input

        @staticmethod
        def compute(xp, x, alpha):
            return xp.where(x > 0, x, alpha * (xp.exp(x) - 1))

* ``type_name`` is the OpenVINO type; ``version`` the op class version (``Softmax`` 1 and 8);
  ``opset`` the first opset holding this version: the IR's ``version="opsetN"`` attribute. Ops that
  OpenVINO lacks (needed by the ONNX frontend) are arrayrt extensions: ``opset = EXTENSION_OPSET``
  (``"arrayrt1"``); real OpenVINO cannot read IR that contains them.
* ``attrs`` declares each attribute: its IR spelling, kind and default. Values are parsed from IR
  strings and checked once, when the node is built; ``compute`` receives them as Python values.
* ``infer(node)`` returns ``[(Type, PartialShape), ...]`` per output, from ``node.input_type(i)``,
  ``node.input_shape(i)`` and, where an output shape depends on a value, ``node.input_const(i)``
  (None when the value is unknown before inference: then return a dynamic shape).
* ``compute(xp, *inputs, **attrs)`` is written once against the array-API standard namespace ``xp``
  (no numpy-isms: it also runs on ``array_api_strict``). It returns one array or a tuple.
* ``kernel(xp, node)`` turns a node into a callable for the executor. The default binds the
  attributes ``compute`` asks for; override it to precompute per node (and backends may replace it
  through their ``overrides`` table with a faster library-specific kernel).
"""
from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from arrayrt.ir.shape import PartialShape
from arrayrt.ir.types import Type

from arrayrt.errors import ArrayrtError, OpAttributeError, ShapeInferenceError, UnsupportedOpError, where

REQUIRED = object()

#: the op set name of arrayrt's own ops (written as ``version="arrayrt1"`` in IR)
EXTENSION_OPSET = "arrayrt1"


class Attr:
    """One op attribute.

    kinds: ``int``, ``float`` (C++ double), ``float32`` (C++ float: rounded to f32 and written with
    17 digits as OpenVINO does), ``bool``, ``str``, ``ints``, ``floats``, ``strs``, ``type``
    (element type), ``shape`` (PartialShape), ``any`` (a Python value kept as it is: internal ops
    only, never in IR). ``choices`` lists the accepted values of a ``str``
    attribute in the spelling OpenVINO writes; reading is case-insensitive.
    """

    __slots__ = ("name", "kind", "default", "choices", "write")

    def __init__(self, name: str, kind: str, default: Any = REQUIRED,
                 choices: Sequence[str] | None = None, write: bool = True):
        self.name, self.kind, self.default, self.choices, self.write = name, kind, default, choices, write

    # IR string -> value ---------------------------------------------------------------------
    def parse(self, text: str) -> Any:
        k = self.kind
        s = text.strip()
        if k == "int":
            return int(s)
        if k in ("float", "float32"):
            return _float(s, k)
        if k == "bool":
            low = s.lower()
            if low in ("true", "1"):
                return True
            if low in ("false", "0"):
                return False
            raise ValueError(f"expected true or false, got '{text}'")
        if k == "str":
            return self._choice(s)
        if k == "ints":
            return [int(p) for p in _split(s)]
        if k == "floats":
            return [_float(p, "float32") for p in _split(s)]
        if k == "strs":
            return [p.strip() for p in s.split(",")] if s else []
        if k == "type":
            return Type(s)
        if k == "shape":
            return PartialShape(s)
        raise ValueError(f"unknown attribute kind {k}")

    # Python value -> checked value -------------------------------------------------------------
    def coerce(self, value: Any) -> Any:
        if self.kind == "any":  # internal ops' Python values, never read from or written to IR
            return value
        if isinstance(value, str) and self.kind not in ("str", "strs", "type", "shape"):
            return self.parse(value)
        k = self.kind
        if k == "int":
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"expected an integer, got {value!r}")
            return int(value)
        if k in ("float", "float32"):
            return _round32(float(value)) if k == "float32" else float(value)
        if k == "bool":
            if isinstance(value, str):
                return self.parse(value)
            return bool(value)
        if k == "str":
            return self._choice(str(value))
        if k == "ints":
            vals = [value] if isinstance(value, int) else list(value)
            return [int(v) for v in vals]
        if k == "floats":
            vals = [value] if isinstance(value, (int, float)) else list(value)
            return [_round32(float(v)) for v in vals]
        if k == "strs":
            return [value] if isinstance(value, str) else [str(v) for v in value]
        if k == "type":
            return Type(value)
        if k == "shape":
            return PartialShape(value)
        raise ValueError(f"unknown attribute kind {k}")

    def _choice(self, s: str) -> str:
        if self.choices is None:
            return s
        for c in self.choices:
            if c.lower() == s.lower():
                return c
        raise ValueError(f"expected one of {list(self.choices)}, got '{s}'")

    # value -> IR string ----------------------------------------------------------------------
    def format(self, value: Any) -> str:
        k = self.kind
        if k == "bool":
            return "true" if value else "false"
        if k in ("float", "float32"):
            return _fmt_float(value)
        if k == "ints":
            return ", ".join(str(int(v)) for v in value)
        if k == "floats":
            return ", ".join(_fmt_float(v) for v in value)
        if k == "strs":
            return ",".join(value)
        if k == "type":
            return Type(value).name
        if k == "shape":
            return PartialShape(value).to_ir()
        return str(value)


def _split(s: str) -> list[str]:
    return [p for p in re.split(r"[,\s]+", s) if p] if s else []


def _float(s: str, kind: str) -> float:
    low = s.strip().lower()
    if low in ("inf", "+inf", "infinity"):
        v = math.inf
    elif low in ("-inf", "-infinity"):
        v = -math.inf
    elif low == "nan":
        v = math.nan
    else:
        v = float(s)
    return _round32(v) if kind == "float32" else v


def _round32(v: float) -> float:
    import numpy as np

    with np.errstate(over="ignore"):
        return float(np.float32(v))


def _fmt_float(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if math.isnan(v):
        return "nan"
    s = "%.17g" % v
    return s


class OpDef:
    """Base of every op definition. See the module docstring for how to add an op."""

    type_name: ClassVar[str]
    version: ClassVar[int] = 0
    opset: ClassVar[str] = "opset1"
    attrs: ClassVar[tuple[Attr, ...]] = ()
    #: (min, max) number of inputs; max None = unbounded
    n_inputs: ClassVar[tuple[int, int | None]] = (1, 1)
    n_outputs: ClassVar[int] = 1
    #: may be evaluated ahead of inference when every input is known (not Parameter, random, state)
    foldable: ClassVar[bool] = True

    _compute_params: ClassVar[tuple[str, ...] | None] = None

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def complete_attrs(cls, attrs: dict[str, Any], node: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in cls.attrs:
            if a.name in attrs and attrs[a.name] is not None:
                try:
                    out[a.name] = a.coerce(attrs[a.name])
                except (ValueError, TypeError, ArrayrtError) as exc:
                    raise OpAttributeError(
                        f"{cls._where(node)}: attribute '{a.name}' has a bad value "
                        f"{attrs[a.name]!r}: {exc}") from None
            elif a.default is REQUIRED:
                raise OpAttributeError(f"{cls._where(node)}: required attribute '{a.name}' is missing")
            else:
                out[a.name] = a.default() if callable(a.default) else a.default
        cls.check_attrs(out, node)
        return out

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any], node: Any) -> None:
        """Cross-attribute checks; raise :class:`OpAttributeError` naming the attribute."""

    @classmethod
    def _where(cls, node: Any) -> str:
        return where(node)

    @classmethod
    def num_outputs(cls, node: Any) -> int:
        return cls.n_outputs

    @classmethod
    def check_arity(cls, node: Any) -> None:
        lo, hi = cls.n_inputs
        n = len(node._inputs)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else f"{lo}..{'' if hi is None else hi}"
            raise ShapeInferenceError(f"{where(node)}: expected {want} inputs, got {n}")

    # --- inference ----------------------------------------------------------------------------
    @classmethod
    def infer(cls, node: Any) -> list[tuple[Type, PartialShape]]:
        raise NotImplementedError(f"{cls.type_name} has no shape inference")

    @staticmethod
    def compute(xp: Any, *inputs: Any, **attrs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def compute_attrs(cls, node: Any) -> dict[str, Any]:
        """The attributes ``compute`` takes, by name, from the node."""
        if cls.__dict__.get("_compute_params") is None:
            sig = inspect.signature(cls.compute)
            names = {a.name for a in cls.attrs}
            if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
                cls._compute_params = tuple(a.name for a in cls.attrs)
            else:
                cls._compute_params = tuple(p for p in sig.parameters if p in names)
        return {k: node.attrs[k] for k in cls._compute_params}

    @classmethod
    def kernel(cls, xp: Any, node: Any) -> Callable[..., Any]:
        """A callable ``f(*input_arrays) -> array | tuple`` for this node on namespace ``xp``."""
        kw = cls.compute_attrs(node)
        return functools.partial(cls.compute, xp, **kw)

    @classmethod
    def evaluate(cls, node: Any) -> list[Any] | None:
        """Values of all outputs when known before inference (for shape inference and constant
        folding), else None. The default computes on numpy when every input is known."""
        if not cls.foldable:
            return None
        vals = []
        for i in range(len(node._inputs)):
            v = node.input_const(i)
            if v is None:
                return None
            vals.append(v)
        from arrayrt.ir.ops._xp import numpy_namespace, to_numpy

        xp = numpy_namespace()
        try:
            res = cls.kernel(xp, node)(*vals)
        except ArrayrtError:
            raise
        except Exception as exc:  # noqa: BLE001 - report as an inference-time error of this node
            raise ShapeInferenceError(f"{where(node)}: evaluating on constant inputs failed: {exc}") from exc
        if isinstance(res, tuple) and len(res) == 1:
            res = res[0]
        if len(node._outputs) == 1 or not isinstance(res, (tuple, list)):
            res = (res,)
        return [r if isinstance(r, list) else to_numpy(r) for r in res]

    # --- graph hooks --------------------------------------------------------------------------
    @classmethod
    def extra_dependencies(cls, node: Any) -> Sequence[Any]:
        """Nodes that must run before this one though not wired as inputs (Assign after ReadValue)."""
        return ()

    @classmethod
    def after_clone(cls, node: Any, mapping: dict[int, Any]) -> None:
        """Fix cross-node references after :func:`clone_model` (``mapping``: old uid -> new node)."""


# --- registry -------------------------------------------------------------------------------
_REGISTRY: dict[str, list[type[OpDef]]] = {}


def register(cls: type[OpDef]) -> type[OpDef]:
    """Class decorator adding an op version to the registry."""
    versions = _REGISTRY.setdefault(cls.type_name.lower(), [])
    if any(v.opset == cls.opset for v in versions):
        raise ArrayrtError(f"{cls.type_name} in {cls.opset} is registered twice")
    versions.append(cls)
    versions.sort(key=lambda c: opset_number(c.opset))
    return cls


def opset_number(opset: str) -> int:
    m = re.fullmatch(r"opset(\d+)", opset)
    return int(m.group(1)) if m else 10**6


def get_op(type_name: str, version: "int | str | None" = None) -> type[OpDef]:
    """The op class for ``type_name``: its newest version, the version with that class version
    number (``int``), or the version that ``opsetN`` holds (``str``)."""
    versions = _REGISTRY.get(type_name.lower())
    if not versions:
        raise UnsupportedOpError(f"unknown op type '{type_name}'")
    if version is None:
        return versions[-1]
    if isinstance(version, int):
        for v in versions:
            if v.version == version:
                return v
        known = [v.version for v in versions]
        raise UnsupportedOpError(f"op {type_name} has no version {version} (known: {known})")
    n = opset_number(version)
    if n == 10**6:
        exact = [v for v in versions if v.opset == version]
        if exact:  # an extension op set such as arrayrt's own ("arrayrt1")
            return exact[-1]
        if version in ("experimental", "extension", "ie_internal_opset"):
            return versions[-1]
        raise UnsupportedOpError(f"op {type_name}: unknown op set '{version}'")
    candidates = [v for v in versions if opset_number(v.opset) <= n]
    if not candidates:
        first = versions[0].opset
        raise UnsupportedOpError(f"op {type_name} is not in {version} (it first appears in {first})")
    return candidates[-1]


def all_ops() -> list[type[OpDef]]:
    """Every registered op version, by type name then version."""
    return [c for name in sorted(_REGISTRY) for c in _REGISTRY[name]]


# --- common inference rules -------------------------------------------------------------------
def same_as_input(node: Any) -> list[tuple[Type, PartialShape]]:
    """Output 0 has the type and shape of input 0 (elementwise unary ops)."""
    return [(node.input_type(0), node.input_shape(0))]


def check_float(node: Any, i: int = 0) -> None:
    t = node.input_type(i)
    if t.is_static and not t.is_real:
        raise ShapeInferenceError(f"{where(node)}: input {i} must be a floating type, got {t}")
