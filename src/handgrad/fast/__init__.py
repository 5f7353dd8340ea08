"""The performance path: preallocated, cache-line-aligned buffers, BLAS through ctypes, the
plain-SGD step fused into the backward products, in-place kernels.

Every function here names the reference function of :mod:`handgrad.core` it must equal, and
``tests/fast/`` runs both on the same inputs (float64 to 1e-12 relative, float32, below and
above every size threshold that switches routes). Modules here import :mod:`handgrad.core`,
never the other way round.
"""
