import os

import numpy as np
import pytest

import handgrad as hg
from handgrad.data import make_three_class
from handgrad.training.loop import class_weights_for, fit, stratified_split


@pytest.fixture
def problem():
    X, y = make_three_class(300, seed=1)
    return (X - X.mean(0)) / X.std(0), y


def test_history_records_every_epoch(problem):
    X, y = problem
    net = hg.MLP([3, 16, 3], l2=1e-3, seed=0)
    h = fit(net, X, y, validation_fraction=0.2, epochs=5, batch_size=32, lr=0.01)
    assert len(h) == 5 and h["epoch"] == [1, 2, 3, 4, 5]
    for e in h.epochs:
        assert e["train_loss"] == pytest.approx(e["train_data_loss"] + e["train_l2_loss"])
        assert e["train_l2_loss"] > 0 and 0 <= e["train_accuracy"] <= 1
        assert e["val_loss"] > 0 and 0 <= e["val_accuracy"] <= 1 and e["lr"] == 0.01 and e["time"] > 0
        d = e["diagnostics"]
        assert len(d["grad_norm"]) == 2 and len(d["update_ratio"]) == 2 and len(d["dead_fraction"]) == 1
        assert all(g > 0 for g in d["grad_norm"]) and all(0 < r < 1 for r in d["update_ratio"])
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h.monitor == "val_loss" and h.stop_reason == "completed 5 epochs"


def test_training_is_seeded_and_reproducible(problem):
    X, y = problem
    nets = [hg.MLP([3, 8, 3], seed=0) for _ in range(3)]
    fit(nets[0], X, y, epochs=3, seed=5)
    fit(nets[1], X, y, epochs=3, seed=5)
    fit(nets[2], X, y, epochs=3, seed=6)
    assert np.array_equal(nets[0].flat, nets[1].flat)
    assert not np.array_equal(nets[0].flat, nets[2].flat)


def test_sgd_full_batch_epoch_is_one_gradient_step(problem):
    X, y = problem
    net = hg.MLP([3, 8, 3], dtype="float64", seed=0)
    ref = net.copy()
    fit(net, X, y, epochs=1, batch_size=len(y), optimizer="sgd", momentum=0.0, lr=0.3)
    ref.loss_and_grads(X, y)
    np.testing.assert_allclose(net.flat, ref.flat - 0.3 * ref.flat_grad, rtol=1e-12, atol=1e-15)


def test_early_stopping_restores_the_best_weights():
    # few noisy samples, a wide net and a high rate: validation loss turns up quickly
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 10))
    y = (X[:, 0] + rng.normal(scale=1.5, size=80) > 0).astype(int)
    net = hg.MLP([10, 64, 2], dtype="float64", seed=0)
    snapshots = {}
    h = fit(net, X, y, validation_fraction=0.3, epochs=200, batch_size=8, lr=0.01, patience=5,
            callbacks=[lambda rec, n: snapshots.__setitem__(rec["epoch"], n.flat.copy())])
    val = h["val_loss"]
    best = int(np.argmin(val)) + 1
    assert h.best_epoch == best and len(h) == best + 5 < 200
    assert "early stopping" in h.stop_reason
    assert np.array_equal(net.flat, snapshots[best])
    assert not np.array_equal(net.flat, snapshots[len(h)])


def test_without_validation_early_stopping_watches_training_loss(problem):
    X, y = problem
    h = fit(hg.MLP([3, 8, 3], seed=0), X, y, epochs=3, patience=2)
    assert h.monitor == "train_loss" and h["val_loss"] == [None] * 3


def test_user_validation_set(problem):
    X, y = problem
    h = fit(hg.MLP([3, 8, 3], seed=0), X[:200], y[:200], X_val=X[200:], y_val=y[200:], epochs=2)
    assert h["val_accuracy"][0] is not None


def test_class_weight_equals_the_matching_sample_weight(problem):
    X, y = problem
    cw = class_weights_for(y, 3, "balanced")
    counts = np.bincount(y)
    np.testing.assert_allclose(cw, len(y) / (3 * counts))
    a, b = hg.MLP([3, 8, 3], seed=0, dtype="float64"), hg.MLP([3, 8, 3], seed=0, dtype="float64")
    fit(a, X, y, epochs=2, class_weight="balanced")
    fit(b, X, y, epochs=2, sample_weight=cw[y])
    np.testing.assert_allclose(a.flat, b.flat, rtol=1e-12)
    # and the weighted loss is gradient-checked (the loss the trainer minimises)
    net = hg.MLP([3, 6, 3], l2=0.01, dtype="float64", seed=2)
    for bias in net.biases:
        bias[...] = 0.05
    assert hg.gradcheck(net, X[:12], y[:12], sample_weight=cw[y[:12]] * np.linspace(0.5, 2, 12)).passed


def test_class_weight_dict_and_refusals(problem):
    X, y = problem
    np.testing.assert_array_equal(class_weights_for(y, 3, {1: 2.0}), [1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="not a class index"):
        class_weights_for(y, 3, {5: 1.0})
    with pytest.raises(ValueError, match="'balanced'"):
        class_weights_for(y, 3, "auto")


def test_sample_weight_zero_removes_samples(problem):
    X, y = problem
    w = np.ones(len(y))
    w[100:] = 0
    a, c = hg.MLP([3, 8, 3], seed=0, dtype="float64"), hg.MLP([3, 8, 3], seed=0, dtype="float64")
    fit(a, X, y, epochs=1, batch_size=len(y), optimizer="sgd", momentum=0, lr=0.01, sample_weight=w)
    # the weighted mean still divides by m = 300, so it equals a 100-sample batch at lr/3
    fit(c, X[:100], y[:100], epochs=1, batch_size=100, optimizer="sgd", momentum=0, lr=0.01 / 3)
    np.testing.assert_allclose(a.flat, c.flat, rtol=1e-10)


def test_divergence_stops_with_a_clear_error_and_keeps_good_weights(problem):
    X, y = problem
    net = hg.MLP([3, 32, 3], seed=0)
    with pytest.raises(hg.TrainingDivergedError, match=r"epoch \d+.*smaller learning rate") as info:
        fit(net, X * 1e3, y, epochs=50, optimizer="sgd", momentum=0.9, lr=1e4)
    assert np.all(np.isfinite(net.flat))
    assert info.value.epoch >= 1 and len(info.value.history) == info.value.epoch - 1


def test_callback_can_stop_training(problem):
    X, y = problem
    h = fit(hg.MLP([3, 8, 3], seed=0), X, y, epochs=50, callbacks=[lambda rec, net: rec["epoch"] == 3])
    assert len(h) == 3 and "callback" in h.stop_reason


def test_stratified_split_keeps_class_proportions():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    keep, held = stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[held]).tolist() == [10, 6, 4]
    assert len(np.intersect1d(keep, held)) == 0 and len(keep) + len(held) == 100
    keep2, held2 = stratified_split(y, 0.2, seed=0)
    assert np.array_equal(held, held2)


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"epochs": 2.5}, "epochs"),
    ({"X_val": np.zeros((2, 3))}, "both X_val and y_val"),
    ({"validation_fraction": 1.5}, "fraction"),
    ({"optimizer": "lbfgs"}, "unknown optimizer"),
    ({"schedule": "warmup"}, "unknown learning-rate schedule"),
    ({"lr": 0}, "learning rate"),
])
def test_bad_fit_arguments(problem, kwargs, message):
    X, y = problem
    with pytest.raises(ValueError, match=message):
        fit(hg.MLP([3, 4, 3]), X, y, **kwargs)


def test_every_optimizer_and_schedule_learns(problem):
    X, y = problem
    for opt, sched in [("sgd", "step"), ("nesterov", "cosine"), ("adam", "exponential"),
                       ("adamw", "plateau"), ("adam", "constant")]:
        net = hg.MLP([3, 16, 3], seed=0)
        h = fit(net, X, y, epochs=15, optimizer=opt, schedule=sched, lr=0.05 if "sgd" in opt or opt == "nesterov" else 0.01)
        assert h["train_loss"][-1] < 0.8 * h["train_loss"][0], (opt, sched)


def test_small_networks_train_on_one_blas_thread(problem):
    from threadpoolctl import threadpool_info

    X, y = problem
    seen = []
    fit(hg.MLP([3, 8, 3], seed=0), X, y, epochs=1,
        callbacks=[lambda rec, net: seen.extend(i["num_threads"] for i in threadpool_info()
                                                  if i["user_api"] == "blas")])
    assert seen and set(seen) == {1}
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    fit(hg.MLP([3, 8, 3], seed=0), X, y, epochs=1, blas_threads=None,
        callbacks=[lambda rec, net: seen.append(sorted(i["num_threads"] for i in threadpool_info()
                                                         if i["user_api"] == "blas"))])
    assert seen[-1] == sorted(before)  # None leaves BLAS alone, and the limit was undone


def test_large_products_leave_the_cores_other_processes_use(monkeypatch):
    """Under "auto", a large problem trains on the BLAS default threads less the cores other
    processes are running on (bench/results/busy_machine.md: 2 threads beside a busy process
    were 3-4.5x slower), looked at again between steps, and the default is restored after."""
    from threadpoolctl import threadpool_info

    from handgrad.fast import threads

    blas = lambda: [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    default = max(blas())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if default < 2 or cores < 2:
        pytest.skip("one BLAS thread or one core: nothing to give up")
    # all other cores busy at the start (the first look and its confirmations), then free
    busy = iter([cores - 1] * (1 + threads.CONFIRM) + [0] * 10_000)
    monkeypatch.setattr(threads, "others_running", lambda: next(busy))
    monkeypatch.setattr(threads, "RECHECK", 0.0)
    monkeypatch.setattr(threads, "CONFIRM_AFTER", 0.0)  # the confirming looks at the next steps
    seen = []
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1024, 128)), rng.integers(0, 3, 1024)
    fit(hg.MLP([128, 256, 3], seed=0), X, y, epochs=2, batch_size=256,  # 256·128·256 ≥ SMALL_GEMM
        callbacks=[lambda rec, net: seen.append(max(blas()))])
    assert seen == [default, default]  # looked again at the first step, and went back up
    assert max(blas()) == default
    first = []
    monkeypatch.setattr(threads, "RECHECK", 1e9)
    monkeypatch.setattr(threads, "others_running", lambda: cores - 1)
    fit(hg.MLP([128, 256, 3], seed=0), X, y, epochs=1, batch_size=256,
        callbacks=[lambda rec, net: first.append(max(blas()))])
    assert first == [1] and max(blas()) == default
    # the confirming looks wait for later steps, not in a sleep: training starts at once
    slept = []
    monkeypatch.setattr(threads.time, "sleep", lambda s: slept.append(s))
    # a runnable thread seen once, gone at the next look (a kernel thread passing by): the
    # core is given up at once (beside a busy process the first steps must not wait) and taken
    # back at the next step's look
    glimpse = iter([cores - 1] + [0] * 10_000)
    during = []  # the BLAS threads at each look: those the steps before it ran on

    def look():
        during.append(max(blas()))
        return next(glimpse)

    monkeypatch.setattr(threads, "others_running", look)
    kept = []
    fit(hg.MLP([128, 256, 3], seed=0), X, y, epochs=1, batch_size=256,
        callbacks=[lambda rec, net: kept.append(max(blas()))])
    assert during[:2] == [default, 1]  # the first step ran on one thread
    assert kept == [default] and not slept


def test_a_spinning_process_is_seen_running():
    import subprocess
    import sys
    import time

    from handgrad.fast.threads import others_running

    if others_running() is None:
        pytest.skip("no /proc/loadavg here")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert max(others_running() for _ in range(20)) >= 1
    finally:
        spinner.kill()
        spinner.wait()


def test_dead_relu_fraction_counts_units_silent_on_every_training_row(problem):
    X, y = problem
    net = hg.MLP([3, 10, 8, 3], activation=["relu", "leaky_relu"], seed=0)
    net.biases[0][:4] = -1e3   # 4 of 10 first-layer units can never fire on this data
    net.biases[1][:2] = -1e3   # 2 of 8 leaky units stay on the α side
    h = fit(net, X, y, epochs=2, lr=1e-4)
    assert h.epochs[-1]["diagnostics"]["dead_fraction"] == [pytest.approx(0.4), pytest.approx(0.25)]
    h2 = fit(hg.MLP([3, 10, 3], activation="tanh", seed=0), X, y, epochs=1)
    assert h2.epochs[0]["diagnostics"]["dead_fraction"] == [None]


def test_dead_units_seen_active_only_late_in_the_epoch_and_layers_done_early():
    """DeadUnits skips a layer once all its units were active this epoch (looked at every 8th
    step), and still catches a unit that fires only at the epoch's last step; it starts over
    each epoch."""
    from types import SimpleNamespace

    from handgrad.training.diagnostics import DeadUnits

    net = hg.MLP([3, 4, 5, 2], seed=0)
    dead = DeadUnits(net)
    m = 6
    ones = np.ones(m, np.float32)
    D0 = np.ones((m, 4), np.float32)                       # layer 1: every unit fires at once
    D1 = np.zeros((m, 5), np.float32)
    D1[:, :3] = 1                                          # layer 2: units 4 and 5 silent ...
    late = D1.copy()
    late[2, 3] = 1                                         # ... until unit 4 fires at the end
    ws = SimpleNamespace(D=[D0, D1], ones=ones)
    class Unread:
        def __getitem__(self, key):
            raise AssertionError("a finished layer's f'(Z) was read")

    for step in range(20):
        if step == 19:
            ws.D = [Unread(), late]
        dead.update(ws, m)
    assert [l for l, _ in dead.pending] == [1]
    assert dead.fractions() == [0.0, pytest.approx(0.2)]
    dead.reset()
    assert dead.fractions() == [None, None] and len(dead.pending) == 2


# ---- issue 13: fit's arguments through handgrad.validation ---------------------------------

def _problem():
    X = np.random.default_rng(0).normal(size=(20, 3))
    return X, np.arange(20) % 2


def test_all_zero_sample_weights_are_refused_instead_of_training_at_loss_zero():
    X, y = _problem()
    with pytest.raises(hg.InputError, match="zero for every sample"):
        fit(hg.MLP([3, 4, 2]), X, y, sample_weight=np.zeros(20), epochs=1)
    with pytest.raises(hg.InputError, match="sample_weight × class_weight is zero for every sample"):
        fit(hg.MLP([3, 4, 2]), X, y, class_weight={0: 0, 1: 0}, epochs=1)


@pytest.mark.parametrize("weights, fragment", [
    (np.r_[np.ones(19), -1.0], "sample_weight[19] (the weight of row 20) is -1.0"),
    (np.r_[np.nan, np.ones(19)], "sample_weight[0] (the weight of row 1) is nan"),
    (["w"] * 20, "must be numbers")])
def test_bad_sample_weights_name_the_entry(weights, fragment):
    X, y = _problem()
    with pytest.raises(hg.InputError, match="sample_weight") as info:
        fit(hg.MLP([3, 4, 2]), X, y, sample_weight=weights, epochs=1)
    assert fragment in str(info.value)


@pytest.mark.parametrize("kw, fragment", [
    ({"lr": float("nan")}, "learning rate must be a finite number > 0"),
    ({"seed": -1}, "seed must be a whole number from 0"),
    ({"batch_size": float("inf")}, "batch_size must be a whole number ≥ 1"),
    ({"epochs": True}, "epochs must be a whole number ≥ 1"),
    ({"min_delta": float("nan")}, "min_delta must be a finite number ≥ 0"),
    ({"callbacks": 5}, "callbacks must be")])
def test_bad_arguments_are_named_before_training(kw, fragment):
    X, y = _problem()
    with pytest.raises(hg.InputError) as info:
        fit(hg.MLP([3, 4, 2]), X, y, **{"epochs": 1, **kw})
    assert fragment in str(info.value)


def test_fit_estimates_optimizer_state_and_batch_memory_before_allocating(monkeypatch):
    from handgrad import memory_plan

    X, y = _problem()
    net = hg.MLP([3, 4, 2], dtype="float64")  # 26 parameters, 9 units
    # held already: the weights and their gradient (2 × 26); to come: Adam's m, v and two
    # scratch buffers, the epoch-start copy and the diagnostics' two (7 × 26); a batch of 20
    # rows: 4 buffers × 20 × 9 units; 8 bytes each
    held, need = 8 * 2 * 26, 8 * (9 * 26 + 4 * 20 * 9)
    monkeypatch.setattr(memory_plan, "available_memory", lambda: need - held - 1)
    with pytest.raises(hg.InputError, match="activations of 20 rows"):
        fit(net, X, y, epochs=1, batch_size=20)
    monkeypatch.setattr(memory_plan, "available_memory", lambda: need - held)
    assert len(fit(net, X, y, epochs=1, batch_size=20).epochs) == 1
