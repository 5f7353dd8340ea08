"""Numeric targets: whether a target column is classes or a number (the task), the numbers of a
regression target as read, and the target scaling a regression model stores.

**The task** (:func:`decide_task`, ``handgrad train --task auto``; the rules README and
docs state):

* text labels and true/false → classification;
* numbers with a fractional part → regression;
* whole numbers: at most :data:`CLASSES_AT_MOST` (20) distinct values → classification
  (digits, a 0–10 score), unless they look like counts: at least :data:`COUNT_LEVELS` (5)
  values from 0, fewer rows at each larger value (the rank correlation of value and rows at
  most :data:`COUNT_FALLING`, −0.8) → regression (visits to a doctor: 0 most often, 9 once);
  more than :data:`NUMBER_ABOVE` (50) distinct values, or fewer than :data:`ROWS_PER_CLASS`
  (20) rows per value on average → regression (a price, a count with a long tail); otherwise
  (21–50 values, each common) the rule is unsure and asks for ``--task``.

Every decision on a numeric column comes with a note saying what was decided and the option
that decides otherwise; a text column needs none (the run's header counts its classes).

The scaling a regression model stores is :mod:`handgrad.data.target_scaling`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

CLASSES_AT_MOST = 20   # whole numbers with at most this many values are classes...
COUNT_LEVELS = 5       # ... unless, with at least this many values from 0,
COUNT_FALLING = -0.8   # ... the rows per value fall as the value grows (rank correlation): counts
NUMBER_ABOVE = 50      # ... with more than this many values are a number
ROWS_PER_CLASS = 20    # ... and so are values seen on fewer rows each than this, on average
TASKS = ("auto", "classification", "regression")


def decide_task(values: np.ndarray | None, target: str, task: str = "auto",
                example: str = "") -> tuple[str, list[str]]:
    """(``"classification"`` or ``"regression"``, notes) for a target column whose present
    cells read as the float64 numbers ``values``, or None when they are not all numbers
    (text, true/false; ``example`` says where, :func:`first_non_number`). ``task`` other than
    "auto" is the user's word: it is checked against the values (regression needs numbers),
    not second-guessed."""
    if task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if values is None:
        if task == "regression":
            raise InputError(f"target column {target!r} holds text, not numbers{example}: regression "
                             "needs a numeric target (--task classification, or choose another --target)")
        return "classification", []
    if task != "auto":
        return task, []
    fraction = values[values != np.round(values)]
    levels, rows = np.unique(values, return_counts=True)
    return decide_numbers(fraction[0] if fraction.size else None, int(levels.size), int(values.size),
                          target, levels=levels, rows=rows)


def looks_like_counts(levels: np.ndarray, rows: np.ndarray) -> bool:
    """Whole ``levels`` (sorted) seen on ``rows`` rows each look like counts: at least
    :data:`COUNT_LEVELS` of them, starting at 0, the rows falling as the value grows (Spearman's
    rank correlation of value and rows ≤ :data:`COUNT_FALLING`). Digits (rows alike for every
    value) and a 0–10 score (most rows in the middle) do not."""
    if levels.size < COUNT_LEVELS or levels[0] != 0:
        return False
    # the rows' ranks, ties sharing their mean rank (Spearman's rule)
    order = np.argsort(rows, kind="stable")
    ranks = np.empty(rows.size)
    ranks[order] = np.arange(rows.size, dtype=np.float64)
    _, tie, ties = np.unique(rows, return_inverse=True, return_counts=True)
    ranks = (np.bincount(tie, weights=ranks) / ties)[tie]
    if np.std(ranks) == 0:
        return False
    rho = np.corrcoef(np.arange(levels.size, dtype=np.float64), ranks)[0, 1]
    return bool(rho <= COUNT_FALLING)


def decide_numbers(fraction, k: int, n: int, target: str, at_least: bool = False,
                   levels=None, rows=None) -> tuple[str, list[str]]:
    """:func:`decide_task`'s rule for a numeric column of ``n`` present values, ``k`` of them
    distinct (``at_least``: k or more, when a pass over a large file stopped counting),
    ``fraction`` one of them with a fractional part or None; ``levels`` and ``rows``: the
    distinct values (sorted) and the rows of each, when there are few."""
    if n == 0:
        return "classification", []
    if fraction is not None:
        return "regression", [f"target column {target!r} holds numbers with fractions (e.g. {fraction:g}): "
                              "regression (--task classification to refuse that)"]
    if k <= CLASSES_AT_MOST and levels is not None and looks_like_counts(np.asarray(levels), np.asarray(rows)):
        return "regression", [f"target column {target!r} holds {k} whole numbers from 0 to {levels[-1]:g}, "
                              "fewer rows at each larger value, like counts: regression (--task "
                              "classification to treat them as classes; --loss poisson models counts)"]
    if k <= CLASSES_AT_MOST:
        return "classification", [f"target column {target!r} holds {k} distinct whole numbers: "
                                  f"classification into {k} classes (--task regression to predict "
                                  "it as a number)"]
    if k > NUMBER_ABOVE or n < ROWS_PER_CLASS * k:
        return "regression", [f"target column {target!r} holds {k}{'+' if at_least else ''} distinct "
                              f"whole numbers over {n} rows: regression (--task classification to "
                              "treat them as classes)"]
    raise InputError(f"target column {target!r} holds {k} distinct whole numbers over {n} rows, "
                     f"each on {n // k} rows on average: they could be {k} classes or a "
                     "number; say which with --task classification or --task regression")


def numbers_of(col, as_text: bool, target: str = "") -> tuple[np.ndarray | None, np.ndarray]:
    """(float64 numbers of the present cells or None when they are not all numbers, the (n,)
    mask of cells without a value) of a target column. ``as_text``: the cells as written in a
    text file (an empty cell or a missing-value marker such as NA is no value; a number
    written with a leading zero, ``01``, is a code, not a number; numbers written with
    thousands separators, a decimal comma or a unit are read as
    :mod:`~handgrad.data.numtext` says). Otherwise typed: integer
    and float columns are numbers, true/false and text are not (text columns of a typed file
    are read as a text file's)."""
    from .columns import LABEL_MARKERS, _NUMBER, _import_pandas, _plain

    pd = _import_pandas()
    if not as_text:
        col = _plain(col)
        if pd.api.types.is_bool_dtype(col.dtype):
            return None, np.array(col.isna().to_numpy(), dtype=bool)
        if pd.api.types.is_numeric_dtype(col.dtype):
            missing = np.array(col.isna().to_numpy(), dtype=bool)
            return col[~missing].to_numpy(dtype=np.float64), missing
        if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
            return None, np.array(col.isna().to_numpy(), dtype=bool)
        if col.dtype == object and any(not isinstance(v, str) for v in col.dropna().tolist()):
            from .numtext import readings  # Parquet decimals (decimal.Decimal) are numbers

            missing = np.array(col.isna().to_numpy(), dtype=bool)
            cells = col[~missing].tolist()
            if all(not isinstance(v, (str, bool)) and readings(v) is not None for v in cells):
                return np.array([readings(v)[1]["."] for v in cells], dtype=np.float64), missing
            return None, missing
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
    missing = np.array((text.eq("") | text.isin(LABEL_MARKERS)).to_numpy(), dtype=bool)
    present = text[~missing]
    if present.str.fullmatch(r"[+-]?0\d.*").any():
        return None, np.array(text.eq("").to_numpy(), dtype=bool)
    if present.str.fullmatch(_NUMBER).all():
        return present.astype(float).to_numpy(dtype=np.float64), missing
    # numbers written with separators or a unit (12,570, $5, 12.5%): the features' reader
    from .numtext import column_numbers

    found = column_numbers(present.tolist(), f"target {target}")
    if found is None:
        return None, np.array(text.eq("").to_numpy(), dtype=bool)
    return np.array(found[1], dtype=np.float64), missing


def first_non_number(col, offset: int = 0) -> str:
    """`` ('abc' in row 5)``: the first present cell of a target column that is not a number
    (rows counted from 1, the column's first being row ``offset + 1``), for the refusal of a
    regression target; "" if none is found."""
    import re

    from ..errors import row_of, shown
    from .columns import LABEL_MARKERS, _NUMBER

    for i, value in enumerate(col.tolist()):
        if value is None or (isinstance(value, float) and value != value):
            continue
        text = str(value).strip()
        if text and text not in LABEL_MARKERS and (isinstance(value, (bool, np.bool_))
                                                   or not re.fullmatch(_NUMBER, text)):
            return f" ({shown(value)} in {row_of(offset + i)})"
    return ""


def regression_values(values: np.ndarray, missing: np.ndarray, target: str) -> np.ndarray:
    """The numbers of a regression target, refusing ±inf (naming the row)."""
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        row = int(np.flatnonzero(~missing)[i]) + 1
        raise InputError(f"target column {target!r} holds {values[i]} in row {row}; a regression target "
                         "must be a finite number (leave the cell empty to leave the row out)")
    return values


def read_target(col, target: str, as_text: bool, task: str = "classification"
                ) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(targets of the rows that have one, (n,) mask of the rows without, notes, task) of a
    target column: class labels as :func:`~handgrad.data.columns.label_column` reads them for
    classification, float64 numbers for regression; ``task`` "auto" decides by
    :func:`decide_task`."""
    from .columns import label_column

    if task == "classification":
        y, missing, notes = label_column(col, target, as_text)
        return y, missing, notes, task
    values, missing = numbers_of(col, as_text, target)
    if values is None:
        refuse_dates(col, target)
    decided, notes = decide_task(values, target, task,
                                 first_non_number(col) if values is None and task == "regression" else "")
    if decided == "classification":
        y, missing, more = label_column(col, target, as_text)
        return y, missing, notes + more, decided
    return regression_values(values, missing, target), missing, notes, decided


def refuse_dates(col, target: str) -> None:
    """Refuse a target column of dates for a regression (or a task still to decide)."""
    from .cells import cells, short
    from .dates import looks_like_date

    values, missing = cells(col)
    present = [v for v, m in zip(values, missing) if not m]
    if present and all(looks_like_date(v) for v in present):
        raise InputError(f"target column {target!r} holds dates ({short(present[0])}): handgrad predicts "
                         "classes or numbers, not dates; make the target a number (e.g. days since a "
                         "fixed day), or pass --task classification to treat each date as a class")
