"""Which inputs a node's generic kernel reads on the host, found on the CPU before anything runs.

A GPU kernel that turns a device value into a Python value (``int(k)``, ``as_int_tuple(shape)``,
``bool(cond)``, the size of ``nonzero``) copies it to the host and waits for the stream: that
breaks CUDA graph capture and stalls the work queued behind it. :func:`host_reads` runs the node's
array-API kernel over a namespace of *opaque* arrays: numpy arrays in disguise that compute like
CuPy arrays and raise :class:`HostRead` when their values are needed on the host, naming the inputs
they were computed from. The probe tells two kinds of read apart, because CuPy treats them apart:

* a *sync* read (``int()``, ``bool()``, ``.item()``, the size of a ``nonzero`` or boolean mask):
  CuPy does it on a device array, synchronising;
* a *numpy* read (``numpy.asarray``, DLPack to the host, as ``as_int_tuple`` does): CuPy refuses it,
  so that input must reach the kernel as a host array.

Host and device arrays mix as strictly as in CuPy (a numpy array among device arrays is a
:class:`HostArrayMixed` TypeError). Only nodes with a shape-like input are probed (integer or
boolean inputs, tiny float ones): float data is never read on the host by a sane kernel, and
probing every node would cost a CPU run of the whole model at compile time.
"""
from __future__ import annotations

import threading
import types
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

#: constant integer/boolean inputs up to this many elements are probed (shapes, axes, indices)
CONST_SHAPE_LIKE_MAX = 4096
#: float inputs up to this many elements may be scales, bounds or counts: probed
FLOAT_SHAPE_LIKE_MAX = 8

#: namespace functions whose output size depends on values: CuPy counts on the host (a sync)
_COUNTING = ("nonzero", "argwhere", "flatnonzero", "extract", "compress", "unique", "unique_all",
             "unique_counts", "unique_inverse", "unique_values")

_state = threading.local()  # .readable: inputs whose sync reads succeed; .anonymous: same for no input


class HostRead(Exception):
    """A kernel needed the value of a device array on the host (``kind``: "sync" or "numpy")."""

    def __init__(self, sources: frozenset[int], kind: str, how: str):
        super().__init__(f"{how} of an array computed from input(s) {sorted(sources)}")
        self.sources, self.kind = sources, kind


class HostArrayMixed(TypeError):
    """A host (numpy) array was passed where CuPy takes device arrays."""


def _readable(sources: frozenset[int]) -> bool:
    if not sources:
        return getattr(_state, "anonymous", False)
    return sources <= getattr(_state, "readable", frozenset())


class Opaque:
    """A device array stand-in: computes through the namespace and operators; its values reach
    the host only through sync reads of inputs the probe has allowed."""

    __slots__ = ("_a", "_src")
    __array_priority__ = 1000

    def __init__(self, a: np.ndarray, sources: frozenset[int]):
        self._a = a
        self._src = sources

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    T = property(lambda self: _wrap(self._a.T, self._src))
    mT = property(lambda self: _wrap(np.swapaxes(self._a, -1, -2), self._src))
    device = property(lambda self: "gpu")

    def __array_namespace__(self, api_version: str | None = None) -> Any:
        return NAMESPACE

    def _sync(self, how: str) -> np.ndarray:
        if not _readable(self._src):
            raise HostRead(self._src, "sync", how)
        return self._a

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise HostRead(self._src, "numpy", "converting to numpy")

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        raise HostRead(self._src, "numpy", "DLPack export to the host")

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, 0)  # kDLCUDA

    def __bool__(self) -> bool:
        return bool(self._sync("bool()"))

    def __int__(self) -> int:
        return int(self._sync("int()"))

    def __index__(self) -> int:
        return int(self._sync("operator.index()"))

    def __float__(self) -> float:
        return float(self._sync("float()"))

    def __complex__(self) -> complex:
        return complex(self._sync("complex()"))

    def item(self, *args: Any) -> Any:
        return self._sync(".item()").item(*args)

    def tolist(self) -> Any:
        return self._sync(".tolist()").tolist()

    def __iter__(self):
        return (_wrap(self._a[i], self._src) for i in range(len(self._a)))

    def __len__(self) -> int:
        return len(self._a)

    def __getitem__(self, key: Any) -> Any:
        for k in key if isinstance(key, tuple) else (key,):
            if isinstance(k, Opaque) and k.dtype == np.bool_ and not _readable(k._src):
                raise HostRead(k._src, "sync", "boolean mask indexing (its size)")
        return _call(lambda a, k: a[k], (self, key), {})

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_unwrap(key)] = _unwrap(value)
        self._src = self._src | _sources((key, value))

    def __repr__(self) -> str:
        return f"Opaque(shape={self.shape}, dtype={self.dtype})"


def _binary(name: str):
    def op(self, other):
        return _call(lambda a, b: getattr(a, name)(b), (self, other), {})
    op.__name__ = name
    return op


def _unary(name: str):
    def op(self):
        return _call(lambda a: getattr(a, name)(), (self,), {})
    op.__name__ = name
    return op


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
           "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne"):
    for _f in (f"__{_n}__", f"__r{_n}__"):
        if hasattr(np.ndarray, _f):
            setattr(Opaque, _f, _binary(_f))
for _f in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(Opaque, _f, _unary(_f))


def _sources(values: Iterable[Any]) -> frozenset[int]:
    out: frozenset[int] = frozenset()
    for v in values:
        if isinstance(v, Opaque):
            out |= v._src
        elif isinstance(v, (list, tuple)):
            out |= _sources(v)
        elif isinstance(v, dict):
            out |= _sources(v.values())
    return out


def _unwrap(v: Any) -> Any:
    if isinstance(v, Opaque):
        return v._a
    if isinstance(v, np.ndarray):
        raise HostArrayMixed("a host (numpy) array was mixed with device arrays; CuPy refuses that")
    if isinstance(v, list):
        return [_unwrap(e) for e in v]
    if isinstance(v, tuple):
        return tuple(_unwrap(e) for e in v)
    return v


def _wrap(r: Any, src: frozenset[int]) -> Any:
    if isinstance(r, np.ndarray):
        return Opaque(r, src)
    if isinstance(r, np.generic):
        return Opaque(np.asarray(r), src)
    if isinstance(r, tuple):
        items = [_wrap(e, src) for e in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, list):
        return [_wrap(e, src) for e in r]
    return r


def _call(fn: Any, args: tuple, kwargs: dict) -> Any:
    src = _sources(args) | _sources(kwargs.values())
    return _wrap(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}), src)


def _asarray(obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
    """Host data becomes a device constant, as in the GPU namespace."""
    if isinstance(obj, Opaque):
        return obj if dtype is None or obj.dtype == dtype else Opaque(obj._a.astype(dtype), obj._src)
    return Opaque(np.asarray(_unwrap(obj) if isinstance(obj, (list, tuple)) else obj, dtype=dtype),
                  _sources([obj]))


def _from_dlpack(x: Any, **_: Any) -> Any:
    return x if isinstance(x, Opaque) else Opaque(np.asarray(x), frozenset())


def _counting(name: str) -> Any:
    fn = getattr(np, name)

    def counts(*args: Any, **kwargs: Any) -> Any:
        src = _sources(args)
        if not _readable(src):
            raise HostRead(src, "sync", f"{name}() (its output size)")
        return _call(fn, args, kwargs)
    return counts


def _on_dtypes(fn: Any) -> Any:
    """A dtype function that also takes arrays (their dtypes)."""
    return lambda *a, **k: fn(*[x.dtype if isinstance(x, Opaque) else x for x in a], **k)


def _make_namespace() -> types.ModuleType:
    ns = types.ModuleType("arrayrt_gpu_probe", "numpy behind opaque device arrays")
    for name in dir(np):
        if name.startswith("_"):
            continue
        value = getattr(np, name)
        if callable(value) and not isinstance(value, type):
            setattr(ns, name, (lambda f: lambda *a, **k: _call(f, a, k))(value))
        else:
            setattr(ns, name, value)
    for name in ("finfo", "iinfo", "isdtype", "result_type", "can_cast"):
        setattr(ns, name, _on_dtypes(getattr(np, name)))
    for name in _COUNTING:
        if hasattr(np, name):
            setattr(ns, name, _counting(name))
    ns.asarray = _asarray
    ns.from_dlpack = _from_dlpack
    ns.__arrayrt_dtypes__ = {}
    return ns


NAMESPACE = _make_namespace()


def shape_like(et: Any, numel: int | None, constant: bool) -> bool:
    """Whether an input of element type ``et`` and ``numel`` elements could be read as Python values."""
    if not et.is_static:
        return False
    if et.is_real:
        return numel is not None and numel <= FLOAT_SHAPE_LIKE_MAX
    return not constant or (numel is not None and numel <= CONST_SHAPE_LIKE_MAX)


class Reads(NamedTuple):
    """What a node's kernel reads on the host.

    ``numpy``: inputs it must get as host arrays; ``sync``: inputs it reads from device arrays
    (synchronising); ``anonymous``: it reads back values it uploaded itself (a sync every call);
    ``problem``: why no placement of its inputs works on CuPy, or None."""

    numpy: frozenset[int] = frozenset()
    sync: frozenset[int] = frozenset()
    anonymous: bool = False
    problem: str | None = None


NONE = Reads()


def host_reads(node: Any) -> Reads:
    """Probe ``node``'s generic kernel (see the module docstring): inputs are device arrays
    (compile-time constants with their values, others zeros); each read found moves its inputs to
    the host (numpy reads) or allows them to sync (sync reads), and the kernel runs again. Constant
    inputs read by sync are then tried as host arrays, which spares the sync."""
    from arrayrt.ir.ops.sequence import value_kind

    if any(value_kind(v) != "tensor" for v in node.input_values()):
        return NONE  # sequences and optionals: their kernels index Python lists
    args: list[np.ndarray] = []
    constant: set[int] = set()
    probed = False
    for i in range(node.get_input_size()):
        value = node.input_const(i)
        et, shape = node.input_type(i), node.input_shape(i)
        if value is not None:
            constant.add(i)
        elif et.is_dynamic or not shape.rank_is_static:
            return NONE  # nothing to probe with; the runtime decides
        else:
            dims = tuple(d.get_length() if d.is_static else max(d.min, 1) for d in shape.dims)
            value = np.zeros(dims, et.to_dtype())
        value = np.asarray(value)
        probed = probed or shape_like(et, value.size, i in constant)
        args.append(value)
    if not probed:
        return NONE
    try:
        kernel = node.op.kernel(NAMESPACE, node)
    except Exception:  # noqa: BLE001 - a kernel that cannot be built here is not a support question
        return NONE
    reads, outcome = _settle(kernel, args, frozenset(), frozenset())
    if outcome != "ok":
        return reads
    movable = reads.sync & constant
    if movable:  # constants read by sync: as host arrays, if the kernel takes them so
        trial, outcome = _settle(kernel, args, reads.numpy | movable, reads.sync - movable)
        if outcome == "ok" and not trial.sync & movable:
            return trial
    return reads


def _settle(kernel: Any, args: list[np.ndarray], numpy: frozenset[int],
            sync: frozenset[int]) -> tuple[Reads, str]:
    """Run the kernel until its reads are all placed: ("ok"), or no placement works ("problem"),
    or it fails for another reason ("other": not a support question)."""
    anonymous = False
    for _ in range(2 * len(args) + 2):
        _state.readable, _state.anonymous = sync, anonymous
        try:
            kernel(*[a if i in numpy else Opaque(a, frozenset({i})) for i, a in enumerate(args)])
            return Reads(numpy, sync, anonymous), "ok"
        except HostRead as exc:
            if not exc.sources:  # a value the kernel made itself (an upload of host data)
                if exc.kind == "numpy" or anonymous:
                    return Reads(numpy, sync, anonymous, "its kernel converts device values it made "
                                 "itself to numpy, which CuPy refuses"), "problem"
                anonymous = True
                continue
            new = exc.sources - numpy - (sync if exc.kind == "sync" else frozenset())
            if not new:
                break
            if exc.kind == "numpy":
                numpy |= new
            else:
                sync |= new
        except HostArrayMixed:
            names = ", ".join(str(i) for i in sorted(numpy))
            reason = (f"its kernel reads input {names} on the host and also computes with "
                      f"{'it' if len(numpy) == 1 else 'them'} on the device" if numpy
                      else "its kernel passes host (numpy) arrays to device functions, which CuPy refuses")
            return Reads(numpy, sync, anonymous, reason), "problem"
        except Exception:  # noqa: BLE001 - value errors on probe zeros are not support questions
            return Reads(numpy, sync, anonymous), "other"
        finally:
            _state.readable, _state.anonymous = frozenset(), False
    return Reads(numpy, sync, anonymous, "its kernel reads device values on the host in a way the GPU "
                 "backend cannot place"), "problem"
