"""Adversarial cases on tables, labels and numbers: labels rewritten by the reader, values that
overflow quietly, files from Excel and elsewhere, columns matched by position, tiny data."""

from __future__ import annotations

import codecs
import json

import numpy as np
import pandas as pd
import pytest

import handgrad as hg
from handgrad.data import TableEncoder, load_dataset, load_table, load_table_frame
from handgrad.data.preprocessing import LabelEncoder, Standardizer
from handgrad.model.classifier import train_classifier

from .harness import accept, accept_api, refuse, refuse_api, run_case

QUIET = "--epochs 2 --no-plot --quiet --out-dir {tmp}/o"
JSON = "--epochs 2 --no-plot --json --out-dir {tmp}/o"


def frame(n=60, seed=0, labels=None):
    """Two numeric columns and a text one; ``labels(a, b)`` gives the label column."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"a": rng.normal(size=n).round(3), "b": rng.normal(size=n).round(3),
                      "c": rng.choice(["red", "green", "blue"], n)})
    f["y"] = labels(f.a.to_numpy(), f.b.to_numpy()) if labels else np.where(f.a > 0, "big", "small")
    return f


def csv(f, **kw) -> str:
    return f.to_csv(index=False, **kw)


def two(x, y, a, b):
    return np.where(a > 0, x, y)


def three(x, y, z, a, b):
    return np.where(a > 0, x, np.where(b > 0, y, z))


def model_of(tmp, name="o"):
    return hg.load_model(tmp / name / "model.safetensors")


def classes_are(*expected, name="o"):
    def check(out, err, tmp):
        got = model_of(tmp, name).classes.tolist()
        assert got == list(expected), got
    return check


def notes_have(*fragments):
    def check(out, err, tmp):
        notes = " | ".join(json.loads(out)["notes"])
        for f in fragments:
            assert f in notes, (f, notes)
    return check


def err_has(*fragments):
    def check(out, err, tmp):
        for f in fragments:
            assert f in err, (f, err)
    return check


def both(*checks):
    def check(out, err, tmp):
        for c in checks:
            c(out, err, tmp)
    return check


def same_predictions(a, b):
    def check(out, err, tmp):
        pa, pb = (pd.read_csv(tmp / n, keep_default_na=False).prediction.tolist() for n in (a, b))
        assert pa == pb
    return check


# ----- files shared by several cases ---------------------------------------------------------

BASE = frame(90)
BASE_CSV = csv(BASE)
REORDERED_CSV = csv(BASE[["y", "c", "b", "a"]])
NUM = frame(90, labels=lambda a, b: three("1", "2", "other", a, b))
IDX = frame(40)
ZERO = frame(60, labels=lambda a, b: two("01", "1", a, b))
CAT = frame(60, labels=lambda a, b: three("cat", "cat ", " dog", a, b))
NA_TEXT = frame(60, labels=lambda a, b: three("NA", "EU", "AS", a, b))
NA_NUM = frame(60, labels=lambda a, b: three("NA", "1", "2", a, b))
NONE = frame(60, labels=lambda a, b: two("None", "Some", a, b))
HUGE = frame(60)
HUGE["a"] = HUGE["a"] * 1e160
EXTREME = frame(40)
EXTREME["a"] = np.where(EXTREME.a > 0, 1.7e308, -1.7e308)


def tiny(n_per_class: int, classes=("x", "z")) -> str:
    rows = [f"{k * 0.37 + i:.2f},{c}" for k, c in enumerate(classes) for i in range(n_per_class)]
    return "a,y\n" + "\n".join(rows) + "\n"


def unsorted_model(path):
    """A model file whose classes are stored in reverse order (a hand-written or other tool's)."""
    X = BASE[["a", "b"]].to_numpy()
    m = train_classifier(X, BASE.y.to_numpy(), epochs=30, validation_fraction=0, feature_names=["a", "b"])
    rev = hg.Model(m.net, m.classes[::-1].copy(), m.scaler, m.feature_names, m.record)
    hg.save_model(rev, path)


def api_numeric_model():
    X = BASE[["a", "b"]]
    return train_classifier(X.to_numpy(), BASE.y.to_numpy(), epochs=30, validation_fraction=0,
                            feature_names=["a", "b"])


def check_reordered_api(model):
    swapped = BASE[["b", "a"]]
    assert model.predict(swapped).tolist() == model.predict(BASE[["a", "b"]]).tolist()


def check_unsorted(tmp_model_path):
    m = hg.load_model(tmp_model_path)
    assert m.classes.tolist() == ["small", "big"]
    acc = m.score(BASE[["a", "b"]], BASE.y.to_numpy())
    p = m.predict(BASE[["a", "b"]])
    assert acc == np.mean(p == BASE.y.to_numpy())


def _unsorted_accuracy(out, path):
    m = hg.load_model(path)
    expected = np.mean(m.predict(BASE[["a", "b"]]) == BASE.y.to_numpy())
    assert json.loads(out)["accuracy"] == pytest.approx(expected, abs=1e-12)


def _unsorted_roundtrip():
    import tempfile
    from pathlib import Path
    path = Path(tempfile.mkdtemp()) / "u.safetensors"
    unsorted_model(path)
    check_unsorted(path)
    return True


CASES = [
    # ----- labels are read as text and compared as text -----------------------------------
    accept("label-01-and-1-are-two-classes", f"train --data {{z_csv}} --target y {QUIET}",
           classes_are("01", "1"), files={"z.csv": csv(ZERO)}),
    accept("label-zero-padded-codes-stay-text", f"train --data {{z_csv}} --target y {QUIET}",
           classes_are("007", "010"), files={"z.csv": csv(frame(60, labels=lambda a, b: two("007", "010", a, b)))}),
    accept("label-surrounding-spaces-are-one-class", f"train --data {{c_csv}} --target y {QUIET}",
           classes_are("cat", "dog"), files={"c.csv": csv(CAT)}),
    accept("label-NA-among-text-is-a-class", f"train --data {{n_csv}} --target y {JSON}",
           both(classes_are("AS", "EU", "NA"), notes_have("'NA' in the label column 'y' is read as a class name",
                                                         "leave those cells empty")),
           files={"n.csv": csv(NA_TEXT)}),
    accept("label-None-among-text-is-a-class", f"train --data {{n_csv}} --target y {JSON}",
           both(classes_are("None", "Some"), notes_have("'None' in the label column")),
           files={"n.csv": csv(NONE)}),
    accept("label-NULL-among-text-is-a-class", f"train --data {{n_csv}} --target y {QUIET}",
           classes_are("NULL", "x"), files={"n.csv": csv(frame(60, labels=lambda a, b: two("NULL", "x", a, b)))}),
    accept("label-NA-among-numbers-is-missing", f"train --data {{n_csv}} --target y {JSON}",
           both(classes_are(1, 2), notes_have(f"{int((NA_NUM.y == 'NA').sum())} rows without a label in 'y' were left out")),
           files={"n.csv": csv(NA_NUM)}),
    accept("label-empty-cells-are-left-out-and-counted", f"train --data {{n_csv}} --target y {JSON}",
           notes_have(f"{int((NA_TEXT.y == 'NA').sum())} rows without a label"),
           files={"n.csv": csv(NA_TEXT.assign(y=NA_TEXT.y.replace("NA", "")))}),
    refuse("label-empty-in-every-row", f"train --data {{e_csv}} --target y {QUIET}", "'y'", "empty in every row",
           files={"e.csv": "a,y\n1,\n2,\n3, \n"}),
    refuse("label-NA-only-numeric-in-every-row", f"train --data {{e_csv}} --target y {QUIET}", "empty in every row",
           files={"e.csv": "a,y\n1,NA\n2,NA\n"}),
    accept("label-text-model-evaluates-numeric-file",
           f"train --data {{mix_csv}} --target y --test {{num_csv}} {QUIET}",
           classes_are("1", "2", "other"),
           files={"mix.csv": csv(NUM), "num.csv": csv(NUM[NUM.y != "other"])}),
    accept("label-int-model-evaluates-whole-floats",
           f"train --data {{i_csv}} --target y --test {{f_csv}} {QUIET}", classes_are(1, 2),
           files={"i.csv": csv(frame(60, labels=lambda a, b: two(1, 2, a, b))),
                  "f.csv": csv(frame(30, seed=1, labels=lambda a, b: two("1.0", "2.0", a, b)))}),
    accept("label-test-file-with-spaces-matches", f"train --data {{t_csv}} --target y --test {{s_csv}} {QUIET}",
           classes_are("big", "small"),
           files={"t.csv": BASE_CSV, "s.csv": csv(BASE.assign(y=BASE.y + "  "))}),
    refuse("label-one-number-written-two-ways", f"train --data {{t_csv}} --target y {QUIET}",
           "'y'", "two ways", "'1'", "'1.0'", files={"t.csv": "a,y\n1,1\n2,2\n3,1.0\n4,2\n"}),
    refuse("label-fractional-numbers", f"train --data {{t_csv}} --target y --task classification {QUIET}",
           "non-integer numbers", "row 2", "--task regression", files={"t.csv": "a,y\n1,1\n2,2.5\n3,1\n"}),
    refuse("label-beyond-int64", f"train --data {{t_csv}} --target y {QUIET}",
           "9223372036854775807", "row 1", files={"t.csv": "a,y\n1,9223372036854775808\n2,1\n"}),
    refuse("label-unseen-at-test", f"train --data {{t_csv}} --target y --test {{u_csv}} {QUIET}",
           "never seen", "medium", files={"t.csv": BASE_CSV, "u.csv": csv(BASE.assign(y="medium"))}),
    accept("label-big-integer-kept-exactly", f"train --data {{t_csv}} --target y {QUIET}",
           classes_are(9007199254740993, 9007199254740995),
           files={"t.csv": csv(frame(60, labels=lambda a, b: two(9007199254740993, 9007199254740995, a, b)))}),
    accept("label-bool-text-stays-text", f"train --data {{t_csv}} --target y {QUIET}",
           classes_are("False", "True"), files={"t.csv": csv(frame(60, labels=lambda a, b: a > 0))}),
    refuse("label-NUL-ending", f"train --data {{t_csv}} --target y {QUIET}", "NUL", "row 2",
           files={"t.csv": b"a,y\n1,a\n2,a\x00\n3,b\n"}),
    accept("label-unsorted-classes-file-evaluates", "evaluate {u_safetensors} --data {t_csv} --target y --json",
           lambda out, err, tmp: _unsorted_accuracy(out, tmp / "u.safetensors"), files={"u.safetensors": unsorted_model, "t.csv": BASE_CSV}),

    # ----- labels through the Python API ---------------------------------------------------
    refuse_api("api-labels-mix-int-and-str", lambda: LabelEncoder().fit(np.array([1, "a", 2], dtype=object)),
               "mix numbers and texts"),
    refuse_api("api-labels-with-None", lambda: LabelEncoder().fit(np.array([None, "a", "b"], dtype=object)),
               "missing value", "position 0"),
    refuse_api("api-train-labels-with-None", lambda: train_classifier(BASE[["a", "b"]].to_numpy(),
                                                                     [None, "x", "z"] * 30, epochs=1),
               "missing value"),
    refuse_api("api-train-series-with-None", lambda: train_classifier(
        BASE[["a", "b"]].to_numpy(), pd.Series(["x", None, "z"] * 30, dtype=object), epochs=1), "missing value"),
    refuse_api("api-labels-with-nan", lambda: LabelEncoder().fit(np.array([1.0, np.nan, 2.0])), "NaN"),
    refuse_api("api-labels-empty-text", lambda: LabelEncoder().fit(np.array(["a", " ", "b"])), "empty text"),
    refuse_api("api-labels-2d", lambda: LabelEncoder().fit(np.zeros((3, 2))), "1-D"),
    refuse_api("api-labels-dicts", lambda: LabelEncoder().fit(np.array([{}, "a"], dtype=object)),
               "one integer or one text"),
    refuse_api("api-labels-single-class", lambda: LabelEncoder().fit(["a", "a "]), "at least 2 classes"),
    accept_api("api-labels-list-mixing-int-and-str-is-text",
               lambda: train_classifier(BASE[["a", "b"]].to_numpy(), [1, "a", 2] * 30, epochs=1,
                                        validation_fraction=0),
               lambda m: m.classes.tolist() == ["1", "2", "a"] or pytest.fail(str(m.classes))),
    accept_api("api-labels-bool-saveable",
               lambda: train_classifier(BASE[["a", "b"]].to_numpy(), BASE.a.to_numpy() > 0, epochs=1,
                                        validation_fraction=0),
               lambda m: (m.classes.tolist() == [0, 1] and len(hg.model.files.model_to_bytes(m)) > 0)
               or pytest.fail(str(m.classes))),
    accept_api("api-text-classes-take-integers", lambda: LabelEncoder(np.array(["1", "2", "other"])).transform([2, 1]),
               lambda idx: idx.tolist() == [1, 0] or pytest.fail(str(idx))),
    accept_api("api-int-classes-take-text", lambda: LabelEncoder(np.array([3, 1, 2])).transform(["1", " 3"]),
               lambda idx: idx.tolist() == [1, 0] or pytest.fail(str(idx))),
    refuse_api("api-int-classes-refuse-other-text", lambda: LabelEncoder(np.array([1, 2])).transform(["1", "x"]),
               "never seen", "'x'"),
    accept_api("api-unsorted-classes-encode", lambda: LabelEncoder(np.array(["z", "a", "m"])).transform(["a", "m", "z"]),
               lambda idx: idx.tolist() == [1, 2, 0] or pytest.fail(str(idx))),
    accept_api("api-unsorted-model-scores-itself", _unsorted_roundtrip),
    accept_api("api-string-labels-stripped", lambda: LabelEncoder().fit(["cat", "cat ", " dog"]).classes.tolist(),
               lambda c: c == ["cat", "dog"] or pytest.fail(str(c))),

    # ----- numbers that overflow -----------------------------------------------------------
    accept("huge-1e160-column-trains-and-saves", f"train --data {{h_csv}} --target y {QUIET}",
           lambda out, err, tmp: [s for s in model_of(tmp).encoder.columns_ if s["name"] == "a"][0]["kind"] == "numeric"
           or pytest.fail("a not numeric"), files={"h.csv": csv(HUGE)}),
    accept("extreme-1.7e308-column-trains", f"train --data {{h_csv}} --target y {QUIET}",
           files={"h.csv": csv(EXTREME)}),
    accept_api("api-huge-matrix-column-not-ignored",
               lambda: Standardizer().fit(HUGE[["a", "b"]].to_numpy()),
               lambda s: (np.isfinite(s.scale).all() and 1e159 < s.scale[0] < 1e161) or pytest.fail(str(s.scale))),
    accept_api("api-huge-matrix-trains-and-saves",
               lambda: hg.model.files.model_to_bytes(train_classifier(
                   HUGE[["a", "b"]].to_numpy(), HUGE.y.to_numpy(), epochs=2, validation_fraction=0))),
    accept_api("api-huge-table-standardised",
               lambda: TableEncoder().fit_transform(HUGE[["a"]]),
               lambda z: (np.isfinite(z).all() and abs(z.std() - 1) < 1e-9) or pytest.fail(str(z[:3]))),
    accept_api("api-extreme-median-finite",
               lambda: TableEncoder().fit(pd.DataFrame({"x": [1.7e308, 1.7e308, np.nan, -1.7e308] * 6})).columns_[0],
               lambda s: np.isfinite([s["fill"], s["mean"], s["scale"]]).all() or pytest.fail(str(s))),
    refuse("feature-inf-text", f"train --data {{t_csv}} --target y {QUIET}", "'a'", "finite number",
           files={"t.csv": csv(BASE.assign(a=BASE.a.astype(str).where(BASE.index != 3, "inf")))}),
    refuse("feature-beyond-float64", f"train --data {{t_csv}} --target y {QUIET}", "'a'",
           files={"t.csv": csv(BASE).replace(f"\n{BASE.a[5]},", "\n1e999,", 1)}),

    # ----- files from Excel and elsewhere --------------------------------------------------
    accept("semicolon-separated", f"train --data {{s_csv}} --target y {JSON}", notes_have("semicolons"),
           files={"s.csv": csv(BASE, sep=";")}),
    accept("semicolon-decimal-comma", f"train --data {{s_csv}} --target y {JSON}",
           both(notes_have("decimal comma", "'a', 'b'"),
                lambda out, err, tmp: {s["name"]: s["kind"] for s in model_of(tmp).encoder.columns_}["a"] == "numeric"
                or pytest.fail("a is not numeric")),
           files={"s.csv": csv(BASE, sep=";", decimal=",")}),
    accept("semicolon-decimal-comma-thousands", f"train --data {{s_csv}} --target y {JSON}",
           notes_have("'a'"),
           files={"s.csv": "a;y\n" + "".join(f"{'1.234,5' if i % 2 else '2,25'};{'u' if i % 3 else 'v'}\n"
                                            for i in range(30))}),
    accept("pipe-separated", f"train --data {{p_csv}} --target y {JSON}", notes_have("vertical bars"),
           files={"p.csv": csv(BASE, sep="|")}),
    accept("tab-separated-named-csv", f"train --data {{p_csv}} --target y {JSON}", notes_have("tabs"),
           files={"p.csv": csv(BASE, sep="\t")}),
    refuse("separator-ambiguous", f"train --data {{p_csv}} --target y {QUIET}", "semicolons and tabs",
           "re-save it", files={"p.csv": "a;b\tc\n1;2\t3\n"}),
    accept("cp1252-from-excel", f"train --data {{w_csv}} --target y {JSON}",
           both(notes_have("Windows-1252"), classes_are("grün", "rot")),
           files={"w.csv": csv(frame(60, labels=lambda a, b: two("grün", "rot", a, b))).encode("cp1252")}),
    accept("cp1252-semicolon-decimal-comma", f"train --data {{w_csv}} --target y {JSON}",
           notes_have("Windows-1252", "semicolons", "decimal comma"),
           files={"w.csv": csv(frame(60, labels=lambda a, b: two("ja", "nein", a, b)).rename(columns={"a": "größe"}),
                               sep=";", decimal=",").encode("cp1252")}),
    refuse("neither-utf8-nor-cp1252", f"train --data {{w_csv}} --target y {QUIET}",
           "neither UTF-8 nor Windows-1252", "0x81", files={"w.csv": b"a,y\n1,x\x81\n2,z\n"}),
    accept("utf16-unicode-text-from-excel", f"train --data {{u_txt}} --target y {JSON}",
           notes_have("UTF-16", "tabs"), files={"u.txt": csv(BASE, sep="\t").encode("utf-16")}),
    accept("utf16-comma-csv", f"train --data {{u_csv}} --target y {JSON}", notes_have("UTF-16"),
           files={"u.csv": csv(BASE).encode("utf-16")}),
    accept("utf16-le-without-bom", f"train --data {{u_csv}} --target y {JSON}", notes_have("UTF-16"),
           files={"u.csv": csv(BASE).encode("utf-16-le")}),
    accept("utf8-bom", f"train --data {{u_csv}} --target y {QUIET}", classes_are("big", "small"),
           files={"u.csv": codecs.BOM_UTF8 + BASE_CSV.encode()}),
    accept("pandas-index-column-dropped", f"train --data {{i_csv}} --target y {JSON}",
           both(notes_have("'Unnamed: 0' dropped", "index=False"),
                lambda out, err, tmp: "Unnamed: 0" not in model_of(tmp).record["table"]["columns_in"]
                or pytest.fail("index used")),
           files={"i.csv": IDX.to_csv()}),
    accept("pandas-index-column-tiny-table", f"train --data {{i_csv}} --target y --test-fraction 0 {JSON}",
           notes_have("'Unnamed: 0' dropped"), files={"i.csv": frame(12).to_csv()}),
    accept("pandas-shuffled-index-dropped", f"train --data {{i_csv}} --target y {JSON}",
           notes_have("'Unnamed: 0' dropped"), files={"i.csv": IDX.sample(frac=1, random_state=0).to_csv()}),
    accept("r-rownames-dropped", f"train --data {{i_csv}} --target y {JSON}", notes_have("row.names=FALSE"),
           files={"i.csv": IDX.set_axis([f"r{i}" for i in range(len(IDX))]).to_csv()}),
    accept("named-first-column-kept", f"train --data {{i_csv}} --target y {QUIET}",
           lambda out, err, tmp: "id" in model_of(tmp).record["table"]["columns_in"] or pytest.fail("id gone"),
           files={"i.csv": IDX.rename_axis("id").to_csv()}),
    accept_api("api-load-dataset-drops-index",
               lambda: load_dataset(_write_tmp("i.csv", IDX[["a", "b", "y"]].to_csv()), "y"),
               lambda d: (d.feature_names == ["a", "b"] and "Unnamed: 0" in d.notes[0]) or pytest.fail(str(d))),
    accept_api("api-features-may-name-the-index", lambda: load_table(
        _write_tmp("i.csv", IDX[["a", "y"]].to_csv()), "y", features=["Unnamed: 0", "a"]),
        lambda d: d.feature_names == ["Unnamed: 0", "a"] or pytest.fail(str(d.feature_names))),
    accept("predict-file-with-index", "predict {model} --data {i_csv} --out {tmp}/p.csv --quiet",
           err_has("'Unnamed: 0' dropped"),
           files={"i.csv": lambda p: pd.read_csv(_SHARED["train_csv"]).to_csv(p)}),

    # ----- columns are matched by name -----------------------------------------------------
    accept_api("api-numeric-model-matches-dataframe-by-name", lambda: check_reordered_api(api_numeric_model())),
    refuse_api("api-numeric-model-names-every-missing-column",
               lambda: api_numeric_model().predict(BASE[["c"]].rename(columns={"c": "q"})), "'a'", "'b'"),
    accept_api("api-table-model-matches-by-name", lambda: _table_reordered()),
    refuse_api("api-table-model-names-every-missing-column",
               lambda: train_classifier(BASE[["a", "b", "c"]], BASE.y.to_numpy(), epochs=1,
                                        validation_fraction=0).predict(BASE[["b"]]), "'a'", "'c'"),
    refuse("predict-file-lacks-two-columns", "predict {model} --data {t_csv} --out {tmp}/p.csv",
           "'length'", "'weight'", files={"t.csv": "colour,kind\nred,big\n"}),
    refuse("evaluate-file-lacks-two-columns", "evaluate {model} --data {t_csv}",
           "'length'", "'weight'", files={"t.csv": "colour,kind\nred,big\n"}),
]


def _write_tmp(name, text):
    import tempfile
    from pathlib import Path
    path = Path(tempfile.mkdtemp()) / name
    path.write_text(text)
    return path


def _table_reordered():
    m = train_classifier(BASE[["a", "b", "c"]], BASE.y.to_numpy(), epochs=20, validation_fraction=0)
    assert m.predict(BASE[["c", "b", "a"]]).tolist() == m.predict(BASE[["a", "b", "c"]]).tolist()


_SHARED: dict = {}


def _reorder_shared(path, columns):
    pd.read_csv(_SHARED["train_csv"])[columns].to_csv(path, index=False)


CASES += [
    accept("predict-columns-reordered-same-predictions",
           "predict {model} --data {t_csv} --out {tmp}/p1.csv --quiet",
           lambda out, err, tmp: _predict_again(tmp, "r.csv"),
           files={"t.csv": lambda p: _reorder_shared(p, ["length", "colour", "weight"]),
                  "r.csv": lambda p: _reorder_shared(p, ["weight", "kind", "colour", "length"])}),
    accept("evaluate-columns-reordered", "evaluate {model} --data {r_csv} --json",
           lambda out, err, tmp: _evaluate_equal(out),
           files={"r.csv": lambda p: _reorder_shared(p, ["weight", "kind", "colour", "length"])}),
    accept("numeric-model-columns-reordered", "predict {numeric_model} --data {r_csv} --out {tmp}/p1.csv --quiet",
           lambda out, err, tmp: _numeric_again(tmp),
           files={"r.csv": lambda p: _iris(p, reverse=True), "s.csv": lambda p: _iris(p)}),

    # ----- tiny data: which split cannot be made, and what to do ----------------------------
    refuse("tiny-two-rows-test-part", f"train --data {{t_csv}} --target y {QUIET}",
           "the test part (--test-fraction)", "--test-fraction 0", files={"t.csv": tiny(1)}),
    refuse("tiny-two-rows-validation-part", f"train --data {{t_csv}} --target y --test-fraction 0 {QUIET}",
           "the validation part", "--val-fraction 0", files={"t.csv": tiny(1)}),
    refuse("tiny-four-rows-validation-after-test", f"train --data {{t_csv}} --target y {QUIET}",
           "the validation part", "from 2 rows", files={"t.csv": tiny(2)}),
    accept("tiny-two-rows-no-splits", f"train --data {{t_csv}} --target y --test-fraction 0 --val-fraction 0 {QUIET}",
           classes_are("x", "z"), files={"t.csv": tiny(1)}),
    refuse("tiny-one-class", f"train --data {{t_csv}} --target y --test-fraction 0 {QUIET}",
           "at least 2 classes", files={"t.csv": tiny(3, classes=("x",))}),
    refuse_api("api-tiny-validation-part", lambda: train_classifier(np.arange(4.0)[:, None], ["a", "b", "c", "d"],
                                                                   epochs=1, validation_fraction=0.5),
               "the validation part", "validation_fraction=0"),
    accept("tiny-cross-validation-with-a-single-row-class",
           f"train --data {{t_csv}} --target y --test-fraction 0 {QUIET}", classes_are("x", "y", "z"),
           files={"t.csv": "a,y\n" + "".join(f"{i * 0.1:.1f},{'x' if i < 10 else 'z'}\n" for i in range(20))
                  + "5.0,y\n"}),

    # ----- feature values: spaces and markers, consistently at train and predict time -------
    accept_api("feature-category-spaces-are-one-category",
               lambda: TableEncoder().fit(pd.DataFrame({"c": ["red", "red ", " blue"] * 8})).columns_[0]["categories"],
               lambda c: c == ["blue", "red"] or pytest.fail(str(c))),
    accept_api("feature-category-spaces-at-predict-time",
               lambda: TableEncoder().fit(pd.DataFrame({"c": ["red", "blue"] * 8})).transform(
                   pd.DataFrame({"c": [" red  ", "blue "]})),
               lambda z: z.tolist() == [[0.0, 1.0], [1.0, 0.0]] or pytest.fail(str(z))),
    accept_api("feature-None-is-a-category",
               lambda: load_table_frame(_write_tmp("n.csv", "c,y\n" + "None,a\nSome,b\n" * 5), "y").frame.c.tolist(),
               lambda c: c[:2] == ["None", "Some"] or pytest.fail(str(c))),
    accept_api("feature-NA-is-missing",
               lambda: load_table_frame(_write_tmp("n.csv", "c,y\n" + "NA,a\nSome,b\n" * 5), "y").frame.c.isna().sum(),
               lambda k: k == 5 or pytest.fail(str(k))),
    accept_api("label-decimal-comma-text-not-converted",
               lambda: load_table_frame(_write_tmp("d.csv", "a;y\n" + "1,5;2,5\n2,5;3,5\n" * 3), "y"),
               lambda t: (t.y.tolist()[:2] == ["2,5", "3,5"] and t.frame.a.tolist()[:2] == [1.5, 2.5])
               or pytest.fail(str(t))),
]


def _predict_again(tmp, other):
    from handgrad.cli.main import main
    assert main(["predict", str(_SHARED["model"]), "--data", str(tmp / other), "--out", str(tmp / "p2.csv"),
                 "--quiet"]) == 0
    same_predictions("p1.csv", "p2.csv")(None, None, tmp)


def _evaluate_equal(out):
    m = hg.load_model(_SHARED["model"])
    table = load_table_frame(_SHARED["train_csv"], "kind", columns=m.input_columns)
    assert json.loads(out)["accuracy"] == pytest.approx(m.score(table.frame, table.y), abs=1e-12)


def _iris(path, reverse=False):
    data = load_dataset("iris")
    f = pd.DataFrame(data.X, columns=data.feature_names)
    (f.iloc[:, ::-1] if reverse else f).to_csv(path, index=False)


def _numeric_again(tmp):
    from handgrad.cli.main import main
    assert main(["predict", str(_SHARED["numeric_model"]), "--data", str(tmp / "s.csv"), "--out",
                 str(tmp / "p2.csv"), "--quiet"]) == 0
    same_predictions("p1.csv", "p2.csv")(None, None, tmp)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, shared_files, tmp_path, capsys):
    _SHARED.update(shared_files)
    run_case(case, shared_files, tmp_path, capsys)


def test_cases_are_distinct_and_enough():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
