"""Choosing what the data cannot say by itself: k-fold cross-validation of the epochs on small
data (the default), the batch size that grows with the data, and ``train --search``."""

import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from handgrad.errors import InputError
from handgrad.model import crossval
from handgrad.model.classifier import auto_batch_size, train_classifier
from handgrad.model.crossval import cross_validate
from handgrad.model.search import RUNGS, candidates, search_classifier
from handgrad.training.splits import stratified_folds


def problem(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=n) > 0.3, "yes", "no")
    return X, y


def test_stratified_folds_hold_out_every_row_once_with_each_class_spread():
    y = np.array([0] * 50 + [1] * 23 + [2] * 3)
    folds = stratified_folds(y, 5, seed=4)
    held = np.concatenate([h for _, h in folds])
    assert np.array_equal(np.sort(held), np.arange(len(y)))
    for keep, h in folds:
        assert np.intersect1d(keep, h).size == 0 and keep.size + h.size == len(y)
        assert np.bincount(y[h], minlength=3)[0] == 10            # 50 / 5
        assert np.bincount(y[h], minlength=3)[1] in (4, 5)        # 23 / 5
    # a class of 3 rows lands in 3 different folds
    assert sum(np.any(y[h] == 2) for _, h in folds) == 3
    assert [h.tolist() for _, h in folds] == [h.tolist() for _, h in stratified_folds(y, 5, seed=4)]
    with pytest.raises(InputError, match="folds"):
        stratified_folds(y[:3], 5)


def test_auto_batch_size_grows_with_the_data():
    assert [auto_batch_size(n) for n in (100, 4000, 10000, 20000, 43000, 10**7)] == [32, 32, 64, 128, 256, 256]


def test_small_data_default_cross_validates_the_epochs_then_trains_on_every_row():
    X, y = problem()
    model = train_classifier(X, y, seed=3, dtype="float64")
    sel = model.record["selection"]
    assert sel["method"] == "5-fold cross-validation" and len(sel["best_epochs"]) == 5
    assert sel["epochs"] == int(np.ceil(np.median(sel["best_epochs"])))
    # the final model saw every row, for exactly the chosen epochs, with no validation part
    assert model.record["n_train"] == len(y) and model.record["n_val"] == 0
    assert len(model.record["history"]["epochs"]) == sel["epochs"]
    # the same as cross_validate called by hand, and reproducible
    again = cross_validate(X, y, 5, seed=3, dtype="float64", batch_size=32, hidden_sizes=[64])
    assert again["best_epochs"] == sel["best_epochs"]
    assert np.allclose(model.net.flat, train_classifier(X, y, seed=3, dtype="float64").net.flat)


def test_the_default_switches_to_a_hold_out_part_at_cv_below(monkeypatch):
    X, y = problem(n=120)
    monkeypatch.setattr(crossval, "CV_BELOW", 100)  # the rule lives there (cross_validates)
    model = train_classifier(X, y, seed=0, epochs=5)
    assert "selection" not in model.record and model.record["n_val"] == 12
    assert model.record["history"]["monitor"] == "val_accuracy"  # a large hold-out part: accuracy
    monkeypatch.setattr(crossval, "CV_BELOW", 5000)
    assert "selection" in train_classifier(X, y, seed=0, epochs=5).record
    # a number, X_val, no early stopping or checkpoints: no cross-validation
    assert "selection" not in train_classifier(X, y, validation_fraction=0.2, epochs=5).record
    assert "selection" not in train_classifier(X, y, patience=None, epochs=5).record


def test_cross_validation_knows_a_class_some_folds_lack():
    X, y = problem(n=100)
    y = y.astype(object)
    y[:2] = "rare"  # 2 rows: three folds train without the class or hold none of it out
    model = train_classifier(X, y, seed=0, epochs=5)
    assert list(model.classes) == ["no", "rare", "yes"]


def test_candidates_start_with_the_default_and_a_linear_model_and_are_distinct():
    pool = candidates(n_inputs=10, n_rows=1000, count=27, seed=0)
    assert len(pool) == 27 and len({repr(c) for c in pool}) == 27
    assert pool[0] == {"hidden_sizes": [64], "activation": "relu", "lr": 1e-3, "l2": 1e-4, "batch_size": 32}
    assert pool[1]["hidden_sizes"] == []
    assert pool == candidates(10, 1000, 27, seed=0) and pool != candidates(10, 1000, 27, seed=1)


def test_search_halves_by_rung_and_trains_the_winner_on_every_row():
    X, y = problem()
    seen = []
    model = search_classifier(X, y, budget=60, count=9, seed=1, on_result=seen.append, dtype="float64")
    s = model.record["search"]
    board = s["leaderboard"]
    brackets = sorted({r["bracket"] for r in board})
    assert brackets == list(range(len(brackets))) and len(brackets) >= 1
    for b in brackets:  # every bracket that ran to its end: 9 → 3 → 1, plus the default in the first
        counts = [sum(r["rung"] == k and r["bracket"] == b for r in board) for k in range(len(RUNGS))]
        assert counts == [9, 3, 1] or (b == 0 and counts in ([9, 4, 2], [9, 3, 2]))
        if b == 0:  # the default (candidate 0) always reaches the full run
            assert any(r["candidate"] == 0 and r["rung"] == len(RUNGS) - 1 for r in board)
    assert len(seen) == s["runs"] == len(board)
    assert len({repr({k: r[k] for k in ("hidden_sizes", "activation", "lr", "l2", "batch_size")})
                for r in board if r["rung"] == 0}) == 9 * len(brackets)
    for k, (epochs, _) in enumerate(RUNGS):
        assert all(r["max_epochs"] == epochs and r["epochs"] <= epochs for r in board if r["rung"] == k)
    # the survivors of a rung are its best third, by validation loss
    rung0 = sorted((r for r in board if r["rung"] == 0 and r["bracket"] == 0), key=lambda r: r["score"])
    assert {r["candidate"] for r in board if r["rung"] == 1 and r["bracket"] == 0} - {0} == \
        {r["candidate"] for r in rung0[:3]} - {0}
    full = [r for r in board if r["rung"] == 2]
    winner = next(r for r in full if all(r[k] == s["winner"][k] for k in s["winner"]))
    assert winner is board[0] or (winner["candidate"] == 0 and "within two standard errors" in s["chosen_because"])
    assert model.net.sizes == [4, *winner["hidden_sizes"], 2]
    assert model.record["n_train"] == len(y) and len(model.record["history"]["epochs"]) == winner["epochs"]
    assert s["validation"] == "5-fold cross-validation"


def test_search_keeps_to_its_budget():
    X, y = problem(n=3000)
    t0 = time.monotonic()
    plain = train_classifier(X, y, seed=0)
    alone = time.monotonic() - t0
    t0 = time.monotonic()
    model = search_classifier(X, y, budget=2.0, seed=0)
    s = model.record["search"]
    # the budget binds: not every candidate reached the first rung's end; the run the budget
    # cuts stops at its next epoch's end, and the final training comes after — at most what
    # training without --search costs (the default, when no full run finished)
    assert s["runs"] < 27 and s["seconds"] < 2.0 + 1.5
    assert {r["bracket"] for r in s["leaderboard"]} == {0}
    assert time.monotonic() - t0 < 2.0 + 1.5 + 2 * alone + 2
    assert model.record["n_train"] == 3000
    if not any(r["rung"] == len(RUNGS) - 1 and not r["stopped_by_budget"] for r in s["leaderboard"]):
        assert np.array_equal(model.net.flat, plain.net.flat)  # the default, trained as without --search


def test_a_budget_spent_before_any_full_run_trains_the_default_as_without_search():
    X, y = problem()
    model = search_classifier(X, y, budget=0.001, seed=0)
    s = model.record["search"]
    # the one run the budget cut is listed, not scored; nothing was compared
    assert [(r["stopped_by_budget"], r["score"], r["epochs"]) for r in s["leaderboard"]] == [(True, None, None)]
    plain = train_classifier(X, y, seed=0)
    assert np.array_equal(model.net.flat, plain.net.flat)
    assert model.record["selection"]["epochs"] == plain.record["selection"]["epochs"] > 1
    assert "no settings could be compared" in model.record["warnings"][-1]
    assert s["chosen_because"].startswith("no full run finished within the budget")


def test_a_run_cut_by_the_budget_is_listed_last_and_never_scored(monkeypatch):
    from handgrad.model import search

    made = []

    class CutThird(search._Deadline):  # the third run is cut at its first epoch; the clock is not
        def __init__(self, at):
            super().__init__(at)
            made.append(self)
            self.n = len(made)

        def on_epoch_end(self, record, net):
            if self.n == 3:
                self.hit = True
                raise search.BudgetSpent
            return False

    monkeypatch.setattr(search, "_Deadline", CutThird)
    monkeypatch.setattr(search, "BRACKETS", 1)
    seen = []
    model = search_classifier(*problem(), budget=600, count=6, seed=0, on_result=seen.append)
    board = model.record["search"]["leaderboard"]
    cut = [r for r in board if r["stopped_by_budget"]]
    assert len(cut) == 1 and cut[0]["score"] is None and cut[0]["rank"] == len(board)
    assert seen[2]["stopped_by_budget"] and len(seen) > 3  # the search went on to the next rungs
    # the rung the cut ended kept its two scored runs: the best of them and the default go on
    assert {r["candidate"] for r in board if r["rung"] == 1} <= {0, seen[0]["candidate"], seen[1]["candidate"]}
    winner = model.record["search"]["winner"]
    assert any(r["rung"] == len(RUNGS) - 1 and all(r[k] == winner[k] for k in winner) for r in board)


def test_search_on_a_table_with_text_columns_and_missing_cells():
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n),
                          "size": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))})
    y = np.where((frame.colour == "red") | (frame["size"] > 1), "a", "b")
    model = search_classifier(frame, y, budget=30, count=4, seed=0)
    new = pd.DataFrame({"colour": ["red", "purple"], "size": [np.nan, 0.0]})
    assert model.predict(new)[0] == "a" and model.predict(new).shape == (2,)


def run_cli(*args):
    done = subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout, done.stderr


def test_cli_search_prints_a_leaderboard_and_refuses_what_it_chooses(tmp_path):
    X, y = problem(n=150)
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": y}).to_csv(path, index=False)
    code, out, err = run_cli("train", "--data", str(path), "--target", "label", "--search",
                             "--budget", "20", "--no-plot", "--out-dir", str(tmp_path / "o"), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["search"]["leaderboard"][0]["rank"] == 1 and result["search"]["runs"] >= 3
    assert "rung 1/3" not in err  # --json is quiet
    code, out, err = run_cli("train", "--data", str(path), "--target", "label", "--search",
                             "--no-plot", "--out-dir", str(tmp_path / "o"))
    assert code == 0 and "search:" in out and "rank" in out and "rung 1/3" in err
    for flags in (["--hidden", "8"], ["--lr", "0.1"], ["--budget", "0"]):
        code, out, err = run_cli("train", "--data", str(path), "--target", "label", "--search", *flags,
                                 "--no-plot", "--out-dir", str(tmp_path / "o"))
        assert code == 2 and err.strip().count("\n") == 0 and "Traceback" not in err, err
        assert "--search" in err or "--budget" in err, err


def test_two_standard_errors_rule_keeps_the_default_unless_the_gain_is_clear():
    from handgrad.model.search import _two_standard_errors

    default = {"candidate": 0, "rung": 2, "score": 0.50, "fold_scores": [0.50, 0.45, 0.55, 0.48, 0.52],
               **{k: 1 for k in ("hidden_sizes", "activation", "lr", "l2", "batch_size")}}
    noisy = {**default, "candidate": 7, "score": 0.49, "fold_scores": [0.44, 0.47, 0.53, 0.46, 0.55]}
    clear = {**default, "candidate": 8, "score": 0.45, "fold_scores": [0.45, 0.40, 0.50, 0.43, 0.47]}
    chosen, why = _two_standard_errors(noisy, [default, noisy], larger_better=False)
    assert chosen is default and "within two standard errors" in why
    chosen, why = _two_standard_errors(clear, [default, clear], larger_better=False)
    assert chosen is clear and "more than two standard errors" in why
    # a score (larger is better) the same way round
    up = lambda r: {**r, "fold_scores": [-v for v in r["fold_scores"]]}
    chosen, _ = _two_standard_errors(up(clear), [up(default), up(clear)], larger_better=True)
    assert chosen["candidate"] == 8


def test_the_folds_mean_curve_covers_the_epochs_every_fold_ran_and_is_plotted_beside_the_final_run():
    from handgrad.cli.draw import with_fold_curve

    X, y = problem()
    sel = train_classifier(X, y, seed=1).record["selection"]
    curve = sel["curve"]
    assert 0 < len(curve) <= min(sel["best_epochs"]) + 20  # the shortest fold: its best + patience
    assert [c["epoch"] for c in curve] == list(range(1, len(curve) + 1))
    assert all(np.isfinite(c["val_loss"]) and 0 <= c["val_accuracy"] <= 1 for c in curve)
    final = [{"epoch": e, "train_loss": 1.0 / e} for e in range(1, 4)]
    merged = with_fold_curve(final, [{"epoch": e, "val_loss": 2.0, "val_accuracy": 0.5} for e in range(1, 6)])
    assert len(merged) == 5 and merged[0]["train_loss"] == 1.0 and merged[4] == {"epoch": 5, "val_loss": 2.0,
                                                                                 "val_accuracy": 0.5}


def test_folds_trained_together_equal_folds_trained_one_by_one(monkeypatch):
    """cross_validate trains the folds together with fit_many — here a rare category makes one
    fold's table a column narrower, and that fold is widened with a zero column and zero
    weights — and the folds' histories, and so the chosen epochs, equal training each alone."""
    rng = np.random.default_rng(4)
    n = 300
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "c": rng.choice(["x", "y", "z"], size=n)})
    frame.loc[:0, "c"] = "rare"  # one row: the fold holding it out has a column fewer
    y = np.where(frame["a"] + (frame["c"] == "x") + 0.5 * rng.normal(size=n) > 0.2, "yes", "no")
    calls = []
    real = crossval.fit_many
    monkeypatch.setattr(crossval, "fit_many", lambda nets, *a, **k: calls.append(len(nets)) or real(nets, *a, **k))
    options = dict(seed=1, dtype="float64", batch_size=32, hidden_sizes=[16], epochs=150,
                   patience=5, lr=1e-2)
    together = cross_validate(frame, y, 5, **options)
    assert calls == [5]  # the narrower fold too
    assert len(set(together["best_epochs"])) >= 3  # they stopped at different epochs
    monkeypatch.setattr(crossval, "_MANY_ARGS", set())  # every fold alone
    alone = cross_validate(frame, y, 5, **options)
    assert together["best_epochs"] == alone["best_epochs"]
    assert np.allclose(together["fold_scores"], alone["fold_scores"], rtol=1e-12, atol=0)
    assert np.allclose([c["val_loss"] for c in together["curve"]], [c["val_loss"] for c in alone["curve"]],
                       rtol=1e-12, atol=0)
