"""predict's output: one CSV row per input row (ID cells, the predicted label, optionally one
probability per class; a regressor's predicted numbers in the target's units), written to a file atomically or to standard output; shared by the
in-memory and the streaming ``predict``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from .terminal import echo


def prediction_rows(model, proba, with_proba: bool, id_values=()):
    """predict's CSV rows for probabilities ``proba`` (n, K): the ID cells (``id_values``, one
    list per ID column), the label, and (``with_proba``) the probabilities. For a regressor
    ``proba`` is its predictions (n,) or (n, k) in the target's units: the ID cells and the
    predicted numbers."""
    if model.is_regressor:
        # 8 significant digits: the float32 network's own precision, and 1e-8 of a price
        values = np.asarray(proba, dtype=np.float64).reshape(len(proba), -1).tolist()
        return ([*(v[i] for v in id_values), *(float(f"{x:.8g}") for x in row)]
                for i, row in enumerate(values))
    with np.errstate(divide="ignore"):  # the model's rule: the largest, or its threshold
        labels = model.labels_of(np.log(proba)).tolist()
    # 6 significant digits: finer than any decision needs, and rows stay readable
    cells = [[float(f"{p:.6g}") for p in row] for row in proba.tolist()] if with_proba else None
    return ([*(v[i] for v in id_values), lab, *(cells[i] if cells else [])]
            for i, lab in enumerate(labels))


def prediction_header(model, ids, with_proba: bool) -> list:
    """The CSV header: the ID columns, ``prediction``, then ``proba_<class>`` per class; a
    regressor with several targets: ``prediction_<target>`` per target."""
    if model.is_regressor and model.net.n_outputs > 1:
        names = model.target_names or [str(j + 1) for j in range(model.net.n_outputs)]
        return list(ids) + [f"prediction_{t}" for t in names]
    return list(ids) + ["prediction"] + ([f"proba_{c}" for c in model.classes] if with_proba else [])


def write_predictions(args, out_path, header, rows, count, ids=()) -> None:
    """Write predict's CSV (``rows`` may be produced while they are written: the streaming
    predict) and say how many rows (``count()``, asked afterwards) went where."""
    if out_path is None:
        _write_csv(sys.stdout, header, rows)
    else:
        _write_csv_atomic(out_path, header, rows, [args.data, args.model])
    if not args.quiet:
        echo(f"wrote {count()} predictions to {'standard output' if out_path is None else args.out}"
             + (f" (with {', '.join(ids)} from the input)" if ids else ""), file=sys.stderr)


def _write_csv_atomic(path: Path, header, rows, inputs) -> None:
    from ..atomic import atomic_writer

    with atomic_writer(path, "w", newline="", inputs=inputs) as fh:
        _write_csv(fh, header, rows)


def _write_csv(fh, header, rows) -> None:
    writer = csv.writer(fh)
    writer.writerow(header)
    writer.writerows(rows)
