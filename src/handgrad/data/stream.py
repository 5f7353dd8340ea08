"""Parquet files read one record batch at a time, for tables larger than memory.

A :class:`ParquetSource` reads numeric feature columns and a label column from a Parquet
file's row groups without loading the table: each record batch (at most ``read_rows`` rows)
becomes a float64 matrix X (m, d) and the labels y (m,) as read. Training streams it in three
parts:

* held-out rows (:func:`~handgrad.data.stream_rows.held_out_rows`): a seeded sample of global row numbers, at most a cap,
  kept in memory as the test and validation parts;
* one first pass (:meth:`ParquetSource.scan`): the mean μ and standard deviation σ of every
  feature over the training rows (merged batch by batch, :class:`~handgrad.data.stream_rows.Moments`), the set of
  classes over all rows, and the held-out rows;
* each epoch (:meth:`ParquetSource.buffers`): the row groups in an order the caller gives,
  their training rows standardised into one buffer of ``cap`` rows, handed out whenever it is
  full (:func:`fill`).

Text or categorical feature columns and missing values are refused: encoding them needs the
whole table (:class:`~handgrad.data.features.TableEncoder`); the in-memory path does that.
pyarrow is an optional dependency, imported here only.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .columns import _short_text, label_column
from .preprocessing import LabelEncoder, Standardizer
from .targets import (NUMBER_ABOVE, decide_numbers, decide_task, first_non_number, numbers_of,
                      regression_values)
from .stream_rows import Moments
from .tables import _existing_file, _list_names, _reason, _table_format

PARQUET = (".parquet", ".pq")
READ_ROWS = 4096  # rows per record batch read: the unit memory grows by besides the buffer


def is_parquet(path) -> bool:
    """Whether ``path`` names a Parquet file (by its ending, as the table reader decides)."""
    return path is not None and str(path).lower().endswith(PARQUET)


class ParquetSource:
    """The numeric feature columns and the label column of a Parquet file, read a record
    batch at a time. ``features``: the columns to read, in that order (a model's feature
    names); by default every column but ``target`` and pandas' written-out index. ``fix``:
    what a refusal tells the user to do instead (e.g. train without --stream-buffer)."""

    def __init__(self, path, target: str | None = None, features=None, read_rows: int = READ_ROWS,
                 fix: str = "train without --stream-buffer: the in-memory path reads such tables"):
        path = _existing_file(path)
        if _table_format(path) is not None:
            raise InputError(f"{path} is not a Parquet file: streaming reads .parquet or .pq files "
                             "only; convert it, or " + fix)
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(f"reading {path} needs pyarrow, which is not installed; "
                             "pip install '.[parquet]' in handgrad's folder") from None
        try:
            self.file = pq.ParquetFile(path)
            schema = self.file.schema_arrow
        except Exception as exc:  # noqa: BLE001  (corrupt files fail in many ways, see tables.py)
            raise InputError(f"cannot read {path} as a Parquet table: {_reason(exc)}") from None
        self.path, self.target, self.read_rows, self.fix = path, target, int(read_rows), fix
        self.task = "classification"  # what the target holds: decide_target says (regression: numbers)
        names = [str(n) for n in schema.names]
        if target is not None and target not in names:
            raise InputError(f"target column {target!r} is not in {path}; its columns are "
                             f"{_list_names(names)}")
        if features is None:
            features = [n for n in names if n != target and not n.startswith("__index_level_")]
        missing = [f for f in features if f not in names]
        if missing:
            raise InputError(f"{path} lacks the feature column(s) {_list_names(missing)}; "
                             f"its columns are {_list_names(names)}")
        if not features:
            raise InputError(f"{path} has no feature column besides the target {target!r}")
        self.features = [str(f) for f in features]
        self.numeric = _numeric_columns(schema, self.features)
        meta = self.file.metadata
        self.n_rows = int(meta.num_rows)
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self.group_sizes = np.array(sizes, dtype=np.int64)
        self.group_starts = np.concatenate([[0], np.cumsum(self.group_sizes)[:-1]]).astype(np.int64)
        if self.n_rows == 0:
            raise InputError(f"{path} has no data rows")

    @property
    def n_groups(self) -> int:
        return int(self.group_sizes.size)

    def decide_target(self, task: str = "auto") -> list[str]:
        """Decide what the target column holds (:func:`~handgrad.data.targets.decide_task`'s rule)
        and keep it in ``task``; return the notes. A numeric column is read once for the rule,
        that column alone, counting its distinct values up to a cap."""
        import pyarrow as pa

        kind = self.file.schema_arrow.field(self.target).type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
        if not numeric or task != "auto":
            self.task, notes = decide_task(np.empty(0) if numeric else None, self.target, task)
            return notes
        rows: dict[float, int] = {}  # value -> rows, while there are few values
        n, fraction, cap = 0, None, NUMBER_ABOVE + 1
        for rb in self.file.iter_batches(self.read_rows, columns=[self.target], use_threads=False):
            y = _floats(rb.column(0)).to_numpy(zero_copy_only=False).astype(np.float64)
            y = y[np.isfinite(y)]
            n += y.size
            frac = y[y != np.round(y)]
            if fraction is None and frac.size:
                fraction = frac[0]
            if len(rows) <= cap:
                for v, c in zip(*np.unique(y, return_counts=True)):
                    rows[float(v)] = rows.get(float(v), 0) + int(c)
        levels = np.array(sorted(rows))
        self.task, notes = decide_numbers(fraction, min(len(rows), cap), n, self.target,
                                          at_least=len(rows) > cap, levels=levels,
                                          rows=np.array([rows[v] for v in levels]))
        return notes

    def refuse_non_numeric(self) -> None:
        """InputError naming the first feature column that is not numbers (int, float, bool)."""
        for name, ok in zip(self.features, self.numeric):
            if not ok:
                kind = self.file.schema_arrow.field(name).type
                raise InputError(f"feature column {_short_text(name)} of {self.path.name} holds {kind}, "
                                 f"not numbers; streaming reads numeric columns only: {self.fix}")

    def chunks(self, groups):
        """Yield ``(first row number, X (m, d) float64, y (m,) labels or None)`` for every
        record batch of the row groups ``groups``, in that order."""
        columns = self.features + ([self.target] if self.target is not None else [])
        for g in groups:
            start = int(self.group_starts[g])
            try:
                batches = self.file.iter_batches(self.read_rows, row_groups=[int(g)], columns=columns,
                                                 use_threads=False)
                for rb in batches:
                    yield start, self._matrix(rb, start), self._labels(rb, start)
                    start += rb.num_rows
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise InputError(f"cannot read row group {g} of {self.path}: {_reason(exc)}") from None

    def _matrix(self, rb, start: int) -> np.ndarray:
        X = np.empty((rb.num_rows, len(self.features)), dtype=np.float64)
        for j, name in enumerate(self.features):
            col = rb.column(j)
            if col.null_count:
                i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
                self._refuse_missing(name, start + i)
            X[:, j] = _floats(col).to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            if np.isnan(X[i, j]):
                self._refuse_missing(self.features[j], start + int(i))
            raise InputError(f"feature column {_short_text(self.features[j])} has an infinite value "
                             f"({X[i, j]}) in row {start + int(i) + 1}; remove or impute such rows")
        return X

    def _refuse_missing(self, name: str, row: int):
        raise InputError(f"feature column {_short_text(name)} has a missing value in row {row + 1} of "
                         f"{self.path.name}; streaming refuses missing values: {self.fix}")

    def _labels(self, rb, start: int) -> np.ndarray | None:
        if self.target is None:
            return None
        col = rb.column(len(self.features)).to_pandas()
        if self.task == "regression":
            y, missing = numbers_of(col, as_text=False)
            if y is None:
                raise InputError(f"target column {self.target!r} of {self.path.name} holds text, not "
                                 f"numbers{first_non_number(col, start)}: a regression needs a numeric target")
            y = regression_values(y, missing, self.target)
        else:
            y, missing, _ = label_column(col, self.target)
        if missing.any():
            row = start + int(np.argmax(missing)) + 1
            raise InputError(f"target column {self.target!r} is empty in row {row} of {self.path.name}; "
                             f"streaming refuses unlabelled rows: {self.fix}")
        return y

    def scan(self, parts) -> tuple[Standardizer, np.ndarray, list]:
        """One pass over the file: (the :class:`Standardizer` of the rows in none of ``parts``,
        the sorted classes of all rows — a regression: the :class:`Moments` of its target over
        those training rows —, per part its rows' X (h, d) float64 and labels (h,)) — each part
        being sorted global row numbers (the held-out test and validation rows)."""
        moments = Moments(len(self.features))
        regression = self.task == "regression"
        classes = Moments(1) if regression else None
        held = np.sort(np.concatenate([np.empty(0, np.int64), *parts]))
        found_X = [np.empty((p.size, len(self.features)), dtype=np.float64) for p in parts]
        found_y = [[] for _ in parts]
        for start, X, y in self.chunks(range(self.n_groups)):
            stop = start + X.shape[0]
            lo, hi = np.searchsorted(held, [start, stop])
            keep = np.ones(X.shape[0], dtype=bool)
            keep[held[lo:hi] - start] = False
            moments.add(X[keep])
            for p, part in enumerate(parts):
                lo, hi = np.searchsorted(part, [start, stop])
                found_X[p][lo:hi] = X[part[lo:hi] - start]
                found_y[p].append(y[part[lo:hi] - start])
            if regression:
                classes.add(y[keep][:, None])
                continue
            found = np.unique(y)
            classes = found if classes is None else np.union1d(classes, found)
        if not regression:
            LabelEncoder().fit(classes)  # refuses a single class, as the in-memory path does
        return (moments.standardizer(self.path.name), classes,
                [(X, np.concatenate(y)) for X, y in zip(found_X, found_y)])

    def buffers(self, groups, cap: int, held: np.ndarray, scaler: Standardizer, encode, dtype):
        """The training rows of row groups ``groups`` (those not in ``held``), standardised to
        ``dtype`` and their targets encoded by ``encode`` (class indices, or a regression's
        scaled numbers), in buffers of ``cap`` rows (:func:`fill`)."""

        def rows():
            for start, X, y in self.chunks(groups):
                lo, hi = np.searchsorted(held, [start, start + X.shape[0]])
                if hi > lo:
                    keep = np.ones(X.shape[0], dtype=bool)
                    keep[held[lo:hi] - start] = False
                    X, y = X[keep], y[keep]
                yield scaler.transform(X, dtype=dtype), encode(y)

        return fill(rows(), cap, len(self.features), dtype)


def _floats(col):
    """A Parquet column of decimals as float64 (numbers, as the table reader reads them)."""
    return col.cast("float64") if str(col.type).startswith("decimal") else col


def _numeric_columns(schema, names) -> list[bool]:
    """Per column: whether its Parquet type is a number (decimals too) or a bool (what
    streaming reads)."""
    import pyarrow as pa

    t = pa.types
    return [bool(t.is_integer(schema.field(n).type) or t.is_floating(schema.field(n).type)
                 or t.is_decimal(schema.field(n).type) or t.is_boolean(schema.field(n).type))
            for n in names]


def fill(chunks, cap: int, d: int, dtype):
    """Yield ``(X (≤ cap, d), y (≤ cap, ...))`` views of one reused buffer, each full (``cap``
    rows) but the last, from ``chunks`` of (X, y) of any sizes (y: labels (m,), or a
    regression's (m, k) targets; the buffer takes the first chunk's y shape and dtype). Memory:
    the buffer plus one chunk. The views are overwritten by the next fill: use each before
    asking for the next."""
    X_buf, y_buf = np.empty((cap, d), dtype=dtype), None
    filled = 0
    for X, y in chunks:
        if y_buf is None:
            y_buf = np.empty((cap, *y.shape[1:]), dtype=y.dtype)
        at = 0
        while at < X.shape[0]:
            take = min(cap - filled, X.shape[0] - at)
            X_buf[filled:filled + take] = X[at:at + take]
            y_buf[filled:filled + take] = y[at:at + take]
            filled, at = filled + take, at + take
            if filled == cap:
                yield X_buf, y_buf
                filled = 0
    if filled:
        yield X_buf[:filled], y_buf[:filled]
