"""Checkpoints and resume: nothing lost on a crash, bit-identical continuation."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import handgrad as hg
from handgrad.training.checkpoint import CheckpointError
from handgrad.errors import TrainingInterrupted


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    return X, y


KW = dict(epochs=6, batch_size=32, validation_fraction=0.2, seed=3)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_resume_after_a_stop_is_bit_identical(tmp_path, optimizer):
    X, y = _data()
    ref = hg.MLP([8, 16, 3], seed=1)
    hg.fit(ref, X, y, optimizer=optimizer, schedule="plateau", **KW)

    net = hg.MLP([8, 16, 3], seed=1)
    h = hg.fit(net, X, y, optimizer=optimizer, schedule="plateau", checkpoint_dir=tmp_path,
               callbacks=[lambda rec, n: rec["epoch"] == 2], **KW)
    assert len(h) == 2
    again = hg.MLP([8, 16, 3], seed=99)  # a fresh process would start from other weights
    h2 = hg.fit(again, X, y, optimizer=optimizer, schedule="plateau", checkpoint_dir=tmp_path,
                resume=True, **KW)
    assert np.array_equal(again.flat, ref.flat)
    assert h2["epoch"] == list(range(1, 7))
    # the history says where it continued from (the record, --json and a note show it)
    assert h2.to_dict()["resumed_from"] == {"epoch": 2, "batch": 0, "skipped": [],
                                            "checkpoint": "ckpt-000002-0000000.safetensors"}
    assert h.resumed_from is None and "resumed_from" not in h.to_dict()


def _signal_at(signum, epoch: int, batch: int):
    """A callback that sends this process ``signum`` after step ``batch`` of ``epoch``."""
    class Send(hg.training.history.Callback):
        def on_batch_end(self, e, b, n_batches, loss):
            if (e, b) == (epoch, batch):
                os.kill(os.getpid(), signum)
    return Send()


def test_ctrl_c_mid_epoch_checkpoints_and_resumes_bit_identically(tmp_path):
    X, y = _data()
    ref = hg.MLP([8, 16, 3], seed=1)
    hg.fit(ref, X, y, optimizer="adam", **KW)

    net = hg.MLP([8, 16, 3], seed=1)
    with pytest.raises(TrainingInterrupted, match=r"epoch 4, batch 6.*resume") as info:
        hg.fit(net, X, y, optimizer="adam", checkpoint_dir=tmp_path, callbacks=[_signal_at(signal.SIGINT, epoch=3, batch=5)], **KW)
    assert info.value.epoch == 4 and len(info.value.history) == 3
    assert any(p.name.endswith("-0000006.safetensors") for p in tmp_path.iterdir())
    again = hg.MLP([8, 16, 3], seed=5)
    hg.fit(again, X, y, optimizer="adam", checkpoint_dir=tmp_path, resume=True, **KW)
    assert np.array_equal(again.flat, ref.flat)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    X, y = _data()
    net = hg.MLP([8, 16, 3], seed=1)
    hg.fit(net, X, y, checkpoint_dir=tmp_path, **KW)
    files = sorted(tmp_path.glob("ckpt-*.safetensors"))
    assert len(files) == 2  # the newest and the one before it are kept
    files[-1].write_bytes(files[-1].read_bytes()[:500])  # truncated
    ref = hg.MLP([8, 16, 3], seed=1)
    hg.fit(ref, X, y, **KW)
    again = hg.MLP([8, 16, 3], seed=7)
    h = hg.fit(again, X, y, checkpoint_dir=tmp_path, resume=True, **KW)
    assert np.array_equal(again.flat, ref.flat)  # redid the last epoch from the previous file
    assert np.all(np.isfinite(again.flat))
    assert h.resumed_from["epoch"] == 5 and files[-1].name in h.resumed_from["skipped"][0]


def test_all_damaged_or_nan_checkpoints_are_refused(tmp_path):
    X, y = _data()
    hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, **KW)
    files = sorted(tmp_path.glob("ckpt-*.safetensors"))
    files[0].write_bytes(b"garbage")
    data = bytearray(files[1].read_bytes())
    # put a NaN into the parameters: find the float32 'flat' block and overwrite its first value
    header_len = int.from_bytes(data[:8], "little")
    import json
    header = json.loads(data[8:8 + header_len])
    start = 8 + header_len + header["flat"]["data_offsets"][0]
    data[start:start + 4] = np.array([np.nan], dtype=np.float32).tobytes()
    files[1].write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="no usable checkpoint.*NaN"):
        hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, resume=True, **KW)


@pytest.mark.parametrize("change, message", [
    (dict(l2=0.1), "l2"),
    (dict(sizes=[8, 32, 3]), "sizes"),
    (dict(data=True), "data"),
    (dict(dtype="float64"), "dtype"),
])
def test_resume_with_another_configuration_is_refused(tmp_path, change, message):
    X, y = _data()
    hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, **KW)
    sizes = change.get("sizes", [8, 16, 3])
    net = hg.MLP(sizes, seed=1, l2=change.get("l2", 0.0), dtype=change.get("dtype", "float32"))
    Xc = X.copy()
    if change.get("data"):
        Xc[0, 0] += 1
    with pytest.raises(CheckpointError, match=f"different run configuration.*{message}"):
        hg.fit(net, Xc, y, checkpoint_dir=tmp_path, resume=True, **KW)


def test_resume_without_a_checkpoint_starts_afresh_and_without_a_dir_is_refused(tmp_path):
    X, y = _data()
    a, b = hg.MLP([8, 16, 3], seed=1), hg.MLP([8, 16, 3], seed=1)
    hg.fit(a, X, y, checkpoint_dir=tmp_path / "empty", resume=True, **KW)
    hg.fit(b, X, y, **KW)
    assert np.array_equal(a.flat, b.flat)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        hg.fit(hg.MLP([8, 16, 3]), X, y, resume=True, epochs=1)


SCRIPT = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    import handgrad as hg
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16000, 20)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 0.5)
    net = hg.MLP([20, 64, 32, 3], seed=1)
    ckpt = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-" else None
    hg.fit(net, X, y, epochs=40, batch_size=16, optimizer="adam", validation_fraction=0.1,
           seed=2, checkpoint_dir=ckpt, resume=ckpt is not None, diagnostics=False)
    print(hashlib.sha256(net.flat.tobytes()).hexdigest())
""")


def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    run = lambda *a: subprocess.run([sys.executable, str(script), *a], capture_output=True, text=True, timeout=300)
    t0 = time.perf_counter()
    reference = run("-")
    whole = time.perf_counter() - t0
    assert reference.returncode == 0, reference.stderr
    ckpt = tmp_path / "ckpt"
    rng = np.random.default_rng(11)
    kills, reached = 0, []
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, str(script), str(ckpt)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        # somewhere in the middle of a run: after start-up, before a whole run's time
        time.sleep(float(rng.uniform(0.15, 0.3)) * whole)
        if proc.poll() is not None:  # finished before the kill
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        done = sorted(int(p.name[5:11]) for p in ckpt.glob("ckpt-*.safetensors")) if ckpt.exists() else []
        reached.append(done[-1] if done else 0)
        if reached[-1] == 40:
            # killed after the last epoch's checkpoint, before the process ended: nothing left to
            # interrupt, and the resume below must still give the uninterrupted weights
            break
    print(f"SIGKILLed {kills} times (whole run {whole:.2f} s); latest checkpoint epoch after each: {reached}")
    during = [r for r in reached if r < 40]
    # the kills landed during training, at different places, and each run built on the last
    assert len(during) >= 5 and len(set(during)) >= 5 and reached == sorted(reached) and 0 < during[-1]
    final = run(str(ckpt))
    assert final.returncode == 0, final.stderr
    assert final.stdout.strip() == reference.stdout.strip()
    assert not [p for p in ckpt.iterdir() if p.name.endswith(".tmp")]


def test_cli_ctrl_c_then_resume(tmp_path):
    """handgrad train: SIGINT finishes the step, writes a checkpoint, says how to resume."""
    args = [sys.executable, "-m", "handgrad", "train", "--dataset", "digits", "--epochs", "60",
            "--patience", "0", "--batch-size", "8", "--checkpoint-dir", str(tmp_path / "ck"),
            "--out-dir", str(tmp_path / "out"), "--no-plot", "--quiet", "--seed", "4"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60

    def epochs_checkpointed():
        names = [p.name for p in (tmp_path / "ck").glob("ckpt-*.safetensors")]
        return max((int(n[5:11]) for n in names), default=0)

    while time.time() < deadline and epochs_checkpointed() < 2:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0
    resumed = subprocess.run(args + ["--resume", "--json"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    import json
    result = json.loads(resumed.stdout)
    assert result["epochs_run"] == 60
    fresh = subprocess.run([a for a in args if a not in (str(tmp_path / "ck"), "--checkpoint-dir")]
                           + ["--json", "--ensemble", "1", "--model", str(tmp_path / "fresh.safetensors")],
                           capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    a = hg.load_model(tmp_path / "out" / "model.safetensors").net.flat
    b = hg.load_model(tmp_path / "fresh.safetensors").net.flat
    assert np.array_equal(a, b)


def _cli_train(tmp_path, *extra):
    return [sys.executable, "-m", "handgrad", "train", "--dataset", "digits", "--epochs", "60",
            "--patience", "0", "--batch-size", "8", "--checkpoint-dir", str(tmp_path / "ck"),
            "--out-dir", str(tmp_path / "out"), "--no-plot", "--quiet", "--seed", "4", *extra]


def _newest_epoch(ck):
    return max((int(p.name[5:11]) for p in ck.glob("ckpt-*.safetensors")), default=0)


def _start_and_signal(args, ck, signum, after_epochs=2):
    """Start ``args``, wait for ``after_epochs`` checkpoints, send ``signum``; (code, out, err)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and _newest_epoch(ck) < after_epochs:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be stopped"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_cli_sigterm_or_sighup_checkpoints_like_ctrl_c_and_resumes_bit_identically(tmp_path, signame):
    """kill (SIGTERM) and a closed terminal (SIGHUP) stop as Ctrl-C does: the step finishes,
    a checkpoint is written, one line names --resume, exit 128 + signal, no temporary file;
    --resume then ends with the weights of a run never stopped."""
    signum = getattr(signal, signame)
    args = _cli_train(tmp_path)
    code, _, err = _start_and_signal(args, tmp_path / "ck", signum)
    assert code == 128 + signum, err
    assert f"interrupted by {signame}" in err and "--resume" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0
    assert not [p for p in (tmp_path / "ck").iterdir() if not p.name.startswith("ckpt-")]
    if signame == "SIGHUP":  # the same path as SIGTERM from here on: one full comparison is enough
        return
    resumed = subprocess.run(args + ["--resume", "--json"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    import json
    assert json.loads(resumed.stdout)["epochs_run"] == 60
    fresh = subprocess.run([a for a in args if a not in (str(tmp_path / "ck"), "--checkpoint-dir")]
                           + ["--ensemble", "1", "--model", str(tmp_path / "fresh.safetensors")],
                           capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    a = hg.load_model(tmp_path / "out" / "model.safetensors").net.flat
    b = hg.load_model(tmp_path / "fresh.safetensors").net.flat
    assert np.array_equal(a, b)
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_sigterm_mid_epoch_stops_after_the_step_and_restores_the_handlers(tmp_path):
    X, y = _data()
    ref = hg.MLP([8, 16, 3], seed=1)
    hg.fit(ref, X, y, optimizer="adam", **KW)

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    net = hg.MLP([8, 16, 3], seed=1)
    with pytest.raises(TrainingInterrupted, match=r"by SIGTERM at epoch 3, batch 4.*resume") as info:
        hg.fit(net, X, y, optimizer="adam", checkpoint_dir=tmp_path, callbacks=[_signal_at(signal.SIGTERM, epoch=2, batch=3)], **KW)
    assert info.value.signum == signal.SIGTERM
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before
    again = hg.MLP([8, 16, 3], seed=5)
    hg.fit(again, X, y, optimizer="adam", checkpoint_dir=tmp_path, resume=True, **KW)
    assert np.array_equal(again.flat, ref.flat)


def test_an_ignored_sighup_stays_ignored_in_training(tmp_path):
    """nohup ignores SIGHUP: training must not start listening to it."""
    X, y = _data()
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        class Hup(hg.training.history.Callback):
            def on_batch_end(self, epoch, batch, n_batches, loss):
                if epoch == 1 and batch == 0:
                    os.kill(os.getpid(), signal.SIGHUP)

        h = hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, callbacks=[Hup()], **KW)
        assert len(h) == KW["epochs"]
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


HOLD = textwrap.dedent("""
    import sys, time
    from handgrad.atomic import directory_lock
    with directory_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


def _hold_lock(directory):
    """A process holding ``directory``'s lock, as a running training would."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_checkpoint_directory_in_use_is_refused_and_a_dead_holders_lock_is_not(tmp_path):
    X, y = _data()
    hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, **KW)
    before = sorted(p.name for p in tmp_path.iterdir())
    holder = _hold_lock(tmp_path)
    try:
        with pytest.raises(hg.InputError, match="checkpoint directory .* is in use by another handgrad run"):
            hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, **KW)
        with pytest.raises(hg.InputError, match="in use by another handgrad run"):
            hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, resume=True, **KW)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing pruned
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder is dead: its lock went with it
    hg.fit(hg.MLP([8, 16, 3], seed=1), X, y, checkpoint_dir=tmp_path, resume=True, **KW)


def test_cli_two_runs_sharing_an_out_dir_or_checkpoint_dir(tmp_path):
    """The second run is refused at once with one line, before it reads or trains anything."""
    base = ["train", "--dataset", "iris", "--epochs", "2", "--no-plot", "--quiet"]
    from handgrad.cli.main import main
    holder = _hold_lock(tmp_path / "out")
    try:
        proc = subprocess.run([sys.executable, "-m", "handgrad", *base, "--out-dir", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "output directory (--out-dir)" in proc.stderr and "in use by another handgrad run" in proc.stderr
        assert list((tmp_path / "out").iterdir()) == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    holder = _hold_lock(tmp_path / "ck")
    try:
        proc = subprocess.run([sys.executable, "-m", "handgrad", *base, "--out-dir", str(tmp_path / "o2"),
                               "--checkpoint-dir", str(tmp_path / "ck")], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "checkpoint directory" in proc.stderr and "in use" in proc.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # one run may use one directory for both (the lock is the process's own)
    assert main([*base, "--out-dir", str(tmp_path / "same"), "--checkpoint-dir", str(tmp_path / "same")]) == 0


def test_cli_resume_with_a_missing_or_empty_checkpoint_dir_starts_afresh_with_a_note(tmp_path, capsys):
    """A preemptible job passes --resume every time, also when it was killed before the
    directory was made: that run starts from the beginning, saying so."""
    from handgrad.cli.main import main
    base = ["train", "--dataset", "iris", "--epochs", "2", "--no-plot", "--quiet", "--out-dir", str(tmp_path / "o")]
    assert main([*base, "--checkpoint-dir", str(tmp_path / "new"), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "note: the checkpoint directory" in err and "does not exist yet" in err
    assert _newest_epoch(tmp_path / "new") == 2
    assert main([*base, "--resume"]) == 2
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err
    (tmp_path / "ck").mkdir()
    assert main([*base, "--checkpoint-dir", str(tmp_path / "ck"), "--resume"]) == 0
    assert "note: no checkpoint in" in capsys.readouterr().err
    assert _newest_epoch(tmp_path / "ck") == 2
