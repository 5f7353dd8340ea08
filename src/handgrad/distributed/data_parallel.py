"""Synchronous data parallelism: R replicas of the network, one Allreduce per step.

Every rank holds the whole network and the same seeded shuffle, so every rank knows the
global batch B of each step (k = |B| rows). Rank r takes the contiguous shard B_r of it
(k_r rows: the first k mod R shards one row longer, as ``np.array_split`` cuts), and

    ∇L_B = (1/k) Σ_{i∈B} w_i ∇ℓ_i  +  2λW
         = Σ_r (1/k_r) Σ_{i∈B_r} (w_i · k_r/k) ∇ℓ_i  +  2λW                     (D.1)

so each rank runs the ordinary fast step (:meth:`~handgrad.MLP.train_step`, the same
hand-derived backward pass) on its shard with the sample weights w_i·k_r/k — the step's own
1/k_r then becomes the global 1/k — and only rank 0 with the L2 term (``part="total"``, the
others ``part="data"``; rank 0's shard is never empty when k ≥ 1). One ``Allreduce(SUM)`` of
the flat gradient buffer, which carries four more slots — the shard's data loss (already a
share of the global mean), L2 loss, rows predicted right and a stop flag — gives every rank
∇L_B, the global batch's losses and one agreed decision to stop; the optimizer's step is then
the same on every rank, so the replicas stay equal (checked once per epoch).

Validation: each rank evaluates its contiguous shard of the validation set and the sums
(Σ loss, rows right, confusion matrix, rows) are reduced. Checkpoints are written by rank 0
only and read by rank 0, which broadcasts them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import zlib

import numpy as np

from .._version import __version__
from ..core.backprop import StepResult
from ..core.heads import n_correct
from ..errors import InputError
from ..fast.memory import aligned_zeros
from .mpi import mpi, world

Array = np.ndarray
EXTRA = 4  # after the gradient in the reduced buffer: data loss, L2 loss, rows right, stop flag


class ReplicasDiverged(RuntimeError):
    """The ranks' weights differ after an epoch (the MPI library summed differently on
    different ranks, or a rank ran other code): training cannot continue consistently."""


class DataParallel:
    """Data-parallel training over the MPI communicator ``comm`` (default: every process the
    launcher started). Give it to :func:`handgrad.fit` as ``data_parallel=``; every rank
    must call ``fit`` with the same network, data and options."""

    def __init__(self, comm=None):
        MPI = mpi()
        self.MPI = MPI
        self.comm = world() if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.root = self.rank == 0
        # ranks on this machine: they share its cores, so each gets its share of BLAS threads
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_size = local.Get_size()
        local.Free()
        self._buf: Array | None = None
        self._w: Array | None = None

    def describe(self, batch_size: int) -> dict:
        """What the training record states about how the model was trained."""
        library = self.MPI.Get_library_version().strip().splitlines()[0].strip()
        return {"ranks": self.size, "global_batch": int(batch_size),
                "rows_per_rank": -(-int(batch_size) // self.size), "mpi": library}

    # ----- shards ---------------------------------------------------------------------------
    def bounds(self, k: int) -> tuple[int, int]:
        """This rank's rows [lo, hi) of k: the first k mod R ranks take one row more."""
        q, extra = divmod(k, self.size)
        lo = self.rank * q + min(self.rank, extra)
        return lo, lo + q + (self.rank < extra)

    def capacity(self, batch_size: int) -> int:
        """The most rows a rank's shard of a batch of ``batch_size`` rows has."""
        return -(-batch_size // self.size)

    def shard(self, rows, k: int):
        """This rank's part of a global batch: ``(rows, k_r)`` for ``rows`` a slice or an
        index array of k rows."""
        lo, hi = self.bounds(k)
        if isinstance(rows, slice):
            return slice(rows.start + lo, rows.start + hi), hi - lo
        return rows[lo:hi], hi - lo

    def shard_of(self, a):
        """This rank's contiguous part of a whole array (the validation set)."""
        if a is None:
            return None
        lo, hi = self.bounds(a.shape[0])
        return a[lo:hi]

    def shard_weights(self, w: Array | None, k_r: int, k: int, dtype) -> Array:
        """The sample weights w_i·k_r/k of (D.1), in a reused buffer (w None: all 1)."""
        if self._w is None or self._w.dtype != dtype or self._w.shape[0] < k_r:
            self._w = np.empty(max(k_r, 1), dtype)
        out = self._w[:k_r]
        scale = k_r / k
        if w is None:
            out.fill(scale)
        else:
            np.multiply(w, scale, out=out)
        return out

    # ----- steps ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def attached(self, net):
        """While training: ``net.flat_grad`` is the head of the buffer the step reduces."""
        n = net.n_params
        if self._buf is None or self._buf.dtype != net.dtype or self._buf.shape[0] != n + EXTRA:
            self._buf = aligned_zeros(n + EXTRA, net.dtype)
        previous = net.use_grad_buffer(self._buf[:n])
        try:
            yield self
        finally:
            net.use_grad_buffer(previous)

    def step(self, net, X: Array, y: Array, w: Array, ws, stop: bool = False
             ) -> tuple[StepResult, bool]:
        """The shard's forward and backward pass (weights ``w`` from :meth:`shard_weights`),
        then the one Allreduce: the global batch's gradient in ``net.flat_grad`` on every rank;
        returns the global batch's StepResult and whether any rank asked to stop."""
        buf = self._buf
        if X.shape[0]:
            result = net.train_step(X, y, w, ws, part="total" if self.root else "data")
        else:  # fewer rows than ranks: this shard adds nothing (rank 0's is never empty)
            net.flat_grad.fill(0)
            empty = np.empty((0, net.n_outputs), net.dtype)
            result = StepResult(0.0, 0.0, n_correct(net.output, empty, y))
        tail = buf[-EXTRA:]
        tail[0], tail[1] = result.data_loss, result.l2_loss
        tail[2], tail[3] = result.correct or 0, float(bool(stop))
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        correct = None if result.correct is None else int(round(float(tail[2])))
        return StepResult(float(tail[0]), float(tail[1]), correct), bool(tail[3])

    # ----- epochs ---------------------------------------------------------------------------
    def merge_dead(self, dead) -> None:
        """Dead-unit tracking over all ranks: a unit lives if it was active on any rank."""
        if dead is None:
            return
        keys = sorted(dead.active)
        flags = np.concatenate([dead.active[l] for l in keys] + [np.array([dead.seen])]).astype(np.uint8)
        self.comm.Allreduce(self.MPI.IN_PLACE, flags, op=self.MPI.MAX)
        at = 0
        for l in keys:
            n = dead.active[l].shape[0]
            dead.active[l][...] = flags[at:at + n].astype(bool)
            at += n
        dead.seen = bool(flags[-1])

    def end_epoch(self, net, interrupted: bool) -> bool:
        """After an epoch: check that every replica holds the same weights (a CRC-32 of the
        flat buffer), and whether a stop signal reached any rank."""
        mine = (zlib.crc32(net.flat.view(np.uint8)), bool(interrupted))
        seen = self.comm.allgather(mine)
        if len({crc for crc, _ in seen}) != 1:
            differ = [r for r, (crc, _) in enumerate(seen) if crc != seen[0][0]]
            raise ReplicasDiverged(f"the weights of rank(s) {differ} differ from rank 0's after "
                                   "an epoch; the MPI library's sums are not the same on every "
                                   "rank — report this with the MPI library's name and version")
        return any(flag for _, flag in seen)

    def reduce_validation(self, loss_sum: float, hits, cm, n: int):
        """Sum a validation shard's (Σ loss, rows right, confusion matrix or regression sums,
        rows) over ranks
        (see :func:`handgrad.training.evaluation.validation_record`)."""
        head = np.array([loss_sum, hits or 0, n], dtype=np.float64)
        packed = head if cm is None else np.concatenate([head, cm.reshape(-1).astype(np.float64)])
        self.comm.Allreduce(self.MPI.IN_PLACE, packed, op=self.MPI.SUM)
        total_cm = None if cm is None else packed[3:].reshape(cm.shape)
        if cm is not None and cm.dtype.kind in "iu":  # counts; regression's sums stay floats
            total_cm = np.rint(total_cm).astype(cm.dtype)
        return (float(packed[0]), None if hits is None else int(round(packed[1])), total_cm,
                int(round(packed[2])))

    # ----- agreement --------------------------------------------------------------------------
    def check_same(self, settings: dict) -> None:
        """Refuse to start when the ranks were given different data, options or handgrad
        versions: every rank sends a digest of ``settings``; InputError names what differs."""
        settings = {**settings, "handgrad": __version__}
        text = json.dumps(settings, sort_keys=True, default=str)
        digests = self.comm.allgather(hashlib.sha256(text.encode()).hexdigest())
        if len(set(digests)) == 1:
            return
        everyone = self.comm.allgather(settings)
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        keys = sorted(k for k in settings if any(s.get(k) != everyone[0].get(k) for s in everyone))
        raise InputError(f"rank(s) {odd} of {self.size} were started with other {', '.join(keys)} "
                         "than rank 0; start every rank with the same command, files and "
                         "handgrad version")

    def from_root(self, fn):
        """``fn()`` on rank 0, its result (or its error) on every rank."""
        payload = None
        if self.root:
            try:
                payload = ("ok", fn())
            except Exception as exc:  # every rank raises it, not rank 0 alone (no hang)
                payload = ("error", exc if _picklable(exc) else InputError(f"rank 0: {exc}"))
        kind, value = self.comm.bcast(payload, root=0)
        if kind == "error":
            raise value
        return value


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def from_environment() -> DataParallel | None:
    """A :class:`DataParallel` over every process when an MPI launcher started more than one
    (``mpiexec -n 4 handgrad train ...``), else None — without importing mpi4py."""
    from .mpi import launched_size

    if launched_size() <= 1:
        return None
    return DataParallel()
