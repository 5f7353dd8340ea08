import numpy as np
import pytest

import handgrad as hg

from conftest import ACTIVATIONS, make_problem


def _random_sizes(rng, depth):
    """depth dense layers -> depth + 1 sizes, random widths, 2..5 classes."""
    return [int(rng.integers(2, 7))] + [int(rng.integers(2, 9)) for _ in range(depth - 1)] + [int(rng.integers(2, 6))]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("soft", [False, True])
def test_network_gradients_match_finite_differences(activation, depth, l2, soft):
    seed = 1000 * depth + 10 * ACTIVATIONS.index(activation) + int(soft) + int(l2 > 0) * 5
    sizes = _random_sizes(np.random.default_rng(seed), depth)
    net, X, y = make_problem(sizes, activation, l2=l2, seed=seed, soft=soft)
    report = hg.gradcheck(net, X, y, max_entries=None)
    assert report.passed, str(report)
    assert all(c.checked == c.total for c in report.checks)
    assert not report.notes  # the batch was drawn away from kinks


@pytest.mark.parametrize("part", ["data", "l2", "total"])
def test_data_and_l2_parts_check_separately_and_together(part):
    net, X, y = make_problem([4, 6, 5, 3], "tanh", l2=0.2, seed=7)
    report = hg.gradcheck(net, X, y, part=part)
    assert report.passed, str(report)
    loss_total, g_total = net.loss_and_grads(X, y, part="total")
    g_total = [g.copy() for g in g_total]
    loss_data, g_data = net.loss_and_grads(X, y, part="data")
    g_data = [g.copy() for g in g_data]
    loss_l2, g_l2 = net.loss_and_grads(X, y, part="l2")
    assert loss_total == pytest.approx(loss_data + loss_l2, rel=1e-14)
    for a, b, c in zip(g_total, g_data, g_l2):
        np.testing.assert_allclose(a, b + c, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_l2[0], 2 * 0.2 * net.weights[0])
    assert np.all(g_l2[1] == 0)  # biases are not penalised


def test_mixed_activations_per_layer():
    acts = ["relu", "tanh", "sigmoid", "leaky_relu(alpha=0.1)"]
    net, X, y = make_problem([5, 6, 6, 5, 4, 3], acts, l2=0.01, seed=3)
    assert [a.name for a in net.activations] == ["relu", "tanh", "sigmoid", "leaky_relu(alpha=0.1)"]
    assert hg.gradcheck(net, X, y).passed


def test_sample_weight_gradients():
    net, X, y = make_problem([4, 6, 3], "relu", l2=0.01, seed=11)
    w = np.random.default_rng(0).uniform(0, 3, size=X.shape[0])
    report = hg.gradcheck(net, X, y, sample_weight=w)
    assert report.passed, str(report)
    # integer weights = repeating samples
    w_int = np.array([1, 2, 1, 0, 3, 1, 1])
    Xr, yr = np.repeat(X, w_int, axis=0), np.repeat(y, w_int)
    data_w = net.backprop(X, y, sample_weight=w_int).data_loss
    data_r = net.backprop(Xr, yr).data_loss
    # same sum of per-sample terms, divided by m = 7 instead of 9
    assert data_w * 7 == pytest.approx(data_r * 9, rel=1e-12)


def test_params_are_views_into_one_flat_buffer():
    net = hg.MLP([3, 4, 2], dtype="float32")
    assert net.flat.ndim == 1 and net.flat.size == net.n_params == 3 * 4 + 4 + 4 * 2 + 2
    for p in net.params:
        assert np.shares_memory(p, net.flat) and p.dtype == np.float32
    for g in net.grads:
        assert np.shares_memory(g, net.flat_grad)
    net.flat[:] = 0.5
    assert np.all(net.params[0] == 0.5)
    net.params[2][...] = 7
    assert net.flat[3 * 4 + 4] == 7
    # order in the buffer: W1, b1, W2, b2
    net.flat[:] = np.arange(net.n_params)
    assert net.params[1].tolist() == [12, 13, 14, 15] and net.params[2][0, 0] == 16


def test_float32_end_to_end_no_upcast(rng):
    net = hg.MLP([4, 8, 3], activation="sigmoid", l2=0.1, dtype="float32")
    X = rng.normal(size=(10, 4))  # float64 input is cast to the net's dtype
    y = rng.integers(0, 3, size=10)
    assert net.forward(X).dtype == np.float32
    assert net.predict_proba(X).dtype == np.float32
    loss, grads = net.loss_and_grads(X, y, sample_weight=np.ones(10))
    assert isinstance(loss, float)
    assert all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_gradients_close_to_float64(activation):
    net64, X, y = make_problem([5, 7, 6, 3], activation, l2=0.01, seed=5)
    net32 = net64.astype("float32")
    _, g64 = net64.loss_and_grads(X, y)
    _, g32 = net32.loss_and_grads(X, y)
    for a, b in zip(g64, g32):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_seeded_initialisation_is_reproducible_and_scaled():
    a = hg.MLP([300, 200, 100, 10], activation="relu", seed=4)
    b = hg.MLP([300, 200, 100, 10], activation="relu", seed=4)
    c = hg.MLP([300, 200, 100, 10], activation="relu", seed=5)
    assert np.array_equal(a.flat, b.flat) and not np.array_equal(a.flat, c.flat)
    d = hg.MLP([300, 200, 100, 10], activation="relu", seed=4, dtype="float64")
    np.testing.assert_allclose(a.flat, d.flat, rtol=1e-6)
    # He normal: std sqrt(2/n_in) for layers feeding ReLU; Glorot uniform for the output
    assert a.weights[0].std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)
    assert a.weights[1].std() == pytest.approx(np.sqrt(2 / 200), rel=0.03)
    r = np.sqrt(6 / (100 + 10))
    assert np.abs(a.weights[2]).max() <= r and a.weights[2].std() == pytest.approx(r / np.sqrt(3), rel=0.05)
    t = hg.MLP([300, 200, 10], activation="tanh", seed=4)
    r = np.sqrt(6 / 500)
    assert np.abs(t.weights[0]).max() <= r and t.weights[0].std() == pytest.approx(r / np.sqrt(3), rel=0.02)
    assert all(np.all(b == 0) for b in a.biases)


def test_predict_proba_rows_sum_to_one_and_predict_is_argmax(rng):
    net = hg.MLP([6, 9, 4], activation="tanh", dtype="float64", seed=2)
    X = rng.normal(scale=50, size=(20, 6))
    P = net.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(P >= 0)
    np.testing.assert_array_equal(net.predict(X), P.argmax(axis=1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_logits_stay_finite(dtype):
    net = hg.MLP([2, 2], dtype=dtype)  # one layer: logits = X W + b
    net.set_params([np.eye(2), np.zeros(2)])
    X = np.array([[1e4, -1e4]])
    loss, grads = net.loss_and_grads(X, np.array([1]))
    assert loss == 2e4
    assert all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_allclose(net.predict_proba(X).sum(axis=1), 1.0)


def test_repr_is_readable():
    net = hg.MLP([3, 10, 6, 3], activation=["relu", "tanh"], l2=0.01)
    assert repr(net) == "MLP(3 → 10 relu → 6 tanh → 3 softmax; l2=0.01, dtype=float32, params=127)"


def test_loss_without_grads_matches_loss_and_grads():
    net, X, y = make_problem([4, 5, 3], "relu", l2=0.1, seed=9)
    assert net.loss(X, y) == pytest.approx(net.loss_and_grads(X, y)[0], rel=1e-14)


def test_set_params_checks_shapes():
    net = hg.MLP([3, 4, 2])
    with pytest.raises(ValueError, match="W1 must have shape"):
        net.set_params([np.zeros((4, 3)), np.zeros(4), np.zeros((4, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match="expected 4 arrays"):
        net.set_params([np.zeros((3, 4))])


def test_params_given_at_construction_are_copied_not_drawn(monkeypatch):
    """``MLP(..., params=)`` holds the given parameters (copied, cast to the dtype) and draws
    nothing: what a loaded model or a scikit-learn fit is built with."""
    src = hg.MLP([3, 4, 2], dtype="float64", seed=5)
    src.flat += 0.25  # non-zero biases too
    monkeypatch.setattr(hg.MLP, "_init_weights", lambda self, seed: pytest.fail("drew weights"))
    net = hg.MLP([3, 4, 2], dtype="float32", params=src.params)
    assert net.flat.dtype == np.float32
    np.testing.assert_array_equal(net.flat, src.flat.astype(np.float32))
    assert not np.shares_memory(net.flat, src.flat)
    with pytest.raises(ValueError, match="W1 must have shape"):
        hg.MLP([3, 4, 2], params=[np.zeros((4, 3)), np.zeros(4), np.zeros((4, 2)), np.zeros(2)])


class TestBadInput:
    net = hg.MLP([3, 5, 2], dtype="float64")

    def test_wrong_number_of_features(self):
        with pytest.raises(ValueError, match="X has 4 features but this network takes 3"):
            self.net.forward(np.zeros((2, 4)))

    def test_one_dimensional_X(self):
        with pytest.raises(ValueError, match="2-D.*reshape"):
            self.net.forward(np.zeros(3))

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_nan_or_inf_in_X(self, bad):
        X = np.zeros((3, 3))
        X[1, 2] = bad  # named as a person counts: row 2, column 3, and the value as written
        with pytest.raises(ValueError, match=f"X holds {float(bad)!r} in row 2, column 3"):
            self.net.loss_and_grads(X, np.array([0, 1, 0]))

    def test_empty_X(self):
        with pytest.raises(ValueError, match="no rows"):
            self.net.predict(np.zeros((0, 3)))

    def test_labels_out_of_range(self):
        with pytest.raises(ValueError, match="label 2 is out of range.*0..1"):
            self.net.loss_and_grads(np.zeros((2, 3)), np.array([0, 2]))

    def test_label_count_mismatch(self):
        with pytest.raises(ValueError, match="3 labels for 2 samples"):
            self.net.loss_and_grads(np.zeros((2, 3)), np.array([0, 1, 1]))

    def test_non_numeric_X(self):
        with pytest.raises(ValueError, match="numeric"):
            self.net.forward(np.array([["a", "b", "c"]]))

    def test_bad_sample_weight(self):
        with pytest.raises(ValueError, match="sample_weight"):
            self.net.loss_and_grads(np.zeros((2, 3)), np.array([0, 1]), sample_weight=[1.0, -1.0])

    @pytest.mark.parametrize("kwargs, message", [
        ({"sizes": [3]}, "at least the input width"),
        ({"sizes": [3, 0, 2]}, "≥ 1"),
        ({"sizes": [3, 4, 1]}, "number of classes and must be ≥ 2"),
        ({"sizes": [3, 2.5, 2]}, "whole numbers"),
        ({"sizes": "abc"}, "list of layer widths"),
        ({"sizes": [3, 4, 2], "activation": "relux"}, "unknown activation 'relux'"),
        ({"sizes": [3, 4, 4, 2], "activation": ["relu"]}, "1 activations for 2 hidden layers"),
        ({"sizes": [3, 4, 2], "l2": -1}, "l2 must be"),
        ({"sizes": [3, 4, 2], "l2": float("nan")}, "l2 must be"),
        ({"sizes": [3, 4, 2], "dtype": "float16"}, "dtype must be 'float32' or 'float64'"),
    ])
    def test_bad_construction(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            hg.MLP(**kwargs)

    def test_bad_part(self):
        with pytest.raises(ValueError, match="part must be"):
            self.net.loss_and_grads(np.zeros((2, 3)), np.array([0, 1]), part="weights")


def test_finiteness_check_finds_the_first_bad_entry_and_ignores_overflowing_sums():
    from handgrad.validation import first_non_finite

    X = np.full((10_000, 3), 3e38, dtype=np.float32)  # finite, but the sum overflows
    assert first_non_finite(X) is None
    X[9_000, 2] = np.nan
    X[9_500, 0] = np.inf
    assert first_non_finite(X) == (9_000, 2)
    Y = np.zeros((5, 4))
    Y[3, 1] = -np.inf
    assert first_non_finite(Y) == (3, 1)


# ---- issue 13: sizes, seeds and memory go through handgrad.validation ----------------------

@pytest.mark.parametrize("sizes, fragment", [
    ([3, float("inf"), 2], "inf"), ([3, 2.5, 2], "2.5"), ([3, True, 2], "True"),
    (["3", 4, 2], "'3'"), ([3, -1, 2], "≥ 1"), ([3, 0, 2], "≥ 1")])
def test_bad_layer_widths_are_input_errors(sizes, fragment):
    from handgrad.errors import InputError

    with pytest.raises(InputError, match="width") as info:
        hg.MLP(sizes)
    assert fragment in str(info.value)


@pytest.mark.parametrize("seed", [-1, 1.5, "a", True, 2**64])
def test_bad_seeds_are_input_errors_not_numpy_errors(seed):
    from handgrad.errors import InputError

    with pytest.raises(InputError, match="seed must be a whole number"):
        hg.MLP([3, 2], seed=seed)


def test_a_network_too_big_for_memory_is_refused_before_allocating(monkeypatch):
    from handgrad import memory_plan
    from handgrad.errors import InputError

    monkeypatch.setattr(memory_plan, "available_memory", lambda: 3_000_000)
    # [100, 1000, 10]: 101·1000 + 1001·10 = 111,010 parameters; float64 parameters and
    # gradients: 2 · 8 · 111,010 = 1,776,160 bytes; the initial draws of the largest layer,
    # 100 · 1000 float64 numbers twice over (the draws and their scaled copy): 1,600,000 bytes
    with pytest.raises(InputError, match=r"111,010 parameters and needs about 3\.38 MB of memory "
                                         r"\(parameters, gradients: 1\.78 MB; initial draws \(float64\): "
                                         r"1\.6 MB\), but about 3 MB is available"):
        hg.MLP([100, 1000, 10], dtype="float64")
    assert hg.MLP([100, 1000, 10], dtype="float32").n_params == 111_010  # 888 kB + 1.6 MB fit


def test_huge_widths_do_not_overflow_the_estimate():
    from handgrad.errors import InputError

    with pytest.raises(InputError, match="600,000,000,000,000,000,002 parameters"):
        hg.MLP([3, 10**20, 2])
