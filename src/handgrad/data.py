"""Datasets. For now: the generated 3-feature, 3-class problem for seed 004's network."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def make_three_class(n_samples: int = 600, seed: int = 0, noise: float = 0.03
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A 3-feature, 3-class dataset that a linear model cannot separate well.

    Points are drawn uniformly in the cube [−1, 1]³; the class is decided by which of three
    regions of the (radius, angle) plane the first two features fall in, the third feature
    bends the boundary (so it matters), and Gaussian noise of scale ``noise`` is added to the
    features after labelling. Returns ``X`` (n, 3) float64 and ``y`` (n,) int64 in {0, 1, 2},
    classes roughly balanced.
    """
    if int(n_samples) < 3:
        raise InputError(f"n_samples must be ≥ 3, got {n_samples}")
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(int(n_samples), 3))
    radius = np.hypot(X[:, 0], X[:, 1])
    angle = np.arctan2(X[:, 1], X[:, 0]) + 1.5 * X[:, 2]
    y = np.where(radius < 0.55, 0, np.where(np.sin(2 * angle) > 0, 1, 2)).astype(np.int64)
    X = X + noise * rng.standard_normal(X.shape)
    return X, y
