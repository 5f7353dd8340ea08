import numpy as np
import pytest

import handgrad as hg
from handgrad.core import regularization as R


def test_conversions_round_trip():
    assert R.l2_from_sklearn_alpha(1e-4, 200) == pytest.approx(1e-4 / 400)
    assert R.l2_to_sklearn_alpha(R.l2_from_sklearn_alpha(0.3, 32), 32) == pytest.approx(0.3)
    assert R.l2_to_torch_weight_decay(0.05) == pytest.approx(0.1)
    assert R.l2_from_torch_weight_decay(R.l2_to_torch_weight_decay(0.05)) == pytest.approx(0.05)
    assert R.l2_to_keras(0.01) == R.l2_from_keras(0.01) == 0.01
    with pytest.raises(ValueError):
        R.l2_from_sklearn_alpha(-1.0, 10)
    with pytest.raises(ValueError):
        R.l2_from_sklearn_alpha(1.0, 0)


def test_sklearn_alpha_gives_the_same_penalty_as_sklearn_formula(rng):
    # scikit-learn's MLP adds 0.5 * alpha * sum ||W||^2 / n_batch to its batch-mean loss
    Ws = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    alpha, n_batch = 0.37, 16
    sk = 0.5 * alpha * sum(np.vdot(W, W) for W in Ws) / n_batch
    assert hg.l2_penalty(Ws, R.l2_from_sklearn_alpha(alpha, n_batch)) == pytest.approx(sk)


def test_torch_weight_decay_step_equals_handgrad_l2_step(rng):
    torch = pytest.importorskip("torch")
    net = hg.MLP([4, 5, 3], activation="tanh", l2=0.03, dtype="float64", seed=1)
    X = rng.normal(size=(6, 4))
    y = rng.integers(0, 3, size=6)
    lr = 0.1
    W = [torch.tensor(p.copy(), requires_grad=True) for p in net.params]
    wd = R.l2_to_torch_weight_decay(net.l2)
    opt = torch.optim.SGD([{"params": W[0::2], "weight_decay": wd},
                           {"params": W[1::2], "weight_decay": 0.0}], lr=lr)
    Xt = torch.tensor(X)
    h = torch.tanh(Xt @ W[0] + W[1])
    loss = torch.nn.functional.cross_entropy(h @ W[2] + W[3], torch.tensor(y))
    loss.backward()
    opt.step()
    net.loss_and_grads(X, y)
    net.flat -= lr * net.flat_grad
    for mine, theirs in zip(net.params, W):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
