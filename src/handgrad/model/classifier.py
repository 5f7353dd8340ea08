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
from ..training.many import fit_many
from ..validation import check_matrix

DEFAULTS = {"hidden_sizes": "auto", "activation": "relu", "l2": 1e-4, "dtype": "float32",
            "optimizer": "adam", "lr": 1e-3, "schedule": "constant", "epochs": 200,
            "batch_size": "auto", "validation_fraction": "auto", "patience": 20, "seed": 0}
# validation_fraction "auto": k-fold cross-validation chooses the epochs when the training rows
# number CV_FROM to CV_BELOW (a 10% hold-out part would have < 500 rows, too few to choose on:
# on the small tables of bench/tabular.py it moved the mean accuracy by up to 2 points from seed
# to seed); a hold-out part of HOLDOUT otherwise
CV_FOLDS, CV_FROM, CV_BELOW, HOLDOUT = 5, 20, 5000, 0.1


def auto_width(n_inputs: int) -> int:
    """The default hidden width: twice the network's inputs, between 64 and 256.

    Chosen on bench/tabular.py's real tables: 256 units (the width that suits digits' 64
    pixels) overfit the small tables of a dozen columns (carseats, mroz: 4.6 points below
    scikit-learn's MLP at 256 units, within 1 at 64)."""
    return int(min(256, max(64, 2 * int(n_inputs))))


def auto_batch_size(n_rows: int) -> int:
    """The default batch size: the power of two nearest n/200, between 32 and 256.

    32 on tables of a few thousand rows; larger batches on large tables, where they are as
    accurate and 2× faster (bench/tabular.py: diamonds, 43k training rows, 4.1 s → 2.1 s)."""
    return int(min(256, max(32, 2 ** round(np.log2(max(n_rows, 1) / 200)))))


def train_classifier(X, y, *, refit: bool = False, monitor: str | None = None,
                     validation_fraction: float | str = "auto", cv_folds: int = CV_FOLDS,
                     **options) -> Model:
    """Train an MLP classifier on raw features ``X`` (n, d) and labels ``y`` (ints or strings).

    ``options`` are those of :func:`train_once` (architecture, optimizer, epochs, table
    encoding, ...). ``monitor`` is what early stopping watches on the validation part
    (:func:`~handgrad.fit`'s ``monitor``).

    ``validation_fraction="auto"`` (the default): on CV_FROM to CV_BELOW rows, ``cv_folds``-fold
    cross-validation chooses the epochs (:func:`cross_validate`: each fold stops early on its
    own held-out part; the median of their best epochs) and the model is then trained on all
    rows for that many epochs; on more rows (or with ``refit``), a stratified hold-out part of
    ``HOLDOUT``, on which early stopping watches the accuracy unless ``monitor`` says
    otherwise. A number holds out that fraction (0: none). With ``refit``, the number of epochs
    chosen on the hold-out part is then trained again from the start on *all* rows (training
    and validation), so the final model has seen every row; the record's ``refit`` says so.
    """
    n_rows = len(X) if hasattr(X, "columns") else np.shape(X)[0]
    if options.get("batch_size", "auto") == "auto":
        options["batch_size"] = auto_batch_size(n_rows)
    if validation_fraction == "auto":
        use_cv = (not refit and options.get("X_val") is None and options.get("patience", DEFAULTS["patience"])
                  and not options.get("checkpoint_dir") and CV_FROM <= n_rows < CV_BELOW)
        if use_cv:
            return train_cross_validated(X, y, cv_folds, monitor=monitor, **options)
        validation_fraction = HOLDOUT
        # a hold-out part of ≥ 500 rows resolves accuracy finely; the loss, which punishes the
        # confidence a longer run gains, stops too early there (diamonds, 43k rows: 2.1 points
        # below scikit-learn's MLP watching the loss, 0.7 watching accuracy)
        monitor = monitor or ("val_accuracy" if n_rows >= CV_BELOW else None)
    options["validation_fraction"] = validation_fraction
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


def _take(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def cross_validate(X, y, folds: int, *, seed: int = DEFAULTS["seed"], monitor: str | None = None,
                   sample_weight=None, **options) -> dict:
    """Train on each of ``folds`` stratified folds' training rows, stopping early on its
    held-out rows; return the folds' best epochs, their median (the ``epochs`` to train all
    rows for) and the mean over folds of the monitored value, loss and accuracy at the best
    epoch (and the monitored value per fold, ``fold_scores``, and the folds' mean validation
    curve, ``curve``). Every fold knows every class (a rare class may be absent from a fold's rows)."""
    from ..training.splits import stratified_folds

    y = np.asarray(y)
    classes = LabelEncoder().fit(y).classes
    runs = [prepare_run(_take(X, keep), y[keep], X_val=_take(X, held), y_val=y[held], seed=seed,
                        monitor=monitor, classes=classes,
                        sample_weight=None if sample_weight is None else np.asarray(sample_weight)[keep],
                        **options)
            for keep, held in stratified_folds(LabelEncoder(classes).transform(y), folds, seed)]
    bests, scores, curves = [], [], []
    for h in (h.to_dict() for h in _fit_runs(runs)):
        best = h["best_epoch"] or len(h["epochs"])
        bests.append(best)
        curves.append(h["epochs"])
        scores.append({k: h["epochs"][best - 1][k] for k in ("val_loss", "val_accuracy", h["monitor"])})
    return {"method": f"{folds}-fold cross-validation", "folds": folds, "best_epochs": bests,
            "epochs": int(np.ceil(np.median(bests))), "monitor": h["monitor"],
            "fold_scores": [float(s[h["monitor"]]) for s in scores], "curve": _mean_curve(curves),
            **{k: float(np.mean([s[k] for s in scores])) for k in scores[0]}}


# fit's arguments fit_many takes too: folds with others (callbacks, checkpoints, ...) train one by one
_MANY_ARGS = {"epochs", "batch_size", "optimizer", "lr", "schedule", "patience", "class_weight",
              "seed", "monitor", "momentum", "nesterov", "weight_decay", "min_delta",
              "restore_best", "shuffle", "blas_threads", "diagnostics"}


def _fit_runs(runs: list) -> list:
    """Train the prepared runs (the folds) and return their histories: those whose networks
    have one shape (a fold's table encoding may have a column more or fewer) all at once with
    :func:`~handgrad.fit_many` when their arguments allow it — each result is what it would be
    alone — and the others one by one."""
    args = dict(runs[0].fit_args)
    for off in ("callbacks", "checkpoint_dir", "resume", "data_parallel"):  # unused when empty
        if not args.get(off):
            args.pop(off, None)
    if "checkpoint_dir" not in args:
        args.pop("checkpoint_every", None)
    if set(args) - _MANY_ARGS or not isinstance(args.get("optimizer", "adam"), str) \
            or not isinstance(args.get("schedule", "constant"), str) or runs[0].net.output != "softmax":
        return [r.fit() for r in runs]
    args.pop("diagnostics", None)  # fit_many records none
    histories: list = [None] * len(runs)
    groups: dict = {}
    for i, r in enumerate(runs):
        groups.setdefault((tuple(r.net.sizes), r.net.dtype.name), []).append(i)
    for members in groups.values():
        group = [runs[i] for i in members]
        if len(group) == 1:
            found = [group[0].fit()]
        else:
            found = fit_many([r.net for r in group], [r.X for r in group], [r.y for r in group],
                             X_val=[r.X_val for r in group], y_val=[r.y_val for r in group],
                             sample_weight=None if all(r.w is None for r in group) else
                             [r.w if r.w is not None else np.ones(r.X.shape[0]) for r in group],
                             **args)
        for i, h in zip(members, found):
            histories[i] = h
    return histories


def _mean_curve(curves: list[list[dict]]) -> list[dict]:
    """Per epoch, the validation loss and accuracy averaged over the folds, for the epochs every
    fold ran (each stops on its own; a mean over the folds still running would step at every
    stop and follow only the folds still improving): the learning curve of the folds."""
    return [{"epoch": e + 1, **{k: float(np.mean([c[e][k] for c in curves]))
                                for k in ("val_loss", "val_accuracy")}}
            for e in range(min(len(c) for c in curves))]


def train_cross_validated(X, y, folds: int = CV_FOLDS, *, monitor: str | None = None, **options) -> Model:
    """:func:`cross_validate`, then one model trained on all rows for the chosen epochs."""
    fold_options = {k: v for k, v in options.items() if k != "callbacks"}
    chosen = cross_validate(X, y, folds, monitor=monitor, **{**fold_options, "diagnostics": False})
    final = train_once(X, y, **{**options, "validation_fraction": 0.0, "patience": None,
                                "epochs": chosen["epochs"]})
    final.record["selection"] = chosen
    return final


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
                     classes=None, **fit_options) -> "_Run":
    """A training run of :func:`train_classifier` made ready, not yet trained (``.fit()``
    trains it and ``.model(history)`` bundles the result).

    ``X`` may be a numeric matrix or a pandas DataFrame. A DataFrame goes through a
    :class:`~handgrad.data.features.TableEncoder` fitted on the training rows only (text
    columns one-hot encoded, empty cells imputed with indicator columns, constant and ID
    columns dropped; ``categorical``, ``numeric``, ``drop`` and ``max_categories`` override its
    rules), which the model keeps and applies at predict time.

    ``classes``: all class labels, when ``y`` may lack some (a fold of cross-validation).
    ``class_weight`` is a dict keyed by the *original* labels, or ``"balanced"``. The other
    arguments are those of :class:`~handgrad.MLP` and :func:`~handgrad.fit`; with
    ``validation_fraction`` = 0 and no ``X_val`` there is no validation set. The model's
    ``record`` holds the hyperparameters and the training history.
    """
    frame = X if hasattr(X, "columns") else None
    if frame is None:
        X = check_matrix(X, "X")
    table_encoder = (TableEncoder(categorical, numeric, drop, max_categories, id_columns)
                     if frame is not None else None)
    encoder = LabelEncoder(classes) if classes is not None else LabelEncoder().fit(np.asarray(y))
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
        keep, held = stratified_split(y_idx, float(validation_fraction), seed,
                                      part="the validation part (for early stopping)",
                                      fix="pass validation_fraction=0 (--val-fraction 0) to train "
                                          "without one, or give more rows")
        if frame is not None:  # the encoding is fitted on the training rows only
            X = table_encoder.fit(frame.iloc[keep]).transform(frame)
        Xtr, ytr, wtr = X[keep], y_idx[keep], None if w is None else w[keep]
        Xv, yv = X[held], y_idx[held]
    else:
        if frame is not None:
            X = table_encoder.fit_transform(frame)
        Xtr, ytr, wtr, Xv, yv = X, y_idx, w, None, None

    if batch_size == "auto":
        batch_size = auto_batch_size(Xtr.shape[0])
    # a table's encoder standardises its numeric columns itself and leaves 0/1 columns alone
    scaler = Standardizer().fit(Xtr) if standardize and frame is None else None
    prep = (lambda A: scaler.transform(A)) if scaler else (lambda A: A)
    if isinstance(hidden_sizes, str) and hidden_sizes == "auto":
        hidden_sizes = [auto_width(X.shape[1])]
    sizes = [X.shape[1], *[int(h) for h in hidden_sizes], len(encoder.classes)]
    net = MLP(sizes, activation=activation, l2=l2, dtype=dtype, seed=seed)
    run = _Run(net, prep(Xtr), ytr, wtr, None if Xv is None else prep(Xv), yv,
               dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                    schedule=schedule, patience=patience, class_weight=class_weight,
                    callbacks=callbacks, seed=seed, **fit_options))
    hyper = {"hidden_sizes": sizes[1:-1], "activation": [a.name for a in net.activations],
             "l2": l2, "dtype": net.dtype.name, "optimizer": str(optimizer), "lr": lr,
             "schedule": str(schedule), "epochs": epochs, "batch_size": batch_size,
             "validation_fraction": validation_fraction if X_val is None else None,
             "patience": patience, "seed": seed,
             "standardize": standardize if frame is None else "numeric columns (table encoding)",
             "class_weight": class_weight if not isinstance(class_weight, dict) else
             {str(k): float(v) for k, v in class_weight.items()}}
    run.record = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "hyperparameters": hyper, "n_train": int(Xtr.shape[0]),
                  "n_val": 0 if Xv is None else int(Xv.shape[0])}
    run.extra_record = record or {}
    if frame is not None:
        run.record["table"] = {"columns_in": [str(c) for c in frame.columns],
                               "notes": table_encoder.notes_}
        run.parts = (encoder.classes, None, table_encoder.feature_names_out_, table_encoder)
    else:
        run.parts = (encoder.classes, scaler, list(feature_names) if feature_names is not None else None, None)
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
        return Model(self.net, classes, scaler, names, record, encoder=table_encoder)
