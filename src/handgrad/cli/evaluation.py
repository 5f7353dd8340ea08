"""Classification metrics for the command line, computed with scikit-learn's metrics."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def classification_summary(y_true: np.ndarray, y_pred: np.ndarray, classes) -> dict:
    """Accuracy, per-class precision / recall / F1 / support and the confusion matrix.

    ``y_true`` and ``y_pred`` are class indices 0..K−1; ``classes`` the K original labels.
    The confusion matrix has rows = true class, columns = predicted class.
    """
    try:
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    except ImportError:  # pragma: no cover - the cli extra installs it
        raise InputError("metrics need scikit-learn: pip install 'handgrad[cli]'") from None
    labels = np.arange(len(classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    per_class = [{"class": _plain(c), "precision": float(p), "recall": float(r), "f1": float(f),
                  "support": int(s)} for c, p, r, f, s in zip(classes, precision, recall, f1, support)]
    return {"accuracy": float(np.mean(y_true == y_pred)), "n_samples": int(len(y_true)),
            "per_class": per_class, "confusion_matrix": cm.tolist()}


def _plain(label):
    return label.item() if hasattr(label, "item") else label
