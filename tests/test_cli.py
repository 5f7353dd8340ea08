"""The command line, run as a user would (a subprocess)."""

import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True, text=True, timeout=300)


def test_demo_prints_falling_loss_and_accuracy():
    out = run("demo", "--epochs", "600")
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith("epoch")]
    losses = [float(l.split("loss")[1].split()[0]) for l in lines]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    assert "test accuracy" in out.stdout.splitlines()[-1]


def test_gradcheck_command_prints_the_table():
    out = run("gradcheck", "--sizes", "4", "6", "5", "3", "--activation", "relu", "tanh")
    assert out.returncode == 0, out.stderr
    assert "PASSED: 6 of 6 parameters within tolerance" in out.stdout
    assert "W1" in out.stdout and "max abs err" in out.stdout


def test_errors_are_one_line_without_traceback():
    out = run("gradcheck", "--activation", "nope")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0
    assert "unknown activation 'nope'" in out.stderr


def test_no_command_prints_help():
    out = run()
    assert out.returncode == 2 and "gradcheck" in out.stdout
