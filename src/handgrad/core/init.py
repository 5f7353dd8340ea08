"""Weight initialisers, drawn from a seeded numpy ``Generator`` (reproducible).

* He (Kaiming) normal, for layers feeding the ReLU family:
  ``W ~ N(0, 2/n_in)`` — keeps the variance of activations constant through ReLU layers,
  which zero half their inputs (He et al., 2015, "Delving deep into rectifiers").
* Glorot (Xavier) uniform, for sigmoid / tanh / identity and the output layer:
  ``W ~ U(−r, r)``, ``r = sqrt(6 / (n_in + n_out))`` — balances forward and backward
  variance (Glorot & Bengio, 2010).

Biases start at zero. ``rows`` draws the first rows of such a matrix, or — called again with
the same generator — the next ones: the draws are consecutive, so a matrix drawn a block of
rows at a time is the matrix drawn at once (what ``MLP`` does: float64 draws of one block at a
time, not of the whole layer, beside a float32 network).
"""

from __future__ import annotations

import numpy as np


def he_normal(rng: np.random.Generator, n_in: int, n_out: int, rows: int | None = None) -> np.ndarray:
    """(n_in, n_out) float64 draws from N(0, 2/n_in) (or the next ``rows`` rows of them)."""
    return rng.standard_normal((n_in if rows is None else rows, n_out)) * np.sqrt(2.0 / n_in)


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int, rows: int | None = None) -> np.ndarray:
    """(n_in, n_out) float64 draws from U(−r, r), r = sqrt(6/(n_in+n_out)) (or the next
    ``rows`` rows of them)."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_in if rows is None else rows, n_out))


INITIALISERS = {"he": he_normal, "glorot": glorot_uniform}
