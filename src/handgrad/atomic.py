"""Atomic file writes: a file is either its old self or complete, never half-written.

The data goes to a temporary file in the *same directory* (a rename is atomic only within one
filesystem), which is flushed and fsynced before ``os.replace`` puts it in place (so that
after a power cut the name never points at an empty file), and the directory is fsynced after
(so that the rename itself is on disk). On any error the temporary file is removed.

A write goes where a symbolic link points (the link itself stays), and an existing target that
is not a regular file (a directory, FIFO, device or socket) is refused instead of replaced.
The temporary file's name carries this program's mark, the writer's process id and a tag of
its host (``.model.safetensors.k2j4f.hg4242-1a2b3c.tmp``), so that one left behind by a killed
writer is recognised and removed by the next write into the same directory once that process
is gone. :func:`directory_lock` keeps two processes from sharing an output directory.

A write never replaces a file it was made from: the writers take the ``inputs`` they read
(the model exported, the pickle imported, the table predicted on) and refuse a target that is
one of them — the same file by name, through a symbolic link or a hard link
(:func:`refuse_inputs`, the one rule every command's outputs are held to, cli/paths.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import InputError

_HOST = hashlib.sha1(socket.gethostname().encode(errors="replace")).hexdigest()[:6]
# .<name>.<random>.hg<pid>-<host><suffix>: see the module docstring
_TEMP = re.compile(r"^\..+\.hg(\d+)-([0-9a-f]{6})\.(?:tmp|part)$")


@contextlib.contextmanager
def atomic_writer(path, mode: str = "wb", suffix: str = ".tmp", inputs=(), **open_kw) -> Iterator[IO]:
    """``with atomic_writer(path) as fh: fh.write(...)`` — replace ``path`` only on success.

    Parent directories are created. The new file keeps the permissions of the file it
    replaces, or gets those of a normally created file (0666 & ~umask). A symbolic link is
    followed (its target is written); a target that exists but is not a regular file, or is
    one of the files ``inputs`` the data was read from, is refused with
    :class:`~handgrad.errors.InputError`.
    """
    given = path
    path = writable_target(path)
    refuse_inputs(path, inputs, given)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    perms = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=f".hg{os.getpid()}-{_HOST}{suffix}")
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


def atomic_write_bytes(path, data: bytes, inputs=()) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, inputs=inputs) as fh:
        fh.write(data)


def refuse_inputs(target, inputs, given=None) -> None:
    """Refuse (InputError) writing to ``target`` (as :func:`writable_target` resolved it) when
    it is one of the files ``inputs`` (paths; None entries are skipped): the output would
    replace what it was made from. ``given`` is the output as the user wrote it (the message
    names it; ``target`` by default)."""
    for source in inputs:
        if source is not None and same_file(target, source):
            raise InputError(f"{os.fspath(given if given is not None else target)} is the input file "
                             f"{os.fspath(source)}; writing there would destroy it — give another path")


def same_file(a, b) -> bool:
    """Whether the paths ``a`` and ``b`` name one file (links followed, hard links included);
    a missing file is compared by its resolved name."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        try:
            return os.path.realpath(os.fspath(a)) == os.path.realpath(os.fspath(b))
        except (OSError, ValueError, TypeError):
            return False


def writable_target(path) -> Path:
    """The file a write to ``path`` must replace: symbolic links resolved, and refused with
    :class:`~handgrad.errors.InputError` when it exists but is not a regular file (replacing
    a FIFO, a device such as ``/dev/stdout`` or a directory with a file is never meant)."""
    given = os.fspath(path)
    try:
        # stat the path as given: the kernel follows /dev/stdout -> /proc/self/fd/1 -> pipe:[n]
        # where a resolved name (/proc/self/fd/pipe:[n]) would not exist
        mode = os.stat(given).st_mode
    except OSError:  # missing (or a dangling link: its target is created), or a parent is a
        mode = None  # file: the write itself reports that
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(f"{given} is {file_kind(mode)}, not a regular file; it cannot be "
                         "written as an output (give the path of a file)")
    return Path(os.path.realpath(given))


def probe_writable(directory) -> None:
    """Raise ``OSError`` unless a file can be created in the existing ``directory`` (tried for
    real: permission bits do not tell for root, read-only mounts or a full quota)."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".handgrad-probe.",
                               suffix=f".hg{os.getpid()}-{_HOST}.tmp")
    os.close(fd)
    os.unlink(tmp)


def file_kind(mode: int) -> str:
    """'a directory', 'a FIFO (named pipe)', … for an ``st_mode`` (in messages)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"


def remove_stale_temporaries(directory) -> int:
    """Delete the temporary files of this program in ``directory`` whose writer (a process of
    this host) is gone — those a killed save left behind; return how many. Best effort."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or match.group(2) != _HOST or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # alive but another user's, or no pid
        return True
    except OSError:
        return True
    return True


# processes hold locks, not threads: a directory this process has locked may be locked again
# by it (the checkpoint directory may be the output directory), counted here
_HELD: dict[tuple[int, int], list] = {}


@contextlib.contextmanager
def directory_lock(directory, what: str = "directory") -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (created if missing) while the block runs.

    Another process holding it makes this raise :class:`~handgrad.errors.InputError` naming
    ``what`` (e.g. ``"the output directory"``) at once. The lock is ``flock`` on the directory
    itself, which the kernel releases when its process ends however it ends, so a lock of a
    dead process never blocks. Where locks are not available (no ``fcntl``, some network
    filesystems) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    info = os.fstat(fd)
    key = (info.st_dev, info.st_ino)
    if key in _HELD:
        os.close(fd)
        _HELD[key][1] += 1
    elif not _try_flock(fcntl, fd):
        os.close(fd)
        raise InputError(f"{what} {directory} is in use by another handgrad run; wait for it "
                         "to finish or choose another directory")
    else:
        _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        held = _HELD[key]
        held[1] -= 1
        if held[1] == 0:
            del _HELD[key]
            os.close(held[0])  # closing the descriptor releases the lock


def _try_flock(fcntl, fd: int) -> bool:
    """Lock ``fd`` without waiting: False if another process holds it; True if locked, or if
    the filesystem offers no locks (then the run goes on unlocked rather than not at all)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    return True


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
