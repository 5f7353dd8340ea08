"""What a practitioner asks after the accuracy, for ``train`` and ``evaluate``: which columns
the model relies on (permutation importance on rows it did not train on, and the gradient
view), how calibrated its probabilities are, and where a two-class model cuts — as lines for
the terminal, entries of ``--json``, and pictures."""

from __future__ import annotations

import time

TOP = 5  # columns named in train's summary
SUMMARY_SECONDS = 3.0  # what train's summary spends on the importance, about (evaluate --importance: no limit)


def importance(model, X, y, *, repeats: int = 5, seed: int = 0, gradients: bool = True) -> dict:
    """Permutation importance (and the gradient view) of ``model`` on ``X``, ``y``
    (:mod:`handgrad.model.importance`), with the seconds it took."""
    from ..model.importance import gradient_importance, permutation_importance

    t0 = time.perf_counter()
    out = permutation_importance(model, X, y, repeats=repeats, seed=seed)
    if gradients:
        out["gradient"] = gradient_importance(model, X, y)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def summary_repeats(model, n_rows: int) -> int:
    """The shuffles per column train's summary affords (at most 5; 0 below 2: then it says how to
    ask). One shuffle of one column predicts the test part with every network: about 0.5 ms of
    overhead plus rows × parameters / 2·10⁹ s each — measured: osuleaf's 427 columns, 89 rows,
    8 networks of 55k parameters took 50 s for 5 shuffles on a loaded machine, digits' 64
    columns 5 s —, kept under SUMMARY_SECONDS."""
    from ..model.importance import MAX_ROWS, columns_of

    rows = min(n_rows, MAX_ROWS)
    per_shuffle = len(columns_of(model)) * sum(5e-4 + rows * net.n_params / 2e9 for net in model.networks)
    repeats = min(5, int(SUMMARY_SECONDS // per_shuffle))
    return repeats if repeats >= 2 else 0


def importance_lines(imp: dict, where: str, top: int = TOP) -> list[str]:
    """The top columns, one line: ``name rise ± sd``, and how to see the rest."""
    key = imp["ranked_by"]
    what = {"log_loss": "rise in log loss", "r2": "fall in R²"}[key]
    cols = imp["columns"]
    shown = ", ".join(f"{c['column']} {c[key + '_mean']:+.4f} ± {c[key + '_std']:.4f}" for c in cols[:top])
    more = f" (all {len(cols)} in --json, and in handgrad info)" if len(cols) > top else ""
    return [f"columns that matter most ({what} when one is shuffled, {where}, mean ± sd of "
            f"{imp['repeats']}): {shown}{more}"]


def gradient_lines(imp: dict) -> list[str]:
    """The gradient view, one line (what it is, in words)."""
    if not imp.get("gradient"):
        return []
    shown = ", ".join(f"{g['column']} {g['mean_abs_gradient']:.4g}" for g in imp["gradient"])
    return [f"mean |∂loss/∂input| per column (the hand-derived backward pass carried to the input: how "
            f"steeply each row's loss changes with the column, in its scaled units): {shown}"]


def calibration_lines(record: dict) -> list[str]:
    """The held-out calibration, the temperature and the threshold, as train found them."""
    c = record.get("calibration")
    if not c:
        return []
    lines = [f"calibration on {c['held_out']}: expected calibration error {c['ece']:.4f}, log loss {c['log_loss']:.4f}"]
    if "temperature" in c:
        lines.append(f"temperature {c['temperature']:.4g} fitted there (probabilities softmax(log p / T)): "
                     f"log loss {c['log_loss']:.4f} → {c['log_loss_after']:.4f}, expected calibration error "
                     f"{c['ece']:.4f} → {c['ece_after']:.4f}")
    t = c.get("threshold")
    if t and t["value"] is not None:
        lines.append(f"threshold {t['threshold']:.4g} for {t['metric']} chosen there: {t['positive_class']!s} "
                     f"where its probability ≥ {t['threshold']:.4g} ({t['metric']} {t['value']:.4f} there, "
                     f"{t['at_half']:.4f} at 0.5)")
    return lines


def plot_jobs(model, test: dict | None, test_y, test_proba, imp: dict | None, out_dir, title: str) -> list:
    """The drawing jobs of the test part's reliability diagram, ROC and precision-recall curves
    (two classes) and the importance bars."""
    import numpy as np

    jobs = []
    if test is not None and not model.is_regressor and test.get("reliability"):
        jobs.append(("plot_reliability", [test["reliability"], str(out_dir / "reliability.png")],
                     {"title": f"{title}: expected calibration error {test['ece']:.4f}"}))
        if model.classes.size == 2 and test_proba is not None:
            positive = model.encode(test_y) == 1
            if positive.any() and (~positive).any():
                jobs.append(("plot_roc_pr", [np.asarray(test_proba)[:, 1].astype(np.float64), positive,
                                             str(out_dir / "roc_pr.png")],
                             {"title": title, "positive_name": str(model.classes[1]), "threshold": model.threshold}))
    if imp is not None:
        jobs.append(("plot_importance", [imp, str(out_dir / "importance.png")], {"title": title}))
    return jobs
