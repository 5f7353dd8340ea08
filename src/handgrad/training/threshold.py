"""Where a two-class model should cut: the ROC and precision-recall curves of held-out scores,
and the cut that maximises a metric on them.

Shapes: ``score`` (n,) the probability of the positive class (``classes[1]``), ``positive``
(n,) bool, True where the row's label is the positive class.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

METRICS = ("f1", "balanced_accuracy", "accuracy", "mcc")


def counts(score: np.ndarray, positive: np.ndarray):
    """For every cut between distinct scores, from the highest down: the cut, and the true and
    false positives of ``score ≥ cut`` — one sort, cumulative sums. ``cuts`` (c,) falls; ``tp``,
    ``fp`` (c,) rise. The cut above the highest score (nothing predicted positive) comes
    first."""
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(-score, kind="stable")
    s, p = score[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # the last row of each distinct score
    tp = np.r_[0, np.cumsum(p)[last]]
    fp = np.r_[0, np.cumsum(~p)[last]]
    u = s[last]                                  # the distinct scores, falling
    mid = (u[:-1] + u[1:]) / 2                   # halfway to the next lower score, where
    mid = np.where(mid > u[1:], mid, u[:-1])     # that is a number between them
    cuts = np.r_[np.inf, mid, u[-1:]]            # the last cut takes every row
    return cuts, tp, fp


def curves(score: np.ndarray, positive: np.ndarray) -> dict:
    """ROC (false and true positive rates, and the area under it) and precision-recall
    (precision, recall and average precision) of held-out scores; needs both classes."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        raise InputError("the ROC and precision-recall curves need rows of both classes")
    _, tp, fp = counts(score, positive)
    tpr, fpr = tp / n_pos, fp / n_neg
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    auc = roc_auc(positive.astype(np.int64), np.asarray(score, dtype=np.float64))
    ap = float(np.sum(np.diff(tpr) * precision[1:]))  # Σ (R_k − R_{k−1}) P_k, as scikit-learn
    return {"fpr": fpr, "tpr": tpr, "roc_auc": auc, "precision": precision, "recall": tpr,
            "average_precision": ap}


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the positive class 1: the Mann–Whitney
    statistic, P(score of a positive > score of a negative) with ties counted as ½,
    from average ranks."""
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2)[inverse]  # average 1-based rank of each tie group
    pos = y_true == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metric_at(tp, fp, n_pos: int, n_neg: int, metric: str) -> np.ndarray:
    """``metric`` of ``score ≥ cut`` for every cut of :func:`counts`."""
    fn, tn = n_pos - tp, n_neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "f1":
            return np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        if metric == "balanced_accuracy":
            return (tp / max(n_pos, 1) + tn / max(n_neg, 1)) / 2
        if metric == "accuracy":
            return (tp + tn) / (n_pos + n_neg)
        if metric == "mcc":
            den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            return np.where(den > 0, (tp * tn - fp * fn) / np.where(den > 0, den, 1), 0.0)
    raise InputError(f"threshold metric must be one of {', '.join(METRICS)}, got {metric!r}")


def choose_threshold(score: np.ndarray, positive: np.ndarray, metric: str) -> dict:
    """The cut maximising ``metric`` on held-out ``score`` (ties: the cut nearest 0.5, so an
    indifferent metric keeps the usual cut), with the metric there and at 0.5."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        raise InputError("choosing a threshold needs held-out rows of both classes")
    cuts, tp, fp = counts(score, positive)
    values = metric_at(tp, fp, n_pos, n_neg, metric)
    ok = np.isfinite(cuts) & (cuts > 0) & (cuts < 1)
    if not ok.any():
        return {"threshold": 0.5, "metric": metric, "value": None, "at_half": None}
    best = np.flatnonzero(ok & (values == values[ok].max()))
    k = best[np.argmin(np.abs(cuts[best] - 0.5))]
    half = metric_at(np.array([np.sum(positive & (score >= 0.5))]), np.array([np.sum(~positive & (score >= 0.5))]),
                     n_pos, n_neg, metric)[0]
    cut = 0.5 if half >= values[k] else float(cuts[k])  # the usual cut, where it does as well
    return {"threshold": cut, "metric": metric, "value": float(max(values[k], half)), "at_half": float(half)}
