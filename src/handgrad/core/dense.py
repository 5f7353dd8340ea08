"""The dense (affine) layer: forward and backward side by side.

Row convention (DESIGN.md §1): a batch is a matrix with one sample per row.

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


def dense_forward(X: Array, W: Array, b: Array, out: Array | None = None) -> Array:
    """``Z = X W + b``; X (m, n_in), W (n_in, n_out), b (n_out,) -> Z (m, n_out)."""
    Z = np.matmul(X, W, out=out)
    Z += b
    return Z


def dense_backward(dZ: Array, X: Array, W: Array, dW: Array | None = None,
                   db: Array | None = None, need_dX: bool = True, dX: Array | None = None,
                   ones: Array | None = None, need_dW: bool = True
                   ) -> tuple[Array | None, Array, Array | None]:
    """Gradients of the dense layer from ``dZ = ∂L/∂Z`` (m, n_out).

    Returns ``(dW, db, dX)`` = ``(Xᵀ dZ, 1ᵀ dZ, dZ Wᵀ)``, each written into the given array
    when one is provided (the network's flat gradient buffer, the training workspace).
    ``1ᵀ dZ`` is computed as the product it is (a matrix-vector product with a vector of m
    ones, optionally given as ``ones``). ``dX`` is None when ``need_dX`` is False (the first
    layer: nothing upstream needs it); ``dW`` is None when ``need_dW`` is False (the caller
    forms it another way, e.g. together with the L2 term).
    """
    if ones is None:
        ones = np.ones(dZ.shape[0], dtype=dZ.dtype)
    dW = np.matmul(X.T, dZ, out=dW) if need_dW else None
    db = np.matmul(ones, dZ, out=db)
    dX = np.matmul(dZ, W.T, out=dX) if need_dX else None
    return dW, db, dX
