"""The arguments of :func:`handgrad.fit_many`, checked and turned into one member per network:
its data (validated once where shared), optimizer, schedule and early-stopping state.

``X``, ``y``, ``X_val``, ``y_val`` and ``sample_weight`` are shared, or one array per network as
a list (the folds of cross-validation); ``lr``, ``seed`` and ``epochs`` one value or one per
network. Every
check and split is :func:`handgrad.fit`'s, so that each member starts where ``fit`` would.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.heads import REGRESSION_HEADS
from ..errors import InputError
from ..memory_plan import MemoryPlan
from ..validation import check_count, check_flag, check_positive, check_seed
from .evaluation import MONITORS, check_monitor
from .history import History
from .footprint import add_training, data_bytes
from .loop import _optimizer_options, training_parts
from .optim import make_optimizer
from .schedules import make_schedule
from .stopping import EarlyStopping


class _Member(EarlyStopping):
    """One model of the group: its data, position in the stack, schedule and stopping state."""

    def __init__(self, net, X, y, w, X_val, y_val, seed, sched, monitor, patience, min_delta,
                 restore_best, batch_size):
        self.net, self.X, self.y, self.w, self.X_val, self.y_val = net, X, y, w, X_val, y_val
        self.rng, self.seed = np.random.default_rng(seed), seed
        self.dropout = None  # its dropout scales' draws (steps.Dropout), set by the stack
        self.sched, self.patience, self.min_delta, self.restore_best = sched, patience, min_delta, restore_best
        self.history = History(monitor=monitor or ("val_loss" if X_val is not None else "train_loss"))
        self.sign = -1.0 if MONITORS[self.history.monitor] else 1.0
        self.best, self.best_flat, self.wait = math.inf, None, 0
        self.batch_size = min(batch_size, X.shape[0])
        self.n = X.shape[0]
        self.n_batches = -(-self.n // self.batch_size)
        self.offset = 0  # where its rows start in the group's stacked rows
        self.epochs = 0  # how many it trains at most (set by prepare_members)


def _per_model(value, k: int, ndim) -> list | None:
    """``value`` as a list of k per-model entries when it is a list/tuple of k arrays of
    ``ndim`` dimensions (or of any in a tuple ``ndim``: per-model data); None when it is one
    shared value."""
    ndims = ndim if isinstance(ndim, tuple) else (ndim,)
    if isinstance(value, (list, tuple)) and len(value) == k and k and all(
            v is not None and np.ndim(v) in ndims for v in value):
        return list(value)
    return None


def _each(value, k: int, name: str) -> list:
    """A scalar for every model, or a sequence of k (one per model)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != k:
            raise InputError(f"{name} has {len(value)} entries for {k} networks; give one value or one per network")
        return list(value)
    return [value] * k


def prepare_members(nets, X, y, *, X_val, y_val, validation_fraction, sample_weight,
                    class_weight, epochs, batch_size, optimizer, lr, schedule, momentum, nesterov,
                    weight_decay, patience, min_delta, restore_best, seed, monitor, workers=1):
    """(members, optimizers, epochs) for :func:`~handgrad.training.many.fit_many`; refuses what it
    cannot train (other shapes, other outputs or δ, logistic outputs, probability targets,
    optimizer or schedule objects, Generator seeds) in one line."""
    nets = list(nets)
    if not nets:
        raise InputError("fit_many needs at least one network")
    first = nets[0]
    shape = (first.sizes, [a.name for a in first.activations], first.dtype, first.output,
             first.head_params)
    for net in nets[1:]:
        other = (net.sizes, [a.name for a in net.activations], net.dtype, net.output, net.head_params)
        if other != shape:
            describe = lambda s: f"{s[0]} {'/'.join(s[1])} {s[2]} {s[3]}" + "".join(  # noqa: E731
                f" {k}={v:g}" for k, v in s[4].items())
            raise InputError(f"fit_many trains networks of one shape together; {describe(other)} "
                             f"differs from {describe(shape)}: group the networks by shape, or "
                             "call fit for each")
    labels = first.output == "softmax"  # else a regression head, with real targets
    if not labels and first.output not in REGRESSION_HEADS:
        raise InputError(f"fit_many trains softmax classifiers and regression networks; this "
                         f"network's output is {first.output!r}: call fit for each network")
    K = len(nets)
    epoch_counts = [check_count(e, "epochs") for e in _each(epochs, K, "epochs")]
    epochs = max(epoch_counts)
    batch_size = check_count(batch_size, "batch_size")
    if patience is not None:
        patience = check_count(patience, "patience")
    min_delta = check_positive(min_delta, "min_delta", allow_zero=True)
    validation_fraction = check_positive(validation_fraction or 0.0, "validation_fraction", allow_zero=True)
    restore_best = check_flag(restore_best, "restore_best")
    for value, name, kind in ((optimizer, "optimizer", "sgd, nesterov, adam or adamw"),
                              (schedule, "schedule", "constant, step, exponential, cosine or plateau")):
        if not isinstance(value, str):
            raise InputError(f"fit_many takes the {name} by name ({kind}), with its settings as "
                             f"arguments; got {type(value).__name__} (fit takes such objects)")
    lrs = _each(lr, K, "lr")
    seeds = _each(seed, K, "seed")
    if any(isinstance(s, np.random.Generator) for s in seeds):
        raise InputError("fit_many takes integer seeds (one, or one per network): one Generator "
                         "shared by the networks would interleave their shuffles")
    seeds = [check_seed(s) for s in seeds]
    check_monitor(monitor, first.output)
    Xs = _per_model(X, K, 2)
    y_ndim = 1 if labels else (1, 2)  # labels (n,); targets (n,) or (n, n_out)
    ys = _per_model(y, K, y_ndim) if Xs is not None else None
    if Xs is not None and ys is None:
        raise InputError(f"X is one array per network; give y as one {'label' if labels else 'target'} "
                         "array per network too")
    Xvs = _per_model(X_val, K, 2)
    yvs = _per_model(y_val, K, y_ndim) if Xvs is not None else None
    ws = _per_model(sample_weight, K, 1)
    # shared data validated (and converted to the networks' dtype) once, not once per network
    shared_X = first.check_X(X) if Xs is None else None
    shared_y = first.check_y(y, shared_X.shape[0]) if Xs is None else None
    shared_Xv = first.check_X(X_val) if X_val is not None and Xvs is None else None
    shared_yv = (first.check_y(y_val, shared_Xv.shape[0]) if shared_Xv is not None and y_val is not None
                 else y_val)
    opt_options = _optimizer_options(optimizer, momentum, nesterov, weight_decay)
    members, opts = [], []
    for k, net in enumerate(nets):
        Xk = net.check_X(Xs[k]) if Xs is not None else shared_X
        yk = net.check_y(ys[k], Xk.shape[0]) if ys is not None else shared_y
        if labels and yk.ndim != 1:
            raise InputError("fit_many takes integer class labels; for probability rows as "
                             "targets call fit for each network")
        wk = net.check_sample_weight(ws[k] if ws is not None else sample_weight, Xk.shape[0])
        # fit's own split: an already-checked shared validation part passes through unchanged
        Xk, yk, wk, Xv, yv = training_parts(
            net, Xk, yk, wk, class_weight, Xvs[k] if Xvs is not None else shared_Xv,
            yvs[k] if yvs is not None else shared_yv,
            validation_fraction, seeds[k])
        if monitor not in (None, "train_loss") and Xv is None:
            raise InputError(f"monitor={monitor!r} needs a validation set (X_val/y_val or validation_fraction)")
        opts.append(make_optimizer(optimizer, lrs[k], **opt_options))
        members.append(_Member(net, Xk, yk, wk, Xv, yv, seeds[k], make_schedule(schedule, lrs[k], epoch_counts[k]),
                               monitor, patience, min_delta, restore_best, batch_size))
        members[-1].epochs = epoch_counts[k]
    # refused before the stack's buffers are allocated, as fit refuses one network
    many_plan(members, opts[0], patience, restore_best, workers).check()
    return members, opts, epochs


def many_plan(members, optimizer, patience, restore_best, workers: int) -> MemoryPlan:
    """What training ``members`` together holds (:mod:`~handgrad.training.footprint`): the
    stack, the batches and validation predictions of the largest member, and the rows of
    all members laid end to end (unless shared) with their epoch's batch order."""
    K, first = len(members), members[0].net
    item = first.dtype.itemsize
    plan = MemoryPlan("the network", first.sizes, purpose=f" for {K} networks trained at once")
    n_val = max((0 if m.X_val is None else m.X_val.shape[0]) for m in members)
    add_training(plan, first.sizes, item, optimizer=optimizer, batch_rows=max(m.batch_size for m in members),
                 eval_rows=n_val, networks=K, together=K, best=patience is not None and bool(restore_best),
                 workers=workers, held=True)
    rows = sum(m.n for m in members)
    width = first.sizes[0] + (0 if members[0].y.ndim == 1 else members[0].y.shape[1])
    shared = all(m.X is members[0].X for m in members)
    plan.add("the members' rows", (0 if shared else data_bytes(rows, width, item))
             + data_bytes(rows, 1, 8) + data_bytes(K * n_val, first.sizes[0], item),
             "fewer networks at once")
    return plan
