"""Small helpers shared by the estimators' solvers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


CHUNK = 4096  # rows per forward pass when predicting, validating, or evaluating for L-BFGS


def _as_training_X(X, dtype):
    """X in ``dtype``: CSR if sparse (row batches), else C-contiguous."""
    X = X.astype(dtype, copy=False)
    return X.tocsr() if sp.issparse(X) else np.ascontiguousarray(X)


def _dense(X, dtype) -> np.ndarray:
    if sp.issparse(X):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=dtype)
