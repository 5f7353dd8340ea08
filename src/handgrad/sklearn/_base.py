"""The shared machinery of the two estimators: parameters, the training loops, the forward pass.

Training follows ``sklearn/neural_network/_multilayer_perceptron.py`` (scikit-learn 1.9) step
by step — the same random draws in the same order (initial weights, early-stopping split,
shuffles), the same batches, the same bookkeeping of ``loss_curve_``, ``t_``, ``n_iter_``,
``best_loss_``, ``validation_scores_`` and the same stopping rules — while every loss,
gradient and update is handgrad's:

* the network is a :class:`handgrad.MLP` with the output head scikit-learn would use
  (``"softmax"``, ``"logistic"`` or ``"identity"``), its loss and backprop
  ``MLP.train_step``, in the epoch loop :func:`handgrad.fit` uses too
  (:class:`handgrad.training.steps.EpochRunner`);
* scikit-learn's penalty ``0.5·alpha·Σ‖W‖²/n_batch`` is handgrad's ``λ Σ‖W‖²`` with
  ``λ = alpha/(2·n_batch)`` (:func:`handgrad.core.regularization.l2_from_sklearn_alpha`), set per
  batch because the last batch can be smaller; with sample weights scikit-learn averages the
  loss with the weights and divides the penalty by their sum s, which is handgrad's weighted
  loss with weights ``w·n_batch/s`` and ``λ = alpha/(2·s)``;
* ``"sgd"`` and ``"adam"`` (:mod:`._stochastic`) are :class:`handgrad.training.optim.SGD` (Sutskever form)
  and :class:`handgrad.training.optim.Adam` stepping the flat parameter buffer; ``"lbfgs"`` is
  ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` over that buffer.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight

from ..network import MLP
from ._compat_names import CompatNames
from ._lbfgs import fit_lbfgs
from ._prefit import take
from ._stochastic import StochasticSolver
from ._util import CHUNK, _as_training_X, _dense

# scikit-learn's activation names -> handgrad's
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "leaky_relu": "leaky_relu"}
STOCHASTIC_SOLVERS = ("sgd", "adam")


class BaseMLP(CompatNames, StochasticSolver, BaseEstimator):
    """Base of :class:`MLPClassifier` and :class:`MLPRegressor`; not for direct use."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, tuple, None],
    }

    # ----- what the subclasses provide ------------------------------------------------------
    def _validate_input(self, X, y, incremental: bool, reset: bool):
        """-> (X, Y): validated X, and Y (n, n_outputs) as scikit-learn trains on it."""
        raise NotImplementedError

    def _output_head(self) -> str:
        raise NotImplementedError

    def _targets(self, Y: np.ndarray, dtype) -> np.ndarray:
        """Y -> the targets handgrad's head takes (class indices for softmax, else values)."""
        return np.ascontiguousarray(Y, dtype=dtype)

    def _sample_weight(self, sample_weight, X, Y, incremental: bool):
        """-> (training weights or None, the user's weights or None)."""
        if sample_weight is None:
            return None, None
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        return sw, sw

    def _val_score(self, logits, y_true, sample_weight) -> float:
        raise NotImplementedError

    def _validation_set(self, X_val, y_val, dtype):
        """A user-supplied validation set -> (X_val, Y_val) like the training set."""
        raise NotImplementedError

    _data_loss_scale = 1  # scikit-learn reports the squared error averaged over outputs too

    # ----- fitting ----------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 data train a float32 network; anything else float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights: the loss of each batch is their weighted average.
        X_val, y_val : validation set, default=None
            With ``early_stopping=True`` and solver 'sgd' or 'adam': the validation set that
            early stopping scores every epoch, instead of holding out
            ``validation_fraction`` of (X, y). Giving them without early stopping is an
            error; solver 'lbfgs' ignores them with a warning.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if sample_weight is None and X_val is None and y_val is None and not hasattr(self, "coefs_"):
            done = take(self, X, y)  # this very fit, done ahead by handgrad.sklearn.GridSearchCV
            if done is not None:
                return done
        return self._fit(X, y, sample_weight=sample_weight, X_val=X_val, y_val=y_val)

    def _fit(self, X, y, sample_weight=None, incremental=False, X_val=None, y_val=None):
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        sw, sw_user = self._sample_weight(sample_weight, X, Y, incremental)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        self.n_outputs_ = Y.shape[1]
        n_features = X.shape[1]
        layer_units = [n_features] + hidden + [self.n_outputs_]
        rs = check_random_state(self.random_state)
        # float32 in -> float32 network; a later warm start / partial_fit promotes as numpy does
        dtype = (X.dtype if first_pass
                 else np.promote_types(X.dtype, np.asarray(self.coefs_[0]).dtype))
        X = _as_training_X(X, dtype)
        if first_pass:
            self._initialize(layer_units, dtype, rs)
        else:
            self._continue_from_fitted_state(layer_units)
        net = self._network(dtype)
        T = self._targets(Y, dtype)
        if self.solver in STOCHASTIC_SOLVERS:
            if X_val is not None or y_val is not None:
                X_val, y_val = self._check_user_validation(X_val, y_val, dtype)
            if self._fit_stochastic(net, X, Y, T, sw, sw_user, incremental, rs, X_val, y_val):
                return self  # its epochs run in a stack; ._stacked calls _finish_fit after them
        else:
            if X_val is not None or y_val is not None:
                warnings.warn("X_val and y_val are ignored by solver='lbfgs' (early stopping is "
                              "for 'sgd' and 'adam')", UserWarning, stacklevel=3)
            fit_lbfgs(self, net, X, T, sw)
        return self._finish_fit(dtype)

    def _finish_fit(self, dtype):
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        self._template = self._network(dtype)
        return self

    def _initialize(self, layer_units, dtype, rs) -> None:
        """Fitted attributes of a first fit, and the initial weights drawn exactly as
        scikit-learn draws them (Glorot-uniform weights and biases, bound √(6/(fan_in+fan_out)),
        √(2/…) for the logistic activation), so the same random_state gives the same start."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_head()
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in pairwise(layer_units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(rs.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            self.intercepts_.append(rs.uniform(-bound, bound, fan_out).astype(dtype))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        self.history_ = []
        self._optimizer_state = None
        if self.solver in STOCHASTIC_SOLVERS:
            self._reset_stochastic_state()

    def _continue_from_fitted_state(self, layer_units) -> None:
        """A warm start or partial_fit from the fitted state, which may have been set by hand
        (scikit-learn's own tests set coefs_, intercepts_, out_activation_, t_, loss_curve_ …
        and call partial_fit). Only what handgrad keeps beyond scikit-learn's attributes is
        filled in; the output head follows the estimator's current parameters, so a
        ``set_params(loss=...)`` between calls takes effect."""
        self.coefs_ = [np.asarray(W) for W in self.coefs_]
        self.intercepts_ = [np.asarray(b).reshape(-1) for b in self.intercepts_]
        fitted = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
        if [fitted[0], fitted[-1]] != [layer_units[0], layer_units[-1]]:
            raise ValueError(f"warm_start/partial_fit needs the inputs and outputs of the "
                             f"previous fit: layers {fitted}, now {layer_units}")
        if fitted != layer_units:
            # scikit-learn goes on training the fitted network and ignores the new sizes;
            # so does this, but says so (5 frames up: the caller of fit / partial_fit)
            warnings.warn(f"hidden_layer_sizes={self.hidden_layer_sizes!r} differs from the "
                          f"fitted network's hidden layers {fitted[1:-1]}: warm_start and "
                          f"partial_fit continue training the fitted network (as scikit-learn "
                          f"does); fit with warm_start=False to build the new one",
                          UserWarning, stacklevel=5)
        self.out_activation_ = self._output_head()
        self.n_layers_ = len(layer_units)
        if not hasattr(self, "history_"):
            self.history_ = []
        for name in ("n_iter_", "t_"):
            if not hasattr(self, name):
                setattr(self, name, 0)

    def _network(self, dtype, l2: float = 0.0) -> MLP:
        """A handgrad MLP holding copies of coefs_ and intercepts_ in ``dtype``."""
        sizes = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
        return MLP(sizes, activation=ACTIVATIONS[self.activation], l2=l2, dtype=dtype, seed=0,
                   output=self.out_activation_,
                   params=[p for pair in zip(self.coefs_, self.intercepts_) for p in pair])

    def _store(self, net: MLP) -> None:
        """coefs_ / intercepts_ become copies of the network's W_l / b_l."""
        self.coefs_ = [W.copy() for W in net.weights]
        self.intercepts_ = [b.copy() for b in net.biases]

    def _check_solver(self) -> bool:
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    # ----- prediction ---------------------------------------------------------------------
    def _logits(self, X) -> np.ndarray:
        """Output-layer pre-activations Z_L (n, n_outputs) of validated X, in X's dtype promoted
        with the coefficients' (float32 data on a float32 model stay float32)."""
        dtype = np.promote_types(X.dtype, self.coefs_[0].dtype)
        net = self._predict_network(dtype)
        out = np.empty((X.shape[0], self.n_outputs_), dtype=dtype)
        for start in range(0, X.shape[0], CHUNK):
            chunk = X[start:start + CHUNK]
            chunk = _dense(chunk, dtype) if sp.issparse(chunk) else chunk
            for s, logits in net.logits_in_chunks(chunk, CHUNK):
                out[start + s:start + s + logits.shape[0]] = logits
        return out

    def _predict_network(self, dtype) -> MLP:
        """A network holding the current coefs_ / intercepts_ (so edits to them count, as in
        scikit-learn): the template that fit keeps (building an MLP draws initial weights,
        which costs more than a small prediction), or its copy in another dtype. Concurrent
        predictions write the same values into the template; each has its own workspace."""
        template = self.__dict__.get("_template")
        sizes = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
        if (template is None or template.sizes != sizes or template.output != self.out_activation_
                or [a.name for a in template.activations]
                != [ACTIVATIONS[self.activation]] * (len(sizes) - 2)):
            return self._network(dtype)
        net = template if template.dtype == dtype else template.astype(dtype)
        net.set_params([p for pair in zip(self.coefs_, self.intercepts_) for p in pair])
        return net

    def __getstate__(self):
        # a pickled MLP would lose the views of its flat buffer; __setstate__ rebuilds it
        state = dict(super().__getstate__())
        state.pop("_template", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "coefs_" in state:
            self._template = self._network(self.coefs_[0].dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # accepted; densified a batch / chunk at a time
        return tags
