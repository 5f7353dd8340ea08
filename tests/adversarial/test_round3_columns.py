"""Adversarial cases on columns whose values are numbers written as text (thousands separators,
currency, percent, decimal commas, Parquet decimals) or dates and times (ISO, day/month first,
time zones, missing cells, future and unreadable dates at predict time, Parquet dates and
timestamps), in training, evaluate, predict, the regression target, the options that force a
column's kind, and the ONNX feed. Each ends with the right result or exit 2 and one line."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pandas as pd
import pytest

import handgrad as hg
from handgrad.data import TableEncoder
from handgrad.model.classifier import train_classifier

from .harness import accept, accept_api, refuse, refuse_api, run_case

QUIET = "--epochs 2 --no-plot --quiet --out-dir {tmp}/o"
N = 80
RNG = np.random.default_rng(24)
WHEN = pd.Timestamp("2022-01-03") + pd.to_timedelta(np.sort(RNG.choice(900, N, replace=False)), unit="D")
X = RNG.normal(size=N).round(3)
LABEL = np.where(WHEN.day_of_week >= 5, "weekend", "weekday")


def table(**columns) -> pd.DataFrame:
    """N rows: a numeric column ``x``, the given columns, and the label ``y`` (weekend or not)."""
    return pd.DataFrame({"x": X, **columns, "y": LABEL})


def csv(frame) -> str:
    return frame.to_csv(index=False)


def parquet(make):
    """A file writer: ``make()`` gives the pyarrow table (pyarrow imported only when written)."""
    def write(path):
        import pyarrow.parquet as pq

        pq.write_table(make(), path)
    return write


def arrow(column, typ):
    """A Parquet writer of ``x``, the column ``c`` of Arrow type ``typ(pyarrow)``, and ``y``."""
    def make():
        import pyarrow as pa

        return pa.table({"x": X, "c": pa.array(column, typ(pa)), "y": LABEL})
    return parquet(make)


ISO = WHEN.strftime("%Y-%m-%d")
AMOUNTS = [f"{v:,}" for v in RNG.integers(100, 900000, N)]


def spec_of(name, tmp, out="o"):
    return next(s for s in hg.load_model(tmp / out / "model.safetensors").encoder.columns_ if s["name"] == name)


def kind(name, expected, **more):
    """A check: the model's spec of column ``name`` has kind ``expected`` (and the ``more`` items)."""
    def check(out, err, tmp):
        s = spec_of(name, tmp)
        assert s["kind"] == expected, s
        for key, value in more.items():
            assert s[key] == value, (key, s)
    return check


def predictions(n, *first):
    def check(out, err, tmp):
        got = pd.read_csv(tmp / "p.csv").prediction.tolist()
        assert len(got) == n and got[:len(first)] == list(first), got
    return check


def date_model(frame, **options):
    """A model file trained on ``frame`` (its ``y`` the label) through the API."""
    def write(path):
        f = frame.copy()
        y = f.pop("y").to_numpy()
        hg.save_model(train_classifier(f, y, epochs=40, hidden_sizes=[16], validation_fraction=0,
                                       **options), path)
    return write


def future_features():
    f = table(d=ISO)
    enc = TableEncoder().fit(f.drop(columns="y"))
    new = enc.transform(pd.DataFrame({"x": [0.0], "d": ["2040-06-15"]}))
    names = enc.feature_names_out_
    elapsed = new[0, names.index("d (elapsed days)")]
    return elapsed > enc.transform(f.drop(columns="y"))[:, names.index("d (elapsed days)")].max() and \
        np.count_nonzero(new[0, names.index("d (month sin)"):]) >= 4


def _same_as_plain_iris(out, err, tmp):
    model = hg.load_model(_SHARED["numeric_model"])
    got = pd.read_csv(tmp / "p.csv").filter(like="proba").to_numpy()
    np.testing.assert_allclose(got, model.predict_proba(np.array([[6.1, 2.8, 4.7, 1.2]])), rtol=1e-5)


_SHARED: dict = {}


MONTHLY = [f"{2015 + i // 12}-{i % 12 + 1:02d}-01" for i in range(N)]
MIXED = [d.strftime("%Y-%m-%d") if i % 2 else d.strftime("%d/%m/%Y") for i, d in enumerate(WHEN)]
TZ = (WHEN + pd.to_timedelta(RNG.integers(0, 86400, N), unit="s")).strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"
GAPS = [None if i % 9 == 0 else d for i, d in enumerate(ISO)]
STRAY = ["unknown" if i % 10 == 7 else d for i, d in enumerate(ISO)]
NEW_DATES = "x,d\n0.1,2031-06-14\n0.2,2031-06-16\n0.3,\n"
PREDICT = "predict {m_safetensors} --data {n_csv} --out {tmp}/p.csv --quiet"

CASES = [
    # ----- numbers written as text -----------------------------------------------------------
    accept("thousands-separators-are-numbers", f"train --data {{t_csv}} --target y {QUIET}",
           kind("c", "numeric"), files={"t.csv": csv(table(c=AMOUNTS))}),
    accept("thousands-separators-noted", "train --data {t_csv} --target y --epochs 2 --no-plot --json --out-dir {tmp}/o",
           lambda out, err, tmp: "numbers written as text" in out and "read as" in out,
           files={"t.csv": csv(table(c=AMOUNTS))}),
    accept("currency-column-is-numbers", f"train --data {{t_csv}} --target y {QUIET}",
           kind("c", "numeric", written={"decimal": ".", "unit": "$"}),
           files={"t.csv": csv(table(c=[f"${v:,.2f}" for v in RNG.uniform(1, 9000, N)]))}),
    accept("currency-after-with-decimal-comma", f"train --data {{t_csv}} --target y {QUIET}",
           kind("c", "numeric", written={"decimal": ",", "unit": "€"}),
           files={"t.csv": csv(table(c=[f"{v:.2f} €".replace(".", ",") for v in RNG.uniform(1, 900, N)]))}),
    accept("percent-column-is-numbers", f"train --data {{t_csv}} --target y {QUIET}",
           kind("c", "numeric", written={"decimal": ".", "unit": "%"}),
           files={"t.csv": csv(table(c=[f"{v:.1f}%" for v in RNG.uniform(0, 100, N)]))}),
    accept("quoted-decimal-comma-in-a-comma-file", f"train --data {{t_csv}} --target y {QUIET}",
           kind("c", "numeric", written={"decimal": ",", "unit": ""}),
           files={"t.csv": csv(table(c=[f"{v:.2f}".replace(".", ",") for v in RNG.uniform(0, 9, N)]))}),
    refuse("two-decimal-marks-refused", f"train --data {{t_csv}} --target y {QUIET}",
           "'c'", "two ways", "'1,234.5' (a decimal point) and '2,5' (a decimal comma)",
           files={"t.csv": csv(table(c=["1,234.5", "2,5"] * (N // 2)))}),
    refuse("two-currencies-refused", f"train --data {{t_csv}} --target y {QUIET}", "'$5' (in $) and '€6' (in €)",
           files={"t.csv": csv(table(c=["$5", "€6"] * (N // 2)))}),
    refuse("percent-and-bare-refused", f"train --data {{t_csv}} --target y {QUIET}", "'5%' (with %) and '0.5' (without)",
           files={"t.csv": csv(table(c=["5%", "0.5"] * (N // 2)))}),
    refuse("stray-question-mark-among-numbers", f"train --data {{t_csv}} --target y {QUIET}",
           "'c'", "holds numbers but also '?' (", "leave the cell empty", "--categorical",
           files={"t.csv": csv(table(c=[("?" if i % 10 == 3 else f"{v:.2f}") for i, v in enumerate(X)]))}),
    accept("stray-question-mark-with-categorical", f"train --data {{t_csv}} --target y --categorical c {QUIET}",
           kind("c", "categorical"), files={"t.csv": csv(table(c=["?", "1", "2", "3"] * (N // 4)))}),
    accept("stray-question-mark-with-drop", f"train --data {{t_csv}} --target y --drop c {QUIET}",
           kind("c", "dropped"), files={"t.csv": csv(table(c=["?", "1", "2", "3"] * (N // 4)))}),
    accept("forced-numeric-reads-separators", f"train --data {{t_csv}} --target y --numeric c {QUIET}",
           kind("c", "numeric"), files={"t.csv": csv(table(c=["1,000", "2,500", "750"] * (N // 3) + ["1"] * (N % 3)))}),
    accept("predict-reads-separators-as-trained", PREDICT, predictions(2),
           files={"m.safetensors": date_model(table(c=AMOUNTS)), "n.csv": 'x,c\n0.5,"12,570"\n0.1,7\n'}),
    refuse("predict-other-currency-named", PREDICT, "'c'", "'€5' in row 2", "$1,234.5",
           files={"m.safetensors": date_model(table(c=[f"${v:,}" for v in RNG.integers(1, 5000, N)])),
                  "n.csv": "x,c\n0.5,$5\n0.1,€5\n"}),
    refuse("predict-text-where-numbers-were", PREDICT, "'c'", "'abc' in row 2", "reads it as a number",
           files={"m.safetensors": date_model(table(c=X * 3)), "n.csv": "x,c\n0.5,1\n0.1,abc\n"}),
    refuse("predict-percent-where-plain-numbers-were", PREDICT, "'c'", "'5%' in row 1",
           files={"m.safetensors": date_model(table(c=X * 3)), "n.csv": "x,c\n0.5,5%\n"}),
    accept("evaluate-file-with-written-numbers", "evaluate {m_safetensors} --data {t_csv} --target y --json",
           lambda out, err, tmp: '"accuracy"' in out,
           files={"m.safetensors": date_model(table(c=AMOUNTS)), "t.csv": csv(table(c=AMOUNTS))}),
    accept("parquet-decimal128-is-numbers", f"train --data {{t_parquet}} --target y {QUIET}", kind("c", "numeric"),
           files={"t.parquet": arrow([decimal.Decimal(f"{v:.2f}") for v in X * 100], lambda pa: pa.decimal128(12, 2))}),
    accept("parquet-decimal256-with-nulls", f"train --data {{t_parquet}} --target y {QUIET}",
           kind("c", "numeric", indicator=True),
           files={"t.parquet": arrow([None if i % 7 == 0 else decimal.Decimal(i) for i in range(N)],
                                             lambda pa: pa.decimal256(40, 2))}),
    accept("parquet-decimal-regression-target", f"train --data {{t_parquet}} --target c --task regression {QUIET}",
           lambda out, err, tmp: hg.load_model(tmp / "o" / "model.safetensors").is_regressor,
           files={"t.parquet": arrow([decimal.Decimal(f"{v:.3f}") for v in X * 7 + 1], lambda pa: pa.decimal128(12, 3))}),
    accept("parquet-decimal-streamed", f"train --data {{t_parquet}} --target y --stream-buffer 40 {QUIET}",
           files={"t.parquet": arrow([decimal.Decimal(f"{v:.2f}") for v in X], lambda pa: pa.decimal128(12, 2))}),
    accept("parquet-duration-is-seconds", f"train --data {{t_parquet}} --target y {QUIET}", kind("c", "numeric"),
           files={"t.parquet": arrow([datetime.timedelta(minutes=int(i)) for i in RNG.integers(0, 999, N)], lambda pa: pa.duration("s"))}),
    accept("regression-target-with-currency", f"train --data {{t_csv}} --target c {QUIET}",
           lambda out, err, tmp: hg.load_model(tmp / "o" / "model.safetensors").is_regressor,
           files={"t.csv": csv(table(c=[f"${v * 1000 + 5000:,.2f}" for v in X]).drop(columns="y"))}),
    accept_api("api-nullable-extension-types-are-numbers",
               lambda: TableEncoder().fit(pd.DataFrame({"i": pd.array([1, None, 3, 4] * 6, dtype="Int64"),
                                                        "f": pd.array([0.5, 1.5, None, 2.0] * 6, dtype="Float64")})),
               lambda e: [s["kind"] for s in e.columns_] == ["numeric", "numeric"] or pytest.fail(str(e.columns_))),
    accept_api("api-onnx-feed-reads-written-numbers",
               lambda: _onnx_feed(table(c=AMOUNTS), pd.DataFrame({"x": [0.0], "c": ["1,234,567.5"]}))["c"],
               lambda c: c.tolist() == [[1234567.5]] or pytest.fail(str(c))),
    accept("numeric-model-reads-a-quoted-decimal-comma",
           "predict {numeric_model} --data {i_csv} --out {tmp}/p.csv --quiet --proba", _same_as_plain_iris,
           files={"i.csv": 'sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n'
                           '"6,1","2,8","4,7","1,2"\n'}),

    # ----- dates and times --------------------------------------------------------------------
    accept("iso-dates-are-dates-not-identifiers", f"train --data {{t_csv}} --target y {QUIET}",
           kind("d", "date", order="ymd"), files={"t.csv": csv(table(d=ISO))}),
    accept("iso-dates-noted-even-quiet-in-json", "train --data {t_csv} --target y --epochs 2 --no-plot --json --out-dir {tmp}/o",
           lambda out, err, tmp: "read as dates" in out, files={"t.csv": csv(table(d=ISO))}),
    accept("monthly-dates-are-dates-not-categories", f"train --data {{t_csv}} --target y {QUIET}",
           kind("d", "date", parts=["elapsed", "month"]), files={"t.csv": csv(table(d=MONTHLY))}),
    accept_api("api-future-date-encoded-not-zeroed", future_features, lambda ok: ok or pytest.fail("zeroed")),
    accept("datetimes-with-time-zones", f"train --data {{t_csv}} --target y {QUIET}",
           kind("d", "date", parts=list(hg.data.dates.PARTS)), files={"t.csv": csv(table(d=TZ))}),
    accept("mixed-date-forms-each-clear", f"train --data {{t_csv}} --target y {QUIET}",
           kind("d", "date", order="dmy"), files={"t.csv": csv(table(d=MIXED))}),
    refuse("ambiguous-day-month-refused", f"train --data {{t_csv}} --target y {QUIET}",
           "'d'", "day/month or month/day", "2024-03-01",
           files={"t.csv": csv(table(d=[f"{i % 12 + 1:02d}/{i % 11 + 1:02d}/2023" for i in range(N)]))}),
    refuse("day-first-and-month-first-refused", f"train --data {{t_csv}} --target y {QUIET}",
           "day first", "month first", files={"t.csv": csv(table(d=["13/01/2023", "01/13/2023"] * (N // 2)))}),
    refuse("two-digit-years-refused", f"train --data {{t_csv}} --target y {QUIET}",
           "two-digit year", "'01/03/22'", files={"t.csv": csv(table(d=["01/03/22", "02/03/22"] * (N // 2)))}),
    refuse("impossible-date-refused", f"train --data {{t_csv}} --target y {QUIET}",
           "'2023-02-30' is not one", files={"t.csv": csv(table(d=["2023-02-30" if i % 10 == 2 else d
                                                                         for i, d in enumerate(ISO)]))}),
    refuse("stray-text-among-dates", f"train --data {{t_csv}} --target y {QUIET}",
           "holds dates but also 'unknown' (", "leave the cell empty", files={"t.csv": csv(table(d=STRAY))}),
    accept("dates-with-missing-cells", f"train --data {{t_csv}} --target y {QUIET}",
           kind("d", "date", indicator=True), files={"t.csv": csv(table(d=GAPS))}),
    accept("predict-future-and-missing-dates", PREDICT, predictions(3),
           files={"m.safetensors": date_model(table(d=ISO)), "n.csv": NEW_DATES}),
    refuse("predict-unreadable-date-named", PREDICT, "'d'", "'2031-13-01' in row 2", "reads dates there",
           files={"m.safetensors": date_model(table(d=ISO)), "n.csv": "x,d\n0.1,2031-06-14\n0.2,2031-13-01\n"}),
    accept("predict-dates-in-another-clear-form", PREDICT, predictions(2),
           files={"m.safetensors": date_model(table(d=ISO)), "n.csv": 'x,d\n0.1,"June 14, 2031"\n0.2,14-Jun-2031\n'}),
    refuse("predict-day-month-text-in-iso-model", PREDICT, "'03/04/2031' in row 1", "2024-03-31",
           files={"m.safetensors": date_model(table(d=ISO)), "n.csv": "x,d\n0.1,03/04/2031\n"}),
    refuse("evaluate-unreadable-date-named", "evaluate {m_safetensors} --data {n_csv} --target y",
           "'d'", "'soon' in row 1", files={"m.safetensors": date_model(table(d=ISO)), "n.csv": "x,d,y\n0.1,soon,weekday\n"}),
    refuse("date-regression-target-refused", f"train --data {{t_csv}} --target d --task regression {QUIET}",
           "target column 'd' holds dates", "--task classification", files={"t.csv": csv(table(d=ISO))}),
    refuse("date-target-auto-refused", f"train --data {{t_csv}} --target d {QUIET}",
           "holds dates", "days since", files={"t.csv": csv(table(d=MONTHLY).drop(columns="y"))}),
    accept("date-target-as-classes-on-request",
           f"train --data {{t_csv}} --target d --task classification --test-fraction 0 {QUIET}",
           lambda out, err, tmp: len(hg.load_model(tmp / "o" / "model.safetensors").classes) == 4,
           files={"t.csv": csv(table(d=[f"2024-0{i % 4 + 1}-01" for i in range(N)]).drop(columns="y"))}),
    accept("categorical-forces-one-hot-for-dates", f"train --data {{t_csv}} --target y --categorical d {QUIET}",
           kind("d", "categorical"), files={"t.csv": csv(table(d=MONTHLY))}),
    accept("drop-removes-a-date-column", f"train --data {{t_csv}} --target y --drop d {QUIET}",
           kind("d", "dropped"), files={"t.csv": csv(table(d=ISO))}),
    refuse("numeric-on-a-date-column", f"train --data {{t_csv}} --target y --numeric d {QUIET}",
           "'d'", "holds dates", "leave it out of --numeric", files={"t.csv": csv(table(d=ISO))}),
    accept("id-column-date-copied-to-predictions", PREDICT,
           lambda out, err, tmp: pd.read_csv(tmp / "p.csv").columns.tolist()[:1] == ["d"] or pytest.fail("no id"),
           files={"m.safetensors": date_model(table(d=ISO), id_columns=["d"]), "n.csv": NEW_DATES}),
    accept("parquet-date32", f"train --data {{t_parquet}} --target y {QUIET}", kind("c", "date"),
           files={"t.parquet": arrow([d.date() for d in WHEN], lambda pa: pa.date32())}),
    accept("parquet-timestamp-with-zone", f"train --data {{t_parquet}} --target y {QUIET}",
           kind("c", "date"), files={"t.parquet": arrow(list(WHEN.tz_localize("UTC")), lambda pa: pa.timestamp("us", tz="UTC"))}),
    accept("parquet-trained-predicts-text-dates", "predict {m_safetensors} --data {n_csv} --out {tmp}/p.csv --quiet",
           predictions(3), files={"m.safetensors": date_model(table(d=list(WHEN.tz_localize("Europe/Paris")))),
                                  "n.csv": NEW_DATES}),
    refuse("streamed-timestamps-refused", f"train --data {{t_parquet}} --target y --stream-buffer 40 {QUIET}",
           "'c'", "not numbers", "without --stream-buffer",
           files={"t.parquet": arrow(list(WHEN), lambda pa: pa.timestamp("us"))}),
    accept("seasons-stay-categories", f"train --data {{t_csv}} --target y {QUIET}", kind("d", "categorical"),
           files={"t.csv": csv(table(d=[f"{2010 + i % 8}-{11 + i % 8}" for i in range(N)]))}),
    accept("month-name-months", f"train --data {{t_csv}} --target y {QUIET}", kind("d", "date"),
           files={"t.csv": csv(table(d=[f"{m} {2020 + i // 12}" for i, m in enumerate(
               ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] * 7)][:N]))}),
    accept("export-onnx-with-a-date-column", "export {m_safetensors} --format onnx --out {tmp}/m.onnx",
           lambda out, err, tmp: (tmp / "m.onnx").stat().st_size > 0, files={"m.safetensors": date_model(table(d=GAPS))}),
    accept_api("api-onnx-columns-named-like-the-graphs-constants", lambda: _onnx_equal(
        table(k=X * 2, mean=X, scale=np.where(X > 0, "a", "b"), fill=-X, W1=LABEL, d=ISO))),
    refuse("onnx-column-named-like-an-output", "export {m_safetensors} --format onnx --out {tmp}/m.onnx",
           "'label'", "name of an output", "renamed", files={"m.safetensors": date_model(table(label=X * 2))}),
    refuse_api("api-onnx-feed-names-an-unreadable-date",
               lambda: _onnx_feed(table(d=ISO), pd.DataFrame({"x": [0.0, 1.0], "d": ["2031-01-01", "later"]})),
               "'d'", "'later' in row 2"),
    accept_api("api-onnx-feed-gives-days-since-1970",
               lambda: _onnx_feed(table(d=ISO), pd.DataFrame({"x": [0.0, 0.0], "d": ["1970-01-02T12:00", None]}))["d"],
               lambda d: (d[0, 0] == 1.5 and np.isnan(d[1, 0])) or pytest.fail(str(d))),
]


def _onnx_equal(frame):
    import onnxruntime as ort

    from handgrad.export import onnx_inputs, to_onnx

    f = frame.copy()
    y = f.pop("y").to_numpy()
    model = train_classifier(f, y, epochs=2, hidden_sizes=[4], validation_fraction=0)
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, onnx_inputs(model, f))[0].tolist() == model.predict(f).tolist()


def _onnx_feed(frame, new):
    from handgrad.export import onnx_inputs

    f = frame.copy()
    y = f.pop("y").to_numpy()
    return onnx_inputs(train_classifier(f, y, epochs=1, hidden_sizes=[4], validation_fraction=0), new)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, shared_files, tmp_path, capsys):
    _SHARED.update(shared_files)
    run_case(case, shared_files, tmp_path, capsys)


def test_cases_are_distinct_and_enough():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
