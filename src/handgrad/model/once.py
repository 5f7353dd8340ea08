"""One training run of :func:`~handgrad.model.classifier.train_classifier`: from raw
features and labels (a matrix or a DataFrame) to encoded data, a network and its
:func:`~handgrad.fit` arguments (:func:`prepare_run`), trained into a :class:`Model`
(:func:`train_once`); and the defaults' rules for width and batch size.
"""

from __future__ import annotations

import datetime as _dt
from typing import Sequence

import numpy as np

from ..data.features import DEFAULT_SCALING, TableEncoder
from ..data.preprocessing import LabelEncoder, Standardizer
from ..core.losses import softmax
from ..errors import InputError
from ..network import MLP
from ..data.target_scaling import TargetScaler, choose_transform
from ..training.loop import fit, stratified_split
from ..training.splits import rank_strata
from ..validation import check_matrix
from .model import Model, check_regression_targets
from .plans import run_plan

DEFAULTS = {"hidden_sizes": "auto", "activation": "auto", "l2": 1e-4, "dtype": "float32",
            "optimizer": "adam", "lr": 1e-3, "schedule": "constant", "epochs": 200,
            "batch_size": "auto", "validation_fraction": "auto", "patience": 20, "seed": 0}
HOLDOUT = 0.1  # the validation part a run holds out unless told otherwise
# activation "auto": ReLU for classes; tanh for numbers, which on bench/tabular_regression.py's
# 12 tables (3 seeds) averaged +0.016 R² over ReLU and was better on 8 (small, smooth tables
# most: Hitters +0.09, Carseats +0.05; worse on concrete −0.03, Sacramento −0.02)
AUTO_ACTIVATION = {"classification": "relu", "regression": "tanh"}


def auto_activation(activation, task: str):
    """``activation``, or for "auto" the default of the task (:data:`AUTO_ACTIVATION`)."""
    return AUTO_ACTIVATION[task] if isinstance(activation, str) and activation == "auto" else activation
# a regression's loss -> the network's head (core.heads)
_HEADS = {"squared": "identity", "huber": "huber", "poisson": "exp"}


def auto_width(n_inputs: int) -> int:
    """The default hidden width: twice the network's inputs, between 64 and 256.

    Chosen on bench/tabular.py's real tables: 256 units (the width that suits digits' 64
    pixels) overfit the small tables of a dozen columns (carseats, mroz: 4.6 points below
    scikit-learn's MLP at 256 units, within 1 at 64)."""
    return int(min(256, max(64, 2 * int(n_inputs))))


def encoded_width(X, options: dict) -> int:
    """The network's input width on all of ``X`` (after a table's one-hot encoding with the
    table options in ``options``): what the default hidden width is computed from."""
    if not hasattr(X, "columns"):
        return int(np.shape(X)[1])
    return len(_table_encoder(options).fit(X).feature_names_out_)


def _table_encoder(options: dict) -> TableEncoder:
    return TableEncoder(options.get("categorical", ()), options.get("numeric", ()), options.get("drop", ()),
                        options.get("max_categories", 64), options.get("id_columns", ()),
                        options.get("scaling", DEFAULT_SCALING))


def encode_once(X, X_val, options: dict):
    """A table's encoding fitted once on the training rows ``X`` (a DataFrame), with ``X`` and
    ``X_val`` (or None) encoded: what :func:`prepare_run` takes as ``encoded=`` so that runs on
    the same rows (an ensemble's members on one fold) share one fit instead of each fitting it
    again — on a table of 150 columns the fits were four fifths of an ensemble's time. None
    for a matrix ``X`` (nothing to fit)."""
    if not hasattr(X, "columns"):
        return None
    encoder = _table_encoder(options)
    return encoder, encoder.fit_transform(X), None if X_val is None else encoder.transform(X_val)


def auto_batch_size(n_rows: int) -> int:
    """The default batch size: the power of two nearest n/200, between 32 and 256.

    32 on tables of a few thousand rows; larger batches on large tables, where they are as
    accurate and 2× faster (bench/tabular.py: diamonds, 43k training rows, 4.1 s → 2.1 s)."""
    return int(min(256, max(32, 2 ** round(np.log2(max(n_rows, 1) / 200)))))


def _take(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def train_once(X, y, **options) -> Model:
    """One training run of :func:`train_classifier` (no refit); the arguments are
    :func:`prepare_run`'s."""
    run = prepare_run(X, y, **options)
    return run.model(run.fit())


def prepare_run(X, y, *, feature_names: Sequence[str] | None = None,
                     hidden_sizes: Sequence[int] | str = DEFAULTS["hidden_sizes"],
                     activation=DEFAULTS["activation"], l2: float = DEFAULTS["l2"],
                     dtype=DEFAULTS["dtype"], optimizer=DEFAULTS["optimizer"],
                     lr: float = DEFAULTS["lr"], schedule=DEFAULTS["schedule"],
                     epochs: int = DEFAULTS["epochs"], batch_size: int | str = DEFAULTS["batch_size"],
                     validation_fraction: float = HOLDOUT,
                     X_val=None, y_val=None, patience: int | None = DEFAULTS["patience"],
                     sample_weight=None, class_weight=None, seed: int = DEFAULTS["seed"],
                     standardize: bool = True, callbacks=(), record: dict | None = None,
                     categorical=(), numeric=(), drop=(), max_categories: int = 64, id_columns=(),
                     scaling: str = DEFAULT_SCALING, classes=None, task: str = "classification", loss: str = "squared",
                     huber_delta: float = 1.0, target_transform: str = "auto", label_smoothing: float = 0.0,
                     target_names: Sequence[str] | None = None, encoded=None, **fit_options) -> "_Run":
    """A training run of :func:`train_classifier` made ready, not yet trained (``.fit()``
    trains it and ``.model(history)`` bundles the result).

    ``X`` may be a numeric matrix or a pandas DataFrame. A DataFrame goes through a
    :class:`~handgrad.data.features.TableEncoder` fitted on the training rows only (text
    columns one-hot encoded, empty cells imputed with indicator columns, constant and ID
    columns dropped; ``categorical``, ``numeric``, ``drop`` and ``max_categories`` override its
    rules; ``scaling`` "quantile" or "standard" says how numeric columns are scaled), which the
    model keeps and applies at predict time.

    ``encoded``: :func:`encode_once`'s result for these rows (``X`` and ``X_val``), so that
    the encoding is not fitted again.

    ``classes``: all class labels, when ``y`` may lack some (a fold of cross-validation).
    ``class_weight`` is a dict keyed by the *original* labels, or ``"balanced"``.

    ``task="regression"``: ``y`` holds numbers, (n,) or (n, k) for k targets (named by
    ``target_names``); ``loss`` is "squared" (the identity head), "huber" (threshold
    ``huber_delta`` in units of the scaled target) or "poisson" (the exp head); the targets are
    scaled on the training rows (``target_transform``: "auto", "standardize", "log", "none";
    :func:`~handgrad.data.target_scaling.choose_transform`) and the model maps its predictions back.
    The held-out parts of a regression are stratified by the target's rank
    (:func:`~handgrad.training.splits.rank_strata`). The other
    arguments are those of :class:`~handgrad.MLP` and :func:`~handgrad.fit`; with
    ``validation_fraction`` = 0 and no ``X_val`` there is no validation set. The model's
    ``record`` holds the hyperparameters and the training history.
    """
    frame = X if hasattr(X, "columns") else None
    if frame is None:
        X = check_matrix(X, "X")
    table_encoder = (TableEncoder(categorical, numeric, drop, max_categories, id_columns, scaling)
                     if frame is not None else None)
    regression = task == "regression"
    if task not in ("classification", "regression"):
        raise InputError(f"task must be 'classification' or 'regression', got {task!r}")
    if regression:
        encoder = None
        y_idx = check_regression_targets(y, 1 if np.ndim(y) == 1 else np.shape(y)[1])
        head = _HEADS.get(loss)
        if head is None:
            raise InputError(f"loss must be one of {', '.join(_HEADS)}, got {loss!r}")
        if class_weight is not None:
            raise InputError("class weights apply to classes; a regression takes sample weights only")
    else:
        encoder = LabelEncoder(classes) if classes is not None else LabelEncoder().fit(np.asarray(y))
        y_idx = encoder.transform(y)
    n_rows = len(frame) if frame is not None else X.shape[0]
    if n_rows != y_idx.shape[0]:
        raise InputError(f"X has {n_rows} rows but y has {y_idx.shape[0]} {'targets' if regression else 'labels'}")
    if isinstance(class_weight, dict):
        class_weight = {int(encoder.transform(np.array([k]))[0]): v for k, v in class_weight.items()}
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w is not None and w.shape != (n_rows,):
        raise InputError(f"sample_weight must have shape ({n_rows},), got {w.shape}")

    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None:
            raise InputError("give both X_val and y_val, or neither")
        if frame is not None:  # the encoding is fitted on the training rows only
            table_encoder, X, X_val = encoded or (table_encoder, table_encoder.fit_transform(frame),
                                                  table_encoder.transform(X_val))
        Xtr, ytr, wtr = X, y_idx, w
        Xv = check_matrix(X_val, "X_val", X.shape[1])
        yv = (check_regression_targets(y_val, 1 if y_idx.ndim == 1 else y_idx.shape[1]) if regression
              else encoder.transform(y_val))
    elif validation_fraction:
        strata = rank_strata(y_idx, round(1 / float(validation_fraction))) if regression else y_idx
        keep, held = stratified_split(strata, float(validation_fraction), seed,
                                      part="the validation part (for early stopping)",
                                      fix="give more rows, or train without one: validation_fraction=0 "
                                          "(--val-fraction 0; not with --search, which judges its "
                                          "candidates on the validation part)")
        if frame is not None:  # the encoding is fitted on the training rows only
            X = table_encoder.fit(frame.iloc[keep]).transform(frame)
        Xtr, ytr, wtr = X[keep], y_idx[keep], None if w is None else w[keep]
        Xv, yv = X[held], y_idx[held]
    else:
        if frame is not None:
            table_encoder, X, _ = encoded or (table_encoder, table_encoder.fit_transform(frame), None)
        Xtr, ytr, wtr, Xv, yv = X, y_idx, w, None, None

    target, target_notes = None, []
    if regression:  # scaled on the training rows only, like the features
        kind, target_notes = choose_transform(ytr, target_transform, loss)
        target = TargetScaler.fit(ytr, kind)
        Y = ytr.reshape(len(ytr), -1)  # what predicting a constant would give: the baseline
        target_summary = {"mean": Y.mean(axis=0).tolist(), "std": Y.std(axis=0).tolist(),
                          "min": Y.min(axis=0).tolist(), "max": Y.max(axis=0).tolist()}
        ytr = target.transform(ytr)
        yv = None if yv is None else target.transform(yv)
    if batch_size == "auto":
        batch_size = auto_batch_size(Xtr.shape[0])
    # a table's encoder standardises its numeric columns itself and leaves 0/1 columns alone
    scaler = Standardizer().fit(Xtr) if standardize and frame is None else None
    prep = (lambda A: scaler.transform(A)) if scaler else (lambda A: A)
    if isinstance(hidden_sizes, str) and hidden_sizes == "auto":
        hidden_sizes = [auto_width(X.shape[1])]
    activation = auto_activation(activation, task)
    n_out = (1 if ytr.ndim == 1 else ytr.shape[1]) if regression else len(encoder.classes)
    sizes = [X.shape[1], *[int(h) for h in hidden_sizes], n_out]
    # what this run will hold, checked before its network is made (the rows are read already)
    run_plan(sizes, dtype, Xtr.shape[0], 0 if Xv is None else Xv.shape[0],
             {**fit_options, "batch_size": batch_size, "optimizer": optimizer, "patience": patience}).check()
    head_options = {"output": head, "huber_delta": huber_delta} if regression and head == "huber" else \
        {"output": head} if regression else {"label_smoothing": label_smoothing}
    net = MLP(sizes, activation=activation, l2=l2, dtype=dtype, seed=seed, **head_options)
    run = _Run(net, prep(Xtr), ytr, wtr, None if Xv is None else prep(Xv), yv,
               dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                    schedule=schedule, patience=patience, class_weight=class_weight,
                    callbacks=callbacks, seed=seed, **fit_options))
    hyper = {"hidden_sizes": sizes[1:-1], "activation": [a.name for a in net.activations],
             "l2": l2, "dtype": net.dtype.name, "optimizer": str(optimizer), "lr": lr,
             "schedule": str(schedule), "epochs": epochs, "batch_size": batch_size,
             "validation_fraction": validation_fraction if X_val is None else None,
             "patience": patience, "seed": seed,
             "standardize": standardize if frame is None else f"numeric columns (table encoding, {scaling} scaling)",
             "class_weight": class_weight if not isinstance(class_weight, dict) else
             {str(k): float(v) for k, v in class_weight.items()}}
    if label_smoothing and not regression:
        hyper["label_smoothing"] = float(label_smoothing)
    if fit_options.get("dropout"):
        hyper["dropout"] = float(fit_options["dropout"])
    if regression:
        hyper.update(task="regression", loss=loss, target_transform=target.kind,
                     **({"huber_delta": float(huber_delta)} if loss == "huber" else {}))
    run.record = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "hyperparameters": hyper, "n_train": int(Xtr.shape[0]),
                  "n_val": 0 if Xv is None else int(Xv.shape[0])}
    run.extra_record = record or {}
    if regression:
        run.record["target_scaling"] = {**target.to_json(), "notes": target_notes}
        run.record["target_summary"] = target_summary
    classes = None if regression else encoder.classes
    if frame is not None:
        run.record["table"] = {"columns_in": [str(c) for c in frame.columns],
                               "notes": table_encoder.notes_}
        run.parts = (classes, None, table_encoder.feature_names_out_, table_encoder)
    else:
        run.parts = (classes, scaler, list(feature_names) if feature_names is not None else None, None)
    run.target = target
    run.target_names = None if target_names is None else [str(t) for t in target_names]
    return run


class _Run:
    """A training run of :func:`train_once`, prepared: the network, its encoded data, the
    arguments of :func:`~handgrad.fit`, and what the model file will hold besides."""

    def __init__(self, net, X, y, w, X_val, y_val, fit_args: dict):
        self.net, self.X, self.y, self.w, self.X_val, self.y_val = net, X, y, w, X_val, y_val
        self.fit_args = fit_args

    def fit(self):
        return fit(self.net, self.X, self.y, X_val=self.X_val, y_val=self.y_val,
                   sample_weight=self.w, **self.fit_args)

    def model(self, history) -> Model:
        """The :class:`Model` of this run once trained, with its ``history``."""
        record = {**self.record, "history": history.to_dict(), **self.extra_record}
        classes, scaler, names, table_encoder = self.parts
        return Model(self.net, classes, scaler, names, record, encoder=table_encoder,
                     target=self.target, target_names=self.target_names, held_out=self.held_out())

    def held_out(self) -> tuple | None:
        """A classifier's probabilities on its validation part, the labels there, and what
        they are (:attr:`Model.held_out`); None without one, or for a regressor."""
        if self.X_val is None or self.target is not None or self.net.output != "softmax":
            return None
        return (softmax(self.net.forward(self.X_val).astype(np.float64)), np.asarray(self.y_val),
                f"the validation part ({len(self.y_val)} rows)")
