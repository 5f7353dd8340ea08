"""Converting the L2 strength λ to and from other libraries' conventions.

handgrad's penalty is ``λ Σ_l ‖W_l‖²_F`` added to the batch-mean loss, gradient ``2λW``
(weights only, biases not penalised). Other libraries spell the same penalty differently:

* scikit-learn ``MLPClassifier(alpha=α)`` adds ``0.5·α·Σ‖W‖² / n_batch`` to its batch-mean
  loss, where ``n_batch`` is the number of samples in the (mini-)batch:
  ``λ = α / (2·n_batch)``.
* PyTorch ``weight_decay=wd`` (SGD/Adam, on the parameters it is given) adds ``wd·W`` to the
  gradient, i.e. the gradient of ``(wd/2)‖W‖²``: ``wd = 2λ`` — give it the weights only
  (a separate parameter group with ``weight_decay=0`` for the biases) to match handgrad.
* Keras ``kernel_regularizer=l2(l)`` adds ``l·Σw²``: ``l = λ``.
"""

from __future__ import annotations

import math

from ..errors import InputError


def _nonneg(value, what: str) -> float:
    v = float(value)
    if not v >= 0:
        raise InputError(f"{what} must be a number ≥ 0, got {value!r}")
    return v


def l2_from_sklearn_alpha(alpha: float, n_batch: float) -> float:
    """λ equal to scikit-learn's ``alpha`` at batch size ``n_batch``: ``λ = α/(2·n_batch)``.

    With sample weights scikit-learn divides its penalty by their sum instead of the batch
    size: pass that sum (any number > 0) as ``n_batch``."""
    n = float(n_batch)
    if not n > 0 or not math.isfinite(n):
        raise InputError(f"n_batch must be a number > 0, got {n_batch!r}")
    return _nonneg(alpha, "alpha") / (2 * n)


def l2_to_sklearn_alpha(lam: float, n_batch: int) -> float:
    """scikit-learn's ``alpha`` giving handgrad's λ at batch size ``n_batch``: ``α = 2·n_batch·λ``."""
    if int(n_batch) < 1:
        raise InputError(f"n_batch must be ≥ 1, got {n_batch!r}")
    return 2 * int(n_batch) * _nonneg(lam, "l2")


def l2_to_torch_weight_decay(lam: float) -> float:
    """PyTorch ``weight_decay`` (applied to the weights only) equal to λ: ``wd = 2λ``."""
    return 2 * _nonneg(lam, "l2")


def l2_from_torch_weight_decay(weight_decay: float) -> float:
    """λ equal to PyTorch's ``weight_decay`` on the weights: ``λ = wd/2``."""
    return _nonneg(weight_decay, "weight_decay") / 2


def l2_to_keras(lam: float) -> float:
    """Keras ``regularizers.l2(l)`` equal to λ: ``l = λ``."""
    return _nonneg(lam, "l2")


def l2_from_keras(l: float) -> float:
    """λ equal to Keras ``regularizers.l2(l)``: ``λ = l``."""
    return _nonneg(l, "keras l2")
