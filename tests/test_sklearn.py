"""handgrad.sklearn: scikit-learn conformance, parity with scikit-learn's own MLP, the extras."""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import (load_digits, load_iris, make_blobs, make_classification,
                              make_regression)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (check_dataframe_column_names_consistency,
                                            check_param_validation, parametrize_with_checks)

import handgrad as hg
from handgrad.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _keep_going(record, net):  # a picklable callback for the conformance checks
    return False


# ----- conformance --------------------------------------------------------------------------
CHECKED = [
    MLPClassifier(), MLPRegressor(),
    MLPClassifier(solver="sgd"), MLPRegressor(solver="sgd"),
    MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs"),
    MLPClassifier(activation="leaky_relu", class_weight="balanced", callbacks=[_keep_going]),
]


@parametrize_with_checks(CHECKED)  # every check, no expected failures
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input (numpy only: array_api_support is False) skips itself unless
    # this is set; SciPy reads it at import, scikit-learn at check time
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("estimator", [MLPClassifier(max_iter=5), MLPRegressor(max_iter=5),
                                       MLPClassifier(solver="lbfgs", max_iter=5),
                                       MLPRegressor(solver="sgd", max_iter=5, early_stopping=True)],
                         ids=repr)
def test_param_validation_and_column_names(estimator):
    # not part of parametrize_with_checks in scikit-learn 1.9 (its own test suite runs them)
    name = type(estimator).__name__
    check_param_validation(name, estimator)
    check_dataframe_column_names_consistency(name, estimator)


# ----- data ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _params_equal(a, b, **tol):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_allclose(x, y, **tol)


# ----- parity with scikit-learn -------------------------------------------------------------
@pytest.mark.parametrize("params", [
    dict(solver="adam"),
    dict(solver="sgd", learning_rate_init=0.1),                                  # Nesterov
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.1),
    dict(solver="sgd", momentum=0.0, learning_rate="invscaling", learning_rate_init=0.5),
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.2, n_iter_no_change=2),
    dict(solver="adam", early_stopping=True, n_iter_no_change=3, batch_size=64),
    dict(solver="adam", activation="tanh", alpha=1e-2, shuffle=False, batch_size=100),
    dict(solver="lbfgs", activation="logistic"),
], ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_same_training_run_as_scikit_learn(digits, params):
    """Same random_state: same initial weights, batches and split, so the same run up to
    rounding — the loss curve, the stopping epoch and the weights agree."""
    X_train, X_test, y_train, y_test = digits
    kw = dict(hidden_layer_sizes=(32,), max_iter=25, random_state=0, **params)
    ours = MLPClassifier(**kw).fit(X_train, y_train)
    ref = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-9)
    if params["solver"] != "lbfgs":
        assert ours.t_ == ref.t_
        assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
        assert ours.validation_scores_ == ref.validation_scores_
        if ref.best_loss_ is not None:
            assert ours.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-9)
    _params_equal(ours, ref, rtol=1e-6, atol=1e-9)
    assert_allclose(ours.predict_proba(X_test), ref.predict_proba(X_test), atol=1e-9)


def test_accuracy_on_digits_within_a_couple_of_points_of_scikit_learn(digits):
    X_train, X_test, y_train, y_test = digits
    kw = dict(hidden_layer_sizes=(64,), max_iter=60, alpha=1e-4, random_state=1)
    ours = MLPClassifier(**kw).fit(X_train, y_train).score(X_test, y_test)
    ref = SkMLPClassifier(**kw).fit(X_train, y_train).score(X_test, y_test)
    assert ours > 0.95 and abs(ours - ref) <= 0.02


def test_sample_weight_and_sparse_and_multioutput_follow_scikit_learn(digits):
    X, _, y, _ = digits
    sw = np.random.default_rng(0).uniform(0, 2, len(y))
    for solver in ("adam", "lbfgs"):
        kw = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0, solver=solver)
        _params_equal(MLPClassifier(**kw).fit(X, y, sample_weight=sw),
                      SkMLPClassifier(**kw).fit(X, y, sample_weight=sw), rtol=1e-6, atol=1e-9)
    Xs = sp.csr_matrix(X)
    kw = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    ours = MLPClassifier(**kw).fit(Xs, y)
    _params_equal(ours, SkMLPClassifier(**kw).fit(Xs, y), rtol=1e-6, atol=1e-9)
    assert_allclose(ours.predict_proba(Xs), ours.predict_proba(X), rtol=1e-12)
    Y = np.stack([y % 2, y > 4, y == 3], axis=1).astype(int)                      # multilabel
    ours, ref = MLPClassifier(**kw).fit(X, Y), SkMLPClassifier(**kw).fit(X, Y)
    assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert_array_equal(ours.predict(X), ref.predict(X))


def test_partial_fit_and_warm_start_follow_scikit_learn(digits):
    X, _, y, _ = digits
    for solver in ("sgd", "adam"):
        ours = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, random_state=0)
        ref = SkMLPClassifier(hidden_layer_sizes=(16,), solver=solver, random_state=0)
        for part in np.array_split(np.arange(len(y)), 3):
            ours.partial_fit(X[part], y[part], classes=np.arange(10))
            ref.partial_fit(X[part], y[part], classes=np.arange(10))
        assert ours.n_iter_ == 1 and ours.t_ == ref.t_ == len(y)
        assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
        _params_equal(ours, ref, rtol=1e-6, atol=1e-9)
    kw = dict(hidden_layer_sizes=(16,), max_iter=4, warm_start=True, random_state=0, solver="sgd")
    ours, ref = MLPClassifier(**kw), SkMLPClassifier(**kw)
    for _ in range(2):
        ours.fit(X, y)
        ref.fit(X, y)
    assert len(ours.loss_curve_) == len(ours.history_) == 8 and ours.n_iter_ == 4
    assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)


def test_partial_fit_rules():
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1])


def test_regressor_reports_scikit_learn_loss_convention():
    """loss_ is ½·mean over all entries of the squared error (+ alpha term), while the
    gradient is that of ½·(squared error summed over outputs) averaged over samples."""
    X, Y = make_regression(n_samples=120, n_features=6, n_targets=3, random_state=0)
    Y /= 100
    kw = dict(hidden_layer_sizes=(16,), max_iter=6, random_state=0, alpha=0.1)
    ours, ref = MLPRegressor(**kw).fit(X, Y), SkMLPRegressor(**kw).fit(X, Y)
    assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    _params_equal(ours, ref, rtol=1e-6, atol=1e-9)
    # recompute one epoch's loss by hand: full batch, no shuffling, from known weights
    reg = MLPRegressor(hidden_layer_sizes=(8,), batch_size=120, shuffle=False, max_iter=1,
                       warm_start=True, alpha=0.1, random_state=0).fit(X, Y)
    W1, W2 = reg.coefs_
    b1, b2 = reg.intercepts_
    pred = np.maximum(X @ W1 + b1, 0) @ W2 + b2
    penalty = 0.5 * 0.1 * (np.sum(W1 ** 2) + np.sum(W2 ** 2)) / 120
    expected = 0.5 * np.mean((pred - Y) ** 2) + penalty
    reg.fit(X, Y)
    assert reg.loss_curve_[1] == pytest.approx(expected, rel=1e-12)


def test_lbfgs_reaches_a_low_loss(digits):
    X, _, y, _ = digits
    kw = dict(solver="lbfgs", hidden_layer_sizes=(32,), alpha=1e-5, max_iter=500, random_state=0)
    clf = MLPClassifier(**kw).fit(X[:500], y[:500])
    ref = SkMLPClassifier(**kw).fit(X[:500], y[:500])
    assert clf.loss_ < 1e-3 and clf.score(X[:500], y[:500]) == 1.0 and clf.n_iter_ < 500
    assert clf.loss_ == pytest.approx(ref.loss_, rel=1e-6) and clf.n_iter_ == ref.n_iter_
    assert not hasattr(clf, "loss_curve_")          # as scikit-learn: stochastic solvers only
    reg = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=500, random_state=0)
    Xr, yr = make_regression(n_samples=100, n_features=4, random_state=0)
    assert reg.fit(Xr, yr / 100).score(Xr, yr / 100) > 0.99


# ----- drop-in: scikit-learn's own examples -------------------------------------------------
# The digits part of scikit-learn's example "Compare Stochastic learning strategies for
# MLPClassifier" (examples/neural_networks/plot_mlp_training_curves.py), without the plots.
TRAINING_CURVES_EXAMPLE = '''
import warnings

from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
{import_line}
from sklearn.preprocessing import MinMaxScaler

params = [
    {{"solver": "sgd", "learning_rate": "constant", "momentum": 0, "learning_rate_init": 0.2}},
    {{"solver": "sgd", "learning_rate": "constant", "momentum": 0.9,
      "nesterovs_momentum": False, "learning_rate_init": 0.2}},
    {{"solver": "sgd", "learning_rate": "constant", "momentum": 0.9,
      "nesterovs_momentum": True, "learning_rate_init": 0.2}},
    {{"solver": "sgd", "learning_rate": "invscaling", "momentum": 0, "learning_rate_init": 0.2}},
    {{"solver": "sgd", "learning_rate": "invscaling", "momentum": 0.9,
      "nesterovs_momentum": False, "learning_rate_init": 0.2}},
    {{"solver": "sgd", "learning_rate": "invscaling", "momentum": 0.9,
      "nesterovs_momentum": True, "learning_rate_init": 0.2}},
    {{"solver": "adam", "learning_rate_init": 0.01}},
]
labels = ["constant learning-rate", "constant with momentum",
          "constant with Nesterov's momentum", "inv-scaling learning-rate",
          "inv-scaling with momentum", "inv-scaling with Nesterov's momentum", "adam"]


def plot_on_dataset(X, y, name):
    print("\\nlearning on dataset %s" % name)
    X = MinMaxScaler().fit_transform(X)
    mlps = []
    if name == "digits":
        # digits is larger but converges fairly quickly
        max_iter = 15
    else:
        max_iter = 400
    for label, param in zip(labels, params):
        print("training: %s" % label)
        mlp = MLPClassifier(random_state=0, max_iter=max_iter, **param)
        # some parameter combinations will not converge as can be seen on the
        # plots so they are ignored here
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")
            mlp.fit(X, y)
        mlps.append(mlp)
        print("Training set score: %f" % mlp.score(X, y))
        print("Training set loss: %f" % mlp.loss_)
    return mlps


digits = datasets.load_digits()
mlps = plot_on_dataset(digits.data, digits.target, name="digits")
'''


def _run_example(import_line: str) -> tuple[str, dict]:
    out, namespace = io.StringIO(), {}
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(TRAINING_CURVES_EXAMPLE.format(import_line=import_line), namespace)
    return out.getvalue(), namespace


def test_scikit_learn_example_runs_unchanged_with_the_handgrad_import():
    printed, ns = _run_example("from handgrad.sklearn import MLPClassifier")
    assert all(type(m).__module__.startswith("handgrad.sklearn") for m in ns["mlps"])
    scores = [float(line.split(": ")[1]) for line in printed.splitlines() if "score" in line]
    assert len(scores) == 7 and max(scores) > 0.95
    # and it prints what scikit-learn prints (to the example's 6 decimals)
    assert printed == _run_example("from sklearn.neural_network import MLPClassifier")[0]


def test_scikit_learn_docstring_and_user_guide_examples():
    # MLPClassifier's docstring example
    X, y = make_classification(n_samples=100, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=1)
    clf = MLPClassifier(random_state=1, max_iter=300).fit(X_train, y_train)
    assert_allclose(clf.predict_proba(X_test[:1]), [[0.0383, 0.961]], atol=1e-3)
    assert_array_equal(clf.predict(X_test[:5, :]), [1, 0, 1, 0, 1])
    assert clf.score(X_test, y_test) >= 0.8
    # MLPRegressor's docstring example
    X, y = make_regression(n_samples=200, n_features=20, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)
    regr = MLPRegressor(random_state=1, max_iter=2000, tol=0.1).fit(X_train, y_train)
    assert repr(regr) == "MLPRegressor(max_iter=2000, random_state=1, tol=0.1)"
    assert_allclose(regr.predict(X_test[:2]), [28.98, -291], atol=0.5)
    assert regr.score(X_test, y_test) >= 0.98
    # the user guide (neural_networks_supervised.rst)
    X = [[0., 0.], [1., 1.]]
    clf = MLPClassifier(solver="lbfgs", alpha=1e-5, hidden_layer_sizes=(5, 2), random_state=1)
    clf.fit(X, [0, 1])
    assert_array_equal(clf.predict([[2., 2.], [-1., -2.]]), [1, 0])
    assert [coef.shape for coef in clf.coefs_] == [(2, 5), (5, 2), (2, 1)]
    clf = MLPClassifier(solver="lbfgs", alpha=1e-5, hidden_layer_sizes=(15,), random_state=1)
    clf.fit(X, [[0, 1], [1, 1]])
    assert_array_equal(clf.predict([[1., 2.]]), [[1, 1]])
    assert_array_equal(clf.predict([[0., 0.]]), [[0, 1]])


# ----- scikit-learn machinery ---------------------------------------------------------------
def test_pipeline_grid_search_cross_val_score_clone(iris):
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifier(learning_rate_init=0.01, random_state=0))])
    search = GridSearchCV(pipe, {"mlp__hidden_layer_sizes": [(8,), (16,)],
                                 "mlp__alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.9 and len(search.cv_results_["params"]) == 4
    assert isinstance(search.best_estimator_.named_steps["mlp"], MLPClassifier)
    Xr, yr = make_regression(n_samples=150, n_features=5, noise=1.0, random_state=0)
    scores = cross_val_score(make_pipeline(StandardScaler(), MLPRegressor(
        hidden_layer_sizes=(32,), solver="lbfgs", max_iter=300, random_state=0)), Xr, yr / 50, cv=3)
    assert scores.min() > 0.9
    fitted = MLPClassifier(hidden_layer_sizes=(7,), alpha=0.5, max_iter=20).fit(*iris)
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "coefs_")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression"])
def test_pickle_round_trip_gives_identical_predictions(iris, kind, dtype):
    X, y = iris
    X = X.astype(dtype)
    if kind == "binary":
        y = y == 2
    elif kind == "multilabel":
        y = np.stack([y == 0, y == 2, X[:, 0] > 0], axis=1).astype(int)
    est = (MLPRegressor if kind == "regression" else MLPClassifier)(
        hidden_layer_sizes=(10,), solver="sgd", max_iter=20, random_state=0)
    est.fit(X, X[:, 1] if kind == "regression" else y)
    copy = pickle.loads(pickle.dumps(est))
    methods = ["predict"] if kind == "regression" else ["predict", "predict_proba",
                                                        "predict_log_proba"]
    for method in methods:
        assert_array_equal(getattr(copy, method)(X), getattr(est, method)(X))
    # the optimizer's state travels too: training on continues identically
    target = X[:, 1] if kind == "regression" else y
    est.partial_fit(X, target)
    copy.partial_fit(X, target)
    _params_equal(est, copy, rtol=0, atol=0)


def test_string_and_object_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])
    yes_no = np.array(["no", "yes"])[(y == 2).astype(int)]
    for labels in (names[y], names[y].astype(object), yes_no):
        clf = MLPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.01, random_state=0)
        clf.fit(X, labels)
        assert_array_equal(clf.classes_, np.unique(labels))
        pred = clf.predict(X)
        assert set(pred) <= set(labels)
        assert clf.score(X, labels) > 0.9
        assert_array_equal(clf.classes_[clf.predict_proba(X).argmax(axis=1)], pred)
    clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0)
    clf.partial_fit(X[:50], names[y][:50], classes=names)            # a subset of the classes
    clf.partial_fit(X, names[y])
    assert_array_equal(clf.classes_, names)
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, np.array(["rose"] * len(y)))


def test_output_layers_follow_scikit_learn(iris):
    X, y = iris
    binary = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50).fit(X, y == 1)
    assert binary.n_outputs_ == 1 and binary.out_activation_ == "logistic"
    assert binary.coefs_[-1].shape == (5, 1) and binary.predict_proba(X).shape == (150, 2)
    multi = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50).fit(X, y)
    assert multi.n_outputs_ == 3 and multi.out_activation_ == "softmax"
    assert_allclose(multi.predict_proba(X).sum(axis=1), 1)
    Y = np.stack([y == 0, y == 1, X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
    labels = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50).fit(X, Y)
    assert labels.n_outputs_ == 4 and labels.out_activation_ == "logistic"
    assert labels.predict(X).shape == (150, 4) and set(np.unique(labels.predict(X))) <= {0, 1}
    assert labels.n_layers_ == 3
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=50).fit(X, Y[:, :2] * 1.0)
    assert reg.out_activation_ == "identity" and reg.predict(X).shape == (150, 2)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_end_to_end(iris, solver):
    X, y = iris
    X32 = X.astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=30, random_state=0)
    clf.fit(X32, y)
    assert all(a.dtype == np.float32 for a in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_log_proba(X32).dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64           # float64 data: promoted, as numpy
    binary = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=30).fit(X32, y == 0)
    assert binary.predict_proba(X32).dtype == np.float32
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver=solver, max_iter=30).fit(X32, X[:, 0])
    assert reg.coefs_[0].dtype == np.float32 and reg.predict(X32).dtype == np.float32
    for data in (X, X.astype(int)):                           # otherwise float64
        est = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=5).fit(data, y)
        assert est.coefs_[0].dtype == np.float64 and est.predict_proba(data).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_log_proba_is_finite_log_predict_proba_and_log_softmax_above_the_floor(iris, dtype):
    X, y = iris
    X = X.astype(dtype)
    for target in (y, y == 0):
        clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=100, random_state=0).fit(X, target)
        clf.coefs_[-1] *= 5000                                 # very confident: huge logits
        A = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
        Z = (A @ clf.coefs_[1] + clf.intercepts_[1]).astype(np.float64)
        if Z.shape[1] == 1:
            expected = np.column_stack([-np.logaddexp(0, Z[:, 0]), -np.logaddexp(0, -Z[:, 0])])
        else:
            expected = Z - np.logaddexp.reduce(Z, axis=1, keepdims=True)
        floor = np.log(np.finfo(dtype).tiny)
        log_proba = clf.predict_log_proba(X)
        P = clf.predict_proba(X)
        assert np.all(np.isfinite(log_proba)) and log_proba.dtype == dtype
        assert expected.min() < floor < -50                     # log(predict_proba) would be -inf
        shown = expected > floor + 1
        tol = dict(rtol=1e-5, atol=1e-2) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
        assert_allclose(log_proba[shown], expected[shown], **tol)
        assert_allclose(log_proba[expected < floor - 1], floor, rtol=1e-6)
        assert np.all((P > 0) & (P < 1))                        # never exactly 0 or 1
        assert_allclose(np.log(P), log_proba, atol=1e-6)        # = log(predict_proba)
        assert_array_equal(np.argsort(log_proba), np.argsort(P))


# ----- weights ------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_zero_sample_weight_removes_the_sample(iris, solver):
    X, y = iris
    keep = np.arange(len(y)) % 3 != 0
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=15, random_state=0)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=keep.astype(float))
    removed = MLPClassifier(**kw).fit(X[keep], y[keep])  # one batch either way (n < 200)
    _params_equal(weighted, removed, rtol=1e-7, atol=1e-10)
    assert weighted.loss_ == pytest.approx(removed.loss_, rel=1e-10)   # the loss ignores them too
    # and integer weights are repeats
    reps = (np.arange(len(y)) % 3).astype(float)
    twice = MLPClassifier(**kw).fit(np.repeat(X, reps.astype(int), axis=0),
                                    np.repeat(y, reps.astype(int)))
    by_weight = MLPClassifier(**kw).fit(X, y, sample_weight=reps)
    _params_equal(twice, by_weight, rtol=1e-7, atol=1e-10)


def test_class_weight(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    kw = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    weights = {"a": 3.0, "b": 0.5, "c": 1.0}
    by_class = MLPClassifier(class_weight=weights, **kw).fit(X, names)
    by_sample = MLPClassifier(**kw).fit(X, names, sample_weight=np.array([3.0, 0.5, 1.0])[y])
    _params_equal(by_class, by_sample, rtol=0, atol=0)
    # "balanced" = n / (K · n_k); together with sample_weight the two multiply
    unbalanced = np.r_[np.arange(50), np.arange(50, 70), np.arange(100, 150)]
    Xu, yu = X[unbalanced], y[unbalanced]
    balanced = MLPClassifier(class_weight="balanced", **kw).fit(Xu, yu)
    manual = MLPClassifier(**kw).fit(Xu, yu, sample_weight=(len(yu) / (3 * np.bincount(yu)))[yu])
    _params_equal(balanced, manual, rtol=1e-12, atol=1e-14)
    sw = np.linspace(0.5, 1.5, len(yu))     # sample weights count as repeats in the class sizes
    counts = np.bincount(yu, weights=sw)
    balanced = MLPClassifier(class_weight="balanced", **kw).fit(Xu, yu, sample_weight=sw)
    manual = MLPClassifier(**kw).fit(Xu, yu, sample_weight=sw * (sw.sum() / (3 * counts))[yu])
    _params_equal(balanced, manual, rtol=1e-12, atol=1e-14)
    # a heavily weighted class takes over the predictions on noisy data (scikit-learn's check)
    Xn, yn = make_blobs(centers=3, cluster_std=20, random_state=0)
    skewed = MLPClassifier(class_weight={0: 1000, 1: 1e-4, 2: 1e-4}, max_iter=1000,
                           n_iter_no_change=20, random_state=0).fit(Xn, yn)
    plain = MLPClassifier(max_iter=1000, n_iter_no_change=20, random_state=0).fit(Xn, yn)
    assert np.mean(skewed.predict(Xn) == 0) > 0.9 > 0.5 > np.mean(plain.predict(Xn) == 0)
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(class_weight={0: 2.0}).fit(X, np.stack([y == 0, y == 1], axis=1))
    with pytest.raises(ValueError, match="not in class_weight"):
        MLPClassifier(class_weight={"zzz": 2.0}, **kw).fit(X, names)
    with pytest.raises(ValueError, match="(?i)negative"):
        MLPClassifier(**kw).fit(X, y, sample_weight=-np.ones(len(y)))


# ----- early stopping on the user's validation set ------------------------------------------
def test_user_validation_set_drives_early_stopping(digits):
    X_train, X_val, y_train, y_val = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=3,
                        max_iter=100, learning_rate_init=0.01, random_state=0)
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    assert clf.t_ == clf.n_iter_ * len(y_train)               # nothing was held out of X_train
    assert len(clf.validation_scores_) == clf.n_iter_ < 100 and clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X_val, y_val) == clf.best_validation_score_   # the best epoch's weights
    assert [r["val_score"] for r in clf.history_] == clf.validation_scores_
    assert all(r["val_loss"] > 0 for r in clf.history_)
    reg = MLPRegressor(hidden_layer_sizes=(16,), early_stopping=True, max_iter=30, random_state=0)
    reg.fit(X_train, X_train[:, 20], X_val=X_val, y_val=X_val[:, 20])
    assert reg.score(X_val, X_val[:, 20]) == pytest.approx(reg.best_validation_score_)
    with pytest.raises(ValueError, match="early_stopping=True"):
        MLPClassifier().fit(X_train, y_train, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        MLPClassifier(early_stopping=True).fit(X_train, y_train, X_val=X_val)
    with pytest.raises(ValueError, match="classes not seen"):
        MLPClassifier(early_stopping=True).fit(X_train, y_train, X_val=X_val, y_val=y_val + 10)
    with pytest.warns(UserWarning, match="ignored by solver='lbfgs'"):
        MLPClassifier(solver="lbfgs", max_iter=5).fit(X_train, y_train, X_val=X_val, y_val=y_val)


# ----- callbacks, history, convergence ------------------------------------------------------
def test_callbacks_see_each_epoch_and_can_stop_training(iris):
    X, y = iris
    seen = []

    def stop_after_three(record, net):
        seen.append((record, net.weights[0].copy()))
        assert isinstance(net, hg.MLP)
        return record["epoch"] == 3

    class Recorder(hg.training.history.Callback):
        def __init__(self):
            self.begun, self.batches, self.history = None, 0, None

        def on_train_begin(self, info):
            self.begun = info

        def on_batch_end(self, epoch, batch, n_batches, loss):
            self.batches += 1

        def on_train_end(self, history):
            self.history = history

    recorder = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)    # stopped: no warning
        clf = MLPClassifier(hidden_layer_sizes=(8,), batch_size=50, max_iter=50,
                            callbacks=[stop_after_three, recorder]).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3 and len(seen) == 3
    assert_array_equal(seen[-1][1], clf.coefs_[0])             # the weights the callback saw
    assert recorder.begun["n_train"] == 150 and recorder.batches == 9
    assert len(recorder.history) == 3 and "callback" in recorder.history.stop_reason

    class StopFlag:
        stop = False

        def __call__(self, record, net):
            self.stop = record["epoch"] >= 2

    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100,
                        callbacks=[StopFlag()]).fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.history_) == 2


def test_history_holds_the_backprop_diagnostics(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8, 6), max_iter=5, batch_size=64).fit(X, y)
    assert len(clf.history_) == 5 and [r["epoch"] for r in clf.history_] == [1, 2, 3, 4, 5]
    for record, loss in zip(clf.history_, clf.loss_curve_):
        assert record["train_loss"] == loss
        parts = record["train_data_loss"] + record["train_l2_loss"]
        assert record["train_loss"] == pytest.approx(parts)
        assert 0 <= record["train_accuracy"] <= 1 and record["lr"] == 1e-3
        d = record["diagnostics"]
        assert len(d["grad_norm"]) == len(d["update_ratio"]) == 3 and len(d["dead_fraction"]) == 2
        assert all(g > 0 for g in d["grad_norm"]) and all(0 <= f <= 1 for f in d["dead_fraction"])


def test_convergence_rules(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        done = MLPClassifier(hidden_layer_sizes=(4,), max_iter=500, tol=1e-2,
                             n_iter_no_change=2, random_state=0).fit(X, y)
    assert done.n_iter_ < 500 and done.best_loss_ == min(done.loss_curve_)
    adaptive = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", learning_rate="adaptive",
                             tol=1.0, n_iter_no_change=1, max_iter=500, random_state=0).fit(X, y)
    lrs = [r["lr"] for r in adaptive.history_]
    assert lrs[0] == 1e-3 and min(lrs) <= 1e-6 and adaptive.n_iter_ < 500  # ÷5 until < 1e-6
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True).fit(X, y)
    assert "Iteration 1, loss = " in out.getvalue()


def test_leaky_relu_and_no_hidden_layer(iris):
    X, y = iris
    leaky = MLPClassifier(hidden_layer_sizes=(16,), activation="leaky_relu", max_iter=300,
                          learning_rate_init=0.01, random_state=0).fit(X, y)
    assert leaky.score(X, y) > 0.9
    Z = X @ leaky.coefs_[0] + leaky.intercepts_[0]
    A = np.where(Z > 0, Z, 0.01 * Z)
    logits = A @ leaky.coefs_[1] + leaky.intercepts_[1]
    assert_array_equal(leaky.predict(X), logits.argmax(axis=1))
    linear = MLPClassifier(hidden_layer_sizes=(), solver="lbfgs", max_iter=200).fit(X, y)
    assert linear.n_layers_ == 2 and linear.coefs_[0].shape == (4, 3) and linear.score(X, y) > 0.9
