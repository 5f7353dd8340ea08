"""How closely exported regression models reproduce handgrad's and scikit-learn's predictions.

* regressors trained through the CLI (palmerpenguins' table: text columns and empty cells;
  the built-in diabetes set), exported with ``handgrad export``: ONNX Runtime's ``variable``
  and the PyTorch module's output against the numbers ``handgrad predict`` writes (8
  significant digits) and against ``Model.predict`` unrounded;
* scikit-learn's own MLPRegressor fitted on its bundled diabetes set, imported with
  ``model_from_sklearn``: handgrad's predictions against scikit-learn's;
* skl2onnx on Pipelines ending in handgrad.sklearn's MLPRegressor, against ``pipe.predict``.

"max rel" is max |a − b|/|b| over every row and output; "max rel to largest" divides by the
largest |b| instead (predictions near 0, where y = μ + σ·z cancels, have no meaningful
relative error). Prints a Markdown report and writes bench/results/export_regression_precision.md.

    python bench/export_regression_precision.py
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

import handgrad as hg
from handgrad.cli.main import main as cli
from handgrad.export import load_torch, model_from_sklearn, onnx_inputs, register_skl2onnx

from benchenv import cpu_model  # noqa: E402  (bench/ is the script's directory)


def rel(a, b) -> tuple[float, float]:
    a, b = np.asarray(a, np.float64).reshape(np.shape(b)), np.asarray(b, np.float64)
    d = np.abs(a - b)
    return float(np.max(d / np.abs(b))), float(np.max(d) / np.max(np.abs(b)))


def run_cli(*args) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli(list(args))
    if code != 0:
        raise RuntimeError(f"handgrad {' '.join(args)} exited with {code}")


def ort_run(path, feed) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


def cli_rows(tmp: Path) -> list[str]:
    rows = []
    configs = [("standardize", ["--target-transform", "standardize"]), ("log", ["--target-transform", "log"]),
               ("none", ["--target-transform", "none"]), ("poisson (scale)", ["--loss", "poisson"]),
               ("standardize, float64", ["--target-transform", "standardize", "--dtype", "float64"])]
    try:
        import palmerpenguins

        csv = tmp / "penguins.csv"
        palmerpenguins.load_penguins().to_csv(csv, index=False)
        frame = pd.read_csv(csv)
    except ImportError:
        csv = None
    for data, data_args in ([("penguins → body_mass_g", ["--data", str(csv), "--target", "body_mass_g"])]
                            if csv else []) + [("diabetes (built-in)", ["--dataset", "diabetes"])]:
        for name, options in configs:
            if data.startswith("diabetes") and name in ("none", "standardize, float64"):
                continue
            out = tmp / "run"
            run_cli("train", *data_args, *options, "--epochs", "30", "--val-fraction", "0", "--no-plot",
                    "--quiet", "--seed", "0", "--out-dir", str(out))
            path = out / "model.safetensors"
            model = hg.load_model(path)
            predict_args = ["--data", str(csv)] if csv and data.startswith("penguins") else ["--dataset", "diabetes"]
            run_cli("predict", str(path), *predict_args, "--out", str(tmp / "pred.csv"), "--quiet")
            written = pd.read_csv(tmp / "pred.csv").to_numpy(np.float64)
            X = frame if data.startswith("penguins") else hg.load_dataset("diabetes").X
            run_cli("export", str(path), "--format", "onnx", "--out", str(tmp / "m.onnx"))
            variable = ort_run(tmp / "m.onnx", onnx_inputs(model, X))
            unrounded = model.predict(X).reshape(written.shape)
            cells = [f"{data}", name, f"{len(written)}", "%.1e / %.1e" % rel(variable, written),
                     "%.1e" % rel(variable, unrounded)[0]]
            if model.encoder is None:
                import torch

                run_cli("export", str(path), "--format", "torch", "--out", str(tmp / "m.pt"))
                with torch.no_grad():
                    got = load_torch(tmp / "m.pt")(torch.as_tensor(X)).numpy()
                cells += ["%.1e / %.1e" % rel(got, written), "%.1e" % rel(got, unrounded)[0]]
            else:
                cells += ["(table: refused)", "—"]
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def random_rows() -> list[str]:
    """Random 4 → 10 → 8 → 2 tanh networks with standardisation, each head × target scaling ×
    dtype, 2,000 rows: ONNX Runtime and the PyTorch module against Model.predict."""
    import torch

    from handgrad.data.preprocessing import Standardizer
    from handgrad.data.target_scaling import TargetScaler
    from handgrad.export import build_torch_module, to_onnx, to_torch

    scalings = {"standardize": ([4200.0, -30.0], [800.0, 5.0]), "log": ([8.3, 1.0], [0.3, 0.5]),
                "scale": ([0.0, 0.0], [150.0, 2.0]), "none": ([0.0, 0.0], [1.0, 1.0])}
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[100.0, -3.0, 0.0, 5e3], scale=[10.0, 0.1, 1.0, 800.0], size=(2000, 4))
    rows = []
    for head in ("identity", "exp"):
        for kind, (mean, scale) in scalings.items():
            for dtype in ("float32", "float64"):
                net = hg.MLP([4, 10, 8, 2], activation="tanh", dtype=dtype, seed=3, output=head)
                model = hg.Model(net, None, scaler=Standardizer().fit(X),
                                 target=TargetScaler(kind, np.array(mean), np.array(scale)))
                want = model.predict(X)
                session = ort.InferenceSession(to_onnx(model).SerializeToString(),
                                               providers=["CPUExecutionProvider"])
                got = session.run(None, onnx_inputs(model, X))[0]
                exported = to_torch(model)
                with torch.no_grad():
                    t = build_torch_module(exported["architecture"], exported["state_dict"])(
                        torch.as_tensor(X)).numpy()
                rows.append(f"| {head} | {kind} | {dtype} | " + "%.1e / %.1e" % rel(got, want)
                            + " | " + "%.1e / %.1e" % rel(t, want) + " |")
    return rows


def import_rows() -> list[str]:
    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, np.abs(X[:, 2]) * 40 + 1.0])
    Xs = StandardScaler().fit_transform(X)
    rows = []
    for loss in ("squared_error", "poisson"):
        for dtype in (np.float64, np.float32):
            for piped in (False, True):
                est = MLPRegressor(loss=loss, hidden_layer_sizes=(32,), max_iter=300, random_state=0)
                obj = make_pipeline(StandardScaler(), est) if piped else est
                data = (X if piped else Xs).astype(dtype)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    obj.fit(data, Y)
                model = model_from_sklearn(obj)
                r = rel(model.predict(data), obj.predict(data))
                rows.append(f"| {loss} | {np.dtype(dtype).name} | {'StandardScaler + ' if piped else ''}"
                            f"MLPRegressor (2 outputs) | {r[0]:.1e} / {r[1]:.1e} |")
    return rows


def skl2onnx_rows() -> list[str]:
    import skl2onnx
    from sklearn.datasets import load_diabetes
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from handgrad.export import skl2onnx_inputs
    from handgrad.sklearn import MLPRegressor, TableTransformer

    register_skl2onnx()
    rows = []
    X, y = load_diabetes(return_X_y=True)
    for dtype in (np.float32, np.float64):
        pipe = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, random_state=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(X.astype(dtype), y)
        onx = skl2onnx.to_onnx(pipe, X[:1].astype(dtype))
        got = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"X": X.astype(dtype)})[0]
        r = rel(got, pipe.predict(X.astype(dtype)))
        rows.append(f"| StandardScaler + MLPRegressor, diabetes | {np.dtype(dtype).name} | {r[0]:.1e} / {r[1]:.1e} |")
    try:
        import palmerpenguins

        frame = palmerpenguins.load_penguins()
    except ImportError:
        return rows
    frame = frame[frame["body_mass_g"].notna()]
    target = frame.pop("body_mass_g").to_numpy()
    pipe = make_pipeline(TableTransformer(), MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(frame, target)
    onx = skl2onnx.to_onnx(pipe, initial_types=skl2onnx_inputs(pipe))
    got = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, onnx_inputs(pipe, frame))[0]
    r = rel(got, pipe.predict(frame))
    rows.append(f"| TableTransformer + MLPRegressor, penguins | float64 (the table's encoding) | {r[0]:.1e} / {r[1]:.1e} |")
    return rows


def main() -> None:
    import onnx
    import sklearn

    with tempfile.TemporaryDirectory() as d:
        cli_table = cli_rows(Path(d))
    lines = ["# Exported regression models: precision", "",
             f"CPU: {cpu_model()} ({os.cpu_count()} logical cores, shared); Python {platform.python_version()}, "
             f"numpy {np.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
             f"scikit-learn {sklearn.__version__}, handgrad {hg.__version__}.", "",
             "## Trained with `handgrad train` (30 epochs, float32 unless said), exported with `handgrad export`", "",
             "Against `handgrad predict`'s CSV (8 significant digits): max rel / max rel to largest; "
             "against `Model.predict` unrounded: max rel.", "",
             "| data | target scaling | rows | ONNX vs predict CSV | ONNX vs Model.predict "
             "| torch vs predict CSV | torch vs Model.predict |",
             "|---|---|---|---|---|---|---|", *cli_table, "",
             "## Random networks, every head × target scaling × dtype, against `Model.predict`", "",
             "4 → 10 → 8 → 2 tanh with standardisation, 2,000 rows; max rel / max rel to largest "
             "(\"scale\" and \"none\" after the identity head cross 0).", "",
             "| head | target scaling | dtype | ONNX Runtime | PyTorch |", "|---|---|---|---|---|",
             *random_rows(), "",
             "## scikit-learn's MLPRegressor (diabetes) imported with `model_from_sklearn`", "",
             "With float32 data scikit-learn's StandardScaler gives float32 features, handgrad standardises in "
             "double and then rounds: the float32 network sees inputs a rounding apart, which shows on "
             "predictions near 0 (both are as far from the float64 computation).", "",
             "| loss | dtype | estimator | handgrad vs scikit-learn: max rel / max rel to largest |",
             "|---|---|---|---|",
             *import_rows(), "",
             "## skl2onnx on Pipelines ending in handgrad.sklearn.MLPRegressor, against `pipe.predict`", "",
             "| pipeline | dtype | max rel / max rel to largest |", "|---|---|---|", *skl2onnx_rows(), ""]
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "export_regression_precision.md"
    out.write_text(text)


if __name__ == "__main__":
    main()
