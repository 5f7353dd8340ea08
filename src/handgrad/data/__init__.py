"""Datasets: the :class:`Dataset` record, the built-in sets, tables (CSV/TSV/Parquet), MNIST's
IDX files, and the preprocessing a model stores (standardisation, label encoding)."""

from .builtin import BUILTIN_DATASETS, load_builtin, make_three_class
from .dataset import Dataset
from .load import load_dataset
from .features import TableEncoder
from .tables import TABLE_SUFFIXES, Table, load_table, load_table_frame

__all__ = ["Dataset", "BUILTIN_DATASETS", "TABLE_SUFFIXES", "load_builtin", "load_dataset",
           "load_table", "load_table_frame", "make_three_class", "Table", "TableEncoder"]
