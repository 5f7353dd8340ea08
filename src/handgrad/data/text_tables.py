"""How a text table file is written: its encoding, its separator and its decimal mark.

Spreadsheets and other programs write tables that are not UTF-8 comma-separated files with
decimal points: Excel writes Windows-1252 ("ANSI") and UTF-16 ("Unicode text", tab-separated)
files, and in much of Europe separates cells with ``;`` and writes ``1,5`` for one and a half.
:func:`sniff` looks at the start of the file and says how to read it, with one note per thing
it had to guess (the notes are shown to the user, so that no guess is silent); what cannot be
read faithfully is refused naming what was found.
"""

from __future__ import annotations

import codecs
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

_HEAD_BYTES = 1 << 16  # enough for the header line and a few rows of any sane table
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
# a number written with a decimal comma, optionally with dots grouping thousands: 1,5 -2,25
# 1.234,5 — but not 1.5 or 1,234.5 (those are the other convention)
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?([eE][+-]?\d+)?\s*$")


@dataclass
class Dialect:
    """How to read a text table: ``encoding`` and ``sep`` for pandas, ``decimal_comma`` when
    the file is separated by something other than commas and may write numbers as ``1,5``
    (:func:`decimal_comma_columns` decides per column), and ``notes`` for the user."""

    encoding: str = "utf-8"
    sep: str = ","
    decimal_comma: bool = False
    notes: list[str] = field(default_factory=list)


def _head(path: Path) -> bytes:
    """The first bytes of the file (decompressed for .gz); b"" when they cannot be read (the
    reader then reports the real problem)."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as f:
            return f.read(_HEAD_BYTES)
    except Exception:  # noqa: BLE001 — a corrupt .gz: pandas says what is wrong with it
        return b""


# what a file named as a text table may really be, by its first bytes: (magic, what, how to fix)
_NOT_TEXT = ((b"\x1f\x8b", "gzip-compressed data", "name it {name}.gz so that it is decompressed as it is read"),
             (b"PAR1", "a Parquet file", "name it with .parquet"),
             (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one)",
              "save the sheet as CSV, or unzip the table out of it"),
             (b"BZh", "bzip2-compressed data", "decompress it (bunzip2) or re-save it as .csv.gz"),
             (b"\xfd7zXZ\x00", "xz-compressed data", "decompress it (unxz) or re-save it as .csv.gz"))


def refuse_binary(path: Path) -> None:
    """Refuse a file named as a text table whose first bytes say it is compressed data or
    another format (named as such, and how to fix it), instead of reading it as text in an
    unknown encoding. A ``.gz`` name is judged by what it decompresses to."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as f:
            first = f.read(8)
    except Exception:  # noqa: BLE001 — a corrupt .gz: pandas says what is wrong with it
        return
    for magic, what, fix in _NOT_TEXT:
        if first.startswith(magic):
            raise InputError(f"{path} is {what}, not a text table: {fix.format(name=path.name)}")


def _utf16(head: bytes) -> str | None:
    """"utf-16" for a file starting with a UTF-16 byte-order mark, "utf-16-le"/"-be" for text
    whose every other byte is NUL (ASCII in UTF-16 without a mark), else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) * 3 >= len(sample):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd >= 0.9 * (len(sample) // 2) and even == 0:
            return "utf-16-le"
        if even >= 0.9 * (len(sample) // 2) and odd == 0:
            return "utf-16-be"
    return None


def sniff(path: Path, sep: str) -> Dialect:
    """How to read the text table at ``path`` whose name says it is separated by ``sep``.

    A UTF-16 file (with a byte-order mark, or ASCII text every other byte of which is NUL) is
    decoded as UTF-16, with a note. A ``.csv``/``.txt`` file whose header line has no comma but
    semicolons, tabs or vertical bars is read with that separator, with a note; numbers written
    with a decimal comma are then recognised column by column. Compressed data and other
    formats under a text table's name are refused naming what they are (:func:`refuse_binary`).
    """
    refuse_binary(path)
    head = _head(path)
    dialect = Dialect(sep=sep)
    encoding = _utf16(head)
    if encoding:
        dialect.encoding = encoding
        dialect.notes.append(f"{path.name} is UTF-16 text (as Excel's \"Unicode text\" writes it); "
                             "read it as such")
        text = head.decode(encoding, errors="replace")
    else:
        text = head.decode("utf-8", errors="replace")
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if sep == "," and "," not in first:
        found = [s for s in _OTHER_SEPARATORS if s in first]
        if len(found) == 1:
            dialect.sep = found[0]
            dialect.notes.append(f"{path.name} separates its cells with {_OTHER_SEPARATORS[found[0]]}, "
                                 "not commas; read it so")
        elif len(found) > 1:
            names = " and ".join(_OTHER_SEPARATORS[s] for s in found)
            raise InputError(f"{path} has no comma in its header line but both {names}: cannot tell "
                             "which separates the cells; re-save it as a comma-separated file")
    dialect.decimal_comma = dialect.sep != ","
    return dialect


def cp1252_note(path: Path, exc: UnicodeDecodeError) -> str:
    """The note for a file read as Windows-1252 after UTF-8 failed on it."""
    return (f"{path.name} is not UTF-8 (it holds the byte 0x{exc.object[exc.start]:02x}); "
            "read it as Windows-1252, the encoding Excel writes: check that accented letters came "
            "out right, or re-save it as \"CSV UTF-8\"")


def not_text_message(path: Path, exc: UnicodeDecodeError) -> str:
    """The refusal for a file that is neither UTF-8 nor Windows-1252."""
    return (f"cannot read {path}: it is neither UTF-8 nor Windows-1252 text (it holds the byte "
            f"0x{exc.object[exc.start]:02x}); re-save it as UTF-8 "
            "(\"CSV UTF-8\" in Excel)")


def decimal_comma_columns(frame, skip=()) -> list[str]:
    """The text columns of ``frame`` (not in ``skip``) every present cell of which is a number
    written with a decimal comma, at least one with the comma itself (``1,5``; a column of
    whole numbers was read as numbers already)."""
    out = []
    for name in frame.columns:
        col = frame[name]
        if name in skip or not (col.dtype == object or str(col.dtype) in ("str", "string")):
            continue
        cells = col.dropna().astype(str)
        if len(cells) and cells.str.contains(",", regex=False).any() \
                and cells.str.match(_DECIMAL_COMMA).all():
            out.append(name)
    return out


def from_decimal_comma(col):
    """A column of decimal-comma numbers as float64 (dots grouping thousands removed)."""
    import pandas as pd

    text = col.astype(object).where(col.notna(), None)
    cleaned = text.map(lambda v: None if v is None else v.strip().replace(".", "").replace(",", "."))
    return pd.to_numeric(cleaned, errors="raise").astype("float64")


def read_text(pd, path: Path, dialect: Dialect, target: str | None, missing: list[str]):
    """(frame, raw header) of a text table read as ``dialect`` says; ``missing``: the cells
    read as missing in feature columns (in the label column only empty cells are)."""
    # pandas renames duplicate columns ("a", "a.1"), so read the raw header first
    raw = pd.read_csv(path, sep=dialect.sep, header=None, nrows=1, dtype=str, keep_default_na=False,
                      encoding=dialect.encoding)
    cells = [str(h) for h in raw.iloc[0].tolist()]
    header = [h for h in cells if h != ""]
    # the label column keeps its cells as written (only empty cells are missing), so that
    # NA, None or 01 can be class names; label_column decides
    names = [h if h != "" else f"Unnamed: {i}" for i, h in enumerate(cells)]
    na = {n: ([""] if n == target else missing) for n in names}
    options = dict(sep=dialect.sep, index_col=False, keep_default_na=False, na_values=na,
                   dtype=None if target not in names else {target: str}, encoding=dialect.encoding)
    if _holds_nul(path, dialect.encoding):
        # pandas 3's C parser ends a cell at a NUL character ("a\0" is read as "a": two labels
        # merged in silence); Python's parser keeps it, for the checks that name it
        return pd.read_csv(path, engine="python", **options), header
    try:
        return pd.read_csv(path, **_exact_numbers(pd), **options), header
    except OverflowError:  # a whole number beyond any float (pandas 3 raises): every cell as text,
        return pd.read_csv(path, **{**options, "dtype": str}), header  # numbers refused by name later


def _exact_numbers(pd) -> dict:
    """read_csv's option that reads every number as written, where its default does not: pandas
    before 3.1 reads 9e300 as 9.000000000000001e+300; 3.1 reads numbers exactly and deprecates
    the option (a warning in every read)."""
    version = tuple(int(p) if p.isdigit() else 0 for p in pd.__version__.split(".")[:2])
    return {"float_precision": "round_trip"} if version < (3, 1) else {}


def _holds_nul(path: Path, encoding: str, chunk: int = 1 << 20) -> bool:
    """Whether the text of ``path`` (decompressed if .gz) holds a NUL character."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as f:
        while block := f.read(chunk):
            if "\0" in block:
                return True
    return False
