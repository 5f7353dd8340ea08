"""The models of :func:`handgrad.fit_many` split over forked worker processes, one per core.

A stacked step of K small networks is bound by one core's arithmetic once the per-step
overhead is shared (:mod:`handgrad.fast.stacked`); a second core halves it only in a second
process (Python threads serialise on the interpreter lock: measured 2× slower, not faster).
A model's arithmetic does not depend on which others share its stack when every model's batch
holds ``batch_size`` rows (each has at least that many), so its result is then bit-identical
however the models are split; with fewer rows, equal to rounding (tests/test_fit_many.py).
"""

from __future__ import annotations

import os

from ..errors import InputError


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resolve_workers(workers, k: int) -> int:
    """``workers``: an int ≥ 1, or ``"auto"``: one per available core, at most one per two
    models (a worker of one model gains nothing over fit); 1 where this process may not fork."""
    if workers != "auto" and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a whole number >= 1 or 'auto', got {workers!r}")
    if not can_fork():
        return 1
    if workers == "auto":
        return max(1, min(available_cores(), k // 2))
    return min(workers, k)


def net_and_history(member):
    return member.net.flat, member.history


def put_net_and_history(member, payload) -> None:
    member.net.flat[...], member.history = payload


def run_split(members: list, train, workers: int, result=net_and_history,
              put_back=put_net_and_history) -> None:
    """``train(indices)`` trains the members at ``indices`` in place; run it for ``workers``
    round-robin parts of the members, the first part in this process and the others in forked
    children, each of whose members' ``result(member)`` (default: trained weights and history)
    is sent back and given to ``put_back(member, result)`` here.

    The children die with this process (Linux: PR_SET_PDEATHSIG), are killed if this process's
    part fails or is interrupted (Ctrl-C, SIGTERM), and a child that dies without a result
    raises :class:`ChildProcessError` (an OSError: one line in the command line)."""
    import multiprocessing

    parts = [list(range(i, len(members), workers)) for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    children = []
    parent = os.getpid()
    try:
        for part in parts[1:]:
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, train, part, members, parent, result))
            proc.start()
            send.close()
            children.append((proc, receive, part))
        train(parts[0])
        failure = None
        for proc, receive, part in children:
            try:
                outcome, payload = receive.recv()
            except EOFError:
                outcome, payload = "lost", None
            proc.join()
            if outcome == "ok":
                for i, got in zip(part, payload):
                    put_back(members[i], got)
            elif failure is None:
                failure = payload if outcome == "error" else ChildProcessError(
                    f"a worker process training {len(part)} of the models ended without a result "
                    f"(exit code {proc.exitcode}); run again (in this process alone: fit_many's "
                    "workers=1, a search's n_jobs=None)")
    except BaseException:  # this part failed or was interrupted: the children go too
        for proc, _, _ in children:
            if proc.is_alive():
                proc.kill()
            proc.join()
        raise
    if failure is not None:
        raise failure


def can_fork() -> bool:
    """Whether this process may start worker processes (not a daemon, e.g. a Pool's worker,
    which multiprocessing forbids to have children)."""
    import multiprocessing

    return hasattr(os, "fork") and not multiprocessing.current_process().daemon


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (no orphans training on)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request
        os._exit(1)


def _child(send, train, part, members, parent, result) -> None:
    _die_with_parent(parent)
    try:
        train(part)
        send.send(("ok", [result(members[i]) for i in part]))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            send.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            kind = MemoryError if isinstance(exc, MemoryError) else RuntimeError  # its kind kept
            send.send(("error", kind(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()
        os._exit(0)  # no atexit handlers or buffered output of the parent's copy
