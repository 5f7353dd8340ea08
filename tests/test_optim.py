
import numpy as np
import pytest

from handgrad.training.optim import SGD, Adam, make_optimizer, make_schedule


def _flat(rng, n=7):
    return rng.normal(size=n), rng.normal(size=n)


def test_sgd_plain_step(rng):
    theta, g = _flat(rng)
    expected = theta - 0.1 * g
    opt = SGD(lr=0.1)
    opt.init(theta.size, theta.dtype)
    opt.step(theta, g)
    np.testing.assert_allclose(theta, expected, rtol=0, atol=1e-15)


def test_sgd_momentum_two_steps_by_hand(rng):
    theta, g1 = _flat(rng)
    g2 = rng.normal(size=theta.size)
    lr, mu = 0.1, 0.9
    v1 = -lr * g1
    t1 = theta + v1
    v2 = mu * v1 - lr * g2
    t2 = t1 + v2
    opt = SGD(lr=lr, momentum=mu)
    opt.init(theta.size, theta.dtype)
    opt.step(theta, g1)
    np.testing.assert_allclose(theta, t1, atol=1e-15)
    opt.step(theta, g2)
    np.testing.assert_allclose(theta, t2, atol=1e-15)
    np.testing.assert_allclose(opt.velocity, v2, atol=1e-15)


def test_sgd_nesterov_two_steps_by_hand(rng):
    theta, g1 = _flat(rng)
    g2 = rng.normal(size=theta.size)
    lr, mu = 0.05, 0.8
    v1 = -lr * g1
    t1 = theta + mu * v1 - lr * g1
    v2 = mu * v1 - lr * g2
    t2 = t1 + mu * v2 - lr * g2
    opt = SGD(lr=lr, momentum=mu, nesterov=True)
    opt.init(theta.size, theta.dtype)
    opt.step(theta, g1)
    opt.step(theta, g2)
    np.testing.assert_allclose(theta, t2, atol=1e-15)


def test_adam_three_steps_by_hand(rng):
    theta, _ = _flat(rng)
    grads = [rng.normal(size=theta.size) for _ in range(3)]
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    m = v = np.zeros_like(theta)
    expected = theta.copy()
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        expected = expected - lr * mhat / (np.sqrt(vhat) + eps)
    opt = Adam(lr=lr)
    opt.init(theta.size, theta.dtype)
    for g in grads:
        opt.step(theta, g)
    np.testing.assert_allclose(theta, expected, rtol=1e-13, atol=1e-15)
    assert opt.t == 3
    # the first Adam step moves every coordinate by about lr (m̂/√v̂ = sign(g))
    theta2, g = _flat(rng)
    start = theta2.copy()
    opt = Adam(lr=0.01)
    opt.init(theta2.size, theta2.dtype)
    opt.step(theta2, g)
    np.testing.assert_allclose(start - theta2, 0.01 * np.sign(g), rtol=1e-6)


def test_adamw_decays_weights_not_biases(rng):
    theta = rng.normal(size=6)
    mask = np.array([True, True, True, False, True, False])
    g = np.zeros(6)
    opt = Adam(lr=0.1, weight_decay=0.5)
    opt.init(6, theta.dtype, weight_ranges=[(0, 3), (4, 5)])  # the True runs of mask
    before = theta.copy()
    opt.step(theta, g)  # zero gradient: only the decoupled decay acts
    np.testing.assert_allclose(theta[mask], before[mask] * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(theta[~mask], before[~mask])


def test_optimizers_match_torch_over_several_steps(rng):
    torch = pytest.importorskip("torch")
    grads = [rng.normal(size=10) for _ in range(5)]
    start = rng.normal(size=10)
    cases = [
        (SGD(lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        (SGD(lr=0.1, momentum=0.9, nesterov=True),
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
        (Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7),
         lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7)),
        (Adam(lr=0.01, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ]
    for ours, make_theirs in cases:
        theta = start.copy()
        ours.init(10, theta.dtype, weight_ranges=[(0, 10)])
        p = torch.tensor(start.copy(), requires_grad=True)
        theirs = make_theirs([p])
        for g in grads:
            ours.step(theta, g)
            p.grad = torch.tensor(g)
            theirs.step()
        np.testing.assert_allclose(theta, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_optimizer_keeps_float32(rng):
    theta = rng.normal(size=5).astype(np.float32)
    g = rng.normal(size=5).astype(np.float32)
    for opt in (SGD(lr=0.1, momentum=0.9, nesterov=True), Adam(lr=0.1)):
        opt.init(5, np.float32)
        opt.step(theta, g)
        assert theta.dtype == np.float32


def test_state_dict_round_trip(rng):
    theta, g = _flat(rng)
    a = Adam(lr=0.01)
    a.init(theta.size, theta.dtype)
    a.step(theta.copy(), g)
    b = Adam(lr=0.5)
    b.init(theta.size, theta.dtype)
    b.load_state_dict(a.state_dict())
    t1, t2 = theta.copy(), theta.copy()
    a.step(t1, g)
    b.step(t2, g)
    np.testing.assert_array_equal(t1, t2)


def test_schedules():
    assert make_schedule("constant", 0.1, 10).lr(7) == 0.1
    step = make_schedule("step", 0.1, 10, step_size=3, gamma=0.5)
    assert [step.lr(e) for e in range(7)] == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])
    exp = make_schedule("exponential", 0.1, 10, gamma=0.9)
    assert exp.lr(3) == pytest.approx(0.1 * 0.9 ** 3)
    cos = make_schedule("cosine", 0.1, 10, min_lr=0.01)
    assert cos.lr(0) == pytest.approx(0.1) and cos.lr(10) == pytest.approx(0.01)
    assert cos.lr(5) == pytest.approx(0.01 + 0.09 * 0.5)
    assert cos.lr(20) == pytest.approx(0.01)
    lrs = [cos.lr(e) for e in range(11)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_reduce_on_plateau():
    s = make_schedule("plateau", 1.0, 100, factor=0.5, patience=2)
    seen = []
    for metric in [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8]:
        seen.append(s.lr(0))
        s.observe(metric)
    # the 3rd epoch in a row without improvement (> patience=2) halves the rate
    assert seen == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    assert s.lr(0) == 0.25
    state = s.state_dict()
    s2 = make_schedule("plateau", 1.0, 100, factor=0.5, patience=2)
    s2.load_state_dict(state)
    assert s2.lr(0) == 0.25


@pytest.mark.parametrize("call, message", [
    (lambda: make_optimizer("rmsprop", 0.1), "unknown optimizer"),
    (lambda: make_optimizer("sgd", -1), "learning rate"),
    (lambda: make_optimizer("sgd", 0.1, momentum=1.5), "momentum"),
    (lambda: make_optimizer("adam", 0.1, momentum=0.9), "does not take"),
    (lambda: SGD(lr=0.1, nesterov=True), "Nesterov momentum needs momentum"),
    (lambda: make_schedule("linear", 0.1, 10), "unknown learning-rate schedule"),
    (lambda: make_schedule("step", 0.1, 10, gamma=-1), "gamma"),
    (lambda: make_optimizer("sgd", float("nan")), "learning rate"),
])
def test_bad_optimizer_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
