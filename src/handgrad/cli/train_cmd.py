"""``handgrad train`` in memory: read the data, decide the task, hold out the test part, train
(:func:`~handgrad.model.classifier.train_model`, or the search), score the test part, draw,
save, and report — for classes and numbers alike."""

from __future__ import annotations

import sys
import time

import numpy as np

from ..data.features import CLI_SCALING
from ..errors import InputError
from . import insight
from .commands import _load, _rows, _score
from .train_report import _plot_jobs, report
from .terminal import echo


def cmd_train(args) -> int:
    from .draw import PlotWorker
    from .paths import train_outputs
    from .test_file import check_test_path

    if args.data and not args.target:
        raise InputError("--data needs --target COLUMN: the name of the column holding the labels")
    if args.target and not args.data:
        raise InputError("--target goes with --data FILE (built-in datasets know their target)")
    # every output, and the --test file, is checked before the data is read and the model
    # trained (see cli/paths.py, cli/test_file.py)
    check_test_path(args)
    outputs = train_outputs(args)
    # the plots' helper process starts now: it imports matplotlib while this one imports pandas
    # and reads the table (one core each) and trains (see cli/draw.py)
    worker = None if outputs.plot is None else PlotWorker()
    try:
        return _train(args, outputs, worker)
    finally:
        if worker is not None:
            worker.close()  # refused or interrupted: the helper goes too (no-op once it has drawn)


def _read(args):
    """(features, targets, name, feature names, official test size, task, notes, shape text,
    target column name)."""
    if args.data:  # a table file: its columns are encoded by rules the model keeps
        from ..data import load_table_frame

        table = load_table_frame(args.data, args.target, task=args.task)
        notes = list(table.notes)
        if table.n_unlabelled:
            what = "value" if table.task == "regression" else "label"
            notes.append(f"{table.n_unlabelled} rows without a {what} in {args.target!r} were left out")
        return (table.frame, table.y, table.name, None, None, table.task, notes,
                f"{len(table.frame)} rows, {table.frame.shape[1]} feature columns", args.target)
    data = _load(args, target=args.target)
    if args.task not in ("auto", data.task):
        raise InputError(f"the built-in {data.name!r} dataset is a {data.task}; drop --task {args.task}")
    return (data.X, data.y, data.name, data.feature_names, data.test_size, data.task, list(data.notes),
            f"{data.X.shape[0]} samples, {data.X.shape[1]} features", data.target_name)


def _test_split(args, labels, task: str, n: int, test_size):
    from ..training.loop import stratified_split
    from ..training.splits import rank_strata

    if args.test or args.test_fraction == 0:  # every row trains; the test is a file or none
        return np.arange(len(labels)), np.arange(0)
    if test_size:  # e.g. MNIST: the official test split is the last rows
        return np.arange(n - test_size), np.arange(n - test_size, n)
    # a regression's test part holds one row of every group of neighbours in the target's order
    strata = rank_strata(labels, round(1 / args.test_fraction)) if task == "regression" else labels
    return stratified_split(strata, args.test_fraction, args.seed, part="the test part (--test-fraction)",
                            fix="pass --test-fraction 0 (no test) or --test FILE, or give more rows")


def _ensemble(args):
    """The ensemble the run trains: ``--ensemble K``; by default 8 ("auto": one network when
    the members would not fit in memory)."""
    return "auto" if getattr(args, "ensemble_default", False) and args.ensemble > 1 else args.ensemble


def _train(args, outputs, worker) -> int:
    from ..model.classifier import train_model
    from ..model.files import save_model
    from .paths import hold_train_outputs
    from .terminal import TrainingProgress, markup, print_lines

    t0 = time.perf_counter()
    features, labels, name, names, test_size, task, notes, shape, target = _read(args)
    if hasattr(features, "columns"):
        from .options import check_named_columns

        check_named_columns(args, [str(c) for c in features.columns], name)
    regression = task == "regression"
    if not regression and (args.loss or args.huber_delta is not None or args.target_transform):
        raise InputError("--loss, --huber-delta and --target-transform apply to regression; the target "
                         f"{target!r} was read as classes (--task regression to predict it as a number)")
    if regression and args.class_weight:
        raise InputError("--class-weight applies to classes; the target is a number (regression)")
    if regression and args.label_smoothing:
        raise InputError("--label-smoothing applies to classes (it softens one-hot targets); the target is "
                         "a number (regression): drop it")
    if args.metric in ("accuracy", "balanced_accuracy", "macro_f1") and regression:
        raise InputError(f"--metric {args.metric} scores classes; for a regression use rmse, mae, r2 or loss")
    if args.metric in ("rmse", "mae", "r2") and not regression:
        raise InputError(f"--metric {args.metric} scores numbers; for classes use accuracy, "
                         "balanced_accuracy, macro_f1 or loss")
    _check_calibration(args, labels, regression)
    train_idx, test_idx = _test_split(args, labels, task, features.shape[0], test_size)
    common = dict(feature_names=names, categorical=args.categorical, numeric=args.numeric,
                  drop=args.drop, max_categories=args.max_categories, id_columns=args.id_column,
                  scaling=args.scaling or CLI_SCALING, calibrate=args.calibrate or "none",
                  threshold_metric=args.threshold_metric,
                  dtype=args.dtype, optimizer=args.optimizer, schedule=args.schedule,
                  class_weight=args.class_weight, momentum=args.momentum,
                  **({"label_smoothing": args.label_smoothing} if args.label_smoothing is not None else {}),
                  **({"dropout": args.dropout} if args.dropout else {}),
                  weight_decay=args.weight_decay, data_parallel=getattr(args, "data_parallel", None),
                  record={"dataset": name, "target": target},
                  task=task)
    test_file = None
    if args.test:  # read and checked now: a mistake in it must not cost the training
        from .test_file import read_test

        test_file = read_test(args, features, labels, task, target, names, common)
        notes += test_file.notes
    hold_train_outputs(outputs, getattr(args, "resources", None))
    for note in outputs.notes:
        echo(f"note: {note}", file=sys.stderr)
    quiet = args.quiet or args.json
    progress = TrainingProgress(args.epochs, quiet=quiet)
    if not quiet:
        what = (f"regression of {target!r}" if regression
                else f"{len(np.unique(labels))} classes")
        print_lines(markup("[bold]handgrad train[/] on {}: {}, {} ({} train incl. validation, "
                           "{} test)", name, shape, what, len(train_idx), len(test_idx)))
    if regression:
        common.update(loss=args.loss or "squared", target_transform=args.target_transform or "auto",
                      target_names=[target],
                      huber_delta=1.0 if args.huber_delta is None else args.huber_delta)
    monitor = None if args.val_fraction == 0 or args.metric is None else f"val_{args.metric}"
    if args.search:
        from .search import run_search
        model = run_search(args, _rows(features, train_idx), labels[train_idx], monitor, progress,
                           quiet, common)
    else:
        model = train_model(
            _rows(features, train_idx), labels[train_idx], refit=args.refit, monitor=monitor,
            validation_fraction="auto" if args.val_fraction is None else args.val_fraction,
            hidden_sizes=args.hidden or "auto", activation=args.activation, l2=args.l2,
            lr=args.lr, epochs=args.epochs, batch_size=args.batch_size or "auto",
            patience=args.patience or None, seed=args.seed, callbacks=[progress],
            checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
            resume=args.resume, ensemble=_ensemble(args), ranks=getattr(args, "ranks", None), **common)
    notes += (model.record.get("table") or {}).get("notes", [])
    notes += (model.record.get("target_scaling") or {}).get("notes", [])
    if 0 < model.record["n_val"] < 30:
        notes.append(f"the validation part has only {model.record['n_val']} rows: early stopping "
                     "chooses the epoch on very few rows, so expect noisy results (a larger "
                     "--val-fraction helps)")
    history = model.record["history"]
    selection = model.record.get("selection")
    if selection:
        capped = selection.get("capped")  # the folds that ran to --epochs (warned of when half did)
        notes.append(f"{selection['method']} chose {selection['epochs']} epochs (the median of the "
                     f"folds' best: {', '.join(map(str, selection['best_epochs']))}"
                     + (f"; {capped} of them ran to the --epochs cap" if capped else "")
                     + f"); the model then trained on all {model.record['n_train']} rows")
    if model.record.get("ensemble_skipped"):
        notes.append(model.record["ensemble_skipped"])
    elif getattr(args, "ensemble_why", None) and not args.search:
        notes.append(args.ensemble_why)
    ensemble = model.record.get("ensemble")
    if ensemble:
        kept = [m for m in ensemble["members"] if m["weight"] > 0]
        cv = "cross-validation" in ensemble["held_out"]
        notes.append(f"ensemble: {len(kept)} of {len(ensemble['members'])} networks kept by greedy "
                     f"selection on {ensemble['held_out']}, weights {', '.join(format(m['weight'], '.2f') for m in kept)}, "
                     f"epochs {', '.join(str(m['epochs']) for m in kept)} "
                     + (f"(each the median of its folds' best; then trained on all {model.record['n_train']} rows) "
                        if cv else "(each its best on the validation part) ")
                     + "(handgrad info lists every member's settings and held-out score)")
    resumed = history.get("resumed_from")
    if resumed:
        notes[:0] = [resumed_note(resumed, args.checkpoint_dir, len(history["epochs"])),
                     *resumed["skipped"]]
    if test_file is not None:
        test_X, test_y, test_name = test_file.X, test_file.y, f"test set ({test_file.name})"
    else:
        test_X, test_y, test_name = _rows(features, test_idx), labels[test_idx], "test set"
    test, test_pred = _score(model, test_X, test_y, with_predictions=True) if len(test_y) else (None, None)
    imp = None
    if test is not None:
        keep = ("r2", "rmse", "mae", "n_samples") if regression else ("accuracy", "balanced_accuracy", "n_samples")
        model.record["test"] = {k: test[k] for k in keep}
        model.record["test"]["data"] = test_name
        imp = _importance(args, model, test_X, test_y, test_name)
    if worker is not None:  # drawn by the helper process while the model is saved
        worker.submit(_plot_jobs(args, model, outputs, name, test, test_name, test_y, test_pred)
                      + insight.plot_jobs(model, test, test_y, test_pred, imp, outputs.out_dir, f"{test_name} of {name}"))
    save_model(model, outputs.model, inputs=[args.data, args.test])
    if worker is not None:
        worker.wait()
    report(args, model, test, test_name, notes, outputs, time.perf_counter() - t0)
    return 0


def _check_calibration(args, labels, regression: bool) -> None:
    """--calibrate and --threshold-metric, refused before training where they cannot apply."""
    asked = [f for f, v in (("--calibrate temperature", args.calibrate == "temperature"),
                            (f"--threshold-metric {args.threshold_metric}", args.threshold_metric)) if v]
    if not asked:
        return
    if regression:
        raise InputError(f"{' and '.join(asked)} appl{'y' if len(asked) > 1 else 'ies'} to classes; the "
                         "target is a number (regression): drop it")
    if args.val_fraction == 0:
        raise InputError(f"{' and '.join(asked)} need{'' if len(asked) > 1 else 's'} rows the model does not "
                         "train on (out-of-fold or a validation part): drop --val-fraction 0")
    if args.threshold_metric and len(np.unique(labels)) != 2:
        raise InputError(f"--threshold-metric chooses the cut between two classes; the target has "
                         f"{len(np.unique(labels))}: drop it")


def _importance(args, model, X, y, where: str) -> dict | None:
    """Permutation importance on the test part, into the model's record (``info`` shows it),
    when it is affordable (else a note says how to ask for it); None when not computed."""
    repeats = insight.summary_repeats(model, len(y))
    if not repeats:
        model.record["importance"] = {"skipped": f"more than {insight.SUMMARY_SECONDS:g} s of shuffles for "
                                                 "train's summary; run handgrad evaluate MODEL --data FILE --importance"}
        return None
    imp = insight.importance(model, X, y, repeats=repeats, seed=args.seed)
    model.record["importance"] = {"data": where, **imp}
    return imp


def resumed_note(resumed: dict, directory, epochs: int) -> str:
    """The note of a run that continued from a checkpoint: which, and from which epoch."""
    done, batch = resumed["epoch"], resumed["batch"]
    where = (f"in epoch {done + 1} after {batch} batches" if batch
             else f"after epoch {done}" if done else "at the start")
    return (f"resumed from the checkpoint {resumed['checkpoint']} in {directory} {where}: this run "
            f"trained epochs {done + 1}–{epochs}" if epochs > done else
            f"resumed from the checkpoint {resumed['checkpoint']} in {directory} {where}: no epoch was left to train")
