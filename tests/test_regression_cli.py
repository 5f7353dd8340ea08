"""Regression through the command line, run as a user would (a subprocess), end to end: the
task decided from the target column, the metrics, evaluate/predict/info, the refusals, and
the paths the classifier has (search, refit, --test, streaming, checkpoints)."""

import json

import numpy as np
import pandas as pd
import pytest

from test_cli import assert_one_line_error, run


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    """A price table: numbers with gaps, a text column, an ID column, an integer price."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"house": [f"H{i:05d}" for i in range(n)],
                          "area": rng.uniform(40, 220, n).round(1),
                          "rooms": rng.integers(1, 7, n),
                          "town": rng.choice(["north", "south", "east", "west"], n)})
    bonus = frame["town"].map({"north": 40_000, "south": 0, "east": 15_000, "west": -10_000})
    price = 1500 * frame["area"] + 8000 * frame["rooms"] + bonus + rng.normal(0, 15_000, n)
    frame["price"] = (price.clip(lower=20_000) / 100).round() * 100  # whole numbers, many values
    frame.loc[rng.choice(n, n // 10, replace=False), "area"] = np.nan
    return frame


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    d = tmp_path_factory.mktemp("prices")
    frame = _table(600)
    frame.iloc[:480].to_csv(d / "train.csv", index=False)
    frame.iloc[480:].to_csv(d / "test.csv", index=False)
    out = run("train", "--data", str(d / "train.csv"), "--target", "price", "--test", str(d / "test.csv"),
              "--out-dir", str(d / "out"), "--json", "--id-column", "house")
    assert out.returncode == 0, out.stderr
    return d, json.loads(out.stdout)


def test_an_integer_price_is_decided_a_number_and_scored_as_one(prices):
    d, result = prices
    assert result["task"] == "regression" and "MLP(" in result["model"]
    assert any("regression" in n and "--task classification" in n for n in result["notes"])
    test = result["test"]
    assert set(test) >= {"r2", "rmse", "mae", "median_absolute_error", "n_samples", "baseline"}
    assert test["r2"] > 0.8 and test["n_samples"] == 120
    assert test["baseline"]["r2"] < 0.05 and test["rmse"] < 0.5 * test["baseline"]["rmse"]
    for name in ("learning_curve.png", "predictions.png", "diagnostics.png", "model.safetensors"):
        assert (d / "out" / name).stat().st_size > 1000


def test_evaluate_and_predict_agree_with_train_in_the_targets_units(prices):
    d, result = prices
    model = str(d / "out" / "model.safetensors")
    ev = run("evaluate", model, "--data", str(d / "test.csv"), "--json")
    assert ev.returncode == 0, ev.stderr
    scores = json.loads(ev.stdout)
    assert scores["task"] == "regression"
    for k in ("r2", "rmse", "mae", "median_absolute_error"):
        assert scores[k] == pytest.approx(result["test"][k], rel=1e-9)
    pr = run("predict", model, "--data", str(d / "test.csv"), "--out", str(d / "pred.csv"))
    assert pr.returncode == 0, pr.stderr
    pred = pd.read_csv(d / "pred.csv")
    truth = pd.read_csv(d / "test.csv")
    assert list(pred.columns) == ["house", "prediction"] and pred["house"].tolist() == truth["house"].tolist()
    rmse = np.sqrt(np.mean((pred["prediction"] - truth["price"]) ** 2))
    assert rmse == pytest.approx(scores["rmse"], rel=1e-6)  # 8 significant digits written
    assert_one_line_error(run("predict", model, "--data", str(d / "test.csv"), "--out", "-", "--proba"),
                          "--proba", "regressor")
    info = run("info", model)
    assert info.returncode == 0 and "regression of price" in info.stdout and "test R²" in info.stdout


def test_the_terminal_summary_shows_the_baseline(prices):
    d, _ = prices
    out = run("evaluate", str(d / "out" / "model.safetensors"), "--data", str(d / "test.csv"))
    assert out.returncode == 0, out.stderr
    assert "R² 0." in out.stdout and "always predicting the training mean" in out.stdout


def test_a_float_target_trains_with_no_option_and_ten_integer_classes_stay_classes(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(800, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["strength"] = X[:, 0] * 2.5 + X[:, 1] ** 2 + 0.1 * rng.normal(size=800)
    frame["grade"] = np.clip(np.round(X[:, 0] * 2 + 5), 0, 9).astype(int)
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = run("train", "--data", str(tmp_path / "t.csv"), "--target", "strength", "--json", "--no-plot",
              "--out-dir", str(tmp_path / "r"), "--drop", "grade")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["task"] == "regression" and json.loads(out.stdout)["test"]["r2"] > 0.8
    out = run("train", "--data", str(tmp_path / "t.csv"), "--target", "grade", "--json", "--no-plot",
              "--out-dir", str(tmp_path / "c"), "--drop", "strength")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["task"] == "classification" and len(result["per_class"]) == 10
    assert any("10 classes" in n and "--task regression" in n for n in result["notes"])
    # the same integers asked to be a number
    out = run("train", "--data", str(tmp_path / "t.csv"), "--target", "grade", "--task", "regression",
              "--json", "--no-plot", "--out-dir", str(tmp_path / "g"), "--drop", "strength")
    assert out.returncode == 0 and json.loads(out.stdout)["task"] == "regression"


@pytest.mark.parametrize("args,fragments", [
    (["--task", "regression", "--target", "town"], ["holds text", "regression"]),
    (["--target", "price", "--class-weight", "balanced"], ["--class-weight", "regression"]),
    (["--target", "price", "--metric", "accuracy"], ["--metric accuracy", "rmse"]),
    (["--target", "town", "--loss", "huber"], ["--loss", "classes"]),
    (["--target", "town", "--metric", "r2"], ["--metric r2", "accuracy"]),
    (["--target", "price", "--target-transform", "log", "--loss", "poisson"], ["log link"]),
    (["--target", "price", "--huber-delta", "0"], ["--huber-delta"]),
])
def test_mistakes_are_one_line_refusals(prices, tmp_path, args, fragments):
    d, _ = prices
    out = run("train", "--data", str(d / "train.csv"), *args, "--out-dir", str(tmp_path), "--no-plot")
    assert_one_line_error(out, *fragments)


def test_an_unsure_integer_target_asks_for_the_task(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.integers(0, 30, 3000)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = run("train", "--data", str(tmp_path / "t.csv"), "--target", "y", "--out-dir", str(tmp_path / "o"))
    assert_one_line_error(out, "--task classification or --task regression")


def test_search_refit_and_metric_work_for_a_regression(prices, tmp_path):
    d, _ = prices
    out = run("train", "--data", str(d / "train.csv"), "--target", "price", "--search", "--budget", "4",
              "--json", "--no-plot", "--out-dir", str(tmp_path / "s"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["search"]["monitor"] == "val_loss" and "val_r2" in result["search"]["leaderboard"][0]
    assert result["test"]["r2"] > 0.6
    out = run("train", "--data", str(d / "train.csv"), "--target", "price", "--refit", "--metric", "mae",
              "--json", "--no-plot", "--out-dir", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["test"]["r2"] > 0.7 and result["n_val"] == 0


@pytest.mark.parametrize("loss", ["poisson"])
def test_a_count_target_trains_with_the_poisson_loss(tmp_path, loss):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3))
    counts = rng.poisson(np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1] + 1.0))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["visits"] = counts
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = run("train", "--data", str(tmp_path / "t.csv"), "--target", "visits", "--task", "regression",
              "--loss", loss, "--json", "--no-plot", "--out-dir", str(tmp_path / "p"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["target_scaling"]["kind"] == "scale" and result["test"]["r2"] > 0.4
    assert "exp" in result["model"]


def test_streaming_a_parquet_regression_matches_memory_and_predicts_alike(tmp_path):
    rng = np.random.default_rng(4)
    n = 6000
    X = rng.normal(size=(n, 5))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    frame["y"] = 50 + 3 * X[:, 0] - 2 * X[:, 1] ** 2 + 0.3 * rng.normal(size=n)
    frame.to_parquet(tmp_path / "big.parquet", row_group_size=1000)
    common = ["--data", str(tmp_path / "big.parquet"), "--target", "y", "--json", "--epochs", "25",
              "--no-plot", "--seed", "0"]
    st = run("train", *common, "--stream-buffer", "2000", "--out-dir", str(tmp_path / "st"))
    assert st.returncode == 0, st.stderr
    mem = run("train", *common, "--out-dir", str(tmp_path / "mem"))
    assert mem.returncode == 0, mem.stderr
    st, mem = json.loads(st.stdout), json.loads(mem.stdout)
    assert st["task"] == "regression" and st["streaming"]["row_groups"] == 6
    assert st["test"]["r2"] > 0.95 and st["test"]["r2"] > mem["test"]["r2"] - 0.02
    model = str(tmp_path / "st" / "model.safetensors")
    a = run("predict", model, "--data", str(tmp_path / "big.parquet"), "--out", str(tmp_path / "a.csv"))
    frame.to_csv(tmp_path / "big.csv", index=False)
    b = run("predict", model, "--data", str(tmp_path / "big.csv"), "--out", str(tmp_path / "b.csv"))
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_a_resumed_regression_ends_with_the_uninterrupted_weights(prices, tmp_path):
    d, _ = prices
    common = ["--data", str(d / "train.csv"), "--target", "price", "--val-fraction", "0.1", "--no-plot",
              "--quiet", "--patience", "0", "--dtype", "float64"]
    full = run("train", *common, "--epochs", "12", "--ensemble", "1", "--out-dir", str(tmp_path / "full"))
    half = run("train", *common, "--epochs", "6", "--out-dir", str(tmp_path / "part"),
               "--checkpoint-dir", str(tmp_path / "ck"))
    rest = run("train", *common, "--epochs", "12", "--out-dir", str(tmp_path / "part"),
               "--checkpoint-dir", str(tmp_path / "ck"), "--resume")
    assert full.returncode == half.returncode == rest.returncode == 0, (full.stderr, rest.stderr)
    assert (tmp_path / "full" / "model.safetensors").exists()
    from handgrad.model.files import load_model

    a, b = (load_model(tmp_path / p / "model.safetensors") for p in ("full", "part"))
    assert np.array_equal(a.net.flat, b.net.flat)
