"""Dates and times in table cells: recognised, read as a number of days, turned into features.

**What is read as a date** (a cell, surrounding spaces removed; month names in English, any
case):

* typed: ``datetime.date``, ``datetime.datetime``, pandas ``Timestamp``, numpy
  ``datetime64`` (Parquet ``date32``, ``date64``, ``timestamp`` with or without a time zone);
* year first: ``2024-03-01``, ``2024/3/1``, ``2024.03.01``; a month alone, ``2024-03`` or
  ``2024/03``, is its first day;
* day or month first, with a four-digit year: ``01/03/2024``, ``1-3-2024``, ``01.03.2024``.
  Whether the first number is the day or the month is decided once per column from the
  training rows: a first number above 12 means day first, a second above 12 month first; a
  column where neither shows (every value could be read both ways), or both do, is refused;
* a month name: ``1 March 2024``, ``01-Mar-2024``, ``March 1, 2024``, ``Mar 1 2024``,
  ``March 2024`` (a month: its first day);
* after any of these forms with a day, a time: ``T`` or spaces, then ``10:30``, ``10:30:15``
  or ``10:30:15.123456`` (``AM``/``PM`` for a 12-hour clock), then optionally a zone: ``Z``,
  ``UTC``, ``GMT``, ``+02:00``, ``+0200``, ``+02``.

**Time zones**: the time as written (the wall clock) is what is read, the offset dropped:
``2024-03-01T23:30-05:00`` is 23:30 on March 1 (a Friday there). A typed timestamp with a time
zone is read on its zone's clock. **Not read**: two-digit years (``01/03/24``, ``Mar-24``:
refused in a column of dates, naming the value), a time without a date, dates written as
numbers (``20240301``, Unix seconds: those are numbers).

**The number**: ``t`` = days since 1970-01-01 00:00 (the time of day its fraction), from the
date's proleptic Gregorian day count; the ONNX export takes this number as its input.

**Features** (:func:`features`; ``parts`` chosen on the training rows and stored):

* ``elapsed days``: t standardised with the training mean and standard deviation (always;
  a date after the training rows continues the line, it is not zeroed). No separate year: it
  repeats the elapsed days in steps and only weighed the trend twice on the real tables tried
  (modeldata's Chicago ridership, split by time: held-out R² 0.819 with it, 0.843 without;
  bench/date_columns.py);
* ``month sin``/``cos``: the month on a circle of 12 (December beside January), unless every
  training date is January 1 (yearly data);
* ``weekday sin``/``cos`` (Monday 0 on a circle of 7) and ``day of year sin``/``cos``
  (January 1 is 0, on a circle of the year's 365 or 366 days), unless every training date is
  the first of a month (monthly data);
* ``time sin``/``cos``: the time of day on a circle of 24 h, when some training value has a
  time other than midnight.

Empty cells take the training median of t (and every feature follows from it), plus the
0/1 column ``(missing)`` when the training rows had empty cells.
"""

from __future__ import annotations

import datetime
import re

import numpy as np

from ..errors import InputError
from .cells import short
from .preprocessing import robust_mean_std, standardize

PARTS = ("elapsed", "month", "weekday", "yearday", "time")
NAMES = {"elapsed": ["elapsed days"], "month": ["month sin", "month cos"],
         "weekday": ["weekday sin", "weekday cos"], "yearday": ["day of year sin", "day of year cos"],
         "time": ["time sin", "time cos"]}
ORDERS = ("ymd", "dmy", "mdy")
TAU = 2 * np.pi
EPOCH = datetime.date(1970, 1, 1).toordinal()
_MONTHS = {}
for _i, _name in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                            "september", "october", "november", "december"]):
    _MONTHS[_name] = _MONTHS[_name[:3]] = _i + 1
_MONTHS["sept"] = 9
_MON = r"(?P<mon>[A-Za-z]{3,9})\.?"
_TIME = (r"(?:(?:[Tt]\s*|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
         r"(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?(?:\s*(?P<tz>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?)?")
_FORMS = [re.compile(p) for p in (
    rf"(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME}",
    r"(?P<y>\d{4})[-/](?P<m>0[1-9]|1[0-2])",  # not 2019-20, a season
    rf"(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}){_TIME}",
    rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?P<sep>[-\s/]+){_MON}(?P=sep)(?P<y>\d{{4}}){_TIME}",
    rf"{_MON}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}}){_TIME}",
    rf"{_MON}[-\s]+(?P<y>\d{{4}})")]
# dates with two-digit years: recognised as dates so as to be refused, never read
_TWO_DIGIT = [re.compile(p) for p in (
    rf"\d{{1,2}}(?P<sep>[-/.])\d{{1,2}}(?P=sep)\d{{2}}{_TIME}",
    rf"\d{{1,2}}(?P<sep>[-\s]){_MON}(?P=sep)\d{{2}}{_TIME}",
    rf"{_MON}[-\s']+\d{{2}}")]


def _fields(v):
    """A cell's date as a dict (y, m, d or the undecided a/b, seconds) or "two-digit", or None."""
    if isinstance(v, datetime.datetime):  # pandas' Timestamp too
        wall = v.replace(tzinfo=None)
        seconds = wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
        return {"y": wall.year, "m": wall.month, "d": wall.day,
                "s": seconds + getattr(wall, "nanosecond", 0) / 1e9}
    if isinstance(v, datetime.date):
        return {"y": v.year, "m": v.month, "d": v.day, "s": 0.0}
    if isinstance(v, np.datetime64):
        import pandas as pd

        try:
            return None if np.isnat(v) else _fields(pd.Timestamp(v))
        except (ValueError, OverflowError):
            return None
    if not isinstance(v, str):
        return None
    text = v.strip()
    for form in _FORMS:
        m = form.fullmatch(text)
        if m is None:
            continue
        g = m.groupdict()
        if g.get("mon") is not None:
            month = _MONTHS.get(g["mon"].lower())
            if month is None:
                return None
            g["m"] = month
        out = {k: int(g[k]) for k in ("y", "m", "d", "a", "b") if g.get(k) is not None}
        if "a" not in out and "d" not in out:
            out["d"] = 1  # a month: its first day
        out["s"] = _seconds(g)
        return out
    for form in _TWO_DIGIT:
        m = form.fullmatch(text)
        if m is not None and (m.groupdict().get("mon") is None or m["mon"].lower() in _MONTHS):
            return "two-digit"
    return None


def _seconds(g) -> float | None:
    """The time of day of a match in seconds; -1 for an impossible time; 0.0 without one."""
    if g.get("H") is None:
        return 0.0
    h, m, s = int(g["H"]), int(g["M"]), int(g["S"] or 0)
    if g.get("ampm"):
        if not 1 <= h <= 12:
            return -1.0
        h = h % 12 + (12 if g["ampm"][0] in "Pp" else 0)
    if h > 23 or m > 59 or s > 59:
        return -1.0
    return h * 3600 + m * 60 + s + (int(g["f"]) / 10 ** len(g["f"]) if g.get("f") else 0.0)


def _days(f: dict, order: str) -> float | None:
    """Days since 1970-01-01 of :func:`_fields`' dict under ``order``; None: not a date."""
    if "a" in f:
        if order == "ymd":
            return None
        f = {**f, "d": f["a"], "m": f["b"]} if order == "dmy" else {**f, "m": f["a"], "d": f["b"]}
    if f["s"] < 0:
        return None
    try:
        return float(datetime.date(f["y"], f["m"], f["d"]).toordinal() - EPOCH) + f["s"] / 86400.0
    except ValueError:  # February 30, month 13, year 0
        return None


def days(v, order: str = "ymd") -> float | None:
    """A cell as days since 1970-01-01 00:00 (the time of day its fraction), its day/month
    order ``order`` for ``01/03/2024``-like text; None when it is not a date so read."""
    f = _fields(v)
    return None if f is None or f == "two-digit" else _days(f, order)


def typed_days(col) -> np.ndarray | None:
    """:func:`days` of every cell of a pandas datetime64 column at once (NaN for NaT), on its
    zone's clock, by the same arithmetic; None for a column of another dtype."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(col.dtype):
        return None
    if getattr(col.dtype, "tz", None) is not None:
        col = col.dt.tz_localize(None)  # the wall clock of its zone
    ns = col.dt.unit == "ns"
    when = col.to_numpy().astype("datetime64[ns]" if ns else "datetime64[us]")
    day = when.astype("datetime64[D]")
    part = (when - day).astype(np.int64)  # of the day, in ns or µs
    second = 10 ** 9 if ns else 10 ** 6
    s = (part // second).astype(np.float64) + (part % second // (1000 if ns else 1)) / 1e6
    if ns:
        s = s + part % 1000 / 1e9
    t = day.astype(np.int64).astype(np.float64) + s / 86400.0
    return np.where(np.isnat(when), np.nan, t)


def looks_like_date(v) -> bool:
    """Whether ``v`` is written like a date (read or not: ``2024-02-30``, ``01/03/24``)."""
    return _fields(v) is not None


def column_dates(values: list, name: str):
    """(days (n,), order, has_time) for present cells ``values`` of column ``name`` that are
    all dates; None when some cell is not written like one. Raises InputError for a column of
    dates some of which cannot be read, naming a value (not its row: a model is fitted on the
    training part of a file, whose rows are not the file's)."""
    fields = []
    for v in values:
        fields.append(_fields(v))
        if fields[-1] is None:
            return None
    if not fields:
        return None
    for i, f in enumerate(fields):
        if f == "two-digit":
            raise InputError(f"column {name!r} writes a date with a two-digit year ({short(values[i])}); "
                             f"write four-digit years (2024-03-01), or name the "
                             "column in --categorical or --drop")
    pairs = [i for i, f in enumerate(fields) if "a" in f]
    day_first = [i for i in pairs if fields[i]["a"] > 12]
    month_first = [i for i in pairs if fields[i]["b"] > 12]
    order = "ymd"
    if pairs and day_first and month_first:
        i, j = day_first[0], month_first[0]
        raise InputError(f"column {name!r} writes dates day first ({short(values[i])}) and month "
                         f"first ({short(values[j])}); write them one way, "
                         "best as 2024-03-01")
    if pairs:
        order = "dmy" if day_first else "mdy" if month_first else None
        if order is None and any(fields[i]["a"] != fields[i]["b"] for i in pairs):
            i = next(i for i in pairs if fields[i]["a"] != fields[i]["b"])
            raise InputError(f"column {name!r} writes dates such as {short(values[i])} "
                             "that could be day/month or month/day, and no training date tells which; "
                             "write them as 2024-03-01 (year-month-day), or name the column in "
                             "--categorical or --drop")
        order = order or "dmy"
    t = np.array([_days(f, order) if f is not None else None for f in fields], dtype=object)
    for i, x in enumerate(t):
        if x is None:
            raise InputError(f"column {name!r} holds dates, but {short(values[i])} is not one (no "
                             "such day or time); fix the value or leave the cell empty")
    return t.astype(np.float64), order, any(f["s"] > 0 for f in fields)


def fit(t: np.ndarray, order: str, has_time: bool, missing: np.ndarray, name: str) -> dict:
    """The stored spec of a date column from its training days ``t`` (present cells) and the
    (n,) mask ``missing``."""
    fill = float(np.median(t))
    filled = np.full(missing.shape, fill)
    filled[~missing] = t
    mean, std = robust_mean_std(filled)
    _, month0, doy0, _, _ = _calendar(t)
    parts = ["elapsed"]
    if not np.all(doy0 == 0):
        parts.append("month")
    if not np.all(_first_of_month(t)):
        parts += ["weekday", "yearday"]
    if has_time:
        parts.append("time")
    return {"name": name, "kind": "date", "order": order, "fill": fill, "indicator": bool(missing.any()),
            "mean": float(mean), "scale": float(std) if std > 0 else 1.0, "parts": parts}


def _first_of_month(t: np.ndarray) -> np.ndarray:
    day = np.floor(t).astype(np.int64).astype("datetime64[D]")
    return day == day.astype("datetime64[M]").astype("datetime64[D]")


def _calendar(t: np.ndarray):
    """(year, month 0–11, day of year 0–365, days in that year, weekday with Monday 0) of days
    since 1970 ``t``, by numpy's calendar (the ONNX graph computes them by arithmetic)."""
    day = np.floor(t)
    D = day.astype(np.int64).astype("datetime64[D]")
    Y = D.astype("datetime64[Y]")
    year = Y.astype(np.int64) + 1970
    month0 = D.astype("datetime64[M]").astype(np.int64) % 12
    doy0 = (D - Y.astype("datetime64[D]")).astype(np.int64)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    weekday = (day + 3) - 7 * np.floor((day + 3) / 7)
    return year, month0, doy0, 365 + leap, weekday


def features(s: dict, t: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """The features (n, k) of a date column of spec ``s`` from its days ``t`` (NaN where
    ``missing``), in :func:`feature_names`' order."""
    t = np.where(missing, s["fill"], t)
    _, month0, doy0, year_days, weekday = _calendar(t)
    angles = {"month": month0.astype(np.float64) * (TAU / 12), "weekday": weekday * (TAU / 7),
              "yearday": doy0.astype(np.float64) * TAU / year_days, "time": (t - np.floor(t)) * TAU}
    cols = []
    for part in s["parts"]:
        if part == "elapsed":
            cols.append(standardize(t, s["mean"], s["scale"]))
        else:
            cols += [np.sin(angles[part]), np.cos(angles[part])]
    if s["indicator"]:
        cols.append(missing.astype(np.float64))
    return np.column_stack(cols)


def note(s: dict, first, t0: float) -> str:
    """The note telling the user how a column was read as dates (a value and its reading)."""
    how = {"ymd": "", "dmy": ", day first", "mdy": ", month first"}[s["order"]]
    parts = ", ".join(NAMES[p][0].removesuffix(" sin") for p in s["parts"])
    return (f"column {s['name']!r} read as dates ({short(first)} is {np.datetime64(int(np.floor(t0)), 'D')}"
            f"{how}): {parts}")


def feature_names(s: dict) -> list[str]:
    return ([f"{s['name']} ({n})" for part in s["parts"] for n in NAMES[part]]
            + ([f"{s['name']} (missing)"] if s["indicator"] else []))


def written_like(s: dict) -> str:
    """How a model's date column ``s`` wants its dates written, for messages."""
    return {"ymd": "2024-03-31", "dmy": "31/03/2024 (day first) or 2024-03-31",
            "mdy": "03/31/2024 (month first) or 2024-03-31"}[s["order"]]


def check(c: dict) -> None:
    """The checks a stored date spec must pass beyond its keys' types (InputError)."""
    if c["order"] not in ORDERS or not c["scale"] > 0:
        raise InputError(f"column {c['name']!r} of the table encoding: order must be one of {ORDERS} "
                         "and the scales > 0")
    parts = c["parts"]
    if not parts or not all(isinstance(p, str) for p in parts) or [p for p in PARTS if p in parts] != parts:
        raise InputError(f"column {c['name']!r} of the table encoding: parts must be some of "
                         f"{list(PARTS)}, in that order, each once")
