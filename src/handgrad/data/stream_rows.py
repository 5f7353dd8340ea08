"""The rows a streamed file holds out and the moments of the rows it trains on, each in memory
that grows with a sample or with the features, never with the file's rows
(:mod:`handgrad.data.stream` reads the file).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .preprocessing import Standardizer


class Moments:
    """Running count n, mean μ (d,) and M2 = Σ(x − μ)² (d,) over row blocks, merged block by
    block (Chan, Golub & LeVeque 1979): for a block b of n_b rows with mean μ_b and M2_b,
    δ = μ_b − μ, μ ← μ + δ·n_b/(n + n_b), M2 ← M2 + M2_b + δ²·n·n_b/(n + n_b). float64
    throughout; σ = √(M2/n), numpy's ``std`` (ddof 0), to rounding."""

    def __init__(self, d: int):
        self.n, self.mean, self.m2 = 0, np.zeros(d), np.zeros(d)

    def add(self, X: np.ndarray) -> None:
        nb = X.shape[0]
        if not nb:
            return
        mean_b = X.mean(axis=0)
        m2_b = ((X - mean_b) ** 2).sum(axis=0)
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2_b + delta ** 2 * (self.n * nb / n)
        self.n = n

    def standardizer(self, name: str) -> Standardizer:
        """The :class:`Standardizer` of the rows seen (σ = 0 becomes 1, as its ``fit`` does)."""
        if self.n == 0:
            raise InputError(f"{name} has no training rows left after the held-out parts; "
                             "lower --test-fraction or --val-fraction")
        std = np.sqrt(self.m2 / self.n)
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(std))):
            raise InputError(f"the features of {name} are too large to standardise in one pass "
                             "(mean or deviation overflows float64); train without --stream-buffer")
        return Standardizer(self.mean, np.where(std > 0, std, 1.0))


def split_rows(n: int, test_fraction: float, val_fraction: float, cap: int, seed: int):
    """(test rows, validation rows) of a file of n rows: disjoint sorted seeded samples
    (:func:`held_out_rows`), the test part a ``test_fraction`` of all rows and the validation
    part a ``val_fraction`` of the others, each at most ``cap`` rows."""
    test = held_out_rows(n, test_fraction, cap, (seed, 0))
    return test, held_out_rows(n, val_fraction, cap, (seed, 1), exclude=test)


def held_out_rows(n: int, fraction: float, cap: int, seed, exclude: np.ndarray | None = None) -> np.ndarray:
    """Sorted row numbers of a seeded random sample of ``round(fraction·n')`` rows, at most
    ``cap``, among the n' = n − |exclude| rows of 0..n−1 not in ``exclude`` (sorted). Memory
    grows with the sample, never with n (numpy's choice without replacement on a large range)."""
    exclude = np.empty(0, dtype=np.int64) if exclude is None else exclude
    pool = n - exclude.size
    k = min(round(fraction * pool), int(cap), pool)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    picked = np.sort(np.random.default_rng(list(seed)).choice(pool, size=k, replace=False)).astype(np.int64)
    # the j-th row not excluded is j plus the excluded rows at or before it
    return picked + np.searchsorted(exclude - np.arange(exclude.size), picked, side="right")
