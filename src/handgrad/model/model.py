"""A trained classifier: the network plus everything needed to use it on raw data.

:class:`Model` bundles the :class:`~handgrad.MLP`, the feature standardisation fitted on the
training data — or, for a model trained on a raw table, the :class:`TableEncoder` that turns
its columns (text, empty cells) into the network's input —, the class labels (ints or
strings; output k of the net is ``classes[k]``), the feature names, and a JSON-able training
record. ``predict`` applies exactly the transform the network was trained with. Model files:
:func:`handgrad.save_model` / :func:`handgrad.load_model` (safetensors + JSON; no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..core.losses import log_softmax
from ..network import MLP
from ..data.features import TableEncoder
from ..data.preprocessing import LabelEncoder, Standardizer
from ..validation import check_matrix, check_shape


@dataclass
class Model:
    """``net`` + ``scaler`` + ``classes`` + ``feature_names`` + ``record``.

    Attributes:
        net: the trained :class:`MLP`.
        classes: (K,) array of the original labels; ``classes[k]`` is output k.
        scaler: the :class:`Standardizer` fitted on the training features, or None.
        feature_names: names of the n_features input columns, in order (None if unknown);
            with an encoder, the names of its output columns (``island=Dream``, ...).
        record: the training record (hyperparameters, history, metrics, dataset), JSON-able.
        encoder: the :class:`TableEncoder` fitted on the training table, or None (then the
            model reads a numeric matrix).
    """

    net: MLP
    classes: np.ndarray
    scaler: Standardizer | None = None
    feature_names: list[str] | None = None
    record: dict = field(default_factory=dict)
    encoder: TableEncoder | None = None

    def __post_init__(self):
        if self.net.output != "softmax":
            raise InputError("a Model (and its file) holds a softmax classifier; this network's "
                             f"output is {self.net.output!r}")
        self.classes = np.asarray(self.classes)
        if self.classes.shape != (self.net.n_classes,):
            raise InputError(f"{self.classes.size} class labels for a network with "
                             f"{self.net.n_classes} outputs")
        if self.feature_names is not None and len(self.feature_names) != self.net.sizes[0]:
            raise InputError(f"{len(self.feature_names)} feature names for a network with "
                             f"{self.net.sizes[0]} inputs")

    @property
    def n_features(self) -> int:
        return self.net.sizes[0]

    @property
    def input_columns(self) -> list[str] | None:
        """The columns a table must have for this model (None: it reads a numeric matrix)."""
        return None if self.encoder is None else self.encoder.input_columns

    def encode_table(self, X) -> np.ndarray:
        """A table (pandas DataFrame) -> the encoded numeric features, for a model with an
        encoder; a numeric matrix is refused with the columns it should have had."""
        if not hasattr(X, "columns"):
            raise InputError("this model was trained on a table and reads one: give a pandas "
                             f"DataFrame with the columns {self.encoder.input_columns}")
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
            shown = ", ".join(repr(f) for f in missing[:12]) + (f", … ({len(missing)} in all)"
                                                               if len(missing) > 12 else "")
            raise InputError(f"the data lacks the feature column(s) {shown} the model was trained "
                             f"on; it has {', '.join(repr(c) for c in have[:12])}"
                             + (f", … ({len(have)} in all)" if len(have) > 12 else ""))
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
        """Original labels -> indices 0..K-1; a label the model never saw is refused."""
        return LabelEncoder(self.classes).transform(np.asarray(y))

    def predict_proba(self, X, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (n, K), in ``classes`` order."""
        return np.exp(self.predict_log_proba(X, batch_size))

    def predict_log_proba(self, X, batch_size: int = 4096) -> np.ndarray:
        """Log-probabilities from log-softmax (finite wherever the logits are), computed a
        chunk of rows at a time (standardisation included), so memory does not grow with X."""
        if self.encoder is not None:
            X = self.encode_table(X)
        X = self.by_name(X)
        check_shape(X, "X", self.n_features)
        out = np.empty((np.shape(X)[0], self.net.n_classes), dtype=self.net.dtype)
        transform = None if self.scaler is None else self._standardize
        for start, logits in self.net.logits_in_chunks(X, batch_size, transform):
            out[start:start + logits.shape[0]] = log_softmax(logits)
        return out

    def _standardize(self, chunk: np.ndarray) -> np.ndarray:
        # NaN/inf are refused by the network right after this, naming the row and saying
        # whether the value was given so or overflowed in the standardisation
        with np.errstate(invalid="ignore", over="ignore"):
            return self.scaler.transform(chunk, dtype=self.net.dtype)

    def predict(self, X, batch_size: int = 8192) -> np.ndarray:
        """Predicted original labels (n,)."""
        return self.classes[np.argmax(self.predict_log_proba(X, batch_size), axis=1)]

    def score(self, X, y) -> float:
        """Accuracy on (X, y) with original labels."""
        y_idx = self.encode(y)
        return float(np.mean(np.argmax(self.predict_log_proba(X), axis=1) == y_idx))
