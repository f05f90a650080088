"""GNA device properties: their parsers (for ``Core``'s property table) and the parsed settings.

Keys, with OpenVINO's GNA plugin spellings:

* ``GNA_DEVICE_MODE``: ``GNA_SW_EXACT`` (default; also what ``GNA_AUTO`` and ``GNA_SW`` mean here,
  as no accelerator is present) or ``GNA_SW_FP32``; ``GNA_HW`` is refused.
* ``GNA_HW_EXECUTION_TARGET`` (alias ``GNA_EXECUTION_TARGET``): ``GNA_2_0``, ``GNA_3_0`` (default,
  the plugin's default without hardware) or ``GNA_3_5``; ``GNA_HW_COMPILE_TARGET`` is accepted as
  the same setting.
* ``GNA_SCALE_FACTOR_<i>`` (``GNA_SCALE_FACTOR`` = input 0): the scale factor of input ``i``;
  ``GNA_SCALE_FACTOR_PER_INPUT``: ``{input or tensor name: scale factor}``.
* ``GNA_CALIBRATION_DATA``: sample inputs, ``{name or index: array}`` or a list of per-sample input
  lists/dicts; an input without an explicit scale factor gets ``16384 / max|x|`` over its samples.
* ``GNA_PWL_MAX_ERROR_PERCENT``: PWL design target, default 1.0.
* ``INFERENCE_PRECISION_HINT``: ``i16`` (default) or ``i8`` weights; ``f32`` (also what
  ``EXECUTION_MODE_HINT=ACCURACY`` sets) runs the float twin, ``GNA_SW_FP32``, as full precision
  does on every device. ``GNA_PRECISION`` (``I16``/``I8``) is the plugin's older spelling.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from arrayrt.ir.types import Type

MODES = ("GNA_SW_EXACT", "GNA_SW_FP32")
MODE_ALIASES = {"GNA_AUTO": "GNA_SW_EXACT", "GNA_SW": "GNA_SW_EXACT"}
TARGETS = ("GNA_2_0", "GNA_3_0", "GNA_3_5")
DEFAULT_TARGET = "GNA_3_0"
SCALE_KEY = re.compile(r"GNA_SCALE_FACTOR(?:_(\d+))?$")


def parse_mode(v: Any) -> str:
    s = str(v).upper()
    s = MODE_ALIASES.get(s, s)
    if s == "GNA_HW" or s == "GNA_HW_WITH_SW_FBACK":
        raise ValueError(f"{s} needs GNA hardware; this device emulates it: use GNA_SW_EXACT or GNA_SW_FP32")
    if s not in MODES:
        raise ValueError(f"expected one of {list(MODES)}, got '{v}'")
    return s


def parse_target(v: Any) -> str:
    s = str(v).upper()
    if s not in TARGETS:
        raise ValueError(f"expected one of {list(TARGETS)}, got '{v}'")
    return s


def parse_scale_factor(v: Any) -> float:
    """A positive, finite float (strings with a decimal point accepted, as the plugin did)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"a scale factor must be a number, got {v!r}") from None
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"a scale factor must be positive and finite, got {v!r}")
    return f


def parse_scale_factors(v: Any) -> dict[str, float]:
    if not isinstance(v, Mapping):
        raise ValueError(f"expected a mapping of input names to scale factors, got {type(v).__name__}")
    return {str(k): parse_scale_factor(f) for k, f in v.items()}


def parse_error_percent(v: Any) -> float:
    f = float(v)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"expected a positive percentage, got {v!r}")
    return f


def parse_precision(v: Any) -> str:
    s = (v.name if isinstance(v, Type) else str(v)).lower()
    if s in ("i16", "f32", "dynamic", "undefined", "none"):
        return "i16"
    if s == "i8":
        return "i8"
    raise ValueError(f"GNA computes with i16 or i8 weights, got '{v}'")


def parse_calibration(v: Any) -> Any:
    if not isinstance(v, (Mapping, Sequence)) or isinstance(v, str):
        raise ValueError("expected {input: samples} or a list of per-sample inputs")
    return v


#: property key -> (parser, default), in the form of ``arrayrt.runtime.core.RW_PROPERTIES``;
#: ``GNA_SCALE_FACTOR_<i>`` keys match :data:`SCALE_KEY` and parse with :func:`parse_scale_factor`
PROPERTIES: dict[str, tuple[Any, Any]] = {
    "GNA_DEVICE_MODE": (parse_mode, "GNA_SW_EXACT"),
    "GNA_HW_EXECUTION_TARGET": (parse_target, None),  # None: GNA_3_0
    "GNA_HW_COMPILE_TARGET": (parse_target, None),
    "GNA_EXECUTION_TARGET": (parse_target, None),
    "GNA_SCALE_FACTOR_PER_INPUT": (parse_scale_factors, None),
    "GNA_CALIBRATION_DATA": (parse_calibration, None),
    "GNA_PWL_MAX_ERROR_PERCENT": (parse_error_percent, 1.0),
    "GNA_PRECISION": (parse_precision, None),
}


@dataclass
class GnaConfig:
    mode: str = "GNA_SW_EXACT"
    target: str = DEFAULT_TARGET
    precision: str = "i16"
    pwl_max_error_percent: float = 1.0
    #: explicit scale factors by input index and by input/tensor name
    scale_by_index: dict[int, float] = field(default_factory=dict)
    scale_by_name: dict[str, float] = field(default_factory=dict)
    calibration: Any = None

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> "GnaConfig":
        """Settings from a device configuration; raises ``ValueError`` naming the bad key."""
        out = cls()

        def get(key, parser):
            v = config.get(key)
            if v is None:
                return None
            try:
                return parser(v)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"property '{key}': {exc}") from None

        out.mode = get("GNA_DEVICE_MODE", parse_mode) or out.mode
        for key in ("GNA_EXECUTION_TARGET", "GNA_HW_COMPILE_TARGET", "GNA_HW_EXECUTION_TARGET"):
            out.target = get(key, parse_target) or out.target
        precision = get("GNA_PRECISION", parse_precision)
        hint = get("INFERENCE_PRECISION_HINT", parse_precision)
        out.precision = "i8" if "i8" in (precision, hint) else "i16"
        raw = config.get("INFERENCE_PRECISION_HINT")
        if raw is not None and (raw.name if isinstance(raw, Type) else str(raw)).lower() == "f32":
            out.mode = "GNA_SW_FP32"  # an f32 hint (or EXECUTION_MODE_HINT=ACCURACY) means full precision
        out.pwl_max_error_percent = get("GNA_PWL_MAX_ERROR_PERCENT", parse_error_percent) or 1.0
        out.scale_by_name = get("GNA_SCALE_FACTOR_PER_INPUT", parse_scale_factors) or {}
        for key in config:
            m = SCALE_KEY.match(str(key))
            if m is not None and config[key] is not None:
                out.scale_by_index[int(m.group(1) or 0)] = get(key, parse_scale_factor)
        out.calibration = get("GNA_CALIBRATION_DATA", parse_calibration)
        return out

    def calibration_max(self, index: int, names: set[str]) -> float | None:
        """``max|x|`` over the calibration samples of input ``index`` (known by ``names``)."""
        data = self.calibration
        if data is None:
            return None
        samples: list[Any] = []
        if isinstance(data, Mapping):
            for key in [index, str(index), *names]:
                if key in data:
                    samples.append(data[key])
                    break
        else:
            for sample in data:
                if isinstance(sample, Mapping):
                    for key in [index, *names]:
                        if key in sample:
                            samples.append(sample[key])
                            break
                elif isinstance(sample, Sequence) and not isinstance(sample, str) and index < len(sample):
                    samples.append(sample[index])
                elif index == 0 and hasattr(sample, "shape"):
                    samples.append(sample)
        if not samples:
            return None
        return max(float(np.max(np.abs(np.asarray(s, np.float64)))) if np.size(s) else 0.0 for s in samples)
