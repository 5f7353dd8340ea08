"""Many stochastic fits of the estimators at once: each estimator's own ``fit`` up to its first
epoch (checks, labels, initial weights, early-stopping split, optimizer), then the epochs of
all of them in lockstep — each estimator's epoch loop (:meth:`StochasticSolver._epoch_loop`,
the same generator a fit alone runs) asking for an epoch, and one stack
(:class:`handgrad.fast.stacked.Stack`) stepping every model that asked, with batched products
over a leading model axis — then each fit's own end.

Why: a grid search over a small table pays a fit's per-step overhead (tens of microseconds of
Python and numpy calls around microseconds of arithmetic) once per candidate and fold; here
once per step of the stack. Each estimator ends as its ``fit`` alone would end it (float64: to
rounding; tests/test_sklearn_search.py), except that no per-epoch backprop diagnostics enter
``history_``. Estimators whose networks differ (sizes, activation, output, dtype, optimizer
settings, batch size) train in separate stacks; sparse input, solver 'lbfgs' and regression
outputs train alone as usual.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..fast.stacked import Stack, StackedOptimizer, batch_rows
from ..fast.threads import poll as poll_threads
from ..training.many import flush_stack
from ..training.many_workers import resolve_workers, run_split
from ..training.steps import SKIP, EpochSums
from ._stochastic import epoch_context

Array = np.ndarray
# models per stack: about this many rows per step in all. A stack's activations outgrowing the
# cache cost more than the shared overhead saves: a grid of 80 fits on digits (64-64-10,
# batch 200) took 4.8 s as one stack, 3.7-3.9 s in stacks of 1,024-4,096 rows, 4.0 s alone
# (AMD EPYC, 2 CPUs; bench/sklearn_search.py has the whole searches)
STACK_ROWS = 1536


def fit_together(estimators, data, workers=1) -> list[BaseException | None]:
    """Fit ``estimators[i]`` (handgrad's scikit-learn estimators, fresh or cloned) on
    ``data[i]`` = (X, y) or (X, y, sample_weight) as ``estimators[i].fit(...)`` would; returns,
    per estimator, None or the exception its fit raised (the estimator is then not fitted).
    ``workers``: processes to split the training over (forked; "auto": one per core), as
    :func:`handgrad.fit_many` splits its models."""
    errors: list[BaseException | None] = [None] * len(estimators)
    jobs = []
    for i, (est, (X, y, *sw)) in enumerate(zip(estimators, data)):
        job: dict = {}
        est._together = job
        try:
            est.fit(X, y, sample_weight=sw[0] if sw else None)
        except Exception as exc:  # noqa: BLE001 - the caller decides, as a fit alone raises it
            errors[i] = exc
            continue
        finally:
            del est.__dict__["_together"]
        if job:  # solver 'lbfgs' trained inside fit: nothing deferred
            job["est"], job["index"], job["error"] = est, i, None
            jobs.append(job)

    def train(indices) -> None:
        groups: dict = {}
        for i in indices:
            groups.setdefault(_stack_key(jobs[i]), []).append(jobs[i])
        for key, group in groups.items():
            if key is None:  # not stackable: each alone, as its fit would have run it
                for job in group:
                    job["est"]._run_epochs(job["net"], job["opt"], job["X"], job["T"], job["sw"],
                                           job["batch_size"], False, job["rs"], job["val"])
            else:
                per_stack = max(1, STACK_ROWS // group[0]["batch_size"])
                for lo in range(0, len(group), per_stack):
                    with epoch_context(group[0]["net"], group[0]["batch_size"]):
                        _Lockstep(group[lo:lo + per_stack]).run()
        for i in indices:
            try:
                jobs[i]["est"]._finish_fit(jobs[i]["net"].dtype)
            except ValueError as exc:  # non-finite weights: the fit alone raises this too
                jobs[i]["error"] = exc

    workers = resolve_workers(workers, len(jobs)) if jobs else 1
    if workers == 1:
        train(range(len(jobs)))
    else:
        run_split(jobs, train, workers, result=lambda job: (job["est"], job["error"]),
                  put_back=_put_back)
    for job in jobs:
        errors[job["index"]] = job["error"]
    return errors


def _put_back(job, payload) -> None:
    """A worker's fitted estimator (pickled and back) into the caller's."""
    fitted, job["error"] = payload
    job["est"].__dict__.update(fitted.__dict__)


def _stack_key(job) -> tuple | None:
    """What models trained in one stack share; None when this one trains alone."""
    net, opt = job["net"], job["opt"]
    if sp.issparse(job["X"]) or net.output not in ("softmax", "logistic"):
        return None
    acts = tuple((a.name, tuple(sorted(a.params.items()))) for a in net.activations)
    return (tuple(net.sizes), acts, net.output, net.dtype.str, job["batch_size"],
            tuple(sorted(opt.config().items())))


class _Lockstep:
    """The epoch loops of ``jobs`` (one model shape) driven together over one stack."""

    def __init__(self, jobs):
        self.jobs = jobs
        nets = [j["net"] for j in jobs]
        net = nets[0]
        self.stack = Stack(nets, max(j["batch_size"] for j in jobs))
        self.opt = StackedOptimizer([j["opt"] for j in jobs], net.n_params, net.dtype,
                                    net.layout.weight_ranges)
        # every job's rows in one array, each distinct (X, T) once: the candidates of one
        # split without early stopping share theirs
        starts: dict = {}
        xs, ts, self.offsets, total = [], [], [], 0
        for j in jobs:
            seen = starts.get(id(j["X"]))
            if seen is None or not np.array_equal(ts[seen[1]], j["T"]):
                seen = starts[id(j["X"])] = (total, len(ts))
                xs.append(j["X"])
                ts.append(j["T"])
                total += j["X"].shape[0]
            self.offsets.append(seen[0])
        self.X, self.T = np.concatenate(xs), np.concatenate(ts)
        M = self.stack.capacity
        self.X_batch = np.empty((len(jobs), M) + self.X.shape[1:], self.X.dtype)
        self.T_batch = np.empty((len(jobs), M) + self.T.shape[1:], self.T.dtype)

    def run(self) -> None:
        loops, requests = [], {}
        for i, job in enumerate(self.jobs):
            est = job["est"]
            loops.append(est._epoch_loop(job["net"], job["opt"], job["X"], job["sw"],
                                         job["batch_size"], False, job["rs"], job["val"],
                                         list(est.callbacks or ())))
            requests[i] = next(loops[i])  # the first request: a loop always runs an epoch
        active = list(range(len(self.jobs)))  # jobs' indices, in stack order
        while active:
            try:
                sums = self._epoch(active, [requests[i] for i in active])
            except KeyboardInterrupt as exc:  # each fit ends as it does alone: warning, weights kept
                for j, i in enumerate(active):
                    self.jobs[i]["net"].flat[...] = self.stack.flat[j]
                    try:
                        loops[i].throw(exc)
                    except StopIteration:
                        pass
                return
            keep = []
            for j, i in enumerate(active):
                try:
                    requests[i] = loops[i].send(sums[j])
                    keep.append(j)
                except StopIteration:
                    pass
            if len(keep) < len(active):
                active = [active[j] for j in keep]
                if active:
                    self.stack = self.stack.select(np.array(keep))
                    self.opt.select(np.array(keep))

    def _epoch(self, active: list[int], requests) -> list[EpochSums]:
        """One epoch of the jobs at ``active`` (in stack order) as they requested it: their
        rows' order (None: as they are) and batch-weights hook, which also sets each batch's
        L2 strength. Leaves each job's network and optimizer state as its epoch ended."""
        group = [self.jobs[i] for i in active]
        stack, opt, dtype = self.stack, self.opt, self.stack.dtype
        K, M = len(group), stack.capacity
        for j, job in enumerate(group):
            opt.lr[j] = job["opt"].lr  # scikit-learn's schedules change it between epochs
        orders = [np.arange(job["X"].shape[0]) if order is None else order
                  for job, (order, _, _) in zip(group, requests)]
        sizes = [job["batch_size"] for job in group]
        rows, counts_per_step = batch_rows(orders, sizes, [int(self.offsets[i]) for i in active], M)
        sums = np.zeros((K, 3))  # Σ k·data loss, Σ k·l2 loss, Σ correct
        lasts: dict = {}
        for j, order in enumerate(orders):
            lasts.setdefault(-(-order.size // sizes[j]) - 1, []).append(j)
        w = np.zeros((K, M), dtype)
        for b in range(counts_per_step.shape[0]):
            counts = counts_per_step[b].copy()
            weighted = False
            for j, (job, (_, batch_weights, _)) in enumerate(zip(group, requests)):
                c = counts[j]
                if c == 0:
                    continue
                wb = batch_weights(orders[j][b * sizes[j]:b * sizes[j] + c], c)
                if wb is SKIP:  # its batch weighs nothing: no step, as alone
                    counts[j] = 0
                    continue
                stack.lam[j] = job["net"].l2  # the hook set this batch's λ
                w[j, :c] = 1 if wb is None else wb
                w[j, c:] = 0
                weighted |= wb is not None
            w[counts == 0] = 0
            stack.lam2[:, 0, 0] = 2 * stack.lam
            padded = bool((counts < M).any())
            idx = rows[:, b * M:(b + 1) * M]
            Xb = np.take(self.X, idx, axis=0, out=self.X_batch[:K])  # no allocation per step
            Tb = np.take(self.T, idx, axis=0, out=self.T_batch[:K])
            data, l2, hits = stack.step(Xb, Tb, w if weighted or padded else None,
                                        counts if padded else None)
            steps = np.flatnonzero(counts > 0)
            if steps.size:
                opt.step(stack.flat, stack.grad, None if steps.size == K else steps)
            sums[:, 0] += np.where(counts > 0, data, 0.0) * counts
            sums[:, 1] += np.where(counts > 0, l2, 0.0) * counts
            sums[:, 2] += hits
            poll_threads()
            flush_stack(stack, opt, b, lasts)
        out = []
        for j, job in enumerate(group):
            job["net"].flat[...] = stack.flat[j]
            _state_back(opt, j, job["opt"])
            out.append(EpochSums(data=float(sums[j, 0]), l2=float(sums[j, 1]), correct=int(sums[j, 2])))
        return out


def _state_back(stacked: StackedOptimizer, j: int, opt) -> None:
    """Model ``j``'s optimizer state from the stack into its own optimizer (its loop keeps
    it as ``_optimizer_state`` when the fit ends)."""
    if stacked.name == "adam":
        opt.m[...], opt.v[...], opt.t = stacked.m[j], stacked.v[j], int(stacked.t[j])
    elif stacked.velocity is not None:
        opt.velocity[...] = stacked.velocity[j]

