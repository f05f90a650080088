"""The benchmark models (:data:`arrayrt.testing.models.BENCHMARK_MODELS`) on every backend."""
from __future__ import annotations

from arrayrt.testing import models as M

from .common import BACKENDS, backend_or_skip, compile_or_skip, infer

#: builder keyword arguments per model; ``tests/tools/test_asv_suite.py`` shrinks them to smoke-test
MODEL_KWARGS: dict[str, dict] = {name: {} for name in M.BENCHMARK_MODELS}


def _build(model: str):
    import arrayrt.opset as ops

    m = M.make_model(ops, M.BENCHMARK_MODELS[model], model, **MODEL_KWARGS[model])
    inputs = {p.get_any_name(): a for p, a in zip(m.inputs, M.sample_inputs(m))}
    return m, inputs


class Models:
    """Compile time, inference time and peak memory of one inference, per backend and model."""

    params = [BACKENDS, list(M.BENCHMARK_MODELS)]
    param_names = ["backend", "model"]
    timeout = 600
    # compiling and one inference of ResNet-18 on array_api_strict take seconds: few samples
    number = 1
    repeat = (1, 10, 60.0)

    def setup(self, backend: str, model: str) -> None:
        backend_or_skip(backend)
        self.model, self.inputs = _build(model)
        self.compiled = compile_or_skip(self.model, backend, self.inputs)
        infer(self.compiled, self.inputs)  # warm-up: lazy compilation (XLA) is not timed below

    def time_infer(self, backend: str, model: str) -> None:
        infer(self.compiled, self.inputs)

    def peakmem_infer(self, backend: str, model: str) -> None:
        infer(self.compiled, self.inputs)

    def time_compile(self, backend: str, model: str) -> None:
        compile_or_skip(self.model, backend, self.inputs)
