"""The memory of :func:`~handgrad.model.classifier.train_model`'s runs, checked before their
networks are built (:mod:`handgrad.memory_plan`, :mod:`handgrad.training.footprint`): one run
(:func:`check_run`, in :func:`~handgrad.model.once.prepare_run`), the folds of
cross-validation (:func:`check_folds`) and the search's largest candidate. A refusal names the
Python argument and the command line's option that would make the largest part smaller.
"""

from __future__ import annotations

import dataclasses

from ..memory_plan import MemoryPlan, memory_needed, size_text
from ..network import resolve_dtype
from ..training.footprint import Fixes, add_training, data_bytes

FIXES = Fixes(layers="fewer or narrower hidden layers (hidden_sizes, --hidden)",
              batch="a smaller batch (batch_size, --batch-size)",
              together="a hold-out part instead of cross-validation (validation_fraction=0.1, "
                       "--val-fraction 0.1)")
# the search chooses the layers and the batch: what is left to change is the input's width
SEARCH_FIXES = Fixes(layers="fewer input columns (drop or max_categories; --drop, --max-categories), "
                            "or train without --search",
                     batch="fewer input columns, or train without --search", together=None)
# an ensemble draws its members' widths and batch: what is left is how many members it trains
ENSEMBLE_FIXES = Fixes(layers="fewer members (ensemble, --ensemble) or fewer input columns (--drop, "
                              "--max-categories)",
                       batch="fewer members (ensemble, --ensemble)", together=None)
# per input value of a run's rows, besides those already read: the encoded table or the
# checked matrix (float64), its standardised copy (float64), then the network's dtype
DATA_COPIES_F64 = 2


def run_plan(sizes, dtype, n_train: int, n_val: int, options: dict, *, subject: str = "this network",
             purpose: str = "", fixes: Fixes = FIXES, held: bool = False) -> MemoryPlan:
    """What one training run of a network of ``sizes`` holds (``options``: prepare_run's, the
    batch size a number)."""
    item = resolve_dtype(dtype).itemsize
    plan = MemoryPlan(subject, sizes, purpose)
    add_training(plan, sizes, item, optimizer=options.get("optimizer", "adam"),
                 momentum=options.get("momentum", 0.9),
                 batch_rows=min(int(options["batch_size"]), max(n_train, 1)), eval_rows=n_val,
                 best=bool(options.get("patience")), diagnostics=options.get("diagnostics", True),
                 checkpoints=bool(options.get("checkpoint_dir")), fixes=fixes, held=held)
    plan.add("the rows in the network's dtype", data_bytes(n_train + n_val, sizes[0], item), fixes.layers)
    return plan


def fold_plan(sizes, dtype, n_rows: int, folds: int, options: dict, *, stacked: bool, workers: int,
              fixes: Fixes = FIXES, label: str | None = None) -> MemoryPlan:
    """What ``folds``-fold cross-validation of networks of ``sizes`` on ``n_rows`` rows holds:
    every fold's network and encoded rows made first, then the folds trained together
    (``stacked``: :func:`~handgrad.fit_many`, over ``workers`` processes) or one by one.
    ``label``: what the runs are, in place of "F-fold cross-validation" (an ensemble's members)."""
    item = resolve_dtype(dtype).itemsize
    n_val = -(-n_rows // folds)
    n_train = n_rows - n_rows // folds
    together = folds if stacked else 1
    plan = MemoryPlan("the network", sizes, f" for {label or f'{folds}-fold cross-validation'}"
                      + (f", {folds} networks trained at once" if stacked else ""))
    add_training(plan, sizes, item, optimizer=options.get("optimizer", "adam"),
                 momentum=options.get("momentum", 0.9),
                 batch_rows=min(int(options["batch_size"]), n_train), eval_rows=n_val, networks=folds,
                 together=together, best=bool(options.get("patience")),
                 diagnostics=options.get("diagnostics", False) and not stacked, workers=workers, fixes=fixes)
    # each fold's rows encoded and standardised (float64), in the network's dtype, and — trained
    # together — laid end to end with their batch order
    copies = DATA_COPIES_F64 * 8 + item * (2 if stacked else 1)
    plan.add("the folds' rows", data_bytes(folds * n_rows, sizes[0], copies) + data_bytes(folds * n_rows, 1, 8),
             (fixes.together if stacked else None) or fixes.layers)
    return plan


def check_folds(sizes, n_rows: int, folds: int, options: dict, *, stacked: bool, workers: int,
                fixes: Fixes = FIXES, label: str | None = None) -> int:
    """Refuse cross-validation that does not fit (:func:`fold_plan`); the hold-out run is
    offered instead when it fits (``fixes.together`` names how to ask for it, None: not
    offered). Returns the bytes needed."""
    dtype = options.get("dtype", "float32")
    if fixes.together:
        held_out = max(1, round(0.1 * n_rows))
        single = run_plan(sizes, dtype, n_rows - held_out, held_out, {**options, "diagnostics": True})
        fixes = dataclasses.replace(fixes, together=None if single.refusal() else
                                    f"{fixes.together}: one network, about {size_text(single.total)}")
    return fold_plan(sizes, dtype, n_rows, folds, options, stacked=stacked, workers=workers,
                     fixes=fixes, label=label).check()


def parameters(sizes) -> int:
    return memory_needed(sizes, 1)[0]


def check_ensemble(n_rows: int, d: int, hidden, networks: int, options: dict, label: str, workers: int) -> None:
    """Refuse, before any member is built, an ensemble whose ``networks`` runs (members × folds,
    each of ``d`` inputs and ``hidden`` units, with its rows encoded, its optimizer state and its
    batch, trained as one stack over ``workers`` processes) do not fit in memory
    (:func:`check_folds`, counting the runs as folds)."""
    n_out = 1 if options.get("task") == "regression" else 2  # classes are counted at most by the rows
    check_folds([d, *hidden, n_out], n_rows, networks, options, stacked=True, workers=workers,
                fixes=ENSEMBLE_FIXES, label=label)
