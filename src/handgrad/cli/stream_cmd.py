"""``handgrad train --stream-buffer N`` and ``handgrad predict`` on Parquet: tables larger than
memory, read a record batch at a time (:mod:`handgrad.data.stream`).

Training holds in memory a buffer of N training rows (:func:`handgrad.training.streaming.fit_stream`
shuffles and steps through each fill), a test and a validation part of at most N rows each
(seeded samples of the file's rows), and one record batch being read. Prediction holds one
record batch and its probabilities, writing their rows before reading the next.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import time

import numpy as np

from ..errors import InputError
from ..validation import check_count
from .commands import _emit_json, _score
from .terminal import echo, markup, print_lines, print_metrics

TRAIN_FIX = "train without --stream-buffer (the in-memory path reads such tables)"
# options of the in-memory path that streaming does not take, and why (one line each)
_REFUSED = {"search": "--search", "refit": "--refit", "checkpoint_dir": "--checkpoint-dir",
            "resume": "--resume", "test": "--test FILE", "class_weight": "--class-weight",
            "categorical": "--categorical", "numeric": "--numeric", "drop": "--drop",
            "id_column": "--id-column"}


def cmd_train_streaming(args) -> int:
    """``train --data FILE.parquet --target COLUMN --stream-buffer N``: see the module docstring."""
    from ..data.preprocessing import LabelEncoder
    from ..data.stream import ParquetSource, split_rows
    from ..model.once import auto_batch_size, auto_width
    from ..model.files import save_model
    from ..model.model import Model
    from ..network import MLP
    from ..training.streaming import fit_stream
    from .paths import hold_train_outputs, train_outputs
    from .terminal import TrainingProgress

    buffer = _check_streaming_options(args)
    outputs = train_outputs(args)
    t0 = time.perf_counter()
    source = ParquetSource(args.data, args.target, read_rows=min(buffer, 4096), fix=TRAIN_FIX)
    source.refuse_non_numeric()
    val_fraction = 0.1 if args.val_fraction is None else args.val_fraction
    test, val = split_rows(source.n_rows, args.test_fraction, val_fraction, buffer, args.seed)
    n_train = source.n_rows - test.size - val.size
    batch_size = args.batch_size or auto_batch_size(n_train)
    if batch_size > buffer:
        raise InputError(f"--stream-buffer {buffer} holds fewer rows than one batch ({batch_size}); "
                         "give a buffer of many batches (e.g. --stream-buffer 100000)")
    hold_train_outputs(outputs, getattr(args, "resources", None))
    quiet = args.quiet or args.json
    if not quiet:
        print_lines(markup("[bold]handgrad train[/] streaming {}: {} rows in {} row groups, {} feature "
                           "columns ({} train, {} validation, {} test; buffer {} rows)", source.path.name,
                           source.n_rows, source.n_groups, len(source.features), n_train, val.size,
                           test.size, buffer))
    held = np.union1d(test, val)
    scaler, classes, [(test_X, test_y), (held_X, held_y)] = source.scan([test, val])  # the first pass
    d = len(source.features)
    net = MLP([d, *(args.hidden or [auto_width(d)]), len(classes)], activation=args.activation,
              l2=args.l2, dtype=args.dtype, seed=args.seed)
    X_val = scaler.transform(held_X, dtype=net.dtype) if val.size else None
    y_val = LabelEncoder(classes).transform(held_y) if val.size else None
    del held_X  # only the standardised copy stays
    cap = buffer // batch_size * batch_size  # whole batches per fill: one short batch per epoch

    def fills(rng):  # each epoch: the row groups in a seeded order
        return source.buffers(rng.permutation(source.n_groups), cap, held, scaler, classes, net.dtype)

    monitor = None if not val.size else f"val_{args.metric or 'accuracy'}"
    history = fit_stream(net, fills, n_train, X_val=X_val, y_val=y_val, epochs=args.epochs,
                         batch_size=batch_size, optimizer=args.optimizer, lr=args.lr,
                         schedule=args.schedule, momentum=args.momentum,
                         weight_decay=args.weight_decay, patience=args.patience or None,
                         monitor=monitor, seed=args.seed, callbacks=[TrainingProgress(args.epochs, quiet)])
    hyper = {"hidden_sizes": net.sizes[1:-1], "activation": [a.name for a in net.activations],
             "l2": args.l2, "dtype": net.dtype.name, "optimizer": args.optimizer, "lr": args.lr,
             "schedule": args.schedule, "epochs": args.epochs, "batch_size": batch_size,
             "validation_fraction": val_fraction, "patience": args.patience or None,
             "seed": args.seed, "standardize": True}
    record = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "hyperparameters": hyper, "n_train": n_train, "n_val": int(val.size),
              "history": history.to_dict(), "dataset": source.path.name, "target": args.target,
              "streaming": {"buffer_rows": buffer, "rows_per_fill": cap, "read_rows": source.read_rows,
                            "row_groups": source.n_groups, "n_rows": source.n_rows}}
    model = Model(net, classes, scaler, source.features, record)
    summary = _score(model, test_X, test_y) if test.size else None
    if summary is not None:
        record["test"] = {**{k: summary[k] for k in ("accuracy", "balanced_accuracy", "n_samples")},
                          "data": "test set (a sample of the file's rows)"}
    save_model(model, outputs.model)
    _report(args, model, summary, outputs.model, time.perf_counter() - t0)
    return 0


def _check_streaming_options(args) -> int:
    """The buffer's rows, after refusing what streaming does not do (one line each)."""
    buffer = check_count(args.stream_buffer, "--stream-buffer")
    if not args.data:
        raise InputError("--stream-buffer streams a Parquet file: give it with --data FILE.parquet "
                         "--target COLUMN")
    if not args.target:
        raise InputError("--data needs --target COLUMN: the name of the column holding the labels")
    for dest, flag in _REFUSED.items():
        if getattr(args, dest, None):
            raise InputError(f"{flag} does not work with --stream-buffer; {TRAIN_FIX}")
    if not 0 <= args.test_fraction < 1:
        raise InputError(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    return buffer


def _report(args, model, test, model_path, elapsed: float) -> None:
    """What ``train`` prints at the end (JSON, one line, or the summary and test metrics)."""
    history, record = model.record["history"], model.record
    if args.json:
        _emit_json({"dataset": record["dataset"], "model": repr(model.net), "n_train": record["n_train"],
                    "n_val": record["n_val"], "n_test": 0 if test is None else test["n_samples"],
                    "epochs_run": len(history["epochs"]), "best_epoch": history["best_epoch"],
                    "stop_reason": history["stop_reason"], "streaming": record["streaming"],
                    "test_accuracy": None if test is None else test["accuracy"],
                    "model_path": str(model_path), "time_seconds": round(elapsed, 3)})
    elif args.quiet:
        echo(("no test part" if test is None else f"test accuracy {test['accuracy']:.4f}")
             + f"; model saved to {model_path}")
    else:
        restored = history["best_epoch"] if args.patience else None
        print_lines(f"network: {model.net!r}",
                    f"stopped after {len(history['epochs'])} epochs: {history['stop_reason']}"
                    + (f"; restored the weights of epoch {restored}" if restored else ""))
        if test is not None:
            print_metrics(test, "test set")
        print_lines(f"model saved to {model_path}", f"done in {elapsed:.1f}s")


def cmd_predict_parquet(args) -> int:
    """``predict MODEL --data FILE.parquet``: streamed, a record batch at a time, when the model
    reads numeric features and the file holds them as numbers; else the in-memory ``predict``."""
    from ..data.stream import ParquetSource
    from ..model.files import load_model
    from .commands import cmd_predict, refuse_proba
    from .paths import predict_output
    from .predictions import prediction_header, prediction_rows, write_predictions

    out_path = predict_output(args)
    model = load_model(args.model)
    refuse_proba(args, model)
    source = None
    if model.encoder is None:
        source = ParquetSource(args.data, features=model.feature_names,
                               fix="predict needs a number in every feature cell; remove or impute such rows")
    if source is None or not all(source.numeric) or len(source.features) != model.n_features:
        return cmd_predict(args)  # a table encoding, text cells or a mismatch: its own messages
    out = model.predict if model.is_regressor else model.predict_proba
    rows = itertools.chain.from_iterable(prediction_rows(model, out(X), args.proba)
                                         for _, X, _ in source.chunks(range(source.n_groups)))
    write_predictions(args, out_path, prediction_header(model, (), args.proba), rows,
                      lambda: source.n_rows)
    return 0


def predict_command(args) -> int:
    """``handgrad predict``: streamed for a Parquet file (:func:`cmd_predict_parquet`)."""
    from ..data.stream import is_parquet
    from .commands import cmd_predict

    return (cmd_predict_parquet if is_parquet(args.data) else cmd_predict)(args)


def train_command(args) -> int:
    """``handgrad train``: streamed with ``--stream-buffer`` (:func:`cmd_train_streaming`)."""
    from .train_cmd import cmd_train

    return (cmd_train if getattr(args, "stream_buffer", None) is None else cmd_train_streaming)(args)
