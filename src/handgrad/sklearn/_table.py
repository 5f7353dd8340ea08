"""TableTransformer: handgrad's table encoding as a scikit-learn transformer, for pipelines."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..data.features import TableEncoder


class TableTransformer(TransformerMixin, BaseEstimator):
    """A pandas DataFrame with text columns and empty cells → numeric features.

    The rules of :mod:`handgrad.data.features` (what ``handgrad train --data`` does): numeric
    columns (numbers written as text too: ``12,570``, ``$5``, ``12.5%``, Parquet decimals)
    imputed with the median plus a 0/1 missing indicator and standardised; date columns as
    elapsed days (standardised) and the month, weekday, day of year and time of day on circles;
    boolean columns 0/1; categorical columns one-hot (``max_categories`` most frequent values, the rest
    and unseen ones in ``(other)``, empty cells in ``(missing)``), left unscaled; constant, ID
    and row-number columns dropped. ``categorical``, ``numeric``, ``drop`` and ``id_columns``
    name columns whose treatment is forced; ``scaling="quantile"`` sends numeric columns through
    the normal quantile of their training rank instead of standardising them.

    Example::

        from sklearn.pipeline import make_pipeline
        from handgrad.sklearn import MLPClassifier, TableTransformer
        model = make_pipeline(TableTransformer(), MLPClassifier()).fit(frame, y)
    """

    def __init__(self, categorical=(), numeric=(), drop=(), id_columns=(), max_categories=64,
                 scaling="standard"):
        self.categorical = categorical
        self.numeric = numeric
        self.drop = drop
        self.id_columns = id_columns
        self.max_categories = max_categories
        self.scaling = scaling

    def fit(self, X, y=None):
        """Fit the encoding on the DataFrame ``X`` (its rows are the training rows)."""
        if not hasattr(X, "columns"):
            raise ValueError("TableTransformer takes a pandas DataFrame (it reads column names)")
        self.encoder_ = TableEncoder(self.categorical, self.numeric, self.drop,
                                     self.max_categories, self.id_columns, self.scaling).fit(X)
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X):
        """The encoded features, (n_samples, len(get_feature_names_out())) float64."""
        check_is_fitted(self)
        if not hasattr(X, "columns"):
            raise ValueError("TableTransformer takes a pandas DataFrame (it reads column names)")
        return self.encoder_.transform(X)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.array(self.encoder_.feature_names_out_, dtype=object)
