#!/usr/bin/env python3
"""Time-boxed fuzzing of handgrad's loaders: model files and tables.

Feeds random and mutated inputs to :func:`handgrad.io.model_from_bytes` and
:func:`handgrad.io.load_model` (safetensors model files) and to :func:`handgrad.data.load_table`
(CSV, TSV, gzipped CSV, Parquet) for a given number of seconds. The contract under test:
each call returns (a sound result) or raises the documented error, ``ModelFileError`` for
model files and ``InputError`` for tables, with a one-line message, and emits no warning
(numpy's ``invalid value encountered in cast`` is a silent wrong answer). Anything else is a
bug: the input that broke it is saved under a temporary directory (with a ``.json`` sidecar
holding the call's arguments), the traceback is printed, and the exit status is 1.

Inputs: valid seed files made on the spot (models of several architectures and dtypes,
tables with numeric, text, missing and quoted cells, Parquet files with and without pandas
metadata), then mutated: bit flips, interesting bytes and 64-bit integers (header lengths,
offsets), truncation, deletion, inserted junk and tokens (quotes, delimiters, BOMs, NUL,
``1e999``, long digit runs), duplicated and spliced spans; for text tables also shuffled,
duplicated and dropped lines, swapped delimiters, emptied cells, huge numbers, other
encodings; for model files edits of the JSON header and of the nested handgrad metadata;
for Parquet edits of the pandas metadata block. Now and then plain random bytes.

Engines:

* ``random`` (the default): a plain seeded mutation loop; needs only handgrad's test
  dependencies (pandas, pyarrow).
* ``atheris``: coverage-guided (libFuzzer) through `atheris <https://pypi.org/project/atheris/>`_
  if it is installed (``pip install atheris``); the fuzzer's bytes choose the loader and
  either are the file or steer the same mutations of a seed.

Usage::

    python tests/fuzz/fuzz_loaders.py --seconds 60 [--seed N] [--engine random|atheris] [--out DIR]
    python tests/fuzz/fuzz_loaders.py --replay DIR_OR_FILE...    # rerun saved inputs
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

KINDS = ("model", "csv", "tsv", "csv.gz", "parquet")
SUFFIXES = {"model": ".safetensors", "csv": ".csv", "tsv": ".tsv", "csv.gz": ".csv.gz",
            "parquet": ".parquet"}


class UndocumentedError(Exception):
    """A loader broke its contract; the message says how."""


class Hang(BaseException):
    """One input took longer than the per-input limit (a BaseException, so that no
    ``except Exception`` in the code under test can swallow it)."""


PER_INPUT_SECONDS = 30


# ===== seeds ==================================================================================

def _model_seeds() -> list[bytes]:
    import handgrad as hg
    from handgrad.model.files import model_to_bytes
    from handgrad.model import Model
    from handgrad.data.preprocessing import Standardizer

    seeds = []
    specs = [([3, 4, 2], "relu", "float32", ["a", "b"], True),
             ([2, 3], "tanh", "float64", [0, 7, 9], False),
             ([4, 5, 3, 2], ["leaky_relu(alpha=0.2)", "sigmoid"], "float64", [0.5, 1.5], True),
             ([1, 2], "identity", "float32", ["x", "y"], False)]
    for i, (sizes, act, dtype, classes, scaler) in enumerate(specs):
        rng = np.random.default_rng(i)
        net = hg.MLP(sizes, activation=act, dtype=dtype, seed=i)
        for b in net.biases:
            b[...] = rng.normal(size=b.shape)
        classes = (classes + [f"c{k}" for k in range(len(classes), sizes[-1])])[:sizes[-1]]
        std = Standardizer().fit(rng.normal(size=(10, sizes[0]))) if scaler else None
        names = [f"f{j}" for j in range(sizes[0])] if i % 2 == 0 else None
        seeds.append(model_to_bytes(Model(net, np.array(classes), std, names,
                                          {"epochs": 3, "lr": 0.1, "history": {"loss": [1.0, 0.7]}})))
    return seeds


CSV_SEEDS = [
    "a,b,y\n1.5,2,cat\n-3,4e-3,dog\n0,1e10,cat\n",
    "x0,x1,x2,label\n0.1,0.2,0.3,0\n0.4,0.5,0.6,1\n0.7,0.8,0.9,2\n1,1,1,1\n",
    'name with space,"quoted, comma",y\n1,2,"a"\n3,4,"b ""q"""\n',
    "a,y\n1,\n2,x\n",
    "a,b,y\nTrue,1,1\nFalse,2,0\n",
    "\ufeffa,y\r\n1,1\r\n2,2\r\n",
    "a,y\n1e308,1\n-1e308,2\n5e-324,1\n",
    "a,a,y\n1,2,3\n",
    "y\n1\n2\n",
]


def _table_seeds() -> dict[str, list[bytes]]:
    seeds = {"csv": [s.encode() for s in CSV_SEEDS],
             "tsv": [s.replace(",", "\t").encode() for s in CSV_SEEDS],
             "csv.gz": [gzip.compress(s.encode(), mtime=0) for s in CSV_SEEDS[:4]],
             "parquet": []}
    try:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return seeds
    frames = [pd.DataFrame({"a": [1.5, 2.5, -1.0], "b": [1, 2, 3], "y": ["p", "q", "p"]}),
              pd.DataFrame({"a": [0.1, 0.2], "y": [0, 1]}, index=["r1", "r2"]),
              pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "y": pd.Categorical(["u", "v", "u"])})]
    for frame in frames:
        out = io.BytesIO()
        frame.to_parquet(out)
        seeds["parquet"].append(out.getvalue())
    tables = [pa.table({"a": pa.array([1.0, 2.0]), "s": pa.array(["1", "x"]), "y": pa.array([b"a", b"\xff"])}),
              pa.table({"a": pa.array([1, 2], pa.uint64()), "l": pa.array([[1], [2, 3]]), "y": [1, 2]})]
    for table, codec in zip(tables, ["zstd", "none"]):
        out = io.BytesIO()
        pq.write_table(table, out, compression=codec)
        seeds["parquet"].append(out.getvalue())
    return seeds


# ===== mutations ==============================================================================

TOKENS = [b'"', b",", b"\t", b";", b"\n", b"\r\n", b"\r", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00",
          b"NaN", b"inf", b"-inf", b"1e999", b"-1e999", b"9" * 400, b"18446744073709551616",
          b"\xc3", b"\\", b"''", b"{", b"}", b"[", b"]", b"null", b"PAR1", b"\x1f\x8b"]
INTERESTING_U64 = [0, 1, 7, 8, 255, 2 ** 31 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 100_000_001]
JSON_VALUES = [None, True, False, 0, -1, 1, 2, 3, 2 ** 31, 2 ** 53 + 1, 2 ** 63, 2 ** 64, 10 ** 400,
               0.5, -0.0, 1e308, 5e-324, "", "a", "\u0000", "a\u0000", "\ud800", "relu", "F16", "BF16",
               "I64", "float16", "leaky_relu(alpha=2)", [], [0], [1, 1], [-1, 3], [2 ** 64, 2],
               {}, {"alpha": 1e308}, {"beta": 1}, {"type": "standardize"}, [None, None]]


def mutate_bytes(data: bytes, rnd: random.Random, others: list[bytes]) -> bytes:
    buf = bytearray(data)
    op = rnd.randrange(11)
    i = rnd.randrange(len(buf) + 1)
    if op == 0 and buf:
        buf[i % len(buf)] ^= 1 << rnd.randrange(8)
    elif op == 1 and buf:
        buf[i % len(buf)] = rnd.choice([0, 0x7F, 0x80, 0xFF, rnd.randrange(256)])
    elif op == 2:
        del buf[i:]
    elif op == 3:
        del buf[i:i + rnd.randint(1, 32)]
    elif op == 4:
        buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
    elif op == 5:
        buf[i:i] = rnd.choice(TOKENS)
    elif op == 6:
        j = rnd.randrange(len(buf) + 1)
        buf[j:j] = buf[i:i + rnd.randint(1, 64)]
    elif op == 7 and others:  # splice: this file's head, another's tail
        other = rnd.choice(others)
        buf = buf[:i] + other[rnd.randrange(len(other) + 1):]
    elif op == 8 and len(buf) >= 8:  # a 64-bit integer: lengths, offsets
        j = rnd.randrange(len(buf) - 7) if rnd.random() < 0.5 else 0
        buf[j:j + 8] = struct.pack("<Q", rnd.choice(INTERESTING_U64))
    elif op == 9 and len(buf) >= 4:  # a 32-bit integer (Parquet footer length, thrift fields)
        j = rnd.randrange(len(buf) - 3) if rnd.random() < 0.5 else len(buf) - 8
        buf[max(0, j):max(0, j) + 4] = struct.pack("<I", rnd.choice([0, 1, 2 ** 31 - 1, 2 ** 32 - 1, len(buf)]))
    elif op == 10:
        k = rnd.randrange(len(buf) + 1)
        buf[i:k] = buf[k:i] if k < i else buf[i:k][::-1]
    return bytes(buf)


CELLS = ["", " ", "NA", "nan", "inf", "-inf", "True", "1e19", "1e300", "1e400", "9" * 330,
         "18446744073709551615", "9223372036854775808", "-9223372036854775809", "0x10", "1_0",
         '"', '"a,b"', "é", "\x00", "4.9e-324", "-0", "null"]


def mutate_text(data: bytes, rnd: random.Random, sep: str) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True) or [""]
    op = rnd.randrange(10)
    i = rnd.randrange(len(lines))
    if op == 0:
        rnd.shuffle(lines)
    elif op == 1:
        lines.insert(rnd.randrange(len(lines) + 1), lines[i])
    elif op == 2:
        del lines[i]
    elif op == 3:
        a, b = rnd.sample([",", "\t", ";", " ", "|"], 2)
        lines[i] = lines[i].replace(a, "\0").replace(b, a).replace("\0", b)
    elif op == 4:  # duplicate a header name
        names = lines[0].rstrip("\r\n").split(sep)
        names.append(rnd.choice(names))
        lines[0] = sep.join(names) + "\n"
    elif op in (5, 6):  # one cell: emptied, or a special value
        parts = lines[i].rstrip("\r\n").split(sep)
        parts[rnd.randrange(len(parts))] = "" if op == 5 else rnd.choice(CELLS)
        lines[i] = sep.join(parts) + "\n"
    elif op == 7:
        newline = rnd.choice(["\r\n", "\r", "\n\n"])
        lines = [ln.rstrip("\r\n") + newline for ln in lines]
    elif op == 8:
        lines[i] = "\ufeff" + lines[i] if rnd.random() < 0.5 else lines[i] + sep
    else:
        text = "".join(lines)
        encoding = rnd.choice(["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32", "utf-8-sig"])
        return text.encode(encoding, errors="replace")
    return "".join(lines).encode("utf-8", errors="surrogateescape")


def _json_nodes(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _json_nodes(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _json_nodes(v, path + (i,))


def mutate_json(obj, rnd: random.Random):
    """``obj`` with one node replaced, deleted, or given an extra entry."""
    obj = json.loads(json.dumps(obj))
    path = rnd.choice(list(_json_nodes(obj)))
    if not path:
        return rnd.choice(JSON_VALUES)
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    action = rnd.randrange(4)
    if action == 0:
        del parent[path[-1]]
    elif action == 1 and isinstance(parent, dict):
        parent[rnd.choice(["zz", "", "__metadata__", "W9", "b1", "params"])] = rnd.choice(JSON_VALUES)
    elif action == 1:
        parent.append(rnd.choice(JSON_VALUES))
    else:
        parent[path[-1]] = rnd.choice(JSON_VALUES)
    return obj


def mutate_model(data: bytes, rnd: random.Random) -> bytes:
    """A structural edit: the safetensors JSON header, the handgrad metadata in it, or a value
    in the tensor data; the header length is kept consistent."""
    if len(data) < 8:
        return data
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8:8 + n])
    except ValueError:
        return data
    body = data[8 + n:]
    choice = rnd.randrange(3)
    if choice == 0 or not isinstance(header, dict):
        header = mutate_json(header, rnd)
    elif choice == 1:
        try:
            meta = json.loads(header["__metadata__"]["handgrad"])
        except (KeyError, TypeError, ValueError):
            return data
        text = json.dumps(mutate_json(meta, rnd))
        if rnd.random() < 0.1:
            text = rnd.choice([text.replace("1", "NaN", 1), text[:len(text) // 2], "[" * 5000])
        header["__metadata__"] = {**header["__metadata__"], "handgrad": text}
    else:
        entries = [v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
        try:
            entry = rnd.choice(entries)
            start, stop = entry["data_offsets"]
            dtype = {"F32": "<f4", "F64": "<f8"}[entry["dtype"]]
            values = np.frombuffer(body[start:stop], dtype=dtype).copy()
            with np.errstate(over="ignore"):
                values[rnd.randrange(values.size)] = rnd.choice(
                    [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e308, 0.0, -0.0, 5e-324, 1e30])
            body = body[:start] + values.tobytes() + body[stop:]
        except (IndexError, KeyError, TypeError, ValueError):
            return data
    raw = json.dumps(header, ensure_ascii=rnd.random() < 0.5).encode("utf-8", errors="surrogatepass")
    return struct.pack("<Q", len(raw)) + raw + body


def mutate_parquet_metadata(data: bytes, rnd: random.Random) -> bytes:
    """The file rewritten with its pandas metadata block edited (or replaced)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception:  # noqa: BLE001  (a mutant that pyarrow itself cannot read: keep it)
        return data
    meta = (table.schema.metadata or {}).get(b"pandas")
    try:
        obj = json.loads(meta) if meta else {"index_columns": [], "columns": []}
    except ValueError:
        obj = {}
    new = json.dumps(mutate_json(obj, rnd)).encode("utf-8", errors="surrogatepass")
    table = table.replace_schema_metadata({b"pandas": new})
    out = io.BytesIO()
    try:
        pq.write_table(table, out)
    except (pa.ArrowException, ValueError, TypeError):
        return data
    return out.getvalue()


# ===== one input ==============================================================================

@dataclass
class Case:
    """One input: which loader, the bytes, and the arguments of load_table."""

    kind: str
    data: bytes
    target: str | None = None
    features: list[str] | None = None

    def sidecar(self) -> dict:
        return {"kind": self.kind, "target": self.target, "features": self.features}


def _header_names(case: Case) -> list[str]:
    if case.kind == "parquet":
        return ["a", "b", "y", "s", "l"]
    try:
        data = gzip.decompress(case.data) if case.kind == "csv.gz" else case.data
        first = data.decode("utf-8").lstrip("\ufeff").splitlines()[0]
    except (UnicodeDecodeError, IndexError, OSError, EOFError, ValueError, zlib.error):
        return ["y"]
    return [n.strip('"') for n in first.split("\t" if case.kind == "tsv" else ",")] or ["y"]


def choose_arguments(case: Case, rnd: random.Random) -> Case:
    if case.kind == "model":
        return case
    names = _header_names(case)
    r = rnd.random()
    case.target = None if r < 0.15 else "zz" if r < 0.2 else rnd.choice(names)
    if rnd.random() < 0.2:
        case.features = rnd.sample(names + ["zz"], rnd.randint(0, min(3, len(names) + 1)))
    return case


def check(case: Case, scratch: Path) -> str:
    """Run the loader(s) on ``case``; return "returned" or "refused", or raise
    UndocumentedError if the contract is broken."""
    from handgrad.errors import InputError
    from handgrad.model.files import ModelFileError, load_model, model_from_bytes

    path = scratch / f"input{SUFFIXES[case.kind]}"
    path.write_bytes(case.data)
    results = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calls = ([("model_from_bytes", lambda: model_from_bytes(case.data), ModelFileError),
                  ("load_model", lambda: load_model(path), ModelFileError)] if case.kind == "model" else
                 [("load_table", lambda: _load_table(path, case), InputError)])
        for name, call, documented in calls:
            try:
                results.append(call())
            except documented as exc:
                message = str(exc)
                if "\n" in message or not message.strip() or len(message) > 2000:
                    raise UndocumentedError(f"{name}: a {type(exc).__name__} whose message is not one "
                                            f"sane line: {message[:300]!r}") from exc
                results.append(exc)
            except Exception as exc:  # noqa: BLE001  (that is the point)
                raise UndocumentedError(f"{name} raised {type(exc).__module__}.{type(exc).__name__}: "
                                        f"{str(exc)[:300]}") from exc
    caught = [w for w in caught if is_contract_warning(w)]
    if caught:
        w = caught[0]
        raise UndocumentedError(f"a warning escaped: {w.category.__name__}: {w.message} "
                                f"({w.filename}:{w.lineno})")
    if len({isinstance(r, Exception) for r in results}) > 1:
        raise UndocumentedError(f"model_from_bytes and load_model disagree: {results!r:.300}")
    result = results[0]
    if isinstance(result, Exception):
        return "refused"
    _check_sound(case, result)
    return "returned"


def is_contract_warning(w: warnings.WarningMessage) -> bool:
    """Whether a warning breaks the loaders' contract: any warning does (numpy's RuntimeWarnings
    on casts and overflows mean a silent wrong answer), except ResourceWarnings and a library's
    notices about its own future (Deprecation/FutureWarning) raised inside that library, as
    pandas does for odd dtype names in a corrupt file's metadata. Such notices caused by
    handgrad's own calls point at handgrad's code and still count."""
    if issubclass(w.category, ResourceWarning):
        return False
    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
        return "handgrad" in Path(w.filename).parts
    return True


def _load_table(path: Path, case: Case):
    from handgrad.data import load_table
    return load_table(path, case.target, case.features)


def _check_sound(case: Case, result) -> None:
    """A result must make sense: no silent wrong answer."""
    from handgrad.errors import InputError

    problems = []
    if case.kind == "model":
        net = result.net
        if not all(np.all(np.isfinite(p)) for p in net.params):
            problems.append("a loaded model has non-finite weights")
        if len(set(result.classes.tolist())) != net.n_classes:
            problems.append(f"a loaded model has duplicate classes {result.classes.tolist()!r:.100}")
        X = np.random.default_rng(0).normal(size=(4, net.sizes[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # extreme weights: see tests/test_properties.py xfails
            try:
                P = result.predict_proba(X)
                labels = result.predict(X)
            except InputError:
                P, labels = None, None
        if P is not None and not (np.all(np.isfinite(P)) and np.all((P >= 0) & (P <= 1))):
            problems.append(f"predict_proba gave {P!r:.100}")
        if labels is not None and not set(labels.tolist()) <= set(result.classes.tolist()):
            problems.append("predict gave labels that are not classes")
    else:
        X = result.X
        if not (X.dtype == np.float64 and X.ndim == 2 and X.size and np.all(np.isfinite(X))):
            problems.append(f"features are not finite float64 (n, d): {X.dtype} {X.shape}")
        if len(result.feature_names) != X.shape[1] or len(set(result.feature_names)) != X.shape[1]:
            problems.append(f"feature names {result.feature_names!r:.100} do not match X")
        if case.target is None and result.y is not None:
            problems.append("labels without a target")
        if case.target is not None and (result.y is None or result.y.shape != (X.shape[0],)
                                        or result.y.dtype.kind not in "iU"):
            problems.append(f"labels {None if result.y is None else (result.y.dtype, result.y.shape)}")
        elif case.target is not None and result.y.dtype.kind == "U" and not all(s.strip() for s in result.y):
            problems.append(f"a blank label among {result.y.tolist()!r:.100}")
    if problems:
        raise UndocumentedError("; ".join(problems))


class time_limit:
    """Raise :class:`Hang` in the block after ``seconds`` (with SIGALRM, so only where it
    exists and in the main thread; elsewhere no limit). libFuzzer has its own (-timeout)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        except (AttributeError, ValueError):  # no SIGALRM here, or not the main thread
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    @staticmethod
    def _fire(signum, frame):
        raise Hang()


def save_case(case: Case, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(case.data + json.dumps(case.sidecar()).encode()).hexdigest()[:12]
    path = out_dir / f"crash-{case.kind.replace('.', '-')}-{digest}{SUFFIXES[case.kind]}"
    path.write_bytes(case.data)
    path.with_name(path.name + ".json").write_text(json.dumps(case.sidecar()))
    return path


# ===== engines ================================================================================

@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    inputs: int = 0
    per_kind: dict = field(default_factory=lambda: {k: 0 for k in KINDS})
    outcomes: dict = field(default_factory=lambda: {"returned": 0, "refused": 0})

    def add(self, case: Case, outcome: str) -> None:
        self.inputs += 1
        self.per_kind[case.kind] += 1
        self.outcomes[outcome] += 1

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in self.per_kind.items())
        return (f"{self.inputs} inputs in {time.monotonic() - self.started:.1f} s ({kinds}); "
                f"{self.outcomes['returned']} loaded, {self.outcomes['refused']} refused with the "
                "documented error")


class Fuzzer:
    def __init__(self, seed: int, out_dir: Path | None):
        self.rnd = random.Random(seed)
        self.seed = seed
        self.out_dir = out_dir
        self.seeds = {"model": _model_seeds(), **_table_seeds()}
        self.kinds = [k for k in KINDS if self.seeds.get(k)]
        self.scratch = Path(tempfile.mkdtemp(prefix="handgrad-fuzz-work-"))
        self.stats = Stats()

    def make_case(self, rnd: random.Random) -> Case:
        kind = rnd.choice(self.kinds)
        seeds = self.seeds[kind]
        if rnd.random() < 0.05:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 512)))
        else:
            data = rnd.choice(seeds)
            for _ in range(rnd.choice([0, 1, 1, 1, 2, 2, 3, 4, 6])):
                try:
                    data = self.mutate(kind, data, rnd, seeds)
                except (RecursionError, ValueError, TypeError, KeyError, IndexError):
                    pass  # a mutator that cannot handle an earlier mutant: keep the mutant
        return choose_arguments(Case(kind, data), rnd)

    @staticmethod
    def mutate(kind: str, data: bytes, rnd: random.Random, seeds: list[bytes]) -> bytes:
        r = rnd.random()
        if kind == "model" and r < 0.5:
            return mutate_model(data, rnd)
        if kind in ("csv", "tsv") and r < 0.5:
            return mutate_text(data, rnd, "\t" if kind == "tsv" else ",")
        if kind == "parquet" and r < 0.15:
            return mutate_parquet_metadata(data, rnd)
        if kind == "csv.gz" and r < 0.5:  # mutate the text inside, then compress
            try:
                text = gzip.decompress(data)
            except (OSError, EOFError, ValueError, zlib.error):
                text = data
            return gzip.compress(mutate_text(text, rnd, ","), mtime=0)
        return mutate_bytes(data, rnd, seeds)

    def run_one(self, case: Case) -> None:
        """Check one case; on a broken contract or a hang save it, report, and exit with 1."""
        try:
            with time_limit(PER_INPUT_SECONDS):
                outcome = check(case, self.scratch)
        except UndocumentedError as exc:
            self.report(case, exc)
            sys.exit(1)
        except Hang:
            exc = UndocumentedError(f"one input took more than {PER_INPUT_SECONDS} s")
            self.report(case, exc)
            sys.exit(1)
        self.stats.add(case, outcome)

    def report(self, case: Case, exc: UndocumentedError) -> None:
        if self.out_dir is None:
            self.out_dir = Path(tempfile.mkdtemp(prefix="handgrad-fuzz-"))
        saved = save_case(case, self.out_dir)
        print(f"\nFUZZ FAILURE after {self.stats.inputs} inputs "
              f"({time.monotonic() - self.stats.started:.1f} s, seed {self.seed}): {exc}", file=sys.stderr)
        print(f"input ({case.kind}, target={case.target!r}, features={case.features!r}): "
              f"{case.data[:200]!r}{'...' if len(case.data) > 200 else ''}", file=sys.stderr)
        traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        print(f"saved to {saved} (arguments in {saved.name}.json)", file=sys.stderr)
        print(f"replay: python {Path(__file__).as_posix()} --replay {saved}", file=sys.stderr)

    def run_random(self, seconds: float) -> Stats:
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.run_one(self.make_case(self.rnd))
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return self.stats

    def run_atheris(self, seconds: float) -> None:
        import atheris

        deadline = time.monotonic() + seconds

        def one_input(data: bytes) -> None:
            if time.monotonic() >= deadline:
                print(f"fuzz_loaders (atheris): {self.stats.summary()}; no undocumented error", flush=True)
                shutil.rmtree(self.scratch, ignore_errors=True)
                if artifacts_are_temporary and not any(self.out_dir.iterdir()):
                    self.out_dir.rmdir()
                os._exit(0)
            fdp = atheris.FuzzedDataProvider(data)
            kind = self.kinds[fdp.ConsumeIntInRange(0, len(self.kinds) - 1)]
            mode = fdp.ConsumeIntInRange(0, 3)
            rnd = random.Random(fdp.ConsumeInt(4))
            if mode == 0:   # the fuzzer's bytes are the file (coverage guides them)
                case = choose_arguments(Case(kind, fdp.ConsumeBytes(1 << 16)), rnd)
            else:           # the fuzzer's bytes steer mutations of a seed
                case = self.make_case_of_kind(kind, rnd)
            try:
                outcome = check(case, self.scratch)
            except UndocumentedError as exc:
                self.report(case, exc)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(1)
            self.stats.add(case, outcome)

        # libFuzzer writes its own artifacts (e.g. after a native crash in a reader) there
        artifacts_are_temporary = self.out_dir is None
        if self.out_dir is None:
            self.out_dir = Path(tempfile.mkdtemp(prefix="handgrad-fuzz-"))
        argv = [sys.argv[0], f"-max_total_time={int(seconds) + 5}", "-rss_limit_mb=4096",
                f"-seed={self.seed % (2 ** 31) or 1}", "-timeout=30",
                f"-artifact_prefix={self.out_dir}{os.sep}"]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atheris.Setup(argv, one_input)
        atheris.Fuzz()

    def make_case_of_kind(self, kind: str, rnd: random.Random) -> Case:
        kinds, self.kinds = self.kinds, [kind]
        try:
            return self.make_case(rnd)
        finally:
            self.kinds = kinds


def replay(paths: list[str]) -> int:
    files = []
    for p in map(Path, paths):
        files += sorted(q for q in p.glob("crash-*") if not q.name.endswith(".json")) if p.is_dir() else [p]
    scratch = Path(tempfile.mkdtemp(prefix="handgrad-fuzz-replay-"))
    failed = 0
    try:
        failed = _replay_files(files, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


def _replay_files(files: list[Path], scratch: Path) -> int:
    failed = 0
    for f in files:
        sidecar = f.with_name(f.name + ".json")
        args = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        kind = args.get("kind") or next(k for k, s in SUFFIXES.items() if f.name.endswith(s))
        case = Case(kind, f.read_bytes(), args.get("target"), args.get("features"))
        try:
            print(f"{f}: {check(case, scratch)}")
        except UndocumentedError as exc:
            failed += 1
            print(f"{f}: FAIL {exc}")
            traceback.print_exception(exc.__cause__ or exc)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--engine", choices=["random", "atheris"], default="random",
                        help="plain mutation loop (default) or coverage-guided atheris")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to save a failing input (default: a new temporary directory)")
    parser.add_argument("--replay", nargs="+", metavar="PATH", help="rerun saved inputs and exit")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 2 ** 32
    out_dir = args.out  # None: a new temporary directory, made only when something fails
    if args.engine == "atheris":
        try:
            import atheris
        except ImportError:
            print("atheris is not installed (pip install atheris); use --engine random", file=sys.stderr)
            return 2
        # coverage feedback comes from instrumented code: handgrad's (instrumenting pandas as
        # well costs 16 s of start-up and slows every input; its readers are C and Cython anyway)
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
        with atheris.instrument_imports(include=["handgrad"]):
            import handgrad.data  # noqa: F401
            import handgrad.model.files  # noqa: F401
    fuzzer = Fuzzer(seed, out_dir)
    where = out_dir if out_dir is not None else "a new temporary directory"
    print(f"fuzz_loaders: engine {args.engine}, seed {seed}, {args.seconds:g} s; a failing input is "
          f"saved to {where}", flush=True)
    if args.engine == "atheris":
        fuzzer.run_atheris(args.seconds)  # exits by itself
        return 0
    stats = fuzzer.run_random(args.seconds)
    print(f"fuzz_loaders: {stats.summary()}; no undocumented error", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
