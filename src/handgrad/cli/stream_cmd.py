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
from ..memory_plan import MemoryPlan
from ..training.footprint import Fixes, add_training, data_bytes
from ..validation import check_count
from .commands import _score
from .terminal import markup, print_lines
from .train_report import report

TRAIN_FIX = "train without --stream-buffer (the in-memory path reads such tables)"
# options of the in-memory path that streaming does not take, and why (one line each)
_REFUSED = {"search": "--search", "refit": "--refit", "checkpoint_dir": "--checkpoint-dir",
            "resume": "--resume", "test": "--test FILE", "class_weight": "--class-weight",
            "categorical": "--categorical", "numeric": "--numeric", "drop": "--drop",
            "id_column": "--id-column", "label_smoothing": "--label-smoothing", "dropout": "--dropout"}


def cmd_train_streaming(args) -> int:
    """``train --data FILE.parquet --target COLUMN --stream-buffer N``: see the module docstring."""
    from ..data.preprocessing import LabelEncoder
    from ..data.stream import ParquetSource
    from ..data.stream_rows import split_rows
    from ..model.files import save_model
    from ..model.crossval import capped_warning
    from ..model.model import Model
    from ..model.once import auto_activation, auto_batch_size, auto_width
    from ..network import MLP
    from ..training.streaming import fit_stream
    from .paths import hold_train_outputs, train_outputs
    from .terminal import TrainingProgress

    buffer = _check_streaming_options(args)
    outputs = train_outputs(args)
    t0 = time.perf_counter()
    source = ParquetSource(args.data, args.target, read_rows=min(buffer, 4096), fix=TRAIN_FIX)
    source.refuse_non_numeric()
    notes = source.decide_target(args.task)
    regression = source.task == "regression"
    _check_task_options(args, regression)
    val_fraction = 0.1 if args.val_fraction is None else args.val_fraction
    # the held-out parts hold at most a buffer of rows each: a buffer past the file's rows
    # changes no part (nor a fill), so no more than the rows is ever planned or allocated
    test, val = split_rows(source.n_rows, args.test_fraction, val_fraction, min(buffer, source.n_rows),
                           args.seed)
    n_train = source.n_rows - test.size - val.size
    batch_size = min(args.batch_size or auto_batch_size(n_train), max(n_train, 1))  # as in memory
    if batch_size > buffer:
        raise InputError(f"--stream-buffer {buffer} holds fewer rows than one batch ({batch_size}); "
                         "give a buffer of many batches (e.g. --stream-buffer 100000)")
    # whole batches per fill (one short batch per epoch), and never more than the training rows
    cap = min(buffer // batch_size * batch_size, n_train)
    d, hidden = len(source.features), args.hidden or [auto_width(len(source.features))]
    # checked before the first pass reads the held-out rows: the width of a classifier's output
    # layer is a guess until the classes are read (two), then checked again with it
    _stream_plan(args, [d, *hidden, 1 if regression else 2], batch_size, cap, test.size, val.size, source.read_rows).check()
    hold_train_outputs(outputs, getattr(args, "resources", None))
    quiet = args.quiet or args.json
    if not quiet:
        print_lines(markup("[bold]handgrad train[/] streaming {}: {} rows in {} row groups, {} feature "
                           "columns ({} train, {} validation, {} test; buffer {} rows)", source.path.name,
                           source.n_rows, source.n_groups, len(source.features), n_train, val.size,
                           test.size, min(buffer, n_train)))
    held = np.union1d(test, val)
    scaler, classes, [(test_X, test_y), (held_X, held_y)] = source.scan([test, val])  # the first pass
    target, record = None, {}
    activation = auto_activation(args.activation, source.task)
    _stream_plan(args, [d, *hidden, 1 if regression else len(classes)], batch_size, cap, test.size, val.size,
                 source.read_rows).check()
    if regression:
        target, head, record = _target_scaling(args, classes)
        net = MLP([d, *hidden, 1], activation=activation, l2=args.l2, dtype=args.dtype,
                  seed=args.seed, **head)
        def encode(y):  # the network's targets: (m, 1) in its dtype, scaled
            return net.check_y(target.transform(y)[:, None], len(y))
    else:
        net = MLP([d, *hidden, len(classes)], activation=activation, l2=args.l2, dtype=args.dtype,
                  seed=args.seed)
        encode = LabelEncoder(classes).transform
    X_val = scaler.transform(held_X, dtype=net.dtype) if val.size else None
    y_val = encode(held_y) if val.size else None
    del held_X  # only the standardised copy stays

    def fills(rng):  # each epoch: the row groups in a seeded order
        return source.buffers(rng.permutation(source.n_groups), cap, held, scaler, encode, net.dtype)

    default = "loss" if regression else "accuracy"
    monitor = None if not val.size else f"val_{args.metric or default}"
    history = fit_stream(net, fills, n_train, X_val=X_val, y_val=y_val, epochs=args.epochs,
                         batch_size=batch_size, optimizer=args.optimizer, lr=args.lr,
                         schedule=args.schedule, momentum=args.momentum,
                         weight_decay=args.weight_decay, patience=args.patience or None,
                         monitor=monitor, seed=args.seed, callbacks=[TrainingProgress(args.epochs, quiet)])
    hyper = {"hidden_sizes": net.sizes[1:-1], "activation": [a.name for a in net.activations],
             "l2": args.l2, "dtype": net.dtype.name, "optimizer": args.optimizer, "lr": args.lr,
             "schedule": args.schedule, "epochs": args.epochs, "batch_size": batch_size,
             "validation_fraction": val_fraction, "patience": args.patience or None,
             "seed": args.seed, "standardize": True, **record.pop("hyperparameters", {})}
    record.update({"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   "hyperparameters": hyper, "n_train": n_train, "n_val": int(val.size),
                   "history": history.to_dict(), "dataset": source.path.name, "target": args.target,
                   "streaming": {"buffer_rows": buffer, "rows_per_fill": cap, "read_rows": source.read_rows,
                                 "row_groups": source.n_groups, "n_rows": source.n_rows}})
    if args.patience and val.size and history.stop_reason == f"completed {len(history.epochs)} epochs":
        record["warnings"] = [capped_warning(1, 1, len(history.epochs))]
    model = Model(net, None if regression else classes, scaler, source.features, record, target=target,
                  target_names=[args.target] if regression else None)
    summary = _score(model, test_X, test_y) if test.size else None
    if summary is not None:
        keep = ("r2", "rmse", "mae", "n_samples") if regression else ("accuracy", "balanced_accuracy", "n_samples")
        record["test"] = {**{k: summary[k] for k in keep}, "data": "test set (a sample of the file's rows)"}
    save_model(model, outputs.model, inputs=[args.data])
    report(args, model, summary, "test set (a sample of the file's rows)", notes, outputs,
           time.perf_counter() - t0, drew=False)
    return 0


STREAM_FIXES = Fixes(layers="fewer or narrower layers (--hidden)", batch="a smaller --batch-size")


def _stream_plan(args, sizes, batch: int, cap: int, n_test: int, n_val: int, read_rows: int) -> MemoryPlan:
    """What a streamed run holds (:mod:`handgrad.training.footprint`): the network trained on
    batches of ``batch`` rows, the buffer of ``cap`` rows, a record batch being read (float64, its training rows
    and their standardised copy), the held-out rows read in the first pass (float64) and the
    validation part's standardised copy."""
    item = np.dtype(args.dtype).itemsize
    d = sizes[0]
    plan = MemoryPlan("the network", sizes, " to train streamed")
    add_training(plan, sizes, item, optimizer=args.optimizer, momentum=args.momentum,
                 batch_rows=batch, eval_rows=n_val,
                 best=bool(args.patience), diagnostics=True, fixes=STREAM_FIXES)
    plan.add(f"the buffer of {cap:,} rows", data_bytes(cap, d + 1, item), "a smaller --stream-buffer")
    plan.add(f"a record batch of {read_rows:,} rows", data_bytes(read_rows, d + 1, 3 * 8), "a smaller --stream-buffer")
    plan.add(f"the test and validation parts ({n_test:,} and {n_val:,} rows)",
             data_bytes(n_test + n_val, d + 1, 8) + data_bytes(n_val, d, item),
             "a smaller --stream-buffer (each held-out part holds at most as many rows)")
    return plan


def _check_task_options(args, regression: bool) -> None:
    """Refuse the regression options for classes and the class options for numbers."""
    if not regression and (args.loss or args.huber_delta is not None or args.target_transform):
        raise InputError(f"--loss, --huber-delta and --target-transform apply to regression; the target "
                         f"{args.target!r} was read as classes (--task regression to predict it as a number)")
    if regression and args.metric in ("accuracy", "balanced_accuracy", "macro_f1"):
        raise InputError(f"--metric {args.metric} scores classes; for a regression use rmse, mae, r2 or loss")
    if not regression and args.metric in ("rmse", "mae", "r2"):
        raise InputError(f"--metric {args.metric} scores numbers; for classes use accuracy, "
                         "balanced_accuracy, macro_f1 or loss")


def _target_scaling(args, moments):
    """(TargetScaler, the network's head options, the record's parts) of a streamed regression
    from the :class:`~handgrad.data.stream_rows.Moments` of its training targets: standardised, or for
    the Poisson loss divided by the training mean. The logarithm would need the moments of
    log y, which the first pass does not gather: refused."""
    from ..data.target_scaling import TargetScaler

    loss = args.loss or "squared"
    option = args.target_transform or "auto"
    if option == "log":
        raise InputError("--target-transform log does not work with --stream-buffer (the first pass "
                         f"gathers the target's mean and deviation, not its logarithm's); {TRAIN_FIX}")
    std = np.sqrt(moments.m2 / max(moments.n, 1))
    if loss == "poisson":
        kind, mean, scale = "none" if option == "none" else "scale", np.zeros(1), moments.mean
        if option == "standardize":
            raise InputError("--target-transform standardize does not go with the Poisson loss, whose "
                             "log link already models the logarithm of the mean; leave it at auto")
    elif option == "none":
        kind, mean, scale = "none", np.zeros(1), np.ones(1)
    else:
        kind, mean, scale = "standardize", moments.mean, std
    if kind == "none":
        mean, scale = np.zeros(1), np.ones(1)
    target = TargetScaler(kind, np.asarray(mean, dtype=np.float64),
                          np.where(np.asarray(scale) > 0, scale, 1.0).astype(np.float64))
    head = {"output": {"squared": "identity", "huber": "huber", "poisson": "exp"}[loss]}
    if loss == "huber":
        head["huber_delta"] = 1.0 if args.huber_delta is None else args.huber_delta
    record = {"target_scaling": {**target.to_json(), "notes": []},
              "target_summary": {"mean": moments.mean.tolist(), "std": std.tolist()},
              "hyperparameters": {"task": "regression", "loss": loss, "target_transform": kind,
                                  **({"huber_delta": head["huber_delta"]} if loss == "huber" else {})}}
    return target, head, record


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
    if getattr(args, "scaling", None) not in (None, "standard"):
        raise InputError(f"--scaling {args.scaling} does not work with --stream-buffer (a stream is "
                         f"standardised with its running means); drop it, or {TRAIN_FIX}")
    if not 0 <= args.test_fraction < 1:
        raise InputError(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    return buffer


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
