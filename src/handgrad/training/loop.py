"""The training loop: mini-batches, validation, early stopping, history, diagnostics.

``fit(net, X, y, ...)`` trains an :class:`~handgrad.MLP` in place on numeric features and
integer labels 0..K−1 (or probability rows) and returns a :class:`History`.

Per epoch e (0-based): η ← schedule.lr(e); the training rows are shuffled with a seeded
generator; for each mini-batch B the network computes ``L_B`` and ``∇L_B`` by backprop and the
optimizer updates the flat parameter buffer. After the epoch: validation loss/accuracy,
early-stopping bookkeeping, backprop diagnostics, callbacks.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..core.heads import REGRESSION_HEADS
from ..errors import InputError, TrainingInterrupted
from ..fast.threads import limit_blas_threads
from ..network import MLP
from ..memory_plan import MemoryPlan
from ..validation import check_count, check_flag, check_positive, check_seed, check_weight_values
from .checkpoint import Checkpointer, data_fingerprint
from .evaluation import check_monitor, evaluate
from .footprint import add_training
from .history import Callback, History
from .optim import make_optimizer
from .run import TrainingRun
from .schedules import Schedule, make_schedule
from .steps import check_dropout
from .splits import class_weights_for, holdout_split, stratified_split

# names this module offered before the package had layers (handgrad.train.*)
__all__ = ["fit", "evaluate", "History", "Callback", "stratified_split", "holdout_split",
           "class_weights_for", "limit_blas_threads", "TrainingInterrupted"]

Array = np.ndarray


def fit(net: MLP, X, y, *, X_val=None, y_val=None, validation_fraction: float = 0.0,
        epochs: int = 100, batch_size: int = 32, optimizer="adam", lr: float = 1e-3,
        schedule="constant", momentum: float = 0.9, nesterov: bool = False,
        weight_decay: float = 0.0, patience: int | None = None, min_delta: float = 0.0,
        restore_best: bool = True, sample_weight=None, class_weight=None,
        callbacks: Sequence[Callable | Callback] = (), shuffle: bool = True,
        seed: int | None = 0, diagnostics: bool = True, blas_threads="auto",
        checkpoint_dir=None, checkpoint_every: int = 1, resume: bool = False,
        monitor: str | None = None, data_parallel=None, dropout: float = 0.0) -> History:
    """Train ``net`` in place by mini-batch gradient descent; return the :class:`History`.

    Args:
        X, y: training features (n, n_in) and targets (labels 0..K−1 or probability rows).
        X_val, y_val: a validation set; or ``validation_fraction`` in (0, 1) to hold out a
            stratified part of (X, y) (seeded). Without either, early stopping watches the
            training loss.
        epochs, batch_size: passes over the data and rows per step (the last batch may be
            smaller).
        optimizer: ``"sgd"``, ``"nesterov"``, ``"adam"``, ``"adamw"`` or an optimizer object
            (see :mod:`handgrad.training.optim`); ``momentum``/``nesterov`` for SGD,
            ``weight_decay`` for AdamW.
        lr, schedule: base learning rate and ``"constant"``, ``"step"``, ``"exponential"``,
            ``"cosine"``, ``"plateau"`` or a :class:`~handgrad.training.schedules.Schedule`.
        patience: stop after this many epochs without an improvement larger than
            ``min_delta`` of the monitored value; with ``restore_best`` the weights of the
            best epoch are put back at the end.
        monitor: what early stopping and ``best_epoch`` watch: ``"val_loss"`` (the default
            with a validation set), ``"val_accuracy"``, ``"val_balanced_accuracy"``,
            ``"val_macro_f1"``, ``"val_r2"`` (scores: larger is better), ``"val_rmse"``,
            ``"val_mae"`` (regression, in the network's units) or ``"train_loss"`` (the default
            without one).
        sample_weight: (n,) weights w_i; ``class_weight``: dict {class index: weight} or
            ``"balanced"``. The loss becomes (1/m)Σ w_i·c_{y_i}·CE_i.
        callbacks: callables ``cb(record, net)`` or :class:`Callback` objects.
        seed: seeds shuffling and the validation split.
        diagnostics: record the per-layer backprop diagnostics.
        checkpoint_dir: write checkpoints there (:mod:`handgrad.training.checkpoint`) every
            ``checkpoint_every`` epochs, at the end, and when Ctrl-C stops training;
            ``resume=True`` continues from the newest usable one (bit-identically: same final
            weights as an uninterrupted run), or starts afresh when there is none.
        blas_threads: BLAS threads during training: an int, None (the BLAS default), or
            ``"auto"``: one thread when the largest product per step is small (see
            :func:`limit_blas_threads`).
        data_parallel: a :class:`handgrad.distributed.DataParallel` to train over MPI ranks
            (every rank calls ``fit`` with the same network, data and options; ``batch_size``
            is the global batch, split among the ranks); the weights equal one process's with
            the same batch size up to rounding. Rank 0 alone writes checkpoints.
        dropout: inverted dropout's rate p in [0, 1) on every hidden layer while training
            (derivations.md §20; the masks are drawn from ``seed`` and the epoch, so a run
            resumed from a checkpoint draws what it would have drawn); prediction uses no mask.
            It needs hidden activations with a derivative (relu, leaky_relu, sigmoid, tanh),
            and turns the dead-unit diagnostic off (it reads the masked f′). Not with
            ``data_parallel``.

    Raises:
        InputError for bad arguments or data; TrainingDivergedError when the loss or weights
        become NaN/inf (the net keeps the weights from the start of that epoch).
    """
    # the arguments first: a mistake is named before any data is converted or copied
    seed = check_seed(seed)
    epochs = check_count(epochs, "epochs")
    dropout = check_dropout(dropout, net)
    if dropout and data_parallel is not None:
        raise InputError("dropout does not go with data parallelism (each rank would need the "
                         "global batch's masks); train in one process, or without dropout")
    batch_size = check_count(batch_size, "batch_size")
    if patience is not None:
        patience = check_count(patience, "patience")
    checkpoint_every = check_count(checkpoint_every, "checkpoint_every")
    min_delta = check_positive(min_delta, "min_delta", allow_zero=True)
    callbacks = _check_callbacks(callbacks)
    validation_fraction = check_positive(validation_fraction or 0.0, "validation_fraction", allow_zero=True)
    shuffle, restore_best = check_flag(shuffle, "shuffle"), check_flag(restore_best, "restore_best")
    X = net.check_X(X)
    y = net.check_y(y, X.shape[0])
    w = net.check_sample_weight(sample_weight, X.shape[0])
    X, y, w, X_val, y_val = training_parts(net, X, y, w, class_weight, X_val, y_val,
                                           validation_fraction, seed)
    batch_size = min(batch_size, X.shape[0])

    opt = optimizer if hasattr(optimizer, "step") else make_optimizer(
        optimizer, lr, **_optimizer_options(optimizer, momentum, nesterov, weight_decay))
    # refused before the optimizer's state and the batch buffers are allocated
    rows = batch_size if data_parallel is None else data_parallel.capacity(batch_size)
    add_training(MemoryPlan("this network", net.sizes), net.sizes, net.dtype.itemsize, optimizer=opt,
                 batch_rows=rows, eval_rows=0 if X_val is None else X_val.shape[0],
                 best=patience is not None and bool(restore_best), diagnostics=bool(diagnostics),
                 checkpoints=checkpoint_dir is not None, held=True).check()
    opt.init(net.n_params, net.dtype, weight_ranges=net.layout.weight_ranges)
    # an optimizer object brings its own learning rate; the schedule starts from it
    base_lr = opt.lr if hasattr(optimizer, "step") else lr
    sched = schedule if isinstance(schedule, Schedule) else make_schedule(schedule, base_lr, epochs)
    check_monitor(monitor, net.output)
    if monitor is not None and monitor != "train_loss" and X_val is None:
        raise InputError(f"monitor={monitor!r} needs a validation set (X_val/y_val or validation_fraction)")
    if resume and checkpoint_dir is None:
        raise InputError("resume=True needs the checkpoint_dir to resume from")
    loop = TrainingRun(net, opt, sched, X, y, w, X_val, y_val, batch_size, shuffle, seed,
                       patience, min_delta, restore_best, callbacks, diagnostics, monitor,
                       data_parallel, dropout)
    fingerprint = None
    if checkpoint_dir is not None or data_parallel is not None:
        fingerprint = {"sizes": net.sizes, "activations": [a.name for a in net.activations],
                       "output": net.output, "dtype": net.dtype.name, "l2": net.l2,
                       "optimizer": opt.config(), "schedule": sched.config(),
                       "batch_size": batch_size, "shuffle": bool(shuffle), "seed": seed,
                       "patience": patience, "data": data_fingerprint(X, y, w, X_val, y_val)}
        if monitor not in (None, "val_loss", "train_loss"):  # older checkpoints match otherwise
            fingerprint["monitor"] = monitor
        if net.head_params:  # the Huber head's δ: likewise only where there is one
            fingerprint["head_params"] = net.head_params
        if dropout:
            fingerprint["dropout"] = dropout
    if data_parallel is not None:  # a rank with other data, options or code is refused here
        data_parallel.check_same({**fingerprint, "epochs": epochs, "weights": data_fingerprint(net.flat),
                                  "checkpoint_every": checkpoint_every if checkpoint_dir else None,
                                  "resume": bool(resume)})
    if checkpoint_dir is not None:
        loop.checkpoint_every = checkpoint_every
        loop.checkpointer = Checkpointer(checkpoint_dir, fingerprint)
        if resume:  # under data parallelism rank 0 reads it and sends it to the others
            load = loop.checkpointer.load_latest
            found = load() if data_parallel is None else data_parallel.from_root(load)
            if found is not None:
                arrays, meta, skipped = found
                loop.restore(arrays, meta)
                loop.history.resumed_from = {"epoch": int(meta["epoch"]), "batch": int(meta["batch"]),
                                             "checkpoint": meta.get("file"), "skipped": skipped}
    rows, share = batch_size, 1
    if data_parallel is not None:  # a rank's products are its shard's; its cores are shared
        rows, share = data_parallel.capacity(batch_size), data_parallel.local_size
    with limit_blas_threads(net, rows, blas_threads, share):
        return loop.run(epochs)




def training_parts(net, X, y, w, class_weight, X_val, y_val, validation_fraction: float, seed):
    """``(X, y, w, X_val, y_val)`` as :func:`fit` trains on them, from validated training rows
    ``X`` (n, d), targets ``y`` and weights ``w`` (or None): class weights folded into ``w``;
    the validation part given (checked) or held out (``validation_fraction`` of the rows,
    stratified for classes, plain for regression, seeded), or None."""
    if class_weight is not None:
        if net.output != "softmax" or y.ndim != 1:
            raise InputError("class_weight needs a softmax output with integer labels; "
                             "give sample_weight instead")
        cw = class_weights_for(y, net.n_classes, class_weight).astype(net.dtype)
        w = cw[y] if w is None else w * cw[y]
        check_weight_values(w, "sample_weight × class_weight")
    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None:
            raise InputError("give both X_val and y_val, or neither")
        if validation_fraction:
            raise InputError("give either X_val/y_val or validation_fraction, not both")
        X_val = net.check_X(X_val)
        y_val = net.check_y(y_val, X_val.shape[0])
    elif validation_fraction:
        keep, held = holdout_split(y, float(validation_fraction), seed,
                                   stratify=net.output not in REGRESSION_HEADS)
        X_val, y_val = X[held], y[held]
        X, y = X[keep], y[keep]
        w = None if w is None else w[keep]
        if w is not None:
            check_weight_values(w, "sample_weight of the training part (after validation_fraction)")
    return X, y, w, X_val, y_val


def _optimizer_options(name, momentum, nesterov, weight_decay) -> dict:
    """The options of optimizer ``name`` among these; each is checked whether the optimizer
    takes it or not (a momentum of 1.5 beside Adam is a mistake too, not a value to ignore)."""
    from .optim import _fraction

    momentum = _fraction(momentum, "momentum")
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
    key = str(name).lower()
    if key == "sgd":
        return {"momentum": momentum, "nesterov": check_flag(nesterov, "nesterov")}
    if key == "nesterov":
        return {"momentum": momentum}
    if key in ("adam", "adamw") and weight_decay:
        return {"weight_decay": weight_decay}
    return {}


_HOOKS = ("on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end")


def _check_callbacks(callbacks) -> list:
    """``callbacks`` as a list of callables or objects with Callback's hooks (duck-typed, as
    :func:`~handgrad.training.diagnostics.notify` calls them)."""
    if callable(callbacks) or any(hasattr(callbacks, h) for h in _HOOKS):
        callbacks = [callbacks]
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise InputError(f"callbacks must be a list of callables cb(record, net) or Callback "
                         f"objects, got {callbacks!r}") from None
    for cb in callbacks:
        if not (callable(cb) or any(hasattr(cb, h) for h in _HOOKS)):
            raise InputError(f"callbacks must be callables cb(record, net) or objects with "
                             f"Callback's methods, got {cb!r}")
    return callbacks
