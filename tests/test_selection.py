"""Model selection the user controls: the metric early stopping watches, and refitting on every
row with the number of epochs chosen on the validation part."""

import numpy as np
import pytest

import handgrad as hg
from handgrad.errors import InputError
from handgrad.training.evaluation import class_metrics


def problem(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0.8).astype(int) + (X[:, 1] > 1.0)
    return X, y


@pytest.mark.parametrize("monitor", ["val_accuracy", "val_balanced_accuracy", "val_macro_f1"])
def test_scores_are_maximised_and_the_best_epoch_restored(monitor):
    X, y = problem()
    net = hg.MLP([5, 16, 3], seed=0, dtype="float64")
    hist = hg.fit(net, X, y, epochs=30, batch_size=16, validation_fraction=0.3, patience=30,
                  monitor=monitor, seed=1, lr=3e-3)
    values = hist[monitor]
    assert hist.monitor == monitor and hist.best_epoch == int(np.argmax(values)) + 1
    # the restored weights score the best value again on the same validation rows
    from handgrad.training.splits import stratified_split
    keep, held = stratified_split(y, 0.3, 1)
    logits = net.forward(X[held])
    got = {"val_accuracy": float(np.mean(logits.argmax(1) == y[held])),
           **{f"val_{k}": v for k, v in class_metrics(net, logits, y[held]).items()}}[monitor]
    assert got == pytest.approx(max(values), abs=1e-12)


def test_class_metrics_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 200)
    logits = rng.normal(size=(200, 4)) + 2 * np.eye(4)[y] * rng.uniform(size=(200, 1))
    net = hg.MLP([2, 4])
    m = class_metrics(net, logits, y)
    pred = logits.argmax(1)
    assert m["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred), abs=1e-12)
    assert m["macro_f1"] == pytest.approx(sk.f1_score(y, pred, average="macro"), abs=1e-12)


def test_monitor_is_checked():
    X, y = problem(60)
    with pytest.raises(InputError, match="monitor must be one of"):
        hg.fit(hg.MLP([5, 3]), X, y, monitor="val_auc", validation_fraction=0.2)
    with pytest.raises(InputError, match="needs a validation set"):
        hg.fit(hg.MLP([5, 3]), X, y, monitor="val_accuracy")


def test_refit_trains_the_chosen_epochs_on_every_row():
    X, y = problem()
    chosen = hg.train_classifier(X, y, hidden_sizes=[8], epochs=40, patience=5, seed=0)
    model = hg.train_classifier(X, y, hidden_sizes=[8], epochs=40, patience=5, seed=0, refit=True)
    best = chosen.record["history"]["best_epoch"]
    assert model.record["refit"]["epochs"] == best and model.record["refit"]["chosen_on_n_val"] > 0
    assert model.record["n_val"] == 0 and model.record["n_train"] == len(y)
    assert len(model.record["history"]["epochs"]) == best
    with pytest.raises(InputError, match="needs a validation part"):
        hg.train_classifier(X, y, hidden_sizes=[8], epochs=3, validation_fraction=0, refit=True)
