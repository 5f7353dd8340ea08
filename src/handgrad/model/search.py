"""``handgrad train --search``: a budgeted search over the network and its optimizer settings,
judged the way the default is (k-fold cross-validation on small data, a hold-out part on
large), then the winner trained on all rows.

The search is successive halving (Jamieson & Talwalkar, 2016; the inner loop of Li et al.'s
Hyperband): every candidate trains for a few epochs, the best third goes on to more epochs,
the best third of those to the full run. A candidate's score is its best validation value
within its epochs (early stopping restores that epoch). Each rung trains from the start —
simple, and the same result for the same seed — which costs at most 1.5× continuing. When a
bracket (27 candidates → 9 → 3) ends with budget to spare for another, another starts with
fresh candidates, up to BRACKETS; the winner is the best full run of all.

The budget is wall-clock seconds for the search; rung r may spend until (r+1)/R of it
(time a rung leaves unspent passes on). A run still going at the end of the budget is
stopped and not scored: its epochs so far measure the budget, not the settings (a fold cut
after one epoch would choose one epoch for the final model). It is listed, marked, on the
leaderboard. The winner is the best full run that finished; when none did, the default
settings are trained as ``handgrad train`` trains them without ``--search``, and the record's
note says so. The final training on all rows comes after the budget (on small data, where it
is needed, it is as fast as one fold).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..errors import InputError
from ..training.evaluation import MONITORS
from .calibrate import check_calibration, finish
from .classifier import DEFAULTS, HOLDOUT, auto_batch_size, auto_width, encoded_width, train_model, train_once
from .once import auto_activation
from .crossval import CV_BELOW, CV_FOLDS, CV_FROM, cross_validate
from .plans import SEARCH_FIXES, check_folds, run_plan
from .model import Model

# (epochs, patience) per rung; the last is the default's full run
RUNGS = ((12, 4), (40, 10), (DEFAULTS["epochs"], DEFAULTS["patience"]))
ETA = 3            # the best 1/ETA of a rung goes on
CANDIDATES = 27    # per bracket: ETA ** len(RUNGS), so three candidates reach the full run
BRACKETS = 3       # at most; another starts only if the budget would let it finish
SEARCHED = ("hidden_sizes", "activation", "lr", "l2", "batch_size")


def candidates(n_inputs: int, n_rows: int, count: int = CANDIDATES, seed: int = 0,
               exclude=(), task: str = "classification") -> list[dict]:
    """``count`` distinct settings: the default first, then a linear model (no hidden layer:
    multinomial logistic regression trained by the same backprop), then seeded random draws of
    depth (1–2), width, activation, learning rate, L2 strength and batch size. Settings in
    ``exclude`` (earlier brackets') are not drawn again, the default and linear ones included."""
    width, batch = auto_width(n_inputs), auto_batch_size(n_rows)
    default = {"hidden_sizes": [width], "activation": auto_activation(DEFAULTS["activation"], task), "lr": DEFAULTS["lr"],
               "l2": DEFAULTS["l2"], "batch_size": batch}
    seen = {repr(c) for c in exclude}
    chosen = [c for c in (default, {**default, "hidden_sizes": []}) if repr(c) not in seen]
    seen |= {repr(c) for c in chosen}
    rng = np.random.default_rng(seed)
    widths = sorted({max(16, width // 2), width, min(512, 2 * width)})
    batches = sorted({max(16, batch // 2), batch, min(1024, batch * 4)})
    for _ in range(50 * count):
        if len(chosen) >= count:
            break
        depth = int(rng.choice([1, 1, 2]))
        c = {"hidden_sizes": [int(rng.choice(widths))] * depth,
             "activation": str(rng.choice(["relu", "relu", "tanh"])),
             "lr": float(rng.choice([3e-4, 1e-3, 3e-3, 1e-2])),
             "l2": float(rng.choice([1e-6, 1e-5, 1e-4, 1e-3, 1e-2])),
             "batch_size": int(rng.choice(batches))}
        if repr(c) not in seen:
            seen.add(repr(c))
            chosen.append(c)
    return chosen


class BudgetSpent(Exception):
    """Raised by :class:`_Deadline` to end a run the budget cut short (it is not scored)."""


class _Deadline:
    """A fit callback that ends training (raises :class:`BudgetSpent`) once the clock passes
    ``at``: the run, every fold of it, stops at once."""

    def __init__(self, at: float):
        self.at, self.hit = at, False

    def on_epoch_end(self, record, net) -> bool:
        if time.monotonic() > self.at:
            self.hit = True
            raise BudgetSpent
        return False


def search_classifier(X, y, *, budget: float = 60.0, seed: int = DEFAULTS["seed"],
                      monitor: str | None = None, count: int = CANDIDATES,
                      on_result: Callable[[dict], None] | None = None, callbacks=(),
                      **options) -> Model:
    """Successive halving over :func:`candidates` within ``budget`` seconds; returns the
    winner trained on all rows, whose ``record["search"]`` holds the leaderboard.

    ``options`` (table encoding, class weights, dtype, ...) are passed to every run;
    ``on_result(row)`` is called after every scored run (a progress hook); ``callbacks`` go to
    the final training only. Scores are the mean over folds (or the hold-out part) of
    ``monitor`` at each run's best epoch (default: the validation loss under cross-validation,
    the accuracy on a hold-out part, as :func:`~handgrad.model.classifier.train_classifier`).
    """
    started = time.monotonic()
    calibrate, threshold_metric = options.pop("calibrate", "none"), options.pop("threshold_metric", None)
    check_calibration(calibrate, threshold_metric, options.get("task", "classification"), y)
    n_rows = len(X) if hasattr(X, "columns") else np.shape(X)[0]
    n_inputs = encoded_width(X, options)
    folds = CV_FOLDS if CV_FROM <= n_rows < CV_BELOW else 0
    if folds and (calibrate != "none" or threshold_metric is not None):
        raise InputError(f"a search on {n_rows} rows chooses by cross-validation, then trains the winner on "
                         "every row: no held-out rows are left to calibrate or choose a threshold on; "
                         "drop --search, or --calibrate and --threshold-metric")
    _check_largest(n_inputs, n_rows, y, folds, options)
    asked = monitor  # the fallback to the default trains with the user's choice, as without --search
    # as the default: the loss under cross-validation, the accuracy on a large hold-out part
    # (a regression: its loss, the squared error, everywhere)
    monitor = monitor or ("val_loss" if folds or options.get("task") == "regression" else "val_accuracy")
    larger_better = MONITORS[monitor]
    pool: list[dict] = []
    board: list[dict] = []
    kept: dict[int, Model] = {}  # hold-out runs of the last rung are final models already
    bracket_seconds = 0.0
    for bracket in range(BRACKETS):
        # another bracket of fresh candidates while the budget would let one finish
        bracket_started = time.monotonic()
        if bracket and bracket_started + bracket_seconds > started + budget:
            break
        fresh = candidates(n_inputs, n_rows, count, seed + 1000 * bracket, exclude=pool,
                           task=options.get("task", "classification"))
        survivors = list(range(len(pool), len(pool) + len(fresh)))
        pool += fresh
        for r, (epochs, patience) in enumerate(RUNGS):
            rung_end = started + budget * (r + 1) / len(RUNGS) if bracket == 0 else started + budget
            scored = []
            for i in survivors:
                if scored and time.monotonic() > rung_end:
                    break
                row, model = _run(X, y, pool[i], epochs, patience, folds, monitor, seed,
                                  _Deadline(started + budget), options, n_inputs)
                row.update(candidate=i, rung=r, bracket=bracket)
                if model is not None and r == len(RUNGS) - 1:
                    kept[i] = model
                board.append(row)
                if on_result is not None:
                    on_result(row)
                if row["stopped_by_budget"]:  # not a measurement: not scored, and time is up
                    break
                scored.append(row)
            if not scored:
                break
            scored.sort(key=lambda row: -row["score"] if larger_better else row["score"])
            top = scored if r == len(RUNGS) - 1 else scored[:max(1, len(scored) // ETA)]
            survivors = [row["candidate"] for row in top]
            if bracket == 0 and 0 not in survivors and any(row["candidate"] == 0 for row in scored):
                survivors.append(0)  # the default always reaches the full run: the incumbent
            if time.monotonic() > started + budget:
                break
        bracket_seconds = time.monotonic() - bracket_started
        if time.monotonic() > started + budget:
            break
    searched = time.monotonic() - started
    full = [row for row in board if row["rung"] == len(RUNGS) - 1 and not row["stopped_by_budget"]]
    if not full:  # no candidate's full run finished: nothing to choose on
        winner, chosen_because = pool[0], "no full run finished within the budget: the default settings"
        final = train_model(X, y, **{**options, **_defaults_of(winner), "seed": seed, "monitor": asked,
                                     "callbacks": callbacks})
    else:
        best = min(full, key=lambda row: -row["score"] if larger_better else row["score"])
        best, chosen_because = _two_standard_errors(best, full, larger_better)
        winner = pool[best["candidate"]]
        if best["candidate"] in kept:
            final = kept[best["candidate"]]
        elif folds:
            final = train_once(X, y, **{**options, **winner, "seed": seed, "validation_fraction": 0.0,
                                        "patience": None, "epochs": best["epochs"], "callbacks": callbacks})
        else:  # a hold-out run whose model was not kept: train it fully now
            final = train_once(X, y, **{**options, **winner, "seed": seed, "validation_fraction": HOLDOUT,
                                        "monitor": monitor, "callbacks": callbacks})
        if folds:
            final.record["selection"] = {"method": f"{folds}-fold cross-validation (search)",
                                         "epochs": best["epochs"], "monitor": monitor,
                                         "best_epochs": best.get("best_epochs")}
    final.record["search"] = {
        "method": "successive halving", "budget_seconds": budget, "seconds": round(searched, 3),
        "validation": f"{folds}-fold cross-validation" if folds else f"hold-out part of {HOLDOUT:g}",
        "monitor": monitor, "candidates": len(pool), "runs": len(board),
        "rungs": [{"epochs": e, "patience": p} for e, p in RUNGS], "winner": {**winner},
        "chosen_because": chosen_because,
        "leaderboard": _ranked(board, larger_better)}
    if not full:
        final.record.setdefault("warnings", []).append(
            f"the search's budget ({budget:g}s) ended before any full run finished, so no settings "
            "could be compared: the default settings were trained as without --search; give "
            "--search a larger --budget")
    finish(final, calibrate, threshold_metric)
    return final


def _check_largest(n_inputs: int, n_rows: int, y, folds: int, options: dict) -> None:
    """Refuse, before the budget is spent, a search whose widest candidate (two layers of the
    widest width, the largest batch) would not fit in memory (:mod:`~handgrad.model.plans`)."""
    regression = options.get("task") == "regression"
    n_out = (1 if np.ndim(y) == 1 else np.shape(y)[1]) if regression else len(np.unique(np.asarray(y)))
    widest = min(512, 2 * auto_width(n_inputs))
    sizes = [n_inputs, widest, widest, max(n_out, 1)]
    run = {**options, "batch_size": min(1024, 4 * auto_batch_size(n_rows)), "patience": RUNGS[-1][1],
           "diagnostics": not folds}
    if folds:
        check_folds(sizes, n_rows, folds, run, stacked=False, workers=1, fixes=SEARCH_FIXES)
    else:
        held_out = max(1, round(HOLDOUT * n_rows))
        run_plan(sizes, options.get("dtype", DEFAULTS["dtype"]), n_rows - held_out, held_out, run,
                 subject="the search's widest candidate", fixes=SEARCH_FIXES).check()


def _defaults_of(winner: dict) -> dict:
    """The default candidate as train_model's options: its width and batch are "auto" there."""
    return {k: v for k, v in winner.items() if k not in ("hidden_sizes", "batch_size")}


def _run(X, y, settings, epochs, patience, folds, monitor, seed, deadline, options, width=None):
    """One scored run of ``settings``: cross-validated, or on a hold-out part (whose model is
    returned too, as the final model if the run is the winner's full one); a run the
    ``deadline`` cuts short is returned unscored (``score`` None, ``stopped_by_budget``)."""
    t0 = time.monotonic()
    run_options = {**options, **settings, "epochs": epochs, "patience": patience, "seed": seed,
                   "monitor": monitor, "callbacks": [deadline]}
    model = None
    try:
        if folds:
            res = cross_validate(X, y, folds, width=width, fixes=SEARCH_FIXES,
                                 **{**run_options, "diagnostics": False})
        else:
            model = train_once(X, y, validation_fraction=HOLDOUT, **run_options)
            res = _holdout_result(model, monitor)
    except BudgetSpent:  # cut by the budget: listed, not scored
        return {"max_epochs": epochs, **settings, "score": None, "val_loss": None, "epochs": None,
                "best_epochs": None, "fold_scores": None, "seconds": round(time.monotonic() - t0, 3),
                "stopped_by_budget": True}, None
    row = {"max_epochs": epochs, **settings, "score": res[monitor], "val_loss": res["val_loss"],
           **{k: res[k] for k in ("val_accuracy", "val_r2") if k in res}, "epochs": res["epochs"],
           "best_epochs": res.get("best_epochs", [res["epochs"]]), "fold_scores": res.get("fold_scores"),
           "seconds": round(time.monotonic() - t0, 3), "stopped_by_budget": False}
    return row, model


def _two_standard_errors(best: dict, board: list[dict], larger_better: bool) -> tuple[dict, str]:
    """The best full run, unless the default's full run is within two standard errors of it
    (``board``: the scored runs — those the budget cut short have no score).

    Under cross-validation both ran on the same folds, so the difference is paired: its mean
    over folds against the standard error of that mean. On a small table dozens of settings
    score within noise of each other (titanic: 27 candidates' validation losses 0.452–0.457),
    and the lowest is as often an unstable setting (learning rate 0.01 stopped at epoch 10) as
    a better one; the default, chosen once on many tables, is the safer bet there. Two standard
    errors, not one: the best of dozens of noisy scores is itself biased by about two (titanic,
    3 seeds: the winners beat the default by 1.1–1.7 standard errors on the folds and lost 0.8–3
    points on the test part)."""
    default = next((row for row in board if row["candidate"] == 0 and row["rung"] == best["rung"]), None)
    if (default is None or default is best or not best.get("fold_scores")
            or not default.get("fold_scores")):
        return best, "the best validation score of the full runs"
    sign = 1.0 if larger_better else -1.0
    gain = sign * (np.asarray(best["fold_scores"]) - np.asarray(default["fold_scores"]))
    se = float(np.std(gain, ddof=1) / np.sqrt(gain.size))
    if gain.mean() > 2 * se:
        return best, (f"better than the default by {gain.mean():.4g} on average over the folds, more "
                      f"than two standard errors (2 × {se:.2g})")
    return default, (f"the default: the best ({describe_settings(best)}) was better by only "
                     f"{gain.mean():.4g} on average over the folds, within two standard errors (2 × {se:.2g})")


def describe_settings(row: dict) -> str:
    return ", ".join(f"{k}={row[k]}" for k in SEARCHED)


def _holdout_result(model: Model, monitor: str) -> dict:
    h = model.record["history"]
    best = h["best_epoch"] or len(h["epochs"])
    score = "val_r2" if model.is_regressor else "val_accuracy"
    return {"epochs": best, **{k: h["epochs"][best - 1][k] for k in ("val_loss", score, monitor)}}


def _ranked(board: list[dict], larger_better: bool) -> list[dict]:
    """Every run, best first: a higher rung before a lower, then by score; the runs the budget
    cut short (unscored) last."""
    rows = sorted(board, key=lambda row: (row["stopped_by_budget"], -row["rung"],
                                          0 if row["score"] is None else -row["score"] if larger_better
                                          else row["score"]))
    return [{"rank": k + 1, **row} for k, row in enumerate(rows)]
