"""Small helpers shared by the estimators' solvers."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.sparse as sp


CHUNK = 4096  # rows per forward pass when predicting, validating, or evaluating for L-BFGS


def _as_training_X(X, dtype):
    """X in ``dtype``: CSR if sparse (row batches), else C-contiguous."""
    X = X.astype(dtype, copy=False)
    return X.tocsr() if sp.issparse(X) else np.ascontiguousarray(X)


def _dense(X, dtype) -> np.ndarray:
    if sp.issparse(X):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=dtype)


# The module whose warnings handgrad's estimators stand in for: a filter such as
# filterwarnings("ignore", category=ConvergenceWarning, module="sklearn") must keep working
# after the import swap, and warning filters match the module name only.
SKLEARN_MLP_MODULE = "sklearn.neural_network._multilayer_perceptron"


def warn_as_sklearn(message: str, category=UserWarning) -> None:
    """``warnings.warn(message, category)`` for a warning scikit-learn's MLP issues too,
    matched by warning filters as coming from :data:`SKLEARN_MLP_MODULE`; the file and line
    shown are the caller's (handgrad's), and "default"/"once" filters count it per calling
    line, as ``warnings.warn`` does."""
    frame = sys._getframe(1)
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=SKLEARN_MLP_MODULE,
                           registry=frame.f_globals.setdefault("__warningregistry__", {}),
                           module_globals=frame.f_globals)


def lbfgs_convergence_message(result, max_iter: int) -> str | None:
    """scikit-learn's ``_check_optimize_result`` warning text for an L-BFGS-B ``result``, or
    None when it converged (tests/test_sklearn_warnings.py holds the text equal to
    scikit-learn's, which warns with a stack level that names handgrad's module)."""
    if result.status == 0:
        return None
    n_iter = min(result.nit, max_iter)
    msg = (f"lbfgs failed to converge after {n_iter} iteration(s) (status={result.status}):\n"
           f"{result.message}\n")
    if n_iter == max_iter:
        msg += ("\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={max_iter}).")
    return msg + ("\nYou might also want to scale the data as shown in:\n"
                  "    https://scikit-learn.org/stable/modules/preprocessing.html")
