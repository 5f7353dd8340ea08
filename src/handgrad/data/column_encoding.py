"""One table column, read and encoded as a fitted :class:`~handgrad.data.features.TableEncoder`
spec says: :func:`read_column` turns its cells into the numbers (or texts) the model reads —
what the ONNX export takes as its inputs — and :func:`encode_column` those into the network's
input columns."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from . import dates, numtext, quantiles
from .cells import as_bool, cells, distinct, short, text
from .preprocessing import standardize

MISSING = "(missing)"
OTHER = "(other)"


def read_column(s: dict, col) -> np.ndarray:
    """One column's cells as :meth:`TableEncoder.read` gives them."""
    kind = s["kind"]
    typed = (dates.typed_days(col) if kind == "date" else numtext.typed_numbers(col)
             if kind == "numeric" and s.get("written", numtext.PLAIN)["unit"] != "%" else None)
    if typed is not None and not np.isinf(typed).any():  # a typed column, all at once
        return typed
    values, missing = cells(col)
    if kind == "categorical":
        return np.array(["" if m else text(v) for v, m in zip(values, missing)], dtype=object)
    if kind == "numeric":
        form = s.get("written", numtext.PLAIN)
        read, what = (lambda v: numtext.number(v, form)), f"it as a number (written like {numtext.example(form)!r})"
    elif kind == "date":
        read, what = (lambda v: dates.days(v, s["order"])), f"dates there (written like {dates.written_like(s)})"
    else:
        read, what = as_bool, "it as true/false"
    present = np.flatnonzero(~missing)
    uniq, inverse = distinct([values[i] for i in present])  # each distinct cell read once
    got = np.array([_finite_or_nan(read(v)) for v in uniq], dtype=np.float64)
    bad = np.isnan(got)
    if bad.any():
        i = int(present[np.argmax(bad[inverse])])
        raise InputError(f"column {s['name']!r} holds {short(values[i])} in row {i + 1}, but the model "
                         f"reads {what}; fix the value or leave the cell empty")
    x = np.full(len(values), np.nan)
    x[present] = got[inverse]
    return x


def _finite_or_nan(f) -> float:
    return f if f is not None and math.isfinite(f) else math.nan


def encode_column(s: dict, x: np.ndarray) -> np.ndarray:
    """The encoded block of one column from :func:`read_column`'s values."""
    kind = s["kind"]
    if kind == "categorical":
        levels = list(s["categories"]) + ([OTHER] if s["other"] else []) + ([MISSING] if s["missing"] else [])
        index = {c: j for j, c in enumerate(levels)}
        out = np.zeros((len(x), len(levels)))
        for i, v in enumerate(x):
            j = index.get(MISSING if v == "" else v)
            if j is None and v != "":
                j = index.get(OTHER)  # unseen or rare: (other) if there is one, else all 0
            if j is not None:
                out[i, j] = 1.0
        return out
    missing = np.isnan(x)
    if kind == "date":
        return dates.features(s, x, missing)
    filled = np.where(missing, s["fill"], x)
    cols = [filled]
    if kind == "numeric":  # standardised, quantile-mapped, or (scaling "both") the two side by side
        mapped = ([quantiles.apply_map(filled, *quantiles.knots(s["quantiles"]))]
                  if "quantiles" in s else [])
        cols = ([standardize(filled, s["mean"], s["scale"])] if not mapped or s.get("both") else []) + mapped
    if s["indicator"]:
        cols.append(missing.astype(np.float64))
    return np.column_stack(cols)
