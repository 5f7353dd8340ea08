"""One epoch of mini-batch steps, shared by :func:`handgrad.fit` and the scikit-learn
estimators.

Per batch: gather the rows (into reused buffers when shuffled), the fast forward and backward
pass (:meth:`~handgrad.MLP.train_step`), the optimizer's step — or, for plain SGD, the update
fused into the backward products — and the running sums of the epoch's losses and correct
rows. At the epoch's last step the diagnostics (gradient norms, update ratios) are taken, so
that step is never fused; dead ReLU units are tracked at every step; every few steps subnormal
numbers in the parameters and the optimizer's state are set to 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..core.dropout import epoch_generator, keep_scale
from ..errors import InputError
from ..fast.kernels import flush_subnormals, kernel_for
from ..fast.memory import aligned_empty
from ..fast.threads import poll as poll_threads
from ..validation import check_fraction
from .diagnostics import DeadUnits, epoch_diagnostics, frobenius, notify

Array = np.ndarray
SKIP = object()  # returned by a batch_weights hook: leave this batch out (no step)
# Every this many steps (and at an epoch's end) subnormal parameters and optimizer state are
# set to 0 (fast.kernels.flush_subnormals): ~0.2 ms for 235k parameters, against the products'
# slow path on subnormals. 0 turns it off.
FLUSH_EVERY = 32


@dataclass
class EpochSums:
    """Row-weighted sums over the steps taken: Σ k·data_loss, Σ k·l2_loss, Σ correct rows
    (None for regression); ``stopped_at`` is the next batch when the epoch was cut short."""

    data: float = 0.0
    l2: float = 0.0
    correct: int | None = 0
    stopped_at: int | None = None
    diagnostics: dict | None = field(default=None)


class EpochRunner:
    """Mini-batch steps over ``(X, y, w)`` for ``net`` with optimizer ``opt``, in buffers
    allocated once for batches of up to ``batch_size`` rows.

    ``data_parallel`` (a :class:`handgrad.distributed.DataParallel`, None in one process):
    each step computes this rank's shard of the global batch and reduces the gradient over
    the ranks (inside ``data_parallel.attached(net)``); sums, callbacks and stops then see
    the global batch."""

    def __init__(self, net, opt, batch_size: int, diagnostics: bool = True, callbacks=(),
                 data_parallel=None, dropout: float = 0.0, dropout_seed: int | None = 0):
        self.net, self.opt, self.batch_size = net, opt, batch_size
        self.dp = data_parallel
        # inverted dropout on the hidden layers (derivations.md §20): per step a scale S_l for
        # each, drawn from a generator of (seed, epoch) — see Dropout — into reused buffers
        self.dropout = Dropout(net, dropout, dropout_seed) if dropout else None
        self.masks = [np.empty((batch_size, n), net.dtype) for n in net.sizes[1:-1]] if dropout else None
        # the workspace holds one step's rows: this rank's shard under data parallelism
        self.ws = net.workspace(batch_size if data_parallel is None else data_parallel.capacity(batch_size))
        # dead units are read off the stored f'(Z), which dropout multiplies by its mask
        self.dead = DeadUnits(net) if diagnostics and not dropout else None
        self.diagnostics = diagnostics
        self.callbacks = list(callbacks)
        self._buffers: dict = {}

    def _take(self, name: str, a: Array, rows: Array, k: int) -> Array:
        """``a[rows]`` into a reused buffer (aligned for X): no allocation per step."""
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != a.dtype or buf.shape[1:] != a.shape[1:]:
            shape = (self.batch_size,) + a.shape[1:]
            buf = aligned_empty(shape, a.dtype) if name == "X" else np.empty(shape, a.dtype)
            self._buffers[name] = buf
        return np.take(a, rows, axis=0, out=buf[:k])

    def flush(self) -> None:
        """Subnormal parameters and optimizer state to 0 (see :data:`FLUSH_EVERY`)."""
        flush_subnormals(self.net.flat)
        for buf in getattr(self.opt, "state_buffers", lambda: [])():
            flush_subnormals(buf)

    def run(self, X, y: Array, w: Array | None, order: Array | None, *, epoch: int = 0,
            first: int = 0, sums: EpochSums | None = None,
            batch_weights: Callable | None = None, densify: Callable | None = None,
            on_nonfinite: Callable[[float], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> EpochSums:
        """Steps over batches ``first, first+1, …`` of the rows in ``order`` (None: in order).

        Hooks: ``batch_weights(rows, k)`` gives the batch's sample weights (or :data:`SKIP`)
        and may set ``net.l2`` for the batch (scikit-learn's per-batch penalty); ``densify(Xb)``
        turns a sparse batch dense; ``on_nonfinite(loss)`` is called when a step's loss is NaN
        or inf (it should raise); ``should_stop()`` after each step ends the epoch early,
        with ``stopped_at`` set to the next batch.
        """
        net, opt, bs, dp = self.net, self.opt, self.batch_size, self.dp
        n = X.shape[0]
        n_batches = -(-n // bs)
        sums = sums or EpochSums()
        if self.dead is not None:
            self.dead.reset()
        # data parallel: the update needs the reduced gradient, so it is never fused
        fuse = getattr(opt, "fuses_into_backward", False) and dp is None
        if dp is not None and (batch_weights is not None or densify is not None):
            raise ValueError("data-parallel steps take no batch_weights or densify hook")
        last_step = None
        masks = None
        if self.dropout is not None:
            self.dropout.start(epoch, [min(bs, n - j * bs) for j in range(first)])
        for b in range(first, n_batches):
            rows = slice(b * bs, min((b + 1) * bs, n)) if order is None else order[b * bs:(b + 1) * bs]
            k = (rows.stop - rows.start) if order is None else rows.size
            k_all = k  # the global batch's rows (the step's losses are means over them)
            if dp is not None:
                rows, k = dp.shard(rows, k)
            if batch_weights is not None:
                wb = batch_weights(rows, k)
                if wb is SKIP:
                    continue
            else:
                wb = None if w is None else (w[rows] if order is None else self._take("w", w, rows, k))
                if dp is not None:  # w_i·k_r/k: the shard's 1/k_r mean becomes the batch's 1/k
                    wb = dp.shard_weights(wb, k, k_all, net.dtype)
            if densify is not None:
                Xb = densify(X[rows])
            else:
                Xb = X[rows] if order is None else self._take("X", X, rows, k)
            yb = y[rows] if order is None else self._take("y", y, rows, k)
            last = b == n_batches - 1
            watch = last and self.diagnostics  # the diagnostics need this step's gradient
            fused = fuse and not watch
            before = net.flat.copy() if watch else None
            if self.dropout is not None:
                masks = self.dropout.draw([buf[:k] for buf in self.masks])
            if dp is None:
                result = net.train_step(Xb, yb, wb, self.ws, sgd_lr=opt.lr if fused else None, masks=masks)
            else:  # the shard's step and one Allreduce: the batch's gradient and sums, agreed stop
                result, stop_all = dp.step(net, Xb, yb, wb, self.ws,
                                           stop=should_stop is not None and should_stop())
            if on_nonfinite is not None and not math.isfinite(result.loss):
                on_nonfinite(result.loss)
            sums.data += result.data_loss * k_all
            sums.l2 += result.l2_loss * k_all
            sums.correct = None if result.correct is None else sums.correct + result.correct
            if self.dead is not None:
                self.dead.update(self.ws, k)
            if watch:
                last_step = (before, [frobenius(g) for g in net.weight_grads])
            if not fused:
                opt.step(net.flat, net.flat_grad)
            if FLUSH_EVERY and ((b + 1) % FLUSH_EVERY == 0 or last):
                self.flush()
            poll_threads()
            if self.callbacks:
                notify(self.callbacks, "on_batch_end", epoch, b, n_batches, result.loss)
            if should_stop is not None and b + 1 < n_batches and (should_stop() if dp is None else stop_all):
                sums.stopped_at = b + 1
                return sums
        if dp is not None:
            dp.merge_dead(self.dead)
        if last_step is not None:
            sums.diagnostics = epoch_diagnostics(net, *last_step, self.dead)
        return sums


def check_dropout(p, net) -> float:
    """The dropout rate ``p`` of :func:`~handgrad.fit` and :func:`~handgrad.fit_many`, in
    [0, 1), refused for a network with a hidden activation that stores no derivative (the mask
    is folded into it: :func:`handgrad.fast.step.forward`)."""
    p = check_fraction(p, "dropout")
    if p and any(kernel_for(a).derivative_into is None for a in net.activations):
        raise InputError("dropout needs hidden activations with a derivative (relu, leaky_relu, "
                         "sigmoid, tanh); this network has " + ", ".join(a.name for a in net.activations))
    return p


class Dropout:
    """The dropout scales of one network's training steps (derivations.md §20): rate ``p`` on
    every hidden layer, from each epoch's generator
    :func:`~handgrad.core.dropout.epoch_generator` (seed, epoch) — drawn in order, layer by
    layer, batch by batch, by :class:`EpochRunner` alone and by :func:`~handgrad.fit_many`
    for each network of a stack alike. A run seeded from entropy (``seed`` None) draws a
    seed once."""

    def __init__(self, net, p: float, seed: int | None):
        self.p, self.widths, self.dtype = p, net.sizes[1:-1], net.dtype
        self.seed = seed if seed is not None else int(np.random.default_rng().integers(2**62))
        self.rng = None

    def start(self, epoch: int, skipped=()) -> None:
        """A new epoch's generator; ``skipped``: the rows of the batches a resumed epoch has
        already taken, whose draws are made and dropped so that the next ones are the same."""
        self.rng = epoch_generator(self.seed, epoch)
        for k in skipped:
            self.draw([np.empty((k, n), self.dtype) for n in self.widths])

    def draw(self, into: list) -> list:
        """The next step's scales S_l, one per hidden layer, drawn into ``into`` (C-contiguous
        (k, n_l) arrays of the network's dtype)."""
        return [keep_scale(self.rng, None, self.p, buf.dtype, out=buf) for buf in into]
