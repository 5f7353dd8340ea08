import numpy as np
import pytest

import handgrad as hg
from handgrad.core import activations, backprop

from conftest import ACTIVATIONS, make_problem


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_five_layer_network_every_entry_within_tolerance(activation):
    net, X, y = make_problem([6, 8, 7, 6, 5, 4], activation, l2=0.01, seed=21)
    report = hg.gradcheck(net, X, y, max_entries=None)
    assert report.passed and bool(report)
    assert [c.name for c in report.checks] == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4", "W5", "b5"]
    assert sum(c.checked for c in report.checks) == net.n_params
    assert all(c.max_abs_err < 1e-8 for c in report.checks)


def test_checker_catches_l2_gradient_off_by_factor_two(monkeypatch):
    net, X, y = make_problem([4, 6, 3], "relu", l2=0.1, seed=2)
    original = backprop.l2_penalty_grad

    def broken(W, lam):  # as if someone wrote 4λW instead of 2λW
        return original(W, 2 * lam)

    monkeypatch.setattr(backprop, "l2_penalty_grad", broken)
    report = hg.gradcheck(net, X, y)
    assert not report.passed
    assert not report["W1"].passed and not report["W2"].passed
    assert report["b1"].passed and report["b2"].passed  # biases are not penalised
    worst = report["W1"]
    assert worst.failed > 0 and worst.max_abs_err > 1e-4
    i, j = worst.worst_index
    # the analytic value is off by exactly the extra 2λW
    assert worst.worst_analytic - worst.worst_numeric == pytest.approx(2 * 0.1 * net.weights[0][i, j], rel=1e-5)
    assert "FAIL" in str(report) and "FAILED" in str(report)


def test_checker_catches_a_broken_activation_backward(monkeypatch):
    net, X, y = make_problem([4, 6, 6, 3], "tanh", seed=4)
    # seed 003's kind of slip: a sign error in the derivative
    bad = activations.Activation("tanh", activations.tanh_forward,
                                 lambda dA, Z, A: -dA * (1 - A * A))
    net.activations = [bad, bad]
    report = hg.gradcheck(net, X, y)
    assert not report.passed
    assert report["W3"].passed and report["b3"].passed   # the output layer does not pass through tanh
    assert not report["W2"].passed and not report["b2"].passed  # one flipped sign on the way
    assert report["W1"].passed  # two flipped signs cancel: why every layer must be checked


def test_checker_catches_the_elementwise_softmax_jacobian_slip(rng):
    # seed 000: dp/do = p(1-p) elementwise; the resulting "gradient" is wrong
    Z = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 1])
    Y = np.eye(3)[y]

    def wrong(Z):
        loss, _ = hg.softmax_cross_entropy(Z, y)
        P = hg.softmax(Z)
        return loss, [(-Y / P) * P * (1 - P) / 4]

    assert not hg.gradcheck(wrong, [Z]).passed


def test_report_table_lists_every_parameter():
    net, X, y = make_problem([3, 4, 2], "sigmoid", seed=1)
    text = str(hg.gradcheck(net, X, y))
    lines = text.splitlines()
    assert lines[0].startswith("gradcheck: MLP(3 → 4 sigmoid → 2 softmax")
    header = lines[2].split()
    assert header[:3] == ["param", "shape", "checked"]
    for name, shape, checked in [("W1", "3×4", "12/12"), ("b1", "4", "4/4"), ("W2", "4×2", "8/8"), ("b2", "2", "2/2")]:
        row = next(l for l in lines if l.startswith(name + " "))
        assert row.split()[1:3] == [shape, checked] and row.rstrip().endswith("ok")
    assert lines[-1] == "PASSED: 4 of 4 parameters within tolerance"


def test_sampling_caps_entries_and_is_reported():
    net, X, y = make_problem([30, 40, 3], "tanh", seed=1, m=4)
    report = hg.gradcheck(net, X, y, max_entries=50)
    assert report["W1"].checked == 50 and report["W1"].total == 1200
    assert report["b1"].checked == 40
    assert "50/1200" in str(report) and report.passed


def test_float32_network_is_checked_in_float64():
    net, X, y = make_problem([4, 5, 3], "tanh", seed=3, dtype="float32")
    report = hg.gradcheck(net, X, y)
    assert report.passed  # would fail in float32: rounding of L is ~1e-7·|L|, /h gives ~1e-2
    assert net.flat.dtype == np.float32


def test_kink_warning_when_preactivation_is_at_zero():
    net = hg.MLP([2, 3, 2], activation="relu", dtype="float64", seed=0)
    X = np.zeros((2, 2))  # Z1 = b1 = 0: every hidden unit sits on the kink
    report = hg.gradcheck(net, X, np.array([0, 1]))
    assert any("kink" in n for n in report.notes)


def test_function_interface_refusals(rng):
    W = rng.normal(size=(2, 2))
    with pytest.raises(ValueError, match="float64"):
        hg.gradcheck(lambda W: (0.0, [W]), [W.astype(np.float32)])
    with pytest.raises(ValueError, match="shape"):
        hg.gradcheck(lambda W: (0.0, [np.zeros(3)]), [W])
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        hg.gradcheck(lambda W, V: (0.0, [W]), [W, W.copy()])
    with pytest.raises(ValueError, match="MLP or a function"):
        hg.gradcheck(42)


def test_gradcheck_op_restores_inputs(rng):
    Z = rng.normal(size=(3, 3))
    before = Z.copy()
    act = hg.get_activation("tanh")
    hg.gradcheck_op(act.forward, lambda dA, Z: act.backward(dA, Z, act.forward(Z)), [Z])
    np.testing.assert_array_equal(Z, before)
