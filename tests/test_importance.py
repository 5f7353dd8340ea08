"""Which columns matter (handgrad.model.importance), the input gradient it reads (the backward
pass through the first layer, derivations.md §19), and the command line's calibration,
threshold and importance (issue 26's "done when"), on palmerpenguins' real table."""

import json
import subprocess
import sys

import numpy as np
import pytest

import handgrad as hg
from conftest import far_from_kinks
from handgrad.errors import InputError
from handgrad.model.importance import gradient_importance, permutation_importance

pd = pytest.importorskip("pandas")

HEADS = [("softmax", 3), ("identity", 2), ("exp", 1), ("huber", 2)]


@pytest.mark.parametrize("output,k", HEADS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_the_input_gradient_is_each_rows_central_difference(output, k, activation):
    rng = np.random.default_rng(0)
    net = hg.MLP([4, 6, 5, k], activation=activation, dtype="float64", seed=1, output=output,
                 **({"huber_delta": 0.7} if output == "huber" else {}))
    X = rng.normal(size=(7, 4))
    if activation == "relu":
        assert far_from_kinks(net, X)
    y = (rng.integers(0, k, 7) if output == "softmax" else
         rng.poisson(2.0, (7, k)).astype(float) if output == "exp" else rng.normal(size=(7, k)) * 2)
    G = net.input_gradient(X, y)
    assert G.shape == X.shape
    h = 1e-6
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            up, down = X[i:i + 1].copy(), X[i:i + 1].copy()
            up[0, j] += h
            down[0, j] -= h
            yi = y[i:i + 1]
            # the row's own loss, no L2 (it does not depend on X)
            fd = (_data_loss(net, up, yi) - _data_loss(net, down, yi)) / (2 * h)
            assert G[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def _data_loss(net, X, y):
    from handgrad.core.backprop import forward
    from handgrad.core.heads import LOSSES

    logits = forward(net.weights, net.biases, net.activations, X)[0]
    return LOSSES[net.output](logits, y, None, **net.head_params)[0]


def test_the_input_gradient_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    net = hg.MLP([5, 8, 3], activation="tanh", dtype="float64", seed=3)
    X, y = rng.normal(size=(9, 5)), rng.integers(0, 3, 9)
    x = torch.tensor(X, requires_grad=True)
    W1, b1, W2, b2 = (torch.tensor(a) for a in (net.weights[0], net.biases[0], net.weights[1], net.biases[1]))
    z = torch.tanh(x @ W1 + b1) @ W2 + b2
    torch.nn.functional.cross_entropy(z, torch.tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(net.input_gradient(X, y), x.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.fixture(scope="module")
def penguins():
    palmerpenguins = pytest.importorskip("palmerpenguins")
    return palmerpenguins.load_penguins()


def _built_table(penguins, seed=0):
    """penguins' real columns (numbers, text, empty cells) with a label built from four of them,
    the body mass weighing most, and two noise columns the test adds (a number and a text)."""
    rng = np.random.default_rng(seed)
    frame = penguins.dropna(subset=["body_mass_g", "bill_length_mm"])[
        ["body_mass_g", "bill_length_mm", "sex", "island"]].reset_index(drop=True)
    z = lambda c: (frame[c] - frame[c].mean()) / frame[c].std()  # noqa: E731
    score = 2.0 * z("body_mass_g") + 1.0 * z("bill_length_mm") + 1.0 * (frame["sex"] == "male") \
        - 1.0 * (frame["island"] == "Dream")
    label = np.where(score > np.median(score), "high", "low")
    frame["noise"] = rng.normal(size=len(frame))
    frame["noise_text"] = rng.choice(["p", "q", "r"], len(frame))
    return frame, label


def test_permutation_importance_ranks_the_labels_main_column_first_and_noise_last(penguins):
    frame, label = _built_table(penguins)
    assert frame["sex"].isna().any() and not pd.api.types.is_numeric_dtype(frame["island"])  # text, gaps
    train = np.arange(len(frame)) % 4 != 0
    model = hg.train_classifier(frame[train], label[train], seed=0)
    imp = permutation_importance(model, frame[~train], label[~train], repeats=10, seed=1)
    order = [c["column"] for c in imp["columns"]]
    assert order[0] == "body_mass_g", order
    assert set(order[-2:]) == {"noise", "noise_text"}, order  # a text column is shuffled as one
    noise = {c["column"]: c for c in imp["columns"]}["noise"]
    assert abs(noise["log_loss_mean"]) < 3 * noise["log_loss_std"] + 0.02  # nothing there
    grad = [c["column"] for c in gradient_importance(model, frame[~train], label[~train])]
    assert grad[0] == "body_mass_g" and grad.index("noise") > 1, grad


def test_importance_of_a_regressor_and_of_a_matrix_model():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 3))
    y = 3 * X[:, 1] + 0.1 * rng.normal(size=400)
    model = hg.train_regressor(X[:300], y[:300], seed=0)
    imp = permutation_importance(model, X[300:], y[300:], repeats=3)
    assert imp["ranked_by"] == "r2" and imp["columns"][0]["column"] == "x1"
    assert imp["columns"][0]["r2_mean"] > 1.0  # shuffling it destroys the fit (R² far below 0)
    with pytest.raises(InputError, match="repeats must be ≥ 1"):
        permutation_importance(model, X[300:], y[300:], repeats=0)
    with pytest.raises(InputError, match="rows but y has"):
        permutation_importance(model, X[300:], y[:10])


def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def torgersen(penguins, tmp_path_factory):
    """A real imbalanced two-class table: is the penguin from Torgersen island (15 % of rows)?
    The measurements hardly tell, so the model is unsure and a 0.5 cut rarely says yes."""
    d = tmp_path_factory.mktemp("torgersen")
    frame = penguins.copy()
    frame["torgersen"] = np.where(frame.pop("island") == "Torgersen", "yes", "no")
    order = np.random.default_rng(0).permutation(len(frame))
    frame.iloc[order[:260]].to_csv(d / "train.csv", index=False)
    frame.iloc[order[260:]].to_csv(d / "test.csv", index=False)
    return d


def test_a_threshold_for_balanced_accuracy_beats_the_half_cut_and_onnx_cuts_alike(torgersen):
    base = ["train", "--data", "train.csv", "--target", "torgersen", "--test", "test.csv", "--json", "--no-plot",
            "--seed", "0"]
    half = _run(base + ["--out-dir", "half"], torgersen)
    cut = _run(base + ["--out-dir", "cut", "--threshold-metric", "balanced_accuracy", "--calibrate",
                       "temperature"], torgersen)
    assert half.returncode == 0 and cut.returncode == 0, cut.stderr
    a, b = json.loads(half.stdout), json.loads(cut.stdout)
    assert b["test"]["balanced_accuracy"] > a["test"]["balanced_accuracy"] + 0.1, (a["test"], b["test"])
    chosen = b["calibration"]["threshold"]
    assert chosen["metric"] == "balanced_accuracy" and 0 < chosen["threshold"] < 0.5
    assert chosen["value"] > chosen["at_half"]
    assert "out-of-fold" in b["calibration"]["held_out"] and b["calibration"]["temperature"] > 0
    assert b["test"]["ece"] is not None and b["importance"]["columns"]
    ort = pytest.importorskip("onnxruntime")
    from handgrad.export import onnx_inputs, to_onnx

    model = hg.load_model(torgersen / "cut" / "model.safetensors")
    assert model.threshold == pytest.approx(chosen["threshold"])
    test = pd.read_csv(torgersen / "test.csv").drop(columns="torgersen")
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    label = session.run(["label"], onnx_inputs(model, test))[0]
    np.testing.assert_array_equal(label, model.predict(test))
    out = _run(["predict", "cut/model.safetensors", "--data", "test.csv", "--out", "p.csv"], torgersen)
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(pd.read_csv(torgersen / "p.csv")["prediction"], model.predict(test))
    over = _run(["predict", "cut/model.safetensors", "--data", "test.csv", "--out", "q.csv", "--threshold",
                 "0.99"], torgersen)
    assert over.returncode == 0
    assert (pd.read_csv(torgersen / "q.csv")["prediction"] == "yes").sum() < (
        pd.read_csv(torgersen / "p.csv")["prediction"] == "yes").sum()


def test_evaluate_importance_and_the_refusals_in_one_line(torgersen):
    done = _run(["train", "--data", "train.csv", "--target", "torgersen", "--ensemble", "1", "--no-plot",
                 "--quiet", "--out-dir", "one"], torgersen)
    assert done.returncode == 0, done.stderr
    ev = _run(["evaluate", "one/model.safetensors", "--data", "test.csv", "--importance", "--repeats", "2",
               "--json"], torgersen)
    assert ev.returncode == 0, ev.stderr
    imp = json.loads(ev.stdout)["importance"]
    assert imp["repeats"] == 2 and len(imp["columns"]) == len(imp["gradient"]) >= 6
    text = _run(["evaluate", "one/model.safetensors", "--data", "test.csv", "--importance"], torgersen)
    assert "columns that matter most" in text.stdout and "∂loss/∂input" in text.stdout
    for args, why in (
            (["train", "--data", "train.csv", "--target", "species", "--threshold-metric", "f1"],
             "--threshold-metric chooses the cut between two classes; the target has 3"),
            (["train", "--data", "train.csv", "--target", "torgersen", "--calibrate", "temperature",
              "--val-fraction", "0"], "drop --val-fraction 0"),
            (["train", "--data", "train.csv", "--target", "body_mass_g", "--task", "regression", "--calibrate",
              "temperature"], "the target is a number"),
            (["predict", "one/model.safetensors", "--data", "test.csv", "--out", "x.csv", "--threshold", "0"],
             "--threshold must be in (0, 1)")):
        bad = _run(args, torgersen)
        assert bad.returncode != 0 and why in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
