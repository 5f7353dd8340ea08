"""PNG images of a training run: learning curves, a confusion matrix, per-layer diagnostics.

matplotlib is an optional extra (``pip install '.[cli]' in handgrad's folder``), imported only when a
function here is called. No pyplot state is touched: every figure is a bare
:class:`matplotlib.figure.Figure` drawn by the Agg canvas, so these functions work on
headless machines, in threads and next to an interactive session without changing its backend.

Every function writes its PNG atomically (a temporary file in the target directory, then
:func:`os.replace`), creates missing parent directories and returns the path written.

The training history is a list of dicts, one per epoch, with keys ``epoch`` (1-based),
``train_loss``, ``train_data_loss``, ``train_l2_loss``, ``train_accuracy``, ``val_loss`` and
``val_accuracy`` (None without a validation set), ``lr``, ``time`` and ``diagnostics``
(``grad_norm`` and ``update_ratio`` per layer, ``dead_fraction`` per hidden layer, None for
layers whose activation cannot die). Missing or None values are left out of the plots.

The confusion matrix is drawn in :mod:`.plot_confusion` and what the plots share (the lazy
import, the figure, the atomic write, reading the history) is in :mod:`.figure`; all three
plot functions are importable from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .figure import (_BEST_COLOR, _TRAIN_COLOR, _VAL_COLOR, _as_float, _changes, _check_history,
                     _epochs, _integer_epochs, _mpl, _new_figure, _no_data, _plot_series,
                     _save_atomic, _series, _spans_decades, literal)
from .plot_confusion import plot_confusion_matrix
from .plot_regression import plot_regression
from .plot_insight import plot_importance, plot_reliability, plot_roc_pr

__all__ = ["plot_learning_curves", "plot_confusion_matrix", "plot_diagnostics", "plot_regression",
           "plot_reliability", "plot_roc_pr", "plot_importance"]


# --------------------------------------------------------------------------- learning curves

def plot_learning_curves(history: Sequence[Mapping], path: str | os.PathLike, *,
                         title: str | None = None, best_epoch: int | None = None,
                         val_label: str = "validation", best_label: str = "best epoch") -> Path:
    """Loss and accuracy per epoch, train and validation, side by side (a regression's history,
    which has no accuracy: its validation R²); returns the PNG path.

    The train data-loss part is drawn as a thin dashed line when the L2 part is non-zero; the
    loss axis is logarithmic when the losses span more than two decades. ``best_epoch`` (the
    epoch whose weights early stopping restored) is marked by a vertical dotted line. A third,
    narrow panel shows the learning rate when it changes over the epochs. ``val_label`` and
    ``best_label`` name the validation curve and the marked epoch (cross-validation: the folds'
    mean, and the epochs chosen).
    """
    history = _check_history(history)
    m = _mpl()
    x = _epochs(history)
    if best_epoch is not None:
        if isinstance(best_epoch, bool) or not isinstance(best_epoch, (int, np.integer)):
            raise InputError(f"best_epoch must be an epoch number (int), got {best_epoch!r}")
        if not (x.min() <= best_epoch <= x.max()):
            raise InputError(f"best_epoch={best_epoch} is outside the history's epochs "
                             f"{x.min():g}..{x.max():g}")

    train_loss, val_loss = _series(history, "train_loss"), _series(history, "val_loss")
    data_loss, l2_loss = _series(history, "train_data_loss"), _series(history, "train_l2_loss")
    train_acc, val_acc = _series(history, "train_accuracy"), _series(history, "val_accuracy")
    score = "accuracy"
    if not (np.isfinite(train_acc).any() or np.isfinite(val_acc).any()):
        r2 = _series(history, "val_r2")  # a regression: its validation R² where accuracy would be
        if np.isfinite(r2).any():
            train_acc, val_acc, score = np.full_like(r2, np.nan), r2, "R²"
    lr = _series(history, "lr")
    show_lr = _changes(lr)

    if show_lr:
        fig = _new_figure(m, (12, 4.5))
        ax_loss, ax_acc, ax_lr = fig.subplots(1, 3, width_ratios=[1, 1, 0.55])
    else:
        fig = _new_figure(m, (12, 4.5))
        ax_loss, ax_acc = fig.subplots(1, 2)
    fig.suptitle(literal(title) if title else "Learning curves", fontsize=13)

    def best_line(ax: Any) -> None:
        if best_epoch is not None:
            ax.axvline(best_epoch, color=_BEST_COLOR, linestyle=":", linewidth=1.8,
                       label=f"{best_label} ({best_epoch})")

    # loss
    any_loss = _plot_series(ax_loss, x, train_loss, color=_TRAIN_COLOR, linewidth=1.8,
                            label="train")
    has_l2 = bool(np.any(np.nan_to_num(l2_loss) > 0))
    if has_l2:
        any_loss |= _plot_series(ax_loss, x, data_loss, color=_TRAIN_COLOR, linewidth=1.0,
                                 linestyle="--", markersize=2.5, label="train (data part, no L2)")
    any_loss |= _plot_series(ax_loss, x, val_loss, color=_VAL_COLOR, linewidth=1.8,
                             label=val_label)
    if any_loss:
        best_line(ax_loss)
        plotted = np.concatenate([train_loss, val_loss, data_loss if has_l2 else []])
        if _spans_decades(plotted, 2.0):
            ax_loss.set_yscale("log")
        ax_loss.set_ylabel("loss")
        ax_loss.set_title("Loss")
        _integer_epochs(m, ax_loss, x)
        ax_loss.grid(True, which="major", alpha=0.35)
        ax_loss.grid(True, which="minor", alpha=0.12)
        ax_loss.legend(loc="best", fontsize=9, framealpha=0.85)
    else:
        ax_loss.set_title("Loss")
        _no_data(ax_loss, "no loss recorded")

    # accuracy
    any_acc = _plot_series(ax_acc, x, train_acc, color=_TRAIN_COLOR, linewidth=1.8,
                           label="train")
    any_acc |= _plot_series(ax_acc, x, val_acc, color=_VAL_COLOR, linewidth=1.8,
                            label=val_label)
    if any_acc:
        best_line(ax_acc)
        accs = np.concatenate([train_acc, val_acc])
        accs = accs[np.isfinite(accs)]
        if score == "accuracy" and accs.size and accs.min() >= 0 and accs.max() <= 1:
            ax_acc.yaxis.set_major_formatter(m.ticker.PercentFormatter(xmax=1.0, decimals=None))
        if score == "R²" and accs.size and accs.min() < -1:  # the first epochs would flatten the rest
            ax_acc.set_ylim(-1, max(1.0, float(accs.max())) + 0.02)
        ax_acc.set_ylabel(score)
        ax_acc.set_title(score[0].upper() + score[1:])
        _integer_epochs(m, ax_acc, x)
        ax_acc.grid(True, alpha=0.35)
        ax_acc.legend(loc="best", fontsize=9, framealpha=0.85)
    else:
        ax_acc.set_title("Accuracy")
        _no_data(ax_acc, "no accuracy recorded")

    if show_lr:
        _plot_series(ax_lr, x, lr, color="0.3", linewidth=1.5, drawstyle="steps-post")
        best_line(ax_lr)
        if _spans_decades(lr, 1.0):
            ax_lr.set_yscale("log")
        else:
            ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax_lr.set_title("Learning rate")
        ax_lr.set_ylabel("lr")
        _integer_epochs(m, ax_lr, x)
        ax_lr.grid(True, alpha=0.35)

    return _save_atomic(fig, path)


# --------------------------------------------------------------------------- diagnostics

def _layer_matrix(history: list[Mapping], key: str) -> np.ndarray:
    """(epochs, layers) array of ``diagnostics[key]``; NaN where missing or None."""
    rows = []
    for i, row in enumerate(history):
        diag = row.get("diagnostics") or {}
        if not isinstance(diag, Mapping):
            raise InputError(f"history[{i}]['diagnostics'] must be a dict, "
                             f"got {type(diag).__name__}")
        vals = diag.get(key) or []
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
            vals = [vals]
        rows.append([_as_float(v, f"diagnostics.{key}", row.get("epoch", i + 1))
                     for v in vals])
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _layer_colors(m: Any, n: int) -> list:
    if n <= 10:
        return [m.colormaps["tab10"](i) for i in range(n)]
    cmap = m.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]


def _per_layer_panel(m: Any, ax: Any, x: np.ndarray, values: np.ndarray, colors: list,
                     title: str, ylabel: str, log: bool) -> bool:
    drawn = 0
    for layer in range(values.shape[1]):
        y = values[:, layer].copy()
        if log:
            y[y <= 0] = np.nan  # a zero norm cannot be drawn on a log axis
        if _plot_series(ax, x, y, color=colors[layer], linewidth=1.5,
                        label=f"layer {layer + 1}"):
            drawn += 1
    ax.set_title(title)
    if not drawn:
        _no_data(ax, "not recorded")
        return False
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    _integer_epochs(m, ax, x)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    return True


def plot_diagnostics(history: Sequence[Mapping], path: str | os.PathLike) -> Path:
    """Per-layer gradient norm, update-to-weight ratio and dead-ReLU fraction over epochs.

    Gradient norm and update ratio are drawn on log axes (a dotted line marks the 1e-3 rule of
    thumb for the update ratio); the dead fraction is drawn for every hidden layer that has
    values (layers whose values are all None are skipped). Raises :class:`InputError` when no
    epoch carries any diagnostics. Returns the PNG path.
    """
    history = _check_history(history)
    m = _mpl()
    x = _epochs(history)
    grad = _layer_matrix(history, "grad_norm")
    ratio = _layer_matrix(history, "update_ratio")
    dead = _layer_matrix(history, "dead_fraction")
    if not (np.isfinite(grad).any() or np.isfinite(ratio).any() or np.isfinite(dead).any()):
        raise InputError("history has no diagnostics to plot: no epoch has 'diagnostics' with "
                         "grad_norm, update_ratio or dead_fraction values")

    fig = _new_figure(m, (13.5, 4.5))
    ax_g, ax_r, ax_d = fig.subplots(1, 3)
    fig.suptitle("Training diagnostics per layer", fontsize=13)

    # the same colour for layer ℓ in every panel (hidden layer ℓ is the output of layer ℓ)
    colors = _layer_colors(m, max(grad.shape[1], ratio.shape[1], dead.shape[1]))
    _per_layer_panel(m, ax_g, x, grad, colors, "Gradient norm", "‖∂L/∂W‖", log=True)
    if _per_layer_panel(m, ax_r, x, ratio, colors, "Update / weight ratio", "‖ΔW‖ / ‖W‖",
                        log=True):
        ax_r.axhline(1e-3, color="0.45", linestyle=":", linewidth=1.4, zorder=0,
                     label="update ratio 1e-3 (rule of thumb)")

    keep = [j for j in range(dead.shape[1]) if np.isfinite(dead[:, j]).any()]
    ax_d.set_title("Dead ReLU fraction (hidden layer ℓ)")
    if keep:
        for j in keep:
            _plot_series(ax_d, x, dead[:, j], color=colors[j], linewidth=1.5,
                         label=f"layer {j + 1}")
        ax_d.set_ylim(-0.03, 1.03)
        ax_d.yaxis.set_major_formatter(m.ticker.PercentFormatter(xmax=1.0))
        ax_d.set_ylabel("fraction of dead units")
        _integer_epochs(m, ax_d, x)
        ax_d.grid(True, alpha=0.35)
    else:
        _no_data(ax_d, "no ReLU-type hidden layers")

    # one legend below the three panels, entries collected once, in layer order
    entries: dict[str, Any] = {}
    for ax in (ax_g, ax_r, ax_d):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        def order(label: str) -> tuple[int, int]:
            tail = label.rsplit(" ", 1)[-1]
            return (0, int(tail)) if tail.isdigit() else (1, 0)

        labels = sorted(entries, key=order)
        fig.legend([entries[k] for k in labels], labels, loc="outside lower center",
                   ncol=min(len(labels), 9), fontsize=9, frameon=False)

    return _save_atomic(fig, path)
