"""Weight initialisers, drawn from a seeded numpy ``Generator`` (reproducible).

* He (Kaiming) normal, for layers feeding the ReLU family:
  ``W ~ N(0, 2/n_in)`` — keeps the variance of activations constant through ReLU layers,
  which zero half their inputs (He et al., 2015, "Delving deep into rectifiers").
* Glorot (Xavier) uniform, for sigmoid / tanh / identity and the output layer:
  ``W ~ U(−r, r)``, ``r = sqrt(6 / (n_in + n_out))`` — balances forward and backward
  variance (Glorot & Bengio, 2010).

Biases start at zero.
"""

from __future__ import annotations

import numpy as np


def he_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """(n_in, n_out) float64 draws from N(0, 2/n_in)."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """(n_in, n_out) float64 draws from U(−r, r), r = sqrt(6/(n_in+n_out))."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_in, n_out))


INITIALISERS = {"he": he_normal, "glorot": glorot_uniform}
