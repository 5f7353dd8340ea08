"""A grid search through the scikit-learn API: ``handgrad.sklearn.GridSearchCV`` (each round's
fits trained at once) against scikit-learn's ``GridSearchCV`` over the same handgrad estimator
and over scikit-learn's own ``MLPClassifier``, side by side in one run.

Usage (from the repository root)::

    python bench/sklearn_search.py [--reps 3] [--out bench/results]

Data as in bench/many_models.py: digits (1,797 × 64, 10 classes), breast_cancer (569 × 30, 2
classes) and a 5,000-row ``make_classification`` table (20 features, 3 classes), standardised,
float64. The search: 16 candidates — ``learning_rate_init`` {3e-4, 1e-3, 3e-3, 1e-2} × ``alpha``
{1e-4, 1e-3} × ``random_state`` {0, 1} — of ``MLPClassifier(hidden_layer_sizes=(64,),
max_iter=30)`` with solver 'adam', 5-fold stratified CV, refit, at ``batch_size`` 32 and at
scikit-learn's default ("auto": 200). Each search is timed whole (fits, scoring, refit), with
``n_jobs=None`` (one process) and ``n_jobs=-1`` (all cores: forked workers for handgrad's
stacks, joblib's processes for scikit-learn's searches). Interleaved (a warm-up round, then
``--reps`` rounds; medians). Also recorded: whether handgrad's search gives scikit-learn's
search's results over the same estimator (``cv_results_`` test scores and ``best_params_``
equal). Writes ``sklearn_search.md`` / ``.json`` into ``--out`` with the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # `python bench/sklearn_search.py` puts bench/ first
    sys.path.insert(0, str(ROOT))

from bench.benchenv import machine_record, machine_sentence, run_record
from bench.speed.protocol import interleaved

GRID = {"learning_rate_init": [3e-4, 1e-3, 3e-3, 1e-2], "alpha": [1e-4, 1e-3], "random_state": [0, 1]}
BATCHES = (32, "auto")


def datasets() -> dict:
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    out = {}
    for name, (X, y) in [("digits", load_digits(return_X_y=True)),
                         ("breast_cancer", load_breast_cancer(return_X_y=True)),
                         ("table_5k", make_classification(5000, 20, n_informative=10, n_classes=3,
                                                          random_state=0))]:
        out[name] = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1), y.astype(int))
    return out


def part(X, y, batch, reps: int) -> dict:
    from sklearn import model_selection, neural_network

    import handgrad.sklearn as hs

    def estimator(cls):
        return cls(hidden_layer_sizes=(64,), max_iter=30, batch_size=batch, random_state=0)

    searches = {}
    for n_jobs in (None, -1):
        tag = "1 process" if n_jobs is None else "all cores"
        searches[f"handgrad GridSearchCV, {tag}"] = (hs.GridSearchCV, hs.MLPClassifier, n_jobs)
        searches[f"sklearn GridSearchCV(handgrad MLP), {tag}"] = (model_selection.GridSearchCV, hs.MLPClassifier, n_jobs)
        searches[f"sklearn GridSearchCV(sklearn MLP), {tag}"] = (model_selection.GridSearchCV,
                                                                neural_network.MLPClassifier, n_jobs)
    last = {}

    def run(name, search, cls, n_jobs):
        def go():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                last[name] = search(estimator(cls), GRID, cv=5, n_jobs=n_jobs).fit(X, y)
        return go

    times = interleaved({name: run(name, *spec) for name, spec in searches.items()}, reps)
    med = {name: statistics.median(t) for name, t in times.items()}
    ours, theirs = last["handgrad GridSearchCV, 1 process"], last["sklearn GridSearchCV(handgrad MLP), 1 process"]
    same = (np.array_equal(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"])
            and ours.best_params_ == theirs.best_params_)
    return {"seconds": times, "median": med, "same_results_as_sklearn_search": bool(same),
            "best_score": {"handgrad": float(ours.best_score_),
                           "sklearn MLP": float(last["sklearn GridSearchCV(sklearn MLP), 1 process"].best_score_)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_record()
    results = {}
    for name, (X, y) in datasets().items():
        for batch in BATCHES:
            print(f"{name} batch {batch} ...", file=sys.stderr, flush=True)
            results[f"{name}, batch {batch}"] = {"rows": int(X.shape[0]), **part(X, y, batch, args.reps)}
    record = run_record(machine, reps=args.reps, results=results)
    (out / "sklearn_search.json").write_text(json.dumps(record, indent=1, default=float))
    (out / "sklearn_search.md").write_text(report(record))
    print(report(record))
    return 0


def report(rec: dict) -> str:
    lines = [f"# Grid search through the scikit-learn API ({rec['date']})", "",
             f"{machine_sentence(rec)} 16 candidates × 5 folds + refit, MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, "
             f"solver='adam'); whole-search seconds, medians of {rec['reps']} interleaved repetitions.", "",
             "| data, batch | processes | handgrad GridSearchCV | sklearn GridSearchCV over handgrad's MLP | "
             "speed-up | sklearn GridSearchCV over sklearn's MLP | speed-up | same results as sklearn's search | "
             "best CV accuracy (handgrad / sklearn MLP) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rec["results"].items():
        med = r["median"]
        for tag in ("1 process", "all cores"):
            ours = med[f"handgrad GridSearchCV, {tag}"]
            over_ours = med[f"sklearn GridSearchCV(handgrad MLP), {tag}"]
            over_sk = med[f"sklearn GridSearchCV(sklearn MLP), {tag}"]
            lines.append(f"| {name} ({r['rows']} rows) | {tag} | {ours:.2f} s | {over_ours:.2f} s | "
                         f"**{over_ours / ours:.2f}×** | {over_sk:.2f} s | {over_sk / ours:.2f}× | "
                         f"{'yes' if r['same_results_as_sklearn_search'] else 'NO'} | "
                         f"{r['best_score']['handgrad']:.4f} / {r['best_score']['sklearn MLP']:.4f} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
