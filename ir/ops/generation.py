"""generation ops (see the FAMILIES list in __init__)."""
from __future__ import annotations
