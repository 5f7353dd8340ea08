"""What ``train`` says and draws when it is done: the plots its helper process draws, and the
report — JSON, one line, or the notes, the run, the test part's metrics, the held-out
calibration and the columns that matter (:mod:`.insight`)."""

from __future__ import annotations

import sys

import numpy as np

from . import insight
from .commands import _emit_json
from .terminal import echo


def _plot_jobs(args, model, outputs, name, test, test_name, test_y, test_pred) -> list:
    """The helper's drawing jobs: the learning curves (with the folds' mean curve when
    cross-validation chose the epochs), the confusion matrix or the regression's pictures of
    the test part, and the backprop diagnostics."""
    from .draw import with_fold_curve

    history, selection = model.record["history"], model.record.get("selection")
    out_dir, title = outputs.out_dir, f"handgrad on {name}: {model.net!r}"
    restored = history["best_epoch"] if args.patience and not selection else None
    jobs = [("plot_learning_curves", [history["epochs"], str(outputs.plot)],
             {"best_epoch": restored, "title": title})]
    if selection and selection.get("curve"):  # the folds' mean validation curve beside the final run
        jobs[0] = ("plot_learning_curves", [with_fold_curve(history["epochs"], selection["curve"]),
                                            str(outputs.plot)],
                   {"best_epoch": selection["epochs"], "best_label": "epochs chosen",
                    "val_label": f"validation (mean of {selection['folds']} folds)", "title": title})
    if test is not None and model.is_regressor:
        jobs.append(("plot_regression", [np.asarray(test_y, dtype=np.float64), test_pred,
                                         str(out_dir / "predictions.png")],
                     {"title": f"{test_name} of {name}", "names": model.target_names}))
    elif test is not None:
        jobs.append(("plot_confusion_matrix", [test["confusion_matrix"], [str(c) for c in model.classes],
                                               str(out_dir / "confusion_matrix.png")],
                     {"title": f"{test_name} of {name}"}))
    if _has_diagnostics(history):  # an ensemble's members train as one stack, which records none
        jobs.append(("plot_diagnostics", [history["epochs"], str(out_dir / "diagnostics.png")], {}))
    return jobs


def _has_diagnostics(history: dict) -> bool:
    return any(e.get("diagnostics") for e in history.get("epochs") or ())


def _epochs_line(args, history, selection, refit=None) -> list[str]:
    """How long the final run trained, said once: nothing when the epochs were chosen by
    cross-validation (its note says how many, and why), else how training ended."""
    if selection:
        return []
    n = len(history["epochs"])
    if refit:
        return [f"trained {n} epochs on all rows (--refit: the best epoch on the {refit['chosen_on_n_val']} "
                "validation rows)"]
    if history["stop_reason"] == f"completed {n} epochs":
        return [f"trained all {n} epochs" + (" without stopping early" if args.patience else "")]
    return [f"stopped after {n} epochs: {history['stop_reason']}"
            + (f"; restored the weights of epoch {history['best_epoch']}"
               if args.patience and history["best_epoch"] else "")]


def report(args, model, test, test_name, notes, outputs, elapsed: float, drew: bool = True) -> None:
    """What ``train`` prints at the end: JSON (``--json``), one line (``--quiet``), or the
    notes, the leaderboard of a search, the run and the test part's metrics (``drew``: the
    plots were drawn; a streamed run draws none)."""
    from .terminal import print_lines, print_metrics, print_regression_metrics

    history, selection = model.record["history"], model.record.get("selection")
    model_path, plot_path = outputs.model, outputs.plot if drew else None
    if not args.json:  # a result to doubt: on stderr even with --quiet (--json carries them)
        for warning in model.record.get("warnings", []):
            echo(f"warning: {warning}", file=sys.stderr)
    if args.json:
        result = {"dataset": model.record.get("dataset"), "task": model.task, "model": repr(model.net),
                  "notes": notes, "n_train": model.record["n_train"], "n_val": model.record["n_val"],
                  "n_test": 0 if test is None else test["n_samples"],
                  "epochs_run": len(history["epochs"]), "best_epoch": history["best_epoch"],
                  "stop_reason": history["stop_reason"], "selection": selection,
                  "resumed_from": history.get("resumed_from"),
                  "warnings": model.record.get("warnings", []),
                  "test": test and {k: v for k, v in test.items() if k not in ("per_class", "confusion_matrix")},
                  "model_path": str(model_path), "plot_path": None if plot_path is None else str(plot_path),
                  "time_seconds": round(elapsed, 3)}
        if model.is_regressor:
            result["target_scaling"] = {k: v for k, v in model.record["target_scaling"].items() if k != "notes"}
        else:
            result.update(test_accuracy=None if test is None else test["accuracy"],
                          per_class=test and test["per_class"], confusion_matrix=test and test["confusion_matrix"])
        for part in ("search", "streaming", "ensemble", "calibration", "importance"):
            if model.record.get(part):
                result[part] = model.record[part]
        _emit_json(result)
        return
    if args.quiet:
        score = ("no test part" if test is None else f"test R² {test['r2']:.4f}" if model.is_regressor
                 else f"test accuracy {test['accuracy']:.4f}")
        resumed = history.get("resumed_from")
        echo((f"resumed after epoch {resumed['epoch']}; " if resumed else "")
             + f"{score}; model saved to {model_path}")
        return
    last = history["epochs"][-1]
    print_lines(*[f"note: {n}" for n in notes])
    if model.record.get("search"):
        from .search import print_leaderboard
        print_leaderboard(model.record["search"])
    network = (f"network: {model.net!r}" if not model.members else
               f"networks: {len(model.networks)} (the ensemble's kept members), e.g. {model.net!r}")
    run = [*_epochs_line(args, history, selection, model.record.get("refit")),
           f"final epoch: train loss {last['train_loss']:.4f} (data {last['train_data_loss']:.4f} + "
           f"L2 {last['train_l2_loss']:.4f})"]
    # an ensemble's history is its first kept member's (the others' epochs are in its note)
    print_lines(network, *([f"first kept member: {line}" for line in run] if model.members else run))
    if test is None:
        print_lines("no test part (--test-fraction 0): every row trained the model")
    elif model.is_regressor:
        print_regression_metrics(test, test_name)
    else:
        print_metrics(test, test_name)
    imp = model.record.get("importance") or {}
    print_lines(*insight.calibration_lines(model.record),
                *(insight.importance_lines(imp, f"on the {test_name}") if imp.get("columns") else
                  [f"note: no column importance: {imp['skipped']}"] if imp.get("skipped") else []))
    pictures = "predicted against actual" if model.is_regressor else "confusion matrix"
    print_lines(f"model saved to {model_path}",
                *([f"learning curves saved to {plot_path}; {pictures}"
                   + (" and backprop diagnostics" if _has_diagnostics(history) else "")
                   + f" next to it in {outputs.out_dir}"] if plot_path else []),
                f"done in {elapsed:.1f}s")
