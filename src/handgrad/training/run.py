"""One training run of :func:`handgrad.fit`: epochs over the shared step loop
(:class:`~handgrad.training.steps.EpochRunner`), validation, early stopping, callbacks,
checkpoints (with bit-identical resume, also from inside an epoch), Ctrl-C and divergence."""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from ..errors import TrainingDivergedError, TrainingInterrupted
from ..signals import STOP_SIGNALS, handled, interrupt
from .diagnostics import notify
from .evaluation import MONITORS, validation_record
from .history import History, divergence, epoch_record
from .steps import EpochRunner, EpochSums
from .stopping import EarlyStopping

Array = np.ndarray


@contextlib.contextmanager
def _sigint_sets_flag(loop):
    """While training, SIGINT (Ctrl-C), SIGTERM and SIGHUP set ``loop.interrupted`` (and
    ``loop.stop_signal``) instead of raising at an arbitrary point or ending the process
    unsaved; the loop stops after the current step. A second signal interrupts at once.
    (:func:`handgrad.signals.handled`: an ignored signal stays ignored; main thread only.)
    """
    def handler(signum, frame):
        if loop.interrupted:  # the second signal: the user insists
            raise interrupt(signum)
        loop.interrupted = True
        loop.stop_signal = signum

    with handled(STOP_SIGNALS, handler):
        yield


@contextlib.contextmanager
def _checkpoint_lock(checkpointer):
    """Hold the checkpoint directory for this run (two runs would prune each other's files)."""
    if checkpointer is None:
        yield
    else:
        with checkpointer.locked():
            yield


class TrainingRun(EarlyStopping):
    """The state of one training run: network, optimizer, schedule, data, position, early
    stopping and checkpoints, kept together so that a checkpoint can hold all of it."""

    def __init__(self, net, opt, sched, X, y, w, X_val, y_val, batch_size, shuffle, seed,
                 patience, min_delta, restore_best, callbacks, diagnostics, monitor=None,
                 data_parallel=None, dropout: float = 0.0):
        self.net, self.opt, self.sched = net, opt, sched
        self.X, self.y, self.w = X, y, w
        self.X_val, self.y_val = X_val, y_val
        # data parallel (handgrad.distributed): each rank validates its shard, sums reduced
        self.dp = data_parallel
        if data_parallel is not None:
            self.val_shard = (data_parallel.shard_of(X_val), data_parallel.shard_of(y_val))
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.callbacks = callbacks
        self.diagnostics = diagnostics
        self.history = History(monitor=monitor or ("val_loss" if X_val is not None else "train_loss"))
        # early stopping minimises the monitored value, or its negative for a score
        self.sign = -1.0 if MONITORS[self.history.monitor] else 1.0
        self.best = math.inf
        self.best_flat: Array | None = None
        self.wait = 0
        # checkpointing and resuming (set up by fit); position to start from
        self.checkpointer = None
        self.checkpoint_every = 1
        self.start_epoch = 0
        self.resume_mid: dict | None = None
        self.epoch_rng_state = None
        self.interrupted = False
        self.stop_signal = None  # the signal number that set ``interrupted``
        self.runner = EpochRunner(net, opt, batch_size, diagnostics, callbacks, data_parallel,
                                  dropout, seed)
        if dropout:
            self.history.dropout = float(dropout)
        if data_parallel is not None:
            self.history.data_parallel = data_parallel.describe(batch_size)

    @property
    def writes_checkpoints(self) -> bool:
        """Whether this process writes the checkpoints (under data parallelism: rank 0)."""
        return self.checkpointer is not None and (self.dp is None or self.dp.root)

    def _notify(self, method: str, *args) -> bool:
        return notify(self.callbacks, method, *args)

    def run(self, epochs: int) -> History:
        net, n = self.net, self.X.shape[0]
        n_batches = -(-n // self.batch_size)
        self._notify("on_train_begin", {"epochs": epochs, "n_batches": n_batches, "n_train": n,
                                        "n_val": None if self.X_val is None else self.X_val.shape[0]})
        self.history.stop_reason = f"completed {epochs} epochs"
        attached = contextlib.nullcontext() if self.dp is None else self.dp.attached(net)
        with _checkpoint_lock(self.checkpointer if self.writes_checkpoints else None), \
                _sigint_sets_flag(self), attached:
            for epoch in range(self.start_epoch, epochs):
                # overflow inside a diverging step is detected and reported by _epoch itself
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    record = self._epoch(epoch, n_batches)
                if self.dp is not None:  # replicas equal, and a stop seen by one rank is seen by all
                    self.interrupted = self.dp.end_epoch(net, self.interrupted)
                self.history.epochs.append(record)
                early = self._early_stop(record)
                by_callback = self._notify("on_epoch_end", record, net)
                if by_callback and not early:
                    self.history.stop_reason = f"stopped by a callback after epoch {record['epoch']}"
                done = early or by_callback or epoch + 1 == epochs
                if self.checkpointer is not None and (done or self.interrupted
                                                      or (epoch + 1) % self.checkpoint_every == 0):
                    self._save(epoch + 1, 0)
                if self.interrupted and not done:
                    raise self._interruption(epoch + 1, 0, epoch + 1)
                if done:
                    break
        self._restore_best()
        self._notify("on_train_end", self.history)
        return self.history

    def _epoch(self, epoch: int, n_batches: int) -> dict:
        net, opt, X = self.net, self.opt, self.X
        t0 = time.perf_counter()
        opt.lr = self.sched.lr(epoch)
        mid = self.resume_mid  # a checkpoint taken inside this epoch: continue from its batch
        self.resume_mid = None
        if mid is not None:
            self.rng.bit_generator.state = mid["epoch_rng"]
        # the generator's state before the shuffle recomputes this epoch's order on resume
        self.epoch_rng_state = self.rng.bit_generator.state
        order = self.rng.permutation(X.shape[0]) if self.shuffle else None
        if mid is None:
            start_flat = net.flat.copy()  # the last good weights, if this epoch diverges
            sums, first = EpochSums(), 0
        else:
            start_flat = mid["start_flat"]
            data, l2, correct = mid["sums"]
            sums, first = EpochSums(data, l2, correct), mid["batch"]

        def diverged(loss):
            self._diverged(epoch, start_flat, "the training loss became " + str(loss))

        sums = self.runner.run(X, self.y, self.w, order, epoch=epoch, first=first, sums=sums,
                               on_nonfinite=diverged, should_stop=lambda: self.interrupted)
        if sums.stopped_at is not None:
            # Ctrl-C: the step is finished; keep its place and stop (see run())
            self._save(epoch, sums.stopped_at, mid_epoch={
                "sums": [sums.data, sums.l2, sums.correct], "start_flat": start_flat})
            raise self._interruption(epoch, sums.stopped_at, epoch + 1)
        if not np.all(np.isfinite(net.flat)):
            self._diverged(epoch, start_flat, "the weights became NaN or inf")
        n = X.shape[0]
        record = epoch_record(epoch, opt.lr, sums.data, sums.l2, sums.correct, n)
        if self.X_val is not None and self.dp is None:
            record.update(validation_record(net, self.X_val, self.y_val))
        elif self.X_val is not None:
            record.update(validation_record(net, *self.val_shard, reduce=self.dp.reduce_validation))
        if self.diagnostics:
            record["diagnostics"] = sums.diagnostics
        record["time"] = time.perf_counter() - t0
        return record

    def _save(self, epoch: int, batch: int, mid_epoch: dict | None = None) -> None:
        """Checkpoint the run at (epoch, batch); batch 0 = before ``epoch`` starts."""
        if self.checkpointer is None:
            return
        if not self.writes_checkpoints:  # rank 0 writes the same state (the replicas are equal)
            self.last_checkpoint = self.checkpointer.dir
            return
        opt_state = self.opt.state_dict()
        arrays = {"flat": self.net.flat}
        arrays.update({f"opt.{k}": v for k, v in opt_state.items() if isinstance(v, np.ndarray)})
        if self.best_flat is not None:
            arrays["best_flat"] = self.best_flat
        meta = {"rng": self.rng.bit_generator.state,
                "opt": {k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)},
                "sched": self.sched.state_dict(), "best": self.best, "wait": self.wait,
                "history": self.history.to_dict()}
        if mid_epoch is not None:
            arrays["start_flat"] = mid_epoch["start_flat"]
            meta["epoch_rng"] = self.epoch_rng_state
            meta["sums"] = mid_epoch["sums"]
        self.last_checkpoint = self.checkpointer.save(epoch, batch, arrays, meta)

    def restore(self, arrays: dict, meta: dict) -> None:
        """Continue from a checkpoint read by :class:`~handgrad.training.checkpoint.Checkpointer`."""
        self.net.flat[...] = arrays["flat"]
        opt_state = dict(meta["opt"])
        opt_state.update({k[4:]: v for k, v in arrays.items() if k.startswith("opt.")})
        self.opt.load_state_dict(opt_state)
        self.sched.load_state_dict(meta["sched"])
        self.rng.bit_generator.state = meta["rng"]
        self.best, self.wait = meta["best"], meta["wait"]
        self.best_flat = arrays.get("best_flat")
        hist = meta["history"]
        self.history.epochs = list(hist["epochs"])
        self.history.best_epoch = hist["best_epoch"]
        self.start_epoch = meta["epoch"]
        if meta["batch"]:
            self.resume_mid = {"batch": meta["batch"], "epoch_rng": meta["epoch_rng"],
                               "sums": meta["sums"], "start_flat": arrays["start_flat"]}

    def _interruption(self, epoch: int, batch: int, stopped_in: int) -> TrainingInterrupted:
        """The exception that ends a stopped run; ``signum`` says which signal stopped it."""
        exc = TrainingInterrupted(self._interrupt_message(epoch, batch), stopped_in, self.history)
        exc.signum = self.stop_signal
        return exc

    def _interrupt_message(self, epoch: int, batch: int) -> str:
        import signal

        where = f"epoch {epoch + 1}, batch {batch}" if batch else f"the end of epoch {epoch}"
        by = ""
        if self.stop_signal is not None and self.stop_signal != signal.SIGINT:
            by = f" by {signal.Signals(self.stop_signal).name}"
        if self.checkpointer is None:
            return (f"training interrupted{by} at {where}; no checkpoint directory was given, "
                    "nothing was saved")
        return (f"training interrupted{by} at {where}; checkpoint written to {self.last_checkpoint}; "
                "run again with resume=True (handgrad train ... --resume) to continue")

    def _diverged(self, epoch: int, start_flat: Array, what: str):
        self.net.flat[...] = start_flat
        raise TrainingDivergedError("training " + divergence(epoch, what, self.opt.lr), epoch + 1,
                                    self.history)
