"""The one memory model (handgrad.memory_plan, training.footprint, model.plans): its estimates
bound what training really allocates and stay close to it, cross-validation is refused before
any fold's network exists, the refusal names the fix of the largest part, and RLIMIT_AS is
read and honoured by a real process — where a MemoryError that still happens is one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import handgrad as hg
from handgrad import memory_plan
from handgrad.memory_plan import MemoryPlan
from handgrad.training.footprint import add_training


def _data(n=900, d=64, k=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, k, n)


def _peak(run) -> int:
    """Bytes numpy allocated at most while ``run()`` ran, beyond what was held before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("optimizer, patience", [("adam", 5), ("sgd", None)])
def test_fit_estimate_bounds_what_fit_allocates_and_is_close(optimizer, patience):
    X, y = _data()
    sizes = [64, 1000, 1000, 10]
    net = hg.MLP(sizes)
    plan = add_training(MemoryPlan("this network", sizes), sizes, 4, optimizer=optimizer, batch_rows=128,
                        eval_rows=100, best=patience is not None, diagnostics=True, held=True)
    peak = _peak(lambda: hg.fit(net, X[:800], y[:800], X_val=X[800:], y_val=y[800:], epochs=3,
                                batch_size=128, optimizer=optimizer, patience=patience))
    estimate = plan.total - plan.held  # what fit allocates; the network's arrays exist already
    assert peak <= estimate <= 1.4 * peak, (peak, estimate)


def test_fit_many_estimate_bounds_the_stack_as_models_leave_it():
    from handgrad.training.many_args import many_plan, prepare_members

    X, y = _data(1500)
    sizes = [64, 800, 800, 10]
    nets = [hg.MLP(sizes, seed=i) for i in range(5)]
    folds = dict(X=[X[i * 300:i * 300 + 250] for i in range(5)], y=[y[i * 300:i * 300 + 250] for i in range(5)],
                 X_val=[X[i * 300 + 250:i * 300 + 300] for i in range(5)],
                 y_val=[y[i * 300 + 250:i * 300 + 300] for i in range(5)])
    kw = dict(epochs=6, batch_size=64, patience=1, lr=[1e-2, 3e-3, 1e-3, 3e-2, 1e-4])
    peak = _peak(lambda: hg.fit_many(nets, folds["X"], folds["y"], X_val=folds["X_val"], y_val=folds["y_val"],
                                     workers=1, **kw))
    members, opts, _ = prepare_members(
        [hg.MLP(sizes, seed=i) for i in range(5)], folds["X"], folds["y"], X_val=folds["X_val"],
        y_val=folds["y_val"], validation_fraction=0, sample_weight=None, class_weight=None, epochs=6,
        batch_size=64, optimizer="adam", lr=1e-3, schedule="constant", momentum=0.9, nesterov=False,
        weight_decay=0.0, patience=1, min_delta=0.0, restore_best=True, seed=0, monitor=None)
    plan = many_plan(members, opts[0], 1, True, workers=1)
    estimate = plan.total - plan.held
    assert peak <= estimate <= 1.4 * peak, (peak, estimate)


def test_cross_validation_is_refused_before_any_fold_network_is_made(monkeypatch):
    made = []
    real = hg.MLP.__init__
    monkeypatch.setattr(hg.MLP, "__init__", lambda self, *a, **k: (made.append(a), real(self, *a, **k))[1])
    monkeypatch.setattr(memory_plan, "available_memory", lambda: 300_000_000)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: None)
    X, y = _data(400)
    with pytest.raises(hg.InputError) as info:
        hg.train_classifier(X, y, hidden_sizes=[1500, 1500], epochs=1)
    message = str(info.value)
    assert made == [] and "\n" not in message
    # five networks of 2,364,010 float32 parameters, each with 13 arrays its size or so
    assert "[64, 1500, 1500, 10] has 2,364,010 parameters" in message
    assert "for 5-fold cross-validation" in message
    assert "(validation_fraction=0.1, --val-fraction 0.1): one network, about 8" in message  # ~90 MB fits
    with pytest.raises(hg.InputError) as info:
        hg.train_classifier(X, y, hidden_sizes=[4000, 4000], epochs=1)
    assert "--val-fraction" not in str(info.value) and "--hidden" in str(info.value)  # no hold-out fits either
    assert made == []


def test_the_refusal_names_the_fix_of_the_largest_part(monkeypatch):
    monkeypatch.setattr(memory_plan, "available_memory", lambda: 1000)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: None)
    plan = MemoryPlan("this network", [3, 4, 2]).add("weights", 600, "fewer layers").add(
        "activations of 9 rows", 900, "a smaller batch").add("held", 400, held=True)
    # held parts count on both sides: 1,900 needed, 1,000 available + 400 held
    message = plan.refusal()
    assert message == ("this network [3, 4, 2] has 26 parameters and needs about 1.9 kB of memory "
                       "(activations of 9 rows: 900 bytes; weights: 600 bytes; held: 400 bytes), but about "
                       "1.4 kB is available; use a smaller batch")
    plan.parts[1].nbytes = 300
    assert plan.refusal() is None and plan.check() == 1300


def test_address_space_counts_the_process_that_holds_most(monkeypatch):
    monkeypatch.setattr(memory_plan, "available_memory", lambda: 10**12)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: (500, 2000))
    split = MemoryPlan("the network", [3, 2]).add("stack", 900, "fewer networks", largest=450)
    assert split.refusal() is None  # 900 in all, 450 in the worker that holds most: fits 500
    split.add("data", 100)
    assert "needs about 550 bytes of memory, in its largest process" in split.refusal()
    assert "ulimit -v: 2 kB, 1.5 kB of it mapped already" in split.refusal()


def _python(code: str, limit: int | None = None, timeout=300) -> subprocess.CompletedProcess:
    def cap():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cap if limit else None)


def _train(setup: str, args: str) -> str:
    """A program running ``handgrad train --epochs 1 ... args`` after ``setup``."""
    return "\n".join(["import sys", "import handgrad.memory_plan as m", "from handgrad.cli.main import main",
                      textwrap.dedent(setup),
                      f'sys.exit(main(["train", "--epochs", "1", "--no-plot", "--quiet", {args}]))'])


@pytest.fixture(scope="module")
def mapped_at_the_check(tmp_path_factory):
    """What a `handgrad train` process has mapped when its memory is checked (imports, BLAS
    threads, the data): the limits below are set above it."""
    out = tmp_path_factory.mktemp("probe")
    probe = _python(_train("""
        seen = []
        real = m.MemoryPlan.refusal
        def spy(self):
            seen.append(m.mapped_now())
            return real(self)
        m.MemoryPlan.refusal = spy
        import atexit
        atexit.register(lambda: print("MAPPED", max(seen)))
    """, f'"--hidden", "8", "--val-fraction", "0.1", "--out-dir", "{out}"'))
    assert probe.returncode == 0, probe.stderr
    return int(probe.stdout.split("MAPPED")[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc/self/statm")
def test_a_real_ulimit_refuses_cross_validation_and_the_holdout_run_then_trains(mapped_at_the_check, tmp_path):
    limit = mapped_at_the_check + 800_000_000
    # 5 networks of 6.44 M float32 parameters: > 1.1 GB in the process that holds most
    cv = _python(_train("", f'"--hidden", "2500", "2500", "--out-dir", "{tmp_path}/a"'), limit)
    assert cv.returncode == 2 and cv.stderr.count("\n") == 1 and "Traceback" not in cv.stderr, cv.stderr
    assert "address-space limit (ulimit -v" in cv.stderr and "--val-fraction 0.1): one network" in cv.stderr
    holdout = _python(_train("", f'"--hidden", "2500", "2500", "--val-fraction", "0.1", '
                                 f'"--out-dir", "{tmp_path}/b"'), limit)
    assert holdout.returncode == 0, holdout.stderr
    assert (tmp_path / "b" / "model.safetensors").is_file()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS")
def test_a_memory_error_past_the_checks_is_one_line(mapped_at_the_check, tmp_path):
    """The last line of defence: with the plans switched off, cross-validation's allocations
    fail under the limit (in this process or a worker), and the command says so in one line."""
    limit = mapped_at_the_check + 800_000_000
    done = _python(_train("m.MemoryPlan.refusal = lambda self: None",
                          f'"--hidden", "2500", "2500", "--out-dir", "{tmp_path}/c"'), limit)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "ran out of memory" in done.stderr, done.stderr
    assert "--hidden" in done.stderr


def test_address_space_left_reads_the_limit():
    done = _python("""
        import resource
        from handgrad.memory_plan import address_space_left, mapped_now
        left, limit = address_space_left()
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        assert limit == soft and 0 < left <= limit - mapped_now() + 2**20, (left, limit)
        print("ok")
    """, limit=8 * 2**30)
    assert done.stdout.strip() == "ok", done.stderr
