"""The dense (affine) layer: forward and backward side by side.

Row convention: a batch is a matrix with one sample per row.

    forward   Z = X W + b                  X (m, n_in), W (n_in, n_out), b (n_out,), Z (m, n_out)
    backward  ∂L/∂W = Xᵀ dZ                (n_in, n_out)    derivations.md eq. 2.2
              ∂L/∂b = 1ᵀ dZ  (column sums) (n_out,)         derivations.md eq. 2.3
              ∂L/∂X = dZ Wᵀ                (m, n_in)        derivations.md eq. 2.4

where ``dZ = ∂L/∂Z``. Each entry ``Z_ij = Σ_k X_ik W_kj + b_j``, so ``∂Z_ij/∂W_kj = X_ik``,
``∂Z_ij/∂b_j = 1`` and ``∂Z_ij/∂X_ik = W_kj``; summing over what each parameter touches gives
the three products above.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def dense_forward(X: Array, W: Array, b: Array) -> Array:
    """``Z = X W + b`` (eq. 1.2); X (m, n_in), W (n_in, n_out), b (n_out,) -> Z (m, n_out)."""
    return X @ W + b


def dense_backward(dZ: Array, X: Array, W: Array) -> tuple[Array, Array, Array]:
    """``(∂L/∂W, ∂L/∂b, ∂L/∂X) = (Xᵀ dZ, 1ᵀ dZ, dZ Wᵀ)`` (eq. 2.2, 2.3, 2.4) from
    ``dZ = ∂L/∂Z`` (m, n_out); shapes (n_in, n_out), (n_out,), (m, n_in)."""
    return X.T @ dZ, dZ.sum(axis=0), dZ @ W.T
