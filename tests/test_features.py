"""Raw tables: the TableEncoder's rules, its JSON in the model file, and a CSV with text
columns, empty cells, unlabelled rows and an index column trained and used end to end."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import handgrad as hg
from handgrad.data.features import MISSING, OTHER, TableEncoder
from handgrad.errors import InputError
from handgrad.model.files import ModelFileError, model_from_bytes, model_to_bytes


def penguins_like(n=300, seed=0):
    """Shaped like palmerpenguins' CSV: text columns, empty cells, a written-out index."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)
    bill = np.where(species == "Gentoo", 47.0, np.where(species == "Adelie", 38.0, 49.0)) + rng.normal(0, 1.5, n)
    flipper = np.where(species == "Gentoo", 217.0, 192.0) + rng.normal(0, 5, n)
    island = np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], n))
    frame = pd.DataFrame({"Unnamed: 0": np.arange(1, n + 1), "species": species, "island": island,
                          "bill_length_mm": bill.round(1), "flipper_length_mm": flipper.round(0),
                          "sex": rng.choice(["male", "female"], n), "year": rng.choice([2007, 2008, 2009], n),
                          "study": "PAL0708"})
    frame.loc[rng.choice(n, 12, replace=False), "bill_length_mm"] = np.nan
    frame.loc[rng.choice(n, 9, replace=False), "sex"] = np.nan
    return frame


def test_rules_pick_each_column_kind_and_drop_what_carries_nothing():
    frame = penguins_like().drop(columns=["species"])
    frame["id"] = [f"P{i:04d}" for i in range(len(frame))]
    frame["ok"] = np.where(np.arange(len(frame)) % 3, "Yes", "no")
    enc = TableEncoder().fit(frame)
    kinds = {c["name"]: c["kind"] for c in enc.columns_}
    assert kinds == {"Unnamed: 0": "dropped", "island": "categorical", "bill_length_mm": "numeric",
                     "flipper_length_mm": "numeric", "sex": "categorical", "year": "numeric",
                     "study": "dropped", "id": "dropped", "ok": "boolean"}
    assert {"bill_length_mm (missing)", f"sex={MISSING}", "island=Dream"} <= set(enc.feature_names_out_)
    assert "flipper_length_mm (missing)" not in enc.feature_names_out_  # no empty cell in training
    X = enc.transform(frame)
    assert X.shape == (len(frame), len(enc.feature_names_out_)) and np.isfinite(X).all()
    names = enc.feature_names_out_
    num = X[:, names.index("flipper_length_mm")]
    assert abs(num.mean()) < 1e-12 and abs(num.std() - 1) < 1e-12  # standardised on training rows
    onehot = X[:, [i for i, n in enumerate(names) if n.startswith("island=")]]
    assert set(np.unique(onehot)) == {0.0, 1.0} and np.all(onehot.sum(axis=1) == 1)  # left unscaled
    filled = X[:, names.index("bill_length_mm")][frame["bill_length_mm"].isna().to_numpy()]
    assert np.allclose(filled, filled[0])  # one fill value: the training median, standardised


def test_unseen_and_rare_categories_and_new_empty_cells():
    train = pd.DataFrame({"c": ["a"] * 10 + ["b"] * 6 + ["c"] * 3 + ["d"], "x": np.arange(20.0)[::-1]})
    enc = TableEncoder(max_categories=2).fit(train)
    assert enc.feature_names_out_ == ["c=a", "c=b", f"c={OTHER}", "x"]
    X = enc.transform(pd.DataFrame({"c": ["a", "c", "zzz", None], "x": [1.0, None, 3.0, 4.0]}))
    np.testing.assert_array_equal(X[:, :3], [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0]])
    assert X[1, 3] == (np.median(np.arange(20.0)) - 9.5) / np.arange(20.0).std()
    no_other = TableEncoder().fit(pd.DataFrame({"c": ["a", "b"] * 10}))
    np.testing.assert_array_equal(no_other.transform(pd.DataFrame({"c": ["new"]})), [[0, 0]])


def test_overrides_and_refusals():
    frame = pd.DataFrame({"zip": [10115, 20095, 10115, 80331] * 5, "v": ["1", "2", "x", "4"] * 5})
    enc = TableEncoder(categorical=["zip"], drop=["v"]).fit(frame)
    assert enc.feature_names_out_ == ["zip=10115", "zip=20095", "zip=80331"]
    with pytest.raises(InputError, match="column 'v' is to be numeric but holds 'x'"):
        TableEncoder(numeric=["v"]).fit(frame)
    with pytest.raises(InputError, match="not in the table"):
        TableEncoder(drop=["nope"]).fit(frame)
    fitted = TableEncoder().fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1, 0, 1]}))
    with pytest.raises(InputError, match="lacks the column"):
        fitted.transform(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(InputError, match="'a' holds 'oops' in row 2"):
        fitted.transform(pd.DataFrame({"a": [1.0, "oops"], "b": [0, 1]}))


def test_json_round_trip_and_damaged_specs_are_refused():
    frame = penguins_like().drop(columns=["species"])
    enc = TableEncoder().fit(frame)
    again = TableEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    np.testing.assert_array_equal(again.transform(frame), enc.transform(frame))
    spec = enc.to_json()
    for damage in (lambda s: s["columns"][2].update(scale=0.0),
                   lambda s: s["columns"][1].update(kind="mystery"),
                   lambda s: s["columns"][1].update(categories=["a", "a"]),
                   lambda s: s["columns"][2].pop("mean"),
                   lambda s: s["columns"].append(dict(s["columns"][2]))):
        broken = json.loads(json.dumps(spec))
        damage(broken)
        with pytest.raises(InputError):
            TableEncoder.from_json(broken)


def test_api_model_on_a_dataframe_saves_loads_and_predicts_the_same():
    frame = penguins_like()
    y = frame.pop("species")
    model = hg.train_classifier(frame.iloc[:250], y.iloc[:250].to_numpy(), hidden_sizes=[16], epochs=60)
    assert model.encoder is not None and model.input_columns[0] == "island"
    assert model.score(frame.iloc[250:], y.iloc[250:].to_numpy()) > 0.9
    data = model_to_bytes(model)
    loaded = model_from_bytes(data)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    with pytest.raises(InputError, match="DataFrame"):
        model.predict(np.zeros((2, model.n_features)))
    meta = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])["__metadata__"]["handgrad"]
    assert json.loads(meta)["format_version"] == 2
    wrong = data.replace(b'\\"scale\\"', b'\\"scalf\\"', 1)
    with pytest.raises(ModelFileError, match="table encoding"):
        model_from_bytes(wrong)


def run(*args):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True, text=True,
                          timeout=600)


def test_a_raw_csv_trains_with_no_options_and_predicts_new_rows(tmp_path):
    frame = penguins_like(400)
    frame.loc[[5, 17], "species"] = np.nan  # unlabelled rows: left out, counted
    frame.iloc[:330].to_csv(tmp_path / "penguins.csv", index=False)
    new = frame.iloc[330:].drop(columns=["species"]).reset_index(drop=True)
    new.loc[0, "island"] = "Atlantis"           # a category never seen
    new.loc[1, "sex"] = np.nan                  # an empty cell
    new.loc[2, "flipper_length_mm"] = np.nan    # empty where training had none
    new.to_csv(tmp_path / "new.csv", index=False)
    out = run("train", "--data", str(tmp_path / "penguins.csv"), "--target", "species",
              "--out-dir", str(tmp_path / "o"), "--no-plot", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["test_accuracy"] > 0.9
    assert any("2 rows without a label" in n for n in result["notes"])
    assert any("'Unnamed: 0' dropped" in n for n in result["notes"])
    assert any("'study' dropped: constant" in n for n in result["notes"])
    model = str(tmp_path / "o" / "model.safetensors")
    out = run("predict", model, "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"), "--proba")
    assert out.returncode == 0, out.stderr
    pred = pd.read_csv(tmp_path / "p.csv")
    assert len(pred) == len(new) and set(pred["prediction"]) <= {"Adelie", "Gentoo", "Chinstrap"}
    assert np.allclose(pred.filter(like="proba_").sum(axis=1), 1, atol=1e-5)
    labelled = frame.iloc[330:].dropna(subset=["species"])
    labelled.to_csv(tmp_path / "test.csv", index=False)
    out = run("evaluate", model, "--data", str(tmp_path / "test.csv"), "--json")
    assert out.returncode == 0, out.stderr and json.loads(out.stdout)["accuracy"] > 0.9
    info = run("info", model)
    assert "categorical island, sex" in " ".join(info.stdout.split()), info.stdout
    out = run("evaluate", model, "--data", str(tmp_path / "new.csv"))  # no target column
    assert out.returncode != 0 and "Traceback" not in out.stderr and "species" in out.stderr


def test_predict_copies_id_columns_and_rounds_probabilities(tmp_path):
    frame = penguins_like(200)
    frame.insert(0, "penguin", [f"P-{i}" for i in range(len(frame))])
    frame.insert(1, "tag", [f"T{i % 50}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "train.csv", index=False)
    out = run("train", "--data", str(tmp_path / "train.csv"), "--target", "species", "--epochs", "5",
              "--id-column", "tag", "--out-dir", str(tmp_path / "o"), "--no-plot", "--json")
    assert out.returncode == 0, out.stderr
    notes = json.loads(out.stdout)["notes"]
    assert any("'penguin' dropped: an identifier" in n for n in notes)
    assert any("'tag' dropped: an identifier (--id-column)" in n for n in notes)
    # 160 training rows: cross-validation chooses the epochs; a hold-out part of 16 rows would be
    # warned about
    assert any("on 5-fold cross-validation" in n and "each the median of its folds' best" in n
               for n in notes), notes
    small = run("train", "--data", str(tmp_path / "train.csv"), "--target", "species", "--epochs", "2",
                "--val-fraction", "0.1", "--out-dir", str(tmp_path / "o2"), "--no-plot", "--json")
    assert any("validation part has only" in n for n in json.loads(small.stdout)["notes"])
    frame.drop(columns=["species"]).head(7).to_csv(tmp_path / "new.csv", index=False)
    out = run("predict", str(tmp_path / "o" / "model.safetensors"), "--data", str(tmp_path / "new.csv"),
              "--out", str(tmp_path / "p.csv"), "--proba", "--quiet")
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "p.csv").read_text().splitlines()
    assert text[0].startswith("penguin,tag,prediction,proba_")
    assert text[1].startswith("P-0,T0,")
    probs = [float(cell) for line in text[1:] for cell in line.split(",")[3:]]
    assert all(float(f"{p:.6g}") == p for p in probs)  # 6 significant digits at most


def test_infinite_numbers_are_refused_by_name():
    with pytest.raises(InputError, match="column 'x'.*a feature must be a finite number"):
        TableEncoder().fit(pd.DataFrame({"x": ["inf", "1"] * 20}))


@pytest.mark.parametrize("values", [[1e308, -1e308] * 20, [1.7e308, -1.7e308, 1.7e308, 1.7e308] * 10,
                                    list(np.random.default_rng(0).normal(size=40) * 1e160)])
def test_huge_finite_numbers_are_standardised_not_refused_nor_ignored(values):
    # was: σ overflowed to inf (refused after training by the CLI, the column silently zeroed
    # by the numeric path): the scaling is now computed on x / max|x| where it would overflow
    frame = pd.DataFrame({"x": values})
    enc = TableEncoder().fit(frame)
    spec = enc.columns_[0]
    assert spec["kind"] == "numeric" and np.isfinite([spec["mean"], spec["scale"], spec["fill"]]).all()
    z = enc.transform(frame)[:, 0]
    assert np.isfinite(z).all() and abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-9
    from handgrad.data.preprocessing import Standardizer
    s = Standardizer().fit(np.array(values)[:, None])
    assert np.allclose(s.transform(np.array(values)[:, None])[:, 0], z)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_transformer_works_in_scikit_learn_pipelines():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    from handgrad.sklearn import MLPClassifier, TableTransformer

    frame = penguins_like(240)
    y = frame.pop("species").to_numpy()
    pipe = make_pipeline(TableTransformer(categorical=["year"]), MLPClassifier(hidden_layer_sizes=(16,),
                                                                                max_iter=300, random_state=0))
    scores = cross_val_score(pipe, frame, y, cv=3)
    assert scores.mean() > 0.9
    fitted = clone(pipe).fit(frame, y)
    names = fitted[0].get_feature_names_out()
    assert "year=2008" in names and "island=Dream" in names and "sex=(missing)" in names
    assert fitted[0].get_params()["categorical"] == ["year"]
    assert fitted.predict(frame.iloc[:5]).shape == (5,)


def test_every_offending_column_is_named_in_one_message():
    frame = pd.DataFrame({"a": ["1", "x"] * 10, "b": [1.0, np.inf] * 10, "c": ["k", "l"] * 10})
    with pytest.raises(InputError) as err:
        TableEncoder(numeric=["a"]).fit(frame)
    text = str(err.value)
    assert text.startswith("2 columns cannot be used") and "'a'" in text and "'b'" in text
    assert "\n" not in text
    fitted = TableEncoder().fit(pd.DataFrame({"a": [1.0, 2.0] * 10, "b": ["yes", "no"] * 10}))
    with pytest.raises(InputError, match="2 columns cannot be used.*'a' holds 'x'.*'b' holds 'maybe'"):
        fitted.transform(pd.DataFrame({"a": ["x"], "b": ["maybe"]}))


def test_a_class_named_None_is_a_class_and_NA_an_empty_cell(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=90), "y": ["None", "Some", "Marked"] * 30,
                          "z": ["NA", "1", "2"] * 30})
    frame.to_csv(tmp_path / "t.csv", index=False)
    from handgrad.data import load_table_frame

    table = load_table_frame(tmp_path / "t.csv", "y")
    assert table.n_unlabelled == 0 and sorted(set(table.y)) == ["Marked", "None", "Some"]
    assert table.frame["z"].isna().sum() == 30  # R's NA is a missing cell
