"""Device identity and priorities (``openvino.properties.device``)."""
from __future__ import annotations

from arrayrt.properties._property import Property, ReadOnlyProperty

#: the device list of HETERO, AUTO and MULTI: ``priorities("NPU", "CPU")``
priorities = Property("MULTI_DEVICE_PRIORITIES")
id = Property("DEVICE_ID")  # noqa: A001 - OpenVINO's name
full_name = ReadOnlyProperty("FULL_DEVICE_NAME")
type = ReadOnlyProperty("DEVICE_TYPE")  # noqa: A001 - OpenVINO's name
capabilities = ReadOnlyProperty("OPTIMIZATION_CAPABILITIES")

__all__ = ["capabilities", "full_name", "id", "priorities", "type"]
