"""The ONNX translator registry: ``(domain, op_type)`` -> translators by the opset they start at.

A translator is ``fn(ctx, node) -> list[Output | None]`` (one entry per ONNX output) written with
:class:`~arrayrt.ir.frontend.onnx.context.NodeContext`: it reads inputs and attributes from ``node``
and builds IR ops with ``node.make(...)``/``node.const(...)``. Register it with::

    @translator("Conv")                 # every opset
    @translator("Resize", since=11)     # from opset 11; an older translator covers earlier ones
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

Translator = Callable[[Any, Any], list]

_TABLE: dict[tuple[str, str], list[tuple[int, Translator]]] = {}
ONNX_DOMAINS = ("", "ai.onnx")


def translator(op_type: str, since: int = 1, domain: str = "") -> Callable[[Translator], Translator]:
    """Register ``fn`` for ``op_type`` in ``domain`` from opset ``since`` on."""
    domain = "" if domain in ONNX_DOMAINS else domain

    def deco(fn: Translator) -> Translator:
        entries = _TABLE.setdefault((domain, op_type), [])
        if any(s == since for s, _ in entries):
            raise ValueError(f"translator for {op_type} since opset {since} defined twice")
        entries.append((since, fn))
        entries.sort(key=lambda e: e[0])
        return fn

    return deco


def find(op_type: str, domain: str, version: int) -> Translator | None:
    """The translator for ``op_type`` at opset ``version`` of ``domain`` (None if there is none)."""
    domain = "" if domain in ONNX_DOMAINS else domain
    best = None
    for since, fn in _TABLE.get((domain, op_type), ()):
        if since <= version:
            best = fn
    return best


def known_ops() -> list[tuple[str, str]]:
    return sorted(_TABLE)
