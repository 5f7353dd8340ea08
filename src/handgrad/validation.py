"""Checks of feature matrices shared by the network, the trainer and models."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def check_matrix(X, what: str = "X", n_features: int | None = None, dtype=np.float64,
                 owner: str = "the model") -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D array of ``dtype``, or refuse it with a clear message.

    Refused: non-numeric data, anything not 2-D, no rows, a column count other than
    ``n_features`` (when given), NaN or ±inf (the first offending row and column are named).
    """
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise InputError(f"{what} could not be read as an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USVM":
        raise InputError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (a single sample? use X.reshape(1, -1))" if arr.ndim == 1 else ""
        raise InputError(f"{what} must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise InputError(f"{what} has no rows; give at least one sample")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(f"{what} has {arr.shape[1]} features but {owner} takes {n_features}; "
                         f"check the columns of {what}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.all(np.isfinite(arr)):
        row, col = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(f"{what} contains NaN or inf (first at row {row}, column {col}); "
                         "remove or impute those values")
    return arr
