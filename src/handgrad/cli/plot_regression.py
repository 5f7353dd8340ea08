"""The pictures a regression is judged by: predicted against actual, residuals against the
prediction, and the residuals' distribution — one row of three panels per target."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from .figure import _mpl, _new_figure, _save_atomic, literal

_MAX_POINTS = 20_000  # more points draw as one blot, slowly: a seeded sample is drawn instead
_MAX_TARGETS = 4


def plot_regression(y_true, y_pred, path: str | os.PathLike, *, title: str | None = None,
                    names: Sequence[str] | None = None) -> Path:
    """Per target (at most four): predicted ŷ against actual y with the line ŷ = y; the
    residual ŷ − y against ŷ with the zero line; the residuals' histogram with their mean and
    standard deviation. ``y_true`` and ``y_pred`` are (n,) or (n, k), in the target's units.
    Returns the PNG path."""
    try:
        Y = np.asarray(y_true, dtype=np.float64)
        P = np.asarray(y_pred, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("y_true and y_pred must be numbers") from None
    Y, P = Y.reshape(len(Y), -1), P.reshape(len(P), -1)
    if Y.shape != P.shape or Y.shape[0] == 0:
        raise InputError(f"y_true {Y.shape} and y_pred {P.shape} must have the same non-empty shape")
    if not (np.all(np.isfinite(Y)) and np.all(np.isfinite(P))):
        raise InputError("y_true and y_pred must be finite")
    k = min(Y.shape[1], _MAX_TARGETS)
    names = [f"target {j + 1}" for j in range(k)] if names is None else [literal(n) for n in names[:k]]
    rows = np.arange(Y.shape[0])
    if rows.size > _MAX_POINTS:
        rows = np.sort(np.random.default_rng(0).choice(rows, _MAX_POINTS, replace=False))
    m = _mpl()
    fig = _new_figure(m, (13.5, 4.2 * k))
    axes = np.asarray(fig.subplots(k, 3)).reshape(k, 3)
    fig.suptitle(literal(title) if title else "Predictions", fontsize=13)
    alpha = float(np.clip(30 / np.sqrt(rows.size), 0.08, 0.8))
    for j in range(k):
        y, p = Y[rows, j], P[rows, j]
        r = p - y
        ax = axes[j, 0]
        ax.scatter(y, p, s=10, alpha=alpha, color="#1f77b4", edgecolors="none")
        lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], color="0.3", linestyle="--", linewidth=1.2, label="ŷ = y")
        ax.set_xlabel(f"actual {names[j]}")
        ax.set_ylabel(f"predicted {names[j]}")
        ax.set_title("Predicted against actual")
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax = axes[j, 1]
        ax.scatter(p, r, s=10, alpha=alpha, color="#d62728", edgecolors="none")
        ax.axhline(0, color="0.3", linestyle="--", linewidth=1.2)
        ax.set_xlabel(f"predicted {names[j]}")
        ax.set_ylabel("residual ŷ − y")
        ax.set_title("Residuals against the prediction")
        ax.grid(True, alpha=0.3)
        ax = axes[j, 2]
        all_r = P[:, j] - Y[:, j]
        ax.hist(all_r, bins=int(np.clip(np.sqrt(all_r.size), 10, 60)), color="#7f7f7f")
        ax.axvline(0, color="0.3", linestyle="--", linewidth=1.2)
        ax.set_xlabel("residual ŷ − y")
        ax.set_ylabel("rows")
        ax.set_title(f"Residuals: mean {all_r.mean():.3g}, sd {all_r.std():.3g}")
        ax.grid(True, alpha=0.3)
    return _save_atomic(fig, path)
