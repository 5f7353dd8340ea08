"""The subcommands of ``handgrad``: each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ..errors import InputError
from .terminal import echo


def _load(args, features=None, target=None):
    from ..data import load_dataset

    if getattr(args, "data", None):
        return load_dataset(args.data, target=target, features=features)
    return load_dataset(args.dataset, features=features, data_dir=getattr(args, "data_dir", None),
                        download=getattr(args, "download", False))


def _rows(features, idx):
    """Rows ``idx`` of a feature matrix or of a table (a DataFrame, renumbered from 0)."""
    if hasattr(features, "iloc"):
        return features.iloc[idx].reset_index(drop=True)
    return features[idx]


def _model_data(args, model, target=None):
    """(features, labels or None, name) of --data/--dataset in the form ``model`` reads: the
    table's columns for a model with a table encoding, else the numeric matrix."""
    if model.encoder is not None:
        if not args.data:
            raise InputError("this model was trained on a table file; give one with --data FILE")
        from ..data import load_table_frame

        table = load_table_frame(args.data, target, columns=model.input_columns)
        for note in table.notes:
            echo(f"note: {note}", file=sys.stderr)
        if table.n_unlabelled:
            echo(f"note: {table.n_unlabelled} rows without a label in {target!r} were left out",
                 file=sys.stderr)
        return table.frame, table.y, table.name
    data = _load(args, features=model.feature_names, target=target if args.data else None)
    for note in data.notes:
        echo(f"note: {note}", file=sys.stderr)
    if data.X.shape[1] != model.n_features:
        raise InputError(f"the data has {data.X.shape[1]} features but the model takes {model.n_features}")
    return data.X, data.y, data.name


def _emit_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def cmd_train(args) -> int:
    from .draw import PlotWorker
    from .paths import train_outputs

    if args.data and not args.target:
        raise InputError("--data needs --target COLUMN: the name of the column holding the labels")
    if args.target and not args.data:
        raise InputError("--target goes with --data FILE (built-in datasets know their target)")
    # every output is checked before the data is read and the model trained (see cli/paths.py)
    outputs = train_outputs(args)
    # the plots' helper process starts now: it imports matplotlib while this one imports pandas
    # and reads the table (one core each) and trains (see cli/draw.py)
    worker = None if outputs.plot is None else PlotWorker()
    try:
        return _train(args, outputs, worker)
    finally:
        if worker is not None:
            worker.close()  # refused or interrupted: the helper goes too (no-op once it has drawn)


def _train(args, outputs, worker) -> int:
    from .draw import with_fold_curve
    from ..model.classifier import train_classifier
    from ..model.files import save_model
    from .terminal import TrainingProgress, markup, print_lines, print_metrics
    from ..training.loop import stratified_split
    from .paths import hold_train_outputs

    t0 = time.perf_counter()
    notes = []
    if args.data:  # a table file: its columns are encoded by rules the model keeps
        from ..data import load_table_frame

        table = load_table_frame(args.data, args.target)
        features, labels, name, names = table.frame, table.y, table.name, None
        notes += table.notes
        if table.n_unlabelled:
            notes.append(f"{table.n_unlabelled} rows without a label in {args.target!r} were left out")
        test_size = None
        shape = f"{len(features)} rows, {features.shape[1]} feature columns"
    else:
        data = _load(args, target=args.target)
        features, labels, name, names, test_size = data.X, data.y, data.name, data.feature_names, data.test_size
        shape = f"{data.X.shape[0]} samples, {data.X.shape[1]} features"
    if not 0 <= args.test_fraction < 1:
        raise InputError(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    if args.test or args.test_fraction == 0:  # every row trains; the test is a file or none
        train_idx, test_idx = np.arange(len(labels)), np.arange(0)
    elif test_size:  # e.g. MNIST: the official test split is the last rows
        n = features.shape[0]
        train_idx, test_idx = np.arange(n - test_size), np.arange(n - test_size, n)
    else:
        train_idx, test_idx = stratified_split(labels, args.test_fraction, args.seed,
                                               part="the test part (--test-fraction)",
                                               fix="pass --test-fraction 0 (no test) or --test FILE, "
                                                   "or give more rows")
    out_dir, model_path, plot_path = outputs.out_dir, outputs.model, outputs.plot
    hold_train_outputs(outputs, getattr(args, "resources", None))
    for note in outputs.notes:
        echo(f"note: {note}", file=sys.stderr)
    quiet = args.quiet or args.json
    progress = TrainingProgress(args.epochs, quiet=quiet)
    if not quiet:
        print_lines(markup("[bold]handgrad train[/] on {}: {}, {} classes ({} train incl. validation, "
                           "{} test)", name, shape, len(np.unique(labels)), len(train_idx), len(test_idx)))
    common = dict(feature_names=names, categorical=args.categorical, numeric=args.numeric,
                  drop=args.drop, max_categories=args.max_categories, id_columns=args.id_column,
                  dtype=args.dtype, optimizer=args.optimizer, schedule=args.schedule,
                  class_weight=args.class_weight, momentum=args.momentum,
                  weight_decay=args.weight_decay, data_parallel=getattr(args, "data_parallel", None),
                  record={"dataset": name, "target": args.target if args.data else data.target_name})
    monitor = None if args.val_fraction == 0 or args.metric is None else f"val_{args.metric}"
    if args.search:
        from .search import run_search
        model = run_search(args, _rows(features, train_idx), labels[train_idx], monitor, progress,
                           quiet, common)
    else:
        model = train_classifier(
            _rows(features, train_idx), labels[train_idx], refit=args.refit, monitor=monitor,
            validation_fraction="auto" if args.val_fraction is None else args.val_fraction,
            hidden_sizes=args.hidden or "auto", activation=args.activation, l2=args.l2,
            lr=args.lr, epochs=args.epochs, batch_size=args.batch_size or "auto",
            patience=args.patience or None, seed=args.seed, callbacks=[progress],
            checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
            resume=args.resume, **common)
    notes += (model.record.get("table") or {}).get("notes", [])
    if 0 < model.record["n_val"] < 30:
        notes.append(f"the validation part has only {model.record['n_val']} rows: early stopping "
                     "chooses the epoch on very few rows, so expect noisy results (a larger "
                     "--val-fraction helps)")
    history = model.record["history"]
    selection = model.record.get("selection")
    if selection:
        notes.append(f"{selection['method']} chose {selection['epochs']} epochs (the median of the "
                     f"folds' best: {', '.join(map(str, selection['best_epochs']))}); the model then "
                     f"trained on all {model.record['n_train']} rows")
    if args.test:
        test_X, test_y, test_file = _model_data(argparse.Namespace(data=args.test), model,
                                                model.record["target"])
        test_name = f"test set ({test_file})"
    else:
        test_X, test_y, test_name = _rows(features, test_idx), labels[test_idx], "test set"
    test = _score(model, test_X, test_y) if len(test_y) else None
    if test is not None:
        model.record["test"] = {k: test[k] for k in ("accuracy", "balanced_accuracy", "n_samples")}
        model.record["test"]["data"] = test_name
    if worker is not None:  # drawn by the helper process while the model is saved
        restored = history["best_epoch"] if args.patience and not selection else None
        jobs = [("plot_learning_curves", [history["epochs"], str(plot_path)],
                 {"best_epoch": restored, "title": f"handgrad on {name}: {model.net!r}"})]
        if selection and selection.get("curve"):  # the folds' mean validation curve beside the final run
            jobs[0] = ("plot_learning_curves", [with_fold_curve(history["epochs"], selection["curve"]),
                                                str(plot_path)],
                       {"best_epoch": selection["epochs"], "best_label": "epochs chosen",
                        "val_label": f"validation (mean of {selection['folds']} folds)",
                        "title": f"handgrad on {name}: {model.net!r}"})
        if test is not None:
            jobs.append(("plot_confusion_matrix", [test["confusion_matrix"], [str(c) for c in model.classes],
                                                   str(out_dir / "confusion_matrix.png")],
                         {"title": f"{test_name} of {name}"}))
        jobs.append(("plot_diagnostics", [history["epochs"], str(out_dir / "diagnostics.png")], {}))
        worker.submit(jobs)
    save_model(model, model_path)
    if worker is not None:
        worker.wait()
    elapsed = time.perf_counter() - t0
    result = {"dataset": name, "model": repr(model.net), "notes": notes, "n_train": model.record["n_train"],
              "n_val": model.record["n_val"], "n_test": 0 if test is None else test["n_samples"],
              "epochs_run": len(history["epochs"]), "best_epoch": history["best_epoch"],
              "stop_reason": history["stop_reason"], "selection": selection,
              "test_accuracy": None if test is None else test["accuracy"],
              "test": test and {k: v for k, v in test.items() if k not in ("per_class", "confusion_matrix")},
              "per_class": test and test["per_class"],
              "confusion_matrix": test and test["confusion_matrix"],
              "model_path": str(model_path), "plot_path": None if plot_path is None else str(plot_path),
              "time_seconds": round(elapsed, 3)}
    if model.record.get("search"):
        result["search"] = model.record["search"]
    if args.json:
        _emit_json(result)
    elif not args.quiet:
        last = history["epochs"][-1]
        print_lines(*[f"note: {n}" for n in notes])
        if model.record.get("search"):
            from .search import print_leaderboard
            print_leaderboard(model.record["search"])
        print_lines(f"network: {model.net!r}",
                    f"stopped after {len(history['epochs'])} epochs: {history['stop_reason']}"
                    + (f"; restored the weights of epoch {history['best_epoch']}"
                       if args.patience and not selection else ""),
                    f"final epoch: train loss {last['train_loss']:.4f} (data {last['train_data_loss']:.4f} + "
                    f"L2 {last['train_l2_loss']:.4f})")
        if test is None:
            print_lines("no test part (--test-fraction 0): every row trained the model")
        else:
            print_metrics(test, test_name)
        print_lines(f"model saved to {model_path}",
                    *([f"learning curves saved to {plot_path}; confusion matrix and backprop "
                       f"diagnostics next to it in {out_dir}"] if plot_path else []),
                    f"done in {elapsed:.1f}s")
    else:
        echo(("no test part" if test is None else f"test accuracy {test['accuracy']:.4f}")
             + f"; model saved to {model_path}")
    return 0


def _score(model, X, y) -> dict:
    """The classification summary of ``model`` on features ``X`` and original labels ``y``
    (a label the model never saw is refused)."""
    from .evaluation import classification_summary

    y_true = model.encode(y)
    proba = model.predict_proba(X)
    return classification_summary(y_true, np.argmax(proba, axis=1), model.classes, proba)


def _evaluation_data(args, model):
    target = args.target or model.record.get("target")
    if args.data and not target:
        raise InputError("this model does not record its target column; pass --target COLUMN")
    X, y, name = _model_data(args, model, target)
    if y is None:
        raise InputError(f"{args.data or args.dataset} has no target column {target!r} to evaluate against")
    return X, y, name


def cmd_evaluate(args) -> int:
    from ..model.files import load_model
    from .terminal import print_metrics

    model = load_model(args.model)
    X, y, name = _evaluation_data(args, model)
    summary = _score(model, X, y)
    if args.json:
        _emit_json({"model_path": args.model, "data": name, **summary})
    else:
        print_metrics(summary, f"{name}")
    return 0


def cmd_predict(args) -> int:
    from ..model.files import load_model
    from .paths import predict_output
    from .predictions import prediction_header, prediction_rows, write_predictions

    out_path = predict_output(args)  # checked before any work; None: standard output
    model = load_model(args.model)
    ids = []
    if model.encoder is not None and args.data:  # copy the rows' identifiers into the output
        from ..data import load_table_frame

        table = load_table_frame(args.data)
        for note in table.notes:
            echo(f"note: {note}", file=sys.stderr)
        ids = [c for c in model.encoder.id_column_names if c in table.frame.columns]
        X = table.frame
    else:
        X, _, _ = _model_data(args, model)
    proba = model.predict_proba(X)
    rows = prediction_rows(model, proba, args.proba, [X[c].tolist() for c in ids])
    write_predictions(args, out_path, prediction_header(model, ids, args.proba), rows,
                      lambda: len(proba), ids)
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(epochs=args.epochs, lr=args.lr, seed=args.seed)
    return 0


def cmd_gradcheck(args) -> int:
    from ..gradcheck import gradcheck
    from ..network import MLP

    net = MLP(args.sizes, activation=args.activation, l2=args.l2, dtype=args.dtype, seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    X = rng.standard_normal((args.samples, net.sizes[0]))
    y = rng.integers(0, net.n_classes, size=args.samples)
    report = gradcheck(net, X, y, part=args.part, max_entries=args.max_entries)
    print(report)
    return 0 if report.passed else 1
