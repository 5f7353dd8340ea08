"""After training, on the rows training held out (:attr:`Model.held_out`: the out-of-fold
predictions of cross-validation, or the validation part): how calibrated the probabilities
are, a temperature fitted to them if asked (derivations.md §18), and a two-class model's cut
chosen for a metric if asked. Never on a test part: what decides the model must not have seen
the rows that grade it."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..training.calibration import CALIBRATIONS, apply_temperature, fit_temperature, log_loss, reliability
from ..training.threshold import METRICS, choose_threshold


def check_calibration(calibrate, threshold_metric, task: str, y=None) -> None:
    """The two options checked at the door (before any training), one line each; with the
    labels ``y``, a threshold for other than two classes is refused there too."""
    if calibrate not in CALIBRATIONS:
        raise InputError(f"calibrate must be one of {', '.join(CALIBRATIONS)}, got {calibrate!r}")
    if threshold_metric is not None and threshold_metric not in METRICS:
        raise InputError(f"threshold_metric must be one of {', '.join(METRICS)}, got {threshold_metric!r}")
    if task == "regression" and (calibrate != "none" or threshold_metric is not None):
        raise InputError("calibration and thresholds apply to classes; the target is a number (regression)")
    if threshold_metric is not None and y is not None and np.unique(np.asarray(y)).size != 2:
        raise InputError(f"a threshold cuts between two classes; y has {np.unique(np.asarray(y)).size} "
                         "(drop threshold_metric)")


def finish(model, calibrate: str = "none", threshold_metric: str | None = None) -> None:
    """Record the held-out calibration in ``model.record["calibration"]`` (reliability table,
    expected calibration error, log loss) and, as asked, set ``model.temperature`` and
    ``model.threshold`` from the held-out rows. A model without held-out rows (trained on
    every row) records nothing, and refuses what it was asked in one line."""
    if model.is_regressor:
        return
    asked = calibrate != "none" or threshold_metric is not None
    if model.held_out is None:
        if asked:
            raise InputError("calibrating or choosing a threshold needs rows the model did not train on; "
                             "keep a validation part (no --val-fraction 0) or cross-validation")
        return
    P, y, what = model.held_out
    y = np.asarray(y)
    if y.ndim != 1:  # soft labels: nothing to bin or cut against
        return
    before = reliability(P, y)
    rec = {"held_out": what, "ece": before["ece"], "log_loss": log_loss(P, y), "bins": before["bins"]}
    if calibrate == "temperature":
        T = fit_temperature(P, y)
        model.temperature = T
        P = apply_temperature(P, T)
        after = reliability(P, y)
        rec.update(temperature=T, ece_after=after["ece"], log_loss_after=log_loss(P, y), bins_after=after["bins"])
    if threshold_metric is not None:
        if model.classes.size != 2:
            raise InputError(f"a threshold cuts between two classes; this model has {model.classes.size} "
                             "(drop --threshold-metric)")
        choice = choose_threshold(P[:, 1], y == 1, threshold_metric)
        model.threshold = choice["threshold"] if choice["value"] is not None else None
        rec["threshold"] = {**choice, "positive_class": _plain(model.classes[1])}
    model.record["calibration"] = rec


def _plain(label):
    return label.item() if hasattr(label, "item") else label
