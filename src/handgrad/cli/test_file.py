"""``train --test FILE``: the test table checked before any training, so that the epochs are not
lost to a mistake in it.

:func:`check_test_path` runs before anything is read: the file exists, is a regular file, and
is not the ``--data`` file itself (also through a link): its rows train the model, so a score on
them would measure nothing held out — refused rather than reported as a test. :func:`read_test`
runs once the training table is read, before the model is trained, and reads the test table as
the trained model will: the target, and every feature column the encoding fitted on the
training table reads (not those ``--drop``, ``--id-column`` or the encoding itself drops), its
cells of the types those columns were read as; for a numeric dataset its feature columns by
name, as numbers; its labels among the training labels (classes) or numbers (a regression).
The table read is what is scored after training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..atomic import same_file
from ..errors import InputError
from .paths import _check_input_file


@dataclass
class TestTable:
    """The checked ``--test`` table: features in the form the model reads, targets, its
    file's name, and the notes its reading made."""

    X: object
    y: np.ndarray
    name: str
    notes: list[str] = field(default_factory=list)


def check_test_path(args) -> None:
    """Refuse a ``--test`` file that is missing, not a regular file, or the ``--data`` file."""
    if not args.test:
        return
    _check_input_file(args.test, "--test")
    if args.data and same_file(args.test, args.data):
        raise InputError(f"--test {args.test} is the --data file: its rows train the model, so their "
                         "score would test nothing held out; give a table of other rows, or leave out "
                         "--test (--test-fraction holds out a part of --data)")


def read_test(args, features, labels, task: str, target: str, feature_names, common: dict) -> TestTable:
    """The ``--test`` table read and checked against the training table (module docstring):
    ``features``/``labels`` are the training rows, ``feature_names`` a numeric dataset's
    columns (None for a table file), ``common`` the table-encoding options of the run."""
    from ..data.features import TableEncoder
    from ..data.preprocessing import LabelEncoder

    table = feature_names is None and hasattr(features, "columns")
    # what the model will be fitted to know (a refusal here is the training data's own)
    classes = LabelEncoder().fit(labels) if task == "classification" else None
    encoder = TableEncoder(categorical=common.get("categorical") or (), numeric=common.get("numeric") or (),
                           drop=common.get("drop") or (), max_categories=common.get("max_categories", 64),
                           id_columns=common.get("id_columns") or (),
                           scaling=common.get("scaling", "standard")).fit(features) if table else None
    try:
        test = _read_table(args.test, features, task, target, encoder) if table else \
            _read_matrix(args.test, task, target, feature_names)
        if classes is not None:
            classes.transform(test.y)
    except InputError as exc:
        raise InputError(f"--test {args.test}: {exc} (checked before training)") from None
    return test


def _read_matrix(path, task, target, feature_names) -> TestTable:
    """A numeric dataset's test table: its feature columns by name, numbers throughout."""
    from ..data import load_table

    data = load_table(path, target, features=feature_names, task=task)
    return TestTable(data.X, data.y, data.name, list(data.notes))


def _read_table(path, features, task, target, encoder) -> TestTable:
    """A table file's test table: the columns the encoding reads, read by it (its column
    types), as the trained model will read them."""
    from ..data import load_table_frame

    table = load_table_frame(path, target, columns=encoder.input_columns, task=task)
    encoder.transform(table.frame)
    notes = list(table.notes)
    if table.n_unlabelled:
        notes.append(f"{table.n_unlabelled} rows of {table.name} without a label in {target!r} "
                     "were left out of the test")
    return TestTable(table.frame, table.y, table.name, notes)
