"""fit_many: every network trained together equals the same network trained alone by fit.

Float64, relative to the largest weight: ≤ 1e-12 (measured ≤ ~3e-15); the histories agree
epoch by epoch (losses to 1e-12, best epoch and stop reason exactly). The cases cross every
switch of the stacked path: models that stop at different epochs (the stack shrinks), folds of
different sizes (padded batches, models without a last batch), a model whose batch is smaller
than the stack's (n < batch_size), sample and class weights, shared and per-model validation
sets, each optimizer, schedule and activation family, and a model that diverges — for softmax
classifiers and for the regression heads (identity, exp, huber).
"""

import numpy as np
import pytest

import handgrad as hg
from handgrad.errors import InputError
from handgrad.training.many import fit_many

RTOL = 1e-12


def _data(n=300, d=7, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int) + (X[:, 2] > 0.8)
    return X, np.minimum(y, k - 1)


def _nets(configs, sizes=(7, 16, 8, 3), activation="relu", dtype="float64"):
    return [hg.MLP(list(sizes), activation=activation, l2=c.get("l2", 0.0), seed=c["seed"], dtype=dtype)
            for c in configs]


def _assert_same(together, alone, h_together, h_alone, rtol=RTOL):
    for k, (a, b, ha, hb) in enumerate(zip(together, alone, h_together, h_alone)):
        scale = np.abs(b.flat).max()
        err = np.abs(a.flat - b.flat).max() / scale
        assert err <= rtol, f"model {k}: weights differ by {err:.2e} relative"
        assert len(ha) == len(hb) and ha.best_epoch == hb.best_epoch, (k, len(ha), len(hb))
        assert ha.stop_reason == hb.stop_reason and ha.monitor == hb.monitor
        for key in ("train_loss", "train_l2_loss", "train_accuracy", "val_loss", "val_accuracy",
                    "val_balanced_accuracy", "lr"):
            for e, (u, v) in enumerate(zip(ha[key], hb[key])):
                if v is None:
                    assert u is None
                else:
                    assert abs(u - v) <= RTOL * max(1.0, abs(v)), (k, key, e, u, v)


CONFIGS = [dict(seed=0, l2=1e-3, lr=1e-2), dict(seed=1, l2=0.0, lr=3e-3),
           dict(seed=2, l2=1e-2, lr=2e-2), dict(seed=3, l2=1e-4, lr=5e-3)]


@pytest.mark.parametrize("optimizer,activation", [
    ("adam", "relu"), ("adamw", "tanh"), ("sgd", "sigmoid"), ("nesterov", "leaky_relu"),
    ("sgd-plain", "relu")])
def test_each_model_equals_fit_alone(optimizer, activation):
    X, y = _data()
    opt = {"sgd-plain": "sgd"}.get(optimizer, optimizer)
    extra = {"momentum": 0.0} if optimizer == "sgd-plain" else {}
    kw = dict(epochs=30, batch_size=32, optimizer=opt, validation_fraction=0.25, patience=4, **extra)
    together, alone = _nets(CONFIGS, activation=activation), _nets(CONFIGS, activation=activation)
    hs = fit_many(together, X, y, lr=[c["lr"] for c in CONFIGS], seed=[c["seed"] for c in CONFIGS], **kw)
    ha = [hg.fit(n, X, y, lr=c["lr"], seed=c["seed"], diagnostics=False, **kw)
          for n, c in zip(alone, CONFIGS)]
    _assert_same(together, alone, hs, ha)


def test_models_stopping_at_different_epochs_leave_the_stack():
    X, y = _data(400)
    kw = dict(epochs=60, batch_size=16, validation_fraction=0.3, patience=3, schedule="plateau")
    configs = [dict(seed=s, l2=1e-3, lr=lr) for s, lr in enumerate([3e-2, 1e-3, 1e-2, 3e-4, 5e-2])]
    together, alone = _nets(configs), _nets(configs)
    hs = fit_many(together, X, y, lr=[c["lr"] for c in configs], seed=[c["seed"] for c in configs], **kw)
    ha = [hg.fit(n, X, y, lr=c["lr"], seed=c["seed"], diagnostics=False, **kw) for n, c in zip(alone, configs)]
    assert len({len(h) for h in ha}) >= 3  # the stack shrank at least twice
    _assert_same(together, alone, hs, ha)


def test_folds_of_different_sizes_with_weights_and_their_own_validation_sets():
    """Per-model data: rows that do not divide into the batch, a model with fewer batches
    than the others, one whose whole data is smaller than a batch, sample and class weights."""
    X, y = _data(500)
    rng = np.random.default_rng(5)
    w = rng.uniform(0.2, 3.0, size=X.shape[0])
    cuts = [(0, 333), (40, 360), (100, 420), (200, 221), (250, 500)]  # 333, 320, 320, 21, 250 rows
    Xs = [X[a:b] for a, b in cuts]
    ys = [y[a:b] for a, b in cuts]
    ws = [w[a:b] for a, b in cuts]
    Xv = [X[(b + 7) % 500:(b + 7) % 500 + 40 + i] for i, (a, b) in enumerate(cuts)]
    yv = [y[(b + 7) % 500:(b + 7) % 500 + 40 + i] for i, (a, b) in enumerate(cuts)]
    configs = [dict(seed=s, l2=1e-3 * s) for s in range(len(cuts))]
    kw = dict(epochs=25, batch_size=32, lr=1e-2, patience=5, class_weight="balanced",
              monitor="val_balanced_accuracy")
    together, alone = _nets(configs), _nets(configs)
    hs = fit_many(together, Xs, ys, X_val=Xv, y_val=yv, sample_weight=ws, seed=3, **kw)
    ha = [hg.fit(n, a, b, X_val=c, y_val=d, sample_weight=e, seed=3, diagnostics=False, **kw)
          for n, a, b, c, d, e in zip(alone, Xs, ys, Xv, yv, ws)]
    _assert_same(together, alone, hs, ha)


def test_shared_validation_set_and_shared_sample_weights():
    X, y = _data(360)
    Xv, yv = _data(80, seed=9)
    w = np.linspace(0.5, 2.0, X.shape[0])
    kw = dict(epochs=12, batch_size=50, lr=1e-2, optimizer="adam", patience=None, sample_weight=w,
              X_val=Xv, y_val=yv, schedule="cosine")
    together, alone = _nets(CONFIGS), _nets(CONFIGS)
    hs = fit_many(together, X, y, seed=[c["seed"] for c in CONFIGS], **kw)
    ha = [hg.fit(n, X, y, seed=c["seed"], diagnostics=False, **kw) for n, c in zip(alone, CONFIGS)]
    _assert_same(together, alone, hs, ha)


def test_float32_models_agree_with_fit_to_float32_rounding():
    X, y = _data()
    kw = dict(epochs=10, batch_size=32, validation_fraction=0.2, patience=None)
    together, alone = _nets(CONFIGS, dtype="float32"), _nets(CONFIGS, dtype="float32")
    fit_many(together, X, y, lr=[c["lr"] for c in CONFIGS], seed=0, **kw)
    for n, c in zip(alone, CONFIGS):
        hg.fit(n, X, y, lr=c["lr"], seed=0, diagnostics=False, **kw)
    for a, b in zip(together, alone):
        assert np.abs(a.flat - b.flat).max() / np.abs(b.flat).max() < 1e-4


def test_a_diverging_model_stops_alone_with_its_last_good_weights():
    X, y = _data()
    X = X * 1e6  # unscaled inputs and a huge learning rate blow one model up
    configs = [dict(seed=0, lr=1e-9), dict(seed=1, lr=1e30), dict(seed=2, lr=1e-9)]
    kw = dict(epochs=5, batch_size=32, optimizer="sgd", momentum=0.0)
    together, alone = _nets(configs), _nets(configs)
    hs = fit_many(together, X, y, lr=[c["lr"] for c in configs], seed=0, **kw)
    assert hs[1].stop_reason.startswith("diverged in epoch") and hs[1].diverged_in == 1
    assert hs[1].to_dict()["diverged_in"] == 1
    assert np.all(np.isfinite(together[1].flat))
    with pytest.raises(hg.TrainingDivergedError):
        hg.fit(alone[1], X, y, lr=1e30, seed=0, diagnostics=False, **kw)
    assert np.array_equal(together[1].flat, alone[1].flat)  # both kept the same epoch's start
    ha = [hg.fit(alone[k], X, y, lr=1e-9, seed=0, diagnostics=False, **kw) for k in (0, 2)]
    _assert_same([together[0], together[2]], [alone[0], alone[2]], [hs[0], hs[2]], ha)


def _regression(output, n=300, k=2, seed=0):
    """Real targets (n, k) — or (n,) for k = 1 — with outliers, or counts for the exp head."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 7))
    if output == "exp":
        Y = rng.poisson(np.exp(0.4 * np.tanh(X[:, :k]) + 0.2 * X[:, 1:2])).astype(float)
    else:
        Y = np.stack([X[:, 0] + 0.5 * X[:, 1] ** 2, np.sin(X[:, 2]), X[:, 3]], 1)[:, :k]
        Y = Y + 0.1 * rng.normal(size=Y.shape)
        Y[::13] += 6.0
    return X, (Y[:, 0] if k == 1 else Y)


def _reg_nets(configs, output, k, delta=0.7, activation="tanh", dtype="float64"):
    return [hg.MLP([7, 16, 8, k], activation=activation, l2=c.get("l2", 0.0), seed=c["seed"],
                   dtype=dtype, output=output, huber_delta=delta) for c in configs]


@pytest.mark.parametrize("output,k", [("identity", 2), ("exp", 2), ("huber", 3), ("huber", 1)])
def test_regression_heads_equal_fit_alone_with_early_stopping(output, k):
    X, y = _regression(output, k=k)
    kw = dict(epochs=30, batch_size=32, validation_fraction=0.25, patience=3)
    lrs = [1e-2, 3e-3, 2e-2, 5e-3]
    together, alone = _reg_nets(CONFIGS, output, k), _reg_nets(CONFIGS, output, k)
    hs = fit_many(together, X, y, lr=lrs, seed=[c["seed"] for c in CONFIGS], **kw)
    ha = [hg.fit(n, X, y, lr=lr, seed=c["seed"], diagnostics=False, **kw)
          for n, lr, c in zip(alone, lrs, CONFIGS)]
    assert len({len(h) for h in ha}) > 1  # early stopping took models out of the stack
    assert all(h["train_accuracy"] == [None] * len(h) for h in hs)
    _assert_same(together, alone, hs, ha)


@pytest.mark.parametrize("output", ["identity", "exp", "huber"])
def test_regression_folds_of_different_sizes_with_weights(output):
    """Per-model rows, targets, validation sets and sample weights, one model smaller than a
    batch: padded steps, each model dividing by its own rows."""
    X, y = _regression(output, n=500, k=2, seed=3)
    w = np.random.default_rng(5).uniform(0.2, 3.0, size=X.shape[0])
    cuts = [(0, 333), (40, 360), (200, 221), (250, 500)]
    Xs, ys, ws = ([a[lo:hi] for lo, hi in cuts] for a in (X, y, w))
    Xv = [X[(hi + 7) % 500:(hi + 7) % 500 + 40 + i] for i, (lo, hi) in enumerate(cuts)]
    yv = [y[(hi + 7) % 500:(hi + 7) % 500 + 40 + i] for i, (lo, hi) in enumerate(cuts)]
    configs = [dict(seed=s, l2=1e-3 * s) for s in range(len(cuts))]
    kw = dict(epochs=15, batch_size=32, lr=1e-2, patience=4)
    together, alone = _reg_nets(configs, output, 2), _reg_nets(configs, output, 2)
    hs = fit_many(together, Xs, ys, X_val=Xv, y_val=yv, sample_weight=ws, seed=3, **kw)
    ha = [hg.fit(n, a, b, X_val=c, y_val=d, sample_weight=e, seed=3, diagnostics=False, **kw)
          for n, a, b, c, d, e in zip(alone, Xs, ys, Xv, yv, ws)]
    _assert_same(together, alone, hs, ha)


def test_a_diverging_exp_model_stops_alone():
    """e^Z overflows for one model (a huge learning rate): it stops with its last good weights
    as fit stops it, the others train on and equal fit."""
    X, y = _regression("exp", k=1)
    configs = [dict(seed=0), dict(seed=1), dict(seed=2)]
    lrs = [1e-3, 1e4, 1e-3]
    kw = dict(epochs=4, batch_size=32, optimizer="sgd", momentum=0.0)
    together, alone = _reg_nets(configs, "exp", 1), _reg_nets(configs, "exp", 1)
    hs = fit_many(together, X, y, lr=lrs, seed=0, **kw)
    assert hs[1].diverged_in is not None and hs[1].stop_reason.startswith("diverged in epoch")
    with pytest.raises(hg.TrainingDivergedError) as err:
        hg.fit(alone[1], X, y, lr=lrs[1], seed=0, diagnostics=False, **kw)
    assert err.value.epoch == hs[1].diverged_in and len(hs[1]) == hs[1].diverged_in - 1
    assert np.all(np.isfinite(together[1].flat)) and np.array_equal(together[1].flat, alone[1].flat)
    ha = [hg.fit(alone[k], X, y, lr=lrs[k], seed=0, diagnostics=False, **kw) for k in (0, 2)]
    _assert_same([together[0], together[2]], [alone[0], alone[2]], [hs[0], hs[2]], ha)


@pytest.mark.parametrize("output", ["identity", "exp", "huber"])
def test_stacked_regression_step_equals_each_network_alone(output):
    """Stack.step on K models with their own batch sizes (padded to the widest) and weights:
    each model's loss and gradient is fast.step's for that model alone; a padding row on which
    e^Z overflows changes nothing (it weighs 0)."""
    from handgrad.fast.stacked import Stack

    rng = np.random.default_rng(8)
    nets = _reg_nets([dict(seed=s, l2=1e-2 * s) for s in range(3)], output, 2, delta=0.5,
                     activation="relu")
    rows, M = np.array([7, 4, 1]), 7
    X = rng.normal(size=(3, M, 7))
    Y = np.abs(rng.normal(size=(3, M, 2))) * 2
    w = rng.uniform(0.5, 2, size=(3, M)) * (np.arange(M)[None, :] < rows[:, None])
    stack = Stack(nets, M)
    for _ in range(50):  # padding of model 2 on which its e^Z is inf, for the exp head
        X[2, 3] = rng.normal(size=7) * 1e4
        if stack.logits(X)[2, 3].max() > 800:
            break
    else:
        raise AssertionError("no padding row with e^Z = inf")
    with np.errstate(over="ignore", invalid="ignore"):
        data, l2, hits = stack.step(X, Y, w, rows)
    assert hits is None and np.all(np.isfinite(stack.grad))
    for k, net in enumerate(nets):
        r = rows[k]
        alone = net.train_step(X[k, :r], Y[k, :r], w[k, :r], net.workspace(M))
        assert data[k] == pytest.approx(alone.data_loss, rel=1e-12) and l2[k] == pytest.approx(alone.l2_loss, rel=1e-12)
        assert np.abs(stack.grad[k] - net.flat_grad).max() <= 1e-12 * np.abs(net.flat_grad).max()


def test_regression_networks_are_grouped_by_head_and_delta():
    X, y = _regression("huber", k=1)
    mixed = [hg.MLP([7, 8, 1], output="huber", huber_delta=d) for d in (1.0, 2.0)]
    with pytest.raises(InputError, match="one shape.*delta=2.*delta=1") as err:
        fit_many(mixed, X, y)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="one shape"):
        fit_many([hg.MLP([7, 8, 1], output="identity"), hg.MLP([7, 8, 1], output="huber")], X, y)
    with pytest.raises(InputError, match="one target array per network"):
        fit_many([hg.MLP([7, 8, 1], output="huber")] * 2, [X, X], y)


@pytest.mark.parametrize("call,message", [
    (lambda X, y: fit_many([hg.MLP([7, 8, 3]), hg.MLP([7, 9, 3])], X, y), "one shape"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3], output="logistic")], X, np.eye(3)[y]), "softmax"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3])] * 2, X, y, lr=[1e-3]), "lr has 1 entries for 2"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3])], X, np.eye(3)[y]), "integer class labels"),
    (lambda X, y: fit_many([], X, y), "at least one"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3])] * 2, [X, X], y), "y as one label array per network"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3])], X, y, monitor="val_accuracy"), "needs a validation set"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3]), hg.MLP([7, 8, 3], output="logistic")], X, y), "logistic"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3])] * 2, X, y, seed=np.random.default_rng(0)), "integer seeds"),
    (lambda X, y: fit_many([hg.MLP([7, 8, 3])], X, y, optimizer=hg.training.optim.Adam()), "optimizer by name"),
])
def test_bad_arguments_are_refused_in_one_line(call, message):
    X, y = _data()
    with pytest.raises(InputError, match=message) as err:
        call(X, y)
    assert "\n" not in str(err.value)


def test_shared_data_is_converted_once_and_per_network_weights_work_with_it():
    """A float64 X for float32 networks is converted once (the members share it), and
    sample_weight may be one array per network while X is shared."""
    from handgrad.training.many_args import prepare_members

    X, y = _data()
    rng = np.random.default_rng(3)
    ws = [rng.uniform(0.5, 2, X.shape[0]) for _ in CONFIGS]
    nets = _nets(CONFIGS, dtype="float32")
    members, _, _ = prepare_members(
        nets, X, y, X_val=None, y_val=None, validation_fraction=0.0, sample_weight=ws,
        class_weight=None, epochs=3, batch_size=32, optimizer="adam", lr=1e-2, schedule="constant",
        momentum=0.9, nesterov=False, weight_decay=0.0, patience=None, min_delta=0.0,
        restore_best=True, seed=0, monitor=None)
    assert all(m.X is members[0].X for m in members) and members[0].X.dtype == np.float32
    kw = dict(epochs=3, batch_size=32, lr=1e-2, seed=0)
    together, alone = _nets(CONFIGS), _nets(CONFIGS)
    hs = fit_many(together, X, y, sample_weight=ws, **kw)
    ha = [hg.fit(n, X, y, sample_weight=w, diagnostics=False, **kw) for n, w in zip(alone, ws)]
    _assert_same(together, alone, hs, ha)


def _same_history(ha, hb, exact):
    for a, b in zip(ha.epochs, hb.epochs):
        a, b = {k: v for k, v in a.items() if k != "time"}, {k: v for k, v in b.items() if k != "time"}
        if exact:
            assert a == b
        else:
            assert a.keys() == b.keys() and all(
                (a[k] is None and b[k] is None) or abs(a[k] - b[k]) <= RTOL * max(1.0, abs(b[k])) for k in a)
    assert len(ha) == len(hb) and ha.best_epoch == hb.best_epoch and ha.stop_reason == hb.stop_reason


@pytest.mark.parametrize("output", ["softmax", "huber"])
def test_split_over_worker_processes_gives_the_same_bits(output):
    """workers=2 trains every other model in a forked process: with every model's batch full
    (n ≥ batch_size), each model's arithmetic does not depend on its stack-mates, so the
    results are bit-identical."""
    X, y = _data(320) if output == "softmax" else _regression(output, n=320)
    configs = [dict(seed=s, l2=1e-3 * (s % 3)) for s in range(5)]
    kw = dict(epochs=40, batch_size=32, validation_fraction=0.25, patience=2,
              lr=[5e-2, 3e-3, 2e-2, 1e-1, 1e-3], seed=[0, 1, 2, 3, 4])
    make = _nets if output == "softmax" else lambda c: _reg_nets(c, output, 2)
    one, two = make(configs), make(configs)
    h1 = fit_many(one, X, y, workers=1, **kw)
    h2 = fit_many(two, X, y, workers=2, **kw)
    assert len({len(h) for h in h1}) > 1  # they stopped at different epochs
    for a, b, ha, hb in zip(one, two, h1, h2):
        assert np.array_equal(a.flat, b.flat)
        _same_history(ha, hb, exact=True)


def test_split_of_models_with_fewer_rows_than_a_batch_agrees_to_rounding():
    """Models of 20 and 21 rows (batch 32): the stack pads each step to its widest batch, so a
    split changes the padding; each model still divides by its own rows."""
    X, y = _data(400)
    cuts = [(0, 20), (20, 41), (41, 200), (200, 390)]
    Xs, ys = [X[a:b] for a, b in cuts], [y[a:b] for a, b in cuts]
    configs = [dict(seed=s, l2=1e-3) for s in range(4)]
    kw = dict(epochs=8, batch_size=32, lr=1e-2, seed=0)
    one, two, alone = _nets(configs), _nets(configs), _nets(configs)
    h1 = fit_many(one, Xs, ys, workers=1, **kw)
    h2 = fit_many(two, Xs, ys, workers=2, **kw)
    ha = [hg.fit(n, a, b, diagnostics=False, **kw) for n, a, b in zip(alone, Xs, ys)]
    for a, b, c, x1, x2, x3 in zip(one, two, alone, h1, h2, ha):
        for u in (a, b):
            assert np.abs(u.flat - c.flat).max() <= RTOL * np.abs(c.flat).max()
        _same_history(x1, x3, exact=False)
        _same_history(x2, x3, exact=False)


def test_a_worker_that_dies_is_one_clear_error_and_leaves_no_process(monkeypatch):
    import os
    import signal

    from handgrad.training import many

    parent, real = os.getpid(), many._Group.run

    def run(self, *args):
        if os.getpid() != parent:  # the forked worker dies as if killed by the OOM killer
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *args)

    monkeypatch.setattr(many._Group, "run", run)
    X, y = _data()
    with pytest.raises(ChildProcessError, match="worker process training 2 of the models ended "
                                                "without a result") as err:
        fit_many(_nets(CONFIGS), X, y, epochs=2, workers=2)
    assert "\n" not in str(err.value)


def _fit_in_pool(_):
    X, y = _data()
    nets = _nets(CONFIGS)
    fit_many(nets, X, y, epochs=3, workers=2)
    return [n.flat for n in nets]


def test_inside_a_pool_worker_the_models_train_in_that_process():
    """A multiprocessing Pool's workers are daemons, which may not have children: workers
    falls back to 1 there instead of failing."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        pooled = pool.map(_fit_in_pool, [0])[0]
    X, y = _data()
    here = _nets(CONFIGS)
    fit_many(here, X, y, epochs=3, workers=1)
    for a, b in zip(pooled, here):
        assert np.array_equal(a, b.flat)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "many", True])
def test_workers_must_be_a_count_or_auto(workers):
    X, y = _data()
    with pytest.raises(InputError, match="workers must be"):
        fit_many([hg.MLP([7, 8, 3])] * 2, X, y, epochs=1, workers=workers)


def test_epochs_one_per_network_each_equals_fit_for_its_own_count():
    rng = np.random.default_rng(21)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    counts = [3, 7, 5]
    nets = [hg.MLP([4, 8, 2], dtype="float64", seed=s) for s in range(3)]
    alone = [hg.MLP([4, 8, 2], dtype="float64", seed=s) for s in range(3)]
    hs = hg.fit_many(nets, X, y, epochs=counts, batch_size=16, schedule="cosine", seed=[1, 2, 3])
    for net, ref, e, s, h in zip(nets, alone, counts, [1, 2, 3], hs):
        hr = hg.fit(ref, X, y, epochs=e, batch_size=16, schedule="cosine", seed=s, diagnostics=False)
        assert len(h.epochs) == e and h.stop_reason == f"completed {e} epochs"
        np.testing.assert_allclose(net.flat, ref.flat, rtol=1e-12, atol=1e-15)
        assert hr.stop_reason == h.stop_reason
