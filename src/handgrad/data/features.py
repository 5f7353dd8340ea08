"""From a raw table to the network's numeric input: :class:`TableEncoder`.

Real tables hold text columns and empty cells. The encoder turns each column into numbers by
rules fitted on the training rows only, and stores those rules as JSON (in the model file), so
that ``predict`` and ``evaluate`` apply exactly the same transformation to new rows.

Per column, in order (the first rule that applies):

1. listed in ``drop`` → dropped;
2. listed in ``numeric`` / ``categorical`` → that kind (a value that is not a number in a
   column forced numeric is refused, naming the column, the row and the value);
3. no value at all, or one value and no empty cell → dropped ("empty" / "constant");
4. every value a number → **numeric**, unless it is a row number (at least 20 rows of whole
   numbers that increase down the table, or are distinct under a name such as ``Unnamed: 0``,
   ``index`` or ``rownames``: an index column written out with the data) → dropped;
5. every value one of true/false, yes/no (any case) → **boolean** (0/1);
6. otherwise **categorical**, unless every row has its own value (at least 20 rows: an ID)
   → dropped.

Numeric columns: empty cells take the training median and a 0/1 column ``name (missing)``
says where that happened (only if the training rows had empty cells); then the column is
standardised with the training mean and standard deviation. Boolean columns: 0/1, empty cells
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
from .feature_checks import checked_column
from .preprocessing import robust_mean_std, standardize

ID_WHY = "an identifier"  # a dropped column so marked is copied into prediction files
MISSING = "(missing)"
OTHER = "(other)"
_TRUE = {"true", "yes", "t", "y"}
_FALSE = {"false", "no", "f", "n"}
_MIN_ROWS_FOR_ID = 20
# what pandas (``Unnamed: 0``) and R (``""``, ``rownames``) call a written-out row index
_INDEX_NAMES = {"", "unnamed: 0", "index", "rownames", "row.names"}


def _pandas():
    try:
        import pandas
    except ImportError:
        raise InputError("tables with text columns need pandas: pip install '.[cli]' in handgrad's folder") from None
    return pandas


def _cells(col) -> tuple[list, np.ndarray]:
    """(values as Python objects, missing mask): NaN, None and blank text are missing."""
    pd = _pandas()
    values = col.tolist()
    missing = np.array(pd.isna(col).to_numpy(), dtype=bool)
    for i, v in enumerate(values):
        if isinstance(v, str) and not v.strip():
            missing[i] = True
    return values, missing


def _as_number(v) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _as_bool(v) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    text = str(v).strip().lower()
    return 1.0 if text in _TRUE else 0.0 if text in _FALSE else None


def _text(v) -> str:
    if isinstance(v, float) and v.is_integer():  # 3.0 read from a column with gaps is "3"
        return str(int(v))
    return str(v).strip()


def _each_column(fn, items) -> list:
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


class TableEncoder:
    """Fit on a pandas DataFrame of feature columns; transform DataFrames with those columns.

    Args:
        categorical, numeric, drop: column names forced to a kind (see the module docstring).
        max_categories: one-hot columns kept per categorical variable (the most frequent
            training values); the rest share ``(other)``.

    After :meth:`fit`: ``columns_`` (one spec dict per input column, JSON-able),
    ``feature_names_out_`` (names of the output columns), ``notes_`` (one line per dropped
    column, for the user).
    """

    def __init__(self, categorical: Iterable[str] = (), numeric: Iterable[str] = (),
                 drop: Iterable[str] = (), max_categories: int = 64, id_columns: Iterable[str] = ()):
        self.categorical, self.numeric, self.drop = set(categorical), set(numeric), set(drop)
        self.id_columns = set(id_columns)
        both = self.categorical & self.numeric
        if both:
            raise InputError(f"column(s) {sorted(both)} cannot be both categorical and numeric")
        if int(max_categories) < 1:
            raise InputError(f"max_categories must be ≥ 1, got {max_categories}")
        self.max_categories = int(max_categories)

    # ----- fitting -----------------------------------------------------------------------
    def fit(self, frame) -> "TableEncoder":
        names = [str(c) for c in frame.columns]
        unknown = (self.categorical | self.numeric | self.drop | self.id_columns) - set(names)
        if unknown:
            raise InputError(f"column(s) {sorted(unknown)} named in --categorical/--numeric/--drop "
                             f"are not in the table; its columns are {names}")
        if len(frame) == 0:
            raise InputError("cannot fit the feature encoding on zero rows")
        self.columns_ = _each_column(self._fit_column, [(name, frame[col]) for name, col
                                                        in zip(names, frame.columns)])
        if not any(s["kind"] != "dropped" for s in self.columns_):
            raise InputError("no usable feature column is left: " + "; ".join(self.notes_))
        return self

    @property
    def notes_(self) -> list[str]:
        return [f"column {s['name']!r} dropped: {s['why']}" for s in self.columns_ if s["kind"] == "dropped"]

    def _fit_column(self, name: str, col) -> dict[str, Any]:
        values, missing = _cells(col)
        present = [v for v, m in zip(values, missing) if not m]
        n = len(values)
        if name in self.drop:
            return {"name": name, "kind": "dropped", "why": "asked (--drop)"}
        if name in self.id_columns:
            return {"name": name, "kind": "dropped", "why": ID_WHY + " (--id-column)"}
        if name not in self.categorical | self.numeric:
            if not present:
                return {"name": name, "kind": "dropped", "why": "empty (no value in the training rows)"}
            if len({_text(v) for v in present}) == 1 and not missing.any():
                return {"name": name, "kind": "dropped", "why": f"constant (always {_text(present[0])!r})"}
        numbers = [_as_number(v) for v in present]
        if name in self.numeric or (name not in self.categorical and all(x is not None for x in numbers)):
            bad = [v for v, x in zip(present, numbers) if x is None]
            if bad:
                raise InputError(f"column {name!r} is to be numeric but holds {_text(bad[0])!r}; "
                                 "fix the value or make the column categorical")
            infinite = [v for v, x in zip(present, numbers) if not math.isfinite(x)]
            if infinite:
                raise InputError(f"column {name!r} holds {_text(infinite[0])!r}; a feature must be a "
                                 "finite number: fix the cell or leave it empty")
            x = np.array(numbers, dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                increasing = bool(np.all(np.diff(x) > 0))
            if (name not in self.numeric and n >= _MIN_ROWS_FOR_ID and not missing.any()
                    and np.all(x == np.round(x)) and (increasing or (
                        name.strip().lower() in _INDEX_NAMES and np.unique(x).size == n))):
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
            return {"name": name, "kind": "numeric", "fill": fill, "indicator": bool(missing.any()),
                    "mean": mean, "scale": std if std > 0 else 1.0}
        flags = [_as_bool(v) for v in present]
        if name not in self.categorical and all(f is not None for f in flags):
            ones = sum(flags)
            return {"name": name, "kind": "boolean", "fill": 1.0 if ones * 2 >= len(flags) else 0.0,
                    "indicator": bool(missing.any())}
        text = [_text(v) for v in present]
        counts = Counter(text)
        if name not in self.categorical and n >= _MIN_ROWS_FOR_ID and len(counts) == n:
            return {"name": name, "kind": "dropped", "why": ID_WHY + " (a different value in every row)"}
        ranked = sorted(counts, key=lambda c: (-counts[c], c))
        kept = ranked[:self.max_categories]
        return {"name": name, "kind": "categorical", "categories": sorted(kept),
                "other": len(ranked) > len(kept), "missing": bool(missing.any())}

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
        out = []
        for s in self.columns_:
            if s["kind"] in ("numeric", "boolean"):
                out.append(s["name"])
                if s["indicator"]:
                    out.append(f"{s['name']} {MISSING}")
            elif s["kind"] == "categorical":
                out += [f"{s['name']}={c}" for c in s["categories"]]
                out += [f"{s['name']}={OTHER}"] if s["other"] else []
                out += [f"{s['name']}={MISSING}"] if s["missing"] else []
        return out

    def transform(self, frame) -> np.ndarray:
        """The encoded features (n, len(feature_names_out_)), float64."""
        if not hasattr(self, "columns_"):
            raise InputError("this TableEncoder is not fitted yet; call fit first")
        have = {str(c): c for c in frame.columns}
        missing_cols = [c for c in self.input_columns if c not in have]
        if missing_cols:
            raise InputError(f"the table lacks the column(s) {missing_cols} the model was trained on; "
                             f"its columns are {list(have)}")
        blocks = _each_column(lambda spec, col: getattr(self, "_" + spec["kind"])(spec, *_cells(col)),
                              [(s, frame[have[s["name"]]]) for s in self.columns_ if s["kind"] != "dropped"])
        return np.ascontiguousarray(np.column_stack(blocks), dtype=np.float64)

    def fit_transform(self, frame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def _numeric(self, s, values, missing) -> np.ndarray:
        x = np.full(len(values), s["fill"])
        for i, (v, m) in enumerate(zip(values, missing)):
            if not m:
                f = _as_number(v)
                if f is None or not math.isfinite(f):
                    raise InputError(f"column {s['name']!r} holds {_text(v)!r} in row {i + 1}, "
                                     "but the model reads it as a number; fix the value or leave the cell empty")
                x[i] = f
        cols = [standardize(x, s["mean"], s["scale"])]
        if s["indicator"]:
            cols.append(missing.astype(np.float64))
        return np.column_stack(cols)

    def _boolean(self, s, values, missing) -> np.ndarray:
        x = np.full(len(values), s["fill"])
        for i, (v, m) in enumerate(zip(values, missing)):
            if not m:
                f = _as_bool(v)
                if f is None:
                    raise InputError(f"column {s['name']!r} holds {_text(v)!r} in row {i + 1}, but the "
                                     "model reads it as true/false; fix the value or leave the cell empty")
                x[i] = f
        return np.column_stack([x, missing.astype(np.float64)] if s["indicator"] else [x])

    def _categorical(self, s, values, missing) -> np.ndarray:
        levels = list(s["categories"]) + ([OTHER] if s["other"] else []) + ([MISSING] if s["missing"] else [])
        index = {c: j for j, c in enumerate(levels)}
        out = np.zeros((len(values), len(levels)))
        for i, (v, m) in enumerate(zip(values, missing)):
            j = index.get(MISSING if m else _text(v))
            if j is None and not m:
                j = index.get(OTHER)  # unseen or rare: (other) if there is one, else all 0
            if j is not None:
                out[i, j] = 1.0
        return out

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
