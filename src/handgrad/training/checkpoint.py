"""Training checkpoints: everything needed to continue a run bit-identically.

A checkpoint is one safetensors file (no pickle) in the checkpoint directory:

* tensors — ``flat`` (all parameters), ``opt.<name>`` (the optimizer's state arrays, e.g.
  Adam's m and v, SGD's velocity), ``best_flat`` (the weights early stopping would restore)
  and, for a checkpoint taken in the middle of an epoch, ``start_flat`` (the weights at the
  start of that epoch, kept in case the epoch diverges);
* metadata ``handgrad-checkpoint`` — JSON: the position (epoch, batch), the random generator's
  state (now, and at the start of the current epoch, from which the epoch's shuffle order is
  recomputed), the running sums of the epoch, the optimizer's and the schedule's scalar state,
  early stopping's state, the history so far, and a *fingerprint* of the run's configuration
  (architecture, dtype, optimizer, schedule, batch size, seed, and a SHA-256 of the data).

Writes are atomic (temporary file, fsync, ``os.replace``, fsync of the directory) and the
previous checkpoint is deleted only after the new one is in place, so a crash at any moment
leaves at least one complete checkpoint. :meth:`Checkpointer.load_latest` validates what it
reads, falls back to the previous file when the newest is damaged, refuses a checkpoint of a
different configuration with a message naming what changed, and removes temporary files that
a killed writer left behind. A run holds a lock on its directory (:meth:`Checkpointer.locked`),
so that a second run given the same directory is refused instead of pruning the first one's
checkpoints; the lock of a killed run is released by the kernel.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, directory_lock
from ..errors import InputError

FORMAT = "handgrad-checkpoint"
VERSION = 1
_NAME = re.compile(r"^ckpt-(\d{6})-(\d{7})\.safetensors$")
_KEEP = 2


class CheckpointError(InputError):
    """A checkpoint that cannot be used (damaged, or of another configuration)."""


def data_fingerprint(*arrays) -> str:
    """SHA-256 over the shapes, dtypes and bytes of the arrays (None entries count too)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        view = a.reshape(-1).view(np.uint8)
        for start in range(0, view.size, 1 << 24):  # 16 MB at a time: no copy of the data
            h.update(view[start:start + (1 << 24)])
    return h.hexdigest()


def _jsonable(obj):
    """Floats that JSON cannot hold (inf, nan) as strings; numpy scalars as Python values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    return obj


def _unjson(obj):
    if isinstance(obj, dict):
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _unjson(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unjson(v) for v in obj]
    return obj


class Checkpointer:
    """Writes and reads the checkpoints of one run in ``directory``."""

    def __init__(self, directory, fingerprint: dict):
        self.dir = Path(directory)
        self.fingerprint = fingerprint
        self.written: list[Path] = []

    def locked(self):
        """A context holding this directory for the run (see the module docstring)."""
        return directory_lock(self.dir, "the checkpoint directory")

    # ----- writing -----------------------------------------------------------------------
    def save(self, epoch: int, batch: int, arrays: dict[str, np.ndarray], meta: dict) -> Path:
        """Write a checkpoint for position (epoch, batch) — batch 0 means "before the epoch"."""
        from safetensors.numpy import save as st_save

        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.written:  # the run holds the directory (locked): leftovers are stale
            self.remove_stale_temporaries()
        header = {"format": FORMAT, "version": VERSION, "fingerprint": self.fingerprint,
                  "epoch": epoch, "batch": batch, **meta}
        blob = st_save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                       metadata={FORMAT: json.dumps(_jsonable(header))})
        path = self.dir / f"ckpt-{epoch:06d}-{batch:07d}.safetensors"
        atomic_write_bytes(path, blob)
        # the new file is complete and on disk: older ones beyond the previous can go
        for old in self._existing()[:-_KEEP]:
            old.unlink(missing_ok=True)
        self.written.append(path)
        return path

    # ----- reading -----------------------------------------------------------------------
    def _existing(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        # only regular files: reading a FIFO of a checkpoint's name would block forever
        return sorted(Path(e.path) for e in os.scandir(self.dir)
                      if _NAME.match(e.name) and e.is_file(follow_symlinks=False))

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files a killed writer left (``.ckpt-….tmp``); return how many.

        Only under :meth:`locked` (or before any run uses the directory): every such file is
        then stale, also those of older versions whose names carry no process id."""
        if not self.dir.is_dir():
            return 0
        stale = [p for p in self.dir.iterdir() if p.name.startswith(".ckpt-") and p.name.endswith(".tmp")]
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    def load_latest(self) -> tuple[dict[str, np.ndarray], dict, list[str]] | None:
        """(arrays, meta, notes) of the newest usable checkpoint, or None when there is none.

        A damaged newest file is skipped for the one before (noted); a checkpoint of another
        configuration is refused with :class:`CheckpointError`; so is a directory whose every
        checkpoint is damaged.
        """
        if self.dir.exists() and not self.dir.is_dir():
            raise CheckpointError(f"the checkpoint directory {self.dir} is not a directory; "
                                  "give the directory the checkpoints are in")
        with self.locked() if self.dir.is_dir() else contextlib.nullcontext():
            return self._load_latest()

    def _load_latest(self):
        self.remove_stale_temporaries()
        notes, damaged = [], []
        for path in reversed(self._existing()):
            try:
                arrays, meta = _read(path)
            except CheckpointError as exc:
                damaged.append(f"{path.name}: {exc}")
                notes.append(f"skipped damaged checkpoint {path.name} ({exc})")
                continue
            self._check_fingerprint(meta, path)
            return arrays, {**meta, "file": path.name}, notes
        if damaged:
            raise CheckpointError(f"no usable checkpoint in {self.dir}: " + "; ".join(damaged))
        return None

    def _check_fingerprint(self, meta: dict, path: Path) -> None:
        saved = meta.get("fingerprint", {})
        changed = sorted(k for k in set(saved) | set(self.fingerprint) if saved.get(k) != self.fingerprint.get(k))
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r:.60} → {self.fingerprint.get(k)!r:.60}" for k in changed)
            raise CheckpointError(
                f"checkpoint {path} was written by a different run configuration ({detail}); "
                "resume with the same data and settings, or use another checkpoint directory")


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    try:
        data = path.read_bytes()
        if len(data) < 8:
            raise CheckpointError("file too short")
        header_len = int.from_bytes(data[:8], "little")
        if header_len > len(data) - 8:
            raise CheckpointError("truncated header")
        header = json.loads(data[8:8 + header_len])
        meta = _unjson(json.loads(header["__metadata__"][FORMAT]))
        arrays = st_load(data)
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise CheckpointError(f"unreadable ({type(exc).__name__}: {str(exc)[:80]})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"not a version-{VERSION} handgrad checkpoint")
    for name, arr in arrays.items():
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise CheckpointError(f"array {name} holds NaN or inf")
    if "flat" not in arrays:
        raise CheckpointError("no parameters in it")
    return arrays, meta
