"""Between scikit-learn and handgrad's own formats.

* :func:`model_from_sklearn`: a fitted ``MLPClassifier`` or ``MLPRegressor`` (scikit-learn's
  or handgrad's), or a Pipeline of a ``StandardScaler`` (or handgrad's ``TableTransformer``)
  and one, → a handgrad :class:`~handgrad.model.Model` (then a model file with
  :func:`handgrad.save_model`); a regressor becomes a regression Model without target scaling
  (its outputs are the target's units): ``loss="squared_error"`` the identity head,
  ``loss="poisson"`` the exp head;
* :func:`estimator_from_model`: a Model → a fitted :class:`handgrad.sklearn.MLPClassifier` or
  :class:`~handgrad.sklearn.MLPRegressor` (in a Pipeline after a StandardScaler or
  TableTransformer when the model preprocesses); a regressor's target scaling is folded into
  its last layer;
* :func:`handgrad_estimator`: scikit-learn's fitted ``MLPClassifier``/``MLPRegressor`` → the
  same fitted :class:`handgrad.sklearn` estimator (multilabel classifiers, which a model file
  cannot hold, come over this way).

A model file holds one softmax over K classes; scikit-learn gives two classes one logistic
output z with P = [1 − σ(z), σ(z)]. The two are the same function: softmax([0, z]) =
[σ(−z), σ(z)], so the imported output layer is [0 | W], [0, b]; and back, a two-class
softmax [z₀, z₁] is one logistic output z₁ − z₀.

A regression Model predicts ``y = g⁻¹(s·μ + m)`` (its :class:`~handgrad.data.target_scaling.TargetScaler`;
μ = Z or e^Z). An MLPRegressor predicts Z or e^Z, so the map goes into the last layer where it
is one: for Z, ``s·Z + m`` is the layer ``W_L·s``, ``b_L·s + m``; for e^Z with m = 0 (the
scalings "scale" and "none"), ``s·e^Z = e^(Z + log s)`` is the bias ``b_L + log s``. A model
that learned log y (scaling "log") is not converted (see :func:`estimator_from_model`).
"""

from __future__ import annotations

import numpy as np

from ..core.activations import get_activation
from ..data.preprocessing import Standardizer
from ..errors import InputError
from ..model.model import Model
from ..network import MLP

_TO_HANDGRAD = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                "leaky_relu": "leaky_relu"}
_TO_SKLEARN = {"identity": "identity", "sigmoid": "logistic", "tanh": "tanh", "relu": "relu",
               "leaky_relu": "leaky_relu"}
_FITTED = ("coefs_", "intercepts_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_",
           "n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
           "best_validation_score_", "feature_names_in_")


def _split(obj):
    """(preprocessing step or None, final estimator) of an estimator or a two-step Pipeline."""
    steps = getattr(obj, "steps", None)
    if steps is None:
        return None, obj
    steps = [s for _, s in steps if s not in (None, "passthrough")]
    if len(steps) == 1:
        return None, steps[0]
    if len(steps) == 2:
        return steps[0], steps[1]
    raise InputError(f"a Pipeline of {len(steps)} steps cannot become one handgrad model: give an "
                     "MLPClassifier or MLPRegressor, optionally after one StandardScaler")


def _check_mlp(est, kinds=("MLPClassifier",)):
    if type(est).__name__ not in kinds or not hasattr(est, "hidden_layer_sizes"):
        raise InputError(f"expected a fitted {' or '.join(kinds)}, got an object of type {type(est).__name__}")
    if not hasattr(est, "coefs_"):
        raise InputError(f"this {type(est).__name__} is not fitted yet: call fit first")


def model_from_sklearn(obj) -> Model:
    """A handgrad Model predicting what the fitted classifier or regressor (or Pipeline)
    predicts. A regressor's Model has no target scaling: its network's outputs (Z, or e^Z for
    ``loss="poisson"``) are the target's units, as the estimator's.

    Raises:
        InputError: a multilabel classifier (no model-file form: use
            :func:`handgrad_estimator`), an unfitted estimator, an unsupported step.
    """
    from sklearn.preprocessing import StandardScaler

    first, est = _split(obj)
    _check_mlp(est, ("MLPClassifier", "MLPRegressor"))
    regressor = not hasattr(est, "classes_")
    if regressor:
        if est.out_activation_ not in ("identity", "exp"):
            raise InputError(f"an MLPRegressor with the output {est.out_activation_!r} has no "
                             "handgrad form (identity for loss='squared_error', exp for 'poisson')")
    elif est.out_activation_ not in ("softmax", "logistic") or (
            est.out_activation_ == "logistic" and est.n_outputs_ != 1):
        raise InputError("a multilabel MLPClassifier has no handgrad model-file form (a model file "
                         "holds one label per row); use handgrad.export.handgrad_estimator")
    dtype = np.asarray(est.coefs_[0]).dtype
    coefs = [np.asarray(W, dtype=dtype) for W in est.coefs_]
    intercepts = [np.asarray(b, dtype=dtype).reshape(-1) for b in est.intercepts_]
    if est.out_activation_ == "logistic":  # softmax([0, z]) = [σ(−z), σ(z)]
        coefs[-1] = np.column_stack([np.zeros_like(coefs[-1][:, 0]), coefs[-1][:, 0]])
        intercepts[-1] = np.array([0, intercepts[-1][0]], dtype=dtype)
    sizes = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    net = MLP(sizes, activation=_TO_HANDGRAD[est.activation], dtype=dtype, seed=0,
              params=[p for pair in zip(coefs, intercepts) for p in pair],
              **({"output": est.out_activation_} if regressor else {}))
    scaler = encoder = None
    names = getattr(est, "feature_names_in_", None)
    if isinstance(first, StandardScaler):
        n = first.n_features_in_
        scaler = Standardizer(first.mean_ if first.with_mean else np.zeros(n),
                              first.scale_ if first.with_std else np.ones(n))
        names = getattr(first, "feature_names_in_", None)
    elif type(first).__name__ == "TableTransformer" and hasattr(first, "encoder_"):
        encoder = first.encoder_
        names = first.encoder_.feature_names_out_
    elif first is not None:
        raise InputError(f"a {type(first).__name__} before the {type(est).__name__} has no handgrad "
                         "model form; only a StandardScaler (or handgrad's TableTransformer) may come first")
    import sklearn

    hyper = {"activation": est.activation, "hidden_layer_sizes": [int(s) for s in sizes[1:-1]],
             "alpha": float(est.alpha), "solver": est.solver}
    if regressor:
        hyper["loss"] = getattr(est, "loss", "squared_error")
    record = {"imported_from": f"{type(est).__module__}.{type(est).__name__}",
              "sklearn_version": sklearn.__version__, "hyperparameters": hyper}
    return Model(net, None if regressor else np.asarray(est.classes_), scaler=scaler,
                 feature_names=None if names is None else [str(c) for c in names],
                 record=record, encoder=encoder)


def estimator_from_model(model: Model):
    """A fitted handgrad.sklearn MLPClassifier — or for a regression Model an MLPRegressor —
    predicting what ``model`` predicts; in a Pipeline after a fitted StandardScaler or
    TableTransformer when the model standardises or encodes a table. ``model_from_sklearn``
    takes it back. A regressor's target scaling is folded into the last layer (module
    docstring); the identity and huber heads become ``loss="squared_error"`` (the same
    predictions Z; refitting it trains the squared error), the exp head ``loss="poisson"``.

    Raises:
        InputError: hidden layers with different activations, or leaky ReLU with α ≠ 0.01
            (the estimator has one ``activation`` parameter, leaky ReLU at α = 0.01); a
            regressor that learned the logarithm of its target, or an exp head after a
            scaling with a shift.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelBinarizer, StandardScaler

    from ..sklearn import MLPClassifier, MLPRegressor, TableTransformer

    net = model.net
    kind = "MLPRegressor" if model.is_regressor else "MLPClassifier"
    names = {a.name for a in net.activations}
    if len(names) > 1 or (names and next(iter(names)) not in ("relu", "leaky_relu", "sigmoid", "tanh",
                                                               "identity")):
        raise InputError(f"a handgrad.sklearn {kind} has one activation of relu, leaky_relu "
                         f"(α = 0.01), sigmoid, tanh or identity; this model has {sorted(names)}")
    activation = _TO_SKLEARN[net.activations[0].base] if net.activations else "relu"
    coefs = [W.copy() for W in net.weights]
    intercepts = [b.copy() for b in net.biases]
    if model.is_regressor:
        est = MLPRegressor("poisson" if net.output == "exp" else "squared_error",
                           hidden_layer_sizes=tuple(net.sizes[1:-1]), activation=activation)
        coefs[-1], intercepts[-1] = _fold_target(model, coefs[-1], intercepts[-1])
        est.out_activation_ = "exp" if net.output == "exp" else "identity"
    else:
        lb = LabelBinarizer().fit(model.classes)
        # LabelBinarizer sorts the classes: reorder the outputs to match
        order = [int(np.flatnonzero(model.classes == c)[0]) for c in lb.classes_]
        coefs[-1], intercepts[-1] = coefs[-1][:, order], intercepts[-1][order]
        if len(order) == 2:  # softmax([z₀, z₁])[1] = σ(z₁ − z₀)
            coefs[-1] = (coefs[-1][:, 1] - coefs[-1][:, 0]).reshape(-1, 1)
            intercepts[-1] = intercepts[-1][1:] - intercepts[-1][:1]
        est = MLPClassifier(hidden_layer_sizes=tuple(net.sizes[1:-1]), activation=activation)
        est.classes_, est._label_binarizer = lb.classes_, lb
        est.out_activation_ = "logistic" if len(order) == 2 else "softmax"
    est.coefs_, est.intercepts_ = coefs, intercepts
    est.n_outputs_, est.n_layers_ = coefs[-1].shape[1], len(net.sizes)
    est.n_features_in_, est.n_iter_, est.t_ = net.sizes[0], 0, 0
    est.history_, est._optimizer_state = [], None
    est._reset_stochastic_state()  # as after a first fit, so partial_fit / warm starts work
    if model.encoder is not None:
        table = TableTransformer(max_categories=model.encoder.max_categories)
        table.encoder_ = model.encoder
        table.feature_names_in_ = np.array(model.encoder.input_columns, dtype=object)
        table.n_features_in_ = len(table.feature_names_in_)
        return Pipeline([("table", table), ("mlp", est)])
    if model.scaler is not None:
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_ = model.scaler.mean.copy(), model.scaler.scale.copy()
        scaler.var_ = scaler.scale_ ** 2
        scaler.n_features_in_, scaler.n_samples_seen_ = net.sizes[0], 0
        return Pipeline([("scale", scaler), ("mlp", est)])
    return est


def _fold_target(model: Model, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last layer (W_L, b_L) of a regression Model with its target scaling folded in, so
    that the bare network predicts the target's units (module docstring)."""
    target = model.target
    if target is None or target.kind == "none" or (
            np.all(target.mean == 0) and np.all(target.scale == 1) and not target.log):
        return W, b
    if target.log:
        raise InputError("this model learned the logarithm of its target (target scaling 'log'): it "
                         "predicts exp(scale·μ + mean), which an MLPRegressor trained on the squared "
                         "error of y has no form of; export it with to_onnx or to_torch instead")
    dtype = W.dtype
    if model.net.output == "exp":
        if np.any(target.mean != 0):
            raise InputError(f"this model's exp head is followed by a shift (target scaling "
                             f"{target.kind!r} with a mean): scale·e^Z + mean is no MLPRegressor's "
                             "e^Z; export it with to_onnx or to_torch instead")
        return W, (b + np.log(target.scale)).astype(dtype)
    return (W * target.scale).astype(dtype), (b * target.scale + target.mean).astype(dtype)


def handgrad_estimator(est):
    """scikit-learn's fitted MLPClassifier / MLPRegressor → handgrad.sklearn's, with the same
    parameters and fitted state (predictions equal up to rounding)."""
    _check_mlp(est, ("MLPClassifier", "MLPRegressor"))
    from .. import sklearn as hsk

    cls = getattr(hsk, type(est).__name__)
    params = {k: v for k, v in est.get_params(deep=False).items() if k in cls().get_params()}
    out = cls(**params)
    for name in _FITTED + (("classes_", "_label_binarizer") if hasattr(est, "classes_") else ()):
        if hasattr(est, name):
            setattr(out, name, getattr(est, name))
    out.coefs_ = [np.array(W) for W in est.coefs_]
    out.intercepts_ = [np.array(b).reshape(-1) for b in est.intercepts_]
    out.history_ = []
    get_activation(_TO_HANDGRAD[est.activation])  # an unknown activation fails here, by name
    return out
