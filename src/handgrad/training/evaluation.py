"""The loss and accuracy (classes) or RMSE, MAE and R² (regression) of a network on a
held-out set, as the training loops report them, and the metrics early stopping can watch
(which of them are to be maximised)."""

from __future__ import annotations

import numpy as np

from ..core.heads import REGRESSION_HEADS, n_correct, regression_mean
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
            "val_balanced_accuracy": True, "val_macro_f1": True,
            "val_rmse": False, "val_mae": False, "val_r2": True}
# those that need classes, and those that need a regression head
CLASS_MONITORS = ("val_accuracy", "val_balanced_accuracy", "val_macro_f1")
REGRESSION_MONITORS = ("val_rmse", "val_mae", "val_r2")


def check_monitor(monitor: str | None, output: str) -> None:
    """Refuse a ``monitor`` that is unknown or that the network's head cannot give: the class
    scores need classes (accuracy: softmax or logistic outputs; balanced accuracy and macro F1:
    softmax), RMSE, MAE and R² a regression head."""
    from ..errors import InputError

    if monitor is None:
        return
    if monitor not in MONITORS:
        raise InputError(f"monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
    regression = output in REGRESSION_HEADS
    if monitor in REGRESSION_MONITORS and not regression:
        raise InputError(f"monitor={monitor!r} needs a regression output (numbers), not {output!r}")
    if monitor in CLASS_MONITORS and (regression or (output != "softmax" and monitor != "val_accuracy")):
        raise InputError(f"monitor={monitor!r} needs a classification output"
                         + ("" if regression else " with softmax (classes)") + f", not {output!r}")


def regression_sums(net, logits: Array, y: Array) -> Array | None:
    """Per output k, the sums ``[Σ_i r_ik², Σ_i |r_ik|, Σ_i y_ik, Σ_i y_ik²]`` (4, K) with the
    residual ``r = μ − y`` of the head's prediction μ (Z, or e^Z for the exp head) in the
    network's units; None for a classification head. Sums, so that shards add up (MPI)."""
    if net.output not in REGRESSION_HEADS:
        return None
    return regression_sums_of(regression_mean(net.output, logits), y)


def regression_sums_of(pred: Array, y: Array) -> Array:
    """:func:`regression_sums` of predictions ``pred`` against targets ``y`` (both (n,) or
    (n, K), in any units)."""
    mu = np.asarray(pred, dtype=np.float64)
    mu = mu[:, None] if mu.ndim == 1 else mu
    Y = np.asarray(y, dtype=np.float64).reshape(mu.shape)
    r = mu - Y
    return np.stack([(r * r).sum(axis=0), np.abs(r).sum(axis=0), Y.sum(axis=0), (Y * Y).sum(axis=0)])


def regression_metrics(sums: Array | None, n: int) -> dict:
    """``rmse``, ``mae`` and ``r2`` from :func:`regression_sums` over ``n`` rows, each the
    mean over the outputs of the per-output value (scikit-learn's ``uniform_average``):
    RMSE_k = √(Σr²/n), MAE_k = Σ|r|/n, R²_k = 1 − Σr²/Σ(y − ȳ)², where Σ(y − ȳ)² =
    Σy² − (Σy)²/n; a constant target gives R² = 1 if predicted exactly, else 0 (scikit-learn's
    ``force_finite``). Empty for None (classes) or no rows."""
    if sums is None or not n:
        return {}
    sse, sae, sy, syy = sums
    sst = np.maximum(syy - sy * sy / n, 0.0)
    # a spread below rounding of Σy² is no spread: R² would be noise divided by noise
    flat = sst <= 1e-12 * np.maximum(syy, 1e-300)
    r2 = np.where(flat, np.where(sse <= 0, 1.0, 0.0), 1 - sse / np.where(flat, 1.0, sst))
    return {"rmse": float(np.mean(np.sqrt(sse / n))), "mae": float(np.mean(sae / n)),
            "r2": float(np.mean(r2))}


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
    ``val_macro_f1``, for regression ``val_rmse``, ``val_mae`` and ``val_r2`` (in the network's
    units: :func:`regression_metrics`), of validated X, y.

    ``reduce(loss_sum, hits, cm, n) -> (loss_sum, hits, cm, n)``: X, y are one shard of the
    validation set (data-parallel training, :mod:`handgrad.distributed`) and ``reduce`` sums
    the shard's Σ loss, rows right, confusion matrix (regression: :func:`regression_sums`)
    and rows over all shards. ``logits``:
    the network's logits of X, when the caller has computed them (models trained together)."""
    n = X.shape[0]
    if logits is None:
        logits = forward_in_chunks(net, X) if n else np.empty((0, net.n_outputs), net.dtype)
    hits = n_correct(net.output, logits, y)
    cm = class_confusion(net, logits, y)
    regression = net.output in REGRESSION_HEADS
    if regression:  # the sums of its metrics travel where the confusion matrix would
        cm = regression_sums(net, logits, y) if n else np.zeros((4, net.n_outputs))
    if reduce is None:
        loss = LOSSES[net.output](logits, y, **net.head_params)[0]
    else:  # the mean over the whole set from the shards' sums (an empty shard adds nothing)
        loss_sum = LOSSES[net.output](logits, y, **net.head_params)[0] * n if n else 0.0
        loss_sum, hits, cm, n = reduce(loss_sum, hits, cm, n)
        loss = loss_sum / n
    record = {"val_loss": loss, "val_accuracy": None if hits is None else hits / n}
    metrics = regression_metrics(cm, n) if regression else confusion_metrics(cm)
    record.update({f"val_{k}": v for k, v in metrics.items()})
    return record
