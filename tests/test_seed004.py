"""Seed 004's network X (n×3) → 10 → ReLU → 6 → ReLU → 3 → softmax, end to end.

The reference gradients here are computed independently of handgrad's backward pass: one
sample at a time, with explicit index sums as in seed 002's equations (8)–(13) extended to
two hidden layers (and with ReLU'(z) = 1{z > 0}), then averaged over the batch.
"""

import numpy as np
import pytest

import handgrad as hg
from handgrad.data import make_three_class
from handgrad.cli.demo import run_demo

from conftest import far_from_kinks


def per_sample_reference(params, x, y, lam):
    W1, b1, W2, b2, W3, b3 = params
    z1 = [sum(x[m] * W1[m, t] for m in range(3)) + b1[t] for t in range(10)]
    a1 = [max(v, 0.0) for v in z1]
    z2 = [sum(a1[t] * W2[t, u] for t in range(10)) + b2[u] for u in range(6)]
    a2 = [max(v, 0.0) for v in z2]
    s = [sum(a2[u] * W3[u, k] for u in range(6)) + b3[k] for k in range(3)]
    e = [np.exp(v - max(s)) for v in s]
    p = [v / sum(e) for v in e]
    loss = -np.log(p[y])
    d3 = [p[k] - (1.0 if k == y else 0.0) for k in range(3)]                          # eq. (7)
    gW3 = np.array([[d3[k] * a2[u] for k in range(3)] for u in range(6)])             # eq. (8)
    gb3 = np.array(d3)                                                                # eq. (9)
    d2 = [sum(d3[k] * W3[u, k] for k in range(3)) * (z2[u] > 0) for u in range(6)]    # eq. (10)-(11)
    gW2 = np.array([[d2[u] * a1[t] for u in range(6)] for t in range(10)])
    gb2 = np.array(d2)
    d1 = [sum(d2[u] * W2[t, u] for u in range(6)) * (z1[t] > 0) for t in range(10)]
    gW1 = np.array([[d1[t] * x[m] for t in range(10)] for m in range(3)])             # eq. (12)
    gb1 = np.array(d1)                                                                # eq. (13)
    return loss, [gW1, gb1, gW2, gb2, gW3, gb3]


def test_seed004_gradients_worked_out_independently():
    rng = np.random.default_rng(0)
    net = hg.MLP([3, 10, 6, 3], activation="relu", l2=0.01, dtype="float64", seed=0)
    for b in net.biases:
        b[...] = rng.normal(scale=0.1, size=b.shape)
    X, y = make_three_class(12, seed=1)
    assert far_from_kinks(net, X)
    params = [p.copy() for p in net.params]
    refs = [per_sample_reference(params, X[i], y[i], net.l2) for i in range(len(y))]
    ref_loss = np.mean([r[0] for r in refs]) + net.l2 * sum((W ** 2).sum() for W in params[0::2])
    ref_grads = [np.mean([r[1][j] for r in refs], axis=0) for j in range(6)]
    for j in (0, 2, 4):                      # + 2λW on weights only (seed 002 eq. 8, 12)
        ref_grads[j] = ref_grads[j] + 2 * net.l2 * params[j]

    loss, grads = net.loss_and_grads(X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    for name, g, r in zip(net.param_names, grads, ref_grads):
        assert g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-14, err_msg=name)
    assert [g.shape for g in grads] == [(3, 10), (10,), (10, 6), (6,), (6, 3), (3,)]


def test_seed004_one_gradient_step_lowers_the_loss():
    net = hg.MLP([3, 10, 6, 3], activation="relu", dtype="float64", seed=0)
    X, y = make_three_class(200, seed=2)
    lr = 0.05
    loss0, _ = net.loss_and_grads(X, y)
    grad = net.flat_grad.copy()
    net.flat -= lr * grad
    loss1 = net.loss(X, y)
    # first-order prediction: ΔL ≈ -lr ‖∇L‖²
    predicted = -lr * float(grad @ grad)
    assert loss1 < loss0
    assert loss1 - loss0 == pytest.approx(predicted, rel=0.1)


def test_three_class_dataset_shape_and_balance():
    X, y = make_three_class(900, seed=0)
    assert X.shape == (900, 3) and y.shape == (900,) and set(np.unique(y)) == {0, 1, 2}
    assert np.bincount(y).min() > 100
    X2, y2 = make_three_class(900, seed=0)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_demo_learns_the_three_class_problem():
    out = run_demo(epochs=1500, print_fn=lambda s: None)
    losses = out["losses"]
    assert losses[-1] < 0.5 * losses[0]
    assert out["test_accuracy"] > 0.85
