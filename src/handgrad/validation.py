"""Checks of what users give: feature matrices, targets, sample weights; shared by the network,
the trainer and models. A leaf: imports only numpy, :mod:`handgrad.errors`,
:mod:`handgrad.arrays` and :mod:`handgrad.memory_plan`.

What is reasonable is accepted as numbers (:mod:`handgrad.arrays`): an object array whose
entries are real numbers, and a scipy sparse matrix made dense when that fits in memory."""

from __future__ import annotations

import math

import numpy as np

from .arrays import _is_sparse, _numeric_if_numbers, dense, numbers_of_objects
from .errors import InputError, cell_of, row_of, shown
# the memory checks, by their old names: one model of what a run holds is handgrad.memory_plan's
from .memory_plan import (BUFFERS_PER_UNIT, FALLBACK_MEMORY, available_memory,  # noqa: F401
                          check_memory, memory_needed)


def check_matrix(X, what: str = "X", n_features: int | None = None, dtype=np.float64,
                 owner: str = "the model") -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D array of ``dtype``, or refuse it with a clear message.

    Refused: non-numeric data, anything not 2-D, no rows, a column count other than
    ``n_features`` (when given), NaN or ±inf (the first offending row and column are named).
    """
    arr = np.ascontiguousarray(check_shape(X, what, n_features, owner), dtype=dtype)
    check_finite(arr, what)
    return arr


def check_shape(X, what: str = "X", n_features: int | None = None,
                owner: str = "the model") -> np.ndarray:
    """``X`` as an array (not converted, not copied, unless it was a sparse matrix or an object
    array of numbers: see the module docstring) after the checks of :func:`check_matrix` that
    do not read the values: numeric, 2-D, some rows, ``n_features`` columns."""
    if _is_sparse(X):
        X = dense(X, what)
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise InputError(f"{what} could not be read as an array: {' '.join(str(exc).split())}") from None
    if arr.dtype == object:
        arr = numbers_of_objects(arr, what)
    if arr.dtype.kind in "USVMmc":
        raise InputError(f"{what} must be numeric (real numbers), got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (a single sample? use X.reshape(1, -1))" if arr.ndim == 1 else ""
        raise InputError(f"{what} must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise InputError(f"{what} has no rows; give at least one sample")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(f"{what} has {arr.shape[1]} features but {owner} takes {n_features}; "
                         f"check the columns of {what}")
    return arr


def check_finite(arr: np.ndarray, what: str = "X", row_offset: int = 0, column_names=None) -> None:
    """Refuse NaN/±inf in a 2-D float array, naming the first one and where it is
    (:func:`cell_of`; rows counted from ``row_offset``, for chunks of a larger array)."""
    bad = first_non_finite(arr)
    if bad is not None:
        raise InputError(f"{what} holds {shown(arr[bad])} in {cell_of(bad, row_offset, column_names)}; "
                         "remove or impute such values")


def first_non_finite(arr: np.ndarray, rows_per_chunk: int = 4096) -> tuple[int, int] | None:
    """(row, column) of the first NaN/±inf of a 2-D array, or None when all are finite.

    The common case costs one pass and no data-sized temporary: a sum is NaN or ±inf whenever
    any term is, so finite row sums clear the whole array. They are taken as the product
    ``arr @ 1`` (BLAS, multithreaded: 4.6 ms for 60k×784 float32 here, against 11 ms for
    ``arr.sum()`` and ~100 ms for ``np.isfinite(arr).all()``, whose data-sized boolean
    temporary costs page faults). Only when a row sum is not finite (a bad value, or an
    overflow of huge ones) are the rows searched, a chunk at a time.
    """
    if arr.size == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is what we test for
        if np.isfinite(arr @ np.ones(arr.shape[1], dtype=arr.dtype)).all():
            return None
        for start in range(0, arr.shape[0], rows_per_chunk):
            chunk = arr[start:start + rows_per_chunk]
            if not np.isfinite(chunk.sum()):
                hits = np.argwhere(~np.isfinite(chunk))
                if hits.size:
                    return int(start + hits[0][0]), int(hits[0][1])
    return None


def check_targets(y, m: int, n_classes: int, dtype=np.float64) -> np.ndarray:
    """Validate targets for ``m`` samples and ``n_classes`` classes; return them ready for the loss.

    Integer labels (or floats holding whole numbers) become an int64 array (m,); probability
    rows become a (m, K) array of ``dtype``. Anything else raises :class:`InputError`
    saying what is wrong.
    """
    y = _numeric_if_numbers(np.asarray(y))
    if y.dtype == object or y.dtype.kind in "USb":
        raise InputError(f"targets must be numeric class indices or probability rows, got dtype {y.dtype}; "
                         "map string labels to 0..K-1 first (handgrad train does this for you)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1:
        if y.shape[0] != m:
            raise InputError(f"got {y.shape[0]} labels for {m} samples; give one label per row of X")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)):
                raise InputError("labels contain NaN or inf; every label must be a class index 0..K-1")
            if not np.all(y == np.round(y)):
                raise InputError("labels must be whole numbers 0..K-1 (class indices); got fractional values. "
                                 "For soft labels pass a (n_samples, n_classes) array of probabilities")
        labels = y.astype(np.int64)
        if m and (labels.min() < 0 or labels.max() >= n_classes):
            bad = labels[(labels < 0) | (labels >= n_classes)]
            raise InputError(f"label {int(bad[0])} is out of range: this network has {n_classes} "
                             f"outputs, so labels must be in 0..{n_classes - 1}")
        return labels
    if y.ndim == 2:
        if y.shape != (m, n_classes):
            raise InputError(f"target probabilities have shape {y.shape}, expected ({m}, {n_classes}): "
                             "one row per sample, one column per class")
        Y = y.astype(dtype, copy=False)
        if not np.all(np.isfinite(Y)):
            raise InputError("target probabilities contain NaN or inf")
        if np.any(Y < 0):
            raise InputError("target probabilities must be ≥ 0; found a negative entry")
        sums = Y.sum(axis=1, dtype=np.float64)
        tol = 1e-6 if Y.dtype == np.float64 else 1e-4
        if np.any(np.abs(sums - 1) > tol):
            i = int(np.argmax(np.abs(sums - 1)))
            raise InputError(f"each row of target probabilities must sum to 1; {row_of(i)} sums to "
                             f"{shown(float(f'{sums[i]:.6g}'))}")
        # renormalise the rounding away: the fused gradient P − Y is exact only when Σ_k Y_ik = 1
        return (Y / sums[:, None]).astype(dtype, copy=False)
    raise InputError(f"targets must be 1-D labels or 2-D probability rows, got {y.ndim}-D shape {y.shape}")


def check_head_targets(output: str, y, m: int, n_out: int, dtype) -> np.ndarray:
    """Targets for a head: labels or probability rows (softmax), values in [0, 1] (logistic),
    real numbers (identity, huber), values ≥ 0 (exp, Poisson); a 1-D y is accepted for one
    output. Returns (m, K) arrays for every head but softmax."""
    if output == "softmax":
        return check_targets(y, m, n_out, dtype=dtype)
    Y = _numeric_if_numbers(np.asarray(y))
    if Y.dtype == object or Y.dtype.kind in "USVM":
        raise InputError(f"targets must be numeric, got dtype {Y.dtype}")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape != (m, n_out):
        raise InputError(f"targets have shape {np.shape(y)}, expected ({m}, {n_out})"
                         + (f" or ({m},)" if n_out == 1 else ""))
    Y = np.ascontiguousarray(Y, dtype=dtype)
    if not np.all(np.isfinite(Y)):
        raise InputError("targets contain NaN or inf")
    if output == "logistic" and (Y.min() < 0 or Y.max() > 1):
        raise InputError("targets of a logistic output must lie in [0, 1] (0/1 labels or probabilities)")
    if output == "exp" and Y.min() < 0:  # Poisson: y log y and the deviance need y ≥ 0
        raise InputError(f"targets of an exp (Poisson) output must be counts or rates ≥ 0, got {Y.min():g}")
    return Y


def check_sample_weight(sample_weight, m: int, dtype) -> np.ndarray | None:
    """``sample_weight`` as an (m,) array of ``dtype`` with finite entries ≥ 0 and a positive
    sum, or None. All-zero weights are refused: the loss would be 0 whatever the parameters,
    and training would silently learn nothing."""
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"sample_weight must be numbers, one per sample: {exc}") from None
    if w.shape != (m,):
        raise InputError(f"sample_weight must have shape ({m},), one weight per sample; got {w.shape}")
    check_weight_values(w, "sample_weight")
    return w


def check_weight_values(w: np.ndarray, what: str = "sample_weight") -> None:
    """Refuse weights that are NaN/inf or negative (naming the first), or that are all zero."""
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"{what} must be finite and ≥ 0; {what}[{i}] (the weight of {row_of(i)}) is "
                         f"{shown(w[i])}")
    if w.size and not np.any(w > 0):
        raise InputError(f"{what} is zero for every sample, so there is nothing to learn from; "
                         "give some samples a positive weight")


def _is_whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_smoothing(value, what: str = "label_smoothing") -> float:
    """Label smoothing ε as a float in [0, 1) (1 would make every target uniform), or refused."""
    v = check_positive(value, what, allow_zero=True)
    if v >= 1:
        raise InputError(f"{what} must be below 1 (the share of each target spread over all classes; "
                         f"0.1 is usual), got {value!r}")
    return v


def check_positive(value, what: str, allow_zero: bool = False) -> float:
    """``value`` as a float that is finite and > 0 (≥ 0 with ``allow_zero``), or refused."""
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{what} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{what} must be a finite number {'≥' if allow_zero else '>'} 0, got {value!r}")
    return v


def check_flag(value, what: str) -> bool:
    """``value`` as a bool: True/False (numpy's too) or the integers 1/0; anything else —
    text such as "no", which Python would read as true — is refused."""
    if isinstance(value, (bool, np.bool_)) or (_is_whole(value) and int(value) in (0, 1)):
        return bool(value)
    raise InputError(f"{what} must be True or False, got {value!r}")


def check_fraction(value, what: str) -> float:
    """``value`` as a float in [0, 1), or refused."""
    v = check_positive(value, what, allow_zero=True)
    if v >= 1:
        raise InputError(f"{what} must be in [0, 1), got {value!r}")
    return v


def check_count(value, what: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int ≥ ``minimum`` (and ≤ ``maximum``): an integer, or a float holding a
    whole number; booleans, NaN, inf, fractions and text are refused."""
    ok = _is_whole(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value)
                              and float(value).is_integer())
    bound = f"from {minimum} to {maximum}" if maximum is not None else f"≥ {minimum}"
    if not ok or int(value) < minimum or (maximum is not None and int(value) > maximum):
        raise InputError(f"{what} must be a whole number {bound}, got {value!r}")
    v = int(value)
    return v


SEED_MAX = 2**63 - 1


def check_seed(seed, what: str = "seed"):
    """A seed for ``numpy.random.default_rng``: None, an integer in 0..2⁶³−1, or numpy's own
    ``Generator``/``BitGenerator``/``SeedSequence`` (passed through). Anything else — negative,
    fractional, text, a bool — is refused here instead of deep inside numpy."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.BitGenerator,
                                         np.random.SeedSequence)):
        return seed
    return check_count(seed, what, minimum=0, maximum=SEED_MAX)


def check_sizes(sizes) -> list[int]:
    """Layer widths ``[n_0, …, n_L]``: whole numbers ≥ 1, at least two of them (integers, or
    floats holding whole numbers; not booleans, text, NaN or inf)."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise InputError(f"sizes must be a list of layer widths such as [784, 128, 10], got {sizes!r}")
    sizes = list(sizes)
    out = []
    for i, s in enumerate(sizes):
        ok = _is_whole(s) or (isinstance(s, (float, np.floating)) and math.isfinite(s)
                              and float(s).is_integer())
        if not ok:
            raise InputError(f"layer widths must be whole numbers ≥ 1, got {s!r} at position {i} "
                             f"of {sizes!r}")
        out.append(int(s))
    if len(out) < 2:
        raise InputError(f"sizes needs at least the input width and the number of classes, got {out}")
    if any(s < 1 for s in out):
        raise InputError(f"every layer width must be ≥ 1, got {out}")
    return out


def check_l2(l2) -> float:
    """The L2 strength λ: a finite number ≥ 0."""
    return check_positive(l2, "l2", allow_zero=True)
