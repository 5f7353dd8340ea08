"""The Huber head (``output="huber"``, derivations.md §14): its loss against the definition,
whole networks against finite differences, the network's API (δ, head_params, predictions),
the plain validation split of regression heads and the checkpoint fingerprint's δ."""

import numpy as np
import pytest

import handgrad as hg
from handgrad.core.heads import huber_loss, squared_error
from handgrad.errors import InputError
from handgrad.training.loop import training_parts

from conftest import ACTIVATIONS, far_from_kinks

GAP = 1e-3  # residuals kept this far from ±δ, as pre-activations from kinks (§7)


def _h(r, delta):
    """h_δ(r) written out entry by entry (eq. 14.1)."""
    return 0.5 * r * r if abs(r) <= delta else delta * (abs(r) - 0.5 * delta)


def test_loss_and_gradient_match_the_definition():
    rng = np.random.default_rng(0)
    Z, Y = rng.normal(scale=2, size=(9, 3)), rng.normal(size=(9, 3))
    w = rng.uniform(0, 2, 9)
    for delta in (0.1, 0.8, 2.5):
        loss, dZ = huber_loss(Z, Y, w, delta=delta)
        per_row = [sum(_h(Z[i, k] - Y[i, k], delta) for k in range(3)) for i in range(9)]
        assert loss == pytest.approx(sum(wi * li for wi, li in zip(w, per_row)) / 9, rel=1e-12)
        slope = [[max(-delta, min(delta, Z[i, k] - Y[i, k])) * w[i] / 9 for k in range(3)] for i in range(9)]
        np.testing.assert_allclose(dZ, slope, rtol=1e-15)
        assert np.abs(dZ).max() <= delta * w.max() / 9  # bounded: the point of the head


def test_limits_squared_error_and_absolute_error():
    rng = np.random.default_rng(1)
    Z, Y = rng.normal(scale=3, size=(20, 2)), rng.normal(size=(20, 2))
    R = np.abs(Z - Y)
    # δ above every residual: the squared-error head exactly
    big = float(R.max()) * 1.01
    assert huber_loss(Z, Y, delta=big)[0] == pytest.approx(squared_error(Z, Y)[0], rel=1e-14)
    np.testing.assert_array_equal(huber_loss(Z, Y, delta=big)[1], squared_error(Z, Y)[1])
    # δ below every residual: δ·(mean absolute error summed over outputs − ½δ·K), gradient δ·sign(r)/m
    small = float(R.min()) * 0.5
    loss, dZ = huber_loss(Z, Y, delta=small)
    assert loss == pytest.approx(small * (R.sum() / 20 - 0.5 * small * 2), rel=1e-12)
    np.testing.assert_allclose(dZ, small * np.sign(Z - Y) / 20, rtol=1e-15)


def _problem(sizes, activation, delta, seed, weighted, l2):
    """A float64 network and batch with every pre-activation 1e-3 from its kinks and every
    residual 1e-3 from ±δ, residuals on both sides of δ."""
    rng = np.random.default_rng(seed)
    net = hg.MLP(sizes, activation=activation, l2=l2, dtype="float64", seed=seed,
                 output="huber", huber_delta=delta)
    for b in net.biases:
        b[...] = rng.normal(scale=0.1, size=b.shape)
    m = 11
    for _ in range(200):
        X = rng.normal(size=(m, sizes[0]))
        Y = net.forward(X) + rng.uniform(-3 * delta, 3 * delta, size=(m, sizes[-1]))
        R = np.abs(net.forward(X) - Y)
        if far_from_kinks(net, X) and np.abs(R - delta).min() >= GAP and (R < delta).any() and (R > delta).any():
            break
    else:
        raise RuntimeError("no batch away from kinks and from ±δ")
    w = rng.uniform(0.2, 2, m) if weighted else None
    return net, X, Y, w


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 3])
def test_gradients_match_finite_differences(activation, depth):
    seed = 10 * depth + ACTIVATIONS.index(activation)
    sizes = [4] + [6, 5][:depth - 1] + [3]
    net, X, Y, w = _problem(sizes, activation, 0.4, seed, weighted=depth == 3, l2=0.05)
    for part in ("data", "l2", "total"):
        report = hg.gradcheck(net, X, Y, sample_weight=w, part=part, max_entries=None)
        assert report.passed and not report.notes, str(report)


def test_the_check_catches_a_forgotten_clip_and_notes_residuals_at_the_kink():
    net, X, Y, w = _problem([4, 6, 2], "tanh", 0.3, 5, weighted=True, l2=0.0)

    def squared_error_gradient(*params):  # the slip: δ_L = (Z − Y)/m, no clip
        loss = net.loss(X, Y, w)
        net.output, net.huber_delta = "identity", None
        try:
            _, grads = net.loss_and_grads(X, Y, w)
        finally:
            net.output, net.huber_delta = "huber", 0.3
        return loss, [g.copy() for g in grads]
    assert not hg.gradcheck(squared_error_gradient, net.params, max_entries=None)
    # a residual put exactly on +δ: the report says why an entry may fail there
    Y_at = Y.copy()
    Y_at[0, 0] = net.forward(X)[0, 0] - 0.3
    notes = hg.gradcheck(net, X, Y_at, sample_weight=w).notes
    assert any("huber" in n and "±δ" in n for n in notes), notes


def test_network_api():
    net = hg.MLP([3, 5, 2], output="huber", huber_delta=0.25, dtype="float64", seed=0)
    assert net.huber_delta == 0.25 and net.head_params == {"delta": 0.25}
    assert "2 huber(δ=0.25)" in repr(net)
    assert net.astype("float32").head_params == {"delta": 0.25}
    for output in ("softmax", "logistic", "identity", "exp"):
        other = hg.MLP([3, 5, 2], output=output, huber_delta=None)
        assert other.huber_delta is None and other.head_params == {}
    X = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_array_equal(net.predict(X), net.forward(X))
    for output in ("identity", "exp", "huber"):
        with pytest.raises(InputError, match=f"output='{output}'.*no probabilities"):
            hg.MLP([3, 5, 2], output=output).predict_proba(X)
    assert net.train_step(X, np.zeros((6, 2)), None, net.workspace(6)).correct is None


@pytest.mark.parametrize("delta", [0, -1.0, float("nan"), float("inf"), "wide", True, None])
def test_bad_delta_is_refused(delta):
    with pytest.raises(InputError, match="huber_delta") as err:
        hg.MLP([3, 2], output="huber", huber_delta=delta)
    assert "\n" not in str(err.value)


def test_delta_changes_the_loss_the_training_and_the_checkpoint(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=120)
    y[::10] += 30  # outliers
    kw = dict(epochs=4, batch_size=16, lr=1e-2, diagnostics=False)
    nets = {d: hg.MLP([3, 8, 1], output="huber", huber_delta=d, dtype="float64", seed=0) for d in (0.5, 5.0)}
    assert nets[0.5].loss(X, y) != nets[5.0].loss(X, y)
    hg.fit(nets[0.5], X, y, checkpoint_dir=tmp_path, **kw)
    hg.fit(nets[5.0], X, y, **kw)
    assert not np.array_equal(nets[0.5].flat, nets[5.0].flat)
    again = hg.MLP([3, 8, 1], output="huber", huber_delta=5.0, dtype="float64", seed=0)
    with pytest.raises(Exception, match="head_params"):
        hg.fit(again, X, y, checkpoint_dir=tmp_path, resume=True, **kw)


def test_every_regression_head_holds_out_the_same_plain_split():
    """validation_fraction: a seeded random part for every regression head (targets are not
    classes), the same rows whatever the head."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3))
    y = rng.poisson(2.0, size=(50, 2)).astype(float)
    held = []
    for output in ("identity", "exp", "huber"):
        net = hg.MLP([3, 4, 2], output=output, dtype="float64")
        _, _, _, X_val, y_val = training_parts(net, X, net.check_y(y, 50), None, None, None, None, 0.3, 7)
        held.append(X_val)
        assert X_val.shape == (15, 3)
    assert all(np.array_equal(h, held[0]) for h in held)
