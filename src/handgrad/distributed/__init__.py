"""Data-parallel training over MPI (docs/distributed.md).

``mpiexec -n 4 handgrad train ...`` or, from Python, on every rank::

    from handgrad.distributed import DataParallel
    hg.fit(net, X, y, batch_size=256, data_parallel=DataParallel())

trains the same weights as one process with ``batch_size=256`` (each rank computes the
gradient of its shard of every global batch; one Allreduce of the flat gradient per step).
An ensemble's members (:func:`handgrad.fit_many`'s networks) split over the ranks instead:
``fit_many(nets, X, y, ranks=OverRanks())``, each rank training its share.
Needs the ``mpi`` extra (mpi4py and an MPI library): ``pip install 'handgrad[mpi]'``.
"""

from .data_parallel import DataParallel, ReplicasDiverged, from_environment
from .members import OverRanks
from .mpi import launched_size

__all__ = ["DataParallel", "OverRanks", "ReplicasDiverged", "from_environment", "launched_size"]
