"""Which input columns a trained model relies on.

* **Permutation importance** (Breiman, 2001): the model's score on rows it did not train on,
  minus its score when one column's values are shuffled across those rows — the column's link
  to the label broken, its distribution kept. A table's column is shuffled as a whole: its one-hot
  columns, missing indicator and date features move together (the encoder's ``blocks``).
  Classes: the rise in log loss (ranked by) and the drop in accuracy; numbers: the drop in R².
  ``repeats`` shuffles per column give a mean and a spread.
* **Gradient view** (for the learner): the mean over the rows of ``|∂ℓ_i/∂x_ij|``, each row's
  loss differentiated with respect to the network's input by the hand-derived backward pass
  carried through the first layer (derivations.md §19). It says how steeply the loss changes
  with each input *at these rows*, in the input's scaled units — a local sensitivity, not an
  effect: a column can matter a lot and have a flat loss where the rows are. A column's value
  sums its encoded columns'.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..training.calibration import log_loss
from ..training.evaluation import regression_metrics, regression_sums_of

MAX_ROWS = 20_000  # rows scored per shuffle; more are subsampled (the ranking does not need them)


def columns_of(model) -> list[tuple[str, slice]]:
    """The model's input columns and where each lands in the network's input."""
    if model.encoder is not None:
        return model.encoder.blocks
    names = model.feature_names or [f"x{j}" for j in range(model.n_features)]
    return [(str(n), slice(j, j + 1)) for j, n in enumerate(names)]


def _scores(model, A, y, y_idx) -> dict:
    if model.is_regressor:  # R² as every summary computes it (the mean over the outputs)
        return {"r2": regression_metrics(regression_sums_of(model.from_input(A, "predict"), y), len(y))["r2"]}
    P = model.from_input(A, "proba").astype(np.float64)
    labels = model.labels_of(np.log(np.maximum(P, np.finfo(np.float64).tiny)))
    return {"log_loss": log_loss(P, y_idx), "accuracy": float(np.mean(labels == model.classes[y_idx]))}


def permutation_importance(model, X, y, *, repeats: int = 5, seed: int = 0) -> dict:
    """Per input column, how much the score falls when its values are shuffled (see the
    module docstring). Returns ``{"score": the unshuffled scores, "rows", "repeats", "ranked_by",
    "columns": [{"column", "<metric>_mean", "<metric>_std", ...}, ...] most important first}``.
    ``X``, ``y``: rows the model did not train on (a test part), as :meth:`Model.predict`
    takes them, with their labels or numbers."""
    if int(repeats) < 1:
        raise InputError(f"repeats must be ≥ 1, got {repeats}")
    A = np.array(model.transform(X))  # encoded once; shuffles move rows of its column blocks
    y = np.asarray(y)
    if len(y) != A.shape[0]:
        raise InputError(f"X has {A.shape[0]} rows but y has {len(y)}")
    if len(y) < 2:
        raise InputError("permutation importance needs at least 2 rows to shuffle")
    rng = np.random.default_rng(seed)
    if len(y) > MAX_ROWS:
        keep = np.sort(rng.choice(len(y), MAX_ROWS, replace=False))
        A, y = A[keep], y[keep]
    y_idx = None if model.is_regressor else model.encode(y)
    base = _scores(model, A, y, y_idx)
    # the change that means "worse", per metric: log loss rises, accuracy and R² fall
    worse = {"log_loss": lambda b, s: s - b, "accuracy": lambda b, s: b - s, "r2": lambda b, s: b - s}
    rows = []
    for name, cols in columns_of(model):
        saved = A[:, cols].copy()
        drops = {k: [] for k in base}
        for _ in range(int(repeats)):
            A[:, cols] = saved[rng.permutation(len(y))]
            for k, v in _scores(model, A, y, y_idx).items():
                drops[k].append(worse[k](base[k], v))
        A[:, cols] = saved
        rows.append({"column": name, **{f"{k}_{stat}": float(f(d)) for k, d in drops.items()
                                        for stat, f in (("mean", np.mean), ("std", np.std))}})
    ranked_by = "r2" if model.is_regressor else "log_loss"
    rows.sort(key=lambda r: -r[f"{ranked_by}_mean"])
    return {"score": base, "rows": int(len(y)), "repeats": int(repeats), "ranked_by": ranked_by,
            "columns": rows}


def gradient_importance(model, X, y) -> list[dict]:
    """Per input column, the mean over rows of ``|∂ℓ_i/∂x_ij|`` (summed over a column's
    encoded columns), for an ensemble the members' weighted mean; most sensitive first."""
    A = model.transform(X)
    target = model.encode(y)  # class indices, or the targets in the network's units
    sens = np.zeros(A.shape[1])
    for w, net in zip(model.weights, model.networks):
        if w > 0:
            sens += w * np.mean(np.abs(net.input_gradient(A, target)), axis=0)
    rows = [{"column": name, "mean_abs_gradient": float(sens[cols].sum())} for name, cols in columns_of(model)]
    return sorted(rows, key=lambda r: -r["mean_abs_gradient"])
