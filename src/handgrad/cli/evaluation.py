"""Classification metrics for the command line, computed with scikit-learn's metrics."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def classification_summary(y_true: np.ndarray, y_pred: np.ndarray, classes, proba=None) -> dict:
    """Accuracy, balanced accuracy, macro F1, per-class precision / recall / F1 / support and
    the confusion matrix; with the predicted probabilities ``proba`` (n, K) also the log loss
    and, for two classes, the ROC AUC. ``majority_accuracy`` is what always answering the most
    frequent class of ``y_true`` would score.

    ``y_true`` and ``y_pred`` are class indices 0..K−1; ``classes`` the K original labels.
    The confusion matrix has rows = true class, columns = predicted class.
    """
    try:
        from sklearn.metrics import (balanced_accuracy_score, confusion_matrix, log_loss,
                                     precision_recall_fscore_support, roc_auc_score)
    except ImportError:  # pragma: no cover - the cli extra installs it
        raise InputError("metrics need scikit-learn: pip install 'handgrad[cli]'") from None
    labels = np.arange(len(classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    per_class = [{"class": _plain(c), "precision": float(p), "recall": float(r), "f1": float(f),
                  "support": int(s)} for c, p, r, f, s in zip(classes, precision, recall, f1, support)]
    present = support > 0  # a class absent from y_true has no recall to average
    summary = {"accuracy": float(np.mean(y_true == y_pred)), "n_samples": int(len(y_true)),
               "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
               "macro_f1": float(np.mean(f1[present])),
               "majority_accuracy": float(np.bincount(y_true, minlength=len(classes)).max() / len(y_true)),
               "log_loss": None, "roc_auc": None,
               "per_class": per_class, "confusion_matrix": cm.tolist()}
    if proba is not None:
        p = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1)
        summary["log_loss"] = float(log_loss(y_true, p / p.sum(axis=1, keepdims=True), labels=labels))
        if len(classes) == 2 and present.all():
            summary["roc_auc"] = float(roc_auc_score(y_true, p[:, 1]))
    return summary


def _plain(label):
    return label.item() if hasattr(label, "item") else label
