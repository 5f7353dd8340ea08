"""How an ensemble's members train (:mod:`handgrad.model.ensemble`): one alone, as one
network, and the others as stacks (:func:`~handgrad.fit_many`), over the cores or MPI ranks."""

from __future__ import annotations

from .crossval import _fit_runs


class MemberTraining:
    """How the members train: one alone — on a hold-out part the default member, on all rows
    the first kept one — with the ``callbacks`` as one network (it records the backprop
    diagnostics the stack records for none); the others as stacks, their progress told to the
    callbacks' ``on_stage_epoch(label, epoch, epochs, running)``, split over MPI ``ranks``."""

    def __init__(self, callbacks, ranks):
        self.callbacks = list(callbacks or ())
        self.hooks = [cb.on_stage_epoch for cb in self.callbacks if hasattr(cb, "on_stage_epoch")]
        self.ranks = ranks

    def stacked(self, runs, label: str, raise_divergence: bool = False) -> list:
        hooks = self.hooks
        told = (lambda epoch, epochs, running: [h(label, epoch, epochs, running) for h in hooks]) if hooks else None
        return _fit_runs(runs, on_epoch=told, raise_divergence=raise_divergence, ranks=self.ranks)

    def alone_beside(self, first, rest: list, label: str) -> list:
        """The histories of ``first`` trained alone (it records the backprop diagnostics the
        stack records for none, its progress told) and of the ``rest`` stacked — at once, the
        stack in a forked process, where this one may fork and has two cores (the one alone
        would otherwise leave a core idle for a whole network's training)."""
        from ..training.many_workers import available_cores, can_fork, run_split

        if not rest or (self.ranks is not None and self.ranks.size > 1) or not (can_fork() and available_cores() > 1):
            return [first.fit(), *(self.stacked(rest, label, raise_divergence=True) if rest else [])]
        got = {}

        def train(jobs):  # job 0 here, job 1 (the stack, telling no progress) in the child
            for j in jobs:
                got[j] = first.fit() if j == 0 else _fit_runs(rest, raise_divergence=True)

        def put_back(j, payload):
            for r, (flat, _) in zip(rest, payload):
                r.net.flat[...] = flat
            got[j] = [h for _, h in payload]

        run_split([0, 1], train, 2, result=lambda j: [(r.net.flat, h) for r, h in zip(rest, got[j])],
                  put_back=put_back)
        return [got[0], *got[1]]
