"""The cells of a table column as the table encoding reads them: which are empty, how a cell
is written as text, true/false, and refusals gathered over all columns of a table."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

TRUE = {"true", "yes", "t", "y"}
FALSE = {"false", "no", "f", "n"}


def pandas():
    try:
        import pandas
    except ImportError:
        raise InputError("tables with text columns need pandas: pip install '.[cli]' in handgrad's folder") from None
    return pandas


def cells(col) -> tuple[list, np.ndarray]:
    """(values as Python objects, missing mask): NaN, NaT, None, pandas' NA and blank text
    are missing."""
    pd = pandas()
    values = col.tolist()
    missing = np.array(pd.isna(col).to_numpy(), dtype=bool)
    for i, v in enumerate(values):
        if isinstance(v, str) and not v.strip():
            missing[i] = True
    return values, missing


def distinct(values: list) -> tuple[list, np.ndarray]:
    """(the distinct values in the order they first appear, each value's index among them):
    reading a column's distinct cells once each is what keeps a large table fast. Values are
    told apart by type and value (1, 1.0 and True stay three); unhashable cells (a Parquet
    list) are taken one by one."""
    index: dict = {}
    try:
        inverse = np.fromiter((index.setdefault((type(v), v), len(index)) for v in values),
                              dtype=np.int64, count=len(values))
    except TypeError:
        return list(values), np.arange(len(values))
    return [v for _, v in index], inverse


def as_bool(v) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    text = str(v).strip().lower()
    return 1.0 if text in TRUE else 0.0 if text in FALSE else None


def text(v) -> str:
    """A cell as a category's text: surrounding spaces removed, 3.0 read from a column with
    gaps as "3"."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def short(v, limit: int = 40) -> str:
    """A cell for a message: its text quoted, cut to ``limit`` characters."""
    shown = repr(text(v)) if not isinstance(v, str) else repr(v.strip())
    return shown if len(shown) <= limit else shown[:limit - 4] + "...'"


def each_column(fn, items) -> list:
    """``fn`` on every (column, data) pair; the refusals of all columns are gathered into one
    message, so that a table with several bad columns is fixed in one round trip."""
    out, problems = [], []
    for item in items:
        try:
            out.append(fn(*item))
        except InputError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise InputError(problems[0])
    if problems:
        raise InputError(f"{len(problems)} columns cannot be used: " + "; ".join(problems))
    return out
