"""The estimators' fits trained together (handgrad.sklearn._stacked.fit_together) equal each
fit alone, and handgrad.sklearn.GridSearchCV / RandomizedSearchCV, which train a search's
fits that way, give scikit-learn's search results over the same estimator."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")
from sklearn import model_selection  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import handgrad.sklearn._search as search_module  # noqa: E402
from handgrad.sklearn import GridSearchCV, MLPClassifier, MLPRegressor, RandomizedSearchCV  # noqa: E402
from handgrad.sklearn._stacked import fit_together  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _data(kind, n=None):
    loader = load_breast_cancer if kind == "binary" else load_digits
    X, y = loader(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    if kind == "multilabel":
        y = np.stack([y % 2, (y > 4).astype(int), (y % 3 == 0).astype(int)], axis=1)
    return (X, y) if n is None else (X[:n], y[:n])


def _assert_same_fit(together, alone, rtol=1e-12):
    for a, b in zip(together.coefs_ + together.intercepts_, alone.coefs_ + alone.intercepts_):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    assert together.n_iter_ == alone.n_iter_ and together.t_ == alone.t_
    np.testing.assert_allclose(together.loss_curve_, alone.loss_curve_, rtol=rtol)
    if alone.validation_scores_ is not None:
        assert together.validation_scores_ == pytest.approx(alone.validation_scores_, rel=rtol)
        assert together.best_validation_score_ == pytest.approx(alone.best_validation_score_, rel=rtol)
    else:
        assert together.best_loss_ == pytest.approx(alone.best_loss_, rel=rtol)
    assert [r["epoch"] for r in together.history_] == [r["epoch"] for r in alone.history_]


def _together_and_alone(estimators, data, workers=1):
    errors = fit_together(estimators, data, workers)
    alone = []
    for est, d in zip(estimators, data):
        fresh = clone(est)
        try:
            fresh.fit(d[0], d[1], sample_weight=d[2] if len(d) > 2 else None)
            alone.append(fresh)
        except ValueError as exc:
            alone.append(exc)
    return errors, alone


CONFIGS = [  # solver, early stopping, learning-rate schedule
    ("adam", False, "constant"), ("adam", True, "constant"), ("sgd", False, "adaptive"),
    ("sgd", True, "invscaling"), ("sgd", False, "constant"),
]


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("solver, early, schedule", CONFIGS)
def test_fits_together_equal_each_fit_alone(kind, solver, early, schedule):
    X, y = _data(kind, 700)
    base = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=25, solver=solver, early_stopping=early,
                         learning_rate=schedule, batch_size=64, n_iter_no_change=2, tol=1e-2)
    settings = [(1e-3, 1e-4), (1e-2, 1e-2), (3e-3, 0.0), (2e-2, 1.0), (1e-3, 1e-4)]
    ests = [clone(base).set_params(learning_rate_init=lr, alpha=a, random_state=k)
            for k, (lr, a) in enumerate(settings)]
    # different rows each, so the last batches and epochs' batch counts differ
    data = [(X[k * 7:], y[k * 7:]) for k in range(len(ests))]
    errors, alone = _together_and_alone(ests, data)
    assert errors == [None] * len(ests)
    stops = set()
    for est, ref in zip(ests, alone):
        _assert_same_fit(est, ref)
        stops.add(est.n_iter_)
        np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    if early:
        assert len(stops) > 1  # they stopped at different epochs and left the stack one by one


def test_class_weights_sample_weights_and_batches_that_weigh_nothing():
    X, y = _data("multiclass", 400)
    sw = np.ones(len(y))
    sw[:64] = 0.0  # unshuffled: the first batch weighs nothing and is skipped, as alone
    base = MLPClassifier(hidden_layer_sizes=(12,), max_iter=6, batch_size=64, shuffle=False)
    ests = [clone(base).set_params(random_state=0, class_weight="balanced"),
            clone(base).set_params(random_state=1), clone(base).set_params(random_state=2, alpha=0.1)]
    data = [(X, y), (X, y, sw), (X[5:], y[5:], np.linspace(0.1, 2.0, len(y) - 5))]
    errors, alone = _together_and_alone(ests, data)
    assert errors == [None] * 3
    for est, ref in zip(ests, alone):
        _assert_same_fit(est, ref)


def test_float32_together_stays_float32_and_close():
    X, y = _data("multiclass", 500)
    ests = [MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=k) for k in range(3)]
    data = [(X.astype(np.float32), y)] * 3
    errors, alone = _together_and_alone(ests, data)
    for est, ref in zip(ests, alone):
        assert est.coefs_[0].dtype == np.float32
        _assert_same_fit(est, ref, rtol=2e-4)


def test_workers_give_the_results_of_one_process():
    X, y = _data("multiclass", 600)
    ests = [MLPClassifier(hidden_layer_sizes=(16,), max_iter=6, random_state=k, alpha=10.0 ** -k)
            for k in range(4)]
    twins = [clone(e) for e in ests]
    assert fit_together(ests, [(X, y)] * 4, workers=2) == [None] * 4
    assert fit_together(twins, [(X, y)] * 4, workers=1) == [None] * 4
    for a, b in zip(ests, twins):
        _assert_same_fit(a, b)
        assert a.predict_proba(X[:5]).shape == (5, 10)  # usable after the trip between processes


def test_a_diverging_fit_fails_as_alone_and_the_others_do_not_notice():
    X, y = _data("multiclass", 400)
    ests = [MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, solver="sgd", random_state=0,
                          learning_rate_init=lr, momentum=0.0) for lr in (1e-3, 1e3)]
    data = [(X, y), (X * 1e150, y)]  # the second overflows to inf and NaN within its first epochs
    errors, alone = _together_and_alone(ests, data)
    assert errors[0] is None and isinstance(alone[1], ValueError)
    assert isinstance(errors[1], ValueError) and str(errors[1]) == str(alone[1])
    _assert_same_fit(ests[0], alone[0])


def test_fits_that_cannot_stack_train_alone_inside():
    X, y = _data("multiclass", 300)
    ests = [MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=1),
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=2, solver="lbfgs"),
            MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=3)]
    data = [(X, y), (sp.csr_matrix(X), y), (X, y), (X, y.astype(float))]
    errors, alone = _together_and_alone(ests, data)
    assert errors == [None] * 4
    for est, ref in zip(ests, alone):
        for a, b in zip(est.coefs_, ref.coefs_):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _spy(monkeypatch):
    fits = []

    def counting(estimators, data, workers=1):
        fits.append(len(estimators))
        return fit_together(estimators, data, workers)

    monkeypatch.setattr(search_module, "fit_together", counting)
    return fits


def _same_search(a, b):
    for key in b.cv_results_:
        if key.endswith("_score") and not key.startswith("rank") or key == "params":
            assert np.array_equal(np.asarray(a.cv_results_[key]), np.asarray(b.cv_results_[key]), equal_nan=True) \
                if key != "params" else a.cv_results_[key] == b.cv_results_[key], key
    assert a.best_params_ == b.best_params_
    best_a = a.best_estimator_.steps[-1][1] if hasattr(a.best_estimator_, "steps") else a.best_estimator_
    best_b = b.best_estimator_.steps[-1][1] if hasattr(b.best_estimator_, "steps") else b.best_estimator_
    for x, z in zip(getattr(best_a, "coefs_", [getattr(best_a, "coef_", None)]),
                    getattr(best_b, "coefs_", [getattr(best_b, "coef_", None)])):
        np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("pipeline", [False, True])
def test_grid_search_gives_scikit_learns_results_with_the_fits_done_at_once(monkeypatch, kind, pipeline):
    X, y = _data(kind, 500)
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=15, batch_size=32, random_state=0)
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2], "hidden_layer_sizes": [(8,), (16,)]}
    if pipeline:
        est = make_pipeline(StandardScaler(), est)
        grid = {f"mlpclassifier__{k}": v for k, v in grid.items()}
    fits = _spy(monkeypatch)
    import handgrad.sklearn._base as base

    found, take = [], base.take
    monkeypatch.setattr(base, "take", lambda est, X, y: found.append(take(est, X, y)) or found[-1])
    ours = GridSearchCV(est, grid, cv=3, return_train_score=True).fit(X, y)
    assert fits == [8 * 3]  # every candidate and split, in one round
    # scikit-learn's round found every one of them done (not trained again); the refit trains
    assert sum(f is not None for f in found) == 8 * 3 and found[-1] is None
    reference = model_selection.GridSearchCV(est, grid, cv=3, return_train_score=True).fit(X, y)
    _same_search(ours, reference)


def test_randomized_search_and_workers(monkeypatch):
    X, y = _data("multiclass", 400)
    est = MLPClassifier(hidden_layer_sizes=(12,), max_iter=10, random_state=0, early_stopping=True)
    dist = {"alpha": [1e-5, 1e-3, 1e-1], "learning_rate_init": [1e-3, 3e-3, 1e-2], "random_state": [0, 1]}
    fits = _spy(monkeypatch)
    ours = RandomizedSearchCV(est, dist, n_iter=5, cv=KFold(4, shuffle=True, random_state=3),
                              random_state=0, n_jobs=2).fit(X, y)
    assert fits == [5 * 4] and ours.n_jobs == 2
    reference = model_selection.RandomizedSearchCV(est, dist, n_iter=5, cv=KFold(4, shuffle=True, random_state=3),
                                                   random_state=0).fit(X, y)
    _same_search(ours, reference)


def test_failing_candidates_score_as_in_scikit_learn(monkeypatch):
    X, y = _data("multiclass", 200)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, early_stopping=True)
    grid = {"validation_fraction": [0.001, 0.2]}  # the first leaves too few rows to validate on
    ours = GridSearchCV(est, grid, cv=3, error_score=np.nan).fit(X, y)
    reference = model_selection.GridSearchCV(est, grid, cv=3, error_score=np.nan).fit(X, y)
    assert np.isnan(ours.cv_results_["mean_test_score"][0])
    _same_search(ours, reference)


def test_searches_it_cannot_repeat_are_scikit_learns_own(monkeypatch):
    X, y = _data("multiclass", 300)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    grid = {"alpha": [1e-4, 1e-2]}
    fits = _spy(monkeypatch)
    GridSearchCV(est, grid, cv=KFold(3, shuffle=True)).fit(X, y)  # splits drawn anew each time
    GridSearchCV(est, grid, cv=3).fit(X, y, sample_weight=np.ones(len(y)))  # a fit parameter
    assert fits == []
    fits.clear()
    ours = GridSearchCV(MLPClassifier(solver="lbfgs", max_iter=5, random_state=0), grid, cv=3).fit(X, y)
    reference = model_selection.GridSearchCV(MLPClassifier(solver="lbfgs", max_iter=5, random_state=0),
                                             grid, cv=3).fit(X, y)
    _same_search(ours, reference)


def test_stacks_of_bounded_rows_give_the_same_fits(monkeypatch):
    import handgrad.sklearn._stacked as stacked

    X, y = _data("multiclass", 400)
    ests = [MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, batch_size=32, random_state=k,
                          early_stopping=k % 2 == 1) for k in range(5)]
    twins = [clone(e) for e in ests]
    monkeypatch.setattr(stacked, "STACK_ROWS", 64)  # two models per stack: three stacks
    assert fit_together(ests, [(X, y)] * 5) == [None] * 5
    monkeypatch.setattr(stacked, "STACK_ROWS", 10_000)  # one stack
    assert fit_together(twins, [(X, y)] * 5) == [None] * 5
    for a, b in zip(ests, twins):
        _assert_same_fit(a, b)


def test_dataframes_series_and_string_labels(monkeypatch):
    pd = pytest.importorskip("pandas")
    X, y = _data("multiclass", 300)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                 "nine"])[y], name="digit")
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    grid = {"alpha": np.array([1e-4, 1e-2]), "batch_size": np.arange(32, 65, 32)}  # numpy values
    fits = _spy(monkeypatch)
    ours = GridSearchCV(est, grid, cv=3).fit(frame, labels)
    assert fits == [12]
    _same_search(ours, model_selection.GridSearchCV(est, grid, cv=3).fit(frame, labels))
    assert list(ours.best_estimator_.feature_names_in_) == list(frame.columns)


def test_random_state_objects_in_the_grid_and_in_the_splitter(monkeypatch):
    X, y = _data("multiclass", 300)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5)
    grid = {"random_state": [np.random.RandomState(0), np.random.RandomState(1)], "alpha": [1e-4, 1e-2]}
    ours = GridSearchCV(est, grid, cv=3).fit(X, y)
    reference = model_selection.GridSearchCV(est, grid, cv=3).fit(X, y)
    _same_search(ours, reference)
    assert grid["random_state"][0].get_state()[2] == 624  # the caller's generators untouched
    fits = _spy(monkeypatch)
    cv = KFold(3, shuffle=True, random_state=np.random.RandomState(0))  # its split advances it
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    ours = GridSearchCV(est, {"alpha": [1e-4]}, cv=cv).fit(X, y)
    reference = model_selection.GridSearchCV(est, {"alpha": [1e-4]},
                                             cv=KFold(3, shuffle=True, random_state=np.random.RandomState(0))).fit(X, y)
    assert fits == []
    _same_search(ours, reference)


def test_grids_that_swap_the_last_step_or_carry_callbacks(monkeypatch):
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline

    X, y = _data("multiclass", 300)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", MLPClassifier(max_iter=5, random_state=0))])
    grid = {"clf": [MLPClassifier(max_iter=5, random_state=0), SGDClassifier(random_state=0), "passthrough"]}
    ours = GridSearchCV(pipe, grid, cv=3, error_score=np.nan).fit(X, y)
    reference = model_selection.GridSearchCV(pipe, grid, cv=3, error_score=np.nan).fit(X, y)
    _same_search(ours, reference)

    class Count:
        epochs = 0

        def on_epoch_end(self, record, net):
            Count.epochs += 1

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0, callbacks=[Count()])
    fits = _spy(monkeypatch)
    GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=3, n_jobs=2).fit(X, y)
    assert fits == [0] and Count.epochs == 4 * (2 * 3 + 1)  # each fit seen once, plus the refit
