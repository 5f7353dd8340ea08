"""PNG images of a training run: learning curves, a confusion matrix, per-layer diagnostics.

matplotlib is an optional extra (``pip install 'handgrad[cli]'``), imported only when a
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
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..atomic import atomic_writer
from ..errors import InputError

__all__ = ["plot_learning_curves", "plot_confusion_matrix", "plot_diagnostics"]

_MISSING_MPL = "plots need matplotlib: pip install 'handgrad[cli]'"

_DPI = 100
_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#d62728"
_BEST_COLOR = "#2ca02c"


# --------------------------------------------------------------------------- helpers


def _mpl() -> Any:
    """Import what is needed from matplotlib, or refuse with the install hint."""
    try:
        from matplotlib import colormaps, colors, ticker
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise InputError(_MISSING_MPL) from exc

    return SimpleNamespace(Figure=Figure, FigureCanvasAgg=FigureCanvasAgg, ticker=ticker,
                           colors=colors, colormaps=colormaps)


def _new_figure(m: Any, figsize: tuple[float, float]) -> Any:
    fig = m.Figure(figsize=figsize, dpi=_DPI, layout="constrained")
    m.FigureCanvasAgg(fig)
    return fig


def _save_atomic(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise InputError(f"cannot write the image to {str(path)!r}: it is a directory")
    with atomic_writer(path) as fh:
        fig.savefig(fh, format="png", dpi=_DPI)
    return path


def _as_float(value: Any, key: str, epoch: Any) -> float:
    """A history value as float; None, missing and non-finite become NaN."""
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"history entry for epoch {epoch}: {key!r} must be a number or None, "
                         f"got {value!r}") from None
    return out if math.isfinite(out) else math.nan


def _check_history(history: Any) -> list[Mapping]:
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise InputError("history must be a list of per-epoch dicts, "
                         f"got {type(history).__name__}")
    if len(history) == 0:
        raise InputError("history is empty: train for at least one epoch before plotting")
    for i, row in enumerate(history):
        if not isinstance(row, Mapping):
            raise InputError(f"history[{i}] must be a dict of per-epoch values, "
                             f"got {type(row).__name__}")
    return list(history)


def _epochs(history: list[Mapping]) -> np.ndarray:
    out = []
    for i, row in enumerate(history):
        e = row.get("epoch", i + 1)
        try:
            out.append(float(e if e is not None else i + 1))
        except (TypeError, ValueError):
            raise InputError(f"history[{i}]['epoch'] must be a number, got {e!r}") from None
    return np.asarray(out)


def _series(history: list[Mapping], key: str) -> np.ndarray:
    return np.asarray([_as_float(row.get(key), key, row.get("epoch", i + 1))
                       for i, row in enumerate(history)])


def _plot_series(ax: Any, x: np.ndarray, y: np.ndarray, **kw: Any) -> bool:
    """Plot the finite points of ``y`` as one connected line; False when there are none."""
    ok = np.isfinite(y)
    if not ok.any():
        return False
    if ok.sum() <= 30:  # few points: show where the measurements are
        kw.setdefault("marker", "o")
        kw.setdefault("markersize", 3.5 if ok.sum() > 12 else 5)
    ax.plot(x[ok], y[ok], **kw)
    return True


def _integer_epochs(m: Any, ax: Any, x: np.ndarray) -> None:
    """Epoch axis: whole-number ticks at 1-2-5-10 steps; a single epoch is not stretched."""
    ax.set_xlabel("epoch")
    if x.size and float(np.ptp(x)) == 0:
        ax.set_xlim(x[0] - 1, x[0] + 1)
        ax.set_xticks([x[0]])
        return
    ax.xaxis.set_major_locator(m.ticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _spans_decades(values: np.ndarray, decades: float) -> bool:
    v = values[np.isfinite(values)]
    if v.size == 0 or np.any(v <= 0):
        return False
    return float(np.max(v) / np.min(v)) > 10.0 ** decades


def _changes(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return v.size >= 2 and float(np.ptp(v)) > 1e-12 * float(np.max(np.abs(v)))


# --------------------------------------------------------------------------- learning curves


def plot_learning_curves(history: Sequence[Mapping], path: str | os.PathLike, *,
                         title: str | None = None, best_epoch: int | None = None) -> Path:
    """Loss and accuracy per epoch, train and validation, side by side; returns the PNG path.

    The train data-loss part is drawn as a thin dashed line when the L2 part is non-zero; the
    loss axis is logarithmic when the losses span more than two decades. ``best_epoch`` (the
    epoch whose weights early stopping restored) is marked by a vertical dotted line. A third,
    narrow panel shows the learning rate when it changes over the epochs.
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
    lr = _series(history, "lr")
    show_lr = _changes(lr)

    if show_lr:
        fig = _new_figure(m, (12, 4.5))
        ax_loss, ax_acc, ax_lr = fig.subplots(1, 3, width_ratios=[1, 1, 0.55])
    else:
        fig = _new_figure(m, (12, 4.5))
        ax_loss, ax_acc = fig.subplots(1, 2)
    fig.suptitle(title if title else "Learning curves", fontsize=13)

    def best_line(ax: Any) -> None:
        if best_epoch is not None:
            ax.axvline(best_epoch, color=_BEST_COLOR, linestyle=":", linewidth=1.8,
                       label=f"best epoch ({best_epoch})")

    # loss
    any_loss = _plot_series(ax_loss, x, train_loss, color=_TRAIN_COLOR, linewidth=1.8,
                            label="train")
    has_l2 = bool(np.any(np.nan_to_num(l2_loss) > 0))
    if has_l2:
        any_loss |= _plot_series(ax_loss, x, data_loss, color=_TRAIN_COLOR, linewidth=1.0,
                                 linestyle="--", markersize=2.5, label="train (data part, no L2)")
    any_loss |= _plot_series(ax_loss, x, val_loss, color=_VAL_COLOR, linewidth=1.8,
                             label="validation")
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
                            label="validation")
    if any_acc:
        best_line(ax_acc)
        accs = np.concatenate([train_acc, val_acc])
        accs = accs[np.isfinite(accs)]
        if accs.size and accs.min() >= 0 and accs.max() <= 1:
            ax_acc.yaxis.set_major_formatter(m.ticker.PercentFormatter(xmax=1.0, decimals=None))
        ax_acc.set_ylabel("accuracy")
        ax_acc.set_title("Accuracy")
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


# --------------------------------------------------------------------------- confusion matrix


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _count_text(v: float) -> str:
    if float(v).is_integer():
        v = int(v)
        return f"{v / 1000:.0f}k" if v >= 100_000 else str(v)
    return f"{v:.3g}"


def plot_confusion_matrix(cm: Any, class_names: Sequence[str], path: str | os.PathLike, *,
                          title: str | None = None, normalize: bool = False) -> Path:
    """A heatmap of ``cm`` (rows: true class, columns: predicted class); returns the PNG path.

    Every cell is annotated with its count (with ``normalize``: the fraction of its row, i.e.
    of the true class, and the count below it while the cells are large enough). Text is white
    on dark cells and black on light ones; fonts shrink as the number of classes grows.
    """
    try:
        values = np.asarray(cm, dtype=float)
    except (TypeError, ValueError):
        raise InputError("cm must be a square 2-D array of counts") from None
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] == 0:
        raise InputError("cm must be a square 2-D array (n_classes × n_classes), "
                         f"got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InputError("cm must hold finite, non-negative counts")
    n = values.shape[0]
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise InputError(f"class_names must be a list of {n} names, got {class_names!r}")
    if len(class_names) != n:
        raise InputError(f"class_names has {len(class_names)} names but cm is {n}×{n}: "
                         "give one name per class, in the order of cm's rows")
    names = [_short(str(c)) for c in class_names]
    m = _mpl()

    if normalize:
        rows = values.sum(axis=1, keepdims=True)
        shown = np.divide(values, rows, out=np.zeros_like(values), where=rows > 0)
        vmax = 1.0
    else:
        shown = values
        vmax = max(float(values.max()), 1.0)

    longest = max(len(s) for s in names)
    rotate = longest > 3 or (n > 12 and longest > 2)
    label_in = min(longest, 18) * 0.085 + 0.5  # room the tick labels need, inches
    side = float(np.clip(2.0 + 0.4 * n, 4.0, 12.0))  # the matrix itself, inches
    fig = _new_figure(m, (side + label_in + 1.4, side + label_in * (0.75 if rotate else 0.3)
                          + 0.9))
    ax = fig.subplots()
    cmap = m.colormaps["Blues"]
    norm = m.colors.Normalize(vmin=0.0, vmax=vmax)
    im = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest", aspect="equal")

    cell_pt = side * 72.0 / n
    digits = max(len(_count_text(v)) for v in values.ravel())
    fs = float(np.clip(cell_pt * 0.3, 5.0, 13.0))
    fs = min(fs, cell_pt * 0.8 / (0.62 * max(digits, 3 if normalize else 1)))
    fs = max(fs, 4.5)
    two_lines = normalize and cell_pt >= 40
    for i in range(n):
        for j in range(n):
            r, g, b, _ = cmap(norm(shown[i, j]))
            color = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
            if normalize:
                v = shown[i, j]
                text = "0" if v == 0 else f"{v:.0%}" if v >= 0.0095 else f"{v:.1%}"
                if two_lines and v > 0:
                    text += f"\n({_count_text(values[i, j])})"
            else:
                text = _count_text(values[i, j])
            ax.text(j, i, text, ha="center", va="center", color=color,
                    fontsize=fs * (0.85 if two_lines else 1.0), linespacing=1.1)

    tick_fs = float(np.clip(cell_pt * 0.35, 6.5, 11.0))
    ax.set_xticks(np.arange(n), labels=names, fontsize=tick_fs)
    ax.set_yticks(np.arange(n), labels=names, fontsize=tick_fs)
    if rotate:
        for lab in ax.get_xticklabels():
            lab.set_rotation(45)
            lab.set_ha("right")
            lab.set_rotation_mode("anchor")
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6 if n > 15 else 1.0)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("predicted", fontsize=11)
    ax.set_ylabel("true", fontsize=11)
    total = int(values.sum()) if float(values.sum()).is_integer() else values.sum()
    acc = np.trace(values) / values.sum() if values.sum() > 0 else math.nan
    subtitle = f"{total} samples, accuracy {acc:.1%}" if math.isfinite(acc) else "no samples"
    head = title if title else "Confusion matrix" + (" (rows normalized)" if normalize else "")
    fig.suptitle(head, fontsize=13)
    ax.set_title(subtitle, fontsize=10.5, color="0.25")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    cbar.ax.tick_params(labelsize=9)
    if normalize:
        cbar.ax.yaxis.set_major_formatter(m.ticker.PercentFormatter(xmax=1.0))
        cbar.set_label("fraction of the true class", fontsize=10)
    else:
        cbar.set_label("count", fontsize=10)

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
