"""Numbers written as text and dates in tables (handgrad.data.numtext, handgrad.data.dates): what
each reads, the per-column decisions and refusals, the date features (checked against pandas'
calendar), a future date encoded rather than zeroed, a date column that carries the label
beating the same table without it, and ONNX Runtime equal to handgrad on a table with dates."""

import datetime
import decimal
import json

import numpy as np
import pandas as pd
import pytest

import handgrad as hg
from handgrad.data import dates, numtext
from handgrad.data.features import TableEncoder
from handgrad.errors import InputError
from handgrad.model.files import model_from_bytes, model_to_bytes

COMMA = {"decimal": ",", "unit": ""}


@pytest.mark.parametrize("cell,plain,comma", [
    ("12,570", 12570.0, 12.57), ("1,234,567.25", 1234567.25, None), ("1.234,5", None, 1234.5),
    ("2,5", None, 2.5), ("12 570", 12570.0, 12570.0), ("12\u202f570,5", None, 12570.5),
    ("12'570", 12570.0, None), ("-1,200", -1200.0, -1.2), ("\u22125", -5.0, -5.0), ("1e5", 1e5, 1e5),
    (" 42 ", 42.0, 42.0), (".5", 0.5, None), ("1.2.3", None, None), ("12-570", None, None),
    ("(5)", None, None), ("5 kg", None, None), ("1,23", None, 1.23), ("12,5700", None, 12.57),
    (decimal.Decimal("1.50"), 1.5, 1.5), (7, 7.0, 7.0), (np.int64(3), 3.0, 3.0), (True, 1.0, 1.0),
    (datetime.timedelta(hours=2), 7200.0, 7200.0), (np.timedelta64(90, "s"), 90.0, 90.0),
    ("2024-03-01", None, None), (None, None, None), (datetime.date(2024, 3, 1), None, None)])
def test_what_a_cell_reads_as_under_each_decimal_mark(cell, plain, comma):
    assert numtext.number(cell) == plain
    assert numtext.number(cell, COMMA) == comma


@pytest.mark.parametrize("cell,form,value", [
    ("$1,200.50", {"decimal": ".", "unit": "$"}, 1200.5), ("-$5", {"decimal": ".", "unit": "$"}, -5.0),
    ("$-5", {"decimal": ".", "unit": "$"}, -5.0), ("12 €", {"decimal": ",", "unit": "€"}, 12.0),
    ("€1.234,50", {"decimal": ",", "unit": "€"}, 1234.5), ("12", {"decimal": ".", "unit": "£"}, 12.0),
    ("12.5%", {"decimal": ".", "unit": "%"}, 12.5), ("12,5 %", {"decimal": ",", "unit": "%"}, 12.5),
    ("€5", {"decimal": ".", "unit": "$"}, None), ("12", {"decimal": ".", "unit": "%"}, None),
    (12.0, {"decimal": ".", "unit": "%"}, None), ("5%", numtext.PLAIN, None), ("$5", numtext.PLAIN, None)])
def test_units_are_read_only_in_a_column_of_that_unit(cell, form, value):
    assert numtext.number(cell, form) == value


@pytest.mark.parametrize("cells,form", [
    (["12,570", "570", "1,234"], numtext.PLAIN),                    # both marks read them: thousands
    (["12,570", "2,5", "3"], COMMA),                                # 2,5 decides: a decimal comma
    (["1.234,5", "7"], COMMA), (["1.5", "12,570"], numtext.PLAIN),
    (["$5", "12", "$1,200.50"], {"decimal": ".", "unit": "$"}),
    (["5%", "-2.5%"], {"decimal": ".", "unit": "%"}),
    ([decimal.Decimal("1.5"), 2, "3"], numtext.PLAIN)])
def test_a_column_is_read_in_one_form(cells, form):
    got, numbers = numtext.column_numbers(cells, "c")
    assert got == form and numbers == [numtext.number(v, form) for v in cells]


@pytest.mark.parametrize("cells,fragments", [
    (["1,234.5", "2,5"], ["two ways", "'1,234.5' (a decimal point) and '2,5' (a decimal comma)"]),
    (["$5", "€5"], ["'$5' (in $) and '€5' (in €)"]),
    (["5%", "5"], ["'5%' (with %) and '5' (without)"]),
    (["5%", 5.0], ["'5%' (with %) and '5' (without)"])])
def test_a_column_of_numbers_written_two_ways_is_refused_naming_both(cells, fragments):
    with pytest.raises(InputError) as exc:
        numtext.column_numbers(cells, "c")
    for f in fragments:
        assert f in str(exc.value)


def test_a_column_with_a_cell_that_is_no_number_is_not_a_column_of_numbers():
    assert numtext.column_numbers(["12,570", "abc"], "c") is None


D = datetime.date(2024, 3, 1).toordinal() - datetime.date(1970, 1, 1).toordinal()


@pytest.mark.parametrize("cell,order,days", [
    ("2024-03-01", "ymd", D), ("2024-3-1", "ymd", D), ("2024/03/01", "ymd", D), ("2024.03.01", "ymd", D),
    ("2024-03", "ymd", D), ("2024/03", "ymd", D), ("01/03/2024", "dmy", D), ("03/01/2024", "mdy", D),
    ("1.3.2024", "dmy", D), ("1 March 2024", "ymd", D), ("01-Mar-2024", "ymd", D),
    ("March 1, 2024", "ymd", D), ("mar 1 2024", "ymd", D), ("March 2024", "ymd", D),
    ("2024-03-01T06:00", "ymd", D + 0.25), ("2024-03-01 18:00:00", "ymd", D + 0.75),
    ("2024-03-01T12:00:00.5Z", "ymd", D + 0.5 + 0.5 / 86400), ("2024-03-01T23:30-05:00", "ymd", D + 23.5 / 24),
    ("2024-03-01 12:00+0200", "ymd", D + 0.5), ("3/1/2024 6:00 PM", "mdy", D + 0.75),
    ("3/1/2024 12:00 AM", "mdy", D), (datetime.date(2024, 3, 1), "ymd", D),
    (datetime.datetime(2024, 3, 1, 6), "ymd", D + 0.25), (pd.Timestamp("2024-03-01 06:00", tz="Asia/Tokyo"), "ymd", D + 0.25),
    (np.datetime64("2024-03-01T18"), "ymd", D + 0.75), ("1900-03-01", "ymd", -25508.0),
    ("2024-02-30", "ymd", None), ("2024-13", "ymd", None), ("2019-20", "ymd", None),
    ("01/03/2024", "ymd", None), ("2024-03-01T24:00", "ymd", None), ("13:00 PM", "ymd", None),
    ("01/03/24", "dmy", None), ("Foo 2024", "ymd", None), ("20240301", "ymd", None), (20240301, "ymd", None)])
def test_what_a_cell_reads_as_a_date(cell, order, days):
    assert dates.days(cell, order) == days


def _column(cells):
    return dates.column_dates(cells, "d")


def test_day_or_month_first_is_decided_by_the_column():
    assert _column(["01/03/2024", "13/03/2024"])[1] == "dmy"
    assert _column(["03/01/2024", "03/13/2024"])[1] == "mdy"
    assert _column(["2024-03-01", "15/03/2024", "1 March 2024"])[1] == "dmy"  # forms mixed, each clear
    assert _column(["05/05/2024", "2024-01-01"])[1] == "dmy"  # every pair equal: either reads alike
    assert _column(["2024-03-01", "2024-03-02"]) [1:] == ("ymd", False)
    assert _column(["2024-03-01", "2024-03-02 10:00"])[2] is True
    assert _column(["2024-03-01", "soon"]) is None


@pytest.mark.parametrize("cells,fragments", [
    (["01/03/2024", "02/04/2024"], ["could be day/month or month/day", "'01/03/2024'", "2024-03-01"]),
    (["13/01/2024", "01/13/2024"], ["day first ('13/01/2024')", "month first ('01/13/2024')"]),
    (["2024-03-01", "2024-02-30"], ["'2024-02-30' is not one"]),
    (["2024-03-01", "01/03/24"], ["two-digit year", "'01/03/24'"]),
    (["Mar-24", "Apr-24"], ["two-digit year"])])
def test_unreadable_columns_of_dates_are_refused_naming_a_value(cells, fragments):
    with pytest.raises(InputError) as exc:
        _column(cells)
    for f in fragments:
        assert f in str(exc.value)


def test_date_features_follow_the_calendar():
    days = pd.date_range("1899-12-25", "2101-01-07", freq="37h")  # times of day, every weekday
    frame = pd.DataFrame({"d": days.strftime("%Y-%m-%dT%H:%M")})
    enc = TableEncoder().fit(frame)
    spec = enc.columns_[0]
    assert spec["kind"] == "date" and spec["parts"] == list(dates.PARTS)
    X = pd.DataFrame(enc.transform(frame), columns=enc.feature_names_out_)
    angle = {"month": (days.month - 1) / 12, "weekday": days.day_of_week / 7,
             "day of year": (days.day_of_year - 1) / np.where(days.is_leap_year, 366, 365),
             "time": (days.hour * 60 + days.minute) / 1440}
    for name, turns in angle.items():
        np.testing.assert_allclose(X[f"d ({name} sin)"], np.sin(2 * np.pi * turns), atol=1e-9)
        np.testing.assert_allclose(X[f"d ({name} cos)"], np.cos(2 * np.pi * turns), atol=1e-9)
    elapsed = np.asarray((days - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1))
    np.testing.assert_allclose(X["d (elapsed days)"], (elapsed - elapsed.mean()) / elapsed.std(), atol=1e-9)


def test_monthly_and_yearly_dates_keep_the_features_that_vary():
    monthly = TableEncoder().fit(pd.DataFrame({"m": pd.date_range("2000-01-01", periods=40, freq="MS")}))
    assert monthly.columns_[0]["parts"] == ["elapsed", "month"]
    yearly = TableEncoder().fit(pd.DataFrame({"y": [f"{y}-01-01" for y in range(1990, 2020)]}))
    assert yearly.columns_[0]["parts"] == ["elapsed"]
    assert yearly.feature_names_out_ == ["y (elapsed days)"]


def test_a_future_date_is_encoded_not_zeroed_and_missing_dates_are_filled_with_an_indicator():
    train = pd.DataFrame({"d": [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in (3, 17)] + [None]})
    enc = TableEncoder().fit(train)
    names = enc.feature_names_out_
    assert names[-1] == "d (missing)"
    seen = enc.transform(train)
    new = enc.transform(pd.DataFrame({"d": ["2031-07-17", "2024-07-17", None]}))
    assert new[0, names.index("d (elapsed days)")] > seen[:, 0].max() + 10  # grows: 7 years on
    month = [names.index("d (month sin)"), names.index("d (month cos)")]
    np.testing.assert_allclose(new[0, month], new[1, month])  # July in any year
    assert np.count_nonzero(new[0, 1:-1]) >= 5 and new[0, -1] == 0  # weekday, day of year: as usual
    median = seen[-1]
    np.testing.assert_array_equal(new[2], median)            # an empty cell: the training median, flagged
    assert median[-1] == 1


def test_typed_dates_and_timestamps_read_on_their_wall_clock_and_json_round_trip():
    utc = pd.Series(pd.date_range("2024-03-01 22:00", periods=30, freq="11h", tz="UTC"))
    frame = pd.DataFrame({"utc": utc, "paris": utc.dt.tz_convert("Europe/Paris"),
                          "day": [t.date() for t in utc]})
    enc = TableEncoder().fit(frame)
    assert [s["kind"] for s in enc.columns_] == ["date", "date", "date"]
    read = enc.read(frame)
    assert read["utc"][0] == D + 22 / 24 and read["paris"][0] == D + 23 / 24 and read["day"][0] == D
    again = TableEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    np.testing.assert_array_equal(again.transform(frame), enc.transform(frame))
    text = frame.assign(utc=utc.dt.strftime("%Y-%m-%d %H:%M"), day=[str(t.date()) for t in utc])
    np.testing.assert_array_equal(enc.transform(text[["utc", "paris", "day"]]), enc.transform(frame))


@pytest.mark.parametrize("column", [
    pd.Series(pd.to_datetime(["2024-03-01 10:00:00.123456789", None, "1969-12-31 23:59:59.5"])),
    pd.Series(pd.date_range("2024-03-30 10:00:00.25", periods=9, freq="7h", tz="Europe/Paris", unit="ms")),
    pd.Series(pd.date_range("1800-03-01 10:17:03.123456", periods=9, freq="37h", unit="us"))])
def test_a_datetime64_column_read_at_once_equals_it_read_cell_by_cell(column):
    by_cell = [np.nan if pd.isna(v) else dates.days(v) for v in column.tolist()]
    np.testing.assert_array_equal(dates.typed_days(column), by_cell)


def test_a_column_of_numbers_read_at_once_equals_it_read_cell_by_cell():
    frame = pd.DataFrame({"f": [1.5, np.nan, -2.0, 1e300] * 6, "i": pd.array([1, None, 3, 4] * 6, dtype="Int64")})
    enc = TableEncoder().fit(frame)
    as_objects = frame.astype(object).where(frame.notna(), None)
    np.testing.assert_array_equal(enc.transform(as_objects), enc.transform(frame))
    assert TableEncoder().fit(as_objects).columns_ == enc.columns_


def test_stored_date_and_number_forms_are_checked():
    frame = pd.DataFrame({"d": ["2024-03-01", "2024-05-02", "2024-07-03"], "p": ["$1", "$2,000", "$3"]})
    spec = TableEncoder().fit(frame).to_json()
    for damage in (lambda s: s["columns"][0].update(order="ydm"), lambda s: s["columns"][0].update(parts=["month", "elapsed"]),
                   lambda s: s["columns"][0].update(parts=["elapsed", {}]),
                   lambda s: s["columns"][0].update(parts=[]), lambda s: s["columns"][0].update(parts=["year"]),
                   lambda s: s["columns"][0].update(scale=0.0), lambda s: s["columns"][0].pop("parts"),
                   lambda s: s["columns"][1].update(written={"decimal": ";", "unit": ""}),
                   lambda s: s["columns"][1].update(written={"decimal": ".", "unit": "kg"}),
                   lambda s: s["columns"][1].update(extra=1)):
        broken = json.loads(json.dumps(spec))
        damage(broken)
        with pytest.raises(InputError):
            TableEncoder.from_json(broken)


def weekday_table(n, start, days, seed):
    """A label that the date alone decides: weekend, a summer weekday, another weekday."""
    rng = np.random.default_rng(seed)
    when = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    label = np.where(when.day_of_week >= 5, "weekend", np.where(when.month.isin([6, 7, 8]), "summer", "work"))
    return pd.DataFrame({"date": when.strftime("%Y-%m-%d"), "noise": rng.normal(size=n).round(3)}), label


def test_a_date_that_decides_the_label_beats_the_table_without_it_on_later_dates():
    X, y = weekday_table(700, "2021-01-01", 3 * 365, seed=0)
    X_later, y_later = weekday_table(300, "2024-01-01", 2 * 365, seed=1)  # after every training date
    options = dict(hidden_sizes=[32], epochs=150, validation_fraction=0, seed=0)
    with_dates = hg.train_classifier(X, y, **options)
    without = hg.train_classifier(X.drop(columns="date"), y, **options)
    acc_with = with_dates.score(X_later, y_later)
    acc_without = without.score(X_later.drop(columns="date"), y_later)
    assert acc_with > 0.9 and acc_without < 0.75 and acc_with > acc_without + 0.2, (acc_with, acc_without)
    future = pd.DataFrame({"date": ["2025-07-05", "2025-07-07", "2025-12-03"], "noise": [0.0, 0.0, 0.0]})
    assert with_dates.predict(future).tolist() == ["weekend", "summer", "work"]  # a Saturday, a July Monday


def test_a_model_with_dates_and_written_numbers_saves_and_loads():
    X, y = weekday_table(200, "2022-01-01", 700, seed=2)
    X["price"] = [f"${v:,.2f}" for v in np.random.default_rng(0).uniform(10, 5000, len(X))]
    model = hg.train_classifier(X, y, hidden_sizes=[8], epochs=3, validation_fraction=0)
    loaded = model_from_bytes(model_to_bytes(model))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert {s["kind"] for s in loaded.encoder.columns_} == {"date", "numeric"}
    with pytest.raises(InputError, match=r"'price' holds '€5' in row 2.*\$1,234.5"):
        loaded.predict(X.head(2).assign(price=["$5", "€5"]))


def test_onnx_runtime_equals_handgrad_predict_on_a_table_with_dates(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from handgrad.cli.main import main
    from handgrad.export import onnx_inputs

    X, y = weekday_table(300, "2021-01-01", 900, seed=3)
    X["when"] = (pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(300) * 7.3, unit="h")).strftime("%d/%m/%Y %H:%M")
    X["amount"] = [f"{v:,}" for v in np.random.default_rng(1).integers(10, 90000, 300)]
    X.loc[5, "date"] = None
    X.assign(y=y).to_csv(tmp_path / "t.csv", index=False)
    new, _ = weekday_table(40, "2030-01-01", 3000, seed=4)
    new["when"] = ["31/12/2035 23:59"] * 20 + [""] * 20
    new["amount"] = ["1,234,567"] * 40
    new.loc[3, "date"] = ""
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "20", "--dtype",
                 "float64", "--no-plot", "--quiet", "--out-dir", str(tmp_path / "o")]) == 0
    model_path = str(tmp_path / "o" / "model.safetensors")
    assert main(["predict", model_path, "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    assert main(["export", model_path, "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    model = hg.load_model(model_path)
    frame = hg.data.load_table_frame(tmp_path / "new.csv", columns=model.input_columns).frame
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, onnx_inputs(model_path, frame))
    assert label.tolist() == pd.read_csv(tmp_path / "p.csv").prediction.tolist()
    np.testing.assert_allclose(proba, model.predict_proba(frame), rtol=1e-12, atol=1e-15)


def test_the_onnx_calendar_equals_numpys_on_every_day_of_eight_centuries():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from onnx import helper

    from handgrad.export import graph

    t = np.arange(-135000.0, 157000.0) + np.linspace(0, 0.999, 292000)  # 1600 to 2399, times of day
    enc = TableEncoder().fit(pd.DataFrame({"d": [datetime.date(1600, 1, 1), datetime.date(2399, 12, 31),
                                                 datetime.date(2000, 2, 29)]}))
    spec = {**enc.columns_[0], "parts": list(dates.PARTS), "indicator": True}
    enc.columns_[0] = spec
    b = graph.Builder(reserved=["d", "encoded"])
    out = graph.encode_table(b, type("P", (), {"encoder": enc, "dtype": np.dtype(np.float64)}), {"d": "d"})
    b.node("Identity", [out], out="encoded")
    g = helper.make_graph(b.nodes, "dates", [helper.make_tensor_value_info("d", graph.DOUBLE, ["N", 1])],
                          [helper.make_tensor_value_info("encoded", graph.DOUBLE, ["N", 10])], b.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(graph.ML_DOMAIN, 2)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    column = np.append(t, np.nan)
    (got,) = session.run(None, {"d": column.reshape(-1, 1)})
    want = dates.features(spec, column, np.isnan(column))
    np.testing.assert_array_equal(got[:, [0, -1]], want[:, [0, -1]])  # elapsed, indicator: the same arithmetic
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # sin and cos: libm against ONNX Runtime
