"""Datasets: the :class:`Dataset` record, the built-in sets, tables (CSV/TSV/Parquet), MNIST's
IDX files, and the preprocessing a model stores (standardisation, label encoding)."""

from .builtin import BUILTIN_DATASETS, load_builtin, make_three_class
from .dataset import Dataset
from .load import load_dataset
from .tables import TABLE_SUFFIXES, load_table

__all__ = ["Dataset", "BUILTIN_DATASETS", "TABLE_SUFFIXES", "load_builtin", "load_dataset",
           "load_table", "make_three_class"]
