"""Stop signals, handled the same way everywhere: Ctrl-C (SIGINT), ``kill`` (SIGTERM: also
systemd and batch schedulers) and closing the terminal (SIGHUP)."""

from __future__ import annotations

import contextlib
import signal
import threading

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def interrupt(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal raises where it must stop at once; ``.signum`` says which
    (the CLI exits with 128 + it)."""
    exc = KeyboardInterrupt()
    exc.signum = signum
    return exc


@contextlib.contextmanager
def handled(names, handler):
    """Run the block with ``handler`` on the named signals, restoring the previous handlers.

    A SIGTERM or SIGHUP that is ignored on entry stays ignored (``nohup`` ignores SIGHUP);
    only the main thread can set handlers, so elsewhere the block runs without them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in names:
        signum = getattr(signal, name, None)
        if signum is None or (name != "SIGINT" and signal.getsignal(signum) == signal.SIG_IGN):
            continue
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
