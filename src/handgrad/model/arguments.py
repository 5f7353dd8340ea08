"""The arguments of :func:`~handgrad.model.classifier.train_model` (``train_classifier``,
``train_regressor``) checked at the door, as the command line checks its options
(:mod:`handgrad.cli.options`) — before any data is split, encoded or trained on, each refusal
one line naming the argument. Checks are :mod:`handgrad.validation`'s; what the network,
optimizer and table encoder check themselves is left to them.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validation import (check_count, check_flag, check_fraction, check_matrix, check_positive,
                          check_sample_weight, check_seed, check_smoothing)

# train_regressor's options that mean nothing to classes
REGRESSION_ONLY = ("loss", "huber_delta", "target_transform")
TABLE_OPTIONS = ("categorical", "numeric", "drop", "id_columns")


def check_data(X, y, sample_weight=None):
    """``X`` as train_model takes it — a DataFrame as it is, anything else as a finite float64
    array (an object array of numbers and a sparse matrix made numbers, see
    :mod:`handgrad.arrays`) — after checking that ``y`` has one entry per row and
    ``sample_weight`` one weight per row."""
    if not hasattr(X, "columns"):  # NaN/inf named by their row in X, not in a fold of it
        X = check_matrix(X, "X")
    n_rows = len(X) if hasattr(X, "columns") else X.shape[0]
    try:
        n_y = len(y)
    except TypeError:
        raise InputError(f"y must hold one label or number per row of X, got {type(y).__name__}") from None
    if n_y != n_rows:
        raise InputError(f"X has {n_rows} rows but y has {n_y} entries; give one per row")
    check_sample_weight(sample_weight, n_rows, np.float64)
    return X


def check_options(X, options: dict, *, task: str, refit, validation_fraction, cv_folds) -> dict:
    """``options`` with their numbers checked (and ``patience`` 0 read as off, as
    ``--patience 0``); ``refit``, ``validation_fraction`` and ``cv_folds`` checked too."""
    out = dict(options)
    if task not in ("classification", "regression"):
        raise InputError(f"task must be 'classification' or 'regression', got {task!r}")
    check_flag(refit, "refit")
    if not (isinstance(validation_fraction, str) and validation_fraction == "auto"):
        check_fraction(validation_fraction, "validation_fraction")
    check_count(cv_folds, "cv_folds", minimum=2)
    if "seed" in out:
        out["seed"] = check_seed(out["seed"])
    for name in ("epochs", "max_categories", "checkpoint_every"):
        if name in out:
            out[name] = check_count(out[name], name)
    if not _auto(out.get("batch_size", "auto")):
        out["batch_size"] = check_count(out["batch_size"], "batch_size")
    if out.get("patience") is not None:
        out["patience"] = check_count(out["patience"], "patience", minimum=0) or None
    for name in ("lr", "huber_delta"):
        if name in out:
            check_positive(out[name], name)
    for name in ("l2", "weight_decay", "min_delta"):
        if name in out:
            check_positive(out[name], name, allow_zero=True)
    if "momentum" in out:
        check_fraction(out["momentum"], "momentum")
    if "dropout" in out:
        out["dropout"] = check_fraction(out["dropout"], "dropout")
    for name in ("standardize", "shuffle", "restore_best", "resume"):
        if name in out:
            out[name] = check_flag(out[name], name)
    out["hidden_sizes"] = _hidden(out.get("hidden_sizes", "auto"))
    cw = out.get("class_weight")
    if cw is not None and not (isinstance(cw, str) and cw == "balanced") and not hasattr(cw, "items"):
        raise InputError(f"class_weight must be a dict {{label: weight}} or 'balanced', got {cw!r}")
    if task == "classification":
        given = [name for name in REGRESSION_ONLY if name in out]
        if given:
            raise InputError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to regression; "
                             "call train_regressor to predict numbers")
        if "label_smoothing" in out:
            out["label_smoothing"] = check_smoothing(out["label_smoothing"])
    elif cw is not None:
        raise InputError("class_weight applies to classes; a regression takes sample_weight only")
    elif out.get("label_smoothing"):
        raise InputError("label_smoothing applies to classes (it softens one-hot targets); a regression "
                         "has none")
    for name in TABLE_OPTIONS:
        if name in out:
            out[name] = _names(out[name], name, X)
    if out.get("feature_names") is not None:
        out["feature_names"] = _feature_names(out["feature_names"], X)
    return out


def _auto(value) -> bool:
    return isinstance(value, str) and value == "auto"


def _hidden(hidden):
    """"auto", or a list of whole widths ≥ 1 (one width alone is one layer; [] is none)."""
    if _auto(hidden):
        return hidden
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, (bool, np.bool_)):
        hidden = [hidden]
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise InputError(f"hidden_sizes must be 'auto' or a list of layer widths such as [64, 32], "
                         f"got {hidden!r}")
    return [check_count(h, "hidden_sizes width") for h in hidden]


def _names(value, name: str, X) -> list:
    """Column names: one (a string or number) or a list of them; only for a DataFrame."""
    names = [value] if isinstance(value, (str, int, np.integer)) else value
    if not hasattr(names, "__iter__"):
        raise InputError(f"{name} must be a list of column names, got {value!r}")
    names = list(names)
    if names and not hasattr(X, "columns"):
        raise InputError(f"{name} names columns of a DataFrame; X is an array without column names "
                         "(its columns are all numeric features)")
    return names


def _feature_names(value, X) -> list[str]:
    if hasattr(X, "columns"):
        raise InputError("feature_names names the columns of an array; a DataFrame's are its own")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InputError(f"feature_names must be a list of {X.shape[1]} names, got {value!r}")
    names = [str(v) for v in value]
    if len(names) != X.shape[1]:
        raise InputError(f"feature_names has {len(names)} names for the {X.shape[1]} columns of X")
    return names
