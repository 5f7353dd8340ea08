"""Round three (issue 24): memory told the truth, the search budget never decides the model,
the Python doors check what the command line checks, and no cap is silent.

Four mechanisms are tried here:

* one memory model (``handgrad.memory_plan``, ``training.footprint``, ``model.plans``) that
  counts every network, optimizer state, copy, batch (clipped to the rows) and fold a run holds
  at once — cross-validation's five networks, the stream's buffer — against the available
  memory and ``ulimit -v`` (RLIMIT_AS), refusing before allocating in one line naming the
  option to change; a ``MemoryError`` that still happens is one line too. The cases marked
  SMALL run on a machine that says it has 500 MB available (TINY: 1 MB); ULIMIT on one whose
  address-space limit leaves 300 MB;
* the search: a run cut by the budget is not scored; with no full run, the default settings
  are trained as without ``--search``, and a warning says so;
* the API doors (``train_classifier``, ``train_regressor``, ``fit``, ``fit_many``) checking
  their arguments as the command line does, and taking object arrays of numbers and sparse
  matrices;
* the caps: folds (or a hold-out run) that ran the whole ``--epochs`` warn, cross-validation
  shows its progress, the chosen epochs are said once.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import handgrad as hg
from handgrad import memory_plan
from handgrad.model.classifier import train_regressor

from .harness import accept, accept_api, in_err, in_out, refuse, refuse_api, run_case

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SMALL, TINY = 500_000_000, 1_000_000
ULIMIT = (300_000_000, 1_000_000_000)  # (left, limit) of the address space


def _reg_csv() -> str:
    """200 rows: three features and a numeric target (a regression by the task rule)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = X @ [1.5, -2.0, 0.5] + 0.1 * rng.normal(size=200) + 10
    return "a,b,c,y\n" + "".join(f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{t:.4f}\n" for r, t in zip(X, y))


def _parquet(n=300, d=4, seed=0):
    def write(path):
        import pandas as pd

        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, d))
        frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(d)])
        frame["y"] = (X[:, 0] + X[:, 1] > 0).astype(int)  # classes 0/1, and a feature beside "r"
        frame["r"] = X @ np.arange(1, d + 1) + rng.normal(size=n) * 0.1
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=100)
    return write


REG = {"reg.csv": _reg_csv()}
PARQ = {"t.parquet": _parquet()}
WIDE = {"wide.parquet": _parquet(n=5000, d=20)}
QUIET = "--no-plot --quiet --out-dir {tmp}/o"


def _json(test):
    """A check on the --json result."""
    def check(out, err, tmp):
        return test(json.loads(out))
    return check


def _said_once(out, err, tmp):
    """The chosen epochs: the final run counts to them (not --epochs), no 'completed' line."""
    chosen = int(re.search(r"chose (\d+) epochs", out).group(1))
    assert f"epoch {chosen:>4}/{chosen}" in err, err[-1500:]
    assert "/200" not in err.split("every fold stopped")[-1], err[-1500:]
    assert "completed" not in out and "stopped after" not in out, out


def _ensemble_said_once(out, err, tmp):
    """The ensemble's kept members' epochs: the first trains alone and counts to its own."""
    epochs = [int(e) for e in re.search(r"epochs ([\d, ]+) \(each the median", out).group(1).split(", ")]
    assert f"epoch {epochs[0]:>4}/{epochs[0]}" in err, err[-1500:]
    assert "completed" not in out and "stopped after" not in out, out


# ---- memory: the real machine (sizes no machine of today holds) ----------------------------

MEMORY = [
    refuse("cv-hidden-30000-counts-five-networks", "train --hidden 30000 30000 " + QUIET,
           "[64, 30000, 30000, 10] has 902,280,010 parameters", "for 5-fold cross-validation, 5 networks "
           "trained at once", "weights and gradients of 5 networks", "is available", "--hidden"),
    refuse("holdout-hidden-30000-counts-adam-and-copies", "train --hidden 30000 30000 --val-fraction 0.1 " + QUIET,
           "[64, 30000, 30000, 10] has 902,280,010 parameters", "Adam's state, epoch-start and best copies",
           "--hidden"),
    # reg_csv's 3 numeric columns reach the network twice (train's default scaling "both"): 6 inputs
    refuse("regression-cv-hidden-huge", "train --data {reg_csv} --target y --hidden 50000 50000 " + QUIET,
           "[6, 50000, 50000, 1]", "for 5-fold cross-validation", "--hidden", files=REG),
    refuse("huber-holdout-hidden-huge", "train --data {reg_csv} --target y --loss huber --val-fraction 0.2 "
           "--hidden 50000 50000 " + QUIET, "[6, 50000, 50000, 1]", "needs about", "--hidden", files=REG),
    accept("cv-batch-size-huge-clipped-to-the-rows", "train --dataset iris --batch-size 1000000000 --epochs 2 --json "
           "--ensemble 1 --no-plot --out-dir {tmp}/o", _json(lambda r: r["selection"]["folds"] == 5)),
    accept("cv-ensemble-batch-size-huge-clipped-to-the-rows", "train --dataset iris --batch-size 1000000000 --epochs 2 "
           "--json --no-plot --out-dir {tmp}/o", _json(lambda r: r["ensemble"]["held_out"].startswith("5-fold"))),
    accept("holdout-batch-size-huge-clipped", "train --batch-size 1000000000 --val-fraction 0.1 --epochs 1 " + QUIET),
    accept("poisson-cv-batch-size-huge-clipped", "train --data {reg_csv} --target y --loss poisson --batch-size "
           "1000000000 --epochs 2 " + QUIET, files=REG),
    accept("stream-buffer-huge-clipped-to-the-rows", "train --data {t_parquet} --target y --stream-buffer "
           "1000000000000 --epochs 2 --no-plot --out-dir {tmp}/o", in_out("buffer 216 rows"), files=PARQ),
    accept("stream-buffer-huge-regression", "train --data {t_parquet} --target r --task regression --stream-buffer "
           "1000000000000 --epochs 2 " + QUIET, files=PARQ),
    accept("stream-buffer-huge-huber-batch-huge", "train --data {t_parquet} --target r --task regression --loss huber "
           "--stream-buffer 1000000000000 --batch-size 1000000000 --epochs 2 " + QUIET, files=PARQ),
    refuse("stream-hidden-huge", "train --data {t_parquet} --target y --stream-buffer 100 --hidden 100000 100000 "
           + QUIET, "to train streamed", "--hidden", files=PARQ),
]

# ---- memory: a machine with 500 MB available (1 MB: TINY) ---------------------------------

ON_SMALL = [
    refuse("small-cv-offers-the-holdout-run", "train --hidden 1500 1500 --epochs 1 " + QUIET,
           "for 5-fold cross-validation", "--hidden", "--val-fraction 0.1): one network, about"),
    accept("small-holdout-run-fits-and-trains", "train --hidden 1500 1500 --val-fraction 0.1 --epochs 1 " + QUIET),
    refuse("small-cv-regression-refused", "train --data {reg_csv} --target y --hidden 2500 2500 --epochs 1 " + QUIET,
           "[6, 2500, 2500, 1]", "for 5-fold cross-validation", files=REG),
    refuse("small-holdout-batch-activations-name-batch-size",
           "train --data {reg_csv} --target y --hidden 400000 --val-fraction 0.1 --batch-size 1000 --epochs 1 "
           + QUIET, "activations of", "a smaller batch (batch_size, --batch-size)", files=REG),
    refuse("small-stream-hidden", "train --data {t_parquet} --target y --stream-buffer 100 --hidden 5000 5000 "
           + QUIET, "to train streamed", "fewer or narrower layers (--hidden)", files=PARQ),
    accept("small-stream-fits", "train --data {t_parquet} --target y --stream-buffer 100 --epochs 2 " + QUIET,
           files=PARQ),
]

ON_TINY = [
    refuse("tiny-search-widest-candidate-before-the-budget", "train --search --budget 60 " + QUIET,
           "[64, 256, 256, 10]", "--drop, --max-categories", "without --search"),
    refuse("tiny-gradcheck-network", "gradcheck --sizes 3 2000 2000 3", "[3, 2000, 2000, 3] has 4,016,003 parameters",
           "initial draws"),
    refuse("tiny-stream-buffer", "train --data {wide_parquet} --target y --stream-buffer 4000 --epochs 1 " + QUIET,
           "a smaller --stream-buffer", files=WIDE),
]

ON_ULIMIT = [
    refuse("ulimit-cv-refused-naming-the-limit", "train --hidden 1500 1500 --epochs 1 " + QUIET,
           "address-space limit (ulimit -v: 1 GB", "for 5-fold cross-validation", "--hidden"),
    accept("ulimit-holdout-fits", "train --hidden 1500 1500 --val-fraction 0.1 --epochs 1 " + QUIET),
    refuse_api("ulimit-fit-api", lambda: hg.fit(hg.MLP([64, 4000, 4000, 10]), np.zeros((100, 64)),
                                                np.arange(100) % 10, epochs=1),
               "[64, 4000, 4000, 10] has 16,304,010 parameters", "ulimit -v", "fewer or narrower layers"),
]

# ---- the search's budget -------------------------------------------------------------------

SEARCH = [
    accept("search-budget-tiny-trains-the-default-normally",
           "train --dataset iris --search --budget 0.001 --json --no-plot --out-dir {tmp}/o",
           _json(lambda r: r["epochs_run"] > 1 and r["test_accuracy"] > 0.8
                 and any("no settings could be compared" in w for w in r["warnings"])
                 and all(row["score"] is None for row in r["search"]["leaderboard"]))),
    accept("search-budget-tiny-warns-even-quiet", "train --dataset iris --search --budget 0.001 " + QUIET,
           in_err("warning: the search's budget (0.001s) ended before any full run finished")),
    accept("search-budget-tiny-regression", "train --data {reg_csv} --target y --search --budget 0.001 --json "
           "--no-plot --out-dir {tmp}/o", _json(lambda r: r["test"]["r2"] > 0.5 and r["warnings"]), files=REG),
    accept("search-budget-cut-run-listed-unscored", "train --dataset iris --search --budget 0.001 --no-plot "
           "--out-dir {tmp}/o", in_err("stopped by the budget after", "not scored")),
]

# ---- the Python doors ----------------------------------------------------------------------

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = np.array(["a", "b", "c"] * 20)
YR = X @ [1.0, 2.0, 3.0]


def _sparse(X):
    import scipy.sparse as sp

    return sp.csr_matrix(X)


def _tc(**kw):
    return hg.train_classifier(X, Y, **{"epochs": 2, **kw})


def _fit(**kw):
    return hg.fit(hg.MLP([3, 4, 3]), X, np.arange(60) % 3, **{"epochs": 1, **kw})


API = [
    refuse_api("api-classifier-seed-negative", lambda: _tc(seed=-1), "seed must be a whole number from 0", "-1"),
    refuse_api("api-regressor-seed-fractional", lambda: train_regressor(X, YR, seed=1.5), "seed must be a whole number"),
    accept_api("api-classifier-sparse-densified", lambda: hg.train_classifier(_sparse(X), Y, epochs=2),
               lambda m: m.predict(X).shape == (60,)),
    accept_api("api-regressor-sparse-densified", lambda: train_regressor(_sparse(X), YR, epochs=2),
               lambda m: m.predict(X).shape == (60,)),
    refuse_api("api-sparse-too-big-to-densify", lambda: hg.train_classifier(
        __import__("scipy.sparse").sparse.csr_matrix((10**6, 10**6)), np.zeros(10**6)),
               "a scipy sparse matrix of 1,000,000 × 1,000,000", "8 TB", "MLPClassifier"),
    accept_api("api-classifier-object-floats", lambda: hg.train_classifier(X.astype(object), Y, epochs=2),
               lambda m: m.n_features == 3),
    accept_api("api-fit-many-object-floats", lambda: hg.fit_many([hg.MLP([3, 4, 3]), hg.MLP([3, 4, 3], seed=1)],
                                                               X.astype(object), np.arange(60) % 3, epochs=1),
               lambda hs: len(hs) == 2),
    refuse_api("api-object-text-named", lambda: hg.fit(
        hg.MLP([3, 4, 3]), np.array([[1.0, "a", 2.0]] * 60, dtype=object), np.arange(60) % 3, epochs=1),
               "row 1, column 2 holds 'a' (str)"),
    refuse_api("api-object-none-is-missing", lambda: hg.train_classifier(
        np.where(X > 1, None, X).astype(object), Y), "holds nan in row"),
    refuse_api("api-hidden-fractional", lambda: _tc(hidden_sizes=[1.5]), "hidden_sizes width must be a whole number"),
    refuse_api("api-hidden-text", lambda: _tc(hidden_sizes="wide"), "hidden_sizes must be 'auto' or a list"),
    accept_api("api-hidden-one-width-one-layer", lambda: _tc(hidden_sizes=8), lambda m: m.net.sizes == [3, 8, 3]),
    refuse_api("api-batch-size-text", lambda: _tc(batch_size="big"), "batch_size must be a whole number"),
    refuse_api("api-validation-fraction-text", lambda: _tc(validation_fraction="half"), "validation_fraction must be a number"),
    refuse_api("api-cv-folds-one", lambda: _tc(cv_folds=1), "cv_folds must be a whole number ≥ 2"),
    refuse_api("api-sample-weight-short", lambda: _tc(sample_weight=np.ones(5)), "sample_weight must have shape (60,)"),
    refuse_api("api-class-weight-number", lambda: _tc(class_weight=5), "class_weight must be a dict"),
    refuse_api("api-classifier-huber-delta-negative", lambda: _tc(huber_delta=-1), "huber_delta must be a finite number > 0"),
    refuse_api("api-classifier-huber-delta", lambda: _tc(huber_delta=2), "huber_delta applies to regression"),
    refuse_api("api-classifier-loss", lambda: _tc(loss="huber"), "loss applies to regression", "train_regressor"),
    refuse_api("api-classifier-task-regression", lambda: _tc(task="regression"), "call train_regressor"),
    refuse_api("api-categorical-on-an-array", lambda: _tc(categorical=["a"]), "categorical names columns of a DataFrame"),
    refuse_api("api-momentum-beside-adam", lambda: _tc(momentum=1.5), "momentum must be in [0, 1)"),
    refuse_api("api-y-length", lambda: hg.train_classifier(X, Y[:50]), "X has 60 rows but y has 50 entries"),
    refuse_api("api-feature-names-count", lambda: _tc(feature_names=["p", "q"]), "feature_names has 2 names for the 3"),
    refuse_api("api-refit-text", lambda: _tc(refit="no"), "refit must be True or False"),
    accept_api("api-patience-zero-is-off", lambda: _tc(patience=0), lambda m: m.record["hyperparameters"]["patience"] is None),
    refuse_api("api-fit-blas-threads-text", lambda: _fit(blas_threads="x"), "blas_threads must be a whole number"),
    refuse_api("api-fit-class-weight-number", lambda: _fit(class_weight=5), "class_weight must be a dict"),
    refuse_api("api-fit-shuffle-text", lambda: _fit(shuffle="no"), "shuffle must be True or False"),
    refuse_api("api-fit-momentum-beside-adam", lambda: _fit(momentum=1.5), "momentum must be in [0, 1)"),
    refuse_api("api-fit-many-not-a-list", lambda: hg.fit_many(5, X, np.arange(60) % 3), "a list of networks"),
]

# ---- caps and progress ---------------------------------------------------------------------

CAPS = [
    accept("cap-every-fold-warns", "train --dataset three_class --hidden 10 6 --epochs 5 " + QUIET,
           in_err("warning: all 5 folds of cross-validation ran the whole 5 epochs", "--epochs 10")),
    accept("cap-holdout-warns", "train --dataset iris --val-fraction 0.2 --epochs 3 --ensemble 1 " + QUIET,
           in_err("warning: training ran the whole 3 epochs")),
    accept("cap-holdout-ensemble-warns", "train --dataset iris --val-fraction 0.2 --epochs 3 " + QUIET,
           in_err("runs of the ensemble's kept members ran the whole 3 epochs")),
    accept("cap-regression-warns", "train --data {reg_csv} --target y --epochs 3 --ensemble 1 " + QUIET,
           in_err("folds of cross-validation ran the whole 3 epochs"), files=REG),
    accept("cap-regression-ensemble-warns", "train --data {reg_csv} --target y --epochs 3 " + QUIET,
           in_err("runs of the ensemble's kept members ran the whole 3 epochs"), files=REG),
    accept("cap-stream-warns", "train --data {t_parquet} --target y --stream-buffer 100 --epochs 2 " + QUIET,
           in_err("warning: training ran the whole 2 epochs"), files=PARQ),
    accept("cap-not-warned-without-early-stopping", "train --dataset iris --val-fraction 0.2 --patience 0 "
           "--epochs 3 " + QUIET, in_err(absent=("warning",))),
    accept("cap-in-json", "train --dataset iris --epochs 3 --json --no-plot --out-dir {tmp}/o",
           _json(lambda r: "ran the whole 3 epochs" in r["warnings"][0])),
    accept("cv-shows-its-progress", "train --dataset iris --ensemble 1 --no-plot --out-dir {tmp}/o",
           in_err("5-fold cross-validation: epoch    1/200", "5-fold cross-validation: epoch   10/200")),
    accept("cv-ensemble-shows-its-progress", "train --dataset iris --no-plot --out-dir {tmp}/o",
           in_err("8 members × 5 folds: epoch    1/200", "8 members × 5 folds: epoch   10/200")),
    accept("chosen-epochs-said-once", "train --ensemble 1 --no-plot --out-dir {tmp}/o", _said_once),
    accept("ensemble-chosen-epochs-said-once", "train --no-plot --out-dir {tmp}/o", _ensemble_said_once),
    accept("refit-epochs-said-once", "train --dataset wine --refit --no-plot --out-dir {tmp}/o",
           in_out("epochs on all rows (--refit: the best epoch on the", absent=("completed", "stopped after"))),
]

CASES = MEMORY + SEARCH + API + CAPS
ALL = CASES + ON_SMALL + ON_TINY + ON_ULIMIT


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, shared_files, tmp_path, capsys):
    run_case(case, shared_files, tmp_path, capsys)


@pytest.mark.parametrize("case", ON_SMALL + ON_TINY, ids=[c.id for c in ON_SMALL + ON_TINY])
def test_case_on_a_small_machine(case, shared_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory_plan, "available_memory", lambda: TINY if case in ON_TINY else SMALL)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: None)
    run_case(case, shared_files, tmp_path, capsys)


@pytest.mark.parametrize("case", ON_ULIMIT, ids=[c.id for c in ON_ULIMIT])
def test_case_under_an_address_space_limit(case, shared_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory_plan, "available_memory", lambda: 64 * 10**9)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: ULIMIT)
    run_case(case, shared_files, tmp_path, capsys)


def test_case_ids_are_distinct():
    assert len({c.id for c in ALL}) == len(ALL)
