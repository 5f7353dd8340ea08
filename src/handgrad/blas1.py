"""Level-1 BLAS (``axpy``: y ← a·x + y, ``scal``: x ← a·x) from the BLAS numpy itself uses.

Why not numpy or SciPy:

* numpy has no in-place ``y += a·x``: ``y += a * x`` makes two passes over memory and
  allocates a temporary; for the 235k-parameter MLP of the benchmarks that is ~38 µs per
  update against ~9 µs for one BLAS ``axpy`` — at ~500 steps an epoch it matters.
* SciPy's BLAS wrappers bring a *second* OpenBLAS with its own thread pool. Alternating calls
  between numpy's pool (the matrix products) and SciPy's (the update) made a training step
  20× slower on this 2-core machine (idle workers of one pool spin while the other works).

So the routines are called through ``ctypes`` in the OpenBLAS numpy links (found with
threadpoolctl; numpy's wheels export ``scipy_cblas_saxpy64_`` etc.). Where that library or
its symbols cannot be found (another BLAS, an unusual build), numpy ufuncs do the same
arithmetic, two passes instead of one; ``SOURCE`` says which is in use.
"""

from __future__ import annotations

import ctypes

import numpy as np

# (symbol pattern, C integer type): ILP64 builds carry the "64_" suffix
_CANDIDATES = (("scipy_cblas_{}64_", ctypes.c_int64), ("cblas_{}64_", ctypes.c_int64),
               ("scipy_cblas_{}", ctypes.c_int), ("cblas_{}", ctypes.c_int))


def _numpy_openblas() -> str | None:
    """Path of the OpenBLAS library loaded by numpy, if threadpoolctl can see it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a core dependency
        return None
    for info in threadpool_info():
        if info.get("internal_api") == "openblas" and "numpy" in info.get("filepath", ""):
            return info["filepath"]
    return None


def _load() -> tuple[dict, str]:
    path = _numpy_openblas()
    if path is None:
        return {}, "numpy ufuncs (numpy's BLAS not found)"
    try:
        lib = ctypes.CDLL(path)  # already loaded by numpy: the same library, the same threads
    except OSError:
        return {}, "numpy ufuncs (numpy's BLAS could not be opened)"
    for pattern, c_int in _CANDIDATES:
        try:
            fns = {}
            for prefix, ctype in (("s", ctypes.c_float), ("d", ctypes.c_double)):
                axpy = getattr(lib, pattern.format(prefix + "axpy"))
                axpy.argtypes = [c_int, ctype, ctypes.c_void_p, c_int, ctypes.c_void_p, c_int]
                axpy.restype = None
                scal = getattr(lib, pattern.format(prefix + "scal"))
                scal.argtypes = [c_int, ctype, ctypes.c_void_p, c_int]
                scal.restype = None
                fns[np.dtype(np.float32 if prefix == "s" else np.float64)] = (axpy, scal)
            return fns, f"BLAS {pattern.format('?axpy')} from {path.rsplit('/', 1)[-1]}"
        except AttributeError:
            continue
    return {}, "numpy ufuncs (no cblas axpy/scal symbols in numpy's BLAS)"


_FUNCS, SOURCE = _load()


def _check(*arrays: np.ndarray) -> None:
    for a in arrays:
        if not a.flags.c_contiguous or a.dtype != arrays[0].dtype:
            raise ValueError("blas1 needs C-contiguous arrays of one dtype")


def axpy(a: float, x: np.ndarray, y: np.ndarray, tmp: np.ndarray | None = None) -> None:
    """``y ← a·x + y`` in place (x, y: contiguous, same dtype and size). ``tmp`` (same shape)
    spares the numpy fallback an allocation."""
    fns = _FUNCS.get(y.dtype)
    if fns is not None:
        _check(y, x)
        fns[0](y.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
        return
    y += np.multiply(x, a, out=tmp)


def scal(a: float, x: np.ndarray) -> None:
    """``x ← a·x`` in place."""
    fns = _FUNCS.get(x.dtype)
    if fns is not None:
        _check(x)
        fns[1](x.size, a, x.ctypes.data, 1)
        return
    x *= a
