"""MLPRegressor(loss="poisson"): the exp head's loss and gradient (derivations.md §13),
reference against fast path, finite differences, and parity with scikit-learn 1.9."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_linnerud
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.neural_network._base import poisson_loss as sklearn_poisson_loss
from sklearn.preprocessing import StandardScaler

import handgrad as hg
from handgrad.core.heads import exp_poisson_deviance, squared_error
from handgrad.fast import kernels
from handgrad.sklearn import MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _counts(n=400, d=5, n_outputs=1, seed=0):
    """Counts y ~ Poisson(exp(smooth function of X)), with many zeros."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=0.5, size=(d, n_outputs))
    rate = np.exp(np.tanh(X @ W) + 0.3 * X[:, :1] - 0.2)
    y = rng.poisson(rate).astype(np.float64)
    return X, (y[:, 0] if n_outputs == 1 else y)


@pytest.fixture(scope="module")
def linnerud():
    """A real count dataset: chin-ups, sit-ups and jumps of 20 men (3 count outputs) from
    their weight, waist and pulse."""
    data = load_linnerud()
    return StandardScaler().fit_transform(data.target), data.data.astype(np.float64)


def test_loss_is_scikit_learns_half_poisson_deviance():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 3))
    Y = rng.poisson(2.0, size=(50, 3)).astype(np.float64)          # zeros included
    w = rng.uniform(0, 2, 50)
    for weights in (None, w):
        loss, _ = exp_poisson_deviance(Z, Y, weights)
        # scikit-learn's value: the weighted mean over samples, summed over outputs
        expected = sklearn_poisson_loss(Y, np.exp(Z), weights) * (
            1 if weights is None else w.sum() / len(w))
        assert loss == pytest.approx(expected, rel=1e-12)
    # the deviance is 0 at μ = y, and y = 0 contributes μ alone (0·log 0 = 0)
    assert exp_poisson_deviance(np.log(np.array([[1.0, 3.0]])), np.array([[1.0, 3.0]]))[0] \
        == pytest.approx(0, abs=1e-15)
    assert exp_poisson_deviance(np.array([[0.5]]), np.array([[0.0]]))[0] == pytest.approx(np.exp(0.5))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_kernel_equals_the_reference(dtype, weighted):
    rng = np.random.default_rng(1)
    Z = rng.normal(scale=2, size=(64, 2)).astype(dtype)
    Y = rng.poisson(3.0, size=(64, 2)).astype(dtype)
    w = rng.uniform(0, 2, 64).astype(dtype) if weighted else None
    ref_loss, ref_dZ = exp_poisson_deviance(Z, Y, w)
    out = np.empty_like(Z)
    loss, dZ = kernels.exp_poisson_deviance(Z, Y, w, out=out)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert dZ is out and dZ.dtype == dtype
    assert loss == pytest.approx(ref_loss, rel=tol)
    assert_allclose(dZ, ref_dZ, rtol=tol, atol=tol * np.abs(ref_dZ).max())
    # out may be Z itself: Y·Z is taken before e^Z overwrites it
    Z2 = Z.copy()
    loss2, dZ2 = kernels.exp_poisson_deviance(Z2, Y, w, out=Z2)
    assert loss2 == loss
    assert_array_equal(dZ2, dZ)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])  # smooth: no kinks
def test_gradcheck_of_the_exp_head_in_float64(activation):
    X, y = _counts(n=30, d=4, n_outputs=2, seed=2)
    net = hg.MLP([4, 7, 5, 2], activation=activation, output="exp", dtype="float64", seed=3,
                 l2=0.05)
    w = np.random.default_rng(4).uniform(0.1, 2, 30)
    for part in ("data", "total"):
        report = hg.gradcheck(net, X, y, sample_weight=w, part=part, max_entries=None)
        assert report, str(report)
    # the check can fail: a gradient 1% off is caught
    def one_percent_off(*params):
        loss, grads = net.loss_and_grads(X, y, w, "data")
        return loss, [1.01 * g for g in grads]
    assert not hg.gradcheck(one_percent_off, net.params, max_entries=20)


def test_fast_training_step_equals_the_reference_backprop():
    X, y = _counts(n=40, d=4, n_outputs=1, seed=5)
    net = hg.MLP([4, 8, 1], activation="relu", output="exp", dtype="float64", seed=0, l2=0.01)
    ref = net.backprop(X, y[:, None]).loss
    ref_grad = net.flat_grad.copy()
    ws = net.workspace(40)
    step = net.train_step(X, y[:, None], None, ws)
    assert step.loss == pytest.approx(ref, rel=1e-12)
    assert_allclose(net.flat_grad, ref_grad, rtol=1e-10, atol=1e-14)
    assert_allclose(net.predict(X), np.exp(net.forward(X)[:, 0]), rtol=1e-12)
    with pytest.raises(hg.InputError, match="no probabilities"):
        net.predict_proba(X)


@pytest.mark.parametrize("params", [
    dict(solver="adam"),
    dict(solver="sgd", learning_rate_init=0.01),
    dict(solver="adam", early_stopping=True, n_iter_no_change=3),
    dict(solver="lbfgs"),
], ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_same_training_run_as_scikit_learn_on_counts(params):
    X, y = _counts()
    kw = dict(loss="poisson", hidden_layer_sizes=(16,), max_iter=30, random_state=0, **params)
    ours, ref = MLPRegressor(**kw).fit(X, y), SkMLPRegressor(**kw).fit(X, y)
    assert ours.out_activation_ == ref.out_activation_ == "exp"
    assert ours.n_iter_ == ref.n_iter_
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-9)
    if params["solver"] != "lbfgs":
        assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
        assert_allclose(ours.validation_scores_ or [], ref.validation_scores_ or [], rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-7)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-7)
    assert np.all(ours.predict(X) > 0)


def test_multi_output_counts_and_sample_weight_follow_scikit_learn(linnerud):
    X, Y = linnerud
    sw = np.random.default_rng(0).uniform(0.2, 2, len(X))
    for solver in ("adam", "lbfgs"):
        kw = dict(loss="poisson", hidden_layer_sizes=(8,), max_iter=50, random_state=0,
                  solver=solver, learning_rate_init=0.01)
        ours = MLPRegressor(**kw).fit(X, Y, sample_weight=sw)
        ref = SkMLPRegressor(**kw).fit(X, Y, sample_weight=sw)
        # the loss is summed over the 3 outputs (not averaged, as for the squared error)
        assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-9)
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            assert_allclose(a, b, rtol=1e-6, atol=1e-9)
        assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-7)


def test_poisson_regressor_details():
    X, y = _counts(n=100)
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="needs y >= 0"):
        reg.fit(X, y - 1)
    reg.fit(X.astype(np.float32), y)                          # float32 stays float32
    assert reg.coefs_[0].dtype == np.float32 and reg.predict(X.astype(np.float32)).dtype == np.float32
    Z = np.maximum(X @ reg.coefs_[0].astype(np.float64) + reg.intercepts_[0], 0) @ reg.coefs_[1] \
        + reg.intercepts_[1]
    assert_allclose(reg.predict(X), np.exp(Z[:, 0]), rtol=1e-5)
    assert reg.history_[-1]["train_loss"] == reg.loss_
    # a warm start after set_params(loss=...) trains the new loss from the fitted weights
    warm = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, warm_start=True,
                        random_state=0).fit(X, y)
    assert warm.out_activation_ == "identity"
    before = [W.copy() for W in warm.coefs_]
    warm.set_params(loss="poisson").fit(X, y)
    assert warm.out_activation_ == "exp" and len(warm.loss_curve_) == 10
    assert not np.array_equal(before[0], warm.coefs_[0])
    assert_allclose(warm.predict(X), np.exp(warm._logits(X)[:, 0]))
    # and the squared error head is untouched: its loss is still ½(ŷ − y)² per output
    Z = np.random.default_rng(0).normal(size=(5, 2))
    assert squared_error(Z, Z + 1)[0] == pytest.approx(1.0)
