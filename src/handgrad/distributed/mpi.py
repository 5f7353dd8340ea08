"""The MPI side of data-parallel training: finding out whether this process was started by an
MPI launcher, and the communicator (mpi4py, imported only when asked for).

A launcher (``mpiexec``/``mpirun`` of MPICH, Open MPI or Intel MPI, Slurm's ``srun``) tells each
process its place through the environment before MPI is initialised; reading that first keeps
a plain ``handgrad train`` from importing mpi4py at all, and names the missing extra when a
launcher started several processes but mpi4py is absent.
"""

from __future__ import annotations

import os

from ..errors import InputError

# the number of processes of the job, as launchers publish it (MPICH/Intel MPI and Slurm's PMI,
# Open MPI, MVAPICH)
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
INSTALL = "pip install 'handgrad[mpi]'"


def launched_size(environ=None) -> int:
    """How many processes the MPI launcher started (1 when none did)."""
    env = os.environ if environ is None else environ
    for name in SIZE_VARIABLES:
        value = env.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def mpi():
    """The ``mpi4py.MPI`` module, or InputError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:  # not installed, or no MPI library for it to load
        raise InputError(f"data-parallel training needs mpi4py and an MPI library ({exc}); "
                         f"install them with {INSTALL}") from None
    return MPI


def world():
    """``MPI.COMM_WORLD``: every process the launcher started."""
    return mpi().COMM_WORLD
