"""``Layout``: what each dimension of a tensor means, as OpenVINO's ``ov::Layout``."""
from __future__ import annotations

import re
from collections.abc import Sequence

from arrayrt.errors import ArrayrtError

ELLIPSIS = "..."
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: OpenVINO's long names of the well-known dimensions
_ALIASES = {"BATCH": "N", "CHANNELS": "C", "DEPTH": "D", "HEIGHT": "H", "WIDTH": "W"}


class Layout:
    """A layout: ``NCHW`` (one letter per dimension), ``NC...`` / ``...C`` (an ellipsis stands for any
    number of dimensions), ``N?HW`` (``?``: a dimension without a name), or ``[batch,channels,?]`` (names
    of any length in brackets; ``batch``, ``channels``, ``depth``, ``height``, ``width`` mean N, C, D, H,
    W). Names are case-insensitive (kept upper-case) and unique. ``dims`` is the tuple of names, with
    ``"..."`` and ``"?"`` as they stand."""

    def __init__(self, text: "str | Sequence[str] | Layout" = ""):
        if isinstance(text, Layout):
            self.dims: tuple[str, ...] = text.dims
            return
        if isinstance(text, str):
            s = text.strip()
            if s.startswith("[") and s.endswith("]"):
                inner = s[1:-1].strip()
                names = [p.strip() for p in inner.split(",")] if inner else []
            else:
                names = []
                i = 0
                while i < len(s):
                    if s.startswith(ELLIPSIS, i):
                        names.append(ELLIPSIS)
                        i += 3
                    elif s[i].isspace():
                        i += 1
                    else:
                        names.append(s[i])
                        i += 1
        else:
            names = [str(n) for n in text]
        dims = []
        for n in names:
            if n not in (ELLIPSIS, "?") and not _NAME.match(n):
                raise ArrayrtError(f"bad layout {text!r}: '{n}' is not a dimension name (letters, digits, _)")
            dims.append(_ALIASES.get(n.upper(), n.upper()) if n not in (ELLIPSIS, "?") else n)
        if dims.count(ELLIPSIS) > 1:
            raise ArrayrtError(f"bad layout {text!r}: more than one '...'")
        if not dims:  # OpenVINO's empty layout: any rank, nothing named
            dims = [ELLIPSIS]
        named = [d for d in dims if d not in (ELLIPSIS, "?")]
        if len(set(named)) != len(named):
            raise ArrayrtError(f"bad layout {text!r}: a dimension name appears twice")
        self.dims = tuple(dims)

    # --- OpenVINO's methods -------------------------------------------------------------------
    def has_name(self, name: str) -> bool:
        return self.index(name) is not None

    def get_index_by_name(self, name: str) -> int:
        """The dimension's index; negative (from the end) for one after an ellipsis."""
        i = self.index(name)
        if i is None:
            raise ArrayrtError(f"layout {self} has no dimension '{name}'")
        return i

    def to_string(self) -> str:
        return str(self)

    @property
    def empty(self) -> bool:
        """Nothing named: ``Layout()``, ``...`` (a property, as OpenVINO's)."""
        return self.dims == (ELLIPSIS,)

    def __bool__(self) -> bool:
        return not self.empty

    # --- helpers ------------------------------------------------------------------------------
    def index(self, name: str) -> int | None:
        """The dimension's index, negative after an ellipsis; None when the layout lacks it."""
        name = _ALIASES.get(name.upper(), name.upper())
        if name not in self.dims:
            return None
        i = self.dims.index(name)
        if ELLIPSIS in self.dims and i > self.dims.index(ELLIPSIS):
            return i - len(self.dims)
        return i

    def __str__(self) -> str:
        return "[" + ",".join(self.dims) + "]"

    def __repr__(self) -> str:
        return f"<Layout: {self}>"

    def __len__(self) -> int:
        return len(self.dims)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Layout(other)
            except ArrayrtError:
                return False
        return isinstance(other, Layout) and self.dims == other.dims

    def __hash__(self) -> int:
        return hash(self.dims)


def _batch_inputs(model) -> list[tuple[object, int]]:
    """(input port, index of N) for each Parameter whose layout names a batch dimension."""
    out = []
    for param in model.get_parameters():
        layout = param.get_layout()
        i = layout.index("N")
        if i is not None:
            out.append((param.output(0), i))
    if not out:
        listing = "; ".join(f"'{p.friendly_name}' {p.output(0).get_partial_shape()} layout {p.get_layout() or '(none)'}"
                            for p in model.get_parameters())
        raise ArrayrtError("no input's layout names a batch dimension 'N' (inputs: " + listing +
                           "); set one first, e.g. model.get_parameters()[0].set_layout(Layout('NCHW'))")
    return out


def get_batch(model):
    """The batch dimension (``N`` of the inputs' layouts), as OpenVINO's ``get_batch``."""
    from arrayrt.ir.shape import Dimension

    dims = [port.get_partial_shape()[i] for port, i in _batch_inputs(model)]
    static = {d.get_length() for d in dims if d.is_static}
    if len(static) > 1:
        raise ArrayrtError(f"the inputs disagree on the batch size: {sorted(static)}")
    return Dimension(static.pop()) if static else dims[0]


def set_batch(model, batch_size) -> None:
    """Reshape every input whose layout names ``N`` to ``batch_size`` there (-1: dynamic), as
    OpenVINO's ``set_batch``; the rest of the model follows by shape inference."""
    from arrayrt.ir.shape import Dimension, PartialShape

    new = {}
    for port, i in _batch_inputs(model):
        ps = port.get_partial_shape()
        if not ps.rank_is_static:
            raise ArrayrtError(f"input '{port.node.friendly_name}' has a dynamic rank: no batch dimension to set")
        dims = list(ps.dims)
        dims[i] = batch_size if isinstance(batch_size, Dimension) else Dimension(int(batch_size))
        new[port] = PartialShape(dims)
    model.reshape(new)
