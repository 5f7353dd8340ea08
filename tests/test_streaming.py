"""Streaming from Parquet (--stream-buffer, predict on Parquet): training through a bounded
buffer reaches the in-memory accuracy, stores the training rows' statistics, never hands the
step loop more than the buffer, repeats itself under a seed; streamed predictions equal the
in-memory ones; what streaming does not do is refused in one line."""

import json

import numpy as np
import pandas as pd
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from handgrad.cli.main import main
from handgrad.data.preprocessing import Standardizer
from handgrad.data.stream_rows import split_rows
from handgrad.model.files import load_model
from handgrad.training.steps import EpochRunner

N, GROUP, BUFFER = 4000, 500, 1000


def frame(n=N, seed=0):
    """An easy three-class problem on features of very different scales, text labels."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 3.0, 0.2, 50.0] + [0.0, -2.0, 7.0, 1000.0]
    score = X[:, 0] + (X[:, 1] + 2.0) / 3.0 - (X[:, 2] - 7.0) * 5.0
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["kind"] = np.where(score > 1.0, "high", np.where(score < -1.0, "low", "mid"))
    return df


def write(df, path, group=GROUP):
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=group)
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    return d, write(frame(), d / "train.parquet")


def train(path, out, *extra, capsys=None):
    args = ["train", "--data", path, "--target", "kind", "--epochs", "12", "--no-plot",
            "--out-dir", str(out), "--json", *extra]
    code = main(args)
    assert code == 0
    return json.loads(capsys.readouterr().out) if capsys is not None else None


@pytest.fixture(scope="module")
def streamed(data):
    d, path = data
    assert main(["train", "--data", path, "--target", "kind", "--epochs", "12", "--no-plot",
                 "--out-dir", str(d / "s"), "--quiet", "--stream-buffer", str(BUFFER)]) == 0
    return d / "s" / "model.safetensors"


def test_streamed_training_reaches_the_in_memory_accuracy(data, capsys, tmp_path):
    _, path = data
    mem = train(path, tmp_path / "m", "--val-fraction", "0.1", "--ensemble", "1", capsys=capsys)  # one network, as streamed
    st = train(path, tmp_path / "s", "--stream-buffer", str(BUFFER), capsys=capsys)
    assert st["n_train"] + st["n_val"] + st["n_test"] == N
    assert st["streaming"]["row_groups"] == N // GROUP
    assert st["test_accuracy"] >= 0.93
    assert st["test_accuracy"] >= mem["test_accuracy"] - 0.03, (st["test_accuracy"], mem["test_accuracy"])


def test_stored_standardisation_is_the_training_rows_statistics(data, streamed):
    _, path = data
    model = load_model(streamed)
    X = pq.read_table(path).to_pandas()[["a", "b", "c", "d"]].to_numpy()
    test, val = split_rows(N, 0.2, 0.1, BUFFER, 0)
    expected = Standardizer().fit(np.delete(X, np.union1d(test, val), axis=0))
    np.testing.assert_allclose(model.scaler.mean, expected.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.scaler.scale, expected.scale, rtol=1e-12)
    assert model.classes.tolist() == ["high", "low", "mid"]
    assert model.feature_names == ["a", "b", "c", "d"]
    assert model.record["n_train"] == N - test.size - val.size


def test_the_step_loop_never_gets_more_than_the_buffer(data, monkeypatch, tmp_path):
    _, path = data
    seen = []
    real = EpochRunner.run

    def spy(self, X, y, w, order, **kw):
        seen.append(X.shape[0])
        return real(self, X, y, w, order, **kw)

    monkeypatch.setattr(EpochRunner, "run", spy)
    assert main(["train", "--data", path, "--target", "kind", "--epochs", "2", "--patience", "0",
                 "--no-plot", "--quiet", "--out-dir", str(tmp_path), "--stream-buffer", "300",
                 "--batch-size", "64"]) == 0
    test, val = split_rows(N, 0.2, 0.1, 300, 0)
    assert max(seen) <= 300 and max(seen) == 256  # whole batches per fill
    assert sum(seen) == 2 * (N - test.size - val.size)  # every training row once per epoch


def test_seeded_runs_repeat_and_seeds_differ(data, tmp_path):
    _, path = data
    flats = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert main(["train", "--data", path, "--target", "kind", "--epochs", "3", "--no-plot",
                     "--quiet", "--out-dir", str(tmp_path / name), "--stream-buffer", "700",
                     "--seed", seed]) == 0
        flats.append(load_model(tmp_path / name / "model.safetensors").net.flat.copy())
    assert np.array_equal(flats[0], flats[1])
    assert not np.array_equal(flats[0], flats[2])


def test_streamed_predict_equals_in_memory_predict(data, streamed, monkeypatch, tmp_path, capsys):
    import handgrad.data.stream as stream
    from handgrad.model.model import Model

    _, path = data
    rows = []
    real = Model.predict_proba

    def spy(self, X, *a, **kw):
        rows.append(np.shape(X)[0])
        return real(self, X, *a, **kw)

    monkeypatch.setattr(Model, "predict_proba", spy)
    assert main(["predict", str(streamed), "--data", path, "--out", str(tmp_path / "s.csv"), "--proba"]) == 0
    assert max(rows) <= GROUP and sum(rows) == N  # a record batch at a time
    monkeypatch.setattr(stream, "is_parquet", lambda p: False)  # the in-memory path, same file
    assert main(["predict", str(streamed), "--data", path, "--out", str(tmp_path / "m.csv"), "--proba"]) == 0
    assert rows[-1] == N
    streamed_csv = (tmp_path / "s.csv").read_text()
    assert streamed_csv == (tmp_path / "m.csv").read_text()
    assert streamed_csv.count("\n") == N + 1
    assert "wrote 4000 predictions" in capsys.readouterr().err
    assert main(["evaluate", str(streamed), "--data", path]) == 0  # the file reads as any model's
    assert main(["info", str(streamed)]) == 0


def _bad_files(d):
    df = frame(600)
    text = df.assign(b=df["b"].astype(str))
    gap = df.copy()
    gap.loc[450, "c"] = np.nan
    unlabelled = df.assign(kind=df["kind"].where(df.index != 10, None))
    df.to_csv(d / "plain.csv", index=False)
    return {"text": write(text, d / "text.parquet"), "gap": write(gap, d / "gap.parquet"),
            "unlabelled": write(unlabelled, d / "unlabelled.parquet"), "csv": str(d / "plain.csv"),
            "good": write(df, d / "good.parquet")}


@pytest.mark.parametrize("case, extra, fragment", [
    ("text", (), "string, not numbers; streaming reads numeric columns only"),
    ("gap", (), "has a missing value in row 451"),
    ("unlabelled", (), "is empty in row 11"),
    ("csv", (), "is not a Parquet file"),
    ("good", ("--batch-size", "64", "--stream-buffer", "32"), "fewer rows than one batch (64)"),
    ("good", ("--stream-buffer", "0"), "--stream-buffer must be a whole number"),
    ("good", ("--search",), "--search does not work with --stream-buffer"),
    ("good", ("--categorical", "a"), "--categorical does not work with --stream-buffer"),
])
def test_what_streaming_does_not_do_is_refused_in_one_line(tmp_path, capsys, case, extra, fragment):
    path = _bad_files(tmp_path)[case]
    args = ["train", "--data", path, "--target", "kind", "--no-plot", "--out-dir", str(tmp_path / "o")]
    args += list(extra) if "--stream-buffer" in extra else [*extra, "--stream-buffer", "200"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and fragment in err, err
    if case in ("text", "gap", "unlabelled", "csv"):
        assert "without --stream-buffer" in err


def test_streaming_is_refused_under_mpi(data, monkeypatch, capsys, tmp_path):
    import handgrad.distributed as distributed

    monkeypatch.setattr(distributed, "launched_size", lambda: 2)
    _, path = data
    assert main(["train", "--data", path, "--target", "kind", "--stream-buffer", "500",
                 "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not run over MPI ranks" in err


def test_a_buffer_beyond_the_files_rows_is_the_file_not_an_allocation(data, tmp_path, monkeypatch):
    """--stream-buffer 10¹² on a 4,000-row file: nothing of 10¹² rows is planned or allocated,
    and the weights are those of a buffer that holds exactly every training row."""
    import handgrad.data.stream as stream

    _, path = data
    sizes = []
    real = stream.fill

    def spy(chunks, cap, d, dtype):
        sizes.append(cap)
        return real(chunks, cap, d, dtype)

    monkeypatch.setattr(stream, "fill", spy)
    flats = []
    for name, buffer in (("huge", "1000000000000"), ("exact", str(N))):
        assert main(["train", "--data", path, "--target", "kind", "--epochs", "2", "--no-plot", "--quiet",
                     "--out-dir", str(tmp_path / name), "--stream-buffer", buffer]) == 0
        flats.append(load_model(tmp_path / name / "model.safetensors").net.flat.copy())
    test, val = split_rows(N, 0.2, 0.1, N, 0)
    assert set(sizes) == {N - test.size - val.size}
    assert np.array_equal(flats[0], flats[1])
