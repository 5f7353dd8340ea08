"""Small helpers shared by the estimators' solvers."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..network import MLP
from ..train import _dead_fractions

CHUNK = 4096  # rows per forward pass when predicting, validating, or evaluating for L-BFGS


def _as_training_X(X, dtype):
    """X in ``dtype``: CSR if sparse (row batches), else C-contiguous."""
    X = X.astype(dtype, copy=False)
    return X.tocsr() if sp.issparse(X) else np.ascontiguousarray(X)


def _dense(X, dtype) -> np.ndarray:
    if sp.issparse(X):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=dtype)


def _weight_ranges(net: MLP) -> list[tuple[int, int]]:
    """(start, stop) of each W_l in the flat buffer (the biases lie between them)."""
    out, off = [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        out.append((off, off + n_in * n_out))
        off += n_in * n_out + n_out
    return out


def _diagnostics(net: MLP, last_step, probe) -> dict:
    """handgrad.train's per-epoch backprop diagnostics: per layer ‖∂L/∂W_l‖ and ‖ΔW_l‖/‖W_l‖ of
    the epoch's last step, and the fraction of dead ReLU-family units on a probe of rows."""
    before, grad_norms = last_step
    ratios = []
    for W, (lo, hi) in zip(net.weights, _weight_ranges(net)):
        old = before[lo:hi]
        denom = float(np.linalg.norm(old))
        ratios.append(float(np.linalg.norm(W.reshape(-1) - old)) / denom if denom else math.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        dead = _dead_fractions(net, probe)
    return {"grad_norm": grad_norms, "update_ratio": ratios, "dead_fraction": dead}


def _notify(callbacks, method: str, *args) -> bool:
    """Call ``method`` on every callback (a plain callable counts as ``on_epoch_end``), as
    :func:`handgrad.fit` does; True when one asks to stop."""
    stop = False
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is None and method == "on_epoch_end" and callable(cb):
            fn = cb
        if fn is not None:
            stop |= bool(fn(*args))
            stop |= bool(getattr(cb, "stop", False))
    return stop
