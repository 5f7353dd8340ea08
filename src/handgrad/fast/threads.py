"""BLAS threads for training: one thread when every product of a step is small.

On this kind of 2-core machine OpenBLAS threads that spin-wait for a core made small products
30x slower beside another CPU-bound process; a second thread only pays off for large products.
"""

from __future__ import annotations

import contextlib
import functools

# Below this many multiply-adds per product, a second BLAS thread costs more than it saves; and
# on a busy machine OpenBLAS threads that spin-wait for a core can make small products 30x
# slower (seen here: digits training 3 s alone, 75-100 s beside another CPU-bound process).
SMALL_GEMM = 1 << 22


def limit_blas_threads(net, batch_size: int, threads="auto"):
    """A context limiting BLAS threads for training ``net`` at ``batch_size``.

    ``"auto"``: one thread when ``batch_size · n_in · n_out < SMALL_GEMM`` for every layer,
    else the BLAS default; an int sets the count; None leaves BLAS alone.
    """
    if threads is None:
        return contextlib.nullcontext()
    if threads == "auto":
        largest = max(batch_size * a * b for a, b in zip(net.sizes[:-1], net.sizes[1:]))
        if largest >= SMALL_GEMM:
            return contextlib.nullcontext()
        threads = 1
    return _blas_controller().limit(limits=int(threads), user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One threadpoolctl controller for the process: building one scans every loaded library
    (~3 ms, a tenth of a small fit); the BLAS libraries do not change once numpy is loaded."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
