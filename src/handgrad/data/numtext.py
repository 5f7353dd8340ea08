"""Numbers in table cells, typed or written as text: the one reader every door uses.

Training (:class:`~handgrad.data.features.TableEncoder`), ``evaluate``/``predict`` on new
files, a model without a table encoding reading a file (:mod:`handgrad.data.columns`), a
regression target (:mod:`handgrad.data.targets`) and the ONNX input feed
(:func:`handgrad.export.onnx_inputs`) read numbers here, by these rules:

* **Typed** cells are numbers: Python and numpy integers and floats, ``decimal.Decimal``
  (Parquet ``decimal128``/``decimal256``), fractions, and pandas' nullable integer, float
  and Arrow-backed columns (their missing values are empty cells). A duration (Parquet
  ``duration``, numpy ``timedelta64``) is its number of **seconds**. true/false are 1/0.
* **Text** is a number when it is, after surrounding spaces are removed, an optional sign,
  digits with at most one decimal mark and an optional exponent (``1e5``), where

  - the digits before the mark may be grouped in threes by a thousands separator, the same
    one throughout the text: ``12,570``, ``1,234,567.5``, ``12 570`` (a space, no-break or
    narrow no-break space), ``12'570``;
  - the decimal mark is the column's: ``.`` (``1,234.5``), or ``,`` (``1.234,5``, ``1234,5``:
    the thousands separator is then ``.`` or a space). A column is read with ``,`` only when
    one of its values can be read no other way (``2,5``); when every value reads both ways
    (``12,570``) the comma groups thousands;
  - one currency sign ``$ € £ ¥ ₹`` may stand before or after the number (``$1,200.50``,
    ``-$5``, ``12 €``), or ``%`` after it (``12.5%`` is 12.5: the column is standardised, so
    the scale does not matter). One column holds one sign: ``$`` beside ``€`` is refused, and
    so is a ``%`` column with a value without ``%``; a value without a currency sign is
    allowed in a currency column.

What is refused names the value: a column every value of which looks like a number but not
in one form (``1,234.5`` beside ``2,5``), and, at predict time, a value the column's form does
not read. Anything else (``12-570``, ``(5)``, ``1.2.3``, ``5 kg``) is not a number.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import re

import numpy as np

from ..errors import InputError
from .cells import short

CURRENCY = "$€£¥₹"
PLAIN = {"decimal": ".", "unit": ""}  # the form of a column of plain numbers
_SPACES = " \u00a0\u202f"
_GROUPS = {".": ",'" + _SPACES, ",": "." + _SPACES}  # the thousands separators beside each mark
_CELL = re.compile(rf"(?P<s1>[+\-\u2212]?)(?P<pre>[{CURRENCY}]?)\s?(?P<s2>[+\-\u2212]?)"
                   rf"(?P<body>[0-9.,'{_SPACES}]*[0-9])(?P<exp>[eE][+-]?[0-9]+)?\s?(?P<post>[%{CURRENCY}]?)")


def _body(mark: str) -> re.Pattern:
    groups = re.escape(_GROUPS[mark])
    return re.compile(rf"(?P<int>[0-9]{{1,3}}(?P<g>[{groups}])[0-9]{{3}}(?:(?P=g)[0-9]{{3}})*|[0-9]*)"
                      rf"(?:{re.escape(mark)}(?P<frac>[0-9]+))?")


_BODIES = {".": _body("."), ",": _body(",")}


def readings(v) -> tuple[str, dict[str, float]] | None:
    """(unit, {decimal mark: value}) of a cell that is a number in some form, else None:
    the value under each decimal mark that reads it ("12,570": both; "2,5": "," only)."""
    if not isinstance(v, str):
        return _typed(v)
    m = _CELL.fullmatch(v.strip())
    if m is None or (m["s1"] and m["s2"]) or (m["pre"] and m["post"]):
        try:  # what Python reads besides: inf, nan, 1_000, other scripts' digits
            return "", {".": float(v.strip())}
        except ValueError:
            return None
    values = {}
    negative = (m["s1"] or m["s2"]) in ("-", "\u2212")
    for mark, body in _BODIES.items():
        b = body.fullmatch(m["body"])
        if b is None or not (b["int"] or b["frac"]):
            continue
        x = float((b["int"] or "0").replace(b["g"] or "#", "") + "." + (b["frac"] or "0") + (m["exp"] or ""))
        values[mark] = -x if negative else x
    return (m["pre"] or m["post"], values) if values else None


def _typed(v) -> tuple[str, dict[str, float]] | None:
    if isinstance(v, (datetime.timedelta, np.timedelta64)):  # numpy's is an integer type too
        x = _seconds(v)
        return None if x is None else ("", {".": x, ",": x})
    if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating, decimal.Decimal,
                      fractions.Fraction)):
        try:
            x = float(v)
        except OverflowError:  # an integer or fraction beyond float64: refused as infinite
            x = float("inf") if v > 0 else float("-inf")
        return "", {".": x, ",": x}
    return None


def number(v, form: dict | None = None) -> float | None:
    """The cell ``v`` as a float under its column's ``form`` ({"decimal", "unit"}; None: plain
    numbers), or None when it is not a number in that form."""
    form = form or PLAIN
    if form is PLAIN or form == PLAIN:
        if isinstance(v, str):
            try:
                return float(v.strip())  # plain numbers as Python reads them, as always
            except ValueError:
                pass
    r = readings(v)
    if r is None or form["decimal"] not in r[1]:
        return None
    unit = r[0] if isinstance(v, str) else ""
    if unit != form["unit"] and not (unit == "" and form["unit"] in CURRENCY):
        return None
    return r[1][form["decimal"]]


def typed_numbers(col) -> np.ndarray | None:
    """A pandas column of numbers (numpy's or pandas' nullable integers and floats) as float64,
    NaN where empty, as :func:`number` reads each cell; None for any other dtype."""
    import pandas as pd

    t = pd.api.types
    if t.is_bool_dtype(col.dtype) or not t.is_numeric_dtype(col.dtype) or t.is_complex_dtype(col.dtype):
        return None
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


def _seconds(v) -> float | None:
    import pandas as pd

    try:
        return float(pd.Timedelta(v).total_seconds())
    except (ValueError, OverflowError):
        return None


def is_plain(v) -> bool:
    """Whether ``v`` is typed or text that Python's float() reads (no separator, sign or mark)."""
    if not isinstance(v, str):
        return True
    try:
        float(v.strip())
    except ValueError:
        return False
    return True


def column_numbers(values: list, name: str) -> tuple[dict, list[float]] | None:
    """(the form in which every present cell ``values`` of column ``name`` reads as a number,
    the numbers — what :func:`number` gives in that form), or None when some cell is no number
    in any form. Raises InputError when every cell is a number but they are written in more
    than one form, naming a value of each. (The values are named, not their rows: a model is
    fitted on the training part of a file, whose rows are not the file's.)"""
    numbers = []
    for v in values:  # the common case first: plain numbers, read as Python reads them
        if isinstance(v, str):
            try:
                numbers.append(float(v.strip()))
            except ValueError:
                break
        else:
            r = readings(v)
            if r is None:
                return None
            numbers.append(r[1]["."])
    else:
        return dict(PLAIN), numbers
    read = []
    for v in values:
        read.append(readings(v))
        if read[-1] is None:
            return None
    units: dict[str, int] = {}
    marks, narrowed = {".", ","}, 0
    for i, (unit, by_mark) in enumerate(read):
        units.setdefault(unit, i)
        if not marks & by_mark.keys():
            _two_ways(name, values, narrowed, i, "a decimal point", "a decimal comma")
        if marks - by_mark.keys() and marks == {".", ","}:
            narrowed = i
        marks &= by_mark.keys()
    signs = [u for u in units if u]
    if len(signs) > 1:
        _two_ways(name, values, units[signs[0]], units[signs[1]], f"in {signs[0]}", f"in {signs[1]}")
    if "%" in units and "" in units:
        _two_ways(name, values, units["%"], units[""], "with %", "without")
    mark = "." if "." in marks else ","
    return {"decimal": mark, "unit": signs[0] if signs else ""}, [r[1][mark] for r in read]


def _two_ways(name, values, i, j, one, other):
    raise InputError(f"column {name!r} writes its numbers two ways: {short(values[i])} ({one}) and "
                     f"{short(values[j])} ({other}); write every value of a column one way (or name "
                     "the column in --categorical)")


def check_form(form, name: str) -> None:
    """Refuse a stored form that is not {"decimal": "." or ",", "unit": "" or a sign}."""
    if not (isinstance(form, dict) and set(form) == {"decimal", "unit"} and form["decimal"] in _GROUPS
            and form["unit"] in ("", "%", *CURRENCY)):
        raise InputError(f"column {name!r} of the table encoding: 'written' must be {{\"decimal\": "
                         f"\".\" or \",\", \"unit\": \"\", \"%\" or one of {CURRENCY}}}")


def example(form: dict | None) -> str:
    """How a number of a column of ``form`` is written, for messages: ``$1,234.5``."""
    form = form or PLAIN
    if form["unit"] == "%":
        return "12.5%" if form["decimal"] == "." else "12,5%"
    return form["unit"] + ("1,234.5" if form["decimal"] == "." else "1.234,5")
