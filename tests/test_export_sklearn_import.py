"""Import of fitted scikit-learn MLPs into handgrad (Model, model file, handgrad.sklearn
estimators) and a handgrad model into a handgrad.sklearn estimator and back."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import handgrad as hg  # noqa: E402
from handgrad.data.preprocessing import Standardizer  # noqa: E402
from handgrad.errors import InputError  # noqa: E402
from handgrad.export import estimator_from_model, handgrad_estimator, model_from_sklearn  # noqa: E402


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_a_multiclass_sklearn_pipeline_imports_and_predicts_identically(activation, tmp_path):
    X, y = load_wine(return_X_y=True)
    y = np.array(["barolo", "grignolino", "barbera"])[y]
    pipe = fit_quietly(make_pipeline(StandardScaler(), MLPClassifier((20,), activation=activation,
                                                                     max_iter=200, random_state=0)), X, y)
    model = model_from_sklearn(pipe)
    np.testing.assert_array_equal(model.predict(X), pipe.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), pipe.predict_proba(X), rtol=1e-9, atol=1e-15)
    hg.save_model(model, tmp_path / "m.safetensors")
    loaded = hg.load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    assert loaded.record["imported_from"] == "sklearn.neural_network._multilayer_perceptron.MLPClassifier"


def test_a_binary_classifier_becomes_a_two_class_softmax():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = fit_quietly(MLPClassifier((10, 5), max_iter=200, random_state=0), X, y)
    model = model_from_sklearn(est)
    assert model.net.sizes[-1] == 2
    np.testing.assert_array_equal(model.predict(X), est.predict(X))
    # scikit-learn's 1 − p loses the relative accuracy of a small probability; handgrad's σ(−z) keeps it
    np.testing.assert_allclose(model.predict_proba(X), est.predict_proba(X), rtol=1e-9, atol=1e-15)


def test_regressors_and_multilabel_classifiers_become_handgrad_estimators():
    X, y = load_diabetes(return_X_y=True)
    reg = fit_quietly(MLPRegressor(hidden_layer_sizes=(10,), max_iter=50, random_state=0), X, y)
    with pytest.raises(InputError, match="handgrad_estimator"):
        model_from_sklearn(reg)
    ours = handgrad_estimator(reg)
    np.testing.assert_allclose(ours.predict(X), reg.predict(X), rtol=1e-10)
    Xi, yi = load_iris(return_X_y=True)
    Y = np.column_stack([yi == 0, yi == 2]).astype(int)
    multi = fit_quietly(MLPClassifier((8,), max_iter=50, random_state=0), Xi, Y)
    with pytest.raises(InputError, match="multilabel"):
        model_from_sklearn(multi)
    np.testing.assert_array_equal(handgrad_estimator(multi).predict(Xi), multi.predict(Xi))


@pytest.mark.parametrize("classes", [np.array(["z", "a", "m"]), np.array([7, 3]), np.array([2, 0, 1, 5])])
def test_a_model_becomes_a_handgrad_estimator_and_back(classes):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=5.0, scale=3.0, size=(200, 4))
    net = hg.MLP([4, 6, len(classes)], activation="tanh", dtype="float64", seed=1)
    model = hg.Model(net, classes, scaler=Standardizer().fit(X))
    pipe = estimator_from_model(model)
    np.testing.assert_array_equal(pipe.predict(X), model.predict(X))
    proba = pipe.predict_proba(X)[:, np.argsort(np.argsort(classes))]  # back to the model's order
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-9, atol=1e-15)
    back = model_from_sklearn(pipe)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    P = back.predict_proba(X)[:, [int(np.flatnonzero(back.classes == c)[0]) for c in classes]]
    np.testing.assert_allclose(P, model.predict_proba(X), rtol=1e-9, atol=1e-15)
    pipe[-1].partial_fit(pipe[0].transform(X), model.predict(X))  # it is a working estimator


def test_what_has_no_estimator_form_is_refused():
    net = hg.MLP([3, 4, 4, 2], activation=["relu", "tanh"], seed=0)
    with pytest.raises(InputError, match="one activation"):
        estimator_from_model(hg.Model(net, np.array([0, 1])))
    with pytest.raises(InputError, match="not fitted"):
        model_from_sklearn(MLPClassifier())
