"""numpy kernels that beat the generic array-API compute: op type -> kernel factory.

Each factory takes ``(backend, node)`` and returns a callable over numpy arrays, or None to fall
back to the op's generic compute for that node. One module per op family; this table joins them.
"""
from __future__ import annotations

from arrayrt.backends.base import KernelFactory
from arrayrt.backends.numpy import bounds, conv_kernels, fusion, indexing_kernels, matmul_kernels, pool_kernels

OVERRIDES: dict[str, KernelFactory] = {
    **conv_kernels.OVERRIDES,
    **pool_kernels.OVERRIDES,
    **matmul_kernels.OVERRIDES,
    **indexing_kernels.OVERRIDES,
    **bounds.OVERRIDES,
    "FusedConvolution": fusion.kernel,
    "FusedMatMul": fusion.dense_kernel,
    "FusedMVN": fusion.norm_kernel,
}
