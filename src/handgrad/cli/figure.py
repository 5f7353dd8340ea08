"""What the plots share: matplotlib imported on first use (an optional extra), bare Agg
figures that touch no pyplot state, atomic PNG writes, and reading the training history."""

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


_MISSING_MPL = "plots need matplotlib: pip install '.[cli]' in handgrad's folder"

_DPI = 100
_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#d62728"
_BEST_COLOR = "#2ca02c"


def literal(text: Any) -> str:
    """``text`` drawn as written: matplotlib reads a pair of ``$`` as math (``$\\foo$`` in a
    label or file name raises at draw time), so each ``$`` is escaped."""
    return str(text).replace("$", r"\$")


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
