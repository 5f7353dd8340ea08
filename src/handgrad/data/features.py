"""From a raw table to the network's numeric input: :class:`TableEncoder`.

Real tables hold text columns, numbers and dates written as text, and empty cells. The encoder
turns each column into numbers by rules fitted on the training rows only, stored as JSON (in
the model file): ``predict`` and ``evaluate`` apply exactly the same to new rows.

Per column, in order (the first rule that applies):

1. listed in ``drop`` → dropped;
2. listed in ``numeric`` / ``categorical`` → that kind (a value that is not a number in a
   column forced numeric is refused, naming the column, the row and the value);
3. no value at all, or one value and no empty cell → dropped ("empty" / "constant");
4. every value a number, typed or written as text (``12,570``, ``$1,200.50``, ``12.5%``,
   ``1.234,5``: :mod:`handgrad.data.numtext` says exactly what is read) → **numeric**,
   unless it is a row number (at least 20 rows of whole numbers that increase down the table,
   or are distinct under a name such as ``Unnamed: 0``, ``index`` or ``rownames``: an index
   column written out with the data) → dropped;
5. every value a date or a date and time, typed or written as text (``2024-03-01``,
   ``01/03/2024``, ``March 1, 2024``, ...: :mod:`handgrad.data.dates`) → **date**;
6. every value one of true/false, yes/no (any case) → **boolean** (0/1);
7. more than half of the values numbers (or dates) but not all → refused, naming the first
   value that is not: a stray ``?`` or ``-`` in a column of numbers is a missing value to
   leave empty, or the column is categories to name in ``categorical``;
8. otherwise **categorical**, unless every row has its own value (at least 20 rows: an ID)
   → dropped.

Numeric columns: empty cells take the training median and a 0/1 column ``name (missing)``
says where that happened (only if the training rows had empty cells); then the column is
standardised with the training mean and standard deviation. A column of numbers written with
a decimal comma or a unit stores that form (``written``), and new values are read in it.
Date columns become a few features (elapsed days, standardised; the month, the weekday, the
day of the year and the time of day on circles; :func:`dates.features`), empty
cells the training median date plus the indicator. Boolean columns: 0/1, empty cells
take the most frequent value plus the ``(missing)`` indicator. Categorical columns: one 0/1
column per category (``name=value``), for the ``max_categories`` most frequent training
values; rarer ones share ``name=(other)``; empty cells are the category ``(missing)``. A value
not seen in training goes to ``(other)`` when the column has one, else every column of that
variable is 0 (as scikit-learn's ``OneHotEncoder(handle_unknown="ignore")``). One-hot and
indicator columns are left as 0/1: standardising them would turn a rare category into a
large number.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable

import numpy as np

from ..errors import InputError
from . import dates, numtext, quantiles
from .cells import as_bool, cells, distinct, each_column, short, text
from .column_encoding import MISSING, OTHER, encode_column, read_column
from .feature_checks import checked_column
from .preprocessing import robust_mean_std, standardize

# train_model's default, and handgrad train's (bench/results/scaling_both_ablation.md)
SCALINGS, DEFAULT_SCALING, CLI_SCALING = ("standard", "quantile", "auto", "both"), "standard", "both"
ID_WHY = "an identifier"  # a dropped column so marked is copied into prediction files
_MIN_ROWS_FOR_ID = 20
# what pandas (``Unnamed: 0``) and R (``""``, ``rownames``) call a written-out row index
_INDEX_NAMES = {"", "unnamed: 0", "index", "rownames", "row.names"}


class TableEncoder:
    """Fit on a pandas DataFrame of feature columns; transform DataFrames with those columns.

    Args:
        categorical, numeric, drop: column names forced to a kind (see the module docstring).
        max_categories: one-hot columns kept per categorical variable (the most frequent
            training values); the rest share ``(other)``.
        scaling: a numeric column reaches the network ``"standard"`` (x − mean)/std, as the
            normal quantile of its training rank (``"quantile"``, :mod:`~handgrad.data.quantiles`;
            its knots stored as ``"quantiles"``), ``"both"`` side by side, or ``"auto"``:
            quantile where :func:`~handgrad.data.quantiles.skewed`, else standard.

    After :meth:`fit`: ``columns_`` (one spec dict per input column, JSON-able),
    ``feature_names_out_`` (names of the output columns), ``notes_`` (one line per dropped
    column, and per column of numbers or dates read from text, for the user).
    """

    def __init__(self, categorical: Iterable[str] = (), numeric: Iterable[str] = (),
                 drop: Iterable[str] = (), max_categories: int = 64, id_columns: Iterable[str] = (),
                 scaling: str = DEFAULT_SCALING):
        self.categorical, self.numeric, self.drop = set(categorical), set(numeric), set(drop)
        self.id_columns = set(id_columns)
        both = self.categorical & self.numeric
        if both:
            raise InputError(f"column(s) {sorted(both)} cannot be both categorical and numeric")
        if int(max_categories) < 1:
            raise InputError(f"max_categories must be ≥ 1, got {max_categories}")
        self.max_categories = int(max_categories)
        if scaling not in SCALINGS:
            raise InputError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
        self.scaling = scaling
        self.read_notes_: list[str] = []

    # ----- fitting -----------------------------------------------------------------------
    def fit(self, frame) -> "TableEncoder":
        names = [str(c) for c in frame.columns]
        unknown = (self.categorical | self.numeric | self.drop | self.id_columns) - set(names)
        if unknown:
            raise InputError(f"column(s) {sorted(unknown)} named in --categorical/--numeric/--drop "
                             f"are not in the table; its columns are {names}")
        if len(frame) == 0:
            raise InputError("cannot fit the feature encoding on zero rows")
        self.read_notes_ = []
        self.columns_ = each_column(self._fit_column, [(name, frame[col]) for name, col
                                                       in zip(names, frame.columns)])
        if not any(s["kind"] != "dropped" for s in self.columns_):
            raise InputError("no usable feature column is left: " + "; ".join(self.notes_))
        return self

    @property
    def notes_(self) -> list[str]:
        return [f"column {s['name']!r} dropped: {s['why']}" for s in self.columns_
                if s["kind"] == "dropped"] + self.read_notes_

    def _fit_column(self, name: str, col) -> dict[str, Any]:
        if name in self.drop:
            return {"name": name, "kind": "dropped", "why": "asked (--drop)"}
        if name in self.id_columns:
            return {"name": name, "kind": "dropped", "why": ID_WHY + " (--id-column)"}
        free = name not in self.categorical | self.numeric
        # a column of datetime64 or number dtype is read all at once (by the same rules)
        typed, kind = (dates.typed_days(col) if free else None), "date"
        if typed is None and name not in self.categorical:
            typed, kind = numtext.typed_numbers(col), "numeric"
        if typed is not None:
            missing = np.isnan(typed)
            uniq = present = typed[~missing].tolist()
            inverse = np.arange(len(present))
        else:
            values, missing = cells(col)
            present = [v for v, m in zip(values, missing) if not m]
            uniq, inverse = distinct(present)  # each rule reads the distinct values, once each
        if free:
            if not present:
                return {"name": name, "kind": "dropped", "why": "empty (no value in the training rows)"}
            first = text(present[0] if typed is None else col[~missing].iloc[0])
            if not missing.any() and (all(text(v) == first for v in uniq) if typed is None
                                      else np.all(typed == typed[0])):
                return {"name": name, "kind": "dropped", "why": f"constant (always {first!r})"}
        if typed is not None and kind == "date":
            t = np.array(present)
            spec = dates.fit(t, "ymd", bool(np.any(t != np.floor(t))), missing, name)
            self.read_notes_.append(dates.note(spec, col[~missing].iloc[0], t[0]))
            return spec
        if typed is not None:
            return self._fit_numeric(name, uniq, inverse, missing, numtext.PLAIN, present, free, typed=True)
        found = None if name in self.categorical else numtext.column_numbers(uniq, name)
        if name in self.numeric or found is not None:
            form, numbers = found or (numtext.PLAIN, [numtext.number(v) for v in uniq])
            return self._fit_numeric(name, uniq, inverse, missing, form, numbers, free)
        counts = np.bincount(inverse, minlength=len(uniq))
        if free:
            found = dates.column_dates(uniq, name)
            if found is not None:
                spec = dates.fit(found[0][inverse], *found[1:], missing, name)
                self.read_notes_.append(dates.note(spec, uniq[0], found[0][0]))
                return spec
            flags = [as_bool(v) for v in uniq]
            if all(f is not None for f in flags):
                return {"name": name, "kind": "boolean", "indicator": bool(missing.any()),
                        "fill": 1.0 if np.dot(flags, counts) * 2 >= len(present) else 0.0}
            _refuse_mostly(name, uniq, counts)
        counts = Counter(text(v) for v in present)
        if free and len(missing) >= _MIN_ROWS_FOR_ID and len(counts) == len(missing):
            return {"name": name, "kind": "dropped", "why": ID_WHY + " (a different value in every row)"}
        ranked = sorted(counts, key=lambda c: (-counts[c], c))
        kept = ranked[:self.max_categories]
        return {"name": name, "kind": "categorical", "categories": sorted(kept),
                "other": len(ranked) > len(kept), "missing": bool(missing.any())}

    def _fit_numeric(self, name, uniq, inverse, missing, form, numbers, free, typed=False) -> dict[str, Any]:
        # typed: a column of number dtype, whose values are floats already (no text to check)
        bad = [] if typed else [i for i, x in enumerate(numbers) if x is None]
        if bad:
            v = uniq[bad[0]]
            if dates.looks_like_date(v):
                raise InputError(f"column {name!r} is to be numeric (--numeric) but holds dates "
                                 f"({short(v)}); leave it out of --numeric to read it as dates")
            raise InputError(f"column {name!r} is to be numeric but holds {short(v)}; "
                             "fix the value or make the column categorical")
        got = np.array(numbers, dtype=np.float64)
        infinite = np.flatnonzero(~np.isfinite(got))
        if infinite.size:
            raise InputError(f"column {name!r} holds {short(uniq[infinite[0]])}; a feature must be a "
                             "finite number: fix the cell or leave it empty")
        x = got[inverse]
        with np.errstate(over="ignore", invalid="ignore"):
            increasing = bool(np.all(np.diff(x) > 0))
        if (free and len(missing) >= _MIN_ROWS_FOR_ID and not missing.any()
                and np.all(x == np.round(x)) and (increasing or (
                    name.strip().lower() in _INDEX_NAMES and np.unique(x).size == x.size))):
            return {"name": name, "kind": "dropped", "why": "row numbers (an index column)"}
        if not x.size:
            raise InputError(f"column {name!r} is to be numeric but has no value in the training rows")
        with np.errstate(over="ignore", invalid="ignore"):
            fill = float(np.median(x))
        if not math.isfinite(fill):  # the mean of two middle values near ±1.8e308
            m = float(np.abs(x).max())
            fill = float(np.median(x / m)) * m
        filled = np.where(missing, fill, 0.0)
        filled[~missing] = x
        mean, std = (float(v) for v in robust_mean_std(filled))  # finite for finite cells
        spec = {"name": name, "kind": "numeric", "fill": fill, "indicator": bool(missing.any()),
                "mean": mean, "scale": std if std > 0 else 1.0}
        if self.scaling in ("quantile", "both") or (self.scaling == "auto" and quantiles.skewed(x)):
            xs, zs = quantiles.fit_map(x)
            spec["quantiles"] = {"x": xs.tolist(), "z": zs.tolist()}
            if self.scaling == "both":
                spec["both"] = True
        if form != numtext.PLAIN:
            spec["written"] = dict(form)
        written = [] if typed else [i for i, v in enumerate(uniq) if not numtext.is_plain(v)]
        if written:
            i = written[0]
            self.read_notes_.append(f"column {name!r} holds numbers written as text (like "
                                    f"{numtext.example(form)}): {short(uniq[i])} read as {numbers[i]:g}")
        return spec

    # ----- using -------------------------------------------------------------------------
    @property
    def input_columns(self) -> list[str]:
        """The columns a table must have for :meth:`transform` (dropped ones are not needed)."""
        return [s["name"] for s in self.columns_ if s["kind"] != "dropped"]

    @property
    def id_column_names(self) -> list[str]:
        """Dropped columns that identify rows: ``predict`` copies them into its output."""
        return [s["name"] for s in self.columns_
                if s["kind"] == "dropped" and s["why"].startswith(ID_WHY)]

    @property
    def feature_names_out_(self) -> list[str]:
        return [name for s in self.columns_ for name in _encoded_names(s)]

    @property
    def blocks(self) -> list[tuple[str, slice]]:
        """Each input column's name and the encoded columns it becomes (its one-hot columns,
        its value and missing indicator, its date features), in ``feature_names_out_`` order:
        what permutation importance permutes together."""
        out, start = [], 0
        for s in self.columns_:
            width = len(_encoded_names(s))
            if width:
                out.append((s["name"], slice(start, start + width)))
            start += width
        return out

    def read(self, frame) -> dict[str, np.ndarray]:
        """Each input column of ``frame`` as the model reads it, before encoding (what the ONNX
        export takes as its inputs): numeric, boolean and date columns as float64 numbers
        (1/0 for true/false, days since 1970 for dates; NaN for an empty cell), categorical
        ones as texts ("" for an empty cell). A cell the column's kind cannot read is refused,
        naming the column, the row and the value."""
        if not hasattr(self, "columns_"):
            raise InputError("this TableEncoder is not fitted yet; call fit first")
        have = {str(c): c for c in frame.columns}
        missing_cols = [c for c in self.input_columns if c not in have]
        if missing_cols:
            raise InputError(f"the table lacks the column(s) {missing_cols} the model was trained on; "
                             f"its columns are {list(have)}")
        specs = [s for s in self.columns_ if s["kind"] != "dropped"]
        read = each_column(lambda s, col: read_column(s, col), [(s, frame[have[s["name"]]]) for s in specs])
        return {s["name"]: r for s, r in zip(specs, read)}

    def transform(self, frame) -> np.ndarray:
        """The encoded features (n, len(feature_names_out_)), float64."""
        raw = self.read(frame)
        blocks = [encode_column(s, raw[s["name"]]) for s in self.columns_ if s["kind"] != "dropped"]
        return np.ascontiguousarray(np.column_stack(blocks), dtype=np.float64)

    def fit_transform(self, frame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    # ----- storing ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns_, "max_categories": self.max_categories}

    @classmethod
    def from_json(cls, spec) -> "TableEncoder":
        """Rebuild from :meth:`to_json`'s output, refusing anything malformed with InputError."""
        if not isinstance(spec, dict) or not isinstance(spec.get("columns"), list):
            raise InputError("the table encoding must be an object with a 'columns' list")
        enc = cls(max_categories=spec.get("max_categories", 64))
        enc.columns_ = [checked_column(c, i) for i, c in enumerate(spec["columns"])]
        names = [c["name"] for c in enc.columns_]
        if len(set(names)) != len(names) or not enc.input_columns:
            raise InputError("the table encoding names a column twice or keeps no column")
        return enc


def _encoded_names(s: dict) -> list[str]:
    """The names of the encoded columns one column's spec ``s`` becomes (none when dropped)."""
    if s["kind"] in ("numeric", "boolean"):
        return ([s["name"]] + ([f"{s['name']} (quantile)"] if s.get("both") else [])
                + ([f"{s['name']} {MISSING}"] if s["indicator"] else []))
    if s["kind"] == "date":
        return dates.feature_names(s)
    if s["kind"] == "categorical":
        return ([f"{s['name']}={c}" for c in s["categories"]] + ([f"{s['name']}={OTHER}"] if s["other"] else [])
                + ([f"{s['name']}={MISSING}"] if s["missing"] else []))
    return []


def _refuse_mostly(name: str, uniq: list, counts: np.ndarray) -> None:
    """Refuse a column more than half of whose cells (distinct values ``uniq`` seen ``counts``
    times) are numbers (or dates) but not all."""
    for looks, what in ((numtext.readings, "numbers"), (dates.looks_like_date, "dates")):
        flags = [bool(looks(v)) for v in uniq]
        if np.dot(flags, counts) * 2 > counts.sum():
            i = flags.index(False)
            count = int(counts[i])
            raise InputError(f"column {name!r} holds {what} but also {short(uniq[i])} "
                             f"({count} cell{'s' if count > 1 else ''}); "
                             "fix that value, leave the cell empty if it marks a missing value, or name "
                             "the column in --categorical (or --drop)")
