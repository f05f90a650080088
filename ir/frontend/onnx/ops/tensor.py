"""ONNX tensor translators (see FAMILIES in __init__)."""
from __future__ import annotations
