"""Model files: save, load and inspect a :class:`~handgrad.model.Model`, without pickle.

A model file is one `safetensors <https://github.com/huggingface/safetensors>`_ file: an
8-byte little-endian header length, a JSON header, then the raw little-endian tensor data.
Nothing in it is executable, so loading a file from an untrusted source cannot run code.

Tensors:

* ``W1, b1, ..., WL, bL``: the weights and biases, in the network's dtype;
* ``scaler.mean``, ``scaler.scale`` (float64, shape ``(n_features,)``): only when the model
  standardises its inputs.

The safetensors metadata holds one key, ``"handgrad"``, whose value is a JSON object::

    {"format": "handgrad-model", "format_version": 1, "handgrad_version": "0.1.0",
     "sizes": [4, 16, 3], "activations": [{"name": "leaky_relu", "params": {"alpha": 0.2}}],
     "dtype": "float32", "l2": 0.0001,
     "classes": ["setosa", "versicolor", "virginica"], "classes_kind": "str",
     "feature_names": ["sepal length", ...] | null,
     "preprocessing": {"type": "standardize"} | {"type": "table", "encoder": {...}} | null,
     "record": {...}}

An ensemble (``format_version`` 4) adds ``"task"``, ``"members": [{"sizes", "activations",
"l2"}, ...]`` (its networks after the first, whose tensors are ``m1.W1``, ``m1.b1``, …) and
``"member_weights"`` (over all its networks, summing to 1). A classifier with a temperature or a
two-class threshold (``format_version`` 5) adds ``"task"`` and ``"calibration": {"temperature": T,
"threshold": t | null}``.

A regressor (``format_version`` 3) has ``"classes": null, "classes_kind": null`` and adds
``"task": "regression"``, ``"head": {"name": "identity" | "huber" | "exp", "params": {...}}``
(huber: ``{"delta": δ}``), ``"target": {"kind", "mean", "scale"} | null`` (the target scaling,
:class:`~handgrad.data.target_scaling.TargetScaler`; null: outputs are in the target's units) and
``"target_names": [...] | null``.

``activations`` has one entry per hidden layer (base name + parameters, see
:class:`~handgrad.core.activations.Activation`); a custom activation is stored by name and must be
registered again (:func:`~handgrad.register_activation`) before the file can be loaded.
``classes_kind`` is ``"int"``, ``"float"`` or ``"str"`` and gives the dtype of the loaded
``classes`` (int64, float64 or str). ``record`` is the training record made JSON-safe
(numpy values become Python values, NaN and ±inf become null).

:func:`load_model` validates everything before building the model and refuses a bad file
with :class:`ModelFileError` (an :class:`~handgrad.errors.InputError`), whose one-line
message names the file and the problem.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, deserialize
from safetensors.numpy import save as _st_save

from ..atomic import atomic_write_bytes, file_kind
from ..errors import InputError
from .checks import _build_model, _check_metadata, _check_tensors, _handgrad_metadata
from .encode import (_activation_to_json, _classes_to_json, _feature_names_to_json, _head_to_json,
                     _json_safe)
from .format import (CALIBRATED_FORMAT_VERSION, ENSEMBLE_FORMAT_VERSION, FORMAT, FORMAT_VERSION, MAX_FILE_BYTES, MAX_HEADER_BYTES,
                     META_KEY, REGRESSION_FORMAT_VERSION, SCALER_TENSORS, TABLE_FORMAT_VERSION,
                     ModelFileError)
from .model import Model


# ===== saving ==============================================================================

def save_model(model: Model, path, inputs=()) -> Path:
    """Write ``model`` to ``path`` (a safetensors file) atomically; return the path.

    The file is first written in full to a temporary file next to the target and then renamed
    over it, so a crash or error never leaves a half-written model behind and an existing
    file at ``path`` survives any failure. Parent directories are created if missing.
    ``inputs``: the files the model was made from, which ``path`` must not be
    (:func:`handgrad.atomic.refuse_inputs`).

    Raises:
        InputError: the model cannot be saved faithfully (NaN/inf weights, an unregistered
            activation, class labels or record values without a JSON form).
    """
    path = Path(path)
    data = model_to_bytes(model)  # everything that can be refused is refused before any I/O
    atomic_write_bytes(path, data, inputs=inputs)
    return path


def model_to_bytes(model: Model) -> bytes:
    """The bytes of the model file for ``model`` (what :func:`save_model` writes)."""
    tensors = _tensors_of(model)
    meta = json.dumps(_metadata_of(model), sort_keys=True, allow_nan=False)
    return _st_save(tensors, metadata={META_KEY: meta})


def _tensors_of(model: Model) -> dict[str, np.ndarray]:
    net = model.net
    tensors = {name: np.ascontiguousarray(p, dtype=net.dtype)
               for name, p in zip(net.param_names, net.params)}
    for k, member in enumerate(model.members, start=1):  # an ensemble's other networks
        tensors.update({f"m{k}.{name}": np.ascontiguousarray(p, dtype=net.dtype)
                        for name, p in zip(member.param_names, member.params)})
    if model.scaler is not None:
        mean, scale = model.scaler.mean, model.scaler.scale
        if mean is None or scale is None:
            raise InputError("cannot save the model: its standardizer has not been fitted")
        tensors["scaler.mean"] = np.ascontiguousarray(mean, dtype=np.float64)
        tensors["scaler.scale"] = np.ascontiguousarray(scale, dtype=np.float64)
        for name in SCALER_TENSORS:
            if tensors[name].shape != (net.sizes[0],):
                raise InputError(f"cannot save the model: {name} has shape {tensors[name].shape}, "
                                 f"expected ({net.sizes[0]},) for {net.sizes[0]} features")
        if np.any(tensors["scaler.scale"] <= 0):
            raise InputError("cannot save the model: scaler.scale must be > 0 everywhere")
    for name, arr in tensors.items():
        if not np.all(np.isfinite(arr)):
            raise InputError(f"cannot save the model: {name} contains NaN or inf "
                             "(did training diverge? try a smaller learning rate)")
    return tensors


def _metadata_of(model: Model) -> dict[str, Any]:
    from .._version import __version__  # lazy: handgrad/__init__ may import this module

    net = model.net
    if model.is_regressor:
        classes, kind = None, None
        version = REGRESSION_FORMAT_VERSION
    else:
        classes, kind = _classes_to_json(model.classes, net.n_classes)
        version = FORMAT_VERSION if model.encoder is None else TABLE_FORMAT_VERSION
    meta = {
        "format": FORMAT,
        "format_version": version,
        "handgrad_version": __version__,
        "sizes": [int(s) for s in net.sizes],
        "activations": [_activation_to_json(a) for a in net.activations],
        "dtype": net.dtype.name,
        "l2": float(net.l2),
        "classes": classes,
        "classes_kind": kind,
        "feature_names": _feature_names_to_json(model.feature_names, net.sizes[0]),
        "preprocessing": ({"type": "table", "encoder": model.encoder.to_json()} if model.encoder
                          else None if model.scaler is None else {"type": "standardize"}),
        "record": _json_safe(model.record if model.record is not None else {}, "record"),
    }
    if model.is_regressor:  # format 3: what a regressor adds (older handgrad refuses the file)
        meta.update(task="regression", head=_head_to_json(net),
                    target=None if model.target is None else model.target.to_json(),
                    target_names=_feature_names_to_json(model.target_names, net.n_outputs))
    if model.members:  # format 4: an ensemble's other networks and the weights of all
        meta.update(format_version=ENSEMBLE_FORMAT_VERSION, task=model.task,
                    members=[{"sizes": [int(n) for n in m.sizes], "l2": float(m.l2),
                              "activations": [_activation_to_json(a) for a in m.activations]}
                             for m in model.members],
                    member_weights=[float(w) for w in model.weights])
    if model.temperature != 1 or model.threshold is not None:  # format 5: older readers would ignore them
        meta.update(format_version=CALIBRATED_FORMAT_VERSION, task=model.task,
                    calibration={"temperature": float(model.temperature),
                                 "threshold": None if model.threshold is None else float(model.threshold)})
    return meta


# ===== loading =============================================================================

def load_model(path) -> Model:
    """Read a model file written by :func:`save_model`.

    The loaded model predicts bit-identically to the saved one. Every part of the file is
    checked first; a missing, truncated, corrupt, inconsistent or newer-format file raises
    :class:`ModelFileError` saying what is wrong.
    """
    path = Path(path)
    return _decode(_read_file(path), path)[0]


def model_from_bytes(data: bytes, source: str = "<bytes>") -> Model:
    """:func:`load_model` for the bytes of a model file; ``source`` names it in errors."""
    return _decode(bytes(data), source)[0]


def model_info(path) -> dict[str, Any]:
    """The metadata of a model file plus ``n_params`` and ``file_bytes``, after validating the
    whole file exactly as :func:`load_model` does (a file ``info`` accepts also loads)."""
    path = Path(path)
    data = _read_file(path)
    model, meta = _decode(data, path)
    # an ensemble's parameters are those of all its networks
    return {**meta, "n_params": sum(net.n_params for net in model.networks), "file_bytes": len(data)}


def _read_file(path: Path) -> bytes:
    """The file's bytes, refusing non-files and absurd sizes before reading anything."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever;
        # the type is then checked on what was opened (no race with a swapped path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise ModelFileError(path, "it is a directory, not a model file")
            if not stat.S_ISREG(info.st_mode):
                raise ModelFileError(path, f"it is {file_kind(info.st_mode)}, not a model file; "
                                           "give the path of a .safetensors file")
            if hasattr(os, "set_blocking"):
                os.set_blocking(f.fileno(), True)
            if info.st_size > MAX_FILE_BYTES:
                raise ModelFileError(path, f"the file has {info.st_size} bytes, more than the "
                                           f"{MAX_FILE_BYTES} a handgrad model file may have")
            data = f.read(info.st_size)
            if len(data) != info.st_size or f.read(1):
                raise ModelFileError(path, "the file changed while it was being read; try again")
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "it is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:  # open() refuses a path with a NUL character in it
        raise ModelFileError(repr(str(path)), f"not a usable file path ({exc})") from None
    return data


def _decode(data: bytes, path) -> tuple[Model, dict[str, Any]]:
    """Bytes -> (validated Model, the handgrad metadata as stored)."""
    header, raw = _parse_safetensors(data, path)
    meta = _handgrad_metadata(header, path)
    spec = _check_metadata(meta, path)
    arrays = _check_tensors(raw, spec, path)
    return _build_model(spec, arrays, path), meta


_MAGIC = ((b"PK\x03\x04", "a zip archive (a .skops file is one: handgrad import-sklearn reads it)"),
          (b"\x1f\x8b", "gzip data"), (b"\x80", "a Python pickle"), (b"PAR1", "a Parquet table"),
          (b"\x89PNG", "a PNG image"), (b"\x08\x01\x12", "an ONNX model (export writes it, handgrad reads "
                                                        "its own .safetensors files)"))


def _kind_of(data: bytes) -> str | None:
    """What a file that is no safetensors file seems to hold, from its first bytes (for a
    message), or None when they say nothing."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    head, text = data[:64], None
    for cut in range(4):  # a character cut at byte 64 is no reason to call it binary
        try:
            text = head[:len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    if text and all(c.isprintable() or c in "\t\r\n" for c in text[:9]):
        first = text.splitlines()[0] if text.strip() else text
        return f"text (it starts {first[:40]!r}), as a CSV table or another text file does"
    return None


def _parse_safetensors(data: bytes, path) -> tuple[dict, dict[str, dict]]:
    """Split a safetensors file into its JSON header and ``{name: {dtype, shape, data}}``."""
    if len(data) < 8:
        raise ModelFileError(path, f"only {len(data)} bytes: too short to be a safetensors file "
                                   "(empty or truncated)")
    if len(data) > 8 and data[8:9] != b"{":  # the JSON header opens right after its length
        kind = _kind_of(data)
        if kind:
            raise ModelFileError(path, f"not a model file: it holds {kind}; give a .safetensors model "
                                       "file written by handgrad")
        raise ModelFileError(path, "not a valid safetensors file: no JSON header follows the 8-byte "
                                   "header length (the file is damaged or in another format)")
    (n_header,) = struct.unpack("<Q", data[:8])
    # Check the claimed header length against what is really there before anything uses it:
    # a corrupt length must give an error, never an attempt at a huge allocation.
    if n_header > len(data) - 8:
        raise ModelFileError(path, f"the header claims {n_header} bytes but only {len(data) - 8} "
                                   "follow: the file is truncated or not a safetensors file")
    if n_header > MAX_HEADER_BYTES:
        raise ModelFileError(path, f"the header claims {n_header} bytes, more than safetensors "
                                   f"allows ({MAX_HEADER_BYTES}): not a valid safetensors file")
    try:
        raw = dict(deserialize(data))  # validates offsets, dtypes, shapes, coverage
    except SafetensorError as exc:
        raise ModelFileError(path, f"not a valid safetensors file or corrupt ({exc})") from None
    try:
        header = json.loads(data[8:8 + n_header].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"the safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "the safetensors header is not a JSON object")
    return header, raw
