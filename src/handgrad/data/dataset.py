"""The :class:`Dataset` record shared by every loader (a leaf: the loaders import it, it
imports none of them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


@dataclass
class Dataset:
    """Features, labels and names of one dataset.

    Attributes:
        X: (n, d) float64 features, C-contiguous.
        y: (n,) raw labels (int64 or str) or None when the data has no target.
        feature_names: the d column names, in the order of ``X``'s columns.
        name: a short name for display and for the training record.
        target_name: name of the label column, if any.
        class_names: readable names of the classes (e.g. iris species), display only.
        test_size: if set, the last ``test_size`` rows are the official test split (MNIST).
        notes: what the reader had to decide about the file (its encoding, separator, a
            dropped index column, ...), one line each, for the user.
        task: ``"classification"`` (y holds class labels) or ``"regression"`` (y holds
            float64 numbers).
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    name: str
    target_name: str | None = None
    class_names: list[str] | None = None
    test_size: int | None = None
    notes: list[str] = field(default_factory=list)
    task: str = "classification"

    def __post_init__(self):
        self.X = np.ascontiguousarray(self.X, dtype=np.float64)
        if self.X.ndim != 2:
            raise InputError(f"dataset {self.name!r}: X must be 2-D (n, d), got shape {self.X.shape}")
        n, d = self.X.shape
        if self.y is not None:
            self.y = np.asarray(self.y)
            if self.y.shape != (n,):
                raise InputError(f"dataset {self.name!r}: {n} rows of features but y has shape {self.y.shape}")
        self.feature_names = [str(f) for f in self.feature_names]
        if len(self.feature_names) != d:
            raise InputError(f"dataset {self.name!r}: {len(self.feature_names)} feature names for {d} columns")
        if self.test_size is not None and not 0 <= self.test_size <= n:
            raise InputError(f"dataset {self.name!r}: test_size {self.test_size} is not within 0..{n}")

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]
