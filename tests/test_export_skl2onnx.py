"""skl2onnx integration: after handgrad.export.register_skl2onnx(), skl2onnx.to_onnx converts
Pipelines ending in handgrad's estimators, after skl2onnx's transformers or handgrad's
TableTransformer; ONNX Runtime reproduces their predictions."""

import warnings

import numpy as np
import pytest

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris, load_wine  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

from handgrad.errors import InputError  # noqa: E402
from handgrad.export import onnx_inputs, register_skl2onnx, skl2onnx_inputs  # noqa: E402
from handgrad.sklearn import MLPClassifier, MLPRegressor, TableTransformer  # noqa: E402


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_pipeline_with_the_regressor(loss, n_outputs, dtype):
    register_skl2onnx()
    X, y = load_diabetes(return_X_y=True)
    y = np.column_stack([y / 100.0, np.abs(X[:, 2]) * 10])[:, :n_outputs].squeeze()
    X = X.astype(dtype)
    pipe = fit_quietly(Pipeline([("scale", StandardScaler()),
                                 ("mlp", MLPRegressor(loss, hidden_layer_sizes=(10,), max_iter=40,
                                                      random_state=0))]), X, y)
    (pred,) = run(skl2onnx.to_onnx(pipe, X[:1]), X)
    want = pipe.predict(X)
    assert pred.shape == (len(X), n_outputs) and pred.dtype == dtype  # as skl2onnx's MLPRegressor
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pred.reshape(want.shape), want, rtol=rtol, atol=rtol * np.abs(want).max())


def _penguin_table(n=240, seed=0):
    """Text columns, true/false text, empty cells, an integer column."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)
    flipper = np.where(species == "Gentoo", 217.0, 192.0) + rng.normal(0, 5, n)
    frame = pd.DataFrame({"species": species, "island": rng.choice(["Dream", "Torgersen", "Biscoe"], n),
                          "flipper_length_mm": flipper.round(0), "sex": rng.choice(["male", "female"], n),
                          "tagged": rng.choice(["yes", "no"], n), "year": rng.choice([2007, 2008, 2009], n)})
    frame.loc[rng.choice(n, 12, replace=False), "flipper_length_mm"] = np.nan
    frame.loc[rng.choice(n, 9, replace=False), "sex"] = None
    mass = 20.0 * np.nan_to_num(frame["flipper_length_mm"].to_numpy(), nan=200.0) + np.where(
        frame["sex"] == "male", 400.0, 0.0) + rng.normal(0, 100, n)
    return frame, mass


@pytest.mark.parametrize("estimator", ["regressor", "poisson", "classifier"])
def test_a_pipeline_after_a_table_transformer(estimator):
    register_skl2onnx()
    frame, mass = _penguin_table()
    if estimator == "classifier":
        est, y = MLPClassifier((8,), max_iter=60, random_state=0), frame.pop("species")
    else:
        est, y = MLPRegressor("poisson" if estimator == "poisson" else "squared_error", hidden_layer_sizes=(8,),
                              max_iter=60, random_state=0), np.column_stack([mass, mass / 1000])
    pipe = fit_quietly(Pipeline([("table", TableTransformer(max_categories=2)), ("mlp", est)]), frame, y)
    options = {"zipmap": False} if estimator == "classifier" else None
    onx = skl2onnx.to_onnx(pipe, initial_types=skl2onnx_inputs(pipe), options=options)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    new, _ = _penguin_table(60, seed=1)
    new.loc[:4, "island"] = "Atlantis"  # unseen: the (other) column, as TableTransformer.transform
    out = session.run(None, onnx_inputs(pipe, new))
    if estimator == "classifier":
        np.testing.assert_array_equal(out[0], pipe.predict(new))
        np.testing.assert_allclose(out[1], pipe.predict_proba(new), rtol=1e-12, atol=0)
    else:  # the transformer gives double, so the network computes in double, as pipe.predict does
        assert out[0].dtype == np.float64
        np.testing.assert_allclose(out[0], pipe.predict(new), rtol=1e-12, atol=0)


def test_table_inputs_of_the_wrong_kind_are_refused_by_name():
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    register_skl2onnx()
    frame, mass = _penguin_table()
    pipe = fit_quietly(Pipeline([("table", TableTransformer()),
                                 ("mlp", MLPRegressor(hidden_layer_sizes=(4,), max_iter=5))]), frame, mass)
    types = [(name, DoubleTensorType([None, 1]) if name == "species" else t)
             for name, t in skl2onnx_inputs(pipe)]
    with pytest.raises(InputError, match="'species' is categorical.*string"):
        skl2onnx.to_onnx(pipe, initial_types=types)
    types = [(name, StringTensorType([None, 1])) for name, _ in skl2onnx_inputs(pipe)]
    with pytest.raises(InputError, match="'flipper_length_mm' is numeric"):
        skl2onnx.to_onnx(pipe, initial_types=types)
    with pytest.raises(InputError, match="'year'"):
        skl2onnx.to_onnx(pipe, initial_types=skl2onnx_inputs(pipe)[:-1])


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
