"""Data-parallel training over MPI (handgrad.distributed, docs/distributed.md): N ranks give the
weights of one process with the same global batch; start-up agreement; checkpoints written by
rank 0 and resumed after a rank was killed; ``mpiexec -n 2 handgrad train``.

The MPI runs are subprocesses ``mpiexec -n N python tests/distributed_cases.py ...`` on
loopback; without mpiexec and mpi4py (the ``mpi`` extra) they are skipped, saying so."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
import distributed_cases as dc
from handgrad.distributed import launched_size

HERE = Path(__file__).parent
SCRIPT = HERE / "distributed_cases.py"
# the venv's launcher first: the one the mpi extra installs beside this Python
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                        os.environ.get("PATH", "")]))


def _mpi_missing() -> str | None:
    if MPIEXEC is None:
        return "no mpiexec on PATH (pip install 'handgrad[mpi]')"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'handgrad[mpi]')"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))
# float64: the bound after several epochs; float32: measured ~1.3e-7 (rounding of
# the scaled weights and of the loss sums), bounded with a margin of 75×
TOL = {"float64": 1e-12, "float32": 1e-5}


def _mpirun(n: int, *args, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    # BLAS threads are handgrad's to choose (fit divides the cores among the ranks), not the
    # environment's: the tests run what users run
    proc = subprocess.run([MPIEXEC, "-n", str(n), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=HERE)
    if check and proc.returncode != 0:
        raise AssertionError(f"mpiexec -n {n} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _rel(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _assert_same_run(result, name: str, net, history) -> None:
    case = dc.CASES[name]
    tol = TOL[case["dtype"]]
    assert _rel(result[f"{name}/flat"], net.flat) <= tol, name
    ours, ref = result[f"{name}/history"], dc.numbers(history)
    assert ours.shape == ref.shape, f"{name}: {len(ours)} epochs against {len(ref)}"
    close = np.isclose(ours, ref, rtol=tol, atol=0) | (np.isnan(ours) & np.isnan(ref))
    assert close.all(), f"{name}: history differs:\n{ours}\n{ref}"
    assert int(result[f"{name}/best_epoch"]) == (history.best_epoch or 0)


ALL = ["adam64", "sgd64", "plain_sgd64", "tiny_batch64", "regression64", "adam32"]


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_train_the_weights_of_one_process(tmp_path, ranks):
    """Every case: global batches that 2 and 3 do not divide, a short last batch, batches of
    2 rows on 3 ranks (an empty shard), sample and class weights, L2, validation and early
    stopping, regression, float32."""
    out = tmp_path / "out.npz"
    _mpirun(ranks, sys.executable, SCRIPT, out, *ALL)
    result = np.load(out)
    for name in ALL:
        net, history = dc.train(name)
        _assert_same_run(result, name, net, history)
        record = json.loads(str(result[f"{name}/record"]))
        assert record["ranks"] == ranks and record["global_batch"] == dc.CASES[name]["batch_size"]


@needs_mpi
def test_a_rank_with_other_options_is_refused_at_start(tmp_path):
    proc = _mpirun(2, sys.executable, SCRIPT, tmp_path / "out.npz", "sgd64", "--mismatch",
                   check=False, timeout=60)
    assert proc.returncode != 0
    assert "rank(s) [1] of 2 were started with other epochs than rank 0" in proc.stdout
    assert not (tmp_path / "out.npz").exists()


@needs_mpi
def test_a_killed_rank_ends_the_job_and_resume_continues(tmp_path):
    """Rank 1 killed (SIGKILL) after a checkpoint: the job ends within seconds (the launcher
    stops rank 0), and ``resume`` on 2 ranks ends with the weights of one uninterrupted
    process."""
    ckpt, pids = tmp_path / "ckpt", tmp_path / "pids"
    pids.mkdir()
    job = subprocess.Popen([MPIEXEC, "-n", "2", sys.executable, SCRIPT, tmp_path / "a.npz",
                            "long64", "--checkpoint", ckpt, "--pid-dir", pids],
                           cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    try:
        deadline = time.monotonic() + 60
        while not (ckpt.is_dir() and any(ckpt.glob("ckpt-*.safetensors"))
                   and (pids / "1.pid").exists()):
            assert job.poll() is None, job.communicate()[0]
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        os.kill(int((pids / "1.pid").read_text()), signal.SIGKILL)
        killed = time.monotonic()
        output, _ = job.communicate(timeout=30)
        assert time.monotonic() - killed < 30
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0, output
    assert not (tmp_path / "a.npz").exists(), "the job went on after a rank died"
    _mpirun(2, sys.executable, SCRIPT, tmp_path / "b.npz", "long64", "--checkpoint", ckpt, "--resume")
    net, history = dc.train("long64")
    _assert_same_run(np.load(tmp_path / "b.npz"), "long64", net, history)


def _on_two_ranks_and_one(tmp_path, command):
    """``handgrad COMMAND`` under ``mpiexec -n 2`` (into tmp_path/mpi; rank 0 alone says it saved)
    and in one process (tmp_path/one): (the mpiexec run, its model, the one process's model)."""
    proc = _mpirun(2, sys.executable, "-m", "handgrad", *command, "--out-dir", tmp_path / "mpi")
    assert proc.stdout.count("model saved to") == 1, proc.stdout
    one = subprocess.run([sys.executable, "-m", "handgrad", *command, "--out-dir", tmp_path / "one"],
                         capture_output=True, text=True, timeout=120, cwd=HERE)
    assert one.returncode == 0, one.stderr
    return (proc, hg.load_model(tmp_path / "mpi" / "model.safetensors"),
            hg.load_model(tmp_path / "one" / "model.safetensors"))


@needs_mpi
def test_mpiexec_handgrad_train(tmp_path):
    """``mpiexec -n 2 handgrad train``: rank 0 alone prints and writes; the model equals the
    one-process command's and its record says how it was trained."""
    common = ["train", "--dataset", "iris", "--epochs", "4", "--dtype", "float64",
              "--val-fraction", "0.2", "--batch-size", "15", "--no-plot", "--ensemble", "1"]
    proc, a, b = _on_two_ranks_and_one(tmp_path, common)
    assert "data-parallel training over 2 MPI ranks" in proc.stderr
    assert _rel(a.net.flat, b.net.flat) <= 1e-12
    assert a.record["history"]["data_parallel"]["ranks"] == 2
    assert a.record["history"]["data_parallel"]["global_batch"] == 15
    assert "data_parallel" not in b.record["history"]
    assert sorted(p.name for p in (tmp_path / "mpi").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir())


@needs_mpi
@pytest.mark.parametrize("held_out", [[], ["--val-fraction", "0.2"]], ids=["cross-validated", "hold-out"])
def test_mpiexec_splits_the_ensembles_members_over_the_ranks(tmp_path, held_out):
    """The default ensemble under ``mpiexec -n 2``: each rank trains its share of the members
    (and of their folds); the model file equals the one-process command's, member by member."""
    common = ["train", "--dataset", "iris", "--dtype", "float64", "--no-plot", *held_out]
    proc, a, b = _on_two_ranks_and_one(tmp_path, common)
    assert "the ensemble's 8 members split over 2 MPI ranks" in proc.stderr
    assert len(a.members) == len(b.members) and len(b.members) >= 1  # several kept: the split matters
    for x, y in zip([a.net, *a.members], [b.net, *b.members]):
        assert _rel(x.flat, y.flat) <= 1e-12
    np.testing.assert_allclose(a.member_weights, b.member_weights, rtol=0, atol=1e-12)
    assert a.record["ensemble"]["ranks"]["ranks"] == 2 and "ranks" not in b.record["ensemble"]
    assert [m["weight"] for m in a.record["ensemble"]["members"]] == [m["weight"] for m in b.record["ensemble"]["members"]]


@needs_mpi
def test_a_rank_that_fails_outside_training_ends_the_job(tmp_path):
    """An unexpected error on one rank before training (a bug) ends the whole job with its
    traceback, instead of leaving the other ranks waiting in a collective."""
    script = tmp_path / "fail.py"
    script.write_text("import sys\nfrom mpi4py import MPI\nimport handgrad.cli.main\nm = sys.modules['handgrad.cli.main']\n"
                      "import handgrad.cli.ranks as r\n"
                      "real = r.join_ranks\n"
                      "def join(args):\n    real(args)\n    if MPI.COMM_WORLD.rank == 1:\n        raise RuntimeError('boom')\n"
                      "m.join_ranks = join\n"
                      "sys.exit(m.main(['train', '--dataset', 'iris', '--epochs', '2', '--no-plot', '--out-dir', sys.argv[1]]))\n")
    proc = _mpirun(2, sys.executable, script, tmp_path / "o", check=False, timeout=60)
    assert proc.returncode != 0
    assert "RuntimeError: boom" in proc.stderr


@needs_mpi
def test_mpiexec_refuses_commands_that_do_not_run_over_ranks(tmp_path):
    proc = _mpirun(2, sys.executable, "-m", "handgrad", "train", "--search", "--out-dir", tmp_path,
                   check=False, timeout=60)
    assert proc.returncode == 2
    assert "--search is not data-parallel yet" in proc.stderr


def test_the_launchers_process_count_is_read_from_the_environment():
    assert launched_size({}) == 1
    assert launched_size({"PMI_SIZE": "4"}) == 4
    assert launched_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    assert launched_size({"PMI_SIZE": ""}) == 1


def test_one_process_imports_no_mpi():
    code = ("import sys, numpy as np, handgrad as hg; net = hg.MLP([3, 4, 2], dtype='float64');"
            "hg.fit(net, np.eye(3), [0, 1, 0], epochs=1);"
            "from handgrad.distributed import from_environment; assert from_environment() is None;"
            "assert 'mpi4py' not in sys.modules")
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_without_mpi4py_the_extra_is_named(monkeypatch):
    from handgrad.distributed import mpi

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    with pytest.raises(hg.InputError, match=r"pip install 'handgrad\[mpi\]'"):
        mpi.mpi()
