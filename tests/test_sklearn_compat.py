"""The drop-in's contract in the corners scikit-learn's own tests reach: predict_log_proba as
log(predict_proba), hand-set fitted state, set_params between calls, the compatibility names
``_optimizer`` and ``_loss_grad_lbfgs``, and warnings that scikit-learn users' filters match."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.utils.optimize import _check_optimize_result

from handgrad.sklearn import MLPClassifier, MLPRegressor
from handgrad.sklearn._util import lbfgs_convergence_message

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _linear(clf_kind: str, n: int, dtype=np.float64):
    """A classifier without hidden layers whose n logits are X itself (W = I, b = 0)."""
    y = np.eye(n, dtype=int) if clf_kind == "multilabel" else np.arange(n)
    clf = MLPClassifier(hidden_layer_sizes=(), solver="lbfgs", max_iter=1).fit(np.eye(n), y)
    clf.coefs_ = [np.eye(n, dtype=dtype)]
    clf.intercepts_ = [np.zeros(n, dtype=dtype)]
    return clf


# ----- predict_log_proba ----------------------------------------------------------------------
def _contract(clf, X):
    P, L = clf.predict_proba(X), clf.predict_log_proba(X)
    assert L.dtype == P.dtype and np.all(np.isfinite(L))
    assert_array_equal(L.argmax(axis=1), P.argmax(axis=1))
    for row_P, row_L in zip(P, L):                                # ties stay ties
        tied = row_P[:, None] == row_P[None, :]
        assert np.all((row_L[:, None] == row_L[None, :])[tied])
    exact = np.log(P)
    differs = L != exact
    # wherever it is not log(P) bit for bit, it is one ulp above, at the row's largest P
    assert_array_equal(L[differs], np.nextafter(exact[differs], 0 * exact[differs]))
    assert np.all(P[differs] == P.max(axis=1, keepdims=True).repeat(P.shape[1], 1)[differs])
    return P, L, differs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_proba_argmax_survives_log_rounding(dtype):
    """log rounds probabilities a few ulps apart to the same value; the larger one must stay
    the argmax even when the smaller comes first."""
    # 20 near-equal logits: probabilities near 1/20 a few ulps apart, where log's spacing is
    # coarser than theirs
    clf = _linear("multiclass", 20, dtype)
    rng = np.random.default_rng(0)
    eps = np.finfo(dtype).eps
    X = (rng.uniform(-2, 2, (2000, 1)) + rng.integers(-3, 4, (2000, 20)) * eps).astype(dtype)
    P, L, differs = _contract(clf, X)
    collided = np.flatnonzero(differs.any(axis=1))
    assert collided.size > 10  # the rounding this guards against does happen here
    plain = np.log(P[collided])
    assert np.any(plain.argmax(axis=1) != P[collided].argmax(axis=1))
    assert_array_equal(clf.classes_[L.argmax(axis=1)], clf.predict(X))


def test_log_proba_ties_at_the_probability_cap_stay_ties():
    clf = _linear("multilabel", 4)
    X = np.array([[40.0, 45.0, 50.0, 3.0],     # σ rounds to 1 → three labels at the cap
                  [50.0, -800.0, 39.0, -900.0],  # the floor: tiny, twice
                  [0.3, 0.3, -0.3, 0.0]])
    P, L, _ = _contract(clf, X)
    one_minus = np.nextafter(1.0, 0.0)
    assert_array_equal(P[0, :3], one_minus) and L[0, 0] == L[0, 1] == L[0, 2] == np.log(one_minus)
    assert L[1, 1] == L[1, 3] == np.log(np.finfo(np.float64).tiny)   # finite, where log(0) = −inf
    assert L.argmax(axis=1)[0] == P.argmax(axis=1)[0] == 0


def test_log_proba_equals_log_proba_on_scikit_learns_multilabel_case():
    # scikit-learn's test_predict_proba_multilabel, where the exact log σ used to differ
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=30, random_state=0).fit(X, Y)
    P, L, differs = _contract(clf, X)
    assert_allclose(L, np.log(P), rtol=1e-15)
    assert np.sum(P == np.nextafter(1.0, 0.0)) > 5                  # the cap is reached


# ----- hand-set state, set_params, warm_start -------------------------------------------------
def _hand_set(est, coefs, intercepts, out_activation):
    est.coefs_, est.intercepts_ = coefs, intercepts
    est.n_outputs_, est.n_features_in_ = coefs[-1].shape[1], coefs[0].shape[0]
    est.n_iter_, est.t_, est.n_layers_ = 0, 0, len(coefs) + 1
    est.out_activation_, est.best_loss_, est.loss_curve_ = out_activation, np.inf, []
    est._no_improvement_count = 0
    return est


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_partial_fit_from_hand_set_state_follows_scikit_learn(loss):
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    y = np.abs(y) / 50 if loss == "poisson" else y / 100
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(3, 4)) * 0.3, rng.normal(size=(4, 1)) * 0.3]
    intercepts = [np.full(4, 0.1), np.array([0.2])]
    out = "exp" if loss == "poisson" else "identity"
    kw = dict(loss=loss, solver="sgd", hidden_layer_sizes=4, momentum=0.5, shuffle=False)
    ours = _hand_set(MLPRegressor(**kw), [c.copy() for c in coefs], list(intercepts), out)
    ref = _hand_set(SkMLPRegressor(**kw), [c.copy() for c in coefs], list(intercepts), out)
    for _ in range(3):
        ours.partial_fit(X, y)
        ref.partial_fit(X, y)
    assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert_allclose(a, b, rtol=1e-9)
    assert ours.t_ == ref.t_ == 120 and len(ours.history_) == 3


def test_set_params_between_calls(iris):
    X, y = iris
    # early stopping switched off, then on, between warm starts (scikit-learn 1.9 fails on
    # both: None − tol and None.append)
    clf = MLPClassifier(hidden_layer_sizes=(5,), early_stopping=True, max_iter=3,
                        warm_start=True, random_state=0).fit(X, y)
    clf.set_params(early_stopping=False).fit(X, y)
    assert clf.best_loss_ == min(clf.loss_curve_[3:])
    clf.set_params(early_stopping=True).fit(X, y)
    assert len(clf.validation_scores_) == 6 and len(clf.loss_curve_) == 9
    # solver and momentum changed between partial_fit calls: as scikit-learn, it goes on
    for kw in (dict(solver="sgd"), dict(momentum=0.0), dict(learning_rate_init=0.1, alpha=1.0)):
        clf.set_params(early_stopping=False, **kw).partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 12


def test_changed_hidden_sizes_continue_the_fitted_network_as_scikit_learn_does(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(6,), max_iter=3, warm_start=True, random_state=0)
    ours, ref = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    ref.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with pytest.warns(UserWarning, match=r"differs from the fitted network's hidden layers \[6\]") as rec:
        ours.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    assert rec[0].filename == __file__                               # points at the caller
    assert ours.coefs_[0].shape == ref.coefs_[0].shape == (4, 6)
    assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    with pytest.raises(ValueError, match="inputs and outputs"):
        MLPRegressor(max_iter=2, warm_start=True).fit(X, y).fit(X, np.c_[y, y])


# ----- compatibility names ----------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    dict(solver="sgd", learning_rate="invscaling", power_t=0.25),
    dict(solver="sgd", learning_rate="adaptive", tol=0.5, n_iter_no_change=1),
    dict(solver="sgd"),
    dict(solver="adam"),
], ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_optimizer_learning_rate_is_scikit_learns(iris, params):
    X, y = iris
    kw = dict(hidden_layer_sizes=(4,), max_iter=40, random_state=0, warm_start=True, **params)
    ours, ref = MLPClassifier(**kw), SkMLPClassifier(**kw)
    for _ in range(2):
        ours.fit(X, y)
        ref.fit(X, y)
        assert ours._optimizer.learning_rate == pytest.approx(ref._optimizer.learning_rate,
                                                              rel=1e-12)
    assert ours._optimizer.learning_rate_init == ref._optimizer.learning_rate_init
    if params["solver"] == "sgd":  # set by hand, used by the next partial_fit, as in scikit-learn
        ours._optimizer.learning_rate = ref._optimizer.learning_rate = 0.05
        ours.partial_fit(X, y)
        ref.partial_fit(X, y)
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    else:
        with pytest.raises(AttributeError, match="learning_rate_init"):
            ours._optimizer.learning_rate = 0.05


def test_optimizer_absent_where_scikit_learn_has_none(iris):
    X, y = iris
    assert not hasattr(MLPClassifier(), "_optimizer")
    assert not hasattr(MLPClassifier(solver="lbfgs", max_iter=5).fit(X, y), "_optimizer")


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression", "poisson"])
def test_loss_grad_lbfgs_matches_scikit_learns(iris, kind):
    X, y = iris
    if kind in ("regression", "poisson"):
        Ours, Ref = MLPRegressor, SkMLPRegressor
        y = np.c_[X[:, 0] ** 2, np.abs(X[:, 1])] if kind == "poisson" else X[:, 0] - X[:, 1]
        X = X[:, 2:]
        extra = dict(loss="poisson" if kind == "poisson" else "squared_error")
    else:
        Ours, Ref, extra = MLPClassifier, SkMLPClassifier, {}
        y = {"binary": y == 1, "multiclass": y, "multilabel": np.c_[y == 1, y == 2]}[kind]
    kw = dict(hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs", max_iter=3,
              alpha=0.1, random_state=0, **extra)
    ours, ref = Ours(**kw).fit(X, y), Ref(**kw).fit(X, y)
    Y = (LabelBinarizer().fit_transform(y) if kind in ("binary", "multiclass")
         else np.asarray(y, dtype=float).reshape(len(X), -1))  # 2-D, as _fit hands it over
    theta = np.random.default_rng(1).normal(size=sum(a.size for a in ref.coefs_ + ref.intercepts_))
    sw = np.random.default_rng(2).uniform(0.5, 2, len(X))
    grads_out = ([None, None], [None, None])
    value, grad = ours._loss_grad_lbfgs(theta, X, Y, sw, None, None, *grads_out)
    ref_value, ref_grad = ref._loss_grad_lbfgs(theta, X, Y, sw, [X, None, None], [None, None],
                                               [np.empty_like(c) for c in ref.coefs_],
                                               [np.empty_like(b) for b in ref.intercepts_])
    assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)
    assert value == pytest.approx(ref_value, rel=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert_array_equal(a, b)                           # both set to θ, as scikit-learn does
    assert_allclose(np.concatenate([g.ravel() for g in grads_out[0] + grads_out[1]]), grad)


# ----- warnings -----------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_convergence_warnings_obey_the_filters_scikit_learn_users_write(iris, solver):
    X, y = iris
    for Est in (MLPClassifier, SkMLPClassifier):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")
            Est(solver=solver, max_iter=2, hidden_layer_sizes=(3,)).fit(X, y)
        assert not [w for w in seen if issubclass(w.category, ConvergenceWarning)]
    for module in ("sklearn.neural_network", "sklearn|handgrad", ""):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=ConvergenceWarning, module=module)
            MLPClassifier(solver=solver, max_iter=2, hidden_layer_sizes=(3,)).fit(X, y)
        assert not seen
    with pytest.warns(ConvergenceWarning) as seen:                 # and unfiltered, shown
        MLPClassifier(solver=solver, max_iter=2, hidden_layer_sizes=(3,)).fit(X, y)
    assert "handgrad" in seen[0].filename                          # from handgrad's code
    with pytest.warns(ConvergenceWarning) as theirs:
        SkMLPClassifier(solver=solver, max_iter=2, hidden_layer_sizes=(3,)).fit(X, y)
    assert str(seen[0].message) == str(theirs[0].message)


@pytest.mark.parametrize("status, nit, max_iter", [(1, 5, 5), (2, 3, 5), (0, 4, 5)])
def test_lbfgs_warning_text_is_scikit_learns(status, nit, max_iter):
    res = scipy.optimize.OptimizeResult(status=status, nit=nit, message="SOME SCIPY MESSAGE")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        n_iter = _check_optimize_result("lbfgs", res, max_iter)
    ours = lbfgs_convergence_message(res, max_iter)
    assert n_iter == min(nit, max_iter)
    assert ours == (str(seen[0].message) if seen else None)
