"""One table column, read and encoded as a fitted :class:`~handgrad.data.features.TableEncoder`
spec says: :func:`read_column` turns its cells into the numbers (or texts) the model reads —
what the ONNX export takes as its inputs — and :func:`encode_column` those into the network's
input columns."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from . import dates, numtext
from .cells import as_bool, short, text
from .preprocessing import standardize

MISSING = "(missing)"
OTHER = "(other)"


def read_column(s: dict, values: list, missing: np.ndarray) -> np.ndarray:
    """One column's cells as :meth:`TableEncoder.read` gives them."""
    kind = s["kind"]
    if kind == "categorical":
        return np.array(["" if m else text(v) for v, m in zip(values, missing)], dtype=object)
    if kind == "date":
        return dates.read(values, missing, s)
    form = s.get("written", numtext.PLAIN)
    x = np.full(len(values), np.nan)
    for i, (v, m) in enumerate(zip(values, missing)):
        if not m:
            f = numtext.number(v, form) if kind == "numeric" else as_bool(v)
            if f is None or not math.isfinite(f):
                what = (f"a number (written like {numtext.example(form)!r})" if kind == "numeric"
                        else "true/false")
                raise InputError(f"column {s['name']!r} holds {short(v)} in row {i + 1}, but the model "
                                 f"reads it as {what}; fix the value or leave the cell empty")
            x[i] = f
    return x


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
    cols = [standardize(filled, s["mean"], s["scale"]) if kind == "numeric" else filled]
    if s["indicator"]:
        cols.append(missing.astype(np.float64))
    return np.column_stack(cols)
