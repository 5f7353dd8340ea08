"""scikit-learn estimators on handgrad's hand-written backpropagation.

Drop-in replacements for :class:`sklearn.neural_network.MLPClassifier` and
:class:`sklearn.neural_network.MLPRegressor`::

    from handgrad.sklearn import MLPClassifier, MLPRegressor

Same constructor parameters, meanings, defaults, fitted attributes and methods as
scikit-learn's (version 1.9), and the same training semantics — with the same
``random_state`` they start from the same weights, shuffle the same way, hold out the same
early-stopping split and so follow scikit-learn's training run up to rounding. The loss,
its gradient and the optimizer steps are handgrad's own (:class:`handgrad.MLP` with a
softmax, logistic or identity output head; :mod:`handgrad.training.optim`; SciPy's L-BFGS-B over
handgrad's flat parameter buffer).

Beyond scikit-learn: ``activation="leaky_relu"``, ``class_weight`` (classifier),
``callbacks``, a user-supplied early-stopping validation set (``fit(..., X_val=, y_val=)``),
float32 kept end to end, a ``predict_log_proba`` that is never −inf (probabilities are never
0), and the per-epoch backprop diagnostics in ``history_``. And :class:`TableTransformer`: the
table encoding of ``handgrad train`` (text columns, empty cells) as a transformer for
pipelines. And :class:`GridSearchCV` / :class:`RandomizedSearchCV`: scikit-learn's searches
with each round's fits of these estimators trained at once (one batched step for all
candidates and folds of one network shape), with the results of training each alone. Needs the ``sklearn`` extra (from a checkout of handgrad:
``pip install ".[sklearn]"``; no package named handgrad is published).
"""

from ._classifier import MLPClassifier
from ._regressor import MLPRegressor
from ._search import GridSearchCV, RandomizedSearchCV
from ._table import TableTransformer

__all__ = ["GridSearchCV", "MLPClassifier", "MLPRegressor", "RandomizedSearchCV", "TableTransformer"]
