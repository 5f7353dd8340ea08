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
     "preprocessing": {"type": "standardize"} | null,
     "record": {...}}

``activations`` has one entry per hidden layer (base name + parameters, see
:class:`~handgrad.activations.Activation`); a custom activation is stored by name and must be
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
import math
import os
import stat
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, deserialize
from safetensors.numpy import save as _st_save

from ..core.activations import Activation, available_activations, get_activation
from ..atomic import atomic_write_bytes
from ..errors import InputError
from .model import Model
from ..network import MLP
from ..data.preprocessing import Standardizer

FORMAT = "handgrad-model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
META_KEY = "handgrad"
SCALER_TENSORS = ("scaler.mean", "scaler.scale")

# A handgrad MLP is small; the cap keeps a bogus path (a disk image, /dev/zero's cousins)
# from being read into memory. 4 GiB is ~1e9 float32 parameters.
MAX_FILE_BYTES = 4 * 2**30
# The same cap safetensors' own parser applies to the JSON header.
MAX_HEADER_BYTES = 100_000_000

_DTYPE_CODES = {"float32": "F32", "float64": "F64"}          # net dtype -> safetensors code
_CODE_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_CLASS_KINDS = {"int": np.int64, "float": np.float64, "str": str}
_INT64 = np.iinfo(np.int64)


class ModelFileError(InputError):
    """A model file that cannot be loaded: missing, not safetensors, corrupt or inconsistent."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"cannot load model file {self.path}: {self.problem}")


# ===== saving ==============================================================================

def save_model(model: Model, path) -> Path:
    """Write ``model`` to ``path`` (a safetensors file) atomically; return the path.

    The file is first written in full to a temporary file next to the target and then renamed
    over it, so a crash or error never leaves a half-written model behind and an existing
    file at ``path`` survives any failure. Parent directories are created if missing.

    Raises:
        InputError: the model cannot be saved faithfully (NaN/inf weights, an unregistered
            activation, class labels or record values without a JSON form).
    """
    path = Path(path)
    data = model_to_bytes(model)  # everything that can be refused is refused before any I/O
    atomic_write_bytes(path, data)
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
    classes, kind = _classes_to_json(model.classes, net.n_classes)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "handgrad_version": __version__,
        "sizes": [int(s) for s in net.sizes],
        "activations": [_activation_to_json(a) for a in net.activations],
        "dtype": net.dtype.name,
        "l2": float(net.l2),
        "classes": classes,
        "classes_kind": kind,
        "feature_names": _feature_names_to_json(model.feature_names, net.sizes[0]),
        "preprocessing": None if model.scaler is None else {"type": "standardize"},
        "record": _json_safe(model.record if model.record is not None else {}, "record"),
    }


def _activation_to_json(act: Activation) -> dict[str, Any]:
    """``{"name", "params"}`` for an activation, checked to rebuild into the same activation
    here and now (otherwise the file could not be loaded even by this process)."""
    name = act.base or act.name
    try:
        params = {str(k): float(v) for k, v in act.params.items()}
        rebuilt = get_activation(name, **params)
    except (InputError, TypeError, ValueError):
        rebuilt = None
    if rebuilt is None or rebuilt.name != act.name:
        raise InputError(f"cannot save activation {act.name!r}: it cannot be rebuilt from its name, "
                         "so the file could not be loaded; register it with "
                         "handgrad.register_activation(name, f, fprime) and build the net by name")
    return {"name": name, "params": params}


def _classes_to_json(classes, n_classes: int) -> tuple[list, str]:
    values = np.asarray(classes).tolist()
    if not isinstance(values, list) or len(values) != n_classes:
        raise InputError(f"cannot save the model: need {n_classes} class labels, one per output")
    if all(isinstance(v, str) for v in values):
        kind = "str"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        kind = "int"
        if any(not _INT64.min <= v <= _INT64.max for v in values):
            raise InputError("cannot save the model: integer class labels must fit in int64")
    elif all(isinstance(v, float) and math.isfinite(v) for v in values):
        kind = "float"
    else:
        raise InputError(f"cannot save the model: class labels must be all ints, all finite floats "
                         f"or all strings, got {_short(values)}")
    if len(set(values)) != len(values):
        raise InputError(f"cannot save the model: class labels are not unique: {_short(values)}")
    if kind == "str" and not all(_is_unicode(v) for v in values):
        raise InputError(f"cannot save the model: class labels hold text that is not valid Unicode "
                         f"(a lone surrogate): {_short(values)}")
    return values, kind


def _feature_names_to_json(names, n_features: int) -> list[str] | None:
    if names is None:
        return None
    names = list(names)
    if len(names) != n_features or not all(isinstance(n, str) for n in names):
        raise InputError(f"cannot save the model: feature_names must be {n_features} strings")
    if not all(_is_unicode(n) for n in names):
        raise InputError("cannot save the model: feature_names hold text that is not valid Unicode "
                         f"(a lone surrogate): {_short(names)}")
    return names


def _json_safe(obj, where: str):
    """``obj`` with numpy values turned into Python ones and NaN/±inf into None, so that
    ``json.dumps(..., allow_nan=False)`` accepts it; anything else without a JSON form is
    refused (naming where it sits) rather than silently stringified."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist(), where)
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return _json_safe_dict(obj, where)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise InputError(f"cannot save the model: {where} is a {type(obj).__name__}, which has no JSON "
                     "form; keep numbers, strings, lists and dicts in the record")


def _json_safe_dict(obj: dict, where: str) -> dict:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(key, np.generic):
            key = key.item()
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise InputError(f"cannot save the model: {where} has a key {key!r}; JSON keys must be "
                             "strings (or integers, stored as strings)")
        skey = str(key)
        if skey in out:
            raise InputError(f"cannot save the model: {where} has two keys that both read {skey!r}")
        out[skey] = _json_safe(value, f"{where}[{skey!r}]")
    return out


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
    return {**meta, "n_params": model.net.n_params, "file_bytes": len(data)}


def _read_file(path: Path) -> bytes:
    """The file's bytes, refusing non-files and absurd sizes before reading anything."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ModelFileError(path, "not a regular file")
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


def _parse_safetensors(data: bytes, path) -> tuple[dict, dict[str, dict]]:
    """Split a safetensors file into its JSON header and ``{name: {dtype, shape, data}}``."""
    if len(data) < 8:
        raise ModelFileError(path, f"only {len(data)} bytes: too short to be a safetensors file "
                                   "(empty or truncated)")
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


def _handgrad_metadata(header: dict, path) -> dict[str, Any]:
    stored = header.get("__metadata__")
    text = stored.get(META_KEY) if isinstance(stored, dict) else None
    if not isinstance(text, str):
        raise ModelFileError(path, f"a safetensors file without handgrad metadata (no {META_KEY!r} "
                                   "key): not a handgrad model file")
    try:
        meta = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"the {META_KEY!r} metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(path, f"the {META_KEY!r} metadata is not a JSON object")
    return meta


def _reject_constant(name: str):
    """``json`` accepts NaN/Infinity by default; a handgrad file never contains them."""
    raise ValueError(f"{name} is not allowed")


# ----- metadata checks ---------------------------------------------------------------------

def _check_metadata(meta: dict, path) -> dict[str, Any]:
    """Validate the handgrad metadata; return the values needed to build the model."""
    _check_format(meta, path)
    sizes = _check_sizes(_field(meta, "sizes", path), path)
    dtype = _field(meta, "dtype", path)
    if not isinstance(dtype, str) or dtype not in _DTYPE_CODES:
        raise ModelFileError(path, f"'dtype' must be 'float32' or 'float64', got {_short(dtype)}")
    preprocessing = _field(meta, "preprocessing", path)
    if preprocessing not in (None, {"type": "standardize"}):
        raise ModelFileError(path, "'preprocessing' must be null or {\"type\": \"standardize\"}, "
                                   f"got {_short(preprocessing)}")
    record = _field(meta, "record", path)
    if not isinstance(record, dict):
        raise ModelFileError(path, f"'record' must be a JSON object, got {_short(record)}")
    if not isinstance(_field(meta, "handgrad_version", path), str):
        raise ModelFileError(path, "'handgrad_version' must be a string")
    return {
        "sizes": sizes,
        "activations": _check_activations(_field(meta, "activations", path), len(sizes) - 2, path),
        "dtype": dtype,
        "l2": _check_l2(_field(meta, "l2", path), path),
        "classes": _check_classes(meta, sizes[-1], path),
        "feature_names": _check_feature_names(_field(meta, "feature_names", path), sizes[0], path),
        "scaler": preprocessing is not None,
        "record": record,
    }


def _field(meta: dict, key: str, path):
    if key not in meta:
        raise ModelFileError(path, f"the metadata has no {key!r}")
    return meta[key]


def _check_format(meta: dict, path) -> None:
    from .._version import __version__

    if meta.get("format") != FORMAT:
        raise ModelFileError(path, f"metadata 'format' is {_short(meta.get('format'))}, "
                                   f"expected {FORMAT!r}: not a handgrad model file")
    version = _field(meta, "format_version", path)
    if not _is_int(version):
        raise ModelFileError(path, f"'format_version' must be an integer, got {_short(version)}")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        hint = ("; it was written by a newer handgrad: upgrade handgrad (pip install -U handgrad)"
                if version > max(SUPPORTED_VERSIONS) else "")
        raise ModelFileError(path, f"format_version {version} is not supported; handgrad "
                                   f"{__version__} reads format_version {supported}{hint}")


def _check_sizes(sizes, path) -> list[int]:
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(s) and s >= 1 for s in sizes)
            and sizes[-1] >= 2):
        raise ModelFileError(path, "'sizes' must be a list of at least 2 layer widths ≥ 1, the "
                                   f"last (the number of classes) ≥ 2; got {_short(sizes)}")
    return sizes


def _check_l2(l2, path) -> float:
    if not (_is_number(l2) and l2 >= 0):
        raise ModelFileError(path, f"'l2' must be a finite number ≥ 0, got {_short(l2)}")
    return float(l2)


def _check_activations(specs, n_hidden: int, path) -> list[Activation]:
    if not isinstance(specs, list) or len(specs) != n_hidden:
        raise ModelFileError(path, f"'activations' must list one activation per hidden layer "
                                   f"({n_hidden}), got {_short(specs)}")
    return [_check_activation(spec, layer, path) for layer, spec in enumerate(specs, start=1)]


def _check_activation(spec, layer: int, path) -> Activation:
    if not (isinstance(spec, dict) and isinstance(spec.get("name"), str)
            and isinstance(spec.get("params"), dict)
            and all(_is_number(v) for v in spec["params"].values())):
        raise ModelFileError(path, f"activation of hidden layer {layer} must be "
                                   f"{{\"name\": str, \"params\": {{str: number}}}}, got {_short(spec)}")
    name = spec["name"]
    if name not in available_activations():
        raise ModelFileError(path, f"hidden layer {layer} uses activation {_short(name)}, which is "
                                   "unknown here; if it is a custom activation, register it with "
                                   f"handgrad.register_activation({_short(name)}, f, fprime) "
                                   "before loading")
    try:
        return get_activation(name, **spec["params"])
    except InputError as exc:
        raise ModelFileError(path, f"activation of hidden layer {layer}: {exc}") from None


def _check_classes(meta: dict, n_classes: int, path) -> np.ndarray:
    classes = _field(meta, "classes", path)
    kind = _field(meta, "classes_kind", path)
    if not isinstance(kind, str) or kind not in _CLASS_KINDS:
        raise ModelFileError(path, f"'classes_kind' must be one of {sorted(_CLASS_KINDS)}, "
                                   f"got {_short(kind)}")
    if not isinstance(classes, list) or len(classes) != n_classes:
        count = len(classes) if isinstance(classes, list) else "no list of"
        raise ModelFileError(path, f"{count} classes for a network with {n_classes} outputs "
                                   "(sizes[-1]); need one class label per output")
    if not all(_is_class_label(c, kind) for c in classes):
        raise ModelFileError(path, f"'classes' must all be of kind {kind!r}, got {_short(classes)}")
    if kind == "str" and not all(_is_unicode(c) for c in classes):
        raise ModelFileError(path, f"'classes' holds text that is not valid Unicode (a lone "
                                   f"surrogate): {_short(classes)}")
    if len(set(classes)) != len(classes):
        raise ModelFileError(path, f"'classes' has duplicates: {_short(classes)}")
    converted = np.array(classes, dtype=_CLASS_KINDS[kind])
    # a label must read back as itself: numpy strings drop trailing NUL characters ("a\0" would
    # become "a") and a float64 rounds integers beyond 2**53 (2**53 + 1 would become 2**53),
    # which could make two classes one and mislabel every prediction of the other
    changed = [(c, v) for c, v in zip(classes, converted.tolist()) if c != v]
    if changed:
        original, became = changed[0]
        raise ModelFileError(path, f"class label {_short(original, 40)} cannot be held as a "
                                   f"{kind!r} label (it would read as {_short(became, 40)})")
    return converted


def _is_class_label(value, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return _is_int(value) and _INT64.min <= value <= _INT64.max
    return _is_number(value)


def _check_feature_names(names, n_features: int, path) -> list[str] | None:
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFileError(path, f"'feature_names' must be null or a list of strings, "
                                   f"got {_short(names)}")
    if not all(_is_unicode(n) for n in names):
        raise ModelFileError(path, f"'feature_names' holds text that is not valid Unicode (a lone "
                                   f"surrogate): {_short(names)}")
    if len(names) != n_features:
        raise ModelFileError(path, f"{len(names)} feature_names for a network with {n_features} "
                                   "inputs (sizes[0])")
    return names


# ----- tensor checks -----------------------------------------------------------------------

def _expected_tensors(spec: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (safetensors dtype code, shape)}`` that the metadata implies."""
    sizes, code = spec["sizes"], _DTYPE_CODES[spec["dtype"]]
    expected = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        expected[f"W{layer}"] = (code, (n_in, n_out))
        expected[f"b{layer}"] = (code, (n_out,))
    if spec["scaler"]:
        for name in SCALER_TENSORS:
            expected[name] = ("F64", (sizes[0],))
    return expected


def _check_tensors(raw: dict[str, dict], spec: dict, path) -> dict[str, np.ndarray]:
    """Names, dtypes, shapes and values of the tensors -> native-endian numpy arrays."""
    expected = _expected_tensors(spec)
    missing = [n for n in expected if n not in raw]
    extra = sorted(n for n in raw if n not in expected)
    if missing or extra:
        parts = ([f"missing tensor(s) {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected tensor(s) {_names(extra)}"] if extra else [])
        raise ModelFileError(path, "; ".join(parts) + f" for sizes {spec['sizes']}")
    arrays = {}
    for name, (code, shape) in expected.items():
        info = raw[name]
        if info["dtype"] != code:
            raise ModelFileError(path, f"tensor {name} has dtype {info['dtype']}, expected {code} "
                                       f"(metadata dtype {spec['dtype']})")
        if tuple(info["shape"]) != shape:
            raise ModelFileError(path, f"tensor {name} has shape {tuple(info['shape'])}, expected "
                                       f"{shape} from sizes {spec['sizes']}")
        arr = np.frombuffer(info["data"], dtype=_CODE_DTYPES[code]).reshape(shape)
        arrays[name] = arr.astype(arr.dtype.newbyteorder("="))  # native order, writable copy
        if not np.all(np.isfinite(arrays[name])):
            raise ModelFileError(path, f"tensor {name} contains NaN or inf")
    if spec["scaler"] and np.any(arrays["scaler.scale"] <= 0):
        raise ModelFileError(path, "tensor scaler.scale must be > 0 everywhere (it divides the "
                                   "features)")
    return arrays


def _build_model(spec: dict, arrays: dict[str, np.ndarray], path) -> Model:
    try:
        net = MLP(spec["sizes"], activation=spec["activations"], l2=spec["l2"],
                  dtype=spec["dtype"], seed=0)
        net.seed = None  # seed 0 only drew throw-away initial weights; the record has the real one
        net.set_params([arrays[name] for name in net.param_names])
        scaler = (Standardizer(arrays["scaler.mean"], arrays["scaler.scale"])
                  if spec["scaler"] else None)
        return Model(net, spec["classes"], scaler, spec["feature_names"], spec["record"])
    except InputError as exc:  # everything was checked above; this is a last line of defence
        raise ModelFileError(path, str(exc)) from None


# ----- small helpers -----------------------------------------------------------------------

def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be written out as UTF-8: JSON's ``"\\ud800"`` decodes to a lone
    surrogate, which would only fail later, when a prediction is printed or saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _names(names: list[str], limit: int = 8) -> str:
    """A readable list of tensor names, cut short: a corrupt file can hold thousands."""
    shown = ", ".join(_short(n, 40)[1:-1] or "''" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _is_number(value) -> bool:
    """A finite JSON number (not a bool; an int too large for a float is not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _short(value, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: corrupt files can hold huge values."""
    try:
        text = repr(value)
    except RecursionError:
        return "<a deeply nested value>"
    return text if len(text) <= limit else text[:limit - 3] + "..."
