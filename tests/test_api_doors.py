"""The Python doors check what the command line checks and take what is reasonable: an object
array of numbers is the same numbers, a sparse matrix the same dense matrix (when it fits),
train_classifier's arguments are refused at the door before any fold is split, and the caps
and progress of cross-validation are reported."""

from __future__ import annotations

import decimal

import numpy as np
import pytest
import scipy.sparse as sp

import handgrad as hg
from handgrad import memory_plan
from handgrad.arrays import dense, numbers_of_objects
from handgrad.validation import check_flag, check_matrix

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 4))
Y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")


def test_an_object_array_of_numbers_is_those_numbers():
    obj = np.empty((3, 3), dtype=object)
    obj[:] = [[1, 2.5, np.float32(3)], [True, decimal.Decimal("0.1"), np.int64(-4)], [None, 0, 1e300]]
    got = numbers_of_objects(obj)
    assert got.dtype == np.float64 and np.isnan(got[2, 0])
    assert np.array_equal(got[:2], [[1, 2.5, 3], [1, 0.1, -4]]) and got[2, 2] == 1e300
    with pytest.raises(hg.InputError, match=r"row 2, column 3 holds '7' \(str\)"):
        numbers_of_objects(np.array([[1, 2, 3], [4, 5, "7"]], dtype=object))
    with pytest.raises(hg.InputError, match="float64 cannot represent"):
        numbers_of_objects(np.array([[10**400]], dtype=object))


def test_models_trained_on_objects_or_sparse_equal_those_trained_on_floats():
    plain = hg.train_classifier(X, Y, epochs=5, seed=3)
    for same in (X.astype(object), sp.csr_matrix(X), sp.csc_matrix(X)):
        model = hg.train_classifier(same, Y, epochs=5, seed=3)
        assert np.array_equal(model.net.flat, plain.net.flat)
        assert np.array_equal(model.predict_proba(same), plain.predict_proba(X))


def test_a_sparse_matrix_too_large_to_densify_is_refused_with_its_size(monkeypatch):
    monkeypatch.setattr(memory_plan, "available_memory", lambda: 10_000)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: None)
    small = sp.random(100, 20, density=0.1, format="csr", random_state=0)
    with pytest.raises(hg.InputError, match=r"a scipy sparse matrix of 100 × 20, made dense needs about "
                                            r"16 kB of memory .*MLPClassifier or MLPRegressor"):
        check_matrix(small)
    monkeypatch.setattr(memory_plan, "available_memory", lambda: 16_000)
    assert np.array_equal(dense(small), small.toarray())


def test_flags_are_booleans_not_any_truthy_value():
    assert check_flag(np.bool_(True), "f") is True and check_flag(0, "f") is False
    for bad in ("no", "False", 2, None, 1.0):
        with pytest.raises(hg.InputError, match="f must be True or False"):
            check_flag(bad, "f")


@pytest.mark.parametrize("kw, fragment", [
    (dict(seed=-1), "seed must be a whole number from 0"),
    (dict(hidden_sizes=[8, 0]), "hidden_sizes width must be a whole number ≥ 1, got 0"),
    (dict(batch_size=0), "batch_size must be a whole number ≥ 1"),
    (dict(validation_fraction=1.0), "validation_fraction must be in [0, 1)"),
    (dict(cv_folds="5"), "cv_folds must be a whole number ≥ 2"),
    (dict(sample_weight=np.ones(79)), "sample_weight must have shape (80,)"),
    (dict(target_transform="log"), "target_transform applies to regression"),
    (dict(class_weight=[1, 2]), "class_weight must be a dict"),
    (dict(epochs=0), "epochs must be a whole number ≥ 1"),
])
def test_train_classifier_refuses_before_splitting(kw, fragment, monkeypatch):
    from handgrad.training import splits

    split = []
    monkeypatch.setattr(splits, "stratified_folds", lambda *a, **k: split.append(a))
    with pytest.raises(hg.InputError) as info:
        hg.train_classifier(X, Y, **kw)
    assert fragment in str(info.value) and "\n" not in str(info.value) and not split


def test_nan_is_named_by_its_row_in_x_not_in_a_fold():
    bad = X.copy()
    bad[57, 2] = np.nan
    # counted from 1 as every message counts (X[57, 2] is row 58, column 3)
    with pytest.raises(hg.InputError, match=r"X holds nan in row 58, column 3"):
        hg.train_classifier(bad, Y)


def test_folds_at_the_cap_are_counted_warned_and_the_folds_progress_told():
    told = []

    class Watch:
        def on_fold_epoch(self, epoch, epochs, folds, running):
            told.append((epoch, epochs, folds, running))

        def on_epoch_end(self, record, net):
            pass

    model = hg.train_classifier(X, Y, epochs=4, callbacks=[Watch()])
    chosen = model.record["selection"]
    assert chosen["capped"] == 5 and chosen["max_epochs"] == 4 and chosen["epochs"] == 4
    assert model.record["warnings"] == [
        "all 5 folds of cross-validation ran the whole 4 epochs (epochs, --epochs) without stopping early, "
        "so the 4 epochs chosen may be too few and the model undertrained; allow more (e.g. --epochs 8)"]
    assert [t[0] for t in told] == [1, 2, 3, 4] and {t[1:3] for t in told} == {(4, 5)} and told[-1][3] == 0
    stopped = hg.train_classifier(X, Y, epochs=400, patience=3)
    assert stopped.record["selection"]["capped"] == 0 and "warnings" not in stopped.record
    from handgrad.model.crossval import capped_warning

    # a minority of folds at the cap leaves the median a measurement: noted, not warned of
    assert capped_warning(2, 5, 200, 150) is None and capped_warning(3, 5, 200, 200).startswith("3 of the 5")
