"""The built-in datasets: scikit-learn's bundled sets (diabetes: regression; the others:
classes) and a generated 3-class problem."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .dataset import Dataset

BUILTIN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "three_class", "diabetes")


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


# ---------------------------------------------------------------- built-in datasets

# scikit-learn loader name and the name of the label, per built-in dataset
_SKLEARN_SETS = {"digits": ("load_digits", "digit"), "iris": ("load_iris", "species"),
                 "wine": ("load_wine", "cultivar"), "breast_cancer": ("load_breast_cancer", "diagnosis"),
                 "diabetes": ("load_diabetes", "progression")}
# the built-in regression set: 442 patients, 10 measurements, disease progression a year on
_REGRESSION_SETS = ("diabetes",)


def load_builtin(name: str) -> Dataset:
    """One of :data:`BUILTIN_DATASETS`: scikit-learn's bundled sets, or ``three_class``."""
    if name == "three_class":
        X, y = make_three_class(600, seed=0)
        return Dataset(X, y, ["x0", "x1", "x2"], "three_class", "class", ["0", "1", "2"])
    if name not in _SKLEARN_SETS:
        raise InputError(f"unknown built-in dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}")
    try:
        from sklearn import datasets
    except ImportError:
        raise InputError(f"the {name!r} dataset comes with scikit-learn, which is not installed; "
                         "pip install '.[cli]' in handgrad's folder") from None
    loader, target_name = _SKLEARN_SETS[name]
    bunch = getattr(datasets, loader)()
    X = np.asarray(bunch.data, dtype=np.float64)
    # older scikit-learn gives digits no feature names; use the same pixel_{i} style then
    names = getattr(bunch, "feature_names", None)
    names = [str(f) for f in names] if names is not None else [f"pixel_{i}" for i in range(X.shape[1])]
    if name in _REGRESSION_SETS:
        return Dataset(X, np.asarray(bunch.target, dtype=np.float64), names, name, target_name,
                       task="regression")
    return Dataset(X, np.asarray(bunch.target, dtype=np.int64), names, name, target_name,
                   [str(c) for c in bunch.target_names])
