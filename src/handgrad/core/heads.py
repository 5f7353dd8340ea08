"""Output layers ("heads") and their losses, each fused so that ∂L/∂Z_L = (P − Y)/m.

Three heads, chosen with ``MLP(..., output=...)`` (derivations.md §3 and §12):

* ``"softmax"`` — classes that exclude each other: P = softmax(Z), categorical cross-entropy
  (:func:`handgrad.losses.softmax_cross_entropy`).
* ``"logistic"`` — independent yes/no outputs (binary classification with one output, or
  multilabel): P = σ(Z), binary cross-entropy summed over the outputs (eq. 12.1–12.3).
* ``"identity"`` — regression: P = Z, half the squared error summed over the outputs (eq. 12.4–12.5).

Every loss is averaged over the batch (the (1/m) of eq. 1.6) and takes optional per-sample
weights w: ``L = (1/m) Σ_i w_i ℓ_i``, ``δ_L = diag(w)(P − Y)/m``. For all three the gradient
w.r.t. the logits has the same form, P − Y: that is what makes each a "canonical link".
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid_forward, sigmoid_from_exp
from ..errors import InputError
from .losses import check_targets, log_softmax, softmax, softmax_cross_entropy

Array = np.ndarray
HEADS = ("softmax", "logistic", "identity")


def softplus(Z: Array, E: Array | None = None) -> Array:
    """``log(1 + e^Z)`` without overflow: ``max(Z, 0) + log1p(E)`` with ``E = e^{−|Z|}``
    (computed here unless given)."""
    if E is None:
        E = np.exp(-np.abs(Z))
    return np.maximum(Z, 0) + np.log1p(E)


def sigmoid_binary_cross_entropy(Z: Array, Y: Array, sample_weight: Array | None = None,
                                 out: Array | None = None, work: Array | None = None,
                                 stats: dict | None = None) -> tuple[float, Array]:
    """Fused logistic output + binary cross-entropy, summed over outputs, batch-averaged.

    With P = σ(Z) and targets Y ∈ [0, 1] (m, K):
        ``ℓ_i = −Σ_k [Y_ik log P_ik + (1 − Y_ik) log(1 − P_ik)] = Σ_k [softplus(Z_ik) − Y_ik Z_ik]``
    (eq. 12.2: log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z), softplus(−z) = softplus(z) − z),
    evaluated without overflow for any logits, and
        ``∂L/∂Z = (σ(Z) − Y)/m``   (eq. 12.3: softplus' = σ).
    Shapes: Z, Y (m, K); returns (loss, dZ (m, K)).
    """
    m = Z.shape[0]
    E = np.exp(-np.abs(Z))                          # shared by softplus(Z) and σ(Z)
    per_sample = (softplus(Z, E) - Y * Z).sum(axis=1)
    dZ = sigmoid_from_exp(Z, E, out=out)
    dZ -= Y
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
        dZ *= sample_weight[:, None]
    dZ /= m
    return float(per_sample.sum(dtype=np.float64) / m), dZ


def squared_error(Z: Array, Y: Array, sample_weight: Array | None = None,
                  out: Array | None = None, work: Array | None = None,
                  stats: dict | None = None) -> tuple[float, Array]:
    """Identity output + half the squared error, summed over outputs, batch-averaged.

        ``ℓ_i = ½ Σ_k (Z_ik − Y_ik)²``   (eq. 12.4),   ``∂L/∂Z = (Z − Y)/m``   (eq. 12.5).
    Shapes: Z, Y (m, K); returns (loss, dZ (m, K)).
    """
    m = Z.shape[0]
    dZ = np.subtract(Z, Y, out=out)
    per_sample = 0.5 * np.einsum("ik,ik->i", dZ, dZ)
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
        dZ *= sample_weight[:, None]
    dZ /= m
    return float(per_sample.sum(dtype=np.float64) / m), dZ


LOSSES = {"softmax": softmax_cross_entropy, "logistic": sigmoid_binary_cross_entropy,
          "identity": squared_error}


def check_head(output: str, n_out: int) -> str:
    if output not in HEADS:
        raise InputError(f"output must be one of {', '.join(HEADS)}, got {output!r}")
    if output == "softmax" and n_out < 2:
        raise InputError(f"the last size is the number of classes and must be ≥ 2, got {n_out} "
                         "(for one yes/no output use output='logistic')")
    return output


def check_head_targets(output: str, y, m: int, n_out: int, dtype) -> Array:
    """Targets for a head: labels or probability rows (softmax), values in [0, 1] (logistic),
    real numbers (identity); a 1-D y is accepted for one output. Returns (m, K) arrays for
    logistic/identity."""
    if output == "softmax":
        return check_targets(y, m, n_out, dtype=dtype)
    Y = np.asarray(y)
    if Y.dtype == object or Y.dtype.kind in "USVM":
        raise InputError(f"targets must be numeric, got dtype {Y.dtype}")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape != (m, n_out):
        raise InputError(f"targets have shape {np.shape(y)}, expected ({m}, {n_out})"
                         + (f" or ({m},)" if n_out == 1 else ""))
    Y = np.ascontiguousarray(Y, dtype=dtype)
    if not np.all(np.isfinite(Y)):
        raise InputError("targets contain NaN or inf")
    if output == "logistic" and (Y.min() < 0 or Y.max() > 1):
        raise InputError("targets of a logistic output must lie in [0, 1] (0/1 labels or probabilities)")
    return Y


def probabilities(output: str, logits: Array, out: Array | None = None) -> Array:
    """P for the head: softmax rows, σ elementwise; the identity head has none."""
    if output == "softmax":
        return softmax(logits, out=out)
    if output == "logistic":
        return sigmoid_forward(logits, out=out)
    raise InputError("a regression network (output='identity') has no probabilities; use predict")


def log_probabilities(output: str, logits: Array) -> Array:
    """log P, finite wherever the logits are: log-softmax, or log σ(z) = −softplus(−z)."""
    if output == "softmax":
        return log_softmax(logits)
    if output == "logistic":
        return -softplus(-logits)
    raise InputError("a regression network (output='identity') has no probabilities; use predict")


def decide(output: str, logits: Array) -> Array:
    """Predictions from logits: argmax class (softmax), 1{z > 0} = 1{σ(z) > ½} (logistic),
    the values themselves (identity)."""
    if output == "softmax":
        # the argmax of the probabilities, not of the logits: logits closer than softmax can
        # resolve would otherwise pick a class predict_proba does not rank first
        return np.argmax(softmax(logits.copy()), axis=1)
    if output == "logistic":
        return (logits > 0).astype(np.int64)
    return logits.copy()


def n_correct(output: str, logits: Array, y: Array) -> int | None:
    """Rows predicted right (all outputs right, for several logistic outputs); None for
    regression."""
    if output == "softmax":
        target = y if y.ndim == 1 else y.argmax(axis=1)
        return int(np.count_nonzero(np.argmax(logits, axis=1) == target))
    if output == "logistic":
        return int(np.count_nonzero(np.all((logits > 0) == (y > 0.5), axis=1)))
    return None
