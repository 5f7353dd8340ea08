"""Output layers ("heads") and their losses, each fused so that ∂L/∂Z_L = (P − Y)/m.

Five heads, chosen with ``MLP(..., output=...)`` (derivations.md §3, §12, §13 and §14):

* ``"softmax"`` — classes that exclude each other: P = softmax(Z), categorical cross-entropy
  (:func:`handgrad.core.losses.softmax_cross_entropy`).
* ``"logistic"`` — independent yes/no outputs (binary classification with one output, or
  multilabel): P = σ(Z), binary cross-entropy summed over the outputs (eq. 12.1–12.3).
* ``"identity"`` — regression: P = Z, half the squared error summed over the outputs (eq. 12.4–12.5).
* ``"exp"`` — counts and rates (Poisson regression): P = e^Z (the inverse of the log link),
  half the Poisson deviance summed over the outputs (eq. 13.1–13.3).
* ``"huber"`` — regression robust to outliers: P = Z, the Huber loss with threshold δ summed
  over the outputs (eq. 14.1–14.3).

Every loss is averaged over the batch (the (1/m) of eq. 1.6) and takes optional per-sample
weights w: ``L = (1/m) Σ_i w_i ℓ_i``, ``δ_L = diag(w)(P − Y)/m``. For the first four the
gradient w.r.t. the logits has the same form, P − Y: that is what makes each a "canonical
link". The Huber head's is the residual Z − Y clipped to [−δ, δ]: the one head with a
parameter besides the network's, passed to its loss as ``delta`` (``MLP.head_params``).
These are the reference forms; :mod:`handgrad.fast.kernels` has the in-place ones.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .activations import sigmoid_forward
from .losses import log_softmax, softmax, softmax_cross_entropy

Array = np.ndarray
HEADS = ("softmax", "logistic", "identity", "exp", "huber")
# the heads whose prediction is a number (regression_mean), not a class or a probability
REGRESSION_HEADS = ("identity", "exp", "huber")


def softplus(Z: Array) -> Array:
    """``log(1 + e^Z)`` without overflow: ``max(Z, 0) + log1p(e^{−|Z|})``."""
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


def sigmoid_binary_cross_entropy(Z: Array, Y: Array, sample_weight: Array | None = None
                                 ) -> tuple[float, Array]:
    """Fused logistic output + binary cross-entropy, summed over outputs, batch-averaged.

    With P = σ(Z) and targets Y ∈ [0, 1] (m, K):
        ``ℓ_i = −Σ_k [Y_ik log P_ik + (1 − Y_ik) log(1 − P_ik)] = Σ_k [softplus(Z_ik) − Y_ik Z_ik]``
    (eq. 12.2: log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z), softplus(−z) = softplus(z) − z),
    evaluated without overflow for any logits, and
        ``∂L/∂Z = diag(w)(σ(Z) − Y)/m``   (eq. 12.3: softplus' = σ).
    Shapes: Z, Y (m, K); returns (loss, dZ (m, K)).
    """
    m = Z.shape[0]
    w = np.ones(m, dtype=Z.dtype) if sample_weight is None else sample_weight
    per_sample = (softplus(Z) - Y * Z).sum(axis=1)                     # eq. 12.2
    dZ = w[:, None] * (sigmoid_forward(Z) - Y) / m                      # eq. 12.3
    return float((w * per_sample).sum(dtype=np.float64) / m), dZ.astype(Z.dtype, copy=False)


def squared_error(Z: Array, Y: Array, sample_weight: Array | None = None) -> tuple[float, Array]:
    """Identity output + half the squared error, summed over outputs, batch-averaged.

        ``ℓ_i = ½ Σ_k (Z_ik − Y_ik)²``   (eq. 12.4),   ``∂L/∂Z = diag(w)(Z − Y)/m``   (eq. 12.5).
    Shapes: Z, Y (m, K); returns (loss, dZ (m, K)).
    """
    m = Z.shape[0]
    w = np.ones(m, dtype=Z.dtype) if sample_weight is None else sample_weight
    per_sample = 0.5 * ((Z - Y) ** 2).sum(axis=1)                      # eq. 12.4
    dZ = w[:, None] * (Z - Y) / m                                       # eq. 12.5
    return float((w * per_sample).sum(dtype=np.float64) / m), dZ.astype(Z.dtype, copy=False)


def xlogx(Y: Array) -> Array:
    """``Y log Y`` elementwise with ``0 log 0 = 0`` (its limit), for Y ≥ 0; shape kept."""
    positive = Y > 0
    return np.where(positive, Y * np.log(np.where(positive, Y, 1)), 0).astype(Y.dtype, copy=False)


def exp_poisson_deviance(Z: Array, Y: Array, sample_weight: Array | None = None
                         ) -> tuple[float, Array]:
    """Exp output + half the Poisson deviance, summed over outputs, batch-averaged (§13).

    With the predicted mean ``μ = e^Z`` (the log link's inverse) and counts or rates Y ≥ 0:
        ``ℓ_i = Σ_k [e^{Z_ik} − Y_ik Z_ik + Y_ik log Y_ik − Y_ik]``   (eq. 13.2, = Σ_k
    [Y log(Y/μ) − Y + μ], scikit-learn's ``poisson_loss``), and
        ``∂L/∂Z = diag(w)(e^Z − Y)/m``   (eq. 13.3).
    The ``Y log Y − Y`` term makes ℓ the deviance (0 at μ = Y) and has no gradient.
    Shapes: Z, Y (m, K); returns (loss, dZ (m, K)). e^Z overflows to inf past Z ≈ 709
    (≈ 88 in float32), and the loss and gradient with it.
    """
    m = Z.shape[0]
    w = np.ones(m, dtype=Z.dtype) if sample_weight is None else sample_weight
    mu = np.exp(Z)                                                      # eq. 13.1
    per_sample = (mu - Y * Z + xlogx(Y) - Y).sum(axis=1)                # eq. 13.2
    dZ = w[:, None] * (mu - Y) / m                                      # eq. 13.3
    return float((w * per_sample).sum(dtype=np.float64) / m), dZ.astype(Z.dtype, copy=False)


def huber_loss(Z: Array, Y: Array, sample_weight: Array | None = None, delta: float = 1.0
               ) -> tuple[float, Array]:
    """Identity output + the Huber loss with threshold δ, summed over outputs, batch-averaged (§14).

    With the residual ``r = Z − Y`` and
        ``h_δ(r) = ½ r²`` for ``|r| ≤ δ``, ``δ (|r| − ½ δ)`` otherwise   (eq. 14.1),
        ``ℓ_i = Σ_k h_δ(Z_ik − Y_ik)``   (eq. 14.2),   ``∂L/∂Z = diag(w) clip(Z − Y, −δ, δ)/m``
    (eq. 14.3: h_δ' is the residual clipped to ±δ). Quadratic near the target, linear far
    from it: an outlier's gradient is at most δ/m, whatever its residual.
    Shapes: Z, Y (m, K); returns (loss, dZ (m, K)).
    """
    m = Z.shape[0]
    w = np.ones(m, dtype=Z.dtype) if sample_weight is None else sample_weight
    R = Z - Y
    inside = np.abs(R) <= delta
    h = np.where(inside, 0.5 * R ** 2, delta * (np.abs(R) - 0.5 * delta))   # eq. 14.1
    per_sample = h.sum(axis=1)                                          # eq. 14.2
    dZ = w[:, None] * np.clip(R, -delta, delta) / m                     # eq. 14.3
    return float((w * per_sample).sum(dtype=np.float64) / m), dZ.astype(Z.dtype, copy=False)


LOSSES = {"softmax": softmax_cross_entropy, "logistic": sigmoid_binary_cross_entropy,
          "identity": squared_error, "exp": exp_poisson_deviance, "huber": huber_loss}


def check_head(output: str, n_out: int) -> str:
    if output not in HEADS:
        raise InputError(f"output must be one of {', '.join(HEADS)}, got {output!r}")
    if output == "softmax" and n_out < 2:
        raise InputError(f"the last size is the number of classes and must be ≥ 2, got {n_out} "
                         "(for one yes/no output use output='logistic')")
    return output


def probabilities(output: str, logits: Array) -> Array:
    """P for the head: softmax rows, σ elementwise; the regression heads have none."""
    if output == "softmax":
        return softmax(logits)
    if output == "logistic":
        return sigmoid_forward(logits)
    raise InputError(f"a regression network (output={output!r}) has no probabilities; use predict")


def log_probabilities(output: str, logits: Array) -> Array:
    """log P, finite wherever the logits are: log-softmax, or log σ(z) = −softplus(−z)."""
    if output == "softmax":
        return log_softmax(logits)
    if output == "logistic":
        return -softplus(-logits)
    raise InputError(f"a regression network (output={output!r}) has no probabilities; use predict")


def regression_mean(output: str, logits: Array) -> Array:
    """The prediction μ of a regression head: Z for "identity" and "huber", e^Z for "exp"
    (eq. 13.1)."""
    if output in ("identity", "huber"):
        return logits
    if output == "exp":
        return np.exp(logits)
    raise InputError(f"output={output!r} is a classification head; use probabilities")


def n_correct(output: str, logits: Array, y: Array) -> int | None:
    """Rows predicted right (all outputs right, for several logistic outputs); None for
    regression."""
    if output == "softmax":
        target = y if y.ndim == 1 else y.argmax(axis=1)
        return int(np.count_nonzero(np.argmax(logits, axis=1) == target))
    if output == "logistic":
        return int(np.count_nonzero(np.all((logits > 0) == (y > 0.5), axis=1)))
    return None
