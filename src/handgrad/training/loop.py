"""The training loop: mini-batches, validation, early stopping, history, diagnostics.

``fit(net, X, y, ...)`` trains an :class:`~handgrad.MLP` in place on numeric features and
integer labels 0..K−1 (or probability rows) and returns a :class:`History`.

Per epoch e (0-based): η ← schedule.lr(e); the training rows are shuffled with a seeded
generator; for each mini-batch B the network computes ``L_B`` and ``∇L_B`` by backprop and the
optimizer updates the flat parameter buffer. After the epoch: validation loss/accuracy,
early-stopping bookkeeping, backprop diagnostics, callbacks.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable, Sequence

import numpy as np

from ..core.heads import n_correct
from ..errors import InputError, TrainingDivergedError, TrainingInterrupted
from ..fast.kernels import LOSSES
from ..fast.predict import forward_in_chunks
from ..fast.threads import limit_blas_threads
from ..network import MLP
from .checkpoint import Checkpointer, data_fingerprint
from .diagnostics import notify
from .history import Callback, History
from .optim import make_optimizer
from .schedules import Schedule, make_schedule
from .splits import class_weights_for, holdout_split, stratified_split
from .steps import EpochRunner, EpochSums

# names this module offered before the package had layers (handgrad.train.*)
__all__ = ["fit", "evaluate", "History", "Callback", "stratified_split", "holdout_split",
           "class_weights_for", "limit_blas_threads", "TrainingInterrupted"]

Array = np.ndarray


def evaluate(net: MLP, X: Array, y: Array, batch_size: int = 4096) -> tuple[float, float | None]:
    """(mean data loss without L2, accuracy — None for regression) of validated X, y."""
    logits = forward_in_chunks(net, X, batch_size)
    hits = n_correct(net.output, logits, y)
    return LOSSES[net.output](logits, y)[0], None if hits is None else hits / X.shape[0]


def fit(net: MLP, X, y, *, X_val=None, y_val=None, validation_fraction: float = 0.0,
        epochs: int = 100, batch_size: int = 32, optimizer="adam", lr: float = 1e-3,
        schedule="constant", momentum: float = 0.9, nesterov: bool = False,
        weight_decay: float = 0.0, patience: int | None = None, min_delta: float = 0.0,
        restore_best: bool = True, sample_weight=None, class_weight=None,
        callbacks: Sequence[Callable | Callback] = (), shuffle: bool = True,
        seed: int | None = 0, diagnostics: bool = True, blas_threads="auto",
        checkpoint_dir=None, checkpoint_every: int = 1, resume: bool = False) -> History:
    """Train ``net`` in place by mini-batch gradient descent; return the :class:`History`.

    Args:
        X, y: training features (n, n_in) and targets (labels 0..K−1 or probability rows).
        X_val, y_val: a validation set; or ``validation_fraction`` in (0, 1) to hold out a
            stratified part of (X, y) (seeded). Without either, early stopping watches the
            training loss.
        epochs, batch_size: passes over the data and rows per step (the last batch may be
            smaller).
        optimizer: ``"sgd"``, ``"nesterov"``, ``"adam"``, ``"adamw"`` or an optimizer object
            (see :mod:`handgrad.optim`); ``momentum``/``nesterov`` for SGD,
            ``weight_decay`` for AdamW.
        lr, schedule: base learning rate and ``"constant"``, ``"step"``, ``"exponential"``,
            ``"cosine"``, ``"plateau"`` or a :class:`~handgrad.optim.Schedule`.
        patience: stop after this many epochs without an improvement larger than
            ``min_delta`` of the monitored loss; with ``restore_best`` the weights of the
            best epoch are put back at the end.
        sample_weight: (n,) weights w_i; ``class_weight``: dict {class index: weight} or
            ``"balanced"``. The loss becomes (1/m)Σ w_i·c_{y_i}·CE_i.
        callbacks: callables ``cb(record, net)`` or :class:`Callback` objects.
        seed: seeds shuffling and the validation split.
        diagnostics: record the per-layer backprop diagnostics.
        checkpoint_dir: write checkpoints there (:mod:`handgrad.checkpoint`) every
            ``checkpoint_every`` epochs, at the end, and when Ctrl-C stops training;
            ``resume=True`` continues from the newest usable one (bit-identically: same final
            weights as an uninterrupted run), or starts afresh when there is none.
        blas_threads: BLAS threads during training: an int, None (the BLAS default), or
            ``"auto"``: one thread when the largest product per step is small (see
            :func:`limit_blas_threads`).

    Raises:
        InputError for bad arguments or data; TrainingDivergedError when the loss or weights
        become NaN/inf (the net keeps the weights from the start of that epoch).
    """
    X = net.check_X(X)
    y = net.check_y(y, X.shape[0])
    w = net.check_sample_weight(sample_weight, X.shape[0])
    if class_weight is not None:
        if net.output != "softmax" or y.ndim != 1:
            raise InputError("class_weight needs a softmax output with integer labels; "
                             "give sample_weight instead")
        cw = class_weights_for(y, net.n_classes, class_weight).astype(net.dtype)
        w = cw[y] if w is None else w * cw[y]
    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None:
            raise InputError("give both X_val and y_val, or neither")
        if validation_fraction:
            raise InputError("give either X_val/y_val or validation_fraction, not both")
        X_val = net.check_X(X_val)
        y_val = net.check_y(y_val, X_val.shape[0])
    elif validation_fraction:
        keep, held = holdout_split(y, float(validation_fraction), seed, stratify=net.output != "identity")
        X_val, y_val = X[held], y[held]
        X, y = X[keep], y[keep]
        w = None if w is None else w[keep]
    epochs = int(_check_count(epochs, "epochs"))
    batch_size = min(int(_check_count(batch_size, "batch_size")), X.shape[0])
    if patience is not None:
        patience = int(_check_count(patience, "patience"))

    opt = optimizer if hasattr(optimizer, "step") else make_optimizer(
        optimizer, lr, **_optimizer_options(optimizer, momentum, nesterov, weight_decay))
    opt.init(net.n_params, net.dtype, weight_ranges=net.layout.weight_ranges)
    # an optimizer object brings its own learning rate; the schedule starts from it
    base_lr = opt.lr if hasattr(optimizer, "step") else lr
    sched = schedule if isinstance(schedule, Schedule) else make_schedule(schedule, base_lr, epochs)
    loop = _Loop(net, opt, sched, X, y, w, X_val, y_val, batch_size, shuffle, seed,
                 patience, min_delta, restore_best, list(callbacks), diagnostics)
    if checkpoint_dir is not None:
        loop.checkpoint_every = _check_count(checkpoint_every, "checkpoint_every")
        fingerprint = {"sizes": net.sizes, "activations": [a.name for a in net.activations],
                       "output": net.output, "dtype": net.dtype.name, "l2": net.l2,
                       "optimizer": opt.config(), "schedule": sched.config(),
                       "batch_size": batch_size, "shuffle": bool(shuffle), "seed": seed,
                       "patience": patience, "data": data_fingerprint(X, y, w, X_val, y_val)}
        loop.checkpointer = Checkpointer(checkpoint_dir, fingerprint)
        if resume:
            found = loop.checkpointer.load_latest()
            if found is not None:
                arrays, meta, loop.resume_notes = found
                loop.restore(arrays, meta)
    elif resume:
        raise InputError("resume=True needs the checkpoint_dir to resume from")
    with limit_blas_threads(net, batch_size, blas_threads):
        return loop.run(epochs)




def _optimizer_options(name, momentum, nesterov, weight_decay) -> dict:
    key = str(name).lower()
    if key == "sgd":
        return {"momentum": momentum, "nesterov": nesterov}
    if key == "nesterov":
        return {"momentum": momentum}
    if key in ("adam", "adamw") and weight_decay:
        return {"weight_decay": weight_decay}
    return {}


def _check_count(value, what: str) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a whole number ≥ 1, got {value!r}") from None
    if v < 1 or v != value:
        raise InputError(f"{what} must be a whole number ≥ 1, got {value!r}")
    return v


@contextlib.contextmanager
def _sigint_sets_flag(loop):
    """While training, SIGINT (Ctrl-C) sets ``loop.interrupted`` instead of raising at an
    arbitrary point; the loop stops after the current step. A second Ctrl-C interrupts at once.
    Only the main thread can install signal handlers; elsewhere SIGINT is left alone."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if loop.interrupted:  # the second Ctrl-C: the user insists
            raise KeyboardInterrupt
        loop.interrupted = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Loop:
    """The state of one training run (kept together so it can later be checkpointed)."""

    def __init__(self, net, opt, sched, X, y, w, X_val, y_val, batch_size, shuffle, seed,
                 patience, min_delta, restore_best, callbacks, diagnostics):
        self.net, self.opt, self.sched = net, opt, sched
        self.X, self.y, self.w = X, y, w
        self.X_val, self.y_val = X_val, y_val
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.callbacks = callbacks
        self.diagnostics = diagnostics
        self.history = History(monitor="val_loss" if X_val is not None else "train_loss")
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
        self.runner = EpochRunner(net, opt, batch_size, diagnostics, callbacks)

    def _notify(self, method: str, *args) -> bool:
        return notify(self.callbacks, method, *args)

    def run(self, epochs: int) -> History:
        net, n = self.net, self.X.shape[0]
        n_batches = -(-n // self.batch_size)
        self._notify("on_train_begin", {"epochs": epochs, "n_batches": n_batches, "n_train": n,
                                        "n_val": None if self.X_val is None else self.X_val.shape[0]})
        self.history.stop_reason = f"completed {epochs} epochs"
        with _sigint_sets_flag(self):
            for epoch in range(self.start_epoch, epochs):
                # overflow inside a diverging step is detected and reported by _epoch itself
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    record = self._epoch(epoch, n_batches)
                self.history.epochs.append(record)
                early = self._early_stop(record)
                by_callback = self._notify("on_epoch_end", record, net)
                if early:
                    self.history.stop_reason = (f"early stopping: no improvement of "
                                                f"{self.history.monitor} for {self.patience} epochs")
                elif by_callback:
                    self.history.stop_reason = f"stopped by a callback after epoch {record['epoch']}"
                done = early or by_callback or epoch + 1 == epochs
                if self.checkpointer is not None and (done or self.interrupted
                                                      or (epoch + 1) % self.checkpoint_every == 0):
                    self._save(epoch + 1, 0)
                if self.interrupted and not done:
                    raise TrainingInterrupted(self._interrupt_message(epoch + 1, 0), epoch + 1, self.history)
                if done:
                    break
        if self.restore_best and self.patience is not None and self.best_flat is not None:
            net.flat[...] = self.best_flat
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
            raise TrainingInterrupted(self._interrupt_message(epoch, sums.stopped_at), epoch + 1,
                                      self.history)
        if not np.all(np.isfinite(net.flat)):
            self._diverged(epoch, start_flat, "the weights became NaN or inf")
        n = X.shape[0]
        record = {"epoch": epoch + 1, "lr": opt.lr,
                  "train_loss": (sums.data + sums.l2) / n, "train_data_loss": sums.data / n,
                  "train_l2_loss": sums.l2 / n,
                  "train_accuracy": None if sums.correct is None else sums.correct / n,
                  "val_loss": None, "val_accuracy": None}
        if self.X_val is not None:
            record["val_loss"], record["val_accuracy"] = evaluate(net, self.X_val, self.y_val)
        if self.diagnostics:
            record["diagnostics"] = sums.diagnostics
        record["time"] = time.perf_counter() - t0
        return record

    def _save(self, epoch: int, batch: int, mid_epoch: dict | None = None) -> None:
        """Checkpoint the run at (epoch, batch); batch 0 = before ``epoch`` starts."""
        if self.checkpointer is None:
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
        """Continue from a checkpoint read by :class:`~handgrad.checkpoint.Checkpointer`."""
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

    def _interrupt_message(self, epoch: int, batch: int) -> str:
        where = f"epoch {epoch + 1}, batch {batch}" if batch else f"the end of epoch {epoch}"
        if self.checkpointer is None:
            return f"training interrupted at {where}; no checkpoint directory was given, nothing was saved"
        return (f"training interrupted at {where}; checkpoint written to {self.last_checkpoint}; "
                "run again with resume=True (handgrad train ... --resume) to continue")

    def _early_stop(self, record: dict) -> bool:
        metric = record[self.history.monitor]
        self.sched.observe(metric)
        if metric < self.best - self.min_delta:
            self.best, self.wait = metric, 0
            self.history.best_epoch = record["epoch"]
            if self.patience is not None and self.restore_best:
                self.best_flat = self.net.flat.copy()
            return False
        self.wait += 1
        return self.patience is not None and self.wait >= self.patience

    def _diverged(self, epoch: int, start_flat: Array, what: str):
        self.net.flat[...] = start_flat
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch + 1}: {what}; try a smaller learning rate "
            f"(now {self.opt.lr:g}) — the weights from the start of epoch {epoch + 1} were kept",
            epoch + 1, self.history)
