"""BLAS threads for training: one thread when every product of a step is small, and for large
products the BLAS default less the cores other processes are using.

On this kind of 2-core machine OpenBLAS threads that spin-wait for a core made small products
30x slower beside another CPU-bound process; a second thread only pays off for large products,
and only while its core is free: beside one busy process, 2 threads made an epoch of
784-256-128-10 3-4.5x slower than on the quiet machine, 1 thread about 1x
(bench/results/busy_machine.md). So under "auto" a large problem's thread count is decided
when training starts and checked again every :data:`RECHECK` seconds between steps
(:func:`poll`): cores minus the other processes running at that moment (Linux's
/proc/loadavg, less this process's own running threads).
"""

from __future__ import annotations

import contextlib
import os
import time

from ..validation import check_count

# Below this many multiply-adds per product, a second BLAS thread costs more than it saves; and
# on a busy machine OpenBLAS threads that spin-wait for a core can make small products 30x
# slower (seen here: digits training 3 s alone, 75-100 s beside another CPU-bound process).
SMALL_GEMM = 1 << 22


def limit_blas_threads(net, batch_size: int, threads="auto", share: int = 1):
    """A context limiting BLAS threads for training ``net`` at ``batch_size``.

    ``"auto"``: one thread when ``batch_size · n_in · n_out < SMALL_GEMM`` for every layer,
    else the BLAS default — or, when ``share`` processes train on this machine together
    (data-parallel ranks), the cores divided among them; an int sets the count; None leaves
    BLAS alone.
    """
    if threads is None:
        return contextlib.nullcontext()
    if not (isinstance(threads, str) and threads == "auto"):
        threads = check_count(threads, "blas_threads")  # a number of threads ≥ 1, None or "auto"
    if threads == "auto":
        largest = max(batch_size * a * b for a, b in zip(net.sizes[:-1], net.sizes[1:]))
        if largest >= SMALL_GEMM and share <= 1:
            return _Watched()
        threads = 1 if largest < SMALL_GEMM else max(1, (os.cpu_count() or 1) // share)
    return _blas_controller().limit(limits=int(threads), user_api="blas")


RECHECK = 0.5  # seconds between two looks at the machine while training
CONFIRM = 2    # more looks before giving up a core: the fewest others seen counts
CONFIRM_AFTER = 0.002  # seconds from one of those looks to the next (taken between steps)
_ACTIVE: list = [None]  # the _Watched context of the training running now, if any


def poll() -> None:
    """Between two training steps: under a watched thread count, look at the machine again
    when :data:`RECHECK` seconds have passed, or :data:`CONFIRM_AFTER` while a look is being
    confirmed (a clock read otherwise)."""
    watch = _ACTIVE[0]
    if watch is not None and time.monotonic() >= watch.next_check:
        watch.adjust()


class _Watched:
    """The BLAS default thread count, less one per core another process is using."""

    def __enter__(self):
        info = [i for i in _blas_controller().info() if i.get("user_api") == "blas"]
        self.default = max((i.get("num_threads") or 1 for i in info), default=1)
        self.current, self.limiter, self.next_check = self.default, None, 0.0
        self.looks, self.fewest = 0, 0  # a look being confirmed: how many so far, fewest seen
        self.outer = _ACTIVE[0]  # a training inside another's callback: the outer one's back after
        if self.default > 1:
            self.adjust()
            _ACTIVE[0] = self
        return self

    def __exit__(self, *exc):
        _ACTIVE[0] = self.outer
        if self.limiter is not None:
            self.limiter.restore_original_limits()
        return False

    def adjust(self) -> None:
        others = others_running()
        if others is None:
            self.looks = 0
            self.next_check = time.monotonic() + RECHECK
            return
        # a runnable thread seen once may be a kernel thread passing by (on the quiet 2-core
        # EPYC here 1 look in 8 saw one): a process that keeps a core busy is still runnable a
        # few milliseconds later. So the core is given up at once — beside a busy process the
        # first steps on both threads took 80 ms each (bench/busy_machine.py) — and CONFIRM
        # more looks at later steps, CONFIRM_AFTER apart, decide whether to keep it given up
        # (the fewest others seen counts); no sleep before the first step (2-4 ms at the start
        # of 4 quiet fits in 30 when the looks slept in between)
        if self.looks:
            others = min(others, self.fewest)
        if others and self.looks < CONFIRM:
            self.looks, self.fewest = self.looks + 1, others
            self.next_check = time.monotonic() + CONFIRM_AFTER
        else:
            self.looks = 0
            self.next_check = time.monotonic() + RECHECK
        # others run anywhere on the machine; this process only on its own CPUs
        machine = os.cpu_count() or 1
        mine = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else machine
        want = max(1, min(self.default, mine, machine - others))
        if want != self.current:
            limiter = _blas_controller().limit(limits=want, user_api="blas")
            self.limiter = self.limiter or limiter  # the first one restores the defaults
            self.current = want


def others_running() -> int | None:
    """Threads of other processes running or waiting for a CPU right now: the runnable count of
    /proc/loadavg less this process's runnable threads (its BLAS threads may still be spinning
    from the last product). None where /proc is missing."""
    try:
        with open("/proc/loadavg") as fh:
            runnable = int(fh.read().split()[3].split("/")[0])
        own = 0
        for task in os.scandir("/proc/self/task"):
            with open(f"/proc/self/task/{task.name}/stat") as fh:
                stat = fh.read()
            own += stat[stat.rindex(")") + 2] == "R"
        return max(0, runnable - own)
    except (OSError, ValueError, IndexError):
        return None


_CONTROLLER: list = [None, -1]  # the controller, and len(sys.modules) when it was built


def _blas_controller():
    """A threadpoolctl controller that knows every BLAS loaded so far. Building one scans every
    loaded library (~1 ms with torch and scipy loaded), so it is kept until more modules are
    imported: a module can bring its own BLAS (scipy, torch), which an older controller would
    leave unlimited."""
    import sys

    from threadpoolctl import ThreadpoolController

    if _CONTROLLER[1] != len(sys.modules):
        _CONTROLLER[:] = [ThreadpoolController(), len(sys.modules)]
    return _CONTROLLER[0]
