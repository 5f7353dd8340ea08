"""Classification and regression metrics for the command line, in numpy (scikit-learn's
metrics module would add ~0.7 s to every run's start-up; tests/test_cli.py checks these
against it)."""

from __future__ import annotations

import numpy as np

from ..training.calibration import reliability
from ..training.evaluation import confusion_matrix, per_class_scores
from ..training.threshold import roc_auc


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
               "log_loss": None, "roc_auc": None, "ece": None, "reliability": None,
               "per_class": per_class, "confusion_matrix": cm.tolist()}
    if proba is not None:
        p = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1)
        p /= p.sum(axis=1, keepdims=True)
        summary["log_loss"] = float(-np.mean(np.log(p[np.arange(len(y_true)), y_true])))
        if K == 2 and present.all():
            summary["roc_auc"] = roc_auc(y_true, p[:, 1])
        table = reliability(p, y_true)
        summary["ece"], summary["reliability"] = table["ece"], table["bins"]
    return summary


def _plain(label):
    return label.item() if hasattr(label, "item") else label


def regression_summary(y_true: np.ndarray, y_pred: np.ndarray, baseline, names=None) -> dict:
    """R², RMSE, MAE and median absolute error of predictions ``y_pred`` against ``y_true``
    ((n,) or (n, k), in the target's units; for several targets the mean over them, as
    scikit-learn's ``uniform_average``, and each in ``per_target``), and the same for always
    predicting ``baseline`` (the training rows' mean, (k,)): what a model must beat.
    R² = 1 − Σ(y − ŷ)²/Σ(y − ȳ)² with ȳ the mean of ``y_true``; a constant ``y_true`` gives
    1 if predicted exactly, else 0 (scikit-learn's force_finite)."""
    Y = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    P = np.asarray(y_pred, dtype=np.float64).reshape(Y.shape)
    base = np.broadcast_to(np.asarray(baseline, dtype=np.float64).reshape(1, -1), Y.shape)

    def scores(pred):
        r = pred - Y
        sse, sst = (r * r).sum(axis=0), ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        r2 = np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), np.where(sse > 0, 0.0, 1.0))
        return {"r2": r2, "rmse": np.sqrt((r * r).mean(axis=0)), "mae": np.abs(r).mean(axis=0),
                "median_absolute_error": np.median(np.abs(r), axis=0)}

    model, always = scores(P), scores(base)
    summary = {k: float(v.mean()) for k, v in model.items()}
    summary["n_samples"] = int(Y.shape[0])
    summary["baseline"] = {"prediction": "the training mean", **{k: float(v.mean()) for k, v in always.items()}}
    if Y.shape[1] > 1:
        summary["per_target"] = [{"target": None if names is None else str(names[j]),
                                  **{k: float(v[j]) for k, v in model.items()}} for j in range(Y.shape[1])]
    return summary
