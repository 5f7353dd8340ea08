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


def test_import_sklearn_warns_and_writes_a_model_file(tmp_path, capsys):
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=100, random_state=0)).fit(X, y)
    pkl = tmp_path / "pipe.pkl"
    pkl.write_bytes(pickle.dumps(pipe))
    out = tmp_path / "imported.safetensors"
    assert main(["import-sklearn", str(pkl), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "runs whatever code" in captured.err and "trust" in captured.err
    np.testing.assert_array_equal(hg.load_model(out).predict(X), pipe.predict(X))


def test_import_sklearn_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle at all")
    assert main(["import-sklearn", str(bad), "--out", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("handgrad import-sklearn: error: cannot read") and len(err) == 2
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"not": "an estimator"}))
    assert main(["import-sklearn", str(other), "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "expected a fitted MLPClassifier" in capsys.readouterr().err
    assert main(["import-sklearn", str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "m")]) == 2
    assert "no such file" in capsys.readouterr().err
