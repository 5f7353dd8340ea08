"""Fits done ahead, handed to the ``fit`` calls that ask for them.

:class:`handgrad.sklearn.GridSearchCV` trains every (candidate, split) fit of a search at once
(:func:`._stacked.fit_together`) and then lets scikit-learn's own search run as usual: when
its ``_fit_and_score`` calls ``fit`` on a clone with a candidate's parameters and a split's
rows, :func:`take` finds the fit already done for exactly those parameters and those rows
(compared by value: a digest of the data) and ``fit`` returns it instead of training again.
Anything else — other parameters, other rows, fit parameters, another process — finds
nothing and trains as usual, so the results never depend on whether the fit was found.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import numbers

import numpy as np
import scipy.sparse as sp

# key -> [fitted estimator or the exception its fit raised, …]; per thread (a context variable):
# only the fits of the search running in this thread find them
_done: contextvars.ContextVar[dict | None] = contextvars.ContextVar("handgrad_prefit", default=None)


def key(est, X, y) -> tuple | None:
    """What identifies ``est.fit(X, y)``: the estimator's class and parameters and digests of
    the data; None when a parameter or the data cannot be compared by value (such fits are
    not done ahead). Taken before the fit: fitting draws from a RandomState parameter."""
    params = est.get_params(deep=False)
    parts = [type(est).__qualname__]
    for name in sorted(params):
        value = params[name]
        if isinstance(value, np.random.RandomState):  # cloned: equal by state, not identity
            _, keys, pos, has_gauss, gauss = value.get_state()
            value = ("RandomState", _digest(keys), int(pos), int(has_gauss), float(gauss))
        elif not _plain(value):
            return None  # callbacks and other objects: no reliable equality
        parts.append((name, repr(value)))
    x, t = _data_digest(X), _data_digest(y)
    return None if x is None or t is None else (tuple(parts), x, t)


@contextlib.contextmanager
def offered(keys, outcomes):
    """While inside (in this thread): the fit identified by ``keys[i]`` (:func:`key`), done with
    ``outcomes[i]`` (a fitted estimator, or the exception the fit raised), is there for
    :func:`take`."""
    table: dict = {}
    for k, outcome in zip(keys, outcomes):
        table.setdefault(k, []).append(outcome)
    token = _done.set(table)
    try:
        yield
    finally:
        _done.reset(token)


def take(est, X, y):
    """The fitted state for ``est.fit(X, y)`` copied into ``est`` (returns it), or None when
    no such fit was done ahead; the exception that fit raised is raised here."""
    table = _done.get()
    if not table:
        return None
    k = key(est, X, y)
    found = None if k is None else table.get(k)
    outcome = found.pop() if found else None
    if outcome is None:
        return None
    if isinstance(outcome, BaseException):
        raise outcome
    est.__dict__.update(outcome.__dict__)
    return est


def _plain(value) -> bool:
    """Compared by its repr: numbers, strings, None and containers of them."""
    if value is None or isinstance(value, (bool, numbers.Number, str, np.generic)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def _data_digest(a) -> tuple | None:
    if a is None:
        return ("None",)
    if sp.issparse(a):
        return None
    if hasattr(a, "iloc"):  # pandas: values, index, names and dtypes
        import pandas as pd

        frame = hasattr(a, "columns")
        names = tuple(map(str, a.columns)) if frame else (str(a.name),)
        dtypes = tuple(map(str, a.dtypes)) if frame else (str(a.dtype),)
        return ("pandas", names, dtypes, _digest(pd.util.hash_pandas_object(a, index=True).to_numpy()))
    arr = np.asarray(a)
    if arr.dtype == object:
        return ("object", arr.shape, _digest_text(repr(arr.tolist())))
    return (arr.shape, arr.dtype.str, _digest(arr))


def _digest(arr) -> str:
    return hashlib.blake2b(np.ascontiguousarray(arr).view(np.uint8).reshape(-1), digest_size=16).hexdigest()


def _digest_text(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
