"""Temperature scaling (derivations.md §18): one parameter that softens or sharpens a
classifier's probabilities without changing which class is largest.

With ``S`` (m, K) the model's log-probabilities on held-out rows (for one network the logits up
to a per-row constant, which the softmax ignores) and β = 1/T > 0:

    Q = softmax(β S)                                      (m, K)          eq. 18.1
    L(β) = −(1/m) Σ_i w_i log Q_{i,y_i}                                    eq. 18.2
    ∂L/∂β = Σ_ik (∂L/∂U)_ik S_ik = (1/m) Σ_i w_i (Q_i − Y_i)·S_i   (U = βS; eq. 3.6)   eq. 18.3
    ∂²L/∂β² = (1/m) Σ_i w_i Var_{Q_i}(S_i) ≥ 0                             eq. 18.4

so L is convex in β and its minimum is the one root of eq. 18.3 (or an end of the range).
``∂L/∂T = −∂L/∂β / T²``. This is the reference: plain numpy, every array new.
"""

from __future__ import annotations

import numpy as np

from .losses import softmax_cross_entropy

Array = np.ndarray


def temperature_loss(S: Array, y: Array, beta: float, sample_weight: Array | None = None
                     ) -> tuple[float, float]:
    """``(L(β), ∂L/∂β)`` (eq. 18.2, 18.3) of finite log-probabilities ``S`` (m, K) and labels
    ``y`` (m,) in [0, K), float64 (a probability that underflowed to 0 enters as the log of the
    smallest normal number, not −inf)."""
    loss, dU = softmax_cross_entropy(beta * S, y, sample_weight)     # eq. 18.1–18.2; eq. 3.6: ∂L/∂U
    return loss, float(np.sum(dU * S))                              # eq. 18.3: ∂U/∂β = S
