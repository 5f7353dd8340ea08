"""Feature standardisation and label encoding, fitted on training data and stored in models."""

from __future__ import annotations

import numpy as np

from ..errors import InputError, listed


def robust_mean_std(X: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation along ``axis`` that stay finite for any finite ``X``.

    The plain formulas square the values (and sum them), which overflows from about 1e154 on:
    a column of finite numbers near 1e160 would get σ = inf and be silently zeroed. Where that
    happens, the column is first divided by its largest magnitude m (so |x/m| ≤ 1), and
    μ = m·mean(x/m), σ = m·std(x/m) (both ≤ m, hence finite). Elsewhere the plain formulas are
    kept, so that ordinary data gives the same numbers to the last bit as before.
    """
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = X.mean(axis=axis), X.std(axis=axis)
        bad = ~(np.isfinite(mean) & np.isfinite(std))
        if np.any(bad):
            m = np.max(np.abs(X), axis=axis)
            m = np.where(m > 0, m, 1.0)
            scaled = X / np.expand_dims(m, axis)
            mean = np.where(bad, m * scaled.mean(axis=axis), mean)
            std = np.where(bad, m * scaled.std(axis=axis), std)
    return mean, std


def standardize(X: np.ndarray, mean, scale) -> np.ndarray:
    """``(X − mean) / scale``; where X − mean overflows for finite X (values and mean near
    ±1.8e308 of opposite signs), ``X/scale − mean/scale`` instead, which is then finite
    whenever the result is representable."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (X - mean) / scale
        overflow = ~np.isfinite(out) & np.isfinite(X)
        if np.any(overflow):
            other = X / scale - mean / scale
            out = np.where(overflow, other, out)
    return out


class Standardizer:
    """``X' = (X − μ) / σ`` per feature, with μ and σ fitted on the training data.

    A constant feature (σ = 0) gets σ = 1, so it maps to 0 instead of NaN. μ and σ are finite
    for any finite X (:func:`robust_mean_std`). Shapes: μ, σ are (n_features,); transform keeps
    (n, n_features) and returns ``dtype``.
    """

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, X: np.ndarray) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        self.mean, std = robust_mean_std(X)
        self.scale = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        if self.mean is None:
            raise InputError("the standardizer has not been fitted")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean.shape[0]:
            raise InputError(f"expected {self.mean.shape[0]} features, got shape {X.shape}")
        return standardize(X, self.mean, self.scale).astype(dtype, copy=False)

    def fit_transform(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        return self.fit(X).transform(X, dtype)


class LabelEncoder:
    """Maps class labels (ints or strings) to indices 0..K−1, and back.

    :meth:`fit` sorts the classes; ``classes`` given directly (a model file's) may be in any
    order: output k is ``classes[k]``. Labels are compared by what they say, whatever type
    they were read as: against text classes, the integer 1 is the label ``"1"``; against
    integer classes, the text ``"1"`` is 1. Surrounding spaces are not part of a text label
    (``"cat "`` is ``"cat"``). Missing labels (None, NaN), labels mixing numbers and text
    within one array, and labels numpy cannot hold are refused with :class:`InputError`.
    """

    def __init__(self, classes=None):
        self.classes = None if classes is None else np.asarray(classes)

    def fit(self, y) -> "LabelEncoder":
        y = as_labels(y)
        if y.size == 0:
            raise InputError("no labels given")
        self.classes = np.unique(y)
        if self.classes.size < 2:
            raise InputError(f"need at least 2 classes to train a classifier, found only {listed(self.classes.tolist())}")
        return self

    def transform(self, y) -> np.ndarray:
        y = as_labels(y)
        if self.classes is None:
            raise InputError("the label encoder has not been fitted")
        kind = self.classes.dtype.kind
        if kind in "US":
            key, classes = _as_text(y), np.char.strip(self.classes.astype(str))
        elif y.dtype.kind in "US":
            key, classes = _text_as_numbers(y, self.classes), self.classes
        else:
            key, classes = y, self.classes
        order = np.argsort(classes, kind="stable")
        ordered = classes[order]
        try:
            pos = np.clip(np.searchsorted(ordered, key), 0, len(ordered) - 1)
            unseen = ordered[pos] != key
        except (TypeError, ValueError):
            raise InputError(f"labels of type {y.dtype} cannot be compared with the model's classes "
                             f"{listed(self.classes.tolist())}") from None
        if np.any(unseen):
            new = np.unique(y[unseen]).tolist()
            raise InputError(f"label(s) {listed(new)} were never seen in training; the model knows "
                             f"{listed(self.classes.tolist())}")
        return order[pos].astype(np.int64)

    def fit_transform(self, y) -> np.ndarray:
        return self.fit(y).transform(y)

    def inverse_transform(self, idx: np.ndarray) -> np.ndarray:
        return self.classes[np.asarray(idx)]


def as_labels(y) -> np.ndarray:
    """``y`` as a 1-D array of int64, float64 or str labels (text stripped of surrounding
    spaces); anything else is refused with InputError, naming the position."""
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise InputError(f"labels must be a 1-D sequence of integers or texts ({exc})") from None
    if arr.ndim != 1:
        raise InputError(f"labels must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "O":
        arr = _object_labels(arr)
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise InputError("labels hold integers beyond int64; use smaller integers or text labels")
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            i = int(np.argmax(~np.isfinite(arr)))
            raise InputError(f"labels contain NaN or inf (first at position {i}); remove those rows "
                             "or give them a label")
        return arr.astype(np.float64)
    if arr.dtype.kind == "U":
        stripped = np.char.strip(arr)
        empty = stripped == ""
        if np.any(empty):
            raise InputError(f"labels contain an empty text (first at position {int(np.argmax(empty))}); "
                             "every row needs a class label")
        return stripped
    raise InputError(f"labels must be integers or texts, got an array of {arr.dtype}")


def _object_labels(arr: np.ndarray) -> np.ndarray:
    """An object array of labels as a typed array, refusing None/NaN and mixed kinds."""
    kinds = set()
    for i, v in enumerate(arr.tolist()):
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            raise InputError(f"labels contain a missing value ({v!r} at position {i}); remove those "
                             "rows or give them a label")
        if isinstance(v, str):
            kinds.add("text")
        elif isinstance(v, (bool, int, float, np.number, np.bool_)):
            kinds.add("number")
        else:
            raise InputError(f"label at position {i} is a {type(v).__name__} ({str(v)[:40]!r}); a class "
                             "label must be one integer or one text")
    if kinds == {"text", "number"}:
        raise InputError("labels mix numbers and texts (e.g. 1 and '1' would be two classes); give them "
                         "all as texts (y.astype(str)) or all as numbers")
    if kinds == {"text"}:
        return np.asarray(arr.tolist(), dtype=str)
    values = arr.tolist()
    if all(isinstance(v, (bool, int, np.integer, np.bool_)) for v in values):
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            raise InputError("labels hold integers beyond int64; use smaller integers or text labels") from None
    return np.asarray(values, dtype=np.float64)


def _as_text(y: np.ndarray) -> np.ndarray:
    """Labels as the text they say: integers and whole floats as decimal integers."""
    if y.dtype.kind in "US":
        return y
    if y.dtype.kind == "f" and np.all(y == np.round(y)) and np.all(np.abs(y) < 2.0 ** 53):
        y = y.astype(np.int64)
    return y.astype(str)


def _text_as_numbers(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Text labels as the numbers of numeric classes; a text that is no number is unseen
    (it can match no class), so it becomes a value no class has."""
    out = np.empty(y.shape, dtype=classes.dtype)
    missing = np.zeros(y.shape, dtype=bool)
    for i, t in enumerate(y.tolist()):
        try:
            v = int(t) if classes.dtype.kind in "iu" else float(t)
        except (ValueError, OverflowError):
            try:
                f = float(t)
                v = int(f) if classes.dtype.kind in "iu" and f == round(f) and abs(f) < 2.0 ** 53 else None
            except (ValueError, OverflowError):
                v = None
        if v is None or (classes.dtype.kind in "iu" and not np.iinfo(np.int64).min <= v <= np.iinfo(np.int64).max):
            missing[i] = True
        else:
            out[i] = v
    if missing.any():
        i = int(np.argmax(missing))
        raise InputError(f"label(s) {listed(np.unique(y[missing]).tolist())} were never seen in training; "
                         f"the model knows {listed(classes.tolist())} (first at position {i})")
    return out
