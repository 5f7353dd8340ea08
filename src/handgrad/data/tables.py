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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, listed
from .columns import (_feature_matrix, _import_pandas, _short_text,
                      refuse_unlabelled)
from .dataset import Dataset
from .targets import read_target
from .text_tables import (cp1252_note, decimal_comma_columns, from_decimal_comma, not_text_message, read_text,
                          sniff)

# file name endings load_table understands, and the CSV separator for each text format
TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".parquet", ".pq")
_TEXT_SEPARATORS = {".csv": ",", ".txt": ",", ".tsv": "\t"}

# Cells read as missing: pandas' defaults (R writes NA, spreadsheets #N/A, databases NULL)
# except "None", which is a category as often as a gap ("None", "Some", "Marked" in R's
# Arthritis data): read as missing, a whole class would silently vanish.
_MISSING_MARKERS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"]


# ---------------------------------------------------------------- tables (CSV, Parquet)

def load_table(path, target: str | None = None, features: list[str] | None = None,
               task: str = "classification", labels: bool = True) -> Dataset:
    """Read a CSV (.csv, .csv.gz, .tsv, .txt) or Parquet (.parquet, .pq) file.

    ``target`` names the label column (y = None without it). ``features`` lists the feature
    columns to use, in that order (as stored in a trained model); by default every column
    except the target (and a written-out row index, see :func:`_index_column`) is a feature.
    Feature columns must be numeric (bool becomes 0/1) and finite; labels must be present in
    every row and are read as :func:`~handgrad.data.columns.label_column` says (numbers for
    ``task`` "regression"; "auto" decides, see :func:`load_table_frame`). ``labels=False``: the
    ``target`` column is only kept out of the features, not read (``predict --target``). What
    the reader had to decide about the file is in the Dataset's ``notes``.
    """
    path = _existing_file(path)
    frame, notes = _read_frame(path, target)
    if len(frame) == 0:
        raise InputError(f"{path} has no data rows (only a header); add rows below the header")
    columns = list(frame.columns)
    if target is not None and target not in columns:
        raise InputError(f"target column {target!r} is not in {path}; its columns are {_list_names(columns)}")
    if features is None:
        columns = _without_index(frame, columns, target, notes)
    names = _feature_names(path, columns, target, features)
    y = None
    if target is not None and labels:
        y, missing, label_notes, task = read_target(frame[target], target, _is_text(path), task)
        notes += label_notes
        refuse_unlabelled(missing, target)
    return Dataset(_feature_matrix(frame, names), y, names, path.name, target, notes=notes, task=task)


@dataclass
class Table:
    """A table read as it is, for a model that encodes its columns itself
    (:class:`~handgrad.data.features.TableEncoder`): ``frame`` holds the feature columns
    (text, numbers, empty cells as read), ``y`` the labels of the rows kept, ``n_unlabelled``
    the rows dropped because their label cell was empty, ``notes`` what the reader had to
    decide about the file (one line each, for the user)."""

    frame: Any
    y: np.ndarray | None
    name: str
    target_name: str | None
    n_unlabelled: int = 0
    notes: list[str] = field(default_factory=list)
    task: str = "classification"


def load_table_frame(path, target: str | None = None, columns: list[str] | None = None,
                     task: str = "classification", optional=()) -> Table:
    """Read a table file keeping its columns as they are (see :class:`Table`).

    ``task``: what the ``target`` column holds — "classification" (class labels),
    "regression" (numbers) or "auto" (decided by :func:`~handgrad.data.targets.decide_task`,
    with a note); the table's ``task`` says which.

    Rows whose ``target`` cell is empty are dropped and counted (they cannot be learned from
    or scored). ``columns`` restricts the features to those names (a trained model's input
    columns, matched by name wherever they stand in the file); every missing one is refused,
    naming them; ``optional`` columns are kept too where the file has them (``predict``'s
    identifier columns).
    """
    path = _existing_file(path)
    frame, notes = _read_frame(path, target)
    if len(frame) == 0:
        raise InputError(f"{path} has no data rows (only a header); add rows below the header")
    names = [str(c) for c in frame.columns]
    if target is not None and target not in names:
        raise InputError(f"target column {target!r} is not in {path}; its columns are {_list_names(names)}")
    dropped, y = 0, None
    if target is not None:
        y, empty, label_notes, task = read_target(frame[target], target, _is_text(path), task)
        notes += label_notes
        dropped = int(empty.sum())
        if dropped == len(frame):
            raise InputError(f"target column {target!r} of {path} is empty in every row")
        frame = frame[~empty].reset_index(drop=True)
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(f"{path} lacks the column(s) {_list_names(missing)} the model was trained "
                             f"on; its columns are {_list_names(names)}")
        features = list(columns) + [c for c in optional if c in names and c not in columns]
        _without_index(frame, [c for c in names if c != target], target, notes)  # its note only
    else:
        features = _without_index(frame, [c for c in names if c != target], target, notes)
    if not features:
        raise InputError(f"{path} has no feature column besides the target {target!r}")
    return Table(frame[features], y, path.name, target, dropped, notes, task)


def _is_text(path: Path) -> bool:
    return _table_format(path) is not None


def _without_index(frame, names: list[str], target, notes: list[str]) -> list[str]:
    """``names`` without the row index pandas' ``to_csv()`` and R's ``write.csv()`` write
    as the first column (its header cell empty, read as ``Unnamed: 0``), noted: used as a
    feature it would tie predictions to where a row stands in the file."""
    if not names or names[0] != frame.columns[0] or names[0] == target:
        return names
    first = names[0]
    if first.strip().lower() not in ("", "unnamed: 0"):
        return names
    cells = frame[first]
    try:
        if cells.isna().any() or cells.nunique() != len(cells):
            return names
    except TypeError:  # unhashable cells (a Parquet list column): not a row index
        return names
    notes.append(f"column {first!r} dropped: the row index that pandas' to_csv() and R's write.csv() "
                 "write (no name, a different value in every row); write the file with index=False "
                 "(row.names=FALSE in R)")
    return names[1:]


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


def _read_frame(path: Path, target: str | None = None):
    """(the file as a DataFrame with unique string column names, notes); read errors become
    InputError. In a text file the ``target`` column is kept as written (text, empty cells
    missing) for :func:`~handgrad.data.columns.label_column` to read."""
    pd = _import_pandas()
    sep = _table_format(path)
    kind = "Parquet" if sep is None else "CSV" if sep == "," else "tab-separated"
    notes: list[str] = []
    if sep is None:
        try:
            import pyarrow  # noqa: F401  (pandas' own message would not say how to install it)
        except ImportError:
            raise InputError(f"reading {path} needs pyarrow, which is not installed; "
                             "pip install '.[parquet]' in handgrad's folder") from None
    try:
        with warnings.catch_warnings():
            # with index_col=False, rows longer than the header only warn: make that an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            if sep is None:
                frame = pd.read_parquet(path)
                header = [str(c) for c in frame.columns]
            else:
                dialect = sniff(path, sep)
                notes += dialect.notes
                try:
                    frame, header = read_text(pd, path, dialect, target, _MISSING_MARKERS)
                except UnicodeDecodeError as exc:
                    if dialect.encoding != "utf-8":
                        raise
                    dialect.encoding = "cp1252"
                    try:
                        frame, header = read_text(pd, path, dialect, target, _MISSING_MARKERS)
                    except UnicodeDecodeError as again:
                        raise InputError(not_text_message(path, again)) from None
                    notes.append(cp1252_note(path, exc))
                if dialect.decimal_comma:
                    comma = decimal_comma_columns(frame, skip={target})
                    for name in comma:
                        frame[name] = from_decimal_comma(frame[name])
                    if comma:
                        notes.append(f"{path.name} writes numbers with a decimal comma (1,5); read "
                                     f"column(s) {_list_names(comma)} so")
    except InputError:
        raise
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
    return frame, notes


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


def _list_names(names) -> str:
    """At most 10 names, each cut short, then how many (:func:`handgrad.errors.listed`)."""
    return listed([str(n) for n in names])


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
