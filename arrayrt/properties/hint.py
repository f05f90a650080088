"""Performance and precision hints (``openvino.properties.hint``)."""
from __future__ import annotations

from arrayrt.properties._property import Property, ValueEnum


class PerformanceMode(ValueEnum):
    LATENCY = "LATENCY"
    THROUGHPUT = "THROUGHPUT"
    CUMULATIVE_THROUGHPUT = "CUMULATIVE_THROUGHPUT"


class ExecutionMode(ValueEnum):
    PERFORMANCE = "PERFORMANCE"
    ACCURACY = "ACCURACY"


performance_mode = Property("PERFORMANCE_HINT")
num_requests = Property("PERFORMANCE_HINT_NUM_REQUESTS")
#: a :class:`~arrayrt.Type` or its name: f32, f16, bf16 (and GNA's i16, i8)
inference_precision = Property("INFERENCE_PRECISION_HINT")
execution_mode = Property("EXECUTION_MODE_HINT")

__all__ = ["ExecutionMode", "PerformanceMode", "execution_mode", "inference_precision", "num_requests",
           "performance_mode"]
