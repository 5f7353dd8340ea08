"""Losses and penalties, each value beside its gradient: the reference forms (plain numpy).

* :func:`logsumexp`, :func:`softmax`, :func:`log_softmax` — stable row-wise forms.
* :func:`softmax_cross_entropy` — the fused softmax + cross-entropy, averaged over the
  batch, with its gradient ``(P − Y)/m`` w.r.t. the logits (derivations.md §3).
* :func:`l2_penalty` — ``λ Σ_l ‖W_l‖²_F`` and its gradient ``2λW`` (derivations.md §5).
* :func:`quadratic_form` — ``xᵀAx`` and its gradient ``(A + Aᵀ)x`` (derivations.md §6).

Why softmax has no backward of its own: its Jacobian ``diag(p) − p pᵀ`` is a K×K matrix per
sample, but composed with the cross-entropy's ``−y/p`` it collapses to ``p − y``. Computing the
fused gradient directly is cheaper (no K×K) and exact where ``p`` underflows to 0 (where
``−y/p`` would be inf).

The training step computes the same quantities in fewer passes over preallocated buffers
(:mod:`handgrad.fast.kernels`); the tests hold the two equal.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def logsumexp(Z: Array) -> Array:
    """Row-wise ``log Σ_k exp(Z_ik)`` computed as ``c + log Σ_k exp(Z_ik − c)``, c = max_k Z_ik
    (eq. 3.1).

    Shapes: Z (m, K) -> (m, 1). Subtracting the row maximum makes the largest exponent
    exactly 0, so nothing overflows and at least one term is 1 (no log(0)).
    """
    c = Z.max(axis=1, keepdims=True)
    return c + np.log(np.exp(Z - c).sum(axis=1, keepdims=True))


def log_softmax(Z: Array) -> Array:
    """``log softmax(Z) = (Z − c) − log Σ_k exp(Z_k − c)`` row-wise, c = max_k Z_k (eq. 3.2);
    (m, K) -> (m, K).

    Subtracting c first keeps the result's absolute precision: ``Z − logsumexp(Z)`` would
    subtract two large, nearly equal numbers when the logits are large (errors ~1e-4 at
    logits ~1e3 in float32).
    """
    T = Z - Z.max(axis=1, keepdims=True)
    return T - np.log(np.exp(T).sum(axis=1, keepdims=True))


def softmax(Z: Array) -> Array:
    """``P_ik = exp(Z_ik − c_i) / Σ_j exp(Z_ij − c_i)``, c_i = max_j Z_ij (eq. 1.4);
    (m, K) -> (m, K).

    Rows sum to 1 up to rounding; no overflow for any finite logits.
    """
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def one_hot(y: Array, n_classes: int, dtype=np.float64) -> Array:
    """Integer labels (m,) -> one-hot rows (m, K)."""
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def softmax_cross_entropy(Z: Array, y: Array, sample_weight: Array | None = None,
                          smoothing: float = 0.0) -> tuple[float, Array]:
    """Fused softmax + cross-entropy, averaged over the batch, and its gradient (§3).

    Forward (eq. 3.1–3.3):  ``log P = log_softmax(Z)``,  ``CE_i = −Σ_k Y_ik log P_ik``,
    ``L = (1/m) Σ_i w_i CE_i``.
    Backward (eq. 3.6, 3.7): ``∂L/∂Z = diag(w) (P − Y) / m``.
    Label smoothing ε (eq. 16.1–16.2): the targets become ``Ỹ = (1 − ε) Y + ε/K`` (rows still
    summing to 1), so the same two lines give the loss and ``∂L/∂Z = diag(w) (P − Ỹ) / m``.

    Args:
        Z: logits (m, K), float32 or float64 (not modified).
        y: integer class labels (m,) in [0, K), or target probabilities (m, K) whose rows
           are ≥ 0 and sum to 1 (one-hot or soft labels), already validated
           (:func:`handgrad.validation.check_targets`).
        sample_weight: optional (m,) non-negative weights w (none: every w_i = 1).

    Returns:
        ``(loss, dZ)``: loss as a Python float, dZ (m, K) in Z's dtype.
    """
    m, K = Z.shape
    Y = one_hot(y, K, Z.dtype) if y.ndim == 1 else y
    if smoothing:
        Y = (1 - smoothing) * Y + smoothing / K                      # eq. 16.1
    w = np.ones(m, dtype=Z.dtype) if sample_weight is None else sample_weight
    log_P = log_softmax(Z)                                   # eq. 3.2
    CE = -(Y * log_P).sum(axis=1)                            # eq. 3.3, per sample
    P = softmax(Z)                                           # eq. 1.4
    dZ = w[:, None] * (P - Y) / m                            # eq. 3.6, 3.7 (16.2)
    return float((w * CE).sum(dtype=np.float64) / m), dZ.astype(Z.dtype, copy=False)


def l2_penalty(weights: list[Array], lam: float) -> float:
    """``λ Σ_l ‖W_l‖²_F`` — weights only, biases are not penalised (derivations.md eq. 5.1)."""
    if lam == 0:
        return 0.0
    return float(lam * sum(float(np.vdot(W, W)) for W in weights))


def l2_penalty_grad(W: Array, lam: float) -> Array:
    """``∂(λ‖W‖²_F)/∂W = 2λW`` (derivations.md eq. 5.2: the quadratic form with A = λI)."""
    return (2 * lam) * W


def quadratic_form(x: Array, A: Array) -> Array:
    """``f(x) = xᵀAx`` for each row x of ``x``; shapes x (n, d) or (d,), A (d, d) -> (n,) or ()."""
    return np.einsum("...i,ij,...j->...", x, A, x)


def quadratic_form_grad(x: Array, A: Array) -> Array:
    """``∇f(x) = (A + Aᵀ)x`` (seed 004, derivations.md eq. 6.2); for rows: ``x (A + Aᵀ)ᵀ``."""
    return x @ (A + A.T).T
