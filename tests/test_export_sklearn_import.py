"""Import of fitted scikit-learn MLPs into handgrad (Model, model file, handgrad.sklearn
estimators) and a handgrad model into a handgrad.sklearn estimator and back: classifiers and
regressors (identity and exp heads, one or several outputs, every target scaling)."""

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
from handgrad.data.target_scaling import TargetScaler  # noqa: E402
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


# scikit-learn's MLPRegressor computes in its input's dtype, as handgrad's network does: float64
# predictions agree to rounding, float32 ones to the float32 network's precision
REG_RTOL = {np.float64: 1e-12, np.float32: 1e-6}


def _diabetes_targets(loss, n_outputs):
    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, np.abs(X[:, 2]) * 40 + 1.0])[:, :n_outputs]  # > 0: poisson takes them
    return X, (Y[:, 0] if n_outputs == 1 else Y)


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_sklearn_regressor_imports_and_predicts_what_it_predicts(loss, activation, dtype, n_outputs,
                                                                   tmp_path):
    X, y = _diabetes_targets(loss, n_outputs)
    X = StandardScaler().fit_transform(X).astype(dtype)
    reg = fit_quietly(MLPRegressor(loss=loss, hidden_layer_sizes=(16,), activation=activation,
                                   max_iter=200, random_state=0), X, y)
    model = model_from_sklearn(reg)
    assert model.is_regressor and model.target is None and model.classes is None
    assert model.net.output == {"squared_error": "identity", "poisson": "exp"}[loss]
    assert model.net.dtype == dtype
    want = reg.predict(X)
    np.testing.assert_allclose(model.predict(X), want, rtol=REG_RTOL[dtype], atol=0)
    hg.save_model(model, tmp_path / "r.safetensors")
    loaded = hg.load_model(tmp_path / "r.safetensors")
    np.testing.assert_allclose(loaded.predict(X), want, rtol=REG_RTOL[dtype], atol=0)
    assert loaded.record["hyperparameters"]["loss"] == loss


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_regressor_pipeline_with_a_scaler_imports(loss, dtype):
    X, y = _diabetes_targets(loss, 2)
    X = X.astype(dtype)
    pipe = fit_quietly(make_pipeline(StandardScaler(), MLPRegressor(loss=loss, hidden_layer_sizes=(12,),
                                                                    max_iter=200, random_state=0)), X, y)
    model = model_from_sklearn(pipe)
    assert model.scaler is not None
    want = pipe.predict(X)
    # float32: scikit-learn's StandardScaler rounds the features to float32, handgrad standardises
    # in double: inputs a rounding apart, visible on predictions near 0 (hence the atol)
    rtol = REG_RTOL[dtype]
    np.testing.assert_allclose(model.predict(X), want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_a_handgrad_regressor_after_a_table_transformer_imports():
    pd = pytest.importorskip("pandas")
    from handgrad.sklearn import MLPRegressor as HgRegressor, TableTransformer

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue", None], n),
                          "size": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n))})
    y = np.where(frame["colour"] == "red", 10.0, 3.0) + np.nan_to_num(frame["size"].to_numpy()) / 10
    pipe = fit_quietly(make_pipeline(TableTransformer(), HgRegressor(hidden_layer_sizes=(8,),
                                                                     max_iter=100, random_state=0)),
                       frame, y)
    model = model_from_sklearn(pipe)
    assert model.encoder is not None and model.is_regressor
    np.testing.assert_allclose(model.predict(frame), pipe.predict(frame), rtol=1e-12, atol=0)


# every head × scaling with an MLPRegressor form ("log", and exp after a shift, are refused below)
FOLDABLE = ([(h, k) for h in ("identity", "exp") for k in ("standardize", "scale", "none", None)
             if (h, k) != ("exp", "standardize")]
            + [("huber", k) for k in ("standardize", "scale", "none", None)])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("head,kind", FOLDABLE)
def test_a_regression_model_becomes_a_handgrad_regressor_and_back(head, kind, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=5.0, scale=3.0, size=(200, 4))
    target = None if kind is None else TargetScaler.fit(
        np.column_stack([rng.gamma(4.0, 1000.0, 200), rng.gamma(2.0, 3.0, 200)]), kind)
    net = hg.MLP([4, 6, 2], activation="tanh", dtype=dtype, seed=1, output=head)
    model = hg.Model(net, None, scaler=Standardizer().fit(X), target=target)
    pipe = estimator_from_model(model)
    est = pipe[-1]
    assert type(est).__name__ == "MLPRegressor"
    assert est.loss == ("poisson" if head == "exp" else "squared_error")
    want = model.predict(X)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(pipe.predict(X), want, rtol=rtol, atol=rtol * np.abs(want).max())
    back = model_from_sklearn(pipe)
    np.testing.assert_allclose(back.predict(X), want, rtol=rtol, atol=rtol * np.abs(want).max())
    est.partial_fit(pipe[0].transform(X), want)  # it is a working estimator


def test_what_a_regressor_estimator_cannot_hold_is_refused_in_one_line():
    net = hg.MLP([3, 4, 1], dtype="float64", seed=0, output="identity")
    logged = hg.Model(net, None, target=TargetScaler("log", np.array([8.0]), np.array([0.5])))
    with pytest.raises(InputError, match="logarithm of its target") as err:
        estimator_from_model(logged)
    assert "\n" not in str(err.value)
    shifted = hg.Model(hg.MLP([3, 4, 1], dtype="float64", seed=0, output="exp"), None,
                       target=TargetScaler("standardize", np.array([8.0]), np.array([0.5])))
    with pytest.raises(InputError, match="exp head is followed by a shift") as err:
        estimator_from_model(shifted)
    assert "\n" not in str(err.value)


def test_multilabel_classifiers_become_handgrad_estimators():
    X, y = load_diabetes(return_X_y=True)
    reg = fit_quietly(MLPRegressor(hidden_layer_sizes=(10,), max_iter=50, random_state=0), X, y)
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


# ----- reading an estimator from a file: .skops with trusted types, a pickle only by consent --

class _Touch:
    """Unpickling this creates the file ``where``: proof that loading ran code."""

    def __init__(self, where):
        self.where = where

    def __reduce__(self):
        from pathlib import Path
        return (Path.touch, (Path(self.where),))


def test_a_pickle_is_refused_unread_without_trust_pickle_and_read_with_it(tmp_path):
    import pickle

    from handgrad.export import load_sklearn

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Touch(tmp_path / "ran")))
    with pytest.raises(InputError, match="only with trust_pickle=True") as info:
        load_sklearn(evil)
    assert "\n" not in str(info.value) and not (tmp_path / "ran").exists()
    X, y = load_iris(return_X_y=True)
    est = fit_quietly(MLPClassifier((5,), max_iter=20, random_state=0), X, y)
    (tmp_path / "est.pkl").write_bytes(pickle.dumps(est))
    back = load_sklearn(tmp_path / "est.pkl", trust_pickle=True)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    load_sklearn(evil, trust_pickle=True)  # consent given: the payload runs, as documented
    assert (tmp_path / "ran").exists()


@pytest.mark.parametrize("kind", ["sklearn-adam", "sklearn-sgd", "pipeline-regressor", "handgrad",
                                  "handgrad-table"])
def test_skops_files_of_every_supported_estimator_import_with_the_trusted_types(tmp_path, kind):
    sio = pytest.importorskip("skops.io")
    import pandas as pd

    from handgrad.export import load_sklearn
    from handgrad.sklearn import MLPClassifier as HgClassifier, MLPRegressor as HgRegressor, TableTransformer

    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame({"a": X[:, 0], "c": np.array(["r", "g", "b"])[y]})
    est, data = {
        "sklearn-adam": lambda: (fit_quietly(MLPClassifier((5,), max_iter=20, random_state=0), X, y), X),
        "sklearn-sgd": lambda: (fit_quietly(MLPClassifier((5,), solver="sgd", max_iter=20, random_state=0), X, y), X),
        "pipeline-regressor": lambda: (fit_quietly(make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(5,), max_iter=20, random_state=0)), X, X[:, 0]), X),
        "handgrad": lambda: (HgClassifier((5,), max_iter=3).fit(X, y), X),
        "handgrad-table": lambda: (make_pipeline(TableTransformer(), HgRegressor(hidden_layer_sizes=(5,), max_iter=3)).fit(
            frame, X[:, 1]), frame),
    }[kind]()
    sio.dump(est, tmp_path / "est.skops")
    model = model_from_sklearn(load_sklearn(tmp_path / "est.skops"))
    expected = est.predict(data)
    if model.is_regressor:
        np.testing.assert_allclose(model.predict(data), expected, rtol=1e-9)
    else:
        np.testing.assert_array_equal(model.predict(data), expected)


def test_a_skops_file_with_an_untrusted_type_is_refused_naming_it_and_nothing_built(tmp_path):
    sio = pytest.importorskip("skops.io")
    import os

    from handgrad.export import load_sklearn

    sio.dump({"run": os.system, "n": 1}, tmp_path / "x.skops")
    with pytest.raises(InputError, match=r"'posix\.system'"):
        load_sklearn(tmp_path / "x.skops")
    (tmp_path / "y.skops").write_bytes((tmp_path / "x.skops").read_bytes()[:200])
    with pytest.raises(InputError, match="damaged"):  # cut short: no zip archive any more
        load_sklearn(tmp_path / "y.skops")
