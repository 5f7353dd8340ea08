"""BLAS threads for training: one thread when every product of a step is small.

On this kind of 2-core machine OpenBLAS threads that spin-wait for a core made small products
30x slower beside another CPU-bound process; a second thread only pays off for large products.
"""

from __future__ import annotations

import contextlib
import os

# Below this many multiply-adds per product, a second BLAS thread costs more than it saves; and
# on a busy machine OpenBLAS threads that spin-wait for a core can make small products 30x
# slower (seen here: digits training 3 s alone, 75-100 s beside another CPU-bound process).
SMALL_GEMM = 1 << 22


def limit_blas_threads(net, batch_size: int, threads="auto", share: int = 1):
    """A context limiting BLAS threads for training ``net`` at ``batch_size``.

    ``"auto"``: one thread when ``batch_size · n_in · n_out < SMALL_GEMM`` for every layer,
    else the BLAS default — or, when ``share`` processes train on this machine together
    (data-parallel ranks), the cores divided among them; an int sets the count; None leaves
    BLAS alone.
    """
    if threads is None:
        return contextlib.nullcontext()
    if threads == "auto":
        largest = max(batch_size * a * b for a, b in zip(net.sizes[:-1], net.sizes[1:]))
        if largest >= SMALL_GEMM and share <= 1:
            return contextlib.nullcontext()
        threads = 1 if largest < SMALL_GEMM else max(1, (os.cpu_count() or 1) // share)
    return _blas_controller().limit(limits=int(threads), user_api="blas")


_CONTROLLER: list = [None, -1]  # the controller, and len(sys.modules) when it was built


def _blas_controller():
    """A threadpoolctl controller that knows every BLAS loaded so far. Building one scans every
    loaded library (~1 ms with torch and scipy loaded), so it is kept until more modules are
    imported: a module can bring its own BLAS (scipy, torch), which an older controller would
    leave unlimited."""
    import sys

    from threadpoolctl import ThreadpoolController

    if _CONTROLLER[1] != len(sys.modules):
        _CONTROLLER[:] = [ThreadpoolController(), len(sys.modules)]
    return _CONTROLLER[0]
