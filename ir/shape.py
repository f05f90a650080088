"""Dimensions and partial shapes, with OpenVINO's spellings (``?``, ``1..10``, ``..10``, ``2..``, ``...``)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from arrayrt.errors import ArrayrtError

INF = -1  # an open upper bound
UNBOUNDED = 2**63 - 1  # how OpenVINO reports an open upper bound in get_max_shape()


class Dimension:
    """One dimension: static (``Dimension(3)``), an interval (``Dimension(1, 8)``, ``Dimension(2, -1)``)
    or fully dynamic (``Dimension()``, ``Dimension(-1)``, ``Dimension("?")``)."""

    __slots__ = ("min", "max")

    def __init__(self, lo: "int | str | Dimension | None" = None, hi: int | None = None):
        if isinstance(lo, Dimension):
            self.min, self.max = lo.min, lo.max
            return
        if isinstance(lo, str):
            self.min, self.max = _parse_dim(lo)
            return
        if lo is None or (hi is None and lo == -1):
            self.min, self.max = 0, INF
        elif hi is None:
            if lo < 0:
                raise ArrayrtError(f"a static dimension must be >= 0, got {lo}")
            self.min = self.max = int(lo)
        else:
            lo, hi = int(lo), int(hi)
            if lo < 0:
                lo = 0
            if hi != INF and hi < lo:
                raise ArrayrtError(f"dimension interval {lo}..{hi} is empty")
            self.min, self.max = lo, hi

    @classmethod
    def dynamic(cls) -> "Dimension":
        return cls()

    # --- queries ------------------------------------------------------------------------------
    @property
    def is_static(self) -> bool:
        return self.min == self.max

    @property
    def is_dynamic(self) -> bool:
        return self.min != self.max

    def get_length(self) -> int:
        if not self.is_static:
            raise ArrayrtError(f"dimension {self} is not static")
        return self.min

    @property
    def min_length(self) -> int:
        return self.min

    @property
    def max_length(self) -> int:
        return self.max

    def get_min_length(self) -> int:
        return self.min

    def get_max_length(self) -> int:
        return self.max

    def compatible(self, other: "Dimension | int") -> bool:
        """True if some value lies in both (an int is a static dimension)."""
        o = other if isinstance(other, Dimension) else Dimension(int(other))
        lo = max(self.min, o.min)
        hi = self.max if o.max == INF else (o.max if self.max == INF else min(self.max, o.max))
        return hi == INF or lo <= hi

    def contains(self, value: int) -> bool:
        return value >= self.min and (self.max == INF or value <= self.max)

    def merge(self, other: "Dimension") -> "Dimension":
        """The intersection of two dimensions (raises if empty)."""
        o = Dimension(other)
        if not self.compatible(o):
            raise ArrayrtError(f"dimensions {self} and {o} are incompatible")
        lo = max(self.min, o.min)
        hi = self.max if o.max == INF else (o.max if self.max == INF else min(self.max, o.max))
        return Dimension(lo, hi) if lo != hi else Dimension(lo)

    def refines(self, other: "Dimension") -> bool:
        o = Dimension(other)
        return self.min >= o.min and (o.max == INF or (self.max != INF and self.max <= o.max))

    def relaxes(self, other: "Dimension") -> bool:
        return Dimension(other).refines(self)

    # --- spelling -----------------------------------------------------------------------------
    def __str__(self) -> str:
        if self.is_static:
            return str(self.min)
        if self.min == 0 and self.max == INF:
            return "?"
        if self.max == INF:
            return f"{self.min}.."
        if self.min == 0:
            return f"..{self.max}"
        return f"{self.min}..{self.max}"

    def __repr__(self) -> str:
        return f"<Dimension: {self}>"

    def __eq__(self, other) -> bool:
        if isinstance(other, int):
            return self.is_static and self.min == other
        if isinstance(other, Dimension):
            return self.min == other.min and self.max == other.max
        return NotImplemented

    def __hash__(self) -> int:
        # a static dimension equals its int, so it must hash like it
        return hash(self.min) if self.min == self.max else hash((self.min, self.max))

    def __int__(self) -> int:
        return self.get_length()

    def __add__(self, other) -> "Dimension":
        o = Dimension(other)
        hi = INF if INF in (self.max, o.max) else self.max + o.max
        return Dimension(self.min + o.min, hi) if hi != self.min + o.min else Dimension(hi)

    def __mul__(self, other) -> "Dimension":
        o = Dimension(other)
        if self.is_static and o.is_static:
            return Dimension(self.min * o.min)
        if (self.is_static and self.min == 0) or (o.is_static and o.min == 0):
            return Dimension(0)
        hi = INF if INF in (self.max, o.max) else self.max * o.max
        return Dimension(self.min * o.min, hi)


def _parse_dim(text: str) -> tuple[int, int]:
    s = text.strip()
    try:
        if s in ("?", "-1", ""):
            return 0, INF
        if ".." in s:
            lo, hi = s.split("..", 1)
            lo_v = int(lo) if lo.strip() else 0
            hi_v = int(hi) if hi.strip() else INF
            if lo_v < 0 or (hi_v != INF and hi_v < lo_v):
                raise ValueError
            return lo_v, hi_v
        v = int(s)
        if v < -1:
            raise ValueError
        return (0, INF) if v == -1 else (v, v)
    except ValueError:
        raise ArrayrtError(f"bad dimension '{text}': expected N, ?, -1, a..b, ..b or a..") from None


class Shape(tuple):
    """A static shape, as OpenVINO's ``Shape``: a tuple of ints that prints as ``[2,3]`` and equals
    a list or tuple of the same ints."""

    __slots__ = ()

    def __new__(cls, dims: Iterable[int] = ()) -> "Shape":
        return super().__new__(cls, (int(d) for d in dims))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            other = tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __getitem__(self, key):  # a slice is a Shape again
        got = tuple.__getitem__(self, key)
        return Shape(got) if isinstance(key, slice) else got

    def to_string(self) -> str:
        return "[" + ",".join(map(str, self)) + "]"

    __str__ = to_string

    def __repr__(self) -> str:
        return f"<Shape: {self}>"


class PartialShape:
    """A shape whose rank and dimensions may be dynamic. ``PartialShape("?,3,1..224,..10")``,
    ``PartialShape([1, 3, 224, 224])``, ``PartialShape.dynamic()`` (dynamic rank)."""

    __slots__ = ("_dims",)

    def __init__(self, dims: "Iterable | str | PartialShape | None" = None):
        if isinstance(dims, PartialShape):
            self._dims = dims._dims
        elif dims is None:
            self._dims = None
        elif isinstance(dims, str):
            self._dims = _parse_shape(dims)
        else:
            out = []
            for d in dims:
                if isinstance(d, Dimension):
                    out.append(d)
                elif isinstance(d, str):
                    out.append(Dimension(d))
                elif isinstance(d, (tuple, list)) and len(d) == 2:
                    out.append(Dimension(d[0], d[1]))
                else:
                    out.append(Dimension(int(d)))
            self._dims = tuple(out)

    @classmethod
    def dynamic(cls, rank: int | None = None) -> "PartialShape":
        return cls(None) if rank is None else cls([Dimension()] * rank)

    # --- queries ------------------------------------------------------------------------------
    @property
    def rank_is_static(self) -> bool:
        return self._dims is not None

    @property
    def rank(self) -> Dimension:
        return Dimension() if self._dims is None else Dimension(len(self._dims))

    @property
    def is_static(self) -> bool:
        return self._dims is not None and all(d.is_static for d in self._dims)

    @property
    def is_dynamic(self) -> bool:
        return not self.is_static

    @property
    def dims(self) -> tuple[Dimension, ...]:
        if self._dims is None:
            raise ArrayrtError("the shape has a dynamic rank")
        return self._dims

    def to_shape(self) -> Shape:
        if not self.is_static:
            raise ArrayrtError(f"shape {self} is not static")
        return tuple.__new__(Shape, [d.min for d in self._dims])  # ints already: skip Shape's checks

    def get_shape(self) -> Shape:
        return self.to_shape()

    def get_min_shape(self) -> tuple[int, ...]:
        """Lower bounds; ``()`` for a dynamic rank, as OpenVINO returns."""
        return () if self._dims is None else tuple(d.min for d in self._dims)

    def get_max_shape(self) -> tuple[int, ...]:
        """Upper bounds, an open bound as ``2**63 - 1`` (OpenVINO's int64 maximum); ``()`` for a
        dynamic rank."""
        if self._dims is None:
            return ()
        return tuple(UNBOUNDED if d.max == INF else d.max for d in self._dims)

    def compatible(self, other: "PartialShape | Iterable[int]") -> bool:
        o = other if isinstance(other, PartialShape) else PartialShape(other)
        if self._dims is None or o._dims is None:
            return True
        return len(self._dims) == len(o._dims) and all(a.compatible(b) for a, b in zip(self._dims, o._dims))

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """True if a concrete array shape fits this partial shape."""
        if self._dims is None:
            return True
        if len(shape) != len(self._dims):
            return False
        for d, v in zip(self._dims, shape):
            if v < d.min or (d.max != INF and v > d.max):
                return False
        return True

    def merge(self, other: "PartialShape") -> "PartialShape":
        o = PartialShape(other)
        if self._dims is None:
            return o
        if o._dims is None:
            return self
        if len(self._dims) != len(o._dims):
            raise ArrayrtError(f"shapes {self} and {o} have different ranks")
        return PartialShape([a.merge(b) for a, b in zip(self._dims, o._dims)])

    def refines(self, other: "PartialShape") -> bool:
        o = PartialShape(other)
        if o._dims is None:
            return True
        if self._dims is None or len(self._dims) != len(o._dims):
            return False
        return all(a.refines(b) for a, b in zip(self._dims, o._dims))

    def relaxes(self, other: "PartialShape") -> bool:
        return PartialShape(other).refines(self)

    # --- sequence protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.dims)

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dims)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return PartialShape(self.dims[i])
        return self.dims[i]

    def __eq__(self, other) -> bool:
        if isinstance(other, PartialShape):
            return self._dims == other._dims
        if isinstance(other, (list, tuple)):
            try:
                return self == PartialShape(other)
            except (ArrayrtError, TypeError, ValueError):
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._dims)

    # --- spelling -----------------------------------------------------------------------------
    def __str__(self) -> str:
        if self._dims is None:
            return "[...]"
        return "[" + ",".join(str(d) for d in self._dims) + "]"

    def __repr__(self) -> str:
        return f"<PartialShape: {self}>"

    def to_ir(self) -> str:
        """The Parameter ``shape`` attribute spelling: ``1,3,224,224``, ``?,1..10,4``, ``...``."""
        if self._dims is None:
            return "..."
        return ",".join(str(d) for d in self._dims)


def _parse_shape(text: str):
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1].strip()
    if s == "...":
        return None
    if s == "":
        return ()
    return tuple(Dimension(p) for p in s.split(","))


def static_shape(pshape: PartialShape) -> tuple[int, ...] | None:
    """The concrete shape if ``pshape`` is static, else None."""
    return pshape.to_shape() if pshape.is_static else None
