import warnings

import numpy as np
import pytest

import handgrad as hg
from handgrad.core.losses import one_hot
from handgrad.validation import check_targets


def test_logsumexp_and_softmax_are_stable(rng):
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, 1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lse = hg.logsumexp(Z)
        P = hg.softmax(Z)
        logP = hg.log_softmax(Z)
    np.testing.assert_allclose(lse[:, 0], [1e4, -1e4 + np.log(3), np.log(1 + np.e + np.e ** 2)])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    np.testing.assert_allclose(logP[0], [0.0, -2e4, -1e4])
    np.testing.assert_allclose(np.exp(logP), P, atol=1e-15)


@pytest.mark.parametrize("soft", [False, True])
def test_fused_loss_gradient_matches_finite_differences(soft, rng):
    Z = rng.normal(size=(5, 4))
    y = rng.dirichlet(np.ones(4), size=5) if soft else rng.integers(0, 4, size=5)
    def fn(Z):
        loss, dZ = hg.softmax_cross_entropy(Z, y)
        return loss, [dZ]

    report = hg.gradcheck(fn, [Z], ["Z"])
    assert report.passed, str(report)


def test_fused_gradient_equals_jacobian_times_loss_gradient(rng):
    """(P - Y)/m is the chain rule through the full softmax Jacobian diag(p) - p pᵀ."""
    Z = rng.normal(size=(3, 5))
    Y = rng.dirichlet(np.ones(5), size=3)
    _, dZ = hg.softmax_cross_entropy(Z, Y)
    P = hg.softmax(Z)
    for i in range(3):
        J = np.diag(P[i]) - np.outer(P[i], P[i])          # ∂p_k/∂z_r, symmetric
        dL_dp = -Y[i] / P[i] / 3                           # ∂(CE/m)/∂p
        np.testing.assert_allclose(J.T @ dL_dp, dZ[i], rtol=1e-12, atol=1e-15)
    # the elementwise p(1-p) of seed 000 is only the diagonal and gives a different answer
    wrong = P * (1 - P) * (-Y / P) / 3
    assert not np.allclose(wrong, dZ)


def test_loss_matches_the_definition(rng):
    Z = rng.normal(size=(4, 3))
    y = np.array([2, 0, 1, 2])
    loss, dZ = hg.softmax_cross_entropy(Z, y)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(P[np.arange(4), y])), rel=1e-13)
    np.testing.assert_allclose(dZ, (P - one_hot(y, 3)) / 4, atol=1e-15)
    # labels and their one-hot rows give the same loss and gradient
    loss2, dZ2 = hg.softmax_cross_entropy(Z, one_hot(y, 3))
    assert loss2 == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(dZ2, dZ, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_exact_loss(dtype):
    Z = np.array([[1e4, -1e4], [1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_wrong, dZ = hg.softmax_cross_entropy(Z[:1], np.array([1]))
        loss_right, _ = hg.softmax_cross_entropy(Z[:1], np.array([0]))
        loss_soft, dZs = hg.softmax_cross_entropy(Z, np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype))
    assert loss_wrong == 2e4 and loss_right == 0.0 and loss_soft == 1e4
    assert dZ.dtype == dtype and dZs.dtype == dtype
    np.testing.assert_array_equal(dZ, [[1.0, -1.0]])
    assert np.all(np.isfinite(dZs))


def test_sample_weight_scales_each_sample(rng):
    Z = rng.normal(size=(4, 3))
    y = np.array([0, 1, 2, 1])
    w = np.array([1.0, 2.0, 0.0, 0.5])
    loss, dZ = hg.softmax_cross_entropy(Z, y, w)
    per = -hg.log_softmax(Z)[np.arange(4), y]
    assert loss == pytest.approx(np.sum(w * per) / 4)
    np.testing.assert_allclose(dZ, w[:, None] * (hg.softmax(Z) - one_hot(y, 3)) / 4)
    def fn(Z):
        loss, dZ = hg.softmax_cross_entropy(Z, y, w)
        return loss, [dZ]

    report = hg.gradcheck(fn, [Z])
    assert report.passed, str(report)


def test_l2_penalty_and_gradient(rng):
    Ws = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    lam = 0.3
    assert hg.l2_penalty(Ws, lam) == pytest.approx(lam * sum((W ** 2).sum() for W in Ws))
    assert hg.l2_penalty(Ws, 0.0) == 0.0

    def fn(W1, W2):
        return hg.l2_penalty([W1, W2], lam), [hg.l2_penalty_grad(W1, lam), hg.l2_penalty_grad(W2, lam)]

    assert hg.gradcheck(fn, Ws, ["W1", "W2"]).passed


def test_l2_gradient_is_the_quadratic_form_with_lambda_identity(rng):
    W = rng.normal(size=(4, 3))
    lam = 0.7
    A = lam * np.eye(4)
    per_column = [hg.quadratic_form_grad(W[:, j], A) for j in range(3)]
    np.testing.assert_allclose(np.stack(per_column, axis=1), hg.l2_penalty_grad(W, lam))
    assert sum(hg.quadratic_form(W[:, j], A) for j in range(3)) == pytest.approx(hg.l2_penalty([W], lam))


def test_quadratic_form_gradient_nonsymmetric(rng):
    A = rng.normal(size=(4, 4))  # not symmetric: the gradient is (A + Aᵀ)x, not 2Ax
    x = rng.normal(size=(3, 4))

    def fn(x):
        return float(hg.quadratic_form(x, A).sum()), [hg.quadratic_form_grad(x, A)]

    assert hg.gradcheck(fn, [x], ["x"]).passed
    assert hg.quadratic_form(x[0], A) == pytest.approx(x[0] @ A @ x[0])
    assert not np.allclose(hg.quadratic_form_grad(x, A), 2 * x @ A.T)


def test_check_targets_refusals():
    with pytest.raises(ValueError, match="out of range.*0..2"):
        check_targets(np.array([0, 3]), 2, 3)
    with pytest.raises(ValueError, match="out of range"):
        check_targets(np.array([-1, 0]), 2, 3)
    with pytest.raises(ValueError, match="2 labels for 3 samples"):
        check_targets(np.array([0, 1]), 3, 3)
    with pytest.raises(ValueError, match="whole numbers"):
        check_targets(np.array([0.5, 1.0]), 2, 3)
    with pytest.raises(ValueError, match="sum to 1"):
        check_targets(np.array([[0.5, 0.6, 0.0]]), 1, 3)
    with pytest.raises(ValueError, match="≥ 0"):
        check_targets(np.array([[-0.5, 1.5, 0.0]]), 1, 3)
    with pytest.raises(ValueError, match="shape"):
        check_targets(np.ones((2, 2)) / 2, 2, 3)
    with pytest.raises(ValueError, match="NaN"):
        check_targets(np.array([np.nan, 1.0]), 2, 3)
    with pytest.raises(ValueError, match="string labels"):
        check_targets(np.array(["a", "b"]), 2, 3)
    np.testing.assert_array_equal(check_targets(np.array([2.0, 0.0]), 2, 3), [2, 0])


def test_soft_targets_within_rounding_are_renormalised():
    Y = check_targets(np.array([[0.3, 0.7 + 5e-7, 0.0]]), 1, 3)
    assert Y.sum() == pytest.approx(1.0, abs=1e-15)
