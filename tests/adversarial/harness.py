"""The adversarial suite's harness: one line per case.

A case is the command line (or a Python call) plus the exact outcome expected:

    refuse("bad-seed", "train --seed -1", "--seed")                 # exit 2, one line naming --seed
    accept("bom", "train --data {bom_csv} --target y --epochs 1")   # exit 0
    refuse_api("inf-size", lambda: hg.MLP([3, float("inf"), 2]), "sizes")

``{name}`` in an argument is replaced by the path of the fixture file ``name`` (see
conftest.FILES, or a case's own ``files={"name": bytes_or_text}``); ``{tmp}`` is the case's own
temporary directory. CLI cases run in this process through ``handgrad.cli.main.main`` (an
uncaught exception is a traceback a user would see, and fails the case); those that need a real
process (signals, pipes, terminals) say ``process=True``.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    argv: str | None = None                 # the command line after "handgrad"
    call: Callable | None = None            # or a Python call
    status: int = 2                         # expected exit status (CLI)
    fragments: tuple[str, ...] = ()         # each must appear in the one-line message
    ok: bool = False                        # a correct result is expected, not a refusal
    check: Callable | None = None           # check(out, err, tmp) for accepted cases
    files: dict = dataclasses.field(default_factory=dict)
    process: bool = False
    stdin: bytes | None = None
    stdout_closed: bool = False             # process: the reader of stdout is gone (| head)
    timeout: float = 120


def refuse(id, argv, *fragments, status=2, **kw) -> Case:
    """A CLI case that must end with a one-line error naming ``fragments``, and ``status``."""
    return Case(id, argv=argv, fragments=tuple(fragments), status=status, **kw)


def accept(id, argv, check=None, **kw) -> Case:
    """A CLI case that must succeed (exit 0); ``check(out, err, tmp)`` may assert more."""
    return Case(id, argv=argv, ok=True, status=0, check=check, **kw)


def refuse_api(id, call, *fragments, **kw) -> Case:
    """A Python call that must raise handgrad's InputError naming ``fragments``."""
    return Case(id, call=call, fragments=tuple(fragments), **kw)


def accept_api(id, call, check=None, **kw) -> Case:
    """A Python call that must return; ``check(result)`` may assert more."""
    return Case(id, call=call, ok=True, check=check, **kw)


def checks(*fns):
    """A check running every check of ``fns``."""
    def check(out, err, tmp):
        for f in fns:
            f(out, err, tmp)
    return check


def in_out(*fragments, absent=()):
    """A check: each fragment in stdout, none of ``absent``."""
    return _in("stdout", fragments, absent)


def in_err(*fragments, absent=()):
    """A check: each fragment in stderr, none of ``absent``."""
    return _in("stderr", fragments, absent)


def _in(stream: str, fragments, absent):
    def check(out, err, tmp):
        text = out if stream == "stdout" else err
        for f in fragments:
            assert f in text, f"{f!r} not in {stream}:\n{text}"
        for f in absent:
            assert f not in text, f"{f!r} in {stream}:\n{text}"
    return check


def _expand(argv: str, paths: dict[str, Path], tmp: Path) -> list[str]:
    return [a.format(tmp=tmp, **{k: str(v) for k, v in paths.items()}) for a in shlex.split(argv)]


def _write(tmp: Path, files: dict) -> dict[str, Path]:
    out = {}
    for name, content in files.items():
        path = tmp / name
        if callable(content):
            content(path)
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        out[name.replace(".", "_").replace("-", "_")] = path
    return out


def _run_with_stdout_closed(argv, case: Case, tmp: Path) -> tuple[int, str, str]:
    """Run with a stdout pipe whose reading end is closed before anything is written (what
    ``handgrad ... | head -1`` does once head has its line)."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "handgrad", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, input=case.stdin, timeout=case.timeout, cwd=tmp)
    finally:
        os.close(write_end)
    return done.returncode, "", done.stderr.decode(errors="replace")


def run_case(case: Case, paths: dict[str, Path], tmp: Path, capsys) -> None:
    """Run ``case`` and assert its outcome."""
    from handgrad.errors import InputError

    paths = {**paths, **_write(tmp, case.files)}
    if case.call is not None:
        if case.ok:
            result = case.call()
            # a check asserts, or returns a truth value: False fails the case
            if case.check:
                verdict = case.check(result)
                assert verdict is None or bool(verdict), f"{case.id}: check failed on {result!r}"
            return
        try:
            case.call()
        except InputError as exc:
            message = str(exc)
        else:
            raise AssertionError(f"{case.id}: no InputError")
        assert "\n" not in message.strip(), f"{case.id}: message is not one line: {message!r}"
        for f in case.fragments:
            assert f in message, f"{case.id}: {f!r} not in {message!r}"
        return
    argv = _expand(case.argv, paths, tmp)
    if case.process and case.stdout_closed:
        code, out, err = _run_with_stdout_closed(argv, case, tmp)
    elif case.process:
        done = subprocess.run([sys.executable, "-m", "handgrad", *argv], capture_output=True,
                              input=case.stdin, timeout=case.timeout, cwd=tmp)
        code, out, err = done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    else:
        from handgrad.cli.main import main

        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
    assert "Traceback" not in err, f"{case.id}: traceback:\n{err}"
    assert code == case.status, f"{case.id}: exit {code}, expected {case.status}; stderr: {err[-2000:]}"
    if case.ok:
        if case.check:
            verdict = case.check(out, err, tmp)
            assert verdict is None or bool(verdict), f"{case.id}: check failed; stdout: {out[-2000:]}"
        return
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"{case.id}: expected a one-line error, got: {err!r}"
    for f in case.fragments:
        assert f in lines[0], f"{case.id}: {f!r} not in {lines[0]!r}"
