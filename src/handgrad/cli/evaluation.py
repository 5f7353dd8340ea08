"""Classification metrics for the command line, in numpy (scikit-learn's metrics module would
add ~0.7 s to every run's start-up; tests/test_cli.py checks these against it)."""

from __future__ import annotations

import numpy as np

from ..training.evaluation import confusion_matrix, per_class_scores


def classification_summary(y_true: np.ndarray, y_pred: np.ndarray, classes, proba=None) -> dict:
    """Accuracy, balanced accuracy, macro F1, per-class precision / recall / F1 / support and
    the confusion matrix; with the predicted probabilities ``proba`` (n, K) also the log loss
    and, for two classes, the ROC AUC. ``majority_accuracy`` is what always answering the most
    frequent class of ``y_true`` would score.

    ``y_true`` and ``y_pred`` are class indices 0..K−1; ``classes`` the K original labels.
    The confusion matrix has rows = true class, columns = predicted class. Macro F1 and the
    balanced accuracy average over the classes present in ``y_true``.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    K = len(classes)
    cm = confusion_matrix(y_true, y_pred, K)
    precision, recall, f1, support = per_class_scores(cm)
    present = support > 0
    per_class = [{"class": _plain(c), "precision": float(p), "recall": float(r), "f1": float(f),
                  "support": int(s)} for c, p, r, f, s in zip(classes, precision, recall, f1, support)]
    summary = {"accuracy": float(np.mean(y_true == y_pred)), "n_samples": int(len(y_true)),
               "balanced_accuracy": float(recall[present].mean()),
               "macro_f1": float(f1[present].mean()),
               "majority_accuracy": float(support.max() / len(y_true)),
               "log_loss": None, "roc_auc": None,
               "per_class": per_class, "confusion_matrix": cm.tolist()}
    if proba is not None:
        p = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1)
        p /= p.sum(axis=1, keepdims=True)
        summary["log_loss"] = float(-np.mean(np.log(p[np.arange(len(y_true)), y_true])))
        if K == 2 and present.all():
            summary["roc_auc"] = roc_auc(y_true, p[:, 1])
    return summary


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


def _plain(label):
    return label.item() if hasattr(label, "item") else label
