"""Networks trained apart, split over MPI ranks: an ensemble's members (and their folds).

``mpiexec -n R handgrad train`` with an ensemble, or from Python on every rank::

    from handgrad.distributed import OverRanks
    hg.fit_many(nets, X, y, ranks=OverRanks())

Rank r trains the networks r, r + R, r + 2R, ... of the list (as :func:`handgrad.fit_many`
splits them over forked workers) and one ``allgather`` gives every rank every network's
trained weights and history. No gradient crosses ranks: each network's arithmetic is the
same as in one process, so the model equals the one-process model (to rounding, when a
stack's batches are shorter than the batch size; see :mod:`handgrad.training.many_workers`).
Every rank ends with all the networks, so the steps after training (an ensemble's greedy
selection, its final members) run alike on every rank and need no further message.
"""

from __future__ import annotations

from .data_parallel import _picklable
from .mpi import world


class OverRanks:
    """Split the networks of :func:`handgrad.fit_many` over the MPI communicator ``comm``
    (default: every process the launcher started). Every rank must make the same calls with
    the same networks, data and options."""

    def __init__(self, comm=None):
        self.comm = world() if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.root = self.rank == 0

    def describe(self) -> dict:
        return {"ranks": self.size, "split": "members round-robin over the ranks"}

    def run(self, members: list, train, result, put_back) -> None:
        """``train(indices)`` trains the ``members`` at ``indices`` in place; this rank trains
        its round-robin share, then every rank receives the others' ``result(member)`` and
        gives it to ``put_back(member, result)``. An error on one rank is raised on every rank
        (each still joins the gather, so none waits forever)."""
        mine = list(range(self.rank, len(members), self.size))
        try:
            train(mine)
            payload = ("ok", [result(members[i]) for i in mine])
        except Exception as exc:  # noqa: BLE001 - raised on every rank below
            payload = ("error", exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}"))
        everyone = self.comm.allgather(payload)
        for outcome, got in everyone:  # the first rank's error, on every rank
            if outcome == "error":
                raise got
        for rank, (_, got) in enumerate(everyone):
            if rank != self.rank:
                for i, item in zip(range(rank, len(members), self.size), got):
                    put_back(members[i], item)
