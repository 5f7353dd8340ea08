"""Numeric targets below the command line: the task rule, reading a target column, the target
scaling, the rank-stratified splits, the regression metrics, and a regressor's Model and file."""

import json

import numpy as np
import pandas as pd
import pytest

import handgrad as hg
from handgrad.data import load_table_frame
from handgrad.data.target_scaling import TargetScaler, choose_transform
from handgrad.data.targets import CLASSES_AT_MOST, NUMBER_ABOVE, decide_task, read_target
from handgrad.errors import InputError, listed
from handgrad.model.classifier import train_classifier, train_regressor
from handgrad.model.files import load_model, model_from_bytes, model_to_bytes, save_model
from handgrad.training.evaluation import regression_metrics, regression_sums_of, validation_record
from handgrad.training.splits import rank_strata, stratified_folds, stratified_split


# ----- the task rule ------------------------------------------------------------------------

def test_fractions_are_a_number_and_few_whole_numbers_are_classes():
    task, notes = decide_task(np.array([1.5, 2.0, 3.25]), "y")
    assert task == "regression" and "fractions" in notes[0] and "--task classification" in notes[0]
    task, notes = decide_task(np.arange(10.0).repeat(5), "digit")
    assert task == "classification" and "10 classes" in notes[0] and "--task regression" in notes[0]
    assert decide_task(np.arange(float(CLASSES_AT_MOST)).repeat(50), "y")[0] == "classification"


def test_many_whole_numbers_are_a_number_and_the_unsure_band_asks():
    assert decide_task(np.arange(NUMBER_ABOVE + 1.0).repeat(100), "price")[0] == "regression"
    # 162 prices over 400 rows: a number (the case that used to become a 162-class model)
    prices = np.random.default_rng(0).choice(np.arange(1000, 1162) * 100.0, 400)
    assert decide_task(prices, "price")[0] == "regression"
    # 30 values on 300 rows: sparse, a number; on 3,000 rows, each common: unsure, asks
    assert decide_task(np.arange(30.0).repeat(10), "y")[0] == "regression"
    with pytest.raises(InputError, match="--task classification or --task regression"):
        decide_task(np.arange(30.0).repeat(100), "y")


def test_text_is_classes_and_the_users_word_is_checked_not_second_guessed():
    assert decide_task(None, "species") == ("classification", [])
    with pytest.raises(InputError, match="holds text, not numbers"):
        decide_task(None, "species", "regression")
    assert decide_task(np.arange(5.0), "y", "regression") == ("regression", [])
    assert decide_task(np.array([0.5, 1.5]), "y", "classification") == ("classification", [])
    with pytest.raises(InputError, match="task must be one of"):
        decide_task(np.arange(5.0), "y", "numbers")


def test_reading_a_text_files_target_column():
    col = pd.Series(["1.5", "2", "NA", "", " 3.75 "], dtype=object)
    y, missing, notes, task = read_target(col, "y", as_text=True, task="auto")
    assert task == "regression" and missing.tolist() == [False, False, True, True, False]
    assert y.tolist() == [1.5, 2.0, 3.75]
    # leading zeros are codes: classes, written as they are
    y, missing, notes, task = read_target(pd.Series(["01", "02", "01"], dtype=object), "y", True, "auto")
    assert task == "classification" and y.tolist() == ["01", "02", "01"]
    with pytest.raises(InputError, match="finite"):
        read_target(pd.Series(["1.5", "inf"], dtype=object), "y", True, "regression")
    bools = pd.Series([True, False, True])
    assert read_target(bools, "y", False, "auto")[3] == "classification"


def test_a_float_target_asked_to_be_classes_names_the_regressor(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [0.5, 1.5, 2.5, 3.5]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="--task regression"):
        load_table_frame(path, "y", task="classification")
    table = load_table_frame(path, "y", task="auto")
    assert table.task == "regression" and table.y.dtype == np.float64


def test_listed_names_at_most_ten_values_and_the_count():
    text = listed(range(900))
    assert text.startswith("0, 1, 2") and text.endswith("… (900 in all)") and "10" not in text.split(",")[9]
    assert listed(["a", "b"]) == "'a', 'b'"


# ----- the scaling ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["standardize", "log", "scale", "none"])
def test_target_scaling_round_trips_and_is_fitted_as_documented(kind):
    y = np.random.default_rng(1).lognormal(3, 1, size=(200, 2))
    s = TargetScaler.fit(y, kind)
    t = s.transform(y)
    assert np.allclose(s.inverse(t), y, rtol=1e-12)
    if kind in ("standardize", "log"):
        assert np.allclose(t.mean(axis=0), 0, atol=1e-12) and np.allclose(t.std(axis=0), 1)
    if kind == "scale":
        assert np.allclose(t.mean(axis=0), 1) and np.all(s.mean == 0)
    back = TargetScaler.from_json(json.loads(json.dumps(s.to_json())), 2)  # JSON keeps every bit
    assert back.kind == s.kind and np.array_equal(back.mean, s.mean) and np.array_equal(back.scale, s.scale)


def test_the_automatic_transform_and_its_refusals():
    y = np.random.default_rng(2).normal(size=100)
    assert choose_transform(y, "auto", "squared") == ("standardize", [])
    assert choose_transform(np.abs(y), "auto", "poisson")[0] == "scale"
    with pytest.raises(InputError, match="> 0"):
        choose_transform(y, "log", "squared")
    with pytest.raises(InputError, match="≥ 0"):
        choose_transform(y, "auto", "poisson")
    with pytest.raises(InputError, match="log link"):
        choose_transform(np.abs(y), "standardize", "poisson")


# ----- splits and metrics -------------------------------------------------------------------

def test_rank_strata_make_every_fold_span_the_targets_range():
    y = np.random.default_rng(3).lognormal(0, 2, size=203)  # a long right tail
    for keep, held in stratified_folds(rank_strata(y, 5), 5, seed=0):
        # one row of every 5 neighbours in y's order: each fold's quantiles follow the whole's
        assert abs(np.median(y[held]) - np.median(y)) < 0.15 * np.std(y)
        assert y[held].max() >= np.sort(y)[-8]  # one of ranks 195–199 (203 rows: 40 full groups)
    keep, held = stratified_split(rank_strata(y, 5), 0.2, seed=0)
    assert abs(len(held) - 0.2 * len(y)) <= 2


def test_regression_metrics_equal_scikit_learns():
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    rng = np.random.default_rng(4)
    y, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    m = regression_metrics(regression_sums_of(p, y), 50)
    assert m["r2"] == pytest.approx(r2_score(y, p), rel=1e-12)
    assert m["rmse"] == pytest.approx(root_mean_squared_error(y, p), rel=1e-12)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    assert regression_metrics(regression_sums_of(np.ones(5), np.ones(5)), 5)["r2"] == 1.0


def test_a_regressions_validation_record_has_its_metrics_and_fit_watches_them():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=300)
    net = hg.MLP([3, 8, 1], output="identity", dtype="float64")
    rec = validation_record(net, X, y[:, None])
    Z = net.forward(X)[:, 0]
    assert rec["val_loss"] == pytest.approx(0.5 * np.mean((Z - y) ** 2), rel=1e-12)
    assert rec["val_rmse"] == pytest.approx(np.sqrt(np.mean((Z - y) ** 2)), rel=1e-12)
    assert rec["val_accuracy"] is None
    h = hg.fit(net, X, y, validation_fraction=0.2, epochs=60, lr=1e-2, monitor="val_r2", patience=10)
    assert h.monitor == "val_r2" and h.epochs[-1]["val_r2"] > 0.9
    with pytest.raises(InputError, match="needs a regression output"):
        hg.fit(hg.MLP([3, 4, 2]), X, (y > 0).astype(int), validation_fraction=0.2, monitor="val_r2")
    with pytest.raises(InputError, match="needs a classification output"):
        hg.fit(hg.MLP([3, 4, 1], output="identity"), X, y, validation_fraction=0.2, monitor="val_accuracy")


# ----- the regressor's Model and file ----------------------------------------------------------

@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(6)
    n = 400
    frame = pd.DataFrame({"size": rng.uniform(50, 200, n), "rooms": rng.integers(1, 6, n).astype(float),
                          "town": rng.choice(["north", "south", "east"], n)})
    frame.loc[rng.choice(n, 30, replace=False), "size"] = np.nan  # empty cells
    price = 1000 * frame["size"].fillna(120) + 20_000 * (frame["town"] == "north") + rng.normal(0, 5000, n)
    return frame, price.to_numpy()


def test_a_regressor_trained_on_a_table_predicts_in_the_targets_units(table):
    frame, price = table
    model = train_regressor(frame.iloc[:320], price[:320], seed=0)
    assert model.is_regressor and model.task == "regression" and model.classes is None
    pred = model.predict(frame.iloc[320:])
    assert pred.shape == (80,) and 50_000 < pred.mean() < 250_000
    assert model.score(frame.iloc[320:], price[320:]) > 0.7
    with pytest.raises(InputError, match="predicts numbers"):
        model.predict_proba(frame.iloc[320:])
    # the file holds it (format 3) and gives the same predictions, bit for bit
    again = model_from_bytes(model_to_bytes(model))
    assert np.array_equal(again.predict(frame.iloc[320:]), pred)
    assert again.target.kind == model.target.kind and again.net.output == "identity"


def test_several_targets_are_one_model_with_one_output_each():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([X[:, 0] * 10 + 100, X[:, 1] - X[:, 2]])
    model = train_regressor(X, Y, target_names=["a", "b"], seed=0)
    assert model.net.n_outputs == 2 and model.predict(X).shape == (300, 2)
    assert model.score(X, Y) > 0.8
    assert model_from_bytes(model_to_bytes(model)).target_names == ["a", "b"]


def test_a_corrupt_regressor_file_is_refused_in_one_line(tmp_path, table):
    from safetensors import safe_open
    from safetensors.numpy import save

    frame, price = table
    model = train_regressor(frame.iloc[:200], price[:200], seed=0, epochs=3)
    path = save_model(model, tmp_path / "m.safetensors")
    with safe_open(path, "np") as f:
        meta = json.loads(f.metadata()["handgrad"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for change, fragment in ((lambda m: m.update(head={"name": "softmax", "params": {}}), "'head'"),
                             (lambda m: m.update(head={"name": "huber", "params": {}}), "delta"),
                             (lambda m: m["target"].update(scale=[0.0]), "> 0"),
                             (lambda m: m["target"].update(kind="cube"), "kind"),
                             (lambda m: m.update(classes=["a"]), "no classes"),
                             (lambda m: m.update(task="clustering"), "'task'")):
        bad = json.loads(json.dumps(meta))
        change(bad)
        data = save(tensors, metadata={"handgrad": json.dumps(bad)})
        with pytest.raises(InputError, match=fragment) as err:
            model_from_bytes(data, "bad")
        assert "\n" not in str(err.value)


def test_classifiers_still_train_and_write_their_old_format(tmp_path):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(120, 3))
    model = train_classifier(X, (X[:, 0] > 0).astype(int), epochs=3)
    path = save_model(model, tmp_path / "c.safetensors")
    from handgrad.model.files import model_info

    assert model_info(path)["format_version"] == 1 and not load_model(path).is_regressor


def test_few_whole_numbers_that_fall_like_counts_are_a_number():
    visits = np.repeat(np.arange(10.0), [4141, 782, 174, 30, 24, 9, 12, 12, 5, 1])  # AER's DoctorVisits
    task, notes = decide_task(visits, "visits")
    assert task == "regression" and "like counts" in notes[0] and "--task classification" in notes[0]
    # not counts: four values, a 0–10 score with most rows in the middle, digits, values not from 0
    assert decide_task(np.repeat(np.arange(4.0), [500, 300, 200, 100]), "y")[0] == "classification"
    score = np.repeat(np.arange(11.0), [50, 80, 200, 500, 900, 1200, 1000, 700, 400, 150, 60])
    assert decide_task(score, "vocab")[0] == "classification"
    assert decide_task(np.arange(10.0).repeat(170), "digit")[0] == "classification"
    assert decide_task(np.repeat(np.arange(1.0, 8.0), [700, 300, 100, 50, 20, 10, 5]), "y")[0] == "classification"


def test_a_text_regression_target_is_refused_naming_its_first_text_cell():
    from handgrad.data.targets import first_non_number, read_target

    col = pd.Series(["1.5", "", "NA", "2", "abc", "x"])
    assert first_non_number(col) == " ('abc' in row 5)" and first_non_number(col, 100) == " ('abc' in row 105)"
    with pytest.raises(InputError, match=r"holds text, not numbers \('abc' in row 5\)"):
        read_target(col, "y", True, "regression")
