"""The stochastic solvers ('sgd', 'adam') of the estimators: scikit-learn's ``_fit_stochastic``
step by step — the same early-stopping split, shuffles, batches, bookkeeping and stopping
rules — over handgrad's epoch loop (:class:`handgrad.training.steps.EpochRunner`), the one
:func:`handgrad.fit` uses too."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ..core.regularization import l2_from_sklearn_alpha
from ..fast.kernels import LOSSES
from ..fast.predict import forward_in_chunks
from ..fast.threads import limit_blas_threads
from ..network import MLP
from ..training.diagnostics import notify as _notify
from ..training.history import History
from ..training.optim import SGD, Adam
from ..training.steps import SKIP, EpochRunner
from ._util import CHUNK, _dense, warn_as_sklearn


class StochasticSolver:
    """Mixin of :class:`~handgrad.sklearn._base.BaseMLP`: solver='sgd' and solver='adam'."""

    def _reset_stochastic_state(self) -> None:
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _make_optimizer(self, net: MLP, incremental: bool):
        """handgrad's SGD / Adam with scikit-learn's parameters; partial_fit resumes its state."""
        if self.solver == "sgd":
            mu = float(self.momentum)
            # scikit-learn allows μ = 1 (and Nesterov with μ = 0); handgrad's SGD refuses both
            # up front, so build it with a legal μ and set the real one before init
            opt = SGD(lr=self.learning_rate_init, momentum=mu if mu < 1 else 0.5,
                      nesterov=bool(self.nesterovs_momentum) and mu > 0)
            opt.momentum = mu
        else:
            # scikit-learn adds ε to √v, not to √v̂
            opt = Adam(lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2,
                       eps=self.epsilon, eps_on="v")
        opt.init(net.n_params, net.dtype)
        state = getattr(self, "_optimizer_state", None)
        if incremental and state is not None and state.get("solver") == self.solver:
            if self.solver == "adam" or (state["velocity"] is None) == (opt.velocity is None):
                opt.load_state_dict(state)  # casts the arrays if the dtype changed
            else:  # momentum switched on or off between calls: keep the learning rate only
                opt.lr = state["lr"]
        return opt

    def _check_user_validation(self, X_val, y_val, dtype):
        if X_val is None or y_val is None:
            raise ValueError("give both X_val and y_val, or neither")
        if not self.early_stopping:
            raise ValueError("X_val and y_val are the validation set of early stopping: "
                             "set early_stopping=True to use them")
        return self._validation_set(X_val, y_val, dtype)

    def _fit_stochastic(self, net, X, Y, T, sw, sw_user, incremental, rs, X_val, y_val) -> bool:
        """The fit's stochastic part; True when its epochs were handed to a stack (._stacked)
        instead of run here."""
        if not hasattr(self, "loss_curve_"):  # a warm start after an lbfgs fit
            self._reset_stochastic_state()
        # early_stopping switched on or off since the last fit: start the bookkeeping the
        # new mode needs (scikit-learn fails here on None.append or None − tol)
        if self.early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf
        opt = self._make_optimizer(net, incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        val = None
        if early_stopping:
            if X_val is not None:  # the user's validation set (validated, in Y form)
                Y_val, sw_val = y_val, None
            else:
                stratify = Y if (is_classifier(self) and self.n_outputs_ == 1) else None
                train_idx, val_idx = train_test_split(
                    np.arange(X.shape[0]), random_state=rs, test_size=self.validation_fraction,
                    stratify=stratify)
                if val_idx.shape[0] < 2:
                    raise ValueError("The validation set is too small. Increase "
                                     "'validation_fraction' or the size of your dataset.")
                X_val, Y_val = X[val_idx], Y[val_idx]
                sw_val = None if sw_user is None else sw_user[val_idx]
                X, Y, T = X[train_idx], Y[train_idx], T[train_idx]
                sw = None if sw is None else sw[train_idx]
            val = (X_val, Y_val, self._targets(Y_val, net.dtype), sw_val)
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warn_as_sklearn("Got `batch_size` less than 1 or larger than sample size. It "
                                "is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        job = self.__dict__.get("_together")
        if job is not None:  # trained with other estimators in one stack (._stacked) instead
            job.update(net=net, opt=opt, X=X, T=T, sw=sw, batch_size=batch_size, rs=rs, val=val)
            return True
        self._run_epochs(net, opt, X, T, sw, batch_size, incremental, rs, val)
        return False

    def _run_epochs(self, net, opt, X, T, sw, batch_size, incremental, rs, val) -> None:
        """The epochs of a fit alone, in their context (:func:`epoch_context`)."""
        with epoch_context(net, batch_size):
            self._epochs(net, opt, X, T, sw, batch_size, incremental, rs, val)

    def _epochs(self, net, opt, X, T, sw, batch_size, incremental, rs, val) -> None:
        """scikit-learn's epoch loop (``_fit_stochastic``) over handgrad's steps: the loop of
        :meth:`_epoch_loop`, each epoch it asks for run by an :class:`EpochRunner`."""
        callbacks = list(self.callbacks or ())
        runner = EpochRunner(net, opt, batch_size, diagnostics=True, callbacks=callbacks)
        densify = (lambda Xb: _dense(Xb, net.dtype)) if sp.issparse(X) else None
        drive(self._epoch_loop(net, opt, X, sw, batch_size, incremental, rs, val, callbacks),
              lambda order, batch_weights, epoch: runner.run(
                  X, T, None, order, epoch=epoch, batch_weights=batch_weights, densify=densify))

    def _epoch_loop(self, net, opt, X, sw, batch_size, incremental, rs, val, callbacks):
        """scikit-learn's epoch loop as a generator: it yields one request per epoch —
        (row order or None, the batch-weights hook, the epoch's index) — and is sent back the
        epoch's :class:`~handgrad.training.steps.EpochSums` from whoever ran the steps (one
        EpochRunner, or a stack of many estimators: :mod:`._stacked`); ``net`` must then hold
        the weights after the epoch. Everything else — shuffles, bookkeeping, stopping rules,
        the best weights — happens here, once for both."""
        n_samples = X.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        records, stop_reason = [], f"completed max_iter={self.max_iter} epochs"
        _notify(callbacks, "on_train_begin", {
            "epochs": self.max_iter, "n_batches": -(-n_samples // batch_size),
            "n_train": n_samples, "n_val": None if val is None else val[0].shape[0]})
        early_stopping = val is not None

        def batch_weights(rows, k):
            """scikit-learn's per-batch penalty 0.5·alpha·Σ‖W‖²/n_batch as handgrad's λ; with
            sample weights its weighted mean and penalty over Σw, as weights w·k/Σw and λ."""
            if sw is None:
                net.l2 = l2_from_sklearn_alpha(self.alpha, k)
                return None
            swb = sw[rows]
            s = float(swb.sum())
            if s <= 0:  # nothing to learn from (scikit-learn divides by zero here)
                return SKIP
            net.l2 = l2_from_sklearn_alpha(self.alpha, s)
            return (swb * (k / s)).astype(net.dtype)

        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                t0 = time.perf_counter()
                if self.shuffle:
                    # what sklearn.utils.shuffle does, without its per-call validation
                    # overhead: the same draws from rs, so the same order as scikit-learn
                    perm = np.arange(n_samples)
                    rs.shuffle(perm)
                    sample_idx = sample_idx[perm]
                start_lr = opt.lr
                sums = yield (sample_idx if self.shuffle else None, batch_weights,
                              len(self.loss_curve_))
                data_sum = sums.data / self._data_loss_scale
                self.n_iter_ += 1
                self.loss_ = (data_sum + sums.l2) / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                record = {"epoch": len(self.loss_curve_), "lr": start_lr,
                          "train_loss": self.loss_, "train_data_loss": data_sum / n_samples,
                          "train_l2_loss": sums.l2 / n_samples,
                          "train_accuracy": None if sums.correct is None else sums.correct / n_samples,
                          "val_loss": None, "val_accuracy": None, "val_score": None}
                self._update_no_improvement_count(net, record, val)
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    opt.lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if sums.diagnostics is not None:
                    record["diagnostics"] = sums.diagnostics
                record["time"] = time.perf_counter() - t0
                self.history_.append(record)
                records.append(record)
                if _notify(callbacks, "on_epoch_end", record, net):
                    stop_reason = f"stopped by a callback after epoch {record['epoch']}"
                    break
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = ("Validation score did not improve more than tol=%f for %d "
                               "consecutive epochs." % (self.tol, self.n_iter_no_change))
                    else:
                        msg = ("Training loss did not improve more than tol=%f for %d "
                               "consecutive epochs." % (self.tol, self.n_iter_no_change))
                    adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
                    if adaptive and opt.lr > 1e-6:
                        opt.lr /= 5.0
                        if self.verbose:
                            print(msg + " Setting learning rate to %f" % opt.lr)
                        self._no_improvement_count = 0
                    else:
                        if self.verbose:
                            print(msg + (" Learning rate too small." if adaptive else "")
                                  + " Stopping.")
                        stop_reason = msg
                        break
                if incremental:
                    stop_reason = "partial_fit: one epoch"
                    break
                if self.n_iter_ == self.max_iter:
                    warn_as_sklearn("Stochastic Optimizer: Maximum iterations (%d) reached and "
                                    "the optimization hasn't converged yet." % self.max_iter,
                                    ConvergenceWarning)
        except KeyboardInterrupt:
            warn_as_sklearn("Training interrupted by user.")
            stop_reason = "interrupted by the user"
        self._optimizer_state = {"solver": self.solver, **opt.state_dict()}
        if early_stopping:  # the weights of the best validation score
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts
        else:
            self._store(net)
        _notify(callbacks, "on_train_end", History(
            epochs=records, stop_reason=stop_reason,
            monitor="val_score" if early_stopping else "train_loss"))

    def _update_no_improvement_count(self, net, record, val) -> None:
        if val is not None:
            X_val, Y_val, T_val, sw_val = val
            score, loss = self._evaluate(net, X_val, Y_val, T_val, sw_val)
            record["val_score"], record["val_loss"] = score, loss
            if is_classifier(self):
                record["val_accuracy"] = score
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [W.copy() for W in net.weights]
                self._best_intercepts = [b.copy() for b in net.biases]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _evaluate(self, net, X, Y, T, sample_weight) -> tuple[float, float]:
        """(score, data loss) on a validation set; NaN for both when the outputs are not finite
        (scikit-learn's score is NaN then too)."""
        with np.errstate(over="ignore", invalid="ignore"):
            logits = np.concatenate([forward_in_chunks(net, _dense(X[s:s + CHUNK], net.dtype))
                                     for s in range(0, X.shape[0], CHUNK)])
            if not np.all(np.isfinite(logits)):
                return float("nan"), float("nan")
            loss = LOSSES[net.output](logits, T, **net.head_params)[0] / self._data_loss_scale
        return float(self._val_score(logits, Y, sample_weight)), float(loss)


def epoch_context(net, batch_size: int):
    """Around the epochs: the BLAS thread count for the batch's products, and overflow in a
    diverging run not refused mid-way (scikit-learn refuses non-finite weights at the end of
    fit)."""
    stack = contextlib.ExitStack()
    stack.enter_context(limit_blas_threads(net, batch_size))
    stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
    return stack


def drive(loop, run_epoch) -> None:
    """Run the generator ``loop`` (:meth:`StochasticSolver._epoch_loop`) to its end, each
    request answered by ``run_epoch(order, batch_weights, epoch)``; a Ctrl-C during an epoch
    is thrown into the loop, which ends the fit as scikit-learn does (a warning, the weights
    kept)."""
    try:
        request = next(loop)
        while True:
            try:
                sums = run_epoch(*request)
            except KeyboardInterrupt as exc:
                request = loop.throw(exc)
            else:
                request = loop.send(sums)
    except StopIteration:
        pass
