"""scikit-learn's private names that its own tests (and some users) reach for, as thin,
documented compatibility shims over handgrad's state (docs/sklearn.md, "Compatibility names").

* ``est._optimizer.learning_rate`` — the stochastic solver's current step size, read from the
  optimizer state handgrad keeps between calls (``_optimizer_state``);
* ``est._loss_grad_lbfgs(packed, X, Y, sample_weight, ...)`` — the loss and gradient that
  ``solver="lbfgs"`` minimises, in scikit-learn's packing of the parameters.

Nothing here trains; both read or write the same state the estimators use.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import _check_sample_weight, check_array

from ._lbfgs import full_batch_objective
from ._util import _as_training_X


class OptimizerView:
    """``est._optimizer``: scikit-learn's optimizer attributes over handgrad's optimizer state.

    ``learning_rate`` means what it means on scikit-learn's optimizers: for 'sgd' the step
    size of the next update (after invscaling / adaptive changes), settable, and the next
    ``partial_fit`` uses it (as scikit-learn's reused optimizer does); for 'adam' the
    bias-corrected step ``learning_rate_init·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`` of the last update
    (read-only: scikit-learn recomputes it every step). ``learning_rate_init`` is the base
    rate the optimizer was built with.
    """

    def __init__(self, est):
        self._est = est

    @property
    def _state(self) -> dict:
        return self._est._optimizer_state

    @property
    def learning_rate_init(self) -> float:
        return float(self._est.learning_rate_init)

    @property
    def learning_rate(self) -> float:
        state = self._state
        if state["solver"] == "adam":
            t = int(state["t"])
            if t == 0:
                return float(state["lr"])
            est = self._est
            return float(state["lr"]) * math.sqrt(1 - est.beta_2 ** t) / (1 - est.beta_1 ** t)
        return float(state["lr"])

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if self._state["solver"] != "sgd":
            raise AttributeError("Adam's learning_rate is recomputed from learning_rate_init "
                                 "at every step (as in scikit-learn); set learning_rate_init")
        self._state["lr"] = float(value)

    def __repr__(self) -> str:
        return (f"OptimizerView(solver={self._state['solver']!r}, "
                f"learning_rate={self.learning_rate!r})")


class CompatNames:
    """Mixin of :class:`~handgrad.sklearn._base.BaseMLP`: the compatibility names."""

    @property
    def _optimizer(self) -> OptimizerView:
        """scikit-learn's ``_optimizer`` (after a fit with solver 'sgd' or 'adam'): see
        :class:`OptimizerView`."""
        if self.__dict__.get("_optimizer_state") is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute '_optimizer' "
                                 "(it exists after fitting with solver='sgd' or 'adam')")
        return OptimizerView(self)

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, activations=None,
                         deltas=None, coef_grads=None, intercept_grads=None):
        """``(loss, grad)`` of what ``solver="lbfgs"`` minimises, at θ = ``packed_coef_inter``.

        θ and ``grad`` are (n_params,) in scikit-learn's packing: every ``W_l`` (n_{l−1}, n_l)
        raveled, then every ``b_l`` (n_l,). X (n, n_0); y the targets as scikit-learn's
        ``_fit`` hands them over: (n, n_outputs) — the binarized indicator matrix for a
        classifier — or (n,) for one output. ``loss = (1/s) Σ_i w_i ℓ_i + 0.5·alpha·Σ‖W‖²/s``
        with handgrad's per-sample loss ℓ (the head's, derivations.md §3, §12, §13) and its
        hand-derived gradient. As scikit-learn's method does, it sets ``coefs_`` and
        ``intercepts_`` to θ, and writes the gradients into ``coef_grads`` and
        ``intercept_grads`` when lists are given; ``activations`` and ``deltas`` (scikit-learn's
        scratch buffers) are accepted and left untouched.

        One difference: for a regressor with several outputs and the squared error this
        returns the loss whose gradient it is (summed over the outputs), where scikit-learn's
        returns the loss averaged over the outputs beside the same summed gradient.
        """
        shapes = [np.shape(W) for W in self.coefs_]
        theta = np.asarray(packed_coef_inter, dtype=np.float64)
        ends = np.cumsum([math.prod(s) for s in shapes] + [s[1] for s in shapes])
        pieces = np.split(theta, ends[:-1])
        self.coefs_ = [p.reshape(s).copy() for p, s in zip(pieces, shapes)]
        self.intercepts_ = [p.copy() for p in pieces[len(shapes):]]
        dtype = np.float64  # θ is float64, as L-BFGS works in it; so is this evaluation
        X = check_array(X, accept_sparse=["csr", "csc"], dtype=dtype)
        Y = np.asarray(y)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        sw = None if sample_weight is None else _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        net = self._network(dtype)
        objective = full_batch_objective(self, net, _as_training_X(X, dtype),
                                         self._targets(Y, dtype), sw)
        data, l2, flat_grad = objective(net.flat)
        weight_grads, bias_grads = net.layout.views(flat_grad)
        for given, computed in ((coef_grads, weight_grads), (intercept_grads, bias_grads)):
            if given is not None:
                given[:] = [g.copy() for g in computed]
        grad = np.concatenate([g.ravel() for g in list(weight_grads) + list(bias_grads)])
        return data + l2, grad
