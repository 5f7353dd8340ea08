"""The loss and accuracy of a network on a held-out set, as the training loops report them,
and the metrics early stopping can watch (which of them are to be maximised)."""

from __future__ import annotations

import numpy as np

from ..core.heads import n_correct
from ..fast.kernels import LOSSES
from ..fast.predict import forward_in_chunks

Array = np.ndarray


def evaluate(net, X: Array, y: Array, batch_size: int = 4096) -> tuple[float, float | None]:
    """(mean data loss without L2, accuracy — None for regression) of validated X, y."""
    logits = forward_in_chunks(net, X, batch_size)
    hits = n_correct(net.output, logits, y)
    return LOSSES[net.output](logits, y, **net.head_params)[0], None if hits is None else hits / X.shape[0]


# the metrics early stopping can monitor, and whether larger is better
MONITORS = {"val_loss": False, "train_loss": False, "val_accuracy": True,
            "val_balanced_accuracy": True, "val_macro_f1": True}


def confusion_matrix(truth: Array, pred: Array, n_classes: int) -> Array:
    """(K, K) counts, rows = true class, columns = predicted class."""
    return np.bincount(truth * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_scores(cm: Array) -> tuple[Array, Array, Array, Array]:
    """(precision, recall, F1, support) per class from a confusion matrix; 0 where undefined
    (no prediction of the class, or no row of it), as scikit-learn's ``zero_division=0``."""
    support, predicted, hits = cm.sum(axis=1), cm.sum(axis=0), np.diag(cm).astype(np.float64)
    precision = np.divide(hits, predicted, out=np.zeros(len(cm)), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(len(cm)), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(cm)),
                   where=precision + recall > 0)
    return precision, recall, f1, support


def class_confusion(net, logits: Array, y: Array) -> Array | None:
    """The (K, K) confusion matrix of a softmax network's logits against labels (or the argmax
    of probability rows); None for other outputs."""
    if net.output != "softmax":
        return None
    truth = y if y.ndim == 1 else y.argmax(axis=1)
    return confusion_matrix(truth, np.argmax(logits, axis=1), net.n_classes)


def confusion_metrics(cm: Array | None) -> dict:
    """Balanced accuracy (mean recall over the classes present) and macro F1 (over the same
    classes) from a confusion matrix; empty for None (not classes)."""
    if cm is None:
        return {}
    _, recall, f1, support = per_class_scores(cm)
    present = support > 0
    return {"balanced_accuracy": float(recall[present].mean()), "macro_f1": float(f1[present].mean())}


def class_metrics(net, logits: Array, y: Array) -> dict:
    """Balanced accuracy and macro F1 (:func:`confusion_metrics`) of a softmax network's
    logits against labels (or the argmax of probability rows); empty for other outputs."""
    return confusion_metrics(class_confusion(net, logits, y))


def validation_record(net, X: Array, y: Array, reduce=None, logits: Array | None = None) -> dict:
    """``val_loss``, ``val_accuracy`` and, for classes, ``val_balanced_accuracy`` and
    ``val_macro_f1`` of validated X, y.

    ``reduce(loss_sum, hits, cm, n) -> (loss_sum, hits, cm, n)``: X, y are one shard of the
    validation set (data-parallel training, :mod:`handgrad.distributed`) and ``reduce`` sums
    the shard's Σ loss, rows right, confusion matrix and rows over all shards. ``logits``:
    the network's logits of X, when the caller has computed them (models trained together)."""
    n = X.shape[0]
    if logits is None:
        logits = forward_in_chunks(net, X) if n else np.empty((0, net.n_outputs), net.dtype)
    hits = n_correct(net.output, logits, y)
    cm = class_confusion(net, logits, y)
    if reduce is None:
        loss = LOSSES[net.output](logits, y, **net.head_params)[0]
    else:  # the mean over the whole set from the shards' sums (an empty shard adds nothing)
        loss_sum = LOSSES[net.output](logits, y, **net.head_params)[0] * n if n else 0.0
        loss_sum, hits, cm, n = reduce(loss_sum, hits, cm, n)
        loss = loss_sum / n
    record = {"val_loss": loss, "val_accuracy": None if hits is None else hits / n}
    record.update({f"val_{k}": v for k, v in confusion_metrics(cm).items()})
    return record
