"""solver="lbfgs": SciPy's L-BFGS-B over handgrad's loss, its gradient and the flat buffer."""

from __future__ import annotations

import time

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from ..core.losses import l2_penalty, l2_penalty_grad
from ..core.regularization import l2_from_sklearn_alpha
from ..fast.threads import limit_blas_threads
from ..training.diagnostics import notify as _notify
from ..training.history import History
from ._util import CHUNK, _dense, lbfgs_convergence_message, warn_as_sklearn


def full_batch_objective(est, net, X, T, sw):
    """-> ``objective(x) = (data, l2, grad)``: the loss L-BFGS minimises at the flat parameter
    vector x (handgrad's layout), ``data + l2 = (1/s) Σ_i w_i ℓ_i + 0.5·alpha·Σ‖W‖²/s``
    (s = Σw, or n), and its gradient (n_params,), computed in chunks of rows of X (n, n_0)
    (sparse X densified a chunk at a time). Sets ``net.l2``; x is copied into ``net.flat``."""
    n = X.shape[0]
    s = n if sw is None else float(sw.sum())
    net.l2 = l2_from_sklearn_alpha(est.alpha, s)
    w = None if sw is None else (sw * (n / s)).astype(net.dtype)
    ws = net.workspace(min(n, CHUNK))

    def objective(x):
        net.flat[...] = x
        grad = np.zeros(net.n_params)
        data = 0.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for start in range(0, n, CHUNK):
                stop = min(start + CHUNK, n)
                step = net.train_step(_dense(X[start:stop], net.dtype), T[start:stop],
                                      None if w is None else w[start:stop], ws, part="data")
                f = (stop - start) / n  # each chunk's mean, weighted by its share of rows
                data += step.data_loss * f
                grad += net.flat_grad if f == 1 else f * net.flat_grad
            l2 = l2_penalty(net.weights, net.l2)
            for gW, W in zip(net.layout.views(grad)[0], net.weights):  # weights only
                gW += l2_penalty_grad(W, net.l2)
        return data, l2, grad

    return objective


def fit_lbfgs(est, net, X, T, sw) -> None:
    """Train ``net`` for the estimator ``est`` (scikit-learn's ``_fit_lbfgs``): L-BFGS-B
    over the flat parameter buffer, on handgrad's full-batch loss and gradient
    (:func:`full_batch_objective`). Sets ``n_iter_``, ``loss_``, ``coefs_``, ``intercepts_``
    and appends one ``history_`` record per iteration; callbacks are called after every
    iteration and may stop it."""
    n = X.shape[0]
    objective = full_batch_objective(est, net, X, T, sw)
    last = {}

    def loss_and_grad(x):
        data, l2, grad = objective(x)
        last.update(x=np.array(x, copy=True), data=data, l2=l2)
        return data + l2, grad

    def reported(x) -> tuple[float, float]:
        if "x" not in last or not np.array_equal(last["x"], x):
            loss_and_grad(x)
        return last["data"] / est._data_loss_scale, last["l2"]

    callbacks = list(est.callbacks or ())
    records, state = [], {"it": 0, "stopped": False, "t0": time.perf_counter()}

    def on_iteration(intermediate_result):
        state["it"] += 1
        data, l2 = reported(intermediate_result.x)
        net.flat[...] = intermediate_result.x
        record = {"epoch": state["it"], "lr": None, "train_loss": data + l2,
                  "train_data_loss": data, "train_l2_loss": l2,
                  "time": time.perf_counter() - state["t0"]}
        state["t0"] = time.perf_counter()
        records.append(record)
        est.history_.append(record)
        if est.verbose:
            print("Iteration %d, loss = %.8f" % (state["it"], data + l2))
        if _notify(callbacks, "on_epoch_end", record, net):
            state["stopped"] = True
            raise StopIteration

    _notify(callbacks, "on_train_begin", {"epochs": est.max_iter, "n_batches": 1,
                                          "n_train": n, "n_val": None})
    with limit_blas_threads(net, min(n, CHUNK)):
        res = scipy.optimize.minimize(
            loss_and_grad, net.flat.astype(np.float64), method="L-BFGS-B", jac=True,
            callback=on_iteration,
            options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol})
    if state["stopped"]:
        est.n_iter_ = min(res.nit, est.max_iter)
    else:
        est.n_iter_ = min(res.nit, est.max_iter)
        message = lbfgs_convergence_message(res, est.max_iter)
        if message is not None:
            warn_as_sklearn(message, ConvergenceWarning)
    data, l2 = reported(res.x)
    est.loss_ = data + l2
    net.flat[...] = res.x
    est._store(net)
    _notify(callbacks, "on_train_end", History(
        epochs=records, monitor="train_loss",
        stop_reason="stopped by a callback" if state["stopped"] else str(res.message)))
