"""The subcommands of ``handgrad``: each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import json
import sys

import numpy as np

from ..errors import InputError
from .terminal import echo


def _load(args, features=None, target=None, task="classification", labels=True):
    from ..data import load_dataset

    if getattr(args, "data", None):
        return load_dataset(args.data, target=target, features=features, task=task, labels=labels)
    return load_dataset(args.dataset, features=features, data_dir=getattr(args, "data_dir", None),
                        download=getattr(args, "download", False))


def _rows(features, idx):
    """Rows ``idx`` of a feature matrix or of a table (a DataFrame, renumbered from 0)."""
    if hasattr(features, "iloc"):
        return features.iloc[idx].reset_index(drop=True)
    return features[idx]


def _model_data(args, model, target=None, labels=True):
    """(features, labels or None, name) of --data/--dataset in the form ``model`` reads: the
    table's columns for a model with a table encoding, else the numeric matrix (without the
    ``target`` column, whose labels are read unless ``labels`` is False)."""
    if model.encoder is not None:
        if not args.data:
            raise InputError("this model was trained on a table file; give one with --data FILE")
        from ..data import load_table_frame

        table = load_table_frame(args.data, target, columns=model.input_columns, task=model.task)
        for note in table.notes:
            echo(f"note: {note}", file=sys.stderr)
        if table.n_unlabelled:
            echo(f"note: {table.n_unlabelled} rows without a label in {target!r} were left out",
                 file=sys.stderr)
        return table.frame, table.y, table.name
    data = _load(args, features=model.feature_names, target=target if args.data else None, task=model.task,
                 labels=labels)
    for note in data.notes:
        echo(f"note: {note}", file=sys.stderr)
    if data.X.shape[1] != model.n_features:
        raise InputError(f"the data has {data.X.shape[1]} features but the model takes {model.n_features}")
    return data.X, data.y, data.name


def _emit_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _score(model, X, y, with_predictions: bool = False):
    """The classification summary of ``model`` on features ``X`` and original labels ``y``
    (a label the model never saw is refused), or a regressor's summary against the numbers
    ``y``, with always predicting the training mean as the baseline; with
    ``with_predictions``, (summary, a regressor's predictions or a classifier's probabilities)."""
    from .evaluation import classification_summary, regression_summary

    if model.is_regressor:
        from ..model.model import check_regression_targets

        y_true = check_regression_targets(y, model.net.n_outputs)
        pred = model.predict(X)
        mean = (model.record.get("target_summary") or {}).get("mean")
        summary = regression_summary(y_true, pred, y_true.mean(axis=0) if mean is None else mean,
                                     model.target_names)
        return (summary, pred) if with_predictions else summary
    y_true = model.encode(y)
    proba = model.predict_proba(X)
    with np.errstate(divide="ignore"):  # the model's own rule: its threshold, if it has one
        y_pred = model.encode(model.labels_of(np.log(proba)))
    summary = classification_summary(y_true, y_pred, model.classes, proba)
    return (summary, proba) if with_predictions else summary


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
    from .terminal import print_lines, print_metrics, print_regression_metrics

    model = load_model(args.model)
    X, y, name = _evaluation_data(args, model)
    summary = _score(model, X, y)
    imp = None
    if args.importance:
        from .insight import importance

        if args.repeats < 1:
            raise InputError(f"--repeats must be ≥ 1, got {args.repeats}")
        imp = importance(model, X, y, repeats=args.repeats, seed=args.seed)
    if args.json:
        _emit_json({"model_path": args.model, "data": name, "task": model.task, **summary,
                    **({"importance": imp} if imp is not None else {})})
        return 0
    if model.is_regressor:
        print_regression_metrics(summary, f"{name}")
    else:
        print_metrics(summary, f"{name}")
    if imp is not None:
        from .insight import gradient_lines, importance_lines

        print_lines(*importance_lines(imp, f"on {name}", top=len(imp["columns"])), *gradient_lines(imp))
    return 0


def cmd_predict(args) -> int:
    from ..model.files import load_model
    from .paths import predict_output
    from .predictions import prediction_header, prediction_rows, write_predictions

    out_path = predict_output(args)  # checked before any work; None: standard output
    model = load_model(args.model)
    refuse_proba(args, model)
    ids = []
    if model.encoder is not None and args.data:  # copy the rows' identifiers into the output
        from ..data import load_table_frame

        table = load_table_frame(args.data, columns=model.input_columns,
                                 optional=model.encoder.id_column_names)
        for note in table.notes:
            echo(f"note: {note}", file=sys.stderr)
        ids = [c for c in model.encoder.id_column_names if c in table.frame.columns]
        X = table.frame
    else:  # --target names a column that is no feature (a model without feature names reads the rest)
        X, _, _ = _model_data(args, model, args.target, labels=False)
    proba = model.predict(X) if model.is_regressor else model.predict_proba(X)
    rows = prediction_rows(model, proba, args.proba, [X[c].tolist() for c in ids])
    write_predictions(args, out_path, prediction_header(model, ids, args.proba), rows,
                      lambda: len(proba), ids)
    return 0


def refuse_proba(args, model) -> None:
    """``predict --proba`` of a regressor: there are no probabilities to write. ``--threshold
    T``: the two-class model's cut for this run, in place of its own."""
    if getattr(args, "proba", False) and model.is_regressor:
        raise InputError("--proba writes class probabilities; this model is a regressor (it predicts "
                         "numbers): drop --proba")
    t = getattr(args, "threshold", None)
    if t is not None:
        if model.is_regressor or model.classes.size != 2:
            raise InputError("--threshold cuts between two classes; this model "
                             + ("predicts numbers" if model.is_regressor else f"has {model.classes.size} classes")
                             + ": drop --threshold")
        if not 0 < t < 1:
            raise InputError(f"--threshold must be in (0, 1) (the probability of {model.classes[1]!s} from which "
                             f"it is predicted), got {t:g}")
        model.threshold = float(t)


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
