"""``handgrad train`` started by an MPI launcher: ``mpiexec -n 4 handgrad train ...``.

Every rank reads the data and runs the same command; an ensemble's members are split over
the ranks, one network (``--ensemble 1``) trains data-parallel (:mod:`handgrad.distributed`). Rank 0 prints and writes the model, the plots and the
checkpoints; the other ranks print nothing (their errors excepted) and write their copies of
the outputs into a scratch directory removed at the end. A rank whose command fails ends the
whole job (the others would wait for it in the next collective forever): it leaves without
MPI's orderly shutdown, which makes the launcher stop the remaining ranks.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import sys
import tempfile
import traceback

from ..errors import InputError, TrainingDivergedError, TrainingInterrupted


def join_ranks(args) -> None:
    """When a launcher started several processes, set ``args`` up for this rank: an ensemble's
    members split over the ranks (``args.ranks``), one network data-parallel
    (``args.data_parallel``); refuse the commands that do not run that way."""
    from ..distributed import OverRanks, from_environment, launched_size

    if launched_size() <= 1:
        return
    if args.command != "train":
        raise InputError(f"only handgrad train runs over MPI ranks; run handgrad {args.command} "
                         "without mpiexec")
    if getattr(args, "stream_buffer", None) is not None:
        raise InputError("--stream-buffer does not run over MPI ranks yet (each rank would read the "
                         "whole file); run it without mpiexec")
    if args.search:
        raise InputError("--search is not data-parallel yet (each rank's time budget would end at "
                         "another point); run it without mpiexec, then train the winner with it")
    if args.ensemble > 1:  # the members split over the ranks, each trained whole on one
        dp, args.ranks = None, OverRanks()
        place, how = args.ranks, f"the ensemble's {args.ensemble} members split over {args.ranks.size} MPI ranks"
    else:
        dp = place = from_environment()
        how = f"data-parallel training over {dp.size} MPI ranks"
    args.data_parallel = dp
    if not place.root:
        scratch = tempfile.mkdtemp(prefix=f"handgrad-rank{place.rank}-")
        args.resources.callback(shutil.rmtree, scratch, ignore_errors=True)
        args.out_dir, args.model, args.plot, args.no_plot = scratch, None, None, True
        args.quiet, args.json = True, False
    elif not (args.quiet or args.json):
        from .terminal import echo

        echo(f"note: {how} (rank 0 prints and writes)", file=sys.stderr)
    args.func = _on_rank(args.func, silent=not place.root)


# what main._run reports as a one-line message; anything else is a bug, shown with its traceback
REPORTED = (InputError, TrainingDivergedError, TrainingInterrupted, OSError, KeyboardInterrupt)


def _on_rank(func, silent: bool):
    """``func`` on one of several ranks: with ``silent``, its standard output and error
    discarded (an error it raises is still printed, by the caller, once it has left); an
    unexpected exception ends the job at once (traceback first) instead of leaving the other
    ranks waiting."""
    @functools.wraps(func)
    def run(args):
        try:
            with contextlib.ExitStack() as quiet:
                if silent:
                    devnull = quiet.enter_context(open(os.devnull, "w"))
                    quiet.enter_context(contextlib.redirect_stdout(devnull))
                    quiet.enter_context(contextlib.redirect_stderr(io.StringIO()))
                return func(args)
        except REPORTED:
            raise
        except BaseException:
            abort_ranks()
            raise
    return run


def abort_ranks() -> None:
    """Under mpiexec with several ranks: print the exception being handled, then end the job
    (:func:`end_rank`); elsewhere nothing (the caller raises it)."""
    if "mpi4py.MPI" in sys.modules and sys.modules["mpi4py.MPI"].COMM_WORLD.Get_size() > 1:
        traceback.print_exc()
        end_rank(1)


def end_rank(code: int) -> int:
    """``code``, or — for a failed command on one of several MPI ranks — leave at once with
    it, so that the launcher stops the other ranks instead of letting them wait."""
    if code and "mpi4py.MPI" in sys.modules and sys.modules["mpi4py.MPI"].COMM_WORLD.Get_size() > 1:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    return code
