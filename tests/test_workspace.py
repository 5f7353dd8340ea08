"""The training hot path: preallocated workspaces give the straightforward path's results,
bit for bit, and no training step allocates arrays that grow with the data."""

import tracemalloc

import numpy as np
import pytest

import handgrad as hg
from handgrad.optim import SGD, Adam
from handgrad.workspace import Workspace

from conftest import ACTIVATIONS


def _custom():
    if "softsign_ws" not in hg.available_activations():
        hg.register_activation("softsign_ws", lambda z: z / (1 + np.abs(z)),
                               lambda z: 1 / (1 + np.abs(z)) ** 2)
    return "softsign_ws"


@pytest.mark.parametrize("activation", ACTIVATIONS + ["leaky_relu(alpha=0.2)", "custom"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_workspace_step_is_bit_identical(activation, dtype):
    act = _custom() if activation == "custom" else activation
    rng = np.random.default_rng(0)
    net = hg.MLP([7, 9, 8, 4], activation=act, l2=0.01, dtype=dtype, seed=1)
    ws = Workspace(net, 16)
    for m, soft, weighted in [(16, False, False), (11, True, True), (5, False, True)]:
        X = rng.normal(size=(m, 7)).astype(dtype)
        y = rng.dirichlet(np.ones(4), size=m).astype(dtype) if soft else rng.integers(0, 4, m)
        w = rng.uniform(0.5, 2, m).astype(dtype) if weighted else None
        ref_loss, _ = net._loss_and_grads(X, y, w)
        ref = net.flat_grad.copy()
        ref_logits = net.last_logits.copy()
        loss, _ = net._loss_and_grads(X, y, w, ws=ws)
        assert loss == ref_loss
        assert np.array_equal(net.flat_grad, ref)
        assert np.array_equal(net.last_logits, ref_logits)


@pytest.mark.parametrize("optimizer", [lambda: SGD(lr=0.05), lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
                                       lambda: Adam(lr=0.01, weight_decay=0.01)])
def test_fit_equals_a_plain_loop_over_the_reference_path(optimizer):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(103, 6)).astype(np.float32)
    y = rng.integers(0, 3, 103)
    a = hg.MLP([6, 10, 3], activation="relu", l2=1e-3, seed=0)
    b = a.copy()
    hg.fit(a, X, y, epochs=3, batch_size=16, optimizer=optimizer(), seed=7, diagnostics=False)
    # the same epochs written out with the allocating path: same shuffles, same batches
    opt = optimizer()
    opt.init(b.n_params, b.dtype, decay_mask=b.weight_mask)
    order_rng = np.random.default_rng(7)
    for _ in range(3):
        order = order_rng.permutation(103)
        for s in range(0, 103, 16):
            rows = order[s:s + 16]
            b._loss_and_grads(X[rows], y[rows], None)
            opt.step(b.flat, b.flat_grad)
    if getattr(opt, "fuses_into_backward", False):
        # plain SGD runs fused into the backward products: equal up to BLAS rounding
        np.testing.assert_allclose(a.flat, b.flat, rtol=1e-5, atol=1e-6)
    else:
        assert np.array_equal(a.flat, b.flat)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-6)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "custom"])
def test_fused_sgd_step_equals_gradient_then_update(dtype, rtol, activation):
    act = _custom() if activation == "custom" else activation
    rng = np.random.default_rng(5)
    a = hg.MLP([6, 12, 7, 3], activation=act, l2=0.02, dtype=dtype, seed=2)
    b, start = a.copy(), a.flat.copy()
    X = rng.normal(size=(20, 6)).astype(dtype)
    y = rng.dirichlet(np.ones(3), size=20).astype(dtype)
    ws = Workspace(a, 32)
    loss_fused, _ = a._loss_and_grads(X, y, None, ws=ws, sgd_lr=0.1)
    loss, _ = b._loss_and_grads(X, y, None)
    b.flat -= 0.1 * b.flat_grad
    assert loss_fused == loss
    np.testing.assert_allclose(a.flat, b.flat, rtol=rtol, atol=rtol * 1e-2)
    assert np.abs(a.flat - start).max() > 1e-3  # the step did move the parameters


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

    class Probe(hg.train.Callback):
        def on_batch_end(self, epoch, batch, n_batches, loss):
            readings.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    hg.fit(net, X, y, epochs=2, batch_size=32, callbacks=[Probe()], diagnostics=False)
    tracemalloc.stop()
    steady = readings[10:]
    assert max(steady) - min(steady) < 64 * 1024  # a few small temporaries at most
