"""Temperature scaling (derivations.md §18: core.temperature reference, fast.temperature twin,
training.calibration fit and reliability), thresholds (training.threshold), and a Model that
carries both: its predictions, its file, its ONNX export."""

import numpy as np
import pytest

import handgrad as hg
from handgrad.core.temperature import temperature_loss
from handgrad.errors import InputError
from handgrad.fast.temperature import TemperatureLoss
from handgrad.model.files import load_model, save_model
from handgrad.training.calibration import (BETA_RANGE, apply_temperature, fit_temperature, log_loss,
                                           log_probabilities, reliability)
from handgrad.training.threshold import METRICS, choose_threshold, counts, curves, metric_at


def _overconfident(n=2000, K=3, sharpen=3.0, seed=0):
    """Labels drawn from softmax(Z), probabilities reported as softmax(sharpen·Z): too sure."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=1.5, size=(n, K))
    P_true = np.exp(Z - Z.max(1, keepdims=True))
    P_true /= P_true.sum(1, keepdims=True)
    y = np.array([rng.choice(K, p=p) for p in P_true])
    S = sharpen * Z
    P = np.exp(S - S.max(1, keepdims=True))
    return P / P.sum(1, keepdims=True), y


@pytest.mark.parametrize("weighted", [False, True])
def test_the_temperature_gradient_is_the_central_difference(weighted):
    P, y = _overconfident(200, 4)
    S = log_probabilities(P)
    w = np.random.default_rng(1).uniform(0.5, 2, len(y)) if weighted else None
    for beta in (0.05, 0.4, 1.0, 3.0):
        loss, grad = temperature_loss(S, y, beta, w)
        h = 1e-6 * beta
        fd = (temperature_loss(S, y, beta + h, w)[0] - temperature_loss(S, y, beta - h, w)[0]) / (2 * h)
        assert grad == pytest.approx(fd, rel=1e-7, abs=1e-10)
        # eq. 18.2 spelled out
        U = beta * S
        logq = U - U.max(1, keepdims=True)
        logq -= np.log(np.exp(logq).sum(1, keepdims=True))
        ww = np.ones(len(y)) if w is None else w
        assert loss == pytest.approx(-np.mean(ww * logq[np.arange(len(y)), y]), rel=1e-12)


def test_the_fast_twin_equals_the_reference_and_its_buffers_are_reused():
    P, y = _overconfident(300, 5, seed=2)
    S = log_probabilities(P)
    w = np.random.default_rng(3).uniform(0, 2, len(y))
    for weights in (None, w):
        fast = TemperatureLoss(S, y, weights)
        buffers = (fast.U, fast.dU)
        for beta in (0.01, 0.3, 1.0, 7.0, 100.0):
            got, want = fast(beta), temperature_loss(S, y, beta, weights)
            assert got[0] == pytest.approx(want[0], rel=1e-12)
            assert got[1] == pytest.approx(want[1], rel=1e-10, abs=1e-14)
        assert (fast.U, fast.dU) == buffers


def test_the_fitted_temperature_minimises_the_held_out_loss_and_keeps_every_label():
    P, y = _overconfident(sharpen=3.0)
    T = fit_temperature(P, y)
    assert 2.0 < T < 4.0  # the probabilities were sharpened threefold
    Q = apply_temperature(P, T)
    assert log_loss(Q, y) < log_loss(P, y) - 0.05
    assert reliability(Q, y)["ece"] < reliability(P, y)["ece"] / 2
    np.testing.assert_array_equal(np.argmax(Q, 1), np.argmax(P, 1))
    S = log_probabilities(P)
    assert abs(temperature_loss(S, y, 1 / T)[1]) < 1e-6  # eq. 18.3 vanishes at the minimum
    for off in (0.9, 1.1):
        assert log_loss(apply_temperature(P, T * off), y) > log_loss(Q, y)


def test_an_underconfident_model_gets_a_temperature_below_one_and_extremes_stop_at_the_range():
    P, y = _overconfident(sharpen=0.4, seed=4)
    assert fit_temperature(P, y) < 0.7
    # a model that is always right and never sure: β runs to the end of its range
    y = np.arange(100) % 2
    P = np.where(np.eye(2)[y] > 0, 0.6, 0.4)
    assert fit_temperature(P, y) == pytest.approx(1 / BETA_RANGE[1])
    with pytest.raises(InputError, match="at least two classes"):
        fit_temperature(P[y == 0], y[y == 0])


def test_probabilities_that_underflowed_to_zero_stay_finite():
    P = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])
    y = np.array([0, 1, 0])
    assert np.isfinite(log_loss(P, y)) and np.isfinite(fit_temperature(P, y))
    assert np.all(np.isfinite(apply_temperature(P, 2.0)))


def test_reliability_bins_and_ece_by_hand():
    P = np.array([[0.95, 0.05], [0.92, 0.08], [0.55, 0.45], [0.4, 0.6]])
    y = np.array([0, 1, 0, 1])
    table = reliability(P, y, bins=10)
    by_bin = {(b["from"], b["to"]): b for b in table["bins"]}
    top = by_bin[(0.9, 1.0)]
    assert top["rows"] == 2 and top["accuracy"] == 0.5 and top["confidence"] == pytest.approx(0.935)
    assert table["ece"] == pytest.approx(2 / 4 * abs(0.5 - 0.935) + 1 / 4 * abs(1 - 0.55) + 1 / 4 * abs(1 - 0.6))


def test_curves_and_counts_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    positive = rng.random(500) < 0.2
    score = np.round(np.clip(positive * 0.3 + rng.normal(0.4, 0.2, 500), 0, 1), 2)  # ties
    c = curves(score, positive)
    assert c["roc_auc"] == pytest.approx(metrics.roc_auc_score(positive, score), rel=1e-12)
    assert c["average_precision"] == pytest.approx(metrics.average_precision_score(positive, score), rel=1e-12)
    cuts, tp, fp = counts(score, positive)
    for cut, t, f in zip(cuts, tp, fp):
        assert t == np.sum(positive & (score >= cut)) and f == np.sum(~positive & (score >= cut))


@pytest.mark.parametrize("metric", METRICS)
def test_the_chosen_threshold_is_the_best_of_every_cut(metric):
    metrics = pytest.importorskip("sklearn.metrics")
    score_of = {"f1": metrics.f1_score, "balanced_accuracy": metrics.balanced_accuracy_score,
                "accuracy": metrics.accuracy_score, "mcc": metrics.matthews_corrcoef}[metric]
    rng = np.random.default_rng(6)
    positive = rng.random(400) < 0.15
    score = np.clip(positive * 0.25 + rng.beta(2, 5, 400), 0, 1)
    choice = choose_threshold(score, positive, metric)
    t = choice["threshold"]
    got = score_of(positive, score >= t)
    assert got == pytest.approx(choice["value"], abs=1e-12)
    brute = max(score_of(positive, score >= c) for c in np.unique(score))
    assert got == pytest.approx(brute, abs=1e-12)
    assert choice["at_half"] == pytest.approx(score_of(positive, score >= 0.5), abs=1e-12)
    with pytest.raises(InputError, match="threshold metric must be one of"):
        metric_at(np.array([1]), np.array([1]), 1, 1, "auc")


def _two_class_model(dtype="float64", ensemble=1):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    y = np.where(y == 1, "benign", "malignant")
    return hg.train_classifier(X, y, epochs=15, dtype=dtype, ensemble=ensemble, seed=3), X


@pytest.mark.parametrize("ensemble", [1, 3])
def test_a_model_with_a_temperature_and_a_threshold_predicts_saves_and_exports_them(tmp_path, ensemble):
    pytest.importorskip("sklearn")
    model, X = _two_class_model(ensemble=ensemble)
    plain = model.predict_proba(X)
    model.temperature, model.threshold = 2.5, 0.8
    P = model.predict_proba(X)
    np.testing.assert_allclose(P, apply_temperature(plain, 2.5), rtol=1e-10)
    np.testing.assert_array_equal(model.predict(X), model.classes[(P[:, 1] >= 0.8).astype(int)])
    assert (model.predict(X) != model.classes[np.argmax(P, 1)]).any()  # the cut mattered
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    back = load_model(path)
    assert (back.temperature, back.threshold) == (2.5, 0.8)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), P)
    ort = pytest.importorskip("onnxruntime")
    from handgrad.export import onnx_inputs, to_onnx

    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], onnx_inputs(model, X))
    np.testing.assert_allclose(proba, P, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(label, model.predict(X))


def test_model_refuses_a_bad_temperature_or_threshold_and_a_file_too(tmp_path):
    pytest.importorskip("sklearn")
    model, _ = _two_class_model()
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="temperature must be a number > 0"):
            hg.Model(model.net, model.classes, model.scaler, temperature=bad)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(InputError, match="threshold is a two-class model's cut"):
            hg.Model(model.net, model.classes, model.scaler, threshold=bad)
    model.temperature, model.threshold = 1.5, 0.3
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    from handgrad.model.checks import _check_calibration
    from handgrad.model.format import ModelFileError

    for bad, why in (({"temperature": 0, "threshold": None}, "temperature must be a number > 0"),
                     ({"temperature": 1.0, "threshold": 2}, "threshold must be null"),
                     ({"temperature": 1.0}, "'calibration' must be"), ([], "'calibration' must be")):
        with pytest.raises(ModelFileError, match=why):
            _check_calibration({"calibration": bad}, False, 2, path)
    with pytest.raises(ModelFileError, match="threshold must be null"):
        _check_calibration({"calibration": {"temperature": 1.0, "threshold": 0.5}}, False, 3, path)


def test_train_model_refuses_what_cannot_apply_before_training():
    X = np.random.default_rng(8).normal(size=(60, 3))
    with pytest.raises(InputError, match="a threshold cuts between two classes; y has 3"):
        hg.train_classifier(X, np.arange(60) % 3, threshold_metric="f1", epochs=1)
    with pytest.raises(InputError, match="calibrate must be one of none, temperature"):
        hg.train_classifier(X, np.arange(60) % 2, calibrate="platt", epochs=1)
    with pytest.raises(InputError, match="apply to classes"):
        hg.train_regressor(X, X[:, 0], calibrate="temperature", epochs=1)
    with pytest.raises(InputError, match="needs rows the model did not train on"):
        hg.train_classifier(X, np.arange(60) % 2, calibrate="temperature", validation_fraction=0, epochs=1)
