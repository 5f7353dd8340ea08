"""Held-out parts (stratified for classes) and class weights."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validation import check_positive

Array = np.ndarray


def stratified_split(y: Array, fraction: float, seed: int | None = 0, part: str = "a validation/test part",
                     fix: str = "give more rows") -> tuple[Array, Array]:
    """Indices (keep, held_out) with about ``fraction`` of every class held out.

    Each class with at least 2 samples gives ``round(fraction·count)`` of them (at least 1,
    at most count − 1) to the held-out part; both parts are returned sorted. Soft labels are
    stratified by their argmax. ``part`` and ``fix`` name the part and what to do in the
    refusal when no class has 2 samples.
    """
    if not 0 < fraction < 1:
        raise InputError(f"the held-out fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(y)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if members.size < 2:
            continue
        k = min(max(int(round(fraction * members.size)), 1), members.size - 1)
        held.append(rng.choice(members, size=k, replace=False))
    held_out = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    if held_out.size == 0:
        raise InputError(f"cannot hold out {part} from {labels.shape[0]} rows: every class has fewer "
                         f"than 2 rows there; {fix}")
    keep = np.setdiff1d(np.arange(labels.shape[0]), held_out)
    return keep, held_out


def stratified_folds(y: Array, k: int, seed: int | None = 0) -> list[tuple[Array, Array]]:
    """``k`` pairs (keep, held_out) of indices: every row is held out exactly once.

    Each class's rows are shuffled and dealt round-robin to the folds, starting at a random
    fold, so every fold gets ⌊count/k⌋ or ⌈count/k⌉ rows of each class (a class with fewer
    than ``k`` rows is missing from some folds' held-out parts, never from all their
    training parts unless it has a single row).
    """
    labels = np.asarray(y)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if not 2 <= k <= labels.shape[0]:
        raise InputError(f"cross-validation needs 2 to {labels.shape[0]} folds, got {k}")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(labels.shape[0], dtype=np.int64)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = (np.arange(members.size) + rng.integers(k)) % k
    rows = np.arange(labels.shape[0])
    return [(rows[fold_of != f], rows[fold_of == f]) for f in range(k)]


def rank_strata(y: Array, size: int) -> Array:
    """Strata of a numeric target for the stratified splits: the rows ordered by y (the first
    column of (n, k) targets) cut into consecutive groups of ``size`` (n,) — so that a part
    holding one row of every group spans the target's range as the whole does (on a few
    hundred rows a purely random fold can miss the tail of a skewed price)."""
    values = np.asarray(y, dtype=np.float64)
    values = values[:, 0] if values.ndim == 2 else values
    ranks = np.empty(values.shape[0], dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(values.shape[0])
    return ranks // max(int(size), 1)


def holdout_split(y: Array, fraction: float, seed: int | None = 0, stratify: bool = True
                  ) -> tuple[Array, Array]:
    """(keep, held_out) indices: :func:`stratified_split` for class targets, a seeded random
    ``fraction`` (at least one row, at most all but one) for regression targets."""
    if stratify:
        return stratified_split(y, fraction, seed)
    if not 0 < fraction < 1:
        raise InputError(f"the held-out fraction must be in (0, 1), got {fraction}")
    n = np.shape(y)[0]
    if n < 2:
        raise InputError("cannot hold out a validation part from fewer than 2 samples")
    k = min(max(int(round(fraction * n)), 1), n - 1)
    held = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    return np.setdiff1d(np.arange(n), held), held


def class_weights_for(y: Array, n_classes: int, class_weight) -> Array:
    """Per-class weights c_k (K,): from a dict {class index: weight} or ``"balanced"``,
    c_k = n / (K · n_k) (scikit-learn's definition)."""
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise InputError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        return np.where(counts > 0, y.shape[0] / (n_classes * np.maximum(counts, 1)), 0.0)
    if not hasattr(class_weight, "items"):
        raise InputError(f"class_weight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}")
    weights = np.ones(n_classes)
    for k, v in dict(class_weight).items():
        if not (isinstance(k, (int, np.integer)) and 0 <= k < n_classes):
            raise InputError(f"class_weight key {k!r} is not a class index 0..{n_classes - 1}")
        weights[k] = check_positive(v, f"class_weight[{k}]", allow_zero=True)
    return weights
