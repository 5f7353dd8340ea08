"""The default model as an ensemble: K networks of sampled settings trained together, the
members chosen by greedy selection on held-out predictions, one model file holding them all.

``train_ensemble`` (what :func:`~handgrad.model.classifier.train_model` runs unless
``ensemble=1``):

1. **Members.** The default network first, then ``K − 1`` seeded draws
   (:func:`member_settings`) of the L2 strength and the learning rate (log-uniform), each with
   its own seed, all of the default's shape and activation: they train as one stack
   (:func:`~handgrad.fit_many`, split over the cores); each has its own early stopping.
2. **Held-out predictions.** On small data (the cross-validated range of
   :func:`~handgrad.model.classifier.train_model`) every member is cross-validated on the same
   folds, giving each training row a prediction from a model that did not see it; on more rows,
   every member trains on one training part and predicts one shared validation part.
3. **Selection** (Caruana et al., 2004, :func:`greedy_selection`): starting from nothing, add
   with replacement the member whose addition makes the mean prediction best on the held-out
   rows (log loss for classes, squared error for numbers), ``ROUNDS`` times; a member's weight
   is how often it was added. Members never added are dropped.
4. **Final members.** On small data each chosen member trains again on every row for the
   median of its folds' best epochs (together, as in 1); on more rows the members trained on
   the training part are the model.

A prediction is the weighted mean of the members' probabilities or predicted values
(:class:`~handgrad.model.model.Model`'s ``members``); the record lists every member, its
settings, its held-out score and its weight.
"""

from __future__ import annotations

import numpy as np

from ..core.losses import softmax
from ..core.heads import regression_mean
from ..errors import InputError
from ..training.many_workers import resolve_workers
from ..training.splits import rank_strata, stratified_folds
from .crossval import (CV_FOLDS, CV_WORKERS, _take, capped_warning, cross_validates,
                       hold_out_monitor)
from .members import MemberTraining
from .model import Model
from .plans import check_ensemble
from .once import DEFAULTS, HOLDOUT, auto_activation, auto_batch_size, auto_width, encode_once, prepare_run

ENSEMBLE = 8      # members trained by default (--ensemble 1: one network)
ROUNDS = 20       # additions of greedy selection
SEED_STEP = 7919  # members' seeds: seed + k·SEED_STEP mod 2⁶³ (a prime: no member shares another's draws)
UNITS = 512       # hidden units of all members together, at most (each member at least MIN_WIDTH)
MIN_WIDTH = 32


def member_settings(k: int, seed: int, width: int, task: str) -> list[dict]:
    """``k`` members' settings: the default network first, then seeded draws of the L2 strength
    (log-uniform, 10⁻⁵ to 10⁻²), the learning rate (log-uniform from the default 10⁻³ to
    5·10⁻³: a slower member would run the stack longer, since it trains until its last member
    stops) and the seed. Every member has the
    default's shape and activation, so that all train as one stack (one matrix product per
    layer for all of them): by measurement the ensemble's time then stays within a few single
    runs, where members of sampled widths, depths and activations (each shape a stack of its
    own) took 5× one run on a 442-row table."""
    # wide inputs make training arithmetic-bound: K members of the default's width would cost
    # K times its multiply-adds (sacramento, 8 × 218 units: 3.3× one network's time), so the
    # members share UNITS hidden units between them when the default's width would pass it
    width = max(MIN_WIDTH, min(width, UNITS // k)) if k * width > UNITS else width
    base = {"hidden_sizes": [width], "activation": auto_activation(DEFAULTS["activation"], task),
            "l2": DEFAULTS["l2"], "lr": DEFAULTS["lr"], "seed": seed}
    out = [base]
    rng = np.random.default_rng([seed, 25])
    while len(out) < k:
        out.append({**base, "l2": float(10 ** rng.uniform(-5, -2)), "lr": float(10 ** rng.uniform(-3, -2.3)),
                    "seed": (seed + len(out) * SEED_STEP) % 2**63})  # seeds stay in numpy's range
    return out


def greedy_selection(held: np.ndarray, truth: np.ndarray, regression: bool, rounds: int = ROUNDS
                     ) -> tuple[np.ndarray, list[float]]:
    """Weights (K,) from greedy forward selection with replacement (Caruana et al., 2004) of
    the members' held-out predictions ``held`` (K, n, c) — probabilities, or predicted values —
    against ``truth`` (class indices (n,), or values (n, c)); and the score after each round.
    The score: log loss (classes) or mean squared error (numbers), smaller is better."""
    K = held.shape[0]
    counts = np.zeros(K)
    total = np.zeros(held.shape[1:])
    curve = []
    for r in range(rounds):
        trial = (total[None] + held) / (r + 1)  # (K, n, c): the mean with each member added once more
        if regression:
            err = ((trial - truth[None]) ** 2).mean(axis=(1, 2))
        else:
            p = trial[:, np.arange(truth.size), truth]
            err = -np.log(np.clip(p, 1e-15, 1)).mean(axis=1)
        best = int(np.argmin(err))
        counts[best] += 1
        total += held[best]
        curve.append(float(err[best]))
    return counts / counts.sum(), curve


def train_ensemble(X, y, *, members: int = ENSEMBLE, seed: int = DEFAULTS["seed"], monitor=None,
                   validation_fraction="auto", cv_folds: int = CV_FOLDS, callbacks=(), fallback: bool = False,
                   ranks=None, **options) -> Model | str:
    """An ensemble model of ``members`` networks (see the module docstring) on raw features
    ``X`` and labels or numbers ``y``; ``options`` are :func:`train_model`'s (task, table
    encoding, dtype, batch size, epochs, patience, ...) — the architecture, activation, L2 and
    learning rate are the members' own. ``validation_fraction``: "auto" (cross-validation on
    small data, else a hold-out part of ``HOLDOUT``) or the fraction of the hold-out part.
    ``callbacks``: see :class:`~handgrad.model.members.MemberTraining`. ``fallback``: when the members would not fit in
    memory, return the reason (a str) instead of refusing, so that the caller trains one
    network. ``ranks``: an :class:`~handgrad.distributed.OverRanks` to split the members over
    MPI ranks (every rank calls this alike and returns the same model)."""
    task = options.get("task", "classification")
    regression = task == "regression"
    for own in ("hidden_sizes", "activation", "l2", "lr"):
        given = options.pop(own, DEFAULTS.get(own))
        if given not in (DEFAULTS.get(own), [DEFAULTS.get(own)]):
            raise InputError(f"an ensemble chooses each member's {own} itself; give ensemble=1 to set it")
    for off, what, why in (("checkpoint_dir", "checkpoint_dir (--checkpoint-dir)", "its members keep no checkpoints"),
                           ("data_parallel", "data parallelism (several MPI processes)", "its members train in one process"),
                           ("X_val", "X_val", "its members are chosen on held-out rows it holds out itself")):
        if options.get(off) is not None and options.get(off) is not False:
            raise InputError(f"{what} does not go with an ensemble ({why}); give ensemble=1 (--ensemble 1)")
    options.pop("resume", None)
    options.pop("checkpoint_every", None)
    if validation_fraction == 0:
        raise InputError("an ensemble chooses its members on held-out rows: give validation_fraction > 0 "
                         "(or ensemble=1 to train on every row)")
    y = np.asarray(y)
    n_rows = len(X) if hasattr(X, "columns") else np.shape(X)[0]
    whole = encode_once(X, None, options)  # all rows: the width, and the final members' encoding
    d = whole[1].shape[1] if whole is not None else int(np.shape(X)[1])
    settings = member_settings(members, seed, auto_width(d), task)
    how = MemberTraining(callbacks, ranks)
    cv = validation_fraction == "auto" and cross_validates(n_rows, options)
    networks = len(settings) * (cv_folds if cv else 1)
    batch = options.get("batch_size", "auto")
    try:
        check_ensemble(n_rows, d, settings[0]["hidden_sizes"], networks,
                       {**options, "batch_size": auto_batch_size(n_rows) if isinstance(batch, str) else batch},
                       f"an ensemble of {len(settings)}" + (f" members, each over {cv_folds} folds" if cv else " members"),
                       workers=resolve_workers(CV_WORKERS, networks))
    except InputError as exc:
        if not fallback:
            raise
        return str(exc)
    if cv:
        model = _cross_validated(X, y, settings, cv_folds, seed, monitor, regression, how, options, whole)
    else:
        if validation_fraction == "auto":  # as one network's hold-out run (model.classifier.train_model)
            validation_fraction = HOLDOUT
            monitor = hold_out_monitor(monitor, task, n_rows)
        model = _held_out(X, y, settings, seed, monitor, regression, how, validation_fraction, options)
    if ranks is not None and ranks.size > 1:
        model.record["ensemble"]["ranks"] = ranks.describe()
    return model


def _cross_validated(X, y, settings, folds, seed, monitor, regression, how, options, whole) -> Model:
    from ..data.preprocessing import LabelEncoder

    classes = None if regression else LabelEncoder().fit(y).classes
    truth = y.astype(np.float64).reshape(len(y), -1) if regression else LabelEncoder(classes).transform(y)
    strata = rank_strata(y, folds) if regression else truth
    splits = stratified_folds(strata, folds, seed)
    parts = [(_take(X, keep), _take(X, held)) for keep, held in splits]
    shared = [encode_once(*part, options) for part in parts]  # one fit per fold, not per member
    runs = [prepare_run(part[0], y[keep], X_val=part[1], y_val=y[held], monitor=monitor, encoded=enc,
                        classes=classes, diagnostics=False, **options, **s)
            for s in settings for (keep, held), part, enc in zip(splits, parts, shared)]
    K = len(settings)
    histories = how.stacked(runs, f"{K} members × {folds} folds")
    n_out = truth.shape[1] if regression else len(classes)
    held_out = np.zeros((K, len(y), n_out))
    epochs, usable = [], []
    for k in range(K):
        mine = range(k * folds, (k + 1) * folds)
        usable.append(all(histories[i].diverged_in is None for i in mine))
        for i, (keep, held) in zip(mine, splits):
            held_out[k, held] = _predictions(runs[i], runs[i].X_val, regression)
        bests = [histories[i].best_epoch or len(histories[i].epochs) for i in mine]
        epochs.append(int(np.ceil(np.median(bests))))
    weights, curve = _select(held_out, truth, usable, regression)
    chosen = np.flatnonzero(weights)
    warning = _capped([histories[k * folds + f] for k in chosen for f in range(folds)], options)
    finals = [prepare_run(X, y, classes=classes, encoded=whole,
                          **{**options, "validation_fraction": 0.0, "patience": None, "epochs": epochs[k]}, **settings[k],
                          callbacks=how.callbacks if k == chosen[0] else ())
              for k in chosen]
    final_histories = how.alone_beside(finals[0], finals[1:], f"{len(chosen) - 1} more chosen members on all rows")
    model = _bundle(finals, final_histories, weights[chosen])
    model.held_out = _mixture(weights, held_out, truth, regression, f"out-of-fold predictions ({len(y)} rows)")
    model.record["ensemble"] = _record(settings, weights, epochs, held_out, truth, regression, curve,
                                       f"{folds}-fold cross-validation (out-of-fold predictions)")
    if warning:
        model.record.setdefault("warnings", []).append(warning)
    return model


def _held_out(X, y, settings, seed, monitor, regression, how, fraction, options) -> Model:
    from ..training.splits import stratified_split

    # one validation part for every member (the split a single network's run would make)
    strata = rank_strata(y, max(2, round(1 / fraction))) if regression else y
    keep, held = stratified_split(strata, fraction, seed, part="the validation part (for early stopping)",
                                  fix="give more rows, or train one network on every row: --val-fraction 0 "
                                      "(ensemble=1, validation_fraction=0)")
    part = (_take(X, keep), _take(X, held))
    shared = encode_once(*part, options)  # one fit for every member
    runs = [prepare_run(part[0], y[keep], X_val=part[1], y_val=y[held], monitor=monitor, encoded=shared,
                        **options, **s, callbacks=how.callbacks if k == 0 else ()) for k, s in enumerate(settings)]
    # the default member trains alone, recording the backprop diagnostics (the stack records none)
    histories = [_fit_alone(runs[0]),
                 *how.stacked(runs[1:], f"{len(settings) - 1} more members")]
    truth = (runs[0].y_val.astype(np.float64).reshape(len(runs[0].y_val), -1) if regression
             else runs[0].y_val)
    held_out = np.stack([_predictions(r, r.X_val, regression) for r in runs])
    usable = [h.diverged_in is None for h in histories]
    weights, curve = _select(held_out, truth, usable, regression)
    chosen = np.flatnonzero(weights)
    model = _bundle([runs[k] for k in chosen], [histories[k] for k in chosen], weights[chosen])
    model.held_out = _mixture(weights, held_out, truth, regression, f"the validation part ({len(truth)} rows)")
    epochs = [h.best_epoch or len(h.epochs) for h in histories]
    model.record["ensemble"] = _record(settings, weights, epochs, held_out, truth, regression, curve,
                                       f"a hold-out part of {fraction:g} (shared by every member)")
    warning = _capped([histories[k] for k in chosen], options)
    if warning:
        model.record.setdefault("warnings", []).append(warning)
    return model


def _fit_alone(run):
    """``run.fit()``, its history also when it diverged (``diverged_in`` set: not selectable)."""
    from ..errors import TrainingDivergedError

    try:
        return run.fit()
    except TrainingDivergedError as exc:
        history = exc.history
        if history is None:
            raise
        history.diverged_in = history.diverged_in or exc.epoch
        return history


def _capped(histories, options) -> str | None:
    """:func:`~handgrad.model.crossval.capped_warning` of the kept members' runs (their folds, or
    their one run on the hold-out part) that ran the whole ``epochs`` without stopping early."""
    if not options.get("patience", DEFAULTS["patience"]):
        return None
    cap = options.get("epochs", DEFAULTS["epochs"])
    capped = sum(h.stop_reason == f"completed {cap} epochs" for h in histories)
    return capped_warning(capped, len(histories), cap, runs_of="the ensemble's kept members")


def _predictions(run, X_val, regression: bool) -> np.ndarray:
    """A trained run's held-out predictions: probabilities, or values in the target's units
    (each fold scales its target on its own rows), as (n, c)."""
    logits = run.net.forward(X_val)
    if not regression:
        return softmax(logits.astype(np.float64))
    mu = regression_mean(run.net.output, logits).astype(np.float64)
    return mu if run.target is None else run.target.inverse(mu).reshape(mu.shape)


def _select(held_out, truth, usable, regression):
    if not any(usable):
        raise InputError("every member of the ensemble diverged; try a smaller learning rate with ensemble=1")
    held = held_out.copy()
    held[~np.asarray(usable)] = np.nan
    ok = np.flatnonzero(usable)
    weights = np.zeros(len(usable))
    w, curve = greedy_selection(held[ok], truth, regression)
    weights[ok] = w
    return weights, curve


def _bundle(runs, histories, weights) -> Model:
    """One model of the trained ``runs`` (they share their rows, hence their encoding and
    target scaling): the first run's model with the others as its members."""
    models = [r.model(h) for r, h in zip(runs, histories)]
    first = models[0]
    first.members = [m.net for m in models[1:]]
    first.member_weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    first._check_members()
    return first


def _mixture(weights, held_out, truth, regression, what) -> tuple | None:
    """A classifier ensemble's held-out probabilities ``Σ_k w_k P_k`` (n, C), the labels and
    what rows they are (:attr:`Model.held_out`); None for a regressor."""
    if regression:
        return None
    return np.tensordot(np.asarray(weights, dtype=np.float64), held_out, axes=1), np.asarray(truth), what


def _record(settings, weights, epochs, held_out, truth, regression, curve, held_from) -> dict:
    rows = []
    for s, w, e, pred in zip(settings, weights, epochs, held_out):
        if regression:
            score = float(np.mean((pred - truth) ** 2))
        else:
            score = float(-np.log(np.clip(pred[np.arange(truth.size), truth], 1e-15, 1)).mean())
        rows.append({**{k: s[k] for k in ("hidden_sizes", "activation", "l2", "lr", "seed")},
                     "epochs": int(e), "held_out_score": score, "weight": float(w)})
    return {"members": rows, "held_out": held_from, "score": "mean squared error" if regression else "log loss",
            "selection": {"method": "greedy selection with replacement (Caruana et al., 2004)",
                          "rounds": len(curve), "curve": curve}}
