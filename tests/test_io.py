"""Model files (handgrad.io): faithful round trips, no pickle, atomic writes, and a clear
ModelFileError for every kind of broken file, each built by really corrupting a file."""

from __future__ import annotations

import json
import os
import re
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

import handgrad as hg
import handgrad.model.files as hio
from handgrad.errors import InputError
from handgrad.model.files import ModelFileError, load_model, model_info, save_model
from handgrad.model import Model
from handgrad.data.preprocessing import Standardizer

SIZES = [4, 6, 5, 3]
FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


# ----- helpers -----------------------------------------------------------------------------

def make_model(dtype="float64", activation="relu", classes="str", scaler=True,
               feature_names=True, sizes=SIZES, seed=0) -> Model:
    """A model with random non-zero biases (zeros would hide a lost bias) and a real scaler."""
    rng = np.random.default_rng(seed)
    net = hg.MLP(sizes, activation=activation, l2=1e-3, dtype=dtype, seed=seed)
    for b in net.biases:
        b[...] = rng.normal(scale=0.5, size=b.shape)
    K, n = sizes[-1], sizes[0]
    labels = {"str": [f"class-{k}" for k in range(K)], "int": [10 * k - 7 for k in range(K)],
              "float": [0.5 + k for k in range(K)]}[classes]
    std = Standardizer().fit(rng.normal(loc=3.0, scale=2.0, size=(50, n))) if scaler else None
    names = [f"feature {i}" for i in range(n)] if feature_names else None
    record = {"epochs": 3, "lr": 0.05, "history": {"loss": [1.2, 0.8, 0.5]}, "seed": seed}
    return Model(net, np.array(labels), std, names, record)


def inputs(n_features=SIZES[0], m=40, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc=3.0, scale=4.0, size=(m, n_features))


def read_parts(path) -> tuple[dict, dict[str, np.ndarray]]:
    """(handgrad metadata, tensors) of a file, read without handgrad.io."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return json.loads(header["__metadata__"]["handgrad"]), dict(st_load(data))


def write_parts(path, meta, tensors, metadata=None) -> Path:
    """Write a safetensors file with the given handgrad metadata (or raw metadata dict)."""
    md = metadata if metadata is not None else {"handgrad": json.dumps(meta)}
    Path(path).write_bytes(st_save(tensors, metadata=md))
    return Path(path)


def assert_refused(path, *patterns) -> ModelFileError:
    """load_model refuses with a one-line ModelFileError naming the file and each pattern."""
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    msg = str(info.value)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    assert "\n" not in msg
    assert str(path) in msg
    for pattern in patterns:
        assert pattern.lower() in msg.lower(), f"{pattern!r} not in {msg!r}"
    return info.value


@pytest.fixture
def saved(tmp_path) -> Path:
    return save_model(make_model(dtype="float32", activation="leaky_relu(alpha=0.2)"),
                      tmp_path / "model.safetensors")


# ----- round trips -------------------------------------------------------------------------

ROUND_TRIPS = [
    ("float32", "relu", "int", True, True),
    ("float64", "relu", "str", False, False),
    ("float32", "leaky_relu(alpha=0.2)", "str", True, False),
    ("float64", "leaky_relu(alpha=0.2)", "int", False, True),
    ("float64", "leaky_relu", "str", True, True),
    ("float32", ["tanh", "leaky_relu(alpha=0.2)"], "int", False, False),
    ("float64", ["sigmoid", "identity"], "str", True, True),
    ("float32", "sigmoid", "float", True, True),
]


@pytest.mark.parametrize("dtype,activation,classes,scaler,names", ROUND_TRIPS)
def test_round_trip_is_bit_identical(tmp_path, dtype, activation, classes, scaler, names):
    model = make_model(dtype, activation, classes, scaler, names)
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    X = inputs()

    p0, p1 = model.predict_proba(X), loaded.predict_proba(X)
    assert p1.dtype == p0.dtype == np.dtype(dtype)
    assert p1.tobytes() == p0.tobytes()                      # bit-identical, not just close
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert loaded.net.flat.tobytes() == model.net.flat.tobytes()
    assert loaded.net.sizes == model.net.sizes
    assert [a.name for a in loaded.net.activations] == [a.name for a in model.net.activations]
    assert loaded.net.l2 == model.net.l2 and loaded.net.dtype == model.net.dtype
    assert loaded.classes.tolist() == model.classes.tolist()
    assert loaded.classes.dtype.str[1:] == {"int": "i8", "float": "f8", "str": "U7"}[classes]
    assert loaded.feature_names == model.feature_names
    assert loaded.record == model.record
    if scaler:
        assert loaded.scaler.mean.tobytes() == model.scaler.mean.tobytes()
        assert loaded.scaler.scale.tobytes() == model.scaler.scale.tobytes()
    else:
        assert loaded.scaler is None

    # the metadata survives unchanged: saving the loaded model gives the very same file
    again = save_model(loaded, tmp_path / "again.safetensors")
    assert again.read_bytes() == path.read_bytes()
    assert model_info(again) == model_info(path)


def test_network_without_hidden_layers(tmp_path):
    model = make_model(sizes=[3, 2], scaler=False)
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    X = inputs(3)
    assert loaded.predict_proba(X).tobytes() == model.predict_proba(X).tobytes()
    assert loaded.net.activations == []


def test_record_is_made_json_safe(tmp_path):
    model = make_model()
    model.record = {"f32": np.float32(0.25), "i64": np.int64(7), "arr": np.array([[1, 2], [3, 4]]),
                    "nan": float("nan"), "inf": np.inf, "tuple": (1, np.float64(-np.inf)),
                    "nested": {"ok": True, 3: "int key"}, "path": Path("data/x.csv"), "none": None}
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    assert loaded.record == {"f32": 0.25, "i64": 7, "arr": [[1, 2], [3, 4]], "nan": None,
                             "inf": None, "tuple": [1, None], "nested": {"ok": True, "3": "int key"},
                             "path": str(Path("data/x.csv")), "none": None}
    assert type(loaded.record["i64"]) is int


def test_record_without_json_form_is_refused_before_writing(tmp_path):
    model = make_model()
    model.record = {"history": {"bad": object()}}
    with pytest.raises(InputError, match=r"record\['history'\]\['bad'\]"):
        save_model(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_custom_activation_round_trip_and_refusal_once_unregistered(tmp_path):
    name = "softsign_io_test"
    hg.register_activation(name, lambda z: z / (1 + np.abs(z)),
                           lambda z: 1 / (1 + np.abs(z)) ** 2, overwrite=True)
    try:
        model = make_model(activation=[name, "relu"])
        path = save_model(model, tmp_path / "m.safetensors")
        meta, _ = read_parts(path)
        assert meta["activations"][0] == {"name": name, "params": {}}
        X = inputs()
        assert load_model(path).predict_proba(X).tobytes() == model.predict_proba(X).tobytes()
    finally:
        hg.unregister_activation(name)
    err = assert_refused(path, name, "register_activation")
    assert "hidden layer 1" in str(err)


def test_unregistered_activation_object_is_refused_at_save(tmp_path):
    act = hg.Activation("mystery", np.tanh, lambda dA, Z, A: dA * (1 - A * A))
    model = make_model(activation=[act, "relu"])
    with pytest.raises(InputError, match="register_activation"):
        save_model(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


# ----- the file format ---------------------------------------------------------------------

def test_file_is_safetensors_with_json_header_and_no_pickle(saved):
    data = saved.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert 0 < n < len(data) - 8 and n < 10_000              # a small little-endian length
    header = json.loads(data[8:8 + n].decode("utf-8"))
    assert isinstance(header, dict)
    assert b"\x80\x04" not in data[:8 + n] and b"\x80\x05" not in data[:8 + n]  # pickle protocols
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert set(tensors) == {"W1", "b1", "W2", "b2", "W3", "b3", "scaler.mean", "scaler.scale"}
    assert {v["dtype"] for k, v in tensors.items() if not k.startswith("scaler")} == {"F32"}
    assert {tensors[k]["dtype"] for k in ("scaler.mean", "scaler.scale")} == {"F64"}
    assert list(header["__metadata__"]) == ["handgrad"]
    meta = json.loads(header["__metadata__"]["handgrad"])
    assert meta["format"] == "handgrad-model" and meta["format_version"] == 1
    assert meta["handgrad_version"] == hg.__version__
    assert meta["sizes"] == SIZES and meta["dtype"] == "float32"
    assert meta["activations"] == [{"name": "leaky_relu", "params": {"alpha": 0.2}}] * 2
    assert meta["classes"] == ["class-0", "class-1", "class-2"] and meta["classes_kind"] == "str"
    assert meta["preprocessing"] == {"type": "standardize"}
    assert meta["feature_names"] == [f"feature {i}" for i in range(4)]


def test_save_and_load_never_touch_pickle(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("pickle used")
    for name in ("load", "loads", "dump", "dumps"):
        monkeypatch.setattr(pickle, name, boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(np, "load", boom)
    model = make_model(dtype="float32")
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    assert loaded.predict_proba(inputs()).tobytes() == model.predict_proba(inputs()).tobytes()


def test_integer_classes_keep_their_type_in_the_json(tmp_path):
    path = save_model(make_model(classes="int"), tmp_path / "m.safetensors")
    meta, _ = read_parts(path)
    assert meta["classes"] == [-7, 3, 13] and meta["classes_kind"] == "int"
    assert all(type(c) is int for c in meta["classes"])


# ----- atomic writes -----------------------------------------------------------------------

def _fail(*a, **k):
    raise OSError("simulated disk failure")


@pytest.mark.parametrize("target", ["os.replace", "os.fsync", "serializer"])
def test_failed_save_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch, target):
    path = save_model(make_model(seed=0), tmp_path / "m.safetensors")
    before = path.read_bytes()
    if target == "serializer":
        monkeypatch.setattr(hio, "_st_save", _fail)
    else:
        monkeypatch.setattr(os, target.split(".")[1], _fail)
    with pytest.raises(OSError, match="simulated"):
        save_model(make_model(seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    load_model(path)  # still a good model file


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _fail)
    with pytest.raises(OSError):
        save_model(make_model(), tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_save_creates_parents_replaces_and_uses_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_model(make_model(seed=0), tmp_path / "a" / "b" / "m.safetensors")
    finally:
        os.umask(old)
    assert isinstance(path, Path) and path.is_file()
    assert path.stat().st_mode & 0o777 == 0o644             # not the 0600 of a temp file
    first = path.read_bytes()
    save_model(make_model(seed=1), str(path))                # str paths too; overwrite works
    assert path.read_bytes() != first
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]


@pytest.mark.parametrize("where,value", [("W2", np.nan), ("b1", np.inf), ("scaler.mean", np.nan)])
def test_save_refuses_non_finite_values(tmp_path, where, value):
    path = save_model(make_model(), tmp_path / "m.safetensors")
    before = path.read_bytes()
    model = make_model()
    if where.startswith("scaler"):
        model.scaler.mean[0] = value
    else:
        model.net.params[model.net.param_names.index(where)].flat[0] = value
    with pytest.raises(InputError, match=f"{where} contains NaN or inf"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


KILLED_SAVE = """
import os, signal, sys
from handgrad.atomic import atomic_writer
with atomic_writer(sys.argv[1]) as fh:
    fh.write(b"x" * 100000)
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)   # killed in the middle of the save
"""


def test_temp_file_of_a_killed_save_carries_its_pid_and_the_next_write_removes_it(tmp_path):
    import subprocess
    import sys

    path = save_model(make_model(seed=0), tmp_path / "m.safetensors")
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], capture_output=True)
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir() if p.name != "m.safetensors"]
    assert len(left) == 1 and left[0].startswith(".m.safetensors.") and left[0].endswith(".tmp")
    assert ".hg" in left[0]  # recognisable: the program's mark and the writer's pid
    load_model(path)  # the previous file is intact
    save_model(make_model(seed=1), tmp_path / "other.safetensors")  # any write in the directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "other.safetensors"]


def test_temp_files_of_live_writers_other_hosts_and_other_programs_are_kept(tmp_path):
    import subprocess
    import sys
    from handgrad import atomic

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        names = {f".m.safetensors.abc.hg{live.pid}-{atomic._HOST}.tmp": True,          # still writing
                 f".m.safetensors.abc.hg{os.getpid()}-{atomic._HOST}.tmp": True,      # this process
                 ".m.safetensors.abc.hg1-zzzzzz.tmp": True,                           # not a host tag
                 f".m.safetensors.abc.hg{dead}-{'0' * 6 if atomic._HOST != '0' * 6 else '1' * 6}.tmp": True,
                 ".m.safetensors.abc123.tmp": True,                                   # not ours (no mark)
                 "notes.tmp": True,
                 f".m.safetensors.abc.hg{dead}-{atomic._HOST}.tmp": False,            # ours, writer gone
                 f".MNIST.gz.x.hg{dead}-{atomic._HOST}.part": False}
        for name in names:
            (tmp_path / name).write_bytes(b"partial")
        assert atomic.remove_stale_temporaries(tmp_path) == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, keep in names.items() if keep)
    finally:
        live.kill()
        live.wait()


def test_write_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real" / "m.safetensors"
    target.parent.mkdir()
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    save_model(make_model(seed=0), link)
    assert link.is_symlink() and target.is_file()
    save_model(make_model(seed=1), link)  # replacing it again keeps the link too
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert np.array_equal(load_model(link).net.flat, make_model(seed=1).net.flat)
    assert [p.name for p in target.parent.iterdir()] == ["m.safetensors"]


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_save_over_a_fifo_device_or_directory_is_refused_and_leaves_it(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path / "d"
        path.mkdir()
    else:
        path = Path("/dev/null")
    with pytest.raises(InputError, match="not a regular file"):
        save_model(make_model(), path)
    assert not path.is_file()
    if kind == "device":
        assert path.is_char_device()


# ----- refusals: the file itself ----------------------------------------------------------

def test_missing_file(tmp_path):
    assert_refused(tmp_path / "nope.safetensors", "no such file")


def test_directory(tmp_path):
    assert_refused(tmp_path, "directory")


@pytest.mark.parametrize("kind, message", [("fifo", "a FIFO (named pipe), not a model file"),
                                           ("device", "a character device, not a model file")])
def test_fifo_or_device_is_refused_at_once_without_waiting_for_a_writer(tmp_path, kind, message):
    if kind == "fifo":  # open() of a FIFO used to block until something wrote to it: forever
        path = tmp_path / "m.safetensors"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")  # would read without end
    assert_refused(path, message)
    with pytest.raises(ModelFileError, match=re.escape(message)):
        model_info(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    assert_refused(path, "too short")


@pytest.mark.parametrize("keep", [1, 7, 8, 9, 40, 0.5, 0.9, -1])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    saved.write_bytes(data[:n])
    err = assert_refused(saved)
    assert any(w in str(err) for w in ("too short", "truncated", "not a valid safetensors"))


@pytest.mark.parametrize("where,pattern", [
    (lambda n: 8, "not a valid safetensors"),              # the '{' that opens the header
    (lambda n: 8 + n // 2, ""),                            # somewhere in the header JSON
    (lambda n: 0, ""),                                     # the header length itself
    (lambda n: 5, "claims"),                               # a high byte of the length
])
def test_flipped_bytes(saved, where, pattern):
    data = bytearray(saved.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    data[where(n)] ^= 0xFF
    saved.write_bytes(bytes(data))
    assert_refused(saved, pattern)


@pytest.mark.parametrize("claimed", [2**63 + 5, 2**60, 2**40, 10**6])
def test_huge_header_length_is_refused_from_the_file_size(saved, claimed):
    data = saved.read_bytes()
    saved.write_bytes(struct.pack("<Q", claimed) + data[8:])
    assert_refused(saved, f"claims {claimed} bytes", f"only {len(data) - 8}")


def test_header_longer_than_safetensors_allows(saved, monkeypatch):
    monkeypatch.setattr(hio, "MAX_HEADER_BYTES", 64)
    assert_refused(saved, "more than safetensors allows")


def test_file_larger_than_the_cap_is_not_read(saved, monkeypatch):
    monkeypatch.setattr(hio, "MAX_FILE_BYTES", 100)
    assert_refused(saved, "more than the 100")


def test_garbage_header_json(tmp_path):
    path = tmp_path / "bad.safetensors"
    body = b'{"__metadata__": {"handgrad": oops}}'
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    assert_refused(path, "not a valid safetensors")


def test_not_safetensors_at_all(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"W1": [1.0, 2.0]}))
    assert_refused(path)


# ----- refusals: crafted metadata and tensors ---------------------------------------------

def _set(key, value):
    def mutate(meta, tensors):
        meta[key] = value
    return mutate


def _drop_key(key):
    def mutate(meta, tensors):
        del meta[key]
    return mutate


def _tensor(name, fn):
    def mutate(meta, tensors):
        tensors[name] = fn(tensors[name])
    return mutate


def _drop_tensor(name):
    def mutate(meta, tensors):
        del tensors[name]
    return mutate


def _poke(name, value, index=0):
    def mutate(meta, tensors):
        arr = tensors[name].copy()
        arr.flat[index] = value
        tensors[name] = arr
    return mutate


def _all_f64(meta, tensors):
    for k in list(tensors):
        tensors[k] = tensors[k].astype(np.float64)


def _act(spec, layer=0):
    def mutate(meta, tensors):
        meta["activations"][layer] = spec
    return mutate


CORRUPTIONS = {
    "wrong format": (_set("format", "keras-model"), ["'format'", "handgrad-model"]),
    "format_version 99": (_set("format_version", 99),
                          ["format_version 99", "reads format_version 1", "update handgrad from its source"]),
    "format_version 0": (_set("format_version", 0), ["format_version 0 is not supported"]),
    "format_version str": (_set("format_version", "1"), ["format_version", "integer"]),
    "no sizes key": (_drop_key("sizes"), ["has no 'sizes'"]),
    "no record key": (_drop_key("record"), ["has no 'record'"]),
    "sizes too short": (_set("sizes", [4]), ["'sizes'"]),
    "sizes zero width": (_set("sizes", [4, 0, 5, 3]), ["'sizes'"]),
    "sizes not ints": (_set("sizes", [4, 6.5, 5, 3]), ["'sizes'"]),
    "sizes one class": (_set("sizes", [4, 6, 5, 1]), ["'sizes'"]),
    "sizes vs shapes": (_set("sizes", [4, 7, 5, 3]), ["tensor W1 has shape (4, 6)", "(4, 7)"]),
    "fewer layers": (_set("sizes", [4, 6, 3]), ["activations"]),
    "bad dtype": (_set("dtype", "float16"), ["'dtype'"]),
    "dtype mismatch": (_all_f64, ["dtype F64", "expected F32"]),
    "scaler dtype": (_tensor("scaler.mean", lambda a: a.astype(np.float32)),
                     ["scaler.mean", "dtype F32", "expected F64"]),
    "negative l2": (_set("l2", -0.5), ["'l2'"]),
    "string l2": (_set("l2", "0.1"), ["'l2'"]),
    "huge int l2": (_set("l2", 10**400), ["'l2'"]),
    "unknown activation": (_act({"name": "swishy", "params": {}}),
                           ["'swishy'", "unknown", "register_activation"]),
    "activation alias spelled": (_act({"name": "leaky_relu(alpha=0.5)", "params": {}}), ["unknown"]),
    "activation bad alpha": (_act({"name": "leaky_relu", "params": {"alpha": 5}}),
                             ["hidden layer 1", "alpha"]),
    "activation unknown param": (_act({"name": "relu", "params": {"beta": 1}}),
                                 ["hidden layer 1", "beta"]),
    "activation not a dict": (_act("relu", layer=1), ["hidden layer 2"]),
    "activation count": (_set("activations", [{"name": "relu", "params": {}}]),
                         ["one activation per hidden layer (2)"]),
    "too few classes": (_set("classes", ["a", "b"]), ["2 classes", "3 outputs"]),
    "too many classes": (_set("classes", ["a", "b", "c", "d"]), ["4 classes", "3 outputs"]),
    "duplicate classes": (_set("classes", ["a", "b", "a"]), ["duplicates"]),
    "classes kind mismatch": (_set("classes_kind", "int"), ["kind 'int'"]),
    "bool classes": (_set("classes", [True, False, True]), ["kind 'str'"]),
    "classes kind unknown": (_set("classes_kind", "object"), ["'classes_kind'"]),
    "classes not a list": (_set("classes", "abc"), ["classes", "3 outputs"]),
    "feature_names count": (_set("feature_names", ["a", "b"]), ["2 feature_names", "4 inputs"]),
    "feature_names types": (_set("feature_names", [1, 2, 3, 4]), ["'feature_names'"]),
    "preprocessing unknown": (_set("preprocessing", {"type": "minmax"}), ["'preprocessing'"]),
    "preprocessing dropped": (_set("preprocessing", None), ["unexpected tensor(s) scaler.mean"]),
    "record not an object": (_set("record", [1, 2]), ["'record'"]),
    "version not a string": (_set("handgrad_version", 1), ["'handgrad_version'"]),
    "missing bias": (_drop_tensor("b2"), ["missing tensor(s) b2"]),
    "missing scaler": (_drop_tensor("scaler.scale"), ["missing tensor(s) scaler.scale"]),
    "extra tensor": (lambda m, t: t.update(W9=np.zeros(3, np.float32)), ["unexpected tensor(s) W9"]),
    "transposed weight": (_tensor("W2", lambda a: np.ascontiguousarray(a.T)),
                          ["tensor W2 has shape (5, 6)", "expected (6, 5)"]),
    "bias as matrix": (_tensor("b3", lambda a: a.reshape(1, -1)), ["tensor b3 has shape (1, 3)"]),
    "NaN weight": (_poke("W2", np.nan, 7), ["tensor W2 contains NaN or inf"]),
    "inf bias": (_poke("b1", -np.inf), ["tensor b1 contains NaN or inf"]),
    "NaN scaler": (_poke("scaler.mean", np.nan), ["scaler.mean contains NaN or inf"]),
    "zero scale": (_poke("scaler.scale", 0.0, 2), ["scaler.scale must be > 0"]),
    "negative scale": (_poke("scaler.scale", -1.0), ["scaler.scale must be > 0"]),
    "scaler length": (_tensor("scaler.mean", lambda a: a[:3].copy()),
                      ["scaler.mean has shape (3,)", "expected (4,)"]),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_crafted_file_is_refused(saved, case):
    mutate, patterns = CORRUPTIONS[case]
    meta, tensors = read_parts(saved)
    mutate(meta, tensors)
    write_parts(saved, meta, tensors)
    assert_refused(saved, *patterns)


def test_crafted_files_are_loadable_without_the_mutation(saved):
    """The crafting itself (read_parts/write_parts) keeps a file valid: the refusals above
    come from the mutations, not from the way the files are rewritten."""
    model = load_model(saved)
    write_parts(saved, *read_parts(saved))
    assert load_model(saved).predict_proba(inputs()).tobytes() == model.predict_proba(inputs()).tobytes()


@pytest.mark.parametrize("metadata,pattern", [
    (None, "without handgrad metadata"),
    ({"other": "x"}, "without handgrad metadata"),
    ({"handgrad": "{oops"}, "not valid JSON"),
    ({"handgrad": "[1, 2]"}, "not a JSON object"),
    ({"handgrad": '{"format": "handgrad-model", "format_version": 1, "l2": NaN}'}, "not valid JSON"),
])
def test_missing_or_broken_handgrad_metadata(saved, metadata, pattern):
    _, tensors = read_parts(saved)
    saved.write_bytes(st_save(tensors, metadata=metadata))
    assert_refused(saved, pattern)


# ----- model_info ------------------------------------------------------------------------

def test_model_info(saved):
    model = load_model(saved)
    info = model_info(saved)
    meta, _ = read_parts(saved)
    assert info == {**meta, "n_params": model.net.n_params, "file_bytes": saved.stat().st_size}
    assert info["n_params"] == sum(a * b + b for a, b in zip(SIZES[:-1], SIZES[1:]))


@pytest.mark.parametrize("case", ["NaN weight", "format_version 99", "missing bias"])
def test_model_info_validates_like_load(saved, case):
    mutate, patterns = CORRUPTIONS[case]
    meta, tensors = read_parts(saved)
    mutate(meta, tensors)
    write_parts(saved, meta, tensors)
    with pytest.raises(ModelFileError) as info:
        model_info(saved)
    assert all(p.lower() in str(info.value).lower() for p in patterns)


# ----- properties: any bytes either load or give ModelFileError -------------------------

@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def valid_bytes(fuzz_dir):
    return save_model(make_model(dtype="float32", activation=["leaky_relu(alpha=0.2)", "tanh"],
                                 sizes=[3, 4, 3, 2]), fuzz_dir / "valid.safetensors").read_bytes()


def load_or_refuse(path, data: bytes):
    """The property: loading gives a consistent Model or a ModelFileError, nothing else."""
    path.write_bytes(data)
    try:
        model = load_model(path)
    except ModelFileError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return None
    assert isinstance(model, Model)
    assert model.classes.shape == (model.net.n_classes,)
    assert all(np.all(np.isfinite(p)) for p in model.net.params)
    return model


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def _length_prefixed(body: bytes, tail: bytes) -> bytes:
    return struct.pack("<Q", len(body)) + body + tail


arbitrary_files = st.one_of(
    st.binary(max_size=600),
    st.builds(_length_prefixed, st.binary(max_size=300), st.binary(max_size=64)),
    st.builds(_length_prefixed, json_values.map(lambda v: json.dumps(v).encode()),
              st.binary(max_size=64)),
)


@FUZZ
@given(data=arbitrary_files)
def test_arbitrary_bytes_load_or_raise_model_file_error(fuzz_dir, data):
    # none of these can hold handgrad metadata, so every one must be refused (cleanly)
    assert load_or_refuse(fuzz_dir / "arbitrary.safetensors", data) is None


mutation = st.tuples(st.sampled_from(["set", "xor", "delete", "insert", "truncate"]),
                     st.integers(min_value=0), st.integers(min_value=0, max_value=255))


def _mutate(data: bytes, mutations) -> bytes:
    buf = bytearray(data)
    for op, pos, byte in mutations:
        if not buf:
            break
        i = pos % len(buf)
        if op == "set":
            buf[i] = byte
        elif op == "xor":
            buf[i] ^= byte or 1
        elif op == "delete":
            del buf[i]
        elif op == "insert":
            buf.insert(i, byte)
        else:
            del buf[i:]
    return bytes(buf)


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_file_loads_or_raises_model_file_error(fuzz_dir, valid_bytes, mutations):
    mutated = _mutate(valid_bytes, mutations)
    model = load_or_refuse(fuzz_dir / "mutated.safetensors", mutated)
    if mutated == valid_bytes:
        assert model is not None


@FUZZ
@given(key=st.sampled_from(["format", "format_version", "handgrad_version", "sizes", "activations",
                            "dtype", "l2", "classes", "classes_kind", "feature_names",
                            "preprocessing", "record"]),
       value=json_values, drop=st.booleans())
def test_any_metadata_value_loads_or_raises_model_file_error(fuzz_dir, valid_bytes, key, value, drop):
    path = fuzz_dir / "meta.safetensors"
    path.write_bytes(valid_bytes)
    meta, tensors = read_parts(path)
    if drop:
        del meta[key]
    else:
        meta[key] = value
    model = load_or_refuse(path, write_parts(path, meta, tensors).read_bytes())
    if drop:
        assert model is None                                 # every key is required


# ----- an output never replaces an input (atomic.refuse_inputs: every writer, every command) --

def test_a_write_over_one_of_its_inputs_is_refused_by_name_link_or_hard_link(tmp_path):
    from handgrad import atomic

    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n")
    (tmp_path / "soft.csv").symlink_to("in.csv")
    os.link(src, tmp_path / "hard.csv")
    for target in ("in.csv", "soft.csv", "hard.csv"):
        with pytest.raises(InputError, match="is the input file"):
            atomic.atomic_write_bytes(tmp_path / target, b"x", inputs=[src])
    assert src.read_text() == "a,b\n1,2\n"
    atomic.atomic_write_bytes(tmp_path / "out.csv", b"x", inputs=[src, None])
    assert (tmp_path / "out.csv").read_bytes() == b"x"


def test_save_model_and_exports_refuse_their_own_model_file(saved, tmp_path):
    before = saved.read_bytes()
    with pytest.raises(InputError, match="is the input file"):
        save_model(load_model(saved), saved, inputs=[saved])
    pytest.importorskip("onnx")
    from handgrad.export import save_onnx

    with pytest.raises(InputError, match="is the input file"):
        save_onnx(str(saved), saved)
    assert saved.read_bytes() == before


@pytest.mark.parametrize("content, kind", [(b"sepal,species\n1,a\n", "text (it starts 'sepal,species')"),
                                           (b"PK\x03\x04" + b"\0" * 40, "zip archive"),
                                           (pickle.dumps([1, 2, 3]), "a Python pickle"),
                                           (b"\x1f\x8b\x08" + b"\0" * 40, "gzip data")])
def test_a_file_of_another_kind_is_named_not_read_as_a_header_length(tmp_path, content, kind):
    path = tmp_path / "m.safetensors"
    path.write_bytes(content)
    err = assert_refused(path, "not a model file", kind)
    assert "claims" not in str(err)
