"""Property keys as names, in the shape of ``openvino.properties``.

    import arrayrt.properties as props
    import arrayrt.properties.hint as hints

    core.compile_model(model, "CPU", {hints.performance_mode: hints.PerformanceMode.THROUGHPUT,
                                      props.enable_profiling: True})
    compiled.get_property(props.optimal_number_of_infer_requests)
    core.set_property("NPU", hints.inference_precision(Type.f32))   # prop(value): (key, value)

Each name is a :class:`Property`, a ``str`` equal to the key (``props.cache_dir == "CACHE_DIR"``),
so configs mixing names and strings mean the same thing. Only keys arrayrt understands are here;
device-specific keys (``GNA_DEVICE_MODE``, ``JAX_PLATFORM``, ``GPU_ENABLE_CUDA_GRAPH``...) are
passed as strings (docs/architecture.md lists them per device).
"""
from __future__ import annotations

from arrayrt.properties import device, hint, intel_auto, streams
from arrayrt.properties._property import Property, ReadOnlyProperty

auto_batch_timeout = Property("AUTO_BATCH_TIMEOUT")
cache_dir = Property("CACHE_DIR")
enable_mmap = Property("ENABLE_MMAP")
enable_profiling = Property("PERF_COUNT")
inference_num_threads = Property("INFERENCE_NUM_THREADS")
num_streams = Property("NUM_STREAMS")
#: arrayrt's own: the array library a device runs on (``numpy``, ``array_api_strict``...)
array_backend = Property("ARRAY_BACKEND")
#: arrayrt's own: leave results on the device as backend arrays instead of numpy
keep_on_device = Property("KEEP_ON_DEVICE")

available_devices = ReadOnlyProperty("AVAILABLE_DEVICES")
execution_devices = ReadOnlyProperty("EXECUTION_DEVICES")
model_name = ReadOnlyProperty("NETWORK_NAME")
optimal_number_of_infer_requests = ReadOnlyProperty("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
range_for_streams = ReadOnlyProperty("RANGE_FOR_STREAMS")
supported_properties = ReadOnlyProperty("SUPPORTED_PROPERTIES")

__all__ = [
    "Property", "ReadOnlyProperty", "array_backend", "auto_batch_timeout", "available_devices", "cache_dir",
    "device", "enable_mmap", "enable_profiling", "execution_devices", "hint", "inference_num_threads",
    "intel_auto", "keep_on_device", "model_name", "num_streams", "optimal_number_of_infer_requests",
    "range_for_streams", "streams", "supported_properties",
]
