"""The quantile map of numeric columns (handgrad.data.quantiles, docs/derivations.md §17): its
knots, the table encoder and model files that carry it, the refusals of a malformed stored map,
and the command line's ``--scaling``. ONNX Runtime's equality is in test_export_onnx.py."""

import json
import math
import subprocess
import sys
from statistics import NormalDist

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import handgrad as hg  # noqa: E402
from handgrad.data.features import TableEncoder  # noqa: E402
from handgrad.data.quantiles import KNOTS, apply_map, check_map, fit_map  # noqa: E402
from handgrad.errors import InputError  # noqa: E402
from handgrad.model.files import load_model, save_model  # noqa: E402


def test_knots_of_a_continuous_column_are_its_quantiles_at_normal_levels():
    x = np.random.default_rng(0).lognormal(size=5000)
    xs, zs = fit_map(x)
    assert xs.size == KNOTS and np.all(np.diff(xs) > 0) and np.all(np.diff(zs) > 0)
    levels = np.linspace(0, 1, KNOTS)
    np.testing.assert_allclose(xs, np.quantile(x, levels), rtol=1e-12)
    inner = slice(1, -1)
    want = [NormalDist().inv_cdf(p) for p in levels[inner]]
    np.testing.assert_allclose(zs[inner], want, rtol=1e-12)
    # the ends: the smallest of n values stands near the 1/(2n) quantile, not at −∞
    assert zs[0] == pytest.approx(NormalDist().inv_cdf(0.5 / x.size))
    q = apply_map(x, xs, zs)
    assert abs(q.mean()) < 0.02 and abs(q.std() - 1) < 0.03  # spread like a standard normal


def test_a_spike_becomes_one_knot_in_the_middle_of_its_share_and_the_map_is_continuous():
    rng = np.random.default_rng(1)
    x = np.r_[np.zeros(400), rng.exponential(size=600)]  # 40 % zeros
    xs, zs = fit_map(x)
    assert np.all(np.diff(xs) > 0) and (xs == 0).sum() == 1
    z0 = zs[xs == 0][0]
    # the knots at levels 0 … 0.4 all fell on 0: their mean normal quantile
    assert NormalDist().inv_cdf(0.05) < z0 < NormalDist().inv_cdf(0.35)
    q = apply_map(np.array([0.0, 1e-9, -5.0]), xs, zs)
    assert q[0] == z0 == q[2] and q[1] == pytest.approx(z0, abs=1e-6)


def test_constant_tiny_and_huge_columns():
    assert fit_map(np.array([7.0]))[1].tolist() == [0.0]
    assert fit_map(np.full(50, 3.0))[1].tolist() == [0.0]
    xs, zs = fit_map(np.array([1.0, 2.0]))
    assert xs.tolist() == [1.0, 2.0] and zs[0] == -zs[1] < 0
    xs, zs = fit_map(np.array([-1.7e308, 1.7e308, 1e308, 0.0]))
    assert np.all(np.isfinite(xs)) and np.all(np.diff(xs) > 0)
    assert np.all(np.isfinite(apply_map(np.array([-1.8e308, 5.0, 1.8e308]), xs, zs)))
    # knots a few subnormals apart would need an infinite slope: merged
    xs, zs = fit_map(np.array([0.0, 5e-324, 1e-323, 1.0, 2.0]))
    with np.errstate(divide="raise", over="raise"):
        assert np.all(np.isfinite(np.diff(zs) / np.diff(xs)))


def test_values_beyond_the_training_range_get_the_end_knots():
    xs, zs = fit_map(np.arange(100.0))
    q = apply_map(np.array([-1e6, 0.0, 99.0, 1e6]), xs, zs)
    assert q[0] == q[1] == zs[0] and q[2] == q[3] == zs[-1]


def _frame(n, seed):
    rng = np.random.default_rng(seed)
    spend = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(3, 1.5, n))
    income = rng.lognormal(10, 1, n)
    income[rng.random(n) < 0.1] = np.nan
    kind = rng.choice(["a", "b", "c"], n)
    return pd.DataFrame({"spend": spend, "income": income, "kind": kind})


def test_the_encoder_maps_numeric_columns_only_and_round_trips_through_json():
    frame = _frame(300, 2)
    enc = TableEncoder(scaling="quantile").fit(frame)
    specs = {s["name"]: s for s in enc.columns_}
    assert "quantiles" in specs["spend"] and "quantiles" in specs["income"]
    assert "quantiles" not in specs["kind"]
    X = enc.transform(frame)
    names = enc.feature_names_out_
    spend = X[:, names.index("spend")]
    xs, zs = np.array(specs["spend"]["quantiles"]["x"]), np.array(specs["spend"]["quantiles"]["z"])
    np.testing.assert_array_equal(spend, np.interp(frame["spend"], xs, zs))
    # the empty cells: the median, mapped, and the indicator column as before
    income = X[:, names.index("income")]
    gaps = frame["income"].isna().to_numpy()
    assert np.all(income[gaps] == income[gaps][0]) and abs(income[gaps][0]) < 0.1
    np.testing.assert_array_equal(X[:, names.index("income (missing)")], gaps)
    again = TableEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    np.testing.assert_array_equal(again.transform(frame), X)
    # standard scaling: no map stored, (x − mean)/std as before
    plain = TableEncoder().fit(frame)
    assert not any("quantiles" in s for s in plain.columns_)


def test_a_model_file_keeps_the_map_and_predicts_the_same(tmp_path):
    frame = _frame(400, 3)
    y = np.where(frame["spend"] > 0, "yes", "no")
    model = hg.train_classifier(frame, y, scaling="quantile", hidden_sizes=[8], epochs=5, seed=0)
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    back = load_model(path)
    new = _frame(50, 4)
    np.testing.assert_array_equal(back.predict_proba(new), model.predict_proba(new))
    assert model.record["hyperparameters"]["standardize"] == "numeric columns (table encoding, quantile scaling)"


@pytest.mark.parametrize("bad,why", [
    ({"x": [1.0, 2.0]}, "must be {'x'"),
    ({"x": [1.0, 2.0], "z": [0.0]}, "has 2 x but 1 z"),
    ({"x": [2.0, 1.0], "z": [0.0, 1.0]}, "increasing x"),
    ({"x": [1.0, 2.0], "z": [1.0, 0.0]}, "non-decreasing z"),
    ({"x": [1.0, float("nan")], "z": [0.0, 1.0]}, "finite numbers"),
    ({"x": [], "z": []}, "non-empty"),
    ({"x": [0.0, 5e-324], "z": [0.0, 1.0]}, "not a finite number"),
    ([1, 2], "must be {'x'"),
])
def test_a_malformed_stored_map_is_refused_naming_the_column(bad, why):
    with pytest.raises(InputError, match="column 'spend'") as err:
        check_map(bad, "spend")
    assert why in str(err.value) and "\n" not in str(err.value)
    spec = {"columns": [{"name": "spend", "kind": "numeric", "fill": 0.0, "indicator": False,
                         "mean": 0.0, "scale": 1.0, "quantiles": bad}]}
    with pytest.raises(InputError, match="column 'spend' of the table encoding: (its )?quantile"):
        TableEncoder.from_json(spec)  # as a model file's encoding is read


def test_an_unknown_scaling_is_refused():
    with pytest.raises(InputError, match="scaling must be one of standard, quantile"):
        TableEncoder(scaling="robust")
    with pytest.raises(InputError, match="scaling must be one of"):
        hg.train_classifier(_frame(60, 5), np.arange(60) % 2, scaling="minmax", epochs=1)


def test_the_command_line_trains_predicts_and_reports_quantile_scaling(tmp_path):
    train, test = _frame(300, 6), _frame(80, 7)
    for f in (train, test):
        f["label"] = np.where(f["spend"] > 20, "big", "small")
    train.to_csv(tmp_path / "train.csv", index=False)
    test.drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    run = [sys.executable, "-m", "handgrad"]
    done = subprocess.run(run + ["train", "--data", "train.csv", "--target", "label", "--scaling",
                                 "quantile", "--ensemble", "1", "--no-plot", "--json", "--epochs", "20"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    info = subprocess.run(run + ["info", "handgrad-out/model.safetensors"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert "numeric (quantile-scaled) spend, income" in info.stdout
    model = load_model(tmp_path / "handgrad-out" / "model.safetensors")
    assert all("quantiles" in s for s in model.encoder.columns_ if s["kind"] == "numeric")
    out = subprocess.run(run + ["predict", "handgrad-out/model.safetensors", "--data", "new.csv",
                                "--out", "p.csv"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    got = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_array_equal(got.iloc[:, -1].astype(str), model.predict(test.drop(columns="label")))
    bad = subprocess.run(run + ["train", "--data", "train.csv", "--target", "label", "--scaling", "robust"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'robust'" in bad.stderr


def test_a_stream_refuses_quantile_scaling_in_one_line(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _frame(100, 8).drop(columns="kind").fillna(0.0)
    frame["label"] = np.arange(100) % 2
    frame.to_parquet(tmp_path / "t.parquet")
    done = subprocess.run([sys.executable, "-m", "handgrad", "train", "--data", "t.parquet", "--target",
                           "label", "--stream-buffer", "50", "--scaling", "quantile", "--no-plot"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "--scaling quantile does not work with --stream-buffer" in done.stderr
    assert "Traceback" not in done.stderr


def test_quantile_scaling_makes_a_spiked_heavy_tailed_column_learnable():
    """The label is "spend > 0" on a column that is 0 on 40 % of the rows and lognormal with a
    heavy tail elsewhere: standardised, the zeros and the small positive amounts are a hair
    apart; mapped, they are a unit apart. Same network, same seed, same epochs."""
    train, test = _frame(600, 9), _frame(600, 10)
    y_train, y_test = (train["spend"] > 0).to_numpy(), (test["spend"] > 0).to_numpy()
    acc = {}
    for scaling in ("standard", "quantile"):
        m = hg.train_classifier(train, y_train, scaling=scaling, hidden_sizes=[8], epochs=60,
                                batch_size=32, seed=0, validation_fraction=0)
        acc[scaling] = float(np.mean(m.predict(test) == y_test))
    assert acc["quantile"] > 0.98 and acc["standard"] < 0.9, acc  # measured: 0.993 and 0.76
    assert not math.isnan(acc["standard"])


def test_auto_scaling_maps_the_skewed_columns_and_standardises_the_others():
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"amount": rng.lognormal(0, 1, 500), "height": rng.normal(170, 10, 500),
                          "kids": rng.poisson(0.3, 500).astype(float), "even": rng.uniform(0, 1, 500)})
    enc = TableEncoder(scaling="auto").fit(frame)
    mapped = {s["name"] for s in enc.columns_ if "quantiles" in s}
    assert mapped == {"amount", "kids"}
    from handgrad.data.quantiles import skewed

    assert skewed(rng.exponential(size=2000)) and not skewed(rng.normal(size=2000))
    assert not skewed(np.full(10, 4.0)) and not skewed(np.array([1e308, -1e308, 1e308]))
    assert skewed(np.r_[np.full(99, -1e308), 1.7e308])  # no overflow in the cubes
