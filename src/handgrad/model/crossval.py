"""Cross-validation of the small-data default (:func:`train_classifier`'s
``validation_fraction="auto"``): k stratified folds, each trained with early stopping on its
own held-out part, choose the number of epochs; then one model is trained on every row.

The folds are trained together with :func:`~handgrad.fit_many` (one stacked pass, split over
the cores), widened to one input width where a fold's table encoding has a column fewer;
each fold's history is what training it alone would give.
"""

from __future__ import annotations

import numpy as np

from ..data.preprocessing import LabelEncoder
from ..errors import TrainingDivergedError
from ..network import MLP
from ..training.footprint import Fixes
from ..training.many import fit_many
from ..training.many_workers import resolve_workers
from .once import DEFAULTS, _take, auto_batch_size, auto_width, encode_once, encoded_width, prepare_run, train_once
from .model import Model
from .plans import FIXES, check_folds

# validation_fraction "auto": k-fold cross-validation chooses the epochs when the training rows
# number CV_FROM to CV_BELOW (a 10% hold-out part would have < 500 rows, too few to choose on:
# on the small tables of bench/tabular.py it moved the mean accuracy by up to 2 points from seed
# to seed); a hold-out part (classifier.HOLDOUT) otherwise
CV_FOLDS, CV_FROM, CV_BELOW = 5, 20, 5000
# the folds' networks split over this many processes (fit_many's workers; "auto": the cores)
CV_WORKERS = "auto"


def cross_validate(X, y, folds: int, *, seed: int = DEFAULTS["seed"], monitor: str | None = None,
                   sample_weight=None, width: int | None = None, fixes: Fixes = FIXES,
                   on_epoch=None, held_out: list | None = None, **options) -> dict:
    """Train on each of ``folds`` stratified folds' training rows, stopping early on its
    held-out rows; return the folds' best epochs, their median (the ``epochs`` to train all
    rows for) and the mean over folds of the monitored value, loss and accuracy at the best
    epoch (and the monitored value per fold, ``fold_scores``, the folds' mean validation
    curve, ``curve``, and how many folds ran to the ``epochs`` cap without stopping early,
    ``capped``). Every fold knows every class (a rare class may be absent from a fold's rows).

    Before any fold's network is made, what the folds will hold is checked against the
    machine's memory (:func:`~handgrad.model.plans.check_folds`; ``width``: the encoded
    input width when the caller knows it, ``fixes``: how a refusal names what to change).
    ``on_epoch(epoch, epochs, folds, running)`` is told of the folds' progress after each
    epoch (``running``: those of them still training in this process). ``held_out``: a list to
    which a classifier's out-of-fold probabilities are appended (:attr:`Model.held_out`)."""
    from ..training.splits import rank_strata, stratified_folds

    y = np.asarray(y)
    if options.get("task") == "regression":  # folds stratified by the target's rank
        classes, strata, keys = None, rank_strata(y, folds), REGRESSION_KEYS
        n_out = 1 if y.ndim == 1 else y.shape[1]
    else:
        classes = LabelEncoder().fit(y).classes
        strata, keys = LabelEncoder(classes).transform(y), CLASS_KEYS
        n_out = len(classes)
    split = stratified_folds(strata, folds, seed)
    width = encoded_width(X, options) if width is None else width
    hidden = options.get("hidden_sizes", "auto")
    sizes = [width, *([auto_width(width)] if isinstance(hidden, str) else hidden), n_out]
    batch = options.get("batch_size", "auto")
    batch = auto_batch_size(len(split[0][0])) if isinstance(batch, str) else batch
    together = _together(options)
    check_folds(sizes, len(y), folds, {**options, "batch_size": batch}, stacked=together,
                workers=resolve_workers(CV_WORKERS, folds) if together else 1, fixes=fixes)
    runs = [prepare_run(_take(X, keep), y[keep], X_val=_take(X, held), y_val=y[held], seed=seed,
                        monitor=monitor, classes=classes,
                        sample_weight=None if sample_weight is None else np.asarray(sample_weight)[keep],
                        **options)
            for keep, held in split]
    bests, scores, curves, capped = [], [], [], 0
    epochs = options.get("epochs", DEFAULTS["epochs"])
    tell = None if on_epoch is None else (lambda epoch, cap, running: on_epoch(epoch, cap, folds, running))
    histories = _fit_runs(runs, tell)
    if held_out is not None and classes is not None:  # the out-of-fold probabilities
        P = np.zeros((len(y), n_out))
        for run, (keep, held) in zip(runs, split):
            P[held] = run.held_out()[0]
        held_out.append((P, strata, f"out-of-fold predictions ({len(y)} rows)"))
    for h in (h.to_dict() for h in histories):
        best = h["best_epoch"] or len(h["epochs"])
        bests.append(best)
        curves.append(h["epochs"])
        capped += h["stop_reason"] == f"completed {epochs} epochs"
        scores.append({k: h["epochs"][best - 1][k] for k in (*keys, h["monitor"])})
    return {"method": f"{folds}-fold cross-validation", "folds": folds, "best_epochs": bests,
            "epochs": int(np.ceil(np.median(bests))), "monitor": h["monitor"],
            "fold_scores": [float(s[h["monitor"]]) for s in scores], "curve": _mean_curve(curves, keys),
            "max_epochs": epochs, "capped": capped,
            **{k: float(np.mean([s[k] for s in scores])) for k in scores[0]}}


def cross_validates(n_rows: int, options: dict, refit: bool = False) -> bool:
    """Whether ``validation_fraction="auto"`` chooses the epochs by cross-validation: small data
    (CV_FROM to CV_BELOW rows), early stopping on, no refit, no validation part or checkpoints
    given."""
    return bool(not refit and options.get("X_val") is None and options.get("patience", DEFAULTS["patience"])
                and not options.get("checkpoint_dir") and CV_FROM <= n_rows < CV_BELOW)


def hold_out_monitor(monitor: str | None, task: str, n_rows: int) -> str | None:
    """What early stopping watches on a hold-out part when ``monitor`` is not given: for classes
    on a part of ≥ 500 rows (CV_BELOW rows and more) the accuracy, which such a part resolves
    finely — the loss, which punishes the confidence a longer run gains, stops too early there
    (diamonds, 43k rows: 2.1 points below scikit-learn's MLP watching the loss, 0.7 watching
    accuracy); otherwise the loss (a regression's is its squared error: what it is judged by)."""
    if monitor or task == "regression":
        return monitor
    return "val_accuracy" if n_rows >= CV_BELOW else None


def capped_warning(capped: int, runs: int, cap: int, chosen: int | None = None,
                   runs_of: str | None = None) -> str | None:
    """The warning when ``capped`` of ``runs`` training runs (the folds of cross-validation, or
    one run on a hold-out part) ran the whole ``cap`` epochs without stopping early: their best
    epoch may lie beyond the cap, so the ``chosen`` epochs are a floor, not a measurement. For
    folds, when at least half of them did: their median is then one of those floors (fewer
    are shown in the note on the folds, not warned of). ``runs_of``: whose runs they are, when
    not one network's (an ensemble's kept members)."""
    if not capped or 2 * capped < runs:
        return None
    share = f"all {runs}" if capped == runs else f"{capped} of the {runs}"
    if runs_of is not None:  # an ensemble: the runs of its kept members
        who = f"{share} runs of {runs_of}"
        then = "the members may be undertrained"
    elif runs == 1:
        who = "training"
        then = "the model may be undertrained"
    else:
        who = f"{share} folds of cross-validation"
        then = f"the {chosen} epochs chosen may be too few and the model undertrained"
    return (f"{who} ran the whole {cap} epoch{'s' if cap != 1 else ''} (epochs, --epochs) without stopping "
            f"early, so {then}; "
            f"allow more (e.g. --epochs {2 * cap})")


# what cross-validation averages over the folds (besides the monitored value), and the curve
CLASS_KEYS = ("val_loss", "val_accuracy")
REGRESSION_KEYS = ("val_loss", "val_r2", "val_rmse")


# fit's arguments fit_many takes too: folds with others (callbacks, checkpoints, ...) train one by one
_MANY_ARGS = {"epochs", "batch_size", "optimizer", "lr", "schedule", "patience", "class_weight",
              "seed", "monitor", "momentum", "nesterov", "weight_decay", "min_delta",
              "restore_best", "shuffle", "blas_threads", "diagnostics", "dropout"}


def _together(options: dict) -> bool:
    """Whether the folds of a run with these options train together (:func:`~handgrad.fit_many`
    takes its arguments: no callbacks, checkpoints or data parallelism, optimizer and schedule
    by name); else one by one."""
    if any(options.get(off) for off in ("callbacks", "checkpoint_dir", "resume", "data_parallel")):
        return False
    return isinstance(options.get("optimizer", "adam"), str) and isinstance(options.get("schedule", "constant"), str)


def _fit_runs(runs: list, on_epoch=None, raise_divergence: bool = True, ranks=None) -> list:
    """Train the prepared runs (the folds, an ensemble's members) and return their histories:
    those whose networks have one shape past the inputs, one head and the same training
    arguments but for the learning rate, seed and epochs, all at once with
    :func:`~handgrad.fit_many` (widened to one input width, :func:`_widened`) — each result is
    what it would be alone — and the others one by one. ``on_epoch(epoch, epochs, running)``:
    the progress (of this process's runs when they are split over workers). A run that
    diverges raises, as fit would, unless ``raise_divergence`` is False (its history says so:
    ``diverged_in``). ``ranks``: an :class:`~handgrad.distributed.OverRanks` that splits the
    stacked runs over MPI ranks (a run trained alone trains on every rank, alike)."""
    histories: list = [None] * len(runs)
    groups: dict = {}
    for i, r in enumerate(runs):
        args = _many_args(r)
        if args is None:
            histories[i] = r.fit() if on_epoch is None else _fit_telling(r, i, len(runs), on_epoch)
            continue
        shared = {k: v for k, v in args.items() if k not in ("lr", "seed", "epochs")}
        key = (tuple(r.net.sizes[1:]), tuple(a.name for a in r.net.activations), r.net.dtype.name,
               r.net.output, tuple(sorted(r.net.head_params.items())), repr(sorted(shared.items())))
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        group = [runs[i] for i in members]
        if len(group) == 1:
            found = [group[0].fit() if on_epoch is None else _fit_telling(group[0], 0, 1, on_epoch)]
        else:
            args = {k: v for k, v in _many_args(group[0]).items() if k not in ("lr", "seed", "epochs")}
            each = {k: [_many_args(r)[k] for r in group] for k in ("lr", "seed", "epochs")}
            nets, Xs, Xvs = _widened(group)
            no_val = all(r.X_val is None for r in group)  # trained on every row (a final run)
            found = fit_many(nets, Xs, [r.y for r in group], X_val=None if no_val else Xvs,
                             y_val=None if no_val else [r.y_val for r in group],
                             sample_weight=None if all(r.w is None for r in group) else
                             [r.w if r.w is not None else np.ones(r.X.shape[0]) for r in group],
                             workers=CV_WORKERS, on_epoch=on_epoch, ranks=ranks, **args, **each)
        for i, h in zip(members, found):
            if h.diverged_in is not None and raise_divergence:  # as fit would have raised alone
                raise TrainingDivergedError("training " + h.stop_reason, h.diverged_in, h)
            histories[i] = h
    return histories


def _many_args(run) -> dict | None:
    """The run's fit arguments as :func:`~handgrad.fit_many` takes them, or None when it takes
    them not (callbacks, checkpoints, optimizer or schedule objects, a logistic head)."""
    args = dict(run.fit_args)
    for off in ("callbacks", "checkpoint_dir", "resume", "data_parallel"):  # unused when empty
        if not args.get(off):
            args.pop(off, None)
    if "checkpoint_dir" not in args:
        args.pop("checkpoint_every", None)
    if set(args) - _MANY_ARGS or not _together(args) or run.net.output == "logistic":
        return None
    args.pop("diagnostics", None)  # fit_many records none
    return args


def _fit_telling(run, i: int, k: int, on_epoch):
    """``run.fit()`` telling ``on_epoch`` each epoch (the folds trained one by one: fold i+1 of k)."""
    epochs = run.fit_args.get("epochs", DEFAULTS["epochs"])

    class _Tell:
        def on_epoch_end(self, record, net):
            on_epoch(record["epoch"], epochs, k - i)

    run.fit_args = {**run.fit_args, "callbacks": [*run.fit_args.get("callbacks", ()), _Tell()]}
    return run.fit()


def _widened(runs: list) -> tuple[list, list, list]:
    """The runs' networks and data made one width: a fold whose table encoding has fewer
    columns (a category or constant column that differs between folds) gets zero columns
    after its own, and its network zero weights from them. Zero inputs through zero weights
    add nothing forward, and those weights' gradients — data and L2 alike — are 0, so they
    stay 0 and the network trains as it would alone (to rounding: the products are longer)."""
    width = max(r.X.shape[1] for r in runs)
    nets, Xs, Xvs = [], [], []
    for r in runs:
        net, d = r.net, r.X.shape[1]
        if d < width:
            wide = MLP([width, *net.sizes[1:]], activation=net.activations, l2=net.l2, dtype=net.dtype,
                       **net.head_options)
            wide.flat[...] = 0
            wide.weights[0][:d] = net.weights[0]
            for l in range(net.n_layers):
                wide.biases[l][...] = net.biases[l]
                if l:
                    wide.weights[l][...] = net.weights[l]
            run_X, run_Xv = (None if A is None else np.pad(A, ((0, 0), (0, width - d))) for A in (r.X, r.X_val))
            nets.append(wide)
            Xs.append(run_X)
            Xvs.append(run_Xv)
        else:
            nets.append(net)
            Xs.append(r.X)
            Xvs.append(r.X_val)
    return nets, Xs, Xvs


def _mean_curve(curves: list[list[dict]], keys=CLASS_KEYS) -> list[dict]:
    """Per epoch, the validation values ``keys`` (loss and accuracy; loss, R² and RMSE)
    averaged over the folds, for the epochs every fold ran (each stops on its own; a mean over
    the folds still running would step at every stop and follow only the folds still
    improving): the learning curve of the folds."""
    return [{"epoch": e + 1, **{k: float(np.mean([c[e][k] for c in curves])) for k in keys}}
            for e in range(min(len(c) for c in curves))]


def train_cross_validated(X, y, folds: int = CV_FOLDS, *, monitor: str | None = None, **options) -> Model:
    """:func:`cross_validate`, then one model trained on all rows for the chosen epochs. The
    callbacks with an ``on_fold_epoch(epoch, epochs, folds, running)`` method are told of the folds'
    progress (:func:`cross_validate`'s ``on_epoch``); all of them see the final run."""
    whole = encode_once(X, None, options)  # all rows: the width, and the final model's encoding
    width = whole[1].shape[1] if whole is not None else encoded_width(X, options)
    if options.get("hidden_sizes", "auto") == "auto":
        # one width for the folds and the final model, from all rows: a fold's encoding may
        # have a column fewer, and its own "auto" width would then be another architecture
        options["hidden_sizes"] = [auto_width(width)]
    callbacks = list(options.get("callbacks") or ())
    hooks = [cb.on_fold_epoch for cb in callbacks if hasattr(cb, "on_fold_epoch")]
    fold_options = {k: v for k, v in options.items() if k != "callbacks"}
    oof = []
    chosen = cross_validate(X, y, folds, monitor=monitor, width=width, held_out=oof,
                            on_epoch=(lambda *a: [hook(*a) for hook in hooks]) if hooks else None,
                            **{**fold_options, "diagnostics": False})
    final = train_once(X, y, encoded=whole, **{**options, "validation_fraction": 0.0, "patience": None,
                                               "epochs": chosen["epochs"]})
    final.record["selection"] = chosen
    final.held_out = oof[0] if oof else None
    warning = capped_warning(chosen["capped"], folds, chosen["max_epochs"], chosen["epochs"])
    if warning:
        final.record.setdefault("warnings", []).append(warning)
    return final
