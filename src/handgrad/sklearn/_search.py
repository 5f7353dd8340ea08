"""scikit-learn's GridSearchCV and RandomizedSearchCV with the fits of a search trained at once.

    from handgrad.sklearn import GridSearchCV, MLPClassifier
    search = GridSearchCV(MLPClassifier(max_iter=50), {"alpha": [1e-4, 1e-2],
                          "learning_rate_init": [1e-3, 1e-2]}, cv=5).fit(X, y)

They are scikit-learn's classes (same parameters, ``cv_results_``, ``best_*``, refit,
scoring, error handling), with one addition: when the estimator is one of handgrad's
estimators with solver 'sgd' or 'adam' — alone, or the last step of a
:class:`~sklearn.pipeline.Pipeline` — every (candidate, split) fit of an evaluation round is
trained first, all at once (:func:`._stacked.fit_together`: the networks of one shape as one
stack, one batched step for all), and scikit-learn's own round then finds each fit done
(:mod:`._prefit`) instead of training it. The fits are those of the estimator alone — the
same starting weights, shuffles, early-stopping splits and stopping rules — so the search's
results are scikit-learn's over handgrad's estimator, to rounding (float64; tested).

The fast path is taken when the splits can be drawn twice alike (not a shuffling splitter
whose ``random_state`` is None or a generator) and ``fit`` gets no parameters other than
``groups``. A fit is done ahead when it is handgrad's estimator with solver 'sgd' or 'adam',
a ``random_state`` (an int or a RandomState; with None the draws from numpy's global
generator would come in another order), no callbacks (they would see it twice), dense input
and parameters comparable by value; the others are scikit-learn's round's, unchanged.
Regression outputs (identity head) are done ahead one by one, not stacked. ``n_jobs`` sets
the processes the fits ahead are split over (forked, one stack each; -1: one per core); the
scoring runs in this process. Differences a user can see: ``mean_fit_time`` in
``cv_results_`` is the time of finding the fit (the training is in the search's total), a
Ctrl-C stops every fit of the round at once (each ends as scikit-learn ends an interrupted
fit), verbose epoch lines come before scikit-learn's "Fitting …" line, the steps of a
pipeline before the network are fitted twice (once ahead, once in the round), and
``n_jobs`` reads None while the search fits.
"""

from __future__ import annotations

import numbers

import scipy.sparse as sp
from sklearn import model_selection
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, indexable

from ._base import STOCHASTIC_SOLVERS, BaseMLP
from ._prefit import key, offered
from ._stacked import fit_together


class _TogetherSearch:
    """What GridSearchCV and RandomizedSearchCV add: the round's fits trained at once."""

    def fit(self, X, y=None, **params):
        fast = set(params) <= {"groups"} and self._final_estimator() is not None
        n_jobs = self.n_jobs
        self._ahead = (*indexable(X, y), params, n_jobs) if fast else None
        if fast:  # the fits are done ahead (over n_jobs processes); scikit-learn's round scores
            self.n_jobs = None
        try:
            return super().fit(X, y, **params)
        finally:
            self.n_jobs = n_jobs
            del self._ahead

    fit.__doc__ = model_selection.GridSearchCV.fit.__doc__

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        def evaluate(candidate_params, cv=None, *args, **kwargs):
            candidate_params = list(candidate_params)
            done = self._fit_ahead(candidate_params, cv) if self._ahead else None
            if done is None:
                return evaluate_candidates(candidate_params, cv, *args, **kwargs)
            with offered(*done):
                return evaluate_candidates(candidate_params, cv, *args, **kwargs)

        if callback_ctx is None:  # scikit-learn < 1.9 has no callback contexts
            super()._run_search(evaluate)
        else:
            super()._run_search(evaluate, callback_ctx=callback_ctx)

    def _final_estimator(self):
        """handgrad's estimator that the search fits (alone or a pipeline's last step), else
        None (the grid may still change its solver: each fit is checked by _stackable)."""
        est = self.estimator
        if isinstance(est, Pipeline):
            est = est.steps[-1][1]
        return est if isinstance(est, BaseMLP) else None

    def _fit_ahead(self, candidate_params, cv):
        """Every (candidate, split) fit of the round that can be trained at once, trained:
        (their keys, their outcomes) for :func:`._prefit.offered`; None when the splits could
        come out differently when scikit-learn draws them."""
        X, y, params, n_jobs = self._ahead
        cv = check_cv(cv if cv is not None else self.cv, y, classifier=is_classifier(self.estimator))
        seed = getattr(cv, "random_state", 0)
        if getattr(cv, "shuffle", True) and not isinstance(seed, numbers.Integral):
            return None  # drawn anew (None) or from a generator its split advances
        splits = [(_safe_indexing(X, train), _safe_indexing(y, train))
                  for train, _ in cv.split(X, y, **params)]
        finals, data, keys = [], [], []
        for candidate in candidate_params:
            for X_part, y_part in splits:
                # a candidate's values cloned, as scikit-learn's round clones them
                est = clone(self.estimator).set_params(**clone(candidate, safe=False))
                if isinstance(est, Pipeline):
                    try:  # the steps before the network, as Pipeline.fit runs them
                        for _, step in est.steps[:-1]:
                            if step is not None and step != "passthrough":
                                X_part = step.fit_transform(X_part, y_part)
                    except Exception:  # noqa: BLE001 - scikit-learn's round reports it
                        continue
                    est = est.steps[-1][1]
                if _stackable(est, X_part):
                    k = key(est, X_part, y_part)  # before the fit draws from a RandomState
                    if k is not None:
                        finals.append(est)
                        data.append((X_part, y_part))
                        keys.append(k)
        workers = 1 if n_jobs in (None, 1) else ("auto" if n_jobs < 0 else n_jobs)
        errors = fit_together(finals, data, workers)
        return keys, [est if err is None else err for est, err in zip(finals, errors)]


def _stackable(est, X) -> bool:
    """A fit worth doing ahead: handgrad's estimator with a stochastic solver, a seed (with
    random_state=None the draws from numpy's global generator would come in another order),
    no callbacks (they would see the fit twice) and dense data."""
    return (isinstance(est, BaseMLP) and est.solver in STOCHASTIC_SOLVERS
            and est.random_state is not None and not est.callbacks and not sp.issparse(X))


class GridSearchCV(_TogetherSearch, model_selection.GridSearchCV):
    __doc__ = ("scikit-learn's GridSearchCV; when the estimator is handgrad's (alone or a "
               "pipeline's last step) with solver 'sgd' or 'adam', each round's fits are trained "
               "at once, one stack per network shape (see :mod:`handgrad.sklearn._search`), with "
               "the results of training each alone.\n\n" + model_selection.GridSearchCV.__doc__)


class RandomizedSearchCV(_TogetherSearch, model_selection.RandomizedSearchCV):
    __doc__ = ("scikit-learn's RandomizedSearchCV; each round's fits trained at once, as in "
               ":class:`handgrad.sklearn.GridSearchCV`.\n\n" + model_selection.RandomizedSearchCV.__doc__)
