"""How far to trust a classifier's probabilities: the reliability table and the expected
calibration error, and temperature scaling fitted on held-out predictions (derivations.md §18).

Shapes: ``P`` (n, K) probabilities (rows sum to 1), ``y`` (n,) class indices in [0, K).
"""

from __future__ import annotations

import numpy as np

from ..core.losses import log_softmax
from ..errors import InputError
from ..fast.temperature import TemperatureLoss

BINS = 10
CALIBRATIONS = ("none", "temperature")  # what train_model(calibrate=) and --calibrate take
TINY = np.finfo(np.float64).tiny  # a probability that underflowed to 0 counts as this
BETA_RANGE = (1e-2, 1e2)  # T from 0.01 to 100: beyond, the held-out rows say nothing reliable


def reliability(P: np.ndarray, y: np.ndarray, bins: int = BINS) -> dict:
    """The top-label reliability table: the rows binned by their largest probability (the
    confidence) into ``bins`` equal-width bins of [0, 1]; per bin the rows, the mean confidence
    and the accuracy; and the expected calibration error ``ECE = Σ_b (n_b/n)·|acc_b − conf_b|``
    (Guo et al., 2017) — 0 when, in every bin, the confidence is as often right as it says."""
    P = np.asarray(P, dtype=np.float64)
    conf = P.max(axis=1)
    right = (np.argmax(P, axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mine = which == b
        n_b = int(mine.sum())
        if n_b:
            c, a = float(conf[mine].mean()), float(right[mine].mean())
            ece += n_b / len(y) * abs(a - c)
            rows.append({"from": float(edges[b]), "to": float(edges[b + 1]), "rows": n_b,
                         "confidence": c, "accuracy": a})
    return {"ece": float(ece), "bins": rows}


def log_loss(P: np.ndarray, y: np.ndarray) -> float:
    """``−mean_i log P_{i,y_i}`` (a probability that underflowed to 0 counts as the smallest
    normal number, not as an infinite loss)."""
    return float(-np.mean(log_probabilities(P)[np.arange(len(y)), y]))


def log_probabilities(P: np.ndarray) -> np.ndarray:
    """``log P`` (n, K) float64, finite: the S of eq. 18.1."""
    return np.log(np.maximum(np.asarray(P, dtype=np.float64), TINY))


def fit_temperature(P: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """The temperature T = 1/β minimising the held-out log loss of ``softmax(log P / T)``
    (eq. 18.2). L is convex in β (eq. 18.4), so its minimum is where ∂L/∂β (eq. 18.3) changes
    sign: found by bisection on log β within ``BETA_RANGE`` (an end when ∂L/∂β does not change
    sign there). Needs rows of at least two classes."""
    y = np.asarray(y)
    if len(y) == 0 or np.unique(y).size < 2:
        raise InputError("fitting a temperature needs held-out rows of at least two classes")
    loss = TemperatureLoss(log_probabilities(P), y, sample_weight)
    lo, hi = np.log(BETA_RANGE[0]), np.log(BETA_RANGE[1])
    if loss(np.exp(lo))[1] >= 0:
        return 1 / BETA_RANGE[0]
    if loss(np.exp(hi))[1] <= 0:
        return 1 / BETA_RANGE[1]
    for _ in range(60):  # the bracket shrinks to 2^-60 of log(1e4): far below float64's step in T
        mid = (lo + hi) / 2
        if loss(np.exp(mid))[1] > 0:
            hi = mid
        else:
            lo = mid
    return float(1 / np.exp((lo + hi) / 2))


def apply_temperature(P: np.ndarray, T: float) -> np.ndarray:
    """``softmax(log P / T)`` (n, K): for one network ``softmax(Z / T)``, Z its logits. The
    largest class stays the largest (a positive scaling keeps the order of each row)."""
    if T == 1:
        return np.asarray(P, dtype=np.float64)
    return np.exp(log_softmax(log_probabilities(P) / T))
