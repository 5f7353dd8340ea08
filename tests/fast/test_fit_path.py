"""The training loop on the fast path: fit equals the same epochs written out over the
reference backprop, and no training step allocates arrays that grow with the data."""

import tracemalloc

import numpy as np
import pytest

import handgrad as hg
from handgrad.training.optim import SGD, Adam


@pytest.mark.parametrize("optimizer", [lambda: SGD(lr=0.05), lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
                                       lambda: Adam(lr=0.01, weight_decay=0.01)])
def test_fit_equals_a_plain_loop_over_the_reference_path(optimizer):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(103, 6)).astype(np.float32)
    y = rng.integers(0, 3, 103)
    a = hg.MLP([6, 10, 3], activation="relu", l2=1e-3, seed=0)
    b = a.copy()
    hg.fit(a, X, y, epochs=3, batch_size=16, optimizer=optimizer(), seed=7, diagnostics=False)
    # the same epochs written out over the reference backprop: same shuffles, same batches
    opt = optimizer()
    opt.init(b.n_params, b.dtype, weight_ranges=b.layout.weight_ranges)
    order_rng = np.random.default_rng(7)
    for _ in range(3):
        order = order_rng.permutation(103)
        for s in range(0, 103, 16):
            rows = order[s:s + 16]
            b.backprop(X[rows], y[rows])
            opt.step(b.flat, b.flat_grad)
    # float32: the two paths round differently (fused loss, BLAS β-folds), nothing more
    np.testing.assert_allclose(a.flat, b.flat, rtol=1e-5, atol=1e-6)


def _epoch_peak(n: int, shuffle: bool) -> int:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 200)).astype(np.float32)
    y = rng.integers(0, 10, n)
    net = hg.MLP([200, 64, 10], seed=0)
    hg.fit(net, X, y, epochs=1, batch_size=64, shuffle=shuffle, diagnostics=False)  # warm-up
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    hg.fit(net, X, y, epochs=1, batch_size=64, shuffle=shuffle, diagnostics=False)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("shuffle", [False, True])
def test_no_step_allocates_in_proportion_to_the_data(shuffle):
    small, large = _epoch_peak(2_000, shuffle), _epoch_peak(16_000, shuffle)
    row_bytes = 200 * 4
    # 14,000 more rows: anything proportional to X (even one copy) would add 11 MB; what may
    # grow is the per-epoch shuffle order (8 bytes a row) and the validation of X (1 byte
    # per entry, done once per fit, not per step)
    growth = large - small
    assert growth < 14_000 * (8 + 200 + 16), (small, large)
    assert growth < 14_000 * row_bytes * 0.3


def test_per_step_memory_does_not_grow_during_an_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4_000, 50)).astype(np.float32)
    y = rng.integers(0, 5, 4_000)
    net = hg.MLP([50, 32, 5], seed=0)
    readings = []

    class Probe(hg.training.history.Callback):
        def on_batch_end(self, epoch, batch, n_batches, loss):
            readings.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    hg.fit(net, X, y, epochs=2, batch_size=32, callbacks=[Probe()], diagnostics=False)
    tracemalloc.stop()
    steady = readings[10:]
    assert max(steady) - min(steady) < 64 * 1024  # a few small temporaries at most


def _counting(monkeypatch):
    """Count the fast training steps taken (fast.step.loss_and_grads is their one door)."""
    from handgrad.fast import step

    calls = []
    real = step.loss_and_grads

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(step, "loss_and_grads", counted)
    return calls


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_and_the_estimators_run_the_fast_path(monkeypatch, optimizer):
    """fit and handgrad.sklearn train through fast.step, and with the size threshold at 0 every
    product and update of it goes through BLAS (a fall-back to the reference or to numpy would
    leave these counts unchanged)."""
    from handgrad.fast import blas
    from handgrad.sklearn import MLPClassifier

    assert blas._FUNCS, blas.SOURCE
    monkeypatch.setattr(blas, "SMALL", 0)
    calls = _counting(monkeypatch)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    before = blas.CALLS.copy()
    hg.fit(hg.MLP([6, 8, 3], l2=1e-3), X, y, epochs=2, batch_size=32, optimizer=optimizer,
           momentum=0.0, diagnostics=False)
    assert len(calls) == 2 * 4
    expected = {"gemm"} if optimizer == "sgd" else {"gemm", "axpy", "scal"}
    assert all(blas.CALLS[k] > before[k] for k in expected), (before, blas.CALLS)
    calls.clear()
    MLPClassifier(hidden_layer_sizes=(8,), solver=optimizer, momentum=0.0, max_iter=2,
                  batch_size=32, random_state=0).fit(X, y)
    assert len(calls) == 2 * 4


def _subnormals(*arrays) -> int:
    return sum(int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny))) for a in arrays)


@pytest.mark.parametrize("optimizer, l2, epochs", [("sgd", 0.5, 1), ("adam", 1e-6, 10)])
def test_no_subnormals_linger_after_a_long_run_with_l2_and_dead_units(monkeypatch, optimizer, l2, epochs):
    """Weights of ReLU units that never fire shrink by (1 − 2λη) a step under L2 and become
    subnormal (slow in the products on many CPUs); Adam's moments of their vanishing gradients
    too (here the first moments of the dead units' bias gradients, exactly 0, decaying by β₁
    a step). The loop flushes them to 0: without the flush this very run leaves subnormals."""
    from handgrad.training import steps

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64 * 140, 4)).astype(np.float32)
    y = rng.integers(0, 3, len(X))

    def run(flush_every):
        monkeypatch.setattr(steps, "FLUSH_EVERY", flush_every)
        net = hg.MLP([4, 16, 3], l2=l2, seed=0)
        net.biases[0][:8] = -1e3  # half the hidden units can never fire
        opt = SGD(lr=0.5) if optimizer == "sgd" else Adam(lr=0.01)
        hg.fit(net, X, y, epochs=epochs, batch_size=64, optimizer=opt, shuffle=False, diagnostics=False)
        return _subnormals(net.flat, *opt.state_buffers())

    assert run(0) > 0      # the cause is there ...
    assert run(32) == 0    # ... and the flush removes it
