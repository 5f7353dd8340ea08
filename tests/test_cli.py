"""The command line, run as a user would (a subprocess), end to end."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def assert_one_line_error(out, *fragments):
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0, out.stderr
    for f in fragments:
        assert f in out.stderr, out.stderr


@pytest.fixture(scope="module")
def csv_problem(tmp_path_factory):
    """A CSV with string labels and named features, split into train and new-data files."""
    d = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 4))
    score = X[:, 0] + 2 * X[:, 1] * X[:, 2]
    y = np.where(score > 0.5, "high", np.where(score < -0.5, "low", "mid"))
    frame = pd.DataFrame(X, columns=["alpha", "beta", "gamma", "delta"])
    frame["level"] = y
    frame.iloc[:300].to_csv(d / "train.csv", index=False)
    frame.iloc[300:].to_csv(d / "new.csv", index=False)
    out = run("train", "--data", str(d / "train.csv"), "--target", "level", "--hidden", "32", "16",
              "--epochs", "60", "--out-dir", str(d / "out"), "--quiet")
    assert out.returncode == 0, out.stderr
    return d


def test_default_train_reaches_97_percent_on_digits(tmp_path):
    out = run("train", "--json", "--out-dir", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["dataset"] == "digits" and result["n_test"] >= 350
    assert result["test_accuracy"] >= 0.97
    assert (tmp_path / "out" / "model.safetensors").stat().st_size > 10_000
    png = (tmp_path / "out" / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "out" / "confusion_matrix.png").exists()
    assert len(result["per_class"]) == 10 and np.array(result["confusion_matrix"]).sum() == result["n_test"]


def test_train_prints_progress_lines_and_summary_when_not_a_terminal(tmp_path):
    out = run("train", "--dataset", "iris", "--epochs", "40", "--patience", "0", "--out-dir", str(tmp_path),
              "--no-plot")
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stderr and "\x1b[" not in out.stderr  # no animation off a terminal
    assert re.search(r"^epoch +40/40 +loss", out.stderr, re.M)
    assert "test set: accuracy" in out.stdout and "precision" in out.stdout
    assert "confusion matrix" in out.stdout and "model saved to" in out.stdout
    assert not (tmp_path / "learning_curve.png").exists()


def test_predict_reproduces_evaluate(csv_problem):
    d = csv_problem
    model = str(d / "out" / "model.safetensors")
    ev = run("evaluate", model, "--data", str(d / "new.csv"), "--json")
    assert ev.returncode == 0, ev.stderr
    evaluation = json.loads(ev.stdout)
    pr = run("predict", model, "--data", str(d / "new.csv"), "--out", str(d / "pred.csv"), "--proba")
    assert pr.returncode == 0, pr.stderr
    pred = pd.read_csv(d / "pred.csv")
    truth = pd.read_csv(d / "new.csv")["level"]
    assert list(pred.columns) == ["prediction", "proba_high", "proba_low", "proba_mid"]
    assert np.mean(pred["prediction"] == truth) == pytest.approx(evaluation["accuracy"])
    np.testing.assert_allclose(pred[["proba_high", "proba_low", "proba_mid"]].sum(axis=1), 1.0, atol=1e-5)
    assert evaluation["accuracy"] > 0.7
    assert {r["class"] for r in evaluation["per_class"]} == {"high", "low", "mid"}


def test_predict_ignores_column_order_and_missing_target(csv_problem, tmp_path):
    d = csv_problem
    frame = pd.read_csv(d / "new.csv").drop(columns=["level"])[["delta", "gamma", "beta", "alpha"]]
    frame.to_csv(tmp_path / "shuffled.csv", index=False)
    model = str(d / "out" / "model.safetensors")
    run("predict", model, "--data", str(d / "new.csv"), "--out", str(tmp_path / "a.csv"))
    out = run("predict", model, "--data", str(tmp_path / "shuffled.csv"), "--out", str(tmp_path / "b.csv"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_info_shows_architecture_and_record(csv_problem):
    out = run("info", str(csv_problem / "out" / "model.safetensors"))
    assert out.returncode == 0, out.stderr
    # 4 numeric columns, each standardised and quantile-mapped (train's default scaling "both")
    assert "8 → 32 → 16 → 3" in out.stdout and "parameters:" in out.stdout
    assert "high, low, mid" in out.stdout and "test accuracy" in out.stdout
    js = json.loads(run("info", str(csv_problem / "out" / "model.safetensors"), "--json").stdout)
    assert js["sizes"] == [8, 32, 16, 3] and js["n_params"] == 8 * 32 + 32 + 32 * 16 + 16 + 16 * 3 + 3


def test_corrupt_model_file_is_refused(csv_problem, tmp_path):
    good = (csv_problem / "out" / "model.safetensors").read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(good[: len(good) // 2])
    out = run("evaluate", str(bad), "--data", str(csv_problem / "new.csv"))
    assert_one_line_error(out, "bad.safetensors")
    bad.write_bytes(b"not a model at all")
    assert_one_line_error(run("info", str(bad)), "bad.safetensors")
    assert_one_line_error(run("info", str(tmp_path / "missing.safetensors")), "missing.safetensors")


def test_csv_with_missing_column_is_refused(csv_problem, tmp_path):
    frame = pd.read_csv(csv_problem / "new.csv").drop(columns=["gamma"])
    frame.to_csv(tmp_path / "nogamma.csv", index=False)
    out = run("predict", str(csv_problem / "out" / "model.safetensors"), "--data",
              str(tmp_path / "nogamma.csv"), "--out", str(tmp_path / "p.csv"))
    assert_one_line_error(out, "gamma")
    assert not (tmp_path / "p.csv").exists()
    out = run("train", "--data", str(tmp_path / "nogamma.csv"), "--target", "lvl")
    assert_one_line_error(out, "lvl")


def test_csv_with_empty_cells_is_imputed_not_refused(csv_problem, tmp_path):
    """An empty cell is imputed (training median, plus a 0/1 'missing' column when training had
    empty cells): train and evaluate run, and the model file shows the indicator column."""
    frame = pd.read_csv(csv_problem / "new.csv")
    frame.loc[7, "beta"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    model = str(csv_problem / "out" / "model.safetensors")
    out = run("evaluate", model, "--data", str(tmp_path / "nan.csv"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_samples"] == len(frame)
    out = run("train", "--data", str(tmp_path / "nan.csv"), "--target", "level", "--epochs", "5",
              "--out-dir", str(tmp_path / "o"), "--no-plot", "--quiet")
    assert out.returncode == 0, out.stderr
    info = json.loads(run("info", str(tmp_path / "o" / "model.safetensors"), "--json").stdout)
    assert "beta (missing)" in info["feature_names"]


def test_a_non_number_in_a_numeric_column_is_refused_at_evaluate(csv_problem, tmp_path):
    frame = pd.read_csv(csv_problem / "new.csv")
    frame["beta"] = frame["beta"].astype(object)
    frame.loc[7, "beta"] = "n/a?"
    frame.to_csv(tmp_path / "text.csv", index=False)
    out = run("evaluate", str(csv_problem / "out" / "model.safetensors"), "--data", str(tmp_path / "text.csv"))
    assert_one_line_error(out, "beta", "n/a?", "row 8")


def test_unseen_label_is_refused_at_evaluate(csv_problem, tmp_path):
    frame = pd.read_csv(csv_problem / "new.csv")
    frame.loc[0, "level"] = "extreme"
    frame.to_csv(tmp_path / "unseen.csv", index=False)
    out = run("evaluate", str(csv_problem / "out" / "model.safetensors"), "--data", str(tmp_path / "unseen.csv"))
    assert_one_line_error(out, "extreme", "never seen")


def test_divergence_is_a_clear_error(tmp_path):
    out = run("train", "--dataset", "iris", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "20",
              "--out-dir", str(tmp_path), "--quiet")
    assert_one_line_error(out, "diverged", "smaller learning rate")
    assert out.returncode == 3


@pytest.mark.parametrize("args, fragment", [
    (["train", "--data", "x.csv"], "--target"),
    (["train", "--activation", "swish", "--epochs", "1"], "unknown activation 'swish'"),
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--data", "/nonexistent/file.csv", "--target", "y"], "/nonexistent/file.csv"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, args, fragment):
    assert_one_line_error(run(*args, "--out-dir", str(tmp_path)), fragment)


def test_demo_prints_falling_loss_and_accuracy():
    out = run("demo", "--epochs", "600")
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith("epoch")]
    losses = [float(l.split("loss")[1].split()[0]) for l in lines]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    assert "test accuracy" in out.stdout.splitlines()[-1]


def test_gradcheck_command_prints_the_table():
    out = run("gradcheck", "--sizes", "4", "6", "5", "3", "--activation", "relu", "tanh")
    assert out.returncode == 0, out.stderr
    assert "PASSED: 6 of 6 parameters within tolerance" in out.stdout
    assert "W1" in out.stdout and "max abs err" in out.stdout


def test_no_command_prints_help():
    out = run()
    assert out.returncode == 2 and "train" in out.stdout and "gradcheck" in out.stdout


def test_test_file_and_no_test_part_and_the_extra_metrics(csv_problem, tmp_path):
    out = run("train", "--data", str(csv_problem / "train.csv"), "--target", "level", "--epochs", "20",
              "--test", str(csv_problem / "new.csv"), "--out-dir", str(tmp_path / "a"), "--no-plot", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n_train"] + result["n_val"] == 300 and result["n_test"] == 100  # all rows train
    test = result["test"]
    assert 0 <= test["balanced_accuracy"] <= 1 and 0 <= test["macro_f1"] <= 1 and test["log_loss"] > 0
    assert test["roc_auc"] is None  # three classes
    out = run("train", "--data", str(csv_problem / "train.csv"), "--target", "level", "--epochs", "5",
              "--test-fraction", "0", "--out-dir", str(tmp_path / "b"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["test"] is None and result["n_train"] + result["n_val"] == 300
    assert not (tmp_path / "b" / "confusion_matrix.png").exists()
    assert_one_line_error(run("train", "--data", str(csv_problem / "train.csv"), "--target", "level",
                              "--test-fraction", "1"), "--test-fraction")


def test_accuracy_no_better_than_the_majority_class_is_pointed_out(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"noise": rng.normal(size=300), "y": np.where(rng.uniform(size=300) < 0.9, "common", "rare")})
    frame.to_csv(tmp_path / "imb.csv", index=False)
    out = run("train", "--data", str(tmp_path / "imb.csv"), "--target", "y", "--epochs", "3",
              "--out-dir", str(tmp_path / "o"), "--no-plot")
    assert out.returncode == 0, out.stderr
    flat = " ".join(out.stdout.split())
    assert "no better than always answering the most common class" in flat and "--class-weight balanced" in flat
    assert "balanced accuracy" in flat


@pytest.mark.parametrize("k", [2, 4])
def test_the_cli_metrics_equal_scikit_learns(k):
    from sklearn import metrics as sk

    from handgrad.cli.evaluation import classification_summary

    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 500)
    proba = rng.dirichlet(np.ones(k), 500) + 0.8 * np.eye(k)[y] * rng.uniform(size=(500, 1))
    proba = np.round(proba / proba.sum(axis=1, keepdims=True), 2)  # rounding makes ties
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    s = classification_summary(y, pred, [f"c{i}" for i in range(k)], proba)
    assert s["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred), abs=1e-12)
    assert s["macro_f1"] == pytest.approx(sk.f1_score(y, pred, average="macro"), abs=1e-12)
    assert s["log_loss"] == pytest.approx(sk.log_loss(y, proba), rel=1e-9)
    assert s["confusion_matrix"] == sk.confusion_matrix(y, pred).tolist()
    p, r, f, n = sk.precision_recall_fscore_support(y, pred, zero_division=0)
    for row, *ref in zip(s["per_class"], p, r, f, n):
        assert [row["precision"], row["recall"], row["f1"], row["support"]] == pytest.approx(ref)
    if k == 2:
        assert s["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba[:, 1]), abs=1e-12)
    else:
        assert s["roc_auc"] is None


# ---- issue 13: user text is printed as it is -----------------------------------------------

def test_hostile_labels_and_paths_print_as_written_end_to_end(tmp_path):
    """Labels ``[/INST]`` (rich raised a MarkupError after saving), ``[low]``/``[high]`` (printed
    as blanks), ``$\\foo$`` (matplotlib raised while drawing) and an out-dir ``runs[v2]``
    (printed as ``runs``), through train, evaluate, info and predict in real processes."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=90), "b": rng.normal(size=90)})
    frame["y"] = np.array(["[/INST]", "[low]", "$\\foo$"])[np.arange(90) % 3]
    frame.to_csv(tmp_path / "t.csv", index=False)
    out_dir = tmp_path / "runs[v2]"
    out = run("train", "--data", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "3",
              "--out-dir", str(out_dir))
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert f"model saved to {out_dir}/model.safetensors" in out.stdout
    assert "│ [/INST]" in out.stdout and "│ [low]" in out.stdout and "│ $\\foo$" in out.stdout
    assert (out_dir / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    model = str(out_dir / "model.safetensors")
    ev = run("evaluate", model, "--data", str(tmp_path / "t.csv"))
    assert ev.returncode == 0 and "│ [/INST]" in ev.stdout, ev.stderr
    info = run("info", model)
    assert info.returncode == 0 and "classes: $\\foo$, [/INST], [low]" in info.stdout, info.stderr
    assert info.stdout.startswith(f"{model} (handgrad model format")
    pred = run("predict", model, "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "p[1].csv"))
    assert pred.returncode == 0 and f"to {tmp_path}/p[1].csv" in pred.stderr, pred.stderr
    assert set(pd.read_csv(tmp_path / "p[1].csv")["prediction"]) <= {"[/INST]", "[low]", "$\\foo$"}


def test_terminal_helpers_keep_user_text_plain():
    from handgrad.cli.terminal import Markup, clean, markup

    assert clean("a\x1b[2Jb\nc\u202e") == "a\\x1b[2Jb\\nc\\u202e"
    assert clean("[/INST] :smile: é") == "[/INST] :smile: é"
    line = markup("[bold]{}[/] {:.1f}%", "[/x]", 12.345)
    assert isinstance(line, Markup) and line == "[bold]\\[/x][/] 12.3%"


def test_info_shows_the_warnings_a_model_was_trained_with(tmp_path, capsys):
    from handgrad.cli.main import main as cli

    for ensemble, said in (([], "all 5 runs of the ensemble's kept members ran the whole 3 epochs"),
                           (["--ensemble", "1"], "all 5 folds of cross-validation ran the whole 3 epochs")):
        assert cli(["train", "--dataset", "iris", "--epochs", "3", "--no-plot", "--quiet", *ensemble,
                    "--out-dir", str(tmp_path)]) == 0
        capsys.readouterr()
        assert cli(["info", str(tmp_path / "model.safetensors")]) == 0
        out = capsys.readouterr().out
        assert f"warning (when trained): {said}" in out
