"""ONNX export (handgrad.export.to_onnx) checked by ONNX Runtime against handgrad's own
predictions: every activation × head × dtype on random networks, models with standardisation
and table encodings, regression models (every head × target scaling × dtype: predictions in
the target's units), fitted handgrad.sklearn estimators on scikit-learn's bundled data."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pd = pytest.importorskip("pandas")

import handgrad as hg  # noqa: E402
from handgrad.data.features import TableEncoder  # noqa: E402
from handgrad.data.preprocessing import Standardizer  # noqa: E402
from handgrad.data.target_scaling import TargetScaler  # noqa: E402
from handgrad.errors import InputError  # noqa: E402
from handgrad.export import onnx_inputs, save_onnx, to_onnx  # noqa: E402

ACTIVATIONS = ["relu", "leaky_relu(alpha=0.2)", "sigmoid", "tanh", "identity"]
HEADS = [("softmax", 4), ("logistic", 3), ("identity", 2), ("exp", 1)]
DTYPES = ["float32", "float64"]
# probabilities: relative, as the issue asks (float32), and near float64's rounding
RTOL = {"float32": 1e-5, "float64": 1e-12}


def run(obj, X):
    model = to_onnx(obj)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, onnx_inputs(obj, X))))


def assert_regression_close(got, want, dtype):
    # values near 0 have no meaningful relative error: compare against the outputs' scale
    scale = np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head,k", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_head_and_dtype_on_random_networks(activation, head, k, dtype):
    net = hg.MLP([5, 9, 7, k], activation=activation, dtype=dtype, seed=3, output=head)
    X = np.random.default_rng(1).normal(scale=2.0, size=(300, 5))
    out = run(net, X)
    if head in ("softmax", "logistic"):
        np.testing.assert_allclose(out["probabilities"], net.predict_proba(X), rtol=RTOL[dtype], atol=0)
        assert out["probabilities"].dtype == np.dtype(dtype)
        labels = net.predict(X)
        np.testing.assert_array_equal(out["label"], labels.reshape(out["label"].shape))
    else:
        assert_regression_close(out["variable"], net.predict(X).reshape(-1, k), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_model_with_standardisation_and_string_labels(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[100.0, -3.0, 0.0, 5e3], scale=[10.0, 0.1, 1.0, 800.0], size=(400, 4))
    net = hg.MLP([4, 16, 3], activation="tanh", dtype=dtype, seed=2)
    model = hg.Model(net, np.array(["cat", "dog", "eel"]), scaler=Standardizer().fit(X),
                     feature_names=["a", "b", "c", "d"])
    out = run(model, X)
    np.testing.assert_array_equal(out["label"], model.predict(X))
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=RTOL[dtype], atol=0)
    meta = {p.key: p.value for p in to_onnx(model).metadata_props}
    assert json.loads(meta["classes"]) == ["cat", "dog", "eel"]
    assert json.loads(meta["feature_names"]) == ["a", "b", "c", "d"]
    assert meta["handgrad_version"] == hg.__version__ and meta["preprocessing"] == "standardize"


def test_the_batch_dimension_is_dynamic_and_the_graph_checks():
    net = hg.MLP([3, 4, 2], seed=0)
    model = to_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "N"
    for n in (1, 7, 1000):
        X = np.random.default_rng(n).normal(size=(n, 3))
        assert run(net, X)["probabilities"].shape == (n, 2)


def _table(n, rng, unseen=False):
    colour = rng.choice(["red", "green", "blue", "teal", "plum"], size=n, p=[.4, .3, .2, .05, .05])
    if unseen:
        colour[:10] = "violet"
    size = rng.normal(50, 20, size=n)
    size[rng.random(n) < 0.15] = np.nan
    weight = rng.normal(3, 1, size=n)
    flag = rng.choice(["yes", "no", None], size=n, p=[.5, .4, .1])
    shop = rng.choice(["a", "b", None], size=n).astype(object)
    if unseen:
        weight[:5] = np.nan  # missing where training had no empty cell: the fill, no indicator
        shop[5:15] = "  b "  # spaces around a value, as handgrad strips them
    return pd.DataFrame({"colour": colour, "size": size, "weight": weight, "flag": flag, "shop": shop})


@pytest.mark.parametrize("scaling", ["standard", "quantile", "both"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_table_model_with_categories_other_missing_and_unseen_values(dtype, scaling):
    rng = np.random.default_rng(5)
    frame = _table(300, rng)
    encoder = TableEncoder(max_categories=3, scaling=scaling).fit(frame)
    kinds = {s["name"]: s["kind"] for s in encoder.columns_}
    assert kinds == {"colour": "categorical", "size": "numeric", "weight": "numeric",
                     "flag": "boolean", "shop": "categorical"}
    names = encoder.feature_names_out_
    assert "colour=(other)" in names and "size (missing)" in names and "shop=(missing)" in names
    net = hg.MLP([len(names), 12, 3], activation="relu", dtype=dtype, seed=4)
    model = hg.Model(net, np.array([10, 20, 30]), feature_names=names, encoder=encoder)
    new = _table(200, np.random.default_rng(6), unseen=True)
    out = run(model, new)
    np.testing.assert_array_equal(out["label"], model.predict(new))
    assert out["label"].dtype == np.int64
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(new), rtol=RTOL[dtype], atol=0)


def test_the_quantile_map_in_onnx_equals_numpy_interp_at_and_between_knots_and_beyond_the_ends():
    """The map alone (an identity network reads it out): values on every knot, between knots,
    beyond both ends, on a spike's knot, a two-valued column, and empty cells."""
    rng = np.random.default_rng(7)
    train = pd.DataFrame({"spiky": np.r_[np.zeros(150), rng.lognormal(size=150)],
                          "even": rng.uniform(-5, 5, 300), "two": np.arange(300) % 2 * 3.0})
    encoder = TableEncoder(scaling="quantile").fit(train)
    knots = [np.array(s["quantiles"]["x"]) for s in encoder.columns_]
    assert knots[1].size == 128 and knots[2].size == 2 and knots[0][0] == 0 < knots[0].size < 128
    cols = [np.r_[k, (k[:-1] + k[1:]) / 2, k[0] - 1e6, k[-1] + 1e6, np.nan] for k in knots]
    n = max(c.size for c in cols)
    new = pd.DataFrame({name: np.r_[c, np.full(n - c.size, np.nan)] for name, c in zip(train.columns, cols)})
    net = hg.MLP([3, 3], activation="identity", dtype="float64", seed=0, output="identity")
    net.weights[0][:] = np.eye(3)
    net.biases[0][:] = 0
    model = hg.Model(net, None, encoder=encoder, target=TargetScaler("none", np.zeros(3), np.ones(3)))
    want = model.predict(new)
    np.testing.assert_array_equal(want, encoder.transform(new))
    got = run(model, new)
    np.testing.assert_allclose(next(iter(got.values())), want, rtol=1e-13, atol=1e-13)


def test_a_categorical_column_without_other_sends_unseen_values_nowhere():
    frame = pd.DataFrame({"k": ["x", "y", "z", "x"] * 10, "v": np.arange(40.0) % 7})
    encoder = TableEncoder().fit(frame)
    net = hg.MLP([len(encoder.feature_names_out_), 5, 2], dtype="float64", seed=1)
    model = hg.Model(net, np.array([0, 1]), encoder=encoder)
    new = pd.DataFrame({"k": ["x", "w", None, "z"], "v": [1.0, 2.0, 3.0, 4.0]})
    np.testing.assert_allclose(run(model, new)["probabilities"], model.predict_proba(new), rtol=1e-12)


# the huber head predicts Z as identity does
REGRESSION_HEADS = ["identity", "exp", "huber"]
TARGET_KINDS = ["standardize", "log", "scale", "none"]


def target_scaler(kind, k=2):
    """A target scaling of each kind, for k outputs, shaped like fitted ones (body masses,
    log prices, counts)."""
    mean = {"standardize": [4200.0, -30.0], "log": [8.3, 1.0], "scale": [0.0, 0.0],
            "none": [0.0, 0.0]}[kind][:k]
    scale = {"standardize": [800.0, 5.0], "log": [0.3, 0.5], "scale": [150.0, 2.0],
             "none": [1.0, 1.0]}[kind][:k]
    return TargetScaler(kind, np.array(mean), np.array(scale))


def regression_model(head, kind, dtype, k=2, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=[100.0, -3.0, 0.0, 5e3], scale=[10.0, 0.1, 1.0, 800.0], size=(300, 4))
    net = hg.MLP([4, 10, 8, k], activation="tanh", dtype=dtype, seed=seed, output=head)
    model = hg.Model(net, None, scaler=Standardizer().fit(X), feature_names=["a", "b", "c", "d"],
                     target=target_scaler(kind, k), target_names=["mass", "depth"][:k])
    return model, X


def max_relative(got, want):
    return float(np.max(np.abs(got - want) / np.abs(want)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("head", REGRESSION_HEADS)
def test_a_regression_model_predicts_in_the_targets_units(head, kind, dtype):
    model, X = regression_model(head, kind, dtype)
    out = run(model, X)
    want = model.predict(X)
    assert out["variable"].shape == want.shape == (len(X), 2)
    assert out["variable"].dtype == np.float64  # the target scaling runs in double, as handgrad's
    assert_regression_close(out["variable"], want, dtype)
    if kind in ("standardize", "log") or head == "exp":  # no values near 0: relative alone
        assert max_relative(out["variable"], want) < RTOL[dtype]
    meta = {p.key: p.value for p in to_onnx(model).metadata_props}
    assert meta["task"] == "regressor" and meta["head"] == head and "classes" not in meta
    assert json.loads(meta["target_names"]) == ["mass", "depth"]
    scaling = json.loads(meta["target_scaling"])
    assert scaling["kind"] == kind
    np.testing.assert_array_equal(scaling["mean"], model.target.mean)
    np.testing.assert_array_equal(scaling["scale"], model.target.scale)
    ops = [n.op_type for n in to_onnx(model).graph.node]
    assert ops.count("Exp") == (head == "exp") + (kind == "log")


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_regressor_with_one_output_and_no_target_scaling(dtype):
    net = hg.MLP([3, 6, 1], activation="relu", dtype=dtype, seed=1, output="identity")
    model = hg.Model(net, None)  # no scaling: the network's outputs are the target's units
    X = np.random.default_rng(2).normal(size=(50, 3))
    out = run(model, X)
    assert out["variable"].shape == (50, 1) and out["variable"].dtype == np.float64
    assert_regression_close(out["variable"][:, 0], model.predict(X), dtype)
    meta = {p.key: p.value for p in to_onnx(model).metadata_props}
    assert json.loads(meta["target_scaling"]) == {"kind": "none", "mean": [0.0], "scale": [1.0]}


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_a_regression_table_model_with_unseen_and_missing_values(kind):
    rng = np.random.default_rng(5)
    frame = _table(300, rng)
    encoder = TableEncoder(max_categories=3).fit(frame)
    names = encoder.feature_names_out_
    net = hg.MLP([len(names), 12, 1], activation="relu", dtype="float32", seed=4, output="identity")
    model = hg.Model(net, None, feature_names=names, encoder=encoder, target=target_scaler(kind, 1),
                     target_names=["price"])
    new = _table(200, np.random.default_rng(6), unseen=True)
    out = run(model, new)
    assert_regression_close(out["variable"][:, 0], model.predict(new), "float32")


@pytest.fixture(scope="module")
def wine_model():
    data = hg.load_dataset("wine")
    return hg.train_classifier(data.X, data.y, feature_names=data.feature_names, hidden_sizes=[16],
                               epochs=15, patience=None, validation_fraction=0, seed=0), data


def test_a_trained_model_file_on_real_data(wine_model, tmp_path):
    model, data = wine_model
    path = tmp_path / "wine.safetensors"
    hg.save_model(model, path)
    out = run(str(path), data.X)
    np.testing.assert_array_equal(out["label"], model.predict(data.X))
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(data.X), rtol=1e-5, atol=0)
    written = save_onnx(path, tmp_path / "wine.onnx")
    session = ort.InferenceSession(str(written), providers=["CPUExecutionProvider"])
    label, _ = session.run(None, {"X": data.X.astype(np.float32)})
    np.testing.assert_array_equal(label, model.predict(data.X))


sklearn = pytest.importorskip("sklearn")


def _fitted(kind, activation, dtype):
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
    from sklearn.preprocessing import StandardScaler

    from handgrad.sklearn import MLPClassifier, MLPRegressor

    loaders = {"binary": load_breast_cancer, "multiclass": load_wine, "strings": load_iris,
               "regression": load_diabetes, "poisson": load_diabetes, "multilabel": load_iris}
    X, y = loaders[kind](return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(dtype)
    if kind == "strings":
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    if kind == "multilabel":
        y = np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int)
    if kind == "poisson":
        y = np.round(y / 30.0)
    common = dict(hidden_layer_sizes=(12,), activation=activation, max_iter=30, random_state=0)
    if kind in ("regression", "poisson"):
        est = MLPRegressor(loss="poisson" if kind == "poisson" else "squared_error", **common)
    else:
        est = MLPClassifier(**common)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return est.fit(X, y), X


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "strings", "multilabel", "regression",
                                  "poisson"])
def test_fitted_sklearn_estimators_on_bundled_data(kind, activation, dtype):
    est, X = _fitted(kind, activation, dtype)
    out = run(est, X)
    if kind in ("regression", "poisson"):
        assert_regression_close(out["variable"], est.predict(X).reshape(out["variable"].shape), dtype)
        return
    np.testing.assert_array_equal(out["label"], est.predict(X))
    np.testing.assert_allclose(out["probabilities"], est.predict_proba(X), rtol=RTOL[dtype], atol=0)


def test_a_pipeline_with_a_scaler_exports_directly():
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from handgrad.sklearn import MLPClassifier

    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=5, random_state=0))
    with pytest.warns(Warning):
        pipe.fit(X, y)
    out = run(pipe, X)
    np.testing.assert_array_equal(out["label"], pipe.predict(X))
    np.testing.assert_allclose(out["probabilities"], pipe.predict_proba(X), rtol=1e-12, atol=0)


def test_custom_activations_and_other_objects_are_refused_clearly():
    hg.register_activation("softsign_x", lambda z: z / (1 + np.abs(z)),
                           lambda z: 1 / (1 + np.abs(z)) ** 2, overwrite=True)
    try:
        net = hg.MLP([2, 3, 2], activation="softsign_x")
        with pytest.raises(InputError, match="custom one.*retrain"):
            to_onnx(net)
    finally:
        hg.core.activations.unregister_activation("softsign_x")
    with pytest.raises(InputError, match="cannot export a dict"):
        to_onnx({})
    from handgrad.sklearn import MLPClassifier

    with pytest.raises(InputError, match="not fitted"):
        to_onnx(MLPClassifier())
