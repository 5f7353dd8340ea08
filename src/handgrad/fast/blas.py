"""BLAS routines from the BLAS numpy itself uses: ``axpy`` (y ← a·x + y), ``scal`` (x ← a·x),
and the ``gemm`` form with a β (C ← α·AᵀB + β·C) that numpy's matmul cannot express.

Why not numpy or SciPy:

* numpy has no in-place ``y += a·x``: ``y += a * x`` makes two passes over memory and
  allocates a temporary; for the 235k-parameter MLP of the benchmarks that is ~38 µs per
  update against ~9 µs for one BLAS ``axpy`` — at ~500 steps an epoch it matters.
* SciPy's BLAS wrappers bring a *second* OpenBLAS with its own thread pool. Alternating calls
  between numpy's pool (the matrix products) and SciPy's (the update) made a training step
  20× slower on this 2-core machine (idle workers of one pool spin while the other works).

* ``C ← α·AᵀB + β·C`` lets plain SGD update the weights inside the product that computes
  their gradient (``W ← (1 − 2λη)·W − η·A_{l−1}ᵀδ_l``), so the gradient is never stored and
  the parameters are not streamed through memory a second time.

So the routines are called through ``ctypes`` in the OpenBLAS numpy links (found with
threadpoolctl; numpy's wheels export ``scipy_cblas_saxpy64_`` etc.). Where that library or
its symbols cannot be found (another BLAS, an unusual build), numpy does the same arithmetic
with more passes and temporaries; ``SOURCE`` says which is in use.
"""

from __future__ import annotations

import collections
import ctypes

import numpy as np

# How often each routine took the BLAS route (not numpy's) in this process: tests read it to
# prove the fast path really runs (a silent fall-back to numpy everywhere would leave it at 0).
CALLS: collections.Counter = collections.Counter()

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


_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # the CBLAS enum values


def _load() -> tuple[dict, str]:
    path = _numpy_openblas()
    if path is None:
        return {}, "numpy (numpy's BLAS not found)"
    try:
        lib = ctypes.CDLL(path)  # already loaded by numpy: the same library, the same threads
    except OSError:
        return {}, "numpy (numpy's BLAS could not be opened)"
    for pattern, c_int in _CANDIDATES:
        try:
            fns = {}
            for prefix, ctype, dtype in (("s", ctypes.c_float, np.float32),
                                         ("d", ctypes.c_double, np.float64)):
                fns[np.dtype(dtype)] = _bind(lib, pattern, prefix, ctype, c_int)
            return fns, f"BLAS {pattern.format('?axpy')} etc. from {path.rsplit('/', 1)[-1]}"
        except AttributeError:
            continue
    return {}, "numpy (no cblas symbols found in numpy's BLAS)"


def _bind(lib, pattern: str, prefix: str, real, c_int) -> dict:
    ptr, enum = ctypes.c_void_p, ctypes.c_int
    signatures = {
        "axpy": [c_int, real, ptr, c_int, ptr, c_int],
        "scal": [c_int, real, ptr, c_int],
        "gemm": [enum, enum, enum, c_int, c_int, c_int, real, ptr, c_int, ptr, c_int, real, ptr, c_int],
    }
    out = {}
    for name, argtypes in signatures.items():
        fn = getattr(lib, pattern.format(prefix + name))
        fn.argtypes = argtypes
        fn.restype = None
        out[name] = fn
    return out


_FUNCS, SOURCE = _load()


def kernel_info() -> dict:
    """Which BLAS numpy uses, its kernel set ("architecture": OpenBLAS picks one for the CPU
    when it loads, unless ``OPENBLAS_CORETYPE`` names one) and its threads."""
    from threadpoolctl import threadpool_info

    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            return {"library": info.get("internal_api"), "version": info.get("version"),
                    "kernels": info.get("architecture"), "threads": info.get("num_threads"),
                    "level1": SOURCE}
    return {"library": None, "kernels": None, "threads": None, "level1": SOURCE}


def _check(*arrays: np.ndarray) -> None:
    for a in arrays:
        if not a.flags.c_contiguous or a.dtype != arrays[0].dtype:
            raise ValueError("blas needs C-contiguous arrays of one dtype")


def _ld(a: np.ndarray) -> int:
    """Leading dimension of a 2-D array whose rows are contiguous and apart (a row slice of a
    matrix, what BLAS can describe), or 0 if it has none — also for rows that overlap or repeat
    (``broadcast_to``, ``sliding_window_view``), which BLAS would read as other memory."""
    if a.ndim != 2:
        return 0
    s0, s1 = a.strides
    item = a.itemsize
    if s1 != item or s0 % item or s0 < 0 or (a.shape[0] > 1 and s0 < a.shape[1] * item):
        return 0
    return max(s0 // item, a.shape[1], 1)


def _address(a: np.ndarray) -> int:
    """``a.ctypes.data``, in a third of its time where ``a`` is writable and contiguous (a
    ctypes view of its buffer: 0.5 µs against 1.5 µs here; the three pointers of a product
    were ~5 % of a 128-row step's elementwise time)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):  # read-only, strided or empty: numpy's own way
        return a.ctypes.data


# Below this many elements the ctypes call (read at every call, so tests can lower it) (two pointer look-ups, ~4 µs) costs more than
# numpy's two passes (~2.5 µs at 7,500 float64 here): small buffers take the numpy route.
SMALL = 32_768


def axpy(a: float, x: np.ndarray, y: np.ndarray, tmp: np.ndarray | None = None) -> None:
    """``y ← a·x + y`` in place (x, y: contiguous, same dtype and size). ``tmp`` (same shape)
    spares the numpy route an allocation."""
    fns = _FUNCS.get(y.dtype)
    if fns is not None and y.size >= SMALL:
        _check(y, x)
        fns["axpy"](y.size, a, _address(x), 1, _address(y), 1)
        CALLS["axpy"] += 1
        return
    y += np.multiply(x, a, out=tmp)


def scal(a: float, x: np.ndarray) -> None:
    """``x ← a·x`` in place."""
    fns = _FUNCS.get(x.dtype)
    if fns is not None and x.size >= SMALL:
        _check(x)
        fns["scal"](x.size, a, _address(x), 1)
        CALLS["scal"] += 1
        return
    x *= a


def _blas_gemm(trans_a: bool, alpha: float, A: np.ndarray, B: np.ndarray, beta: float,
               C: np.ndarray, fill: np.ndarray | None = None) -> bool:
    """``C ← α·op(A)·B + β·C`` through BLAS (op(A) = Aᵀ with ``trans_a``, else A), with C
    first set to ``fill`` if given, when BLAS can take the operands: BLAS is found, C has at
    least ``SMALL`` entries (and some), the three are 2-D of one dtype, C is C-contiguous, A and
    B have a leading dimension (:func:`_ld`) and the shapes agree — checked here, since BLAS
    takes them on trust and would read past an operand (numpy's route raises). False, with
    nothing done, otherwise: numpy's route is the caller's."""
    fns = _FUNCS.get(C.dtype)
    if (fns is None or not C.size or C.size < SMALL or not A.ndim == B.ndim == C.ndim == 2
            or not A.dtype == B.dtype == C.dtype or not C.flags.c_contiguous):
        return False
    (m, n), k = C.shape, B.shape[0]
    lda, ldb = _ld(A), _ld(B)
    if (A.shape[::-1] if trans_a else A.shape) != (m, k) or B.shape[1] != n or not (lda and ldb):
        return False
    if fill is not None:
        C[...] = fill
    fns["gemm"](_ROW_MAJOR, _TRANS if trans_a else _NO_TRANS, _NO_TRANS, m, n, k, alpha,
                _address(A), lda, _address(B), ldb, beta, _address(C), n)
    return True


def gemm_tn(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> None:
    """``C ← α·AᵀB + β·C`` in place; A (k, m) and B (k, n) with contiguous rows, C (m, n)
    C-contiguous, one dtype.

    A small C (fewer than ``SMALL`` entries) takes numpy's route: the β-fold saves one pass
    over C, worth less than the call's overhead there (~4 µs of ctypes, and OpenBLAS's gemm
    sets up packing buffers where numpy's matmul would pick gemv for a one-column C:
    12 µs against 2 µs for the 100×1 gradient of a one-output layer).
    """
    if _blas_gemm(True, alpha, A, B, beta, C):
        CALLS["gemm"] += 1
        return
    if beta == 0 and alpha == 1:
        np.matmul(A.T, B, out=C)
        return
    product = np.matmul(A.T, B)
    if alpha != 1:
        product *= alpha
    if beta == 0:
        C[...] = product
        return
    if beta != 1:
        C *= beta
    C += product


def affine_into(A: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out ← A·W + 1bᵀ`` (eq. 1.2) for A (m, k), W (k, n), b (n,), out (m, n): on the BLAS
    route ``out`` is filled with b and the product added by the GEMM's β = 1, so the bias
    costs a write instead of another read-and-write pass over the layer's output after the
    product (~15 µs of a 128-row step of the 784-256-128-10 network here). Otherwise (small
    or stacked outputs, another BLAS) numpy's product and a broadcast add. Returns ``out``."""
    if _blas_gemm(False, 1.0, A, W, 1.0, out, fill=b):
        CALLS["gemm_nn"] += 1
        return out
    np.matmul(A, W, out=out)
    out += b
    return out
