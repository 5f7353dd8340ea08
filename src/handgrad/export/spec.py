"""What an exported prediction is made of, read off any handgrad predictor: :class:`Portable`.

Every exporter (ONNX, PyTorch, the skl2onnx converter) works from one :class:`Portable`, so the
rules "which object means which computation" live in one place:

* a :class:`~handgrad.model.Model` — standardisation or table encoding, the network, then a
  classifier's softmax and ``label = classes[argmax P]``, or a regressor's prediction μ (Z for
  the identity and huber heads, e^Z for exp) mapped back to the target's units in double,
  ``y = g⁻¹(target_scale·μ + target_mean)`` with g = log for the target scaling "log" (as
  ``Model.predict`` and :meth:`~handgrad.data.target_scaling.TargetScaler.inverse`);
* a fitted :class:`handgrad.sklearn.MLPClassifier` — no preprocessing, softmax over the
  classes, or for two classes ``P = [σ(−z), σ(z)]``, or for multilabel y ``P = σ(Z)`` with
  ``label = 1{P > ½}``; probabilities clipped to ``[tiny, 1 − ε/2]`` as its predict_proba;
* a fitted :class:`handgrad.sklearn.MLPRegressor` — ``Z`` (identity) or ``e^Z`` (poisson);
* an :class:`~handgrad.MLP` — its own head; labels ``0..K−1`` for softmax, ``1{z > 0}`` for
  logistic outputs (as ``MLP.predict``);
* a scikit-learn ``Pipeline`` of a fitted ``StandardScaler`` or
  :class:`handgrad.sklearn.TableTransformer` and one of the estimators above.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .._version import __version__
from ..core.activations import get_activation
from ..errors import InputError
from ..model.model import Model
from ..network import MLP

BUILTIN = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")


@dataclass
class Portable:
    """A predictor reduced to arrays and names every exporter understands.

    Attributes:
        weights, biases: ``W_l`` (n_{l−1}, n_l) and ``b_l`` (n_l,), in ``dtype``.
        activations: one ``(name, alpha)`` per hidden layer; name in :data:`BUILTIN`.
        head: ``"softmax"``, ``"logistic"``, ``"identity"``, ``"huber"`` (predicts Z, as
            identity) or ``"exp"``.
        task: ``"classifier"`` (label + probabilities), ``"binary"`` (one logistic output read
            as two classes, P = [σ(−z), σ(z)]), ``"multilabel"`` (σ per output, 0/1 labels) or
            ``"regressor"`` (values).
        dtype: the network's float dtype.
        classes: the original labels (classifier, binary) or None.
        clip: clip probabilities to ``[tiny, 1 − ε/2]`` (handgrad.sklearn's predict_proba).
        multilabel_on: ``"logits"`` (label 1{z > 0}, MLP.predict) or ``"probabilities"``
            (1{p > ½}, scikit-learn's LabelBinarizer).
        mean, scale: the standardisation ``(x − mean)/scale`` (float64), or None.
        encoder: the table encoder (:class:`~handgrad.data.features.TableEncoder`), or None.
        feature_names: names of the network's input columns, or None.
        source: what the predictor was, for messages and metadata.
        target_kind: a Model regressor's target scaling kind (``"standardize"``, ``"log"``,
            ``"scale"``, or ``"none"`` when it has none); None for everything else. When set,
            the predictions are ``g⁻¹(target_scale·μ + target_mean)`` computed in double and
            given as float64 (as ``Model.predict``); otherwise μ in the network's dtype (as
            the estimators' and MLP's ``predict``).
        target_mean, target_scale: that map's (n_outputs,) float64 arrays, or None.
        target_names: a regressor's target names, one per output, or None.
        members: an ensemble's other networks (a Model's ``members``), each a Portable of its
            weights, biases and activations; empty for one network.
        member_weights: the ensemble's weights (K,) over ``[this network, *members]``, or None:
            a prediction is ``Σ_k w_k·h(Z_k)`` with h the softmax (classes) or μ (numbers),
            before the labels or the target scaling (as ``Model.predict``).
    """

    weights: list
    biases: list
    activations: list
    head: str
    task: str
    dtype: np.dtype
    classes: np.ndarray | None = None
    clip: bool = False
    multilabel_on: str = "logits"
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    encoder: object = None
    feature_names: list | None = None
    source: str = ""
    target_kind: str | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    target_names: list | None = None
    members: list = field(default_factory=list)
    member_weights: np.ndarray | None = None
    temperature: float = 1.0
    threshold: float | None = None

    @property
    def target_log(self) -> bool:
        """The predictions are e^(target_scale·μ + target_mean): the model learned log y."""
        return self.target_kind == "log"

    @property
    def values_dtype(self) -> np.dtype:
        """A regressor's prediction dtype: float64 after a target scaling (the map runs in
        double, as handgrad's), else the network's dtype."""
        return np.dtype(np.float64) if self.target_kind is not None else self.dtype

    @property
    def sizes(self) -> list[int]:
        return [int(self.weights[0].shape[0])] + [int(W.shape[1]) for W in self.weights]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    def metadata(self) -> dict[str, str]:
        """String metadata for the exported file (ONNX ``metadata_props``)."""
        import json

        meta = {"producer": "handgrad", "handgrad_version": __version__, "source": self.source,
                "task": self.task, "head": self.head, "dtype": self.dtype.name,
                "sizes": json.dumps(self.sizes),
                "activations": json.dumps([{"name": n, "alpha": a} if n == "leaky_relu"
                                           else {"name": n} for n, a in self.activations])}
        if self.classes is not None:
            meta["classes"] = json.dumps(np.asarray(self.classes).tolist())
        if self.feature_names is not None:
            meta["feature_names"] = json.dumps(list(self.feature_names))
        if self.encoder is not None:
            meta["input_columns"] = json.dumps(self.encoder.input_columns)
        meta["preprocessing"] = ("table" if self.encoder is not None
                                 else "standardize" if self.mean is not None else "none")
        if self.target_kind is not None:
            meta["target_scaling"] = json.dumps({"kind": self.target_kind,
                                                 "mean": self.target_mean.tolist(),
                                                 "scale": self.target_scale.tolist()})
        if self.target_names is not None:
            meta["target_names"] = json.dumps(list(self.target_names))
        if self.members:
            meta["members"] = json.dumps([{"sizes": m.sizes, "activations": [n for n, _ in m.activations]}
                                          for m in self.members])
            meta["member_weights"] = json.dumps(np.asarray(self.member_weights).tolist())
        if self.temperature != 1:
            meta["temperature"] = json.dumps(float(self.temperature))
        if self.threshold is not None:
            meta["threshold"] = json.dumps(float(self.threshold))
        return meta


def source_files(obj) -> list:
    """``[obj]`` when the object to export is given as a model file's path (an export must not
    be written over it), else ``[]``."""
    return [obj] if isinstance(obj, (str, os.PathLike)) else []


def portable(obj) -> Portable:
    """:class:`Portable` of a Model, MLP, fitted handgrad.sklearn estimator or Pipeline.

    Raises:
        InputError: an unfitted estimator, an unsupported object or pipeline step, or a custom
            (registered) activation, which has no ONNX / PyTorch form.
    """
    if isinstance(obj, Model):
        return _of_model(obj)
    if isinstance(obj, MLP):
        return _of_net(obj, "MLP")
    steps = getattr(obj, "steps", None)
    if steps is not None:
        return _of_pipeline(obj)
    if _is_handgrad_estimator(obj):
        return _of_estimator(obj)
    raise InputError(f"cannot export a {type(obj).__name__}: give a handgrad Model (or model file), "
                     "an MLP, a fitted handgrad.sklearn MLPClassifier/MLPRegressor, or a Pipeline of "
                     "a StandardScaler or TableTransformer and one of those")


def _activations(acts) -> list[tuple[str, float | None]]:
    out = []
    for act in acts:
        base = act.base or act.name
        if base not in BUILTIN:
            raise InputError(f"activation {act.name!r} is a custom one: ONNX and PyTorch have no form "
                             f"of it, so the model cannot be exported; retrain with one of "
                             f"{', '.join(BUILTIN)}")
        out.append((base, float(act.params["alpha"]) if base == "leaky_relu" else None))
    return out


def _of_net(net: MLP, source: str) -> Portable:
    task = {"softmax": "classifier", "logistic": "multilabel"}.get(net.output, "regressor")
    return Portable([W.copy() for W in net.weights], [b.copy() for b in net.biases],
                    _activations(net.activations), net.output, task, net.dtype,
                    classes=np.arange(net.n_outputs) if task == "classifier" else None,
                    source=source)


def _of_model(model: Model) -> Portable:
    p = _of_net(model.net, "handgrad Model")
    if model.is_regressor:
        k = model.net.n_outputs
        target = model.target
        p.target_kind = "none" if target is None else target.kind
        p.target_mean = np.zeros(k) if target is None else np.asarray(target.mean, np.float64).copy()
        p.target_scale = np.ones(k) if target is None else np.asarray(target.scale, np.float64).copy()
        p.target_names = None if model.target_names is None else [str(t) for t in model.target_names]
    else:
        p.classes = np.asarray(model.classes)
        p.temperature, p.threshold = float(model.temperature), model.threshold
    p.feature_names = None if model.feature_names is None else list(model.feature_names)
    if model.encoder is not None:
        p.encoder = model.encoder
    elif model.scaler is not None:
        p.mean, p.scale = model.scaler.mean.copy(), model.scaler.scale.copy()
    if model.members:
        p.members = [_of_net(m, "handgrad Model member") for m in model.members]
        p.member_weights = np.asarray(model.weights, dtype=np.float64).copy()
    return p


def _is_handgrad_estimator(obj) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith("handgrad.sklearn") and hasattr(obj, "hidden_layer_sizes")


def _of_estimator(est) -> Portable:
    if not hasattr(est, "coefs_"):
        raise InputError(f"this {type(est).__name__} is not fitted yet: call fit before exporting it")
    if est.activation == "leaky_relu":
        acts = [get_activation("leaky_relu")] * (len(est.coefs_) - 1)
    else:
        acts = [get_activation({"logistic": "sigmoid"}.get(est.activation, est.activation))] \
            * (len(est.coefs_) - 1)
    dtype = np.asarray(est.coefs_[0]).dtype
    head = est.out_activation_
    if hasattr(est, "classes_"):
        multilabel = est._label_binarizer.y_type_.startswith("multilabel")
        task = "multilabel" if multilabel else "binary" if est.n_outputs_ == 1 else "classifier"
        classes = None if multilabel else np.asarray(est.classes_)
    else:
        task, classes = "regressor", None
    names = getattr(est, "feature_names_in_", None)
    return Portable([np.array(W, dtype=dtype) for W in est.coefs_],
                    [np.array(b, dtype=dtype).reshape(-1) for b in est.intercepts_],
                    _activations(acts), head, task, np.dtype(dtype), classes=classes,
                    clip=task != "regressor", multilabel_on="probabilities",
                    feature_names=None if names is None else [str(n) for n in names],
                    source=f"handgrad.sklearn.{type(est).__name__}")


def _of_pipeline(pipe) -> Portable:
    from sklearn.preprocessing import StandardScaler

    from ..sklearn import TableTransformer

    steps = [s for _, s in pipe.steps if s not in (None, "passthrough")]
    if not steps or len(steps) > 2 or not _is_handgrad_estimator(steps[-1]):
        raise InputError("a Pipeline exports when it is a handgrad.sklearn estimator, optionally after "
                         "one StandardScaler or TableTransformer; for other pipelines use "
                         "skl2onnx.to_onnx after handgrad.export.register_skl2onnx()")
    p = _of_estimator(steps[-1])
    if len(steps) == 2:
        first = steps[0]
        if isinstance(first, StandardScaler):
            if not hasattr(first, "n_features_in_"):
                raise InputError("the pipeline's StandardScaler is not fitted yet: call fit first")
            n = first.n_features_in_
            # StandardScaler subtracts mean_ only with with_mean, divides only with with_std
            p.mean = (np.asarray(first.mean_, np.float64) if first.with_mean else np.zeros(n))
            p.scale = (np.asarray(first.scale_, np.float64) if first.with_std else np.ones(n))
            names = getattr(first, "feature_names_in_", None)
            p.feature_names = None if names is None else [str(c) for c in names]
        elif isinstance(first, TableTransformer):
            if not hasattr(first, "encoder_"):
                raise InputError("the pipeline's TableTransformer is not fitted yet: call fit first")
            p.encoder = first.encoder_
            p.feature_names = list(first.encoder_.feature_names_out_)
        else:
            raise InputError(f"a pipeline step {type(first).__name__} has no export here; only "
                             "StandardScaler or TableTransformer may come before the estimator "
                             "(or use skl2onnx.to_onnx after handgrad.export.register_skl2onnx())")
    p.source = "Pipeline(" + ", ".join(type(s).__name__ for s in steps) + ")"
    return p
