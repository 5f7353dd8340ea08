"""Property-based tests (Hypothesis) that try to break things (issue 6, "Reliability").

* The loaders, on arbitrary bytes and on random and structured mutations of valid files,
  either succeed or raise the documented errors: ``load_table`` (CSV, TSV, gzipped CSV,
  Parquet) an :class:`~handgrad.errors.InputError`, ``load_model`` / ``model_from_bytes`` a
  :class:`~handgrad.io.ModelFileError`, with a one-line message. Nothing else may escape:
  no pandas ValueError, UnicodeDecodeError, KeyError, zlib.error, pyarrow error, and no numpy
  warning either (an ``invalid value encountered in cast`` is a silent wrong answer). What
  they return must be sound: finite float64 features, one label per row, a model whose
  predictions are probabilities. (tests/test_io.py already fuzzes model files with raw
  bytes, byte-level mutations and one replaced metadata value; here are the table reader,
  structured mutations of the safetensors header and of nested metadata, and tensor values.)
* The network (float64 and float32, random small architectures and activations):
  ``predict_proba`` rows are probabilities summing to 1, ``predict`` picks a most probable
  class, neither depends on row order or ``batch_size``; ``logsumexp`` is shift-invariant and
  finite, ``log_softmax`` finite and ≤ 0.
* Numerical extremes: inputs ×1e6 and logits up to ±1e4 give finite (log-)probabilities; a
  network whose outputs would be NaN/inf raises an InputError instead of answering.


Profiles: ``ci`` (derandomized, 200 examples, no deadline) when the environment variable CI
is set, ``dev`` (random, fewer examples) otherwise; ``HYPOTHESIS_PROFILE=ci`` forces one.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import handgrad as hg
from handgrad.data import Dataset, load_table
from handgrad.errors import InputError
from handgrad.model.files import ModelFileError, load_model, model_from_bytes, model_to_bytes
from handgrad.model import Model
from handgrad.data.preprocessing import Standardizer

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=200, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=60, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

# the few slowest properties (a network per example, several predictions) run fewer examples
FEWER = settings(max_examples=max(10, settings().max_examples // 2))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One directory for all examples of the module: each example rewrites its file first."""
    return tmp_path_factory.mktemp("properties")


# ===== the contract ============================================================================

def is_contract_warning(w: warnings.WarningMessage) -> bool:
    """Any warning breaks the contract (numpy's RuntimeWarnings on casts and overflows mean a
    silent wrong answer) except ResourceWarnings and a library's Deprecation/FutureWarnings
    raised inside the library itself (pandas warns so on odd dtype names in a corrupt
    Parquet file's metadata); those caused by handgrad's own calls point at handgrad."""
    if issubclass(w.category, ResourceWarning):
        return False
    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
        return "handgrad" in Path(w.filename).parts
    return True


def outcome(fn, *args, expect=InputError, allow_warnings=False, **kwargs):
    """``fn(*args, **kwargs)``, or the ``expect`` error it raised (one line, of sane length).

    Any other exception propagates and fails the test. So does any warning, unless allowed:
    numpy's ``invalid value encountered in cast`` and the like mean a silent wrong answer,
    and the loaders promise an error instead.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except expect as exc:
            result = exc
    caught = [w for w in caught if is_contract_warning(w)]
    assert allow_warnings or not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    if isinstance(result, BaseException):
        message = str(result)
        assert "\n" not in message and message.strip(), repr(message)
        assert len(message) < 2000, message[:300]
    if currently_in_test_context():  # for --hypothesis-show-statistics
        event(f"{getattr(fn, '__name__', fn)}: {'refused' if isinstance(result, BaseException) else 'returned'}")
    return result


# ===== the table reader ========================================================================

SPECIAL_CELLS = ["", " ", "NA", "nan", "NaN", "null", "inf", "-inf", "Infinity", "True", "false",
                 "1e400", "-1e999", "9" * 400, "-" + "9" * 30, "18446744073709551615",
                 "9223372036854775808", "1e19", "1e300", "0x1F", "1_000", " 7 ", "1,5", "1;5",
                 "1\t5", '"', '""', "'", "\x00", "\ufeff", "é", "\u2028", "\r", "\n", "#", "-0",
                 "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "00012", "+3"]

cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.integers(min_value=-5, max_value=5).map(str),
    st.sampled_from(SPECIAL_CELLS),
    st.text(max_size=6),
)
column_names = st.one_of(st.sampled_from(["a", "b", "c", "d", "y", "label", "x 1", "", "a.1", "Unnamed: 0"]),
                         st.sampled_from(["a", "b", "c", "d", "y"]), st.text(max_size=6))


# cells of one column: mostly clean numbers or labels, so that many tables load and the
# paths after reading (labels, feature matrix) are exercised too, with odd cells mixed in
column_cells = {
    "float": st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    "int": st.integers(-1000, 1000).map(str),
    "label": st.sampled_from(["cat", "dog", "0", "1", "2", "-1", "c 1", "Ω"]),
    "huge": st.sampled_from(["1e19", "1e300", "9007199254740993", "18446744073709551615",
                             "-9223372036854775809", "9" * 400, "1e400", "4.9e-324"]),
    "any": cells,
}
column_kinds = st.sampled_from(["float", "float", "int", "int", "label", "label", "huge", "any"])


@st.composite
def raw_tables(draw):
    """(header, rows): a few typed columns, an odd cell now and then, ragged rows rarely."""
    n_cols = draw(st.integers(1, 5))
    unique = draw(st.integers(0, 9)) > 0   # duplicate column names now and then
    header = draw(st.lists(column_names, min_size=n_cols, max_size=n_cols, unique=unique))
    kinds = draw(st.lists(column_kinds, min_size=n_cols, max_size=n_cols))
    n_rows = draw(st.integers(0, 6)) if draw(st.integers(0, 9)) == 0 else draw(st.integers(1, 6))
    ragged = draw(st.integers(0, 9)) == 0
    rows = []
    for _ in range(n_rows):
        width = draw(st.integers(max(0, n_cols - 1), n_cols + 1)) if ragged else n_cols
        row = [draw(column_cells[kinds[j % n_cols]]) for j in range(width)]
        if width and draw(st.integers(0, 7)) == 0:
            row[draw(st.integers(0, width - 1))] = draw(cells)
        rows.append(row)
    return header, rows


def render_csv(header, rows, sep=",", quoting=csv.QUOTE_MINIMAL, newline="\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, quoting=quoting, lineterminator=newline,
                        escapechar="\\" if quoting == csv.QUOTE_NONE else None)
    for row in [header, *rows]:
        writer.writerow(row)
    return out.getvalue()


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"]


@st.composite
def text_table_files(draw):
    """(bytes, suffix): a rendered table in some separator, quoting, line ending, encoding."""
    header, rows = draw(raw_tables())
    suffix = draw(st.sampled_from([".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz"]))
    sep = draw(st.sampled_from(["\t" if ".tsv" in suffix else ",", ",", "\t", ";", "|", " "]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC,
                                    csv.QUOTE_NONE]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    try:
        text = render_csv(header, rows, sep, quoting, newline)
    except csv.Error:  # QUOTE_NONE and a cell that needs quoting
        text = newline.join(sep.join(r) for r in [header, *rows]) + newline
    encoding = draw(st.sampled_from(ENCODINGS)) if draw(st.integers(0, 5)) == 0 else "utf-8"
    data = text.encode(encoding, errors="replace")
    return data, suffix, header


def _mutate_bytes(data: bytes, ops) -> bytes:
    """Byte flips, overwrites, truncations, deletions, inserted junk, duplicated spans."""
    buf = bytearray(data)
    for op, pos, arg, junk in ops:
        if not buf and op != "insert":
            continue
        i = pos % (len(buf) + 1) if op == "insert" else pos % len(buf)
        if op == "xor":
            buf[i] ^= (arg % 255) + 1
        elif op == "set":
            buf[i] = arg % 256
        elif op == "truncate":
            del buf[i:]
        elif op == "delete":
            del buf[i:i + 1 + arg % 16]
        elif op == "insert":
            buf[i:i] = junk
        elif op == "duplicate":
            buf[i:i] = buf[i:i + 1 + arg % 32]
    return bytes(buf)


byte_ops = st.lists(st.tuples(st.sampled_from(["xor", "set", "truncate", "delete", "insert", "duplicate"]),
                              st.integers(min_value=0, max_value=2 ** 20),
                              st.integers(min_value=0, max_value=255),
                              st.one_of(st.binary(min_size=1, max_size=12),
                                        st.sampled_from([b"\xef\xbb\xbf", b'"', b"\x00", b",", b"\t",
                                                         b"\r\n", b"\n\n", b"\xff\xfe", b"1e999",
                                                         b"\xc3", b"NaN", b"-" + b"9" * 50]))),
                    max_size=4)


def _mutate_lines(text: str, rnd: random.Random, ops) -> str:
    """Line- and cell-level mutations of a text table."""
    lines = text.splitlines(keepends=True)
    for op in ops:
        if not lines:
            break
        i = rnd.randrange(len(lines))
        if op == "shuffle":
            rnd.shuffle(lines)
        elif op == "duplicate_line":          # e.g. the header twice
            lines.insert(rnd.randrange(len(lines) + 1), lines[i])
        elif op == "drop_line":
            del lines[i]
        elif op == "swap_delimiters":
            a, b = rnd.sample([",", "\t", ";", " "], 2)
            lines[i] = lines[i].replace(a, "\0").replace(b, a).replace("\0", b)
        elif op == "duplicate_header_name":
            names = lines[0].rstrip("\r\n").split(",")
            names.append(rnd.choice(names))
            lines[0] = ",".join(names) + "\n"
        elif op == "empty_cell":
            parts = lines[i].split(",")
            parts[rnd.randrange(len(parts))] = ""
            lines[i] = ",".join(parts)
        elif op == "huge_number":
            parts = lines[i].split(",")
            parts[rnd.randrange(len(parts))] = rnd.choice(["1e308", "-1e309", "9" * 330, "1e-400",
                                                           "18446744073709551616", "1e19"])
            lines[i] = ",".join(parts)
        elif op == "quote":
            pos = rnd.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + '"' + lines[i][pos:]
        elif op == "bom":
            lines[i] = "\ufeff" + lines[i]
    return "".join(lines)


line_ops = st.lists(st.sampled_from(["shuffle", "duplicate_line", "drop_line", "swap_delimiters",
                                     "duplicate_header_name", "empty_cell", "huge_number", "quote",
                                     "bom"]), max_size=4)


def _write(scratch: Path, suffix: str, data: bytes, gz_before: bool = False) -> Path:
    path = scratch / f"table{suffix}"
    if suffix.endswith(".gz") and not gz_before:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def check_dataset(result, target, features):
    """What ``load_table`` returns must be sound, whatever it was given."""
    if isinstance(result, InputError):
        return
    assert isinstance(result, Dataset)
    X = result.X
    assert X.dtype == np.float64 and X.ndim == 2 and X.shape[0] >= 1 and X.shape[1] >= 1
    assert np.all(np.isfinite(X))
    assert len(result.feature_names) == X.shape[1]
    assert len(set(result.feature_names)) == X.shape[1]
    if features is not None:
        assert result.feature_names == [str(f) for f in features]
    if target is None:
        assert result.y is None
    else:
        assert target not in result.feature_names
        assert result.y.shape == (X.shape[0],)
        assert result.y.dtype == np.int64 or result.y.dtype.kind == "U"
        if result.y.dtype.kind == "U":
            assert all(s.strip() for s in result.y.tolist())


def _target_and_features(draw, header):
    choices = [None, "not-a-column", *header]
    target = draw(st.sampled_from(choices))
    features = None
    if draw(st.integers(0, 3)) == 0:
        features = draw(st.lists(st.sampled_from([*header, "zz"]), max_size=4, unique=True))
    return target, features


@given(table=text_table_files(), ops=byte_ops, data=st.data())
def test_text_table_with_byte_mutations_loads_or_raises_input_error(scratch, table, ops, data):
    raw, suffix, header = table
    gz_before = suffix.endswith(".gz") and data.draw(st.booleans())
    if gz_before:  # mutate the compressed stream: truncated, corrupt deflate blocks, bad CRC
        raw = gzip.compress(raw, mtime=0)
    mutated = _mutate_bytes(raw, ops)
    target, features = _target_and_features(data.draw, header)
    note(f"{suffix} {mutated[:300]!r} target={target!r} features={features!r}")
    path = _write(scratch, suffix, mutated, gz_before)
    check_dataset(outcome(load_table, path, target, features), target, features)


@given(table=raw_tables(), seed=st.integers(0, 2 ** 32 - 1), ops=line_ops, data=st.data())
def test_csv_with_line_mutations_loads_or_raises_input_error(scratch, table, seed, ops, data):
    header, rows = table
    text = _mutate_lines(render_csv(header, rows), random.Random(seed), ops)
    target, features = _target_and_features(data.draw, header)
    note(f"{text[:300]!r} target={target!r} features={features!r}")
    path = _write(scratch, ".csv", text.encode("utf-8", errors="surrogatepass"))
    check_dataset(outcome(load_table, path, target, features), target, features)


@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".tsv", ".csv.gz", ".parquet"]))
@example(data=b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff" * 40, suffix=".csv.gz")   # zlib.error
@example(data=b"PAR1" + b"\x00" * 40 + b"PAR1", suffix=".parquet")
def test_arbitrary_bytes_as_a_table_load_or_raise_input_error(scratch, data, suffix):
    path = _write(scratch, suffix, data, gz_before=True)
    check_dataset(outcome(load_table, path, "y"), "y", None)
    check_dataset(outcome(load_table, path), None, None)


# --- valid tables read back exactly: no silent wrong answer ---------------------------------

@given(X=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)),
                    elements=st.floats(allow_nan=False, allow_infinity=False)),
       label_kind=st.sampled_from(["int", "str"]), data=st.data(),
       suffix=st.sampled_from([".csv", ".tsv", ".csv.gz", ".parquet"]))
@example(X=np.array([[5e-324], [2.2250738585072014e-308]]), label_kind="int", data=None, suffix=".csv")
def test_valid_table_reads_back_exactly(scratch, X, label_kind, data, suffix):
    m, d = X.shape
    if data is None:
        y = list(range(m))
    else:
        pool = st.integers(-(2 ** 53) + 1, 2 ** 53 - 1) if label_kind == "int" else \
            st.sampled_from(["cat", "dog", "c_1", "Ω", "long label with spaces"])
        y = data.draw(st.lists(pool, min_size=m, max_size=m))
    names = [f"f{j}" for j in range(d)]
    if suffix == ".parquet":
        path = scratch / "exact.parquet"
        pq.write_table(pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "y": y}), path)
    else:
        sep = "\t" if suffix == ".tsv" else ","
        rows = [[repr(float(v)) for v in X[i]] + [str(y[i])] for i in range(m)]
        path = _write(scratch, suffix, render_csv(names + ["y"], rows, sep).encode())
    result = outcome(load_table, path, "y")
    assert not isinstance(result, InputError), result
    assert result.feature_names == names
    assert result.X.tobytes() == np.ascontiguousarray(X).tobytes()   # bit for bit
    assert result.y.tolist() == y


@pytest.mark.parametrize("cell,pattern", [
    ("1e19", "2**53"),                        # was: int64 cast garbage and a RuntimeWarning
    ("1e300", "2**53"),
    ("9007199254740993.0", "2**53"),           # was: silently read as label 9007199254740992
    ("9223372036854775808", "9223372036854775807"),   # was: read as uint64, wrapped to -2**63
    ("18446744073709551615", "9223372036854775807"),  # was: wrapped to -1
])
def test_labels_too_large_to_keep_are_refused(tmp_path, cell, pattern):
    path = tmp_path / "t.csv"
    path.write_text(f"a,y\n1,{cell}\n2,1\n")
    result = outcome(load_table, path, "y")
    assert isinstance(result, InputError), result
    assert "'y'" in str(result) and "row 1" in str(result) and pattern in str(result), result


def test_labels_just_below_2_53_are_kept_exactly(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,9007199254740991.0\n2,-9007199254740991.0\n")
    assert load_table(path, "y").y.tolist() == [2 ** 53 - 1, -(2 ** 53) + 1]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_labels_ending_in_nul_are_refused(tmp_path, suffix):
    # found by the Parquet property: numpy's str arrays drop trailing NULs, so the label
    # "a\0" silently became "a" (two classes merged) and "\0" the empty label
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        path.write_bytes(b"x,y\n1,a\n2,a\x00\n3,b\n")
    else:
        pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": ["a", "a\x00", "\x00"]}), path)
    result = outcome(load_table, path, "y")
    assert isinstance(result, InputError) and "NUL" in str(result) and "row 2" in str(result), result


def test_huge_integer_feature_is_refused_as_too_large(tmp_path):
    # was: OverflowError from pandas.to_numeric ("int too large to convert to float")
    path = tmp_path / "t.csv"
    path.write_text("a,y\n" + "9" * 400 + ",1\n2,0\n")
    result = outcome(load_table, path, "y")
    assert isinstance(result, InputError)
    assert "'a'" in str(result) and "row 1" in str(result) and "too large" in str(result)
    path.write_text("a,y\n-" + "9" * 5000 + ",1\n2,0\n")       # long: the message is cut short
    result = outcome(load_table, path, "y")
    assert isinstance(result, InputError) and len(str(result)) < 400


def test_corrupt_gzip_is_an_input_error(tmp_path):
    # was: zlib.error escaping from pandas' reader
    path = tmp_path / "t.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff" * 40)
    result = outcome(load_table, path)
    assert isinstance(result, InputError) and "cannot read" in str(result)


# --- Parquet ------------------------------------------------------------------------------------

def _parquet_columns():
    """Strategies for one pyarrow column of ``n`` rows each, of many types."""
    floats = st.floats(allow_nan=True, allow_infinity=True)
    return {
        "float64": lambda n: st.lists(st.none() | floats, min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.float64())),
        "float32": lambda n: st.lists(st.floats(width=32), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.float32())),
        "int64": lambda n: st.lists(st.none() | st.integers(-(2 ** 63), 2 ** 63 - 1), min_size=n,
                                    max_size=n).map(lambda v: pa.array(v, pa.int64())),
        "uint64": lambda n: st.lists(st.integers(0, 2 ** 64 - 1), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.uint64())),
        "int8": lambda n: st.lists(st.integers(-128, 127), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.int8())),
        "bool": lambda n: st.lists(st.none() | st.booleans(), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.bool_())),
        "string": lambda n: st.lists(st.none() | cells, min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.string())),
        "large_string": lambda n: st.lists(cells, min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.large_string())),
        "binary": lambda n: st.lists(st.binary(max_size=4), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.binary())),
        "dictionary": lambda n: st.lists(st.sampled_from(["1", "2.5", "x", ""]), min_size=n,
                                         max_size=n).map(lambda v: pa.array(v).dictionary_encode()),
        "list": lambda n: st.lists(st.lists(st.integers(-3, 3), max_size=2), min_size=n,
                                   max_size=n).map(lambda v: pa.array(v, pa.list_(pa.int64()))),
        "struct": lambda n: st.lists(st.integers(0, 3), min_size=n, max_size=n).map(
            lambda v: pa.array([{"k": x} for x in v])),
        "null": lambda n: st.just(pa.nulls(n)),
        # text columns whose bytes are not UTF-8: Parquet readers do not check
        "bad_utf8": lambda n: st.lists(st.binary(max_size=3), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.binary()).view(pa.string())),
        "decimal": lambda n: st.lists(st.decimals(min_value=-999, max_value=999, places=2,
                                                  allow_nan=False), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.decimal128(5, 2))),
        "date": lambda n: st.lists(st.integers(0, 20000), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.int32()).cast(pa.date32())),
        "timestamp": lambda n: st.lists(st.integers(0, 2 ** 40), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.timestamp("s"))),
        "duration": lambda n: st.lists(st.integers(0, 2 ** 40), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.duration("s"))),
    }


PARQUET_COLUMNS = _parquet_columns()


@st.composite
def parquet_files(draw):
    """(bytes, column names) of a Parquet file of assorted column types, with or without the
    pandas metadata block, in some compression."""
    n = draw(st.integers(0, 5))
    names = draw(st.lists(st.sampled_from(["a", "b", "y", "label", "__index_level_0__"]) | st.text(max_size=4),
                          min_size=1, max_size=4))
    numeric = ["float64", "float32", "int64", "int8", "bool", "uint64"]
    kinds = draw(st.lists(st.sampled_from(sorted(PARQUET_COLUMNS)) | st.sampled_from(numeric),
                          min_size=len(names), max_size=len(names)))
    arrays = [draw(PARQUET_COLUMNS[k](n)) for k in kinds]
    table = pa.Table.from_arrays(arrays, names=names)
    if draw(st.booleans()):  # what pandas writes: a "pandas" metadata block to rebuild the frame
        frame_meta = _pandas_metadata(names)
        table = table.replace_schema_metadata({b"pandas": draw(_mutated_json(frame_meta))})
    out = io.BytesIO()
    pq.write_table(table, out, compression=draw(st.sampled_from(["none", "snappy", "gzip", "zstd"])))
    return out.getvalue(), names


def _pandas_metadata(names):
    return {"index_columns": [{"kind": "range", "name": None, "start": 0, "stop": 1, "step": 1}],
            "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                                "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
            "columns": [{"name": n, "field_name": n, "pandas_type": "float64",
                         "numpy_type": "float64", "metadata": None} for n in names],
            "creator": {"library": "pyarrow", "version": pa.__version__},
            "pandas_version": pd.__version__}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def _paths(obj, prefix=()):
    """Every path (tuple of keys/indices) into a JSON value, the root included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set_path(obj, path, value):
    if not path:
        return value
    obj = json.loads(json.dumps(obj))
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


def _drop_path(obj, path):
    if not path:
        return obj
    obj = json.loads(json.dumps(obj))
    node = obj
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return obj


@st.composite
def _mutated_json(draw, obj, extra_values=st.nothing()):
    """``obj`` (JSON) with one to three nodes replaced, deleted or added, serialised to bytes;
    now and then the text itself is broken."""
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(obj))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            obj = _set_path(obj, path, draw(json_values | extra_values))
        elif action == "drop":
            obj = _drop_path(obj, path)
        else:
            node = obj
            for key in path:
                node = node[key]
            if isinstance(node, dict):
                obj = _set_path(obj, path + (draw(st.text(max_size=6)),), draw(json_values))
            elif isinstance(node, list):
                obj = _set_path(obj, path, [*node, draw(json_values | extra_values)])
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from([text[:len(text) // 2], text + "}", text.replace("null", "NaN"),
                                     text.replace("1", "1e999"), "[" * 2000 + "]" * 2000]))
    return text.encode("utf-8", errors="surrogatepass")


@given(file=parquet_files(), ops=byte_ops, data=st.data())
def test_parquet_files_load_or_raise_input_error(scratch, file, ops, data):
    raw, names = file
    if data.draw(st.booleans()):
        raw = _mutate_bytes(raw, ops)
    target, features = _target_and_features(data.draw, names)
    path = _write(scratch, ".parquet", raw)
    check_dataset(outcome(load_table, path, target, features), target, features)


@pytest.mark.parametrize("meta", [
    [], {"index_columns": ["zz"]}, {"index_columns": [5]}, {"columns": None},
    {"columns": [1, 2]}, {"index_columns": [{"kind": "range"}]},
])
def test_parquet_with_broken_pandas_metadata_is_an_input_error(tmp_path, meta):
    # was: KeyError / TypeError / AttributeError from pyarrow's pandas_compat
    table = pa.table({"a": [1.0, 2.0], "y": ["p", "q"]})
    if isinstance(meta, dict):
        meta = {**json.loads(pa.Table.from_pandas(table.to_pandas()).schema.metadata[b"pandas"]), **meta}
    table = table.replace_schema_metadata({b"pandas": json.dumps(meta).encode()})
    pq.write_table(table, tmp_path / "t.parquet")
    result = outcome(load_table, tmp_path / "t.parquet", "y")
    assert isinstance(result, InputError) and "cannot read" in str(result)


@pytest.mark.parametrize("labels,pattern", [
    (pa.array([b"\xff", b"b"]), "UTF-8"),                              # was: UnicodeDecodeError
    (pa.array([[1, 2], [3]]), "class label must be one"),               # was: labels '[1 2]', '[3]'
    (pa.array([2 ** 64 - 1, 1], pa.uint64()), "9223372036854775807"),   # was: wrapped to -1
])
def test_parquet_labels_that_are_no_class_labels(tmp_path, labels, pattern):
    pq.write_table(pa.table({"a": [1.0, 2.0], "y": labels}), tmp_path / "t.parquet")
    result = outcome(load_table, tmp_path / "t.parquet", "y")
    assert isinstance(result, InputError) and pattern in str(result), result


def _not_utf8(values, large=False):
    """A string column holding the given bytes unchecked (as a corrupt file can)."""
    return pa.array(values, pa.large_binary() if large else pa.binary()).view(
        pa.large_string() if large else pa.string())


@pytest.mark.parametrize("table", [
    pa.table({"a": [1.0, 2.0], "y": _not_utf8([b"\xff", b"b"])}),              # as labels
    pa.table({"a": _not_utf8([b"1\xff", b"2"]), "y": [1, 2]}),                  # as a feature
    pa.table({"a": [1.0, 2.0], "y": _not_utf8([b"\xc3", b"b"], large=True)}),
    pa.table({"a": [1.0, 2.0], "y": _not_utf8([b"\xff", b"b"]).dictionary_encode()}),
], ids=["labels", "feature", "large_string", "dictionary"])
def test_parquet_text_that_is_not_utf8_is_an_input_error(tmp_path, table):
    # found by the atheris fuzzer: was ArrowInvalid "Invalid UTF8 sequence in input" from
    # pandas' str.strip, or ArrowException "Wrapping ... failed" from to_numeric
    pq.write_table(table, tmp_path / "t.parquet")
    result = outcome(load_table, tmp_path / "t.parquet", "y")
    assert isinstance(result, InputError), result
    assert "UTF-8" in str(result) or "cannot read" in str(result)


def test_parquet_binary_utf8_labels_are_text(tmp_path):
    pq.write_table(pa.table({"a": [1.0, 2.0], "y": pa.array([b"cat", "Ω".encode()])}),
                   tmp_path / "t.parquet")
    assert load_table(tmp_path / "t.parquet", "y").y.tolist() == ["cat", "Ω"]


# found by the mutation fuzzer (four random byte edits of a small zstd file): pyarrow 26
# raises ArrowNotImplementedError "Integers with more than 64 bits not implemented", a
# NotImplementedError that escaped load_table
ARROW_NOT_IMPLEMENTED = (
    "UEFSMRUEFTAVQkwVBhUAEgAAKLUv/SAYwQAAAAAAAAAA+D8AAAAAAAAEQAAAAAAAAAxAFQAVFBUmLBUGFRAVBhUGHBgIAAAAAAAADEAY"
    "CAAAAAAAAAAAAAAMQBgIAAAAAAAA+D8REQAAACi1L/0gClEAAAIAAAAGAQIDJAAVBBUgFTJMFQQVABIAACi1L/0gEIEAAAAAAAAAAAAA"
    "AQAAAAAAAAAVABUSFSQsFQYVEBUAAAAAAAAYCAAAAAAAAAAAFgAoCAEAAAAAAAAAGAgAAAAAAAAAABERAAAAKLUv/SAJSQAAAgAAAAYB"
    "AQMCFQQZPDUAGAZzY2hlbWEVBAAVCiUCGAFhABUEJQIYAXkAFgYZHBksJgAcFQoZNQAGEBkYAWEVDBYGFt4BFoICJmYmCBwYCAAAAAAA"
    "AAxAGAgAAAAAAAD4PxYAKAgAAAAAAAAMQBgIAAAAAAAA+D8REQAZLBUEFQAVAgAVABUQFQIAPCkGGSYABgAAACYAHBUEGTUABhAZGAF5"
    "FQwWBhbMARbwASbYAiaKAhwYCAEAAAAAAAAAGAgAAAAAAAAAABYAKAgBAAAAAAAAABgIAAAAAAAAAAAREQAZLBUEFQAVAgAVABUQFQIA"
    "PCkGGSYABgAAABaqAxYGJggW8gMAGRwYDEFSUk9XOnNjaGVtYRjsAS8vLy8vNmdBQUFBUUFBQUFBQUFLQUF3QUJnQUZBQWdBQ2dBQUFB"
    "QUJCQUFNQUFBQUNBQUlBQUFBQkFBSUFBQUFCQUFBQUFJQUFBQk1BQUFBQkFBQUFNei8vLzhBQUFFQ0VBQUFBQndBQUFBRUFBQUFBQUFB"
    "QUFFQUFBQjVBQUFBQ0FBTUFBZ0FCd0FJQUFBQUFBQUFBVUFxQUFBUUFCUUFDQUFHQUFjQURBQUFBQkFBRUFBQUFBQUFBUU1RQUFBQUdB"
    "QUFBQVFBQUFBQUFBQUFBUUFBQUdFQUJnQUlBQVlBQmdBQUFBQUFBZ0E9ABggcGFycXVldC1jcHAtYXLyb3cgdmVyc2lvbiAyNi4wLjEZ"
    "LBwAABwAAAAnAgAAUEFSMQ==")


def test_corrupt_parquet_found_by_the_fuzzer_is_an_input_error(tmp_path):
    import base64
    path = tmp_path / "t.parquet"
    path.write_bytes(base64.b64decode(ARROW_NOT_IMPLEMENTED))
    check_dataset(outcome(load_table, path, "y"), "y", None)


def _raiser(exc):
    def read(*args, **kwargs):
        raise exc
    return read


@pytest.mark.parametrize("exc", [
    NotImplementedError("Integers with more than 64 bits not implemented"),  # ArrowNotImplementedError
    TypeError("Expected array of Int64 type"), KeyError("zz"), AttributeError("'int' object has no attribute 'get'"),
    MemoryError(), __import__("zlib").error("Error -3 while decompressing data: invalid block type"),
])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_any_reader_failure_is_an_input_error_naming_its_type(tmp_path, monkeypatch, exc, suffix):
    path = tmp_path / f"t{suffix}"
    path.write_bytes(b"a,y\n1,2\n" if suffix == ".csv" else b"PAR1")
    monkeypatch.setattr(pd, "read_parquet", _raiser(exc))
    monkeypatch.setattr(pd, "read_csv", _raiser(exc))
    result = outcome(load_table, path, "y")
    assert isinstance(result, InputError) and "cannot read" in str(result)
    assert type(exc).__name__ in str(result) or str(exc) in str(result)


# ===== model files: structured mutations ======================================================

ACTIVATIONS = ["relu", "leaky_relu", "leaky_relu(alpha=0.3)", "sigmoid", "tanh", "identity"]


def make_model(sizes, activation, dtype, classes_kind="str", scaler=True, names=True, seed=0) -> Model:
    rng = np.random.default_rng(seed)
    net = hg.MLP(sizes, activation=activation, l2=1e-3, dtype=dtype, seed=seed)
    for b in net.biases:
        b[...] = rng.normal(scale=0.5, size=b.shape)
    K, n = sizes[-1], sizes[0]
    classes = {"str": [f"class {k}" for k in range(K)], "int": [3 * k - 4 for k in range(K)],
               "float": [k + 0.25 for k in range(K)]}[classes_kind]
    std = Standardizer().fit(rng.normal(loc=2.0, scale=3.0, size=(20, n))) if scaler else None
    return Model(net, np.array(classes), std, [f"x{i}" for i in range(n)] if names else None,
                 {"epochs": 2, "history": {"loss": [1.0, 0.5]}})


@st.composite
def models(draw):
    n_in = draw(st.integers(1, 5))
    hidden = draw(st.lists(st.integers(1, 6), max_size=2))
    K = draw(st.integers(2, 4))
    activation = draw(st.sampled_from(ACTIVATIONS) |
                      st.lists(st.sampled_from(ACTIVATIONS), min_size=len(hidden), max_size=len(hidden)))
    return make_model([n_in, *hidden, K], activation, draw(st.sampled_from(["float32", "float64"])),
                      draw(st.sampled_from(["str", "int", "float"])), draw(st.booleans()),
                      draw(st.booleans()), draw(st.integers(0, 1000)))


def split_file(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join_file(header_json: bytes, body: bytes) -> bytes:
    return struct.pack("<Q", len(header_json)) + header_json + body


def load_both_ways(scratch: Path, data: bytes):
    """load_model (from a file) and model_from_bytes agree: the same model or a ModelFileError."""
    path = scratch / "model.safetensors"
    path.write_bytes(data)
    from_file = outcome(load_model, path, expect=ModelFileError)
    from_bytes = outcome(model_from_bytes, data, expect=ModelFileError)
    assert isinstance(from_file, ModelFileError) == isinstance(from_bytes, ModelFileError), \
        (from_file, from_bytes)
    if isinstance(from_file, ModelFileError):
        assert str(path) in str(from_file)
        return None
    assert from_file.net.flat.tobytes() == from_bytes.net.flat.tobytes()
    check_model(from_file)
    return from_file


def check_model(model: Model) -> None:
    """A loaded model is consistent and answers with probabilities (or an InputError)."""
    net = model.net
    assert model.classes.shape == (net.n_classes,)
    assert len(set(model.classes.tolist())) == net.n_classes
    assert all(np.all(np.isfinite(p)) for p in net.params)
    X = np.random.default_rng(0).normal(scale=3.0, size=(5, net.sizes[0]))
    # huge (finite) weights are legal in a file; what they do at predict time is tested below
    P = outcome(model.predict_proba, X, allow_warnings=True)
    if not isinstance(P, InputError):
        assert P.shape == (5, net.n_classes) and np.all(np.isfinite(P))
        assert np.all((P >= 0) & (P <= 1))
        np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, atol=1e-5)
        P = outcome(net.predict_proba, outcome(model.transform, X, allow_warnings=True),
                    allow_warnings=True)
        np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, atol=1e-5)
        labels = outcome(model.predict, X, allow_warnings=True)
        assert set(labels.tolist()) <= set(model.classes.tolist())


@FEWER
@given(model=models())
def test_random_models_round_trip_bit_identically(scratch, model):
    data = model_to_bytes(model)
    loaded = load_both_ways(scratch, data)
    assert loaded is not None
    X = np.random.default_rng(1).normal(scale=3.0, size=(7, model.n_features))
    assert loaded.predict_proba(X).tobytes() == model.predict_proba(X).tobytes()
    assert model_to_bytes(loaded) == data


@pytest.fixture(scope="module")
def valid_model_bytes():
    return model_to_bytes(make_model([3, 4, 3], ["leaky_relu(alpha=0.3)"], "float32", scaler=True))


DTYPE_CODES = ["F32", "F64", "F16", "BF16", "I64", "I32", "U8", "I8", "BOOL", "F8_E4M3", "U64", "C64", "x"]
tensor_field_values = {
    "dtype": st.sampled_from(DTYPE_CODES) | json_values,
    "shape": st.lists(st.integers(-2, 6) | st.sampled_from([2 ** 31, 2 ** 63, 2 ** 64 - 1, 2 ** 64]),
                      max_size=3) | json_values,
    "data_offsets": st.lists(st.integers(-1, 200) | st.sampled_from([2 ** 63, 2 ** 64 - 1, 2 ** 64]),
                             min_size=2, max_size=2) | json_values,
}


@given(mutations=st.lists(st.tuples(st.sampled_from(["field", "drop", "rename", "swap", "add", "dup"]),
                                    st.integers(0, 10), st.sampled_from(sorted(tensor_field_values)),
                                    st.data()), min_size=1, max_size=3))
def test_safetensors_header_mutations_load_or_raise_model_file_error(scratch, valid_model_bytes, mutations):
    """Tensor entries with other dtypes, shapes and offsets, dropped, renamed, swapped,
    added or written twice (duplicate JSON keys)."""
    header, body = split_file(valid_model_bytes)
    duplicate = None
    for action, which, field, data in mutations:
        names = sorted(k for k in header if k != "__metadata__")
        name = names[which % len(names)] if names else "W1"
        if action == "field" and isinstance(header.get(name), dict):
            header[name] = {**header[name], field: data.draw(tensor_field_values[field])}
        elif action == "drop":
            header.pop(name, None)
        elif action == "rename" and name in header:
            header[data.draw(st.sampled_from(["W9", "b0", "w1", "", "scaler.mean", "__metadata__"]))] = \
                header.pop(name)
        elif action == "swap" and len(names) > 1:
            other = names[(which + 1) % len(names)]
            header[name], header[other] = header[other], header[name]
        elif action == "add":
            header[data.draw(st.text(max_size=5))] = data.draw(json_values)
        elif action == "dup" and name in header:
            duplicate = (name, data.draw(st.sampled_from(list(header.values()))))
    text = json.dumps(header)
    if duplicate is not None:  # a key written twice: which one wins must not matter for safety
        text = text[:-1] + f", {json.dumps(duplicate[0])}: {json.dumps(duplicate[1])}}}"
    load_both_ways(scratch, join_file(text.encode(), body))


# values that are valid JSON but wrong in interesting ways
interesting = st.sampled_from([
    2 ** 53 + 1, 2 ** 63, 2 ** 64, -(2 ** 63) - 1, 10 ** 400, 1e308, -0.0, 5e-324, 0, -1, True,
    "a\u0000", "\u0000", "\ud800", "", "leaky_relu(alpha=0.3)", "leaky_relu:0.3", "RELU", " relu",
    "float16", "F32", {"alpha": 1e308}, {"alpha": -1}, {"beta": 0.5}, {"alpha": True},
    {"type": "standardize", "x": 1}, [1, 1.0], ["a", "a\u0000"], [2 ** 53, 2 ** 53 + 1],
    ["\ud800", "b"], [None, None], [[0], [1]], [{"name": "relu", "params": {}}],
])


@given(data=st.data())
def test_nested_metadata_mutations_load_or_raise_model_file_error(scratch, valid_model_bytes, data):
    """Any node of the handgrad metadata (activation params, one class label, one size...)
    replaced, dropped or added, or the metadata text broken."""
    header, body = split_file(valid_model_bytes)
    meta = json.loads(header["__metadata__"]["handgrad"])
    text = data.draw(_mutated_json(meta, extra_values=interesting))
    header["__metadata__"] = {"handgrad": text.decode("utf-8", errors="surrogatepass")}
    raw = json.dumps(header, ensure_ascii=True).encode()
    load_both_ways(scratch, join_file(raw, body))


@pytest.mark.parametrize("classes,kind,pattern", [
    ([2 ** 53, 2 ** 53 + 1], "float", "would read as 9007199254740992.0"),   # was: two equal labels
    (["a", "a\u0000"], "str", "would read as 'a'"),                           # was: two equal labels
    (["a\u0000", "b"], "str", "would read as 'a'"),                           # was: label renamed
    (["\ud800", "b"], "str", "not valid Unicode"),                            # was: failed on output
])
def test_class_labels_that_would_change_when_read_are_refused(scratch, valid_model_bytes, classes,
                                                              kind, pattern):
    header, _ = split_file(valid_model_bytes)
    meta = json.loads(header["__metadata__"]["handgrad"])
    meta.update(classes=classes, classes_kind=kind, sizes=meta["sizes"][:-1] + [2])
    result = outcome(model_from_bytes, _rebuilt_with_k(valid_model_bytes, meta), expect=ModelFileError)
    assert isinstance(result, ModelFileError) and pattern in str(result), result


def _rebuilt_with_k(data: bytes, meta: dict) -> bytes:
    """The model file with its last layer cut to ``meta['sizes'][-1]`` outputs and ``meta``."""
    from safetensors.numpy import load as st_load
    from safetensors.numpy import save as st_save
    tensors = dict(st_load(data))
    L = len(meta["sizes"]) - 1
    K = meta["sizes"][-1]
    tensors[f"W{L}"] = np.ascontiguousarray(tensors[f"W{L}"][:, :K])
    tensors[f"b{L}"] = np.ascontiguousarray(tensors[f"b{L}"][:K])
    return st_save(tensors, metadata={"handgrad": json.dumps(meta)})


def test_feature_names_that_are_not_unicode_are_refused(valid_model_bytes):
    header, body = split_file(valid_model_bytes)
    meta = json.loads(header["__metadata__"]["handgrad"])
    meta["feature_names"] = ["\udfff", "b", "c"]
    header["__metadata__"] = {"handgrad": json.dumps(meta)}
    result = outcome(model_from_bytes, join_file(json.dumps(header).encode(), body),
                     expect=ModelFileError)
    assert isinstance(result, ModelFileError) and "not valid Unicode" in str(result)


def test_save_refuses_labels_that_are_not_unicode(tmp_path):
    model = make_model([2, 2], [], "float64", scaler=False)
    model.classes = np.array(["\ud800", "b"])
    with pytest.raises(InputError, match="not valid Unicode"):
        model_to_bytes(model)


def test_model_path_with_nul_byte_is_a_model_file_error():
    # was: ValueError("embedded null byte") from open()
    result = outcome(load_model, "model\x00.safetensors", expect=ModelFileError)
    assert isinstance(result, ModelFileError) and "null byte" in str(result)


SPECIAL_WEIGHTS = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e308, 5e-324, -0.0, 1e-45]


@given(which=st.integers(0, 100), index=st.integers(0, 10 ** 6),
       value=st.sampled_from(SPECIAL_WEIGHTS) | st.floats(width=32), count=st.integers(1, 4))
def test_tensor_values_load_or_raise_and_loaded_models_answer(scratch, valid_model_bytes, which, index,
                                                               value, count):
    """Special values written into the tensor data: NaN/inf are refused at load, huge finite
    weights load, and the model then answers with probabilities or an InputError."""
    header, body = split_file(valid_model_bytes)
    names = sorted(k for k in header if k != "__metadata__")
    entry = header[names[which % len(names)]]
    dtype = {"F32": "<f4", "F64": "<f8"}[entry["dtype"]]
    start, stop = entry["data_offsets"]
    values = np.frombuffer(body[start:stop], dtype=dtype).copy()
    with np.errstate(over="ignore"):
        for k in range(count):
            values[(index + 7 * k) % values.size] = value
    body = body[:start] + values.tobytes() + body[stop:]
    model = load_both_ways(scratch, join_file(json.dumps(header).encode(), body))
    if not np.all(np.isfinite(values)):
        assert model is None                                    # NaN/inf never load
    if names[which % len(names)] == "scaler.scale" and np.any(values <= 0):
        assert model is None                                    # nor a scale ≤ 0


# ===== the network ============================================================================

@st.composite
def networks(draw, dtype=None, max_width=8):
    n_in = draw(st.integers(1, 6))
    hidden = draw(st.lists(st.integers(1, max_width), max_size=3))
    K = draw(st.integers(2, 6))
    activation = draw(st.sampled_from(ACTIVATIONS) |
                      st.lists(st.sampled_from(ACTIVATIONS), min_size=len(hidden), max_size=len(hidden)))
    dtype = dtype or draw(st.sampled_from(["float32", "float64"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    net = hg.MLP([n_in, *hidden, K], activation=activation, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    net.flat *= draw(st.sampled_from([0.1, 1.0, 3.0]))
    for b in net.biases:
        b[...] = rng.normal(scale=0.5, size=b.shape)
    return net


@st.composite
def net_and_inputs(draw, dtype=None, max_rows=40, scale=None):
    net = draw(networks(dtype))
    m = draw(st.integers(1, max_rows))
    X = draw(hnp.arrays(np.float64, (m, net.sizes[0]),
                        elements=st.floats(-10, 10, allow_subnormal=False)))
    X = X * (draw(st.sampled_from([1e-3, 1.0, 30.0])) if scale is None else scale)
    return net, X


def prob_tol(net) -> float:
    return 1e-12 if net.dtype == np.float64 else 1e-5


def clear_winners(net, X, margin_factor=1e3) -> np.ndarray:
    """Rows whose top logit beats the second by far more than rounding (in the net's dtype)."""
    Z = np.sort(net.forward(X).astype(np.float64), axis=1)
    eps = np.finfo(net.dtype).eps
    return (Z[:, -1] - Z[:, -2]) > margin_factor * eps * (1 + np.abs(Z[:, -1]))


@given(case=net_and_inputs())
def test_probabilities_sum_to_one_and_predict_picks_a_most_probable_class(case):
    net, X = case
    P = outcome(net.predict_proba, X, expect=())
    assert P.dtype == net.dtype and P.shape == (X.shape[0], net.n_classes)
    assert np.all(np.isfinite(P)) and np.all(P >= 0) and np.all(P <= 1)
    np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=prob_tol(net))
    labels = outcome(net.predict, X, expect=())
    assert labels.dtype == np.int64 and labels.shape == (X.shape[0],)
    # predict's class is a most probable one (ties in P may pick either of the tied classes) ...
    rows = np.arange(X.shape[0])
    assert np.array_equal(P[rows, labels], P.max(axis=1))
    # ... and it is exactly argmax P wherever P has a single maximum
    unique_max = (P == P.max(axis=1, keepdims=True)).sum(axis=1) == 1
    assert np.array_equal(labels[unique_max], P.argmax(axis=1)[unique_max])


def test_predict_agrees_with_argmax_of_predict_proba_away_from_ties():
    net = hg.MLP([1, 2], dtype="float64", seed=0)
    net.weights[0][...] = [[1e-5, 2e-5]]
    X = np.array([[1.0]])
    assert net.predict(X)[0] == net.predict_proba(X).argmax(axis=1)[0] == 1


def test_predict_equals_argmax_of_predict_proba_on_near_ties():
    """MLP.predict takes the argmax of the logits, while predict_proba's softmax maps logits
    closer than ~1 ulp of 1.0 to the same probability, whose argmax is the first index:
    logits [1e-5, 1e-5 + 1e-21] give predict 1 but argmax(predict_proba) 0.
    Proposed fix (network.py): take predict's argmax on softmax(logits) (or log_softmax, as
    Model.predict does), so that predict == predict_proba(X).argmax(1) always."""
    net = hg.MLP([1, 2], dtype="float64", seed=0)
    net.weights[0][...] = [[1e-5, 1e-5 + 1e-21]]
    net.biases[0][...] = 0
    X = np.array([[1.0]])
    assert net.predict(X)[0] == net.predict_proba(X).argmax(axis=1)[0]


@given(case=net_and_inputs(), seed=st.integers(0, 2 ** 32 - 1), batch_size=st.integers(1, 50))
def test_predictions_do_not_depend_on_row_order_or_batch_size(case, seed, batch_size):
    net, X = case
    m = X.shape[0]
    perm = np.random.default_rng(seed).permutation(m)
    P = net.predict_proba(X)
    tol = 1e-13 if net.dtype == np.float64 else 2e-6   # BLAS may round other row blocks otherwise
    np.testing.assert_allclose(net.predict_proba(X[perm]), P[perm], rtol=0, atol=tol)
    np.testing.assert_allclose(net.predict_proba(X, batch_size=batch_size), P, rtol=0, atol=tol)
    labels = net.predict(X)
    clear = clear_winners(net, X)
    assert np.array_equal(net.predict(X[perm])[clear[perm]], labels[perm][clear[perm]])
    assert np.array_equal(net.predict(X, batch_size=batch_size)[clear], labels[clear])
    model = Model(net, np.arange(net.n_classes) * 10)
    L = model.predict_log_proba(X)
    np.testing.assert_allclose(model.predict_log_proba(X[perm], batch_size=batch_size), L[perm],
                               rtol=1e-12 if net.dtype == np.float64 else 1e-5, atol=tol)


finite_1e30 = st.floats(-1e30, 1e30, allow_nan=False, allow_infinity=False)


@given(Z=hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=finite_1e30),
       c=finite_1e30)
@example(Z=np.array([[1e30, -1e30, 0.0]]), c=-1e30)
@example(Z=np.array([[-1e30, -1e30]]), c=1e30)
def test_logsumexp_is_shift_invariant_and_finite(Z, c):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lse = hg.logsumexp(Z)
        shifted = hg.logsumexp(Z + c)
    assert lse.shape == (Z.shape[0], 1)
    assert np.all(np.isfinite(lse)) and np.all(np.isfinite(shifted))
    # bounds: max ≤ lse ≤ max + log K
    top = Z.max(axis=1, keepdims=True)
    assert np.all(lse >= top) and np.all(lse <= top + np.log(Z.shape[1]) + 1e-12 * (1 + np.abs(top)))
    # shift invariance, up to the rounding of Z + c itself
    scale = np.abs(Z).max() + abs(c) + 1.0
    np.testing.assert_allclose(shifted, lse + c, rtol=0, atol=8 * np.finfo(np.float64).eps * scale)


@given(Z=hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=finite_1e30))
def test_log_softmax_is_finite_and_not_positive(Z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L = hg.log_softmax(Z)
    assert L.shape == Z.shape and np.all(np.isfinite(L)) and np.all(L <= 0)
    # the top class has p ≥ 1/K, up to the rounding of logsumexp at the logits' magnitude
    top = np.abs(Z).max(axis=1)
    assert np.all(L.max(axis=1) >= -np.log(Z.shape[1]) - 4 * np.finfo(np.float64).eps * (1 + top))


@given(Z=hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)),
                    elements=st.floats(-1e4, 1e4)),
       dtype=st.sampled_from(["float32", "float64"]))
def test_softmax_rows_sum_to_one_and_match_log_softmax(Z, dtype):
    Z = Z.astype(dtype)
    tol = 1e-12 if dtype == "float64" else 1e-5
    P = hg.softmax(Z)
    np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=tol)
    # log_softmax = log(softmax), up to the rounding of logsumexp at the logits' magnitude
    L = hg.log_softmax(Z).astype(np.float64)
    eps = float(np.finfo(dtype).eps)
    slack = 16 * eps * (1 + np.abs(Z.astype(np.float64)).max(axis=1, keepdims=True)) + 0 * L
    big = P > np.finfo(dtype).tiny * 1e3          # log P is meaningful there
    assert np.all(np.abs(L[big] - np.log(P[big].astype(np.float64))) <= slack[big])


# ===== numerical extremes ======================================================================

def logits_model(K: int, dtype) -> Model:
    """A model whose logits are its inputs: one K→K layer with W = I, b = 0."""
    net = hg.MLP([K, K], dtype=dtype, seed=0)
    net.weights[0][...] = np.eye(K)
    net.biases[0][...] = 0
    return Model(net, np.array([f"c{k}" for k in range(K)]))


@given(Z=hnp.arrays(np.float64, st.tuples(st.integers(1, 10), st.integers(2, 6)),
                    elements=st.floats(-1e4, 1e4)),
       dtype=st.sampled_from(["float32", "float64"]))
@example(Z=np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]]), dtype="float32")
def test_logits_up_to_1e4_give_finite_log_probabilities(Z, dtype):
    model = logits_model(Z.shape[1], dtype)
    L = outcome(model.predict_log_proba, Z, expect=())
    assert np.all(np.isfinite(L)) and np.all(L <= 0)
    P = outcome(model.predict_proba, Z, expect=())
    assert np.all(np.isfinite(P)) and np.all(P >= 0) and np.all(P <= 1)
    P_net = outcome(model.net.predict_proba, Z, expect=())
    assert np.all(np.isfinite(P_net)) and np.all(P_net >= 0)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(P_net.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=tol)
    np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=tol)
    labels = outcome(model.predict, Z, expect=())
    assert set(labels.tolist()) <= set(model.classes.tolist())


@FEWER
@given(case=net_and_inputs(max_rows=10, scale=1e6), scaler=st.booleans())
def test_inputs_scaled_by_1e6_give_finite_probabilities(case, scaler):
    net, X = case
    std = Standardizer(np.zeros(net.sizes[0]), np.full(net.sizes[0], 1e-2)) if scaler else None
    model = Model(net, np.arange(net.n_classes), std)
    P = outcome(net.predict_proba, X, expect=())
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=prob_tol(net))
    L = outcome(model.predict_log_proba, X, expect=())
    assert np.all(np.isfinite(L)) and np.all(L <= 0)
    assert np.all(np.isfinite(outcome(model.predict_proba, X, expect=())))


def blown_up(net: hg.MLP, layer: int, value: float, seed: int) -> hg.MLP:
    """``net`` with the weights of one layer set to ±value (random signs)."""
    W = net.weights[layer]
    W[...] = value * np.random.default_rng(seed).choice([-1.0, 1.0], size=W.shape)
    return net


@FEWER
@given(case=net_and_inputs(max_rows=8), layer=st.integers(0, 3), seed=st.integers(0, 1000),
       huge=st.sampled_from([1e30, 1e100, 1e300]))
def test_huge_weights_give_probabilities_or_an_input_error(case, layer, seed, huge):
    """Outputs that would be NaN/inf raise an InputError at predict time; whatever is returned
    is a probability (saturating activations can legitimately tame huge pre-activations)."""
    net, X = case
    layer = layer % net.n_layers
    value = min(huge, 1e38) if net.dtype == np.float32 else huge
    blown_up(net, layer, value, seed)
    model = Model(net, np.arange(net.n_classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # the refusals are tested below
        P = outcome_no_warning_check(net.predict_proba, X)
        if not isinstance(P, InputError):
            assert np.all(np.isfinite(P)) and np.all(P >= 0)
            np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, atol=1e-5)
        P = outcome_no_warning_check(model.predict_proba, X)
        if not isinstance(P, InputError):
            assert np.all(np.isfinite(P)) and np.all(P >= 0) and np.all(P <= 1)
            np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, atol=1e-5)
        labels = outcome_no_warning_check(net.predict, X)
        if not isinstance(labels, InputError):
            assert np.all((0 <= labels) & (labels < net.n_classes))


def outcome_no_warning_check(fn, *args):
    try:
        return fn(*args)
    except InputError as exc:
        assert "\n" not in str(exc)
        return exc


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("where", ["first", "last"])
def test_outputs_that_would_be_nan_or_inf_raise_at_predict_time(dtype, where):
    net = hg.MLP([3, 5, 2], activation="relu", dtype=dtype, seed=0)
    big = 1e38 if dtype == "float32" else 1e308
    layer = 0 if where == "first" else 1
    net.weights[layer][...] = big
    net.weights[1 - layer][...] = np.abs(net.weights[1 - layer]) + 1
    net.biases[0][...] = 1.0
    X = np.full((4, 3), 10.0)
    model = Model(net, np.array(["a", "b"]))
    for fn in (net.predict, net.predict_proba, model.predict, model.predict_proba, model.predict_log_proba):
        with pytest.raises(InputError, match="too large|overflow"):
            outcome(fn, X, expect=())


def test_float64_inputs_beyond_float32_range_are_refused_clearly():
    """MLP.logits_in_chunks casts each chunk to float32 outside its np.errstate, so finite
    float64 inputs beyond float32's range (1e39) emit 'RuntimeWarning: overflow encountered in
    cast' and are then refused as 'X contains NaN or inf', which X does not contain.
    Proposed fix (network.py): cast inside np.errstate(over='ignore') and, when the cast chunk
    is not finite but the original is, say 'X row r, column c (1e39) is too large for a
    float32 network (max 3.4e38); rescale it'."""
    net = hg.MLP([2, 3, 2], activation="relu", dtype="float32", seed=0)
    X = np.array([[1e39, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="too large") as info:
            net.predict(X)
    assert "NaN" not in str(info.value)


@pytest.mark.parametrize("X", [np.array([[1 + 5j, 2.0]]), np.array([[1, 2]], dtype="m8[s]")],
                         ids=["complex", "timedelta"])
def test_complex_or_timedelta_inputs_are_refused(X):
    """check_shape refuses dtype kinds 'USVM' but not complex ('c') or timedelta ('m'), so
    np.ascontiguousarray(X, float) drops the imaginary part (a ComplexWarning, and a silent
    wrong answer) or turns durations into numbers.
    Proposed fix (validation.py check_shape): refuse kinds 'c' and 'm' too, e.g. 'X must hold
    real numbers, got dtype complex128'."""
    net = hg.MLP([2, 3, 2], dtype="float64", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError):
            net.predict(X)


def test_log_probabilities_are_finite_for_finite_logits_far_apart():
    """log_softmax(Z) = Z − logsumexp(Z) overflows to -inf (with 'RuntimeWarning: overflow
    encountered in subtract') for finite float32 logits [3e38, -3e38], though
    Model.predict_log_proba promises finite log-probabilities wherever the logits are finite.
    Proposed fix (network.py logits_in_chunks): also refuse rows whose logit range max − min
    is not finite, with an InputError like the overflow one (or clip at -finfo.max)."""
    model = logits_model(2, "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            L = model.predict_log_proba(np.array([[3e38, -3e38]]))
        except InputError:
            return
    assert np.all(np.isfinite(L))


@pytest.mark.parametrize("dtype,Z,tol", [
    ("float32", [[1e4, 1e4 - 1.0, 1e4 - 2.5], [-1e4, -1e4 + 1.0, 3e3]], 1e-5),   # summed 0.9998
    ("float32", [[1e7, 1e7, -1e7]], 1e-5),     # was P = [0.37, 0.37, 0]: summed to 0.74
    ("float32", [[1e8, 1e8, 0.0]], 1e-5),      # was P = [1, 1, 0]: summed to 2
    ("float64", [[1e17, 1e17, 0.0]], 1e-12),   # was P = [1, 1, 0]: summed to 2
])
def test_model_probabilities_sum_to_one_for_large_logits(dtype, Z, tol):
    """Found by the huge-weights property: log_softmax used to compute Z − (c + log s),
    c = max Z, rounding c + log s at the magnitude of c, so Model.predict_proba (and
    `handgrad predict --proba`) gave rows summing to 0.9998 at logits ~1e4 (float32) and to 2
    for two equal logits of 1e8 (float32) or 1e17 (float64). Fixed in losses.py
    ((Z − c) − log s) by commit 6d42b323 while this test was being written."""
    Z = np.array(Z)
    P = logits_model(Z.shape[1], dtype).predict_proba(Z)
    np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=tol)


def test_standardisation_overflow_is_named_as_such():
    """Model._standardize lets (X − mean)/scale overflow silently and the network then refuses
    the chunk as 'X contains NaN or inf (first at row 0, column 0)', though X is finite.
    Proposed fix (model.py _standardize): check the standardised chunk and say 'X row r,
    column c is too large for the model's standardisation (scale 1e-300)'."""
    model = Model(hg.MLP([2, 3, 2], dtype="float64", seed=0), np.array([0, 1]),
                  Standardizer(np.zeros(2), np.full(2, 1e-300)))
    with pytest.raises(InputError) as info:
        model.predict(np.array([[1e10, 1.0]]))
    assert "NaN" not in str(info.value) and "too large" in str(info.value)


def test_a_column_mixing_a_large_and_a_huge_whole_number_is_refused_by_name(tmp_path):
    # found by the byte-mutation property under pandas 3.0: read as text (read_csv overflowed),
    # the column's infer_objects overflowed in turn, a traceback instead of a message
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n9007199254740993,0.0,0.0\n" + "9" * 400 + ",0.0,0.0\n")
    result = outcome(load_table, path, None)
    assert isinstance(result, InputError) and "'a'" in str(result), result
