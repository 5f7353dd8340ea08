"""Training on data streamed through a bounded buffer: :func:`fit_stream`.

Per epoch e: η ← schedule.lr(e); ``fills(rng)`` hands out the epoch's training rows as
buffers (X (≤ N, d) in the network's dtype, y (≤ N,) class indices), N the buffer's rows;
each buffer's rows are shuffled with the run's seeded generator and walked in mini-batches by
the shared step loop (:class:`~handgrad.training.steps.EpochRunner`, the same optimizer
step as :func:`handgrad.fit`). After the epoch: the loss and accuracy on an in-memory
validation part, early stopping (:class:`~handgrad.training.stopping.EarlyStopping`), the
callbacks' ``on_epoch_end``. Memory: the buffer, the validation part and the network's — never
the whole data. No checkpoints, no data parallelism (the command line refuses both).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..errors import InputError, TrainingDivergedError
from ..fast.threads import limit_blas_threads
from ..memory_plan import MemoryPlan
from ..validation import check_count
from .diagnostics import notify
from .evaluation import MONITORS, check_monitor, validation_record
from .history import History, divergence, epoch_record
from .footprint import add_training
from .loop import _check_callbacks, _optimizer_options
from .optim import make_optimizer
from .schedules import make_schedule
from .steps import EpochRunner, EpochSums
from .stopping import EarlyStopping


def fit_stream(net, fills, n_train: int, *, X_val=None, y_val=None, epochs: int = 100,
               batch_size: int = 32, optimizer: str = "adam", lr: float = 1e-3,
               schedule: str = "constant", momentum: float = 0.9, nesterov: bool = False,
               weight_decay: float = 0.0, patience: int | None = None, min_delta: float = 0.0,
               restore_best: bool = True, monitor: str | None = None, seed: int = 0,
               callbacks=(), diagnostics: bool = True, blas_threads="auto") -> History:
    """Train ``net`` in place on the ``n_train`` rows that ``fills(rng)`` yields each epoch
    (buffers of class indices; see the module docstring); return the :class:`History`.

    The arguments after ``n_train`` are :func:`handgrad.fit`'s. ``X_val, y_val`` (validated,
    in the network's dtype) are what early stopping watches (``monitor``, default
    ``val_loss``; ``train_loss`` without them). The per-layer diagnostics are those of each
    epoch's last buffer."""
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    callbacks = _check_callbacks(callbacks)
    monitor = monitor or ("val_loss" if X_val is not None else "train_loss")
    check_monitor(monitor, net.output)
    if monitor not in MONITORS or (monitor != "train_loss" and X_val is None):
        raise InputError(f"monitor={monitor!r} needs a validation part; choose from {', '.join(MONITORS)}")
    opt = make_optimizer(optimizer, lr, **_optimizer_options(optimizer, momentum, nesterov, weight_decay))
    add_training(MemoryPlan("this network", net.sizes), net.sizes, net.dtype.itemsize, optimizer=opt,
                 batch_rows=batch_size, eval_rows=0 if X_val is None else X_val.shape[0],
                 best=patience is not None and bool(restore_best), diagnostics=bool(diagnostics),
                 held=True).check()
    opt.init(net.n_params, net.dtype, weight_ranges=net.layout.weight_ranges)
    run = StreamingRun(net, opt, make_schedule(schedule, lr, epochs), fills, n_train, X_val, y_val,
                       batch_size, seed, patience, min_delta, restore_best, callbacks, diagnostics,
                       monitor)
    with limit_blas_threads(net, batch_size, blas_threads, 1):
        return run.run(epochs)


class StreamingRun(EarlyStopping):
    """One streamed training run: the network, optimizer, schedule, the source of buffers,
    the validation part and the early-stopping state (:class:`EarlyStopping`'s fields)."""

    def __init__(self, net, opt, sched, fills, n_train, X_val, y_val, batch_size, seed, patience,
                 min_delta, restore_best, callbacks, diagnostics, monitor):
        self.net, self.opt, self.sched, self.fills, self.n_train = net, opt, sched, fills, n_train
        self.X_val, self.y_val, self.batch_size = X_val, y_val, batch_size
        self.rng = np.random.default_rng(seed)
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.callbacks, self.diagnostics = callbacks, diagnostics
        self.history = History(monitor=monitor)
        self.sign = -1.0 if MONITORS[monitor] else 1.0  # early stopping minimises sign·value
        self.best, self.best_flat, self.wait = math.inf, None, 0
        # per-batch callbacks would see each buffer as an epoch: the progress is told per epoch
        self.runner = EpochRunner(net, opt, batch_size, diagnostics)

    def run(self, epochs: int) -> History:
        n_batches = -(-self.n_train // self.batch_size)
        notify(self.callbacks, "on_train_begin", {
            "epochs": epochs, "n_batches": n_batches, "n_train": self.n_train,
            "n_val": None if self.X_val is None else self.X_val.shape[0]})
        self.history.stop_reason = f"completed {epochs} epochs"
        for epoch in range(epochs):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                record = self._epoch(epoch)
            self.history.epochs.append(record)
            early = self._early_stop(record)
            notify(self.callbacks, "on_batch_end", epoch, n_batches - 1, n_batches, record["train_loss"])
            if notify(self.callbacks, "on_epoch_end", record, self.net):
                self.history.stop_reason = f"stopped by a callback after epoch {record['epoch']}"
                break
            if early:
                break
        self._restore_best()
        notify(self.callbacks, "on_train_end", self.history)
        return self.history

    def _epoch(self, epoch: int) -> dict:
        net, t0 = self.net, time.perf_counter()
        self.opt.lr = self.sched.lr(epoch)
        start_flat = net.flat.copy()  # the last good weights, if this epoch diverges

        def diverged(what):
            net.flat[...] = start_flat
            raise TrainingDivergedError("training " + divergence(epoch, what, self.opt.lr), epoch + 1,
                                        self.history)

        sums, n = EpochSums(), 0
        for X, y in self.fills(self.rng):
            order = self.rng.permutation(X.shape[0])  # the shuffle within the buffer
            sums = self.runner.run(X, y, None, order, epoch=epoch, sums=sums,
                                   on_nonfinite=lambda loss: diverged(f"the training loss became {loss}"))
            n += X.shape[0]
        if n != self.n_train:  # the file changed under the run, or the source lost rows
            raise InputError(f"epoch {epoch + 1} read {n} training rows, not the {self.n_train} of the "
                             "first pass; was the file changed while training?")
        if not np.all(np.isfinite(net.flat)):
            diverged("the weights became NaN or inf")
        record = epoch_record(epoch, self.opt.lr, sums.data, sums.l2, sums.correct, n)
        if self.X_val is not None:
            record.update(validation_record(net, self.X_val, self.y_val))
        if self.diagnostics:
            record["diagnostics"] = sums.diagnostics
        record["time"] = time.perf_counter() - t0
        return record
