"""Where every command writes (``train``, ``predict``, ``export``, ``import-sklearn``),
settled before any work starts.

Every output path is resolved and checked first (:func:`output_file`, the one door), so that
a training run never ends by failing to save what it trained: the directory must be (or
become) writable — tried by creating a file there, since permission bits do not tell for root
or a read-only mount —, the target must not be an input of the command (the table read, the
model used, the pickle imported: :func:`handgrad.atomic.refuse_inputs`, the rule the writers
apply again when they write), nor a directory, FIFO, device or socket. ``-`` means standard
output where a command can write there (``predict --out -``). A symbolic link is checked as
its target, which is what :mod:`handgrad.atomic` then writes. The output and checkpoint
directories are locked for the run (:func:`hold_train_outputs`).
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from ..atomic import (directory_lock, file_kind, probe_writable, refuse_inputs, same_file,
                      writable_target)
from ..errors import InputError

STDOUT = "-"
_NOT_STDOUT = "only predict --out can write to standard output; give a path"


@dataclasses.dataclass
class TrainOutputs:
    """The checked outputs of ``train``: paths as the user gave them (printed and written;
    a write follows links by itself) and whether the output directory is used at all."""

    out_dir: Path
    model: Path
    plot: Path | None
    uses_out_dir: bool
    checkpoint_dir: Path | None
    notes: list[str]


def train_outputs(args) -> TrainOutputs:
    """Check every place ``train`` writes (see the module docstring); raise InputError
    naming the option to change."""
    inputs = [p for p in (args.data, getattr(args, "test", None)) if p]
    for option, value in (("--out-dir", args.out_dir), ("--checkpoint-dir", args.checkpoint_dir)):
        if value == STDOUT:
            raise InputError(f"{option} -: {_NOT_STDOUT}")
    out_dir = Path(args.out_dir)
    uses_out_dir = not args.model or not args.no_plot
    if uses_out_dir:
        _check_directory(out_dir, "--out-dir")
    model = output_file(args.model or out_dir / "model.safetensors",
                        "--model" if args.model else "--out-dir", inputs)
    model_target = writable_target(model)
    plot = None
    if not args.no_plot:
        plot = Path(args.plot) if args.plot else out_dir / "learning_curve.png"
        for option, path in (("--plot" if args.plot else "--out-dir", plot),
                             ("--out-dir", out_dir / "confusion_matrix.png"),
                             ("--out-dir", out_dir / "predictions.png"),
                             ("--out-dir", out_dir / "diagnostics.png")):
            if writable_target(output_file(path, option, inputs)) == model_target:
                raise InputError(f"{option} {path} is also where the model file goes; give the "
                                 "model and the plots different paths")
    checkpoint_dir, notes = _checkpoint_dir(args)
    return TrainOutputs(out_dir, model, plot, uses_out_dir, checkpoint_dir, notes)


def hold_train_outputs(outputs: TrainOutputs, stack) -> None:
    """Lock the output directory for the run on ``stack`` (a contextlib.ExitStack that ends
    with the command), creating it. A second run into the same directory is refused."""
    if outputs.uses_out_dir and stack is not None:
        stack.enter_context(directory_lock(outputs.out_dir, "the output directory (--out-dir)"))


def predict_output(args) -> Path | None:
    """The checked file of ``predict --out``, or None for ``--out -`` (standard output)."""
    return output_file(args.out, "--out", [args.data, args.model], stdout=True)


def output_file(value, option: str, inputs, *, stdout: bool = False) -> Path | None:
    """The file ``option`` (given as ``value``) writes, checked before any work: not one of
    the command's ``inputs`` (paths; None skipped), not a directory, FIFO, device or socket,
    in a directory that can be written. ``-`` is standard output (None) where the command
    can write there (``stdout``), refused elsewhere."""
    if str(value) == STDOUT:
        if stdout:
            return None
        raise InputError(f"{option} -: {_NOT_STDOUT}")
    path = Path(value)
    _resolved_file(path, option, [p for p in inputs if p], stdout_hint=stdout)
    return path


def _checkpoint_dir(args) -> tuple[Path | None, list[str]]:
    """--checkpoint-dir checked; with --resume, a note says when there is nothing to resume
    from yet (no checkpoint in it, or no directory: a job stopped before it made one — the
    pattern of preemptible jobs is to pass --resume every time), and the run starts afresh."""
    if not args.checkpoint_dir:
        if args.resume:
            raise InputError("--resume needs --checkpoint-dir DIR: the directory of the "
                             "checkpoints to continue from")
        return None, []
    path = Path(args.checkpoint_dir)
    real = Path(_realpath(path, "--checkpoint-dir"))
    _check_directory(path, "--checkpoint-dir")
    notes = []
    if args.resume and not real.exists():
        notes.append(f"the checkpoint directory {path} does not exist yet: training starts from the "
                     "beginning (and writes its checkpoints there)")
    elif args.resume:
        from ..training.checkpoint import _NAME

        if not any(_NAME.match(e.name) and e.is_file(follow_symlinks=False) for e in os.scandir(real)):
            notes.append(f"no checkpoint in {path} yet: training starts from the beginning")
    return path, notes


def _resolved_file(path: Path, option: str, inputs, stdout_hint: bool = False) -> Path:
    """The file a write to ``path`` replaces, refused when it is an input, not a regular file,
    or in a directory that cannot be written."""
    _realpath(path, option)
    try:
        target = writable_target(path)
    except InputError as exc:
        hint = "; use - for standard output" if stdout_hint else ""
        raise InputError(f"{option}: {exc}{hint}") from None
    try:
        refuse_inputs(target, inputs, path)
    except InputError as exc:
        raise InputError(f"{option} {exc}") from None
    _check_directory(target.parent, option)
    return target


def _check_input_file(path, option: str) -> None:
    """Refuse an input that is missing or not a regular file (a FIFO would block the read)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{option} {path}: file not found; check the path") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"{option} {path}: cannot read it ({reason})") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{option} {path} is {file_kind(mode)}, not a table file; give the "
                         "path of a .csv, .tsv or .parquet file")


def _check_directory(directory: Path, option: str) -> None:
    """Refuse a directory that is a file, or cannot be created or written."""
    real = Path(_realpath(directory, option))
    if os.path.exists(real) and not os.path.isdir(real):
        raise InputError(f"{option}: {directory} is a file, not a directory; give a directory")
    existing = real
    while not os.path.exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not os.path.isdir(existing):
        raise InputError(f"{option}: cannot create {directory}: {existing} is not a directory")
    try:
        probe_writable(existing)
    except OSError as exc:
        raise InputError(f"{option}: cannot write in {existing} ({exc.strerror or exc}); give a "
                         "writable location (checked before training, so that nothing is lost)") from None


def _realpath(path, option: str) -> str:
    try:
        return os.path.realpath(os.fspath(path))
    except (ValueError, OSError) as exc:  # a NUL character, a link loop on some systems
        raise InputError(f"{option}: {str(path)!r} is not a usable path ({exc})") from None
