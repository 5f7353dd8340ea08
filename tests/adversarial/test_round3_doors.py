"""Round three's doors (issue 24): nothing unpickled without consent and .skops files imported
with trusted types only; an output never written over an input, by any command; the --test file
checked before the training it would otherwise waste; --resume as preemptible jobs use it;
options that contradict each other; messages that show plain numbers, rows from 1 and short
lists, and say what a file really is."""

from __future__ import annotations

import json
import os
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import handgrad as hg

from .harness import Case, accept, checks, in_err, in_out, refuse, refuse_api, run_case

# 48 rows: a numeric, a text and a numeric column, classes a/b, and a regression target v
_RNG = np.random.default_rng(3)
BASE = pd.DataFrame({"x": _RNG.normal(size=48).round(3), "colour": _RNG.choice(["red", "blue"], 48),
                     "z": _RNG.normal(size=48).round(3)})
BASE["y"] = np.where(BASE.x > 0, "a", "b")
BASE["v"] = (3 * BASE.x + BASE.z).round(3)
CLS = BASE.drop(columns="v").to_csv(index=False)
REG = BASE.drop(columns="y").to_csv(index=False)
TRAIN = "train --data {t_csv} --target y --epochs 2 --no-plot --quiet --out-dir {tmp}/o"
TRAIN_REG = "train --data {r_csv} --target v --epochs 2 --no-plot --quiet --out-dir {tmp}/o"
JSON_REG = "train --data {r_csv} --target v --epochs 2 --no-plot --json --out-dir {tmp}/o"


def cls(**more):
    return {"t.csv": CLS, **more}


def reg(**more):
    return {"r.csv": REG, **more}


def table(f) -> str:
    return f.to_csv(index=False)


# ----- files made by a case (each a function of the path it is written to)

class _Payload:
    """Unpickling this calls Path.touch on a file next to the pickle: the proof that code ran."""

    def __init__(self, where):
        self.where = where

    def __reduce__(self):
        return (Path.touch, (Path(self.where),))


class _Trap:
    """A class whose construction from a skops file would touch a file (were it trusted)."""

    def __setstate__(self, state):
        Path(state["where"]).touch()


def evil_pickle(path):
    path.write_bytes(pickle.dumps(_Payload(path.parent / "PWNED")))


def evil_joblib(path):
    import joblib

    joblib.dump(_Payload(path.parent / "PWNED"), path, compress=3)


def _fitted(kind):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import handgrad.sklearn as hs

    X, y, v = BASE[["x", "z"]].to_numpy(), BASE.y.to_numpy(), BASE.v.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"classifier": lambda: MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X, y),
                "sgd-classifier": lambda: MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", max_iter=30, random_state=0).fit(X, y),
                "regressor": lambda: make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(4,), max_iter=30, random_state=0)
                                                   ).fit(X, v),
                "multilabel": lambda: MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X, np.c_[y == "a", y == "b"]),
                "handgrad": lambda: hs.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y),
                "handgrad-table": lambda: make_pipeline(hs.TableTransformer(), hs.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3)
                                                        ).fit(BASE[["x", "colour"]], v),
                "not-an-mlp": lambda: __import__("sklearn.linear_model").linear_model.LogisticRegression().fit(X, y),
                }[kind]()


def skops_of(kind):
    def write(path):
        import skops.io as sio

        sio.dump(_fitted(kind), path)
    write.__qualname__ = f"skops_of_{kind}"
    return write


def skops_untrusted(path):
    import skops.io as sio

    trap = _Trap.__new__(_Trap)
    trap.__dict__["where"] = str(path.parent / "PWNED")
    sio.dump({"estimator": trap, "f": os.system}, path)


def truncated_skops(path):
    skops_of("classifier")(path)
    path.write_bytes(path.read_bytes()[:300])


def imported_model(path):
    """A model file imported from scikit-learn: no feature names, inputs x and z."""
    from handgrad.export import model_from_sklearn

    hg.save_model(model_from_sklearn(_fitted("classifier")), path)


def model_file(path):
    """A table model trained on CLS."""
    src = path.parent / "src.csv"
    src.write_text(CLS)
    from handgrad.cli.main import main

    assert main(["train", "--data", str(src), "--target", "y", "--epochs", "2", "--no-plot", "--quiet",
                 "--model", str(path)]) == 0


def numeric_model_file(path):
    from handgrad.cli.main import main

    assert main(["train", "--dataset", "iris", "--epochs", "2", "--no-plot", "--quiet", "--model", str(path)]) == 0


def newer_model_file(path):
    """A model file whose format_version is newer than any this handgrad reads."""
    model_file(path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"]["handgrad"])
    meta["format_version"] = 99
    header["__metadata__"]["handgrad"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


def checkpoints_of_two_epochs(path):
    """A checkpoint directory of a regression run stopped after 2 of its epochs."""
    src = path.parent / "r.csv"
    src.write_text(REG)
    from handgrad.cli.main import main

    assert main(["train", "--data", str(src), "--target", "v", "--epochs", "2", "--no-plot", "--quiet",
                 "--val-fraction", "0.2", "--out-dir", str(path.parent / "first"), "--checkpoint-dir", str(path)]) == 0


def gzip_of(text):
    import gzip

    return lambda path: path.write_bytes(gzip.compress(text.encode()))


def parquet_of(f):
    return lambda path: f.to_parquet(path)


def hard_link_to(name):
    return lambda path: os.link(path.parent / name, path)


def link_to(name):
    return lambda path: path.symlink_to(name)


def wide(n):
    cols = {f"c{i}": np.arange(30.0) * (i % 7 + 1) % 11 for i in range(n)}
    f = pd.DataFrame(cols)
    f["y"] = np.where(np.arange(30) % 2, "a", "b")
    return table(f)


def iris_with(value, row, column):
    def write(path):
        from handgrad.data import load_dataset

        data = load_dataset("iris")
        f = pd.DataFrame(data.X, columns=data.feature_names)
        f.iloc[row, column] = value
        f.to_csv(path, index=False)
    return write


# ----- checks

def refused_and(id, argv, check, *fragments, **kw) -> Case:
    """A refusal (exit 2, one line naming ``fragments``) after which ``check(out, err, tmp)``
    also holds: nothing ran, nothing was written over."""
    def both(out, err, tmp):
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert len(lines) == 1, err
        for f in fragments:
            assert f in lines[0], (f, lines[0])
        check(out, err, tmp)
    return Case(id, argv=argv, ok=True, status=2, check=both, **kw)


def absent(*names):
    def check(out, err, tmp):
        for n in names:
            assert not (tmp / n).exists(), n
    return check


def loads(name):
    def check(out, err, tmp):
        hg.load_model(tmp / name)
    return check


def skops_loads(name):
    def check(out, err, tmp):
        import skops.io as sio

        from handgrad.export.sklearn_files import trusted_types

        sio.load(tmp / name, trusted=trusted_types())
    return check


def json_has(fn):
    def check(out, err, tmp):
        assert fn(json.loads(out)), out
    return check


def csv_rows(n):
    def check(out, err, tmp):
        assert len(out.strip().splitlines()) == n + 1, out[:200]
    return check


def short_line(limit):
    def check(out, err, tmp):
        assert len(err) < limit, len(err)
    return check


PWNED_ABSENT = absent("PWNED")

CASES = [
    # ----- 1. a pickle is read only with consent; .skops files with trusted types only
    refused_and("import-evil-pickle-refused-unread", "import-sklearn {evil_pkl} --out {tmp}/m.safetensors",
                checks(PWNED_ABSENT, absent("m.safetensors")), "--trust-pickle", "runs whatever code",
                "skops.io.dump", files={"evil.pkl": evil_pickle}),
    refused_and("import-evil-joblib-refused-unread", "import-sklearn {evil_joblib} --out {tmp}/m.safetensors",
                PWNED_ABSENT, "--trust-pickle", files={"evil.joblib": evil_joblib}),
    refused_and("import-evil-pickle-named-skops", "import-sklearn {evil_skops} --out {tmp}/m.safetensors",
                PWNED_ABSENT, "named .skops but is not a skops file", files={"evil.skops": evil_pickle}),
    refused_and("import-evil-pickle-named-skops-with-trust",
                "import-sklearn {evil_skops} --out {tmp}/m.safetensors --trust-pickle",
                PWNED_ABSENT, "is not a skops file", files={"evil.skops": evil_pickle}),
    refused_and("import-trusted-pickle-runs-its-code-then-is-no-estimator",
                "import-sklearn {evil_pkl} --out {tmp}/m.safetensors --trust-pickle",
                lambda out, err, tmp: (tmp / "PWNED").exists(), "expected a fitted MLPClassifier or MLPRegressor",
                files={"evil.pkl": evil_pickle}),
    refused_and("import-skops-untrusted-types-named", "import-sklearn {u_skops} --out {tmp}/m.safetensors",
                checks(PWNED_ABSENT, absent("m.safetensors")), "does not load", "'posix.system'",
                "_Trap", files={"u.skops": skops_untrusted}),
    refuse("import-skops-damaged", "import-sklearn {d_skops} --out {tmp}/m.safetensors", "d.skops",
           files={"d.skops": truncated_skops}),
    refuse("import-skops-not-an-mlp", "import-sklearn {l_skops} --out {tmp}/m.safetensors",
           "got an object of type LogisticRegression", files={"l.skops": skops_of("not-an-mlp")}),
    refuse("import-skops-multilabel", "import-sklearn {l_skops} --out {tmp}/m.safetensors", "multilabel",
           files={"l.skops": skops_of("multilabel")}),
    refuse("import-garbage-with-trust", "import-sklearn {g_pkl} --out {tmp}/m.safetensors --trust-pickle",
           "cannot read", files={"g.pkl": b"not a pickle at all"}),
    refuse("import-garbage-without-trust", "import-sklearn {g_pkl} --out {tmp}/m.safetensors",
           "is not a .skops file", "--trust-pickle", files={"g.pkl": b"not a pickle at all"}),
    refuse("import-missing-file", "import-sklearn {tmp}/none.skops --out {tmp}/m.safetensors", "no such file"),
    refuse("import-a-directory", "import-sklearn {tmp} --out {tmp}/m.safetensors", "is not a file"),
    accept("import-skops-classifier", "import-sklearn {c_skops} --out {tmp}/m.safetensors",
           checks(loads("m.safetensors"), in_out("classes ['a', 'b']")), files={"c.skops": skops_of("classifier")}),
    accept("import-skops-sgd-classifier", "import-sklearn {c_skops} --out {tmp}/m.safetensors",
           loads("m.safetensors"), files={"c.skops": skops_of("sgd-classifier")}),
    accept("import-skops-regressor-pipeline", "import-sklearn {r_skops} --out {tmp}/m.safetensors",
           checks(loads("m.safetensors"), in_out("regression, identity output")),
           files={"r.skops": skops_of("regressor")}),
    accept("import-skops-handgrad-estimator", "import-sklearn {h_skops} --out {tmp}/m.safetensors",
           loads("m.safetensors"), files={"h.skops": skops_of("handgrad")}),
    accept("import-skops-handgrad-table-pipeline", "import-sklearn {h_skops} --out {tmp}/m.safetensors",
           loads("m.safetensors"), files={"h.skops": skops_of("handgrad-table")}),
    accept("import-skops-whatever-its-name", "import-sklearn {h_bin} --out {tmp}/m.safetensors",
           loads("m.safetensors"), files={"h.bin": skops_of("classifier")}),

    # ----- 2. an output is never an input: every command that writes
    refused_and("export-out-is-the-model", "export {m_safetensors} --format onnx --out {m_safetensors}",
                loads("m.safetensors"), "--out", "is the input file", files={"m.safetensors": model_file}),
    refused_and("export-out-link-to-the-model", "export {m_safetensors} --format onnx --out {l_onnx}",
                loads("m.safetensors"), "is the input file",
                files={"m.safetensors": model_file, "l.onnx": link_to("m.safetensors")}),
    refused_and("export-out-hard-link-to-the-model", "export {m_safetensors} --format onnx --out {h_onnx}",
                loads("m.safetensors"), "is the input file",
                files={"m.safetensors": model_file, "h.onnx": hard_link_to("m.safetensors")}),
    refused_and("export-torch-out-is-the-model", "export {m_safetensors} --format torch --out {m_safetensors}",
                loads("m.safetensors"), "is the input file", files={"m.safetensors": numeric_model_file}),
    refuse("export-out-dash", "export {m_safetensors} --format onnx --out -", "--out -", "standard output",
           files={"m.safetensors": numeric_model_file}),
    refuse("export-out-directory", "export {m_safetensors} --format onnx --out {tmp}", "is a directory",
           files={"m.safetensors": numeric_model_file}),
    accept("export-next-to-the-model", "export {m_safetensors} --format onnx --out {tmp}/m.onnx",
           checks(loads("m.safetensors"), lambda out, err, tmp: (tmp / "m.onnx").stat().st_size > 0),
           files={"m.safetensors": numeric_model_file}),
    refused_and("import-out-is-the-skops-file", "import-sklearn {c_skops} --out {c_skops}",
                skops_loads("c.skops"), "--out", "is the input file", files={"c.skops": skops_of("classifier")}),
    refused_and("import-out-is-the-pickle-checked-before-unpickling",
                "import-sklearn {evil_pkl} --out {evil_pkl} --trust-pickle",
                checks(PWNED_ABSENT, lambda out, err, tmp: (tmp / "evil.pkl").read_bytes().startswith(b"\x80")),
                "is the input file", files={"evil.pkl": evil_pickle}),
    refused_and("import-out-link-to-the-input", "import-sklearn {c_skops} --out {l_safetensors}",
                skops_loads("c.skops"), "is the input file",
                files={"c.skops": skops_of("classifier"), "l.safetensors": link_to("c.skops")}),
    refuse("import-out-directory", "import-sklearn {c_skops} --out {tmp}", "is a directory",
           files={"c.skops": skops_of("classifier")}),
    refuse("predict-out-hard-link-to-the-data", "predict {model} --data {t_csv} --out {h_csv}",
           "is the input file", files=cls(**{"h.csv": hard_link_to("t.csv")})),
    refuse("train-model-hard-link-to-the-data", TRAIN + " --model {h_safetensors}", "is the input file",
           files=cls(**{"h.safetensors": hard_link_to("t.csv")})),
    refuse_api("api-save-onnx-over-its-model-file", lambda: _save_onnx_over_itself(), "is the input file"),

    # ----- 3. the --test file checked before training
    refused_and("train-test-lacks-a-column", TRAIN + " --test {u_csv}", absent("o"), "--test", "lacks the column(s) 'z'",
                "checked before training", files=cls(**{"u.csv": table(BASE.drop(columns=["z", "v"]))})),
    refuse("train-test-lacks-the-target", TRAIN + " --test {u_csv}", "--test", "target column 'y' is not in",
           files=cls(**{"u.csv": table(BASE.drop(columns=["y", "v"]))})),
    refuse("train-test-unseen-label", TRAIN + " --test {u_csv}", "never seen in training", "'c'",
           "checked before training", files=cls(**{"u.csv": table(BASE.drop(columns="v").assign(y="c"))})),
    refuse("train-test-text-in-a-numeric-column", TRAIN + " --test {u_csv}", "--test", "'x'", "'oops'",
           files=cls(**{"u.csv": table(BASE.drop(columns="v").assign(x=["oops"] + BASE.x.tolist()[1:]))})),
    refuse("train-test-regression-text-target", TRAIN_REG + " --test {u_csv}", "--test", "holds text, not numbers",
           "'abc' in row 5", files=reg(**{"u.csv": table(BASE.drop(columns="y").assign(
               v=BASE.v.astype(object).where(BASE.index != 4, "abc")))})),
    refuse("train-test-regression-lacks-a-column", TRAIN_REG + " --test {u_csv}", "lacks the column(s) 'colour'",
           files=reg(**{"u.csv": table(BASE.drop(columns=["y", "colour"]))})),
    refuse("train-test-is-the-data", TRAIN + " --test {t_csv}", "is the --data file", files=cls()),
    refuse("train-test-link-to-the-data", TRAIN + " --test {l_csv}", "is the --data file",
           files=cls(**{"l.csv": link_to("t.csv")})),
    refuse("train-test-is-the-data-regression", TRAIN_REG + " --test {r_csv}", "is the --data file", files=reg()),
    refuse("train-test-gzip-named-csv", TRAIN + " --test {u_csv}", "gzip-compressed data", "name it u.csv.gz",
           files=cls(**{"u.csv": gzip_of(CLS)})),
    refuse("train-test-builtin-lacks-a-feature", "train --dataset iris --epochs 2 --no-plot --quiet --out-dir {tmp}/o "
           "--test {u_csv}", "--test", "lacks feature column(s)", files={"u.csv": "a,species\n1,0\n"}),
    accept("train-test-regression-scored", JSON_REG + " --test {u_csv}",
           json_has(lambda r: r["test"]["n_samples"] == 20 and "r2" in r["test"]),
           files=reg(**{"u.csv": table(BASE.drop(columns="y").iloc[:20])})),
    accept("train-test-columns-reordered-and-extra", TRAIN + " --test {u_csv}", in_out("test accuracy"),
           files=cls(**{"u.csv": table(BASE.assign(extra=1)[["extra", "z", "y", "colour", "x"]])})),
    accept("train-test-may-lack-a-dropped-column", TRAIN + " --drop z --test {u_csv}", in_out("test accuracy"),
           files=cls(**{"u.csv": table(BASE.drop(columns=["z", "v"]))})),
    accept("train-test-unlabelled-rows-left-out", JSON_REG + " --test {u_csv}",
           json_has(lambda r: r["test"]["n_samples"] == 47 and any("left out of the test" in n for n in r["notes"])),
           files=reg(**{"u.csv": table(BASE.drop(columns="y").assign(v=BASE.v.where(BASE.index != 0)))})),

    # ----- 4. --resume as preemptible jobs use it, and a resumed run says so
    accept("train-resume-no-directory-yet-regression", TRAIN_REG + " --checkpoint-dir {tmp}/ck --resume",
           checks(in_err("note: the checkpoint directory", "does not exist yet"),
                  lambda out, err, tmp: any((tmp / "ck").iterdir())), files=reg()),
    accept("train-resume-says-from-which-epoch-json", JSON_REG.replace("--epochs 2", "--epochs 4")
           + " --val-fraction 0.2 --checkpoint-dir {ck} --resume",
           json_has(lambda r: r["resumed_from"]["epoch"] == 2 and r["epochs_run"] == 4
                    and any("resumed from the checkpoint" in n and "epochs 3–4" in n for n in r["notes"])),
           files=reg(ck=checkpoints_of_two_epochs)),
    accept("train-resume-says-from-which-epoch-quiet", TRAIN_REG.replace("--epochs 2", "--epochs 3")
           + " --val-fraction 0.2 --checkpoint-dir {ck} --resume", in_out("resumed after epoch 2;"),
           files=reg(ck=checkpoints_of_two_epochs)),

    # ----- 5. options silently ignored or contradicted: refused before any data is read
    refuse("budget-without-search", TRAIN + " --budget 5", "--budget 5", "without --search", files=cls()),
    refuse("budget-without-search-regression", TRAIN_REG + " --budget 30", "--budget 30", "add --search", files=reg()),
    refuse("test-with-test-fraction", TRAIN + " --test {u_csv} --test-fraction 0.3", "--test-fraction 0.3",
           "drop one", files=cls(**{"u.csv": CLS})),
    refuse("test-with-test-fraction-0", TRAIN.replace("{t_csv}", "{tmp}/absent.csv") + " --test {tmp}/u.csv "
           "--test-fraction 0", "--test-fraction 0", "nothing to hold out"),
    refuse("metric-with-val-fraction-0", TRAIN + " --metric accuracy --val-fraction 0", "--metric accuracy",
           "--val-fraction 0", files=cls()),
    refuse("metric-with-val-fraction-0-regression", TRAIN_REG + " --metric rmse --val-fraction 0", "--metric rmse",
           "holds none out", files=reg()),
    refuse("search-with-checkpoint-dir-right-reason", "train --data {t_csv} --target y --search --no-plot "
           "--checkpoint-dir {tmp}/ck", "--checkpoint-dir does not work with --search", "keeps no checkpoints",
           files=cls()),
    refuse("search-with-resume", "train --data {t_csv} --target y --search --no-plot --checkpoint-dir {tmp}/ck "
           "--resume", "does not work with --search", files=cls()),
    refuse("search-chooses-epochs", "train --data {t_csv} --target y --search --epochs 3", "--search chooses --epochs",
           files=cls()),
    refuse("target-as-id-column", TRAIN + " --id-column y", "--id-column names 'y', the --target column", files=cls()),
    refuse("target-as-categorical", TRAIN + " --categorical colour y", "--categorical names 'y'", files=cls()),
    refuse("target-as-numeric-regression", TRAIN_REG + " --numeric v", "--numeric names 'v'", files=reg()),
    refuse("target-as-drop", TRAIN + " --drop y", "--drop names 'y'", files=cls()),
    refused_and("unknown-categorical-column-listed-short", "train --data {w_csv} --target y --categorical nope "
                "--no-plot --quiet --out-dir {tmp}/o", short_line(600), "--categorical names 'nope'",
                "(2000 in all)", files={"w.csv": wide(2000)}),
    refuse("tiny-data-search-not-told-val-fraction-0", "train --data {t_csv} --target y --search --budget 2 "
           "--test-fraction 0 --no-plot --quiet --out-dir {tmp}/o", "give more rows", "not with --search",
           files={"t.csv": "x,y\n1,a\n2,b\n3,c\n"}),
    refuse("activation-checked-before-reading-data", "train --data {tmp}/absent.csv --target y --activation relux",
           "--activation", "unknown activation 'relux'"),
    refuse("gradcheck-activation-name", "gradcheck --activation relux", "--activation", "'relux'"),
    refuse("derive-activation-name", "derive --activation tanh relux", "--activation", "'relux'"),

    # ----- 6. messages: plain numbers, rows from 1, short lists, files named as what they are
    refuse("predict-huge-value-plain-number-row-from-1", "predict {numeric_model} --data {i_csv} --out -",
           "holds 9e+300 in row 5, column 'sepal width (cm)'", files={"i.csv": iris_with(9e300, 4, 1)}),
    refuse("evaluate-huge-value-plain-number", "evaluate {numeric_model} --data {i_csv} --target target",
           "9e+300 in row 2,", files={"i.csv": lambda p: (iris_with(9e300, 1, 0)(p), _add_target(p))}),
    refused_and("predict-missing-column-of-a-wide-table", "predict {m_safetensors} --data {w_csv} --out -",
                short_line(600), "lacks the column(s) 'c5'", "(2001 in all)",
                files={"m.safetensors": lambda p: _wide_model(p), "w.csv": wide(2000).replace("c5,", "q5,", 1)}),
    refuse("info-on-a-csv", "info {t_csv}", "not a model file", "text (it starts 'x,colour,z,y')", files=cls()),
    refuse("info-on-a-skops-file", "info {c_skops}", "not a model file", "zip archive",
           files={"c.skops": skops_of("classifier")}),
    refuse("info-on-a-pickle", "info {g_pkl}", "a Python pickle", files={"g.pkl": pickle.dumps([1, 2])}),
    refuse("export-a-csv", "export {t_csv} --format onnx --out {tmp}/x.onnx", "not a model file", files=cls()),
    refuse("model-file-from-a-newer-handgrad", "info {m_safetensors}", "format_version 99",
           "update handgrad from its source", files={"m.safetensors": newer_model_file}),
    accept("predict-target-of-an-imported-model-is-no-feature", "predict {m_safetensors} --data {p_csv} "
           "--target y --out -", csv_rows(48),
           files={"m.safetensors": imported_model, "p.csv": table(BASE[["x", "y", "z"]])}),
    accept("info-of-an-imported-model", "info {m_safetensors}",
           lambda out, err, tmp: "imported from sklearn" in out and "None" not in out,
           files={"m.safetensors": imported_model}),
    refuse("train-gzip-named-csv", TRAIN, "t.csv is gzip-compressed data", "name it t.csv.gz",
           files={"t.csv": gzip_of(CLS)}),
    refuse("predict-gzip-named-csv", "predict {model} --data {t_csv} --out -", "gzip-compressed data",
           files={"t.csv": gzip_of(CLS)}),
    refuse("train-parquet-named-csv", TRAIN, "a Parquet file", "name it with .parquet",
           files={"t.csv": parquet_of(BASE)}),
    refuse("train-regression-text-target-names-row", TRAIN_REG + " --task regression", "'abc' in row 5",
           files={"r.csv": table(BASE.drop(columns="y").assign(v=BASE.v.astype(object).where(BASE.index != 4, "abc")))}),
]


def _save_onnx_over_itself():
    import tempfile

    from handgrad.export import save_onnx

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.safetensors"
        numeric_model_file(path)
        save_onnx(str(path), path)


def _add_target(path):
    f = pd.read_csv(path, float_precision="round_trip")  # the values as written (9e300 stays 9e300)
    f["target"] = 0
    f.to_csv(path, index=False)


def _wide_model(path):
    src = path.parent / "wide_train.csv"
    src.write_text(wide(2000))
    from handgrad.cli.main import main

    assert main(["train", "--data", str(src), "--target", "y", "--epochs", "1", "--no-plot", "--quiet",
                 "--model", str(path), "--val-fraction", "0", "--test-fraction", "0"]) == 0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, shared_files, tmp_path, capsys):
    run_case(case, shared_files, tmp_path, capsys)


def test_the_cases_are_distinct_and_enough():
    assert len({c.id for c in CASES}) == len(CASES) >= 70


def test_a_bad_test_file_is_refused_before_any_training(tmp_path, capsys, monkeypatch):
    """The epochs would otherwise be spent before the mistake is found (issue 24)."""
    import handgrad.model.classifier as classifier
    from handgrad.cli.main import main

    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(classifier, "train_model", never)
    (tmp_path / "t.csv").write_text(CLS)
    (tmp_path / "r.csv").write_text(REG)
    for name, f in (("missing.csv", BASE.drop(columns=["z", "v"])), ("unseen.csv", BASE.drop(columns="v").assign(y="c"))):
        f.to_csv(tmp_path / name, index=False)
        assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "y", "--test", str(tmp_path / name),
                     "--no-plot", "--out-dir", str(tmp_path / "o")]) == 2
        assert "checked before training" in capsys.readouterr().err
    bad = BASE.drop(columns="y").assign(v=BASE.v.astype(object).where(BASE.index != 4, "abc"))
    bad.to_csv(tmp_path / "text.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "r.csv"), "--target", "v", "--test", str(tmp_path / "text.csv"),
                 "--no-plot", "--out-dir", str(tmp_path / "o")]) == 2
    assert "'abc' in row 5" in capsys.readouterr().err
