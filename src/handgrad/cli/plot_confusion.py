"""The confusion-matrix image: counts and row-normalised shares, readable up to many classes."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .figure import _mpl, _new_figure, _save_atomic, literal


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
    names = [literal(_short(str(c))) for c in class_names]
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
    fig.suptitle(literal(head), fontsize=13)
    ax.set_title(subtitle, fontsize=10.5, color="0.25")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    cbar.ax.tick_params(labelsize=9)
    if normalize:
        cbar.ax.yaxis.set_major_formatter(m.ticker.PercentFormatter(xmax=1.0))
        cbar.set_label("fraction of the true class", fontsize=10)
    else:
        cbar.set_label("count", fontsize=10)

    return _save_atomic(fig, path)
