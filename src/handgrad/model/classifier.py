"""From raw features and labels to a trained :class:`~handgrad.model.Model`.

``train_classifier`` is what ``handgrad train`` runs: encode the labels, hold out a stratified
validation part, fit the standardisation on the remaining training rows only (so validation
stays unseen), build the :class:`~handgrad.MLP`, :func:`~handgrad.fit` it, and bundle
everything the model needs at predict time.
"""

from __future__ import annotations

import datetime as _dt
from typing import Sequence

import numpy as np

from ..errors import InputError
from .model import Model
from ..network import MLP
from ..data.features import TableEncoder
from ..data.preprocessing import LabelEncoder, Standardizer
from ..training.loop import fit, stratified_split
from ..validation import check_matrix

DEFAULTS = {"hidden_sizes": "auto", "activation": "relu", "l2": 1e-4, "dtype": "float32",
            "optimizer": "adam", "lr": 1e-3, "schedule": "constant", "epochs": 200,
            "batch_size": 32, "validation_fraction": 0.1, "patience": 20, "seed": 0}


def auto_width(n_inputs: int) -> int:
    """The default hidden width: twice the network's inputs, between 64 and 256.

    Chosen on bench/tabular.py's real tables: 256 units (the width that suits digits' 64
    pixels) overfit the small tables of a dozen columns (carseats, mroz: 4.6 points below
    scikit-learn's MLP at 256 units, within 1 at 64)."""
    return int(min(256, max(64, 2 * int(n_inputs))))


def train_classifier(X, y, *, refit: bool = False, monitor: str | None = None, **options) -> Model:
    """Train an MLP classifier on raw features ``X`` (n, d) and labels ``y`` (ints or strings).

    ``options`` are those of :func:`train_once` (architecture, optimizer, epochs, validation
    part, table encoding, ...). ``monitor`` is what early stopping watches on the validation
    part (:func:`~handgrad.fit`'s ``monitor``). With ``refit``, the number of epochs chosen on
    the validation part is then trained again from the start on *all* rows (training and
    validation), so the final model has seen every row; the record's ``refit`` says so.
    """
    model = train_once(X, y, monitor=monitor, **options)
    if not refit:
        return model
    if options.get("X_val") is not None:
        raise InputError("refit trains again on the training rows plus the validation part held out "
                         "by validation_fraction; with X_val given, add those rows to X yourself")
    history = model.record["history"]
    if not model.record["n_val"]:
        raise InputError("refit needs a validation part to choose the epochs on (validation_fraction > 0)")
    epochs = history["best_epoch"] or len(history["epochs"])
    final = train_once(X, y, **{**options, "validation_fraction": 0.0, "patience": None,
                                "epochs": epochs})
    final.record["refit"] = {"epochs": epochs, "chosen_on_n_val": model.record["n_val"],
                             "monitor": history["monitor"],
                             "best_value": history["epochs"][epochs - 1].get(history["monitor"])}
    return final


def train_once(X, y, *, feature_names: Sequence[str] | None = None,
                     hidden_sizes: Sequence[int] | str = DEFAULTS["hidden_sizes"],
                     activation=DEFAULTS["activation"], l2: float = DEFAULTS["l2"],
                     dtype=DEFAULTS["dtype"], optimizer=DEFAULTS["optimizer"],
                     lr: float = DEFAULTS["lr"], schedule=DEFAULTS["schedule"],
                     epochs: int = DEFAULTS["epochs"], batch_size: int = DEFAULTS["batch_size"],
                     validation_fraction: float = DEFAULTS["validation_fraction"],
                     X_val=None, y_val=None, patience: int | None = DEFAULTS["patience"],
                     sample_weight=None, class_weight=None, seed: int = DEFAULTS["seed"],
                     standardize: bool = True, callbacks=(), record: dict | None = None,
                     categorical=(), numeric=(), drop=(), max_categories: int = 64, id_columns=(),
                     **fit_options) -> Model:
    """One training run of :func:`train_classifier` (no refit).

    ``X`` may be a numeric matrix or a pandas DataFrame. A DataFrame goes through a
    :class:`~handgrad.data.features.TableEncoder` fitted on the training rows only (text
    columns one-hot encoded, empty cells imputed with indicator columns, constant and ID
    columns dropped; ``categorical``, ``numeric``, ``drop`` and ``max_categories`` override its
    rules), which the model keeps and applies at predict time.

    ``class_weight`` is a dict keyed by the *original* labels, or ``"balanced"``. The other
    arguments are those of :class:`~handgrad.MLP` and :func:`~handgrad.fit`; with
    ``validation_fraction`` = 0 and no ``X_val`` there is no validation set. Returns a
    :class:`Model` whose ``record`` holds the hyperparameters and the training history.
    """
    frame = X if hasattr(X, "columns") else None
    if frame is None:
        X = check_matrix(X, "X")
    table_encoder = (TableEncoder(categorical, numeric, drop, max_categories, id_columns)
                     if frame is not None else None)
    encoder = LabelEncoder().fit(np.asarray(y))
    y_idx = encoder.transform(y)
    n_rows = len(frame) if frame is not None else X.shape[0]
    if n_rows != y_idx.shape[0]:
        raise InputError(f"X has {n_rows} rows but y has {y_idx.shape[0]} labels")
    if isinstance(class_weight, dict):
        class_weight = {int(encoder.transform(np.array([k]))[0]): v for k, v in class_weight.items()}
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w is not None and w.shape != (n_rows,):
        raise InputError(f"sample_weight must have shape ({n_rows},), got {w.shape}")

    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None:
            raise InputError("give both X_val and y_val, or neither")
        if frame is not None:  # the encoding is fitted on the training rows only
            X = table_encoder.fit_transform(frame)
            X_val = table_encoder.transform(X_val)
        Xtr, ytr, wtr = X, y_idx, w
        Xv, yv = check_matrix(X_val, "X_val", X.shape[1]), encoder.transform(y_val)
    elif validation_fraction:
        keep, held = stratified_split(y_idx, float(validation_fraction), seed)
        if frame is not None:  # the encoding is fitted on the training rows only
            X = table_encoder.fit(frame.iloc[keep]).transform(frame)
        Xtr, ytr, wtr = X[keep], y_idx[keep], None if w is None else w[keep]
        Xv, yv = X[held], y_idx[held]
    else:
        if frame is not None:
            X = table_encoder.fit_transform(frame)
        Xtr, ytr, wtr, Xv, yv = X, y_idx, w, None, None

    # a table's encoder standardises its numeric columns itself and leaves 0/1 columns alone
    scaler = Standardizer().fit(Xtr) if standardize and frame is None else None
    prep = (lambda A: scaler.transform(A)) if scaler else (lambda A: A)
    if isinstance(hidden_sizes, str) and hidden_sizes == "auto":
        hidden_sizes = [auto_width(X.shape[1])]
    sizes = [X.shape[1], *[int(h) for h in hidden_sizes], len(encoder.classes)]
    net = MLP(sizes, activation=activation, l2=l2, dtype=dtype, seed=seed)
    history = fit(net, prep(Xtr), ytr, X_val=None if Xv is None else prep(Xv), y_val=yv,
                  epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                  schedule=schedule, patience=patience, sample_weight=wtr,
                  class_weight=class_weight, callbacks=callbacks, seed=seed, **fit_options)
    hyper = {"hidden_sizes": sizes[1:-1], "activation": [a.name for a in net.activations],
             "l2": l2, "dtype": net.dtype.name, "optimizer": str(optimizer), "lr": lr,
             "schedule": str(schedule), "epochs": epochs, "batch_size": batch_size,
             "validation_fraction": validation_fraction if X_val is None else None,
             "patience": patience, "seed": seed,
             "standardize": standardize if frame is None else "numeric columns (table encoding)",
             "class_weight": class_weight if not isinstance(class_weight, dict) else
             {str(k): float(v) for k, v in class_weight.items()}}
    full_record = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   "hyperparameters": hyper, "n_train": int(Xtr.shape[0]),
                   "n_val": 0 if Xv is None else int(Xv.shape[0]), "history": history.to_dict()}
    full_record.update(record or {})
    if frame is not None:
        full_record["table"] = {"columns_in": [str(c) for c in frame.columns],
                                "notes": table_encoder.notes_}
        return Model(net, encoder.classes, None, table_encoder.feature_names_out_, full_record,
                     encoder=table_encoder)
    names = list(feature_names) if feature_names is not None else None
    return Model(net, encoder.classes, scaler, names, full_record)
