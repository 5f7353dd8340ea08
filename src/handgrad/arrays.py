"""What is reasonable, accepted as numbers at every door (through :mod:`handgrad.validation`):

* an object array whose entries are real numbers — Python's, numpy's, ``Decimal`` — as float64
  (None is a missing value, NaN, which the finiteness check then names); any other entry is
  refused naming its row and column;
* a scipy sparse matrix, made dense (float64) when its dense copy fits in memory
  (:mod:`handgrad.memory_plan`); else refused naming its dense size and the estimators of
  :mod:`handgrad.sklearn`, which densify a batch of rows at a time.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError


def _is_sparse(X) -> bool:
    """A scipy sparse matrix or array (without importing scipy)."""
    return hasattr(X, "toarray") and hasattr(X, "nnz") and hasattr(X, "shape")


def dense(X, what: str = "X") -> np.ndarray:
    """A scipy sparse ``X`` as a dense float64 array, after checking that it fits in memory."""
    from .memory_plan import MemoryPlan

    shape = tuple(int(n) for n in X.shape)
    if len(shape) == 2:
        MemoryPlan(f"{what}, a scipy sparse matrix of {shape[0]:,} × {shape[1]:,}, made dense").add(
            "its dense copy", 8 * shape[0] * shape[1],
            "fewer columns, or handgrad.sklearn's MLPClassifier or MLPRegressor, which densify a "
            "batch of rows at a time").check()
    return np.asarray(X.toarray(), dtype=np.float64)


def numbers_of_objects(arr: np.ndarray, what: str = "X") -> np.ndarray:
    """An object array whose entries are real numbers (Python's, numpy's, Decimal; None for a
    missing value, NaN) as float64; else refused naming the first other entry."""
    from decimal import Decimal
    from numbers import Real

    flat = arr.reshape(-1)
    for i, v in enumerate(flat):
        if not (v is None or isinstance(v, (Real, Decimal, np.bool_))):
            at = np.unravel_index(i, arr.shape) if arr.ndim else ()
            # counted from 1, as every message counts rows and columns (errors.row_of)
            where = ", ".join(f"{name} {int(k) + 1}" for name, k in zip(("row", "column"), at)) or "its value"
            raise InputError(f"{what} must hold numbers; {where} holds {_short(v)} ({type(v).__name__}); "
                             "convert or remove such values")
    try:
        return np.array([np.nan if v is None else float(v) for v in flat], dtype=np.float64).reshape(arr.shape)
    except (OverflowError, ValueError) as exc:  # a Decimal or int beyond float64
        raise InputError(f"{what} holds a number float64 cannot represent ({exc}); rescale it") from None


def _numeric_if_numbers(arr: np.ndarray) -> np.ndarray:
    """An object array of real numbers as float64; any other array as it is."""
    if arr.dtype != object:
        return arr
    try:
        return numbers_of_objects(arr)
    except InputError:
        return arr


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
