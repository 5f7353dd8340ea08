"""Many networks of one shape trained at once: ``fit_many(nets, X, y, ...)``.

Each network is trained as :func:`handgrad.fit` would train it alone — its own initial weights,
L2 strength, learning rate (and schedule), shuffling seed, validation set, early stopping and
restored best weights — but all steps of all of them run as one batched step over a leading
model axis (:mod:`handgrad.fast.stacked`), so the per-step overhead that dominates small data
is paid once per step instead of once per model. The results equal training each alone (float64
to rounding; tests/test_fit_many.py). A model that stops early leaves the group; one that
diverges is stopped with its last good weights and says so, without stopping the others.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..core.heads import REGRESSION_HEADS
from ..errors import InputError
from ..validation import check_flag
from ..fast.kernels import flush_subnormals
from ..fast.stacked import Stack, StackedOptimizer, batch_rows, finite_rows
from ..fast.threads import limit_blas_threads
from ..fast.threads import poll as poll_threads
from .evaluation import validation_record
from .history import History, divergence, epoch_record
from .many_args import _Member, prepare_members
from .many_workers import net_and_history, put_net_and_history, resolve_workers, run_split
from .steps import FLUSH_EVERY, Dropout, check_dropout

Array = np.ndarray


def fit_many(nets, X, y, *, X_val=None, y_val=None, validation_fraction: float = 0.0,
             sample_weight=None, class_weight=None, epochs: int = 100, batch_size: int = 32,
             optimizer: str = "adam", lr=1e-3, schedule: str = "constant", momentum: float = 0.9,
             nesterov: bool = False, weight_decay: float = 0.0, patience: int | None = None,
             min_delta: float = 0.0, restore_best: bool = True, shuffle: bool = True, seed=0,
             monitor: str | None = None, blas_threads="auto", workers=1, on_epoch=None, ranks=None,
             dropout: float = 0.0) -> list[History]:
    """Train the :class:`~handgrad.MLP` networks ``nets`` in place, all at once; return one
    :class:`~handgrad.training.history.History` per network.

    The networks must share sizes, activations, dtype and the output head — softmax with
    integer labels, or a regression head (identity, exp, or huber with one δ) with real targets
    (n,) or (n, n_out); they may differ in initial weights (seed) and L2 strength (``net.l2``).
    ``lr``, ``seed`` (shuffling and the validation split) and ``epochs`` are one value or one
    per network.
    ``X``, ``y``, ``X_val``, ``y_val`` and ``sample_weight`` are shared, or per network as a
    list of one array per network (the folds of cross-validation). The other arguments are
    :func:`handgrad.fit`'s; each network's weights and history equal what ``fit`` gives it
    alone with the same arguments (float64: to rounding), except that no per-epoch
    diagnostics are recorded, callbacks and checkpoints are not taken, and a network that
    diverges does not raise: it stops alone with the weights from the start of that epoch,
    ``history.diverged_in`` set to the epoch and the stop reason saying so, while the others
    go on. ``workers``: processes to split the networks over
    (forked, one BLAS thread each; "auto": one per core, at most one per two networks; 1 in a
    process that may not fork); the results do not depend on it beyond rounding.
    ``on_epoch(epoch, epochs, running)``: called after each epoch with the number of networks
    still training — those of this process (a progress display; workers do not call it).
    ``ranks``: a :class:`handgrad.distributed.OverRanks` to split the networks over MPI ranks
    instead of workers (every rank calls fit_many alike and ends with every network trained).
    ``dropout``: :func:`handgrad.fit`'s, for every network; each draws its masks from its own
    seed and the epoch, as it does alone.
    """
    try:
        nets = list(nets)
    except TypeError:
        raise InputError(f"fit_many takes a list of networks, got {type(nets).__name__}") from None
    spread = ranks is not None and ranks.size > 1
    workers = 1 if spread else resolve_workers(workers, len(nets))  # the memory check counts the processes
    shuffle = check_flag(shuffle, "shuffle")
    dropout = check_dropout(dropout, nets[0]) if nets else 0.0
    members, opts, epochs = prepare_members(
        nets, X, y, X_val=X_val, y_val=y_val, validation_fraction=validation_fraction,
        sample_weight=sample_weight, class_weight=class_weight, epochs=epochs,
        batch_size=batch_size, optimizer=optimizer, lr=lr, schedule=schedule, momentum=momentum,
        nesterov=nesterov, weight_decay=weight_decay, patience=patience, min_delta=min_delta,
        restore_best=restore_best, seed=seed, monitor=monitor, workers=workers)
    K, first = len(members), members[0].net

    parent = os.getpid()

    def train(indices):
        tell = on_epoch if os.getpid() == parent else None  # a forked worker tells nobody
        _Group([members[i] for i in indices], [opts[i] for i in indices], dropout).run(epochs, shuffle, tell)

    # the products are K separate ones of one model's batch: their size decides, not K times it
    with limit_blas_threads(first, members[0].batch_size, blas_threads if workers == 1 else 1):
        if spread:
            ranks.run(members, train, net_and_history, put_net_and_history)
        elif workers == 1:
            train(range(K))
        else:
            run_split(members, train, workers)
    return [m.history for m in members]


class _Group:
    """The models still training, stacked; the rows of all of them in one array."""

    def __init__(self, members: list[_Member], opts, dropout: float = 0.0):
        self.members = members
        net = members[0].net
        self.stack = Stack([m.net for m in members], max(m.batch_size for m in members))
        # dropout scales per hidden layer (K, capacity, n_l), each model's drawn as alone by its
        # own Dropout (its seed, the epoch); padding rows keep finite values
        self.dropout = dropout
        self.masks = [np.ones((len(members), self.stack.capacity, n), net.dtype)
                      for n in net.sizes[1:-1]] if dropout else None
        for m in members:
            m.dropout = Dropout(m.net, dropout, m.seed) if dropout else None
        self.opt = StackedOptimizer(opts, net.n_params, net.dtype, net.layout.weight_ranges)
        # every model's rows one after another: a step gathers all batches in one indexing
        shared = all(m.X is members[0].X for m in members)
        if shared:
            self.X, self.y = members[0].X, members[0].y
        else:
            for m, off in zip(members, np.cumsum([0] + [m.n for m in members[:-1]])):
                m.offset = int(off)
            self.X = np.concatenate([m.X for m in members])
            self.y = np.concatenate([m.y for m in members])
        capacity = self.stack.capacity
        self.X_batch = np.empty((len(members), capacity, self.X.shape[1]), self.X.dtype)
        # labels (K, capacity), or a regression head's targets (K, capacity, n_out)
        self.y_batch = np.empty((len(members), capacity) + self.y.shape[1:], self.y.dtype)
        self.counts_rows_right = net.output not in REGRESSION_HEADS
        # sample weights: one after another as the rows are, or — the rows shared — a (K, n)
        # table indexed per model
        self.w = self.w_per_model = None
        if any(m.w is not None for m in members):
            ws = [m.w if m.w is not None else np.ones(m.n, net.dtype) for m in members]
            if shared:
                self.w_per_model = np.stack(ws)
            else:
                self.w = np.concatenate(ws)
        # the validation rows: one array for all (1, n, d), or each model's padded (K, n_max, d)
        self.X_val = None
        if members[0].X_val is not None:
            if all(m.X_val is members[0].X_val for m in members):
                self.X_val = members[0].X_val[None]
            else:
                n_max = max(m.X_val.shape[0] for m in members)
                self.X_val = np.zeros((len(members), n_max, members[0].X_val.shape[1]), net.dtype)
                for k, m in enumerate(members):
                    self.X_val[k, :m.X_val.shape[0]] = m.X_val

    def _masks(self, group, counts) -> list | None:
        """This step's dropout scales: each model's rows drawn from its own generator, layer
        after layer, as its steps alone draw them (None without dropout)."""
        if not self.dropout:
            return None
        for j, m in enumerate(group):
            if counts[j]:
                m.dropout.draw([buf[j, :counts[j]] for buf in self.masks])
        return [buf[:len(group)] for buf in self.masks]

    def run(self, epochs: int, shuffle: bool, on_epoch=None) -> None:
        active = list(range(len(self.members)))  # members' indices, in stack order
        for m in self.members:
            m.history.stop_reason = f"completed {m.epochs} epochs"
        for epoch in range(epochs):
            if not active:
                break
            # a diverging model's overflow is detected and reported by _epoch itself
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                stopped = self._epoch(epoch, active, shuffle, epochs)
            if stopped:
                keep = np.array([j for j, i in enumerate(active) if i not in stopped])
                active = [active[j] for j in keep]
                if active:
                    self.stack = self.stack.select(keep)
                    self.opt.select(keep)
                    if self.X_val is not None and self.X_val.shape[0] > 1:
                        self.X_val = self.X_val[keep]
            if on_epoch is not None:
                on_epoch(epoch + 1, epochs, len(active))

    def _epoch(self, epoch: int, active: list[int], shuffle: bool, epochs: int) -> set:
        """One epoch of the members at ``active`` (in stack order); the members that stop."""
        t0 = time.perf_counter()
        group = [self.members[i] for i in active]
        stack, opt, dtype = self.stack, self.opt, self.stack.dtype
        K = len(group)
        for j, m in enumerate(group):
            opt.lr[j] = m.sched.lr(epoch)
        orders = [m.rng.permutation(m.n) if shuffle else np.arange(m.n) for m in group]
        if self.dropout:
            for m in group:
                m.dropout.start(epoch)
        start = stack.flat.copy()  # the last good weights, if a model diverges
        sums = np.zeros((K, 3))  # Σ k·data loss, Σ k·l2 loss, Σ correct
        M = stack.capacity
        rows, counts_per_step = batch_rows(orders, [m.batch_size for m in group], [m.offset for m in group], M)
        n_steps = counts_per_step.shape[0]
        lasts: dict = {}  # step -> the models whose epoch ends there
        for j, m in enumerate(group):
            lasts.setdefault(m.n_batches - 1, []).append(j)
        failed = np.zeros(K, dtype=bool)
        for b in range(n_steps):
            idx = rows[:, b * M:(b + 1) * M]
            counts = counts_per_step[b]
            padded = bool((counts < M).any())
            w = self._weights(idx, active)
            if padded:  # padding rows weigh 0; each model divides by its own rows
                real = (np.arange(M)[None, :] < counts[:, None]).astype(dtype)
                w = real if w is None else w * real
            Xb = np.take(self.X, idx, axis=0, out=self.X_batch[:K])  # reused: no allocation per step
            yb = np.take(self.y, idx, axis=0, out=self.y_batch[:K])
            data, l2, hits = stack.step(Xb, yb, w, counts if padded else None, self._masks(group, counts))
            bad = ~np.isfinite(data + l2)
            failed |= bad & (counts > 0)
            steps = np.flatnonzero((counts > 0) & ~failed)
            if steps.size:
                opt.step(stack.flat, stack.grad, None if steps.size == K else steps)
            if bad.any():
                data, l2 = np.where(bad, 0.0, data), np.where(bad, 0.0, l2)
            sums[:, 0] += data * counts
            sums[:, 1] += l2 * counts
            if hits is not None:
                sums[:, 2] += hits
            poll_threads()  # under a watched BLAS thread count: the machine's load looked at again
            flush_stack(stack, opt, b, lasts)
        failed |= ~finite_rows(stack.flat)
        val_logits = None if self.X_val is None else stack.logits(self.X_val)
        elapsed = time.perf_counter() - t0
        stopped = set()
        for j, m in enumerate(group):
            if failed[j]:
                m.net.flat[...] = start[j]
                m.history.stop_reason = divergence(epoch, "the training loss or weights became NaN or inf",
                                                   opt.lr[j])
                m.history.diverged_in = epoch + 1
                stopped.add(active[j])
                continue
            m.net.flat[...] = stack.flat[j]
            correct = sums[j, 2] if self.counts_rows_right else None
            record = epoch_record(epoch, float(opt.lr[j]), sums[j, 0], sums[j, 1], correct, m.n)
            if m.X_val is not None:
                record.update(validation_record(m.net, m.X_val, m.y_val, logits=val_logits[j, :m.X_val.shape[0]]))
            record["time"] = elapsed
            m.history.epochs.append(record)
            if m._early_stop(record) or epoch + 1 == m.epochs:
                m._restore_best()
                stopped.add(active[j])
        return stopped

    def _weights(self, idx: Array, active: list[int]) -> Array | None:
        """The batch's sample weights (K, M) of the members at ``active``, or None when no
        model has any."""
        if self.w is not None:
            return self.w[idx]
        if self.w_per_model is not None:
            return self.w_per_model[np.array(active)[:, None], idx]
        return None


def flush_stack(stack, opt, b: int, lasts: dict) -> None:
    """After step ``b``, subnormals to 0 as fit flushes them (:data:`~.steps.FLUSH_EVERY`):
    every few steps, and at each model's own last batch (``lasts``: step -> stack rows)."""
    every = FLUSH_EVERY and (b + 1) % FLUSH_EVERY == 0
    if not FLUSH_EVERY or not (every or b in lasts):
        return
    for buf in (stack.flat, *opt.state_buffers()):
        for row in ([buf] if every else [buf[j] for j in lasts[b]]):  # views
            flush_subnormals(row)
