"""Inverted dropout (derivations.md §20): the masks' statistics, the reference backward pass
against central differences with the mask held fixed, the fast step (and its fused SGD step)
against the reference with the same masks, in float64 to 1e-12, for every activation with a
derivative and every head; fit and fit_many with dropout."""

import numpy as np
import pytest

import handgrad as hg
from handgrad.core import backprop
from handgrad.core.dropout import epoch_generator, keep_scale
from handgrad.errors import InputError

from fast.test_step_equals_reference import HEADS, close, problem, route  # noqa: F401 (route: a fixture)
from test_label_smoothing import _cli

ACTS = ["relu", "leaky_relu(alpha=0.2)", "sigmoid", "tanh"]


def masks_for(net, m, p, seed=3, dtype=None):
    rng = np.random.default_rng(seed)
    return [keep_scale(rng, (m, n), p, dtype or net.dtype) for n in net.sizes[1:-1]]


def test_the_scale_keeps_a_share_1_minus_p_and_the_mean():
    S = keep_scale(np.random.default_rng(0), (400, 500), 0.3, np.float64)
    kept = S > 0
    assert abs(kept.mean() - 0.7) < 0.005                       # P(keep) = 1 − p
    assert np.all(S[kept] == 1 / 0.7) and np.all(S[~kept] == 0)  # eq. 20.1
    assert abs(S.mean() - 1) < 0.01                             # E[S] = 1: expectation kept
    out = np.empty((30, 7), np.float32)
    assert keep_scale(np.random.default_rng(1), None, 0.5, np.float32, out=out) is out
    assert set(np.unique(out)) <= {0.0, 2.0}


def test_an_epochs_masks_depend_on_the_seed_and_the_epoch_alone():
    a = epoch_generator(5, 2).random(4)
    assert np.array_equal(a, epoch_generator(5, 2).random(4))
    assert not np.array_equal(a, epoch_generator(5, 3).random(4))
    assert not np.array_equal(a, epoch_generator(6, 2).random(4))


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_the_reference_gradient_matches_central_differences_with_the_mask_fixed(activation, output):
    net, X, y, w = problem(activation, output, "float64", weighted=True, l2=0.05, sizes=(5, 6, 7, 3))
    S = masks_for(net, X.shape[0], 0.4)
    net.backprop(X, y, w, masks=S)
    analytic = net.flat_grad.copy()

    def loss(theta):
        keep = net.flat.copy()
        net.flat[...] = theta
        Z, _ = backprop.forward(net.weights, net.biases, net.activations, X, S)
        value = hg.core.heads.LOSSES[net.output](Z, y, w, **net.head_params)[0] \
            + hg.core.losses.l2_penalty(net.weights, net.l2)
        net.flat[...] = keep
        return value

    theta, h = net.flat.copy(), 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        numeric[i] = (loss(theta + e) - loss(theta - e)) / (2 * h)
    close(analytic, numeric, 1e-7, f"{activation}/{output} with dropout")
    # and the mask mattered: without it the gradient differs
    net.backprop(X, y, w)
    assert np.abs(net.flat_grad - analytic).max() > 1e-4


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("output", HEADS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_fast_step_equals_the_reference_with_the_same_masks(route, activation, output, dtype):
    """With the BLAS threshold as it is (these small arrays take numpy's route) and forced to 0
    (every product and the fused update through the ctypes BLAS calls)."""
    tol = {"float64": 1e-12, "float32": 2e-5}[dtype]
    net, X, y, w = problem(activation, output, dtype, weighted=True, l2=0.02)
    S = masks_for(net, X.shape[0], 0.25)
    ref = net.backprop(X, y, w, masks=S)
    ref_grad = net.flat_grad.copy()
    net.flat_grad[...] = np.nan
    fast = net.train_step(X, y, w, net.workspace(X.shape[0] + 2), masks=S)
    assert fast.data_loss == pytest.approx(ref.data_loss, rel=tol)
    close(net.flat_grad, ref_grad, tol, f"{activation}/{output}/{dtype}")
    # the fused SGD step with the masks: the reference's gradient, then the update
    start, fused = net.flat.copy(), net.copy()
    fused.train_step(X, y, w, fused.workspace(X.shape[0]), sgd_lr=0.1, masks=S)
    close(fused.flat - start, -0.1 * ref_grad, tol * 10, f"{activation}/{output}/{dtype} fused")


def test_an_activation_without_a_derivative_is_refused_with_dropout():
    net, X, y, w = problem("identity", "softmax", "float64")
    with pytest.raises(InputError, match="dropout needs a hidden activation with a derivative"):
        net.train_step(X, y, w, net.workspace(X.shape[0]), masks=masks_for(net, X.shape[0], 0.2))


def _data(n=240, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)
    return X, y


def test_fit_with_dropout_trains_is_seeded_and_differs_from_no_dropout():
    X, y = _data()
    runs = []
    for p, seed in ((0.3, 1), (0.3, 1), (0.3, 2), (0.0, 1)):
        net = hg.MLP([6, 32, 3], seed=0, dtype="float64")
        h = hg.fit(net, X, y, epochs=30, batch_size=32, seed=seed, dropout=p, diagnostics=True)
        runs.append((net.flat.copy(), h))
    assert np.array_equal(runs[0][0], runs[1][0])            # same seed, same masks
    assert not np.array_equal(runs[0][0], runs[2][0])        # another seed, other masks
    assert not np.array_equal(runs[0][0], runs[3][0])        # dropout changes training
    h = runs[0][1]
    assert h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
    assert getattr(h, "dropout", None) == 0.3


def test_fit_checks_dropout():
    X, y = _data()
    for bad in (1.0, -0.1, "x"):
        with pytest.raises(InputError, match="dropout"):
            hg.fit(hg.MLP([6, 8, 3]), X, y, epochs=1, dropout=bad)
    with pytest.raises(InputError, match="dropout needs hidden activations with a derivative"):
        hg.fit(hg.MLP([6, 8, 3], activation="identity"), X, y, epochs=1, dropout=0.2)


def test_a_run_resumed_mid_epoch_draws_the_masks_it_would_have_drawn(tmp_path):
    """Stopped by Ctrl-C mid-epoch and resumed from its checkpoint, a dropout run ends with
    the weights of the uninterrupted one (the masks come from (seed, epoch); the draws of the
    steps already taken are made again and dropped)."""
    import os
    import signal

    from handgrad.errors import TrainingInterrupted

    X, y = _data()
    kw = dict(epochs=3, batch_size=32, seed=4, dropout=0.25, optimizer="adam")
    whole = hg.MLP([6, 16, 3], seed=0, dtype="float64")
    hg.fit(whole, X, y, **kw)

    class Send(hg.training.history.Callback):
        def on_batch_end(self, e, b, n_batches, loss):
            if (e, b) == (1, 3):
                os.kill(os.getpid(), signal.SIGINT)

    part = hg.MLP([6, 16, 3], seed=0, dtype="float64")
    with pytest.raises(TrainingInterrupted):
        hg.fit(part, X, y, checkpoint_dir=tmp_path, callbacks=[Send()], **kw)
    again = hg.MLP([6, 16, 3], seed=7, dtype="float64")
    h = hg.fit(again, X, y, checkpoint_dir=tmp_path, resume=True, **kw)
    assert h.resumed_from is not None and h.resumed_from["batch"] > 0
    np.testing.assert_array_equal(again.flat, whole.flat)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_fit_many_with_dropout_equals_each_network_trained_alone(activation):
    """Each network in the stack draws its masks from its own seed and the epoch, row for row
    as alone: the weights equal fit's (float64, to rounding), with different seeds, learning
    rates, epochs and a last batch smaller than the others."""
    X, y = _data(n=230)
    nets = [hg.MLP([6, 12, 10, 3], activation=activation, seed=s, dtype="float64", l2=1e-3) for s in range(3)]
    alone = [n.copy() for n in nets]
    kw = dict(batch_size=32, optimizer="adam", dropout=0.3)
    seeds, lrs, epochs = [5, 6, 7], [1e-3, 3e-3, 2e-3], [4, 3, 5]
    hg.fit_many(nets, X, y, seed=seeds, lr=lrs, epochs=epochs, **kw)
    for net, ref, s, lr, e in zip(nets, alone, seeds, lrs, epochs):
        hg.fit(ref, X, y, seed=s, lr=lr, epochs=e, diagnostics=False, **kw)
        close(net.flat, ref.flat, 1e-10, f"{activation} seed {s}")
    moved = hg.MLP([6, 12, 10, 3], activation=activation, seed=0, dtype="float64", l2=1e-3)
    hg.fit(moved, X, y, seed=5, lr=1e-3, epochs=4, batch_size=32, optimizer="adam", diagnostics=False)
    assert np.abs(moved.flat - nets[0].flat).max() > 1e-3  # without dropout: other weights


def test_the_command_line_trains_with_dropout_records_it_and_refuses_bad_rates(tmp_path):
    import json

    out = _cli("train", "--dataset", "iris", "--dropout", "0.2", "--epochs", "20", "--no-plot",
               "--json", "--out-dir", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["test"]["accuracy"] > 0.8
    model = hg.load_model(tmp_path / "o" / "model.safetensors")
    assert model.record["hyperparameters"]["dropout"] == 0.2
    bad = _cli("train", "--dataset", "iris", "--dropout", "1", "--no-plot", "--out-dir", str(tmp_path / "b"))
    assert bad.returncode == 2 and "--dropout must be in [0, 1)" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("ensemble", [1, 4])
def test_train_model_with_dropout_stacks_its_folds_and_members(ensemble):
    """The folds of cross-validation and an ensemble's members train with dropout (as one
    stack: the rate is one of fit_many's shared arguments); the model predicts without masks,
    the same probabilities twice."""
    import pandas as pd

    from handgrad.model.classifier import train_model

    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)})
    y = np.where(frame.x + (frame.kind == "a") > 0.3, "yes", "no")
    model = train_model(frame, y, ensemble=ensemble, epochs=8, dropout=0.2, seed=2)
    assert model.record["hyperparameters"]["dropout"] == 0.2
    p = model.predict_proba(frame)
    np.testing.assert_array_equal(p, model.predict_proba(frame))
    assert (model.predict(frame) == y).mean() > 0.7
    plain = train_model(frame, y, ensemble=ensemble, epochs=8, seed=2)
    assert np.abs(plain.predict_proba(frame) - p).max() > 1e-4
