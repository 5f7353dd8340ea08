"""A trained model: the network plus everything needed to use it on raw data.

:class:`Model` bundles the :class:`~handgrad.MLP`, the feature standardisation fitted on the
training data — or, for a model trained on a raw table, the :class:`TableEncoder` that turns
its columns (text, empty cells) into the network's input —, for a classifier the class labels
(ints or strings; output k of the net is ``classes[k]``), for a regressor the target scaling
(:class:`~handgrad.data.target_scaling.TargetScaler`: predictions come back in the target's units),
the feature names, and a JSON-able training record. ``predict`` applies exactly the transforms
the network was trained with. Model files: :func:`handgrad.save_model` /
:func:`handgrad.load_model` (safetensors + JSON; no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, listed, row_of, shown
from ..core.heads import REGRESSION_HEADS, regression_mean
from ..core.losses import log_softmax, softmax
from ..fast.predict import members_logits_in_chunks
from ..network import MLP
from ..data.features import TableEncoder
from ..data.preprocessing import LabelEncoder, Standardizer
from ..data.target_scaling import TargetScaler
from ..validation import check_matrix, check_shape


@dataclass
class Model:
    """``net`` + ``scaler`` + ``classes`` (or ``target``) + ``feature_names`` + ``record``.

    Attributes:
        net: the trained :class:`MLP`: a softmax head (a classifier) or a regression head
            (identity, huber, exp).
        classes: (K,) array of the original labels; ``classes[k]`` is output k. None for a
            regressor.
        scaler: the :class:`Standardizer` fitted on the training features, or None.
        feature_names: names of the n_features input columns, in order (None if unknown);
            with an encoder, the names of its output columns (``island=Dream``, ...).
        record: the training record (hyperparameters, history, metrics, dataset), JSON-able.
        encoder: the :class:`TableEncoder` fitted on the training table, or None (then the
            model reads a numeric matrix).
        target: a regressor's :class:`TargetScaler` (None: outputs are the target's units).
        target_names: a regressor's target column names, one per output (or None).
        members: an ensemble's other networks (:class:`MLP` of ``net``'s input width, output
            width, head and dtype; their hidden layers may differ); empty for one network.
        member_weights: the ensemble's weights (K,) over ``[net, *members]``, ≥ 0, summing to
            1: a prediction is the weighted mean of the members' probabilities (classes) or
            predicted values (regression, before the target scaling is undone).
        temperature: a classifier's T > 0: the probabilities are ``softmax(log P / T)``, P the
            network's (or the ensemble's mean) — derivations.md §18; 1 leaves them as they are.
        threshold: a two-class classifier's cut t in (0, 1): ``classes[1]`` is predicted where
            its probability is ≥ t (None: the larger probability wins, a cut at 0.5).
        held_out: what training held out, to calibrate on — ``(P, y)``, probabilities (n, K)
            of rows the model (or its folds) did not train on and their class indices, and a
            line saying which rows; not stored in the model file.
    """

    net: MLP
    classes: np.ndarray
    scaler: Standardizer | None = None
    feature_names: list[str] | None = None
    record: dict = field(default_factory=dict)
    encoder: TableEncoder | None = None
    target: TargetScaler | None = None
    target_names: list[str] | None = None
    members: list = field(default_factory=list)
    member_weights: np.ndarray | None = None
    temperature: float = 1.0
    threshold: float | None = None
    held_out: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self._check_members()
        if self.net.output == "logistic":
            raise InputError("a Model (and its file) holds a softmax classifier or a regressor; this "
                             "network's output is 'logistic'")
        if self.is_regressor:
            if self.classes is not None:
                raise InputError(f"a regression network (output {self.net.output!r}) has no classes")
            if self.target is not None and self.target.mean.shape != (self.net.n_outputs,):
                raise InputError(f"a target scaling for {self.target.mean.size} outputs on a network "
                                 f"with {self.net.n_outputs}")
            if self.target_names is not None and len(self.target_names) != self.net.n_outputs:
                raise InputError(f"{len(self.target_names)} target names for {self.net.n_outputs} outputs")
        else:
            self.classes = np.asarray(self.classes)
            if self.classes.shape != (self.net.n_classes,):
                raise InputError(f"{self.classes.size} class labels for a network with "
                                 f"{self.net.n_classes} outputs")
        if not (isinstance(self.temperature, (int, float)) and np.isfinite(self.temperature)
                and self.temperature > 0) or (self.temperature != 1 and self.is_regressor):
            raise InputError(f"temperature must be a number > 0 (1 for a regressor), got {self.temperature!r}")
        if self.threshold is not None and not (self.classes is not None and self.classes.size == 2
                                               and isinstance(self.threshold, (int, float))
                                               and 0 < self.threshold < 1):
            raise InputError(f"threshold is a two-class model's cut in (0, 1), got {self.threshold!r}"
                             + ("" if self.classes is not None and self.classes.size == 2 else
                                " for a model that is not two-class"))
        if self.feature_names is not None and len(self.feature_names) != self.net.sizes[0]:
            raise InputError(f"{len(self.feature_names)} feature names for a network with "
                             f"{self.net.sizes[0]} inputs")

    def _check_members(self) -> None:
        if not self.members:
            if self.member_weights is not None and np.asarray(self.member_weights).shape != (1,):
                raise InputError("member_weights for an ensemble of one network must be [1] or None")
            self.member_weights = None
            return
        for k, other in enumerate(self.members, start=1):
            alike = (other.sizes[0] == self.net.sizes[0] and other.sizes[-1] == self.net.sizes[-1]
                     and other.output == self.net.output and other.head_params == self.net.head_params
                     and other.dtype == self.net.dtype)
            if not alike:
                raise InputError(f"member {k} of the ensemble ({other!r}) does not share the input width, "
                                 f"outputs, head and dtype of member 0 ({self.net!r})")
        w = np.asarray(self.member_weights if self.member_weights is not None
                       else np.full(len(self.networks), 1 / len(self.networks)), dtype=np.float64)
        if w.shape != (len(self.networks),) or not np.all(np.isfinite(w)) or np.any(w < 0) \
                or not abs(w.sum() - 1) < 1e-9:
            raise InputError(f"member_weights must be {len(self.networks)} numbers ≥ 0 summing to 1, "
                             f"got {w.tolist()}")
        self.member_weights = w

    @property
    def networks(self) -> list:
        """The networks whose predictions the model averages: ``[net, *members]``."""
        return [self.net, *self.members]

    @property
    def weights(self) -> np.ndarray:
        """The members' weights (K,), [1.0] for one network."""
        return np.ones(1) if self.member_weights is None else self.member_weights

    @property
    def n_features(self) -> int:
        return self.net.sizes[0]

    @property
    def is_regressor(self) -> bool:
        return self.net.output in REGRESSION_HEADS

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return "regression" if self.is_regressor else "classification"

    @property
    def input_columns(self) -> list[str] | None:
        """The columns a table must have for this model (None: it reads a numeric matrix)."""
        return None if self.encoder is None else self.encoder.input_columns

    def encode_table(self, X) -> np.ndarray:
        """A table (pandas DataFrame) -> the encoded numeric features, for a model with an
        encoder; a numeric matrix is refused with the columns it should have had."""
        if not hasattr(X, "columns"):
            raise InputError("this model was trained on a table and reads one: give a pandas "
                             f"DataFrame with the columns {listed(self.encoder.input_columns)}")
        return self.encoder.transform(X)

    def by_name(self, X):
        """``X`` with its columns in the model's order, when X is a DataFrame whose columns are
        named (texts) and the model knows its feature names: columns are matched by name, never
        by position (a file with its columns reordered gives the same predictions). Every
        feature X lacks is named in the refusal. Anything else is returned as it is."""
        if self.encoder is not None or self.feature_names is None or not hasattr(X, "columns"):
            return X
        have = [c for c in X.columns]
        if not all(isinstance(c, str) for c in have):
            return X  # unnamed columns (0, 1, ...): by position, as for a matrix
        missing = [f for f in self.feature_names if f not in have]
        if missing:
            raise InputError(f"the data lacks the feature column(s) {listed(missing)} the model was "
                             f"trained on; it has {listed(have)}")
        return X[list(self.feature_names)]

    def transform(self, X) -> np.ndarray:
        """Raw features (n, n_features) -> the network's input (standardised, net dtype)."""
        X = self.by_name(X)
        if self.encoder is not None:
            return self.net.check_X(self.encode_table(X))
        if self.scaler is None:
            return self.net.check_X(X)
        raw = check_matrix(X, "X", self.n_features, np.float64)
        return self.scaler.transform(raw, dtype=self.net.dtype)

    def encode(self, y) -> np.ndarray:
        """Original labels -> indices 0..K-1; a label the model never saw is refused. For a
        regressor: the targets (n,) or (n, k) in the network's units (float64)."""
        if self.is_regressor:
            y = check_regression_targets(y, self.net.n_outputs)
            return y if self.target is None else self.target.transform(y)
        return LabelEncoder(self.classes).transform(np.asarray(y))

    def predict_proba(self, X, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (n, K), in ``classes`` order."""
        return np.exp(self.predict_log_proba(X, batch_size))

    def predict_log_proba(self, X, batch_size: int = 4096) -> np.ndarray:
        """Log-probabilities from log-softmax (finite wherever the logits are), computed a
        chunk of rows at a time (standardisation included), so memory does not grow with X."""
        if self.is_regressor:
            raise InputError("a regression model predicts numbers, not class probabilities; use predict")
        return self._log_proba(lambda head: self._outputs(X, batch_size, head))

    def _log_proba(self, outputs) -> np.ndarray:
        """Tempered log-probabilities from ``outputs(head)`` (the heads of the networks' logits,
        an ensemble's weighted mean): one network's log-softmax, or the log of the mean."""
        if not self.members:
            return self._tempered(outputs(log_softmax))
        with np.errstate(divide="ignore"):
            return self._tempered(np.log(outputs(softmax)))

    def _tempered(self, log_p: np.ndarray) -> np.ndarray:
        """``log softmax(log P / T)`` (eq. 18.1 with β = 1/T): log P itself when T = 1."""
        return log_p if self.temperature == 1 else log_softmax(log_p / np.asarray(self.temperature, log_p.dtype))

    def labels_of(self, log_p: np.ndarray) -> np.ndarray:
        """The predicted labels from (tempered) log-probabilities: the largest, or for a
        two-class model with a threshold t, ``classes[1]`` where its probability is ≥ t."""
        if self.threshold is None:
            return self.classes[np.argmax(log_p, axis=1)]
        return self.classes[(np.exp(log_p[:, 1]) >= self.threshold).astype(np.intp)]

    def _outputs(self, X, batch_size: int, head) -> np.ndarray:
        """``head(logits)`` (n, n_outputs) of raw X, a chunk of rows at a time (transforms
        included); for an ensemble ``Σ_k w_k head(logits_k)`` over its members."""
        if self.encoder is not None:
            X = self.encode_table(X)
        X = self.by_name(X)
        check_shape(X, "X", self.n_features)
        return self._through(X, batch_size, head, None if self.scaler is None else self._standardize)

    def from_input(self, A, what: str = "proba", batch_size: int = 4096) -> np.ndarray:
        """What :meth:`predict_proba` (``what="proba"``) or :meth:`predict` (``"predict"``)
        gives, from the network's input ``A`` (n, n_features) — :meth:`transform`'s output, the
        encoded and standardised features — so that a caller changing columns of the input
        (permutation importance) does not encode the table again each time."""
        if what == "predict" and self.is_regressor:
            return self._values(self._through(A, batch_size, lambda z: regression_mean(self.net.output, z)))
        log_p = self._log_proba(lambda head: self._through(A, batch_size, head))
        return np.exp(log_p) if what == "proba" else self.labels_of(log_p)

    def _through(self, X, batch_size: int, head, transform=None) -> np.ndarray:
        out = np.empty((np.shape(X)[0], self.net.n_outputs), dtype=self.net.dtype)
        names, encoded = self.feature_names, self.encoder is not None
        if not self.members:
            for start, logits in self.net.logits_in_chunks(X, batch_size, transform, names, encoded=encoded):
                out[start:start + logits.shape[0]] = head(logits)
            return out
        w = self.weights
        for start, each in members_logits_in_chunks(self.networks, X, batch_size, transform, names, encoded):
            mean = sum(w_k * head(z).astype(np.float64) for w_k, z in zip(w, each) if w_k > 0)
            out[start:start + each[0].shape[0]] = mean
        return out

    def _standardize(self, chunk: np.ndarray) -> np.ndarray:
        # NaN/inf are refused by the network right after this, naming the row and saying
        # whether the value was given so or overflowed in the standardisation
        with np.errstate(invalid="ignore", over="ignore"):
            return self.scaler.transform(chunk, dtype=self.net.dtype)

    def predict(self, X, batch_size: int = 8192) -> np.ndarray:
        """Predicted original labels (n,); a regressor's predictions in the target's units,
        float64, (n,) for one target and (n, k) for several."""
        if not self.is_regressor:
            return self.labels_of(self.predict_log_proba(X, batch_size))
        return self._values(self._outputs(X, batch_size, lambda z: regression_mean(self.net.output, z)))

    def _values(self, mu: np.ndarray) -> np.ndarray:
        """A regressor's μ (n, k) in the target's units, float64: (n,) for one target."""
        out = mu.astype(np.float64) if self.target is None else self.target.inverse(mu)
        return out[:, 0] if self.net.n_outputs == 1 else out

    def score(self, X, y) -> float:
        """Accuracy on (X, y) with original labels; a regressor's R² (the mean over its
        outputs), in the target's units."""
        if self.is_regressor:
            from ..training.evaluation import regression_metrics, regression_sums_of

            y = check_regression_targets(y, self.net.n_outputs)
            return regression_metrics(regression_sums_of(self.predict(X), y), len(y))["r2"]
        y_idx = self.encode(y)  # an unknown label is refused here
        return float(np.mean(self.predict(X) == self.classes[y_idx]))


def check_regression_targets(y, n_outputs: int) -> np.ndarray:
    """Regression targets as float64 (n,) for one output or (n, k), refusing NaN, inf, text
    and a wrong number of columns."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"regression targets must be numbers; {_not_a_number(y)}") from None
    if y.ndim == 2 and y.shape[1] == 1 and n_outputs == 1:
        y = y[:, 0]
    if (y.ndim == 1 and n_outputs != 1) or y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != n_outputs):
        raise InputError(f"targets of shape {y.shape} for a model with {n_outputs} output(s)")
    flat = y.reshape(len(y), -1)
    bad = ~np.isfinite(flat)
    if bad.any():
        i = int(np.argmax(bad.any(axis=1)))
        raise InputError(f"targets hold {shown(flat[i][bad[i]][0])} in {row_of(i)}; leave such rows out")
    return y


def _not_a_number(y) -> str:
    """Where the first target that is not a number is, and what it holds (for a message)."""
    rows = np.asarray(y, dtype=object)
    rows = rows.reshape(len(rows), -1) if rows.ndim else rows.reshape(1, 1)
    for i, row in enumerate(rows):
        for value in row:
            try:
                float(value)
            except (TypeError, ValueError):
                return f"{row_of(i)} holds {shown(value)}"
    return "one of them is not"
