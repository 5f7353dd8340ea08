"""One entry point for every dataset: a built-in name, ``"mnist"`` or a table file."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .builtin import BUILTIN_DATASETS, load_builtin
from .dataset import Dataset
from .tables import TABLE_SUFFIXES, _list_names, load_table


def load_dataset(name_or_path, target: str | None = None, *, features: list[str] | None = None,
                 data_dir=None, download: bool = False, task: str = "classification",
                 labels: bool = True) -> Dataset:
    """A dataset by name (:data:`BUILTIN_DATASETS` or ``"mnist"``) or a table file by path.

    ``"mnist"`` gives the 60 000 training rows followed by the 10 000 official test rows, with
    ``test_size`` set to the size of the test split; its files are looked for (and with
    ``download=True`` fetched) in ``data_dir`` (default ``~/.cache/handgrad/mnist``). Anything
    that looks like a path (has a directory separator or a table file ending, or is an
    existing file) is read by :func:`load_table` with ``target``, ``features``, ``task`` and
    ``labels``.
    """
    text = os.fspath(name_or_path)
    looks_like_path = (isinstance(name_or_path, os.PathLike) or "/" in text or os.sep in text
                       or text.lower().endswith(TABLE_SUFFIXES))
    if looks_like_path or (text not in BUILTIN_DATASETS and text != "mnist" and Path(text).is_file()):
        return load_table(text, target, features, task, labels)
    if text not in BUILTIN_DATASETS and text != "mnist":
        raise InputError(f"unknown dataset {text!r}; give one of {', '.join(BUILTIN_DATASETS)}, mnist, "
                         f"or the path of a table file ({', '.join(TABLE_SUFFIXES)})")
    if target is not None:
        raise InputError(f"a target column applies to table files only; {text!r} has its labels built in")
    if text == "mnist":
        from .mnist import load_mnist
        dataset = load_mnist(data_dir, split="all", download=download)
    else:
        dataset = load_builtin(text)
    return dataset if features is None else _select(dataset, features)


def _select(dataset: Dataset, features) -> Dataset:
    """``dataset`` restricted to ``features`` in that order (a model's stored feature names)."""
    names = [str(f) for f in features]
    missing = [f for f in names if f not in dataset.feature_names]
    if missing:
        raise InputError(f"dataset {dataset.name!r} lacks feature(s) {_list_names(missing)}; "
                         f"it has {_list_names(dataset.feature_names)}")
    if names == dataset.feature_names:
        return dataset
    index = [dataset.feature_names.index(f) for f in names]
    return Dataset(dataset.X[:, index], dataset.y, names, dataset.name, dataset.target_name,
                   dataset.class_names, dataset.test_size, task=dataset.task)
