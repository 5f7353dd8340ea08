"""Atomic file writes: a file is either its old self or complete, never half-written.

The data goes to a temporary file in the *same directory* (a rename is atomic only within one
filesystem), which is flushed and fsynced before ``os.replace`` puts it in place (so that
after a power cut the name never points at an empty file), and the directory is fsynced after
(so that the rename itself is on disk). On any error the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_writer(path, mode: str = "wb", suffix: str = ".tmp", **open_kw) -> Iterator[IO]:
    """``with atomic_writer(path) as fh: fh.write(...)`` — replace ``path`` only on success.

    Parent directories are created. The new file keeps the permissions of the file it
    replaces, or gets those of a normally created file (0666 & ~umask).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    perms = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, mode, **open_kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, perms)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(path.parent)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as fh:
        fh.write(data)


def _new_file_mode(path: Path) -> int:
    """Keep the permissions of the file being replaced, else those of a newly created file.

    Reading the umask means setting it and putting it back (there is no getter); another
    thread creating a file in that instant could see umask 0, which is acceptable here.
    """
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_directory(directory) -> None:
    """Make a rename durable. Best effort: not every OS lets a directory be opened or fsynced."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
