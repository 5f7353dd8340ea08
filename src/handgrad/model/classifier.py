"""From raw features and labels (or numbers) to a trained :class:`~handgrad.model.Model`.

``train_model`` (``train_classifier``, ``train_regressor``) is what ``handgrad train`` runs: choose how the epochs are selected
(cross-validation on small data, :mod:`.crossval`; a hold-out part otherwise; a refit on all
rows if asked) around single training runs (:mod:`.once`: encode the labels and the table,
standardise on the training rows only, build the :class:`~handgrad.MLP`, :func:`~handgrad.fit`
it, and bundle everything the model needs at predict time).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validation import check_count
from .arguments import check_data, check_options
from .calibrate import check_calibration, finish
from .crossval import CV_FOLDS, capped_warning, cross_validates, hold_out_monitor, train_cross_validated
from .model import Model
# one run, and the defaults' rules: imported from here by the command line, search and tests
from .once import (DEFAULTS, HOLDOUT, auto_batch_size, auto_width, encoded_width,  # noqa: F401
                   prepare_run, train_once)


def train_classifier(X, y, **options) -> Model:
    """:func:`train_model` of a classifier: labels ``y`` (ints or strings)."""
    if options.get("task", "classification") != "classification":
        raise InputError(f"train_classifier trains classes, not task={options['task']!r}; "
                         "call train_regressor to predict numbers")
    return train_model(X, y, **{**options, "task": "classification"})


def train_regressor(X, y, **options) -> Model:
    """:func:`train_model` of a regressor: numbers ``y`` (n,) or (n, k)."""
    if options.get("task", "regression") != "regression":
        raise InputError(f"train_regressor predicts numbers, not task={options['task']!r}; "
                         "call train_classifier for classes")
    return train_model(X, y, **{**options, "task": "regression"})


def train_model(X, y, *, calibrate: str = "none", threshold_metric: str | None = None, **options) -> Model:
    """Train an MLP on raw features ``X`` (n, d) and labels ``y`` (ints or strings), or for
    ``task="regression"`` numbers ``y`` (n,) or (n, k).

    ``options`` are those of :func:`train_once` (architecture, optimizer, epochs, table
    encoding, ...) and ``refit``, ``monitor``, ``validation_fraction``, ``cv_folds``,
    ``ensemble`` and ``ranks``. ``monitor`` is what early stopping watches on the validation part
    (:func:`~handgrad.fit`'s ``monitor``).

    The arguments are checked first, as ``handgrad train`` checks its options (one-line
    :class:`~handgrad.errors.InputError` naming the argument); ``X`` may also be a scipy
    sparse matrix (made dense when that fits in memory) or an object array of numbers.

    ``validation_fraction="auto"`` (the default): on CV_FROM to CV_BELOW rows, ``cv_folds``-fold
    cross-validation chooses the epochs (:func:`cross_validate`: each fold stops early on its
    own held-out part; the median of their best epochs) and the model is then trained on all
    rows for that many epochs; on more rows (or with ``refit``), a stratified hold-out part of
    ``HOLDOUT``, on which early stopping watches the accuracy (a regression: the loss) unless
    ``monitor`` says otherwise. A number holds out that fraction (0: none). With ``refit``, the number of epochs
    chosen on the hold-out part is then trained again from the start on *all* rows (training
    and validation), so the final model has seen every row; the record's ``refit`` says so.

    ``ensemble`` K > 1: K networks of sampled settings trained together, the model the weighted
    mean of those greedy selection keeps (:func:`~handgrad.model.ensemble.train_ensemble`);
    "auto": the default ensemble, or one network when its members would not fit in memory.
    ``ranks``: an :class:`~handgrad.distributed.OverRanks` splitting an ensemble's members over
    MPI ranks (one network over ranks: ``data_parallel``).

    A classifier's rows held out from training (the out-of-fold predictions, or the validation
    part) then grade its probabilities (``record["calibration"]``: reliability table, expected
    calibration error); ``calibrate="temperature"`` fits the model's temperature on them and
    ``threshold_metric`` ("f1", "balanced_accuracy", "accuracy", "mcc") a two-class model's cut
    (:func:`~handgrad.model.calibrate.finish`).
    """
    check_calibration(calibrate, threshold_metric, options.get("task", "classification"), y)
    model = _train(X, y, **options)
    finish(model, calibrate, threshold_metric)
    return model


def _train(X, y, *, refit: bool = False, monitor: str | None = None,
           validation_fraction: float | str = "auto", cv_folds: int = CV_FOLDS, ensemble: int = 1,
           ranks=None, **options) -> Model:
    """:func:`train_model` before calibration."""
    # checked at the door, as the command line checks its options: nothing is split or trained
    # before a mistake is named (a sparse matrix or an object array of numbers becomes numbers)
    X = check_data(X, y, options.get("sample_weight"))
    options = check_options(X, options, task=options.get("task", "classification"), refit=refit,
                            validation_fraction=validation_fraction, cv_folds=cv_folds)
    n_rows = len(X) if hasattr(X, "columns") else np.shape(X)[0]
    if options.get("batch_size", "auto") == "auto":
        options["batch_size"] = auto_batch_size(n_rows)
    auto = isinstance(ensemble, str) and ensemble == "auto"
    if auto:
        from .ensemble import ENSEMBLE
        ensemble = ENSEMBLE
    if check_count(ensemble, "ensemble") != 1:
        if refit:
            raise InputError("refit does not go with an ensemble (its members are chosen on held-out "
                             "rows and kept as trained); give ensemble=1")
        from .ensemble import train_ensemble

        model = train_ensemble(X, y, members=int(ensemble), monitor=monitor, cv_folds=cv_folds,
                               validation_fraction=validation_fraction, fallback=auto, ranks=ranks, **options)
        if not isinstance(model, str):
            return model
        # "auto", and the members do not fit in memory: one network, with a note saying why
        why = model
        model = _train(X, y, refit=refit, monitor=monitor, validation_fraction=validation_fraction,
                       cv_folds=cv_folds, ensemble=1, **options)
        model.record["ensemble_skipped"] = f"one network, not the default ensemble: {why}"
        return model
    if ranks is not None and ranks.size > 1:
        raise InputError("ranks splits an ensemble's members over MPI ranks; one network trains over "
                         "them with data_parallel=DataParallel() (or give ensemble > 1)")
    if validation_fraction == "auto":
        if cross_validates(n_rows, options, refit):
            return train_cross_validated(X, y, cv_folds, monitor=monitor, **options)
        validation_fraction = HOLDOUT
        monitor = hold_out_monitor(monitor, options.get("task", "classification"), n_rows)
    options["validation_fraction"] = validation_fraction
    model = train_once(X, y, monitor=monitor, **options)
    history = model.record["history"]
    if options.get("patience", DEFAULTS["patience"]) and model.record["n_val"] and \
            history["stop_reason"] == f"completed {len(history['epochs'])} epochs":
        model.record.setdefault("warnings", []).append(capped_warning(1, 1, len(history["epochs"])))
    if not refit:
        return model
    if options.get("X_val") is not None:
        raise InputError("refit trains again on the training rows plus the validation part held out "
                         "by validation_fraction; with X_val given, add those rows to X yourself")
    if not model.record["n_val"]:
        raise InputError("refit needs a validation part to choose the epochs on (validation_fraction > 0)")
    epochs = history["best_epoch"] or len(history["epochs"])
    final = train_once(X, y, **{**options, "validation_fraction": 0.0, "patience": None,
                                "epochs": epochs})
    final.record["refit"] = {"epochs": epochs, "chosen_on_n_val": model.record["n_val"],
                             "monitor": history["monitor"],
                             "best_value": history["epochs"][epochs - 1].get(history["monitor"])}
    if model.record.get("warnings"):  # the epochs the refit trains were chosen by that run
        final.record["warnings"] = model.record["warnings"]
    final.held_out = model.held_out  # the first run's validation part: rows it did not train on
    return final
