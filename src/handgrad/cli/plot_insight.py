"""The pictures of what comes after the accuracy: the reliability diagram, the ROC and
precision-recall curves of a two-class model, and the permutation-importance bars."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .figure import _mpl, _new_figure, _save_atomic, literal


def plot_reliability(bins: list[dict], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Accuracy against confidence per bin (``training.calibration.reliability``'s rows), the
    diagonal of perfect calibration, and how many rows each bin holds."""
    m = _mpl()
    fig = _new_figure(m, (5.2, 5.4))
    ax, hist = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    conf = [b["confidence"] for b in bins]
    ax.plot(conf, [b["accuracy"] for b in bins], marker="o", color="C0", label="the model")
    ax.set_ylabel("accuracy in the bin")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(literal(title), fontsize=9)
    hist.bar([(b["from"] + b["to"]) / 2 for b in bins], [b["rows"] for b in bins],
             width=[b["to"] - b["from"] for b in bins], color="C0", alpha=0.5, edgecolor="white")
    hist.set_xlabel("confidence (the largest probability)")
    hist.set_ylabel("rows")
    hist.set_xlim(0, 1)
    return _save_atomic(fig, path)


def plot_roc_pr(score, positive, path: str | os.PathLike, *, title: str | None = None,
                positive_name: str = "1", threshold: float | None = None, **_) -> Path:
    """ROC and precision-recall curves of ``score`` (the positive class's probability), the
    model's cut marked on both."""
    from ..training.threshold import curves

    score, positive = np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=bool)
    c = curves(score, positive)
    m = _mpl()
    fig = _new_figure(m, (9.5, 4.4))
    roc, pr = fig.subplots(1, 2)
    roc.plot(c["fpr"], c["tpr"], color="C0", label=f"ROC AUC {c['roc_auc']:.4f}")
    roc.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate (recall)")
    pr.step(c["recall"], c["precision"], where="post", color="C1",
            label=f"average precision {c['average_precision']:.4f}")
    pr.axhline(positive.mean(), color="0.6", linestyle="--", linewidth=1)
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    cut = 0.5 if threshold is None else threshold
    yes = score >= cut
    tp, fp = np.sum(yes & positive), np.sum(yes & ~positive)
    tpr, fpr = tp / positive.sum(), fp / max((~positive).sum(), 1)
    mark = f"cut at {cut:.3g}"
    roc.plot([fpr], [tpr], "o", color="C3", label=mark)
    pr.plot([tpr], [tp / max(tp + fp, 1)], "o", color="C3", label=mark)
    for ax in (roc, pr):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower right" if ax is roc else "lower left", fontsize=8)
    fig.suptitle(literal(f"{title + ': ' if title else ''}positive class {positive_name}"), fontsize=9)
    return _save_atomic(fig, path)


def plot_importance(imp: dict, path: str | os.PathLike, *, title: str | None = None, top: int = 25) -> Path:
    """Horizontal bars of the permutation importance (mean ± sd over the shuffles), the most
    important column on top; at most ``top`` columns."""
    key = imp["ranked_by"]
    cols = imp["columns"][:top][::-1]
    m = _mpl()
    fig = _new_figure(m, (7.0, 1.2 + 0.28 * len(cols)))
    ax = fig.subplots()
    y = np.arange(len(cols))
    ax.barh(y, [c[key + "_mean"] for c in cols], xerr=[c[key + "_std"] for c in cols], color="C0", alpha=0.8)
    ax.set_yticks(y, [literal(c["column"]) for c in cols], fontsize=8)
    ax.axvline(0, color="0.4", linewidth=0.8)
    ax.set_xlabel({"log_loss": "rise in log loss when the column is shuffled",
                   "r2": "fall in R² when the column is shuffled"}[key])
    if title:
        ax.set_title(literal(title), fontsize=9)
    return _save_atomic(fig, path)
