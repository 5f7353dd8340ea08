"""``core.temperature.temperature_loss`` in preallocated buffers, through the training step's
fused softmax cross-entropy kernel (:func:`handgrad.fast.kernels.softmax_cross_entropy`): what
fitting the temperature calls fifty times on the same held-out predictions. Tested equal to
the reference (tests/test_calibration.py)."""

from __future__ import annotations

import numpy as np

from .kernels import softmax_cross_entropy

Array = np.ndarray


class TemperatureLoss:
    """``(L(β), ∂L/∂β)`` of fixed finite log-probabilities ``S`` (m, K) float64 and labels ``y``
    (m,) (derivations.md eq. 18.2–18.3), for any β, with two (m, K) buffers made once."""

    def __init__(self, S: Array, y: Array, sample_weight: Array | None = None):
        self.S, self.y, self.w = S, y, sample_weight
        self.U, self.dU = np.empty_like(S), np.empty_like(S)

    def __call__(self, beta: float) -> tuple[float, float]:
        np.multiply(self.S, beta, out=self.U)                                  # U = βS
        loss, dU = softmax_cross_entropy(self.U, self.y, self.w, out=self.dU, work=self.U)
        return loss, float(np.vdot(dU, self.S))                                # eq. 18.3
