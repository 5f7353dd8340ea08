"""Feature standardisation and label encoding, fitted on training data and stored in models."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


class Standardizer:
    """``X' = (X − μ) / σ`` per feature, with μ and σ fitted on the training data.

    A constant feature (σ = 0) gets σ = 1, so it maps to 0 instead of NaN. Shapes: μ, σ are
    (n_features,); transform keeps (n, n_features) and returns ``dtype``.
    """

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, X: np.ndarray) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        if self.mean is None:
            raise InputError("the standardizer has not been fitted")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean.shape[0]:
            raise InputError(f"expected {self.mean.shape[0]} features, got shape {X.shape}")
        return ((X - self.mean) / self.scale).astype(dtype, copy=False)

    def fit_transform(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        return self.fit(X).transform(X, dtype)


class LabelEncoder:
    """Maps class labels (ints or strings) to indices 0..K−1 in sorted order, and back."""

    def __init__(self, classes=None):
        self.classes = None if classes is None else np.asarray(classes)

    def fit(self, y) -> "LabelEncoder":
        y = np.asarray(y)
        if y.ndim != 1:
            raise InputError(f"labels must be 1-D, got shape {y.shape}")
        if y.size == 0:
            raise InputError("no labels given")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise InputError("labels contain NaN or inf; remove those rows")
        self.classes = np.unique(y)
        if self.classes.size < 2:
            raise InputError(f"need at least 2 classes to train a classifier, found only {self.classes.tolist()}")
        return self

    def transform(self, y) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1:
            raise InputError(f"labels must be 1-D, got shape {y.shape}")
        try:
            comparable = y.astype(self.classes.dtype) if self.classes.dtype.kind in "iu" and y.dtype.kind == "f" \
                and np.all(y == np.round(y)) else y
            idx = np.searchsorted(self.classes, comparable)
        except (TypeError, ValueError):
            raise InputError(f"labels of type {y.dtype} cannot be compared with the model's classes "
                             f"{self.classes.tolist()}") from None
        idx = np.clip(idx, 0, len(self.classes) - 1)
        unseen = self.classes[idx] != comparable
        if np.any(unseen):
            new = np.unique(y[unseen])[:5].tolist()
            raise InputError(f"label(s) {new} were never seen in training; the model knows "
                             f"{self.classes.tolist()}")
        return idx.astype(np.int64)

    def fit_transform(self, y) -> np.ndarray:
        return self.fit(y).transform(y)

    def inverse_transform(self, idx: np.ndarray) -> np.ndarray:
        return self.classes[np.asarray(idx)]
