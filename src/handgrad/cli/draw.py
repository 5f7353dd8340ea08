"""The plots of ``handgrad train``, drawn by a helper process started when training starts.

Importing matplotlib (~0.3-0.8 s) and drawing three figures (~0.7 s) took half the wall time
of a small table's run, after the training. The helper process imports matplotlib while the
trainer reads the table and trains (on another core), and draws while the trainer scores the
test part and saves the model — each figure in a process of its own, forked once matplotlib is
imported; ``train`` waits for it, so the PNGs exist when ``train`` exits, and a failure to
draw is reported as before (one line, exit status 2).

The protocol: one JSON document on the helper's stdin, a list of ``[function, args, kwargs]``
naming the plot functions of :mod:`handgrad.cli.plots`; exit status 0 when every PNG is
written, else 2 with the one-line reason on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..errors import InputError

_FUNCTIONS = ("plot_learning_curves", "plot_confusion_matrix", "plot_diagnostics", "plot_regression",
              "plot_reliability", "plot_roc_pr", "plot_importance")


class PlotWorker:
    """A helper process waiting for plots to draw: :meth:`submit` hands them over, :meth:`wait`
    waits for the files (at most ``TIMEOUT`` seconds)."""

    TIMEOUT = 600.0

    def __init__(self):
        # in the trainer's process group: a Ctrl-C stops the helper and its drawing processes too
        self.proc = subprocess.Popen([sys.executable, "-m", "handgrad.cli.draw"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def submit(self, jobs: list[tuple[str, list, dict]]) -> None:
        """Hand over ``jobs`` ([function name, args, kwargs]); they are drawn while the caller
        goes on. A helper that died early (e.g. no matplotlib) is reported by :meth:`wait`."""
        try:
            self.proc.stdin.write(json.dumps(jobs, default=_plain).encode())
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait(self) -> None:
        """Wait until the PNGs are written; raise InputError with the reason if one failed."""
        if self.proc.stdin is not None and self.proc.stdin.closed:
            self.proc.stdin = None  # handed over by submit (communicate would flush it)
        try:
            _, err = self.proc.communicate(timeout=self.TIMEOUT)  # reads stderr and waits, within the limit
        except subprocess.TimeoutExpired:
            self.close()
            raise InputError(f"drawing the plots took over {self.TIMEOUT / 60:g} minutes; rerun with "
                             "--no-plot") from None
        if self.proc.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            raise InputError(lines[-1] if lines else f"drawing the plots failed (exit {self.proc.returncode})")

    def close(self) -> None:
        """Stop the helper if it is still waiting (training failed or was interrupted)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def with_fold_curve(epochs: list[dict], curve: list[dict]) -> list[dict]:
    """The final run's records with the folds' mean validation values, over the longer of the two."""
    return [{**(epochs[e] if e < len(epochs) else {"epoch": e + 1}),
             **({k: v for k, v in curve[e].items() if k != "epoch"} if e < len(curve) else {})}
            for e in range(max(len(epochs), len(curve)))]


def _plain(value):
    """numpy scalars and arrays in a history, as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send {type(value).__name__} to the plot helper")


def main() -> int:
    from . import plots
    from .figure import _mpl

    try:
        _mpl()  # the import, while the trainer works
    except InputError as exc:
        sys.stdin.buffer.read()
        print(exc, file=sys.stderr)
        return 2
    jobs = json.loads(sys.stdin.buffer.read() or b"[]")  # nothing: the trainer failed or stopped
    for name, _, _ in jobs:
        if name not in _FUNCTIONS:
            print(f"unknown plot {name!r}", file=sys.stderr)
            return 2
    # the training is over and its cores are free: one forked process per figure (matplotlib
    # is imported already), ~0.7 s of drawing in ~0.3 s on 2 cores
    if not hasattr(os, "fork") or len(jobs) < 2:
        return _draw(plots, jobs)
    children = []
    for job in jobs:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child draws one figure and leaves at once (no cleanup of the parent's)
            code = 2
            try:
                os.close(read)
                with os.fdopen(write, "w") as err:
                    try:
                        code = _draw(plots, [job], err)
                    except BaseException as exc:  # noqa: BLE001 - one line for the trainer
                        print(f"drawing {job[0]} failed: {type(exc).__name__}: {exc}", file=err)
            finally:
                os._exit(code)
        os.close(write)
        children.append((pid, read))
    failures = []
    for pid, read in children:
        with os.fdopen(read) as err:
            message = err.read().strip()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code:
            failures.append(message.splitlines()[-1] if message else f"drawing a plot failed (exit {code})")
    if failures:
        print(failures[0], file=sys.stderr)
        return 2
    return 0


def _draw(plots, jobs, err=None) -> int:
    """Draw ``jobs``; 0, or 2 with the one-line reason written to ``err`` (stderr)."""
    err = err or sys.stderr
    try:
        for name, args, kwargs in jobs:
            getattr(plots, name)(*args, **kwargs)
    except InputError as exc:
        print(exc, file=err)
        return 2
    except OSError as exc:
        print(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
