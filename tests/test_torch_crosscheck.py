"""Hand-derived gradients against PyTorch autograd (CPU). Skipped cleanly without torch."""

import numpy as np
import pytest

import handgrad as hg

from conftest import ACTIVATIONS

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _torch_activation(act):
    base = act.base
    if base == "relu":
        return torch.relu
    if base == "leaky_relu":
        return lambda z: F.leaky_relu(z, negative_slope=act.params["alpha"])
    if base == "sigmoid":
        return torch.sigmoid
    if base == "tanh":
        return torch.tanh
    if base == "identity":
        return lambda z: z
    raise AssertionError(base)


def torch_loss_and_grads(net, X, y, sample_weight=None):
    """The same network and loss, differentiated by autograd."""
    tdtype = torch.float64 if net.dtype == np.float64 else torch.float32
    params = [torch.tensor(p.copy(), dtype=tdtype, requires_grad=True) for p in net.params]
    A = torch.tensor(X, dtype=tdtype)
    for l in range(net.n_layers):
        Z = A @ params[2 * l] + params[2 * l + 1]
        A = _torch_activation(net.activations[l])(Z) if l < net.n_layers - 1 else Z
    target = torch.tensor(y) if y.ndim == 1 else torch.tensor(y, dtype=tdtype)
    per = F.cross_entropy(A, target, reduction="none")
    if sample_weight is not None:
        per = per * torch.tensor(sample_weight, dtype=tdtype)
    loss = per.mean() + net.l2 * sum((W ** 2).sum() for W in params[0::2])
    loss.backward()
    return float(loss.detach()), [p.grad.numpy() for p in params]


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("activation", ACTIVATIONS + ["leaky_relu(alpha=0.2)"])
@pytest.mark.parametrize("trial", range(4))
def test_float64_gradients_match_autograd(activation, trial):
    rng = np.random.default_rng(100 * trial + len(activation))
    depth = int(rng.integers(1, 6))
    sizes = [int(rng.integers(2, 20))] + [int(rng.integers(2, 30)) for _ in range(depth - 1)] + [int(rng.integers(2, 8))]
    net = hg.MLP(sizes, activation=activation, l2=float(rng.choice([0.0, 0.01])), dtype="float64", seed=trial)
    for b in net.biases:
        b[...] = rng.normal(scale=0.1, size=b.shape)
    m = int(rng.integers(1, 40))
    X = rng.normal(size=(m, sizes[0]))
    soft = trial % 2 == 1
    y = rng.dirichlet(np.ones(sizes[-1]), size=m) if soft else rng.integers(0, sizes[-1], size=m)
    w = rng.uniform(0.1, 2.0, size=m) if trial == 3 else None

    loss, grads = net.loss_and_grads(X, y, sample_weight=w)
    t_loss, t_grads = torch_loss_and_grads(net, X, y, w)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    for name, g, tg in zip(net.param_names, grads, t_grads):
        assert _rel(g, tg) < 1e-10, name


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_gradients_match_autograd(activation):
    rng = np.random.default_rng(7)
    net = hg.MLP([20, 32, 16, 5], activation=activation, l2=0.001, dtype="float32", seed=3)
    X = rng.normal(size=(64, 20)).astype(np.float32)
    y = rng.integers(0, 5, size=64)
    loss, grads = net.loss_and_grads(X, y)
    t_loss, t_grads = torch_loss_and_grads(net, X, y)
    assert loss == pytest.approx(t_loss, rel=1e-5)
    for name, g, tg in zip(net.param_names, grads, t_grads):
        assert g.dtype == np.float32
        assert _rel(g, tg) < 1e-4, name


def test_seed004_network_matches_autograd():
    rng = np.random.default_rng(4)
    net = hg.MLP([3, 10, 6, 3], activation="relu", dtype="float64", seed=4)
    X = rng.normal(size=(32, 3))
    y = rng.integers(0, 3, size=32)
    _, grads = net.loss_and_grads(X, y)
    _, t_grads = torch_loss_and_grads(net, X, y)
    for g, tg in zip(grads, t_grads):
        assert _rel(g, tg) < 1e-12


@pytest.mark.parametrize("delta", [0.2, 1.0, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber_head_matches_autograd(delta, weighted):
    """The Huber head (derivations.md §14) against ``F.huber_loss(..., delta=δ)``: the loss
    summed over the outputs and averaged over the m rows, per-sample weights on the rows."""
    rng = np.random.default_rng(int(10 * delta) + weighted)
    net = hg.MLP([6, 9, 7, 3], activation="tanh", l2=0.01, dtype="float64", seed=2,
                 output="huber", huber_delta=delta)
    m = 23
    X = rng.normal(size=(m, 6))
    Y = rng.normal(scale=2 * delta, size=(m, 3))
    Y[::5] += 20 * delta                                # outliers on the linear part
    w = rng.uniform(0.1, 2.0, size=m) if weighted else None
    residual = np.abs(net.forward(X) - Y)
    assert (residual < delta).any() and (residual > delta).any()
    loss, grads = net.loss_and_grads(X, Y, sample_weight=w)
    p = [torch.tensor(a.copy(), requires_grad=True) for a in net.params]
    Z = torch.tanh(torch.tanh(torch.tensor(X) @ p[0] + p[1]) @ p[2] + p[3]) @ p[4] + p[5]
    Yt = torch.tensor(Y)
    if w is None:
        data = F.huber_loss(Z, Yt, delta=delta, reduction="sum") / m
    else:
        data = (F.huber_loss(Z, Yt, delta=delta, reduction="none").sum(dim=1) * torch.tensor(w)).sum() / m
    total = data + 0.01 * sum((W ** 2).sum() for W in p[0::2])
    total.backward()
    assert loss == pytest.approx(float(total.detach()), rel=1e-12)
    for name, g, t in zip(net.param_names, grads, p):
        assert _rel(g, t.grad.numpy()) < 1e-10, name
