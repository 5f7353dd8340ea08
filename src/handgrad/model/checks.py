"""Everything a model file claims, checked before a model is built from it: the metadata's
fields, the activations, the classes, the feature names and every tensor's name, dtype, shape
and values. Each refusal is a :class:`ModelFileError` naming the problem in one line."""

# size: about 350 lines — one checklist a model file passes, field by field in the order the
# file holds them; split, a reader auditing "can a hostile file get past this?" would follow
# the checks across files.

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..core.activations import Activation, available_activations, get_activation
from ..data.features import TableEncoder
from ..data.preprocessing import Standardizer
from ..data.target_scaling import TargetScaler
from ..errors import InputError
from ..layout import Layout
from ..core.heads import REGRESSION_HEADS
from ..network import MLP
from .format import (CALIBRATED_FORMAT_VERSION, ENSEMBLE_FORMAT_VERSION, FORMAT, META_KEY, REGRESSION_FORMAT_VERSION, SCALER_TENSORS,
                     SUPPORTED_VERSIONS,
                     _CLASS_KINDS, _CODE_DTYPES, _DTYPE_CODES, _INT64, ModelFileError, _field, _is_int,
                     _is_number, _is_unicode, _names, _short)
from .model import Model


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
    version = _check_format(meta, path)
    regression = version >= REGRESSION_FORMAT_VERSION and meta.get("task") == "regression"
    # format 4 is an ensemble's; format 5 (a calibrated classifier) may be one or not
    ensemble = version == ENSEMBLE_FORMAT_VERSION or (version >= CALIBRATED_FORMAT_VERSION and "members" in meta)
    if version >= REGRESSION_FORMAT_VERSION and meta.get("task") not in ("regression", "classification"):
        raise ModelFileError(path, f"'task' must be 'classification' or 'regression', got {_short(meta.get('task'))}")
    sizes = _check_sizes(_field(meta, "sizes", path), path, regression)
    dtype = _field(meta, "dtype", path)
    if not isinstance(dtype, str) or dtype not in _DTYPE_CODES:
        raise ModelFileError(path, f"'dtype' must be 'float32' or 'float64', got {_short(dtype)}")
    preprocessing = _field(meta, "preprocessing", path)
    encoder = _check_table_encoding(preprocessing, sizes[0], path)
    if encoder is None and preprocessing not in (None, {"type": "standardize"}):
        raise ModelFileError(path, "'preprocessing' must be null, {\"type\": \"standardize\"} or "
                                   f"{{\"type\": \"table\", \"encoder\": ...}}, got {_short(preprocessing)}")
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
        **(_check_regression(meta, sizes[-1], path) if regression else
           {"classes": _check_classes(meta, sizes[-1], path), "head": {"output": "softmax"},
            "target": None, "target_names": None}),
        "feature_names": _check_feature_names(_field(meta, "feature_names", path), sizes[0], path),
        "scaler": preprocessing == {"type": "standardize"},
        "encoder": encoder,
        "record": record,
        **(_check_members(meta, sizes, path) if ensemble else {"members": [], "member_weights": None}),
        **(_check_calibration(meta, regression, sizes[-1], path) if version >= CALIBRATED_FORMAT_VERSION
           else {"temperature": 1.0, "threshold": None}),
    }


def _check_calibration(meta: dict, regression: bool, n_out: int, path) -> dict[str, Any]:
    """A classifier's temperature and two-class threshold (format 5), checked."""
    c = _field(meta, "calibration", path)
    if not isinstance(c, dict) or set(c) != {"temperature", "threshold"}:
        raise ModelFileError(path, f"'calibration' must be {{\"temperature\": T, \"threshold\": t or null}}, "
                                   f"got {_short(c)}")
    T, t = c["temperature"], c["threshold"]
    if regression or isinstance(T, bool) or not isinstance(T, (int, float)) or not 0 < T < math.inf:
        raise ModelFileError(path, f"'calibration' temperature must be a number > 0 of a classifier, got {_short(T)}")
    if t is not None and (n_out != 2 or isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1):
        raise ModelFileError(path, f"'calibration' threshold must be null or, for two classes, a number in "
                                   f"(0, 1), got {_short(t)}")
    return {"temperature": float(T), "threshold": None if t is None else float(t)}


def _check_regression(meta: dict, n_outputs: int, path) -> dict[str, Any]:
    """A regressor's head, target scaling and target names (format 3), checked."""
    if meta.get("classes") is not None or meta.get("classes_kind") is not None:
        raise ModelFileError(path, "a regression model has no classes ('classes' and 'classes_kind' must be null)")
    head = _field(meta, "head", path)
    name = head.get("name") if isinstance(head, dict) else None
    params = head.get("params") if isinstance(head, dict) else None
    if name not in REGRESSION_HEADS or not isinstance(params, dict) or set(head) != {"name", "params"}:
        raise ModelFileError(path, f"'head' must be {{\"name\": one of {', '.join(REGRESSION_HEADS)}, "
                                   f"\"params\": {{...}}}}, got {_short(head)}")
    wanted = {"delta"} if name == "huber" else set()
    if set(params) != wanted or not all(_is_number(v) and v > 0 for v in params.values()):
        raise ModelFileError(path, f"head {name!r} takes the parameters {sorted(wanted) or 'none'} "
                                   f"(finite, > 0), got {_short(params)}")
    target = _field(meta, "target", path)
    if target is not None:
        try:
            target = TargetScaler.from_json(target, n_outputs)
        except InputError as exc:
            raise ModelFileError(path, str(exc)) from None
    return {"classes": None, "target": target,
            "head": {"output": name, **({"huber_delta": float(params["delta"])} if name == "huber" else {})},
            "target_names": _check_feature_names(_field(meta, "target_names", path), n_outputs, path,
                                                 "target_names", "outputs (sizes[-1])")}


def _check_members(meta: dict, sizes: list[int], path) -> dict[str, Any]:
    """An ensemble's other networks ({sizes, activations, l2} each: the input width and
    outputs of member 0) and the weights of all (format 4), checked."""
    members = _field(meta, "members", path)
    if not isinstance(members, list) or not members:
        raise ModelFileError(path, f"'members' must list the ensemble's other networks, got {_short(members)}")
    specs = []
    for k, m in enumerate(members, start=1):
        if not (isinstance(m, dict) and set(m) == {"sizes", "activations", "l2"}):
            raise ModelFileError(path, f"member {k} must be {{\"sizes\", \"activations\", \"l2\"}}, got {_short(m)}")
        msizes = _check_sizes(m["sizes"], path, regression=True)
        if msizes[0] != sizes[0] or msizes[-1] != sizes[-1]:
            raise ModelFileError(path, f"member {k} has sizes {msizes}: its input width and outputs must be "
                                       f"those of member 0 ({sizes[0]} and {sizes[-1]})")
        specs.append({"sizes": msizes, "l2": _check_l2(m["l2"], path),
                      "activations": _check_activations(m["activations"], len(msizes) - 2, path)})
    weights = _field(meta, "member_weights", path)
    if not (isinstance(weights, list) and len(weights) == len(specs) + 1
            and all(_is_number(w) and w >= 0 for w in weights) and abs(sum(weights) - 1) < 1e-9):
        raise ModelFileError(path, f"'member_weights' must be {len(specs) + 1} numbers ≥ 0 summing to 1, "
                                   f"got {_short(weights)}")
    return {"members": specs, "member_weights": np.asarray(weights, dtype=np.float64)}


def _check_table_encoding(preprocessing, n_inputs: int, path) -> TableEncoder | None:
    """The :class:`TableEncoder` of ``{"type": "table", "encoder": {...}}``, checked to give
    exactly the network's ``n_inputs`` columns; None for other preprocessing."""
    if not (isinstance(preprocessing, dict) and preprocessing.get("type") == "table"):
        return None
    if set(preprocessing) != {"type", "encoder"}:
        raise ModelFileError(path, "'preprocessing' of type table must hold exactly 'type' and 'encoder'")
    try:
        encoder = TableEncoder.from_json(preprocessing["encoder"])
    except InputError as exc:
        raise ModelFileError(path, str(exc)) from None
    if len(encoder.feature_names_out_) != n_inputs:
        raise ModelFileError(path, f"the table encoding gives {len(encoder.feature_names_out_)} "
                                   f"columns but the network takes {n_inputs}")
    return encoder


def _check_format(meta: dict, path) -> int:
    from .._version import __version__

    if meta.get("format") != FORMAT:
        raise ModelFileError(path, f"metadata 'format' is {_short(meta.get('format'))}, "
                                   f"expected {FORMAT!r}: not a handgrad model file")
    version = _field(meta, "format_version", path)
    if not _is_int(version):
        raise ModelFileError(path, f"'format_version' must be an integer, got {_short(version)}")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        hint = ("; it was written by a newer handgrad: update handgrad from its source (git pull, "
                "then pip install . in handgrad's folder; no handgrad package is published)"
                if version > max(SUPPORTED_VERSIONS) else "")
        raise ModelFileError(path, f"format_version {version} is not supported; handgrad "
                                   f"{__version__} reads format_version {supported}{hint}")
    return version


def _check_sizes(sizes, path, regression: bool = False) -> list[int]:
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(s) and s >= 1 for s in sizes)
            and (regression or sizes[-1] >= 2)):
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


def _check_feature_names(names, n_features: int, path, field: str = "feature_names",
                         what: str = "inputs (sizes[0])") -> list[str] | None:
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFileError(path, f"'{field}' must be null or a list of strings, "
                                   f"got {_short(names)}")
    if not all(_is_unicode(n) for n in names):
        raise ModelFileError(path, f"'{field}' holds text that is not valid Unicode (a lone "
                                   f"surrogate): {_short(names)}")
    if len(names) != n_features:
        raise ModelFileError(path, f"{len(names)} {field} for a network with {n_features} {what}")
    return names


# ----- tensor checks -----------------------------------------------------------------------

def _expected_tensors(spec: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (safetensors dtype code, shape)}`` that the metadata implies."""
    sizes, code = spec["sizes"], _DTYPE_CODES[spec["dtype"]]
    expected = {}
    for prefix, net_sizes in [("", sizes), *((f"m{k}.", m["sizes"]) for k, m in enumerate(spec["members"], 1))]:
        for layer, (n_in, n_out) in enumerate(zip(net_sizes[:-1], net_sizes[1:]), start=1):
            expected[f"{prefix}W{layer}"] = (code, (n_in, n_out))
            expected[f"{prefix}b{layer}"] = (code, (n_out,))
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
        net = MLP(spec["sizes"], activation=spec["activations"], l2=spec["l2"], dtype=spec["dtype"],
                  seed=None, params=[arrays[name] for name in Layout(spec["sizes"]).param_names], **spec["head"])
        scaler = (Standardizer(arrays["scaler.mean"], arrays["scaler.scale"])
                  if spec["scaler"] else None)
        members = []
        for k, m in enumerate(spec["members"], start=1):
            member = MLP(m["sizes"], activation=m["activations"], l2=m["l2"], dtype=spec["dtype"], seed=None,
                         params=[arrays[f"m{k}.{name}"] for name in Layout(m["sizes"]).param_names], **spec["head"])
            members.append(member)
        return Model(net, spec["classes"], scaler, spec["feature_names"], spec["record"],
                     encoder=spec["encoder"], target=spec["target"], target_names=spec["target_names"],
                     members=members, member_weights=spec["member_weights"],
                     temperature=spec["temperature"], threshold=spec["threshold"])
    except InputError as exc:  # everything was checked above; this is a last line of defence
        raise ModelFileError(path, str(exc)) from None
