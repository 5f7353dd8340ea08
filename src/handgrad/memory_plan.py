"""What a run will hold in memory at once, against what this process may still allocate.

Every door that allocates in proportion to what a user chose — a network's widths, a batch, a
stream's buffer, the folds of cross-validation, the networks trained together — describes its
run as a :class:`MemoryPlan`: parts (parameters of K networks and their optimizer state, a
batch's activations, copies of the data, …), each with what would make it smaller. The plan is
checked before anything large is allocated, against two limits:

* the memory the machine has available (psutil's "available", else Linux's MemAvailable) —
  shared by this process and the worker processes it forks;
* the address space this process may still map, when ``ulimit -v`` (RLIMIT_AS) is set: the
  limit less what is mapped already (/proc/self/statm). It holds for each process alone, and a
  forked worker inherits its parent's mappings: a plan's parts say how much of them the
  process that holds most holds.

A part the run holds already (the networks ``fit`` is given) counts toward the need and the
limits alike: the machine has it to give back to the run. A refusal is one line naming the
parameter count, what the run needs and has, and the fix of the largest part.
A leaf: imports only :mod:`handgrad.errors`.
"""

from __future__ import annotations

import dataclasses
import os

from .errors import InputError

# per batch row and unit of a network being trained: Z, f'(Z), dZ and the activations
# (fast.memory.Workspace; the stacked step's own, fast.stacked.Stack)
BUFFERS_PER_UNIT = 4
FALLBACK_MEMORY = 64 * 2**30  # when the machine cannot tell: generous, yet refuses the absurd


def available_memory() -> int:
    """Bytes the machine may still give: psutil's "available" when installed, else Linux's
    MemAvailable, else the physical memory (os.sysconf), else a generous fixed cap."""
    try:
        import psutil  # optional
        return int(psutil.virtual_memory().available)
    except Exception:  # not installed, or no answer on this platform
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def address_space_left() -> tuple[int, int] | None:
    """(bytes this process may still map, its RLIMIT_AS) when ``ulimit -v`` is set, else None."""
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY or limit < 0:
        return None
    return max(0, int(limit) - mapped_now()), int(limit)


def mapped_now() -> int:
    """This process's virtual size in bytes (/proc/self/statm; 0 where there is none)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def memory_needed(sizes, itemsize: int, batch_rows: int = 0, state_per_param: int = 2) -> tuple[int, int]:
    """(parameter count, bytes) of one network of layer widths ``sizes``: ``state_per_param``
    arrays the size of the parameters (the parameters, their gradient, an optimizer's state, …)
    plus the activations of a batch of ``batch_rows`` rows, in ``itemsize``-byte numbers.
    Python integers: no overflow, whatever the sizes."""
    sizes = [int(s) for s in sizes]
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    return n_params, itemsize * (state_per_param * n_params + BUFFERS_PER_UNIT * batch_rows * sum(sizes))


def size_text(n: int) -> str:
    """Bytes as ``1.78 MB``, ``640 GB``: three significant digits."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


@dataclasses.dataclass
class Part:
    """What a run holds: ``nbytes`` over all its processes, ``largest`` of them in the process
    that holds most (forked workers share a stack's networks out), ``held`` when it is
    allocated already, ``fix`` what makes it smaller (a phrase after "use")."""
    label: str
    nbytes: int
    fix: str | None = None
    largest: int | None = None
    held: bool = False


class MemoryPlan:
    """The parts a run will hold at once (see the module docstring).

    ``subject`` and ``sizes`` open the message ("this network [3, 64, 2] has 323 parameters
    and needs about …"); ``purpose`` follows the amount (" for 5-fold cross-validation")."""

    def __init__(self, subject: str = "this network", sizes=None, purpose: str = ""):
        self.subject, self.sizes, self.purpose = subject, None if sizes is None else [int(s) for s in sizes], purpose
        self.parts: list[Part] = []

    def add(self, label: str, nbytes: int, fix: str | None = None, *, largest: int | None = None,
            held: bool = False) -> "MemoryPlan":
        if nbytes > 0:
            self.parts.append(Part(label, int(nbytes), fix, None if largest is None else int(largest), held))
        return self

    @property
    def total(self) -> int:
        return sum(p.nbytes for p in self.parts)

    @property
    def largest_process(self) -> int:
        return sum(_in_one(p) for p in self.parts)

    @property
    def held(self) -> int:
        return sum(p.nbytes for p in self.parts if p.held)

    def refusal(self) -> str | None:
        """The one-line refusal, or None when the run fits."""
        need, held = self.total, self.held
        have, limited, one = available_memory() + held, "", False
        space = address_space_left()
        if space is not None and need <= have:
            left, limit = space
            held_here = sum(_in_one(p) for p in self.parts if p.held)
            if self.largest_process > left + held_here:
                need, have, one = self.largest_process, left + held_here, True
                limited = (f" under this process's address-space limit (ulimit -v: {size_text(limit)}, "
                           f"{size_text(limit - left)} of it mapped already)")
        if need <= have:
            return None
        fixes = [p.fix for p in sorted(self.parts, key=lambda p: -(_in_one(p) if one else p.nbytes)) if p.fix]
        fix = fixes[0] if fixes else "free some memory"
        opening = (f"{self.subject} {self.sizes} has {_count(self.sizes):,} parameters and needs"
                   if self.sizes is not None else f"{self.subject} needs")
        in_one = ", in its largest process" if one and self.largest_process < self.total else ""
        return (f"{opening} about {size_text(need)} of memory{self.purpose}{in_one} ({self.describe(one)}), "
                f"but about {size_text(have)} is available{limited}; use {fix}")

    def describe(self, one_process: bool = False) -> str:
        """The parts, largest first, with their bytes — all processes', or ``one_process``'s
        that holds most — those under 1% of the total left out."""
        size = _in_one if one_process else (lambda p: p.nbytes)
        parts = sorted(self.parts, key=lambda p: -size(p))
        total = sum(size(p) for p in parts)
        shown = [p for p in parts if size(p) * 100 >= total] or parts[:1]
        if len(shown) == 1:
            return shown[0].label
        return "; ".join(f"{p.label}: {size_text(size(p))}" for p in shown)

    def check(self) -> int:
        """Raise :class:`InputError` with :meth:`refusal` when the run does not fit; return the
        bytes it needs."""
        message = self.refusal()
        if message is not None:
            raise InputError(message)
        return self.total


def _in_one(part: Part) -> int:
    return part.nbytes if part.largest is None else part.largest


def _count(sizes) -> int:
    return memory_needed(sizes, 0)[0] if sizes else 0


def check_memory(sizes, itemsize: int, batch_rows: int = 0, state_per_param: int = 2,
                 what: str = "this network") -> int:
    """Refuse a network (and a batch) whose :func:`memory_needed` exceeds what the machine
    can give (:class:`MemoryPlan` with one or two parts); return the bytes needed."""
    n_params, total = memory_needed(sizes, itemsize, batch_rows, state_per_param)
    arrays = memory_needed(sizes, itemsize, 0, state_per_param)[1]
    labels = "parameters, gradients" + (", optimizer state" if state_per_param > 2 else "")
    plan = MemoryPlan(what, sizes).add(labels, arrays, "fewer or narrower layers")
    plan.add(f"activations of {batch_rows:,} rows", total - arrays, "a smaller batch")
    return plan.check()
