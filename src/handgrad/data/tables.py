"""Tables: CSV, TSV and Parquet files read into a :class:`Dataset`.

Everything is returned as a :class:`Dataset`: float64 features ``X`` (n, d), raw labels ``y``
(ints or strings, as read), and the feature names a trained model stores so that later input
can be checked against them. Bad input is refused with an :class:`~handgrad.errors.InputError`
whose message says what is wrong and how to fix it. Row numbers in messages count data rows
from 1 (the header line is not counted). MNIST's IDX files are read by :mod:`handgrad.data.mnist`.

pandas, scikit-learn and pyarrow are optional dependencies, so they are imported only inside
the functions that need them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from .dataset import Dataset

# file name endings load_table understands, and the CSV separator for each text format
TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".parquet", ".pq")
_TEXT_SEPARATORS = {".csv": ",", ".txt": ",", ".tsv": "\t"}

_MAX_LISTED = 12  # column names shown in a message before "… (N in all)"
_INT64_MAX = int(np.iinfo(np.int64).max)
_EXACT_FLOAT_INT = 2.0 ** 53  # float64 holds every whole number below this, not all above


# ---------------------------------------------------------------- tables (CSV, Parquet)

def load_table(path, target: str | None = None, features: list[str] | None = None) -> Dataset:
    """Read a CSV (.csv, .csv.gz, .tsv, .txt) or Parquet (.parquet, .pq) file.

    ``target`` names the label column (y = None without it). ``features`` lists the feature
    columns to use, in that order (as stored in a trained model); by default every column
    except the target is a feature. Feature columns must be numeric (bool becomes 0/1) and
    finite; labels must be present in every row and be integers or text.
    """
    path = _existing_file(path)
    frame = _read_frame(path)
    if len(frame) == 0:
        raise InputError(f"{path} has no data rows (only a header); add rows below the header")
    columns = list(frame.columns)
    if target is not None and target not in columns:
        raise InputError(f"target column {target!r} is not in {path}; its columns are {_list_names(columns)}")
    names = _feature_names(path, columns, target, features)
    y = None if target is None else _labels(frame[target], target)
    return Dataset(_feature_matrix(frame, names), y, names, path.name, target)


def _existing_file(path) -> Path:
    """``path`` as a Path, refused unless it is a readable, non-empty file of a known format."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"file not found: {path}; check the path")
    if not path.is_file():
        raise InputError(f"{path} is not a file; give the path of a .csv, .tsv or .parquet file")
    _table_format(path)  # refuse unknown extensions before reading anything
    if path.stat().st_size == 0:
        raise InputError(f"{path} has no data rows (the file is empty)")
    return path


def _table_format(path: Path) -> str | None:
    """The CSV separator for text tables, or None for Parquet; unknown endings are refused."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return None
    base = name.removesuffix(".gz")  # pandas decompresses .gz by itself
    for suffix, sep in _TEXT_SEPARATORS.items():
        if base.endswith(suffix):
            return sep
    raise InputError(f"cannot tell the format of {path} from its name; use one of {', '.join(TABLE_SUFFIXES)}")


def _import_pandas():
    try:
        import pandas
    except ImportError:
        raise InputError("reading tables needs pandas, which is not installed; pip install 'handgrad[cli]'") from None
    return pandas


def _read_frame(path: Path):
    """The file as a DataFrame with unique string column names; read errors become InputError."""
    pd = _import_pandas()
    sep = _table_format(path)
    kind = "Parquet" if sep is None else "CSV" if sep == "," else "tab-separated"
    if sep is None:
        try:
            import pyarrow  # noqa: F401  (pandas' own message would not say how to install it)
        except ImportError:
            raise InputError(f"reading {path} needs pyarrow, which is not installed; "
                             "pip install 'handgrad[parquet]'") from None
    try:
        with warnings.catch_warnings():
            # with index_col=False, rows longer than the header only warn: make that an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            if sep is None:
                frame = pd.read_parquet(path)
                header = [str(c) for c in frame.columns]
            else:
                # pandas renames duplicate columns ("a", "a.1"), so read the raw header first
                raw = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
                header = [h for h in raw.iloc[0].tolist() if h != ""]
                frame = pd.read_csv(path, sep=sep, index_col=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} has no data rows (the file holds no table)") from None
    except Exception as exc:  # noqa: BLE001
        # The readers are handed untrusted bytes and fail in more ways than ValueError and
        # OSError: zlib.error from a corrupt .gz, pyarrow's ArrowNotImplementedError,
        # ArrowTypeError, ArrowKeyError and ArrowMemoryError from a corrupt Parquet file, and
        # KeyError, TypeError or AttributeError from a broken pandas metadata block in one.
        # Each means the same thing: this file is not a table that can be read.
        raise InputError(f"cannot read {path} as a {kind} table: {_reason(exc)}") from None
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise InputError(f"{path} has duplicate column names {_list_names(duplicates)}; rename them")
    frame.columns = [str(c) for c in frame.columns]
    if sep is None:
        _check_utf8(frame, path)
    return frame


def _check_utf8(frame, path: Path) -> None:
    """Refuse Parquet text columns that are not UTF-8.

    pyarrow hands Parquet's text to pandas as Arrow strings without checking that the bytes
    are UTF-8; the first string operation on a bad one (``str.strip``, ``to_numeric``) would
    then raise pyarrow's ArrowInvalid from deep inside pandas.
    """
    import pyarrow as pa

    pd = _import_pandas()
    for name in frame.columns:
        col = frame[name]
        values = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col
        if values.dtype == object or not pd.api.types.is_string_dtype(values.dtype):
            continue  # numbers, or Python str objects (decoded, so valid)
        try:
            pa.array(values.array).validate(full=True)
        except pa.ArrowInvalid as exc:
            raise InputError(f"column {_short_text(name)} of {path} holds text that is not valid UTF-8 "
                             f"({_reason(exc)}); the file is corrupt or was written with another "
                             "encoding: re-export it") from None


def _reason(exc: BaseException) -> str:
    """The first line of a read error's message, after its type where the message alone would
    not say what went wrong (a KeyError reads ``'zz'``, a zlib.error ``Error -3 ...``)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if first and isinstance(exc, (ValueError, OSError, EOFError, Warning)):
        return first
    cls = type(exc)
    kind = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return f"{kind}: {first}" if first else kind


def _list_names(names, limit: int = _MAX_LISTED) -> str:
    """``'a', 'b', …`` with at most ``limit`` names, then how many there are in all."""
    shown = ", ".join(_short_text(str(n)) for n in names[:limit])  # a file's names can be huge
    return shown if len(names) <= limit else f"{shown}, … ({len(names)} in all)"


def _feature_names(path: Path, columns: list[str], target: str | None, features) -> list[str]:
    """The feature columns: ``features`` exactly (checked), else every column but the target."""
    if features is None:
        names = [c for c in columns if c != target]
    else:
        names = [str(f) for f in features]
        repeated = sorted({f for f in names if names.count(f) > 1})
        if repeated:
            raise InputError(f"feature list names {_list_names(repeated)} more than once")
        if target is not None and target in names:
            raise InputError(f"column {target!r} is both the target and a feature; drop it from one")
        missing = [f for f in names if f not in columns]
        if missing:
            raise InputError(f"{path} lacks feature column(s) {_list_names(missing)}; "
                             f"its columns are {_list_names(columns)}")
    if not names and features is not None:
        raise InputError("the list of feature columns is empty; name at least one column of "
                         f"{path}: {_list_names(columns)}")
    if not names:
        raise InputError(f"{path} has no feature columns besides the target {target!r}")
    return names


def _plain(col):
    """Turn categorical and generic-object columns into the dtype their values actually have."""
    pd = _import_pandas()
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    return col.infer_objects() if col.dtype == object else col


def _labels(col, target: str) -> np.ndarray:
    """The target column as int64 (integers, whole floats, bools) or str (anything textual)."""
    pd = _import_pandas()
    col = _plain(col)
    if col.dtype == object:  # Parquet binary or nested columns: bytes, lists, dicts, ...
        col = _scalar_cells(col, target)
    textual = pd.api.types.is_string_dtype(col.dtype) or col.dtype == object
    missing = np.array(col.isna().to_numpy(), dtype=bool)  # a writable copy
    if textual:  # an empty or blank cell is no label either
        missing |= col.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        raise InputError(f"target column {target!r} is empty in row {int(np.argmax(missing)) + 1}; "
                         "every row needs a class label (drop the unlabelled rows)")
    if pd.api.types.is_unsigned_integer_dtype(col.dtype):
        values = col.to_numpy(dtype=np.uint64)
        too_large = values > np.uint64(_INT64_MAX)
        if too_large.any():  # int64 would wrap them around to negative labels
            i = int(np.argmax(too_large))
            raise InputError(f"target column {target!r} holds the integer {values[i]} in row {i + 1}, "
                             f"beyond the largest class label handgrad keeps ({_INT64_MAX}); "
                             "use smaller integers or text labels")
        return values.astype(np.int64)
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
        return col.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(col.dtype):
        values = col.to_numpy(dtype=np.float64)
        fractional = ~np.isfinite(values) | (values != np.round(values))
        if fractional.any():
            i = int(np.argmax(fractional))
            raise InputError(f"target column {target!r} holds non-integer numbers (e.g. {values[i]} in row "
                             f"{i + 1}); a classifier needs class labels")
        # from 2**53 on a float64 no longer holds every whole number, so two labels written
        # differently in the file may have been read as the same one (9007199254740993.0 is
        # read as 2**53), and beyond 2**63 the cast to int64 would make garbage of them
        too_large = np.abs(values) >= _EXACT_FLOAT_INT
        if too_large.any():
            i = int(np.argmax(too_large))
            raise InputError(f"target column {target!r} holds {values[i]:.17g} in row {i + 1}: whole "
                             "numbers of 2**53 or more, read as floats, may have been rounded, so "
                             "they cannot serve as class labels; use smaller integers or text labels")
        return values.astype(np.int64)
    if textual:
        text = col.astype(str)
        # numpy's str arrays drop trailing NUL characters: "a\0" would silently become the
        # label "a" (one class merged into another), "\0" the empty label
        nul = text.str.endswith("\0").to_numpy(dtype=bool)
        if nul.any():
            i = int(np.argmax(nul))
            raise InputError(f"target column {target!r} holds a label ending in a NUL character in row "
                             f"{i + 1} ({_short_text(text.iloc[i])}), which would be read as another "
                             "label; remove the NUL characters")
        return np.asarray(text.to_numpy(), dtype=str)
    raise InputError(f"target column {target!r} has type {col.dtype}; a classifier needs integer or text labels")


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
