"""A model's parts in JSON form for the file's metadata, refusing what has no faithful form."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..core.activations import Activation, get_activation
from ..errors import InputError
from .format import _INT64, _is_unicode, _short


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


def _head_to_json(net) -> dict[str, Any]:
    """``{"name", "params"}`` of a regression network's head (huber: its threshold δ)."""
    params = {"delta": float(net.huber_delta)} if net.output == "huber" else {}
    return {"name": net.output, "params": params}


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
