"""MLPClassifier: scikit-learn's multi-layer perceptron classifier on handgrad's backprop."""

# size: about 395 lines, two thirds of them the numpydoc docstrings scikit-learn's API asks of
# every public method (a drop-in must document the same parameters); the code is ~130 lines.

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (_check_partial_fit_first_call, check_classification_targets,
                                      type_of_target, unique_labels)
from sklearn.utils.validation import (_check_sample_weight, check_consistent_length,
                                      check_is_fitted, column_or_1d, validate_data)

from ..core.activations import sigmoid_forward
from ..fast.kernels import probabilities_into
from ._base import BaseMLP, _as_training_X


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier`` trained by handgrad.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier` (scikit-learn
    1.9): the same parameters, defaults, fitted attributes and methods, and the same training
    semantics (see :mod:`handgrad.sklearn._base`); with the same ``random_state`` it starts
    from the same weights and draws the same batches, so it follows scikit-learn's run up to
    rounding. The network is a :class:`handgrad.MLP` whose output is one logistic unit for
    two classes, one logistic unit per label for a multilabel indicator ``y``, and a softmax
    over the classes otherwise; the loss is the cross-entropy plus
    ``0.5·alpha·Σ‖W‖²/n_batch``, backpropagated by handgrad's hand-derived gradients.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, \
momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, \
epsilon, n_iter_no_change, max_fun
        As in scikit-learn, with the same defaults ((100,), "relu", "adam", 1e-4, "auto",
        "constant", 1e-3, 0.5, 200, True, None, 1e-4, False, False, 0.9, True, False, 0.1,
        0.9, 0.999, 1e-8, 10, 15000). ``activation`` also takes ``"leaky_relu"``
        (``max(0.01·z, z)``). ``momentum`` may be 1 and ``nesterovs_momentum`` only acts
        when momentum > 0, as in scikit-learn.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, ``{label: weight}`` (labels as in ``y``), or ``"balanced"``:
        ``n / (n_classes · count_k)`` over the y of each ``fit`` / ``partial_fit`` call, with
        sample weights counted as repeats (``Σw / (n_classes · Σ_{y_i = k} w_i)``, as
        :func:`sklearn.utils.class_weight.compute_class_weight`; classes of zero weight
        don't count). They multiply ``sample_weight``: each batch's loss is the average
        weighted by ``sample_weight · class_weight[y]``, and the alpha term is divided by the
        sum of those. For multilabel y only ``"balanced"``: each label balanced on its own
        and the weights multiplied (scikit-learn's multi-output convention of
        :func:`~sklearn.utils.class_weight.compute_sample_weight`). Validation scores for
        early stopping are not class-weighted.
    callbacks : list of callables, default=None
        Each ``cb(record, net)`` is called after every epoch (every L-BFGS iteration) with the
        epoch's record (the dict appended to ``history_``) and the :class:`handgrad.MLP`
        being trained; returning True, or setting ``cb.stop = True``, stops training there
        (early stopping still puts the best weights back; no ConvergenceWarning).
        :class:`handgrad.training.history.Callback` objects get ``on_train_begin``, ``on_batch_end``,
        ``on_epoch_end`` and ``on_train_end`` too. Callbacks must be picklable for the
        estimator to be.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multilabel y: the label indices 0..n_labels−1).
    loss_ : float
        The loss (cross-entropy + alpha term) of the last epoch, averaged over its batches
        (for lbfgs: at the solution).
    best_loss_ : float or None
        Lowest ``loss_curve_`` value; None with early stopping (sgd/adam only).
    loss_curve_ : list of float
        ``loss_`` of every epoch, over all warm starts (sgd/adam only).
    validation_scores_ : list of float or None
        Accuracy on the validation set after every epoch with early stopping, else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``; None without early stopping.
    t_ : int
        Training samples seen by the solver.
    coefs_, intercepts_ : lists of ndarray
        ``W_l`` of shape (n_{l−1}, n_l) and ``b_l`` of shape (n_l,): copies of the trained
        network's parameters (editing them changes later predictions). float32 for float32
        training data, else float64.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X had string column names.
    n_iter_ : int
        Epochs (L-BFGS iterations) of the last fit; 1 after partial_fit.
    n_layers_ : int
    n_outputs_ : int
        1 for two classes (one logistic output), else the number of classes or labels.
    out_activation_ : str
        "logistic" or "softmax".
    history_ : list of dict
        One record per epoch, over all warm starts, with the keys of
        :attr:`handgrad.History.epochs`: ``epoch``, ``lr``, ``train_loss`` (= the
        ``loss_curve_`` entry), ``train_data_loss``, ``train_l2_loss``, ``train_accuracy``,
        ``val_loss`` (cross-entropy on the validation set), ``val_accuracy``, ``val_score``,
        ``diagnostics`` (per layer ``grad_norm`` and ``update_ratio`` of the epoch's last
        step, ``dead_fraction`` of ReLU-family units) and ``time``. For lbfgs, one record
        per L-BFGS iteration with the loss terms only.

    Notes
    -----
    Where it differs from scikit-learn 1.9:

    * The loss is computed exactly through log-sum-exp / softplus; scikit-learn clips
      probabilities to [eps, 1−eps] first, so ``loss_`` differs where a probability falls below
      ~2e-16.
    * For two classes ``predict_proba`` is ``[σ(−z), σ(z)]`` rather than
      ``[1 − σ(z), σ(z)]`` (equal up to rounding, and the small probability is not rounded
      to 0). Probabilities are clipped to ``[np.finfo(dtype).tiny, 1 − ε/2]``, never exactly
      0 or 1, so ``predict_log_proba`` (= ``log(predict_proba)``, see its docstring for the
      one-ulp argmax rule) is finite where scikit-learn's gives −inf.
    * Sample weights must be ≥ 0 (scikit-learn accepts negative ones). A batch whose weights
      sum to 0 is skipped (scikit-learn divides by zero there).
    * Sparse X is accepted and densified a batch (or a 4096-row chunk) at a time.
    * ``verbose`` with lbfgs prints one "Iteration k, loss = …" line per iteration instead
      of SciPy's L-BFGS-B report.

    And where it differs from the rest of handgrad: the initial weights are scikit-learn's
    (Glorot-uniform weights *and* biases drawn from ``check_random_state(random_state)``),
    not :class:`handgrad.MLP`'s He-normal / zero-bias initialisation, so that the same
    ``random_state`` reproduces scikit-learn's run; and Adam's ε is added to √v as
    scikit-learn does (:class:`handgrad.training.optim.Adam` with ``eps_on="v"``).
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, callbacks=None):
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
        self.class_weight = class_weight
        self.callbacks = callbacks

    # ----- targets ------------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        # as scikit-learn: a first fit (or a fit without warm start) defines the classes;
        # warm starts must keep them, partial_fit may see a subset
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes "
                                     f"as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _output_head(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _targets(self, Y, dtype):
        if self.out_activation_ == "softmax":
            return Y.argmax(axis=1)  # class indices, as handgrad's fused softmax-CE takes them
        return np.ascontiguousarray(Y, dtype=dtype)

    def _sample_weight(self, sample_weight, X, Y, incremental):
        sw = None if sample_weight is None else _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if self.class_weight is None:
            return sw, sw
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if not isinstance(self.class_weight, str):
                raise ValueError("for multilabel y, class_weight can only be 'balanced' (each "
                                 "label balanced on its own, the weights multiplied); or give "
                                 "sample_weight")
            per_sample = np.ones(Y.shape[0])
            for column in Y.T.astype(np.intp):
                per_sample *= _balanced(column, sw, 2)[column]
        else:
            index = Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(np.intp)
            if isinstance(self.class_weight, str):
                cw = _balanced(index, sw, len(self.classes_))
            else:
                cw = compute_class_weight(self.class_weight, classes=self.classes_,
                                          y=self.classes_[index])
            per_sample = cw[index]
        combined = per_sample if sw is None else sw * per_sample
        if not np.any(combined > 0):
            raise ValueError("sample_weight times class_weight is zero for every sample: there is "
                             "nothing to learn from")
        return combined, sw

    def _validation_set(self, X_val, y_val, dtype):
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"],
                              dtype=(np.float64, np.float32), reset=False)
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        check_consistent_length(X_val, y_val)
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(f"y_val has classes not seen in y: {unknown.tolist()}")
        return _as_training_X(X_val, dtype), self._label_binarizer.transform(y_val).astype(bool)

    def _val_score(self, logits, Y, sample_weight) -> float:
        y_pred = self._decide(logits)
        y_true = self._label_binarizer.inverse_transform(Y)
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    # ----- prediction ---------------------------------------------------------------------
    def _decide(self, logits):
        """Labels from logits: the class of the largest probability (for two classes
        σ(z) > σ(−z), which is the argmax of predict_proba), labels with σ(z) > ½."""
        if self.n_outputs_ == 1:
            z = logits[:, 0]
            yes = sigmoid_forward(z) > sigmoid_forward(-z)
            return self._label_binarizer.inverse_transform(yes.astype(np.float64))
        return self._label_binarizer.inverse_transform(probabilities_into(self.out_activation_, logits))

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), reset=False)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes (an indicator matrix for multilabel y).
        """
        return self._decide(self._logits(self._check_X(X)))

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_`` (softmax rows; ``[σ(−z), σ(z)]`` for
            two classes; σ per label for multilabel y), float32 for float32 input on a
            float32 model. Never exactly 0 or 1 (which a finite logit cannot give): clipped
            to ``[np.finfo(dtype).tiny, 1 − ε/2]`` (~2.2e-308 and 1 − 1.1e-16; ~1.2e-38 and
            1 − 6e-8 in float32).
        """
        return self._probabilities(self._logits(self._check_X(X)))

    def _probabilities(self, Z):
        """Logits Z (n, n_outputs) -> predict_proba's (n, n_classes)."""
        if self.n_outputs_ == 1:
            z = Z[:, 0]
            P = np.column_stack([sigmoid_forward(-z), sigmoid_forward(z)])
        else:
            P = probabilities_into(self.out_activation_, Z, out=Z)
        # a finite logit gives a probability strictly inside (0, 1): undo rounding to 0 or 1
        one = P.dtype.type(1)
        return np.clip(P, np.finfo(P.dtype).tiny, np.nextafter(one, 0 * one), out=P)

    def predict_log_proba(self, X):
        """``L = log P`` with ``P = predict_proba(X)``, both (n_samples, n_classes).

        scikit-learn's contract holds: this is ``np.log(self.predict_proba(X))`` (bit for bit,
        but for the one-ulp rule below), ties stay ties, and its row-wise argmax is that of
        ``predict_proba`` (and the class :meth:`predict` returns). It is always finite, because predict_proba never returns
        0 (it floors probabilities at ``np.finfo(dtype).tiny``): where scikit-learn's
        ``log(predict_proba(X))`` gives −inf, this gives ``log(tiny)`` (~−708.4, ~−87.3 in
        float32).

        Where finiteness and equivalence pull apart, and which wins:

        * Equivalence to this estimator's own predict_proba wins over the exact
          log-probability (log-softmax / log σ, which handgrad returned before): a
          log-probability below ``log(tiny)`` reads ``log(tiny)``, and one within ε/2 of 0
          (a probability that rounds to the cap 1 − ε/2) reads ``log(1 − ε/2)`` ≈ −1.1e-16
          (−6e-8 in float32) rather than, say, −1e-20. Finiteness is kept by the floor,
          not by departing from ``log(predict_proba)``.
        * Agreement of the argmax wins over bitwise equality, by one ulp: ``log`` can round
          two probabilities a few ulps apart to the same value, which would move the argmax
          to the smaller one when it comes first. In such a row the largest probability's
          log (every entry tied with it) is raised by one ulp, so the argmax agrees again and
          ties remain ties; everywhere else the values are ``np.log(predict_proba(X))``
          bit for bit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``, in predict_proba's dtype.
        """
        P = self._probabilities(self._logits(self._check_X(X)))
        L = np.log(P)
        top = P.argmax(axis=1)
        rows = np.flatnonzero(L.argmax(axis=1) != top)
        if rows.size:
            is_top = P[rows] == P[rows, top[rows]][:, None]
            raised = np.nextafter(L[rows, top[rows]], 0 * L.dtype.type(1))
            L[rows] = np.where(is_top, raised[:, None], L[rows])
        return L

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data (solvers 'sgd', 'adam').

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            All the classes across the calls; required on the first call.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _balanced(index, sample_weight, n_classes: int):
    """"balanced" class weights ``Σw / (n_present · Σ_{i: y_i = k} w_i)`` (scikit-learn's
    definition, with sample weights counted as repeats), 0 for classes of no weight."""
    counts = np.bincount(index, weights=sample_weight, minlength=n_classes)
    present = counts > 0
    n_present = np.count_nonzero(present)
    return np.where(present, counts.sum() / (n_present * np.where(present, counts, 1)), 0.0)
