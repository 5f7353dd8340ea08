"""The models of :func:`handgrad.fit_many` split over forked worker processes, one per core.

A stacked step of K small networks is bound by one core's arithmetic once the per-step
overhead is shared (:mod:`handgrad.fast.stacked`); a second core halves it only in a second
process (Python threads serialise on the interpreter lock: measured 2× slower, not faster).
Each model's arithmetic does not depend on which others share its stack, so every model's
result is bit-identical however the models are split (tests/test_fit_many.py).
"""

from __future__ import annotations

import os

from ..errors import InputError


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resolve_workers(workers, k: int) -> int:
    """``workers``: an int ≥ 1, or ``"auto"``: one per available core, at most one per two
    models (a worker of one model gains nothing over fit)."""
    if workers == "auto":
        return max(1, min(available_cores(), k // 2))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a whole number >= 1 or 'auto', got {workers!r}")
    return min(workers, k)


def run_split(members: list, train, workers: int) -> None:
    """``train(indices)`` trains the members at ``indices`` in place; run it for ``workers``
    round-robin parts of the members, the first part in this process and the others in forked
    children, whose trained weights and histories are copied back into the members."""
    import multiprocessing

    parts = [list(range(i, len(members), workers)) for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    children = []
    for part in parts[1:]:
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, train, part, members), daemon=True)
        proc.start()
        send.close()
        children.append((proc, receive, part))
    try:
        train(parts[0])
    finally:
        failure = None
        for proc, receive, part in children:
            try:
                outcome, payload = receive.recv()
            except EOFError:
                outcome, payload = "lost", None
            proc.join()
            if outcome == "ok":
                for i, (flat, history) in zip(part, payload):
                    members[i].net.flat[...] = flat
                    members[i].history = history
            elif failure is None:
                failure = payload if outcome == "error" else RuntimeError(
                    f"a worker process training {len(part)} of the models ended without a result "
                    f"(exit code {proc.exitcode}); run fit_many with workers=1 to see why")
        if failure is not None:
            raise failure


def _child(send, train, part, members) -> None:
    try:
        train(part)
        send.send(("ok", [(members[i].net.flat, members[i].history) for i in part]))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            send.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            send.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()
        os._exit(0)  # no atexit handlers or buffered output of the parent's copy
