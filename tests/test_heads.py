"""The logistic and identity output heads: gradients, stability, targets, predictions."""

import warnings

import numpy as np
import pytest

import handgrad as hg
from handgrad.core.heads import sigmoid_binary_cross_entropy, softplus, squared_error

from conftest import ACTIVATIONS, far_from_kinks


def _problem(output, sizes, activation, l2, seed, weighted=False, m=9):
    rng = np.random.default_rng(seed)
    net = hg.MLP(sizes, activation=activation, l2=l2, dtype="float64", seed=seed, output=output)
    for b in net.biases:
        b[...] = rng.normal(scale=0.1, size=b.shape)
    for _ in range(100):
        X = rng.normal(size=(m, sizes[0]))
        if far_from_kinks(net, X):
            break
    K = sizes[-1]
    y = rng.uniform(size=(m, K)) if output == "logistic" else rng.normal(size=(m, K))
    if output == "logistic" and seed % 2:
        y = (y > 0.5).astype(float)  # hard 0/1 labels as well as probabilities
    w = rng.uniform(0.2, 2, m) if weighted else None
    return net, X, y, w


@pytest.mark.parametrize("output", ["logistic", "identity"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 3, 5])
def test_head_gradients_match_finite_differences(output, activation, depth):
    seed = 100 * depth + ACTIVATIONS.index(activation) + (output == "identity") * 7
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 6))] + [int(rng.integers(2, 8)) for _ in range(depth - 1)] + [int(rng.integers(1, 4))]
    net, X, y, w = _problem(output, sizes, activation, 0.03 if depth > 1 else 0.0, seed, weighted=depth == 3)
    report = hg.gradcheck(net, X, y, sample_weight=w, max_entries=None)
    assert report.passed, str(report)


def test_losses_match_their_definitions(rng):
    Z = rng.normal(scale=3, size=(6, 3))
    Y = rng.uniform(size=(6, 3))
    P = 1 / (1 + np.exp(-Z))
    loss, dZ = sigmoid_binary_cross_entropy(Z, Y)
    assert loss == pytest.approx(-np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P)) / 6, rel=1e-12)
    np.testing.assert_allclose(dZ, (P - Y) / 6, atol=1e-15)
    loss, dZ = squared_error(Z, Y)
    assert loss == pytest.approx(0.5 * np.sum((Z - Y) ** 2) / 6, rel=1e-12)
    np.testing.assert_allclose(dZ, (Z - Y) / 6, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_loss_is_finite_for_extreme_logits(dtype):
    Z = np.array([[1e4], [-1e4], [0.0]], dtype=dtype)
    Y = np.array([[0.0], [0.0], [1.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dZ = sigmoid_binary_cross_entropy(Z, Y)
    # the wrong-side loss for z = 1e4, y = 0 is softplus(1e4) = 1e4 exactly
    assert loss == pytest.approx((1e4 + 0.0 + np.log(2)) / 3, rel=1e-6)
    assert dZ.dtype == dtype and np.all(np.isfinite(dZ))
    np.testing.assert_allclose(dZ[:, 0] * 3, [1.0, 0.0, -0.5], atol=1e-7)
    assert np.all(np.isfinite(softplus(np.array([-1e30, 1e30]))))


def test_heads_match_autograd():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    for output in ("logistic", "identity"):
        net = hg.MLP([5, 7, 3], activation="tanh", l2=0.01, dtype="float64", seed=1, output=output)
        X = rng.normal(size=(11, 5))
        Y = rng.uniform(size=(11, 3)) if output == "logistic" else rng.normal(size=(11, 3))
        loss, grads = net.loss_and_grads(X, Y)
        p = [torch.tensor(a.copy(), requires_grad=True) for a in net.params]
        Z = torch.tanh(torch.tensor(X) @ p[0] + p[1]) @ p[2] + p[3]
        Yt = torch.tensor(Y)
        data = (F.binary_cross_entropy_with_logits(Z, Yt, reduction="sum") if output == "logistic"
                else 0.5 * ((Z - Yt) ** 2).sum()) / 11
        total = data + 0.01 * sum((W ** 2).sum() for W in p[0::2])
        total.backward()
        assert loss == pytest.approx(float(total.detach()), rel=1e-12)
        for g, t in zip(grads, p):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_predictions_per_head(rng):
    X = rng.normal(size=(20, 4))
    binary = hg.MLP([4, 6, 1], output="logistic", dtype="float64", seed=0)
    p = binary.predict_proba(X)
    assert p.shape == (20, 1) and np.all((p > 0) & (p < 1))
    assert np.array_equal(binary.predict(X), (p[:, 0] > 0.5).astype(int))
    multi = hg.MLP([4, 6, 3], output="logistic", seed=0)
    assert multi.predict(X).shape == (20, 3) and set(np.unique(multi.predict(X))) <= {0, 1}
    reg = hg.MLP([4, 6, 1], output="identity", dtype="float64", seed=0)
    assert reg.predict(X).shape == (20,)
    np.testing.assert_allclose(reg.predict(X), reg.forward(X)[:, 0])
    with pytest.raises(ValueError, match="no probabilities"):
        reg.predict_proba(X)
    assert "1 identity" in repr(reg) and "3 logistic" in repr(multi)


def test_heads_train(rng):
    X = rng.normal(size=(400, 3))
    y_reg = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=400)
    reg = hg.MLP([3, 16, 1], output="identity", dtype="float64", seed=0)
    h = hg.fit(reg, X, y_reg, epochs=40, batch_size=32, lr=0.01, validation_fraction=0.2)
    assert h["val_loss"][-1] < 0.05 * h["val_loss"][0] and h["train_accuracy"][-1] is None
    y_bin = (X[:, 0] * X[:, 1] > 0).astype(float)
    clf = hg.MLP([3, 16, 1], output="logistic", seed=0)
    h = hg.fit(clf, X, y_bin, epochs=60, batch_size=32, lr=0.01, validation_fraction=0.2)
    assert h["val_accuracy"][-1] > 0.85


@pytest.mark.parametrize("output, y, message", [
    ("logistic", np.full((4, 2), 1.5), r"\[0, 1\]"),
    ("logistic", np.zeros((4, 3)), "expected"),
    ("identity", np.array([1.0, np.nan, 0.0, 1.0]), "NaN"),
    ("identity", np.array(["a", "b", "c", "d"]), "numeric"),
])
def test_head_target_refusals(output, y, message):
    net = hg.MLP([3, 4, 2 if y.ndim == 2 and y.shape[1] == 2 else 1], output=output)
    with pytest.raises(ValueError, match=message):
        net.loss_and_grads(np.zeros((4, 3)), y)


def test_bad_head_names_and_sizes():
    with pytest.raises(ValueError, match="output must be one of"):
        hg.MLP([3, 2], output="tanh")
    with pytest.raises(ValueError, match="output='logistic'"):
        hg.MLP([3, 1])
