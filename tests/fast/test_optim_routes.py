"""The optimizers' in-place BLAS updates (axpy, scal through ctypes) equal their update rules
written out in plain numpy, below and above blas.SMALL and with the threshold forced to 0."""

import math

import numpy as np
import pytest

from handgrad.fast import blas
from handgrad.training.optim import SGD, Adam


def sgd_reference(theta, grads, lr, mu, nesterov):
    v = np.zeros_like(theta)
    for g in grads:
        v = mu * v - lr * g                                   # v ← μv − ηg
        theta = theta + (mu * v - lr * g if nesterov else v)  # θ ← θ + μv − ηg  |  θ + v
    return theta


def adam_reference(theta, grads, lr, b1, b2, eps, wd, decayed, eps_on="v_hat"):
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        theta = np.where(decayed, theta * (1 - lr * wd), theta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        if eps_on == "v_hat":  # Kingma & Ba, Algorithm 1
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        else:                  # scikit-learn: the bias corrections in the step size, ε on √v
            theta = theta - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return theta


@pytest.mark.parametrize("n, forced", [(50, False), (50, True), (40_000, False)])
@pytest.mark.parametrize("make, reference", [
    (lambda: SGD(lr=0.1), lambda t, g: sgd_reference(t, g, 0.1, 0.0, False)),
    (lambda: SGD(lr=0.1, momentum=0.9), lambda t, g: sgd_reference(t, g, 0.1, 0.9, False)),
    (lambda: SGD(lr=0.1, momentum=0.9, nesterov=True), lambda t, g: sgd_reference(t, g, 0.1, 0.9, True)),
    (lambda: Adam(lr=0.01), None),
    (lambda: Adam(lr=0.01, weight_decay=0.1), None),
    (lambda: Adam(lr=0.01, eps=1e-3, eps_on="v"), None),
])
def test_updates_equal_the_rule(monkeypatch, n, forced, make, reference):
    if forced or n >= blas.SMALL:
        assert blas._FUNCS, f"no BLAS found: {blas.SOURCE}"
    if forced:
        monkeypatch.setattr(blas, "SMALL", 0)
    rng = np.random.default_rng(0)
    theta0 = rng.normal(size=n)
    grads = [rng.normal(size=n) for _ in range(4)]
    opt = make()
    ranges = [(0, n // 2)]
    opt.init(n, np.float64, weight_ranges=ranges)
    before = blas.CALLS.copy()
    theta = theta0.copy()
    for g in grads:
        opt.step(theta, g)
    if reference is None:
        decayed = np.zeros(n, dtype=bool)
        decayed[: n // 2] = True
        expected = adam_reference(theta0, grads, 0.01, opt.beta1, opt.beta2, opt.eps, opt.weight_decay,
                                  decayed, opt.eps_on)
    else:
        expected = reference(theta0, grads)
    update, expected_update = theta - theta0, expected - theta0
    err = np.abs(update - expected_update).max() / np.abs(expected_update).max()
    assert err < 1e-12, err
    blas_route = forced or n >= blas.SMALL
    assert (blas.CALLS["axpy"] > before["axpy"]) == blas_route
