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
import hashlib
import threading

import numpy as np
import scipy.sparse as sp

_lock = threading.Lock()
_done: dict | None = None  # key -> [fitted estimator or the exception its fit raised, …]


@contextlib.contextmanager
def offered(estimators, data, outcomes):
    """While inside: ``estimators[i]``'s fit on ``data[i]`` = (X, y), done with ``outcomes[i]``
    (None: fitted; else the exception the fit raised), is there for :func:`take`."""
    global _done
    table: dict = {}
    for est, (X, y), outcome in zip(estimators, data, outcomes):
        key = _key(est, X, y)
        if key is not None:
            table.setdefault(key, []).append(est if outcome is None else outcome)
    with _lock:
        _done = table
    try:
        yield
    finally:
        with _lock:
            _done = None


def take(est, X, y):
    """The fitted state for ``est.fit(X, y)`` copied into ``est`` (returns it), or None when
    no such fit was done ahead; the exception that fit raised is raised here."""
    if _done is None:
        return None
    key = _key(est, X, y)
    with _lock:
        found = None if _done is None or key is None else _done.get(key)
        outcome = found.pop() if found else None
    if outcome is None:
        return None
    if isinstance(outcome, BaseException):
        raise outcome
    est.__dict__.update(outcome.__dict__)
    return est


def _key(est, X, y) -> tuple | None:
    params = est.get_params(deep=False)
    parts = [type(est).__qualname__]
    for name in sorted(params):
        value = params[name]
        if isinstance(value, np.random.RandomState):  # cloned: equal by state, not identity
            value = ("RandomState", _digest(value.get_state()[1]))
        elif not isinstance(value, (type(None), bool, int, float, str, tuple, list)):
            return None  # callbacks and other objects: no reliable equality, train as usual
        parts.append((name, repr(value)))
    x, t = _data_digest(X), _data_digest(y)
    return None if x is None or t is None else (tuple(parts), x, t)


def _data_digest(a) -> tuple | None:
    if a is None:
        return ("None",)
    if sp.issparse(a):
        return None
    if hasattr(a, "iloc"):  # pandas: values, index, names and dtypes
        import pandas as pd

        names = tuple(map(str, getattr(a, "columns", [getattr(a, "name", None)])))
        dtypes = tuple(map(str, getattr(a, "dtypes", [a.dtype])))
        return ("pandas", names, dtypes, _digest(pd.util.hash_pandas_object(a, index=True).to_numpy()))
    arr = np.asarray(a)
    if arr.dtype == object:
        return ("object", arr.shape, _digest_text(repr(arr.tolist())))
    return (arr.shape, arr.dtype.str, _digest(arr))


def _digest(arr) -> str:
    return hashlib.blake2b(np.ascontiguousarray(arr).view(np.uint8).reshape(-1), digest_size=16).hexdigest()


def _digest_text(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
