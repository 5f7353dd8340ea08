"""The loader fuzzer (tests/fuzz/fuzz_loaders.py) runs for a few seconds on every test run,
and it does catch, save and replay an input that breaks a loader's contract.

The fuzz time is 10 s (``HANDGRAD_FUZZ_SECONDS`` changes it); the seed is fixed when the
environment variable CI is set and drawn from the clock otherwise (it is printed, and a
failing input is saved, so a failure can be replayed either way).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FUZZER = Path(__file__).parent / "fuzz" / "fuzz_loaders.py"

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_loaders", FUZZER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_loaders"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run(argv) -> int:
    fuzzer = load_fuzzer()
    try:
        status = fuzzer.main(argv)
    except SystemExit as exc:
        status = exc.code
    return status


def test_fuzz_the_loaders_for_a_few_seconds(tmp_path, capsys):
    seconds = os.environ.get("HANDGRAD_FUZZ_SECONDS", "10")
    argv = ["--seconds", seconds, "--out", str(tmp_path)] + (["--seed", "0"] if os.environ.get("CI") else [])
    status = run(argv)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    summary = re.search(r"(\d+) inputs in ([\d.]+) s \(model (\d+), csv (\d+), tsv (\d+), "
                        r"csv\.gz (\d+), parquet (\d+)\); (\d+) loaded", out)
    assert summary, out
    counts = [int(g) for g in summary.groups()[2:7]]
    assert int(summary.group(1)) >= 100 and min(counts) > 0, out     # every loader was fed
    assert int(summary.group(8)) > 0, out                             # and some inputs loaded
    assert not list(tmp_path.iterdir())                               # nothing saved: no failure


def test_the_fuzzer_catches_saves_and_replays_a_broken_contract(tmp_path, monkeypatch, capsys):
    """If a loader raises an undocumented error, the fuzzer exits 1 and saves the input, and
    --replay reproduces the failure (and passes once the loader is fixed)."""
    import handgrad.data

    real = handgrad.data.load_table

    def broken(path, target=None, features=None):
        if Path(path).suffix == ".tsv":
            raise KeyError("a bug")
        return real(path, target, features)

    monkeypatch.setattr(handgrad.data, "load_table", broken)
    assert run(["--seconds", "20", "--seed", "1", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "FUZZ FAILURE" in err and "KeyError" in err and "a bug" in err
    saved = [p for p in tmp_path.iterdir() if not p.name.endswith(".json")]
    assert len(saved) == 1 and saved[0].suffix == ".tsv"
    assert (tmp_path / (saved[0].name + ".json")).exists()
    assert run(["--replay", str(tmp_path)]) == 1
    monkeypatch.setattr(handgrad.data, "load_table", real)
    assert run(["--replay", str(saved[0])]) == 0


def test_the_atheris_engine_runs_if_installed(tmp_path):
    pytest.importorskip("atheris")
    result = subprocess.run([sys.executable, str(FUZZER), "--engine", "atheris", "--seconds", "4",
                             "--seed", "1", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert re.search(r"fuzz_loaders \(atheris\): \d+ inputs", result.stdout), result.stdout[-2000:]
