"""PyTorch export (handgrad.export.to_torch / build_torch_module): the rebuilt
torch.nn.Sequential reproduces handgrad's predictions for every activation × head × dtype, and
a regression Model's in the target's units for every head × target scaling × dtype."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import handgrad as hg  # noqa: E402
from handgrad.data.preprocessing import Standardizer  # noqa: E402
from handgrad.data.target_scaling import TargetScaler  # noqa: E402
from handgrad.errors import InputError  # noqa: E402
from handgrad.export import build_torch_module, load_torch, save_torch, to_torch  # noqa: E402

ACTIVATIONS = ["relu", "leaky_relu(alpha=0.2)", "sigmoid", "tanh", "identity"]
HEADS = [("softmax", 4), ("logistic", 3), ("identity", 2), ("exp", 1)]
RTOL = {"float32": 1e-5, "float64": 1e-12}


def torch_out(obj, X):
    exported = to_torch(obj)
    module = build_torch_module(exported["architecture"], exported["state_dict"])
    dtype = torch.float64 if exported["architecture"]["dtype"] == "float64" else torch.float32
    with torch.no_grad():
        return module(torch.as_tensor(X, dtype=dtype)).numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head,k", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_head_and_dtype(activation, head, k, dtype):
    net = hg.MLP([5, 9, 7, k], activation=activation, dtype=dtype, seed=3, output=head)
    X = np.random.default_rng(1).normal(scale=2.0, size=(200, 5))
    got = torch_out(net, X)
    assert got.dtype == np.dtype(dtype)
    if head in ("softmax", "logistic"):
        np.testing.assert_allclose(got, net.predict_proba(X), rtol=RTOL[dtype], atol=0)
    else:
        want = net.predict(X).reshape(got.shape)
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(want).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_model_file_with_standardisation_round_trips_through_a_file(dtype, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[100.0, -3.0, 5e3], scale=[10.0, 0.1, 800.0], size=(300, 3))
    model = hg.Model(hg.MLP([3, 8, 3], activation="tanh", dtype=dtype, seed=2), np.array(["a", "b", "c"]),
                     scaler=Standardizer().fit(X))
    hg.save_model(model, tmp_path / "m.safetensors")
    path = save_torch(tmp_path / "m.safetensors", tmp_path / "m.pt")
    saved = torch.load(path, weights_only=True)  # tensors and plain values only
    assert saved["architecture"]["classes"] == ["a", "b", "c"]
    module = load_torch(path)
    with torch.no_grad():
        P = module(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(P, model.predict_proba(X), rtol=RTOL[dtype], atol=0)
    np.testing.assert_array_equal(model.classes[P.argmax(axis=1)], model.predict(X))


REGRESSION_HEADS = ["identity", "exp", "huber"]
SCALINGS = {"standardize": ([4200.0, -30.0], [800.0, 5.0]), "log": ([8.3, 1.0], [0.3, 0.5]),
            "scale": ([0.0, 0.0], [150.0, 2.0]), "none": ([0.0, 0.0], [1.0, 1.0])}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", list(SCALINGS))
@pytest.mark.parametrize("head", REGRESSION_HEADS)
def test_a_regression_model_predicts_in_the_targets_units(head, kind, dtype, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[100.0, -3.0, 5e3], scale=[10.0, 0.1, 800.0], size=(300, 3))
    mean, scale = SCALINGS[kind]
    model = hg.Model(hg.MLP([3, 8, 2], activation="tanh", dtype=dtype, seed=2, output=head), None,
                     scaler=Standardizer().fit(X), target=TargetScaler(kind, np.array(mean), np.array(scale)),
                     target_names=["mass", "depth"])
    hg.save_model(model, tmp_path / "m.safetensors")
    path = save_torch(tmp_path / "m.safetensors", tmp_path / "m.pt")
    saved = torch.load(path, weights_only=True)
    assert saved["architecture"]["target"] == {"kind": kind}
    assert saved["architecture"]["target_names"] == ["mass", "depth"]
    with torch.no_grad():
        got = load_torch(path)(torch.as_tensor(X)).numpy()
    want = model.predict(X)
    assert got.dtype == np.float64 and got.shape == want.shape  # the scaling runs in double
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(want).max())
    if kind in ("standardize", "log") or head == "exp":  # no values near 0: relative alone
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=0)


def test_a_regressor_without_target_scaling_and_a_newer_file_is_refused():
    model = hg.Model(hg.MLP([3, 4, 1], dtype="float64", seed=0, output="exp"), None)
    X = np.random.default_rng(1).normal(size=(20, 3))
    got = torch_out(model, X)
    np.testing.assert_allclose(got[:, 0], model.predict(X), rtol=1e-12)
    exported = to_torch(model)
    exported["architecture"]["format_version"] = 99
    with pytest.raises(InputError, match="newer than this handgrad"):
        build_torch_module(exported["architecture"], exported["state_dict"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_two_class_sklearn_estimator_gives_both_columns():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from handgrad.sklearn import MLPClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = MLPClassifier((10,), max_iter=300, random_state=0).fit(X, y)
    np.testing.assert_allclose(torch_out(est, X), est.predict_proba(X), rtol=1e-12, atol=0)


def test_table_models_and_foreign_architectures_are_refused():
    pd = pytest.importorskip("pandas")
    from handgrad.data.features import TableEncoder

    enc = TableEncoder().fit(pd.DataFrame({"k": ["x", "y"] * 10, "v": np.arange(20.0) % 3}))
    model = hg.Model(hg.MLP([len(enc.feature_names_out_), 3, 2], seed=0), np.array([0, 1]), encoder=enc)
    with pytest.raises(InputError, match="format onnx"):
        to_torch(model)
    regressor = hg.Model(hg.MLP([len(enc.feature_names_out_), 3, 1], seed=0, output="identity"), None,
                         encoder=enc, target=TargetScaler("standardize", np.array([5.0]), np.array([2.0])))
    with pytest.raises(InputError, match="format onnx.*target.inverse"):
        to_torch(regressor)
    with pytest.raises(InputError, match="not a handgrad PyTorch architecture"):
        build_torch_module({"sizes": [2, 2]})
