"""Table columns into arrays: class labels as read (integers or text, never silently merged or
rounded), and feature columns as float64 (numbers only; anything else refused by name)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

_INT64_MAX = int(np.iinfo(np.int64).max)
_EXACT_FLOAT_INT = 2.0 ** 53  # float64 holds every whole number below this, not all above


def _import_pandas():
    try:
        import pandas
    except ImportError:
        raise InputError("reading tables needs pandas, which is not installed; pip install '.[cli]' in handgrad's folder") from None
    return pandas


def _plain(col):
    """Turn categorical and generic-object columns into the dtype their values actually have."""
    pd = _import_pandas()
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    if col.dtype != object:
        return col
    try:
        return col.infer_objects()
    except OverflowError:  # pandas 3.0, a whole number beyond any float: the cells as they are,
        return col         # whose reader names the column


def _labels(col, target: str, as_text: bool = False) -> np.ndarray:
    """The target column as int64 or str labels (see :func:`label_column`); an empty cell is
    refused naming its row."""
    y, missing, _ = label_column(col, target, as_text)
    refuse_unlabelled(missing, target)
    return y


def refuse_unlabelled(missing: np.ndarray, target: str) -> None:
    """Refuse rows without a label, naming the first and counting the others."""
    if missing.any():
        rows = np.flatnonzero(missing)
        raise InputError(f"target column {target!r} is empty in row {int(rows[0]) + 1}"
                         + (f" (and {rows.size - 1} more rows)" if rows.size > 1 else "")
                         + " (an empty cell, or NA and the like among numeric labels); every row "
                         "needs a class label (drop the unlabelled rows)")


def label_column(col, target: str, as_text: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(labels of the labelled rows, (n,) mask of the rows without a label, notes).

    ``as_text``: ``col`` holds the cells exactly as written in a text file (empty cells as
    missing, nothing else converted); the labels are then read by the rule of
    :func:`_text_labels`. Otherwise ``col`` is typed (Parquet, a DataFrame): integers, whole
    floats and bools are int64 labels, text is str (surrounding spaces removed), missing
    values (None, NaN, empty text) mark rows without a label.
    """
    pd = _import_pandas()
    if as_text:
        return _text_labels(col, target)
    col = _plain(col)
    if col.dtype == object:  # Parquet binary or nested columns: bytes, lists, dicts, ...
        col = _scalar_cells(col, target)
    textual = pd.api.types.is_string_dtype(col.dtype) or col.dtype == object
    missing = np.array(col.isna().to_numpy(), dtype=bool)  # a writable copy
    if textual:  # an empty or blank cell is no label either
        missing |= col.astype(str).str.strip().eq("").to_numpy()
    col = col[~missing]
    if pd.api.types.is_unsigned_integer_dtype(col.dtype):
        values = col.to_numpy(dtype=np.uint64)
        too_large = values > np.uint64(_INT64_MAX)
        if too_large.any():  # int64 would wrap them around to negative labels
            i = int(np.argmax(too_large))
            raise InputError(f"target column {target!r} holds the integer {values[i]} in row "
                             f"{_row(missing, i)}, beyond the largest class label handgrad keeps "
                             f"({_INT64_MAX}); use smaller integers or text labels")
        return values.astype(np.int64), missing, []
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
        return col.to_numpy(dtype=np.int64), missing, []
    if pd.api.types.is_float_dtype(col.dtype):
        return _whole_numbers(col.to_numpy(dtype=np.float64), missing, target), missing, []
    if textual:
        return _checked_text(col.astype(str).str.strip(), missing, target), missing, []
    raise InputError(f"target column {target!r} has type {col.dtype}; a classifier needs integer or text labels")


# A missing-value marker in a text file's label column (R's NA, a database's NULL, ...).
LABEL_MARKERS = frozenset({"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                           "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "None"})
_NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|Inf|INF|infinity|Infinity)"
_LEADING_ZERO = r"[+-]?0\d.*"  # 01, 007, -05.5: a code written with a zero in front


def _text_labels(col, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels of a text file's column, read as text and compared as text.

    * Surrounding spaces are not part of a label (``cat`` and ``cat `` are one class); an empty
      cell is no label.
    * Column of numbers (every label a number, none written with a leading zero): integers
      (whole numbers written ``2.0`` too), as before; a fractional number is refused (a
      classifier needs classes, not measurements), and so are two ways of writing one number
      (``1`` and ``1.0``), which would silently merge two classes.
    * Otherwise every label is text exactly as written: ``01`` and ``1`` are two classes.
    * A missing-value marker (``NA``, ``NULL``, ``None``, ``#N/A``, ...) is no label in a
      column of numbers; among text labels it is a class name (``NA`` is North America's
      continent code, ``None`` an answer), with a note counting its rows.
    """
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
    missing = np.array(text.eq("").to_numpy(), dtype=bool)  # writable copies
    marker = np.array(text.isin(LABEL_MARKERS).to_numpy(), dtype=bool)
    present = text[~missing & ~marker]
    numeric = bool(present.str.fullmatch(_NUMBER).all()) and not present.str.fullmatch(_LEADING_ZERO).any()
    notes = []
    if marker.any():
        names = ", ".join(repr(m) for m in sorted(set(text[marker])))
        if numeric:
            missing |= marker
        else:
            notes.append(f"{names} in the label column {target!r} is read as a class name "
                         f"({int(marker.sum())} rows), as the other labels are text; if it marks "
                         "rows without a label, leave those cells empty")
    kept = text[~missing]
    if not numeric:
        return _checked_text(kept, missing, target), missing, notes
    if kept.str.fullmatch(r"[+-]?\d+").all():  # integers: exactly, however long
        ints = [int(t) for t in kept.tolist()]
        beyond = [i for i, v in enumerate(ints) if not -_INT64_MAX - 1 <= v <= _INT64_MAX]
        if beyond:
            raise InputError(f"target column {target!r} holds the integer {ints[beyond[0]]} in row "
                             f"{_row(missing, beyond[0])}, beyond the largest class label handgrad "
                             f"keeps ({_INT64_MAX}); use smaller integers or text labels")
        labels = np.array(ints, dtype=np.int64)
    else:
        labels = _whole_numbers(kept.astype(float).to_numpy(dtype=np.float64), missing, target)
    seen: dict[int, str] = {}
    for i, (label, written) in enumerate(zip(labels.tolist(), kept.tolist())):
        if seen.setdefault(label, written) != written:
            raise InputError(f"target column {target!r} writes the label {label} two ways, "
                             f"{seen[label]!r} and {written!r} (row {_row(missing, i)}), which would "
                             "merge two classes if they differ; write each label one way")
    return labels, missing, notes


def _row(missing: np.ndarray, i: int) -> int:
    """The 1-based file row of the i-th labelled row."""
    return int(np.flatnonzero(~missing)[i]) + 1


def _whole_numbers(values: np.ndarray, missing: np.ndarray, target: str) -> np.ndarray:
    """float64 labels as int64, refusing fractions and numbers too large to be exact."""
    fractional = ~np.isfinite(values) | (values != np.round(values))
    if fractional.any():
        i = int(np.argmax(fractional))
        raise InputError(f"target column {target!r} holds non-integer numbers (e.g. {values[i]} in row "
                         f"{_row(missing, i)}); a classifier needs class labels — to predict the number, "
                         "train a regressor (handgrad train --task regression, or "
                         "handgrad.sklearn.MLPRegressor)")
    # from 2**53 on a float64 no longer holds every whole number, so two labels written
    # differently in the file may have been read as the same one (9007199254740993.0 is read
    # as 2**53), and beyond 2**63 the cast to int64 would make garbage of them
    too_large = np.abs(values) >= _EXACT_FLOAT_INT
    if too_large.any():
        i = int(np.argmax(too_large))
        raise InputError(f"target column {target!r} holds {values[i]:.17g} in row {_row(missing, i)}: "
                         "whole numbers of 2**53 or more, read as floats, may have been rounded, so "
                         "they cannot serve as class labels; use smaller integers or text labels")
    return values.astype(np.int64)


def _checked_text(text, missing: np.ndarray, target: str) -> np.ndarray:
    """Text labels as a str array, refusing those numpy would change."""
    # numpy's str arrays drop trailing NUL characters: "a\0" would silently become the label
    # "a" (one class merged into another), "\0" the empty label
    nul = text.str.endswith("\0").to_numpy(dtype=bool)
    if nul.any():
        i = int(np.argmax(nul))
        raise InputError(f"target column {target!r} holds a label ending in a NUL character in row "
                         f"{_row(missing, i)} ({_short_text(text.iloc[i])}), which would be read as "
                         "another label; remove the NUL characters")
    return np.asarray(text.to_numpy(), dtype=str)


def _scalar_cells(col, target: str):
    """An object label column with bytes decoded (UTF-8) and nested values refused."""
    pd = _import_pandas()
    values = col.to_numpy(dtype=object).copy()
    for i, value in enumerate(values):
        if isinstance(value, (bytes, bytearray, memoryview)):
            try:
                values[i] = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"target column {target!r} holds bytes that are not UTF-8 text in row "
                                 f"{i + 1} ({bytes(value)[:20]!r}); store the labels as text or "
                                 "integers") from None
        elif isinstance(value, (list, tuple, dict, set, np.ndarray)):
            raise InputError(f"target column {target!r} holds a {type(value).__name__} in row {i + 1} "
                             f"({_short_text(value)}); a class label must be one integer or one text")
    return pd.Series(values, index=col.index, dtype=object)


def _short_text(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: cells and names read from a file can be huge."""
    text = repr(value) if not isinstance(value, np.ndarray) else repr(value.tolist())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _feature_matrix(frame, names: list[str]) -> np.ndarray:
    """(n, d) float64 from the named columns; NaN/inf anywhere is refused with row and column."""
    X = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        X[:, j] = _numeric(frame[name], name)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        if np.isnan(X[i, j]):
            what = "a missing value (NaN)"
        else:  # written as inf, or a number beyond float64's range (~1.8e308) that became inf
            cell = frame[names[j]].iloc[i]
            what = f"an infinite value ({X[i, j]})"
            if not isinstance(cell, (float, np.floating)) and "inf" not in str(cell).lower():
                what = f"an infinite value ({X[i, j]}, from {_short_text(cell)}: too large for float64)"
        raise InputError(f"feature column {_short_text(names[j])} has {what} in row {i + 1}; "
                         "remove or impute such rows")
    return X


def _numeric(col, name: str) -> np.ndarray:
    """One feature column as float64 (NaN where missing); text that is not a number is refused."""
    pd = _import_pandas()
    col = _plain(col)
    if pd.api.types.is_bool_dtype(col.dtype) or (pd.api.types.is_numeric_dtype(col.dtype)
                                                  and not pd.api.types.is_complex_dtype(col.dtype)):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    textual = pd.api.types.is_string_dtype(col.dtype) or col.dtype == object
    # numbers stored as text (e.g. a Parquet string column) are accepted; anything else is not
    if textual:
        try:
            numbers = pd.to_numeric(col, errors="coerce")
        except (OverflowError, TypeError, ValueError):
            # pandas' CSV reader keeps an integer with more digits than float64 can hold as a
            # Python int, on which to_numeric raises OverflowError instead of coercing: make
            # such integers ±inf (refused afterwards as too large) and convert again
            cells = pd.Series([_huge_int_to_inf(v) for v in col.to_numpy(dtype=object)],
                              index=col.index, dtype=object)
            numbers = pd.to_numeric(cells, errors="coerce")
    else:
        numbers = pd.Series(np.nan, index=col.index)
    offending = (numbers.isna() & col.notna()).to_numpy()
    if offending.any():  # numbers written with separators or a unit: 12,570, $5, 12.5%, 2,5
        from .numtext import column_numbers

        present = col.notna().to_numpy()
        found = column_numbers(col[present].tolist(), _short_text(name))
        if found is not None:
            numbers = pd.Series(np.nan, index=col.index)
            numbers[present] = found[1]
            offending = (numbers.isna() & col.notna()).to_numpy()
    if offending.any():
        i = int(np.argmax(offending))
        raise InputError(f"column {_short_text(name)} is not numeric (e.g. {_short_text(str(col.iloc[i]))} "
                         f"in row {i + 1}); encode it as numbers or drop it")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _huge_int_to_inf(value):
    """A Python int beyond float64's range as ±inf; any other cell unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return -np.inf if value < 0 else np.inf
    return value
