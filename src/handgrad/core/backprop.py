"""Backpropagation through the whole network: eq. 1.1–1.6 forward, eq. 2.1–2.5 backward.

The network (row convention, derivations.md §1–2), L dense layers, hidden activations f_l:

    A_0 = X                                    (m, n_0)
    Z_l = A_{l-1} W_l + b_l                    (m, n_l)         l = 1..L        eq. 1.2
    A_l = f_l(Z_l)                             (m, n_l)         l = 1..L-1      eq. 1.3
    L   = (1/m) Σ_i ℓ(Y_i, Z_L,i) + λ Σ_l ‖W_l‖²_F                              eq. 1.6, 5.1

and backward, from δ_L = ∂L/∂Z_L = (P − Y)/m, which the head's fused loss returns (eq. 2.1):

    ∂L/∂W_l = A_{l-1}ᵀ δ_l + 2λ W_l          (n_{l-1}, n_l)                    eq. 2.2, 5.2
    ∂L/∂b_l = 1ᵀ δ_l                         (n_l,)                            eq. 2.3
    ∂L/∂A_{l-1} = δ_l W_lᵀ                   (m, n_{l-1})                      eq. 2.4
    δ_{l-1} = ∂L/∂A_{l-1} ⊙ f'_{l-1}(Z_{l-1})                                  eq. 2.5

This is the reference: plain numpy, every array new. ``MLP.loss_and_grads`` and the gradient
checker run it; the training step (:mod:`handgrad.fast.step`) computes the same in
preallocated buffers and is tested equal to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .activations import Activation
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward
from .heads import LOSSES
from .losses import l2_penalty, l2_penalty_grad

Array = np.ndarray


@dataclass(frozen=True)
class StepResult:
    """What one forward and backward pass computed besides the gradients: the batch-averaged
    data loss, the L2 penalty λΣ‖W_l‖² (0 when only the data part was differentiated) and the
    rows predicted right (None for regression)."""

    data_loss: float
    l2_loss: float
    correct: int | None = None

    @property
    def loss(self) -> float:
        """The total ``data_loss + l2_loss``."""
        return self.data_loss + self.l2_loss


def forward(weights: Sequence[Array], biases: Sequence[Array], activations: Sequence[Activation],
            X: Array, masks: Sequence[Array | None] | None = None) -> tuple[Array, list[tuple[Array, Array]]]:
    """Logits ``Z_L`` (m, n_L) of X (m, n_0), and per layer the ``(A_{l-1}, Z_l)`` the backward
    pass reads (eq. 1.1–1.3). ``masks``: per hidden layer a dropout scale S_l (m, n_l) or None
    (eq. 20.2: the next layer reads A_l ⊙ S_l)."""
    cache, A = [], X                                     # eq. 1.1
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = dense_forward(A, W, b)                       # eq. 1.2
        cache.append((A, Z))
        if l < len(activations):
            A = activations[l].forward(Z)                # eq. 1.3
            if masks is not None and masks[l] is not None:
                A = dropout_forward(A, masks[l])         # eq. 20.2
    return Z, cache


def backward(delta: Array, weights: Sequence[Array], activations: Sequence[Activation],
             cache: list[tuple[Array, Array]], lam: float, with_input: bool = False,
             masks: Sequence[Array | None] | None = None):
    """``(∂L/∂W_l, ∂L/∂b_l)`` for every layer from ``δ_L`` (m, n_L) (eq. 2.2–2.5, 5.2); with
    ``with_input``, also ``∂L/∂A_0 = δ_1 W_1ᵀ`` (m, n_0): eq. 2.4 at the first layer.
    ``masks``: the forward pass's dropout scales (eq. 20.3 before eq. 2.5)."""
    dW, db = [None] * len(weights), [None] * len(weights)
    for l in reversed(range(len(weights))):
        A_prev, _ = cache[l]
        dW[l], db[l], dA_prev = dense_backward(delta, A_prev, weights[l])   # eq. 2.2–2.4
        dW[l] = dW[l] + l2_penalty_grad(weights[l], lam)                     # eq. 5.2
        if l > 0:
            Z_prev = cache[l - 1][1]
            if masks is not None and masks[l - 1] is not None:
                dA_prev = dropout_backward(dA_prev, masks[l - 1])            # eq. 20.3
                A_prev = activations[l - 1].forward(Z_prev)  # f(Z), not the masked input
            delta = activations[l - 1].backward(dA_prev, Z_prev, A_prev)     # eq. 2.5
    return (dW, db, dA_prev) if with_input else (dW, db)


def input_gradient(weights: Sequence[Array], biases: Sequence[Array], activations: Sequence[Activation],
                   output: str, X: Array, y: Array, head_params: dict | None = None) -> Array:
    """``∂ℓ_i/∂X_i`` (m, n_0): each row's gradient of its own loss with respect to its input.

    The backward recursion (eq. 2.1–2.5) carried one step past the first layer: eq. 2.4 at
    l = 1 gives ``∂L/∂A_0 = δ_1 W_1ᵀ``, the one product a training step skips (no parameter
    needs it). With L = (1/m) Σ_i ℓ_i and row i of X reaching only ℓ_i, ``∂ℓ_i/∂X_i = m·(∂L/∂X)_i``
    (derivations.md §19). No L2 term: it does not depend on X.
    """
    logits, cache = forward(weights, biases, activations, X)
    _, delta = LOSSES[output](logits, y, None, **(head_params or {}))           # eq. 2.1
    return backward(delta, weights, activations, cache, 0.0, with_input=True)[2] * X.shape[0]


def loss_and_grads(weights: Sequence[Array], biases: Sequence[Array],
                   activations: Sequence[Activation], output: str, X: Array, y: Array,
                   sample_weight: Array | None, lam: float, head_params: dict | None = None,
                   masks: Sequence[Array | None] | None = None
                   ) -> tuple[float, float, list[Array], list[Array], Array]:
    """One forward and backward pass on validated inputs; ``head_params`` are the keyword
    arguments of the head's loss (``{"delta": δ}`` for the Huber head, ``MLP.head_params``);
    ``masks``: dropout scales per hidden layer (derivations.md §20), or None.

    Returns ``(data_loss, l2_loss, dW, db, logits)``: the head's batch-averaged loss, the
    penalty ``λ Σ‖W_l‖²`` and the gradient of their sum (with λ = 0 for the data part alone).
    """
    logits, cache = forward(weights, biases, activations, X, masks)
    data_loss, delta = LOSSES[output](logits, y, sample_weight, **(head_params or {}))  # eq. 2.1
    dW, db = backward(delta, weights, activations, cache, lam, masks=masks)
    return data_loss, l2_penalty(weights, lam), dW, db, logits
