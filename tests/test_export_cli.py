"""`handgrad export` and `handgrad import-sklearn`: files written, predictions kept, one-line errors."""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import handgrad as hg  # noqa: E402
from handgrad.cli.main import main  # noqa: E402
from handgrad.data.preprocessing import Standardizer  # noqa: E402


@pytest.fixture()
def model_file(tmp_path):
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 4))
    model = hg.Model(hg.MLP([4, 8, 3], seed=1), np.array(["a", "b", "c"]), scaler=Standardizer().fit(X))
    path = tmp_path / "m.safetensors"
    hg.save_model(model, path)
    return path, model, X


def test_export_onnx_and_torch(model_file, tmp_path, capsys):
    path, model, X = model_file
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"X": X.astype(np.float32)})
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-5)
    torch = pytest.importorskip("torch")
    assert main(["export", str(path), "--format", "torch", "--out", str(tmp_path / "m.pt")]) == 0
    from handgrad.export import load_torch

    with torch.no_grad():
        P = load_torch(tmp_path / "m.pt")(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(P, model.predict_proba(X), rtol=1e-5)


def test_export_errors_are_one_line(model_file, tmp_path, capsys):
    path, _, _ = model_file
    assert main(["export", str(tmp_path / "none.safetensors"), "--format", "onnx",
                 "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("handgrad export: error:") and err.count("\n") == 1 and "no such file" in err
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and err.count("\n") == 1


def _iris_pipeline():
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=100, random_state=0)).fit(X, y), X


def test_import_sklearn_reads_a_skops_file_and_a_pickle_only_with_trust_pickle(tmp_path, capsys):
    sio = pytest.importorskip("skops.io")
    pipe, X = _iris_pipeline()
    sio.dump(pipe, tmp_path / "pipe.skops")
    assert main(["import-sklearn", str(tmp_path / "pipe.skops"), "--out", str(tmp_path / "a.safetensors")]) == 0
    np.testing.assert_array_equal(hg.load_model(tmp_path / "a.safetensors").predict(X), pipe.predict(X))
    pkl = tmp_path / "pipe.pkl"
    pkl.write_bytes(pickle.dumps(pipe))
    out = tmp_path / "imported.safetensors"
    assert main(["import-sklearn", str(pkl), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust-pickle" in err[0] and "runs whatever code" in err[0] and not out.exists()
    assert main(["import-sklearn", str(pkl), "--out", str(out), "--trust-pickle"]) == 0
    np.testing.assert_array_equal(hg.load_model(out).predict(X), pipe.predict(X))


def test_import_sklearn_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle at all")
    assert main(["import-sklearn", str(bad), "--out", str(tmp_path / "m.safetensors"), "--trust-pickle"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("handgrad import-sklearn: error: cannot read") and len(err) == 1
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"not": "an estimator"}))
    assert main(["import-sklearn", str(other), "--out", str(tmp_path / "m.safetensors"), "--trust-pickle"]) == 2
    assert "expected a fitted MLPClassifier" in capsys.readouterr().err
    assert main(["import-sklearn", str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "m")]) == 2
    assert "no such file" in capsys.readouterr().err


# ----- regression: a model trained through the CLI, exported, against `handgrad predict` -----

def _train(args, out_dir):
    assert main(["train", *args, "--epochs", "5", "--val-fraction", "0", "--no-plot", "--quiet",
                 "--seed", "0", "--out-dir", str(out_dir)]) == 0
    return out_dir / "model.safetensors"


def _predicted(model_path, data_args, out):
    """`handgrad predict`'s numbers (n, k), as written in its CSV."""
    pd = pytest.importorskip("pandas")
    assert main(["predict", str(model_path), *data_args, "--out", str(out), "--quiet"]) == 0
    return pd.read_csv(out).to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def penguins_csv(tmp_path_factory):
    palmerpenguins = pytest.importorskip("palmerpenguins")
    path = tmp_path_factory.mktemp("penguins") / "penguins.csv"
    palmerpenguins.load_penguins().to_csv(path, index=False)  # text columns and empty cells
    return path


@pytest.mark.parametrize("options", [
    ["--target-transform", "standardize"], ["--target-transform", "log"], ["--target-transform", "none"],
    ["--loss", "poisson"], ["--target-transform", "standardize", "--dtype", "float64"],
    ["--loss", "huber"]],
    ids=["standardize", "log", "none", "poisson", "float64", "huber"])
def test_a_regressor_trained_on_penguins_exports_to_onnx_predicting_what_predict_writes(
        penguins_csv, options, tmp_path):
    pd = pytest.importorskip("pandas")
    from handgrad.export import onnx_inputs

    path = _train(["--data", str(penguins_csv), "--target", "body_mass_g", *options], tmp_path / "run")
    model = hg.load_model(path)
    assert model.is_regressor and model.encoder is not None
    written = _predicted(path, ["--data", str(penguins_csv)], tmp_path / "pred.csv")
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (variable,) = session.run(None, onnx_inputs(model, pd.read_csv(penguins_csv)))
    assert variable.shape == written.shape == (344, 1)
    # predict writes 8 significant digits; the float32 network's rounding is ~1e-7 of a body mass
    np.testing.assert_allclose(variable, written, rtol=1e-5, atol=0)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["task"] == "regressor" and meta["target_names"] == '["body_mass_g"]'


def test_torch_export_of_a_table_regressor_is_refused_in_one_line(penguins_csv, tmp_path, capsys):
    pytest.importorskip("torch")
    path = _train(["--data", str(penguins_csv), "--target", "body_mass_g"], tmp_path / "run")
    capsys.readouterr()
    assert main(["export", str(path), "--format", "torch", "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("handgrad export: error:") and err.count("\n") == 1 and "--format onnx" in err


@pytest.mark.parametrize("options", [["--target-transform", "standardize"], ["--target-transform", "log"],
                                     ["--loss", "poisson"]], ids=["standardize", "log", "poisson"])
def test_a_regressor_trained_on_diabetes_exports_to_onnx_and_torch(options, tmp_path):
    path = _train(["--dataset", "diabetes", *options], tmp_path / "run")
    written = _predicted(path, ["--dataset", "diabetes"], tmp_path / "pred.csv")
    X = hg.load_dataset("diabetes").X
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (variable,) = session.run(None, {"X": X.astype(np.float32)})
    # a few predictions come near 0 (y = μ + σ·z cancels): relative to the largest there
    scale = np.abs(written).max()
    np.testing.assert_allclose(variable, written, rtol=1e-5, atol=1e-5 * scale)
    torch = pytest.importorskip("torch")
    from handgrad.export import load_torch

    assert main(["export", str(path), "--format", "torch", "--out", str(tmp_path / "m.pt")]) == 0
    with torch.no_grad():
        got = load_torch(tmp_path / "m.pt")(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(got, written, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_import_sklearn_of_a_regressor_writes_a_regression_model_file(loss, tmp_path, capsys):
    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), MLPRegressor(loss=loss, hidden_layer_sizes=(16,),
                                                            max_iter=200, random_state=0)).fit(X, y)
    pkl = tmp_path / "reg.pkl"
    pkl.write_bytes(pickle.dumps(pipe))
    out = tmp_path / "imported.safetensors"
    assert main(["import-sklearn", str(pkl), "--out", str(out), "--trust-pickle"]) == 0
    head = {"squared_error": "identity", "poisson": "exp"}[loss]
    assert f"regression, {head} output" in capsys.readouterr().out
    model = hg.load_model(out)
    np.testing.assert_allclose(model.predict(X), pipe.predict(X), rtol=1e-12, atol=0)
    from handgrad.export import to_onnx

    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    (variable,) = session.run(None, {"X": X})
    np.testing.assert_allclose(variable[:, 0], pipe.predict(X), rtol=1e-12, atol=0)
