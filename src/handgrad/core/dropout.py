"""Inverted dropout (derivations.md §20): during training each hidden unit's output is kept
with probability 1 − p and scaled by 1/(1 − p), so that its expectation is unchanged and the
network predicts with no mask at all.

    S_l = 1{U_l ≥ p} / (1 − p),  U_l ~ Uniform[0, 1)    (m, n_l)   eq. 20.1
    Ã_l = A_l ⊙ S_l                                     (m, n_l)   eq. 20.2
    ∂L/∂A_l = ∂L/∂Ã_l ⊙ S_l                             (m, n_l)   eq. 20.3

The mask is drawn once per step and reused by the backward pass: the loss is then an ordinary
function of the parameters, and its gradient is checked by finite differences with the mask
held fixed (tests/test_dropout.py).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray
STREAM = 0x64726F70  # "drop": the masks' random stream, apart from the shuffling's


def epoch_generator(seed: int, epoch: int) -> np.random.Generator:
    """The generator of one epoch's masks: a function of the run's seed and the epoch alone, so
    a run resumed at an epoch draws what it would have drawn, and a network trained in a stack
    draws what it draws alone."""
    return np.random.default_rng([int(seed), int(epoch), STREAM])


def keep_scale(rng: np.random.Generator, shape, p: float, dtype, out: Array | None = None) -> Array:
    """``S = 1{U ≥ p}/(1 − p)`` (eq. 20.1) of ``shape`` in ``dtype``, into ``out`` if given
    (C-contiguous, of that shape and dtype)."""
    U = rng.random(shape, dtype=np.dtype(dtype).type) if out is None else rng.random(dtype=out.dtype.type, out=out)
    np.greater_equal(U, p, out=U)
    U *= 1 / (1 - p)
    return U


def dropout_forward(A: Array, S: Array) -> Array:
    """``Ã = A ⊙ S`` (eq. 20.2)."""
    return A * S


def dropout_backward(dA_dropped: Array, S: Array) -> Array:
    """``∂L/∂A = ∂L/∂Ã ⊙ S`` (eq. 20.3): the units dropped in the forward pass pass no gradient,
    the kept ones pass it scaled as their output was."""
    return dA_dropped * S
