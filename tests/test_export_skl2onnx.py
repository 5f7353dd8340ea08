"""skl2onnx integration: after handgrad.export.register_skl2onnx(), skl2onnx.to_onnx converts
Pipelines ending in handgrad's estimators; ONNX Runtime reproduces their predictions."""

import warnings

import numpy as np
import pytest

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris, load_wine  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

from handgrad.export import register_skl2onnx  # noqa: E402
from handgrad.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_pipeline_with_a_scaler_and_the_classifier(activation, dtype):
    register_skl2onnx()
    X, y = load_wine(return_X_y=True)
    y = np.array(["barolo", "grignolino", "barbera"])[y]
    pipe = fit_quietly(Pipeline([("scale", StandardScaler()),
                                 ("mlp", MLPClassifier((16,), activation=activation, max_iter=40,
                                                       random_state=0))]), X.astype(dtype), y)
    onx = skl2onnx.to_onnx(pipe, X[:1].astype(dtype), options={"zipmap": False})
    label, proba = run(onx, X.astype(dtype))
    np.testing.assert_array_equal(label, pipe.predict(X.astype(dtype)))
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(proba, pipe.predict_proba(X.astype(dtype)), rtol=rtol, atol=0)


def test_two_classes_integer_labels_and_a_column_transformer():
    register_skl2onnx()
    X, y = load_iris(return_X_y=True)
    y = (y == 2).astype(int) + 5  # labels 5 and 6
    X = X.astype(np.float32)
    pre = ColumnTransformer([("std", StandardScaler(), [0, 1]), ("mm", MinMaxScaler(), [2, 3])])
    pipe = fit_quietly(Pipeline([("pre", pre), ("mlp", MLPClassifier((8,), max_iter=60, random_state=1))]),
                       X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    label, proba = run(onx, X)
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=1e-5, atol=0)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_pipeline_with_the_regressor(loss):
    register_skl2onnx()
    X, y = load_diabetes(return_X_y=True)
    y = np.column_stack([y / 100.0, np.abs(X[:, 2]) * 10])
    X = X.astype(np.float32)
    pipe = fit_quietly(Pipeline([("scale", StandardScaler()),
                                 ("mlp", MLPRegressor(loss, hidden_layer_sizes=(10,), max_iter=40,
                                                      random_state=0))]), X, y)
    (pred,) = run(skl2onnx.to_onnx(pipe, X[:1]), X)
    want = pipe.predict(X)
    assert pred.shape == want.shape
    np.testing.assert_allclose(pred, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_the_default_zipmap_output_works_too():
    register_skl2onnx()
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    pipe = fit_quietly(Pipeline([("scale", StandardScaler()),
                                 ("mlp", MLPClassifier((8,), max_iter=30, random_state=0))]), X, y)
    label, maps = run(skl2onnx.to_onnx(pipe, X[:1]), X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    proba = pipe.predict_proba(X)
    np.testing.assert_allclose([[m[k] for k in range(3)] for m in maps], proba, rtol=1e-5)
