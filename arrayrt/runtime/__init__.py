"""The OpenVINO-shaped runtime: Core, CompiledModel, InferRequest, Tensor and the virtual devices."""
