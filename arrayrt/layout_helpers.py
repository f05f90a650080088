"""Layout helpers on ports and layouts, as ``openvino.layout_helpers``."""
from __future__ import annotations

from typing import Any

from arrayrt.ir.layout import Layout

__all__ = ["batch_idx", "channels_idx", "depth_idx", "get_layout", "has_batch", "has_channels", "has_depth",
           "has_height", "has_width", "height_idx", "set_layout", "width_idx"]


def get_layout(port: Any) -> Layout:
    """The layout of a model input or output (its Parameter's or Result's), empty when none is set."""
    return port.node.get_layout()


def set_layout(port: Any, layout: Any) -> None:
    """Set the layout of a model input or output on its Parameter or Result."""
    port.node.set_layout(layout)


def _index(layout: Layout, name: str) -> int:
    return layout.get_index_by_name(name)


def batch_idx(layout: Layout) -> int:
    return _index(layout, "N")


def channels_idx(layout: Layout) -> int:
    return _index(layout, "C")


def depth_idx(layout: Layout) -> int:
    return _index(layout, "D")


def height_idx(layout: Layout) -> int:
    return _index(layout, "H")


def width_idx(layout: Layout) -> int:
    return _index(layout, "W")


def has_batch(layout: Layout) -> bool:
    return layout.has_name("N")


def has_channels(layout: Layout) -> bool:
    return layout.has_name("C")


def has_depth(layout: Layout) -> bool:
    return layout.has_name("D")


def has_height(layout: Layout) -> bool:
    return layout.has_name("H")


def has_width(layout: Layout) -> bool:
    return layout.has_name("W")
