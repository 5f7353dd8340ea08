"""Label smoothing (derivations.md §16): the softmax head's targets (1 − ε)·one-hot + ε/K.

The reference (core.losses.softmax_cross_entropy) against finite differences and autograd;
the fast kernel, the stacked step and fit_many against the reference; the door (ε in [0, 1),
softmax only) and the command line's --label-smoothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import handgrad as hg
from handgrad.core.losses import softmax_cross_entropy as reference
from handgrad.errors import InputError
from handgrad.fast.kernels import softmax_cross_entropy as fast
from handgrad.training.many import fit_many


def _batch(m=9, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, k)) * 3, rng.integers(0, k, m), rng.uniform(0.2, 3.0, m)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 0.95])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_reference_gradient_is_p_minus_the_smoothed_targets(eps, weighted):
    Z, y, w = _batch()
    w = w if weighted else None
    loss, dZ = reference(Z, y, w, smoothing=eps)
    K, m = Z.shape[1], Z.shape[0]
    Yt = (1 - eps) * np.eye(K)[y] + eps / K
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    ww = np.ones(m) if w is None else w
    # eq. 16.1 written out, and its finite differences (float64, central)
    assert loss == pytest.approx(-(ww[:, None] * Yt * np.log(P)).sum() / m, rel=1e-12)
    np.testing.assert_allclose(dZ, ww[:, None] * (P - Yt) / m, rtol=1e-12, atol=1e-15)
    h, num = 1e-6, np.zeros_like(Z)
    for i in range(m):
        for k in range(K):
            Zp, Zm = Z.copy(), Z.copy()
            Zp[i, k] += h
            Zm[i, k] -= h
            num[i, k] = (reference(Zp, y, w, smoothing=eps)[0] - reference(Zm, y, w, smoothing=eps)[0]) / (2 * h)
    np.testing.assert_allclose(dZ, num, rtol=1e-6, atol=1e-9)


def test_the_reference_matches_torch_label_smoothing():
    torch = pytest.importorskip("torch")
    Z, y, _ = _batch(m=11, k=5, seed=3)
    t = torch.tensor(Z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(y), label_smoothing=0.2)
    loss.backward()
    ours, dZ = reference(Z, y, None, smoothing=0.2)
    assert ours == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(dZ, t.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("soft", [False, True])
def test_the_fast_kernel_equals_the_reference(dtype, eps, weighted, soft):
    Z, y, w = _batch(m=13, k=5, seed=1)
    Z, w = Z.astype(dtype), (w.astype(dtype) if weighted else None)
    target = np.eye(5, dtype=dtype)[y] if soft else y
    a = reference(Z.astype(np.float64), y, None if w is None else w.astype(np.float64), smoothing=eps)
    stats = {}
    b = fast(Z.copy(), target, w, out=np.empty_like(Z), work=np.empty_like(Z), stats=stats, smoothing=eps)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    assert b[0] == pytest.approx(a[0], rel=tol)
    np.testing.assert_allclose(b[1], a[1], rtol=tol, atol=tol * 1e-2)
    if not soft:  # the training accuracy is the labels' (smoothing does not move the argmax)
        assert stats["correct"] == int(np.sum(Z.argmax(1) == y))


@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_a_network_with_label_smoothing_passes_the_gradient_check(eps):
    rng = np.random.default_rng(2)
    net = hg.MLP([5, 7, 6, 4], activation="tanh", l2=1e-2, dtype="float64", seed=3, label_smoothing=eps)
    X, y = rng.normal(size=(10, 5)), rng.integers(0, 4, 10)
    report = hg.gradcheck(net, X, y, sample_weight=rng.uniform(0.5, 2, 10))
    assert report.passed, report
    # and the training step (the fast kernel) computes the reference's gradient
    ref_loss, grads = net.loss_and_grads(X, y)
    step = net.train_step(X, y, None, net.workspace(len(X)))
    np.testing.assert_allclose(net.flat_grad, np.concatenate([g.ravel() for g in grads]), rtol=1e-12, atol=1e-15)
    assert step.data_loss + step.l2_loss == pytest.approx(ref_loss, rel=1e-12)


def test_smoothing_changes_the_loss_and_only_the_softmax_head_takes_it():
    Z, y, _ = _batch()
    assert reference(Z, y, smoothing=0.1)[0] != reference(Z, y)[0]
    assert hg.MLP([3, 4, 2], output="identity", label_smoothing=0.2).head_params == {}
    assert hg.MLP([3, 4, 2], label_smoothing=0.0).head_params == {}
    assert "smoothing 0.1" in repr(hg.MLP([3, 4, 2], label_smoothing=0.1))
    for bad in (1.0, -0.1, float("nan"), True, "x"):
        with pytest.raises(InputError, match="label_smoothing"):
            hg.MLP([3, 4, 2], label_smoothing=bad)


def test_fit_many_with_label_smoothing_equals_fit_alone():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(240, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.7)
    nets = lambda: [hg.MLP([6, 12, 3], activation="tanh", l2=l2, seed=s, dtype="float64", label_smoothing=0.15)  # noqa: E731
                    for s, l2 in ((0, 1e-3), (1, 0.0), (2, 1e-2))]
    together, alone = nets(), nets()
    kw = dict(epochs=8, batch_size=32, validation_fraction=0.25, patience=3, lr=1e-2)
    hs = fit_many(together, X, y, seed=[0, 1, 2], **kw)
    ha = [hg.fit(n, X, y, seed=s, diagnostics=False, **kw) for n, s in zip(alone, (0, 1, 2))]
    for a, b, h1, h2 in zip(together, alone, hs, ha):
        np.testing.assert_allclose(a.flat, b.flat, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(h1["val_loss"], h2["val_loss"], rtol=1e-10)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True, text=True, timeout=300)


def test_the_command_line_trains_with_label_smoothing_and_refuses_it_for_numbers(tmp_path):
    out = _cli("train", "--dataset", "iris", "--label-smoothing", "0.1", "--epochs", "20", "--no-plot",
               "--json", "--out-dir", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["test"]["accuracy"] > 0.8
    model = hg.load_model(tmp_path / "o" / "model.safetensors")
    assert model.record["hyperparameters"]["label_smoothing"] == 0.1
    bad = _cli("train", "--dataset", "iris", "--label-smoothing", "1", "--no-plot", "--out-dir", str(tmp_path / "b"))
    assert bad.returncode == 2 and "below 1" in bad.stderr and "Traceback" not in bad.stderr
    reg = _cli("train", "--dataset", "diabetes", "--label-smoothing", "0.1", "--no-plot", "--out-dir", str(tmp_path / "r"))
    assert reg.returncode == 2 and "--label-smoothing" in reg.stderr and "classes" in reg.stderr


@pytest.mark.parametrize("ensemble", [1, 4])
def test_folds_of_a_table_whose_encoding_differs_keep_the_smoothing(ensemble):
    """Cross-validation widens the folds whose table encoding has fewer columns to one width
    (a new network per such fold): the new network keeps ε, so the folds still stack (found
    on penguins, where a column with missing cells is complete in some folds)."""
    import pandas as pd

    from handgrad.model.classifier import train_model

    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)})
    frame.loc[7, "z"] = np.nan  # a missing-cell indicator only the folds that train on row 8 have
    y = np.where(frame.x + (frame.kind == "a") > 0.3, "yes", "no")
    model = train_model(frame, y, ensemble=ensemble, epochs=6, label_smoothing=0.1, seed=2)
    assert model.record["hyperparameters"]["label_smoothing"] == 0.1
    assert all(net.head_params == {"smoothing": 0.1} for net in model.networks)
