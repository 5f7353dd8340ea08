"""MLPRegressor: scikit-learn's multi-layer perceptron regressor on handgrad's backprop."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (check_array, check_consistent_length, check_is_fitted,
                                      column_or_1d, validate_data)

from ..fast.kernels import decide
from ._base import BaseMLP, _as_training_X


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` trained by handgrad.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor` (scikit-learn
    1.9), with the same parameters, defaults, fitted attributes, methods and training
    semantics (see :mod:`handgrad.sklearn._base`). The network is a :class:`handgrad.MLP`
    with an identity output and half the squared error (``output="identity"``), or with
    ``loss="poisson"`` an exponential output and half the Poisson deviance (``output="exp"``).

    Loss convention (scikit-learn's): the gradient is that of
    ``(1/n) Σ_i ½‖ŷ_i − y_i‖²`` (squared error summed over the outputs, averaged over the
    samples; handgrad's identity head, δ = (Ŷ − Y)/n), but the value scikit-learn reports —
    and so ``loss_``, ``loss_curve_``, ``best_loss_`` and ``history_``'s ``train_loss`` here —
    averages over the outputs as well: ``½·mean over all entries of (ŷ − y)²`` plus
    ``0.5·alpha·Σ‖W‖²/n_batch``. The two agree for one output. With ``solver="lbfgs"`` and
    several outputs, L-BFGS minimises the loss whose gradient it is given (scikit-learn
    hands it the averaged value with the summed gradient); ``loss_`` is still reported in
    scikit-learn's convention.

    ``loss="poisson"`` (scikit-learn's convention too): the prediction is the mean
    ``μ = exp(Z_L)`` and the loss half the Poisson deviance,
    ``(1/n) Σ_i Σ_k [y log(y/μ) − y + μ]`` (summed over the outputs, as scikit-learn's
    ``poisson_loss``; ``y log y = 0`` at y = 0) plus the same alpha term; its gradient with
    respect to Z_L is ``(μ − y)/n`` (derivations.md §13).

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half the squared error with an identity output, or half the Poisson deviance with an
        exponential output (targets must be ≥ 0: counts, rates). As in scikit-learn 1.9 it
        is the first positional parameter.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, \
momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, \
epsilon, n_iter_no_change, max_fun
        As in scikit-learn, same defaults; ``activation`` also takes ``"leaky_relu"``.
    callbacks : list of callables, default=None
        As for :class:`MLPClassifier`: ``cb(record, net)`` after every epoch; True stops.

    Attributes
    ----------
    loss_, best_loss_, loss_curve_, t_, coefs_, intercepts_, n_features_in_, \
feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_, history_
        As for :class:`MLPClassifier` (``out_activation_`` is "identity", or "exp" for
        ``loss="poisson"``; ``history_`` has no accuracies).
    validation_scores_ : list of float or None
        R² on the validation set after every epoch with early stopping, else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``.

    Notes
    -----
    Other differences as listed for :class:`MLPClassifier`: non-negative sample weights,
    sparse X densified by batches, the lbfgs ``verbose`` lines, scikit-learn's initial
    weights rather than handgrad's, Adam's ε added to √v. With ``loss="poisson"``, negative
    targets are refused (scikit-learn trains on them and reports a NaN loss). A warm start
    or ``partial_fit`` after ``set_params(loss=...)`` trains the new loss from the previous
    weights and ``out_activation_`` follows it (scikit-learn keeps the old output function
    and mixes the two losses).
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 callbacks=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.callbacks = callbacks

    @property
    def _data_loss_scale(self) -> int:
        # handgrad's loss sums over the outputs; scikit-learn reports the mean over them for
        # the squared error, and the sum for the Poisson deviance
        return self.n_outputs_ if self.out_activation_ == "identity" else 1

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._check_targets(y, "y")
        return X, y

    def _check_targets(self, y, name: str) -> None:
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(f"loss='poisson' needs {name} >= 0 (counts or rates): the Poisson "
                             f"deviance is undefined for negative targets")

    def _output_head(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validation_set(self, X_val, y_val, dtype):
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"],
                              dtype=(np.float64, np.float32), reset=False)
        y_val = check_array(y_val, ensure_2d=False, dtype=np.float64, input_name="y_val")
        check_consistent_length(X_val, y_val)
        self._check_targets(y_val, "y_val")
        Y_val = y_val.reshape(-1, 1) if y_val.ndim == 1 else y_val
        if Y_val.shape[1] != self.n_outputs_:
            raise ValueError(f"y_val has {Y_val.shape[1]} outputs, y has {self.n_outputs_}")
        return _as_training_X(X_val, dtype), Y_val

    def _val_score(self, logits, Y, sample_weight) -> float:
        with np.errstate(over="ignore"):
            y_pred = decide(self.out_activation_, logits)
        if not np.all(np.isfinite(y_pred)):  # e^Z overflowed; scikit-learn's score is NaN
            return float("nan")
        return r2_score(Y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values: Z_L, or the mean exp(Z_L) for ``loss="poisson"`` (inf where
            it overflows, as in scikit-learn), float32 for float32 input on a float32 model.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=(np.float64, np.float32), reset=False)
        Z = self._logits(X)
        y_pred = Z if self.out_activation_ == "identity" else decide(self.out_activation_, Z)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data (solvers 'sgd', 'adam').

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
