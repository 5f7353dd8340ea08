"""Hostile options and API arguments, and user text printed as it is.

Three mechanisms are tried here: the one input-checking layer (``handgrad.validation``, behind
every API entry point, and ``handgrad.cli.options``, naming the flag), the memory estimate made
before allocating, and the terminal helpers that print user text as plain text (labels, column
names, paths and file contents never read as rich markup, emoji codes or escape sequences, and
``$`` never read as matplotlib math).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import handgrad as hg
from handgrad import validation
from handgrad.gradcheck import gradcheck_function
from handgrad.training.optim import SGD, Adam

from .harness import accept, accept_api, refuse, refuse_api, run_case

TRAIN = "train --data {train_csv} --target kind --no-plot --quiet --out-dir {tmp}/o"
IRIS = "train --dataset iris --epochs 1 --no-plot --quiet --out-dir {tmp}/o"

# ---- tables whose labels, columns or names are hostile text -------------------------------


def _labels_csv(labels, column="y", features=("a", "b")) -> str:
    """60 rows: two numeric features, ``labels`` repeated (CSV-quoted)."""
    rng = np.random.default_rng(0)
    rows = [",".join(features) + "," + _q(column)]
    for i in range(60):
        rows.append(f"{rng.normal():.4f},{rng.normal():.4f},{_q(labels[i % len(labels)])}")
    return "\n".join(rows) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _both(*fragments):
    """A check that every fragment appears in stdout."""
    def check(out, err, tmp):
        for f in fragments:
            assert f in out, f"{f!r} not in stdout:\n{out}"
    return check


def _saved(path_fragment, *more):
    def check(out, err, tmp):
        assert f"model saved to {tmp}/{path_fragment}" in out, out
        assert (tmp / path_fragment).is_file()
        for f in more:
            assert f in out, f"{f!r} not in stdout:\n{out}"
    return check


def _no_escape_codes(*fragments):
    def check(out, err, tmp):
        assert "\x1b" not in out and "\u202e" not in out, repr(out)
        for f in fragments:
            assert f in out, f"{f!r} not in stdout:\n{out}"
    return check


def _pngs(*names):
    def check(out, err, tmp):
        for n in names:
            assert (tmp / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", n
    return check


def _json_classes(*labels):
    def check(out, err, tmp):
        got = [row["class"] for row in json.loads(out)["per_class"]]
        assert sorted(got) == sorted(labels), got
    return check


def _model_with_record(record):
    """A files entry writing a small model whose training record is ``record``."""
    def write(path):
        from handgrad.model.files import save_model

        model = hg.train_classifier(np.random.default_rng(0).normal(size=(30, 2)),
                                    np.array(["[a]", "b"] * 15), epochs=1, validation_fraction=0.0)
        model.record = record
        save_model(model, path)
    return write


INST = {"inst.csv": _labels_csv(["[/INST]", "[low]"])}
LMH = {"lmh.csv": _labels_csv(["[low]", "[mid]", "[high]"])}
ODD = {"odd.csv": _labels_csv([":smile:", "[bold]x[/bold]", "back\\"])}
ESC = {"esc.csv": _labels_csv(["\x1b[31mred", "\u202eevil", "plain"])}
DOLLAR = {"dollar.csv": _labels_csv(["$\\foo$", "$x^2$"])}
COLS = {"cols.csv": _labels_csv(["p", "q"], column="[t]", features=("[red]", "[/b]"))}

PRINTING = [
    accept("label-closing-tag-train", "train --data {inst_csv} --target y --epochs 2 --no-plot --out-dir {tmp}/o",
           _saved("o/model.safetensors", "[/INST]", "[low]"), files=INST),
    accept("labels-in-brackets-not-blank", "train --data {lmh_csv} --target y --epochs 2 --no-plot --out-dir {tmp}/o",
           _both("│ [low]", "│ [mid]", "│ [high]", "┃ [high]"), files=LMH),
    accept("out-dir-with-brackets", "train --data {inst_csv} --target y --epochs 1 --no-plot --out-dir {tmp}/runs[v2]",
           _saved("runs[v2]/model.safetensors"), files=INST),
    accept("out-dir-with-brackets-quiet", "train --data {inst_csv} --target y --epochs 1 --no-plot --quiet --out-dir {tmp}/r[/x]",
           _saved("r[/x]/model.safetensors"), files=INST),
    accept("emoji-code-markup-backslash-labels", "train --data {odd_csv} --target y --epochs 1 --no-plot --out-dir {tmp}/o",
           _both(":smile:", "[bold]x[/bold]", "back\\"), files=ODD),
    accept("escape-sequence-labels-shown-escaped", "train --data {esc_csv} --target y --epochs 1 --no-plot --out-dir {tmp}/o",
           _no_escape_codes("\\x1b[31mred", "\\u202eevil"), files=ESC),
    accept("markup-column-names-train", "train --data {cols_csv} --target [t] --epochs 1 --no-plot --out-dir {tmp}/o",
           _saved("o/model.safetensors"), files=COLS),
    accept("file-name-with-markup", "train --data {tmp}/[red]data.csv --target y --epochs 1 --no-plot --out-dir {tmp}/o",
           _both("on [red]data.csv:"), files={"[red]data.csv": _labels_csv(["u", "v"])}),
    accept("dollar-labels-plots-drawn", "train --data {dollar_csv} --target y --epochs 1 --out-dir {tmp}/o",
           _pngs("o/learning_curve.png", "o/confusion_matrix.png"), files=DOLLAR),
    accept("dollar-out-dir-plots-drawn", "train --data {inst_csv} --target y --epochs 1 --out-dir '{tmp}/$\\alpha$'",
           _pngs("$\\alpha$/learning_curve.png", "$\\alpha$/confusion_matrix.png"), files=INST),
    accept("json-keeps-labels-exact", "train --data {esc_csv} --target y --epochs 1 --no-plot --json --out-dir {tmp}/o",
           _json_classes("\x1b[31mred", "\u202eevil", "plain"), files=ESC),
    accept("evaluate-closing-tag-labels", "evaluate {tmp}/m.safetensors --data {inst_csv} --target y",
           _both("[/INST]", "[low]", "inst.csv: accuracy"),
           files={**INST, "m.safetensors": lambda p: _train_table_to(p, "inst.csv", "y")}),
    accept("info-closing-tag-classes", "info {tmp}/m.safetensors",
           _both("classes: [/INST], [low]"), files={"m.safetensors": lambda p: _train_to(p, "[/INST]", "[low]")}),
    accept("info-path-with-brackets", "info {tmp}/[v2].safetensors",
           _both("[v2].safetensors (handgrad model format"),
           files={"[v2].safetensors": lambda p: _train_to(p, "x", "y")}),
    accept("info-markup-column-names", "info {tmp}/m.safetensors", _both("numeric [red], [/b]"),
           files={**COLS, "m.safetensors": lambda p: _train_table_to(p, "cols.csv", "[t]")}),
    accept("predict-closing-tag-labels", "predict {tmp}/m.safetensors --data {inst_csv} --out {tmp}/p.csv",
           lambda out, err, tmp: ("[/INST]" in (tmp / "p.csv").read_text()) or pytest.fail("no label"),
           files={**INST, "m.safetensors": lambda p: _train_table_to(p, "inst.csv", "y")}),
]


def _train_to(path, *labels):
    from handgrad.model.files import save_model

    X = np.random.default_rng(1).normal(size=(40, 2))
    save_model(hg.train_classifier(X, np.array(list(labels) * 20), epochs=1, validation_fraction=0.0), path)


def _train_table_to(path, csv_name, target):
    from handgrad.cli.main import main

    assert main(["train", "--data", str(path.parent / csv_name), "--target", target, "--epochs", "1",
                 "--no-plot", "--quiet", "--model", str(path), "--out-dir", str(path.parent / "t")]) == 0


# ---- info on model files whose training record holds unexpected values --------------------

INFO = [
    accept("info-hyperparameters-a-list", "info {tmp}/m.safetensors",
           _both("hyperparameters: [1, 2] (not in the expected form)", "classes: [a], b"),
           files={"m.safetensors": _model_with_record({"hyperparameters": [1, 2]})}),
    accept("info-history-a-string", "info {tmp}/m.safetensors",
           _both("history: 'x' (not in the expected form)"),
           files={"m.safetensors": _model_with_record({"history": "x"})}),
    accept("info-test-accuracy-text", "info {tmp}/m.safetensors",
           _both("test: {'accuracy': 'bad'} (not in the expected form)"),
           files={"m.safetensors": _model_with_record({"test": {"accuracy": "bad"}})}),
    accept("info-search-missing-keys", "info {tmp}/m.safetensors",
           _both("search: {'runs': 1} (not in the expected form)"),
           files={"m.safetensors": _model_with_record({"search": {"runs": 1}})}),
    accept("info-selection-a-list", "info {tmp}/m.safetensors",
           _both("selection: [1] (not in the expected form)"),
           files={"m.safetensors": _model_with_record({"selection": [1]})}),
    accept("info-dataset-name-with-markup-and-escapes", "info {tmp}/m.safetensors",
           _no_escape_codes("trained on [/x]\\x1b[2J\n"),
           files={"m.safetensors": _model_with_record({"dataset": "[/x]\x1b[2J"})}),
    accept("info-long-odd-value-shortened", "info {tmp}/m.safetensors",
           _both("hyperparameters: [" + "0, " * 60, "… (not in the expected form)"),
           files={"m.safetensors": _model_with_record({"hyperparameters": [0] * 500})}),
    accept("info-json-odd-record", "info {tmp}/m.safetensors --json",
           lambda out, err, tmp: json.loads(out)["record"]["hyperparameters"] == [1, 2] or pytest.fail(out),
           files={"m.safetensors": _model_with_record({"hyperparameters": [1, 2]})}),
]

# ---- options of the command line, each refused naming its flag -----------------------------

OPTIONS = [
    # the first cases of the suite (from its example file)
    refuse("train-unknown-column-target", "train --data {train_csv} --target nope --no-plot --out-dir {tmp}/o", "nope"),
    refuse("train-data-without-target", "train --data {train_csv} --no-plot --out-dir {tmp}/o", "--target"),
    accept("train-tiny-epochs", "train --data {train_csv} --target kind --epochs 1 --no-plot --quiet --out-dir {tmp}/o"),
    refuse("evaluate-missing-model", "evaluate {tmp}/none.safetensors --data {train_csv}", "none.safetensors"),
    refuse("lr-nan", TRAIN + " --lr nan", "--lr must be a finite number > 0", "nan"),
    refuse("lr-inf", TRAIN + " --lr inf", "--lr must be a finite number > 0"),
    refuse("lr-negative", TRAIN + " --lr -1", "--lr must be a finite number > 0"),
    refuse("lr-zero", TRAIN + " --lr 0", "--lr must be a finite number > 0"),
    refuse("momentum-nan", TRAIN + " --optimizer sgd --momentum nan", "--momentum must be a finite number ≥ 0"),
    refuse("momentum-one", TRAIN + " --optimizer sgd --momentum 1", "--momentum must be in [0, 1)"),
    refuse("momentum-negative", TRAIN + " --optimizer sgd --momentum -0.5", "--momentum must be a finite number ≥ 0"),
    refuse("weight-decay-nan", TRAIN + " --optimizer adamw --weight-decay nan", "--weight-decay must be a finite number ≥ 0"),
    refuse("weight-decay-negative", TRAIN + " --weight-decay -1", "--weight-decay must be a finite number ≥ 0"),
    refuse("l2-nan", TRAIN + " --l2 nan", "--l2 must be a finite number ≥ 0"),
    refuse("l2-inf", TRAIN + " --l2 inf", "--l2 must be a finite number ≥ 0"),
    refuse("l2-negative", TRAIN + " --l2 -0.1", "--l2 must be a finite number ≥ 0"),
    refuse("epochs-zero", TRAIN + " --epochs 0", "--epochs must be a whole number ≥ 1, got 0"),
    refuse("epochs-negative", TRAIN + " --epochs -3", "--epochs must be a whole number ≥ 1, got -3"),
    refuse("batch-size-zero", TRAIN + " --batch-size 0", "--batch-size must be a whole number ≥ 1, got 0"),
    refuse("batch-size-negative", TRAIN + " --batch-size -8", "--batch-size must be a whole number ≥ 1"),
    refuse("val-fraction-nan", TRAIN + " --val-fraction nan", "--val-fraction must be a finite number ≥ 0"),
    refuse("val-fraction-one", TRAIN + " --val-fraction 1", "--val-fraction must be in [0, 1)"),
    refuse("val-fraction-negative", TRAIN + " --val-fraction -0.2", "--val-fraction must be a finite number ≥ 0"),
    refuse("test-fraction-nan", TRAIN + " --test-fraction nan", "--test-fraction", "nan"),
    refuse("test-fraction-above-one", TRAIN + " --test-fraction 1.5", "--test-fraction", "1.5"),
    refuse("patience-negative", TRAIN + " --patience -1", "--patience must be a whole number ≥ 0, got -1"),
    refuse("budget-zero", TRAIN + " --search --budget 0", "--budget must be a finite number > 0"),
    refuse("budget-inf", TRAIN + " --search --budget inf", "--budget must be a finite number > 0"),
    refuse("budget-nan", TRAIN + " --search --budget nan", "--budget must be a finite number > 0"),
    refuse("max-categories-zero", TRAIN + " --max-categories 0", "--max-categories must be a whole number ≥ 1"),
    refuse("checkpoint-every-zero", TRAIN + " --checkpoint-dir {tmp}/c --checkpoint-every 0",
           "--checkpoint-every must be a whole number ≥ 1"),
    refuse("seed-negative", TRAIN + " --seed -1", "--seed must be a whole number from 0 to", "got -1"),
    refuse("seed-too-large", TRAIN + " --seed 9223372036854775808", "--seed must be a whole number from 0 to"),
    refuse("hidden-zero", TRAIN + " --hidden 0", "--hidden width must be a whole number ≥ 1, got 0"),
    refuse("hidden-negative", TRAIN + " --hidden 8 -3", "--hidden width must be a whole number ≥ 1, got -3"),
    refuse("hidden-too-big-for-memory", TRAIN + " --hidden 100000 100000", "100000, 100000, 2] has 10,00",
           "parameters and needs about", "of memory", "is available"),
    refuse("gradcheck-max-entries-zero", "gradcheck --max-entries 0", "--max-entries must be a whole number ≥ 1, got 0"),
    refuse("gradcheck-max-entries-negative", "gradcheck --max-entries -5", "--max-entries must be a whole number ≥ 1"),
    refuse("gradcheck-samples-zero", "gradcheck --samples 0", "--samples must be a whole number ≥ 1"),
    refuse("gradcheck-seed-negative", "gradcheck --seed -1", "--seed must be a whole number from 0 to"),
    refuse("gradcheck-sizes-zero", "gradcheck --sizes 3 0 2", "--sizes width must be a whole number ≥ 1, got 0"),
    refuse("gradcheck-one-size", "gradcheck --sizes 3", "sizes needs at least the input width"),
    refuse("gradcheck-l2-nan", "gradcheck --l2 nan", "--l2 must be a finite number ≥ 0"),
    refuse("gradcheck-sizes-too-big", "gradcheck --sizes 3 200000 200000 2",
           "[3, 200000, 200000, 2] has 40,001,400,002 parameters and needs about 640 GB of memory"),
    refuse("demo-epochs-zero", "demo --epochs 0", "--epochs must be a whole number ≥ 1"),
    refuse("demo-lr-nan", "demo --lr nan", "--lr must be a finite number > 0"),
    refuse("demo-seed-negative", "demo --seed -2", "--seed must be a whole number from 0 to"),
    accept("seed-largest-accepted", IRIS + " --seed 9223372036854775807"),
    accept("patience-zero-is-off", IRIS + " --patience 0"),
    accept("val-fraction-zero-is-none", IRIS + " --val-fraction 0"),
    accept("gradcheck-one-entry-checked", "gradcheck --max-entries 1", _both("1/30", "PASSED")),
]

# ---- the Python API: every entry point through validation, InputError only ----------------

X = np.random.default_rng(0).normal(size=(20, 3))
Y = np.arange(20) % 2


def _fit(**kw):
    kw.setdefault("epochs", 1)
    return hg.fit(hg.MLP([3, 4, 2]), X, Y, **kw)


def _gc(**kw):
    return hg.gradcheck(hg.MLP([3, 4, 2], dtype="float64"), X, Y, **kw)


API = [
    refuse_api("mlp-inf-width", lambda: hg.MLP([3, float("inf"), 2]), "whole numbers", "inf"),
    refuse_api("fit-poisson-negative-target", lambda: hg.fit(hg.MLP([2, 3, 1], output="exp"), np.ones((4, 2)),
                                                           -np.ones(4), epochs=1), "exp (Poisson)", "≥ 0"),
    refuse_api("mlp-nan-width", lambda: hg.MLP([3, float("nan"), 2]), "whole numbers", "nan"),
    refuse_api("mlp-fractional-width", lambda: hg.MLP([3, 2.5, 2]), "whole numbers", "2.5"),
    refuse_api("mlp-bool-width", lambda: hg.MLP([3, True, 2]), "whole numbers", "True"),
    refuse_api("mlp-text-width", lambda: hg.MLP(["3", 4, 2]), "whole numbers", "'3'"),
    refuse_api("mlp-none-width", lambda: hg.MLP([3, None, 2]), "whole numbers", "None"),
    refuse_api("mlp-negative-width", lambda: hg.MLP([3, -1, 2]), "every layer width must be ≥ 1"),
    refuse_api("mlp-zero-width", lambda: hg.MLP([3, 0, 2]), "every layer width must be ≥ 1"),
    refuse_api("mlp-one-size", lambda: hg.MLP([3]), "at least the input width"),
    refuse_api("mlp-sizes-a-string", lambda: hg.MLP("3 4 2"), "sizes must be a list"),
    refuse_api("mlp-sizes-an-int", lambda: hg.MLP(5), "sizes must be a list"),
    refuse_api("mlp-huge-width", lambda: hg.MLP([3, 10**20, 2]), "600,000,000,000,000,000,002 parameters",
               "of memory"),
    refuse_api("mlp-too-big-for-memory", lambda: hg.MLP([64, 100000, 100000, 10]),
               "10,007,600,010 parameters", "is available"),
    refuse_api("mlp-seed-negative", lambda: hg.MLP([3, 2], seed=-1), "seed must be a whole number from 0"),
    refuse_api("mlp-seed-fractional", lambda: hg.MLP([3, 2], seed=1.5), "seed must be a whole number", "1.5"),
    refuse_api("mlp-seed-text", lambda: hg.MLP([3, 2], seed="a"), "seed must be a whole number", "'a'"),
    refuse_api("mlp-seed-bool", lambda: hg.MLP([3, 2], seed=True), "seed must be a whole number"),
    refuse_api("mlp-seed-2-64", lambda: hg.MLP([3, 2], seed=2**64), "seed must be a whole number from 0"),
    refuse_api("mlp-l2-nan", lambda: hg.MLP([3, 2], l2=float("nan")), "l2 must be a finite number ≥ 0"),
    refuse_api("mlp-l2-bool", lambda: hg.MLP([3, 2], l2=True), "l2 must be a number"),
    refuse_api("mlp-dtype-int", lambda: hg.MLP([3, 2], dtype="int32"), "dtype must be 'float32' or 'float64'"),
    accept_api("mlp-whole-float-width", lambda: hg.MLP([3, 4.0, 2]), lambda net: net.sizes == [3, 4, 2]),
    accept_api("mlp-numpy-sizes-and-seed", lambda: hg.MLP(np.array([3, 4, 2]), seed=np.int64(7)),
               lambda net: net.sizes == [3, 4, 2] and net.seed == 7),
    accept_api("mlp-generator-seed", lambda: hg.MLP([3, 2], seed=np.random.default_rng(1)),
               lambda net: np.all(np.isfinite(net.flat))),
    refuse_api("fit-lr-nan", lambda: _fit(lr=float("nan")), "learning rate must be a finite number > 0"),
    refuse_api("fit-lr-inf", lambda: _fit(lr=float("inf")), "learning rate must be a finite number > 0"),
    refuse_api("fit-lr-negative", lambda: _fit(lr=-0.1), "learning rate must be a finite number > 0"),
    refuse_api("fit-lr-bool", lambda: _fit(lr=True), "learning rate must be a number"),
    refuse_api("fit-momentum-nan", lambda: _fit(optimizer="sgd", momentum=float("nan")), "momentum"),
    refuse_api("fit-momentum-above-one", lambda: _fit(optimizer="sgd", momentum=1.5), "momentum must be in [0, 1)"),
    refuse_api("fit-weight-decay-negative", lambda: _fit(optimizer="adamw", weight_decay=-1), "weight_decay"),
    refuse_api("fit-epochs-zero", lambda: _fit(epochs=0), "epochs must be a whole number ≥ 1, got 0"),
    refuse_api("fit-epochs-bool", lambda: _fit(epochs=True), "epochs must be a whole number ≥ 1, got True"),
    refuse_api("fit-epochs-fractional", lambda: _fit(epochs=2.5), "epochs must be a whole number ≥ 1"),
    refuse_api("fit-epochs-inf", lambda: _fit(epochs=float("inf")), "epochs must be a whole number ≥ 1"),
    refuse_api("fit-batch-size-zero", lambda: _fit(batch_size=0), "batch_size must be a whole number ≥ 1"),
    refuse_api("fit-batch-size-inf", lambda: _fit(batch_size=float("inf")), "batch_size must be a whole number"),
    refuse_api("fit-patience-negative", lambda: _fit(patience=-1), "patience must be a whole number ≥ 1"),
    refuse_api("fit-patience-nan", lambda: _fit(patience=float("nan")), "patience must be a whole number"),
    refuse_api("fit-min-delta-nan", lambda: _fit(min_delta=float("nan")), "min_delta must be a finite number ≥ 0"),
    refuse_api("fit-checkpoint-every-zero", lambda: _fit(checkpoint_every=0), "checkpoint_every must be"),
    refuse_api("fit-seed-negative", lambda: _fit(seed=-1), "seed must be a whole number from 0"),
    refuse_api("fit-seed-fractional", lambda: _fit(seed=0.5), "seed must be a whole number"),
    refuse_api("fit-validation-fraction-nan", lambda: _fit(validation_fraction=float("nan")), "validation_fraction"),
    refuse_api("fit-validation-fraction-text", lambda: _fit(validation_fraction="half"), "validation_fraction must be a number"),
    refuse_api("fit-callbacks-not-callable", lambda: _fit(callbacks=5), "callbacks must be"),
    refuse_api("fit-callback-entry-not-callable", lambda: _fit(callbacks=[1]), "callbacks must be"),
    refuse_api("fit-all-zero-weights", lambda: _fit(sample_weight=np.zeros(20)), "zero for every sample"),
    refuse_api("fit-negative-weight", lambda: _fit(sample_weight=np.r_[np.ones(19), -1.0]),
               "sample_weight must be finite and ≥ 0; sample_weight[19] (the weight of row 20) is -1.0"),
    refuse_api("fit-nan-weight", lambda: _fit(sample_weight=np.r_[np.nan, np.ones(19)]),
               "sample_weight must be finite and ≥ 0; sample_weight[0] (the weight of row 1) is nan"),
    refuse_api("fit-text-weights", lambda: _fit(sample_weight=["a"] * 20), "sample_weight must be numbers"),
    refuse_api("fit-weights-wrong-length", lambda: _fit(sample_weight=np.ones(19)), "sample_weight must have shape (20,)"),
    refuse_api("fit-class-weight-all-zero", lambda: _fit(class_weight={0: 0, 1: 0}),
               "sample_weight × class_weight is zero for every sample"),
    refuse_api("fit-class-weight-zero-for-the-only-class",
               lambda: hg.fit(hg.MLP([3, 2]), X, np.zeros(20, dtype=int), class_weight={0: 0.0, 1: 1.0}),
               "sample_weight × class_weight is zero for every sample"),
    refuse_api("fit-batch-too-big-for-memory",
               lambda: hg.fit(hg.MLP([3, 4000, 4000, 2]), np.zeros((400_000, 3)), np.arange(400_000) % 2,
                              epochs=1, batch_size=400_000),
               "16,028,002 parameters", "activations of 400,000 rows", "smaller batch"),
    accept_api("fit-some-zero-weights-train", lambda: _fit(sample_weight=np.r_[np.zeros(10), np.ones(10)], epochs=2),
               lambda h: np.isfinite(h.epochs[-1]["train_loss"]) and h.epochs[-1]["train_loss"] > 0),
    refuse_api("loss-all-zero-weights", lambda: hg.MLP([3, 2]).loss(X, Y, sample_weight=np.zeros(20)),
               "zero for every sample"),
    refuse_api("sgd-lr-nan", lambda: SGD(lr=float("nan")), "learning rate must be a finite number > 0"),
    refuse_api("adam-beta1-one", lambda: Adam(beta1=1.0), "beta1 must be in [0, 1)"),
    refuse_api("adam-eps-zero", lambda: Adam(eps=0), "eps must be a finite number > 0"),
    refuse_api("api-gradcheck-max-entries-zero", lambda: _gc(max_entries=0), "max_entries must be a whole number ≥ 1"),
    refuse_api("gradcheck-max-entries-fractional", lambda: _gc(max_entries=1.5), "max_entries must be a whole number"),
    refuse_api("gradcheck-h-zero", lambda: _gc(h=0), "h (the finite-difference step) must be a finite number > 0"),
    refuse_api("gradcheck-h-nan", lambda: _gc(h=float("nan")), "h (the finite-difference step)"),
    refuse_api("gradcheck-atol-negative", lambda: _gc(atol=-1), "atol must be a finite number ≥ 0"),
    refuse_api("api-gradcheck-seed-negative", lambda: _gc(seed=-1), "seed must be a whole number ≥ 0"),
    refuse_api("gradcheck-no-parameters", lambda: gradcheck_function(lambda: (0.0, []), []),
               "no parameters to check"),
    accept_api("gradcheck-one-entry-per-parameter", lambda: _gc(max_entries=1),
               lambda r: r.passed and all(c.checked == 1 for c in r.checks)),
    accept_api("memory-estimate-exact",
               lambda: validation.memory_needed([3, 4, 2], 8, batch_rows=10, state_per_param=6),
               lambda got: got == (26, 8 * (6 * 26 + validation.BUFFERS_PER_UNIT * 10 * 9))),
]

CASES = PRINTING + INFO + OPTIONS + API


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, shared_files, tmp_path, capsys):
    run_case(case, shared_files, tmp_path, capsys)


def test_case_ids_are_distinct():
    assert len({c.id for c in CASES}) == len(CASES)
