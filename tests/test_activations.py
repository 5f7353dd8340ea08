import warnings

import numpy as np
import pytest

import handgrad as hg
from handgrad.core import activations as A

from conftest import ACTIVATIONS


def _op(act):
    return act.forward, lambda dA, Z: act.backward(dA, Z, act.forward(Z))


@pytest.mark.parametrize("name", ACTIVATIONS + ["leaky_relu(alpha=0.2)"])
def test_activation_backward_matches_finite_differences(name, rng):
    act = hg.get_activation(name)
    Z = rng.normal(scale=2.0, size=(6, 5))
    Z[np.abs(Z) < 1e-2] = 0.5  # away from the kink at 0
    fwd, bwd = _op(act)
    report = hg.gradcheck_op(fwd, bwd, [Z], ["Z"])
    assert report.passed, str(report)
    assert report.checks[0].checked == Z.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_no_overflow_or_warning_at_1e4(dtype):
    Z = np.array([[-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow) fails the test
        with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is exact enough
            S = A.sigmoid_forward(Z)
            dZ = A.sigmoid_backward(np.ones_like(Z), Z, S)
    assert S.dtype == dtype and dZ.dtype == dtype
    assert np.all(np.isfinite(S)) and np.all(np.isfinite(dZ))
    assert S[0, 0] == 0.0 and S[0, -1] == 1.0 and S[0, 3] == 0.5
    np.testing.assert_allclose(S[0, 2], 1 / (1 + np.e), rtol=1e-6)
    np.testing.assert_allclose(S[0, 4], 1 / (1 + np.exp(-1.0)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_saturates_cleanly(dtype):
    Z = np.array([[-1e4, 1e4]], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is exact enough
        T = A.tanh_forward(Z)
        d = A.tanh_backward(np.ones_like(Z), Z, T)
    assert T.tolist() == [[-1.0, 1.0]] and d.tolist() == [[0.0, 0.0]]


def test_relu_derivative_at_zero_is_zero():
    Z = np.array([[-1.0, 0.0, 2.0]])
    act = hg.get_activation("relu")
    assert act.backward(np.ones_like(Z), Z, act.forward(Z)).tolist() == [[0.0, 0.0, 1.0]]


def test_leaky_relu_values_and_slope():
    act = hg.get_activation("leaky_relu")
    assert act.params == {"alpha": 0.01}
    Z = np.array([[-2.0, 0.0, 3.0]])
    Aout = act.forward(Z)
    np.testing.assert_array_equal(Aout, [[-0.02, 0.0, 3.0]])
    np.testing.assert_array_equal(act.backward(np.ones_like(Z), Z, Aout), [[0.01, 0.01, 1.0]])
    act2 = hg.get_activation("leaky_relu:0.2")
    assert act2.params == {"alpha": 0.2} and act2.name == "leaky_relu(alpha=0.2)"
    assert hg.get_activation("leaky_relu(0.2)").params == {"alpha": 0.2}


def test_activations_keep_float32():
    Z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for name in ACTIVATIONS:
        act = hg.get_activation(name)
        out = act.forward(Z)
        assert out.dtype == np.float32, name
        assert act.backward(np.ones_like(Z), Z, out).dtype == np.float32, name


def test_unknown_activation_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        hg.get_activation("swish")
    with pytest.raises(hg.InputError, match="alpha must be in"):
        hg.get_activation("leaky_relu(alpha=2)")
    with pytest.raises(hg.InputError, match="not a number"):
        hg.get_activation("leaky_relu(alpha=x)")


def test_register_custom_activation_and_use_it_in_a_network():
    softplus = lambda z: np.logaddexp(0, z)
    softplus_prime = lambda z: 1 / (1 + np.exp(-z))
    try:
        act = hg.register_activation("softplus_test", softplus, softplus_prime)
        assert act.needs_input
        net = hg.MLP([3, 5, 4, 2], activation="softplus_test", dtype="float64", seed=3)
        X = np.random.default_rng(0).normal(size=(6, 3))
        report = hg.gradcheck(net, X, np.array([0, 1, 1, 0, 1, 0]))
        assert report.passed, str(report)
    finally:
        hg.unregister_activation("softplus_test")
    with pytest.raises(hg.InputError, match="unknown activation"):
        hg.get_activation("softplus_test")


def test_register_refuses_a_wrong_derivative():
    with pytest.raises(hg.GradientCheckError, match="disagrees with finite differences"):
        # the derivative of z^3 is 3z^2, not z^2
        hg.register_activation("cube_bad", lambda z: z ** 3, lambda z: z ** 2)
    with pytest.raises(ValueError):  # a sign slip, as in seed 003's extra minus
        hg.register_activation("neg_tanh", np.tanh, lambda z: np.tanh(z) ** 2 - 1)
    assert "cube_bad" not in hg.available_activations()


def test_register_refuses_non_elementwise_and_duplicates():
    with pytest.raises(hg.GradientCheckError, match="elementwise"):
        hg.register_activation("summer", lambda z: z.sum(axis=1), lambda z: np.ones(len(z)))
    with pytest.raises(hg.InputError, match="already exists"):
        hg.register_activation("relu", lambda z: z, lambda z: np.ones_like(z))


def test_register_with_a_kink_away_from_zero():
    # |z - 1| has a kink at 1; the check skips points within 1e-3 of it when told
    f = lambda z: np.abs(z - 1.0)
    fp = lambda z: np.sign(z - 1.0)
    try:
        hg.register_activation("abs_shift", f, fp, kinks=(1.0,))
    finally:
        hg.unregister_activation("abs_shift")
